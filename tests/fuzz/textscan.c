/* Fuzz target: the text scanner (lib/textscan.h) in every --doc mode, and
 * l1b-tokenize's --ids input parser (decode_ids, a static function of
 * cmd/l1b-tokenize.c, which is compiled in here with its main renamed).
 *
 * Input: one control byte, then the text.
 *   bits 0-2  mode: 0 no documents, 1 line, 2 blank, 3 nul, 4 --ids with
 *             the byte tokenizer, 5 --ids with a small BPE tokenizer
 *             (6, 7: as 0, 1)
 *   bit 3     the text is split over two files (at bits 4-6 eighths)
 *   bit 4     without bit 3: the text comes through a pipe (Linux, up to
 *             64 KiB), which the scanner copies to its spool file for the
 *             second pass
 *   bit 7     the text (its first KiB; in line and nul mode followed by a
 *             terminator) is repeated to past the reader's buffer (256 KiB
 *             for the scanner, 64 KiB for --ids)
 * Scanner checks, on both passes of a rewindable input (which must agree):
 * the pieces are 1..PRETOK_MAX bytes and concatenate to the text; no
 * piece crosses a line or NUL-record boundary; no empty document; in line
 * and nul mode one end-of-document per terminator (and one for an
 * unterminated last document); in blank mode a document never starts
 * with white space. --ids checks: decode_ids succeeds exactly when every
 * white-space separated word is a decimal id below the vocabulary, and
 * then writes the ids' bytes. */
#include "common.h"

/* the program's --ids parser (static there) */
int l1b_tokenize_main(int argc, char **argv);
#define main l1b_tokenize_main
#include "../../cmd/l1b-tokenize.c"
#undef main

static uint64_t mix(uint64_t h, uint64_t v)
{
    return (h ^ v) * 0x100000001b3ull;
}

static int fz_space(uint8_t c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

static uint64_t scan_pass(TextInput *in, int doc, const uint8_t *text, size_t n)
{
    TextScanner sc;
    scan_init(&sc, in, doc);
    uint64_t h = 0xcbf29ce484222325ull, eods = 0;
    size_t pos = 0;
    int doc_has_piece = 0, after_eod = 0, last = SCAN_END, opened = 0;
    const uint8_t *piece;
    size_t len;
    int r;
    while ((r = scan_next(&sc, &piece, &len)) != SCAN_END) {
        FUZZ_CHECK(r == SCAN_PIECE || r == SCAN_EOD, "scan_next failed on a regular file");
        if (r == SCAN_PIECE) {
            FUZZ_CHECK(len >= 1 && len <= PRETOK_MAX, "piece length");
            FUZZ_CHECK(pos + len <= n && !memcmp(piece, text + pos, len), "pieces are not the text");
            if (doc == DOC_LINE || doc == DOC_NUL)
                FUZZ_CHECK(!memchr(piece, doc == DOC_LINE ? '\n' : 0, len - 1), "a piece crosses a document end");
            if (doc == DOC_BLANK && after_eod) FUZZ_CHECK(!fz_space(piece[len - 1]), "a document starts with white space");
            opened |= doc != DOC_BLANK || !fz_space(piece[len - 1]);  /* blank: white space opens none */
            h = mix(mix(h, len), str_hash(piece, len));
            pos += len;
            doc_has_piece = 1;
            after_eod = 0;
        } else {
            FUZZ_CHECK(doc != DOC_NONE, "end of document without --doc");
            FUZZ_CHECK(doc_has_piece, "an empty document");
            if (doc == DOC_LINE || doc == DOC_NUL)
                FUZZ_CHECK(pos == n || text[pos - 1] == (doc == DOC_LINE ? '\n' : 0),
                           "a document ends before its terminator");
            h = mix(h, 0xe0d);
            eods++;
            doc_has_piece = 0;
            after_eod = 1;
        }
        last = r;
    }
    FUZZ_CHECK(pos == n, "the pieces stop short of the text");
    if (doc != DOC_NONE) FUZZ_CHECK((last == SCAN_EOD) == opened, "the last document is not ended, or ended twice");
    if (doc == DOC_LINE || doc == DOC_NUL) {
        uint8_t sep = doc == DOC_LINE ? '\n' : 0;
        uint64_t want = 0;
        for (size_t i = 0; i < n; i++) want += text[i] == sep;
        want += n && text[n - 1] != sep;
        FUZZ_CHECK(eods == want, "end-of-document count");
    }
    scan_free(&sc);
    return h;
}

static void scan_files(char **paths, int np, int doc, const uint8_t *text, size_t n)
{
    TextInput in;
    fuzz_error_reset();
    FUZZ_CHECK(textin_open(&in, paths, np, 1) == 0, "textin_open");
    uint64_t h1 = scan_pass(&in, doc, text, n);
    FUZZ_CHECK(in.bytes == n, "bytes read");
    FUZZ_CHECK(textin_rewind(&in) == 0, "textin_rewind");
    uint64_t h2 = scan_pass(&in, doc, text, n);
    FUZZ_CHECK(h1 == h2, "the second pass differs from the first");
    textin_close(&in);
}

/* ---- --ids ------------------------------------------------------------------ */

static Tokenizer fz_bytes, fz_bpe;

static void tokenizers_init(void)
{
    static int done;
    if (done) return;
    done = 1;
    static const uint16_t merges[] = {'t', 'h', 257, 'e', ' ', 258, 'a', 'n',
                                      260, 'd', 'i', 'n', 262, 'g', 259, 263};
    tok_init_bytes(&fz_bytes);
    FUZZ_CHECK(tok_init_bpe(&fz_bpe, merges, 8, "fuzz") == 0, "the --ids BPE tokenizer");
}

/* The format, written independently: words of decimal digits separated by
 * white space, each an id below the vocabulary. -1 if not. */
static int ref_decode(const Tokenizer *t, const uint8_t *s, size_t n, uint8_t **out, size_t *out_n)
{
    size_t cap = 1024, m = 0;
    uint8_t *o = malloc(cap);
    for (size_t i = 0; i < n;) {
        if (isspace(s[i])) { i++; continue; }
        uint64_t v = 0;
        size_t j = i;
        for (; j < n && s[j] >= '0' && s[j] <= '9'; j++) {
            v = v * 10 + (uint64_t)(s[j] - '0');
            if (v >= t->n_vocab) { free(o); return -1; }
        }
        if (j == i || (j < n && !isspace(s[j]))) { free(o); return -1; }
        size_t len;
        const uint8_t *b = tok_bytes(t, (uint32_t)v, &len);
        if (m + len > cap) o = realloc(o, cap = 2 * (m + len));
        memcpy(o + m, b, len);
        m += len;
        i = j;
    }
    *out = o;
    *out_n = m;
    return 0;
}

static void ids_check(const Tokenizer *t, const char *path, const uint8_t *text, size_t n)
{
    int in_fd = open(path, O_RDONLY);
    const char *out_path = fuzz_path("ids.out");
    int out_fd = open(out_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    FUZZ_CHECK(in_fd >= 0 && out_fd >= 0, "open the scratch files");
    OutFile out;
    FUZZ_CHECK(outfile_open(&out, NULL) == 0, "outfile_open");
    out.fd = out_fd;  /* "stdout", into a file */
    fuzz_error_reset();
    int rc = decode_ids(in_fd, path, t, &out);
    if (rc == 0) FUZZ_CHECK(outfile_commit(&out) == 0, "flush the --ids output");
    else {
        fuzz_expect_message(path);
        outfile_abort(&out);
    }
    close(in_fd);
    uint8_t *want = NULL;
    size_t want_n = 0;
    int ref = ref_decode(t, text, n, &want, &want_n);
    FUZZ_CHECK((rc == 0) == (ref == 0), "decode_ids accepts or refuses against the format");
    if (rc == 0) {
        uint8_t *got = malloc(want_n + 1);
        long long k = pread(out_fd, got, want_n + 1, 0);
        FUZZ_CHECK(k == (long long)want_n && !memcmp(got, want, want_n), "decode_ids wrote other bytes");
        free(got);
        free(want);
    }
    close(out_fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_setup();
    tokenizers_init();
    if (size == 0) return 0;
    uint8_t ctl = data[0];
    int mode = ctl & 7;
    if (mode >= 6) mode -= 6;
    const uint8_t *text = data + 1;
    size_t n = size - 1;
    uint8_t *big = NULL;
    if ((ctl & 0x80) && n) {
        /* Short lines in line and nul mode: the scanner looks for the
         * terminator in all it has buffered, before every piece, which
         * makes a long line cost its length times its pieces. */
        size_t unit = n < 1024 ? n : 1024, want = mode >= 4 ? 70000 : 270000, m = 0;
        int term = mode == 1 || mode == 3;
        big = malloc(want + unit + 1);
        while (m < want) {
            memcpy(big + m, text, unit);
            m += unit;
            if (term) big[m++] = mode == 1 ? '\n' : 0;
        }
        text = big;
        n = m;
    }
    size_t cut = (ctl & 8) ? n * ((ctl >> 4) & 7) / 8 : n;
    char *paths[2];
    paths[0] = (char *)fuzz_file(0, text, cut);
    paths[1] = (char *)fuzz_file(1, text + cut, n - cut);
    int np = (ctl & 8) ? 2 : 1;
    if (mode < 4) {
        static const int docs[] = {DOC_NONE, DOC_LINE, DOC_BLANK, DOC_NUL};
#ifdef __linux__
        /* a pipe holds 64 KiB: written whole before the scanner reads */
        int fds[2];
        if ((ctl & 0x18) == 0x10 && n <= 65536 && pipe(fds) == 0) {
            FUZZ_CHECK(write_full(fds[1], text, n, "pipe") == 0, "fill the pipe");
            close(fds[1]);
            char pipe_path[64];
            snprintf(pipe_path, sizeof pipe_path, "/proc/self/fd/%d", fds[0]);
            char *pp[1] = {pipe_path};
            scan_files(pp, 1, docs[mode], text, n);
            close(fds[0]);
            free(big);
            return 0;
        }
#endif
        scan_files(paths, np, docs[mode], text, n);
    } else {
        const char *whole = np == 1 ? paths[0] : fuzz_file(2, text, n);
        ids_check(mode == 4 ? &fz_bytes : &fz_bpe, whole, text, n);
    }
    free(big);
    return 0;
}
