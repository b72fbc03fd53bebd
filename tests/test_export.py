"""symzoo.models.export: deterministic exports, exports on demand, and the image-input checks."""

import hashlib
import pathlib

import keras
import numpy as np
import pytest

from symzoo import _validation, models, training
from symzoo.models import export as export_lib
from symzoo.models import registry
from symzoo.models import weights as weights_lib

needs_tf = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="SavedModel export needs TensorFlow"
)

IMAGE_MODELS = [n for n in models.list() if models.spec(n).input_range is not None]
# The 24.6M-weight MNIST MLP is covered by the same code path; build it once, not per test.
SMALL_IMAGE_MODELS = [n for n in IMAGE_MODELS if n != "mnist_translation"]


def _digests(directory):
    directory = pathlib.Path(directory)
    return {
        p.relative_to(directory).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def test_training_keeps_thin_reexports():
    assert training.export is not None and training.load_model is not None
    assert training.BackendError is export_lib.BackendError
    assert training.SavedModelPredictor is export_lib.SavedModelPredictor


@needs_tf
def test_export_twice_gives_identical_bytes(tmp_path):
    """Same weights → same bytes, for model.keras, the SavedModel and the manifest."""
    model = models.blob2d_translation(seed=3)  # compiled: the optimizer is dropped
    x = np.random.default_rng(0).random((4, 10, 10), dtype=np.float32)
    model.fit(x, np.arange(4) % 3, epochs=1, verbose=0)
    first = export_lib.export(model, tmp_path / "a", name="blob2d_translation", extra={"seed": 3})
    export_lib.export(model, tmp_path / "b", name="blob2d_translation", extra={"seed": 3})
    a, b = _digests(tmp_path / "a"), _digests(tmp_path / "b")
    assert set(a) >= {"model.keras", "manifest.json", "saved_model/saved_model.pb",
                      "saved_model/fingerprint.pb"}
    assert a == b
    # the normalised archive still loads, with the same predictions
    reloaded = export_lib.load_model(first["keras"])
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=1e-6)
    # a model with other weights gives other bytes (the test can fail)
    other = models.blob2d_translation(seed=4)
    export_lib.export(other, tmp_path / "c", name="blob2d_translation", extra={"seed": 3})
    assert _digests(tmp_path / "c")["model.keras"] != a["model.keras"]


def test_export_without_saved_model_writes_one_copy_of_the_weights(tmp_path):
    model = models.graph_degree(seed=0)
    (tmp_path / "m" / "saved_model").mkdir(parents=True)  # left over from an older export
    written = export_lib.export(model, tmp_path / "m", saved_model=False)
    assert set(written) == {"keras", "manifest"}
    assert sorted(_digests(tmp_path / "m")) == ["manifest.json", "model.keras"]
    assert set(weights_lib.read_manifest(tmp_path / "m")["files"]) == {"model.keras"}


@needs_tf
def test_drop_saved_model_copies_keeps_one_copy_of_the_weights(tmp_path):
    root = tmp_path / "saved_models"
    export_lib.export(models.graph_degree(seed=0), root / "graph_degree",
                      extra={"seed": 0, "row": "graph_degree"})
    export_lib.export(models.gcn(seed=0), root / "gcn", saved_model=False)
    keras_bytes = (root / "graph_degree" / "model.keras").read_bytes()
    assert export_lib.drop_saved_model_copies(root) == ["graph_degree"]
    assert sorted(p.name for p in (root / "graph_degree").iterdir()) == [
        "manifest.json", "model.keras"]
    manifest = weights_lib.verify_manifest(root / "graph_degree", name="graph_degree")
    assert list(manifest["files"]) == ["model.keras"] and manifest["row"] == "graph_degree"
    assert (root / "graph_degree" / "model.keras").read_bytes() == keras_bytes
    assert export_lib.drop_saved_model_copies(root) == []  # nothing left to drop


@needs_tf
def test_export_pretrained_on_demand_serves_in_plain_tensorflow(tmp_path):
    import tensorflow as tf

    written = export_lib.export_pretrained("set_sum", tmp_path / "e")
    manifest = weights_lib.verify_manifest(tmp_path / "e", name="set_sum")
    assert manifest["source"] == "pretrained" and manifest["test_metric"] == "l1"
    x = np.random.default_rng(0).random((5, 10), dtype=np.float32)
    expected = models.set_sum(weights="pretrained").predict(x, verbose=0)
    served = tf.saved_model.load(written["saved_model"]).serve(x)
    np.testing.assert_allclose(np.asarray(served), expected, atol=1e-5)


def test_loading_hashes_only_the_files_it_reads(tmp_path, monkeypatch):
    root = tmp_path / "saved_models"
    directory = root / "graph_degree"
    directory.mkdir(parents=True)
    models.graph_degree(seed=0).save(directory / "model.keras")
    (directory / "saved_model").mkdir()
    (directory / "saved_model" / "saved_model.pb").write_bytes(b"x" * 64)
    weights_lib.write_manifest(directory, "graph_degree")
    (directory / "saved_model" / "saved_model.pb").write_bytes(b"y" * 64)  # changed, unread
    monkeypatch.setenv("SYMZOO_SAVED_MODELS", str(root))
    read = []
    real = weights_lib.sha256_file
    monkeypatch.setattr(weights_lib, "sha256_file", lambda p, *a: read.append(
        pathlib.Path(p).name) or real(p, *a))
    models.graph_degree(weights="pretrained")
    assert read == ["model.keras"]
    export_lib.load_model(directory)
    assert read == ["model.keras", "model.keras"]
    with pytest.raises(weights_lib.ChecksumError, match="saved_model.pb"):
        weights_lib.verify_manifest(directory)  # a full check still sees the change


def test_export_cli_pretrained(tmp_path, capsys):
    from symzoo import cli

    code = cli.main(["export", "graph_degree", "--pretrained", "--out", str(tmp_path / "g")])
    out = capsys.readouterr().out
    assert code == 0 and "saved_model:" in out
    assert (tmp_path / "g" / "saved_model" / "saved_model.pb").is_file()
    assert cli.main(["export", "graph_degree", "--out", str(tmp_path / "h")]) == 2
    assert "exactly one of --model PATH and --pretrained" in capsys.readouterr().err


# --------------------------------------------------------------------------
# inputs: images must be in [0, 1]
# --------------------------------------------------------------------------


def test_every_image_model_has_the_image_range():
    assert set(IMAGE_MODELS) == {
        "blob1d_translation", "cnn1d", "blob2d_translation", "cnn2d", "mnist_translation",
        "mnist_cnn", "torus_mnist_fc", "torus_mnist_cnn",
    }
    for name in IMAGE_MODELS:
        assert models.spec(name).input_range == (0.0, 1.0)
    for name in ("set_sum", "deepsets", "graph_degree", "gcn", "gin"):
        assert models.spec(name).input_range is None
    # a new model on an image data set gets the check without saying so
    spec = registry.ModelSpec(name="new", builder=lambda **k: None, dataset="blob2d")
    assert spec.input_range == (0.0, 1.0)
    for bad in ((1, 0), "ab", (0,)):
        with pytest.raises(ValueError, match="input_range"):
            registry.ModelSpec(name="new", builder=lambda **k: None, dataset="x",
                               input_range=bad)


def _images(name, rng, dtype="float32", scale=1.0):
    shape = (3, *models.spec(name).input_shape)
    return (rng.random(shape) * scale).astype(dtype)


@pytest.mark.parametrize("name", SMALL_IMAGE_MODELS)
def test_image_models_reject_images_outside_0_1(name):
    rng = np.random.default_rng(0)
    model = models.get(name)(seed=0)
    good = _images(name, rng)
    y = np.zeros(3, "int32")
    expected = model.predict(good, verbose=0)
    uint8 = _images(name, rng, "uint8", 255.0)
    uint8[0].flat[0] = 200
    unscaled = _images(name, rng, "float32", 255.0)
    for bad, dtype in ((uint8, "uint8"), (unscaled, "float32")):
        for call in (lambda b: model.predict(b, verbose=0), lambda b: model(b),
                     lambda b: model.evaluate(b, y, verbose=0),
                     lambda b: model.fit(b, y, epochs=1, verbose=0)):
            with pytest.raises(ValueError, match=r"values in \[0, 1\].*x.astype\('float32'\) / 255") as info:
                call(bad)
            assert f"dtype {dtype}" in str(info.value)
    with pytest.raises(ValueError, match="validation_data"):
        model.fit(good, y, validation_data=(unscaled, y), epochs=1, verbose=0)
    # binary integer images are in range; nothing was trained by the failed calls
    np.testing.assert_allclose(model.predict(good, verbose=0), expected, atol=1e-6)
    model.predict(np.ones((3, *models.spec(name).input_shape), "uint8"), verbose=0)
    # the scaling the message asks for gives the model's predictions on [0, 1] images
    np.testing.assert_allclose(
        model.predict(uint8.astype("float32") / 255, verbose=0),
        model.predict(uint8 / np.float32(255), verbose=0), atol=1e-6)


def test_mnist_translation_rejects_uint8_images():
    model = models.mnist_translation(seed=0, compile=False)
    x = np.zeros((2, 56, 56), "uint8")
    x[:, 20:30, 20:30] = 255
    with pytest.raises(ValueError, match=r"dtype uint8, min 0, max 255"):
        model.predict(x, verbose=0)


def test_non_image_models_are_not_range_checked():
    model = models.set_sum(seed=0)
    assert np.isfinite(model.predict(np.full((2, 10), 50.0, "float32"), verbose=0)).all()


def test_image_range_validation_helper():
    assert _validation.image_range("x", np.array([0.0, 1.0])) is not None
    with pytest.raises(ValueError, match=r"Received: x with dtype float64, min -0.5"):
        _validation.image_range("x", np.array([-0.5, 0.5]))
    with pytest.raises(ValueError, match="numeric"):
        _validation.image_range("x", np.array(["a"]))


@needs_tf
def test_saved_model_signature_rejects_images_outside_0_1(tmp_path):
    import tensorflow as tf

    model = models.cnn2d(seed=0)
    export_lib.export_saved_model(model, tmp_path / "sm")
    serve = tf.saved_model.load(str(tmp_path / "sm")).serve
    good = np.random.default_rng(0).random((2, 10, 10), dtype=np.float32)
    np.testing.assert_allclose(np.asarray(serve(good)), model.predict(good, verbose=0),
                               atol=1e-5)
    for bad in (np.full((2, 10, 10), 255, "uint8"), good * 255):
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match=r"values in \[0, 1\].*x.astype\(.*float32.*\) / 255"):
            serve(bad)


def test_verbose_auto_is_2_without_a_terminal(capsys):
    # pytest captures stdout: not a terminal
    assert training.resolve_verbose("auto") == 2
    assert training.resolve_verbose(1) == 1

    class Tty:
        def isatty(self):
            return True

    import sys

    real = sys.stdout
    sys.stdout = Tty()
    try:
        assert training.resolve_verbose("auto") == 1
    finally:
        sys.stdout = real
