#!/bin/sh
# The search behind tuning/mnist_translation/summary.md, with its noise estimate and its
# untuned baseline (tuning/mnist_translation/reference/): 24k training digits, 6k
# validation digits, 4 epochs per trial with a per-epoch cosine decay of the learning rate
# (the shipped row's schedule), CPU. Run from the repository root with SYMZOO_MNIST_DIR set
# to the MNIST IDX directory; PYTHON defaults to python.
#
# 1. References, each trained with seeds 0, 1, 2 (the seed draws the data subset and the
#    initial weights) at the search's budget:
#    - shipped: the recipe of mnist_translation's pretrained model; its spread over seeds
#      is the search's noise estimate;
#    - default: mnist_translation() untuned (the report's offsets and λ).
# 2. Search: a random search of 16 trials over tuning/mnist_translation/search_space.json
#    (λ log-uniform in [0.1, 1000], both sharing forms, offsets, activation, learning
#    rate; cosine schedule). The summary reads the references (--reference) and says by how
#    many noise standard deviations the best trial beats each.
set -e
PYTHON=${PYTHON:-python}
BUDGET="--epochs 4 --sizes 24000 6000 10000 --batch-size 128"
DIR=tuning/mnist_translation
for ref in shipped default; do
  for seed in 0 1 2; do
    $PYTHON -m symzoo tune mnist_translation --space $DIR/reference/$ref/space.json \
      --max-trials 1 $BUDGET --seed $seed --project-name mnist_sharing_${ref}_seed$seed \
      --summary-dir $DIR/reference/$ref/seed$seed --no-test
  done
done
$PYTHON -m symzoo tune mnist_translation --space $DIR/search_space.json --tuner random \
  --max-trials 16 $BUDGET --seed 0 --project-name mnist_sharing_cosine \
  --reference "shipped recipe=$DIR/reference/shipped" \
  --reference "untuned default=$DIR/reference/default" \
  --summary-dir $DIR
