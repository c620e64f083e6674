/* ckpt: model files (man l1b-format(5)).
 *
 *   0   8  "L1BMODEL"
 *   8   4  version (1)
 *   12  4  kind: 1 training checkpoint, 2 inference file
 *   16  4  n_sections (<= 16)
 *   20  4  CRC-32 of bytes 0..19 followed by the section table
 *   24  8  zero
 *   32     section table, n_sections x 32 bytes:
 *            u32 tag (4 ASCII bytes), u32 zero, u64 offset, u64 size,
 *            u32 CRC-32 of the section, u32 zero
 *   sections at offsets that are multiples of 64, in table order, each at
 *   the first such offset after the previous one (or the table), with zero
 *   padding between; the file ends where the last section ends. So every
 *   byte is covered by a CRC or must be zero.
 *
 * Sections of a training checkpoint: CONF (model shape), TOKZ (the
 * tokenizer record), PARM (all parameters, f32), ADAM (AdamW first then
 * second moments, f32), STAT (training state), HIST (metric history).
 *
 * An inference file has CONF, TOKZ and HIST as above and, for a ternary
 * model, instead of the parameters:
 *   FLTS  the float tensors (tok_emb, attn_norm, ffn_norm, final_norm,
 *         head) as f32, in tensor-table order, 4 * n_float bytes;
 *   TERN  the BitLinear weights after quantisation, as S layer slices in
 *         tensor-table order (wq[0..L-1], wk.., wv.., wo.., w_gate.. (SwiGLU
 *         only), w_up.., w_down..): S f32 scales, zero padding to a multiple
 *         of 64 bytes, then each slice packed as ternary.h packs it (rows x
 *         ceil(cols/64) blocks of 16 bytes, 2 bits a weight, code = w + 1,
 *         padding codes 1; for a sign model blocks of 8 bytes, 1 bit a
 *         weight, padding bits 0);
 *   TRIT  instead of TERN (l1b-ckpt convert --pack --bits 1.6, ternary
 *         schemes): the same with the slices in base-3 packing, rows x
 *         ceil(cols/80) blocks of 16 bytes, five weights a byte.
 * A float (--quant f32) model keeps PARM instead. No optimizer state, no
 * training state. */
#ifndef L1B_CKPT_H
#define L1B_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "q8.h"
#include "ternary.h"
#include "tokenizer.h"

#define CKPT_MAGIC "L1BMODEL"
#define CKPT_VERSION 1u
#define CKPT_KIND_TRAIN 1u
#define CKPT_KIND_INFER 2u

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

/* A checkpoint view of a model in memory (its blocks, not copies) and a
 * tokenizer record; the caller fills st and hist. For ckpt_write. */
Checkpoint ckpt_of_model(const Model *m, const uint8_t *tok_record, size_t tok_record_size);
/* Write atomically (temp file, fsync, rename). The pointers are only read. */
int ckpt_write(const char *path, const Checkpoint *ck);
/* Read and check everything: structure, checksums, shapes, tokenizer.
 * Training checkpoints only: an inference file is refused with a hint to
 * convert it. Allocates; free with ckpt_free. CKPT_WEIGHTS_ONLY leaves the
 * optimizer moments out (adam_m, adam_v NULL) after checking their
 * checksum. */
#define CKPT_WEIGHTS_ONLY 1
int ckpt_read(const char *path, Checkpoint *ck, int flags);
void ckpt_free(Checkpoint *ck);

/* A model for inference: what an inference file holds, or a training
 * checkpoint quantised in memory. */
typedef struct {
    ModelConfig cfg;
    uint8_t *tok_record;
    size_t tok_record_size;
    HistRow *hist;
    size_t n_hist;
    /* each float tensor in its own allocation of layers x rows x cols
     * floats; in a ternary model the BitLinear tensors are NULL here */
    float *t[N_TENSORS];
    /* ternary models: each BitLinear tensor as its L packed layer slices;
     * NULL for float tensors, a ReLU² model's w_gate, and f32 models */
    PackedTernary *packed[N_TENSORS];
    /* with CKPT_Q8_TABLES: tok_emb and head as int8 rows (layers x rows
     * of them), and NULL in t[] */
    Q8Matrix q8[N_TENSORS];
    uint32_t packing;  /* of every slice in packed[] (TernaryPacking) */
} PackedModel;

/* The kind of a model file (CKPT_KIND_*), from its checked header only. */
int ckpt_kind(const char *path, uint32_t *kind);
/* Read either kind, checked like ckpt_read (for an inference file also
 * that every ternary code is 0..2, padding codes are 1 and scales are
 * finite and >= 0); a training checkpoint is quantised with its scheme.
 * kind and st may be NULL; st gets the training state of a checkpoint and
 * zeros for an inference file. Free with packed_model_free. */
int ckpt_read_packed(const char *path, PackedModel *pm, uint32_t *kind, TrainState *st, int flags);
/* ckpt_read_packed flag: the embedding table and the output head arrive as
 * int8 rows (q8.h) in pm->q8, quantised row by row as they are read. Such
 * a PackedModel is for inference only, not for writing. */
#define CKPT_Q8_TABLES 1
/* Write pm as an inference file, atomically. */
int ckpt_write_packed(const char *path, const PackedModel *pm);
void packed_model_free(PackedModel *pm);

/* Quantise and pack a checkpoint's weights (the conversion l1b-sample
 * does on loading, and convert --pack). Copies; ck is unchanged. */
void ckpt_pack(const Checkpoint *ck, PackedModel *pm);
/* A trainable checkpoint from pm: float tensors as they are; BitLinear
 * shadow weights w = q * m with m chosen per slice so that quantising w
 * again gives back exactly q and the stored scale (for absmean, m is
 * scale / (share of non-zero weights), rounded to fit: plain q * scale
 * would quantise to a smaller scale, a different model). Zero optimizer
 * moments, the training state st, the history kept. Returns the number of
 * slices whose scale could not be reproduced bit for bit (0 normally). */
size_t ckpt_unpack(const PackedModel *pm, const TrainState *st, Checkpoint *ck);

/* Every packed slice of pm in another packing of the same weights
 * (PACK_2BIT or PACK_BASE3, for a ternary scheme). */
void packed_model_repack(PackedModel *pm, uint32_t packing);

/* Sizes in bytes of an inference file's FLTS section, and of its TERN or
 * TRIT section with the given packing. */
uint64_t ckpt_flts_size(const ModelConfig *c);
uint64_t ckpt_tern_size(const ModelConfig *c, uint32_t packing);

/* The tokenizer of a token stream or a model file of either kind. */
int tokenizer_from_file(const char *path, Tokenizer *t);

#endif
