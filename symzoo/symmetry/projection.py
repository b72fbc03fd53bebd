"""Projections of symzoo kernels onto their equivariant subspaces (numpy).

Each projection is the orthogonal projection (in the Frobenius inner product)
onto the subspace of kernels whose layer is exactly invariant/equivariant
under the task's group, so ``P(P(W)) = P(W)`` and ``‖P(W)‖ ≤ ‖W‖``. The share
of the kernel's squared norm in that subspace, ``‖P(W)‖² / ‖W‖²`` (see
`norm_share`), is 1 for a perfectly symmetric kernel; for a random Gaussian
kernel it is about dim(subspace) / size(kernel).

Kinds (``kind=``) and the groups used:

``"translation"`` — `ClassTranslationDense`, kernel (C, T, d) or
    (C, T, T', d, d') with strides s = d/T, s' = d'/T'. The group Z_T × Z_T'
    acts on kernels by ``(g·W)[k,i,j,m,n] = W[k, i+a, j+c, m+s·a, n+s'·c]``
    (all indices cyclic), which maps the layer for inputs x to the layer for
    inputs translated by (s·a, s'·c). The Reynolds projection averages the
    T·T' translates: ``P(W)[k,i,j] = roll(w_k, (s·i, s'·j))`` with the class
    template ``w_k = mean_{i,j} roll(W[k,i,j], (-s·i, -s'·j))`` ("align every
    translation's template to the origin and average"). This is a
    convolution kernel; it costs one pass over the kernel (a loop of rolls,
    ~1 s on the 24.6M-weight MNIST kernel).

``"graph"`` — `GraphRowSum`, kernel (n, n). The node permutations act by
    ``W -> Pᵀ W P``; the layer is permutation equivariant when W commutes
    with every P, i.e. ``W = α·I + β·11ᵀ``. The Reynolds projection has the
    closed form α + β = mean of the diagonal, β = mean of the off-diagonal.

``"set"`` — `SetLinearSum`, kernel (n, n) stored (outputs, inputs). The layer
    computes ``y = Σ_i Σ_j W[i, j] x_j = Σ_j c_j x_j`` with column sums
    ``c = 1ᵀW``; it is invariant under input permutations exactly when all
    column sums are equal. Input permutations π act on kernels by permuting
    columns (``W -> W[:, π]``), hence on c by ``c -> c[π]``. The set of
    invariant kernels ``{W : 1ᵀW = γ·1ᵀ}`` is larger than the fixed points of
    that action on W itself (constant rows; the identity kernel, which
    computes the exact sum, is not one), because the kernel has an
    (n−1)·n-dimensional null space of function-irrelevant directions. We
    therefore use the Reynolds projection *of the column sums* (average over
    π of c[π] = c̄·1, c̄ = mean column sum) lifted to the kernel orthogonally:

        P(W) = W + (1/n)·1·(c̄·1 − c)ᵀ,

    i.e. each column's deviation of its sum from c̄ is removed evenly from its
    n entries. P is the orthogonal projection onto the invariant kernels, it
    leaves every invariant kernel (e.g. the identity, any permutation matrix,
    α·I + β·11ᵀ) unchanged, and ``f_{P(W)}(x) = c̄·Σ_j x_j`` is the group
    average of the function f_W. For the stricter DeepSets-style subspace
    α·I + β·11ᵀ (fixed points of the simultaneous action W -> P W Pᵀ) use
    ``kind="set_pairwise"``; `project_set_pairwise` is the same closed form as
    for graphs.
"""

import numpy as np

#: The built-in kinds (`register` adds more; `PROJECTIONS` holds them all).
KINDS = ("translation", "set", "set_pairwise", "graph")
# Data set names accepted as kinds. Layers are dispatched on their
# ``symmetry_kind`` attribute, never on their class name.
_ALIASES = {
    "blob1d": "translation",
    "blob2d": "translation",
    "mnist": "translation",
    "padded_mnist": "translation",
    "set_sum": "set",
    "graph_degree": "graph",
}
#: kind -> ``(project(kernel) -> numpy kernel, subspace_dim(kernel_shape) -> int)``.
PROJECTIONS = {}


def register(kind, project_fn, subspace_dim):
    """Registers the projection of a symmetry kind: `project_fn` maps a numpy
    kernel to its projection, `subspace_dim` a kernel shape to the dimension of
    the symmetric subspace (used by `random_share`)."""
    PROJECTIONS[kind] = (project_fn, subspace_dim)


def to_numpy(kernel):
    """A numpy copy/view of a kernel (numpy array, keras Variable or tensor).

    float32/float64 arrays keep their dtype (so the 24.6M-weight MNIST kernel
    stays float32); other dtypes become float64.
    """
    if not isinstance(kernel, np.ndarray):
        try:
            import keras

            kernel = keras.ops.convert_to_numpy(kernel)
        except Exception:
            kernel = np.asarray(kernel)
    kernel = np.asarray(kernel)
    if kernel.dtype not in (np.float32, np.float64):
        kernel = kernel.astype(np.float64)
    return kernel


def squared_norm(x):
    """Σ x² accumulated in float64."""
    x = np.asarray(x)
    return float(np.einsum("i,i->", x.ravel(), x.ravel(), dtype=np.float64))


def resolve_kind(kind, kernel_shape=None):
    """Normalises a kind name (also accepts data set and layer names); with
    ``kind=None`` infers "translation" for rank-3/5 kernels."""
    if kind is None:
        if kernel_shape is not None and len(kernel_shape) in (3, 5):
            return "translation"
        raise ValueError(
            "Expected `kind` (one of "
            f"{sorted(PROJECTIONS)}) for a kernel of shape {kernel_shape}: a square "
            "kernel may be a set or a graph kernel. Received: kind=None"
        )
    kind = _ALIASES.get(kind, kind)
    if kind not in PROJECTIONS:
        raise ValueError(
            f"Expected `kind` to be one of {sorted(PROJECTIONS)}. Received: kind={kind!r}"
        )
    return kind


def translation_axes(kernel_shape):
    """``(kernel_shape, translations, spatial)`` of a ClassTranslationDense kernel
    shape (C, T, d) or (C, T, T', d, d'), as int tuples (the rank is checked)."""
    kernel_shape = tuple(int(s) for s in kernel_shape)
    if len(kernel_shape) not in (3, 5):
        raise ValueError(
            "Expected a ClassTranslationDense kernel of rank 3 (C, T, d) or 5 "
            f"(C, T, T', d, d'). Received: kernel shape {kernel_shape}"
        )
    half = (len(kernel_shape) - 1) // 2
    return kernel_shape, kernel_shape[1 : 1 + half], kernel_shape[1 + half :]


def translation_geometry(kernel_shape):
    """``(num_classes, translations, spatial, strides)`` of a
    ClassTranslationDense kernel shape (C, T, d) or (C, T, T', d, d')."""
    kernel_shape, translations, spatial = translation_axes(kernel_shape)
    if any(d % t for d, t in zip(spatial, translations)):
        raise ValueError(
            "Expected the input size of a ClassTranslationDense kernel to be a "
            f"multiple of its number of translations. Received: kernel shape {kernel_shape}"
        )
    strides = tuple(d // t for d, t in zip(spatial, translations))
    return kernel_shape[0], translations, spatial, strides


def _translation_index(translations):
    return np.ndindex(*translations)


def templates(kernel, dtype=np.float64):
    """The class templates ``w_k = mean_t roll(W[k, t], -s·t)``: shape (C, d) or
    (C, d, d'). For a convolution-structured kernel ``w_k = W[k, 0(, 0)]``."""
    w = to_numpy(kernel)
    _, translations, spatial, strides = translation_geometry(w.shape)
    acc = np.zeros((w.shape[0], *spatial), dtype=dtype)
    axes = tuple(range(1, 1 + len(spatial)))
    for t in _translation_index(translations):
        shift = tuple(-ti * s for ti, s in zip(t, strides))
        acc += np.roll(w[(slice(None), *t)], shift, axis=axes)
    acc /= float(np.prod(translations))
    return acc


def translation_kernel(template_bank, translations):
    """Builds the convolution-structured kernel ``W[k, t] = roll(w_k, s·t)`` from
    templates (C, d) / (C, d, d') and the number of translations (T,) / (T, T')."""
    template_bank = np.asarray(template_bank)
    translations = tuple(int(t) for t in np.atleast_1d(translations))
    spatial = template_bank.shape[1:]
    if len(spatial) != len(translations) or any(d % t for d, t in zip(spatial, translations)):
        raise ValueError(
            "Expected `translations` to have one entry per spatial axis of the "
            f"templates, each dividing its size. Received: templates of shape "
            f"{template_bank.shape}, translations={translations}"
        )
    strides = tuple(d // t for d, t in zip(spatial, translations))
    out = np.empty((template_bank.shape[0], *translations, *spatial), dtype=template_bank.dtype)
    axes = tuple(range(1, 1 + len(spatial)))
    for t in _translation_index(translations):
        shift = tuple(ti * s for ti, s in zip(t, strides))
        out[(slice(None), *t)] = np.roll(template_bank, shift, axis=axes)
    return out


def project_translation(kernel):
    """Reynolds projection of a ClassTranslationDense kernel (see module doc)."""
    w = to_numpy(kernel)
    _, translations, _, _ = translation_geometry(w.shape)
    return translation_kernel(templates(w).astype(w.dtype), translations)


def project_translation_diagonal(kernel):
    """Projection of a 2D ClassTranslationDense kernel onto the diagonal translations.

    The report's `OffsetSharing((b, b'))` shifts *both* translation axes by the same b, so
    it ties W[k, i, j] to W[k, i+b, j+b] and never two templates on different diagonal
    chains {(c + t, t)}, c = (i − j) mod T. This is the Reynolds projection for the
    subgroup {(a, a)} of Z_T × Z_T' (T == T' required) acting as in the module docstring:

        P_diag(W)[k, c + t, t] = roll(V[k, c], (s·t, s'·t)),
        V[k, c] = mean_t roll(W[k, c + t, t], (−s·t, −s'·t)),

    one template per class and chain (C·T·d·d' numbers instead of C·T·T'·d·d'). It is
    idempotent, and the full translation projection `project_translation` is one of its
    fixed points. Used by ``benchmarks/diagonal_extraction.py``.
    """
    w = to_numpy(kernel)
    if w.ndim != 5 or w.shape[1] != w.shape[2]:
        raise ValueError(
            "Expected a 2D ClassTranslationDense kernel (C, T, T, d, d') with a square "
            f"translation grid. Received: kernel shape {w.shape}"
        )
    c_, t_, _, d, d2 = w.shape
    s, s2 = d // t_, d2 // t_
    out = np.empty_like(w)
    for c in range(t_):
        acc = np.zeros((c_, d, d2), dtype=np.float64)
        for t in range(t_):
            acc += np.roll(w[:, (c + t) % t_, t], (-s * t, -s2 * t), axis=(1, 2))
        v = (acc / t_).astype(w.dtype)
        for t in range(t_):
            out[:, (c + t) % t_, t] = np.roll(v, (s * t, s2 * t), axis=(1, 2))
    return out


def _check_square(w, what):
    if w.ndim != 2 or w.shape[0] != w.shape[1]:
        raise ValueError(f"Expected a square (n, n) {what} kernel. Received: kernel shape {w.shape}")


def graph_coefficients(kernel):
    """``(α, β)`` of the projection α·I + β·11ᵀ of a square kernel:
    β = mean off-diagonal entry, α = mean diagonal entry − β."""
    w = to_numpy(kernel)
    _check_square(w, "graph")
    n = w.shape[0]
    diag = float(np.trace(w)) / n
    off = float((w.sum() - np.trace(w)) / (n * (n - 1))) if n > 1 else 0.0
    return diag - off, off


def project_graph(kernel):
    """Reynolds projection of a GraphRowSum kernel onto α·I + β·11ᵀ."""
    w = to_numpy(kernel)
    alpha, beta = graph_coefficients(w)
    n = w.shape[0]
    return (alpha * np.eye(n) + beta * np.ones((n, n))).astype(w.dtype)


project_set_pairwise = project_graph


def project_set(kernel):
    """Projection of a SetLinearSum kernel onto the kernels with equal column
    sums: ``P(W) = W + (1/n)·1·(c̄·1 − c)ᵀ`` (see module doc)."""
    w = to_numpy(kernel)
    _check_square(w, "set")
    c = w.sum(axis=0, dtype=np.float64)
    return (w + (c.mean() - c)[None, :] / w.shape[0]).astype(w.dtype)


def project(kernel, kind=None):
    """Projects `kernel` onto its equivariant subspace (numpy, same float dtype).

    Args:
        kernel: the kernel (numpy array or keras Variable).
        kind: ``"translation"``, ``"set"``, ``"set_pairwise"``, ``"graph"`` or
            another registered kind (`PROJECTIONS`; data set names are accepted
            too; a layer's kind is its ``symmetry_kind``); inferred for
            rank-3/5 kernels.
    """
    w = to_numpy(kernel)
    kind = resolve_kind(kind, w.shape)
    return PROJECTIONS[kind][0](w)


def norm_share(kernel, kind=None, projected=None):
    """``‖P(W)‖² / ‖W‖²``, the share of the kernel's squared norm in the
    equivariant subspace (1 for a symmetric kernel; 1 for W = 0 by convention).
    Pass `projected` to reuse a projection already computed."""
    w = to_numpy(kernel)
    p = project(w, kind) if projected is None else to_numpy(projected)
    total = squared_norm(w)
    if total == 0.0:
        return 1.0
    return squared_norm(p) / total


def random_share(kernel_shape, kind=None):
    """The expected norm share of an i.i.d. Gaussian kernel of that shape:
    dim(subspace) / size, a baseline for `norm_share`."""
    kernel_shape = tuple(int(s) for s in kernel_shape)
    kind = resolve_kind(kind, kernel_shape)
    size = int(np.prod(kernel_shape))
    return PROJECTIONS[kind][1](kernel_shape) / size


def _translation_dim(kernel_shape):
    num_classes, _, spatial, _ = translation_geometry(kernel_shape)
    return num_classes * int(np.prod(spatial))


def _set_dim(kernel_shape):
    n = kernel_shape[0]
    return n * n - (n - 1)


def _graph_dim(kernel_shape):
    return 2 if kernel_shape[0] > 1 else 1


register("translation", project_translation, _translation_dim)
register("set", project_set, _set_dim)
register("set_pairwise", project_set_pairwise, _graph_dim)
register("graph", project_graph, _graph_dim)
