/* l1b-train: token stream in, checkpoint out. See l1b-train(1). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "dataset.h"
#include "dist.h"
#include "infer.h"
#include "profile.h"
#include "progress.h"
#include "threads.h"
#include "train.h"
#include "util.h"

/* What a run shows: a status line on a terminal (progress.h), a metric
 * line per evaluation and a summary line at the end (unless -q), the model
 * and data first (-v), a TSV row per evaluation in --log. */
typedef struct {
    const char *log_path;
    FILE *log;
    int quiet, verbose;
    const char *time_arg;  /* --time as given */
    uint64_t until;        /* --until, 0: none */
    Progress pg;
    /* --sample-every: a sample after every N-th evaluation's metric line */
    uint64_t sample_every, evaluations;
    const char *sample_prompt;
    const Model *model;    /* from started */
    const Tokenizer *tok;
} View;

enum { SAMPLE_TOKENS = 64 };

/* b[0..n) onto the text (*len of *cap bytes) with newline, tab, CR and
 * backslash escaped, other control bytes as \xHH: one line whatever it says */
static void append_escaped(char **text, size_t *len, size_t *cap, const uint8_t *b, size_t n)
{
    for (size_t j = 0; j < n; j++) {
        if (*len + 5 > *cap) *text = xrealloc(*text, *cap *= 2);
        char *t = *text + *len;
        uint8_t c = b[j];
        if (c == '\n') *len += (size_t)sprintf(t, "\\n");
        else if (c == '\t') *len += (size_t)sprintf(t, "\\t");
        else if (c == '\r') *len += (size_t)sprintf(t, "\\r");
        else if (c == '\\') *len += (size_t)sprintf(t, "\\\\");
        else if (c < 0x20 || c == 0x7f) *len += (size_t)sprintf(t, "\\x%02x", c);
        else (*text)[(*len)++] = (char)c;
    }
}

/* A sample of the model as it stands: the end-of-document token, the
 * prompt, then SAMPLE_TOKENS greedy tokens (fewer at the end of a
 * document), as l1b-sample --greedy would continue it from a checkpoint
 * saved now. Built from a copy of the weights (infer_init): training is
 * untouched. */
static void print_sample(View *v, uint64_t step)
{
    Tokenizer tok;
    size_t rs = tok_record_size(v->tok);
    uint8_t *rec = xmalloc(rs);
    tok_record_write(v->tok, rec);
    int rc = tok_record_read(&tok, rec, rs, "sample");
    free(rec);
    if (rc < 0) {
        cli_warn("warning: no sample: %s", l1b_last_error());
        return;
    }
    Infer inf;
    infer_init(&inf, &v->model->cfg, v->model->params, &tok, 0);
    Session se;
    session_init(&se, &inf);
    const float *logits = session_feed(&se, TOK_EOD);
    size_t plen = strlen(v->sample_prompt);
    uint16_t *ids = xmalloc((plen + 1) * sizeof *ids);
    size_t n_ids = tok_encode_text(&inf.tok, (const uint8_t *)v->sample_prompt, plen, ids);
    if (n_ids) logits = session_feed_many(&se, ids, n_ids);
    free(ids);
    size_t cap = 256, len = 0;
    char *text = xmalloc(cap);
    append_escaped(&text, &len, &cap, (const uint8_t *)v->sample_prompt, plen);
    for (int i = 0; i < SAMPLE_TOKENS; i++) {
        uint32_t best = 0;
        for (uint32_t k = 1; k < inf.cfg.vocab; k++)
            if (logits[k] > logits[best]) best = k;
        if (best == TOK_EOD) break;
        size_t n;
        const uint8_t *b = tok_bytes(&inf.tok, best, &n);
        append_escaped(&text, &len, &cap, b, n);
        if (i + 1 < SAMPLE_TOKENS) logits = session_feed(&se, (int)best);
    }
    text[len] = 0;
    progress_clear(&v->pg);
    cli_warn("sample at step %llu: %s", (unsigned long long)step, text);
    free(text);
    session_free(&se);
    infer_free(&inf);
}

static int log_failed(View *v)
{
    return l1b_error("%s: cannot write the log: %s", v->log_path, strerror(errno));
}

/* A duration the way the status line shows it: 45s, 12m05s, 3h20m. */
static const char *duration(char *out, size_t n, double seconds)
{
    long long t = seconds > 0 ? (long long)(seconds + 0.5) : 0;
    if (t < 60) snprintf(out, n, "%llds", t);
    else if (t < 3600) snprintf(out, n, "%lldm%02llds", t / 60, t % 60);
    else snprintf(out, n, "%lldh%02lldm", t / 3600, t / 60 % 60);
    return out;
}

/* Schedules that do not do what they seem to: warnings, not errors. */
static void warn_schedule(const View *v, const TrainStart *s)
{
    const TrainState *st = s->st;
    if (v->quiet) return;
    if (st->step >= st->total_steps) {
        cli_warn("warning: schedule complete at step %llu; extend with --steps (above %llu)",
                 (unsigned long long)st->step, (unsigned long long)st->step);
        return;
    }
    if (v->until && st->step >= v->until) {
        cli_warn("warning: --until %llu: step %llu already reached; nothing to do", (unsigned long long)v->until,
                 (unsigned long long)st->step);
        return;
    }
    if (st->warmup > st->total_steps)
        cli_warn("warning: --warmup %u is longer than the schedule (%llu steps): the learning rate rises to %.3g "
                 "of its peak %g and never decays; give a --warmup below %llu",
                 st->warmup, (unsigned long long)st->total_steps, (double)st->total_steps / st->warmup,
                 (double)st->lr, (unsigned long long)st->total_steps);
}

static int started(void *ctx, const TrainStart *s)
{
    View *v = ctx;
    v->model = s->model;
    v->tok = s->tok;
    warn_schedule(v, s);
    if (v->verbose) {
        const ModelConfig *c = s->cfg;
        int bucket = s->st->batching == BATCH_BUCKET;
        cli_warn("model: dim %u, %u layers, %u heads, hidden %u, ctx %u, vocab %u, %s, %s; %zu parameters",
                 c->dim, c->n_layers, c->n_heads, c->hidden, c->ctx, c->vocab,
                 name_of(ffn_act_names, (int)c->ffn_act), name_of(quant_names, (int)c->quant),
                 s->n_params);
        cli_warn("data: %llu training tokens, %llu validation batches, %s batching%s; %d threads; from step %llu",
                 (unsigned long long)s->train_tokens, (unsigned long long)s->n_eval, name_of(batching_names, (int)s->st->batching),
                 bucket ? " (see padding below)" : "", s->threads, (unsigned long long)s->st->step);
        if (bucket)
            cli_warn("bucket batching: %llu batches per epoch, %.1f%% padding",
                     (unsigned long long)s->bucket_batches, 100.0 * s->pad_share);
        if (s->ranks > 1)
            cli_warn("mpi: %d ranks, %u micro-batches of %u a step in all (%u sequences); each rank sends about "
                     "%.2f MB a step (gradients reduce-scattered, weights all-gathered)",
                     s->ranks, s->st->accum, s->st->batch, s->st->accum * s->st->batch, s->exchange_bytes / 1e6);
    }
    if (!v->log_path) return 0;
    v->log = fopen(v->log_path, "a");
    if (!v->log) return l1b_error("%s: %s", v->log_path, strerror(errno));
    if (ftell(v->log) == 0) {
        for (int i = 0; i < H_COLS; i++) fprintf(v->log, "%s%c", hist_names[i], i + 1 < H_COLS ? '\t' : '\n');
        if (fflush(v->log) != 0) return log_failed(v);
    }
    return 0;
}

/* The status line: step, loss, ETA, bar, ms/step, dropped in the reverse
 * order when the terminal is narrow. The bar and ETA follow whichever end
 * comes first: the schedule, --until or --time. */
static void tick(void *ctx, const TrainTick *t)
{
    View *v = ctx;
    if (!v->pg.tty) return;
    int width = 20, filled = (int)(width * (t->done < 0 ? 0 : t->done > 1 ? 1 : t->done));
    char step[64], bar[32], loss[32], eta[48], ms[32], left[24];
    snprintf(step, sizeof step, "step %llu/%llu", (unsigned long long)t->step, (unsigned long long)t->end_step);
    bar[0] = '[';
    for (int i = 0; i < width; i++) bar[1 + i] = i < filled ? '=' : ' ';
    snprintf(bar + 1 + width, sizeof bar - 1 - (size_t)width, "]");
    snprintf(loss, sizeof loss, "loss %.4f", t->loss);
    snprintf(eta, sizeof eta, "ETA %s%s", duration(left, sizeof left, t->eta_seconds),
             t->ends_by == TRAIN_STOP_TIME ? " (--time)" : t->ends_by == TRAIN_STOP_UNTIL ? " (--until)" : "");
    snprintf(ms, sizeof ms, "%.1f ms/step", t->ms_per_step);
    ProgressField f[] = {{step, 5}, {bar, 2}, {loss, 4}, {ms, 1}, {eta, 3}};
    progress_status(&v->pg, f, (int)(sizeof f / sizeof f[0]));
}

static int row(void *ctx, const HistRow *r, uint64_t total_steps)
{
    View *v = ctx;
    const double *x = r->v;
    if (v->log) {
        for (int i = 0; i < H_COLS; i++) {
            /* counts as integers, the rest to 6 significant digits */
            const char *f = i == H_STEP || i == H_TOKENS || i == H_TOK_PER_S ? "%.0f%c"
                            : i == H_ELAPSED                                 ? "%.3f%c"
                                                                             : "%.6g%c";
            fprintf(v->log, f, x[i], i + 1 < H_COLS ? '\t' : '\n');
        }
        if (fflush(v->log) != 0) return log_failed(v);
    }
    if (v->quiet) return 0;
    /* one line, wrapped between fields on a narrow terminal */
    char f[11][48];
    const char *fields[11];
    int n = 0;
    snprintf(f[n++], sizeof f[0], "step %.0f/%llu", x[H_STEP], (unsigned long long)total_steps);
    snprintf(f[n++], sizeof f[0], "loss %.4f", x[H_TRAIN_LOSS]);
    if (!isnan(x[H_VAL_LOSS])) {
        snprintf(f[n++], sizeof f[0], "val %.4f", x[H_VAL_LOSS]);
        snprintf(f[n++], sizeof f[0], "bpb %.3f", x[H_VAL_BPB]);
        snprintf(f[n++], sizeof f[0], "acc %.3f", x[H_VAL_ACC]);
    }
    snprintf(f[n++], sizeof f[0], "lr %.2e", x[H_LR]);
    snprintf(f[n++], sizeof f[0], "|g| %.3f", x[H_GRAD_NORM]);
    snprintf(f[n++], sizeof f[0], "zero %.2f", x[H_ZERO_SHARE]);
    snprintf(f[n++], sizeof f[0], "%.0f tok/s", x[H_TOK_PER_S]);
    snprintf(f[n++], sizeof f[0], "%.1f ms/step", x[H_MS_PER_STEP]);
    snprintf(f[n++], sizeof f[0], "%.0fs", x[H_ELAPSED]);
    for (int i = 0; i < n; i++) fields[i] = f[i];
    progress_print(&v->pg, fields, n);
    if (v->sample_every && ++v->evaluations % v->sample_every == 0 && v->model) print_sample(v, (uint64_t)x[H_STEP]);
    return 0;
}

static const char *signal_name(int sig)
{
    static char other[24];
    switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    default: snprintf(other, sizeof other, "signal %d", sig); return other;
    }
}

/* "val 2.1234 bpb 3.063 at 340" */
static void evaluation(char *out, size_t n, const char *what, const HistRow *r)
{
    int k = snprintf(out, n, "%s %.4f", what, r->v[H_VAL_LOSS]);
    if (k > 0 && (size_t)k < n && !isnan(r->v[H_VAL_BPB])) k += snprintf(out + k, n - (size_t)k, " bpb %.3f", r->v[H_VAL_BPB]);
    if (k > 0 && (size_t)k < n) snprintf(out + k, n - (size_t)k, " at %.0f", r->v[H_STEP]);
}

/* The summary line (man l1b-train, SUMMARY LINE):
 * why: step S/T (N this run); saved FILE; val L bpb B at S (best)[; best ...]; W; R tok/s */
static void finished(void *ctx, const TrainEnd *e)
{
    View *v = ctx;
    if (v->quiet) return;
    progress_clear(&v->pg);
    char why[96], vals[160], best[80], wall[24];
    switch (e->stop) {
    case TRAIN_STOP_SCHEDULE: snprintf(why, sizeof why, "schedule done"); break;
    case TRAIN_STOP_UNTIL: snprintf(why, sizeof why, "stopped at --until %llu", (unsigned long long)v->until); break;
    case TRAIN_STOP_TIME: snprintf(why, sizeof why, "stopped by --time %s", v->time_arg ? v->time_arg : ""); break;
    case TRAIN_STOP_SIGNAL: snprintf(why, sizeof why, "stopped by %s", signal_name(e->signal)); break;
    default: snprintf(why, sizeof why, "nothing to do"); break;
    }
    if (!e->last_val) {
        snprintf(vals, sizeof vals, "no validation");
    } else {
        evaluation(vals, sizeof vals, "val", e->last_val);
        if (e->best_val == e->last_val) {
            strcat(vals, " (best)");
        } else {
            evaluation(best, sizeof best, "best", e->best_val);
            size_t k = strlen(vals);
            snprintf(vals + k, sizeof vals - k, "; %s", best);
        }
    }
    snprintf(wall, sizeof wall, "%.1fs", e->seconds);
    char run[48] = "";  /* a resumed run's own steps */
    if (e->steps_run != e->step) snprintf(run, sizeof run, " (%llu this run)", (unsigned long long)e->steps_run);
    cli_warn("%s: step %llu/%llu%s; %s%s; %s; %s; %.0f tok/s", why, (unsigned long long)e->step,
             (unsigned long long)e->total_steps, run, e->saved ? "saved " : "nothing saved", e->saved ? e->saved : "",
             vals, wall, e->seconds > 0 ? (double)e->tokens_run / e->seconds : 0.0);
}

static void note(void *ctx, const char *message)
{
    View *v = ctx;
    if (v->quiet) return;
    progress_clear(&v->pg);
    cli_warn("%s", message);
}

static void usage(const TrainOptions *d)
{
    printf("usage: l1b-train -o MODEL [options] [TOKENS]\n"
           "\n"
           "Train a ternary (BitNet b1.58) transformer on an l1b token stream (TOKENS,\n"
           "or stdin) and write the checkpoint MODEL.\n"
           "\n"
           "model shape (fixed once training starts):\n"
           "  --dim N          model width (default %u)\n"
           "  --layers N       transformer blocks (default %u)\n"
           "  --heads N        attention heads; dim/heads must be even (default %u)\n"
           "  --hidden N       feed-forward width (default: 8*dim/3 rounded up to 32\n"
           "                   for swiglu, 4*dim for relu2)\n"
           "  --ctx N          context length in tokens (default %u)\n"
           "  --ffn-act ACT    swiglu or relu2 (default swiglu)\n"
           "  --quant SCHEME   absmean (ternary BitNet b1.58, default), twn (ternary\n"
           "                   weight networks), stochastic (absmean, stochastic rounding),\n"
           "                   sign (binary) or f32 (float baseline)\n"
           "training:\n"
           "  --steps N        length of the run and its schedule (default %llu)\n"
           "  --time DURATION  stop, save and exit 0 after this long (90s, 30m, 2h)\n"
           "  --schedule-time  with --time: set --steps to what the time allows (timed\n"
           "                   before the first step), so the cosine ends with the run\n"
           "  --until N        stop, save and exit 0 after step N of the schedule\n"
           "  --batch N        sequences per micro-batch (default %u)\n"
           "  --accum N        micro-batches per step (default %u)\n"
           "  --lr X           peak learning rate (default %g)\n"
           "  --min-lr X       final learning rate of the cosine decay (default %g)\n"
           "  --warmup N       linear warm-up steps (default %u)\n"
           "  --wd X           AdamW weight decay on matrices (default %g)\n"
           "  --clip X         clip the global gradient norm to X; 0: off (default %g)\n"
           "  --seed N         random seed (default %llu)\n"
           "  --batching MODE  pack (random windows) or bucket (whole documents,\n"
           "                   similar lengths together) (default pack)\n"
           "data and evaluation:\n"
           "  --val FILE       validation token stream (same tokenizer)\n"
           "  --val-frac F     else hold out the last F of TOKENS (default %g)\n"
           "  --eval-every N   evaluate and log every N steps (default %u)\n"
           "  --eval-batches N validation batches per evaluation (default %u)\n"
           "checkpoints and output:\n"
           "  -o, --output MODEL  checkpoint to write (atomically)\n"
           "  --save-every N   also save every N steps; 0: only at the end (default %u)\n"
           "  --resume         continue MODEL if it exists (else start fresh); --lr,\n"
           "                   --min-lr, --warmup, --steps and --batch may change it\n"
           "  --keep-best FILE also save to FILE at every evaluation with the lowest\n"
           "                   validation loss so far (needs validation data)\n"
           "  --sample-every N print a 64-token greedy sample after every N-th\n"
           "                   evaluation's metric line\n"
           "  --sample-prompt TEXT  the sample's prompt (default: none, a document's start)\n"
           "  --log FILE       append a TSV row of metrics at every evaluation\n"
           "  -j, --threads N  threads (default: the CPUs it may use)\n"
           "  -q, --quiet      no progress on stderr\n"
           "  -v, --verbose    describe the model and data first\n"
           "      --profile    time per kernel category at exit (as L1B_PROFILE=1)\n"
           "  -h, --help       this help\n"
           "  -V, --version    version, SIMD level and whether MPI is built in\n"
           "\n"
           "Under mpirun (an l1b-train built with make MPI=1), the ranks train one model:\n"
           "--batch and --accum are per rank; see l1b-train(1), Several processes (MPI).\n",
           d->cfg.dim, d->cfg.n_layers, d->cfg.n_heads, d->cfg.ctx, (unsigned long long)d->steps, d->batch,
           d->accum, d->lr, d->min_lr, d->warmup, d->wd, d->clip, (unsigned long long)d->seed, d->val_frac,
           d->eval_every, d->eval_batches, d->save_every);
    cli_help_footer();
}

/* Started by mpirun as one of several processes? Open MPI says how many in
 * OMPI_COMM_WORLD_SIZE, MPICH's launcher in PMI_SIZE; a PMIx launcher
 * that says neither sets PMIX_RANK. */
static int launched_as_ranks(void)
{
    const char *sizes[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        const char *v = getenv(sizes[i]);
        if (v) return atoi(v) > 1;
    }
    return getenv("PMIX_RANK") != NULL;
}

static void version(void)
{
    char lib[256];
    cli_version();
    if (dist_built_in())
        printf("mpi: built in (%s); under mpirun the ranks train one model\n", dist_library(lib, sizeof lib));
    else
        printf("mpi: not built in (make MPI=1)\n");
}

int main(int argc, char **argv)
{
    cli_start(argv[0]);
    /* MPI only under mpirun: started alone, no MPI call at all */
    int launched = launched_as_ranks(), saved_stderr = -1;
    if (launched && dist_built_in()) {
        if (dist_init(&argc, &argv) < 0) cli_die_last();
        if (dist_rank() != 0) {
            /* rank 0 says what is wrong with the options, and prints help
             * and version; the others write nothing but fatal errors */
            int null = open("/dev/null", O_WRONLY);
            saved_stderr = dup(STDERR_FILENO);
            if (null >= 0) {
                dup2(null, STDOUT_FILENO);
                dup2(null, STDERR_FILENO);
                close(null);
            }
        }
    }
    TrainOptions o, d;
    View view = {0};
    int profile = 0;
    train_options_default(&o);
    d = o;
    enum {
        O_DIM = 256, O_LAYERS, O_HEADS, O_HIDDEN, O_CTX, O_FFN, O_QUANT, O_STEPS, O_TIME, O_BATCH, O_ACCUM,
        O_LR, O_MIN_LR, O_WARMUP, O_WD, O_CLIP, O_SEED, O_BATCHING, O_VAL, O_VAL_FRAC, O_EVAL_EVERY,
        O_EVAL_BATCHES, O_SAVE_EVERY, O_RESUME, O_LOG, O_UNTIL, O_PROFILE, O_KEEP_BEST, O_SAMPLE_EVERY,
        O_SAMPLE_PROMPT, O_SCHEDULE_TIME
    };
    static const struct option longopts[] = {
        {"dim", required_argument, 0, O_DIM}, {"layers", required_argument, 0, O_LAYERS},
        {"heads", required_argument, 0, O_HEADS}, {"hidden", required_argument, 0, O_HIDDEN},
        {"ctx", required_argument, 0, O_CTX}, {"ffn-act", required_argument, 0, O_FFN},
        {"quant", required_argument, 0, O_QUANT}, {"steps", required_argument, 0, O_STEPS},
        {"time", required_argument, 0, O_TIME}, {"batch", required_argument, 0, O_BATCH},
        {"accum", required_argument, 0, O_ACCUM}, {"lr", required_argument, 0, O_LR},
        {"min-lr", required_argument, 0, O_MIN_LR}, {"warmup", required_argument, 0, O_WARMUP},
        {"wd", required_argument, 0, O_WD}, {"clip", required_argument, 0, O_CLIP},
        {"seed", required_argument, 0, O_SEED}, {"batching", required_argument, 0, O_BATCHING},
        {"val", required_argument, 0, O_VAL}, {"val-frac", required_argument, 0, O_VAL_FRAC},
        {"eval-every", required_argument, 0, O_EVAL_EVERY}, {"eval-batches", required_argument, 0, O_EVAL_BATCHES},
        {"save-every", required_argument, 0, O_SAVE_EVERY}, {"resume", no_argument, 0, O_RESUME},
        {"log", required_argument, 0, O_LOG}, {"until", required_argument, 0, O_UNTIL},
        {"profile", no_argument, 0, O_PROFILE}, {"output", required_argument, 0, 'o'},
        {"keep-best", required_argument, 0, O_KEEP_BEST}, {"sample-every", required_argument, 0, O_SAMPLE_EVERY},
        {"sample-prompt", required_argument, 0, O_SAMPLE_PROMPT}, {"schedule-time", no_argument, 0, O_SCHEDULE_TIME},
        {"threads", required_argument, 0, 'j'}, {"quiet", no_argument, 0, 'q'},
        {"verbose", no_argument, 0, 'v'}, {"help", no_argument, 0, 'h'}, {"version", no_argument, 0, 'V'},
        {0, 0, 0, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "o:j:qvhV", longopts, NULL)) != -1) {
        switch (c) {
        case O_DIM: o.cfg.dim = (uint32_t)cli_uint("--dim", optarg, 2, 16384); o.dim_set = 1; break;
        case O_LAYERS: o.cfg.n_layers = (uint32_t)cli_uint("--layers", optarg, 1, 256); o.layers_set = 1; break;
        case O_HEADS: o.cfg.n_heads = (uint32_t)cli_uint("--heads", optarg, 1, 1024); o.heads_set = 1; break;
        case O_HIDDEN: o.cfg.hidden = (uint32_t)cli_uint("--hidden", optarg, 1, 65536); o.hidden_set = 1; break;
        case O_CTX: o.cfg.ctx = (uint32_t)cli_uint("--ctx", optarg, 1, 65536); o.ctx_set = 1; break;
        case O_FFN:
            o.cfg.ffn_act = (uint32_t)cli_choice("--ffn-act", optarg, ffn_act_names);
            o.ffn_set = 1;
            break;
        case O_QUANT:
            o.cfg.quant = (uint32_t)cli_choice("--quant", optarg, quant_names);
            o.quant_set = 1;
            break;
        case O_STEPS: o.steps = cli_uint("--steps", optarg, 1, 1000000000000ull); o.steps_set = 1; break;
        case O_TIME:
            if (parse_duration(optarg, &o.time_budget) < 0)
                cli_usage_error("--time: '%s' is not a duration like 90s, 30m or 2h", optarg);
            view.time_arg = optarg;
            break;
        case O_BATCH: o.batch = (uint32_t)cli_uint("--batch", optarg, 1, 65536); o.batch_set = 1; break;
        case O_ACCUM: o.accum = (uint32_t)cli_uint("--accum", optarg, 1, 65536); o.accum_set = 1; break;
        case O_LR: o.lr = cli_float("--lr", optarg, 0, 10); o.lr_set = 1; break;
        case O_MIN_LR: o.min_lr = cli_float("--min-lr", optarg, 0, 10); o.min_lr_set = 1; break;
        case O_WARMUP: o.warmup = (uint32_t)cli_uint("--warmup", optarg, 0, 1000000000); o.warmup_set = 1; break;
        case O_WD: o.wd = cli_float("--wd", optarg, 0, 10); o.wd_set = 1; break;
        case O_CLIP: o.clip = cli_float("--clip", optarg, 0, 1e9f); o.clip_set = 1; break;
        case O_SEED: o.seed = cli_uint("--seed", optarg, 0, UINT64_MAX); o.seed_set = 1; break;
        case O_BATCHING:
            o.batching = (uint32_t)cli_choice("--batching", optarg, batching_names);
            o.batching_set = 1;
            break;
        case O_VAL: o.val_path = optarg; break;
        case O_VAL_FRAC: o.val_frac = cli_float("--val-frac", optarg, 0, 0.9f); o.val_frac_set = 1; break;
        case O_EVAL_EVERY: o.eval_every = (uint32_t)cli_uint("--eval-every", optarg, 1, 1000000000); break;
        case O_EVAL_BATCHES: o.eval_batches = (uint32_t)cli_uint("--eval-batches", optarg, 0, 1000000000); break;
        case O_SAVE_EVERY: o.save_every = (uint32_t)cli_uint("--save-every", optarg, 0, 1000000000); break;
        case O_RESUME: o.resume = 1; break;
        case O_LOG: view.log_path = optarg; break;
        case O_PROFILE: profile = 1; break;
        case O_KEEP_BEST: o.best_path = optarg; break;
        case O_SAMPLE_EVERY: view.sample_every = cli_uint("--sample-every", optarg, 1, 1000000000); break;
        case O_SAMPLE_PROMPT: view.sample_prompt = optarg; break;
        case O_SCHEDULE_TIME: o.schedule_time = 1; break;
        case O_UNTIL: o.until = view.until = cli_uint("--until", optarg, 1, 1000000000000ull); break;
        case 'o': o.model_path = optarg; break;
        case 'j': o.threads = (int)cli_uint("-j", optarg, 1, 64); break;
        case 'q': view.quiet = 1; break;
        case 'v': view.verbose = 1; break;
        case 'h': usage(&d); return 0;
        case 'V': version(); return 0;
        default: fprintf(stderr, "Try '%s --help'.\n", cli_progname()); return 2;
        }
    }
    if (!o.model_path) cli_usage_error("no model file: -o MODEL is required");
    if (argc - optind > 1) cli_usage_error("one token stream at most (got %d)", argc - optind);
    if (o.val_path && o.val_frac_set) cli_usage_error("--val and --val-frac exclude each other");
    if (o.schedule_time && !o.time_budget) cli_usage_error("--schedule-time needs --time (the budget the schedule fills)");
    if (o.schedule_time && o.steps_set) cli_usage_error("--schedule-time and --steps exclude each other");
    if (o.best_path && !strcmp(o.best_path, o.model_path))
        cli_usage_error("--keep-best %s: the same file as -o", o.best_path);
    if (view.sample_prompt && !view.sample_every) cli_usage_error("--sample-prompt needs --sample-every");
    if (!view.sample_prompt) view.sample_prompt = "";
    o.data_path = optind < argc ? argv[optind] : "-";
    if (launched && !dist_built_in())
        cli_usage_error("started by mpirun as one of several processes, but built without MPI (make MPI=1)");
    if (saved_stderr >= 0) {
        dup2(saved_stderr, STDERR_FILENO);
        close(saved_stderr);
    }
    int rank = dist_rank();
    /* ranks sharing a machine share its cores */
    if (!o.threads && dist_local_size() > 1) {
        int cpus = threads_available();
        o.threads = cpus > dist_local_size() ? cpus / dist_local_size() : 1;
    }
    progress_init(&view.pg, view.verbose, view.quiet || rank != 0);
    cli_profile_start(profile);
    TrainReport report = {&view, started, tick, row, note, finished};
    int rc = train_run(&o, &report);
    progress_clear(&view.pg);
    if (rank == 0) cli_profile_report();
    if (view.log && fclose(view.log) != 0 && rc >= 0) rc = log_failed(&view);
    dist_finalize();
    if (rc < 0) {
        if (rank == 0) cli_warn("%s", l1b_last_error());  /* names the rank that failed */
        return 1;
    }
    return rc ? 128 + rc : 0;
}
