/* Host passes over a kernel for the penalties' fast paths (see
 * symzoo.regularizers.base.HOST_KERNELS): OffsetSharing's subgradient stencil
 * and value in one threaded pass, and L1Sparsity's signs (int8) and Σ|θ|.
 *
 * Used when it compiled (setup.py builds it as an optional extension; without
 * it the buffers are written by XLA programs and the values reduced in the
 * step, with the same numbers). No numpy headers: arrays come in through the
 * buffer protocol (C-contiguous, checked by the Python wrappers).
 *
 *   offset_stencil(values f32[n], out i8[n], shape, shifts, threads) -> sum
 *   abs_sign(values f32[n], out i8[n], threads) -> Σ|values|
 *       out[i] = sign(values[i]) (−1, 0 or 1; 0 for NaN); float32 lanes, double total
 *
 * For each generator g (a tuple of one cyclic shift per axis, `shifts[g]`),
 * with ahead_g[i] = W[(i + s_g) mod shape] and behind_g[i] = W[(i − s_g) mod
 * shape] (per axis):
 *
 *   out[i] = Σ_g sign(W[i] − ahead_g[i]) − sign(behind_g[i] − W[i])
 *   sum    = Σ_g Σ_i |W[i] − ahead_g[i]|     (float32 differences, double sum)
 *
 * i.e. the term gradient of Σ_g Σ|W − S_g W| (an integer in [−2G, 2G]) and the
 * sum of its terms. sign(a − b) is computed as (a > b) − (a < b), which is
 * the same number for finite floats (a − b is 0 only when a == b); a NaN
 * weight gets 0 in `out` and makes `sum` NaN.
 *
 * Rows (all axes but the last) are split over `threads` POSIX threads; each
 * row reads its own row of W and, per generator, the shifted row ahead and
 * behind (rotated into a small buffer by the last axis' shift), so W is read
 * from memory about once. The GIL is released meanwhile.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RANK 8
#define MAX_GENERATORS 8
#define MAX_THREADS 64
#define LANES 16

typedef struct {
    const float *w;
    int8_t *out;
    int rank;
    int generators;
    Py_ssize_t shape[MAX_RANK];
    Py_ssize_t stride[MAX_RANK];
    Py_ssize_t shift[MAX_GENERATORS][MAX_RANK]; /* in [0, shape) */
    Py_ssize_t planes, plane; /* number of planes (last two axes), values per plane */
} stencil_t;

typedef struct {
    const stencil_t *st;
    Py_ssize_t lo, hi;
    double sum;
} slice_t;

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
/* An AVX2 build of the row loops beside the baseline one, picked at load. */
#define VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define VECTOR_CLONES
#endif

/* out (+)= sign(w − f) − sign(b − w) over n values; returns Σ|w − f|
 * (summed in LANES float lanes: vectorisable without reassociation flags). */
VECTOR_CLONES
static double stretch(const float *restrict w, const float *restrict f,
                      const float *restrict b, int8_t *restrict out, Py_ssize_t n,
                      int first) {
    if (first) {
        for (Py_ssize_t k = 0; k < n; k++)
            out[k] = (int8_t)(((w[k] > f[k]) - (w[k] < f[k])) - ((b[k] > w[k]) - (b[k] < w[k])));
    } else {
        for (Py_ssize_t k = 0; k < n; k++)
            out[k] = (int8_t)(out[k] + ((w[k] > f[k]) - (w[k] < f[k]))
                              - ((b[k] > w[k]) - (b[k] < w[k])));
    }
    float lanes[LANES] = {0};
    Py_ssize_t k = 0;
    for (; k + LANES <= n; k += LANES)
        for (int j = 0; j < LANES; j++) lanes[j] += fabsf(w[k + j] - f[k + j]);
    double sum = 0.0;
    for (; k < n; k++) sum += fabsf(w[k] - f[k]);
    for (int j = 0; j < LANES; j++) sum += lanes[j];
    return sum;
}

static inline int sign_of(float a, float b) { return (a > b) - (a < b); }

/* One plane w (M × N) against its ahead plane A and behind plane B, to be
 * read as A[((m + sm) mod M)·N + (n + sn) mod N] and B[((m − sm) mod M)·N +
 * (n − sn) mod N]. Read instead as the flat rotations A[(p + r) mod P] and
 * B[(p − r) mod P] (r = sm·N + sn): contiguous in at most three stretches,
 * no copy, and right except in the last sn columns of each row for A and the
 * first sn for B (they come from the next / previous row), which are then
 * corrected. Returns the plane's Σ|w − ahead|. */
static double plane_terms(const float *w, const float *A, const float *B, int8_t *out,
                          Py_ssize_t M, Py_ssize_t N, Py_ssize_t sm, Py_ssize_t sn,
                          int first) {
    const Py_ssize_t P = M * N, r = sm * N + sn;
    Py_ssize_t cut[4] = {0, r < P - r ? r : P - r, r < P - r ? P - r : r, P};
    double sum = 0.0;
    for (int c = 0; c < 3; c++) {
        Py_ssize_t lo = cut[c], hi = cut[c + 1];
        if (hi <= lo) continue;
        Py_ssize_t fa = lo + r < P ? r : r - P; /* ahead[p] = A[p + fa] */
        Py_ssize_t fb = lo >= r ? -r : P - r;   /* behind[p] = B[p + fb] */
        sum += stretch(w + lo, A + lo + fa, B + lo + fb, out + lo, hi - lo, first);
    }
    if (sn == 0) return sum;
    for (Py_ssize_t m = 0; m < M; m++) {
        const float *wr = w + m * N;
        int8_t *o = out + m * N;
        const Py_ssize_t ma = m + sm < M ? m + sm : m + sm - M, mb = m >= sm ? m - sm : m - sm + M;
        const float *ra = A + ma * N; /* the right ahead row */
        const float *rb = B + mb * N; /* the right behind row */
        for (Py_ssize_t n = N - sn; n < N; n++) {
            const Py_ssize_t q = m * N + n + r;
            const float wrong = A[q < P ? q : q - P], right = ra[n + sn - N];
            o[n] = (int8_t)(o[n] - sign_of(wr[n], wrong) + sign_of(wr[n], right));
            sum += (double)fabsf(wr[n] - right) - (double)fabsf(wr[n] - wrong);
        }
        for (Py_ssize_t n = 0; n < sn; n++) {
            const Py_ssize_t q = m * N + n - r;
            const float wrong = B[q >= 0 ? q : q + P], right = rb[n - sn + N];
            o[n] = (int8_t)(o[n] + sign_of(wrong, wr[n]) - sign_of(right, wr[n]));
        }
    }
    return sum;
}

/* The planes (last two axes, M × N; M = 1 for a rank-1 array) lo..hi−1. */
static void *stencil_slice(void *arg) {
    slice_t *sl = (slice_t *)arg;
    const stencil_t *st = sl->st;
    const int R = st->rank, G = st->generators, outer = R >= 2 ? R - 2 : 0;
    const Py_ssize_t N = st->shape[R - 1], M = R >= 2 ? st->shape[R - 2] : 1, P = M * N;
    Py_ssize_t idx[MAX_RANK];
    Py_ssize_t r = sl->lo;
    for (int a = outer - 1; a >= 0; a--) {
        idx[a] = r % st->shape[a];
        r /= st->shape[a];
    }
    double sum = 0.0;
    for (Py_ssize_t plane = sl->lo; plane < sl->hi; plane++) {
        const float *w = st->w + plane * P;
        int8_t *out = st->out + plane * P;
        if (G == 0) memset(out, 0, (size_t)P);
        for (int g = 0; g < G; g++) {
            const Py_ssize_t *s = st->shift[g];
            Py_ssize_t fwd = 0, back = 0;
            for (int a = 0; a < outer; a++) {
                Py_ssize_t n = st->shape[a];
                Py_ssize_t i = idx[a] + s[a], j = idx[a] - s[a];
                if (i >= n) i -= n;
                if (j < 0) j += n;
                fwd += i * st->stride[a];
                back += j * st->stride[a];
            }
            sum += plane_terms(w, st->w + fwd, st->w + back, out, M, N,
                               R >= 2 ? s[R - 2] : 0, s[R - 1], g == 0);
        }
        for (int a = outer - 1; a >= 0; a--) { /* next plane's index */
            if (++idx[a] < st->shape[a]) break;
            idx[a] = 0;
        }
    }
    sl->sum = sum;
    return NULL;
}

/* Returns the sum of the terms. */
static double run(const stencil_t *st, int threads) {
    int T = threads;
    if (T > MAX_THREADS) T = MAX_THREADS;
    if ((Py_ssize_t)T > st->planes) T = (int)st->planes;
    if (T < 1 || st->planes * st->plane < (1 << 16)) T = 1;
    slice_t slices[MAX_THREADS];
    pthread_t ids[MAX_THREADS];
    int started = 0;
    for (int t = 0; t < T; t++) {
        slices[t].st = st;
        slices[t].lo = st->planes * t / T;
        slices[t].hi = st->planes * (t + 1) / T;
        slices[t].sum = 0.0;
    }
    for (int t = 1; t < T; t++) {
        if (pthread_create(&ids[t], NULL, stencil_slice, &slices[t]) != 0) break;
        started++;
    }
    for (int t = started + 1; t < T; t++) stencil_slice(&slices[t]);
    stencil_slice(&slices[0]);
    for (int t = 1; t <= started; t++) pthread_join(ids[t], NULL);
    double sum = 0.0;
    for (int t = 0; t < T; t++) {
        sum += slices[t].sum;
    }
    return sum;
}

/* sign(w) into out and Σ|w| over a slice, in LANES float lanes
 * (vectorisable without reassociation flags), flushed into a double every
 * 2^16 values. */
typedef struct {
    const float *w;
    int8_t *out;
    Py_ssize_t lo, hi;
    double sum;
} abs_slice_t;

VECTOR_CLONES
static double abs_stretch(const float *restrict w, int8_t *restrict out, Py_ssize_t n) {
    for (Py_ssize_t k = 0; k < n; k++) out[k] = (int8_t)((w[k] > 0.0f) - (w[k] < 0.0f));
    float lanes[LANES] = {0};
    Py_ssize_t k = 0;
    for (; k + LANES <= n; k += LANES)
        for (int j = 0; j < LANES; j++) lanes[j] += fabsf(w[k + j]);
    double sum = 0.0;
    for (; k < n; k++) sum += fabsf(w[k]);
    for (int j = 0; j < LANES; j++) sum += lanes[j];
    return sum;
}

static void *abs_slice(void *arg) {
    abs_slice_t *sl = (abs_slice_t *)arg;
    double sum = 0.0;
    for (Py_ssize_t lo = sl->lo; lo < sl->hi; lo += 1 << 16) {
        Py_ssize_t hi = lo + (1 << 16) < sl->hi ? lo + (1 << 16) : sl->hi;
        sum += abs_stretch(sl->w + lo, sl->out + lo, hi - lo);
    }
    sl->sum = sum;
    return NULL;
}

static double abs_run(const float *w, int8_t *out, Py_ssize_t n, int threads) {
    int T = threads > MAX_THREADS ? MAX_THREADS : threads;
    if (T < 1 || n < (1 << 16)) T = 1;
    abs_slice_t slices[MAX_THREADS];
    pthread_t ids[MAX_THREADS];
    int started = 0;
    for (int t = 0; t < T; t++) {
        slices[t].w = w;
        slices[t].out = out;
        slices[t].lo = n * t / T;
        slices[t].hi = n * (t + 1) / T;
        slices[t].sum = 0.0;
    }
    for (int t = 1; t < T; t++) {
        if (pthread_create(&ids[t], NULL, abs_slice, &slices[t]) != 0) break;
        started++;
    }
    for (int t = started + 1; t < T; t++) abs_slice(&slices[t]);
    abs_slice(&slices[0]);
    for (int t = 1; t <= started; t++) pthread_join(ids[t], NULL);
    double sum = 0.0;
    for (int t = 0; t < T; t++) sum += slices[t].sum;
    return sum;
}

static int read_sizes(PyObject *seq, const char *name, Py_ssize_t *dst, Py_ssize_t count) {
    PyObject *fast = PySequence_Fast(seq, "");
    if (fast == NULL || PySequence_Fast_GET_SIZE(fast) != count) {
        Py_XDECREF(fast);
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError,
                     "Expected `%s` to be a sequence of %zd integers.", name, count);
        return -1;
    }
    for (Py_ssize_t a = 0; a < count; a++) {
        dst[a] = PyLong_AsSsize_t(PySequence_Fast_GET_ITEM(fast, a));
        if (dst[a] == -1 && PyErr_Occurred()) {
            Py_DECREF(fast);
            PyErr_Clear();
            PyErr_Format(PyExc_ValueError,
                         "Expected `%s` to be a sequence of %zd integers.", name, count);
            return -1;
        }
    }
    Py_DECREF(fast);
    return 0;
}

static PyObject *py_offset_stencil(PyObject *self, PyObject *args) {
    Py_buffer values, out;
    PyObject *shape, *shifts;
    int threads = 1;
    if (!PyArg_ParseTuple(args, "y*w*OO|i", &values, &out, &shape, &shifts, &threads))
        return NULL;
    PyObject *result = NULL;
    stencil_t st;
    memset(&st, 0, sizeof(st));
    Py_ssize_t rank = PySequence_Size(shape);
    if (rank < 1 || rank > MAX_RANK) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError,
                     "Expected `shape` to have 1 to %d axes. Received: %zd.", MAX_RANK, rank);
        goto done;
    }
    st.rank = (int)rank;
    if (read_sizes(shape, "shape", st.shape, rank) < 0) goto done;
    Py_ssize_t n = 1;
    for (int a = (int)rank - 1; a >= 0; a--) {
        if (st.shape[a] < 1) {
            PyErr_Format(PyExc_ValueError,
                         "Expected `shape` to be positive. Received: axis %d of size %zd.",
                         a, st.shape[a]);
            goto done;
        }
        st.stride[a] = n;
        n *= st.shape[a];
    }
    if (values.len != n * 4 || out.len != n) {
        PyErr_Format(PyExc_ValueError,
                     "Expected `values` to hold %zd float32 values and `out` %zd int8 "
                     "values. Received: %zd and %zd bytes.", n, n, values.len, out.len);
        goto done;
    }
    Py_ssize_t G = PySequence_Size(shifts);
    if (G < 0 || G > MAX_GENERATORS) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError,
                     "Expected `shifts` to list at most %d generators. Received: %zd.",
                     MAX_GENERATORS, G);
        goto done;
    }
    st.generators = (int)G;
    for (Py_ssize_t g = 0; g < G; g++) {
        PyObject *item = PySequence_GetItem(shifts, g);
        if (item == NULL) goto done;
        int bad = read_sizes(item, "shifts[g]", st.shift[g], rank);
        Py_DECREF(item);
        if (bad < 0) goto done;
        for (int a = 0; a < rank; a++) {
            Py_ssize_t s = st.shift[g][a] % st.shape[a];
            st.shift[g][a] = s < 0 ? s + st.shape[a] : s;
        }
    }
    if (threads < 1) {
        PyErr_Format(PyExc_ValueError,
                     "Expected `threads` to be a positive integer. Received: threads=%d", threads);
        goto done;
    }
    st.w = (const float *)values.buf;
    st.out = (int8_t *)out.buf;
    st.plane = rank >= 2 ? st.shape[rank - 1] * st.shape[rank - 2] : st.shape[0];
    st.planes = n / st.plane;
    double sum;
    Py_BEGIN_ALLOW_THREADS
    sum = run(&st, threads);
    Py_END_ALLOW_THREADS
    result = PyFloat_FromDouble(sum);
done:
    PyBuffer_Release(&values);
    PyBuffer_Release(&out);
    return result;
}

static PyObject *py_abs_sign(PyObject *self, PyObject *args) {
    Py_buffer values, out;
    int threads = 1;
    if (!PyArg_ParseTuple(args, "y*w*|i", &values, &out, &threads)) return NULL;
    PyObject *result = NULL;
    if (values.len % 4 != 0 || out.len != values.len / 4) {
        PyErr_Format(PyExc_ValueError,
                     "Expected `values` to hold float32 values and `out` as many int8 "
                     "values. Received: %zd and %zd bytes.", values.len, out.len);
    } else if (threads < 1) {
        PyErr_Format(PyExc_ValueError,
                     "Expected `threads` to be a positive integer. Received: threads=%d", threads);
    } else {
        double sum;
        const float *w = (const float *)values.buf;
        Py_ssize_t n = values.len / 4;
        Py_BEGIN_ALLOW_THREADS
        sum = abs_run(w, (int8_t *)out.buf, n, threads);
        Py_END_ALLOW_THREADS
        result = PyFloat_FromDouble(sum);
    }
    PyBuffer_Release(&values);
    PyBuffer_Release(&out);
    return result;
}

static PyMethodDef methods[] = {
    {"offset_stencil", py_offset_stencil, METH_VARARGS,
     "offset_stencil(values, out, shape, shifts, threads) -> sum of |W − S_g W|."},
    {"abs_sign", py_abs_sign, METH_VARARGS,
     "abs_sign(values, out, threads) -> sum of |values|; out = sign(values) as int8."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_penalty_kernels",
    "Host passes over a kernel for the penalties' fast paths (see _penalty_kernels.c).",
    -1, methods,
};

PyMODINIT_FUNC PyInit__penalty_kernels(void) { return PyModule_Create(&module); }
