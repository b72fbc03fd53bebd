"""Tests of symzoo.metrics against numpy references."""

import keras
import numpy as np
import pytest

from symzoo import metrics


def _reference_node_accuracy(y_true, y_pred, max_degree=9, weights=None):
    pred = np.round(np.clip(y_pred, -0.5, max_degree + 0.5))
    hits = (pred == y_true).astype(float)
    if weights is None:
        return hits.mean()
    w = np.broadcast_to(np.asarray(weights, float).reshape(len(hits), -1), hits.shape)
    return (hits * w).sum() / w.sum()


def test_node_degree_accuracy_matches_numpy():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 10, size=(6, 10)).astype("float32")
    y_pred = (y_true + rng.normal(0, 0.6, size=y_true.shape)).astype("float32")
    # Out-of-range predictions: clamped, then rounded.
    y_pred[0, 0], y_true[0, 0] = -3.0, 0.0  # → -0.5 → 0: right
    y_pred[0, 1], y_true[0, 1] = 12.0, 9.0  # → 9.5 → 10 (half to even): wrong
    y_pred[0, 2], y_true[0, 2] = 9.4, 9.0  # → 9: right
    metric = metrics.NodeDegreeAccuracy()
    assert metric.name == "node_accuracy"
    metric.update_state(y_true[:3], y_pred[:3])
    metric.update_state(y_true[3:], y_pred[3:])
    expected = _reference_node_accuracy(y_true, y_pred)
    assert 0 < expected < 1
    np.testing.assert_allclose(float(metric.result()), expected, rtol=1e-6)
    assert metrics.node_degree_accuracy(y_true, y_pred) == pytest.approx(expected)
    assert metrics.node_degree_accuracy(y_true[:1, :3], y_pred[:1, :3]) == pytest.approx(2 / 3)

    weights = rng.random(6).astype("float32")
    metric.reset_state()
    assert float(metric.result()) == 0.0
    metric.update_state(y_true, y_pred, sample_weight=weights)
    np.testing.assert_allclose(
        float(metric.result()), _reference_node_accuracy(y_true, y_pred, weights=weights), rtol=1e-6
    )


def test_node_degree_accuracy_max_degree_and_config():
    metric = metrics.NodeDegreeAccuracy(max_degree=4)
    metric.update_state(np.array([[4.0, 4.0]]), np.array([[7.0, 3.6]]))
    assert float(metric.result()) == pytest.approx(1.0)  # 7 → 4.5 → 4 (half to even)
    clone = metrics.NodeDegreeAccuracy.from_config(metric.get_config())
    assert clone.max_degree == 4 and clone.name == "node_accuracy"
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(metric))
    assert isinstance(restored, metrics.NodeDegreeAccuracy)
    with pytest.raises(ValueError, match="max_degree"):
        metrics.NodeDegreeAccuracy(max_degree=-1)


def test_column_sum_error_matches_numpy():
    rng = np.random.default_rng(1)
    w = rng.normal(0, 0.3, size=(10, 10))
    expected = np.mean([abs(sum(w[i, j] for i in range(10)) - 1) for j in range(10)])
    assert metrics.column_sum_error(w) == pytest.approx(expected)
    assert metrics.column_sum_error(np.eye(10)) == 0.0
    assert metrics.column_sum_error(np.ones((10, 10))) == pytest.approx(9.0)
    # Columns, not rows: W[0, :] = 1 gives column sums of 1.
    only_first_row = np.zeros((4, 4))
    only_first_row[0] = 1.0
    assert metrics.column_sum_error(only_first_row) == 0.0
    assert isinstance(metrics.column_sum_error(w), float)
    # A layer (its kernel) and a variable are accepted.
    from symzoo.layers import SetLinearSum

    layer = SetLinearSum()
    layer.build((None, 10))
    kernel = keras.ops.convert_to_numpy(layer.kernel)
    assert metrics.column_sum_error(layer) == pytest.approx(
        np.abs(kernel.sum(axis=0) - 1).mean(), rel=1e-6
    )
    assert metrics.column_sum_error(layer.kernel) == metrics.column_sum_error(layer)
    with pytest.raises(ValueError, match="kernel"):
        metrics.column_sum_error(np.ones(10))
    with pytest.raises(ValueError, match="finite"):
        metrics.column_sum_error(np.full((2, 2), np.nan))


def test_set_l1():
    assert metrics.set_l1([[1.0], [2.0]], [1.5, 1.0]) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="same number"):
        metrics.set_l1([1.0, 2.0], [1.0])


def _classifier():
    inputs = keras.Input((3,))
    outputs = keras.layers.Softmax()(inputs)
    return keras.Model(inputs, outputs)


def test_evaluate_task_classification_and_callables():
    x = np.array([[3.0, 0, 0], [0, 3, 0], [0, 0, 3], [3, 0, 0]], dtype="float32")
    y = np.array([0, 1, 1, 0])
    expected = {"accuracy": 0.75}
    assert metrics.evaluate_task(_classifier(), x, y, "classification") == expected
    assert metrics.evaluate_task(lambda b: b, x, y, "classification", batch_size=3) == expected
    # A SavedModel serving function returns a one-entry dict.
    assert metrics.evaluate_task(lambda b: {"out": b}, x, y, "classification") == expected
    with pytest.raises(ValueError, match="one output"):
        metrics.evaluate_task(lambda b: {"a": b, "b": b}, x, y, "classification")


def test_evaluate_task_regression_and_nodes():
    x = np.arange(6, dtype="float32").reshape(3, 2)
    y = x.sum(axis=1, keepdims=True)
    out = metrics.evaluate_task(lambda b: b.sum(axis=1, keepdims=True) + 0.5, x, y, "regression")
    assert out == pytest.approx({"l1": 0.5, "mse": 0.25})

    rng = np.random.default_rng(2)
    adjacency = np.triu((rng.random((5, 10, 10)) < 0.5).astype("float32"), 1)
    adjacency += np.transpose(adjacency, (0, 2, 1))
    degrees = adjacency.sum(-1)
    noisy = lambda a: a.sum(-1) + np.where(np.arange(10) < 3, 0.7, 0.2)  # noqa: E731
    out = metrics.evaluate_task(noisy, adjacency, degrees, "node_regression")
    assert out["node_accuracy"] == pytest.approx(0.7)
    assert out["mse"] == pytest.approx((3 * 0.49 + 7 * 0.04) / 10)

    with pytest.raises(ValueError, match="task"):
        metrics.evaluate_task(noisy, adjacency, degrees, "segmentation")
    with pytest.raises(ValueError, match="same number of examples"):
        metrics.evaluate_task(noisy, adjacency, degrees[:2], "node_regression")
    with pytest.raises(ValueError, match="callable"):
        metrics.evaluate_task(3, adjacency, degrees, "node_regression")


def test_node_accuracy_in_a_compiled_model():
    from symzoo import models

    model = models.graph_degree(seed=0)
    rng = np.random.default_rng(3)
    a = np.triu((rng.random((8, 10, 10)) < 0.5).astype("float32"), 1)
    a += np.transpose(a, (0, 2, 1))
    logs = model.evaluate(a, a.sum(-1), verbose=0, return_dict=True)
    direct = metrics.evaluate_task(model, a, a.sum(-1), "node_regression")
    assert logs["node_accuracy"] == pytest.approx(direct["node_accuracy"], abs=1e-6)
