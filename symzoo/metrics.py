"""The report's metrics.

* `NodeDegreeAccuracy`: a Keras metric (``keras.ops`` only) for the node
  degree task; `node_degree_accuracy` is its numpy twin.
* `column_sum_error`: mean |column sums − 1| of a `SetLinearSum` kernel.
* `set_l1`: the set-sum L1 error (mean absolute error).
* `evaluate_task`: the metrics of a model (or any prediction callable) on
  ``(x, y)`` for a zoo task, as plain floats.
"""

import keras
import numpy as np
from keras import ops

from symzoo import _validation

TASKS = ("regression", "classification", "node_regression")


@keras.saving.register_keras_serializable(package="symzoo")
class NodeDegreeAccuracy(keras.metrics.Metric):
    """Fraction of nodes whose rounded predicted degree equals the true degree.

    Each prediction is clamped to ``[-0.5, max_degree + 0.5]`` and rounded to
    the nearest integer (half to even, as ``keras.ops.round`` / ``np.round``),
    then compared with the rounded target. The mean is over all nodes of all
    graphs (each graph's nodes weighted by its ``sample_weight``, if given).

    Note on the clamp (the report's): a prediction below −0.5 becomes −0.5,
    which rounds to 0, so it counts as right on an isolated node; for
    ``max_degree=9`` a prediction above 9.5 becomes 9.5, which rounds to 10
    and counts as wrong.

    Args:
        max_degree: the largest possible degree (``num_nodes - 1``; default 9).
        name: default ``"node_accuracy"`` (so ``fit`` logs ``node_accuracy``).

    Shapes:
        ``y_true``, ``y_pred``: (N, n) degrees per node; ``sample_weight``: (N,)
        or (N, n).
    """

    def __init__(self, max_degree=9, name="node_accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.max_degree = _validation.non_negative_int("max_degree", max_degree)
        self.correct = self.add_variable(shape=(), initializer="zeros", name="correct")
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.cast(y_pred, self.dtype)
        y_true = ops.cast(y_true, self.dtype)
        y_true = ops.reshape(y_true, ops.shape(y_pred))
        clamped = ops.clip(y_pred, -0.5, self.max_degree + 0.5)
        hits = ops.cast(ops.equal(ops.round(clamped), ops.round(y_true)), self.dtype)
        if sample_weight is None:
            weights = ops.ones_like(hits)
        else:
            weights = ops.cast(sample_weight, self.dtype)
            if len(weights.shape) < len(hits.shape):
                weights = ops.reshape(
                    weights,
                    tuple(ops.shape(weights)) + (1,) * (len(hits.shape) - len(weights.shape)),
                )
            weights = ops.broadcast_to(weights, ops.shape(hits))
        self.correct.assign_add(ops.sum(hits * weights))
        self.total.assign_add(ops.sum(weights))

    def result(self):
        return ops.divide_no_nan(self.correct, self.total)

    def reset_state(self):
        self.correct.assign(0.0)
        self.total.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "max_degree": self.max_degree}


def node_degree_accuracy(y_true, y_pred, max_degree=9):
    """Numpy version of `NodeDegreeAccuracy` (no sample weights): a float."""
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64).reshape(y_true.shape)
    clamped = np.clip(y_pred, -0.5, max_degree + 0.5)
    return float(np.mean(np.round(clamped) == np.round(y_true)))


def _to_numpy(value):
    if hasattr(value, "kernel") and not isinstance(value, np.ndarray):
        value = value.kernel
    try:
        return np.asarray(ops.convert_to_numpy(value))
    except Exception:
        return np.asarray(value)


def column_sum_error(kernel):
    """Mean over columns j of |Σ_i W[i, j] − 1| for a `SetLinearSum` kernel.

    W is stored as (outputs, inputs), so Σ_i W[i, j] is the total weight given
    to set element j; a perfect set-sum model has every column sum equal to 1
    (the report's trained model: 0.1145).

    Args:
        kernel: the (n, n) kernel as an array or variable, or a layer with a
            ``kernel`` attribute.

    Returns:
        A float.
    """
    w = _to_numpy(kernel)
    if w.ndim != 2:
        raise ValueError(
            f"Expected `kernel` to be a 2D (outputs, inputs) matrix. "
            f"Received: kernel.shape={w.shape}"
        )
    w = _validation.finite_array("kernel", w).astype(np.float64)
    return float(np.mean(np.abs(w.sum(axis=0) - 1.0)))


def set_l1(y_true, y_pred):
    """The set-sum L1 error: mean |y_true − y_pred| (a float)."""
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.size != y_pred.size:
        raise ValueError(
            "Expected `y_true` and `y_pred` to have the same number of values. "
            f"Received: y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}"
        )
    return float(np.mean(np.abs(y_true.reshape(-1) - y_pred.reshape(-1))))


def _predict(model, x, batch_size):
    if hasattr(model, "predict"):
        out = model.predict(x, batch_size=batch_size, verbose=0)
    elif callable(model):
        outs = []
        for start in range(0, len(x), batch_size):
            out = model(x[start : start + batch_size])
            if isinstance(out, dict):  # e.g. a SavedModel serving signature
                if len(out) != 1:
                    raise ValueError(
                        "Expected the prediction callable to return one output. "
                        f"Received: a dict with keys {sorted(out)}"
                    )
                out = next(iter(out.values()))
            outs.append(_to_numpy(out))
        out = np.concatenate(outs, axis=0) if outs else np.zeros((0,))
    else:
        raise ValueError(
            "Expected `model` to be a Keras model or a callable returning predictions. "
            f"Received: model={model!r}"
        )
    return np.asarray(out)


def evaluate_task(model, x, y, task, batch_size=256, max_degree=9):
    """Metrics of ``model`` on ``(x, y)`` for a zoo task, as floats.

    Args:
        model: a Keras model (``model.predict`` is used) or any callable mapping
            a batch of inputs to predictions (e.g. a reloaded SavedModel's
            serving function; a one-entry dict output is accepted).
        x, y: numpy inputs and targets.
        task: ``"classification"`` → ``{"accuracy"}`` (argmax of the class
            probabilities vs integer labels); ``"regression"`` →
            ``{"l1", "mse"}``; ``"node_regression"`` → ``{"node_accuracy",
            "mse"}``.
        batch_size: prediction batch size.
        max_degree: for ``"node_regression"``, see `NodeDegreeAccuracy`.

    Returns:
        A dict of floats.
    """
    _validation.one_of("task", task, TASKS)
    batch_size = _validation.positive_int("batch_size", batch_size)
    x = np.asarray(x)
    y = np.asarray(y)
    if len(x) != len(y):
        raise ValueError(
            "Expected `x` and `y` to have the same number of examples. "
            f"Received: len(x)={len(x)}, len(y)={len(y)}"
        )
    pred = _predict(model, x, batch_size)
    if len(pred) != len(y):
        raise ValueError(
            f"Expected one prediction per example. Received: {len(pred)} predictions "
            f"for {len(y)} examples"
        )
    if task == "classification":
        if pred.ndim != 2:
            raise ValueError(
                "Expected class probabilities of shape (N, C). "
                f"Received: predictions of shape {pred.shape}"
            )
        labels = y.reshape(len(y), -1)[:, 0] if y.ndim > 1 else y
        return {"accuracy": float(np.mean(np.argmax(pred, axis=-1) == labels))}
    y64 = y.astype(np.float64)
    p64 = pred.astype(np.float64).reshape(y64.shape)
    mse = float(np.mean((y64 - p64) ** 2))
    if task == "regression":
        return {"l1": set_l1(y64, p64), "mse": mse}
    return {"node_accuracy": node_degree_accuracy(y64, p64, max_degree), "mse": mse}


__all__ = [
    "NodeDegreeAccuracy",
    "column_sum_error",
    "evaluate_task",
    "node_degree_accuracy",
    "set_l1",
]
