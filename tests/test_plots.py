"""Each plot kind writes a non-empty PNG."""

import numpy as np
import pytest

from symzoo import plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _is_png(path):
    with open(path, "rb") as f:
        head = f.read(8)
    return head == PNG_MAGIC


KERNELS = {
    "set": (10, 10),
    "graph": (10, 10),
    "blob1d": (5, 10, 10),
    "blob2d": (3, 10, 10, 10, 10),
    "mnist": (10, 4, 4, 8, 8),  # small stand-in for (10, 28, 28, 56, 56)
}


@pytest.mark.parametrize("kind", sorted(KERNELS))
def test_plot_kernel_writes_png(tmp_path, kind):
    kernel = np.random.default_rng(0).standard_normal(KERNELS[kind]).astype("float32")
    path = plots.plot_kernel(kernel, kind, tmp_path / "sub" / f"{kind}.png", title=kind)
    assert _is_png(path)
    assert (tmp_path / "sub" / f"{kind}.png").stat().st_size > 1000


def test_plot_kernel_accepts_variables(tmp_path):
    import keras

    variable = keras.Variable(np.eye(4, dtype="float32"))
    assert _is_png(plots.plot_kernel(variable, "graph", tmp_path / "v.png"))


def test_plot_kernel_errors(tmp_path):
    with pytest.raises(ValueError, match="kind"):
        plots.plot_kernel(np.eye(3), "cube", tmp_path / "x.png")
    with pytest.raises(ValueError, match="rank"):
        plots.plot_kernel(np.eye(3), "blob1d", tmp_path / "x.png")


def _samples(kind):
    rng = np.random.default_rng(1)
    if kind == "set":
        x = rng.random((20, 10)).astype("float32")
        return x, x.sum(1, keepdims=True)
    if kind == "graph":
        upper = np.triu(rng.random((20, 10, 10)) < 0.4, 1).astype("float32")
        a = upper + upper.transpose(0, 2, 1)
        return a, a.sum(2)
    shape = {"blob1d": (10,), "blob2d": (10, 10), "mnist": (56, 56)}[kind]
    return rng.random((30, *shape)).astype("float32"), rng.integers(0, 3, 30)


@pytest.mark.parametrize("kind", sorted(KERNELS))
def test_plot_samples_writes_png(tmp_path, kind):
    x, y = _samples(kind)
    path = plots.plot_samples(x, y, kind, tmp_path / f"{kind}_samples.png")
    assert _is_png(path)
    assert (tmp_path / f"{kind}_samples.png").stat().st_size > 1000


def test_plot_samples_rejects_mismatched_lengths(tmp_path):
    with pytest.raises(ValueError, match="same"):
        plots.plot_samples(np.zeros((3, 10)), np.zeros(2), "set", tmp_path / "x.png")


def test_plot_template_grid(tmp_path):
    from symzoo.symmetry import projection

    rng = np.random.default_rng(0)
    kernel = projection.translation_kernel(rng.normal(size=(3, 10, 10)), (10, 10))
    path = plots.plot_template_grid(kernel, tmp_path / "grid.png", classes=(0, 2), max_cells=4)
    assert _is_png(path)
    with pytest.raises(ValueError, match="classes"):
        plots.plot_template_grid(kernel, tmp_path / "x.png", classes=(3,))
    with pytest.raises(ValueError):
        plots.plot_template_grid(kernel[:, 0], tmp_path / "x.png")
