/* l1b-ckpt's views of a model: info (text and JSON), vocab, history and
 * its SVG plot */
#include <ctype.h>
#include <float.h>
#include <stdlib.h>
#include <unistd.h>

#include "packed.h"
#include "crc32.h"
#include "helpers.h"
#include "inspect.h"
#include "report.h"
#include "model.h"
#include "svg.h"
#include "test.h"
#include "util.h"

/* dim 32, 1 layer, 2 heads, hidden 96, ctx 16, bytes: the CLI tests' shape */
static char *make_model(Model *m, uint32_t quant)
{
    ModelConfig c = {32, 1, 2, 96, 16, 257, FFN_SWIGLU, quant};
    model_init(m, &c, 1);
    Rng r;
    rng_seed(&r, 21);
    model_init_weights(m, &r);
    for (size_t i = 0; i < m->n_params; i++) m->params[i] += 0.05f * rng_normal(&r);
    Tokenizer tok;
    tok_init_bytes(&tok);
    uint8_t rec[TOK_RECORD_FIXED];
    tok_record_write(&tok, rec);
    tok_free(&tok);
    HistRow hist[4];
    for (int i = 0; i < 4; i++) {
        for (int k = 0; k < H_COLS; k++) hist[i].v[k] = NAN;
        hist[i].v[H_STEP] = 50.0 * (i + 1);
        hist[i].v[H_TOKENS] = 6400.0 * (i + 1);
        hist[i].v[H_TRAIN_LOSS] = 3.0 / (i + 1);
    }
    /* validation at steps 100 and 150 only: the last row lacks it */
    hist[1].v[H_VAL_LOSS] = 1.75;
    hist[1].v[H_VAL_BPB] = 2.5;
    hist[2].v[H_VAL_LOSS] = 1.25;
    hist[2].v[H_VAL_BPB] = 1.8;
    Checkpoint ck = ckpt_of_model(m, rec, sizeof rec);
    ck.st.step = 200;
    ck.st.total_steps = 300;
    ck.st.tokens_seen = 25600;
    ck.st.batch = 8;
    ck.st.accum = 1;
    ck.hist = hist;
    ck.n_hist = 4;
    char *path = temp_file_with("", 0);
    plausible_train_state(&ck.st);
    if (ckpt_write(path, &ck) < 0) FAIL_AT("%s", l1b_last_error());
    return path;
}

/* what a function printed, as a string */
typedef struct { char *buf; size_t n; FILE *f; } Capture;
static void capture_begin(Capture *c) { c->f = open_memstream(&c->buf, &c->n); }
static char *capture_end(Capture *c) { fclose(c->f); return c->buf; }

/* the number after "key": in s (JSON or text), from where `from` is found */
static double number_after(const char *s, const char *from, const char *key)
{
    const char *p = from ? strstr(s, from) : s;
    if (!p) return NAN;
    p = strstr(p, key);
    if (!p) return NAN;
    p += strlen(key);
    if (!strncmp(p, "null", 4)) return NAN;
    return strtod(p, NULL);
}

TEST(info_json_reports_shape_counts_progress_and_metrics)
{
    Model m;
    char *path = make_model(&m, QUANT_ABSMEAN);
    Capture c;
    capture_begin(&c);
    CHECK_EQ(report_info(c.f, path, 1), 0);
    char *j = capture_end(&c);
    CHECK(strstr(j, "\"kind\": \"training\"") != NULL);
    CHECK(strstr(j, "\"ffn\": \"swiglu\", \"quant\": \"absmean\"") != NULL);
    CHECK(strstr(j, "\"tokenizer\": \"bytes\", \"tokenizer_vocab\": 257, \"merges\": 0") != NULL);
    /* 2VC + L(4C^2 + 3CH + 2C) + C = 16448 + 13376 + 32; BitLinear 4C^2 + 3CH */
    CHECK_EQ(number_after(j, NULL, "\"params\": "), 29856);
    CHECK_EQ(number_after(j, NULL, "\"ternary_params\": "), 13312);
    CHECK_EQ(number_after(j, NULL, "\"float_params\": "), 16544);
    CHECK_EQ(number_after(j, NULL, "\"step\": "), 200);
    CHECK_EQ(number_after(j, NULL, "\"total_steps\": "), 300);
    CHECK_EQ(number_after(j, NULL, "\"tokens_seen\": "), 25600);
    CHECK_NEAR(number_after(j, NULL, "\"train_loss\": "), 0.75, 1e-9);
    CHECK_NEAR(number_after(j, NULL, "\"val_loss\": "), 1.25, 1e-9);  /* the last row that has it */
    CHECK_NEAR(number_after(j, NULL, "\"val_bpb\": "), 1.8, 1e-9);
    CHECK_EQ(number_after(j, NULL, "\"val_step\": "), 150);
    size_t size;
    free(slurp(path, &size));
    CHECK_EQ(number_after(j, NULL, "\"file_bytes\": "), size);
    CHECK_NEAR(number_after(j, NULL, "\"bytes_per_param\": "), size / 29856.0, 1e-4);
    CHECK(strstr(j, "{\"name\": \"tok_emb\", \"shape\": [257, 32], \"ternary\": false}") != NULL);
    CHECK(strstr(j, "{\"name\": \"attn_norm\", \"shape\": [1, 32], \"ternary\": false}") != NULL);
    CHECK(strstr(j, "{\"name\": \"final_norm\", \"shape\": [32], \"ternary\": false}") != NULL);

    /* w_down[0]'s shares, counted here from the shadow weights */
    TensorInfo info[N_TENSORS];
    model_tensor_table(&m.cfg, info);
    const float *w = m.params + info[T_W_DOWN].offset;
    size_t n = 32 * 96, counts[3] = {0, 0, 0};
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += fabsf(w[i]);
    float gamma = (float)(sum / n);
    for (size_t i = 0; i < n; i++) {
        float r = rintf(w[i] / (gamma + 1e-8f));  /* ties to even, as quant.h says */
        counts[r > 0 ? 2 : r < 0 ? 0 : 1]++;
    }
    CHECK(counts[0] > 0 && counts[1] > 0 && counts[2] > 0);
    const char *slice = "\"name\": \"w_down[0]\", \"tensor\": \"w_down\", \"layer\": 0, \"shape\": [32, 96]";
    CHECK(strstr(j, slice) != NULL);
    CHECK_NEAR(number_after(j, slice, "\"minus\": "), (double)counts[0] / n, 1e-6);
    CHECK_NEAR(number_after(j, slice, "\"zero\": "), (double)counts[1] / n, 1e-6);
    CHECK_NEAR(number_after(j, slice, "\"plus\": "), (double)counts[2] / n, 1e-6);
    CHECK_NEAR(number_after(j, slice, "\"scale\": "), gamma, 1e-9);
    free(j);

    /* the text form says the same */
    capture_begin(&c);
    CHECK_EQ(report_info(c.f, path, 0), 0);
    char *t = capture_end(&c);
    CHECK(strstr(t, "parameters    29856 (ternary 13312, float 16544)\n") != NULL);
    CHECK(strstr(t, "training      step 200 of 300, 25600 tokens seen\n") != NULL);
    CHECK(strstr(t, "last metrics  train loss 0.7500 (step 200), val loss 1.2500, val bpb 1.8000 (step 150)\n"));
    char line[128];
    snprintf(line, sizeof line, "w_down[0]      32x96       %6.1f%% %6.1f%% %6.1f%%  %.6g\n", 100.0 * counts[0] / n,
             100.0 * counts[1] / n, 100.0 * counts[2] / n, (double)gamma);
    CHECK(strstr(t, line) != NULL);
    free(t);
    model_free(&m);
    unlink(path);
    free(path);
}

TEST(info_of_an_inference_file_and_a_float_model)
{
    Model m;
    char *path = make_model(&m, QUANT_F32);
    PackedModel pm;
    CHECK_EQ(packed_model_read(path, &pm, NULL, NULL, 0), 0);
    char *inf = temp_file_with("", 0);
    CHECK_EQ(packed_model_write(inf, &pm), 0);
    packed_model_free(&pm);
    Capture c;
    capture_begin(&c);
    CHECK_EQ(report_info(c.f, inf, 1), 0);
    char *j = capture_end(&c);
    CHECK(strstr(j, "\"kind\": \"inference\"") != NULL);
    CHECK(strstr(j, "\"quant\": \"f32\"") != NULL);
    CHECK_EQ(number_after(j, NULL, "\"ternary_params\": "), 0);
    /* progress from the last history row; no schedule length */
    CHECK_EQ(number_after(j, NULL, "\"step\": "), 200);
    CHECK(strstr(j, "\"total_steps\": null") != NULL);
    CHECK(strstr(j, "\"name\": \"wq[0]\", \"tensor\": \"wq\", \"layer\": 0, \"shape\": [32, 32], \"ternary\": false}"));
    free(j);
    model_free(&m);
    unlink(path);
    free(path);
    unlink(inf);
    free(inf);
}

TEST(vocab_lines_escape_bytes_and_rank_merges)
{
    char esc[64];
    escape_bytes(esc, (const uint8_t *)"A \\\n\t\x01\xff~", 8);
    CHECK_STR(esc, "A\xe2\x96\x81\\\\\\n\\t\\x01\\xff~");
    /* well-formed UTF-8 as it is, but U+2581 itself and C1 controls; a
     * character cut short, overlong or a surrogate byte by byte; \r */
    escape_bytes(esc, (const uint8_t *)"\xc3\xa9\xe2\x96\x81\xc2\x85\xc3\xf0\x9f\xa6\x93\xc0\xaf\xed\xa0\x80\r", 18);
    CHECK_STR(esc, "\xc3\xa9\\xe2\\x96\\x81\\xc2\\x85\\xc3\xf0\x9f\xa6\x93\\xc0\\xaf\\xed\\xa0\\x80\\r");

    Tokenizer tok;
    uint16_t merges[] = {'t', 'h', 257, 'e', ' ', 258};
    CHECK_EQ(tok_init_bpe(&tok, merges, 3, "test"), 0);
    uint8_t rec[TOK_RECORD_FIXED + 12];
    tok_record_write(&tok, rec);
    tok_free(&tok);
    /* a token stream of no tokens carries the tokenizer */
    uint8_t file[256];
    size_t hsize = 64;
    memset(file, 0, sizeof file);
    memcpy(file, "L1BTOKEN", 8);
    put32(file + 8, 1);
    put32(file + 16, (uint32_t)hsize);
    put32(file + 20, sizeof rec);
    memcpy(file + 24, rec, sizeof rec);
    put32(file + 24 + sizeof rec, crc32_update(0, file, 24 + sizeof rec));
    memcpy(file + hsize + 12, "TEND", 4);
    char *path = temp_file_with(file, hsize + 16);
    Capture c;
    capture_begin(&c);
    CHECK_EQ(report_vocab(c.f, path), 0);
    char *v = capture_end(&c);
    CHECK(!strncmp(v, "0\t\\x00\n1\t\\x01\n", 14));
    CHECK(strstr(v, "\n9\t\\t\n10\t\\n\n") != NULL);
    CHECK(strstr(v, "\n32\t\xe2\x96\x81\n") != NULL);
    CHECK(strstr(v, "\n65\tA\n") != NULL);
    CHECK(strstr(v, "\n92\t\\\\\n") != NULL);
    CHECK(strstr(v, "\n255\t\\xff\n256\t<eod>\n257\tth\t0\n258\tthe\t1\n259\t\xe2\x96\x81the\t2\n") != NULL);
    size_t lines = 0;
    for (const char *p = v; *p; p++) lines += *p == '\n';
    CHECK_EQ(lines, 260);
    free(v);
    unlink(path);
    free(path);
}

TEST(history_table_has_a_column_per_metric)
{
    Model m;
    char *path = make_model(&m, QUANT_ABSMEAN);
    Capture c;
    capture_begin(&c);
    CHECK_EQ(report_history(c.f, path), 0);
    char *t = capture_end(&c);
    const char *head = "step  tokens  train_loss  val_loss  val_ppl  val_bpb  val_acc  lr  grad_norm  zero_share  "
                       "tok_per_s  ms_per_step  elapsed_s\n";
    CHECK(!strncmp(t, head, strlen(head)));
    CHECK(strstr(t, "\n 100   12800      1.5000    1.7500        -   2.5000        -   -") != NULL);
    size_t lines = 0;
    for (const char *p = t; *p; p++) lines += *p == '\n';
    CHECK_EQ(lines, 5);
    free(t);
    model_free(&m);
    unlink(path);
    free(path);
}

/* the d attribute of the path of class cls, and its point count */
static int path_points(const char *svg, const char *cls)
{
    char key[64];
    snprintf(key, sizeof key, "<path class=\"%s\"", cls);
    const char *p = strstr(svg, key);
    if (!p) return -1;
    if (strstr(p + 1, key)) return -2;  /* one path per curve */
    p = strstr(p, " d=\"M ");
    const char *end = strchr(p + 4, '"');
    int n = 1;
    for (const char *q = p; q < end; q++) n += *q == 'L';
    return n;
}

TEST(history_svg_draws_one_path_per_curve)
{
    HistRow rows[5];
    for (int i = 0; i < 5; i++) {
        for (int k = 0; k < H_COLS; k++) rows[i].v[k] = NAN;
        rows[i].v[H_STEP] = 100.0 * (i + 1);
        rows[i].v[H_TRAIN_LOSS] = 5.0 - i;
        if (i % 2 == 0) rows[i].v[H_VAL_LOSS] = 5.5 - i, rows[i].v[H_VAL_BPB] = 8.0 - i;
    }
    char *path = temp_file_with("", 0);
    CHECK_EQ(history_svg_write(path, rows, 5, "a <title> & more"), 0);
    size_t n;
    char *svg = (char *)slurp(path, &n);
    svg = xrealloc(svg, n + 1);
    svg[n] = 0;
    const char *head = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"";
    CHECK(!strncmp(svg, head, strlen(head)));
    CHECK(!strcmp(svg + n - 7, "</svg>\n"));
    CHECK(strstr(svg, "a &lt;title&gt; &amp; more") != NULL);
    CHECK_EQ(path_points(svg, "train_loss"), 5);
    CHECK_EQ(path_points(svg, "val_loss"), 3);
    CHECK_EQ(path_points(svg, "val_bpb"), 3);
    /* the first train point: x at the left... step 100 of an axis 0..500 */
    CHECK(strstr(svg, "<path class=\"train_loss\" fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" d=\"M 218.00,") != NULL);
    /* every element opened is closed: as many '<' as '>' */
    size_t lt = 0, gt = 0;
    for (size_t i = 0; i < n; i++) lt += svg[i] == '<', gt += svg[i] == '>';
    CHECK_EQ(lt, gt);
    free(svg);
    unlink(path);
    free(path);
}

/* A history row's step and tokens are counts: info converts them to
 * integers, so the reader refuses any that is not a whole number from 0 to
 * 2^53; the metric columns may hold anything. */
TEST(history_steps_and_tokens_must_be_whole_numbers)
{
    Model m;
    char *good = make_model(&m, QUANT_ABSMEAN);
    Checkpoint ck;
    CHECK_EQ(ckpt_read(good, &ck, 0), 0);
    const double bad[] = {NAN, INFINITY, -INFINITY, -1, 0.5, 0x1p64, 0x1p53 + 2, -0x1p70};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        for (int col = H_STEP; col <= H_TOKENS; col++) {
            HistRow keep = ck.hist[3];
            ck.hist[3].v[col] = bad[i];
            char *p = temp_file_with("", 0);
            CHECK_EQ(ckpt_write(p, &ck), 0);
            ModelSummary s;
            CHECK_EQ(model_summary_read(&s, p), -1);
            CHECK_ERR(col == H_STEP ? "corrupt HIST section (row 3: step " : "corrupt HIST section (row 3: tokens ");
            CHECK_ERR("is not a whole number from 0 to 2^53)");
            CHECK_EQ(inspect_verify(p), -1);
            ck.hist[3] = keep;
            unlink(p);
            free(p);
        }
    /* 2^53 is the most; infinities and NaN in every metric column are fine */
    ck.hist[3].v[H_STEP] = 0x1p53;
    ck.hist[3].v[H_TOKENS] = 0;
    for (int col = H_TRAIN_LOSS; col < H_COLS; col++) ck.hist[3].v[col] = col % 3 ? NAN : col % 2 ? INFINITY : -INFINITY;
    char *p = temp_file_with("", 0);
    CHECK_EQ(ckpt_write(p, &ck), 0);
    CHECK_EQ(inspect_verify(p), 0);
    ModelSummary s;
    CHECK_EQ(model_summary_read(&s, p), 0);
    model_summary_free(&s);
    ckpt_free(&ck);
    unlink(p);
    free(p);
    model_free(&m);
    unlink(good);
    free(good);
}

/* Plot rows, and check what every plot must be whatever the values: a
 * small file, no nan or inf coordinate, a path per curve with a point per
 * finite value. */
static void check_svg_of(const HistRow *rows, size_t n, int train, int val, int bpb)
{
    char *path = temp_file_with("", 0);
    CHECK_EQ(history_svg_write(path, rows, n, "t"), 0);
    size_t size;
    char *svg = (char *)slurp(path, &size);
    CHECK(size < 64 * 1024);
    svg = xrealloc(svg, size + 1);
    svg[size] = 0;
    char *lower = xmalloc(size + 1);
    for (size_t i = 0; i <= size; i++) lower[i] = (char)tolower((unsigned char)svg[i]);
    CHECK(!strstr(lower, "nan"));
    CHECK(!strstr(lower, "inf"));
    free(lower);
    CHECK(size > 7 && !strcmp(svg + size - 7, "</svg>\n"));
    CHECK_EQ(path_points(svg, "train_loss"), train);
    CHECK_EQ(path_points(svg, "val_loss"), val);
    CHECK_EQ(path_points(svg, "val_bpb"), bpb);
    free(svg);
    unlink(path);
    free(path);
}

TEST(history_svg_axes_survive_any_finite_values)
{
    HistRow rows[4];
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < H_COLS; k++) rows[i].v[k] = NAN;
    /* the usual rows give a usual plot, and the check sees no "nan" in it */
    for (int i = 0; i < 4; i++) {
        rows[i].v[H_STEP] = 10 * i;
        rows[i].v[H_TRAIN_LOSS] = 4 - i;
        rows[i].v[H_VAL_LOSS] = 4.5 - i;
        rows[i].v[H_VAL_BPB] = 6 - i;
    }
    check_svg_of(rows, 4, 4, 4, 4);
    /* values apart only in their last bits (a tick step below their spacing
     * never advanced: the plot grew until the disk was full), two rows at
     * one step, and a panel without a value (no path) */
    rows[0].v[H_TRAIN_LOSS] = rows[2].v[H_TRAIN_LOSS] = 1;
    rows[1].v[H_TRAIN_LOSS] = rows[3].v[H_TRAIN_LOSS] = nextafter(1, 2);
    for (int i = 0; i < 4; i++) rows[i].v[H_VAL_LOSS] = NAN;
    rows[0].v[H_VAL_BPB] = rows[2].v[H_VAL_BPB] = 1e300;
    rows[1].v[H_VAL_BPB] = nextafter(1e300, 0);
    rows[3].v[H_VAL_BPB] = NAN;
    rows[3].v[H_STEP] = 20;
    check_svg_of(rows, 4, 4, -1, 3);
    rows[0].v[H_TRAIN_LOSS] = rows[2].v[H_TRAIN_LOSS] = 0.3;
    rows[1].v[H_TRAIN_LOSS] = rows[3].v[H_TRAIN_LOSS] = nextafter(0.3, 1);
    check_svg_of(rows, 4, 4, -1, 3);
    /* a range of zero, or of denormals */
    for (int i = 0; i < 4; i++) rows[i].v[H_TRAIN_LOSS] = 0;
    rows[1].v[H_VAL_BPB] = rows[2].v[H_VAL_BPB] = 4.9e-324;
    rows[0].v[H_VAL_BPB] = -2.5e-320;
    rows[3].v[H_VAL_BPB] = 0;
    check_svg_of(rows, 4, 4, -1, 4);
    /* the extremes: a span that overflows to inf, steps as far apart */
    rows[0].v[H_TRAIN_LOSS] = -DBL_MAX;
    rows[1].v[H_TRAIN_LOSS] = DBL_MAX;
    rows[2].v[H_TRAIN_LOSS] = 1;
    rows[0].v[H_VAL_LOSS] = DBL_MAX;
    rows[1].v[H_VAL_LOSS] = 1;
    rows[2].v[H_VAL_LOSS] = -1e308;
    rows[0].v[H_VAL_BPB] = INFINITY;  /* skipped */
    rows[1].v[H_VAL_BPB] = -INFINITY;
    rows[0].v[H_STEP] = 0;
    rows[1].v[H_STEP] = DBL_MAX;
    rows[2].v[H_STEP] = 1;  /* goes back: drawn after DBL_MAX */
    rows[3].v[H_STEP] = DBL_MAX;
    check_svg_of(rows, 4, 4, 3, 2);
    /* one row; every value zero */
    for (int k = 0; k < H_COLS; k++) rows[0].v[k] = 0;
    check_svg_of(rows, 1, 1, 1, 1);
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < H_COLS; k++) rows[i].v[k] = 0;
    check_svg_of(rows, 4, 4, 4, 4);
}
