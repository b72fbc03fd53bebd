"""Training speed of `mnist_translation` (24.6M-weight kernel) against its floor.

What a training step of the first (and only) layer must compute is two GEMMs:
the forward product ``z = x · Wᵀ`` (N × 3136 by 3136 × 7840) and the kernel
gradient ``dW = gᵀ · x``; a first layer needs no input gradient. The
*reference* is the fastest way to do exactly those two GEMMs in the same
process (XLA-compiled and plain, float32, into buffers made once as a step's
are; the faster is kept), and every step
time is read against it and against the step without penalty.

Measured per backend (TensorFlow here, JAX in a subprocess started with
``KERAS_BACKEND=jax``), batch ``--batch-size`` of random data:

* the step without penalty, and step / reference (target ≤ 1.3×);
* the overhead of each penalty, in the fast path (``penalty_mode="gradient"``,
  the default) and in the ``add_loss`` path: `OffsetSharing` diagonal and
  complete (λ=10, offsets (1, 2): the pretrained recipe), `L1Sparsity`,
  `SigmoidSparsity` (targets ≤ +10%), and the all-pairs `PairwiseSharing`
  subgradient (numpy ranks; target ≤ +300%), with ``numpy.sort`` of the
  24.6M weights timed beside it;
* the all-pairs proximal step on 24.6M weights (`symzoo.regularizers.prox.
  pairwise_prox` when the package has it; target ≤ 1 s);
* inference ms/batch of the model with and without a penalty (±5%);
* ``mixed_bfloat16`` steps against float32 (≥ 1.5× faster), and the test
  accuracy of the MNIST-56 recipe trained with both policies at the same
  small budget (``--accuracy-train`` digits, ``--accuracy-epochs``; ≤ 0.5
  points lost).

Timing: the configurations of a group are timed in turns, one step each per
round, so a change of the machine's load hits them alike; each figure is the
minimum over ``--steps`` rounds (medians are in the JSON). Overheads compare a
penalty's step with the step without penalty timed in the same rounds.

It writes the Markdown table (``--markdown``, with this command), the epoch-time
section of the MNIST-56 card (``--card``) and the raw figures (``--json``):

    python benchmarks/mnist_translation_speed.py                 # ~30 min on 2 busy cores
    python benchmarks/mnist_translation_speed.py --steps 3 --backends tensorflow \\
        --accuracy-epochs 0 --markdown /tmp/speed.md --card '' --json ''   # quick look
"""

import argparse
import json
import math
import os
import pathlib
import platform
import resource
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = pathlib.Path(__file__).resolve().parents[1]
INPUT = (56, 56)
CLASSES = 10
STRIDES = 2
FEATURES = INPUT[0] * INPUT[1]
TEMPLATES = CLASSES * (INPUT[0] // STRIDES) * (INPUT[1] // STRIDES)
#: The pretrained MNIST-56 recipe's sharing (models/mnist_translation: mnist_1_2_long).
RECIPE = {"lam": 10.0, "offsets": (1, 2)}

TARGETS = {
    "step_over_reference": 1.3,
    "offset_diagonal": 0.10,
    "offset_complete": 0.10,
    "l1": 0.10,
    "sigmoid": 0.10,
    "pairwise": 3.00,
    "prox_s": 1.0,
    "inference": 0.05,
    "bf16_speedup": 1.5,
    "bf16_accuracy_points": 0.5,
}

#: Timing groups: each is timed round-robin with its own step without penalty.
GROUPS = {
    "offset": ["none", "offset_diagonal", "offset_diagonal/add_loss",
               "offset_diagonal/xla_writer", "offset_complete", "offset_complete/add_loss",
               "offset_complete/xla_writer", "orbit_prox", "none/fit", "offset_diagonal/fit",
               "none/xla_update", "offset_diagonal/xla_update", "offset_complete/xla_update"],
    "sparsity": ["none", "l1", "l1/add_loss", "l1/xla_writer", "sigmoid", "sigmoid/add_loss",
                 "sigmoid/xla_writer", "none/xla_update", "l1/xla_update",
                 "sigmoid/xla_update"],
    "pairwise": ["none", "pairwise"],
    "bf16": ["none", "none@bf16", "offset_diagonal@bf16", "none/sgd", "none/no_xla@bf16",
             "none/split"],
}

#: Timed only in the extra worker started with `MALLOC_ENV` (``--malloc-env``).
MALLOC_GROUP = {"glibc": ["none", "offset_diagonal", "offset_complete", "l1", "sigmoid"]}
#: glibc's malloc told to serve every block from one heap and keep freed memory:
#: the step's kernel-sized temporaries then reuse the same pages instead of
#: faulting fresh ones in (read at process start, hence a worker of its own).
MALLOC_ENV = {"MALLOC_ARENA_MAX": "1", "MALLOC_MMAP_MAX_": "0",
              "MALLOC_TRIM_THRESHOLD_": str(16 << 30)}

#: Batches of each timed `evaluate` call.
EVAL_BATCHES = 8

#: Configurations timed on TensorFlow only (steps compiled without XLA).
TENSORFLOW_ONLY = {"none/no_xla@bf16", "none/split", "none/fit", "offset_diagonal/fit",
                   "none/xla_update", "offset_diagonal/xla_update",
                   "offset_complete/xla_update", "l1/xla_update", "sigmoid/xla_update"}

#: The configurations whose fused host update (`symzoo.models.host_adam`) is
#: also timed alone (row "host update alone"), by group.
HOST_UPDATE_PARTS = {"offset": ("none", "offset_diagonal", "offset_complete"),
                     "sparsity": ("l1", "sigmoid")}


# --------------------------------------------------------------------------- models
def penalties(config):
    from symzoo.regularizers import (
        L1Sparsity,
        OffsetSharing,
        OrbitSharing,
        PairwiseSharing,
        SigmoidSparsity,
    )

    kind = config.split("/")[0].split("@")[0]
    return {
        "none": (None, None),
        "offset_diagonal": (OffsetSharing(RECIPE["lam"], RECIPE["offsets"]), None),
        "offset_complete": (
            OffsetSharing(RECIPE["lam"], RECIPE["offsets"], form="complete"), None),
        "l1": (None, L1Sparsity(1e-5)),
        "sigmoid": (None, SigmoidSparsity(1e-5, sharpness=100.0)),
        "pairwise": (PairwiseSharing(1e-12), None),
        "orbit_prox": (OrbitSharing(20.0), None),
    }[kind]


def build(config, seed=0):
    """The zoo's MNIST-56 architecture with the config's penalty, compiled as the
    zoo compiles it (Adam 5e-2, XLA on TensorFlow; under ``mixed_bfloat16`` a
    step without XLA whose optimizer update XLA compiles); ``/add_loss`` selects the
    reference penalty path, ``@bf16`` the ``mixed_bfloat16`` policy, ``/sgd``
    plain SGD instead of Adam (what Adam's update costs in the step),
    ``/no_xla`` TensorFlow's graph step without XLA at all (the optimizer's
    update too), ``/split`` the float32 step compiled as the bf16 one is
    (without XLA, the optimizer's update in XLA), ``/xla_update`` TensorFlow's
    XLA step with Adam's update of the kernel inside it instead of the fused
    host update (``SymzooModel.host_update = False``)."""
    import keras

    from symzoo.layers import ClassTranslationDense
    from symzoo.models import registry
    from symzoo.models.symzoo_model import SymzooModel

    sharing, sparsity = penalties(config)
    mode = "add_loss" if "/add_loss" in config else "gradient"
    policy = "mixed_bfloat16" if config.endswith("@bf16") else "float32"
    keras.utils.set_random_seed(seed)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        inputs = keras.Input(shape=INPUT, name="image")
        scores = ClassTranslationDense(
            CLASSES, strides=STRIDES, activation="relu", sharing=sharing,
            sparsity=sparsity, penalty_mode=mode, name="class_translation_dense",
        )(inputs)
        outputs = keras.layers.Softmax(name="softmax", dtype="float32")(scores)
        model = SymzooModel(inputs, outputs, name="mnist_translation")
    finally:
        keras.config.set_dtype_policy(previous)
    jit_compile, optimizer_jit_compile = (
        (False, False) if "/no_xla" in config else (False, True) if "/split" in config
        else registry._compile_options("mnist_translation", policy))
    model.compile(
        optimizer=(keras.optimizers.SGD(5e-2) if "/sgd" in config
                   else keras.optimizers.Adam(5e-2)),
        loss=registry.task_loss("classification"),
        metrics=registry.task_metrics("classification"),
        jit_compile=jit_compile,
    )
    model.optimizer_jit_compile = optimizer_jit_compile
    if "/xla_update" in config:
        model.host_update = False
    return model


def data(batch_size, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.random((batch_size, *INPUT), dtype=np.float32)
    y = rng.integers(0, CLASSES, size=(batch_size,)).astype("int32")
    return x, y


# ------------------------------------------------------------------ reference GEMMs
def gemm_steps(batch_size, dtype):
    """``{variant: step}``: forward + kernel-gradient GEMMs, XLA, plain and
    (float32) numpy's BLAS.

    The products are written into buffers made once (TensorFlow: variables
    assigned inside the function; JAX: output buffers donated to the jitted
    call), as a training step reuses its buffers: a fresh 98 MB output per
    call faults its pages in and made the reference slower than the step
    (99 ms against 65 ms for TensorFlow's XLA variant, 2026-12-03)."""
    import keras
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.random((batch_size, FEATURES), dtype=np.float32)
    w = (rng.standard_normal((TEMPLATES, FEATURES)) / FEATURES**0.5).astype(np.float32)
    g = rng.standard_normal((batch_size, TEMPLATES)).astype(np.float32)
    backend = keras.backend.backend()
    steps = {}
    if dtype == "float32":
        # numpy's BLAS (OpenBLAS in numpy's wheels) in this process, into
        # buffers made once: the fastest of the three on some CPUs.
        xn, wn, gn = x, w, g
        z_np = np.empty((batch_size, TEMPLATES), np.float32)
        dw_np = np.empty((TEMPLATES, FEATURES), np.float32)

        def numpy_gemms():
            np.matmul(xn, wn.T, out=z_np)
            np.matmul(gn.T, xn, out=dw_np)

        steps["numpy"] = numpy_gemms
    if backend == "tensorflow":
        import tensorflow as tf

        x, w, g = (tf.cast(tf.constant(a), dtype) for a in (x, w, g))
        for variant, jit in (("xla", True), ("plain", False)):
            z_out = tf.Variable(tf.zeros((batch_size, TEMPLATES), dtype), trainable=False)
            dw_out = tf.Variable(tf.zeros((TEMPLATES, FEATURES), dtype), trainable=False)

            def gemms(x, w, g, z_out=z_out, dw_out=dw_out):
                z_out.assign(tf.matmul(x, w, transpose_b=True))
                dw_out.assign(tf.matmul(g, x, transpose_a=True))
                return tf.constant(0.0)

            fn = tf.function(gemms, jit_compile=jit)
            steps[variant] = lambda fn=fn: fn(x, w, g).numpy()
        return steps
    import jax
    import jax.numpy as jnp

    x, w, g = (jnp.asarray(a, dtype=dtype) for a in (x, w, g))

    def gemms(x, w, g):
        return x @ w.T, g.T @ x

    jitted = jax.jit(lambda x, w, g, z_out, dw_out: gemms(x, w, g), donate_argnums=(3, 4))
    outputs = [jnp.zeros((batch_size, TEMPLATES), dtype), jnp.zeros((TEMPLATES, FEATURES), dtype)]

    def xla():
        outputs[:] = jitted(x, w, g, *outputs)
        jax.block_until_ready(outputs)

    return {
        **steps,
        "xla": xla,
        "plain": lambda: jax.block_until_ready(gemms(x, w, g)),
    }


# --------------------------------------------------------------------------- timing
def time_round_robin(steps, rounds, warmup, counts=None):
    """``{name: [seconds, ...]}``: one call of each step per round, in turns."""
    for step in steps.values():
        for _ in range(warmup):
            step()
    counts = counts or {}
    times = {name: [] for name in steps}
    for r in range(rounds):
        for name, step in steps.items():
            if r < counts.get(name, rounds):
                faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
                start = time.perf_counter()
                step()
                times[name].append(time.perf_counter() - start)
                FAULTS.setdefault(name, []).append(
                    resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults)
    return times


#: ``{name: [minor page faults of each timed call]}`` of the last group timed.
FAULTS = {}


def summary(seconds, faults=None):
    out = {"min_s": min(seconds), "median_s": statistics.median(seconds),
           "times_s": seconds}
    if faults:
        out["page_faults"] = statistics.median(faults)
    return out


def worker(args):
    """All the per-backend figures, as a dict."""
    import gc

    import keras
    import numpy as np

    backend = keras.backend.backend()
    x, y = data(args.batch_size)
    result = {"backend": backend, "keras": keras.__version__, "groups": {}}
    if backend == "tensorflow":
        import tensorflow as tf

        result["framework"] = f"TensorFlow {tf.__version__}"
    else:
        import jax

        result["framework"] = f"JAX {jax.__version__}"
    all_groups = {**GROUPS, **MALLOC_GROUP}
    groups = [g for g in all_groups if g in args.groups]
    for group in groups:
        print(f"[{backend}] timing group {group} ...", flush=True)
        steps, models_ = {}, {}
        for config in all_groups[group]:
            if config in TENSORFLOW_ONLY and backend != "tensorflow":
                continue
            model = build(config)
            if config.endswith("/xla_writer"):
                # The fast path as without the C extension: buffers written by
                # XLA programs, values reduced in the step (chosen when the
                # train function is made).
                from symzoo.regularizers.base import without_host_kernels

                with without_host_kernels():
                    model.make_train_function()
            models_[config] = model
            steps[config] = lambda m=model: m.train_on_batch(x, y)
            if config.endswith("/fit"):
                # What `fit` runs per step: the train function on a tf.data iterator.
                import tensorflow as tf

                iterator = iter(tf.data.Dataset.from_tensors((x, y)).repeat())
                model.make_train_function()
                steps[config] = (lambda m=model, it=iterator:
                                 m.train_function(it)["loss"].numpy())
        if group == "offset":
            for variant, step in gemm_steps(args.batch_size, "float32").items():
                steps[f"gemm/{variant}"] = step
            steps["predict/none"] = lambda m=models_["none"]: m.predict_on_batch(x)
            steps["predict/offset_diagonal"] = (
                lambda m=models_["offset_diagonal"]: m.predict_on_batch(x))
            # `evaluate` (the validation of every epoch): EVAL_BATCHES batches a call.
            xe, ye = np.tile(x, (EVAL_BATCHES, 1, 1)), np.tile(y, EVAL_BATCHES)
            for config in ("none", "offset_diagonal", "offset_complete"):
                steps[f"evaluate/{config}"] = (
                    lambda m=models_[config]: m.evaluate(
                        xe, ye, batch_size=args.batch_size, verbose=0))
            # The fast path's parts: the buffer write alone, and one plain
            # elementwise pass over the kernel by the same kind of program.
            for config in ("offset_diagonal", "offset_complete", "offset_diagonal/xla_writer",
                           "offset_complete/xla_writer"):
                steps[f"part/buffer_write/{config}"] = _buffer_write(models_[config])
            steps["part/elementwise_pass"] = _elementwise_pass(models_["none"])
        for config in HOST_UPDATE_PARTS.get(group, ()) if backend == "tensorflow" else ():
            steps[f"part/host_update/{config}"] = _host_update_part(models_[config], x, y)
        if group == "glibc":
            for variant, step in gemm_steps(args.batch_size, "float32").items():
                steps[f"gemm/{variant}"] = step
        if group == "bf16":
            for variant, step in gemm_steps(args.batch_size, "bfloat16").items():
                steps[f"gemm_bf16/{variant}"] = step
        counts = {}
        if group == "pairwise":
            flat = keras.ops.convert_to_numpy(
                models_["pairwise"].get_layer("class_translation_dense").kernel
            ).reshape(-1)
            from symzoo.regularizers.pairwise_sharing import rank_coefficients

            steps["numpy.sort"] = lambda: np.sort(flat)
            steps["rank_coefficients"] = lambda: rank_coefficients(flat)
            steps["rank_coefficients/numpy"] = lambda: _without_radix(
                lambda: rank_coefficients(flat))
            counts = {name: args.pairwise_steps for name in steps}
        rounds = max([args.steps] + list(counts.values()))
        FAULTS.clear()
        times = time_round_robin(steps, rounds, args.warmup, counts)
        result["groups"][group] = {name: summary(t, FAULTS.get(name))
                                   for name, t in times.items()}
        for name, t in times.items():
            print(f"  {name:<28} min {min(t) * 1e3:8.1f} ms  median "
                  f"{statistics.median(t) * 1e3:8.1f} ms", flush=True)
        del models_, steps
        keras.backend.clear_session()
        gc.collect()
    if backend == "tensorflow" and "prox" in args.groups:
        result["prox"] = time_prox(args)
    if "epoch" in args.groups:
        result["epoch"] = epoch_time(args)
    return result


def _host_update_part(model, x, y):
    """The fused host update of `model` alone (`symzoo.models.host_adam`: the
    train function's calls before and after its compiled step), after one
    training step has made it; None where the model has none."""
    model.train_on_batch(x, y)
    host = model._host_adam
    if host is None:
        return lambda: None

    def part():
        host.before_step()
        host.after_step()

    return part


def epoch_time(args):
    """Wall time of one training epoch of the pretrained recipe as `symzoo
    train` runs it (``fit`` on the 48,000 padded training digits in batches of
    the recipe, `symzoo.training`'s tf.data stream) and of one validation
    pass over the 12,000 validation digits, after a few steps of warm-up
    (compilation excluded)."""
    import keras

    from symzoo import datasets, models, training

    splits = datasets.padded_mnist(seed=0, data_dir=args.data_dir)
    keras.utils.set_random_seed(0)
    model = models.mnist_translation(**RECIPE)
    batch = models.spec("mnist_translation").batch_size
    train_ds, steps = training._train_dataset(*splits.train, batch, 0)
    warmup = 3

    class Clock(keras.callbacks.Callback):
        """Wall time of the steps after the first `warmup` (which compile)."""

        def on_train_batch_end(self, step, logs=None):
            if step == warmup - 1:
                self.start = time.perf_counter()

        def on_train_end(self, logs=None):
            self.seconds = time.perf_counter() - self.start

    # One `fit` call per model, as `symzoo train` makes per run (a second `fit` on
    # the same stream measured up to twice as slow per step here, not understood yet).
    clock = Clock()
    model.fit(train_ds, epochs=1, steps_per_epoch=steps + warmup, verbose=0, shuffle=False,
              callbacks=[clock])
    fit_s = clock.seconds
    model.evaluate(splits.val[0][:2 * batch], splits.val[1][:2 * batch], batch_size=batch,
                   verbose=0)
    start = time.perf_counter()
    model.evaluate(*splits.val, batch_size=batch, verbose=0)
    val_s = time.perf_counter() - start
    out = {"fit_s": fit_s, "steps": steps, "validation_s": val_s,
           "validation_size": len(splits.val[1])}
    if getattr(model, "_host_adam", None) is not None:
        # The same epoch with Adam's update inside the XLA step, a fresh model of
        # the same seed on the same stream (TensorFlow's fused host update off).
        keras.utils.set_random_seed(0)
        plain = models.mnist_translation(**RECIPE)
        plain.host_update = False
        train_ds, _ = training._train_dataset(*splits.train, batch, 0)
        clock = Clock()
        plain.fit(train_ds, epochs=1, steps_per_epoch=steps + warmup, verbose=0,
                  shuffle=False, callbacks=[clock])
        out["fit_xla_update_s"] = clock.seconds
    print(f"  epoch: fit {fit_s:.1f} s ({steps} steps), validation {val_s:.1f} s "
          f"({len(splits.val[1]):,} digits)"
          + (f"; with XLA's update {out['fit_xla_update_s']:.1f} s"
             if "fit_xla_update_s" in out else ""), flush=True)
    return out


def _translation_layer(model):
    return model.get_layer("class_translation_dense")


def _buffer_write(model):
    """One call of the model's OffsetSharing buffer writer (the C stencil, or
    its own XLA program), looked up when first called (the train function
    makes it)."""
    import keras
    import numpy as np

    layer = _translation_layer(model)
    if keras.backend.backend() == "tensorflow":
        return lambda: np.asarray(layer._host_state.writers["offset_sharing"]())
    import jax

    def write():
        ((_, writer),) = model.train_function._symzoo_writers
        jax.block_until_ready(writer(layer.kernel.value))

    return write


def _elementwise_pass(model):
    """One compiled elementwise pass over the kernel (read W, write −W)."""
    import keras

    kernel = _translation_layer(model).kernel
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        with tf.init_scope():
            out = tf.Variable(tf.zeros(kernel.shape), trainable=False)

        @tf.function(jit_compile=True)
        def negate():
            out.assign(-tf.convert_to_tensor(kernel))
            return tf.constant(0.0)

        return lambda: negate().numpy()
    import jax

    negate = jax.jit(lambda w: -w)
    return lambda: negate(kernel.value).block_until_ready()


def _without_radix(fn):
    """``fn()`` on symzoo's numpy path (its C radix sort switched off)."""
    from symzoo.regularizers import _sorting

    with _sorting.numpy_path():
        return fn()


def time_prox(args):
    """The all-pairs prox on the 24.6M weights, if symzoo has one (C radix
    path and numpy/scipy path)."""
    import numpy as np

    try:
        from symzoo.regularizers.prox import pairwise_prox
    except ImportError as error:
        return {"available": False, "why": f"{type(error).__name__}: {error}"}
    # Weights of the kernel's shape and init scale (truncated normal, 1/56).
    values = np.random.default_rng(0).normal(0, 1 / 56, size=TEMPLATES * FEATURES)
    values = values.astype(np.float32)
    seconds = []
    for _ in range(args.pairwise_steps):
        start = time.perf_counter()
        pairwise_prox(values, 1e-9)
        seconds.append(time.perf_counter() - start)
    numpy_path = []
    for _ in range(args.pairwise_steps):
        start = time.perf_counter()
        _without_radix(lambda: pairwise_prox(values, 1e-9))
        numpy_path.append(time.perf_counter() - start)
    sort = []
    for _ in range(args.pairwise_steps):
        start = time.perf_counter()
        np.sort(values)
        sort.append(time.perf_counter() - start)
    from symzoo.regularizers import _sorting

    return {"available": True, **summary(seconds), "numpy_sort_min_s": min(sort),
            "numpy_path_min_s": min(numpy_path), "radix": _sorting.RADIX is not None,
            "radix_threads": _sorting.radix_threads()}


# ------------------------------------------------------------------------- accuracy
def accuracy(args):
    """Test accuracy of the recipe trained under each policy at the same budget."""
    import keras

    from symzoo import datasets, models

    splits = datasets.padded_mnist(
        seed=0, data_dir=args.data_dir,
        sizes=(args.accuracy_train, 1000, args.accuracy_test),
    )
    rows = {}
    for policy in ("float32", "mixed_bfloat16"):
        keras.utils.set_random_seed(0)
        model = models.mnist_translation(dtype_policy=policy, **RECIPE)
        start = time.perf_counter()
        model.fit(*splits.train, batch_size=args.recipe_batch_size,
                  epochs=args.accuracy_epochs, verbose=0)
        train_s = time.perf_counter() - start
        acc = model.evaluate(*splits.test, batch_size=500, verbose=0,
                             return_dict=True)["accuracy"]
        rows[policy] = {"test_accuracy": float(acc), "train_s": train_s}
        print(f"  {policy:<16} test accuracy {acc:.4f}  ({train_s:.0f} s of training)",
              flush=True)
        del model
        keras.backend.clear_session()
    return rows


# ------------------------------------------------------------------------ reporting
def figures(r):
    """Derived figures of one backend's result."""
    g = r["groups"]
    out = {}

    def t(group, name):
        return g[group][name]["min_s"] if group in g and name in g[group] else None

    if "offset" in g:
        gemms, best = _reference(g["offset"])
        out["reference_s"], out["reference_variant"] = gemms[best], best
        out["gemms_s"] = gemms
        out["step_s"] = t("offset", "none")
        out["step_over_reference"] = out["step_s"] / out["reference_s"]
        out["evaluate_s"] = {c: (t("offset", f"evaluate/{c}") or 0) / EVAL_BATCHES or None
                             for c in ("none", "offset_diagonal", "offset_complete")}
        out["fit_s"] = t("offset", "none/fit")
        out["fit_offset_s"] = t("offset", "offset_diagonal/fit")
        out["page_faults"] = {name: g["offset"][name].get("page_faults")
                              for name in ("none", f"gemm/{best}")}
        out["predict_none_s"] = t("offset", "predict/none")
        out["predict_penalty_s"] = t("offset", "predict/offset_diagonal")
        out["inference"] = out["predict_penalty_s"] / out["predict_none_s"] - 1
        for config in ("offset_diagonal", "offset_complete", "offset_diagonal/xla_writer",
                       "offset_complete/xla_writer"):
            if f"part/buffer_write/{config}" in g["offset"]:
                out[f"buffer_write_s/{config}"] = t("offset", f"part/buffer_write/{config}")
        if "part/elementwise_pass" in g["offset"]:
            out["elementwise_pass_s"] = t("offset", "part/elementwise_pass")
    for group, names in GROUPS.items():
        if group not in g or group == "bf16":
            continue
        base = t(group, "none")
        for name in names[1:]:
            if t(group, name) is None:  # TensorFlow only
                continue
            # With XLA's update in the step: against the step without penalty so compiled.
            own = t(group, "none/xla_update") if name.endswith("/xla_update") else base
            out[f"overhead/{name}"] = t(group, name) / own - 1
            out[f"step_s/{name}"] = t(group, name)
        for config in HOST_UPDATE_PARTS.get(group, ()):
            if t(group, f"part/host_update/{config}") is not None:
                out[f"host_update_s/{config}"] = t(group, f"part/host_update/{config}")
    if "offset" in g and t("offset", "none/xla_update") is not None:
        out["step_xla_update_s"] = t("offset", "none/xla_update")
        out["step_xla_update_over_reference"] = out["step_xla_update_s"] / out["reference_s"]
    if "pairwise" in g:
        out["numpy_sort_s"] = t("pairwise", "numpy.sort")
        out["rank_s"] = t("pairwise", "rank_coefficients")
        out["rank_numpy_s"] = t("pairwise", "rank_coefficients/numpy")
    if "bf16" in g:
        out["bf16_none_s"] = t("bf16", "none@bf16")
        out["bf16_fp32_s"] = t("bf16", "none")
        out["bf16_speedup"] = out["bf16_fp32_s"] / out["bf16_none_s"]
        out["bf16_offset_s"] = t("bf16", "offset_diagonal@bf16")
        out["sgd_s"] = t("bf16", "none/sgd")
        out["bf16_no_xla_s"] = t("bf16", "none/no_xla@bf16")  # None on JAX
        out["split_s"] = t("bf16", "none/split")
        out["bf16_gemms_s"] = {k.split("/")[1]: v["min_s"] for k, v in g["bf16"].items()
                               if k.startswith("gemm_bf16/")}
    return out


def _reference(group):
    """``({variant: seconds}, fastest variant)`` of a group's ``gemm/*`` timings."""
    gemms = {k.split("/")[1]: v["min_s"] for k, v in group.items() if k.startswith("gemm/")}
    return gemms, min(gemms, key=gemms.get)


def malloc_figures(r):
    """Derived figures of a worker run with `MALLOC_ENV` (group ``glibc``)."""
    g = r["groups"].get("glibc")
    if not g:
        return {}
    gemms, best = _reference(g)
    out = {"reference_s": gemms[best], "reference_variant": best, "step_s": g["none"]["min_s"],
           "page_faults": {"none": g["none"].get("page_faults"),
                           f"gemm/{best}": g[f"gemm/{best}"].get("page_faults")}}
    out["step_over_reference"] = out["step_s"] / out["reference_s"]
    for name in MALLOC_GROUP["glibc"][1:]:
        out[f"overhead/{name}"] = g[name]["min_s"] / out["step_s"] - 1
    return out


def _ms(seconds):
    return "–" if seconds is None else f"{seconds * 1e3:.1f} ms"


def _pct(value):
    return "–" if value is None else f"{value * 100:+.0f}%"


def _verdict(ok):
    return "met" if ok else "**missed**"


def to_markdown(result, command):
    backends = result["backends"]
    figs = {b: figures(r) for b, r in backends.items()}
    names = list(backends)
    header = "| figure | target | " + " | ".join(
        f"{backends[b]['framework']} (CPU)" for b in names) + " | GPU |"
    lines = [
        f"Written by `{command}` on {result['machine']} ({result['date']}). Batch "
        f"{result['batch_size']}; each step time is the minimum over {result['steps']} "
        f"rounds in which the configurations of a group were timed in turns (after "
        f"{result['warmup']} warm-up steps; medians in the JSON); an overhead compares a "
        f"penalty's step with the step without penalty of the same rounds. Penalties: "
        f"`OffsetSharing(10, (1, 2))` (the pretrained recipe), `L1Sparsity(1e-5)`, "
        f"`SigmoidSparsity(1e-5, 100)`, `PairwiseSharing(1e-12)`, `OrbitSharing(20)`. "
        f"\"fast path\" is "
        f"`penalty_mode=\"gradient\"` (the default), \"add_loss\" the autodiff path. "
        f"The machine's 2 cores can be shared with other sessions' jobs, so read the "
        f"figures as rough."
        + "".join(f" Measured later and merged in (`--merge-into`): `{c}`."
                  for c in result.get("merged_commands", [])),
        "",
        header,
        "|---|---|" + "---|" * len(names) + "---|",
    ]

    def row(label, target, cells):
        lines.append(f"| {label} | {target} | " + " | ".join(cells)
                     + " | no GPU lent this session |")

    def cell(b, key, fmt, target=None, better="low"):
        v = figs[b].get(key)
        if v is None:
            return "not measured"
        text = fmt(v)
        if target is not None:
            ok = v <= target if better == "low" else v >= target
            text += f" ({_verdict(ok)})"
        return text

    row("two-GEMM reference (forward + kernel gradient, fp32, fastest of XLA / plain / "
        "numpy's BLAS)",
        "–", [f"{_ms(figs[b].get('reference_s'))} ({figs[b].get('reference_variant', '–')}; "
              + ", ".join(f"{k} {_ms(v)}" for k, v in figs[b].get("gemms_s", {}).items())
              + ")" for b in names])
    row("training step without penalty", "–", [cell(b, "step_s", _ms) for b in names])
    row("step / reference", "≤ 1.3×",
        [cell(b, "step_over_reference", lambda v: f"{v:.2f}×",
              TARGETS["step_over_reference"]) for b in names])
    row("  step without penalty with Adam's update of the kernel inside the XLA step "
        "(`host_update=False`; the step above updates it on the host, "
        "`symzoo.models.host_adam`), and / reference", "–",
        [f"{_ms(figs[b]['step_xla_update_s'])}, "
         f"{figs[b]['step_xla_update_over_reference']:.2f}×"
         if figs[b].get("step_xla_update_s") else "not measured (TensorFlow only)"
         for b in names])

    def faults(b):
        pf = figs[b].get("page_faults") or {}
        step = pf.get("none")
        ref = next((v for k, v in pf.items() if k != "none"), None)
        if step is None:
            return "not measured"
        return f"{step:,.0f} ({'–' if ref is None else f'{ref:,.0f}'})"

    row("  minor page faults per step without penalty (per reference call)", "–",
        [faults(b) for b in names])
    row(f"`evaluate` ms/batch ({EVAL_BATCHES} batches a call), no penalty / `OffsetSharing` "
        "diagonal / complete", "–",
        [" / ".join(_ms(v) for v in figs[b]["evaluate_s"].values())
         if figs[b].get("evaluate_s") else "not measured" for b in names])
    row("  `fit`'s step (its train function on a tf.data iterator), no penalty / "
        "`OffsetSharing` diagonal", "–",
        [f"{_ms(figs[b]['fit_s'])} / {_ms(figs[b]['fit_offset_s'])}"
         if figs[b].get("fit_s") else "not measured" for b in names])
    menv = result.get("malloc_env") or {}
    mfigs = {b: malloc_figures(r) for b, r in (menv.get("backends") or {}).items()}
    if mfigs:
        env = " ".join(f"{k}={v}" for k, v in menv["env"].items())

        def mcell(b, fn):
            f = mfigs.get(b)
            return fn(f) if f else "not measured"

        def mfaults(f):
            pf = f["page_faults"]
            ref = next((v for k, v in pf.items() if k != "none"), None)
            return (f"{pf['none']:,.0f} ({'–' if ref is None else f'{ref:,.0f}'})"
                    if pf.get("none") is not None else "not measured")

        row(f"step without penalty with glibc's malloc keeping freed blocks (`{env}` set "
            "at start; its own reference)", "–",
            [mcell(b, lambda f: f"{_ms(f['step_s'])}, {f['step_over_reference']:.2f}× "
                   f"the reference ({_ms(f['reference_s'])}, {f['reference_variant']})")
             for b in names])
        row("  same: minor page faults per step (per reference call)", "–",
            [mcell(b, mfaults) for b in names])
        row("  same: overheads of `OffsetSharing` diagonal / complete, `L1Sparsity`, "
            "`SigmoidSparsity` (fast path)", "–",
            [mcell(b, lambda f: " / ".join(_pct(f[f"overhead/{k}"])
                                           for k in MALLOC_GROUP["glibc"][1:]))
             for b in names])
    for kind, label in (("offset_diagonal", "`OffsetSharing` diagonal"),
                        ("offset_complete", "`OffsetSharing` complete"),
                        ("l1", "`L1Sparsity`"), ("sigmoid", "`SigmoidSparsity`")):
        row(f"{label} overhead, fast path", "≤ +10%",
            [cell(b, f"overhead/{kind}", _pct, TARGETS[kind]) for b in names])
        if kind.startswith("offset"):
            row(f"{label} overhead, fast path without the C stencil (XLA buffer program)",
                "–", [cell(b, f"overhead/{kind}/xla_writer", _pct) for b in names])
        elif kind == "l1":
            row(f"{label} overhead, fast path without the C extension (value reduced in "
                "the step)", "–", [cell(b, f"overhead/{kind}/xla_writer", _pct) for b in names])
        else:
            row(f"{label} overhead, fast path without the C extension (XLA buffer program, "
                "value reduced in the step)", "–",
                [cell(b, f"overhead/{kind}/xla_writer", _pct) for b in names])
        row(f"{label} overhead, fast path with Adam's update in the XLA step "
            "(`host_update=False`, against the step without penalty so compiled)", "–",
            [cell(b, f"overhead/{kind}/xla_update", _pct) for b in names])
        row(f"{label} overhead, add_loss path", "–",
            [cell(b, f"overhead/{kind}/add_loss", _pct) for b in names])
    for suffix, label in (("", "C stencil: int8 term gradient and term sum, threaded"),
                          ("/xla_writer", "its own XLA program: float32 gradient")):
        diagonal = f"buffer_write_s/offset_diagonal{suffix}"
        complete = f"buffer_write_s/offset_complete{suffix}"
        row(f"  `OffsetSharing` buffer write alone ({label}), diagonal / complete", "–",
            [f"{_ms(figs[b].get(diagonal))} / {_ms(figs[b].get(complete))}"
             if figs[b].get(diagonal) is not None else "not measured" for b in names])
    row("  one elementwise pass over the kernel (read W, write −W), compiled alike", "–",
        [cell(b, "elementwise_pass_s", _ms) for b in names])
    parts = [c for cs in HOST_UPDATE_PARTS.values() for c in cs]
    row("  fused host update alone (Adam on the kernel and its moments, with the next "
        "buffers), no penalty / `OffsetSharing` diagonal / complete / `L1Sparsity` / "
        "`SigmoidSparsity`", "–",
        [" / ".join(_ms(figs[b].get(f"host_update_s/{c}")) for c in parts)
         if figs[b].get("host_update_s/none") is not None else "not measured (TensorFlow only)"
         for b in names])
    row("`OrbitSharing(20)` overhead: exact prox step after each update (kernel "
        "constraint), value logged", "–",
        [cell(b, "overhead/orbit_prox", _pct) for b in names])
    row("all-pairs subgradient overhead (fast path: host ranks)", "≤ +300%",
        [cell(b, "overhead/pairwise", _pct, TARGETS["pairwise"]) for b in names])
    row("  numpy.sort of the 24.6M weights (same process)", "–",
        [cell(b, "numpy_sort_s", _ms) for b in names])
    row("  ranking the 24.6M weights (`rank_coefficients`: C radix sort)",
        "≤ numpy.sort", [cell(b, "rank_s", _ms) for b in names])
    row("  same, numpy path (packed-key `numpy.sort`, no C extension)", "–",
        [cell(b, "rank_numpy_s", _ms) for b in names])
    prox = next((r["prox"] for r in backends.values() if "prox" in r), None)
    if prox is None:
        prox_cell = "not measured"
    elif not prox["available"]:
        prox_cell = "not available (no `symzoo.regularizers.prox.pairwise_prox`)"
    else:
        path = ("C radix sort + pool-adjacent-violators, "
                f"{prox.get('radix_threads', 1)} threads" if prox.get("radix")
                else "numpy/scipy: the C extension did not compile")
        prox_cell = (f"{prox['min_s']:.2f} s ({_verdict(prox['min_s'] <= TARGETS['prox_s'])}; "
                     f"{path}; numpy/scipy path "
                     f"{prox.get('numpy_path_min_s', float('nan')):.2f} s; "
                     f"numpy.sort {prox['numpy_sort_min_s']:.2f} s)")
    row("all-pairs prox on 24.6M weights (host, backend-independent)", "≤ 1 s",
        [prox_cell] + ["same (host)"] * (len(names) - 1))
    row("inference ms/batch, no penalty", "–", [cell(b, "predict_none_s", _ms) for b in names])
    row("inference ms/batch, with `OffsetSharing`", "±5%",
        [f"{_ms(figs[b].get('predict_penalty_s'))} ({_pct(figs[b].get('inference'))}, "
         f"{_verdict(abs(figs[b].get('inference', 1)) <= TARGETS['inference'])})"
         if figs[b].get("inference") is not None else "not measured" for b in names])
    row("bf16 two GEMMs (XLA / plain)", "–",
        [", ".join(f"{k} {_ms(v)}" for k, v in figs[b].get("bf16_gemms_s", {}).items())
         or "not measured" for b in names])
    row("`mixed_bfloat16` step without penalty (fp32 step of the same rounds)", "–",
        [f"{_ms(figs[b].get('bf16_none_s'))} ({_ms(figs[b].get('bf16_fp32_s'))})"
         for b in names])
    row("`mixed_bfloat16` speed-up", "≥ 1.5×",
        [cell(b, "bf16_speedup", lambda v: f"{v:.2f}×", TARGETS["bf16_speedup"], "high")
         for b in names])
    row("`mixed_bfloat16` step with `OffsetSharing` (diagonal, fast path)", "–",
        [cell(b, "bf16_offset_s", _ms) for b in names])
    row("  `mixed_bfloat16` step without XLA, the optimizer's update too (TensorFlow)", "–",
        [cell(b, "bf16_no_xla_s", _ms) for b in names])
    row("  fp32 step with plain SGD instead of Adam (what Adam's update costs)", "–",
        [cell(b, "sgd_s", _ms) for b in names])
    row("  fp32 step compiled as the bf16 one (oneDNN GEMMs, optimizer update in XLA)", "–",
        [cell(b, "split_s", _ms) for b in names])
    acc = result.get("accuracy")
    if acc:
        loss = 100 * (acc["float32"]["test_accuracy"] - acc["mixed_bfloat16"]["test_accuracy"])
        text = (f"float32 {100 * acc['float32']['test_accuracy']:.2f}%, bf16 "
                f"{100 * acc['mixed_bfloat16']['test_accuracy']:.2f}%: {loss:+.2f} points lost "
                f"({_verdict(loss <= TARGETS['bf16_accuracy_points'])})")
        row(f"MNIST-56 test accuracy, recipe trained {result['accuracy_budget']}",
            "≤ 0.5 points lost", [text] + ["not measured"] * (len(names) - 1))
    lines += ["", *notes(figs, names)]
    return "\n".join(lines) + "\n"


def notes(figs, names):
    """What was tried, for the figures that miss their target."""
    out = ["What the fast path does and what was tried:", "",
           "- Step / reference: the reference is the two GEMMs alone, the fastest of "
           "XLA, the backend without XLA and numpy's BLAS in the same process, written "
           "into buffers made once (a fresh 98 MB output per call faults its pages in: "
           "row \"minor page faults\"). The step adds Adam's update of the 24.6M float32 "
           "weights and their two moments, which XLA's CPU backend compiles as three "
           "loop fusions (first moment, second moment, then the kernel, re-reading both "
           "moments): ten kernel-sized passes where one fused pass would need seven (a "
           "hand-fused formulation compiled to the same three fusions); row \"plain SGD "
           "instead of Adam\" shows what the update costs. On TensorFlow the kernel's "
           "gradient goes through a gradient sink (`PenalizedLayer.prepare_gradient_sink`, "
           "a kernel-sized variable): XLA's CPU runtime gave this 98 MB temporary fresh "
           "memory on every call, a kernel's worth of 4 KB page faults per step "
           "(`mnist_translation_speed_amd_epyc_before_sink.md`, the same command before "
           "the sink), and written into a variable it reuses the same pages. JAX's CPU "
           "client allocates each call's outputs and temporaries afresh with glibc's "
           "malloc, from a worker thread's arena, which serves a block this large with "
           "a fresh mmap (also for donated buffers), so its step and its reference both "
           "fault the pages in; glibc settings made with `mallopt` after start did not "
           "change that, the environment variables of the rows \"with glibc's malloc "
           "keeping freed blocks\" (set before the process starts) do. The step compiled "
           "as the bf16 one (the GEMMs without XLA, the update in XLA; row \"compiled as "
           "the bf16 one\") was tried for float32 too; the zoo keeps XLA for float32.",
           "- Fused host update (TensorFlow; `symzoo.models.host_adam`, on by default "
           "where it applies: a plain Adam, a kernel with a gradient sink): the XLA "
           "step computes the kernel's data gradient into the sink and updates every "
           "other variable; right after it one threaded C pass "
           "(`fused_adam` in `symzoo/regularizers/_penalty_kernels.c`) reads the sink, "
           "adds the penalties' gradients from their buffers, applies Keras' Adam to the "
           "kernel and its two moments in place (seven kernel-sized passes where XLA's "
           "three fusions made ten) and writes the buffers of the next step from the new "
           "weights: the signs and σ in the same loop, the offset stencil plane by plane "
           "once the planes it reads are updated, while they are still in cache. So the "
           "separate host pass before each step, which read the kernel once more, is "
           "gone, and the step without penalty is faster too (row \"with Adam's update "
           "inside the XLA step\" is the step without it; each penalty's overhead with "
           "XLA's update is in its row \"with Adam's update in the XLA step\"). Same "
           "trajectory as Keras' Adam to float rounding, tested; a write to the kernel "
           "between steps (`set_weights`, `assign`) has the buffers written afresh. "
           "What is left of each penalty's overhead is the compute of its buffer in that "
           "pass (row \"fused host update alone\"), which on these 2 cores no longer "
           "hides under the pass's memory traffic: the stencil's compares and "
           "wrapped-column corrections, σ's exponential. JAX keeps XLA's update (its step "
           "returns new arrays; the host would have to own the kernel's memory). The "
           "bullets below describe each penalty's buffer; with the fused host update "
           "the pass that writes it is this one, after the previous step, instead of "
           "a pass of its own before the step.",
           "- The penalties' analytic (sub)gradients are added to the kernel's gradient in "
           "the backward pass (`PenalizedLayer`, `keras.ops.custom_gradient`), so the "
           "compiler fuses them into Adam's update.",
           "- `OffsetSharing`: its gradient is the stencil Σ_g sign(W − S_g W) − "
           "sign(S_g⁻¹W − W) (bit for bit s − S⁻¹s with s = sign(W − SW)) times the "
           "factor. Before each compiled step (`PenalizedLayer.prepare_gradient_buffers`; "
           "JAX: `SymzooModel`'s train function, as a step argument) a C pass "
           "(`symzoo/regularizers/_penalty_kernels.c`, an optional extension setup.py "
           "builds) reads the kernel through a zero-copy view and writes, on all CPUs, "
           "the integer term gradient as int8 (exact: it lies in [−2G, 2G]) straight "
           "into the buffer variable's memory, and returns the term sum Σ_g Σ|W − S_g W|. "
           "Each plane of the last two axes is read as a flat rotation with the "
           "wrapped columns fixed up, so W is read about once and nothing is copied. "
           "The step reads the int8 buffer (a quarter of a float32 buffer's bytes) in "
           "Adam's two moment updates and logs the value from the term sum, with no "
           "reduction. Without the extension (rows \"without the C stencil\") its own "
           "XLA program writes a float32 gradient (the shifts as constant gathers it "
           "fuses) and the step logs ⟨W, g⟩. Inside the step instead, XLA materialised "
           "the shifted kernels once per consumer (`keras.ops.roll` as a concatenation "
           "of twice the kernel, gathers as a transposed copy): +113% / +180% "
           "(diagonal / complete) on TensorFlow, +158% / +281% on JAX, in earlier tables.",
           "- What bounds `OffsetSharing`'s fast path with XLA's update (JAX, and "
           "TensorFlow with `host_update=False`): the host pass (row \"buffer write "
           "alone\": one read of W per generator, mostly from cache, and a write of a "
           "quarter of its bytes; a plain elementwise XLA pass is the row below it), "
           "plus the step's two extra reads of the int8 buffer in Adam's update. The "
           "wrapped columns of the offsets' pixel shift (b' ≠ 0) are corrected column by "
           "column over all rows of a plane (copied out into short arrays, so the "
           "corrections vectorise; row by row they cost more than the rest of the "
           "plane).",
           "- `L1Sparsity` (TensorFlow, JAX): before the step one pass of the same C "
           "extension writes sign(θ) as int8 into the buffer variable and sums |θ| "
           "(float32 lanes, double total, all CPUs); the step reads the int8 signs in "
           "Adam's two moment updates instead of re-reading the float32 θ there, and "
           "logs the value with no reduction. Without the extension (row \"without "
           "the C extension\") sign(θ) is fused into Adam's update and Σ|θ| is reduced "
           "in the step, where XLA's CPU reduction of |θ| wrote |θ| out first. A "
           "variant that only summed |θ| on the host (no signs) measured no faster than "
           "that. The two rows are within this machine's noise of each other (on JAX "
           "the fused form without the extension measured faster in this run).",
           "- `SigmoidSparsity` (TensorFlow and JAX, same buffer): the buffer holds "
           "σ(k·θ); the step reads its gradient k·σ(1 − σ) off it, so the step "
           "evaluates no exponential (it evaluated three: value, and each of Adam's "
           "moments). The buffer and Σσ are written before the step by one C pass "
           "(same extension; a vectorised exp, AVX-512 where the CPU has it: 6 ms on "
           "the 24.6M weights on the Intel Xeon of the earlier table, 13.5 ms with AVX2 "
           "there) straight into the buffer "
           "variable, so the step logs the value with no reduction; without the "
           "extension an XLA program writes σ and the step sums it (row \"without the "
           "C extension\"). What is left is the pass itself and the step's two reads of "
           "the float32 buffer in Adam's moment updates.",
           "- The logged penalty values (`fit`'s `offset_sharing`, `l1_sparsity`, …) are "
           "computed in the forward pass from the kernel it reads and added to the "
           "kernel's gradient with weight zero. Without that ordering XLA could not prove "
           "that they read the kernel before Adam overwrites it in place, and copied the "
           "whole 98 MB kernel every step (`tests/test_speed_paths.py` checks the "
           "compiled step holds no copy). Values summed on the host (`OffsetSharing`, "
           "`L1Sparsity`, above) come with the buffer instead.",
           "- All-pairs: the ranks come from the host (TensorFlow: before each compiled "
           "step; JAX: `jax.pure_callback` inside it), by a stable LSD radix sort in C "
           "(`symzoo/regularizers/_radix.c`, an optional extension setup.py builds): "
           "three passes of 11 bits over an order-preserving integer image of the "
           "float carrying the index, split over the process's CPUs, each pass's "
           "scatter gathered per bucket into whole cache lines written with "
           "non-temporal stores (a plain scatter reads each destination line first); "
           "the last pass buckets (rank, index) pairs by the index's top bits and each "
           "bucket then writes its weights' coefficients 2·rank − (n − 1) into a window "
           "of the output that stays in cache (written straight to each weight's place, "
           "one cache miss per weight, that last pass was the sort's slowest); "
           "the prox runs pool-adjacent-violators on the sorted values in the same C "
           "code and writes the block means back on all threads. The numpy path it "
           "replaced (kept for installs without a compiler, row above) sorts packed "
           "(value, index) uint64 keys and scatters the ranks back: two passes where "
           "the radix sort needs none extra, and numpy's sort is far from the floor on "
           "some CPUs (on an AMD EPYC with AVX-512 its AVX-512 sort took 1.2 s for the "
           "24.6M float32 values, its AVX2 sort 0.2 s; `benchmarks/pairwise_prox_speed.py "
           "--numpy-avx2` measures both). `numpy.argsort` is slower still and the "
           "in-graph sorts (TensorFlow / XLA) far slower; the logged value reuses the "
           "ranks (the penalty is linear in W given them) instead of sorting again. The "
           "step's overhead beyond the ranks is the kernel's copies to and from the "
           "host.",
           "- `evaluate` (each epoch's validation): the penalties depend on the weights "
           "only, so `SymzooModel.evaluate` computes their values once per call, before "
           "the first batch, and its compiled test step reads them (row \"`evaluate` "
           "ms/batch\"; TensorFlow: from untracked scalar variables, JAX: as an "
           "argument of the jitted step); Keras' test step computed them on every batch, "
           "which for `OffsetSharing` complete made the validation of MNIST-56 several "
           "times slower than without a penalty (the JAX column of this row before "
           "JAX got the same, in this table's git history).",
           "- `OrbitSharing`: its exact prox runs as the kernel's constraint after Adam's "
           "update; it costs a Reynolds projection (28 + 28 slices and rolls to "
           "average, 28 + 28 to spread back) plus one more for the logged value.",
           "- `mixed_bfloat16` (TensorFlow): XLA's CPU dot does not use the bf16 units "
           "(its bf16 GEMMs take about the fp32 time, row \"bf16 two GEMMs\"; the XLA "
           "flags `--xla_cpu_use_onednn`, `--xla_cpu_experimental_onednn_custom_call` and "
           "`--xla_cpu_use_xnnpack` changed nothing, tried 2026-12-03), TensorFlow's plain "
           "(oneDNN) GEMMs do where the CPU has AMX. So the zoo's translation models under "
           "`mixed_bfloat16` train with a step compiled without XLA whose optimizer update "
           "is one XLA program (`SymzooModel.optimizer_jit_compile`, set by the "
           "constructors): that program adds the penalty gradients to the kernel's "
           "gradient and runs Adam, fused, and takes the kernel's gradient in bf16 (the "
           "cast to float32 happens inside it; bf16 to float32 is exact). The layer "
           "multiplies by the kernel transposed in one `tf.matmul` (Keras' einsum wrote "
           "the transpose out, and its gradient transposed back: two copies of the "
           "kernel each step that XLA folded away and a step without XLA paid, row "
           "\"without XLA, the optimizer's update too\" for such a step without the "
           "XLA update). What is left beyond the bf16 GEMMs: the kernel's cast to bf16 "
           "(one pass) and Adam's fused update of the float32 kernel and its two "
           "moments (the fp32 step less the SGD step, rows above). On JAX, whose step "
           "XLA compiles whole, bf16 brings nothing on this CPU.",
           "- `mixed_bfloat16` accuracy: trained with the same recipe and budget under "
           "both policies (row above; the kernel, Adam and the penalties stay float32)."]
    return out


# ----------------------------------------------------------------------------- card
def card_markdown(result, command):
    """The epoch-time section of the MNIST-56 card."""
    steps_per_epoch = math.ceil(result["recipe_train_size"] / result["recipe_batch_size"])
    lines = [
        f"Epoch time of the pretrained recipe (`OffsetSharing(10, (1, 2))`, diagonal, batch "
        f"{result['recipe_batch_size']}, {result['recipe_train_size']:,} training digits = "
        f"{steps_per_epoch} steps), *estimated* as steps per epoch × the measured step time "
        f"at batch {result['batch_size']} (`{command}`, {result['date']}, "
        f"{result['machine']}). \"Before\" is the `add_loss` path, the autodiff path every "
        f"step took before the fast path existed; \"after\" the fast path (the default).",
        "",
        "| backend | before (add_loss) | after (fast path) | step without penalty |",
        "|---|---|---|---|",
    ]
    scale = result["recipe_batch_size"] / result["batch_size"]
    for b, r in result["backends"].items():
        f = figures(r)
        before = f.get("step_s/offset_diagonal/add_loss")
        after = f.get("step_s/offset_diagonal")
        if before is None or after is None:
            continue
        lines.append(
            f"| {r['framework']} (CPU) | {before * steps_per_epoch * scale:.0f} s | "
            f"{after * steps_per_epoch * scale:.0f} s | "
            f"{f['step_s'] * steps_per_epoch * scale:.0f} s |")
    measured = {b: r["epoch"] for b, r in result["backends"].items() if r.get("epoch")}
    if measured:
        lines += [
            "",
            "Measured (the fast path, the default): one epoch of `fit` on the "
            "training digits as `symzoo train` streams them, in one `fit` call, and one "
            "validation pass, compilation excluded"
            + "".join(f"; merged in by `{c}`" for c in result.get("merged_commands", [])
                      if "epoch" in c) + ".",
            "",
            "| backend | training epoch (fit) | same, Adam's update inside the XLA step "
            "(`host_update=False`, run after it in the same process) | validation pass |",
            "|---|---|---|---|",
        ]
        for b, e in measured.items():
            other = e.get("fit_xla_update_s")
            lines.append(
                f"| {result['backends'][b]['framework']} (CPU) | {e['fit_s']:.0f} s "
                f"({e['steps']} steps, {e['fit_s'] / e['steps'] * 1e3:.0f} ms/step) | "
                + (f"{other:.0f} s ({other / e['steps'] * 1e3:.0f} ms/step)" if other
                   else "not measured (TensorFlow only)")
                + f" | {e['validation_s']:.1f} s ({e['validation_size']:,} digits) |")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------ main
def cpu_model():
    """The CPU's model name and its vector extensions that matter here (the figures
    change several-fold between an AVX-512/bf16 machine and an AVX2 one)."""
    name, flags = platform.machine(), set()
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                name = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    except OSError:
        pass
    simd = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]
    return f"{name}; {', '.join(simd) or 'no AVX2'}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10, help="timed rounds per group")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per config")
    parser.add_argument("--pairwise-steps", type=int, default=3,
                        help="timed rounds of the all-pairs group and of the prox")
    parser.add_argument("--backends", default="tensorflow,jax")
    parser.add_argument("--groups", default=",".join([*GROUPS, "prox", "epoch"]),
                        help="comma-separated subset of "
                        f"{','.join([*GROUPS, 'prox', 'epoch'])}")
    parser.add_argument("--accuracy-train", type=int, default=12000)
    parser.add_argument("--accuracy-test", type=int, default=10000)
    parser.add_argument("--accuracy-epochs", type=int, default=1,
                        help="epochs of the bf16 accuracy comparison (0 skips it)")
    parser.add_argument("--data-dir", default=None, help="MNIST IDX files")
    parser.add_argument("--markdown",
                        default=str(REPO / "benchmarks/results/mnist_translation_speed.md"))
    parser.add_argument("--card", default=str(REPO / "models/mnist_translation/speed.md"),
                        help="epoch-time section of the MNIST-56 card ('' skips it)")
    parser.add_argument("--json",
                        default=str(REPO / "benchmarks/results/mnist_translation_speed.json"))
    parser.add_argument("--from-json", default=None,
                        help="measure nothing: rewrite the Markdown table and the card "
                        "section from a JSON this script wrote (its command is kept)")
    parser.add_argument("--malloc-env", default="tensorflow,jax",
                        help="backends also timed (step, reference and the fast paths) in a "
                        "worker started with MALLOC_ENV ('' skips it)")
    parser.add_argument("--merge-into", default=None,
                        help="measure the --groups given on the --backends given and merge "
                        "them into this JSON (the command is added to its merged_commands), "
                        "then rewrite the tables from it")
    parser.add_argument("--worker-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.groups = [g.strip() for g in args.groups.split(",") if g.strip()]
    if min(args.batch_size, args.steps, args.pairwise_steps) <= 0 or args.warmup < 0:
        parser.error("expected --batch-size/--steps/--pairwise-steps > 0, --warmup >= 0")

    if args.worker_out:
        result = worker(args)
        pathlib.Path(args.worker_out).write_text(json.dumps(result))
        return 0

    if args.from_json:
        result = json.loads(pathlib.Path(args.from_json).read_text())
        _write(args, result, result["command"], json_too=False)
        return 0

    argv = sys.argv[1:] if argv is None else argv
    command = " ".join(["python benchmarks/mnist_translation_speed.py", *argv])
    from symzoo import models

    spec = models.spec("mnist_translation")
    args.recipe_batch_size = spec.batch_size
    result = {
        "command": command,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{os.cpu_count()} CPUs ({cpu_model()}), no GPU",
        "batch_size": args.batch_size, "steps": args.steps, "warmup": args.warmup,
        "targets": TARGETS, "backends": {},
        "recipe_batch_size": spec.batch_size, "recipe_train_size": 48000,
    }
    timed = [g for g in args.groups if g != "epoch"]
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        result["backends"][backend] = {}
        # The epoch in a fresh process of its own, as `symzoo train` runs it (after
        # the other groups' models, the same process ran the epoch twice as slowly).
        for groups in ([timed] if timed else []) + ([["epoch"]] if "epoch" in args.groups else []):
            _merge_worker(result["backends"][backend], _run_worker(backend, argv, groups))
    result["malloc_env"] = {"env": MALLOC_ENV, "backends": {}}
    for backend in [b.strip() for b in args.malloc_env.split(",") if b.strip()]:
        result["malloc_env"]["backends"][backend] = _run_worker(
            backend, argv, ["glibc"], MALLOC_ENV)
    if args.accuracy_epochs > 0:
        import keras

        print(f"== mixed_bfloat16 accuracy ({keras.backend.backend()}) ==", flush=True)
        result["accuracy"] = accuracy(args)
        result["accuracy_budget"] = (
            f"on {args.accuracy_train:,} digits for {args.accuracy_epochs} epoch(s), "
            f"batch {args.recipe_batch_size}, tested on {args.accuracy_test:,}")
    if args.merge_into:
        base = json.loads(pathlib.Path(args.merge_into).read_text())
        for backend, part in result["backends"].items():
            _merge_worker(base["backends"].setdefault(backend, {}), part)
        base.setdefault("merged_commands", []).append(f"{command} ({result['date']})")
        args.json = args.merge_into
        _write(args, base, base["command"])
        return 0
    _write(args, result, command)
    return 0


def _run_worker(backend, argv, groups, extra_env=None):
    """One worker process timing `groups` on `backend` (with `extra_env` set
    before it starts); returns its result dict."""
    out = pathlib.Path(os.environ.get("TMPDIR", "/tmp")) / f"speed_{backend}_{os.getpid()}.json"
    env = {**os.environ, **(extra_env or {}), "KERAS_BACKEND": backend,
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    settings = "".join(f", {k}={v}" for k, v in (extra_env or {}).items())
    print(f"== {backend} (subprocess: {', '.join(groups)}{settings}) ==", flush=True)
    subprocess.run([sys.executable, __file__, *argv, "--groups", ",".join(groups),
                    "--worker-out", str(out)], env=env, check=True)
    part = json.loads(out.read_text())
    out.unlink()
    return part


def _merge_worker(merged, part):
    """Adds a worker's result `part` to the backend's `merged` one (groups united)."""
    merged.setdefault("groups", {}).update(part.pop("groups", {}))
    merged.update(part)


def _write(args, result, command, json_too=True):
    if json_too and args.json:  # first: the measurements survive a reporting bug
        pathlib.Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        pathlib.Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {args.json}")
    markdown = to_markdown(result, command)
    print(markdown)
    outputs = [(args.markdown, markdown), (args.card, card_markdown(result, command))]
    for path, text in outputs:
        if path:
            pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
            pathlib.Path(path).write_text(text)
            print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
