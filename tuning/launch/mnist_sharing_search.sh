#!/bin/sh
# The search behind tuning/mnist_translation/summary.md and its noise estimate
# (tuning/mnist_translation/noise/): 6k training digits, 2 epochs per trial, constant
# learning rate, CPU. Run from the repository root with SYMZOO_MNIST_DIR set to the MNIST
# IDX directory; PYTHON defaults to python.
#
# 1. Noise: one configuration (tuning/mnist_translation/noise/space.json) trained with
#    seeds 0, 1, 2 (the seed draws the data subset and the initial weights).
# 2. Search: a random search of 8 trials over the built-in space
#    mnist_translation_sharing (λ log-uniform in [0.1, 1000], both sharing forms, offsets,
#    activation, learning rate).
set -e
PYTHON=${PYTHON:-python}
BUDGET="--epochs 2 --sizes 6000 2000 2000 --batch-size 128"
for seed in 0 1 2; do
  $PYTHON -m symzoo tune mnist_translation --space tuning/mnist_translation/noise/space.json \
    --max-trials 1 $BUDGET --seed $seed --project-name mnist_sharing_noise_seed$seed \
    --summary-dir tuning/mnist_translation/noise/seed$seed --no-test
done
$PYTHON -m symzoo tune mnist_translation --space mnist_translation_sharing --tuner random \
  --max-trials 8 $BUDGET --seed 0 --project-name mnist_sharing \
  --summary-dir tuning/mnist_translation
