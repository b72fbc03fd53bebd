"""Extraction along the symmetry the report's penalty actually ties: diagonal translations.

`OffsetSharing((b, b'))` shifts *both* translation axes by the same b, so it ties
W[k, i, j] to W[k, i+b, j+b] moved by (b', b') pixels: with (1, 2) it ties the templates
along each diagonal chain {(c + t, t)} (c = (i − j) mod T) into shifted copies of one
template, and never ties one chain to another. The Reynolds projection of
`symzoo.symmetry` averages over the whole 2D translation group (all T·T' templates), which
blurs the T different chain templates together. This script projects the kernel onto the
subgroup the penalty does tie instead (the diagonal translations (t, t) acting by
(s·t, s·t) pixels),

    P_diag(W)[k, c + t, t] = roll(V[k, c], (s·t, s·t)),
    V[k, c] = mean_t roll(W[k, c + t, t], (−s·t, −s·t)),

(`symzoo.symmetry.projection.project_translation_diagonal`) and evaluates the MLP with that kernel (a model with T templates per class instead of
T·T': 10·28·56·56 = 878,080 parameters for MNIST-56) beside the MLP as trained and the
full-group projection. It also gives the share of ‖W‖² in each subspace.

    python benchmarks/diagonal_extraction.py --data-dir ../shared/data/mnist
    python benchmarks/diagonal_extraction.py --name blob2d_translation

writes ``diagonal_extraction.{json,md}`` into ``models/<name>/`` (``--out``).
"""

import argparse
import json
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="mnist_translation",
                        choices=("mnist_translation", "blob2d_translation"),
                        help="the 2D translation zoo model (default mnist_translation)")
    parser.add_argument("--model", default="pretrained",
                        help='"pretrained" or a path to a .keras file of that model')
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=None, help="default: models/<name>/")
    args = parser.parse_args(argv)
    args.out = args.out or str(REPO / "models" / args.name)

    import keras

    from symzoo import datasets, models
    from symzoo.symmetry import projection

    start = time.time()
    model = models.get(args.name)(weights=args.model)
    layer = model.get_layer("class_translation_dense")
    strides = layer.strides[0]
    kernel = np.asarray(layer.kernel.numpy())
    spec = models.spec(args.name)
    kwargs = {"data_dir": args.data_dir} if spec.dataset == "padded_mnist" else {}
    data = datasets.load(spec.dataset, seed=0, **kwargs)
    x, y = data.test

    def accuracy(k):
        layer.kernel.assign(k)
        pred = model.predict(x, batch_size=500, verbose=0)
        return float(np.mean(np.argmax(pred, axis=-1) == y))

    norm = float(np.sum(kernel.astype("float64") ** 2))
    diag = projection.project_translation_diagonal(kernel)
    full = np.asarray(projection.project_translation(kernel))
    rows = [
        ("as trained", int(kernel.size), 1.0, accuracy(kernel)),
        ("diagonal-subgroup projection (T templates per class)",
         int(kernel.shape[0] * kernel.shape[1] * kernel.shape[3] * kernel.shape[4]),
         float(np.sum(diag.astype("float64") ** 2)) / norm, accuracy(diag)),
        ("full 2D translation projection (1 template per class)",
         int(kernel.shape[0] * kernel.shape[3] * kernel.shape[4]),
         float(np.sum(full.astype("float64") ** 2)) / norm, accuracy(full)),
    ]
    layer.kernel.assign(kernel)
    result = {
        "name": args.name,
        "model": args.model,
        "kernel_shape": list(kernel.shape),
        "strides": strides,
        "rows": [dict(kernel=r[0], params=r[1], norm_share=r[2], test_accuracy=r[3]) for r in rows],
        "seconds": time.time() - start,
        "backend": keras.backend.backend(),
        "command": " ".join(["python benchmarks/diagonal_extraction.py", *sys.argv[1:]]),
    }
    lines = [
        f"Written by `{result['command']}` on the `{args.model}` `{args.name}` model "
        f"({result['seconds']:.0f} s); test split ({len(y):,} examples). Norm share: "
        "‖P(W)‖² / ‖W‖².",
        "",
        "| kernel | parameters | norm share | test accuracy |",
        "|---|---|---|---|",
    ] + [f"| {r[0]} | {r[1]:,} | {r[2]:.4f} | {100 * r[3]:.2f}% |" for r in rows]
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "diagonal_extraction.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "diagonal_extraction.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
