/* tokenizer: the vocabulary shared by every program, and how text maps to
 * token ids and back.
 *
 * Ids: 0..255 are the bytes themselves, 256 is end-of-document (the only
 * special token), and 257 + i is BPE merge i, the concatenation of the two
 * tokens merges[2i] and merges[2i+1]. So n_vocab = 257 + n_merges, at most
 * 65536 (ids fit in 16 bits), and no byte string is ever out of vocabulary.
 *
 * Encoding splits text into pre-tokens (pretok.h) and applies the merges
 * inside each pre-token in rank order, like the training that learned them;
 * a cache of recent pre-tokens makes repeated words a single lookup. */
#ifndef L1B_TOKENIZER_H
#define L1B_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "strtab.h"

enum { TOK_KIND_BYTES = 1, TOK_KIND_BPE = 2 };

#define TOK_EOD 256u           /* end of document */
#define TOK_FIRST_MERGE 257u
#define TOK_MAX_VOCAB 65536u
#define TOK_RECORD_FIXED 20u   /* record bytes before the merge list */

typedef struct {
    uint32_t kind;        /* TOK_KIND_BYTES or TOK_KIND_BPE */
    uint32_t n_vocab;     /* 257 + n_merges */
    uint32_t n_merges;
    uint16_t *merges;     /* (n_merges, 2) */

    /* derived: token t stands for bytes[piece_off[t] .. piece_off[t+1]) */
    uint32_t *piece_off;  /* (n_vocab + 1) */
    uint8_t *pieces;

    /* merge rank lookup: key (left << 16 | right) -> rank, open addressing */
    uint32_t *rank_key, *rank_val;
    uint32_t rank_mask;

    /* encoder cache: pre-token bytes -> offset into cache_ids, where the
     * id count is followed by the ids */
    StrTab cache;
    uint16_t *cache_ids;
    size_t cache_ids_used, cache_ids_cap;
} Tokenizer;

/* The byte tokenizer: 256 bytes + end-of-document. */
void tok_init_bytes(Tokenizer *t);
/* A BPE tokenizer from its merge list (n_merges pairs); -1 (with a message
 * naming `name`) if a merge refers to an id not yet defined or to the
 * end-of-document token, or the vocabulary would exceed 65536. */
int tok_init_bpe(Tokenizer *t, const uint16_t *merges, uint32_t n_merges, const char *name);
void tok_free(Tokenizer *t);

/* The serialised tokenizer record, as stored in token streams and model
 * files (man l1b-format(5)): 5 little-endian u32 (kind, pre-tokenizer
 * version, n_vocab, n_special, n_merges) then n_merges (u16 left, u16 right). */
size_t tok_record_size(const Tokenizer *t);
void tok_record_write(const Tokenizer *t, uint8_t *out);
/* Parse and validate a record of exactly n bytes. */
int tok_record_read(Tokenizer *t, const uint8_t *p, size_t n, const char *name);

/* Bytes token id stands for (none for end-of-document). id < n_vocab. */
static inline const uint8_t *tok_bytes(const Tokenizer *t, uint32_t id, size_t *len)
{
    *len = t->piece_off[id + 1] - t->piece_off[id];
    return t->pieces + t->piece_off[id];
}

/* Encode one pre-token (1..PRETOK_MAX bytes) into out (room for n ids);
 * returns the number of ids written. */
size_t tok_encode_piece(Tokenizer *t, const uint8_t *s, size_t n, uint16_t *out);
/* Encode a whole text held in memory (no document splitting) into out,
 * which has room for n ids; returns the count. */
size_t tok_encode_text(Tokenizer *t, const uint8_t *s, size_t n, uint16_t *out);
/* Seed the cache with a known segmentation (used after BPE training, whose
 * final word segmentations are exactly what encoding would compute). */
void tok_cache_put(Tokenizer *t, const uint8_t *s, size_t n, const uint16_t *ids, size_t n_ids);

/* The tokenizer of a token stream (tokstream.h) or of a model file of
 * either kind (ckpt.h, packed.h), told apart by the magic; either file is
 * read and checked whole. */
int tokenizer_from_file(const char *path, Tokenizer *t);

#endif
