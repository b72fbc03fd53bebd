"""One fast stable sort of a flat float array with its permutation (numpy).

Shared by the all-pairs penalty's ranks (`pairwise_sharing.rank_coefficients`)
and its exact prox (`prox.pairwise_prox`). For float32 (the kernels' dtype)
it sorts one uint64 array whose high 32 bits are an order-preserving integer
image of the float and whose low 32 bits are the index: numpy's SIMD sort of
uint64 costs about one ``numpy.sort`` of the values, an ``argsort`` about
twice that (benchmarks/pairwise_prox_speed.py). The sorted values are decoded
from the sorted keys, so no gather is needed. Ties are broken by index (a
stable order). Other dtypes, or 2**32 values and more, use a stable argsort.
"""

import numpy as np

_SIGN = np.uint32(0x80000000)
_LOW = np.uint64(0xFFFFFFFF)


def sorted_with_order(flat):
    """``(sorted values, order)`` of a 1-D array: ``sorted == flat[order]``.

    ``order`` is an intp array; ties keep their index order.
    """
    flat = np.asarray(flat)
    n = flat.shape[0]
    if flat.dtype == np.float32 and n < 2**32:
        bits = np.ascontiguousarray(flat).view(np.uint32)
        # Order-preserving map float32 -> uint32: flip all bits of negatives,
        # set the sign bit of non-negatives (-0.0 sorts just below +0.0).
        keys = np.where(bits & _SIGN, ~bits, bits | _SIGN).astype(np.uint64)
        keys <<= np.uint64(32)
        keys |= np.arange(n, dtype=np.uint64)
        keys.sort()
        order = (keys & _LOW).astype(np.intp)
        keys >>= np.uint64(32)
        high = keys.astype(np.uint32)
        del keys
        # Inverse map: keys with the sign bit set were non-negative floats.
        decoded = np.where(high & _SIGN, high & ~_SIGN, ~high)
        return decoded.view(np.float32), order
    order = np.argsort(flat, kind="stable")
    return flat[order], order
