"""The ``symzoo`` command line (also ``python -m symzoo``).

    symzoo list
    symzoo train NAME [--epochs N] [--batch-size N] [--learning-rate LR]
                      [--lr-schedule {constant,cosine}]
                      [--sharing-schedule EPOCH:LAM[,EPOCH:LAM...]]
                      [--seed S] [--data-seed S] [--out DIR] [--quick]
                      [--data-dir DIR] [--set KEY=VALUE ...]
                      [--dataset-set KEY=VALUE ...] [--no-resume]
    symzoo evaluate NAME --model PATH [--split test] [--data-seed S]
                      [--data-dir DIR] [--quick]
    symzoo export NAME (--model PATH | --pretrained) --out DIR
    symzoo reproduce ... | tune ... | inspect ...

``reproduce``, ``tune`` and ``inspect`` belong to `symzoo.reproduce`,
`symzoo.tuning.cli` and `symzoo.symmetry.report`, which each expose
``add_arguments(parser)`` and ``run(args) -> int``; they are imported only
when their subcommand is used.

Errors caused by the input (unknown model, bad values, missing or corrupted
files) print one line to stderr and exit with status 2.
"""

import argparse
import importlib
import json
import os
import sys

from symzoo import errors
from symzoo._argtypes import parse_assignment  # noqa: F401  (cli.parse_assignment)

# Before anything imports TensorFlow.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

PROG = "symzoo"

#: subcommand -> (module, help)
DELEGATED = {
    "reproduce": ("symzoo.reproduce", "train a model as in the report and save it"),
    "tune": ("symzoo.tuning.cli", "search hyperparameters with keras-tuner"),
    "inspect": ("symzoo.symmetry.report", "report the symmetries a trained model learned"),
}

EXIT_USAGE = 2


class CLIError(Exception):
    """An error in the command line's input (printed without traceback)."""


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def _assignments(pairs, option):
    result = {}
    for key, value in pairs or []:
        if key in result:
            raise CLIError(f"{option} {key}=... given twice")
        result[key] = value
    return result


def _add_assignments(parser, option, help_text):
    """Adds a repeatable ``option KEY=VALUE`` (a list of `parse_assignment` pairs)."""
    parser.add_argument(
        option, action="append", type=parse_assignment, metavar="KEY=VALUE", help=help_text
    )


def _format_value(value):
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _print_metrics(metrics, title, file=None):
    file = file or sys.stdout
    print(title, file=file)
    width = max((len(k) for k in metrics), default=0)
    for key, value in metrics.items():
        print(f"  {key:<{width}}  {_format_value(value)}", file=file)


def _print_report_figure(result):
    key = result.get("report_metric") or ""
    value = result.get("report_value")
    metric = key[len("test_"):] if key.startswith("test_") else key
    if value is None or metric not in result["metrics"]:
        return
    print(
        f"Report figure: {key}={_format_value(value)} "
        f"(this run: {_format_value(result['metrics'][metric])})"
    )


def _non_negative_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {value}")
    return value


def _positive_int(text):
    value = _non_negative_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("expected a positive integer, got 0")
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _check_name(name):
    from symzoo import models

    names = list(models.list())
    if name not in names:
        raise CLIError(f"unknown model {name!r}; choose one of: {', '.join(names)}")
    return name


# --------------------------------------------------------------------------
# subcommands
# --------------------------------------------------------------------------


def _cmd_list(args):
    from symzoo import models

    rows = []
    for name in models.list():
        spec = models.spec(name)
        if spec.report_value is None:
            report = f"{spec.report_metric}: -"
        else:
            report = f"{spec.report_metric}={_format_value(spec.report_value)}"
        description = (spec.description or "").strip().splitlines()
        rows.append(
            {
                "name": name,
                "dataset": spec.dataset,
                "task": spec.task,
                "report": report,
                "report_metric": spec.report_metric,
                "report_value": spec.report_value,
                "description": description[0] if description else "",
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    columns = ("name", "dataset", "report", "description")
    headers = {c: c.upper() for c in columns}
    widths = {
        c: max([len(headers[c])] + [len(str(r[c])) for r in rows]) for c in columns[:-1]
    }
    line = "  ".join(f"{headers[c]:<{widths[c]}}" for c in columns[:-1])
    print(f"{line}  {headers['description']}")
    for row in rows:
        line = "  ".join(f"{str(row[c]):<{widths[c]}}" for c in columns[:-1])
        print(f"{line}  {row['description']}")
    return 0


def _cmd_train(args):
    from symzoo import training

    name = _check_name(args.name)
    result = training.train(
        name,
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        data_seed=args.data_seed,
        out=args.out,
        learning_rate=args.learning_rate,
        model_kwargs={
            **_assignments(args.set, "--set"),
            **({"dtype_policy": args.dtype_policy} if args.dtype_policy else {}),
        },
        dataset_kwargs=_assignments(args.dataset_set, "--dataset-set"),
        quick=args.quick,
        verbose=args.verbose,
        resume=args.resume,
        data_dir=args.data_dir,
        lr_schedule=args.lr_schedule,
        sharing_schedule=args.sharing_schedule,
    )
    paths = result["paths"]
    print(
        f"Trained {name} for {result['epochs_completed']} epochs "
        f"({result['epochs_this_run']} in this run, {result['wall_time_s']:.1f} s); "
        f"model: {paths['model']}"
    )
    print(f"Results: {paths['results']}")
    _print_metrics(result["metrics"], f"Test metrics ({name}):")
    _print_report_figure(result)
    if result.get("terminated_on_nan"):
        print(f"{PROG}: warning: training stopped on a NaN loss", file=sys.stderr)
    return 0


def _cmd_evaluate(args):
    from symzoo import training

    name = _check_name(args.name)
    model = training.load_model(args.model)
    metrics = training.evaluate_model(
        model,
        name,
        split=args.split,
        data_seed=args.data_seed,
        data_dir=args.data_dir,
        quick=args.quick,
    )
    if args.json:
        print(json.dumps(training._jsonable(metrics), indent=2))
    else:
        _print_metrics(metrics, f"{args.split.capitalize()} metrics ({name}, {args.model}):")
    return 0


def _cmd_export(args):
    import keras

    from symzoo.models import export as export_lib

    name = _check_name(args.name)
    if (args.model is None) == (not args.pretrained):
        raise CLIError("give exactly one of --model PATH and --pretrained")
    if args.pretrained:
        written = export_lib.export_pretrained(name, args.out)
    else:
        model = export_lib.load_model(args.model)
        if not isinstance(model, keras.Model) or model.name == "saved_model":
            raise CLIError(
                f"--model {args.model} must be a .keras model (a SavedModel cannot be re-exported)"
            )
        written = export_lib.export(
            model, args.out, name=name, extra={"source": os.fspath(args.model)}
        )
    for kind, path in written.items():
        print(f"{kind}: {path}")
    return 0


def _import_delegate(command):
    module_name, _ = DELEGATED[command]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        missing = err.name or ""
        if module_name == missing or module_name.startswith(missing + "."):
            raise CLIError(
                f"'{PROG} {command}' is not available: module {module_name} is not "
                "installed in this version of symzoo"
            ) from None
        raise CLIError(
            f"'{PROG} {command}' is not available: importing {module_name} failed "
            f"({err})"
        ) from None
    if not (callable(getattr(module, "add_arguments", None)) and callable(
        getattr(module, "run", None)
    )):
        raise CLIError(
            f"'{PROG} {command}' is not available: {module_name} does not define "
            "add_arguments(parser) and run(args)"
        )
    return module


# --------------------------------------------------------------------------
# parser
# --------------------------------------------------------------------------


def build_parser(delegate=None):
    """The argument parser. ``delegate``: ``(command, module)`` whose
    ``add_arguments`` fills that subcommand's parser (other delegated
    subcommands get a placeholder, so their modules are not imported)."""
    from symzoo import __version__

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="symzoo: Keras 3 model zoo for symmetry discovery.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("list", help="list the zoo's models")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser(
        "train",
        help="train a zoo model and evaluate it on the test split",
        description="Train a zoo model; the run's files go to --out "
        "(default runs/NAME/seedSEED). A killed run resumes from its last epoch.",
    )
    p.add_argument("name", help="model name (see `symzoo list`)")
    p.add_argument("--epochs", type=_positive_int, help="default: the model's spec")
    p.add_argument("--batch-size", type=_positive_int, help="default: the model's spec")
    p.add_argument("--learning-rate", type=_positive_float, help="Adam's learning rate")
    p.add_argument(
        "--lr-schedule",
        choices=("constant", "cosine"),
        default=None,
        help="learning-rate schedule: constant (default) or per-epoch cosine decay to 0",
    )
    from symzoo._argtypes import parse_sharing_schedule

    p.add_argument(
        "--sharing-schedule",
        type=parse_sharing_schedule,
        default=None,
        metavar="EPOCH:LAM[,EPOCH:LAM...]",
        help="sharing strength λ from each 0-based epoch on (symzoo.training.SharingSchedule), "
        "e.g. 0:10,2:30",
    )
    p.add_argument("--seed", type=_non_negative_int, default=0, help="training seed")
    p.add_argument("--data-seed", type=_non_negative_int, default=0, help="data seed")
    p.add_argument("--out", help="output directory (default runs/NAME/seedSEED)")
    p.add_argument("--quick", action="store_true", help="tiny data and 2 epochs (smoke test)")
    p.add_argument("--data-dir", help="directory of the MNIST IDX files (MNIST models)")
    p.add_argument(
        "--dtype-policy",
        choices=("float32", "mixed_bfloat16"),
        default=None,
        help="Keras dtype policy to build the model under (default: float32)",
    )
    _add_assignments(
        p,
        "--set",
        "model hyperparameter (Python literal), e.g. --set lam=1e-3 --set offsets=(8,4)",
    )
    _add_assignments(
        p, "--dataset-set", "data set generator argument, e.g. --dataset-set noise=0.1"
    )
    p.add_argument(
        "--no-resume",
        dest="resume",
        action="store_false",
        help="delete an earlier run's files in --out and start afresh",
    )
    p.add_argument(
        "--verbose",
        type=lambda s: s if s == "auto" else int(s),
        choices=["auto", 0, 1, 2],
        default="auto",
        help="Keras progress output: auto, 0, 1 or 2",
    )
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("evaluate", help="evaluate a saved model on its data set")
    p.add_argument("name", help="model name whose data set and task to use")
    p.add_argument("--model", required=True, help=".keras file, run/export dir or SavedModel")
    p.add_argument("--split", choices=["train", "val", "test"], default="test")
    p.add_argument("--data-seed", type=_non_negative_int, default=0)
    p.add_argument("--data-dir", help="directory of the MNIST IDX files (MNIST models)")
    p.add_argument("--quick", action="store_true", help="evaluate on the small quick data")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser(
        "export",
        help="write model.keras, a plain-TensorFlow SavedModel and a manifest",
        description="Write model.keras, saved_model/ (tf.saved_model.load(p).serve(x), no "
        "symzoo needed) and manifest.json into --out, from a trained model (--model) or "
        "from the pretrained weights (--pretrained). The same weights give the same bytes.",
    )
    p.add_argument("name", help="zoo name recorded in the manifest")
    p.add_argument("--model", default=None, help=".keras file or directory with model.keras")
    p.add_argument("--pretrained", action="store_true",
                   help="export the pretrained model (models.NAME(weights='pretrained'))")
    p.add_argument("--out", required=True, help="output directory")
    p.set_defaults(func=_cmd_export)

    for command, (module_name, help_text) in DELEGATED.items():
        if delegate is not None and delegate[0] == command:
            module = delegate[1]
            p = sub.add_parser(command, help=help_text, description=module.__doc__)
            module.add_arguments(p)
            p.set_defaults(func=module.run)
        else:
            p = sub.add_parser(command, help=help_text, add_help=False)
            p.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
            p.set_defaults(func=None)
    return parser


_NOISE_PREFIXES = (
    "WARNING: All log messages before absl::InitializeLog()",
    "To enable the following instructions:",
)


def _is_log_noise(line, level):
    """Whether `line` is a TensorFlow C++ log line below TF_CPP_MIN_LOG_LEVEL.

    Since TensorFlow logs through absl, the lines written while it is imported
    (before absl's logging is initialised) ignore TF_CPP_MIN_LOG_LEVEL.
    """
    if line.startswith(_NOISE_PREFIXES):
        return level >= 1
    severity = line[:1]
    if len(line) > 5 and line[1:5].isdigit() and line[5:6] == " ":
        if severity == "I":
            return level >= 1
        if severity == "W":
            return level >= 2
        if severity == "E":
            return level >= 3 or (level >= 2 and "failed call to cuInit" in line)
    return False


def _import_tensorflow_quietly():
    """Imports TensorFlow with its start-up C++ log lines filtered by
    TF_CPP_MIN_LOG_LEVEL (other output is passed through)."""
    if "tensorflow" in sys.modules:
        return
    try:
        level = int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    except ValueError:
        level = 0
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, AttributeError, ValueError):
        saved = None
    if level <= 0 or saved is None:
        try:
            import tensorflow  # noqa: F401
        except ImportError:
            pass
        return
    import tempfile

    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices("GPU")  # initialises the devices
        except ImportError:
            pass
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode("utf-8", errors="replace")
            kept = [line for line in text.splitlines() if not _is_log_noise(line, level)]
            if kept:
                sys.stderr.write("\n".join(kept) + "\n")
                sys.stderr.flush()


def _command_of(argv):
    for token in argv:
        if not token.startswith("-"):
            return token
    return None


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"{PROG}: warning: {_one_line(message)}", file=file or sys.stderr)


def _error(message):
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def main(argv=None):
    """Runs the command line; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        delegate = None
        command = _command_of(argv)
        if command is not None:
            _import_tensorflow_quietly()
        if command in DELEGATED:
            delegate = (command, _import_delegate(command))
        parser = build_parser(delegate)
        try:
            args = parser.parse_args(argv)
        except SystemExit as exit_:  # argparse: --help, --version, usage errors
            code = exit_.code
            return code if isinstance(code, int) else (0 if code is None else EXIT_USAGE)
        if args.func is None:  # a delegated placeholder (cannot normally happen)
            return _error(f"'{PROG} {args.command}' is not available")
        import warnings

        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            status = args.func(args)
        return 0 if status is None else int(status)
    except CLIError as err:
        return _error(str(err))
    except (ValueError, FileNotFoundError, NotADirectoryError, IsADirectoryError) as err:
        # ValueError includes errors.HyperparameterError (an unknown --set key)
        return _error(_one_line(err))
    except errors.BackendError as err:
        return _error(_one_line(err))
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


def _one_line(err):
    text = " ".join(str(err).split())
    return text or type(err).__name__


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
