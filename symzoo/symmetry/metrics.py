"""How symmetric is a model? Functional and weight-space measures (numpy).

Functional (any callable ``f: batch of inputs -> batch of outputs``):

* `equivariance_error`: mean over test inputs x and sampled group elements g
  of ``‖f(g·x) − ρ(g)·f(x)‖ / ‖f(x)‖`` (norms over each example's outputs);
  ρ is the identity for invariant tasks, so this is also the invariance
  error. 0 for an exactly symmetric model.
* `transformed_task_metrics`: the task's metrics (`symzoo.metrics.evaluate_task`)
  on transformed test inputs ``g·x`` with targets ``ρ(g)·y``, averaged over
  the sampled g.

Weight space (a symzoo layer's kernel):

* `norm_share`: ``‖P_G(W)‖² / ‖W‖²`` with P_G the Reynolds projection of
  `symzoo.symmetry.projection` (1 for a symmetric kernel);
* `column_sums` / `column_sum_spread` / `column_sum_share`: for `SetLinearSum`
  (invariant iff all column sums are equal; the share n·c̄²/‖c‖² is the
  function-level analogue of the norm share, which for set kernels is high
  even for random kernels); the report's mean |column sums − 1| is
  `symzoo.metrics.column_sum_error`;
* `shift_correlation`: for `ClassTranslationDense`, the Pearson correlation
  between each translation's template W[k, i, j] and the next translation's
  template moved back, ``roll(W[k, i+1, j], −s)`` (and likewise along j),
  averaged over classes, translations and axes: 1 for a convolution kernel;
* `graph_coefficients`: for `GraphRowSum`, α, β of the projection α·I + β·11ᵀ
  and the relative distance of W to it.
"""

import numpy as np

from symzoo import _validation
from symzoo.symmetry import projection as _projection


def _call(f, x, batch_size):
    """``f`` on ``x`` in batches, as a float64 numpy array."""
    outs = []
    for start in range(0, len(x), batch_size):
        out = f(x[start : start + batch_size])
        if isinstance(out, dict):
            if len(out) != 1:
                raise ValueError(
                    "Expected `f` to return one output. Received: a dict with keys "
                    f"{sorted(out)}"
                )
            out = next(iter(out.values()))
        outs.append(np.asarray(_projection.to_numpy(out), dtype=np.float64))
    if not outs:
        raise ValueError("Expected at least one input. Received: x with 0 examples.")
    return np.concatenate(outs, axis=0)


def as_function(model, batch_size=256):
    """A numpy callable ``x -> outputs`` for a Keras model, a `TFSMLayer`
    wrapper, an object with ``predict`` or any callable."""
    if hasattr(model, "predict"):

        def f(x):
            return np.asarray(model.predict(x, batch_size=batch_size, verbose=0))

        return f
    if callable(model):
        return model
    raise ValueError(
        "Expected a Keras model or a callable returning predictions. "
        f"Received: model={model!r}"
    )


def _sample(group, num_elements, seed, include_identity=False):
    num_elements = _validation.positive_int("num_elements", num_elements)
    rng = np.random.default_rng(seed)
    elements = group.sample(rng, num_elements)
    if include_identity:
        elements = np.concatenate([group.identity()[None], elements[:-1]], axis=0)
    return elements


def equivariance_error(
    f, x, group, num_elements=8, seed=0, batch_size=256, eps=1e-12, y=None, task=None
):
    """Relative invariance/equivariance error of ``f`` under ``group``.

        mean_{x, g} ‖f(g·x) − ρ(g)·f(x)‖ / max(‖f(x)‖, eps)

    Args:
        f: a callable mapping a numpy batch to outputs (numpy or tensors), or
            a Keras model (its ``predict`` is used).
        x: numpy inputs (N, ...).
        group: a `symzoo.symmetry.groups.Group`.
        num_elements: number of group elements sampled (uniformly, with seed).
        seed: seed of the group samples.
        batch_size: evaluation batch size.
        eps: floor of the denominator.
        y, task: optional targets and zoo task (``"classification"``,
            ``"regression"``, ``"node_regression"``): the task metrics on the
            transformed inputs are then computed from the same predictions
            (as `transformed_task_metrics` does, without running f again).

    Returns:
        dict with ``"mean"`` (the error), ``"max"`` (the largest per-example
        error), ``"per_element"`` (the mean for each sampled g) and
        ``"elements"`` (the sampled g, as lists); with `task`, also
        ``"task_metrics"`` (on x) and ``"transformed_task_metrics"``.
    """
    f = as_function(f, batch_size)
    x = np.asarray(x)
    batch_size = _validation.positive_int("batch_size", batch_size)
    fx = _call(f, x, batch_size)
    norms = np.maximum(np.linalg.norm(fx.reshape(len(fx), -1), axis=1), eps)
    per_element, worst, scores = [], 0.0, []
    elements = _sample(group, num_elements, seed)
    for g in elements:
        fgx = _call(f, group.act_input(x, g), batch_size)
        target = np.asarray(group.act_output(fx, g))
        err = np.linalg.norm((fgx - target).reshape(len(fx), -1), axis=1) / norms
        per_element.append(float(err.mean()))
        worst = max(worst, float(err.max()))
        if task is not None:
            scores.append(_score(fgx, _target(group, y, g), task))
    out = {
        "mean": float(np.mean(per_element)),
        "max": worst,
        "per_element": per_element,
        "elements": [np.asarray(g).tolist() for g in elements],
    }
    if task is not None:
        out["task_metrics"] = _score(fx, np.asarray(y), task)
        out["transformed_task_metrics"] = _summarise(scores)
    return out


def _target(group, y, g):
    y = np.asarray(y)
    return group.act_output(y, g) if y.ndim >= 2 and group.kind == "equivariant" else y


def _score(predictions, y, task):
    """`symzoo.metrics.evaluate_task` on precomputed predictions."""
    from symzoo import metrics as task_metrics

    return task_metrics.evaluate_task(lambda p: p, predictions, y, task)


def _summarise(results):
    out = {}
    for key in results[0]:
        values = [r[key] for r in results]
        lower_is_better = key in ("l1", "mse")
        out[key] = float(np.mean(values))
        out[f"{key}_worst"] = float(max(values) if lower_is_better else min(values))
    return out


def transformed_task_metrics(model, x, y, task, group, num_elements=8, seed=0, batch_size=256):
    """`symzoo.metrics.evaluate_task` on ``(g·x, ρ(g)·y)`` averaged over sampled g.

    Returns:
        dict: the task's metric names (e.g. ``"accuracy"``) → mean over g, and
        ``"<metric>_worst"`` → its value for the worst sampled g.
    """
    from symzoo import metrics as task_metrics

    results = []
    for g in _sample(group, num_elements, seed):
        xg = group.act_input(np.asarray(x), g)
        results.append(
            task_metrics.evaluate_task(model, xg, _target(group, y, g), task, batch_size=batch_size)
        )
    return _summarise(results)


# Weight space ---------------------------------------------------------------


def norm_share(kernel, kind=None, projected=None):
    """``‖P_G(W)‖² / ‖W‖²``; see `symzoo.symmetry.projection`."""
    return _projection.norm_share(kernel, kind, projected)


def relative_distance(kernel, kind=None, projected=None):
    """``‖W − P_G(W)‖ / ‖W‖`` (= sqrt(1 − norm share) for orthogonal P)."""
    w = _projection.to_numpy(kernel)
    p = _projection.project(w, kind) if projected is None else _projection.to_numpy(projected)
    total = _projection.squared_norm(w)
    if total == 0.0:
        return 0.0
    return float(np.sqrt(_projection.squared_norm(w.astype(np.float64) - p) / total))


def column_sums(kernel):
    """Σ_i W[i, j] of a (outputs, inputs) `SetLinearSum` kernel, float64 (n,)."""
    w = _projection.to_numpy(kernel)
    if w.ndim != 2:
        raise ValueError(f"Expected a 2D (outputs, inputs) kernel. Received: kernel shape {w.shape}")
    return w.sum(axis=0, dtype=np.float64)


def column_sum_spread(kernel):
    """Mean |c_j − c̄| of the column sums: 0 iff the set layer is invariant."""
    c = column_sums(kernel)
    return float(np.mean(np.abs(c - c.mean())))


def column_sum_share(kernel):
    """``n·c̄² / ‖c‖²`` for the column sums c: the share of the *effective*
    weight vector (the layer is ``y = Σ_j c_j x_j``) in the invariant direction
    1. It is 1 iff the set layer is invariant and about 1/n for a random
    kernel, whereas the kernel-level `norm_share` of a random set kernel is
    about 1 − (n−1)/n² (most kernel directions do not change the function)."""
    c = column_sums(kernel)
    total = float(np.sum(c * c))
    if total == 0.0:
        return 1.0
    return float(len(c) * c.mean() ** 2 / total)


def _pearson(a, b, axes):
    a = a - a.mean(axis=axes, keepdims=True)
    b = b - b.mean(axis=axes, keepdims=True)
    num = (a * b).sum(axis=axes)
    den = np.sqrt((a * a).sum(axis=axes) * (b * b).sum(axis=axes))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return r


def shift_correlation(kernel):
    """Mean correlation of W[k, i, j] with ``roll(W[k, i+1, j], −s)`` (and with
    ``roll(W[k, i, j+1], −s')``) for a ClassTranslationDense kernel.

    For a convolution-structured kernel (W[k, i+1] = roll(W[k, i], s)) it is 1;
    for an unstructured kernel about 0. Templates with zero variance are left
    out of the mean. Returns a float (NaN if no template has variance).
    """
    w = _projection.to_numpy(kernel)
    _, translations, spatial, strides = _projection.translation_geometry(w.shape)
    nt = len(translations)
    values = []
    for k in range(w.shape[0]):  # one class at a time: bounded temporaries
        wk = w[k].astype(np.float64)
        pix_axes = tuple(range(nt, 2 * nt))
        for axis in range(nt):
            if translations[axis] < 2:
                continue
            # W[k, i+1] moved back by one stride along this axis.
            nxt = np.roll(wk, -1, axis=axis)
            nxt = np.roll(nxt, -strides[axis], axis=nt + axis)
            values.append(_pearson(wk, nxt, pix_axes).ravel())
    if not values:
        return float("nan")
    values = np.concatenate(values)
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else float("nan")


def graph_coefficients(kernel):
    """``{"alpha", "beta", "relative_distance"}`` of a GraphRowSum kernel:
    the projection α·I + β·11ᵀ and ‖W − (α·I + β·11ᵀ)‖ / ‖W‖."""
    alpha, beta = _projection.graph_coefficients(kernel)
    return {
        "alpha": alpha,
        "beta": beta,
        "relative_distance": relative_distance(kernel, "graph"),
    }


def kernel_metrics(kernel, kind):
    """All weight-space numbers of one kernel as a JSON-ready dict.

    Args:
        kernel: the kernel.
        kind: ``"translation"``, ``"set"`` or ``"graph"`` (or an alias).
    """
    w = _projection.to_numpy(kernel)
    kind = _projection.resolve_kind(kind, w.shape)
    projected = _projection.project(w, kind)
    out = {
        "kind": kind,
        "kernel_shape": list(w.shape),
        "kernel_size": int(w.size),
        "norm_share": norm_share(w, kind, projected),
        "random_kernel_norm_share": _projection.random_share(w.shape, kind),
        "relative_distance": relative_distance(w, kind, projected),
    }
    if kind == "set":
        from symzoo import metrics as task_metrics

        c = column_sums(w)
        out.update(
            column_sums=c.tolist(),
            mean_column_sum=float(c.mean()),
            column_sum_spread=column_sum_spread(w),
            column_sum_share=column_sum_share(w),
            column_sum_error=task_metrics.column_sum_error(w),
            pairwise_norm_share=norm_share(w, "set_pairwise"),
        )
    elif kind == "graph":
        out.update(graph_coefficients(w))
    elif kind == "translation":
        _, translations, spatial, strides = _projection.translation_geometry(w.shape)
        out.update(
            translations=list(translations),
            strides=list(strides),
            shift_correlation=shift_correlation(w),
            projected_shift_correlation=shift_correlation(projected),
        )
    return out, projected
