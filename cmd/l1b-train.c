/* l1b-train: token stream in, checkpoint out. See l1b-train(1). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dataset.h"
#include "train.h"
#include "util.h"

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
           "  --resume         continue MODEL if it exists (else start fresh)\n"
           "  --log FILE       append a TSV row of metrics at every evaluation\n"
           "  -j, --threads N  threads (default: all cores)\n"
           "  -q, --quiet      no progress on stderr\n"
           "  -v, --verbose    describe the model and data first\n"
           "      --profile    time per kernel category at exit (as L1B_PROFILE=1)\n"
           "  -h, --help       this help\n"
           "  -V, --version    version and SIMD level\n",
           d->cfg.dim, d->cfg.n_layers, d->cfg.n_heads, d->cfg.ctx, (unsigned long long)d->steps, d->batch,
           d->accum, d->lr, d->min_lr, d->warmup, d->wd, d->clip, (unsigned long long)d->seed, d->val_frac,
           d->eval_every, d->eval_batches, d->save_every);
}

int main(int argc, char **argv)
{
    cli_start(argv[0]);
    TrainOptions o, d;
    train_options_default(&o);
    d = o;
    enum {
        O_DIM = 256, O_LAYERS, O_HEADS, O_HIDDEN, O_CTX, O_FFN, O_QUANT, O_STEPS, O_TIME, O_BATCH, O_ACCUM,
        O_LR, O_MIN_LR, O_WARMUP, O_WD, O_CLIP, O_SEED, O_BATCHING, O_VAL, O_VAL_FRAC, O_EVAL_EVERY,
        O_EVAL_BATCHES, O_SAVE_EVERY, O_RESUME, O_LOG, O_UNTIL, O_PROFILE
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
            if (!strcmp(optarg, "swiglu")) o.cfg.ffn_act = FFN_SWIGLU;
            else if (!strcmp(optarg, "relu2")) o.cfg.ffn_act = FFN_RELU2;
            else cli_usage_error("--ffn-act: '%s' is not swiglu or relu2", optarg);
            o.ffn_set = 1;
            break;
        case O_QUANT:
        {
            QuantScheme q;
            if (quant_scheme_parse(optarg, &q) < 0)
                cli_usage_error("--quant: '%s' is not absmean, twn, stochastic, sign or f32", optarg);
            o.cfg.quant = q;
        }
            o.quant_set = 1;
            break;
        case O_STEPS: o.steps = cli_uint("--steps", optarg, 1, 1000000000000ull); o.steps_set = 1; break;
        case O_TIME:
            if (parse_duration(optarg, &o.time_budget) < 0)
                cli_usage_error("--time: '%s' is not a duration like 90s, 30m or 2h", optarg);
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
            if (!strcmp(optarg, "pack")) o.batching = BATCH_PACK;
            else if (!strcmp(optarg, "bucket")) o.batching = BATCH_BUCKET;
            else cli_usage_error("--batching: '%s' is not pack or bucket", optarg);
            o.batching_set = 1;
            break;
        case O_VAL: o.val_path = optarg; break;
        case O_VAL_FRAC: o.val_frac = cli_float("--val-frac", optarg, 0, 0.9f); o.val_frac_set = 1; break;
        case O_EVAL_EVERY: o.eval_every = (uint32_t)cli_uint("--eval-every", optarg, 1, 1000000000); break;
        case O_EVAL_BATCHES: o.eval_batches = (uint32_t)cli_uint("--eval-batches", optarg, 0, 1000000000); break;
        case O_SAVE_EVERY: o.save_every = (uint32_t)cli_uint("--save-every", optarg, 0, 1000000000); break;
        case O_RESUME: o.resume = 1; break;
        case O_LOG: o.log_path = optarg; break;
        case O_PROFILE: o.profile = 1; break;
        case O_UNTIL: o.until = cli_uint("--until", optarg, 1, 1000000000000ull); break;
        case 'o': o.model_path = optarg; break;
        case 'j': o.threads = (int)cli_uint("-j", optarg, 1, 64); break;
        case 'q': o.quiet = 1; break;
        case 'v': o.verbose = 1; break;
        case 'h': usage(&d); return 0;
        case 'V': cli_version(); return 0;
        default: fprintf(stderr, "Try '%s --help'.\n", l1b_progname()); return 2;
        }
    }
    if (!o.model_path) cli_usage_error("no model file: -o MODEL is required");
    if (argc - optind > 1) cli_usage_error("one token stream at most (got %d)", argc - optind);
    if (o.val_path && o.val_frac_set) cli_usage_error("--val and --val-frac exclude each other");
    o.data_path = optind < argc ? argv[optind] : "-";
    return train_run(&o);
}
