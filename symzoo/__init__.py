"""symzoo: symmetry discovery with plain fully-connected Keras layers.

Sub-modules are imported lazily so that ``import symzoo`` stays cheap:

>>> from symzoo import models
>>> model = models.mnist_translation()
"""

import importlib

__version__ = "0.1.0"

_SUBMODULES = (
    "layers",
    "regularizers",
    "datasets",
    "models",
    "training",
    "metrics",
    "plots",
    "tuning",
    "symmetry",
    "reproduce",
)

__all__ = list(_SUBMODULES) + ["__version__"]


def __getattr__(name):
    if name in _SUBMODULES:
        module = importlib.import_module(f"symzoo.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'symzoo' has no attribute {name!r}")
