/* Training checkpoints and the sections every model file has: see ckpt.h. */
#include "ckpt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define STAT_SIZE 128

const char *const hist_names[H_COLS] = {
    "step", "tokens", "train_loss", "val_loss", "val_ppl", "val_bpb", "val_acc", "lr", "grad_norm",
    "zero_share", "tok_per_s", "ms_per_step", "elapsed_s",
};

const NameValue setting_names[] = {{"lr", SET_LR}, {"min-lr", SET_MIN_LR}, {"warmup", SET_WARMUP},
                                   {"steps", SET_STEPS}, {"batch", SET_BATCH}, {NULL, 0}};
const NameValue change_cause_names[] = {{"resume", CHANGE_RESUME}, {"schedule-time", CHANGE_SCHEDULE_TIME},
                                        {NULL, 0}};

/* ---- CONF, TOKZ, HIST: both kinds ---------------------------------------- */

void ckpt_encode_conf(const ModelConfig *c, uint8_t b[CKPT_CONF_SIZE])
{
    memset(b, 0, CKPT_CONF_SIZE);
    uint32_t v[] = {c->dim, c->n_layers, c->n_heads, c->hidden, c->ctx, c->vocab, c->ffn_act, c->quant,
                    f32_bits(ROPE_THETA), f32_bits(RMSNORM_EPS)};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) put32(b + 4 * i, v[i]);
}

uint8_t *ckpt_encode_hist(const HistRow *hist, size_t n_hist, size_t *size)
{
    *size = 8 + n_hist * H_COLS * 8;
    uint8_t *b = xmalloc(*size);
    put32(b, H_COLS);
    put32(b + 4, (uint32_t)n_hist);
    for (size_t r = 0; r < n_hist; r++)
        for (int c = 0; c < H_COLS; c++) put64(b + 8 + (r * H_COLS + c) * 8, f64_bits(hist[r].v[c]));
    return b;
}

static int decode_conf(const uint8_t *b, ModelConfig *c, const char *path)
{
    c->dim = le32(b);
    c->n_layers = le32(b + 4);
    c->n_heads = le32(b + 8);
    c->hidden = le32(b + 12);
    c->ctx = le32(b + 16);
    c->vocab = le32(b + 20);
    c->ffn_act = le32(b + 24);
    c->quant = le32(b + 28);
    /* compare bit patterns: on x87 a float constant may carry extra precision */
    if (le32(b + 32) != f32_bits(ROPE_THETA) || le32(b + 36) != f32_bits(RMSNORM_EPS))
        return l1b_error("%s: unsupported rotary base or norm epsilon", path);
    for (int i = 40; i < CKPT_CONF_SIZE; i++)
        if (b[i]) return l1b_error("%s: corrupt CONF section (reserved bytes not zero)", path);
    if (model_config_check(c) < 0) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", l1b_last_error());
        return l1b_error("%s: bad model shape: %s", path, msg);
    }
    return 0;
}

int ckpt_read_common(const Container *f, ModelConfig *cfg, uint8_t **tok_record, size_t *tok_record_size,
                     HistRow **hist_out, size_t *n_hist)
{
    const char *path = f->path;
    uint8_t *conf = container_load(f, "CONF", CKPT_CONF_SIZE);
    if (!conf) return -1;
    int rc = decode_conf(conf, cfg, path);
    free(conf);
    if (rc < 0) return -1;
    if (!(*tok_record = container_load(f, "TOKZ", 0))) return -1;
    *tok_record_size = (size_t)container_find(f, "TOKZ")->size;
    Tokenizer tok;
    if (tok_record_read(&tok, *tok_record, *tok_record_size, path) < 0) return -1;
    uint32_t tv = tok.n_vocab;
    tok_free(&tok);
    if (tv != cfg->vocab)
        return l1b_error("%s: model vocabulary %u does not match its tokenizer's %u", path, cfg->vocab, tv);
    const ContainerSection *hs = container_find(f, "HIST");
    if (!hs || hs->size < 8) return l1b_error("%s: model file lacks its HIST section", path);
    uint8_t *hist = container_load(f, "HIST", 0);
    if (!hist) return -1;
    uint32_t cols = le32(hist), rows = le32(hist + 4);
    if (cols != H_COLS || hs->size != 8 + (uint64_t)rows * H_COLS * 8) {
        free(hist);
        return l1b_error("%s: corrupt HIST section", path);
    }
    *n_hist = rows;
    *hist_out = xmalloc((rows + 1) * sizeof **hist_out);
    for (uint32_t r = 0; r < rows; r++)
        for (int c = 0; c < H_COLS; c++)
            (*hist_out)[r].v[c] = bits_f64(le64(hist + 8 + ((size_t)r * H_COLS + c) * 8));
    free(hist);
    /* the step and the tokens are counts (readers convert them to integers);
     * any other column may hold anything, NaN where nothing was measured */
    for (uint32_t r = 0; r < rows; r++)
        for (int c = H_STEP; c <= H_TOKENS; c++) {
            double v = (*hist_out)[r].v[c];
            if (!(v >= 0 && v <= 0x1p53 && v == floor(v)))
                return l1b_error("%s: corrupt HIST section (row %u: %s %.17g is not a whole number from 0 to 2^53)",
                                 path, r, hist_names[c], v);
        }
    return 0;
}

/* ---- STAT ------------------------------------------------------------------ */

static void encode_stat(const TrainState *s, uint8_t *b)
{
    memset(b, 0, STAT_SIZE);
    put64(b, s->step);
    put64(b + 8, s->tokens_seen);
    put64(b + 16, s->batch_index);
    put64(b + 24, s->rng_state);
    put64(b + 32, f64_bits(s->elapsed));
    put64(b + 40, s->total_steps);
    put64(b + 48, s->seed);
    put32(b + 56, f32_bits(s->lr));
    put32(b + 60, f32_bits(s->min_lr));
    put32(b + 64, f32_bits(s->wd));
    put32(b + 68, f32_bits(s->clip));
    put32(b + 72, s->warmup);
    put32(b + 76, s->batch);
    put32(b + 80, s->accum);
    put32(b + 84, s->batching);
    put32(b + 88, f32_bits(s->val_frac));
    put64(b + 96, s->data_tokens);
    put32(b + 104, s->data_crc);
}

static void decode_stat(const uint8_t *b, TrainState *s)
{
    s->step = le64(b);
    s->tokens_seen = le64(b + 8);
    s->batch_index = le64(b + 16);
    s->rng_state = le64(b + 24);
    s->elapsed = bits_f64(le64(b + 32));
    s->total_steps = le64(b + 40);
    s->seed = le64(b + 48);
    s->lr = bits_f32(le32(b + 56));
    s->min_lr = bits_f32(le32(b + 60));
    s->wd = bits_f32(le32(b + 64));
    s->clip = bits_f32(le32(b + 68));
    s->warmup = le32(b + 72);
    s->batch = le32(b + 76);
    s->accum = le32(b + 80);
    s->batching = le32(b + 84);
    s->val_frac = bits_f32(le32(b + 88));
    s->data_tokens = le64(b + 96);
    s->data_crc = le32(b + 104);
}

/* The training settings a resumed run relies on, within the ranges
 * l1b-train accepts: a checksummed but crafted file must not crash it. */
static int check_stat(const TrainState *s, const char *path)
{
    const char *bad = NULL;
    if (s->batch < 1 || s->batch > 65536) bad = "batch";
    else if (s->accum < 1 || s->accum > 65536) bad = "accum";
    else if (s->batching > 1) bad = "batching";
    else if (!(s->val_frac >= 0 && s->val_frac <= 0.9f)) bad = "val-frac";
    else if (!(s->lr >= 0 && s->lr <= 10) || !(s->min_lr >= 0 && s->min_lr <= 10)) bad = "lr";
    else if (!(s->wd >= 0 && s->wd <= 10) || !(s->clip >= 0 && s->clip <= 1e9f)) bad = "wd or clip";
    else if (s->total_steps < 1 || s->step > s->total_steps) bad = "steps";
    else if (s->rng_state == 0) bad = "random number state";  /* xorshift stays 0 for ever */
    if (bad) return l1b_error("%s: corrupt training state (%s out of range)", path, bad);
    return 0;
}

/* ---- CHNG ------------------------------------------------------------------ */

static uint8_t *encode_changes(const SettingChange *c, size_t n, size_t *size)
{
    *size = 8 + n * CKPT_CHANGE_SIZE;
    uint8_t *b = xcalloc(*size, 1);
    put32(b, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        uint8_t *r = b + 8 + i * CKPT_CHANGE_SIZE;
        put64(r, c[i].step);
        put32(r + 8, c[i].setting);
        put32(r + 12, c[i].cause);
        put64(r + 16, f64_bits(c[i].was));
        put64(r + 24, f64_bits(c[i].now));
    }
    return b;
}

/* The CHNG section of f, if it has one; last_step: the checkpoint's step
 * (no change lies beyond it) */
static int read_changes(const Container *f, uint64_t last_step, SettingChange **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    const ContainerSection *cs = container_find(f, "CHNG");
    if (!cs) return 0;
    if (cs->size < 8) return l1b_error("%s: corrupt CHNG section", f->path);
    uint8_t *b = container_load(f, "CHNG", 0);
    if (!b) return -1;
    uint32_t n = le32(b);
    if (le32(b + 4) != 0 || cs->size != 8 + (uint64_t)n * CKPT_CHANGE_SIZE) {
        free(b);
        return l1b_error("%s: corrupt CHNG section", f->path);
    }
    SettingChange *c = xmalloc(((size_t)n + 1) * sizeof *c);
    uint64_t prev = 0;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *r = b + 8 + (size_t)i * CKPT_CHANGE_SIZE;
        c[i].step = le64(r);
        c[i].setting = le32(r + 8);
        c[i].cause = le32(r + 12);
        c[i].was = bits_f64(le64(r + 16));
        c[i].now = bits_f64(le64(r + 24));
        if (c[i].setting >= SET_COUNT || c[i].cause >= CHANGE_CAUSES || c[i].step < prev || c[i].step > last_step ||
            !(c[i].was >= 0 && c[i].was <= 0x1p53) || !(c[i].now >= 0 && c[i].now <= 0x1p53)) {
            free(b);
            free(c);
            return l1b_error("%s: corrupt CHNG section (change %u)", f->path, i);
        }
        prev = c[i].step;
    }
    free(b);
    *out = c;
    *n_out = n;
    return 0;
}

/* ---- writing ------------------------------------------------------------- */

Checkpoint ckpt_of_model(const Model *m, const uint8_t *tok_record, size_t tok_record_size)
{
    Checkpoint ck;
    memset(&ck, 0, sizeof ck);
    ck.cfg = m->cfg;
    ck.tok_record = (uint8_t *)tok_record;
    ck.tok_record_size = tok_record_size;
    ck.params = m->params;
    ck.adam_m = m->m;
    ck.adam_v = m->v;
    ck.n_params = m->n_params;
    return ck;
}

int ckpt_write(const char *path, const Checkpoint *ck)
{
    uint8_t conf[CKPT_CONF_SIZE], stat[STAT_SIZE];
    ckpt_encode_conf(&ck->cfg, conf);
    encode_stat(&ck->st, stat);
    size_t hist_size;
    uint8_t *hist = ckpt_encode_hist(ck->hist, ck->n_hist, &hist_size);
    /* On a little-endian host the float blocks are already the file's bytes:
     * written as they are, saving does not need a second copy of the model
     * (10 MB at the nanoGPT shape, which used to set the training peak). A
     * big-endian host writes little-endian copies. */
    const int host_le = L1B_HOST_LE;
    uint8_t *parm_copy = NULL, *adam_copy = NULL;
    const uint8_t *parm = (const uint8_t *)ck->params, *adam = (const uint8_t *)ck->adam_m;
    if (!host_le) {
        parm = parm_copy = xmalloc(4 * ck->n_params + 1);
        container_put_floats(parm_copy, ck->params, ck->n_params);
    }
    if (!host_le || ck->adam_v != ck->adam_m + ck->n_params) {
        adam = adam_copy = xmalloc(8 * ck->n_params + 1);
        container_put_floats(adam_copy, ck->adam_m, ck->n_params);
        container_put_floats(adam_copy + 4 * ck->n_params, ck->adam_v, ck->n_params);
    }
    /* CHNG only when a setting changed: such a file is what it was before */
    size_t chng_size = 0;
    uint8_t *chng = ck->n_changes ? encode_changes(ck->changes, ck->n_changes, &chng_size) : NULL;
    const ContainerPart parts[] = {
        {"CONF", conf, CKPT_CONF_SIZE},
        {"TOKZ", ck->tok_record, ck->tok_record_size},
        {"STAT", stat, STAT_SIZE},
        {"HIST", hist, hist_size},
        {"PARM", parm, 4 * ck->n_params},
        {"ADAM", adam, 8 * ck->n_params},
        {"CHNG", chng, chng_size},
    };
    int n_parts = (int)(sizeof parts / sizeof parts[0]) - (chng ? 0 : 1);
    int rc = container_write(path, CKPT_KIND_TRAIN, parts, n_parts);
    free(chng);
    free(hist);
    free(parm_copy);
    free(adam_copy);
    return rc;
}

/* ---- reading ------------------------------------------------------------- */

/* CHNG last: optional */
static const char *const train_tags[] = {"CONF", "TOKZ", "STAT", "HIST", "PARM", "ADAM", "CHNG"};

/* The optimizer moments, all finite: into m and v, or (both NULL) read in
 * pieces and checked without keeping them. */
static int read_moments(const Container *f, float *m, float *v, size_t n)
{
    SectionIn r;
    if (section_open(&r, f, "ADAM", 8 * (uint64_t)n) < 0) return -1;
    enum { PIECE = 1 << 16 };
    float *piece = m ? NULL : xmalloc(PIECE * sizeof *piece);
    int rc = 0;
    for (int half = 0; half < 2 && rc == 0; half++) {
        const char *what = half ? "ADAM second moment" : "ADAM first moment";
        if (m)
            rc = section_finite_floats(&r, half ? v : m, n, what, 0);
        else
            for (size_t at = 0; at < n && rc == 0; at += PIECE)
                rc = section_finite_floats(&r, piece, n - at < PIECE ? n - at : PIECE, what, at);
    }
    free(piece);
    return rc < 0 ? -1 : section_close(&r);
}

static int read_train(const Container *f, Checkpoint *ck, int flags)
{
    if (container_check_tags(f, train_tags, container_find(f, "CHNG") ? 7 : 6, "training checkpoint") < 0)
        return -1;
    if (ckpt_read_common(f, &ck->cfg, &ck->tok_record, &ck->tok_record_size, &ck->hist, &ck->n_hist) < 0) return -1;
    TensorInfo info[N_TENSORS];
    ck->n_params = model_tensor_table(&ck->cfg, info);
    uint8_t *stat_b = container_load(f, "STAT", STAT_SIZE);
    if (!stat_b) return -1;
    decode_stat(stat_b, &ck->st);
    free(stat_b);
    if (check_stat(&ck->st, f->path) < 0) return -1;
    if (read_changes(f, ck->st.step, &ck->changes, &ck->n_changes) < 0) return -1;
    SectionIn r;
    if (section_open(&r, f, "PARM", 4 * (uint64_t)ck->n_params) < 0) return -1;
    if (!(ck->params = container_alloc(f, 4 * (uint64_t)ck->n_params))) return -1;
    for (int i = 0; i < N_TENSORS; i++) {
        char what[64];
        snprintf(what, sizeof what, "PARM tensor %s", info[i].name);
        if (section_finite_floats(&r, ck->params + info[i].offset,
                                  (size_t)info[i].layers * info[i].rows * info[i].cols, what, 0) < 0)
            return -1;
    }
    if (section_close(&r) < 0) return -1;
    if (flags & CKPT_WEIGHTS_ONLY) return read_moments(f, NULL, NULL, ck->n_params);
    if (!(ck->adam_m = container_alloc(f, 4 * (uint64_t)ck->n_params))) return -1;
    if (!(ck->adam_v = container_alloc(f, 4 * (uint64_t)ck->n_params))) return -1;
    return read_moments(f, ck->adam_m, ck->adam_v, ck->n_params);
}

int ckpt_read_from(const Container *f, Checkpoint *ck, int flags)
{
    memset(ck, 0, sizeof *ck);
    int rc;
    if (f->kind != CKPT_KIND_TRAIN)
        rc = l1b_error("%s: an inference file, not a training checkpoint (l1b-ckpt convert --unpack makes one)",
                       f->path);
    else
        rc = read_train(f, ck, flags);
    if (rc < 0) ckpt_free(ck);
    return rc;
}

int ckpt_read(const char *path, Checkpoint *ck, int flags)
{
    memset(ck, 0, sizeof *ck);
    Container f;
    if (container_open(&f, path) < 0) return -1;
    int rc = ckpt_read_from(&f, ck, flags);
    container_close(&f);
    return rc;
}

void ckpt_free(Checkpoint *ck)
{
    free(ck->tok_record);
    free(ck->params);
    free(ck->adam_m);
    free(ck->adam_v);
    free(ck->hist);
    free(ck->changes);
    memset(ck, 0, sizeof *ck);
}

int ckpt_read_changes(const char *path, SettingChange **changes, size_t *n_changes)
{
    *changes = NULL;
    *n_changes = 0;
    Container f;
    if (container_open(&f, path) < 0) return -1;
    int rc = 0;
    if (f.kind == CKPT_KIND_TRAIN && container_find(&f, "CHNG")) {
        uint8_t *stat_b = container_load(&f, "STAT", STAT_SIZE);
        if (!stat_b) rc = -1;
        else {
            TrainState st;
            decode_stat(stat_b, &st);
            free(stat_b);
            rc = read_changes(&f, st.step, changes, n_changes);
        }
    }
    container_close(&f);
    return rc;
}
