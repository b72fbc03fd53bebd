"""Shared machinery of symzoo's layers: the kernel penalties."""

import keras
from keras import ops

from symzoo import _validation
from symzoo.regularizers import base as penalty_base

#: How a layer's penalties reach the training step (``penalty_mode=``).
PENALTY_MODES = ("gradient", "add_loss")


def with_added_gradient(kernel, gradient_fn, anchor=None):
    """Returns `kernel` unchanged, with ``gradient_fn(kernel)`` added to its gradient.

    The forward pass is the identity; the backward pass returns
    ``upstream + gradient_fn(kernel)``. Differentiating a loss through it is
    differentiating ``loss + penalty(kernel)`` when ``gradient_fn`` is the
    penalty's gradient, without the penalty's forward pass and autodiff's
    intermediate copies: under XLA / ``jax.jit`` the added term is one
    elementwise expression fused into the optimizer's update.

    `anchor`: an optional scalar added to the gradient with weight zero. It
    orders the computation of `anchor` (the logged penalty values, read from
    `kernel`) before the optimizer's in-place update of the kernel, which XLA
    otherwise guards by copying the whole kernel every step. `gradient_fn` may
    be None (only the anchor: penalties trained by proximal steps).

    TensorFlow and JAX use ``keras.ops.custom_gradient``; other backends (torch)
    get the same gradient from the zero-valued surrogate
    ``Σ stop_gradient(g) · W − stop_gradient(Σ g · W)``, returned as the second
    element (None on TensorFlow / JAX) for the caller to add to the loss.
    """
    backend = keras.backend.backend()
    if backend in ("tensorflow", "jax"):
        kernel = ops.convert_to_tensor(kernel)

        @ops.custom_gradient
        def identity(w):
            def grad(*args, upstream=None):
                if upstream is None:
                    (upstream,) = args
                total = upstream
                if gradient_fn is not None:
                    # In the kernel's dtype: the upstream gradient may come in
                    # the compute dtype (bf16, `ClassTranslationDense` under
                    # mixed precision), the penalty's must not be rounded to it.
                    total = ops.add(ops.cast(total, w.dtype), ops.cast(gradient_fn(w), w.dtype))
                if anchor is not None:
                    total = ops.add(total, ops.multiply(ops.cast(anchor, total.dtype), 0.0))
                return total

            return w, grad

        return identity(kernel), None
    g = ops.stop_gradient(gradient_fn(kernel))
    inner = ops.sum(ops.multiply(g, kernel))
    return kernel, ops.subtract(inner, ops.stop_gradient(inner))


def _tensors(buffer):
    """A buffer (a variable or array, or a tuple of them) as tensors."""
    if isinstance(buffer, (tuple, list)):
        return tuple(ops.convert_to_tensor(b) for b in buffer)
    return ops.convert_to_tensor(buffer)


def _host_buffered(penalty, kernel):
    """Whether `penalty`'s fast-path buffer is written on the host
    (`Penalty.write_host_buffer`: `OffsetSharing`'s C stencil, `L1Sparsity`'s
    signs, `SigmoidSparsity`'s σ)."""
    applies = getattr(penalty, "host_buffer_applies", None)
    return applies is not None and applies(tuple(kernel.shape), kernel.dtype)


def host_view(variable):
    """A read-only numpy view of a CPU variable's current value, without a
    copy where the backend allows it (TensorFlow: DLPack; JAX: the array's
    buffer); else a copy. Drop it before the variable is next updated: while
    it is alive TensorFlow copies the variable instead of updating it in
    place."""
    import numpy as np

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        value = variable.value if isinstance(variable, keras.Variable) else variable
        try:
            if value.device.endswith("CPU:0"):
                return np.from_dlpack(_DLPack(tf.experimental.dlpack.to_dlpack(value.value())))
        except (AttributeError, TypeError, ValueError, RuntimeError,
                tf.errors.OpError):  # pragma: no cover - depends on the build
            pass
    return np.asarray(keras.ops.convert_to_numpy(variable))


def _writable_alias(variable):
    """TensorFlow: a writable numpy array over a CPU variable's own memory
    (its DLPack export, which TensorFlow marks read-only), or None where the
    export is not the variable's memory. Checked on each call: two exports
    share their memory and a byte written through the alias reads back
    through TensorFlow. Only for the untracked penalty buffers, which nothing
    else holds: a write through it changes the variable in place, as
    ``assign`` would without its copy."""
    import ctypes

    import numpy as np

    view = host_view(variable)
    again = host_view(variable)
    if view.size == 0 or not np.shares_memory(view, again) or not view.flags.c_contiguous:
        return None
    address = view.__array_interface__["data"][0]
    alias = np.ndarray(view.shape, view.dtype,
                       buffer=(ctypes.c_char * view.nbytes).from_address(address))
    del view, again
    if not getattr(variable, "_symzoo_alias_checked", False):
        raw = alias.reshape(-1).view(np.uint8)  # the last value's bytes, in memory order
        old = int(raw[-1])
        raw[-1] = old ^ 0x5A
        seen = np.asarray(variable[(-1,) * len(variable.shape)].numpy()).tobytes()[-1]
        raw[-1] = old
        if seen != old ^ 0x5A:
            return None
        variable._symzoo_alias_checked = True
    return alias


class _DLPack:
    """Hands a DLPack capsule of a CPU tensor to `numpy.from_dlpack`."""

    def __init__(self, capsule):
        self._capsule = capsule

    def __dlpack__(self, stream=None, **kwargs):
        return self._capsule

    def __dlpack_device__(self):
        return (1, 0)  # kDLCPU


class _HostState:
    """Untracked holder of host-computed penalty gradients, of the kernel-sized
    penalty buffers (and their writers) that TensorFlow fills before each step,
    of the buffers a JAX step receives as arguments (``traced``: set only while
    `symzoo.models.SymzooModel` traces its training step), and of the optimizer
    whose learning rate the proximal steps use (never saved)."""

    def __init__(self):
        self.variables = {}
        self.buffers = {}
        self.writers = {}
        self.traced = {}
        self.optimizer = None
        self.values = {}
        self.gradient_sink = None


#: Kernels of at least this many values get a gradient sink in a TensorFlow
#: training step compiled with XLA (`PenalizedLayer.prepare_gradient_sink`).
GRADIENT_SINK_MIN_SIZE = 1 << 20


def _through_sink(kernel, sink):
    """The identity on `kernel`, whose gradient is written into the variable
    `sink` and read back from it (TensorFlow)."""
    import tensorflow as tf

    @tf.custom_gradient
    def through(k):
        def grad(upstream):
            sink.assign(tf.cast(upstream, sink.dtype))
            return tf.cast(sink.read_value(), upstream.dtype)

        return tf.identity(k), grad

    return through(tf.convert_to_tensor(kernel))


class ProxConstraint(keras.constraints.Constraint):
    """The kernel constraint that applies a layer's proximal penalty steps.

    Keras applies a variable's constraint right after each optimizer update,
    inside the compiled training step, on every backend; this one returns
    ``penalty.prox_step(kernel, learning_rate)`` for each of the layer's
    penalties with ``prox=True`` and a ``prox_step`` (`OrbitSharing`), with
    the learning rate of the optimizer bound by `PenalizedLayer.bind_optimizer`
    (`symzoo.models.SymzooModel` binds its own when it makes its train
    function).
    """

    def __init__(self, layer):
        self._layer = layer

    def __call__(self, kernel):
        return self._layer.apply_prox_steps(kernel)


class PenalizedLayer(keras.layers.Layer):
    """A layer with one ``kernel`` and optional ``sharing`` / ``sparsity`` penalties.

    Penalties act only in training calls (``training=True``); inference
    (``predict``, ``serve``, exported SavedModels) computes none of them.

    Penalty modes (``penalty_mode=``), both giving the same gradients, hence the
    same training trajectory up to float rounding (tests/test_speed_paths.py):

    * ``"gradient"`` (default): the penalty's analytic (sub)gradient
      (`Penalty.gradient`) is added to the kernel's gradient in the backward
      pass (`with_added_gradient`); nothing is added to ``model.losses``.
      `symzoo.models.SymzooModel` adds the penalty's *value* to the reported
      loss (without gradient), so ``loss`` and the per-penalty logs read the
      same as with ``"add_loss"``. In a plain ``keras.Model`` the gradient is
      still applied but the loss it reports leaves the penalty out.
    * ``"add_loss"``: the penalty is added with ``add_loss`` on every training
      call and differentiated by the backend (the reference path; slower: it
      makes the copies autodiff needs, e.g. of the rolled kernel).

    The penalty math runs in float32 on the float32 kernel variable, also under
    a ``mixed_bfloat16`` policy (the layer disables Keras' autocasting of its
    variables and casts the kernel to the compute dtype itself).
    """

    def __init__(self, sharing=None, sparsity=None, penalty_mode="gradient", **kwargs):
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        self.sharing = penalty_base.get(sharing, "sharing")
        self.sparsity = penalty_base.get(sparsity, "sparsity")
        self.penalty_mode = penalty_mode
        self._penalty_ids = {}
        self._host_state = _HostState()

    @property
    def penalty_mode(self):
        return self._penalty_mode

    @penalty_mode.setter
    def penalty_mode(self, mode):
        self._penalty_mode = _validation.one_of("penalty_mode", mode, PENALTY_MODES)

    @property
    def penalties(self):
        """``[(name, penalty), ...]`` for the penalties this layer adds."""
        return [(p.name, p) for p in (self.sharing, self.sparsity) if p is not None]

    def _prox_penalties(self):
        """The penalties trained by in-graph proximal steps after each update."""
        return [
            p
            for _, p in self.penalties
            if getattr(p, "prox", False) and hasattr(p, "prox_step")
        ]

    def kernel_constraint(self):
        """The constraint to build the kernel with: a `ProxConstraint` when a
        penalty takes proximal steps in the graph, else None."""
        return ProxConstraint(self) if self._prox_penalties() else None

    def bind_optimizer(self, optimizer):
        """Sets the optimizer whose current learning rate scales the proximal
        steps (τ = learning rate × λ). Not tracked and not saved."""
        self._host_state.optimizer = optimizer

    def apply_prox_steps(self, kernel):
        """``kernel`` after one proximal step of each prox penalty."""
        optimizer = self._host_state.optimizer
        if optimizer is None:
            raise ValueError(
                f"Expected layer {self.name!r} to have an optimizer bound for its "
                "prox=True penalty (τ = learning rate × λ). Received: none. Train it "
                "in a symzoo.models.SymzooModel (it binds its optimizer) or "
                "call layer.bind_optimizer(optimizer) first."
            )
        for penalty in self._prox_penalties():
            kernel = penalty.prox_step(kernel, optimizer.learning_rate)
        return kernel

    def _validate_penalties(self, kernel_shape):
        for _, penalty in self.penalties:
            penalty.validate(kernel_shape)

    def _host_penalties(self):
        """TensorFlow and JAX: the penalties whose gradient is computed on the
        host before each step (`PairwiseSharing` on a large kernel): on
        TensorFlow into a variable (`update_host_gradients`), on JAX as an
        argument of the step (`symzoo.models.SymzooModel`)."""
        if keras.backend.backend() not in ("tensorflow", "jax") or not self.built:
            return []
        return [
            (name, p)
            for name, p in self.penalties
            if hasattr(p, "host_gradient") and p.uses_host_ranking(self.kernel.shape)
        ]

    def update_host_gradients(self):
        """TensorFlow: recomputes the host-side penalty gradients from the kernel.

        For penalties that XLA cannot compute fast (`PairwiseSharing` on a large
        kernel: a sort), the gradient at the current kernel is computed with
        numpy and stored in an untracked (never saved) variable that the
        compiled step reads. `SymzooModel` calls this before each compiled
        training call, so the gradient is the one at the weights the step
        starts from, as with ``add_loss``; with ``steps_per_execution > 1`` it
        is refreshed once per execution. The kernel is read through a
        zero-copy view (`host_view`) and, after the first call, the gradient is
        written straight into the variable's memory (`_writable_alias`; else
        assigned, a copy). Returns the number of gradients updated.
        """
        import tensorflow as tf

        count = 0
        for name, penalty in self._host_penalties():
            store = self._host_state.variables
            view = host_view(self.kernel)
            if name not in store:
                grad = penalty.host_gradient(view)
                with tf.init_scope():
                    store[name] = tf.Variable(grad, trainable=False, name=f"{name}_grad")
            else:
                target = _writable_alias(store[name])
                if target is not None:
                    penalty.host_gradient(view, out=target)
                else:
                    store[name].assign(penalty.host_gradient(view))
                del target  # no reference left to the variable's memory
            del view
            count += 1
        return count

    def _buffered_penalties(self):
        """TensorFlow and JAX, gradient mode: the penalties whose gradient the
        step reads from a buffer written before it (`Penalty.buffer_gradient`;
        on JAX the buffer is an argument of the compiled step, see
        `symzoo.models.SymzooModel.make_train_function`)."""
        if (keras.backend.backend() not in ("tensorflow", "jax") or not self.built
                or self.penalty_mode != "gradient"):
            return []
        host = {name for name, _ in self._host_penalties()}
        return [(name, p) for name, p in self.penalties if name not in host and (
            getattr(p, "buffer_gradient", False) or _host_buffered(p, self.kernel))]

    def prepare_gradient_buffers(self):
        """TensorFlow: makes the untracked kernel-sized buffer of each
        `Penalty.buffer_gradient` penalty, and the compiled function that
        writes it (`update_gradient_buffers`).

        The buffer (`Penalty.buffer_contents`: `OffsetSharing`'s gradient,
        `SigmoidSparsity`'s σ(k·θ)) is written by its own XLA program, before
        each compiled training call, from the kernel that call starts from: one
        elementwise pass, into which XLA fuses `OffsetSharing`'s shifted reads
        of the kernel. Where the C stencil compiled, `OffsetSharing`'s buffer
        is instead the pair (int8 term gradient, term sum) that
        `Penalty.write_host_buffer` writes on the host from a zero-copy view
        of the kernel (one threaded pass, straight into the variable):
        the step reads a quarter of the bytes and logs the value without a
        reduction; `L1Sparsity`'s is ``(int8 sign(θ), Σ|θ|)`` and
        `SigmoidSparsity`'s ``(σ(k·θ), Σσ)``. The training
        step takes the gradient and the logged
        value from it (`Penalty.gradient_from_buffer`, `value_from_buffer`).
        Inside the training step instead, XLA materialises the shifted kernels
        once per consumer in a transposed layout, which costs more than the
        step's GEMMs, and evaluates the sigmoid three times. As with the host
        gradients, ``steps_per_execution > 1`` refreshes the buffer once per
        execution. `symzoo.models.SymzooModel` calls this when it makes its
        train function; in a plain ``keras.Model`` the gradient is computed
        inside the step (the same numbers, slower). Returns the number of
        buffers made.
        """
        import tensorflow as tf

        made = 0
        for name, penalty in self._buffered_penalties():
            if name in self._host_state.buffers:
                continue
            if _host_buffered(penalty, self.kernel):
                with tf.init_scope():
                    buffer = (tf.Variable(tf.zeros(self.kernel.shape,
                                                   penalty.host_buffer_dtype),
                                          trainable=False, name=f"{name}_buffer"),
                              tf.Variable(0.0, trainable=False, name=f"{name}_terms"))
                writer = self._host_buffer_writer(buffer, penalty)
            else:
                with tf.init_scope():
                    buffer = tf.Variable(tf.zeros(self.kernel.shape, self.kernel.dtype),
                                         trainable=False, name=f"{name}_buffer")
                writer = tf.function(self._buffer_writer(buffer, penalty), jit_compile=True)
            self._host_state.buffers[name] = buffer
            self._host_state.writers[name] = writer
            made += 1
        return made

    def _buffer_writer(self, buffer, penalty):
        def write():
            buffer.assign(penalty.buffer_contents(ops.convert_to_tensor(self.kernel)))
            return ops.convert_to_tensor(0.0)  # no kernel-sized output

        return write

    def _host_buffer_writer(self, buffer, penalty):
        """TensorFlow: writes ``(array, term sum)`` with
        `Penalty.write_host_buffer` from a zero-copy view of the kernel, the
        array straight into its variable's memory where
        `_writable_alias` checked that this works, else into an array then
        assigned (a copy)."""
        import numpy as np

        array = buffer[0]
        direct = _writable_alias(array) is not None
        scratch = None if direct else np.empty(tuple(self.kernel.shape),
                                               dtype=penalty.host_buffer_dtype)

        def write():
            view = host_view(self.kernel)
            target = _writable_alias(array) if direct else scratch
            total = penalty.write_host_buffer(view, target)
            # No reference left to either variable's memory: the step reads the
            # buffer and updates the kernel in place.
            del view, target
            if not direct:
                array.assign(scratch)
            buffer[1].assign(total)
            return total

        return write

    def update_gradient_buffers(self):
        """TensorFlow: writes each penalty-gradient buffer from the current
        kernel (see `prepare_gradient_buffers`). Returns the number written."""
        for write in self._host_state.writers.values():
            write()
        return len(self._host_state.writers)

    def penalty_gradient(self, kernel):
        """The sum of this layer's penalty gradients at `kernel` (None if none)."""
        host = self._host_state.variables
        buffers = self._host_state.buffers
        total = None
        for name, penalty in self.penalties:
            if name in host and keras.backend.backend() == "tensorflow":
                g = ops.convert_to_tensor(host[name])
            elif name in buffers and keras.backend.backend() == "tensorflow":
                # the buffer was written from this kernel before the step
                g = penalty.gradient_from_buffer(kernel, _tensors(buffers[name]))
            elif name in self._host_state.traced:
                # JAX: the buffer written from this kernel, an argument of the step
                g = penalty.gradient_from_buffer(kernel, self._host_state.traced[name])
            else:
                g = penalty.gradient(kernel)
            total = g if total is None else ops.add(total, g)
        return total

    def _penalized_kernel(self, training):
        """The float32 kernel to compute with, carrying the training penalties.

        Call it once per ``call``. Outside training it is the plain kernel.
        In a training step compiled with XLA on TensorFlow, the kernel's data
        gradient goes through the layer's gradient sink
        (`prepare_gradient_sink`).
        """
        kernel = self._kernel_with_penalties(training)
        sink = self._host_state.gradient_sink
        if not training or sink is None or keras.backend.backend() != "tensorflow":
            return kernel
        return _through_sink(kernel, sink)

    def prepare_gradient_sink(self, enabled):
        """TensorFlow: makes (or, with ``enabled=False``, drops) the untracked
        kernel-sized variable that a training step compiled with XLA writes the
        kernel's data gradient into, for a kernel of at least
        `GRADIENT_SINK_MIN_SIZE` values. Returns whether the layer has one.

        Why: XLA's CPU runtime gives the step's temporary buffers fresh memory
        on every call, and the kernel's gradient (98 MB for MNIST-56) is the
        one temporary of kernel size, so each step faulted its pages in anew
        (the step time of ``benchmarks/results/mnist_translation_speed_amd_epyc_before_sink.md``
        against the current table; in the current one, row "minor page faults"
        shows none left on TensorFlow and a kernel's worth per step on JAX, which
        has no sink). Written into a
        variable, which XLA aliases to its output, the GEMM fills the same
        memory every step. The values are the same (the sink is the identity
        on the gradient; tested); the cost is one kernel-sized variable, never
        saved. `symzoo.models.SymzooModel` calls this when it makes its train
        function, enabled when the step is compiled with XLA (a step without
        XLA would copy the gradient instead).
        """
        import math

        applies = (enabled and self.kernel is not None
                   and keras.backend.backend() == "tensorflow"
                   and math.prod(int(s) for s in self.kernel.shape) >= GRADIENT_SINK_MIN_SIZE)
        if applies:
            import tensorflow as tf

            applies = not tf.distribute.has_strategy()
        if not applies:
            self._host_state.gradient_sink = None
            return False
        sink = self._host_state.gradient_sink
        if sink is None or tuple(sink.shape) != tuple(self.kernel.shape):
            with tf.init_scope():
                self._host_state.gradient_sink = tf.Variable(
                    tf.zeros(self.kernel.shape, self.kernel.dtype), trainable=False,
                    name="kernel_gradient_sink")
        return True

    def _kernel_with_penalties(self, training):
        kernel = self.kernel
        self._penalty_ids = {}
        self._host_state.values = {}
        if not training or not self.penalties:
            return kernel
        if self.penalty_mode == "add_loss":
            for name, penalty in self.penalties:
                value = penalty(kernel)
                self.add_loss(value)
                self._penalty_ids[id(value)] = name
            return kernel
        prox_only = all(getattr(p, "prox", False) for _, p in self.penalties)
        # The logged values are computed here, from the kernel the forward pass
        # reads, and anchored to the gradient (a zero-weighted term): the
        # compiler then reads the kernel for them before the optimizer updates
        # it in place, instead of first copying the whole kernel.
        kernel = ops.convert_to_tensor(kernel)
        values = {}
        for name, penalty in self.penalties:
            buffer = self._host_state.buffers.get(name)
            if keras.backend.backend() != "tensorflow":
                buffer = self._host_state.traced.get(name)
            if buffer is not None:
                # The buffer was written from this kernel (e.g. the gradient,
                # whose ⟨W, g⟩ is the value of `OffsetSharing`).
                values[name] = ops.stop_gradient(
                    penalty.value_from_buffer(kernel, _tensors(buffer)))
            else:
                values[name] = self.penalty_value(name, training=True, kernel=kernel)
        self._host_state.values = values
        if getattr(self, "_defer_penalty_gradient", False):
            # `SymzooModel.optimizer_jit_compile`: the step's XLA update adds
            # `penalty_gradient` to the kernel's gradient, fused with the
            # optimizer; outside XLA the addition (and the anchor) would each
            # be a pass of their own over the kernel's gradient.
            return kernel
        anchor = None
        for value in values.values():
            anchor = value if anchor is None else ops.add(anchor, value)
        if prox_only and keras.backend.backend() not in ("tensorflow", "jax"):
            return kernel  # proximal steps only: nothing to add to the gradient
        kernel, surrogate = with_added_gradient(
            kernel, None if prox_only else self.penalty_gradient, anchor=anchor)
        if surrogate is not None:
            self.add_loss(surrogate)
        return kernel

    def penalty_value(self, name, training=False, kernel=None):
        """The current value of penalty `name`, for logging (no gradient).

        In training, a penalty whose gradient was computed on the host this
        step (`update_host_gradients`) is valued from it (``Σ g · W`` for the
        all-pairs penalty, which is linear in W given the ranks), which costs
        no second sort.
        """
        if kernel is None:
            if training and name in self._host_state.values:
                return self._host_state.values[name]  # this step's, from the forward pass
            kernel = self.kernel
        host = self._host_state.variables.get(name)
        if training and host is not None and keras.backend.backend() == "tensorflow":
            value = penalty_base.split_sum(ops.multiply(ops.convert_to_tensor(host), kernel))
        else:
            value = dict(self.penalties)[name].log_value(kernel)
        return ops.stop_gradient(value)

    def penalty_values(self, losses):
        """Picks this layer's ``add_loss`` penalties out of a list of loss tensors."""
        return {
            self._penalty_ids[id(v)]: v for v in losses if id(v) in self._penalty_ids
        }

    def penalty_config(self):
        return {
            "sharing": keras.saving.serialize_keras_object(self.sharing)
            if self.sharing is not None
            else None,
            "sparsity": keras.saving.serialize_keras_object(self.sparsity)
            if self.sparsity is not None
            else None,
            "penalty_mode": self.penalty_mode,
        }
