/* AVX2 + FMA kernels (Haswell and later): 8-wide float with fused
 * multiply-add. Built with -mavx2 -mfma; only called after CPUID says so. */
#include "kernels.h"

#include <immintrin.h>

static float dot_f32_avx2(const float *a, const float *b, size_t n)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    __m256 s = _mm256_add_ps(s0, s1);
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
    float r = _mm_cvtss_f32(h);
    for (; i < n; i++) r += a[i] * b[i];
    return r;
}

static float absmax_f32_avx2(const float *x, size_t n)
{
    const __m256 mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 m = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) m = _mm256_max_ps(m, _mm256_and_ps(_mm256_loadu_ps(x + i), mask));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
    float r = _mm_cvtss_f32(h);
    for (; i < n; i++) {
        float v = x[i] < 0 ? -x[i] : x[i];
        if (v > r) r = v;
    }
    return r;
}

static float hsum256(__m256 s)
{
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
    return _mm_cvtss_f32(h);
}

static void dot4_f32_avx2(const float *a, const float *b, size_t ldb, size_t K, float out[4])
{
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    const float *b1 = b + ldb, *b2 = b + 2 * ldb, *b3 = b + 3 * ldb;
    size_t k = 0;
    for (; k + 8 <= K; k += 8) {
        __m256 va = _mm256_loadu_ps(a + k);
        s0 = _mm256_fmadd_ps(va, _mm256_loadu_ps(b + k), s0);
        s1 = _mm256_fmadd_ps(va, _mm256_loadu_ps(b1 + k), s1);
        s2 = _mm256_fmadd_ps(va, _mm256_loadu_ps(b2 + k), s2);
        s3 = _mm256_fmadd_ps(va, _mm256_loadu_ps(b3 + k), s3);
    }
    out[0] = hsum256(s0);
    out[1] = hsum256(s1);
    out[2] = hsum256(s2);
    out[3] = hsum256(s3);
    for (; k < K; k++) {
        out[0] += a[k] * b[k];
        out[1] += a[k] * b1[k];
        out[2] += a[k] * b2[k];
        out[3] += a[k] * b3[k];
    }
}

static void axpy4_f32_avx2(float *y, const float *x, size_t ldx, const float c[4], size_t n)
{
    __m256 c0 = _mm256_set1_ps(c[0]), c1 = _mm256_set1_ps(c[1]), c2 = _mm256_set1_ps(c[2]),
           c3 = _mm256_set1_ps(c[3]);
    const float *x1 = x + ldx, *x2 = x + 2 * ldx, *x3 = x + 3 * ldx;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(y + i);
        v = _mm256_fmadd_ps(c0, _mm256_loadu_ps(x + i), v);
        v = _mm256_fmadd_ps(c1, _mm256_loadu_ps(x1 + i), v);
        v = _mm256_fmadd_ps(c2, _mm256_loadu_ps(x2 + i), v);
        v = _mm256_fmadd_ps(c3, _mm256_loadu_ps(x3 + i), v);
        _mm256_storeu_ps(y + i, v);
    }
    for (; i < n; i++) y[i] += c[0] * x[i] + c[1] * x1[i] + c[2] * x2[i] + c[3] * x3[i];
}

void kernels_fill_avx2(Kernels *k)
{
    k->dot4_f32 = dot4_f32_avx2;
    k->axpy4_f32 = axpy4_f32_avx2;
    k->dot_f32 = dot_f32_avx2;
    k->absmax_f32 = absmax_f32_avx2;
}
