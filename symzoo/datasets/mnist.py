"""MNIST loading (IDX files, no network needed) and the padded-MNIST data set."""

import gzip
import os
import zlib

import numpy as np

from symzoo import _validation
from symzoo.datasets import splits as _splits

ENV_VAR = "SYMZOO_MNIST_DIR"
MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
MNIST_TRAIN_SIZE = 60000
MNIST_TEST_SIZE = 10000
DIGIT = 28  # side of an MNIST digit

# IDX header: two zero bytes, a type code (0x08 = unsigned byte), the rank.
_IDX_UBYTE = 0x08


def _find_file(directory, name):
    for candidate in (name, name + ".gz"):
        path = os.path.join(directory, candidate)
        if os.path.isfile(path):
            return path
    return None


def read_idx(path, expected_rank):
    """Reads one unsigned-byte IDX file (plain or ``.gz``) into a uint8 array.

    Raises ValueError naming the file when the magic number, the header or
    the amount of data is wrong (truncated or corrupted file).
    """
    try:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as e:  # BadGzipFile is an OSError
        raise ValueError(
            f"Expected `{path}` to be a readable (gzipped) IDX file. "
            f"Received: a file that cannot be read ({e})."
        ) from None
    header = 4 + 4 * expected_rank
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != _IDX_UBYTE or raw[3] != expected_rank:
        raise ValueError(
            f"Expected `{path}` to be an IDX file of unsigned bytes with rank "
            f"{expected_rank} (magic number 0x{0x0800 + expected_rank:08x}). "
            f"Received: magic bytes {raw[:4].hex() or '(empty file)'}."
        )
    if len(raw) < header:
        raise ValueError(
            f"Expected `{path}` to hold a {header}-byte IDX header. "
            f"Received: a file of {len(raw)} bytes (truncated)."
        )
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=expected_rank, offset=4))
    expected = int(np.prod(shape, dtype=np.int64))
    if len(raw) - header != expected:
        raise ValueError(
            f"Expected `{path}` to hold {expected} bytes of data for shape {shape}. "
            f"Received: {len(raw) - header} bytes (truncated or corrupted file)."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape).copy()


def _check_mnist(x, y, where, split):
    if x.ndim != 3 or x.shape[1:] != (DIGIT, DIGIT) or y.ndim != 1 or len(x) != len(y):
        raise ValueError(
            f"Expected MNIST {split} images of shape (N, 28, 28) and labels of "
            f"shape (N,) in {where}. Received: images.shape={x.shape}, "
            f"labels.shape={y.shape}"
        )
    if len(y) and int(y.max()) > 9:
        raise ValueError(
            f"Expected MNIST {split} labels in 0..9 in {where}. "
            f"Received: a label {int(y.max())}."
        )
    return x.astype(np.uint8, copy=False), y.astype(np.uint8, copy=False)


def _load_dir(directory):
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            f"Expected `data_dir` to be a directory holding the MNIST IDX files "
            f"{', '.join(MNIST_FILES)} (each plain or .gz). "
            f"Received: data_dir={directory!r}, which does not exist."
        )
    paths = {name: _find_file(directory, name) for name in MNIST_FILES}
    missing = [name for name, path in paths.items() if path is None]
    if missing:
        raise FileNotFoundError(
            f"Expected the MNIST IDX files {', '.join(MNIST_FILES)} (each plain "
            f"or .gz) in data_dir={directory!r}. Received: a directory missing "
            f"{', '.join(missing)}."
        )
    arrays = [
        read_idx(paths[name], expected_rank=3 if "images" in name else 1)
        for name in MNIST_FILES
    ]
    train = _check_mnist(arrays[0], arrays[1], directory, "train")
    test = _check_mnist(arrays[2], arrays[3], directory, "test")
    return train, test


def load_mnist(data_dir=None):
    """Loads MNIST as uint8 arrays ``((x_train, y_train), (x_test, y_test))``.

    Search order:

    1. ``data_dir`` if given, else the environment variable ``SYMZOO_MNIST_DIR``:
       the directory must hold the IDX files ``train-images-idx3-ubyte``,
       ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
       ``t10k-labels-idx1-ubyte``, each plain or gzipped (``.gz``).
    2. Otherwise ``keras.datasets.mnist.load_data()`` (needs network access
       or Keras's cache in ``~/.keras/datasets``).

    Raises:
        FileNotFoundError: the directory does not exist or lacks files, or no
            directory is set and Keras cannot load MNIST.
        ValueError: an IDX file is corrupted or has the wrong shape.
    """
    if data_dir is None:
        data_dir = os.environ.get(ENV_VAR) or None
    if data_dir is not None:
        return _load_dir(os.fspath(data_dir))
    try:
        from keras.datasets import mnist as keras_mnist

        (x_train, y_train), (x_test, y_test) = keras_mnist.load_data()
    except Exception as e:  # no network and no cache, most likely
        keras_cache = os.path.join(
            os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras"),
            "datasets",
        )
        raise FileNotFoundError(
            "Expected the MNIST IDX files "
            f"{', '.join(MNIST_FILES)} (each plain or .gz) in a directory "
            f"passed as `data_dir=` or set in the environment variable "
            f"{ENV_VAR}. Received: data_dir=None and {ENV_VAR} unset; searched "
            f"only Keras's cache {keras_cache!r} via "
            f"keras.datasets.mnist.load_data(), which failed: {e}"
        ) from e
    where = "keras.datasets.mnist"
    return (
        _check_mnist(np.asarray(x_train), np.asarray(y_train), where, "train"),
        _check_mnist(np.asarray(x_test), np.asarray(y_test), where, "test"),
    )



def load_mnist_for_sizes(data_dir, sizes):
    """`load_mnist`, checked to hold ``sizes = (train, val, test)`` digits.

    Train and validation digits come from the official training file, test
    digits from the official test file.
    """
    n_train, n_val, n_test = sizes
    (x_train, y_train), (x_test, y_test) = load_mnist(data_dir)
    if len(x_train) < n_train + n_val or len(x_test) < n_test:
        raise ValueError(
            f"Expected `sizes` to fit the MNIST data found ({len(x_train)} train, "
            f"{len(x_test)} test images). Received: sizes={sizes!r}"
        )
    return (x_train, y_train), (x_test, y_test)


#: uint8 pixel value → float32 in [0, 1] (a lookup table: v / 255).
BYTE_TO_UNIT = np.arange(256, dtype=np.float32) / np.float32(255)


def select_splits(train, test, sizes, seed, draw_train, draw_test):
    """The digits of each split and one random draw per digit (e.g. its position).

    Shared by the MNIST-derived data sets. From ``np.random.default_rng(seed)``
    two streams are spawned, one for the official training file and one for
    the test file; each draws a permutation of its digits, then
    ``draw(rng, count)`` (an array with one row per digit). Train takes the
    first ``n_train`` permuted training digits, validation ``n_val`` digits
    from index ``max(n_train, 48000)`` (clipped to the file), test the first
    ``n_test`` permuted test digits, so smaller sizes give subsets.

    Yields:
        ``(split name, images, index, labels int32, draws)`` for train, val,
        test: the split's digits are ``images[index]``.
    """
    (x_train, y_train), (x_test, y_test) = train, test
    n_train, n_val, n_test = sizes
    rng_train, rng_test = np.random.default_rng(seed).spawn(2)
    perm_train = rng_train.permutation(len(x_train))
    draws_train = draw_train(rng_train, len(x_train))
    perm_test = rng_test.permutation(len(x_test))
    draws_test = draw_test(rng_test, len(x_test))
    val_start = min(max(n_train, MNIST_TRAIN_SIZE - 12000), len(x_train) - n_val)
    selections = [
        (x_train, y_train, perm_train, draws_train, 0, n_train),
        (x_train, y_train, perm_train, draws_train, val_start, n_val),
        (x_test, y_test, perm_test, draws_test, 0, n_test),
    ]
    for name, (xs, ys, perm, draws, start, n) in zip(_splits.SPLIT_NAMES, selections):
        index = perm[start : start + n]
        yield name, xs, index, ys[index].astype(np.int32), draws[start : start + n]


def _uniform_positions(canvas):
    def draw(rng, count):
        return rng.integers(0, canvas - DIGIT + 1, size=(count, 2))

    return draw

def _check_train_region(train_region, canvas):
    limit = canvas - DIGIT
    message = (
        "Expected `train_region` to be None or ((r0, r1), (c0, c1)), inclusive "
        f"ranges of top-left positions with 0 <= r0 <= r1 <= {limit} and "
        f"0 <= c0 <= c1 <= {limit} (canvas={canvas}). "
        f"Received: train_region={train_region!r}"
    )
    try:
        rows, cols = train_region
        region = (
            _validation.int_tuple("train_region", rows, length=2),
            _validation.int_tuple("train_region", cols, length=2),
        )
    except (TypeError, ValueError):
        raise ValueError(message) from None
    for lo, hi in region:
        if not 0 <= lo <= hi <= limit:
            raise ValueError(message)
    return region


def _paste(out, digits, index, positions, lut):
    """Pastes ``digits[index[i]]`` (scaled by ``lut``) into ``out[i]`` in place."""
    for i, (j, (r, c)) in enumerate(zip(index, positions)):
        out[i, r : r + DIGIT, c : c + DIGIT] = lut[digits[j]]


def _check_finite(name, x, block=4096):
    # In blocks, to avoid a full-size boolean temporary.
    for start in range(0, len(x), block):
        _validation.finite_array(name, x[start : start + block])


def padded_mnist(
    seed=0,
    data_dir=None,
    sizes=(48000, 12000, 10000),
    canvas=56,
    train_region=None,
):
    """Generates padded MNIST: digits at random positions on a larger canvas.

    Definition: each 28x28 MNIST digit, scaled to ``[0, 1]`` (``/ 255``), is
    pasted unchanged at a uniformly random top-left position ``(r, c)`` with
    ``0 <= r, c <= canvas - 28`` (no wrap-around) into a ``canvas x canvas``
    image of zeros. Train and validation examples come from MNIST's 60000
    training images, shuffled with ``seed``: train is the first ``n_train``,
    validation the ``n_val`` images from index 48000 on (or right after the
    train images when ``n_train > 48000``), so smaller sizes give subsets of
    the full-size splits. Test examples are the first ``n_test`` of the
    shuffled 10000 MNIST test images. Every image's position is drawn once
    per MNIST image, independently of ``sizes``.

    Report split sizes: 48000 train / 12000 validation / 10000 test, 56x56.
    At full size this is about 880 MB of float32 (built in place).

    Args:
        seed: non-negative integer; the data is a deterministic function of it.
        data_dir: directory with the MNIST IDX files, see `load_mnist`.
        sizes: ``(n_train, n_val, n_test)`` with ``n_train + n_val <= 60000``
            and ``n_test <= 10000``.
        canvas: side of the output image (>= 28).
        train_region: optional ``((r0, r1), (c0, c1))``: inclusive ranges of
            the top-left positions allowed for train and validation examples
            (drawn uniformly inside it); test positions stay uniform over the
            whole canvas. Used for orbit-generalisation experiments.

    Returns:
        `Splits` with ``x``: float32 ``(N, canvas, canvas)`` in ``[0, 1]`` and
        ``y``: int32 ``(N,)`` digit labels.
    """
    sizes = _splits.check_sizes(sizes, maximum=(MNIST_TRAIN_SIZE, MNIST_TRAIN_SIZE, MNIST_TEST_SIZE))
    n_train, n_val, n_test = sizes
    if n_train + n_val > MNIST_TRAIN_SIZE:
        raise ValueError(
            f"Expected `sizes` to have n_train + n_val <= {MNIST_TRAIN_SIZE} (both "
            f"come from MNIST's training set). Received: sizes={sizes!r}"
        )
    canvas = _validation.positive_int("canvas", canvas)
    if canvas < DIGIT:
        raise ValueError(
            f"Expected `canvas` to be at least {DIGIT}. Received: canvas={canvas!r}"
        )
    seed = _splits.check_seed(seed)
    if train_region is not None:
        train_region = _check_train_region(train_region, canvas)

    (x_train, y_train), (x_test, y_test) = load_mnist_for_sizes(data_dir, sizes)

    if train_region is None:
        draw_train = _uniform_positions(canvas)
    else:
        (r0, r1), (c0, c1) = train_region

        def draw_train(rng, count):
            return np.stack(
                [rng.integers(r0, r1 + 1, size=count), rng.integers(c0, c1 + 1, size=count)],
                axis=1,
            )

    data = []
    splits = select_splits(
        (x_train, y_train), (x_test, y_test), sizes, seed, draw_train, _uniform_positions(canvas)
    )
    for name, xs, index, labels, pos in splits:
        out = np.zeros((len(index), canvas, canvas), dtype=np.float32)
        _paste(out, xs, index, pos, BYTE_TO_UNIT)
        _check_finite(f"x_{name}", out)
        data.append((out, labels))
    return _splits.Splits(
        *data,
        name="padded_mnist",
        seed=seed,
        info={
            "sizes": sizes,
            "canvas": canvas,
            "train_region": train_region,
        },
    )
