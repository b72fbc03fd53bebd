"""Argument checks shared by layers, penalties, datasets and models.

Every error names the argument, what was expected and what was received, in the
style of Keras core layers: ``Expected ..., Received: arg=...``.
"""

import numbers

import numpy as np


def positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(
            f"Expected `{name}` to be a positive integer. Received: {name}={value!r}"
        )
    return int(value)


def non_negative_int(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(
            f"Expected `{name}` to be a non-negative integer. Received: {name}={value!r}"
        )
    return int(value)


def non_negative_float(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(
            f"Expected `{name}` to be a non-negative number. Received: {name}={value!r}"
        )
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValueError(
            f"Expected `{name}` to be a finite, non-negative number. "
            f"Received: {name}={value!r}"
        )
    return value


def positive_float(name, value):
    value = non_negative_float(name, value)
    if value == 0:
        raise ValueError(f"Expected `{name}` to be > 0. Received: {name}={value!r}")
    return value


def boolean(name, value):
    if not isinstance(value, bool):
        raise ValueError(f"Expected `{name}` to be True or False. Received: {name}={value!r}")
    return value


def one_of(name, value, choices):
    if value not in choices:
        raise ValueError(
            f"Expected `{name}` to be one of {sorted(choices)}. Received: {name}={value!r}"
        )
    return value


def int_tuple(name, value, length=None):
    """Normalises an int or a sequence of ints to a tuple of ints."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (int(value),) * (length or 1)
    try:
        out = tuple(value)
    except TypeError:
        raise ValueError(
            f"Expected `{name}` to be an integer or a tuple of integers. "
            f"Received: {name}={value!r}"
        ) from None
    if not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in out):
        raise ValueError(
            f"Expected `{name}` to hold integers only. Received: {name}={value!r}"
        )
    out = tuple(int(v) for v in out)
    if length is not None and len(out) != length:
        raise ValueError(
            f"Expected `{name}` to have {length} entries. Received: {name}={value!r}"
        )
    return out


def finite_array(name, array, ndim=None, shape=None):
    """Checks that `array` is a finite float array of the expected rank/shape.

    `shape` may contain ``None`` for free dimensions (the batch axis).
    Returns the array as a float32 numpy array.
    """
    arr = np.asarray(array)
    if ndim is not None and arr.ndim not in (ndim if isinstance(ndim, tuple) else (ndim,)):
        raise ValueError(
            f"Expected `{name}` to have rank {ndim}. Received: {name}.shape={arr.shape}"
        )
    if shape is not None:
        ok = arr.ndim == len(shape) and all(
            s is None or s == a for s, a in zip(shape, arr.shape)
        )
        if not ok:
            expected = tuple("N" if s is None else s for s in shape)
            raise ValueError(
                f"Expected `{name}` to have shape {expected}. "
                f"Received: {name}.shape={arr.shape}"
            )
    if not np.issubdtype(arr.dtype, np.number) and arr.dtype != bool:
        raise ValueError(
            f"Expected `{name}` to be numeric. Received: {name}.dtype={arr.dtype}"
        )
    arr = arr.astype("float32", copy=False)
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(
            f"Expected `{name}` to contain only finite values. Received: {name} "
            f"with {bad} NaN or infinite entries."
        )
    return arr


def range_message(name, low, high, received=None):
    """The error text for inputs outside ``[low, high]`` (shared with the SavedModel)."""
    received = received or f"values outside [{low:g}, {high:g}]"
    return (
        f"Expected `{name}` to be images with values in [{low:g}, {high:g}] (float32). "
        f"Received: {received}. Integer images in 0..255 (e.g. uint8) must be scaled "
        "first: x.astype('float32') / 255."
    )


def image_range(name, array, low=0.0, high=1.0):
    """Checks that the image batch `array` holds values in ``[low, high]``.

    The zoo's image models (blob1d/blob2d/MNIST translation MLPs and CNNs)
    take float images in [0, 1]. The same rule as the exported SavedModel's
    ``serve`` signature: any numeric dtype is accepted (it is cast to float32),
    but a value outside the range raises, so uint8 images in 0..255, or float
    images that were not divided by 255, fail with this message instead of
    silently saturating the probabilities. Integer images whose values are all
    0 or 1 (binary images) pass.

    Returns the array (unchanged).

    Raises:
        ValueError: non-numeric dtype or a value outside ``[low, high]``.
    """
    arr = np.asarray(array)
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(
            f"Expected `{name}` to be numeric images in [{low:g}, {high:g}]. "
            f"Received: {name}.dtype={arr.dtype}"
        )
    if arr.size:
        lo, hi = float(np.min(arr)), float(np.max(arr))
        if lo < low or hi > high:
            raise ValueError(
                range_message(
                    name, low, high, f"{name} with dtype {arr.dtype}, min {lo:g}, max {hi:g}"
                )
            )
    return array
