/* l1b-tokenize: text in, token stream out (or back). See l1b-tokenize(1). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpe.h"
#include "ckpt.h"
#include "cli.h"
#include "pretok.h"
#include "progress.h"
#include "textscan.h"
#include "tokenizer.h"
#include "tokstream.h"
#include "util.h"

static void usage(void)
{
    printf("usage: l1b-tokenize [--bpe [--vocab N] | --tokenizer FILE] [--doc MODE] [--ids]\n"
           "                    [-f] [-o OUT] [-v | -q] [FILE...]\n"
           "       l1b-tokenize --decode [--ids [--tokenizer FILE]] [-o OUT] [FILE...]\n"
           "\n"
           "Turn text (the FILEs one after another, or stdin) into an l1b token stream,\n"
           "or a token stream back into the exact original bytes.\n"
           "\n"
           "  --bpe             learn a byte-level BPE vocabulary from the input itself\n"
           "  --vocab N         BPE vocabulary size, 257..65536 (default 1024)\n"
           "  --tokenizer FILE  reuse the vocabulary stored in FILE (a token stream\n"
           "                    or a model)\n"
           "  --doc MODE        documents end at each line, blank line or NUL:\n"
           "                    MODE is line, blank or nul; an end-of-document token\n"
           "                    follows each document\n"
           "  --ids             token ids as decimal text instead of a binary stream\n"
           "                    (output when encoding, input when decoding)\n"
           "  -d, --decode      token stream in, original bytes out\n"
           "  -o, --output OUT  write to OUT (atomically) instead of stdout\n"
           "  -f, --force       write a binary stream even to a terminal\n"
           "  -v, --verbose     report sizes and timing on stderr\n"
           "  -q, --quiet       no progress display\n"
           "  -h, --help        this help\n"
           "  -V, --version     version and SIMD level\n");
    cli_help_footer();
}

typedef struct {
    int bpe, decode, ids, force, verbose, quiet, doc;
    uint32_t vocab;
    const char *tokenizer, *output;
    char **files;
    int n_files;
} Options;

/* ---- writing tokens: binary stream or decimal text -------------------- */

typedef struct {
    OutFile out;
    TokWriter w;
    int ids;              /* text mode */
    int line_open;        /* text mode: something on the current line */
    uint64_t n_tokens, n_eod;
} Sink;

static int sink_put(Sink *s, const uint16_t *ids, size_t n)
{
    s->n_tokens += n;
    if (!s->ids) {
        for (size_t i = 0; i < n; i++) s->n_eod += ids[i] == TOK_EOD;
        return tokw_put(&s->w, ids, n);
    }
    char buf[16];
    for (size_t i = 0; i < n; i++) {
        int k = snprintf(buf, sizeof buf, s->line_open ? " %u" : "%u", ids[i]);
        s->line_open = 1;
        if (ids[i] == TOK_EOD) buf[k++] = '\n', s->line_open = 0, s->n_eod++;
        if (outfile_write(&s->out, buf, (size_t)k) < 0) return -1;
    }
    return 0;
}

static int sink_finish(Sink *s)
{
    int rc = 0;
    if (s->ids) rc = s->line_open ? outfile_write(&s->out, "\n", 1) : 0;
    else rc = tokw_end(&s->w);
    if (rc < 0) {
        outfile_abort(&s->out);
        return -1;
    }
    return outfile_commit(&s->out);
}

/* ---- encoding --------------------------------------------------------- */

static void merges_progress(uint32_t done, uint32_t total, void *ctx)
{
    progress_update(ctx, "learning merges: %u/%u", done, total);
}

static int count_pass(TextScanner *sc, BpeCounter *counter, Progress *pg)
{
    const uint8_t *piece;
    size_t len;
    int r;
    while ((r = scan_next(sc, &piece, &len)) != SCAN_END) {
        if (r < 0) return -1;
        if (r == SCAN_PIECE) bpe_counter_add(counter, piece, len);
        progress_update(pg, "counting: %.1f MB read, %zu distinct pre-tokens",
                        sc->in->bytes / 1e6, bpe_counter_words(counter));
    }
    return 0;
}

static int encode_pass(TextScanner *sc, Tokenizer *tok, Sink *sink, Progress *pg)
{
    uint16_t ids[8192];
    size_t n = 0;
    const uint8_t *piece;
    size_t len;
    int r;
    while ((r = scan_next(sc, &piece, &len)) != SCAN_END) {
        if (r < 0) return -1;
        if (n + PRETOK_MAX > sizeof ids / sizeof ids[0]) {
            if (sink_put(sink, ids, n) < 0) return -1;
            n = 0;
            progress_update(pg, "encoding: %.1f MB read", sc->in->bytes / 1e6);
        }
        if (r == SCAN_EOD) ids[n++] = TOK_EOD;
        else n += tok_encode_piece(tok, piece, len, ids + n);
    }
    return sink_put(sink, ids, n);
}

static int encode(const Options *o)
{
    Progress pg;
    progress_init(&pg, o->verbose, o->quiet);
    double t0 = now_seconds();
    Tokenizer tok;
    if (o->tokenizer) {
        if (tokenizer_from_file(o->tokenizer, &tok) < 0) return -1;
    } else if (!o->bpe) {
        tok_init_bytes(&tok);
    }

    TextInput in;
    if (textin_open(&in, o->files, o->n_files, o->bpe) < 0) {
        if (!o->bpe) tok_free(&tok);
        return -1;
    }
    TextScanner sc;
    scan_init(&sc, &in, o->doc);
    Sink sink;
    memset(&sink, 0, sizeof sink);
    sink.ids = o->ids;
    int rc = -1, out_open = 0, have_tok = !o->bpe;

    if (o->bpe) {
        BpeCounter *counter = bpe_counter_new();
        rc = count_pass(&sc, counter, &pg);
        if (rc == 0) {
            uint64_t bytes = in.bytes;
            size_t words = bpe_counter_words(counter);
            bpe_learn(counter, o->vocab - TOK_FIRST_MERGE, &tok, merges_progress, &pg);
            have_tok = 1;
            progress_line(&pg, "learned %u merges from %llu bytes (%zu distinct pre-tokens%s) in %.1fs",
                          tok.n_merges, (unsigned long long)bytes, words,
                          bpe_counter_prunes(counter) ? ", rarest pruned" : "", now_seconds() - t0);
            rc = textin_rewind(&in);
            scan_free(&sc);
            scan_init(&sc, &in, o->doc);
        }
        bpe_counter_free(counter);
    }
    if (rc == 0 || !o->bpe) {
        rc = outfile_open(&sink.out, o->output);
        out_open = rc == 0;
        if (rc == 0 && !o->ids) rc = tokw_begin(&sink.w, &sink.out, &tok);
        if (rc == 0) rc = encode_pass(&sc, &tok, &sink, &pg);
        if (rc == 0) {
            out_open = 0;
            rc = sink_finish(&sink);
        }
    }
    if (out_open) outfile_abort(&sink.out);
    if (rc == 0)
        progress_line(&pg, "%llu bytes -> %llu tokens (%.3f bytes/token, %llu end-of-document), "
                      "vocabulary %u, %.1fs",
                      (unsigned long long)in.bytes, (unsigned long long)sink.n_tokens,
                      sink.n_tokens ? (double)in.bytes / (double)sink.n_tokens : 0.0,
                      (unsigned long long)sink.n_eod, tok.n_vocab, now_seconds() - t0);
    else
        progress_clear(&pg);
    scan_free(&sc);
    textin_close(&in);
    if (have_tok) tok_free(&tok);
    return rc;
}

/* ---- decoding --------------------------------------------------------- */

static int write_tokens(OutFile *out, const Tokenizer *tok, const uint16_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const uint8_t *b = tok_bytes(tok, ids[i], &len);
        if (len && outfile_write(out, b, len) < 0) return -1;
    }
    return 0;
}

static int decode_stream(int fd, const char *name, OutFile *out)
{
    TokReader r;
    if (tokr_open(&r, fd, name) < 0) return -1;
    uint16_t ids[8192];
    long n;
    while ((n = tokr_read(&r, ids, sizeof ids / sizeof ids[0])) > 0)
        if (write_tokens(out, &r.tok, ids, (size_t)n) < 0) { n = -1; break; }
    tokr_close(&r);
    return n < 0 ? -1 : 0;
}

/* Decimal ids separated by white space. */
static int decode_ids(int fd, const char *name, const Tokenizer *tok, OutFile *out)
{
    uint8_t buf[1 << 16];
    uint16_t ids[4096];
    size_t n_ids = 0;
    uint64_t value = 0, line = 1;
    int in_number = 0;
    long long got;
    int at_end = 0;
    /* a short read is the end of input: never read again (a terminal would
     * wait for a second Ctrl-D) */
    while (!at_end && (got = read_full(fd, buf, sizeof buf, name)) > 0) {
        at_end = (size_t)got < sizeof buf;
        for (long long i = 0; i < got; i++) {
            uint8_t c = buf[i];
            if (c >= '0' && c <= '9') {
                value = value * 10 + (c - '0');
                in_number = 1;
                if (value >= tok->n_vocab)
                    return l1b_error("%s: line %llu: id out of range (vocabulary %u)", name,
                                     (unsigned long long)line, tok->n_vocab);
                continue;
            }
            if (!isspace(c))
                return l1b_error("%s: line %llu: not a token id (byte 0x%02x)", name,
                                 (unsigned long long)line, c);
            if (in_number) ids[n_ids++] = (uint16_t)value;
            in_number = 0;
            value = 0;
            line += c == '\n';
            if (n_ids == sizeof ids / sizeof ids[0]) {
                if (write_tokens(out, tok, ids, n_ids) < 0) return -1;
                n_ids = 0;
            }
        }
    }
    if (got < 0) return -1;
    if (in_number) ids[n_ids++] = (uint16_t)value;
    return write_tokens(out, tok, ids, n_ids);
}

static int decode(const Options *o)
{
    Tokenizer tok;
    if (o->ids) {
        if (o->tokenizer ? tokenizer_from_file(o->tokenizer, &tok) < 0 : (tok_init_bytes(&tok), 0)) return -1;
    }
    OutFile out;
    int rc = outfile_open(&out, o->output);
    int n = o->n_files ? o->n_files : 1;
    for (int i = 0; rc == 0 && i < n; i++) {
        const char *path = o->n_files ? o->files[i] : "-";
        int is_stdin = !strcmp(path, "-");
        int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY);
        const char *name = is_stdin ? "stdin" : path;
        if (fd < 0) {
            rc = l1b_error("%s: %s", path, strerror(errno));
            break;
        }
        rc = o->ids ? decode_ids(fd, name, &tok, &out) : decode_stream(fd, name, &out);
        if (!is_stdin) close(fd);
    }
    if (o->ids) tok_free(&tok);
    if (rc == 0) return outfile_commit(&out);
    if (out.buf) outfile_abort(&out);
    return -1;
}

/* ---- main ------------------------------------------------------------- */

int main(int argc, char **argv)
{
    cli_start(argv[0]);
    Options o;
    memset(&o, 0, sizeof o);
    o.vocab = 1024;
    int vocab_given = 0;
    enum { OPT_BPE = 256, OPT_VOCAB, OPT_TOKENIZER, OPT_DOC, OPT_IDS };
    static const struct option longopts[] = {
        {"bpe", no_argument, 0, OPT_BPE},
        {"vocab", required_argument, 0, OPT_VOCAB},
        {"tokenizer", required_argument, 0, OPT_TOKENIZER},
        {"doc", required_argument, 0, OPT_DOC},
        {"ids", no_argument, 0, OPT_IDS},
        {"decode", no_argument, 0, 'd'},
        {"output", required_argument, 0, 'o'},
        {"force", no_argument, 0, 'f'},
        {"verbose", no_argument, 0, 'v'},
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},
        {0, 0, 0, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "do:fvqhV", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_BPE: o.bpe = 1; break;
        case OPT_VOCAB:
            o.vocab = (uint32_t)cli_uint("--vocab", optarg, TOK_FIRST_MERGE, TOK_MAX_VOCAB);
            vocab_given = 1;
            break;
        case OPT_TOKENIZER: o.tokenizer = optarg; break;
        case OPT_DOC:
            if (doc_mode_parse(optarg, &o.doc) < 0)
                cli_usage_error("--doc: '%s' is not line, blank or nul", optarg);
            break;
        case OPT_IDS: o.ids = 1; break;
        case 'd': o.decode = 1; break;
        case 'o': o.output = optarg; break;
        case 'f': o.force = 1; break;
        case 'v': o.verbose = 1; break;
        case 'q': o.quiet = 1; break;
        case 'h': usage(); return 0;
        case 'V': cli_version(); return 0;
        default: fprintf(stderr, "Try '%s --help'.\n", cli_progname()); return 2;
        }
    }
    o.files = argv + optind;
    o.n_files = argc - optind;

    if (o.bpe && o.tokenizer) cli_usage_error("--bpe and --tokenizer exclude each other");
    if (vocab_given && !o.bpe) cli_usage_error("--vocab needs --bpe");
    if (o.decode && (o.bpe || o.doc)) cli_usage_error("--decode takes no --bpe or --doc");
    if (o.decode && o.tokenizer && !o.ids)
        cli_usage_error("--decode reads the tokenizer from the stream; --tokenizer goes with --ids");
    if (!o.decode && !o.ids && !o.force && (!o.output || !strcmp(o.output, "-")) &&
        isatty(STDOUT_FILENO))
        cli_die("refusing to write a binary token stream to a terminal (use -o FILE, a pipe, or -f)");

    if (output_check(o.output) < 0) cli_die_last();  /* before reading any input */
    if ((o.decode ? decode(&o) : encode(&o)) < 0) cli_die_last();
    return 0;
}
