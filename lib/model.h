/* model: the decoder-only transformer, BitNet b1.58 style.
 *
 *   x = tok_emb[token]                                  (B,T,C)
 *   for each of L blocks:
 *     x += Wo · attention(rope(Wq·n), rope(Wk·n), Wv·n)   n = rmsnorm(x)
 *     x += Wdown · ffn(Wgate·n, Wup·n)                   n = rmsnorm(x)
 *   logits = head · rmsnorm(x)                          (B,T,V)
 *
 * Wq Wk Wv Wo Wgate Wup Wdown are BitLinear layers (ternary weights, int8
 * activations, per the quantisation scheme); the embedding, the norms and
 * the untied output head stay float. ffn is SwiGLU, silu(gate)·up, or
 * squared ReLU, relu(up)² (no gate matrix). No biases. Rotary positions
 * rotate adjacent pairs within each head (the LLaMA convention).
 *
 * Parameters, gradients and the two AdamW moments are each one contiguous
 * block of floats laid out tensor after tensor in the order of the tensor
 * table; a checkpoint stores the blocks as they are. */
#ifndef L1B_MODEL_H
#define L1B_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "layers.h"
#include "rng.h"
#include "util.h"

enum { FFN_SWIGLU = 0, FFN_RELU2 = 1 };
/* "swiglu", "relu2" (util.h) */
extern const NameValue ffn_act_names[];

typedef struct {
    uint32_t dim;       /* C */
    uint32_t n_layers;  /* L */
    uint32_t n_heads;   /* NH; head size C / NH must be even */
    uint32_t hidden;    /* H, feed-forward width */
    uint32_t ctx;       /* longest sequence T */
    uint32_t vocab;     /* V */
    uint32_t ffn_act;   /* FFN_SWIGLU or FFN_RELU2 */
    uint32_t quant;     /* QuantScheme */
} ModelConfig;

/* The parameter tensors, in storage order. Per-layer tensors have a leading
 * L dimension; each layer's slice is quantised as its own tensor. */
enum {
    T_TOK_EMB, T_ATTN_NORM, T_WQ, T_WK, T_WV, T_WO, T_FFN_NORM, T_W_GATE, T_W_UP, T_W_DOWN,
    T_FINAL_NORM, T_HEAD, N_TENSORS
};

typedef struct {
    const char *name;
    size_t offset;      /* in floats from the start of the block */
    uint32_t layers;    /* 1 for global tensors */
    uint32_t rows, cols;/* per layer; norms are (1, C) */
    int ternary;        /* a BitLinear weight */
    int decay;          /* AdamW weight decay applies */
} TensorInfo;

typedef struct {
    float *t[N_TENSORS];  /* pointers into a block */
} Tensors;

/* Activations saved by the forward for the backward, for B x ctx tokens. */
typedef struct {
    float *x;        /* (L+1, N, C) residual stream entering each block, and the last */
    float *xmid;     /* (L, N, C) residual after attention */
    float *xn1, *xn2;/* (L, N, C) normed inputs of attention and feed-forward */
    float *rstd1, *rstd2; /* (L, N) */
    float *q, *k, *v;/* (L, N, C) q, k after rotation */
    float *att;      /* (L, B, NH, T, T) */
    float *atty;     /* (L, N, C) attention output before Wo */
    float *gate, *up;/* (L, N, H) */
    float *act;      /* (L, N, H) feed-forward activation entering Wdown */
    float *xf;       /* (N, C) final norm output */
    float *rstdf;    /* (N) */
    float *logits;   /* (N, V); with targets, the probabilities after the forward */
    float *probs;    /* the same buffer as logits */
    float *losses;   /* (N) */
    int *pos;        /* (N) positions */
    BitLinearQuant *bq;  /* (L, 7): q k v o gate up down */
    /* backward scratch */
    float *dx, *dxn, *dq, *dk, *dv, *datt, *datty, *dgate, *dup, *dact, *dlogits;
} Activations;

typedef struct {
    ModelConfig cfg;
    TensorInfo info[N_TENSORS];
    size_t n_params;
    float *params, *grads, *m, *v;  /* each n_params floats */
    Tensors p, g;
    Activations a;
    size_t B;                        /* batch rows the activations hold */
    void *act_mem;
    int8_t *wq_mem;
    uint64_t quant_noise;            /* stochastic rounding seed for the next forward; 0: none */
} Model;

/* Check a configuration; -1 with a message naming what is wrong. */
int model_config_check(const ModelConfig *c);
/* The feed-forward width used when none is given: SwiGLU 8C/3 rounded up to
 * a multiple of 32 (about the parameters of a 4C ReLU layer), ReLU² 4C. */
uint32_t model_default_hidden(uint32_t dim, uint32_t ffn_act);
/* Fill the tensor table; returns the parameter count. */
size_t model_tensor_table(const ModelConfig *c, TensorInfo info[N_TENSORS]);
/* How BitLinear weights are packed by default (TernaryPacking, ternary.h):
 * 1 bit for sign (binary) models, 2 bits for the ternary schemes, 0 for f32
 * models (kept as floats). */
uint32_t model_packing(const ModelConfig *c);

/* Allocate parameters (zeroed), gradients and moments, and activations for
 * batches of B rows (B = 0: parameters only). Dies on out of memory. */
void model_init(Model *m, const ModelConfig *c, size_t B);
void model_free(Model *m);
/* Random initial weights: normal(0, 0.02), output projections of the
 * residual branches (Wo, Wdown) scaled by 1/sqrt(2L), norms 1. */
void model_init_weights(Model *m, Rng *rng);

/* Forward over inputs (B,T) with T <= ctx; with targets (B,T) (-1 =
 * masked) also the losses, returning the mean loss over unmasked targets,
 * and a.logits then holds the softmax probabilities (same argmax). */
float model_forward(Model *m, const int *inputs, const int *targets, size_t B, size_t T);
/* Backward of the mean loss of the last forward, scaled by loss_scale,
 * accumulated into m->grads (zero them with model_zero_grads first). */
void model_backward(Model *m, const int *inputs, const int *targets, size_t B, size_t T, float loss_scale);
void model_zero_grads(Model *m);
/* Point the gradients (grads and the g tensors) at another block of
 * n_params floats and return the one they used: the trainer computes each
 * micro-batch's gradient whole, into a zeroed block, and adds the blocks in
 * micro-batch order, so a sum is the same to the bit whether one process
 * makes it or several (train.c, dist.h). */
float *model_swap_grads(Model *m, float *block);

/* Share of zero weights over all ternary tensors after quantisation. */
double model_zero_share(const Model *m);

#endif
