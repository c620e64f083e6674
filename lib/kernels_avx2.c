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

/* two blocks per step: the low 128-bit lane works on block b, the high on
 * block b + 1 */
static int32_t ternary_codes_dot_avx2(const uint8_t *codes, const int8_t *x, size_t n_blocks)
{
    const __m256i three = _mm256_set1_epi8(3), ones = _mm256_set1_epi16(1);
    __m256i acc = _mm256_setzero_si256();
    size_t b = 0;
    for (; b + 2 <= n_blocks; b += 2, codes += 32, x += 128) {
        __m256i v = _mm256_loadu_si256((const __m256i *)codes);
        __m256i s = _mm256_setzero_si256();
        for (int j = 0; j < 4; j++) {
            __m256i c = _mm256_and_si256(_mm256_srli_epi16(v, 2 * j), three);
            __m256i xj = _mm256_inserti128_si256(
                _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(x + 16 * j))),
                _mm_loadu_si128((const __m128i *)(x + 64 + 16 * j)), 1);
            s = _mm256_add_epi16(s, _mm256_maddubs_epi16(c, xj));
        }
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(s, ones));
    }
    __m128i h = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    if (b < n_blocks) {  /* an odd last block: the same with 128-bit registers */
        const __m128i three4 = _mm_set1_epi8(3), ones4 = _mm_set1_epi16(1);
        __m128i v = _mm_loadu_si128((const __m128i *)codes), s = _mm_setzero_si128();
        for (int j = 0; j < 4; j++)
            s = _mm_add_epi16(s, _mm_maddubs_epi16(_mm_and_si128(_mm_srli_epi16(v, 2 * j), three4),
                                                   _mm_loadu_si128((const __m128i *)(x + 16 * j))));
        h = _mm_add_epi32(h, _mm_madd_epi16(s, ones4));
    }
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
    return _mm_cvtsi128_si32(h);
}

/* 4 x 16 in eight 8-wide accumulators: per step two loads of b and four
 * broadcasts feed eight FMAs */
static void gemm_tile_f32_avx2(float *out, size_t ldo, const float *a, size_t sm, size_t sk, const float *b,
                               size_t ldb, size_t K, float alpha)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    for (size_t k = 0; k < K; k++) {
        const float *bk = b + k * ldb, *ak = a + k * sk;
        __m256 b0 = _mm256_loadu_ps(bk), b1 = _mm256_loadu_ps(bk + 8);
        __m256 x = _mm256_broadcast_ss(ak);
        c00 = _mm256_fmadd_ps(x, b0, c00);
        c01 = _mm256_fmadd_ps(x, b1, c01);
        x = _mm256_broadcast_ss(ak + sm);
        c10 = _mm256_fmadd_ps(x, b0, c10);
        c11 = _mm256_fmadd_ps(x, b1, c11);
        x = _mm256_broadcast_ss(ak + 2 * sm);
        c20 = _mm256_fmadd_ps(x, b0, c20);
        c21 = _mm256_fmadd_ps(x, b1, c21);
        x = _mm256_broadcast_ss(ak + 3 * sm);
        c30 = _mm256_fmadd_ps(x, b0, c30);
        c31 = _mm256_fmadd_ps(x, b1, c31);
    }
    __m256 va = _mm256_set1_ps(alpha);
    float *o = out;
    _mm256_storeu_ps(o, _mm256_fmadd_ps(va, c00, _mm256_loadu_ps(o)));
    _mm256_storeu_ps(o + 8, _mm256_fmadd_ps(va, c01, _mm256_loadu_ps(o + 8)));
    o += ldo;
    _mm256_storeu_ps(o, _mm256_fmadd_ps(va, c10, _mm256_loadu_ps(o)));
    _mm256_storeu_ps(o + 8, _mm256_fmadd_ps(va, c11, _mm256_loadu_ps(o + 8)));
    o += ldo;
    _mm256_storeu_ps(o, _mm256_fmadd_ps(va, c20, _mm256_loadu_ps(o)));
    _mm256_storeu_ps(o + 8, _mm256_fmadd_ps(va, c21, _mm256_loadu_ps(o + 8)));
    o += ldo;
    _mm256_storeu_ps(o, _mm256_fmadd_ps(va, c30, _mm256_loadu_ps(o)));
    _mm256_storeu_ps(o + 8, _mm256_fmadd_ps(va, c31, _mm256_loadu_ps(o + 8)));
}

/* the scalar formula in the same order (no fused multiply-adds), so the
 * result is the same to the bit as the plain C version's on x86-64 */
static void adamw_f32_avx2(float *w, const float *g, float *m, float *v, size_t n, const float k[8])
{
    __m256 b1 = _mm256_set1_ps(k[0]), b2 = _mm256_set1_ps(k[1]), eps = _mm256_set1_ps(k[2]);
    __m256 lr = _mm256_set1_ps(k[3]), wd = _mm256_set1_ps(k[4]), c1 = _mm256_set1_ps(k[5]);
    __m256 c2 = _mm256_set1_ps(k[6]), gs = _mm256_set1_ps(k[7]);
    __m256 a1 = _mm256_set1_ps(1.0f - k[0]), a2 = _mm256_set1_ps(1.0f - k[1]);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 gi = _mm256_mul_ps(_mm256_loadu_ps(g + i), gs);
        __m256 mi = _mm256_add_ps(_mm256_mul_ps(b1, _mm256_loadu_ps(m + i)), _mm256_mul_ps(a1, gi));
        __m256 vi = _mm256_add_ps(_mm256_mul_ps(b2, _mm256_loadu_ps(v + i)), _mm256_mul_ps(_mm256_mul_ps(a2, gi), gi));
        _mm256_storeu_ps(m + i, mi);
        _mm256_storeu_ps(v + i, vi);
        __m256 upd = _mm256_div_ps(_mm256_div_ps(mi, c1), _mm256_add_ps(_mm256_sqrt_ps(_mm256_div_ps(vi, c2)), eps));
        __m256 wi = _mm256_loadu_ps(w + i);
        _mm256_storeu_ps(w + i, _mm256_sub_ps(wi, _mm256_mul_ps(lr, _mm256_add_ps(upd, _mm256_mul_ps(wd, wi)))));
    }
    adamw_f32_ref(w + i, g + i, m + i, v + i, n - i, k);
}

static void quantize_i8_avx2(const float *x, size_t n, float s, int8_t *q)
{
    __m256 vs = _mm256_set1_ps(s);
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i a = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i), vs));
        __m256i b = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i + 8), vs));
        __m256i c = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i + 16), vs));
        __m256i d = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i + 24), vs));
        /* the packs work within 128-bit lanes; the permute restores order */
        __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
        p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)(q + i), p);
    }
    quantize_i8_ref(x + i, n - i, s, q + i);
}

void kernels_fill_avx2(Kernels *k)
{
    k->adamw_f32 = adamw_f32_avx2;
    k->quantize_i8 = quantize_i8_avx2;
    k->gemm_tile_f32 = gemm_tile_f32_avx2;
    k->ternary_codes_dot = ternary_codes_dot_avx2;
    k->dot4_f32 = dot4_f32_avx2;
    k->axpy4_f32 = axpy4_f32_avx2;
    k->dot_f32 = dot_f32_avx2;
    k->absmax_f32 = absmax_f32_avx2;
}
