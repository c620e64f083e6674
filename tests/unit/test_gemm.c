/* The float matrix products of training: every level's register tile
 * against the plain C one, and gemm_nt / gemm_nn / gemm_tn against a plain
 * triple loop in double, at every level and 1 and 2 threads, on shapes
 * with partial row groups and column counts that leave every tile width
 * and a plain tail. Tolerance: 1e-5 of sum |a b| per entry, the rounding of
 * float sums reassociated. */
#include <stdlib.h>

#include "gemm.h"
#include "kernels.h"
#include "test.h"
#include "threads.h"

static float frand(unsigned *s)
{
    *s = *s * 1664525u + 1013904223u;
    return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

TEST(gemm_tile_matches_scalar_at_every_level)
{
    Kernels ref, k;
    kernels_for_level(SIMD_SCALAR, &ref);
    static const size_t Ks[] = {1, 2, 7, 64, 129};
    size_t maxk = 129, ld = 64 + 3;  /* b and out rows not a multiple of 16 apart */
    unsigned seed = 3;
    float *a = malloc(4 * maxk * sizeof *a), *b = malloc(maxk * ld * sizeof *b);
    float *want = malloc(4 * ld * sizeof *want), *got = malloc(4 * ld * sizeof *got);
    for (size_t i = 0; i < 4 * maxk; i++) a[i] = frand(&seed);
    for (size_t i = 0; i < maxk * ld; i++) b[i] = frand(&seed);
    int levels = 0;
    for (int lv = SIMD_SCALAR; lv < SIMD_LEVELS; lv++) {
        if (kernels_for_level((SimdLevel)lv, &k) < 0) continue;
        levels++;
        CHECK(k.gemm_tile_cols >= 16 && k.gemm_tile_cols % 16 == 0 && k.gemm_tile_cols <= 64);
        for (size_t n = 16; n <= k.gemm_tile_cols; n += 16)
            for (size_t ki = 0; ki < sizeof Ks / sizeof Ks[0]; ki++)
                for (int layout = 0; layout < 2; layout++) {
                    /* a's (4, K) read row-major (sm = K) or column-major (sk = 4) */
                    size_t K = Ks[ki], sm = layout ? 1 : K, sk = layout ? 4 : 1;
                    for (size_t i = 0; i < 4 * ld; i++) want[i] = got[i] = (float)i * 0.25f;
                    ref.gemm_tile_f32(want, ld, a, sm, sk, b + 1, ld, K, n, -0.5f);
                    k.gemm_tile_f32(got, ld, a, sm, sk, b + 1, ld, K, n, -0.5f);
                    for (size_t i = 0; i < 4; i++)
                        for (size_t j = 0; j < ld; j++) {
                            double mag = 0;
                            if (j < n)
                                for (size_t kk = 0; kk < K; kk++)
                                    mag += fabs(a[i * sm + kk * sk] * b[kk * ld + 1 + j]);
                            if (!(fabs(got[i * ld + j] - want[i * ld + j]) <= 1e-5 * mag))
                                FAIL_AT("%s, n %zu, K %zu, layout %d, (%zu, %zu): %.9g != %.9g", simd_name(k.level),
                                        n, K, layout, i, j, got[i * ld + j], want[i * ld + j]);
                        }
                }
    }
    CHECK(levels >= 1);
    free(a); free(b); free(want); free(got);
}

/* the hand-worked case: a 4 x 2 times 2 x 16 block, every level */
TEST(gemm_tile_hand_worked_value)
{
    Kernels k;
    float a[8] = {1, 2, 3, 4, 5, 6, 7, 8}, b[32], out[64];  /* a row-major (4, 2) */
    for (int j = 0; j < 16; j++) b[j] = (float)j, b[16 + j] = 1;
    for (int lv = SIMD_SCALAR; lv < SIMD_LEVELS; lv++) {
        if (kernels_for_level((SimdLevel)lv, &k) < 0) continue;
        for (int i = 0; i < 64; i++) out[i] = 1;
        k.gemm_tile_f32(out, 16, a, 2, 1, b, 16, 2, 16, 2.0f);
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 16; j++) CHECK_EQ(out[i * 16 + j], 1 + 2 * (a[2 * i] * j + a[2 * i + 1]));
    }
}

typedef enum { NT, NN, TN } Variant;

/* out (M,N) as each variant defines it (gemm.h), in double */
static double reference(Variant v, const float *a, const float *b, size_t M, size_t K, size_t N, size_t m, size_t n,
                        double *mag)
{
    double s = 0;
    *mag = 0;
    for (size_t k = 0; k < K; k++) {
        double x = v == TN ? a[k * M + m] : a[m * K + k];
        double y = v == NT ? b[n * K + k] : b[k * N + n];
        s += x * y;
        *mag += fabs(x * y);
    }
    return s;
}

TEST(gemm_products_match_a_plain_triple_loop)
{
    /* M: partial groups of 4 and the few-rows path of gemm_nt (M < 16);
     * N: 16 + 64 + 3 and 200 = 3*64 + 8 leave every kind of tail */
    static const size_t shapes[][3] = {{1, 5, 3}, {5, 17, 16}, {16, 33, 83}, {21, 64, 200}, {64, 70, 128}};
    unsigned seed = 9;
    Kernels keep = kern;
    for (int run = 0; run < 2 * SIMD_LEVELS; run++) {
        int threads = 1 + run % 2;
        if (kernels_for_level((SimdLevel)(run / 2), &kern) < 0) continue;
        threads_init(threads);
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (Variant v = NT; v <= TN; v++) {
                size_t M = shapes[s][0], K = shapes[s][1], N = shapes[s][2];
                float *a = malloc(M * K * sizeof *a), *b = malloc(K * N * sizeof *b);
                float *out = malloc(M * N * sizeof *out);
                for (size_t i = 0; i < M * K; i++) a[i] = frand(&seed);
                for (size_t i = 0; i < K * N; i++) b[i] = frand(&seed);
                for (size_t i = 0; i < M * N; i++) out[i] = 0.5f;
                float alpha = v == NT ? 1.0f : -2.0f;
                if (v == NT) gemm_nt(out, a, b, M, K, N, 1);
                else if (v == NN) gemm_nn(out, a, b, M, K, N, alpha);
                else gemm_tn(out, a, b, M, K, N, alpha);
                for (size_t m = 0; m < M; m++)
                    for (size_t n = 0; n < N; n++) {
                        double mag, want = 0.5 + alpha * reference(v, a, b, M, K, N, m, n, &mag);
                        if (!(fabs(out[m * N + n] - want) <= 1e-5 * fabs(alpha) * mag + 1e-6))
                            FAIL_AT("%s, %d threads, variant %d, %zux%zux%zu at (%zu, %zu): %.9g != %.9g",
                                    simd_name(kern.level), threads, (int)v, M, K, N, m, n, out[m * N + n], want);
                    }
                free(a); free(b); free(out);
            }
    }
    kern = keep;
    threads_init(1);
}
