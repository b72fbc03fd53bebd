"""Graph layers of the GCN and GIN baselines (node-degree task).

`NodeOnes` (the constant node feature x = 1), `NormalizedAdjacency`
(Â = D^{-1/2}(A + I)D^{-1/2}), `GraphConv` (Kipf & Welling) and `GINConv`
(Xu et al.), in ``keras.ops`` only.
"""

import keras
from keras import ops

from symzoo import _validation


def _static_nodes(shape, who):
    n, n2 = shape[-2], shape[-1]
    if len(shape) != 3 or (n is not None and n2 is not None and n != n2):
        raise ValueError(
            f"Expected {who} to receive square adjacency matrices of shape (N, n, n). "
            f"Received: input_shape={tuple(shape)}"
        )
    return n


def _node_features(input_shape, who):
    """The number of node features F of a ``[adjacency (N, n, n), features
    (N, n, F)]`` input, checked."""
    if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2:
        raise ValueError(
            f"Expected {who} to be called on [adjacency, features]. "
            f"Received: input_shape={input_shape!r}"
        )
    a_shape, x_shape = input_shape
    _static_nodes(a_shape, who)
    features = x_shape[-1]
    if features is None:
        raise ValueError(
            "Expected node features with a known last dimension. "
            f"Received: features shape {tuple(x_shape)}"
        )
    return features


@keras.saving.register_keras_serializable(package="symzoo")
class NodeOnes(keras.layers.Layer):
    """The constant node features x = 1 of a batch of graphs.

    Input shape: (N, n, n) adjacency. Output shape: (N, n, 1) ones.
    """

    def call(self, adjacency):
        a = ops.cast(adjacency, self.compute_dtype)
        return ops.ones_like(a[..., :1])

    def compute_output_shape(self, input_shape):
        _static_nodes(input_shape, "NodeOnes")
        return (input_shape[0], input_shape[1], 1)


@keras.saving.register_keras_serializable(package="symzoo")
class NormalizedAdjacency(keras.layers.Layer):
    """Â = D^{-1/2} (A + I) D^{-1/2}, with D the degree matrix of A + I.

    Args:
        self_loops: add I before normalising (default True, Kipf & Welling).

    Input shape: (N, n, n). Output shape: (N, n, n).
    """

    def __init__(self, self_loops=True, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(self_loops, bool):
            raise ValueError(
                f"Expected `self_loops` to be True or False. Received: self_loops={self_loops!r}"
            )
        self.self_loops = self_loops

    def call(self, adjacency):
        a = ops.cast(adjacency, self.compute_dtype)
        if self.self_loops:
            n = a.shape[-1] if a.shape[-1] is not None else ops.shape(a)[-1]
            a = a + ops.eye(n, dtype=a.dtype)
        degree = ops.sum(a, axis=-1)
        inv_sqrt = ops.where(
            degree > 0, ops.rsqrt(ops.maximum(degree, 1e-12)), ops.zeros_like(degree)
        )
        return a * ops.expand_dims(inv_sqrt, -1) * ops.expand_dims(inv_sqrt, -2)

    def compute_output_shape(self, input_shape):
        _static_nodes(input_shape, "NormalizedAdjacency")
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "self_loops": self.self_loops}


class _NodeFeatureLayer(keras.layers.Layer):
    """Base of the layers called on ``[adjacency, features]`` that output
    ``units`` features per node: (N, n, F) → (N, n, units)."""

    def compute_output_shape(self, input_shape):
        _, x_shape = input_shape
        return (*tuple(x_shape[:-1]), self.units)


@keras.saving.register_keras_serializable(package="symzoo")
class GraphConv(_NodeFeatureLayer):
    """Graph convolution (Kipf & Welling): ``act(Â · X · W + b)``.

    Call it on ``[a_hat, x]``: the (normalised) adjacency (N, n, n) and the
    node features (N, n, F). Output: (N, n, units).

    Args:
        units: output features per node.
        activation: activation (default None: linear).
        use_bias: add a bias (default True).
        kernel_initializer, bias_initializer: initializers of W and b.
    """

    def __init__(
        self,
        units,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = _validation.positive_int("units", units)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        features = _node_features(input_shape, "GraphConv")
        self.kernel = self.add_weight(
            name="kernel", shape=(features, self.units), initializer=self.kernel_initializer
        )
        self.bias = (
            self.add_weight(name="bias", shape=(self.units,), initializer=self.bias_initializer)
            if self.use_bias
            else None
        )

    def call(self, inputs):
        a, x = inputs
        a = ops.cast(a, self.compute_dtype)
        x = ops.cast(x, self.compute_dtype)
        h = ops.matmul(ops.matmul(a, x), self.kernel)
        if self.bias is not None:
            h = h + self.bias
        return self.activation(h)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }


@keras.saving.register_keras_serializable(package="symzoo")
class GINConv(_NodeFeatureLayer):
    """Graph isomorphism network layer (Xu et al.) with sum aggregation.

        h_i' = MLP( (1 + ε) · h_i + Σ_{j ∈ N(i)} h_j ),   Σ_j h_j = (A · H)_i

    with a two-layer MLP ``Dense(units, act) → Dense(units, act)``. Call it on
    ``[adjacency, features]`` ((N, n, n), (N, n, F)) with the raw 0/1
    adjacency. Output: (N, n, units).

    Args:
        units: width of both MLP layers.
        activation: the MLP's activation (default ``"relu"``).
        epsilon: initial ε (default 0).
        train_epsilon: learn ε (GIN-ε, default True) or keep it fixed (GIN-0).
        kernel_initializer: initializer of the MLP kernels (biases start at 0).
    """

    def __init__(
        self,
        units,
        activation="relu",
        epsilon=0.0,
        train_epsilon=True,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = _validation.positive_int("units", units)
        self.activation = keras.activations.get(activation)
        if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)):
            raise ValueError(f"Expected `epsilon` to be a number. Received: epsilon={epsilon!r}")
        self.initial_epsilon = float(epsilon)
        self.train_epsilon = bool(train_epsilon)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        features = _node_features(input_shape, "GINConv")
        self.epsilon = self.add_weight(
            name="epsilon",
            shape=(),
            initializer=keras.initializers.Constant(self.initial_epsilon),
            trainable=self.train_epsilon,
        )
        self.kernel_1 = self.add_weight(
            name="kernel_1", shape=(features, self.units), initializer=self.kernel_initializer
        )
        self.bias_1 = self.add_weight(name="bias_1", shape=(self.units,), initializer="zeros")
        self.kernel_2 = self.add_weight(
            name="kernel_2", shape=(self.units, self.units), initializer=self.kernel_initializer
        )
        self.bias_2 = self.add_weight(name="bias_2", shape=(self.units,), initializer="zeros")

    def call(self, inputs):
        a, x = inputs
        a = ops.cast(a, self.compute_dtype)
        x = ops.cast(x, self.compute_dtype)
        h = (1.0 + self.epsilon) * x + ops.matmul(a, x)
        h = self.activation(ops.matmul(h, self.kernel_1) + self.bias_1)
        return self.activation(ops.matmul(h, self.kernel_2) + self.bias_2)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": keras.activations.serialize(self.activation),
            "epsilon": self.initial_epsilon,
            "train_epsilon": self.train_epsilon,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }
