"""Every custom Keras layer of symzoo, and the one list of modules that register
symzoo's serializable classes.

* symmetry-discovery layers (plain dense maps with penalised kernels):
  `ClassTranslationDense`, `SetLinearSum`, `GraphRowSum`; each has a
  ``symmetry_kind`` class attribute (``"translation"``, ``"set"``,
  ``"graph"``) that `symzoo.symmetry` dispatches on;
* baseline layers: `SumPooling` (DeepSets), `NodeOnes`,
  `NormalizedAdjacency`, `GraphConv`, `GINConv` (GCN, GIN);
* torus-MNIST layers: `PositionChannelDense` (a dense map to positions ×
  channels, penalised kernel) and `CircularConv2D` (periodic padding);
* compact layers of `symzoo.symmetry.extraction.extract`: `CircularPad`,
  `ScaledSum`, `GraphEquivariantRowSum`.

All are registered as ``"symzoo>ClassName"``; a saved model refers to them by
that name only, so they may move between modules as long as the class name
stays.
"""

import importlib

from symzoo.layers.base import PenalizedLayer
from symzoo.layers.class_translation_dense import ClassTranslationDense
from symzoo.layers.compact import CircularPad, GraphEquivariantRowSum, ScaledSum
from symzoo.layers.graph_conv import GINConv, GraphConv, NodeOnes, NormalizedAdjacency
from symzoo.layers.graph_row_sum import GraphRowSum
from symzoo.layers.pooling import SumPooling
from symzoo.layers.set_linear_sum import SetLinearSum
from symzoo.layers.torus import CircularConv2D, PositionChannelDense

#: The modules whose import registers every ``symzoo>…`` serializable class
#: (layers, penalties, the model class, metrics). `register_all` imports them;
#: every loader of saved models calls it. A module that adds a registered
#: class must be listed here (tests/test_house.py checks it).
SERIALIZABLE_MODULES = (
    "symzoo.layers",
    "symzoo.regularizers",
    "symzoo.models.symzoo_model",
    "symzoo.metrics",
)


def register_all():
    """Imports `SERIALIZABLE_MODULES`, so that Keras can deserialize every
    symzoo class (``keras.saving.load_model`` of any symzoo model)."""
    for module in SERIALIZABLE_MODULES:
        importlib.import_module(module)


__all__ = [
    "PenalizedLayer",
    "ClassTranslationDense",
    "SetLinearSum",
    "GraphRowSum",
    "PositionChannelDense",
    "CircularConv2D",
    "SumPooling",
    "NodeOnes",
    "NormalizedAdjacency",
    "GraphConv",
    "GINConv",
    "CircularPad",
    "ScaledSum",
    "GraphEquivariantRowSum",
    "SERIALIZABLE_MODULES",
    "register_all",
]
