"""One fast stable sort of a flat float array with its permutation.

Shared by the all-pairs penalty's ranks (`pairwise_sharing.rank_coefficients`)
and its exact prox (`prox.pairwise_prox`).

Where the optional C extension ``symzoo.regularizers._radix`` compiled
(setup.py builds it; see ``_radix.c``), float32 arrays are sorted by a stable
LSD radix sort (three passes of 11 bits over an order-preserving
integer image of the float, carrying the index, on all the process's CPUs,
its scatters write-combined into whole cache lines), and the ranks and the
prox are fused into its last pass: no ``numpy.sort`` at all (the ranks' last
pass buckets the (rank, index) pairs by index, so that each weight's
coefficient is written into a window of the output in cache). numpy's own sort is far from the floor on some CPUs (its AVX-512
sort of 24.6M float32 took 1.2 s on an AMD EPYC whose AVX2 path takes
0.2 s; benchmarks/pairwise_prox_speed.py prints both sorts). Without the
extension the numpy path below runs, with the same results.

The numpy path: for float32 (the kernels' dtype) it sorts one uint64 array whose high 32 bits are an order-preserving integer
image of the float and whose low 32 bits are the index: numpy's SIMD sort of
uint64 costs about 1.5 ``numpy.sort`` of the values, an ``argsort`` more than
ten times that here (benchmarks/pairwise_prox_speed.py). The keys are built
and decoded with in-place int32 operations written straight into the two
halves of the uint64 words (no temporary per bit operation), and the sorted
values are decoded from the sorted keys, so no gather is needed. Ties are
broken by index (a stable order). Other dtypes, big-endian machines, or 2**32
values and more, use a stable argsort.
"""

import contextlib
import functools
import os
import sys

import numpy as np

try:  # the optional C extension (setup.py); None where it did not compile
    from symzoo.regularizers import _radix as RADIX
except ImportError:  # pragma: no cover - depends on the build
    RADIX = None

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


@contextlib.contextmanager
def numpy_path():
    """Within it, the numpy paths run as in an install without the C extension
    (for benchmarks that time both)."""
    global RADIX
    radix, RADIX = RADIX, None
    try:
        yield
    finally:
        RADIX = radix


def radix_threads():
    """Threads for the radix sort: the CPUs this process may run on (≤ 16), or
    ``SYMZOO_SORT_THREADS`` when set."""
    value = os.environ.get("SYMZOO_SORT_THREADS")
    if value is not None:
        try:
            threads = int(value)
        except ValueError:
            threads = 0
        if threads < 1:
            raise ValueError(
                "Expected SYMZOO_SORT_THREADS to be a positive integer. "
                f"Received: SYMZOO_SORT_THREADS={value!r}"
            )
        return min(threads, 16)
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        count = os.cpu_count() or 1
    return max(1, min(count, 16))


def radix_applies(flat):
    """Whether the C radix sort handles this flat array (float32, < 2**32
    values, little-endian, the extension compiled)."""
    return (
        RADIX is not None
        and flat.dtype == np.float32
        and flat.shape[0] < 2**32
        and sys.byteorder == "little"
    )


def sorted_with_order(flat):
    """``(sorted values, order)`` of a 1-D array: ``sorted == flat[order]``.

    ``order`` is an intp array; ties keep their index order.
    """
    flat = np.asarray(flat)
    n = flat.shape[0]
    if radix_applies(flat) and np.dtype(np.intp).itemsize == 8:
        ordered = np.empty(n, dtype=np.float32)
        order = np.empty(n, dtype=np.intp)
        RADIX.sort_with_order(np.ascontiguousarray(flat), ordered, order, radix_threads())
        return ordered, order
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
