"""Layers of the torus-MNIST models: a dense map to (position, channel) and a
circular (periodic-padding) 2D convolution."""

import math

import keras
from keras import ops

from symzoo import _validation
from symzoo.layers.base import PenalizedLayer


@keras.saving.register_keras_serializable(package="symzoo")
class PositionChannelDense(PenalizedLayer):
    """A fully-connected map from all input features to P positions × F channels.

        y[n, t, f] = Σ_q x[n, q] · W[q, t·F + f] + b[f]

    An ordinary dense layer (kernel (Q, P·F)) whose outputs are read as P
    positions with F channels each; the bias is per channel (shared by the
    positions, which the positions' pooling treats alike anyway). Nothing ties
    the kernel's columns of different positions: with images of H×W = Q = P
    pixels and the ties W[q, t·F + f] = K[(q − t) mod (H, W), f] it *is* a
    circular convolution with F filters of size H×W (`CircularConv2D`);
    `symzoo.symmetry.partition.true_partition("circular_conv", ...)` gives
    those ties, and the ``sharing`` penalty (e.g. the all-pairs
    ``PairwiseSharing(λ, prox=True)``) is how they are *discovered*.

    Args:
        positions: P > 0.
        channels: F > 0.
        use_bias: add the per-channel bias b (default True).
        sharing, sparsity: optional penalties on the kernel.
        kernel_initializer: default ``"glorot_uniform"``.

    Input shape:
        (N, ...) with Q features after flattening.
    Output shape:
        (N, P, F).
    Kernel shape:
        (Q, P·F).
    """

    def __init__(self, positions, channels, use_bias=True, sharing=None, sparsity=None,
                 kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(sharing=sharing, sparsity=sparsity, **kwargs)
        self.positions = _validation.positive_int("positions", positions)
        self.channels = _validation.positive_int("channels", channels)
        if not isinstance(use_bias, bool):
            raise ValueError(
                f"Expected `use_bias` to be True or False. Received: use_bias={use_bias!r}"
            )
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        features = input_shape[1:]
        if not features or any(d is None for d in features):
            raise ValueError(
                "Expected inputs of shape (N, ...) with known feature dimensions. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        self._features = math.prod(features)
        shape = (self._features, self.positions * self.channels)
        self._validate_penalties(shape)
        self.kernel = self.add_weight(
            name="kernel", shape=shape, initializer=self.kernel_initializer
        )
        self.bias = (
            self.add_weight(name="bias", shape=(self.channels,), initializer="zeros")
            if self.use_bias
            else None
        )

    def call(self, inputs, training=None):
        kernel = self._penalized_kernel(training)
        x = ops.reshape(ops.cast(inputs, kernel.dtype), (-1, self._features))
        y = ops.reshape(ops.matmul(x, kernel), (-1, self.positions, self.channels))
        return y + self.bias if self.use_bias else y

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.positions, self.channels)

    def get_config(self):
        return {
            **super().get_config(),
            "positions": self.positions,
            "channels": self.channels,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            **self.penalty_config(),
        }


@keras.saving.register_keras_serializable(package="symzoo")
class CircularConv2D(keras.layers.Layer):
    """2D cross-correlation with periodic (torus) boundary conditions.

        y[n, i, j, f] = Σ_{a, b, c} x[n, (i + a) mod H, (j + b) mod W, c] · K[a, b, c, f] + b[f]

    for 0 ≤ a < k_h, 0 ≤ b < k_w: the input is wrapped by k − 1 rows/columns
    at the bottom/right and convolved with ``"valid"`` padding, so the output
    keeps the input's H×W and is exactly equivariant to cyclic shifts.

    Args:
        filters: F > 0.
        kernel_size: k or (k_h, k_w), each between 1 and the input size
            (checked in build).
        use_bias: default True.
        kernel_initializer: default ``"glorot_uniform"``.

    Input shape:
        (N, H, W, C).
    Output shape:
        (N, H, W, F).
    """

    def __init__(self, filters, kernel_size, use_bias=True,
                 kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.filters = _validation.positive_int("filters", filters)
        if isinstance(kernel_size, int) and not isinstance(kernel_size, bool):
            kernel_size = (kernel_size, kernel_size)
        self.kernel_size = _validation.int_tuple("kernel_size", kernel_size, length=2)
        if min(self.kernel_size) < 1:
            raise ValueError(
                f"Expected `kernel_size` to be positive. Received: kernel_size={kernel_size!r}"
            )
        if not isinstance(use_bias, bool):
            raise ValueError(
                f"Expected `use_bias` to be True or False. Received: use_bias={use_bias!r}"
            )
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def build(self, input_shape):
        h, w, c = input_shape[1:]
        kh, kw = self.kernel_size
        if h is None or w is None or c is None or kh > h or kw > w:
            raise ValueError(
                f"Expected inputs (N, H, W, C) with known H ≥ {kh}, W ≥ {kw} and C "
                f"(kernel_size={self.kernel_size}). Received: input_shape={tuple(input_shape)}"
            )
        self.kernel = self.add_weight(
            name="kernel", shape=(kh, kw, c, self.filters), initializer=self.kernel_initializer
        )
        self.bias = (
            self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")
            if self.use_bias
            else None
        )

    def call(self, inputs):
        kh, kw = self.kernel_size
        x = ops.cast(inputs, self.kernel.dtype)
        if kh > 1:
            x = ops.concatenate([x, x[:, : kh - 1]], axis=1)
        if kw > 1:
            x = ops.concatenate([x, x[:, :, : kw - 1]], axis=2)
        y = ops.conv(x, self.kernel, strides=1, padding="valid")
        return y + self.bias if self.use_bias else y

    def compute_output_shape(self, input_shape):
        return (*input_shape[:3], self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }
