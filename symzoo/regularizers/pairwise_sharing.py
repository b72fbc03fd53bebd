"""The report's all-pairs parameter-sharing penalty, computed by sorting."""

import functools

import keras
import numpy as np
from keras import ops

from symzoo import _validation
from symzoo.regularizers import _sorting
from symzoo.regularizers._sorting import sorted_with_order
from symzoo.regularizers.base import Penalty


@keras.saving.register_keras_serializable(package="symzoo")
class PairwiseSharing(Penalty):
    """λ · Σ_{j<k} |θ_j − θ_k| over all pairs of weights of a kernel.

    Computed exactly in O(n log n): with θ_(0) ≤ … ≤ θ_(n−1) sorted,

        Σ_{j<k} |θ_j − θ_k| = Σ_i (2i − n + 1) · θ_(i),

    so it runs on the 24.6M-weight MNIST kernel, where the O(n²) sum over
    ~3·10¹⁴ pairs could not. The gradient flows through the sort.

    Reduction: ``"sum"`` (default, the report's Σ) or ``"mean"`` (divided by the
    number of pairs n(n−1)/2).

    Proximal training (``prox=True``): the penalty's value still enters the
    loss (so the logged loss is the full objective), but with its gradient
    stopped; instead `symzoo.regularizers.prox.PairwiseProx` (a Keras callback,
    added by `symzoo.training.train` automatically) applies the exact proximal
    operator `symzoo.regularizers.prox.pairwise_prox` to the kernel after every
    optimizer step, with threshold = current learning rate × λ per pair
    (`prox_threshold`). That is proximal gradient descent (Shakerinava et al.,
    AISTATS 2024, with the optimizer's step in place of plain SGD): weights
    merge into groups of exactly equal values, which the subgradient
    (``prox=False``, the default) never produces.

    Args:
        lam: λ ≥ 0.
        reduction: ``"sum"`` or ``"mean"``.
        prox: False (default: the subgradient through `add_loss`) or True
            (proximal steps by the callback; no gradient from the penalty).
    """

    name = "pairwise_sharing"
    default_reduction = "sum"
    _strength_arg = "lam"
    #: Kernels with at least this many weights are ranked on the host with
    #: numpy (`rank_coefficients`) in the fast (``"gradient"``) path; smaller
    #: ones with two ``keras.ops.argsort`` inside the compiled step.
    host_ranking_min_size = 1 << 16

    def __init__(self, lam, reduction=None, prox=False):
        super().__init__(lam, reduction)
        self.prox = _validation.boolean("prox", prox)

    def __call__(self, kernel):
        value = super().__call__(kernel)
        return ops.stop_gradient(value) if self.prox else value

    def gradient(self, kernel):
        """The subgradient (``penalty_mode="gradient"``); zero with ``prox=True``,
        whose proximal steps replace it."""
        if self.prox:
            return ops.zeros_like(kernel)
        return super().gradient(kernel)

    def prox_threshold(self, learning_rate, size):
        """τ = learning rate × λ per pair, for a kernel of ``size`` weights."""
        lam = self.strength
        if self.reduction == "mean":
            lam = lam / float(max(size * (size - 1) // 2, 1))
        return float(learning_rate) * lam

    def get_config(self):
        config = super().get_config()
        if self.prox:  # configs of subgradient penalties stay as they were
            config["prox"] = True
        return config

    @property
    def lam(self):
        return self.strength

    def terms(self, kernel):
        flat = ops.reshape(kernel, (-1,))
        n = int(flat.shape[0])
        ordered = ops.sort(flat)
        coef = ops.cast(2 * ops.arange(n) - (n - 1), ordered.dtype)
        return ops.sum(coef * ordered), n * (n - 1) // 2

    def num_terms(self, kernel_shape):
        n = super().num_terms(kernel_shape)
        return n * (n - 1) // 2

    def uses_host_ranking(self, kernel_shape):
        """Whether the fast path ranks a kernel of this shape with numpy
        (never with ``prox=True``: no subgradient to compute)."""
        if self.prox:
            return False
        size = 1
        for s in kernel_shape:
            size *= int(s)
        return size >= self.host_ranking_min_size

    def term_gradient(self, kernel):
        """``2·rank(θ_j) − (n − 1)`` for each weight (ranks from 0, ties by index).

        The subgradient autodiff takes through the sort. Small kernels are
        ranked with two ``keras.ops.argsort``; kernels of at least
        `host_ranking_min_size` weights with numpy (`rank_coefficients`, about
        one ``numpy.sort``): on JAX through ``jax.pure_callback`` inside the
        compiled step, on torch eagerly. On TensorFlow (XLA cannot call numpy)
        the layer ranks the kernel before each compiled step
        (`PenalizedLayer.update_host_gradients`, called by `SymzooModel`) and
        this in-graph fallback is used only outside a `SymzooModel`.
        """
        backend = keras.backend.backend()
        if self.uses_host_ranking(kernel.shape) and backend == "jax":
            import jax

            return jax.pure_callback(
                lambda w: rank_coefficients(np.asarray(w)).reshape(w.shape),
                jax.ShapeDtypeStruct(tuple(kernel.shape), "float32"),
                kernel,
            ).astype(kernel.dtype)
        if self.uses_host_ranking(kernel.shape) and backend == "torch":
            coef = rank_coefficients(ops.convert_to_numpy(kernel)).reshape(kernel.shape)
            return ops.cast(ops.convert_to_tensor(coef), kernel.dtype)
        flat = ops.reshape(kernel, (-1,))
        n = int(flat.shape[0])
        ranks = ops.argsort(ops.argsort(flat))
        coef = ops.cast(2 * ranks - (n - 1), kernel.dtype)
        return ops.reshape(coef, kernel.shape)

    def log_value(self, kernel):
        """``Σ_j gradient_j · θ_j``: the penalty is linear in θ given the ranks.

        Σ_i (2i − n + 1) θ_(i) = Σ_j (2 rank_j − n + 1) θ_j, so with the ranks
        from the host (JAX, torch, on large kernels) the logged value costs no
        second sort.
        """
        if self.uses_host_ranking(kernel.shape) and keras.backend.backend() in (
            "jax",
            "torch",
        ):
            kernel = ops.stop_gradient(ops.convert_to_tensor(kernel))
            return ops.sum(ops.multiply(self.gradient(kernel), kernel))
        return self(kernel)

    def host_gradient(self, kernel, out=None):
        """`gradient` of a numpy kernel, in numpy (float32, the kernel's shape),
        written into `out` (a float32 array of the kernel's size) when given."""
        kernel = np.asarray(kernel)
        scale = float(np.float32(self.factor(kernel.shape)))
        return rank_coefficients(kernel, scale, out=out).reshape(kernel.shape)


def rank_coefficients(values, scale=1.0, out=None):
    """``scale · (2·rank(v_j) − (n − 1))`` for each value (float32, flat), in numpy.

    Written into `out` when given (a C-contiguous float32 array of
    ``values.size`` entries, returned flat), else into a new array.

    Ranks count from 0 and break ties by index (a stable order). With the C
    extension (`symzoo.regularizers._sorting`): one multi-threaded radix sort
    whose last pass writes the coefficients. Else, in numpy: one in-place
    sort of 64-bit keys ``(order-preserving bits of the float32) << 32 | index``,
    which costs about 1.5 ``numpy.sort`` of the values (an ``argsort`` costs
    more than ten times that here), then one scatter of the (cached, already
    scaled) sorted coefficients: ``scale`` costs no extra pass over the kernel.
    """
    flat = np.ascontiguousarray(values, dtype=np.float32).reshape(-1)
    n = flat.size
    if n >= 1 << 32:
        raise ValueError(
            f"Expected fewer than 2**32 values to rank. Received: {n} values"
        )
    if out is None:
        coef = np.empty(n, dtype=np.float32)
    else:
        if (not isinstance(out, np.ndarray) or out.dtype != np.float32 or out.size != n
                or not out.flags.c_contiguous or not out.flags.writeable):
            raise ValueError(
                f"Expected `out` to be a writable C-contiguous float32 array of {n} "
                f"entries. Received: out={type(out).__name__} of dtype "
                f"{getattr(out, 'dtype', None)} and size {getattr(out, 'size', None)}"
            )
        coef = out.reshape(-1)
    if _sorting.radix_applies(flat):
        _sorting.RADIX.rank_coefficients(flat, coef, float(scale), _sorting.radix_threads())
        return coef
    _, order = sorted_with_order(flat)
    coef[order] = _sorted_coefficients(n, float(scale))
    return coef


@functools.lru_cache(maxsize=2)
def _sorted_coefficients(n, scale):
    """``scale · (2i − (n − 1))`` for i = 0..n−1 as float32 (read-only, cached
    per size and scale: the same for every step)."""
    coef = np.arange(-(n - 1), n, 2, dtype=np.float64).astype(np.float32)
    if scale != 1.0:
        coef *= np.float32(scale)
    coef.flags.writeable = False
    return coef
