"""Torus-MNIST classifiers: a fully-connected model that can discover a circular
convolution (all-pairs sharing, exact proximal steps) and the circular CNN itself.

Both read ``(N, 14, 14)`` images in [0, 1] (`symzoo.datasets.torus_mnist`) and
return class probabilities ``(N, 10)``. Defaults live in `DEFAULTS`, and only
there.
"""

import keras

from symzoo import _validation
from symzoo.layers import CircularConv2D, PositionChannelDense
from symzoo.models import registry
from symzoo.models.symzoo_model import SymzooModel
from symzoo.regularizers import PairwiseSharing

SIDE = 14
PIXELS = SIDE * SIDE

#: The defaults of every constructor (hyperparameters and Adam learning rate).
DEFAULTS = {
    "torus_mnist_fc": {
        "channels": 16,
        # λ of the shipped model (symzoo/discovery.py, torus tasks).
        "lam": 1e-9,
        "prox": True,
        "learning_rate": 1e-2,
    },
    "torus_mnist_cnn": {
        "filters": 16,
        "kernel_size": SIDE,
        "learning_rate": 1e-2,
    },
}


def _fc_architecture(channels, lam, prox):
    channels = _validation.positive_int("channels", channels)
    lam = _validation.non_negative_float("lam", lam)
    prox = _validation.boolean("prox", prox)
    sharing = PairwiseSharing(lam, prox=prox) if lam > 0 else None
    inputs = keras.Input(shape=(SIDE, SIDE), name="image")
    x = PositionChannelDense(PIXELS, channels, sharing=sharing, name="position_dense")(inputs)
    x = keras.layers.ReLU(name="relu")(x)
    x = keras.layers.GlobalAveragePooling1D(name="mean_over_positions")(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="classifier")(x)
    return SymzooModel(inputs, outputs, name="torus_mnist_fc")


def _cnn_architecture(filters, kernel_size):
    filters = _validation.positive_int("filters", filters)
    kernel_size = _validation.positive_int("kernel_size", kernel_size)
    if kernel_size > SIDE:
        raise ValueError(
            f"Expected `kernel_size` ≤ {SIDE}. Received: kernel_size={kernel_size!r}"
        )
    inputs = keras.Input(shape=(SIDE, SIDE), name="image")
    x = keras.layers.Reshape((SIDE, SIDE, 1), name="add_channel")(inputs)
    x = CircularConv2D(filters, kernel_size, name="circular_conv")(x)
    x = keras.layers.ReLU(name="relu")(x)
    x = keras.layers.GlobalAveragePooling2D(name="mean_over_positions")(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="classifier")(x)
    return SymzooModel(inputs, outputs, name="torus_mnist_cnn")


def torus_mnist_fc(weights=None, compile=True, learning_rate=None, seed=None, **hyperparameters):
    """Fully-connected torus-MNIST classifier that discovers a circular convolution.

    Input ``(N, 14, 14)`` → `PositionChannelDense` (a dense kernel W of shape
    (196 pixels, 196 positions × F channels), per-channel bias) → ReLU → mean
    over the 196 positions → Dense(10, softmax) → ``(N, 10)``. Compiled with
    Adam, ``sparse_categorical_crossentropy`` and ``["accuracy"]``.

    With the ties W[q, t·F + f] = K[(q − t) mod (14, 14), f] (pixel q and
    position t as 2D coordinates on the 14×14 torus) the first layer *is* a
    circular convolution with F filters of size 14×14, and the model equals
    `torus_mnist_cnn` (``kernel_size=14``). Nothing builds those ties in: the
    all-pairs penalty λ·Σ_{j<k}|W_j − W_k| (`PairwiseSharing`), by default
    trained with exact proximal steps (``prox=True``, the
    `symzoo.regularizers.prox.PairwiseProx` callback that
    `symzoo.training.train` adds), merges weights into groups; the penalty is
    blind to pixel order, so shuffling the pixels changes nothing for it.

    Args:
        weights: None, ``"pretrained"`` (``saved_models/torus_mnist_fc/``) or
            a path to a ``.keras`` / ``.weights.h5`` file.
        compile: compile the model (default True).
        learning_rate: Adam's learning rate (default {learning_rate}).
        seed: optional integer for reproducible initial weights.
        channels: F (default {channels}).
        lam: λ of the all-pairs penalty (default {lam}); 0 disables it.
        prox: exact proximal steps (True) or the subgradient (False)
            (default {prox}).

    Returns:
        A `SymzooModel` named ``"torus_mnist_fc"``.
    """
    return registry.build_model(
        "torus_mnist_fc", DEFAULTS["torus_mnist_fc"], _fc_architecture,
        weights=weights, compile=compile, learning_rate=learning_rate, seed=seed,
        hyperparameters=hyperparameters,
    )


def torus_mnist_cnn(weights=None, compile=True, learning_rate=None, seed=None, **hyperparameters):
    """Circular CNN baseline for torus MNIST (translation equivariance built in).

    Input ``(N, 14, 14)`` → reshape ``(N, 14, 14, 1)`` → `CircularConv2D`
    (F filters of kernel_size², periodic padding) → ReLU → mean over positions
    → Dense(10, softmax) → ``(N, 10)``. With the default kernel_size 14 it is
    `torus_mnist_fc` with its kernel tied into a convolution (same function
    class, 196·F instead of 196²·F first-layer weights).

    Args:
        weights: None, ``"pretrained"`` (``saved_models/torus_mnist_cnn/``) or
            a path.
        compile: compile the model (default True).
        learning_rate: Adam's learning rate (default {learning_rate}).
        seed: optional integer for reproducible initial weights.
        filters: F (default {filters}).
        kernel_size: filter side, ≤ 14 (default {kernel_size}).

    Returns:
        A `SymzooModel` named ``"torus_mnist_cnn"``.
    """
    return registry.build_model(
        "torus_mnist_cnn", DEFAULTS["torus_mnist_cnn"], _cnn_architecture,
        weights=weights, compile=compile, learning_rate=learning_rate, seed=seed,
        hyperparameters=hyperparameters,
    )


registry.format_docstring(torus_mnist_fc, DEFAULTS["torus_mnist_fc"])
registry.format_docstring(torus_mnist_cnn, DEFAULTS["torus_mnist_cnn"])

for _name, _builder, _description in (
    ("torus_mnist_fc", torus_mnist_fc,
     "Torus MNIST 14x14: dense 196 -> 196x16 + all-pairs prox sharing, mean over positions."),
    ("torus_mnist_cnn", torus_mnist_cnn,
     "Torus MNIST 14x14: circular CNN (16 filters 14x14), mean over positions."),
):
    registry.register(
        registry.ModelSpec(
            name=_name,
            builder=_builder,
            dataset="torus_mnist",
            task="classification",
            epochs=4,
            batch_size=128,
            learning_rate=DEFAULTS[_name]["learning_rate"],
            report_metric="test_accuracy",
            report_value=None,
            description=_description,
            input_shape=(SIDE, SIDE),
            output_shape=(10,),
            hyperparameters={k: v for k, v in DEFAULTS[_name].items() if k != "learning_rate"},
        )
    )

__all__ = ["DEFAULTS", "torus_mnist_cnn", "torus_mnist_fc"]
