"""Symmetry analysis: what did a model learn, and what is its compact twin?

* `groups`: the tasks' groups (set permutations, cyclic translations by
  multiples of the strides, graph node permutations) acting on inputs and
  outputs;
* `projection`: Reynolds projections of symzoo kernels onto their
  equivariant subspaces, `norm_share`;
* `partition`: the partition exact weight ties induce, the true partition
  (orbits) of each task's group, and the partition distance of Yeh et al.;
* `metrics`: functional (relative equivariance error, task metrics on
  transformed inputs) and weight-space measures;
* `extraction`: `project_model` and `extract` (the compact convolution /
  DeepSets / α·I + β·11ᵀ model equal to the projected MLP);
* `orbit`: train on part of the translation orbit, test on all of it;
* `report`: ``inspect(...)`` writing ``report.md`` and ``symmetry.json``; the
  ``symzoo inspect`` command.

`groups`, `projection` and `metrics` need numpy only and are imported here;
`extraction`, `orbit` and `report` (Keras) are imported on first use.

>>> from symzoo import symmetry
>>> symmetry.projection.norm_share(model.layers[1].kernel, "translation")
>>> compact, info = symmetry.extraction.extract(model)
>>> symmetry.report.inspect("blob1d_translation", "reports/blob1d")
"""

import importlib

from symzoo.symmetry import groups, metrics, partition, projection
from symzoo.symmetry.groups import CyclicTranslation, GraphNodePermutation, SetPermutation
from symzoo.symmetry.metrics import equivariance_error, transformed_task_metrics
from symzoo.symmetry.projection import norm_share, project

_LAZY = ("extraction", "orbit", "report")
_LAZY_FUNCTIONS = {
    "extract": "extraction",
    "project_model": "extraction",
    "orbit_generalization": "orbit",
    "inspect": "report",
}


def __getattr__(name):
    if name in _LAZY:
        module = importlib.import_module(f"symzoo.symmetry.{name}")
        globals()[name] = module
        return module
    if name in _LAZY_FUNCTIONS:
        module = importlib.import_module(f"symzoo.symmetry.{_LAZY_FUNCTIONS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'symzoo.symmetry' has no attribute {name!r}")


__all__ = [
    "CyclicTranslation",
    "GraphNodePermutation",
    "SetPermutation",
    "equivariance_error",
    "extract",
    "extraction",
    "groups",
    "inspect",
    "metrics",
    "norm_share",
    "orbit",
    "orbit_generalization",
    "partition",
    "project",
    "project_model",
    "projection",
    "report",
    "transformed_task_metrics",
]
