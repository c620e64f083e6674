/* train: a whole training run — data, model, schedule, evaluation,
 * checkpoints, resume and stopping — behind one call. It prints nothing:
 * what a person sees (progress, metric lines, the TSV log) is the caller's,
 * through the TrainReport callbacks (l1b-train's are in cmd/l1b-train.c). */
#ifndef L1B_TRAIN_H
#define L1B_TRAIN_H

#include <stdint.h>

#include "ckpt.h"
#include "model.h"

/* Options as given; the *_set flags say which were given explicitly (on
 * --resume the file's values win, and a different explicit value is an
 * error, except for the per-session ones — time, until, eval/save cadence,
 * keep-best, schedule-time, threads — and those a resumed run may change
 * for fine-tuning: lr, min-lr, warmup, steps and batch, each then told
 * through the note callback and recorded in the checkpoint's changes,
 * ckpt.h SettingChange). */
typedef struct {
    const char *model_path;   /* -o */
    const char *data_path;    /* NULL or "-": stdin */
    const char *val_path;     /* --val */
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
    int resume, threads;
    /* also write the checkpoint here whenever an evaluation has the lowest
     * validation loss of the model's whole history (strictly lower than
     * every earlier one); an error without validation data. NULL: none */
    const char *best_path;
    /* with time_budget: before the first step, time a step (and estimate
     * an evaluation) without training, and set the schedule's length to
     * the step reached plus the steps this session's --time allows, 5%
     * spare (a change with cause CHANGE_SCHEDULE_TIME) */
    int schedule_time;
} TrainOptions;

void train_options_default(TrainOptions *o);
/* The training state of a fresh run, from options: settings, step 0 and
 * the seeded random-number state (also what `l1b-ckpt convert --unpack`
 * stores). */
void train_state_from_options(TrainState *s, const TrainOptions *o);

/* What the run is about to do, once set-up is done. */
typedef struct {
    const ModelConfig *cfg;
    size_t n_params;
    const TrainState *st;          /* settings and the step it starts from */
    uint64_t train_tokens, n_eval; /* validation batches per evaluation */
    uint64_t bucket_batches;       /* per epoch, bucket batching */
    double pad_share;              /* bucket batching's padding */
    int threads;                   /* per rank */
    int ranks;                     /* processes training together (mpirun); 1 alone */
    double exchange_bytes;         /* sent by each rank per step, about: 0 alone */
    /* the model being trained and its tokenizer, for the callbacks to read
     * (a sample at an evaluation, say: infer_init from model->params);
     * valid until train_run returns; never to be written */
    const Model *model;
    const Tokenizer *tok;
} TrainStart;

/* Why a run ended (TrainEnd), or which end a running one heads for
 * (TrainTick). */
typedef enum {
    TRAIN_STOP_SCHEDULE,  /* the schedule's last step (--steps) */
    TRAIN_STOP_UNTIL,     /* the step given by --until */
    TRAIN_STOP_TIME,      /* --time spent */
    TRAIN_STOP_SIGNAL,    /* SIGINT or SIGTERM (TrainEnd.signal) */
    TRAIN_STOP_NOTHING    /* resumed at or past the end (schedule or --until): no step to do */
} TrainStop;

/* A step that was not evaluated: for a live progress line. The run ends at
 * whichever of end_step (the schedule's end or --until) and --time comes
 * first; ends_by says which, eta_seconds is the time left till then and
 * done the share of the way there (of the schedule for steps, of this
 * session's --time for time). */
typedef struct {
    uint64_t step, total_steps, end_step;
    double loss, ms_per_step, eta_seconds, done;
    TrainStop ends_by;
} TrainTick;

/* How a run ended, when it did not fail. */
typedef struct {
    TrainStop stop;
    int signal;                   /* TRAIN_STOP_SIGNAL: its number */
    uint64_t step, total_steps;   /* reached; the schedule's length */
    uint64_t steps_run;           /* in this session */
    uint64_t tokens_run;          /* trained on in this session, every rank's */
    double seconds;               /* this session's wall time, set-up and the last save included */
    const char *saved;            /* the checkpoint written at the end; NULL: nothing to save (step 0) */
    /* the model's last and best (lowest validation loss, earliest on a
     * tie) evaluations over its whole history; NULL: never validated */
    const HistRow *last_val, *best_val;
} TrainEnd;

/* Callbacks; any may be NULL. started and row may return -1 after
 * l1b_error() to stop the run (a log that cannot be written, say): the run
 * then saves what it has and returns -1. */
typedef struct {
    void *ctx;
    int (*started)(void *ctx, const TrainStart *s);
    void (*tick)(void *ctx, const TrainTick *t);
    int (*row)(void *ctx, const HistRow *row, uint64_t total_steps);
    /* no validation after all (no data, or too little for one batch) */
    void (*note)(void *ctx, const char *message);
    /* the run is over and saved (not called when it fails) */
    void (*finished)(void *ctx, const TrainEnd *e);
} TrainReport;

/* Run. Returns 0 when the schedule, --time or --until is done, the signal
 * number when SIGINT or SIGTERM stopped it (after saving), -1 on error
 * (l1b_error).
 *
 * Data parallel: when the program was started as several processes (ranks,
 * dist.h: mpirun), every rank calls train_run with the same options and
 * they train one model together. A step is then `accum` micro-batches in
 * all (--accum times the ranks, for a new run; a resumed run keeps the
 * file's count, whatever the number of ranks), dealt out in rounds of one
 * per rank, and the result is the same to the bit as one process training
 * with that --accum (train.c, step_ranks). Rank 0 alone writes the
 * checkpoint, validates and reports (the other ranks' report is silent);
 * every rank returns the same value, and on an error rank 0's message
 * names the rank that failed. */
int train_run(const TrainOptions *o, const TrainReport *report);

#endif
