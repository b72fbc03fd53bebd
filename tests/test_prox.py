"""The exact all-pairs prox against brute force, and its Keras callback."""

import itertools

import numpy as np
import pytest

from symzoo.regularizers.prox import groups, pairwise_prox


def _objective(x, theta, tau):
    diff = np.abs(x[:, None] - x[None, :])
    return 0.5 * np.sum((x - theta) ** 2) + tau * np.sum(np.triu(diff, 1))


def _weak_orderings(n):
    """Every ordered set partition of range(n) (blocks in increasing value)."""
    def partitions(items):
        if not items:
            yield []
            return
        first, rest = items[0], items[1:]
        for p in partitions(rest):
            for i in range(len(p)):
                yield p[:i] + [[first] + p[i]] + p[i + 1 :]
            yield [[first]] + p

    for p in partitions(list(range(n))):
        yield from itertools.permutations(p)


def _brute_force(theta, tau):
    """Minimum over every weak ordering of the quadratic on its closed cone.

    On the face where the blocks B_1 < … < B_m hold common values v_b, the
    objective is smooth: ½Σ(v_b − θ_i)² + τ Σ_b |B_b| (#below − #above) v_b;
    its minimiser is v_b = mean_b(θ) − τ (#below − #above). The global
    optimum lies in the relative interior of one face, so the best feasible
    (ordered) face minimiser is the answer. Needs no sorting argument.
    """
    n = len(theta)
    best, best_x = np.inf, None
    for blocks in _weak_orderings(n):
        sizes = [len(b) for b in blocks]
        below = np.cumsum([0] + sizes[:-1])
        above = n - below - np.array(sizes)
        v = np.array([theta[b].mean() for b in blocks]) - tau * (below - above)
        if np.any(np.diff(v) < -1e-12):
            continue
        x = np.empty(n)
        for b, value in zip(blocks, v):
            x[b] = value
        f = _objective(x, theta, tau)
        if f < best - 1e-12:
            best, best_x = f, x
    return best_x


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_matches_brute_force_over_weak_orderings(n):
    rng = np.random.default_rng(n)
    for trial in range(12):
        theta = rng.normal(size=n)
        if trial % 3 == 0:
            theta[1] = theta[0]  # ties in the input
        tau = float(rng.choice([0.0, 0.01, 0.1, 0.3, 2.0]))
        x = pairwise_prox(theta, tau)
        ref = _brute_force(theta, tau)
        np.testing.assert_allclose(x, ref, atol=1e-10)
        # Optimality: no random perturbation lowers the objective.
        f = _objective(x, theta, tau)
        for _ in range(20):
            assert _objective(x + 1e-4 * rng.normal(size=n), theta, tau) >= f - 1e-12


def test_exact_ties_and_order_and_mean_kept():
    rng = np.random.default_rng(0)
    theta = rng.normal(size=(6, 7)).astype(np.float32)
    x = pairwise_prox(theta, 0.02)
    assert x.shape == theta.shape and x.dtype == np.float32
    labels = groups(x)
    assert 1 < labels.max() + 1 < theta.size  # some weights tied exactly, not all
    flat_t, flat_x = theta.reshape(-1), x.reshape(-1)
    order = np.argsort(flat_t)
    assert np.all(np.diff(flat_x[order]) >= 0)  # order kept
    # The penalty's gradient sums to zero, so the prox keeps the mean.
    np.testing.assert_allclose(flat_x.mean(), flat_t.mean(), atol=1e-6)
    # Large τ: everything collapses onto the mean.
    y = pairwise_prox(theta, 10.0)
    assert np.unique(y).size == 1
    np.testing.assert_allclose(y.reshape(-1)[0], flat_t.mean(), rtol=1e-5)


def test_float32_fast_sort_path_matches_float64():
    rng = np.random.default_rng(1)
    theta = rng.normal(size=5000).astype(np.float32)
    theta[:10] = 0.0
    theta[10:20] = -0.0
    a = pairwise_prox(theta, 1e-5)
    b = pairwise_prox(theta.astype(np.float64), 1e-5)
    np.testing.assert_allclose(a, b, atol=1e-6)
    assert np.unique(a).size == np.unique(b.astype(np.float32)).size


def test_threshold_zero_integer_and_empty():
    np.testing.assert_array_equal(pairwise_prox([3, 1, 2], 0), [3.0, 1.0, 2.0])
    assert pairwise_prox(np.zeros((0,)), 1.0).shape == (0,)
    np.testing.assert_allclose(pairwise_prox([0.0, 1.0], 0.25), [0.25, 0.75])
    np.testing.assert_allclose(pairwise_prox([0.0, 1.0], 0.5), [0.5, 0.5])


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf"), "x", None, True])
def test_bad_threshold(bad):
    with pytest.raises(ValueError, match=r"Expected `threshold`.*Received: threshold="):
        pairwise_prox([1.0, 2.0], bad)


def test_non_finite_values():
    with pytest.raises(ValueError, match=r"Expected `values` to be finite"):
        pairwise_prox([1.0, np.nan], 0.1)


def test_pairwise_sharing_prox_option_config_and_no_gradient():
    import keras

    from symzoo.regularizers import PairwiseSharing

    p = PairwiseSharing(0.5, prox=True)
    assert p.get_config() == {"lam": 0.5, "reduction": "sum", "prox": True}
    assert PairwiseSharing(0.5).get_config() == {"lam": 0.5, "reduction": "sum"}
    q = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(p))
    assert q == p and q.prox
    w = keras.Variable(np.array([[0.0, 1.0], [3.0, -1.0]], dtype="float32"))
    # Same value as the subgradient penalty: Σ_{j<k}|θj−θk| = 1+3+1+2+2+4 = 13.
    assert float(p(w)) == float(PairwiseSharing(0.5)(w)) == 6.5
    assert p.prox_threshold(0.1, 4) == pytest.approx(0.05)
    assert PairwiseSharing(0.6, "mean", prox=True).prox_threshold(0.1, 4) == pytest.approx(0.01)
    with pytest.raises(ValueError, match=r"Expected `prox` to be True or False. Received: prox=1"):
        PairwiseSharing(0.5, prox=1)


def test_prox_callback_ties_kernel_during_fit():
    import keras

    from symzoo.layers import SetLinearSum
    from symzoo.models.symzoo_model import SymzooModel
    from symzoo.regularizers import PairwiseSharing
    from symzoo.regularizers.prox import PairwiseProx, prox_callbacks

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(256, 10)).astype("float32")
    y = x.sum(axis=1, keepdims=True)

    def model(prox):
        inputs = keras.Input((10,))
        out = SetLinearSum(sharing=PairwiseSharing(0.05, prox=prox), name="s")(inputs)
        m = SymzooModel(inputs, out)
        m.compile(keras.optimizers.Adam(1e-2), "mae")
        return m

    with_prox, without = model(True), model(False)
    without.set_weights(with_prox.get_weights())
    assert [type(c) for c in prox_callbacks(with_prox)] == [PairwiseProx]
    assert prox_callbacks(without) == []
    hist = with_prox.fit(x, y, epochs=3, batch_size=32, verbose=0,
                         callbacks=prox_callbacks(with_prox))
    without.fit(x, y, epochs=3, batch_size=32, verbose=0)
    n_prox = np.unique(keras.ops.convert_to_numpy(with_prox.get_layer("s").kernel)).size
    n_sub = np.unique(keras.ops.convert_to_numpy(without.get_layer("s").kernel)).size
    assert n_sub == 100  # the subgradient never ties two weights exactly
    assert n_prox < 50
    assert hist.history["s_groups"][-1] == n_prox
    assert hist.history["loss"][-1] < hist.history["loss"][0]


@pytest.mark.parametrize("mode", ["gradient", "add_loss"])
def test_prox_penalty_adds_no_gradient_in_either_penalty_mode(mode):
    import keras

    from symzoo.layers import SetLinearSum
    from symzoo.models.symzoo_model import SymzooModel
    from symzoo.regularizers import PairwiseSharing

    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).uniform(size=(64, 10)).astype("float32")
    y = x.sum(axis=1, keepdims=True)

    def trained(sharing):
        keras.utils.set_random_seed(0)
        inputs = keras.Input((10,))
        out = SetLinearSum(sharing=sharing, penalty_mode=mode, name="s")(inputs)
        m = SymzooModel(inputs, out)
        m.compile(keras.optimizers.SGD(0.1), "mae")
        m.fit(x, y, epochs=2, batch_size=16, verbose=0, shuffle=False)  # no prox callback
        return keras.ops.convert_to_numpy(m.get_layer("s").kernel)

    # Without its callback a prox=True penalty changes nothing: same weights as no penalty.
    np.testing.assert_allclose(trained(PairwiseSharing(10.0, prox=True)), trained(None), atol=1e-6)
    assert not np.allclose(trained(PairwiseSharing(10.0)), trained(None), atol=1e-3)
