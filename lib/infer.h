/* infer: the model for generation with a KV cache: one token at a time
 * (infer_forward, decoding), or a block of known tokens at once
 * (infer_forward_block: prompts, scoring, the refill after a slide).
 *
 * BitLinear weights are quantised by the model's scheme and packed 2 bits
 * each (ternary.h); activations entering them are int8 per token and the
 * products exact integers, rescaled once per output — the same numbers the
 * training forward computes. The float shadow weights are not kept. Float
 * (f32) models keep float matrices.
 *
 * By default the embedding table, the output head and the KV cache are kept
 * as int8 rows with a scale each (q8.h): a quarter of their float size, the
 * larger part of the memory of a small model. Logits then differ from the
 * training forward's by the int8 rounding (measured in docs/BENCHMARKS.md).
 * INFER_EXACT keeps them as floats, and the other layers are the training
 * code itself with one row, so the logits equal the training forward's. */
#ifndef L1B_INFER_H
#define L1B_INFER_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "q8.h"
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
    int exact;             /* INFER_EXACT: float tables and cache */
    float *attn_norm, *ffn_norm, *final_norm;
    Linear *lin;           /* (L, 7): q k v o gate up down */
    /* exact: floats; tok_emb, head (V, C), the cache kc, vc (L, ctx, C) */
    float *tok_emb, *head, *kc, *vc;
    /* compact: int8 rows; emb_q, head_q (V, C), the cache kq, vq with one
     * row per (layer, head, position) of head_size values */
    Q8Matrix emb_q, head_q, kq, vq;
    /* one token's activations */
    float *x, *xn, *q, *k, *v, *atty, *att, *tmp, *gate, *up, *act, *logits;
    int8_t *xq;            /* padded to whole 64-weight blocks */
    int32_t *acc;          /* integer sums: a layer's outputs, or attention scores */
    size_t weight_bytes;   /* memory held by the weights */
    size_t cache_bytes;    /* memory held by the KV cache */
    struct InferBlock *block;  /* infer_forward_block's scratch, made on first use */
} Infer;

#define INFER_EXACT 1

/* Load a model file (checkpoint) for generation; -1 with a message. */
int infer_read(Infer *m, const char *path, int flags);
/* The same from parameters in memory (the tensor-table layout of model.h);
 * takes over tok. */
void infer_init(Infer *m, const ModelConfig *c, const float *params, Tokenizer *tok, int flags);
void infer_free(Infer *m);
/* A model of random weights for benchmarks, made straight in its packed
 * form, in about the packed model's memory: the ternary matrices in
 * packing (ternary_random), int8 embedding and head rows, norms 1, the
 * int8 cache; c->quant other than QUANT_F32. Takes over tok. */
void infer_init_random(Infer *m, const ModelConfig *c, Tokenizer *tok, uint32_t packing, uint64_t seed);
/* The ternary weights in another packing (PACK_2BIT or PACK_BASE3,
 * ternary.h): the same products in another amount of memory. */
void infer_repack(Infer *m, uint32_t packing);
/* Run token at cache position pos (< ctx), after positions 0..pos-1 were
 * run; returns the logits (V), valid until the next call. */
const float *infer_forward(Infer *m, int token, uint32_t pos);

/* Tokens infer_forward_block runs through the layers at once; its scratch
 * (made on the first call, freed by infer_free) is sized by this, not by
 * the context: about INFER_BLOCK * (10 dim + 4 hidden) * 4 bytes. */
#define INFER_BLOCK 128
/* Run tokens[0..n) at cache positions pos..pos+n-1 (pos + n <= ctx) after
 * positions 0..pos-1 were run: what n calls of infer_forward do, with the
 * same KV cache afterwards, but a block of tokens at a time, each layer a
 * matrix-matrix product (the int8 activations are quantised per token, so
 * the integer sums are the same; f32 products and the exact head differ
 * by float rounding), causal attention within the block and over the
 * cache. logits NULL: only the last token's logits are made and returned
 * (valid until the next call); else logits (n, V) gets every token's and
 * the last row is returned. NULL for n = 0. */
const float *infer_forward_block(Infer *m, const int *tokens, size_t n, uint32_t pos, float *logits);

/* A KV cache of its own, for one of several contexts over one model (the
 * model's own cache is inside Infer): about cache_bytes. */
typedef struct {
    float *kc, *vc;   /* exact: (L, ctx, C) */
    Q8Matrix kq, vq;  /* int8: a row per (layer, head, position) */
} InferCache;

void infer_cache_init(const Infer *m, InferCache *kv);
void infer_cache_free(InferCache *kv);

/* A running context: the tokens in the KV cache. When the cache is full the
 * window slides: the newest ctx/2 tokens are kept and run again from
 * position 0, so generation and scoring go on past the context length. */
typedef struct {
    Infer *m;
    int *tokens;   /* (ctx) tokens at cache positions 0..n-1 */
    uint32_t n;
    uint64_t slides;
    InferCache *kv;  /* a cache of its own, or NULL: the model's */
} Session;

/* A session in the model's own cache (one context at a time). */
void session_init(Session *s, Infer *m);
/* A session with a cache of its own, so that several run over one model
 * at once (session_feed_batch); session_free frees it. */
void session_init_cache(Session *s, Infer *m);
void session_free(Session *s);
void session_reset(Session *s);
/* Run one more token; returns the logits for the token after it. */
const float *session_feed(Session *s, int token);
/* The same for n tokens in turn (a prompt), returning the logits after the
 * last (NULL for n = 0); the tokens that would slide out of the window are
 * not run, so a prompt costs at most a window's worth of work. The tokens
 * go through the model in blocks (infer_forward_block). */
const float *session_feed_many(Session *s, const uint16_t *tokens, size_t n);
/* n tokens in turn with the logits after each into logits (n, V), as n
 * calls of session_feed would give them, slides included (scoring); in
 * blocks. */
void session_feed_all(Session *s, const uint16_t *tokens, size_t n, float *logits);
/* One token each for n sessions over the same model, each with a cache of
 * its own (session_init_cache; at most one may be in the model's own
 * cache, session_init): as session_feed for each in turn, slides
 * included, the same logits to the last bit, but their mat-vecs run as one
 * matrix product. logits (n, V): row i after tokens[i] in s[i]. */
void session_feed_batch(Session *const s[], const int *tokens, size_t n, float *logits);
/* The prompts of n sessions over the same model, each with a cache of its
 * own (as for session_feed_batch): tokens[i][0..len[i]) after what s[i]
 * holds, run together in blocks whose rows come from several sessions
 * (short prompts fill a block between them); logits (n, V): row i after
 * the last of tokens[i] (left as it is for len[i] = 0). The logits of the
 * int8 path are those of session_feed_many; float products (f32 layers,
 * the exact head) run a row at a time, so they do not depend on how the
 * rows are grouped. A prompt that makes its session slide runs alone
 * (session_feed_many). */
void session_feed_prompts(Session *const s[], const uint16_t *const tokens[], const size_t len[], size_t n,
                          float *logits);

#endif
