"""Tests for symzoo.tuning: spaces, hypermodels, resumable / distributed search, summaries.

Searches are tiny (quick data, one epoch, one or two trials). The JAX and the
distributed tests run the CLI in subprocesses.
"""

import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from symzoo.tuning import spaces

REPO = pathlib.Path(__file__).resolve().parents[1]
SPACES_DIR = REPO / "tuning" / "spaces"
TINY = dict(quick=True, epochs=1, sizes=(96, 32, 32), verbose=0)


def _subprocess_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KERASTUNER_")}
    env.update(TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO), **extra)
    return env


# --- spaces (no TensorFlow) ---------------------------------------------------


def test_import_is_cheap():
    code = (
        "import sys, argparse, symzoo.tuning, symzoo.tuning.spaces, symzoo.tuning.cli as c; "
        "c.add_arguments(argparse.ArgumentParser()); "
        "heavy = [m for m in ('tensorflow', 'keras_tuner', 'matplotlib', 'jax') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=_subprocess_env())


def test_committed_space_files_equal_definitions():
    files = sorted(p.stem for p in SPACES_DIR.glob("*.json"))
    assert files == spaces.names(), "run `symzoo tune --write-spaces`"
    for name in spaces.names():
        text = (SPACES_DIR / f"{name}.json").read_text(encoding="utf-8")
        assert text == spaces.dumps(spaces.SPACES[name]), name
        assert spaces.load(str(SPACES_DIR / f"{name}.json")) == spaces.validate(spaces.SPACES[name])


def test_write_spaces_command(tmp_path):
    from symzoo.tuning import cli

    assert cli.main(["--write-spaces", str(tmp_path)]) == 0
    for name in spaces.names():
        assert json.loads((tmp_path / f"{name}.json").read_text()) == spaces.SPACES[name]


def test_every_model_has_a_valid_default_space():
    from symzoo import models

    for name in models.list():
        space = spaces.validate(spaces.default_space(name))
        assert "learning_rate" in space["hyperparameters"], name
        assert set(space["hyperparameters"]) <= set(spaces.searchable(name))
        # The model's own defaults lie inside its space.
        lr = space["hyperparameters"]["learning_rate"]
        assert lr["min"] <= models.spec(name).learning_rate <= lr["max"], name
        for key, value in models.spec(name).hyperparameters.items():
            spec = space["hyperparameters"].get(key)
            if spec is not None and spec["type"] == "choice":
                assert value in spec["values"], (name, key)
    for name in spaces.REPORT_MODELS:
        assert name in spaces.SPACES


def test_geometry_matches_the_models():
    from symzoo import models

    assert spaces.geometry("mnist_translation") == {"translations": 28, "input_size": 56, "strides": 2}
    for name, table in spaces.GEOMETRY.items():
        spec = models.spec(name)
        assert spaces.geometry(name) == table
        assert spec.input_shape[0] == table["input_size"]
        assert spec.hyperparameters["strides"] == table["strides"]
        hps = spaces.SPACES[name]["hyperparameters"]
        assert hps["offset_b"]["max"] == table["translations"] - 1
        assert hps["offset_b_prime"]["max"] == table["input_size"] - 1
    # Another stride changes T.
    assert spaces.geometry("mnist_translation", {"strides": 4})["translations"] == 14


def test_lam_modes():
    report = spaces.default_space("mnist_translation", lam_mode="report")
    assert report["hyperparameters"]["lam"] == {
        "type": "choice", "values": [100.0, 10.0, 1.0, 1e-2, 1e-3, 1e-4, 1e-5], "ordered": False
    }
    log = spaces.validate(spaces.default_space("mnist_translation", lam_mode="log"))
    assert log["lam_mode"] == "log"
    assert log["hyperparameters"]["lam"] == {"type": "float", "min": 1e-6, "max": 1e2, "sampling": "log"}
    # A space giving lam_mode only gets the mode's λ spec.
    resolved = spaces.resolve({"model": "blob1d_translation", "lam_mode": "log"})
    assert resolved["hyperparameters"]["lam"]["sampling"] == "log"
    with pytest.raises(ValueError, match="lam_mode"):
        spaces.default_space("set_sum", lam_mode="log")


def _space(model="blob1d_translation", **hps):
    space = spaces.default_space(model)
    for k, v in hps.items():
        if v is None:
            space["hyperparameters"].pop(k, None)
        else:
            space["hyperparameters"][k] = v
    return space


@pytest.mark.parametrize(
    "space, message",
    [
        (_space(offset_b=spaces.int_range(0, 10)), r"offset_b.*\[0, T=10\)"),
        (_space(offset_b_prime=spaces.choice([0, 10])), r"offset_b_prime.*\[0, d=10\)"),
        (_space("mnist_translation", offset_b=spaces.choice([0, 28])), r"offset_b.*\[0, T=28\)"),
        (_space("mnist_translation", offset_b_prime=spaces.int_range(0, 56)), r"\[0, d=56\)"),
        (_space(offset_b=spaces.int_range(-1, 3)), r"offset_b"),
        (_space(lam=spaces.float_range(0.0, 1.0)), r"`lam`.*> 0"),
        (_space(lam=spaces.choice([1e-3, 0.0])), r"`lam`.*> 0"),
        (
            {**spaces.set_lam_mode(_space(), "log"),
             "hyperparameters": {"lam": spaces.float_range(0.0, 1.0, sampling="log")}},
            r"min > 0",
        ),
        (_space(lam=spaces.choice([1e-3, -1.0])), r"`lam`.*> 0"),
        (_space(activation=spaces.choice(["relu", "sigmoidd"])), r"Unknown activation.*sigmoidd"),
        (_space(learning_rate=spaces.float_range(0.0, 0.1)), r"learning_rate"),
        (_space(dropout=spaces.choice([0.1])), r"unknown names \['dropout'\]"),
        ({"model": "no_such_model", "hyperparameters": {}}, r"Unknown zoo model.*no_such_model"),
        (_space(lam=spaces.float_range(1e-3, 1.0)), r"lam_mode='report'"),
        ({**_space(), "lr_schedule": "step"}, r"lr_schedule.*\['constant', 'cosine'\].*'step'"),
    ],
)
def test_invalid_space_fails_before_any_trial(space, message, tmp_path):
    from symzoo.tuning import search as search_lib

    with pytest.raises(ValueError, match=message):
        spaces.validate(space)
    with pytest.raises(ValueError, match=message):
        search_lib.search(
            space["model"], space=space, directory=tmp_path / "runs", summary_dir=False, **TINY
        )
    assert not (tmp_path / "runs").exists()  # nothing was started


def test_unknown_model_and_bad_arguments_fail_early(tmp_path):
    from symzoo.tuning import SymzooHyperModel, cli
    from symzoo.tuning import search as search_lib

    with pytest.raises(ValueError, match="Unknown zoo model"):
        SymzooHyperModel("mnist")
    with pytest.raises(ValueError, match="Unknown zoo model"):
        search_lib.search("mnist", directory=tmp_path, summary_dir=False, **TINY)
    with pytest.raises(ValueError, match="tuner"):
        search_lib.search("set_sum", tuner="annealing", directory=tmp_path, summary_dir=False, **TINY)
    with pytest.raises(ValueError, match="val_mae' or 'val_loss'"):
        search_lib.search("set_sum", objective="val_accuracy", directory=tmp_path, summary_dir=False, **TINY)
    with pytest.raises(FileNotFoundError, match="built-in space"):
        search_lib.search(
            "set_sum", space=str(tmp_path / "nope.json"), directory=tmp_path, summary_dir=False, **TINY
        )
    wrong = tmp_path / "wrong.json"
    wrong.write_text(spaces.dumps(spaces.SPACES["blob1d_translation"]))
    with pytest.raises(ValueError, match="for model 'blob1d_translation'"):
        search_lib.search(
            "blob2d_translation", space=str(wrong), directory=tmp_path, summary_dir=False, **TINY
        )
    assert sorted(os.listdir(tmp_path)) == ["wrong.json"]
    assert cli.main(["mnist", "--directory", str(tmp_path)]) == 2


def test_objectives():
    from symzoo.tuning.search import resolve_objective

    assert resolve_objective("classification") == ("val_accuracy", "max")
    assert resolve_objective("node_regression") == ("val_node_accuracy", "max")
    assert resolve_objective("node_regression", "val_accuracy") == ("val_node_accuracy", "max")
    assert resolve_objective("regression") == ("val_mae", "min")
    assert resolve_objective("regression", "val_loss") == ("val_loss", "min")
    with pytest.raises(ValueError, match="objective"):
        resolve_objective("classification", "val_mae")
    with pytest.raises(ValueError, match="objective"):
        resolve_objective("classification", "accuracy")


def test_dataset_kwargs():
    from symzoo.tuning.search import dataset_kwargs

    assert dataset_kwargs("set_sum") == ("set_sum", {})
    assert dataset_kwargs("set_sum", quick=True) == ("set_sum", {"sizes": (512, 128, 128)})
    assert dataset_kwargs("set_sum", data_fraction=0.1) == ("set_sum", {"sizes": (800, 100, 100)})
    assert dataset_kwargs("mnist_translation", data_fraction=0.125, data_dir="/m") == (
        "padded_mnist", {"sizes": (6000, 1500, 1250), "data_dir": "/m"}
    )
    assert dataset_kwargs("mnist_translation", sizes=(6000, 2000, 2000))[1] == {"sizes": (6000, 2000, 2000)}
    assert dataset_kwargs("graph_degree", quick=True) == ("graph_degree", {"num_graphs": 100})
    with pytest.raises(ValueError, match="data_fraction"):
        dataset_kwargs("set_sum", data_fraction=1.5)
    with pytest.raises(ValueError, match="data_dir"):
        dataset_kwargs("set_sum", data_dir="/m")


def test_distributed_environment_is_validated(tmp_path, monkeypatch):
    from symzoo.tuning import cli
    from symzoo.tuning.search import distributed_role, search

    full = {
        "KERASTUNER_TUNER_ID": "chief",
        "KERASTUNER_ORACLE_IP": "127.0.0.1",
        "KERASTUNER_ORACLE_PORT": "8000",
    }
    assert distributed_role(full) == "chief"
    assert distributed_role({**full, "KERASTUNER_TUNER_ID": "tuner1"}) == "worker"
    for var in full:
        env = {k: v for k, v in full.items() if k != var}
        with pytest.raises(ValueError, match=f"missing {var}"):
            distributed_role(env)
    with pytest.raises(ValueError, match="KERASTUNER_ORACLE_PORT"):
        distributed_role({**full, "KERASTUNER_ORACLE_PORT": "http"})

    for var in full:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "tuner0")
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    with pytest.raises(ValueError, match="missing KERASTUNER_ORACLE_PORT"):
        search("set_sum", distributed=True, directory=tmp_path, summary_dir=False, **TINY)
    assert cli.main(["set_sum", "--distributed", "--quick", "--directory", str(tmp_path)]) == 2
    # The variables without --distributed would silently make KerasTuner distributed.
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", "8000")
    with pytest.raises(ValueError, match="--distributed"):
        search("set_sum", directory=tmp_path, summary_dir=False, **TINY)
    assert os.listdir(tmp_path) == []


# --- hypermodels ----------------------------------------------------------------


def test_hypermodel_declares_named_hyperparameters():
    import keras
    import keras_tuner as kt

    from symzoo.layers import ClassTranslationDense
    from symzoo.tuning import SymzooHyperModel

    hm = SymzooHyperModel("blob1d_translation")
    hp = kt.HyperParameters()
    hm.build(hp)  # declares the space
    assert set(hp.values) == {"lam", "offset_b", "offset_b_prime", "activation", "l1", "learning_rate"}
    hp.values.update(offset_b=3, offset_b_prime=7, lam=1e-3, activation="tanh", learning_rate=0.005)
    model = hm.build(hp)
    layer = next(l for l in model.layers if isinstance(l, ClassTranslationDense))
    assert layer.sharing.offsets == (3, 7)
    assert layer.sharing.lam == pytest.approx(1e-3)
    assert layer.activation.__name__ == "tanh"
    lr = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
    assert lr == pytest.approx(0.005)

    # The log mode declares a log-sampled Float, the report mode a Choice.
    def declared(hm, name):
        hp = kt.HyperParameters()
        hm.build(hp)
        return next(h for h in hp.space if h.name == name)

    lam = declared(SymzooHyperModel("blob2d_translation", lam_mode="log"), "lam")
    assert type(lam).__name__ == "Float"
    assert (lam.min_value, lam.max_value, lam.sampling) == (1e-6, 1e2, "log")
    lam = declared(SymzooHyperModel("blob2d_translation"), "lam")
    assert type(lam).__name__ == "Choice" and list(lam.values) == list(spaces.REPORT_LAMBDAS)

    for name, expected in (
        ("set_sum", {"sparsity_alpha", "sharpness", "learning_rate"}),
        ("graph_degree", {"activation", "learning_rate"}),
        ("cnn1d", {"learning_rate"}),
    ):
        hp = kt.HyperParameters()
        SymzooHyperModel(name).build(hp)
        assert set(hp.values) == expected, name


# --- searches -------------------------------------------------------------------


def _trial_json(directory, trial_id):
    return json.loads((directory / f"trial_{trial_id}" / "trial.json").read_text())


def test_search_resumes_and_keeps_finished_trials(tmp_path):
    from symzoo.tuning.search import search

    runs = tmp_path / "runs"
    project = runs / "set_sum_random"
    first = search("set_sum", max_trials=1, directory=runs, summary_dir=tmp_path / "s1", **TINY)
    assert first["num_trials"] == 1 and first["timing"]["trials_this_run"] == ["0"]
    before = _trial_json(project, "0")
    stamp = (project / "trial_0" / "symzoo_trial.json").stat().st_mtime_ns
    assert before["status"] == "COMPLETED"

    second = search("set_sum", max_trials=2, directory=runs, summary_dir=tmp_path / "s2", **TINY)
    assert second["timing"]["trials_this_run"] == ["1"]  # only the new trial ran
    assert second["num_trials"] == 2 and second["counts"] == {"COMPLETED": 2}
    assert _trial_json(project, "0") == before  # the first trial's results are kept
    assert (project / "trial_0" / "symzoo_trial.json").stat().st_mtime_ns == stamp
    first_again = next(t for t in second["trials"] if t["trial_id"] == "0")
    assert first_again["score"] == pytest.approx(first["trials"][0]["score"])

    # A finished search re-run runs nothing; other settings are refused.
    third = search("set_sum", max_trials=2, directory=runs, summary_dir=False, **TINY)
    assert third["timing"]["trials_this_run"] == [] and third["num_trials"] == 2
    assert len(third["timing"]["sessions"]) == 3
    assert third["timing"]["trials_run_all_sessions"] == 2  # summed over the runs
    assert third["timing"]["trials_per_hour"] > 0
    with pytest.raises(ValueError, match="resumed with the settings"):
        search("set_sum", max_trials=3, directory=runs, summary_dir=False, **{**TINY, "epochs": 2})

    summary = json.loads((tmp_path / "s2" / "summary.json").read_text())
    assert summary["timing"]["trials_per_hour"] > 0
    assert summary["environment"]["backend"] == "tensorflow"
    assert summary["environment"]["device"]["type"] in ("CPU", "GPU")
    assert {t["status"] for t in summary["trials"]} == {"COMPLETED"}
    # The summary's test MAE is the best checkpoint's MAE on the test split (numpy).
    import numpy as np

    from symzoo.tuning.hypermodels import SymzooHyperModel
    from symzoo.tuning.search import load_data, make_tuner

    data = load_data("set_sum", seed=0, quick=True, sizes=TINY["sizes"])[0]
    reloaded = make_tuner(SymzooHyperModel("set_sum", seed=0), objective=("val_mae", "min"),
                          max_trials=2, directory=runs, project_name="set_sum_random")
    best_model = reloaded.get_best_models(1)[0]
    assert reloaded.oracle.get_best_trials(1)[0].trial_id == summary["best"]["trial_id"]
    x, y = data.test
    mae = float(np.mean(np.abs(best_model.predict(x, verbose=0).ravel() - y.ravel())))
    assert summary["best"]["test"]["test_mae"] == pytest.approx(mae, rel=1e-5)


def _wait_for(path, timeout):
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_interrupted_search_continues_where_it_stopped(tmp_path):
    """Interrupted (KeyboardInterrupt, as on Ctrl-C or a kill) during the second
    trial: the re-run keeps trial 0 untouched and runs trial 1 again."""
    import keras

    from symzoo.tuning.search import search

    class InterruptSecondTrial(keras.callbacks.Callback):
        # KerasTuner deep-copies callbacks per trial: count on the class.
        fits = 0

        def on_train_begin(self, logs=None):
            type(self).fits += 1

        def on_epoch_end(self, epoch, logs=None):
            if type(self).fits == 2:
                raise KeyboardInterrupt("simulated kill during trial 1")

    runs = tmp_path / "runs"
    project = runs / "set_sum_random"
    settings = dict(max_trials=2, epochs=2, sizes=(96, 32, 32), verbose=0, summary_dir=False)
    with pytest.raises(KeyboardInterrupt):
        search("set_sum", directory=runs, callbacks=[InterruptSecondTrial()], **settings)
    assert InterruptSecondTrial.fits == 2
    assert _trial_json(project, "0")["status"] == "COMPLETED"
    assert _trial_json(project, "1")["status"] == "RUNNING"
    assert not (project / "trial_1" / "symzoo_trial.json").exists()
    before = _trial_json(project, "0")
    stamp = (project / "trial_0" / "symzoo_trial.json").stat().st_mtime_ns

    summary = search("set_sum", directory=runs, **settings)
    assert summary["timing"]["trials_this_run"] == ["1"]  # trial 0 is not run again
    assert summary["counts"] == {"COMPLETED": 2}
    assert _trial_json(project, "0") == before
    assert (project / "trial_0" / "symzoo_trial.json").stat().st_mtime_ns == stamp


def test_translation_search_summary(tmp_path):
    from symzoo.tuning.search import search

    space = {
        "model": "blob1d_translation",
        "lam_mode": "report",
        "hyperparameters": {
            "lam": spaces.choice([1e-3, 1e-2]),
            "offset_b": spaces.choice([1, 2]),
            "offset_b_prime": spaces.choice([1, 2, 4]),
        },
        "fixed": {"strides": 1},
    }
    out = tmp_path / "summary"
    summary = search(
        "blob1d_translation", space=space, max_trials=2, directory=tmp_path / "runs",
        summary_dir=out, seed=3, **TINY,
    )
    assert summary["counts"] == {"COMPLETED": 2}
    best = summary["best"]
    assert 0.0 <= best["test"]["test_accuracy"] <= 1.0
    off = best["offsets"]
    assert off["stride"] == 1
    assert off["b_prime_equals_stride_times_b"] == (off["b_prime"] == off["b"])
    for f in ("summary.json", "summary.md", "score_vs_offsets.png"):
        assert (out / f).stat().st_size > 0
    md = (out / "summary.md").read_text()
    assert "| rank | trial | val_accuracy |" in md and "b' = s·b" in md
    saved = json.loads((out / "summary.json").read_text())
    assert saved["objective"] == {"name": "val_accuracy", "direction": "max"}
    assert saved["space"]["hyperparameters"]["offset_b"] == {"type": "choice", "values": [1, 2]}


def test_cosine_schedule_of_a_trial():
    """lr_schedule="cosine": each epoch of a trial trains at lr_at_epoch of the
    trial's learning rate; "constant" leaves the rate alone."""
    import keras
    import keras_tuner

    from symzoo import training
    from symzoo.tuning import SymzooHyperModel

    x = np.random.default_rng(0).random((64, 10), dtype=np.float32)
    y = np.arange(64) % 5
    for schedule in ("cosine", "constant"):
        space = {**_space(learning_rate=spaces.fixed(0.02)), "lr_schedule": schedule}
        hypermodel = SymzooHyperModel("blob1d_translation", space=space, seed=0)
        assert hypermodel.lr_schedule == schedule
        hp = keras_tuner.HyperParameters()
        model = hypermodel.build(hp)
        seen = []
        record = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(
            float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))))
        hypermodel.fit(hp, model, x, y, epochs=3, batch_size=32, verbose=0, callbacks=[record])
        expected = [training.lr_at_epoch(schedule, 0.02, e, 3) for e in range(3)]
        np.testing.assert_allclose(seen, expected, rtol=1e-6)
    assert expected == [0.02] * 3 and len(set(seen)) == 1


def test_references_give_the_noise_estimate_and_margins(tmp_path):
    """A reference configuration run once per seed: its sample std over seeds is
    the noise; the summary states the best trial's margin over each reference,
    and a reference at another budget is refused before any trial."""
    from symzoo.tuning import summary as summary_lib
    from symzoo.tuning.search import search

    ref_space = {**_space(lam=spaces.fixed(1e-2), offset_b=None, offset_b_prime=None,
                          activation=None, l1=None, learning_rate=spaces.fixed(0.01)),
                 "fixed": {"strides": 1}}
    for seed in (0, 1, 2):
        search("blob1d_translation", space=ref_space, max_trials=1, seed=seed,
               directory=tmp_path / "runs", project_name=f"ref{seed}",
               summary_dir=tmp_path / "ref" / f"seed{seed}", evaluate_test=False, **TINY)
    ref = summary_lib.read_reference("fixed", tmp_path / "ref")
    assert ref["seeds"] == [0, 1, 2] and len(ref["scores"]) == 3
    assert ref["std"] == pytest.approx(float(np.std(ref["scores"], ddof=1)))

    out = tmp_path / "summary"
    summary = search("blob1d_translation", max_trials=2, directory=tmp_path / "runs",
                     summary_dir=out, references={"fixed": tmp_path / "ref"}, **TINY)
    assert summary["noise"] == {"std": ref["std"], "from": "fixed"}
    (got,) = summary["references"]
    assert got["best_margin"] == pytest.approx(summary["best"]["score"] - ref["mean"])
    if ref["std"]:
        assert got["best_margin_in_noise"] == pytest.approx(got["best_margin"] / ref["std"])
    md = (out / "summary.md").read_text()
    assert "## Noise and references" in md and "| fixed | 0, 1, 2 |" in md
    assert json.loads((out / "summary.json").read_text())["noise"]["from"] == "fixed"

    with pytest.raises(ValueError, match=r"reference 'fixed' to be run on the search's"):
        search("blob1d_translation", max_trials=1, directory=tmp_path / "runs",
               project_name="other_budget", summary_dir=False,
               references={"fixed": tmp_path / "ref"}, **{**TINY, "epochs": 2})
    with pytest.raises(ValueError, match=r"seed\*/summary.json.*Received: directory="):
        search("blob1d_translation", max_trials=1, directory=tmp_path / "runs2",
               summary_dir=False, references={"none": tmp_path / "nothing"}, **TINY)
    assert not (tmp_path / "runs2").exists()


def test_hyperband_and_bayesian(tmp_path):
    from symzoo.tuning.search import search

    summary = search(
        "set_sum", tuner="hyperband", directory=tmp_path / "runs", summary_dir=False,
        **{**TINY, "epochs": 2},
    )
    assert summary["counts"].get("COMPLETED", 0) >= 1
    try:
        import sklearn  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="scikit-learn"):
            search("set_sum", tuner="bayesian", directory=tmp_path / "b", summary_dir=False, **TINY)
        assert not (tmp_path / "b").exists()
    else:
        summary = search(
            "set_sum", tuner="bayesian", max_trials=2, directory=tmp_path / "b",
            summary_dir=False, **TINY,
        )
        assert summary["counts"] == {"COMPLETED": 2}


def test_grid_search_runs_every_combination_once(tmp_path):
    from symzoo.tuning.search import search

    space = {
        "model": "set_sum",
        "hyperparameters": {
            "sharpness": {"type": "choice", "values": [10.0, 100.0]},
            "learning_rate": {"type": "choice", "values": [1e-3, 1e-2]},
        },
        "fixed": {"sparsity_alpha": 1e-3},
    }
    summary = search("set_sum", tuner="grid", space=space, max_trials=10,
                     directory=tmp_path / "runs", summary_dir=False, **TINY)
    assert summary["counts"] == {"COMPLETED": 4}  # the grid, not max_trials
    seen = {(t["hyperparameters"]["sharpness"], t["hyperparameters"]["learning_rate"])
            for t in summary["trials"]}
    assert seen == {(10.0, 1e-3), (10.0, 1e-2), (100.0, 1e-3), (100.0, 1e-2)}


def test_summary_plots_of_an_mnist_grid(tmp_path):
    """Plots and table from a synthetic MNIST summary (no training)."""
    from symzoo.tuning import summary as summary_lib

    geometry = spaces.geometry("mnist_translation")
    trials = []
    for i, (lam, (b, bp)) in enumerate(
        [(lam, pair) for lam in (1e-5, 1e-4, 1e-3) for pair in spaces.REPORT_MNIST_OFFSETS]
    ):
        trials.append({
            "trial_id": f"{i:02d}", "status": "COMPLETED", "score": 0.5 + 0.01 * i,
            "best_step": 0, "seconds": 10.0, "tuner_id": "tuner0", "metrics": {},
            "hyperparameters": {"lam": lam, "offset_b": b, "offset_b_prime": bp},
        })
    trials.append({"trial_id": "99", "status": "FAILED", "score": None, "best_step": None,
                   "seconds": None, "tuner_id": None, "metrics": {}, "hyperparameters": {},
                   "message": "ValueError: boom"})
    best = summary_lib.best_trial(trials, "max")
    assert best["trial_id"] == "17"
    summary = summary_lib.build_summary(
        name="mnist_translation", tuner="random", objective=("val_accuracy", "max"),
        space=spaces.SPACES["mnist_translation_report_grid"], trials=trials, best=best,
        test={"test_accuracy": 0.7}, settings={"max_trials": 19, "epochs": 1, "data_sizes": [6, 2, 2]},
        environment={"backend": "tensorflow", "device": {"type": "CPU", "name": "cpu"}},
        timing={"search_wall_time_s": 180.0, "trials_this_run": [t["trial_id"] for t in trials[:18]]},
        geometry=geometry,
    )
    assert summary["timing"]["trials_per_hour"] == pytest.approx(360.0)
    assert summary["best"]["offsets"]["b_prime_equals_stride_times_b"] is True  # (2, 4), s = 2
    files = summary_lib.write_summary(summary, tmp_path)
    names = {os.path.basename(f) for f in files}
    assert {"score_vs_offsets.png", "score_vs_lam.png", "summary.md", "summary.json"} <= names
    md = (tmp_path / "summary.md").read_text()
    assert "true convolution)? **yes**" in md and "FAILED ValueError: boom" in md
    assert summary_lib.offsets_check({"offset_b": 16, "offset_b_prime": 4}, geometry)[
        "b_prime_equals_stride_times_b"] is False
    # Re-plotting from the JSON alone.
    assert len(summary_lib.rewrite(str(tmp_path))) == len(files)


# --- subprocesses: JAX backend, distributed ---------------------------------------


def test_jax_backend_tiny_search(tmp_path):
    pytest.importorskip("jax")
    cmd = [
        sys.executable, "-m", "symzoo.tuning.cli", "blob1d_translation", "--quick",
        "--sizes", "96", "32", "32", "--max-trials", "1", "--epochs", "1", "--verbose", "0",
        "--directory", str(tmp_path / "runs"), "--summary-dir", str(tmp_path / "summary"),
    ]
    proc = subprocess.run(
        cmd, env=_subprocess_env(KERAS_BACKEND="jax"), capture_output=True, text=True, timeout=150
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads((tmp_path / "summary" / "summary.json").read_text())
    assert summary["environment"]["backend"] == "jax"
    assert summary["counts"] == {"COMPLETED": 1}
    assert 0.0 <= summary["best"]["test"]["test_accuracy"] <= 1.0


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_distributed_chief_and_two_workers(tmp_path):
    runs = tmp_path / "runs"
    port = str(_free_port())
    cmd = [
        sys.executable, "-m", "symzoo.tuning.cli", "set_sum", "--quick", "--sizes", "96", "32", "32",
        "--max-trials", "4", "--epochs", "1", "--verbose", "0", "--distributed",
        "--directory", str(runs), "--summary-dir", str(tmp_path / "summary"),
    ]
    procs = {}
    logs = {}
    deadline = time.monotonic() + 170
    try:
        for tuner_id in ("chief", "tuner0", "tuner1"):
            env = _subprocess_env(
                KERASTUNER_TUNER_ID=tuner_id,
                KERASTUNER_ORACLE_IP="127.0.0.1",
                KERASTUNER_ORACLE_PORT=port,
            )
            logs[tuner_id] = open(tmp_path / f"{tuner_id}.log", "w+")
            procs[tuner_id] = subprocess.Popen(
                cmd, env=env, stdout=logs[tuner_id], stderr=subprocess.STDOUT, cwd=tmp_path
            )
        for tuner_id, proc in procs.items():
            remaining = max(1.0, deadline - time.monotonic())
            try:
                proc.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                pytest.fail(f"{tuner_id} did not finish in time:\n" + _tail(tmp_path, procs))
        codes = {t: p.returncode for t, p in procs.items()}
        assert codes == {"chief": 0, "tuner0": 0, "tuner1": 0}, _tail(tmp_path, procs)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
        for f in logs.values():
            f.close()

    project = runs / "set_sum_random"
    trial_ids = sorted(p.name for p in project.glob("trial_*"))
    assert trial_ids == ["trial_0", "trial_1", "trial_2", "trial_3"]
    workers = {}
    for trial_dir in project.glob("trial_*"):
        assert json.loads((trial_dir / "trial.json").read_text())["status"] == "COMPLETED"
        record = json.loads((trial_dir / "symzoo_trial.json").read_text())
        workers.setdefault(record["tuner_id"], []).append(trial_dir.name)
    assert set(workers) == {"tuner0", "tuner1"}, workers  # both workers ran trials
    oracle = json.loads((project / "oracle.json").read_text())
    assert sorted(oracle["end_order"]) == ["0", "1", "2", "3"]
    summary = json.loads((tmp_path / "summary" / "summary.json").read_text())
    assert summary["settings"]["role"] == "chief" and summary["num_trials"] == 4
    assert {t["tuner_id"] for t in summary["trials"]} == {"tuner0", "tuner1"}
    for tuner_id in ("tuner0", "tuner1"):
        assert f"worker {tuner_id} ran trials" in (tmp_path / f"{tuner_id}.log").read_text()


def _tail(tmp_path, procs):
    out = []
    for tuner_id in procs:
        text = (tmp_path / f"{tuner_id}.log").read_text(errors="replace")
        out.append(f"--- {tuner_id} ---\n{text[-2500:]}")
    return "\n".join(out)


def test_launch_script_is_present():
    script = REPO / "tuning" / "launch" / "launch_local.sh"
    text = script.read_text()
    for var in ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"):
        assert var in text
    assert os.access(script, os.X_OK)
    if shutil.which("bash"):
        subprocess.run(["bash", "-n", str(script)], check=True)
