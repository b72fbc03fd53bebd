"""`symzoo reproduce --quick` end to end, and the committed pretrained models."""

import json
import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from symzoo import reproduce

REPO = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("reproduce")
    (out / "README.md").write_text("# title\n\nintro\n")
    results = reproduce.reproduce(
        ["set_sum", "graph_degree", "blob1d_elu"], seeds=2, quick=True, out=out, verbose=0
    )
    return out, results


def test_quick_reproduce_writes_results_cards_figures_and_table(quick_run):
    out, results = quick_run
    # "set_sum" names the model (all its rows) as well as its report row
    assert set(results) == {"set_sum", "set_sum_tuned", "graph_degree", "blob1d_elu"}
    payload = json.loads((out / "models" / "set_sum" / "results.json").read_text())
    row = payload["rows"][0]
    assert row["seeds"] == [0, 1] and len(row["values"]) == 2
    assert row["report"] == 0.032
    assert row["mean"] == pytest.approx(np.mean(row["values"]))
    assert "column_sum_error" in row["extra_metrics"]
    card = (out / "models" / "set_sum" / "README.md").read_text()
    assert "symzoo reproduce set_sum --quick" in card and "0.0320" in card
    assert (out / "models" / "set_sum" / "kernel_set_sum.png").stat().st_size > 0
    assert (out / "models" / "graph_degree" / "samples.png").stat().st_size > 0
    readme = (out / "README.md").read_text()
    assert readme.startswith("# title") and reproduce.README_START in readme
    assert "GraphRowSum" in readme and "57.69%" not in readme  # gcn not run
    assert "| `graph_degree` | GraphRowSum" in readme  # the model column tells rows apart
    # re-running replaces the table instead of appending a second one
    reproduce._update_readme(out / "README.md", {}, True, [0], 1.0)
    assert (out / "README.md").read_text().count(reproduce.README_START) == 1


def test_quick_reproduce_exports_loadable_pretrained_models(quick_run, monkeypatch):
    out, _ = quick_run
    from symzoo import models

    monkeypatch.setenv("SYMZOO_SAVED_MODELS", str(out / "saved_models"))
    manifest = json.loads((out / "saved_models" / "graph_degree" / "manifest.json").read_text())
    assert manifest["data_seed"] == 0 and manifest["test_metric"] == "node_accuracy"
    # one copy of the weights: no SavedModel beside model.keras; it is exported on demand
    assert sorted(p.name for p in (out / "saved_models" / "graph_degree").iterdir()) == [
        "manifest.json", "model.keras"]
    assert list(manifest["files"]) == ["model.keras"]
    from symzoo.models import export as export_lib

    exported = pathlib.Path(
        export_lib.export_pretrained("graph_degree", out / "exported")["saved_model"])
    model = models.graph_degree(weights="pretrained")
    x = np.random.default_rng(0).integers(0, 2, (4, 10, 10)).astype("float32")
    import keras

    trained = keras.models.load_model(out / "saved_models" / "graph_degree" / "model.keras")
    np.testing.assert_array_equal(model.predict(x, verbose=0), trained.predict(x, verbose=0))
    # a fresh process that never imports symzoo serves the same predictions
    script = textwrap.dedent(
        f"""
        import sys, numpy as np, tensorflow as tf, keras
        assert "symzoo" not in sys.modules
        x = np.load({str(out / 'x.npy')!r})
        a = tf.saved_model.load({str(exported)!r}).serve(x)
        b = keras.layers.TFSMLayer({str(exported)!r}, call_endpoint="serve")(x)
        np.save({str(out / 'y.npy')!r}, np.stack([np.asarray(a), np.asarray(b)]))
        assert "symzoo" not in sys.modules
        """
    )
    np.save(out / "x.npy", x)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                          cwd=str(out), timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    served = np.load(out / "y.npy")
    expected = trained.predict(x, verbose=0)
    np.testing.assert_allclose(served[0], expected, atol=1e-5)
    np.testing.assert_allclose(served[1], expected, atol=1e-5)


def _digests(directory):
    import hashlib

    return {p.relative_to(directory).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(pathlib.Path(directory).rglob("*")) if p.is_file()}


def test_rerunning_reproduce_gives_byte_identical_exports(quick_run):
    """Re-running a finished reproduce (runs resumed, nothing trained) rewrites the same bytes."""
    out, _ = quick_run
    before = _digests(out / "saved_models" / "graph_degree")
    reproduce.reproduce(["graph_degree"], seeds=2, quick=True, out=out, verbose=0,
                        update_readme=False)
    assert _digests(out / "saved_models" / "graph_degree") == before


def test_default_roots_are_under_the_working_directory(tmp_path, monkeypatch):
    for root in (reproduce.default_root(), reproduce.default_root(quick=True),
                 reproduce.PRETRAINED_ROOT):
        assert not root.is_absolute() and root.parts[0] == "runs"
    monkeypatch.chdir(tmp_path)
    assert reproduce._train_root(reproduce.default_root()) == pathlib.Path(
        "runs/reproduce/train")
    assert reproduce._train_root(pathlib.Path(".")) == pathlib.Path("runs/reproduce")
    from symzoo import cli

    assert cli.main(["reproduce", "--write-repo", "set_sum"]) == 2  # not the repo root
    monkeypatch.chdir(REPO)
    assert cli.main(["reproduce", "--pretrained", "--write-repo"]) == 2
    assert cli.main(["reproduce", "--out", "x", "--write-repo"]) == 2


def test_reproduce_pretrained_evaluates_the_shipped_models(tmp_path, monkeypatch, capsys):
    """The README's first command on a few models: the full test split, written under ./runs."""
    from symzoo import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SYMZOO_MNIST_DIR", str(tmp_path / "no_mnist_here"))
    names = ["set_sum", "blob2d_translation", "cnn2d", "graph_degree", "mnist_cnn"]
    assert cli.main(["reproduce", "--pretrained", *names]) == 0
    out = capsys.readouterr().out
    payload = json.loads((tmp_path / "runs" / "pretrained" / "results.json").read_text())
    assert [r["model"] for r in payload["rows"]] == names
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]
    rows = {r["model"]: r for r in payload["rows"]}
    for name in names[:-1]:
        row = rows[name]
        assert row["examples"] == {"set_sum": 1000, "blob2d_translation": 3000, "cnn2d": 3000,
                                   "graph_degree": 5000}[name]
        # the same test split as when the model was exported: the recorded figure again
        assert row["value"] == pytest.approx(row["recorded"], rel=1e-4, abs=1e-6), name
    # no MNIST files: the MNIST row says where to put them, the others still ran
    assert rows["mnist_cnn"]["value"] is None
    assert "SYMZOO_MNIST_DIR" in rows["mnist_cnn"]["error"]
    assert "| `graph_degree` | GraphRowSum" in out and "100.00%" in out
    assert "4 of 5 pretrained models evaluated" in out
    assert "runs/pretrained/results.json" in out


def test_refresh_cards_adds_the_symmetry_analysis(quick_run):
    out, _ = quick_run
    assert reproduce.refresh_cards(["set_sum"], root=out, quick=True) == ["set_sum"]
    card = (out / "models" / "set_sum" / "README.md").read_text()
    assert "## Symmetry analysis" in card and "norm_share" in card
    assert (out / "models" / "set_sum" / "inspect" / "report.md").exists()


def test_rerunning_one_row_keeps_the_other_rows_of_the_model(quick_run):
    out, _ = quick_run
    reproduce.reproduce(["blob1d_tanh"], seeds=1, quick=True, out=out, verbose=0,
                        update_readme=False)
    payload = json.loads((out / "models" / "blob1d_translation" / "results.json").read_text())
    rows = [r["row"] for r in payload["rows"]]
    # EXPERIMENTS order, the earlier row kept with its 2 seeds, the new one added
    assert rows == ["blob1d_tanh", "blob1d_elu"]
    assert payload["rows"][1]["seeds"] == [0, 1] and payload["rows"][0]["seeds"] == [0]
    card = (out / "models" / "blob1d_translation" / "README.md").read_text()
    assert "MLP, tanh" in card and "MLP, ELU |" in card
    assert "kernel_blob1d_elu.png" in card  # the earlier row's figure is still linked


def test_cards_carry_the_orbit_generalisation_of_the_pair(quick_run):
    out, _ = quick_run
    from symzoo.symmetry import orbit

    result = orbit.orbit_generalization("blob1d", quick=True)
    result["command"] = "symzoo inspect blob1d_translation --orbit --quick --out X"
    folder = out / "models" / "blob1d_translation" / "orbit"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "orbit.json").write_text(json.dumps(result))
    md = reproduce._orbit_markdown("cnn1d", out / "models" / "cnn1d")
    assert "symzoo inspect blob1d_translation --orbit --quick --out X" in md
    assert "| cnn1d |" in md and "| blob1d_translation |" in md
    assert "## " not in md  # the card supplies the heading
    assert reproduce._orbit_markdown("set_sum", out / "models" / "set_sum") is None


def test_unknown_rows_are_rejected():
    with pytest.raises(ValueError, match="Expected experiment rows"):
        reproduce.experiments(["nope"])
    with pytest.raises(ValueError, match="seeds"):
        reproduce.reproduce(["set_sum"], seeds=0, quick=True)


def _committed_models():
    root = REPO / "saved_models"
    return sorted(p.name for p in root.iterdir() if (p / "manifest.json").exists()) if root.is_dir() else []


#: Test examples sampled for the MNIST models (the full 10k split is slow on 2 CPU cores).
MNIST_SAMPLE = 2000


@pytest.mark.parametrize("name", _committed_models())
def test_committed_saved_model_reaches_its_manifest_metric(name, request, tmp_path):
    """Plain TensorFlow on the SavedModel, exported on demand, gives the manifest's test metric.

    Generated data sets: the whole test split, so the figure must come back to
    float rounding (rel. 1e-4). MNIST (only these need the IDX files): a random
    sample of `MNIST_SAMPLE` test images, within 4 binomial standard errors of
    the manifest's accuracy.
    """
    import tensorflow as tf

    from symzoo import datasets, metrics, models
    from symzoo.models import export as export_lib
    from symzoo.models import weights

    directory = REPO / "saved_models" / name
    manifest = weights.verify_manifest(directory)
    # the SavedModel is exported on demand from the one committed copy of the weights
    # (model.keras; folders beside the zoo defaults hold e.g. compact models)
    exported = export_lib.export(export_lib.load_model(directory), tmp_path / name)["saved_model"]
    # Folders beside the zoo defaults (e.g. blob2d_translation_complete_compact,
    # torus_mnist_cnn_shuffled) name their zoo model and data set in the manifest,
    # and the data set's arguments (e.g. a pixel permutation) when they differ.
    spec = models.spec(manifest.get("zoo_model", name))
    dataset = manifest.get("task", spec.dataset)
    mnist = dataset in ("padded_mnist", "torus_mnist")
    kwargs = dict(manifest.get("dataset_kwargs") or {})
    if "sizes" in kwargs:
        kwargs["sizes"] = tuple(kwargs["sizes"])
    if mnist:
        kwargs["data_dir"] = request.getfixturevalue("mnist_dir")
    data = datasets.load(dataset, seed=manifest["data_seed"], **kwargs)
    x, y = data.test
    if mnist:
        idx = np.random.default_rng(0).permutation(len(y))[:MNIST_SAMPLE]
        x, y = x[idx], y[idx]
    serve = tf.saved_model.load(exported).serve
    got = metrics.evaluate_task(serve, x, y, spec.task, batch_size=250)
    got = got[manifest["test_metric"]]
    expected = manifest["test_value"]
    if mnist:
        tolerance = 4 * np.sqrt(expected * (1 - expected) / MNIST_SAMPLE)  # ~0.028 at 89%
    else:
        tolerance = 1e-4 * abs(expected) + 1e-9
    assert abs(got - expected) <= tolerance, (got, expected, tolerance)


def test_reproduce_pretrained_reports_a_corrupted_model_and_goes_on(tmp_path, monkeypatch):
    import shutil

    root = tmp_path / "saved_models"
    for name in ("graph_degree", "gin"):
        shutil.copytree(REPO / "saved_models" / name, root / name)
    with open(root / "gin" / "model.keras", "ab") as f:
        f.write(b"\0")
    monkeypatch.setenv("SYMZOO_SAVED_MODELS", str(root))
    rows = reproduce.evaluate_pretrained(["gin", "graph_degree", "gcn"], out=tmp_path / "out")
    assert "Checksum mismatch" in rows["gin"]["error"] and rows["gin"]["value"] is None
    assert "no pretrained weights" in rows["gcn"]["error"]
    assert rows["graph_degree"]["value"] == pytest.approx(rows["graph_degree"]["recorded"])
    table = (tmp_path / "out" / "results.md").read_text()
    assert "| `gin` |" in table and "not run: could not load" in table
