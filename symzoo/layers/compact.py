"""The layers of the compact equivariant models built by
`symzoo.symmetry.extraction.extract` (one per symmetry kind):

* `CircularPad`: wrap-around padding, so that a 'valid' convolution is a
  cyclic cross-correlation (translations);
* `ScaledSum`: ``y = c·Σ_j x_j`` (sets);
* `GraphEquivariantRowSum`: `GraphRowSum` with W = α·I + β·11ᵀ (graphs).
"""

import numpy as np

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="symzoo")
class CircularPad(keras.layers.Layer):
    """Appends the first ``pad[a]`` entries of each spatial axis at its end
    (wrap-around padding), for inputs (N, d[, d'], channels).

    With ``pad = d − 1`` a 'valid' convolution of kernel size d over the
    padded input is a cyclic cross-correlation over the original input.
    """

    def __init__(self, pad, **kwargs):
        super().__init__(**kwargs)
        if isinstance(pad, int):
            pad = (pad,)
        self.pad = tuple(int(p) for p in pad)
        if not self.pad or min(self.pad) < 0:
            raise ValueError(
                f"Expected `pad` to be non-negative integers, one per spatial axis. Received: pad={pad!r}"
            )

    def call(self, inputs):
        x = inputs
        for axis, p in enumerate(self.pad, start=1):
            if p == 0:
                continue
            size = x.shape[axis]
            if size is None or p > size:
                # Repeat the tensor as often as needed.
                reps = 1 + (p + (size or 1) - 1) // max(size or 1, 1)
                head = ops.concatenate([x] * reps, axis=axis)
            else:
                head = x
            head = ops.take(head, np.arange(p), axis=axis)
            x = ops.concatenate([x, head], axis=axis)
        return x

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        for axis, p in enumerate(self.pad, start=1):
            if shape[axis] is not None:
                shape[axis] += p
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "pad": list(self.pad)}


@keras.saving.register_keras_serializable(package="symzoo")
class ScaledSum(keras.layers.Layer):
    """``y = c · Σ_j x_j`` (keepdims): the compact permutation-invariant set model.

    One trainable scalar ``c`` (initialised to ``scale``).
    """

    def __init__(self, scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = float(scale)

    def build(self, input_shape):
        self.c = self.add_weight(
            name="c", shape=(), initializer=keras.initializers.Constant(self.scale)
        )

    def call(self, inputs):
        x = ops.cast(inputs, self.c.dtype)
        return self.c * ops.sum(x, axis=-1, keepdims=True)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


@keras.saving.register_keras_serializable(package="symzoo")
class GraphEquivariantRowSum(keras.layers.Layer):
    """`GraphRowSum` with the kernel tied to W = α·I + β·11ᵀ (2 parameters):

        y[b, i] = Σ_j act(α·A[b, i, j] + β·Σ_l A[b, i, l])

    which is permutation equivariant for every α, β.
    """

    def __init__(self, alpha=1.0, beta=0.0, activation="relu", **kwargs):
        super().__init__(**kwargs)
        self.alpha_init = float(alpha)
        self.beta_init = float(beta)
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        self.alpha = self.add_weight(
            name="alpha", shape=(), initializer=keras.initializers.Constant(self.alpha_init)
        )
        self.beta = self.add_weight(
            name="beta", shape=(), initializer=keras.initializers.Constant(self.beta_init)
        )

    def call(self, inputs):
        a = ops.cast(inputs, self.alpha.dtype)
        degree = ops.sum(a, axis=-1, keepdims=True)
        return ops.sum(self.activation(self.alpha * a + self.beta * degree), axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1])

    def get_config(self):
        return {
            **super().get_config(),
            "alpha": self.alpha_init,
            "beta": self.beta_init,
            "activation": keras.activations.serialize(self.activation),
        }
