"""Speed of the exact all-pairs prox on the MNIST-56 kernel (24,586,240 weights).

Prints, in one process (the machine is shared, so minimums count):

* ``pairwise_prox`` on a float32 kernel of the shape (10, 28, 28, 56, 56), called
  back to back as the training callback calls it once per step (the first call,
  which also maps its fresh buffers, is reported apart);
* its parts: the packed-key sort, scipy's isotonic regression, the unsort;
* the reference: ``numpy.sort`` of the same weights (the least any sort-based
  prox must do) and ``numpy.argsort`` (the obvious way to get the order).

Target (issue 10): the prox ≤ 1 s on this CPU.

    PYTHONPATH=. python benchmarks/pairwise_prox_speed.py [--repeats 3] [--size N]
"""

import argparse
import json
import os
import time

import numpy as np

from symzoo.regularizers import _sorting as sorting
from symzoo.regularizers import prox as prox_lib

SHAPE = (10, 28, 28, 56, 56)


def _time(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", type=int, default=int(np.prod(SHAPE)))
    parser.add_argument("--threshold", type=float, default=1e-9)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    w = (rng.standard_normal(args.size) / 56).astype(np.float32)
    from scipy.optimize import isotonic_regression

    times = {"pairwise_prox": [], "numpy.sort": [], "numpy.argsort": [],
             "packed sort (part)": [], "isotonic_regression (part)": []}
    # The prox as training runs it: once per step on a kernel of the same size,
    # back to back (the first call also pays for mapping its fresh buffers).
    first_call = _time(lambda: prox_lib.pairwise_prox(w, args.threshold))
    for _ in range(args.repeats):
        times["pairwise_prox"].append(_time(lambda: prox_lib.pairwise_prox(w, args.threshold)))
    for _ in range(args.repeats):
        times["numpy.sort"].append(_time(lambda: np.sort(w)))
        times["numpy.argsort"].append(_time(lambda: np.argsort(w)))
        box = {}
        times["packed sort (part)"].append(
            _time(lambda: box.update(s=sorting.sorted_with_order(w)))
        )
        z = box["s"][0].astype(np.float64)
        times["isotonic_regression (part)"].append(_time(lambda: isotonic_regression(z)))
    out = prox_lib.pairwise_prox(w, args.threshold)
    result = {
        "weights": args.size,
        "threshold": args.threshold,
        "groups_after_one_step": int(np.unique(out).size),
        "cpu_count": os.cpu_count(),
        "pairwise_prox_first_call_s": first_call,
        "min_s": {k: min(v) for k, v in times.items()},
        "median_s": {k: float(np.median(v)) for k, v in times.items()},
    }
    print(json.dumps(result, indent=2))
    m = result["min_s"]
    print(
        f"pairwise_prox on {args.size:,} weights: {m['pairwise_prox']:.2f} s (min of "
        f"{args.repeats} back-to-back calls, as in training; first call {first_call:.2f} s); "
        f"numpy.sort {m['numpy.sort']:.2f} s, numpy.argsort "
        f"{m['numpy.argsort']:.2f} s; ratio prox/sort {m['pairwise_prox'] / m['numpy.sort']:.1f}; "
        f"target ≤ 1 s: {'met' if m['pairwise_prox'] <= 1.0 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
