/* document boundaries and pre-tokens from a text input */
#include <stdlib.h>
#include <unistd.h>

#include "helpers.h"
#include "pretok.h"
#include "test.h"
#include "textscan.h"
#include "util.h"

/* Scan text in doc mode; pieces joined by '|', end-of-document as '#'. */
static void scan_all(const char *text, size_t n, int doc, char *out, size_t cap)
{
    char *path = temp_file_with(text, n);
    TextInput in;
    TextScanner sc;
    char *paths[] = {path};
    out[0] = 0;
    if (textin_open(&in, paths, 1, 0) < 0) { FAIL_AT("open: %s", l1b_last_error()); return; }
    scan_init(&sc, &in, doc);
    const uint8_t *p;
    size_t len, used = 0;
    int r, first = 1;
    while ((r = scan_next(&sc, &p, &len)) > 0) {
        if (!first && used + 1 < cap) out[used++] = '|';
        first = 0;
        if (r == SCAN_EOD) { if (used + 1 < cap) out[used++] = '#'; continue; }
        for (size_t i = 0; i < len && used + 1 < cap; i++) out[used++] = p[i] ? (char)p[i] : '0';
    }
    out[used] = 0;
    CHECK_EQ(r, SCAN_END);
    scan_free(&sc);
    textin_close(&in);
    unlink(path);
    free(path);
}

TEST(scan_doc_line_ends_each_line)
{
    char out[256];
    scan_all("ab cd\n\nef", 9, DOC_LINE, out, sizeof out);
    CHECK_STR(out, "ab| cd|\n|#|\n|#|ef|#");
    scan_all("x\n", 2, DOC_LINE, out, sizeof out);
    CHECK_STR(out, "x|\n|#");
}

TEST(scan_doc_nul_ends_each_record)
{
    char out[256];
    scan_all("a b\0c\0", 6, DOC_NUL, out, sizeof out);
    CHECK_STR(out, "a| b|0|#|c|0|#");
}

TEST(scan_doc_blank_ends_paragraphs)
{
    char out[256];
    const char *t = "\n\nOne two.\nthree\n\n\nFour\n \nfive\n";
    scan_all(t, strlen(t), DOC_BLANK, out, sizeof out);
    /* leading blank lines open no document; "\n \n" holds two newlines */
    CHECK_STR(out, "\n\n|One| two|.|\n|three|\n\n\n|#|Four|\n \n|#|five|\n|#");
}

TEST(scan_without_doc_mode_has_no_eod)
{
    char out[256];
    scan_all("a\nb\n", 4, DOC_NONE, out, sizeof out);
    CHECK_STR(out, "a|\n|b|\n");
    scan_all("", 0, DOC_LINE, out, sizeof out);
    CHECK_STR(out, "");
}

TEST(scan_across_buffer_refills_matches_whole_split)
{
    /* 1 MB of varied text: the scanner's pieces (which cross its 256 KB
     * buffer refills) must equal splitting the whole text at once */
    size_t n = 1 << 20;
    char *text = malloc(n);
    unsigned s = 7;
    const char *alphabet = "aab c  dd\n\n ,.1 xyzzy\t";
    for (size_t i = 0; i < n; i++) {
        s = s * 1103515245u + 12345u;
        text[i] = alphabet[(s >> 16) % strlen(alphabet)];
    }
    char *path = temp_file_with(text, n);
    TextInput in;
    TextScanner sc;
    char *paths[] = {path};
    CHECK_EQ(textin_open(&in, paths, 1, 0), 0);
    scan_init(&sc, &in, DOC_NONE);
    const uint8_t *p;
    size_t len, pos = 0, mismatches = 0;
    while (scan_next(&sc, &p, &len) == SCAN_PIECE) {
        size_t want = pretok_next((const uint8_t *)text + pos, n - pos);
        if (want != len || memcmp(p, text + pos, len)) mismatches++;
        pos += len;
    }
    CHECK_EQ(mismatches, 0);
    CHECK_EQ(pos, n);
    scan_free(&sc);
    textin_close(&in);
    unlink(path);
    free(path);
    free(text);
}

TEST(textin_concatenates_and_rewinds_files)
{
    char *a = temp_file_with("abc", 3), *b = temp_file_with("de", 2);
    char *paths[] = {a, b};
    TextInput in;
    CHECK_EQ(textin_open(&in, paths, 2, 1), 0);
    char buf[16];
    size_t got = 0;
    long long k;
    while ((k = textin_read(&in, buf + got, sizeof buf - got)) > 0) got += (size_t)k;
    CHECK_EQ(got, 5);
    CHECK(!memcmp(buf, "abcde", 5));
    CHECK_EQ(textin_rewind(&in), 0);
    got = 0;
    while ((k = textin_read(&in, buf + got, sizeof buf - got)) > 0) got += (size_t)k;
    CHECK_EQ(got, 5);
    textin_close(&in);
    unlink(a); unlink(b);
    free(a); free(b);
}

TEST(textin_names_missing_file)
{
    char *paths[] = {"/nonexistent/corpus.txt"};
    TextInput in;
    CHECK_EQ(textin_open(&in, paths, 1, 0), -1);
    CHECK_ERR("/nonexistent/corpus.txt: No such file");
}

TEST(scan_cuts_user_symbols_across_buffer_refills)
{
    /* 1 MB where "<|u|>", "<|" and "||" turn up often, and cut short as
     * often: the scanner's pieces must equal tok_split over the whole text */
    Tokenizer t;
    tok_init_bytes(&t);
    const uint8_t *syms[] = {(const uint8_t *)"<|u|>", (const uint8_t *)"<|", (const uint8_t *)"||"};
    size_t lens[] = {5, 2, 2};
    CHECK_EQ(tok_add_symbols(&t, syms, lens, 3, "t"), 0);
    size_t n = 1 << 20;
    char *text = malloc(n);
    unsigned s = 11;
    const char *alphabet = "ab <|u|>  <|u\n|x\t";
    for (size_t i = 0; i < n; i++) {
        s = s * 1103515245u + 12345u;
        text[i] = alphabet[(s >> 16) % strlen(alphabet)];
    }
    char *path = temp_file_with(text, n);
    TextInput in;
    TextScanner sc;
    char *paths[] = {path};
    CHECK_EQ(textin_open(&in, paths, 1, 0), 0);
    scan_init(&sc, &in, DOC_NONE);
    scan_symbols(&sc, &t);
    const uint8_t *p;
    size_t len, pos = 0, mismatches = 0, n_sym = 0;
    while (scan_next(&sc, &p, &len) == SCAN_PIECE) {
        uint32_t sym;
        size_t want = tok_split(&t, (const uint8_t *)text + pos, n - pos, &sym);
        if (want != len || sym != sc.symbol || memcmp(p, text + pos, len)) mismatches++;
        n_sym += sym != 0;
        pos += len;
    }
    CHECK_EQ(mismatches, 0);
    CHECK_EQ(pos, n);
    CHECK(n_sym > 10000);
    scan_free(&sc);
    textin_close(&in);
    tok_free(&t);
    unlink(path);
    free(path);
    free(text);
}

TEST(textin_limit_ends_the_first_pass_only)
{
    char *a = temp_file_with("abc", 3), *b = temp_file_with("defg", 4);
    char *paths[] = {a, b};
    TextInput in;
    CHECK_EQ(textin_open(&in, paths, 2, 1), 0);
    textin_limit(&in, 5);
    char buf[16];
    size_t got = 0;
    long long k;
    while ((k = textin_read(&in, buf + got, sizeof buf - got)) > 0) got += (size_t)k;
    CHECK_EQ(got, 5);
    CHECK(!memcmp(buf, "abcde", 5));
    CHECK_EQ(textin_rewind(&in), 0);
    got = 0;
    while ((k = textin_read(&in, buf + got, sizeof buf - got)) > 0) got += (size_t)k;
    CHECK_EQ(got, 7);
    CHECK(!memcmp(buf, "abcdefg", 7));
    textin_close(&in);
    unlink(a); unlink(b);
    free(a); free(b);
}
