/* ARMv8.2 dot-product kernels (64-bit ARM with FEAT_DotProd: Cortex-A55,
 * A76 and later, Apple M1 and later): SDOT sums four int8 x int8 products
 * into each 32-bit lane, so the int8 and ternary products need no 16-bit
 * stage. Built with -march=armv8.2-a+dotprod; only called when the OS says
 * the CPU has it. Every other slot is the NEON one. */
#include "kernels.h"

#include <arm_neon.h>
#include <string.h>

static inline int32x4_t sdot(int32x4_t acc, int8x16_t a, int8x16_t b) { return vdotq_s32(acc, a, b); }

/* the four sums of four vectors, in one vector */
static inline int32x4_t hsum4(int32x4_t a, int32x4_t b, int32x4_t c, int32x4_t d)
{
    return vpaddq_s32(vpaddq_s32(a, b), vpaddq_s32(c, d));
}

/* ---- 2-bit codes: field j of byte i is the code (0..2) of weight 16j + i */

/* acc + one block of codes against its 64 values of x */
static inline int32x4_t codes_block(int32x4_t acc, const uint8_t *codes, const int8x16_t xj[4])
{
    const uint8x16_t three = vdupq_n_u8(3);
    uint8x16_t v = vld1q_u8(codes);
    acc = sdot(acc, vreinterpretq_s8_u8(vandq_u8(v, three)), xj[0]);
    acc = sdot(acc, vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(v, 2), three)), xj[1]);
    acc = sdot(acc, vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(v, 4), three)), xj[2]);
    return sdot(acc, vreinterpretq_s8_u8(vshrq_n_u8(v, 6)), xj[3]);
}

static inline void load_x(int8x16_t *xj, const int8_t *x, int n16)
{
    for (int j = 0; j < n16; j++) xj[j] = vld1q_s8(x + 16 * j);
}

/* two sums, even and odd blocks, for two chains of additions */
static int32_t ternary_codes_dot_dotprod(const uint8_t *codes, const int8_t *x, size_t n_blocks)
{
    int32x4_t a0 = vdupq_n_s32(0), a1 = a0;
    int8x16_t xj[4];
    size_t b = 0;
    for (; b + 2 <= n_blocks; b += 2, codes += 32, x += 128) {
        load_x(xj, x, 4);
        a0 = codes_block(a0, codes, xj);
        load_x(xj, x + 64, 4);
        a1 = codes_block(a1, codes + 16, xj);
    }
    if (b < n_blocks) {
        load_x(xj, x, 4);
        a0 = codes_block(a0, codes, xj);
    }
    return vaddvq_s32(vaddq_s32(a0, a1));
}

static void ternary_codes_dot4_dotprod(int32_t out[4], const uint8_t *codes, size_t row_bytes, const int8_t *x,
                                       size_t n_blocks)
{
    int32x4_t acc[4] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};
    for (size_t b = 0; b < n_blocks; b++) {
        int8x16_t xj[4];
        load_x(xj, x + 64 * b, 4);
        for (int r = 0; r < 4; r++) acc[r] = codes_block(acc[r], codes + r * row_bytes + 16 * b, xj);
    }
    vst1q_s32(out, hsum4(acc[0], acc[1], acc[2], acc[3]));
}

/* ---- base 3: digits most significant first, digit = (q >= 86) + (q >= 171),
 * then q = 3q mod 256 (as kernels_neon.c). The compares give -1 masks, so
 * the sum of the two is minus the digit: the sums come out negated. */
static inline int32x4_t base3_block_neg(int32x4_t acc, const uint8_t *codes, const int8x16_t xj[5])
{
    const uint8x16_t c86 = vdupq_n_u8(86), c171 = vdupq_n_u8(171), three = vdupq_n_u8(3);
    uint8x16_t q = vld1q_u8(codes);
    for (int j = 0; j < 5; j++) {
        int8x16_t nd = vreinterpretq_s8_u8(vaddq_u8(vcgeq_u8(q, c86), vcgeq_u8(q, c171)));
        q = vmulq_u8(q, three);
        acc = sdot(acc, nd, xj[j]);
    }
    return acc;
}

static int32_t ternary_base3_dot_dotprod(const uint8_t *codes, const int8_t *x, size_t n_blocks)
{
    int32x4_t acc = vdupq_n_s32(0);
    for (size_t b = 0; b < n_blocks; b++, codes += 16, x += 80) {
        int8x16_t xj[5];
        load_x(xj, x, 5);
        acc = base3_block_neg(acc, codes, xj);
    }
    return -vaddvq_s32(acc);
}

static void ternary_base3_dot4_dotprod(int32_t out[4], const uint8_t *codes, size_t row_bytes, const int8_t *x,
                                       size_t n_blocks)
{
    int32x4_t acc[4] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};
    for (size_t b = 0; b < n_blocks; b++) {
        int8x16_t xj[5];
        load_x(xj, x + 80 * b, 5);
        for (int r = 0; r < 4; r++) acc[r] = base3_block_neg(acc[r], codes + r * row_bytes + 16 * b, xj);
    }
    vst1q_s32(out, vnegq_s32(hsum4(acc[0], acc[1], acc[2], acc[3])));
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
        const int8_t *r = rows + t * len;
        int32x4_t acc[4] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};
        for (size_t i = 0; i < full; i += 16) {
            int8x16_t qv = vld1q_s8(q + i);
            for (int j = 0; j < 4; j++) acc[j] = sdot(acc[j], qv, vld1q_s8(r + j * len + i));
        }
        vst1q_s32(out + t, hsum4(acc[0], acc[1], acc[2], acc[3]));
        for (size_t i = full; i < len; i++)
            for (int j = 0; j < 4; j++) out[t + j] += (int32_t)q[i] * r[j * len + i];
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
