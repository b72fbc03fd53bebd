"""Permutation-invariant pooling of the DeepSets baseline."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="symzoo")
class SumPooling(keras.layers.Layer):
    """Sums its input over ``axis`` (DeepSets' permutation-invariant pooling).

    Input shape: (N, n, ...). Output shape: the input shape without ``axis``.
    """

    def __init__(self, axis=1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, int) or axis == 0:
            raise ValueError(
                f"Expected `axis` to be a non-batch axis (a non-zero integer). "
                f"Received: axis={axis!r}"
            )
        self.axis = axis

    def call(self, inputs):
        return ops.sum(inputs, axis=self.axis)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        del shape[self.axis]
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
