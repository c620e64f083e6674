/* l1b-sample: prompt on stdin, text on stdout. See l1b-sample(1). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "infer.h"
#include "profile.h"
#include "sampler.h"
#include "threads.h"
#include "util.h"

static void usage(void)
{
    printf("usage: l1b-sample -m MODEL [-i TEXT] [-n N] [-T TEMP] [-k K] [-p P] [--greedy]\n"
           "                  [-s SEED] [--echo] [--raw] [--lines] [--exact] [-j N] [-v]\n"
           "       l1b-sample -m MODEL --score [FILE...]\n"
           "\n"
           "Continue the prompt (stdin, or -i TEXT) with text from the model, or with\n"
           "--score report how well the model predicts the input.\n"
           "\n"
           "  -m, --model MODEL      model file (l1b-train checkpoint)\n"
           "  -i, --input TEXT       prompt text instead of stdin\n"
           "  -n, --tokens N         tokens to generate (default 256)\n"
           "  -T, --temperature T    sampling temperature; 0 is greedy (default 0.8)\n"
           "  -k, --top-k K          sample from the K most likely tokens; 0: all (default 0)\n"
           "  -p, --top-p P          sample from the smallest set of probability P (default 0.95)\n"
           "      --greedy           always the most likely token (same as -T 0)\n"
           "  -s, --seed N           random seed (default: from the clock)\n"
           "      --echo             print the prompt before the continuation\n"
           "      --raw              keep the prompt's trailing newline (dropped by default)\n"
           "      --lines            every input line is a prompt; one output line each\n"
           "      --score            print loss, perplexity and bits per byte of the input\n"
           "      --exact            float embeddings, head and KV cache (default int8):\n"
           "                         logits as in training, about twice the memory\n"
           "  -j, --threads N        threads (default: all cores)\n"
           "  -v, --verbose          report speed and memory on stderr\n"
           "      --profile          time per kernel category at exit (as L1B_PROFILE=1)\n"
           "  -h, --help             this help\n"
           "  -V, --version          version and SIMD level\n");
}

typedef struct {
    const char *model, *input;
    uint64_t n_tokens, seed;
    float temperature, top_p;
    uint32_t top_k;
    int echo, raw, lines, score, exact, verbose, threads, profile;
} Options;

/* ---- output: whole UTF-8 characters, streamed on a terminal ------------ */

typedef struct {
    int stream;        /* flush after every token */
    uint8_t held[4];   /* the start of an unfinished UTF-8 character */
    size_t n_held;
} Out;

/* bytes a UTF-8 sequence starting with b needs (1 for anything else) */
static size_t utf8_len(uint8_t b) { return b >= 0xF0 && b < 0xF8 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1; }

static void out_flush(Out *o)
{
    if (o->n_held) fwrite(o->held, 1, o->n_held, stdout);
    o->n_held = 0;
    fflush(stdout);
}

static void out_bytes(Out *o, const uint8_t *b, size_t n)
{
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

/* ---- prompts ---------------------------------------------------------- */

static uint8_t *read_all(FILE *f, const char *name, size_t *n)
{
    size_t cap = 1 << 16, used = 0;
    uint8_t *b = xmalloc(cap);
    size_t got;
    while ((got = fread(b + used, 1, cap - used, f)) > 0)
        if ((used += got) == cap) b = xrealloc(b, cap *= 2);
    if (ferror(f)) cli_die("%s: read error: %s", name, strerror(errno));
    *n = used;
    return b;
}

static uint16_t *encode(Infer *m, const uint8_t *text, size_t n, size_t *n_ids)
{
    uint16_t *ids = xmalloc((n + 1) * sizeof *ids);
    *n_ids = tok_encode_text(&m->tok, text, n, ids);
    return ids;
}

/* Continue text; stop at n tokens, end of document, or (stop_at_newline)
 * a newline, which is not printed. */
static void generate(Infer *m, Session *s, Sampler *sp, const uint8_t *prompt, size_t n, const Options *o, Out *out,
                     int stop_at_newline, uint64_t *generated)
{
    size_t n_ids;
    uint16_t *ids = encode(m, prompt, n, &n_ids);
    session_reset(s);
    const float *logits = session_feed(s, TOK_EOD);  /* an empty prompt starts a document */
    if (n_ids) logits = session_feed_many(s, ids, n_ids);
    free(ids);
    if (o->echo) out_bytes(out, prompt, n);
    for (uint64_t t = 0; t < o->n_tokens; t++) {
        uint32_t next = sampler_pick(sp, logits);
        if (next == TOK_EOD) break;
        size_t len;
        const uint8_t *b = tok_bytes(&m->tok, next, &len);
        if (stop_at_newline) {
            const uint8_t *nl = memchr(b, '\n', len);
            if (nl) {
                out_bytes(out, b, (size_t)(nl - b));
                break;
            }
        }
        out_bytes(out, b, len);
        (*generated)++;
        logits = session_feed(s, (int)next);
    }
}

static int score(Infer *m, Session *s, const uint8_t *text, size_t n, uint64_t *scored)
{
    size_t n_ids;
    uint16_t *ids = encode(m, text, n, &n_ids);
    if (!n_ids) {
        free(ids);
        return l1b_error("nothing to score: empty input");
    }
    double nats = 0;
    const float *logits = session_feed(s, TOK_EOD);
    uint32_t V = m->cfg.vocab;
    for (size_t i = 0; i < n_ids; i++) {
        float maxv = logits[argmax(logits, V)];
        double sum = 0;
        for (uint32_t k = 0; k < V; k++) sum += exp((double)logits[k] - maxv);
        nats += log(sum) - ((double)logits[ids[i]] - maxv);
        if (i + 1 < n_ids) logits = session_feed(s, ids[i]);
    }
    *scored = n_ids;
    double loss = nats / (double)n_ids;
    printf("loss %.4f  ppl %.3f  bpb %.4f  tokens %zu  bytes %zu\n", loss, exp(loss), nats / (log(2.0) * (double)n),
           n_ids, n);
    free(ids);
    return 0;
}

int main(int argc, char **argv)
{
    cli_start(argv[0]);
    Options o = {0};
    o.n_tokens = 256;
    o.temperature = 0.8f;
    o.top_p = 0.95f;
    int seed_set = 0;
    enum { O_GREEDY = 256, O_ECHO, O_RAW, O_LINES, O_SCORE, O_EXACT, O_PROFILE };
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'}, {"input", required_argument, 0, 'i'},
        {"tokens", required_argument, 0, 'n'}, {"temperature", required_argument, 0, 'T'},
        {"top-k", required_argument, 0, 'k'}, {"top-p", required_argument, 0, 'p'},
        {"greedy", no_argument, 0, O_GREEDY}, {"seed", required_argument, 0, 's'},
        {"echo", no_argument, 0, O_ECHO}, {"raw", no_argument, 0, O_RAW}, {"lines", no_argument, 0, O_LINES},
        {"score", no_argument, 0, O_SCORE}, {"exact", no_argument, 0, O_EXACT}, {"profile", no_argument, 0, O_PROFILE}, {"threads", required_argument, 0, 'j'},
        {"verbose", no_argument, 0, 'v'}, {"help", no_argument, 0, 'h'}, {"version", no_argument, 0, 'V'},
        {0, 0, 0, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "m:i:n:T:k:p:s:j:vhV", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': o.model = optarg; break;
        case 'i': o.input = optarg; break;
        case 'n': o.n_tokens = cli_uint("-n", optarg, 0, 1000000000000ull); break;
        case 'T': o.temperature = cli_float("-T", optarg, 0, 100); break;
        case 'k': o.top_k = (uint32_t)cli_uint("-k", optarg, 0, 65536); break;
        case 'p':
            o.top_p = cli_float("-p", optarg, 0, 1);
            if (o.top_p == 0) cli_usage_error("-p: '%s' is not a probability in (0, 1]", optarg);
            break;
        case O_GREEDY: o.temperature = 0; break;
        case 's': o.seed = cli_uint("-s", optarg, 0, UINT64_MAX); seed_set = 1; break;
        case O_ECHO: o.echo = 1; break;
        case O_RAW: o.raw = 1; break;
        case O_LINES: o.lines = 1; break;
        case O_SCORE: o.score = 1; break;
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
    if (o.score && (o.lines || o.input || o.echo)) cli_usage_error("--score takes no --lines, -i or --echo");
    if (o.lines && o.input) cli_usage_error("--lines reads prompts from stdin; -i gives one prompt");
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
    Out out = {isatty(STDOUT_FILENO), {0}, 0};
    uint64_t generated = 0;
    double t_start = now_seconds();

    if (o.score) {
        size_t n = 0;
        uint8_t *text = NULL;
        if (optind == argc) {
            text = read_all(stdin, "stdin", &n);
        } else {
            for (int i = optind; i < argc; i++) {
                int is_stdin = !strcmp(argv[i], "-");
                FILE *f = is_stdin ? stdin : fopen(argv[i], "rb");
                if (!f) cli_die("%s: %s", argv[i], strerror(errno));
                size_t k;
                uint8_t *part = read_all(f, is_stdin ? "stdin" : argv[i], &k);
                if (!is_stdin) fclose(f);
                text = xrealloc(text, n + k + 1);
                memcpy(text + n, part, k);
                n += k;
                free(part);
            }
        }
        if (score(&m, &s, text, n, &generated) < 0) cli_die_last();
        free(text);
    } else if (o.lines) {
        Sampler sp;
        sampler_init(&sp, m.cfg.vocab, o.temperature, o.top_k, o.top_p, o.seed);
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        while ((len = getline(&line, &cap, stdin)) > 0) {
            if (line[len - 1] == '\n') len--;
            generate(&m, &s, &sp, (const uint8_t *)line, (size_t)len, &o, &out, 1, &generated);
            out_bytes(&out, (const uint8_t *)"\n", 1);
            out_flush(&out);  /* a line-by-line pipeline (a coprocess) waits for it */
        }
        free(line);
        sampler_free(&sp);
    } else {
        size_t n;
        uint8_t *prompt;
        if (o.input) {
            n = strlen(o.input);
            prompt = xmalloc(n + 1);
            memcpy(prompt, o.input, n);
        } else {
            prompt = read_all(stdin, "stdin", &n);
        }
        if (!o.raw && n && prompt[n - 1] == '\n') n--;
        Sampler sp;
        sampler_init(&sp, m.cfg.vocab, o.temperature, o.top_k, o.top_p, o.seed);
        generate(&m, &s, &sp, prompt, n, &o, &out, 0, &generated);
        if (out.stream) out_bytes(&out, (const uint8_t *)"\n", 1);
        sampler_free(&sp);
        free(prompt);
    }
    out_flush(&out);
    if (ferror(stdout) || fflush(stdout) == EOF) cli_die("stdout: write error: %s", strerror(errno));
    double dt = now_seconds() - t_start;
    if (o.verbose)
        cli_warn("loaded in %.2fs (weights %.1f MB, cache %.1f MB); %llu tokens %s in %.2fs, %.1f tokens/s; %llu context slides",
                 t_load, m.weight_bytes / 1e6, m.cache_bytes / 1e6, (unsigned long long)generated, o.score ? "scored" : "generated", dt,
                 dt > 0 ? generated / dt : 0.0,
                 (unsigned long long)s.slides);
    cli_profile_report();
    session_free(&s);
    infer_free(&m);
    return 0;
}
