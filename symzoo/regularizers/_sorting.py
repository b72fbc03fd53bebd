"""One fast stable sort of a flat float array with its permutation (numpy).

Shared by the all-pairs penalty's ranks (`pairwise_sharing.rank_coefficients`)
and its exact prox (`prox.pairwise_prox`). For float32 (the kernels' dtype)
it sorts one uint64 array whose high 32 bits are an order-preserving integer
image of the float and whose low 32 bits are the index: numpy's SIMD sort of
uint64 costs about 1.5 ``numpy.sort`` of the values, an ``argsort`` more than
ten times that here (benchmarks/pairwise_prox_speed.py). The keys are built
and decoded with in-place int32 operations written straight into the two
halves of the uint64 words (no temporary per bit operation), and the sorted
values are decoded from the sorted keys, so no gather is needed. Ties are
broken by index (a stable order). Other dtypes, big-endian machines, or 2**32
values and more, use a stable argsort.
"""

import functools
import sys

import numpy as np

_INT_MIN = np.int32(-(2**31))


def _float32_keys(flat):
    """uint64 keys ``(order-preserving uint32 image of flat) << 32 | index``."""
    n = flat.shape[0]
    bits = flat.view(np.int32)
    # Order-preserving map float32 -> uint32: flip all bits of negatives, set
    # the sign bit of non-negatives (-0.0 sorts just below +0.0). As int32:
    # mask = (bits >> 31) | INT_MIN is all ones for negatives, the sign bit
    # for the rest; key = bits ^ mask.
    mask = np.right_shift(bits, 31)
    mask |= _INT_MIN
    mask ^= bits
    keys = np.empty(n, dtype=np.uint64)
    halves = keys.view(np.uint32).reshape(n, 2)  # little endian: [low, high]
    halves[:, 1] = mask.view(np.uint32)
    del mask
    halves[:, 0] = _indices(n)
    return keys


@functools.lru_cache(maxsize=2)
def _indices(n):
    indices = np.arange(n, dtype=np.uint32)
    indices.flags.writeable = False
    return indices


def _decode_float32(high):
    """Inverse of the key map, in place on an int32 array."""
    # Keys with the sign bit set (negative as int32) were non-negative floats:
    # xor with the sign bit; the others were negative: flip all bits.
    mask = np.right_shift(high, 31)
    np.invert(mask, out=mask)
    mask |= _INT_MIN
    high ^= mask
    return high.view(np.float32)


def sorted_with_order(flat):
    """``(sorted values, order)`` of a 1-D array: ``sorted == flat[order]``.

    ``order`` is an intp array; ties keep their index order.
    """
    flat = np.asarray(flat)
    n = flat.shape[0]
    if flat.dtype == np.float32 and n < 2**32 and sys.byteorder == "little":
        keys = _float32_keys(np.ascontiguousarray(flat))
        keys.sort()
        halves = keys.view(np.uint32).reshape(n, 2)
        order = halves[:, 0].astype(np.intp)
        high = halves[:, 1].astype(np.int32)
        del keys, halves
        return _decode_float32(high), order
    order = np.argsort(flat, kind="stable")
    return flat[order], order
