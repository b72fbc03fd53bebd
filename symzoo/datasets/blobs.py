"""Blob classification data sets, invariant under cyclic translations."""

import numpy as np

from symzoo import _validation
from symzoo.datasets import splits as _splits

BLOB1D_CLASSES = 5
BLOB2D_CLASSES = 3


def _noisy(rng, x, noise):
    if noise > 0:
        x += rng.normal(0.0, noise, size=x.shape).astype(np.float32)
    np.clip(x, 0.0, 1.0, out=x)
    return x


def _blob_splits(name, num_classes, draw, seed, sizes, noise, amplitude, **geometry):
    """The sampling loop shared by the blob generators (after they validated
    ``sizes`` and ``geometry``).

    Validates ``noise`` and ``amplitude``; then for each split (one generator
    each, see `splits.split_rngs`): balanced labels ``y``, the clean float32
    images ``draw(rng, y, (low, high), **geometry)``, noise and clipping.
    ``geometry`` (the image size) goes into ``info`` after ``sizes``.
    """
    noise = _validation.non_negative_float("noise", noise)
    amplitude = _splits.check_amplitude(amplitude)
    data = []
    for rng, n in zip(_splits.split_rngs(seed), sizes):
        y = _splits.balanced_labels(rng, n, num_classes)
        data.append((_noisy(rng, draw(rng, y, amplitude, **geometry), noise), y))
    return _splits.Splits(
        *data,
        name=name,
        seed=int(seed),
        info={
            "sizes": sizes,
            **geometry,
            "noise": noise,
            "amplitude": amplitude,
            "num_classes": num_classes,
        },
    )


def blob1d(
    seed=0,
    sizes=(35000, 10000, 5000),
    length=10,
    noise=0.15,
    amplitude=(0.5, 1.0),
):
    """Generates the 1-D blob classification data set (5 classes).

    Definition (the report leaves it vague; this is the one implemented):
    class ``c`` in ``0..4`` is a rectangular blob of width ``c + 1`` pixels
    on a 1-D image of ``length`` pixels. The blob has a random amplitude
    ``a ~ U(amplitude[0], amplitude[1])`` and starts at a uniformly random
    pixel ``s``; pixels ``s, s+1, ..., s+c`` (taken modulo ``length``, i.e.
    with cyclic wrap-around) are set to ``a``, all others to 0. I.i.d. Gaussian
    noise of standard deviation ``noise`` is then added and the image is
    clipped to ``[0, 1]``. Because the start is uniform and wraps around, the
    distribution of each class is exactly invariant under cyclic shifts.
    Classes are balanced (counts differ by at most one) in random order.

    Report split sizes: 35000 train / 10000 validation / 5000 test, length 10.

    Args:
        seed: non-negative integer; the data is a deterministic function of it.
        sizes: ``(n_train, n_val, n_test)``.
        length: number of pixels (at least 5, the widest blob).
        noise: standard deviation of the additive Gaussian noise (>= 0).
        amplitude: ``(low, high)`` range of the blob amplitude, within [0, 1].

    Returns:
        `Splits` with ``x``: float32 ``(N, length)`` in ``[0, 1]`` and
        ``y``: int32 ``(N,)`` class labels.
    """
    sizes = _splits.check_sizes(sizes)
    length = _validation.positive_int("length", length)
    if length < BLOB1D_CLASSES:
        raise ValueError(
            f"Expected `length` to be at least {BLOB1D_CLASSES} (the widest blob). "
            f"Received: length={length!r}"
        )
    return _blob_splits(
        "blob1d", BLOB1D_CLASSES, _draw_blob1d, seed, sizes, noise, amplitude, length=length
    )


def _draw_blob1d(rng, y, amplitude, length):
    """Clean blob1d images ``(N, length)`` for the labels ``y``."""
    n = len(y)
    offsets = np.arange(BLOB1D_CLASSES)
    amp = rng.uniform(*amplitude, size=n).astype(np.float32)
    start = rng.integers(0, length, size=n)
    x = np.zeros((n, length), dtype=np.float32)
    mask = offsets[None, :] <= y[:, None]  # width c + 1
    rows = np.broadcast_to(np.arange(n)[:, None], mask.shape)[mask]
    cols = ((start[:, None] + offsets[None, :]) % length)[mask]
    x[rows, cols] = amp[rows]
    return x


def _blob2d_shapes():
    """Pixel offsets ``(k, 2)`` of every variant of every class."""
    line = np.array([(0, j) for j in range(4)])
    triangle = np.array([(i, j) for i in range(4) for j in range(4) if i + j <= 3])
    square = np.array([(i, j) for i in range(3) for j in range(3)])
    return [
        [line, line[:, ::-1]],  # horizontal, vertical
        [  # right angle at each of the four corners of the 4x4 box
            triangle,
            np.stack([triangle[:, 0], 3 - triangle[:, 1]], axis=1),
            np.stack([3 - triangle[:, 0], triangle[:, 1]], axis=1),
            3 - triangle,
        ],
        [square],
    ]


BLOB2D_PIXELS = (4, 10, 9)  # lit pixels of line, triangle, square


def blob2d(seed=0, sizes=(21000, 6000, 3000), size=10, noise=0.05, amplitude=(1.0, 1.0)):
    """Generates the 2-D blob classification data set (3 classes).

    Definition: images are ``size x size``; each holds one shape:

    * class 0, line: a straight segment of 4 pixels, horizontal or vertical
      (each with probability 1/2);
    * class 1, filled right triangle with legs of 4 pixels (10 pixels), its
      right angle at one of the four corners of its 4x4 bounding box, chosen
      uniformly;
    * class 2, a filled 3x3 square (9 pixels).

    The shape's bounding box has its top-left corner at a uniformly random
    pixel, with cyclic wrap-around on both axes (so each class distribution
    is exactly invariant under cyclic 2-D translations). Shape pixels have
    value ``a ~ U(amplitude[0], amplitude[1])`` (1 by default), the rest 0;
    i.i.d. Gaussian noise of standard deviation ``noise`` is added and the
    image clipped to ``[0, 1]``. Classes are balanced, in random order.

    Report split sizes: 21000 train / 6000 validation / 3000 test, 10x10.

    Args:
        seed: non-negative integer; the data is a deterministic function of it.
        sizes: ``(n_train, n_val, n_test)``.
        size: image side (at least 4).
        noise: standard deviation of the additive Gaussian noise (>= 0).
        amplitude: ``(low, high)`` range of the shape intensity, within [0, 1].

    Returns:
        `Splits` with ``x``: float32 ``(N, size, size)`` in ``[0, 1]`` and
        ``y``: int32 ``(N,)`` class labels.
    """
    sizes = _splits.check_sizes(sizes)
    size = _validation.positive_int("size", size)
    if size < 4:
        raise ValueError(
            f"Expected `size` to be at least 4 (the largest shape). Received: size={size!r}"
        )
    return _blob_splits(
        "blob2d", BLOB2D_CLASSES, _draw_blob2d, seed, sizes, noise, amplitude, size=size
    )


def _draw_blob2d(rng, y, amplitude, size):
    """Clean blob2d images ``(N, size, size)`` for the labels ``y``."""
    n = len(y)
    shapes = _blob2d_shapes()
    variant = rng.integers(0, 4, size=n)
    amp = rng.uniform(*amplitude, size=n).astype(np.float32)
    corner = rng.integers(0, size, size=(n, 2))
    x = np.zeros((n, size, size), dtype=np.float32)
    for c, variants in enumerate(shapes):
        for v, offsets in enumerate(variants):
            idx = np.flatnonzero((y == c) & (variant % len(variants) == v))
            r = (corner[idx, 0:1] + offsets[None, :, 0]) % size
            q = (corner[idx, 1:2] + offsets[None, :, 1]) % size
            x[idx[:, None], r, q] = amp[idx, None]
    return x
