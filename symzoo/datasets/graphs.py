"""Node-degree regression on random graphs: a permutation-equivariant target."""

import numbers

import numpy as np

from symzoo import _validation
from symzoo.datasets import splits as _splits

GRAPH_SPLITS = ("by_graph", "random")


def _check_fractions(sizes):
    message = (
        "Expected `sizes` to be three non-negative fractions (train, val, test) "
        f"summing to 1 with train > 0. Received: sizes={sizes!r}"
    )
    try:
        fractions = tuple(sizes)
    except TypeError:
        raise ValueError(message) from None
    if len(fractions) != 3 or not all(
        isinstance(f, numbers.Real) and not isinstance(f, bool) for f in fractions
    ):
        raise ValueError(message)
    fractions = tuple(float(f) for f in fractions)
    if (
        not all(np.isfinite(f) and f >= 0 for f in fractions)
        or fractions[0] <= 0
        or abs(sum(fractions) - 1.0) > 1e-6
    ):
        raise ValueError(message)
    return fractions


def _counts(total, fractions):
    n_train = int(round(fractions[0] * total))
    n_val = min(int(round(fractions[1] * total)), total - n_train)
    return n_train, n_val, total - n_train - n_val


def graph_degree(
    seed=0,
    num_graphs=10000,
    num_nodes=10,
    permutations=5,
    sizes=(0.8, 0.1, 0.1),
    split="by_graph",
    return_graph_ids=False,
):
    """Generates the node-degree regression data set on random graphs.

    Definition: ``num_graphs`` base graphs are drawn, each an undirected simple
    graph on ``num_nodes`` nodes (symmetric 0/1 adjacency, zero diagonal) from
    an Erdos-Renyi model with its own edge probability ``p ~ U(0, 1)``, so all
    degrees ``0 .. num_nodes-1`` occur. Each base graph contributes
    ``permutations`` examples, each with an independent uniformly random node
    permutation ``P`` applied (``A' = P A P^T``). The input is ``A'``, the
    target is the degree of every node (row sums of ``A'``), which is
    equivariant under node permutations.

    Splits (``sizes`` are fractions, rounded to whole counts):

    * ``split="by_graph"`` (default): the *base graphs* are split by ``sizes``
      and all permutations of a base graph go to the same split, so no
      permutation of a test graph is seen in training (tests generalisation
      to new graphs, not just new orderings);
    * ``split="random"``: the ``num_graphs * permutations`` permuted examples
      are split at random by ``sizes`` (the report's reading), so permuted
      copies of one graph can appear in both train and test.

    Examples are shuffled within each split.

    Report sizes: 10000 graphs of 10 nodes, 5 permutations each (50000
    examples), split 80% / 10% / 10%.

    Args:
        seed: non-negative integer; the data is a deterministic function of it.
        num_graphs: number of base graphs.
        num_nodes: nodes per graph.
        permutations: permuted copies per base graph.
        sizes: fractions ``(train, val, test)`` summing to 1.
        split: ``"by_graph"`` or ``"random"``.
        return_graph_ids: if True, also return a dict mapping each split name
            to an int32 array giving each example's base-graph index.

    Returns:
        `Splits` with ``x``: float32 ``(N, num_nodes, num_nodes)`` adjacency
        matrices and ``y``: float32 ``(N, num_nodes)`` node degrees; with
        ``return_graph_ids=True`` the tuple ``(splits, graph_ids)``.
    """
    seed = _splits.check_seed(seed)
    num_graphs = _validation.positive_int("num_graphs", num_graphs)
    num_nodes = _validation.positive_int("num_nodes", num_nodes)
    permutations = _validation.positive_int("permutations", permutations)
    fractions = _check_fractions(sizes)
    _validation.one_of("split", split, GRAPH_SPLITS)

    rng = np.random.default_rng(seed)
    n, k = num_nodes, permutations
    p = rng.random(num_graphs)
    upper = np.triu(rng.random((num_graphs, n, n)) < p[:, None, None], k=1)
    base = upper | upper.transpose(0, 2, 1)

    total = num_graphs * k
    graph_id = np.repeat(np.arange(num_graphs, dtype=np.int32), k)
    perms = np.argsort(rng.random((total, n)), axis=1)
    x = base[graph_id[:, None, None], perms[:, :, None], perms[:, None, :]]
    x = x.astype(np.float32)
    y = x.sum(axis=2)

    if split == "by_graph":
        counts = _counts(num_graphs, fractions)
        order = rng.permutation(num_graphs)
        bounds = np.cumsum((0,) + counts)
        groups = [order[bounds[i] : bounds[i + 1]] for i in range(3)]
        index = [(g[:, None] * k + np.arange(k)).ravel() for g in groups]
        index = [rng.permutation(i) for i in index]
    else:
        counts = _counts(total, fractions)
        order = rng.permutation(total)
        bounds = np.cumsum((0,) + counts)
        index = [order[bounds[i] : bounds[i + 1]] for i in range(3)]
    if len(index[0]) == 0:
        raise ValueError(
            f"Expected `sizes` and `num_graphs` to leave at least one training "
            f"example. Received: sizes={sizes!r}, num_graphs={num_graphs!r}"
        )

    data = [(x[i], y[i]) for i in index]
    splits = _splits.Splits(
        *data,
        name="graph_degree",
        seed=seed,
        info={
            "num_graphs": num_graphs,
            "num_nodes": num_nodes,
            "permutations": permutations,
            "sizes": fractions,
            "split": split,
            "counts": tuple(len(i) for i in index),
        },
    )
    if return_graph_ids:
        return splits, {
            name: graph_id[i] for name, i in zip(_splits.SPLIT_NAMES, index)
        }
    return splits
