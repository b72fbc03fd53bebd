"""Layers against numpy references, invariance under the group, serialization, errors."""

import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from symzoo import layers, regularizers

RNG = np.random.default_rng(0)


def _np_act(name, z):
    return {
        "elu": lambda v: np.where(v > 0, v, np.expm1(np.minimum(v, 0))),
        "relu": lambda v: np.maximum(v, 0),
        "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
        "tanh": np.tanh,
        "linear": lambda v: v,
    }[name](z)


@pytest.mark.parametrize("activation", ["elu", "sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("strides", [1, 2])
def test_class_translation_dense_1d_matches_einsum(activation, strides):
    x = RNG.random((5, 8)).astype("float32")
    layer = layers.ClassTranslationDense(3, strides=strides, activation=activation)
    y = np.asarray(layer(x))
    w = np.asarray(layer.kernel)
    assert w.shape == (3, 8 // strides, 8)
    ref = _np_act(activation, np.einsum("kim,bm->bki", w, x)).mean(-1)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-6)


def test_class_translation_dense_2d_matches_einsum():
    x = RNG.random((4, 6, 8)).astype("float32")
    layer = layers.ClassTranslationDense(4, strides=(2, 4), activation="elu")
    y = np.asarray(layer(x))
    w = np.asarray(layer.kernel)
    assert w.shape == (4, 3, 2, 6, 8)
    assert layer.compute_output_shape((None, 6, 8)) == (None, 4)
    ref = _np_act("elu", np.einsum("kijmn,bmn->bkij", w, x)).reshape(4, 4, -1).mean(-1)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-6)


def test_conv_structured_kernel_is_translation_invariant():
    """A kernel tied exactly by stride-s shifts gives cyclic-translation invariance."""
    s, d, classes = 2, 8, 3
    layer = layers.ClassTranslationDense(classes, strides=s)
    layer.build((None, d, d))
    template = RNG.normal(size=(classes, d, d)).astype("float32")
    t = d // s
    kernel = np.stack(
        [
            np.stack(
                [np.roll(template, (s * i, s * j), axis=(1, 2)) for j in range(t)], axis=1
            )
            for i in range(t)
        ],
        axis=1,
    )
    layer.kernel.assign(kernel)
    x = RNG.random((6, d, d)).astype("float32")
    shifted = np.roll(x, (2 * s, 3 * s), axis=(1, 2))
    np.testing.assert_allclose(
        np.asarray(layer(x)), np.asarray(layer(shifted)), rtol=1e-5, atol=1e-6
    )


def test_set_linear_sum_matches_numpy_and_identity_is_sum():
    x = RNG.random((7, 10)).astype("float32")
    layer = layers.SetLinearSum()
    y = np.asarray(layer(x))
    w = np.asarray(layer.kernel)
    np.testing.assert_allclose(y, (x @ w.T).sum(-1, keepdims=True), rtol=1e-5)
    # column sums all 1 -> exact sum, invariant to permutations
    layer.kernel.assign(np.eye(10, dtype="float32"))
    perm = RNG.permutation(10)
    np.testing.assert_allclose(np.asarray(layer(x[:, perm])), x.sum(1, keepdims=True), rtol=1e-5)


def test_graph_row_sum_matches_numpy_and_identity_gives_degrees():
    a = (RNG.random((5, 10, 10)) < 0.4).astype("float32")
    a = np.triu(a, 1)
    a = a + a.transpose(0, 2, 1)
    layer = layers.GraphRowSum()
    y = np.asarray(layer(a))
    w = np.asarray(layer.kernel)
    np.testing.assert_allclose(y, np.maximum(a @ w, 0).sum(-1), rtol=1e-5, atol=1e-6)
    layer.kernel.assign(0.7 * np.eye(10, dtype="float32") + 0.3 / 10)
    perm = RNG.permutation(10)
    pa = a[:, perm][:, :, perm]
    np.testing.assert_allclose(np.asarray(layer(pa)), np.asarray(layer(a))[:, perm], rtol=1e-5)
    layer.kernel.assign(np.eye(10, dtype="float32"))
    np.testing.assert_allclose(np.asarray(layer(a)), a.sum(-1), rtol=1e-6)


def test_penalties_are_added_as_losses():
    layer = layers.ClassTranslationDense(
        2,
        sharing=regularizers.OffsetSharing(0.5, (1, 1)),
        sparsity=regularizers.L1Sparsity(0.1),
        penalty_mode="add_loss",
    )
    x = RNG.random((3, 6)).astype("float32")
    layer(x)
    assert layer.losses == []  # inference computes no penalty
    layer(x, training=True)
    w = np.asarray(layer.kernel)
    expected = [
        0.5 * np.abs(w - np.roll(w, (-1, -1), axis=(1, 2))).mean(),
        0.1 * np.abs(w).sum(),
    ]
    np.testing.assert_allclose([float(v) for v in layer.losses], expected, rtol=1e-5)


@pytest.mark.parametrize(
    "layer",
    [
        lambda: layers.ClassTranslationDense(
            3, strides=2, activation="tanh", sharing=regularizers.OffsetSharing(1e-3, (1, 2))
        ),
        lambda: layers.SetLinearSum(sparsity=regularizers.SigmoidSparsity(0.01, 50)),
        lambda: layers.GraphRowSum(sharing=regularizers.PairwiseSharing(1e-4)),
    ],
)
def test_config_round_trip(layer):
    layer = layer()
    config = keras.saving.serialize_keras_object(layer)
    clone = keras.saving.deserialize_keras_object(config)
    assert type(clone) is type(layer)
    assert clone.get_config() == layer.get_config()
    assert clone.sharing == layer.sharing and clone.sparsity == layer.sparsity


def test_keras_file_round_trip(tmp_path):
    inputs = keras.Input((8, 8))
    out = layers.ClassTranslationDense(
        3, strides=2, sharing=regularizers.OffsetSharing(1e-2, (1, 2))
    )(inputs)
    model = keras.Model(inputs, out)
    x = RNG.random((4, 8, 8)).astype("float32")
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: layers.ClassTranslationDense(0), "num_classes"),
        (lambda: layers.ClassTranslationDense(3, strides=0), "strides"),
        (lambda: layers.ClassTranslationDense(3, strides=(1, 2, 3)), "strides"),
        (lambda: layers.ClassTranslationDense(3, sharing="l1"), "sharing"),
        (lambda: layers.SetLinearSum(sparsity=0.01), "sparsity"),
    ],
)
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_stride_must_divide_input():
    layer = layers.ClassTranslationDense(3, strides=3)
    with pytest.raises(ValueError, match="divisible by its stride"):
        layer(np.zeros((2, 10), "float32"))


def test_offsets_out_of_range_are_rejected_at_build():
    layer = layers.ClassTranslationDense(
        3, strides=2, sharing=regularizers.OffsetSharing(1e-3, (5, 1))
    )
    with pytest.raises(ValueError, match=r"offsets\[0\]"):
        layer(np.zeros((2, 8), "float32"))
    layer = layers.ClassTranslationDense(3, sharing=regularizers.OffsetSharing(1e-3, (1, 8)))
    with pytest.raises(ValueError, match=r"offsets\[1\]"):
        layer(np.zeros((2, 8), "float32"))


def test_wrong_input_shapes():
    with pytest.raises(ValueError, match="square adjacency"):
        layers.GraphRowSum()(np.zeros((2, 4, 5), "float32"))
    layer = layers.SetLinearSum()
    layer(np.zeros((2, 10), "float32"))
    with pytest.raises(ValueError):
        layer(np.zeros((2, 9), "float32"))


BACKEND_SCRIPT = textwrap.dedent(
    """
    import numpy as np, keras
    from symzoo import layers, regularizers as R
    from symzoo.models import SymzooModel
    rng = np.random.default_rng(0)
    x = rng.random((64, 8, 8)).astype("float32"); y = rng.integers(0, 3, 64)
    inp = keras.Input((8, 8))
    out = layers.ClassTranslationDense(3, strides=2, sharing=R.OffsetSharing(1e-2, (1, 2)),
                                       sparsity=R.L1Sparsity(1e-4))(inp)
    m = SymzooModel(inp, keras.layers.Softmax()(out))
    m.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    h = m.fit(x, y, epochs=3, batch_size=32, verbose=0).history
    assert h["loss"][-1] < h["loss"][0], h
    assert "offset_sharing" in h and "l1_sparsity" in h, h
    w = np.asarray(keras.ops.convert_to_numpy(m.layers[1].kernel))
    ref = np.einsum("kijmn,bmn->bkij", w, x)
    ref = np.where(ref > 0, ref, np.expm1(np.minimum(ref, 0))).reshape(64, 3, -1).mean(-1)
    ref = np.exp(ref) / np.exp(ref).sum(-1, keepdims=True)
    np.testing.assert_allclose(m.predict(x, verbose=0), ref, rtol=1e-4, atol=1e-5)
    # SetLinearSum / GraphRowSum against numpy, and the pairwise penalty against its formula
    s = layers.SetLinearSum(sharing=R.PairwiseSharing(1e-3))
    xs = rng.random((5, 10)).astype("float32")
    ys = keras.ops.convert_to_numpy(s(xs))
    ws = np.asarray(keras.ops.convert_to_numpy(s.kernel), "float64")
    np.testing.assert_allclose(ys, (xs @ ws.sum(0))[:, None], rtol=1e-5, atol=1e-5)
    flat = ws.ravel()
    pair = 1e-3 * np.abs(flat[:, None] - flat[None, :]).sum() / 2  # λ Σ_{j<k} |θ_j − θ_k|
    np.testing.assert_allclose(
        float(keras.ops.convert_to_numpy(s.sharing(s.kernel))), pair, rtol=1e-4
    )
    g = layers.GraphRowSum()
    a = rng.integers(0, 2, (5, 10, 10)).astype("float32")
    yg = keras.ops.convert_to_numpy(g(a))
    wg = np.asarray(keras.ops.convert_to_numpy(g.kernel), "float64")
    np.testing.assert_allclose(yg, np.maximum(a @ wg, 0).sum(-1), rtol=1e-5, atol=1e-5)
    print("backend ok", keras.backend.backend())
    """
)


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_layers_and_penalties_run_on_other_backends(backend):
    pytest.importorskip(backend)
    env = {**__import__("os").environ, "KERAS_BACKEND": backend}
    proc = subprocess.run(
        [sys.executable, "-c", BACKEND_SCRIPT], env=env, capture_output=True, text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"backend ok {backend}" in proc.stdout
