"""Why does the MNIST-56 MLP stay below the CNN? A study of sharing strength on one budget.

The MLP `mnist_translation` has one 56×56 template per class *and* per translation (784 of
them), each trained only by the digits that happen to sit near its translation; the sharing
penalty is the only thing that pools data across translations. This script trains, on the
same subset of padded MNIST and the same number of epochs (one seed, seed 0, data seed 0):

* the MLP without sharing, (b, b') = (0, 0);
* the MLP with the report's offsets (16, 4) and the zoo default λ (mean-reduced 1e-4);
* the MLP with the true stride-2 translation (b, b') = (1, 2) at growing λ (mean-reduced,
  so λ ≈ 25 is where the penalty's per-weight gradient λ/24.6M reaches the data gradient);
* the *perfectly shared* model: the same score function with W[k, i, j] tied exactly to
  roll(V[k], (2i, 2j)) (31,360 parameters; the architecture `symzoo.symmetry.extract`
  returns), computed by FFT cross-correlation. It is the ceiling that sharing can reach;
* the `mnist_cnn` baseline.

It prints one row per model and writes ``sharing_study.json`` and ``sharing_study.md`` into
``--out`` (default ``models/mnist_translation/``), which the model card includes:

    python benchmarks/mnist_sharing_study.py --data-dir ../shared/data/mnist

The subset (default 12k training digits, 2 epochs, full 10k test split) keeps the whole
study at ~15 minutes on a 2-core CPU; on a GPU use ``--train 48000 --epochs 10``.
"""

import argparse
import json
import math
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
from keras import ops  # noqa: E402

from symzoo import datasets, models  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]

#: (row, label, kind, model kwargs)
CONFIGS = [
    ("mlp_0_0", "MLP, no sharing (0, 0)", "mlp", {"offsets": (0, 0), "lam": 0.0}),
    ("mlp_16_4", "MLP, (16, 4), λ=1e-4 (zoo default)", "mlp", {"offsets": (16, 4), "lam": 1e-4}),
    ("mlp_1_2_l10", "MLP, (1, 2), λ=10", "mlp", {"offsets": (1, 2), "lam": 10.0}),
    ("mlp_1_2_l100", "MLP, (1, 2), λ=100", "mlp", {"offsets": (1, 2), "lam": 100.0}),
    ("mlp_1_2_l1000", "MLP, (1, 2), λ=1000", "mlp", {"offsets": (1, 2), "lam": 1000.0}),
    ("mlp_0_0_lr5e-3", "MLP, no sharing (0, 0), lr 5e-3", "mlp",
     {"offsets": (0, 0), "lam": 0.0, "learning_rate": 5e-3}),
    ("mlp_1_2_l100_lr5e-3", "MLP, (1, 2), λ=100, lr 5e-3", "mlp",
     {"offsets": (1, 2), "lam": 100.0, "learning_rate": 5e-3}),
    ("tied", "perfectly shared (compact, exact ties)", "tied", {}),
    ("tied_lr5e-3", "perfectly shared, lr 5e-3", "tied", {"learning_rate": 5e-3}),
    ("tied_lr5e-4", "perfectly shared, lr 5e-4", "tied", {"learning_rate": 5e-4}),
    ("cnn", "mnist_cnn baseline", "cnn", {}),
]


class TiedTranslationScores(keras.layers.Layer):
    """score[n, k] = mean_{i,j} act(Σ_u V[k, u] · x[n, (u + s·(i, j)) mod d]).

    `ClassTranslationDense` with every translation's template tied exactly to the
    cyclically shifted class template: W[k, i, j] = roll(V[k], (s·i, s·j)). The cyclic
    cross-correlation is computed with FFTs: F(c_k) = conj(F(V_k)) · F(x).
    """

    def __init__(self, num_classes, strides=2, activation="relu", **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.strides = strides
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        d, dp = input_shape[1], input_shape[2]
        self.kernel = self.add_weight(
            name="kernel",
            shape=(self.num_classes, d, dp),
            initializer=keras.initializers.TruncatedNormal(stddev=1.0 / math.sqrt(d * dp)),
        )

    def call(self, x):
        zeros = ops.zeros_like(x)
        xr, xi = ops.fft2((x, zeros))
        kernel = self.kernel.value
        vr, vi = ops.fft2((kernel, ops.zeros_like(kernel)))
        xr, xi = xr[:, None], xi[:, None]
        real = vr * xr + vi * xi
        imag = vr * xi - vi * xr
        corr, _ = ops.ifft2((real, imag))
        s = self.strides
        corr = corr[:, :, ::s, ::s]
        return ops.mean(self.activation(corr), axis=(2, 3))


def build(kind, kwargs, learning_rate):
    kwargs = dict(kwargs)
    learning_rate = kwargs.pop("learning_rate", learning_rate)
    if kind == "mlp":
        return models.mnist_translation(learning_rate=learning_rate, **kwargs)
    if kind == "cnn":
        return models.mnist_cnn()
    inputs = keras.Input((56, 56))
    scores = TiedTranslationScores(10, strides=2, activation="relu")(inputs)
    model = keras.Model(inputs, keras.layers.Softmax()(scores))
    model.compile(
        keras.optimizers.Adam(learning_rate),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def to_markdown(result):
    a = result["args"]
    lines = [
        "| model | params | test accuracy | seconds |",
        "|---|---|---|---|",
    ]
    for row in result["rows"]:
        lines.append(
            f"| {row['label']} | {row['params']:,} | {100 * row['test_accuracy']:.2f}% | "
            f"{row['seconds']:.0f} |"
        )
    return (
        f"Trained on {a['train']:,} padded-MNIST training digits for {a['epochs']} epoch(s), "
        f"Adam lr {a['learning_rate']} for the MLPs and the tied model unless the row says "
        f"otherwise (the CNN uses its own defaults), seed 0, data seed 0; tested on {a['test']:,} test digits. Written by "
        f"`python benchmarks/mnist_sharing_study.py --train {a['train']} --epochs "
        f"{a['epochs']}{' --tag ' + a['tag'] if a.get('tag') else ''}` on {result['backend']} "
        f"({sum(r['seconds'] for r in result['rows']):.0f} s of training and evaluation).\n\n"
        + "\n".join(lines)
        + "\n"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=12000)
    parser.add_argument("--test", type=int, default=10000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=5e-2)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--only", nargs="*", help="rows to run (default: all)")
    parser.add_argument("--out", default=str(REPO / "models" / "mnist_translation"))
    parser.add_argument("--tag", default=None,
                        help="suffix of the output files (sharing_study_<tag>.json/.md), to "
                        "keep a second budget beside the default one")
    args = parser.parse_args(argv)
    data = datasets.padded_mnist(
        seed=0, data_dir=args.data_dir, sizes=(args.train, 1000, args.test)
    )
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "sharing_study" + (f"_{args.tag}" if args.tag else "")
    path = out / f"{stem}.json"
    previous = {}
    if path.exists() and args.only:  # keep the rows not re-run
        old = json.loads(path.read_text())
        same = ("train", "epochs", "test", "batch_size", "learning_rate")
        if all(old.get("args", {}).get(k) == getattr(args, k) for k in same):
            previous = {r["row"]: r for r in old["rows"]}
    start = time.time()
    rows = []
    print("row              params      test_acc  seconds", flush=True)
    for row, label, kind, kwargs in CONFIGS:
        if args.only and row not in args.only:
            if row in previous:
                rows.append(previous[row])
            continue
        keras.utils.set_random_seed(0)
        model = build(kind, kwargs, args.learning_rate)
        t0 = time.time()
        model.fit(*data.train, batch_size=args.batch_size, epochs=args.epochs, verbose=0)
        acc = model.evaluate(*data.test, batch_size=500, verbose=0, return_dict=True)["accuracy"]
        rows.append(
            dict(row=row, label=label, kind=kind, model_kwargs={k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()},
                 params=int(model.count_params()), test_accuracy=float(acc),
                 seconds=time.time() - t0)
        )
        print(f"{row:<16} {rows[-1]['params']:>10,}  {acc:.4f}    {rows[-1]['seconds']:.0f}",
              flush=True)
    result = dict(
        args=dict(train=args.train, test=args.test, epochs=args.epochs, tag=args.tag,
                  batch_size=args.batch_size, learning_rate=args.learning_rate),
        backend=keras.backend.backend(), seconds=time.time() - start, rows=rows,
        command=" ".join(["python", "benchmarks/mnist_sharing_study.py", *sys.argv[1:]]),
    )
    path.write_text(json.dumps(result, indent=2) + "\n")
    (out / f"{stem}.md").write_text(to_markdown(result))
    print(f"wrote {path} and {out / f'{stem}.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
