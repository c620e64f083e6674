#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "infer.h"
#include "kernels.h"
#include "layers.h"
#include "optim.h"
#include "ternary.h"
#include "threads.h"
#include "util.h"

/* ---- timing ----------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median seconds of fn over reps runs after one warm-up; spread relative. */
static double time_median(void (*fn)(void *), void *ctx, int reps, double *spread)
{
    double t[64];
    if (reps > 64) reps = 64;
    fn(ctx);
    for (int i = 0; i < reps; i++) {
        double t0 = now_seconds();
        fn(ctx);
        t[i] = now_seconds() - t0;
    }
    qsort(t, (size_t)reps, sizeof t[0], cmp_double);
    double med = reps % 2 ? t[reps / 2] : 0.5 * (t[reps / 2 - 1] + t[reps / 2]);
    *spread = med > 0 ? (t[reps - 1] - t[0]) / med : 0;
    return med;
}

static BenchRow *add_row(BenchTable *t)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 32;
        t->rows = xrealloc(t->rows, t->cap * sizeof *t->rows);
    }
    BenchRow *r = &t->rows[t->n++];
    memset(r, 0, sizeof *r);
    r->threads = threads_count();
    r->rate = r->speedup = NAN;
    r->unit = "us";
    r->rate_unit = "";
    return r;
}

static void fill_random(float *x, size_t n, Rng *r)
{
    for (size_t i = 0; i < n; i++) x[i] = rng_normal(r);
}

/* ---- kernels ---------------------------------------------------------- */

typedef struct {
    PackedTernary w;
    int8_t *x;
    uint8_t *codes;
    int32_t *out;
    float *a, *b, *c;
    size_t M, K, N, batch;
} KCtx;

static void run_matvec(void *p)
{
    KCtx *k = p;
    for (size_t i = 0; i < k->batch; i++)
        ternary_matvec(k->out + i * k->w.rows, &k->w, k->x + i * ternary_padded_cols(&k->w));
}
/* the same with the weights five to a byte (convert --pack --bits 1.6) */
static void run_matvec_base3(void *p) { run_matvec(p); }
static int is_matvec(void (*run)(void *)) { return run == run_matvec || run == run_matvec_base3; }
/* batch rows of activations against the M x K ternary matrix as unpacked
 * codes: the BitLinear forward product of training */
static void run_matmat(void *p)
{
    KCtx *k = p;
    gemm_codes_nt(k->c, k->x, k->a, k->codes, 1.0f, k->batch, k->K, k->M, 0);
}
static void run_gemm_nt(void *p) { KCtx *k = p; gemm_nt(k->c, k->a, k->b, k->M, k->K, k->N, 0); }
/* one row of K activations, M rows: the quantisation of a batch's inputs */
static void run_quantize(void *p)
{
    KCtx *k = p;
    for (size_t r = 0; r < k->M; r++) kern.quantize_i8(k->a + r * k->K, k->K, 60.0f, k->x + r * k->K);
}
/* an AdamW update of M*K weights (a on b's gradients, c and the b copy as moments) */
static void run_adamw(void *p)
{
    KCtx *k = p;
    const float consts[8] = {0.9f, 0.95f, 1e-8f, 1e-9f, 0.1f, 0.5f, 0.5f, 1.0f};
    kern.adamw_f32(k->a, k->b, k->c, k->c + k->M * k->K, k->M * k->K, consts);
}
/* Row kernels of the float layers: M rows of K values; a, b inputs, c
 * outputs and gradients (3 M K floats) */
static void run_exp(void *p) { KCtx *k = p; kern.exp_f32(k->c, k->a, k->M * k->K); }
static void run_softmax(void *p)
{
    KCtx *k = p;
    for (size_t r = 0; r < k->M; r++) kern.softmax_f32(k->c + r * k->K, k->a + r * k->K, k->K, NULL);
}
static void run_rmsnorm(void *p)
{
    KCtx *k = p;
    for (size_t r = 0; r < k->M; r++) kern.rmsnorm_f32(k->c + r * k->K, k->a + r * k->K, k->b, k->K, 1e-5f);
}
static void run_rmsnorm_bwd(void *p)
{
    KCtx *k = p;
    size_t n = k->M * k->K;
    for (size_t r = 0; r < k->M; r++)
        kern.rmsnorm_bwd_f32(k->c + r * k->K, k->c + n, k->b + r * k->K, k->a + r * k->K, k->b, 0.7f, k->K);
}
static void run_swiglu(void *p) { KCtx *k = p; kern.swiglu_f32(k->c, k->a, k->b, k->M * k->K); }
static void run_swiglu_bwd(void *p)
{
    KCtx *k = p;
    size_t n = k->M * k->K;
    kern.swiglu_bwd_f32(k->c, k->c + n, k->c + 2 * n, k->a, k->b, n);
}
static void run_relu2(void *p) { KCtx *k = p; kern.relu2_f32(k->c, k->a, k->M * k->K); }
static void run_relu2_bwd(void *p) { KCtx *k = p; kern.relu2_bwd_f32(k->c, k->b, k->a, k->M * k->K); }

static int is_row_kernel(void (*run)(void *))
{
    return run == run_exp || run == run_softmax || run == run_rmsnorm || run == run_rmsnorm_bwd || run == run_swiglu ||
           run == run_swiglu_bwd || run == run_relu2 || run == run_relu2_bwd;
}

/* Attention. Training: forward and backward of the causal attention over
 * batch sequences of M positions, K = dim, N heads (a: q, k, v, dout; c:
 * out, att, dq, dk, dv, datt). Decoding: one query per head against a
 * KV cache of M int8 rows of K = head size, N heads, as the sampler does
 * it (x: q and the rows; a: the weights; c: the output). */
static void run_attention_train(void *p)
{
    KCtx *k = p;
    size_t n = k->batch * k->M * k->K, att = k->batch * k->N * k->M * k->M;
    float *q = k->a, *kk = q + n, *v = kk + n, *dout = v + n;
    float *out = k->c, *a = out + n, *dq = a + att, *dk = dq + n, *dv = dk + n, *datt = dv + n;
    attention_forward(out, a, q, kk, v, k->batch, k->M, k->K, k->N);
    attention_backward(dq, dk, dv, datt, dout, q, kk, v, a, k->batch, k->M, k->K, k->N);
}
static void run_attention_decode(void *p)
{
    KCtx *k = p;
    int32_t *dots = k->out;
    for (size_t h = 0; h < k->N; h++) {
        const int8_t *q = k->x + h * k->K, *rows = k->x + k->N * k->K + h * k->M * k->K;
        float *att = k->a, *y = k->c + h * k->K;
        kern.dot_i8_rows(dots, q, rows, k->K, k->M);
        for (size_t t = 0; t < k->M; t++) att[t] = (float)dots[t] * 0.001f;
        kern.softmax_f32(att, att, k->M, NULL);
        memset(y, 0, k->K * sizeof *y);
        kern.axpy_i8_rows(y, att, rows, k->K, k->M);
    }
}
static int is_attention(void (*run)(void *)) { return run == run_attention_train || run == run_attention_decode; }

static void run_gemm_nn(void *p) { KCtx *k = p; gemm_nn(k->c, k->a, k->b, k->M, k->K, k->N, 1.0f); }
static void run_gemm_tn(void *p) { KCtx *k = p; gemm_tn(k->c, k->a, k->b, k->M, k->K, k->N, 1.0f); }

typedef struct {
    const char *name;
    void (*run)(void *);
    size_t M, K, N, batch;  /* matvec: rows M, cols K, batch vectors */
} KernelBench;

static void setup_kernel(const KernelBench *kb, KCtx *k, Rng *r)
{
    memset(k, 0, sizeof *k);
    k->M = kb->M;
    k->K = kb->K;
    k->N = kb->N;
    k->batch = kb->batch;
    if (is_matvec(kb->run)) {
        int8_t *q = xmalloc(kb->M * kb->K);
        for (size_t i = 0; i < kb->M * kb->K; i++) q[i] = (int8_t)(rng_below(r, 3)) - 1;
        ternary_pack(&k->w, q, (uint32_t)kb->M, (uint32_t)kb->K, 1.0f,
                     kb->run == run_matvec_base3 ? PACK_BASE3 : PACK_2BIT);
        free(q);
        size_t stride = ternary_padded_cols(&k->w);
        k->x = xcalloc(kb->batch * stride, 1);
        for (size_t b = 0; b < kb->batch; b++)
            for (size_t i = 0; i < kb->K; i++) k->x[b * stride + i] = (int8_t)(rng_u64(r) >> 56);
        k->out = xmalloc(kb->batch * kb->M * sizeof *k->out);
        return;
    }
    if (kb->run == run_matmat) {
        k->codes = xmalloc(kb->M * kb->K);
        for (size_t i = 0; i < kb->M * kb->K; i++) k->codes[i] = (uint8_t)rng_below(r, 3);
        k->x = xmalloc(kb->batch * kb->K);
        for (size_t i = 0; i < kb->batch * kb->K; i++) k->x[i] = (int8_t)((int)rng_below(r, 255) - 127);
        k->a = xmalloc(kb->batch * sizeof(float));
        for (size_t i = 0; i < kb->batch; i++) k->a[i] = 0.01f;
        k->c = xmalloc(kb->batch * kb->M * sizeof(float));
        return;
    }
    if (is_row_kernel(kb->run)) {
        size_t n = kb->M * kb->K;
        k->a = xmalloc(n * sizeof(float));
        k->b = xmalloc(n * sizeof(float));
        k->c = xcalloc(3 * n, sizeof(float));
        fill_random(k->a, n, r);
        fill_random(k->b, n, r);
        if (kb->run == run_softmax)  /* attention scores and logits: a few units wide */
            for (size_t i = 0; i < n; i++) k->a[i] *= 3.0f;
        return;
    }
    if (kb->run == run_attention_train) {
        size_t n = kb->batch * kb->M * kb->K, att = kb->batch * kb->N * kb->M * kb->M;
        k->a = xmalloc(4 * n * sizeof(float));
        k->c = xcalloc(4 * n + 2 * att, sizeof(float));
        fill_random(k->a, 4 * n, r);
        return;
    }
    if (kb->run == run_attention_decode) {
        size_t n = kb->N * kb->K * (kb->M + 1);
        k->x = xmalloc(n);
        for (size_t i = 0; i < n; i++) k->x[i] = (int8_t)((int)rng_below(r, 255) - 127);
        k->a = xmalloc(kb->M * sizeof(float));
        k->c = xcalloc(kb->N * kb->K, sizeof(float));
        k->out = xmalloc(kb->M * sizeof *k->out);
        return;
    }
    if (kb->run == run_quantize || kb->run == run_adamw) {
        size_t n = kb->M * kb->K;
        k->a = xmalloc(n * sizeof(float));
        k->b = xmalloc(n * sizeof(float));
        k->c = xcalloc(2 * n, sizeof(float));
        k->x = xmalloc(n);
        fill_random(k->a, n, r);
        fill_random(k->b, n, r);
        return;
    }
    /* gemm operand sizes, whatever the variant: a (M,K) or (K,M), b (N,K) or (K,N) */
    k->a = xmalloc(kb->M * kb->K * sizeof(float));
    k->b = xmalloc(kb->K * kb->N * sizeof(float));
    k->c = xcalloc(kb->M * kb->N, sizeof(float));
    fill_random(k->a, kb->M * kb->K, r);
    fill_random(k->b, kb->K * kb->N, r);
}

static void free_kernel(KCtx *k)
{
    ternary_free(&k->w);
    free(k->codes);
    free(k->x);
    free(k->out);
    free(k->a);
    free(k->b);
    free(k->c);
}

/* One core reading a buffer several times the size of any last-level
 * cache, front to back, and summing its bytes (sum_u8): the roof for
 * streaming a large model's weights. */
static void run_read(void *p)
{
    KCtx *k = p;
    const uint8_t *at = k->codes + (-(uintptr_t)k->codes & 63);  /* whole cache lines */
    k->out[0] = (int32_t)kern.sum_u8(at, k->M);
}

static void bench_read_bandwidth(const BenchOptions *o, BenchTable *t)
{
    int top = -1;
    for (int lv = 0; lv < SIMD_LEVELS; lv++)
        if (o->levels[lv] && kernels_for_level((SimdLevel)lv, &kern) == 0) top = lv;
    if (top < 0) return;
    kernels_for_level((SimdLevel)top, &kern);
    KCtx k;
    memset(&k, 0, sizeof k);
    /* M bytes: several times any L3, less on a 32-bit host */
    k.M = (size_t)(o->quick ? 128 : sizeof(size_t) < 8 ? 256 : 512) << 20;
    k.codes = xmalloc(k.M + 64);
    memset(k.codes, 1, k.M + 64);  /* every page really there */
    k.out = xmalloc(sizeof *k.out);
    double sp, sec = time_median(run_read, &k, o->quick ? 3 : 11, &sp);
    BenchRow *row = add_row(t);
    snprintf(row->bench, sizeof row->bench, "read bandwidth");
    snprintf(row->shape, sizeof row->shape, "%zu MB, one core", k.M >> 20);
    snprintf(row->simd, sizeof row->simd, "%s", simd_name((SimdLevel)top));
    row->threads = 1;
    row->median = sec * 1e3;
    row->unit = "ms";
    row->spread = sp;
    row->rate = (double)k.M / sec / 1e9;
    row->rate_unit = "GB/s";
    free(k.codes);
    free(k.out);
}

void bench_kernels(const BenchOptions *o, BenchTable *t)
{
    /* the shapes of the sampling issue (dim 768, hidden 2048) and of the
     * nanoGPT training shape (768 tokens x dim 128, hidden 352) */
    static const KernelBench full[] = {
        {"ternary_matvec", run_matvec, 288, 288, 0, 1},  /* an odd number of 64-blocks */
        {"ternary_matvec", run_matvec, 768, 768, 0, 1},
        {"ternary_matvec", run_matvec, 2048, 768, 0, 1},
        {"ternary_matvec", run_matvec, 768, 2048, 0, 1},
        {"matvec 1.6-bit", run_matvec_base3, 288, 288, 0, 1},
        {"matvec 1.6-bit", run_matvec_base3, 2048, 768, 0, 1},
        {"ternary_matmat", run_matmat, 768, 768, 0, 64},
        {"ternary_matmat", run_matmat, 352, 128, 0, 768},
        {"gemm_nt (fwd)", run_gemm_nt, 768, 128, 352, 0},
        {"gemm_nn (bwd dx)", run_gemm_nn, 768, 352, 128, 0},
        {"gemm_tn (bwd dW)", run_gemm_tn, 352, 768, 128, 0},
        {"quantize_i8", run_quantize, 768, 352, 1, 0},
        {"adamw", run_adamw, 1024, 864, 1, 0},
        {"exp", run_exp, 768, 352, 0, 0},
        {"softmax (attn)", run_softmax, 3072, 64, 0, 0},
        {"softmax (loss)", run_softmax, 768, 257, 0, 0},
        {"rmsnorm", run_rmsnorm, 768, 128, 0, 0},
        {"rmsnorm_bwd", run_rmsnorm_bwd, 768, 128, 0, 0},
        {"swiglu", run_swiglu, 768, 352, 0, 0},
        {"swiglu_bwd", run_swiglu_bwd, 768, 352, 0, 0},
        {"relu2", run_relu2, 768, 512, 0, 0},
        {"relu2_bwd", run_relu2_bwd, 768, 512, 0, 0},
        {"attention (train)", run_attention_train, 64, 128, 4, 12},
        {"attention (decode)", run_attention_decode, 256, 48, 6, 0},
    };
    static const KernelBench quick[] = {
        {"ternary_matvec", run_matvec, 256, 256, 0, 1},
        {"gemm_nt (fwd)", run_gemm_nt, 64, 64, 64, 0},
    };
    const KernelBench *list = o->quick ? quick : full;
    size_t n = o->quick ? sizeof quick / sizeof quick[0] : sizeof full / sizeof full[0];
    Kernels saved = kern;
    Rng r;
    rng_seed(&r, 1);
    for (size_t i = 0; i < n; i++) {
        KCtx k;
        setup_kernel(&list[i], &k, &r);
        double scalar_time = NAN;
        for (int lv = 0; lv < SIMD_LEVELS; lv++) {
            if (!o->levels[lv] || kernels_for_level((SimdLevel)lv, &kern) < 0) continue;
            BenchRow *row = add_row(t);
            double sp;
            double sec = time_median(list[i].run, &k, o->quick ? 5 : 21, &sp);
            int rows = is_row_kernel(list[i].run);
            int elementwise = list[i].run == run_quantize || list[i].run == run_adamw || rows;
            int batched = is_matvec(list[i].run) || list[i].run == run_matmat;
            const KernelBench *b = &list[i];
            /* attention: the causal pairs (query, key) times the head size,
             * 2 products forward and 4 backward; decoding, 2 over the cache */
            double pairs = b->run == run_attention_train ? (double)b->M * (b->M + 1) / 2 * b->batch * b->K
                                                         : (double)b->M * b->N * b->K;
            double ops = is_attention(b->run) ? 2.0 * pairs * (b->run == run_attention_train ? 6 : 2)
                         : batched            ? 2.0 * b->M * b->K * b->batch
                         : elementwise        ? (double)b->M * b->K
                                              : 2.0 * b->M * b->K * b->N;
            snprintf(row->bench, sizeof row->bench, "%s", list[i].name);
            if (batched && list[i].batch > 1)
                snprintf(row->shape, sizeof row->shape, "%zux%zu x%zu vectors", list[i].M, list[i].K, list[i].batch);
            else if (batched)
                snprintf(row->shape, sizeof row->shape, "%zux%zu", list[i].M, list[i].K);
            else if (b->run == run_attention_train)
                snprintf(row->shape, sizeof row->shape, "B%zu T%zu C%zu h%zu", b->batch, b->M, b->K, b->N);
            else if (b->run == run_attention_decode)
                snprintf(row->shape, sizeof row->shape, "%zu heads x %zu rows of %zu", b->N, b->M, b->K);
            else if (rows)
                snprintf(row->shape, sizeof row->shape, "%zu rows of %zu", list[i].M, list[i].K);
            else if (elementwise)
                snprintf(row->shape, sizeof row->shape, "%zu values", list[i].M * list[i].K);
            else
                snprintf(row->shape, sizeof row->shape, "M%zu K%zu N%zu", list[i].M, list[i].K, list[i].N);
            snprintf(row->simd, sizeof row->simd, "%s", simd_name((SimdLevel)lv));
            row->median = sec * 1e6;
            row->spread = sp;
            row->rate = ops / sec / 1e9;
            row->rate_unit = batched || b->run == run_attention_decode ? "GOP/s" : elementwise ? "Gvalue/s" : "GFLOP/s";
            if (lv == SIMD_SCALAR) scalar_time = sec;
            row->speedup = scalar_time / sec;
        }
        free_kernel(&k);
    }
    bench_read_bandwidth(o, t);
    kern = saved;
}

/* ---- end to end ------------------------------------------------------- */

static ModelConfig default_train_shape(void)
{
    ModelConfig c = {128, 4, 4, 352, 64, 257, FFN_SWIGLU, QUANT_ABSMEAN};
    return c;
}

typedef struct {
    Model m;
    OptimConfig oc;
    int *inputs, *targets;
    size_t B, T;
    uint64_t step;
} TrainCtx;

static void run_train_step(void *p)
{
    TrainCtx *c = p;
    model_zero_grads(&c->m);
    model_forward(&c->m, c->inputs, c->targets, c->B, c->T);
    model_backward(&c->m, c->inputs, c->targets, c->B, c->T, 1.0f);
    double norm = grad_norm(&c->m);
    adamw_update(&c->m, &c->oc, 1e-4f, norm > 1 ? (float)(1 / norm) : 1.0f, ++c->step);
}

static void shape_string(char *out, size_t n, const ModelConfig *c, uint32_t batch)
{
    if (batch)
        snprintf(out, n, "d%u L%u h%u H%u T%u V%u B%u", c->dim, c->n_layers, c->n_heads, c->hidden, c->ctx,
                 c->vocab, batch);
    else
        snprintf(out, n, "d%u L%u h%u H%u T%u V%u", c->dim, c->n_layers, c->n_heads, c->hidden, c->ctx, c->vocab);
}

void bench_train(const BenchOptions *o, BenchTable *t)
{
    ModelConfig c = o->shape.dim ? o->shape : default_train_shape();
    if (o->quick) c = (ModelConfig){32, 1, 2, 96, 16, 257, FFN_SWIGLU, QUANT_ABSMEAN};
    uint32_t B = o->batch ? o->batch : (o->quick ? 4 : 12);
    TrainCtx tc;
    memset(&tc, 0, sizeof tc);
    model_init(&tc.m, &c, B);
    Rng r;
    rng_seed(&r, 2);
    model_init_weights(&tc.m, &r);
    tc.oc = (OptimConfig){1e-3f, 1e-4f, 0, 1000, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f};
    tc.B = B;
    tc.T = c.ctx;
    tc.inputs = xmalloc(B * c.ctx * sizeof *tc.inputs);
    tc.targets = xmalloc(B * c.ctx * sizeof *tc.targets);
    for (size_t i = 0; i < (size_t)B * c.ctx; i++) {
        tc.inputs[i] = (int)rng_below(&r, c.vocab);
        tc.targets[i] = (int)rng_below(&r, c.vocab);
    }
    BenchRow *row = add_row(t);
    double sp, sec = time_median(run_train_step, &tc, o->quick ? 3 : 11, &sp);
    snprintf(row->bench, sizeof row->bench, "train_step");
    shape_string(row->shape, sizeof row->shape, &c, B);
    snprintf(row->simd, sizeof row->simd, "%s", simd_name(kern.level));
    row->median = sec * 1e3;
    row->unit = "ms";
    row->spread = sp;
    row->rate = (double)B * c.ctx / sec;
    row->rate_unit = "tok/s";
    free(tc.inputs);
    free(tc.targets);
    model_free(&tc.m);
}

typedef struct {
    Infer inf;
    uint32_t n_tokens;
    int *prompt;    /* (n_tokens) */
    float *logits;  /* (INFER_BLOCK, V) */
} SampleCtx;

static void run_decode(void *p)
{
    SampleCtx *s = p;
    uint32_t tok = TOK_EOD;
    for (uint32_t pos = 0; pos < s->n_tokens; pos++) {
        const float *lg = infer_forward(&s->inf, (int)tok, pos);
        uint32_t best = 0;
        for (uint32_t v = 1; v < s->inf.cfg.vocab; v++)
            if (lg[v] > lg[best]) best = v;
        tok = best;
    }
}

/* a prompt of n_tokens through the blocks, the last token's logits only:
 * the time to the first generated token's logits */
static void run_prefill(void *p)
{
    SampleCtx *s = p;
    infer_forward_block(&s->inf, s->prompt, s->n_tokens, 0, NULL);
}

/* the same with every token's logits, as l1b-sample --score */
static void run_score(void *p)
{
    SampleCtx *s = p;
    for (uint32_t at = 0; at < s->n_tokens; at += INFER_BLOCK) {
        uint32_t k = s->n_tokens - at < INFER_BLOCK ? s->n_tokens - at : INFER_BLOCK;
        infer_forward_block(&s->inf, s->prompt + at, k, at, s->logits);
    }
}

static void run_first_token(void *p)
{
    SampleCtx *s = p;
    infer_forward(&s->inf, TOK_EOD, 0);
}

void bench_sample(const BenchOptions *o, BenchTable *t)
{
    /* the sampling issue's shapes, context 256 */
    ModelConfig shapes[3] = {
        {128, 4, 4, 512, 256, 512, FFN_SWIGLU, QUANT_ABSMEAN},
        {288, 6, 6, 768, 256, 512, FFN_SWIGLU, QUANT_ABSMEAN},
        {768, 12, 12, 2048, 256, 4096, FFN_SWIGLU, QUANT_ABSMEAN},
    };
    size_t n = 3;
    if (o->shape.dim) shapes[0] = o->shape, n = 1;
    if (o->quick) shapes[0] = (ModelConfig){64, 2, 2, 160, 64, 512, FFN_SWIGLU, QUANT_ABSMEAN}, n = 1;
    for (size_t i = 0; i < n; i++) {
        ModelConfig c = shapes[i];
        if (!c.hidden) c.hidden = model_default_hidden(c.dim, c.ffn_act);
        Tokenizer tok;
        tok_init_bytes(&tok);
        /* a byte tokenizer cannot name vocab > 257 ids, but the model does
         * not care: decoding runs on ids. The random model is made packed,
         * in about the packed model's memory (a float model first would
         * need 16 times that). */
        SampleCtx sc;
        infer_init_random(&sc.inf, &c, &tok, o->packing ? o->packing : model_packing(&c), 3);
        Rng r;
        rng_seed(&r, 4);
        sc.n_tokens = o->quick ? 32 : c.ctx;
        double sp, sec = time_median(run_decode, &sc, o->quick ? 3 : 5, &sp);
        BenchRow *row = add_row(t);
        /* the mean over the positions of a whole decode: per token, said
         * in the name and the unit so that it never reads as a total */
        snprintf(row->bench, sizeof row->bench, "decode per token");
        shape_string(row->shape, sizeof row->shape, &c, 0);
        snprintf(row->simd, sizeof row->simd, "%s", simd_name(kern.level));
        row->median = sec * 1e3 / sc.n_tokens;
        row->unit = "ms/tok";
        row->spread = sp;
        row->rate = sc.n_tokens / sec;
        row->rate_unit = "tok/s";
        /* what a token streams: every weight but the embedding table, of
         * which it reads one row; against "read bandwidth" of kernels */
        double streamed = (double)(sc.inf.weight_bytes - q8_bytes(&sc.inf.emb_q));
        row = add_row(t);
        snprintf(row->bench, sizeof row->bench, "decode weights");
        shape_string(row->shape, sizeof row->shape, &c, 0);
        snprintf(row->simd, sizeof row->simd, "%s", simd_name(kern.level));
        row->median = streamed / 1e6;
        row->unit = "MB/tok";
        row->rate = streamed * sc.n_tokens / sec / 1e9;
        row->rate_unit = "GB/s";
        sc.prompt = xmalloc(sc.n_tokens * sizeof *sc.prompt);
        sc.logits = xmalloc((size_t)INFER_BLOCK * c.vocab * sizeof *sc.logits);
        for (uint32_t j = 0; j < sc.n_tokens; j++) sc.prompt[j] = (int)rng_below(&r, c.vocab);
        sec = time_median(run_prefill, &sc, o->quick ? 3 : 5, &sp);
        row = add_row(t);
        snprintf(row->bench, sizeof row->bench, "prefill");
        shape_string(row->shape, sizeof row->shape, &c, 0);
        snprintf(row->simd, sizeof row->simd, "%s", simd_name(kern.level));
        row->median = sec * 1e3;
        row->unit = "ms";
        row->spread = sp;
        row->rate = sc.n_tokens / sec;
        row->rate_unit = "tok/s";
        sec = time_median(run_score, &sc, o->quick ? 3 : 5, &sp);
        row = add_row(t);
        snprintf(row->bench, sizeof row->bench, "score per token");
        shape_string(row->shape, sizeof row->shape, &c, 0);
        snprintf(row->simd, sizeof row->simd, "%s", simd_name(kern.level));
        row->median = sec * 1e3 / sc.n_tokens;
        row->unit = "ms/tok";
        row->spread = sp;
        row->rate = sc.n_tokens / sec;
        row->rate_unit = "tok/s";
        free(sc.prompt);
        free(sc.logits);
        sec = time_median(run_first_token, &sc, 11, &sp);
        row = add_row(t);
        snprintf(row->bench, sizeof row->bench, "first token");
        shape_string(row->shape, sizeof row->shape, &c, 0);
        snprintf(row->simd, sizeof row->simd, "%s", simd_name(kern.level));
        row->median = sec * 1e3;
        row->unit = "ms";
        row->spread = sp;
        row = add_row(t);
        snprintf(row->bench, sizeof row->bench, "weights+cache");
        shape_string(row->shape, sizeof row->shape, &c, 0);
        snprintf(row->simd, sizeof row->simd, "%s", simd_name(kern.level));
        row->median = (double)(sc.inf.weight_bytes + sc.inf.cache_bytes) / 1e6;
        row->unit = "MB";
        infer_free(&sc.inf);
    }
}

void bench_table_free(BenchTable *t)
{
    free(t->rows);
    memset(t, 0, sizeof *t);
}
