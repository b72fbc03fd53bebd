"""Set-sum regression: a permutation-invariant target."""

import numpy as np

from symzoo import _validation
from symzoo.datasets import splits as _splits


def set_sum(seed=0, sizes=(8000, 1000, 1000), set_size=10):
    """Generates the set-sum regression data set.

    Definition: each example is a set of ``set_size`` numbers drawn i.i.d.
    from ``U[0, 1]``; the target is their sum. The target is invariant under
    every permutation of the inputs (the symmetric group S_set_size).

    Report split sizes: 8000 train / 1000 validation / 1000 test, sets of 10.

    Args:
        seed: non-negative integer; the data is a deterministic function of it.
            Each split has its own random stream, so changing one split's size
            leaves the others unchanged.
        sizes: ``(n_train, n_val, n_test)``.
        set_size: number of elements per set.

    Returns:
        `Splits` with ``x``: float32 ``(N, set_size)`` in ``[0, 1)`` and
        ``y``: float32 ``(N, 1)``, ``y = x.sum(axis=1, keepdims=True)``.
    """
    sizes = _splits.check_sizes(sizes)
    set_size = _validation.positive_int("set_size", set_size)
    rngs = _splits.split_rngs(seed)
    data = []
    for rng, n in zip(rngs, sizes):
        x = rng.random((n, set_size), dtype=np.float32)
        y = x.sum(axis=1, keepdims=True, dtype=np.float64).astype(np.float32)
        data.append((x, y))
    return _splits.Splits(
        *data,
        name="set_sum",
        seed=int(seed),
        info={"sizes": sizes, "set_size": set_size},
    )
