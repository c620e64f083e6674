/* layers: the float forward/backward pairs a training step is built from
 * (embedding, residual, RMSNorm, matmul, BitLinear, RoPE, attention,
 * SwiGLU, ReLU², cross-entropy), the sampler's one-query attention, and the
 * int8 quantisers of BitLinear's activations and gradients (its weight
 * quantisers are quant.h's).
 *
 * Conventions, for every pair:
 *   - shapes are row-major and given in the comment; N is the number of rows
 *     (tokens, B*T flattened), C the model dim, OC a layer's output dim,
 *     NH heads of HS = C/NH each, H the feed-forward dim, V the vocabulary;
 *   - forward writes (=) its outputs and whatever it saves for backward;
 *   - backward ACCUMULATES (+=) into every gradient buffer, so a tensor used
 *     twice gets both contributions and the caller zeroes gradients once per
 *     step. Scratch buffers named as such are overwritten, not accumulated.
 *
 * How they run: most split their rows over the thread pool (threads.h),
 * each output owned by one thread, so results do not depend on the thread
 * count; inner loops go through the kernel table (kernels.h: the CPU's SIMD
 * level, plain C references in kernels_scalar.c) and matrix products through
 * gemm.h. Some allocate: scratch for a call (RMSNorm backward, attention's
 * per-thread transposes), and two buffers kept and grown on demand
 * (BitLinear's dequantised operands, RoPE's sine and cosine table), so
 * these functions are called from one thread at a time. Out of memory ends
 * the program (xmalloc); nothing prints or fails otherwise: shapes are the
 * caller's to check. */
#ifndef L1B_LAYERS_H
#define L1B_LAYERS_H

#include <stddef.h>
#include <stdint.h>

#include "quant.h"

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

/* Activations, one row x (C): s = 127 / max(absmax(x), 1e-5);
 * q = clamp(round(x * s), -128, 127); *scale = 1/s (dequantised = q * scale). */
void act_quant_int8(const float *x, size_t C, int8_t *q, float *scale);
/* The same for a gradient row, without the floor (gradients are small by
 * nature): s = 127 / max|g|, q = round(g * s) ties to even, scale = 1/s;
 * a row whose max|g| is 0 or below FLT_MIN gives zeros and scale 0. */
void grad_quant_int8(const float *g, size_t n, int8_t *q, float *scale);

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
