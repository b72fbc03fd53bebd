"""The fast penalty path gives the reference path's gradients and trajectories;
inference and exported models compute no penalty."""

import contextlib
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from symzoo.layers import ClassTranslationDense, SetLinearSum
from symzoo.models.symzoo_model import SymzooModel
from symzoo.regularizers.base import HOST_KERNELS, without_host_kernels
from symzoo.regularizers import (
    L1Sparsity,
    OffsetSharing,
    PairwiseSharing,
    SigmoidSparsity,
)


PENALTIES_2D = {
    "offset_diagonal": lambda: OffsetSharing(0.7, (1, 2)),
    "offset_diagonal_sum": lambda: OffsetSharing(0.01, (2, 3), reduction="sum"),
    "offset_complete": lambda: OffsetSharing(0.7, (1, 2), form="complete"),
    "offset_complete_sum": lambda: OffsetSharing(0.01, (1, 1), "sum", form="complete"),
    "offset_zero_shift": lambda: OffsetSharing(0.5, (0, 2)),
    "l1": lambda: L1Sparsity(1e-3),
    "l1_mean": lambda: L1Sparsity(0.3, reduction="mean"),
    "sigmoid": lambda: SigmoidSparsity(0.01, sharpness=5.0),
    "sigmoid_mean": lambda: SigmoidSparsity(0.2, sharpness=3.0, reduction="mean"),
    "pairwise": lambda: PairwiseSharing(1e-4),
    "pairwise_mean": lambda: PairwiseSharing(0.5, reduction="mean"),
}


def _autodiff_gradient(penalty, kernel):
    w = tf.Variable(kernel)
    with tf.GradientTape() as tape:
        value = penalty(w)
    return tape.gradient(value, w).numpy()


@pytest.mark.parametrize("name", sorted(PENALTIES_2D))
@pytest.mark.parametrize("shape", [(3, 4, 4, 8, 8), (2, 5, 10)])
def test_analytic_gradient_matches_autodiff(name, shape):
    penalty = PENALTIES_2D[name]()
    kernel = np.random.default_rng(3).normal(size=shape).astype("float32")
    expected = _autodiff_gradient(penalty, kernel)
    got = keras.ops.convert_to_numpy(penalty.gradient(keras.ops.convert_to_tensor(kernel)))
    assert got.shape == kernel.shape
    scale = np.abs(expected).max()
    assert scale > 0
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6 * scale)


def test_offset_gradient_is_the_numpy_subgradient():
    # Independent numpy reference: Σ_g sign(W − S_g W) − S_g⁻¹ sign(W − S_g W).
    penalty = OffsetSharing(1.0, (1, 2), reduction="sum", form="complete")
    w = np.random.default_rng(0).normal(size=(2, 4, 4, 8, 8)).astype("float32")
    expected = np.zeros_like(w)
    for axes, shifts in (((1, 3), (-1, -2)), ((2, 4), (-1, -2))):
        s = np.sign(w - np.roll(w, shifts, axes))
        expected += s - np.roll(s, [-x for x in shifts], axes)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(penalty.gradient(w)), expected)


def _translation_model(mode, sharing, sparsity, seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8))
    scores = ClassTranslationDense(
        3, strides=2, sharing=sharing, sparsity=sparsity, penalty_mode=mode, name="ctd"
    )(inputs)
    model = SymzooModel(inputs, keras.layers.Softmax()(scores))
    model.compile(
        keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy", jit_compile=True
    )
    return model


TRAJECTORY_CASES = {
    "offset_diagonal+l1": (lambda: OffsetSharing(0.5, (1, 2)), lambda: L1Sparsity(1e-3)),
    "offset_complete+sigmoid": (
        lambda: OffsetSharing(0.5, (1, 2), form="complete"),
        lambda: SigmoidSparsity(1e-3, sharpness=10.0),
    ),
    "pairwise": (lambda: PairwiseSharing(1e-6), lambda: None),
}


@pytest.mark.parametrize("case", sorted(TRAJECTORY_CASES) + ["offset_diagonal+l1/xla_writer"])
def test_gradient_and_add_loss_paths_train_alike(case):
    if case.endswith("/xla_writer"):  # the buffer written by XLA, not the C stencil
        with without_host_kernels():
            return test_gradient_and_add_loss_paths_train_alike(case.split("/")[0])
    make_sharing, make_sparsity = TRAJECTORY_CASES[case]
    rng = np.random.default_rng(1)
    x = rng.random((32, 8, 8), dtype=np.float32)
    y = rng.integers(0, 3, 32)
    ref = _translation_model("add_loss", make_sharing(), make_sparsity())
    fast = _translation_model("gradient", make_sharing(), make_sparsity())
    assert ref.penalty_mode == "add_loss" and fast.penalty_mode == "gradient"
    np.testing.assert_array_equal(ref.weights[0].numpy(), fast.weights[0].numpy())
    for _ in range(6):
        log_ref = ref.train_on_batch(x, y, return_dict=True)
        log_fast = fast.train_on_batch(x, y, return_dict=True)
    # The penalties moved the kernel: the trajectories are not trivially equal.
    assert not np.allclose(ref.weights[0].numpy(), _translation_model(
        "add_loss", None, None).weights[0].numpy())
    np.testing.assert_allclose(
        fast.weights[0].numpy(), ref.weights[0].numpy(), rtol=1e-4, atol=1e-6
    )
    assert set(log_ref) == set(log_fast)
    for key in log_ref:
        np.testing.assert_allclose(log_fast[key], log_ref[key], rtol=1e-5, err_msg=key)
    # Evaluation reports the same loss and penalties (computed from the kernel).
    ev_ref = ref.evaluate(x, y, return_dict=True, verbose=0)
    ev_fast = fast.evaluate(x, y, return_dict=True, verbose=0)
    for key in ev_ref:
        np.testing.assert_allclose(ev_fast[key], ev_ref[key], rtol=1e-5, err_msg=key)


def test_rank_coefficients_match_argsort():
    from symzoo.regularizers.pairwise_sharing import rank_coefficients

    rng = np.random.default_rng(0)
    values = rng.normal(size=1000).astype(np.float32)
    values[:10] = [0.0, -0.0, 1.5, -1.5, 3e-39, -3e-39, np.inf, -np.inf, 1e30, -1e30]
    ranks = np.argsort(np.argsort(values, kind="stable"), kind="stable")
    expected = 2 * ranks - (values.size - 1)
    got = rank_coefficients(values.reshape(10, 100))
    # +0.0 and -0.0 are equal values with ranks in either order.
    tie = np.isin(np.arange(1000), [0, 1])
    np.testing.assert_array_equal(got[~tie], expected[~tie])
    assert sorted(got[tie]) == sorted(expected[tie])


def test_pairwise_host_ranking_trains_like_add_loss(monkeypatch):
    # The host (numpy) ranking used for large kernels, forced on a small one.
    monkeypatch.setattr(PairwiseSharing, "host_ranking_min_size", 0)
    rng = np.random.default_rng(1)
    x = rng.random((32, 8, 8), dtype=np.float32)
    y = rng.integers(0, 3, 32)
    ref = _translation_model("add_loss", PairwiseSharing(1e-5), None)
    fast = _translation_model("gradient", PairwiseSharing(1e-5), None)
    for _ in range(4):
        log_ref = ref.train_on_batch(x, y, return_dict=True)
        log_fast = fast.train_on_batch(x, y, return_dict=True)
    layer = fast.get_layer("ctd")
    assert list(layer._host_state.variables) == ["pairwise_sharing"]
    np.testing.assert_allclose(
        fast.weights[0].numpy(), ref.weights[0].numpy(), rtol=1e-4, atol=1e-6
    )
    np.testing.assert_allclose(log_fast["loss"], log_ref["loss"], rtol=1e-5)
    # The host gradient is not a weight of the model.
    assert len(fast.weights) == 1
    # Refreshed from the current kernel, written into the variable's own memory.
    from symzoo.layers.base import _writable_alias

    store = layer._host_state.variables["pairwise_sharing"]
    before = _writable_alias(store)
    address = None if before is None else before.ctypes.data
    del before
    layer.kernel.assign(-layer.kernel)
    assert layer.update_host_gradients() == 1
    np.testing.assert_array_equal(
        store.numpy(), PairwiseSharing(1e-5).host_gradient(layer.kernel.numpy()))
    after = _writable_alias(store)
    if address is not None:
        assert after is not None and after.ctypes.data == address


def test_penalty_log_and_loss_include_the_penalty_in_gradient_mode():
    sharing = OffsetSharing(0.5, (1, 2))
    model = _translation_model("gradient", sharing, None)
    rng = np.random.default_rng(2)
    x, y = rng.random((16, 8, 8), dtype=np.float32), rng.integers(0, 3, 16)
    logs = model.evaluate(x, y, return_dict=True, verbose=0)
    kernel = model.get_layer("ctd").kernel
    expected = float(sharing(kernel))
    np.testing.assert_allclose(logs["offset_sharing"], expected, rtol=1e-6)
    data_loss = keras.losses.sparse_categorical_crossentropy(y, model.predict(x, verbose=0))
    np.testing.assert_allclose(
        logs["loss"], float(np.mean(data_loss)) + expected, rtol=1e-5
    )


@pytest.mark.parametrize("penalties", [
    (None, L1Sparsity(1e-3)),
    (None, SigmoidSparsity(1e-3, sharpness=5.0)),
    (OffsetSharing(1.0, (1, 2)), None),
    (OffsetSharing(1.0, (1, 2), form="complete"), L1Sparsity(1e-3)),
])
def test_xla_step_updates_the_kernel_in_place_without_copying_it(penalties):
    """The logged penalty values are read from the kernel before the optimizer
    updates it in place (anchored to the gradient), so the compiled step holds no
    copy of the kernel; reading them unordered made XLA copy the whole kernel
    every step (2 of the ~+40% of L1Sparsity's overhead on TensorFlow)."""
    import re

    sharing, sparsity = penalties
    inputs = keras.Input(shape=(20, 20))
    scores = ClassTranslationDense(4, strides=2, sharing=sharing, sparsity=sparsity)(inputs)
    model = SymzooModel(inputs, keras.layers.Softmax()(scores))
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss="sparse_categorical_crossentropy", jit_compile=True)
    model.optimizer.build(model.trainable_variables)
    model.make_train_function()
    x = tf.constant(np.random.default_rng(0).random((8, 20, 20), dtype=np.float32))
    y = tf.constant(np.arange(8) % 4)
    step = tf.function(model.train_step, jit_compile=True)
    hlo = step.experimental_get_compiler_ir((x, y))(stage="optimized_hlo")
    assert "f32[4,10,10,20,20]" in hlo  # the kernel is in the step
    assert not re.findall(r"= f32\[4,10,10,20,20\]\{[0-9,]+\} copy\(", hlo)


@pytest.mark.parametrize("form", ["diagonal", "complete"])
@pytest.mark.parametrize("writer", ["host_stencil", "xla"])
def test_offset_gradient_is_written_before_the_step(form, writer):
    """TensorFlow: `OffsetSharing`'s gradient is written into a buffer before
    the step from the kernel the step starts from, by the C stencil (int8 term
    gradient and term sum) or, without it, by its own XLA program (float32
    gradient, logged as ⟨W, g⟩); the step reads the buffer (no shifted reads
    of the kernel in it)."""
    if writer == "host_stencil" and HOST_KERNELS is None:
        pytest.skip("the C extension symzoo.regularizers._penalty_kernels did not compile")
    sharing = OffsetSharing(0.5, (1, 2), form=form)
    model = _translation_model("gradient", sharing, L1Sparsity(1e-3))
    rng = np.random.default_rng(3)
    x, y = rng.random((16, 8, 8), dtype=np.float32), rng.integers(0, 3, 16)
    layer = model.get_layer("ctd")
    start = layer.kernel.numpy()
    with contextlib.nullcontext() if writer == "host_stencil" else (
            without_host_kernels()):
        logs = model.train_on_batch(x, y, return_dict=True)
    buffers = layer._host_state.buffers
    if writer == "host_stencil":
        # L1Sparsity's host pass: sign(W) as int8 and its logged value's Σ|W|
        assert sorted(buffers) == ["l1_sparsity", "offset_sharing"]
        signs = buffers["l1_sparsity"][0].numpy()
        assert signs.dtype == np.int8
        np.testing.assert_array_equal(signs, np.sign(start).astype(np.int8))
        np.testing.assert_allclose(float(buffers["l1_sparsity"][1].numpy()),
                                   np.abs(start).sum(dtype=np.float64), rtol=1e-6)
        np.testing.assert_allclose(logs["l1_sparsity"], 1e-3 * np.abs(start).sum(), rtol=1e-5)
    else:
        assert list(buffers) == ["offset_sharing"]  # L1's value is reduced in the step
    buffer = buffers["offset_sharing"]
    if writer == "host_stencil":
        stencil, terms = buffer[0].numpy(), float(buffer[1].numpy())
        assert stencil.dtype == np.int8
        np.testing.assert_array_equal(stencil, sharing.term_gradient(start).numpy())
        total, _ = sharing.terms(start)
        np.testing.assert_allclose(terms, float(total), rtol=1e-5)
        buffer = (stencil, terms)
    else:
        buffer = buffer.numpy()
        np.testing.assert_array_equal(buffer, sharing.gradient(start).numpy())
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(sharing.gradient_from_buffer(start, buffer)),
        sharing.gradient(start).numpy())
    np.testing.assert_allclose(logs["offset_sharing"], float(sharing(start)), rtol=1e-5)
    assert not np.array_equal(layer.kernel.numpy(), start)
    # The buffer is no weight of the model and is never saved.
    assert len(model.weights) == 1
    step = tf.function(model.train_step, jit_compile=True)
    hlo = step.experimental_get_compiler_ir((tf.constant(x), tf.constant(y)))(
        stage="optimized_hlo")
    assert "f32[3,4,4,8,8]" in hlo and " gather(" not in hlo


@pytest.mark.parametrize("writer", ["host", "xla"])
def test_sigmoid_buffer_holds_the_sigmoid_and_the_step_computes_no_exp(writer):
    """The buffer holds σ(kθ) of the kernel the step starts from, written by
    the C extension (with Σσ) or, without it, by its own XLA program; the
    step evaluates no exponential of kernel size."""
    if writer == "host" and HOST_KERNELS is None:
        pytest.skip("the C extension symzoo.regularizers._penalty_kernels did not compile")
    sparsity = SigmoidSparsity(1e-3, sharpness=10.0, reduction="mean")
    model = _translation_model("gradient", None, sparsity)
    rng = np.random.default_rng(4)
    x, y = rng.random((16, 8, 8), dtype=np.float32), rng.integers(0, 3, 16)
    layer = model.get_layer("ctd")
    start = layer.kernel.numpy()
    exact = 1 / (1 + np.exp(-10.0 * start.astype(np.float64)))
    with contextlib.nullcontext() if writer == "host" else without_host_kernels():
        logs = model.train_on_batch(x, y, return_dict=True)
        buffer = layer._host_state.buffers["sigmoid_sparsity"]
        if writer == "host":
            assert isinstance(buffer, tuple)
            buffer = (buffer[0].numpy(), float(buffer[1].numpy()))
            np.testing.assert_allclose(buffer[1], exact.sum(), rtol=1e-6)
            array = buffer[0]
        else:
            buffer = array = buffer.numpy()
        np.testing.assert_allclose(array, exact, rtol=2e-6)
        np.testing.assert_allclose(logs["sigmoid_sparsity"], float(sparsity(start)), rtol=1e-5)
        np.testing.assert_allclose(  # the sigmoids differ in the last bit
            sparsity.gradient_from_buffer(start, buffer).numpy(),
            sparsity.gradient(start).numpy(), rtol=1e-5, atol=2e-7 * 10.0 * 1e-3 / start.size)
        step = tf.function(model.train_step, jit_compile=True)
        hlo = step.experimental_get_compiler_ir((tf.constant(x), tf.constant(y)))(
            stage="optimized_hlo")
    assert "f32[3,4,4,8,8]" in hlo
    assert "exponential(f32[3,4,4,8,8]" not in hlo.replace("{4,3,2,1,0}", "")


def test_set_layer_pairwise_paths_train_alike():
    def build(mode):
        keras.utils.set_random_seed(0)
        inputs = keras.Input((6,))
        out = SetLinearSum(sharing=PairwiseSharing(1e-2), penalty_mode=mode)(inputs)
        model = SymzooModel(inputs, out)
        model.compile(keras.optimizers.Adam(1e-2), "mse")
        return model

    rng = np.random.default_rng(0)
    x = rng.random((16, 6), dtype=np.float32)
    y = x.sum(axis=1, keepdims=True)
    ref, fast = build("add_loss"), build("gradient")
    for _ in range(5):
        ref.train_on_batch(x, y)
        fast.train_on_batch(x, y)
    np.testing.assert_allclose(fast.weights[0].numpy(), ref.weights[0].numpy(), atol=1e-6)


def test_penalty_mode_is_validated_and_serialized():
    with pytest.raises(ValueError, match="penalty_mode"):
        ClassTranslationDense(3, penalty_mode="fast")
    layer = ClassTranslationDense(3, sharing=OffsetSharing(1.0), penalty_mode="add_loss")
    clone = ClassTranslationDense.from_config(layer.get_config())
    assert clone.penalty_mode == "add_loss"
    # Configs written before the option existed load in the default mode.
    config = layer.get_config()
    del config["penalty_mode"]
    assert ClassTranslationDense.from_config(config).penalty_mode == "gradient"


@pytest.mark.parametrize("mode", ["gradient", "add_loss"])
def test_inference_adds_no_penalty(mode):
    model = _translation_model(mode, OffsetSharing(0.5, (1, 2)), L1Sparsity(1e-3))
    x = np.random.default_rng(0).random((4, 8, 8), dtype=np.float32)
    model(x, training=False)
    assert model.losses == []
    model(x, training=True)
    assert len(model.losses) == (2 if mode == "add_loss" else 0)


def _op_types(saved_model_dir):
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(saved_model_dir, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    types = []
    for meta in proto.meta_graphs:
        types += [node.op for node in meta.graph_def.node]
        for function in meta.graph_def.library.function:
            types += [node.op for node in function.node_def]
    return sorted(types)


def test_exported_saved_model_holds_no_penalty_ops(tmp_path):
    from symzoo.models.export import export_saved_model

    penalized = _translation_model(
        "gradient",
        OffsetSharing(0.5, (1, 2), form="complete"),
        SigmoidSparsity(1e-3),
    )
    plain = _translation_model("gradient", None, None)
    x = np.random.default_rng(0).random((4, 8, 8), dtype=np.float32)
    y = np.array([0, 1, 2, 0])
    penalized.train_on_batch(x, y)  # a trained model: the train function exists
    export_saved_model(penalized, tmp_path / "penalized")
    export_saved_model(plain, tmp_path / "plain")
    ops_penalized = _op_types(tmp_path / "penalized")
    # No op of the penalties (roll, abs, sign, sigmoid, sort) is in the graph,
    # which is op for op the graph of the same model without penalties.
    assert not {"Roll", "Abs", "Sign", "Sigmoid", "TopKV2"} & set(ops_penalized)
    assert ops_penalized == _op_types(tmp_path / "plain")
    served = tf.saved_model.load(str(tmp_path / "penalized")).serve(x).numpy()
    np.testing.assert_allclose(served, penalized.predict(x, verbose=0), rtol=1e-5)


_BACKEND_SCRIPT = r"""
import numpy as np, keras
from symzoo.layers import ClassTranslationDense
from symzoo.models.symzoo_model import SymzooModel
from symzoo.regularizers import OffsetSharing, L1Sparsity

def build(mode):
    keras.utils.set_random_seed(0)
    i = keras.Input((8, 8))
    s = ClassTranslationDense(3, strides=2, penalty_mode=mode,
        sharing=OffsetSharing(0.5, (1, 2), form="complete"), sparsity=L1Sparsity(1e-3))(i)
    m = SymzooModel(i, keras.layers.Softmax()(s))
    m.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    return m

rng = np.random.default_rng(1)
x = rng.random((32, 8, 8), dtype=np.float32); y = rng.integers(0, 3, 32)
ref, fast = build("add_loss"), build("gradient")
for _ in range(5):
    a = ref.train_on_batch(x, y, return_dict=True)
    b = fast.train_on_batch(x, y, return_dict=True)
w_ref = keras.ops.convert_to_numpy(ref.weights[0].value)
w_fast = keras.ops.convert_to_numpy(fast.weights[0].value)
np.testing.assert_allclose(w_fast, w_ref, rtol=1e-4, atol=1e-6)
for k in a:
    np.testing.assert_allclose(b[k], a[k], rtol=1e-5, err_msg=k)

# Pairwise sharing with the host (numpy) ranking of large kernels, forced.
from symzoo.regularizers import PairwiseSharing
PairwiseSharing.host_ranking_min_size = 0
def build_pairwise(mode):
    keras.utils.set_random_seed(0)
    i = keras.Input((8, 8))
    s = ClassTranslationDense(3, strides=2, penalty_mode=mode,
        sharing=PairwiseSharing(1e-5))(i)
    m = SymzooModel(i, keras.layers.Softmax()(s))
    m.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    return m
ref, fast = build_pairwise("add_loss"), build_pairwise("gradient")
for _ in range(4):
    ref.train_on_batch(x, y)
    fast.train_on_batch(x, y)
np.testing.assert_allclose(keras.ops.convert_to_numpy(fast.weights[0].value),
    keras.ops.convert_to_numpy(ref.weights[0].value), rtol=1e-4, atol=1e-6)

if keras.backend.backend() == "jax":
    # Inference traces op for op the same program with and without penalties.
    import jax

    def primitives(model):
        tv = [v.value for v in model.trainable_variables]
        ntv = [v.value for v in model.non_trainable_variables]
        jaxpr = jax.make_jaxpr(
            lambda tv, ntv, x: model.stateless_call(tv, ntv, x, training=False)
        )(tv, ntv, x[:4])
        return [e.primitive.name for e in jaxpr.eqns]

    keras.utils.set_random_seed(0)
    i = keras.Input((8, 8))
    plain = SymzooModel(i, keras.layers.Softmax()(ClassTranslationDense(3, strides=2)(i)))
    assert primitives(fast) == primitives(plain), (primitives(fast), primitives(plain))
print("OK", keras.backend.backend())
"""


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_other_backends_paths_train_alike(backend, run_on_backend):
    run_on_backend(_BACKEND_SCRIPT, backend)


_JAX_BUFFER_SCRIPT = r"""
import numpy as np, keras, jax
from symzoo.layers import ClassTranslationDense
from symzoo.models.symzoo_model import SymzooModel
from symzoo.regularizers import OffsetSharing, PairwiseSharing, SigmoidSparsity
from symzoo.regularizers.base import HOST_KERNELS

PairwiseSharing.host_ranking_min_size = 0  # the host ranking of large kernels, forced

def build(mode, sharing, sparsity):
    keras.utils.set_random_seed(0)
    i = keras.Input((8, 8))
    s = ClassTranslationDense(3, strides=2, penalty_mode=mode, sharing=sharing,
                              sparsity=sparsity)(i)
    m = SymzooModel(i, keras.layers.Softmax()(s))
    m.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy",
              steps_per_execution=2)
    return m

def primitives(jaxpr):
    names = []
    for e in jaxpr.eqns:
        names.append(e.primitive.name)
        for sub in jax.core.subjaxprs(e) if hasattr(jax.core, "subjaxprs") else []:
            names += primitives(sub)
        for v in e.params.values():
            inner = getattr(v, "jaxpr", None)
            if inner is not None:
                names += primitives(getattr(inner, "jaxpr", inner))
    return names

rng = np.random.default_rng(1)
x = rng.random((64, 8, 8), dtype=np.float32); y = rng.integers(0, 3, 64)
for sharing, sparsity in [(OffsetSharing(0.5, (1, 2)), None),
                          (OffsetSharing(0.5, (1, 2), form="complete"), None),
                          (None, SigmoidSparsity(1e-2, 100.0)),
                          (PairwiseSharing(1e-4), None)]:
    ref, fast = build("add_loss", sharing, sparsity), build("gradient", sharing, sparsity)
    # fit: steps_per_execution=2 over 4 batches, two epochs
    h_ref = ref.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    h_fast = fast.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    assert getattr(fast.train_function, "_symzoo_buffered", False)
    assert not getattr(ref.train_function, "_symzoo_buffered", False)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(fast.weights[0].value),
        keras.ops.convert_to_numpy(ref.weights[0].value), rtol=1e-4, atol=1e-6)
    for k in h_ref:
        np.testing.assert_allclose(h_fast[k], h_ref[k], rtol=1e-5, err_msg=k)
    # The buffer is written from the kernel the step starts from; the step
    # itself holds no gather (OffsetSharing's shifts) and evaluates fewer
    # sigmoids than the plain step (only the activation's, not the penalty's).
    function = fast.train_function
    state = fast._get_jax_state(trainable_variables=True, non_trainable_variables=True,
                                optimizer_variables=True, metrics_variables=True)
    buffers = [write(state[0][index]) for index, write in function._symzoo_writers]
    penalty = sharing or sparsity
    kernel = fast.weights[0].value
    if isinstance(penalty, PairwiseSharing):
        expected = penalty.host_gradient(np.asarray(kernel))
    elif isinstance(penalty, SigmoidSparsity) and HOST_KERNELS is not None:
        # the C pass: (σ(kθ), Σσ), σ within float rounding of XLA's
        s = keras.ops.convert_to_numpy(penalty.buffer_contents(kernel))
        np.testing.assert_allclose(np.asarray(buffers[0][0]), s, rtol=2e-6, atol=1e-30)
        np.testing.assert_allclose(float(buffers[0][1]), s.sum(dtype=np.float64), rtol=1e-5)
        expected = buffers[0][0]
    elif isinstance(penalty, OffsetSharing) and HOST_KERNELS is not None:
        # the C stencil: (int8 term gradient, term sum)
        expected = penalty.term_gradient(kernel)
        total, _ = penalty.terms(kernel)
        np.testing.assert_allclose(float(buffers[0][1]), float(total), rtol=1e-5)
        assert buffers[0][0].dtype == np.int8
    else:
        expected = penalty.buffer_contents(kernel)
    got = buffers[0][0] if isinstance(buffers[0], tuple) else buffers[0]
    np.testing.assert_array_equal(np.asarray(got), keras.ops.convert_to_numpy(expected))
    data = (x[:16], y[:16], None)
    step = primitives(jax.make_jaxpr(function._symzoo_step)(state, data, buffers).jaxpr)
    plain = primitives(jax.make_jaxpr(fast.train_step)(state, data).jaxpr)
    sigmoids = lambda names: names.count("logistic") + names.count("exp")
    assert "gather" not in step and "pure_callback" not in step, step
    if isinstance(sharing, PairwiseSharing):
        # the plain Keras step ranks on the host twice: gradient and logged value
        assert plain.count("pure_callback") == 2, plain
    elif sharing is not None:
        assert "gather" in plain, plain  # the plain Keras step shifts in the step
    else:
        assert sigmoids(step) < sigmoids(plain), (step, plain)
print("OK", keras.backend.backend())
"""


def test_jax_buffers_train_alike_and_keep_the_step_free_of_penalty_work(run_on_backend):
    run_on_backend(_JAX_BUFFER_SCRIPT, "jax")



def test_mixed_bfloat16_trains_saves_and_serves(tmp_path):
    from symzoo import models
    from symzoo.models.export import export_saved_model

    before = keras.config.dtype_policy().name
    model = models.blob2d_translation(seed=0, dtype_policy="mixed_bfloat16", l1=1e-4)
    assert keras.config.dtype_policy().name == before  # the global policy is restored
    layer = model.get_layer("class_translation_dense")
    assert layer.dtype_policy.name == "mixed_bfloat16"
    assert layer.compute_dtype == "bfloat16" and layer.kernel.dtype == "float32"
    rng = np.random.default_rng(0)
    x = rng.random((64, 10, 10), dtype=np.float32)
    y = rng.integers(0, 3, 64)
    history = model.fit(x, y, epochs=4, batch_size=16, verbose=0).history
    assert history["loss"][-1] < history["loss"][0]
    assert "offset_sharing" in history and "l1_sparsity" in history
    probs = model.predict(x, verbose=0)
    assert probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    # bfloat16 products: not the float32 model's outputs, but close to them.
    reference = models.blob2d_translation(dtype_policy="float32", l1=1e-4)
    reference.set_weights(model.get_weights())
    exact = reference.predict(x, verbose=0)
    assert 0 < np.abs(probs - exact).max() < 0.05
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.get_layer("class_translation_dense").dtype_policy.name == "mixed_bfloat16"
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), probs)
    from symzoo.models.export import export_saved_model

    export_saved_model(model, tmp_path / "sm")
    served = tf.saved_model.load(str(tmp_path / "sm")).serve(x).numpy()
    # The SavedModel runs TensorFlow's own bfloat16 kernels, `predict` the XLA ones:
    # bit for bit equal where the CPU has native bf16 dot products (avx512_bf16), a
    # bf16 rounding apart elsewhere (AVX2: ~6e-4 on these probabilities).
    np.testing.assert_allclose(served, probs, atol=4e-3)
    with pytest.raises(ValueError, match="dtype_policy"):
        models.blob2d_translation(dtype_policy="float16")
    with pytest.raises(ValueError, match="penalty_mode"):
        models.blob2d_translation(penalty_mode="fast")
    assert models.blob2d_translation(penalty_mode="add_loss").penalty_mode == "add_loss"


def test_added_penalty_gradient_is_not_rounded_to_a_bf16_upstream():
    """A bf16 gradient arriving at the float32 kernel (mixed precision) gets the
    penalty's float32 gradient added in float32."""
    from symzoo.layers.base import with_added_gradient
    from symzoo.layers.class_translation_dense import _cast_for_compute

    w = tf.Variable(np.full((3, 4), 0.5, np.float32))
    extra = np.full((3, 4), 1.0 + 2.0**-20, np.float32)  # not a bf16 value
    with tf.GradientTape() as tape:
        kernel, _ = with_added_gradient(w, lambda k: tf.constant(extra))
        # the layer's cast, whose gradient stays bf16
        loss = tf.reduce_sum(tf.cast(_cast_for_compute(kernel, "bfloat16"), tf.float32))
    grad = tape.gradient(loss, w)
    assert grad.dtype == tf.float32
    np.testing.assert_array_equal(grad.numpy(), 1.0 + extra)


@pytest.mark.parametrize("penalty", [None, "l1", "offset"])
def test_optimizer_update_compiled_alone_trains_like_the_xla_step(penalty):
    """TensorFlow: a step without XLA whose optimizer update is one XLA program
    (`SymzooModel.optimizer_jit_compile`) gives the all-XLA step's trajectory
    in float32; the zoo's constructors choose it under ``mixed_bfloat16``."""
    from symzoo import models

    kwargs = {"l1": 1e-3} if penalty == "l1" else {}
    if penalty is None:
        kwargs["lam"] = 0.0
    rng = np.random.default_rng(3)
    x = rng.random((48, 10, 10), dtype=np.float32)
    y = rng.integers(0, 3, 48)
    xla = models.blob2d_translation(seed=1, dtype_policy="float32", **kwargs)
    split = models.blob2d_translation(seed=1, dtype_policy="float32", **kwargs)
    assert xla.jit_compile is True and not xla.optimizer_jit_compile
    split.compile(optimizer=keras.optimizers.Adam(float(split.optimizer.learning_rate)),
                  loss=split.loss, metrics=["accuracy"], jit_compile=False)
    split.optimizer_jit_compile = True
    h_xla = xla.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    h_split = split.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    assert split._xla_update is not None  # the update went through its XLA program
    np.testing.assert_allclose(split.get_weights()[0], xla.get_weights()[0], rtol=1e-4,
                               atol=1e-6)
    np.testing.assert_allclose(h_split["loss"], h_xla["loss"], rtol=1e-5)
    with pytest.raises(ValueError, match="optimizer_jit_compile"):
        split.optimizer_jit_compile = "yes"
    # mixed_bfloat16: chosen by the constructor, bf16 gradient, float32 update.
    bf16 = models.blob2d_translation(seed=1, dtype_policy="mixed_bfloat16", **kwargs)
    assert bf16.jit_compile is False and bf16.optimizer_jit_compile
    h_bf16 = bf16.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    assert bf16._xla_update is not None
    assert bf16.get_weights()[0].dtype == np.float32
    np.testing.assert_allclose(h_bf16["loss"], h_xla["loss"], rtol=2e-2)


@pytest.mark.parametrize("dtype", ["int8", "float32"])
def test_host_buffers_are_written_in_place(dtype):
    """The host passes write the buffer variables' own memory (no assign copy)
    for both buffer dtypes: int8 (stencil, signs) and float32 (sigmoid)."""
    from symzoo.layers.base import _writable_alias

    variable = tf.Variable(tf.zeros((3, 70_000), dtype), trainable=False)
    alias = _writable_alias(variable)
    if alias is None:
        pytest.skip("this TensorFlow build exports no writable view of a variable")
    assert alias.dtype == np.dtype(dtype) and alias.shape == (3, 70_000)
    alias[1, 5] = 7
    alias[2, -1] = -3
    value = variable.numpy()
    assert value[1, 5] == 7 and value[2, -1] == -3 and np.count_nonzero(value) == 2


@pytest.mark.parametrize("dtype", ["int8", "float32"])
def test_jax_host_buffers_reach_the_step_without_a_copy(dtype):
    """JAX: the host pass's array is 64-byte aligned, so the CPU client takes
    it as a step argument in place (a 16-byte aligned one is copied: a 98 MB
    float32 copy per step for `SigmoidSparsity`)."""
    jax = pytest.importorskip("jax")
    from symzoo.models.symzoo_model import _host_buffer_writer
    from symzoo.regularizers import L1Sparsity, SigmoidSparsity
    from symzoo.regularizers import base

    if base.HOST_KERNELS is None:
        pytest.skip("the C extension _penalty_kernels is not built")
    penalty = L1Sparsity(1e-3) if dtype == "int8" else SigmoidSparsity(1e-3)
    write = _host_buffer_writer(penalty)
    kernel = np.random.default_rng(0).standard_normal((5, 3001)).astype(np.float32)
    array, total = write(kernel)
    assert array.dtype == np.dtype(dtype) and array.ctypes.data % 64 == 0
    if dtype == "int8":
        np.testing.assert_array_equal(array, np.sign(kernel))
        np.testing.assert_allclose(total, np.abs(kernel).sum(), rtol=1e-6)
    placed = jax.device_put(array)
    assert placed.unsafe_buffer_pointer() == array.ctypes.data
    again, _ = write(-kernel)  # the next step's pass reuses the same memory
    assert again.ctypes.data == array.ctypes.data


def _sink_model(sharing, jit_compile=True):
    keras.utils.set_random_seed(3)
    inputs = keras.Input(shape=(20, 20))
    scores = ClassTranslationDense(4, strides=2, sharing=sharing, name="ctd")(inputs)
    model = SymzooModel(inputs, keras.layers.Softmax()(scores))
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss="sparse_categorical_crossentropy", jit_compile=jit_compile)
    model.host_update = False  # XLA's Adam, bit for bit with and without the sink
    return model


@pytest.mark.parametrize("sharing", [None, OffsetSharing(1.0, (1, 2), form="complete")])
def test_xla_step_writes_the_data_gradient_into_the_sink_and_trains_alike(
        sharing, monkeypatch):
    """A kernel with a gradient sink (`PenalizedLayer.prepare_gradient_sink`)
    gets, in the XLA step, its data gradient written into the sink (before the
    penalty's is added) and trains exactly as without one."""
    from symzoo.layers import base

    rng = np.random.default_rng(0)
    x = rng.random((8, 20, 20), dtype=np.float32)
    y = np.arange(8) % 4
    kernels = {}
    for with_sink in (False, True):
        monkeypatch.setattr(base, "GRADIENT_SINK_MIN_SIZE", 1 if with_sink else 1 << 40)
        model = _sink_model(sharing)
        layer = model.get_layer("ctd")
        with tf.GradientTape() as tape:
            loss = keras.losses.sparse_categorical_crossentropy(y, model(x, training=False))
            loss = tf.reduce_mean(loss)
        data_gradient = tape.gradient(loss, layer.kernel).numpy()
        model.train_on_batch(x, y)
        sink = layer._host_state.gradient_sink
        assert (sink is not None) == with_sink
        if with_sink:
            np.testing.assert_allclose(sink.numpy(), data_gradient, rtol=1e-5, atol=1e-9)
        for _ in range(3):
            model.train_on_batch(x, y)
        kernels[with_sink] = layer.kernel.numpy()
    np.testing.assert_array_equal(kernels[True], kernels[False])


def test_gradient_sink_only_in_a_step_compiled_with_xla(monkeypatch):
    from symzoo.layers import base

    monkeypatch.setattr(base, "GRADIENT_SINK_MIN_SIZE", 1)
    model = _sink_model(None, jit_compile=False)
    model.make_train_function()
    assert model.get_layer("ctd")._host_state.gradient_sink is None
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", jit_compile=True)
    model.make_train_function()
    assert model.get_layer("ctd")._host_state.gradient_sink is not None
    assert all("sink" not in w.path for w in model.weights)  # never saved


def test_evaluate_computes_each_penalty_once_and_logs_as_per_batch():
    """TensorFlow: `SymzooModel.evaluate` reads penalty values computed once per
    call; its logs (and those each batch reports) are Keras' per-batch ones,
    also after the weights changed; ``test_on_batch`` is unchanged."""
    keras.utils.set_random_seed(5)
    inputs = keras.Input(shape=(20, 20))
    scores = ClassTranslationDense(
        4, strides=2, sharing=OffsetSharing(0.5, (1, 2), form="complete"),
        sparsity=L1Sparsity(1e-3), name="ctd")(inputs)
    model = SymzooModel(inputs, keras.layers.Softmax()(scores))
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  jit_compile=True)
    rng = np.random.default_rng(2)
    x = rng.random((40, 20, 20), dtype=np.float32)
    y = np.arange(40) % 4

    class Batches(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.logs = []

        def on_test_batch_end(self, batch, logs=None):
            self.logs.append(dict(logs))

    for _ in range(2):
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
        seen = Batches()
        fast = model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True,
                              callbacks=[seen])
        reference = keras.Model.evaluate(model, x, y, batch_size=8, verbose=0,
                                         return_dict=True)
        assert set(fast) == set(reference)
        for key in reference:
            np.testing.assert_allclose(fast[key], reference[key], rtol=1e-5, err_msg=key)
        assert reference["offset_sharing"] > 0
        np.testing.assert_allclose(seen.logs[0]["offset_sharing"], reference["offset_sharing"],
                                   rtol=1e-5)
        assert sorted(model.evaluate(x, y, batch_size=8, verbose=0)) == pytest.approx(
            sorted(fast.values()), rel=1e-6)  # return_dict=False: the same values
    on_batch = model.test_on_batch(x[:8], y[:8], return_dict=True)
    np.testing.assert_allclose(on_batch["offset_sharing"], reference["offset_sharing"],
                               rtol=1e-5)
    # The compiled test step of `evaluate` does no kernel-sized work for the
    # penalties (Keras' own step does: shifted differences of the kernel).
    state = model._evaluation
    hlos = {}
    for active in (False, True):
        state.active = active
        step = tf.function(model.test_step, jit_compile=True)
        hlo = step.experimental_get_compiler_ir((tf.constant(x[:8]), tf.constant(y[:8])))(
            stage="optimized_hlo")
        hlos[active] = sum("f32[4,10,10,20,20]" in line and "parameter(" not in line
                           for line in hlo.splitlines())
    state.active = False
    assert hlos[True] < hlos[False]
    before = model._evaluation.function
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss="sparse_categorical_crossentropy", jit_compile=True)
    again = model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    reference = keras.Model.evaluate(model, x, y, batch_size=8, verbose=0, return_dict=True)
    assert model._evaluation.function is not before  # made again for the new compile
    assert set(again) == set(reference) and "offset_sharing" in again


@pytest.fixture
def small_sinks(monkeypatch):
    """Gradient sinks, hence the fused host update, for the tests' small kernels
    (skipped where the C extension did not compile)."""
    from symzoo.layers import base
    from symzoo.models import host_adam

    if host_adam._fused_kernels() is None:
        pytest.skip("the C extension did not compile")
    monkeypatch.setattr(base, "GRADIENT_SINK_MIN_SIZE", 1)


def _host_update_model(sharing, sparsity, host_update, optimizer=None, seed=3):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=(20, 20))
    scores = ClassTranslationDense(4, strides=2, sharing=sharing, sparsity=sparsity,
                                   name="ctd")(inputs)
    model = SymzooModel(inputs, keras.layers.Softmax()(scores))
    model.compile(optimizer=optimizer or keras.optimizers.Adam(1e-2),
                  loss="sparse_categorical_crossentropy", jit_compile=True)
    model.host_update = host_update
    return model


@pytest.mark.parametrize("sharing, sparsity", [
    (None, None),
    (OffsetSharing(0.5, (1, 2)), None),
    (OffsetSharing(0.5, (1, 2), form="complete"), L1Sparsity(1e-3)),
    (OffsetSharing(0.5, (2, 3), form="complete", reduction="mean"), SigmoidSparsity(1e-3, 10.0)),
    (None, SigmoidSparsity(1e-3, 10.0)),
])
def test_host_update_trains_as_xla_adam(sharing, sparsity, small_sinks):
    """The fused host update (`symzoo.models.host_adam`: Adam's update of the
    kernel on the host, writing the penalties' next buffers) follows the
    trajectory of XLA's update in the step, loss and penalty logs included,
    under a learning-rate schedule too."""
    rng = np.random.default_rng(0)
    x = rng.random((48, 20, 20), dtype=np.float32)
    y = np.arange(48) % 4
    runs = {}
    for fused in (False, True):
        schedule = keras.optimizers.schedules.CosineDecay(1e-2, 12)
        model = _host_update_model(sharing, sparsity, fused, keras.optimizers.Adam(schedule))
        history = model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
        assert (model._host_adam is not None) == fused
        runs[fused] = (model.get_layer("ctd").kernel.numpy(), history.history,
                       model.optimizer.variables)
    (k0, h0, v0), (k1, h1, v1) = runs[False], runs[True]
    np.testing.assert_allclose(k1, k0, rtol=1e-4, atol=1e-6)
    for a, b in zip(v0, v1):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-4, atol=1e-7)
    assert h1.keys() == h0.keys()
    for key in h0:
        np.testing.assert_allclose(h1[key], h0[key], rtol=1e-4, atol=1e-6)


def test_host_update_sees_writes_to_the_kernel_between_steps(small_sinks):
    """A kernel set between steps (``set_weights``) gets its penalty buffers
    written afresh: the next step's gradient is the one at the new weights."""
    rng = np.random.default_rng(1)
    x = rng.random((8, 20, 20), dtype=np.float32)
    y = np.arange(8) % 4
    kernels = []
    for fused in (False, True):
        model = _host_update_model(OffsetSharing(0.5, (1, 2), form="complete"),
                                   L1Sparsity(1e-3), fused)
        model.train_on_batch(x, y)
        layer = model.get_layer("ctd")
        new = np.random.default_rng(2).standard_normal(layer.kernel.shape).astype("float32")
        model.set_weights([new])
        model.train_on_batch(x, y)
        layer.kernel.assign(layer.kernel.numpy()[..., ::-1].copy())
        model.train_on_batch(x, y)
        kernels.append(layer.kernel.numpy())
    np.testing.assert_allclose(kernels[1], kernels[0], rtol=1e-4, atol=1e-6)


def test_host_update_only_for_a_plain_adam(small_sinks):
    model = _host_update_model(None, None, True, keras.optimizers.Adam(1e-2))
    model.make_train_function()
    assert model._host_adam is not None
    for optimizer in (keras.optimizers.Adam(1e-2, clipnorm=1.0), keras.optimizers.AdamW(1e-2),
                      keras.optimizers.SGD(1e-2), keras.optimizers.Adam(1e-2, amsgrad=True)):
        model = _host_update_model(None, None, True, optimizer)
        model.make_train_function()
        assert model._host_adam is None


_JAX_EVALUATE_SCRIPT = r"""
import numpy as np, keras, jax
from symzoo.layers import ClassTranslationDense
from symzoo.models.symzoo_model import SymzooModel
from symzoo.regularizers import L1Sparsity, OffsetSharing

keras.utils.set_random_seed(5)
i = keras.Input((20, 20))
s = ClassTranslationDense(4, strides=2, sharing=OffsetSharing(0.5, (1, 2), form="complete"),
                          sparsity=L1Sparsity(1e-3), name="ctd")(i)
model = SymzooModel(i, keras.layers.Softmax()(s))
model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy",
              metrics=["accuracy"])
rng = np.random.default_rng(2)
x = rng.random((40, 20, 20), dtype=np.float32); y = np.arange(40) % 4
traces, logs = [], []
for _ in range(2):
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    logs.append(model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True))
    traces.append(model._evaluation.function)
assert traces[0] is traces[1]  # new weights: new values, the same traced step
assert logs[0]["offset_sharing"] != logs[1]["offset_sharing"]
reference = keras.Model.evaluate(model, x, y, batch_size=8, verbose=0, return_dict=True)
assert set(logs[1]) == set(reference), (logs[1], reference)
for key in reference:
    np.testing.assert_allclose(logs[1][key], reference[key], rtol=1e-5, err_msg=key)
assert reference["offset_sharing"] > 0
again = model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)  # after Keras' own
for key in reference:
    np.testing.assert_allclose(again[key], reference[key], rtol=1e-5, err_msg=key)
# The jitted step of `evaluate` holds no shifted copy of the kernel (Keras' does).
state = model._get_jax_state(trainable_variables=True, non_trainable_variables=True,
                             metrics_variables=True)
data = (x[:8], y[:8], None)
ev = model._evaluation
ev.traced = {k: jax.numpy.float32(0) for k in ev.current}
import re
count_abs = lambda jaxpr: len(re.findall(r"= abs ", str(jaxpr)))  # nested jits included
# A new function each time: jax caches the trace of one function object.
ours = count_abs(jax.make_jaxpr(lambda s, d: model.test_step(s, d))(state, data))
ev.traced = None
plain = count_abs(jax.make_jaxpr(lambda s, d: model.test_step(s, d))(state, data))
assert plain >= 2 and ours == 0, (plain, ours)  # |W - SW| per generator, |W|
print("OK", keras.backend.backend())
"""


def test_jax_evaluate_computes_each_penalty_once(run_on_backend):
    """JAX: `SymzooModel.evaluate` passes the penalty values computed once per
    call to its jitted step; logs equal Keras' per-batch evaluation."""
    run_on_backend(_JAX_EVALUATE_SCRIPT, "jax")


def test_evaluate_after_a_host_update_reads_its_buffers(small_sinks, monkeypatch):
    """After the fused host update, `evaluate` takes the penalty values from
    the buffers it wrote (no pass over the kernel), and recomputes them once
    the kernel was set since; both equal Keras' per-batch evaluation."""
    from symzoo.models import symzoo_model

    model = _host_update_model(OffsetSharing(0.5, (1, 2), form="complete"),
                               SigmoidSparsity(1e-3, 10.0), True)
    rng = np.random.default_rng(4)
    x = rng.random((16, 20, 20), dtype=np.float32)
    y = np.arange(16) % 4
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    passes = []
    original = symzoo_model._evaluated_value
    monkeypatch.setattr(symzoo_model, "_evaluated_value",
                        lambda *a: passes.append(a) or original(*a))
    for changed in (False, True):
        if changed:
            layer = model.get_layer("ctd")
            layer.kernel.assign(layer.kernel.numpy() * 1.5)
        fast = model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
        reference = keras.Model.evaluate(model, x, y, batch_size=8, verbose=0,
                                         return_dict=True)
        for key in reference:
            np.testing.assert_allclose(fast[key], reference[key], rtol=1e-5, err_msg=key)
        assert len(passes) == (2 if changed else 0)  # two penalties, once each
