/* NEON (Advanced SIMD) kernels: every 64-bit ARM, and 32-bit ARMv7 with
 * NEON. 4-wide float, 16-wide int8 with widening multiply-accumulates
 * (vmull/vmlal: int8 x int8 into 16-bit lanes) and pairwise widening adds
 * (vpadal) into 32 bits. One source for both: the few intrinsics only
 * 64-bit ARM has (across-vector sums, vector division and square root,
 * rounding conversion, fused multiply-add) sit behind __aarch64__, with an
 * ARMv7 way beside each. Built with nothing extra on 64-bit ARM, with
 * -mfpu=neon on 32-bit ARM (and only this file: the program itself runs
 * on ARMv7 without NEON). */
#include "kernels.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#error "the ARM kernels are written for little-endian ARM (the Makefile leaves them out on big-endian)"
#endif

#include <arm_neon.h>
#include <math.h>
#include <string.h>

#include "kernels_exp_consts.h"

/* ---- helpers ------------------------------------------------------------ */

static inline float hsum_f32(float32x4_t v)
{
#if defined(__aarch64__)
    return vaddvq_f32(v);
#else
    float32x2_t t = vadd_f32(vget_low_f32(v), vget_high_f32(v));
    return vget_lane_f32(vpadd_f32(t, t), 0);
#endif
}

static inline float hmax_f32(float32x4_t v)
{
#if defined(__aarch64__)
    return vmaxvq_f32(v);
#else
    float32x2_t t = vmax_f32(vget_low_f32(v), vget_high_f32(v));
    return vget_lane_f32(vpmax_f32(t, t), 0);
#endif
}

static inline int32_t hsum_s32(int32x4_t v)
{
#if defined(__aarch64__)
    return vaddvq_s32(v);
#else
    int32x2_t t = vadd_s32(vget_low_s32(v), vget_high_s32(v));
    return vget_lane_s32(vpadd_s32(t, t), 0);
#endif
}

/* the four sums of four vectors, in one vector */
static inline int32x4_t hsum4_s32(int32x4_t a, int32x4_t b, int32x4_t c, int32x4_t d)
{
#if defined(__aarch64__)
    return vpaddq_s32(vpaddq_s32(a, b), vpaddq_s32(c, d));
#else
    int32x2_t ab = vpadd_s32(vpadd_s32(vget_low_s32(a), vget_high_s32(a)), vpadd_s32(vget_low_s32(b), vget_high_s32(b)));
    int32x2_t cd = vpadd_s32(vpadd_s32(vget_low_s32(c), vget_high_s32(c)), vpadd_s32(vget_low_s32(d), vget_high_s32(d)));
    return vcombine_s32(ab, cd);
#endif
}

/* acc + a * b: fused on 64-bit ARM; ARMv7's vmla rounds the product */
static inline float32x4_t mla_f32(float32x4_t acc, float32x4_t a, float32x4_t b)
{
#if defined(__aarch64__)
    return vfmaq_f32(acc, a, b);
#else
    return vmlaq_f32(acc, a, b);
#endif
}

/* a / b: ARMv7 has no vector division, so a reciprocal estimate and two
 * Newton steps (within 2 ulp of 1/b), then the product */
static inline float32x4_t div_f32(float32x4_t a, float32x4_t b)
{
#if defined(__aarch64__)
    return vdivq_f32(a, b);
#else
    float32x4_t r = vrecpeq_f32(b);
    r = vmulq_f32(vrecpsq_f32(b, r), r);
    r = vmulq_f32(vrecpsq_f32(b, r), r);
    return vmulq_f32(a, r);
#endif
}

/* the last k < 4 floats of a row through the same vector code, in a
 * padded buffer, so every element gets the same arithmetic wherever it
 * sits in the row */
static inline float32x4_t load_tail(const float *x, size_t k, float pad)
{
    float b[4] = {pad, pad, pad, pad};
    memcpy(b, x, k * sizeof *b);
    return vld1q_f32(b);
}

static inline void store_tail(float *y, float32x4_t v, size_t k)
{
    float b[4];
    vst1q_f32(b, v);
    memcpy(y, b, k * sizeof *b);
}

/* ---- float products ----------------------------------------------------- */

static float dot_f32_neon(const float *a, const float *b, size_t n)
{
    float32x4_t s0 = vdupq_n_f32(0), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = mla_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
        s1 = mla_f32(s1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
        s2 = mla_f32(s2, vld1q_f32(a + i + 8), vld1q_f32(b + i + 8));
        s3 = mla_f32(s3, vld1q_f32(a + i + 12), vld1q_f32(b + i + 12));
    }
    for (; i + 4 <= n; i += 4) s0 = mla_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
    float s = hsum_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

static float absmax_f32_neon(const float *x, size_t n)
{
    float32x4_t m0 = vdupq_n_f32(0), m1 = m0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        m0 = vmaxq_f32(m0, vabsq_f32(vld1q_f32(x + i)));
        m1 = vmaxq_f32(m1, vabsq_f32(vld1q_f32(x + i + 4)));
    }
    for (; i + 4 <= n; i += 4) m0 = vmaxq_f32(m0, vabsq_f32(vld1q_f32(x + i)));
    float r = hmax_f32(vmaxq_f32(m0, m1));
    for (; i < n; i++) {
        float v = fabsf(x[i]);
        if (v > r) r = v;
    }
    return r;
}

static void dot4_f32_neon(const float *a, const float *b, size_t ldb, size_t K, float out[4])
{
    float32x4_t s0 = vdupq_n_f32(0), s1 = s0, s2 = s0, s3 = s0;
    const float *b1 = b + ldb, *b2 = b + 2 * ldb, *b3 = b + 3 * ldb;
    size_t k = 0;
    for (; k + 4 <= K; k += 4) {
        float32x4_t va = vld1q_f32(a + k);
        s0 = mla_f32(s0, va, vld1q_f32(b + k));
        s1 = mla_f32(s1, va, vld1q_f32(b1 + k));
        s2 = mla_f32(s2, va, vld1q_f32(b2 + k));
        s3 = mla_f32(s3, va, vld1q_f32(b3 + k));
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

static void axpy4_f32_neon(float *y, const float *x, size_t ldx, const float c[4], size_t n)
{
    float32x4_t c0 = vdupq_n_f32(c[0]), c1 = vdupq_n_f32(c[1]), c2 = vdupq_n_f32(c[2]), c3 = vdupq_n_f32(c[3]);
    const float *x1 = x + ldx, *x2 = x + 2 * ldx, *x3 = x + 3 * ldx;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        float32x4_t v = vld1q_f32(y + i);
        v = mla_f32(v, c0, vld1q_f32(x + i));
        v = mla_f32(v, c1, vld1q_f32(x1 + i));
        v = mla_f32(v, c2, vld1q_f32(x2 + i));
        v = mla_f32(v, c3, vld1q_f32(x3 + i));
        vst1q_f32(y + i, v);
    }
    for (; i < n; i++) y[i] += c[0] * x[i] + c[1] * x1[i] + c[2] * x2[i] + c[3] * x3[i];
}

/* A 4 x (4 * NS) strip of the tile: 4 * NS accumulators, NS loads of b
 * and 4 broadcasts per k, each sum over k in order. 64-bit ARM (32
 * registers) takes the 16 columns at once; ARMv7 (16) in two strips of 8. */
#define STRIP(NS)                                                                         \
    do {                                                                                  \
        float32x4_t c[4][NS], bk[NS];                                                     \
        for (int i = 0; i < 4; i++)                                                       \
            for (int s = 0; s < NS; s++) c[i][s] = vdupq_n_f32(0);                        \
        for (size_t k = 0; k < K; k++) {                                                  \
            const float *ak = a + k * sk;                                                 \
            for (int s = 0; s < NS; s++) bk[s] = vld1q_f32(b + k * ldb + j + 4 * s);       \
            for (int i = 0; i < 4; i++) {                                                 \
                float32x4_t x = vdupq_n_f32(ak[i * sm]);                                  \
                for (int s = 0; s < NS; s++) c[i][s] = mla_f32(c[i][s], x, bk[s]);        \
            }                                                                             \
        }                                                                                 \
        for (int i = 0; i < 4; i++)                                                       \
            for (int s = 0; s < NS; s++) {                                                \
                float *o = out + i * ldo + j + 4 * s;                                     \
                vst1q_f32(o, mla_f32(vld1q_f32(o), va, c[i][s]));                         \
            }                                                                             \
    } while (0)

static void tile_4x16(float *out, size_t ldo, const float *a, size_t sm, size_t sk, const float *b, size_t ldb,
                      size_t K, float alpha)
{
    float32x4_t va = vdupq_n_f32(alpha);
#if defined(__aarch64__)
    for (int j = 0; j < 16; j += 16) STRIP(4);
#else
    for (int j = 0; j < 16; j += 8) STRIP(2);
#endif
}
#undef STRIP

static void gemm_tile_f32_neon(float *out, size_t ldo, const float *a, size_t sm, size_t sk, const float *b,
                               size_t ldb, size_t K, size_t n, float alpha)
{
    for (size_t j = 0; j < n; j += 16) tile_4x16(out + j, ldo, a, sm, sk, b + j, ldb, K, alpha);
}

/* ---- quantisation and the optimiser ------------------------------------ */

/* round to nearest, ties to even, as lrintf: 64-bit ARM converts so
 * (fcvtns); ARMv7's conversions truncate, so there the value is first
 * clamped to [-129, 128] (which changes no result after the clamp to
 * int8) and rounded by the 1.5 * 2^23 trick */
static inline int32x4_t round_s32(float32x4_t v)
{
#if defined(__aarch64__)
    return vcvtnq_s32_f32(v);
#else
    const float32x4_t magic = vdupq_n_f32(12582912.0f);
    v = vminq_f32(vmaxq_f32(v, vdupq_n_f32(-129.0f)), vdupq_n_f32(128.0f));
    return vsubq_s32(vreinterpretq_s32_f32(vaddq_f32(v, magic)), vdupq_n_s32(0x4B400000));
#endif
}

/* the saturating narrowings clamp to int8 as the scalar version does */
static void quantize_i8_neon(const float *x, size_t n, float s, int8_t *q)
{
    float32x4_t vs = vdupq_n_f32(s);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        int32x4_t a = round_s32(vmulq_f32(vld1q_f32(x + i), vs));
        int32x4_t b = round_s32(vmulq_f32(vld1q_f32(x + i + 4), vs));
        int32x4_t c = round_s32(vmulq_f32(vld1q_f32(x + i + 8), vs));
        int32x4_t d = round_s32(vmulq_f32(vld1q_f32(x + i + 12), vs));
        int16x8_t ab = vcombine_s16(vqmovn_s32(a), vqmovn_s32(b)), cd = vcombine_s16(vqmovn_s32(c), vqmovn_s32(d));
        vst1q_s8(q + i, vcombine_s8(vqmovn_s16(ab), vqmovn_s16(cd)));
    }
    quantize_i8_ref(x + i, n - i, s, q + i);
}

/* the scalar formula, four at a time, in the same order of operations;
 * ARMv7 takes the division and square root lane by lane (VFP's are
 * exact, NEON has neither) */
static void adamw_f32_neon(float *w, const float *g, float *m, float *v, size_t n, const float k[8])
{
    float32x4_t b1 = vdupq_n_f32(k[0]), b2 = vdupq_n_f32(k[1]), lr = vdupq_n_f32(k[3]), wd = vdupq_n_f32(k[4]);
    float32x4_t gs = vdupq_n_f32(k[7]), a1 = vdupq_n_f32(1.0f - k[0]), a2 = vdupq_n_f32(1.0f - k[1]);
#if defined(__aarch64__)
    float32x4_t eps = vdupq_n_f32(k[2]), c1 = vdupq_n_f32(k[5]), c2 = vdupq_n_f32(k[6]);
#endif
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        float32x4_t gi = vmulq_f32(vld1q_f32(g + i), gs);
        float32x4_t mi = vaddq_f32(vmulq_f32(b1, vld1q_f32(m + i)), vmulq_f32(a1, gi));
        float32x4_t vi = vaddq_f32(vmulq_f32(b2, vld1q_f32(v + i)), vmulq_f32(vmulq_f32(a2, gi), gi));
        vst1q_f32(m + i, mi);
        vst1q_f32(v + i, vi);
#if defined(__aarch64__)
        float32x4_t upd = vdivq_f32(vdivq_f32(mi, c1), vaddq_f32(vsqrtq_f32(vdivq_f32(vi, c2)), eps));
#else
        float u[4];
        for (int j = 0; j < 4; j++) u[j] = (m[i + j] / k[5]) / (sqrtf(v[i + j] / k[6]) + k[2]);
        float32x4_t upd = vld1q_f32(u);
#endif
        float32x4_t wi = vld1q_f32(w + i);
        vst1q_f32(w + i, vsubq_f32(wi, vmulq_f32(lr, vaddq_f32(upd, vmulq_f32(wd, wi)))));
    }
    adamw_f32_ref(w + i, g + i, m + i, v + i, n - i, k);
}

/* ---- row kernels of the float layers ----------------------------------- */

/* exp as kernels_sse_exp.h computes it (the same range handling,
 * reduction and polynomial, the constants of kernels_exp_consts.h, no
 * fused multiply-adds), so the results are the SSE ones to the bit.
 * n = round(x log2 e) to nearest even: a conversion on 64-bit ARM, the
 * 1.5 * 2^23 trick on ARMv7 (|x log2 e| <= 127.5 after the clamp).
 * vmaxq/vminq pass NaN on, as maxps/minps do with NaN second. ARMv7's
 * NEON flushes denormals to 0; the results here are normal or 0. */
static inline float32x4_t exp_f32x4(float32x4_t x)
{
    const float32x4_t lo = vdupq_n_f32(EXP_LO), hi = vdupq_n_f32(EXP_HI);
    uint32x4_t tiny = vcltq_f32(x, lo);  /* false for NaN */
    x = vminq_f32(hi, vmaxq_f32(lo, x));
    float32x4_t t = vmulq_f32(x, vdupq_n_f32(EXP_LOG2E));
#if defined(__aarch64__)
    int32x4_t n = vcvtnq_s32_f32(t);
    float32x4_t nf = vcvtq_f32_s32(n);
#else
    const float32x4_t magic = vdupq_n_f32(12582912.0f);
    float32x4_t tm = vaddq_f32(t, magic), nf = vsubq_f32(tm, magic);
    int32x4_t n = vsubq_s32(vreinterpretq_s32_f32(tm), vdupq_n_s32(0x4B400000));
#endif
    float32x4_t r = vsubq_f32(x, vmulq_f32(nf, vdupq_n_f32(EXP_LN2_HI)));
    r = vsubq_f32(r, vmulq_f32(nf, vdupq_n_f32(EXP_LN2_LO)));
    float32x4_t p = vdupq_n_f32(EXP_P0);
    p = vaddq_f32(vmulq_f32(p, r), vdupq_n_f32(EXP_P1));
    p = vaddq_f32(vmulq_f32(p, r), vdupq_n_f32(EXP_P2));
    p = vaddq_f32(vmulq_f32(p, r), vdupq_n_f32(EXP_P3));
    p = vaddq_f32(vmulq_f32(p, r), vdupq_n_f32(EXP_P4));
    p = vaddq_f32(vmulq_f32(p, r), vdupq_n_f32(EXP_P5));
    p = vaddq_f32(vaddq_f32(vmulq_f32(p, vmulq_f32(r, r)), r), vdupq_n_f32(1.0f));
    float32x4_t scale = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n, vdupq_n_s32(127)), 23));
    return vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(vmulq_f32(p, scale)), tiny));
}

static void exp_f32_neon(float *y, const float *x, size_t n)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, exp_f32x4(vld1q_f32(x + i)));
    if (i < n) store_tail(y + i, exp_f32x4(load_tail(x + i, n - i, 0)), n - i);
}

static float softmax_f32_neon(float *p, const float *x, size_t n, float *maxv)
{
    const float ninf = -INFINITY;
    float32x4_t m4 = vdupq_n_f32(ninf);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) m4 = vmaxq_f32(m4, vld1q_f32(x + i));
    if (i < n) m4 = vmaxq_f32(m4, load_tail(x + i, n - i, ninf));
    float m = hmax_f32(m4);
    float32x4_t vm = vdupq_n_f32(m), s4 = vdupq_n_f32(0);
    for (i = 0; i + 4 <= n; i += 4) {
        float32x4_t e = exp_f32x4(vsubq_f32(vld1q_f32(x + i), vm));
        vst1q_f32(p + i, e);
        s4 = vaddq_f32(s4, e);
    }
    if (i < n) {  /* padding with -inf adds exp(-inf) = 0 to the sum */
        float32x4_t e = exp_f32x4(vsubq_f32(load_tail(x + i, n - i, ninf), vm));
        store_tail(p + i, e, n - i);
        s4 = vaddq_f32(s4, e);
    }
    float sum = hsum_f32(s4);
    float32x4_t inv = vdupq_n_f32(1.0f / sum);
    for (i = 0; i + 4 <= n; i += 4) vst1q_f32(p + i, vmulq_f32(vld1q_f32(p + i), inv));
    if (i < n) store_tail(p + i, vmulq_f32(load_tail(p + i, n - i, 0), inv), n - i);
    if (maxv) *maxv = m;
    return sum;
}

static float rmsnorm_f32_neon(float *out, const float *x, const float *w, size_t n, float eps)
{
    float32x4_t s0 = vdupq_n_f32(0), s1 = s0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        float32x4_t a = vld1q_f32(x + i), b = vld1q_f32(x + i + 4);
        s0 = mla_f32(s0, a, a);
        s1 = mla_f32(s1, b, b);
    }
    float ss = hsum_f32(vaddq_f32(s0, s1));
    for (; i < n; i++) ss += x[i] * x[i];
    float r = 1.0f / sqrtf(ss / (float)n + eps);
    float32x4_t vr = vdupq_n_f32(r);
    for (i = 0; i + 4 <= n; i += 4) vst1q_f32(out + i, vmulq_f32(vmulq_f32(vld1q_f32(x + i), vr), vld1q_f32(w + i)));
    for (; i < n; i++) out[i] = x[i] * r * w[i];
    return r;
}

static void rmsnorm_bwd_f32_neon(float *dx, float *dw, const float *g, const float *x, const float *w, float r,
                                 size_t n)
{
    float32x4_t s0 = vdupq_n_f32(0), s1 = s0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        s0 = mla_f32(s0, vmulq_f32(vld1q_f32(g + i), vld1q_f32(w + i)), vld1q_f32(x + i));
        s1 = mla_f32(s1, vmulq_f32(vld1q_f32(g + i + 4), vld1q_f32(w + i + 4)), vld1q_f32(x + i + 4));
    }
    float gwx = hsum_f32(vaddq_f32(s0, s1));
    for (; i < n; i++) gwx += g[i] * w[i] * x[i];
    float k = r * r * r * gwx / (float)n;
    float32x4_t vr = vdupq_n_f32(r), vk = vdupq_n_f32(k);
    for (i = 0; i + 4 <= n; i += 4) {
        float32x4_t gi = vld1q_f32(g + i), xi = vld1q_f32(x + i);
        float32x4_t d = vsubq_f32(vmulq_f32(vmulq_f32(vr, vld1q_f32(w + i)), gi), vmulq_f32(vk, xi));
        vst1q_f32(dx + i, vaddq_f32(vld1q_f32(dx + i), d));
        vst1q_f32(dw + i, vaddq_f32(vld1q_f32(dw + i), vmulq_f32(vmulq_f32(gi, xi), vr)));
    }
    for (; i < n; i++) {
        dx[i] += r * w[i] * g[i] - k * x[i];
        dw[i] += g[i] * x[i] * r;
    }
}

/* sigmoid(g) = 1 / (1 + exp(-g)) */
static inline float32x4_t sigmoid_f32x4(float32x4_t g)
{
    const float32x4_t one = vdupq_n_f32(1.0f);
    return div_f32(one, vaddq_f32(one, exp_f32x4(vnegq_f32(g))));
}

static inline float32x4_t swiglu_f32x4(float32x4_t g, float32x4_t u)
{
    return vmulq_f32(vmulq_f32(g, sigmoid_f32x4(g)), u);
}

static void swiglu_f32_neon(float *out, const float *gate, const float *up, size_t n)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(out + i, swiglu_f32x4(vld1q_f32(gate + i), vld1q_f32(up + i)));
    if (i < n) store_tail(out + i, swiglu_f32x4(load_tail(gate + i, n - i, 0), load_tail(up + i, n - i, 0)), n - i);
}

/* the scalar formula in the same order */
static inline void swiglu_bwd_f32x4(float32x4_t *dg, float32x4_t *du, float32x4_t d, float32x4_t g, float32x4_t u)
{
    const float32x4_t one = vdupq_n_f32(1.0f);
    float32x4_t s = sigmoid_f32x4(g);
    float32x4_t t = vmulq_f32(vmulq_f32(vmulq_f32(d, u), s), vaddq_f32(one, vmulq_f32(g, vsubq_f32(one, s))));
    *dg = vaddq_f32(*dg, t);
    *du = vaddq_f32(*du, vmulq_f32(vmulq_f32(d, g), s));
}

static void swiglu_bwd_f32_neon(float *dgate, float *dup, const float *dout, const float *gate, const float *up,
                                size_t n)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        float32x4_t dg = vld1q_f32(dgate + i), du = vld1q_f32(dup + i);
        swiglu_bwd_f32x4(&dg, &du, vld1q_f32(dout + i), vld1q_f32(gate + i), vld1q_f32(up + i));
        vst1q_f32(dgate + i, dg);
        vst1q_f32(dup + i, du);
    }
    if (i < n) {
        size_t k = n - i;
        float32x4_t dg = load_tail(dgate + i, k, 0), du = load_tail(dup + i, k, 0);
        swiglu_bwd_f32x4(&dg, &du, load_tail(dout + i, k, 0), load_tail(gate + i, k, 0), load_tail(up + i, k, 0));
        store_tail(dgate + i, dg, k);
        store_tail(dup + i, du, k);
    }
}

/* x where x > 0, else 0 (also for -0 and NaN, as the scalar test gives) */
static inline float32x4_t positive_part(float32x4_t x)
{
    return vreinterpretq_f32_u32(vandq_u32(vcgtq_f32(x, vdupq_n_f32(0)), vreinterpretq_u32_f32(x)));
}

static void relu2_f32_neon(float *out, const float *x, size_t n)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        float32x4_t v = positive_part(vld1q_f32(x + i));
        vst1q_f32(out + i, vmulq_f32(v, v));
    }
    for (; i < n; i++) {
        float v = x[i] > 0 ? x[i] : 0;
        out[i] = v * v;
    }
}

static void relu2_bwd_f32_neon(float *dx, const float *dout, const float *x, size_t n)
{
    const float32x4_t zero = vdupq_n_f32(0), two = vdupq_n_f32(2.0f);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        float32x4_t xi = vld1q_f32(x + i);
        float32x4_t d = vmulq_f32(vmulq_f32(vld1q_f32(dout + i), two), xi);
        d = vreinterpretq_f32_u32(vandq_u32(vcgtq_f32(xi, zero), vreinterpretq_u32_f32(d)));
        vst1q_f32(dx + i, vaddq_f32(vld1q_f32(dx + i), d));
    }
    for (; i < n; i++)
        if (x[i] > 0) dx[i] += dout[i] * 2.0f * x[i];
}

/* ---- int8 x ternary products ------------------------------------------- */

/* Written out without arrays of vectors: clang keeps those on the stack
 * on ARMv7 when a loop over them is not unrolled. */

/* acc + one block of 2-bit codes (ternary.h: field j of byte i is the code,
 * 0..2, of weight 16j + i) against its 64 values of x, x0..x3: products
 * into 16-bit lanes (vmlal, 8 products of at most 2 * 128 a lane), then
 * pairwise into 32 */
static inline int32x4_t codes_acc(int32x4_t acc, uint8x16_t v, int8x16_t x0, int8x16_t x1, int8x16_t x2,
                                  int8x16_t x3)
{
    const uint8x16_t three = vdupq_n_u8(3);
    int8x16_t c0 = vreinterpretq_s8_u8(vandq_u8(v, three));
    int8x16_t c1 = vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(v, 2), three));
    int8x16_t c2 = vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(v, 4), three));
    int8x16_t c3 = vreinterpretq_s8_u8(vshrq_n_u8(v, 6));
    int16x8_t s = vmull_s8(vget_low_s8(c0), vget_low_s8(x0));
    s = vmlal_s8(s, vget_high_s8(c0), vget_high_s8(x0));
    s = vmlal_s8(s, vget_low_s8(c1), vget_low_s8(x1));
    s = vmlal_s8(s, vget_high_s8(c1), vget_high_s8(x1));
    s = vmlal_s8(s, vget_low_s8(c2), vget_low_s8(x2));
    s = vmlal_s8(s, vget_high_s8(c2), vget_high_s8(x2));
    s = vmlal_s8(s, vget_low_s8(c3), vget_low_s8(x3));
    s = vmlal_s8(s, vget_high_s8(c3), vget_high_s8(x3));
    return vpadalq_s16(acc, s);
}

static int32_t ternary_codes_dot_neon(const uint8_t *codes, const int8_t *x, size_t n_blocks)
{
    int32x4_t acc = vdupq_n_s32(0);
    for (size_t b = 0; b < n_blocks; b++, codes += 16, x += 64)
        acc = codes_acc(acc, vld1q_u8(codes), vld1q_s8(x), vld1q_s8(x + 16), vld1q_s8(x + 32), vld1q_s8(x + 48));
    return hsum_s32(acc);
}

/* four rows against one x: each block of x loaded once for the four */
static void ternary_codes_dot4_neon(int32_t out[4], const uint8_t *codes, size_t row_bytes, const int8_t *x,
                                    size_t n_blocks)
{
    int32x4_t a0 = vdupq_n_s32(0), a1 = a0, a2 = a0, a3 = a0;
    const uint8_t *c0 = codes, *c1 = codes + row_bytes, *c2 = codes + 2 * row_bytes, *c3 = codes + 3 * row_bytes;
    for (size_t b = 0; b < 16 * n_blocks; b += 16, x += 64) {
        int8x16_t x0 = vld1q_s8(x), x1 = vld1q_s8(x + 16), x2 = vld1q_s8(x + 32), x3 = vld1q_s8(x + 48);
        a0 = codes_acc(a0, vld1q_u8(c0 + b), x0, x1, x2, x3);
        a1 = codes_acc(a1, vld1q_u8(c1 + b), x0, x1, x2, x3);
        a2 = codes_acc(a2, vld1q_u8(c2 + b), x0, x1, x2, x3);
        a3 = codes_acc(a3, vld1q_u8(c3 + b), x0, x1, x2, x3);
    }
    vst1q_s32(out, hsum4_s32(a0, a1, a2, a3));
}

/* Base 3 (ternary.h), digits most significant first: digit = 3q >> 8,
 * then q = 3q mod 256, and 3q >> 8 is (q >= 86) + (q >= 171). The two
 * compares give masks of -1, so their sum is minus the digit: the
 * products are subtracted (vmlsl). Per 16-bit lane at most 10 products of
 * 2 * 128 in a block. */
static inline int16x8_t base3_digit_mls(int16x8_t s, uint8x16_t *q, int8x16_t x)
{
    int8x16_t nd = vreinterpretq_s8_u8(vaddq_u8(vcgeq_u8(*q, vdupq_n_u8(86)), vcgeq_u8(*q, vdupq_n_u8(171))));
    *q = vmulq_u8(*q, vdupq_n_u8(3));
    s = vmlsl_s8(s, vget_low_s8(nd), vget_low_s8(x));
    return vmlsl_s8(s, vget_high_s8(nd), vget_high_s8(x));
}

static inline int32x4_t base3_acc(int32x4_t acc, const uint8_t *codes, int8x16_t x0, int8x16_t x1, int8x16_t x2,
                                  int8x16_t x3, int8x16_t x4)
{
    uint8x16_t q = vld1q_u8(codes);
    int16x8_t s = base3_digit_mls(vdupq_n_s16(0), &q, x0);
    s = base3_digit_mls(s, &q, x1);
    s = base3_digit_mls(s, &q, x2);
    s = base3_digit_mls(s, &q, x3);
    s = base3_digit_mls(s, &q, x4);
    return vpadalq_s16(acc, s);
}

static int32_t ternary_base3_dot_neon(const uint8_t *codes, const int8_t *x, size_t n_blocks)
{
    int32x4_t acc = vdupq_n_s32(0);
    for (size_t b = 0; b < n_blocks; b++, codes += 16, x += 80)
        acc = base3_acc(acc, codes, vld1q_s8(x), vld1q_s8(x + 16), vld1q_s8(x + 32), vld1q_s8(x + 48),
                        vld1q_s8(x + 64));
    return hsum_s32(acc);
}

/* four rows against one x; ARMv7 (16 registers: five of x, four sums and
 * the digit constants do not fit) takes them one after another */
static void ternary_base3_dot4_neon(int32_t out[4], const uint8_t *codes, size_t row_bytes, const int8_t *x,
                                    size_t n_blocks)
{
#if defined(__aarch64__)
    int32x4_t a0 = vdupq_n_s32(0), a1 = a0, a2 = a0, a3 = a0;
    for (size_t b = 0; b < 16 * n_blocks; b += 16, x += 80) {
        int8x16_t x0 = vld1q_s8(x), x1 = vld1q_s8(x + 16), x2 = vld1q_s8(x + 32), x3 = vld1q_s8(x + 48),
                  x4 = vld1q_s8(x + 64);
        a0 = base3_acc(a0, codes + b, x0, x1, x2, x3, x4);
        a1 = base3_acc(a1, codes + row_bytes + b, x0, x1, x2, x3, x4);
        a2 = base3_acc(a2, codes + 2 * row_bytes + b, x0, x1, x2, x3, x4);
        a3 = base3_acc(a3, codes + 3 * row_bytes + b, x0, x1, x2, x3, x4);
    }
    vst1q_s32(out, hsum4_s32(a0, a1, a2, a3));
#else
    for (int r = 0; r < 4; r++) out[r] = ternary_base3_dot_neon(codes + r * row_bytes, x, n_blocks);
#endif
}

/* The 1-bit masked sum (ternary.h): two bytes of bits spread to 16 byte
 * masks (each byte repeated 8 times, tested against 1, 2, .., 128), the
 * kept values summed in pairs into 16 bits (at most 8 values a lane in a
 * block), then into 32 */
static inline uint8x16_t bits_mask(uint8x8_t lo, uint8x8_t hi)
{
    static const uint8_t sel[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    return vtstq_u8(vcombine_u8(lo, hi), vld1q_u8(sel));
}

static int32_t binary_masked_sum_neon(const uint8_t *bits, const int8_t *x, size_t n_blocks)
{
    int32x4_t acc = vdupq_n_s32(0);
    for (size_t b = 0; b < n_blocks; b++, bits += 8, x += 64) {
        uint8x8_t v = vld1_u8(bits);
        int16x8_t s = vdupq_n_s16(0);
        s = vpadalq_s8(s, vandq_s8(vld1q_s8(x), vreinterpretq_s8_u8(bits_mask(vdup_lane_u8(v, 0), vdup_lane_u8(v, 1)))));
        s = vpadalq_s8(s, vandq_s8(vld1q_s8(x + 16), vreinterpretq_s8_u8(bits_mask(vdup_lane_u8(v, 2), vdup_lane_u8(v, 3)))));
        s = vpadalq_s8(s, vandq_s8(vld1q_s8(x + 32), vreinterpretq_s8_u8(bits_mask(vdup_lane_u8(v, 4), vdup_lane_u8(v, 5)))));
        s = vpadalq_s8(s, vandq_s8(vld1q_s8(x + 48), vreinterpretq_s8_u8(bits_mask(vdup_lane_u8(v, 6), vdup_lane_u8(v, 7)))));
        acc = vpadalq_s16(acc, s);
    }
    return hsum_s32(acc);
}

/* ---- int8 products (attention over the int8 cache) ---------------------- */

/* 16 products of q and a row into acc: pairs into 16 bits (values in
 * [-127, 127]: a pair is at most 2 * 127^2 < 2^15), then 32 */
static inline int32x4_t dot16_acc(int32x4_t acc, int8x16_t q, int8x16_t r)
{
    int16x8_t p = vmull_s8(vget_low_s8(q), vget_low_s8(r));
    return vpadalq_s16(acc, vmlal_s8(p, vget_high_s8(q), vget_high_s8(r)));
}

static int32_t dot_i8_neon(const int8_t *a, const int8_t *b, size_t n)
{
    int32x4_t acc = vdupq_n_s32(0);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) acc = dot16_acc(acc, vld1q_s8(a + i), vld1q_s8(b + i));
    int32_t s = hsum_s32(acc);
    for (; i < n; i++) s += (int32_t)a[i] * b[i];
    return s;
}

/* four rows at a time against one q: each 16 of q loaded once */
static void dot_i8_rows_neon(int32_t *out, const int8_t *q, const int8_t *rows, size_t len, size_t n)
{
    size_t full = len / 16 * 16, t = 0;
    for (; t + 4 <= n; t += 4) {
        const int8_t *r0 = rows + t * len, *r1 = r0 + len, *r2 = r1 + len, *r3 = r2 + len;
        int32x4_t a0 = vdupq_n_s32(0), a1 = a0, a2 = a0, a3 = a0;
        for (size_t i = 0; i < full; i += 16) {
            int8x16_t qv = vld1q_s8(q + i);
            a0 = dot16_acc(a0, qv, vld1q_s8(r0 + i));
            a1 = dot16_acc(a1, qv, vld1q_s8(r1 + i));
            a2 = dot16_acc(a2, qv, vld1q_s8(r2 + i));
            a3 = dot16_acc(a3, qv, vld1q_s8(r3 + i));
        }
        vst1q_s32(out + t, hsum4_s32(a0, a1, a2, a3));
        for (size_t i = full; i < len; i++) {
            out[t] += (int32_t)q[i] * r0[i];
            out[t + 1] += (int32_t)q[i] * r1[i];
            out[t + 2] += (int32_t)q[i] * r2[i];
            out[t + 3] += (int32_t)q[i] * r3[i];
        }
    }
    for (; t < n; t++) out[t] = dot_i8_neon(q, rows + t * len, len);
}

/* 16 values of y at a time, kept in registers over all the rows; per
 * element the same product and sum, in the same order, as plain C (no
 * fused multiply-add) */
static void axpy_i8_rows_neon(float *y, const float *a, const int8_t *rows, size_t len, size_t n)
{
    size_t i = 0;
    for (; i + 16 <= len; i += 16) {
        float32x4_t y0 = vld1q_f32(y + i), y1 = vld1q_f32(y + i + 4), y2 = vld1q_f32(y + i + 8),
                    y3 = vld1q_f32(y + i + 12);
        for (size_t t = 0; t < n; t++) {
            float32x4_t at = vdupq_n_f32(a[t]);
            int8x16_t v = vld1q_s8(rows + t * len + i);
            int16x8_t lo = vmovl_s8(vget_low_s8(v)), hi = vmovl_s8(vget_high_s8(v));
            y0 = vaddq_f32(y0, vmulq_f32(at, vcvtq_f32_s32(vmovl_s16(vget_low_s16(lo)))));
            y1 = vaddq_f32(y1, vmulq_f32(at, vcvtq_f32_s32(vmovl_s16(vget_high_s16(lo)))));
            y2 = vaddq_f32(y2, vmulq_f32(at, vcvtq_f32_s32(vmovl_s16(vget_low_s16(hi)))));
            y3 = vaddq_f32(y3, vmulq_f32(at, vcvtq_f32_s32(vmovl_s16(vget_high_s16(hi)))));
        }
        vst1q_f32(y + i, y0);
        vst1q_f32(y + i + 4, y1);
        vst1q_f32(y + i + 8, y2);
        vst1q_f32(y + i + 12, y3);
    }
    axpy_i8_rows_from(y, a, rows, len, n, i);
}

/* The batched training product: per pair of k, vld2 splits 16 columns'
 * code pairs into the codes of k and of k + 1, and each row's two
 * activations, broadcast, multiply them into 16-bit sums (vmlal). A pair
 * adds at most 2 x 2 x 127 = 508, so the sums are widened into out every
 * 64 pairs. 16 columns at a time: 4 rows x 2 sums of 8 columns. */
static inline void panel_row(int16x8_t *lo, int16x8_t *hi, int8x16_t c0, int8x16_t c1, const int8_t *xk)
{
    int8x8_t x0 = vdup_n_s8(xk[0]), x1 = vdup_n_s8(xk[1]);
    *lo = vmlal_s8(vmlal_s8(*lo, vget_low_s8(c0), x0), vget_low_s8(c1), x1);
    *hi = vmlal_s8(vmlal_s8(*hi, vget_high_s8(c0), x0), vget_high_s8(c1), x1);
}

static inline void widen_add(int32_t *o, int16x8_t s)
{
    vst1q_s32(o, vaddq_s32(vld1q_s32(o), vmovl_s16(vget_low_s16(s))));
    vst1q_s32(o + 4, vaddq_s32(vld1q_s32(o + 4), vmovl_s16(vget_high_s16(s))));
}

static void codes_panel_4x32_neon(int32_t *out, const int8_t *x, size_t ldx, const uint8_t *panel, size_t K)
{
    const int8_t *x0 = x, *x1 = x + ldx, *x2 = x + 2 * ldx, *x3 = x + 3 * ldx;
    for (size_t k0 = 0; k0 < K; k0 += 128) {
        size_t k1 = k0 + 128 < K ? k0 + 128 : K;
        for (int h = 0; h < 2; h++) {
            int16x8_t s0l = vdupq_n_s16(0), s0h = s0l, s1l = s0l, s1h = s0l, s2l = s0l, s2h = s0l, s3l = s0l, s3h = s0l;
            for (size_t k = k0; k < k1; k += 2) {
                uint8x16x2_t p = vld2q_u8(panel + k * 32 + 32 * h);
                int8x16_t c0 = vreinterpretq_s8_u8(p.val[0]), c1 = vreinterpretq_s8_u8(p.val[1]);
                panel_row(&s0l, &s0h, c0, c1, x0 + k);
                panel_row(&s1l, &s1h, c0, c1, x1 + k);
                panel_row(&s2l, &s2h, c0, c1, x2 + k);
                panel_row(&s3l, &s3h, c0, c1, x3 + k);
            }
            int32_t *o = out + 16 * h;
            widen_add(o, s0l);
            widen_add(o + 8, s0h);
            widen_add(o + 32, s1l);
            widen_add(o + 40, s1h);
            widen_add(o + 64, s2l);
            widen_add(o + 72, s2h);
            widen_add(o + 96, s3l);
            widen_add(o + 104, s3h);
        }
    }
}

/* the level's own row kernel four times */
static void axpy4_i8_rows_neon(float *y, size_t ldy, const float *a, size_t lda, const int8_t *rows, size_t len, size_t n)
{
    for (size_t i = 0; i < 4; i++) axpy_i8_rows_neon(y + i * ldy, a + i * lda, rows, len, n);
}

void kernels_fill_neon(Kernels *k)
{
    k->int8_simd = 1;
    k->dot_f32 = dot_f32_neon;
    k->absmax_f32 = absmax_f32_neon;
    k->dot4_f32 = dot4_f32_neon;
    k->axpy4_f32 = axpy4_f32_neon;
    k->gemm_tile_f32 = gemm_tile_f32_neon;
    k->quantize_i8 = quantize_i8_neon;
    k->adamw_f32 = adamw_f32_neon;
    k->ternary_codes_dot = ternary_codes_dot_neon;
    k->ternary_codes_dot4 = ternary_codes_dot4_neon;
    k->ternary_base3_dot = ternary_base3_dot_neon;
    k->ternary_base3_dot4 = ternary_base3_dot4_neon;
    k->exp_f32 = exp_f32_neon;
    k->softmax_f32 = softmax_f32_neon;
    k->rmsnorm_f32 = rmsnorm_f32_neon;
    k->rmsnorm_bwd_f32 = rmsnorm_bwd_f32_neon;
    k->swiglu_f32 = swiglu_f32_neon;
    k->swiglu_bwd_f32 = swiglu_bwd_f32_neon;
    k->relu2_f32 = relu2_f32_neon;
    k->relu2_bwd_f32 = relu2_bwd_f32_neon;
    k->binary_masked_sum = binary_masked_sum_neon;
    k->dot_i8 = dot_i8_neon;
    k->dot_i8_rows = dot_i8_rows_neon;
    k->axpy_i8_rows = axpy_i8_rows_neon;
    k->axpy4_i8_rows = axpy4_i8_rows_neon;
    k->codes_panel_4x32 = codes_panel_4x32_neon;
}
