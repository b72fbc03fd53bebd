"""SetLinearSum: an n×n linear map followed by sum-pooling."""

import keras
from keras import ops

from symzoo.layers.base import PenalizedLayer


@keras.saving.register_keras_serializable(package="symzoo")
class SetLinearSum(PenalizedLayer):
    """The sum of the outputs of an n×n linear map of a set of n numbers.

        y[b] = Σ_i Σ_j W[i, j] · x[b, j]

    W is stored as (outputs, inputs), as in the report, so the weight that
    multiplies element j is the *column sum* Σ_i W[i, j]. The map is
    permutation invariant exactly when all column sums are equal; for the
    set-sum task they should all be 1 (the report's metric: mean |column
    sums − 1|).

    Args:
        sharing: optional penalty on the kernel, e.g. `PairwiseSharing`.
        sparsity: optional penalty, e.g. ``SigmoidSparsity(0.01, 100)``.
        kernel_initializer: initializer of W (default ``"glorot_uniform"``).

    Input shape:
        (N, n).
    Output shape:
        (N, 1).
    Kernel shape:
        (n, n).
    """

    #: The symmetry this layer can discover (`symzoo.symmetry.groups.GROUPS`).
    symmetry_kind = "set"

    def __init__(
        self, sharing=None, sparsity=None, kernel_initializer="glorot_uniform", **kwargs
    ):
        super().__init__(sharing=sharing, sparsity=sparsity, **kwargs)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.input_spec = keras.layers.InputSpec(ndim=2)

    def build(self, input_shape):
        n = input_shape[-1]
        if n is None:
            raise ValueError(
                "Expected inputs of shape (N, n) with a known set size n. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        self._validate_penalties((n, n))
        self.kernel = self.add_weight(
            name="kernel", shape=(n, n), initializer=self.kernel_initializer
        )
        self.input_spec = keras.layers.InputSpec(ndim=2, axes={-1: n})

    def call(self, inputs, training=None):
        kernel = self._penalized_kernel(training)
        x = ops.cast(inputs, kernel.dtype)
        return ops.sum(ops.einsum("nj,ij->ni", x, kernel), axis=-1, keepdims=True)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)

    def get_config(self):
        return {
            **super().get_config(),
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            **self.penalty_config(),
        }
