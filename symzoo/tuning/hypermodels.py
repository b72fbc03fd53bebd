"""KerasTuner hypermodels of the zoo's models.

>>> from symzoo.tuning import SymzooHyperModel
>>> hypermodel = SymzooHyperModel("mnist_translation")            # default space
>>> hypermodel = SymzooHyperModel("blob1d_translation", space="tuning/spaces/blob1d_translation.json")

`SymzooHyperModel.build(hp)` declares the space's hyperparameters under their
names (``lam``, ``offset_b``, ``offset_b_prime``, ``activation``, ``l1`` or
``sparsity_alpha``, ``learning_rate``, ...) and returns the compiled zoo model
``symzoo.models.get(name)(**kwargs)``, with ``offsets=(offset_b,
offset_b_prime)``.
"""

import copy

import keras_tuner

from symzoo.tuning import spaces as spaces_lib


def declare(hp, name, spec):
    """Declares one hyperparameter of a space spec on ``hp``; returns its value."""
    kind = spec["type"]
    if kind == "choice":
        kwargs = {}
        if "ordered" in spec:
            kwargs["ordered"] = spec["ordered"]
        return hp.Choice(name, list(spec["values"]), **kwargs)
    if kind == "float":
        return hp.Float(
            name,
            float(spec["min"]),
            float(spec["max"]),
            step=spec.get("step"),
            sampling=spec.get("sampling", "linear"),
        )
    if kind == "int":
        return hp.Int(
            name,
            int(spec["min"]),
            int(spec["max"]),
            step=spec.get("step", 1) or 1,
            sampling=spec.get("sampling", "linear"),
        )
    if kind == "fixed":
        return hp.Fixed(name, spec["value"])
    raise ValueError(f"Expected a hyperparameter type in {spaces_lib.HP_TYPES}. Received: {spec!r}")


def constructor_kwargs(values, fixed=None):
    """Constructor keyword arguments from hyperparameter values.

    ``offset_b`` / ``offset_b_prime`` become ``offsets=(b, b')`` (a missing one
    is 0 when the other is given); everything else passes by name.
    """
    kwargs = dict(fixed or {})
    values = dict(values)
    if any(k in values for k in spaces_lib.OFFSET_HPS):
        b = int(values.pop("offset_b", 0))
        bp = int(values.pop("offset_b_prime", 0))
        kwargs["offsets"] = (b, bp)
    if "offsets" in kwargs and isinstance(kwargs["offsets"], list):
        kwargs["offsets"] = tuple(kwargs["offsets"])
    kwargs.update(values)
    return kwargs


class SymzooHyperModel(keras_tuner.HyperModel):
    """A KerasTuner `HyperModel` of the zoo model ``name``.

    Args:
        name: a ``symzoo.models`` name (e.g. ``"mnist_translation"``).
        space: None (the model's default space, `spaces.default_space`), a
            space dict, a JSON file path or a built-in space name. Validated
            here, so that an invalid space fails before any trial.
        seed: optional integer passed to the constructor (same initial
            weights in every trial, for a fair comparison).
        lam_mode: optional ``"report"`` / ``"log"`` to switch the mode of λ of
            the default space.
    """

    def __init__(self, name, space=None, seed=None, lam_mode=None, **kwargs):
        super().__init__(name=name, **kwargs)
        spaces_lib.check_model_name(name)
        if space is None:
            space = spaces_lib.default_space(name, lam_mode=lam_mode)
        elif isinstance(space, dict):
            space = copy.deepcopy(space)
        else:
            space = spaces_lib.load(space)
        space = spaces_lib.resolve(space)
        if space.get("model", name) != name:
            raise ValueError(
                f"Invalid search space: it is for model {space.get('model')!r}. "
                f"Expected a space for model {name!r}."
            )
        space["model"] = name
        if lam_mode is not None and space.get("lam_mode") != lam_mode:
            space = spaces_lib.set_lam_mode(space, lam_mode)
        self.space = spaces_lib.validate(space)
        self.model_name = name
        self.seed = seed

    def hp_values(self, hp):
        """Declares the space on ``hp``; returns ``{name: value}``."""
        return {
            name: declare(hp, name, spec)
            for name, spec in self.space["hyperparameters"].items()
        }

    def model_kwargs(self, hp):
        """The constructor's keyword arguments for the values in ``hp``."""
        return constructor_kwargs(self.hp_values(hp), self.space.get("fixed"))

    @property
    def lr_schedule(self):
        """The space's ``lr_schedule`` (``"constant"`` when it names none)."""
        return self.space.get("lr_schedule", "constant")

    def fit(self, hp, model, *args, **kwargs):
        """``model.fit``; with ``lr_schedule="cosine"`` a per-epoch cosine decay
        from the model's compiled learning rate over the trial's ``epochs``
        (`symzoo.training.lr_at_epoch`). A Hyperband round that resumes a trial
        at ``initial_epoch`` follows the schedule of its own ``epochs``."""
        if self.lr_schedule != "constant":
            import keras

            from symzoo import training

            epochs = int(kwargs.get("epochs", 1))
            base = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
            schedule = keras.callbacks.LearningRateScheduler(
                lambda epoch, _lr: training.lr_at_epoch(self.lr_schedule, base, epoch, epochs))
            kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), schedule]
        return model.fit(*args, **kwargs)

    def build(self, hp):
        from symzoo import models

        kwargs = self.model_kwargs(hp)
        if self.seed is not None:
            kwargs.setdefault("seed", int(self.seed))
        return models.get(self.model_name)(**kwargs)


__all__ = ["SymzooHyperModel", "constructor_kwargs", "declare"]
