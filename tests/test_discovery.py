"""The discovery study's pieces: scoring, λ selection, model swap, tables."""

import json

import numpy as np
import pytest

from symzoo import discovery
from symzoo.symmetry import partition


def test_score_kernel_on_tied_and_untied_kernels():
    shape = (5, 10, 10)  # blob1d's ClassTranslationDense kernel
    labels = partition.true_partition("translation", shape)
    values = np.random.default_rng(0).normal(size=labels.max() + 1)
    tied = values[labels].reshape(shape)
    s = discovery.score_kernel("blob1d", tied)
    assert s["groups"] == s["true_groups"] == 50
    assert s["partition_distance"] == 0 and s["orbits_intact"] == 1.0
    # All weights in one group: every orbit intact, distance n − 10.
    s = discovery.score_kernel("blob1d", np.zeros(shape))
    assert (s["groups"], s["partition_distance"], s["orbits_intact"]) == (1, 490, 1.0)
    # No ties: no orbit intact.
    s = discovery.score_kernel("blob1d", np.arange(500.0).reshape(shape))
    assert s["orbits_intact"] == 0.0 and s["partition_distance"] == 450


def test_select_largest_lambda_within_tolerance():
    runs = [{"lam": 1e-3, "val": 0.80}, {"lam": 1e-2, "val": 0.795}, {"lam": 1e-1, "val": 0.5}]
    assert discovery._select("blob1d", runs)["lam"] == 1e-2  # accuracy: within 0.01
    runs = [{"lam": 1e-3, "val": 0.020}, {"lam": 1e-2, "val": 0.021}, {"lam": 1e-1, "val": 0.03}]
    assert discovery._select("sets", runs)["lam"] == 1e-2  # L1: within 10 %


def test_build_swaps_in_the_all_pairs_penalty():
    from symzoo.regularizers import OffsetSharing, PairwiseSharing

    m = discovery.build("blob1d", "pairwise_prox", lam=1e-4)
    layer = m.get_layer("class_translation_dense")
    assert layer.sharing == PairwiseSharing(1e-4, prox=True) and layer.sparsity is None
    assert isinstance(discovery.build("blob2d", "offset_complete").get_layer(
        "class_translation_dense").sharing, OffsetSharing)
    assert discovery.build("blob1d", "none").get_layer("class_translation_dense").sharing is None
    m = discovery.build("sets", "pairwise_subgradient", lam=1e-2)
    assert m.get_layer("set_linear_sum").sharing == PairwiseSharing(1e-2)
    assert m.get_layer("set_linear_sum").sparsity is None
    with pytest.raises(ValueError, match=r"method defined for task 'graph'"):
        discovery.build("graph", "offset")
    with pytest.raises(ValueError, match=r"Received: lam=None"):
        discovery.build("graph", "pairwise_prox")


def test_shuffled_true_partition_is_permuted():
    from symzoo.datasets.torus import pixel_permutation

    shape = (196, 196 * 2)
    plain = discovery.true_partition("torus_mnist", shape).reshape(shape)
    shuffled = discovery.true_partition("torus_mnist_shuffled", shape).reshape(shape)
    np.testing.assert_array_equal(shuffled, plain[pixel_permutation(0)])


def test_markdown_table_and_write_merge(tmp_path):
    row = dict(task="sets", model="set_sum", method="pairwise_prox", lam=0.01, seed=0,
               metric="l1", val=0.02, test=0.019, weights=100, groups=1, true_groups=2,
               partition_distance=10, partition_distance_normalized=0.1,
               orbits_intact=1.0, selected=True)
    cnn = dict(row, task="torus_mnist", model="torus_mnist_fc", method="cnn", lam=None,
               metric="accuracy", test=0.9, weights=None, groups=None, true_groups=None,
               partition_distance=None, partition_distance_normalized=None,
               orbits_intact=None)
    table = discovery.markdown_table([row, dict(row, lam=0.1, selected=False), cnn])
    lines = table.splitlines()
    assert len(lines) == 4  # header, rule, one selected row per (task, method)
    assert ("| sets | all-pairs, exact prox | 0.01 | l1 0.0190 | 1 (2) | 10 / 100 | 0.1000 "
            "| 1.000 | 1 |") in lines
    assert "tied by construction" in lines[3]
    discovery.write([row], tmp_path)
    discovery.write([cnn], tmp_path)  # another task: merged, not replaced
    saved = json.loads((tmp_path / "discovery" / "discovery.json").read_text())
    assert [r["task"] for r in saved] == ["sets", "torus_mnist"]
    assert (tmp_path / "set_sum" / "discovery.md").exists()


def test_update_readme_between_markers(tmp_path):
    row = dict(task="graph", model="graph_degree", method="pairwise_prox", lam=0.01, seed=0,
               metric="node_accuracy", val=1.0, test=1.0, weights=100, groups=1,
               true_groups=2, partition_distance=10, partition_distance_normalized=0.1,
               orbits_intact=1.0, selected=True)
    discovery.write([row], tmp_path / "models")
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n{discovery.README_START}\nold\n{discovery.README_END}\nend\n")
    assert discovery.update_readme(readme, tmp_path / "models")
    text = readme.read_text()
    assert "old" not in text and "| graph | all-pairs, exact prox | 0.01 |" in text
    assert text.startswith("# x\n") and text.endswith("end\n")
    readme.write_text("no markers\n")
    assert not discovery.update_readme(readme, tmp_path / "models")


def test_run_end_to_end_exports_and_writes(tmp_path, monkeypatch):
    import keras

    monkeypatch.setitem(discovery.TASKS, "graph", {**discovery.TASKS["graph"],
                                                   "lams": (1e-3, 1e-1)})
    rows = discovery.run(tasks=["graph"], methods=["none", "pairwise_prox"], epochs=1,
                         export=tmp_path / "saved_models", log=lambda line: None)
    assert [(r["method"], r["lam"]) for r in rows] == [
        ("none", None), ("pairwise_prox", 1e-3), ("pairwise_prox", 1e-1)]
    assert sum(r["selected"] for r in rows if r["method"] == "pairwise_prox") == 1
    none = rows[0]
    assert none["groups"] == 100 and none["partition_distance"] == 98  # no exact ties
    chosen = next(r for r in rows if r["method"] == "pairwise_prox" and r["selected"])
    folder = tmp_path / "saved_models" / "graph_degree_pairwise_prox"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert (manifest["task"], manifest["discovery_task"], manifest["sharing"],
            manifest["lam"]) == ("graph_degree", "graph", "all_pairs_prox", chosen["lam"])
    kernel = keras.ops.convert_to_numpy(
        keras.models.load_model(folder / "model.keras").get_layer("graph_row_sum").kernel)
    assert partition.num_groups(partition.tie_partition(kernel)) == chosen["groups"]
    discovery.write(rows, tmp_path / "models")
    assert "graph_degree" in {p.name for p in (tmp_path / "models").iterdir()}


def test_table_means_over_seeds_and_lists_differing_lambdas():
    base = dict(task="sets", model="set_sum", method="pairwise_prox", metric="l1", val=0.02,
                weights=100, true_groups=2, orbits_intact=1.0, selected=True)
    rows = [dict(base, seed=0, lam=0.01, test=0.01, groups=1, partition_distance=10,
                 partition_distance_normalized=0.1),
            dict(base, seed=1, lam=0.1, test=0.03, groups=2, partition_distance=0,
                 partition_distance_normalized=0.0)]
    line = discovery.markdown_table(rows).splitlines()[2]
    assert line == ("| sets | all-pairs, exact prox | 0.01, 0.1 | l1 0.0200 | 1.5 (2) | 5 / 100 "
                    "| 0.0500 | 1.000 | 2 |")
