/* AVX2 + FMA kernels (Haswell and later): 8-wide float with fused
 * multiply-add. Built with -mavx2 -mfma; only called after CPUID says so. */
#include "kernels.h"

#include <immintrin.h>
#include <string.h>
#include <math.h>

#include "kernels_base3.h"
#include "kernels_exp_consts.h"

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

/* base3_digit (kernels_base3.h) on 32 code bytes */
static inline __m256i base3_start256(const uint8_t *codes)
{
    return _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)codes), _mm256_set1_epi8((char)0x80));
}

static inline __m256i base3_digit256(__m256i *state)
{
    __m256i s = *state;
    __m256i m = _mm256_add_epi8(_mm256_cmpgt_epi8(s, _mm256_set1_epi8(-43)), _mm256_cmpgt_epi8(s, _mm256_set1_epi8(42)));
    *state = _mm256_add_epi8(_mm256_add_epi8(s, s), s);
    return _mm256_abs_epi8(m);
}

/* 16 values of x for the low lane and the 16 that sit `apart` further on
 * for the high lane */
static inline __m256i load_lanes(const int8_t *x, size_t apart)
{
    return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)x)),
                                   _mm_loadu_si128((const __m128i *)(x + apart)), 1);
}

/* as the 2-bit kernel: block b in the low lane, b + 1 in the high one;
 * per 16-bit lane at most 10 products of 2 * 128 */
static int32_t ternary_base3_dot_avx2(const uint8_t *codes, const int8_t *x, size_t n_blocks)
{
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i acc = _mm256_setzero_si256();
    size_t b = 0;
    for (; b + 2 <= n_blocks; b += 2, codes += 32, x += 160) {
        __m256i state = base3_start256(codes), s = _mm256_setzero_si256();
        for (int j = 0; j < 5; j++)
            s = _mm256_add_epi16(s, _mm256_maddubs_epi16(base3_digit256(&state), load_lanes(x + 16 * j, 80)));
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(s, ones));
    }
    __m128i h = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    if (b < n_blocks) h = _mm_add_epi32(h, _mm_madd_epi16(base3_block_sums(codes, x), _mm_set1_epi16(1)));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
    return _mm_cvtsi128_si32(h);
}

/* Software prefetch of the four-row kernels: the four rows of a call
 * are 4 row_bytes in a row in memory (the rows of a matrix follow each
 * other), and the calls go down the matrix, so as a call reads its 64
 * bytes a block it asks for the 64 bytes TERNARY_PF_BYTES further on: the
 * rows of the calls ahead are on their way while this one computes. The
 * hardware prefetchers alone left decoding a large model at under half
 * of the memory's bandwidth (docs/BENCHMARKS.md). Past the end of a
 * matrix the prefetches are wasted, never a fault. */
#ifndef TERNARY_PF_BYTES
#define TERNARY_PF_BYTES 8192
#endif

/* four rows against one x, two blocks at a time: the x registers of a
 * pair of blocks serve all four rows */
static void ternary_base3_dot4_avx2(int32_t out[4], const uint8_t *codes, size_t row_bytes, const int8_t *x,
                                    size_t n_blocks)
{
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i acc[4];
    for (int r = 0; r < 4; r++) acc[r] = _mm256_setzero_si256();
    size_t b = 0;
    const uint8_t *ahead = codes + TERNARY_PF_BYTES;
    for (; b + 2 <= n_blocks; b += 2) {
        _mm_prefetch((const char *)(ahead + 64 * b), _MM_HINT_T0);
        _mm_prefetch((const char *)(ahead + 64 * b + 64), _MM_HINT_T0);
        __m256i xj[5];
        for (int j = 0; j < 5; j++) xj[j] = load_lanes(x + 80 * b + 16 * j, 80);
        for (int r = 0; r < 4; r++) {
            __m256i state = base3_start256(codes + r * row_bytes + 16 * b), s = _mm256_setzero_si256();
            for (int j = 0; j < 5; j++) s = _mm256_add_epi16(s, _mm256_maddubs_epi16(base3_digit256(&state), xj[j]));
            acc[r] = _mm256_add_epi32(acc[r], _mm256_madd_epi16(s, ones));
        }
    }
    __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(acc[0], acc[1]), _mm256_hadd_epi32(acc[2], acc[3]));
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
    if (b < n_blocks) {  /* an odd last block: four 128-bit rows, one hadd tree */
        __m128i r4[4];
        for (int r = 0; r < 4; r++)
            r4[r] = _mm_madd_epi16(base3_block_sums(codes + r * row_bytes + 16 * b, x + 80 * b), _mm_set1_epi16(1));
        s4 = _mm_add_epi32(s4, _mm_hadd_epi32(_mm_hadd_epi32(r4[0], r4[1]), _mm_hadd_epi32(r4[2], r4[3])));
    }
    _mm_storeu_si128((__m128i *)out, s4);
}

/* 32 byte masks (0xff where the bit is set) from 32 bits */
static __m256i bits_to_mask32(uint32_t bits)
{
    const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                            2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits), spread);
    return _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
}

/* as the SSSE3 version, 32 values at a time */
static int32_t binary_masked_sum_avx2(const uint8_t *bits, const int8_t *x, size_t n_blocks)
{
    const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
    __m256i acc = _mm256_setzero_si256();
    for (size_t b = 0; b < n_blocks; b++, bits += 8, x += 64) {
        uint32_t lo, hi;
        memcpy(&lo, bits, 4);
        memcpy(&hi, bits + 4, 4);
        __m256i x0 = _mm256_and_si256(bits_to_mask32(lo), _mm256_loadu_si256((const __m256i *)x));
        __m256i x1 = _mm256_and_si256(bits_to_mask32(hi), _mm256_loadu_si256((const __m256i *)(x + 32)));
        /* pairs of masked values: at most 2 x 2 x 128 per 16-bit lane */
        __m256i s = _mm256_add_epi16(_mm256_maddubs_epi16(ones8, x0), _mm256_maddubs_epi16(ones8, x1));
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(s, ones16));
    }
    __m128i h = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
    return _mm_cvtsi128_si32(h);
}

/* four rows against one x: the x registers of each pair of blocks serve
 * all four rows; one hadd tree gives the four sums */
static void ternary_codes_dot4_avx2(int32_t out[4], const uint8_t *codes, size_t row_bytes, const int8_t *x,
                                    size_t n_blocks)
{
    const __m256i three = _mm256_set1_epi8(3), ones = _mm256_set1_epi16(1);
    __m256i acc[4];
    for (int r = 0; r < 4; r++) acc[r] = _mm256_setzero_si256();
    size_t b = 0;
    const uint8_t *ahead = codes + TERNARY_PF_BYTES;
    for (; b + 2 <= n_blocks; b += 2) {
        _mm_prefetch((const char *)(ahead + 64 * b), _MM_HINT_T0);
        _mm_prefetch((const char *)(ahead + 64 * b + 64), _MM_HINT_T0);
        const int8_t *xb = x + 64 * b;
        __m256i xj[4];
        for (int j = 0; j < 4; j++)
            xj[j] = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(xb + 16 * j))),
                                            _mm_loadu_si128((const __m128i *)(xb + 64 + 16 * j)), 1);
        for (int r = 0; r < 4; r++) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(codes + r * row_bytes + 16 * b));
            __m256i s = _mm256_maddubs_epi16(_mm256_and_si256(v, three), xj[0]);
            for (int j = 1; j < 4; j++)
                s = _mm256_add_epi16(s, _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(v, 2 * j), three), xj[j]));
            acc[r] = _mm256_add_epi32(acc[r], _mm256_madd_epi16(s, ones));
        }
    }
    __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(acc[0], acc[1]), _mm256_hadd_epi32(acc[2], acc[3]));
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
    _mm_storeu_si128((__m128i *)out, s4);
    if (b < n_blocks)  /* an odd last block */
        for (int r = 0; r < 4; r++) out[r] += ternary_codes_dot_avx2(codes + r * row_bytes + 16 * b, x + 64 * b, 1);
}

/* 4 x 16 in eight 8-wide accumulators: per step two loads of b and four
 * broadcasts feed eight FMAs */
static void tile_4x16(float *out, size_t ldo, const float *a, size_t sm, size_t sk, const float *b, size_t ldb,
                      size_t K, float alpha)
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

/* 4 x n as 4 x 16 strips: eight accumulators, two loads of b and four
 * broadcasts per k fill 14 of the 16 registers */
static void gemm_tile_f32_avx2(float *out, size_t ldo, const float *a, size_t sm, size_t sk, const float *b,
                               size_t ldb, size_t K, size_t n, float alpha)
{
    for (size_t j = 0; j < n; j += 16) tile_4x16(out + j, ldo, a, sm, sk, b + j, ldb, K, alpha);
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

/* ---- row kernels of the float layers ----------------------------------- */

/* lanes i < k of a tail: maskload reads nothing past them (no fault) and
 * gives 0 there, maskstore writes nothing there */
static inline __m256i tail_mask(size_t k)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)k), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* exp as in kernels_sse_exp.h (same range handling and polynomial, the
 * constants of kernels_exp_consts.h), with the reduction and the
 * polynomial in fused multiply-adds. Measured over every float in
 * [-87.3365, 88.3763] against exp() in double: largest relative error
 * 8.46e-8 (at x = 26.6904), 1.01 ulp. */
static inline __m256 exp256_ps(__m256 x)
{
    const __m256 lo = _mm256_set1_ps(EXP_LO), hi = _mm256_set1_ps(EXP_HI);
    __m256 tiny = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    x = _mm256_min_ps(hi, _mm256_max_ps(lo, x));  /* NaN goes on */
    __m256i n = _mm256_cvtps_epi32(_mm256_mul_ps(x, _mm256_set1_ps(EXP_LOG2E)));
    __m256 nf = _mm256_cvtepi32_ps(n);
    __m256 r = _mm256_fnmadd_ps(nf, _mm256_set1_ps(EXP_LN2_HI), x);
    r = _mm256_fnmadd_ps(nf, _mm256_set1_ps(EXP_LN2_LO), r);
    __m256 p = _mm256_set1_ps(EXP_P0);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_P1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_P2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_P3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_P4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_P5));
    p = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
    __m256 scale = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n, _mm256_set1_epi32(127)), 23));
    return _mm256_andnot_ps(tiny, _mm256_mul_ps(p, scale));
}

static void exp_f32_avx2(float *y, const float *x, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, exp256_ps(_mm256_loadu_ps(x + i)));
    if (i < n) {
        __m256i m = tail_mask(n - i);
        _mm256_maskstore_ps(y + i, m, exp256_ps(_mm256_maskload_ps(x + i, m)));
    }
}

static float softmax_f32_avx2(float *p, const float *x, size_t n, float *maxv)
{
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    __m256 m8 = ninf, tail = ninf;
    __m256i tm = tail_mask(n % 8);
    size_t i = 0, nb = n - n % 8;
    for (; i < nb; i += 8) m8 = _mm256_max_ps(m8, _mm256_loadu_ps(x + i));
    if (i < n) {  /* -inf in the lanes past the end: they add exp(-inf) = 0 */
        tail = _mm256_blendv_ps(ninf, _mm256_maskload_ps(x + i, tm), _mm256_castsi256_ps(tm));
        m8 = _mm256_max_ps(m8, tail);
    }
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m8), _mm256_extractf128_ps(m8, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
    float m = _mm_cvtss_f32(h);
    __m256 vm = _mm256_set1_ps(m), s0 = _mm256_setzero_ps();
    for (i = 0; i < nb; i += 8) {
        __m256 e = exp256_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
        _mm256_storeu_ps(p + i, e);
        s0 = _mm256_add_ps(s0, e);
    }
    if (i < n) {
        __m256 e = exp256_ps(_mm256_sub_ps(tail, vm));
        _mm256_maskstore_ps(p + i, tm, e);
        s0 = _mm256_add_ps(s0, e);
    }
    float sum = hsum256(s0);
    __m256 inv = _mm256_set1_ps(1.0f / sum);
    for (i = 0; i < nb; i += 8) _mm256_storeu_ps(p + i, _mm256_mul_ps(_mm256_loadu_ps(p + i), inv));
    if (i < n) _mm256_maskstore_ps(p + i, tm, _mm256_mul_ps(_mm256_maskload_ps(p + i, tm), inv));
    if (maxv) *maxv = m;
    return sum;
}

static float rmsnorm_f32_avx2(float *out, const float *x, const float *w, size_t n, float eps)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + 8);
        s0 = _mm256_fmadd_ps(a, a, s0);
        s1 = _mm256_fmadd_ps(b, b, s1);
    }
    for (; i + 8 <= n; i += 8) {
        __m256 a = _mm256_loadu_ps(x + i);
        s0 = _mm256_fmadd_ps(a, a, s0);
    }
    __m256i tm = tail_mask(n - i);
    if (i < n) {
        __m256 a = _mm256_maskload_ps(x + i, tm);
        s1 = _mm256_fmadd_ps(a, a, s1);
    }
    float ss = hsum256(_mm256_add_ps(s0, s1));
    float r = 1.0f / sqrtf(ss / (float)n + eps);
    __m256 vr = _mm256_set1_ps(r);
    for (i = 0; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vr), _mm256_loadu_ps(w + i)));
    if (i < n)
        _mm256_maskstore_ps(out + i, tm,
                            _mm256_mul_ps(_mm256_mul_ps(_mm256_maskload_ps(x + i, tm), vr), _mm256_maskload_ps(w + i, tm)));
    return r;
}

static void rmsnorm_bwd_f32_avx2(float *dx, float *dw, const float *g, const float *x, const float *w, float r,
                                 size_t n)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    size_t i = 0, nb = n - n % 8;
    __m256i tm = tail_mask(n % 8);
    for (; i + 16 <= nb; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_loadu_ps(g + i), _mm256_loadu_ps(w + i)), _mm256_loadu_ps(x + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_loadu_ps(g + i + 8), _mm256_loadu_ps(w + i + 8)),
                             _mm256_loadu_ps(x + i + 8), s1);
    }
    for (; i < nb; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_loadu_ps(g + i), _mm256_loadu_ps(w + i)), _mm256_loadu_ps(x + i), s0);
    if (i < n)
        s1 = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_maskload_ps(g + i, tm), _mm256_maskload_ps(w + i, tm)),
                             _mm256_maskload_ps(x + i, tm), s1);
    float gwx = hsum256(_mm256_add_ps(s0, s1));
    float k = r * r * r * gwx / (float)n;
    __m256 vr = _mm256_set1_ps(r), vk = _mm256_set1_ps(k);
    for (i = 0; i < nb; i += 8) {
        __m256 gi = _mm256_loadu_ps(g + i), xi = _mm256_loadu_ps(x + i);
        __m256 d = _mm256_fmsub_ps(_mm256_mul_ps(vr, _mm256_loadu_ps(w + i)), gi, _mm256_mul_ps(vk, xi));
        _mm256_storeu_ps(dx + i, _mm256_add_ps(_mm256_loadu_ps(dx + i), d));
        _mm256_storeu_ps(dw + i, _mm256_fmadd_ps(_mm256_mul_ps(gi, xi), vr, _mm256_loadu_ps(dw + i)));
    }
    if (i < n) {
        __m256 gi = _mm256_maskload_ps(g + i, tm), xi = _mm256_maskload_ps(x + i, tm);
        __m256 d = _mm256_fmsub_ps(_mm256_mul_ps(vr, _mm256_maskload_ps(w + i, tm)), gi, _mm256_mul_ps(vk, xi));
        _mm256_maskstore_ps(dx + i, tm, _mm256_add_ps(_mm256_maskload_ps(dx + i, tm), d));
        _mm256_maskstore_ps(dw + i, tm, _mm256_fmadd_ps(_mm256_mul_ps(gi, xi), vr, _mm256_maskload_ps(dw + i, tm)));
    }
}

static inline __m256 sigmoid256_ps(__m256 g)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    return _mm256_div_ps(one, _mm256_add_ps(one, exp256_ps(_mm256_xor_ps(g, _mm256_set1_ps(-0.0f)))));
}

static void swiglu_f32_avx2(float *out, const float *gate, const float *up, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 g = _mm256_loadu_ps(gate + i);
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_mul_ps(g, sigmoid256_ps(g)), _mm256_loadu_ps(up + i)));
    }
    if (i < n) {
        __m256i m = tail_mask(n - i);
        __m256 g = _mm256_maskload_ps(gate + i, m);
        _mm256_maskstore_ps(out + i, m, _mm256_mul_ps(_mm256_mul_ps(g, sigmoid256_ps(g)), _mm256_maskload_ps(up + i, m)));
    }
}

static inline void swiglu_bwd256(float *dgate, float *dup, const float *dout, const float *gate, const float *up,
                                 __m256i m)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256 d = _mm256_maskload_ps(dout, m), g = _mm256_maskload_ps(gate, m), u = _mm256_maskload_ps(up, m);
    __m256 s = sigmoid256_ps(g);
    __m256 t = _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(d, u), s), _mm256_fmadd_ps(g, _mm256_sub_ps(one, s), one));
    _mm256_maskstore_ps(dgate, m, _mm256_add_ps(_mm256_maskload_ps(dgate, m), t));
    _mm256_maskstore_ps(dup, m, _mm256_fmadd_ps(_mm256_mul_ps(d, g), s, _mm256_maskload_ps(dup, m)));
}

static void swiglu_bwd_f32_avx2(float *dgate, float *dup, const float *dout, const float *gate, const float *up,
                                size_t n)
{
    const __m256i all = _mm256_set1_epi32(-1);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) swiglu_bwd256(dgate + i, dup + i, dout + i, gate + i, up + i, all);
    if (i < n) swiglu_bwd256(dgate + i, dup + i, dout + i, gate + i, up + i, tail_mask(n - i));
}

static void relu2_f32_avx2(float *out, const float *x, size_t n)
{
    const __m256 zero = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_max_ps(_mm256_loadu_ps(x + i), zero);
        _mm256_storeu_ps(out + i, _mm256_mul_ps(v, v));
    }
    if (i < n) {
        __m256i m = tail_mask(n - i);
        __m256 v = _mm256_max_ps(_mm256_maskload_ps(x + i, m), zero);
        _mm256_maskstore_ps(out + i, m, _mm256_mul_ps(v, v));
    }
}

static void relu2_bwd_f32_avx2(float *dx, const float *dout, const float *x, size_t n)
{
    const __m256 zero = _mm256_setzero_ps(), two = _mm256_set1_ps(2.0f);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 xi = _mm256_loadu_ps(x + i);
        __m256 d = _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(dout + i), two), xi);
        _mm256_storeu_ps(dx + i, _mm256_add_ps(_mm256_loadu_ps(dx + i), _mm256_and_ps(_mm256_cmp_ps(xi, zero, _CMP_GT_OQ), d)));
    }
    if (i < n) {
        __m256i m = tail_mask(n - i);
        __m256 xi = _mm256_maskload_ps(x + i, m);
        __m256 d = _mm256_mul_ps(_mm256_mul_ps(_mm256_maskload_ps(dout + i, m), two), xi);
        _mm256_maskstore_ps(dx + i, m,
                            _mm256_add_ps(_mm256_maskload_ps(dx + i, m), _mm256_and_ps(_mm256_cmp_ps(xi, zero, _CMP_GT_OQ), d)));
    }
}

/* Per pair of k: one broadcast of the row's two activations, one load of
 * the panel's 32 columns, pmaddubsw: 32 16-bit partial sums per row in two
 * registers, no horizontal sums. A pair adds at most 2 x 2 x 127 = 508, so
 * the 16-bit sums are widened into out every 64 pairs. */
static void codes_panel_4x32_avx2(int32_t *out, const int8_t *x, size_t ldx, const uint8_t *panel, size_t K)
{
    for (size_t k0 = 0; k0 < K; k0 += 128) {
        size_t k1 = k0 + 128 < K ? k0 + 128 : K;
        __m256i s[8];
        for (int t = 0; t < 8; t++) s[t] = _mm256_setzero_si256();
        for (size_t k = k0; k < k1; k += 2) {
            __m256i b0 = _mm256_loadu_si256((const __m256i *)(panel + k * 32));
            __m256i b1 = _mm256_loadu_si256((const __m256i *)(panel + k * 32 + 32));
            for (int i = 0; i < 4; i++) {
                int16_t pair;
                memcpy(&pair, x + i * ldx + k, 2);
                __m256i xi = _mm256_set1_epi16(pair);
                s[2 * i] = _mm256_add_epi16(s[2 * i], _mm256_maddubs_epi16(b0, xi));
                s[2 * i + 1] = _mm256_add_epi16(s[2 * i + 1], _mm256_maddubs_epi16(b1, xi));
            }
        }
        /* s[2i] holds columns 0-15 of row i (0-7 in the low lane), s[2i+1]
         * columns 16-31 */
        for (int t = 0; t < 8; t++) {
            int32_t *o = out + (t / 2) * 32 + (t % 2) * 16;
            __m256i lo = _mm256_cvtepi16_epi32(_mm256_castsi256_si128(s[t]));
            __m256i hi = _mm256_cvtepi16_epi32(_mm256_extracti128_si256(s[t], 1));
            _mm256_storeu_si256((__m256i *)o, _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)o), lo));
            _mm256_storeu_si256((__m256i *)(o + 8), _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)(o + 8)), hi));
        }
    }
}

/* |q| times the row with q's sign (pmaddubsw wants one unsigned operand;
 * values in [-127, 127] keep the pair sums below 2^15), 32 at a time,
 * four rows at once so that one reduction serves four results */
static __m256i dot_i8_32(__m256i qa, __m256i qv, const int8_t *row)
{
    __m256i r = _mm256_loadu_si256((const __m256i *)row);
    return _mm256_madd_epi16(_mm256_maddubs_epi16(qa, _mm256_sign_epi8(r, qv)), _mm256_set1_epi16(1));
}

/* the same for 16 values, in the low lane of a 256-bit sum */
static __m256i dot_i8_16(__m128i qa, __m128i qv, const int8_t *row)
{
    __m128i r = _mm_loadu_si128((const __m128i *)row);
    return _mm256_castsi128_si256(_mm_madd_epi16(_mm_maddubs_epi16(qa, _mm_sign_epi8(r, qv)), _mm_set1_epi16(1)));
}

/* bytes summed in 64-bit lanes by vpsadbw, four independent chains */
static uint64_t sum_u8_avx2(const uint8_t *x, size_t n)
{
    const __m256i zero = _mm256_setzero_si256();
    __m256i a0 = zero, a1 = zero, a2 = zero, a3 = zero;
    size_t i = 0;
    for (; i + 128 <= n; i += 128) {
        a0 = _mm256_add_epi64(a0, _mm256_sad_epu8(_mm256_loadu_si256((const __m256i *)(x + i)), zero));
        a1 = _mm256_add_epi64(a1, _mm256_sad_epu8(_mm256_loadu_si256((const __m256i *)(x + i + 32)), zero));
        a2 = _mm256_add_epi64(a2, _mm256_sad_epu8(_mm256_loadu_si256((const __m256i *)(x + i + 64)), zero));
        a3 = _mm256_add_epi64(a3, _mm256_sad_epu8(_mm256_loadu_si256((const __m256i *)(x + i + 96)), zero));
    }
    __m256i a = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
    uint64_t lanes[4], s = 0;
    _mm256_storeu_si256((__m256i *)lanes, a);
    for (; i < n; i++) s += x[i];
    return s + lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

static void dot_i8_rows_avx2(int32_t *out, const int8_t *q, const int8_t *rows, size_t len, size_t n)
{
    size_t full = len / 32 * 32, half = len - full >= 16, t = 0;
    for (; t + 4 <= n; t += 4) {
        const int8_t *r = rows + t * len;
        __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
        for (size_t i = 0; i < full; i += 32) {
            __m256i qv = _mm256_loadu_si256((const __m256i *)(q + i)), qa = _mm256_abs_epi8(qv);
            a0 = _mm256_add_epi32(a0, dot_i8_32(qa, qv, r + i));
            a1 = _mm256_add_epi32(a1, dot_i8_32(qa, qv, r + len + i));
            a2 = _mm256_add_epi32(a2, dot_i8_32(qa, qv, r + 2 * len + i));
            a3 = _mm256_add_epi32(a3, dot_i8_32(qa, qv, r + 3 * len + i));
        }
        if (half) {  /* 16 more, e.g. a head of 48 */
            __m128i qv = _mm_loadu_si128((const __m128i *)(q + full)), qa = _mm_abs_epi8(qv);
            a0 = _mm256_add_epi32(a0, dot_i8_16(qa, qv, r + full));
            a1 = _mm256_add_epi32(a1, dot_i8_16(qa, qv, r + len + full));
            a2 = _mm256_add_epi32(a2, dot_i8_16(qa, qv, r + 2 * len + full));
            a3 = _mm256_add_epi32(a3, dot_i8_16(qa, qv, r + 3 * len + full));
        }
        __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(a0, a1), _mm256_hadd_epi32(a2, a3));
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
        _mm_storeu_si128((__m128i *)(out + t), s4);
        for (size_t i = full + 16 * half; i < len; i++)
            for (int j = 0; j < 4; j++) out[t + j] += (int32_t)q[i] * r[j * len + i];
    }
    for (; t < n; t++) {
        int32_t s = 0;
        for (size_t i = 0; i < len; i++) s += (int32_t)q[i] * rows[t * len + i];
        out[t] = s;
    }
}

/* 32 values of y at a time in four registers over all the rows (four
 * independent chains of additions), then 16 in two; per element the same
 * product and sum, in the same order, as plain C */
static void axpy_i8_rows_avx2(float *y, const float *a, const int8_t *rows, size_t len, size_t n)
{
    size_t i = 0;
    for (; i + 32 <= len; i += 32) {
        __m256 y0 = _mm256_loadu_ps(y + i), y1 = _mm256_loadu_ps(y + i + 8);
        __m256 y2 = _mm256_loadu_ps(y + i + 16), y3 = _mm256_loadu_ps(y + i + 24);
        for (size_t t = 0; t < n; t++) {
            __m256 at = _mm256_set1_ps(a[t]);
            __m256i v = _mm256_loadu_si256((const __m256i *)(rows + t * len + i));
            __m128i lo = _mm256_castsi256_si128(v), hi = _mm256_extracti128_si256(v, 1);
            y0 = _mm256_add_ps(y0, _mm256_mul_ps(at, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo))));
            y1 = _mm256_add_ps(y1, _mm256_mul_ps(at, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8)))));
            y2 = _mm256_add_ps(y2, _mm256_mul_ps(at, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi))));
            y3 = _mm256_add_ps(y3, _mm256_mul_ps(at, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8)))));
        }
        _mm256_storeu_ps(y + i, y0);
        _mm256_storeu_ps(y + i + 8, y1);
        _mm256_storeu_ps(y + i + 16, y2);
        _mm256_storeu_ps(y + i + 24, y3);
    }
    for (; i + 16 <= len; i += 16) {
        __m256 y0 = _mm256_loadu_ps(y + i), y1 = _mm256_loadu_ps(y + i + 8);
        for (size_t t = 0; t < n; t++) {
            __m256 at = _mm256_set1_ps(a[t]);
            __m128i v = _mm_loadu_si128((const __m128i *)(rows + t * len + i));
            __m256 f0 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v));
            __m256 f1 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(v, 8)));
            y0 = _mm256_add_ps(y0, _mm256_mul_ps(at, f0));
            y1 = _mm256_add_ps(y1, _mm256_mul_ps(at, f1));
        }
        _mm256_storeu_ps(y + i, y0);
        _mm256_storeu_ps(y + i + 8, y1);
    }
    axpy_i8_rows_from(y, a, rows, len, n, i);
}

/* 16 values of the four y rows at a time in eight registers over all the
 * rows, each row's values widened once for the four; the columns past
 * the last 8 in plain C. Per element the product and sum of
 * axpy_i8_rows_avx2. */
static void axpy4_i8_rows_avx2(float *y, size_t ldy, const float *a, size_t lda, const int8_t *rows, size_t len,
                               size_t n)
{
    size_t j = 0;
    for (; j + 8 <= len; j += 16) {
        int two = j + 16 <= len;
        __m256 acc[4][2];
        for (int i = 0; i < 4; i++) {
            acc[i][0] = _mm256_loadu_ps(y + i * ldy + j);
            acc[i][1] = two ? _mm256_loadu_ps(y + i * ldy + j + 8) : _mm256_setzero_ps();
        }
        for (size_t t = 0; t < n; t++) {
            const int8_t *r = rows + t * len + j;
            __m256 f0 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)r)));
            __m256 f1 = two ? _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(r + 8))))
                            : _mm256_setzero_ps();
            for (int i = 0; i < 4; i++) {
                __m256 at = _mm256_set1_ps(a[i * lda + t]);
                acc[i][0] = _mm256_add_ps(acc[i][0], _mm256_mul_ps(at, f0));
                acc[i][1] = _mm256_add_ps(acc[i][1], _mm256_mul_ps(at, f1));
            }
        }
        for (int i = 0; i < 4; i++) {
            _mm256_storeu_ps(y + i * ldy + j, acc[i][0]);
            if (two) _mm256_storeu_ps(y + i * ldy + j + 8, acc[i][1]);
        }
        if (!two) j -= 8;  /* 8 columns were left: done */
    }
    for (size_t i = 0; i < 4; i++) axpy_i8_rows_from(y + i * ldy, a + i * lda, rows, len, n, j);
}

/* 16 rows of a block at a time: rows i and i + 8 in the two lanes of a
 * register, an 8 x 8 transpose of 16-bit words in each lane, so that
 * register w holds word w of the 16 rows; each of its 4 shifts masked is
 * half a 64-byte row of the panel. */
static void panel_2bit_avx2(uint8_t *panel, const uint8_t *rows, size_t row_bytes, size_t n_rows, size_t n_blocks)
{
    const __m256i three = _mm256_set1_epi8(3);
    for (size_t b = 0; b < n_blocks; b++)
        for (size_t j0 = 0; j0 < 32; j0 += 16) {
            __m256i y[8], t[8], s[8], w[8];
            for (size_t i = 0; i < 8; i++) {
                size_t ja = j0 + i, jb = j0 + i + 8;
                __m128i lo = ja < n_rows ? _mm_loadu_si128((const __m128i *)(rows + ja * row_bytes + b * 16)) : _mm_setzero_si128();
                __m128i hi = jb < n_rows ? _mm_loadu_si128((const __m128i *)(rows + jb * row_bytes + b * 16)) : _mm_setzero_si128();
                y[i] = _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
            }
            for (size_t i = 0; i < 4; i++) {
                t[2 * i] = _mm256_unpacklo_epi16(y[2 * i], y[2 * i + 1]);      /* words 0-3 of rows 2i, 2i+1 */
                t[2 * i + 1] = _mm256_unpackhi_epi16(y[2 * i], y[2 * i + 1]);  /* words 4-7 */
            }
            for (size_t i = 0; i < 2; i++) {  /* rows 0-3, 4-7 */
                s[4 * i] = _mm256_unpacklo_epi32(t[4 * i], t[4 * i + 2]);          /* words 0, 1 */
                s[4 * i + 1] = _mm256_unpackhi_epi32(t[4 * i], t[4 * i + 2]);      /* words 2, 3 */
                s[4 * i + 2] = _mm256_unpacklo_epi32(t[4 * i + 1], t[4 * i + 3]);  /* words 4, 5 */
                s[4 * i + 3] = _mm256_unpackhi_epi32(t[4 * i + 1], t[4 * i + 3]);  /* words 6, 7 */
            }
            for (size_t i = 0; i < 4; i++) {
                w[2 * i] = _mm256_unpacklo_epi64(s[i], s[4 + i]);
                w[2 * i + 1] = _mm256_unpackhi_epi64(s[i], s[4 + i]);
            }
            uint8_t *at = panel + b * 32 * 64 + 2 * j0;
            for (size_t p = 0; p < 8; p++) {
                __m256i x = w[p];
                for (size_t sh = 0; sh < 4; sh++, x = _mm256_srli_epi16(x, 2))
                    _mm256_storeu_si256((__m256i *)(at + (8 * sh + p) * 64), _mm256_and_si256(x, three));
            }
        }
}

void kernels_fill_avx2(Kernels *k)
{
    k->dot_f32 = dot_f32_avx2;
    k->absmax_f32 = absmax_f32_avx2;
    k->dot4_f32 = dot4_f32_avx2;
    k->axpy4_f32 = axpy4_f32_avx2;
    k->gemm_tile_f32 = gemm_tile_f32_avx2;
    k->quantize_i8 = quantize_i8_avx2;
    k->adamw_f32 = adamw_f32_avx2;
    k->ternary_codes_dot = ternary_codes_dot_avx2;
    k->ternary_codes_dot4 = ternary_codes_dot4_avx2;
    k->ternary_base3_dot = ternary_base3_dot_avx2;
    k->ternary_base3_dot4 = ternary_base3_dot4_avx2;
    k->exp_f32 = exp_f32_avx2;
    k->softmax_f32 = softmax_f32_avx2;
    k->rmsnorm_f32 = rmsnorm_f32_avx2;
    k->rmsnorm_bwd_f32 = rmsnorm_bwd_f32_avx2;
    k->swiglu_f32 = swiglu_f32_avx2;
    k->swiglu_bwd_f32 = swiglu_bwd_f32_avx2;
    k->relu2_f32 = relu2_f32_avx2;
    k->relu2_bwd_f32 = relu2_bwd_f32_avx2;
    k->binary_masked_sum = binary_masked_sum_avx2;
    k->dot_i8_rows = dot_i8_rows_avx2;
    k->sum_u8 = sum_u8_avx2;
    k->axpy_i8_rows = axpy_i8_rows_avx2;
    k->codes_panel_4x32 = codes_panel_4x32_avx2;
    k->panel_2bit = panel_2bit_avx2;
    k->axpy4_i8_rows = axpy4_i8_rows_avx2;
}
