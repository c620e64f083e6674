/* train: a whole training run — data, model, schedule, evaluation, logging,
 * checkpoints, resume and stopping — behind one call, so l1b-train's main()
 * only parses options. */
#ifndef L1B_TRAIN_H
#define L1B_TRAIN_H

#include <stdint.h>

#include "model.h"

/* Options as given; the *_set flags say which were given explicitly (on
 * --resume the file's values win, and a different explicit value is an
 * error, except for the per-session ones: steps, time, eval/save cadence,
 * log, threads, verbosity). */
typedef struct {
    const char *model_path;   /* -o */
    const char *data_path;    /* NULL or "-": stdin */
    const char *val_path;     /* --val */
    const char *log_path;     /* --log */
    ModelConfig cfg;          /* vocab comes from the data */
    int dim_set, layers_set, heads_set, hidden_set, ctx_set, ffn_set, quant_set;
    uint64_t steps;
    double time_budget;       /* seconds, 0: none */
    uint64_t until;           /* stop after this step of the schedule, 0: none */
    uint32_t batch, accum, warmup, batching, eval_every, eval_batches, save_every;
    float lr, min_lr, wd, clip, val_frac;
    uint64_t seed;
    int steps_set, batch_set, accum_set, warmup_set, batching_set, lr_set, min_lr_set, wd_set, clip_set,
        val_frac_set, seed_set;
    int resume, threads, quiet, verbose, profile;
} TrainOptions;

void train_options_default(TrainOptions *o);
/* Run; returns the process exit status (0 done or time budget spent,
 * 1 error, 128 + signal when stopped by SIGINT or SIGTERM after saving). */
int train_run(const TrainOptions *o);

#endif
