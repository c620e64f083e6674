/* Layers: hand-worked values, and every backward checked against central
 * finite differences of the scalar objective L = sum(out * R), R fixed
 * random, on small odd shapes.
 *
 * Tolerance of the gradient checks: |analytic - numeric| <= 1e-3 + 1e-2 *
 * |numeric|, with step h = 1e-3. The layers compute in float, so each output
 * carries a relative rounding error of a few 1e-7; over the few dozen
 * outputs here (values O(1)) that puts L(x+h) - L(x-h) off by up to ~1e-6,
 * i.e. ~5e-4 once divided by 2h: hence the absolute 1e-3. The truncation
 * error of the central difference, h^2/6 * f''', is ~1e-7 for these smooth
 * O(1) functions; the 1e-2 relative part absorbs the rounding of large
 * gradients. A wrong formula is off by O(1), far outside both.
 *
 * Every gradient buffer starts at GRAD_INIT rather than 0, so the checks
 * also pin down that backward accumulates (+=) instead of overwriting. */
#include <stdint.h>
#include <stdlib.h>

#include "kernels.h"
#include "layers.h"
#include "test.h"
#include "threads.h"

#define FD_STEP 1e-3f
#define FD_ATOL 1e-3
#define FD_RTOL 1e-2
#define GRAD_INIT 0.5f

/* ---- helpers ---------------------------------------------------------- */

static uint32_t rng_state;

static void rng_seed(uint32_t s) { rng_state = s ? s : 1; }

/* xorshift32, mapped to [-1, 1) */
static float rng_uniform(void)
{
    uint32_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    rng_state = x;
    return (float)(x >> 8) * (1.0f / 16777216.0f) * 2.0f - 1.0f;
}

static void fill_random(float *x, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++) x[i] = rng_uniform() * scale;
}

static void fill(float *x, size_t n, float v)
{
    for (size_t i = 0; i < n; i++) x[i] = v;
}

/* A layer under test: forward(ctx) recomputes out (n_out) from the inputs
 * ctx points at; L = sum(out * R). */
typedef struct {
    void (*forward)(void *ctx);
    void *ctx;
    const float *out;
    const float *R;
    size_t n_out;
} Objective;

static double objective(const Objective *ob)
{
    ob->forward(ob->ctx);
    double L = 0;
    for (size_t i = 0; i < ob->n_out; i++) L += (double)ob->out[i] * ob->R[i];
    return L;
}

/* Compares grad[i] - offset with the central difference of L in param[i],
 * for all n entries; prints the first few mismatches, returns their count.
 * Leaves param as it found it. */
static int grad_check(const Objective *ob, float *param, const float *grad, size_t n,
                      float offset, const char *what)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        float saved = param[i];
        param[i] = saved + FD_STEP;
        double lp = objective(ob);
        param[i] = saved - FD_STEP;
        double lm = objective(ob);
        param[i] = saved;
        /* the step actually taken, after rounding saved +- h to float */
        double h2 = (double)(saved + FD_STEP) - (double)(saved - FD_STEP);
        double numeric = (lp - lm) / h2;
        double analytic = (double)grad[i] - offset;
        if (!(fabs(analytic - numeric) <= FD_ATOL + FD_RTOL * fabs(numeric))) {
            if (bad < 5)
                fprintf(stderr, "  d%s[%zu]: analytic %.6g, numeric %.6g\n", what, i, analytic,
                        numeric);
            bad++;
        }
    }
    objective(ob);  /* leave out as computed from the unperturbed inputs */
    return bad;
}

/* ---- embedding, residual ---------------------------------------------- */

enum { EMB_N = 4, EMB_C = 3, EMB_V = 5 };

typedef struct {
    float out[EMB_N * EMB_C], table[EMB_V * EMB_C];
    int tokens[EMB_N];
} EmbCtx;

static void emb_fwd(void *p)
{
    EmbCtx *c = p;
    embedding_forward(c->out, c->tokens, c->table, EMB_N, EMB_C);
}

TEST(layers_embedding_gathers_rows_and_sums_repeated_tokens)
{
    EmbCtx c = {.tokens = {2, 0, 2, 4}};
    float R[EMB_N * EMB_C], dtable[EMB_V * EMB_C];
    rng_seed(11);
    fill_random(c.table, EMB_V * EMB_C, 1);
    fill_random(R, EMB_N * EMB_C, 1);
    emb_fwd(&c);
    for (int j = 0; j < EMB_C; j++) {
        CHECK(c.out[0 * EMB_C + j] == c.table[2 * EMB_C + j]);
        CHECK(c.out[1 * EMB_C + j] == c.table[0 * EMB_C + j]);
        CHECK(c.out[3 * EMB_C + j] == c.table[4 * EMB_C + j]);
    }
    fill(dtable, EMB_V * EMB_C, GRAD_INIT);
    embedding_backward(dtable, R, c.tokens, EMB_N, EMB_C);
    /* token 2 appears at rows 0 and 2; token 1 never */
    CHECK_NEAR(dtable[2 * EMB_C + 1], GRAD_INIT + R[0 * EMB_C + 1] + R[2 * EMB_C + 1], 1e-6);
    CHECK(dtable[1 * EMB_C + 0] == GRAD_INIT);
    Objective ob = {emb_fwd, &c, c.out, R, EMB_N * EMB_C};
    CHECK_EQ(grad_check(&ob, c.table, dtable, EMB_V * EMB_C, GRAD_INIT, "table"), 0);
}

TEST(layers_residual_adds_and_routes_gradient_to_both)
{
    float a[3] = {1, 2, 3}, b[3] = {0.5f, -2, 4}, out[3], da[3], db[3];
    float dout[3] = {1, -1, 2};
    residual_forward(out, a, b, 3);
    CHECK(out[0] == 1.5f && out[1] == 0 && out[2] == 7);
    fill(da, 3, GRAD_INIT);
    fill(db, 3, 0);
    residual_backward(da, db, dout, 3);
    CHECK(da[0] == 1.5f && da[1] == -0.5f && da[2] == 2.5f);
    CHECK(db[0] == 1 && db[1] == -1 && db[2] == 2);
}

/* ---- RMSNorm ------------------------------------------------------------ */

enum { RMS_N = 3, RMS_C = 7 };

typedef struct {
    float out[RMS_N * RMS_C], rstd[RMS_N], inp[RMS_N * RMS_C], weight[RMS_C];
} RmsCtx;

static void rms_fwd(void *p)
{
    RmsCtx *c = p;
    rmsnorm_forward(c->out, c->rstd, c->inp, c->weight, RMS_N, RMS_C, RMSNORM_EPS);
}

TEST(layers_rmsnorm_hand_worked_value)
{
    /* mean(x^2) = (1 + 4 + 4) / 3 = 3, so rstd = 1/sqrt(3 + 1e-5) */
    float x[3] = {1, -2, 2}, w[3] = {1, 0.5f, 2}, out[3], rstd;
    rmsnorm_forward(out, &rstd, x, w, 1, 3, RMSNORM_EPS);
    double r = 1 / sqrt(3 + 1e-5);
    CHECK_NEAR(rstd, r, 1e-6);
    CHECK_NEAR(out[0], 1 * r * 1, 1e-6);
    CHECK_NEAR(out[1], -2 * r * 0.5, 1e-6);
    CHECK_NEAR(out[2], 2 * r * 2, 1e-6);
}

TEST(layers_rmsnorm_gradients_match_finite_differences)
{
    RmsCtx c;
    float R[RMS_N * RMS_C], dinp[RMS_N * RMS_C], dw[RMS_C];
    rng_seed(21);
    fill_random(c.inp, RMS_N * RMS_C, 1.5f);
    fill_random(c.weight, RMS_C, 1);
    fill_random(R, RMS_N * RMS_C, 1);
    rms_fwd(&c);
    fill(dinp, RMS_N * RMS_C, GRAD_INIT);
    fill(dw, RMS_C, GRAD_INIT);
    rmsnorm_backward(dinp, dw, R, c.inp, c.weight, c.rstd, RMS_N, RMS_C);
    Objective ob = {rms_fwd, &c, c.out, R, RMS_N * RMS_C};
    CHECK_EQ(grad_check(&ob, c.inp, dinp, RMS_N * RMS_C, GRAD_INIT, "inp"), 0);
    CHECK_EQ(grad_check(&ob, c.weight, dw, RMS_C, GRAD_INIT, "weight"), 0);
}

/* Many rows (several blocks of the backward's row blocks, and enough work
 * to be shared out): the weight gradient against the formula in double,
 * sum over rows of g x r, and the same bits on 1, 2 and 3 threads. */
TEST(layers_rmsnorm_backward_over_many_rows)
{
    enum { N = 301, C = 96 };
    float *inp = malloc(N * C * sizeof *inp), *g = malloc(N * C * sizeof *g), *w = malloc(C * sizeof *w);
    float *out = malloc(N * C * sizeof *out), *rstd = malloc(N * sizeof *rstd);
    float *dinp = malloc(N * C * sizeof *dinp), dw[3][C];
    rng_seed(23);
    fill_random(inp, N * C, 1.5f);
    fill_random(g, N * C, 1);
    fill_random(w, C, 1);
    for (int threads = 1; threads <= 3; threads++) {
        threads_init(threads);
        rmsnorm_forward(out, rstd, inp, w, N, C, RMSNORM_EPS);
        fill(dinp, N * C, 0);
        fill(dw[threads - 1], C, GRAD_INIT);
        rmsnorm_backward(dinp, dw[threads - 1], g, inp, w, rstd, N, C);
    }
    threads_init(1);
    CHECK(!memcmp(dw[0], dw[1], sizeof dw[0]) && !memcmp(dw[0], dw[2], sizeof dw[0]));
    for (int c = 0; c < C; c++) {
        double want = GRAD_INIT, mag = 0;
        for (int n = 0; n < N; n++) {
            double ms = 0;
            for (int k = 0; k < C; k++) ms += (double)inp[n * C + k] * inp[n * C + k];
            double r = 1 / sqrt(ms / C + RMSNORM_EPS);
            want += (double)g[n * C + c] * inp[n * C + c] * r;
            mag += fabs((double)g[n * C + c] * inp[n * C + c] * r);
        }
        CHECK_NEAR(dw[0][c], want, 1e-5 * mag + 1e-6);
    }
    free(inp); free(g); free(w); free(out); free(rstd); free(dinp);
}

/* ---- matmul ------------------------------------------------------------- */

enum { MM_N = 3, MM_C = 5, MM_OC = 4 };

typedef struct {
    float out[MM_N * MM_OC], inp[MM_N * MM_C], w[MM_OC * MM_C];
} MmCtx;

static void mm_fwd(void *p)
{
    MmCtx *c = p;
    matmul_forward(c->out, c->inp, c->w, MM_N, MM_C, MM_OC);
}

TEST(layers_matmul_hand_worked_value)
{
    /* (1,2) @ [[1,2],[3,4],[5,6]]^T = (5, 11, 17) */
    float x[2] = {1, 2}, w[6] = {1, 2, 3, 4, 5, 6}, out[3];
    matmul_forward(out, x, w, 1, 2, 3);
    CHECK(out[0] == 5 && out[1] == 11 && out[2] == 17);
}

TEST(layers_matmul_gradients_match_finite_differences)
{
    MmCtx c;
    float R[MM_N * MM_OC], dinp[MM_N * MM_C], dw[MM_OC * MM_C];
    rng_seed(31);
    fill_random(c.inp, MM_N * MM_C, 1);
    fill_random(c.w, MM_OC * MM_C, 1);
    fill_random(R, MM_N * MM_OC, 1);
    mm_fwd(&c);
    fill(dinp, MM_N * MM_C, GRAD_INIT);
    fill(dw, MM_OC * MM_C, GRAD_INIT);
    matmul_backward(dinp, dw, R, c.inp, c.w, MM_N, MM_C, MM_OC);
    Objective ob = {mm_fwd, &c, c.out, R, MM_N * MM_OC};
    CHECK_EQ(grad_check(&ob, c.inp, dinp, MM_N * MM_C, GRAD_INIT, "inp"), 0);
    CHECK_EQ(grad_check(&ob, c.w, dw, MM_OC * MM_C, GRAD_INIT, "w"), 0);

    /* NULL skips one half and leaves the other unchanged */
    float dinp2[MM_N * MM_C], dw2[MM_OC * MM_C];
    fill(dinp2, MM_N * MM_C, GRAD_INIT);
    fill(dw2, MM_OC * MM_C, GRAD_INIT);
    matmul_backward(dinp2, NULL, R, NULL, c.w, MM_N, MM_C, MM_OC);
    matmul_backward(NULL, dw2, R, c.inp, NULL, MM_N, MM_C, MM_OC);
    CHECK(!memcmp(dinp, dinp2, sizeof dinp));
    CHECK(!memcmp(dw, dw2, sizeof dw));
}

/* ---- BitLinear ------------------------------------------------------------ */

TEST(layers_ternary_absmean_hand_worked_example)
{
    /* gamma = (0.5 + 1.5 + 0.05 + 1.0) / 4 = 0.7625; w / gamma =
     * 0.656, -1.967, 0.066, 1.311 -> 1, -2 clamped to -1, 0, 1 */
    float w[4] = {0.5f, -1.5f, 0.05f, 1.0f};
    int8_t q[4];
    float gamma = ternary_absmean(w, 4, q);
    CHECK_NEAR(gamma, 0.7625, 1e-7);
    CHECK_EQ(q[0], 1);
    CHECK_EQ(q[1], -1);
    CHECK_EQ(q[2], 0);
    CHECK_EQ(q[3], 1);

    /* all zeros: gamma 0 and zero weights, no division by zero */
    float z[3] = {0, 0, 0};
    int8_t qz[3] = {5, 5, 5};
    CHECK(ternary_absmean(z, 3, qz) == 0);
    CHECK(qz[0] == 0 && qz[1] == 0 && qz[2] == 0);
}

TEST(layers_act_quant_int8_hand_worked_example)
{
    /* absmax 1, s = 127: 63.5 and -63.5 round to the even +-64,
     * 31.75 -> 32, 0.381 -> 0 */
    float x[5] = {0.5f, -1.0f, 0.25f, 0.003f, -0.5f};
    int8_t q[5];
    float scale;
    act_quant_int8(x, 5, q, &scale);
    CHECK_NEAR(scale, 1.0 / 127, 1e-9);
    CHECK_EQ(q[0], 64);
    CHECK_EQ(q[1], -127);
    CHECK_EQ(q[2], 32);
    CHECK_EQ(q[3], 0);
    CHECK_EQ(q[4], -64);

    /* absmax 2: s = 63.5; 2 -> 127, -0.1 -> -6.35 -> -6 */
    float y[2] = {2.0f, -0.1f};
    act_quant_int8(y, 2, q, &scale);
    CHECK_NEAR(scale, 2.0 / 127, 1e-9);
    CHECK_EQ(q[0], 127);
    CHECK_EQ(q[1], -6);

    /* an all-zero row stays zero with the 1e-5 floor: scale 1e-5/127 */
    float z[3] = {0, 0, 0};
    act_quant_int8(z, 3, q, &scale);
    CHECK(q[0] == 0 && q[1] == 0 && q[2] == 0);
    CHECK_NEAR(scale, 1e-5 / 127, 1e-12);
}

enum { BL_N = 3, BL_C = 7, BL_OC = 5 };

typedef struct {
    float out[BL_N * BL_OC], inp[BL_N * BL_C], w[BL_OC * BL_C];
    int8_t wq[BL_OC * BL_C], xq[BL_N * BL_C];
    float xscale[BL_N];
    BitLinearQuant bq;
} BlCtx;

static void bl_setup(BlCtx *c, uint32_t seed)
{
    rng_seed(seed);
    fill_random(c->inp, BL_N * BL_C, 2);
    fill_random(c->w, BL_OC * BL_C, 0.1f);
    c->bq = (BitLinearQuant){.wq = c->wq, .xq = c->xq, .xscale = c->xscale};
}

/* the dequantised tensors the forward used: Wdq = wq * wscale, Xdq = xq * xscale */
static void bl_dequant(const BlCtx *c, float *wdq, float *xdq)
{
    for (int i = 0; i < BL_OC * BL_C; i++) wdq[i] = c->wq[i] * c->bq.wscale;
    for (int n = 0; n < BL_N; n++)
        for (int j = 0; j < BL_C; j++) xdq[n * BL_C + j] = c->xq[n * BL_C + j] * c->xscale[n];
}

TEST(layers_bitlinear_absmean_forward_is_matmul_of_dequantised)
{
    BlCtx c;
    bl_setup(&c, 41);
    bitlinear_forward(c.out, c.inp, c.w, BL_N, BL_C, BL_OC, QUANT_ABSMEAN, &c.bq);

    /* the saved quantisation is the one the helpers give */
    int8_t wq[BL_OC * BL_C], xq[BL_C];
    float xs;
    CHECK(ternary_absmean(c.w, BL_OC * BL_C, wq) == c.bq.wscale);
    CHECK(!memcmp(wq, c.wq, sizeof wq));
    act_quant_int8(c.inp + BL_C, BL_C, xq, &xs);
    CHECK(!memcmp(xq, c.xq + BL_C, sizeof xq));
    CHECK(xs == c.xscale[1]);
    int nonzero = 0;
    for (int i = 0; i < BL_OC * BL_C; i++) nonzero += c.wq[i] != 0;
    CHECK(nonzero > 0 && nonzero < BL_OC * BL_C);  /* a real ternary mix */

    float wdq[BL_OC * BL_C], xdq[BL_N * BL_C], ref[BL_N * BL_OC];
    bl_dequant(&c, wdq, xdq);
    matmul_forward(ref, xdq, wdq, BL_N, BL_C, BL_OC);
    for (int n = 0; n < BL_N; n++)
        for (int o = 0; o < BL_OC; o++) {
            /* relative to the size of the terms summed, as some cancel */
            double mag = 0;
            for (int j = 0; j < BL_C; j++) mag += fabs(xdq[n * BL_C + j] * wdq[o * BL_C + j]);
            CHECK_NEAR(c.out[n * BL_OC + o], ref[n * BL_OC + o], 1e-5 * mag);
        }
}

TEST(layers_bitlinear_absmean_backward_is_straight_through)
{
    BlCtx c;
    float R[BL_N * BL_OC];
    bl_setup(&c, 43);
    fill_random(R, BL_N * BL_OC, 1);
    bitlinear_forward(c.out, c.inp, c.w, BL_N, BL_C, BL_OC, QUANT_ABSMEAN, &c.bq);
    float dinp[BL_N * BL_C], dw[BL_OC * BL_C];
    fill(dinp, BL_N * BL_C, GRAD_INIT);
    fill(dw, BL_OC * BL_C, GRAD_INIT);
    bitlinear_backward(dinp, dw, R, c.inp, c.w, BL_N, BL_C, BL_OC, QUANT_ABSMEAN, &c.bq);

    float wdq[BL_OC * BL_C], xdq[BL_N * BL_C], dinp_ref[BL_N * BL_C], dw_ref[BL_OC * BL_C];
    bl_dequant(&c, wdq, xdq);
    fill(dinp_ref, BL_N * BL_C, GRAD_INIT);
    fill(dw_ref, BL_OC * BL_C, GRAD_INIT);
    matmul_backward(dinp_ref, dw_ref, R, xdq, wdq, BL_N, BL_C, BL_OC);
    for (int i = 0; i < BL_OC * BL_C; i++)
        CHECK_NEAR(dw[i], dw_ref[i], 1e-5 * (1 + fabs(dw_ref[i])));

    /* dinp: dout's rows as int8 (grad_quant_int8), the integer sums with the
     * ternary weights, rescaled by the row's scale times wscale, exactly;
     * and within the rounding of the quantised dout (half a step, amax /
     * 254, per term) of the float straight-through product */
    for (int n = 0; n < BL_N; n++) {
        int8_t gq[BL_OC];
        float gs, amax = 0;
        grad_quant_int8(R + n * BL_OC, BL_OC, gq, &gs);
        for (int o = 0; o < BL_OC; o++) amax = fmaxf(amax, fabsf(R[n * BL_OC + o]));
        CHECK_NEAR(gs, amax / 127.0f, 1e-6 * amax);
        for (int ci = 0; ci < BL_C; ci++) {
            int32_t acc = 0, nz = 0;
            for (int o = 0; o < BL_OC; o++) {
                acc += gq[o] * c.wq[o * BL_C + ci];
                nz += c.wq[o * BL_C + ci] != 0;
            }
            /* each step rounded to float, as the library stores it (x87) */
            float s = gs * c.bq.wscale, v = (float)acc * s, want = GRAD_INIT + v;
            CHECK(dinp[n * BL_C + ci] == want);
            CHECK_NEAR(dinp[n * BL_C + ci], dinp_ref[n * BL_C + ci], c.bq.wscale * nz * amax / 254.0f * 1.001 + 1e-6);
        }
    }
}

TEST(layers_grad_quant_int8_hand_worked)
{
    /* max |g| = 2: s = 63.5 exactly; 1 -> 63.5 -> 64 (a tie, to even),
     * -0.02 -> -1.27 -> -1, 0.5 -> 31.75 -> 32 */
    float g[4] = {1.0f, -2.0f, -0.02f, 0.5f}, scale;
    int8_t q[4];
    grad_quant_int8(g, 4, q, &scale);
    CHECK_EQ(q[0], 64);
    CHECK_EQ(q[1], -127);
    CHECK_EQ(q[2], -1);
    CHECK_EQ(q[3], 32);
    float want = 1.0f / 63.5f;  /* rounded to float here, on x87 too */
    CHECK(scale == want);
    /* tiny but not zero still scales (no floor); zero gives zeros */
    float t[2] = {3e-20f, -1.5e-20f};
    grad_quant_int8(t, 2, q, &scale);
    CHECK(q[0] == 127 && q[1] == -64 && scale > 0);
    float z[3] = {0, 0, 0};
    grad_quant_int8(z, 3, q, &scale);
    CHECK(q[0] == 0 && q[1] == 0 && q[2] == 0 && scale == 0);
}

TEST(layers_bitlinear_f32_is_exactly_matmul)
{
    BlCtx c;
    float R[BL_N * BL_OC], ref[BL_N * BL_OC];
    bl_setup(&c, 47);
    fill_random(R, BL_N * BL_OC, 1);
    bitlinear_forward(c.out, c.inp, c.w, BL_N, BL_C, BL_OC, QUANT_F32, NULL);
    matmul_forward(ref, c.inp, c.w, BL_N, BL_C, BL_OC);
    CHECK(!memcmp(c.out, ref, sizeof ref));

    float dinp[BL_N * BL_C], dw[BL_OC * BL_C], dinp_ref[BL_N * BL_C], dw_ref[BL_OC * BL_C];
    fill(dinp, BL_N * BL_C, GRAD_INIT);
    fill(dw, BL_OC * BL_C, GRAD_INIT);
    fill(dinp_ref, BL_N * BL_C, GRAD_INIT);
    fill(dw_ref, BL_OC * BL_C, GRAD_INIT);
    bitlinear_backward(dinp, dw, R, c.inp, c.w, BL_N, BL_C, BL_OC, QUANT_F32, NULL);
    matmul_backward(dinp_ref, dw_ref, R, c.inp, c.w, BL_N, BL_C, BL_OC);
    CHECK(!memcmp(dinp, dinp_ref, sizeof dinp));
    CHECK(!memcmp(dw, dw_ref, sizeof dw));
}

/* ---- RoPE ------------------------------------------------------------------- */

TEST(layers_rope_hand_worked_rotation)
{
    /* HS = 2, position 1: the one pair turns by 1 rad.
     * (1, 2) -> (cos 1 - 2 sin 1, sin 1 + 2 cos 1) */
    float x[2] = {1, 2};
    int pos1 = 1;
    rope_forward(x, &pos1, 1, 1, 2, ROPE_THETA);
    CHECK_NEAR(x[0], -1.14263966, 1e-6);
    CHECK_NEAR(x[1], 1.92207560, 1e-6);

    /* HS = 4, two heads, position 2: pair 0 turns by 2 rad, pair 1 by
     * 2 * 10000^(-2/4) = 0.02 rad; both heads alike */
    float y[8] = {1, 2, 3, 4, 1, 2, 3, 4};
    int pos2 = 2;
    rope_forward(y, &pos2, 1, 2, 4, ROPE_THETA);
    for (int h = 0; h < 2; h++) {
        CHECK_NEAR(y[4 * h + 0], -2.23474169, 1e-6);
        CHECK_NEAR(y[4 * h + 1], 0.07700375, 1e-6);
        CHECK_NEAR(y[4 * h + 2], 2.91940535, 1e-6);
        CHECK_NEAR(y[4 * h + 3], 4.05919603, 1e-6);
    }

    /* position 0 is the identity */
    float z[4] = {1, 2, 3, 4};
    int pos0 = 0;
    rope_forward(z, &pos0, 1, 1, 4, ROPE_THETA);
    CHECK(z[0] == 1 && z[1] == 2 && z[2] == 3 && z[3] == 4);
}

enum { RP_N = 5, RP_NH = 3, RP_HS = 4, RP_SZ = RP_N * RP_NH * RP_HS };

typedef struct {
    float out[RP_SZ], x[RP_SZ];
    int pos[RP_N];
} RopeCtx;

static void rope_fwd(void *p)
{
    RopeCtx *c = p;
    memcpy(c->out, c->x, sizeof c->out);
    rope_forward(c->out, c->pos, RP_N, RP_NH, RP_HS, ROPE_THETA);
}

TEST(layers_rope_backward_inverts_forward_and_matches_finite_differences)
{
    RopeCtx c = {.pos = {0, 3, 1, 7, 250}};
    float R[RP_SZ], dx[RP_SZ];
    rng_seed(51);
    fill_random(c.x, RP_SZ, 1);
    fill_random(R, RP_SZ, 1);

    /* forward then backward returns the input */
    rope_fwd(&c);
    float back[RP_SZ];
    memcpy(back, c.out, sizeof back);
    rope_backward(back, c.pos, RP_N, RP_NH, RP_HS, ROPE_THETA);
    for (int i = 0; i < RP_SZ; i++) CHECK_NEAR(back[i], c.x[i], 1e-6);
    /* ... and the rotation keeps each pair's length */
    for (int i = 0; i < RP_SZ; i += 2)
        CHECK_NEAR(c.out[i] * c.out[i] + c.out[i + 1] * c.out[i + 1],
                   c.x[i] * c.x[i] + c.x[i + 1] * c.x[i + 1], 1e-6);

    /* in place, so the gradient replaces rather than accumulates */
    memcpy(dx, R, sizeof dx);
    rope_backward(dx, c.pos, RP_N, RP_NH, RP_HS, ROPE_THETA);
    Objective ob = {rope_fwd, &c, c.out, R, RP_SZ};
    CHECK_EQ(grad_check(&ob, c.x, dx, RP_SZ, 0, "x"), 0);
}

/* ---- attention -------------------------------------------------------------- */

enum { AT_B = 2, AT_T = 5, AT_C = 6, AT_NH = 2, AT_SZ = AT_B * AT_T * AT_C,
       AT_ATT = AT_B * AT_NH * AT_T * AT_T };

typedef struct {
    float out[AT_SZ], att[AT_ATT], q[AT_SZ], k[AT_SZ], v[AT_SZ];
} AttCtx;

static void att_fwd(void *p)
{
    AttCtx *c = p;
    attention_forward(c->out, c->att, c->q, c->k, c->v, AT_B, AT_T, AT_C, AT_NH);
}

static void att_setup(AttCtx *c, uint32_t seed)
{
    rng_seed(seed);
    fill_random(c->q, AT_SZ, 1.5f);
    fill_random(c->k, AT_SZ, 1.5f);
    fill_random(c->v, AT_SZ, 1);
}

TEST(layers_attention_hand_worked_value)
{
    /* T = 2, one head of size 2. Row 0 sees only key 0: out = v0.
     * Row 1: scores (q1.k0, q1.k1) / sqrt(2) = (0, 2/sqrt 2) -> softmax
     * (1/(1+e^1.414), e^1.414/(1+e^1.414)) = (0.19557, 0.80443). */
    float q[4] = {0, 0, 1, 1}, k[4] = {1, -1, 1, 1}, v[4] = {1, 2, 3, 5};
    float out[4], att[4];
    attention_forward(out, att, q, k, v, 1, 2, 2, 1);
    CHECK(out[0] == 1 && out[1] == 2);
    CHECK(att[0] == 1 && att[1] == 0);
    double a0 = 1 / (1 + exp(sqrt(2.0)));
    CHECK_NEAR(att[2], a0, 1e-6);
    CHECK_NEAR(att[3], 1 - a0, 1e-6);
    CHECK_NEAR(out[2], a0 * 1 + (1 - a0) * 3, 1e-6);
    CHECK_NEAR(out[3], a0 * 2 + (1 - a0) * 5, 1e-6);
}

TEST(layers_attention_is_causal)
{
    AttCtx c;
    att_setup(&c, 61);
    att_fwd(&c);
    float before[AT_SZ];
    memcpy(before, c.out, sizeof before);
    /* probabilities: rows sum to 1, nothing above the diagonal */
    for (int r = 0; r < AT_B * AT_NH * AT_T; r++) {
        int t = r % AT_T;
        double s = 0;
        for (int t2 = 0; t2 < AT_T; t2++) {
            float a = c.att[r * AT_T + t2];
            if (t2 > t) CHECK(a == 0);
            s += a;
        }
        CHECK_NEAR(s, 1, 1e-6);
    }
    /* change k and v at position 3 of batch row 1: rows 0..2 of both
     * sequences and all of sequence 0 stay bit-identical, row 3 moves */
    const int t_changed = 3;
    for (int j = 0; j < AT_C; j++) {
        c.k[(1 * AT_T + t_changed) * AT_C + j] += 0.7f;
        c.v[(1 * AT_T + t_changed) * AT_C + j] -= 1.3f;
    }
    att_fwd(&c);
    for (int b = 0; b < AT_B; b++)
        for (int t = 0; t < AT_T; t++) {
            size_t off = (size_t)(b * AT_T + t) * AT_C;
            int same = !memcmp(c.out + off, before + off, AT_C * sizeof(float));
            CHECK_EQ(same, b == 0 || t < t_changed);
        }
}

TEST(layers_attention_gradients_match_finite_differences)
{
    AttCtx c;
    float R[AT_SZ], dq[AT_SZ], dk[AT_SZ], dv[AT_SZ], datt[AT_ATT];
    att_setup(&c, 67);
    fill_random(R, AT_SZ, 1);
    att_fwd(&c);
    fill(dq, AT_SZ, GRAD_INIT);
    fill(dk, AT_SZ, GRAD_INIT);
    fill(dv, AT_SZ, GRAD_INIT);
    fill(datt, AT_ATT, 123.0f);  /* scratch: its old contents must not matter */
    attention_backward(dq, dk, dv, datt, R, c.q, c.k, c.v, c.att, AT_B, AT_T, AT_C, AT_NH);
    Objective ob = {att_fwd, &c, c.out, R, AT_SZ};
    CHECK_EQ(grad_check(&ob, c.q, dq, AT_SZ, GRAD_INIT, "q"), 0);
    CHECK_EQ(grad_check(&ob, c.k, dk, AT_SZ, GRAD_INIT, "k"), 0);
    CHECK_EQ(grad_check(&ob, c.v, dv, AT_SZ, GRAD_INIT, "v"), 0);
    /* the first key has no earlier one to compete with: query 0 gets no gradient */
    for (int j = 0; j < AT_C; j++) CHECK(dq[j] == GRAD_INIT);
}

/* The blocked attention (4-row blocks, float tiles, causal cuts) against
 * the formulas in double, at shapes where the tiles run (head sizes 16 and
 * 32, T not a multiple of 4 or 16), at every SIMD level and 1 and 2
 * threads: out and att to 1e-5, the gradients to 1e-4 of their scale. */
static void attention_reference(double *out, double *att, double *dq, double *dk, double *dv, const float *q,
                                const float *k, const float *v, const float *dout, size_t B, size_t T, size_t C,
                                size_t NH)
{
    size_t HS = C / NH;
    double scale = 1 / sqrt((double)HS);
    for (size_t b = 0; b < B; b++)
        for (size_t h = 0; h < NH; h++) {
            size_t o = b * T * C + h * HS;
            double *P = att + (b * NH + h) * T * T;
            for (size_t t = 0; t < T; t++) {
                double mx = -1e300, sum = 0;
                for (size_t t2 = 0; t2 < T; t2++) {
                    double s = 0;
                    for (size_t i = 0; i < HS; i++) s += (double)q[o + t * C + i] * k[o + t2 * C + i];
                    P[t * T + t2] = s * scale;
                    if (t2 <= t && s * scale > mx) mx = s * scale;
                }
                for (size_t t2 = 0; t2 < T; t2++) {
                    P[t * T + t2] = t2 <= t ? exp(P[t * T + t2] - mx) : 0;
                    sum += P[t * T + t2];
                }
                for (size_t t2 = 0; t2 < T; t2++) P[t * T + t2] /= sum;
                for (size_t i = 0; i < HS; i++) {
                    double y = 0;
                    for (size_t t2 = 0; t2 <= t; t2++) y += P[t * T + t2] * v[o + t2 * C + i];
                    out[o + t * C + i] = y;
                }
            }
            for (size_t t = 0; t < T; t++) {
                double dp[256], adot = 0;
                for (size_t t2 = 0; t2 <= t; t2++) {
                    dp[t2] = 0;
                    for (size_t i = 0; i < HS; i++) dp[t2] += (double)dout[o + t * C + i] * v[o + t2 * C + i];
                    adot += P[t * T + t2] * dp[t2];
                }
                for (size_t t2 = 0; t2 <= t; t2++) {
                    double ds = P[t * T + t2] * (dp[t2] - adot) * scale;
                    for (size_t i = 0; i < HS; i++) {
                        dq[o + t * C + i] += ds * k[o + t2 * C + i];
                        dk[o + t2 * C + i] += ds * q[o + t * C + i];
                        dv[o + t2 * C + i] += P[t * T + t2] * dout[o + t * C + i];
                    }
                }
            }
        }
}

static int close_to(const float *got, const double *want, size_t n, double tol, const char *what, int level,
                    int threads)
{
    for (size_t i = 0; i < n; i++)
        if (!(fabs(got[i] - want[i]) <= tol)) {
            FAIL_AT("%s, level %d, %d threads, entry %zu: %.9g != %.9g", what, level, threads, i, got[i], want[i]);
            return 0;
        }
    return 1;
}

TEST(layers_attention_blocks_match_the_formulas)
{
    static const size_t shapes[][4] = {{2, 37, 64, 2}, {1, 64, 64, 4}, {1, 19, 96, 3}};  /* B, T, C, NH */
    Kernels keep = kern;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t B = shapes[s][0], T = shapes[s][1], C = shapes[s][2], NH = shapes[s][3], n = B * T * C,
               na = B * NH * T * T;
        float *f = malloc((5 * n + 2 * na) * sizeof *f), *q = f, *k = q + n, *v = k + n, *dout = v + n, *out = dout + n,
              *att = out + n, *datt = att + na;
        double *d = calloc(4 * n + na, sizeof *d), *rout = d, *rdq = rout + n, *rdk = rdq + n, *rdv = rdk + n,
               *ratt = rdv + n;
        float *dq = malloc(3 * n * sizeof *dq), *dk = dq + n, *dv = dk + n;
        rng_seed(71 + (uint32_t)s);
        fill_random(q, n, 2);
        fill_random(k, n, 2);
        fill_random(v, n, 1);
        fill_random(dout, n, 1);
        attention_reference(rout, ratt, rdq, rdk, rdv, q, k, v, dout, B, T, C, NH);
        for (int run = 0; run < 2 * SIMD_LEVELS; run++) {
            int threads = 1 + run % 2, lv = run / 2;
            if (kernels_for_level((SimdLevel)lv, &kern) < 0) continue;
            threads_init(threads);
            attention_forward(out, att, q, k, v, B, T, C, NH);
            fill(dq, 3 * n, GRAD_INIT);
            fill(datt, na, 123.0f);
            attention_backward(dq, dk, dv, datt, dout, q, k, v, att, B, T, C, NH);
            for (size_t i = 0; i < 3 * n; i++) dq[i] -= GRAD_INIT;
            close_to(out, rout, n, 1e-5, "out", lv, threads);
            close_to(att, ratt, na, 1e-5, "att", lv, threads);
            close_to(dq, rdq, n, 1e-4, "dq", lv, threads);
            close_to(dk, rdk, n, 1e-4, "dk", lv, threads);
            close_to(dv, rdv, n, 1e-4, "dv", lv, threads);
        }
        free(f);
        free(d);
        free(dq);
    }
    kern = keep;
    threads_init(1);
}

/* ---- feed-forward ------------------------------------------------------------ */

enum { FF_N = 3, FF_H = 5, FF_SZ = FF_N * FF_H };

typedef struct {
    float out[FF_SZ], gate[FF_SZ], up[FF_SZ];
} FfCtx;

static void swiglu_fwd(void *p)
{
    FfCtx *c = p;
    swiglu_forward(c->out, c->gate, c->up, FF_N, FF_H);
}

static void relu2_fwd(void *p)
{
    FfCtx *c = p;
    relu2_forward(c->out, c->gate, FF_N, FF_H);
}

TEST(layers_swiglu_hand_worked_value_and_gradients)
{
    /* silu(1) * 2 = 2 / (1 + e^-1); silu(0) = 0; silu(-2) * -1 = 2 / (1 + e^2) */
    float g[3] = {1, 0, -2}, u[3] = {2, 5, -1}, o[3];
    swiglu_forward(o, g, u, 1, 3);
    CHECK_NEAR(o[0], 1.46211716, 1e-6);
    CHECK(o[1] == 0);
    CHECK_NEAR(o[2], 0.23840584, 1e-6);

    FfCtx c;
    float R[FF_SZ], dgate[FF_SZ], dup[FF_SZ];
    rng_seed(71);
    fill_random(c.gate, FF_SZ, 3);
    fill_random(c.up, FF_SZ, 1);
    fill_random(R, FF_SZ, 1);
    swiglu_fwd(&c);
    fill(dgate, FF_SZ, GRAD_INIT);
    fill(dup, FF_SZ, GRAD_INIT);
    swiglu_backward(dgate, dup, R, c.gate, c.up, FF_N, FF_H);
    Objective ob = {swiglu_fwd, &c, c.out, R, FF_SZ};
    CHECK_EQ(grad_check(&ob, c.gate, dgate, FF_SZ, GRAD_INIT, "gate"), 0);
    CHECK_EQ(grad_check(&ob, c.up, dup, FF_SZ, GRAD_INIT, "up"), 0);
}

TEST(layers_relu2_hand_worked_value_and_gradients)
{
    float x[4] = {-1.5f, 0, 0.5f, 2}, o[4], d[4] = {0, 0, 0, 0}, g[4] = {1, 1, 1, 3};
    relu2_forward(o, x, 1, 4);
    CHECK(o[0] == 0 && o[1] == 0 && o[2] == 0.25f && o[3] == 4);
    relu2_backward(d, g, x, 1, 4);
    CHECK(d[0] == 0 && d[1] == 0 && d[2] == 1 && d[3] == 12);

    FfCtx c;
    float R[FF_SZ], dinp[FF_SZ];
    rng_seed(73);
    fill_random(c.gate, FF_SZ, 2);
    /* stay clear of the kink at 0, where a difference straddles both sides */
    for (int i = 0; i < FF_SZ; i++)
        if (fabsf(c.gate[i]) < 0.05f) c.gate[i] += 0.1f;
    fill_random(R, FF_SZ, 1);
    relu2_fwd(&c);
    fill(dinp, FF_SZ, GRAD_INIT);
    relu2_backward(dinp, R, c.gate, FF_N, FF_H);
    Objective ob = {relu2_fwd, &c, c.out, R, FF_SZ};
    CHECK_EQ(grad_check(&ob, c.gate, dinp, FF_SZ, GRAD_INIT, "inp"), 0);
}

/* ---- cross-entropy -------------------------------------------------------- */

TEST(layers_crossentropy_hand_worked_loss_and_mask)
{
    /* logits (1,2,3): softmax (0.09003, 0.24473, 0.66524);
     * target 2: loss = log(e + e^2 + e^3) - 3 = 0.40760596; target 0: 2.40760596.
     * Row 2 is masked. */
    float logits[9] = {1, 2, 3, 1, 2, 3, 1, 2, 3}, probs[9], losses[3];
    int targets[3] = {2, 0, -1};
    crossentropy_forward(losses, probs, logits, targets, 3, 3);
    CHECK_NEAR(losses[0], 0.40760596, 1e-6);
    CHECK_NEAR(losses[1], 2.40760596, 1e-6);
    CHECK(losses[2] == 0);
    CHECK_NEAR(probs[0], 0.09003057, 1e-7);
    CHECK_NEAR(probs[1], 0.24472847, 1e-7);
    CHECK_NEAR(probs[2], 0.66524096, 1e-7);

    /* mean over the two unmasked rows: scale 1/2 */
    float d[9];
    fill(d, 9, 0);
    crossentropy_backward(d, probs, targets, 0.5f, 3, 3);
    CHECK_NEAR(d[0], 0.5 * 0.09003057, 1e-7);
    CHECK_NEAR(d[2], 0.5 * (0.66524096 - 1), 1e-7);
    CHECK_NEAR(d[3], 0.5 * (0.09003057 - 1), 1e-7);
    for (int i = 6; i < 9; i++) CHECK(d[i] == 0);  /* the masked row */

    /* huge logits stay finite: two equal ones give log 2, and a target
     * whose probability underflows to 0 still gets its true loss */
    float big[2] = {1000, 1000}, far[2] = {0, 200}, p2[2], l2;
    int t0 = 0;
    crossentropy_forward(&l2, p2, big, &t0, 1, 2);
    CHECK_NEAR(l2, 0.69314718, 1e-6);
    crossentropy_forward(&l2, p2, far, &t0, 1, 2);
    CHECK_NEAR(l2, 200, 1e-4);
}

enum { CE_N = 4, CE_V = 7 };

typedef struct {
    float losses[CE_N], probs[CE_N * CE_V], logits[CE_N * CE_V];
    int targets[CE_N];
} CeCtx;

static void ce_fwd(void *p)
{
    CeCtx *c = p;
    crossentropy_forward(c->losses, c->probs, c->logits, c->targets, CE_N, CE_V);
}

TEST(layers_crossentropy_gradient_matches_finite_differences)
{
    CeCtx c = {.targets = {3, -1, 0, 6}};
    float dlogits[CE_N * CE_V], R[CE_N];
    rng_seed(81);
    fill_random(c.logits, CE_N * CE_V, 3);
    fill(R, CE_N, 1.0f / 3);  /* L = mean loss over the 3 unmasked rows */
    ce_fwd(&c);
    fill(dlogits, CE_N * CE_V, GRAD_INIT);
    crossentropy_backward(dlogits, c.probs, c.targets, 1.0f / 3, CE_N, CE_V);
    Objective ob = {ce_fwd, &c, c.losses, R, CE_N};
    CHECK_EQ(grad_check(&ob, c.logits, dlogits, CE_N * CE_V, GRAD_INIT, "logits"), 0);
    for (int i = 0; i < CE_V; i++) CHECK(dlogits[CE_V + i] == GRAD_INIT);
}
