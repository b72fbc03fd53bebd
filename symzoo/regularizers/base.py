"""Base class of symzoo's penalties."""

import contextlib
import sys

import keras
from keras import ops

from symzoo import _validation

try:  # the optional C extension (setup.py); None where it did not compile
    from symzoo.regularizers import _penalty_kernels as HOST_KERNELS
except ImportError:  # pragma: no cover - depends on the build
    HOST_KERNELS = None


@contextlib.contextmanager
def without_host_kernels():
    """Within it, fast-path buffers made for the penalties are written by XLA
    programs and their values reduced in the step, as in an install without
    the C extension ``_penalty_kernels`` (for the benchmarks and tests that
    compare both)."""
    global HOST_KERNELS
    kernels, HOST_KERNELS = HOST_KERNELS, None
    try:
        yield
    finally:
        HOST_KERNELS = kernels


def host_kernels_apply(kernel_shape, dtype):
    """Whether the C extension's host passes can read a kernel of this shape
    and dtype: it compiled, a float32 kernel of rank 1 to 8, little-endian host."""
    return (HOST_KERNELS is not None and str(dtype) == "float32"
            and sys.byteorder == "little" and 1 <= len(kernel_shape) <= 8)

REDUCTIONS = ("sum", "mean")

#: Tensors of at least this many entries are summed by `split_sum` in rows.
SPLIT_SUM_MIN_SIZE = 1 << 16


def _cpu_count():
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def split_sum(x):
    """``Σ x`` over every entry, summed per row of ``r`` equal rows, then over rows.

    With ``r`` the largest divisor of the size not above the CPU count (≤ 64),
    for tensors of at least `SPLIT_SUM_MIN_SIZE` entries. TensorFlow's XLA CPU
    compiler runs a reduction to one scalar on one thread and a reduction of
    rows on one thread per row: on the 24.6M-weight MNIST-56 kernel, with 2
    CPUs, ``Σ W·g`` took 30 ms as a dot and 14 ms in two rows, ``Σ |W|`` 15 ms
    and 11 ms (JAX's compiler: 9.5 ms either way). The same sum up to the
    order of the float additions.
    """
    size = 1
    for s in x.shape:
        size *= int(s)
    rows = 1
    if size >= SPLIT_SUM_MIN_SIZE:
        for r in range(min(_cpu_count(), 64), 1, -1):
            if size % r == 0:
                rows = r
                break
    if rows == 1:
        return ops.sum(x)
    return ops.sum(ops.sum(ops.reshape(x, (rows, size // rows)), axis=1))


class Penalty(keras.regularizers.Regularizer):
    """A scalar penalty on a layer's kernel, added to the model's losses.

    A penalty is a serializable Keras regularizer: ``penalty(kernel)`` returns a
    scalar tensor, and ``penalty.gradient(kernel)`` its (sub)gradient with
    respect to the kernel, written out (`term_gradient` times `factor`) so that
    training can add it to the kernel's gradient without differentiating the
    penalty (the fast path). Symzoo layers take penalties as ``sharing=`` /
    ``sparsity=`` and apply them in training calls only, either way
    (``penalty_mode=``, see `symzoo.layers.PenalizedLayer`);
    `symzoo.models.SymzooModel` logs each under `name`.

    Reductions:
        ``"sum"`` adds up the per-weight (or per-pair) terms, which is how the
        report writes its penalties (Σ ...). ``"mean"`` divides that sum by the
        number of terms, which makes the strength independent of the kernel's
        size. See each subclass for its default.

    Args:
        strength: the factor in front of the penalty (λ or α); must be ≥ 0.
        reduction: ``"sum"`` or ``"mean"``.
    """

    name = "penalty"
    default_reduction = "sum"
    #: True for a penalty whose fast path (TensorFlow and JAX) keeps a
    #: kernel-sized buffer that its own XLA program writes before each step
    #: (`buffer_contents`), and from which the step takes the gradient
    #: (`gradient_from_buffer`) and the logged value (`value_from_buffer`); see
    #: `symzoo.layers.PenalizedLayer.prepare_gradient_buffers` (TensorFlow) and
    #: `symzoo.models.SymzooModel` (JAX: the buffer is an argument of the step).
    buffer_gradient = False
    #: Where `host_buffer_applies`, the fast path's buffer is instead the pair
    #: ``(array, sum of terms)`` written on the host from a zero-copy view of
    #: the kernel by `write_host_buffer` (the C extension ``_penalty_kernels``)
    #: before each step: the exact term gradient in an array of this dtype
    #: (`OffsetSharing`, `L1Sparsity`: int8), or what `buffer_contents` holds
    #: (`SigmoidSparsity`: σ(kθ), float32).
    host_buffer_dtype = None

    def __init__(self, strength, reduction=None):
        self.strength = _validation.non_negative_float(self._strength_arg, strength)
        if reduction is None:
            reduction = self.default_reduction
        self.reduction = _validation.one_of("reduction", reduction, REDUCTIONS)

    _strength_arg = "strength"

    def validate(self, kernel_shape):
        """Raises a ValueError if the penalty cannot apply to `kernel_shape`."""

    def terms(self, kernel):
        """Returns ``(sum_of_terms, number_of_terms)`` before the strength."""
        raise NotImplementedError

    def num_terms(self, kernel_shape):
        """The number of terms the ``"mean"`` reduction divides by."""
        count = 1
        for s in kernel_shape:
            count *= int(s)
        return count

    def factor(self, kernel_shape):
        """The strength times the reduction's ``1 / number_of_terms`` (or 1)."""
        if self.reduction == "mean":
            return self.strength / float(max(self.num_terms(kernel_shape), 1))
        return self.strength

    def __call__(self, kernel):
        return self.reduce(*self.terms(kernel))

    def reduce(self, total, count):
        """The penalty from the sum of its `count` terms: reduction, then strength."""
        if self.reduction == "mean":
            total = total / float(max(count, 1))
        return ops.multiply(ops.cast(self.strength, total.dtype), total)

    def log_value(self, kernel):
        """The penalty's value for logging only (no gradient is taken of it).

        The same number as ``penalty(kernel)``; a subclass may compute it a
        faster way that is not differentiable (`PairwiseSharing`: from host
        ranks).
        """
        return self(kernel)

    def term_gradient(self, kernel):
        """The (sub)gradient of the sum of terms with respect to the kernel.

        The same subgradient that automatic differentiation of `terms` takes
        (``d|x|/dx = sign(x)``, 0 at 0), written out so that it costs one
        elementwise pass that the compiler can fuse into the optimizer's
        update instead of the copies autodiff makes.
        """
        raise NotImplementedError

    def gradient(self, kernel):
        """``d penalty(kernel) / d kernel``: `term_gradient` times `factor`."""
        grad = self.term_gradient(kernel)
        return ops.multiply(grad, ops.cast(self.factor(kernel.shape), grad.dtype))

    def buffer_contents(self, kernel):
        """What the buffer of the fast path holds (`buffer_gradient`):
        by default the gradient itself."""
        return self.gradient(kernel)

    def host_buffer_applies(self, kernel_shape, dtype):
        """Whether the fast path's buffer is written on the host
        (`write_host_buffer`); False unless a subclass has a host pass."""
        return False

    def write_host_buffer(self, kernel, out):
        """Writes the term gradient of the C-contiguous numpy `kernel` into
        `out` (an array of `host_buffer_dtype`) and returns the sum of the
        terms (a float)."""
        raise NotImplementedError

    def gradient_from_buffer(self, kernel, buffer):
        """The gradient, from `buffer_contents` (by default: the buffer), or
        from the host pair (`write_host_buffer`): its array, the exact term
        gradient, times `factor`."""
        if isinstance(buffer, (tuple, list)):
            factor = ops.cast(self.factor(kernel.shape), kernel.dtype)
            return ops.multiply(ops.cast(buffer[0], kernel.dtype), factor)
        return buffer

    def value_from_buffer(self, kernel, buffer):
        """The penalty's value from `buffer_contents`: by default ``⟨W, ∇⟩``,
        which is the penalty for one positively homogeneous of degree one
        (``p(cW) = c·p(W)``, e.g. Σ|W − SW|); one fused multiply-and-sum
        (`split_sum`), which reads each once and writes nothing. From the host
        pair: its sum of terms, reduced (`reduce`), with nothing to read."""
        if isinstance(buffer, (tuple, list)):
            return self.reduce(ops.cast(buffer[1], "float32"), self.num_terms(kernel.shape))
        return split_sum(ops.multiply(kernel, buffer))

    def get_config(self):
        return {self._strength_arg: self.strength, "reduction": self.reduction}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash((type(self).__name__, tuple(sorted(self.get_config().items()))))


def get(identifier, arg_name="penalty"):
    """Returns a `Penalty` from an instance, a config dict or None."""
    if identifier is None or isinstance(identifier, Penalty):
        return identifier
    if isinstance(identifier, dict):
        obj = keras.saving.deserialize_keras_object(identifier)
        if isinstance(obj, Penalty):
            return obj
    raise ValueError(
        f"Expected `{arg_name}` to be a symzoo penalty (e.g. "
        f"symzoo.regularizers.OffsetSharing(...)), its serialized config, or None. "
        f"Received: {arg_name}={identifier!r}"
    )
