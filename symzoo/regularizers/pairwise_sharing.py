"""The report's all-pairs parameter-sharing penalty, computed by sorting."""

import keras
from keras import ops

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

    def __init__(self, lam, reduction=None, prox=False):
        super().__init__(lam, reduction)
        if not isinstance(prox, bool):
            raise ValueError(
                f"Expected `prox` to be True or False. Received: prox={prox!r}"
            )
        self.prox = prox

    def __call__(self, kernel):
        value = super().__call__(kernel)
        return ops.stop_gradient(value) if self.prox else value

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
