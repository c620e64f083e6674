/* ckpt: training checkpoints, the kind-1 model files (man l1b-format(5))
 * a training run saves and resumes from, in the section container of
 * container.h.
 *
 * Sections: CONF (model shape), TOKZ (the tokenizer record), PARM (all
 * parameters, f32), ADAM (AdamW first then second moments, f32), STAT
 * (training state), HIST (metric history). An inference file (packed.h)
 * has CONF, TOKZ and HIST too: their encoding is here, at the end, for
 * both kinds. */
#ifndef L1B_CKPT_H
#define L1B_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "container.h"
#include "model.h"
#include "tokenizer.h"
#include "util.h"

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

/* A training setting changed in the course of a model's training: an
 * option given on --resume (l1b-train --lr, --min-lr, --warmup, --steps,
 * --batch) or the schedule's length set by --schedule-time. Stored in the
 * CHNG section, which a checkpoint has only when something changed (man
 * l1b-format(5)). setting_names spells the settings as l1b-train's options
 * do, change_cause_names the causes. */
enum { SET_LR, SET_MIN_LR, SET_WARMUP, SET_STEPS, SET_BATCH, SET_COUNT };
enum { CHANGE_RESUME, CHANGE_SCHEDULE_TIME, CHANGE_CAUSES };
extern const NameValue setting_names[], change_cause_names[];
typedef struct {
    uint64_t step;      /* the step reached when it changed */
    uint32_t setting;   /* SET_* */
    uint32_t cause;     /* CHANGE_* */
    double was, now;    /* the old and the new value */
} SettingChange;
#define CKPT_CHANGE_SIZE 32

typedef struct {
    ModelConfig cfg;
    uint8_t *tok_record;
    size_t tok_record_size;
    float *params;          /* n_params */
    float *adam_m, *adam_v; /* n_params each */
    TrainState st;
    HistRow *hist;
    size_t n_hist;
    SettingChange *changes;  /* n_changes of them, oldest first; NULL: none */
    size_t n_changes;
    size_t n_params;
} Checkpoint;

/* A checkpoint view of a model in memory (its blocks, not copies) and a
 * tokenizer record; the caller fills st and hist. For ckpt_write. */
Checkpoint ckpt_of_model(const Model *m, const uint8_t *tok_record, size_t tok_record_size);
/* Write atomically (temp file, fsync, rename). The pointers are only read. */
int ckpt_write(const char *path, const Checkpoint *ck);
/* Read and check everything: structure, checksums, shapes, tokenizer,
 * history, training state, and that every weight and optimizer moment is
 * finite. Training checkpoints only: an inference file is refused with a
 * hint to convert it. Allocates; free with ckpt_free. CKPT_WEIGHTS_ONLY
 * leaves the optimizer moments out (adam_m, adam_v NULL) after checking
 * them. */
#define CKPT_WEIGHTS_ONLY 1
int ckpt_read(const char *path, Checkpoint *ck, int flags);
/* The same from a model file already open (container_open). */
int ckpt_read_from(const Container *f, Checkpoint *ck, int flags);
void ckpt_free(Checkpoint *ck);

/* The settings changes of the model file at path: none (0, *changes NULL)
 * for an inference file or a checkpoint without a CHNG section. The
 * section is checked as ckpt_read checks it; *changes is malloc'ed. */
int ckpt_read_changes(const char *path, SettingChange **changes, size_t *n_changes);

/* ---- the sections both kinds of model file have ------------------------- */

#define CKPT_CONF_SIZE 64
/* The CONF section of a model shape. */
void ckpt_encode_conf(const ModelConfig *c, uint8_t b[CKPT_CONF_SIZE]);
/* The HIST section of n_hist rows, malloc'ed, its size in *size. */
uint8_t *ckpt_encode_hist(const HistRow *hist, size_t n_hist, size_t *size);
/* CONF, TOKZ (checked against the vocabulary) and HIST of an open model
 * file, decoded and checked; *tok_record and *hist are malloc'ed (and may
 * be set on failure too: the caller frees them either way). */
int ckpt_read_common(const Container *f, ModelConfig *cfg, uint8_t **tok_record, size_t *tok_record_size,
                     HistRow **hist, size_t *n_hist);

#endif
