"""Convolutional baselines (translation equivariance built in, not discovered).

Defaults live in `DEFAULTS`, and only there.
"""

import keras

from symzoo import _validation
from symzoo.models import registry
from symzoo.models.symzoo_model import SymzooModel

#: The defaults of every constructor (hyperparameters and Adam learning rate).
DEFAULTS = {
    "cnn1d": {"filters": 16, "kernel_size": 3, "learning_rate": 1e-3},
    "cnn2d": {"filters": 16, "kernel_size": 3, "learning_rate": 1e-3},
    "mnist_cnn": {"filters": (32, 64, 64), "kernel_size": 3, "learning_rate": 1e-3},
}


def _small_cnn(name, input_shape, num_classes):
    conv = keras.layers.Conv1D if len(input_shape) == 1 else keras.layers.Conv2D
    pool = (
        keras.layers.GlobalMaxPooling1D
        if len(input_shape) == 1
        else keras.layers.GlobalMaxPooling2D
    )

    def architecture(filters, kernel_size):
        filters = _validation.positive_int("filters", filters)
        kernel_size = _validation.positive_int("kernel_size", kernel_size)
        inputs = keras.Input(shape=input_shape, name="image")
        x = keras.layers.Reshape((*input_shape, 1), name="add_channel")(inputs)
        x = conv(filters, kernel_size, padding="same", activation="relu", name="conv")(x)
        x = pool(name="global_max_pool")(x)
        outputs = keras.layers.Dense(num_classes, activation="softmax", name="classifier")(x)
        return SymzooModel(inputs, outputs, name=name)

    return architecture


def _mnist_cnn_architecture(filters, kernel_size):
    filters = _validation.int_tuple("filters", filters, length=3)
    if min(filters) <= 0:
        raise ValueError(
            f"Expected `filters` to be three positive integers. Received: filters={filters!r}"
        )
    kernel_size = _validation.positive_int("kernel_size", kernel_size)
    inputs = keras.Input(shape=(56, 56), name="image")
    x = keras.layers.Reshape((56, 56, 1), name="add_channel")(inputs)
    x = keras.layers.Conv2D(filters[0], kernel_size, activation="relu", name="conv_1")(x)
    x = keras.layers.MaxPooling2D(name="pool_1")(x)
    x = keras.layers.Conv2D(filters[1], kernel_size, activation="relu", name="conv_2")(x)
    x = keras.layers.MaxPooling2D(name="pool_2")(x)
    x = keras.layers.Conv2D(filters[2], kernel_size, activation="relu", name="conv_3")(x)
    x = keras.layers.GlobalMaxPooling2D(name="global_max_pool")(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="classifier")(x)
    return SymzooModel(inputs, outputs, name="mnist_cnn")


def cnn1d(weights=None, compile=True, learning_rate=None, seed=None, **hyperparameters):
    """1D CNN baseline for Blob1D (5 classes).

    Input ``(N, 10)`` → reshape ``(N, 10, 1)`` → Conv1D(filters, kernel_size,
    "same", relu) → global max pooling → Dense(5, softmax) → ``(N, 5)``.
    Compiled with Adam, ``sparse_categorical_crossentropy`` and
    ``["accuracy"]``. The report: test accuracy 0.65.

    Args:
        weights: None, ``"pretrained"`` (``saved_models/cnn1d/``) or a path to
            a ``.keras`` / ``.weights.h5`` file.
        compile: compile the model (default True).
        learning_rate: Adam's learning rate (default {learning_rate}).
        seed: optional integer for reproducible initial weights.
        filters: convolution filters (default {filters}).
        kernel_size: convolution width (default {kernel_size}).

    Returns:
        A `SymzooModel` named ``"cnn1d"``.
    """
    return registry.build_model(
        "cnn1d",
        DEFAULTS["cnn1d"],
        _small_cnn("cnn1d", (10,), 5),
        weights=weights,
        compile=compile,
        learning_rate=learning_rate,
        seed=seed,
        hyperparameters=hyperparameters,
    )


def cnn2d(weights=None, compile=True, learning_rate=None, seed=None, **hyperparameters):
    """2D CNN baseline for Blob2D (3 classes).

    Input ``(N, 10, 10)`` → reshape ``(N, 10, 10, 1)`` → Conv2D(filters,
    kernel_size, "same", relu) → global max pooling → Dense(3, softmax) →
    ``(N, 3)``. Compiled with Adam, ``sparse_categorical_crossentropy`` and
    ``["accuracy"]``. The report gives no figure.

    Args:
        weights: None, ``"pretrained"`` (``saved_models/cnn2d/``) or a path to
            a ``.keras`` / ``.weights.h5`` file.
        compile: compile the model (default True).
        learning_rate: Adam's learning rate (default {learning_rate}).
        seed: optional integer for reproducible initial weights.
        filters: convolution filters (default {filters}).
        kernel_size: convolution size (default {kernel_size}).

    Returns:
        A `SymzooModel` named ``"cnn2d"``.
    """
    return registry.build_model(
        "cnn2d",
        DEFAULTS["cnn2d"],
        _small_cnn("cnn2d", (10, 10), 3),
        weights=weights,
        compile=compile,
        learning_rate=learning_rate,
        seed=seed,
        hyperparameters=hyperparameters,
    )


def mnist_cnn(weights=None, compile=True, learning_rate=None, seed=None, **hyperparameters):
    """Translation-invariant CNN baseline for padded MNIST (10 classes).

    Input ``(N, 56, 56)`` → reshape ``(N, 56, 56, 1)`` → Conv2D(32, 3, relu)
    → MaxPool → Conv2D(64, 3, relu) → MaxPool → Conv2D(64, 3, relu) → global
    max pooling → Dense(10, softmax) → ``(N, 10)``. Compiled with Adam,
    ``sparse_categorical_crossentropy`` and ``["accuracy"]``. The report: test
    accuracy 0.8804.

    Args:
        weights: None, ``"pretrained"`` (``saved_models/mnist_cnn/``) or a path
            to a ``.keras`` / ``.weights.h5`` file.
        compile: compile the model (default True).
        learning_rate: Adam's learning rate (default {learning_rate}).
        seed: optional integer for reproducible initial weights.
        filters: the three convolutions' filters (default {filters}).
        kernel_size: convolution size (default {kernel_size}).

    Returns:
        A `SymzooModel` named ``"mnist_cnn"``.
    """
    return registry.build_model(
        "mnist_cnn",
        DEFAULTS["mnist_cnn"],
        _mnist_cnn_architecture,
        weights=weights,
        compile=compile,
        learning_rate=learning_rate,
        seed=seed,
        hyperparameters=hyperparameters,
    )


for _fn in (cnn1d, cnn2d, mnist_cnn):
    registry.format_docstring(_fn, DEFAULTS[_fn.__name__])

for _name, _fn, _dataset, _epochs, _value, _in, _out, _description in (
    ("cnn1d", cnn1d, "blob1d", 20, 0.65, (10,), (5,), "Blob1D: 1D CNN baseline."),
    ("cnn2d", cnn2d, "blob2d", 10, None, (10, 10), (3,), "Blob2D: 2D CNN baseline."),
    (
        "mnist_cnn",
        mnist_cnn,
        "padded_mnist",
        3,
        0.8804,
        (56, 56),
        (10,),
        "Padded MNIST 56x56: translation-invariant CNN baseline.",
    ),
):
    registry.register(
        registry.ModelSpec(
            name=_name,
            builder=_fn,
            dataset=_dataset,
            task="classification",
            epochs=_epochs,
            batch_size=128,
            learning_rate=DEFAULTS[_name]["learning_rate"],
            report_metric="test_accuracy",
            report_value=_value,
            description=_description,
            input_shape=_in,
            output_shape=_out,
            hyperparameters={k: v for k, v in DEFAULTS[_name].items() if k != "learning_rate"},
        )
    )
del _name, _fn, _dataset, _epochs, _value, _in, _out, _description

__all__ = ["DEFAULTS", "cnn1d", "cnn2d", "mnist_cnn"]
