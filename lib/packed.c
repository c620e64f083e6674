/* Inference files and PackedModel: see packed.h. */
#include "packed.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "util.h"

/* ---- shapes of the inference sections ------------------------------------ */

int packed_tensor(const ModelConfig *c, const TensorInfo *ti)
{
    return c->quant != QUANT_F32 && ti->ternary && ti->rows > 0;
}

static uint64_t tensor_floats(const TensorInfo *ti) { return (uint64_t)ti->layers * ti->rows * ti->cols; }
/* A packed layer slice as a file holds it: rows x blocks, or for base 3
 * rows of ceil(cols / 5) bytes (dense: TRI5; TRIT, written before, kept
 * the blocks). */
static uint64_t slice_bytes(const TensorInfo *ti, uint32_t packing, int dense)
{
    if (dense) return (uint64_t)ti->rows * ternary_dense_row_bytes(ti->cols);
    return (uint64_t)ti->rows * ternary_packed_row_bytes(ti->cols, packing);
}

/* the section of the ternary weights in an inference file: TERN, or TRI5
 * for base 3 (TRIT in files written before it) */
static const char *tern_tag(uint32_t packing, int dense)
{
    return packing != PACK_BASE3 ? "TERN" : dense ? "TRI5" : "TRIT";
}

static uint32_t n_slices(const ModelConfig *c, const TensorInfo info[N_TENSORS])
{
    uint32_t s = 0;
    for (int i = 0; i < N_TENSORS; i++)
        if (packed_tensor(c, &info[i])) s += info[i].layers;
    return s;
}

const NameValue table_format_names[] = {{"int8", TABLES_INT8}, {"f32", TABLES_F32}, {NULL, 0}};

/* the tensors QTAB holds: the embedding table and the output head */
static int is_table(int i) { return i == T_TOK_EMB || i == T_HEAD; }

uint64_t packed_flts_size(const ModelConfig *c, uint32_t tables)
{
    TensorInfo info[N_TENSORS];
    model_tensor_table(c, info);
    uint64_t n = 0;
    for (int i = 0; i < N_TENSORS; i++)
        if (!info[i].ternary && !(tables == TABLES_INT8 && is_table(i))) n += tensor_floats(&info[i]);
    return 4 * n;
}

/* rows of the tables: tok_emb's, then head's */
static uint64_t table_rows(const TensorInfo *ti) { return (uint64_t)ti->layers * ti->rows; }

uint64_t packed_qtab_size(const ModelConfig *c)
{
    TensorInfo info[N_TENSORS];
    model_tensor_table(c, info);
    uint64_t rows = table_rows(&info[T_TOK_EMB]) + table_rows(&info[T_HEAD]);
    return container_align(4 * rows) + tensor_floats(&info[T_TOK_EMB]) + tensor_floats(&info[T_HEAD]);
}

static uint64_t tern_size(const ModelConfig *c, uint32_t packing, int dense)
{
    TensorInfo info[N_TENSORS];
    model_tensor_table(c, info);
    uint64_t n = container_align(4 * (uint64_t)n_slices(c, info));
    for (int i = 0; i < N_TENSORS; i++)
        if (packed_tensor(c, &info[i])) n += info[i].layers * slice_bytes(&info[i], packing, dense);
    return n;
}

uint64_t packed_tern_size(const ModelConfig *c, uint32_t packing)
{
    return tern_size(c, packing, packing == PACK_BASE3);
}

/* ---- writing ---------------------------------------------------------- */

/* QTAB: the scales of both tables, zero padding, the values of both */
static uint8_t *encode_qtab(const PackedModel *pm, size_t *size)
{
    *size = (size_t)packed_qtab_size(&pm->cfg);
    uint8_t *b = xcalloc(*size + 1, 1);
    const Q8Matrix *e = &pm->q8[T_TOK_EMB], *h = &pm->q8[T_HEAD];
    container_put_floats(b, e->scale, e->rows);
    container_put_floats(b + 4 * (size_t)e->rows, h->scale, h->rows);
    size_t at = (size_t)container_align(4 * ((uint64_t)e->rows + h->rows));
    memcpy(b + at, e->q, (size_t)e->rows * e->cols);
    memcpy(b + at + (size_t)e->rows * e->cols, h->q, (size_t)h->rows * h->cols);
    return b;
}

int packed_model_write(const char *path, const PackedModel *pm)
{
    const ModelConfig *c = &pm->cfg;
    TensorInfo info[N_TENSORS];
    size_t n_params = model_tensor_table(c, info);
    int q8 = pm->q8[T_TOK_EMB].q != NULL;
    if (q8 && c->quant == QUANT_F32)
        return l1b_error("%s: a float (f32) model's inference file keeps its tables as floats", path);
    uint8_t conf[CKPT_CONF_SIZE];
    ckpt_encode_conf(c, conf);
    size_t hist_size;
    uint8_t *hist = ckpt_encode_hist(pm->hist, pm->n_hist, &hist_size);
    ContainerPart parts[6] = {
        {"CONF", conf, CKPT_CONF_SIZE},
        {"TOKZ", pm->tok_record, pm->tok_record_size},
        {"HIST", hist, hist_size},
    };
    int n = 3;
    uint8_t *floats, *tern = NULL, *qtab = NULL;
    if (c->quant == QUANT_F32) {
        floats = xmalloc(4 * n_params + 1);
        for (int i = 0; i < N_TENSORS; i++)
            container_put_floats(floats + 4 * info[i].offset, pm->t[i], (size_t)tensor_floats(&info[i]));
        parts[n++] = (ContainerPart){"PARM", floats, 4 * n_params};
    } else {
        size_t flts = (size_t)packed_flts_size(c, q8 ? TABLES_INT8 : TABLES_F32);
        int dense = pm->packing == PACK_BASE3;  /* written as TRI5 */
        size_t tsize = (size_t)tern_size(c, pm->packing, dense);
        floats = xmalloc(flts + 1);
        tern = xcalloc(tsize + 1, 1);
        size_t at = 0, scale_at = 0, data_at = (size_t)container_align(4 * (uint64_t)n_slices(c, info));
        for (int i = 0; i < N_TENSORS; i++) {
            if (!info[i].ternary) {
                if (q8 && is_table(i)) continue;
                container_put_floats(floats + at, pm->t[i], (size_t)tensor_floats(&info[i]));
                at += 4 * (size_t)tensor_floats(&info[i]);
            } else if (packed_tensor(c, &info[i])) {
                for (uint32_t l = 0; l < info[i].layers; l++) {
                    const PackedTernary *p = &pm->packed[i][l];
                    put32(tern + scale_at, f32_bits(p->scale));
                    scale_at += 4;
                    if (dense) ternary_to_dense(tern + data_at, p);
                    else memcpy(tern + data_at, p->data, ternary_bytes(p));
                    data_at += (size_t)slice_bytes(&info[i], pm->packing, dense);
                }
            }
        }
        parts[n++] = (ContainerPart){"FLTS", floats, flts};
        if (q8) {
            size_t qsize;
            qtab = encode_qtab(pm, &qsize);
            parts[n++] = (ContainerPart){"QTAB", qtab, qsize};
        }
        parts[n++] = (ContainerPart){tern_tag(pm->packing, dense), tern, tsize};
    }
    int rc = container_write(path, CKPT_KIND_INFER, parts, n);
    free(hist);
    free(floats);
    free(tern);
    free(qtab);
    return rc;
}

/* Floats x (cols) that q8_set_row turns back into exactly row r of m:
 * q x scale, with the largest (|q| = 127, which set the scale) moved to
 * the float a near 127 x scale whose scale 1 / (127 / a) is the row's bit
 * for bit. 0, or -1 if none was found (x then holds q x scale). */
static int fit_q8_row(const Q8Matrix *m, uint32_t r, float *x, Q8Matrix *tmp)
{
    const int8_t *q = m->q + (size_t)r * m->cols;
    float a = 127.0f * m->scale[r], up = a, down = a;
    q8_get_row(m, r, x);
    for (int d = 0; d <= 8; d++) {
        if (d) a = d % 2 ? (up = nextafterf(up, INFINITY)) : (down = nextafterf(down, 0));
        if (!isfinite(a)) continue;
        for (uint32_t c = 0; c < m->cols; c++)
            if (q[c] == 127 || q[c] == -127) x[c] = q[c] > 0 ? a : -a;
        q8_set_row(tmp, 0, x);
        if (f32_bits(tmp->scale[0]) == f32_bits(m->scale[r]) && !memcmp(tmp->q, q, m->cols)) return 0;
    }
    q8_get_row(m, r, x);
    return -1;
}

size_t packed_model_set_tables(PackedModel *pm, uint32_t tables)
{
    TensorInfo info[N_TENSORS];
    model_tensor_table(&pm->cfg, info);
    size_t inexact = 0;
    for (int i = 0; i < N_TENSORS; i++) {
        if (!is_table(i)) continue;
        const TensorInfo *ti = &info[i];
        Q8Matrix *m = &pm->q8[i];
        if (tables == TABLES_INT8 && pm->t[i]) {
            q8_init(m, (uint32_t)table_rows(ti), ti->cols);
            for (uint32_t k = 0; k < m->rows; k++) q8_set_row(m, k, pm->t[i] + (size_t)k * ti->cols);
            free(pm->t[i]);
            pm->t[i] = NULL;
        } else if (tables == TABLES_F32 && m->q) {
            Q8Matrix tmp;
            q8_init(&tmp, 1, m->cols);
            pm->t[i] = xmalloc(4 * (size_t)tensor_floats(ti) + 1);
            for (uint32_t k = 0; k < m->rows; k++)
                if (fit_q8_row(m, k, pm->t[i] + (size_t)k * ti->cols, &tmp) < 0) inexact++;
            q8_free(&tmp);
            q8_free(m);
        }
    }
    return inexact;
}

/* ---- reading ------------------------------------------------------------- */

/* the tags of an inference file of a ternary model: the last is TERN,
 * TRI5 or TRIT, QTAB is there with int8 tables */
static const char *const infer_tags_ternary[] = {"CONF", "TOKZ", "HIST", "FLTS", "TERN", "QTAB"};
static const char *const infer_tags_base3[] = {"CONF", "TOKZ", "HIST", "FLTS", "TRI5", "QTAB"};
static const char *const infer_tags_base3_blocks[] = {"CONF", "TOKZ", "HIST", "FLTS", "TRIT", "QTAB"};
static const char *const infer_tags_f32[] = {"CONF", "TOKZ", "HIST", "PARM"};

static const char *slice_name(const TensorInfo *ti, uint32_t l, char *buf, size_t n)
{
    snprintf(buf, n, "%s[%u]", ti->name, l);
    return buf;
}

/* 2 bits: codes 0..2 only; base 3: only the 243 bytes of five digits;
 * padding weights (columns >= cols) 0 (code or digit 1), or for 1 bit -1
 * (a clear bit). */
static int check_codes(const Container *f, const PackedTernary *p, const char *tag, const char *name)
{
    size_t row_bytes = ternary_row_bytes(p);
    int pad = p->packing == PACK_SIGN ? -1 : 0;
    for (uint32_t r = 0; r < p->rows; r++) {
        const uint8_t *row = p->data + r * row_bytes;
        for (size_t i = 0; p->packing == PACK_2BIT && i < row_bytes; i++)
            if (row[i] & row[i] >> 1 & 0x55)
                return l1b_error("%s: %s section: invalid ternary code 3 in %s row %u", f->path, tag, name, r);
        for (size_t i = 0; p->packing == PACK_BASE3 && i < row_bytes; i++)
            if (!ternary_base3_byte_valid(row[i]))
                return l1b_error("%s: %s section: invalid base-3 byte %u in %s row %u", f->path, tag, row[i], name,
                                 r);
        for (uint32_t c = p->cols; c < ternary_padded_cols(p); c++)
            if (ternary_get(p, r, c) != pad)
                return l1b_error("%s: %s section: padding %s in %s row %u", f->path, tag,
                                 p->packing == PACK_SIGN ? "bit not 0" : p->packing == PACK_2BIT ? "code not 1" : "digit not 1",
                                 name, r);
    }
    return 0;
}

/* The embedding table and the output head, as int8 rows under
 * PACKED_Q8_TABLES; every other float tensor as floats. */
static int is_q8_table(int i, int flags) { return (flags & PACKED_Q8_TABLES) && is_table(i); }

/* QTAB into pm->q8 (layout in packed.h), checked after its CRC: scales
 * > 0 with 127 x scale finite (act_quant_int8 makes them so, and the
 * dequantised floats are then finite), values -127..127. */
static int read_qtab(const Container *f, PackedModel *pm, const TensorInfo info[N_TENSORS])
{
    static const int tab[2] = {T_TOK_EMB, T_HEAD};
    SectionIn r;
    if (section_open(&r, f, "QTAB", packed_qtab_size(&pm->cfg)) < 0) return -1;
    Q8Matrix *e = &pm->q8[T_TOK_EMB], *h = &pm->q8[T_HEAD];
    q8_init(e, (uint32_t)table_rows(&info[T_TOK_EMB]), info[T_TOK_EMB].cols);
    q8_init(h, (uint32_t)table_rows(&info[T_HEAD]), info[T_HEAD].cols);
    uint8_t pad[CONTAINER_ALIGN];
    uint64_t n_scales = 4 * ((uint64_t)e->rows + h->rows);
    size_t n_pad = (size_t)(container_align(n_scales) - n_scales);
    if (section_floats(&r, e->scale, e->rows) < 0 || section_floats(&r, h->scale, h->rows) < 0 ||
        section_read(&r, pad, n_pad) < 0 || section_read(&r, e->q, (size_t)e->rows * e->cols) < 0 ||
        section_read(&r, h->q, (size_t)h->rows * h->cols) < 0 || section_close(&r) < 0)
        return -1;
    for (size_t i = 0; i < n_pad; i++)
        if (pad[i]) return l1b_error("%s: QTAB section: non-zero padding after the scales", f->path);
    for (int k = 0; k < 2; k++) {
        const Q8Matrix *m = &pm->q8[tab[k]];
        const char *name = info[tab[k]].name;
        for (uint32_t row = 0; row < m->rows; row++) {
            float sc = m->scale[row];
            if (!(sc > 0) || !isfinite(127.0f * sc))  /* else no float row quantises to it */
                return l1b_error("%s: QTAB section: scale of %s row %u is %g", f->path, name, row, (double)sc);
            const int8_t *q = m->q + (size_t)row * m->cols;
            for (uint32_t c = 0; c < m->cols; c++)
                if (q[c] == -128)
                    return l1b_error("%s: QTAB section: value -128 in %s row %u (int8 rows hold -127 to 127)",
                                     f->path, name, row);
        }
    }
    return 0;
}

/* Float tensor i from the section being read, into pm->t[i] or, row by row
 * (the floats are never whole in memory), into pm->q8[i]; every value
 * must be finite (section_close tells). */
static int read_float_tensor(SectionIn *r, PackedModel *pm, int i, const TensorInfo *ti, int flags)
{
    char what[64];
    snprintf(what, sizeof what, "%s tensor %s", r->tag, ti->name);
    if (!is_q8_table(i, flags)) {
        if (!(pm->t[i] = container_alloc(r->f, 4 * tensor_floats(ti)))) return -1;
        return section_finite_floats(r, pm->t[i], (size_t)tensor_floats(ti), what, 0);
    }
    Q8Matrix *m = &pm->q8[i];
    q8_init(m, ti->layers * ti->rows, ti->cols);
    float *row = xmalloc(4 * (size_t)ti->cols + 1);
    int rc = 0;
    for (uint32_t k = 0; rc == 0 && k < m->rows; k++)
        if ((rc = section_finite_floats(r, row, ti->cols, what, (uint64_t)k * ti->cols)) == 0 && !r->bad_what[0])
            q8_set_row(m, k, row);  /* not from non-finite values: the read fails anyway */
    free(row);
    return rc;
}

/* One slice's weights from the TERN, TRI5 or TRIT section being read into
 * p (shape, packing and scale set), checked: n bytes, dense (TRI5) or
 * as the blocks in memory. */
static int read_slice(SectionIn *r, PackedTernary *p, uint64_t n, int dense, const char *name)
{
    uint8_t *in = container_alloc(r->f, n);
    if (!in || section_read(r, in, (size_t)n) < 0) {
        free(in);
        return -1;
    }
    if (!dense) {
        p->data = in;
        return check_codes(r->f, p, r->tag, name);
    }
    uint32_t bad;
    int rc = 0;
    if (!(p->data = container_alloc(r->f, ternary_bytes(p))))
        rc = -1;
    else if (ternary_from_dense(p, in, &bad) < 0)
        rc = l1b_error("%s: %s section: %s row %u holds a byte that is not five base-3 digits, or padding "
                       "digits not 1", r->f->path, r->tag, name, bad);
    free(in);
    return rc;
}

static int read_infer(const Container *f, PackedModel *pm, int flags)
{
    const char *path = f->path;
    if (ckpt_read_common(f, &pm->cfg, &pm->tok_record, &pm->tok_record_size, &pm->hist, &pm->n_hist) < 0) return -1;
    const ModelConfig *c = &pm->cfg;
    TensorInfo info[N_TENSORS];
    size_t n_params = model_tensor_table(c, info);
    SectionIn r;
    pm->tables = TABLES_F32;
    if (c->quant == QUANT_F32) {
        if (container_check_tags(f, infer_tags_f32, 4, "inference file") < 0) return -1;
        if (section_open(&r, f, "PARM", 4 * (uint64_t)n_params) < 0) return -1;
        for (int i = 0; i < N_TENSORS; i++)
            if (read_float_tensor(&r, pm, i, &info[i], flags) < 0) return -1;
        return section_close(&r);
    }
    int dense = container_find(f, "TRI5") != NULL, blocks3 = container_find(f, "TRIT") != NULL;
    pm->packing = (dense || blocks3) && c->quant != QUANT_SIGN ? PACK_BASE3 : model_packing(c);
    dense = dense && pm->packing == PACK_BASE3;
    if (container_find(f, "QTAB")) pm->tables = TABLES_INT8;
    if (container_check_tags(f, pm->packing != PACK_BASE3 ? infer_tags_ternary : dense ? infer_tags_base3
                                                                                      : infer_tags_base3_blocks,
                             pm->tables == TABLES_INT8 ? 6 : 5, "inference file") < 0)
        return -1;
    if (section_open(&r, f, "FLTS", packed_flts_size(c, pm->tables)) < 0) return -1;
    for (int i = 0; i < N_TENSORS; i++)
        if (!info[i].ternary && !(pm->tables == TABLES_INT8 && is_table(i)) &&
            read_float_tensor(&r, pm, i, &info[i], flags) < 0)
            return -1;
    if (section_close(&r) < 0) return -1;
    if (pm->tables == TABLES_INT8 && read_qtab(f, pm, info) < 0) return -1;

    const char *tag = tern_tag(pm->packing, dense);
    if (section_open(&r, f, tag, tern_size(c, pm->packing, dense)) < 0) return -1;
    uint32_t S = n_slices(c, info);
    float *scales = xmalloc(4 * (size_t)S + 1);
    uint8_t pad[CONTAINER_ALIGN];
    size_t n_pad = (size_t)(container_align(4 * (uint64_t)S) - 4 * (uint64_t)S);
    int rc = section_floats(&r, scales, S) < 0 || section_read(&r, pad, n_pad) < 0 ? -1 : 0;
    for (size_t i = 0; rc == 0 && i < n_pad; i++)
        if (pad[i]) rc = l1b_error("%s: %s section: non-zero padding after the scales", path, tag);
    for (int i = 0, s = 0; rc == 0 && i < N_TENSORS; i++) {
        if (!packed_tensor(c, &info[i])) continue;
        pm->packed[i] = xcalloc(info[i].layers, sizeof *pm->packed[i]);
        for (uint32_t l = 0; rc == 0 && l < info[i].layers; l++, s++) {
            char name[64];
            PackedTernary *p = &pm->packed[i][l];
            p->rows = info[i].rows;
            p->cols = info[i].cols;
            p->packing = pm->packing;
            p->n_blocks = (p->cols + ternary_block_cols(p->packing) - 1) / ternary_block_cols(p->packing);
            p->scale = scales[s];
            slice_name(&info[i], l, name, sizeof name);
            if (!isfinite(p->scale) || p->scale < 0)
                rc = l1b_error("%s: %s section: scale of %s is %g", path, tag, name, (double)p->scale);
            else
                rc = read_slice(&r, p, slice_bytes(&info[i], p->packing, dense), dense, name);
        }
    }
    free(scales);
    if (rc < 0 || section_close(&r) < 0) return -1;
    /* a reader that wants the floats the model was trained with (l1b-sample
     * --exact) cannot have them from this file */
    if (pm->tables == TABLES_INT8 && !(flags & (PACKED_Q8_TABLES | PACKED_STORED_TABLES)))
        return l1b_error("%s: the embedding and output head are int8 rows in this file; float tables "
                         "(--exact) need a file packed with --tables f32", path);
    return 0;
}

/* A training checkpoint's weights, quantised and packed, the tables as
 * int8 rows under PACKED_Q8_TABLES. */
static int read_train_packed(const Container *f, PackedModel *pm, TrainState *st, int flags)
{
    Checkpoint ck;
    if (ckpt_read_from(f, &ck, CKPT_WEIGHTS_ONLY) < 0) return -1;
    ckpt_pack(&ck, pm);
    if (st) *st = ck.st;
    ckpt_free(&ck);
    pm->tables = TABLES_F32;
    if (flags & PACKED_Q8_TABLES) packed_model_set_tables(pm, TABLES_INT8);
    return 0;
}

int packed_model_read(const char *path, PackedModel *pm, uint32_t *kind, TrainState *st, int flags)
{
    memset(pm, 0, sizeof *pm);
    if (st) memset(st, 0, sizeof *st);
    Container f;
    if (container_open(&f, path) < 0) return -1;
    if (kind) *kind = f.kind;
    int rc = f.kind == CKPT_KIND_INFER ? read_infer(&f, pm, flags) : read_train_packed(&f, pm, st, flags);
    container_close(&f);
    if (rc < 0) packed_model_free(pm);
    return rc;
}

void packed_model_free(PackedModel *pm)
{
    TensorInfo info[N_TENSORS];
    model_tensor_table(&pm->cfg, info);
    for (int i = 0; i < N_TENSORS; i++) {
        free(pm->t[i]);
        q8_free(&pm->q8[i]);
        if (pm->packed[i])
            for (uint32_t l = 0; l < info[i].layers; l++) ternary_free(&pm->packed[i][l]);
        free(pm->packed[i]);
    }
    free(pm->tok_record);
    free(pm->hist);
    memset(pm, 0, sizeof *pm);
}
