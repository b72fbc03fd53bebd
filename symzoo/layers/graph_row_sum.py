"""GraphRowSum: per-node outputs as row sums of act(A·W)."""

import keras
from keras import ops

from symzoo.layers.base import PenalizedLayer


@keras.saving.register_keras_serializable(package="symzoo")
class GraphRowSum(PenalizedLayer):
    """Node outputs from an adjacency matrix through one n×n dense map.

        y[b, i] = Σ_j act( Σ_l A[b, i, l] · W[l, j] )

    The map is equivariant to node permutations when W = α·I + β·11ᵀ; for the
    degree task W = I with ReLU gives y = row sums of A, the degrees.

    Args:
        activation: `act` (default ``"relu"``, the report's).
        sharing, sparsity: optional penalties on the kernel.
        kernel_initializer: initializer of W (default ``"glorot_uniform"``).

    Input shape:
        (N, n, n) adjacency matrices.
    Output shape:
        (N, n).
    Kernel shape:
        (n, n).
    """

    #: The symmetry this layer can discover (`symzoo.symmetry.groups.GROUPS`).
    symmetry_kind = "graph"

    def __init__(
        self,
        activation="relu",
        sharing=None,
        sparsity=None,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(sharing=sharing, sparsity=sparsity, **kwargs)
        self.activation = keras.activations.get(activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.input_spec = keras.layers.InputSpec(ndim=3)

    def build(self, input_shape):
        n, n2 = input_shape[-2], input_shape[-1]
        if n is None or n != n2:
            raise ValueError(
                "Expected square adjacency matrices of shape (N, n, n). "
                f"Received: input_shape={tuple(input_shape)}"
            )
        self._validate_penalties((n, n))
        self.kernel = self.add_weight(
            name="kernel", shape=(n, n), initializer=self.kernel_initializer
        )
        self.input_spec = keras.layers.InputSpec(ndim=3, axes={-2: n, -1: n})

    def call(self, inputs, training=None):
        kernel = self._penalized_kernel(training)
        a = ops.cast(inputs, kernel.dtype)
        return ops.sum(self.activation(ops.einsum("bil,lj->bij", a, kernel)), axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1])

    def get_config(self):
        return {
            **super().get_config(),
            "activation": keras.activations.serialize(self.activation),
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            **self.penalty_config(),
        }
