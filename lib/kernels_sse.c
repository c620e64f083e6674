/* SSE (Pentium III) kernels: 4-wide float. Built with -msse only. */
#include "kernels.h"

#include <math.h>
#include <xmmintrin.h>

/* 2^round(t) for the vector exp. SSE has no integer vector instructions,
 * so round with the 1.5 * 2^23 trick (the sum's low mantissa bits are then
 * round(t), ties to even) and move those bits through the integer
 * registers into the exponent field: four adds and shifts per vector. */
static inline __m128 exp2i_ps(__m128 t, __m128 *nf)
{
    const __m128 magic = _mm_set1_ps(12582912.0f);
    union {
        __m128 v;
        uint32_t u[4];
    } a, b;
    a.v = _mm_add_ps(t, magic);
    *nf = _mm_sub_ps(a.v, magic);
    for (int j = 0; j < 4; j++) b.u[j] = (a.u[j] - 0x4B400000u + 127u) << 23;
    return b.v;
}

#include "kernels_sse_exp.h"

static float hsum(__m128 v)
{
    __m128 t = _mm_add_ps(v, _mm_movehl_ps(v, v));
    t = _mm_add_ss(t, _mm_shuffle_ps(t, t, 1));
    return _mm_cvtss_f32(t);
}

static float dot_f32_sse(const float *a, const float *b, size_t n)
{
    __m128 s0 = _mm_setzero_ps(), s1 = _mm_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        s0 = _mm_add_ps(s0, _mm_mul_ps(_mm_loadu_ps(a + i), _mm_loadu_ps(b + i)));
        s1 = _mm_add_ps(s1, _mm_mul_ps(_mm_loadu_ps(a + i + 4), _mm_loadu_ps(b + i + 4)));
    }
    float s = hsum(_mm_add_ps(s0, s1));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

static float absmax_f32_sse(const float *x, size_t n)
{
    const __m128 sign = _mm_set1_ps(-0.0f);  /* SSE1 has no integer casts */
    __m128 m = _mm_setzero_ps();
    size_t i = 0;
    for (; i + 4 <= n; i += 4) m = _mm_max_ps(m, _mm_andnot_ps(sign, _mm_loadu_ps(x + i)));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    float r = _mm_cvtss_f32(m);
    for (; i < n; i++) {
        float v = x[i] < 0 ? -x[i] : x[i];
        if (v > r) r = v;
    }
    return r;
}

static void dot4_f32_sse(const float *a, const float *b, size_t ldb, size_t K, float out[4])
{
    __m128 s0 = _mm_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    const float *b1 = b + ldb, *b2 = b + 2 * ldb, *b3 = b + 3 * ldb;
    size_t k = 0;
    for (; k + 4 <= K; k += 4) {
        __m128 va = _mm_loadu_ps(a + k);
        s0 = _mm_add_ps(s0, _mm_mul_ps(va, _mm_loadu_ps(b + k)));
        s1 = _mm_add_ps(s1, _mm_mul_ps(va, _mm_loadu_ps(b1 + k)));
        s2 = _mm_add_ps(s2, _mm_mul_ps(va, _mm_loadu_ps(b2 + k)));
        s3 = _mm_add_ps(s3, _mm_mul_ps(va, _mm_loadu_ps(b3 + k)));
    }
    /* 4x4 transpose-and-add: lane j of the result is the sum of s_j */
    _MM_TRANSPOSE4_PS(s0, s1, s2, s3);
    __m128 r = _mm_add_ps(_mm_add_ps(s0, s1), _mm_add_ps(s2, s3));
    _mm_storeu_ps(out, r);
    for (; k < K; k++) {
        out[0] += a[k] * b[k];
        out[1] += a[k] * b1[k];
        out[2] += a[k] * b2[k];
        out[3] += a[k] * b3[k];
    }
}

static void axpy4_f32_sse(float *y, const float *x, size_t ldx, const float c[4], size_t n)
{
    __m128 c0 = _mm_set1_ps(c[0]), c1 = _mm_set1_ps(c[1]), c2 = _mm_set1_ps(c[2]), c3 = _mm_set1_ps(c[3]);
    const float *x1 = x + ldx, *x2 = x + 2 * ldx, *x3 = x + 3 * ldx;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        __m128 t = _mm_add_ps(_mm_mul_ps(c0, _mm_loadu_ps(x + i)), _mm_mul_ps(c1, _mm_loadu_ps(x1 + i)));
        __m128 u = _mm_add_ps(_mm_mul_ps(c2, _mm_loadu_ps(x2 + i)), _mm_mul_ps(c3, _mm_loadu_ps(x3 + i)));
        _mm_storeu_ps(y + i, _mm_add_ps(_mm_loadu_ps(y + i), _mm_add_ps(t, u)));
    }
    for (; i < n; i++) y[i] += c[0] * x[i] + c[1] * x1[i] + c[2] * x2[i] + c[3] * x3[i];
}

/* A 4 x (4 * NS) strip of the tile: 4 * NS accumulators, NS loads of b
 * and 4 broadcasts per k. */
#define STRIP(NS)                                                                         \
    do {                                                                                  \
        __m128 c[4][NS], bk[NS];                                                          \
        for (int i = 0; i < 4; i++)                                                       \
            for (int s = 0; s < NS; s++) c[i][s] = _mm_setzero_ps();                      \
        for (size_t k = 0; k < K; k++) {                                                  \
            const float *ak = a + k * sk;                                                 \
            for (int s = 0; s < NS; s++) bk[s] = _mm_loadu_ps(b + k * ldb + j + 4 * s);    \
            for (int i = 0; i < 4; i++) {                                                 \
                __m128 x = _mm_set1_ps(ak[i * sm]);                                       \
                for (int s = 0; s < NS; s++) c[i][s] = _mm_add_ps(c[i][s], _mm_mul_ps(x, bk[s])); \
            }                                                                             \
        }                                                                                 \
        for (int i = 0; i < 4; i++)                                                       \
            for (int s = 0; s < NS; s++) {                                                \
                float *o = out + i * ldo + j + 4 * s;                                     \
                _mm_storeu_ps(o, _mm_add_ps(_mm_loadu_ps(o), _mm_mul_ps(va, c[i][s])));   \
            }                                                                             \
    } while (0)

/* 4 x 16 as column strips: on a 32-bit machine (8 registers) strips 4
 * wide, 4 accumulators; on x86-64 (16 registers) 8 wide, 8 accumulators,
 * which keeps more additions in flight. Either way each sum runs over k in
 * order, so the results are the same. */
static void tile_4x16(float *out, size_t ldo, const float *a, size_t sm, size_t sk, const float *b, size_t ldb,
                      size_t K, float alpha)
{
    __m128 va = _mm_set1_ps(alpha);
#if defined(__x86_64__)
    for (int j = 0; j < 16; j += 8) STRIP(2);
#else
    for (int j = 0; j < 16; j += 4) STRIP(1);
#endif
}
#undef STRIP

static void gemm_tile_f32_sse(float *out, size_t ldo, const float *a, size_t sm, size_t sk, const float *b,
                              size_t ldb, size_t K, size_t n, float alpha)
{
    for (size_t j = 0; j < n; j += 16) tile_4x16(out + j, ldo, a, sm, sk, b + j, ldb, K, alpha);
}

/* the scalar formula, four at a time, in the same order of operations */
static void adamw_f32_sse(float *w, const float *g, float *m, float *v, size_t n, const float k[8])
{
    __m128 b1 = _mm_set1_ps(k[0]), b2 = _mm_set1_ps(k[1]), eps = _mm_set1_ps(k[2]), lr = _mm_set1_ps(k[3]);
    __m128 wd = _mm_set1_ps(k[4]), c1 = _mm_set1_ps(k[5]), c2 = _mm_set1_ps(k[6]), gs = _mm_set1_ps(k[7]);
    __m128 a1 = _mm_set1_ps(1.0f - k[0]), a2 = _mm_set1_ps(1.0f - k[1]);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        __m128 gi = _mm_mul_ps(_mm_loadu_ps(g + i), gs);
        __m128 mi = _mm_add_ps(_mm_mul_ps(b1, _mm_loadu_ps(m + i)), _mm_mul_ps(a1, gi));
        __m128 vi = _mm_add_ps(_mm_mul_ps(b2, _mm_loadu_ps(v + i)), _mm_mul_ps(_mm_mul_ps(a2, gi), gi));
        _mm_storeu_ps(m + i, mi);
        _mm_storeu_ps(v + i, vi);
        __m128 upd = _mm_div_ps(_mm_div_ps(mi, c1), _mm_add_ps(_mm_sqrt_ps(_mm_div_ps(vi, c2)), eps));
        __m128 wi = _mm_loadu_ps(w + i);
        _mm_storeu_ps(w + i, _mm_sub_ps(wi, _mm_mul_ps(lr, _mm_add_ps(upd, _mm_mul_ps(wd, wi)))));
    }
    adamw_f32_ref(w + i, g + i, m + i, v + i, n - i, k);
}

static float rmsnorm_f32_sse(float *out, const float *x, const float *w, size_t n, float eps)
{
    __m128 s0 = _mm_setzero_ps(), s1 = _mm_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128 a = _mm_loadu_ps(x + i), b = _mm_loadu_ps(x + i + 4);
        s0 = _mm_add_ps(s0, _mm_mul_ps(a, a));
        s1 = _mm_add_ps(s1, _mm_mul_ps(b, b));
    }
    float ss = hsum(_mm_add_ps(s0, s1));
    for (; i < n; i++) ss += x[i] * x[i];
    float r = 1.0f / sqrtf(ss / (float)n + eps);
    __m128 vr = _mm_set1_ps(r);
    for (i = 0; i + 4 <= n; i += 4)
        _mm_storeu_ps(out + i, _mm_mul_ps(_mm_mul_ps(_mm_loadu_ps(x + i), vr), _mm_loadu_ps(w + i)));
    for (; i < n; i++) out[i] = x[i] * r * w[i];
    return r;
}

static void rmsnorm_bwd_f32_sse(float *dx, float *dw, const float *g, const float *x, const float *w, float r,
                                size_t n)
{
    __m128 s0 = _mm_setzero_ps(), s1 = _mm_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        s0 = _mm_add_ps(s0, _mm_mul_ps(_mm_mul_ps(_mm_loadu_ps(g + i), _mm_loadu_ps(w + i)), _mm_loadu_ps(x + i)));
        s1 = _mm_add_ps(s1, _mm_mul_ps(_mm_mul_ps(_mm_loadu_ps(g + i + 4), _mm_loadu_ps(w + i + 4)),
                                       _mm_loadu_ps(x + i + 4)));
    }
    float gwx = hsum(_mm_add_ps(s0, s1));
    for (; i < n; i++) gwx += g[i] * w[i] * x[i];
    float k = r * r * r * gwx / (float)n;
    __m128 vr = _mm_set1_ps(r), vk = _mm_set1_ps(k);
    for (i = 0; i + 4 <= n; i += 4) {
        __m128 gi = _mm_loadu_ps(g + i), xi = _mm_loadu_ps(x + i);
        __m128 d = _mm_sub_ps(_mm_mul_ps(_mm_mul_ps(vr, _mm_loadu_ps(w + i)), gi), _mm_mul_ps(vk, xi));
        _mm_storeu_ps(dx + i, _mm_add_ps(_mm_loadu_ps(dx + i), d));
        _mm_storeu_ps(dw + i, _mm_add_ps(_mm_loadu_ps(dw + i), _mm_mul_ps(_mm_mul_ps(gi, xi), vr)));
    }
    for (; i < n; i++) {
        dx[i] += r * w[i] * g[i] - k * x[i];
        dw[i] += g[i] * x[i] * r;
    }
}

/* maxps(x, 0) gives 0 for x <= 0, -0 and NaN, as the scalar test does */
static void relu2_f32_sse(float *out, const float *x, size_t n)
{
    const __m128 zero = _mm_setzero_ps();
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        __m128 v = _mm_max_ps(_mm_loadu_ps(x + i), zero);
        _mm_storeu_ps(out + i, _mm_mul_ps(v, v));
    }
    for (; i < n; i++) {
        float v = x[i] > 0 ? x[i] : 0;
        out[i] = v * v;
    }
}

static void relu2_bwd_f32_sse(float *dx, const float *dout, const float *x, size_t n)
{
    const __m128 zero = _mm_setzero_ps(), two = _mm_set1_ps(2.0f);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        __m128 xi = _mm_loadu_ps(x + i);
        __m128 d = _mm_mul_ps(_mm_mul_ps(_mm_loadu_ps(dout + i), two), xi);
        _mm_storeu_ps(dx + i, _mm_add_ps(_mm_loadu_ps(dx + i), _mm_and_ps(_mm_cmpgt_ps(xi, zero), d)));
    }
    for (; i < n; i++)
        if (x[i] > 0) dx[i] += dout[i] * 2.0f * x[i];
}

void kernels_fill_sse(Kernels *k)
{
    k->dot_f32 = dot_f32_sse;
    k->absmax_f32 = absmax_f32_sse;
    k->dot4_f32 = dot4_f32_sse;
    k->axpy4_f32 = axpy4_f32_sse;
    k->gemm_tile_f32 = gemm_tile_f32_sse;
    k->adamw_f32 = adamw_f32_sse;
    kernels_fill_sse_exp(k);  /* exp, softmax, swiglu and its backward */
    k->rmsnorm_f32 = rmsnorm_f32_sse;
    k->rmsnorm_bwd_f32 = rmsnorm_bwd_f32_sse;
    k->relu2_f32 = relu2_f32_sse;
    k->relu2_bwd_f32 = relu2_bwd_f32_sse;
}
