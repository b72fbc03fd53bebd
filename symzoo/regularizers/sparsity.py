"""Sparsity penalties: plain L1 and the report's sigmoid penalty for sets."""

import keras
from keras import ops

from symzoo import _validation
from symzoo.regularizers import base
from symzoo.regularizers._sorting import radix_threads
from symzoo.regularizers.base import Penalty, split_sum


def _size(kernel):
    count = 1
    for s in kernel.shape:
        count *= int(s)
    return count


@keras.saving.register_keras_serializable(package="symzoo")
class L1Sparsity(Penalty):
    """α · Σ |θ| (``"sum"``, default) or α · mean |θ| (``"mean"``).

    Args:
        alpha: α ≥ 0.
        reduction: ``"sum"`` or ``"mean"``.
    """

    name = "l1_sparsity"
    _strength_arg = "alpha"

    def __init__(self, alpha, reduction=None):
        super().__init__(alpha, reduction)

    @property
    def alpha(self):
        return self.strength

    def terms(self, kernel):
        return split_sum(ops.abs(kernel)), _size(kernel)

    def term_gradient(self, kernel):
        return ops.sign(kernel)

    #: The fast path's host buffer (`write_host_buffer`): sign(θ) as int8.
    host_buffer_dtype = "int8"

    def host_buffer_applies(self, kernel_shape, dtype):
        """Fast path (TensorFlow, JAX) where the C extension compiled: before
        the step one host pass writes sign(θ) as int8 and sums |θ|
        (`write_host_buffer`); the step reads the int8 signs in Adam's two
        moment updates (a quarter of the bytes of θ, which it read there
        twice more) and logs the value with no reduction (XLA's CPU reduction
        of |θ| wrote |θ| out first)."""
        return base.host_kernels_apply(kernel_shape, dtype)

    def write_host_buffer(self, kernel, out):
        """sign(θ) of the C-contiguous float32 array `kernel` into the int8
        array `out` (0 for a NaN weight, whose value is NaN), and returns
        Σ|θ| (float32 lanes summed in double), in one threaded pass."""
        return base.HOST_KERNELS.abs_sign(kernel, out, radix_threads())


@keras.saving.register_keras_serializable(package="symzoo")
class SigmoidSparsity(Penalty):
    """α · Σ σ(sharpness · θ): the report's set penalty, 0.01 · Σ σ(100 θ).

    A smooth count of the positive weights: each weight well above 0 costs α,
    each weight well below 0 costs nothing.

    Args:
        alpha: α ≥ 0 (the report: 0.01).
        sharpness: the slope of the sigmoid (> 0; the report: 100).
        reduction: ``"sum"`` (default) or ``"mean"``.
    """

    name = "sigmoid_sparsity"
    _strength_arg = "alpha"

    def __init__(self, alpha, sharpness=100.0, reduction=None):
        super().__init__(alpha, reduction)
        self.sharpness = _validation.positive_float("sharpness", sharpness)

    @property
    def alpha(self):
        return self.strength

    def terms(self, kernel):
        return split_sum(self.buffer_contents(kernel)), _size(kernel)

    #: Fast path (TensorFlow, JAX): the buffer holds σ(sharpness·θ), written once per
    #: step; the gradient and the logged value are read off it (no exp in the step).
    buffer_gradient = True

    def term_gradient(self, kernel):
        return self._sigmoid_gradient(self.buffer_contents(kernel))

    def _sigmoid_gradient(self, s):
        return (self.sharpness * s) * (1.0 - s)

    def buffer_contents(self, kernel):
        return ops.sigmoid(self.sharpness * kernel)

    #: Where the C extension compiled, the buffer is written on the host instead
    #: (`write_host_buffer`): the pair (σ(sharpness·θ) as float32, Σσ).
    host_buffer_dtype = "float32"

    def host_buffer_applies(self, kernel_shape, dtype):
        """Fast path (TensorFlow, JAX) where the C extension compiled: one host
        pass writes σ(sharpness·θ) and sums it (`write_host_buffer`), so the
        step logs the value with no reduction of its own; else an XLA program
        writes σ (`buffer_contents`) and the step sums it."""
        return base.host_kernels_apply(kernel_shape, dtype)

    def write_host_buffer(self, kernel, out):
        """σ(sharpness·θ) of the C-contiguous float32 array `kernel` into the
        float32 array `out` (an exp of relative error below 1e-6, as close to
        the exact σ as ``keras.ops.sigmoid``; σ = 0 or 1 where
        sharpness·|θ| ≥ 87; NaN stays NaN), and returns Σσ (float32 lanes
        summed in double), in one threaded pass."""
        return base.HOST_KERNELS.sigmoid_sum(kernel, out, self.sharpness, radix_threads())

    def gradient_from_buffer(self, kernel, buffer):
        s = buffer[0] if isinstance(buffer, (tuple, list)) else buffer
        grad = self._sigmoid_gradient(s)  # the same expression as `gradient`
        return ops.multiply(grad, ops.cast(self.factor(kernel.shape), grad.dtype))

    def value_from_buffer(self, kernel, buffer):
        if isinstance(buffer, (tuple, list)):
            return super().value_from_buffer(kernel, buffer)  # the host's Σσ
        return self.reduce(split_sum(buffer), _size(kernel))

    def get_config(self):
        return {**super().get_config(), "sharpness": self.sharpness}
