"""Speed of the exact all-pairs prox on the MNIST-56 kernel (24,586,240 weights).

Prints, in one process (the machine is shared, so minimums count):

* ``pairwise_prox`` on a float32 kernel of the shape (10, 28, 28, 56, 56), called
  back to back as the training callback calls it once per step (the first call,
  which also maps its fresh buffers, is reported apart): with the C radix sort
  (``symzoo/regularizers/_radix.c``, when it compiled) and with the numpy/scipy
  path (the extension switched off);
* the numpy path's parts: the packed-key sort, scipy's isotonic regression;
* the radix sort alone (``sorted_with_order``) and the ranks
  (``rank_coefficients``, what the subgradient needs each step);
* the reference: ``numpy.sort`` of the same weights (the least a sort-based prox
  must do with numpy) and ``numpy.argsort`` (the obvious way to get the order).
  With ``--numpy-avx2`` also ``numpy.sort`` in a child process whose numpy has its
  AVX-512 kernels switched off (``NPY_DISABLE_CPU_FEATURES``): on some AMD CPUs
  numpy's AVX-512 sort is several times slower than its AVX2 sort.

Target (issue 11): the prox ≤ 1 s on this CPU.

    PYTHONPATH=. python benchmarks/pairwise_prox_speed.py [--repeats 3] [--size N] [--numpy-avx2]
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

from symzoo.regularizers import _sorting as sorting
from symzoo.regularizers import prox as prox_lib
from symzoo.regularizers.pairwise_sharing import rank_coefficients

SHAPE = (10, 28, 28, 56, 56)
AVX512 = "AVX512F AVX512CD AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL AVX512_SPR X86_V4"


def _time(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _without_radix(fn):
    with sorting.numpy_path():
        return fn()


def _numpy_sort_avx2(size, repeats):
    """Minimum seconds of numpy.sort in a child process without numpy's AVX-512."""
    code = (
        "import time, numpy as np\n"
        f"w = (np.random.default_rng(0).standard_normal({size}) / 56).astype(np.float32)\n"
        "best = 1e9\n"
        f"for _ in range({repeats}):\n"
        "    s = time.perf_counter(); np.sort(w); best = min(best, time.perf_counter() - s)\n"
        "print(best)\n"
    )
    env = {**os.environ, "NPY_DISABLE_CPU_FEATURES": AVX512}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, check=False)
    if done.returncode:
        return None
    return float(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", type=int, default=int(np.prod(SHAPE)))
    parser.add_argument("--threshold", type=float, default=1e-9)
    parser.add_argument("--numpy-avx2", action="store_true",
                        help="also time numpy.sort with numpy's AVX-512 kernels off "
                             "(child process)")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    w = (rng.standard_normal(args.size) / 56).astype(np.float32)
    from scipy.optimize import isotonic_regression

    names = ["pairwise_prox", "pairwise_prox (numpy/scipy path)", "numpy.sort",
             "numpy.argsort", "sorted_with_order (radix)", "rank_coefficients (radix)",
             "rank_coefficients (numpy path)", "packed sort (numpy path part)",
             "isotonic_regression (numpy path part)"]
    times = {name: [] for name in names}
    # The prox as training runs it: once per step on a kernel of the same size,
    # back to back (the first call also pays for mapping its fresh buffers).
    first_call = _time(lambda: prox_lib.pairwise_prox(w, args.threshold))
    for _ in range(args.repeats):
        times["pairwise_prox"].append(_time(lambda: prox_lib.pairwise_prox(w, args.threshold)))
    for _ in range(args.repeats):
        times["pairwise_prox (numpy/scipy path)"].append(_time(
            lambda: _without_radix(lambda: prox_lib.pairwise_prox(w, args.threshold))))
        times["numpy.sort"].append(_time(lambda: np.sort(w)))
        times["numpy.argsort"].append(_time(lambda: np.argsort(w)))
        times["sorted_with_order (radix)"].append(_time(lambda: sorting.sorted_with_order(w)))
        times["rank_coefficients (radix)"].append(_time(lambda: rank_coefficients(w)))
        times["rank_coefficients (numpy path)"].append(_time(
            lambda: _without_radix(lambda: rank_coefficients(w))))
        box = {}
        times["packed sort (numpy path part)"].append(_time(
            lambda: box.update(s=_without_radix(lambda: sorting.sorted_with_order(w)))))
        z = box["s"][0].astype(np.float64)
        times["isotonic_regression (numpy path part)"].append(
            _time(lambda: isotonic_regression(z)))
    if sorting.RADIX is None:
        for name in names:
            if "(radix)" in name:
                times.pop(name)
    out = prox_lib.pairwise_prox(w, args.threshold)
    result = {
        "weights": args.size,
        "threshold": args.threshold,
        "groups_after_one_step": int(np.unique(out).size),
        "cpu_count": os.cpu_count(),
        "radix_extension": sorting.RADIX is not None,
        "radix_threads": sorting.radix_threads(),
        "pairwise_prox_first_call_s": first_call,
        "min_s": {k: min(v) for k, v in times.items()},
        "median_s": {k: float(np.median(v)) for k, v in times.items()},
    }
    if args.numpy_avx2:
        result["min_s"]["numpy.sort without AVX-512 (child process)"] = _numpy_sort_avx2(
            args.size, args.repeats)
    print(json.dumps(result, indent=2))
    m = result["min_s"]
    path = (f"C radix sort, {result['radix_threads']} threads" if result["radix_extension"]
            else "numpy/scipy: the C extension did not compile")
    print(
        f"pairwise_prox on {args.size:,} weights ({path}): {m['pairwise_prox']:.2f} s (min "
        f"of {args.repeats} back-to-back calls, as in training; first call "
        f"{first_call:.2f} s); numpy/scipy path {m['pairwise_prox (numpy/scipy path)']:.2f} s; "
        f"numpy.sort {m['numpy.sort']:.2f} s, numpy.argsort {m['numpy.argsort']:.2f} s; "
        f"ratio prox/sort {m['pairwise_prox'] / m['numpy.sort']:.1f}; "
        f"target ≤ 1 s: {'met' if m['pairwise_prox'] <= 1.0 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
