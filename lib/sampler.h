/* sampler: the next token from logits — greedy, or drawn at a temperature
 * from what the filters leave. Deterministic for a seed.
 *
 * The order is llama.cpp's sampler chain (penalties, top-k, top-p, min-p,
 * then the draw), except that the temperature applies first, to the
 * probabilities all three filters see:
 *   1. repetition penalty (off at 1): the logit of every distinct token among
 *      the last repeat_last accepted is divided by the penalty when positive
 *      and multiplied by it when not (llama.cpp's repeat_penalty);
 *   2. probabilities: softmax of logits / temperature (0: greedy, the most
 *      likely penalised logit; nothing below applies);
 *   3. top-k (0: off): the k most likely tokens;
 *   4. top-p (1: off): of those, the smallest set of the most likely whose
 *      share of their (renormalised) probability reaches top_p (nucleus);
 *   5. min-p (0: off): of those, the tokens whose probability is at least
 *      min_p times the most likely token's.
 * Each filter keeps a run of the most likely tokens (equal probabilities
 * rank by id, lowest first), so what is drawn from is the shortest of the
 * three runs; min-p's threshold does not depend on renormalisation. */
#ifndef L1B_SAMPLER_H
#define L1B_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "rng.h"

typedef struct {
    float temperature;     /* 0: greedy */
    uint32_t top_k;        /* 0: off */
    float top_p;           /* 1: off */
    float min_p;           /* 0: off */
    float repeat_penalty;  /* 1: off */
    uint32_t repeat_last;  /* tokens the penalty looks back on; 0: off */
    Rng rng;
    uint32_t V;
    float *probs;          /* (V) the last pick's unnormalised probabilities */
    uint32_t *order;       /* (V) token ids, most likely first, when sorted */
    float *penalised;      /* (V) logits after the penalty */
    uint8_t *seen;         /* (V) scratch: tokens already penalised */
    uint32_t *recent;      /* ring of the last repeat_last accepted tokens */
    uint32_t n_recent, next_recent;
} Sampler;

/* min_p 0 and no penalty; sampler_set_* turn those on. */
void sampler_init(Sampler *s, uint32_t V, float temperature, uint32_t top_k, float top_p, uint64_t seed);
void sampler_free(Sampler *s);
void sampler_set_min_p(Sampler *s, float min_p);
/* penalty > 0; last_n 0 turns it off. Forgets the accepted tokens. */
void sampler_set_repeat_penalty(Sampler *s, float penalty, uint32_t last_n);
/* A token enters the context (prompt or generated): the penalty sees the
 * last repeat_last of them. sampler_forget starts a new context. */
void sampler_accept(Sampler *s, uint32_t token);
void sampler_forget(Sampler *s);

/* The most likely token (the lowest id among equals). */
uint32_t argmax(const float *logits, uint32_t V);
uint32_t sampler_pick(Sampler *s, const float *logits);
/* What sampler_pick would draw from (no random number used): returns the
 * number n of tokens kept; when *sorted they are s->order[0..n), most
 * likely first, else all V, by id. s->probs holds their unnormalised
 * probabilities. Greedy: the one token, in s->order[0], sorted. */
uint32_t sampler_candidates(Sampler *s, const float *logits, int *sorted);

/* llama.cpp's repetition penalty in place: for each distinct token among
 * tokens[0..n) (ids < V), a positive logit is divided by penalty, any other
 * multiplied by it. seen: V bytes of zeros, left zero. */
void repeat_penalty_apply(float *logits, uint32_t V, const uint32_t *tokens, size_t n, float penalty, uint8_t *seen);

#endif
