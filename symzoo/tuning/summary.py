"""Summaries of a search: ``summary.json``, ``summary.md`` and plots.

`build_summary` assembles a plain dict (every trial with its
hyperparameters, score, status and wall time; the best trial with its test
metrics; backend, device, wall time and trials per hour); `write_summary`
writes it into a directory:

* ``summary.json``: the dict;
* ``summary.md``: the settings and a table of the best trials;
* ``score_vs_offsets.png``: the best objective over the visited (b, b')
  grid (translation models), cells with b' = s·b (a true convolution) outlined;
* ``score_vs_<hp>.png``: the objective over each other searched
  hyperparameter (``score_vs_lam.png``: over λ).

Plots use matplotlib's Agg backend (no display needed). The functions work
on the summary dict alone, so summaries can be re-plotted without KerasTuner:
``python -c "from symzoo.tuning import summary; summary.rewrite('tuning/mnist_translation')"``.
"""

import json
import math
import os
import statistics

from symzoo import _format

FINISHED = ("COMPLETED",)
#: The file in a project directory that records what a search was started
#: with; a resumed search must match it (`symzoo.tuning.search`).
SEARCH_FILE = "symzoo_search.json"
#: Every run (session) of a project: wall time, new trials, backend, device.
SESSIONS_FILE = "symzoo_sessions.json"
#: Per-trial record (wall time, worker, device) in each trial directory.
TRIAL_FILE = "symzoo_trial.json"
SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"


# --- from KerasTuner ----------------------------------------------------------


def _status(trial):
    status = getattr(trial, "status", None)
    return str(getattr(status, "value", status))


def finished_trial_ids(tuner):
    """IDs of the trials of a (non-worker) tuner that have finished."""
    return {
        tid
        for tid, trial in tuner.oracle.trials.items()
        if _status(trial) in FINISHED
    }


def _number(value):
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _plain(value):
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def collect_trials(tuner):
    """One dict per trial of a (non-worker) tuner, in trial-id order."""
    records = []
    for tid, trial in sorted(tuner.oracle.trials.items()):
        metrics = {}
        for metric_name in trial.metrics.metrics:
            try:
                metrics[metric_name] = _number(trial.metrics.get_best_value(metric_name))
            except Exception:  # a metric without values
                metrics[metric_name] = None
        record = {
            "trial_id": tid,
            "status": _status(trial),
            "score": _number(trial.score),
            "best_step": _plain(trial.best_step),
            "hyperparameters": {k: _plain(v) for k, v in trial.hyperparameters.values.items()},
            "metrics": metrics,
            "seconds": None,
            "tuner_id": None,
        }
        path = os.path.join(tuner.project_dir, f"trial_{tid}", TRIAL_FILE)
        try:
            with open(path, encoding="utf-8") as f:
                extra = json.load(f)
            record["seconds"] = extra.get("seconds")
            record["tuner_id"] = extra.get("tuner_id")
        except (OSError, json.JSONDecodeError):
            pass
        message = getattr(trial, "message", None)
        if message and record["status"] not in FINISHED:
            record["message"] = str(message).strip().splitlines()[-1][:500]
        records.append(record)
    return records


def best_trial(trials, direction):
    """The finished trial with the best score (None if there is none)."""
    scored = [t for t in trials if t["status"] in FINISHED and t["score"] is not None]
    if not scored:
        return None
    key = (lambda t: t["score"]) if direction == "min" else (lambda t: -t["score"])
    return min(scored, key=key)


def ranked(trials, direction):
    scored = [t for t in trials if t["status"] in FINISHED and t["score"] is not None]
    return sorted(scored, key=lambda t: t["score"], reverse=direction == "max")


def offsets_check(hyperparameters, geometry):
    """``{"b", "b_prime", "stride", "b_prime_equals_stride_times_b"}`` or None.

    With stride s, b' = s·b ties each translation's template to the next one
    moved by exactly that translation (a true convolution).
    """
    if geometry is None or "offset_b" not in hyperparameters or "offset_b_prime" not in hyperparameters:
        return None
    b, bp = int(hyperparameters["offset_b"]), int(hyperparameters["offset_b_prime"])
    s = int(geometry["strides"])
    return {
        "b": b,
        "b_prime": bp,
        "stride": s,
        "b_prime_equals_stride_times_b": bp == s * b,
        "b_prime_equals_stride_times_b_mod_d": bp == (s * b) % int(geometry["input_size"]),
        "no_sharing": b == 0 and bp == 0,
    }


def build_summary(
    name, tuner, objective, space, trials, best, test, settings, environment, timing, geometry
):
    """The summary dict written to ``summary.json``."""
    objective_name, direction = objective
    counts = {}
    for t in trials:
        counts[t["status"]] = counts.get(t["status"], 0) + 1
    seconds = [t["seconds"] for t in trials if t["status"] in FINISHED and t["seconds"]]
    timing = dict(timing)
    n_run = len(timing.get("trials_this_run", []))
    wall = timing.get("search_wall_time_s") or 0
    timing["num_trials_this_run"] = n_run
    timing["trials_per_hour_this_run"] = (
        round(3600.0 * n_run / wall, 2) if n_run and wall > 0 else None
    )
    # Over every run of the project that ran trials (a resumed search adds up).
    sessions = [s for s in timing.get("sessions") or [] if s.get("trials")]
    total_trials = sum(len(s["trials"]) for s in sessions)
    total_wall = sum(s.get("search_wall_time_s") or 0 for s in sessions)
    timing["trials_run_all_sessions"] = total_trials
    timing["search_wall_time_all_sessions_s"] = round(total_wall, 3)
    timing["trials_per_hour"] = (
        round(3600.0 * total_trials / total_wall, 2)
        if total_trials and total_wall > 0
        else timing["trials_per_hour_this_run"]
    )
    timing["mean_trial_s"] = round(sum(seconds) / len(seconds), 3) if seconds else None
    timing["trials_per_hour_per_worker"] = (
        round(3600.0 / timing["mean_trial_s"], 2) if timing["mean_trial_s"] else None
    )
    best_out = None
    if best is not None:
        best_out = {
            "trial_id": best["trial_id"],
            "score": best["score"],
            "hyperparameters": best["hyperparameters"],
            "metrics": best["metrics"],
            "test": test,
            "offsets": offsets_check(best["hyperparameters"], geometry),
        }
    return {
        "model": name,
        "tuner": tuner,
        "objective": {"name": objective_name, "direction": direction},
        "space": space,
        "geometry": geometry,
        "settings": settings,
        "environment": environment,
        "timing": timing,
        "counts": counts,
        "num_trials": len(trials),
        "best": best_out,
        "trials": trials,
    }


# --- references: noise and baselines at the search's budget ------------------

#: Settings a reference run must share with the search it is compared with.
REFERENCE_BUDGET_KEYS = ("epochs", "batch_size", "data_sizes")


def _mean_std(values):
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else None


def read_reference(label, directory):
    """One reference configuration run over several seeds: the ``summary.json``
    of every ``seed*/`` folder of `directory` (one-trial searches of the
    configuration, ``symzoo tune --max-trials 1 --seed S``).

    Returns ``{"label", "directory", "description", "seeds", "scores",
    "objective", "settings", "mean", "std"}`` (``std``: the sample standard
    deviation over seeds, None for one seed). Raises ValueError naming
    `directory` when it holds no such run or its runs disagree on the objective
    or the budget.
    """
    directory = os.fspath(directory)
    runs = []
    if os.path.isdir(directory):
        for entry in sorted(os.listdir(directory)):
            path = os.path.join(directory, entry, "summary.json")
            if entry.startswith("seed") and os.path.isfile(path):
                with open(path, encoding="utf-8") as f:
                    runs.append(json.load(f))
    runs = [r for r in runs if r.get("best") is not None]
    if not runs:
        raise ValueError(
            f"Expected reference {label!r} to be a folder of seed*/summary.json files of "
            f"finished one-trial searches (symzoo tune --max-trials 1 --seed S --summary-dir "
            f"DIR/seedS). Received: directory={directory!r}, which holds none."
        )
    first = runs[0]
    for r in runs[1:]:
        if r["objective"] != first["objective"] or any(
            r["settings"].get(k) != first["settings"].get(k) for k in REFERENCE_BUDGET_KEYS
        ):
            raise ValueError(
                f"Expected the runs of reference {label!r} ({directory}) to share one objective "
                f"and budget {REFERENCE_BUDGET_KEYS}. Received: seed {r['settings'].get('seed')} "
                f"differs from seed {first['settings'].get('seed')}."
            )
    scores = [float(r["best"]["score"]) for r in runs]
    mean, std = _mean_std(scores)
    return {
        "label": label,
        "directory": directory,
        "description": (first.get("space") or {}).get("description"),
        "seeds": [r["settings"].get("seed") for r in runs],
        "scores": scores,
        "objective": first["objective"],
        "settings": {k: first["settings"].get(k) for k in REFERENCE_BUDGET_KEYS},
        "mean": mean,
        "std": std,
    }


def compare_references(summary, references):
    """Adds ``summary["references"]`` (list of `read_reference` dicts) and
    ``summary["noise"]``: the first reference's seed spread is the search's
    noise estimate, and the best trial's margin over each reference is
    given in points and in units of that spread.

    Raises ValueError when a reference was run on another objective or budget
    than the search (its scores would not be comparable).
    """
    budget = {k: summary["settings"].get(k) for k in REFERENCE_BUDGET_KEYS}
    out = []
    for ref in references:
        if ref["objective"] != summary["objective"] or ref["settings"] != budget:
            raise ValueError(
                f"Expected reference {ref['label']!r} to be run on the search's objective "
                f"{summary['objective']['name']} and budget {budget}. Received: "
                f"{ref['objective']['name']} and {ref['settings']} ({ref['directory']})."
            )
        out.append(dict(ref))
    summary["references"] = out
    noise = out[0]["std"] if out else None
    best = summary.get("best")
    sign = 1.0 if summary["objective"]["direction"] == "max" else -1.0
    for ref in out:
        margin = None if best is None else sign * (best["score"] - ref["mean"])
        ref["best_margin"] = margin
        ref["best_margin_in_noise"] = (
            margin / noise if margin is not None and noise else None
        )
    summary["noise"] = {"std": noise, "from": out[0]["label"]} if out else None
    return summary


def _references_markdown(summary):
    refs = summary.get("references") or []
    if not refs:
        return []
    obj = summary["objective"]["name"]
    noise = summary.get("noise") or {}
    lines = [
        "",
        "## Noise and references (the search's budget)",
        "",
        f"Each reference is one configuration trained once per seed (the seed draws the data "
        f"subset and the initial weights) with the search's budget; the spread of "
        f"**{noise.get('from')}** over its seeds is the noise estimate: one trial's "
        f"{obj} varies by ± {_fmt(noise.get('std'))} (sample std) from seed alone.",
        "",
        f"| reference | seeds | {obj} per seed | mean ± std | best trial − mean | in noise std |",
        "|---|---|---|---|---|---|",
    ]
    for ref in refs:
        lines.append(
            f"| {ref['label']} | {', '.join(str(s) for s in ref['seeds'])} | "
            f"{', '.join(_fmt(v) for v in ref['scores'])} | {_fmt(ref['mean'])} ± "
            f"{_fmt(ref['std'])} | {_fmt(ref['best_margin'])} | "
            f"{_fmt(ref['best_margin_in_noise'])} |"
        )
    lines.append("")
    lines += [f"- {ref['label']}: {ref['description']} (`{ref['directory']}`)"
              for ref in refs if ref.get("description")]
    return lines


# --- writing ------------------------------------------------------------------


def _fmt(value):
    return _format.number(
        value, 4, sci_below=1e-2, sci_above=1e4, general=True, zero="0", only_floats=True,
        nonfinite=None,
    )


def markdown(summary, top=10):
    """The text of ``summary.md``."""
    obj = summary["objective"]
    env = summary["environment"]
    timing = summary["timing"]
    settings = summary["settings"]
    device = env.get("device", {})
    lines = [
        f"# Search summary: `{summary['model']}`",
        "",
        f"- tuner: **{summary['tuner']}**, objective: **{obj['name']}** ({obj['direction']})",
        f"- trials: {summary['num_trials']} ({', '.join(f'{k}: {v}' for k, v in sorted(summary['counts'].items()))}); "
        f"max_trials {settings.get('max_trials')}, {settings.get('epochs')} epoch(s) per trial, "
        f"batch size {settings.get('batch_size')}, seed {settings.get('seed')}, learning-rate "
        f"schedule {(summary.get('space') or {}).get('lr_schedule', 'constant')}",
        f"- data: `{settings.get('data', {}).get('dataset')}` sizes (train, val, test) = "
        f"{tuple(settings['data_sizes']) if settings.get('data_sizes') else '–'}",
        f"- backend: **{env.get('backend')}** (Keras {env.get('keras')}, KerasTuner "
        f"{env.get('keras_tuner')}), device: **{device.get('type')}** ({device.get('name')}, "
        f"{env.get('cpu_count')} CPU cores visible)",
        f"- throughput: **{_fmt(timing.get('trials_per_hour'))} trials/hour** "
        f"({timing.get('trials_run_all_sessions', timing.get('num_trials_this_run'))} trial(s) in "
        f"{_fmt(timing.get('search_wall_time_all_sessions_s', timing.get('search_wall_time_s')))} s "
        f"of search wall time over {len([s for s in timing.get('sessions') or [] if s.get('trials')]) or 1} "
        f"run(s)); mean trial {_fmt(timing.get('mean_trial_s'))} s "
        f"({_fmt(timing.get('trials_per_hour_per_worker'))} trials/hour per worker); this run: "
        f"{timing.get('num_trials_this_run')} new trial(s) in {_fmt(timing.get('search_wall_time_s'))} s",
    ]
    if settings.get("distributed"):
        workers = sorted({t["tuner_id"] for t in summary["trials"] if t.get("tuner_id")})
        lines.append(f"- distributed: chief + workers {', '.join(workers) or '–'}")
    best = summary.get("best")
    lines += ["", "## Best trial", ""]
    if best is None:
        lines.append("No finished trial.")
    else:
        lines.append(f"- trial `{best['trial_id']}`: {obj['name']} = {_fmt(best['score'])}")
        lines.append(
            "- hyperparameters: "
            + ", ".join(f"`{k}`={_fmt(v)}" for k, v in best["hyperparameters"].items())
        )
        if best.get("test"):
            lines.append(
                "- test (best epoch's checkpoint): "
                + ", ".join(f"{k} = {_fmt(v)}" for k, v in best["test"].items())
            )
        off = best.get("offsets")
        if off:
            verdict = "yes" if off["b_prime_equals_stride_times_b"] else "no"
            lines.append(
                f"- offsets (b, b') = ({off['b']}, {off['b_prime']}), stride s = {off['stride']}: "
                f"b' = s·b (true convolution)? **{verdict}**"
                + (" (b = b' = 0: no sharing penalty)" if off["no_sharing"] else "")
            )
    lines += _references_markdown(summary)
    rows = ranked(summary["trials"], obj["direction"])[:top]
    if rows:
        hp_names = []
        for t in rows:
            for k in t["hyperparameters"]:
                if k not in hp_names and not k.startswith("tuner/"):
                    hp_names.append(k)
        lines += ["", f"## Top {len(rows)} trials", ""]
        header = ["rank", "trial", obj["name"], *hp_names, "seconds"]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        for i, t in enumerate(rows, 1):
            cells = [str(i), t["trial_id"], _fmt(t["score"])]
            cells += [_fmt(t["hyperparameters"].get(k)) for k in hp_names]
            cells.append(_fmt(t["seconds"]))
            lines.append("| " + " | ".join(cells) + " |")
    failed = [t for t in summary["trials"] if t["status"] not in FINISHED]
    if failed:
        lines += ["", "## Unfinished trials", ""]
        for t in failed:
            lines.append(f"- `{t['trial_id']}`: {t['status']} {t.get('message', '')}".rstrip())
    plots = summary.get("plots") or []
    if plots:
        lines += ["", "## Plots", ""]
        lines += [f"![{p}]({p})" for p in plots]
    lines.append("")
    return "\n".join(lines)


def _scored(summary):
    return [t for t in summary["trials"] if t["status"] in FINISHED and t["score"] is not None]


def _better(a, b, maximize):
    return a > b if maximize else a < b


def _hp_names(summary, trials):
    names = list((summary.get("space") or {}).get("hyperparameters", {}))
    for t in trials:
        for k in t["hyperparameters"]:
            if k not in names and not k.startswith("tuner/"):
                names.append(k)
    return names


def make_plots(summary, directory):
    """Writes the plots that apply to ``summary``; returns their file names.

    * ``score_vs_offsets.png``: best objective per visited (b, b'), a heatmap
      (cells with b' = s·b outlined in red);
    * ``score_vs_<hp>.png`` for every other searched hyperparameter with more
      than one visited value (λ: log axis and the best value per λ; categorical
      ones such as the activation: one column per value).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    trials = _scored(summary)
    if not trials:
        return []
    obj = summary["objective"]["name"]
    maximize = summary["objective"]["direction"] == "max"
    model = summary["model"]
    specs = (summary.get("space") or {}).get("hyperparameters", {})
    written = []

    def save(fig, filename):
        fig.tight_layout()
        fig.savefig(os.path.join(directory, filename), dpi=110)
        plt.close(fig)
        written.append(filename)

    # Score over the (b, b') grid.
    cells = {}
    for t in trials:
        hp = t["hyperparameters"]
        if "offset_b" in hp and "offset_b_prime" in hp:
            key = (int(hp["offset_b"]), int(hp["offset_b_prime"]))
            if key not in cells or _better(t["score"], cells[key], maximize):
                cells[key] = t["score"]
    if cells:
        bs = sorted({b for b, _ in cells})
        bps = sorted({bp for _, bp in cells})
        grid = np.full((len(bps), len(bs)), np.nan)
        for (b, bp), y in cells.items():
            grid[bps.index(bp), bs.index(b)] = y
        fig, ax = plt.subplots(figsize=(1.6 + 0.55 * max(len(bs), 4), 1.6 + 0.45 * max(len(bps), 4)))
        im = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis")
        ax.set_xticks(range(len(bs)), [str(b) for b in bs])
        ax.set_yticks(range(len(bps)), [str(bp) for bp in bps])
        ax.set_xlabel("b (translation offset)")
        ax.set_ylabel("b' (pixel offset)")
        stride = (summary.get("geometry") or {}).get("strides")
        lo, hi = np.nanmin(grid), np.nanmax(grid)
        for (b, bp), y in cells.items():
            i, j = bps.index(bp), bs.index(b)
            light = hi > lo and (y - lo) / (hi - lo) > 0.6
            ax.text(j, i, f"{y:.4g}", ha="center", va="center", fontsize=7,
                    color="black" if light else "white")
            if stride is not None and bp == stride * b:
                ax.add_patch(matplotlib.patches.Rectangle(
                    (j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=2))
        fig.colorbar(im, ax=ax, label=f"best {obj}")
        title = f"{model}: best {obj} per (b, b')"
        if stride is not None:
            title += f"\nred: b' = {stride}·b (a true convolution)"
        ax.set_title(title, fontsize=9)
        save(fig, "score_vs_offsets.png")

    # Score over each other hyperparameter.
    for name in _hp_names(summary, trials):
        if name in ("offset_b", "offset_b_prime"):
            continue
        pts = [(t["hyperparameters"][name], t["score"]) for t in trials if name in t["hyperparameters"]]
        if len({repr(x) for x, _ in pts}) < 2:
            continue
        label = {"lam": "λ (offset-sharing strength)", "l1": "L1 strength",
                 "learning_rate": "learning rate"}.get(name, name)
        fig, ax = plt.subplots(figsize=(5, 3.6))
        if all(_number(x) is not None for x, _ in pts):
            xs = [float(x) for x, _ in pts]
            ys = [y for _, y in pts]
            ax.scatter(xs, ys, alpha=0.8, label="trials")
            best = {}
            for x, y in zip(xs, ys):
                if x not in best or _better(y, best[x], maximize):
                    best[x] = y
            if name == "lam" or len(best) < len(xs):
                bx = sorted(best)
                ax.plot(bx, [best[x] for x in bx], alpha=0.5, label=f"best per {name}")
                ax.legend(loc="best", fontsize=8)
            spec = specs.get(name, {})
            positive = [x for x in xs if x > 0]
            if spec.get("sampling") == "log" or (
                name in ("lam", "l1", "learning_rate", "sparsity_alpha") and positive
                and max(positive) / min(positive) >= 50
            ):
                if len(positive) < len(xs):  # zero among the values (e.g. l1 = 0)
                    ax.set_xscale("symlog", linthresh=min(positive))
                else:
                    ax.set_xscale("log")
        else:
            cats = sorted({str(x) for x, _ in pts})
            xs = [cats.index(str(x)) for x, _ in pts]
            ax.scatter(xs, [y for _, y in pts], alpha=0.8)
            ax.set_xticks(range(len(cats)), cats)
        ax.set_xlabel(label)
        ax.set_ylabel(obj)
        ax.set_title(f"{model}: {obj} over {name}", fontsize=10)
        ax.grid(alpha=0.3)
        save(fig, f"score_vs_{name}.png")
    return written


def write_summary(summary, directory):
    """Writes ``summary.json``, ``summary.md`` and the plots; returns the paths."""
    os.makedirs(directory, exist_ok=True)
    summary["plots"] = make_plots(summary, directory)
    json_path = os.path.join(directory, SUMMARY_JSON)
    with open(json_path, "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2, ensure_ascii=False, default=str)
        f.write("\n")
    md_path = os.path.join(directory, SUMMARY_MD)
    with open(md_path, "w", encoding="utf-8") as f:
        f.write(markdown(summary))
    return [json_path, md_path] + [os.path.join(directory, p) for p in summary["plots"]]


def rewrite(directory):
    """Re-writes ``summary.md`` and the plots from ``directory/summary.json``."""
    with open(os.path.join(directory, SUMMARY_JSON), encoding="utf-8") as f:
        summary = json.load(f)
    summary.pop("files", None)
    return write_summary(summary, directory)


__all__ = [
    "best_trial",
    "build_summary",
    "collect_trials",
    "make_plots",
    "markdown",
    "offsets_check",
    "ranked",
    "rewrite",
    "write_summary",
]
