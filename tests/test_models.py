"""Tests of the model zoo: I/O shapes, training, penalties, saving, weights."""

import dataclasses
import hashlib
import json
import pathlib

import keras
import numpy as np
import pytest

from symzoo import models
from symzoo.models import registry
from symzoo.models import weights as weights_lib

NAMES = list(registry.NAMES)
SMALL = [n for n in NAMES if n != "mnist_translation"]


def _adjacency(rng, n):
    a = np.triu((rng.random((n, 10, 10)) < 0.4).astype("float32"), 1)
    return a + np.transpose(a, (0, 2, 1))


def _data(name, n=16, seed=0):
    """Tiny synthetic (x, y) with the zoo model's I/O contract."""
    rng = np.random.default_rng(seed)
    spec = models.spec(name)
    if spec.task == "node_regression":
        x = _adjacency(rng, n)
        return x, x.sum(axis=-1)
    x = rng.random((n, *spec.input_shape), dtype=np.float32)
    if spec.task == "regression":
        return x, x.sum(axis=1, keepdims=True)
    return x, rng.integers(0, spec.output_shape[0], size=n).astype("int32")


def test_gcn_is_the_kipf_welling_gcn_on_constant_features():
    """gcn = Â relu(Â 1 W1 + b1) W2 + b2, Â = D̂^-1/2 (A + I) D̂^-1/2 (numpy reference)."""
    x = _adjacency(np.random.default_rng(3), 6)
    x[0] = 0.0  # an isolated-node graph: Â = I there
    model = models.gcn(seed=1, compile=False)
    w1, b1 = model.get_layer("graph_conv_1").get_weights()
    w2, b2 = model.get_layer("graph_conv_2").get_weights()
    a = x + np.eye(10, dtype="float32")
    r = 1.0 / np.sqrt(a.sum(-1))
    a_hat = a * r[..., :, None] * r[..., None, :]
    h = np.maximum(a_hat @ np.ones((6, 10, 1), "float32") @ w1 + b1, 0.0)
    expected = (a_hat @ h @ w2 + b2)[..., 0]
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-5)


def test_gcn_cannot_tell_the_degree_of_regular_graphs():
    """Â·1 = 1 on every regular graph: degree 0, 2 and 9 get one and the same prediction."""
    ring = np.roll(np.eye(10, dtype="float32"), 1, axis=1)
    graphs = np.stack([np.zeros((10, 10), "float32"), ring + ring.T,
                       np.ones((10, 10), "float32") - np.eye(10, dtype="float32")])
    pred = models.gcn(seed=0, compile=False).predict(graphs, verbose=0)
    np.testing.assert_allclose(pred, np.full_like(pred, pred[0, 0]), rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module")
def mnist_translation_model():
    # A few steps on 12 images: a smaller step than the full-data default (5e-2).
    return models.mnist_translation(seed=0, learning_rate=1e-3)


# --- registry -----------------------------------------------------------------


def test_list_is_the_thirteen_names_in_order():
    assert models.list() == NAMES
    assert len(NAMES) == len(set(NAMES)) == 13
    assert models.list() is not models.list()  # callers may mutate their copy


def test_specs_match_the_report():
    expected = {
        "set_sum": ("test_l1", 0.032, "set_sum", "regression"),
        "deepsets": ("test_l1", 0.015, "set_sum", "regression"),
        "blob1d_translation": ("test_accuracy", 0.783, "blob1d", "classification"),
        "cnn1d": ("test_accuracy", 0.65, "blob1d", "classification"),
        "blob2d_translation": ("test_accuracy", 1.0, "blob2d", "classification"),
        "cnn2d": ("test_accuracy", None, "blob2d", "classification"),
        "mnist_translation": ("test_accuracy", 0.8368, "padded_mnist", "classification"),
        "mnist_cnn": ("test_accuracy", 0.8804, "padded_mnist", "classification"),
        "graph_degree": ("test_node_accuracy", 1.0, "graph_degree", "node_regression"),
        "gcn": ("test_node_accuracy", 0.5769, "graph_degree", "node_regression"),
        "gin": ("test_node_accuracy", None, "graph_degree", "node_regression"),
        "torus_mnist_fc": ("test_accuracy", None, "torus_mnist", "classification"),
        "torus_mnist_cnn": ("test_accuracy", None, "torus_mnist", "classification"),
    }
    assert list(expected) == models.list()  # also pins the order of list()
    for name, (metric, value, dataset, task) in expected.items():
        spec = models.spec(name)
        assert isinstance(spec, models.ModelSpec)
        assert (spec.name, spec.report_metric, spec.report_value) == (name, metric, value)
        assert (spec.dataset, spec.task) == (dataset, task)
        assert spec.builder is models.get(name) is getattr(models, name)
        assert isinstance(spec.dataset_kwargs, dict) and spec.description
        assert spec.epochs > 0 and spec.batch_size > 0
    # The spec's learning rate is the constructor's default (one DEFAULTS table).
    from symzoo.models import translation

    for name in ("blob1d_translation", "mnist_translation"):
        assert models.spec(name).learning_rate == translation.DEFAULTS[name]["learning_rate"]
    assert models.spec("mnist_translation").hyperparameters["offsets"] == (16, 4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        models.spec("gcn").epochs = 3


@pytest.mark.parametrize("lookup", [models.get, models.spec])
def test_unknown_name_lists_the_known_ones(lookup):
    with pytest.raises(ValueError, match="Unknown zoo model.*set_sum.*gin.*nope"):
        lookup("nope")


def test_docstrings_state_the_defaults():
    doc = models.mnist_translation.__doc__
    from symzoo.models import translation

    defaults = translation.DEFAULTS["mnist_translation"]
    assert f"(default {defaults['lam']!r})" in doc and repr(defaults["offsets"]) in doc
    assert f"(default {defaults['learning_rate']!r})" in doc
    assert "{" not in models.set_sum.__doc__
    assert "(default 0.01)" in models.set_sum.__doc__
    assert "D^{-1/2}" in models.gcn.__doc__


# --- shapes, training, penalties ----------------------------------------------


@pytest.mark.parametrize("name", SMALL)
def test_io_shapes_and_training(name):
    keras.utils.set_random_seed(0)
    spec = models.spec(name)
    model = models.get(name)(seed=0)
    assert isinstance(model, models.SymzooModel) and model.name == name
    assert tuple(model.input_shape[1:]) == spec.input_shape
    assert tuple(model.output_shape[1:]) == spec.output_shape
    x, y = _data(name)
    pred = model.predict(x[:3], verbose=0)
    assert pred.shape == (3, *spec.output_shape)
    if spec.task == "classification":
        np.testing.assert_allclose(pred.sum(axis=-1), 1.0, rtol=1e-5)
    # prox=True penalties (torus_mnist_fc) step through their callback.
    from symzoo.regularizers.prox import prox_callbacks

    history = model.fit(
        x, y, epochs=4, batch_size=len(x), verbose=0, callbacks=prox_callbacks(model)
    ).history
    loss = np.array(history["loss"])
    if prox_callbacks(model):
        # The prox penalty's value is logged in the loss without a gradient
        # (the callback steps it); the data loss is what the optimizer lowers.
        loss = loss - np.array(history["pairwise_sharing"])
    assert loss[-1] < loss[0], history
    expected_metric = {
        "regression": "mae",
        "classification": "accuracy",
        "node_regression": "node_accuracy",
    }[spec.task]
    assert expected_metric in history


def test_mnist_translation(mnist_translation_model):
    model = mnist_translation_model
    assert model.count_params() == 24586240
    assert model.get_layer("class_translation_dense").kernel.shape == (10, 28, 28, 56, 56)
    x, y = _data("mnist_translation", n=4)
    assert model.predict(x[:2], verbose=0).shape == (2, 10)
    history = model.fit(x, y, epochs=3, batch_size=4, verbose=0).history
    assert history["loss"][-1] < history["loss"][0]
    assert "offset_sharing" in history


def test_penalties_in_losses_and_history():
    model = models.blob1d_translation(seed=0, l1=1e-3)
    x, y = _data("blob1d_translation")
    model(x[:2])
    assert model.losses == []  # inference computes no penalty
    layer = model.get_layer("class_translation_dense")
    assert model.penalty_mode == "gradient"
    model.penalty_mode = "add_loss"  # the reference path puts them in model.losses
    model(x[:2], training=True)
    assert [n for n, _ in layer.penalties] == ["offset_sharing", "l1_sparsity"]
    assert len(model.losses) == 2
    w = keras.ops.convert_to_numpy(layer.kernel)
    expected = [
        1e-2 * np.abs(w - np.roll(w, (-1, -1), axis=(1, 2))).mean(),  # offset_sharing
        1e-3 * np.abs(w).sum(),  # l1_sparsity
    ]
    got = [float(keras.ops.convert_to_numpy(v)) for v in model.losses]
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    history = model.fit(x, y, epochs=1, batch_size=8, verbose=0, validation_data=(x, y)).history
    for key in ("offset_sharing", "l1_sparsity", "val_offset_sharing", "val_l1_sparsity"):
        assert key in history, history.keys()

    set_model = models.set_sum(seed=0)
    xs, ys = _data("set_sum")
    assert "sigmoid_sparsity" in set_model.fit(xs, ys, epochs=1, verbose=0).history

    # lam=0 and sparsity_alpha=0 disable the penalties.
    plain = models.blob1d_translation(lam=0.0)
    plain.penalty_mode = "add_loss"
    plain(x[:2], training=True)
    assert plain.losses == []
    assert "offset_sharing" not in plain.fit(x, y, epochs=1, verbose=0).history
    assert models.set_sum(sparsity_alpha=0.0).get_layer("set_linear_sum").penalties == []


def test_hyperparameters_change_the_architecture():
    from symzoo.regularizers import OffsetSharing, PairwiseSharing

    model = models.blob1d_translation(strides=2, offsets=(2, 2), reduction="sum", activation="tanh")
    layer = model.get_layer("class_translation_dense")
    assert layer.kernel.shape == (5, 5, 10)
    assert layer.sharing == OffsetSharing(1e-2, (2, 2), "sum")
    assert models.blob2d_translation(strides=(2, 5)).get_layer(
        "class_translation_dense"
    ).kernel.shape == (3, 5, 2, 10, 10)
    assert models.deepsets(hidden=8).count_params() == (1 * 8 + 8) + 2 * (8 * 8 + 8) + (8 + 1)
    assert models.gcn(hidden=4).count_params() == 2 * 4 + 4 + 1
    shared = models.set_sum(sharing=PairwiseSharing(1e-3))
    assert [n for n, _ in shared.get_layer("set_linear_sum").penalties] == [
        "pairwise_sharing",
        "sigmoid_sparsity",
    ]
    assert models.cnn1d(filters=4, kernel_size=5).get_layer("conv").kernel.shape == (5, 1, 4)
    model = models.gin(compile=False)
    assert not model.compiled
    model = models.gin(learning_rate=3e-4)
    assert np.isclose(float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)), 3e-4)


def test_seed_makes_initial_weights_reproducible():
    a = models.gin(seed=7).get_weights()
    b = models.gin(seed=7).get_weights()
    c = models.gin(seed=8).get_weights()
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert not all(np.array_equal(u, v) for u, v in zip(a, c))


# --- bad arguments ------------------------------------------------------------


@pytest.mark.parametrize("bad", ["foo", "model.h5", 3, True, ["a.keras"]])
def test_bad_weights_value(bad):
    with pytest.raises(ValueError, match="Expected weights to be None, 'pretrained' or a path"):
        models.blob1d_translation(weights=bad)


def test_missing_weights_path(tmp_path):
    missing = tmp_path / "missing.keras"
    with pytest.raises(FileNotFoundError, match="weights"):
        models.cnn1d(weights=missing)
    with pytest.raises(FileNotFoundError, match="missing.weights.h5"):
        models.cnn1d(weights=str(tmp_path / "missing.weights.h5"))


def test_weights_are_validated_before_building(monkeypatch):
    def fail(*args, **kwargs):  # pragma: no cover - must not run
        raise AssertionError("built before validating weights")

    monkeypatch.setattr(models.registry, "merge_hyperparameters", fail)
    with pytest.raises(ValueError, match="Expected weights"):
        models.blob1d_translation(weights="foo", strides=3)


@pytest.mark.parametrize(
    "name, kwargs, match",
    [
        ("blob1d_translation", {"lam": -1.0}, "lam"),
        ("blob1d_translation", {"l1": -0.1}, "l1"),
        ("blob1d_translation", {"offsets": (10, 1)}, "offsets"),
        ("blob1d_translation", {"offsets": (1, 10)}, "offsets"),
        ("blob1d_translation", {"offsets": (-1, 1)}, "offsets"),
        ("blob1d_translation", {"strides": 3}, "divisible"),
        ("blob2d_translation", {"strides": 4}, "divisible"),
        ("blob1d_translation", {"reduction": "max"}, "reduction"),
        ("blob1d_translation", {"learning_rate": -1e-3}, "learning_rate"),
        ("set_sum", {"sparsity_alpha": -1}, "sparsity_alpha"),
        ("set_sum", {"sharing": "pairwise"}, "sharing"),
        ("deepsets", {"hidden": 0}, "hidden"),
        ("gcn", {"hidden": 2.5}, "hidden"),
        ("mnist_cnn", {"filters": (32, 64)}, "filters"),
        ("gin", {"seed": -1}, "seed"),
        ("gin", {"compile": "yes"}, "compile"),
    ],
)
def test_bad_arguments(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        models.get(name)(**kwargs)


def test_unknown_hyperparameter():
    with pytest.raises(TypeError, match=r"unexpected hyperparameter.*'lamda'.*'lam'"):
        models.blob1d_translation(lamda=0.1)


# --- saving -------------------------------------------------------------------


@pytest.mark.parametrize("name", SMALL)
def test_keras_round_trip(name, tmp_path):
    model = models.get(name)(seed=1)
    x, y = _data(name, n=8)
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is models.SymzooModel and loaded.name == name
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))
    # The same file as `weights=` of the constructor, and a .weights.h5 file.
    np.testing.assert_array_equal(
        models.get(name)(weights=path).predict(x, verbose=0), model.predict(x, verbose=0)
    )
    h5 = tmp_path / f"{name}.weights.h5"
    model.save_weights(h5)
    np.testing.assert_array_equal(
        models.get(name)(weights=str(h5)).predict(x, verbose=0), model.predict(x, verbose=0)
    )


def test_weights_file_of_another_architecture(tmp_path):
    path = tmp_path / "gcn.keras"
    models.gcn().save(path)
    with pytest.raises(ValueError, match="do not fit the 'gin' architecture"):
        models.gin(weights=path)
    h5 = tmp_path / "gin.weights.h5"
    models.gin().save_weights(h5)
    with pytest.raises(ValueError, match="Could not load weights"):
        models.gin(hidden=8, weights=h5)


# --- pretrained weights and manifests -----------------------------------------


@pytest.fixture
def saved_models(tmp_path, monkeypatch):
    root = tmp_path / "saved_models"
    root.mkdir()
    monkeypatch.setenv("SYMZOO_SAVED_MODELS", str(root))
    return root


def _export(model, root, name, **extra):
    directory = root / name
    directory.mkdir(exist_ok=True)
    model.save(directory / "model.keras")
    return directory, weights_lib.write_manifest(directory, name, extra)


def test_saved_models_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("SYMZOO_SAVED_MODELS", raising=False)
    import symzoo

    package = pathlib.Path(symzoo.__file__).resolve().parent
    installed = package / weights_lib.INSTALLED_DIR  # a non-editable install's package data
    expected = installed if installed.is_dir() else package.parent / "saved_models"
    assert weights_lib.saved_models_dir() == expected
    assert (expected / "set_sum" / "manifest.json").is_file()
    monkeypatch.setenv("SYMZOO_SAVED_MODELS", str(tmp_path))
    assert weights_lib.pretrained_dir("gcn") == tmp_path / "gcn"


def test_pretrained_without_manifest(saved_models):
    with pytest.raises(FileNotFoundError, match=r"symzoo reproduce blob1d_translation"):
        models.blob1d_translation(weights="pretrained")
    (saved_models / "blob1d_translation").mkdir()
    with pytest.raises(FileNotFoundError, match="manifest.json"):
        models.blob1d_translation(weights="pretrained")


def test_pretrained_round_trip(saved_models):
    model = models.blob1d_translation(seed=0)
    x, y = _data("blob1d_translation")
    model.fit(x, y, epochs=1, verbose=0)
    hp = dict(models.spec("blob1d_translation").hyperparameters)
    directory, manifest = _export(
        model, saved_models, "blob1d_translation", hyperparameters=hp, metrics={"test_accuracy": 0.5}
    )
    assert manifest["name"] == "blob1d_translation"
    assert manifest["metrics"] == {"test_accuracy": 0.5}
    assert set(manifest["files"]) == {"model.keras"}
    on_disk = json.loads((directory / "manifest.json").read_text())
    assert on_disk["files"]["model.keras"]["sha256"] == weights_lib.sha256_file(
        directory / "model.keras"
    )

    loaded = models.blob1d_translation(weights="pretrained")
    assert isinstance(loaded, models.SymzooModel) and loaded.compiled
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert "offset_sharing" in loaded.fit(x, y, epochs=1, verbose=0).history

    # New penalty hyperparameters on the pretrained weights.
    plain = models.blob1d_translation(weights="pretrained", lam=0.0, compile=False)
    assert plain.get_layer("class_translation_dense").penalties == []
    np.testing.assert_allclose(
        plain.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6, atol=1e-7
    )
    with pytest.raises(ValueError, match="do not fit"):
        models.blob1d_translation(weights="pretrained", strides=2)


def test_pretrained_checksum_mismatch(saved_models):
    directory, manifest = _export(models.graph_degree(), saved_models, "graph_degree")
    with open(directory / "model.keras", "ab") as f:
        f.write(b"\0")
    expected = manifest["files"]["model.keras"]["sha256"]
    with pytest.raises(weights_lib.ChecksumError, match=f"model.keras.*expected sha256 {expected}"):
        models.graph_degree(weights="pretrained")
    assert issubclass(weights_lib.ChecksumError, ValueError)


def test_pretrained_foreign_model(saved_models):
    # Same input and output shapes as blob1d_translation, but another model.
    _export(models.cnn1d(), saved_models, "blob1d_translation")
    with pytest.raises(ValueError, match="not a pretrained 'blob1d_translation'.*named 'cnn1d'"):
        models.blob1d_translation(weights="pretrained")
    inputs = keras.Input((10,))
    plain = keras.Model(inputs, keras.layers.Dense(5)(inputs), name="blob1d_translation")
    _export(plain, saved_models, "blob1d_translation")
    with pytest.raises(ValueError, match="not a SymzooModel"):
        models.blob1d_translation(weights="pretrained")
    # A manifest written for another name.
    directory = saved_models / "gcn"
    directory.mkdir()
    models.gcn().save(directory / "model.keras")
    weights_lib.write_manifest(directory, "gin")
    with pytest.raises(ValueError, match="for model 'gin', not 'gcn'"):
        models.gcn(weights="pretrained")


def test_manifest_lists_every_file_recursively(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "model.keras").write_bytes(b"abc")
    (tmp_path / "sub" / "notes.txt").write_text("x")
    manifest = weights_lib.write_manifest(tmp_path, "demo", {"seed": np.int64(3)})
    assert set(manifest["files"]) == {"model.keras", "sub/notes.txt"}
    assert manifest["seed"] == 3
    assert manifest["files"]["model.keras"] == {
        "sha256": hashlib.sha256(b"abc").hexdigest(),
        "bytes": 3,
    }
    # Rewriting does not list the manifest itself.
    assert set(weights_lib.write_manifest(tmp_path, "demo")["files"]) == set(manifest["files"])
    assert weights_lib.verify_manifest(tmp_path)["name"] == "demo"
    (tmp_path / "sub" / "notes.txt").unlink()
    with pytest.raises(FileNotFoundError, match="notes.txt"):
        weights_lib.verify_manifest(tmp_path)
    with pytest.raises(ValueError, match="reserved"):
        weights_lib.write_manifest(tmp_path, "demo", {"files": {}})
    with pytest.raises(FileNotFoundError):
        weights_lib.write_manifest(tmp_path / "nowhere", "demo")


def test_manifest_model_facts(tmp_path):
    (tmp_path / "model.keras").write_bytes(b"abc")
    facts = weights_lib.model_facts
    assert facts("mnist_translation") == {"task": "padded_mnist", "sharing": "offset_diagonal"}
    assert facts("blob2d_translation", {"lam": 2.0, "sharing_form": "complete"})["sharing"] == (
        "offset_complete")
    assert facts("blob2d_translation", {"lam": 0.0})["sharing"] == "none"
    assert facts("cnn2d") == {"task": "blob2d", "sharing": "convolution"}
    assert facts("set_sum", {"sharing": {"class_name": "PairwiseSharing"}})["sharing"] == (
        "pairwise_sharing")
    assert facts("not_a_zoo_model") == {}
    manifest = weights_lib.write_manifest(
        tmp_path, "blob1d_translation", {"hyperparameters": {"lam": 0.0}})
    assert (manifest["task"], manifest["sharing"]) == ("blob1d", "none")
    # Explicit fields win; add_model_facts keeps them and the file hashes.
    manifest = weights_lib.write_manifest(tmp_path, "blob1d_translation", {"sharing": "x"})
    again = weights_lib.add_model_facts(tmp_path)
    assert again["sharing"] == "x" and again["files"] == manifest["files"]
