/* ARMv8.2 dot-product kernels (64-bit ARM with FEAT_DotProd: Cortex-A55,
 * A76 and later, Apple M1 and later): SDOT sums four int8 x int8 products
 * into each 32-bit lane, so the int8 and ternary products need no 16-bit
 * stage. Built with -march=armv8.2-a+dotprod; only called when the OS says
 * the CPU has it. Every other slot is the NEON one. */
#include "kernels.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#error "the ARM kernels are written for little-endian ARM (the Makefile leaves them out on big-endian)"
#endif

#include <arm_neon.h>
#include <string.h>

static inline int32x4_t sdot(int32x4_t acc, int8x16_t a, int8x16_t b) { return vdotq_s32(acc, a, b); }

/* the four sums of four vectors, in one vector */
static inline int32x4_t hsum4(int32x4_t a, int32x4_t b, int32x4_t c, int32x4_t d)
{
    return vpaddq_s32(vpaddq_s32(a, b), vpaddq_s32(c, d));
}

/* ---- 2-bit codes: field j of byte i is the code (0..2) of weight 16j + i.
 * The fields are masked in place rather than shifted down: v & 0x03 is
 * the code of x0, v & 0x0c four times that of x1, v & 0x30 sixteen times
 * that of x2 (at most 32: still a positive int8), v >> 6 that of x3. The
 * three scales go to three sums (fields 0 and 3 share one); each lane of
 * the scaled ones is a multiple of 4 or 16, so shifting it down at the end
 * is exact. Per block of 64 codes: three ands, a shift, four SDOTs. */
typedef struct {
    int32x4_t s03, s1, s2;
} CodeSums;

static inline CodeSums code_sums_zero(void)
{
    CodeSums c = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};
    return c;
}

static inline CodeSums codes_acc(CodeSums c, uint8x16_t v, int8x16_t x0, int8x16_t x1, int8x16_t x2, int8x16_t x3)
{
    c.s03 = sdot(c.s03, vreinterpretq_s8_u8(vandq_u8(v, vdupq_n_u8(0x03))), x0);
    c.s1 = sdot(c.s1, vreinterpretq_s8_u8(vandq_u8(v, vdupq_n_u8(0x0c))), x1);
    c.s2 = sdot(c.s2, vreinterpretq_s8_u8(vandq_u8(v, vdupq_n_u8(0x30))), x2);
    c.s03 = sdot(c.s03, vreinterpretq_s8_u8(vshrq_n_u8(v, 6)), x3);
    return c;
}

static inline int32x4_t code_sums_total(CodeSums c)
{
    return vaddq_s32(vaddq_s32(c.s03, vshrq_n_s32(c.s1, 2)), vshrq_n_s32(c.s2, 4));
}

static int32_t ternary_codes_dot_dotprod(const uint8_t *codes, const int8_t *x, size_t n_blocks)
{
    CodeSums c = code_sums_zero();
    for (size_t b = 0; b < n_blocks; b++, codes += 16, x += 64)
        c = codes_acc(c, vld1q_u8(codes), vld1q_s8(x), vld1q_s8(x + 16), vld1q_s8(x + 32), vld1q_s8(x + 48));
    return vaddvq_s32(code_sums_total(c));
}

/* four rows against one x: each block of x loaded once for the four */
static void ternary_codes_dot4_dotprod(int32_t out[4], const uint8_t *codes, size_t row_bytes, const int8_t *x,
                                       size_t n_blocks)
{
    CodeSums a0 = code_sums_zero(), a1 = a0, a2 = a0, a3 = a0;
    const uint8_t *c0 = codes, *c1 = codes + row_bytes, *c2 = codes + 2 * row_bytes, *c3 = codes + 3 * row_bytes;
    for (size_t b = 0; b < 16 * n_blocks; b += 16, x += 64) {
        int8x16_t x0 = vld1q_s8(x), x1 = vld1q_s8(x + 16), x2 = vld1q_s8(x + 32), x3 = vld1q_s8(x + 48);
        a0 = codes_acc(a0, vld1q_u8(c0 + b), x0, x1, x2, x3);
        a1 = codes_acc(a1, vld1q_u8(c1 + b), x0, x1, x2, x3);
        a2 = codes_acc(a2, vld1q_u8(c2 + b), x0, x1, x2, x3);
        a3 = codes_acc(a3, vld1q_u8(c3 + b), x0, x1, x2, x3);
    }
    vst1q_s32(out, hsum4(code_sums_total(a0), code_sums_total(a1), code_sums_total(a2), code_sums_total(a3)));
}

/* ---- base 3: digits most significant first, digit = (q >= 86) + (q >= 171),
 * then q = 3q mod 256 (as kernels_neon.c). The compares give -1 masks, so
 * the sum of the two is minus the digit: the sums come out negated. */
static inline int32x4_t base3_digit_neg(int32x4_t acc, uint8x16_t *q, int8x16_t x)
{
    int8x16_t nd = vreinterpretq_s8_u8(vaddq_u8(vcgeq_u8(*q, vdupq_n_u8(86)), vcgeq_u8(*q, vdupq_n_u8(171))));
    *q = vmulq_u8(*q, vdupq_n_u8(3));
    return sdot(acc, nd, x);
}

static inline int32x4_t base3_acc_neg(int32x4_t acc, const uint8_t *codes, int8x16_t x0, int8x16_t x1, int8x16_t x2,
                                      int8x16_t x3, int8x16_t x4)
{
    uint8x16_t q = vld1q_u8(codes);
    acc = base3_digit_neg(acc, &q, x0);
    acc = base3_digit_neg(acc, &q, x1);
    acc = base3_digit_neg(acc, &q, x2);
    acc = base3_digit_neg(acc, &q, x3);
    return base3_digit_neg(acc, &q, x4);
}

static int32_t ternary_base3_dot_dotprod(const uint8_t *codes, const int8_t *x, size_t n_blocks)
{
    int32x4_t acc = vdupq_n_s32(0);
    for (size_t b = 0; b < n_blocks; b++, codes += 16, x += 80)
        acc = base3_acc_neg(acc, codes, vld1q_s8(x), vld1q_s8(x + 16), vld1q_s8(x + 32), vld1q_s8(x + 48),
                            vld1q_s8(x + 64));
    return -vaddvq_s32(acc);
}

static void ternary_base3_dot4_dotprod(int32_t out[4], const uint8_t *codes, size_t row_bytes, const int8_t *x,
                                       size_t n_blocks)
{
    int32x4_t a0 = vdupq_n_s32(0), a1 = a0, a2 = a0, a3 = a0;
    for (size_t b = 0; b < 16 * n_blocks; b += 16, x += 80) {
        int8x16_t x0 = vld1q_s8(x), x1 = vld1q_s8(x + 16), x2 = vld1q_s8(x + 32), x3 = vld1q_s8(x + 48),
                  x4 = vld1q_s8(x + 64);
        a0 = base3_acc_neg(a0, codes + b, x0, x1, x2, x3, x4);
        a1 = base3_acc_neg(a1, codes + row_bytes + b, x0, x1, x2, x3, x4);
        a2 = base3_acc_neg(a2, codes + 2 * row_bytes + b, x0, x1, x2, x3, x4);
        a3 = base3_acc_neg(a3, codes + 3 * row_bytes + b, x0, x1, x2, x3, x4);
    }
    vst1q_s32(out, vnegq_s32(hsum4(a0, a1, a2, a3)));
}

/* ---- the 1-bit masked sum: two bytes of bits spread to 16 byte masks of
 * -1 (each byte repeated 8 times, tested against 1, 2, .., 128); SDOT of
 * the masks with x is minus the kept values' sum */
static inline int8x16_t bits_mask(uint8x8_t lo, uint8x8_t hi)
{
    static const uint8_t sel[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    return vreinterpretq_s8_u8(vtstq_u8(vcombine_u8(lo, hi), vld1q_u8(sel)));
}

static int32_t binary_masked_sum_dotprod(const uint8_t *bits, const int8_t *x, size_t n_blocks)
{
    int32x4_t a0 = vdupq_n_s32(0), a1 = a0;
    for (size_t b = 0; b < n_blocks; b++, bits += 8, x += 64) {
        uint8x8_t v = vld1_u8(bits);
        a0 = sdot(a0, bits_mask(vdup_lane_u8(v, 0), vdup_lane_u8(v, 1)), vld1q_s8(x));
        a1 = sdot(a1, bits_mask(vdup_lane_u8(v, 2), vdup_lane_u8(v, 3)), vld1q_s8(x + 16));
        a0 = sdot(a0, bits_mask(vdup_lane_u8(v, 4), vdup_lane_u8(v, 5)), vld1q_s8(x + 32));
        a1 = sdot(a1, bits_mask(vdup_lane_u8(v, 6), vdup_lane_u8(v, 7)), vld1q_s8(x + 48));
    }
    return -vaddvq_s32(vaddq_s32(a0, a1));
}

/* ---- int8 products (attention over the int8 cache): exact in 32 bits -- */

static int32_t dot_i8_dotprod(const int8_t *a, const int8_t *b, size_t n)
{
    int32x4_t a0 = vdupq_n_s32(0), a1 = a0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = sdot(a0, vld1q_s8(a + i), vld1q_s8(b + i));
        a1 = sdot(a1, vld1q_s8(a + i + 16), vld1q_s8(b + i + 16));
    }
    if (i + 16 <= n) {
        a0 = sdot(a0, vld1q_s8(a + i), vld1q_s8(b + i));
        i += 16;
    }
    int32_t s = vaddvq_s32(vaddq_s32(a0, a1));
    for (; i < n; i++) s += (int32_t)a[i] * b[i];
    return s;
}

/* four rows at a time against one q: each 16 of q loaded once */
static void dot_i8_rows_dotprod(int32_t *out, const int8_t *q, const int8_t *rows, size_t len, size_t n)
{
    size_t full = len / 16 * 16, t = 0;
    for (; t + 4 <= n; t += 4) {
        const int8_t *r0 = rows + t * len, *r1 = r0 + len, *r2 = r1 + len, *r3 = r2 + len;
        int32x4_t a0 = vdupq_n_s32(0), a1 = a0, a2 = a0, a3 = a0;
        for (size_t i = 0; i < full; i += 16) {
            int8x16_t qv = vld1q_s8(q + i);
            a0 = sdot(a0, qv, vld1q_s8(r0 + i));
            a1 = sdot(a1, qv, vld1q_s8(r1 + i));
            a2 = sdot(a2, qv, vld1q_s8(r2 + i));
            a3 = sdot(a3, qv, vld1q_s8(r3 + i));
        }
        vst1q_s32(out + t, hsum4(a0, a1, a2, a3));
        for (size_t i = full; i < len; i++) {
            out[t] += (int32_t)q[i] * r0[i];
            out[t + 1] += (int32_t)q[i] * r1[i];
            out[t + 2] += (int32_t)q[i] * r2[i];
            out[t + 3] += (int32_t)q[i] * r3[i];
        }
    }
    for (; t < n; t++) out[t] = dot_i8_dotprod(q, rows + t * len, len);
}

/* ---- the batched training product -------------------------------------
 * The panel holds each column's codes in pairs of k (kernels_slots.h):
 * zipping the 16-bit pairs of k, k+1 with those of k+2, k+3 gives four
 * consecutive codes per column in a 32-bit lane, and SDOT multiplies them
 * by the row's four activations, broadcast. 16 columns at a time: 4 rows x
 * 4 sums of 4 columns, in 32 bits, so no widening step. K is even; a last
 * single pair meets zero codes. */
static void codes_panel_4x32_dotprod(int32_t *out, const int8_t *x, size_t ldx, const uint8_t *panel, size_t K)
{
    for (int h = 0; h < 2; h++) {
        int32x4_t acc[4][4];
        for (int i = 0; i < 4; i++)
            for (int c = 0; c < 4; c++) acc[i][c] = vld1q_s32(out + i * 32 + 16 * h + 4 * c);
        for (size_t k = 0; k < K; k += 4) {
            const uint8_t *p = panel + k * 32 + 32 * h;
            uint16x8_t a0 = vreinterpretq_u16_u8(vld1q_u8(p)), a1 = vreinterpretq_u16_u8(vld1q_u8(p + 16));
            uint16x8_t b0 = vdupq_n_u16(0), b1 = b0;
            int8x16_t xv[4];
            if (k + 4 <= K) {
                b0 = vreinterpretq_u16_u8(vld1q_u8(p + 64));
                b1 = vreinterpretq_u16_u8(vld1q_u8(p + 80));
                for (int i = 0; i < 4; i++) {
                    uint32_t w;
                    memcpy(&w, x + i * ldx + k, 4);
                    xv[i] = vreinterpretq_s8_u32(vdupq_n_u32(w));
                }
            } else {
                for (int i = 0; i < 4; i++) {
                    uint16_t w;
                    memcpy(&w, x + i * ldx + k, 2);
                    xv[i] = vreinterpretq_s8_u32(vdupq_n_u32(w));
                }
            }
            int8x16_t cq[4] = {vreinterpretq_s8_u16(vzip1q_u16(a0, b0)), vreinterpretq_s8_u16(vzip2q_u16(a0, b0)),
                               vreinterpretq_s8_u16(vzip1q_u16(a1, b1)), vreinterpretq_s8_u16(vzip2q_u16(a1, b1))};
            for (int i = 0; i < 4; i++)
                for (int c = 0; c < 4; c++) acc[i][c] = sdot(acc[i][c], cq[c], xv[i]);
        }
        for (int i = 0; i < 4; i++)
            for (int c = 0; c < 4; c++) vst1q_s32(out + i * 32 + 16 * h + 4 * c, acc[i][c]);
    }
}

void kernels_fill_dotprod(Kernels *k)
{
    k->ternary_codes_dot = ternary_codes_dot_dotprod;
    k->ternary_codes_dot4 = ternary_codes_dot4_dotprod;
    k->ternary_base3_dot = ternary_base3_dot_dotprod;
    k->ternary_base3_dot4 = ternary_base3_dot4_dotprod;
    k->binary_masked_sum = binary_masked_sum_dotprod;
    k->dot_i8 = dot_i8_dotprod;
    k->dot_i8_rows = dot_i8_rows_dotprod;
    k->codes_panel_4x32 = codes_panel_4x32_dotprod;
}
