#!/bin/sh
# The grid search behind tuning/mnist_translation_grid/summary.md: every combination of
# tuning/mnist_translation_grid/search_space.json (sharing form × λ × learning rate, 16
# trials) at the budget of the random search (tuning/launch/mnist_sharing_search.sh: 24k
# training digits, 6k validation digits, 4 epochs per trial, cosine decay, seed 0), whose
# references (tuning/mnist_translation/reference/, made by that script) give the noise
# estimate and the untuned baseline. Run from the repository root with SYMZOO_MNIST_DIR
# set to the MNIST IDX directory; PYTHON defaults to python.
set -e
PYTHON=${PYTHON:-python}
BUDGET="--epochs 4 --sizes 24000 6000 10000 --batch-size 128"
$PYTHON -m symzoo tune mnist_translation --space tuning/mnist_translation_grid/search_space.json \
  --tuner grid --max-trials 16 $BUDGET --seed 0 --project-name mnist_sharing_grid \
  --reference "shipped recipe=tuning/mnist_translation/reference/shipped" \
  --reference "untuned default=tuning/mnist_translation/reference/default" \
  --summary-dir tuning/mnist_translation_grid
