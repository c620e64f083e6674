/* SSSE3 (Core 2) kernels: pmaddubsw multiplies the unsigned 2-bit codes
 * by the signed int8 activations directly, 16 at a time; pshufb spreads
 * bits to byte masks; psignb lets pmaddubsw take two signed vectors. */
#include "kernels.h"

#include <string.h>
#include <tmmintrin.h>

#include "kernels_base3.h"

/* One block of 2-bit codes (16 bytes, 64 codes) against its 64 values of
 * x as 16-bit pair sums: at most 8 products of 2 * 128 a lane */
static inline __m128i codes_block_sums(const uint8_t *codes, const int8_t *x)
{
    const __m128i three = _mm_set1_epi8(3);
    __m128i v = _mm_loadu_si128((const __m128i *)codes), s = _mm_setzero_si128();
    for (int j = 0; j < 4; j++)
        s = _mm_add_epi16(s, _mm_maddubs_epi16(_mm_and_si128(_mm_srli_epi16(v, 2 * j), three),
                                               _mm_loadu_si128((const __m128i *)(x + 16 * j))));
    return s;
}

static int32_t hsum_epi32(__m128i v)
{
    v = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0x4e));
    v = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0xb1));
    return _mm_cvtsi128_si32(v);
}

static int32_t ternary_codes_dot_ssse3(const uint8_t *codes, const int8_t *x, size_t n_blocks)
{
    __m128i acc = _mm_setzero_si128();
    for (size_t b = 0; b < n_blocks; b++)
        acc = _mm_add_epi32(acc, _mm_madd_epi16(codes_block_sums(codes + 16 * b, x + 64 * b), _mm_set1_epi16(1)));
    return hsum_epi32(acc);
}

static int32_t ternary_base3_dot_ssse3(const uint8_t *codes, const int8_t *x, size_t n_blocks)
{
    __m128i acc = _mm_setzero_si128();
    for (size_t b = 0; b < n_blocks; b++)
        acc = _mm_add_epi32(acc, _mm_madd_epi16(base3_block_sums(codes + 16 * b, x + 80 * b), _mm_set1_epi16(1)));
    return hsum_epi32(acc);
}

/* four rows against one x: four independent sums, one pass over x */
static void ternary_codes_dot4_ssse3(int32_t out[4], const uint8_t *codes, size_t row_bytes, const int8_t *x,
                                     size_t n_blocks)
{
    __m128i acc[4] = {_mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128()};
    for (size_t b = 0; b < n_blocks; b++)
        for (int r = 0; r < 4; r++)
            acc[r] = _mm_add_epi32(acc[r], _mm_madd_epi16(codes_block_sums(codes + r * row_bytes + 16 * b, x + 64 * b),
                                                          _mm_set1_epi16(1)));
    for (int r = 0; r < 4; r++) out[r] = hsum_epi32(acc[r]);
}

/* for base 3 the four rows one after another: interleaved, their digit
 * states and constants do not fit the 8 registers of 32-bit x86 (3-6%
 * slower there) */
static void ternary_base3_dot4_ssse3(int32_t out[4], const uint8_t *codes, size_t row_bytes, const int8_t *x,
                                     size_t n_blocks)
{
    for (int r = 0; r < 4; r++) out[r] = ternary_base3_dot_ssse3(codes + r * row_bytes, x, n_blocks);
}

/* 16 byte masks (0xff where the bit is set) from 16 bits */
static __m128i bits_to_mask(unsigned bits16)
{
    const __m128i spread = _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    const __m128i bit = _mm_set1_epi64x((long long)0x8040201008040201ull);
    __m128i v = _mm_shuffle_epi8(_mm_cvtsi32_si128((int)bits16), spread);
    return _mm_cmpeq_epi8(_mm_and_si128(v, bit), bit);
}

static int32_t binary_masked_sum_ssse3(const uint8_t *bits, const int8_t *x, size_t n_blocks)
{
    const __m128i ones8 = _mm_set1_epi8(1), ones16 = _mm_set1_epi16(1);
    __m128i acc = _mm_setzero_si128();
    for (size_t b = 0; b < n_blocks; b++, bits += 8, x += 64) {
        __m128i s = _mm_setzero_si128();
        for (int j = 0; j < 4; j++) {
            unsigned w = (unsigned)bits[2 * j] | (unsigned)bits[2 * j + 1] << 8;
            __m128i xm = _mm_and_si128(bits_to_mask(w), _mm_loadu_si128((const __m128i *)(x + 16 * j)));
            /* pairs of masked values: at most 4 x 2 x 128 per lane */
            s = _mm_add_epi16(s, _mm_maddubs_epi16(ones8, xm));
        }
        acc = _mm_add_epi32(acc, _mm_madd_epi16(s, ones16));
    }
    return hsum_epi32(acc);
}

/* |a| (unsigned) times b with a's sign: pairs of products of at most
 * 127 x 127, so the 16-bit sums cannot saturate */
static int32_t dot_i8_ssse3(const int8_t *a, const int8_t *b, size_t n)
{
    const __m128i ones16 = _mm_set1_epi16(1);
    __m128i acc = _mm_setzero_si128();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m128i va = _mm_loadu_si128((const __m128i *)(a + i)), vb = _mm_loadu_si128((const __m128i *)(b + i));
        __m128i p = _mm_maddubs_epi16(_mm_abs_epi8(va), _mm_sign_epi8(vb, va));
        acc = _mm_add_epi32(acc, _mm_madd_epi16(p, ones16));
    }
    int32_t s = hsum_epi32(acc);
    for (; i < n; i++) s += (int32_t)a[i] * b[i];
    return s;
}

static void dot_i8_rows_ssse3(int32_t *out, const int8_t *q, const int8_t *rows, size_t len, size_t n)
{
    for (size_t t = 0; t < n; t++) out[t] = dot_i8_ssse3(q, rows + t * len, len);
}

/* as the AVX2 panel kernel, with four 8-column registers per row */
static void codes_panel_4x32_ssse3(int32_t *out, const int8_t *x, size_t ldx, const uint8_t *panel, size_t K)
{
    for (size_t k0 = 0; k0 < K; k0 += 128) {
        size_t k1 = k0 + 128 < K ? k0 + 128 : K;
        for (int i = 0; i < 4; i++) {
            __m128i s0 = _mm_setzero_si128(), s1 = s0, s2 = s0, s3 = s0;
            for (size_t k = k0; k < k1; k += 2) {
                int16_t pair;
                memcpy(&pair, x + i * ldx + k, 2);
                __m128i xi = _mm_set1_epi16(pair);
                const uint8_t *b = panel + k * 32;
                s0 = _mm_add_epi16(s0, _mm_maddubs_epi16(_mm_loadu_si128((const __m128i *)b), xi));
                s1 = _mm_add_epi16(s1, _mm_maddubs_epi16(_mm_loadu_si128((const __m128i *)(b + 16)), xi));
                s2 = _mm_add_epi16(s2, _mm_maddubs_epi16(_mm_loadu_si128((const __m128i *)(b + 32)), xi));
                s3 = _mm_add_epi16(s3, _mm_maddubs_epi16(_mm_loadu_si128((const __m128i *)(b + 48)), xi));
            }
            __m128i v[4] = {s0, s1, s2, s3};
            int32_t *o = out + i * 32;
            for (int t = 0; t < 4; t++) {
                /* sign-extend 8 x 16 bits to two 4 x 32 */
                __m128i lo = _mm_srai_epi32(_mm_unpacklo_epi16(v[t], v[t]), 16);
                __m128i hi = _mm_srai_epi32(_mm_unpackhi_epi16(v[t], v[t]), 16);
                _mm_storeu_si128((__m128i *)(o + 8 * t), _mm_add_epi32(_mm_loadu_si128((const __m128i *)(o + 8 * t)), lo));
                _mm_storeu_si128((__m128i *)(o + 8 * t + 4),
                                 _mm_add_epi32(_mm_loadu_si128((const __m128i *)(o + 8 * t + 4)), hi));
            }
        }
    }
}

void kernels_fill_ssse3(Kernels *k)
{
    k->ternary_codes_dot = ternary_codes_dot_ssse3;
    k->ternary_codes_dot4 = ternary_codes_dot4_ssse3;
    k->ternary_base3_dot = ternary_base3_dot_ssse3;
    k->ternary_base3_dot4 = ternary_base3_dot4_ssse3;
    k->binary_masked_sum = binary_masked_sum_ssse3;
    k->dot_i8 = dot_i8_ssse3;
    k->dot_i8_rows = dot_i8_rows_ssse3;
    k->codes_panel_4x32 = codes_panel_4x32_ssse3;
}
