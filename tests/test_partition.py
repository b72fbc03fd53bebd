"""Partition tools: exact ties, true partitions (orbits), partition distance."""

import itertools

import numpy as np
import pytest

from symzoo.symmetry import partition


def _orbits(shape, generators):
    """Orbit labels by union-find over generator maps on flat indices."""
    n = int(np.prod(shape))
    parent = np.arange(n)

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for g in generators:
        for i in range(n):
            a, b = find(i), find(g[i])
            if a != b:
                parent[a] = b
    return np.array([find(i) for i in range(n)])


def _same_partition(a, b):
    return partition.partition_distance(a, b) == 0 and (
        partition.num_groups(a) == partition.num_groups(b)
    )


def _brute_distance(a, b):
    """n − max over injective block matchings, by enumerating permutations."""
    ua, ub = np.unique(a), np.unique(b)
    best = 0
    k = max(len(ua), len(ub))
    la = list(ua) + [None] * (k - len(ua))
    for perm in itertools.permutations(list(ub) + [None] * (k - len(ub))):
        s = sum(
            int(np.sum((a == x) & (b == y)))
            for x, y in zip(la, perm)
            if x is not None and y is not None
        )
        best = max(best, s)
    return len(a) - best


def test_partition_distance_against_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(30):
        n = int(rng.integers(1, 12))
        a = rng.integers(0, 4, n)
        b = rng.integers(0, 5, n) * 7 - 3  # any integer labels
        assert partition.partition_distance(a, b) == _brute_distance(a, b)
        assert partition.partition_distance(a, b) == partition.partition_distance(b, a)
    assert partition.partition_distance([0, 0, 1, 1], [5, 5, 2, 2]) == 0
    assert partition.partition_distance([0, 0, 0, 0], [0, 1, 2, 3]) == 3
    assert partition.partition_distance([0, 0, 0, 1], [0, 1, 1, 1], normalize=True) == 0.5


def test_tie_partition_and_groups():
    k = np.array([[0.5, 0.1], [0.5, -2.0]], dtype=np.float32)
    labels = partition.tie_partition(k)
    np.testing.assert_array_equal(labels, [2, 1, 2, 0])
    assert partition.num_groups(labels) == 3
    np.testing.assert_array_equal(
        partition.tie_partition([0.0, 0.01, 0.03, 1.0], atol=0.02), [0, 0, 0, 1]
    )


@pytest.mark.parametrize("kind", ["set", "graph"])
def test_set_and_graph_partition_are_permutation_orbits(kind):
    n = 5
    idx = np.arange(n * n).reshape(n, n)
    gens = []
    for sigma in ([1, 0, 2, 3, 4], [1, 2, 3, 4, 0]):  # S_n generators
        s = np.array(sigma)
        gens.append(idx[s[:, None], s[None, :]].reshape(-1))
    ref = _orbits((n, n), gens)
    labels = partition.true_partition(kind, (n, n))
    assert _same_partition(labels, ref)
    assert partition.num_groups(labels) == 2


@pytest.mark.parametrize(
    "shape,strides",
    [((3, 10, 10), 1), ((2, 5, 10), 2), ((2, 5, 5, 5, 5), 1), ((2, 2, 3, 4, 6), (2, 2))],
)
def test_translation_partition_is_cyclic_group_orbits(shape, strides):
    k = (len(shape) - 1) // 2
    s = (strides,) * k if isinstance(strides, int) else strides
    idx = np.indices(shape)
    gens = []
    for axis in range(k):  # one generator per translation axis
        moved = [i.copy() for i in idx]
        grid, d = shape[1 + axis], shape[1 + k + axis]
        moved[1 + axis] = (idx[1 + axis] + 1) % grid
        moved[1 + k + axis] = (idx[1 + k + axis] + s[axis]) % d
        gens.append(np.ravel_multi_index(moved, shape).reshape(-1))
    ref = _orbits(shape, gens)
    labels = partition.true_partition("translation", shape, strides=strides)
    assert _same_partition(labels, ref)
    c, spatial = shape[0], shape[1 + k :]
    assert partition.num_groups(labels) == c * int(np.prod(spatial))
    # A kernel built from the labels (a circulant per class) is translation
    # equivariant: its ties give back the partition.
    w = np.random.default_rng(0).normal(size=labels.max() + 1)[labels].reshape(shape)
    assert partition.partition_distance(partition.tie_partition(w), labels) == 0


def test_circular_conv_partition_is_a_circular_convolution():
    h, w, f = 4, 5, 2
    shape = (h * w, h * w * f)
    labels = partition.true_partition("circular_conv", shape, image_shape=(h, w))
    assert partition.num_groups(labels) == h * w * f
    rng = np.random.default_rng(1)
    values = rng.normal(size=labels.max() + 1)
    kernel = values[labels].reshape(shape)
    x = rng.normal(size=(h, w))
    dense = (x.reshape(-1) @ kernel).reshape(h, w, f)
    # Reference: circular cross-correlation out[t, f] = Σ_q x[q] · K[(q − t) mod, f].
    filt = np.zeros((h, w, f))
    for dy in range(h):
        for dx in range(w):
            for c in range(f):
                filt[dy, dx, c] = values[(c * h + dy) * w + dx]
    ref = np.zeros((h, w, f))
    for ty in range(h):
        for tx in range(w):
            shifted = np.roll(x, (-ty, -tx), axis=(0, 1))
            ref[ty, tx] = np.einsum("yx,yxf->f", shifted, filt)
    np.testing.assert_allclose(dense, ref, atol=1e-12)
    # Shuffled pixels: the kernel for x[:, perm] is the original's rows permuted.
    perm = rng.permutation(h * w)
    shuffled = partition.true_partition(
        "circular_conv", shape, image_shape=(h, w), pixel_permutation=perm
    )
    np.testing.assert_array_equal(shuffled.reshape(shape), labels.reshape(shape)[perm])


def test_summary_and_errors():
    ref = partition.true_partition("set", (3, 3))
    s = partition.summary(np.eye(3), ref)
    assert s == {"groups": 2, "true_groups": 2, "partition_distance": 0,
                 "partition_distance_normalized": 0.0}
    s = partition.summary(np.ones((3, 3)), ref)
    assert s["partition_distance"] == 3 and s["groups"] == 1
    with pytest.raises(ValueError, match=r"Expected `kind` to be one of"):
        partition.true_partition("rotation", (3, 3))
    with pytest.raises(ValueError, match=r"square kernel shape.*Received: shape=\(3, 4\)"):
        partition.true_partition("set", (3, 4))
    with pytest.raises(ValueError, match=r"d/s translations"):
        partition.true_partition("translation", (2, 4, 10), strides=2)
    with pytest.raises(ValueError, match=r"same number of weights"):
        partition.partition_distance([0, 1], [0, 1, 2])
    with pytest.raises(ValueError, match=r"integer block labels"):
        partition.partition_distance([0.5, 1.0], [0, 1])
    with pytest.raises(ValueError, match=r"permutation of range\(4\)"):
        partition.true_partition("circular_conv", (4, 8), image_shape=(2, 2),
                                 pixel_permutation=[0, 0, 1, 2])


def test_sparse_matching_path_equals_dense(monkeypatch):
    rng = np.random.default_rng(3)
    cases = []
    for _ in range(15):
        n = int(rng.integers(5, 300))
        cases.append((rng.integers(0, rng.integers(1, 40), n), rng.integers(0, rng.integers(1, 60), n)))
    dense = [partition.partition_distance(a, b) for a, b in cases]
    monkeypatch.setattr(partition, "_DENSE_CELLS", 0)
    sparse = [partition.partition_distance(a, b) for a, b in cases]
    assert sparse == dense
    # A large untied kernel against its orbits: n − #orbits, fast.
    labels = partition.true_partition("circular_conv", (196, 196 * 4), image_shape=(14, 14))
    untied = np.arange(labels.size)
    assert partition.partition_distance(untied, labels) == labels.size - 196 * 4


def test_prox_recovers_the_orbits_of_a_noisy_equivariant_kernel():
    from symzoo.regularizers.prox import pairwise_prox

    shape = (5, 10, 10)  # blob1d's kernel: 50 orbits of 10 weights
    labels = partition.true_partition("translation", shape)
    rng = np.random.default_rng(0)
    values = np.arange(labels.max() + 1) * 0.1  # orbit values 0.1 apart
    kernel = values[rng.permutation(values.size)][labels] + rng.uniform(-1e-3, 1e-3, labels.size)
    assert partition.partition_distance(partition.tie_partition(kernel), labels) == 450
    # τ above the within-orbit spread, far below the gaps between orbits.
    tied = pairwise_prox(kernel.reshape(shape), 2e-4)
    assert partition.partition_distance(partition.tie_partition(tied), labels) == 0
    # Too large a τ merges orbits by value.
    merged = pairwise_prox(kernel.reshape(shape), 1e-2)
    assert partition.num_groups(partition.tie_partition(merged)) < 50
