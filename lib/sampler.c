#include "sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void sampler_init(Sampler *s, uint32_t V, float temperature, uint32_t top_k, float top_p, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    s->temperature = temperature;
    s->top_k = top_k;
    s->top_p = top_p;
    s->V = V;
    rng_seed(&s->rng, seed);
    s->probs = xmalloc(V * sizeof *s->probs);
    s->order = xmalloc(V * sizeof *s->order);
}

void sampler_free(Sampler *s)
{
    free(s->probs);
    free(s->order);
    memset(s, 0, sizeof *s);
}

uint32_t argmax(const float *logits, uint32_t V)
{
    uint32_t best = 0;
    for (uint32_t i = 1; i < V; i++)
        if (logits[i] > logits[best]) best = i;
    return best;
}

static const float *sort_probs;
static int by_prob_desc(const void *a, const void *b)
{
    uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
    if (sort_probs[i] != sort_probs[j]) return sort_probs[i] > sort_probs[j] ? -1 : 1;
    return (i > j) - (i < j);
}

uint32_t sampler_pick(Sampler *s, const float *logits)
{
    uint32_t V = s->V;
    if (s->temperature <= 0) return argmax(logits, V);
    float maxv = logits[argmax(logits, V)];
    double sum = 0;
    for (uint32_t i = 0; i < V; i++) {
        s->probs[i] = expf((logits[i] - maxv) / s->temperature);
        sum += s->probs[i];
    }
    uint32_t n = V;
    int restricted = (s->top_k && s->top_k < V) || s->top_p < 1.0f;
    if (restricted) {
        for (uint32_t i = 0; i < V; i++) s->order[i] = i;
        sort_probs = s->probs;
        qsort(s->order, V, sizeof *s->order, by_prob_desc);
        if (s->top_k && s->top_k < n) n = s->top_k;
        if (s->top_p < 1.0f) {
            /* the nucleus of what top-k left, renormalised */
            double kept = 0;
            for (uint32_t k = 0; k < n; k++) kept += s->probs[s->order[k]];
            double cum = 0, target = s->top_p * kept;
            uint32_t k = 0;
            while (k < n) {
                cum += s->probs[s->order[k++]];
                if (cum >= target) break;
            }
            n = k;
        }
        sum = 0;
        for (uint32_t k = 0; k < n; k++) sum += s->probs[s->order[k]];
    }
    double r = (double)rng_float(&s->rng) * sum, cum = 0;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t id = restricted ? s->order[k] : k;
        cum += s->probs[id];
        if (r < cum) return id;
    }
    return restricted ? s->order[n - 1] : n - 1;  /* rounding at the very end */
}
