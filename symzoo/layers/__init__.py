"""Symmetry-discovery layers: plain dense maps with penalised kernels."""

from symzoo.layers.base import PenalizedLayer
from symzoo.layers.class_translation_dense import ClassTranslationDense
from symzoo.layers.graph_row_sum import GraphRowSum
from symzoo.layers.set_linear_sum import SetLinearSum
from symzoo.layers.torus import CircularConv2D, PositionChannelDense

__all__ = [
    "PenalizedLayer",
    "ClassTranslationDense",
    "SetLinearSum",
    "GraphRowSum",
    "PositionChannelDense",
    "CircularConv2D",
]
