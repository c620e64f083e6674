/* AltiVec (VMX) kernels: 32-bit big-endian PowerPC, the G4 (7400, 7450)
 * and G5. 4-wide float with fused multiply-add (vmaddfp; a plain product
 * is vmaddfp with -0 added, rounded once), 16-wide bytes with sums of four
 * products into 32-bit lanes (vmsummbm: signed bytes by unsigned bytes,
 * modulo 2^32, the shape of x86's vpdpbusd). Built with -maltivec, and
 * only this file: the program itself runs on a G3. Big-endian: element 0
 * of a vector is the lowest address, as in memory.
 *
 * vec_ld and vec_st ignore the low four address bits, so data that may be
 * unaligned is loaded as the two aligned blocks around it and a permute
 * (vec_lvsl), and stored through an aligned buffer or after a scalar head;
 * the second block is read at p + 15, never past the 16 bytes asked for,
 * so never on another page. Integer results are exact (sums modulo 2^32,
 * horizontal sums in uint32_t); float sums as kernels_slots.h allows. */
#include "kernels.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_BIG_ENDIAN__
#error "the AltiVec kernels are written for big-endian PowerPC (the Makefile builds them only for powerpc)"
#endif

#include <altivec.h>
#include <math.h>
#include <string.h>

typedef __vector unsigned char vu8;
typedef __vector signed char vs8;
typedef __vector unsigned short vu16;
typedef __vector signed int vs32;
typedef __vector unsigned int vu32;
typedef __vector float vf32;

/* ---- helpers ------------------------------------------------------------ */

/* 16 bytes from any address */
static inline vu8 ld_u8(const void *p)
{
    const unsigned char *c = (const unsigned char *)p;
    return vec_perm(vec_ld(0, c), vec_ld(15, c), vec_lvsl(0, c));
}

static inline vs8 ld_s8(const int8_t *p) { return (vs8)ld_u8(p); }

/* 4 floats from any (4-byte aligned) address */
static inline vf32 ld_f32(const float *p) { return (vf32)ld_u8(p); }

/* a * b rounded once: vmaddfp adding -0 (which keeps a product's sign) */
static inline vf32 mul_f32(vf32 a, vf32 b) { return vec_madd(a, b, (vf32)vec_splats(0x80000000u)); }

static inline float hsum_f32(vf32 v)
{
    union { vf32 v; float f[4]; } u = {v};
    return (u.f[0] + u.f[1]) + (u.f[2] + u.f[3]);
}

static inline float hmax_f32(vf32 v)
{
    union { vf32 v; float f[4]; } u = {v};
    float a = u.f[0] > u.f[1] ? u.f[0] : u.f[1], b = u.f[2] > u.f[3] ? u.f[2] : u.f[3];
    return a > b ? a : b;
}

/* the lanes' sum modulo 2^32, as the exact sum it is when that fits */
static inline uint32_t hsum_u32(vs32 v)
{
    union { vs32 v; uint32_t s[4]; } u = {v};
    return u.s[0] + u.s[1] + u.s[2] + u.s[3];
}

/* ---- float products ----------------------------------------------------- */

static float dot_f32_altivec(const float *a, const float *b, size_t n)
{
    const vf32 z = (vf32)vec_splats(0u);
    vf32 s0 = z, s1 = z, s2 = z, s3 = z;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = vec_madd(ld_f32(a + i), ld_f32(b + i), s0);
        s1 = vec_madd(ld_f32(a + i + 4), ld_f32(b + i + 4), s1);
        s2 = vec_madd(ld_f32(a + i + 8), ld_f32(b + i + 8), s2);
        s3 = vec_madd(ld_f32(a + i + 12), ld_f32(b + i + 12), s3);
    }
    for (; i + 4 <= n; i += 4) s0 = vec_madd(ld_f32(a + i), ld_f32(b + i), s0);
    float s = hsum_f32(vec_add(vec_add(s0, s1), vec_add(s2, s3)));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

/* |x| by clearing the sign bit; vmaxfp as the scalar comparison on
 * numbers */
static float absmax_f32_altivec(const float *x, size_t n)
{
    const vu32 mag = vec_splats(0x7fffffffu);
    vf32 m0 = (vf32)vec_splats(0u), m1 = m0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        m0 = vec_max(m0, vec_and(ld_f32(x + i), (vf32)mag));
        m1 = vec_max(m1, vec_and(ld_f32(x + i + 4), (vf32)mag));
    }
    for (; i + 4 <= n; i += 4) m0 = vec_max(m0, vec_and(ld_f32(x + i), (vf32)mag));
    float r = hmax_f32(vec_max(m0, m1));
    for (; i < n; i++) {
        float v = fabsf(x[i]);
        if (v > r) r = v;
    }
    return r;
}

static void dot4_f32_altivec(const float *a, const float *b, size_t ldb, size_t K, float out[4])
{
    const vf32 z = (vf32)vec_splats(0u);
    vf32 s0 = z, s1 = z, s2 = z, s3 = z;
    const float *b1 = b + ldb, *b2 = b + 2 * ldb, *b3 = b + 3 * ldb;
    size_t k = 0;
    for (; k + 4 <= K; k += 4) {
        vf32 va = ld_f32(a + k);
        s0 = vec_madd(va, ld_f32(b + k), s0);
        s1 = vec_madd(va, ld_f32(b1 + k), s1);
        s2 = vec_madd(va, ld_f32(b2 + k), s2);
        s3 = vec_madd(va, ld_f32(b3 + k), s3);
    }
    out[0] = hsum_f32(s0);
    out[1] = hsum_f32(s1);
    out[2] = hsum_f32(s2);
    out[3] = hsum_f32(s3);
    for (; k < K; k++) {
        out[0] += a[k] * b[k];
        out[1] += a[k] * b1[k];
        out[2] += a[k] * b2[k];
        out[3] += a[k] * b3[k];
    }
}

/* y read and written aligned after a scalar head (floats are 4-byte
 * aligned, so at most 3 of them), the x rows loaded from anywhere */
static void axpy4_f32_altivec(float *y, const float *x, size_t ldx, const float c[4], size_t n)
{
    const float *x1 = x + ldx, *x2 = x + 2 * ldx, *x3 = x + 3 * ldx;
    size_t i = 0;
    for (; i < n && ((uintptr_t)(y + i) & 15); i++)
        y[i] += c[0] * x[i] + c[1] * x1[i] + c[2] * x2[i] + c[3] * x3[i];
    vf32 c0 = vec_splats(c[0]), c1 = vec_splats(c[1]), c2 = vec_splats(c[2]), c3 = vec_splats(c[3]);
    for (; i + 4 <= n; i += 4) {
        vf32 v = vec_ld(0, y + i);
        v = vec_madd(c0, ld_f32(x + i), v);
        v = vec_madd(c1, ld_f32(x1 + i), v);
        v = vec_madd(c2, ld_f32(x2 + i), v);
        v = vec_madd(c3, ld_f32(x3 + i), v);
        vec_st(v, 0, y + i);
    }
    for (; i < n; i++) y[i] += c[0] * x[i] + c[1] * x1[i] + c[2] * x2[i] + c[3] * x3[i];
}

/* ---- quantisation ------------------------------------------------------- */

/* x * s rounded once, to the nearest integer, ties to even (vrfin), then
 * converted and narrowed with saturation (vctsxs, vpkswss, vpkshss): the
 * clamp to [-128, 127] of lrintf */
static inline vs32 quant4(const float *x, vf32 vs)
{
    return vec_cts(vec_round(mul_f32(ld_f32(x), vs)), 0);
}

static void quantize_i8_altivec(const float *x, size_t n, float s, int8_t *q)
{
    vf32 vs = vec_splats(s);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __vector signed short ab = vec_packs(quant4(x + i, vs), quant4(x + i + 4, vs));
        __vector signed short cd = vec_packs(quant4(x + i + 8, vs), quant4(x + i + 12, vs));
        union { vs8 v; int8_t b[16]; } u = {vec_packs(ab, cd)};
        memcpy(q + i, u.b, 16);
    }
    quantize_i8_ref(x + i, n - i, s, q + i);
}

/* ---- int8 x ternary products ------------------------------------------- */

/* acc + one block of 2-bit codes (ternary.h: field j of byte i is the code,
 * 0..2, of weight 16j + i) against its 64 values of x, x0..x3: vmsummbm,
 * x signed by the codes unsigned, four products a lane */
static inline vs32 codes_acc(vs32 acc, vu8 v, vs8 x0, vs8 x1, vs8 x2, vs8 x3)
{
    const vu8 three = vec_splat_u8(3);
    acc = vec_msum(x0, vec_and(v, three), acc);
    acc = vec_msum(x1, vec_and(vec_sr(v, vec_splat_u8(2)), three), acc);
    acc = vec_msum(x2, vec_and(vec_sr(v, vec_splat_u8(4)), three), acc);
    return vec_msum(x3, vec_sr(v, vec_splat_u8(6)), acc);
}

static int32_t ternary_codes_dot_altivec(const uint8_t *codes, const int8_t *x, size_t n_blocks)
{
    vs32 acc = vec_splats(0);
    for (size_t b = 0; b < n_blocks; b++, codes += 16, x += 64)
        acc = codes_acc(acc, ld_u8(codes), ld_s8(x), ld_s8(x + 16), ld_s8(x + 32), ld_s8(x + 48));
    return (int32_t)hsum_u32(acc);
}

/* four rows against one x: each block of x loaded once for the four */
static void ternary_codes_dot4_altivec(int32_t out[4], const uint8_t *codes, size_t row_bytes, const int8_t *x,
                                       size_t n_blocks)
{
    vs32 a0 = vec_splats(0), a1 = a0, a2 = a0, a3 = a0;
    const uint8_t *c0 = codes, *c1 = codes + row_bytes, *c2 = codes + 2 * row_bytes, *c3 = codes + 3 * row_bytes;
    for (size_t b = 0; b < 16 * n_blocks; b += 16, x += 64) {
        vs8 x0 = ld_s8(x), x1 = ld_s8(x + 16), x2 = ld_s8(x + 32), x3 = ld_s8(x + 48);
        a0 = codes_acc(a0, ld_u8(c0 + b), x0, x1, x2, x3);
        a1 = codes_acc(a1, ld_u8(c1 + b), x0, x1, x2, x3);
        a2 = codes_acc(a2, ld_u8(c2 + b), x0, x1, x2, x3);
        a3 = codes_acc(a3, ld_u8(c3 + b), x0, x1, x2, x3);
    }
    out[0] = (int32_t)hsum_u32(a0);
    out[1] = (int32_t)hsum_u32(a1);
    out[2] = (int32_t)hsum_u32(a2);
    out[3] = (int32_t)hsum_u32(a3);
}

/* Base 3 (ternary.h), digits most significant first: digit = 3q >> 8,
 * which is (q > 85) + (q > 170): two unsigned compares (vcmpgtub) give
 * masks of -1, so minus their sum is the digit; then q = 3q mod 256 by
 * byte additions. The products as for 2 bits. */
static inline vs32 base3_acc(vs32 acc, const uint8_t *codes, const int8_t *x)
{
    const vu8 lo = vec_splats((unsigned char)85), hi = vec_splats((unsigned char)170), zero = vec_splat_u8(0);
    vu8 q = ld_u8(codes);
    for (int j = 0; j < 5; j++) {
        vu8 d = vec_sub(zero, vec_add((vu8)vec_cmpgt(q, lo), (vu8)vec_cmpgt(q, hi)));
        acc = vec_msum(ld_s8(x + 16 * j), d, acc);
        q = vec_add(vec_add(q, q), q);
    }
    return acc;
}

static int32_t ternary_base3_dot_altivec(const uint8_t *codes, const int8_t *x, size_t n_blocks)
{
    vs32 acc = vec_splats(0);
    for (size_t b = 0; b < n_blocks; b++, codes += 16, x += 80) acc = base3_acc(acc, codes, x);
    return (int32_t)hsum_u32(acc);
}

static void ternary_base3_dot4_altivec(int32_t out[4], const uint8_t *codes, size_t row_bytes, const int8_t *x,
                                       size_t n_blocks)
{
    vs32 a0 = vec_splats(0), a1 = a0, a2 = a0, a3 = a0;
    for (size_t b = 0; b < 16 * n_blocks; b += 16, x += 80) {
        a0 = base3_acc(a0, codes + b, x);
        a1 = base3_acc(a1, codes + row_bytes + b, x);
        a2 = base3_acc(a2, codes + 2 * row_bytes + b, x);
        a3 = base3_acc(a3, codes + 3 * row_bytes + b, x);
    }
    out[0] = (int32_t)hsum_u32(a0);
    out[1] = (int32_t)hsum_u32(a1);
    out[2] = (int32_t)hsum_u32(a2);
    out[3] = (int32_t)hsum_u32(a3);
}

/* The 1-bit masked sum (ternary.h): bytes 2j and 2j + 1 of a block's bits
 * spread over 8 lanes each (a permute), tested against 1, 2, .., 128, and
 * the values they keep summed four a lane (vmsummbm by ones) */
static int32_t binary_masked_sum_altivec(const uint8_t *bits, const int8_t *x, size_t n_blocks)
{
    const vu8 sel = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128}, ones = vec_splat_u8(1);
    const vu8 spread[4] = {{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1},
                           {2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3},
                           {4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5},
                           {6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7}};
    vs32 acc = vec_splats(0);
    for (size_t b = 0; b < n_blocks; b++, bits += 8, x += 64) {
        union { vu8 v; uint8_t b[16]; } u;
        memcpy(u.b, bits, 8);
        memset(u.b + 8, 0, 8);
        for (int j = 0; j < 4; j++) {
            vu8 keep = (vu8)vec_cmpeq(vec_and(vec_perm(u.v, u.v, spread[j]), sel), sel);
            acc = vec_msum(vec_and(ld_s8(x + 16 * j), (vs8)keep), ones, acc);
        }
    }
    return (int32_t)hsum_u32(acc);
}

/* ---- int8 products (attention over the int8 cache) ---------------------- */

/* a . b = a . (b + 128) - 128 sum a: b ^ 0x80 is b + 128 as an unsigned
 * byte, so vmsummbm takes a signed and b + 128 unsigned; sum a is a
 * vmsummbm by ones. All modulo 2^32: exact when the true sum fits. */
static inline vs32 dot16_acc(vs32 acc, vs8 a, vs8 b)
{
    return vec_msum(a, vec_xor((vu8)b, vec_splats((unsigned char)0x80)), acc);
}

static inline vs32 sum16_acc(vs32 acc, vs8 a) { return vec_msum(a, vec_splat_u8(1), acc); }

static int32_t dot_i8_altivec(const int8_t *a, const int8_t *b, size_t n)
{
    vs32 acc = vec_splats(0), sa = acc;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        vs8 va = ld_s8(a + i);
        acc = dot16_acc(acc, va, ld_s8(b + i));
        sa = sum16_acc(sa, va);
    }
    uint32_t s = hsum_u32(acc) - 128u * hsum_u32(sa);
    for (; i < n; i++) s += (uint32_t)((int32_t)a[i] * b[i]);
    return (int32_t)s;
}

/* four rows at a time against one q: each 16 of q loaded once, its sum
 * taken once for all the rows */
static void dot_i8_rows_altivec(int32_t *out, const int8_t *q, const int8_t *rows, size_t len, size_t n)
{
    size_t full = len / 16 * 16;
    vs32 sq = vec_splats(0);
    for (size_t i = 0; i < full; i += 16) sq = sum16_acc(sq, ld_s8(q + i));
    uint32_t bias = 128u * hsum_u32(sq);
    size_t t = 0;
    for (; t + 4 <= n; t += 4) {
        const int8_t *r0 = rows + t * len, *r1 = r0 + len, *r2 = r1 + len, *r3 = r2 + len;
        vs32 a0 = vec_splats(0), a1 = a0, a2 = a0, a3 = a0;
        for (size_t i = 0; i < full; i += 16) {
            vs8 qv = ld_s8(q + i);
            a0 = dot16_acc(a0, qv, ld_s8(r0 + i));
            a1 = dot16_acc(a1, qv, ld_s8(r1 + i));
            a2 = dot16_acc(a2, qv, ld_s8(r2 + i));
            a3 = dot16_acc(a3, qv, ld_s8(r3 + i));
        }
        uint32_t s0 = hsum_u32(a0) - bias, s1 = hsum_u32(a1) - bias, s2 = hsum_u32(a2) - bias,
                 s3 = hsum_u32(a3) - bias;
        for (size_t i = full; i < len; i++) {
            s0 += (uint32_t)((int32_t)q[i] * r0[i]);
            s1 += (uint32_t)((int32_t)q[i] * r1[i]);
            s2 += (uint32_t)((int32_t)q[i] * r2[i]);
            s3 += (uint32_t)((int32_t)q[i] * r3[i]);
        }
        out[t] = (int32_t)s0;
        out[t + 1] = (int32_t)s1;
        out[t + 2] = (int32_t)s2;
        out[t + 3] = (int32_t)s3;
    }
    for (; t < n; t++) out[t] = dot_i8_altivec(q, rows + t * len, len);
}

/* read bandwidth: a scalar head to a 16-byte boundary, aligned loads
 * summed four bytes a lane (vsum4ubs, saturating: at most 1020 a vector,
 * so flushed into 64 bits every 2^16 vectors), a scalar tail */
static uint64_t sum_u8_altivec(const uint8_t *x, size_t n)
{
    uint64_t s = 0;
    size_t i = 0;
    for (; i < n && ((uintptr_t)(x + i) & 15); i++) s += x[i];
    while (i + 16 <= n) {
        size_t end = n - i > ((size_t)1 << 20) ? i + ((size_t)1 << 20) : n;
        vu32 a0 = vec_splats(0u), a1 = a0, a2 = a0, a3 = a0;
        for (; i + 64 <= end; i += 64) {
            a0 = vec_sum4s(vec_ld(0, x + i), a0);
            a1 = vec_sum4s(vec_ld(16, x + i), a1);
            a2 = vec_sum4s(vec_ld(32, x + i), a2);
            a3 = vec_sum4s(vec_ld(48, x + i), a3);
        }
        for (; i + 16 <= end; i += 16) a0 = vec_sum4s(vec_ld(0, x + i), a0);
        union { vu32 v; uint32_t s[4]; } u0 = {a0}, u1 = {a1}, u2 = {a2}, u3 = {a3};
        for (int j = 0; j < 4; j++) s += (uint64_t)u0.s[j] + u1.s[j] + u2.s[j] + u3.s[j];
    }
    for (; i < n; i++) s += x[i];
    return s;
}

/* The batched training product: two pairs of k (panel rows k/2 and k/2 +
 * 1, 64 bytes apart) merged by 16-bit halves give each column's four codes
 * of k..k+3 in one 32-bit lane, and each row's x[k..k+3], in every lane,
 * multiplies them into 32-bit sums (vmsummbm): 4 columns a vector, 16
 * columns (4 rows x 4 sums) a pass. An odd last pair takes zero codes and
 * zero x for k + 2 and k + 3. */
static inline vs8 x4_splat(const int8_t *p, size_t bytes)
{
    uint32_t w = 0;
    memcpy(&w, p, bytes);  /* big-endian: p[0] the lane's first byte */
    return (vs8)vec_splats(w);
}

static void codes_panel_4x32_altivec(int32_t *out, const int8_t *x, size_t ldx, const uint8_t *panel, size_t K)
{
    for (int h = 0; h < 2; h++) {
        vs32 acc[4][4];
        for (int i = 0; i < 4; i++)
            for (int c = 0; c < 4; c++) acc[i][c] = vec_splats(0);
        for (size_t k = 0; k < K; k += 4) {
            size_t bytes = K - k >= 4 ? 4 : 2;
            const uint8_t *p0 = panel + k * 32 + 32 * h;
            vu16 a0 = (vu16)ld_u8(p0), a1 = (vu16)ld_u8(p0 + 16), b0 = (vu16)vec_splat_u8(0), b1 = b0;
            if (bytes == 4) b0 = (vu16)ld_u8(p0 + 64), b1 = (vu16)ld_u8(p0 + 80);
            vu8 cc[4] = {(vu8)vec_mergeh(a0, b0), (vu8)vec_mergel(a0, b0), (vu8)vec_mergeh(a1, b1),
                         (vu8)vec_mergel(a1, b1)};
            for (int i = 0; i < 4; i++) {
                vs8 xi = x4_splat(x + i * ldx + k, bytes);
                for (int c = 0; c < 4; c++) acc[i][c] = vec_msum(xi, cc[c], acc[i][c]);
            }
        }
        for (int i = 0; i < 4; i++)
            for (int c = 0; c < 4; c++) {
                union { vs32 v; int32_t s[4]; } u = {acc[i][c]};
                int32_t *o = out + i * 32 + 16 * h + 4 * c;
                for (int l = 0; l < 4; l++) o[l] += u.s[l];
            }
    }
}

void kernels_fill_altivec(Kernels *k)
{
    k->int8_simd = 1;
    k->dot_f32 = dot_f32_altivec;
    k->absmax_f32 = absmax_f32_altivec;
    k->dot4_f32 = dot4_f32_altivec;
    k->axpy4_f32 = axpy4_f32_altivec;
    k->quantize_i8 = quantize_i8_altivec;
    k->ternary_codes_dot = ternary_codes_dot_altivec;
    k->ternary_codes_dot4 = ternary_codes_dot4_altivec;
    k->ternary_base3_dot = ternary_base3_dot_altivec;
    k->ternary_base3_dot4 = ternary_base3_dot4_altivec;
    k->binary_masked_sum = binary_masked_sum_altivec;
    k->dot_i8 = dot_i8_altivec;
    k->dot_i8_rows = dot_i8_rows_altivec;
    k->sum_u8 = sum_u8_altivec;
    k->codes_panel_4x32 = codes_panel_4x32_altivec;
}
