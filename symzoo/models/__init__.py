"""The symzoo model zoo.

Thirteen models, each a thin constructor over one private builder (as in
``keras.applications``)::

    from symzoo import models

    models.list()                      # the thirteen names, in a stable order
    model = models.blob1d_translation()           # compiled SymzooModel
    model = models.get("gcn")(learning_rate=1e-3)
    model = models.mnist_translation(weights="pretrained")
    models.spec("set_sum").epochs                 # training defaults, report figure

Every constructor is ``name(weights=None, compile=True, learning_rate=None,
seed=None, **hyperparameters)``; the defaults of each model are in its
module's ``DEFAULTS`` table (`translation`, `sets`, `graphs`, `cnn`, `torus`).
``weights`` is None, ``"pretrained"`` (from ``saved_models/<name>/``, which
``pip install`` puts inside the package, sha256-checked, see
`symzoo.models.weights`) or a path to a ``.keras`` / ``.weights.h5`` file.
Export and loading: `symzoo.models.export`.
"""

from symzoo.models.symzoo_model import SymzooModel  # noqa: I001  (first: used below)
from symzoo.models import registry, weights
from symzoo.models.registry import TASKS, ModelSpec, get, spec
from symzoo.models.sets import SumPooling, deepsets, set_sum
from symzoo.models.translation import blob1d_translation, blob2d_translation, mnist_translation
from symzoo.models.cnn import cnn1d, cnn2d, mnist_cnn
from symzoo.models.graphs import (
    GINConv,
    GraphConv,
    NodeOnes,
    NormalizedAdjacency,
    gcn,
    gin,
    graph_degree,
)
from symzoo.models.torus import torus_mnist_cnn, torus_mnist_fc
from symzoo.models.weights import ChecksumError, verify_manifest, write_manifest

# Every name of `registry.NAMES` must have been registered by the imports above.
if registry.names() != [*registry.NAMES]:  # pragma: no cover
    raise RuntimeError(f"Unregistered zoo models: {set(registry.NAMES) - set(registry.names())}")

# `list` shadows the builtin inside this module only (as ``models.list()``).
list = registry.names  # noqa: A001

__all__ = [
    "ChecksumError",
    "GINConv",
    "GraphConv",
    "ModelSpec",
    "NodeOnes",
    "NormalizedAdjacency",
    "SumPooling",
    "SymzooModel",
    "TASKS",
    "blob1d_translation",
    "blob2d_translation",
    "cnn1d",
    "cnn2d",
    "deepsets",
    "gcn",
    "get",
    "gin",
    "graph_degree",
    "list",
    "mnist_cnn",
    "mnist_translation",
    "registry",
    "set_sum",
    "spec",
    "torus_mnist_cnn",
    "torus_mnist_fc",
    "verify_manifest",
    "weights",
    "write_manifest",
]
