#include "train.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt.h"
#include "crc32.h"
#include "dataset.h"
#include "dist.h"
#include "kernels.h"
#include "optim.h"
#include "profile.h"
#include "threads.h"
#include "util.h"

void train_options_default(TrainOptions *o)
{
    memset(o, 0, sizeof *o);
    o->cfg.dim = 128;
    o->cfg.n_layers = 4;
    o->cfg.n_heads = 4;
    o->cfg.ctx = 64;
    o->cfg.ffn_act = FFN_SWIGLU;
    o->cfg.quant = QUANT_ABSMEAN;
    o->steps = 2000;
    o->batch = 12;
    o->accum = 1;
    o->warmup = 100;
    o->batching = BATCH_PACK;
    o->eval_every = 200;
    o->eval_batches = 50;
    o->save_every = 500;
    o->lr = 1e-3f;
    o->min_lr = 1e-4f;
    o->wd = 0.1f;
    o->clip = 1.0f;
    o->val_frac = 0.1f;
    o->seed = 1337;
}

typedef struct {
    const TrainOptions *o;
    TokenFile data, valdata;
    const TokenFile *valf;
    uint64_t train_begin, train_end, val_begin, val_end, n_eval;
    Batcher batcher;
    Model m;
    TrainState st;
    OptimConfig oc;
    Rng rng;
    HistRow *hist;
    size_t n_hist, cap_hist;
    int *inputs, *targets;
    const TrainReport *rep;
    int report_failed;   /* a callback stopped the run: save all the same */
    int lock_fd;
    /* one process, more than one micro-batch a step: a micro-batch's
     * gradient, computed whole, then added to grads in order */
    float *scratch;
    /* Data parallel (dist.h): this process is rank `rank` of `ranks`. Each
     * rank owns a shard of the parameters, [shard_off[r], +shard_len[r]),
     * cut at grad_norm's blocks (block_off, block_len), and keeps only its
     * shard's AdamW moments (mom: m, then v): ZeRO stage 1. The shard's
     * summed gradient goes to acc when a step has several rounds of
     * micro-batches, else into the shard's own place in grads. */
    int rank, ranks;
    size_t *shard_off, *shard_len, *block_off, *block_len;
    float *acc, *mom;
    int *skip_inputs, *skip_targets;  /* the other ranks' micro-batches, drawn and dropped */
    /* the session's end and cadence: rank 0's options, so that every rank
     * stops, evaluates and saves at the same steps */
    uint64_t until, eval_every, save_every;
    float *file_m, *file_v;  /* rank 0, resuming: the moments read, until dealt out */
    int resumed;             /* from the file's state */
    TrainStop stop;          /* why the loop ended */
    uint64_t steps_run, tokens_run;  /* in this session */
    SettingChange *changes;  /* the model's settings changes (ckpt.h), saved with it */
    size_t n_changes;
    double best_val;         /* the lowest validation loss of the history; INFINITY: none */
} Trainer;

static volatile sig_atomic_t stop_signal;

/* ---- set-up ----------------------------------------------------------- */

static int same_tokenizer(const TokenFile *a, const uint8_t *rec, size_t n)
{
    return a->tok_record_size == n && !memcmp(a->tok_record, rec, n);
}

/* A setting changed (on --resume, or by --schedule-time): recorded for the
 * checkpoint and told through the note callback. */
static void change_setting(Trainer *tr, uint32_t setting, uint32_t cause, double was, double now)
{
    tr->changes = xrealloc(tr->changes, (tr->n_changes + 1) * sizeof *tr->changes);
    tr->changes[tr->n_changes++] = (SettingChange){tr->st.step, setting, cause, was, now};
    if (cause == CHANGE_RESUME && tr->rep->note) {
        char msg[128];
        snprintf(msg, sizeof msg, "--%s %g (was %g)", name_of(setting_names, (int)setting), now, was);
        tr->rep->note(tr->rep->ctx, msg);
    }
}

/* explicit option vs stored value on resume */
#define CONFLICT(flag, given, stored, name)                                                      \
    do {                                                                                        \
        if ((flag) && (given) != (stored))                                                      \
            return l1b_error("%s: --%s differs from the model being resumed (%g there)",       \
                             o->model_path, name, (double)(stored));                            \
    } while (0)

static int resume_from(Trainer *tr, Checkpoint *ck)
{
    const TrainOptions *o = tr->o;
    const ModelConfig *c = &ck->cfg;
    CONFLICT(o->dim_set, o->cfg.dim, c->dim, "dim");
    CONFLICT(o->layers_set, o->cfg.n_layers, c->n_layers, "layers");
    CONFLICT(o->heads_set, o->cfg.n_heads, c->n_heads, "heads");
    CONFLICT(o->hidden_set, o->cfg.hidden, c->hidden, "hidden");
    CONFLICT(o->ctx_set, o->cfg.ctx, c->ctx, "ctx");
    if (o->ffn_set && o->cfg.ffn_act != c->ffn_act)
        return l1b_error("%s: --ffn-act differs from the model being resumed (%s there)", o->model_path,
                         name_of(ffn_act_names, (int)c->ffn_act));
    if (o->quant_set && o->cfg.quant != c->quant)
        return l1b_error("%s: --quant differs from the model being resumed (%s there)", o->model_path,
                         name_of(quant_names, (int)c->quant));
    const TrainState *s = &ck->st;
    /* --accum counts each rank's micro-batches; the file, a step's */
    if (tr->ranks > 1 && o->accum_set && (uint64_t)o->accum * (uint64_t)tr->ranks != s->accum)
        return l1b_error("%s: --accum %u on %d ranks (%llu micro-batches a step) differs from the model being "
                         "resumed (%u a step there)", o->model_path, o->accum, tr->ranks,
                         (unsigned long long)o->accum * (unsigned long long)tr->ranks, s->accum);
    if (tr->ranks == 1) CONFLICT(o->accum_set, o->accum, s->accum, "accum");
    if (o->batching_set && o->batching != s->batching)
        return l1b_error("%s: --batching differs from the model being resumed (%s there)", o->model_path,
                         name_of(batching_names, (int)s->batching));
    CONFLICT(o->wd_set, o->wd, s->wd, "wd");
    CONFLICT(o->clip_set, o->clip, s->clip, "clip");
    CONFLICT(o->val_frac_set, o->val_frac, s->val_frac, "val-frac");
    CONFLICT(o->seed_set, o->seed, s->seed, "seed");
    if (!same_tokenizer(&tr->data, ck->tok_record, ck->tok_record_size))
        return l1b_error("%s: tokenizer differs from that of %s (tokenize with --tokenizer %s)",
                         tr->data.path, o->model_path, o->model_path);
    if (o->steps_set && o->steps < s->step)
        return l1b_error("%s: --steps %llu is below the step already reached (%llu)", o->model_path,
                         (unsigned long long)o->steps, (unsigned long long)s->step);
    tr->st = *s;
    tr->resumed = 1;
    tr->changes = ck->changes;
    tr->n_changes = ck->n_changes;
    ck->changes = NULL;
    /* what fine-tuning may change, each a note and a recorded change */
    TrainState *t = &tr->st;
    if (o->lr_set && o->lr != t->lr) {
        change_setting(tr, SET_LR, CHANGE_RESUME, t->lr, o->lr);
        t->lr = o->lr;
    }
    if (o->min_lr_set && o->min_lr != t->min_lr) {
        change_setting(tr, SET_MIN_LR, CHANGE_RESUME, t->min_lr, o->min_lr);
        t->min_lr = o->min_lr;
    }
    if (o->warmup_set && o->warmup != t->warmup) {
        change_setting(tr, SET_WARMUP, CHANGE_RESUME, t->warmup, o->warmup);
        t->warmup = o->warmup;
    }
    if (o->steps_set && o->steps != t->total_steps) {
        change_setting(tr, SET_STEPS, CHANGE_RESUME, (double)t->total_steps, (double)o->steps);
        t->total_steps = o->steps;
    }
    if (o->batch_set && o->batch != t->batch) {
        change_setting(tr, SET_BATCH, CHANGE_RESUME, t->batch, o->batch);
        t->batch = o->batch;
    }
    model_init(&tr->m, c, t->batch);
    memcpy(tr->m.params, ck->params, tr->m.n_params * sizeof(float));
    if (tr->ranks == 1) {
        memcpy(tr->m.m, ck->adam_m, tr->m.n_params * sizeof(float));
        memcpy(tr->m.v, ck->adam_v, tr->m.n_params * sizeof(float));
    } else {  /* share_model deals them out from the file's copy */
        tr->file_m = ck->adam_m;
        tr->file_v = ck->adam_v;
        ck->adam_m = ck->adam_v = NULL;
    }
    tr->rng.s = s->rng_state;
    tr->n_hist = tr->cap_hist = ck->n_hist;
    tr->hist = ck->hist;
    ck->hist = NULL;
    return 0;
}

void train_state_from_options(TrainState *s, const TrainOptions *o)
{
    memset(s, 0, sizeof *s);
    s->total_steps = o->steps;
    s->seed = o->seed;
    s->lr = o->lr;
    s->min_lr = o->min_lr;
    s->wd = o->wd;
    s->clip = o->clip;
    s->warmup = o->warmup;
    s->batch = o->batch;
    s->accum = o->accum;
    s->batching = o->batching;
    s->val_frac = o->val_path ? 0.0f : o->val_frac;
    Rng r;
    rng_seed(&r, o->seed);
    s->rng_state = r.s;
}

static int start_fresh(Trainer *tr)
{
    const TrainOptions *o = tr->o;
    ModelConfig c = o->cfg;
    c.vocab = tr->data.tok.n_vocab;
    if (!o->hidden_set) c.hidden = model_default_hidden(c.dim, c.ffn_act);
    if (model_config_check(&c) < 0) return -1;
    if ((uint64_t)o->accum * (uint64_t)tr->ranks > 65536)
        return l1b_error("--accum %u on %d ranks makes %llu micro-batches a step (at most 65536)", o->accum,
                         tr->ranks, (unsigned long long)o->accum * (unsigned long long)tr->ranks);
    train_state_from_options(&tr->st, o);
    tr->st.accum = o->accum * (uint32_t)tr->ranks;  /* a step's micro-batches, all ranks' */
    model_init(&tr->m, &c, o->batch);
    tr->rng.s = tr->st.rng_state;
    model_init_weights(&tr->m, &tr->rng);
    return 0;
}

/* ---- ranks (dist.h) --------------------------------------------------- */

/* Whether every rank got through a stage: -1 on every rank when one failed
 * (rank 0 then holds the lowest failing rank's message). One process: rc. */
static int agree(const Trainer *tr, int rc)
{
    if (tr->ranks == 1) return rc < 0 ? -1 : 0;
    int64_t failed = rc < 0;
    dist_max_i64(&failed, 1);
    if (!failed) return 0;
    dist_share_error(rc < 0);
    return -1;
}

/* every rank must train on the same token stream: its size, checksum and
 * tokenizer; the SIMD levels may differ (a note: the weights depend on them) */
static int same_data(Trainer *tr)
{
    uint64_t mine[4] = {tr->data.n_tokens, tr->data.crc, crc32_update(0, tr->data.tok_record, tr->data.tok_record_size),
                        (uint64_t)kern.level};
    uint64_t *all = xmalloc((size_t)tr->ranks * sizeof mine);
    dist_allgather(mine, all, sizeof mine);
    int bad = 0, other_level = -1;
    for (int r = 1; r < tr->ranks && !bad; r++) {
        const uint64_t *x = all + 4 * (size_t)r;
        if (x[0] != all[0] || x[1] != all[1] || x[2] != all[2]) {
            bad = 1;
            if (x[2] != all[2])
                l1b_error("%s: rank %d reads a token stream with another tokenizer than rank 0's: every rank must "
                          "read the same data", tr->data.path, r);
            else
                l1b_error("%s: rank %d reads another token stream than rank 0 (%llu tokens, checksum %08llx; rank 0: "
                          "%llu tokens, checksum %08llx): every rank must read the same data", tr->data.path, r,
                          (unsigned long long)x[0], (unsigned long long)x[1], (unsigned long long)all[0],
                          (unsigned long long)all[1]);
        } else if (x[3] != all[3] && other_level < 0) {
            other_level = r;
        }
    }
    if (!bad && other_level > 0 && tr->rep->note) {
        char msg[256];
        snprintf(msg, sizeof msg, "rank %d computes with SIMD level %s, rank 0 with %s: the weights depend on the "
                 "levels (L1B_SIMD sets one)", other_level, simd_name((SimdLevel)all[4 * (size_t)other_level + 3]),
                 simd_name((SimdLevel)all[3]));
        tr->rep->note(tr->rep->ctx, msg);
    }
    free(all);
    if (bad && tr->rank != 0) l1b_error("rank %d: data differ from rank 0's", tr->rank);
    return bad ? -1 : 0;
}

/* the shape and training state, from rank 0 to the others, as numbers (the
 * machines may differ in word size) */
enum { SHARE_WORDS = 28 };

static uint64_t bits_of(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static double double_of(uint64_t u)
{
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static void pack_state(const Trainer *tr, uint64_t w[SHARE_WORDS])
{
    const ModelConfig *c = &tr->m.cfg;
    const TrainState *s = &tr->st;
    uint64_t v[SHARE_WORDS] = {
        c->dim, c->n_layers, c->n_heads, c->hidden, c->ctx, c->vocab, c->ffn_act, c->quant,
        s->step, s->tokens_seen, s->batch_index, s->rng_state, bits_of(s->elapsed), s->total_steps, s->seed,
        bits_of(s->lr), bits_of(s->min_lr), bits_of(s->wd), bits_of(s->clip), s->warmup, s->batch, s->accum,
        s->batching, bits_of(s->val_frac), s->data_tokens, s->data_crc, tr->rng.s, 0,
    };
    memcpy(w, v, sizeof v);
}

static void unpack_state(Trainer *tr, const uint64_t w[SHARE_WORDS], ModelConfig *c)
{
    TrainState *s = &tr->st;
    uint32_t *cf[] = {&c->dim, &c->n_layers, &c->n_heads, &c->hidden, &c->ctx, &c->vocab, &c->ffn_act, &c->quant};
    for (int i = 0; i < 8; i++) *cf[i] = (uint32_t)w[i];
    s->step = w[8];
    s->tokens_seen = w[9];
    s->batch_index = w[10];
    s->rng_state = w[11];
    s->elapsed = double_of(w[12]);
    s->total_steps = w[13];
    s->seed = w[14];
    s->lr = (float)double_of(w[15]);
    s->min_lr = (float)double_of(w[16]);
    s->wd = (float)double_of(w[17]);
    s->clip = (float)double_of(w[18]);
    s->warmup = (uint32_t)w[19];
    s->batch = (uint32_t)w[20];
    s->accum = (uint32_t)w[21];
    s->batching = (uint32_t)w[22];
    s->val_frac = (float)double_of(w[23]);
    s->data_tokens = w[24];
    s->data_crc = (uint32_t)w[25];
    tr->rng.s = w[26];
}

/* Rank 0's model (fresh or resumed) to every rank: shape, state and
 * weights whole, the moments shard by shard; then each rank keeps its
 * shard's moments only. */
static int share_model(Trainer *tr)
{
    uint64_t w[SHARE_WORDS];
    if (tr->rank == 0) pack_state(tr, w);
    dist_bcast(w, sizeof w, 0);
    if (tr->rank != 0) {
        ModelConfig c;
        unpack_state(tr, w, &c);
        model_init(&tr->m, &c, tr->st.batch);
    }
    Model *m = &tr->m;
    size_t P = m->n_params, N = (size_t)tr->ranks;
    if (P > (size_t)INT32_MAX) return l1b_error("%zu parameters are too many for one MPI exchange (2^31 at most)", P);
    dist_bcast(m->params, P * sizeof(float), 0);
    /* shards at grad_norm's blocks, as even as the blocks allow */
    size_t blocks = (P + PARALLEL_BLOCK - 1) / PARALLEL_BLOCK;
    tr->shard_off = xmalloc(4 * N * sizeof(size_t));
    tr->shard_len = tr->shard_off + N;
    tr->block_off = tr->shard_len + N;
    tr->block_len = tr->block_off + N;
    for (size_t r = 0; r < N; r++) {
        size_t b0 = blocks * r / N, b1 = blocks * (r + 1) / N;
        size_t e0 = b0 * PARALLEL_BLOCK < P ? b0 * PARALLEL_BLOCK : P, e1 = b1 * PARALLEL_BLOCK < P ? b1 * PARALLEL_BLOCK : P;
        tr->block_off[r] = b0;
        tr->block_len[r] = b1 - b0;
        tr->shard_off[r] = e0;
        tr->shard_len[r] = e1 - e0;
    }
    size_t mine = tr->shard_len[tr->rank];
    /* one round a step: the sum goes into the shard's own place in grads;
     * more: it has to outlive the next round's backward */
    if (tr->st.accum > (uint32_t)tr->ranks) tr->acc = xcalloc(mine + 1, sizeof(float));
    tr->mom = xcalloc(2 * mine + 1, sizeof(float));
    dist_scatter_f32(tr->file_m ? tr->file_m : m->m, tr->mom, tr->shard_off, tr->shard_len, 0);
    dist_scatter_f32(tr->file_v ? tr->file_v : m->v, tr->mom + mine, tr->shard_off, tr->shard_len, 0);
    free(tr->file_m);
    free(tr->file_v);
    tr->file_m = tr->file_v = NULL;
    free(m->m);  /* v lives in the same block */
    m->m = m->v = NULL;
    /* rank 0 saves the moments gathered into the gradients' block, free
     * between steps, made twice as long: one block, as ckpt_write wants
     * (the second half is touched at the first save only) */
    if (tr->rank == 0) free(model_swap_grads(m, xcalloc(2 * P, sizeof(float))));
    size_t bt = (size_t)tr->st.batch * m->cfg.ctx;
    tr->skip_inputs = xmalloc(bt * sizeof *tr->skip_inputs);
    tr->skip_targets = xmalloc(bt * sizeof *tr->skip_targets);
    return 0;
}

/* ---- the run's set-up, on every rank ------------------------------------ */

/* --schedule-time: rank 0 times three steps' forwards and backwards (each
 * rank's share of a step's micro-batches, on the step's own data) without
 * training — the random state, the batch counter and the weights are left
 * as they were, so the run is the one --steps would give — and from the
 * last two estimates the time a step takes, evaluations (forwards of the
 * validation batches, every eval_every steps) included. The schedule then
 * ends where this session's --time would, with 5% spare; every rank gets
 * the length. */
static int plan_schedule(Trainer *tr)
{
    TrainState *s = &tr->st;
    Model *m = &tr->m;
    int64_t total = (int64_t)s->total_steps;
    double step_s = 0, per_step = 0;
    if (tr->rank == 0) {
        uint32_t per_rank = (s->accum + (uint32_t)tr->ranks - 1) / (uint32_t)tr->ranks;
        Rng saved = tr->rng;
        double fwd = 0, all = 0;
        for (int k = 0; k < 3; k++) {
            double t0 = now_seconds(), tf = 0;
            for (uint32_t a = 0; a < per_rank; a++) {
                size_t n_targets;
                int T = batcher_fill(&tr->batcher, s->batch_index + a, &tr->rng, tr->inputs, tr->targets, &n_targets);
                if (T < 0) {
                    total = -1;
                    break;
                }
                double t1 = now_seconds();
                model_forward(m, tr->inputs, tr->targets, s->batch, (size_t)T);
                tf += now_seconds() - t1;
                model_zero_grads(m);
                model_backward(m, tr->inputs, tr->targets, s->batch, (size_t)T, 1.0f / (float)s->accum);
            }
            tr->rng = saved;
            if (total < 0) break;
            if (k == 0) continue;  /* caches and pages warm up */
            all += (now_seconds() - t0) / 2;
            fwd += tf / per_rank / 2;
        }
        model_zero_grads(m);
        step_s = all;
        per_step = all + (double)tr->n_eval * fwd / (double)tr->eval_every;
        double left = 0.95 * tr->o->time_budget;
        double n = per_step > 0 ? floor(left / per_step) : 1e12;
        if (n < 1) n = 1;
        if (n > 1e12) n = 1e12;
        if (total >= 0) total = (int64_t)(s->step + (uint64_t)n);
    }
    dist_bcast(&total, sizeof total, 0);
    if (total < 0) return tr->rank == 0 ? -1 : l1b_error("rank 0 failed");
    if ((uint64_t)total != s->total_steps && tr->rank == 0)
        change_setting(tr, SET_STEPS, CHANGE_SCHEDULE_TIME, (double)s->total_steps, (double)total);
    if (tr->rank == 0 && tr->rep->note) {
        char msg[256];
        snprintf(msg, sizeof msg, "--schedule-time: the schedule ends at step %lld (was %llu): %llu steps of %.3g s "
                 "(%.3g s with evaluations) fit in --time with 5%% spare", (long long)total,
                 (unsigned long long)s->total_steps, (unsigned long long)((uint64_t)total - s->step), step_s, per_step);
        tr->rep->note(tr->rep->ctx, msg);
    }
    s->total_steps = (uint64_t)total;
    return 0;
}

/* rank 0: the output checked and locked, the model read when resuming */
static int open_output(Trainer *tr, Checkpoint *ck, int *exists)
{
    const TrainOptions *o = tr->o;
    /* the output is checked and locked before any work */
    char *target = path_resolve(o->model_path);
    if (!target) return -1;
    int kind = output_kind(target);
    free(target);
    if (kind < 0) return -1;
    if (kind == OUTPUT_STREAM)
        return l1b_error("%s: not a regular file (a checkpoint is replaced as a whole and read back)",
                         o->model_path);
    if (model_lock(o->model_path, 1, &tr->lock_fd) < 0) return -1;
    struct stat st;
    *exists = stat(o->model_path, &st) == 0;
    if (o->resume && *exists && ckpt_read(o->model_path, ck, 0) < 0) return -1;
    return 0;
}

static int setup(Trainer *tr)
{
    const TrainOptions *o = tr->o;
    Checkpoint ck;
    memset(&ck, 0, sizeof ck);
    int exists = 0, rc = 0;
    if (tr->ranks > 1 && (!o->data_path || !strcmp(o->data_path, "-")))
        rc = l1b_error("under mpirun every rank reads the token stream by name: give TOKENS, not standard input");
    if (rc == 0 && tr->rank == 0) rc = open_output(tr, &ck, &exists);
    if (agree(tr, rc) < 0) goto fail;
    int64_t batching = o->resume && exists ? (int64_t)ck.st.batching : (int64_t)o->batching;
    dist_bcast(&batching, sizeof batching, 0);
    double t0 = prof_begin();
    rc = tokfile_open(&tr->data, o->data_path, batching == BATCH_BUCKET);
    prof_end(PROF_IO, t0);
    if (agree(tr, rc) < 0) goto fail;
    if (tr->ranks > 1 && same_data(tr) < 0) goto fail;
    if (tr->rank == 0) rc = o->resume && exists ? resume_from(tr, &ck) : start_fresh(tr);
    ckpt_free(&ck);
    if (agree(tr, rc) < 0) return -1;
    if (tr->ranks > 1 && agree(tr, share_model(tr)) < 0) return -1;
    uint64_t session[3] = {o->until, o->eval_every, o->save_every};
    dist_bcast(session, sizeof session, 0);
    tr->until = session[0];
    tr->eval_every = session[1];
    tr->save_every = session[2];

    const ModelConfig *c = &tr->m.cfg;
    TrainState *s = &tr->st;
    s->data_tokens = tr->data.n_tokens;
    s->data_crc = tr->data.crc;
    tr->train_begin = 0;
    tr->train_end = tr->data.n_tokens;
    rc = 0;
    if (o->val_path) {
        /* validation is rank 0's alone */
        if (tr->rank == 0 && tokfile_open(&tr->valdata, o->val_path, 0) < 0) rc = -1;
        else if (tr->rank == 0 && !same_tokenizer(&tr->valdata, tr->data.tok_record, tr->data.tok_record_size))
            rc = l1b_error("%s: tokenizer differs from the training data's (tokenize it with --tokenizer %s)",
                           o->val_path, tr->data.path);
        tr->valf = &tr->valdata;
        tr->val_begin = 0;
        tr->val_end = tr->valdata.n_tokens;
    } else {
        uint64_t n_val = (uint64_t)((double)tr->data.n_tokens * s->val_frac);
        tr->valf = &tr->data;
        tr->train_end = tr->data.n_tokens - n_val;
        tr->val_begin = tr->train_end;
        tr->val_end = tr->data.n_tokens;
    }
    if (agree(tr, rc) < 0) return -1;
    uint64_t nb = eval_batches(tr->val_begin, tr->val_end, s->batch, c->ctx);
    tr->n_eval = nb < o->eval_batches ? nb : o->eval_batches;
    if (tr->rank != 0) tr->n_eval = 0;
    tr->best_val = INFINITY;
    for (size_t i = 0; i < tr->n_hist; i++)
        if (tr->hist[i].v[H_VAL_LOSS] < tr->best_val) tr->best_val = tr->hist[i].v[H_VAL_LOSS];
    rc = 0;
    if (o->best_path && tr->rank == 0 && !tr->n_eval) {
        if (!o->eval_batches)
            rc = l1b_error("--keep-best %s: --eval-batches 0 evaluates nothing to choose the best by", o->best_path);
        else if (tr->val_end == tr->val_begin)
            rc = l1b_error("--keep-best %s: no validation data to choose the best by (%s)", o->best_path,
                           tr->resumed ? "give --val FILE" : "give --val FILE or --val-frac F");
        else
            rc = l1b_error("--keep-best %s: %s has too little validation data for one batch of %u x %u",
                           o->best_path, o->val_path ? o->val_path : tr->data.path, s->batch, c->ctx);
    }
    if (agree(tr, rc) < 0) return -1;
    if (!tr->n_eval && o->eval_batches && tr->rep->note) {
        char msg[512];
        if (tr->val_end == tr->val_begin && tr->resumed)  /* its --val-frac is fixed: the split is the data's */
            snprintf(msg, sizeof msg, "no validation data (%s holds out none of its training data: give --val "
                     "FILE); no validation", o->model_path);
        else if (tr->val_end == tr->val_begin)
            snprintf(msg, sizeof msg, "no validation data (give --val FILE or --val-frac F); no validation");
        else
            snprintf(msg, sizeof msg, "%s: too little validation data for one batch of %u x %u; no validation",
                     o->val_path ? o->val_path : tr->data.path, s->batch, c->ctx);
        tr->rep->note(tr->rep->ctx, msg);
    }
    rc = batcher_init(&tr->batcher, &tr->data, tr->train_begin, tr->train_end, (int)s->batching, s->batch, c->ctx,
                      s->seed);
    if (agree(tr, rc) < 0) return -1;
    tr->inputs = xmalloc((size_t)s->batch * c->ctx * sizeof *tr->inputs);
    tr->targets = xmalloc((size_t)s->batch * c->ctx * sizeof *tr->targets);
    if (o->schedule_time && o->time_budget > 0 && agree(tr, plan_schedule(tr)) < 0) return -1;
    tr->oc = (OptimConfig){s->lr, s->min_lr, s->warmup, s->total_steps, 0.9f, 0.95f, 1e-8f, s->wd, s->clip};
    if (tr->ranks == 1 && s->accum > 1) tr->scratch = xmalloc(tr->m.n_params * sizeof *tr->scratch);
    if (tr->ranks > 1 && s->accum % (uint32_t)tr->ranks && tr->rep->note) {
        uint32_t last = s->accum % (uint32_t)tr->ranks;
        char msg[256];
        snprintf(msg, sizeof msg, "%d ranks share %u micro-batches a step: %u of them idle in each step's last "
                 "round (a rank count that divides %u uses them all)", tr->ranks, s->accum,
                 (uint32_t)tr->ranks - last, s->accum);
        tr->rep->note(tr->rep->ctx, msg);
    }
    rc = 0;
    if (tr->rep->started) {
        uint32_t rounds = (s->accum + (uint32_t)tr->ranks - 1) / (uint32_t)tr->ranks;
        double per = 4.0 * (double)tr->m.n_params * (double)(tr->ranks - 1) / (double)tr->ranks;
        TrainStart ts = {c, tr->m.n_params, s, tr->train_end - tr->train_begin, tr->n_eval,
                         tr->batcher.n_batches, tr->batcher.pad_share, threads_count(),
                         tr->ranks, tr->ranks > 1 ? (double)(rounds + 1) * per : 0.0, &tr->m, &tr->data.tok};
        rc = tr->rep->started(tr->rep->ctx, &ts);
    }
    return agree(tr, rc);
fail:
    ckpt_free(&ck);
    return -1;
}

/* ---- evaluation, logging, saving -------------------------------------- */

typedef struct { double loss, ppl, bpb, acc; } EvalResult;

static int evaluate(Trainer *tr, EvalResult *r)
{
    const ModelConfig *c = &tr->m.cfg;
    uint32_t B = tr->st.batch, T = c->ctx, V = c->vocab;
    double nats = 0, bytes = 0, correct = 0, count = 0;
    for (uint64_t i = 0; i < tr->n_eval; i++) {
        size_t n_targets;
        if (eval_fill(tr->valf, tr->val_begin, tr->val_end, i, B, T, tr->inputs, tr->targets, &n_targets) < 0)
            return -1;
        model_forward(&tr->m, tr->inputs, tr->targets, B, T);
        for (size_t j = 0; j < (size_t)B * T; j++) {
            int t = tr->targets[j];
            if (t < 0) continue;
            size_t len;
            tok_bytes(&tr->data.tok, (uint32_t)t, &len);
            nats += tr->m.a.losses[j];
            bytes += (double)len;
            const float *lg = tr->m.a.logits + j * V;
            uint32_t best = 0;
            for (uint32_t k = 1; k < V; k++)
                if (lg[k] > lg[best]) best = k;
            correct += best == (uint32_t)t;
            count++;
        }
    }
    r->loss = count ? nats / count : NAN;
    r->ppl = exp(r->loss);
    r->bpb = bytes ? nats / (log(2.0) * bytes) : NAN;
    r->acc = count ? correct / count : NAN;
    return 0;
}

static int add_row(Trainer *tr, const HistRow *row)
{
    if (tr->n_hist == tr->cap_hist) {
        tr->cap_hist = tr->cap_hist ? 2 * tr->cap_hist : 64;
        tr->hist = xrealloc(tr->hist, tr->cap_hist * sizeof *tr->hist);
    }
    tr->hist[tr->n_hist++] = *row;
    if (tr->rep->row && tr->rep->row(tr->rep->ctx, row, tr->st.total_steps) < 0) {
        tr->report_failed = 1;
        return -1;
    }
    return 0;
}

/* Every rank calls it: with ranks, rank 0 gathers the moments' shards and
 * writes the one file, in the format one process writes. */
static int save_to(Trainer *tr, const char *path)
{
    double t0 = prof_begin();
    Checkpoint ck = ckpt_of_model(&tr->m, tr->data.tok_record, tr->data.tok_record_size);
    ck.st = tr->st;
    ck.st.rng_state = tr->rng.s;
    ck.hist = tr->hist;
    ck.n_hist = tr->n_hist;
    ck.changes = tr->changes;
    ck.n_changes = tr->n_changes;
    int rc = 0;
    if (tr->ranks > 1) {
        /* into rank 0's gradient block, twice as long (share_model) and
         * free between steps: each step computes the gradients from zero */
        float *g = tr->m.grads, *v = tr->rank == 0 ? g + tr->m.n_params : NULL;
        dist_gather_f32(tr->mom, g, tr->shard_off, tr->shard_len, 0);
        dist_gather_f32(tr->mom + tr->shard_len[tr->rank], v, tr->shard_off, tr->shard_len, 0);
        ck.adam_m = g;
        ck.adam_v = v;
    }
    if (tr->rank == 0) rc = ckpt_write(path, &ck);
    if (tr->ranks > 1) {
        int64_t failed = rc < 0;
        dist_bcast(&failed, sizeof failed, 0);
        if (failed && tr->rank != 0) rc = l1b_error("rank 0 could not save %s", path);
    }
    prof_end(PROF_IO, t0);
    return rc;
}

static int save(Trainer *tr) { return save_to(tr, tr->o->model_path); }

/* ---- the loop --------------------------------------------------------- */

typedef struct {
    double loss;      /* mean of the micro-batches' losses */
    double norm;      /* of the whole gradient, before clipping */
    uint64_t tokens;  /* targets trained on, every rank's */
} StepResult;

/* stochastic rounding draws from (seed, micro-batch): resumable; the
 * micro-batch is counted from 1 */
static uint64_t noise_for(const Trainer *tr, uint64_t micro_batch)
{
    return tr->m.cfg.quant == QUANT_STOCHASTIC ? (tr->st.seed ^ (micro_batch << 20)) | 1 : 0;
}

typedef struct {
    float *g;
    const float *add;
} AddGrads;

static void add_range(void *ctx, size_t i0, size_t i1, int thread)
{
    (void)thread;
    const AddGrads *a = ctx;
    for (size_t i = i0; i < i1; i++) a->g[i] += a->add[i];
}

/* One process: the step's micro-batches one after another. The first
 * one's gradient is computed in grads, each later one's whole in scratch
 * and then added: the sum of whole gradients in micro-batch order, which
 * ranks reproduce to the bit (step_ranks). */
static int step_alone(Trainer *tr, float lr, StepResult *r)
{
    TrainState *s = &tr->st;
    Model *m = &tr->m;
    double loss = 0;
    r->tokens = 0;
    for (uint32_t a = 0; a < s->accum; a++) {
        size_t n_targets;
        double t0 = prof_begin();
        int T = batcher_fill(&tr->batcher, s->batch_index++, &tr->rng, tr->inputs, tr->targets, &n_targets);
        prof_end(PROF_DATA, t0);
        if (T < 0) return -1;
        m->quant_noise = noise_for(tr, s->batch_index);
        loss += model_forward(m, tr->inputs, tr->targets, s->batch, (size_t)T);
        m->quant_noise = 0;  /* evaluation rounds deterministically, as inference does */
        if (a == 0) {
            model_zero_grads(m);
            model_backward(m, tr->inputs, tr->targets, s->batch, (size_t)T, 1.0f / (float)s->accum);
        } else {
            memset(tr->scratch, 0, m->n_params * sizeof *tr->scratch);
            float *grads = model_swap_grads(m, tr->scratch);
            model_backward(m, tr->inputs, tr->targets, s->batch, (size_t)T, 1.0f / (float)s->accum);
            model_swap_grads(m, grads);
            AddGrads ag = {grads, tr->scratch};
            parallel_elements(m->n_params, add_range, &ag);
        }
        r->tokens += n_targets;
    }
    r->loss = loss / s->accum;
    double t0 = prof_begin();
    r->norm = grad_norm(m);
    float scale = s->clip > 0 && r->norm > s->clip ? (float)(s->clip / r->norm) : 1.0f;
    adamw_update(m, &tr->oc, lr, scale, s->step + 1);
    prof_end(PROF_OPTIMIZER, t0);
    return 0;
}

/* Ranks: the step's micro-batches k = 0..accum-1 in rounds of `ranks`,
 * rank r computing k = round*ranks + r (every rank draws every micro-batch
 * from the random number generator, as one process does, and keeps its
 * own). After each round the gradients are reduce-scattered, added in rank
 * order (dist_reduce_scatter_ordered), so each shard's sum is one process's
 * sum to the bit. Then one gather brings every rank the block sums of its
 * shard's squares (the norm, added in grad_norm's order), the losses (added
 * in micro-batch order) and what ends the run — the signal any rank
 * caught, rank 0's clock against --time, a failure (a read error: the rank
 * goes on through the exchanges with what it has until then) — so every
 * rank decides the same. Each rank updates its shard (AdamW, its moments
 * only) and the weights are all-gathered. Returns -1 on every rank when
 * one failed. */
static int step_ranks(Trainer *tr, float lr, double t_session, StepResult *r, int *signal, int *clock_spent)
{
    TrainState *s = &tr->st;
    Model *m = &tr->m;
    uint32_t N = (uint32_t)tr->ranks, M = s->accum, rounds = (M + N - 1) / N, me = (uint32_t)tr->rank;
    uint64_t base = s->batch_index;
    size_t lo = tr->shard_off[me], n = tr->shard_len[me];
    float *acc = tr->acc ? tr->acc : m->grads + lo;  /* see share_model */
    /* what each rank adds to the gather: its blocks, rounds losses, 3 flags */
    size_t extra = (size_t)rounds + 3, *cnt = xmalloc(2 * N * sizeof *cnt), *off = cnt + N, total_n = 0;
    for (uint32_t k = 0; k < N; k++) {
        cnt[k] = tr->block_len[k] + extra;
        off[k] = total_n;
        total_n += cnt[k];
    }
    double *all = xmalloc((total_n + cnt[me]) * sizeof *all), *mine = all + total_n;
    double *losses = mine + tr->block_len[me], *flags = losses + rounds;
    int failed = 0;
    r->tokens = 0;
    for (uint32_t a = 0; a < rounds; a++) {
        uint32_t active = M - a * N < N ? M - a * N : N;
        int T = 0;
        double t0 = prof_begin();
        for (uint32_t k = 0; k < active; k++) {
            size_t n_targets = 0;
            int own = k == me;
            int t = batcher_fill(&tr->batcher, s->batch_index++, &tr->rng, own ? tr->inputs : tr->skip_inputs,
                                 own ? tr->targets : tr->skip_targets, &n_targets);
            if (t < 0) failed = 1;
            if (own) T = t;
            r->tokens += n_targets;
        }
        prof_end(PROF_DATA, t0);
        losses[a] = 0;
        if (me < active && !failed) {
            m->quant_noise = noise_for(tr, base + a * N + me + 1);
            losses[a] = model_forward(m, tr->inputs, tr->targets, s->batch, (size_t)T);
            m->quant_noise = 0;
            model_zero_grads(m);
            model_backward(m, tr->inputs, tr->targets, s->batch, (size_t)T, 1.0f / (float)M);
        }
        dist_reduce_scatter_ordered(m->grads, acc, tr->shard_off, tr->shard_len, (int)active, a == 0);
    }
    double t0 = prof_begin();
    grad_square_sums(acc, n, mine);
    flags[0] = stop_signal;
    flags[1] = me == 0 && tr->o->time_budget > 0 && now_seconds() - t_session >= tr->o->time_budget;
    flags[2] = failed;
    dist_allgather_f64(mine, all, off, cnt);
    double sq = 0, loss = 0;
    int any_failed = 0;
    *signal = 0;
    for (uint32_t k = 0; k < N; k++) {  /* blocks in rank order: grad_norm's order */
        const double *x = all + off[k], *f = x + tr->block_len[k] + rounds;
        for (size_t b = 0; b < tr->block_len[k]; b++) sq += x[b];
        if ((int)f[0] > *signal) *signal = (int)f[0];
        any_failed |= f[2] != 0;
    }
    *clock_spent = all[off[0] + tr->block_len[0] + rounds + 1] != 0;
    for (uint32_t a = 0; a < rounds; a++)  /* micro-batch a*N + k */
        for (uint32_t k = 0; k < N && a * N + k < M; k++) loss += all[off[k] + tr->block_len[k] + a];
    free(all);
    free(cnt);
    if (any_failed) {
        prof_end(PROF_OPTIMIZER, t0);
        dist_share_error(failed);
        return -1;
    }
    r->loss = loss / M;
    r->norm = sqrt(sq);
    float scale = s->clip > 0 && r->norm > s->clip ? (float)(s->clip / r->norm) : 1.0f;
    adamw_update_range(m, m->params, acc, tr->mom, tr->mom + n, lo, lo + n, &tr->oc, lr, scale, s->step + 1);
    prof_end(PROF_OPTIMIZER, t0);
    dist_allgather_f32(m->params, tr->shard_off, tr->shard_len);
    return 0;
}

static int run_loop(Trainer *tr, int *stopped_by)
{
    const TrainOptions *o = tr->o;
    TrainState *s = &tr->st;
    double t_session = now_seconds(), t_mark = t_session, elapsed0 = s->elapsed;
    double loss_sum = 0, norm_last = 0;
    uint64_t steps_since = 0, tokens_since = 0;
    uint64_t end_step = tr->until && tr->until < s->total_steps ? tr->until : s->total_steps;
    tr->stop = TRAIN_STOP_NOTHING;
    while (s->step < s->total_steps && !(tr->until && s->step >= tr->until)) {
        float lr = lr_at(&tr->oc, s->step);
        StepResult r;
        int signal = 0, clock_spent = 0;
        if (tr->ranks == 1) {
            if (step_alone(tr, lr, &r) < 0) return -1;
        } else if (step_ranks(tr, lr, t_session, &r, &signal, &clock_spent) < 0) {
            return -1;
        }
        tokens_since += r.tokens;
        s->tokens_seen += r.tokens;
        s->step++;
        tr->steps_run++;
        tr->tokens_run += r.tokens;
        double now = now_seconds();
        s->elapsed = elapsed0 + (now - t_session);
        int last = s->step == s->total_steps;
        if (tr->ranks == 1) {
            signal = stop_signal;
            clock_spent = o->time_budget > 0 && now - t_session >= o->time_budget;
        }
        int budget_spent = clock_spent || (tr->until && s->step >= tr->until);
        if (!isfinite(r.loss)) return l1b_error("step %llu: loss is not finite; try a lower --lr",
                                                (unsigned long long)s->step);
        loss_sum += r.loss;
        norm_last = r.norm;
        steps_since++;

        if (s->step % tr->eval_every == 0 || last || budget_spent || signal) {
            int rc = 0, best = 0;
            if (tr->rank == 0) {
                HistRow row;
                double dt = now - t_mark;
                row.v[H_STEP] = (double)s->step;
                row.v[H_TOKENS] = (double)s->tokens_seen;
                row.v[H_TRAIN_LOSS] = loss_sum / (double)steps_since;
                row.v[H_LR] = lr;
                row.v[H_GRAD_NORM] = norm_last;
                row.v[H_ZERO_SHARE] = model_zero_share(&tr->m);
                row.v[H_TOK_PER_S] = dt > 0 ? (double)tokens_since / dt : 0;
                row.v[H_MS_PER_STEP] = 1000.0 * dt / (double)steps_since;
                row.v[H_ELAPSED] = s->elapsed;
                EvalResult er = {NAN, NAN, NAN, NAN};
                if (tr->n_eval && evaluate(tr, &er) < 0) rc = -1;
                row.v[H_VAL_LOSS] = er.loss;
                row.v[H_VAL_PPL] = er.ppl;
                row.v[H_VAL_BPB] = er.bpb;
                row.v[H_VAL_ACC] = er.acc;
                /* strictly lower: the earliest of equal losses stays the best */
                if (rc == 0 && er.loss < tr->best_val) {
                    tr->best_val = er.loss;
                    best = o->best_path != NULL;
                }
                if (rc == 0) rc = add_row(tr, &row);
            }
            if (tr->ranks > 1) {  /* rank 0's evaluation and report, for all */
                int64_t v[3] = {rc < 0, tr->report_failed, best};
                dist_bcast(v, sizeof v, 0);
                tr->report_failed = (int)v[1];
                best = (int)v[2];
                if (v[0] && tr->rank != 0) rc = l1b_error("rank 0 failed");
            }
            if (rc < 0) return -1;
            if (best && !tr->report_failed && save_to(tr, o->best_path) < 0) return -1;
            t_mark = now_seconds();
            loss_sum = 0;
            steps_since = tokens_since = 0;
        } else if (tr->rep->tick) {
            double ms = 1000.0 * (now - t_mark) / (double)steps_since;
            TrainTick tk = {s->step, s->total_steps, end_step, r.loss, ms,
                            ms * (double)(end_step - s->step) / 1000.0, (double)s->step / (double)end_step,
                            end_step < s->total_steps ? TRAIN_STOP_UNTIL : TRAIN_STOP_SCHEDULE};
            if (o->time_budget > 0) {  /* rank 0's clock decides for all */
                double spent = now - t_session, left = o->time_budget - spent;
                if (left < tk.eta_seconds) {
                    tk.eta_seconds = left > 0 ? left : 0;
                    tk.done = spent < o->time_budget ? spent / o->time_budget : 1;
                    tk.ends_by = TRAIN_STOP_TIME;
                }
            }
            tr->rep->tick(tr->rep->ctx, &tk);
        }
        if (signal) {
            tr->stop = TRAIN_STOP_SIGNAL;
            *stopped_by = signal;
            return 0;
        }
        if (budget_spent) {  /* the schedule's end first, then --until, then --time */
            tr->stop = last ? TRAIN_STOP_SCHEDULE : tr->until && s->step >= tr->until ? TRAIN_STOP_UNTIL
                                                                                     : TRAIN_STOP_TIME;
            return 0;
        }
        if (tr->save_every && s->step % tr->save_every == 0 && !last && save(tr) < 0) return -1;
    }
    if (tr->steps_run) tr->stop = TRAIN_STOP_SCHEDULE;
    return 0;
}

int train_run(const TrainOptions *o, const TrainReport *report)
{
    static const TrainReport silent;
    Trainer tr;
    memset(&tr, 0, sizeof tr);
    tr.o = o;
    tr.rank = dist_rank();
    tr.ranks = dist_size();
    tr.rep = report && tr.rank == 0 ? report : &silent;  /* one run, one report: rank 0's */
    tr.lock_fd = -1;
    tr.data.fd = tr.valdata.fd = -1;
    threads_init(o->threads);
    signals_defer(&stop_signal);
    double t0 = now_seconds();
    int stopped_by = 0, rc = setup(&tr);
    if (rc == 0) rc = run_loop(&tr, &stopped_by);
    /* save what was trained, also when a report failed (its error stays) */
    int saved = 0;
    if (tr.st.step > 0 && (rc == 0 || tr.report_failed)) {
        char err[512];
        snprintf(err, sizeof err, "%s", l1b_last_error());
        if (save(&tr) < 0) rc = -1;
        else if (rc < 0) l1b_error("%s", err);
        else saved = 1;
    }
    if (rc == 0 && tr.rep->finished) {
        TrainEnd e = {tr.stop, stopped_by, tr.st.step, tr.st.total_steps, tr.steps_run, tr.tokens_run,
                      now_seconds() - t0, saved ? o->model_path : NULL, NULL, NULL};
        for (size_t i = 0; i < tr.n_hist; i++) {
            const HistRow *h = &tr.hist[i];
            if (isnan(h->v[H_VAL_LOSS])) continue;
            e.last_val = h;
            if (!e.best_val || h->v[H_VAL_LOSS] < e.best_val->v[H_VAL_LOSS]) e.best_val = h;
        }
        tr.rep->finished(tr.rep->ctx, &e);
    }
    free(tr.inputs);
    free(tr.targets);
    free(tr.scratch);
    free(tr.shard_off);  /* the other three arrays live in the same block */
    free(tr.acc);
    free(tr.mom);
    free(tr.skip_inputs);
    free(tr.skip_targets);
    free(tr.file_m);
    free(tr.file_v);
    free(tr.hist);
    free(tr.changes);
    batcher_free(&tr.batcher);
    model_free(&tr.m);
    tokfile_close(&tr.data);
    tokfile_close(&tr.valdata);
    if (tr.lock_fd >= 0) close(tr.lock_fd);
    return rc < 0 ? -1 : stopped_by;
}
