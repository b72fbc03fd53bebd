"""Torus MNIST on tiny fake IDX files (no real MNIST needed)."""

import gzip

import numpy as np
import pytest

from symzoo import datasets
from symzoo.datasets import torus as tm


def _write_idx(path, array):
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 8, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    with gzip.open(str(path) + ".gz", "wb") as f:
        f.write(header + array.tobytes())


@pytest.fixture
def fake_dir(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (12, 28, 28)),
        "train-labels-idx1-ubyte": rng.integers(0, 10, 12),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (5, 28, 28)),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, 5),
    }
    for name, array in arrays.items():
        _write_idx(tmp_path / name, array)
    return tmp_path, arrays


def _pooled(digits):
    x = digits.astype(np.float64) / 255
    out = np.zeros((len(x), 14, 14))
    for i in range(14):
        for j in range(14):
            out[:, i, j] = x[:, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2].mean(axis=(1, 2))
    return out


def _match_rolled(x, references):
    """For each image, (index, (u, v)) of the reference that np.roll maps onto it."""
    found = []
    for img in x:
        hit = None
        for k, ref in enumerate(references):
            for u in range(14):
                for v in range(14):
                    if np.allclose(np.roll(ref, (u, v), axis=(0, 1)), img, atol=1e-6):
                        hit = (k, (u, v))
                        break
                if hit:
                    break
            if hit:
                break
        found.append(hit)
    return found


def test_definition_pool_roll_and_splits(fake_dir):
    directory, arrays = fake_dir
    data = datasets.load("torus_mnist", seed=3, data_dir=directory, sizes=(6, 4, 5))
    assert data.name == "torus_mnist" and data.info["pixel_permutation"] is None
    assert [x.shape for x, _ in (data.train, data.val, data.test)] == [
        (6, 14, 14), (4, 14, 14), (5, 14, 14)]
    for x, y in (data.train, data.val, data.test):
        assert x.dtype == np.float32 and y.dtype == np.int32
        assert x.min() >= 0 and x.max() <= 1
    # Every example is a pooled digit rolled cyclically, with its own label.
    train_refs = _pooled(arrays["train-images-idx3-ubyte"])
    hits = _match_rolled(np.concatenate([data.train[0], data.val[0]]), train_refs)
    assert all(h is not None for h in hits)
    index = [h[0] for h in hits]
    assert len(set(index)) == 10  # train and val are disjoint images
    labels = arrays["train-labels-idx1-ubyte"][index]
    np.testing.assert_array_equal(np.concatenate([data.train[1], data.val[1]]), labels)
    test_hits = _match_rolled(data.test[0], _pooled(arrays["t10k-images-idx3-ubyte"]))
    assert sorted(h[0] for h in test_hits) == [0, 1, 2, 3, 4]  # the official test file
    shifts = {h[1] for h in hits + test_hits}
    assert len(shifts) > 5  # random shifts, not one


def test_deterministic_and_pixel_permutation(fake_dir):
    directory, _ = fake_dir
    kw = dict(data_dir=directory, sizes=(6, 4, 5))
    a = tm.torus_mnist(seed=1, **kw)
    b = tm.torus_mnist(seed=1, **kw)
    c = tm.torus_mnist(seed=1, pixel_permutation=7, **kw)
    perm = tm.pixel_permutation(7)
    assert sorted(perm) == list(range(196))
    assert c.info["pixel_permutation"] == [int(i) for i in perm]
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(a[split][0], b[split][0])
        np.testing.assert_array_equal(
            c[split][0], a[split][0].reshape(-1, 196)[:, perm].reshape(-1, 14, 14)
        )
        np.testing.assert_array_equal(c[split][1], a[split][1])
    assert not np.array_equal(a.train[0], tm.torus_mnist(seed=2, **kw).train[0])


def test_bad_arguments(fake_dir, tmp_path):
    directory, _ = fake_dir
    with pytest.raises(ValueError, match=r"Received: pixel_permutation='x'"):
        tm.torus_mnist(data_dir=directory, sizes=(1, 1, 1), pixel_permutation="x")
    with pytest.raises(ValueError, match=r"n_train \+ n_val <= 60000"):
        tm.torus_mnist(data_dir=directory, sizes=(50000, 12000, 1))
    with pytest.raises(ValueError, match=r"fit the MNIST data found"):
        tm.torus_mnist(data_dir=directory, sizes=(20, 1, 1))
    with pytest.raises(FileNotFoundError, match=r"train-images-idx3-ubyte"):
        tm.torus_mnist(data_dir=tmp_path / "empty_nowhere", sizes=(1, 1, 1))
