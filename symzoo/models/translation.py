"""Translation-discovery classifiers: one `ClassTranslationDense` + softmax.

``blob1d_translation``, ``blob2d_translation`` and ``mnist_translation`` are
thin constructors over one private builder. The hyperparameter defaults (the
report's settings) live in `DEFAULTS`, and only there.
"""

import keras

from symzoo import _validation
from symzoo.layers import ClassTranslationDense
from symzoo.models import registry
from symzoo.models.symzoo_model import SymzooModel
from symzoo.regularizers import L1Sparsity, OffsetSharing, OrbitSharing

#: ``sharing_form`` value that selects `OrbitSharing` instead of `OffsetSharing`.
ORBIT_FORM = "orbit"

#: The defaults of every constructor (hyperparameters and Adam learning rate).
DEFAULTS = {
    "blob1d_translation": {
        "activation": "elu",
        "lam": 1e-2,
        "offsets": (1, 1),
        "strides": 1,
        "l1": 0.0,
        "reduction": None,
        "sharing_form": "diagonal",
        "learning_rate": 1e-2,
    },
    "blob2d_translation": {
        "activation": "elu",
        "lam": 1e-2,
        "offsets": (1, 1),
        "strides": 1,
        "l1": 0.0,
        "reduction": None,
        "sharing_form": "diagonal",
        "learning_rate": 1e-2,
    },
    "mnist_translation": {
        # ReLU and Adam(5e-2): best of the probes in benchmarks/penalty_reduction.py
        # (ELU/sigmoid/linear at 1e-3..2e-1 learned slower on CPU-sized budgets).
        "activation": "relu",
        "lam": 1e-4,
        "offsets": (16, 4),
        "strides": 2,
        "l1": 0.0,
        "reduction": None,
        "sharing_form": "diagonal",
        "learning_rate": 5e-2,
    },
}

_SHAPES = {
    # name: (input shape, number of classes)
    "blob1d_translation": ((10,), 5),
    "blob2d_translation": ((10, 10), 3),
    "mnist_translation": ((56, 56), 10),
}


def _architecture(name):
    input_shape, num_classes = _SHAPES[name]

    def architecture(activation, lam, offsets, strides, l1, reduction, sharing_form):
        lam = _validation.non_negative_float("lam", lam)
        l1 = _validation.non_negative_float("l1", l1)
        if sharing_form == ORBIT_FORM:
            # OffsetSharing checks the offsets (unused by OrbitSharing) all the same.
            OffsetSharing(0.0, offsets, reduction)
            sharing = OrbitSharing(lam, reduction) if lam > 0 else None
        else:
            sharing = (
                OffsetSharing(lam, offsets, reduction, form=sharing_form)
                if lam > 0
                else None
            )
            if lam == 0:
                # Still validate the arguments that are unused without sharing.
                OffsetSharing(0.0, offsets, reduction, form=sharing_form)
        sparsity = L1Sparsity(l1) if l1 > 0 else None
        inputs = keras.Input(shape=input_shape, name="image")
        scores = ClassTranslationDense(
            num_classes,
            strides=strides,
            activation=activation,
            sharing=sharing,
            sparsity=sparsity,
            name="class_translation_dense",
        )(inputs)
        # float32 probabilities also under mixed precision.
        outputs = keras.layers.Softmax(name="softmax", dtype="float32")(scores)
        return SymzooModel(inputs, outputs, name=name)

    return architecture


_DOC = """{summary}

    Input ``{input_shape}`` float32 images in [0, 1] → `ClassTranslationDense`
    ({num_classes} classes, one full-image template per class and translation)
    → softmax → ``(N, {num_classes})`` class probabilities. Compiled with Adam,
    ``sparse_categorical_crossentropy`` and ``["accuracy"]``.

    {extra}

    Args:
        weights: None (random init), ``"pretrained"`` (``saved_models/{name}/``,
            sha256-checked) or a path to a ``.keras`` / ``.weights.h5`` file.
        compile: compile the model (default True).
        learning_rate: Adam's learning rate (default {{learning_rate}}).
        seed: optional integer for reproducible initial weights.
        activation: the layer's activation (default {{activation}}).
        lam: λ of the `OffsetSharing` penalty (default {{lam}}); 0 disables it.
        offsets: ``(b, b')`` shifts of the translation / pixel axes (default
            {{offsets}}); 0 ≤ b < number of translations, 0 ≤ b' < input size.
        strides: translation stride s; the input size must be divisible by it
            (default {{strides}}).
        l1: α of an `L1Sparsity` penalty (default {{l1}}); 0 disables it.
        reduction: the sharing penalty's reduction, ``"mean"``, ``"sum"`` or
            None for `OffsetSharing`'s default (``"mean"``) (default
            {{reduction}}).
        sharing_form: ``"diagonal"`` (the report's penalty: both translation
            axes shifted together) or ``"complete"`` (one generator per axis:
            ties the whole 2D translation group, so a large λ makes the kernel
            a convolution); see `OffsetSharing` (default {{sharing_form}}).
            ``"orbit"`` uses `OrbitSharing` instead: λ/2·‖W − PW‖², the squared
            distance to the convolutions, trained by exact proximal steps after
            each optimizer update (τ = learning rate × λ; ``offsets`` unused,
            ``reduction`` None means its ``"sum"``).

        dtype_policy: None (Keras' global policy), ``"float32"`` or
            ``"mixed_bfloat16"`` (bfloat16 matmul; float32 kernel, penalties
            and probabilities).
        penalty_mode: ``"gradient"`` (default: analytic penalty gradients,
            fast) or ``"add_loss"`` (autodiff of the penalties; same
            trajectory); see `symzoo.layers.PenalizedLayer`.

    Returns:
        A `SymzooModel` named ``"{name}"``; penalties are logged as
        ``offset_sharing`` / ``l1_sparsity``.
    """


def _doc(name, summary, extra=""):
    input_shape, num_classes = _SHAPES[name]
    text = _DOC.format(
        summary=summary,
        input_shape="(N, " + ", ".join(map(str, input_shape)) + ")",
        num_classes=num_classes,
        name=name,
        extra=extra,
    )
    return text.format(**{k: repr(v) for k, v in DEFAULTS[name].items()})


def blob1d_translation(
    weights=None, compile=True, learning_rate=None, seed=None, **hyperparameters
):
    return registry.build_model(
        "blob1d_translation",
        DEFAULTS["blob1d_translation"],
        _architecture("blob1d_translation"),
        weights=weights,
        compile=compile,
        learning_rate=learning_rate,
        seed=seed,
        hyperparameters=hyperparameters,
    )


def blob2d_translation(
    weights=None, compile=True, learning_rate=None, seed=None, **hyperparameters
):
    return registry.build_model(
        "blob2d_translation",
        DEFAULTS["blob2d_translation"],
        _architecture("blob2d_translation"),
        weights=weights,
        compile=compile,
        learning_rate=learning_rate,
        seed=seed,
        hyperparameters=hyperparameters,
    )


def mnist_translation(
    weights=None, compile=True, learning_rate=None, seed=None, **hyperparameters
):
    return registry.build_model(
        "mnist_translation",
        DEFAULTS["mnist_translation"],
        _architecture("mnist_translation"),
        weights=weights,
        compile=compile,
        learning_rate=learning_rate,
        seed=seed,
        hyperparameters=hyperparameters,
    )


blob1d_translation.__doc__ = _doc(
    "blob1d_translation",
    "Blob1D classifier that discovers cyclic translation invariance (5 classes).",
    "Kernel (5, 10/s, 10). The report: ELU test accuracy 0.783.",
)
blob2d_translation.__doc__ = _doc(
    "blob2d_translation",
    "Blob2D classifier that discovers 2D cyclic translation invariance (3 classes).",
    "Kernel (3, 10/s, 10/s, 10, 10). The report: test accuracy 1.0.",
)
mnist_translation.__doc__ = _doc(
    "mnist_translation",
    "Padded-MNIST classifier that discovers translation invariance (10 classes).",
    "Kernel (10, 28, 28, 56, 56) with s=2: 24,586,240 weights (~100 MB).\n"
    "    The report: test accuracy 0.8368 with offsets (16, 4).",
)

_COMMON = dict(task="classification", report_metric="test_accuracy")

registry.register(
    registry.ModelSpec(
        name="blob1d_translation",
        builder=blob1d_translation,
        dataset="blob1d",
        epochs=20,
        batch_size=128,
        learning_rate=DEFAULTS["blob1d_translation"]["learning_rate"],
        report_value=0.783,
        description="Blob1D: ClassTranslationDense + OffsetSharing (ELU).",
        input_shape=(10,),
        output_shape=(5,),
        hyperparameters={
            k: v for k, v in DEFAULTS["blob1d_translation"].items() if k != "learning_rate"
        },
        **_COMMON,
    )
)
registry.register(
    registry.ModelSpec(
        name="blob2d_translation",
        builder=blob2d_translation,
        dataset="blob2d",
        epochs=10,
        batch_size=128,
        learning_rate=DEFAULTS["blob2d_translation"]["learning_rate"],
        report_value=1.0,
        description="Blob2D: ClassTranslationDense + OffsetSharing (ELU).",
        input_shape=(10, 10),
        output_shape=(3,),
        hyperparameters={
            k: v for k, v in DEFAULTS["blob2d_translation"].items() if k != "learning_rate"
        },
        **_COMMON,
    )
)
registry.register(
    registry.ModelSpec(
        name="mnist_translation",
        builder=mnist_translation,
        dataset="padded_mnist",
        epochs=3,
        batch_size=128,
        learning_rate=DEFAULTS["mnist_translation"]["learning_rate"],
        report_value=0.8368,
        description="Padded MNIST 56x56: ClassTranslationDense (stride 2) + OffsetSharing (16, 4).",
        input_shape=(56, 56),
        output_shape=(10,),
        hyperparameters={
            k: v for k, v in DEFAULTS["mnist_translation"].items() if k != "learning_rate"
        },
        **_COMMON,
    )
)

__all__ = ["DEFAULTS", "blob1d_translation", "blob2d_translation", "mnist_translation"]
