/* Fuzz target: the BPE learner (lib/bpe.h) on arbitrary bytes.
 *
 * Input: one byte, the number of merges to learn (0..255), then the text.
 * The text is cut into pre-tokens (pretok_next) and counted
 * (bpe_counter_add), merges are learned (bpe_learn), then the text is
 * encoded and decoded. Checks (abort() if broken): decode(encode(text)) is
 * the text; no more merges than asked; the tokenizer's record reads back
 * (tok_record_read) into a tokenizer that, applying the merges without the
 * learner's cached segmentations, encodes to exactly the same ids; both
 * round-trip a text they never saw (the input reversed) identically. */
#include <stdlib.h>
#include <string.h>

#include "bpe.h"
#include "common.h"
#include "pretok.h"
#include "tokenizer.h"

static size_t encode_decode(Tokenizer *t, const uint8_t *s, size_t n, uint16_t *ids)
{
    size_t k = tok_encode_text(t, s, n, ids);
    FUZZ_CHECK(k <= n, "more ids than bytes");
    size_t m = 0;
    for (size_t i = 0; i < k; i++) {
        FUZZ_CHECK(ids[i] < t->n_vocab && ids[i] != TOK_EOD, "encoded id out of range");
        size_t len;
        const uint8_t *b = tok_bytes(t, ids[i], &len);
        FUZZ_CHECK(len >= 1 && m + len <= n && !memcmp(b, s + m, len), "decode(encode(text)) != text");
        m += len;
    }
    FUZZ_CHECK(m == n, "decode(encode(text)) is short of the text");
    return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_setup();
    if (size == 0) return 0;
    uint32_t want = data[0];
    const uint8_t *text = data + 1;
    size_t n = size - 1, pieces = 0;

    BpeCounter *c = bpe_counter_new();
    for (size_t pos = 0; pos < n; pieces++) {
        size_t len = pretok_next(text + pos, n - pos);
        FUZZ_CHECK(len >= 1 && len <= PRETOK_MAX && len <= n - pos, "pre-token length");
        bpe_counter_add(c, text + pos, len);
        pos += len;
    }
    FUZZ_CHECK(bpe_counter_words(c) <= pieces, "more distinct pre-tokens than pre-tokens");
    Tokenizer t;
    bpe_learn(c, want, &t, NULL, NULL);
    bpe_counter_free(c);
    FUZZ_CHECK(t.n_merges <= want && t.n_vocab == TOK_FIRST_MERGE + t.n_merges, "merge count");

    uint16_t *ids = malloc((n + 1) * sizeof *ids), *again = malloc((n + 1) * sizeof *again);
    size_t k = encode_decode(&t, text, n, ids);

    size_t rn = tok_record_size(&t);
    uint8_t *rec = malloc(rn);
    tok_record_write(&t, rec);
    Tokenizer f;
    FUZZ_CHECK(tok_record_read(&f, rec, rn, "learned") == 0, "the learned tokenizer's record does not read back");
    free(rec);
    size_t k2 = encode_decode(&f, text, n, again);
    FUZZ_CHECK(k2 == k && !memcmp(ids, again, k * sizeof *ids),
               "encoding with the merges differs from the learner's segmentation");

    uint8_t *rev = malloc(n + 1);
    for (size_t i = 0; i < n; i++) rev[i] = text[n - 1 - i];
    k = encode_decode(&t, rev, n, ids);
    k2 = encode_decode(&f, rev, n, again);
    FUZZ_CHECK(k2 == k && !memcmp(ids, again, k * sizeof *ids), "two encoders of one vocabulary differ");
    free(rev);
    free(ids);
    free(again);
    tok_free(&t);
    tok_free(&f);
    return 0;
}
