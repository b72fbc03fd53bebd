"""The exact proximal operator of the all-pairs sharing penalty.

    prox_τ(θ) = argmin_x ½‖x − θ‖² + τ · Σ_{j<k} |x_j − x_k|

Unlike the penalty's subgradient (which `PairwiseSharing` adds to the loss and
which never makes two weights exactly equal), the proximal step returns
*exactly tied* weights: groups of weights whose values coincide bit for bit.
This is the step of Weight-Sharing Regularization (Shakerinava et al.,
AISTATS 2024).

Algorithm (O(n log n), exact up to float rounding):

1. sort θ ascending: θ_(0) ≤ … ≤ θ_(n−1);
2. the penalty restricted to vectors sorted like θ is linear,
   Σ_{j<k} |x_j − x_k| = Σ_i c_i · x_(i) with c_i = 2i − n + 1, so shift
   z_i = θ_(i) − τ · c_i;
3. the solution keeps θ's order, hence x_(·) is the isotonic (non-decreasing)
   regression of z, computed by pool-adjacent-violators
   (`scipy.optimize.isotonic_regression`, C++);
4. unsort.

For float32 values, where the C extension compiled (`symzoo.regularizers._sorting`),
all four steps run in C: the multi-threaded radix sort, then pool-adjacent-
violators on z in float64 (block sums), then each block's mean written back
to its weights on all threads.

Weights in one pooled block get the same value; a block stays a block under a
further prox step with a larger τ (the groups only merge).
"""

import functools

import keras
import numpy as np

from symzoo.regularizers import _sorting
from symzoo.regularizers._sorting import sorted_with_order



def _check_threshold(threshold):
    try:
        value = float(threshold)
    except (TypeError, ValueError):
        value = None
    if (
        value is None
        or isinstance(threshold, bool)
        or not np.isfinite(value)
        or value < 0
    ):
        raise ValueError(
            "Expected `threshold` (learning rate × λ) to be a finite number ≥ 0. "
            f"Received: threshold={threshold!r}"
        )
    return value


def _check_finite(flat):
    if not np.isfinite(flat).all():
        raise ValueError(
            "Expected `values` to be finite. Received: values with NaN or inf entries."
        )


def pairwise_prox(values, threshold):
    """Exact proximal step of τ · Σ_{j<k} |θ_j − θ_k| over all entries of ``values``.

    Args:
        values: array-like of any shape (all entries form one penalised set,
            as in `PairwiseSharing`). NaN/inf are rejected.
        threshold: τ ≥ 0; for a proximal-gradient step after an optimizer
            update this is ``learning_rate × λ`` (λ per pair, i.e. divided by
            n(n−1)/2 for the ``"mean"`` reduction).

    Returns:
        A numpy array of the shape and floating dtype of ``values`` (float64
        for integer input): ``argmin_x ½‖x − θ‖² + τ Σ_{j<k} |x_j − x_k|``.
        Entries in one group are exactly equal; the order of the entries is
        kept (θ_j < θ_k implies x_j ≤ x_k). ``threshold = 0`` returns a copy.

    Raises:
        ValueError: ``threshold`` is negative or not finite, or ``values`` is
            not finite.
    """
    tau = _check_threshold(threshold)
    theta = np.asarray(values)
    if not np.issubdtype(theta.dtype, np.floating):
        theta = theta.astype(np.float64)
    shape, dtype = theta.shape, theta.dtype
    flat = np.ascontiguousarray(theta).reshape(-1)
    n = flat.shape[0]
    if n:
        _check_finite(flat)
    if n < 2 or tau == 0.0:
        return flat.copy().reshape(shape)

    out, _ = _prox_flat(flat, tau)
    return out.reshape(shape)


def _prox_flat(flat, tau):
    """``(prox of the flat finite array, number of groups)`` for τ > 0, n ≥ 2.

    The groups are counted on the sorted result (one pass), not with a second
    sort of the output.
    """
    from scipy.optimize import isotonic_regression

    n = flat.shape[0]
    if _sorting.radix_applies(flat):
        out = np.empty(n, dtype=np.float32)
        count = _sorting.RADIX.pairwise_prox(flat, out, float(tau), _sorting.radix_threads())
        return out, int(count)
    ordered, order = sorted_with_order(flat)
    # z_i = θ_(i) − τ (2i − n + 1), in float64: τ·c reaches τ·n.
    z = _rank_offsets(n) * -tau
    z += ordered
    del ordered
    fitted = isotonic_regression(z, increasing=True).x.astype(flat.dtype, copy=False)
    del z
    # Sorted, so the groups (after rounding to the kernel's dtype) are runs.
    count = 1 + int(np.count_nonzero(fitted[1:] != fitted[:-1]))
    out = np.empty(n, dtype=flat.dtype)
    out[order] = fitted
    return out, count


@functools.lru_cache(maxsize=2)
def _rank_offsets(n):
    """``2i − n + 1`` for i = 0..n−1 (float64, read-only, cached per size)."""
    offsets = np.arange(-(n - 1), n, 2, dtype=np.float64)
    offsets.flags.writeable = False
    return offsets


def groups(values):
    """Labels 0..G−1 of the groups of exactly equal entries (flattened, C order).

    Labels are assigned in order of the groups' values (the smallest value is
    group 0).
    """
    flat = np.asarray(values).reshape(-1)
    _, labels = np.unique(flat, return_inverse=True)
    return labels.reshape(-1)


def prox_targets(model):
    """``[(layer, penalty), ...]`` of the layers of ``model`` whose ``sharing``
    is a `PairwiseSharing` with ``prox=True`` (nested layers included)."""
    from symzoo.regularizers.pairwise_sharing import PairwiseSharing

    targets = []
    for layer in model._flatten_layers(include_self=False, recursive=True):
        penalty = getattr(layer, "sharing", None)
        if isinstance(penalty, PairwiseSharing) and penalty.prox:
            if getattr(layer, "kernel", None) is None:
                raise ValueError(
                    "Expected a layer with a `kernel` for a prox=True PairwiseSharing. "
                    f"Received: layer {layer.name!r} without one."
                )
            targets.append((layer, penalty))
    return targets


def _current_learning_rate(optimizer):
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def apply_prox(model, learning_rate=None):
    """Applies the exact prox to every ``prox=True`` kernel of ``model`` once.

    Args:
        model: a Keras model.
        learning_rate: the step size; default the model's optimizer's current
            learning rate (schedules included).

    Returns:
        ``{layer name: number of groups of tied weights}``.
    """
    if learning_rate is None:
        learning_rate = _current_learning_rate(model.optimizer)
    sizes = {}
    for layer, penalty in prox_targets(model):
        kernel = layer.kernel
        values = keras.ops.convert_to_numpy(kernel)
        tau = penalty.prox_threshold(learning_rate, values.size)
        flat = np.ascontiguousarray(values).reshape(-1)
        if flat.size < 2 or tau == 0.0:
            sizes[layer.name] = int(np.unique(flat).size)
            continue
        _check_finite(flat)
        new, sizes[layer.name] = _prox_flat(flat, _check_threshold(tau))
        kernel.assign(new.reshape(values.shape))
    return sizes


class PairwiseProx(keras.callbacks.Callback):
    """Proximal steps for ``PairwiseSharing(..., prox=True)`` kernels.

    After every training batch (i.e. after every optimizer step) each
    such kernel W becomes ``pairwise_prox(W, lr × λ_pair)``, with ``lr``
    the optimizer's current learning rate and ``λ_pair`` the penalty's
    strength per pair (λ, or λ / (n(n−1)/2) for ``reduction="mean"``).
    Runs eagerly in numpy between the compiled train steps, so it works
    on every backend. At the end of each epoch the number of groups of
    each kernel is added to the logs as ``<layer>_groups``.

    Args:
        every: apply the prox every ``every`` batches (default 1), with
            threshold ``every × lr × λ_pair``.
    """

    def __init__(self, every=1):
        super().__init__()
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(
                f"Expected `every` to be a positive integer. Received: every={every!r}"
            )
        self.every = every
        self._count = 0
        self._groups = {}

    def on_train_batch_end(self, batch, logs=None):
        self._count += 1
        if self._count % self.every:
            return
        lr = _current_learning_rate(self.model.optimizer) * self.every
        self._groups = apply_prox(self.model, lr)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            for name, count in self._groups.items():
                logs[f"{name}_groups"] = count


def prox_callbacks(model):
    """``[PairwiseProx()]`` when ``model`` has a ``prox=True`` kernel, else ``[]``."""
    if not prox_targets(model):
        return []
    return [PairwiseProx()]


__all__ = [
    "PairwiseProx",
    "apply_prox",
    "groups",
    "pairwise_prox",
    "prox_callbacks",
    "prox_targets",
]
