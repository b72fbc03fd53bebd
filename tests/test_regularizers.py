"""Penalties against brute-force loops, serialization and argument errors."""

import itertools

import keras
import numpy as np
import pytest

from symzoo import regularizers as R

RNG = np.random.default_rng(1)


def _brute_offset(w, b, bp):
    total = 0.0
    if w.ndim == 3:
        c, t, d = w.shape
        for k, i, m in itertools.product(range(c), range(t), range(d)):
            total += abs(w[k, i, m] - w[k, (i + b) % t, (m + bp) % d])
    else:
        c, t1, t2, d1, d2 = w.shape
        for k, i, j, m, n in itertools.product(*map(range, w.shape)):
            total += abs(
                w[k, i, j, m, n] - w[k, (i + b) % t1, (j + b) % t2, (m + bp) % d1, (n + bp) % d2]
            )
    return total


@pytest.mark.parametrize("shape, offsets", [((2, 5, 10), (2, 3)), ((2, 3, 2, 6, 4), (1, 3))])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_offset_sharing_matches_loop(shape, offsets, reduction):
    w = RNG.normal(size=shape).astype("float32")
    pen = R.OffsetSharing(0.3, offsets, reduction=reduction)
    expected = 0.3 * _brute_offset(w.astype("float64"), *offsets)
    if reduction == "mean":
        expected /= w.size
    np.testing.assert_allclose(float(pen(w)), expected, rtol=1e-5)


def test_offset_zero_is_no_penalty():
    w = RNG.normal(size=(2, 4, 8)).astype("float32")
    assert float(R.OffsetSharing(1.0, (0, 0))(w)) == 0.0


@pytest.mark.parametrize("n", [1, 2, 7, 64])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_pairwise_sharing_matches_quadratic_loop(n, reduction):
    w = RNG.normal(size=(n,)).astype("float32")
    brute = sum(abs(float(w[j]) - float(w[k])) for j in range(n) for k in range(j + 1, n))
    if reduction == "mean":
        brute /= max(n * (n - 1) // 2, 1)
    np.testing.assert_allclose(float(R.PairwiseSharing(0.7, reduction)(w)), 0.7 * brute, rtol=1e-5, atol=1e-6)


def test_pairwise_gradient_matches_finite_differences():
    import tensorflow as tf

    w = tf.Variable(RNG.normal(size=(4, 5)).astype("float64"))
    with tf.GradientTape() as tape:
        value = R.PairwiseSharing(1.0)(w)
    grad = tape.gradient(value, w).numpy()
    flat = w.numpy().ravel()
    # d/dθ_i Σ_{j<k} |θj − θk| = Σ_j sign(θ_i − θ_j)
    ref = np.sign(flat[:, None] - flat[None, :]).sum(1).reshape(4, 5)
    np.testing.assert_allclose(grad, ref)


def test_pairwise_runs_on_mnist_sized_kernel():
    w = RNG.normal(size=(24_586_240,)).astype("float32")
    value = float(R.PairwiseSharing(1.0, "mean")(w))
    # E|X − Y| for X, Y ~ N(0, 1) is 2/sqrt(pi)
    assert abs(value - 2 / np.sqrt(np.pi)) < 0.01


def test_sparsity_penalties():
    w = RNG.normal(size=(10, 10)).astype("float32")
    np.testing.assert_allclose(float(R.L1Sparsity(0.2)(w)), 0.2 * np.abs(w).sum(), rtol=1e-5)
    np.testing.assert_allclose(float(R.L1Sparsity(0.2, "mean")(w)), 0.2 * np.abs(w).mean(), rtol=1e-5)
    ref = 0.01 * (1 / (1 + np.exp(-100 * w.astype("float64")))).sum()
    np.testing.assert_allclose(float(R.SigmoidSparsity(0.01)(w)), ref, rtol=1e-4)


@pytest.mark.parametrize(
    "penalty",
    [
        R.OffsetSharing(1e-4, (16, 4)),
        R.PairwiseSharing(1e-3, "mean"),
        R.L1Sparsity(0.5),
        R.SigmoidSparsity(0.01, 50),
    ],
)
def test_serialization_round_trip(penalty):
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(penalty))
    assert clone == penalty
    assert R.get(keras.saving.serialize_keras_object(penalty)) == penalty


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: R.OffsetSharing(-1.0, (1, 1)), "lam"),
        (lambda: R.OffsetSharing(float("nan"), (1, 1)), "lam"),
        (lambda: R.OffsetSharing(1e-3, (1, -2)), "offsets"),
        (lambda: R.OffsetSharing(1e-3, (1, 2, 3)), "offsets"),
        (lambda: R.OffsetSharing(1e-3, (1, 1), reduction="max"), "reduction"),
        (lambda: R.PairwiseSharing("big"), "lam"),
        (lambda: R.L1Sparsity(-0.1), "alpha"),
        (lambda: R.SigmoidSparsity(0.1, sharpness=0), "sharpness"),
        (lambda: R.get("l1"), "penalty"),
    ],
)
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_offset_sharing_rejects_wrong_kernel_rank():
    with pytest.raises(ValueError, match="rank"):
        R.OffsetSharing(1e-3, (1, 1))(np.zeros((3, 3), "float32"))


def _brute_offset_complete(w, b, bp):
    """Σ over the two per-axis generators of a 2D kernel (c, t1, t2, d1, d2)."""
    c, t1, t2, d1, d2 = w.shape
    total = 0.0
    for k, i, j, m, n in itertools.product(*map(range, w.shape)):
        total += abs(w[k, i, j, m, n] - w[k, (i + b) % t1, j, (m + bp) % d1, n])
        total += abs(w[k, i, j, m, n] - w[k, i, (j + b) % t2, m, (n + bp) % d2])
    return total


@pytest.mark.parametrize("offsets", [(1, 2), (2, 1), (0, 3)])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_offset_sharing_complete_matches_loop(offsets, reduction):
    w = RNG.normal(size=(2, 3, 4, 6, 4)).astype("float32")
    pen = R.OffsetSharing(0.3, offsets, reduction=reduction, form="complete")
    expected = 0.3 * _brute_offset_complete(w.astype("float64"), *offsets)
    if reduction == "mean":
        expected /= 2 * w.size
    np.testing.assert_allclose(float(pen(w)), expected, rtol=1e-5)


def _full_group_reynolds(w, stride):
    """Average of W over the whole cyclic 2D translation group (stride s)."""
    c, t1, t2, d1, d2 = w.shape
    out = np.zeros_like(w)
    for u, v in itertools.product(range(t1), range(t2)):
        out += np.roll(w, shift=(-u, -v, -stride * u, -stride * v), axis=(1, 2, 3, 4))
    return out / (t1 * t2)


def test_offset_sharing_complete_is_zero_on_the_full_group_projection():
    w = RNG.normal(size=(2, 3, 3, 6, 6))
    projected = _full_group_reynolds(w, stride=2)
    pen = R.OffsetSharing(1.0, (1, 2), reduction="sum", form="complete")
    assert float(pen(projected)) < 1e-9 * np.abs(projected).sum()
    assert float(pen(w)) > 1.0


def test_offset_sharing_complete_penalises_what_diagonal_leaves_at_zero():
    # Tied along the diagonal chains (i, j) → (i+1, j+1) only: each chain keeps
    # its own template, so the diagonal penalty is zero, the complete one not.
    t, s = 3, 2
    rng = np.random.default_rng(0)
    w = np.zeros((1, t, t, t * s, t * s))
    templates = rng.normal(size=(t, t * s, t * s))  # one per chain j - i
    for i, j in itertools.product(range(t), range(t)):
        w[0, i, j] = np.roll(templates[(j - i) % t], shift=(s * i, s * i), axis=(0, 1))
    diagonal = R.OffsetSharing(1.0, (1, s), reduction="sum")
    complete = R.OffsetSharing(1.0, (1, s), reduction="sum", form="complete")
    assert float(diagonal(w)) < 1e-9
    assert float(complete(w)) > 1.0


def test_offset_sharing_forms_agree_on_1d_kernels_and_serialise():
    w = RNG.normal(size=(2, 5, 10)).astype("float32")
    diagonal = R.OffsetSharing(0.5, (1, 2))
    complete = R.OffsetSharing(0.5, (1, 2), form="complete")
    np.testing.assert_allclose(float(diagonal(w)), float(complete(w)), rtol=1e-6)
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(complete))
    assert again == complete and again.form == "complete"


def test_offset_sharing_rejects_unknown_form():
    with pytest.raises(ValueError, match="form"):
        R.OffsetSharing(1.0, (1, 2), form="full")


def test_split_sum_is_the_sum_in_rows(monkeypatch):
    from symzoo.regularizers import base

    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 5, 7, 64)).astype(np.float32)  # 6720 entries
    monkeypatch.setattr(base, "SPLIT_SUM_MIN_SIZE", 1)
    for cpus, rows in ((1, 1), (2, 2), (4, 4), (9, 8), (11, 10), (13, 12)):
        monkeypatch.setattr(base, "_cpu_count", lambda c=cpus: c)
        got = float(keras.ops.convert_to_numpy(base.split_sum(keras.ops.convert_to_tensor(x))))
        expected = float(x.astype(np.float64).reshape(rows, -1).sum(axis=1).sum())
        np.testing.assert_allclose(got, expected, rtol=1e-5)
    # a size no CPU count divides (a prime) is summed in one piece
    monkeypatch.setattr(base, "_cpu_count", lambda: 8)
    y = rng.normal(size=(7919,)).astype(np.float32)
    np.testing.assert_allclose(
        float(keras.ops.convert_to_numpy(base.split_sum(keras.ops.convert_to_tensor(y)))),
        float(y.astype(np.float64).sum()), rtol=1e-5)
