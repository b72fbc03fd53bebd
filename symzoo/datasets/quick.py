"""The data budgets of ``quick=True`` runs (smoke runs and tests), in one place.

Four commands take ``quick``. Their budgets differ on purpose, so they are four
named entries here rather than one number (changing one would change results
committed with that command's ``--quick``):

* `TRAIN_SIZES`, `TRAIN_GRAPH_EXAMPLES`: ``symzoo train/reproduce --quick``, a
  smoke run that only has to run end to end;
* `TUNE_SIZES`, `TUNE_GRAPHS`: ``symzoo tune --quick``, which must still tell
  hyperparameters apart (e.g. the committed ``tuning/blob1d_translation``
  search was run with it);
* `INSPECT_EXAMPLES`, `INSPECT_GRAPHS`: the test examples of
  ``symzoo inspect --quick``;
* `ORBIT_SIZES`: ``symzoo inspect --orbit --quick`` (a larger test split: it
  is split again into in-region and out-of-region examples).
"""

#: Split sizes ``(train, val, test)`` of `symzoo.training.train` with ``quick=True``.
TRAIN_SIZES = (256, 64, 64)
#: Number of examples (all splits) of graph_degree with ``quick=True`` in training.
TRAIN_GRAPH_EXAMPLES = 384
#: Split sizes of a quick search, per data set (graph_degree: `TUNE_GRAPHS`).
TUNE_SIZES = {
    "set_sum": (512, 128, 128),
    "blob1d": (512, 128, 128),
    "blob2d": (512, 128, 128),
    "padded_mnist": (1000, 500, 500),
}
#: Number of base graphs of a quick search (graph_degree sizes are fractions).
TUNE_GRAPHS = 100
#: Test examples of a quick symmetry report.
INSPECT_EXAMPLES = 256
#: Number of base graphs of a quick symmetry report.
INSPECT_GRAPHS = 512
#: Split sizes of a quick orbit-generalisation run.
ORBIT_SIZES = (256, 64, 256)
