"""Tests of symzoo.training: train (quick), resume, evaluate, export, load_model."""

import json
import os
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from symzoo import training  # noqa: E402


class _Interrupt(keras.callbacks.Callback):
    """Raises after the first epoch (as if the process were killed then)."""

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            raise KeyboardInterrupt("simulated kill after epoch 0")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One uninterrupted quick set_sum run of 2 epochs, shared by several tests."""
    out = tmp_path_factory.mktemp("quick") / "run"
    result = training.train("set_sum", quick=True, epochs=2, out=out, verbose=0)
    return out, result


def test_train_quick_writes_run_directory(quick_run):
    out, result = quick_run
    for name in ("results.json", "model.keras", "history.csv", "run_config.json"):
        assert (out / name).is_file(), name
    assert (out / "checkpoints" / "best.keras").is_file()
    assert (out / "backup" / "training_metadata.json").is_file()
    assert any((out / "logs").rglob("*tfevents*"))  # tensorboard is in install_requires

    saved = json.loads((out / "results.json").read_text())
    assert saved["name"] == "set_sum"
    assert saved["seed"] == 0 and saved["data_seed"] == 0
    assert saved["epochs"] == 2 and saved["epochs_completed"] == 2
    assert saved["keras_backend"] == keras.backend.backend()
    assert saved["wall_time_s"] > 0
    assert saved["data_sizes"] == list(training.QUICK_SIZES)
    assert set(saved["metrics"]) >= {"l1", "mse"}
    assert all(np.isfinite(v) for v in saved["metrics"].values())
    assert saved["metrics"] == pytest.approx(result["metrics"])

    history = result["history"]
    assert history["epoch"] == [0, 1]
    assert len(history["loss"]) == 2 and len(history["val_loss"]) == 2
    assert history["loss"][-1] < history["loss"][0]
    assert saved["history"]["loss"] == pytest.approx(history["loss"])


def test_saved_model_matches_trained_model(quick_run):
    out, result = quick_run
    x = np.random.default_rng(0).random((7, 10), dtype=np.float32)
    loaded = training.load_model(out)  # a run directory
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), result["model"].predict(x, verbose=0), atol=1e-6
    )
    # evaluate_model on the same data set reproduces the run's test metrics.
    metrics = training.evaluate_model(loaded, "set_sum", quick=True)
    assert metrics == pytest.approx(result["metrics"], rel=1e-5)
    # a path works too
    assert training.evaluate_model(str(out / "model.keras"), "set_sum", quick=True) == (
        pytest.approx(result["metrics"], rel=1e-5)
    )


def test_interrupted_training_resumes(quick_run, tmp_path):
    _, uninterrupted = quick_run
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        training.train(
            "set_sum", quick=True, epochs=2, out=out, verbose=0, callbacks=[_Interrupt()]
        )
    assert not (out / "results.json").exists()
    meta = json.loads((out / "backup" / "training_metadata.json").read_text())
    assert meta["epoch"] == 1

    resumed = training.train("set_sum", quick=True, epochs=2, out=out, verbose=0)
    assert resumed["resumed_from_epoch"] == 1
    assert resumed["epochs_this_run"] == 1
    assert resumed["epochs_completed"] == 2
    assert resumed["history"]["epoch"] == [0, 1]  # continues at epoch 1, no repeat
    # Weights, optimizer state and batch order are restored: the resumed run
    # follows the uninterrupted one.
    np.testing.assert_allclose(
        resumed["history"]["loss"], uninterrupted["history"]["loss"], rtol=1e-4
    )
    np.testing.assert_allclose(
        list(resumed["metrics"].values()),
        list(uninterrupted["metrics"].values()),
        rtol=1e-4,
    )

    # Re-running the finished run trains nothing more...
    again = training.train("set_sum", quick=True, epochs=2, out=out, verbose=0)
    assert again["epochs_this_run"] == 0
    assert again["history"]["epoch"] == [0, 1]
    assert again["metrics"] == pytest.approx(resumed["metrics"], rel=1e-6)
    # ...and asking for more epochs continues it.
    more = training.train("set_sum", quick=True, epochs=3, out=out, verbose=0)
    assert more["epochs_this_run"] == 1 and more["history"]["epoch"] == [0, 1, 2]


def test_resume_refuses_other_settings(tmp_path):
    out = tmp_path / "run"
    training.train("set_sum", quick=True, epochs=2, out=out, verbose=0)
    with pytest.raises(ValueError, match="learning_rate.*resume=False"):
        training.train("set_sum", quick=True, epochs=2, out=out, verbose=0, learning_rate=0.5)
    with pytest.raises(ValueError, match="at least the 2 epochs"):
        training.train("set_sum", quick=True, epochs=1, out=out, verbose=0)
    fresh = training.train(
        "set_sum", quick=True, epochs=1, out=out, verbose=0, learning_rate=0.5, resume=False
    )
    assert fresh["resumed_from_epoch"] == 0 and fresh["history"]["epoch"] == [0]
    assert json.loads((out / "results.json").read_text())["learning_rate"] == 0.5


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"name": "no_such_model"}, "name"),
        ({"name": "set_sum", "epochs": 0}, "epochs"),
        ({"name": "set_sum", "epochs": -3}, "epochs"),
        ({"name": "set_sum", "batch_size": 0}, "batch_size"),
        ({"name": "set_sum", "batch_size": 2.5}, "batch_size"),
        ({"name": "set_sum", "learning_rate": -1.0}, "learning_rate"),
        ({"name": "set_sum", "seed": -1}, "seed"),
        ({"name": "set_sum", "verbose": 7}, "verbose"),
        ({"name": "set_sum", "model_kwargs": {"learning_rate": 1.0}}, "model_kwargs"),
    ],
)
def test_train_rejects_bad_arguments(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        training.train(**{"quick": True, "out": tmp_path / "run", "verbose": 0, **kwargs})
    assert not (tmp_path / "run").exists()  # nothing written


def test_bad_hyperparameter_writes_nothing(tmp_path):
    with pytest.raises(TypeError, match="no_such_hp"):
        training.train(
            "set_sum", quick=True, out=tmp_path / "run", verbose=0,
            model_kwargs={"no_such_hp": 1},
        )
    assert not (tmp_path / "run").exists()


def test_train_rejects_nan_data(tmp_path, monkeypatch):
    from symzoo import datasets

    real_load = datasets.load

    def load_with_nan(name, **kwargs):
        data = real_load(name, **kwargs)
        x, y = data.train
        x = x.copy()
        x[3, 2] = np.nan
        return datasets.Splits((x, y), data.val, data.test, name=data.name, seed=data.seed)

    monkeypatch.setattr(datasets, "load", load_with_nan)
    with pytest.raises(ValueError, match="x_train.*finite|finite.*x_train"):
        training.train("set_sum", quick=True, out=tmp_path / "run", verbose=0)
    assert not (tmp_path / "run").exists()


def test_quick_data_is_small(mnist_dir):
    from symzoo import models

    for name in models.list():
        spec = models.spec(name)
        data, _ = training._load_data(spec, 0, {}, True, mnist_dir)
        sizes = data.sizes()
        assert sum(sizes) <= sum(training.QUICK_SIZES) + 16, (name, sizes)
        assert sizes[0] >= 64, (name, sizes)


# --------------------------------------------------------------------------
# export / load_model
# --------------------------------------------------------------------------

_FRESH_PROCESS = textwrap.dedent(
    """
    import os, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import numpy as np
    import tensorflow as tf
    import keras

    path, x_path, out_path = sys.argv[1:4]
    x = np.load(x_path)
    loaded = tf.saved_model.load(path)  # keep a reference: it owns the variables
    served = loaded.serve(tf.constant(x)).numpy()
    layer = keras.layers.TFSMLayer(path, call_endpoint="serve")
    via_layer = keras.ops.convert_to_numpy(layer(x))
    assert "symzoo" not in sys.modules, "the SavedModel must not need symzoo"
    np.savez(out_path, served=served, via_layer=via_layer)
    """
)


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="SavedModel export needs TensorFlow"
)
def test_export_round_trip(quick_run, tmp_path):
    from symzoo import models

    _, result = quick_run
    model = result["model"]
    written = training.export(model, tmp_path / "export", name="set_sum", extra={"seed": 0})
    assert (tmp_path / "export" / "model.keras").is_file()
    assert (tmp_path / "export" / "saved_model" / "saved_model.pb").is_file()
    assert written["manifest"].endswith("manifest.json")
    manifest = models.weights.verify_manifest(tmp_path / "export", name="set_sum")
    assert "model.keras" in manifest["files"] and manifest["seed"] == 0

    x = np.random.default_rng(1).random((9, 10), dtype=np.float32)
    expected = model.predict(x, verbose=0)

    # .keras (file and directory) in this process
    for path in (tmp_path / "export" / "model.keras", tmp_path / "export"):
        reloaded = training.load_model(path)
        assert isinstance(reloaded, models.SymzooModel)
        np.testing.assert_allclose(reloaded.predict(x, verbose=0), expected, atol=1e-5)
    # SavedModel through load_model (TFSMLayer)
    served = training.load_model(tmp_path / "export" / "saved_model")
    np.testing.assert_allclose(served.predict(x, verbose=0), expected, atol=1e-5)

    # SavedModel in a fresh process that never imports symzoo
    script = tmp_path / "serve.py"
    script.write_text(_FRESH_PROCESS)
    np.save(tmp_path / "x.npy", x)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "export" / "saved_model"),
         str(tmp_path / "x.npy"), str(tmp_path / "out.npz")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = np.load(tmp_path / "out.npz")
    np.testing.assert_allclose(out["served"], expected, atol=1e-5)
    np.testing.assert_allclose(out["via_layer"], expected, atol=1e-5)

    # a corrupted export is caught by the manifest
    pb = tmp_path / "export" / "model.keras"
    pb.write_bytes(pb.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(ValueError, match="(?i)checksum"):
        training.load_model(tmp_path / "export")


def test_export_needs_tensorflow_backend(quick_run, tmp_path, monkeypatch):
    _, result = quick_run
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    with pytest.raises(training.BackendError, match="KERAS_BACKEND=tensorflow"):
        training.export(result["model"], tmp_path / "export")
    assert not (tmp_path / "export" / "saved_model").exists()


def test_export_rejects_non_models(tmp_path):
    with pytest.raises(ValueError, match="keras.Model"):
        training.export(object(), tmp_path)


def test_load_model_errors(quick_run, tmp_path):
    out, _ = quick_run
    with pytest.raises(FileNotFoundError, match="does not exist"):
        training.load_model(tmp_path / "missing.keras")

    text = tmp_path / "text.keras"
    text.write_text("not a model")
    with pytest.raises(ValueError, match="not a zip archive") as info:
        training.load_model(text)
    assert str(text) in str(info.value)

    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes((out / "model.keras").read_bytes()[:2000])
    with pytest.raises(ValueError, match=str(truncated)):
        training.load_model(truncated)

    foreign_zip = tmp_path / "foreign.keras"
    with zipfile.ZipFile(foreign_zip, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(ValueError, match="config.json"):
        training.load_model(foreign_zip)

    bad_config = tmp_path / "bad_config.keras"
    with zipfile.ZipFile(bad_config, "w") as archive:
        archive.writestr("config.json", json.dumps({"class_name": "NoSuchClass", "config": {}}))
        archive.writestr("metadata.json", "{}")
    with pytest.raises(ValueError, match="could not load") as info:
        training.load_model(bad_config)
    assert str(bad_config) in str(info.value)

    foreign_dir = tmp_path / "foreign_dir"
    foreign_dir.mkdir()
    (foreign_dir / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="model.keras or a TensorFlow SavedModel"):
        training.load_model(foreign_dir)

    fake_saved = tmp_path / "fake_saved"
    fake_saved.mkdir()
    (fake_saved / "saved_model.pb").write_bytes(b"\x00garbage")
    with pytest.raises(ValueError, match="SavedModel") as info:
        training.load_model(fake_saved)
    assert str(fake_saved) in str(info.value)


def test_lr_at_epoch():
    assert training.lr_at_epoch(None, 0.1, 3, 10) == 0.1
    assert training.lr_at_epoch("constant", 0.1, 9, 10) == 0.1
    rates = [training.lr_at_epoch("cosine", 0.1, e, 4) for e in range(4)]
    assert rates[0] == pytest.approx(0.1)
    assert rates[2] == pytest.approx(0.05)
    assert all(a > b > 0 for a, b in zip(rates, rates[1:]))
    with pytest.raises(ValueError, match="lr_schedule"):
        training.lr_at_epoch("linear", 0.1, 0, 4)


def test_cosine_schedule_sets_learning_rate_and_resumes(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        training.train(
            "set_sum", quick=True, epochs=3, out=out, verbose=0, learning_rate=0.02,
            lr_schedule="cosine", callbacks=[_Interrupt()],
        )
    result = training.train(
        "set_sum", quick=True, epochs=3, out=out, verbose=0, learning_rate=0.02,
        lr_schedule="cosine",
    )
    assert result["resumed_from_epoch"] == 1 and result["lr_schedule"] == "cosine"
    expected = [training.lr_at_epoch("cosine", 0.02, e, 3) for e in range(3)]
    assert result["history"]["learning_rate"] == pytest.approx(expected, rel=1e-5)
    assert json.loads((out / "run_config.json").read_text())["lr_schedule"] == "cosine"
    with pytest.raises(ValueError, match="lr_schedule.*resume=False"):
        training.train(
            "set_sum", quick=True, epochs=3, out=out, verbose=0, learning_rate=0.02
        )


def test_run_config_without_lr_schedule_resumes(quick_run, tmp_path):
    """A run written before `lr_schedule` existed resumes as a constant-rate run."""
    import shutil

    out = tmp_path / "run"
    shutil.copytree(quick_run[0], out)
    config = json.loads((out / "run_config.json").read_text())
    del config["lr_schedule"]
    (out / "run_config.json").write_text(json.dumps(config))
    again = training.train("set_sum", quick=True, epochs=2, out=out, verbose=0)
    assert again["epochs_this_run"] == 0


def test_train_rejects_bad_lr_schedule(tmp_path):
    with pytest.raises(ValueError, match="lr_schedule"):
        training.train(
            "set_sum", quick=True, out=tmp_path / "run", verbose=0, lr_schedule="step"
        )
    assert not (tmp_path / "run").exists()


def test_sharing_schedule_sets_the_strength_per_epoch_and_logs_it(tmp_path):
    """Epochs before the schedule's change train exactly as the constant λ; the
    change reaches the compiled step (the kernels part) and is logged."""
    import keras

    runs = {}
    for name, schedule in (("constant", None), ("scheduled", [(0, 0.1), (2, 50.0)])):
        for epochs in (2, 3):
            result = training.train(
                "blob2d_translation", quick=True, epochs=epochs, verbose=0,
                out=tmp_path / f"{name}{epochs}", model_kwargs={"lam": 0.1},
                sharing_schedule=schedule, resume=False)
            layer = next(lay for lay in result["model"].layers if hasattr(lay, "sharing"))
            runs[name, epochs] = (keras.ops.convert_to_numpy(layer.kernel),
                                  layer.sharing.strength, result)
    np.testing.assert_array_equal(runs["scheduled", 2][0], runs["constant", 2][0])
    assert np.max(np.abs(runs["scheduled", 3][0] - runs["constant", 3][0])) > 1e-4
    assert runs["scheduled", 3][1] == 50.0 and runs["constant", 3][1] == 0.1
    history = runs["scheduled", 3][2]["history"]
    assert [float(v) for v in history["sharing_strength"]] == [0.1, 0.1, 50.0]
    assert runs["scheduled", 3][2]["sharing_schedule"] == [[0, 0.1], [2, 50.0]]


@pytest.mark.parametrize("schedule", [[], [(1, 2.0), (1, 3.0)], [(0, -1.0)], [(0.5, 1.0)],
                                      [(0, float("nan"))], "fast", [(0, 1.0, 2)]])
def test_sharing_schedule_is_validated(schedule):
    with pytest.raises(ValueError, match="sharing_schedule"):
        training.check_sharing_schedule(schedule)


def test_sharing_schedule_needs_a_sharing_penalty(tmp_path):
    with pytest.raises(ValueError, match="sharing penalty"):
        training.train("cnn1d", quick=True, epochs=1, verbose=0, out=tmp_path,
                       sharing_schedule=[(0, 1.0)])


def test_train_cli_takes_a_sharing_schedule(tmp_path):
    from symzoo import cli

    out = tmp_path / "run"
    argv = ["train", "blob2d_translation", "--quick", "--epochs", "2", "--set", "lam=0.1",
            "--sharing-schedule", "0:0.1,1:3", "--out", str(out)]
    assert cli.main(argv) == 0
    results = json.loads(next(out.glob("results*.json")).read_text())
    assert results["sharing_schedule"] == [[0, 0.1], [1, 3.0]]
    assert [float(v) for v in results["history"]["sharing_strength"]] == [0.1, 3.0]
