/* generate: what l1b-sample's modes share — running text into a session,
 * continuing it with the model, and writing the continuation out: whole
 * UTF-8 characters when streaming, the bytes that could begin a --stop
 * string held back until they are ruled out, or per-token
 * log-probabilities as TSV. Program side: writes to stdout. */
#ifndef L1B_GENERATE_H
#define L1B_GENERATE_H

#include <stddef.h>
#include <stdint.h>

#include "infer.h"
#include "sampler.h"

/* ---- output: whole UTF-8 characters, streamed on a terminal ------------ */

typedef struct {
    int stream;        /* flush after every token */
    uint8_t held[4];   /* the start of an unfinished UTF-8 character */
    size_t n_held;
    /* to_mem: kept in memory instead (one of several answers made at
     * once, written whole when its turn comes) */
    int to_mem;
    uint8_t *mem;
    size_t n_mem, cap_mem;
} Out;

void out_bytes(Out *o, const uint8_t *b, size_t n);
void out_flush(Out *o);  /* also what is held, then fflush(stdout) */

/* ---- text into the session --------------------------------------------- */

/* The token ids of text (xmalloc'd; *n_ids of them). */
uint16_t *encode_text(Infer *m, const uint8_t *text, size_t n, size_t *n_ids);
/* Run text's tokens through the session, each accepted by the sampler (for
 * its repetition penalty); returns the logits after the last, or logits
 * unchanged for an empty text. *n_fed (if not NULL): the token count. */
const float *feed_text(Session *s, Sampler *sp, const uint8_t *text, size_t n, const float *logits, size_t *n_fed);
/* The same for one token (the end-of-document token is not accepted: it is
 * never penalised). */
const float *feed_token(Session *s, Sampler *sp, uint32_t token);

/* ---- continuing ------------------------------------------------------- */

typedef enum { END_LIMIT, END_EOD, END_NEWLINE, END_STOP } GenEnd;

typedef struct {
    /* settings */
    uint64_t max_tokens;       /* -n */
    char **stops;              /* --stop strings (non-empty) */
    size_t n_stops, longest;   /* the longest stop string's length */
    int at_newline;            /* end at the first newline (not written) */
    int logprobs;              /* TSV rows (pos, id, token, logprob) instead of text */
    /* the last call: the bytes of the token that ended it which belong to
     * the text although not written (through the newline, or through the
     * stop string), and that token (-1: none, the limit) */
    const uint8_t *tail;
    size_t n_tail;
    long end_token;
    /* every call */
    uint64_t generated;        /* tokens chosen, end of document excluded */
    uint64_t steps;            /* tokens chosen in this continuation */
    uint8_t *pending;          /* chosen, not yet written: may begin a stop string */
    size_t n_pending, cap;
} Gen;

void gen_init(Gen *g);
void gen_add_stop(Gen *g, const char *stop);
void gen_free(Gen *g);
/* Continue the text whose next-token logits are given (the session holds
 * the text): choose tokens with sp, write them to out, feed each to the
 * session and the sampler — except the token that ends the continuation
 * (end of document, a newline with at_newline, one completing a stop
 * string), whose kept bytes are in tail. Ends at max_tokens, end of
 * document, a newline (at_newline) or right before the first stop string.
 * pos: the position of the first new token in the text, for logprobs. */
GenEnd gen_continue(Gen *g, Session *s, Sampler *sp, const float *logits, Out *out, uint64_t pos);
/* The same a token at a time, for continuations in lockstep: gen_begin,
 * then gen_step with each new logits. gen_step chooses a token and writes
 * what is decided; it returns 1 with the token to run next in *next (the
 * caller has the sampler accept it and runs it), or 0 at the end, with how
 * it ended in *why. gen_continue is exactly that loop on one session. */
void gen_begin(Gen *g);
int gen_step(Gen *g, const Tokenizer *tok, uint32_t V, Sampler *sp, const float *logits, Out *out, uint64_t pos,
             uint32_t *next, GenEnd *why);

/* ---- log-probabilities ------------------------------------------------- */

/* ln p(id) under softmax(logits) (temperature 1, no filters or penalty). */
double token_logprob(const float *logits, uint32_t V, uint32_t id);
void logprob_header(void);
/* One TSV row: pos, id, the token's bytes escaped as l1b-ckpt vocab shows
 * them (<eod> for end of document), ln p to 6 decimals. */
void logprob_row(uint64_t pos, const Tokenizer *tok, uint32_t id, double logprob);

#endif
