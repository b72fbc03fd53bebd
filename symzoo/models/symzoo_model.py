"""SymzooModel: a functional keras.Model that logs each penalty under its name."""

import keras

from symzoo.layers.base import PenalizedLayer


@keras.saving.register_keras_serializable(package="symzoo")
class SymzooModel(keras.Model):
    """A functional model whose symzoo penalties appear by name in the logs.

    Build it like any functional model, ``SymzooModel(inputs, outputs)``. The
    penalties of its symzoo layers are already part of the loss (they are added
    with ``add_loss``); this class also keeps a running mean of each one, so
    ``fit`` and ``evaluate`` report e.g. ``offset_sharing`` and
    ``val_offset_sharing`` beside ``loss``. When two layers use penalties of
    the same kind, the layer's name is put in front (``dense_a/l1_sparsity``).

    Inputs: a zoo model whose `symzoo.models.registry.ModelSpec` has an
    ``input_range`` (the image models: float images in [0, 1]) checks arrays
    passed to ``fit``, ``evaluate``, ``predict`` and ``__call__``
    (`symzoo._validation.image_range`): uint8 images in 0..255, or float
    images not divided by 255, raise a ValueError that says how to scale them,
    instead of saturating the probabilities. Symbolic tensors and
    ``tf.data``/generator inputs are not checked.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        owners = [
            (layer, name)
            for layer in self._flatten_layers(include_self=False)
            if isinstance(layer, PenalizedLayer)
            for name, _ in layer.penalties
        ]
        counts = {}
        for _, name in owners:
            counts[name] = counts.get(name, 0) + 1
        self._penalty_trackers = []
        for layer, name in owners:
            log_name = name if counts[name] == 1 else f"{layer.name}/{name}"
            self._penalty_trackers.append(
                (layer, name, keras.metrics.Mean(name=log_name))
            )
        # Tracked attribute so that the trackers are in `self.metrics`.
        self.penalty_trackers = [t for _, _, t in self._penalty_trackers]

    def _input_range(self):
        from symzoo.models import registry

        if self.name not in registry.names():
            return None
        return registry.spec(self.name).input_range

    def _check_inputs(self, x, arg="x"):
        """Raises for arrays outside the zoo spec's ``input_range`` (see the class doc)."""
        value_range = self._input_range()
        if value_range is None or x is None:
            return
        import numpy as np

        if isinstance(x, np.ndarray):
            array = x
        elif isinstance(x, (list, tuple)) or keras.backend.is_keras_tensor(x):
            return
        elif hasattr(x, "numpy") and hasattr(x, "dtype") and hasattr(x, "shape"):
            try:
                array = x.numpy()  # an eager tensor (symbolic ones raise)
            except Exception:  # noqa: BLE001
                return
        elif hasattr(x, "__array__") and hasattr(x, "dtype"):
            try:
                array = np.asarray(x)  # a jax array (tracers raise)
            except Exception:  # noqa: BLE001
                return
        else:
            return  # tf.data, generators, PyDatasets: not checked
        from symzoo import _validation

        _validation.image_range(arg, array, *value_range)

    def fit(self, x=None, y=None, *args, **kwargs):
        self._check_inputs(x)
        validation_data = kwargs.get("validation_data")
        if isinstance(validation_data, (tuple, list)) and validation_data:
            self._check_inputs(validation_data[0], "validation_data[0]")
        return super().fit(x, y, *args, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        self._check_inputs(x)
        return super().evaluate(x, y, *args, **kwargs)

    def predict(self, x, *args, **kwargs):
        self._check_inputs(x)
        return super().predict(x, *args, **kwargs)

    def __call__(self, *args, **kwargs):
        if args:
            self._check_inputs(args[0], "inputs")
        return super().__call__(*args, **kwargs)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, **kwargs):
        total = super().compute_loss(
            x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, **kwargs
        )
        if self._penalty_trackers:
            losses = self.losses
            for layer, name, tracker in self._penalty_trackers:
                value = layer.penalty_values(losses).get(name)
                if value is not None:
                    tracker.update_state(value)
        return total
