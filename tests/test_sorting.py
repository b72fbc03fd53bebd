"""The packed-key sort shared by the all-pairs ranks and the prox."""

import numpy as np
import pytest

from symzoo.regularizers._sorting import sorted_with_order


def _reference_order(values):
    # Stable argsort in float64, with -0.0 placed just below +0.0 (the packed
    # keys order by the float's bits: -0.0 < +0.0).
    key = values.astype(np.float64)
    key[(values == 0) & np.signbit(values)] = -1e-300
    return np.argsort(key, kind="stable")


@pytest.mark.parametrize("n", [1, 2, 7, 1000, 4097])
def test_float32_order_and_values_match_a_stable_argsort(n):
    rng = np.random.default_rng(n)
    values = rng.normal(size=n).astype(np.float32)
    specials = np.array(
        [0.0, -0.0, 1.5, -1.5, 1e-45, -1e-45, 3e-39, -3e-39, np.inf, -np.inf,
         1e30, -1e30, 1.5, 0.0, -0.0], dtype=np.float32)
    values[: min(n, specials.size)] = specials[: min(n, specials.size)]
    if n > 40:
        values[20:40] = values[17]  # a run of ties, kept in index order
    ordered, order = sorted_with_order(values)
    expected = _reference_order(values)
    np.testing.assert_array_equal(order, expected)
    assert order.dtype == np.intp
    assert ordered.dtype == np.float32
    # Bit for bit (signed zeros included): decoded from the keys, not gathered.
    np.testing.assert_array_equal(ordered.view(np.uint32), values[expected].view(np.uint32))


def test_other_dtypes_use_a_stable_argsort():
    values = np.array([3.0, -1.0, 3.0, 0.5, -1.0])
    ordered, order = sorted_with_order(values)
    np.testing.assert_array_equal(order, [1, 4, 3, 0, 2])
    np.testing.assert_array_equal(ordered, [-1.0, -1.0, 0.5, 3.0, 3.0])


def test_input_is_not_modified():
    values = np.random.default_rng(0).normal(size=100).astype(np.float32)
    before = values.copy()
    sorted_with_order(values)
    np.testing.assert_array_equal(values, before)
