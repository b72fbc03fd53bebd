"""``symzoo inspect``: what symmetry did a trained model learn?

``symzoo inspect MODEL_OR_PATH --out DIR [--quick] [--data-dir DIR]`` writes

* ``DIR/report.md``: Markdown with the metric tables, heatmaps of the learned
  and projected kernels, data samples and the extraction result;
* ``DIR/symmetry.json``: every number of the report;
* ``DIR/*.png``: the figures; ``DIR/compact.keras``: the extracted compact
  model (when the model has a symzoo layer).

MODEL_OR_PATH is a zoo name (its pretrained weights, ``saved_models/NAME``),
a ``.keras`` file, a directory holding ``model.keras`` (a training run or an
export), or a bare TensorFlow SavedModel directory (then only the functional
metrics are computed, through ``keras.layers.TFSMLayer``).

``symzoo inspect NAME --orbit [--epochs N]`` instead runs the orbit
generalisation experiment of `symzoo.symmetry.orbit` (train on part of the
translation orbit, test on all of it) and writes ``DIR/orbit.md`` and
``DIR/orbit.json``.
"""

import json
import os
import pathlib
import time

import numpy as np

from symzoo import _format
from symzoo.datasets import quick as _quick
from symzoo.symmetry import groups as _groups
from symzoo.symmetry import metrics as _metrics
from symzoo.symmetry import projection as _projection

#: Number of test examples of the functional metrics (full run / quick).
FUNCTIONAL_EXAMPLES = 2000
QUICK_EXAMPLES = _quick.INSPECT_EXAMPLES
#: Number of sampled group elements (full run / quick).
NUM_ELEMENTS = 8
QUICK_ELEMENTS = 4


# Loading ------------------------------------------------------------------------


def _zoo_names():
    from symzoo import models

    return list(models.list())


def _manifest_name(directory):
    for file_name in ("manifest.json", "run_config.json"):
        path = pathlib.Path(directory) / file_name
        if path.is_file():
            try:
                name = json.loads(path.read_text()).get("name")
            except (ValueError, OSError, AttributeError):
                continue
            if isinstance(name, str):
                return name
    return None


def load(model_or_path_or_name):
    """Resolves the argument of `inspect` to ``(model, source, name_hint,
    functional_only)``."""
    import keras

    if isinstance(model_or_path_or_name, keras.Model):
        return model_or_path_or_name, "in-memory model", None, False
    if not isinstance(model_or_path_or_name, (str, os.PathLike)):
        raise ValueError(
            "Expected a zoo name, a path to a .keras file / model directory / "
            f"SavedModel, or a keras.Model. Received: {model_or_path_or_name!r}"
        )
    text = os.fspath(model_or_path_or_name)
    path = pathlib.Path(text).expanduser()
    from symzoo import training

    if path.exists():
        hint = _manifest_name(path if path.is_dir() else path.parent) or (
            _manifest_name(path.parent) if path.is_dir() else None
        )
        model = training.load_model(path)
        bare = path.is_dir() and not (path / "model.keras").is_file()
        functional_only = bare or not isinstance(model, keras.Model) or _has_tfsm(model)
        return model, str(path), hint, functional_only
    zoo = _zoo_names()
    if text in zoo:
        from symzoo import models

        from symzoo.errors import MissingWeightsError

        try:
            model = models.get(text)(weights="pretrained", compile=False)
        except MissingWeightsError:
            raise  # already says how to produce them
        except FileNotFoundError as err:
            raise FileNotFoundError(
                f"No pretrained weights for {text!r} ({err}). Train them first with "
                f"`symzoo reproduce {text}`, or pass a path to a .keras file or a "
                "model directory."
            ) from None
        return model, f"pretrained {text}", text, False
    raise FileNotFoundError(
        f"Expected a zoo name (one of {zoo}) or an existing path to a .keras file, a "
        f"directory with model.keras, or a SavedModel. Received: {text!r}, which is neither."
    )


def _has_tfsm(model):
    import keras

    return any(isinstance(l, keras.layers.TFSMLayer) for l in getattr(model, "layers", []))


def _input_shape(model):
    shape = getattr(model, "input_shape", None)
    if shape is None:
        inputs = getattr(model, "inputs", None)
        shape = tuple(inputs[0].shape) if inputs else None
    if isinstance(shape, list):
        shape = shape[0]
    return tuple(shape[1:]) if shape is not None else None


def dataset_tasks():
    """data set -> task, read from the zoo's specs (for models not in the zoo)."""
    from symzoo import models

    return {models.spec(n).dataset: models.spec(n).task for n in models.list()}


def _infer_dataset(model, layers, name):
    """(zoo name or None, data set, task)."""
    zoo = _zoo_names()
    tasks = dataset_tasks()
    candidates = [name, getattr(model, "name", None)]
    for candidate in candidates:
        if candidate in zoo:
            from symzoo import models

            spec = models.spec(candidate)
            return candidate, spec.dataset, spec.task
    if name is not None and name in tasks:
        return None, name, tasks[name]
    shape = _input_shape(model)
    kind = _groups.layer_kind(layers[0]) if layers else None
    dataset = _dataset_for(kind, shape)
    if dataset is not None:
        return None, dataset, tasks[dataset]
    raise ValueError(
        "Cannot tell which zoo model / data set this model belongs to. Expected "
        f"`name` to be a zoo name ({zoo}) or a data set name ({sorted(tasks)}). "
        f"Received: name={name!r} for a model named {getattr(model, 'name', None)!r} "
        f"with input shape {shape}."
    )


def _dataset_for(kind, shape):
    """The data set of the zoo models that take inputs of `shape` (and, when
    `kind` is a layer's ``symmetry_kind``, whose group is of that kind); None
    unless exactly one data set fits."""
    from symzoo import models

    if shape is None:
        return None
    found = set()
    for zoo_name in models.list():
        spec = models.spec(zoo_name)
        if tuple(spec.input_shape) != tuple(shape):
            continue
        data_kind = _groups.DATASET_KINDS.get(spec.dataset)
        if kind is not None and _groups.KIND_ALIASES.get(data_kind, data_kind) != kind:
            continue
        found.add(spec.dataset)
    return found.pop() if len(found) == 1 else None


def _test_data(dataset, zoo_name, data_seed, quick, data_dir):
    import inspect as _inspect

    from symzoo import datasets

    kwargs = {}
    if zoo_name is not None:
        from symzoo import models

        kwargs.update(models.spec(zoo_name).dataset_kwargs or {})
    if dataset == "graph_degree":
        if quick:
            kwargs["num_graphs"] = _quick.INSPECT_GRAPHS
    else:
        default = _inspect.signature(getattr(datasets, dataset)).parameters["sizes"].default
        n_test = tuple(kwargs.get("sizes", default))[2]
        if quick:
            n_test = min(n_test, QUICK_EXAMPLES)
        # Each split has its own random stream: a 1-example train split leaves
        # the test split unchanged.
        kwargs["sizes"] = (1, 0, n_test)
    if dataset == "padded_mnist" and data_dir is not None:
        kwargs["data_dir"] = os.fspath(data_dir)
    data = datasets.load(dataset, seed=data_seed, **kwargs)
    return data.test, kwargs


# Helpers ------------------------------------------------------------------------


def _jsonable(value):
    """JSON of the report: NaN and infinities become null."""
    return _format.jsonable(value, nonfinite=None)


def _fmt(value, digits=4):
    return _format.number(value, digits, sci_above=1e5, sci_digits=3, only_floats=True)


def _plot_kind(dataset):
    return _groups.DATASET_KINDS.get(dataset, "set")


def _group_for(model, layers, dataset, x):
    if layers:
        return _groups.for_layer(layers[0], input_shape=x.shape[1:])
    kind = _groups.DATASET_KINDS[dataset]
    return _groups.for_inputs(kind, x.shape[1:], strides=1)


def _describe_group(group):
    if isinstance(group, _groups.CyclicTranslation):
        return (
            f"cyclic translations of {group.shape} images by multiples of the strides "
            f"{group.strides} (np.roll), {group.order} elements; outputs invariant"
        )
    if isinstance(group, _groups.GraphNodePermutation):
        return (
            f"node permutations of {group.n}-node graphs: A → P A Pᵀ, outputs y → y[:, π] "
            "(equivariant)"
        )
    return f"permutations of the {group.n} set elements x → x[:, π]; outputs invariant"


# The report ---------------------------------------------------------------------


def inspect(
    model_or_path_or_name,
    out_dir,
    name=None,
    data_seed=0,
    quick=False,
    data_dir=None,
    num_elements=None,
    max_examples=None,
    seed=0,
):
    """Measures the symmetry a model learned and writes a report.

    Args:
        model_or_path_or_name: a zoo name (pretrained weights), a ``.keras``
            file, a directory with ``model.keras``, a SavedModel directory, or
            a `keras.Model`.
        out_dir: output directory (created).
        name: the zoo name (or data set name) when it cannot be read from the
            model (its ``name``, or the directory's manifest).
        data_seed: seed of the test data.
        quick: small test set (256 examples) and 4 group elements.
        data_dir: MNIST directory (padded_mnist only).
        num_elements: group elements sampled for the functional metrics
            (default 8, quick 4).
        max_examples: test examples used for the functional metrics (default
            2000, quick 256); task metrics use the whole test split.
        seed: seed of the sampled group elements.

    Returns:
        The dict written to ``symmetry.json``.
    """
    from symzoo import metrics as task_metrics
    from symzoo import plots

    start = time.time()
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model, source, hint, functional_only = load(model_or_path_or_name)
    name = name or hint
    from symzoo.symmetry import extraction

    layers = [] if functional_only else extraction.symzoo_layers(model)
    zoo_name, dataset, task = _infer_dataset(model, layers, name)
    (x_test, y_test), data_kwargs = _test_data(dataset, zoo_name, data_seed, quick, data_dir)
    if num_elements is None:
        num_elements = QUICK_ELEMENTS if quick else NUM_ELEMENTS
    if max_examples is None:
        max_examples = QUICK_EXAMPLES if quick else FUNCTIONAL_EXAMPLES
    x_sub = x_test[:max_examples]
    y_sub = y_test[:max_examples]
    group = _group_for(model, layers, dataset, x_test)
    kind = _plot_kind(dataset)

    result = {
        "model": getattr(model, "name", str(model)),
        "zoo_name": zoo_name,
        "source": source,
        "dataset": dataset,
        "dataset_kwargs": {k: v for k, v in data_kwargs.items() if k != "data_dir"},
        "data_seed": data_seed,
        "task": task,
        "quick": bool(quick),
        "functional_only": bool(functional_only),
        "group": {
            "name": type(group).__name__,
            "description": _describe_group(group),
            "order": group.order if not isinstance(group, _groups.SetPermutation) else None,
            "num_elements_sampled": num_elements,
            "examples": int(len(x_sub)),
        },
        "figures": {},
    }

    # Data samples.
    try:
        result["figures"]["samples"] = pathlib.Path(
            plots.plot_samples(x_test, y_test, kind, out_dir / "samples.png")
        ).name
    except Exception as err:  # noqa: BLE001 - a figure must not sink the report
        result["figures"]["samples_error"] = str(err)

    # Functional metrics of the model as given.
    def functional(m):
        err = _metrics.equivariance_error(
            m, x_sub, group, num_elements=num_elements, seed=seed, y=y_sub, task=task
        )
        return {
            "equivariance_error": err["mean"],
            "equivariance_error_max": err["max"],
            "test": task_metrics.evaluate_task(m, x_test, y_test, task),
            "transformed_test": err["transformed_task_metrics"],
        }

    result["functional"] = {"original": functional(model)}

    # Weight space, projection, extraction.
    if layers:
        result["layers"] = {}
        for layer in layers:
            lkind = extraction.layer_kind(layer)
            numbers, projected = _metrics.kernel_metrics(layer.kernel, lkind)
            plot_kind = kind if lkind == "translation" else lkind
            figures = {}
            for label, kernel in (("learned", layer.kernel), ("projected", projected)):
                file_name = f"kernel_{layer.name}_{label}.png"
                try:
                    plots.plot_kernel(
                        kernel, plot_kind, out_dir / file_name, title=f"{layer.name}: {label} kernel"
                    )
                    figures[label] = file_name
                except Exception as err:  # noqa: BLE001
                    figures[f"{label}_error"] = str(err)
            numbers["figures"] = figures
            result["layers"][layer.name] = numbers
            del projected
        projected_model, _ = extraction.project_model(model)
        result["functional"]["projected"] = functional(projected_model)
        compact, info = extraction.extract(model)
        result["functional"]["extracted"] = functional(compact)
        probe = x_sub[: min(len(x_sub), 512)]
        a = np.asarray(projected_model.predict(probe, verbose=0))
        b = np.asarray(compact.predict(probe, verbose=0))
        info["max_abs_diff_vs_projected"] = float(np.max(np.abs(a - b)))
        try:
            compact.save(out_dir / "compact.keras")
            info["saved"] = "compact.keras"
        except Exception as err:  # noqa: BLE001
            info["save_error"] = str(err)
        result["extraction"] = info
        del projected_model
    result["seconds"] = time.time() - start
    result = _jsonable(result)
    (out_dir / "symmetry.json").write_text(json.dumps(result, indent=2))
    (out_dir / "report.md").write_text(to_markdown(result))
    return result


def to_markdown(result):
    """The Markdown report of an `inspect` result."""
    title = result.get("zoo_name") or result["model"]
    lines = [
        f"# Symmetry report: {title}",
        "",
        f"- model: `{result['model']}` ({result['source']})",
        f"- data: `{result['dataset']}` test split, seed {result['data_seed']}"
        + (" (quick)" if result["quick"] else ""),
        f"- task: {result['task']}",
        f"- group: {result['group']['description']}",
        f"- functional metrics on {result['group']['examples']} test examples and "
        f"{result['group']['num_elements_sampled']} sampled group elements",
        "",
    ]
    if result["figures"].get("samples"):
        lines += ["![data samples](" + result["figures"]["samples"] + ")", ""]

    lines += [
        "## Functional symmetry",
        "",
        "Relative equivariance error: mean over x and g of ‖f(g·x) − ρ(g)·f(x)‖ / ‖f(x)‖ "
        "(ρ = identity for invariant tasks; 0 = exactly symmetric). Task metrics on the "
        "test split and on transformed test inputs (mean over g, and worst g).",
        "",
    ]
    rows = result["functional"]
    metric_names = list(next(iter(rows.values()))["test"].keys())
    header = "| model | equivariance error | " + " | ".join(
        f"test {m} | transformed {m} | worst {m}" for m in metric_names
    ) + " |"
    lines += [header, "|" + "---|" * (2 + 3 * len(metric_names))]
    for label, r in rows.items():
        cells = [label, _fmt(r["equivariance_error"])]
        for m in metric_names:
            cells += [
                _fmt(r["test"].get(m)),
                _fmt(r["transformed_test"].get(m)),
                _fmt(r["transformed_test"].get(f"{m}_worst")),
            ]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    if result.get("functional_only"):
        lines += [
            "The model was loaded from a bare SavedModel: no kernel is available, so only "
            "the functional metrics are reported.",
            "",
        ]

    for layer_name, m in (result.get("layers") or {}).items():
        lines += [
            f"## Weight space: `{layer_name}` ({m['kind']}, kernel {tuple(m['kernel_shape'])})",
            "",
            "Share of the kernel's squared norm in the equivariant subspace, "
            "‖P_G(W)‖² / ‖W‖² with P_G the Reynolds projection (1 = symmetric kernel; "
            "a random kernel gives the baseline).",
            "",
            "| metric | value |",
            "|---|---|",
            f"| norm share ‖P(W)‖²/‖W‖² | {_fmt(m['norm_share'])} |",
            f"| random-kernel norm share | {_fmt(m['random_kernel_norm_share'])} |",
            f"| relative distance ‖W − P(W)‖/‖W‖ | {_fmt(m['relative_distance'])} |",
        ]
        if m["kind"] == "set":
            lines += [
                f"| mean column sum c̄ | {_fmt(m['mean_column_sum'])} |",
                f"| mean \\|c_j − c̄\\| | {_fmt(m['column_sum_spread'])} |",
                f"| column-sum share n·c̄²/‖c‖² (random ≈ 1/n) | {_fmt(m['column_sum_share'])} |",
                f"| mean \\|c_j − 1\\| (report's metric) | {_fmt(m['column_sum_error'])} |",
                f"| norm share in α·I + β·11ᵀ | {_fmt(m['pairwise_norm_share'])} |",
            ]
        elif m["kind"] == "graph":
            lines += [
                f"| α (W ≈ α·I + β·11ᵀ) | {_fmt(m['alpha'])} |",
                f"| β | {_fmt(m['beta'])} |",
            ]
        else:
            lines += [
                f"| strides | {tuple(m['strides'])} |",
                f"| shift correlation corr(W[k,t], roll(W[k,t+1], −s)) | "
                f"{_fmt(m['shift_correlation'])} |",
            ]
        lines.append("")
        figures = m.get("figures", {})
        for label in ("learned", "projected"):
            if figures.get(label):
                lines += [f"![{label} kernel]({figures[label]})", ""]

    info = result.get("extraction")
    if info:
        lines += [
            "## Extracted compact model",
            "",
            "The projected kernel is rebuilt as a compact equivariant model that computes "
            "the same function as the projected MLP.",
            "",
        ]
        for layer_name, d in info["layers"].items():
            unit = "parameter" if d["params"] == 1 else "parameters"
            lines.append(f"- `{layer_name}` → {d['compact']} ({d['params']:,} {unit})")
        lines += [
            "",
            "| | parameters |",
            "|---|---|",
            f"| original model | {info['params_before']:,} |",
            f"| compact model | {info['params_after']:,} |",
            f"| reduction factor | {_fmt(info['reduction_factor'], 1)}× |",
            "",
            f"Largest |projected MLP − compact model| output difference: "
            f"{_fmt(info.get('max_abs_diff_vs_projected'))}."
            + (f" Saved as `{info['saved']}`." if info.get("saved") else ""),
            "",
        ]
    lines.append(f"_Computed in {result['seconds']:.1f} s._")
    lines.append("")
    return "\n".join(lines)


# CLI ----------------------------------------------------------------------------


def add_arguments(parser):
    """Arguments of ``symzoo inspect``."""
    parser.add_argument(
        "model",
        help="zoo name (pretrained weights), .keras file, directory with model.keras, "
        "or SavedModel directory",
    )
    parser.add_argument("--out", default=None, help="output directory (default: runs/inspect/<model>)")
    parser.add_argument("--name", default=None, help="zoo name when the model does not say")
    parser.add_argument("--quick", action="store_true", help="small test set, few group elements")
    parser.add_argument("--data-dir", default=None, help="directory with the MNIST IDX files")
    parser.add_argument("--data-seed", type=int, default=0, help="seed of the test data")
    parser.add_argument(
        "--orbit",
        action="store_true",
        help="run the orbit-generalisation experiment (train on part of the translation "
        "orbit, test on all of it) for a translation zoo model instead",
    )
    parser.add_argument(
        "--epochs", type=int, default=None, help="training epochs of --orbit (default 5)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed (model init for --orbit)")
    parser.add_argument(
        "--sizes", type=int, nargs=3, default=None, metavar=("TRAIN", "VAL", "TEST"),
        help="examples per split for --orbit (default: the data set's sizes)",
    )
    from symzoo._argtypes import parse_assignment

    parser.add_argument(
        "--set", action="append", type=parse_assignment, metavar="KEY=VALUE", default=None,
        help="--orbit: hyperparameter of the MLP's constructor (Python literal), e.g. "
        "--set lam=10.0 --set offsets=(1,2) --set learning_rate=0.01",
    )
    parser.add_argument(
        "--no-baseline", dest="baseline", action="store_false",
        help="--orbit: train the MLP only, not its CNN baseline",
    )
    parser.add_argument(
        "--lr-schedule", default=None, choices=("constant", "cosine"),
        help="--orbit: learning-rate schedule of every model trained (default constant)",
    )
    from symzoo._argtypes import parse_sharing_schedule

    parser.add_argument(
        "--sharing-schedule", type=parse_sharing_schedule, default=None,
        metavar="EPOCH:LAM[,EPOCH:LAM...]",
        help="--orbit: the MLP's sharing strength λ from each 0-based epoch on "
        "(symzoo.training.SharingSchedule), e.g. 0:10,2:30",
    )
    parser.add_argument(
        "--compact", action="store_true",
        help="--orbit: also evaluate the MLP's compact (extracted) model",
    )
    parser.add_argument(
        "--finetune-epochs",
        type=int,
        default=0,
        help="--orbit --compact: also fine-tune the compact model this many epochs on the "
        "training split, with a from-scratch control of the same budget",
    )
    parser.add_argument(
        "--finetune-lr", type=float, default=3e-3, help="--orbit: the fine-tune's learning rate"
    )
    parser.add_argument(
        "--export-dir", default=None,
        help="--orbit: export the trained models into this directory (e.g. saved_models)",
    )


def run(args):
    """Runs ``symzoo inspect``; returns the exit status."""
    out = args.out or os.path.join(
        "runs", "inspect", pathlib.Path(str(args.model).rstrip("/\\")).stem or "model"
    )
    if getattr(args, "orbit", False):
        from symzoo.symmetry import orbit

        result = orbit.orbit_generalization(
            args.model,
            epochs=args.epochs,
            seed=args.seed,
            data_seed=args.data_seed,
            quick=args.quick,
            data_dir=args.data_dir,
            sizes=args.sizes,
            model_kwargs={orbit.PAIRS.get(args.model, (None, args.model))[1]: dict(args.set or [])},
            baseline=args.baseline,
            lr_schedule=args.lr_schedule,
            sharing_schedule=args.sharing_schedule,
            compact=args.compact,
            export_dir=args.export_dir,
            finetune_epochs=args.finetune_epochs,
            finetune_lr=args.finetune_lr,
        )
        result["mlp_kwargs"] = {k: v for k, v in (args.set or [])}
        result["command"] = " ".join(
            ["symzoo inspect", str(args.model), "--orbit"]
            + [f"--set {k}={repr(v).replace(' ', '')}" for k, v in (args.set or [])]
            + ([] if args.baseline else ["--no-baseline"])
            + (["--quick"] if args.quick else [])
            + ([f"--epochs {args.epochs}"] if args.epochs else [])
            + ([f"--sizes {' '.join(map(str, args.sizes))}"] if args.sizes else [])
            + ([f"--seed {args.seed}"] if args.seed else [])
            + ([f"--lr-schedule {args.lr_schedule}"] if args.lr_schedule else [])
            + ([("--sharing-schedule " + ",".join(f"{e}:{v:g}" for e, v in args.sharing_schedule))]
               if args.sharing_schedule else [])
            + (["--compact"] if args.compact else [])
            + ([f"--finetune-epochs {args.finetune_epochs} --finetune-lr {args.finetune_lr:g}"]
               if args.finetune_epochs else [])
            + ([f"--export-dir {args.export_dir}"] if args.export_dir else [])
            + ["--out", str(out)]
        )
        out_path = pathlib.Path(out)
        out_path.mkdir(parents=True, exist_ok=True)
        (out_path / "orbit.json").write_text(json.dumps(_jsonable(result), indent=2))
        text = orbit.to_markdown(result)
        (out_path / "orbit.md").write_text(text)
        print(text)
        print(f"wrote {out_path / 'orbit.md'} and {out_path / 'orbit.json'}")
        return 0
    result = inspect(
        args.model,
        out,
        name=args.name,
        data_seed=args.data_seed,
        quick=args.quick,
        data_dir=args.data_dir,
        seed=args.seed,
    )
    original = result["functional"]["original"]
    print(f"equivariance error: {_fmt(original['equivariance_error'])}")
    for key, value in original["test"].items():
        print(f"test {key}: {_fmt(value)}")
    for layer_name, m in (result.get("layers") or {}).items():
        print(f"{layer_name}: norm share {_fmt(m['norm_share'])}")
    if result.get("extraction"):
        info = result["extraction"]
        print(
            f"compact model: {info['params_before']:,} -> {info['params_after']:,} parameters "
            f"({_fmt(info['reduction_factor'], 1)}x)"
        )
    print(f"wrote {pathlib.Path(out) / 'report.md'} and {pathlib.Path(out) / 'symmetry.json'}")
    return 0
