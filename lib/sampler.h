/* sampler: the next token from logits — greedy, or drawn at a temperature
 * from the top-k most likely tokens, then from the smallest set of those
 * whose share of their (renormalised) probability reaches top-p (nucleus).
 * Deterministic for a seed. */
#ifndef L1B_SAMPLER_H
#define L1B_SAMPLER_H

#include <stdint.h>

#include "rng.h"

typedef struct {
    float temperature;  /* 0: greedy */
    uint32_t top_k;     /* 0: off */
    float top_p;        /* 1: off */
    Rng rng;
    uint32_t V;
    float *probs;
    uint32_t *order;
} Sampler;

void sampler_init(Sampler *s, uint32_t V, float temperature, uint32_t top_k, float top_p, uint64_t seed);
void sampler_free(Sampler *s);
/* The most likely token (the lowest id among equals). */
uint32_t argmax(const float *logits, uint32_t V);
uint32_t sampler_pick(Sampler *s, const float *logits);

#endif
