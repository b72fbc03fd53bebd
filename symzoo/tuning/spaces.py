"""Search spaces of the zoo's models, declared as data.

A *space* is a JSON-able dict::

    {
      "model": "mnist_translation",          # a symzoo.models name
      "description": "...",                   # optional
      "lam_mode": "report",                   # "report" | "log" (models with λ only)
      "lr_schedule": "cosine",                # optional: "constant" (default) | "cosine"
      "hyperparameters": {                    # name -> one hyperparameter spec
        "lam": {"type": "choice", "values": [100.0, 10.0, 1.0, 0.01, 0.001, 0.0001, 1e-05]},
        "offset_b": {"type": "int", "min": 0, "max": 27},
        "offset_b_prime": {"type": "int", "min": 0, "max": 55},
        "activation": {"type": "choice", "values": ["sigmoid", "tanh", "elu", "relu"]},
        "l1": {"type": "choice", "values": [0.0, 1e-06, 1e-05, 0.0001]},
        "learning_rate": {"type": "float", "min": 0.0001, "max": 0.1, "sampling": "log"}
      },
      "fixed": {}                             # constructor kwargs passed as they are
    }

Hyperparameter specs (KerasTuner's ``hp.*`` with the same name):

* ``{"type": "choice", "values": [...]}`` → ``hp.Choice`` (``"ordered"`` optional);
* ``{"type": "float", "min": a, "max": b, "sampling": "linear"|"log", "step": s}``
  → ``hp.Float`` (``step`` optional);
* ``{"type": "int", "min": a, "max": b, "step": 1}`` → ``hp.Int`` (``max``
  *inclusive*, as in KerasTuner);
* ``{"type": "fixed", "value": v}`` → ``hp.Fixed``.

Names map to the constructor's keyword arguments one to one, except
``offset_b`` and ``offset_b_prime``, which become ``offsets=(b, b')``. The
offsets live in ``0 <= b < T`` and ``0 <= b' < d`` where ``T`` is the number
of translations per axis and ``d`` the input size per axis
(`geometry`; for MNIST ``T = 28``, ``d = 56``, stride 2).

``lam_mode``: ``"report"`` searches λ over the report's list `REPORT_LAMBDAS`
(``hp.Choice``); ``"log"`` searches the continuous range
``hp.Float("lam", 1e-6, 1e2, sampling="log")``. A space that gives
``lam_mode`` but no ``lam`` spec gets the mode's default (see `resolve`).

``lr_schedule``: ``"cosine"`` decays each trial's learning rate per epoch from
its ``learning_rate`` towards 0 over the trial's epochs
(`symzoo.training.lr_at_epoch`, the schedule of the zoo's long rows), so that a
trial trains as the row it stands for; ``"constant"`` (the default) keeps it.

The default spaces (`SPACES`) are also committed as JSON files
``tuning/spaces/<name>.json`` (``symzoo tune --write-spaces``); a test checks
that the files equal the definitions here. `load` reads a JSON file (or a
built-in space's name); `validate` checks a space against its model so that an
invalid space fails before any trial runs.
"""

import copy
import json
import math
import numbers
import os

#: The report's λ values (its Table of the λ sweep).
REPORT_LAMBDAS = (100.0, 10.0, 1.0, 1e-2, 1e-3, 1e-4, 1e-5)
#: Range of the continuous λ search (``lam_mode="log"``).
LOG_LAMBDA_RANGE = (1e-6, 1e2)
LAM_MODES = ("report", "log")
#: The activations the report compares.
ACTIVATIONS = ("sigmoid", "tanh", "elu", "relu")
#: The report's (b, b') pairs for padded MNIST.
REPORT_MNIST_OFFSETS = ((0, 0), (16, 4), (8, 4), (16, 2), (1, 2), (2, 4))
HP_TYPES = ("choice", "float", "int", "fixed")

#: The translation models' geometry at their default strides: ``translations``
#: T per axis, ``input_size`` d per axis, ``strides`` s (T = d / s).
GEOMETRY = {
    "blob1d_translation": {"translations": 10, "input_size": 10, "strides": 1},
    "blob2d_translation": {"translations": 10, "input_size": 10, "strides": 1},
    "mnist_translation": {"translations": 28, "input_size": 56, "strides": 2},
}
TRANSLATION_MODELS = tuple(GEOMETRY)
#: The report's models (the baselines are searched over the learning rate only).
REPORT_MODELS = (
    "set_sum",
    "blob1d_translation",
    "blob2d_translation",
    "mnist_translation",
    "graph_degree",
)
BASELINES = ("deepsets", "cnn1d", "cnn2d", "mnist_cnn", "gcn", "gin")
KNOWN_MODELS = REPORT_MODELS + BASELINES

# Hyperparameter names each model can be searched over (constructor kwargs,
# with `offsets` split into offset_b / offset_b_prime). Checked against the
# constructors' defaults (`symzoo.models.spec(name).hyperparameters`) when
# symzoo.models is available.
_TRANSLATION_HPS = (
    "lam",
    "offset_b",
    "offset_b_prime",
    "activation",
    "l1",
    "learning_rate",
)
SEARCHABLE = {
    "set_sum": ("sparsity_alpha", "sharpness", "learning_rate"),
    "graph_degree": ("activation", "learning_rate"),
    **{name: _TRANSLATION_HPS for name in TRANSLATION_MODELS},
    **{name: ("learning_rate",) for name in BASELINES},
}
OFFSET_HPS = ("offset_b", "offset_b_prime")


# --- helpers to write specs ---------------------------------------------------


def choice(values, ordered=None):
    spec = {"type": "choice", "values": list(values)}
    if ordered is not None:
        spec["ordered"] = bool(ordered)
    return spec


def float_range(lo, hi, sampling="linear", step=None):
    spec = {"type": "float", "min": lo, "max": hi, "sampling": sampling}
    if step is not None:
        spec["step"] = step
    return spec


def int_range(lo, hi, step=1):
    return {"type": "int", "min": int(lo), "max": int(hi), "step": int(step)}


def fixed(value):
    return {"type": "fixed", "value": value}


def lam_spec(mode):
    """The ``lam`` spec of ``lam_mode`` ``mode``."""
    if mode == "report":
        return choice(REPORT_LAMBDAS, ordered=False)
    if mode == "log":
        return float_range(*LOG_LAMBDA_RANGE, sampling="log")
    raise ValueError(
        f"Expected `lam_mode` to be one of {list(LAM_MODES)}. Received: lam_mode={mode!r}"
    )


_LR = float_range(1e-4, 1e-1, sampling="log")


def _translation_space(name, lam_mode="report"):
    geo = GEOMETRY[name]
    return {
        "model": name,
        "description": (
            f"λ ({lam_mode} mode), offsets 0 <= b < T={geo['translations']} and "
            f"0 <= b' < d={geo['input_size']} (stride {geo['strides']}), "
            "activation, L1 strength and Adam's learning rate."
        ),
        "lam_mode": lam_mode,
        "hyperparameters": {
            "lam": lam_spec(lam_mode),
            "offset_b": int_range(0, geo["translations"] - 1),
            "offset_b_prime": int_range(0, geo["input_size"] - 1),
            "activation": choice(ACTIVATIONS),
            "l1": choice([0.0, 1e-6, 1e-5, 1e-4]),
            "learning_rate": dict(_LR),
        },
        "fixed": {},
    }


def _build_spaces():
    spaces = {
        "set_sum": {
            "model": "set_sum",
            "description": (
                "Sigmoid-sparsity strength α and sharpness, and Adam's learning rate."
            ),
            "hyperparameters": {
                "sparsity_alpha": float_range(1e-4, 1e-1, sampling="log"),
                "sharpness": choice([10.0, 100.0], ordered=True),
                "learning_rate": float_range(1e-4, 3e-2, sampling="log"),
            },
            "fixed": {},
        },
    }
    for name in TRANSLATION_MODELS:
        spaces[name] = _translation_space(name)
    # The report's MNIST grid, λ ∈ {1e-5, 1e-4, 1e-3} × b ∈ {0, 1, 2, 8, 16} ×
    # b' ∈ {0, 2, 4} (a superset of the report's six (b, b') pairs); the
    # activation, L1 and learning rate stay at the model's defaults. Too big
    # for a CPU grid search: sample it with a random search.
    bs = sorted({b for b, _ in REPORT_MNIST_OFFSETS})
    bps = sorted({bp for _, bp in REPORT_MNIST_OFFSETS})
    spaces["mnist_translation_report_grid"] = {
        "model": "mnist_translation",
        "description": (
            "The report's MNIST sweep: λ ∈ {1e-5, 1e-4, 1e-3} × b ∈ "
            f"{set(bs)} × b' ∈ {set(bps)} (contains the report's pairs "
            f"{list(REPORT_MNIST_OFFSETS)}); other hyperparameters at the "
            "model's defaults."
        ),
        "lam_mode": "report",
        "hyperparameters": {
            "lam": choice([1e-5, 1e-4, 1e-3], ordered=False),
            "offset_b": choice(bs, ordered=False),
            "offset_b_prime": choice(bps, ordered=False),
        },
        "fixed": {},
    }
    # Sharing strength that matters: the mean-reduced OffsetSharing needs λ of order 1..1000
    # on the 24.6M-weight kernel (λ <= 1e-3 is no penalty: every trial of the default space
    # ties at the same accuracy), both sharing forms, offsets with b' = s·b or not.
    spaces["mnist_translation_sharing"] = {
        "model": "mnist_translation",
        "description": (
            "Sharing that matters: mean-reduced λ log-uniform in [0.1, 1000], "
            "OffsetSharing form diagonal or complete, b ∈ {1, 2, 16}, b' ∈ {2, 4}, ReLU or "
            "ELU, Adam's learning rate log-uniform in [3e-3, 1e-1]."
        ),
        "hyperparameters": {
            "lam": float_range(0.1, 1000.0, sampling="log"),
            "sharing_form": choice(["diagonal", "complete"], ordered=False),
            "offset_b": choice([1, 2, 16], ordered=False),
            "offset_b_prime": choice([2, 4], ordered=False),
            "activation": choice(["relu", "elu"], ordered=False),
            "learning_rate": float_range(3e-3, 1e-1, sampling="log"),
        },
        "fixed": {"reduction": "mean"},
    }
    spaces["graph_degree"] = {
        "model": "graph_degree",
        "description": "Activation and Adam's learning rate.",
        "hyperparameters": {
            "activation": choice(ACTIVATIONS),
            "learning_rate": dict(_LR),
        },
        "fixed": {},
    }
    for name in BASELINES:
        spaces[name] = {
            "model": name,
            "description": "Baseline: Adam's learning rate only.",
            "hyperparameters": {"learning_rate": dict(_LR)},
            "fixed": {},
        }
    return spaces


#: Built-in spaces by name: one default per model (named after the model) and
#: extra named variants (``mnist_translation_report_grid``).
SPACES = _build_spaces()


def names():
    """Names of the built-in spaces (the JSON files ``tuning/spaces/<name>.json``)."""
    return sorted(SPACES)


def default_space(model, lam_mode=None):
    """A copy of the default space of ``model``; ``lam_mode`` switches λ's mode."""
    check_model_name(model)
    if model not in SPACES:
        # A registered model without its own space: learning rate only.
        space = {
            "model": model,
            "description": "Adam's learning rate only.",
            "hyperparameters": {"learning_rate": dict(_LR)},
            "fixed": {},
        }
    else:
        space = copy.deepcopy(SPACES[model])
    if lam_mode is not None:
        if "lam_mode" not in space:
            raise ValueError(
                f"Expected `lam_mode` only for models searched over λ "
                f"({list(TRANSLATION_MODELS)}). Received: lam_mode={lam_mode!r} "
                f"for model {model!r}"
            )
        space = set_lam_mode(space, lam_mode)
    return space


def set_lam_mode(space, lam_mode):
    """A copy of ``space`` whose λ is searched in ``lam_mode``."""
    space = copy.deepcopy(space)
    spec = lam_spec(lam_mode)
    space["lam_mode"] = lam_mode
    space["hyperparameters"]["lam"] = spec
    if "description" in space:
        space["description"] = space["description"].replace(
            "(report mode)", f"({lam_mode} mode)"
        ).replace("(log mode)", f"({lam_mode} mode)")
    return space


# --- model names and geometry -------------------------------------------------


def check_model_name(name):
    from symzoo import models

    known = list(models.list())
    if not isinstance(name, str) or name not in known:
        raise ValueError(
            f"Unknown zoo model. Expected `model` to be one of {known}. "
            f"Received: model={name!r}"
        )
    return name


def _model_spec(name):
    try:
        from symzoo import models

        return models.spec(name)
    except (ImportError, AttributeError):
        return None


def geometry(model, fixed_kwargs=None):
    """``{"translations": T, "input_size": d, "strides": s}`` of a translation model.

    ``d`` comes from the model's input shape (`symzoo.models.spec`) where
    available; ``s`` from ``fixed_kwargs["strides"]``, else the constructor's
    default; ``T = d // s``. Returns None for models without offsets.
    """
    if model not in GEOMETRY:
        return None
    geo = dict(GEOMETRY[model])
    spec = _model_spec(model)
    if spec is not None:
        if getattr(spec, "input_shape", None):
            geo["input_size"] = int(spec.input_shape[0])
        default_strides = (getattr(spec, "hyperparameters", None) or {}).get("strides")
        if default_strides is not None:
            geo["strides"] = default_strides
    if fixed_kwargs and fixed_kwargs.get("strides") is not None:
        geo["strides"] = fixed_kwargs["strides"]
    strides = geo["strides"]
    if isinstance(strides, (list, tuple)):
        strides = strides[0]
    geo["strides"] = int(strides)
    geo["translations"] = geo["input_size"] // geo["strides"]
    return geo


def searchable(model):
    """The hyperparameter names ``model`` can be searched over."""
    spec = _model_spec(model)
    if spec is not None and getattr(spec, "hyperparameters", None):
        accepted = set(spec.hyperparameters) | {"learning_rate"}
        if "offsets" in accepted:
            accepted = (accepted - {"offsets"}) | set(OFFSET_HPS)
        return tuple(sorted(accepted))
    return SEARCHABLE.get(model, ("learning_rate",))


def constructor_kwargs(model):
    """The keyword arguments a space may give in ``fixed`` for ``model``."""
    spec = _model_spec(model)
    if spec is not None and getattr(spec, "hyperparameters", None):
        return tuple(sorted(set(spec.hyperparameters) | {"learning_rate"}))
    names_ = set(searchable(model)) - set(OFFSET_HPS)
    if model in TRANSLATION_MODELS:
        names_ |= {"offsets", "strides", "reduction"}
    return tuple(sorted(names_))


# --- resolve and validate -----------------------------------------------------


def _err(message):
    return ValueError(f"Invalid search space: {message}")


def _is_number(v):
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _spec_values(spec):
    """The values a spec can take (choice/fixed), or None for ranges."""
    if spec["type"] == "choice":
        return list(spec["values"])
    if spec["type"] == "fixed":
        return [spec["value"]]
    return None


def _spec_bounds(spec):
    """``(min, max)`` of a numeric spec."""
    values = _spec_values(spec)
    if values is None:
        return spec["min"], spec["max"]
    return min(values), max(values)


def _check_spec(name, spec):
    if not isinstance(spec, dict) or spec.get("type") not in HP_TYPES:
        raise _err(
            f"Expected hyperparameter {name!r} to be a dict with a 'type' in "
            f"{list(HP_TYPES)}. Received: {name}={spec!r}"
        )
    kind = spec["type"]
    allowed = {
        "choice": {"type", "values", "ordered"},
        "float": {"type", "min", "max", "sampling", "step"},
        "int": {"type", "min", "max", "step", "sampling"},
        "fixed": {"type", "value"},
    }[kind]
    extra = sorted(set(spec) - allowed)
    if extra:
        raise _err(
            f"Expected the keys of {kind} hyperparameter {name!r} to be some of "
            f"{sorted(allowed)}. Received: unknown keys {extra} in {name}={spec!r}"
        )
    if kind == "choice":
        values = spec.get("values")
        if not isinstance(values, list) or not values:
            raise _err(
                f"Expected `values` of choice {name!r} to be a non-empty list. "
                f"Received: {name}={spec!r}"
            )
        types = {str if isinstance(v, str) else bool if isinstance(v, bool) else
                 numbers.Real if _is_number(v) else type(v) for v in values}
        if len(types) != 1 or not types <= {str, bool, numbers.Real}:
            raise _err(
                f"Expected `values` of choice {name!r} to be all numbers, all "
                f"strings or all booleans. Received: {name}={spec!r}"
            )
        if len(set(map(repr, values))) != len(values):
            raise _err(
                f"Expected distinct `values` for choice {name!r}. Received: {name}={spec!r}"
            )
    elif kind == "fixed":
        if "value" not in spec:
            raise _err(f"Expected a `value` for fixed {name!r}. Received: {name}={spec!r}")
    else:
        for key in ("min", "max"):
            if not _is_number(spec.get(key)) or not math.isfinite(spec[key]):
                raise _err(
                    f"Expected `{key}` of {kind} hyperparameter {name!r} to be a "
                    f"finite number. Received: {name}={spec!r}"
                )
        if kind == "int" and not all(
            isinstance(spec[k], numbers.Integral) for k in ("min", "max")
        ):
            raise _err(
                f"Expected integer bounds for int hyperparameter {name!r}. "
                f"Received: {name}={spec!r}"
            )
        if spec["min"] > spec["max"] or (kind == "float" and spec["min"] == spec["max"]):
            raise _err(
                f"Expected min < max for {name!r}. Received: {name}={spec!r}"
            )
        sampling = spec.get("sampling", "linear")
        if sampling not in ("linear", "log", "reverse_log"):
            raise _err(
                f"Expected `sampling` of {name!r} to be 'linear', 'log' or "
                f"'reverse_log'. Received: {name}={spec!r}"
            )
        if sampling != "linear" and spec["min"] <= 0:
            raise _err(
                f"Expected min > 0 for {sampling}-sampled {name!r}. Received: {name}={spec!r}"
            )
        if "step" in spec and spec["step"] is not None and (
            not _is_number(spec["step"]) or spec["step"] <= 0
        ):
            raise _err(f"Expected a positive `step` for {name!r}. Received: {name}={spec!r}")


def resolve(space):
    """A normalised copy of ``space``: ``fixed``/``hyperparameters`` present and
    ``lam`` filled in from ``lam_mode`` where missing. Does not validate."""
    if not isinstance(space, dict):
        raise _err(f"Expected a dict (JSON object). Received: {space!r}")
    space = copy.deepcopy(space)
    space.setdefault("hyperparameters", {})
    space.setdefault("fixed", {})
    mode = space.get("lam_mode")
    if mode is not None and "lam" not in space["hyperparameters"]:
        if mode not in LAM_MODES:
            raise _err(
                f"Expected `lam_mode` to be one of {list(LAM_MODES)}. "
                f"Received: lam_mode={mode!r}"
            )
        space["hyperparameters"]["lam"] = lam_spec(mode)
    return space


def _check_activation(name, value):
    if not isinstance(value, str):
        raise _err(f"Expected {name} values to be activation names. Received: {value!r}")
    try:
        import keras

        keras.activations.get(value)
    except (ValueError, TypeError):
        raise _err(
            f"Unknown activation. Expected {name} values to be Keras activation "
            f"names, e.g. {list(ACTIVATIONS)}. Received: {name}={value!r}"
        ) from None


def validate(space):
    """Checks a space against its model; returns the resolved space.

    Raises ValueError (message starts with "Invalid search space") for an
    unknown model, an unknown hyperparameter name, malformed specs, λ or a
    learning rate with bounds <= 0, offsets outside ``[0, T)`` / ``[0, d)``,
    or unknown activations.
    """
    space = resolve(space)
    allowed_top = {"model", "description", "lam_mode", "lr_schedule", "hyperparameters", "fixed"}
    extra = sorted(set(space) - allowed_top)
    if extra:
        raise _err(
            f"Expected the keys of a space to be some of {sorted(allowed_top)}. "
            f"Received: unknown keys {extra}"
        )
    try:
        model = check_model_name(space.get("model"))
    except ValueError as e:
        raise _err(str(e)) from None
    hps = space["hyperparameters"]
    fixed_kwargs = space["fixed"]
    if not isinstance(hps, dict) or not isinstance(fixed_kwargs, dict):
        raise _err("Expected `hyperparameters` and `fixed` to be dicts (JSON objects).")
    allowed = set(searchable(model))
    unknown = sorted(set(hps) - allowed)
    if unknown:
        raise _err(
            f"Expected the hyperparameters of {model!r} to be some of "
            f"{sorted(allowed)}. Received: unknown names {unknown}"
        )
    accepted = set(constructor_kwargs(model))
    unknown = sorted(set(fixed_kwargs) - accepted)
    if unknown:
        raise _err(
            f"Expected the `fixed` keyword arguments of {model!r} to be some of "
            f"{sorted(accepted)}. Received: unknown names {unknown}"
        )
    both = sorted(set(hps) & set(fixed_kwargs))
    if both:
        raise _err(f"Expected each name in `hyperparameters` or in `fixed`, not both. Received: {both}")
    if "offsets" in fixed_kwargs and set(OFFSET_HPS) & set(hps):
        raise _err("Expected `offsets` in `fixed` only when offset_b/offset_b_prime are not searched.")
    for name, spec in hps.items():
        _check_spec(name, spec)

    # Numeric ranges.
    for name, positive in (
        ("lam", True),
        ("learning_rate", True),
        ("l1", False),
        ("sparsity_alpha", False),
        ("sharpness", True),
    ):
        spec = hps.get(name)
        if spec is None:
            values = [fixed_kwargs[name]] if name in fixed_kwargs else []
        else:
            values = _spec_values(spec)
            if values is None:
                values = list(_spec_bounds(spec))
        for v in values:
            if not _is_number(v) or not math.isfinite(v) or v < 0 or (positive and v <= 0):
                bound = "> 0" if positive else ">= 0"
                raise _err(
                    f"Expected `{name}` values/bounds to be finite and {bound}. "
                    f"Received: {name}={spec if spec is not None else v!r}"
                )

    from symzoo.training import LR_SCHEDULES

    schedule = space.get("lr_schedule", "constant")
    if schedule not in LR_SCHEDULES:
        raise _err(
            f"Expected `lr_schedule` to be one of {list(LR_SCHEDULES)}. "
            f"Received: lr_schedule={schedule!r}"
        )

    mode = space.get("lam_mode")
    if mode is not None:
        if mode not in LAM_MODES:
            raise _err(
                f"Expected `lam_mode` to be one of {list(LAM_MODES)}. Received: lam_mode={mode!r}"
            )
        if "lam" not in allowed:
            raise _err(f"Expected no `lam_mode` for {model!r}, which has no λ.")
        lam = hps.get("lam")
        if lam is not None:
            if mode == "report" and lam["type"] not in ("choice", "fixed"):
                raise _err(
                    "Expected `lam` to be a choice (or fixed) with lam_mode='report'. "
                    f"Received: lam={lam!r}"
                )
            if mode == "log" and (lam["type"] != "float" or lam.get("sampling") != "log"):
                raise _err(
                    "Expected `lam` to be a float with sampling 'log' with "
                    f"lam_mode='log'. Received: lam={lam!r}"
                )

    # Activations.
    spec = hps.get("activation")
    if spec is not None and spec["type"] not in ("choice", "fixed"):
        raise _err(f"Expected `activation` to be a choice or fixed. Received: activation={spec!r}")
    values = _spec_values(spec) if spec else (
        [fixed_kwargs["activation"]] if "activation" in fixed_kwargs else []
    )
    for v in values:
        _check_activation("activation", v)

    # Offsets.
    geo = geometry(model, fixed_kwargs)
    if geo is not None:
        limits = {"offset_b": ("T", geo["translations"]), "offset_b_prime": ("d", geo["input_size"])}
        for name, (symbol, limit) in limits.items():
            spec = hps.get(name)
            if spec is None:
                continue
            if spec["type"] == "float":
                raise _err(f"Expected `{name}` to be an int, choice or fixed. Received: {name}={spec!r}")
            values = _spec_values(spec) or list(_spec_bounds(spec))
            for v in values:
                if not isinstance(v, numbers.Integral) or isinstance(v, bool) or not 0 <= v < limit:
                    raise _err(
                        f"Expected `{name}` in [0, {symbol}={limit}) for {model!r} "
                        f"(T={geo['translations']} translations, d={geo['input_size']} "
                        f"inputs per axis, stride {geo['strides']}). Received: {name}={spec!r}"
                    )
        if "offsets" in fixed_kwargs:
            b, bp = fixed_kwargs["offsets"]
            if not (0 <= b < geo["translations"] and 0 <= bp < geo["input_size"]):
                raise _err(
                    f"Expected fixed offsets (b, b') with 0 <= b < {geo['translations']} "
                    f"and 0 <= b' < {geo['input_size']}. Received: offsets={fixed_kwargs['offsets']!r}"
                )
    return space


# --- files --------------------------------------------------------------------


def dumps(space):
    """The canonical JSON text of a space (as written to ``tuning/spaces/``)."""
    return json.dumps(space, indent=2, ensure_ascii=False) + "\n"


def load(path_or_name):
    """Reads a space from a JSON file, or returns the built-in space of that name.

    The result is resolved and validated (`validate`).
    """
    path = os.fspath(path_or_name)
    if os.path.isfile(path):
        try:
            with open(path, encoding="utf-8") as f:
                space = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(
                f"Expected `space` to be a JSON file. Received: {path!r} ({e})"
            ) from None
    elif path in SPACES:
        space = copy.deepcopy(SPACES[path])
    else:
        raise FileNotFoundError(
            f"Expected `space` to be a JSON file or a built-in space name "
            f"({names()}). Received: space={path!r}, which is neither "
            "(write the defaults with `symzoo tune --write-spaces`)."
        )
    return validate(space)


def write_spaces(directory):
    """Writes every built-in space to ``directory/<name>.json``; returns the paths."""
    os.makedirs(directory, exist_ok=True)
    paths = []
    for name in names():
        path = os.path.join(directory, f"{name}.json")
        with open(path, "w", encoding="utf-8") as f:
            f.write(dumps(SPACES[name]))
        paths.append(path)
    return paths


__all__ = [
    "ACTIVATIONS",
    "GEOMETRY",
    "LAM_MODES",
    "LOG_LAMBDA_RANGE",
    "REPORT_LAMBDAS",
    "REPORT_MNIST_OFFSETS",
    "SPACES",
    "default_space",
    "dumps",
    "geometry",
    "lam_spec",
    "load",
    "names",
    "resolve",
    "searchable",
    "set_lam_mode",
    "validate",
    "write_spaces",
]
