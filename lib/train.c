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
#include "dataset.h"
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
} Trainer;

static volatile sig_atomic_t stop_signal;

/* ---- set-up ----------------------------------------------------------- */

static int same_tokenizer(const TokenFile *a, const uint8_t *rec, size_t n)
{
    return a->tok_record_size == n && !memcmp(a->tok_record, rec, n);
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
    CONFLICT(o->batch_set, o->batch, s->batch, "batch");
    CONFLICT(o->accum_set, o->accum, s->accum, "accum");
    CONFLICT(o->warmup_set, o->warmup, s->warmup, "warmup");
    if (o->batching_set && o->batching != s->batching)
        return l1b_error("%s: --batching differs from the model being resumed (%s there)", o->model_path,
                         name_of(batching_names, (int)s->batching));
    CONFLICT(o->lr_set, o->lr, s->lr, "lr");
    CONFLICT(o->min_lr_set, o->min_lr, s->min_lr, "min-lr");
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
    if (o->steps_set) tr->st.total_steps = o->steps;
    model_init(&tr->m, c, s->batch);
    memcpy(tr->m.params, ck->params, tr->m.n_params * sizeof(float));
    memcpy(tr->m.m, ck->adam_m, tr->m.n_params * sizeof(float));
    memcpy(tr->m.v, ck->adam_v, tr->m.n_params * sizeof(float));
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
    train_state_from_options(&tr->st, o);
    model_init(&tr->m, &c, o->batch);
    tr->rng.s = tr->st.rng_state;
    model_init_weights(&tr->m, &tr->rng);
    return 0;
}

static int setup(Trainer *tr)
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
    int exists = stat(o->model_path, &st) == 0;
    Checkpoint ck;
    memset(&ck, 0, sizeof ck);
    if (o->resume && exists && ckpt_read(o->model_path, &ck, 0) < 0) return -1;
    int batching = o->resume && exists ? (int)ck.st.batching : (int)o->batching;
    double t0 = prof_begin();
    if (tokfile_open(&tr->data, o->data_path, batching == BATCH_BUCKET) < 0) goto fail;
    prof_end(PROF_IO, t0);
    if (o->resume && exists ? resume_from(tr, &ck) < 0 : start_fresh(tr) < 0) goto fail;
    ckpt_free(&ck);

    const ModelConfig *c = &tr->m.cfg;
    TrainState *s = &tr->st;
    s->data_tokens = tr->data.n_tokens;
    s->data_crc = tr->data.crc;
    tr->train_begin = 0;
    tr->train_end = tr->data.n_tokens;
    if (o->val_path) {
        if (tokfile_open(&tr->valdata, o->val_path, 0) < 0) return -1;
        if (!same_tokenizer(&tr->valdata, tr->data.tok_record, tr->data.tok_record_size))
            return l1b_error("%s: tokenizer differs from the training data's (tokenize it with --tokenizer %s)",
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
    uint64_t nb = eval_batches(tr->val_begin, tr->val_end, s->batch, c->ctx);
    tr->n_eval = nb < o->eval_batches ? nb : o->eval_batches;
    if (!tr->n_eval && o->eval_batches && tr->rep->note) {
        char msg[512];
        if (tr->val_end == tr->val_begin)
            snprintf(msg, sizeof msg, "no validation data (give --val FILE or --val-frac F); no validation");
        else
            snprintf(msg, sizeof msg, "%s: too little validation data for one batch of %u x %u; no validation",
                     o->val_path ? o->val_path : tr->data.path, s->batch, c->ctx);
        tr->rep->note(tr->rep->ctx, msg);
    }
    if (batcher_init(&tr->batcher, &tr->data, tr->train_begin, tr->train_end, (int)s->batching, s->batch,
                     c->ctx, s->seed) < 0)
        return -1;
    tr->oc = (OptimConfig){s->lr, s->min_lr, s->warmup, s->total_steps, 0.9f, 0.95f, 1e-8f, s->wd, s->clip};
    tr->inputs = xmalloc((size_t)s->batch * c->ctx * sizeof *tr->inputs);
    tr->targets = xmalloc((size_t)s->batch * c->ctx * sizeof *tr->targets);
    if (tr->rep->started) {
        TrainStart ts = {c, tr->m.n_params, s, tr->train_end - tr->train_begin, tr->n_eval,
                         tr->batcher.n_batches, tr->batcher.pad_share, threads_count()};
        return tr->rep->started(tr->rep->ctx, &ts);
    }
    return 0;
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

static int save(Trainer *tr)
{
    double t0 = prof_begin();
    Checkpoint ck = ckpt_of_model(&tr->m, tr->data.tok_record, tr->data.tok_record_size);
    ck.st = tr->st;
    ck.st.rng_state = tr->rng.s;
    ck.hist = tr->hist;
    ck.n_hist = tr->n_hist;
    int rc = ckpt_write(tr->o->model_path, &ck);
    prof_end(PROF_IO, t0);
    return rc;
}

/* ---- the loop --------------------------------------------------------- */

static int run_loop(Trainer *tr, int *stopped_by)
{
    const TrainOptions *o = tr->o;
    TrainState *s = &tr->st;
    double t_session = now_seconds(), t_mark = t_session, elapsed0 = s->elapsed;
    double loss_sum = 0, norm_last = 0;
    uint64_t steps_since = 0, tokens_since = 0;
    while (s->step < s->total_steps && !(o->until && s->step >= o->until)) {
        float lr = lr_at(&tr->oc, s->step);
        model_zero_grads(&tr->m);
        double loss = 0;
        for (uint32_t a = 0; a < s->accum; a++) {
            size_t n_targets;
            double t0 = prof_begin();
            int T = batcher_fill(&tr->batcher, s->batch_index++, &tr->rng, tr->inputs, tr->targets, &n_targets);
            prof_end(PROF_DATA, t0);
            if (T < 0) return -1;
            /* stochastic rounding draws from (seed, micro-batch): resumable */
            tr->m.quant_noise = tr->m.cfg.quant == QUANT_STOCHASTIC ? (s->seed ^ (s->batch_index << 20)) | 1 : 0;
            loss += model_forward(&tr->m, tr->inputs, tr->targets, s->batch, (size_t)T);
            tr->m.quant_noise = 0;  /* evaluation rounds deterministically, as inference does */
            model_backward(&tr->m, tr->inputs, tr->targets, s->batch, (size_t)T, 1.0f / (float)s->accum);
            tokens_since += n_targets;
            s->tokens_seen += n_targets;
        }
        loss /= s->accum;
        double t0 = prof_begin();
        double norm = grad_norm(&tr->m);
        float scale = s->clip > 0 && norm > s->clip ? (float)(s->clip / norm) : 1.0f;
        adamw_update(&tr->m, &tr->oc, lr, scale, s->step + 1);
        prof_end(PROF_OPTIMIZER, t0);
        s->step++;
        if (!isfinite(loss)) return l1b_error("step %llu: loss is not finite; try a lower --lr",
                                              (unsigned long long)s->step);
        loss_sum += loss;
        norm_last = norm;
        steps_since++;
        double now = now_seconds();
        s->elapsed = elapsed0 + (now - t_session);

        int last = s->step == s->total_steps;
        int budget_spent = (o->time_budget > 0 && now - t_session >= o->time_budget) ||
                           (o->until && s->step >= o->until);
        if (s->step % o->eval_every == 0 || last || budget_spent || stop_signal) {
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
            if (tr->n_eval && evaluate(tr, &er) < 0) return -1;
            row.v[H_VAL_LOSS] = er.loss;
            row.v[H_VAL_PPL] = er.ppl;
            row.v[H_VAL_BPB] = er.bpb;
            row.v[H_VAL_ACC] = er.acc;
            if (add_row(tr, &row) < 0) return -1;
            t_mark = now_seconds();
            loss_sum = 0;
            steps_since = tokens_since = 0;
        } else if (tr->rep->tick) {
            double ms = 1000.0 * (now - t_mark) / (double)steps_since;
            TrainTick tk = {s->step, s->total_steps, loss, ms, ms * (double)(s->total_steps - s->step) / 1000.0};
            tr->rep->tick(tr->rep->ctx, &tk);
        }
        if (stop_signal) {
            *stopped_by = stop_signal;
            return 0;
        }
        if (budget_spent) return 0;
        if (o->save_every && s->step % o->save_every == 0 && !last && save(tr) < 0) return -1;
    }
    return 0;
}

int train_run(const TrainOptions *o, const TrainReport *report)
{
    static const TrainReport silent;
    Trainer tr;
    memset(&tr, 0, sizeof tr);
    tr.o = o;
    tr.rep = report ? report : &silent;
    tr.lock_fd = -1;
    tr.data.fd = tr.valdata.fd = -1;
    threads_init(o->threads);
    signals_defer(&stop_signal);
    int stopped_by = 0, rc = setup(&tr);
    if (rc == 0) rc = run_loop(&tr, &stopped_by);
    /* save what was trained, also when a report failed (its error stays) */
    if (tr.st.step > 0 && (rc == 0 || tr.report_failed)) {
        char err[512];
        snprintf(err, sizeof err, "%s", l1b_last_error());
        if (save(&tr) < 0) rc = -1;
        else if (rc < 0) l1b_error("%s", err);
    }
    free(tr.inputs);
    free(tr.targets);
    free(tr.hist);
    batcher_free(&tr.batcher);
    model_free(&tr.m);
    tokfile_close(&tr.data);
    tokfile_close(&tr.valdata);
    if (tr.lock_fd >= 0) close(tr.lock_fd);
    return rc < 0 ? -1 : stopped_by;
}
