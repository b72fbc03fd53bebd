/* Host passes over a kernel for the penalties' fast paths (see
 * symzoo.regularizers.base.HOST_KERNELS): OffsetSharing's subgradient stencil
 * and value in one threaded pass, L1Sparsity's signs (int8) and Σ|θ|, and
 * SigmoidSparsity's σ(kθ) and Σσ(kθ).
 *
 * Used when it compiled (setup.py builds it as an optional extension; without
 * it the buffers are written by XLA programs and the values reduced in the
 * step, with the same numbers). No numpy headers: arrays come in through the
 * buffer protocol (C-contiguous, checked by the Python wrappers).
 *
 *   offset_stencil(values f32[n], out i8[n], shape, shifts, threads) -> sum
 *   abs_sign(values f32[n], out i8[n], threads) -> Σ|values|
 *       out[i] = sign(values[i]) (−1, 0 or 1; 0 for NaN); float32 lanes, double total
 *   sigmoid_sum(values f32[n], out f32[n], k, threads) -> Σ out
 *       out[i] = σ(k·values[i]) (see sigmoid1); float32 lanes, double total
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
/* AVX-512 and AVX2 + FMA builds of the row loops beside the baseline one, picked
 * at load (here the sigmoid pass took 6 ms with AVX-512 against 13.5 ms with
 * AVX2 alone; the complete stencil 15.6 ms against 18.4 ms). */
#define VECTOR_CLONES __attribute__((target_clones("avx512f", "arch=x86-64-v3", "default")))
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

/* Runs work(&slices[t]) for t < T (slices: an array of T structs of `size`
 * bytes), slices 1.. on their own threads and slice 0 on the caller's; a
 * thread that cannot start has its slice run by the caller. */
static void spread(void *(*work)(void *), void *slices, size_t size, int T) {
    pthread_t ids[MAX_THREADS];
    char *base = (char *)slices;
    int started = 0;
    for (int t = 1; t < T; t++) {
        if (pthread_create(&ids[t], NULL, work, base + (size_t)t * size) != 0) break;
        started++;
    }
    for (int t = started + 1; t < T; t++) work(base + (size_t)t * size);
    work(base);
    for (int t = 1; t <= started; t++) pthread_join(ids[t], NULL);
}

/* Returns the sum of the terms. */
static double run(const stencil_t *st, int threads) {
    int T = threads;
    if (T > MAX_THREADS) T = MAX_THREADS;
    if ((Py_ssize_t)T > st->planes) T = (int)st->planes;
    if (T < 1 || st->planes * st->plane < (1 << 16)) T = 1;
    slice_t slices[MAX_THREADS];
    for (int t = 0; t < T; t++) {
        slices[t].st = st;
        slices[t].lo = st->planes * t / T;
        slices[t].hi = st->planes * (t + 1) / T;
        slices[t].sum = 0.0;
    }
    spread(stencil_slice, slices, sizeof(slice_t), T);
    double sum = 0.0;
    for (int t = 0; t < T; t++) sum += slices[t].sum;
    return sum;
}

/* Elementwise passes: out[i] = f(w[i]) over a slice and the sum of the
 * values written, in LANES float lanes (vectorisable without reassociation
 * flags), flushed into a double every 2^16 values. */
typedef double (*stretch_fn)(const float *restrict w, void *restrict out, Py_ssize_t n, float k);

typedef struct {
    stretch_fn stretch;
    const float *w;
    char *out;
    size_t out_size; /* bytes per output value */
    float k;
    Py_ssize_t lo, hi;
    double sum;
} map_slice_t;

/* Σ x (Σ|x| where `absolute`) in LANES float lanes, summed in double;
 * inlined into each stretch (and its clones) with `absolute` a constant. */
static inline double lanes_sum(const float *restrict x, Py_ssize_t n, int absolute) {
    float lanes[LANES] = {0};
    Py_ssize_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) lanes[j] += absolute ? fabsf(x[i + j]) : x[i + j];
    double sum = 0.0;
    for (; i < n; i++) sum += absolute ? fabsf(x[i]) : x[i];
    for (int j = 0; j < LANES; j++) sum += lanes[j];
    return sum;
}

/* out = sign(w) as int8 (0 for NaN); returns Σ|w|. */
VECTOR_CLONES
static double abs_stretch(const float *restrict w, void *restrict dst, Py_ssize_t n, float k) {
    (void)k;
    int8_t *restrict out = (int8_t *)dst;
    for (Py_ssize_t i = 0; i < n; i++) out[i] = (int8_t)((w[i] > 0.0f) - (w[i] < 0.0f));
    return lanes_sum(w, n, 1);
}

/* σ(x) = 1 / (1 + e^(−x)) in float32 from e = exp(−|x|) ∈ (0, 1] (no overflow):
 * 1 / (1 + e) for x ≥ 0, e / (1 + e) below; exp by 2^n · p(r) with n the nearest
 * integer to −|x|·log2(e) (rounded by the 1.5·2^23 trick), r = −|x| − n·ln 2 in
 * two parts (|r| ≤ ln(2)/2) and p the degree-6 Taylor polynomial (relative error
 * of σ about 1e-6 at most). For |x| ≥ 87, e is taken as 0 (σ = 1 or 0, off by
 * below 1.7e-38); NaN stays NaN. Selects, not branches, so that it vectorises. */
static inline float sigmoid1(float x) {
    float a = fabsf(x);
    float y = a < 87.0f ? -a : -87.0f; /* NaN: −87, replaced below */
    float t = y * 1.44269504088896341f;
    float n = (t + 12582912.0f) - 12582912.0f;
    float r = (y - n * 0.693145751953125f) - n * 1.42860682030941723212e-6f;
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 +
              r * (1.0f / 120 + r * (1.0f / 720))))));
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    float e = a < 87.0f ? p * scale : 0.0f;
    float pos = 1.0f / (1.0f + e);
    float s = x >= 0.0f ? pos : e * pos;
    return x != x ? x : s;
}

/* out = σ(k·w) as float32; returns Σ out. */
VECTOR_CLONES
static double sigmoid_stretch(const float *restrict w, void *restrict dst, Py_ssize_t n, float k) {
    float *restrict out = (float *)dst;
    for (Py_ssize_t i = 0; i < n; i++) out[i] = sigmoid1(k * w[i]);
    return lanes_sum(out, n, 0);
}

static void *map_slice(void *arg) {
    map_slice_t *sl = (map_slice_t *)arg;
    double sum = 0.0;
    for (Py_ssize_t lo = sl->lo; lo < sl->hi; lo += 1 << 16) {
        Py_ssize_t hi = lo + (1 << 16) < sl->hi ? lo + (1 << 16) : sl->hi;
        sum += sl->stretch(sl->w + lo, sl->out + (size_t)lo * sl->out_size, hi - lo, sl->k);
    }
    sl->sum = sum;
    return NULL;
}

static double map_run(stretch_fn stretch, const float *w, char *out, size_t out_size,
                      float k, Py_ssize_t n, int threads) {
    int T = threads > MAX_THREADS ? MAX_THREADS : threads;
    if (T < 1 || n < (1 << 16)) T = 1;
    map_slice_t slices[MAX_THREADS];
    for (int t = 0; t < T; t++) {
        slices[t].stretch = stretch;
        slices[t].w = w;
        slices[t].out = out;
        slices[t].out_size = out_size;
        slices[t].k = k;
        slices[t].lo = n * t / T;
        slices[t].hi = n * (t + 1) / T;
        slices[t].sum = 0.0;
    }
    spread(map_slice, slices, sizeof(map_slice_t), T);
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

/* values (float32), out (out_size bytes a value), threads: the shared checks. */
static PyObject *map_call(stretch_fn stretch, size_t out_size, const char *out_type,
                          PyObject *args, const char *format, float *k) {
    Py_buffer values, out;
    int threads = 1;
    if (k == NULL) {
        if (!PyArg_ParseTuple(args, format, &values, &out, &threads)) return NULL;
    } else if (!PyArg_ParseTuple(args, format, &values, &out, k, &threads)) {
        return NULL;
    }
    PyObject *result = NULL;
    if (values.len % 4 != 0 || (size_t)out.len != (size_t)values.len / 4 * out_size) {
        PyErr_Format(PyExc_ValueError,
                     "Expected `values` to hold float32 values and `out` as many %s "
                     "values. Received: %zd and %zd bytes.", out_type, values.len, out.len);
    } else if (threads < 1) {
        PyErr_Format(PyExc_ValueError,
                     "Expected `threads` to be a positive integer. Received: threads=%d", threads);
    } else {
        double sum;
        float scale = k == NULL ? 0.0f : *k;
        Py_BEGIN_ALLOW_THREADS
        sum = map_run(stretch, (const float *)values.buf, (char *)out.buf, out_size, scale,
                      values.len / 4, threads);
        Py_END_ALLOW_THREADS
        result = PyFloat_FromDouble(sum);
    }
    PyBuffer_Release(&values);
    PyBuffer_Release(&out);
    return result;
}

static PyObject *py_abs_sign(PyObject *self, PyObject *args) {
    (void)self;
    return map_call(abs_stretch, 1, "int8", args, "y*w*|i", NULL);
}

static PyObject *py_sigmoid_sum(PyObject *self, PyObject *args) {
    (void)self;
    float k;
    return map_call(sigmoid_stretch, 4, "float32", args, "y*w*f|i", &k);
}

static PyMethodDef methods[] = {
    {"offset_stencil", py_offset_stencil, METH_VARARGS,
     "offset_stencil(values, out, shape, shifts, threads) -> sum of |W − S_g W|."},
    {"abs_sign", py_abs_sign, METH_VARARGS,
     "abs_sign(values, out, threads) -> sum of |values|; out = sign(values) as int8."},
    {"sigmoid_sum", py_sigmoid_sum, METH_VARARGS,
     "sigmoid_sum(values, out, k, threads) -> sum of out; out = sigmoid(k * values) as float32."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_penalty_kernels",
    "Host passes over a kernel for the penalties' fast paths (see _penalty_kernels.c).",
    -1, methods,
};

PyMODINIT_FUNC PyInit__penalty_kernels(void) { return PyModule_Create(&module); }
