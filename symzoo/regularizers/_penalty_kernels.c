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

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define HAVE_AVX2_STRETCH 1

/* stretch (below) with AVX2 intrinsics, 32 values a round: the four
 * comparisons' masks (−1 where true) combined in int32 lanes, then packed to
 * int8 once (GCC's own vectorisation of the C loop narrowed each comparison to
 * bytes separately, about three times the instructions); the sum in two
 * 8-lane float accumulators. The same numbers as the C loop (a NaN compares
 * false, so it gets 0), the sum up to the order of its float additions. */
__attribute__((target("avx2")))
static double stretch_avx2(const float *restrict w, const float *restrict f,
                           const float *restrict b, int8_t *restrict out, Py_ssize_t n,
                           int first) {
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    Py_ssize_t k = 0;
    for (; k + 32 <= n; k += 32) {
        __m256i v[4];
        for (int q = 0; q < 4; q++) {
            const __m256 wq = _mm256_loadu_ps(w + k + 8 * q), fq = _mm256_loadu_ps(f + k + 8 * q),
                         bq = _mm256_loadu_ps(b + k + 8 * q);
            const __m256i gt1 = _mm256_castps_si256(_mm256_cmp_ps(wq, fq, _CMP_GT_OQ));
            const __m256i lt1 = _mm256_castps_si256(_mm256_cmp_ps(wq, fq, _CMP_LT_OQ));
            const __m256i gt2 = _mm256_castps_si256(_mm256_cmp_ps(bq, wq, _CMP_GT_OQ));
            const __m256i lt2 = _mm256_castps_si256(_mm256_cmp_ps(bq, wq, _CMP_LT_OQ));
            /* masks are −1: sign(w − f) − sign(b − w) = (lt1 − gt1) − (lt2 − gt2) */
            v[q] = _mm256_sub_epi32(_mm256_sub_epi32(lt1, gt1), _mm256_sub_epi32(lt2, gt2));
            const __m256 d = _mm256_and_ps(_mm256_sub_ps(wq, fq), absmask);
            if (q & 1)
                acc1 = _mm256_add_ps(acc1, d);
            else
                acc0 = _mm256_add_ps(acc0, d);
        }
        __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(v[0], v[1]),
                                       _mm256_packs_epi32(v[2], v[3]));
        p = _mm256_permutevar8x32_epi32(p, order);
        if (!first) p = _mm256_add_epi8(p, _mm256_loadu_si256((const __m256i *)(out + k)));
        _mm256_storeu_si256((__m256i *)(out + k), p);
    }
    double sum = 0.0;
    for (; k < n; k++) {
        const int v = ((w[k] > f[k]) - (w[k] < f[k])) - ((b[k] > w[k]) - (b[k] < w[k]));
        out[k] = (int8_t)(first ? v : out[k] + v);
        sum += fabsf(w[k] - f[k]);
    }
    float lanes[16];
    _mm256_storeu_ps(lanes, acc0);
    _mm256_storeu_ps(lanes + 8, acc1);
    for (int j = 0; j < 16; j++) sum += lanes[j];
    return sum;
}

static int avx2_stretch_ok = -1; /* −1: not asked yet */
#endif

/* out (+)= sign(w − f) − sign(b − w) over n values; returns Σ|w − f|
 * (summed in LANES float lanes: vectorisable without reassociation flags). */
VECTOR_CLONES
static double stretch_c(const float *restrict w, const float *restrict f,
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

static double stretch(const float *w, const float *f, const float *b, int8_t *out,
                      Py_ssize_t n, int first) {
#ifdef HAVE_AVX2_STRETCH
    if (avx2_stretch_ok < 0) avx2_stretch_ok = __builtin_cpu_supports("avx2") ? 1 : 0;
    if (avx2_stretch_ok) return stretch_avx2(w, f, b, out, n, first);
#endif
    return stretch_c(w, f, b, out, n, first);
}

static inline int sign_of(float a, float b) { return (a > b) - (a < b); }

#define FIX_ROWS 512
#define FIX_COLUMNS 16

/* plane_terms' corrections of the wrapped columns, column by column over all
 * rows at once: the few values each needs (one column of A or B, rows rotated;
 * one column of w) are first copied out into short contiguous arrays, so the
 * corrections vectorise (row by row they cost more than the rest of the plane).
 * For M ≤ FIX_ROWS, sn ≤ FIX_COLUMNS; returns the correction of Σ|w − ahead|. */
VECTOR_CLONES
static double fix_columns(const float *restrict w, const float *restrict A,
                          const float *restrict B, int8_t *restrict out, Py_ssize_t M,
                          Py_ssize_t N, Py_ssize_t sm, Py_ssize_t sn) {
    float col[2 * FIX_ROWS], cw[FIX_ROWS], lanes[8] = {0};
    int32_t d[FIX_ROWS]; /* int32, not int8: 8 lanes a vector, so M rows leave no long tail */
    for (Py_ssize_t j = 0; j < sn; j++) {
        /* Ahead side, column n = N − sn + j: the flat rotation read row
         * (m + sm + 1) mod M of A at column j where row (m + sm) mod M is right. */
        for (Py_ssize_t q = 0; q < M; q++) col[q] = col[q + M] = A[q * N + j];
        for (Py_ssize_t m = 0; m < M; m++) cw[m] = w[m * N + N - sn + j];
        const float *restrict right = col + sm, *restrict wrong = col + sm + 1;
        for (Py_ssize_t m = 0; m < M; m++)
            d[m] = ((cw[m] > right[m]) - (cw[m] < right[m])) -
                   ((cw[m] > wrong[m]) - (cw[m] < wrong[m]));
        Py_ssize_t m = 0;
        for (; m + 8 <= M; m += 8)
            for (int k = 0; k < 8; k++)
                lanes[k] += fabsf(cw[m + k] - right[m + k]) - fabsf(cw[m + k] - wrong[m + k]);
        for (; m < M; m++) lanes[0] += fabsf(cw[m] - right[m]) - fabsf(cw[m] - wrong[m]);
        for (m = 0; m < M; m++) out[m * N + N - sn + j] = (int8_t)(out[m * N + N - sn + j] + d[m]);
        /* Behind side, column n = j: it read row (m − sm − 1) mod M of B at
         * column N − sn + j where row (m − sm) mod M is right. */
        for (Py_ssize_t q = 0; q < M; q++) col[q] = col[q + M] = B[q * N + N - sn + j];
        for (m = 0; m < M; m++) cw[m] = w[m * N + j];
        const float *restrict bright = col + M - sm, *restrict bwrong = col + M - sm - 1;
        for (m = 0; m < M; m++)
            d[m] = ((bwrong[m] > cw[m]) - (bwrong[m] < cw[m])) -
                   ((bright[m] > cw[m]) - (bright[m] < cw[m]));
        for (m = 0; m < M; m++) out[m * N + j] = (int8_t)(out[m * N + j] + d[m]);
    }
    double sum = 0.0;
    for (int k = 0; k < 8; k++) sum += lanes[k];
    return sum;
}

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
    if (M <= FIX_ROWS && sn <= FIX_COLUMNS) return sum + fix_columns(w, A, B, out, M, N, sm, sn);
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

/* The multi-index over the outer axes (all but the last two) of plane `plane`. */
static void plane_index(const stencil_t *st, Py_ssize_t plane, Py_ssize_t *idx) {
    const int outer = st->rank >= 2 ? st->rank - 2 : 0;
    for (int a = outer - 1; a >= 0; a--) {
        idx[a] = plane % st->shape[a];
        plane /= st->shape[a];
    }
}

/* The stencil of plane `plane` (last two axes, M × N; M = 1 for a rank-1
 * array), whose outer multi-index is idx: writes its `out` and returns its
 * Σ_g Σ|w − ahead_g|. */
static double one_plane(const stencil_t *st, Py_ssize_t plane, const Py_ssize_t *idx) {
    const int R = st->rank, G = st->generators, outer = R >= 2 ? R - 2 : 0;
    const Py_ssize_t N = st->shape[R - 1], M = R >= 2 ? st->shape[R - 2] : 1, P = M * N;
    const float *w = st->w + plane * P;
    int8_t *out = st->out + plane * P;
    double sum = 0.0;
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
    return sum;
}

/* The planes lo..hi−1. */
static void *stencil_slice(void *arg) {
    slice_t *sl = (slice_t *)arg;
    Py_ssize_t idx[MAX_RANK];
    double sum = 0.0;
    for (Py_ssize_t plane = sl->lo; plane < sl->hi; plane++) {
        plane_index(sl->st, plane, idx);
        sum += one_plane(sl->st, plane, idx);
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

/* Adam's update of a kernel on the host, fused with the penalty buffers'
 * writes for the next step (see fused_adam below). */
#define CHUNK 1024

typedef struct {
    float *w, *m, *v;
    const float *g;
    float alpha, c1, c2, eps; /* c1 = 1 − β1, c2 = 1 − β2 */
    int8_t *term;             /* OffsetSharing's int8 term gradient (in and out), or NULL */
    float term_coef;
    int8_t *sign;             /* L1Sparsity's int8 sign(θ) (in and out), or NULL */
    float sign_coef;
    float *sig;               /* SigmoidSparsity's σ(kθ) (in and out), or NULL */
    float sig_coef, k;
    stencil_t st;             /* the stencil's shape and shifts (st.w = w, st.out = term) */
    Py_ssize_t planes, plane;
    const Py_ssize_t *need_lo, *need_hi; /* per plane: the planes its stencil reads */
} fused_t;

typedef struct {
    const fused_t *f;
    Py_ssize_t lo, hi;        /* planes updated (phase 1) */
    const Py_ssize_t *start, *order; /* phase 1: order[start[p − lo] .. start[p − lo + 1])
                                        get their stencil after plane p (NULL: none) */
    const Py_ssize_t *late;   /* phase 2: planes late[0..late_n) get their stencil */
    Py_ssize_t late_n;
    int phase;
    double term_sum, abs_sum, sig_sum;
} fused_slice_t;

/* Values lo..lo+n−1 (n ≤ CHUNK): the gradient with the penalties' terms read
 * from their buffers, Adam's update, then the elementwise buffers from the
 * new weights. The same expressions, in the same order, as Keras' Adam after
 * the step's `grad + penalty_gradient` (symzoo.layers.base). */
VECTOR_CLONES
static void adam_chunk(const fused_t *restrict f, Py_ssize_t lo, Py_ssize_t n,
                       double *restrict abs_sum, double *restrict sig_sum) {
    float *restrict w = f->w + lo, *restrict m = f->m + lo, *restrict v = f->v + lo;
    const float *restrict g = f->g + lo;
    float gt[CHUNK], pg[CHUNK];
    const int any = f->term != NULL || f->sign != NULL || f->sig != NULL;
    if (any) {
        for (Py_ssize_t i = 0; i < n; i++) pg[i] = 0.0f;
        int first = 1;
        if (f->term != NULL) {
            const int8_t *restrict t = f->term + lo;
            const float c = f->term_coef;
            for (Py_ssize_t i = 0; i < n; i++) pg[i] = (float)t[i] * c;
            first = 0;
        }
        if (f->sign != NULL) {
            const int8_t *restrict t = f->sign + lo;
            const float c = f->sign_coef;
            if (first)
                for (Py_ssize_t i = 0; i < n; i++) pg[i] = (float)t[i] * c;
            else
                for (Py_ssize_t i = 0; i < n; i++) pg[i] = pg[i] + (float)t[i] * c;
            first = 0;
        }
        if (f->sig != NULL) {
            const float *restrict s = f->sig + lo;
            const float c = f->sig_coef, k = f->k;
            if (first)
                for (Py_ssize_t i = 0; i < n; i++) pg[i] = ((k * s[i]) * (1.0f - s[i])) * c;
            else
                for (Py_ssize_t i = 0; i < n; i++)
                    pg[i] = pg[i] + ((k * s[i]) * (1.0f - s[i])) * c;
        }
        for (Py_ssize_t i = 0; i < n; i++) gt[i] = g[i] + pg[i];
    } else {
        for (Py_ssize_t i = 0; i < n; i++) gt[i] = g[i];
    }
    const float alpha = f->alpha, c1 = f->c1, c2 = f->c2, eps = f->eps;
    for (Py_ssize_t i = 0; i < n; i++) {
        const float mi = m[i] + (gt[i] - m[i]) * c1;
        const float vi = v[i] + (gt[i] * gt[i] - v[i]) * c2;
        m[i] = mi;
        v[i] = vi;
        w[i] = w[i] - (mi * alpha) / (sqrtf(vi) + eps);
    }
    if (f->sign != NULL) {
        int8_t *restrict t = f->sign + lo;
        for (Py_ssize_t i = 0; i < n; i++) t[i] = (int8_t)((w[i] > 0.0f) - (w[i] < 0.0f));
        *abs_sum += lanes_sum(w, n, 1);
    }
    if (f->sig != NULL) {
        float *restrict s = f->sig + lo;
        const float k = f->k;
        for (Py_ssize_t i = 0; i < n; i++) s[i] = sigmoid1(k * w[i]);
        *sig_sum += lanes_sum(s, n, 0);
    }
}

/* Phase 1: planes lo..hi−1 in order, each updated (adam_chunk) and then the
 * stencil of every plane whose reads lie in lo..hi−1 and were all updated
 * (its last read plane is the one just updated: the planes it reads are still
 * in cache). Phase 2: the stencils of the planes left over (their reads cross
 * a slice boundary, or wrap around). */
static void *fused_slice(void *arg) {
    fused_slice_t *sl = (fused_slice_t *)arg;
    const fused_t *f = sl->f;
    Py_ssize_t idx[MAX_RANK];
    double term_sum = 0.0, abs_sum = 0.0, sig_sum = 0.0;
    if (sl->phase == 2) {
        for (Py_ssize_t j = 0; j < sl->late_n; j++) {
            plane_index(&f->st, sl->late[j], idx);
            term_sum += one_plane(&f->st, sl->late[j], idx);
        }
        sl->term_sum = term_sum;
        return NULL;
    }
    const Py_ssize_t lo = sl->lo, hi = sl->hi;
    const Py_ssize_t *start = sl->start, *order = sl->order;
    for (Py_ssize_t p = lo; p < hi; p++) {
        const Py_ssize_t base = p * f->plane;
        for (Py_ssize_t c = 0; c < f->plane; c += CHUNK)
            adam_chunk(f, base + c, f->plane - c < CHUNK ? f->plane - c : CHUNK,
                       &abs_sum, &sig_sum);
        if (start != NULL)
            for (Py_ssize_t j = start[p - lo]; j < start[p - lo + 1]; j++) {
                plane_index(&f->st, order[j], idx);
                term_sum += one_plane(&f->st, order[j], idx);
            }
    }
    sl->term_sum = term_sum;
    sl->abs_sum = abs_sum;
    sl->sig_sum = sig_sum;
    return NULL;
}

/* Runs the fused update on T threads; sums[0..2] = the stencil's term sum,
 * Σ|w| and Σσ(kw) of the new weights. Returns −1 if out of memory. */
static int fused_run(fused_t *f, int threads, double *sums) {
    int T = threads > MAX_THREADS ? MAX_THREADS : threads;
    if ((Py_ssize_t)T > f->planes) T = (int)f->planes;
    if (T < 1 || f->planes * f->plane < (1 << 16)) T = 1;
    Py_ssize_t *need = NULL, *late = NULL, *order = NULL, late_n = 0;
    fused_slice_t slices[MAX_THREADS];
    for (int t = 0; t < T; t++) {
        memset(&slices[t], 0, sizeof(slices[t]));
        slices[t].f = f;
        slices[t].lo = f->planes * t / T;
        slices[t].hi = f->planes * (t + 1) / T;
        slices[t].phase = 1;
    }
    if (f->term != NULL) {
        need = (Py_ssize_t *)malloc((size_t)f->planes * 2 * sizeof(Py_ssize_t));
        late = (Py_ssize_t *)malloc((size_t)f->planes * sizeof(Py_ssize_t));
        order = (Py_ssize_t *)malloc(((size_t)f->planes * 2 + (size_t)T) * sizeof(Py_ssize_t));
        if (need == NULL || late == NULL || order == NULL) {
            free(need);
            free(late);
            free(order);
            return -1;
        }
        const int outer = f->st.rank >= 2 ? f->st.rank - 2 : 0;
        Py_ssize_t idx[MAX_RANK];
        for (Py_ssize_t q = 0; q < f->planes; q++) {
            plane_index(&f->st, q, idx);
            Py_ssize_t lo = q, hi = q;
            for (int g = 0; g < f->st.generators; g++) {
                Py_ssize_t fwd = 0, back = 0;
                for (int a = 0; a < outer; a++) {
                    Py_ssize_t n = f->st.shape[a], s = f->st.shift[g][a];
                    Py_ssize_t i = idx[a] + s, j = idx[a] - s;
                    if (i >= n) i -= n;
                    if (j < 0) j += n;
                    fwd += i * f->st.stride[a];
                    back += j * f->st.stride[a];
                }
                fwd /= f->plane;
                back /= f->plane;
                if (fwd < lo) lo = fwd;
                if (back < lo) lo = back;
                if (fwd > hi) hi = fwd;
                if (back > hi) hi = back;
            }
            need[q] = lo;
            need[f->planes + q] = hi;
        }
        f->need_lo = need;
        f->need_hi = need + f->planes;
        /* Per slice, a counting sort of its own planes by their last read plane. */
        Py_ssize_t *start = order + f->planes;
        for (int t = 0; t < T; t++) {
            const Py_ssize_t lo = slices[t].lo, hi = slices[t].hi, span = hi - lo;
            Py_ssize_t *st = start + lo + t; /* span + 1 entries */
            memset(st, 0, (size_t)(span + 1) * sizeof(Py_ssize_t));
            for (Py_ssize_t q = lo; q < hi; q++) {
                if (f->need_lo[q] < lo || f->need_hi[q] >= hi)
                    late[late_n++] = q;
                else
                    st[f->need_hi[q] - lo + 1]++;
            }
            for (Py_ssize_t p = 0; p < span; p++) st[p + 1] += st[p];
            for (Py_ssize_t q = lo; q < hi; q++) /* st[p] counts up to st[p + 1] */
                if (f->need_lo[q] >= lo && f->need_hi[q] < hi)
                    order[lo + st[f->need_hi[q] - lo]++] = q;
            for (Py_ssize_t p = span; p > 0; p--) st[p] = st[p - 1]; /* back to starts */
            st[0] = 0;
            for (Py_ssize_t p = 0; p <= span; p++) st[p] += lo; /* indices into order */
            slices[t].start = st;
            slices[t].order = order;
        }
    }
    spread(fused_slice, slices, sizeof(fused_slice_t), T);
    sums[0] = sums[1] = sums[2] = 0.0;
    for (int t = 0; t < T; t++) {
        sums[0] += slices[t].term_sum;
        sums[1] += slices[t].abs_sum;
        sums[2] += slices[t].sig_sum;
    }
    if (late_n > 0) {
        int T2 = (Py_ssize_t)T > late_n ? (int)late_n : T;
        for (int t = 0; t < T2; t++) {
            memset(&slices[t], 0, sizeof(slices[t]));
            slices[t].f = f;
            slices[t].phase = 2;
            slices[t].late = late + late_n * t / T2;
            slices[t].late_n = late_n * (t + 1) / T2 - late_n * t / T2;
        }
        spread(fused_slice, slices, sizeof(fused_slice_t), T2);
        for (int t = 0; t < T2; t++) sums[0] += slices[t].term_sum;
    }
    free(need);
    free(late);
    free(order);
    return 0;
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

/* st's rank, shape and strides from the sequence `shape`; returns the number
 * of values, or −1 with a ValueError set. */
static Py_ssize_t read_shape(PyObject *shape, stencil_t *st) {
    Py_ssize_t rank = PySequence_Size(shape);
    if (rank < 1 || rank > MAX_RANK) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError,
                     "Expected `shape` to have 1 to %d axes. Received: %zd.", MAX_RANK, rank);
        return -1;
    }
    st->rank = (int)rank;
    if (read_sizes(shape, "shape", st->shape, rank) < 0) return -1;
    Py_ssize_t n = 1;
    for (int a = (int)rank - 1; a >= 0; a--) {
        if (st->shape[a] < 1) {
            PyErr_Format(PyExc_ValueError,
                         "Expected `shape` to be positive. Received: axis %d of size %zd.",
                         a, st->shape[a]);
            return -1;
        }
        st->stride[a] = n;
        n *= st->shape[a];
    }
    return n;
}

/* st's generators from the sequence `shifts` (each reduced into [0, shape));
 * returns 0, or −1 with a ValueError set. */
static int read_shifts(PyObject *shifts, stencil_t *st) {
    Py_ssize_t G = PySequence_Size(shifts);
    if (G < 0 || G > MAX_GENERATORS) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError,
                     "Expected `shifts` to list at most %d generators. Received: %zd.",
                     MAX_GENERATORS, G);
        return -1;
    }
    st->generators = (int)G;
    for (Py_ssize_t g = 0; g < G; g++) {
        PyObject *item = PySequence_GetItem(shifts, g);
        if (item == NULL) return -1;
        int bad = read_sizes(item, "shifts[g]", st->shift[g], st->rank);
        Py_DECREF(item);
        if (bad < 0) return -1;
        for (int a = 0; a < st->rank; a++) {
            Py_ssize_t v = st->shift[g][a] % st->shape[a];
            st->shift[g][a] = v < 0 ? v + st->shape[a] : v;
        }
    }
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
    const Py_ssize_t n = read_shape(shape, &st);
    if (n < 0) goto done;
    const Py_ssize_t rank = st.rank;
    if (values.len != n * 4 || out.len != n) {
        PyErr_Format(PyExc_ValueError,
                     "Expected `values` to hold %zd float32 values and `out` %zd int8 "
                     "values. Received: %zd and %zd bytes.", n, n, values.len, out.len);
        goto done;
    }
    if (read_shifts(shifts, &st) < 0) goto done;
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

/* fused_adam(w, m, v, g, shape, (alpha, c1, c2, eps), term, sign, sig, threads)
 *     -> (term sum, Σ|w|, Σσ(kw)) of the new weights
 * term: None or (int8 buffer, coefficient, shifts); sign: None or (int8 buffer,
 * coefficient); sig: None or (float32 buffer, coefficient, k). */
static PyObject *py_fused_adam(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer w, m, v, g, tb, sb, gb;
    PyObject *shape, *term, *sign, *sig;
    float hyper[4];
    int threads = 1;
    if (!PyArg_ParseTuple(args, "w*w*w*y*O(ffff)OOO|i", &w, &m, &v, &g, &shape, &hyper[0],
                          &hyper[1], &hyper[2], &hyper[3], &term, &sign, &sig, &threads))
        return NULL;
    int have_t = 0, have_s = 0, have_g = 0;
    PyObject *result = NULL, *shifts = NULL;
    fused_t f;
    memset(&f, 0, sizeof(f));
    if (term != Py_None) {
        if (!PyArg_ParseTuple(term, "w*fO", &tb, &f.term_coef, &shifts)) goto done;
        have_t = 1;
    }
    if (sign != Py_None) {
        if (!PyArg_ParseTuple(sign, "w*f", &sb, &f.sign_coef)) goto done;
        have_s = 1;
    }
    if (sig != Py_None) {
        if (!PyArg_ParseTuple(sig, "w*ff", &gb, &f.sig_coef, &f.k)) goto done;
        have_g = 1;
    }
    const Py_ssize_t n = read_shape(shape, &f.st);
    if (n < 0) goto done;
    const Py_ssize_t rank = f.st.rank;
    if (w.len != n * 4 || m.len != n * 4 || v.len != n * 4 || g.len != n * 4 ||
        (have_t && tb.len != n) || (have_s && sb.len != n) || (have_g && gb.len != n * 4)) {
        PyErr_Format(PyExc_ValueError,
                     "Expected `w`, `m`, `v`, `g` (and a sigmoid buffer) to hold %zd float32 "
                     "values and the int8 buffers %zd values. Received: w of %zd bytes.",
                     n, n, w.len);
        goto done;
    }
    if (threads < 1) {
        PyErr_Format(PyExc_ValueError,
                     "Expected `threads` to be a positive integer. Received: threads=%d", threads);
        goto done;
    }
    if (have_t) {
        if (read_shifts(shifts, &f.st) < 0) goto done;
        f.term = (int8_t *)tb.buf;
    }
    f.w = (float *)w.buf;
    f.m = (float *)m.buf;
    f.v = (float *)v.buf;
    f.g = (const float *)g.buf;
    f.alpha = hyper[0];
    f.c1 = hyper[1];
    f.c2 = hyper[2];
    f.eps = hyper[3];
    if (have_s) f.sign = (int8_t *)sb.buf;
    if (have_g) f.sig = (float *)gb.buf;
    f.st.w = f.w;
    f.st.out = f.term;
    f.plane = rank >= 2 ? f.st.shape[rank - 1] * f.st.shape[rank - 2] : f.st.shape[0];
    f.st.plane = f.plane;
    f.planes = f.st.planes = n / f.plane;
    double sums[3];
    int status;
    Py_BEGIN_ALLOW_THREADS
    status = fused_run(&f, threads, sums);
    Py_END_ALLOW_THREADS
    if (status < 0) {
        PyErr_NoMemory();
        goto done;
    }
    result = Py_BuildValue("(ddd)", sums[0], sums[1], sums[2]);
done:
    PyBuffer_Release(&w);
    PyBuffer_Release(&m);
    PyBuffer_Release(&v);
    PyBuffer_Release(&g);
    if (have_t) PyBuffer_Release(&tb);
    if (have_s) PyBuffer_Release(&sb);
    if (have_g) PyBuffer_Release(&gb);
    return result;
}

/* use_avx2(flag) -> whether the AVX2 stencil loop was on: switches it (off: the
 * C loop and its compiler clones, for the tests that compare both); on by
 * default where the CPU has AVX2. None where it was not built in. */
static PyObject *py_use_avx2(PyObject *self, PyObject *args) {
    (void)self;
    int flag;
    if (!PyArg_ParseTuple(args, "p", &flag)) return NULL;
#ifdef HAVE_AVX2_STRETCH
    if (avx2_stretch_ok < 0) avx2_stretch_ok = __builtin_cpu_supports("avx2") ? 1 : 0;
    int was = avx2_stretch_ok;
    avx2_stretch_ok = flag && __builtin_cpu_supports("avx2");
    return PyBool_FromLong(was);
#else
    (void)flag;
    Py_RETURN_NONE;
#endif
}

static PyMethodDef methods[] = {
    {"use_avx2", py_use_avx2, METH_VARARGS,
     "use_avx2(flag) -> whether the AVX2 stencil loop was on; switches it (for tests)."},
    {"offset_stencil", py_offset_stencil, METH_VARARGS,
     "offset_stencil(values, out, shape, shifts, threads) -> sum of |W − S_g W|."},
    {"abs_sign", py_abs_sign, METH_VARARGS,
     "abs_sign(values, out, threads) -> sum of |values|; out = sign(values) as int8."},
    {"sigmoid_sum", py_sigmoid_sum, METH_VARARGS,
     "sigmoid_sum(values, out, k, threads) -> sum of out; out = sigmoid(k * values) as float32."},
    {"fused_adam", py_fused_adam, METH_VARARGS,
     "fused_adam(w, m, v, g, shape, (alpha, c1, c2, eps), term, sign, sig, threads) -> "
     "(term sum, sum |w|, sum sigmoid(k w)); Adam's update with the penalty buffers."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_penalty_kernels",
    "Host passes over a kernel for the penalties' fast paths (see _penalty_kernels.c).",
    -1, methods,
};

PyMODINIT_FUNC PyInit__penalty_kernels(void) { return PyModule_Create(&module); }
