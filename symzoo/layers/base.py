"""Shared machinery of symzoo's layers: the kernel penalties."""

import keras

from symzoo.regularizers import base as penalty_base


class PenalizedLayer(keras.layers.Layer):
    """A layer with one ``kernel`` and optional ``sharing`` / ``sparsity`` penalties.

    Each penalty is added with ``add_loss`` on every call (so it is part of the
    training loss and of ``model.losses``). `penalty_values()` returns the
    tensors added by the last call keyed by the penalty's name, which
    `symzoo.models.SymzooModel` logs.
    """

    def __init__(self, sharing=None, sparsity=None, **kwargs):
        super().__init__(**kwargs)
        self.sharing = penalty_base.get(sharing, "sharing")
        self.sparsity = penalty_base.get(sparsity, "sparsity")
        self._penalty_ids = {}

    @property
    def penalties(self):
        """``[(name, penalty), ...]`` for the penalties this layer adds."""
        return [(p.name, p) for p in (self.sharing, self.sparsity) if p is not None]

    def _validate_penalties(self, kernel_shape):
        for _, penalty in self.penalties:
            penalty.validate(kernel_shape)

    def _add_penalties(self, kernel):
        self._penalty_ids = {}
        for name, penalty in self.penalties:
            value = penalty(kernel)
            self.add_loss(value)
            self._penalty_ids[id(value)] = name

    def penalty_values(self, losses):
        """Picks this layer's penalties out of a list of loss tensors."""
        return {
            self._penalty_ids[id(v)]: v for v in losses if id(v) in self._penalty_ids
        }

    def penalty_config(self):
        return {
            "sharing": keras.saving.serialize_keras_object(self.sharing)
            if self.sharing is not None
            else None,
            "sparsity": keras.saving.serialize_keras_object(self.sparsity)
            if self.sparsity is not None
            else None,
        }
