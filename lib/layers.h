/* layers: the float forward/backward pairs a training step is built from.
 *
 * Plain C reference versions: the definition faster (SIMD, threaded) ones
 * must match. Conventions, for every pair:
 *   - shapes are row-major and given in the comment; N is the number of rows
 *     (tokens, B*T flattened), C the model dim, OC a layer's output dim,
 *     NH heads of HS = C/NH each, H the feed-forward dim, V the vocabulary;
 *   - forward writes (=) its outputs and whatever it saves for backward;
 *   - backward ACCUMULATES (+=) into every gradient buffer, so a tensor used
 *     twice gets both contributions and the caller zeroes gradients once per
 *     step. Scratch buffers named as such are overwritten, not accumulated.
 * Nothing here allocates, prints or fails: shapes are the caller's to check. */
#ifndef L1B_LAYERS_H
#define L1B_LAYERS_H

#include <stddef.h>
#include <stdint.h>

#define RMSNORM_EPS 1e-5f
#define ROPE_THETA 10000.0f

/* ---- embedding, residual ---------------------------------------------- */

/* table (V,C) [tokens (N)] -> out (N,C); tokens must be in [0, V) */
void embedding_forward(float *out, const int *tokens, const float *table, size_t N, size_t C);
void embedding_backward(float *dtable, const float *dout, const int *tokens, size_t N, size_t C);

/* a (n) + b (n) -> out (n); out may alias a or b */
void residual_forward(float *out, const float *a, const float *b, size_t n);
void residual_backward(float *da, float *db, const float *dout, size_t n);

/* ---- RMSNorm ------------------------------------------------------------ */

/* inp (N,C) * rstd (N) * weight (C) -> out (N,C), rstd = 1/sqrt(mean(inp^2) + eps)
 * saved for backward */
void rmsnorm_forward(float *out, float *rstd, const float *inp, const float *weight,
                     size_t N, size_t C, float eps);
void rmsnorm_backward(float *dinp, float *dweight, const float *dout, const float *inp,
                      const float *weight, const float *rstd, size_t N, size_t C);

/* ---- linear layers -------------------------------------------------------- */

/* inp (N,C) @ w (OC,C)^T -> out (N,OC); no bias */
void matmul_forward(float *out, const float *inp, const float *w, size_t N, size_t C, size_t OC);
/* dinp (N,C) += dout (N,OC) @ w; dw (OC,C) += dout^T @ inp.
 * Either dinp or dw may be NULL to skip it. inp is read only for dw and w
 * only for dinp, so the one a skipped half would need may be NULL too. */
void matmul_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                     size_t N, size_t C, size_t OC);

/* How a BitLinear layer quantises its weights (activations are always int8
 * absmax per row). The numbers are stored in model files: never reuse one.
 * New schemes: an entry here, a name in layers.c (quant_names), a case in
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

/* "f32", "absmean", "twn", "stochastic", "sign"; -1 if unknown. */
const char *quant_scheme_name(QuantScheme scheme);
int quant_scheme_parse(const char *name, QuantScheme *scheme);

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
/* Activations, one row x (C): s = 127 / max(absmax(x), 1e-5);
 * q = clamp(round(x * s), -128, 127); *scale = 1/s (dequantised = q * scale). */
void act_quant_int8(const float *x, size_t C, int8_t *q, float *scale);
/* The same for a gradient row, without the floor (gradients are small by
 * nature): s = 127 / max|g|, q = round(g * s) ties to even, scale = 1/s;
 * a row whose max|g| is 0 or below FLT_MIN gives zeros and scale 0. */
void grad_quant_int8(const float *g, size_t n, int8_t *q, float *scale);

/* The one place that knows the weight quantisers: q (n) from w (n) by the
 * scheme, returning the per-tensor scale (dequantised = q * scale). Not for
 * QUANT_F32. The deterministic form is the one inference uses; training
 * passes noise != 0 to draw the stochastic scheme's rounding (0: none). */
float weight_quantise(QuantScheme scheme, const float *w, size_t n, int8_t *q);
float weight_quantise_noisy(QuantScheme scheme, const float *w, size_t n, int8_t *q, uint64_t noise);

/* Caller-owned buffers of one BitLinear call, filled by the forward and read
 * by the backward (unused for QUANT_F32, where the struct may be NULL). */
typedef struct {
    uint64_t noise;  /* seed of the stochastic rounding this call; 0: none */
    int8_t *wq;      /* (OC,C) quantised weights */
    float wscale;    /* dequantised weight = wq * wscale */
    int8_t *xq;      /* (N,C) quantised activations */
    float *xscale;   /* (N) dequantised activation = xq * xscale */
} BitLinearQuant;

/* inp (N,C) @ quant(w (OC,C))^T -> out (N,OC). w is the fp32 shadow weight;
 * quantised schemes accumulate int8 x int8 products in int32 and scale each
 * output by xscale[row] * wscale. */
void bitlinear_forward(float *out, const float *inp, const float *w, size_t N, size_t C,
                       size_t OC, QuantScheme scheme, BitLinearQuant *bq);
/* Straight-through estimator: both quantisers count as the identity, so
 * dinp += dout @ Wdq and dw += dout^T @ Xdq with Wdq, Xdq the dequantised
 * weights and activations saved in bq. The input gradient's product runs
 * like the forward one: dout's rows quantised by grad_quant_int8, times the
 * ternary codes, in exact integer sums rescaled per row (so dinp is the
 * product of the quantised dout, not of dout); the weight gradient stays
 * float. QUANT_F32: exactly matmul_backward. dinp or dw may be NULL. */
void bitlinear_backward(float *dinp, float *dw, const float *dout, const float *inp,
                        const float *w, size_t N, size_t C, size_t OC, QuantScheme scheme,
                        const BitLinearQuant *bq);

/* ---- rotary position embedding ------------------------------------------ */

/* x (N,NH,HS) rotated in place (q or k); row i is at position pos[i] (N).
 * LLaMA convention: adjacent pairs (x[2j], x[2j+1]) of each head turn by
 * pos * theta^(-2j/HS). HS must be even. */
void rope_forward(float *x, const int *pos, size_t N, size_t NH, size_t HS, float theta);
/* dx (N,NH,HS) in place: the inverse rotation (the transpose of forward). */
void rope_backward(float *dx, const int *pos, size_t N, size_t NH, size_t HS, float theta);

/* ---- causal self-attention ------------------------------------------------ */

/* q, k, v (B,T,C) with NH heads -> out (B,T,C); att (B,NH,T,T) saved: the
 * softmax of q.k / sqrt(HS) over keys t2 <= t (zero above the diagonal). */
void attention_forward(float *out, float *att, const float *q, const float *k, const float *v,
                       size_t B, size_t T, size_t C, size_t NH);
/* One head of one query: q (HS) against n keys and values, rows of k and v
 * `stride` floats apart -> out (HS), att (n) the softmax weights: the
 * sampler's KV-cache step. The training forward computes the same formulas
 * for all queries at once, as small matrix products (equal to float
 * rounding). */
void attention_query(float *out, float *att, const float *q, const float *k, const float *v, size_t n,
                     size_t stride, size_t HS);
/* dq, dk, dv (B,T,C) accumulated; datt (B,NH,T,T) scratch. */
void attention_backward(float *dq, float *dk, float *dv, float *datt, const float *dout,
                        const float *q, const float *k, const float *v, const float *att,
                        size_t B, size_t T, size_t C, size_t NH);

/* ---- feed-forward nonlinearities ------------------------------------------ */

/* silu(gate (N,H)) * up (N,H) -> out (N,H), silu(x) = x * sigmoid(x) */
void swiglu_forward(float *out, const float *gate, const float *up, size_t N, size_t H);
void swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate,
                     const float *up, size_t N, size_t H);

/* max(0, inp (N,H))^2 -> out (N,H) */
void relu2_forward(float *out, const float *inp, size_t N, size_t H);
void relu2_backward(float *dinp, const float *dout, const float *inp, size_t N, size_t H);

/* ---- loss ------------------------------------------------------------------- */

/* logits (N,V), targets (N) -> losses (N) = -log softmax[target], probs (N,V)
 * saved. A target < 0 masks its row: loss 0 (probs are still written).
 * probs may be logits itself (computed in place). */
void crossentropy_forward(float *losses, float *probs, const float *logits, const int *targets,
                          size_t N, size_t V);
/* dlogits (N,V) += (probs - onehot(target)) * dloss_scale for unmasked rows;
 * 1 / (number of unmasked rows) as the scale gives the mean loss's gradient. */
void crossentropy_backward(float *dlogits, const float *probs, const int *targets,
                           float dloss_scale, size_t N, size_t V);

#endif
