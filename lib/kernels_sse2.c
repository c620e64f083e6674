/* SSE2 (Pentium 4 / M) kernels: integer SSE without byte multiplies, so
 * codes and activations are widened to 16 bits for pmaddwd. */
#include "kernels.h"

#include <emmintrin.h>

#include "kernels_base3.h"

/* 2^round(t) for the vector exp: cvtps2dq rounds to nearest even (the
 * default mode), and the integer shift puts n + 127 in the exponent */
static inline __m128 exp2i_ps(__m128 t, __m128 *nf)
{
    __m128i n = _mm_cvtps_epi32(t);
    *nf = _mm_cvtepi32_ps(n);
    return _mm_castsi128_ps(_mm_slli_epi32(_mm_add_epi32(n, _mm_set1_epi32(127)), 23));
}

#include "kernels_sse_exp.h"

static int32_t hsum_epi32(__m128i v)
{
    v = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0x4e));
    v = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0xb1));
    return _mm_cvtsi128_si32(v);
}

static int32_t ternary_codes_dot_sse2(const uint8_t *codes, const int8_t *x, size_t n_blocks)
{
    const __m128i three = _mm_set1_epi8(3), zero = _mm_setzero_si128();
    __m128i acc = _mm_setzero_si128();
    for (size_t b = 0; b < n_blocks; b++, codes += 16, x += 64) {
        __m128i v = _mm_loadu_si128((const __m128i *)codes);
        for (int j = 0; j < 4; j++) {
            __m128i c = _mm_and_si128(_mm_srli_epi16(v, 2 * j), three);
            __m128i xj = _mm_loadu_si128((const __m128i *)(x + 16 * j));
            /* sign-extend x to 16 bits: put each byte in the high half, shift */
            __m128i xlo = _mm_srai_epi16(_mm_unpacklo_epi8(xj, xj), 8);
            __m128i xhi = _mm_srai_epi16(_mm_unpackhi_epi8(xj, xj), 8);
            acc = _mm_add_epi32(acc, _mm_madd_epi16(_mm_unpacklo_epi8(c, zero), xlo));
            acc = _mm_add_epi32(acc, _mm_madd_epi16(_mm_unpackhi_epi8(c, zero), xhi));
        }
    }
    return hsum_epi32(acc);
}

static int32_t ternary_base3_dot_sse2(const uint8_t *codes, const int8_t *x, size_t n_blocks)
{
    const __m128i zero = _mm_setzero_si128();
    __m128i acc = _mm_setzero_si128();
    for (size_t b = 0; b < n_blocks; b++, codes += 16, x += 80) {
        __m128i state = base3_start(codes);
        for (int j = 0; j < 5; j++) {
            __m128i c = base3_digit(&state);
            __m128i xj = _mm_loadu_si128((const __m128i *)(x + 16 * j));
            __m128i xlo = _mm_srai_epi16(_mm_unpacklo_epi8(xj, xj), 8);
            __m128i xhi = _mm_srai_epi16(_mm_unpackhi_epi8(xj, xj), 8);
            acc = _mm_add_epi32(acc, _mm_madd_epi16(_mm_unpacklo_epi8(c, zero), xlo));
            acc = _mm_add_epi32(acc, _mm_madd_epi16(_mm_unpackhi_epi8(c, zero), xhi));
        }
    }
    return hsum_epi32(acc);
}

/* cvtps2dq rounds to nearest even (the default mode), and the two packs
 * saturate to int16 then int8: exactly the clamp of the scalar version */
static void quantize_i8_sse2(const float *x, size_t n, float s, int8_t *q)
{
    __m128 vs = _mm_set1_ps(s);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m128i a = _mm_cvtps_epi32(_mm_mul_ps(_mm_loadu_ps(x + i), vs));
        __m128i b = _mm_cvtps_epi32(_mm_mul_ps(_mm_loadu_ps(x + i + 4), vs));
        __m128i c = _mm_cvtps_epi32(_mm_mul_ps(_mm_loadu_ps(x + i + 8), vs));
        __m128i d = _mm_cvtps_epi32(_mm_mul_ps(_mm_loadu_ps(x + i + 12), vs));
        _mm_storeu_si128((__m128i *)(q + i), _mm_packs_epi16(_mm_packs_epi32(a, b), _mm_packs_epi32(c, d)));
    }
    quantize_i8_ref(x + i, n - i, s, q + i);
}

/* The panel kernel with 16-bit pmaddwd: per pair of k, 8 columns' code
 * pairs widened to 16 bits meet the row's two activations broadcast as a
 * 16-bit pair; 32-bit sums, so no widening step. 8 columns at a time keep
 * the 4 rows' sums in 8 registers. */
static void codes_panel_4x32_sse2(int32_t *out, const int8_t *x, size_t ldx, const uint8_t *panel, size_t K)
{
    const __m128i zero = _mm_setzero_si128();
    for (int c = 0; c < 4; c++) {
        __m128i s[8];
        for (int t = 0; t < 8; t++) s[t] = _mm_loadu_si128((const __m128i *)(out + (t / 2) * 32 + 8 * c + (t % 2) * 4));
        for (size_t k = 0; k < K; k += 2) {
            __m128i b = _mm_loadu_si128((const __m128i *)(panel + k * 32 + 16 * c));
            __m128i b0 = _mm_unpacklo_epi8(b, zero), b1 = _mm_unpackhi_epi8(b, zero);
            for (int i = 0; i < 4; i++) {
                uint32_t pair = (uint16_t)x[i * ldx + k] | (uint32_t)(uint16_t)x[i * ldx + k + 1] << 16;
                __m128i xi = _mm_set1_epi32((int)pair);
                s[2 * i] = _mm_add_epi32(s[2 * i], _mm_madd_epi16(b0, xi));
                s[2 * i + 1] = _mm_add_epi32(s[2 * i + 1], _mm_madd_epi16(b1, xi));
            }
        }
        for (int t = 0; t < 8; t++) _mm_storeu_si128((__m128i *)(out + (t / 2) * 32 + 8 * c + (t % 2) * 4), s[t]);
    }
}

void kernels_fill_sse2(Kernels *k)
{
    k->codes_panel_4x32 = codes_panel_4x32_sse2;
    kernels_fill_sse_exp(k);
    k->quantize_i8 = quantize_i8_sse2;
    k->ternary_codes_dot = ternary_codes_dot_sse2;
    k->ternary_base3_dot = ternary_base3_dot_sse2;
}
