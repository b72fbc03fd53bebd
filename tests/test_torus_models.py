"""Torus-MNIST models: the tied FC kernel is the circular CNN; layers' contracts."""

import numpy as np
import pytest

import keras

from symzoo import models
from symzoo.layers import CircularConv2D, PositionChannelDense
from symzoo.regularizers import PairwiseSharing
from symzoo.regularizers.prox import PairwiseProx, prox_callbacks
from symzoo.symmetry import partition


def _x(n=4, seed=0):
    return np.random.default_rng(seed).uniform(size=(n, 14, 14)).astype("float32")


def test_tied_fc_equals_circular_cnn_and_cnn_is_shift_invariant():
    fc = models.torus_mnist_fc(seed=0, channels=3)
    cnn = models.torus_mnist_cnn(seed=1, filters=3)
    k = keras.ops.convert_to_numpy(cnn.get_layer("circular_conv").kernel)[:, :, 0, :]
    b = keras.ops.convert_to_numpy(cnn.get_layer("circular_conv").bias)
    labels = partition.true_partition("circular_conv", (196, 196 * 3), image_shape=(14, 14))
    values = np.transpose(k, (2, 0, 1)).reshape(-1)  # label (f·14 + dy)·14 + dx
    layer = fc.get_layer("position_dense")
    layer.kernel.assign(values[labels].reshape(196, 196 * 3))
    layer.bias.assign(b)
    fc.get_layer("classifier").set_weights(cnn.get_layer("classifier").get_weights())
    x = _x()
    np.testing.assert_allclose(fc.predict(x, verbose=0), cnn.predict(x, verbose=0), atol=1e-6)
    shifted = np.roll(x, (3, 11), axis=(1, 2))
    np.testing.assert_allclose(
        cnn.predict(shifted, verbose=0), cnn.predict(x, verbose=0), atol=1e-6
    )


def test_circular_conv_matches_numpy_reference():
    layer = CircularConv2D(2, (3, 2), use_bias=False)
    x = np.random.default_rng(0).normal(size=(1, 5, 4, 1)).astype("float32")
    y = keras.ops.convert_to_numpy(layer(x))
    k = keras.ops.convert_to_numpy(layer.kernel)
    ref = np.zeros((1, 5, 4, 2))
    for i in range(5):
        for j in range(4):
            for a in range(3):
                for c in range(2):
                    ref[0, i, j] += x[0, (i + a) % 5, (j + c) % 4, 0] * k[a, c, 0]
    np.testing.assert_allclose(y, ref, atol=1e-5)
    assert layer.compute_output_shape((None, 5, 4, 1)) == (None, 5, 4, 2)


def test_fc_default_uses_prox_and_save_load(tmp_path):
    fc = models.torus_mnist_fc(seed=0, channels=2, lam=1e-3)
    layer = fc.get_layer("position_dense")
    assert layer.sharing == PairwiseSharing(1e-3, prox=True)
    assert [type(c) for c in prox_callbacks(fc)] == [PairwiseProx]
    x = _x(64)
    y = np.arange(64) % 10
    fc.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=prox_callbacks(fc))
    kernel = keras.ops.convert_to_numpy(layer.kernel)
    assert np.unique(kernel).size < kernel.size  # exact ties
    path = tmp_path / "fc.keras"
    fc.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), fc.predict(x, verbose=0), atol=1e-6)
    assert loaded.get_layer("position_dense").sharing.prox


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"Received: channels=0"):
        PositionChannelDense(196, 0)
    with pytest.raises(ValueError, match=r"Received: kernel_size=15"):
        models.torus_mnist_cnn(kernel_size=15)
    with pytest.raises(ValueError, match=r"Received: prox='yes'"):
        models.torus_mnist_fc(prox="yes")
