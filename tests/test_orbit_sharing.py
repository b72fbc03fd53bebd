"""OrbitSharing: λ/2·‖W − PW‖² and its exact proximal step after each update."""

import itertools

import keras
import numpy as np
import pytest

from symzoo.layers import ClassTranslationDense
from symzoo.models.symzoo_model import SymzooModel
from symzoo.regularizers import OrbitSharing
from symzoo.regularizers.orbit_sharing import translation_average
from symzoo.symmetry.projection import project_translation


def _brute_force_value(w, lam):
    """λ/(4|G|) Σ_g ‖W − g·W‖² over every cyclic translation g (numpy rolls)."""
    rank = w.ndim
    half = (rank - 1) // 2
    translations, pixels = w.shape[1 : 1 + half], w.shape[1 + half :]
    strides = [d // t for d, t in zip(pixels, translations)]
    total, count = 0.0, 0
    for shift in itertools.product(*[range(t) for t in translations]):
        g = w
        for a, (u, s) in enumerate(zip(shift, strides)):
            g = np.roll(g, u, axis=1 + a)           # template i gets template i − u …
            g = np.roll(g, s * u, axis=1 + half + a)  # … moved by s·u pixels
        total += float(np.sum((w.astype(np.float64) - g) ** 2))
        count += 1
    return lam * total / (4 * count)


@pytest.mark.parametrize("shape", [(3, 5, 10), (2, 4, 12), (3, 5, 4, 10, 8), (2, 3, 3, 3, 6)])
def test_translation_average_is_the_reynolds_projection(shape):
    w = np.random.default_rng(0).normal(size=shape).astype("float32")
    p = keras.ops.convert_to_numpy(translation_average(w))
    np.testing.assert_allclose(p, project_translation(w), atol=1e-5)
    again = keras.ops.convert_to_numpy(translation_average(p))
    np.testing.assert_allclose(again, p, atol=1e-5)  # idempotent


@pytest.mark.parametrize("shape", [(2, 4, 8), (2, 3, 4, 6, 8)])
def test_value_is_half_the_mean_squared_difference_to_all_translates(shape):
    w = np.random.default_rng(1).normal(size=shape).astype("float32")
    got = float(keras.ops.convert_to_numpy(OrbitSharing(0.7)(w)))
    np.testing.assert_allclose(got, _brute_force_value(w, 0.7), rtol=1e-5)
    mean = float(keras.ops.convert_to_numpy(OrbitSharing(0.7, reduction="mean")(w)))
    np.testing.assert_allclose(mean, got / w.size, rtol=1e-5)
    # Zero exactly on convolutions (the projection's image).
    conv = project_translation(w)
    assert float(keras.ops.convert_to_numpy(OrbitSharing(1.0)(conv))) < 1e-9


def test_prox_step_is_the_exact_minimiser():
    rng = np.random.default_rng(2)
    w = rng.normal(size=(2, 3, 4, 6, 8)).astype("float64")
    penalty = OrbitSharing(3.0)
    lr = 0.25
    x = keras.ops.convert_to_numpy(penalty.prox_step(keras.ops.convert_to_tensor(w, "float32"), lr))
    tau = lr * 3.0
    # Optimality of ½‖x − w‖² + τ/2 ‖x − Px‖²: (x − w) + τ (x − Px) = 0.
    residual = (x - w) + tau * (x - project_translation(x))
    assert np.abs(residual).max() < 1e-5
    # And the closed form: P w + (w − P w) / (1 + τ).
    pw = project_translation(w)
    np.testing.assert_allclose(x, pw + (w - pw) / (1 + tau), atol=1e-5)


def test_gradient_when_not_prox_matches_autodiff():
    import tensorflow as tf

    w = tf.constant(np.random.default_rng(3).normal(size=(2, 3, 6)).astype("float32"))
    penalty = OrbitSharing(0.3, prox=False)
    with tf.GradientTape() as tape:
        tape.watch(w)
        value = penalty(w)
    np.testing.assert_allclose(
        penalty.gradient(w).numpy(), tape.gradient(value, w).numpy(), atol=1e-6
    )
    # With prox=True the penalty adds no gradient (its steps replace it).
    with tf.GradientTape() as tape:
        tape.watch(w)
        value = OrbitSharing(0.3)(w)
    assert tape.gradient(value, w) is None or not np.any(tape.gradient(value, w).numpy())


def test_validation_and_config():
    with pytest.raises(ValueError, match="lam"):
        OrbitSharing(-1.0)
    with pytest.raises(ValueError, match="prox"):
        OrbitSharing(1.0, prox="yes")
    with pytest.raises(ValueError, match="rank 3"):
        OrbitSharing(1.0).validate((3, 4))
    with pytest.raises(ValueError, match="multiple.*OrbitSharing"):
        OrbitSharing(1.0).validate((3, 4, 10))
    penalty = OrbitSharing(2.0, reduction="mean", prox=False)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(penalty))
    assert restored == penalty


def _model(lam, seed=0, model_class=SymzooModel):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8))
    sharing = OrbitSharing(lam) if lam else None
    scores = ClassTranslationDense(3, strides=2, sharing=sharing, name="ctd")(inputs)
    model = model_class(inputs, keras.layers.Softmax()(scores))
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    return model


def _distance(model):
    w = keras.ops.convert_to_numpy(model.get_layer("ctd").kernel)
    return np.linalg.norm(w - project_translation(w)) / np.linalg.norm(w)


def test_prox_training_ties_the_kernel_and_learns():
    rng = np.random.default_rng(4)
    x = rng.random((128, 8, 8), dtype=np.float32)
    y = rng.integers(0, 3, 128)
    free, tied, hard = _model(0.0), _model(200.0), _model(1e5)
    start = _distance(tied)
    free.fit(x, y, epochs=4, batch_size=32, verbose=0)
    h_tied = tied.fit(x, y, epochs=4, batch_size=32, verbose=0)
    hard.fit(x, y, epochs=4, batch_size=32, verbose=0)
    # Each step divides the distance to the convolutions by 1 + lr·λ while
    # Adam's update adds ~lr to it: an equilibrium ~ 1 / (lr·λ).
    assert _distance(free) > 0.5 * start
    assert _distance(tied) < 0.1 * start
    assert _distance(hard) < 1e-3 * start
    assert h_tied.history["loss"][-1] < h_tied.history["loss"][0]
    assert "orbit_sharing" in h_tied.history
    # A tied kernel is a convolution: predictions invariant under the group.
    shifted = np.roll(x[:16], (2, 4), axis=(1, 2))
    np.testing.assert_allclose(
        hard.predict(shifted, verbose=0), hard.predict(x[:16], verbose=0), atol=1e-4)


def test_unbound_optimizer_error_names_the_fix():
    rng = np.random.default_rng(5)
    x = rng.random((8, 8, 8), dtype=np.float32)
    y = rng.integers(0, 3, 8)
    model = _model(1.0, model_class=keras.Model)
    with pytest.raises(ValueError, match="bind_optimizer"):
        model.train_on_batch(x, y)
    model.get_layer("ctd").bind_optimizer(model.optimizer)
    model.train_on_batch(x, y)


def test_save_load_identical_and_training_resumes(tmp_path):
    rng = np.random.default_rng(6)
    x = rng.random((64, 8, 8), dtype=np.float32)
    y = rng.integers(0, 3, 64)
    model = _model(50.0)
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert isinstance(loaded.get_layer("ctd").sharing, OrbitSharing)
    # The loaded model trains on, its proximal steps bound to its own optimizer.
    model.fit(x, y, epochs=1, batch_size=32, verbose=0, shuffle=False)
    loaded.fit(x, y, epochs=1, batch_size=32, verbose=0, shuffle=False)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded.get_layer("ctd").kernel),
        keras.ops.convert_to_numpy(model.get_layer("ctd").kernel), rtol=1e-5, atol=1e-6)


_BACKEND_SCRIPT = """
import keras, numpy as np
from symzoo.layers import ClassTranslationDense
from symzoo.models.symzoo_model import SymzooModel
from symzoo.regularizers import OrbitSharing
from symzoo.symmetry.projection import project_translation

keras.utils.set_random_seed(0)
i = keras.Input((8, 8))
m = SymzooModel(i, keras.layers.Softmax()(ClassTranslationDense(3, strides=2, sharing=OrbitSharing(1e5), name="ctd")(i)))
m.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
rng = np.random.default_rng(0)
x = rng.random((64, 8, 8), dtype=np.float32); y = rng.integers(0, 3, 64)
w0 = keras.ops.convert_to_numpy(m.get_layer("ctd").kernel)
d0 = np.linalg.norm(w0 - project_translation(w0))
m.fit(x, y, epochs=2, batch_size=32, verbose=0)
w = keras.ops.convert_to_numpy(m.get_layer("ctd").kernel)
assert np.linalg.norm(w - project_translation(w)) < 1e-3 * d0
print("OK", keras.backend.backend())
"""


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_prox_steps_run_on_other_backends(backend, run_on_backend):
    run_on_backend(_BACKEND_SCRIPT, backend)
