#include "generate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "util.h"

/* ---- output ------------------------------------------------------------ */

/* bytes a UTF-8 sequence starting with b needs (1 for anything else) */
static size_t utf8_len(uint8_t b) { return b >= 0xF0 && b < 0xF8 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1; }

void out_flush(Out *o)
{
    if (o->to_mem) return;
    if (o->n_held) fwrite(o->held, 1, o->n_held, stdout);
    o->n_held = 0;
    fflush(stdout);
}

void out_bytes(Out *o, const uint8_t *b, size_t n)
{
    if (n == 0) return;  /* b and the buffers may still be NULL */
    if (o->to_mem) {
        if (o->n_mem + n > o->cap_mem) o->mem = xrealloc(o->mem, o->cap_mem = 2 * (o->n_mem + n) + 64);
        memcpy(o->mem + o->n_mem, b, n);
        o->n_mem += n;
        return;
    }
    if (!o->stream) {
        fwrite(b, 1, n, stdout);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t c = b[i];
        if (o->n_held && (c & 0xC0) != 0x80) out_flush(o);  /* not a continuation: give up waiting */
        if (o->n_held || (c >= 0xC0 && c < 0xF8)) {
            o->held[o->n_held++] = c;
            if (o->n_held == utf8_len(o->held[0])) {
                fwrite(o->held, 1, o->n_held, stdout);
                o->n_held = 0;
            }
        } else {
            fputc(c, stdout);
        }
    }
    if (!o->n_held) fflush(stdout);
}

/* ---- text into the session --------------------------------------------- */

uint16_t *encode_text(Infer *m, const uint8_t *text, size_t n, size_t *n_ids)
{
    uint16_t *ids = xmalloc((n + 1) * sizeof *ids);
    *n_ids = tok_encode_text(&m->tok, text, n, ids);
    return ids;
}

const float *feed_text(Session *s, Sampler *sp, const uint8_t *text, size_t n, const float *logits, size_t *n_fed)
{
    size_t n_ids;
    uint16_t *ids = encode_text(s->m, text, n, &n_ids);
    if (n_ids) logits = session_feed_many(s, ids, n_ids);
    for (size_t i = 0; i < n_ids; i++) sampler_accept(sp, ids[i]);
    free(ids);
    if (n_fed) *n_fed = n_ids;
    return logits;
}

const float *feed_token(Session *s, Sampler *sp, uint32_t token)
{
    if (token != TOK_EOD) sampler_accept(sp, token);
    return session_feed(s, (int)token);
}

/* ---- continuing --------------------------------------------------------- */

void gen_init(Gen *g)
{
    memset(g, 0, sizeof *g);
    g->end_token = -1;
}

void gen_add_stop(Gen *g, const char *stop)
{
    g->stops = xrealloc(g->stops, (g->n_stops + 1) * sizeof *g->stops);
    g->stops[g->n_stops++] = (char *)stop;
    size_t len = strlen(stop);
    if (len > g->longest) g->longest = len;
}

void gen_free(Gen *g)
{
    free(g->stops);
    free(g->pending);
    memset(g, 0, sizeof *g);
}

/* The earliest complete stop string in b[0..n): its start, and in *end the
 * offset just past it (the shorter of two starting alike); n if none. */
static size_t find_stop(const Gen *g, const uint8_t *b, size_t n, size_t *end)
{
    size_t best = n;
    *end = n;
    for (size_t k = 0; k < g->n_stops; k++) {
        size_t len = strlen(g->stops[k]);
        for (size_t i = 0; i + len <= n && i <= best; i++)
            if (!memcmp(b + i, g->stops[k], len)) {
                if (i < best || i + len < *end) best = i, *end = i + len;
                break;
            }
    }
    return best;
}

/* How many of the last bytes of b[0..n) could begin a stop string: the
 * longest suffix that is a proper prefix of one (less than the longest
 * stop string). */
static size_t stop_prefix_len(const Gen *g, const uint8_t *b, size_t n)
{
    size_t most = g->longest ? g->longest - 1 : 0;
    if (most > n) most = n;
    for (size_t k = most; k > 0; k--)
        for (size_t j = 0; j < g->n_stops; j++)
            if (strlen(g->stops[j]) > k && !memcmp(b + n - k, g->stops[j], k)) return k;
    return 0;
}

/* Write the first n pending bytes and keep the rest. */
static void write_pending(Gen *g, Out *out, size_t n)
{
    if (!g->logprobs) out_bytes(out, g->pending, n);
    if (g->n_pending > n) memmove(g->pending, g->pending + n, g->n_pending - n);
    g->n_pending -= n;
}

void gen_begin(Gen *g)
{
    g->tail = NULL;
    g->n_tail = 0;
    g->end_token = -1;
    g->n_pending = 0;
    g->steps = 0;
}

/* at the limit or the end of document no stop string completed: what was
 * held back is text; else the rest is not */
static int gen_end(Gen *g, Out *out, GenEnd why, GenEnd *why_out)
{
    if (why == END_LIMIT || why == END_EOD) write_pending(g, out, g->n_pending);
    g->n_pending = 0;
    *why_out = why;
    return 0;
}

int gen_step(Gen *g, const Tokenizer *tok, uint32_t V, Sampler *sp, const float *logits, Out *out, uint64_t pos,
             uint32_t *next_out, GenEnd *why)
{
    if (g->steps >= g->max_tokens) return gen_end(g, out, END_LIMIT, why);
    uint32_t next = sampler_pick(sp, logits);
    if (g->logprobs) logprob_row(pos + g->steps, tok, next, token_logprob(logits, V, next));
    g->steps++;
    if (next == TOK_EOD) {
        g->end_token = next;
        return gen_end(g, out, END_EOD, why);
    }
    g->generated++;
    size_t len;
    const uint8_t *b = tok_bytes(tok, next, &len);
    /* the token joins what is pending: the end of a stop string, if one
     * completes, lies in it */
    size_t before = g->n_pending;
    if (g->n_pending + len > g->cap) g->pending = xrealloc(g->pending, g->cap = 2 * (g->n_pending + len) + 64);
    memcpy(g->pending + g->n_pending, b, len);
    g->n_pending += len;
    const uint8_t *nl = g->at_newline ? memchr(b, '\n', len) : NULL;
    size_t newline_at = nl ? before + (size_t)(nl - b) : g->n_pending;
    size_t stop_end, stop_at = g->n_stops ? find_stop(g, g->pending, g->n_pending, &stop_end) : g->n_pending;
    if (stop_at < g->n_pending && stop_at <= newline_at) {
        write_pending(g, out, stop_at);
        g->tail = b;
        g->n_tail = stop_end > before ? stop_end - before : 0;
        g->end_token = next;
        return gen_end(g, out, END_STOP, why);
    }
    if (nl) {
        write_pending(g, out, newline_at);
        g->tail = b;
        g->n_tail = (size_t)(nl - b) + 1;
        g->end_token = next;
        return gen_end(g, out, END_NEWLINE, why);
    }
    write_pending(g, out, g->n_pending - stop_prefix_len(g, g->pending, g->n_pending));
    *next_out = next;
    return 1;
}

GenEnd gen_continue(Gen *g, Session *s, Sampler *sp, const float *logits, Out *out, uint64_t pos)
{
    GenEnd why;
    uint32_t next;
    gen_begin(g);
    while (gen_step(g, &s->m->tok, s->m->cfg.vocab, sp, logits, out, pos, &next, &why))
        logits = feed_token(s, sp, next);
    return why;
}

/* ---- log-probabilities --------------------------------------------------- */

double token_logprob(const float *logits, uint32_t V, uint32_t id)
{
    float maxv = logits[argmax(logits, V)];
    double sum = 0;
    for (uint32_t k = 0; k < V; k++) sum += exp((double)logits[k] - maxv);
    return ((double)logits[id] - maxv) - log(sum);
}

void logprob_header(void) { printf("pos\tid\ttoken\tlogprob\n"); }

void logprob_row(uint64_t pos, const Tokenizer *tok, uint32_t id, double logprob)
{
    if (id == TOK_EOD) {
        printf("%llu\t%u\t<eod>\t%.6f\n", (unsigned long long)pos, id, logprob);
        return;
    }
    size_t len;
    const uint8_t *b = tok_bytes(tok, id, &len);
    char small[4 * 32 + 1], *text = len <= 32 ? small : xmalloc(4 * len + 1);
    escape_bytes(text, b, len);
    printf("%llu\t%u\t%s\t%.6f\n", (unsigned long long)pos, id, text, logprob);
    if (text != small) free(text);
}
