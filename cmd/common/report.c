#include "report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "inspect.h"
#include "svg.h"
#include "util.h"

static const char *ffn_name(uint32_t a) { return name_of(ffn_act_names, (int)a); }
static const char *quant_name(uint32_t q) { return name_of(quant_names, (int)q); }

/* ---- info ------------------------------------------------------------- */

/* dims of a float tensor: per-layer norms (L, C), final norm (C), else (rows, cols) */
static int float_shape(const TensorInfo *ti, int t, uint32_t *d)
{
    if (t == T_ATTN_NORM || t == T_FFN_NORM) { d[0] = ti->layers; d[1] = ti->cols; return 2; }
    if (ti->rows == 1 && ti->layers == 1) { d[0] = ti->cols; return 1; }
    d[0] = ti->rows;
    d[1] = ti->cols;
    return 2;
}

static void json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(out, "\\%c", c);
        else if (c < 0x20) fprintf(out, "\\u%04x", c);
        else fputc(c, out);
    }
    fputc('"', out);
}

static void json_num(FILE *out, double v, const char *fmt)
{
    if (isfinite(v)) fprintf(out, fmt, v);
    else fputs("null", out);
}

/* ---- the stored training settings (training checkpoints) ----------------- */

/* A float setting in the fewest digits that read back as the same float:
 * 0.001, not 0.00100000005. */
static const char *float_text(char *out, size_t n, float x)
{
    for (int digits = 6; digits <= 9; digits++) {
        snprintf(out, n, "%.*g", digits, (double)x);
        if ((float)strtod(out, NULL) == x) break;
    }
    return out;
}

/* "lr 0.001, min-lr 0.0001, ..." (sep ", ", quote "") or the members of a
 * JSON object ("lr": 0.001, ...; names with _ for -) */
static void print_settings(FILE *out, const TrainState *st, int json)
{
    char lr[32], min_lr[32], wd[32], clip[32], vf[32];
    float_text(lr, sizeof lr, st->lr);
    float_text(min_lr, sizeof min_lr, st->min_lr);
    float_text(wd, sizeof wd, st->wd);
    float_text(clip, sizeof clip, st->clip);
    float_text(vf, sizeof vf, st->val_frac);
    const char *batching = name_of(batching_names, (int)st->batching);
    if (json)
        fprintf(out, "{\"lr\": %s, \"min_lr\": %s, \"warmup\": %u, \"steps\": %llu, \"batch\": %u, \"accum\": %u,"
                     " \"wd\": %s, \"clip\": %s, \"seed\": %llu, \"val_frac\": %s, \"batching\": \"%s\"}",
                lr, min_lr, st->warmup, (unsigned long long)st->total_steps, st->batch, st->accum, wd, clip,
                (unsigned long long)st->seed, vf, batching);
    else
        fprintf(out, "lr %s, min-lr %s, warmup %u, steps %llu, batch %u, accum %u, wd %s, clip %s, seed %llu, "
                     "val-frac %s, batching %s",
                lr, min_lr, st->warmup, (unsigned long long)st->total_steps, st->batch, st->accum, wd, clip,
                (unsigned long long)st->seed, vf, batching);
}

static void print_json(FILE *out, const ModelSummary *s)
{
    const ModelConfig *c = &s->pm.cfg;
    fputs("{\"file\": ", out);
    json_string(out, s->path);
    fprintf(out, ", \"format_version\": %u, \"kind\": \"%s\",\n", CKPT_VERSION,
            s->kind == CKPT_KIND_TRAIN ? "training" : "inference");
    fprintf(out, " \"dim\": %u, \"layers\": %u, \"heads\": %u, \"head_size\": %u, \"hidden\": %u, \"ctx\": %u,"
                 " \"vocab\": %u, \"ffn\": \"%s\", \"quant\": \"%s\",\n",
            c->dim, c->n_layers, c->n_heads, c->dim / c->n_heads, c->hidden, c->ctx, c->vocab, ffn_name(c->ffn_act),
            quant_name(c->quant));
    fputs(" \"packing\": ", out);
    if (s->kind == CKPT_KIND_INFER && c->quant != QUANT_F32)
        fprintf(out, "\"%s\",\n", s->pm.packing == PACK_BASE3 ? "base3" : s->pm.packing == PACK_SIGN ? "1bit" : "2bit");
    else
        fputs("null,\n", out);
    fprintf(out, " \"tables\": \"%s\",\n", name_of(table_format_names, (int)s->pm.tables));
    fprintf(out, " \"params\": %llu, \"ternary_params\": %llu, \"float_params\": %llu,\n",
            (unsigned long long)s->n_params, (unsigned long long)s->n_ternary,
            (unsigned long long)(s->n_params - s->n_ternary));
    fprintf(out, " \"tokenizer\": \"%s\", \"tokenizer_vocab\": %u, \"merges\": %u,\n",
            s->tok.kind == TOK_KIND_BPE ? "bpe" : "bytes", s->tok.n_vocab, s->tok.n_merges);
    fputs(" \"step\": ", out);
    json_num(out, s->have_step ? (double)s->step : NAN, "%.0f");
    fputs(", \"total_steps\": ", out);
    json_num(out, s->have_total ? (double)s->total_steps : NAN, "%.0f");
    fputs(", \"tokens_seen\": ", out);
    json_num(out, s->have_step ? (double)s->tokens_seen : NAN, "%.0f");
    fputs(",\n \"train_loss\": ", out);
    json_num(out, s->train_loss, "%.6g");
    fputs(", \"val_loss\": ", out);
    json_num(out, s->val_loss, "%.6g");
    fputs(", \"val_bpb\": ", out);
    json_num(out, s->val_bpb, "%.6g");
    fputs(", \"val_step\": ", out);
    json_num(out, s->val_step, "%.0f");
    if (s->kind == CKPT_KIND_TRAIN) {  /* inference files keep no settings */
        fputs(",\n \"settings\": ", out);
        print_settings(out, &s->st, 1);
    }
    fprintf(out, ",\n \"file_bytes\": %llu, \"bytes_per_param\": %.4f,\n \"tensors\": [",
            (unsigned long long)s->file_bytes, (double)s->file_bytes / (double)s->n_params);
    const char *sep = "\n";
    for (int t = 0; t < N_TENSORS; t++) {
        const TensorInfo *ti = &s->info[t];
        if (!ti->ternary) {
            uint32_t d[2];
            int nd = float_shape(ti, t, d);
            fprintf(out, "%s  {\"name\": \"%s\", \"shape\": [%u%s", sep, ti->name, d[0], nd == 2 ? ", " : "");
            if (nd == 2) fprintf(out, "%u", d[1]);
            fputs("], \"ternary\": false}", out);
            sep = ",\n";
            continue;
        }
        if (!ti->rows) continue;
        for (uint32_t l = 0; l < ti->layers; l++) {
            fprintf(out, "%s  {\"name\": \"%s[%u]\", \"tensor\": \"%s\", \"layer\": %u, \"shape\": [%u, %u]", sep,
                    ti->name, l, ti->name, l, ti->rows, ti->cols);
            sep = ",\n";
            if (!s->pm.packed[t]) {
                fputs(", \"ternary\": false}", out);
                continue;
            }
            SliceStats st;
            slice_stats(&s->pm.packed[t][l], &st);
            double n = (double)ti->rows * ti->cols;
            fprintf(out, ", \"ternary\": true, \"scale\": %.9g, \"minus\": %.6f, \"zero\": %.6f, \"plus\": %.6f}",
                    (double)st.scale, (double)st.minus / n, (double)st.zero / n, (double)st.plus / n);
        }
    }
    fputs("\n ]}\n", out);
}

static void print_text(FILE *out, const ModelSummary *s)
{
    const ModelConfig *c = &s->pm.cfg;
    fprintf(out, "file          %s: l1b model file version %u, %s\n", s->path, CKPT_VERSION,
            s->kind == CKPT_KIND_TRAIN ? "training checkpoint" : "inference file");
    fprintf(out, "shape         dim %u, layers %u, heads %u (head size %u), hidden %u, ctx %u, vocab %u, ffn %s\n",
            c->dim, c->n_layers, c->n_heads, c->dim / c->n_heads, c->hidden, c->ctx, c->vocab, ffn_name(c->ffn_act));
    fprintf(out, "parameters    %llu (ternary %llu, float %llu)\n", (unsigned long long)s->n_params,
            (unsigned long long)s->n_ternary, (unsigned long long)(s->n_params - s->n_ternary));
    static const char *const what[QUANT_COUNT] = {
        "f32 (float baseline, no quantisation)",
        "absmean (ternary, scale mean|w| per layer slice)",
        "twn (ternary weight networks, threshold 0.7 mean|w|)",
        "stochastic (absmean, stochastic rounding in training)",
        "sign (binary -1/+1, scale mean|w|)",
    };
    fprintf(out, "quantisation  %s\n", c->quant < QUANT_COUNT ? what[c->quant] : "?");
    if (s->kind == CKPT_KIND_INFER && c->quant != QUANT_F32)
        fprintf(out, "packing       %s\n", s->pm.packing == PACK_BASE3  ? "1.6 bits a weight (base 3, five to a byte)"
                                       : s->pm.packing == PACK_SIGN ? "1 bit a weight"
                                                                    : "2 bits a weight");
    if (s->kind == CKPT_KIND_INFER)
        fprintf(out, "tables        %s\n", s->pm.tables == TABLES_INT8 ? "int8 rows with a scale each (embedding, head)"
                                                                       : "f32 (embedding, head)");
    if (s->tok.kind == TOK_KIND_BPE)
        fprintf(out, "tokenizer     bpe, %u tokens (%u merges)\n", s->tok.n_vocab, s->tok.n_merges);
    else
        fprintf(out, "tokenizer     bytes, %u tokens\n", s->tok.n_vocab);
    if (s->have_total)
        fprintf(out, "training      step %llu of %llu, %llu tokens seen\n", (unsigned long long)s->step,
                (unsigned long long)s->total_steps, (unsigned long long)s->tokens_seen);
    else if (s->have_step)
        fprintf(out, "training      step %llu, %llu tokens seen (last history row)\n", (unsigned long long)s->step,
                (unsigned long long)s->tokens_seen);
    else
        fprintf(out, "training      -\n");
    if (s->kind == CKPT_KIND_TRAIN) {
        fputs("settings      ", out);
        print_settings(out, &s->st, 0);
        fputc('\n', out);
    }
    fputs("last metrics  ", out);
    if (isfinite(s->train_loss)) fprintf(out, "train loss %.4f (step %.0f)", s->train_loss, s->train_step);
    else fputs("train loss -", out);
    if (isfinite(s->val_loss))
        fprintf(out, ", val loss %.4f, val bpb %.4f (step %.0f)\n", s->val_loss, s->val_bpb, s->val_step);
    else
        fputs(", val loss -, val bpb -\n", out);
    fprintf(out, "size          %llu bytes, %.3f bytes per parameter\n", (unsigned long long)s->file_bytes,
            (double)s->file_bytes / (double)s->n_params);
    fprintf(out, "\n%-14s %-11s %6s  %6s  %6s   %s\n", "tensor", "shape", "-1", "0", "+1", "scale");
    for (int t = 0; t < N_TENSORS; t++) {
        const TensorInfo *ti = &s->info[t];
        char name[64], shape[64];
        if (!ti->ternary) {
            uint32_t d[2];
            if (float_shape(ti, t, d) == 2) snprintf(shape, sizeof shape, "%ux%u", d[0], d[1]);
            else snprintf(shape, sizeof shape, "%u", d[0]);
            fprintf(out, "%-14s %-11s %s\n", ti->name, shape, s->pm.q8[t].q ? "int8" : "float");
            continue;
        }
        for (uint32_t l = 0; l < ti->layers && ti->rows; l++) {
            snprintf(name, sizeof name, "%s[%u]", ti->name, l);
            snprintf(shape, sizeof shape, "%ux%u", ti->rows, ti->cols);
            if (!s->pm.packed[t]) {
                fprintf(out, "%-14s %-11s %s\n", name, shape, "float");
                continue;
            }
            SliceStats st;
            slice_stats(&s->pm.packed[t][l], &st);
            double n = (double)ti->rows * ti->cols;
            fprintf(out, "%-14s %-11s %6.1f%% %6.1f%% %6.1f%%  %.6g\n", name, shape, 100.0 * st.minus / n,
                    100.0 * st.zero / n, 100.0 * st.plus / n, (double)st.scale);
        }
    }
}

int report_info(FILE *out, const char *path, int json)
{
    ModelSummary s;
    if (model_summary_read(&s, path) < 0) return -1;
    if (json) print_json(out, &s);
    else print_text(out, &s);
    model_summary_free(&s);
    return 0;
}

/* ---- vocab ------------------------------------------------------------- */

/* Length of the well-formed UTF-8 character of 2 to 4 bytes at b (n
 * available), or 0. */
static size_t utf8_char(const uint8_t *b, size_t n)
{
    uint8_t c = b[0];
    size_t k = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (k == 0 || k > n) return 0;
    uint8_t lo = 0x80, hi = 0xbf;  /* the second byte's range */
    if (c == 0xe0) lo = 0xa0;
    else if (c == 0xed) hi = 0x9f;
    else if (c == 0xf0) lo = 0x90;
    else if (c == 0xf4) hi = 0x8f;
    if (b[1] < lo || b[1] > hi) return 0;
    for (size_t i = 2; i < k; i++)
        if (b[i] < 0x80 || b[i] > 0xbf) return 0;
    return k;
}

void escape_bytes(char *out, const uint8_t *b, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        uint8_t c = b[i];
        size_t k;
        if (c == ' ') {
            *out++ = (char)0xe2, *out++ = (char)0x96, *out++ = (char)0x81;  /* U+2581 */
        } else if (c == '\\') {
            *out++ = '\\', *out++ = '\\';
        } else if (c == '\n') {
            *out++ = '\\', *out++ = 'n';
        } else if (c == '\t') {
            *out++ = '\\', *out++ = 't';
        } else if (c == '\r') {
            *out++ = '\\', *out++ = 'r';
        } else if (c > 0x20 && c < 0x7f) {
            *out++ = (char)c;
        } else if ((k = utf8_char(b + i, n - i)) &&
                   !(c == 0xc2 && b[i + 1] < 0xa0) &&                       /* C1 controls */
                   !(k == 3 && c == 0xe2 && b[i + 1] == 0x96 && b[i + 2] == 0x81)) {  /* U+2581 */
            memcpy(out, b + i, k);
            out += k;
            i += k - 1;
        } else {
            *out++ = '\\', *out++ = 'x', *out++ = hex[c >> 4], *out++ = hex[c & 15];
        }
    }
    *out = 0;
}

int report_vocab(FILE *out, const char *path)
{
    Tokenizer tok;
    if (tokenizer_from_file(path, &tok) < 0) return -1;
    size_t cap = 256;
    char *buf = xmalloc(4 * cap + 1);
    for (uint32_t id = 0; id < tok.n_vocab; id++) {
        if (id == TOK_EOD) {
            fprintf(out, "%u\t<eod>\n", id);
            continue;
        }
        size_t len;
        const uint8_t *b = tok_bytes(&tok, id, &len);
        if (len > cap) buf = xrealloc(buf, 4 * (cap = len) + 1);
        escape_bytes(buf, b, len);
        if (id >= TOK_FIRST_MERGE + tok.n_merges) fprintf(out, "%u\t%s\tuser\n", id, buf);
        else if (id >= TOK_FIRST_MERGE) fprintf(out, "%u\t%s\t%u\n", id, buf, id - TOK_FIRST_MERGE);
        else fprintf(out, "%u\t%s\n", id, buf);
    }
    free(buf);
    tok_free(&tok);
    return 0;
}

/* ---- history ------------------------------------------------------------ */

static const char *const hist_formats[H_COLS] = {
    "%.0f", "%.0f", "%.4f", "%.4f", "%.3f", "%.4f", "%.4f", "%.3g", "%.4f", "%.4f", "%.0f", "%.2f", "%.1f",
};

/* A training checkpoint's settings changes after its history (l1b-train
 * --resume with --lr and the like, --schedule-time); nothing when none. */
static int report_changes(FILE *out, const char *path)
{
    SettingChange *c;
    size_t n;
    if (ckpt_read_changes(path, &c, &n) < 0) return -1;
    if (n) fputs("\nsettings changed\n", out);
    for (size_t i = 0; i < n; i++) {
        char was[32], now[32];
        int f = c[i].setting == SET_LR || c[i].setting == SET_MIN_LR;
        if (f) {
            float_text(was, sizeof was, (float)c[i].was);
            float_text(now, sizeof now, (float)c[i].now);
        } else {
            snprintf(was, sizeof was, "%.0f", c[i].was);
            snprintf(now, sizeof now, "%.0f", c[i].now);
        }
        fprintf(out, "step %llu: --%s %s (was %s), %s\n", (unsigned long long)c[i].step,
                name_of(setting_names, (int)c[i].setting), now, was,
                c[i].cause == CHANGE_SCHEDULE_TIME ? "by --schedule-time" : "on --resume");
    }
    free(c);
    return 0;
}

int report_history(FILE *out, const char *path)
{
    PackedModel pm;
    if (inspect_read_model(path, &pm) < 0) return -1;
    size_t n = pm.n_hist;
    char(*cell)[32] = xmalloc((n + 1) * H_COLS * sizeof *cell);
    int width[H_COLS];
    for (int c = 0; c < H_COLS; c++) {
        width[c] = (int)strlen(hist_names[c]);
        for (size_t r = 0; r < n; r++) {
            char *s = cell[r * H_COLS + c];
            double v = pm.hist[r].v[c];
            if (isfinite(v)) snprintf(s, 32, hist_formats[c], v);
            else snprintf(s, 32, "-");
            if ((int)strlen(s) > width[c]) width[c] = (int)strlen(s);
        }
    }
    for (int c = 0; c < H_COLS; c++) fprintf(out, "%*s%s", width[c], hist_names[c], c + 1 < H_COLS ? "  " : "\n");
    for (size_t r = 0; r < n; r++)
        for (int c = 0; c < H_COLS; c++)
            fprintf(out, "%*s%s", width[c], cell[r * H_COLS + c], c + 1 < H_COLS ? "  " : "\n");
    free(cell);
    packed_model_free(&pm);
    return report_changes(out, path);
}

int report_history_svg(const char *path, const char *svg_path)
{
    PackedModel pm;
    if (inspect_read_model(path, &pm) < 0) return -1;
    int rc;
    if (!pm.n_hist) {
        rc = l1b_error("%s: no metric history to plot", path);
    } else {
        const char *base = strrchr(path, '/');
        char title[512];
        snprintf(title, sizeof title, "%s: training history", base ? base + 1 : path);
        rc = history_svg_write(svg_path, pm.hist, pm.n_hist, title);
    }
    packed_model_free(&pm);
    return rc;
}
