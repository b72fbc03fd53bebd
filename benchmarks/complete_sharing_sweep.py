"""λ of the complete-sharing Blob2D MLP, chosen on the validation split.

Trains ``blob2d_translation`` with ``OffsetSharing(form="complete")`` ((b, b') = (1, 1),
mean reduction) at the tuned row's training (ELU, Adam 1e-1, 10 epochs, batch 128) for each
λ, and reports on the *validation* split the accuracy of the MLP, the accuracy of the MLP
with its kernel projected onto the full 2D translation group (= the compact convolution's,
`symzoo.symmetry.extraction`) and the share of ‖W‖² the projection keeps.

    python benchmarks/complete_sharing_sweep.py [--lams 0.1 1 2 3 5 10 100 1000] [--seed 0]

writes ``complete_sweep.{json,md}`` into ``models/blob2d_translation/`` (``--out``); runs go
under ``runs/complete_sweep/``.
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
    parser.add_argument("--lams", type=float, nargs="+",
                        default=[0.1, 1.0, 2.0, 3.0, 5.0, 10.0, 100.0, 1000.0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--out", default=str(REPO / "models" / "blob2d_translation"))
    args = parser.parse_args(argv)

    from symzoo import datasets, training
    from symzoo.symmetry import projection

    start = time.time()
    xv, yv = datasets.load("blob2d", seed=0).val
    rows = []
    for lam in args.lams:
        result = training.train(
            "blob2d_translation", epochs=args.epochs, seed=args.seed, data_seed=0,
            out=REPO / "runs" / "complete_sweep" / f"lam{lam:g}_seed{args.seed}",
            model_kwargs={"activation": "elu", "lam": lam, "sharing_form": "complete"},
            learning_rate=0.1, verbose=0, resume=False)
        model = result["model"]
        layer = model.get_layer("class_translation_dense")
        kernel = np.asarray(layer.kernel.numpy())

        def accuracy():
            return float(np.mean(np.argmax(model.predict(xv, verbose=0), -1) == yv))

        trained = accuracy()
        full = projection.project_translation(kernel)
        layer.kernel.assign(full)
        rows.append({"lam": lam, "val_accuracy": trained, "val_accuracy_projected": accuracy(),
                     "norm_share": projection.squared_norm(full) / projection.squared_norm(kernel)})
        print(rows[-1], flush=True)
    command = " ".join(["python benchmarks/complete_sharing_sweep.py", *(argv or sys.argv[1:])])
    best = max(rows, key=lambda r: (r["val_accuracy_projected"], r["val_accuracy"]))
    payload = {"rows": rows, "best_lam": best["lam"], "seed": args.seed, "epochs": args.epochs,
               "seconds": time.time() - start, "command": command}
    lines = [
        f"Written by `{command}` ({payload['seconds']:.0f} s): complete sharing, (b, b') = "
        f"(1, 1), ELU, Adam 1e-1, {args.epochs} epochs, seed {args.seed}; **validation** "
        f"split. Best λ (projected accuracy, then MLP accuracy): {best['lam']:g}.",
        "",
        "| λ | MLP val accuracy | projected (compact) val accuracy | norm share |",
        "|---|---|---|---|",
    ] + [f"| {r['lam']:g} | {100 * r['val_accuracy']:.2f}% | "
         f"{100 * r['val_accuracy_projected']:.2f}% | {r['norm_share']:.4f} |" for r in rows]
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "complete_sweep.json").write_text(json.dumps(payload, indent=2) + "\n")
    (out / "complete_sweep.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
