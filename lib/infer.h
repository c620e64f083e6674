/* infer: the model for generation, one token at a time with a KV cache.
 *
 * BitLinear weights are quantised by the model's scheme and packed 2 bits
 * each (ternary.h); activations entering them are int8 per token and the
 * products exact integers, rescaled once per output — the same numbers the
 * training forward computes. The float shadow weights are not kept. The
 * other layers are the training code itself with one row, so the logits
 * equal the training forward's for the same tokens. Float (f32) models keep
 * float matrices. */
#ifndef L1B_INFER_H
#define L1B_INFER_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "ternary.h"
#include "tokenizer.h"

typedef struct {
    int ternary;
    PackedTernary t;  /* ternary models */
    float *w;         /* f32 models: (rows, cols) */
    uint32_t rows, cols;
} Linear;

typedef struct {
    ModelConfig cfg;
    Tokenizer tok;
    float *tok_emb, *attn_norm, *ffn_norm, *final_norm, *head;
    Linear *lin;           /* (L, 7): q k v o gate up down */
    float *kc, *vc;        /* (L, ctx, C) the KV cache */
    /* one token's activations */
    float *x, *xn, *q, *atty, *att, *tmp, *gate, *up, *act, *logits;
    int8_t *xq;            /* padded to whole 64-weight blocks */
    int32_t *acc;
    size_t weight_bytes;   /* memory held by the weights */
} Infer;

/* Load a model file (checkpoint) for generation; -1 with a message. */
int infer_open(Infer *m, const char *path);
/* The same from parameters in memory (the tensor-table layout of model.h);
 * takes over tok. */
void infer_init(Infer *m, const ModelConfig *c, const float *params, Tokenizer *tok);
void infer_close(Infer *m);
/* Run token at cache position pos (< ctx), after positions 0..pos-1 were
 * run; returns the logits (V), valid until the next call. */
const float *infer_forward(Infer *m, int token, uint32_t pos);

#endif

/* A running context: the tokens in the KV cache. When the cache is full the
 * window slides: the newest ctx/2 tokens are kept and run again from
 * position 0, so generation and scoring go on past the context length. */
typedef struct {
    Infer *m;
    int *tokens;   /* (ctx) tokens at cache positions 0..n-1 */
    uint32_t n;
    uint64_t slides;
} Session;

void session_init(Session *s, Infer *m);
void session_free(Session *s);
void session_reset(Session *s);
/* Run one more token; returns the logits for the token after it. */
const float *session_feed(Session *s, int token);
