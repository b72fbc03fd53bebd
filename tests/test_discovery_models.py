"""The shipped discovery models (saved_models/): manifests and behaviour, no MNIST."""

import json
import pathlib

import numpy as np
import pytest

import keras

from symzoo import models
from symzoo.datasets.torus import pixel_permutation
from symzoo.symmetry import partition

ROOT = pathlib.Path(__file__).resolve().parents[1] / "saved_models"


def _manifest(folder):
    return json.loads((ROOT / folder / "manifest.json").read_text())


@pytest.mark.parametrize(
    "folder,dataset,study_task,sharing",
    [
        ("torus_mnist_fc", "torus_mnist", "torus_mnist", "all_pairs_prox"),
        ("torus_mnist_fc_shuffled", "torus_mnist", "torus_mnist_shuffled", "all_pairs_prox"),
        ("torus_mnist_cnn", "torus_mnist", "torus_mnist", "convolution"),
        ("torus_mnist_cnn_shuffled", "torus_mnist", "torus_mnist_shuffled", "convolution"),
        ("set_sum_pairwise_prox", "set_sum", "sets", "all_pairs_prox"),
        ("graph_degree_pairwise_prox", "graph_degree", "graph", "all_pairs_prox"),
    ],
)
def test_manifests(folder, dataset, study_task, sharing):
    m = _manifest(folder)
    assert (m["task"], m["discovery_task"], m["sharing"]) == (dataset, study_task, sharing)
    assert m["zoo_model"] == m["name"]
    if study_task.endswith("_shuffled"):
        assert m["pixel_permutation"] == [int(i) for i in pixel_permutation(0)]
        assert m["dataset_kwargs"]["pixel_permutation"] == 0
    else:
        assert "pixel_permutation" not in m


def test_pretrained_cnn_is_shift_invariant():
    cnn = models.torus_mnist_cnn(weights="pretrained")
    x = np.random.default_rng(0).uniform(size=(3, 14, 14)).astype("float32")
    np.testing.assert_allclose(
        cnn.predict(np.roll(x, (5, 2), axis=(1, 2)), verbose=0),
        cnn.predict(x, verbose=0),
        atol=1e-5,
    )


def test_prox_models_hold_their_recorded_groups():
    for folder, layer in (("set_sum_pairwise_prox", "set_linear_sum"),
                          ("graph_degree_pairwise_prox", "graph_row_sum"),
                          ("torus_mnist_fc", "position_dense")):
        model = keras.models.load_model(ROOT / folder / "model.keras")
        kernel = keras.ops.convert_to_numpy(model.get_layer(layer).kernel)
        assert partition.num_groups(partition.tie_partition(kernel)) == (
            _manifest(folder)["partition"]["groups"]
        )
        assert model.get_layer(layer).sharing.prox
