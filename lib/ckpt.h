/* ckpt: model files (man l1b-format(5)).
 *
 *   0   8  "L1BMODEL"
 *   8   4  version (1)
 *   12  4  kind: 1 training checkpoint
 *   16  4  n_sections (<= 16)
 *   20  4  CRC-32 of bytes 0..19 followed by the section table
 *   24  8  zero
 *   32     section table, n_sections x 32 bytes:
 *            u32 tag (4 ASCII bytes), u32 zero, u64 offset, u64 size,
 *            u32 CRC-32 of the section, u32 zero
 *   sections at offsets that are multiples of 64, in table order, zero
 *   padding between; the file ends where the last section ends.
 *
 * Sections of a training checkpoint: CONF (model shape), TOKZ (the
 * tokenizer record), PARM (all parameters, f32), ADAM (AdamW first then
 * second moments, f32), STAT (training state), HIST (metric history). */
#ifndef L1B_CKPT_H
#define L1B_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "tokenizer.h"

#define CKPT_MAGIC "L1BMODEL"
#define CKPT_VERSION 1u
#define CKPT_KIND_TRAIN 1u

/* Where a training run stands, and the settings that define its course. */
typedef struct {
    uint64_t step;          /* optimizer updates done */
    uint64_t tokens_seen;   /* training targets consumed */
    uint64_t batch_index;   /* micro-batches drawn */
    uint64_t rng_state;
    double elapsed;         /* seconds of training so far, all sessions */
    uint64_t total_steps;   /* the schedule's length */
    uint64_t seed;
    float lr, min_lr, wd, clip;
    uint32_t warmup, batch, accum, batching;
    float val_frac;
    uint64_t data_tokens;   /* size and checksum of the training data */
    uint32_t data_crc;
} TrainState;

/* One row of metrics; NAN where not measured (val_* between evaluations). */
enum {
    H_STEP, H_TOKENS, H_TRAIN_LOSS, H_VAL_LOSS, H_VAL_PPL, H_VAL_BPB, H_VAL_ACC, H_LR, H_GRAD_NORM,
    H_ZERO_SHARE, H_TOK_PER_S, H_MS_PER_STEP, H_ELAPSED, H_COLS
};
extern const char *const hist_names[H_COLS];
typedef struct { double v[H_COLS]; } HistRow;

typedef struct {
    ModelConfig cfg;
    uint8_t *tok_record;
    size_t tok_record_size;
    float *params;          /* n_params */
    float *adam_m, *adam_v; /* n_params each */
    TrainState st;
    HistRow *hist;
    size_t n_hist;
    size_t n_params;
} Checkpoint;

/* Write atomically (temp file, fsync, rename). The pointers are only read. */
int ckpt_write(const char *path, const Checkpoint *ck);
/* Read and check everything: structure, checksums, shapes, tokenizer.
 * Allocates; free with ckpt_free. CKPT_WEIGHTS_ONLY leaves the optimizer
 * moments out (adam_m, adam_v NULL) after checking their checksum. */
#define CKPT_WEIGHTS_ONLY 1
int ckpt_read(const char *path, Checkpoint *ck, int flags);
void ckpt_free(Checkpoint *ck);

/* The tokenizer of a token stream or a model file. */
int tokenizer_from_file(const char *path, Tokenizer *t);

#endif
