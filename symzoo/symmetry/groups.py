"""The symmetry groups of symzoo's tasks and how they act on inputs and outputs.

Each group is a small class with

* ``sample(rng, k)``: ``k`` group elements drawn uniformly (a numpy array,
  one element per row);
* ``elements()``: all elements, for the (small) groups where that is useful;
* ``act_input(x, g)``: the action of one element ``g`` on a batch of inputs;
* ``act_output(y, g)``: its action ρ(g) on the batch of outputs (the identity
  for invariant tasks).

The actions take numpy arrays and return numpy arrays; given any other tensor
(a backend tensor inside a model) they use ``keras.ops`` instead.

A model ``f`` is equivariant when ``f(g·x) = ρ(g)·f(x)`` for every ``g``;
`symzoo.symmetry.metrics.equivariance_error` measures how far it is from that.
"""

import numpy as np

from symzoo import _validation


def _is_numpy(x):
    return isinstance(x, (np.ndarray, np.generic, list, tuple))


def _check_rng(rng):
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    if not isinstance(rng, np.random.Generator):
        raise ValueError(
            "Expected `rng` to be a numpy Generator, an integer seed or None. "
            f"Received: rng={rng!r}"
        )
    return rng


#: symmetry kind -> group class, filled by `register`. A symzoo layer names its
#: kind in its ``symmetry_kind`` class attribute; `for_layer` looks it up here.
GROUPS = {}
#: Other names of a kind accepted by `for_inputs` (data set / plot kinds).
KIND_ALIASES = {}


def register(symmetry_kind, aliases=()):
    """Class decorator: makes a `Group` subclass the group of the layers whose
    ``symmetry_kind`` is `symmetry_kind` (and of the data set kinds `aliases`)."""

    def decorate(cls):
        if symmetry_kind in GROUPS and GROUPS[symmetry_kind] is not cls:
            raise ValueError(
                f"Expected one group per symmetry kind. Received: a second group "
                f"{cls.__name__} for {symmetry_kind!r} ({GROUPS[symmetry_kind].__name__})"
            )
        cls.symmetry_kind = symmetry_kind
        GROUPS[symmetry_kind] = cls
        for alias in aliases:
            KIND_ALIASES[alias] = symmetry_kind
        return cls

    return decorate


#: symmetry kind -> ``block(layer, projected_kernel) -> (keras layer, description,
#: info)``: the compact replacement of a symzoo layer used by
#: `symzoo.symmetry.extraction.extract`. Kept here (numpy-only) so that a module
#: adding a symmetry registers its block without importing Keras; the builder
#: imports Keras when called.
BLOCKS = {}


def register_block(symmetry_kind):
    """Decorator: registers the compact block builder of a symmetry kind."""

    def decorate(fn):
        BLOCKS[symmetry_kind] = fn
        return fn

    return decorate


def layer_kind(layer):
    """The ``symmetry_kind`` of a symzoo layer with a kernel whose group is
    registered (``"translation"``, ``"set"``, ``"graph"``, ...), else None."""
    kind = getattr(type(layer), "symmetry_kind", None)
    return kind if kind in GROUPS and hasattr(layer, "kernel") else None


class Group:
    """Base class: a finite group acting on a task's inputs and outputs.

    A subclass registered with `register` also provides the two constructors
    `from_inputs` and `from_layer` (the defaults suit groups of size n).
    """

    #: "invariant" (outputs unchanged) or "equivariant" (outputs transformed).
    kind = "invariant"

    @classmethod
    def from_inputs(cls, input_shape, strides=1):
        """The group acting on examples of shape `input_shape` (default:
        permutations of the last axis, ``cls(input_shape[-1])``)."""
        return cls(input_shape[-1])

    @classmethod
    def from_layer(cls, layer, input_shape=None):
        """The group under which `layer` can be exactly symmetric (default:
        `from_inputs` of `input_shape`, or of the kernel's first axis)."""
        return cls.from_inputs(input_shape or tuple(layer.kernel.shape)[:1])

    @property
    def order(self):
        """The number of elements."""
        raise NotImplementedError

    def sample(self, rng, k):
        raise NotImplementedError

    def elements(self):
        raise NotImplementedError

    def identity(self):
        raise NotImplementedError

    def act_input(self, x, g):
        raise NotImplementedError

    def act_output(self, y, g):
        return y

    def __repr__(self):
        return f"{type(self).__name__}({self._describe()})"

    def _describe(self):
        return ""


class _Permutations(Group):
    """Shared base of the symmetric groups S_n: elements are permutations of
    ``range(n)``, arrays of shape (n,)."""

    def __init__(self, n):
        self.n = _validation.positive_int("n", n)

    @property
    def order(self):
        import math

        return math.factorial(self.n)

    def sample(self, rng, k):
        rng = _check_rng(rng)
        k = _validation.positive_int("k", k)
        return np.stack([rng.permutation(self.n) for _ in range(k)])

    def identity(self):
        return np.arange(self.n)

    @staticmethod
    def _permute_axis1(x, g):
        """``x[:, g]``: the permutation ``g`` applied to axis 1 of a batch."""
        g = np.asarray(g)
        if _is_numpy(x):
            return np.asarray(x)[:, g]
        from keras import ops

        return ops.take(x, g, axis=1)

    def _describe(self):
        return f"n={self.n}"


@register("set")
class SetPermutation(_Permutations):
    """The symmetric group S_n permuting the n elements of a set.

    Input action: ``x (N, n) -> x[:, π]``. Output action: the identity (the
    set-sum target is invariant). Elements are permutations, arrays of shape
    (n,).
    """

    kind = "invariant"

    def act_input(self, x, g):
        return self._permute_axis1(x, g)


@register("graph")
class GraphNodePermutation(_Permutations):
    """The symmetric group S_n relabelling the nodes of an n-node graph.

    With P the permutation matrix of π (``P[i, π[i]] = 1``), the input action
    is ``A -> P A Pᵀ``, i.e. ``A'[:, i, j] = A[:, π[i], π[j]]``, and the output
    action on per-node outputs is ``y -> y[:, π]`` (node i of the relabelled
    graph is node π[i] of the original). Node degrees are equivariant:
    ``degrees(P A Pᵀ) = degrees(A)[:, π]``.
    """

    kind = "equivariant"

    @staticmethod
    def matrix(g):
        """The permutation matrix P with ``P[i, g[i]] = 1``."""
        g = np.asarray(g)
        p = np.zeros((len(g), len(g)), dtype=np.float32)
        p[np.arange(len(g)), g] = 1.0
        return p

    def act_input(self, x, g):
        g = np.asarray(g)
        if _is_numpy(x):
            return np.asarray(x)[:, g][:, :, g]
        from keras import ops

        return ops.take(ops.take(x, g, axis=1), g, axis=2)

    def act_output(self, y, g):
        return self._permute_axis1(y, g)


@register("translation", aliases=("blob1d", "blob2d", "mnist"))
class CyclicTranslation(Group):
    """Cyclic translations of 1D or 2D images by multiples of the strides.

    For images of spatial shape ``shape = (d,)`` or ``(d, d')`` and strides
    ``(s,)`` / ``(s, s')`` (each dividing its size), the group is
    Z_{d/s} (× Z_{d'/s'}); the element ``g = (a, c)`` (integers counting
    strides) translates an image cyclically by ``(s·a, s'·c)`` pixels:
    ``x -> np.roll(x, (s·a, s'·c), axis=(1, 2))``. This is the translation
    group under which a `ClassTranslationDense` layer with those strides can
    be exactly invariant. Output action: the identity (classification).
    Elements are integer arrays of shape (ndim,), in units of strides.
    """

    kind = "invariant"

    def __init__(self, shape, strides=1):
        self.shape = _validation.int_tuple("shape", shape)
        if len(self.shape) not in (1, 2) or min(self.shape) <= 0:
            raise ValueError(
                "Expected `shape` to be the spatial shape (d,) or (d, d') of the "
                f"images. Received: shape={shape!r}"
            )
        strides = _validation.int_tuple("strides", strides)
        if len(strides) == 1:
            strides = strides * len(self.shape)
        if len(strides) != len(self.shape) or min(strides) <= 0:
            raise ValueError(
                f"Expected `strides` to be one positive integer or {len(self.shape)} "
                f"of them. Received: strides={strides!r}"
            )
        for d, s in zip(self.shape, strides):
            if d % s:
                raise ValueError(
                    "Expected every image size to be divisible by its stride. "
                    f"Received: shape={self.shape}, strides={strides}"
                )
        self.strides = strides
        self.grid = tuple(d // s for d, s in zip(self.shape, strides))

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def order(self):
        return int(np.prod(self.grid))

    def sample(self, rng, k):
        rng = _check_rng(rng)
        k = _validation.positive_int("k", k)
        return np.stack([rng.integers(0, t, size=k) for t in self.grid], axis=1)

    def elements(self):
        mesh = np.meshgrid(*[np.arange(t) for t in self.grid], indexing="ij")
        return np.stack([m.ravel() for m in mesh], axis=1)

    def identity(self):
        return np.zeros(self.ndim, dtype=int)

    def pixel_shift(self, g):
        """The translation of g in pixels, a tuple of ints."""
        g = np.broadcast_to(np.asarray(g, dtype=int), (self.ndim,))
        return tuple(int(a) * s for a, s in zip(g, self.strides))

    def act_input(self, x, g):
        shift = self.pixel_shift(g)
        axes = tuple(range(1, 1 + self.ndim))
        if _is_numpy(x):
            return np.roll(np.asarray(x), shift, axis=axes)
        from keras import ops

        return ops.roll(x, shift=list(shift), axis=list(axes))

    def _describe(self):
        return f"shape={self.shape}, strides={self.strides}"

    @classmethod
    def from_inputs(cls, input_shape, strides=1):
        return cls(input_shape, strides)

    @classmethod
    def from_layer(cls, layer, input_shape=None):
        """Translations by multiples of a `ClassTranslationDense`'s strides,
        read from its kernel (C, T[, T'], d[, d'])."""
        kernel_shape = tuple(layer.kernel.shape)
        half = (len(kernel_shape) - 1) // 2
        spatial = kernel_shape[1 + half :]
        strides = tuple(d // t for d, t in zip(spatial, kernel_shape[1 : 1 + half]))
        return cls(spatial, strides)


# Which group goes with which layer / data set -------------------------------------

DATASET_KINDS = {
    "set_sum": "set",
    "blob1d": "blob1d",
    "blob2d": "blob2d",
    "padded_mnist": "mnist",
    "graph_degree": "graph",
}


def for_inputs(kind, input_shape, strides=1):
    """The group of a task from its kind and per-example input shape.

    Args:
        kind: a registered symmetry kind (`GROUPS`: ``"set"``, ``"graph"``,
            ``"translation"``) or an alias (`KIND_ALIASES`: ``"blob1d"``,
            ``"blob2d"``, ``"mnist"``).
        input_shape: the shape of one example (without the batch axis).
        strides: for translations, the strides of the translation grid (1 for
            data sets whose distribution is invariant under all translations).
    """
    input_shape = tuple(int(d) for d in input_shape)
    cls = GROUPS.get(KIND_ALIASES.get(kind, kind))
    if cls is None:
        raise ValueError(
            f"Expected `kind` to be one of {sorted({*GROUPS, *KIND_ALIASES})}. "
            f"Received: kind={kind!r}"
        )
    return cls.from_inputs(input_shape, strides)


def for_layer(layer, input_shape=None):
    """The group under which the symzoo `layer` can be exactly invariant or
    equivariant: the group registered for its ``symmetry_kind`` (for
    `ClassTranslationDense`: translations by multiples of its strides)."""
    kind = layer_kind(layer)
    if kind is None:
        raise ValueError(
            "Expected a symzoo layer with a `symmetry_kind` attribute (one of "
            f"{sorted(GROUPS)}) and a kernel, e.g. ClassTranslationDense, SetLinearSum "
            f"or GraphRowSum. Received: layer={layer!r}"
        )
    return GROUPS[kind].from_layer(layer, input_shape)
