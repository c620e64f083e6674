/* bpe: learning byte-level BPE merges from pre-token counts.
 *
 * Counting keeps one entry per distinct pre-token (with its frequency), so
 * memory follows the vocabulary of the corpus, not its size; past
 * BPE_MAX_WORDS distinct pre-tokens the rarest are dropped (counts below
 * 2, then below 4, 8, ... until the table is at most half full; the
 * threshold only grows), which only loses words too rare to decide a merge.
 *
 * Learning works on the distinct words: pair counts are summed once, then
 * each merge updates only the words that contain the merged pair (an index
 * from pair to words) and adjusts the neighbouring pair counts by the
 * word's frequency; a max-heap with lazy deletion picks the next pair. The
 * most frequent pair wins; ties go to the smaller (left, right) ids.
 * Learning stops early when no pair occurs at least twice. */
#ifndef L1B_BPE_H
#define L1B_BPE_H

#include <stddef.h>
#include <stdint.h>

#include "tokenizer.h"

#define BPE_MAX_WORDS (1u << 21)

typedef struct BpeCounter BpeCounter;

BpeCounter *bpe_counter_new(void);
void bpe_counter_free(BpeCounter *c);
/* Count one occurrence of a pre-token (1..PRETOK_MAX bytes). */
void bpe_counter_add(BpeCounter *c, const uint8_t *s, size_t n);
size_t bpe_counter_words(const BpeCounter *c);
/* Number of prunings so far (0: every pre-token was counted exactly). */
unsigned bpe_counter_prunes(const BpeCounter *c);

/* Learn up to n_merges merges and build the tokenizer. The final
 * segmentation of every counted word seeds the tokenizer's cache, so the
 * encoding pass over the same text is mostly lookups. progress, if not
 * NULL, is called now and then with the merges done so far. */
void bpe_learn(BpeCounter *c, uint32_t n_merges, Tokenizer *out,
               void (*progress)(uint32_t done, uint32_t total, void *ctx), void *ctx);

#endif
