"""Training and evaluation of zoo models (export and loading: `symzoo.models.export`,
re-exported here as `export` and `load_model`).

>>> from symzoo import training
>>> result = training.train("set_sum", quick=True, out="/tmp/set_sum")
>>> result["metrics"]                                    # test metrics
>>> model = training.load_model("/tmp/set_sum")          # .keras file or dir
>>> training.export(model, "/tmp/set_sum_export", name="set_sum")

`train` writes into its output directory (default ``runs/<name>/seed<seed>``):

* ``backup/``: `keras.callbacks.BackupAndRestore` state (weights, optimizer and
  epoch), kept after the run, so a killed run resumes from its last finished
  epoch and re-running a finished run trains nothing more (asking for more
  epochs continues it);
* ``checkpoints/best.keras``: the model with the lowest validation loss;
* ``logs/``: TensorBoard logs (`tensorboard` is a requirement of setup.py);
  ``history.csv``: one row per epoch (all runs);
* ``run_config.json``: what the run was started with (checked on resume);
* ``model.keras``: the final model; ``results.json``: test metrics, seeds,
  epochs, wall time, Keras backend and the history.

Keras and TensorFlow are imported inside the functions, so importing this
module is cheap.
"""

import csv
import json
import math
import numbers
import os
import pathlib
import shutil
import time

import keras

from symzoo import _format, _validation
from symzoo.datasets import quick as _quick
from symzoo.errors import BackendError  # re-exported as training.BackendError

#: Split sizes ``(train, val, test)`` used with ``quick=True``.
QUICK_SIZES = _quick.TRAIN_SIZES
#: Number of examples (all splits) generated with ``quick=True`` for graphs.
QUICK_GRAPH_EXAMPLES = _quick.TRAIN_GRAPH_EXAMPLES
#: Epochs used with ``quick=True`` unless `epochs` is given.
QUICK_EPOCHS = 2
#: Root of the default output directories ``runs/<name>/seed<seed>``.
DEFAULT_RUNS_DIR = "runs"

SPLITS = ("train", "val", "test")
VERBOSE_CHOICES = ("auto", 0, 1, 2)
#: Learning-rate schedules of `train` (see `lr_at_epoch`).
LR_SCHEDULES = ("constant", "cosine")
# Fields of run_config.json that must match for a run to be resumed.
_RESUME_KEYS = (
    "name",
    "seed",
    "data_seed",
    "batch_size",
    "learning_rate",
    "model_kwargs",
    "dataset_kwargs",
    "quick",
    "lr_schedule",
    "sharing_schedule",
)
# Values of resume keys that an older run_config.json may lack.
_RESUME_DEFAULTS = {"lr_schedule": "constant", "sharing_schedule": None}


# --------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------


def _check_name(name):
    from symzoo import models

    names = list(models.list())
    if not isinstance(name, str) or name not in names:
        raise ValueError(
            f"Expected `name` to be one of the zoo models {names}. Received: name={name!r}"
        )
    return name


def _optional_dict(arg, value):
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ValueError(
            f"Expected `{arg}` to be a dict with string keys or None. "
            f"Received: {arg}={value!r}"
        )
    return dict(value)


def _check_verbose(verbose):
    """Validates `verbose`; ``"auto"`` becomes 1 (progress bar) when stdout is a
    terminal and 2 (one line per epoch, no ANSI codes) otherwise."""
    if isinstance(verbose, bool) or verbose not in VERBOSE_CHOICES:
        raise ValueError(
            f"Expected `verbose` to be one of {list(VERBOSE_CHOICES)}. "
            f"Received: verbose={verbose!r}"
        )
    return resolve_verbose(verbose)


def resolve_verbose(verbose):
    """``"auto"`` → 1 on a terminal, else 2 (no progress-bar ANSI codes in logs)."""
    if verbose != "auto":
        return verbose
    import sys

    isatty = getattr(sys.stdout, "isatty", None)
    try:
        return 1 if isatty is not None and isatty() else 2
    except ValueError:  # a closed stream
        return 2


def _check_lr_schedule(lr_schedule):
    if lr_schedule is None:
        return "constant"
    if not isinstance(lr_schedule, str) or lr_schedule not in LR_SCHEDULES:
        raise ValueError(
            f"Expected `lr_schedule` to be None or one of {list(LR_SCHEDULES)}. "
            f"Received: lr_schedule={lr_schedule!r}"
        )
    return lr_schedule


def check_sharing_schedule(schedule):
    """`schedule` as a list of ``[epoch, strength]`` pairs (None stays None).

    Expected: a non-empty sequence of ``(epoch, strength)`` pairs with
    non-negative integer epochs in increasing order and non-negative finite
    strengths."""
    if schedule is None:
        return None
    expected = ("Expected `sharing_schedule` to be None or a non-empty list of "
                "(epoch, strength) pairs, epochs non-negative integers in increasing "
                "order, strengths non-negative. ")
    try:
        pairs = [tuple(p) for p in schedule]
    except TypeError:
        raise ValueError(expected + f"Received: sharing_schedule={schedule!r}") from None
    out, last = [], -1
    for pair in pairs:
        if len(pair) != 2 or isinstance(pair[0], bool) or not isinstance(
                pair[0], numbers.Integral) or int(pair[0]) <= last:
            raise ValueError(expected + f"Received: sharing_schedule={schedule!r}")
        try:
            strength = float(pair[1])
        except (TypeError, ValueError):
            raise ValueError(expected + f"Received: sharing_schedule={schedule!r}") from None
        if not math.isfinite(strength) or strength < 0:
            raise ValueError(expected + f"Received: sharing_schedule={schedule!r}")
        last = int(pair[0])
        out.append([last, strength])
    if not out:
        raise ValueError(expected + f"Received: sharing_schedule={schedule!r}")
    return out


def _sharing_layers(model):
    from symzoo.layers.base import PenalizedLayer

    return [layer for layer in model._flatten_layers(include_self=False)
            if isinstance(layer, PenalizedLayer) and layer.sharing is not None]


class SharingSchedule(keras.callbacks.Callback):
    """Piecewise-constant strength λ of the sharing penalties, per epoch.

    ``SharingSchedule([(0, 10.0), (6, 30.0)])`` trains epochs 0–5 with
    λ = 10 and epochs 6 onwards with λ = 30 (0-based epochs; before the
    first listed epoch the layers keep the λ they were built with). It sets
    ``layer.sharing.strength`` of every symzoo layer with a sharing penalty
    at the start of each epoch and, when it changed, makes the train
    function again (λ is a constant of the compiled step: one retrace per
    change). The epoch's λ is logged as ``sharing_strength``, so it is in
    ``history.csv``. A resumed run gets the λ of the epoch it resumes at;
    the saved model's config holds the λ of its last epoch.

    Why: a weak penalty early lets the templates learn, a strong one late
    ties them (the strength that ties exactly slows learning when applied
    from the start: ``models/mnist_translation/NOTES.md``).
    """

    def __init__(self, schedule):
        super().__init__()
        self.schedule = check_sharing_schedule(schedule)
        if self.schedule is None:
            raise ValueError("Expected `schedule` to be a list of (epoch, strength) "
                             "pairs. Received: schedule=None")
        self._defaults = None

    def strength_at(self, epoch, default):
        """The λ of 0-based `epoch`: that of the last pair at or before it."""
        strength = default
        for start, value in self.schedule:
            if start <= epoch:
                strength = value
        return strength

    def on_train_begin(self, logs=None):
        layers = _sharing_layers(self.model)
        if not layers:
            raise ValueError(
                "Expected a model with a sharing penalty for `SharingSchedule`. "
                f"Received: a model {self.model.name!r} whose layers have none.")
        if self._defaults is None:
            self._defaults = {id(layer): layer.sharing.strength for layer in layers}

    def on_epoch_begin(self, epoch, logs=None):
        changed = False
        for layer in _sharing_layers(self.model):
            value = self.strength_at(epoch, self._defaults.get(
                id(layer), layer.sharing.strength))
            if value != layer.sharing.strength:
                layer.sharing.strength = value
                changed = True
        if changed:
            self.model.make_train_function(force=True)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["sharing_strength"] = float(
                _sharing_layers(self.model)[0].sharing.strength)



def lr_at_epoch(schedule, learning_rate, epoch, epochs):
    """The learning rate of epoch `epoch` (0-based) of `epochs` under `schedule`.

    * ``"constant"``: `learning_rate` throughout;
    * ``"cosine"``: per-epoch cosine decay from `learning_rate` (epoch 0) towards
      0, ``learning_rate * (1 + cos(pi * epoch / epochs)) / 2``; the last epoch
      trains at ``learning_rate * (1 - cos(pi / epochs)) / 2 > 0``.
    """
    schedule = _check_lr_schedule(schedule)
    if schedule == "constant":
        return float(learning_rate)
    return float(learning_rate) * 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))


_jsonable = _format.jsonable  # tuples become lists, NaN "nan", unknown objects repr


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------


def _quick_dataset_kwargs(dataset, base_kwargs):
    if dataset == "graph_degree":
        permutations = int(base_kwargs.get("permutations", 5))
        return {"num_graphs": max(1, QUICK_GRAPH_EXAMPLES // max(permutations, 1))}
    return {"sizes": QUICK_SIZES}


def _dataset_kwargs(spec, dataset_kwargs, quick, data_dir):
    kwargs = dict(spec.dataset_kwargs or {})
    if quick:
        kwargs.update(_quick_dataset_kwargs(spec.dataset, kwargs))
    kwargs.update(dataset_kwargs)
    # data_dir only concerns MNIST; generated data sets ignore it, so that one
    # command line can loop over all the zoo models.
    if data_dir is not None and spec.dataset in ("padded_mnist", "torus_mnist"):
        kwargs["data_dir"] = os.fspath(data_dir)
    return kwargs


def _check_finite_split(split, x, y, block=4096):
    """Rejects NaN/inf inputs or targets (in blocks, to bound the temporaries)."""
    for arg, arr in ((f"x_{split}", x), (f"y_{split}", y)):
        if len(arr) == 0:
            continue
        for start in range(0, len(arr), block):
            _validation.finite_array(arg, arr[start : start + block])


def _load_data(spec, data_seed, dataset_kwargs, quick, data_dir, splits=SPLITS):
    from symzoo import datasets

    kwargs = _dataset_kwargs(spec, dataset_kwargs, quick, data_dir)
    data = datasets.load(spec.dataset, seed=data_seed, **kwargs)
    for split in splits:
        x, y = getattr(data, split)
        _check_finite_split(split, x, y)
    return data, kwargs


def _train_dataset(x, y, batch_size, seed, skip_epochs=0):
    """Endless tf.data stream of shuffled training batches, one epoch after another.

    The order of epoch ``e`` depends only on ``(seed, e)``: a run resumed at
    epoch ``skip_epochs`` sees the batches an uninterrupted run would have
    seen (the first epochs' index batches are skipped, which is cheap).
    Returns ``(dataset, steps_per_epoch)``.
    """
    import tensorflow as tf

    n = len(y)
    steps = max(1, math.ceil(n / batch_size))
    x_t = tf.convert_to_tensor(x)
    y_t = tf.convert_to_tensor(y)
    ds = (
        tf.data.Dataset.range(n)
        .shuffle(max(n, 1), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .repeat()
    )
    if skip_epochs:
        ds = ds.skip(skip_epochs * steps)
    ds = ds.map(lambda idx: (tf.gather(x_t, idx), tf.gather(y_t, idx)))
    return ds.prefetch(tf.data.AUTOTUNE), steps


# --------------------------------------------------------------------------
# Output directory
# --------------------------------------------------------------------------


def _paths(out):
    out = pathlib.Path(out)
    return {
        "out": out,
        "backup": out / "backup",
        "checkpoints": out / "checkpoints",
        "best": out / "checkpoints" / "best.keras",
        "logs": out / "logs",
        "history": out / "history.csv",
        "model": out / "model.keras",
        "results": out / "results.json",
        "run_config": out / "run_config.json",
    }


def _clear_run(paths):
    """Removes what an earlier run wrote (only the files `train` owns)."""
    for key in ("backup", "checkpoints", "logs"):
        if paths[key].is_dir():
            shutil.rmtree(paths[key])
    for key in ("history", "model", "results", "run_config"):
        if paths[key].exists():
            paths[key].unlink()


def _backup_epoch(paths):
    meta = paths["backup"] / "training_metadata.json"
    if not meta.exists():
        return 0
    try:
        return int(json.loads(meta.read_text())["epoch"])
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(
            f"Expected {meta} to be the BackupAndRestore state of an earlier run. "
            f"It could not be read ({err}); pass resume=False (CLI: --no-resume) "
            "to start afresh."
        ) from None


def _read_history(path):
    """history.csv → ``{"epoch": [...], "loss": [...], ...}`` (last row per epoch)."""
    path = pathlib.Path(path)
    if not path.exists():
        return {}
    rows = {}
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            try:
                epoch = int(row["epoch"])
            except (KeyError, TypeError, ValueError):
                continue
            rows[epoch] = row
    history = {}
    keys = []
    for row in rows.values():
        keys.extend(k for k in row if k not in keys and k is not None)
    for key in keys:
        values = []
        for epoch in sorted(rows):
            raw = rows[epoch].get(key)
            try:
                values.append(int(raw) if key == "epoch" else float(raw))
            except (TypeError, ValueError):
                values.append(None)
        history[key] = values
    return history


def _best_val_loss(history):
    values = [v for v in history.get("val_loss", []) if v is not None and math.isfinite(v)]
    return min(values) if values else None


# --------------------------------------------------------------------------
# train / evaluate
# --------------------------------------------------------------------------


def train(
    name,
    epochs=None,
    batch_size=None,
    seed=0,
    data_seed=0,
    out=None,
    learning_rate=None,
    model_kwargs=None,
    dataset_kwargs=None,
    quick=False,
    verbose="auto",
    resume=True,
    data_dir=None,
    callbacks=None,
    lr_schedule=None,
    sharing_schedule=None,
):
    """Trains the zoo model `name` on its data set and evaluates it on the test split.

    Args:
        name: a name from `symzoo.models.list()`.
        epochs: number of epochs (> 0); default ``spec.epochs``, or
            `QUICK_EPOCHS` with ``quick=True``.
        batch_size: batch size (> 0); default ``spec.batch_size``.
        seed: seed of the weights' initialisation and of the batch order
            (`keras.utils.set_random_seed`).
        data_seed: seed of the generated data set (and of padded MNIST's
            positions).
        out: output directory; default ``runs/<name>/seed<seed>``.
        learning_rate: default ``spec.learning_rate``.
        model_kwargs: hyperparameters passed to the model's constructor
            (e.g. ``{"lam": 1e-3}``).
        dataset_kwargs: keyword arguments of the data set generator; they
            override ``spec.dataset_kwargs`` and the quick sizes.
        quick: tiny data (`QUICK_SIZES`) and `QUICK_EPOCHS` epochs, for tests
            and smoke runs.
        verbose: Keras' ``fit`` verbosity: ``"auto"``, 0, 1 or 2.
        resume: if True (default) and `out` holds the backup of an earlier run
            with the same settings, continue it; if False, delete what an
            earlier run wrote in `out` and start afresh.
        data_dir: directory of the MNIST IDX files (padded MNIST models only).
        callbacks: extra Keras callbacks, called after the built-in ones.
        lr_schedule: None or ``"constant"`` (default: Adam at `learning_rate`
            throughout) or ``"cosine"`` (per-epoch cosine decay from
            `learning_rate` towards 0 over `epochs`, see `lr_at_epoch`). The
            schedule depends on `epochs`: continuing a finished cosine run with
            more epochs restarts from the rate that the longer schedule has at
            that epoch.
        sharing_schedule: None (default: the model's λ throughout) or
            ``[(epoch, strength), ...]``: the strength of the model's sharing
            penalties from each 0-based epoch on (`SharingSchedule`); part of
            the settings a resumed run must match.

    Returns:
        dict with ``metrics`` (test metrics, `symzoo.metrics.evaluate_task`),
        ``history`` (per-epoch logs of all runs in `out`, from history.csv),
        ``paths`` (str paths of the files written), ``model`` (the trained
        model) and the fields of ``results.json``.

    Raises:
        ValueError: unknown `name`, non-positive `epochs`/`batch_size`,
            input data with NaN or infinite values, or a backup in `out` that
            belongs to a run with other settings.
    """
    from symzoo import models

    args = _validate_train_args(
        name, epochs, batch_size, seed, data_seed, learning_rate, model_kwargs,
        dataset_kwargs, quick, verbose, resume, lr_schedule,
    )
    args["sharing_schedule"] = check_sharing_schedule(sharing_schedule)
    spec = models.spec(args["name"])
    if out is None:
        out = pathlib.Path(DEFAULT_RUNS_DIR) / args["name"] / f"seed{args['seed']}"
    paths = _paths(out)

    # Data first: bad data fails before anything is written.
    data, used_dataset_kwargs = _load_data(
        spec, args["data_seed"], args["dataset_kwargs"], args["quick"], data_dir
    )
    run_config = _run_config(args, used_dataset_kwargs)
    # The model before anything is written: bad hyperparameters fail here.
    import keras

    keras.utils.set_random_seed(args["seed"])
    model = models.get(args["name"])(
        learning_rate=args["learning_rate"], **args["model_kwargs"]
    )
    if args["sharing_schedule"] and not _sharing_layers(model):
        raise ValueError(
            f"Expected a model with a sharing penalty for `sharing_schedule`. Received: "
            f"{args['name']!r} with model_kwargs={args['model_kwargs']!r}, which has none.")

    done = _prepare_out_dir(paths, run_config, args["epochs"], args["resume"])
    start = time.perf_counter()
    fit_history = _fit(model, data, paths, args, done, callbacks)
    train_time = time.perf_counter() - start
    model.save(paths["model"])
    x_test, y_test = data.test
    metrics = evaluate_task_dict(model, x_test, y_test, spec.task)
    wall_time = time.perf_counter() - start
    return _write_results(
        paths, spec, args, run_config, data, model, metrics, fit_history, done,
        train_time, wall_time,
    )


def _validate_train_args(
    name, epochs, batch_size, seed, data_seed, learning_rate, model_kwargs,
    dataset_kwargs, quick, verbose, resume, lr_schedule,
):
    """The checked arguments of `train`, defaults filled in from the model's spec."""
    from symzoo import models

    name = _check_name(name)
    spec = models.spec(name)
    if epochs is None:
        epochs = QUICK_EPOCHS if quick else spec.epochs
    args = {
        "name": name,
        "epochs": _validation.positive_int("epochs", epochs),
        "batch_size": _validation.positive_int(
            "batch_size", spec.batch_size if batch_size is None else batch_size
        ),
        "learning_rate": _validation.positive_float(
            "learning_rate", spec.learning_rate if learning_rate is None else learning_rate
        ),
        "seed": _validation.non_negative_int("seed", seed),
        "data_seed": _validation.non_negative_int("data_seed", data_seed),
        "model_kwargs": _optional_dict("model_kwargs", model_kwargs),
        "dataset_kwargs": _optional_dict("dataset_kwargs", dataset_kwargs),
        "verbose": _check_verbose(verbose),
    }
    if not isinstance(quick, bool):
        raise ValueError(f"Expected `quick` to be True or False. Received: quick={quick!r}")
    if not isinstance(resume, bool):
        raise ValueError(f"Expected `resume` to be True or False. Received: resume={resume!r}")
    args.update(quick=quick, resume=resume, lr_schedule=_check_lr_schedule(lr_schedule))
    for reserved in ("weights", "compile", "learning_rate", "seed"):
        if reserved in args["model_kwargs"]:
            raise ValueError(
                f"Expected `model_kwargs` to hold hyperparameters only; "
                f"{reserved!r} is set by train(). Received: model_kwargs={model_kwargs!r}"
            )
    return args


def _run_config(args, used_dataset_kwargs):
    """What ``run_config.json`` records (the `_RESUME_KEYS` a resumed run must match)."""
    return {
        "name": args["name"],
        "seed": args["seed"],
        "data_seed": args["data_seed"],
        "batch_size": args["batch_size"],
        "learning_rate": args["learning_rate"],
        "model_kwargs": _jsonable(args["model_kwargs"]),
        "dataset_kwargs": _jsonable(
            {k: v for k, v in used_dataset_kwargs.items() if k != "data_dir"}
        ),
        "quick": args["quick"],
        "lr_schedule": args["lr_schedule"],
        "sharing_schedule": args.get("sharing_schedule"),
    }


def _check_resume(paths, run_config, epochs, done):
    """Raises unless the run in ``paths["out"]`` (`done` epochs) can be continued."""
    previous = {}
    if paths["run_config"].exists():
        try:
            previous = json.loads(paths["run_config"].read_text())
        except ValueError:
            previous = {}
    changed = [
        k for k in _RESUME_KEYS if previous.get(k, _RESUME_DEFAULTS.get(k)) != run_config[k]
    ]
    if changed:
        raise ValueError(
            f"Expected {paths['out']} to hold a run with the same settings to resume. "
            f"It holds one with other {', '.join(changed)} "
            f"({', '.join(f'{k}={previous.get(k)!r}' for k in changed)}). "
            "Pass resume=False (CLI: --no-resume) to start afresh, or another `out`."
        )
    if done > epochs:
        raise ValueError(
            f"Expected `epochs` to be at least the {done} epochs already trained "
            f"in {paths['out']}. Received: epochs={epochs}. Pass resume=False "
            "(CLI: --no-resume) to start afresh."
        )


def _prepare_out_dir(paths, run_config, epochs, resume):
    """Clears (``resume=False``) or checks the output directory, writes
    ``run_config.json``; returns the number of epochs already trained."""
    if not resume:
        _clear_run(paths)
    done = _backup_epoch(paths)
    if done:
        _check_resume(paths, run_config, epochs, done)
    paths["out"].mkdir(parents=True, exist_ok=True)
    paths["checkpoints"].mkdir(exist_ok=True)
    paths["run_config"].write_text(json.dumps(run_config, indent=2) + "\n")
    return done


def _callbacks(paths, args, done, has_val, extra):
    """The built-in callbacks of `train` (in order), then the user's `extra`."""
    import keras

    checkpoint_kwargs = {}
    best = _best_val_loss(_read_history(paths["history"])) if done else None
    if best is not None and paths["best"].exists():
        checkpoint_kwargs["initial_value_threshold"] = best
    builtin = [
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.CSVLogger(str(paths["history"]), append=True),
        keras.callbacks.TensorBoard(log_dir=str(paths["logs"])),  # tensorboard: setup.py
    ]
    lr_schedule, learning_rate, epochs = args["lr_schedule"], args["learning_rate"], args["epochs"]
    if lr_schedule != "constant":
        # Before the loggers: it adds the epoch's rate to the logs (history.csv).
        builtin.insert(
            0,
            keras.callbacks.LearningRateScheduler(
                lambda epoch, _lr: lr_at_epoch(lr_schedule, learning_rate, epoch, epochs)
            ),
        )
    if args.get("sharing_schedule"):
        builtin.insert(0, SharingSchedule(args["sharing_schedule"]))
    if has_val:
        builtin.append(
            keras.callbacks.ModelCheckpoint(
                str(paths["best"]),
                monitor="val_loss",
                mode="min",
                save_best_only=True,
                **checkpoint_kwargs,
            )
        )
    # Last of the built-ins: the epoch counts as done once everything else
    # about it is written.
    builtin.append(
        keras.callbacks.BackupAndRestore(str(paths["backup"]), delete_checkpoint=False)
    )
    return builtin + list(extra or [])


def _fit(model, data, paths, args, done, callbacks):
    """``model.fit`` on the seeded training stream (resumed at epoch `done`)."""
    from symzoo.regularizers.prox import prox_callbacks

    batch_size = args["batch_size"]
    train_ds, steps_per_epoch = _train_dataset(*data.train, batch_size, args["seed"], done)
    has_val = len(data.val[1]) > 0
    val_ds = data.as_tf_dataset("val", batch_size=batch_size) if has_val else None
    return model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=args["epochs"],
        steps_per_epoch=steps_per_epoch,
        shuffle=False,  # the tf.data pipeline shuffles (seeded)
        verbose=args["verbose"],
        # Proximal steps of PairwiseSharing(prox=True) kernels (none otherwise),
        # first, so the loggers see the groups they add to the epoch's logs.
        callbacks=prox_callbacks(model) + _callbacks(paths, args, done, has_val, callbacks),
    )


def _write_results(
    paths, spec, args, run_config, data, model, metrics, fit_history, done, train_time,
    wall_time,
):
    """Writes ``results.json``; returns `train`'s result dict."""
    import keras

    epochs_run = len(fit_history.history.get("loss", []))
    history = _read_history(paths["history"]) or {
        "epoch": list(range(done, done + epochs_run)),
        **{k: [float(v) for v in vs] for k, vs in fit_history.history.items()},
    }
    losses = history.get("loss", [])
    terminated_on_nan = bool(losses) and any(
        v is None or not math.isfinite(v) for v in losses[-max(epochs_run, 1):]
    )
    if terminated_on_nan:
        import warnings

        warnings.warn(
            f"Training of {args['name']!r} stopped on a NaN or infinite loss "
            f"(see {paths['history']}).",
            RuntimeWarning,
            stacklevel=3,
        )
    str_paths = {
        k: str(v)
        for k, v in paths.items()
        if k not in ("best", "logs", "results") or v.exists() or k == "results"
    }
    results = {
        "name": args["name"],
        "task": spec.task,
        "metrics": _jsonable(metrics),
        "report_metric": spec.report_metric,
        "report_value": _jsonable(spec.report_value),
        "seed": args["seed"],
        "data_seed": args["data_seed"],
        "epochs": args["epochs"],
        "epochs_completed": done + epochs_run,
        "epochs_this_run": epochs_run,
        "resumed_from_epoch": done,
        "batch_size": args["batch_size"],
        "learning_rate": args["learning_rate"],
        "lr_schedule": args["lr_schedule"],
        "sharing_schedule": args.get("sharing_schedule"),
        "model_kwargs": run_config["model_kwargs"],
        "dataset": spec.dataset,
        "dataset_kwargs": run_config["dataset_kwargs"],
        "data_sizes": [len(getattr(data, s)[1]) for s in SPLITS],
        "quick": args["quick"],
        "terminated_on_nan": terminated_on_nan,
        "train_time_s": train_time,
        "wall_time_s": wall_time,
        "keras_backend": keras.backend.backend(),
        "keras_version": keras.__version__,
        "history": _jsonable(history),
        "paths": str_paths,
    }
    paths["results"].write_text(json.dumps(results, indent=2) + "\n")
    return {**results, "metrics": metrics, "history": history, "model": model}


def evaluate_task_dict(model, x, y, task):
    """`symzoo.metrics.evaluate_task` with a plain-float dict as result."""
    from symzoo import metrics as metrics_lib

    result = metrics_lib.evaluate_task(model, x, y, task)
    return {
        k: (float(v) if isinstance(v, numbers.Real) or hasattr(v, "__float__") else v)
        for k, v in dict(result).items()
    }


def evaluate_model(
    model,
    name,
    split="test",
    data_seed=0,
    data_dir=None,
    quick=False,
    dataset_kwargs=None,
):
    """Evaluates `model` on one split of the data set of zoo model `name`.

    Args:
        model: a Keras model, a callable ``x -> predictions``, or a path
            accepted by `load_model`.
        name: the zoo name whose `ModelSpec` gives the data set and task.
        split: ``"train"``, ``"val"`` or ``"test"``.
        data_seed: seed of the data set.
        data_dir: MNIST directory (padded MNIST models only).
        quick: evaluate on the small quick-sized data set.
        dataset_kwargs: overrides of the data set's keyword arguments.

    Returns:
        dict of metrics from `symzoo.metrics.evaluate_task`.
    """
    from symzoo import models

    name = _check_name(name)
    _validation.one_of("split", split, SPLITS)
    data_seed = _validation.non_negative_int("data_seed", data_seed)
    dataset_kwargs = _optional_dict("dataset_kwargs", dataset_kwargs)
    spec = models.spec(name)
    if isinstance(model, (str, os.PathLike)):
        model = load_model(model)
    data, _ = _load_data(spec, data_seed, dataset_kwargs, quick, data_dir, splits=(split,))
    x, y = getattr(data, split)
    if len(y) == 0:
        raise ValueError(
            f"Expected the {split!r} split of {spec.dataset!r} to hold examples. "
            f"Received: an empty split (sizes {data.sizes()})."
        )
    return evaluate_task_dict(model, x, y, spec.task)


# --------------------------------------------------------------------------
# export / load: in symzoo.models.export (next to symzoo.models.weights)
# --------------------------------------------------------------------------

#: Names re-exported from `symzoo.models.export` for users of ``symzoo.training``;
#: resolved on first use, so importing this module stays cheap (no Keras import).
#: (`BackendError` is `symzoo.errors.BackendError`, imported above.)
_EXPORT_NAMES = ("SavedModelPredictor",)


def __getattr__(attr):
    if attr in _EXPORT_NAMES:
        from symzoo.models import export as export_lib

        return getattr(export_lib, attr)
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")


def load_model(path):
    """`symzoo.models.export.load_model` (kept here for users of ``symzoo.training``)."""
    from symzoo.models import export as export_lib

    return export_lib.load_model(path)


def export(model, directory, name=None, extra=None, saved_model=True):
    """`symzoo.models.export.export` (kept here for users of ``symzoo.training``)."""
    from symzoo.models import export as export_lib

    return export_lib.export(model, directory, name=name, extra=extra, saved_model=saved_model)


__all__ = [
    "BackendError",
    "QUICK_EPOCHS",
    "QUICK_SIZES",
    "SavedModelPredictor",
    "evaluate_model",
    "export",
    "load_model",
    "train",
]
