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
#include "report.h"
#include "textscan.h"
#include "tokenizer.h"
#include "tokstream.h"
#include "util.h"

static void usage(void)
{
    printf("usage: l1b-tokenize [--bpe [--vocab N] [--sample-bytes N] | --tokenizer FILE]\n"
           "                    [--user-symbols LIST] [--doc MODE] [--ids | --pieces]\n"
           "                    [-f] [-o OUT] [-v | -q] [FILE...]\n"
           "       l1b-tokenize --decode [--ids [--tokenizer FILE]] [-o OUT] [FILE...]\n"
           "\n"
           "Turn text (the FILEs one after another, or stdin) into an l1b token stream,\n"
           "or a token stream back into the exact original bytes.\n"
           "\n"
           "  --bpe             learn a byte-level BPE vocabulary from the input itself\n"
           "  --vocab N         BPE vocabulary size, 257..65536 (default 1024), user\n"
           "                    symbols included\n"
           "  --sample-bytes N  learn BPE from the first N bytes only (k, M, G suffixes),\n"
           "                    then encode all of the input\n"
           "  --tokenizer FILE  reuse the vocabulary stored in FILE (a token stream\n"
           "                    or a model)\n"
           "  --doc MODE        documents end at each line, blank line or NUL:\n"
           "                    MODE is line, blank or nul; an end-of-document token\n"
           "                    follows each document\n"
           "  --user-symbols LIST  comma-separated strings that always stay one token\n"
           "                    (\\, for a comma, \\\\ \\n \\t \\xHH); repeatable\n"
           "  --ids             token ids as decimal text instead of a binary stream\n"
           "                    (output when encoding, input when decoding)\n"
           "  --pieces          tokens as text pieces (a space is \xe2\x96\x81), a line per\n"
           "                    line of input; l1b-ckpt vocab lists a vocabulary\n"
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
    int bpe, decode, ids, pieces, force, verbose, quiet, doc;
    uint32_t vocab;
    uint64_t sample_bytes;
    const char *tokenizer, *output;
    char **files;
    int n_files;
    /* user symbols, from --user-symbols */
    uint8_t **sym;
    size_t *sym_len;
    uint32_t n_sym;
} Options;

/* ---- writing tokens: binary stream or decimal text -------------------- */

typedef struct {
    OutFile out;
    TokWriter w;
    int ids;              /* text mode: ids */
    const Tokenizer *pieces;  /* text mode: pieces of this vocabulary */
    int line_open;        /* text mode: something on the current line */
    int line_done;        /* pieces: the last piece ended in a newline */
    char *spelt;          /* pieces: room for one piece spelt */
    uint64_t n_tokens, n_eod;
} Sink;

/* Pieces separated by a space; a line ends after <eod>, and before the
 * first piece that follows a piece ending in a newline. */
static int sink_put_pieces(Sink *s, const uint16_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *p = s->spelt;
        if (ids[i] == TOK_EOD) {
            s->n_eod++;
            if (s->line_open) *p++ = ' ';
            memcpy(p, "<eod>\n", 6);
            p += 6;
            s->line_open = s->line_done = 0;
        } else {
            if (s->line_done) *p++ = '\n', s->line_open = s->line_done = 0;
            if (s->line_open) *p++ = ' ';
            size_t len;
            const uint8_t *b = tok_bytes(s->pieces, ids[i], &len);
            escape_bytes(p, b, len);
            p += strlen(p);
            s->line_open = 1;
            s->line_done = len && b[len - 1] == '\n';
        }
        if (outfile_write(&s->out, s->spelt, (size_t)(p - s->spelt)) < 0) return -1;
    }
    return 0;
}

static int sink_put(Sink *s, const uint16_t *ids, size_t n)
{
    s->n_tokens += n;
    if (s->pieces) return sink_put_pieces(s, ids, n);
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
    if (s->ids || s->pieces) rc = s->line_open ? outfile_write(&s->out, "\n", 1) : 0;
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
        if (r == SCAN_PIECE && !sc->symbol) bpe_counter_add(counter, piece, len);
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
        else if (sc->symbol) ids[n++] = (uint16_t)sc->symbol;
        else n += tok_encode_piece(tok, piece, len, ids + n);
    }
    return sink_put(sink, ids, n);
}

static int encode(const Options *o)
{
    Progress pg;
    progress_init(&pg, o->verbose, o->quiet);
    double t0 = now_seconds();
    const uint8_t *const *sym = (const uint8_t *const *)o->sym;
    /* the tokenizer, or while BPE counts, the bytes and the user symbols */
    Tokenizer tok;
    if (o->tokenizer) {
        if (tokenizer_from_file(o->tokenizer, &tok) < 0) return -1;
    } else {
        tok_init_bytes(&tok);
        if (tok_add_symbols(&tok, sym, o->sym_len, o->n_sym, "--user-symbols") < 0) {
            tok_free(&tok);
            return -1;
        }
    }

    TextInput in;
    if (textin_open(&in, o->files, o->n_files, o->bpe) < 0) {
        tok_free(&tok);
        return -1;
    }
    if (o->sample_bytes) textin_limit(&in, o->sample_bytes);
    TextScanner sc;
    scan_init(&sc, &in, o->doc);
    scan_symbols(&sc, &tok);
    Sink sink;
    memset(&sink, 0, sizeof sink);
    sink.ids = o->ids;
    int rc = 0, out_open = 0;

    if (o->bpe) {
        BpeCounter *counter = bpe_counter_new();
        rc = count_pass(&sc, counter, &pg);
        if (rc == 0) {
            uint64_t bytes = in.bytes;
            size_t words = bpe_counter_words(counter);
            tok_free(&tok);
            bpe_learn(counter, o->vocab - TOK_FIRST_MERGE - o->n_sym, &tok, merges_progress, &pg);
            /* checked with the byte tokenizer already */
            if (tok_add_symbols(&tok, sym, o->sym_len, o->n_sym, "--user-symbols") < 0) abort();
            progress_line(&pg, "learned %u merges from %llu bytes (%zu distinct pre-tokens%s) in %.1fs",
                          tok.n_merges, (unsigned long long)bytes, words,
                          bpe_counter_prunes(counter) ? ", rarest pruned" : "", now_seconds() - t0);
            rc = textin_rewind(&in);
            scan_free(&sc);
            scan_init(&sc, &in, o->doc);
            scan_symbols(&sc, &tok);
        }
        bpe_counter_free(counter);
    }
    if (o->pieces) {
        sink.pieces = &tok;
        sink.spelt = xmalloc(4 * TOK_SYMBOL_MAX + 16);
    }
    if (rc == 0) {
        rc = outfile_open(&sink.out, o->output);
        out_open = rc == 0;
        if (rc == 0 && !o->ids && !o->pieces) rc = tokw_begin(&sink.w, &sink.out, &tok);
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
    tok_free(&tok);
    free(sink.spelt);
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

static int hex_digit(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Add the symbols of one --user-symbols LIST: comma-separated, with \,
 * \\ \n \t \r \xHH as escapes. Every mistake is a usage error. */
static void add_user_symbols(Options *o, const char *list)
{
    const char *p = list;
    for (;;) {
        uint8_t buf[TOK_SYMBOL_MAX + 1];
        size_t n = 0;
        for (; *p && *p != ','; p++) {
            int c = (unsigned char)*p;
            if (c == '\\') {
                c = (unsigned char)*++p;
                if (c == ',' || c == '\\') {
                } else if (c == 'n') c = '\n';
                else if (c == 't') c = '\t';
                else if (c == 'r') c = '\r';
                else if (c == 'x' && hex_digit(p[1]) >= 0 && hex_digit(p[2]) >= 0) c = hex_digit(p[1]) * 16 + hex_digit(p[2]), p += 2;
                else cli_usage_error("--user-symbols: '%s': unknown escape (\\, \\\\ \\n \\t \\r \\xHH)", list);
            }
            if (n == TOK_SYMBOL_MAX)
                cli_usage_error("--user-symbols: '%s': a symbol is longer than %u bytes", list, TOK_SYMBOL_MAX);
            buf[n++] = (uint8_t)c;
        }
        if (n == 0) cli_usage_error("--user-symbols: '%s': an empty symbol", list);
        if (n == 5 && !memcmp(buf, "<eod>", 5))
            cli_usage_error("--user-symbols: '<eod>' is how the end-of-document token is shown");
        for (uint32_t j = 0; j < o->n_sym; j++)
            if (o->sym_len[j] == n && !memcmp(o->sym[j], buf, n))
                cli_usage_error("--user-symbols: '%.*s' given twice", (int)n, (const char *)buf);
        if (o->n_sym == TOK_MAX_SYMBOLS) cli_usage_error("--user-symbols: more than %u symbols", TOK_MAX_SYMBOLS);
        o->sym = xrealloc(o->sym, (o->n_sym + 1) * sizeof *o->sym);
        o->sym_len = xrealloc(o->sym_len, (o->n_sym + 1) * sizeof *o->sym_len);
        o->sym[o->n_sym] = xmalloc(n);
        memcpy(o->sym[o->n_sym], buf, n);
        o->sym_len[o->n_sym++] = n;
        if (!*p) break;
        p++;
    }
}

int main(int argc, char **argv)
{
    cli_start(argv[0]);
    Options o;
    memset(&o, 0, sizeof o);
    o.vocab = 1024;
    int vocab_given = 0;
    enum { OPT_BPE = 256, OPT_VOCAB, OPT_TOKENIZER, OPT_DOC, OPT_IDS, OPT_PIECES, OPT_SYMBOLS, OPT_SAMPLE };
    static const struct option longopts[] = {
        {"bpe", no_argument, 0, OPT_BPE},
        {"vocab", required_argument, 0, OPT_VOCAB},
        {"tokenizer", required_argument, 0, OPT_TOKENIZER},
        {"doc", required_argument, 0, OPT_DOC},
        {"ids", no_argument, 0, OPT_IDS},
        {"pieces", no_argument, 0, OPT_PIECES},
        {"user-symbols", required_argument, 0, OPT_SYMBOLS},
        {"sample-bytes", required_argument, 0, OPT_SAMPLE},
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
        case OPT_PIECES: o.pieces = 1; break;
        case OPT_SYMBOLS: add_user_symbols(&o, optarg); break;
        case OPT_SAMPLE: o.sample_bytes = cli_uint("--sample-bytes", optarg, 1, UINT64_MAX); break;
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
    if (o.sample_bytes && !o.bpe) cli_usage_error("--sample-bytes needs --bpe");
    if (o.ids && o.pieces) cli_usage_error("--ids and --pieces exclude each other");
    if (o.decode && o.pieces) cli_usage_error("--pieces is an output of encoding; --decode takes none");
    if (o.n_sym && (o.tokenizer || o.decode))
        cli_usage_error("--user-symbols go with --bpe or the byte tokenizer; %s",
                        o.decode ? "--decode reads them from the stream" : "--tokenizer FILE brings its own");
    if (o.bpe && o.vocab < TOK_FIRST_MERGE + o.n_sym)
        cli_usage_error("--vocab %u leaves no room for %u user symbols (at least %u)", o.vocab, o.n_sym,
                        TOK_FIRST_MERGE + o.n_sym);
    if (o.decode && (o.bpe || o.doc)) cli_usage_error("--decode takes no --bpe or --doc");
    if (o.decode && o.tokenizer && !o.ids)
        cli_usage_error("--decode reads the tokenizer from the stream; --tokenizer goes with --ids");
    if (!o.decode && !o.ids && !o.pieces && !o.force && (!o.output || !strcmp(o.output, "-")) &&
        isatty(STDOUT_FILENO))
        cli_die("refusing to write a binary token stream to a terminal (use -o FILE, a pipe, or -f)");

    if (output_check(o.output) < 0) cli_die_last();  /* before reading any input */
    if ((o.decode ? decode(&o) : encode(&o)) < 0) cli_die_last();
    for (uint32_t i = 0; i < o.n_sym; i++) free(o.sym[i]);
    free(o.sym);
    free(o.sym_len);
    return 0;
}
