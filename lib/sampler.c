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
    s->repeat_penalty = 1.0f;
    s->V = V;
    rng_seed(&s->rng, seed);
    s->probs = xmalloc(V * sizeof *s->probs);
    s->order = xmalloc(V * sizeof *s->order);
}

void sampler_free(Sampler *s)
{
    free(s->probs);
    free(s->order);
    free(s->penalised);
    free(s->seen);
    free(s->recent);
    memset(s, 0, sizeof *s);
}

void sampler_set_min_p(Sampler *s, float min_p) { s->min_p = min_p; }

void sampler_set_repeat_penalty(Sampler *s, float penalty, uint32_t last_n)
{
    s->repeat_penalty = penalty;
    s->repeat_last = last_n;
    free(s->recent);
    s->recent = last_n ? xmalloc(last_n * sizeof *s->recent) : NULL;
    if (!s->penalised) {
        s->penalised = xmalloc(s->V * sizeof *s->penalised);
        s->seen = xmalloc(s->V);
        memset(s->seen, 0, s->V);
    }
    sampler_forget(s);
}

void sampler_accept(Sampler *s, uint32_t token)
{
    if (!s->repeat_last) return;
    s->recent[s->next_recent] = token;
    s->next_recent = (s->next_recent + 1) % s->repeat_last;
    if (s->n_recent < s->repeat_last) s->n_recent++;
}

void sampler_forget(Sampler *s) { s->n_recent = s->next_recent = 0; }

void repeat_penalty_apply(float *logits, uint32_t V, const uint32_t *tokens, size_t n, float penalty, uint8_t *seen)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t t = tokens[i];
        if (t >= V || seen[t]) continue;
        seen[t] = 1;
        logits[t] = logits[t] > 0 ? logits[t] / penalty : logits[t] * penalty;
    }
    for (size_t i = 0; i < n; i++)
        if (tokens[i] < V) seen[tokens[i]] = 0;
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

/* The logits after the penalty (the same array when it is off). */
static const float *penalise(Sampler *s, const float *logits)
{
    if (s->repeat_penalty == 1.0f || !s->n_recent) return logits;
    memcpy(s->penalised, logits, s->V * sizeof *logits);
    repeat_penalty_apply(s->penalised, s->V, s->recent, s->n_recent, s->repeat_penalty, s->seen);
    return s->penalised;
}

uint32_t sampler_candidates(Sampler *s, const float *logits, int *sorted)
{
    uint32_t V = s->V;
    logits = penalise(s, logits);
    if (s->temperature <= 0) {
        s->order[0] = argmax(logits, V);
        s->probs[s->order[0]] = 1;
        *sorted = 1;
        return 1;
    }
    float maxv = logits[argmax(logits, V)];
    for (uint32_t i = 0; i < V; i++) s->probs[i] = expf((logits[i] - maxv) / s->temperature);
    uint32_t n = V;
    *sorted = (s->top_k && s->top_k < V) || s->top_p < 1.0f || s->min_p > 0;
    if (!*sorted) return n;
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
    if (s->min_p > 0) {
        /* relative to the most likely token, whose probability is the same
         * before and after the other filters renormalise */
        float floor_p = s->min_p * s->probs[s->order[0]];
        while (n > 1 && s->probs[s->order[n - 1]] < floor_p) n--;
    }
    return n;
}

uint32_t sampler_pick(Sampler *s, const float *logits)
{
    int sorted;
    uint32_t n = sampler_candidates(s, logits, &sorted);
    if (s->temperature <= 0) return s->order[0];
    double sum = 0;
    for (uint32_t k = 0; k < n; k++) sum += s->probs[sorted ? s->order[k] : k];
    double r = (double)rng_float(&s->rng) * sum, cum = 0;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t id = sorted ? s->order[k] : k;
        cum += s->probs[id];
        if (r < cum) return id;
    }
    return sorted ? s->order[n - 1] : n - 1;  /* rounding at the very end */
}
