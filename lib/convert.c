/* Conversions between training checkpoints and inference files: see
 * convert.h. */
#include "convert.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "quant.h"
#include "util.h"

static uint64_t tensor_floats(const TensorInfo *ti) { return (uint64_t)ti->layers * ti->rows * ti->cols; }

static void *copy_of(const void *p, size_t n)
{
    void *d = xmalloc(n + 1);
    if (n) memcpy(d, p, n);
    return d;
}

/* ---- in memory -------------------------------------------------------------- */

void ckpt_pack(const Checkpoint *ck, PackedModel *pm)
{
    memset(pm, 0, sizeof *pm);
    const ModelConfig *c = &ck->cfg;
    pm->cfg = *c;
    pm->tok_record = copy_of(ck->tok_record, ck->tok_record_size);
    pm->tok_record_size = ck->tok_record_size;
    pm->hist = copy_of(ck->hist, ck->n_hist * sizeof *ck->hist);
    pm->n_hist = ck->n_hist;
    pm->packing = model_packing(c);
    pm->tables = TABLES_F32;
    TensorInfo info[N_TENSORS];
    model_tensor_table(c, info);
    int8_t *q = xmalloc((size_t)c->hidden * c->dim + (size_t)c->dim * c->dim + 1);
    for (int i = 0; i < N_TENSORS; i++) {
        const float *w = ck->params + info[i].offset;
        if (packed_tensor(c, &info[i])) {
            size_t n = (size_t)info[i].rows * info[i].cols;
            pm->packed[i] = xcalloc(info[i].layers, sizeof *pm->packed[i]);
            for (uint32_t l = 0; l < info[i].layers; l++) {
                float scale = weight_quantise((QuantScheme)c->quant, w + l * n, n, q);
                ternary_pack(&pm->packed[i][l], q, info[i].rows, info[i].cols, scale, pm->packing);
            }
        } else if (!info[i].ternary || c->quant == QUANT_F32) {
            pm->t[i] = copy_of(w, (size_t)tensor_floats(&info[i]) * sizeof(float));
        }
    }
    free(q);
}

void packed_model_repack(PackedModel *pm, uint32_t packing)
{
    TensorInfo info[N_TENSORS];
    model_tensor_table(&pm->cfg, info);
    for (int i = 0; i < N_TENSORS; i++)
        if (pm->packed[i])
            for (uint32_t l = 0; l < info[i].layers; l++) ternary_repack(&pm->packed[i][l], packing);
    pm->packing = packing;
}

/* Shadow weights w (n) for the codes q with nonzero magnitudes a (or b, the
 * next float up, for the first j of them). */
static void fill_shadow(float *w, const int8_t *q, size_t n, float a, float b, uint64_t j)
{
    for (size_t i = 0; i < n; i++) {
        float m = j ? b : a;
        j -= q[i] && j;
        w[i] = q[i] > 0 ? m : q[i] < 0 ? -m : 0.0f;
    }
}

/* Shadow weights that quantise back to exactly q and scale: absmean's
 * scale is mean|w| = (k a + j (b - a)) / n over the k non-zero weights
 * (twn's divides by k instead),
 * which steps finer than the float spacing of the scale as j goes 0..k.
 * Each candidate is checked with the quantiser itself. Returns 0, or -1 if
 * no candidate reproduced the scale bit for bit (w then holds the nearest). */
static int fit_shadow(float *w, const int8_t *q, size_t n, float scale, QuantScheme scheme, int8_t *tmp)
{
    uint64_t k = 0;
    for (size_t i = 0; i < n; i++) k += q[i] != 0;
    if (k == 0) {
        memset(w, 0, n * sizeof *w);
        return scale == 0 ? 0 : -1;
    }
    /* the scale is mean |w| over all n weights (absmean, stochastic, sign),
     * or over the k kept ones (twn) */
    double target = (double)scale * (double)(scheme == QUANT_TWN ? k : n);
    float a = (float)(target / (double)k);
    while (a > 0 && (double)a * (double)k > target) a = nextafterf(a, 0);
    float b = nextafterf(a, INFINITY);
    double step = (double)b - (double)a;
    double jd = floor((target - (double)a * (double)k) / step + 0.5);
    uint64_t j0 = jd < 0 ? 0 : jd > (double)k ? k : (uint64_t)jd;
    for (int d = 0; d <= 6; d++) {
        int64_t j = (int64_t)j0 + (d % 2 ? -(d + 1) / 2 : d / 2);
        if (j < 0 || (uint64_t)j > k) continue;
        fill_shadow(w, q, n, a, b, (uint64_t)j);
        float s = weight_quantise(scheme, w, n, tmp);
        if (f32_bits(s) == f32_bits(scale) && !memcmp(tmp, q, n)) return 0;
    }
    fill_shadow(w, q, n, a, b, j0);
    return -1;
}

size_t ckpt_unpack(const PackedModel *pm, const TrainState *st, Checkpoint *ck)
{
    memset(ck, 0, sizeof *ck);
    const ModelConfig *c = &pm->cfg;
    ck->cfg = *c;
    ck->tok_record = copy_of(pm->tok_record, pm->tok_record_size);
    ck->tok_record_size = pm->tok_record_size;
    ck->hist = copy_of(pm->hist, pm->n_hist * sizeof *pm->hist);
    ck->n_hist = pm->n_hist;
    ck->st = *st;
    TensorInfo info[N_TENSORS];
    ck->n_params = model_tensor_table(c, info);
    ck->params = xcalloc(ck->n_params + 1, sizeof(float));
    ck->adam_m = xcalloc(ck->n_params + 1, sizeof(float));
    ck->adam_v = xcalloc(ck->n_params + 1, sizeof(float));
    size_t most = (size_t)c->hidden * c->dim > (size_t)c->dim * c->dim ? (size_t)c->hidden * c->dim
                                                                       : (size_t)c->dim * c->dim;
    int8_t *q = xmalloc(2 * most + 1), *tmp = q + most;
    size_t inexact = 0;
    for (int i = 0; i < N_TENSORS; i++) {
        float *w = ck->params + info[i].offset;
        if (!packed_tensor(c, &info[i])) {
            if (pm->t[i]) memcpy(w, pm->t[i], (size_t)tensor_floats(&info[i]) * sizeof(float));
            continue;
        }
        size_t n = (size_t)info[i].rows * info[i].cols;
        for (uint32_t l = 0; l < info[i].layers; l++) {
            const PackedTernary *p = &pm->packed[i][l];
            for (uint32_t r = 0; r < p->rows; r++)
                for (uint32_t col = 0; col < p->cols; col++) q[(size_t)r * p->cols + col] = (int8_t)ternary_get(p, r, col);
            if (fit_shadow(w + l * n, q, n, p->scale, (QuantScheme)c->quant, tmp) < 0) inexact++;
        }
    }
    free(q);
    return inexact;
}

/* ---- on files ---------------------------------------------------------------- */

/* The training state --unpack stores: the settings from options, step 0
 * and the random state seeded from the seed. (lib/train.c fills a fresh
 * run's the same way; there --val makes val_frac 0.) */
/* --pack: either kind in, an inference file out */
static int pack_file(const char *in, const char *out, uint32_t kind, uint32_t packing, uint32_t tables,
                     ConvertReport *r)
{
    PackedModel pm;
    if (packed_model_read(in, &pm, NULL, NULL, PACKED_STORED_TABLES) < 0) return -1;
    uint32_t want = packing ? packing : PACK_2BIT, want_tables = tables ? tables : TABLES_INT8;
    int rc = 0;
    if (pm.cfg.quant == QUANT_F32 || pm.cfg.quant == QUANT_SIGN) {
        if (packing == PACK_BASE3)
            rc = l1b_error("%s: --bits 1.6 packs ternary weights; this model's are %s", in,
                           pm.cfg.quant == QUANT_F32 ? "floats" : "binary (1 bit each)");
        want = pm.packing;
    }
    if (pm.cfg.quant == QUANT_F32) {
        if (rc == 0 && tables == TABLES_INT8)
            rc = l1b_error("%s: --tables int8 goes with ternary or binary weights; this model's are floats", in);
        want_tables = TABLES_F32;
    }
    if (rc == 0 && kind == CKPT_KIND_INFER && pm.packing == want && pm.tables == want_tables)
        rc = l1b_error("%s: already an inference file", in);
    if (rc == 0) {
        packed_model_repack(&pm, want);
        r->inexact_rows = packed_model_set_tables(&pm, want_tables);
        rc = packed_model_write(out, &pm);
    }
    packed_model_free(&pm);
    return rc;
}

/* --unpack: an inference file in, a training checkpoint out */
static int unpack_file(const char *in, const char *out, uint32_t kind, const TrainOptions *settings,
                       ConvertReport *r)
{
    if (kind != CKPT_KIND_INFER) return l1b_error("%s: already a training checkpoint", in);
    PackedModel pm;
    if (packed_model_read(in, &pm, NULL, NULL, PACKED_STORED_TABLES) < 0) return -1;
    r->inexact_rows = packed_model_set_tables(&pm, TABLES_F32);  /* int8 tables dequantised */
    TrainState st;
    train_state_from_options(&st, settings);
    Checkpoint ck;
    r->inexact = ckpt_unpack(&pm, &st, &ck);
    packed_model_free(&pm);
    int rc = ckpt_write(out, &ck);
    ckpt_free(&ck);
    return rc;
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

int convert_file(const char *in, const char *out, const ConvertOptions *o, ConvertReport *r)
{
    ConvertReport rep;
    memset(&rep, 0, sizeof rep);
    uint32_t kind;
    int lock = -1;
    /* not into a model l1b-train is writing: its lock is held until done */
    int rc = output_check(out) < 0 ? -1 : model_lock(out, 0, &lock);
    if (rc == 0) rc = ckpt_kind(in, &kind);
    if (rc == 0) rc = o->unpack ? unpack_file(in, out, kind, o->settings, &rep) : pack_file(in, out, kind, o->packing, o->tables, &rep);
    if (lock >= 0) close(lock);
    if (rc == 0) {
        rep.in_bytes = file_size(in);
        rep.out_bytes = file_size(out);
    }
    if (r) *r = rep;
    return rc;
}
