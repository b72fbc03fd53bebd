"""Adam's update of a large kernel on the host, fused with its penalties' next buffers.

TensorFlow, a training step compiled with XLA, for a `symzoo.layers.PenalizedLayer`
whose kernel has a gradient sink (`PenalizedLayer.prepare_gradient_sink`: at least
`GRADIENT_SINK_MIN_SIZE` values, e.g. the 24.6M weights of MNIST-56's
`ClassTranslationDense`). `symzoo.models.SymzooModel` uses it by default where it
applies (`SymzooModel.host_update`, `host_update_applies`).

What it replaces. XLA's step applied Adam to the kernel as three loop fusions
(first moment, second moment, then the kernel, re-reading both moments: ten
kernel-sized passes where one fused pass needs seven), and the penalties'
buffers (`OffsetSharing`'s int8 term gradient, `L1Sparsity`'s int8 signs,
`SigmoidSparsity`'s σ(kθ)) were written by a host pass of their own before
each step, which read the whole kernel again (row "buffer write alone" of
``benchmarks/results/mnist_translation_speed.md``).

What it does. The compiled step computes the kernel's data gradient into the
sink and applies the optimizer to every other variable. Right after it, one
threaded C pass (``fused_adam`` in ``symzoo/regularizers/_penalty_kernels.c``)
reads the sink, adds the penalties' gradients from their buffers (the same
expressions as `Penalty.gradient_from_buffer`), applies Keras' Adam to the
kernel and its two moments in place, and writes the buffers of the *next* step
from the new weights while they are still in cache: elementwise for the signs
and σ, and for the offset stencil plane by plane (last two axes), each plane
once every plane it reads is updated. So the buffers the next step reads are
the ones a host pass before it would write from the same kernel, the logged
values come with them, and the trajectory is Keras' Adam's to float rounding
(`tests/test_speed_paths.py`).

When the kernel changes between steps by another way than this update
(``set_weights``, ``load_weights``, an ``assign`` in a callback: any write
through the Keras variable), its buffers are written afresh before the next
step, as they are at the start of every ``fit``; a write through the raw
``tf.Variable`` under it is not seen.

Applies (`host_update_applies`) for a plain ``keras.optimizers.Adam`` without
AMSGrad, clipping, weight decay, EMA, gradient accumulation or loss scaling,
one step per execution, no distribution strategy, a float32 kernel without
constraint, penalties in ``"gradient"`` mode each written on the host (the C
extension compiled) and at most one of each kind; else the XLA update stays.
"""

import numpy as np


def _kinds():
    """The penalty classes whose buffer the fused pass writes: how it reads it
    (exactly these classes: a subclass may have another gradient)."""
    from symzoo.regularizers import L1Sparsity, OffsetSharing, SigmoidSparsity

    return {OffsetSharing: "term", L1Sparsity: "sign", SigmoidSparsity: "sig"}


def _fused_kernels():
    from symzoo.regularizers import base

    kernels = base.HOST_KERNELS
    return kernels if kernels is not None and hasattr(kernels, "fused_adam") else None


def _plain_adam(optimizer):
    import keras

    return (type(optimizer) is keras.optimizers.Adam and not optimizer.amsgrad
            and optimizer.clipnorm is None and optimizer.clipvalue is None
            and optimizer.global_clipnorm is None and not optimizer.weight_decay
            and not optimizer.use_ema and not optimizer.gradient_accumulation_steps
            and optimizer.loss_scale_factor is None)


def layer_plan(layer):
    """``[(kind, name, penalty), ...]`` for the penalties of `layer` the fused
    pass handles, or None where it cannot take the layer's update."""
    from symzoo.layers.base import _host_buffered

    if (layer._host_state.gradient_sink is None or layer.kernel.constraint is not None
            or str(layer.kernel.dtype) != "float32" or not layer.kernel.trainable):
        return None
    plan = []
    kinds = _kinds()
    for name, penalty in layer.penalties:
        kind = kinds.get(type(penalty))
        if (layer.penalty_mode != "gradient" or kind is None or getattr(penalty, "prox", False)
                or not _host_buffered(penalty, layer.kernel)
                or kind in (k for k, _, _ in plan)):
            return None
        plan.append((kind, name, penalty))
    return plan


def host_update_applies(model):
    """The symzoo layers of `model` whose kernel update the fused host pass
    takes (see the module doc), ``[(layer, plan), ...]``; empty where none."""
    import keras

    from symzoo.layers.base import PenalizedLayer

    if (keras.backend.backend() != "tensorflow" or _fused_kernels() is None
            or not model.jit_compile or model.run_eagerly or model.steps_per_execution != 1
            or model.optimizer is None or not _plain_adam(model.optimizer)):
        return []
    import tensorflow as tf

    if tf.distribute.has_strategy():
        return []
    trainable = {id(v) for v in model.trainable_variables}
    out = []
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, PenalizedLayer) and layer.built and id(layer.kernel) in trainable:
            plan = layer_plan(layer)
            if plan is not None:
                out.append((layer, plan))
    return out


def _watch_writes(variable, on_write):
    """Calls ``on_write()`` before every ``assign``, ``assign_add`` and
    ``assign_sub`` of the Keras variable (instance attributes over the class's
    methods; set once per variable, the callback replaced on later calls)."""
    variable._symzoo_on_write = on_write
    if getattr(variable, "_symzoo_watched", False):
        return
    for method in ("assign", "assign_add", "assign_sub"):
        original = getattr(type(variable), method)

        def wrapped(value, *args, _original=original, **kwargs):
            callback = getattr(variable, "_symzoo_on_write", None)
            if callback is not None:
                callback()
            return _original(variable, value, *args, **kwargs)

        setattr(variable, method, wrapped)
    variable._symzoo_watched = True


class HostAdam:
    """The fused host update of some layers' kernels (see the module doc).

    `SymzooModel.make_train_function` makes one; its train function calls
    `before_step` and `after_step` around each compiled step.
    """

    def __init__(self, model, plans):
        self.model = model
        self.plans = list(plans)
        self.kernels = {id(layer.kernel) for layer, _ in self.plans}
        self._fresh = {}
        self._step = None
        for layer, _ in self.plans:
            _watch_writes(layer.kernel, lambda key=id(layer): self._fresh.pop(key, None))

    def buffered_value(self, layer, name):
        """Penalty `name` of `layer` from the buffers the last `after_step`
        wrote (for ``evaluate``, a float32 numpy scalar), or None where they may
        not be the current kernel's (a write since, or none yet)."""
        from keras import ops

        if id(layer) not in self._fresh:
            return None
        for layer_, plan in self.plans:
            if layer_ is layer:
                for _, penalty_name, penalty in plan:
                    if penalty_name == name:
                        buffer = layer._host_state.buffers[name]
                        value = penalty.value_from_buffer(layer.kernel, buffer)
                        return ops.convert_to_numpy(value).astype("float32")
        return None

    def invalidate(self):
        """The kernels may have changed: write their buffers afresh before the next step."""
        self._fresh.clear()

    def before_step(self):
        """Before a compiled step: writes the buffers of any layer whose kernel
        was not last updated by `after_step`, and reads the step's learning rate
        and Adam step number (the compiled step then increments ``iterations``)."""
        from keras import ops

        optimizer = self.model.optimizer
        for layer, _ in self.plans:
            if id(layer) not in self._fresh:
                layer.update_gradient_buffers()
        if not optimizer.built:  # as Keras' symbolic build does, before the step is traced
            optimizer.build(self.model.trainable_variables)
        self._step = (int(ops.convert_to_numpy(optimizer.iterations)) + 1,
                      float(ops.convert_to_numpy(optimizer.learning_rate)))

    def after_step(self):
        """After the compiled step: Adam's update of each kernel from its sink
        and penalty buffers, fused with the buffers' next contents."""
        from symzoo.layers.base import _writable_alias, host_view

        optimizer = self.model.optimizer
        step, lr = self._step
        f32 = np.float32
        t = f32(step)
        b1, b2 = f32(optimizer.beta_1), f32(optimizer.beta_2)
        alpha = f32(lr) * np.sqrt(f32(1) - b2 ** t) / (f32(1) - b1 ** t)
        hyper = (float(alpha), float(f32(1 - optimizer.beta_1)),
                 float(f32(1 - optimizer.beta_2)), float(f32(optimizer.epsilon)))
        kernels = _fused_kernels()
        from symzoo.regularizers._sorting import radix_threads

        for layer, plan in self.plans:
            index = optimizer._get_variable_index(layer.kernel)
            targets = [layer.kernel, optimizer._momentums[index], optimizer._velocities[index]]
            buffers = layer._host_state.buffers
            targets += [buffers[name][0] for _, name, _ in plan]
            aliases = [_writable_alias(v) for v in targets]
            copies = any(a is None for a in aliases)
            if copies:  # a build whose DLPack export is a copy: update copies, then assign
                aliases = [np.array(host_view(v)) for v in targets]
            grad = host_view(layer._host_state.gradient_sink)
            shape = tuple(int(s) for s in layer.kernel.shape)
            specs = {"term": None, "sign": None, "sig": None}
            for k, (kind, _, penalty) in enumerate(plan):
                coef = float(f32(penalty.factor(shape)))
                buffer = aliases[3 + k]
                if kind == "term":
                    specs[kind] = (buffer, coef, penalty.host_shifts(len(shape)))
                elif kind == "sign":
                    specs[kind] = (buffer, coef)
                else:
                    specs[kind] = (buffer, coef, float(penalty.sharpness))
            sums = kernels.fused_adam(aliases[0], aliases[1], aliases[2], grad, shape, hyper,
                                      specs["term"], specs["sign"], specs["sig"],
                                      radix_threads())
            del grad
            if copies:
                for variable, value in zip(targets, aliases):
                    variable.assign(value)
            del aliases
            for kind, name, _ in plan:
                total = sums[("term", "sign", "sig").index(kind)]
                buffers[name][1].assign(total)
            self._fresh[id(layer)] = True
        self._step = None
