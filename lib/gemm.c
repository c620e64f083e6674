#include "gemm.h"

#include <string.h>

#include "kernels.h"
#include "threads.h"

typedef struct {
    float *out;
    const float *a, *b;
    size_t M, K, N;
    float alpha;
    int accumulate;
} Gemm;

/* rows [r0, r1) of out = a @ b^T: four dot products share each load of a */
static void nt_rows(void *ctx, size_t r0, size_t r1, int thread)
{
    (void)thread;
    const Gemm *g = ctx;
    float d[4];
    for (size_t m = r0; m < r1; m++) {
        const float *am = g->a + m * g->K;
        float *om = g->out + m * g->N;
        size_t n = 0;
        for (; n + 4 <= g->N; n += 4) {
            kern.dot4_f32(am, g->b + n * g->K, g->K, g->K, d);
            for (int j = 0; j < 4; j++) om[n + j] = g->accumulate ? om[n + j] + d[j] : d[j];
        }
        for (; n < g->N; n++) {
            float s = kern.dot_f32(am, g->b + n * g->K, g->K);
            om[n] = g->accumulate ? om[n] + s : s;
        }
    }
}

/* rows of out += alpha * sum_k coef(m,k) * b[k]: four rows of b per pass;
 * coef(m,k) is a[m*K + k] (nn) or a[k*M + m] (tn) */
static void axpy_rows(const Gemm *g, size_t r0, size_t r1, size_t cstride, size_t kstride)
{
    for (size_t m = r0; m < r1; m++) {
        float *om = g->out + m * g->N;
        const float *coef = g->a + m * cstride;
        size_t k = 0;
        for (; k + 4 <= g->K; k += 4) {
            float c[4] = {g->alpha * coef[k * kstride], g->alpha * coef[(k + 1) * kstride],
                          g->alpha * coef[(k + 2) * kstride], g->alpha * coef[(k + 3) * kstride]};
            kern.axpy4_f32(om, g->b + k * g->N, g->N, c, g->N);
        }
        for (; k < g->K; k++) {
            float c = g->alpha * coef[k * kstride];
            const float *bk = g->b + k * g->N;
            for (size_t n = 0; n < g->N; n++) om[n] += c * bk[n];
        }
    }
}

static void nn_rows(void *ctx, size_t r0, size_t r1, int thread)
{
    (void)thread;
    const Gemm *g = ctx;
    axpy_rows(g, r0, r1, g->K, 1);
}

static void tn_rows(void *ctx, size_t r0, size_t r1, int thread)
{
    (void)thread;
    const Gemm *g = ctx;
    axpy_rows(g, r0, r1, 1, g->M);
}

void gemm_nt(float *out, const float *a, const float *b, size_t M, size_t K, size_t N, int accumulate)
{
    Gemm g = {out, a, b, M, K, N, 1.0f, accumulate};
    parallel_for(M, nt_rows, &g);
}

void gemm_nn(float *out, const float *a, const float *b, size_t M, size_t K, size_t N, float alpha)
{
    Gemm g = {out, a, b, M, K, N, alpha, 1};
    parallel_for(M, nn_rows, &g);
}

void gemm_tn(float *out, const float *a, const float *b, size_t M, size_t K, size_t N, float alpha)
{
    Gemm g = {out, a, b, M, K, N, alpha, 1};
    parallel_for(M, tn_rows, &g);
}
