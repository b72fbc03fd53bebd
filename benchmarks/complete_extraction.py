"""Extraction of a complete-sharing MLP: full 2D Reynolds projection and compact convolution.

`OffsetSharing(form="complete")` ties the templates of a 2D `ClassTranslationDense` along
both translation axes (one generator per axis), i.e. along the whole translation group
Z_T × Z_T' acting by (s·a, s'·c) pixels, so the full Reynolds projection of
`symzoo.symmetry.projection.project_translation` is the projection onto what the penalty
ties (the diagonal form ties only the chains (i, j) → (i+b, j+b):
``benchmarks/diagonal_extraction.py``). For each trained MLP given (one per seed) this
script evaluates on the test split

* the MLP as trained;
* the MLP with its kernel replaced by the full projection (`extraction.project_model`),
  with the share of ‖W‖² that the projection keeps;
* the compact model of `symzoo.symmetry.extraction.extract`: circular padding + one
  ``Conv2D(C, kernel_size=(d, d'), strides=s)`` holding one template per class + the
  activation + the mean over the T·T' translations (C·d·d' parameters: 31,360 for
  MNIST-56, 300 for Blob2D). It computes the projected MLP's function (the largest
  output difference on 500 test inputs is reported);
* optionally (``--finetune-epochs N``) the compact model after a short fine-tune on the
  training split (Adam, ``--finetune-lr`` with a per-epoch cosine decay, batch 128),
  labelled as such in the table.

It writes ``complete_extraction[_<tag>].{json,md}`` into ``models/<name>/`` (``--out``), which the
model card includes, and ``template_grid_<row>.png`` (`symzoo.plots.plot_template_grid`: the
templates on the full translation grid) for the first model and each ``--grid ROW=PATH``, and with ``--export-compact DIR`` / ``--export-mlp DIR`` exports the
first model's compact form (the fine-tuned one when fine-tuned) / the MLP itself with
`symzoo.training.export`, with the manifest fields ``task``, ``sharing``,
``extracted_from`` (compact only), ``row``, ``seed`` and the test accuracy.

    python benchmarks/complete_extraction.py --name blob2d_translation \\
        --models runs/reproduce/blob2d_complete/seed{0,1,2}/model.keras --row blob2d_complete
    python benchmarks/complete_extraction.py --name mnist_translation \\
        --models runs/reproduce/mnist_complete_long/seed0/model.keras \\
        --row mnist_complete_long --data-dir ../shared/data/mnist --finetune-epochs 1
"""

import argparse
import json
import math
import os
import pathlib
import re
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
NAMES = ("mnist_translation", "blob2d_translation")


def _accuracy(model, x, y):
    pred = model.predict(x, batch_size=500, verbose=0)
    return float(np.mean(np.argmax(pred, axis=-1) == y))


def _seed_of(path, default):
    match = re.search(r"seed(\d+)", str(path))
    return int(match.group(1)) if match else default


def _finetune(compact, data, epochs, learning_rate, seed):
    """Fine-tunes a copy of `compact` (`symzoo.symmetry.extraction.finetune`)."""
    from symzoo.symmetry import extraction

    return extraction.finetune(compact, data.train, data.val, epochs, learning_rate, seed,
                               verbose=2)


def _sharing(hyperparameters):
    if not hyperparameters.get("lam"):
        return "none"
    return "offset_" + hyperparameters.get("sharing_form", "diagonal")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="mnist_translation", choices=NAMES)
    parser.add_argument("--models", nargs="+", required=True,
                        help=".keras files (or run directories) of trained MLPs, one per seed")
    parser.add_argument("--row", default=None,
                        help="the reproduce row the models come from (recorded)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=None, help="default: models/<name>/")
    parser.add_argument("--grid", nargs="*", default=[], metavar="ROW=PATH",
                        help="also draw the translation grid of these models' kernels "
                             "(e.g. the diagonal and no-sharing rows, for comparison)")
    parser.add_argument("--grid-classes", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--tag", default=None,
                        help="write complete_extraction_<tag>.{json,md} instead")
    parser.add_argument("--finetune-epochs", type=int, default=0,
                        help="fine-tune the compact model this many epochs (default 0: none)")
    parser.add_argument("--finetune-lr", type=float, default=1e-3)
    parser.add_argument("--export-compact", default=None,
                        help="export the first model's compact form into this directory")
    parser.add_argument("--export-mlp", default=None,
                        help="export the first MLP into this directory")
    args = parser.parse_args(argv)
    if args.finetune_epochs < 0:
        parser.error(f"Expected --finetune-epochs >= 0. Received: {args.finetune_epochs}")
    args.out = args.out or str(REPO / "models" / args.name)

    import keras

    from symzoo import datasets, models, training
    from symzoo.symmetry import extraction, projection

    start = time.time()
    spec = models.spec(args.name)
    kwargs = {"data_dir": args.data_dir} if spec.dataset == "padded_mnist" else {}
    data = datasets.load(spec.dataset, seed=0, **kwargs)
    x, y = data.test
    runs, first = [], None
    for index, path in enumerate(args.models):
        seed = _seed_of(path, index)
        model = training.load_model(path)
        layer = model.get_layer("class_translation_dense")
        kernel = np.asarray(layer.kernel.numpy())
        hyper = {}
        sharing = getattr(layer, "sharing", None)
        if sharing is not None:
            hyper = {"lam": float(sharing.strength), "sharing_form": sharing.form,
                     "offsets": list(sharing.offsets)}
        trained = _accuracy(model, x, y)
        full = np.asarray(projection.project_translation(kernel))
        share = projection.squared_norm(full) / projection.squared_norm(kernel)
        layer.kernel.assign(full)
        projected = _accuracy(model, x, y)
        layer.kernel.assign(kernel)
        compact, info = extraction.extract(model, x=x[:500])
        compact_acc = _accuracy(compact, x, y)
        run = {
            "model": str(path),
            "seed": seed,
            "sharing": hyper,
            "params_mlp": int(model.count_params()),
            "params_compact": int(compact.count_params()),
            "norm_share": float(share),
            "test_accuracy": {"as_trained": trained, "projected": projected,
                              "compact": compact_acc},
            "max_abs_diff_compact_vs_projected": info["max_abs_diff_vs_projected"],
        }
        tuned = None
        if args.finetune_epochs:
            t0 = time.time()
            tuned, history = _finetune(compact, data, args.finetune_epochs, args.finetune_lr,
                                       seed)
            run["test_accuracy"]["compact_finetuned"] = _accuracy(tuned, x, y)
            run["finetune"] = {"epochs": args.finetune_epochs, "learning_rate": args.finetune_lr,
                               "lr_schedule": "cosine", "batch_size": 128,
                               "seconds": time.time() - t0, "history": history}
        print(f"[complete_extraction] {path}: {run['test_accuracy']}", flush=True)
        runs.append(run)
        if first is None:
            first = (model, compact if tuned is None else tuned, run)
        else:
            del model, compact, tuned
    keys = list(runs[0]["test_accuracy"])
    summary = {k: {"mean": float(np.mean([r["test_accuracy"][k] for r in runs])),
                   "std": float(np.std([r["test_accuracy"][k] for r in runs])),
                   "values": [r["test_accuracy"][k] for r in runs]} for k in keys}
    command = " ".join(["python benchmarks/complete_extraction.py", *(argv or sys.argv[1:])])
    result = {
        "name": args.name,
        "row": args.row,
        "models": args.models,
        "runs": runs,
        "summary": summary,
        "seconds": time.time() - start,
        "backend": keras.backend.backend(),
        "command": command,
    }
    labels = {
        "as_trained": ("MLP as trained", "params_mlp"),
        "projected": ("MLP, kernel projected onto the full 2D translation group",
                      "params_mlp"),
        "compact": ("compact convolution (the projected MLP's function)", "params_compact"),
        "compact_finetuned": (f"compact convolution, fine-tuned {args.finetune_epochs} "
                              f"epoch(s) (Adam {args.finetune_lr:g}, cosine)",
                              "params_compact"),
    }
    seeds = ", ".join(str(r["seed"]) for r in runs)
    lines = [
        f"Written by `{command}` ({result['seconds']:.0f} s) on the MLP(s) of the row "
        f"`{args.row}` (seeds {seeds}); test split ({len(y):,} examples); mean ± std over "
        f"the seeds. The projection keeps {100 * np.mean([r['norm_share'] for r in runs]):.2f}% "
        "of ‖W‖² (mean); largest |compact − projected| output on 500 test inputs "
        f"{max(r['max_abs_diff_compact_vs_projected'] for r in runs):.2g}.",
        "",
        "| model | parameters | test accuracy | per seed |",
        "|---|---|---|---|",
    ]
    for key in keys:
        label, params = labels[key]
        s = summary[key]
        lines.append(
            f"| {label} | {runs[0][params]:,} | {100 * s['mean']:.2f} ± {100 * s['std']:.2f}% | "
            + ", ".join(f"{100 * v:.2f}%" for v in s["values"]) + " |")
    if not args.finetune_epochs:
        lines += ["", "No fine-tuning: the compact model's weights are the projected templates."]
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "complete_extraction" + (f"_{args.tag}" if args.tag else "")
    (out / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))

    from symzoo import plots

    grids = [(args.row or "model", args.models[0])] + [
        tuple(item.split("=", 1)) for item in args.grid]
    for row, path in grids:
        kernel = first[0].get_layer("class_translation_dense").kernel if path == args.models[0] \
            else training.load_model(path).get_layer("class_translation_dense").kernel
        png = out / f"template_grid_{row}.png"
        plots.plot_template_grid(kernel, png, classes=args.grid_classes,
                                 title=f"{args.name}: {row}, templates on the translation grid")
        print(f"wrote {png}")

    model, compact, run = first
    from symzoo import reproduce

    rows = [e for e in reproduce.EXPERIMENTS if e.row == args.row]
    training_settings = {}
    if rows:
        exp = rows[0]
        training_settings = {
            "epochs": exp.epochs or spec.epochs,
            "learning_rate": exp.learning_rate or spec.learning_rate,
            "lr_schedule": exp.lr_schedule or "constant",
            "batch_size": exp.batch_size or spec.batch_size}
        hyperparameters = {**spec.hyperparameters, **exp.model_kwargs}
    else:
        hyperparameters = run["sharing"]
    common = {"task": spec.dataset, "zoo_model": args.name, "row": args.row,
              "seed": run["seed"], "data_seed": 0, "test_metric": "accuracy"}
    if args.export_mlp:
        # model.keras + manifest (one copy of the weights in git; SavedModel on demand)
        training.export(model, args.export_mlp, name=pathlib.Path(args.export_mlp).name,
                        saved_model=False, extra={
            **common, **training_settings,
            "sharing": _sharing(run["sharing"]), "hyperparameters": hyperparameters,
            "test_value": run["test_accuracy"]["as_trained"]})
        print(f"exported the MLP to {args.export_mlp}")
    if args.export_compact:
        extracted_from = (pathlib.Path(args.export_mlp).name if args.export_mlp
                          else f"{args.row} seed {run['seed']} ({run['model']})")
        key = "compact_finetuned" if "compact_finetuned" in run["test_accuracy"] else "compact"
        training.export(compact, args.export_compact, saved_model=False,
                        name=pathlib.Path(args.export_compact).name, extra={
                            **common, "sharing": "tied_convolution",
                            "extracted_from": extracted_from,
                            **({"finetune": {k: v for k, v in run["finetune"].items()
                                             if k != "history"}} if "finetune" in run else {}),
                            "test_value": run["test_accuracy"][key]})
        print(f"exported the compact model to {args.export_compact}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
