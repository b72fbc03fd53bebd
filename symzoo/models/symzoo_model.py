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
