/* quant: the weight quantisation schemes of BitLinear layers — each turns
 * a float tensor into int8 codes (-1/0/+1, or -1/+1 for sign) times one
 * per-tensor scale — and their names. Plain C, single-threaded; nothing
 * here allocates, prints or fails. Activations and gradients have their
 * own int8 quantisers, in layers.h. */
#ifndef L1B_QUANT_H
#define L1B_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* How a BitLinear layer quantises its weights (activations are always int8
 * absmax per row). The numbers are stored in model files: never reuse one.
 * New schemes: an entry here, a name in quant_names (quant.c), a case in
 * weight_quantise_noisy(); the forward and backward need no change as long
 * as the scheme produces int8 weights times one scale per tensor. */
typedef enum {
    QUANT_F32 = 0,         /* no quantisation: a plain matmul (the float baseline) */
    QUANT_ABSMEAN = 1,     /* BitNet b1.58: round(w / mean|w|) clipped to -1..1 */
    QUANT_TWN = 2,         /* ternary weight networks: |w| > 0.7 mean|w| keeps its
                              sign, else 0; scale = mean |w| of the kept ones */
    QUANT_STOCHASTIC = 3,  /* absmean with stochastic rounding while training,
                              deterministic (absmean) rounding at inference */
    QUANT_SIGN = 4,        /* binary -1/+1 (the sign), scale mean|w| */
    QUANT_COUNT
} QuantScheme;

/* "absmean", "twn", "stochastic", "sign", "f32" (util.h) */
extern const NameValue quant_names[];

/* Weights: gamma = mean|w| (0 for n == 0); q = clamp(round(w / (gamma + 1e-8)),
 * -1, 1), rounding to nearest with ties to even. Dequantised weight = q * gamma.
 * Returns gamma. */
float ternary_absmean(const float *w, size_t n, int8_t *q);
/* TWN: delta = 0.7 mean|w|; q = sign(w) where |w| > delta, else 0; returns
 * alpha = mean |w| over the kept weights (0 if none). */
float ternary_twn(const float *w, size_t n, int8_t *q);
/* Sign: q = +1 for w >= 0, else -1; returns mean|w|. */
float binary_sign(const float *w, size_t n, int8_t *q);
/* Stochastic rounding of r = clip(w / (gamma + 1e-8), -1, 1): q = floor(r)
 * + (u < r - floor(r)) with u uniform in [0, 1) from (seed, index), so the
 * expectation of q is r and a seed gives the same q every time. Returns
 * gamma = mean|w|. */
float ternary_stochastic(const float *w, size_t n, int8_t *q, uint64_t seed);

/* The one place that knows the weight quantisers: q (n) from w (n) by the
 * scheme, returning the per-tensor scale (dequantised = q * scale). Not for
 * QUANT_F32. The deterministic form is the one inference uses; training
 * passes noise != 0 to draw the stochastic scheme's rounding (0: none). */
float weight_quantise(QuantScheme scheme, const float *w, size_t n, int8_t *q);
float weight_quantise_noisy(QuantScheme scheme, const float *w, size_t n, int8_t *q, uint64_t noise);

#endif
