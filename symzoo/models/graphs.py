"""Node-degree regressors: the symmetry-discovery `GraphRowSum`, GCN and GIN.

Every model maps adjacency matrices ``(N, 10, 10)`` to node degrees
``(N, 10)``. GCN and GIN have no node features in the data: the constant
feature x = 1 per node is computed inside the model (`NodeOnes`). Their graph
layers (`NormalizedAdjacency`, `GraphConv`, `GINConv`) use ``keras.ops`` only
and are registered serializable. Defaults live in `DEFAULTS`, and only there.
"""

import keras
from keras import ops

from symzoo import _validation
from symzoo.layers import GraphRowSum
from symzoo.models import registry
from symzoo.models.symzoo_model import SymzooModel

NUM_NODES = 10

#: The defaults of every constructor (hyperparameters and Adam learning rate).
DEFAULTS = {
    "graph_degree": {
        "activation": "relu",
        "sharing": None,
        "sparsity": None,
        "learning_rate": 1e-2,
    },
    "gcn": {
        "hidden": 10,
        "learning_rate": 1e-2,
    },
    "gin": {
        "hidden": 32,
        "learning_rate": 1e-2,
    },
}


def _static_nodes(shape, who):
    n, n2 = shape[-2], shape[-1]
    if len(shape) != 3 or (n is not None and n2 is not None and n != n2):
        raise ValueError(
            f"Expected {who} to receive square adjacency matrices of shape (N, n, n). "
            f"Received: input_shape={tuple(shape)}"
        )
    return n


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


@keras.saving.register_keras_serializable(package="symzoo")
class GraphConv(keras.layers.Layer):
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
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2:
            raise ValueError(
                "Expected GraphConv to be called on [adjacency, features]. "
                f"Received: input_shape={input_shape!r}"
            )
        a_shape, x_shape = input_shape
        _static_nodes(a_shape, "GraphConv")
        features = x_shape[-1]
        if features is None:
            raise ValueError(
                "Expected node features with a known last dimension. "
                f"Received: features shape {tuple(x_shape)}"
            )
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

    def compute_output_shape(self, input_shape):
        _, x_shape = input_shape
        return (*tuple(x_shape[:-1]), self.units)

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
class GINConv(keras.layers.Layer):
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
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2:
            raise ValueError(
                "Expected GINConv to be called on [adjacency, features]. "
                f"Received: input_shape={input_shape!r}"
            )
        a_shape, x_shape = input_shape
        _static_nodes(a_shape, "GINConv")
        features = x_shape[-1]
        if features is None:
            raise ValueError(
                "Expected node features with a known last dimension. "
                f"Received: features shape {tuple(x_shape)}"
            )
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

    def compute_output_shape(self, input_shape):
        _, x_shape = input_shape
        return (*tuple(x_shape[:-1]), self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": keras.activations.serialize(self.activation),
            "epsilon": self.initial_epsilon,
            "train_epsilon": self.train_epsilon,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }


def _graph_degree_architecture(activation, sharing, sparsity):
    inputs = keras.Input(shape=(NUM_NODES, NUM_NODES), name="adjacency")
    outputs = GraphRowSum(
        activation=activation, sharing=sharing, sparsity=sparsity, name="graph_row_sum"
    )(inputs)
    return SymzooModel(inputs, outputs, name="graph_degree")


def _gcn_architecture(hidden):
    hidden = _validation.positive_int("hidden", hidden)
    adjacency = keras.Input(shape=(NUM_NODES, NUM_NODES), name="adjacency")
    a_hat = NormalizedAdjacency(name="normalized_adjacency")(adjacency)
    x = NodeOnes(name="node_ones")(adjacency)
    h = GraphConv(hidden, activation="relu", name="graph_conv_1")([a_hat, x])
    h = GraphConv(1, name="graph_conv_2")([a_hat, h])
    outputs = keras.layers.Reshape((NUM_NODES,), name="degrees")(h)
    return SymzooModel(adjacency, outputs, name="gcn")


def _gin_architecture(hidden):
    hidden = _validation.positive_int("hidden", hidden)
    adjacency = keras.Input(shape=(NUM_NODES, NUM_NODES), name="adjacency")
    x = NodeOnes(name="node_ones")(adjacency)
    h = GINConv(hidden, name="gin_conv_1")([adjacency, x])
    h = GINConv(hidden, name="gin_conv_2")([adjacency, h])
    h = keras.layers.Dense(1, name="head")(h)
    outputs = keras.layers.Reshape((NUM_NODES,), name="degrees")(h)
    return SymzooModel(adjacency, outputs, name="gin")


def graph_degree(weights=None, compile=True, learning_rate=None, seed=None, **hyperparameters):
    """Node-degree regressor that discovers permutation equivariance.

    Input ``(N, 10, 10)`` adjacency → `GraphRowSum` (y_i = Σ_j act((A·W)_ij)
    with one 10×10 kernel) → ``(N, 10)`` degrees. Compiled with Adam, loss
    ``"mse"`` and `NodeDegreeAccuracy` (logged as ``node_accuracy``). The
    report: node accuracy 1.0.

    Args:
        weights: None, ``"pretrained"`` (``saved_models/graph_degree/``) or a
            path to a ``.keras`` / ``.weights.h5`` file.
        compile: compile the model (default True).
        learning_rate: Adam's learning rate (default {learning_rate}).
        seed: optional integer for reproducible initial weights.
        activation: the layer's activation (default {activation}).
        sharing: optional sharing penalty on the kernel (default {sharing}).
        sparsity: optional sparsity penalty on the kernel (default {sparsity}).

    Returns:
        A `SymzooModel` named ``"graph_degree"``.
    """
    return registry.build_model(
        "graph_degree",
        DEFAULTS["graph_degree"],
        _graph_degree_architecture,
        weights=weights,
        compile=compile,
        learning_rate=learning_rate,
        seed=seed,
        hyperparameters=hyperparameters,
    )


def gcn(weights=None, compile=True, learning_rate=None, seed=None, **hyperparameters):
    """Two-layer graph convolutional network baseline (1 → hidden → 1 features).

    Input ``(N, 10, 10)`` adjacency A; node features X = 1 ``(N, 10, 1)``;
    Â = D^{-1/2}(A + I)D^{-1/2}; H = relu(Â X W1 + b1); output Â H W2 + b2
    squeezed to ``(N, 10)``. Compiled with Adam, loss ``"mse"`` and
    `NodeDegreeAccuracy`. The report: node accuracy 0.5769; ours is in
    ``models/gcn/`` beside a constant prediction's (degrees are about uniform
    on 0..9, so a constant scores about one in ten).

    What it can represent: with x = 1, the first aggregation gives node i
    s_i = (Â·1)_i = Σ_{j ∈ N(i) ∪ {i}} 1/sqrt(d̂_i d̂_j) (d̂ = degree + 1), a
    ratio of the node's degree to its neighbours' (≈ 1 when they are alike),
    not the degree itself; the output is Σ_j Â_ij g(s_j) + b2 with g
    piecewise linear. On every regular graph s = 1 at every node, so the
    empty graph and the complete graph (degree 0 and 9) get the same
    prediction (tested): the degree is only partly determined and the model
    learns little beyond the mean. Training longer or at other rates does not
    change this (``models/gcn/tuning_study.md``).

    The implementation is the standard one (Kipf & Welling; its forward pass
    is tested against numpy). Other readings of the report's baseline are
    different models: sum aggregation (A + I)·H with x = 1, or degree
    features x = deg, can represent the degree exactly (GIN, `gin`, is the
    sum-aggregation one); mean aggregation D̂^{-1}(A + I) with x = 1 can only
    output a constant. We could not tell which reading gave the report's
    0.5769 and keep the standard GCN.

    Args:
        weights: None, ``"pretrained"`` (``saved_models/gcn/``) or a path to a
            ``.keras`` / ``.weights.h5`` file.
        compile: compile the model (default True).
        learning_rate: Adam's learning rate (default {learning_rate}).
        seed: optional integer for reproducible initial weights.
        hidden: hidden features per node (default {hidden}).

    Returns:
        A `SymzooModel` named ``"gcn"``.
    """
    return registry.build_model(
        "gcn",
        DEFAULTS["gcn"],
        _gcn_architecture,
        weights=weights,
        compile=compile,
        learning_rate=learning_rate,
        seed=seed,
        hyperparameters=hyperparameters,
    )


def gin(weights=None, compile=True, learning_rate=None, seed=None, **hyperparameters):
    """Graph isomorphism network baseline (sum aggregation, GIN-ε).

    Input ``(N, 10, 10)`` adjacency A; node features x = 1; two `GINConv`
    layers h' = MLP((1 + ε)·h + A·h) with two-layer ReLU MLPs of width
    ``hidden``; a linear per-node head → ``(N, 10)``. Compiled with Adam, loss
    ``"mse"`` and `NodeDegreeAccuracy`. Sum aggregation can count neighbours
    exactly. The report gives no figure.

    Args:
        weights: None, ``"pretrained"`` (``saved_models/gin/``) or a path to a
            ``.keras`` / ``.weights.h5`` file.
        compile: compile the model (default True).
        learning_rate: Adam's learning rate (default {learning_rate}).
        seed: optional integer for reproducible initial weights.
        hidden: width of the GIN MLPs (default {hidden}).

    Returns:
        A `SymzooModel` named ``"gin"``.
    """
    return registry.build_model(
        "gin",
        DEFAULTS["gin"],
        _gin_architecture,
        weights=weights,
        compile=compile,
        learning_rate=learning_rate,
        seed=seed,
        hyperparameters=hyperparameters,
    )


for _fn in (graph_degree, gcn, gin):
    registry.format_docstring(_fn, DEFAULTS[_fn.__name__])

_COMMON = dict(
    dataset="graph_degree",
    task="node_regression",
    epochs=20,
    batch_size=128,
    report_metric="test_node_accuracy",
    input_shape=(NUM_NODES, NUM_NODES),
    output_shape=(NUM_NODES,),
)
for _name, _fn, _value, _description in (
    ("graph_degree", graph_degree, 1.0, "Node degrees: GraphRowSum (one 10x10 kernel, ReLU)."),
    ("gcn", gcn, 0.5769, "Node degrees: two-layer GCN baseline (1 -> 10 -> 1)."),
    ("gin", gin, None, "Node degrees: two-layer GIN baseline (sum aggregation)."),
):
    registry.register(
        registry.ModelSpec(
            name=_name,
            builder=_fn,
            learning_rate=DEFAULTS[_name]["learning_rate"],
            report_value=_value,
            description=_description,
            hyperparameters={k: v for k, v in DEFAULTS[_name].items() if k != "learning_rate"},
            **_COMMON,
        )
    )
del _name, _fn, _value, _description

__all__ = [
    "DEFAULTS",
    "GINConv",
    "GraphConv",
    "NodeOnes",
    "NormalizedAdjacency",
    "gcn",
    "gin",
    "graph_degree",
]
