/* inspect: what is inside model files and token streams — a model's
 * summary (shape, counts, tokenizer, progress, last metrics, per-slice
 * weight statistics), a full integrity check, and a model file of either
 * kind read whole. Every function reads through the checked readers
 * (ckpt.h, tokstream.h) and returns -1 with a one-line message (l1b_error)
 * on any problem. l1b-ckpt shows the results (cmd/common/report.h). */
#ifndef L1B_INSPECT_H
#define L1B_INSPECT_H

#include <stddef.h>
#include <stdint.h>

#include "ckpt.h"
#include "packed.h"
#include "tokenizer.h"

/* One ternary layer slice after quantisation: its weights' share of -1, 0
 * and +1 and its scale (dequantised weight = q * scale). */
typedef struct {
    uint64_t minus, zero, plus;
    float scale;
} SliceStats;
void slice_stats(const PackedTernary *p, SliceStats *s);

typedef struct {
    const char *path;
    uint32_t kind;                 /* CKPT_KIND_TRAIN or CKPT_KIND_INFER */
    PackedModel pm;
    TrainState st;                 /* training checkpoints only */
    Tokenizer tok;
    TensorInfo info[N_TENSORS];
    uint64_t n_params, n_ternary, file_bytes;
    /* from the state (training checkpoints) or the last history row */
    int have_step, have_total;
    uint64_t step, total_steps, tokens_seen;
    double train_loss, val_loss, val_bpb, train_step, val_step;  /* NAN: none */
} ModelSummary;

int model_summary_read(ModelSummary *s, const char *path);
void model_summary_free(ModelSummary *s);

/* Every checksum and structural invariant of a model file or token stream
 * (told apart by magic), plus finite weights and a sane training state;
 * 0 if all is well. */
int inspect_verify(const char *path);

/* A model file of either kind (packed_model_read), with a clear message
 * when path is a token stream instead. */
int inspect_read_model(const char *path, PackedModel *pm);

#endif
