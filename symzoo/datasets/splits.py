"""The `Splits` container shared by all dataset generators, and tf.data conversion.

TensorFlow is imported lazily inside the functions that need it, so that
``import symzoo.datasets`` stays cheap (numpy only).
"""

import dataclasses
import numbers

import numpy as np

from symzoo import _validation

SPLIT_NAMES = ("train", "val", "test")


@dataclasses.dataclass(frozen=True, eq=False)
class Splits:
    """Train/validation/test data of one generated data set.

    Attributes:
        train: tuple ``(x, y)`` of numpy arrays.
        val: tuple ``(x, y)`` of numpy arrays.
        test: tuple ``(x, y)`` of numpy arrays.
        name: name of the generator (e.g. ``"set_sum"``).
        seed: seed the data was generated with.
        info: dict of the generation parameters (plain Python values).

    The arrays are not copied; the container itself is frozen (fields cannot
    be reassigned). Equality is identity (comparing numpy arrays
    element-wise is left to the caller).
    """

    train: tuple
    val: tuple
    test: tuple
    name: str = ""
    seed: int = 0
    info: dict = dataclasses.field(default_factory=dict)

    def __getitem__(self, split):
        """``splits["train"]`` is ``splits.train``."""
        return getattr(self, _validation.one_of("split", split, SPLIT_NAMES))

    def sizes(self):
        """Number of examples in ``(train, val, test)``."""
        return tuple(len(getattr(self, s)[1]) for s in SPLIT_NAMES)

    def as_tf_dataset(self, split, batch_size=128, shuffle=None, seed=None):
        """Returns one split as a batched, prefetched ``tf.data.Dataset`` of ``(x, y)``.

        Args:
            split: one of ``"train"``, ``"val"``, ``"test"``.
            batch_size: positive integer.
            shuffle: whether to reshuffle every epoch; defaults to ``True`` for
                ``"train"`` and ``False`` otherwise.
            seed: shuffle seed; defaults to the seed the data was generated
                with, so the order of batches is deterministic.
        """
        _validation.one_of("split", split, SPLIT_NAMES)
        if shuffle is None:
            shuffle = split == "train"
        if seed is None:
            seed = self.seed
        x, y = getattr(self, split)
        return to_tf_dataset(x, y, batch_size=batch_size, shuffle=shuffle, seed=seed)

    def __repr__(self):
        shapes = ", ".join(
            f"{s}={tuple(getattr(self, s)[0].shape)}" for s in SPLIT_NAMES
        )
        return f"Splits(name={self.name!r}, seed={self.seed}, {shapes})"


def to_tf_dataset(x, y, batch_size=128, shuffle=False, seed=None):
    """Turns numpy arrays ``x``, ``y`` into a batched, prefetched ``tf.data.Dataset``.

    The arrays are stored once as tensors; shuffling permutes indices (the
    shuffle buffer holds integers only) and each batch is gathered at once,
    which keeps memory at one copy of the data even for padded MNIST.
    With ``shuffle=True`` the data is reshuffled every epoch, in an order
    that is deterministic given ``seed``.
    """
    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim == 0 or y.ndim == 0 or len(x) != len(y):
        raise ValueError(
            "Expected `x` and `y` to be arrays with the same number of examples "
            f"(first axis). Received: x.shape={x.shape}, y.shape={y.shape}"
        )
    batch_size = _validation.positive_int("batch_size", batch_size)
    if not isinstance(shuffle, (bool, np.bool_)):
        raise ValueError(f"Expected `shuffle` to be True or False. Received: shuffle={shuffle!r}")
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, numbers.Integral)
    ):
        raise ValueError(f"Expected `seed` to be an integer or None. Received: seed={seed!r}")

    import tensorflow as tf

    n = len(x)
    x_t = tf.convert_to_tensor(x)
    y_t = tf.convert_to_tensor(y)
    ds = tf.data.Dataset.range(n)
    if shuffle:
        ds = ds.shuffle(
            buffer_size=max(n, 1),
            seed=None if seed is None else int(seed),
            reshuffle_each_iteration=True,
        )
    ds = ds.batch(batch_size)
    ds = ds.map(lambda idx: (tf.gather(x_t, idx), tf.gather(y_t, idx)))
    return ds.prefetch(tf.data.AUTOTUNE)


# --- helpers shared by the generators (not part of the public API) -----------


def check_seed(seed):
    return _validation.non_negative_int("seed", seed)


def check_sizes(sizes, maximum=None):
    """Validates ``(n_train, n_val, n_test)``: non-negative ints, ``n_train >= 1``.

    ``maximum``: optional tuple of per-split upper bounds (``None`` = unbounded).
    """
    sizes = _validation.int_tuple("sizes", sizes, length=3)
    if any(s < 0 for s in sizes) or sizes[0] < 1:
        raise ValueError(
            "Expected `sizes` to be (n_train, n_val, n_test) with non-negative "
            f"integers and n_train >= 1. Received: sizes={sizes!r}"
        )
    if maximum is not None:
        for split, n, m in zip(SPLIT_NAMES, sizes, maximum):
            if m is not None and n > m:
                raise ValueError(
                    f"Expected `sizes` to have at most {m} {split} examples "
                    f"(maximum sizes {tuple(maximum)}). Received: sizes={sizes!r}"
                )
    return sizes


def split_rngs(seed):
    """One independent generator per split, so a split does not depend on the
    sizes of the others (e.g. a smaller train set leaves the test set as is)."""
    return np.random.default_rng(check_seed(seed)).spawn(len(SPLIT_NAMES))


def balanced_labels(rng, n, num_classes):
    """``n`` labels with class counts differing by at most one, in random order."""
    return rng.permutation(np.arange(n) % num_classes).astype("int32")


def check_amplitude(amplitude):
    try:
        lo, hi = (float(a) for a in amplitude)
        ok = 0.0 <= lo <= hi <= 1.0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(
            "Expected `amplitude` to be a pair (low, high) with "
            f"0 <= low <= high <= 1. Received: amplitude={amplitude!r}"
        )
    return lo, hi
