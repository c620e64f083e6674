/* tokenizer: the vocabulary shared by every program, and how text maps to
 * token ids and back.
 *
 * Ids: 0..255 are the bytes themselves, 256 is end-of-document (the only
 * special token), 257 + i is BPE merge i, the concatenation of the two
 * tokens merges[2i] and merges[2i+1], and 257 + n_merges + j is user symbol
 * j, a string of 1..TOK_SYMBOL_MAX bytes that always stays one token. So
 * n_vocab = 257 + n_merges + n_symbols, at most 65536 (ids fit in 16 bits),
 * and no byte string is ever out of vocabulary.
 *
 * Encoding cuts the text at every user symbol (leftmost, longest first),
 * splits the text between them into pre-tokens (pretok.h) as if each cut
 * were the end of the input, and applies the merges inside each pre-token
 * in rank order, like the training that learned them; a cache of recent
 * pre-tokens makes repeated words a single lookup. */
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
#define TOK_SYMBOL_MAX 64u     /* bytes in a user symbol (PRETOK_MAX) */
#define TOK_MAX_SYMBOLS 1024u
/* the largest valid record: every merge, and the symbols at their longest */
#define TOK_RECORD_MAX \
    (TOK_RECORD_FIXED + 4u * (TOK_MAX_VOCAB - TOK_FIRST_MERGE) + TOK_MAX_SYMBOLS * (2u + TOK_SYMBOL_MAX))
/* bytes tok_split needs to see ahead of a cut, unless the input ends sooner */
#define TOK_SPLIT_LOOKAHEAD (2u * TOK_SYMBOL_MAX + 2u)

typedef struct {
    uint32_t kind;        /* TOK_KIND_BYTES or TOK_KIND_BPE */
    uint32_t n_vocab;     /* 257 + n_merges + n_symbols */
    uint32_t n_merges;
    uint16_t *merges;     /* (n_merges, 2) */
    uint32_t n_symbols;   /* user symbols, ids 257 + n_merges + j */

    /* user symbols by first byte, longest first: sym_ids[sym_first[c] ..
     * sym_first[c + 1]) start with byte c */
    uint32_t sym_first[257];
    uint16_t *sym_ids;

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
/* Add user symbols to a tokenizer that has none yet: symbol j (len[j] bytes
 * at s[j], 1..TOK_SYMBOL_MAX) becomes id n_vocab + j. -1 (with a message
 * naming `name`) for an empty or too long symbol, a repeated one, more than
 * TOK_MAX_SYMBOLS or a vocabulary over 65536; the tokenizer is unchanged. */
int tok_add_symbols(Tokenizer *t, const uint8_t *const *s, const size_t *len, uint32_t n,
                    const char *name);

/* The serialised tokenizer record, as stored in token streams and model
 * files (man l1b-format(5)): 5 little-endian u32 (kind, pre-tokenizer
 * version, n_vocab, n_special = 1 + n_symbols, n_merges) then n_merges
 * (u16 left, u16 right), then each user symbol as u16 length and bytes. */
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

/* The length of the next unit of text at p, where n bytes are available
 * (n >= TOK_SPLIT_LOOKAHEAD unless the input, or the document, ends after
 * them): a user symbol starting at p, whose id goes to *symbol, or else
 * the next pre-token, cut before the first user symbol, and *symbol = 0.
 * Without user symbols this is pretok_next. */
size_t tok_split(const Tokenizer *t, const uint8_t *p, size_t n, uint32_t *symbol);

/* Encode one pre-token (1..PRETOK_MAX bytes) into out (room for n ids);
 * returns the number of ids written. */
size_t tok_encode_piece(Tokenizer *t, const uint8_t *s, size_t n, uint16_t *out);
/* Encode a whole text held in memory (no document splitting, user
 * symbols matched) into out, which has room for n ids; returns the count. */
size_t tok_encode_text(Tokenizer *t, const uint8_t *s, size_t n, uint16_t *out);
/* Seed the cache with a known segmentation (used after BPE training, whose
 * final word segmentations are exactly what encoding would compute). */
void tok_cache_put(Tokenizer *t, const uint8_t *s, size_t n, const uint16_t *ids, size_t n_ids);

/* The tokenizer of a token stream (tokstream.h) or of a model file of
 * either kind (ckpt.h, packed.h), told apart by the magic; either file is
 * read and checked whole. */
int tokenizer_from_file(const char *path, Tokenizer *t);

#endif
