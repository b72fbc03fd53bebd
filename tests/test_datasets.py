"""Tests for symzoo.datasets: small sizes, fixed seeds."""

import dataclasses
import gzip
import hashlib
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from symzoo import datasets
from symzoo.datasets import blobs, mnist

MNIST_DIR = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
needs_mnist = pytest.mark.skipif(
    not MNIST_DIR.is_dir(), reason=f"MNIST IDX files not found in {MNIST_DIR}"
)

SMALL = {
    "set_sum": dict(sizes=(50, 10, 10)),
    "blob1d": dict(sizes=(50, 10, 10)),
    "blob2d": dict(sizes=(30, 9, 9)),
    "graph_degree": dict(num_graphs=30),
}


def _all_arrays(splits):
    return [a for s in ("train", "val", "test") for a in splits[s]]


# --- package ------------------------------------------------------------------


def test_import_does_not_load_tensorflow():
    code = (
        "import sys, symzoo.datasets; "
        "assert 'tensorflow' not in sys.modules; "
        "assert 'tensorflow_datasets' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_names_and_load_dispatch():
    assert datasets.NAMES == (
        "set_sum", "blob1d", "blob2d", "padded_mnist", "graph_degree", "torus_mnist"
    )
    a = datasets.load("set_sum", seed=3, sizes=(5, 2, 2))
    b = datasets.set_sum(seed=3, sizes=(5, 2, 2))
    np.testing.assert_array_equal(a.train[0], b.train[0])
    assert a.name == "set_sum" and a.seed == 3 and a.info["sizes"] == (5, 2, 2)


def test_load_unknown_name():
    with pytest.raises(ValueError, match=r"Expected `name` to be one of .*Received: name='mnist'"):
        datasets.load("mnist")


# --- determinism ---------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SMALL))
def test_deterministic_given_seed(name):
    a = datasets.load(name, seed=1, **SMALL[name])
    b = datasets.load(name, seed=1, **SMALL[name])
    c = datasets.load(name, seed=2, **SMALL[name])
    for u, v in zip(_all_arrays(a), _all_arrays(b)):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a.train[0], c.train[0])
    assert not np.array_equal(a.test[0], c.test[0])


@pytest.mark.parametrize("name", ["set_sum", "blob1d", "blob2d"])
def test_split_does_not_depend_on_other_sizes(name):
    a = datasets.load(name, seed=0, sizes=(20, 5, 7))
    b = datasets.load(name, seed=0, sizes=(40, 6, 7))
    np.testing.assert_array_equal(a.test[0], b.test[0])
    np.testing.assert_array_equal(a.test[1], b.test[1])


# --- set_sum -------------------------------------------------------------------


def test_set_sum():
    data = datasets.set_sum(seed=0, sizes=(40, 5, 6), set_size=7)
    assert data.sizes() == (40, 5, 6)
    for split in ("train", "val", "test"):
        x, y = data[split]
        assert x.dtype == np.float32 and y.dtype == np.float32
        assert x.shape == (len(y), 7) and y.shape == (len(x), 1)
        assert x.min() >= 0 and x.max() < 1
        np.testing.assert_allclose(y, x.sum(axis=1, keepdims=True), rtol=1e-6)
    assert datasets.set_sum().sizes() == (8000, 1000, 1000)


# --- blob1d --------------------------------------------------------------------


def test_blob1d_shapes_and_ranges():
    data = datasets.blob1d(seed=0, sizes=(100, 20, 20))
    x, y = data.train
    assert x.shape == (100, 10) and x.dtype == np.float32
    assert y.shape == (100,) and y.dtype == np.int32
    assert x.min() >= 0 and x.max() <= 1
    assert np.bincount(y, minlength=5).tolist() == [20] * 5  # balanced
    assert data.info["noise"] == 0.15


def test_blob1d_noise_free_blob_width_is_class_plus_one():
    x, y = datasets.blob1d(seed=4, sizes=(300, 1, 1), length=12, noise=0.0).train
    lit = x > 0
    np.testing.assert_array_equal(lit.sum(axis=1), y + 1)
    # One contiguous run up to cyclic wrap: exactly one cyclic "rising edge".
    rising = lit & ~np.roll(lit, 1, axis=1)
    np.testing.assert_array_equal(rising.sum(axis=1), 1)
    # Constant amplitude within the default range.
    amp = x.max(axis=1)
    assert np.all(x[lit] == np.repeat(amp, lit.sum(axis=1)))
    assert amp.min() >= 0.5 and amp.max() <= 1.0
    # Starts cover every position, including wrapped blobs.
    starts = np.argmax(rising, axis=1)
    assert set(starts.tolist()) == set(range(12))
    assert np.any(lit[:, 0] & lit[:, -1])


def test_blob1d_amplitude_argument():
    x, _ = datasets.blob1d(seed=0, sizes=(50, 1, 1), noise=0.0, amplitude=(0.2, 0.3)).train
    amp = x.max(axis=1)
    assert amp.min() >= 0.2 and amp.max() <= 0.3


# --- blob2d --------------------------------------------------------------------


def test_blob2d_shapes_and_ranges():
    x, y = datasets.blob2d(seed=0, sizes=(60, 6, 6)).train
    assert x.shape == (60, 10, 10) and x.dtype == np.float32
    assert y.dtype == np.int32 and np.bincount(y).tolist() == [20, 20, 20]
    assert x.min() >= 0 and x.max() <= 1


def test_blob2d_noise_free_shapes_match_definition():
    x, y = datasets.blob2d(seed=5, sizes=(90, 1, 1), noise=0.0).train
    lit = x > 0
    np.testing.assert_array_equal(lit.sum(axis=(1, 2)), np.array(blobs.BLOB2D_PIXELS)[y])
    # Every image is one variant of its class, cyclically translated.
    templates = []
    for variants in blobs._blob2d_shapes():
        masks = []
        for offsets in variants:
            m = np.zeros((10, 10), bool)
            m[offsets[:, 0], offsets[:, 1]] = True
            masks += [np.roll(m, (r, c), axis=(0, 1)) for r in range(10) for c in range(10)]
        templates.append(np.stack(masks))
    for image, label in zip(lit, y):
        assert np.any(np.all(templates[label] == image, axis=(1, 2)))
    # Triangles come in four orientations, lines in two.
    assert len(blobs._blob2d_shapes()[1]) == 4
    assert len({frozenset(map(tuple, t)) for t in blobs._blob2d_shapes()[1]}) == 4


# --- graph_degree --------------------------------------------------------------


def test_graph_degree_definition():
    data = datasets.graph_degree(seed=0, num_graphs=200, permutations=3)
    assert data.sizes() == (480, 60, 60)
    for split in ("train", "val", "test"):
        x, y = data[split]
        assert x.shape == (len(x), 10, 10) and x.dtype == np.float32
        assert y.shape == (len(x), 10) and y.dtype == np.float32
        assert set(np.unique(x).tolist()) <= {0.0, 1.0}
        np.testing.assert_array_equal(x, x.transpose(0, 2, 1))
        assert np.all(np.diagonal(x, axis1=1, axis2=2) == 0)
        np.testing.assert_array_equal(y, x.sum(axis=2))
    assert set(np.unique(data.train[1]).tolist()) == set(range(10))


def test_graph_degree_by_graph_split_keeps_graphs_apart():
    data, ids = datasets.graph_degree(
        seed=1, num_graphs=50, permutations=4, return_graph_ids=True
    )
    assert {k: len(v) for k, v in ids.items()} == {"train": 160, "val": 20, "test": 20}
    assert not set(ids["train"]) & set(ids["test"])
    assert not set(ids["train"]) & set(ids["val"])
    assert not set(ids["val"]) & set(ids["test"])
    # Copies of one base graph are permutations of each other: same sorted degrees.
    x, y = data.train
    for g in np.unique(ids["train"])[:10]:
        rows = np.flatnonzero(ids["train"] == g)
        assert len(rows) == 4
        degrees = np.sort(y[rows], axis=1)
        assert np.all(degrees == degrees[0])


def test_graph_degree_random_split():
    data, ids = datasets.graph_degree(
        seed=1, num_graphs=50, permutations=4, split="random", return_graph_ids=True
    )
    assert data.sizes() == (160, 20, 20)
    assert data.info["split"] == "random"
    assert set(ids["train"]) & set(ids["test"])  # shared base graphs expected


# --- tf.data -------------------------------------------------------------------


def test_as_tf_dataset_batches():
    data = datasets.blob2d(seed=0, sizes=(70, 9, 9))
    ds = data.as_tf_dataset("train", batch_size=32)
    shapes = [(tuple(x.shape), tuple(y.shape)) for x, y in ds]
    assert shapes == [((32, 10, 10), (32,)), ((32, 10, 10), (32,)), ((6, 10, 10), (6,))]
    x, y = next(iter(ds))
    assert x.dtype.name == "float32" and y.dtype.name == "int32"
    # Train is shuffled, deterministically given the seed; every example once.
    first = np.concatenate([y.numpy() for _, y in data.as_tf_dataset("train", 16, seed=3)])
    again = np.concatenate([y.numpy() for _, y in data.as_tf_dataset("train", 16, seed=3)])
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(np.sort(first), np.sort(data.train[1]))
    xs = np.concatenate([x.numpy() for x, _ in data.as_tf_dataset("train", 70, seed=3)])
    assert not np.array_equal(xs, data.train[0])
    # Val / test keep their order by default.
    xv = np.concatenate([x.numpy() for x, _ in data.as_tf_dataset("val", batch_size=4)])
    np.testing.assert_array_equal(xv, data.val[0])


def test_to_tf_dataset_and_errors():
    x = np.zeros((5, 3), np.float32)
    y = np.arange(5)
    ds = datasets.to_tf_dataset(x, y, batch_size=2, shuffle=False, seed=None)
    assert [int(b[0].shape[0]) for b in ds] == [2, 2, 1]
    with pytest.raises(ValueError, match="same number of examples"):
        datasets.to_tf_dataset(x, y[:4], batch_size=2, shuffle=False, seed=0)
    with pytest.raises(ValueError, match=r"Received: batch_size=0"):
        datasets.to_tf_dataset(x, y, batch_size=0, shuffle=False, seed=0)
    data = datasets.set_sum(sizes=(4, 1, 1))
    with pytest.raises(ValueError, match=r"Expected `split` to be one of .*Received: split='validation'"):
        data.as_tf_dataset("validation")
    with pytest.raises(dataclasses.FrozenInstanceError):
        data.seed = 1


# --- argument errors -----------------------------------------------------------


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: datasets.set_sum(sizes=(-1, 1, 1)), r"Expected `sizes`.*Received: sizes=\(-1, 1, 1\)"),
        (lambda: datasets.set_sum(sizes=(10, 1)), r"Expected `sizes` to have 3 entries"),
        (lambda: datasets.set_sum(sizes=(0, 1, 1)), r"n_train >= 1"),
        (lambda: datasets.set_sum(sizes=(1.5, 1, 1)), r"Expected `sizes` to hold integers"),
        (lambda: datasets.set_sum(set_size=0), r"Received: set_size=0"),
        (lambda: datasets.set_sum(seed=-1), r"Received: seed=-1"),
        (lambda: datasets.blob1d(sizes=(10, -5, 1)), r"Received: sizes=\(10, -5, 1\)"),
        (lambda: datasets.blob1d(noise=-0.1), r"Received: noise=-0.1"),
        (lambda: datasets.blob1d(length=3), r"at least 5.*Received: length=3"),
        (lambda: datasets.blob1d(amplitude=(0.9, 0.1)), r"Received: amplitude=\(0.9, 0.1\)"),
        (lambda: datasets.blob2d(size=3), r"Received: size=3"),
        (lambda: datasets.blob2d(sizes=(5, 1, -1)), r"Received: sizes="),
        (lambda: datasets.graph_degree(sizes=(0.5, 0.1, 0.1)), r"summing to 1.*Received: sizes="),
        (lambda: datasets.graph_degree(sizes=(-0.2, 0.6, 0.6)), r"Received: sizes="),
        (lambda: datasets.graph_degree(split="nodes"), r"Received: split='nodes'"),
        (lambda: datasets.graph_degree(num_graphs=0), r"Received: num_graphs=0"),
        (lambda: datasets.padded_mnist(sizes=(50000, 12000, 10)), r"n_train \+ n_val <= 60000"),
        (lambda: datasets.padded_mnist(sizes=(10, 10, 10001)), r"at most 10000 test"),
        (lambda: datasets.padded_mnist(canvas=20), r"Received: canvas=20"),
    ],
)
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(
    "region",
    [
        ((0, 29), (0, 5)),  # beyond canvas - 28 = 28
        ((5, 2), (0, 5)),  # r0 > r1
        ((-1, 2), (0, 5)),
        ((0, 2),),
        (0, 2, 0, 2),
        ((0.5, 2), (0, 5)),
        "top-left",
    ],
)
def test_bad_train_region(region):
    with pytest.raises(ValueError, match=r"Expected `train_region`.*Received: train_region="):
        datasets.padded_mnist(data_dir=MNIST_DIR, train_region=region, sizes=(1, 1, 1))


# --- MNIST loading with tiny fake IDX files --------------------------------------


def _write_idx(path, array, gz=False):
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 8, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    opener = gzip.open if gz else open
    with opener(str(path) + (".gz" if gz else ""), "wb") as f:
        f.write(header + array.tobytes())


def _fake_mnist(directory, n_train=6, n_test=4, gz=True):
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test),
    }
    for i, (name, array) in enumerate(arrays.items()):
        _write_idx(directory / name, array, gz=gz and i % 2 == 0)  # plain and .gz
    return arrays


def test_load_mnist_fake_idx_and_env_var(tmp_path, monkeypatch):
    arrays = _fake_mnist(tmp_path)
    (xtr, ytr), (xte, yte) = datasets.load_mnist(tmp_path)
    assert xtr.dtype == np.uint8 and xtr.shape == (6, 28, 28) and yte.shape == (4,)
    np.testing.assert_array_equal(xtr, arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(yte, arrays["t10k-labels-idx1-ubyte"])
    monkeypatch.setenv("SYMZOO_MNIST_DIR", str(tmp_path))
    (xtr2, _), _ = datasets.load_mnist()
    np.testing.assert_array_equal(xtr, xtr2)
    # Sizes beyond what the files hold are a clear error.
    with pytest.raises(ValueError, match=r"fit the MNIST data found \(6 train, 4 test"):
        datasets.padded_mnist(sizes=(5, 5, 1))
    data = datasets.padded_mnist(sizes=(4, 2, 4), canvas=30)
    assert data.train[0].shape == (4, 30, 30)
    np.testing.assert_allclose(
        np.sort(data.test[0].sum(axis=(1, 2))),
        np.sort((arrays["t10k-images-idx3-ubyte"] / 255).sum(axis=(1, 2))),
        rtol=1e-5,
    )


def test_missing_mnist_dir_lists_files(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        datasets.load_mnist(tmp_path)
    message = str(err.value)
    for name in mnist.MNIST_FILES:
        assert name in message
    assert str(tmp_path) in message
    with pytest.raises(FileNotFoundError, match=r"does not exist"):
        datasets.load_mnist(tmp_path / "nowhere")
    _fake_mnist(tmp_path)
    os.remove(tmp_path / "t10k-labels-idx1-ubyte")
    with pytest.raises(FileNotFoundError, match=r"missing t10k-labels-idx1-ubyte\."):
        datasets.padded_mnist(data_dir=tmp_path, sizes=(1, 1, 1))


def test_no_mnist_anywhere(monkeypatch):
    from keras.datasets import mnist as keras_mnist

    def offline():
        raise OSError("no network")

    monkeypatch.delenv("SYMZOO_MNIST_DIR", raising=False)
    monkeypatch.setattr(keras_mnist, "load_data", offline)
    with pytest.raises(FileNotFoundError) as err:
        datasets.load_mnist()
    message = str(err.value)
    for name in mnist.MNIST_FILES:
        assert name in message
    assert "data_dir=" in message and "SYMZOO_MNIST_DIR" in message
    assert "Keras's cache" in message and "no network" in message


@pytest.mark.parametrize(
    "corrupt, match",
    [
        (lambda p: p.write_bytes(b"\x1f\x8b not really gzip"), r"cannot be read"),
        (lambda p: p.write_bytes(gzip.compress(b"\x00\x00\x08\x01" + b"\x00" * 8)), r"magic number 0x00000803"),
        (lambda p: p.write_bytes(gzip.compress(b"\x00\x00\x08\x03\x00\x00")), r"header"),
        (lambda p: p.write_bytes(gzip.compress(gzip.decompress(p.read_bytes())[:-10])), r"truncated"),
        (lambda p: p.write_bytes(gzip.compress(b"")), r"empty file"),
    ],
)
def test_corrupted_idx_file(tmp_path, corrupt, match):
    _fake_mnist(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    corrupt(path)
    with pytest.raises(ValueError, match=match) as err:
        datasets.load_mnist(tmp_path)
    assert "train-images-idx3-ubyte.gz" in str(err.value)


def test_inconsistent_mnist_files(tmp_path):
    _fake_mnist(tmp_path)
    _write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(5))  # 6 images
    with pytest.raises(ValueError, match=r"labels of shape \(N,\).*labels.shape=\(5,\)"):
        datasets.load_mnist(tmp_path)


# --- padded MNIST on the real data ---------------------------------------------


@pytest.fixture(scope="module")
def real_mnist():
    return datasets.load_mnist(MNIST_DIR)


def _digest_to_labels(images, labels):
    table = {}
    for image, label in zip(images, labels):
        table.setdefault(hashlib.sha1(image.tobytes()).digest(), set()).add(int(label))
    return table


def _find_digit(canvas, table):
    """Returns (row, col, digest) of the 28x28 window holding an MNIST digit."""
    rows, cols = np.nonzero(canvas)
    r_lo, r_hi, c_lo, c_hi = rows.min(), rows.max(), cols.min(), cols.max()
    side = canvas.shape[0]
    for r in range(max(0, r_hi - 27), min(r_lo, side - 28) + 1):
        for c in range(max(0, c_hi - 27), min(c_lo, side - 28) + 1):
            window = np.rint(canvas[r : r + 28, c : c + 28] * 255).astype(np.uint8)
            digest = hashlib.sha1(window.tobytes()).digest()
            if digest in table:
                return r, c, digest
    return None


@needs_mnist
def test_load_real_mnist(real_mnist):
    (xtr, ytr), (xte, yte) = real_mnist
    assert xtr.shape == (60000, 28, 28) and xte.shape == (10000, 28, 28)
    assert xtr.dtype == ytr.dtype == np.uint8
    assert set(np.unique(ytr).tolist()) == set(range(10))


@needs_mnist
def test_padded_mnist_digits_intact(real_mnist):
    (xtr, ytr), (xte, yte) = real_mnist
    data = datasets.padded_mnist(seed=0, data_dir=MNIST_DIR, sizes=(60, 20, 20))
    train_table = _digest_to_labels(xtr, ytr)
    test_table = _digest_to_labels(xte, yte)
    found = {}
    positions = []
    for split, table in (("train", train_table), ("val", train_table), ("test", test_table)):
        x, y = data[split]
        assert x.shape == (len(y), 56, 56) and x.dtype == np.float32
        assert y.dtype == np.int32 and x.min() >= 0 and x.max() <= 1
        found[split] = set()
        for image, label in zip(x, y):
            hit = _find_digit(image, table)
            assert hit is not None, "no intact MNIST digit on the canvas"
            r, c, digest = hit
            assert label in table[digest]
            # All the ink is inside the digit's window: canvas sum == digit sum.
            outside = image.copy()
            outside[r : r + 28, c : c + 28] = 0
            assert not np.any(outside)
            digit = np.rint(image[r : r + 28, c : c + 28] * 255)
            np.testing.assert_allclose(image.sum(), digit.sum() / 255, rtol=1e-5)
            found[split].add(digest)
            positions.append((r, c))
    assert not found["train"] & found["val"]
    assert len(set(positions)) > 50  # positions vary


@needs_mnist
def test_padded_mnist_determinism_and_prefix():
    small = datasets.padded_mnist(seed=7, data_dir=str(MNIST_DIR), sizes=(30, 10, 10))
    large = datasets.padded_mnist(seed=7, data_dir=MNIST_DIR, sizes=(50, 15, 12))
    for s, n in (("train", 30), ("val", 10), ("test", 10)):
        np.testing.assert_array_equal(small[s][0], large[s][0][:n])
        np.testing.assert_array_equal(small[s][1], large[s][1][:n])
    other = datasets.padded_mnist(seed=8, data_dir=MNIST_DIR, sizes=(30, 10, 10))
    assert not np.array_equal(small.train[1], other.train[1])


@needs_mnist
def test_padded_mnist_train_region(real_mnist):
    (xtr, ytr), (xte, yte) = real_mnist
    region = ((2, 4), (20, 21))
    data = datasets.padded_mnist(
        seed=0, data_dir=MNIST_DIR, sizes=(40, 10, 40), train_region=region
    )
    assert data.info["train_region"] == region
    train_table = _digest_to_labels(xtr, ytr)
    for split in ("train", "val"):
        for image in data[split][0]:
            rows, cols = np.nonzero(image)
            assert rows.min() >= 2 and rows.max() <= 4 + 27
            assert cols.min() >= 20 and cols.max() <= 21 + 27
            r, c, _ = _find_digit(image, train_table)
            assert 2 <= r <= 4 and 20 <= c <= 21
    # Test positions stay uniform over the canvas: some lie outside the region.
    outside = [
        np.nonzero(image)[1].min() < 20 or np.nonzero(image)[0].max() > 31
        for image in data.test[0]
    ]
    assert any(outside)


# --- TFDS ----------------------------------------------------------------------


def test_tfds_builder_set_sum(tmp_path):
    pytest.importorskip("tensorflow_datasets")
    from symzoo.datasets import tfds_builders

    config = tfds_builders.SymzooConfig(name="tiny", kwargs={"sizes": (20, 4, 6), "seed": 2})
    builder = tfds_builders.SetSum(config=config, data_dir=str(tmp_path))
    builder.download_and_prepare()
    assert builder.info.splits["test"].num_examples == 6
    ds = builder.as_dataset(split="test", as_supervised=True, shuffle_files=False)
    got = {tuple(np.round(x.numpy(), 6)): float(y.numpy()[0]) for x, y in ds}
    x, y = datasets.set_sum(seed=2, sizes=(20, 4, 6)).test
    expected = {tuple(np.round(a, 6)): float(b[0]) for a, b in zip(x, y)}
    assert got == expected
    assert "manual" in tfds_builders.PaddedMnist.MANUAL_DOWNLOAD_INSTRUCTIONS
    for name in mnist.MNIST_FILES:
        assert name in tfds_builders.PaddedMnist.MANUAL_DOWNLOAD_INSTRUCTIONS
