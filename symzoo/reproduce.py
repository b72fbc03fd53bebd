"""`symzoo reproduce`: the report's results, from the shipped models or re-trained.

``symzoo reproduce --pretrained`` (`evaluate_pretrained`, the README's first command)
trains nothing: it evaluates every pretrained model (``saved_models/<name>/``) on its full
test split and prints the table beside the report's figures and the figures recorded when
the model was exported. It takes about a minute on 2 CPU cores and writes
``results.json``/``results.md`` under ``./runs/pretrained`` (or ``--out``).

Without ``--pretrained`` it re-trains. Each row of the report's tables is an `Experiment`: a
zoo model, the hyperparameters of that row, the metric, and the report's figure.
`reproduce()` trains each over several seeds with `symzoo.training.train`, evaluates on the
test split, and writes, for each zoo model:

* ``models/<name>/results.json``: per row the metric, mean, std, per-seed values, seeds,
  data seed, epochs, wall time and the report's figure;
* ``models/<name>/results.md``: the same as a Markdown table;
* ``models/<name>/*.png``: weight heatmaps (the report's figures) and dataset samples;
* ``models/<name>/README.md``: the model card;
* ``saved_models/<name>/``: the trained model of the model's default row (seed 0) as
  ``model.keras`` + ``manifest.json`` (sha256, data seed, test metric): one copy of the
  weights, written deterministically (`symzoo.models.export`);

and one results table between the markers ``<!-- results:start -->`` and
``<!-- results:end -->`` in ``README.md``.

Where it writes: those paths are relative to a root, ``./runs/reproduce`` (``./runs/quick``
with ``--quick``) in the current directory by default, or ``--out DIR``. The committed
``models/``, ``saved_models/`` and README table of the repository change only when a flag
names them: ``--write-repo`` (run from the repository root; the same as ``--out .``). The
training runs themselves go to ``ROOT/train/<row>/seed<s>`` (``./runs/reproduce/<row>`` with
``--write-repo``, where earlier runs are resumed). Nothing is written next to the installed
package. ``--quick`` trains on tiny data for `symzoo.training.QUICK_EPOCHS` (2) epochs.
"""

import dataclasses
import json
import os
import pathlib
import sys
import time

import numpy as np

from symzoo import _format

DEFAULT_ROOT = pathlib.Path("runs") / "reproduce"
QUICK_ROOT = pathlib.Path("runs") / "quick"
PRETRAINED_ROOT = pathlib.Path("runs") / "pretrained"
README_START = "<!-- results:start -->"
README_END = "<!-- results:end -->"


@dataclasses.dataclass(frozen=True)
class Experiment:
    """One row of the report: a zoo model with the hyperparameters of that row."""

    row: str
    model: str
    label: str
    metric: str  # key of symzoo.metrics.evaluate_task's dict
    report: float | None = None
    model_kwargs: dict = dataclasses.field(default_factory=dict)
    epochs: int | None = None  # None: the zoo spec's default
    learning_rate: float | None = None  # None: the zoo spec's default
    batch_size: int | None = None  # None: the zoo spec's default
    lr_schedule: str | None = None  # one of symzoo.training.LR_SCHEDULES; None: constant
    sharing_schedule: tuple | None = None  # ((epoch, λ), ...): symzoo.training.SharingSchedule
    max_seeds: int | None = None  # cap on seeds (MNIST-56 is expensive on CPU)
    default: bool = False  # the row whose model ships in saved_models/<model>/
    note: str = ""


def _complete_schedule_row(row, switch, note):
    """The MNIST-56 complete-sharing row at λ=10, switched to λ=30 from 0-based
    epoch `switch` of 8 (`symzoo.training.SharingSchedule`)."""
    return Experiment(
        row, "mnist_translation",
        f"MLP, (1, 2) complete, λ=10 then 30 from epoch {switch + 1} of 8, cosine lr",
        "accuracy", None, {"offsets": (1, 2), "lam": 10.0, "sharing_form": "complete"},
        epochs=8, max_seeds=2, lr_schedule="cosine",
        sharing_schedule=((0, 10.0), (switch, 30.0)), note=note)


EXPERIMENTS = (
    Experiment("set_sum", "set_sum", "SetLinearSum, 0.01·Σσ(100θ)", "l1", 0.032),
    Experiment("set_sum_tuned", "set_sum", "SetLinearSum, 0.01·Σσ(100θ), tuned training", "l1",
               None, learning_rate=3e-3, lr_schedule="cosine", default=True,
               note="the report's model and penalty, trained differently: Adam 3e-3 with a "
               "per-epoch cosine decay to 0 over the 40 epochs instead of a constant 1e-2 "
               "(chosen on the validation split by benchmarks/small_tasks_study.py)"),
    Experiment("deepsets", "deepsets", "DeepSets baseline", "l1", 0.015, default=True),
    Experiment("blob1d_sigmoid", "blob1d_translation", "MLP, sigmoid", "accuracy", 0.5726,
               {"activation": "sigmoid"}),
    Experiment("blob1d_tanh", "blob1d_translation", "MLP, tanh", "accuracy", 0.636,
               {"activation": "tanh"}),
    Experiment("blob1d_elu", "blob1d_translation", "MLP, ELU", "accuracy", 0.783,
               {"activation": "elu"}),
    Experiment("blob1d_elu_l1", "blob1d_translation", "MLP, ELU + L1", "accuracy", 0.81,
               {"activation": "elu", "l1": 1e-4}),
    Experiment("blob1d_tuned", "blob1d_translation", "MLP, ELU, tuned training", "accuracy",
               None, {"activation": "elu", "lam": 0.1}, epochs=40, learning_rate=0.3,
               lr_schedule="cosine", default=True,
               note="the report's ELU model; Adam 3e-1 with a per-epoch cosine decay over 40 "
               "epochs (report: constant 1e-2, 20 epochs) and OffsetSharing λ=0.1 (default "
               "1e-2) (chosen on the validation split by benchmarks/small_tasks_study.py)"),
    Experiment("cnn1d", "cnn1d", "CNN baseline", "accuracy", 0.65, default=True),
    Experiment("blob2d", "blob2d_translation", "MLP, ELU", "accuracy", 1.0),
    Experiment("blob2d_tuned", "blob2d_translation", "MLP, ELU, tuned training", "accuracy",
               None, {"activation": "elu", "lam": 0.1}, learning_rate=0.1, default=True,
               note="the report's ELU model, 10 epochs and constant learning rate; Adam 1e-1 "
               "(report: 1e-2) and OffsetSharing λ=0.1 (default 1e-2) (chosen on the "
               "validation split over 5 seeds by benchmarks/small_tasks_study.py)"),
    Experiment("cnn2d", "cnn2d", "CNN baseline", "accuracy", None, default=True),
    Experiment("graph_degree", "graph_degree", "GraphRowSum (10×10, ReLU, row sum)",
               "node_accuracy", 1.0, default=True),
    Experiment("gcn", "gcn", "two-layer GCN 1→10→1", "node_accuracy", 0.5769, default=True),
    Experiment("gin", "gin", "GIN (sum aggregation)", "node_accuracy", None, default=True),
    Experiment("mnist_0_0", "mnist_translation", "MLP, (b, b') = (0, 0)", "accuracy", 0.66,
               {"offsets": (0, 0), "lam": 0.0}, max_seeds=1),
    Experiment("mnist_16_4", "mnist_translation", "MLP, (b, b') = (16, 4)", "accuracy", 0.8368,
               {"offsets": (16, 4)}, max_seeds=1),
    Experiment("mnist_8_4", "mnist_translation", "MLP, (b, b') = (8, 4)", "accuracy", 0.829,
               {"offsets": (8, 4)}, max_seeds=1),
    Experiment("mnist_16_2", "mnist_translation", "MLP, (b, b') = (16, 2)", "accuracy", 0.8216,
               {"offsets": (16, 2)}, max_seeds=1),
    Experiment("mnist_1_2", "mnist_translation", "MLP, (b, b') = (1, 2) = (b, s·b)", "accuracy",
               None, {"offsets": (1, 2)}, max_seeds=1,
               note="b' = s·b: a true stride-2 translation (not in the report)"),
    Experiment("mnist_0_0_long", "mnist_translation", "MLP, (0, 0), 8 epochs, cosine lr",
               "accuracy", None, {"offsets": (0, 0), "lam": 0.0}, epochs=8, max_seeds=2,
               lr_schedule="cosine",
               note="better training, no sharing: the control for the row below"),
    Experiment("mnist_1_2_long", "mnist_translation",
               "MLP, (1, 2), λ=10, 8 epochs, cosine lr", "accuracy", None,
               {"offsets": (1, 2), "lam": 10.0}, epochs=8, max_seeds=2,
               lr_schedule="cosine", default=True,
               note="better training with sharing along a true stride-2 translation, at the "
                    "strength where the mean-reduced penalty's gradient (λ/24.6M per weight) "
                    "meets the data gradient"),
    Experiment("mnist_16_4_long", "mnist_translation",
               "MLP, (16, 4), λ=10, 8 epochs, cosine lr", "accuracy", None,
               {"offsets": (16, 4), "lam": 10.0}, epochs=8, max_seeds=2,
               lr_schedule="cosine",
               note="the report's offsets with the same sharing strength and training as the "
                    "row above: does b' = s·b beat the report's choice?"),
    Experiment("mnist_cnn", "mnist_cnn", "CNN baseline", "accuracy", 0.8804, max_seeds=1,
               default=True),
    # Complete sharing (issue 9): one OffsetSharing generator per translation axis, at the
    # recipe of the default rows above, against no sharing and the diagonal form.
    Experiment("blob2d_no_sharing", "blob2d_translation", "MLP, ELU, no sharing, tuned training",
               "accuracy", None, {"activation": "elu", "lam": 0.0}, learning_rate=0.1,
               note="the control of the tuned row: the same training without OffsetSharing"),
    Experiment("blob2d_complete", "blob2d_translation",
               "MLP, ELU, complete sharing, tuned training", "accuracy", None,
               {"activation": "elu", "lam": 0.1, "sharing_form": "complete"}, learning_rate=0.1,
               note="the tuned row with OffsetSharing(form=\"complete\"): one generator per "
                    "translation axis, (b, b') = (1, 1), so the penalty ties the whole 2D "
                    "translation group (the tuned row's diagonal form ties only the chains "
                    "(i, j) → (i+1, j+1))"),
    Experiment("blob2d_complete_lam2", "blob2d_translation",
               "MLP, ELU, complete sharing λ=2, tuned training", "accuracy", None,
               {"activation": "elu", "lam": 2.0, "sharing_form": "complete"}, learning_rate=0.1,
               note="the row above at λ=2, the λ of {0.1, 1, 2, 3, 5, 10, 100, 1000} with the "
                    "best validation accuracy of the projected (compact) model, seed 0 "
                    "(benchmarks/complete_sharing_sweep.py): at λ=0.1 the penalty keeps "
                    "only about a third of ‖W‖² in the convolution subspace, from λ=3 on the "
                    "tied model learns too slowly for 10 epochs"),
    Experiment("mnist_complete_long", "mnist_translation",
               "MLP, (1, 2) complete, λ=10, 8 epochs, cosine lr", "accuracy", None,
               {"offsets": (1, 2), "lam": 10.0, "sharing_form": "complete"}, epochs=8,
               max_seeds=2, lr_schedule="cosine",
               note="the default row's recipe with OffsetSharing(form=\"complete\"): one "
                    "generator per translation axis, so the penalty ties the whole 2D "
                    "stride-2 translation group, not the diagonal chains only"),
    Experiment("mnist_complete_long_elu", "mnist_translation",
               "MLP, ELU, (1, 2) complete, λ=10, 8 epochs, cosine lr", "accuracy", None,
               {"activation": "elu", "offsets": (1, 2), "lam": 10.0, "sharing_form": "complete"},
               epochs=8, max_seeds=2, lr_schedule="cosine",
               note="the row above with ELU instead of ReLU"),
    Experiment("mnist_complete_long_lam100", "mnist_translation",
               "MLP, (1, 2) complete, λ=100, 8 epochs, cosine lr", "accuracy", None,
               {"offsets": (1, 2), "lam": 100.0, "sharing_form": "complete"}, epochs=8,
               max_seeds=2, lr_schedule="cosine",
               note="the complete-sharing row at ten times the strength: does a stronger "
                    "tie bring the projected (compact) model to the MLP without "
                    "fine-tuning, and at what cost to the MLP?"),
    Experiment("mnist_complete_long_lam30", "mnist_translation",
               "MLP, (1, 2) complete, λ=30, 8 epochs, cosine lr", "accuracy", None,
               {"offsets": (1, 2), "lam": 30.0, "sharing_form": "complete"}, epochs=8,
               max_seeds=2, lr_schedule="cosine",
               note="between the λ=10 and λ=100 rows: where the trade between the MLP's "
                    "accuracy and how exactly it ties lies"),
    _complete_schedule_row(
        "mnist_complete_long_lam10to30", 6,
        "a λ schedule (symzoo.training.SharingSchedule): the λ=10 row's first six epochs, "
        "then λ=30 for the last two, to tie the templates after they have learned"),
    _complete_schedule_row(
        "mnist_complete_long_lam10to30_mid", 4,
        "the schedule above with the stronger λ from half-way, while the learning rate is "
        "still half its start"),
    _complete_schedule_row(
        "mnist_complete_long_lam10to30_early", 2,
        "the schedule above with the stronger λ after two epochs"),
    _complete_schedule_row(
        "mnist_complete_long_lam10to30_first", 1,
        "the schedule above with the stronger λ after one epoch"),
    Experiment("mnist_search_best_long", "mnist_translation",
               "MLP, (2, 2) diagonal, λ=0.72, lr 0.044, 8 epochs, cosine lr", "accuracy", None,
               {"offsets": (2, 2), "lam": 0.7155, "sharing_form": "diagonal"},
               learning_rate=0.04381, epochs=8, max_seeds=2, lr_schedule="cosine",
               note="the best trial of the search in tuning/mnist_translation/ (6k digits, "
                    "2 epochs per trial) trained at the default row's budget"),
)

_KERNEL_KIND = {
    "set_sum": "set",
    "blob1d_translation": "blob1d",
    "blob2d_translation": "blob2d",
    "mnist_translation": "mnist",
    "graph_degree": "graph",
}
_SAMPLE_KIND = {
    "set_sum": None,
    "blob1d": "blob1d",
    "blob2d": "blob2d",
    "padded_mnist": "mnist",
    "graph_degree": "graph",
}
LOWER_IS_BETTER = {"l1"}


def experiments(names=None):
    """The experiments whose row or model is in `names` (all when empty)."""
    if not names:
        return list(EXPERIMENTS)
    known = {e.row for e in EXPERIMENTS} | {e.model for e in EXPERIMENTS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(
            f"Expected experiment rows or zoo model names from {sorted(known)}. "
            f"Received: {unknown}"
        )
    return [e for e in EXPERIMENTS if e.row in names or e.model in names]


def _kernel(model):
    for layer in model.layers:
        if hasattr(layer, "penalties") and hasattr(layer, "kernel"):
            return np.asarray(layer.kernel.numpy() if hasattr(layer.kernel, "numpy") else layer.kernel)
    return None


def _train_root(root):
    """Where the training runs of a reproduce rooted at `root` go (see the module doc)."""
    if pathlib.Path(root).resolve() == pathlib.Path.cwd().resolve():
        return pathlib.Path(root) / "runs" / "reproduce"  # --write-repo / --out .
    return pathlib.Path(root) / "train"


def _run_experiment(exp, seeds, quick, out_root, data_dir, epochs, verbose):
    from symzoo import metrics as metrics_lib
    from symzoo import training

    per_seed, extras, runs = [], {}, []
    for seed in seeds:
        start = time.time()
        result = training.train(
            exp.model,
            epochs=epochs or (None if quick else exp.epochs),  # quick: QUICK_EPOCHS
            seed=seed,
            data_seed=0,
            out=_train_root(out_root) / exp.row / f"seed{seed}",
            model_kwargs=dict(exp.model_kwargs),
            batch_size=exp.batch_size,
            learning_rate=exp.learning_rate,
            lr_schedule=exp.lr_schedule,
            sharing_schedule=exp.sharing_schedule,
            quick=quick,
            verbose=verbose,
            data_dir=data_dir,
            resume=True,
        )
        value = float(result["metrics"][exp.metric])
        per_seed.append(value)
        kernel = _kernel(result["model"])
        if exp.model == "set_sum" and kernel is not None:
            extras.setdefault("column_sum_error", []).append(
                float(metrics_lib.column_sum_error(kernel))
            )
        runs.append(
            {
                "seed": seed,
                "value": value,
                "metrics": result["metrics"],
                "epochs": int(result.get("epochs", epochs or 0) or 0),
                "learning_rate": result.get("learning_rate"),
                "batch_size": result.get("batch_size"),
                "lr_schedule": result.get("lr_schedule"),
                "sharing_schedule": result.get("sharing_schedule"),
                "seconds": time.time() - start,
                "model": result["model"],
                "kernel": kernel,
            }
        )
        print(f"[reproduce] {exp.row} seed {seed}: test {exp.metric} = {value:.4g}", flush=True)
    return per_seed, extras, runs


def _summary(values):
    arr = np.asarray(values, dtype="float64")
    return float(arr.mean()), float(arr.std(ddof=0))


def _num(value):
    """A plain number: 4 decimals, scientific notation below 1e-3, "–" for None."""
    return _format.number(value, nonfinite=None)


def _fmt(metric, value):
    if value is None or metric in LOWER_IS_BETTER or metric.endswith("error"):
        return _num(value)
    return f"{100 * value:.2f}%"


def _row_markdown(row):
    metric = row["metric"]
    ours = f"{_fmt(metric, row['mean'])} ± {_fmt(metric, row['std']).rstrip('%')}"
    if metric not in LOWER_IS_BETTER:
        ours = f"{100 * row['mean']:.2f} ± {100 * row['std']:.2f}%"
    lines = [
        f"| {row['label']} | test {metric} | {ours} | {len(row['seeds'])} | "
        f"{row['epochs']} | {_fmt(metric, row['report'])} |"
    ]
    for name, extra in row.get("extra_metrics", {}).items():
        lines.append(
            f"| {row['label']} | {name} | {_fmt(name, extra['mean'])} ± {_fmt(name, extra['std'])} | "
            f"{len(row['seeds'])} | {row['epochs']} | {_fmt(name, extra.get('report'))} |"
        )
    return lines


TABLE_HEADER = [
    "| experiment | metric | ours (mean ± std) | seeds | epochs | report |",
    "|---|---|---|---|---|---|",
]


def _merge_rows(path, rows, quick):
    """`rows` plus the rows of an earlier results.json that this invocation did not re-run.

    Re-running one row (``symzoo reproduce mnist_8_4``) must not drop the model's other rows.
    Rows are kept in `EXPERIMENTS` order; an earlier file of the other mode (``--quick`` or
    not) or a row no longer in `EXPERIMENTS` is dropped.
    """
    order = {e.row: i for i, e in enumerate(EXPERIMENTS)}
    defaults = {e.row: e.default for e in EXPERIMENTS}
    merged = {r["row"]: r for r in rows}
    if path.exists():
        try:
            earlier = json.loads(path.read_text())
        except ValueError:
            earlier = {}
        if earlier.get("quick") == quick:
            for row in earlier.get("rows", []):
                if row.get("row") in order and row["row"] not in merged:
                    # which row ships the pretrained model is EXPERIMENTS' call, not the file's
                    merged[row["row"]] = {**row, "default": defaults[row["row"]]}
    return sorted(merged.values(), key=lambda r: order.get(r["row"], len(order)))


def _write_model_folder(model_name, rows, runs_by_row, folder, saved_root, quick):
    from symzoo import datasets, models, plots, training

    folder.mkdir(parents=True, exist_ok=True)
    spec = models.spec(model_name)
    rows = _merge_rows(folder / "results.json", rows, quick)
    payload = {
        "model": model_name,
        "dataset": spec.dataset,
        "quick": quick,
        "command": f"symzoo reproduce {model_name}" + (" --quick" if quick else ""),
        "rows": rows,
    }
    (folder / "results.json").write_text(json.dumps(payload, indent=2) + "\n")
    table = TABLE_HEADER + [line for row in rows for line in _row_markdown(row)]
    (folder / "results.md").write_text(
        f"# {model_name}: results\n\nWritten by `{payload['command']}`.\n\n"
        + "\n".join(table)
        + "\n"
    )
    figures = []
    kind = _KERNEL_KIND.get(model_name)
    for row in rows:
        if row["row"] not in runs_by_row:  # kept from an earlier invocation
            if (folder / f"kernel_{row['row']}.png").exists():
                figures.append(f"kernel_{row['row']}.png")
            continue
        run = runs_by_row[row["row"]][0]
        if kind and run["kernel"] is not None:
            path = folder / f"kernel_{row['row']}.png"
            plots.plot_kernel(run["kernel"], kind, path, title=f"{model_name}: {row['label']}")
            figures.append(path.name)
    sample_kind = _SAMPLE_KIND.get(spec.dataset)
    if sample_kind:
        try:
            data = datasets.load(
                spec.dataset, seed=0, **_small_sizes(spec.dataset), **_data_dir_kw(spec.dataset)
            )
            path = folder / "samples.png"
            plots.plot_samples(*data.test, sample_kind, path, title=f"{spec.dataset} test samples")
            figures.append(path.name)
        except Exception as err:  # a figure must not lose the results
            print(f"[reproduce] no sample figure for {model_name}: {err}", file=sys.stderr)
    # Pretrained model of the default row (seed 0).
    default = [r for r in rows if r["default"] and r["row"] in runs_by_row]
    exported = None
    if default:
        row = default[0]
        run = runs_by_row[row["row"]][0]
        target = saved_root / model_name
        training.export(  # model.keras + manifest: one copy of the weights in git
            run["model"],
            target,
            name=model_name,
            saved_model=False,
            extra={
                "row": row["row"],
                "hyperparameters": {**spec.hyperparameters, **row["model_kwargs"]},
                "data_seed": 0,
                "seed": run["seed"],
                "epochs": row["epochs"],
                "learning_rate": row.get("learning_rate"),
                "lr_schedule": row.get("lr_schedule"),
                "sharing_schedule": row.get("sharing_schedule"),
                "batch_size": row.get("batch_size"),
                "test_metric": row["metric"],
                "test_value": run["value"],
                "quick": quick,
            },
        )
        exported = target
    elif (saved_root / model_name / "manifest.json").exists():
        exported = saved_root / model_name  # exported by an earlier invocation
    _write_card(model_name, spec, rows, figures, folder, exported, payload["command"])
    return table


def _small_sizes(dataset):
    return {
        "set_sum": {"sizes": (10, 10, 64)},
        "blob1d": {"sizes": (10, 10, 64)},
        "blob2d": {"sizes": (10, 10, 64)},
        "padded_mnist": {"sizes": (10, 10, 64)},
        "graph_degree": {"num_graphs": 200},
    }[dataset]


def _data_dir_kw(dataset):
    return {"data_dir": os.environ.get("SYMZOO_MNIST_DIR")} if dataset == "padded_mnist" else {}


def _write_card(model_name, spec, rows, figures, folder, exported, command):
    hp = ", ".join(f"`{k}={v!r}`" for k, v in spec.hyperparameters.items())
    lines = [
        f"# {model_name}",
        "",
        spec.description,
        "",
        "## Data",
        "",
        f"`symzoo.datasets.{spec.dataset}` (data seed 0; see its docstring for the generative "
        "definition and the split sizes).",
        "",
        "## Hyperparameters",
        "",
        f"Defaults: {hp}; Adam, learning rate {spec.learning_rate}, batch size "
        f"{spec.batch_size}, {spec.epochs} epochs. Rows below override what they name.",
        "",
        "## Results",
        "",
        f"Reproduce with `{command}` (add `--seeds N`). Test split; mean ± std over seeds.",
        "",
        *TABLE_HEADER,
        *[line for row in rows for line in _row_markdown(row)],
        "",
    ]
    for row in rows:
        changes = [f"`{k}={v!r}`" for k, v in row.get("model_kwargs", {}).items()]
        if row.get("note") or changes:
            lines.append(f"- {row['label']}: " + "; ".join(
                ([f"settings {', '.join(changes)}"] if changes else [])
                + ([row["note"]] if row.get("note") else [])))
    notes = folder / "NOTES.md"
    if notes.exists():
        lines += ["", notes.read_text().strip(), ""]
    for pattern, heading, intro in _STUDY_SECTIONS:
        studies = sorted(folder.glob(pattern))
        if studies:
            lines += ["", f"## {heading}", "", intro, ""]
            for study in studies:
                lines += [study.read_text().strip(), ""]
    orbit_md = _orbit_markdown(model_name, folder)
    if orbit_md:
        lines += ["", "## Orbit generalisation", "", orbit_md, ""]
    symmetry = folder / "inspect" / "symmetry.json"
    if symmetry.exists():
        lines += ["", "## Symmetry analysis", "",
                  f"Written by `symzoo inspect saved_models/{model_name} --out "
                  f"models/{model_name}/inspect` on the pretrained model (full report with "
                  "heatmaps: [inspect/report.md](inspect/report.md)).", "",
                  _symmetry_markdown(json.loads(symmetry.read_text())), ""]
    if exported:
        which = "seed 0 of the default row"
        try:
            manifest = json.loads((pathlib.Path(exported) / "manifest.json").read_text())
            label = {r["row"]: r["label"] for r in rows}.get(manifest.get("row"))
            if label:
                which = (f"seed {manifest.get('seed', 0)} of the row \"{label}\", test "
                         f"{manifest['test_metric']} {_fmt(manifest['test_metric'], manifest['test_value'])}")
        except (OSError, ValueError, KeyError):
            pass
        lines += [
            "",
            "## Pretrained model",
            "",
            f"`saved_models/{model_name}/` ({which}): load it with "
            f"`symzoo.models.{model_name}(weights=\"pretrained\")` (installed with the "
            f"package); for plain TensorFlow, `symzoo export {model_name} --pretrained --out "
            f"DIR` writes a SavedModel, then `tf.saved_model.load(\"DIR/saved_model\").serve(x)`. "
            "`manifest.json` holds the sha256 of `model.keras` and the test metric; "
            "`symzoo reproduce --pretrained` re-evaluates it on the full test split.",
        ]
    if figures:
        lines += ["", "## Figures", ""] + [f"![{f}]({f})" for f in figures]
    (folder / "README.md").write_text("\n".join(lines) + "\n")


#: Study tables a card includes when their Markdown lies in its folder (written by the
#: benchmark scripts): (glob, heading, introduction).
_STUDY_SECTIONS = (
    ("discovery.md", "Discovery without the prior",
     "Sharing found by the prior-free all-pairs penalty (subgradient and exact proximal "
     "step) against no penalty and the penalty told the symmetry "
     "(`python -m symzoo reproduce --discovery`; all tasks in "
     "[models/discovery/discovery.md](../discovery/discovery.md)):"),
    ("sharing_study*.md", "Sharing-strength study",
     "What limits the MLP: the same budget for no sharing, the report's sharing, stronger "
     "sharing along a true translation and perfectly tied templates "
     "(`benchmarks/mnist_sharing_study.py`; raw numbers in the `sharing_study*.json` files "
     "beside this card):"),
    ("tuning_study.md", "Training-settings study",
     "Training settings tried, chosen on the validation split "
     "(`benchmarks/small_tasks_study.py`, raw numbers in [tuning_study.json](tuning_study.json)):"),
    ("diagonal_extraction.md", "Extraction along the subgroup the penalty ties",
     "`OffsetSharing((b, b'))` shifts both translation axes by the same b, so it ties templates "
     "along diagonal chains only; the full 2D Reynolds projection of the symmetry analysis "
     "averages the chains together. Projecting onto the diagonal translations instead "
     "(`benchmarks/diagonal_extraction.py`, [diagonal_extraction.json](diagonal_extraction.json)):"),
    ("complete_sweep.md", "Complete sharing: strength",
     "`OffsetSharing(form=\"complete\")` ties the whole 2D translation group. Its λ, chosen "
     "on the validation split (`benchmarks/complete_sharing_sweep.py`, "
     "[complete_sweep.json](complete_sweep.json)):"),
    ("complete_extraction*.md", "Extraction of the complete-sharing MLP",
     "With complete sharing the full 2D Reynolds projection is the projection onto what the "
     "penalty ties, and the compact model (circular padding + one strided convolution "
     "template per class + the activation + the mean over translations) computes the "
     "projected MLP's function (`benchmarks/complete_extraction.py`; raw numbers in the "
     "`complete_extraction*.json` files beside this card):"),
    ("speed.md", "Training speed", "Written by `benchmarks/mnist_translation_speed.py` (full table: [benchmarks/results/mnist_translation_speed.md](../../benchmarks/results/mnist_translation_speed.md)):"),
)


def _orbit_markdown(model_name, folder):
    """The orbit-generalisation section of a translation model's card, or None.

    The experiment trains the MLP and its CNN baseline together, so both cards read every
    ``models/<mlp>/orbit*/orbit.json`` (written by ``symzoo inspect <mlp> --orbit --out
    models/<mlp>/orbit[_tag]``, e.g. once with the MLP's defaults and once with ``--set``).
    """
    from symzoo.symmetry import orbit

    if model_name not in orbit.PAIRS:
        return None
    mlp = orbit.PAIRS[model_name][1]
    paths = sorted((folder.parent / mlp).glob("orbit*/orbit.json"))
    if not paths:
        return None
    parts = [
        "Trained on examples whose object lies in a part of the translation orbit only, "
        "tested everywhere; `/projected` is the MLP with its kernel projected onto the "
        "translation-equivariant subspace, `/compact` the compact convolution extracted from it "
        "(`symzoo.symmetry.extraction.extract`: the same function with one template per "
        "class), `/compact+finetune` that compact model fine-tuned on the same restricted "
        "training split (`--finetune-epochs`; epochs and learning rate in the JSON), and "
        "`/compact_from_scratch` the control: the same compact architecture trained from "
        "fresh initial weights with the same budget."
    ]
    for path in paths:
        result = json.loads(path.read_text())
        rel = path.relative_to(folder.parent / mlp).as_posix()
        command = result.get("command") or (
            f"symzoo inspect {mlp} --orbit --out models/{mlp}/{path.parent.name}")
        settings = result.get("mlp_kwargs") or {}
        table = "\n".join(
            line for line in orbit.to_markdown(result).splitlines() if not line.startswith("## ")
        ).strip()
        parts.append(
            f"MLP {'with ' + ', '.join(f'`{k}={v!r}`' for k, v in settings.items()) if settings else 'at its defaults'}"
            f" (written by `{command}`; [{rel}](../{mlp}/{rel})):\n\n{table}"
        )
    return "\n\n".join(parts)


def _symmetry_markdown(data):
    """The card's summary of a `symzoo.symmetry.report.inspect` result (symmetry.json)."""
    group = data.get("group", {})
    lines = [
        f"Group: {group.get('description', group.get('name', '?'))}; "
        f"{group.get('num_elements_sampled')} sampled elements on {group.get('examples')} "
        "test inputs. Equivariance error: mean (max) of ‖f(g·x) − ρ(g)·f(x)‖ / ‖f(x)‖; "
        "transformed: the test metric on g·x (mean over g, worst g).",
        "",
        "| model | equivariance error | test metric | on transformed inputs (mean / worst) |",
        "|---|---|---|---|",
    ]
    functional = data.get("functional", {})
    info = data.get("extraction") or {}
    names = {"original": "as trained", "projected": "kernel projected (Reynolds)",
             "extracted": f"compact model ({info.get('params_after', '?'):,} params)"
             if info else "compact model"}
    for key in ("original", "projected", "extracted"):
        m = functional.get(key)
        if not m:
            continue
        test = m.get("test", {})
        metric = next(iter(test), None)
        tt = m.get("transformed_test", {})
        lines.append(
            f"| {names[key]} | {m['equivariance_error']:.3g} ({m['equivariance_error_max']:.3g}) "
            f"| {metric} {_num(test.get(metric))} | "
            f"{_num(tt.get(metric))} / {_num(tt.get(f'{metric}_worst'))} |"
        )
    for layer_name, layer in (data.get("layers") or {}).items():
        extra = ", ".join(
            f"{k} {v:.4g}" for k, v in layer.items()
            if isinstance(v, float) and k not in ("norm_share", "random_kernel_norm_share")
        )
        lines += ["", f"Kernel `{layer_name}` {tuple(layer.get('kernel_shape', ()))}: share of "
                  f"‖W‖² in the equivariant subspace {layer['norm_share']:.4f} (a random kernel: "
                  f"{layer.get('random_kernel_norm_share', float('nan')):.4f})"
                  + (f"; {extra}" if extra else "") + "."]
    if info:
        lines += ["", f"Extraction: {info['params_before']:,} → {info['params_after']:,} "
                  f"parameters ({info['reduction_factor']:.0f}×); max |compact − projected| "
                  f"output {info.get('max_abs_diff_vs_projected', float('nan')):.2g}."]
    return "\n".join(lines)


README_HEADER = [
    "| model | experiment | metric | ours (mean ± std) | seeds | epochs | report |",
    "|---|---|---|---|---|---|---|",
]


def _update_readme(readme, tables, quick, seeds, wall):
    """Rewrites the README's results table from every ``models/*/results.json`` on disk.

    `tables` (this invocation's tables) is kept for the rows of models that have no
    results.json yet; rows written by earlier invocations stay in the table. The line above
    the table gives the recorded run time of the rows (the ``seconds`` of each run in the
    results files) and of this invocation (`wall`, None for ``--cards-only``).
    """
    models_dir = readme.parent / "models"
    order = [e.model for e in EXPERIMENTS]
    found, seconds = {}, 0.0
    for path in models_dir.glob("*/results.json") if models_dir.is_dir() else []:
        payload = json.loads(path.read_text())
        if payload.get("quick", False) != quick:
            continue
        found[payload["model"]] = [
            line for row in payload["rows"] for line in _row_markdown(row)
        ]
        seconds += sum(sum(row.get("seconds", [])) for row in payload["rows"])
    tables = {**{k: v[len(TABLE_HEADER):] for k, v in tables.items()}, **found}
    invocation = (
        f"last invocation: seeds 0..{len(seeds) - 1}, {wall / 60:.1f} min"
        if wall is not None else "last rewritten by `symzoo reproduce --cards-only`"
    )
    lines = [
        README_START,
        f"Written by `symzoo reproduce{' --quick' if quick else ''}` from every "
        f"`models/*/results.json` ({invocation}); test split, mean ± std over the seeds in the "
        f"table. The runs behind these rows took {seconds / 60:.0f} min of training and "
        "evaluation on this machine (the `seconds` recorded in the results files; a resumed run "
        "counts its last part only). Each model card in `models/<name>/` says more.",
        "",
        *README_HEADER,
    ]
    for model_name in sorted(tables, key=lambda n: order.index(n) if n in order else 99):
        lines += [f"| `{model_name}` {line}" for line in tables[model_name]]
    lines.append(README_END)
    text = readme.read_text() if readme.exists() else ""
    block = "\n".join(lines)
    if README_START in text and README_END in text:
        head, rest = text.split(README_START, 1)
        _, tail = rest.split(README_END, 1)
        text = head + block + tail
    else:
        text = text.rstrip() + "\n\n## Results\n\n" + block + "\n"
    readme.write_text(text)


def default_root(quick=False):
    """``./runs/quick`` with `quick`, else ``./runs/reproduce`` (in the current directory)."""
    return QUICK_ROOT if quick else DEFAULT_ROOT


def reproduce(names=None, seeds=3, quick=False, out=None, data_dir=None, epochs=None,
              verbose="auto", update_readme=True):
    """Runs the experiments and writes results, figures, cards and pretrained models.

    Args:
        names: rows or zoo model names (all when empty).
        seeds: number of seeds (0..seeds-1); rows with ``max_seeds`` use fewer.
        quick: tiny data and `symzoo.training.QUICK_EPOCHS` epochs (tests, smoke runs).
        out: root directory; default `default_root` (``./runs/reproduce``, or
            ``./runs/quick`` with `quick`). The repository's committed folders are
            written only when `out` is the repository root (CLI: ``--write-repo``).
        data_dir: directory of the MNIST IDX files.
        epochs: overrides every row's epochs.
        verbose: Keras' fit verbosity; ``"auto"``: 1 on a terminal, else 2.
        update_readme: rewrite the results table of ``ROOT/README.md``.
    Returns:
        dict: row → results.
    """
    from symzoo import _validation

    seeds = _validation.positive_int("seeds", seeds)
    if epochs is not None:
        epochs = _validation.positive_int("epochs", epochs)
    selected = experiments(names)
    if data_dir is not None:
        os.environ["SYMZOO_MNIST_DIR"] = str(data_dir)
    root = pathlib.Path(out) if out else default_root(quick)
    start = time.time()
    by_model, runs_by_row, results = {}, {}, {}
    for exp in selected:
        n = min(seeds, exp.max_seeds or seeds)
        per_seed, extras, runs = _run_experiment(
            exp, list(range(n)), quick, root, data_dir, epochs, verbose
        )
        mean, std = _summary(per_seed)
        row = {
            "row": exp.row,
            "label": exp.label,
            "metric": exp.metric,
            "mean": mean,
            "std": std,
            "values": per_seed,
            "seeds": list(range(n)),
            "data_seed": 0,
            "epochs": runs[0]["epochs"],
            "learning_rate": runs[0]["learning_rate"],
            "batch_size": runs[0]["batch_size"],
            "lr_schedule": runs[0]["lr_schedule"],
            "sharing_schedule": runs[0].get("sharing_schedule"),
            "seconds": [r["seconds"] for r in runs],
            "report": exp.report,
            "model_kwargs": {k: list(v) if isinstance(v, tuple) else v
                             for k, v in exp.model_kwargs.items()},
            "default": exp.default,
            "note": exp.note,
            "per_seed_metrics": [r["metrics"] for r in runs],
        }
        if extras:
            row["extra_metrics"] = {
                k: {"mean": _summary(v)[0], "std": _summary(v)[1], "values": v,
                    # the report's figure belongs to the report's row, not to tuned variants
                    "report": 0.1145 if k == "column_sum_error" and exp.report is not None
                    else None}
                for k, v in extras.items()
            }
        by_model.setdefault(exp.model, []).append(row)
        runs_by_row[exp.row] = runs
        results[exp.row] = row
    tables = {}
    for model_name, rows in by_model.items():
        tables[model_name] = _write_model_folder(
            model_name, rows, runs_by_row, root / "models" / model_name,
            root / "saved_models", quick,
        )
    if update_readme:
        _update_readme(root / "README.md", tables, quick, list(range(seeds)), time.time() - start)
    _print_summary(results, root, by_model, update_readme, time.time() - start)
    return results


def _print_summary(results, root, by_model, update_readme, wall):
    """The closing summary of `reproduce`: one line per row, then where it wrote."""
    print(f"\n[reproduce] {len(results)} row(s) in {wall / 60:.1f} min (test split):")
    width = max((len(r) for r in results), default=0)
    for row, res in results.items():
        metric = res["metric"]
        report = "" if res["report"] is None else f"  (report {_fmt(metric, res['report'])})"
        print(f"  {row:<{width}}  {metric} {_fmt(metric, res['mean'])} ± "
              f"{_fmt(metric, res['std'])} over {len(res['seeds'])} seed(s){report}")
    print(f"[reproduce] wrote under {root.resolve()}:")
    for model_name in by_model:
        print(f"  {root / 'models' / model_name}/ (results, card, figures)")
    for model_name in [m for m, rows in by_model.items() if any(r["default"] for r in rows)]:
        print(f"  {root / 'saved_models' / model_name}/ (model.keras + manifest.json)")
    if update_readme:
        print(f"  {root / 'README.md'} (results table)")
    print(f"  {_train_root(root)}/ (training runs)", flush=True)


# --------------------------------------------------------------------------
# --pretrained: evaluate the shipped models
# --------------------------------------------------------------------------


def _row_of(manifest):
    rows = {e.row: e for e in EXPERIMENTS}
    return rows.get(manifest.get("row"))


def _pretrained_data(spec, data_seed):
    """The full test split of `spec`'s data set (padded MNIST: the test split only).

    Padded MNIST's test split does not depend on the train/val sizes (see
    `symzoo.datasets.padded_mnist`), so ``sizes=(1, 1, 10000)`` gives the full
    10k test images without building the 60k training canvases.
    """
    from symzoo import datasets

    kwargs = dict(spec.dataset_kwargs or {})
    if spec.dataset == "padded_mnist":
        kwargs.setdefault("sizes", (1, 1, 10000))
    if spec.dataset in ("padded_mnist", "torus_mnist"):
        kwargs["data_dir"] = os.environ.get("SYMZOO_MNIST_DIR")
    return datasets.load(spec.dataset, seed=data_seed, **kwargs).test


def evaluate_pretrained(names=None, out=None, data_dir=None):
    """Evaluates every pretrained zoo model on its full test split; prints and writes the table.

    For each zoo model (or those in `names`) with ``saved_models/<name>/manifest.json``:
    builds ``models.<name>(weights="pretrained")`` (sha256-checked), evaluates it on the test
    split of its data set (the manifest's data seed; padded MNIST needs the IDX files, from
    `data_dir` or ``$SYMZOO_MNIST_DIR``), and compares with the figure recorded in the
    manifest when the model was exported and with the report's figure of its row. A model
    whose data or weights cannot be had gets a row saying why; the others still run.

    Writes ``results.json`` and ``results.md`` into `out` (default ``./runs/pretrained``).

    Returns:
        dict: model name → row (``value`` None with ``error`` when it could not run).
    """
    from symzoo import models, training
    from symzoo.models import weights

    if data_dir is not None:
        os.environ["SYMZOO_MNIST_DIR"] = str(data_dir)
    selected = list(names) if names else models.list()
    for name in selected:
        models.spec(name)  # ValueError for an unknown name
    root = pathlib.Path(out) if out else PRETRAINED_ROOT
    start = time.time()
    print(f"[reproduce] pretrained models from {weights.saved_models_dir()}", flush=True)
    rows = {}
    for name in selected:
        spec = models.spec(name)
        t0 = time.time()
        row = {"model": name, "dataset": spec.dataset, "value": None}
        try:
            manifest = weights.read_manifest(weights.pretrained_dir(name), name)
        except FileNotFoundError as err:
            row["error"] = f"no pretrained weights ({_one_line(err)})"
            rows[name] = row
            print(f"[reproduce] {name}: {row['error']}", flush=True)
            continue
        exp = _row_of(manifest)
        metric = manifest.get("test_metric") or (exp.metric if exp else "accuracy")
        row.update(
            row_name=manifest.get("row"),
            label=exp.label if exp else "",
            metric=metric,
            recorded=manifest.get("test_value"),
            # the row's report figure; for a row the report does not have (a tuned
            # variant), the report's figure for the model, marked with † in the table
            report=exp.report if exp and exp.report is not None else spec.report_value,
            report_of_model=not (exp and exp.report is not None),
            data_seed=manifest.get("data_seed", 0),
            epochs=manifest.get("epochs"),
        )
        try:
            x, y = _pretrained_data(spec, row["data_seed"])
        except FileNotFoundError as err:
            where = os.environ.get("SYMZOO_MNIST_DIR")
            row["error"] = (
                "MNIST IDX files not found: put train-images-idx3-ubyte, "
                "train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte "
                f"(optionally .gz) in a folder and pass --data-dir or set SYMZOO_MNIST_DIR"
                + (f" (now {where!r})" if where else "") + f" [{_one_line(err)}]"
            )
            rows[name] = row
            print(f"[reproduce] {name}: {row['error']}", flush=True)
            continue
        try:
            model = models.get(name)(weights="pretrained")  # sha256-checked
        except (ValueError, OSError) as err:  # a changed or unreadable file: say so, go on
            row["error"] = f"could not load the pretrained weights ({_one_line(err)})"
            rows[name] = row
            print(f"[reproduce] {name}: {row['error']}", flush=True)
            continue
        got = training.evaluate_task_dict(model, x, y, spec.task)
        row.update(value=float(got[metric]), examples=int(len(y)), seconds=time.time() - t0)
        rows[name] = row
        recorded = "" if row["recorded"] is None else f" (recorded {_fmt(metric, row['recorded'])})"
        print(f"[reproduce] {name}: test {metric} {_fmt(metric, row['value'])} on "
              f"{len(y)} examples{recorded}, {row['seconds']:.1f} s", flush=True)
        del model
    wall = time.time() - start
    root.mkdir(parents=True, exist_ok=True)
    payload = {"command": "symzoo reproduce --pretrained", "seconds": wall,
               "saved_models": str(weights.saved_models_dir()), "rows": list(rows.values())}
    (root / "results.json").write_text(json.dumps(payload, indent=2) + "\n")
    table = pretrained_markdown(payload)
    (root / "results.md").write_text(table + "\n")
    print("\n" + table)
    ok = sum(r["value"] is not None for r in rows.values())
    print(f"\n[reproduce] {ok} of {len(rows)} pretrained models evaluated in {wall:.0f} s; "
          f"wrote {root / 'results.json'} and {root / 'results.md'}", flush=True)
    return rows


def pretrained_markdown(payload):
    """The Markdown table of `evaluate_pretrained`'s results."""
    lines = [
        f"Written by `{payload['command']}` ({payload['seconds']:.0f} s): each pretrained model "
        "evaluated on the full test split of its data set; *recorded*: the figure in its "
        "manifest, written when it was exported; *report*: the report's figure for that row "
        "(†: the row is not in the report, e.g. tuned training; the figure is the report's "
        "for the model's own configuration; – where the report has none).",
        "",
        "| model | row | metric | this run | recorded | report | test examples |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in payload["rows"]:
        if row["value"] is None:
            lines.append(f"| `{row['model']}` | {row.get('label') or '–'} | "
                         f"{row.get('metric', '–')} | not run: {row['error']} | "
                         f"{_fmt(row.get('metric', ''), row.get('recorded'))} | "
                         f"{_fmt(row.get('metric', ''), row.get('report'))} | – |")
            continue
        metric = row["metric"]
        dagger = " †" if row.get("report_of_model") and row["report"] is not None else ""
        lines.append(
            f"| `{row['model']}` | {row['label'] or row.get('row_name') or '–'} | test {metric} | "
            f"{_fmt(metric, row['value'])} | {_fmt(metric, row['recorded'])} | "
            f"{_fmt(metric, row['report'])}{dagger} | {row['examples']} |"
        )
    return "\n".join(lines)


def _one_line(err):
    return " ".join(str(err).split()) or type(err).__name__


def refresh_cards(names=None, root=None, inspect=True, data_dir=None, quick=False):
    """Re-inspects the exported models and rewrites the model cards from results.json.

    No training: reads ``models/<name>/results.json``, runs `symzoo.symmetry.report.inspect`
    on ``saved_models/<name>/`` into ``models/<name>/inspect/`` and writes the card again.
    """
    from symzoo import models

    root = pathlib.Path(root) if root else DEFAULT_ROOT
    if data_dir is not None:
        os.environ["SYMZOO_MNIST_DIR"] = str(data_dir)
    done = []
    for folder in sorted((root / "models").glob("*/results.json")):
        model_name = folder.parent.name
        if names and model_name not in names:
            continue
        payload = json.loads(folder.read_text())
        exported = root / "saved_models" / model_name
        exported = exported if (exported / "manifest.json").exists() else None
        if inspect and exported is not None:
            from symzoo.symmetry import report

            try:
                report.inspect(str(exported), folder.parent / "inspect", name=model_name,
                               data_dir=os.environ.get("SYMZOO_MNIST_DIR"), quick=quick)
            except Exception as err:  # the card is still rewritten, without the section
                print(f"[reproduce] inspect {model_name} failed: {err}", file=sys.stderr)
        figures = sorted(p.name for p in folder.parent.glob("*.png"))
        _write_card(model_name, models.spec(model_name), payload["rows"], figures,
                    folder.parent, exported, payload["command"])
        done.append(model_name)
    return done


def add_arguments(parser):
    parser.add_argument("names", nargs="*", help="rows or zoo models (default: all)")
    parser.add_argument("--pretrained", action="store_true",
                        help="train nothing: evaluate every pretrained model on its full test "
                        "split and print the table beside the report's figures (about a "
                        "minute on 2 CPU cores; writes ./runs/pretrained or --out)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per row (default 3)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny data, 2 epochs (a smoke run; its figures are near chance)")
    parser.add_argument("--epochs", type=int, default=None, help="override every row's epochs")
    parser.add_argument("--out", default=None,
                        help="root directory to write into (default ./runs/reproduce, "
                        "./runs/quick with --quick, ./runs/pretrained with --pretrained)")
    parser.add_argument("--write-repo", action="store_true",
                        help="write the committed models/, saved_models/ and README.md table "
                        "of the repository in the current directory (run from its root)")
    parser.add_argument("--data-dir", default=None, help="MNIST IDX directory")
    parser.add_argument("--no-readme", action="store_true", help="leave README.md alone")
    parser.add_argument("--cards-only", action="store_true",
                        help="no training: inspect the exported models and rewrite the cards")
    parser.add_argument("--no-inspect", action="store_true",
                        help="with --cards-only: rewrite the cards from the files on disk "
                        "without re-running the symmetry inspection")
    parser.add_argument("--verbose", type=lambda s: s if s == "auto" else int(s),
                        choices=["auto", 0, 1, 2], default="auto",
                        help="Keras progress output (auto: 1 on a terminal, else 2)")
    parser.add_argument("--discovery", action="store_true",
                        help="run the prior-free discovery study (symzoo/discovery.py) on "
                             "the given tasks (default: all) and write models/discovery/")



def _root(args):
    """``--out``, or the current directory with ``--write-repo`` (checked to be the repo)."""
    if args.write_repo:
        if args.out is not None:
            raise ValueError("Expected --write-repo or --out, not both. Received: both")
        if args.pretrained:
            raise ValueError(
                "Expected --write-repo without --pretrained (the evaluation of the shipped "
                "models writes no committed file). Received: both"
            )
        here = pathlib.Path.cwd()
        if not ((here / "saved_models").is_dir() and (here / "symzoo").is_dir()
                and (here / "setup.py").is_file()):
            raise ValueError(
                "Expected --write-repo to be run from the symzoo repository's root (with "
                f"setup.py, symzoo/ and saved_models/). Received: the current directory {here}"
            )
        return pathlib.Path(".")
    return pathlib.Path(args.out) if args.out else None


def run(args):
    root = _root(args)
    if args.discovery:
        from symzoo import discovery

        root = root or pathlib.Path("runs") / "discovery"
        results = discovery.run(
            tasks=args.names or None, seeds=tuple(range(args.seeds)), epochs=args.epochs,
            export=root / "saved_models",
        )
        for path in discovery.write(results, root / "models"):
            print(f"wrote {path}")
        if not args.no_readme and discovery.update_readme(root / "README.md", root / "models"):
            print(f"wrote {root / 'README.md'}")
        # The cards of the models studied gain their discovery.md section.
        for name in refresh_cards(sorted({r["model"] for r in results}), root=root,
                                  inspect=False):
            print(f"rewrote the card of {name}")
        return 0
    if args.pretrained:
        try:  # one predict function per model: TF's retracing warning is noise here
            import tensorflow as tf

            tf.get_logger().setLevel("ERROR")
        except ImportError:
            pass
        evaluate_pretrained(args.names, out=root, data_dir=args.data_dir)
        return 0
    if args.cards_only:
        root = root or DEFAULT_ROOT
        done = refresh_cards(args.names, root=root, data_dir=args.data_dir,
                             inspect=not args.no_inspect)
        if not args.no_readme:
            _update_readme(root / "README.md", {}, False, [0], None)
        print(f"[reproduce] rewrote the cards of {', '.join(done) or 'no model'} under "
              f"{(root / 'models').resolve()}")
        return 0
    reproduce(
        names=args.names, seeds=args.seeds, quick=args.quick, out=root,
        data_dir=args.data_dir, epochs=args.epochs, update_readme=not args.no_readme,
        verbose=args.verbose,
    )
    return 0
