"""The zoo's registry: one `ModelSpec` per model, and the shared private builder.

Every zoo constructor is a thin function over `build_model` (the pattern of
``keras.applications``): it validates ``weights`` first, merges the
hyperparameters with the model's module-level ``DEFAULTS``, builds the
functional `SymzooModel`, loads weights and compiles it for its task.

The order of `NAMES` is the order of ``symzoo.models.list()``.
"""

import dataclasses
import numbers
import re
from typing import Callable, Optional

from symzoo import _validation

NAMES = (
    "set_sum",
    "deepsets",
    "blob1d_translation",
    "cnn1d",
    "blob2d_translation",
    "cnn2d",
    "mnist_translation",
    "mnist_cnn",
    "graph_degree",
    "gcn",
    "gin",
    "torus_mnist_fc",
    "torus_mnist_cnn",
)

TASKS = ("regression", "classification", "node_regression")

# Task -> (loss, metric names); node_regression metrics are built in `task_metrics`.
_TASK_LOSSES = {
    "regression": "mae",
    "classification": "sparse_categorical_crossentropy",
    "node_regression": "mse",
}

_REGISTRY = {}
#: Data sets of images (float32 in [0, 1]); their models check `IMAGE_RANGE`.
IMAGE_DATASETS = frozenset({"blob1d", "blob2d", "padded_mnist", "torus_mnist"})
IMAGE_RANGE = (0.0, 1.0)


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """Everything the training / reproduce / tuning code needs about a zoo model.

    Attributes:
        name: the zoo name (``symzoo.models.list()``).
        builder: the constructor, ``builder(weights=None, compile=True, ...)``.
        dataset: the `symzoo.datasets.load` name of its data set.
        dataset_kwargs: keyword arguments for `symzoo.datasets.load` (the
            generators' defaults are the report's sizes, so usually empty).
        task: ``"regression"``, ``"classification"`` or ``"node_regression"``;
            fixes the loss and the metrics (see `task_loss`, `task_metrics`).
        epochs, batch_size: training defaults that finish in minutes on 2 CPU
            cores.
        learning_rate: the constructor's default Adam learning rate.
        report_metric: the key of the report's figure in an evaluation on the
            test split, e.g. ``"test_accuracy"`` (``"test_" +`` a key of
            `symzoo.metrics.evaluate_task`).
        report_value: the report's figure, or None where it gives none.
        description: one line.
        input_shape, output_shape: the I/O contract, without the batch axis.
        hyperparameters: the constructor's default hyperparameters (a copy of
            the module's ``DEFAULTS`` entry, learning rate excluded).
        input_range: ``(low, high)`` the inputs' values must lie in, checked
            by `SymzooModel` (``fit``/``evaluate``/``predict``/``__call__`` on
            arrays) and by the exported SavedModel's ``serve``; default
            ``(0.0, 1.0)`` for the image data sets `IMAGE_DATASETS`, else None
            (no check). A new image model gets the check by using an image
            data set or by passing ``input_range``.
    """

    name: str
    builder: Callable
    dataset: str
    dataset_kwargs: dict = dataclasses.field(default_factory=dict, hash=False)
    task: str = "classification"
    epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 1e-3
    report_metric: str = "test_accuracy"
    report_value: Optional[float] = None
    description: str = ""
    input_shape: tuple = ()
    output_shape: tuple = ()
    hyperparameters: dict = dataclasses.field(default_factory=dict, hash=False)
    input_range: Optional[tuple] = None

    def __post_init__(self):
        if self.input_range is None and self.dataset in IMAGE_DATASETS:
            object.__setattr__(self, "input_range", IMAGE_RANGE)
        if self.input_range is not None:
            try:
                low, high = (float(v) for v in self.input_range)
            except (TypeError, ValueError):
                low = high = float("nan")
            if not low < high:
                raise ValueError(
                    "Expected `input_range` to be None or (low, high) with low < high. "
                    f"Received: input_range={self.input_range!r}"
                )
            object.__setattr__(self, "input_range", (low, high))
        _validation.one_of("task", self.task, TASKS)
        _validation.positive_int("epochs", self.epochs)
        _validation.positive_int("batch_size", self.batch_size)
        _validation.positive_float("learning_rate", self.learning_rate)
        if not callable(self.builder):
            raise ValueError(
                f"Expected `builder` to be callable. Received: builder={self.builder!r}"
            )

    @property
    def loss(self):
        return task_loss(self.task)


def task_loss(task):
    """The loss the zoo compiles a model of ``task`` with."""
    return _TASK_LOSSES[_validation.one_of("task", task, TASKS)]


def task_metrics(task):
    """Fresh metric objects/names the zoo compiles a model of ``task`` with."""
    _validation.one_of("task", task, TASKS)
    if task == "regression":
        return ["mae"]
    if task == "classification":
        return ["accuracy"]
    from symzoo.metrics import NodeDegreeAccuracy

    return [NodeDegreeAccuracy()]


def register(spec):
    """Adds ``spec`` to the registry (its name must be in `NAMES`)."""
    if not isinstance(spec, ModelSpec):
        raise ValueError(f"Expected a ModelSpec. Received: spec={spec!r}")
    _validation.one_of("name", spec.name, NAMES)
    _REGISTRY[spec.name] = spec
    return spec


def names():
    """The names of the zoo's models, in a stable order."""
    return [n for n in NAMES if n in _REGISTRY]


def _unknown(name):
    return ValueError(
        f"Unknown zoo model. Expected `name` to be one of {names()}. "
        f"Received: name={name!r}"
    )


def spec(name):
    """The `ModelSpec` of the zoo model ``name``."""
    if not isinstance(name, str) or name not in _REGISTRY:
        raise _unknown(name)
    return _REGISTRY[name]


def get(name):
    """The constructor of the zoo model ``name``."""
    return spec(name).builder


def _check_seed(seed):
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(
            f"Expected `seed` to be None or a non-negative integer. Received: seed={seed!r}"
        )
    return int(seed)


def merge_hyperparameters(name, defaults, hyperparameters):
    """``defaults`` (without ``learning_rate``) updated by ``hyperparameters``.

    Unknown keys raise a `symzoo.errors.HyperparameterError` (a TypeError and
    a ValueError) listing the accepted ones.
    """
    from symzoo.errors import HyperparameterError

    accepted = {k: v for k, v in defaults.items() if k != "learning_rate"}
    unknown = sorted(set(hyperparameters) - set(accepted))
    if unknown:
        raise HyperparameterError(
            f"{name}() got unexpected hyperparameter(s) {unknown}. Expected some of "
            f"{sorted(accepted)} (plus weights, compile, learning_rate, seed)."
        )
    return {**accepted, **hyperparameters}


def build_model(
    name,
    defaults,
    architecture,
    *,
    weights=None,
    compile=True,
    learning_rate=None,
    seed=None,
    hyperparameters=None,
):
    """The private builder shared by every zoo constructor.

    Args:
        name: the zoo name.
        defaults: the model's ``DEFAULTS`` entry (hyperparameters and
            ``learning_rate``).
        architecture: ``architecture(**hyperparameters) -> SymzooModel``,
            uncompiled, named ``name``.
        weights: None, ``"pretrained"`` or a path (see `symzoo.models.weights`).
        compile: whether to compile with Adam, the task's loss and metrics.
        learning_rate: Adam's learning rate (default ``defaults["learning_rate"]``).
        seed: optional integer; calls ``keras.utils.set_random_seed(seed)``
            before building, so the initial weights are reproducible.
        hyperparameters: the caller's keyword arguments. Two of them are not
            hyperparameters and every constructor accepts them:
            ``dtype_policy`` (None: Keras' global policy, ``"float32"`` or
            ``"mixed_bfloat16"``: the model is built under that policy; with
            pretrained weights it is rebuilt and the weights transferred) and
            ``penalty_mode`` (``"gradient"``, the default, or ``"add_loss"``;
            see `symzoo.layers.PenalizedLayer`).
    """
    from symzoo.models import weights as weights_lib

    # 1. weights first: nothing is built for an invalid argument.
    source = weights_lib.resolve(weights, name)
    # 2. the other arguments.
    user_hp = dict(hyperparameters or {})
    dtype_policy = _check_option("dtype_policy", user_hp.pop("dtype_policy", None), DTYPE_POLICIES)
    penalty_mode = _check_option("penalty_mode", user_hp.pop("penalty_mode", None), PENALTY_MODES)
    hp = merge_hyperparameters(name, defaults, user_hp)
    if learning_rate is None:
        learning_rate = defaults["learning_rate"]
    learning_rate = _validation.positive_float("learning_rate", learning_rate)
    if not isinstance(compile, bool):
        raise ValueError(
            f"Expected `compile` to be True or False. Received: compile={compile!r}"
        )
    seed = _check_seed(seed)
    model_spec = spec(name)

    import keras

    if seed is not None:
        keras.utils.set_random_seed(seed)

    previous_policy = keras.config.dtype_policy()
    if dtype_policy is not None:
        keras.config.set_dtype_policy(dtype_policy)
    try:
        model = _build(
            name, architecture, defaults, hp, user_hp, source, model_spec,
            rebuild=dtype_policy is not None,
        )
    finally:
        keras.config.set_dtype_policy(previous_policy)
    if penalty_mode is not None:
        model.penalty_mode = penalty_mode

    if compile:
        jit_compile, optimizer_jit_compile = _compile_options(
            name, dtype_policy or keras.config.dtype_policy().name)
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
            loss=task_loss(model_spec.task),
            metrics=task_metrics(model_spec.task),
            jit_compile=jit_compile,
        )
        model.optimizer_jit_compile = optimizer_jit_compile
    return model


#: ``dtype_policy=`` values every zoo constructor accepts (None: Keras' global policy).
DTYPE_POLICIES = ("float32", "mixed_bfloat16")
#: ``penalty_mode=`` values (see `symzoo.layers.PenalizedLayer`; None: "gradient").
PENALTY_MODES = ("gradient", "add_loss")


def _check_option(arg, value, choices):
    if value is None:
        return None
    return _validation.one_of(arg, value, choices)


def _build(name, architecture, defaults, hp, user_hp, source, model_spec, rebuild):
    """The model from `architecture` (or the pretrained files) under the current policy."""
    from symzoo.models import weights as weights_lib

    if source.kind == "pretrained":
        loaded, manifest = weights_lib.load_pretrained(
            name,
            source,
            input_shape=model_spec.input_shape,
            output_shape=model_spec.output_shape,
        )
        if not user_hp and not rebuild:
            model = loaded
        else:
            # New hyperparameters on the pretrained weights (e.g. another λ to
            # fine-tune with): the saved hyperparameters are the base.
            saved = manifest.get("hyperparameters") or {}
            base = merge_hyperparameters(
                name, defaults, {k: v for k, v in saved.items() if k in hp}
            )
            model = architecture(**{**base, **user_hp})
            weights_lib.transfer_weights(loaded, model, name)
    else:
        model = architecture(**hp)
        if source.kind == "path":
            weights_lib.load_weights_file(model, source.path, name)
    return model


def _compile_options(name, dtype_policy):
    """``(jit_compile, optimizer_jit_compile)`` of a zoo model: `_jit_compile`
    and False, except for the
    translation models under ``mixed_bfloat16`` on TensorFlow, whose step runs
    without XLA (oneDNN's bf16 GEMMs use the CPU's bf16 matrix units where it
    has them; XLA's do not) with the optimizer's update compiled by XLA
    (`SymzooModel.optimizer_jit_compile`, set after ``compile``).
    benchmarks/mnist_translation_speed.py times both."""
    import keras

    if (keras.backend.backend() == "tensorflow" and name.endswith("_translation")
            and dtype_policy == "mixed_bfloat16"):
        return False, True
    return _jit_compile(name), False


def _jit_compile(name):
    """XLA for the big translation layers on TensorFlow.

    Keras turns XLA off on CPU-only TensorFlow ("auto"); for `ClassTranslationDense`
    it fuses the penalty gradient into the optimizer update and halves the step
    time on CPU (benchmarks/mnist_translation_speed.py). Other backends keep
    Keras' choice.
    """
    import keras

    if keras.backend.backend() == "tensorflow" and name.endswith("_translation"):
        return True
    return "auto"


def format_docstring(function, defaults):
    """Replaces ``{key}`` in ``function.__doc__`` by ``repr(defaults[key])``.

    Keeps the documented defaults equal to the ``DEFAULTS`` table; braces
    around anything that is not a key of ``defaults`` are left alone.
    """
    if function.__doc__:  # None under python -OO
        function.__doc__ = re.sub(
            r"\{(\w+)\}",
            lambda m: repr(defaults[m.group(1)]) if m.group(1) in defaults else m.group(0),
            function.__doc__,
        )
    return function


__all__ = [
    "NAMES",
    "TASKS",
    "ModelSpec",
    "build_model",
    "get",
    "merge_hyperparameters",
    "names",
    "register",
    "spec",
    "task_loss",
    "task_metrics",
]
