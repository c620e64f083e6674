/* Fuzz target: the tokenizer record (lib/tokenizer.h), alone and inside a
 * token stream.
 *
 * Input: a tokenizer record (kind, pre-tokenizer version, n_vocab,
 * n_special, n_merges, then the merge pairs and the user symbols). tok_record_read parses it
 * from memory; then the record is wrapped in a token stream (a valid
 * header with its CRC, the ids 0..256 as the body, a valid trailer) that
 * tokenizer_from_file and the stream reader read from a file.
 * Checks: a failure leaves a message; the stream readers accept exactly
 * the records tok_record_read accepts and find the same merges; an
 * accepted record is written back byte for byte (tok_record_write); every
 * token's bytes are the concatenation of its merge's halves and at most
 * PRETOK_MAX long; encoding then decoding gives back the text, both for
 * the input itself and for the concatenated bytes of the learned tokens
 * and user symbols; a user symbol alone encodes to its own id. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "crc32.h"
#include "pretok.h"
#include "tokenizer.h"
#include "tokstream.h"
#include "util.h"

static void round_trip(Tokenizer *t, const uint8_t *s, size_t n)
{
    uint16_t *ids = malloc((n + 1) * sizeof *ids);
    size_t k = tok_encode_text(t, s, n, ids);
    FUZZ_CHECK(k <= n, "more ids than bytes");
    uint8_t *back = malloc(n + 1);
    size_t m = 0;
    for (size_t i = 0; i < k; i++) {
        FUZZ_CHECK(ids[i] < t->n_vocab && ids[i] != TOK_EOD, "encoded id out of range");
        size_t len;
        const uint8_t *b = tok_bytes(t, ids[i], &len);
        FUZZ_CHECK(m + len <= n, "decoded text longer than the input");
        memcpy(back + m, b, len);
        m += len;
    }
    FUZZ_CHECK(m == n && !memcmp(back, s, n), "decode(encode(text)) != text");
    free(back);
    free(ids);
}

static void check_tokenizer(Tokenizer *t, const uint8_t *p, size_t n)
{
    FUZZ_CHECK(t->n_vocab == TOK_FIRST_MERGE + t->n_merges + t->n_symbols, "n_vocab");
    FUZZ_CHECK(tok_record_size(t) == n, "record size");
    uint8_t *w = malloc(n + 1);
    tok_record_write(t, w);
    FUZZ_CHECK(!memcmp(w, p, n), "record not written back byte for byte");
    free(w);
    size_t len;
    tok_bytes(t, TOK_EOD, &len);
    FUZZ_CHECK(len == 0, "end-of-document has bytes");
    for (uint32_t i = 0; i < 256; i++) {
        const uint8_t *b = tok_bytes(t, i, &len);
        FUZZ_CHECK(len == 1 && b[0] == i, "byte token");
    }
    /* the learned tokens' bytes and the user symbols, concatenated, as a
     * second text */
    uint8_t *text = malloc((size_t)(t->n_merges + t->n_symbols) * PRETOK_MAX + 1);
    size_t tn = 0;
    for (uint32_t m = 0; m < t->n_merges; m++) {
        uint32_t id = TOK_FIRST_MERGE + m, a = t->merges[2 * m], b = t->merges[2 * m + 1];
        size_t la, lb;
        const uint8_t *ba = tok_bytes(t, a, &la), *bb = tok_bytes(t, b, &lb), *bi = tok_bytes(t, id, &len);
        FUZZ_CHECK(len == la + lb && len <= PRETOK_MAX, "token length");
        FUZZ_CHECK(!memcmp(bi, ba, la) && !memcmp(bi + la, bb, lb), "token bytes are not its halves'");
        memcpy(text + tn, bi, len);
        tn += len;
    }
    for (uint32_t j = 0; j < t->n_symbols; j++) {
        const uint8_t *b = tok_bytes(t, TOK_FIRST_MERGE + t->n_merges + j, &len);
        FUZZ_CHECK(len >= 1 && len <= TOK_SYMBOL_MAX, "user symbol length");
        uint16_t ids[TOK_SYMBOL_MAX];
        FUZZ_CHECK(tok_encode_text(t, b, len, ids) == 1 && ids[0] == TOK_FIRST_MERGE + t->n_merges + j,
                   "a user symbol alone does not encode to its id");
        memcpy(text + tn, b, len);
        tn += len;
    }
    round_trip(t, p, n);
    round_trip(t, text, tn);
    free(text);
}

/* The record in a token stream: header, ids 0..256, trailer. */
static uint8_t *wrap(const uint8_t *rec, size_t n, size_t *size)
{
    size_t used = 24 + n + 4, hsize = (used + TOKSTREAM_ALIGN - 1) / TOKSTREAM_ALIGN * TOKSTREAM_ALIGN;
    size_t body = 2 * 257;
    uint8_t *s = calloc(hsize + body + TOKSTREAM_TRAILER, 1);
    memcpy(s, TOKSTREAM_MAGIC, 8);
    put32(s + 8, TOKSTREAM_VERSION);
    put32(s + 16, (uint32_t)hsize);
    put32(s + 20, (uint32_t)n);
    memcpy(s + 24, rec, n);
    put32(s + 24 + n, crc32_update(0, s, 24 + n));
    for (uint16_t i = 0; i < 257; i++) put16(s + hsize + 2 * i, i);
    uint8_t *t = s + hsize + body;
    put64(t, 257);
    put32(t + 8, crc32_update(0, s + hsize, body));
    memcpy(t + 12, "TEND", 4);
    *size = hsize + body + TOKSTREAM_TRAILER;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_setup();
    Tokenizer t, f;
    fuzz_error_reset();
    int ok = tok_record_read(&t, data, size, "record") == 0;
    if (ok) check_tokenizer(&t, data, size);
    else fuzz_expect_message("record");

    if (size > 4 * TOK_MAX_VOCAB) {  /* no stream holds it: the header check says so */
        if (ok) tok_free(&t);
        return 0;
    }
    size_t n;
    uint8_t *stream = wrap(data, size, &n);
    const char *path = fuzz_file(0, stream, n);
    free(stream);
    fuzz_error_reset();
    int ok_file = tokenizer_from_file(path, &f) == 0;
    if (!ok_file) fuzz_expect_message(path);
    FUZZ_CHECK(ok_file == ok, "tokenizer_from_file and tok_record_read disagree");
    if (ok_file) {
        FUZZ_CHECK(f.n_merges == t.n_merges && f.kind == t.kind && f.n_symbols == t.n_symbols &&
                       (!t.n_merges || !memcmp(f.merges, t.merges, 2 * (size_t)t.n_merges * sizeof *t.merges)),
                   "tokenizer_from_file found other merges");
        tok_free(&f);
    }

    int fd = open(path, O_RDONLY);
    FUZZ_CHECK(fd >= 0, "open the scratch file");
    TokReader r;
    fuzz_error_reset();
    int ok_stream = 0;
    if (tokr_open(&r, fd, path) == 0) {
        uint16_t ids[300];
        long k = tokr_read(&r, ids, 300);
        FUZZ_CHECK(k == 257, "the stream's 257 ids");
        for (long i = 0; i < k; i++) FUZZ_CHECK(ids[i] == i, "the stream's ids");
        FUZZ_CHECK(tokr_read(&r, ids, 300) == 0, "the stream's end");
        tokr_close(&r);
        ok_stream = 1;
    } else {
        fuzz_expect_message(path);
    }
    close(fd);
    FUZZ_CHECK(ok_stream == ok, "tokr_open and tok_record_read disagree");
    if (ok) tok_free(&t);
    return 0;
}
