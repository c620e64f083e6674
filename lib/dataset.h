/* dataset: training data from a token stream file, read at random offsets
 * with pread (so the file may exceed RAM and a 32-bit address space), and
 * the batches a training step consumes.
 *
 * A batch is B rows; row r predicts targets tokens[pos .. pos+len) from
 * inputs tokens[pos-1 .. pos+len-1), where the token before the start of
 * the file counts as end-of-document, so every document is predicted from
 * an end-of-document "beginning" token. Rows shorter than the batch's T are
 * padded on the right and their padding is masked out of the loss (target
 * -1); with causal attention no real token ever sees the padding.
 *
 *   pack    rows of exactly T tokens at random offsets (the RNG decides)
 *   bucket  whole documents (split into T-token pieces when longer), sorted
 *           by length and cut into batches of similar lengths, so T is the
 *           batch's longest row; batch order is shuffled per epoch */
#ifndef L1B_DATASET_H
#define L1B_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "rng.h"
#include "tokenizer.h"
#include "util.h"

typedef struct {
    char *path;            /* for messages */
    int fd;
    char *spool_path;      /* stdin copied to a temporary file, or NULL */
    Tokenizer tok;
    uint8_t *tok_record;   /* the serialised tokenizer, to compare files */
    size_t tok_record_size;
    uint32_t header_size;
    uint64_t n_tokens;
    uint32_t crc;          /* of the token bytes */
    uint64_t *doc_ends;    /* positions just past each end-of-document */
    uint64_t n_docs;
} TokenFile;

/* Open and fully check a token stream ("-" is stdin, copied aside first if
 * it is not a regular file): header, size, trailer, every id and the
 * checksum. want_docs: also index the end-of-document tokens. */
int tokfile_open(TokenFile *f, const char *path, int want_docs);
void tokfile_close(TokenFile *f);
/* Tokens [start, start+n) into out; -1 on a read error. */
int tokfile_read(const TokenFile *f, uint64_t start, size_t n, uint16_t *out);

enum { BATCH_PACK = 0, BATCH_BUCKET = 1 };
/* "pack", "bucket" (util.h) */
extern const NameValue batching_names[];

typedef struct {
    uint64_t pos;
    uint32_t len;
} Row;

typedef struct {
    const TokenFile *file;
    uint64_t begin, end;   /* token range this batcher draws from */
    int mode;
    uint32_t B, T;
    /* bucket mode: rows sorted by length, grouped into batches */
    Row *rows;
    uint64_t n_rows, n_batches;
    uint32_t *order;       /* batch order of the current epoch */
    uint64_t order_epoch;  /* epoch the order was made for (+1), 0 none */
    uint64_t seed;
    double pad_share;      /* padding slots / all slots over one epoch */
} Batcher;

/* Rows from tokens [begin, end) of f. Pack needs end - begin > T; bucket
 * needs f opened with want_docs. */
int batcher_init(Batcher *b, const TokenFile *f, uint64_t begin, uint64_t end, int mode,
                 uint32_t B, uint32_t T, uint64_t seed);
void batcher_free(Batcher *b);

/* Fill inputs and targets (B, T) for batch number `index` of the run. Pack
 * draws offsets from rng; bucket takes batch `index` of the shuffled epoch
 * order and does not touch rng. Returns the batch's T (<= b->T) and the
 * number of unmasked targets in *n_targets; -1 on a read error. */
int batcher_fill(Batcher *b, uint64_t index, Rng *rng, int *inputs, int *targets,
                 size_t *n_targets);

/* Fixed evaluation batches: the i-th batch of consecutive T-token rows of
 * [begin, end), no randomness. Returns the number of such batches. */
uint64_t eval_batches(uint64_t begin, uint64_t end, uint32_t B, uint32_t T);
int eval_fill(const TokenFile *f, uint64_t begin, uint64_t end, uint64_t i, uint32_t B, uint32_t T,
              int *inputs, int *targets, size_t *n_targets);

#endif
