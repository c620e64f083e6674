/* token stream: write/read round trip, header layout, every rejection */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "crc32.h"
#include "helpers.h"
#include "test.h"
#include "tokstream.h"

/* A BPE stream with 2 merges holding ids {1, 257, 258, 256, 0}. */
static unsigned char *make_stream(size_t *n)
{
    uint16_t merges[] = {'a', 'b', 257, 'c'};
    Tokenizer t;
    tok_init_bpe(&t, merges, 2, "t");
    char *path = temp_file_with("", 0);
    OutFile f;
    TokWriter w;
    uint16_t ids[] = {1, 257, 258, TOK_EOD, 0};
    if (outfile_open(&f, path) || tokw_begin(&w, &f, &t) || tokw_put(&w, ids, 5) || tokw_end(&w) ||
        outfile_commit(&f))
        FAIL_AT("writing: %s", l1b_last_error());
    tok_free(&t);
    unsigned char *b = slurp(path, n);
    unlink(path);
    free(path);
    return b;
}

/* Read a whole stream from bytes; returns tokens read or -1. */
static long read_stream(const unsigned char *b, size_t n, uint16_t *ids, size_t max)
{
    char *path = temp_file_with(b, n);
    int fd = open(path, O_RDONLY);
    TokReader r;
    long total = -1;
    if (tokr_open(&r, fd, "s.tok") == 0) {
        long k;
        total = 0;
        while ((k = tokr_read(&r, ids + total, max - (size_t)total)) > 0) total += k;
        if (k < 0) total = -1;
        tokr_close(&r);
    }
    close(fd);
    unlink(path);
    free(path);
    return total;
}

TEST(tokstream_layout_and_round_trip)
{
    size_t n;
    unsigned char *b = make_stream(&n);
    /* header: 24 fixed + 28 record + 4 crc = 56, padded to 64 */
    CHECK_EQ(n, 64 + 5 * 2 + 16);
    CHECK(!memcmp(b, "L1BTOKEN", 8));
    CHECK_EQ(le32(b + 8), 1);
    CHECK_EQ(le32(b + 12), 0);
    CHECK_EQ(le32(b + 16), 64);
    CHECK_EQ(le32(b + 20), 28);
    CHECK_EQ(le32(b + 52), crc32_update(0, b, 52));
    CHECK_EQ(le16(b + 64 + 2), 257);
    CHECK_EQ(le64(b + 74), 5);
    CHECK_EQ(le32(b + 82), crc32_update(0, b + 64, 10));
    CHECK(!memcmp(b + 86, "TEND", 4));
    uint16_t ids[16];
    CHECK_EQ(read_stream(b, n, ids, 16), 5);
    CHECK_EQ(ids[0], 1); CHECK_EQ(ids[1], 257); CHECK_EQ(ids[2], 258); CHECK_EQ(ids[3], 256);
    free(b);
}

TEST(tokstream_rejects_every_truncation)
{
    size_t n;
    unsigned char *b = make_stream(&n);
    uint16_t ids[16];
    for (size_t cut = 0; cut < n; cut++) {
        if (read_stream(b, cut, ids, 16) != -1) FAIL_AT("prefix of %zu bytes accepted", cut);
    }
    CHECK_EQ(read_stream(b, 30, ids, 16), -1); CHECK_ERR("s.tok: truncated token stream header");
    CHECK_EQ(read_stream(b, 80, ids, 16), -1); CHECK_ERR("s.tok: truncated token stream");
    CHECK_EQ(read_stream(b, 0, ids, 16), -1); CHECK_ERR("empty input");
    free(b);
}

TEST(tokstream_rejects_corruption)
{
    size_t n;
    unsigned char *b = make_stream(&n);
    unsigned char *c = malloc(n);
    uint16_t ids[16];
#define CORRUPT(stmt, fragment)                               \
    do {                                                      \
        memcpy(c, b, n);                                      \
        stmt;                                                 \
        CHECK_EQ(read_stream(c, n, ids, 16), -1);             \
        CHECK_ERR(fragment);                                  \
    } while (0)
    CORRUPT(c[0] = 'X', "not an l1b token stream (bad magic)");
    CORRUPT(put32(c + 8, 2), "version 2 not supported");
    CORRUPT(put32(c + 12, 1), "unknown token stream flags");
    CORRUPT(put32(c + 16, 65), "corrupt token stream header");
    CORRUPT(put32(c + 16, 0xfffffff0u), "corrupt token stream header");
    CORRUPT(put32(c + 20, 0x7fffffffu), "corrupt token stream header");
    CORRUPT(c[30] ^= 1, "header checksum mismatch");
    CORRUPT(c[60] = 1, "padding");
    CORRUPT(c[64] ^= 2, "token checksum mismatch");
    CORRUPT(put16(c + 64, 260), "id 260 out of range (vocabulary 259)");
    CORRUPT(put64(c + 74, 6), "token count mismatch");
    CORRUPT(c[n - 1] = 'X', "no end marker");
#undef CORRUPT
    /* a trailing extra token pair is not a valid stream either */
    unsigned char *longer = malloc(n + 2);
    memcpy(longer, b, n);
    longer[n] = longer[n + 1] = 0;
    CHECK_EQ(read_stream(longer, n + 2, ids, 16), -1);
    free(longer);
    free(c);
    free(b);
}

TEST(tokstream_empty_stream_is_valid)
{
    Tokenizer t;
    tok_init_bytes(&t);
    char *path = temp_file_with("", 0);
    OutFile f;
    TokWriter w;
    CHECK_EQ(outfile_open(&f, path), 0);
    CHECK_EQ(tokw_begin(&w, &f, &t), 0);
    CHECK_EQ(tokw_end(&w), 0);
    CHECK_EQ(outfile_commit(&f), 0);
    size_t n;
    unsigned char *b = slurp(path, &n);
    CHECK_EQ(n, 64 + 16);
    uint16_t ids[4];
    CHECK_EQ(read_stream(b, n, ids, 4), 0);
    Tokenizer back;
    CHECK_EQ(tok_load_file(path, &back), 0);
    CHECK_EQ(back.kind, TOK_KIND_BYTES);
    tok_free(&back);
    free(b);
    unlink(path);
    free(path);
    tok_free(&t);
}

TEST(tok_load_file_names_the_problem)
{
    Tokenizer t;
    CHECK_EQ(tok_load_file("/nonexistent/model", &t), -1);
    CHECK_ERR("/nonexistent/model: No such file");
    char *path = temp_file_with("just some text, not tokens", 26);
    CHECK_EQ(tok_load_file(path, &t), -1);
    CHECK_ERR("not an l1b token stream");
    unlink(path);
    free(path);
}

/* The tokenizer of a stream is taken only from a whole, sound stream: a
 * token, the count or the end marker damaged after a good header is
 * refused with the reader's message. */
TEST(tok_load_file_checks_the_whole_stream)
{
    size_t n;
    unsigned char *b = make_stream(&n);
    struct { size_t at; unsigned char xor; size_t len; const char *why; } cases[] = {
        {64 + 2, 0x01, 0, "token checksum mismatch"},             /* id 257 -> 256 */
        {64 + 5 * 2, 0x01, 0, "token count mismatch"},            /* n = 4 */
        {n - 1, 0x20, 0, "truncated token stream (no end marker)"},  /* "TENd" */
        {64 + 3, 0x80, 0, "out of range"},                        /* id 257 + 0x8000 */
        {0, 0, n - 1, "truncated token stream"},                  /* cut short */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        b[cases[i].at] ^= cases[i].xor;
        char *path = temp_file_with(b, cases[i].len ? cases[i].len : n);
        b[cases[i].at] ^= cases[i].xor;
        Tokenizer t;
        CHECK_EQ(tok_load_file(path, &t), -1);
        CHECK_ERR(cases[i].why);
        CHECK_EQ(tokenizer_from_file(path, &t), -1);
        CHECK_ERR(cases[i].why);
        CHECK(strstr(l1b_last_error(), path) == l1b_last_error());
        unlink(path);
        free(path);
    }
    /* and the sound stream gives its tokenizer */
    char *path = temp_file_with(b, n);
    Tokenizer t;
    CHECK_EQ(tok_load_file(path, &t), 0);
    CHECK_EQ(t.n_merges, 2);
    tok_free(&t);
    unlink(path);
    free(path);
    free(b);
}
