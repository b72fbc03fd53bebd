"""Hyperparameter search of a zoo model with KerasTuner.

>>> from symzoo.tuning import search
>>> summary = search.search("set_sum", max_trials=2, epochs=1, quick=True,
...                         directory="/tmp/tune", summary_dir="/tmp/tune/summary")
>>> summary["best"]["hyperparameters"], summary["timing"]["trials_per_hour"]

What `search` does:

1. validates the search space (`symzoo.tuning.spaces`), the tuner, the
   objective and, with ``distributed=True``, the KerasTuner environment
   variables, before anything is trained;
2. generates the data with ``symzoo.datasets.load(models.spec(name).dataset)``
   (smaller with ``quick``, ``data_fraction`` or ``sizes``);
3. runs a KerasTuner ``RandomSearch`` / ``BayesianOptimization`` /
   ``Hyperband`` / ``GridSearch`` (every combination of the space's choices,
   in order; floats need a ``step``) over `SymzooHyperModel` in ``directory/project_name``
   (``overwrite=False``: a killed search continues where it stopped, the
   finished trials are kept and the interrupted one is run again; re-running a
   finished search with a larger ``max_trials`` runs only the new trials);
4. evaluates the best trial's best-epoch checkpoint on the test split and
   writes ``summary.json``, ``summary.md`` and plots into ``summary_dir``
   (`symzoo.tuning.summary`).

Distributed search (KerasTuner's chief/worker mode) is driven only by the
environment variables ``KERASTUNER_TUNER_ID`` (``"chief"`` for the oracle,
anything else, e.g. ``"tuner0"``, for a worker), ``KERASTUNER_ORACLE_IP`` and
``KERASTUNER_ORACLE_PORT``; all processes use the same ``directory`` (a shared
file system). The chief serves the oracle, waits for the workers and writes the
summary; workers only run trials.
"""

import inspect
import json
import os
import sys
import time

from symzoo import _format, _validation
from symzoo.datasets import quick as _quick
# The files of a project (defined with the summary, which reads them).
from symzoo.tuning.summary import SEARCH_FILE, SESSIONS_FILE, TRIAL_FILE  # noqa: F401

TUNERS = ("random", "bayesian", "hyperband", "grid")
#: Objectives accepted by ``--objective`` (mapped to the model's metric names).
OBJECTIVES = ("val_accuracy", "val_loss", "val_mae")
DEFAULT_DIRECTORY = os.path.join("runs", "tuning")
#: Where the committed summaries live (written only when ``summary_dir`` names it).
DEFAULT_SUMMARY_ROOT = "tuning"
DIST_VARS = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")
#: Split sizes (train, val, test) with ``quick=True``.
QUICK_SIZES = _quick.TUNE_SIZES
#: Number of base graphs with ``quick=True`` (graph_degree sizes are fractions).
QUICK_GRAPHS = _quick.TUNE_GRAPHS
_RESUME_KEYS = ("model", "space", "tuner", "objective", "epochs", "batch_size", "data", "seed")


# --- argument checks ----------------------------------------------------------


def distributed_role(environ=None):
    """Checks KerasTuner's distributed environment variables.

    Returns ``"chief"`` (``KERASTUNER_TUNER_ID`` contains "chief", KerasTuner's
    rule) or ``"worker"``. Raises ValueError naming the missing or malformed
    variables.
    """
    environ = os.environ if environ is None else environ
    missing = [v for v in DIST_VARS if not environ.get(v)]
    if missing:
        raise ValueError(
            "Distributed tuning needs the environment variables "
            "KERASTUNER_TUNER_ID ('chief' for the oracle process, e.g. 'tuner0', "
            "'tuner1' for workers), KERASTUNER_ORACLE_IP (the chief's address) and "
            "KERASTUNER_ORACLE_PORT (a free port on the chief), set in every "
            f"process. Received: missing {', '.join(missing)}."
        )
    port = environ["KERASTUNER_ORACLE_PORT"]
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(
            "Expected KERASTUNER_ORACLE_PORT to be a port number in 1..65535. "
            f"Received: KERASTUNER_ORACLE_PORT={port!r}"
        )
    return "chief" if "chief" in environ["KERASTUNER_TUNER_ID"] else "worker"


def _check_not_distributed(environ=None):
    environ = os.environ if environ is None else environ
    present = [v for v in DIST_VARS if v in environ]
    if "KERASTUNER_ORACLE_IP" in environ:
        raise ValueError(
            f"The environment sets {', '.join(present)}, which makes KerasTuner run "
            "a distributed search. Expected `distributed=True` (`--distributed`) "
            "for a distributed search, or these variables unset."
        )


def resolve_objective(task, objective=None):
    """``(metric name, direction)`` of an objective for a model of ``task``.

    ``val_accuracy`` is the accuracy of classifiers and the node accuracy
    (``val_node_accuracy``) of graph models; ``val_mae`` is for regression.
    Defaults: ``val_accuracy`` (classification, graphs) and ``val_mae``
    (regression: ``val_loss`` includes the penalties, whose size changes with
    their strength, so it is a biased score when they are searched).
    """
    if objective is None:
        objective = "val_mae" if task == "regression" else "val_accuracy"
    _validation.one_of("objective", objective, OBJECTIVES)
    if objective == "val_loss":
        return "val_loss", "min"
    if objective == "val_accuracy":
        if task == "classification":
            return "val_accuracy", "max"
        if task == "node_regression":
            return "val_node_accuracy", "max"
        raise ValueError(
            f"Expected `objective` to be 'val_mae' or 'val_loss' for a {task} model. "
            f"Received: objective={objective!r}"
        )
    if task != "regression":
        raise ValueError(
            f"Expected `objective` to be 'val_accuracy' or 'val_loss' for a {task} "
            f"model. Received: objective={objective!r}"
        )
    return "val_mae", "min"


def _check_fraction(data_fraction):
    if data_fraction is None:
        return None
    value = _validation.positive_float("data_fraction", data_fraction)
    if value > 1:
        raise ValueError(
            f"Expected `data_fraction` to be in (0, 1]. Received: data_fraction={data_fraction!r}"
        )
    return value


# --- data ---------------------------------------------------------------------


def dataset_kwargs(name, quick=False, data_fraction=None, sizes=None, data_dir=None):
    """``(dataset name, keyword arguments for symzoo.datasets.load)`` of a search."""
    from symzoo import datasets, models

    spec = models.spec(name)
    dataset = spec.dataset
    kwargs = dict(spec.dataset_kwargs or {})
    data_fraction = _check_fraction(data_fraction)
    generator = getattr(datasets, dataset)
    params = inspect.signature(generator).parameters
    if dataset == "graph_degree":
        if sizes is not None:
            raise ValueError(
                "Expected `sizes` to be None for graph_degree (its sizes are "
                "fractions; use `data_fraction` or `quick`). "
                f"Received: sizes={sizes!r}"
            )
        n = kwargs.get("num_graphs", params["num_graphs"].default)
        if quick:
            n = QUICK_GRAPHS
        if data_fraction is not None:
            n = max(10, round(n * data_fraction))
        if quick or data_fraction is not None:
            kwargs["num_graphs"] = int(n)
    else:
        base = tuple(kwargs.get("sizes", params["sizes"].default))
        if sizes is not None:
            kwargs["sizes"] = _validation.int_tuple("sizes", sizes, length=3)
        else:
            if quick:
                base = QUICK_SIZES.get(dataset, base)
            if data_fraction is not None:
                base = tuple(max(1, round(s * data_fraction)) for s in base)
            if quick or data_fraction is not None:
                kwargs["sizes"] = tuple(int(s) for s in base)
    if data_dir is not None:
        if "data_dir" not in params:
            raise ValueError(
                f"Expected `data_dir` only for data sets read from files "
                f"(padded_mnist). Received: data_dir={data_dir!r} for {dataset!r}"
            )
        kwargs["data_dir"] = os.fspath(data_dir)
    return dataset, kwargs


def load_data(name, seed=0, **kwargs):
    """The `Splits` of a search (see `dataset_kwargs`)."""
    from symzoo import datasets

    dataset, data_kwargs = dataset_kwargs(name, **kwargs)
    return datasets.load(dataset, seed=seed, **data_kwargs), dataset, data_kwargs


# --- environment --------------------------------------------------------------


def _cpu_name():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def environment_info():
    """Backend, versions and device (``"CPU"`` or ``"GPU"`` and its name)."""
    import keras
    import keras_tuner

    backend = keras.backend.backend()
    info = {
        "backend": backend,
        "keras": keras.__version__,
        "keras_tuner": keras_tuner.__version__,
        "python": sys.version.split()[0],
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
    }
    accelerators = []
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            info["tensorflow"] = tf.__version__
            for gpu in tf.config.list_physical_devices("GPU"):
                details = tf.config.experimental.get_device_details(gpu) or {}
                accelerators.append(details.get("device_name", gpu.name))
        elif backend == "jax":
            import jax

            info["jax"] = jax.__version__
            accelerators = [
                getattr(d, "device_kind", str(d)) for d in jax.devices() if d.platform != "cpu"
            ]
        elif backend == "torch":
            import torch

            info["torch"] = torch.__version__
            if torch.cuda.is_available():
                accelerators = [
                    torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())
                ]
    except Exception as e:  # device queries must not break a finished search
        info["device_error"] = repr(e)
    if accelerators:
        info["device"] = {"type": "GPU", "name": accelerators[0], "count": len(accelerators)}
    else:
        info["device"] = {"type": "CPU", "name": info["cpu"], "count": info["cpu_count"]}
    return info


# --- tuners -------------------------------------------------------------------


def _tuner_class(tuner):
    import keras_tuner as kt

    _validation.one_of("tuner", tuner, TUNERS)
    if tuner == "bayesian":
        try:
            import scipy  # noqa: F401
            import sklearn  # noqa: F401
        except ImportError as e:
            raise ImportError(
                "The bayesian tuner (KerasTuner's BayesianOptimization) needs "
                "scikit-learn and scipy: `pip install scikit-learn scipy` (or "
                f"`pip install keras-tuner[bayesian]`). Import failed: {e}"
            ) from None
    base = {
        "random": kt.RandomSearch,
        "bayesian": kt.BayesianOptimization,
        "hyperband": kt.Hyperband,
        "grid": kt.GridSearch,
    }[tuner]

    class TimedTuner(base):
        """Records each trial's wall time, worker and backend in its directory."""

        def _configure_tensorboard_dir(self, callbacks, trial, execution=0):
            # KerasTuner imports `tensorboard` here on the TensorFlow backend
            # even when no TensorBoard callback is used; TensorFlow >= 2.20 no
            # longer installs it. Only patch when there is one.
            if any(type(cb).__name__ == "TensorBoard" for cb in callbacks):
                super()._configure_tensorboard_dir(callbacks, trial, execution)

        def on_search_begin(self):
            self.symzoo_trials_run = []
            super().on_search_begin()

        def on_trial_begin(self, trial):
            self._symzoo_start = time.time()
            super().on_trial_begin(trial)

        def on_trial_end(self, trial):
            import keras

            end = time.time()
            record = {
                "trial_id": trial.trial_id,
                "seconds": round(end - self._symzoo_start, 3),
                "started": self._symzoo_start,
                "ended": end,
                "tuner_id": self.tuner_id,
                "pid": os.getpid(),
                "backend": keras.backend.backend(),
                "status": str(getattr(trial, "status", "")),
            }
            path = os.path.join(self.get_trial_dir(trial.trial_id), TRIAL_FILE)
            with open(path, "w", encoding="utf-8") as f:
                json.dump(record, f, indent=1)
            self.symzoo_trials_run.append(trial.trial_id)
            super().on_trial_end(trial)

    TimedTuner.__name__ = base.__name__
    return TimedTuner


def make_tuner(
    hypermodel,
    tuner="random",
    objective=("val_accuracy", "max"),
    max_trials=10,
    epochs=1,
    seed=0,
    directory=DEFAULT_DIRECTORY,
    project_name=None,
    overwrite=False,
):
    """A KerasTuner tuner over ``hypermodel`` (resumable: ``overwrite=False``).

    ``max_trials`` is ignored by Hyperband, whose budget is ``max_epochs=epochs``
    and ``factor=3`` (one Hyperband iteration). A grid search stops at
    ``max_trials`` or when every combination has run.
    """
    import keras_tuner as kt

    cls = _tuner_class(tuner)
    name, direction = objective
    common = dict(
        objective=kt.Objective(name, direction),
        seed=seed,
        directory=os.fspath(directory),
        project_name=project_name,
        overwrite=overwrite,
    )
    if tuner == "hyperband":
        return cls(hypermodel, max_epochs=max(int(epochs), 2), factor=3, **common)
    return cls(hypermodel, max_trials=max_trials, **common)


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError):
        return None


def _write_json_atomic(path, data):
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=True, default=str)
    os.replace(tmp, path)


_jsonable = _format.jsonable


def _check_resume(project_dir, config, overwrite):
    """Compares a search's config with the one its project was started with."""
    path = os.path.join(project_dir, SEARCH_FILE)
    previous = None if overwrite else _read_json(path)
    if previous is not None:
        diff = [k for k in _RESUME_KEYS if previous.get(k) != config.get(k)]
        if diff:
            raise ValueError(
                f"Expected the search in {project_dir!r} to be resumed with the "
                f"settings it was started with. Received different {', '.join(diff)} "
                f"(was: { {k: previous.get(k) for k in diff} }). Pass --overwrite "
                "(overwrite=True) to start afresh, or another --project-name/--directory."
            )
    return path


# --- the search ---------------------------------------------------------------


def search(
    name,
    tuner="random",
    max_trials=10,
    epochs=None,
    directory=DEFAULT_DIRECTORY,
    project_name=None,
    space=None,
    lam_mode=None,
    quick=False,
    seed=0,
    data_fraction=None,
    sizes=None,
    data_dir=None,
    objective=None,
    batch_size=None,
    distributed=False,
    summary_dir=None,
    overwrite=False,
    evaluate_test=True,
    verbose=1,
    callbacks=None,
    references=None,
):
    """Runs (or resumes) a search; returns the summary dict (see module doc).

    Args:
        name: a ``symzoo.models`` name.
        tuner: ``"random"``, ``"bayesian"`` or ``"hyperband"``.
        max_trials: total number of trials of the project (not of this call):
            re-running with a larger value runs only the missing ones.
        epochs: epochs per trial (Hyperband's ``max_epochs``); default the
            model's ``spec.epochs``.
        directory, project_name: KerasTuner's project (default
            ``runs/tuning`` and ``"<name>_<tuner>"``); kept between runs.
        space: None (default space), a space dict, a JSON file or a built-in
            space name (`symzoo.tuning.spaces`).
        lam_mode: ``"report"`` or ``"log"``: λ's mode in the default space.
        quick: small data (`QUICK_SIZES`, `QUICK_GRAPHS`).
        seed: seed of the data, the tuner and the initial weights.
        data_fraction: in (0, 1]: scales the split sizes (of the quick ones
            with ``quick``).
        sizes: explicit ``(n_train, n_val, n_test)`` (not for graphs).
        data_dir: MNIST directory for padded_mnist.
        objective: ``"val_accuracy"``, ``"val_loss"`` or ``"val_mae"`` (default
            by task, see `resolve_objective`).
        batch_size: default the model's ``spec.batch_size``.
        distributed: run as KerasTuner chief or worker (environment variables
            `DIST_VARS`); the chief writes the summary.
        summary_dir: where to write the summary (default
            ``<directory>/<project_name>/summary``, i.e. under ``./runs``; the
            committed ``tuning/<name>/`` changes only when named here or with
            ``--summary-dir``); ``False`` to write none.
        overwrite: delete the project and start afresh.
        evaluate_test: evaluate the best trial on the test split.
        verbose: passed to KerasTuner and ``fit``.
        callbacks: extra Keras callbacks of every trial's ``fit`` (KerasTuner
            deep-copies them per trial).
        references: optional ``{label: directory}`` (or ``(label, directory)``
            pairs) of reference configurations run once per seed at the same
            budget (`summary.read_reference`; read before any trial, so that a
            missing one fails early). The first one's spread over its seeds is
            the search's noise estimate; the summary gives the best trial's
            margin over each (`summary.compare_references`).
    """
    t_start = time.time()
    from symzoo.tuning import summary as summary_lib

    # 1. Everything that can be checked before training.
    args = _validate_search_args(
        name, tuner, max_trials, epochs, batch_size, seed, objective, distributed,
        overwrite, directory, project_name,
        dict(quick=bool(quick), data_fraction=data_fraction, sizes=sizes, data_dir=data_dir),
    )
    role = args["role"]
    pairs = references.items() if isinstance(references, dict) else (references or ())
    refs = [summary_lib.read_reference(label, path) for label, path in pairs]
    from symzoo.tuning.hypermodels import SymzooHyperModel

    hypermodel = SymzooHyperModel(name, space=space, seed=seed, lam_mode=lam_mode)
    _tuner_class(tuner)  # bayesian: fails now when scikit-learn is missing
    config = _search_config(args, hypermodel)
    project_dir = os.path.join(os.fspath(directory), args["project_name"])
    if role != "worker":
        search_file = _check_resume(project_dir, config, overwrite)

    import keras

    keras.utils.set_random_seed(seed)

    # 2. Data (the chief trains nothing: it needs the test split only).
    data = None
    if role != "chief":
        data = _load(args["dataset"], seed, args["data_kwargs"])

    # 3. The search.
    tuner_obj = make_tuner(
        hypermodel,
        tuner=tuner,
        objective=args["objective"],
        max_trials=args["max_trials"],
        epochs=args["epochs"],
        seed=seed,
        directory=directory,
        project_name=args["project_name"],
        overwrite=overwrite,
    )
    if role != "worker":
        os.makedirs(project_dir, exist_ok=True)
        _write_json_atomic(search_file, config)
    finished_before = summary_lib.finished_trial_ids(tuner_obj) if role != "worker" else set()
    t_search = time.time()
    _run_search(tuner_obj, data, args["epochs"], args["batch_size"], verbose, callbacks)
    search_seconds = time.time() - t_search
    if role == "worker":
        return {
            "model": name,
            "role": "worker",
            "tuner_id": tuner_obj.tuner_id,
            "trials_run": list(getattr(tuner_obj, "symzoo_trials_run", [])),
            "search_wall_time_s": round(search_seconds, 3),
        }

    # 4. Summary.
    summary = _summarize(
        args, tuner_obj, hypermodel, data, project_dir, finished_before, t_start, t_search,
        search_seconds, evaluate_test, directory,
    )
    if refs:
        summary_lib.compare_references(summary, refs)
    if summary_dir is not False:
        summary_dir = summary_dir or os.path.join(project_dir, "summary")
        summary["files"] = summary_lib.write_summary(summary, summary_dir)
    return summary


def _validate_search_args(
    name, tuner, max_trials, epochs, batch_size, seed, objective, distributed, overwrite,
    directory, project_name, data_settings,
):
    """The checked arguments of `search` (defaults from the model's spec), the
    distributed role (None, ``"chief"`` or ``"worker"``) and the data set."""
    from symzoo import models
    from symzoo.tuning import spaces as spaces_lib

    spaces_lib.check_model_name(name)
    _validation.one_of("tuner", tuner, TUNERS)
    max_trials = _validation.positive_int("max_trials", max_trials)
    spec = models.spec(name)
    epochs = _validation.positive_int("epochs", spec.epochs if epochs is None else epochs)
    batch_size = _validation.positive_int(
        "batch_size", spec.batch_size if batch_size is None else batch_size
    )
    _validation.non_negative_int("seed", seed)
    objective = resolve_objective(spec.task, objective)
    role = distributed_role() if distributed else None
    if not distributed:
        _check_not_distributed()
    elif overwrite:
        raise ValueError(
            "Expected `overwrite=False` with `distributed=True`: every process "
            "would delete the shared project. Delete "
            f"{os.path.join(os.fspath(directory), project_name or f'{name}_{tuner}')!r} "
            "before starting the chief and the workers instead."
        )
    dataset, data_kwargs = dataset_kwargs(name, **data_settings)  # validates
    return {
        "name": name,
        "spec": spec,
        "tuner": tuner,
        "max_trials": max_trials,
        "epochs": epochs,
        "batch_size": batch_size,
        "seed": seed,
        "objective": objective,
        "role": role,
        "distributed": bool(distributed),
        "dataset": dataset,
        "data_kwargs": data_kwargs,
        "project_name": project_name or f"{name}_{tuner}",
    }


def _data_record(args):
    """The data settings recorded in the project and the summary (no data_dir)."""
    return {
        "dataset": args["dataset"],
        **{k: v for k, v in args["data_kwargs"].items() if k != "data_dir"},
    }


def _search_config(args, hypermodel):
    """What ``symzoo_search.json`` records (`_RESUME_KEYS`)."""
    return _jsonable(
        {
            "model": args["name"],
            "space": hypermodel.space,
            "tuner": args["tuner"],
            "objective": list(args["objective"]),
            "epochs": args["epochs"],
            "batch_size": args["batch_size"],
            "data": _data_record(args),
            "seed": args["seed"],
        }
    )


def _run_search(tuner_obj, data, epochs, batch_size, verbose, callbacks=None):
    """``tuner.search`` on the training split (validated on the val split);
    without data (the chief) it only serves the oracle."""
    fit_kwargs = dict(epochs=epochs, batch_size=batch_size, verbose=verbose)
    if callbacks:
        fit_kwargs["callbacks"] = list(callbacks)
    if data is not None:
        fit_args = (data.train[0], data.train[1])
        fit_kwargs["validation_data"] = data.val
    else:
        fit_args = ()
    tuner_obj.search(*fit_args, **fit_kwargs)


def _summarize(
    args, tuner_obj, hypermodel, data, project_dir, finished_before, t_start, t_search,
    search_seconds, evaluate_test, directory,
):
    """Collects the trials, records the session, evaluates the best trial on
    the test split; returns the summary dict (`summary.build_summary`)."""
    from symzoo.tuning import spaces as spaces_lib
    from symzoo.tuning import summary as summary_lib

    role, objective, spec = args["role"], args["objective"], args["spec"]
    trials = summary_lib.collect_trials(tuner_obj)
    finished_now = {t["trial_id"] for t in trials if t["status"] in summary_lib.FINISHED}
    trials_this_run = sorted(finished_now - finished_before)
    best = summary_lib.best_trial(trials, objective[1])
    env = environment_info()
    sessions = _record_session(
        project_dir,
        {
            "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(t_search)),
            "search_wall_time_s": round(search_seconds, 3),
            "trials": trials_this_run,
            "backend": env["backend"],
            "device": env["device"],
            "role": role or "single",
        },
    )
    test = None
    if best is not None and evaluate_test:
        if data is None:
            data = _load(args["dataset"], args["seed"], args["data_kwargs"])
        test = evaluate_best(tuner_obj, data, args["batch_size"])
    return summary_lib.build_summary(
        name=args["name"],
        tuner=args["tuner"],
        objective=objective,
        space=hypermodel.space,
        trials=trials,
        best=best,
        test=test,
        settings={
            "max_trials": args["max_trials"],
            "epochs": args["epochs"],
            "batch_size": args["batch_size"],
            "seed": args["seed"],
            "data": _jsonable(_data_record(args)),
            "data_sizes": list(data.sizes()) if data is not None else None,
            "directory": os.fspath(directory),
            "project_name": args["project_name"],
            "distributed": args["distributed"],
            "role": role or "single",
            "model_defaults": _jsonable(getattr(spec, "hyperparameters", {}) or {}),
            "model_default_learning_rate": getattr(spec, "learning_rate", None),
        },
        environment=env,
        timing={
            "search_wall_time_s": round(search_seconds, 3),
            "total_wall_time_s": round(time.time() - t_start, 3),
            "trials_this_run": trials_this_run,
            "sessions": sessions,
        },
        geometry=spaces_lib.geometry(args["name"], hypermodel.space.get("fixed")),
    )


def _record_session(project_dir, session):
    """Appends one run of a project to its ``symzoo_sessions.json``; returns all."""
    path = os.path.join(project_dir, SESSIONS_FILE)
    sessions = _read_json(path) or []
    sessions.append(session)
    _write_json_atomic(path, sessions)
    return sessions


def _load(dataset, seed, data_kwargs):
    from symzoo import datasets

    return datasets.load(dataset, seed=seed, **data_kwargs)


def evaluate_best(tuner_obj, data, batch_size):
    """Test metrics of the best trial's best-epoch checkpoint (``test_<metric>``)."""
    import warnings

    with warnings.catch_warnings():
        # The checkpoint holds Adam's slots, the fresh model has none yet.
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        model = tuner_obj.get_best_models(1)[0]
    x, y = data.test
    if len(y) == 0:
        return None
    results = model.evaluate(x, y, batch_size=batch_size, verbose=0, return_dict=True)
    return {f"test_{k}": float(v) for k, v in results.items()}


__all__ = [
    "DIST_VARS",
    "OBJECTIVES",
    "TUNERS",
    "dataset_kwargs",
    "distributed_role",
    "environment_info",
    "evaluate_best",
    "load_data",
    "make_tuner",
    "resolve_objective",
    "search",
]
