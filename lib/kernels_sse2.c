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

/* n16 x 16 int8 values sign-extended to 16 bits (each byte into the high
 * half of a lane, then shifted down): w[2i] and w[2i + 1] hold the low and
 * high 8 of the i-th 16 */
static inline void widen_x(__m128i *w, const int8_t *x, int n16)
{
    for (int i = 0; i < n16; i++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(x + 16 * i));
        w[2 * i] = _mm_srai_epi16(_mm_unpacklo_epi8(v, v), 8);
        w[2 * i + 1] = _mm_srai_epi16(_mm_unpackhi_epi8(v, v), 8);
    }
}

/* acc + 16 codes (bytes 0..2) times the 16 widened values at w */
static inline __m128i madd_codes(__m128i acc, __m128i c, const __m128i *w)
{
    const __m128i zero = _mm_setzero_si128();
    acc = _mm_add_epi32(acc, _mm_madd_epi16(_mm_unpacklo_epi8(c, zero), w[0]));
    return _mm_add_epi32(acc, _mm_madd_epi16(_mm_unpackhi_epi8(c, zero), w[1]));
}

/* one block of r rows, row_bytes apart, against x widened in w: 2-bit
 * codes (slot j of byte i is weight 16j + i) or base-3 digits */
static inline void codes_block(__m128i *acc, const uint8_t *codes, size_t row_bytes, int rows, const __m128i *w)
{
    for (int r = 0; r < rows; r++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(codes + r * row_bytes));
        for (int j = 0; j < 4; j++)
            acc[r] = madd_codes(acc[r], _mm_and_si128(_mm_srli_epi16(v, 2 * j), _mm_set1_epi8(3)), w + 2 * j);
    }
}

static inline void base3_block(__m128i *acc, const uint8_t *codes, size_t row_bytes, int rows, const __m128i *w)
{
    for (int r = 0; r < rows; r++) {
        __m128i state = base3_start(codes + r * row_bytes);
        for (int j = 0; j < 5; j++) acc[r] = madd_codes(acc[r], base3_digit(&state), w + 2 * j);
    }
}

/* rows (1 or 4) rows, row_bytes apart, against one x, packed 2 bits or
 * base 3: each block of x is widened once for all the rows (on 32-bit
 * x86, with 8 registers, the widened block sits on the stack and pmaddwd
 * reads it from there) */
static inline __attribute__((always_inline)) void rows_dot(int32_t *out, const uint8_t *codes, size_t row_bytes,
                                                           int rows, const int8_t *x, size_t n_blocks, int base3)
{
    __m128i acc[4] = {_mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128()}, w[10];
    for (size_t b = 0; b < n_blocks; b++) {
        widen_x(w, x + (base3 ? 80 : 64) * b, base3 ? 5 : 4);
        if (base3)
            base3_block(acc, codes + 16 * b, row_bytes, rows, w);
        else
            codes_block(acc, codes + 16 * b, row_bytes, rows, w);
    }
    for (int r = 0; r < rows; r++) out[r] = hsum_epi32(acc[r]);
}

static int32_t ternary_codes_dot_sse2(const uint8_t *codes, const int8_t *x, size_t n_blocks)
{
    int32_t s;
    rows_dot(&s, codes, 0, 1, x, n_blocks, 0);
    return s;
}

static int32_t ternary_base3_dot_sse2(const uint8_t *codes, const int8_t *x, size_t n_blocks)
{
    int32_t s;
    rows_dot(&s, codes, 0, 1, x, n_blocks, 1);
    return s;
}

static void ternary_codes_dot4_sse2(int32_t out[4], const uint8_t *codes, size_t row_bytes, const int8_t *x,
                                    size_t n_blocks)
{
    rows_dot(out, codes, row_bytes, 4, x, n_blocks, 0);
}

static void ternary_base3_dot4_sse2(int32_t out[4], const uint8_t *codes, size_t row_bytes, const int8_t *x,
                                    size_t n_blocks)
{
    rows_dot(out, codes, row_bytes, 4, x, n_blocks, 1);
}

/* The 1-bit masked sum (ternary.h): two bytes of bits spread to 16 byte
 * masks (each byte repeated 8 times, tested against 1, 2, .., 128), the
 * kept values widened to 16 bits and summed in pairs by pmaddwd */
static int32_t binary_masked_sum_sse2(const uint8_t *bits, const int8_t *x, size_t n_blocks)
{
    const __m128i bit = _mm_set1_epi64x((long long)0x8040201008040201ull), ones = _mm_set1_epi16(1);
    __m128i acc = _mm_setzero_si128();
    for (size_t i = 0; i < 4 * n_blocks; i++) {  /* 16 values a step */
        __m128i v = _mm_cvtsi32_si128(bits[2 * i] | bits[2 * i + 1] << 8);
        v = _mm_unpacklo_epi8(v, v);
        v = _mm_unpacklo_epi16(v, v);
        v = _mm_unpacklo_epi32(v, v);
        __m128i m = _mm_cmpeq_epi8(_mm_and_si128(v, bit), bit), w[2];
        widen_x(w, x + 16 * i, 1);
        __m128i kept = _mm_add_epi16(_mm_and_si128(_mm_unpacklo_epi8(m, m), w[0]), _mm_and_si128(_mm_unpackhi_epi8(m, m), w[1]));
        acc = _mm_add_epi32(acc, _mm_madd_epi16(kept, ones));
    }
    return hsum_epi32(acc);
}

/* int8 dot products widened to 16 bits: pmaddwd sums pairs of products
 * of at most 128 x 128 into 32 bits, exactly */
static int32_t dot_i8_sse2(const int8_t *a, const int8_t *b, size_t n)
{
    __m128i acc = _mm_setzero_si128(), wa[2], wb[2];
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        widen_x(wa, a + i, 1);
        widen_x(wb, b + i, 1);
        acc = _mm_add_epi32(acc, _mm_add_epi32(_mm_madd_epi16(wa[0], wb[0]), _mm_madd_epi16(wa[1], wb[1])));
    }
    int32_t s = hsum_epi32(acc);
    for (; i < n; i++) s += (int32_t)a[i] * b[i];
    return s;
}

static void dot_i8_rows_sse2(int32_t *out, const int8_t *q, const int8_t *rows, size_t len, size_t n)
{
    for (size_t t = 0; t < n; t++) out[t] = dot_i8_sse2(q, rows + t * len, len);
}

/* 16 values of y at a time, kept in registers over all the rows; int8
 * widened to floats by unpacking into the high byte and shifting back.
 * Per element the same product and sum, in the same order, as plain C. */
static void axpy_i8_rows_sse2(float *y, const float *a, const int8_t *rows, size_t len, size_t n)
{
    size_t i = 0;
    for (; i + 16 <= len; i += 16) {
        __m128 y0 = _mm_loadu_ps(y + i), y1 = _mm_loadu_ps(y + i + 4), y2 = _mm_loadu_ps(y + i + 8),
               y3 = _mm_loadu_ps(y + i + 12);
        for (size_t t = 0; t < n; t++) {
            __m128 at = _mm_set1_ps(a[t]);
            __m128i v = _mm_loadu_si128((const __m128i *)(rows + t * len + i));
            __m128i lo = _mm_unpacklo_epi8(v, v), hi = _mm_unpackhi_epi8(v, v);
            y0 = _mm_add_ps(y0, _mm_mul_ps(at, _mm_cvtepi32_ps(_mm_srai_epi32(_mm_unpacklo_epi16(lo, lo), 24))));
            y1 = _mm_add_ps(y1, _mm_mul_ps(at, _mm_cvtepi32_ps(_mm_srai_epi32(_mm_unpackhi_epi16(lo, lo), 24))));
            y2 = _mm_add_ps(y2, _mm_mul_ps(at, _mm_cvtepi32_ps(_mm_srai_epi32(_mm_unpacklo_epi16(hi, hi), 24))));
            y3 = _mm_add_ps(y3, _mm_mul_ps(at, _mm_cvtepi32_ps(_mm_srai_epi32(_mm_unpackhi_epi16(hi, hi), 24))));
        }
        _mm_storeu_ps(y + i, y0);
        _mm_storeu_ps(y + i + 4, y1);
        _mm_storeu_ps(y + i + 8, y2);
        _mm_storeu_ps(y + i + 12, y3);
    }
    axpy_i8_rows_from(y, a, rows, len, n, i);
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

/* the level's own row kernel four times */
static void axpy4_i8_rows_sse2(float *y, size_t ldy, const float *a, size_t lda, const int8_t *rows, size_t len, size_t n)
{
    for (size_t i = 0; i < 4; i++) axpy_i8_rows_sse2(y + i * ldy, a + i * lda, rows, len, n);
}

void kernels_fill_sse2(Kernels *k)
{
    k->int8_simd = 1;
    k->quantize_i8 = quantize_i8_sse2;
    k->ternary_codes_dot = ternary_codes_dot_sse2;
    k->ternary_codes_dot4 = ternary_codes_dot4_sse2;
    k->ternary_base3_dot = ternary_base3_dot_sse2;
    k->ternary_base3_dot4 = ternary_base3_dot4_sse2;
    kernels_fill_sse_exp(k);  /* exp, softmax, swiglu and its backward */
    k->binary_masked_sum = binary_masked_sum_sse2;
    k->dot_i8 = dot_i8_sse2;
    k->dot_i8_rows = dot_i8_rows_sse2;
    k->axpy_i8_rows = axpy_i8_rows_sse2;
    k->axpy4_i8_rows = axpy4_i8_rows_sse2;
    k->codes_panel_4x32 = codes_panel_4x32_sse2;
}
