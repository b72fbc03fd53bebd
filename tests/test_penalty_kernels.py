"""The host passes of the penalties' fast paths (the C extension
``_penalty_kernels``: `OffsetSharing`'s stencil, `L1Sparsity`'s signs and Σ|θ|,
`SigmoidSparsity`'s σ(kθ) and Σσ) against numpy references."""

import numpy as np
import pytest

from symzoo.regularizers import L1Sparsity, OffsetSharing, SigmoidSparsity
from symzoo.regularizers.base import HOST_KERNELS as KERNELS

pytestmark = pytest.mark.skipif(
    KERNELS is None, reason="the C extension symzoo.regularizers._penalty_kernels did not compile")


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
    ((2, 3, 3, 4, 40), [(0, 1, 1, 1, 27)]),  # column shift > N / 2 and > FIX_COLUMNS
    ((4, 8, 8, 16, 16), [(0, 1, 0, 2, 0), (0, 0, 1, 0, 2)]),  # threaded (≥ 65,536)
    ((3, 4, 5), []),  # no generator: zero gradient
]


@pytest.fixture(params=["avx2", "c"])
def stencil_loop(request):
    """Each stencil test with the AVX2 loop (where the CPU has it) and the C loop."""
    was = KERNELS.use_avx2(request.param == "avx2")
    yield request.param
    KERNELS.use_avx2(bool(was))


@pytest.mark.parametrize("shape,shifts", CASES)
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_stencil_matches_numpy_with_ties(shape, shifts, threads, stencil_loop):
    rng = np.random.default_rng(len(shape) + threads)
    w = rng.integers(-3, 4, shape).astype(np.float32)  # many exact ties (sign 0)
    w[w == 2] = rng.normal(size=int((w == 2).sum()))
    out = np.full(shape, 99, np.int8)
    total = KERNELS.offset_stencil(w, out, shape, shifts, threads)
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


def test_nan_weight_makes_the_value_nan(stencil_loop):
    w = np.zeros((2, 4, 6), np.float32)
    w[1, 2, 3] = np.nan
    out = np.empty(w.shape, np.int8)
    assert np.isnan(KERNELS.offset_stencil(w, out, w.shape, [(0, 1, 2)], 1))


def test_errors_name_the_argument():
    w = np.zeros((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match="`out`"):
        KERNELS.offset_stencil(w, np.empty(5, np.int8), w.shape, [(0, 1, 1)], 1)
    with pytest.raises(ValueError, match="`shifts"):
        KERNELS.offset_stencil(w, np.empty(w.shape, np.int8), w.shape, [(0, 1)], 1)
    with pytest.raises(ValueError, match="`threads`"):
        KERNELS.offset_stencil(w, np.empty(w.shape, np.int8), w.shape, [(0, 1, 1)], 0)
    with pytest.raises(ValueError, match="`shape`"):
        KERNELS.offset_stencil(w, np.empty(w.shape, np.int8), (2, 0, 4), [(0, 1, 1)], 1)


@pytest.mark.parametrize("size", [0, 1, 17, 1000, (1 << 16) * 3 + 5])
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_abs_sign_matches_numpy(size, threads):
    w = np.random.default_rng(size).normal(size=size).astype(np.float32)
    if size:
        w[:: max(1, size // 7)] = 0.0  # exact zeros have sign 0
    out = np.full(size, 5, np.int8)
    total = KERNELS.abs_sign(w, out, threads)
    np.testing.assert_array_equal(out, np.sign(w).astype(np.int8))
    assert total == pytest.approx(float(np.abs(w).astype(np.float64).sum()), rel=1e-6, abs=1e-12)


def test_abs_sign_nan_and_errors():
    w = np.ones((4, 5), np.float32)
    w[2, 3] = np.nan
    out = np.full(w.shape, 5, np.int8)
    assert np.isnan(KERNELS.abs_sign(w, out, 2))
    assert out[2, 3] == 0 and (np.delete(out.ravel(), 13) == 1).all()
    with pytest.raises(ValueError, match="`threads`"):
        KERNELS.abs_sign(w, out, 0)
    with pytest.raises(ValueError, match="`values`"):
        KERNELS.abs_sign(b"abc", out, 1)
    with pytest.raises(ValueError, match="`out`"):
        KERNELS.abs_sign(w, np.empty(19, np.int8), 1)
    with pytest.raises(TypeError):
        KERNELS.abs_sign(w, b"read-only bytes" * 2, 1)


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_l1_host_buffer_is_the_penalty(reduction):
    penalty = L1Sparsity(1e-3, reduction=reduction)
    w = np.random.default_rng(0).normal(size=(3, 4, 4, 8, 8)).astype(np.float32)
    w[0, 0, 0, 0, :3] = 0.0
    assert penalty.host_buffer_applies(w.shape, "float32")
    assert penalty.host_buffer_dtype == "int8"
    out = np.empty(w.shape, np.int8)
    total = penalty.write_host_buffer(w, out)
    assert float(penalty.value_from_buffer(w, (out, total))) == pytest.approx(
        float(penalty(w)), rel=1e-5)
    np.testing.assert_array_equal(np.asarray(penalty.gradient_from_buffer(w, (out, total))),
                                  np.asarray(penalty.gradient(w)))


@pytest.mark.parametrize("size", [0, 1, 17, 1000, (1 << 16) * 3 + 5])
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_sigmoid_sum_matches_numpy(size, threads):
    w = (np.random.default_rng(size).normal(size=size) * 0.05).astype(np.float32)
    out = np.full(size, 5.0, np.float32)
    total = KERNELS.sigmoid_sum(w, out, 100.0, threads)
    exact = 1.0 / (1.0 + np.exp(-100.0 * w.astype(np.float64)))
    np.testing.assert_allclose(out, exact, rtol=2e-6, atol=1e-30)
    assert total == pytest.approx(float(exact.sum()), rel=1e-6, abs=1e-12)


def test_sigmoid_sum_over_the_float_range():
    x = np.concatenate([np.linspace(-86.0, 86.0, 200_001, dtype=np.float32),
                        np.float32([0.0, -0.0, 87.0, -87.0, 1e30, -1e30, np.inf, -np.inf])])
    out = np.empty_like(x)
    KERNELS.sigmoid_sum(x, out, 1.0, 2)
    exact = 1.0 / (1.0 + np.exp(-np.clip(x[:200_001].astype(np.float64), -700, 700)))
    np.testing.assert_allclose(out[:200_001], exact, rtol=1e-6)
    np.testing.assert_array_equal(out[200_001:], [0.5, 0.5, 1, 0, 1, 0, 1, 0])
    w = np.float32([0.1, np.nan, -0.2])
    out = np.empty_like(w)
    assert np.isnan(KERNELS.sigmoid_sum(w, out, 10.0, 1))
    assert np.isnan(out[1]) and np.isfinite(out[[0, 2]]).all()
    with pytest.raises(ValueError, match="`out`"):
        KERNELS.sigmoid_sum(w, np.empty(3, np.int8), 10.0, 1)
    with pytest.raises(ValueError, match="`threads`"):
        KERNELS.sigmoid_sum(w, out, 10.0, 0)


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_sigmoid_host_buffer_is_the_penalty(reduction):
    penalty = SigmoidSparsity(1e-2, sharpness=100.0, reduction=reduction)
    w = (np.random.default_rng(1).normal(size=(3, 4, 4, 8, 8)) * 0.05).astype(np.float32)
    assert penalty.host_buffer_applies(w.shape, "float32")
    assert penalty.host_buffer_dtype == "float32"
    out = np.empty(w.shape, np.float32)
    total = penalty.write_host_buffer(w, out)
    assert float(penalty.value_from_buffer(w, (out, total))) == pytest.approx(
        float(penalty(w)), rel=1e-5)
    # k·σ(1 − σ) loses 1 − σ's relative precision where σ ≈ 1 (from either σ):
    # an ulp of σ near 1 (6e-8) times k·α (times 1/n for "mean")
    scale = 100.0 * 1e-2 / (w.size if reduction == "mean" else 1)
    np.testing.assert_allclose(np.asarray(penalty.gradient_from_buffer(w, (out, total))),
                               np.asarray(penalty.gradient(w)), rtol=1e-5, atol=2e-7 * scale)


def _adam_reference(w, m, v, g, hyper, term=None, sign=None, sig=None):
    """Keras' Adam on ``g`` plus the penalty gradients read from their
    buffers, in float32, as `fused_adam` documents it."""
    alpha, c1, c2, eps = (np.float32(x) for x in hyper)
    pg = None
    for part in (term, sign):
        if part is not None:
            add = part[0].astype(np.float32) * np.float32(part[1])
            pg = add if pg is None else pg + add
    if sig is not None:
        s, coef, k = sig[0], np.float32(sig[1]), np.float32(sig[2])
        add = ((k * s) * (np.float32(1) - s)) * coef
        pg = add if pg is None else pg + add
    gt = g if pg is None else g + pg
    m = m + (gt - m) * c1
    v = v + (gt * gt - v) * c2
    return w - (m * alpha) / (np.sqrt(v) + eps), m, v


FUSED_CASES = CASES[:-1] + [((3, 6, 6, 8, 40), [(0, 1, 1, 2, 27)]),  # > N/2, > FIX_COLUMNS
                            ((2, 30, 9), [(0, 2, 8)])]


@pytest.mark.parametrize("shape,shifts", FUSED_CASES)
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("parts", ["none", "term", "term+sign", "term+sig", "sign", "sig"])
def test_fused_adam_is_adam_then_the_next_buffers(shape, shifts, threads, parts, stencil_loop):
    """`fused_adam` (the fused host update, `symzoo.models.host_adam`) is Keras'
    Adam with the penalties' gradients read from their buffers, and leaves in
    the buffers what their own host passes write from the new weights (the
    stencil, sign(θ), σ(kθ)), with their sums."""
    rng = np.random.default_rng(sum(shape) + threads)
    w = np.round(rng.standard_normal(shape).astype(np.float32) * 4) / 4  # ties
    m = (rng.standard_normal(shape) * 0.1).astype(np.float32)
    v = (rng.random(shape) * 0.1).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    hyper = (1e-2, 0.1, 0.001, 1e-7)
    term = np.empty(shape, np.int8)
    KERNELS.offset_stencil(w, term, shape, shifts, 1)
    sign = np.sign(w).astype(np.int8)
    sig = np.empty(shape, np.float32)
    KERNELS.sigmoid_sum(w, sig, 3.0, 1)
    use = parts.split("+")
    specs = {"term": (term, 0.5, shifts) if "term" in use else None,
             "sign": (sign, 0.25) if "sign" in use else None,
             "sig": (sig, 0.125, 3.0) if "sig" in use else None}
    want = _adam_reference(
        w, m, v, g, hyper, *((s[0], s[1]) if s is not None and k != "sig" else s
                             for k, s in specs.items()))
    W, M, V = w.copy(), m.copy(), v.copy()
    sums = KERNELS.fused_adam(W, M, V, g, shape, hyper, specs["term"], specs["sign"],
                              specs["sig"], threads)
    for got, ref in zip((W, M, V), want):
        np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-7)
    if "term" in use:
        grad, total = _reference(W, shifts)
        np.testing.assert_array_equal(term, grad)
        assert sums[0] == pytest.approx(total, rel=1e-6)
    if "sign" in use:
        np.testing.assert_array_equal(sign, np.sign(W).astype(np.int8))
        assert sums[1] == pytest.approx(float(np.abs(W).astype(np.float64).sum()), rel=1e-6)
    if "sig" in use:
        expected = 1 / (1 + np.exp(-3.0 * W.astype(np.float64)))
        np.testing.assert_allclose(sig, expected, rtol=2e-6, atol=1e-7)
        assert sums[2] == pytest.approx(float(expected.sum()), rel=1e-6)


def test_fused_adam_errors_name_the_argument():
    w = np.zeros((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match="Expected `w`"):
        KERNELS.fused_adam(w, w.copy(), w.copy(), np.zeros(5, np.float32), (2, 3, 4),
                           (1.0, 0.1, 0.001, 1e-7), None, None, None, 1)
    with pytest.raises(ValueError, match="threads"):
        KERNELS.fused_adam(w, w.copy(), w.copy(), w.copy(), (2, 3, 4),
                           (1.0, 0.1, 0.001, 1e-7), None, None, None, 0)
    with pytest.raises(ValueError, match="shape"):
        KERNELS.fused_adam(w, w.copy(), w.copy(), w.copy(), (2, 0, 4),
                           (1.0, 0.1, 0.001, 1e-7), None, None, None, 1)
