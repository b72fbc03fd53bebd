"""Heatmaps of learned kernels and pictures of data set samples (matplotlib, Agg).

Figures are drawn with matplotlib's object API on an Agg canvas (no pyplot
state, no display needed) and written as PNG. matplotlib is imported inside
the functions, so ``import symzoo.plots`` is cheap.

* ``plot_kernel(kernel, kind, path, title=None)``: kinds

  - ``"set"``: the (n, n) kernel and its column sums (the weight given to each
    set element; a set-sum model has them all at 1);
  - ``"graph"``: the (n, n) kernel (α·I + β·11ᵀ shows as a constant diagonal
    on a constant background);
  - ``"blob1d"``: kernel (C, T, d), one T × d heatmap per class (rows:
    translations, columns: pixels); a convolution-structured kernel shows
    diagonal stripes;
  - ``"blob2d"``, ``"mnist"``: kernel (C, T, T', d, d'), one row per class with
    the templates W[k, t, t] of the diagonal translations t = 0, Δ, 2Δ, …
    (a few of them), then the template aligned and averaged over all
    translations (the projected template): for a learned convolution the
    same pattern moves along the diagonal by s pixels per translation step.

* ``plot_template_grid(kernel, path, classes)``: the templates of a 2D kernel on
  the full translation grid (i, j), not only its diagonal, so that sharing along
  both translation axes (or its absence) is visible.

* ``plot_samples(x, y, kind, path)``: a few examples per class (images), or a
  few sets / adjacency matrices with their targets.
"""

import os

import numpy as np

KINDS = ("set", "blob1d", "blob2d", "mnist", "graph")


def _check_kind(kind):
    if kind not in KINDS:
        raise ValueError(f"Expected `kind` to be one of {sorted(KINDS)}. Received: kind={kind!r}")
    return kind


def _to_numpy(array):
    if isinstance(array, np.ndarray):
        return array
    if hasattr(array, "kernel") and not hasattr(array, "shape"):
        array = array.kernel
    try:
        import keras

        return np.asarray(keras.ops.convert_to_numpy(array))
    except Exception:
        return np.asarray(array)


def _figure(figsize):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path):
    path = os.fspath(path)
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    fig.savefig(path, format="png", bbox_inches="tight")
    return path


def _symmetric_limits(array):
    m = float(np.max(np.abs(array))) if array.size else 1.0
    return -(m or 1.0), (m or 1.0)


def _heat(ax, array, title=None, vlim=None, cmap="RdBu_r"):
    lo, hi = vlim if vlim is not None else _symmetric_limits(array)
    im = ax.imshow(array, cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest", aspect="auto")
    if title:
        ax.set_title(title, fontsize=8)
    return im


def _no_ticks(ax):
    ax.set_xticks([])
    ax.set_yticks([])


def _check_rank(kernel, ranks, kind):
    if kernel.ndim not in ranks:
        raise ValueError(
            f"Expected a kernel of rank {' or '.join(map(str, ranks))} for kind={kind!r}. "
            f"Received: kernel shape {kernel.shape}"
        )


def _plot_square(kernel, kind, title):
    _check_rank(kernel, (2,), kind)
    if kernel.shape[0] != kernel.shape[1]:
        raise ValueError(f"Expected a square (n, n) kernel. Received: kernel shape {kernel.shape}")
    if kind == "set":
        fig = _figure((8, 3.6))
        ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.1, 1]})
        im = _heat(ax1, kernel, "W (outputs × inputs)")
        fig.colorbar(im, ax=ax1, fraction=0.046)
        ax1.set_xlabel("input j")
        ax1.set_ylabel("output i")
        sums = kernel.sum(axis=0)
        ax2.bar(np.arange(len(sums)), sums, color="tab:blue")
        ax2.axhline(1.0, color="k", lw=0.8, ls="--", label="1")
        ax2.axhline(float(sums.mean()), color="tab:red", lw=0.8, label="mean")
        ax2.set_title("column sums Σ_i W[i, j]", fontsize=8)
        ax2.set_xlabel("input j")
        ax2.legend(fontsize=7)
    else:
        fig = _figure((4.4, 3.6))
        ax = fig.subplots()
        im = _heat(ax, kernel, "W")
        fig.colorbar(im, ax=ax, fraction=0.046)
        ax.set_xlabel("j")
        ax.set_ylabel("l")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def _plot_blob1d(kernel, title):
    _check_rank(kernel, (3,), "blob1d")
    num_classes = kernel.shape[0]
    cols = min(num_classes, 5)
    rows = -(-num_classes // cols)
    fig = _figure((2.4 * cols, 2.2 * rows + 0.4))
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    vlim = _symmetric_limits(kernel)
    for k, ax in enumerate(axes):
        if k >= num_classes:
            ax.axis("off")
            continue
        _heat(ax, kernel[k], f"class {k}", vlim)
        ax.set_xlabel("pixel", fontsize=7)
        if k % cols == 0:
            ax.set_ylabel("translation", fontsize=7)
        ax.tick_params(labelsize=6)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def _aligned_mean(kernel):
    """Mean over translations of the templates rolled back to the origin."""
    from symzoo.symmetry import projection

    return projection.templates(kernel)


def _plot_image_kernel(kernel, kind, title, max_columns=6):
    _check_rank(kernel, (5,), kind)
    num_classes, t1, t2 = kernel.shape[:3]
    steps = min(t1, t2)
    count = min(steps, max_columns)
    diag = np.unique(np.linspace(0, steps - 1, count).round().astype(int))
    mean = _aligned_mean(kernel)
    cols = len(diag) + 1
    size = 1.3 if kind == "mnist" else 1.1
    fig = _figure((size * cols + 0.6, size * num_classes + 0.6))
    axes = fig.subplots(num_classes, cols, squeeze=False)
    for k in range(num_classes):
        vlim = _symmetric_limits(kernel[k])
        for c, t in enumerate(diag):
            ax = axes[k, c]
            _heat(ax, kernel[k, t, t], f"t=({t},{t})" if k == 0 else None, vlim)
            _no_ticks(ax)
            if c == 0:
                ax.set_ylabel(f"class {k}", fontsize=7)
        ax = axes[k, -1]
        _heat(ax, mean[k], "aligned mean" if k == 0 else None, _symmetric_limits(mean[k]))
        _no_ticks(ax)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def _grid_steps(count, max_cells):
    step = max(1, -(-count // max_cells))  # ceil
    return list(range(0, count, step))


def plot_template_grid(kernel, path, classes=(0,), max_cells=8, title=None):
    """Writes a PNG of the full translation grid of a 2D `ClassTranslationDense` kernel.

    For each class in `classes`, one mosaic whose cell (a, b) is the template
    W[k, i_a, j_b] (d × d' pixels) of translation (i_a, j_b), on a grid of at most
    `max_cells` × `max_cells` translations evenly spaced over T × T' (every
    translation when T ≤ max_cells). A kernel tied along the whole translation group
    (a convolution) shows one pattern moving down the rows *and* along the columns by
    s pixels per translation step; the report's diagonal sharing ties only the cells
    on each diagonal, so off-diagonal cells differ. Cells are separated by a grey
    line; one colour scale per class (symmetric around 0).

    Args:
        kernel: (C, T, T', d, d') numpy array or keras Variable.
        path: output PNG path.
        classes: class indices to draw (one mosaic each).
        max_cells: the most translations per axis shown.
        title: optional figure title.
    Returns:
        The path.
    """
    kernel = _to_numpy(kernel).astype(np.float32, copy=False)
    _check_rank(kernel, (5,), "blob2d")
    classes = [int(k) for k in classes]
    if not classes or min(classes) < 0 or max(classes) >= kernel.shape[0]:
        raise ValueError(
            f"Expected `classes` to be indices in [0, {kernel.shape[0]}). "
            f"Received: classes={classes!r}"
        )
    rows = _grid_steps(kernel.shape[1], max_cells)
    cols = _grid_steps(kernel.shape[2], max_cells)
    d1, d2 = kernel.shape[3:]
    fig = _figure((4.2 * len(classes) + 0.4, 4.6))
    axes = fig.subplots(1, len(classes), squeeze=False)[0]
    for ax, k in zip(axes, classes):
        mosaic = np.full((len(rows) * (d1 + 1) - 1, len(cols) * (d2 + 1) - 1), np.nan,
                         dtype=np.float32)
        for a, i in enumerate(rows):
            for b, j in enumerate(cols):
                mosaic[a * (d1 + 1):a * (d1 + 1) + d1, b * (d2 + 1):b * (d2 + 1) + d2] = (
                    kernel[k, i, j])
        lo, hi = _symmetric_limits(kernel[k])
        import matplotlib

        cmap = matplotlib.colormaps["RdBu_r"].copy()
        cmap.set_bad("0.6")
        ax.imshow(np.ma.masked_invalid(mosaic), cmap=cmap, vmin=lo, vmax=hi,
                  interpolation="nearest")
        ax.set_xticks([b * (d2 + 1) + d2 / 2 for b in range(len(cols))], [str(j) for j in cols])
        ax.set_yticks([a * (d1 + 1) + d1 / 2 for a in range(len(rows))], [str(i) for i in rows])
        ax.tick_params(labelsize=6)
        ax.set_xlabel("translation j (columns)", fontsize=7)
        ax.set_ylabel("translation i (rows)", fontsize=7)
        ax.set_title(f"class {k}: W[{k}, i, j]", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def plot_kernel(kernel, kind, path, title=None):
    """Writes a PNG heatmap of a symzoo kernel; returns the path.

    Args:
        kernel: numpy array, keras Variable, or a layer with a ``kernel``.
        kind: ``"set"``, ``"graph"`` (n, n); ``"blob1d"`` (C, T, d);
            ``"blob2d"``, ``"mnist"`` (C, T, T', d, d').
        path: output PNG path (directories are created).
        title: optional figure title.
    """
    kind = _check_kind(kind)
    kernel = _to_numpy(kernel).astype(np.float32, copy=False)
    if kind in ("set", "graph"):
        fig = _plot_square(kernel, kind, title)
    elif kind == "blob1d":
        fig = _plot_blob1d(kernel, title)
    else:
        fig = _plot_image_kernel(kernel, kind, title)
    return _save(fig, path)


def _pick_per_class(y, per_class, rng):
    classes = np.unique(y)
    picks = []
    for c in classes:
        idx = np.flatnonzero(y == c)
        picks.append(rng.choice(idx, size=min(per_class, len(idx)), replace=False))
    return classes, picks


def plot_samples(x, y, kind, path, per_class=4, count=8, seed=0, title=None):
    """Writes a PNG of data set examples; returns the path.

    Images (``"blob1d"``, ``"blob2d"``, ``"mnist"``): `per_class` examples of
    each class, one row per class. Sets and graphs: `count` examples with
    their targets.
    """
    kind = _check_kind(kind)
    x = _to_numpy(x)
    y = _to_numpy(y)
    if len(x) == 0 or len(x) != len(y):
        raise ValueError(
            "Expected `x` and `y` to hold the same, non-zero number of examples. "
            f"Received: len(x)={len(x)}, len(y)={len(y)}"
        )
    rng = np.random.default_rng(seed)
    if kind in ("blob1d", "blob2d", "mnist"):
        labels = y.reshape(len(y), -1)[:, 0].astype(int)
        classes, picks = _pick_per_class(labels, per_class, rng)
        cols = max(len(p) for p in picks)
        fig = _figure((1.3 * cols + 0.6, (0.6 if kind == "blob1d" else 1.2) * len(classes) + 0.6))
        axes = fig.subplots(len(classes), cols, squeeze=False)
        for r, (c, idx) in enumerate(zip(classes, picks)):
            for col in range(cols):
                ax = axes[r, col]
                _no_ticks(ax)
                if col >= len(idx):
                    ax.axis("off")
                    continue
                img = x[idx[col]]
                if img.ndim == 1:
                    img = img[None, :]
                ax.imshow(img, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest", aspect="auto" if kind == "blob1d" else "equal")
                if col == 0:
                    ax.set_ylabel(f"class {c}", fontsize=7)
    else:
        n = min(count, len(x))
        idx = rng.choice(len(x), size=n, replace=False)
        cols = min(n, 4)
        rows = -(-n // cols)
        fig = _figure((2.6 * cols, 2.2 * rows + 0.3))
        axes = fig.subplots(rows, cols, squeeze=False).ravel()
        for ax, i in zip(axes, idx):
            if kind == "set":
                ax.bar(np.arange(x.shape[1]), x[i], color="tab:blue")
                ax.set_ylim(0, max(1.0, float(np.max(x[i]))))
                target = float(np.asarray(y[i]).ravel()[0])
                ax.set_title(f"sum = {target:.3f}", fontsize=8)
                ax.tick_params(labelsize=6)
            else:
                ax.imshow(x[i], cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
                degrees = np.asarray(y[i]).astype(int).tolist()
                ax.set_title(f"degrees {degrees}", fontsize=6)
                _no_ticks(ax)
        for ax in axes[n:]:
            ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path)


__all__ = ["KINDS", "plot_kernel", "plot_samples"]
