/* Stable LSD radix sort of float32 values with their indices, and the two
 * things the all-pairs penalty needs from it, fused into the sort's last pass.
 *
 * Used by symzoo.regularizers._sorting when it compiled (setup.py builds it as
 * an optional extension; without it the numpy paths run, with the same
 * results). No numpy headers: arrays come in through the buffer protocol
 * (C-contiguous, checked by the Python wrappers).
 *
 *   sort_with_order(values f32[n], sorted f32[n], order i64[n])
 *   rank_coefficients(values f32[n], out f32[n], scale)
 *       out[j] = f32(2·rank_j − (n − 1)) · f32(scale)  (times only if scale != 1)
 *   pairwise_prox(values f32[n], out f32[n], tau) -> number of groups
 *       the exact prox of tau · Σ_{j<k} |x_j − x_k|: sort, shift
 *       z_i = v_(i) − tau·(2i − n + 1) (double), pool adjacent violators
 *       (double block sums), write each block's mean back to its weights.
 *
 * Order: the float32 bits mapped to an order-preserving uint32 (flip all bits
 * of negatives, set the sign bit of the rest: -0.0 sorts just below +0.0),
 * ties by index (LSD radix sort is stable). Three passes of 11 bits (2048
 * buckets); a pass whose digit is the same for every value is skipped. The
 * GIL is released while sorting.
 *
 * Scatters go through software write-combining: each thread gathers the
 * pairs bound for a bucket in one cache line of its own and writes the line
 * out whole with non-temporal stores (a plain scatter reads every
 * destination line before writing it: on 24.6M pairs, 110-130 ms a pass on
 * one thread of a 2-core Xeon, 70-85 ms so; and 2048 plain write streams
 * thrash, which made four passes of 8 bits the faster choice before). The
 * ranks' last pass does not scatter each coefficient to its weight (a random
 * 4-byte write per weight, a cache miss each: 250-350 ms of the 930 ms sort on
 * one thread there); it buckets (rank, index) pairs by the index's top bits,
 * 256 buckets, then each bucket writes its window of the output (512 KB for
 * 24.6M weights: in cache). 24.6M weights, 2 threads: 516 ms -> 271 ms.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pthread.h>
#include <stdint.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <stdlib.h>
#include <string.h>

#define RADIX_BITS 11
#define BUCKETS (1 << RADIX_BITS)

static inline uint32_t float_key(uint32_t bits) {
    uint32_t mask = (uint32_t)(-(int32_t)(bits >> 31)) | 0x80000000u;
    return bits ^ mask;
}

static inline float key_float(uint32_t key) {
    uint32_t mask = (key >> 31) ? 0x80000000u : 0xFFFFFFFFu;
    uint32_t bits = key ^ mask;
    float out;
    memcpy(&out, &bits, sizeof(out));
    return out;
}

static inline uint32_t radix_digit(uint32_t key, int pass) {
    return (key >> (pass * RADIX_BITS)) & (BUCKETS - 1);
}

#define PASSES ((32 + RADIX_BITS - 1) / RADIX_BITS)
#define MAX_THREADS 16
#define INDEX_BUCKETS 256 /* the ranks' last pass: windows of the output */
enum emit_mode { EMIT_PAIRS, EMIT_SORTED, EMIT_RANKS };

/* A thread's write-combining lines: the pairs bound for bucket d gather in
 * lines[d] (slot = destination position mod 8) until the line is full; the
 * pair buffers are 64-byte aligned, so a full line goes out in one piece.
 * start[d]: where this thread's run of bucket d begins; the lines it shares
 * with the thread before or after it are written with plain stores. */
typedef struct {
    uint64_t lines[BUCKETS][8] __attribute__((aligned(64)));
    size_t start[BUCKETS];
} combine_t;

static inline void stream_line(uint64_t *dst, const uint64_t *line) {
#if defined(__SSE2__)
    const __m128i *q = (const __m128i *)line;
    _mm_stream_si128((__m128i *)dst, q[0]);
    _mm_stream_si128((__m128i *)dst + 1, q[1]);
    _mm_stream_si128((__m128i *)dst + 2, q[2]);
    _mm_stream_si128((__m128i *)dst + 3, q[3]);
#else
    memcpy(dst, line, 8 * sizeof(uint64_t));
#endif
}

static inline void store_fence(void) {
#if defined(__SSE2__)
    _mm_sfence();
#endif
}

/* dst[pos] = pair, through bucket d's line. */
static inline void combine_put(combine_t *c, uint64_t *dst, int d, size_t pos, uint64_t pair) {
    c->lines[d][pos & 7] = pair;
    if ((pos & 7) == 7) {
        const size_t line = pos & ~(size_t)7;
        if (line >= c->start[d]) stream_line(dst + line, c->lines[d]);
        else
            for (size_t k = c->start[d]; k <= pos; k++) dst[k] = c->lines[d][k & 7];
    }
}

/* Writes what is left in bucket d's line (its run ends before `end`). */
static inline void combine_drain(const combine_t *c, uint64_t *dst, int d, size_t end) {
    const size_t line = end & ~(size_t)7;
    for (size_t k = line > c->start[d] ? line : c->start[d]; k < end; k++) dst[k] = c->lines[d][k & 7];
}

/* One call's work, shared by its threads. Each pass: every thread counts the
 * digits of its slice of the source, waits, derives its own write offsets
 * (digit prefix over all slices, plus the counts of the slices before its
 * own: the sort stays stable), and scatters its slice. The first pass reads
 * the float bits (building the pairs), the last writes what was asked. */
typedef struct {
    const uint32_t *bits;
    Py_ssize_t n;
    int threads;
    int npasses;
    uint64_t *buffers[2];    /* 64-byte aligned */
    combine_t *combine;      /* one per thread */
    size_t (*index_starts)[INDEX_BUCKETS + 1]; /* per thread: its index buckets */
    size_t *index_next;      /* threads × threads × INDEX_BUCKETS, as next */
    int index_shift, index_buckets;
    size_t (*hist)[BUCKETS]; /* threads × PASSES */
    size_t *next;            /* threads × threads × BUCKETS */
    uint32_t or_keys[MAX_THREADS], and_keys[MAX_THREADS];
    Py_ssize_t bounds[MAX_THREADS + 1];
    double inv;
    pthread_barrier_t barrier;
    enum emit_mode mode;
    float *sorted;
    int64_t *order;
    float *coef;
    float scale;
    uint64_t *result;
    pthread_mutex_t gate_lock;
    pthread_cond_t gate;
    int go;
} job_t;

typedef struct {
    job_t *job;
    int t;
} worker_t;

static inline uint64_t pair_at(const job_t *job, const uint64_t *src, int from_bits, Py_ssize_t i) {
    if (from_bits) return ((uint64_t)float_key(job->bits[i]) << 32) | (uint64_t)i;
    return src[i];
}

static inline void emit(const job_t *job, uint64_t *dst, size_t pos, uint64_t pair) {
    switch (job->mode) {
    case EMIT_PAIRS:
        dst[pos] = pair;
        break;
    case EMIT_SORTED:
        job->sorted[pos] = key_float((uint32_t)(pair >> 32));
        job->order[pos] = (int64_t)(uint32_t)pair;
        break;
    case EMIT_RANKS: {
        float c = (float)(2.0 * (double)pos - (double)(job->n - 1));
        job->coef[(uint32_t)pair] = job->scale == 1.0f ? c : c * job->scale;
        break;
    }
    }
}

static inline int owner(const job_t *job, size_t pos) {
    int u = (int)((double)pos * job->inv);
    return u < job->threads ? u : job->threads - 1;
}

/* The ranks' last pass (EMIT_RANKS), for thread t's slice of the source:
 * each pair's sorted position pos is known as it streams by; the pair
 * (pos << 32 | index) goes to the bucket of its index's top bits, in this
 * thread's slice of `spare` (the free pair buffer; counted first). Then, once
 * every thread is done, thread t writes the coefficients of its share of the
 * index buckets: each bucket covers a window of the output that stays in
 * cache while its pairs, from every thread's slice, are written to it. */
static void last_rank_pass(job_t *job, int t, const uint64_t *src, int from_bits, int p,
                           size_t *offsets, uint64_t *spare) {
    const int T = job->threads;
    const Py_ssize_t lo = job->bounds[t], hi = job->bounds[t + 1];
    const size_t n = (size_t)job->n;
    const int shift = job->index_shift, buckets = job->index_buckets;
    size_t *starts = job->index_starts[t];
    memset(starts, 0, sizeof(size_t) * (INDEX_BUCKETS + 1));
    if (from_bits) { /* the only pass: the slice holds indices lo..hi-1 */
        for (int e = 0; e < buckets; e++) {
            size_t a = (size_t)e << shift, b = a + ((size_t)1 << shift);
            if (a < (size_t)lo) a = (size_t)lo;
            if (b > (size_t)hi) b = (size_t)hi;
            starts[e] = b > a ? b - a : 0;
        }
    } else { /* counted by the pass before, as next */
        for (int w = 0; w < T; w++) {
            const size_t *c = job->index_next + ((size_t)w * T + (size_t)t) * INDEX_BUCKETS;
            for (int e = 0; e < buckets; e++) starts[e] += c[e];
        }
    }
    size_t sum = (size_t)lo;
    for (int e = 0; e <= buckets; e++) {
        size_t count = e < buckets ? starts[e] : 0;
        starts[e] = sum;
        sum += count;
    }
    combine_t *comb = job->combine + t;
    size_t cursor[INDEX_BUCKETS];
    memcpy(comb->start, starts, sizeof(size_t) * buckets);
    memcpy(cursor, starts, sizeof(size_t) * buckets);
    for (Py_ssize_t i = lo; i < hi; i++) {
        uint64_t pair = pair_at(job, src, from_bits, i);
        size_t pos = offsets[radix_digit((uint32_t)(pair >> 32), p)]++;
        uint32_t index = (uint32_t)pair;
        int e = (int)(index >> shift);
        combine_put(comb, spare, e, cursor[e]++, ((uint64_t)pos << 32) | index);
    }
    for (int e = 0; e < buckets; e++) combine_drain(comb, spare, e, cursor[e]);
    store_fence();
    pthread_barrier_wait(&job->barrier); /* every slice bucketed */
    const double last = (double)(n - 1);
    const float scale = job->scale;
    float *coef = job->coef;
    for (int e = buckets * t / T; e < buckets * (t + 1) / T; e++) {
        for (int u = 0; u < T; u++) {
            const size_t end = job->index_starts[u][e + 1];
            for (size_t j = job->index_starts[u][e]; j < end; j++) {
                uint64_t q = spare[j];
                float c = (float)(2.0 * (double)(q >> 32) - last);
                coef[(uint32_t)q] = scale == 1.0f ? c : c * scale;
            }
        }
    }
}

static void *work(void *arg) {
    worker_t *w = (worker_t *)arg;
    job_t *job = w->job;
    pthread_mutex_lock(&job->gate_lock); /* wait until the thread count is final */
    while (!job->go) pthread_cond_wait(&job->gate, &job->gate_lock);
    pthread_mutex_unlock(&job->gate_lock);
    const int t = w->t, T = job->threads;
    const Py_ssize_t lo = job->bounds[t], hi = job->bounds[t + 1];
    /* Phase A: the slice's digit counts for every pass, and which bits vary. */
    size_t (*hist)[BUCKETS] = job->hist + (size_t)t * PASSES;
    uint32_t or_key = 0, and_key = 0xFFFFFFFFu;
    for (Py_ssize_t i = lo; i < hi; i++) {
        uint32_t key = float_key(job->bits[i]);
        or_key |= key;
        and_key &= key;
        for (int p = 0; p < PASSES; p++) hist[p][radix_digit(key, p)]++;
    }
    job->or_keys[t] = or_key;
    job->and_keys[t] = and_key;
    pthread_barrier_wait(&job->barrier);
    /* Every thread derives the same passes: those whose digit varies. */
    or_key = 0;
    and_key = 0xFFFFFFFFu;
    for (int u = 0; u < T; u++) {
        or_key |= job->or_keys[u];
        and_key &= job->and_keys[u];
    }
    int passes[PASSES], npasses = 0;
    for (int p = 0; p < PASSES; p++)
        if (radix_digit(or_key ^ and_key, p)) passes[npasses++] = p;
    if (t == 0) job->npasses = npasses;
    if (npasses == 0) { /* every key is the same: already in order */
        uint64_t *dst = job->buffers[0];
        for (Py_ssize_t i = lo; i < hi; i++) emit(job, dst, (size_t)i, pair_at(job, NULL, 1, i));
        job->result = dst;
        return NULL;
    }
    /* next[w][u][d]: digit d of the coming pass among the pairs thread w
     * wrote into slice u (the first pass: the slice's own counts). */
#define NEXT(w_, u_) (job->next + ((size_t)(w_) * T + (size_t)(u_)) * BUCKETS)
#define INDEX_NEXT(w_, u_) (job->index_next + ((size_t)(w_) * T + (size_t)(u_)) * INDEX_BUCKETS)
    for (int u = 0; u < T; u++) {
        if (u == t) memcpy(NEXT(t, t), hist[passes[0]], sizeof(size_t) * BUCKETS);
        else memset(NEXT(t, u), 0, sizeof(size_t) * BUCKETS);
    }
    uint64_t *src = NULL;
    int which = 0;
    for (int k = 0; k < npasses; k++) {
        const int p = passes[k], from_bits = k == 0, last = k == npasses - 1;
        pthread_barrier_wait(&job->barrier); /* the counts are complete */
        size_t offsets[BUCKETS];
        size_t sum = 0;
        for (int d = 0; d < BUCKETS; d++) {
            size_t before = 0;
            for (int u = 0; u < T; u++) {
                if (u == t) before = sum;
                for (int v = 0; v < T; v++) sum += NEXT(v, u)[d];
            }
            offsets[d] = before;
        }
        pthread_barrier_wait(&job->barrier); /* counts read before reuse */
        uint64_t *dst = job->buffers[which];
        combine_t *comb = job->combine + t;
        if (last && job->mode == EMIT_RANKS) {
            last_rank_pass(job, t, src, from_bits, p, offsets, dst);
        } else if (last && job->mode == EMIT_SORTED) {
            for (Py_ssize_t i = lo; i < hi; i++) {
                uint64_t pair = pair_at(job, src, from_bits, i);
                emit(job, dst, offsets[radix_digit((uint32_t)(pair >> 32), p)]++, pair);
            }
        } else if (last) { /* EMIT_PAIRS */
            memcpy(comb->start, offsets, sizeof(offsets));
            for (Py_ssize_t i = lo; i < hi; i++) {
                uint64_t pair = pair_at(job, src, from_bits, i);
                int d = (int)radix_digit((uint32_t)(pair >> 32), p);
                combine_put(comb, dst, d, offsets[d]++, pair);
            }
            for (int d = 0; d < BUCKETS; d++) combine_drain(comb, dst, d, offsets[d]);
            store_fence();
        } else {
            const int q = passes[k + 1];
            const int count_index = job->mode == EMIT_RANKS && k + 1 == npasses - 1;
            const int shift = job->index_shift;
            memset(NEXT(t, 0), 0, sizeof(size_t) * BUCKETS * T);
            if (count_index) memset(INDEX_NEXT(t, 0), 0, sizeof(size_t) * INDEX_BUCKETS * T);
            memcpy(comb->start, offsets, sizeof(offsets));
            /* The slice each position lands in, tracked per digit (its
             * positions only grow): edge[d] is where that slice ends. */
            size_t edge[BUCKETS];
            size_t *counts[BUCKETS], *index_counts[BUCKETS];
            for (int d = 0; d < BUCKETS; d++) {
                int u = 0;
                while (u < T - 1 && offsets[d] >= (size_t)job->bounds[u + 1]) u++;
                edge[d] = (size_t)job->bounds[u + 1];
                counts[d] = NEXT(t, u);
                index_counts[d] = INDEX_NEXT(t, u);
            }
#define SCATTER(COUNT_INDEX)                                                         \
            for (Py_ssize_t i = lo; i < hi; i++) {                                   \
                uint64_t pair = pair_at(job, src, from_bits, i);                     \
                uint32_t key = (uint32_t)(pair >> 32);                               \
                int d = (int)radix_digit(key, p);                                    \
                size_t pos = offsets[d]++;                                           \
                combine_put(comb, dst, d, pos, pair);                                \
                if (pos >= edge[d]) {                                                \
                    int u = 0;                                                       \
                    while (u < T - 1 && pos >= (size_t)job->bounds[u + 1]) u++;      \
                    edge[d] = (size_t)job->bounds[u + 1];                            \
                    counts[d] = NEXT(t, u);                                          \
                    index_counts[d] = INDEX_NEXT(t, u);                              \
                }                                                                    \
                counts[d][radix_digit(key, q)]++;                                    \
                if (COUNT_INDEX) index_counts[d][(uint32_t)pair >> shift]++;         \
            }
            if (count_index) SCATTER(1) else SCATTER(0)
#undef SCATTER
            for (int d = 0; d < BUCKETS; d++) combine_drain(comb, dst, d, offsets[d]);
            store_fence();
        }
        if (last) job->result = dst;
        src = dst;
        which ^= 1;
    }
#undef NEXT
#undef INDEX_NEXT
    return NULL;
}

/* Sorts the n values with `threads` threads into job->mode's output; with
 * EMIT_PAIRS returns the buffer (a or b) holding the (key << 32 | index)
 * pairs in order. Returns NULL (nothing written) when memory ran out. */
static uint64_t *radix_sort(job_t *job, uint64_t *a, uint64_t *b) {
    const Py_ssize_t n = job->n;
    int T = job->threads;
    if (T < 1) T = 1;
    if (n < (1 << 16)) T = 1;
    if (T > MAX_THREADS) T = MAX_THREADS;
    job->buffers[0] = a;
    job->buffers[1] = b;
    job->hist = calloc((size_t)T * PASSES, sizeof(*job->hist));
    job->next = malloc(sizeof(size_t) * BUCKETS * (size_t)T * (size_t)T);
    job->index_starts = malloc(sizeof(*job->index_starts) * (size_t)T);
    job->index_next = malloc(sizeof(size_t) * INDEX_BUCKETS * (size_t)T * (size_t)T);
    job->index_shift = 0;
    while (n > 0 && (((size_t)n - 1) >> job->index_shift) >= INDEX_BUCKETS) job->index_shift++;
    job->index_buckets = n > 0 ? (int)(((size_t)n - 1) >> job->index_shift) + 1 : 0;
    job->combine = NULL;
    if (posix_memalign((void **)&job->combine, 64, sizeof(combine_t) * (size_t)T) != 0)
        job->combine = NULL;
    if (job->hist == NULL || job->next == NULL || job->index_starts == NULL ||
        job->index_next == NULL || job->combine == NULL) {
        free(job->hist);
        free(job->next);
        free(job->index_starts);
        free(job->index_next);
        free(job->combine);
        return NULL;
    }
    pthread_mutex_init(&job->gate_lock, NULL);
    pthread_cond_init(&job->gate, NULL);
    job->go = 0;
    worker_t workers[MAX_THREADS];
    pthread_t ids[MAX_THREADS];
    int started = 0;
    for (int t = 1; t < T; t++) {
        workers[t].job = job;
        workers[t].t = t;
        if (pthread_create(&ids[t], NULL, work, &workers[t]) != 0) break;
        started++;
    }
    job->threads = started + 1; /* fewer if a thread could not start */
    job->inv = (double)job->threads / (double)(n ? n : 1);
    /* Slice u holds the positions whose owner is u (owner is monotone). */
    job->bounds[0] = 0;
    for (int u = 1; u < job->threads; u++) {
        size_t g = (size_t)((double)n * u / job->threads);
        while (g > 0 && owner(job, g - 1) >= u) g--;
        while (g < (size_t)n && owner(job, g) < u) g++;
        job->bounds[u] = (Py_ssize_t)g;
    }
    job->bounds[job->threads] = n;
    pthread_barrier_init(&job->barrier, NULL, (unsigned)job->threads);
    pthread_mutex_lock(&job->gate_lock);
    job->go = 1;
    pthread_cond_broadcast(&job->gate);
    pthread_mutex_unlock(&job->gate_lock);
    workers[0].job = job;
    workers[0].t = 0;
    work(&workers[0]);
    for (int t = 1; t <= started; t++) pthread_join(ids[t], NULL);
    pthread_mutex_destroy(&job->gate_lock);
    pthread_cond_destroy(&job->gate);
    pthread_barrier_destroy(&job->barrier);
    free(job->hist);
    free(job->next);
    free(job->index_starts);
    free(job->index_next);
    free(job->combine);
    return job->result;
}

/* Scratch buffers kept between calls (training ranks a kernel of the same size
 * every step; fresh pages would be faulted in every time). Guarded by a lock
 * taken with the GIL held; a concurrent caller gets its own buffers. */
static uint64_t *cache = NULL;
static size_t cache_pairs = 0;
static PyThread_type_lock cache_lock = NULL;

static uint64_t *aligned_pairs(size_t pairs) {
    void *p = NULL;
    return posix_memalign(&p, 64, pairs * sizeof(uint64_t)) == 0 ? (uint64_t *)p : NULL;
}

/* The second pair buffer starts this many pairs into the scratch: n rounded
 * up to whole cache lines, so that both are 64-byte aligned. */
static size_t line_pairs(Py_ssize_t n) { return ((size_t)n + 7) & ~(size_t)7; }

static uint64_t *get_scratch(size_t pairs, int *owned) {
    if (cache_lock != NULL && PyThread_acquire_lock(cache_lock, NOWAIT_LOCK)) {
        if (cache_pairs < pairs) {
            free(cache);
            cache = aligned_pairs(pairs);
            cache_pairs = cache ? pairs : 0;
        }
        if (cache != NULL) {
            *owned = 0;
            return cache;
        }
        PyThread_release_lock(cache_lock);
    }
    *owned = 1;
    return aligned_pairs(pairs);
}

static void put_scratch(uint64_t *scratch, int owned) {
    if (owned) free(scratch);
    else PyThread_release_lock(cache_lock);
}

static int check_float32(Py_buffer *buf, const char *name, Py_ssize_t n) {
    if (buf->len != n * 4) {
        PyErr_Format(PyExc_ValueError,
                     "Expected `%s` to hold %zd float32 values. Received: %zd bytes.",
                     name, n, buf->len);
        return -1;
    }
    return 0;
}

static int check_threads(int threads) {
    if (threads < 1) {
        PyErr_Format(PyExc_ValueError,
                     "Expected `threads` to be a positive integer. Received: threads=%d", threads);
        return -1;
    }
    return 0;
}

/* Runs `job` (its mode and outputs set) on the n float32 values without the
 * GIL, in this module's scratch buffers: None, or NULL with MemoryError. */
static PyObject *sort_into(job_t *job, Py_buffer *values, Py_ssize_t n, int threads) {
    int owned;
    uint64_t *scratch = get_scratch(2 * line_pairs(n) + 1, &owned);
    if (scratch == NULL) return PyErr_NoMemory();
    job->bits = (const uint32_t *)values->buf;
    job->n = n;
    job->threads = threads;
    uint64_t *ok;
    Py_BEGIN_ALLOW_THREADS
    ok = radix_sort(job, scratch, scratch + line_pairs(n));
    Py_END_ALLOW_THREADS
    put_scratch(scratch, owned);
    if (ok == NULL) return PyErr_NoMemory();
    Py_RETURN_NONE;
}

static PyObject *py_sort_with_order(PyObject *self, PyObject *args) {
    Py_buffer values, sorted, order;
    int threads = 1;
    if (!PyArg_ParseTuple(args, "y*w*w*|i", &values, &sorted, &order, &threads)) return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = values.len / 4;
    if (check_threads(threads) < 0 || check_float32(&sorted, "sorted", n) < 0) goto done;
    if (order.len != n * 8) {
        PyErr_Format(PyExc_ValueError,
                     "Expected `order` to hold %zd int64 values. Received: %zd bytes.",
                     n, order.len);
        goto done;
    }
    job_t job = {0};
    job.mode = EMIT_SORTED;
    job.sorted = (float *)sorted.buf;
    job.order = (int64_t *)order.buf;
    result = sort_into(&job, &values, n, threads);
done:
    PyBuffer_Release(&values);
    PyBuffer_Release(&sorted);
    PyBuffer_Release(&order);
    return result;
}

static PyObject *py_rank_coefficients(PyObject *self, PyObject *args) {
    Py_buffer values, out;
    double scale;
    int threads = 1;
    if (!PyArg_ParseTuple(args, "y*w*d|i", &values, &out, &scale, &threads)) return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = values.len / 4;
    if (check_threads(threads) < 0 || check_float32(&out, "out", n) < 0) goto done;
    job_t job = {0};
    job.mode = EMIT_RANKS;
    job.coef = (float *)out.buf;
    job.scale = (float)scale;
    result = sort_into(&job, &values, n, threads);
done:
    PyBuffer_Release(&values);
    PyBuffer_Release(&out);
    return result;
}

/* Writes each block's mean to its weights: out[index of sorted i] = mean of
 * i's block, the positions split evenly over the threads. */
typedef struct {
    const uint64_t *pairs;
    const float *means;
    const uint32_t *ends; /* cumulative block ends */
    Py_ssize_t blocks;
    float *out;
    Py_ssize_t n;
    int threads;
} expand_t;

typedef struct {
    const expand_t *ex;
    int t;
} expand_worker_t;

static void *expand_slice(void *arg) {
    const expand_worker_t *w = (const expand_worker_t *)arg;
    const expand_t *ex = w->ex;
    Py_ssize_t lo = ex->n * w->t / ex->threads, hi = ex->n * (w->t + 1) / ex->threads;
    /* First block ending after lo. */
    Py_ssize_t a = 0, b = ex->blocks - 1;
    while (a < b) {
        Py_ssize_t m = (a + b) / 2;
        if ((Py_ssize_t)ex->ends[m] > lo) b = m;
        else a = m + 1;
    }
    for (Py_ssize_t k = a, i = lo; i < hi; k++) {
        const float mean = ex->means[k];
        Py_ssize_t stop = (Py_ssize_t)ex->ends[k] < hi ? (Py_ssize_t)ex->ends[k] : hi;
        for (; i < stop; i++) ex->out[(uint32_t)ex->pairs[i]] = mean;
    }
    return NULL;
}

static void parallel_expand(expand_t *ex) {
    int T = ex->threads;
    if (T < 1 || ex->n < (1 << 16)) T = 1;
    if (T > MAX_THREADS) T = MAX_THREADS;
    expand_worker_t workers[MAX_THREADS];
    pthread_t ids[MAX_THREADS];
    int started = 0;
    ex->threads = T;
    for (int t = 0; t < T; t++) {
        workers[t].ex = ex;
        workers[t].t = t;
    }
    for (int t = 1; t < T; t++) {
        if (pthread_create(&ids[t], NULL, expand_slice, &workers[t]) != 0) break;
        started++;
    }
    /* Slices of threads that did not start run here. */
    for (int t = started + 1; t < T; t++) expand_slice(&workers[t]);
    expand_slice(&workers[0]);
    for (int t = 1; t <= started; t++) pthread_join(ids[t], NULL);
}

static PyObject *py_pairwise_prox(PyObject *self, PyObject *args) {
    Py_buffer values, out;
    double tau;
    int threads = 1;
    if (!PyArg_ParseTuple(args, "y*w*d|i", &values, &out, &tau, &threads)) return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = values.len / 4;
    if (check_threads(threads) < 0 || check_float32(&out, "out", n) < 0) goto done;
    if (n < 1) {
        result = PyLong_FromLong(0);
        goto done;
    }
    int owned;
    /* Two pair buffers for the sort; the one not holding the result then
     * holds the blocks' double sums, and a third, half as long, their sizes. */
    const size_t stride = line_pairs(n);
    uint64_t *scratch = get_scratch(2 * stride + (size_t)(n + 1) / 2 + 1, &owned);
    if (scratch == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    job_t job = {0};
    job.bits = (const uint32_t *)values.buf;
    job.n = n;
    job.threads = threads;
    job.mode = EMIT_PAIRS;
    long long groups = -1;
    Py_BEGIN_ALLOW_THREADS
    uint64_t *pairs = radix_sort(&job, scratch, scratch + stride);
    if (pairs != NULL) {
        groups = 0;
        double *sums = (double *)(pairs == scratch ? scratch + stride : scratch);
        uint32_t *sizes = (uint32_t *)(scratch + 2 * stride);
        const double last = (double)(n - 1);
        /* Pool adjacent violators on z_i = v_(i) − tau (2i − n + 1): a stack
         * of blocks (sum, size) whose means increase strictly. */
        Py_ssize_t top = -1;
        for (Py_ssize_t i = 0; i < n; i++) {
            double sum = (double)key_float((uint32_t)(pairs[i] >> 32)) - tau * (2.0 * (double)i - last);
            double size = 1.0;
            while (top >= 0 && sums[top] * size >= sum * (double)sizes[top]) {
                sum += sums[top];
                size += (double)sizes[top];
                top--;
            }
            top++;
            sums[top] = sum;
            sizes[top] = (uint32_t)size;
        }
        /* Each block's mean (float32, over its double sum), counted as a
         * new group where it differs from the last; sizes become block ends. */
        float *means = (float *)sums;
        uint32_t end = 0;
        float previous = 0.0f;
        for (Py_ssize_t k = 0; k <= top; k++) {
            float mean = (float)(sums[k] / (double)sizes[k]);
            if (k == 0 || mean != previous) groups++;
            previous = mean;
            means[k] = mean;
            end += sizes[k];
            sizes[k] = end;
        }
        expand_t ex = {pairs, means, sizes, top + 1, (float *)out.buf, n, threads};
        parallel_expand(&ex);
    }
    Py_END_ALLOW_THREADS
    put_scratch(scratch, owned);
    if (groups < 0) {
        PyErr_NoMemory();
        goto done;
    }
    result = PyLong_FromLongLong(groups);
done:
    PyBuffer_Release(&values);
    PyBuffer_Release(&out);
    return result;
}

static PyMethodDef methods[] = {
    {"sort_with_order", py_sort_with_order, METH_VARARGS,
     "sort_with_order(values, sorted, order): stable sort of float32 values."},
    {"rank_coefficients", py_rank_coefficients, METH_VARARGS,
     "rank_coefficients(values, out, scale): out = scale·(2·rank − (n − 1))."},
    {"pairwise_prox", py_pairwise_prox, METH_VARARGS,
     "pairwise_prox(values, out, tau) -> groups: exact all-pairs prox."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_radix",
    "Stable radix sort of float32 values for the all-pairs penalty (see _radix.c).",
    -1, methods,
};

PyMODINIT_FUNC PyInit__radix(void) {
    cache_lock = PyThread_allocate_lock();
    if (cache_lock == NULL) return PyErr_NoMemory();
    return PyModule_Create(&module);
}
