"""Tests of symzoo.symmetry: groups, projections, metrics, extraction, report, orbit."""

import json
import time

import keras
import numpy as np
import pytest

from symzoo.layers import ClassTranslationDense, GraphRowSum, SetLinearSum
from symzoo.models.symzoo_model import SymzooModel
from symzoo.symmetry import extraction, groups, metrics, orbit, projection, report

RNG = np.random.default_rng(0)


def _rng(seed=0):
    return np.random.default_rng(seed)


def _translation_model(spatial, strides, num_classes=3, activation="elu"):
    inputs = keras.Input(spatial)
    layer = ClassTranslationDense(num_classes, strides=strides, activation=activation)
    outputs = keras.layers.Softmax()(layer(inputs))
    return SymzooModel(inputs, outputs, name="tiny_translation")


def _set_model(n=6):
    inputs = keras.Input((n,))
    return SymzooModel(inputs, SetLinearSum(name="set_linear_sum")(inputs), name="tiny_set")


def _graph_model(n=6, activation="relu"):
    inputs = keras.Input((n, n))
    return SymzooModel(inputs, GraphRowSum(activation=activation, name="graph_row_sum")(inputs), name="tiny_graph")


def _graphs(n=6, count=16, seed=0):
    rng = _rng(seed)
    upper = np.triu((rng.random((count, n, n)) < 0.5).astype("float32"), 1)
    return upper + np.transpose(upper, (0, 2, 1))


TRANSLATION_CASES = [
    ((8,), 1),
    ((8,), 2),
    ((6, 4), 1),
    ((6, 4), 2),
    ((6, 4), (3, 1)),
]


# --- groups --------------------------------------------------------------------------


def test_set_permutation_numpy_and_ops_agree():
    group = groups.SetPermutation(5)
    x = _rng().random((4, 5)).astype("float32")
    g = group.sample(_rng(1), 3)
    assert g.shape == (3, 5) and all(sorted(p) == list(range(5)) for p in g)
    np.testing.assert_array_equal(group.act_input(x, g[0]), x[:, g[0]])
    ops_out = keras.ops.convert_to_numpy(group.act_input(keras.ops.convert_to_tensor(x), g[0]))
    np.testing.assert_array_equal(ops_out, x[:, g[0]])
    y = x.sum(axis=1, keepdims=True)
    np.testing.assert_array_equal(group.act_output(y, g[0]), y)  # invariant target
    np.testing.assert_allclose(group.act_input(x, g[0]).sum(1, keepdims=True), y, rtol=1e-6)


def test_graph_permutation_degrees_equivariant():
    group = groups.GraphNodePermutation(6)
    a = _graphs()
    degrees = a.sum(axis=2)
    for g in group.sample(_rng(2), 5):
        pa = group.act_input(a, g)
        p = groups.GraphNodePermutation.matrix(g)
        np.testing.assert_array_equal(pa, p @ a @ p.T)  # P A Pᵀ
        np.testing.assert_array_equal(pa.sum(axis=2), group.act_output(degrees, g))
        ops_pa = keras.ops.convert_to_numpy(group.act_input(keras.ops.convert_to_tensor(a), g))
        np.testing.assert_array_equal(ops_pa, pa)


def test_cyclic_translation_by_strides():
    group = groups.CyclicTranslation((6, 4), strides=(3, 2))
    assert group.grid == (2, 2) and group.order == 4
    assert group.elements().tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    x = _rng().random((3, 6, 4))
    np.testing.assert_array_equal(group.act_input(x, (1, 1)), np.roll(x, (3, 2), axis=(1, 2)))
    ops_x = keras.ops.convert_to_numpy(group.act_input(keras.ops.convert_to_tensor(x), (1, 0)))
    np.testing.assert_allclose(ops_x, np.roll(x, 3, axis=1))
    samples = group.sample(_rng(3), 50)
    assert samples.shape == (50, 2) and samples.min() >= 0 and (samples < 2).all()
    with pytest.raises(ValueError, match="divisible"):
        groups.CyclicTranslation((5,), strides=2)


def test_group_for_layer():
    model = _translation_model((8,), 2)
    group = groups.for_layer(model.layers[1])
    assert isinstance(group, groups.CyclicTranslation)
    assert group.strides == (2,) and group.grid == (4,)
    assert isinstance(groups.for_layer(_graph_model().layers[1]), groups.GraphNodePermutation)
    assert isinstance(groups.for_layer(_set_model().layers[1]), groups.SetPermutation)


# --- projections -----------------------------------------------------------------------


def _random_kernels():
    rng = _rng(4)
    return [
        ("translation", rng.standard_normal((3, 8, 8))),
        ("translation", rng.standard_normal((3, 4, 8))),
        ("translation", rng.standard_normal((2, 6, 4, 6, 4))),
        ("translation", rng.standard_normal((2, 3, 2, 6, 4))),
        ("set", rng.standard_normal((7, 7))),
        ("set_pairwise", rng.standard_normal((7, 7))),
        ("graph", rng.standard_normal((7, 7))),
    ]


@pytest.mark.parametrize("kind, kernel", _random_kernels())
def test_projection_idempotent_orthogonal_and_shares(kind, kernel):
    p = projection.project(kernel, kind)
    assert p.shape == kernel.shape
    np.testing.assert_allclose(projection.project(p, kind), p, atol=1e-12)
    # orthogonal projection: the residual is orthogonal to the subspace
    assert abs(np.sum((kernel - p) * p)) < 1e-9 * np.sum(kernel**2)
    assert projection.norm_share(p, kind) == pytest.approx(1.0, abs=1e-12)
    share = projection.norm_share(kernel, kind)
    # a random kernel is far from symmetric: about the random baseline
    baseline = projection.random_share(kernel.shape, kind)
    assert 0.0 < share < (1.0 + baseline) / 2
    assert metrics.relative_distance(kernel, kind) == pytest.approx(np.sqrt(1 - share), rel=1e-9)
    assert metrics.relative_distance(p, kind) < 1e-7


@pytest.mark.parametrize("shape", [(3, 8, 8), (3, 4, 8), (2, 6, 4, 6, 4), (2, 3, 2, 6, 4)])
def test_translation_projection_is_group_average(shape):
    w = _rng(5).standard_normal(shape)
    _, translations, spatial, strides = projection.translation_geometry(shape)
    nd = len(spatial)
    # brute-force Reynolds: average of W[k, i+a, m+s·a] over all a
    acc = np.zeros_like(w)
    for a in np.ndindex(*translations):
        shifted = np.roll(w, [-ai for ai in a], axis=tuple(range(1, 1 + nd)))
        shifted = np.roll(
            shifted, [-ai * s for ai, s in zip(a, strides)], axis=tuple(range(1 + nd, 1 + 2 * nd))
        )
        acc += shifted
    acc /= np.prod(translations)
    np.testing.assert_allclose(projection.project(w), acc, atol=1e-12)


def test_conv_structured_translation_kernel_is_symmetric():
    rng = _rng(6)
    for templates, translations in ((rng.standard_normal((3, 8)), (4,)), (rng.standard_normal((2, 6, 4)), (3, 4))):
        w = projection.translation_kernel(templates, translations)
        np.testing.assert_allclose(projection.project(w), w, atol=1e-12)
        np.testing.assert_allclose(projection.templates(w), templates, atol=1e-12)
        assert projection.norm_share(w) == pytest.approx(1.0, abs=1e-12)
        assert metrics.shift_correlation(w) == pytest.approx(1.0, abs=1e-9)
    assert abs(metrics.shift_correlation(rng.standard_normal((3, 8, 8)))) < 0.3


def test_diagonal_projection_ties_exactly_what_offset_sharing_ties():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(2, 4, 4, 8, 8)).astype("float32")
    p = projection.project_translation_diagonal(w)
    np.testing.assert_allclose(projection.project_translation_diagonal(p), p, atol=1e-6)
    # the (1, 2) OffsetSharing penalty is exactly 0 on the projection ...
    from symzoo.regularizers import OffsetSharing

    assert float(OffsetSharing(1.0, (1, 2), "sum")(p)) == pytest.approx(0.0, abs=1e-4)
    assert float(OffsetSharing(1.0, (1, 2), "sum")(w)) > 1.0
    # ... and it keeps the chains apart: (1, 0) is not tied to (0, 0)
    assert np.abs(p[:, 1, 0] - np.roll(p[:, 0, 0], (2, 0), axis=(1, 2))).max() > 0.1
    # the full translation projection is one of its fixed points
    full = projection.project_translation(w)
    np.testing.assert_allclose(projection.project_translation_diagonal(full), full, atol=1e-6)
    with pytest.raises(ValueError, match="square"):
        projection.project_translation_diagonal(np.zeros((2, 4, 2, 8, 4)))


def test_graph_kernel_alpha_beta():
    n, alpha, beta = 6, 0.7, -0.2
    w = alpha * np.eye(n) + beta * np.ones((n, n))
    np.testing.assert_allclose(projection.project(w, "graph"), w, atol=1e-12)
    numbers = metrics.graph_coefficients(w)
    assert numbers["alpha"] == pytest.approx(alpha) and numbers["beta"] == pytest.approx(beta)
    assert numbers["relative_distance"] < 1e-12
    # the projection of any kernel commutes with every permutation
    p = projection.project(_rng(7).standard_normal((n, n)), "graph")
    perm = groups.GraphNodePermutation.matrix(_rng(8).permutation(n))
    np.testing.assert_allclose(perm.T @ p @ perm, p, atol=1e-12)


def test_set_kernel_equal_column_sums():
    rng = _rng(9)
    n = 6
    # identity, a permutation matrix, and a kernel with equal column sums
    zero_sum = rng.standard_normal((n, n))
    zero_sum -= zero_sum.mean(axis=0, keepdims=True)
    for w in (np.eye(n), np.eye(n)[rng.permutation(n)], zero_sum + 0.3 / n):
        np.testing.assert_allclose(projection.project(w, "set"), w, atol=1e-12)
        assert projection.norm_share(w, "set") == pytest.approx(1.0, abs=1e-12)
        assert metrics.column_sum_spread(w) < 1e-12
    w = rng.standard_normal((n, n))
    assert metrics.column_sum_spread(w) > 0.1
    # the kernel-level share of a set kernel is high even for random kernels (the
    # (n-1)·n function-irrelevant directions); the column-sum share is not
    assert metrics.column_sum_share(w) < 0.6
    assert metrics.column_sum_share(np.eye(n) * 2.0) == pytest.approx(1.0)
    p = projection.project(w, "set")
    np.testing.assert_allclose(p.sum(axis=0), np.full(n, w.sum(axis=0).mean()), atol=1e-12)
    # the stricter DeepSets subspace: the identity is in it, a permutation is not
    assert projection.norm_share(np.eye(n), "set_pairwise") == pytest.approx(1.0)
    assert projection.norm_share(np.eye(n)[np.roll(np.arange(n), 1)], "set_pairwise") < 0.5


def test_mnist_sized_projection_is_fast():
    w = _rng(10).standard_normal((10, 28, 28, 56, 56), dtype=np.float32)  # 24.6M weights
    start = time.perf_counter()
    p = projection.project(w)
    share = projection.norm_share(w, projected=p)
    elapsed = time.perf_counter() - start
    assert p.dtype == np.float32 and p.shape == w.shape
    assert share == pytest.approx(projection.random_share(w.shape), rel=0.05)
    assert elapsed < 10.0, elapsed


def test_kernel_metrics_set_uses_column_sum_error():
    from symzoo import metrics as task_metrics

    w = np.eye(5) * 1.2
    numbers, projected = metrics.kernel_metrics(w, "set")
    assert numbers["column_sum_error"] == pytest.approx(task_metrics.column_sum_error(w))
    assert numbers["column_sum_error"] == pytest.approx(0.2)
    assert numbers["norm_share"] == pytest.approx(1.0)
    assert numbers["mean_column_sum"] == pytest.approx(1.2)
    np.testing.assert_allclose(projected, w)


# --- functional metrics ----------------------------------------------------------------


def test_equivariance_error_of_plain_functions():
    x = _rng(11).random((20, 8)).astype("float32")
    group = groups.SetPermutation(8)
    exact = metrics.equivariance_error(lambda b: b.sum(axis=1, keepdims=True), x, group)
    assert exact["mean"] < 1e-7 and len(exact["per_element"]) == 8
    weights = np.arange(8, dtype="float32")
    broken = metrics.equivariance_error(lambda b: b @ weights[:, None], x, group)
    assert broken["mean"] > 0.1
    graph = groups.GraphNodePermutation(6)
    a = _graphs()
    assert metrics.equivariance_error(lambda b: b.sum(axis=2), a, graph)["mean"] < 1e-7
    assert metrics.equivariance_error(lambda b: b[:, 0, :], a, graph)["mean"] > 0.1


@pytest.mark.parametrize("spatial, strides", TRANSLATION_CASES)
def test_translation_projected_model_is_invariant_and_extraction_matches(spatial, strides):
    model = _translation_model(spatial, strides)
    layer = model.layers[1]
    x = _rng(12).random((16, *spatial)).astype("float32")
    group = groups.for_layer(layer)
    assert metrics.equivariance_error(model, x, group)["mean"] > 1e-3  # random kernel
    projected, kernels = extraction.project_model(model)
    assert metrics.equivariance_error(projected, x, group)["mean"] < 1e-5
    # the original model is untouched
    assert not np.allclose(keras.ops.convert_to_numpy(layer.kernel), kernels[layer.name])
    compact, info = extraction.extract(model, x=x)
    expected = projected.predict(x, verbose=0)
    np.testing.assert_allclose(compact.predict(x, verbose=0), expected, atol=1e-5, rtol=0)
    assert info["max_abs_diff_vs_projected"] < 1e-5
    kernel_size = int(np.prod(layer.kernel.shape))
    assert info["kernel_params_before"] == kernel_size
    assert info["kernel_params_after"] == 3 * int(np.prod(spatial))
    assert info["reduction_factor"] == pytest.approx(kernel_size / (3 * np.prod(spatial)))
    conv = [l for l in compact.layers if isinstance(l, keras.Sequential)][0].get_layer("templates")
    assert tuple(conv.strides) == groups.for_layer(layer).strides


def test_set_extraction_matches_projection():
    model = _set_model()
    x = _rng(13).random((16, 6)).astype("float32")
    group = groups.SetPermutation(6)
    assert metrics.equivariance_error(model, x, group)["mean"] > 1e-3
    projected, _ = extraction.project_model(model)
    assert metrics.equivariance_error(projected, x, group)["mean"] < 1e-5
    compact, info = extraction.extract(model, x=x)
    np.testing.assert_allclose(
        compact.predict(x, verbose=0), projected.predict(x, verbose=0), atol=1e-5, rtol=0
    )
    c = keras.ops.convert_to_numpy(model.layers[1].kernel).sum(axis=0).mean()
    assert info["layers"]["set_linear_sum"]["c"] == pytest.approx(c, rel=1e-5)
    assert info["params_after"] == 1 and info["params_before"] == 36


@pytest.mark.parametrize("activation", ["relu", "linear"])
def test_graph_extraction_matches_projection(activation):
    model = _graph_model(activation=activation)
    a = _graphs()
    group = groups.GraphNodePermutation(6)
    assert metrics.equivariance_error(model, a, group)["mean"] > 1e-3
    projected, _ = extraction.project_model(model)
    assert metrics.equivariance_error(projected, a, group)["mean"] < 1e-5
    compact, info = extraction.extract(model, x=a)
    np.testing.assert_allclose(
        compact.predict(a, verbose=0), projected.predict(a, verbose=0), atol=1e-5, rtol=0
    )
    assert info["params_after"] == 2 and info["reduction_factor"] == pytest.approx(18.0)


def test_compact_model_round_trips(tmp_path):
    model = _translation_model((6, 4), 2)
    compact, _ = extraction.extract(model)
    x = _rng(14).random((4, 6, 4)).astype("float32")
    compact.save(tmp_path / "compact.keras")
    loaded = keras.saving.load_model(tmp_path / "compact.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), compact.predict(x, verbose=0), atol=1e-6)


def test_transformed_task_metrics_invariant_model():
    model = _translation_model((8,), 1)
    projected, _ = extraction.project_model(model)
    x = _rng(15).random((32, 8)).astype("float32")
    y = _rng(16).integers(0, 3, 32)
    group = groups.CyclicTranslation((8,))
    out = metrics.transformed_task_metrics(projected, x, y, "classification", group, num_elements=3)
    from symzoo.metrics import evaluate_task

    base = evaluate_task(projected, x, y, "classification")["accuracy"]
    assert out["accuracy"] == pytest.approx(base) and out["accuracy_worst"] == pytest.approx(base)
    # the same numbers from the predictions of equivariance_error
    err = metrics.equivariance_error(
        model, x, group, num_elements=3, y=y, task="classification"
    )
    direct = metrics.transformed_task_metrics(model, x, y, "classification", group, num_elements=3)
    assert err["transformed_task_metrics"] == pytest.approx(direct)
    assert err["task_metrics"]["accuracy"] == pytest.approx(
        evaluate_task(model, x, y, "classification")["accuracy"]
    )


def test_extract_rejects_models_without_symzoo_layer():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    with pytest.raises(ValueError, match="symzoo layer"):
        extraction.extract(model)


# --- report ----------------------------------------------------------------------------


def _trained_tiny_blob1d(path):
    from symzoo import datasets, models

    model = models.get("blob1d_translation")(seed=0)
    data = datasets.load("blob1d", seed=0, sizes=(64, 0, 0))
    model.fit(*data.train, epochs=1, batch_size=32, verbose=0)
    model.save(path)
    return model


def test_report_writes_files(tmp_path):
    path = tmp_path / "model.keras"
    _trained_tiny_blob1d(path)
    out = tmp_path / "report"
    result = report.inspect(str(path), out, quick=True, num_elements=2, max_examples=32)
    for name in ("report.md", "symmetry.json", "samples.png", "compact.keras"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    saved = json.loads((out / "symmetry.json").read_text())
    assert saved["zoo_name"] == "blob1d_translation" and saved["dataset"] == "blob1d"
    layer = next(iter(saved["layers"].values()))
    assert 0 < layer["norm_share"] <= 1
    for figure in layer["figures"].values():
        assert (out / figure).stat().st_size > 0
    functional = saved["functional"]
    assert functional["projected"]["equivariance_error"] < 1e-5
    assert functional["extracted"]["equivariance_error"] < 1e-5
    assert functional["projected"]["test"]["accuracy"] == pytest.approx(
        functional["extracted"]["test"]["accuracy"]
    )
    assert saved["extraction"]["max_abs_diff_vs_projected"] < 1e-5
    assert saved["extraction"]["reduction_factor"] == pytest.approx(10.0)
    text = (out / "report.md").read_text()
    assert "# Symmetry report: blob1d_translation" in text and "![learned kernel]" in text
    assert result["functional"]["original"]["equivariance_error"] > 0


def test_report_cli_and_directory(tmp_path, capsys):
    from symzoo import cli

    model = _set_model(10)  # the set task has 10 elements
    directory = tmp_path / "run"
    directory.mkdir()
    model.save(directory / "model.keras")
    out = tmp_path / "out"
    status = cli.main(["inspect", str(directory), "--name", "set_sum", "--out", str(out), "--quick"])
    assert status == 0
    assert "norm share" in capsys.readouterr().out
    saved = json.loads((out / "symmetry.json").read_text())
    assert saved["zoo_name"] == "set_sum" and "column_sum_error" in saved["layers"]["set_linear_sum"]


def test_report_bare_saved_model_functional_only(tmp_path):
    model = _graph_model(10)
    model.export(str(tmp_path / "sm"), format="tf_saved_model", verbose=False)
    out = tmp_path / "out"
    result = report.inspect(
        str(tmp_path / "sm"), out, name="graph_degree", quick=True, num_elements=2, max_examples=16
    )
    assert result["functional_only"] and "layers" not in result
    assert set(result["functional"]) == {"original"}
    assert (out / "report.md").is_file() and (out / "symmetry.json").is_file()


def test_report_zoo_name_without_pretrained(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMZOO_SAVED_MODELS", str(tmp_path / "nothing"))
    with pytest.raises(FileNotFoundError, match="symzoo reproduce set_sum"):
        report.inspect("set_sum", tmp_path / "out")
    with pytest.raises(FileNotFoundError, match="neither"):
        report.inspect(str(tmp_path / "missing.keras"), tmp_path / "out")


# --- orbit -----------------------------------------------------------------------------


def test_blob_positions_follow_translations():
    from symzoo import datasets

    for name in ("blob1d", "blob2d"):
        clean = datasets.load(name, seed=3, sizes=(40, 0, 0), noise=0.0).train[0]
        pos = orbit.blob_positions(clean)
        axes = tuple(range(1, clean.ndim))
        moved = orbit.blob_positions(np.roll(clean, (1,) * len(axes), axis=axes))
        np.testing.assert_array_equal(moved, (pos + 1) % np.array(clean.shape[1:]))
    line = np.zeros((1, 10))
    line[0, [8, 9, 0]] = 1  # wraps around
    assert orbit.blob_positions(line).tolist() == [[8]]


def _write_idx(path, array):
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 8, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    path.write_bytes(header + array.tobytes())


def _fake_mnist(directory, n_train=120, n_test=60):
    rng = _rng(17)

    def digits(n):
        out = np.zeros((n, 28, 28), dtype=np.uint8)
        for i in range(n):
            r, c = rng.integers(2, 10, 2)
            h, w = rng.integers(8, 16, 2)
            out[i, r : r + h, c : c + w] = rng.integers(1, 256, (h, w))
        return out

    directory.mkdir()
    _write_idx(directory / "train-images-idx3-ubyte", digits(n_train))
    _write_idx(directory / "train-labels-idx1-ubyte", rng.integers(0, 10, n_train))
    _write_idx(directory / "t10k-images-idx3-ubyte", digits(n_test))
    _write_idx(directory / "t10k-labels-idx1-ubyte", rng.integers(0, 10, n_test))
    return directory


def test_mnist_positions_exact(tmp_path):
    rng = _rng(18)
    raw = np.zeros((5, 28, 28), dtype=np.uint8)
    raw[:, 5:20, 7:18] = rng.integers(1, 256, (5, 15, 11))
    positions = rng.integers(0, 29, (5, 2))
    canvas = np.zeros((5, 56, 56), dtype=np.float32)
    for i, (r, c) in enumerate(positions):
        canvas[i, r : r + 28, c : c + 28] = raw[i] / np.float32(255)
    found, matched = orbit.mnist_positions(canvas, raw)
    assert matched == 5
    np.testing.assert_array_equal(found, positions)


def test_orbit_generalization_tiny_blob1d():
    result = orbit.orbit_generalization("blob1d", quick=True, sizes=(64, 16, 64), epochs=1)
    assert result["region"] == [[0, 4]]
    counts = result["test_counts"]
    assert counts["in_region"] + counts["out_of_region"] == 64 and counts["in_region"] > 0
    assert set(result["models"]) == {"blob1d_translation", "blob1d_translation/projected", "cnn1d"}
    for r in result["models"].values():
        assert 0 <= r["out_of_region"]["accuracy"] <= 1
    assert result["sizes"]["train"] > 40
    assert "| cnn1d |" in orbit.to_markdown(result)


def test_orbit_cli(tmp_path, monkeypatch):
    from symzoo import cli

    monkeypatch.setattr(orbit, "QUICK_SIZES", (48, 8, 32))
    out = tmp_path / "orbit"
    assert cli.main(["inspect", "blob2d", "--orbit", "--quick", "--epochs", "1", "--out", str(out)]) == 0
    saved = json.loads((out / "orbit.json").read_text())
    assert saved["dataset"] == "blob2d" and saved["region"] == [[0, 4], [0, 9]]
    assert "cnn2d" in (out / "orbit.md").read_text()


def test_orbit_cli_sets_the_mlp_hyperparameters_and_can_skip_the_baseline(
    tmp_path, monkeypatch, capsys
):
    from symzoo import cli

    monkeypatch.setattr(orbit, "QUICK_SIZES", (48, 8, 32))
    out = tmp_path / "orbit"
    argv = ["inspect", "blob1d_translation", "--orbit", "--quick", "--set", "lam=0.5",
            "--set", "offsets=(2,2)", "--no-baseline", "--out", str(out)]
    assert cli.main(argv) == 0
    saved = json.loads((out / "orbit.json").read_text())
    assert set(saved["models"]) == {"blob1d_translation", "blob1d_translation/projected"}
    assert saved["mlp_kwargs"] == {"lam": 0.5, "offsets": [2, 2]}
    assert "--set lam=0.5 --set offsets=(2,2) --no-baseline" in saved["command"]
    capsys.readouterr()
    bad = argv[:-2] + ["--set", "offsets=(99,0)", "--out", str(tmp_path / "bad")]
    assert cli.main(bad) == 2
    assert "Received: offsets=(99, 0)" in capsys.readouterr().err


def test_orbit_generalization_tiny_mnist(tmp_path):
    data_dir = _fake_mnist(tmp_path / "mnist")
    result = orbit.orbit_generalization(
        "mnist_translation",
        sizes=(32, 8, 48),
        epochs=1,
        data_dir=str(data_dir),
        model_kwargs={
            "mnist_translation": {"strides": 14, "offsets": (1, 14)},
            "mnist_cnn": {"filters": (2, 2, 2)},
        },
    )
    assert result["region"] == [[0, 14], [0, 14]]
    assert result["positions_matched"] == 48
    assert sum(result["test_counts"].values()) == 48
    assert set(result["models"]) == {"mnist_translation", "mnist_translation/projected", "mnist_cnn"}


def test_orbit_cli_compact_export_and_cosine(tmp_path, monkeypatch):
    from symzoo import cli, training

    monkeypatch.setattr(orbit, "QUICK_SIZES", (48, 8, 32))
    out, saved_root = tmp_path / "orbit", tmp_path / "saved"
    argv = ["inspect", "blob2d_translation", "--orbit", "--quick", "--epochs", "2",
            "--set", "lam=2.0", "--set", "sharing_form='complete'", "--lr-schedule", "cosine",
            "--compact", "--export-dir", str(saved_root), "--out", str(out)]
    assert cli.main(argv) == 0
    saved = json.loads((out / "orbit.json").read_text())
    models = saved["models"]
    assert saved["lr_schedule"] == "cosine"
    compact = models["blob2d_translation/compact"]
    assert compact["params"] == 3 * 10 * 10 and compact["max_abs_diff_vs_projected"] < 1e-4
    # The compact model computes the projected MLP's function.
    for key in ("in_region", "out_of_region"):
        assert abs(compact[key]["accuracy"] - models["blob2d_translation/projected"][key][
            "accuracy"]) <= 1 / 16
    assert saved["exported"] == {
        "blob2d_translation": "blob2d_translation_complete_orbit",
        "blob2d_translation/compact": "blob2d_translation_complete_orbit_compact",
        "cnn2d": "cnn2d_orbit"}
    mlp = json.loads((saved_root / "blob2d_translation_complete_orbit" / "manifest.json").read_text())
    assert (mlp["task"], mlp["sharing"], mlp["train_region"]) == (
        "blob2d", "offset_complete", [[0, 4], [0, 9]])
    small_dir = saved_root / "blob2d_translation_complete_orbit_compact"
    small = json.loads((small_dir / "manifest.json").read_text())
    assert small["extracted_from"] == "blob2d_translation_complete_orbit"
    assert small["sharing"] == "tied_convolution"
    reloaded = training.load_model(small_dir)
    assert reloaded.count_params() == 300
    assert "--compact --export-dir" in saved["command"]


def test_report_infers_the_data_set_from_the_layer_kind_and_input_shape():
    """Dispatch on `symmetry_kind` and the model's input shape, not class names:
    (10, 10) inputs are blob2d for a translation layer and graphs for a graph
    layer; a shape-only (functional) model is inferred only when unambiguous."""
    import keras

    from symzoo.layers import ClassTranslationDense, GraphRowSum

    def model_of(shape, layer):
        inputs = keras.Input(shape=shape)
        return keras.Model(inputs, layer(inputs), name="not_a_zoo_name")

    blob2d = model_of((10, 10), ClassTranslationDense(3, strides=1))
    graph = model_of((10, 10), GraphRowSum())
    plain_mnist = keras.Sequential([keras.Input((56, 56)), keras.layers.Flatten()])
    plain_square = keras.Sequential([keras.Input((10, 10)), keras.layers.Flatten()])
    from symzoo.symmetry.extraction import symzoo_layers

    assert report._infer_dataset(blob2d, symzoo_layers(blob2d), None)[1] == "blob2d"
    assert report._infer_dataset(graph, symzoo_layers(graph), None)[1:] == (
        "graph_degree", "node_regression"
    )
    assert report._infer_dataset(plain_mnist, [], None)[1] == "padded_mnist"
    with pytest.raises(ValueError, match="Cannot tell"):
        report._infer_dataset(plain_square, [], None)  # blob2d or graph_degree


def test_orbit_finetune_rows_with_orbit_sharing_and_their_control(tmp_path, monkeypatch):
    from symzoo import cli, training

    monkeypatch.setattr(orbit, "QUICK_SIZES", (48, 8, 32))
    out, saved_root = tmp_path / "orbit", tmp_path / "saved"
    argv = ["inspect", "blob2d_translation", "--orbit", "--quick", "--epochs", "1",
            "--set", "lam=100.0", "--set", "sharing_form='orbit'", "--no-baseline",
            "--compact", "--finetune-epochs", "1", "--finetune-lr", "0.01",
            "--export-dir", str(saved_root), "--out", str(out)]
    assert cli.main(argv) == 0
    saved = json.loads((out / "orbit.json").read_text())
    models = saved["models"]
    assert {"blob2d_translation/compact+finetune",
            "blob2d_translation/compact_from_scratch"} <= set(models)
    for key in ("compact+finetune", "compact_from_scratch"):
        row = models[f"blob2d_translation/{key}"]
        assert row["epochs"] == 1 and row["learning_rate"] == 0.01
        assert 0 <= row["out_of_region"]["accuracy"] <= 1
    assert "--finetune-epochs 1 --finetune-lr 0.01" in saved["command"]
    # OrbitSharing at lr·λ ≫ 1 keeps the MLP a convolution: it is its projection.
    mlp, projected = models["blob2d_translation"], models["blob2d_translation/projected"]
    for key in ("in_region", "out_of_region"):
        assert abs(mlp[key]["accuracy"] - projected[key]["accuracy"]) <= 1 / 16
    mlp_manifest = json.loads(
        (saved_root / "blob2d_translation_orbit_prox_orbit" / "manifest.json").read_text())
    assert mlp_manifest["sharing"] == "orbit_prox"
    small_dir = saved_root / "blob2d_translation_orbit_prox_orbit_compact"
    small = json.loads((small_dir / "manifest.json").read_text())
    assert small["finetune"] == {"epochs": 1, "learning_rate": 0.01}
    assert small["test_value"] == models["blob2d_translation/compact+finetune"]["all"]["accuracy"]
    assert training.load_model(small_dir).count_params() == 300


def test_finetune_keeps_the_original_and_can_start_from_scratch():
    import keras

    from symzoo import models as zoo
    from symzoo.symmetry import extraction

    model = zoo.blob2d_translation(seed=0)
    compact, _ = extraction.extract(model)
    before = [w.copy() for w in compact.get_weights()]
    rng = np.random.default_rng(0)
    x = rng.random((32, 10, 10), dtype=np.float32)
    y = rng.integers(0, 3, 32)
    tuned, history = extraction.finetune(compact, (x, y), epochs=2, learning_rate=0.01)
    assert len(history["loss"]) == 2
    for a, b in zip(before, compact.get_weights()):
        np.testing.assert_array_equal(a, b)  # the compact model is left unchanged
    assert any(not np.array_equal(a, b) for a, b in zip(before, tuned.get_weights()))
    fresh, _ = extraction.finetune(compact, (x, y), epochs=1, reinitialize=True)
    assert fresh.count_params() == compact.count_params()
    with pytest.raises(ValueError, match="epochs"):
        extraction.finetune(compact, (x, y), epochs=0)
    del keras


def test_orbit_cli_sharing_schedule_reaches_the_mlp_and_its_record(tmp_path, monkeypatch,
                                                                   capsys):
    """``--sharing-schedule`` sets the MLP's λ per epoch (logged by Keras as
    ``sharing_strength``), is recorded in orbit.json, orbit.md and the command,
    and a malformed one is a usage error."""
    from symzoo import cli, training

    monkeypatch.setattr(orbit, "QUICK_SIZES", (48, 8, 32))
    seen = []
    original = training.SharingSchedule.on_epoch_begin

    def spy(self, epoch, logs=None):
        original(self, epoch, logs)
        seen.append([lay.sharing.strength for lay in training._sharing_layers(self.model)])

    monkeypatch.setattr(training.SharingSchedule, "on_epoch_begin", spy)
    out = tmp_path / "orbit"
    argv = ["inspect", "blob1d_translation", "--orbit", "--quick", "--epochs", "2",
            "--set", "lam=0.5", "--no-baseline", "--sharing-schedule", "0:0.5,1:7",
            "--out", str(out)]
    assert cli.main(argv) == 0
    assert seen == [[0.5], [7.0]]
    saved = json.loads((out / "orbit.json").read_text())
    assert saved["sharing_schedule"] == [[0, 0.5], [1, 7.0]]
    assert "--sharing-schedule 0:0.5,1:7" in saved["command"]
    assert "0: 0.5, 1: 7" in (out / "orbit.md").read_text()
    capsys.readouterr()
    assert cli.main(argv[:-4] + ["--sharing-schedule", "1:2,0:3", "--out", str(out)]) == 2
    assert "sharing_schedule" in capsys.readouterr().err
    assert cli.main(argv[:-4] + ["--sharing-schedule", "0-2", "--out", str(out)]) == 2
    assert "EPOCH:STRENGTH" in capsys.readouterr().err
