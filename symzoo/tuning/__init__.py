"""Hyperparameter search of the zoo's models with KerasTuner.

* `SymzooHyperModel` (``symzoo.tuning.hypermodels``): a KerasTuner
  ``HyperModel`` of every zoo model, searching λ (``lam``), the offsets
  (``offset_b``, ``offset_b_prime``), the activation, the sparsity strength
  and the learning rate as declared by a search space;
* ``symzoo.tuning.spaces``: the search spaces as data (one default per model,
  committed as ``tuning/spaces/<name>.json``) and their validation;
* ``symzoo.tuning.search.search`` (also ``symzoo.tuning.tune``): a resumable random / Bayesian /
  Hyperband search, optionally distributed (KerasTuner chief/worker), that
  writes a summary (``symzoo.tuning.summary``);
* ``symzoo.tuning.cli``: the ``symzoo tune`` command.

KerasTuner and matplotlib are imported when first used, so ``import
symzoo.tuning`` stays cheap.
"""

import importlib

_LAZY = {
    "SymzooHyperModel": ("symzoo.tuning.hypermodels", "SymzooHyperModel"),
    "tune": ("symzoo.tuning.search", "search"),
    "default_space": ("symzoo.tuning.spaces", "default_space"),
    "load_space": ("symzoo.tuning.spaces", "load"),
    "validate_space": ("symzoo.tuning.spaces", "validate"),
    "write_spaces": ("symzoo.tuning.spaces", "write_spaces"),
}
_SUBMODULES = ("cli", "hypermodels", "search", "spaces", "summary")

__all__ = sorted(_LAZY) + list(_SUBMODULES)


def __getattr__(name):
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"symzoo.tuning.{name}")
    raise AttributeError(f"module 'symzoo.tuning' has no attribute {name!r}")
