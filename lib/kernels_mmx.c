/* MMX kernels, the integer side of the sse level (Pentium III, Athlon XP:
 * SSE but not SSE2): the ternary and int8 products on 64-bit
 * registers, widened to 16-bit lanes for pmaddwd, as the SSE2 kernels do on
 * 128-bit ones. MMX shares its registers with the x87 unit, so every
 * kernel ends with emms before the float code around it runs. Built with
 * -msse (which brings MMX), for the one kernel that turns int8 into SSE
 * floats; on x86-64 the compiler runs the MMX intrinsics on SSE registers. */
#include "kernels.h"

#include <string.h>
#include <xmmintrin.h>

static inline __m64 load8(const void *p)
{
    __m64 v;
    memcpy(&v, p, 8);
    return v;
}

static inline int32_t hsum_pi32(__m64 v) { return _mm_cvtsi64_si32(v) + _mm_cvtsi64_si32(_mm_srli_si64(v, 32)); }

/* n8 x 8 int8 values sign-extended to 16 bits: w[2i] and w[2i + 1] hold
 * the low and high 4 of the i-th 8 */
static inline void widen_x(__m64 *w, const int8_t *x, int n8)
{
    for (int i = 0; i < n8; i++) {
        __m64 v = load8(x + 8 * i);
        w[2 * i] = _mm_srai_pi16(_mm_unpacklo_pi8(v, v), 8);
        w[2 * i + 1] = _mm_srai_pi16(_mm_unpackhi_pi8(v, v), 8);
    }
}

/* acc + 8 codes (bytes 0..2) times the 8 widened values at w */
static inline __m64 madd_codes(__m64 acc, __m64 c, const __m64 *w)
{
    const __m64 zero = _mm_setzero_si64();
    acc = _mm_add_pi32(acc, _mm_madd_pi16(_mm_unpacklo_pi8(c, zero), w[0]));
    return _mm_add_pi32(acc, _mm_madd_pi16(_mm_unpackhi_pi8(c, zero), w[1]));
}

/* One 16-byte block of r rows, row_bytes apart, against x widened in w.
 * Half h of the block (bytes 8h..8h+7) holds, in slot j, the weights
 * 16j + 8h .. 16j + 8h + 7: the (2j + h)-th 8 of x. */
static inline void codes_block(__m64 *acc, const uint8_t *codes, size_t row_bytes, int rows, const __m64 *w)
{
    const __m64 three = _mm_set1_pi8(3);
    for (int r = 0; r < rows; r++)
        for (int h = 0; h < 2; h++) {
            __m64 v = load8(codes + r * row_bytes + 8 * h);
            for (int j = 0; j < 4; j++)
                acc[r] = madd_codes(acc[r], _mm_and_si64(_mm_srli_pi16(v, 2 * j), three), w + 2 * (2 * j + h));
        }
}

/* base 3 (ternary.h), as kernels_base3.h does it: the state q ^ 0x80,
 * digit (q >= 86) + (q >= 171) from two signed compares, q tripled */
static inline void base3_block(__m64 *acc, const uint8_t *codes, size_t row_bytes, int rows, const __m64 *w)
{
    const __m64 lo = _mm_set1_pi8(-43), hi = _mm_set1_pi8(42), zero = _mm_setzero_si64();
    for (int r = 0; r < rows; r++)
        for (int h = 0; h < 2; h++) {
            __m64 s = _mm_xor_si64(load8(codes + r * row_bytes + 8 * h), _mm_set1_pi8((char)0x80));
            for (int j = 0; j < 5; j++) {
                __m64 m = _mm_add_pi8(_mm_cmpgt_pi8(s, lo), _mm_cmpgt_pi8(s, hi));
                acc[r] = madd_codes(acc[r], _mm_sub_pi8(zero, m), w + 2 * (2 * j + h));
                s = _mm_add_pi8(_mm_add_pi8(s, s), s);
            }
        }
}

/* rows (1 or 4) rows, row_bytes apart, against one x, packed 2 bits or
 * base 3, each block of x widened once for all the rows */
static inline __attribute__((always_inline)) void rows_dot(int32_t *out, const uint8_t *codes, size_t row_bytes,
                                                           int rows, const int8_t *x, size_t n_blocks, int base3)
{
    __m64 acc[4] = {_mm_setzero_si64(), _mm_setzero_si64(), _mm_setzero_si64(), _mm_setzero_si64()}, w[20];
    for (size_t b = 0; b < n_blocks; b++) {
        widen_x(w, x + (base3 ? 80 : 64) * b, base3 ? 10 : 8);
        if (base3)
            base3_block(acc, codes + 16 * b, row_bytes, rows, w);
        else
            codes_block(acc, codes + 16 * b, row_bytes, rows, w);
    }
    for (int r = 0; r < rows; r++) out[r] = hsum_pi32(acc[r]);
    _mm_empty();
}

static int32_t ternary_codes_dot_mmx(const uint8_t *codes, const int8_t *x, size_t n_blocks)
{
    int32_t s;
    rows_dot(&s, codes, 0, 1, x, n_blocks, 0);
    return s;
}

static int32_t ternary_base3_dot_mmx(const uint8_t *codes, const int8_t *x, size_t n_blocks)
{
    int32_t s;
    rows_dot(&s, codes, 0, 1, x, n_blocks, 1);
    return s;
}

static void ternary_codes_dot4_mmx(int32_t out[4], const uint8_t *codes, size_t row_bytes, const int8_t *x,
                                   size_t n_blocks)
{
    rows_dot(out, codes, row_bytes, 4, x, n_blocks, 0);
}

static void ternary_base3_dot4_mmx(int32_t out[4], const uint8_t *codes, size_t row_bytes, const int8_t *x,
                                   size_t n_blocks)
{
    rows_dot(out, codes, row_bytes, 4, x, n_blocks, 1);
}

/* The 1-bit masked sum (ternary.h): each byte of bits spread to 8 byte
 * masks (tested against 1, 2, .., 128), the kept values widened to 16 bits
 * and summed in pairs by pmaddwd */
static int32_t binary_masked_sum_mmx(const uint8_t *bits, const int8_t *x, size_t n_blocks)
{
    const __m64 bit = _mm_set_pi8((char)128, 64, 32, 16, 8, 4, 2, 1), ones = _mm_set1_pi16(1);
    __m64 acc = _mm_setzero_si64();
    for (size_t i = 0; i < 8 * n_blocks; i++) {  /* 8 values a step */
        __m64 m = _mm_cmpeq_pi8(_mm_and_si64(_mm_set1_pi8((char)bits[i]), bit), bit), w[2];
        widen_x(w, x + 8 * i, 1);
        __m64 kept = _mm_add_pi16(_mm_and_si64(_mm_unpacklo_pi8(m, m), w[0]), _mm_and_si64(_mm_unpackhi_pi8(m, m), w[1]));
        acc = _mm_add_pi32(acc, _mm_madd_pi16(kept, ones));
    }
    int32_t s = hsum_pi32(acc);
    _mm_empty();
    return s;
}

/* int8 dot products (the attention scores over the KV cache): pairs of
 * products of at most 128 x 128 summed into 32 bits, exactly */
static int32_t dot_i8_mmx(const int8_t *a, const int8_t *b, size_t n)
{
    __m64 acc = _mm_setzero_si64(), wa[2], wb[2];
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        widen_x(wa, a + i, 1);
        widen_x(wb, b + i, 1);
        acc = _mm_add_pi32(acc, _mm_add_pi32(_mm_madd_pi16(wa[0], wb[0]), _mm_madd_pi16(wa[1], wb[1])));
    }
    int32_t s = hsum_pi32(acc);
    _mm_empty();
    for (; i < n; i++) s += (int32_t)a[i] * b[i];
    return s;
}

static void dot_i8_rows_mmx(int32_t *out, const int8_t *q, const int8_t *rows, size_t len, size_t n)
{
    for (size_t t = 0; t < n; t++) out[t] = dot_i8_mmx(q, rows + t * len, len);
}

/* y[i] += a[t] * rows[t][i] (attention's weighted sum over the int8 V
 * cache): 8 values of a row widened to 16 bits by MMX and to floats by
 * cvtpi16ps, 8 values of y in two SSE registers over all the rows. Per
 * element the same product and sum, in the same order, as plain C. */
static void axpy_i8_rows_mmx(float *y, const float *a, const int8_t *rows, size_t len, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        __m128 y0 = _mm_loadu_ps(y + i), y1 = _mm_loadu_ps(y + i + 4);
        for (size_t t = 0; t < n; t++) {
            __m128 at = _mm_set1_ps(a[t]);
            __m64 w[2];
            widen_x(w, rows + t * len + i, 1);
            y0 = _mm_add_ps(y0, _mm_mul_ps(at, _mm_cvtpi16_ps(w[0])));
            y1 = _mm_add_ps(y1, _mm_mul_ps(at, _mm_cvtpi16_ps(w[1])));
        }
        _mm_storeu_ps(y + i, y0);
        _mm_storeu_ps(y + i + 4, y1);
    }
    _mm_empty();
    axpy_i8_rows_from(y, a, rows, len, n, i);
}

/* int8 quantisation: cvtps2pi rounds two floats at a time to nearest even
 * (the default mode) into MMX, and the two packs saturate to int16 then
 * int8: exactly the clamp of the plain C version */
static void quantize_i8_mmx(const float *x, size_t n, float s, int8_t *q)
{
    const __m128 vs = _mm_set1_ps(s);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128 a = _mm_mul_ps(_mm_loadu_ps(x + i), vs), b = _mm_mul_ps(_mm_loadu_ps(x + i + 4), vs);
        __m64 lo = _mm_packs_pi32(_mm_cvtps_pi32(a), _mm_cvtps_pi32(_mm_movehl_ps(a, a)));
        __m64 hi = _mm_packs_pi32(_mm_cvtps_pi32(b), _mm_cvtps_pi32(_mm_movehl_ps(b, b)));
        __m64 r = _mm_packs_pi16(lo, hi);
        memcpy(q + i, &r, 8);
    }
    _mm_empty();
    quantize_i8_ref(x + i, n - i, s, q + i);
}

/* the level's own row kernel four times */
static void axpy4_i8_rows_mmx(float *y, size_t ldy, const float *a, size_t lda, const int8_t *rows, size_t len, size_t n)
{
    for (size_t i = 0; i < 4; i++) axpy_i8_rows_mmx(y + i * ldy, a + i * lda, rows, len, n);
}

void kernels_fill_mmx(Kernels *k)
{
    k->quantize_i8 = quantize_i8_mmx;
    k->ternary_codes_dot = ternary_codes_dot_mmx;
    k->ternary_codes_dot4 = ternary_codes_dot4_mmx;
    k->ternary_base3_dot = ternary_base3_dot_mmx;
    k->ternary_base3_dot4 = ternary_base3_dot4_mmx;
    k->binary_masked_sum = binary_masked_sum_mmx;
    k->dot_i8 = dot_i8_mmx;
    k->dot_i8_rows = dot_i8_rows_mmx;
    k->axpy_i8_rows = axpy_i8_rows_mmx;
    k->axpy4_i8_rows = axpy4_i8_rows_mmx;
}
