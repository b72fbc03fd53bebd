"""Torus MNIST: 14×14 MNIST digits rolled cyclically, optionally with shuffled pixels."""

import numpy as np

from symzoo.datasets import mnist as _mnist
from symzoo.datasets import splits as _splits

SIDE = 14  # side of a pooled digit
PIXELS = SIDE * SIDE


def pixel_permutation(seed):
    """The permutation of the 196 pixels used by ``torus_mnist(pixel_permutation=seed)``:
    ``numpy.random.default_rng(seed).permutation(196)`` (int64)."""
    return np.random.default_rng(_splits.check_seed(seed)).permutation(PIXELS)


def _pool(digits, lut):
    """(N, 28, 28) uint8 → (N, 14, 14) float32: /255 then 2×2 average pooling."""
    x = lut[digits]
    return x.reshape(len(x), SIDE, 2, SIDE, 2).mean(axis=(2, 4), dtype=np.float32)


def _roll(x, shifts):
    """Rolls each image ``x[i]`` cyclically by ``shifts[i] = (u, v)`` (rows, columns)."""
    rows = (np.arange(SIDE)[None, :] - shifts[:, :1]) % SIDE  # (N, 14)
    cols = (np.arange(SIDE)[None, :] - shifts[:, 1:]) % SIDE
    n = np.arange(len(x))[:, None, None]
    return x[n, rows[:, :, None], cols[:, None, :]]


def torus_mnist(
    seed=0,
    data_dir=None,
    sizes=(48000, 12000, 10000),
    pixel_permutation=None,
):
    """Generates torus MNIST: pooled digits on a 14×14 torus, at random cyclic shifts.

    Definition (exactly):

    1. each 28×28 MNIST digit is scaled to ``[0, 1]`` (``/ 255``) and
       average-pooled 2×2 to 14×14;
    2. it is rolled cyclically by ``(u, v)`` (rows, columns; ``numpy.roll``
       semantics, wrapping around the torus), with u and v uniform integers in
       0..13 drawn once per MNIST image from the data seed ``seed``;
    3. splits: train / validation / test = 48000 / 12000 / 10000 by default.
       Train and validation come from MNIST's 60000 training images shuffled
       with ``seed`` (train: the first ``n_train``; validation: the ``n_val``
       from index 48000 on, or right after train when ``n_train > 48000``),
       test from the official 10000 test images (the first ``n_test`` after a
       seeded shuffle). Smaller sizes give subsets of the full-size splits;
    4. ``pixel_permutation`` (a seed or None): when a seed, one permutation
       ``perm = numpy.random.default_rng(pixel_permutation).permutation(196)``
       is drawn once and applied to every split:
       ``x.reshape(N, 196)[:, perm].reshape(N, 14, 14)``. The locality of the
       pixels is destroyed; the translation group acts by a permuted
       (but still cyclic) action, which a fully-connected model with all-pairs
       sharing can discover and a CNN cannot exploit.

    The cyclic translation group Z_14 × Z_14 acts on these images exactly
    (no pixels fall off the canvas), so the label is translation invariant.

    Args:
        seed: non-negative integer; the data is a deterministic function of it
            (and of ``pixel_permutation``).
        data_dir: directory with the MNIST IDX files (or ``SYMZOO_MNIST_DIR``),
            see `symzoo.datasets.load_mnist`.
        sizes: ``(n_train, n_val, n_test)`` with ``n_train + n_val <= 60000``
            and ``n_test <= 10000``.
        pixel_permutation: None (plain pixels) or a non-negative integer seed.

    Returns:
        `Splits` with ``x``: float32 ``(N, 14, 14)`` in ``[0, 1]``, ``y``:
        int32 ``(N,)`` digit labels; ``info`` holds ``sizes``, the shifts'
        description and ``pixel_permutation`` (the 196 ints, or None).
    """
    sizes = _splits.check_sizes(
        sizes,
        maximum=(_mnist.MNIST_TRAIN_SIZE, _mnist.MNIST_TRAIN_SIZE, _mnist.MNIST_TEST_SIZE),
    )
    n_train, n_val, n_test = sizes
    if n_train + n_val > _mnist.MNIST_TRAIN_SIZE:
        raise ValueError(
            f"Expected `sizes` to have n_train + n_val <= {_mnist.MNIST_TRAIN_SIZE} "
            f"(both come from MNIST's training set). Received: sizes={sizes!r}"
        )
    seed = _splits.check_seed(seed)
    perm = None
    if pixel_permutation is not None:
        if isinstance(pixel_permutation, bool) or not isinstance(pixel_permutation, int):
            raise ValueError(
                "Expected `pixel_permutation` to be None or a non-negative integer "
                f"seed. Received: pixel_permutation={pixel_permutation!r}"
            )
        perm = globals()["pixel_permutation"](pixel_permutation)

    (x_train, y_train), (x_test, y_test) = _mnist.load_mnist_for_sizes(data_dir, sizes)

    def draw_shifts(rng, count):
        return rng.integers(0, SIDE, size=(count, 2))

    data = []
    splits = _mnist.select_splits(
        (x_train, y_train), (x_test, y_test), sizes, seed, draw_shifts, draw_shifts
    )
    for _, xs, index, labels, shifts in splits:
        n = len(index)
        x = _roll(_pool(xs[index], _mnist.BYTE_TO_UNIT), shifts)
        if perm is not None:
            x = x.reshape(n, PIXELS)[:, perm].reshape(n, SIDE, SIDE)
        data.append((np.ascontiguousarray(x, dtype=np.float32), labels))
    return _splits.Splits(
        *data,
        name="torus_mnist",
        seed=seed,
        info={
            "sizes": sizes,
            "shifts": "uniform (u, v) in 0..13, cyclic",
            "pixel_permutation_seed": pixel_permutation,
            "pixel_permutation": None if perm is None else [int(i) for i in perm],
        },
    )


__all__ = ["PIXELS", "SIDE", "pixel_permutation", "torus_mnist"]
