"""ClassTranslationDense: one full-image template per class and translation."""

import math

import keras
from keras import ops

from symzoo import _validation
from symzoo.layers.base import PenalizedLayer


@keras.saving.register_keras_serializable(package="symzoo")
class ClassTranslationDense(PenalizedLayer):
    """Class scores as the mean over translations of activated dense responses.

    The layer holds, for each class k and each translation (i, j) on a grid of
    stride s, a full-image weight W[k, i, j] of the input's shape. It is an
    ordinary fully-connected layer: nothing ties W[k, i, j] to W[k, i', j']
    except the `sharing` penalty, which is how translation symmetry is
    *discovered* rather than built in.

        score[n, k] = mean_{i, j} act( Σ_{m, p} W[k, i, j, m, p] · x[n, m, p] )

    For 1D inputs drop j and p. The scores are returned before any softmax.

    Args:
        num_classes: C, the number of classes (> 0).
        strides: s, or (s, s') for 2D inputs: there are d/s (and d'/s')
            translations per class. d must be divisible by s.
        activation: the activation `act` (a Keras activation name or callable).
            Default ``"elu"`` (the report's best on Blob1D).
        sharing: optional parameter-sharing penalty on the kernel, typically
            `symzoo.regularizers.OffsetSharing((b, b'))`.
        sparsity: optional sparsity penalty on the kernel.
        kernel_initializer: initializer of W. Default: truncated normal with
            standard deviation 1/sqrt(d·d') (LeCun over the inner product).
        penalty_mode: ``"gradient"`` (default) or ``"add_loss"``: how the
            penalties reach training (same gradients); see `PenalizedLayer`.

    Mixed precision: under a ``mixed_bfloat16`` dtype policy the kernel
    variable stays float32 (the penalties are computed on it in float32), the
    product ``x · W`` runs in bfloat16 and the activation, the mean and the
    returned scores are float32.

    Input shape:
        (N, d) or (N, d, d').
    Output shape:
        (N, C).
    Kernel shape:
        (C, d/s, d) for 1D inputs, (C, d/s, d'/s', d, d') for 2D inputs.
    """

    #: The symmetry this layer can discover (`symzoo.symmetry.groups.GROUPS`).
    symmetry_kind = "translation"

    def __init__(
        self,
        num_classes,
        strides=1,
        activation="elu",
        sharing=None,
        sparsity=None,
        kernel_initializer=None,
        penalty_mode="gradient",
        **kwargs,
    ):
        super().__init__(
            sharing=sharing, sparsity=sparsity, penalty_mode=penalty_mode, **kwargs
        )
        self.num_classes = _validation.positive_int("num_classes", num_classes)
        if isinstance(strides, int) and not isinstance(strides, bool):
            strides = (strides,)
        self.strides = _validation.int_tuple("strides", strides)
        if len(self.strides) not in (1, 2) or min(self.strides) <= 0:
            raise ValueError(
                "Expected `strides` to be a positive integer or a tuple of one or two "
                f"positive integers. Received: strides={strides!r}"
            )
        self.activation = keras.activations.get(activation)
        self.kernel_initializer = (
            keras.initializers.get(kernel_initializer)
            if kernel_initializer is not None
            else None
        )
        self.input_spec = keras.layers.InputSpec(min_ndim=2, max_ndim=3)

    def _grid(self, spatial):
        strides = self.strides
        if len(strides) == 1:
            strides = strides * len(spatial)
        if len(strides) != len(spatial):
            raise ValueError(
                f"Expected `strides` to have {len(spatial)} entries for inputs with "
                f"spatial shape {spatial}. Received: strides={self.strides}"
            )
        for d, s in zip(spatial, strides):
            if d % s:
                raise ValueError(
                    f"Expected every input size to be divisible by its stride. "
                    f"Received: input size {d} with strides={self.strides} "
                    f"(input spatial shape {spatial})"
                )
        return tuple(d // s for d, s in zip(spatial, strides))

    def build(self, input_shape):
        spatial = tuple(input_shape[1:])
        if len(spatial) not in (1, 2) or any(d is None for d in spatial):
            raise ValueError(
                "Expected inputs of shape (N, d) or (N, d, d') with known d, d'. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        translations = self._grid(spatial)
        shape = (self.num_classes, *translations, *spatial)
        self._validate_penalties(shape)
        initializer = self.kernel_initializer or keras.initializers.TruncatedNormal(
            stddev=1.0 / math.sqrt(math.prod(spatial))
        )
        self.kernel = self.add_weight(
            name="kernel",
            shape=shape,
            initializer=initializer,
            trainable=True,
            constraint=self.kernel_constraint(),
        )
        self._spatial = spatial
        self._translations = translations
        self.input_spec = keras.layers.InputSpec(
            ndim=len(input_shape), axes={i + 1: d for i, d in enumerate(spatial)}
        )

    @property
    def num_translations(self):
        return math.prod(self._translations)

    def call(self, inputs, training=None):
        kernel = self._penalized_kernel(training)
        features = math.prod(self._spatial)
        x = ops.reshape(inputs, (-1, features))
        w = ops.reshape(kernel, (self.num_classes * self.num_translations, features))
        w = _cast_for_compute(w, self.compute_dtype)
        z = _matmul_transposed(ops.cast(x, w.dtype), w)
        # Activation and mean over translations in float32 (also under mixed
        # precision: the scores feed a softmax).
        z = ops.cast(z, "float32")
        z = ops.reshape(self.activation(z), (-1, self.num_classes, self.num_translations))
        return ops.mean(z, axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "strides": list(self.strides),
            "activation": keras.activations.serialize(self.activation),
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)
            if self.kernel_initializer is not None
            else None,
            **self.penalty_config(),
        }


def _matmul_transposed(x, w):
    """``x · wᵀ`` (``einsum("nf,tf->nt")``). On TensorFlow one ``tf.matmul``
    with ``transpose_b``: Keras' einsum writes ``wᵀ`` out first (and its
    gradient transposes the kernel gradient back), which XLA folds into the
    GEMM but a step compiled without XLA (the ``mixed_bfloat16`` step, whose
    bf16 GEMMs run in oneDNN) pays as two copies of the kernel."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.matmul(x, w, transpose_b=True)
    return ops.einsum("nf,tf->nt", x, w)


def _cast_for_compute(w, dtype):
    """``ops.cast(w, dtype)``; on TensorFlow, under mixed precision, its
    gradient is left in the compute dtype (bf16) for the float32 kernel: the
    values are the same (bf16 -> float32 is exact), and the optimizer's update,
    which casts the gradient to the kernel's dtype anyway, does it inside its
    fused XLA program instead of as a pass of its own over the kernel."""
    if keras.backend.backend() != "tensorflow" or keras.backend.standardize_dtype(
            w.dtype) == keras.backend.standardize_dtype(dtype):
        return ops.cast(w, dtype)
    import tensorflow as tf

    @tf.custom_gradient
    def cast(w):
        return tf.cast(w, dtype), lambda g: g

    return cast(w)
