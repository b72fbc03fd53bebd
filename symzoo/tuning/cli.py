"""``symzoo tune``: KerasTuner search of a zoo model's hyperparameters.

Examples::

    symzoo tune set_sum --max-trials 2 --epochs 1
    symzoo tune mnist_translation --space mnist_translation_report_grid \\
        --max-trials 10 --epochs 1 --sizes 6000 2000 2000
    symzoo tune blob1d_translation --tuner hyperband --epochs 9 --lam-mode log
    symzoo tune --write-spaces            # tuning/spaces/<name>.json
    KERAS_BACKEND=jax symzoo tune set_sum --quick --max-trials 1 --epochs 1

Distributed (KerasTuner chief/worker; same command and --directory in every
process, see ``tuning/launch/``)::

    KERASTUNER_TUNER_ID=chief  KERASTUNER_ORACLE_IP=10.0.0.1 KERASTUNER_ORACLE_PORT=8000 symzoo tune NAME --distributed ...
    KERASTUNER_TUNER_ID=tuner0 KERASTUNER_ORACLE_IP=10.0.0.1 KERASTUNER_ORACLE_PORT=8000 symzoo tune NAME --distributed ...

Also runnable as ``python -m symzoo.tuning.cli ...``.
"""

import argparse
import json
import os
import sys

DEFAULT_SPACES_DIR = os.path.join("tuning", "spaces")

_EPILOG = """\
search spaces: the default space of NAME, or --space FILE.json / a built-in
space name (e.g. mnist_translation_report_grid); write the built-in spaces
with --write-spaces.

resuming: the search lives in DIRECTORY/PROJECT (default runs/tuning/NAME_TUNER)
and is resumed when re-run (overwrite=False): finished trials are kept, an
interrupted trial runs again, and a larger --max-trials adds trials.

distributed (--distributed): every process needs
  KERASTUNER_TUNER_ID     'chief' for the oracle process, e.g. 'tuner0',
                          'tuner1', ... for the workers
  KERASTUNER_ORACLE_IP    the chief's address (reachable by the workers)
  KERASTUNER_ORACLE_PORT  a free port on the chief
and the same --directory (a shared file system). The chief writes the summary.
"""


def add_arguments(parser):
    """Adds the ``symzoo tune`` arguments to ``parser``."""
    from symzoo.tuning.search import DEFAULT_DIRECTORY, OBJECTIVES, TUNERS

    parser.description = "Hyperparameter search (λ, offsets, activation, ...) with KerasTuner."
    parser.epilog = _EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("name", nargs="?", help="zoo model name (symzoo list)")
    parser.add_argument("--tuner", choices=TUNERS, default="random", help="default: random")
    parser.add_argument(
        "--max-trials", type=int, default=10,
        help="total trials of the project (default 10; ignored by hyperband)",
    )
    parser.add_argument(
        "--epochs", type=int, default=None,
        help="epochs per trial (hyperband: max epochs); default the model's",
    )
    parser.add_argument(
        "--directory", default=DEFAULT_DIRECTORY,
        help=f"KerasTuner directory (default {DEFAULT_DIRECTORY})",
    )
    parser.add_argument("--project-name", default=None, help="default NAME_TUNER")
    parser.add_argument("--space", default=None, help="space JSON file or built-in space name")
    parser.add_argument(
        "--lam-mode", choices=("report", "log"), default=None,
        help="λ as the report's list (Choice) or a log range 1e-6..1e2 (Float)",
    )
    parser.add_argument("--quick", action="store_true", help="small data sets")
    parser.add_argument("--seed", type=int, default=0, help="data, tuner and init seed")
    parser.add_argument(
        "--data-fraction", type=float, default=None,
        help="scale the split sizes by F in (0, 1]",
    )
    parser.add_argument(
        "--sizes", type=int, nargs=3, default=None, metavar=("TRAIN", "VAL", "TEST"),
        help="explicit split sizes",
    )
    parser.add_argument("--data-dir", default=None, help="MNIST IDX directory (padded_mnist)")
    parser.add_argument(
        "--objective", choices=OBJECTIVES, default=None,
        help="default val_accuracy (classifiers, graphs) or val_mae (regression)",
    )
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument(
        "--distributed", action="store_true",
        help="KerasTuner chief/worker mode from KERASTUNER_* variables (see below)",
    )
    parser.add_argument(
        "--summary-dir", default=None,
        help="where summary.json/.md and plots go (default DIRECTORY/PROJECT/summary, "
        "under ./runs; name tuning/NAME to update the committed summary)",
    )
    parser.add_argument(
        "--reference", action="append", default=None, metavar="LABEL=DIR",
        help="a reference configuration run once per seed at the same budget: DIR holds "
        "seed*/summary.json (symzoo tune --max-trials 1 --seed S --summary-dir DIR/seedS); "
        "repeatable; the first one's spread over seeds is the noise estimate",
    )
    parser.add_argument("--no-summary", action="store_true", help="write no summary")
    parser.add_argument("--no-test", action="store_true", help="skip the best trial's test evaluation")
    parser.add_argument("--overwrite", action="store_true", help="start the project afresh")
    parser.add_argument(
        "--verbose", type=int, choices=(0, 1, 2), default=None,
        help="KerasTuner/fit verbosity (default 1 on a terminal, else 2)",
    )
    parser.add_argument(
        "--write-spaces", nargs="?", const=DEFAULT_SPACES_DIR, default=None, metavar="DIR",
        help=f"write the built-in spaces as JSON into DIR (default {DEFAULT_SPACES_DIR}) and exit",
    )
    parser.add_argument(
        "--show-space", action="store_true",
        help="print NAME's resolved, validated space as JSON and exit",
    )
    return parser


def _error(message):
    print(f"symzoo tune: error: {message}", file=sys.stderr)
    return 2


def _references(values):
    pairs = []
    for value in values or ():
        label, sep, path = value.partition("=")
        if not sep or not label or not path:
            raise ValueError(f"Expected --reference LABEL=DIR. Received: {value!r}")
        pairs.append((label, path))
    return pairs


def run(args):
    """Runs ``symzoo tune``; returns the exit code."""
    from symzoo.tuning import spaces

    if args.write_spaces is not None:
        for path in spaces.write_spaces(args.write_spaces):
            print(path)
        return 0
    if not args.name:
        return _error("Expected a model NAME (or --write-spaces).")
    try:
        if args.show_space:
            if args.space is not None:
                space = spaces.load(args.space)
                if space["model"] != args.name:
                    raise ValueError(
                        f"Invalid search space: it is for model {space['model']!r}. "
                        f"Expected a space for model {args.name!r}."
                    )
                if args.lam_mode:
                    space = spaces.validate(spaces.set_lam_mode(space, args.lam_mode))
            else:
                space = spaces.validate(spaces.default_space(args.name, lam_mode=args.lam_mode))
            print(spaces.dumps(space), end="")
            return 0

        from symzoo.tuning import search as search_lib

        result = search_lib.search(
            args.name,
            tuner=args.tuner,
            max_trials=args.max_trials,
            epochs=args.epochs,
            directory=args.directory,
            project_name=args.project_name,
            space=args.space,
            lam_mode=args.lam_mode,
            quick=args.quick,
            seed=args.seed,
            data_fraction=args.data_fraction,
            sizes=tuple(args.sizes) if args.sizes else None,
            data_dir=args.data_dir,
            objective=args.objective,
            batch_size=args.batch_size,
            distributed=args.distributed,
            summary_dir=False if args.no_summary else args.summary_dir,
            overwrite=args.overwrite,
            evaluate_test=not args.no_test,
            verbose=args.verbose if args.verbose is not None else (1 if sys.stdout.isatty() else 2),
            references=_references(args.reference),
        )
    except (ValueError, FileNotFoundError, ImportError) as e:
        return _error(str(e))
    if result.get("role") == "worker":
        print(
            f"symzoo tune: worker {result['tuner_id']} ran trials "
            f"{result['trials_run']} in {result['search_wall_time_s']:.1f} s"
        )
        return 0
    best = result.get("best")
    timing = result["timing"]
    print(
        f"symzoo tune: {result['num_trials']} trial(s), "
        f"{timing['num_trials_this_run']} new in {timing['search_wall_time_s']:.1f} s "
        f"({timing['trials_per_hour_this_run'] or '–'} trials/hour; all runs: "
        f"{timing['trials_per_hour'] or '–'}) on "
        f"{result['environment']['backend']} / {result['environment']['device']['type']}"
    )
    if best is not None:
        print(f"best trial {best['trial_id']}: {result['objective']['name']} = {best['score']:.6g}")
        print("  " + json.dumps(best["hyperparameters"]))
        if best.get("test"):
            print("  test: " + json.dumps({k: round(v, 6) for k, v in best["test"].items()}))
        if best.get("offsets"):
            off = best["offsets"]
            print(
                f"  offsets (b, b') = ({off['b']}, {off['b_prime']}), stride {off['stride']}: "
                f"b' = s·b: {off['b_prime_equals_stride_times_b']}"
            )
    for ref in result.get("references") or []:
        margin = ref["best_margin"]
        print(
            f"  vs {ref['label']} (seeds {ref['seeds']}): mean {ref['mean']:.6g}"
            + (f" ± {ref['std']:.3g}" if ref["std"] is not None else "")
            + (f"; best − mean {margin:+.4g}" if margin is not None else "")
            + (f" = {ref['best_margin_in_noise']:.3g} noise std"
               if ref["best_margin_in_noise"] is not None else "")
        )
    for path in result.get("files", []):
        print(f"wrote {path}")
    if best is None:
        print("symzoo tune: no trial finished (see the trials' errors above)", file=sys.stderr)
        return 1
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="symzoo tune")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
