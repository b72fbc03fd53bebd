"""Orbit generalisation: train on part of the translation orbit, test on all of it.

A model that has *learned* translation invariance classifies an object the
same wherever it is; one that has only memorised the positions it saw does
not. `orbit_generalization` trains the fully-connected translation model
(e.g. ``blob1d_translation``) and its CNN baseline (``cnn1d``) on examples
whose object lies in a restricted region of positions, and reports the test
metrics separately for test examples inside and outside that region (test
positions are uniform). The MLP is also evaluated after projecting its
kernel onto the translation-equivariant subspace
(`symzoo.symmetry.extraction.project_model`).

Positions:

* ``padded_mnist``: training/validation positions are restricted with the
  data set's ``train_region=((r0, r1), (c0, c1))`` (default: the top-left
  quarter of positions, ``((0, 14), (0, 14))`` on the 56×56 canvas). The
  top-left position of each test digit is recovered exactly by matching the
  digit's non-zero bounding box against the raw MNIST test digits (the
  digits are pasted unchanged); the rare unmatched digit gets a
  centre-of-mass estimate.
* ``blob1d`` / ``blob2d``: the generators have no position argument, so the
  training data is filtered here. Each blob's start (its bounding box's
  top-left corner, cyclically) is read off the noise-free twin of the data
  set, ``load(name, seed, noise=0.0, ...)``: the generators draw labels,
  amplitudes and positions before the noise, from one random stream per
  split, so the twin has the same labels and positions (checked: labels
  must agree and the noisy images must be brighter on the twin's blob).
  Defaults: blob1d keeps starts in the first half ``[0, L/2)``; blob2d keeps
  top-left rows in the first half (all columns). To keep the number of
  training examples, twice as many (1/fraction) are generated before
  filtering. (A ``train_region=`` argument and a ``positions`` entry in
  ``Splits.info`` in `symzoo.datasets.blob1d/blob2d` would make this
  direct.)

Only tiny runs belong in tests; the MNIST version at full size takes hours
on CPU (use ``sizes=`` / ``epochs=`` to scale it).
"""

import inspect as _inspect
import pathlib
import time

import numpy as np

from symzoo import _format, _validation
from symzoo.datasets import quick as _quick

#: zoo model name or data set name -> (data set, MLP, CNN baseline)
PAIRS = {
    "blob1d": ("blob1d", "blob1d_translation", "cnn1d"),
    "blob2d": ("blob2d", "blob2d_translation", "cnn2d"),
    "padded_mnist": ("padded_mnist", "mnist_translation", "mnist_cnn"),
}
for _dataset, _mlp, _cnn in list(PAIRS.values()):
    PAIRS[_mlp] = PAIRS[_cnn] = PAIRS[_dataset]

#: Default number of training epochs (small on purpose).
DEFAULT_EPOCHS = 5
#: Split sizes used with ``quick=True``: (train, val, test).
QUICK_SIZES = _quick.ORBIT_SIZES
MNIST_DIGIT = 28


def _generator_sizes(dataset):
    from symzoo import datasets

    generator = getattr(datasets, dataset)
    return tuple(_inspect.signature(generator).parameters["sizes"].default)


def default_region(dataset, input_shape):
    """The default training region for `dataset` (inclusive ranges per axis)."""
    if dataset == "padded_mnist":
        limit = input_shape[0] - MNIST_DIGIT
        half = limit // 2
        return ((0, half), (0, half))
    if dataset == "blob1d":
        return ((0, input_shape[0] // 2 - 1),)
    if dataset == "blob2d":
        return ((0, input_shape[0] // 2 - 1), (0, input_shape[1] - 1))
    raise ValueError(
        "Expected a translation data set (blob1d, blob2d, padded_mnist) for the orbit "
        f"experiment. Received: dataset={dataset!r}"
    )


def _check_region(region, ndim):
    message = (
        f"Expected `region` to be {ndim} inclusive ranges ((lo, hi), ...) of positions, "
        f"one per spatial axis. Received: region={region!r}"
    )
    try:
        region = tuple(_validation.int_tuple("region", r, length=2) for r in region)
    except (TypeError, ValueError):
        raise ValueError(message) from None
    if len(region) != ndim or any(lo > hi or lo < 0 for lo, hi in region):
        raise ValueError(message)
    return region


def in_region(positions, region):
    """Boolean mask: rows of `positions` (N, ndim) inside the inclusive `region`."""
    positions = np.asarray(positions).reshape(len(positions), -1)
    mask = np.ones(len(positions), dtype=bool)
    for axis, (lo, hi) in enumerate(region):
        mask &= (positions[:, axis] >= lo) & (positions[:, axis] <= hi)
    return mask


# Positions -----------------------------------------------------------------------


def _cyclic_start(lit):
    """For boolean (N, L) rows holding one cyclic run, the index where it starts
    (0 when the row is all lit or all dark)."""
    starts = lit & ~np.roll(lit, 1, axis=1)
    has = starts.any(axis=1)
    return np.where(has, np.argmax(starts, axis=1), 0)


def blob_positions(clean_x):
    """Start positions of the blobs in noise-free blob images.

    Args:
        clean_x: (N, L) or (N, S, S') images whose non-zero pixels are the blob.

    Returns:
        int array (N, 1) or (N, 2): the cyclic start (1D) / the top-left corner
        of the bounding box (2D: cyclic start of the lit rows and of the lit
        columns).
    """
    lit = np.asarray(clean_x) > 0
    if lit.ndim == 2:
        return _cyclic_start(lit)[:, None]
    if lit.ndim == 3:
        return np.stack([_cyclic_start(lit.any(axis=2)), _cyclic_start(lit.any(axis=1))], axis=1)
    raise ValueError(f"Expected 1D or 2D images. Received: images of shape {lit.shape}")


def _blob_splits(dataset, seed, kwargs):
    """(splits, positions per split) for a blob data set, via its noise-free twin."""
    from symzoo import datasets

    data = datasets.load(dataset, seed=seed, **kwargs)
    twin = datasets.load(dataset, seed=seed, **{**kwargs, "noise": 0.0})
    positions = {}
    for split in ("train", "val", "test"):
        (x, y), (cx, cy) = getattr(data, split), getattr(twin, split)
        if len(y) == 0:
            positions[split] = np.zeros((0, x.ndim - 1), dtype=int)
            continue
        lit = cx > 0
        flat_x, flat_lit = x.reshape(len(x), -1), lit.reshape(len(x), -1)
        inside = (flat_x * flat_lit).sum(1) / np.maximum(flat_lit.sum(1), 1)
        outside = (flat_x * ~flat_lit).sum(1) / np.maximum((~flat_lit).sum(1), 1)
        if not np.array_equal(y, cy) or np.mean(inside > outside) < 0.9:
            raise RuntimeError(
                f"Could not recover the blob positions of {dataset!r}: its noise-free "
                "twin (noise=0.0) no longer matches the data. The orbit experiment needs "
                "positions: add `train_region=` or `Splits.info['positions']` to "
                f"symzoo.datasets.{dataset}."
            )
        positions[split] = blob_positions(cx)
    return data, positions


def _crop_key(image):
    rows = np.flatnonzero(image.any(axis=1))
    cols = np.flatnonzero(image.any(axis=0))
    if rows.size == 0:
        return None, (0, 0)
    r0, r1, c0, c1 = rows[0], rows[-1], cols[0], cols[-1]
    crop = image[r0 : r1 + 1, c0 : c1 + 1]
    return (crop.shape, crop.tobytes()), (int(r0), int(c0))


def mnist_positions(x, raw_digits):
    """Top-left positions (N, 2) of the digits in padded-MNIST images `x`.

    Each image's non-zero bounding box is matched (exactly, on the uint8
    values) against the bounding boxes of `raw_digits` (uint8 (M, 28, 28)),
    which gives the offset of the box inside the digit; unmatched images fall
    back to a centre-of-mass estimate (MNIST digits are centred on their
    centre of mass).
    """
    table = {}
    for digit in np.asarray(raw_digits):
        key, offset = _crop_key(digit)
        if key is not None:
            table.setdefault(key, offset)
    x = np.asarray(x)
    limit_r, limit_c = x.shape[1] - MNIST_DIGIT, x.shape[2] - MNIST_DIGIT
    out = np.zeros((len(x), 2), dtype=int)
    matched = 0
    for i, image in enumerate(x):
        q = np.rint(image * 255.0).astype(np.uint8)
        key, (r0, c0) = _crop_key(q)
        if key is not None and key in table:
            dr, dc = table[key]
            out[i] = (r0 - dr, c0 - dc)
            matched += 1
            continue
        mass = image.sum()
        if mass > 0:
            rr, cc = np.indices(image.shape)
            com = ((rr * image).sum() / mass, (cc * image).sum() / mass)
            out[i] = (round(com[0] - 13.5), round(com[1] - 13.5))
    out[:, 0] = np.clip(out[:, 0], 0, limit_r)
    out[:, 1] = np.clip(out[:, 1], 0, limit_c)
    return out, matched


# The experiment ------------------------------------------------------------------


def _fraction(region, shape, dataset):
    counts = []
    for (lo, hi), d in zip(region, shape):
        total = d - MNIST_DIGIT + 1 if dataset == "padded_mnist" else d
        counts.append((min(hi, total - 1) - lo + 1) / total)
    return float(np.prod(counts))


def _load(dataset, seed, sizes, region, input_shape, data_dir):
    from symzoo import datasets

    if dataset == "padded_mnist":
        data = datasets.load(
            dataset, seed=seed, sizes=sizes, train_region=region, data_dir=data_dir
        )
        (_, _), (raw_test, _) = datasets.load_mnist(data_dir)
        positions, matched = mnist_positions(data.test[0], raw_test)
        return data.train, data.val, data.test, positions, {"positions_matched": matched}
    fraction = _fraction(region, input_shape, dataset)
    inflated = (
        int(np.ceil(sizes[0] / fraction)),
        int(np.ceil(sizes[1] / fraction)),
        sizes[2],
    )
    data, positions = _blob_splits(dataset, seed, {"sizes": inflated})
    keep = {s: in_region(positions[s], region) for s in ("train", "val")}
    train = tuple(a[keep["train"]] for a in data.train)
    val = tuple(a[keep["val"]] for a in data.val)
    return train, val, data.test, positions["test"], {}


def orbit_generalization(
    name,
    epochs=None,
    seed=0,
    data_seed=0,
    sizes=None,
    region=None,
    batch_size=None,
    quick=False,
    data_dir=None,
    model_kwargs=None,
    baseline=True,
    verbose=0,
    lr_schedule=None,
    compact=False,
    export_dir=None,
    sharing_schedule=None,
    finetune_epochs=0,
    finetune_lr=3e-3,
):
    """Trains on a part of the translation orbit and tests on all of it.

    Args:
        name: a translation zoo model (``blob1d_translation``, ``cnn1d``,
            ``blob2d_translation``, ``cnn2d``, ``mnist_translation``,
            ``mnist_cnn``) or data set (``blob1d``, ``blob2d``,
            ``padded_mnist``); both the MLP and its CNN baseline are trained.
        epochs: training epochs (default `DEFAULT_EPOCHS`; 1 with ``quick``).
        seed: model initialisation seed; data_seed: data set seed.
        sizes: ``(train, val, test)`` examples (train/val counted *after*
            restricting positions). Default: the generator's sizes, or
            `QUICK_SIZES` with ``quick``.
        region: inclusive ranges of training positions per spatial axis,
            e.g. ``((0, 4),)`` for blob1d or ``((0, 14), (0, 14))`` for MNIST
            (top-left digit positions). Default: `default_region`.
        batch_size: default: the model's spec.
        quick: tiny sizes and one epoch.
        data_dir: MNIST directory (padded_mnist only).
        model_kwargs: dict zoo name -> hyperparameters for its constructor.
        baseline: also train the CNN baseline.
        verbose: Keras ``fit`` verbosity.
        lr_schedule: None / ``"constant"`` or ``"cosine"`` (the per-epoch decay
            of `symzoo.training.lr_at_epoch` from each model's learning rate),
            for every model trained.
        sharing_schedule: None or ``[(epoch, λ), ...]``: the MLP's sharing
            strength from each 0-based epoch on (`symzoo.training.SharingSchedule`;
            the MLP needs a sharing penalty); recorded in the result and the
            exported manifest.
        compact: also evaluate the compact model of
            `symzoo.symmetry.extraction.extract` (``<mlp>/compact``: the
            projected MLP's function with C·d(·d') parameters; its
            ``params`` and largest output difference to the projected MLP on
            256 test inputs are recorded).
        finetune_epochs: with `compact`, also fine-tune the compact model on
            the (restricted) training split for this many epochs
            (`extraction.finetune`: Adam ``finetune_lr``, per-epoch cosine),
            recorded as ``<mlp>/compact+finetune``, and train the same
            compact architecture from fresh initial weights with the same
            budget, ``<mlp>/compact_from_scratch``: the control that says how
            much of the fine-tuned figure the MLP's discovered templates
            contribute. With `export_dir`, the exported compact model is the
            fine-tuned one.
        finetune_lr: the fine-tune's initial learning rate.
        export_dir: when given, every trained model is exported there with
            `symzoo.training.export` into ``<mlp>_<sharing>_orbit`` (sharing:
            ``no_sharing``, ``diagonal``, ``complete``), ``<cnn>_orbit`` and,
            with `compact`, ``<mlp>_<sharing>_orbit_compact``; the manifests
            carry ``task``, ``sharing``, ``train_region``, the
            hyperparameters, seeds and the in/out-of-region metrics (and
            ``extracted_from`` for the compact model).

    Returns:
        A JSON-ready dict: ``dataset``, ``region``, ``epochs``, ``sizes``
        (examples actually used), ``test_counts`` (in/out of region) and
        ``models``: name -> ``{"in_region": metrics, "out_of_region": metrics,
        "all": metrics, "gap": in − out of the report metric}`` (the MLP also
        gets ``<name>/projected``).
    """
    import keras

    from symzoo import metrics as task_metrics
    from symzoo import models, training
    from symzoo.models import weights as weights_lib
    from symzoo.symmetry import extraction

    if name not in PAIRS:
        raise ValueError(
            "Expected `name` to be a translation zoo model or data set, one of "
            f"{sorted(PAIRS)}. Received: name={name!r}"
        )
    dataset, mlp_name, cnn_name = PAIRS[name]
    spec = models.spec(mlp_name)
    input_shape = tuple(spec.input_shape)
    if region is None:
        region = default_region(dataset, input_shape)
    region = _check_region(region, len(input_shape))
    if epochs is None:
        epochs = 1 if quick else DEFAULT_EPOCHS
    epochs = _validation.positive_int("epochs", epochs)
    if sizes is None:
        sizes = QUICK_SIZES if quick else _generator_sizes(dataset)
    sizes = _validation.int_tuple("sizes", sizes, length=3)
    model_kwargs = dict(model_kwargs or {})
    lr_schedule = training._check_lr_schedule(lr_schedule)
    sharing_schedule = training.check_sharing_schedule(sharing_schedule)
    finetune_epochs = _validation.non_negative_int("finetune_epochs", finetune_epochs)
    if finetune_epochs and not compact:
        raise ValueError(
            "Expected `compact=True` with `finetune_epochs` > 0 (the fine-tune is of "
            f"the compact model). Received: compact={compact!r}, "
            f"finetune_epochs={finetune_epochs}"
        )

    start = time.time()
    train, val, test, test_positions, extra = _load(
        dataset, data_seed, sizes, region, input_shape, data_dir
    )
    inside = in_region(test_positions, region)
    metric_key = spec.report_metric[len("test_") :] if spec.report_metric.startswith("test_") else "accuracy"

    def evaluate(model):
        out = {}
        for key, mask in (("in_region", inside), ("out_of_region", ~inside), ("all", None)):
            x, y = (test[0], test[1]) if mask is None else (test[0][mask], test[1][mask])
            out[key] = task_metrics.evaluate_task(model, x, y, spec.task) if len(y) else {}
        a = out["in_region"].get(metric_key)
        b = out["out_of_region"].get(metric_key)
        out["gap"] = None if a is None or b is None else float(a - b)
        return out

    def export(model, folder, zoo_name, facts, metrics, **more):
        hyper = {k: v for k, v in model_kwargs.get(zoo_name, {}).items()
                 if k != "learning_rate"}
        extra = {
            **facts,
            "zoo_model": zoo_name,
            "hyperparameters": {**models.spec(zoo_name).hyperparameters, **hyper},
            "train_region": [list(r) for r in region],
            "seed": seed,
            "data_seed": data_seed,
            "epochs": epochs,
            "learning_rate": model_kwargs.get(zoo_name, {}).get(
                "learning_rate", models.spec(zoo_name).learning_rate),
            "lr_schedule": lr_schedule,
            **({"sharing_schedule": sharing_schedule}
               if sharing_schedule and zoo_name == mlp_name else {}),
            "batch_size": batch_size or models.spec(zoo_name).batch_size,
            "sizes": {"train": int(len(train[1])), "val": int(len(val[1]))},
            "test_metric": metric_key,
            "test_value": metrics["all"].get(metric_key),
            "test_in_region": metrics["in_region"].get(metric_key),
            "test_out_of_region": metrics["out_of_region"].get(metric_key),
            **more,
        }
        # model.keras + manifest: one copy of the weights in git (SavedModel on demand)
        training.export(model, folder, name=folder.name, extra=extra, saved_model=False)
        return folder.name

    results, exported = {}, {}
    names = [mlp_name] + ([cnn_name] if baseline else [])
    for zoo_name in names:
        model_spec = models.spec(zoo_name)
        kwargs = model_kwargs.get(zoo_name, {})
        model = models.get(zoo_name)(seed=seed, **kwargs)
        callbacks = []
        if lr_schedule != "constant":
            base = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
            callbacks.append(keras.callbacks.LearningRateScheduler(
                lambda epoch, lr, base=base: training.lr_at_epoch(
                    lr_schedule, base, epoch, epochs)))
        if zoo_name == mlp_name and sharing_schedule:
            callbacks.append(training.SharingSchedule(sharing_schedule))  # raises without sharing
        t0 = time.time()
        model.fit(
            train[0],
            train[1],
            validation_data=val if len(val[1]) else None,
            epochs=epochs,
            batch_size=batch_size or model_spec.batch_size,
            verbose=verbose,
            shuffle=True,
            callbacks=callbacks,
        )
        results[zoo_name] = {**evaluate(model), "train_seconds": time.time() - t0}
        facts = weights_lib.model_facts(zoo_name, {
            k: v for k, v in kwargs.items() if k != "learning_rate"})
        folder = None
        if export_dir is not None:
            tag = ""
            if zoo_name == mlp_name:
                tag = "_" + {"none": "no_sharing"}.get(
                    facts["sharing"], facts["sharing"].replace("offset_", ""))
            folder = pathlib.Path(export_dir) / f"{zoo_name}{tag}_orbit"
            exported[zoo_name] = export(model, folder, zoo_name, facts, results[zoo_name])
        if zoo_name == mlp_name:
            projected, _ = extraction.project_model(model)
            results[f"{zoo_name}/projected"] = evaluate(projected)
            del projected
            if compact:
                small, info = extraction.extract(model, x=test[0][:256])
                results[f"{zoo_name}/compact"] = {
                    **evaluate(small), "params": int(info["params_after"]),
                    "params_mlp": int(info["params_before"]),
                    "max_abs_diff_vs_projected": info["max_abs_diff_vs_projected"]}
                if finetune_epochs:
                    loss = models.spec(zoo_name).loss
                    budget = {"epochs": finetune_epochs, "learning_rate": finetune_lr}
                    for key, fresh in (("compact+finetune", False), ("compact_from_scratch", True)):
                        t1 = time.time()
                        tuned, history = extraction.finetune(
                            small, train, val if len(val[1]) else None, finetune_epochs,
                            finetune_lr, seed, loss=loss, reinitialize=fresh, verbose=verbose)
                        results[f"{zoo_name}/{key}"] = {
                            **evaluate(tuned), **budget, "train_seconds": time.time() - t1}
                        if not fresh:
                            small = tuned
                        else:
                            del tuned
                if folder is not None:
                    target = folder.parent / f"{folder.name}_compact"
                    key = "compact+finetune" if finetune_epochs else "compact"
                    exported[f"{zoo_name}/compact"] = export(
                        small, target, zoo_name, {**facts, "sharing": "tied_convolution"},
                        results[f"{zoo_name}/{key}"], extracted_from=folder.name,
                        **({"finetune": {"epochs": finetune_epochs,
                                         "learning_rate": finetune_lr}}
                           if finetune_epochs else {}))
                del small
        del model
        keras.backend.clear_session()
    return {
        "name": name,
        "dataset": dataset,
        "region": [list(r) for r in region],
        "epochs": epochs,
        "seed": seed,
        "data_seed": data_seed,
        "metric": metric_key,
        "sizes": {"train": int(len(train[1])), "val": int(len(val[1])), "test": int(len(test[1]))},
        "test_counts": {"in_region": int(inside.sum()), "out_of_region": int((~inside).sum())},
        "models": results,
        "lr_schedule": lr_schedule,
        **({"sharing_schedule": sharing_schedule} if sharing_schedule else {}),
        **({"exported": exported} if exported else {}),
        "seconds": time.time() - start,
        **extra,
    }


def to_markdown(result):
    """A Markdown section for an `orbit_generalization` result."""
    key = result["metric"]
    lines = [
        f"## Orbit generalisation ({result['dataset']})",
        "",
        f"Training positions restricted to {result['region']} (inclusive, per axis); "
        f"test positions uniform. {result['epochs']} epoch(s); "
        f"{result['sizes']['train']} training examples; test: "
        f"{result['test_counts']['in_region']} in region, "
        f"{result['test_counts']['out_of_region']} out of region."
        + ("" if not result.get("sharing_schedule") else
           " The MLP's sharing strength λ by epoch (from each 0-based epoch on): "
           + ", ".join(f"{e}: {v:g}" for e, v in result["sharing_schedule"]) + "."),
        "",
        f"| model | {key} in region | {key} out of region | {key} all | gap |",
        "|---|---|---|---|---|",
    ]

    def fmt(v):
        return _format.number(v, sci_below=0, nonfinite=None)

    for model_name, r in result["models"].items():
        lines.append(
            f"| {model_name} | {fmt(r['in_region'].get(key))} | "
            f"{fmt(r['out_of_region'].get(key))} | {fmt(r['all'].get(key))} | {fmt(r['gap'])} |"
        )
    lines.append("")
    return "\n".join(lines)
