/* l1b-sample: prompt on stdin, text on stdout. See l1b-sample(1). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "generate.h"
#include "infer.h"
#include "profile.h"
#include "sampler.h"
#include "threads.h"
#include "tokstream.h"
#include "util.h"

static void usage(void)
{
    printf("usage: l1b-sample -m MODEL [-i TEXT | -f FILE] [-n N] [-T TEMP] [-k K] [-p P]\n"
           "                  [--min-p P] [--repeat-penalty X [--repeat-last N]] [--greedy]\n"
           "                  [-s SEED] [--stop STR]... [--echo] [--raw] [--lines [--batch N] | -I]\n"
           "                  [--logprobs] [--exact] [-j N] [-v]\n"
           "       l1b-sample -m MODEL --score [--json | --logprobs] [FILE...]\n"
           "\n"
           "Continue the prompt (stdin, -i TEXT or -f FILE) with text from the model,\n"
           "or with --score report how well the model predicts the input.\n"
           "\n"
           "  -m, --model MODEL     model file (l1b-train checkpoint)\n"
           "  -i, --input TEXT      prompt text instead of stdin\n"
           "  -f, --file FILE       prompt file instead of stdin ('-': stdin); with\n"
           "                        --lines the lines, with -I the conversation's start\n"
           "  -n, --tokens N        tokens to generate (default 256)\n"
           "  -T, --temperature T   sampling temperature; 0 is greedy (default 0.8)\n"
           "  -k, --top-k K         only the K most likely tokens; 0: all (default 0)\n"
           "  -p, --top-p P         only the smallest set of probability P (default 0.95)\n"
           "      --min-p P         only tokens at least P times as likely as the most\n"
           "                        likely, after the temperature (default 0: off)\n"
           "      --repeat-penalty X  tokens among the last N of the context: positive\n"
           "                        logits divided by X, negative ones multiplied\n"
           "                        (default 1: off)\n"
           "      --repeat-last N   the N of --repeat-penalty (default 64)\n"
           "      --greedy          always the most likely token (same as -T 0)\n"
           "  -s, --seed N          random seed (default: from the clock; -v prints it)\n"
           "      --stop STR        end the text right before STR, not written;\n"
           "                        repeatable\n"
           "      --echo            print the prompt before the continuation\n"
           "      --raw             keep the prompt's trailing newline (dropped by default)\n"
           "      --lines           every input line is a prompt; one output line each\n"
           "      --batch N         with --lines: answer up to N lines at once\n"
           "                        (default: up to 64, their caches within 64 MB)\n"
           "  -I, --interactive     each line typed continues one conversation (which\n"
           "                        keeps its KV cache) and is answered; Ctrl-D ends\n"
           "      --score           print loss, perplexity and bits per byte of the input\n"
           "      --json            with --score: one JSON object (file, tokens, bytes,\n"
           "                        loss, ppl, bpb)\n"
           "      --logprobs        TSV of log-probabilities (pos, id, token, logprob):\n"
           "                        each token of the input with --score, else each\n"
           "                        token chosen\n"
           "      --exact           float embeddings, head and KV cache (default int8):\n"
           "                        logits as in training, about twice the memory\n"
           "  -j, --threads N       threads (default: the CPUs it may use)\n"
           "  -v, --verbose         report a random seed, speed and memory on stderr\n"
           "      --profile         time per kernel category at exit (as L1B_PROFILE=1)\n"
           "  -h, --help            this help\n"
           "  -V, --version         version and SIMD level\n");
    cli_help_footer();
}

typedef struct {
    const char *model, *input, *file;
    uint64_t n_tokens, seed;
    float temperature, top_p, min_p, repeat_penalty;
    uint32_t top_k, repeat_last;
    int echo, raw, lines, interactive, score, json, logprobs, exact, verbose, threads, profile;
    uint32_t batch;  /* --lines answered at once; 0: automatic */
} Options;

typedef struct {
    uint64_t tokens;     /* generated or scored */
    double seconds;      /* computing them, waiting for input excluded */
    uint64_t slides;     /* of the --lines contexts */
    size_t cache_bytes;  /* their KV caches */
} Stats;

/* ---- input -------------------------------------------------------------- */

static uint8_t *read_all(FILE *f, const char *name, size_t *n)
{
    size_t cap = 1 << 16, used = 0;
    uint8_t *b = xmalloc(cap);
    for (;;) {
        size_t want = cap - used, got = fread(b + used, 1, want, f);
        used += got;
        /* a short count is the end (or an error): never read again, where a
         * terminal would wait for a second Ctrl-D */
        if (got < want) break;
        b = xrealloc(b, cap *= 2);
    }
    if (ferror(f)) cli_die("%s: read error: %s", name, strerror(errno));
    *n = used;
    return b;
}

static FILE *open_input(const char *path)
{
    if (!strcmp(path, "-")) return stdin;
    FILE *f = fopen(path, "rb");
    if (!f) cli_die("%s: %s", path, strerror(errno));
    return f;
}

static uint8_t *read_file(const char *path, size_t *n)
{
    FILE *f = open_input(path);
    uint8_t *b = read_all(f, f == stdin ? "stdin" : path, n);
    if (f != stdin) fclose(f);
    return b;
}

/* --score reads text: a token stream is refused rather than scored as
 * the bytes of its binary form. */
static void refuse_token_stream(const char *path, const uint8_t *b, size_t n)
{
    int in = !strcmp(path, "-");
    if (n >= 8 && !memcmp(b, TOKSTREAM_MAGIC, 8))
        cli_die("%s: an l1b token stream, not text; --score reads text (decode it first: l1b-tokenize --decode%s%s)",
                in ? "stdin" : path, in ? "" : " ", in ? "" : path);
}

/* The next line without its newline, or -1 at the end of input. */
static ssize_t next_line(FILE *in, char **line, size_t *cap)
{
    if (feof(in)) return -1;  /* one Ctrl-D ends it, even on a libc that reads again */
    ssize_t len = getline(line, cap, in);
    if (len > 0 && (*line)[len - 1] == '\n') len--;
    return len;
}

/* ---- scoring ------------------------------------------------------------ */

static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 0x20) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

static void score(Infer *m, Session *s, const Options *o, char **files, int n_files, Stats *st)
{
    size_t n = 0;
    uint8_t *text = NULL;
    if (!n_files) {
        text = read_all(stdin, "stdin", &n);
        refuse_token_stream("-", text, n);
    } else {
        for (int i = 0; i < n_files; i++) {
            size_t k;
            uint8_t *part = read_file(files[i], &k);
            refuse_token_stream(files[i], part, k);
            text = xrealloc(text, n + k + 1);
            memcpy(text + n, part, k);
            n += k;
            free(part);
        }
    }
    double t0 = now_seconds();
    size_t n_ids;
    uint16_t *ids = encode_text(m, text, n, &n_ids);
    if (!n_ids) cli_die("nothing to score: empty input");
    if (o->logprobs) logprob_header();
    double nats = 0;
    /* token i is predicted from the logits after the one before it (the
     * end-of-document token for the first): the model runs on the text
     * shifted by one, a block of tokens at a time */
    size_t V = m->cfg.vocab;
    float *logits = xmalloc(INFER_BLOCK * V * sizeof *logits);
    uint16_t *in = xmalloc(n_ids * sizeof *in);
    in[0] = TOK_EOD;
    memcpy(in + 1, ids, (n_ids - 1) * sizeof *in);
    for (size_t at = 0; at < n_ids; at += INFER_BLOCK) {
        size_t k = n_ids - at < INFER_BLOCK ? n_ids - at : INFER_BLOCK;
        session_feed_all(s, in + at, k, logits);
        for (size_t i = 0; i < k; i++) {
            double lp = token_logprob(logits + i * V, (uint32_t)V, ids[at + i]);
            nats -= lp;
            if (o->logprobs) logprob_row(at + i, &m->tok, ids[at + i], lp);
        }
    }
    free(in);
    free(logits);
    st->tokens = n_ids;
    st->seconds = now_seconds() - t0;
    double loss = nats / (double)n_ids, bpb = nats / (log(2.0) * (double)n);
    if (o->json) {
        printf("{\"file\": ");
        if (n_files <= 1) {
            json_string(n_files ? files[0] : "-");
        } else {
            for (int i = 0; i < n_files; i++) printf(i ? ", " : "["), json_string(files[i]);
            printf("]");
        }
        printf(", \"tokens\": %zu, \"bytes\": %zu, \"loss\": %.6f, \"ppl\": %.6f, \"bpb\": %.6f}\n", n_ids, n,
               loss, exp(loss), bpb);
    } else if (!o->logprobs) {
        printf("loss %.4f  ppl %.3f  bpb %.4f  tokens %zu  bytes %zu\n", loss, exp(loss), bpb, n_ids, n);
    }
    free(ids);
    free(text);
}

/* ---- generating ---------------------------------------------------------- */

/* A new context: the end-of-document token, so that the text is read as the
 * beginning of a document, then the text; *n_fed its token count. */
static const float *start_context(Session *s, Sampler *sp, const uint8_t *text, size_t n, size_t *n_fed)
{
    session_reset(s);
    sampler_forget(sp);
    const float *logits = feed_token(s, sp, TOK_EOD);
    return feed_text(s, sp, text, n, logits, n_fed);
}

/* One prompt (stdin, -i or -f), one continuation. */
static void generate_once(Session *s, Sampler *sp, Gen *g, const Options *o, Out *out, Stats *st)
{
    size_t n;
    uint8_t *prompt;
    if (o->input) {
        n = strlen(o->input);
        prompt = xmalloc(n + 1);
        memcpy(prompt, o->input, n);
    } else {
        prompt = read_file(o->file ? o->file : "-", &n);
    }
    if (!o->raw && n && prompt[n - 1] == '\n') n--;
    double t0 = now_seconds();  /* the prompt is read: waiting for it is not counted */
    size_t n_ids;
    const float *logits = start_context(s, sp, prompt, n, &n_ids);
    if (o->logprobs) logprob_header();
    else if (o->echo) out_bytes(out, prompt, n);
    gen_continue(g, s, sp, logits, out, n_ids);
    if (out->stream && !o->logprobs) out_bytes(out, (const uint8_t *)"\n", 1);
    out_flush(out);
    st->seconds = now_seconds() - t0;
    free(prompt);
}

/* ---- --lines ------------------------------------------------------------ */

/* The lines of the input, read with read(2) so that what has arrived can
 * be told from what has not: a batch takes only the lines already there,
 * and a program that writes a line and waits for its answer gets it. */
typedef struct {
    int fd;
    const char *name;
    char *buf;
    size_t start, end, cap;
    int eof;
} Lines;

/* Read once more: waiting for input, or only if some is there already. */
static void lines_read(Lines *L, int wait)
{
    if (L->eof) return;
    if (!wait) {
        struct pollfd p = {L->fd, POLLIN, 0};
        if (poll(&p, 1, 0) <= 0) return;
    }
    if (L->start > 0 && L->start == L->end) L->start = L->end = 0;
    if (L->end == L->cap) {
        if (L->start > 0) {
            memmove(L->buf, L->buf + L->start, L->end - L->start);
            L->end -= L->start;
            L->start = 0;
        } else {
            L->buf = xrealloc(L->buf, L->cap = 2 * L->cap + 4096);
        }
    }
    ssize_t got;
    do got = read(L->fd, L->buf + L->end, L->cap - L->end);
    while (got < 0 && errno == EINTR);
    if (got < 0) cli_die("%s: read error: %s", L->name, strerror(errno));
    /* one Ctrl-D (a read of 0) ends the input, even on a terminal */
    if (got == 0) L->eof = 1;
    L->end += (size_t)got;
}

/* The next line without its newline: 1, or 0 at the end of the input, or
 * -1 when none has arrived yet and wait is 0. The line stays valid until
 * the next call. */
static int lines_next(Lines *L, int wait, char **line, size_t *len)
{
    for (;;) {
        char *nl = L->end > L->start ? memchr(L->buf + L->start, '\n', L->end - L->start) : NULL;
        if (nl || (L->eof && L->start < L->end)) {
            *line = L->buf + L->start;
            *len = nl ? (size_t)(nl - *line) : L->end - L->start;
            L->start += *len + (nl != NULL);
            return 1;
        }
        if (L->eof) return 0;
        size_t had = L->end;
        lines_read(L, wait);
        if (!wait && L->end == had && !L->eof) return -1;
    }
}

/* One prompt being answered: its own context (KV cache), sampler and
 * continuation, the answer kept until the lines before it are written. */
typedef struct {
    Session s;
    Sampler sp;
    Gen g;
    Out out;
    float *logits;     /* (V) after the prompt, or a row of the batch's */
    uint64_t line_no;  /* from 1 */
    int busy;
} Slot;

/* an answer that is done, waiting for the ones before it */
typedef struct {
    uint64_t line_no;
    uint8_t *text;
    size_t n;
} Answer;

/* --lines: each line a fresh context and one output line. Up to batch
 * lines are answered at once, in lockstep: each step runs the next token
 * of every one as one matrix product (session_feed_batch). Line k is
 * sampled with seed -s + k - 1, so every answer is the one the line gets
 * alone, whatever the batch. Answers are written in input order. */
static void generate_lines(Infer *m, const Gen *tmpl, const Options *o, Stats *st)
{
    Lines L = {STDIN_FILENO, "stdin", NULL, 0, 0, 0, 0};
    if (o->file && strcmp(o->file, "-")) {
        L.fd = open(o->file, O_RDONLY);
        if (L.fd < 0) cli_die("%s: %s", o->file, strerror(errno));
        L.name = o->file;
    }
    size_t N = o->batch, V = m->cfg.vocab, n_slots = 0, busy = 0;
    Slot *slot = xcalloc(N, sizeof *slot);
    Session **going = xmalloc(N * sizeof *going);
    Slot **going_slot = xmalloc(N * sizeof *going_slot);
    int *next_tok = xmalloc(N * sizeof *next_tok);
    float *logits = xmalloc(N * V * sizeof *logits);
    Session **new_s = xmalloc(N * sizeof *new_s);
    Slot **new_slot = xmalloc(N * sizeof *new_slot);
    uint16_t **new_ids = xmalloc(N * sizeof *new_ids);
    size_t *new_len = xmalloc(N * sizeof *new_len), n_new = 0;
    Answer *done = NULL;
    size_t n_done = 0, cap_done = 0;
    uint64_t line_no = 0, written = 0;
    double t0 = now_seconds(), waited = 0;
    for (;;) {
        /* new lines into free slots: those already there, or, when nothing
         * is being answered, the next one, waiting for it */
        for (size_t i = 0; i < N && !L.eof; i++) {
            Slot *sl = &slot[i];
            if (sl->busy) continue;
            char *line;
            size_t len;
            double w0 = now_seconds();
            int got = lines_next(&L, busy == 0, &line, &len);
            if (busy == 0) waited += now_seconds() - w0;
            if (got <= 0) break;
            if (i >= n_slots) {
                session_init_cache(&sl->s, m);
                sampler_init(&sl->sp, (uint32_t)V, o->temperature, o->top_k, o->top_p, 0);
                sampler_set_min_p(&sl->sp, o->min_p);
                if (o->repeat_penalty != 1.0f) sampler_set_repeat_penalty(&sl->sp, o->repeat_penalty, o->repeat_last);
                sl->g = *tmpl;
                sl->g.pending = NULL;
                sl->g.cap = 0;
                sl->g.generated = 0;
                sl->out.to_mem = 1;
                sl->logits = xmalloc(V * sizeof *sl->logits);
                n_slots = i + 1;
            }
            sl->line_no = ++line_no;
            rng_seed(&sl->sp.rng, o->seed + line_no - 1);
            sl->out.n_mem = 0;
            if (o->echo) out_bytes(&sl->out, (const uint8_t *)line, len);
            /* a fresh context: the end-of-document token, then the line */
            session_reset(&sl->s);
            sampler_forget(&sl->sp);
            size_t n_ids;
            uint16_t *ids = encode_text(m, (const uint8_t *)line, len, &n_ids);
            for (size_t k = 0; k < n_ids; k++) sampler_accept(&sl->sp, ids[k]);
            new_ids[n_new] = xmalloc((n_ids + 1) * sizeof **new_ids);
            new_ids[n_new][0] = TOK_EOD;
            memcpy(new_ids[n_new] + 1, ids, n_ids * sizeof *ids);
            new_len[n_new] = n_ids + 1;
            free(ids);
            new_s[n_new] = &sl->s;
            new_slot[n_new++] = sl;
            gen_begin(&sl->g);
            sl->busy = 1;
            busy++;
        }
        /* their prompts together, in blocks across the lines */
        if (n_new) {
            session_feed_prompts(new_s, (const uint16_t *const *)new_ids, new_len, n_new, logits);
            for (size_t k = 0; k < n_new; k++) {
                memcpy(new_slot[k]->logits, logits + k * V, V * sizeof *logits);
                free(new_ids[k]);
            }
            n_new = 0;
        }
        if (!busy) break;
        /* a step of every answer: those that go on run their next token
         * together */
        size_t n_going = 0;
        for (size_t i = 0; i < n_slots; i++) {
            Slot *sl = &slot[i];
            if (!sl->busy) continue;
            uint32_t next;
            GenEnd why;
            if (gen_step(&sl->g, &m->tok, (uint32_t)V, &sl->sp, sl->logits, &sl->out, 0, &next, &why)) {
                sampler_accept(&sl->sp, next);
                going[n_going] = &sl->s;
                going_slot[n_going] = sl;
                next_tok[n_going++] = (int)next;
                continue;
            }
            out_bytes(&sl->out, (const uint8_t *)"\n", 1);
            if (n_done == cap_done) done = xrealloc(done, (cap_done = 2 * cap_done + 8) * sizeof *done);
            done[n_done].line_no = sl->line_no;
            done[n_done].n = sl->out.n_mem;
            done[n_done].text = xmalloc(sl->out.n_mem + 1);
            memcpy(done[n_done++].text, sl->out.mem, sl->out.n_mem);
            sl->busy = 0;
            busy--;
        }
        /* the answers whose turn has come */
        for (int again = 1; again;) {
            again = 0;
            for (size_t k = 0; k < n_done; k++)
                if (done[k].line_no == written + 1) {
                    fwrite(done[k].text, 1, done[k].n, stdout);
                    free(done[k].text);
                    done[k] = done[--n_done];
                    written++;
                    again = 1;
                    break;
                }
        }
        fflush(stdout);  /* a line-by-line pipeline (a coprocess) waits for it */
        if (n_going) {
            session_feed_batch(going, next_tok, n_going, logits);
            for (size_t k = 0; k < n_going; k++) memcpy(going_slot[k]->logits, logits + k * V, V * sizeof *logits);
        }
    }
    st->seconds += now_seconds() - t0 - waited;
    st->cache_bytes = n_slots * m->cache_bytes;
    for (size_t i = 0; i < n_slots; i++) {
        st->tokens += slot[i].g.generated;
        st->slides += slot[i].s.slides;
        session_free(&slot[i].s);
        sampler_free(&slot[i].sp);
        free(slot[i].g.pending);
        free(slot[i].out.mem);
        free(slot[i].logits);
    }
    free(slot);
    free(going);
    free(going_slot);
    free(next_tok);
    free(logits);
    free(new_s);
    free(new_slot);
    free(new_ids);
    free(new_len);
    free(done);
    free(L.buf);
    if (L.fd != STDIN_FILENO) close(L.fd);
}

/* -I: one conversation. Each line typed is appended to it and answered as
 * --lines answers; the answer and what ended it stay in the context: the
 * model's newline, or the stop string and a newline, or a newline after -n
 * tokens, or the end-of-document token. */
static void generate_interactive(Session *s, Sampler *sp, Gen *g, const Options *o, Out *out, Stats *st)
{
    int marker = isatty(STDIN_FILENO) && isatty(STDERR_FILENO);
    const uint8_t *nl = (const uint8_t *)"\n";
    size_t n = 0;  /* the text the conversation starts with: -i or -f, as it is */
    uint8_t *start = NULL;
    if (o->input) start = (uint8_t *)strdup(o->input), n = strlen(o->input);
    else if (o->file) start = read_file(o->file, &n);
    const float *logits = start_context(s, sp, start, n, NULL);
    free(start);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    for (;;) {
        if (marker) fputs("> ", stderr), fflush(stderr);
        if ((len = next_line(stdin, &line, &cap)) < 0) break;
        double t0 = now_seconds();
        logits = feed_text(s, sp, (const uint8_t *)line, (size_t)len, logits, NULL);
        if (o->echo) out_bytes(out, (const uint8_t *)line, (size_t)len);
        GenEnd why = gen_continue(g, s, sp, logits, out, 0);
        out_bytes(out, nl, 1);
        out_flush(out);
        size_t tok_len = 0;
        if (g->end_token >= 0 && g->end_token != TOK_EOD) tok_bytes(&s->m->tok, (uint32_t)g->end_token, &tok_len);
        if (why == END_EOD || ((why == END_NEWLINE || why == END_STOP) && g->n_tail == tok_len))
            logits = feed_token(s, sp, (uint32_t)g->end_token);  /* the model's own token */
        else if (why != END_LIMIT)
            logits = feed_text(s, sp, g->tail, g->n_tail, logits, NULL);
        if (why == END_STOP || why == END_LIMIT) logits = feed_text(s, sp, nl, 1, logits, NULL);
        st->seconds += now_seconds() - t0;
    }
    if (marker) fputc('\n', stderr);
    if (ferror(stdin)) cli_die("stdin: read error: %s", strerror(errno));
    free(line);
}

int main(int argc, char **argv)
{
    cli_start(argv[0]);
    Options o = {0};
    o.n_tokens = 256;
    o.temperature = 0.8f;
    o.top_p = 0.95f;
    o.repeat_penalty = 1.0f;
    o.repeat_last = 64;
    int seed_set = 0;
    Gen g;
    gen_init(&g);
    enum { O_GREEDY = 256, O_ECHO, O_RAW, O_LINES, O_BATCH, O_SCORE, O_EXACT, O_PROFILE, O_MIN_P, O_PENALTY, O_LAST, O_STOP,
           O_JSON, O_LOGPROBS };
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'}, {"input", required_argument, 0, 'i'},
        {"file", required_argument, 0, 'f'}, {"tokens", required_argument, 0, 'n'},
        {"temperature", required_argument, 0, 'T'}, {"top-k", required_argument, 0, 'k'},
        {"top-p", required_argument, 0, 'p'}, {"min-p", required_argument, 0, O_MIN_P},
        {"repeat-penalty", required_argument, 0, O_PENALTY}, {"repeat-last", required_argument, 0, O_LAST},
        {"greedy", no_argument, 0, O_GREEDY}, {"seed", required_argument, 0, 's'},
        {"stop", required_argument, 0, O_STOP}, {"echo", no_argument, 0, O_ECHO}, {"raw", no_argument, 0, O_RAW},
        {"lines", no_argument, 0, O_LINES}, {"batch", required_argument, 0, O_BATCH}, {"interactive", no_argument, 0, 'I'},
        {"score", no_argument, 0, O_SCORE}, {"json", no_argument, 0, O_JSON},
        {"logprobs", no_argument, 0, O_LOGPROBS}, {"exact", no_argument, 0, O_EXACT},
        {"profile", no_argument, 0, O_PROFILE}, {"threads", required_argument, 0, 'j'},
        {"verbose", no_argument, 0, 'v'}, {"help", no_argument, 0, 'h'}, {"version", no_argument, 0, 'V'},
        {0, 0, 0, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "m:i:f:n:T:k:p:s:j:IvhV", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': o.model = optarg; break;
        case 'i': o.input = optarg; break;
        case 'f': o.file = optarg; break;
        case 'n': o.n_tokens = cli_uint("-n", optarg, 0, 1000000000000ull); break;
        case 'T': o.temperature = cli_float("-T", optarg, 0, 100); break;
        case 'k': o.top_k = (uint32_t)cli_uint("-k", optarg, 0, 65536); break;
        case 'p':
            o.top_p = cli_float("-p", optarg, 0, 1);
            if (o.top_p == 0) cli_usage_error("-p: '%s' is not a probability in (0, 1]", optarg);
            break;
        case O_MIN_P: o.min_p = cli_float("--min-p", optarg, 0, 1); break;
        case O_PENALTY:
            o.repeat_penalty = cli_float("--repeat-penalty", optarg, 0, 100);
            if (o.repeat_penalty == 0) cli_usage_error("--repeat-penalty: '%s' is not above 0", optarg);
            break;
        case O_LAST: o.repeat_last = (uint32_t)cli_uint("--repeat-last", optarg, 0, 1u << 20); break;
        case O_GREEDY: o.temperature = 0; break;
        case 's': o.seed = cli_uint("-s", optarg, 0, UINT64_MAX); seed_set = 1; break;
        case O_STOP:
            if (!*optarg) cli_usage_error("--stop: an empty string");
            gen_add_stop(&g, optarg);
            break;
        case O_ECHO: o.echo = 1; break;
        case O_RAW: o.raw = 1; break;
        case O_LINES: o.lines = 1; break;
        case O_BATCH: o.batch = (uint32_t)cli_uint("--batch", optarg, 1, 1024); break;
        case 'I': o.interactive = 1; break;
        case O_SCORE: o.score = 1; break;
        case O_JSON: o.json = 1; break;
        case O_LOGPROBS: o.logprobs = 1; break;
        case O_EXACT: o.exact = 1; break;
        case O_PROFILE: o.profile = 1; break;
        case 'j': o.threads = (int)cli_uint("-j", optarg, 1, 64); break;
        case 'v': o.verbose = 1; break;
        case 'h': usage(); return 0;
        case 'V': cli_version(); return 0;
        default: fprintf(stderr, "Try '%s --help'.\n", cli_progname()); return 2;
        }
    }
    if (!o.model) cli_usage_error("no model: -m MODEL is required");
    if (o.score && (o.lines || o.interactive || o.input || o.file || o.echo))
        cli_usage_error("--score takes no --lines, -I, -i, -f or --echo (its FILEs are arguments)");
    if (o.json && !o.score) cli_usage_error("--json goes with --score");
    if (o.json && o.logprobs) cli_usage_error("--json and --logprobs: one output or the other");
    if (o.logprobs && (o.lines || o.interactive)) cli_usage_error("--logprobs goes with --score or one prompt");
    if (o.lines && o.interactive) cli_usage_error("--lines and -I: one mode or the other");
    if (o.batch && !o.lines) cli_usage_error("--batch goes with --lines");
    if (o.input && o.file) cli_usage_error("-i and -f: one prompt or the other");
    if (o.lines && o.input) cli_usage_error("--lines reads prompts from stdin (or -f FILE); -i gives one prompt");
    if (o.interactive && o.file && !strcmp(o.file, "-")) cli_usage_error("-I reads the lines from stdin; -f - cannot give the conversation's start");
    if (!o.score && optind < argc) cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (!seed_set) o.seed = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;

    threads_init(o.threads);
    cli_profile_start(o.profile);
    double t0 = now_seconds();
    Infer m;
    if (infer_read(&m, o.model, o.exact ? INFER_EXACT : 0) < 0) cli_die_last();
    double t_load = now_seconds() - t0;
    Session s;
    session_init(&s, &m);
    Out out = {isatty(STDOUT_FILENO), {0}, 0, 0, NULL, 0, 0};
    Stats st = {0, 0, 0, 0};
    if (o.lines && !o.batch) {
        /* automatic: up to 64 lines at once, their caches within 64 MB */
        size_t fit = (size_t)64000000 / (m.cache_bytes ? m.cache_bytes : 1);
        o.batch = fit < 1 ? 1 : fit > 64 ? 64 : (uint32_t)fit;
    }

    if (o.score) {
        score(&m, &s, &o, argv + optind, argc - optind, &st);
    } else {
        if (o.verbose && !seed_set && o.temperature > 0)
            cli_warn("seed %llu (random; -s %llu gives the same text again)", (unsigned long long)o.seed,
                     (unsigned long long)o.seed);
        Sampler sp;
        sampler_init(&sp, m.cfg.vocab, o.temperature, o.top_k, o.top_p, o.seed);
        sampler_set_min_p(&sp, o.min_p);
        if (o.repeat_penalty != 1.0f) sampler_set_repeat_penalty(&sp, o.repeat_penalty, o.repeat_last);
        g.max_tokens = o.n_tokens;
        g.logprobs = o.logprobs;
        g.at_newline = o.lines || o.interactive;
        if (o.lines) generate_lines(&m, &g, &o, &st);
        else if (o.interactive) generate_interactive(&s, &sp, &g, &o, &out, &st);
        else generate_once(&s, &sp, &g, &o, &out, &st);
        st.tokens += g.generated;
        sampler_free(&sp);
    }
    out_flush(&out);
    if (ferror(stdout) || fflush(stdout) == EOF) cli_die("stdout: write error: %s", strerror(errno));
    if (o.verbose)
        cli_warn("loaded in %.2fs (weights %.1f MB, cache %.1f MB); %llu tokens %s in %.2fs, %.1f tokens/s; %llu context slides",
                 t_load, m.weight_bytes / 1e6, (m.cache_bytes + st.cache_bytes) / 1e6, (unsigned long long)st.tokens,
                 o.score ? "scored" : "generated", st.seconds, st.seconds > 0 ? st.tokens / st.seconds : 0.0,
                 (unsigned long long)(s.slides + st.slides));
    cli_profile_report();
    gen_free(&g);
    session_free(&s);
    infer_free(&m);
    return 0;
}
