/* The layers of a training step: see layers.h for the conventions
 * (row-major shapes, forward writes, backward accumulates). */
#include "layers.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "kernels.h"
#include "profile.h"
#include "threads.h"
#include "util.h"

/* ---- embedding, residual ---------------------------------------------- */

/* table (V,C) [tokens (N)] -> out (N,C) */
void embedding_forward(float *out, const int *tokens, const float *table, size_t N, size_t C)
{
    for (size_t n = 0; n < N; n++)
        memcpy(out + n * C, table + (size_t)tokens[n] * C, C * sizeof *out);
}

/* dtable (V,C) [tokens (N)] += dout (N,C); a token seen twice gets both rows */
void embedding_backward(float *dtable, const float *dout, const int *tokens, size_t N, size_t C)
{
    for (size_t n = 0; n < N; n++) {
        float *d = dtable + (size_t)tokens[n] * C;
        const float *g = dout + n * C;
        for (size_t c = 0; c < C; c++) d[c] += g[c];
    }
}

/* The operands of an element-wise pass, for parallel_elements: each
 * *_range function below does values [i0, i1) of one layer function. */
typedef struct {
    float *out, *out2;
    const float *in, *in2, *in3;
} Elem;

static void residual_range(void *ctx, size_t i0, size_t i1, int thread)
{
    (void)thread;
    const Elem *e = ctx;
    for (size_t i = i0; i < i1; i++) e->out[i] = e->in[i] + e->in2[i];
}

void residual_forward(float *out, const float *a, const float *b, size_t n)
{
    Elem e = {.out = out, .in = a, .in2 = b};
    parallel_elements(n, residual_range, &e);
}

static void residual_bwd_range(void *ctx, size_t i0, size_t i1, int thread)
{
    (void)thread;
    const Elem *e = ctx;
    for (size_t i = i0; i < i1; i++) {
        e->out[i] += e->in[i];
        e->out2[i] += e->in[i];
    }
}

void residual_backward(float *da, float *db, const float *dout, size_t n)
{
    Elem e = {.out = da, .out2 = db, .in = dout};
    parallel_elements(n, residual_bwd_range, &e);
}

/* ---- RMSNorm ------------------------------------------------------------ */

/* The operands of both passes, for the pool's row jobs below. */
typedef struct {
    float *out, *rstd, *dinp, *dw_blocks;
    const float *inp, *weight, *dout, *rstd_in;
    size_t N, C;
    float eps;
} Norm;

static void rmsnorm_rows(void *ctx, size_t n0, size_t n1, int thread)
{
    (void)thread;
    const Norm *r = ctx;
    size_t C = r->C;
    for (size_t n = n0; n < n1; n++) r->rstd[n] = kern.rmsnorm_f32(r->out + n * C, r->inp + n * C, r->weight, C, r->eps);
}

/* inp (N,C) * rstd (N) * weight (C) -> out (N,C) */
void rmsnorm_forward(float *out, float *rstd, const float *inp, const float *weight,
                     size_t N, size_t C, float eps)
{
    Norm r = {.out = out, .rstd = rstd, .inp = inp, .weight = weight, .N = N, .C = C, .eps = eps};
    parallel_for_min(N, N * C, 4 * PARALLEL_BLOCK, rmsnorm_rows, &r);
}

/* With r = (mean(x^2) + eps)^(-1/2), dr/dx_j = -r^3 x_j / C, so
 * dx_j = r w_j g_j - (r^3 / C) x_j sum_i(g_i w_i x_i): kernels_scalar.c. */
/* The weight gradient is a sum over rows: each block of NORM_ROWS rows
 * sums into its own slice of dw_blocks, and the slices are added to
 * dweight in block order, so the result does not depend on the thread
 * count. */
#define NORM_ROWS 64

static void rmsnorm_bwd_blocks(void *ctx, size_t b0, size_t b1, int thread)
{
    (void)thread;
    const Norm *r = ctx;
    size_t C = r->C;
    for (size_t b = b0; b < b1; b++) {
        float *dw = r->dw_blocks + b * C;
        memset(dw, 0, C * sizeof *dw);
        size_t n1 = (b + 1) * NORM_ROWS < r->N ? (b + 1) * NORM_ROWS : r->N;
        for (size_t n = b * NORM_ROWS; n < n1; n++)
            kern.rmsnorm_bwd_f32(r->dinp + n * C, dw, r->dout + n * C, r->inp + n * C, r->weight, r->rstd_in[n], C);
    }
}

void rmsnorm_backward(float *dinp, float *dweight, const float *dout, const float *inp,
                      const float *weight, const float *rstd, size_t N, size_t C)
{
    size_t blocks = (N + NORM_ROWS - 1) / NORM_ROWS;
    Norm r = {.dinp = dinp, .dw_blocks = xmalloc(blocks * C * sizeof(float) + 1), .inp = inp, .weight = weight,
              .dout = dout, .rstd_in = rstd, .N = N, .C = C};
    parallel_for_min(blocks, N * C, 4 * PARALLEL_BLOCK, rmsnorm_bwd_blocks, &r);
    for (size_t b = 0; b < blocks; b++)
        for (size_t c = 0; c < C; c++) dweight[c] += r.dw_blocks[b * C + c];
    free(r.dw_blocks);
}

/* ---- linear layers -------------------------------------------------------- */

/* inp (N,C) @ w (OC,C)^T -> out (N,OC) */
void matmul_forward(float *out, const float *inp, const float *w, size_t N, size_t C, size_t OC)
{
    PROFILED(PROF_MATMUL_FWD, gemm_nt(out, inp, w, N, C, OC, 0));
}

/* dinp (N,C) += dout (N,OC) @ w (OC,C); dw (OC,C) += dout^T @ inp (N,C) */
void matmul_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                     size_t N, size_t C, size_t OC)
{
    double t0 = prof_begin();
    if (dinp) gemm_nn(dinp, dout, w, N, OC, C, 1.0f);
    if (dw) gemm_tn(dw, dout, inp, OC, N, C, 1.0f);
    prof_end(PROF_MATMUL_BWD, t0);
}

/* ---- BitLinear ------------------------------------------------------------- */

/* The quantised operands as floats for the matrix products: one buffer,
 * grown on demand and reused by every call (so one caller at a time). */
static float *workspace(size_t n)
{
    static float *ws;
    static size_t cap;
    if (n > cap) {
        free(ws);
        ws = xmalloc(n * sizeof *ws);
        cap = n;
    }
    return ws;
}

void act_quant_int8(const float *x, size_t C, int8_t *q, float *scale)
{
    float amax = kern.absmax_f32(x, C);
    /* the floor keeps an all-zero row finite: it quantises to zeros */
    float s = 127.0f / (amax > 1e-5f ? amax : 1e-5f);
    kern.quantize_i8(x, C, s, q);  /* |x * s| <= 127 by construction */
    *scale = 1.0f / s;
}

/* Rows of C values to int8 with a scale each, by act_quant_int8 or
 * grad_quant_int8, over the pool. */
typedef struct {
    void (*quant)(const float *x, size_t C, int8_t *q, float *scale);
    const float *x;
    int8_t *q;
    float *scale;
    size_t C;
} RowQuant;

static void quant_rows(void *ctx, size_t n0, size_t n1, int thread)
{
    (void)thread;
    const RowQuant *r = ctx;
    for (size_t n = n0; n < n1; n++) r->quant(r->x + n * r->C, r->C, r->q + n * r->C, &r->scale[n]);
}

static void quantise_rows(RowQuant *r, size_t N)
{
    parallel_for_min(N, N * r->C, 4 * PARALLEL_BLOCK, quant_rows, r);
}

/* inp (N,C) @ quant(w (OC,C))^T -> out (N,OC) */
void bitlinear_forward(float *out, const float *inp, const float *w, size_t N, size_t C,
                       size_t OC, QuantScheme scheme, BitLinearQuant *bq)
{
    if (scheme == QUANT_F32) {
        matmul_forward(out, inp, w, N, C, OC);
        return;
    }
    double t0 = prof_begin();
    bq->wscale = weight_quantise_noisy(scheme, w, OC * C, bq->wq, bq->noise);
    RowQuant a = {act_quant_int8, inp, bq->xq, bq->xscale, C};
    quantise_rows(&a, N);
    prof_end(PROF_QUANT, t0);
    t0 = prof_begin();
    /* int8 x ternary as exact integer sums, rescaled once per output */
    uint8_t *codes = (uint8_t *)workspace((OC * C + 3) / 4);
    for (size_t i = 0; i < OC * C; i++) codes[i] = (uint8_t)(bq->wq[i] + 1);
    gemm_codes_nt(out, bq->xq, bq->xscale, codes, bq->wscale, N, C, OC, 0);
    prof_end(PROF_MATMUL_FWD, t0);
}

/* int8 values as floats, times the scale of their row of C */
typedef struct {
    float *out;
    const int8_t *q;
    const float *scale;
    size_t C;
} Dequant;

static void dequant_range(void *ctx, size_t i0, size_t i1, int thread)
{
    (void)thread;
    const Dequant *d = ctx;
    for (size_t i = i0; i < i1;) {  /* by row: one scale each */
        size_t row = i / d->C, end = (row + 1) * d->C < i1 ? (row + 1) * d->C : i1;
        float s = d->scale[row];
        for (; i < end; i++) d->out[i] = (float)d->q[i] * s;
    }
}

/* rows [c0, c1) of the transposed codes: codes_t (C,OC) = wq (OC,C)^T + 1 */
typedef struct {
    uint8_t *codes_t;
    const int8_t *wq;
    size_t OC, C;
} CodesT;

static void transpose_codes(void *ctx, size_t c0, size_t c1, int thread)
{
    (void)thread;
    const CodesT *t = ctx;
    for (size_t c = c0; c < c1; c++)
        for (size_t o = 0; o < t->OC; o++) t->codes_t[c * t->OC + o] = (uint8_t)(t->wq[o * t->C + c] + 1);
}

void grad_quant_int8(const float *g, size_t n, int8_t *q, float *scale)
{
    float amax = kern.absmax_f32(g, n);
    if (!(amax >= FLT_MIN)) {  /* all zero (or too small to scale): nothing flows */
        memset(q, 0, n);
        *scale = 0;
        return;
    }
    float s = 127.0f / amax;
    kern.quantize_i8(g, n, s, q);
    *scale = 1.0f / s;
}

/* STE: dinp (N,C) += dout (N,OC) @ Wdq (OC,C), in integers (layers.h);
 * dw (OC,C) += dout^T @ Xdq (N,C) in float */
void bitlinear_backward(float *dinp, float *dw, const float *dout, const float *inp,
                        const float *w, size_t N, size_t C, size_t OC, QuantScheme scheme,
                        const BitLinearQuant *bq)
{
    if (scheme == QUANT_F32) {
        matmul_backward(dinp, dw, dout, inp, w, N, C, OC);
        return;
    }
    double t0 = prof_begin();
    if (dinp) {
        /* as the forward product, on the transposed codes (C,OC), with
         * dout's rows quantised to int8: exact integer sums, rescaled */
        size_t codes_f = (OC * C + 3) / 4, rows_f = (N * OC + 3) / 4;
        float *ws = workspace(codes_f + rows_f + N), *gscale = ws + codes_f + rows_f;
        uint8_t *codes_t = (uint8_t *)ws;
        int8_t *gq = (int8_t *)(ws + codes_f);
        CodesT ct = {codes_t, bq->wq, OC, C};
        parallel_for_min(C, OC * C, 4 * PARALLEL_BLOCK, transpose_codes, &ct);
        RowQuant g = {grad_quant_int8, dout, gq, gscale, OC};
        quantise_rows(&g, N);
        gemm_codes_nt(dinp, gq, gscale, codes_t, bq->wscale, N, OC, C, 1);
    }
    if (dw) {
        Dequant d = {workspace(N * C), bq->xq, bq->xscale, C};
        parallel_elements(N * C, dequant_range, &d);
        gemm_tn(dw, dout, d.out, OC, N, C, 1.0f);
    }
    prof_end(PROF_MATMUL_BWD, t0);
}

/* ---- rotary position embedding ------------------------------------------ */

/* x (N,NH,HS): pair j of every head of row i turns by sign * pos[i] * freq_j,
 * freq_j = theta^(-2j/HS). The angle and its sine and cosine are taken in
 * double (at position 4096 a float angle is already off by 5e-4 rad) and
 * kept in a table by position, grown on demand: the same numbers every
 * call, without a sin/cos per row per call. Callers are one thread at a
 * time. */
static const float *rope_table(size_t HS, float theta, size_t n_pos)
{
    static float *tab;  /* (n_pos, HS/2, 2): cos, sin */
    static size_t tab_hs, tab_pos;
    static float tab_theta;
    if (tab && tab_hs == HS && tab_theta == theta && tab_pos >= n_pos) return tab;
    if (n_pos < 256) n_pos = 256;
    free(tab);
    tab = xmalloc(n_pos * HS * sizeof *tab);
    double step = pow((double)theta, -2.0 / (double)HS);  /* freq_{j+1} / freq_j */
    for (size_t p = 0; p < n_pos; p++) {
        double freq = 1.0;
        for (size_t j = 0; j < HS / 2; j++, freq *= step) {
            double angle = (double)p * freq;
            tab[(p * (HS / 2) + j) * 2] = (float)cos(angle);
            tab[(p * (HS / 2) + j) * 2 + 1] = (float)sin(angle);
        }
    }
    tab_hs = HS;
    tab_theta = theta;
    tab_pos = n_pos;
    return tab;
}

typedef struct {
    float *x;
    const int *pos;
    const float *tab;
    size_t NH, HS;
    float sign;
} Rope;

static void rope_rows(void *ctx, size_t i0, size_t i1, int thread)
{
    (void)thread;
    const Rope *r = ctx;
    float *x = r->x;
    float sign = r->sign;
    const int *pos = r->pos;
    const float *tab = r->tab;
    size_t NH = r->NH, HS = r->HS;
    for (size_t i = i0; i < i1; i++) {
        const float *cs = tab + (size_t)pos[i] * HS;
        for (size_t j = 0; j < HS / 2; j++) {
            float c = cs[2 * j], s = sign * cs[2 * j + 1];
            for (size_t h = 0; h < NH; h++) {
                float *p = x + (i * NH + h) * HS + 2 * j;
                float x0 = p[0], x1 = p[1];
                p[0] = x0 * c - x1 * s;
                p[1] = x0 * s + x1 * c;
            }
        }
    }
}

static void rope_rotate(float *x, const int *pos, size_t N, size_t NH, size_t HS, float theta, float sign)
{
    size_t max_pos = 0;
    for (size_t i = 0; i < N; i++)
        if ((size_t)pos[i] + 1 > max_pos) max_pos = (size_t)pos[i] + 1;
    Rope r = {x, pos, rope_table(HS, theta, max_pos), NH, HS, sign};
    parallel_for_min(N, N * NH * HS, 4 * PARALLEL_BLOCK, rope_rows, &r);
}

void rope_forward(float *x, const int *pos, size_t N, size_t NH, size_t HS, float theta)
{
    rope_rotate(x, pos, N, NH, HS, theta, 1.0f);
}

/* A rotation's Jacobian is the rotation itself, so the gradient goes back
 * through its transpose: the same angle, turned the other way. */
void rope_backward(float *dx, const int *pos, size_t N, size_t NH, size_t HS, float theta)
{
    rope_rotate(dx, pos, N, NH, HS, theta, -1.0f);
}

/* ---- causal self-attention ------------------------------------------------ */

/* one query at a time (decoding) */
void attention_query(float *out, float *att, const float *q, const float *k, const float *v, size_t n,
                     size_t stride, size_t HS)
{
    float scale = 1.0f / sqrtf((float)HS);
    /* keys four at a time, then one at a time */
    size_t t2 = 0;
    for (; t2 + 4 <= n; t2 += 4) {
        float s[4];
        kern.dot4_f32(q, k + t2 * stride, stride, HS, s);
        for (int j = 0; j < 4; j++) att[t2 + j] = s[j] * scale;
    }
    for (; t2 < n; t2++) att[t2] = kern.dot_f32(q, k + t2 * stride, HS) * scale;
    kern.softmax_f32(att, att, n, NULL);
    for (size_t i = 0; i < HS; i++) out[i] = 0;
    for (t2 = 0; t2 + 4 <= n; t2 += 4) kern.axpy4_f32(out, v + t2 * stride, stride, att + t2, HS);
    for (; t2 < n; t2++) {
        const float *vt = v + t2 * stride;
        for (size_t i = 0; i < HS; i++) out[i] += att[t2] * vt[i];
    }
}

/* Attention work splits by (sequence, head): each owns disjoint slices of
 * every output, so threads never share a write and results do not depend
 * on the thread count. Within a head, queries go in blocks of 4 rows, and
 * every product is a small matrix product on the float tiles (gemm_block),
 * cut to the causal triangle: query rows t0..t0+3 need keys 0..t0+3 only
 * (the scores are computed up to the next multiple of 16 columns, the
 * tile width, and the surplus is overwritten). Per (sequence, head), with
 * Q, K, V, dO the head's (T, HS) slices and P the probabilities:
 *
 *   forward    S = scale Q K^T, P = softmax(S) by row, O = P V
 *   backward   dP = dO V^T, dS = P * (dP - rowsum(P * dP)),
 *              dQ += scale dS K, dK += scale dS^T Q, dV += P^T dO
 *
 * K^T and V^T are copied once per head, so that the products read rows of
 * b; the tiles read a (P^T, dS^T for the last two) with any strides. */
typedef struct {
    float *out, *att, *dq, *dk, *dv, *datt;
    const float *q, *k, *v, *dout, *att_in;
    size_t T, C, NH;
} Attn;

/* src (T rows, `stride` apart, of HS) -> dst (HS, T) */
static void transpose_head(float *dst, const float *src, size_t T, size_t stride, size_t HS)
{
    for (size_t t = 0; t < T; t++)
        for (size_t i = 0; i < HS; i++) dst[i * T + t] = src[t * stride + i];
}

/* the columns computed for query rows up to t1 (exclusive): t1 rounded up
 * to the tile's 16, at most T */
static size_t causal_cols(size_t t1, size_t T)
{
    size_t n = (t1 + 15) / 16 * 16;
    return n < T ? n : T;
}

static void attention_forward_heads(void *ctx, size_t i0, size_t i1, int thread)
{
    (void)thread;
    const Attn *A = ctx;
    size_t T = A->T, C = A->C, NH = A->NH, HS = C / NH;
    float scale = 1.0f / sqrtf((float)HS);
    float *kt = xmalloc(HS * T * sizeof *kt);
    for (size_t bh = i0; bh < i1; bh++) {
        size_t b = bh / NH, h = bh % NH;
        const float *q = A->q + b * T * C + h * HS, *v = A->v + b * T * C + h * HS;
        float *att = A->att + bh * T * T, *out = A->out + b * T * C + h * HS;
        transpose_head(kt, A->k + b * T * C + h * HS, T, C, HS);
        for (size_t t0 = 0; t0 < T; t0 += 4) {
            size_t m = T - t0 < 4 ? T - t0 : 4, t1 = t0 + m, n = causal_cols(t1, T);
            float *s = att + t0 * T;
            memset(s, 0, m * T * sizeof *s);
            gemm_block(s, T, q + t0 * C, C, 1, kt, T, m, HS, n, scale);
            for (size_t t = t0; t < t1; t++) {
                float *a = att + t * T;
                kern.softmax_f32(a, a, t + 1, NULL);
                memset(a + t + 1, 0, (T - t - 1) * sizeof *a);
                memset(out + t * C, 0, HS * sizeof *out);
            }
            gemm_block(out + t0 * C, C, s, T, 1, v, C, m, t1, HS, 1.0f);
        }
    }
    free(kt);
}

void attention_forward(float *out, float *att, const float *q, const float *k, const float *v,
                       size_t B, size_t T, size_t C, size_t NH)
{
    Attn A = {.out = out, .att = att, .q = q, .k = k, .v = v, .T = T, .C = C, .NH = NH};
    parallel_for(B * NH, attention_forward_heads, &A);
}

static void attention_backward_heads(void *ctx, size_t i0, size_t i1, int thread)
{
    (void)thread;
    const Attn *A = ctx;
    size_t T = A->T, C = A->C, NH = A->NH, HS = C / NH;
    float scale = 1.0f / sqrtf((float)HS);
    float *vt = xmalloc(HS * T * sizeof *vt);
    for (size_t bh = i0; bh < i1; bh++) {
        size_t b = bh / NH, h = bh % NH, off = b * T * C + h * HS;
        const float *att = A->att_in + bh * T * T, *dout = A->dout + off;
        const float *q = A->q + off, *k = A->k + off;
        float *datt = A->datt + bh * T * T, *dq = A->dq + off, *dk = A->dk + off, *dv = A->dv + off;
        transpose_head(vt, A->v + off, T, C, HS);
        for (size_t t0 = 0; t0 < T; t0 += 4) {
            size_t m = T - t0 < 4 ? T - t0 : 4, t1 = t0 + m;
            float *ds = datt + t0 * T;
            memset(ds, 0, m * T * sizeof *ds);
            gemm_block(ds, T, dout + t0 * C, C, 1, vt, T, m, HS, causal_cols(t1, T), 1.0f);
            for (size_t t = t0; t < t1; t++) {
                const float *a = att + t * T;
                float *da = datt + t * T;
                size_t n = t + 1;
                float adot = kern.dot_f32(a, da, n);
                for (size_t t2 = 0; t2 < n; t2++) da[t2] = a[t2] * (da[t2] - adot);
                memset(da + n, 0, (T - n) * sizeof *da);
            }
            gemm_block(dq + t0 * C, C, ds, T, 1, k, C, m, t1, HS, scale);
        }
        /* key rows g0..g0+3 are seen by queries g0..T-1: P^T and dS^T read
         * in place, element (key i, query k) at [(g0 + k) T + g0 + i] (zero
         * where the query comes before the key) */
        for (size_t g0 = 0; g0 < T; g0 += 4) {
            size_t m = T - g0 < 4 ? T - g0 : 4;
            gemm_block(dv + g0 * C, C, att + g0 * T + g0, 1, T, dout + g0 * C, C, m, T - g0, HS, 1.0f);
            gemm_block(dk + g0 * C, C, datt + g0 * T + g0, 1, T, q + g0 * C, C, m, T - g0, HS, scale);
        }
    }
    free(vt);
}

void attention_backward(float *dq, float *dk, float *dv, float *datt, const float *dout,
                        const float *q, const float *k, const float *v, const float *att,
                        size_t B, size_t T, size_t C, size_t NH)
{
    Attn A = {.dq = dq, .dk = dk, .dv = dv, .datt = datt, .q = q, .k = k, .v = v, .dout = dout,
              .att_in = att, .T = T, .C = C, .NH = NH};
    parallel_for(B * NH, attention_backward_heads, &A);
}

/* ---- feed-forward nonlinearities ------------------------------------------ */

/* silu(gate (N,H)) * up (N,H) -> out (N,H); the formulas, forward and
 * backward, are in kernels_scalar.c */
static void swiglu_range(void *ctx, size_t i0, size_t i1, int thread)
{
    (void)thread;
    const Elem *e = ctx;
    kern.swiglu_f32(e->out + i0, e->in + i0, e->in2 + i0, i1 - i0);
}

void swiglu_forward(float *out, const float *gate, const float *up, size_t N, size_t H)
{
    Elem e = {.out = out, .in = gate, .in2 = up};
    parallel_elements(N * H, swiglu_range, &e);
}

static void swiglu_bwd_range(void *ctx, size_t i0, size_t i1, int thread)
{
    (void)thread;
    const Elem *e = ctx;
    kern.swiglu_bwd_f32(e->out + i0, e->out2 + i0, e->in + i0, e->in2 + i0, e->in3 + i0, i1 - i0);
}

void swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate,
                     const float *up, size_t N, size_t H)
{
    Elem e = {.out = dgate, .out2 = dup, .in = dout, .in2 = gate, .in3 = up};
    parallel_elements(N * H, swiglu_bwd_range, &e);
}

static void relu2_range(void *ctx, size_t i0, size_t i1, int thread)
{
    (void)thread;
    const Elem *e = ctx;
    kern.relu2_f32(e->out + i0, e->in + i0, i1 - i0);
}

/* max(0, inp (N,H))^2 -> out (N,H) */
void relu2_forward(float *out, const float *inp, size_t N, size_t H)
{
    Elem e = {.out = out, .in = inp};
    parallel_elements(N * H, relu2_range, &e);
}

static void relu2_bwd_range(void *ctx, size_t i0, size_t i1, int thread)
{
    (void)thread;
    const Elem *e = ctx;
    kern.relu2_bwd_f32(e->out + i0, e->in + i0, e->in2 + i0, i1 - i0);
}

void relu2_backward(float *dinp, const float *dout, const float *inp, size_t N, size_t H)
{
    Elem e = {.out = dinp, .in = dout, .in2 = inp};
    parallel_elements(N * H, relu2_bwd_range, &e);
}

/* ---- loss ------------------------------------------------------------------- */

/* logits (N,V), targets (N) -> losses (N), probs (N,V). The loss is taken
 * as log(sum) - (logit - max) rather than -log(prob), which stays finite
 * when the target's probability underflows to 0. */
typedef struct {
    float *losses, *probs, *dlogits;
    const float *logits, *probs_in;
    const int *targets;
    float dloss_scale;
    size_t V;
} Xent;

/* rows of the loss, each on one thread */
static void xent_rows(void *ctx, size_t n0, size_t n1, int thread)
{
    (void)thread;
    const Xent *x = ctx;
    size_t V = x->V;
    for (size_t n = n0; n < n1; n++) {
        const float *l = x->logits + n * V;
        float *p = x->probs + n * V;
        int tgt = x->targets[n];
        float lt = tgt < 0 ? 0.0f : l[tgt];  /* read before p may overwrite l */
        float maxv, sum = kern.softmax_f32(p, l, V, &maxv);
        x->losses[n] = tgt < 0 ? 0.0f : logf(sum) - (lt - maxv);
    }
}

void crossentropy_forward(float *losses, float *probs, const float *logits, const int *targets,
                          size_t N, size_t V)
{
    Xent x = {.losses = losses, .probs = probs, .logits = logits, .targets = targets, .V = V};
    parallel_for_min(N, N * V, 4 * PARALLEL_BLOCK, xent_rows, &x);
}

/* dlogits (N,V) += (probs (N,V) - onehot(targets)) * dloss_scale */
static void xent_bwd_rows(void *ctx, size_t n0, size_t n1, int thread)
{
    (void)thread;
    const Xent *x = ctx;
    size_t V = x->V;
    for (size_t n = n0; n < n1; n++) {
        int tgt = x->targets[n];
        if (tgt < 0) continue;
        const float *p = x->probs_in + n * V;
        float *d = x->dlogits + n * V;
        for (size_t i = 0; i < V; i++) d[i] += p[i] * x->dloss_scale;
        d[tgt] -= x->dloss_scale;
    }
}

void crossentropy_backward(float *dlogits, const float *probs, const int *targets,
                           float dloss_scale, size_t N, size_t V)
{
    Xent x = {.dlogits = dlogits, .probs_in = probs, .targets = targets, .dloss_scale = dloss_scale, .V = V};
    parallel_for_min(N, N * V, 4 * PARALLEL_BLOCK, xent_bwd_rows, &x);
}
