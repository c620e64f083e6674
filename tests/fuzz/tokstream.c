/* Fuzz target: token streams (lib/tokstream.h), header and body.
 *
 * Input: a token stream file. The header parser runs on it in memory
 * (tokstream_parse_header); the streaming reader (tokr_open, tokr_read in
 * chunks of a size taken from the input's length) and the readers that
 * take a path (tokenizer_from_file, inspect_verify) run on it as a file.
 * Then the same again with the header CRC and the trailer repaired, so
 * that mutations reach the tokenizer record and the token ids.
 * Checks: failures leave a message; a stream that reads to the end has
 * every id below the vocabulary and as many ids as its body holds; the
 * readers (tokr_read, tok_load_file through tokenizer_from_file,
 * inspect_verify) agree on whether the stream is good. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "inspect.h"
#include "tokenizer.h"
#include "tokstream.h"

static void run(const uint8_t *p, size_t n)
{
    Tokenizer t;
    uint32_t hsize = 0;
    fuzz_error_reset();
    int header_ok = tokstream_parse_header(p, n, "mem", &t, &hsize) == 0;
    if (header_ok) {
        FUZZ_CHECK(hsize % TOKSTREAM_ALIGN == 0 && hsize <= n, "header size");
        FUZZ_CHECK(t.n_vocab >= TOK_FIRST_MERGE && t.n_vocab <= TOK_MAX_VOCAB, "vocabulary size");
        tok_free(&t);
    } else {
        fuzz_expect_message("mem");
    }

    const char *path = fuzz_file(0, p, n);
    int fd = open(path, O_RDONLY);
    FUZZ_CHECK(fd >= 0, "open the scratch file");
    TokReader r;
    fuzz_error_reset();
    int stream_ok = 0;
    if (tokr_open(&r, fd, path) == 0) {
        FUZZ_CHECK(header_ok, "tokr_open accepts a header tokstream_parse_header refuses");
        size_t max = 1 + n % 8192;  /* chunk sizes vary with the input */
        uint16_t *ids = malloc(max * sizeof *ids);
        uint64_t total = 0;
        long got;
        while ((got = tokr_read(&r, ids, max)) > 0) {
            FUZZ_CHECK((size_t)got <= max, "tokr_read returned more than asked");
            for (long i = 0; i < got; i++) FUZZ_CHECK(ids[i] < r.tok.n_vocab, "id out of range");
            total += (uint64_t)got;
        }
        if (got == 0) {
            stream_ok = 1;
            FUZZ_CHECK(n >= hsize + TOKSTREAM_TRAILER && total == (n - hsize - TOKSTREAM_TRAILER) / 2,
                       "token count");
            FUZZ_CHECK(tokr_read(&r, ids, max) == 0, "tokr_read after the end");
        } else {
            fuzz_expect_message(path);
        }
        free(ids);
        tokr_close(&r);
    } else {
        fuzz_expect_message(path);
    }
    close(fd);

    fuzz_error_reset();
    int ok_tok = tokenizer_from_file(path, &t) == 0;
    if (ok_tok) tok_free(&t);
    else fuzz_expect_message(path);
    if (n >= 8 && !memcmp(p, TOKSTREAM_MAGIC, 8))  /* tok_load_file: the whole stream, checked */
        FUZZ_CHECK(ok_tok == stream_ok, "tokenizer_from_file and the stream reader disagree");
    fuzz_error_reset();
    if (inspect_verify(path) == 0) FUZZ_CHECK(stream_ok, "verify passes a stream the reader refuses");
    else {
        FUZZ_CHECK(!stream_ok, "verify refuses a stream the reader reads");
        fuzz_expect_message(path);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_setup();
    fuzz_with_repair(data, size, fuzz_fix_tokstream, run);
    return 0;
}
