/* kernels_sse_exp.h: a 4-wide float exp and the row kernels built on it
 * (exp, softmax, SwiGLU forward and backward), written once for SSE and
 * SSE2. Not a normal header: kernels_sse.c and kernels_sse2.c each include
 * it once, after defining
 *
 *     static inline __m128 exp2i_ps(__m128 t, __m128 *nf);
 *
 * which sets *nf = round(t) (to nearest, ties to even; |t| <= 127.5) and
 * returns 2^round(t) built in the exponent bits: with integer SSE2 on a
 * Pentium 4, through the integer registers on a Pentium III, whose SSE has
 * no integer vector instructions. Both round alike, so the two levels give
 * the same results to the bit.
 *
 * exp(x) = 2^n * exp(r), n = round(x / ln 2), r = x - n ln 2 in
 * [-ln2/2, ln2/2] (ln 2 in two parts, so r is exact to a few ulp), exp(r) =
 * 1 + r + r^2 P(r) with Cephes' degree-5 minimax P (the constants are in
 * kernels_exp_consts.h, shared with AVX2 and AVX-512). Inputs below -87.3365
 * (ln FLT_MIN; expf gives denormals there, then 0) and -inf give 0; inputs
 * above 88.3763 give exp(88.3763) ~ 2.4e38 instead of overflowing to inf;
 * NaN gives NaN. Measured over every float in [-87.3365, 88.3763] against
 * exp() in double: largest relative error 8.16e-8 (at x = 15.5968), 0.99
 * ulp of the true value, SSE and SSE2 alike (AVX2, with fused
 * multiply-adds: 8.46e-8, 1.01 ulp; glibc's expf: 5.96e-8, 0.50 ulp). */
#ifndef L1B_KERNELS_SSE_EXP_H
#define L1B_KERNELS_SSE_EXP_H

#include <math.h>
#include <string.h>
#include <xmmintrin.h>

#include "kernels_exp_consts.h"

static inline __m128 exp_ps(__m128 x)
{
    const __m128 lo = _mm_set1_ps(EXP_LO), hi = _mm_set1_ps(EXP_HI);
    __m128 tiny = _mm_cmplt_ps(x, lo);  /* false for NaN */
    /* maxps/minps return the second operand when one is NaN: NaN goes on */
    x = _mm_min_ps(hi, _mm_max_ps(lo, x));
    __m128 nf, scale = exp2i_ps(_mm_mul_ps(x, _mm_set1_ps(EXP_LOG2E)), &nf);
    __m128 r = _mm_sub_ps(x, _mm_mul_ps(nf, _mm_set1_ps(EXP_LN2_HI)));
    r = _mm_sub_ps(r, _mm_mul_ps(nf, _mm_set1_ps(EXP_LN2_LO)));
    __m128 p = _mm_set1_ps(EXP_P0);
    p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(EXP_P1));
    p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(EXP_P2));
    p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(EXP_P3));
    p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(EXP_P4));
    p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(EXP_P5));
    p = _mm_add_ps(_mm_add_ps(_mm_mul_ps(p, _mm_mul_ps(r, r)), r), _mm_set1_ps(1.0f));
    return _mm_andnot_ps(tiny, _mm_mul_ps(p, scale));
}

/* The last n % 4 elements go through the same vector code, copied into a
 * padded 4-float buffer, so every element gets the same arithmetic
 * wherever it sits in the row. */
static inline __m128 load_tail_ps(const float *x, size_t k, float pad)
{
    float b[4] = {pad, pad, pad, pad};
    memcpy(b, x, k * sizeof *b);
    return _mm_loadu_ps(b);
}

static inline void store_tail_ps(float *y, __m128 v, size_t k)
{
    float b[4];
    _mm_storeu_ps(b, v);
    memcpy(y, b, k * sizeof *b);
}

static void exp_f32_x4(float *y, const float *x, size_t n)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4) _mm_storeu_ps(y + i, exp_ps(_mm_loadu_ps(x + i)));
    if (i < n) store_tail_ps(y + i, exp_ps(load_tail_ps(x + i, n - i, 0)), n - i);
}

static float softmax_f32_x4(float *p, const float *x, size_t n, float *maxv)
{
    const float ninf = -INFINITY;
    __m128 m4 = _mm_set1_ps(ninf);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) m4 = _mm_max_ps(m4, _mm_loadu_ps(x + i));
    if (i < n) m4 = _mm_max_ps(m4, load_tail_ps(x + i, n - i, ninf));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
    __m128 vm = _mm_shuffle_ps(m4, m4, 0), s4 = _mm_setzero_ps();
    for (i = 0; i + 4 <= n; i += 4) {
        __m128 e = exp_ps(_mm_sub_ps(_mm_loadu_ps(x + i), vm));
        _mm_storeu_ps(p + i, e);
        s4 = _mm_add_ps(s4, e);
    }
    if (i < n) {  /* padding with -inf adds exp(-inf) = 0 to the sum */
        __m128 e = exp_ps(_mm_sub_ps(load_tail_ps(x + i, n - i, ninf), vm));
        store_tail_ps(p + i, e, n - i);
        s4 = _mm_add_ps(s4, e);
    }
    s4 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    s4 = _mm_add_ss(s4, _mm_shuffle_ps(s4, s4, 1));
    float sum = _mm_cvtss_f32(s4);
    __m128 inv = _mm_set1_ps(1.0f / sum);
    for (i = 0; i + 4 <= n; i += 4) _mm_storeu_ps(p + i, _mm_mul_ps(_mm_loadu_ps(p + i), inv));
    if (i < n) store_tail_ps(p + i, _mm_mul_ps(load_tail_ps(p + i, n - i, 0), inv), n - i);
    if (maxv) *maxv = _mm_cvtss_f32(m4);
    return sum;
}

/* sigmoid(g) = 1 / (1 + exp(-g)) */
static inline __m128 sigmoid_ps(__m128 g)
{
    const __m128 one = _mm_set1_ps(1.0f);
    return _mm_div_ps(one, _mm_add_ps(one, exp_ps(_mm_xor_ps(g, _mm_set1_ps(-0.0f)))));
}

static inline __m128 swiglu_ps(__m128 g, __m128 u)
{
    return _mm_mul_ps(_mm_mul_ps(g, sigmoid_ps(g)), u);
}

static void swiglu_f32_x4(float *out, const float *gate, const float *up, size_t n)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4) _mm_storeu_ps(out + i, swiglu_ps(_mm_loadu_ps(gate + i), _mm_loadu_ps(up + i)));
    if (i < n)
        store_tail_ps(out + i, swiglu_ps(load_tail_ps(gate + i, n - i, 0), load_tail_ps(up + i, n - i, 0)), n - i);
}

/* the scalar formula in the same order */
static inline void swiglu_bwd_ps(__m128 *dg, __m128 *du, __m128 d, __m128 g, __m128 u)
{
    const __m128 one = _mm_set1_ps(1.0f);
    __m128 s = sigmoid_ps(g);
    __m128 t = _mm_mul_ps(_mm_mul_ps(_mm_mul_ps(d, u), s), _mm_add_ps(one, _mm_mul_ps(g, _mm_sub_ps(one, s))));
    *dg = _mm_add_ps(*dg, t);
    *du = _mm_add_ps(*du, _mm_mul_ps(_mm_mul_ps(d, g), s));
}

static void swiglu_bwd_f32_x4(float *dgate, float *dup, const float *dout, const float *gate, const float *up,
                              size_t n)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        __m128 dg = _mm_loadu_ps(dgate + i), du = _mm_loadu_ps(dup + i);
        swiglu_bwd_ps(&dg, &du, _mm_loadu_ps(dout + i), _mm_loadu_ps(gate + i), _mm_loadu_ps(up + i));
        _mm_storeu_ps(dgate + i, dg);
        _mm_storeu_ps(dup + i, du);
    }
    if (i < n) {
        size_t k = n - i;
        __m128 dg = load_tail_ps(dgate + i, k, 0), du = load_tail_ps(dup + i, k, 0);
        swiglu_bwd_ps(&dg, &du, load_tail_ps(dout + i, k, 0), load_tail_ps(gate + i, k, 0),
                      load_tail_ps(up + i, k, 0));
        store_tail_ps(dgate + i, dg, k);
        store_tail_ps(dup + i, du, k);
    }
}

static void kernels_fill_sse_exp(Kernels *k)
{
    k->exp_f32 = exp_f32_x4;
    k->softmax_f32 = softmax_f32_x4;
    k->swiglu_f32 = swiglu_f32_x4;
    k->swiglu_bwd_f32 = swiglu_bwd_f32_x4;
}

#endif
