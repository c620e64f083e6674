/* l1b-ckpt: inspect, verify, convert, plot and export model files. See
 * l1b-ckpt(1). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "convert.h"
#include "dataset.h"
#include "export.h"
#include "inspect.h"
#include "report.h"
#include "train.h"
#include "util.h"

/* ---- help ---------------------------------------------------------------- */

typedef struct {
    const char *name, *synopsis, *help;
} Command;

static const Command commands[] = {
    {"info", "info [--json] FILE",
     "Describe a model file (training checkpoint or inference file): format,\n"
     "shape, parameter counts, quantisation, tokenizer, training step, last\n"
     "metrics, size, and for each ternary layer slice the share of -1, 0 and +1\n"
     "weights and the scale.\n"
     "\n"
     "  --json   one JSON object instead (keys in l1b-ckpt(1))\n"},
    {"verify", "verify FILE...",
     "Check every checksum and structural invariant of model files and token\n"
     "streams: print 'FILE: ok' for each, or stop at the first problem (exit 1).\n"},
    {"convert", "convert --pack [--bits B] [--tables T] | --unpack [SETTINGS] [-v] IN OUT",
     "Convert between a training checkpoint and a compact inference file; OUT\n"
     "is written atomically.\n"
     "\n"
     "  --pack        training checkpoint -> inference file: ternary weights\n"
     "                packed 2 bits each, no optimizer or training state\n"
     "  --bits B      with --pack: 2 (default; fastest) or 1.6 (five weights a\n"
     "                byte: a fifth less memory, slower); an inference file\n"
     "                is repacked\n"
     "  --tables T    with --pack: int8 (default: the embedding and output head\n"
     "                as int8 rows, as l1b-sample uses them) or f32 (floats, for\n"
     "                l1b-sample --exact)\n"
     "  --unpack      inference file -> training checkpoint (step 0, zero\n"
     "                optimizer moments, history kept; int8 tables\n"
     "                dequantised) for l1b-train --resume\n"
     "  -v, --verbose report the sizes\n"
     "settings stored by --unpack (l1b-train's defaults otherwise; a resumed run\n"
     "refuses different explicit values):\n"
     "  --steps N --batch N --accum N --warmup N --lr X --min-lr X --wd X\n"
     "  --clip X --seed N --val-frac F --batching pack|bucket\n"},
    {"vocab", "vocab FILE",
     "Print the tokenizer of a model file or token stream, one token a line:\n"
     "id, a tab, the bytes (printable ASCII as is, \\\\ \\n \\t, else \\xHH; 256\n"
     "is <eod>), and for BPE merges a tab and the merge rank.\n"},
    {"history", "history [--svg OUT] FILE",
     "Print the metric history stored in a model file as an aligned table.\n"
     "\n"
     "  --svg OUT   instead draw the train and validation loss and the bits per\n"
     "              byte against the step as an SVG image\n"},
    {"export", "export --format llama2c [--tokenizer-out TOKBIN] FILE OUT",
     "Write the model, dequantised to float32, as a checkpoint llama2.c's run.c\n"
     "loads (SwiGLU models only), and with --tokenizer-out its tokenizer.bin.\n"
     "Only f32 models compute exactly what l1b-sample does; see l1b-ckpt(1).\n"},
};
enum { N_COMMANDS = sizeof commands / sizeof commands[0] };

static const Command *command_named(const char *name)
{
    for (int i = 0; i < N_COMMANDS; i++)
        if (!strcmp(commands[i].name, name)) return &commands[i];
    return NULL;
}

static void usage(void)
{
    printf("usage: l1b-ckpt COMMAND [OPTIONS] FILE...\n"
           "\n"
           "Inspect, check, convert, plot and export l1b model files.\n"
           "\n");
    for (int i = 0; i < N_COMMANDS; i++) printf("  l1b-ckpt %s\n", commands[i].synopsis);
    printf("  l1b-ckpt help [COMMAND]\n"
           "\n"
           "  -h, --help     this help; 'l1b-ckpt help COMMAND' for one command\n"
           "  -V, --version  version and SIMD level\n");
    cli_help_footer();
}

static void command_usage(const Command *c)
{
    printf("usage: l1b-ckpt %s\n\n%s", c->synopsis, c->help);
    cli_help_footer();
}

/* An unknown option or a missing value: getopt has said which; exit 2. */
static void bad_option(void)
{
    fprintf(stderr, "Try '%s --help'.\n", cli_progname());
    exit(2);
}

static void want_args(int have, int want_min, int want_max, const char *cmd)
{
    if (have < want_min) cli_usage_error("%s: missing %s", cmd, want_min - have > 1 ? "files" : "file");
    if (want_max >= 0 && have > want_max) cli_usage_error("%s: too many arguments", cmd);
}

/* ---- commands --------------------------------------------------------------- */

static int cmd_info(int argc, char **argv)
{
    int json = 0, c;
    static const struct option opts[] = {{"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'j') json = 1;
        else if (c == 'h') { command_usage(command_named("info")); return 0; }
        else bad_option();
    }
    want_args(argc - optind, 1, 1, "info");
    if (report_info(stdout, argv[optind], json) < 0) cli_die_last();
    return 0;
}

static int cmd_verify(int argc, char **argv)
{
    int c;
    static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') { command_usage(command_named("verify")); return 0; }
        bad_option();
    }
    want_args(argc - optind, 1, -1, "verify");
    for (int i = optind; i < argc; i++) {
        if (inspect_verify(argv[i]) < 0) {
            fflush(stdout);  /* the files found ok first */
            cli_die_last();
        }
        printf("%s: ok\n", argv[i]);
    }
    return 0;
}

static int cmd_convert(int argc, char **argv)
{
    enum { O_PACK = 256, O_UNPACK, O_BITS, O_TABLES, O_STEPS, O_BATCH, O_ACCUM, O_WARMUP, O_LR, O_MIN_LR, O_WD, O_CLIP, O_SEED,
           O_VAL_FRAC, O_BATCHING };
    static const struct option opts[] = {
        {"pack", no_argument, 0, O_PACK}, {"unpack", no_argument, 0, O_UNPACK},
        {"bits", required_argument, 0, O_BITS}, {"tables", required_argument, 0, O_TABLES},
        {"steps", required_argument, 0, O_STEPS}, {"batch", required_argument, 0, O_BATCH},
        {"accum", required_argument, 0, O_ACCUM}, {"warmup", required_argument, 0, O_WARMUP},
        {"lr", required_argument, 0, O_LR}, {"min-lr", required_argument, 0, O_MIN_LR},
        {"wd", required_argument, 0, O_WD}, {"clip", required_argument, 0, O_CLIP},
        {"seed", required_argument, 0, O_SEED}, {"val-frac", required_argument, 0, O_VAL_FRAC},
        {"batching", required_argument, 0, O_BATCHING}, {"verbose", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0},
    };
    TrainOptions d;
    train_options_default(&d);
    int mode = 0, verbose = 0, settings = 0, c;
    uint32_t packing = 0;  /* --bits: PACK_2BIT or PACK_BASE3; 0: not given */
    uint32_t tables = 0;   /* --tables: TABLES_INT8 or TABLES_F32; 0: not given */
    while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
        settings += c >= O_STEPS;
        switch (c) {
        case O_PACK:
        case O_UNPACK:
            if (mode && mode != c) cli_usage_error("convert: --pack and --unpack exclude each other");
            mode = c;
            break;
        case O_BITS:
packing = (uint32_t)cli_choice("--bits", optarg, packing_bits_names); break;
        case O_TABLES:
tables = (uint32_t)cli_choice("--tables", optarg, table_format_names); break;
        case O_STEPS: d.steps = cli_uint("--steps", optarg, 1, UINT64_MAX / 2); break;
        case O_BATCH: d.batch = (uint32_t)cli_uint("--batch", optarg, 1, 65536); break;
        case O_ACCUM: d.accum = (uint32_t)cli_uint("--accum", optarg, 1, 65536); break;
        case O_WARMUP: d.warmup = (uint32_t)cli_uint("--warmup", optarg, 0, UINT32_MAX); break;
        case O_LR: d.lr = cli_float("--lr", optarg, 0, 10); break;
        case O_MIN_LR: d.min_lr = cli_float("--min-lr", optarg, 0, 10); break;
        case O_WD: d.wd = cli_float("--wd", optarg, 0, 10); break;
        case O_CLIP: d.clip = cli_float("--clip", optarg, 0, 1e9f); break;
        case O_SEED: d.seed = cli_uint("--seed", optarg, 0, UINT64_MAX); break;
        case O_VAL_FRAC: d.val_frac = cli_float("--val-frac", optarg, 0, 0.9f); break;
        case O_BATCHING:
d.batching = (uint32_t)cli_choice("--batching", optarg, batching_names); break;
        case 'v': verbose = 1; break;
        case 'h': command_usage(command_named("convert")); return 0;
        default: bad_option();
        }
    }
    if (!mode) cli_usage_error("convert: say --pack or --unpack");
    if (mode == O_PACK && settings) cli_usage_error("convert: training settings go with --unpack");
    if (mode == O_UNPACK && packing) cli_usage_error("convert: --bits goes with --pack");
    if (mode == O_UNPACK && tables) cli_usage_error("convert: --tables goes with --pack");
    want_args(argc - optind, 2, 2, "convert");
    const char *in = argv[optind], *out = argv[optind + 1];
    ConvertOptions co = {.unpack = mode == O_UNPACK, .packing = packing, .tables = tables, .settings = &d};
    ConvertReport r;
    int rc = convert_file(in, out, &co, &r);
    if (r.inexact)
        cli_warn("%s: %zu layer slices could not be given shadow weights that quantise back to exactly the "
                 "stored scale; they differ in the last bit", in, r.inexact);
    if (r.inexact_rows)
        cli_warn("%s: %zu rows of the embedding or output head could not be given floats that quantise back "
                 "to exactly the stored int8 row; they hold the values times the scale", in, r.inexact_rows);
    if (rc < 0) cli_die_last();
    if (verbose) {
        uint64_t a = r.in_bytes, b = r.out_bytes;
        cli_warn("%s: %llu bytes -> %s: %llu bytes (%.2f x %s)", in, (unsigned long long)a, out,
                 (unsigned long long)b, b > a ? (double)b / (double)(a ? a : 1) : (double)a / (double)(b ? b : 1),
                 b > a ? "larger" : "smaller");
    }
    return 0;
}

static int cmd_vocab(int argc, char **argv)
{
    int c;
    static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') { command_usage(command_named("vocab")); return 0; }
        bad_option();
    }
    want_args(argc - optind, 1, 1, "vocab");
    if (report_vocab(stdout, argv[optind]) < 0) cli_die_last();
    return 0;
}

static int cmd_history(int argc, char **argv)
{
    const char *svg = NULL;
    int c;
    static const struct option opts[] = {{"svg", required_argument, 0, 's'}, {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 's') svg = optarg;
        else if (c == 'h') { command_usage(command_named("history")); return 0; }
        else bad_option();
    }
    want_args(argc - optind, 1, 1, "history");
    const char *path = argv[optind];
    if (svg) {
        if (report_history_svg(path, svg) < 0) cli_die_last();
        return 0;
    }
    if (report_history(stdout, path) < 0) cli_die_last();
    return 0;
}

static int cmd_export(int argc, char **argv)
{
    const char *format = NULL, *tok_out = NULL;
    int c;
    static const struct option opts[] = {{"format", required_argument, 0, 'f'},
                                         {"tokenizer-out", required_argument, 0, 't'},
                                         {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
        if (c == 'f') format = optarg;
        else if (c == 't') tok_out = optarg;
        else if (c == 'h') { command_usage(command_named("export")); return 0; }
        else bad_option();
    }
    if (!format) cli_usage_error("export: say --format llama2c");
    if (strcmp(format, "llama2c")) cli_usage_error("export: unknown format '%s' (llama2c is the one)", format);
    want_args(argc - optind, 2, 2, "export");
    if (export_llama2c(argv[optind], argv[optind + 1], tok_out) < 0) cli_die_last();
    return 0;
}

/* ---- main ------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    cli_start(argv[0]);
    if (argc < 2) cli_usage_error("no command (info, verify, convert, vocab, history, export)");
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
        usage();
        return 0;
    }
    if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
        cli_version();
        return 0;
    }
    if (!strcmp(cmd, "help")) {
        if (argc == 2) usage();
        else if (argc > 3) cli_usage_error("help: one command at a time");
        else if (command_named(argv[2])) command_usage(command_named(argv[2]));
        else cli_usage_error("help: no command '%s'", argv[2]);
        return 0;
    }
    /* each command parses its own options, argv[0] naming it in getopt's
     * messages */
    int sub_argc = argc - 1;
    char **sub_argv = argv + 1;
    static char name[64];
    snprintf(name, sizeof name, "%s %s", cli_progname(), cmd);
    sub_argv[0] = name;
    if (!strcmp(cmd, "info")) return cmd_info(sub_argc, sub_argv);
    if (!strcmp(cmd, "verify")) return cmd_verify(sub_argc, sub_argv);
    if (!strcmp(cmd, "convert")) return cmd_convert(sub_argc, sub_argv);
    if (!strcmp(cmd, "vocab")) return cmd_vocab(sub_argc, sub_argv);
    if (!strcmp(cmd, "history")) return cmd_history(sub_argc, sub_argv);
    if (!strcmp(cmd, "export")) return cmd_export(sub_argc, sub_argv);
    cli_usage_error("unknown command '%s'", cmd);
}
