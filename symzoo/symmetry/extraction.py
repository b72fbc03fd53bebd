"""From a trained symzoo model to its projection and its compact equivariant twin.

* `project_model(model)`: a copy of the model whose symzoo kernels are
  replaced by their Reynolds projections (`symzoo.symmetry.projection`), so
  the copy is exactly invariant/equivariant.
* `extract(model)`: the compact Keras model that computes *the same function
  as the projected model* with far fewer parameters:

  - `ClassTranslationDense` (kernel (C, T[, T'], d[, d']), strides s) →
    circular ("wrap") padding by d−1 + ``Conv1D/Conv2D(C, kernel_size=d,
    strides=s, use_bias=False, activation=act)`` + global average pooling:
    channel k at output position i is ``act(Σ_u w_k[u]·x[(u + s·i) mod d])``,
    i.e. ``act(⟨roll(w_k, s·i), x⟩)`` with the class template
    ``w_k = P(W)[k, 0]``, and the average over positions is the layer's mean
    over translations. C·d·d' parameters instead of C·T·T'·d·d'.
  - `SetLinearSum` (n, n) → `ScaledSum`: ``y = c·Σ_j x_j`` with c the mean
    column sum (DeepSets with identity φ and ρ(s) = c·s); 1 parameter.
  - `GraphRowSum` (n, n) → `GraphEquivariantRowSum` with W = α·I + β·11ᵀ:
    ``y_i = Σ_j act(α·A_ij + β·deg_i)``, deg_i = Σ_l A_il; 2 parameters.

  The layers after the symzoo layer (e.g. the softmax) are copied with their
  weights. `extract` returns ``(compact_model, info)`` where info holds the
  parameter counts before/after and the reduction factor.
"""

import numpy as np

import keras

from symzoo.layers.compact import CircularPad, GraphEquivariantRowSum, ScaledSum  # noqa: F401
from symzoo.symmetry import groups as _groups
from symzoo.symmetry import projection as _projection

#: symmetry kind -> compact block builder (`groups.register_block`).
BLOCKS = _groups.BLOCKS
register_block = _groups.register_block


# Helpers --------------------------------------------------------------------------


def layer_kind(layer):
    """The layer's ``symmetry_kind`` (``"translation"``, ``"set"``, ``"graph"``)
    or None for layers that are not symzoo layers (`groups.layer_kind`)."""
    return _groups.layer_kind(layer)


def symzoo_layers(model):
    """The model's symzoo layers: those with a registered ``symmetry_kind``
    (ClassTranslationDense, SetLinearSum, GraphRowSum)."""
    layers = getattr(model, "layers", None)
    if layers is None:
        return []
    found = []
    for layer in layers:
        if layer_kind(layer) is not None:
            found.append(layer)
        elif isinstance(layer, keras.Model):
            found.extend(symzoo_layers(layer))
    return found


def _check_model(model):
    if not isinstance(model, keras.Model):
        raise ValueError(
            f"Expected a Keras model. Received: model of type {type(model).__name__}"
        )
    layers = symzoo_layers(model)
    if not layers:
        raise ValueError(
            "Expected a model with a symzoo layer (ClassTranslationDense, SetLinearSum "
            f"or GraphRowSum). Received: model {model.name!r} with layers "
            f"{[type(l).__name__ for l in model.layers]}"
        )
    return layers


def _clone(model, replace):
    """clone_model with `replace(layer)` for symzoo layers; the other layers are
    re-created from their config and get the original's weights."""
    pairs = []

    def clone_function(layer):
        if layer_kind(layer) is not None:
            return replace(layer)
        new = layer.__class__.from_config(layer.get_config())
        pairs.append((layer, new))
        return new

    clone = keras.models.clone_model(model, clone_function=clone_function)
    for old, new in pairs:
        weights = old.get_weights()
        if weights:
            new.set_weights(weights)
    return clone


def project_model(model):
    """A copy of `model` with every symzoo kernel replaced by its projection.

    Returns:
        ``(projected_model, projected_kernels)``: the model (same class and
        layers, penalties included) and a dict layer name → projected numpy
        kernel.
    """
    layers = _check_model(model)
    projected = {l.name: _projection.project(l.kernel, layer_kind(l)) for l in layers}

    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    for layer in symzoo_layers(clone):
        kernel = projected[layer.name]
        layer.kernel.assign(kernel.astype(keras.backend.standardize_dtype(layer.kernel.dtype)))
    return clone, projected


@register_block("translation")
def _translation_block(layer, projected):
    num_classes, translations, spatial, strides = _projection.translation_geometry(projected.shape)
    nd = len(spatial)
    template_bank = projected[(slice(None),) + (0,) * nd]  # (C, *spatial) = P(W)[k, 0]
    conv_cls = keras.layers.Conv1D if nd == 1 else keras.layers.Conv2D
    pool_cls = (
        keras.layers.GlobalAveragePooling1D if nd == 1 else keras.layers.GlobalAveragePooling2D
    )
    block = keras.Sequential(
        [
            keras.layers.Reshape((*spatial, 1), name="add_channel"),
            CircularPad(tuple(d - 1 for d in spatial), name="circular_pad"),
            conv_cls(
                num_classes,
                kernel_size=spatial,
                strides=strides,
                padding="valid",
                use_bias=False,
                activation=layer.activation,
                name="templates",
            ),
            pool_cls(name="mean_over_translations"),
        ],
        name=f"{layer.name}_conv",
    )
    block.build((None, *spatial))
    conv = block.get_layer("templates")
    kernel = np.moveaxis(template_bank, 0, -1)[..., None, :]  # (*spatial, 1, C)
    conv.kernel.assign(kernel.astype("float32"))
    description = (
        f"circular padding + {conv_cls.__name__}({num_classes}, kernel_size={spatial}, "
        f"strides={strides}, activation={keras.activations.serialize(layer.activation)}) "
        f"+ {pool_cls.__name__}"
    )
    return block, description, {"templates_shape": list(template_bank.shape)}


@register_block("set")
def _set_block(layer, projected):
    c = float(projected.sum(axis=0, dtype=np.float64).mean())
    block = ScaledSum(scale=c, name=f"{layer.name}_sum")
    return block, f"ScaledSum: y = c·Σ_j x_j with c = {c:.6g}", {"c": c}


@register_block("graph")
def _graph_block(layer, projected):
    alpha, beta = _projection.graph_coefficients(projected)
    block = GraphEquivariantRowSum(
        alpha=alpha,
        beta=beta,
        activation=keras.activations.serialize(layer.activation),
        name=f"{layer.name}_equivariant",
    )
    return (
        block,
        f"GraphEquivariantRowSum: W = α·I + β·11ᵀ with α = {alpha:.6g}, β = {beta:.6g}",
        {"alpha": alpha, "beta": beta},
    )


def extract(model, x=None, batch_size=256):
    """The compact equivariant model equal to the projected `model`.

    Args:
        model: a Keras model holding one or more symzoo layers.
        x: optional numpy inputs; when given, the projected model and the
            compact model are run on them and the largest absolute difference
            of their outputs is reported (``max_abs_diff_vs_projected``).
        batch_size: batch size of that check.

    Returns:
        ``(compact_model, info)``: a plain functional `keras.Model` (named
        ``<name>_compact``) and a dict with ``params_before``,
        ``params_after``, ``reduction_factor``, ``kernel_params_before``,
        ``kernel_params_after`` and per layer its ``kind``, ``compact``
        (a description) and coefficients.
    """
    layers = _check_model(model)
    projected = {l.name: _projection.project(l.kernel, layer_kind(l)) for l in layers}
    details = {}

    def replace(layer):
        kind = layer_kind(layer)
        if kind not in BLOCKS:
            raise ValueError(
                f"Expected a compact block registered for the symmetry kind {kind!r} of "
                f"layer {layer.name!r} (extraction.register_block). Received: blocks for "
                f"{sorted(BLOCKS)} only."
            )
        block, description, extra = BLOCKS[kind](layer, projected[layer.name])
        details[layer.name] = {
            "kind": kind,
            "kernel_shape": list(projected[layer.name].shape),
            "compact": description,
            "block": block,
            **extra,
        }
        return block

    clone = _clone(model, replace)
    compact = keras.Model(clone.inputs, clone.outputs, name=f"{model.name}_compact")
    kernel_before = sum(int(np.prod(l.kernel.shape)) for l in layers)
    kernel_after = 0
    for d in details.values():
        block = d.pop("block")
        d["params"] = int(block.count_params())
        kernel_after += d["params"]
    before = int(model.count_params())
    after = int(compact.count_params())
    info = {
        "params_before": before,
        "params_after": after,
        "reduction_factor": before / after if after else float("inf"),
        "kernel_params_before": kernel_before,
        "kernel_params_after": kernel_after,
        "layers": details,
    }
    if x is not None:
        projected_model, _ = project_model(model)
        a = projected_model.predict(x, batch_size=batch_size, verbose=0)
        b = compact.predict(x, batch_size=batch_size, verbose=0)
        info["max_abs_diff_vs_projected"] = float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
    return compact, info


def finetune(
    compact,
    train,
    val=None,
    epochs=1,
    learning_rate=1e-3,
    seed=0,
    loss="sparse_categorical_crossentropy",
    metrics=("accuracy",),
    reinitialize=False,
    batch_size=128,
    verbose=0,
):
    """A fine-tuned copy of a compact model (Adam with a per-epoch cosine decay).

    Args:
        compact: a model from `extract` (left unchanged).
        train: ``(x, y)`` numpy arrays; val: optional ``(x, y)``.
        epochs: ≥ 1 training epochs; learning_rate: Adam's initial rate.
        seed: seeds the shuffling (and, with ``reinitialize``, the weights).
        loss, metrics: compiled into the copy.
        reinitialize: start from fresh initial weights instead of the
            extracted ones: the control that tells how much of the fine-tuned
            figure the discovered templates contribute.
        batch_size, verbose: as in ``fit``.

    Returns:
        ``(model, history)``: the fine-tuned copy and ``fit``'s history dict
        (lists of floats).
    """
    from symzoo import _validation, training

    epochs = _validation.positive_int("epochs", epochs)
    keras.utils.set_random_seed(seed)
    tuned = keras.models.clone_model(compact)
    if not reinitialize:
        tuned.set_weights(compact.get_weights())
    tuned.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss,
                  metrics=list(metrics))
    schedule = keras.callbacks.LearningRateScheduler(
        lambda epoch, lr: training.lr_at_epoch("cosine", learning_rate, epoch, epochs))
    history = tuned.fit(*train, validation_data=val, epochs=epochs, batch_size=batch_size,
                        shuffle=True, verbose=verbose, callbacks=[schedule])
    return tuned, {k: [float(v) for v in vals] for k, vals in history.history.items()}
