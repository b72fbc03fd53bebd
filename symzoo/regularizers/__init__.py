"""Parameter-sharing and sparsity penalties (``sharing=`` / ``sparsity=``)."""

from symzoo.regularizers.base import REDUCTIONS, Penalty, get
from symzoo.regularizers.offset_sharing import OffsetSharing
from symzoo.regularizers.orbit_sharing import OrbitSharing
from symzoo.regularizers.pairwise_sharing import PairwiseSharing
from symzoo.regularizers.sparsity import L1Sparsity, SigmoidSparsity

__all__ = [
    "Penalty",
    "OffsetSharing",
    "OrbitSharing",
    "PairwiseSharing",
    "L1Sparsity",
    "SigmoidSparsity",
    "REDUCTIONS",
    "get",
]
