/* Plain C reference kernels: the definition every SIMD version must match. */
#include <math.h>

#include "kernels.h"

static float dot_f32_scalar(const float *a, const float *b, size_t n)
{
    float s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static float absmax_f32_scalar(const float *x, size_t n)
{
    float m = 0;
    for (size_t i = 0; i < n; i++) {
        float v = fabsf(x[i]);
        if (v > m) m = v;
    }
    return m;
}

void kernels_fill_scalar(Kernels *k)
{
    k->dot_f32 = dot_f32_scalar;
    k->absmax_f32 = absmax_f32_scalar;
}
