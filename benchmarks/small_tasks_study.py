"""Training-settings study for the small tasks where we trail the report: set sum, Blob1D, Blob2D, GCN.

Goal (issue): beat the report by better training and honest hyperparameters, never by changing
the task or the test data: set-sum test L1 <= 0.015, Blob1D test accuracy >= 90%, Blob2D test
accuracy at the report's 100% (the report's settings give us ~78.5%).

What is fixed: the data (`symzoo.datasets`, data seed 0, the report's split sizes), the model
families (`set_sum`: SetLinearSum with the report's penalty 0.01·Σσ(100θ); `blob1d_translation`,
`blob2d_translation`: ClassTranslationDense + softmax), the losses. What is varied: Adam's
learning rate, the learning-rate schedule (`symzoo.training.train(lr_schedule=...)`), epochs,
batch size and, for Blob1D / Blob2D, the OffsetSharing strength λ.

Every configuration is trained with `symzoo.training.train` on seeds ``--seeds`` (default 0 1)
and scored on the **validation** split (the final model's validation metric, mean over seeds);
the configuration with the best validation mean is chosen per group (ties: the first listed;
candidates are listed from the smallest change to the report's settings up), and only the
chosen one's test metric goes into the table (the reference rows below use the first seed
only, to keep the study short). For Blob1D a "reference" group (the `cnn1d` baseline trained
longer / wider, and a plain two-hidden-layer MLP that is not a zoo model) estimates what this
data allows, so that a missed target can be put in proportion; for Blob2D the reference is the
`cnn2d` baseline at its zoo defaults.

    python benchmarks/small_tasks_study.py                 # all tasks, ~25 min on 2 shared CPU cores
    python benchmarks/small_tasks_study.py --task set_sum  # one task (repeatable)
    python benchmarks/small_tasks_study.py --task blob2d --seeds 0 1 2 3 4  # the Blob2D study (~8 min)
    python benchmarks/small_tasks_study.py --task gcn      # the GCN study (~8 min)

Blob2D uses 5 seeds because 2 hid a seed-dependent collapse at Adam 3e-1 (one class never
predicted, 66.7% for seed 2).

It writes ``models/set_sum/tuning_study.{json,md}``,
``models/blob1d_translation/tuning_study.{json,md}``,
``models/blob2d_translation/tuning_study.{json,md}`` and ``models/gcn/tuning_study.{json,md}``;
runs go to ``runs/small_tasks_study/`` (re-running resumes finished runs, so it only re-evaluates).
"""

import argparse
import json
import math
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]


def _cfg(label, model, group="candidate", epochs=None, batch_size=None, learning_rate=None,
         lr_schedule=None, max_seeds=None, **model_kwargs):
    return {
        "max_seeds": max_seeds,
        "label": label,
        "model": model,
        "group": group,
        "epochs": epochs,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "lr_schedule": lr_schedule,
        "model_kwargs": model_kwargs,
    }


#: task -> (zoo model whose folder gets the study, metric, lower is better, configurations)
TASKS = {
    "set_sum": (
        "set_sum",
        "l1",
        True,
        [
            _cfg("report settings: Adam 1e-2, 40 ep, batch 64", "set_sum"),
            _cfg("Adam 1e-3, 40 ep", "set_sum", learning_rate=1e-3),
            _cfg("Adam 3e-3, cosine, 40 ep", "set_sum", learning_rate=3e-3, lr_schedule="cosine"),
            _cfg("Adam 1e-2, cosine, 40 ep", "set_sum", lr_schedule="cosine"),
        ],
    ),
    "blob1d": (
        "blob1d_translation",
        "accuracy",
        False,
        [
            _cfg("report settings: ELU, λ=1e-2, Adam 1e-2, 20 ep, batch 128",
                 "blob1d_translation"),
            _cfg("ELU, λ=1e-2, Adam 1e-1, cosine, 40 ep", "blob1d_translation", epochs=40,
                 learning_rate=1e-1, lr_schedule="cosine"),
            _cfg("ELU, λ=1e-2, Adam 3e-1, cosine, 40 ep", "blob1d_translation", epochs=40,
                 learning_rate=3e-1, lr_schedule="cosine"),
            _cfg("ELU, λ=1e-1, Adam 3e-1, cosine, 40 ep", "blob1d_translation", epochs=40,
                 learning_rate=3e-1, lr_schedule="cosine", lam=0.1),
            _cfg("ELU, λ=1, Adam 3e-1, cosine, 40 ep", "blob1d_translation", epochs=40,
                 learning_rate=3e-1, lr_schedule="cosine", lam=1.0),
            _cfg("cnn1d (16 filters, k=3), Adam 1e-3, 20 ep (zoo default)", "cnn1d",
                 group="reference", max_seeds=1),
            _cfg("cnn1d (64 filters, k=5), Adam 3e-3, cosine, 40 ep", "cnn1d", group="reference",
                 max_seeds=1, epochs=40, learning_rate=3e-3, lr_schedule="cosine",
                 filters=64, kernel_size=5),
            _cfg("MLP 10→256→256→5 (ReLU, not a zoo model), Adam 1e-3, cosine, 40 ep", "mlp",
                 group="reference", max_seeds=1, epochs=40, batch_size=128, learning_rate=1e-3,
                 lr_schedule="cosine"),
        ],
    ),
    # The report's Blob2D settings (zoo defaults): ELU, λ=1e-2, offsets (1, 1), Adam 1e-2
    # constant, 10 epochs, batch 128. Listed from the smallest change up (ties: first wins).
    "blob2d": (
        "blob2d_translation",
        "accuracy",
        False,
        [
            _cfg("report settings: ELU, λ=1e-2, Adam 1e-2, 10 ep, batch 128",
                 "blob2d_translation"),
            _cfg("ELU, λ=1e-2, Adam 1e-2, cosine, 40 ep", "blob2d_translation", epochs=40,
                 lr_schedule="cosine"),
            _cfg("ELU, λ=1e-2, Adam 1e-1, 10 ep", "blob2d_translation", learning_rate=1e-1),
            _cfg("ELU, λ=1e-2, Adam 3e-1, cosine, 10 ep", "blob2d_translation",
                 learning_rate=3e-1, lr_schedule="cosine"),
            _cfg("ELU, λ=1e-1, Adam 1e-1, 10 ep", "blob2d_translation", learning_rate=1e-1,
                 lam=0.1),
            _cfg("ELU, λ=1e-1, Adam 1e-1, cosine, 10 ep", "blob2d_translation",
                 learning_rate=1e-1, lr_schedule="cosine", lam=0.1),
            _cfg("ELU, λ=1e-1, Adam 3e-1, cosine, 10 ep", "blob2d_translation",
                 learning_rate=3e-1, lr_schedule="cosine", lam=0.1),
            _cfg("ELU, λ=1, Adam 3e-1, cosine, 10 ep", "blob2d_translation",
                 learning_rate=3e-1, lr_schedule="cosine", lam=1.0),
            _cfg("ELU, no sharing (λ=0), Adam 3e-1, cosine, 10 ep", "blob2d_translation",
                 learning_rate=3e-1, lr_schedule="cosine", lam=0.0),
            _cfg("cnn2d (16 filters, k=3), Adam 1e-3, 10 ep (zoo default)", "cnn2d",
                 group="reference", max_seeds=1),
        ],
    ),
    # The report's two-layer GCN 1→10→1 (Â = D^-1/2 (A+I) D^-1/2, constant features x = 1)
    # at its zoo defaults (Adam 1e-2 constant, 20 epochs, batch 128), then larger rates with
    # a cosine decay and more epochs. Only the training varies, never the architecture.
    "gcn": (
        "gcn",
        "node_accuracy",
        False,
        [
            _cfg("report settings: Adam 1e-2, 20 ep, batch 128", "gcn"),
            _cfg("Adam 1e-1, cosine, 20 ep", "gcn", learning_rate=1e-1, lr_schedule="cosine"),
            _cfg("Adam 1e-1, cosine, 60 ep", "gcn", epochs=60, learning_rate=1e-1,
                 lr_schedule="cosine"),
            _cfg("Adam 3e-1, cosine, 60 ep", "gcn", epochs=60, learning_rate=3e-1,
                 lr_schedule="cosine"),
        ],
    ),
}


def _run_zoo(cfg, seed, out):
    from symzoo import training

    result = training.train(
        cfg["model"],
        epochs=cfg["epochs"],
        batch_size=cfg["batch_size"],
        learning_rate=cfg["learning_rate"],
        lr_schedule=cfg["lr_schedule"],
        model_kwargs=cfg["model_kwargs"],
        seed=seed,
        data_seed=0,
        out=out,
        verbose=0,
        resume=True,
    )
    model = result["model"]
    val = training.evaluate_model(model, cfg["model"], split="val", data_seed=0)
    return val, result["metrics"], model, {
        "epochs": result["epochs"],
        "batch_size": result["batch_size"],
        "learning_rate": result["learning_rate"],
    }


def _run_mlp(cfg, seed):
    """A plain MLP on the raw Blob1D pixels (an estimate of what the data allows)."""
    import keras

    from symzoo import datasets, training

    data = datasets.load("blob1d", seed=0)
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((data.train[0].shape[1],)),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dense(5, activation="softmax"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(cfg["learning_rate"]),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    epochs = cfg["epochs"]
    schedule = keras.callbacks.LearningRateScheduler(
        lambda e, _lr: training.lr_at_epoch(cfg["lr_schedule"], cfg["learning_rate"], e, epochs)
    )
    model.fit(*data.train, batch_size=cfg["batch_size"], epochs=epochs, verbose=0,
              callbacks=[schedule])
    val = training.evaluate_task_dict(model, *data.val, "classification")
    test = training.evaluate_task_dict(model, *data.test, "classification")
    return val, test, None, {"epochs": epochs, "batch_size": cfg["batch_size"],
                             "learning_rate": cfg["learning_rate"]}


def _slug(text):
    keep = [c if c.isalnum() else "_" for c in text.lower()]
    return "_".join(filter(None, "".join(keep).split("_")))[:80]


def _fmt(metric, value):
    if value is None:
        return "–"
    return f"{value:.2g}" if metric == "l1" else f"{100 * value:.2f}%"


def run_task(task, seeds, command):
    from symzoo import metrics as metrics_lib

    folder_model, metric, lower, configs = TASKS[task]
    rows = []
    for cfg in configs:
        per_seed = []
        for seed in seeds[: cfg["max_seeds"] or len(seeds)]:
            start = time.time()
            out = REPO / "runs" / "small_tasks_study" / task / _slug(cfg["label"]) / f"seed{seed}"
            if cfg["model"] == "mlp":
                val, test, model, used = _run_mlp(cfg, seed)
            else:
                val, test, model, used = _run_zoo(cfg, seed, out)
            extra = {}
            if cfg["model"] == "set_sum":
                from symzoo.reproduce import _kernel

                extra["column_sum_error"] = float(metrics_lib.column_sum_error(_kernel(model)))
            per_seed.append({"seed": seed, "val": val[metric], "test": test[metric],
                             "seconds": time.time() - start, **extra})
            print(f"[{task}] {cfg['label']} seed {seed}: val {metric} {val[metric]:.4f}",
                  flush=True)
        rows.append({**cfg, **used, "metric": metric,
                     "val_mean": float(np.mean([r["val"] for r in per_seed])),
                     "val_std": float(np.std([r["val"] for r in per_seed])),
                     "runs": per_seed})
    chosen = {}
    for group in dict.fromkeys(r["group"] for r in rows):
        members = [r for r in rows if r["group"] == group]
        best = (min if lower else max)(members, key=lambda r: r["val_mean"])
        chosen[group] = best["label"]
    for row in rows:
        row["chosen"] = chosen[row["group"]] == row["label"]
        if row["chosen"]:
            tests = [r["test"] for r in row["runs"]]
            row["test_mean"], row["test_std"] = float(np.mean(tests)), float(np.std(tests))
    payload = {"task": task, "command": command, "seeds": list(seeds), "data_seed": 0,
               "metric": metric, "lower_is_better": lower, "selection": "best validation mean "
               "per group (ties: the first listed); test metric only for the chosen "
               "configuration", "rows": rows}
    folder = REPO / "models" / folder_model
    (folder / "tuning_study.json").write_text(json.dumps(payload, indent=2) + "\n")
    (folder / "tuning_study.md").write_text(markdown(payload))
    return payload


def markdown(payload):
    metric = payload["metric"]
    lines = [
        f"Written by `{payload['command']}` (seeds {payload['seeds']}, data seed 0). "
        f"Chosen per group by the validation {metric} (mean over seeds; ties: the first "
        f"listed); test {metric} only "
        "for the chosen configuration (**bold**).",
        "",
        f"| group | configuration | model kwargs | val {metric} (mean ± std) | test {metric} |",
        "|---|---|---|---|---|",
    ]
    for row in payload["rows"]:
        label = f"**{row['label']}**" if row["chosen"] else row["label"]
        kwargs = ", ".join(f"{k}={v!r}" for k, v in row["model_kwargs"].items()) or "–"
        val = f"{_fmt(metric, row['val_mean'])} ± {_fmt(metric, row['val_std']).rstrip('%')}"
        test = "–"
        if row["chosen"]:
            test = f"{_fmt(metric, row['test_mean'])} ± {_fmt(metric, row['test_std']).rstrip('%')}"
        lines.append(f"| {row['group']} | {label} | {kwargs} | {val} | {test} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", choices=sorted(TASKS), action="append",
                        help="task(s) to run (default: all)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = parser.parse_args(argv)
    command = "python benchmarks/small_tasks_study.py" + "".join(
        f" --task {t}" for t in args.task or []
    ) + ("" if args.seeds == [0, 1] else " --seeds " + " ".join(map(str, args.seeds)))
    for task in args.task or list(TASKS):
        payload = run_task(task, args.seeds, command)
        print(markdown(payload))
    return 0


if __name__ == "__main__":
    sys.exit(main())
