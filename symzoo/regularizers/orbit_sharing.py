"""Squared distance to the translation-invariant kernels, trained by its exact prox."""

import keras
from keras import ops

from symzoo import _validation
from symzoo.regularizers.base import Penalty
from symzoo.symmetry.projection import translation_geometry


def _align_mean(x, translation_axis, pixel_axis, size):
    """``mean_i roll(x[..., i, ...], −i, pixel axis)``: templates moved back by
    their translation and averaged (the translation axis is removed)."""
    total = None
    for i in range(size):
        part = ops.take(x, i, axis=translation_axis)
        if i:
            part = ops.roll(part, shift=-i, axis=pixel_axis - 1)
        total = part if total is None else ops.add(total, part)
    return ops.divide(total, float(size))


def _spread(x, pixel_axis, size, translation_axis):
    """``stack_i roll(x, i, pixel axis)`` at ``translation_axis``."""
    parts = [ops.roll(x, shift=i, axis=pixel_axis) if i else x for i in range(size)]
    return ops.stack(parts, axis=translation_axis)


def translation_average(kernel):
    """The Reynolds projection P W of a `ClassTranslationDense` kernel (keras.ops).

    For a kernel of shape (C, T, d) or (C, T, T', d, d') with strides
    s = d / T (and s' = d' / T'), P averages every template over the whole
    group of cyclic translations by multiples of the strides:

        (P W)[k, i, j] = roll(K[k], (s·i, s'·j)),
        K[k] = mean_{i, j} roll(W[k, i, j], (−s·i, −s'·j)),

    so P W is the nearest kernel (in ‖·‖₂) that is exactly a cyclic
    convolution with one template per class. It equals
    `symzoo.symmetry.projection.project_translation` (tested), but is written
    with ``keras.ops`` (slices, rolls and stacks, compiled with the step on
    every backend): the pixel axis of size s·T is viewed as (T, s), so that
    moving by s·i pixels is a roll by i of the T axis.
    """
    shape = tuple(int(s) for s in kernel.shape)
    classes, translations, _, strides = translation_geometry(shape)
    half = len(translations)
    # (C, T.., T, s, T', s') : pixel axis a becomes (T_a, s_a).
    split = (classes, *translations)
    for t, s in zip(translations, strides):
        split += (t, s)
    x = ops.reshape(kernel, split)
    # Average over each translation axis in turn (the first translation axis
    # is always axis 1 once the previous ones are removed); pixel axis a sits
    # at 1 + half + 2a before the removal.
    for a, t in enumerate(translations):
        pixel_axis = 1 + (half - a) + 2 * a
        x = _align_mean(x, 1, pixel_axis, t)
    # x: (C, T, s, T', s'); spread back, one translation axis at a time.
    for a, t in enumerate(translations):
        pixel_axis = 1 + a + 2 * a
        x = _spread(x, pixel_axis, t, 1 + a)
    return ops.reshape(x, shape)


@keras.saving.register_keras_serializable(package="symzoo")
class OrbitSharing(Penalty):
    """λ/2 · ‖W − P W‖²: how far a translation kernel is from a convolution.

    P is the Reynolds projection onto the kernels that are invariant under
    the *complete* group G of cyclic translations by multiples of the
    strides (`translation_average`), so

        ½ ‖W − P W‖² = 1/(4|G|) · Σ_{g ∈ G} ‖W − g·W‖²,

    the mean squared difference between each template and all its
    translates: the complete-group sharing penalty in squared form. Like
    `OffsetSharing(form="complete")` it is told the group (the strides), and
    at λ → ∞ the kernel is exactly a convolution; unlike the L1 offset
    penalty it has an exact, cheap proximal operator,

        prox_τ(W) = P W + (W − P W) / (1 + τ),

    which pulls all templates of a class towards their common average at
    once instead of along chains of neighbours.

    Training (``prox=True``, the default): after every optimizer step the
    kernel becomes ``prox_τ(kernel)`` with τ = current learning rate × λ
    (decoupled from the optimizer's gradient, as AdamW decouples weight
    decay: Adam's per-weight normalisation never sees the penalty, so a
    large λ ties the templates without drowning the data gradient). The
    step runs as the kernel variable's constraint, which Keras applies
    after each optimizer update inside the compiled step (TensorFlow, JAX
    and torch); the learning rate is read from the optimizer that
    `symzoo.models.SymzooModel` binds to the layer before training
    (`PenalizedLayer.bind_optimizer`). The loss logs
    the penalty's value without gradient. With ``prox=False`` the gradient
    λ (W − P W) is added like any other penalty's.

    Reduction: ``"sum"`` (default; the formula above, so τ = lr·λ is a pure
    number: 1 halves the distance to the convolutions in a step) or
    ``"mean"`` (divided by the number of weights).

    Args:
        lam: λ ≥ 0.
        reduction: ``"sum"`` or ``"mean"``.
        prox: True (default: decoupled exact proximal steps) or False
            (gradient).

    Kernel shapes: (C, T, d) or (C, T, T', d, d') with d = s·T, d' = s'·T'
    (a `ClassTranslationDense` kernel).
    """

    name = "orbit_sharing"
    default_reduction = "sum"
    _strength_arg = "lam"

    def __init__(self, lam, reduction=None, prox=True):
        super().__init__(lam, reduction)
        self.prox = _validation.boolean("prox", prox)

    @property
    def lam(self):
        return self.strength

    def validate(self, kernel_shape):
        try:
            translation_geometry(kernel_shape)
        except ValueError as error:
            raise ValueError(f"{error} (for OrbitSharing)") from None

    def terms(self, kernel):
        self.validate(kernel.shape)
        diff = ops.subtract(kernel, translation_average(kernel))
        return ops.multiply(0.5, ops.sum(ops.square(diff))), self.num_terms(kernel.shape)

    def __call__(self, kernel):
        value = super().__call__(kernel)
        return ops.stop_gradient(value) if self.prox else value

    def term_gradient(self, kernel):
        self.validate(kernel.shape)
        return ops.subtract(kernel, translation_average(kernel))

    def gradient(self, kernel):
        """λ (W − P W); zero with ``prox=True``, whose proximal steps replace it."""
        if self.prox:
            return ops.zeros_like(kernel)
        return super().gradient(kernel)

    def prox_step(self, kernel, learning_rate):
        """``prox_τ(kernel)`` with τ = learning_rate × λ (per the reduction)."""
        tau = ops.multiply(
            ops.cast(learning_rate, kernel.dtype), self.factor(kernel.shape)
        )
        average = translation_average(kernel)
        return ops.add(
            average, ops.divide(ops.subtract(kernel, average), ops.add(1.0, tau))
        )

    def get_config(self):
        return {**super().get_config(), "prox": self.prox}
