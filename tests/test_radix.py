"""The C radix sort (symzoo/regularizers/_radix.c) against the numpy paths.

Each check runs the same call twice, once through the extension and once with
it switched off (``_sorting.RADIX = None``, the path of an install without a
compiler), and asks for identical results; the numpy paths are themselves
checked against argsort / scipy / brute force in test_sorting.py and
test_prox.py.
"""

import numpy as np
import pytest

from symzoo.regularizers import _sorting
from symzoo.regularizers.pairwise_sharing import rank_coefficients
from symzoo.regularizers.prox import pairwise_prox
from tests.test_prox import _brute_force

needs_radix = pytest.mark.skipif(
    _sorting.RADIX is None, reason="the C extension did not compile in this install"
)

SPECIALS = np.array(
    [0.0, -0.0, 1.5, -1.5, 1e-45, -1e-45, 3e-39, -3e-39, np.inf, -np.inf, 1e30, -1e30],
    dtype=np.float32,
)


def _values(n, seed, spread=1.0):
    rng = np.random.default_rng(seed)
    values = (rng.normal(size=n) * spread).astype(np.float32)
    values[: min(n, SPECIALS.size)] = SPECIALS[: min(n, SPECIALS.size)]
    if n > 100:
        values[50:90] = values[17]  # a run of ties
        values[rng.integers(0, n, n // 10)] = values[3]  # ties scattered everywhere
    return values


def _without_radix(fn):
    with _sorting.numpy_path():
        assert _sorting.RADIX is None
        return fn()


# 70,000 and more values run on several threads (smaller arrays on one).
SIZES = [0, 1, 2, 3, 1000, 70_001, 200_003]


@needs_radix
@pytest.mark.parametrize("threads", ["1", "2", "3"])
@pytest.mark.parametrize("n", SIZES)
def test_sort_matches_the_numpy_path_bit_for_bit(monkeypatch, n, threads):
    monkeypatch.setenv("SYMZOO_SORT_THREADS", threads)
    values = _values(n, n)
    ordered, order = _sorting.sorted_with_order(values)
    ref_ordered, ref_order = _without_radix(
        lambda: _sorting.sorted_with_order(values)
    )
    assert order.dtype == np.intp and ordered.dtype == np.float32
    np.testing.assert_array_equal(order, ref_order)
    np.testing.assert_array_equal(ordered.view(np.uint32), ref_ordered.view(np.uint32))


@needs_radix
@pytest.mark.parametrize("n", [1000, 200_003])
def test_sort_of_constant_and_narrow_arrays(monkeypatch, n):
    # Every key equal (no pass runs), and keys that differ only in the low
    # digit (one pass): both keep the index order of ties.
    for values in (np.full(n, 0.25, np.float32),
                   np.float32(1.0) + np.arange(n, dtype=np.float32)[::-1] % 7 * 2**-23):
        _, order = _sorting.sorted_with_order(values)
        np.testing.assert_array_equal(order, np.argsort(values, kind="stable"))


@needs_radix
@pytest.mark.parametrize("threads", ["1", "3"])
@pytest.mark.parametrize("spread", [0, 7, 5000, 3_000_000])
def test_ranks_when_only_some_digits_vary(monkeypatch, threads, spread):
    # Keys that differ in none, one (the ranks' last pass is also their first),
    # two or all 11-bit digits: ranks equal the stable argsort's.
    monkeypatch.setenv("SYMZOO_SORT_THREADS", threads)
    n = 300_007
    ints = (np.arange(n) * 7919 % max(spread, 1)).astype(np.int64)
    values = (np.float32(1.0) + ints.astype(np.float32) * np.float32(2**-23)) if spread < 2**22 \
        else (np.random.default_rng(spread).normal(size=n)).astype(np.float32)
    order = np.argsort(values, kind="stable")
    expected = np.empty(n, np.float32)
    expected[order] = (2.0 * np.arange(n) - (n - 1)).astype(np.float32)
    np.testing.assert_array_equal(rank_coefficients(values), expected)


@needs_radix
@pytest.mark.parametrize("threads", ["1", "2", "3"])
@pytest.mark.parametrize("scale", [1.0, 0.37])
@pytest.mark.parametrize("n", [1, 5, 1000, 200_003])
def test_rank_coefficients_match_the_numpy_path(monkeypatch, n, scale, threads):
    monkeypatch.setenv("SYMZOO_SORT_THREADS", threads)
    values = _values(n, 7 + n)
    got = rank_coefficients(values, scale)
    expected = _without_radix(lambda: rank_coefficients(values, scale))
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("radix", [True, False])
def test_rank_coefficients_write_into_out(radix):
    if radix and _sorting.RADIX is None:
        pytest.skip("the C extension did not compile in this install")
    values = _values(70_007, 3).reshape(7, 10_001)
    expected = rank_coefficients(values, 0.5)
    out = np.full((7, 10_001), np.nan, dtype=np.float32)
    run = (lambda f: f()) if radix else _without_radix
    got = run(lambda: rank_coefficients(values, 0.5, out=out))
    assert np.shares_memory(got, out)
    np.testing.assert_array_equal(out.reshape(-1), expected)


@pytest.mark.parametrize(
    "out",
    [np.zeros(9, np.float32), np.zeros(10, np.float64), np.zeros(20, np.float32)[::2],
     [0.0] * 10],
)
def test_rank_coefficients_reject_a_bad_out(out):
    with pytest.raises(ValueError, match="Expected `out` to be a writable C-contiguous float32"):
        rank_coefficients(np.arange(10, dtype=np.float32), out=out)


@needs_radix
@pytest.mark.parametrize("threads", ["1", "2"])
@pytest.mark.parametrize("n", [2, 17, 5000, 200_003])
def test_prox_matches_scipy_path(monkeypatch, n, threads):
    monkeypatch.setenv("SYMZOO_SORT_THREADS", threads)
    values = _values(n, 11 + n, spread=0.01)
    values[:SPECIALS.size] = np.clip(values[:SPECIALS.size], -1, 1)  # finite
    for tau in (1e-9, 1e-7, 1e-4):
        got = pairwise_prox(values, tau)
        expected = _without_radix(lambda: pairwise_prox(values, tau))
        # Block means from the same sums in a different order of additions:
        # equal to float32 rounding.
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)
        # Tied exactly in groups, as many as the scipy path's (± rounding).
        groups, ref_groups = np.unique(got).size, np.unique(expected).size
        assert abs(groups - ref_groups) <= max(1, ref_groups // 10_000)
        order = np.argsort(values, kind="stable")
        assert np.all(np.diff(got[order]) >= 0)


@needs_radix
@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_prox_matches_brute_force(n):
    rng = np.random.default_rng(100 + n)
    for _ in range(8):
        theta = rng.normal(size=n).astype(np.float32)
        theta[1] = theta[0] if rng.random() < 0.3 else theta[1]
        tau = float(rng.choice([0.01, 0.1, 0.3, 2.0]))
        np.testing.assert_allclose(
            pairwise_prox(theta, tau), _brute_force(theta.astype(np.float64), tau),
            atol=1e-6,
        )


@needs_radix
def test_prox_callback_group_count_is_the_number_of_distinct_values():
    from symzoo.regularizers.prox import _prox_flat

    values = _values(50_000, 3, spread=0.01)
    values[:SPECIALS.size] = 0.0
    out, count = _prox_flat(values, 1e-7)
    assert count == np.unique(out).size


def test_bad_thread_count(monkeypatch):
    monkeypatch.setenv("SYMZOO_SORT_THREADS", "zero")
    with pytest.raises(ValueError, match=r"Expected SYMZOO_SORT_THREADS.*Received"):
        _sorting.radix_threads()
    monkeypatch.setenv("SYMZOO_SORT_THREADS", "0")
    with pytest.raises(ValueError, match=r"positive integer"):
        _sorting.radix_threads()


@needs_radix
def test_extension_checks_its_buffers():
    values = np.zeros(10, np.float32)
    with pytest.raises(ValueError, match=r"Expected `out` to hold 10 float32"):
        _sorting.RADIX.rank_coefficients(values, np.zeros(9, np.float32), 1.0, 1)
    with pytest.raises(ValueError, match=r"Expected `threads`"):
        _sorting.RADIX.pairwise_prox(values, np.zeros(10, np.float32), 1.0, 0)
