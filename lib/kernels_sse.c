/* SSE (Pentium III) kernels: 4-wide float. Built with -msse only. */
#include "kernels.h"

#include <xmmintrin.h>

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

void kernels_fill_sse(Kernels *k)
{
    k->dot_f32 = dot_f32_sse;
    k->absmax_f32 = absmax_f32_sse;
}
