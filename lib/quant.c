/* The weight quantisation schemes: see quant.h. */
#include "quant.h"

#include <math.h>
#include <string.h>

/* in the order --help and messages list them */
const NameValue quant_names[] = {
    {"absmean", QUANT_ABSMEAN}, {"twn", QUANT_TWN}, {"stochastic", QUANT_STOCHASTIC},
    {"sign", QUANT_SIGN}, {"f32", QUANT_F32}, {NULL, 0},
};

float ternary_absmean(const float *w, size_t n, int8_t *q)
{
    if (n == 0) return 0;
    /* double: a float sum of a million |w| loses the low digits of gamma;
     * four partial sums in a fixed order, so that they need not wait for
     * each other */
    double s[4] = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int j = 0; j < 4; j++) s[j] += fabsf(w[i + j]);
    for (; i < n; i++) s[0] += fabsf(w[i]);
    float gamma = (float)(((s[0] + s[1]) + (s[2] + s[3])) / (double)n);
    float denom = gamma + 1e-8f;  /* keeps an all-zero tensor finite */
    /* round(r) clipped to [-1, 1], written so that the compiler can
     * vectorise it: adding and removing 1.5 * 2^23 rounds |r| < 2^22 to an
     * integer, ties to even, as lrintf does (a larger |r| keeps its sign),
     * and the clip is then the sign of what is at least 1 in size */
    for (i = 0; i < n; i++) {
        float r = w[i] / denom;  /* rounded to float here, on x87 too */
        float t = r + 12582912.0f;
        t -= 12582912.0f;
        q[i] = (int8_t)((t >= 1.0f) - (t <= -1.0f));
    }
    return gamma;
}

float ternary_twn(const float *w, size_t n, int8_t *q)
{
    if (n == 0) return 0;
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += fabsf(w[i]);
    float delta = (float)(0.7 * sum / (double)n);
    double kept = 0;
    size_t n_kept = 0;
    for (size_t i = 0; i < n; i++) {
        float a = fabsf(w[i]);
        q[i] = (int8_t)(w[i] > delta ? 1 : w[i] < -delta ? -1 : 0);
        if (a > delta) kept += a, n_kept++;
    }
    return n_kept ? (float)(kept / (double)n_kept) : 0.0f;
}

float binary_sign(const float *w, size_t n, int8_t *q)
{
    if (n == 0) return 0;
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        sum += fabsf(w[i]);
        q[i] = (int8_t)(w[i] >= 0 ? 1 : -1);
    }
    return (float)(sum / (double)n);
}

/* uniform [0, 1) from (seed, i): splitmix64 of their mix, 24 bits */
static inline float hash_uniform(uint64_t seed, uint64_t i)
{
    uint64_t z = seed + 0x9E3779B97F4A7C15ull * (i + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (float)(z >> 40) * (1.0f / 16777216.0f);
}

float ternary_stochastic(const float *w, size_t n, int8_t *q, uint64_t seed)
{
    if (n == 0) return 0;
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += fabsf(w[i]);
    float gamma = (float)(sum / (double)n), denom = gamma + 1e-8f;
    for (size_t i = 0; i < n; i++) {
        float r = w[i] / denom;
        r = r > 1 ? 1 : r < -1 ? -1 : r;
        float f = floorf(r);
        q[i] = (int8_t)((int)f + (hash_uniform(seed, i) < r - f));
    }
    return gamma;
}

float weight_quantise_noisy(QuantScheme scheme, const float *w, size_t n, int8_t *q, uint64_t noise)
{
    switch (scheme) {
    case QUANT_ABSMEAN:
        return ternary_absmean(w, n, q);
    case QUANT_TWN:
        return ternary_twn(w, n, q);
    case QUANT_STOCHASTIC:
        return noise ? ternary_stochastic(w, n, q, noise) : ternary_absmean(w, n, q);
    case QUANT_SIGN:
        return binary_sign(w, n, q);
    case QUANT_F32:
    case QUANT_COUNT:
        break;
    }
    return 0;  /* not reached: float schemes never quantise */
}

float weight_quantise(QuantScheme scheme, const float *w, size_t n, int8_t *q)
{
    return weight_quantise_noisy(scheme, w, n, q, 0);
}
