/* l1b-bench: how fast is it, here. See l1b-bench(1). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cpu.h"
#include "cli.h"
#include "kernels.h"
#include "ternary.h"
#include "threads.h"
#include "util.h"

enum { FORMAT_TABLE, FORMAT_TSV, FORMAT_JSON };
static const NameValue format_names[] = {
    {"table", FORMAT_TABLE}, {"tsv", FORMAT_TSV}, {"json", FORMAT_JSON}, {NULL, 0}};

static void usage(void)
{
    printf("usage: l1b-bench [kernels|train|sample|all] [--simd LIST] [--shape SHAPE] [--batch N]\n"
           "                 [--bits B] [-j N] [--format table|tsv|json] [--quick]\n"
           "\n"
           "Time l1b's kernels at every SIMD level this CPU has, side by side, and\n"
           "training steps and decoding end to end (default: all).\n"
           "\n"
           "  --simd LIST      levels to compare in 'kernels', e.g. scalar,sse2,avx2\n"
           "                   (default: every level the CPU and build support)\n"
           "  --shape SHAPE    model shape for train and sample, as\n"
           "                   dim=N,layers=N,heads=N,hidden=N,ctx=N,vocab=N\n"
           "  --batch N        sequences per training step (default 12)\n"
           "  --bits B         sample with the ternary weights packed 2 (default)\n"
           "                   or 1.6 bits each (l1b-ckpt convert --pack --bits)\n"
           "  -j, --threads N  threads (default 1, for per-core figures)\n"
           "  --format FMT     table (default), tsv or json\n"
           "  --quick          small shapes and few repetitions: seconds, not minutes\n"
           "  -h, --help       this help\n"
           "  -V, --version    version and SIMD level\n");
    cli_help_footer();
}

/* The rows as a table for people, TSV or JSON. */
static void print_rows(const BenchTable *t, int format)
{
    if (format == FORMAT_TSV) {
        printf("bench\tshape\tsimd\tthreads\tmedian\tunit\tspread\trate\trate_unit\tspeedup\n");
        for (size_t i = 0; i < t->n; i++) {
            const BenchRow *r = &t->rows[i];
            printf("%s\t%s\t%s\t%d\t%.4g\t%s\t%.3f\t%.4g\t%s\t%.3g\n", r->bench, r->shape, r->simd, r->threads,
                   r->median, r->unit, r->spread, r->rate, r->rate_unit, r->speedup);
        }
        return;
    }
    if (format == FORMAT_JSON) {
        printf("{\"cpu\": \"%s\", \"rows\": [\n", cpu_feature_string());
        for (size_t i = 0; i < t->n; i++) {
            const BenchRow *r = &t->rows[i];
            printf("  {\"bench\": \"%s\", \"shape\": \"%s\", \"simd\": \"%s\", \"threads\": %d, \"median\": %.6g, "
                   "\"unit\": \"%s\", \"spread\": %.4f",
                   r->bench, r->shape, r->simd, r->threads, r->median, r->unit, r->spread);
            if (!isnan(r->rate)) printf(", \"rate\": %.6g, \"rate_unit\": \"%s\"", r->rate, r->rate_unit);
            if (!isnan(r->speedup)) printf(", \"speedup\": %.4g", r->speedup);
            printf("}%s\n", i + 1 < t->n ? "," : "");
        }
        printf("]}\n");
        return;
    }
    printf("cpu features: %s\n", cpu_feature_string());
    printf("%-18s %-30s %-7s %3s %12s %8s %14s %8s\n", "bench", "shape", "simd", "thr", "median", "spread",
           "rate", "speedup");
    for (size_t i = 0; i < t->n; i++) {
        const BenchRow *r = &t->rows[i];
        char med[32], rate[32] = "", sp[16] = "";
        snprintf(med, sizeof med, "%.3g %s", r->median, r->unit);
        if (!isnan(r->rate)) snprintf(rate, sizeof rate, "%.3g %s", r->rate, r->rate_unit);
        if (!isnan(r->speedup)) snprintf(sp, sizeof sp, "%.2fx", r->speedup);
        printf("%-18s %-30s %-7s %3d %12s %7.0f%% %14s %8s\n", r->bench, r->shape, r->simd, r->threads, med,
               100 * r->spread, rate, sp);
    }
}

static void parse_shape(const char *s, ModelConfig *c)
{
    char *copy = xmalloc(strlen(s) + 1), *save = NULL;
    strcpy(copy, s);
    *c = (ModelConfig){128, 4, 4, 0, 64, 257, FFN_SWIGLU, QUANT_ABSMEAN};
    for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq) cli_usage_error("--shape: '%s' is not KEY=VALUE", kv);
        *eq = 0;
        uint32_t v = (uint32_t)cli_uint(kv, eq + 1, 1, 65536);
        if (!strcmp(kv, "dim")) c->dim = v;
        else if (!strcmp(kv, "layers")) c->n_layers = v;
        else if (!strcmp(kv, "heads")) c->n_heads = v;
        else if (!strcmp(kv, "hidden")) c->hidden = v;
        else if (!strcmp(kv, "ctx")) c->ctx = v;
        else if (!strcmp(kv, "vocab")) c->vocab = v;
        else cli_usage_error("--shape: unknown key '%s' (dim, layers, heads, hidden, ctx, vocab)", kv);
    }
    if (!c->hidden) c->hidden = model_default_hidden(c->dim, c->ffn_act);
    if (model_config_check(c) < 0) cli_usage_error("--shape: %s", l1b_last_error());
    free(copy);
}

int main(int argc, char **argv)
{
    cli_start(argv[0]);
    BenchOptions o;
    memset(&o, 0, sizeof o);
    int format = FORMAT_TABLE, threads = 1, simd_given = 0;
    enum { O_SIMD = 256, O_SHAPE, O_BATCH, O_BITS, O_FORMAT, O_QUICK };
    static const struct option longopts[] = {
        {"simd", required_argument, 0, O_SIMD}, {"shape", required_argument, 0, O_SHAPE},
        {"batch", required_argument, 0, O_BATCH}, {"bits", required_argument, 0, O_BITS},
        {"format", required_argument, 0, O_FORMAT},
        {"quick", no_argument, 0, O_QUICK}, {"threads", required_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'}, {"version", no_argument, 0, 'V'}, {0, 0, 0, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "j:hV", longopts, NULL)) != -1) {
        switch (c) {
        case O_SIMD: {
            char *copy = xmalloc(strlen(optarg) + 1), *save = NULL;
            strcpy(copy, optarg);
            for (char *name = strtok_r(copy, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
                SimdLevel lv;
                if (simd_parse(name, &lv) < 0)
                    cli_usage_error("--simd: unknown level '%s' (%s)", name, simd_level_names());
                if (!cpu_has_level(lv)) cli_warn("--simd: %s is not supported here; skipped", name);
                else o.levels[lv] = 1;
            }
            free(copy);
            simd_given = 1;
            break;
        }
        case O_SHAPE: parse_shape(optarg, &o.shape); break;
        case O_BATCH: o.batch = (uint32_t)cli_uint("--batch", optarg, 1, 4096); break;
        case O_BITS:
o.packing = (uint32_t)cli_choice("--bits", optarg, packing_bits_names); break;
        case O_FORMAT:
format = cli_choice("--format", optarg, format_names); break;
        case O_QUICK: o.quick = 1; break;
        case 'j': threads = (int)cli_uint("-j", optarg, 1, 64); break;
        case 'h': usage(); return 0;
        case 'V': cli_version(); return 0;
        default: fprintf(stderr, "Try '%s --help'.\n", cli_progname()); return 2;
        }
    }
    int n_levels = 0;
    for (int lv = 0; lv < SIMD_LEVELS; lv++) n_levels += o.levels[lv];
    if (simd_given && !n_levels) cli_usage_error("--simd: no level to run here");
    if (!simd_given)
        for (int lv = 0; lv < SIMD_LEVELS; lv++) o.levels[lv] = cpu_has_level((SimdLevel)lv);
    int do_kernels = 0, do_train = 0, do_sample = 0;
    if (optind == argc) do_kernels = do_train = do_sample = 1;
    for (int i = optind; i < argc; i++) {
        if (!strcmp(argv[i], "kernels")) do_kernels = 1;
        else if (!strcmp(argv[i], "train")) do_train = 1;
        else if (!strcmp(argv[i], "sample")) do_sample = 1;
        else if (!strcmp(argv[i], "all")) do_kernels = do_train = do_sample = 1;
        else cli_usage_error("unknown benchmark '%s' (kernels, train, sample, all)", argv[i]);
    }
    threads_init(threads);
    BenchTable t = {0};
    if (do_kernels) bench_kernels(&o, &t);
    if (do_train) bench_train(&o, &t);
    if (do_sample) bench_sample(&o, &t);
    print_rows(&t, format);
    bench_table_free(&t);
    return 0;
}
