/* pre-tokenizer splits, BPE on hand-worked examples, the tokenizer record */
#include <stdlib.h>

#include "bpe.h"
#include "pretok.h"
#include "test.h"
#include "tokenizer.h"
#include "util.h"

/* All pre-tokens of s joined with '|'. */
static void split(const char *s, char *out)
{
    size_t n = strlen(s), pos = 0;
    out[0] = 0;
    while (pos < n) {
        size_t k = pretok_next((const uint8_t *)s + pos, n - pos);
        if (pos) strcat(out, "|");
        strncat(out, s + pos, k);
        pos += k;
    }
}

TEST(pretok_splits_words_numbers_punctuation_space)
{
    char out[512];
    split("Hello world, it's 2024!", out);
    CHECK_STR(out, "Hello| world|,| it|'|s| 2024|!");
    split("a  b\n\nc \td", out);
    CHECK_STR(out, "a| | b|\n\n|c| \t|d");
    split("x1y --> \"q\"", out);
    CHECK_STR(out, "x|1|y| -->| \"|q|\"");
    split("caf\xc3\xa9 na\xc3\xafve", out);  /* UTF-8 stays inside words */
    CHECK_STR(out, "caf\xc3\xa9| na\xc3\xafve");
    split("end  ", out);
    CHECK_STR(out, "end|  ");
    split(" ", out);
    CHECK_STR(out, " ");
}

TEST(pretok_cuts_long_runs_at_max)
{
    char s[200], out[400];
    memset(s, 'a', 150);
    s[150] = 0;
    split(s, out);
    /* 64 + 64 + 22 */
    CHECK_EQ(strlen(out), 150 + 2);
    CHECK_EQ(strchr(out, '|') - out, PRETOK_MAX);
}

TEST(pretok_same_split_with_any_lookahead)
{
    /* a streaming caller sees PRETOK_MAX + 1 bytes; the split must equal
     * the one made with the whole text in view */
    const char *s = "The  quick\n\n  brown fox's 12345 jumps!!  over\r\n  the lazy dog   ";
    size_t n = strlen(s), a = 0, b = 0;
    while (a < n) {
        size_t whole = pretok_next((const uint8_t *)s + a, n - a);
        size_t window = n - b > PRETOK_MAX + 1 ? PRETOK_MAX + 1 : n - b;
        size_t part = pretok_next((const uint8_t *)s + b, window);
        CHECK_EQ(whole, part);
        a += whole;
        b += part;
    }
}

static void count_words(BpeCounter *c, const char *word, int times)
{
    for (int i = 0; i < times; i++) bpe_counter_add(c, (const uint8_t *)word, strlen(word));
}

static size_t enc(Tokenizer *t, const char *s, uint16_t *ids)
{
    return tok_encode_piece(t, (const uint8_t *)s, strlen(s), ids);
}

/* words ab x5, abc x2, bc x3:
 *   pairs (a,b) 7, (b,c) 5          -> merge 0: a+b = 257
 *   pairs (257,c) 2, (b,c) 3        -> merge 1: b+c = 258
 *   pairs (257,c) 2                 -> merge 2: 257+c = 259
 *   no pairs left: 3 merges though 10 were allowed */
TEST(bpe_learns_hand_worked_merges)
{
    BpeCounter *c = bpe_counter_new();
    count_words(c, "ab", 5);
    count_words(c, "abc", 2);
    count_words(c, "bc", 3);
    CHECK_EQ(bpe_counter_words(c), 3);
    Tokenizer t;
    bpe_learn(c, 10, &t, NULL, NULL);
    bpe_counter_free(c);
    CHECK_EQ(t.n_merges, 3);
    CHECK_EQ(t.n_vocab, 260);
    CHECK_EQ(t.merges[0], 'a'); CHECK_EQ(t.merges[1], 'b');
    CHECK_EQ(t.merges[2], 'b'); CHECK_EQ(t.merges[3], 'c');
    CHECK_EQ(t.merges[4], 257); CHECK_EQ(t.merges[5], 'c');
    uint16_t ids[PRETOK_MAX];
    CHECK_EQ(enc(&t, "abc", ids), 1); CHECK_EQ(ids[0], 259);
    CHECK_EQ(enc(&t, "bc", ids), 1); CHECK_EQ(ids[0], 258);
    /* not seen in training: merges apply by rank */
    CHECK_EQ(enc(&t, "cab", ids), 2); CHECK_EQ(ids[0], 'c'); CHECK_EQ(ids[1], 257);
    CHECK_EQ(enc(&t, "abcbc", ids), 2); CHECK_EQ(ids[0], 259); CHECK_EQ(ids[1], 258);
    size_t len;
    const uint8_t *b = tok_bytes(&t, 259, &len);
    CHECK_EQ(len, 3);
    CHECK(!memcmp(b, "abc", 3));
    tok_bytes(&t, TOK_EOD, &len);
    CHECK_EQ(len, 0);
    tok_free(&t);
}

TEST(bpe_ties_go_to_smaller_ids)
{
    BpeCounter *c = bpe_counter_new();
    count_words(c, "cd", 2);
    count_words(c, "ab", 2);
    Tokenizer t;
    bpe_learn(c, 5, &t, NULL, NULL);
    bpe_counter_free(c);
    CHECK_EQ(t.n_merges, 2);
    CHECK_EQ(t.merges[0], 'a'); CHECK_EQ(t.merges[1], 'b');
    CHECK_EQ(t.merges[2], 'c'); CHECK_EQ(t.merges[3], 'd');
    tok_free(&t);
}

/* "aaaa" x3: (a,a) occurs 3 times per word, 9 in all -> 257 = aa;
 * words become [257 257]: (257,257) 3 -> 258 = aaaa. Overlapping pairs
 * merge left to right, in training and in encoding alike. */
TEST(bpe_overlapping_pairs_merge_left_to_right)
{
    BpeCounter *c = bpe_counter_new();
    count_words(c, "aaaa", 3);
    Tokenizer t;
    bpe_learn(c, 5, &t, NULL, NULL);
    bpe_counter_free(c);
    CHECK_EQ(t.n_merges, 2);
    CHECK_EQ(t.merges[0], 'a'); CHECK_EQ(t.merges[1], 'a');
    CHECK_EQ(t.merges[2], 257); CHECK_EQ(t.merges[3], 257);
    uint16_t ids[PRETOK_MAX];
    CHECK_EQ(enc(&t, "aaaaa", ids), 2); CHECK_EQ(ids[0], 258); CHECK_EQ(ids[1], 'a');
    CHECK_EQ(enc(&t, "aaa", ids), 2); CHECK_EQ(ids[0], 257); CHECK_EQ(ids[1], 'a');
    tok_free(&t);
}

TEST(bpe_stops_when_no_pair_repeats)
{
    BpeCounter *c = bpe_counter_new();
    count_words(c, "xyz", 1);
    Tokenizer t;
    bpe_learn(c, 100, &t, NULL, NULL);
    bpe_counter_free(c);
    CHECK_EQ(t.n_merges, 0);
    CHECK_EQ(t.n_vocab, 257);
    tok_free(&t);
}

TEST(encoding_by_rank_equals_training_segmentation)
{
    /* every word's segmentation from training (in the cache) must equal
     * what the merge-by-rank encoder computes from scratch */
    const char *words[] = {"the", " the", " then", " there", " other", "these", " thesis",
                           " hello", " shell", " hell", "oh", " ohm", "mmmmmm", " hehehe"};
    int freq[] = {9, 7, 3, 4, 2, 5, 1, 3, 2, 2, 6, 1, 2, 3};
    BpeCounter *c = bpe_counter_new();
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) count_words(c, words[i], freq[i]);
    Tokenizer learned, fresh;
    bpe_learn(c, 40, &learned, NULL, NULL);
    bpe_counter_free(c);
    CHECK(learned.n_merges > 5);
    CHECK_EQ(tok_init_bpe(&fresh, learned.merges, learned.n_merges, "test"), 0);
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        uint16_t a[PRETOK_MAX], b[PRETOK_MAX];
        size_t na = enc(&learned, words[i], a), nb = enc(&fresh, words[i], b);
        CHECK_EQ(na, nb);
        CHECK(!memcmp(a, b, na * sizeof *a));
        /* and the ids spell the word */
        char back[PRETOK_MAX + 1] = {0};
        for (size_t k = 0; k < na; k++) {
            size_t len;
            const uint8_t *p = tok_bytes(&fresh, a[k], &len);
            strncat(back, (const char *)p, len);
        }
        CHECK_STR(back, words[i]);
    }
    tok_free(&learned);
    tok_free(&fresh);
}

TEST(tokenizer_record_round_trip)
{
    uint16_t merges[] = {'a', 'b', 257, 'c', 'x', 258};
    Tokenizer t, back;
    CHECK_EQ(tok_init_bpe(&t, merges, 3, "t"), 0);
    size_t n = tok_record_size(&t);
    CHECK_EQ(n, 20 + 12);
    uint8_t rec[64];
    tok_record_write(&t, rec);
    CHECK_EQ(le32(rec), TOK_KIND_BPE);
    CHECK_EQ(le32(rec + 4), PRETOK_VERSION);
    CHECK_EQ(le32(rec + 8), 260);
    CHECK_EQ(le32(rec + 12), 1);
    CHECK_EQ(le32(rec + 16), 3);
    CHECK_EQ(le16(rec + 20), 'a');
    CHECK_EQ(le16(rec + 30), 258);
    CHECK_EQ(tok_record_read(&back, rec, n, "t"), 0);
    CHECK_EQ(back.n_vocab, 260);
    size_t len;
    const uint8_t *p = tok_bytes(&back, 259, &len);
    CHECK_EQ(len, 4);
    CHECK(!memcmp(p, "xabc", 4));
    tok_free(&t);
    tok_free(&back);
}

TEST(tokenizer_record_rejects_invalid)
{
    Tokenizer t;
    uint8_t rec[32];
    uint16_t merges[] = {'a', 'b', 257, 'c'};
    Tokenizer good;
    tok_init_bpe(&good, merges, 2, "g");
    tok_record_write(&good, rec);
    tok_free(&good);

    uint8_t bad[32];
    memcpy(bad, rec, 28);
    put32(bad, 7);
    CHECK_EQ(tok_record_read(&t, bad, 28, "f"), -1); CHECK_ERR("f: unknown tokenizer kind 7");
    memcpy(bad, rec, 28);
    put32(bad + 4, 2);
    CHECK_EQ(tok_record_read(&t, bad, 28, "f"), -1); CHECK_ERR("pre-tokenizer version 2");
    memcpy(bad, rec, 28);
    put32(bad + 8, 300);
    CHECK_EQ(tok_record_read(&t, bad, 28, "f"), -1); CHECK_ERR("does not match 2 merges");
    memcpy(bad, rec, 28);
    put32(bad + 12, 0);
    CHECK_EQ(tok_record_read(&t, bad, 28, "f"), -1); CHECK_ERR("special-token count 0");
    memcpy(bad, rec, 28);
    put32(bad + 12, 2);  /* a user symbol the vocabulary does not count */
    CHECK_EQ(tok_record_read(&t, bad, 28, "f"), -1); CHECK_ERR("does not match 2 merges and 1 user symbols");
    CHECK_EQ(tok_record_read(&t, rec, 27, "f"), -1); CHECK_ERR("record size 27");
    CHECK_EQ(tok_record_read(&t, rec, 10, "f"), -1); CHECK_ERR("truncated");
    memcpy(bad, rec, 28);
    put16(bad + 24, 258);  /* merge 1 refers to itself */
    CHECK_EQ(tok_record_read(&t, bad, 28, "f"), -1); CHECK_ERR("merge 1 joins invalid tokens 258");
    memcpy(bad, rec, 28);
    put16(bad + 20, TOK_EOD);
    CHECK_EQ(tok_record_read(&t, bad, 28, "f"), -1); CHECK_ERR("merge 0 joins invalid tokens 256");
    memcpy(bad, rec, 28);
    put32(bad + 16, 70000);
    put32(bad + 8, 70257);
    CHECK_EQ(tok_record_read(&t, bad, 28, "f"), -1); CHECK_ERR("does not match");
}

TEST(tokenizer_rejects_tokens_longer_than_a_pretoken)
{
    /* each merge doubles the previous token: 2, 4, ..., 128 bytes */
    uint16_t merges[2 * 7];
    merges[0] = merges[1] = 'a';
    for (int m = 1; m < 7; m++) merges[2 * m] = merges[2 * m + 1] = (uint16_t)(TOK_FIRST_MERGE + m - 1);
    Tokenizer t;
    CHECK_EQ(tok_init_bpe(&t, merges, 6, "ok"), 0);  /* up to 64 bytes */
    size_t len;
    tok_bytes(&t, TOK_FIRST_MERGE + 5, &len);
    CHECK_EQ(len, 64);
    tok_free(&t);
    CHECK_EQ(tok_init_bpe(&t, merges, 7, "bomb"), -1);
    CHECK_ERR("bomb: merge 6 makes a token longer than 64 bytes");
}

TEST(byte_tokenizer_is_identity_plus_eod)
{
    Tokenizer t;
    tok_init_bytes(&t);
    CHECK_EQ(t.n_vocab, 257);
    uint16_t ids[8];
    CHECK_EQ(tok_encode_piece(&t, (const uint8_t *)"\0\xff z", 4, ids), 4);
    CHECK_EQ(ids[0], 0); CHECK_EQ(ids[1], 255); CHECK_EQ(ids[2], ' '); CHECK_EQ(ids[3], 'z');
    tok_free(&t);
}

/* ---- user symbols ------------------------------------------------------ */

static void add_syms(Tokenizer *t, const char *const *syms, uint32_t n)
{
    const uint8_t *s[8];
    size_t len[8];
    for (uint32_t j = 0; j < n; j++) s[j] = (const uint8_t *)syms[j], len[j] = strlen(syms[j]);
    CHECK_EQ(tok_add_symbols(t, s, len, n, "test"), 0);
}

/* The units of s (tok_split) joined with '|', user symbols in brackets. */
static void units(const Tokenizer *t, const char *s, char *out)
{
    size_t n = strlen(s), pos = 0;
    out[0] = 0;
    while (pos < n) {
        uint32_t sym;
        size_t k = tok_split(t, (const uint8_t *)s + pos, n - pos, &sym);
        if (pos) strcat(out, "|");
        if (sym) strcat(out, "[");
        strncat(out, s + pos, k);
        if (sym) strcat(out, "]");
        pos += k;
    }
}

TEST(user_symbols_cut_the_text_longest_first)
{
    Tokenizer t;
    tok_init_bytes(&t);
    static const char *const syms[] = {"<|u|>", "<|", "\n\n"};
    add_syms(&t, syms, 3);
    CHECK_EQ(t.n_symbols, 3);
    CHECK_EQ(t.n_vocab, 260);
    char out[256];
    /* the text between symbols splits as if each symbol ended the input:
     * "  " keeps both spaces, "hi!" does not take the '<' */
    units(&t, "hi!<|u|>  <|u|>x <| y\n\n\nz", out);
    CHECK_STR(out, "hi|!|[<|u|>]|  |[<|u|>]|x| |[<|]| y|[\n\n]|\n|z");
    units(&t, "<|u|", out);  /* a symbol cut short is text; its prefix matches */
    CHECK_STR(out, "[<|]|u||");
    uint16_t ids[32];
    size_t k = tok_encode_text(&t, (const uint8_t *)"a<|u|>b", 7, ids);
    CHECK_EQ(k, 3);
    CHECK_EQ(ids[0], 'a'); CHECK_EQ(ids[1], 257); CHECK_EQ(ids[2], 'b');
    size_t len;
    CHECK(!memcmp(tok_bytes(&t, 259, &len), "\n\n", 2));
    CHECK_EQ(len, 2);
    tok_free(&t);
}

TEST(user_symbols_follow_the_merges_and_round_trip_in_the_record)
{
    uint16_t merges[] = {'a', 'b', 257, 'c'};
    Tokenizer t, back;
    CHECK_EQ(tok_init_bpe(&t, merges, 2, "t"), 0);
    static const char *const syms[] = {"<|user|>", "\xe2\x96\x81"};
    add_syms(&t, syms, 2);
    CHECK_EQ(t.n_vocab, 261);
    size_t n = tok_record_size(&t);
    CHECK_EQ(n, 20 + 8 + (2 + 8) + (2 + 3));
    uint8_t rec[64];
    tok_record_write(&t, rec);
    CHECK_EQ(le32(rec + 8), 261);
    CHECK_EQ(le32(rec + 12), 3);  /* end-of-document and two symbols */
    CHECK_EQ(le32(rec + 16), 2);
    CHECK_EQ(le16(rec + 28), 8);
    CHECK(!memcmp(rec + 30, "<|user|>", 8));
    CHECK_EQ(le16(rec + 38), 3);
    CHECK_EQ(tok_record_read(&back, rec, n, "t"), 0);
    CHECK_EQ(back.n_symbols, 2);
    size_t len;
    const uint8_t *p = tok_bytes(&back, 259, &len);
    CHECK_EQ(len, 8);
    CHECK(!memcmp(p, "<|user|>", 8));
    uint16_t ids[16];
    CHECK_EQ(tok_encode_text(&back, (const uint8_t *)"abc<|user|>", 11, ids), 2);
    CHECK_EQ(ids[0], 258); CHECK_EQ(ids[1], 259);
    tok_free(&back);
    /* a record cut inside the symbols, or with a byte to spare, is refused */
    CHECK_EQ(tok_record_read(&back, rec, n - 1, "f"), -1); CHECK_ERR("f: tokenizer record size 42 does not match 2 merges and its user symbols");
    CHECK_EQ(tok_record_read(&back, rec, 30, "f"), -1); CHECK_ERR("record size 30");
    rec[n] = 0;
    CHECK_EQ(tok_record_read(&back, rec, n + 1, "f"), -1); CHECK_ERR("record size 44");
    uint8_t bad[64];
    memcpy(bad, rec, n);
    put16(bad + 38, 0);  /* an empty symbol */
    put32(bad + 8, 261);
    CHECK_EQ(tok_record_read(&back, bad, n - 3, "f"), -1); CHECK_ERR("f: user symbol 2 is 0 bytes long");
    memcpy(bad, rec, 38);
    put16(bad + 38, 8);  /* the first one again */
    memcpy(bad + 40, "<|user|>", 8);
    CHECK_EQ(tok_record_read(&back, bad, 48, "f"), -1); CHECK_ERR("f: user symbol 2 repeats symbol 1");
    tok_free(&t);
}

TEST(user_symbols_refused_when_they_cannot_be)
{
    Tokenizer t;
    tok_init_bytes(&t);
    const uint8_t *s[2] = {(const uint8_t *)"x", (const uint8_t *)""};
    size_t len[2] = {1, 0};
    CHECK_EQ(tok_add_symbols(&t, s, len, 2, "opt"), -1); CHECK_ERR("opt: user symbol 2 is 0 bytes long (1 to 64)");
    len[1] = 65;
    s[1] = (const uint8_t *)"0123456789012345678901234567890123456789012345678901234567890123456789";
    CHECK_EQ(tok_add_symbols(&t, s, len, 2, "opt"), -1); CHECK_ERR("65 bytes long");
    CHECK_EQ(t.n_vocab, 257);  /* unchanged */
    CHECK_EQ(tok_add_symbols(&t, s, len, 1, "opt"), 0);
    CHECK_EQ(tok_add_symbols(&t, s, len, 1, "opt"), -1); CHECK_ERR("already has user symbols");
    tok_free(&t);
    /* a full vocabulary has no room */
    uint32_t m = TOK_MAX_VOCAB - TOK_FIRST_MERGE;
    uint16_t *merges = malloc(2 * m * sizeof *merges);
    for (uint32_t i = 0; i < m; i++) merges[2 * i] = 'a', merges[2 * i + 1] = (uint16_t)('a' + i % 20);
    CHECK_EQ(tok_init_bpe(&t, merges, m, "full"), 0);
    CHECK_EQ(tok_add_symbols(&t, s, len, 1, "opt"), -1); CHECK_ERR("exceed the 65536-token vocabulary");
    tok_free(&t);
    free(merges);
}
