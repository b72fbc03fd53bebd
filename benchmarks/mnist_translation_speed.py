"""Training speed of `mnist_translation` (24.6M-weight kernel) on this machine.

Measures, on random data of the model's shape (N, 56, 56) with batch size N:

1. the training throughput (samples/s) of ``model.train_on_batch`` of the zoo
   model without penalty (``mnist_translation(lam=0)``);
2. the time of the bare matrix products of one training step, timed with
   TensorFlow: forward ``x (N, 3136) @ W (3136, 7840)`` and the two backward
   products ``x^T @ g`` (gradient of W) and ``g @ W^T`` (gradient of x), and
   the ratio bare / step (target >= 0.7: the step is matmul-bound);
3. the step-time overhead of each penalty relative to no penalty:
   `OffsetSharing` (the model's default λ and offsets), `L1Sparsity` and
   `PairwiseSharing` (targets: <= 10 %, pairwise <= 30 %).

Step times are medians over ``--steps`` timed steps (``--pairwise-steps`` for
the pairwise penalty, which sorts the 24.6M weights every step) after
``--warmup`` steps. The configurations are timed in turns, one step each per
round, so that a change in the machine's load affects them alike.

    python benchmarks/mnist_translation_speed.py                    # ~3 min on 2 cores
    python benchmarks/mnist_translation_speed.py --steps 3 --warmup 1 --json speed.json
"""

import argparse
import json
import pathlib
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

INPUT = (56, 56)
CLASSES = 10
STRIDES = 2
CONFIGS = ("none", "offset", "l1", "pairwise")
TARGETS = {"ratio": 0.7, "offset": 0.10, "l1": 0.10, "pairwise": 0.30}


def build(config):
    """The zoo model with one penalty (or none), compiled like the zoo's."""
    import keras

    from symzoo import models

    if config == "none":
        return models.mnist_translation(lam=0)
    if config == "offset":
        return models.mnist_translation()  # the default λ and offsets
    if config == "l1":
        return models.mnist_translation(lam=0, l1=1e-5)
    if config == "pairwise":
        from symzoo.layers import ClassTranslationDense
        from symzoo.models.symzoo_model import SymzooModel
        from symzoo.regularizers import PairwiseSharing

        inputs = keras.Input(shape=INPUT, name="image")
        scores = ClassTranslationDense(
            CLASSES, strides=STRIDES, sharing=PairwiseSharing(1e-9)
        )(inputs)
        model = SymzooModel(inputs, keras.layers.Softmax()(scores), name="pairwise")
        # Compiled as the zoo compiles mnist_translation (incl. its XLA choice).
        from symzoo.models import registry

        jit = getattr(registry, "_jit_compile", lambda name: "auto")("mnist_translation")
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss=registry.task_loss("classification"),
            metrics=registry.task_metrics("classification"),
            jit_compile=jit,
        )
        return model
    raise ValueError(f"Expected a config in {CONFIGS}. Received: {config!r}")


def training_step(config, batch_size, seed=0):
    """``(step, info)``: one ``train_on_batch`` of the model on fixed random data."""
    import keras
    import numpy as np

    keras.utils.set_random_seed(seed)
    model = build(config)
    rng = np.random.default_rng(seed)
    x = rng.random((batch_size, *INPUT), dtype=np.float32)
    y = rng.integers(0, CLASSES, size=(batch_size,)).astype("int32")
    kernel = next(w for w in model.weights if w.path.endswith("kernel"))
    info = {
        "weights": int(np.prod(kernel.shape)),
        "kernel_shape": list(kernel.shape),
        "jit_compile": bool(getattr(model, "jit_compile", False)),
    }

    def step():
        model.train_on_batch(x, y)

    return step, info


def bare_matmul_step(batch_size, seed=0):
    """``(step, flops)``: the layer's forward and two backward matmuls in plain TF."""
    import tensorflow as tf

    features = INPUT[0] * INPUT[1]
    templates = CLASSES * (INPUT[0] // STRIDES) * (INPUT[1] // STRIDES)
    gen = tf.random.Generator.from_seed(seed)
    x = gen.uniform((batch_size, features))
    w = gen.normal((features, templates)) / features**0.5
    g = gen.normal((batch_size, templates))

    @tf.function
    def matmuls(x, w, g):
        z = tf.matmul(x, w)  # forward (N, T)
        dw = tf.matmul(x, g, transpose_a=True)  # gradient of W (F, T)
        dx = tf.matmul(g, w, transpose_b=True)  # gradient of x (N, F)
        return z[0, 0] + dw[0, 0] + dx[0, 0]

    def step():
        matmuls(x, w, g).numpy()

    return step, 3 * 2 * batch_size * features * templates


def time_round_robin(steps_by_name, counts, warmup):
    """Times the step functions in turns (one step of each per round), so that
    a change of the machine's load affects all of them alike.
    Returns ``{name: [seconds, ...]}``."""
    for name, step in steps_by_name.items():
        for _ in range(warmup):
            step()
    times = {name: [] for name in steps_by_name}
    for round_ in range(max(counts.values())):
        for name, step in steps_by_name.items():
            if round_ < counts[name]:
                start = time.perf_counter()
                step()
                times[name].append(time.perf_counter() - start)
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per config")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per config")
    parser.add_argument(
        "--pairwise-steps",
        type=int,
        default=3,
        help="timed steps of the (slow: it sorts the kernel) pairwise config",
    )
    parser.add_argument(
        "--configs",
        default=",".join(CONFIGS),
        help=f"comma-separated subset of {','.join(CONFIGS)} (default: all)",
    )
    parser.add_argument("--json", help="write the figures to this JSON file")
    parser.add_argument(
        "--markdown", help="write the table (with the command and the machine) to this file"
    )
    args = parser.parse_args(argv)
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    bad = [c for c in configs if c not in CONFIGS]
    if bad or min(args.batch_size, args.steps, args.pairwise_steps) <= 0 or args.warmup < 0:
        parser.error(
            f"expected --configs from {CONFIGS}, --batch-size/--steps/--pairwise-steps > 0, "
            "--warmup >= 0"
        )

    import keras
    import tensorflow as tf

    n = args.batch_size
    print(
        f"mnist_translation speed: batch {n}, {args.steps} timed steps after "
        f"{args.warmup} warm-up, backend {keras.backend.backend()}, TF {tf.__version__}, "
        f"Keras {keras.__version__}, {os.cpu_count()} CPUs ({platform.processor() or platform.machine()})",
        flush=True,
    )

    bare_step, flops = bare_matmul_step(n)
    steps = {"bare": bare_step}
    infos = {}
    for config in configs:
        steps[config], infos[config] = training_step(config, n)
    counts = {name: args.steps for name in steps}
    if "pairwise" in counts:
        counts["pairwise"] = min(args.steps, args.pairwise_steps)
    times = time_round_robin(steps, counts, args.warmup)
    bare = statistics.median(times["bare"])
    print(
        f"bare matmuls (fwd + 2 bwd): {bare * 1e3:.1f} ms/step, "
        f"{flops / bare / 1e9:.1f} GFLOP/s",
        flush=True,
    )
    rows = {}
    for config in configs:
        median = statistics.median(times[config])
        rows[config] = {"step_s": median, "times_s": times[config], **infos[config]}

    result = {
        "batch_size": n,
        "steps": args.steps,
        "warmup": args.warmup,
        "pairwise_steps": counts.get("pairwise"),
        "backend": keras.backend.backend(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "cpus": os.cpu_count(),
        "bare_matmul_s": bare,
        "bare_matmul_times_s": times["bare"],
        "bare_matmul_gflops": flops / bare / 1e9,
        "configs": rows,
        "targets": TARGETS,
    }
    base = rows.get("none")
    print()
    print(f"{'config':<10}{'ms/step':>10}{'samples/s':>11}{'overhead':>10}{'target':>9}  ok")
    for config, row in rows.items():
        if base is not None and config != "none":
            overhead = row["step_s"] / base["step_s"] - 1.0
            row["overhead"] = overhead
            target = TARGETS[config]
            row["meets_target"] = overhead <= target
            extra = f"{overhead * 100:9.1f}%{'<=' + format(target * 100, '.0f') + '%':>9}  {'yes' if overhead <= target else 'NO'}"
        else:
            extra = f"{'-':>10}{'-':>9}"
        row["samples_per_s"] = n / row["step_s"]
        print(f"{config:<10}{row['step_s'] * 1e3:10.1f}{n / row['step_s']:11.1f}{extra}")
    if base is not None:
        ratio = bare / base["step_s"]
        result["train_samples_per_s"] = n / base["step_s"]
        result["bare_over_step"] = ratio
        result["bare_over_step_meets_target"] = ratio >= TARGETS["ratio"]
        print(
            f"\ntraining: {n / base['step_s']:.1f} samples/s; bare matmuls / step = "
            f"{bare * 1e3:.1f} / {base['step_s'] * 1e3:.1f} ms = {ratio:.2f} "
            f"(target >= {TARGETS['ratio']}: {'yes' if ratio >= TARGETS['ratio'] else 'NO'})"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
        print(f"wrote {args.json}")
    if args.markdown:
        pathlib.Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        pathlib.Path(args.markdown).write_text(to_markdown(result, argv))
        print(f"wrote {args.markdown}")
    return 0


def to_markdown(result, argv=None):
    """The benchmark's table as Markdown, headed by the command and the machine."""
    argv = sys.argv[1:] if argv is None else argv
    lines = [
        f"Written by `python benchmarks/mnist_translation_speed.py {' '.join(argv)}`: "
        f"`mnist_translation` training steps, batch {result['batch_size']}, median of "
        f"{result['steps']} timed steps after {result['warmup']} warm-up, backend "
        f"{result['backend']} (TF {result['tensorflow']}, Keras {result['keras']}), "
        f"{result['cpus']} CPUs; bare matmuls of the same shapes: "
        f"{result['bare_matmul_s'] * 1e3:.0f} ms ({result['bare_matmul_gflops']:.0f} GFLOP/s).",
        "",
        "| config | ms/step | samples/s | overhead | target |",
        "|---|---|---|---|---|",
    ]
    for config, row in result["configs"].items():
        if "overhead" in row:
            target = result["targets"][config]
            verdict = "met" if row["meets_target"] else "**missed**"
            extra = f"+{row['overhead'] * 100:.0f}% | ≤ {target * 100:.0f}%: {verdict}"
        else:
            extra = "– | –"
        lines.append(
            f"| {config} | {row['step_s'] * 1e3:.0f} | {row['samples_per_s']:.0f} | {extra} |"
        )
    if "bare_over_step" in result:
        verdict = "met" if result["bare_over_step_meets_target"] else "**missed**"
        lines += ["", f"Bare matmuls / training step without penalty: "
                  f"{result['bare_over_step']:.2f} (target ≥ {result['targets']['ratio']}: "
                  f"{verdict})."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
