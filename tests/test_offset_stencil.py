"""The C stencil of `OffsetSharing`'s fast path against numpy references."""

import numpy as np
import pytest

from symzoo.regularizers import OffsetSharing, offset_sharing

STENCIL = offset_sharing.STENCIL
pytestmark = pytest.mark.skipif(
    STENCIL is None, reason="the C extension symzoo.regularizers._offset_stencil did not compile")


def _reference(w, shifts):
    """Σ_g sign(W − A_g) − sign(B_g − W) and Σ_g Σ|W − A_g| with numpy rolls,
    A_g[i] = W[i + s_g], B_g[i] = W[i − s_g] (cyclic)."""
    axes = tuple(range(w.ndim))
    grad = np.zeros(w.shape, np.int32)
    total = 0.0
    for s in shifts:
        ahead = np.roll(w, [-x for x in s], axes)
        behind = np.roll(w, list(s), axes)
        grad += np.sign(w - ahead).astype(np.int32) - np.sign(behind - w).astype(np.int32)
        total += float(np.abs(w - ahead).astype(np.float64).sum())
    return grad, total


CASES = [
    ((7,), [(3,)]),
    ((2, 5, 9), [(0, 2, 3)]),
    ((3, 4, 5, 6, 7), [(0, 1, 1, 2, 2)]),
    ((3, 4, 5, 6, 7), [(0, 1, 0, 2, 0), (0, 0, 1, 0, 2)]),
    ((2, 3, 4, 5, 6), [(0, 2, -1, -1, 3)]),  # negative shifts wrap
    ((4, 8, 8, 16, 16), [(0, 1, 0, 2, 0), (0, 0, 1, 0, 2)]),  # threaded (≥ 65,536)
    ((3, 4, 5), []),  # no generator: zero gradient
]


@pytest.mark.parametrize("shape,shifts", CASES)
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_stencil_matches_numpy_with_ties(shape, shifts, threads):
    rng = np.random.default_rng(len(shape) + threads)
    w = rng.integers(-3, 4, shape).astype(np.float32)  # many exact ties (sign 0)
    w[w == 2] = rng.normal(size=int((w == 2).sum()))
    out = np.full(shape, 99, np.int8)
    total = STENCIL.offset_stencil(w, out, shape, shifts, threads)
    grad, expected = _reference(w, shifts)
    np.testing.assert_array_equal(out, grad)
    assert total == pytest.approx(expected, rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("form", ["diagonal", "complete"])
def test_write_host_buffer_is_the_term_gradient_and_terms(form):
    penalty = OffsetSharing(3.0, (1, 2), form=form)
    w = np.random.default_rng(0).normal(size=(3, 4, 4, 8, 8)).astype(np.float32)
    out = np.empty(w.shape, np.int8)
    total = penalty.write_host_buffer(w, out)
    np.testing.assert_array_equal(out, np.asarray(penalty.term_gradient(w)))
    expected, _ = penalty.terms(w)
    assert total == pytest.approx(float(expected), rel=1e-5)
    np.testing.assert_array_equal(np.asarray(penalty.gradient_from_buffer(w, (out, total))),
                                  np.asarray(penalty.gradient(w)))
    assert float(penalty.value_from_buffer(w, (out, total))) == pytest.approx(
        float(penalty(w)), rel=1e-5)


def test_nan_weight_makes_the_value_nan():
    w = np.zeros((2, 4, 6), np.float32)
    w[1, 2, 3] = np.nan
    out = np.empty(w.shape, np.int8)
    assert np.isnan(STENCIL.offset_stencil(w, out, w.shape, [(0, 1, 2)], 1))


def test_errors_name_the_argument():
    w = np.zeros((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match="`out`"):
        STENCIL.offset_stencil(w, np.empty(5, np.int8), w.shape, [(0, 1, 1)], 1)
    with pytest.raises(ValueError, match="`shifts"):
        STENCIL.offset_stencil(w, np.empty(w.shape, np.int8), w.shape, [(0, 1)], 1)
    with pytest.raises(ValueError, match="`threads`"):
        STENCIL.offset_stencil(w, np.empty(w.shape, np.int8), w.shape, [(0, 1, 1)], 0)
    with pytest.raises(ValueError, match="`shape`"):
        STENCIL.offset_stencil(w, np.empty(w.shape, np.int8), (2, 0, 4), [(0, 1, 1)], 1)
