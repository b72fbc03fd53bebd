"""SymzooModel: a functional keras.Model that logs each penalty under its name."""

import contextlib

import keras

from symzoo.layers.base import PenalizedLayer, _host_buffered


@keras.saving.register_keras_serializable(package="symzoo")
class SymzooModel(keras.Model):
    """A functional model whose symzoo penalties appear by name in the logs.

    Build it like any functional model, ``SymzooModel(inputs, outputs)``. The
    penalties of its symzoo layers are part of the training loss (see
    `symzoo.layers.PenalizedLayer` for the two penalty modes, which give the
    same gradients) and of the evaluation loss; this class keeps a running mean
    of each one, so ``fit`` and ``evaluate`` report e.g. ``offset_sharing`` and
    ``val_offset_sharing`` beside ``loss``. ``predict`` and exported models
    compute no penalty. When two layers use penalties of
    the same kind, the layer's name is put in front (``dense_a/l1_sparsity``).

    Inputs: a zoo model whose `symzoo.models.registry.ModelSpec` has an
    ``input_range`` (the image models: float images in [0, 1]) checks arrays
    passed to ``fit``, ``evaluate``, ``predict`` and ``__call__``
    (`symzoo._validation.image_range`): uint8 images in 0..255, or float
    images not divided by 255, raise a ValueError that says how to scale them,
    instead of saturating the probabilities. Symbolic tensors and
    ``tf.data``/generator inputs are not checked.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        owners = [
            (layer, name)
            for layer in self._flatten_layers(include_self=False)
            if isinstance(layer, PenalizedLayer)
            for name, _ in layer.penalties
        ]
        counts = {}
        for _, name in owners:
            counts[name] = counts.get(name, 0) + 1
        self._penalty_trackers = []
        for layer, name in owners:
            log_name = name if counts[name] == 1 else f"{layer.name}/{name}"
            self._penalty_trackers.append(
                (layer, name, keras.metrics.Mean(name=log_name))
            )
        # Tracked attribute so that the trackers are in `self.metrics`.
        self.penalty_trackers = [t for _, _, t in self._penalty_trackers]

    def _input_range(self):
        from symzoo.models import registry

        if self.name not in registry.names():
            return None
        return registry.spec(self.name).input_range

    def _check_inputs(self, x, arg="x"):
        """Raises for arrays outside the zoo spec's ``input_range`` (see the class doc)."""
        value_range = self._input_range()
        if value_range is None or x is None:
            return
        import numpy as np

        if isinstance(x, np.ndarray):
            array = x
        elif isinstance(x, (list, tuple)) or keras.backend.is_keras_tensor(x):
            return
        elif hasattr(x, "numpy") and hasattr(x, "dtype") and hasattr(x, "shape"):
            try:
                array = x.numpy()  # an eager tensor (symbolic ones raise)
            except Exception:  # noqa: BLE001
                return
        elif hasattr(x, "__array__") and hasattr(x, "dtype"):
            try:
                array = np.asarray(x)  # a jax array (tracers raise)
            except Exception:  # noqa: BLE001
                return
        else:
            return  # tf.data, generators, PyDatasets: not checked
        from symzoo import _validation

        _validation.image_range(arg, array, *value_range)

    def fit(self, x=None, y=None, *args, **kwargs):
        self._check_inputs(x)
        if getattr(self, "_host_adam", None) is not None:
            self._host_adam.invalidate()  # the weights may have changed since
        validation_data = kwargs.get("validation_data")
        if isinstance(validation_data, (tuple, list)) and validation_data:
            self._check_inputs(validation_data[0], "validation_data[0]")
        return super().fit(x, y, *args, **kwargs)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False, **kwargs):
        """Keras' ``evaluate``; on TensorFlow and JAX the penalty values are
        computed once per call, not once per batch.

        The penalties depend on the weights only, which do not change while a
        model is evaluated, but Keras' test step computed each penalty's value
        on every batch (row "`evaluate` ms/batch" of
        ``benchmarks/results/mnist_translation_speed.md`` shows what that cost
        for MNIST-56, every epoch's validation). Here the values are computed
        once, before the first batch (`_evaluated_value`), and the compiled
        test step of this call reads them: on TensorFlow from untracked scalar
        variables, on JAX as an argument of the jitted step (so new values need
        no new trace). ``loss``, the penalty logs and the progress bar read as
        before (tested). ``test_on_batch``, a step that runs eagerly or without
        jit, a JAX distribution and the torch backend keep the per-batch
        computation.
        """
        self._check_inputs(x)
        call = dict(batch_size=batch_size, verbose=verbose, sample_weight=sample_weight,
                    steps=steps, callbacks=callbacks, return_dict=return_dict, **kwargs)
        backend = keras.backend.backend()
        if (backend not in ("tensorflow", "jax") or not self._penalty_trackers
                or self.run_eagerly or not self.compiled):
            return super().evaluate(x, y, **call)
        if backend == "jax":
            from keras.src.distribution import distribution_lib

            if not self.jit_compile or distribution_lib.distribution() is not None:
                return super().evaluate(x, y, **call)
        state = getattr(self, "_evaluation", None)
        if state is None:
            state = self._evaluation = _EvaluationState()
        if not all(layer.built for layer, _, _ in self._penalty_trackers):
            return super().evaluate(x, y, **call)
        # After a fused host update the buffers already hold the current
        # kernel's values (`HostAdam.buffered_value`): no pass at all.
        host = getattr(self, "_host_adam", None)
        values = {}
        for layer, name, _ in self._penalty_trackers:
            value = None if host is None else host.buffered_value(layer, name)
            values[(id(layer), name)] = _evaluated_value(layer, name) if value is None else value
        if backend == "tensorflow":
            import tensorflow as tf

            for key, value in values.items():
                if key not in state.values:
                    with tf.init_scope():
                        state.values[key] = tf.Variable(0.0, trainable=False,
                                                        name=f"{key[1]}_evaluated")
                state.values[key].assign(value)
        else:
            import jax.numpy as jnp

            state.current = {_value_key(key): jnp.asarray(v) for key, v in values.items()}
        own = self.test_function
        # Made again beside a new Keras test function or after a new compile
        # (optimizer, loss, metrics, jit).
        key = (own, self.optimizer, getattr(self, "_compile_loss", None),
               getattr(self, "_compile_metrics", None), self.jit_compile)
        if state.key is None or any(a is not b for a, b in zip(state.key, key)):
            if backend == "tensorflow":
                self.test_function = None
                self.make_test_function()
                state.function = self.test_function
            else:
                state.function = self._jax_evaluation_function(state)
            state.key = key
        self.test_function = state.function
        state.active = True
        try:
            return super().evaluate(x, y, **call)
        finally:
            state.active = False
            self.test_function = own

    def _jax_evaluation_function(self, state):
        """JAX: Keras' test function whose jitted step takes the penalty values
        of the current `evaluate` call (``state.current``) as an argument;
        `compute_loss` reads them while the step is traced."""
        import jax

        def step(variables, data, values):
            state.traced = values
            try:
                return self.test_step(variables, data)
            finally:
                state.traced = None

        compiled = jax.jit(step, donate_argnums=0)
        return self._make_function(lambda variables, data: compiled(variables, data,
                                                                     state.current))

    def predict(self, x, *args, **kwargs):
        self._check_inputs(x)
        return super().predict(x, *args, **kwargs)

    def __call__(self, *args, **kwargs):
        if args:
            self._check_inputs(args[0], "inputs")
        return super().__call__(*args, **kwargs)

    @property
    def optimizer_jit_compile(self):
        """Whether the optimizer's update runs in one XLA program inside a
        step compiled without XLA (TensorFlow, ``jit_compile=False``).

        For ``mixed_bfloat16`` on a CPU with bf16 matrix units: oneDNN's bf16
        GEMMs use them and XLA's do not, while without XLA Adam's update is a
        chain of separate passes over the kernel. The zoo's constructors set
        it for the translation models under ``mixed_bfloat16``
        (`symzoo.models.registry`); set it after ``compile`` and before
        training. Elsewhere (other backends, or a step compiled with XLA
        anyway) it changes nothing. Not saved with the model.
        """
        return getattr(self, "_optimizer_jit_compile", False)

    @optimizer_jit_compile.setter
    def optimizer_jit_compile(self, value):
        from symzoo import _validation

        self._optimizer_jit_compile = _validation.boolean("optimizer_jit_compile", value)
        self._xla_update = None
        self.train_function = None  # made again, with or without it

    @property
    def host_update(self):
        """Whether a large kernel's Adam update runs on the host, fused with
        its penalties' buffers for the next step (`symzoo.models.host_adam`;
        TensorFlow, a step compiled with XLA, where `host_adam.host_update_applies`).

        True by default; False keeps XLA's update inside the step (the same
        trajectory to float rounding, slower). Setting it makes the train
        function again. Not saved with the model.
        """
        return getattr(self, "_host_update", True)

    @host_update.setter
    def host_update(self, value):
        from symzoo import _validation

        self._host_update = _validation.boolean("host_update", value)
        self._host_adam = None
        self.train_function = None

    def _host_update_step(self, *args, **kwargs):
        """Keras' TensorFlow step with the kernels of `_host_adam` left out of
        the optimizer's update (`symzoo.models.host_adam`): their data gradient
        goes to their sink, the penalty gradients are not added in the step,
        and ``iterations`` still counts the step."""
        optimizer = self.optimizer
        host = self._host_adam
        layers = [layer for layer, _ in host.plans]

        def apply_gradients(grads_and_vars):
            pairs = [(g, v) for g, v in grads_and_vars if id(v) not in host.kernels]
            if not optimizer.built:
                optimizer.build(self.trainable_variables)
            if pairs:
                return type(optimizer).apply_gradients(optimizer, pairs)
            optimizer.iterations.assign_add(1)  # Keras' apply returns early on no gradients
            return None

        with _tracing_with(optimizer, apply_gradients, layers):
            return super().train_step(*args, **kwargs)

    def train_step(self, *args, **kwargs):
        """Keras' step; on TensorFlow with `optimizer_jit_compile` its
        ``optimizer.apply_gradients`` call is traced as one call of an
        XLA-compiled function that adds the symzoo layers' penalty gradients
        (`PenalizedLayer.penalty_gradient`, in ``"gradient"`` mode) to their
        kernels' gradients and applies the optimizer: the same update as the
        all-XLA step (tested), its elementwise work fused. With a fused host
        update (`host_update`) the kernels it takes are left out of the step's
        update."""
        if getattr(self, "_host_adam", None) is not None and keras.backend.backend() == "tensorflow":
            return self._host_update_step(*args, **kwargs)
        if not (self.optimizer_jit_compile and keras.backend.backend() == "tensorflow"
                and not self.jit_compile):
            return super().train_step(*args, **kwargs)  # JAX's takes (state, data)
        import tensorflow as tf
        from keras import ops

        optimizer = self.optimizer
        layers = [layer for layer in self._flatten_layers(include_self=False)
                  if isinstance(layer, PenalizedLayer) and layer.penalty_mode == "gradient"
                  and layer.penalties
                  and not all(getattr(p, "prox", False) for _, p in layer.penalties)]

        def apply_gradients(grads_and_vars):
            grads, variables = zip(*grads_and_vars)
            variables = list(variables)
            ids = [id(v) for v in variables]
            known = getattr(self, "_xla_update", None)
            if known is None or known[0] != ids:
                owned = [(ids.index(id(layer.kernel)), layer) for layer in layers
                         if id(layer.kernel) in ids]  # a frozen kernel gets no penalty

                def update(grads):
                    grads = list(grads)
                    for index, layer in owned:
                        kernel = ops.convert_to_tensor(layer.kernel)
                        extra = layer.penalty_gradient(kernel)
                        if extra is not None:
                            grads[index] = ops.add(ops.cast(grads[index], kernel.dtype),
                                                   ops.cast(extra, kernel.dtype))
                    # The variables are captured (Keras variables cannot be
                    # traced as arguments).
                    optimizer.apply(grads, variables)

                self._xla_update = (ids, tf.function(update, jit_compile=True))
            return self._xla_update[1](list(grads))

        with _tracing_with(optimizer, apply_gradients, layers):
            return super().train_step(*args, **kwargs)

    def make_train_function(self, force=False):
        """Keras' train function, after binding the optimizer to the symzoo
        layers (`PenalizedLayer.bind_optimizer`) and, on TensorFlow, making their
        penalty-gradient buffers (`PenalizedLayer.prepare_gradient_buffers`);
        on TensorFlow, preceded by the buffer writes and the host-side
        penalty gradients (`PenalizedLayer.update_host_gradients`) when a layer
        has one (`PairwiseSharing` on a large kernel in ``"gradient"`` mode), and
        followed by the fused host update of the kernels it applies to
        (`host_update`, `symzoo.models.host_adam`), whose buffers it writes
        instead."""
        # The proximal penalty steps (`OrbitSharing`) read this optimizer's
        # learning rate. Bound here, not in `compile`, so that Keras still
        # compiles a loaded model from its saved config.
        for layer in self._flatten_layers(include_self=False):
            if isinstance(layer, PenalizedLayer):
                layer.bind_optimizer(self.optimizer)
        import keras

        if keras.backend.backend() == "tensorflow":
            for layer in self._flatten_layers(include_self=False):
                if isinstance(layer, PenalizedLayer) and layer.built:
                    layer.prepare_gradient_buffers()
                    layer.prepare_gradient_sink(
                        bool(self.jit_compile) and not self.run_eagerly
                        and layer.trainable)
            if force or self.train_function is None:
                from symzoo.models import host_adam

                plans = host_adam.host_update_applies(self) if self.host_update else []
                self._host_adam = host_adam.HostAdam(self, plans) if plans else None
        function = super().make_train_function(force=force)
        if keras.backend.backend() == "jax":
            return self._jax_buffered_train_function()
        if keras.backend.backend() != "tensorflow":
            return function
        host = getattr(self, "_host_adam", None)
        fused = set() if host is None else {id(layer) for layer, _ in host.plans}
        layers = [
            layer
            for layer in self._flatten_layers(include_self=False)
            if isinstance(layer, PenalizedLayer)
            and layer.penalty_mode == "gradient"
            and (layer._host_penalties() or layer._host_state.writers)
            and id(layer) not in fused  # their buffers: `host.before_step`
        ]
        function = self.train_function
        if (not layers and host is None) or getattr(function, "_symzoo_host", False):
            return function

        def train_function(*args, **kwargs):
            for layer in layers:
                layer.update_host_gradients()
                layer.update_gradient_buffers()
            if host is None:
                return function(*args, **kwargs)
            host.before_step()
            logs = function(*args, **kwargs)
            host.after_step()
            return logs

        train_function._symzoo_host = True
        self.train_function = train_function
        return train_function

    def _jax_buffered_train_function(self):
        """JAX: the train function with the penalty buffers as step arguments.

        For each `Penalty.buffer_gradient` penalty of a layer in ``"gradient"``
        mode (`OffsetSharing`, `SigmoidSparsity`), a separately compiled
        program writes `Penalty.buffer_contents` from the kernel in the state
        the step starts from (one elementwise pass, into which XLA fuses
        `OffsetSharing`'s shifted reads of the kernel), and the compiled step
        takes it as an argument and reads the gradient and the logged value
        from it, as on TensorFlow (`PenalizedLayer.prepare_gradient_buffers`);
        where the C extension compiled, `OffsetSharing`'s buffer is the pair
        (int8 term gradient, term sum) written on the host instead,
        `L1Sparsity`'s the pair (int8 sign(θ), Σ|θ|) and `SigmoidSparsity`'s
        (σ(k·θ), Σσ)
        (`Penalty.write_host_buffer`, from the kernel's zero-copy numpy view).
        Inside the step XLA materialises each shifted kernel once per consumer.
        The host-ranked all-pairs subgradient (`PairwiseSharing` on a large
        kernel) is passed the same way, computed with numpy from the kernel
        before the step (`PairwiseSharing.host_gradient`): one ranking per
        step, where ``jax.pure_callback`` inside the step ranked twice (for
        the gradient and for the logged value).
        Same numbers as the in-step gradient (tested). Falls back to Keras'
        own train function when the model runs eagerly, is not jit-compiled,
        runs under a distribution, or has no such penalty.
        """
        function = self.train_function
        if getattr(function, "_symzoo_buffered", False):
            return function
        import jax
        from keras.src.distribution import distribution_lib

        if self.run_eagerly or not self.jit_compile or distribution_lib.distribution():
            return function
        trainable = self.trainable_variables
        targets = []
        for layer in self._flatten_layers(include_self=False):
            if not isinstance(layer, PenalizedLayer):
                continue
            index = next((i for i, v in enumerate(trainable) if v is layer.kernel), None)
            if index is None:  # a frozen kernel gets no penalty gradient
                continue
            for name, penalty in layer._buffered_penalties():
                if _host_buffered(penalty, layer.kernel):
                    targets.append((layer, name, index, _host_buffer_writer(penalty), None))
                    continue
                # The last step's buffer is donated: its memory is reused.
                reuse = jax.jit(lambda kernel, _, p=penalty: p.buffer_contents(kernel),
                                donate_argnums=1)
                targets.append((layer, name, index, jax.jit(penalty.buffer_contents), reuse))
            if layer.penalty_mode != "gradient":
                continue
            for name, penalty in layer._host_penalties():
                targets.append((layer, name, index, _host_writer(penalty), None))
        if not targets:
            return function

        def step(state, data, buffers):
            for (layer, name, *_), buffer in zip(targets, buffers):
                layer._host_state.traced[name] = buffer
            try:
                return self.train_step(state, data)
            finally:
                for layer, name, *_ in targets:
                    layer._host_state.traced.pop(name, None)

        compiled = jax.jit(step, donate_argnums=0)
        previous = [None] * len(targets)

        def one_step(state, data):
            buffers = []
            for k, (_, _, index, write, reuse) in enumerate(targets):
                kernel = state[0][index]
                if reuse is not None and previous[k] is not None:
                    buffers.append(reuse(kernel, previous[k]))
                else:
                    buffers.append(write(kernel))
            outputs, state = compiled(state, data, buffers)
            previous[:] = [b if t[4] is not None else None for b, t in zip(buffers, targets)]
            return outputs, state

        def train_function(state, iterator):
            outputs, state = one_step(state, next(iterator))
            try:
                for _ in range(self.steps_per_execution - 1):
                    outputs, state = one_step(state, next(iterator))
            except StopIteration:
                pass
            return outputs, state

        train_function._symzoo_buffered = True
        train_function._symzoo_step = compiled  # for tests: (state, data, buffers)
        train_function._symzoo_writers = [(t[2], t[3]) for t in targets]
        self.train_function = train_function
        return train_function

    @property
    def penalty_mode(self):
        """The layers' `penalty_mode` (``"gradient"`` or ``"add_loss"``).

        Setting it sets every symzoo layer's mode; recompile (or call
        ``model.make_train_function(force=True)``) after changing it on a model
        that has already trained.
        """
        modes = {layer.penalty_mode for layer, _, _ in self._penalty_trackers}
        return modes.pop() if len(modes) == 1 else ("mixed" if modes else None)

    @penalty_mode.setter
    def penalty_mode(self, mode):
        for layer in self._flatten_layers(include_self=False):
            if isinstance(layer, PenalizedLayer):
                layer.penalty_mode = mode

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        """The compiled loss plus every symzoo penalty; logs each penalty.

        In training with ``penalty_mode="add_loss"`` the penalties are already
        in ``self.losses``. Otherwise (``"gradient"`` training, whose gradient
        is added in the backward pass, and evaluation, where layers add no
        loss) the penalty values are computed here from the kernels and added
        without gradient, so ``loss`` / ``val_loss`` mean the same in both
        modes. ``predict`` never calls this: inference computes no penalty.
        """
        from keras import ops

        total = super().compute_loss(
            x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training
        )
        if not self._penalty_trackers:
            return total
        losses = self.losses if training else []
        for layer, name, tracker in self._penalty_trackers:
            value = None
            if training and layer.penalty_mode == "add_loss":
                value = layer.penalty_values(losses).get(name)
            else:
                state = getattr(self, "_evaluation", None)
                if not training and state is not None and state.traced is not None:
                    value = state.traced[_value_key((id(layer), name))]  # JAX `evaluate`
                elif (not training and state is not None and state.active
                      and (id(layer), name) in state.values):
                    # TensorFlow `evaluate`; any other trace while `active` (seen on
                    # JAX in the tuner's evaluate_best, whose values are not variables)
                    # computes the value below
                    value = state.values[(id(layer), name)].read_value()
                else:
                    value = layer.penalty_value(name, training=training)
                total = ops.add(total, ops.cast(value, total.dtype))
            if value is not None:
                tracker.update_state(value)
        return total


def _evaluated_value(layer, name):
    """Penalty `name` of `layer` now, as a float32 numpy scalar: from one
    host pass over the kernel where the penalty has one (`Penalty.write_host_buffer`:
    `OffsetSharing`, `L1Sparsity`, `SigmoidSparsity` with the C extension),
    else eagerly (`PenalizedLayer.penalty_value`)."""
    import numpy as np
    from keras import ops

    from symzoo.layers.base import _host_buffered, host_view

    penalty = dict(layer.penalties)[name]
    kernel = layer.kernel
    if _host_buffered(penalty, kernel) and not getattr(penalty, "prox", False):
        view = host_view(kernel)
        try:
            scratch = np.empty(view.shape, penalty.host_buffer_dtype)
            total = penalty.write_host_buffer(np.ascontiguousarray(view), scratch)
        finally:
            del view  # before the kernel is next updated (see host_view)
        value = penalty.value_from_buffer(kernel, (scratch, np.float32(total)))
    else:
        value = layer.penalty_value(name)
    return ops.convert_to_numpy(value).astype("float32")


@contextlib.contextmanager
def _tracing_with(optimizer, apply_gradients, layers):
    """While a TensorFlow train step is traced: the optimizer's
    ``apply_gradients`` replaced by `apply_gradients`, and the `layers` leaving
    their penalty gradients out of the backward pass
    (``_defer_penalty_gradient``); the optimizer and layers are left as they
    were afterwards."""
    optimizer.apply_gradients = apply_gradients
    for layer in layers:
        layer._defer_penalty_gradient = True
    try:
        yield
    finally:
        del optimizer.apply_gradients
        for layer in layers:
            layer._defer_penalty_gradient = False


def _value_key(key):
    """``(id(layer), name)`` as the string key of a JAX argument's dict."""
    return f"{key[0]}/{key[1]}"


class _EvaluationState:
    """Untracked: `SymzooModel.evaluate`'s penalty values (TensorFlow: scalar
    variables, read while ``active``; JAX: ``current``, the arrays passed to
    the step, and ``traced``, their tracers while the step is traced) and its
    test function."""

    def __init__(self):
        self.values = {}
        self.current = {}
        self.traced = None
        self.function = None
        self.key = None  # what `function` was made for (see `SymzooModel.evaluate`)
        self.active = False


#: The alignment at which the XLA CPU client takes a numpy step argument
#: without copying it (it copied a 16-byte aligned 98 MB float32 buffer on
#: every step: +30 ms or more on 2 cores, more than the step's own use of it).
_ZERO_COPY_ALIGNMENT = 64


def _aligned_empty(shape, dtype, alignment=_ZERO_COPY_ALIGNMENT):
    """``numpy.empty(shape, dtype)`` whose data starts at a multiple of
    `alignment` bytes (a view into a slightly larger byte array)."""
    import numpy as np

    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(nbytes + alignment, dtype=np.uint8)
    start = (-raw.ctypes.data) % alignment
    return raw[start:start + nbytes].view(dtype).reshape(shape)


def _host_buffer_writer(penalty):
    """``kernel value -> (array, term sum)`` for a JAX step argument,
    by `Penalty.write_host_buffer` on the host, into one array reused across
    steps: reading the kernel waits for the step that made it, which is the
    last one that read the array. The array is allocated 64-byte aligned, so
    that the CPU client passes it to the step without a copy (the step only
    reads it, and the next write waits for the step, as above)."""
    import numpy as np

    scratch = []

    def write(kernel):
        view = np.asarray(kernel)  # zero-copy on CPU; waits for the step before
        if not scratch:
            scratch.append(_aligned_empty(view.shape, penalty.host_buffer_dtype))
        total = penalty.write_host_buffer(view, scratch[0])
        return scratch[0], np.float32(total)

    return write


def _host_writer(penalty):
    """``kernel value -> penalty.host_gradient`` (numpy) for a JAX step argument,
    into one 64-byte aligned array reused across steps (passed without a copy;
    see `_host_buffer_writer`)."""
    import numpy as np

    scratch = []

    def write(kernel):
        view = np.asarray(kernel)  # waits for the step before
        if not scratch:
            scratch.append(_aligned_empty(view.shape, "float32"))
        return penalty.host_gradient(view, out=scratch[0])

    return write
