#include "gemm.h"

#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "threads.h"
#include "util.h"

/* Work is split in groups of 4 output rows, fixed by the shape alone, so a
 * row is always computed the same way whatever the thread count. Inside a
 * group, column tiles (16 to 64 wide, kernels.h) go to the kernel table's
 * register-blocked tile; leftover columns and a last partial group use
 * plain loops. */

typedef struct {
    float *out;
    const float *a, *b;
    size_t M, K, N;
    size_t sm, sk;    /* coefficient (m, k) = a[m*sm + k*sk] */
    size_t ldo, ldb;  /* out (m, n) = out[m*ldo + n], b (k, n) = b[k*ldb + n] */
    float alpha;
    int panel;        /* copy strided a to a panel first (below) */
} Gemm;

static void rows_plain(const Gemm *g, size_t m0, size_t m1, size_t n0)
{
    for (size_t m = m0; m < m1; m++) {
        float *om = g->out + m * g->ldo;
        for (size_t k = 0; k < g->K; k++) {
            float c = g->alpha * g->a[m * g->sm + k * g->sk];
            const float *bk = g->b + k * g->ldb;
            for (size_t n = n0; n < g->N; n++) om[n] += c * bk[n];
        }
    }
}

/* When a's rows are strided (gemm_tn: the 4 rows of a group are 4
 * adjacent values of every k, each k in another cache line), the group's
 * 4 x K coefficients are first copied to a contiguous panel, k-major, which
 * then stays in L1 while the tiles stream b. The copy changes no result. */
static void groups(void *ctx, size_t g0, size_t g1, int thread)
{
    (void)thread;
    const Gemm *g = ctx;
    float *panel = g->panel && g->sk != 1 ? xmalloc(4 * g->K * sizeof *panel + 1) : NULL;
    for (size_t grp = g0; grp < g1; grp++) {
        size_t m0 = 4 * grp, m1 = m0 + 4 < g->M ? m0 + 4 : g->M;
        if (m1 - m0 < 4) {
            rows_plain(g, m0, m1, 0);
            continue;
        }
        const float *a = g->a + m0 * g->sm;
        size_t sm = g->sm, sk = g->sk;
        if (panel) {
            for (size_t k = 0; k < g->K; k++)
                for (size_t i = 0; i < 4; i++) panel[4 * k + i] = a[i * sm + k * sk];
            a = panel;
            sm = 1;
            sk = 4;
        }
        size_t n = 0;
        while (g->N - n >= 16) {
            size_t w = (g->N - n) / 16 * 16;
            if (w > kern.gemm_tile_cols) w = kern.gemm_tile_cols;
            kern.gemm_tile_f32(g->out + m0 * g->ldo + n, g->ldo, a, sm, sk, g->b + n, g->ldb, g->K, w, g->alpha);
            n += w;
        }
        if (n < g->N) rows_plain(g, m0, m1, n);
    }
    free(panel);
}

/* Below this many multiply-adds a second thread costs more than it saves
 * (waking it is microseconds); the split never changes the arithmetic. */
#define PARALLEL_MIN_MACS (1u << 18)

static void split(size_t n_groups, ParallelFn fn, void *ctx, size_t macs)
{
    parallel_for_min(n_groups, macs, PARALLEL_MIN_MACS, fn, ctx);
}

static void run(float *out, const float *a, size_t sm, size_t sk, const float *b, size_t M, size_t K, size_t N,
                float alpha)
{
    Gemm g = {out, a, b, M, K, N, sm, sk, N, N, alpha, 1};
    split((M + 3) / 4, groups, &g, M * K * N);
}

void gemm_block(float *out, size_t ldo, const float *a, size_t sm, size_t sk, const float *b, size_t ldb, size_t M,
                size_t K, size_t N, float alpha)
{
    Gemm g = {out, a, b, M, K, N, sm, sk, ldo, ldb, alpha, 0};
    groups(&g, 0, (M + 3) / 4, 0);
}

void gemm_nn(float *out, const float *a, const float *b, size_t M, size_t K, size_t N, float alpha)
{
    run(out, a, K, 1, b, M, K, N, alpha);
}

void gemm_tn(float *out, const float *a, const float *b, size_t M, size_t K, size_t N, float alpha)
{
    run(out, a, 1, M, b, M, K, N, alpha);
}

/* ---- out = a @ b^T ---------------------------------------------------- */

typedef struct {
    float *out;
    const float *a, *b;
    size_t M, K, N;
    int accumulate;
} Dots;

/* few rows (decoding: one token): dot products straight from b's rows, in
 * fixed groups of 4 columns (a shape-only split, as for the row groups) */
static void dot_groups(void *ctx, size_t g0, size_t g1, int thread)
{
    (void)thread;
    const Dots *d = ctx;
    float r[4];
    for (size_t m = 0; m < d->M; m++) {
        const float *am = d->a + m * d->K;
        float *om = d->out + m * d->N;
        for (size_t grp = g0; grp < g1; grp++) {
            size_t n = 4 * grp;
            if (n + 4 <= d->N) {
                kern.dot4_f32(am, d->b + n * d->K, d->K, d->K, r);
                for (int j = 0; j < 4; j++) om[n + j] = d->accumulate ? om[n + j] + r[j] : r[j];
            } else {
                for (; n < d->N; n++) {
                    float s = kern.dot_f32(am, d->b + n * d->K, d->K);
                    om[n] = d->accumulate ? om[n] + s : s;
                }
            }
        }
    }
}

/* A scratch buffer of at least bytes, kept and grown on demand: the
 * copies below each have one (callers are one thread at a time). */
typedef struct {
    void *p;
    size_t cap;
} Scratch;

static void *scratch(Scratch *s, size_t bytes)
{
    if (bytes > s->cap) {
        free(s->p);
        s->p = xmalloc(bytes);
        s->cap = bytes;
    }
    return s->p;
}

/* The transposed copy of b for the tiled path. */
static float *transposed(const float *b, size_t N, size_t K)
{
    static Scratch s;
    float *bt = scratch(&s, N * K * sizeof *bt);
    for (size_t n = 0; n < N; n++)
        for (size_t k = 0; k < K; k++) bt[k * N + n] = b[n * K + k];
    return bt;
}

#define FEW_ROWS 16

void gemm_nt(float *out, const float *a, const float *b, size_t M, size_t K, size_t N, int accumulate)
{
    if (M < FEW_ROWS) {
        /* split over the columns of out (the rows of b): with one token the
         * work is all in b */
        Dots d = {out, a, b, M, K, N, accumulate};
        split((N + 3) / 4, dot_groups, &d, M * K * N);
        return;
    }
    if (!accumulate)
        for (size_t m = 0; m < M; m++) memset(out + m * N, 0, N * sizeof *out);
    run(out, a, K, 1, transposed(b, N, K), M, K, N, 1.0f);
}

/* ---- out = int8 x @ ternary codes^T -------------------------------------- */

typedef struct {
    float *out;
    const int8_t *x;
    const float *xscale;
    const uint8_t *codes, *panel;
    float wscale;
    size_t M, K, N;
    int accumulate;
} Codes;

/* out = v, or out += v */
static void put(float *out, float v, int accumulate) { *out = accumulate ? *out + v : v; }

/* sum_k x[k] * (codes[k] - 1) for one row and one column */
static int32_t codes_dot_plain(const int8_t *x, const uint8_t *codes, size_t K)
{
    int32_t s = 0;
    for (size_t k = 0; k < K; k++) s += x[k] * (codes[k] - 1);
    return s;
}

/* The codes repacked as panels of 32 columns for the kernel (kernels.h);
 * columns past N are code 0 and never read back. */
static const uint8_t *panels(const uint8_t *codes, size_t K, size_t N)
{
    static Scratch s;
    size_t size = (N + 31) / 32 * 32 * K;
    uint8_t *buf = scratch(&s, size);
    memset(buf, 0, size);
    for (size_t n = 0; n < N; n++) {
        uint8_t *p = buf + n / 32 * 32 * K + (n % 32) * 2;
        for (size_t k = 0; k < K; k++) p[k / 2 * 64 + k % 2] = codes[n * K + k];
    }
    return buf;
}

/* groups of 4 rows, as the float products, each against every panel; the
 * sums of code * x are exact, and the row sums of x take the 1 back out. A
 * last partial group uses plain loops. */
static void codes_groups(void *ctx, size_t g0, size_t g1, int thread)
{
    (void)thread;
    const Codes *g = ctx;
    size_t K = g->K, N = g->N;
    int32_t acc[4 * 32];
    for (size_t grp = g0; grp < g1; grp++) {
        size_t m0 = 4 * grp, m1 = m0 + 4 < g->M ? m0 + 4 : g->M;
        if (m1 - m0 < 4) {
            for (size_t m = m0; m < m1; m++) {
                float sm = g->xscale[m] * g->wscale;
                for (size_t n = 0; n < N; n++)
                    put(&g->out[m * N + n], (float)codes_dot_plain(g->x + m * K, g->codes + n * K, K) * sm,
                        g->accumulate);
            }
            continue;
        }
        int32_t xsum[4];
        float s[4];
        for (int i = 0; i < 4; i++) {
            xsum[i] = 0;
            for (size_t k = 0; k < K; k++) xsum[i] += g->x[(m0 + i) * K + k];
            s[i] = g->xscale[m0 + i] * g->wscale;
        }
        for (size_t n0 = 0; n0 < N; n0 += 32) {
            memset(acc, 0, sizeof acc);
            kern.codes_panel_4x32(acc, g->x + m0 * K, K, g->panel + n0 * K, K);
            size_t w = N - n0 < 32 ? N - n0 : 32;
            for (int i = 0; i < 4; i++)
                for (size_t j = 0; j < w; j++)
                    put(&g->out[(m0 + i) * N + n0 + j], (float)(acc[i * 32 + j] - xsum[i]) * s[i], g->accumulate);
        }
    }
}

void gemm_codes_nt(float *out, const int8_t *x, const float *xscale, const uint8_t *codes, float wscale, size_t M,
                   size_t K, size_t N, int accumulate)
{
    /* Without integer SIMD (plain C, SSE: Pentium II and III) the float
     * tile is the faster way to the same exact sums; the kernel takes k in
     * pairs, so an odd K (never a model's) goes that way too. */
    if (!kern.int8_simd || K % 2) {
        static Scratch s;
        float *xf = scratch(&s, ((M + N) * K + M * N) * sizeof *xf), *wf = xf + M * K;
        float *sums = wf + N * K;
        for (size_t i = 0; i < M * K; i++) xf[i] = x[i];
        for (size_t i = 0; i < N * K; i++) wf[i] = (float)codes[i] - 1.0f;
        gemm_nt(sums, xf, wf, M, K, N, 0);
        for (size_t m = 0; m < M; m++) {
            float sm = xscale[m] * wscale;  /* rounded, as in codes_groups */
            for (size_t n = 0; n < N; n++) put(&out[m * N + n], sums[m * N + n] * sm, accumulate);
        }
        return;
    }
    Codes g = {out, x, xscale, codes, panels(codes, K, N), wscale, M, K, N, accumulate};
    split((M + 3) / 4, codes_groups, &g, M * K * N);
}
