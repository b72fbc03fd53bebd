"""The report's offset parameter-sharing penalty, and its complete-group form."""

import keras
import numpy as np
from keras import ops

from symzoo import _validation
from symzoo.regularizers import base
from symzoo.regularizers._sorting import radix_threads
from symzoo.regularizers.base import Penalty


def cyclic_shift(x, moves):
    """``roll(x, shift, axis)`` for ``moves = [(axis, shift), ...]``.

    ``out[..., i, ...] = x[..., (i − shift) mod n, ...]`` on each listed axis,
    written as one ``keras.ops.take`` per axis with a constant index vector
    ``(arange(n) − shift) mod n``. XLA (TensorFlow and JAX) fuses such small
    constant gathers into the loop that consumes them, so the shifted kernel is
    read in place and never materialised; ``keras.ops.roll`` lowers to a
    concatenation that XLA writes out in full (twice the kernel's bytes per
    roll on TensorFlow), which made the penalty cost more than the GEMMs of a
    step (`benchmarks/mnist_translation_speed.py`).
    """
    for axis, shift in moves:
        size = int(x.shape[axis])
        shift %= size
        if shift:
            index = np.asarray((np.arange(size) - shift) % size, dtype="int32")
            x = ops.take(x, index, axis=axis)
    return x


@keras.saving.register_keras_serializable(package="symzoo")
class OffsetSharing(Penalty):
    """Pulls each weight towards its copy shifted by the offsets (b, b').

    For a `ClassTranslationDense` kernel of shape (C, T, T', d, d'):

        λ · Σ_{k,i,j,m,n} |W[k,i,j,m,n] − W[k, i+b, j+b, m+b', n+b']|

    with all indices cyclic (modulo T, T', d, d'). For a 1D kernel (C, T, d) the
    offsets act on (i, m) only: λ · Σ |W[k,i,m] − W[k,i+b,m+b']|. The
    translation axes are shifted by ``b`` and the pixel axes by ``b'``. With
    stride s, ``b' = s·b`` ties weight i to the template of translation i+b
    moved by exactly that translation (a true convolution), the report's
    choices (16, 4), (8, 4), (16, 2) do not; (0, 0) is no penalty at all.

    Forms (``form=``):

    * ``"diagonal"`` (default, the report's): one generator that shifts *every*
      translation axis by b and every pixel axis by b' at once (above). On a
      2D kernel it ties templates only along the diagonal chains
      (i, j) → (i+b, j+b): at λ → ∞ the kernel is invariant under that cyclic
      subgroup, not under all 2D translations.
    * ``"complete"``: one generator per axis, each shifting one translation
      axis and its own pixel axis,

          λ · Σ_a Σ |W − roll(W, (−b, −b') on (translation axis a, pixel axis a))|

      i.e. for a 2D kernel
      Σ |W[k,i,j,m,n] − W[k,i+b,j,m+b',n]| + Σ |W[k,i,j,m,n] − W[k,i,j+b,m,n+b']|.
      With (b, b') = (1, s) these are the generators of the whole 2D
      translation group, so at λ → ∞ the kernel is exactly a (cyclic)
      convolution: W[k,i,j,m,n] = K[k, m − s·i, n − s·j]. For a 1D kernel the
      two forms are the same penalty.

    Reduction (the report does not state one): ``"mean"`` (default) divides the
    sum by the number of weights; ``"sum"`` is the report's Σ taken literally.
    On the 24.6M-weight MNIST kernel a sum-reduced λ=1e-4 with Adam pulls every
    weight by ~λ per step, far more than the data gradient, and drives the model
    to chance (17.5% test accuracy after 2 epochs on 6k digits, against 40.6%
    without the penalty; `benchmarks/penalty_reduction.py` re-runs this); a
    mean-reduced λ=1e-4 is indistinguishable from no penalty. We chose "mean"
    because it keeps λ comparable across kernel sizes and never destroys
    training; the sharing strength that reproduces the report's gains is a
    tuning question (``symzoo tune mnist_translation``), see the MNIST card.

    Args:
        lam: λ ≥ 0.
        offsets: ``(b, b')``: the shift of the translation axes and of the pixel
            axes. Each must satisfy 0 ≤ b < T and 0 ≤ b' < d (checked when the
            layer is built).
        reduction: ``"mean"`` or ``"sum"``. ``"mean"`` divides by the number of
            terms: the number of weights for ``"diagonal"``, the number of
            weights times the number of generators (2 for a 2D kernel) for
            ``"complete"``, so that at the same λ each weight is pulled with
            the same strength in both forms.
        form: ``"diagonal"`` (default) or ``"complete"``.
    """

    name = "offset_sharing"
    forms = ("diagonal", "complete")
    #: Fast path (TensorFlow, JAX): before each step the C stencil
    #: (`write_host_buffer`) writes the int8 term gradient and the term sum, or
    #: without the extension an XLA program writes the float32 gradient, whose
    #: ⟨W, gradient⟩ the step logs (= the penalty: Σ|W − SW| is homogeneous of
    #: degree 1).
    buffer_gradient = True
    default_reduction = "mean"
    _strength_arg = "lam"

    def __init__(self, lam, offsets=(1, 1), reduction=None, form="diagonal"):
        super().__init__(lam, reduction)
        self.form = _validation.one_of("form", form, self.forms)
        self.offsets = _validation.int_tuple("offsets", offsets, length=2)
        if min(self.offsets) < 0:
            raise ValueError(
                "Expected `offsets` to be non-negative integers (b, b'). "
                f"Received: offsets={offsets!r}"
            )

    @property
    def lam(self):
        return self.strength

    def validate(self, kernel_shape):
        kernel_shape = tuple(kernel_shape)
        if len(kernel_shape) not in (3, 5):
            raise ValueError(
                "Expected a ClassTranslationDense kernel of rank 3 (C, T, d) or 5 "
                f"(C, T, T', d, d') for OffsetSharing. Received: kernel shape "
                f"{kernel_shape}"
            )
        b, bp = self.offsets
        half = (len(kernel_shape) - 1) // 2
        translations, pixels = kernel_shape[1 : 1 + half], kernel_shape[1 + half :]
        if any(b >= t for t in translations):
            raise ValueError(
                f"Expected offsets[0] (b) to be in [0, {min(translations)}) for a "
                f"kernel with {translations} translations. Received: "
                f"offsets={self.offsets}"
            )
        if any(bp >= d for d in pixels):
            raise ValueError(
                f"Expected offsets[1] (b') to be in [0, {min(pixels)}) for a kernel "
                f"over inputs of size {pixels}. Received: offsets={self.offsets}"
            )

    def generators(self, rank):
        """The cyclic shifts the kernel is tied along: ``[[(axis, shift), ...], ...]``.

        One list per generator; `shifted` applies one of them. ``(axis,
        shift)`` pairs with a zero shift are left out.
        """
        half = (rank - 1) // 2
        b, bp = self.offsets
        if self.form == "diagonal" or half == 1:
            groups = [[(1 + a, -b) for a in range(half)] + [(1 + half + a, -bp) for a in range(half)]]
        else:
            groups = [[(1 + a, -b), (1 + half + a, -bp)] for a in range(half)]
        return [[(axis, s) for axis, s in g if s != 0] for g in groups]

    def shifted(self, kernel, generator=0):
        """The tensor the kernel is tied to by generator `generator` (cyclic).

        For the diagonal form (one generator): W[k, i+b, ..., m+b', ...].
        """
        moves = self.generators(len(kernel.shape))[generator]
        if not moves:
            return kernel
        return cyclic_shift(kernel, moves)

    def num_terms(self, kernel_shape):
        return super().num_terms(kernel_shape) * len(self.generators(len(kernel_shape)))

    def term_gradient(self, kernel):
        """``Σ_g sign(W − S_g W) − sign(S_g⁻¹ W − W)`` for the generators S_g.

        The derivative of Σ|W − S W| is ``s − S⁻¹ s`` with ``s = sign(W − S W)``;
        since ``S⁻¹ s = sign(S⁻¹ W − W)`` elementwise (the same two weights are
        subtracted), it is written as a stencil on W alone, bit for bit the same
        numbers: each output weight reads W at itself and at its two shifted
        positions, one elementwise expression with no sign tensor. On
        TensorFlow and JAX it is written into a buffer by a program of its own
        (`symzoo.layers.PenalizedLayer.prepare_gradient_buffers`,
        `symzoo.models.SymzooModel`), where XLA fuses the shifted reads into
        that one write;
        `benchmarks/mnist_translation_speed.py` times the training step with it.
        """
        self.validate(kernel.shape)
        grad = None
        for moves in self.generators(len(kernel.shape)):
            if not moves:
                continue
            ahead = cyclic_shift(kernel, moves)
            behind = cyclic_shift(kernel, [(a, -s) for a, s in moves])
            part = ops.subtract(ops.sign(ops.subtract(kernel, ahead)),
                                ops.sign(ops.subtract(behind, kernel)))
            grad = part if grad is None else ops.add(grad, part)
        return ops.zeros_like(kernel) if grad is None else grad

    #: The fast path's host buffer (`write_host_buffer`): the int8 term gradient.
    host_buffer_dtype = "int8"

    def host_buffer_applies(self, kernel_shape, dtype):
        """Whether the fast path's buffer is written on the host by the C
        stencil (`write_host_buffer`; `symzoo.regularizers.base.host_kernels_apply`)."""
        return base.host_kernels_apply(kernel_shape, dtype)

    def write_host_buffer(self, kernel, out):
        """Writes `term_gradient` of the C-contiguous float32 array `kernel`
        into the int8 array `out` and returns the sum of the terms
        Σ_g Σ|W − S_g W| (a float), in one threaded pass over the kernel
        (``_penalty_kernels.c``; `symzoo.regularizers._sorting.radix_threads`
        threads). The term gradient is an integer in [−2G, 2G] for G
        generators, so int8 holds it exactly: the step reads a quarter of the
        bytes of a float32 buffer, and the value needs no reduction in the step
        (XLA's CPU reductions write their product out first: 20–40 ms on the
        24.6M-weight MNIST-56 kernel, more than the stencil). The step reads
        both through `Penalty.gradient_from_buffer` and `value_from_buffer`."""
        self.validate(kernel.shape)
        return base.HOST_KERNELS.offset_stencil(
            kernel, out, tuple(int(d) for d in kernel.shape), self.host_shifts(len(kernel.shape)),
            radix_threads())

    def host_shifts(self, rank):
        """The generators as the C stencil takes them: per generator the
        per-axis shift of the position its ahead term reads
        (``ahead[i] = W[i + shift]``, cyclic)."""
        shifts = []
        for moves in self.generators(rank):
            if moves:
                ahead = [0] * rank
                for axis, shift in moves:  # ahead[i] = W[i − shift] (cyclic_shift)
                    ahead[axis] = -shift
                shifts.append(tuple(ahead))
        return shifts

    def terms(self, kernel):
        self.validate(kernel.shape)
        count = 1
        for s in kernel.shape:
            count *= int(s)
        generators = self.generators(len(kernel.shape))
        total = None
        for g in range(len(generators)):
            part = ops.sum(ops.abs(ops.subtract(kernel, self.shifted(kernel, g))))
            total = part if total is None else ops.add(total, part)
        return total, count * len(generators)

    def get_config(self):
        return {**super().get_config(), "offsets": list(self.offsets), "form": self.form}
