#include "infer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "packed.h"
#include "kernels.h"
#include "layers.h"
#include "profile.h"
#include "threads.h"
#include "util.h"

enum { LIN_Q, LIN_K, LIN_V, LIN_O, LIN_GATE, LIN_UP, LIN_DOWN, N_LIN };
static const int lin_tensor[N_LIN] = {T_WQ, T_WK, T_WV, T_WO, T_W_GATE, T_W_UP, T_W_DOWN};

struct InferBlock;
static void block_free(struct InferBlock *b);

static float *copy_floats(const float *src, size_t n)
{
    float *d = xmalloc(n * sizeof *d + 1);
    memcpy(d, src, n * sizeof *d);
    return d;
}

/* The embedding table and the head: taken over as floats (exact) or
 * quantised to int8 rows and freed. */
static void take_tables(Infer *m, float *tok_emb, float *head)
{
    size_t V = m->cfg.vocab, C = m->cfg.dim;
    if (m->exact) {
        m->tok_emb = tok_emb;
        m->head = head;
        m->weight_bytes += 2 * V * C * sizeof(float);
        return;
    }
    q8_init(&m->emb_q, (uint32_t)V, (uint32_t)C);
    q8_init(&m->head_q, (uint32_t)V, (uint32_t)C);
    for (size_t r = 0; r < V; r++) {
        q8_set_row(&m->emb_q, r, tok_emb + r * C);
        q8_set_row(&m->head_q, r, head + r * C);
    }
    free(tok_emb);
    free(head);
    m->weight_bytes += q8_bytes(&m->emb_q) + q8_bytes(&m->head_q);
}

/* the KV cache and one token's activations */
static void alloc_buffers(Infer *m)
{
    const ModelConfig *c = &m->cfg;
    size_t C = c->dim, H = c->hidden, L = c->n_layers, V = c->vocab, T = c->ctx, NH = c->n_heads;
    size_t wide = H > C ? H : C, padded = ternary_x_len((uint32_t)wide);
    if (m->exact) {
        m->kc = xcalloc(L * T * C, sizeof(float));
        m->vc = xcalloc(L * T * C, sizeof(float));
        m->cache_bytes = 2 * L * T * C * sizeof(float);
    } else {
        q8_init(&m->kq, (uint32_t)(L * T * NH), (uint32_t)(C / NH));
        q8_init(&m->vq, (uint32_t)(L * T * NH), (uint32_t)(C / NH));
        m->cache_bytes = q8_bytes(&m->kq) + q8_bytes(&m->vq);
    }
    m->x = xcalloc(C, sizeof(float));
    m->xn = xcalloc(C, sizeof(float));
    m->q = xcalloc(C, sizeof(float));
    m->k = xcalloc(C, sizeof(float));
    m->v = xcalloc(C, sizeof(float));
    m->atty = xcalloc(C, sizeof(float));
    m->att = xcalloc(T, sizeof(float));
    m->tmp = xcalloc(C, sizeof(float));
    m->gate = xcalloc(H, sizeof(float));
    m->up = xcalloc(H, sizeof(float));
    m->act = xcalloc(H, sizeof(float));
    m->logits = xcalloc(V, sizeof(float));
    m->xq = xcalloc(padded, 1);
    /* integer sums: q, k and v together, up and gate together, or a
     * head's attention scores */
    size_t sums = 3 * C > 2 * H ? 3 * C : 2 * H;
    m->acc = xcalloc(sums > T ? sums : T, sizeof(int32_t));
}

int infer_read(Infer *m, const char *path, int flags)
{
    uint32_t kind;
    if (ckpt_kind(path, &kind) < 0) return -1;
    double t0 = prof_begin();
    if (kind == CKPT_KIND_TRAIN) {
        Checkpoint ck;
        int rc = ckpt_read(path, &ck, CKPT_WEIGHTS_ONLY);
        prof_end(PROF_IO, t0);
        if (rc < 0) return -1;
        Tokenizer tok;
        if (tok_record_read(&tok, ck.tok_record, ck.tok_record_size, path) < 0) {
            ckpt_free(&ck);
            return -1;
        }
        infer_init(m, &ck.cfg, ck.params, &tok, flags);
        ckpt_free(&ck);
        return 0;
    }

    /* An inference file (l1b-ckpt convert --pack): the packed ternary
     * weights and scales are the ones infer_init would compute from the
     * shadow weights, so they are taken as they are; no float shadow. The
     * int8 tables are made row by row while reading. */
    memset(m, 0, sizeof *m);
    m->exact = flags & INFER_EXACT;
    PackedModel pm;
    int rc = packed_model_read(path, &pm, NULL, NULL, m->exact ? 0 : PACKED_Q8_TABLES);
    prof_end(PROF_IO, t0);
    if (rc < 0) return -1;
    if (tok_record_read(&m->tok, pm.tok_record, pm.tok_record_size, path) < 0) {
        packed_model_free(&pm);
        return -1;
    }
    const ModelConfig *c = &pm.cfg;
    m->cfg = *c;
    TensorInfo info[N_TENSORS];
    model_tensor_table(c, info);
    size_t C = c->dim, L = c->n_layers;
    /* the float tensors change hands */
    m->attn_norm = pm.t[T_ATTN_NORM];
    m->ffn_norm = pm.t[T_FFN_NORM];
    m->final_norm = pm.t[T_FINAL_NORM];
    m->weight_bytes = (2 * L * C + C) * sizeof(float);
    if (m->exact) {
        take_tables(m, pm.t[T_TOK_EMB], pm.t[T_HEAD]);
    } else {
        m->emb_q = pm.q8[T_TOK_EMB];
        m->head_q = pm.q8[T_HEAD];
        memset(&pm.q8[T_TOK_EMB], 0, sizeof pm.q8[T_TOK_EMB]);
        memset(&pm.q8[T_HEAD], 0, sizeof pm.q8[T_HEAD]);
        m->weight_bytes += q8_bytes(&m->emb_q) + q8_bytes(&m->head_q);
    }
    pm.t[T_TOK_EMB] = pm.t[T_ATTN_NORM] = pm.t[T_FFN_NORM] = pm.t[T_FINAL_NORM] = pm.t[T_HEAD] = NULL;
    m->lin = xcalloc(L * N_LIN, sizeof *m->lin);
    for (size_t l = 0; l < L; l++)
        for (int k = 0; k < N_LIN; k++) {
            const TensorInfo *ti = &info[lin_tensor[k]];
            Linear *lin = &m->lin[l * N_LIN + k];
            lin->rows = ti->rows;
            lin->cols = ti->cols;
            if (!ti->rows) continue;  /* no gate in a ReLU² model */
            size_t n = (size_t)ti->rows * ti->cols;
            if (c->quant == QUANT_F32) {
                lin->w = copy_floats(pm.t[lin_tensor[k]] + l * n, n);
                m->weight_bytes += n * sizeof(float);
            } else {
                lin->ternary = 1;
                lin->t = pm.packed[lin_tensor[k]][l];  /* takes over the data */
                pm.packed[lin_tensor[k]][l].data = NULL;
                m->weight_bytes += ternary_bytes(&lin->t);
            }
        }
    packed_model_free(&pm);
    alloc_buffers(m);
    return 0;
}

void infer_init(Infer *m, const ModelConfig *c, const float *params, Tokenizer *tok, int flags)
{
    memset(m, 0, sizeof *m);
    m->exact = flags & INFER_EXACT;
    m->tok = *tok;
    m->cfg = *c;
    TensorInfo info[N_TENSORS];
    model_tensor_table(c, info);
    size_t C = c->dim, H = c->hidden, L = c->n_layers, V = c->vocab;
#define TENSOR(t) (params + info[t].offset)
    m->attn_norm = copy_floats(TENSOR(T_ATTN_NORM), L * C);
    m->ffn_norm = copy_floats(TENSOR(T_FFN_NORM), L * C);
    m->final_norm = copy_floats(TENSOR(T_FINAL_NORM), C);
    m->weight_bytes = (2 * L * C + C) * sizeof(float);
    take_tables(m, copy_floats(TENSOR(T_TOK_EMB), V * C), copy_floats(TENSOR(T_HEAD), V * C));

    m->lin = xcalloc(L * N_LIN, sizeof *m->lin);
    int8_t *q = xmalloc(H * C + C * C + 1);
    for (size_t l = 0; l < L; l++)
        for (int k = 0; k < N_LIN; k++) {
            const TensorInfo *ti = &info[lin_tensor[k]];
            Linear *lin = &m->lin[l * N_LIN + k];
            lin->rows = ti->rows;
            lin->cols = ti->cols;
            if (!ti->rows) continue;  /* no gate in a ReLU² model */
            const float *w = TENSOR(lin_tensor[k]) + l * (size_t)ti->rows * ti->cols;
            size_t n = (size_t)ti->rows * ti->cols;
            if (c->quant == QUANT_F32) {
                lin->w = copy_floats(w, n);
                m->weight_bytes += n * sizeof(float);
            } else {
                lin->ternary = 1;
                float scale = weight_quantise((QuantScheme)c->quant, w, n, q);
                ternary_pack(&lin->t, q, ti->rows, ti->cols, scale, model_packing(c));
                m->weight_bytes += ternary_bytes(&lin->t);
            }
        }
    free(q);
#undef TENSOR
    alloc_buffers(m);
}

void infer_free(Infer *m)
{
    if (m->lin)
        for (size_t i = 0; i < (size_t)m->cfg.n_layers * N_LIN; i++) {
            ternary_free(&m->lin[i].t);
            free(m->lin[i].w);
        }
    free(m->lin);
    tok_free(&m->tok);
    free(m->tok_emb); free(m->attn_norm); free(m->ffn_norm); free(m->final_norm); free(m->head);
    free(m->kc); free(m->vc);
    q8_free(&m->emb_q); q8_free(&m->head_q); q8_free(&m->kq); q8_free(&m->vq);
    free(m->x); free(m->xn); free(m->q); free(m->k); free(m->v); free(m->atty); free(m->att); free(m->tmp);
    free(m->gate); free(m->up); free(m->act); free(m->logits); free(m->xq); free(m->acc);
    block_free(m->block);
    memset(m, 0, sizeof *m);
}

void infer_repack(Infer *m, uint32_t packing)
{
    for (size_t i = 0; i < (size_t)m->cfg.n_layers * N_LIN; i++) {
        PackedTernary *t = &m->lin[i].t;
        if (!m->lin[i].ternary) continue;
        m->weight_bytes -= ternary_bytes(t);
        ternary_repack(t, packing);
        m->weight_bytes += ternary_bytes(t);
    }
}

void infer_init_random(Infer *m, const ModelConfig *c, Tokenizer *tok, uint32_t packing, uint64_t seed)
{
    memset(m, 0, sizeof *m);
    m->tok = *tok;
    m->cfg = *c;
    TensorInfo info[N_TENSORS];
    model_tensor_table(c, info);
    size_t C = c->dim, L = c->n_layers, V = c->vocab;
    Rng r;
    rng_seed(&r, seed);
    m->attn_norm = xmalloc(L * C * sizeof(float));
    m->ffn_norm = xmalloc(L * C * sizeof(float));
    m->final_norm = xmalloc(C * sizeof(float));
    for (size_t i = 0; i < L * C; i++) m->attn_norm[i] = m->ffn_norm[i] = 1;
    for (size_t i = 0; i < C; i++) m->final_norm[i] = 1;
    m->weight_bytes = (2 * L * C + C) * sizeof(float);
    /* int8 rows of about the spread of 0.02 N(0, 1) floats */
    q8_init(&m->emb_q, (uint32_t)V, (uint32_t)C);
    q8_init(&m->head_q, (uint32_t)V, (uint32_t)C);
    for (size_t i = 0; i < V * C; i++) {
        uint64_t u = rng_u64(&r);
        m->emb_q.q[i] = (int8_t)((int)(u % 255) - 127);
        m->head_q.q[i] = (int8_t)((int)(u >> 32) % 255 - 127);
    }
    for (size_t i = 0; i < V; i++) m->emb_q.scale[i] = m->head_q.scale[i] = 0.02f / 73;
    m->weight_bytes += q8_bytes(&m->emb_q) + q8_bytes(&m->head_q);
    m->lin = xcalloc(L * N_LIN, sizeof *m->lin);
    for (size_t l = 0; l < L; l++)
        for (int k = 0; k < N_LIN; k++) {
            const TensorInfo *ti = &info[lin_tensor[k]];
            Linear *lin = &m->lin[l * N_LIN + k];
            lin->rows = ti->rows;
            lin->cols = ti->cols;
            if (!ti->rows) continue;  /* no gate in a ReLU² model */
            lin->ternary = 1;
            ternary_random(&lin->t, ti->rows, ti->cols, 0.016f, packing, &r);  /* absmean of 0.02 N(0, 1) */
            m->weight_bytes += ternary_bytes(&lin->t);
        }
    alloc_buffers(m);
}

/* out[j] (rows of lin[j]) = lin[j](in (cols)), j < n, all of the same
 * cols: as bitlinear_forward / matmul_forward do it, the input quantised
 * once and the ternary products run as one job */
static void linear_many(Infer *m, float *const out[], const Linear *const lin[], int n, const float *in)
{
    if (!lin[0]->ternary) {
        for (int j = 0; j < n; j++) matmul_forward(out[j], in, lin[j]->w, 1, lin[j]->cols, lin[j]->rows);
        return;
    }
    float xscale;
    double t0 = prof_begin();
    act_quant_int8(in, lin[0]->cols, m->xq, &xscale);
    memset(m->xq + lin[0]->cols, 0, ternary_padded_cols(&lin[0]->t) - lin[0]->cols);
    prof_end(PROF_QUANT, t0);
    t0 = prof_begin();
    int32_t *acc[3];
    const PackedTernary *w[3];
    for (int j = 0, at = 0; j < n; at += (int)lin[j]->rows, j++) {
        acc[j] = m->acc + at;
        w[j] = &lin[j]->t;
    }
    ternary_matvec_many(acc, w, n, m->xq);
    for (int j = 0; j < n; j++) {
        float s = xscale * lin[j]->t.scale;
        for (uint32_t o = 0; o < lin[j]->rows; o++) out[j][o] = (float)acc[j][o] * s;
    }
    prof_end(PROF_MATMUL_FWD, t0);
}

static void linear(Infer *m, float *out, const Linear *lin, const float *in)
{
    linear_many(m, &out, &lin, 1, in);
}

/* The model's own KV cache, as a view of its fields. */
static InferCache model_cache(const Infer *m)
{
    InferCache c = {m->kc, m->vc, m->kq, m->vq};
    return c;
}

void infer_cache_init(const Infer *m, InferCache *kv)
{
    const ModelConfig *c = &m->cfg;
    size_t C = c->dim, L = c->n_layers, T = c->ctx, NH = c->n_heads;
    memset(kv, 0, sizeof *kv);
    if (m->exact) {
        kv->kc = xcalloc(L * T * C, sizeof(float));
        kv->vc = xcalloc(L * T * C, sizeof(float));
    } else {
        q8_init(&kv->kq, (uint32_t)(L * T * NH), (uint32_t)(C / NH));
        q8_init(&kv->vq, (uint32_t)(L * T * NH), (uint32_t)(C / NH));
    }
}

void infer_cache_free(InferCache *kv)
{
    free(kv->kc);
    free(kv->vc);
    q8_free(&kv->kq);
    q8_free(&kv->vq);
    memset(kv, 0, sizeof *kv);
}

/* Layer l's keys and values for position pos, from k and v (C each). The
 * int8 cache keeps each (layer, head)'s positions together: row
 * ((l * NH + h) * ctx + t), so attention reads consecutive rows. */
static void cache_store(const Infer *m, InferCache *kv, size_t l, uint32_t pos, const float *k, const float *v)
{
    size_t C = m->cfg.dim, T = m->cfg.ctx, NH = m->cfg.n_heads, HS = C / NH;
    if (m->exact) {
        memcpy(kv->kc + (l * T + pos) * C, k, C * sizeof(float));
        memcpy(kv->vc + (l * T + pos) * C, v, C * sizeof(float));
        return;
    }
    for (size_t h = 0; h < NH; h++) {
        q8_set_row(&kv->kq, (l * NH + h) * T + pos, k + h * HS);
        q8_set_row(&kv->vq, (l * NH + h) * T + pos, v + h * HS);
    }
}

/* out (HS) = attention of head h's query q (HS) over layer l's cache
 * positions 0..n-1; att (n floats), dots (n) and qq (HS) scratch. The
 * int8 cache does what attention_query does with one scale per stored
 * row, and the query quantised to int8 as well: scores
 * q.k[t] * qscale * kscale[t] / sqrt(HS) from exact integer dot products,
 * softmax, then the sum of att[t] * vscale[t] * v[t]. */
static void attend_head(const Infer *m, const InferCache *kv, size_t l, size_t h, size_t n, const float *q,
                        float *out, float *att, int32_t *dots, int8_t *qq)
{
    size_t C = m->cfg.dim, T = m->cfg.ctx, NH = m->cfg.n_heads, HS = C / NH;
    if (m->exact) {
        attention_query(out, att, q, kv->kc + l * T * C + h * HS, kv->vc + l * T * C + h * HS, n, C, HS);
        return;
    }
    size_t r0 = (l * NH + h) * T;
    float qscale;
    act_quant_int8(q, HS, qq, &qscale);
    qscale /= sqrtf((float)HS);
    kern.dot_i8_rows(dots, qq, kv->kq.q + r0 * HS, HS, n);
    for (size_t t = 0; t < n; t++) att[t] = (float)dots[t] * kv->kq.scale[r0 + t] * qscale;
    kern.softmax_f32(att, att, n, NULL);
    for (size_t t = 0; t < n; t++) att[t] *= kv->vq.scale[r0 + t];
    memset(out, 0, HS * sizeof *out);
    kern.axpy_i8_rows(out, att, kv->vq.q + r0 * HS, HS, n);
}

/* m->atty = attention of m->q over layer l's cache positions 0..pos */
static void cache_attend(Infer *m, const InferCache *kv, size_t l, uint32_t pos)
{
    size_t HS = m->cfg.dim / m->cfg.n_heads;
    /* m->acc is free between the linear layers and holds >= ctx */
    for (size_t h = 0; h < m->cfg.n_heads; h++)
        attend_head(m, kv, l, h, (size_t)pos + 1, m->q + h * HS, m->atty + h * HS, m->att, m->acc, m->xq);
}

/* The last norm's output xn (C) through the head into logits (V). */
static void head_one(Infer *m, const float *xn, float *logits)
{
    if (m->exact) {
        matmul_forward(logits, xn, m->head, 1, m->cfg.dim, m->cfg.vocab);
        return;
    }
    float xscale;
    PROFILED(PROF_QUANT, act_quant_int8(xn, m->cfg.dim, m->xq, &xscale));
    PROFILED(PROF_MATMUL_FWD, q8_matvec(logits, &m->head_q, m->xq, xscale));
}

/* Layer l for one token at pos: m->x in and out. With kv_stored its key
 * and value are in the cache already (a block made them) and only its
 * query is made: the same numbers, the products being exact integers per
 * row. */
static void layer_one(Infer *m, InferCache *kv, size_t l, uint32_t pos, int kv_stored)
{
    const ModelConfig *c = &m->cfg;
    size_t C = c->dim, H = c->hidden, NH = c->n_heads, HS = C / NH;
    int p = (int)pos;
    const Linear *lin = m->lin + l * N_LIN;
    float rstd;
    PROFILED(PROF_NORM, rmsnorm_forward(m->xn, &rstd, m->x, m->attn_norm + l * C, 1, C, RMSNORM_EPS));
    if (kv_stored) {
        linear(m, m->q, &lin[LIN_Q], m->xn);
    } else {
        float *const out[3] = {m->q, m->k, m->v};
        const Linear *const qkv[3] = {&lin[LIN_Q], &lin[LIN_K], &lin[LIN_V]};
        linear_many(m, out, qkv, 3, m->xn);
    }
    PROFILED(PROF_ELEMENTWISE, rope_forward(m->q, &p, 1, NH, HS, ROPE_THETA));
    if (!kv_stored) PROFILED(PROF_ELEMENTWISE, rope_forward(m->k, &p, 1, NH, HS, ROPE_THETA));
    double t0 = prof_begin();
    if (!kv_stored) cache_store(m, kv, l, pos, m->k, m->v);
    cache_attend(m, kv, l, pos);
    prof_end(PROF_ATTENTION, t0);
    linear(m, m->tmp, &lin[LIN_O], m->atty);
    PROFILED(PROF_ELEMENTWISE, residual_forward(m->x, m->tmp, m->x, C));

    PROFILED(PROF_NORM, rmsnorm_forward(m->xn, &rstd, m->x, m->ffn_norm + l * C, 1, C, RMSNORM_EPS));
    if (c->ffn_act == FFN_SWIGLU) {
        float *const out[2] = {m->up, m->gate};
        const Linear *const ug[2] = {&lin[LIN_UP], &lin[LIN_GATE]};
        linear_many(m, out, ug, 2, m->xn);
        PROFILED(PROF_ELEMENTWISE, swiglu_forward(m->act, m->gate, m->up, 1, H));
    } else {
        linear(m, m->up, &lin[LIN_UP], m->xn);
        PROFILED(PROF_ELEMENTWISE, relu2_forward(m->act, m->up, 1, H));
    }
    linear(m, m->tmp, &lin[LIN_DOWN], m->act);
    PROFILED(PROF_ELEMENTWISE, residual_forward(m->x, m->tmp, m->x, C));
}

/* infer_forward on a given cache */
static const float *forward_one(Infer *m, InferCache *kv, int token, uint32_t pos)
{
    size_t C = m->cfg.dim;
    if (m->exact)
        memcpy(m->x, m->tok_emb + (size_t)token * C, C * sizeof(float));
    else
        q8_get_row(&m->emb_q, (size_t)token, m->x);
    for (size_t l = 0; l < m->cfg.n_layers; l++) layer_one(m, kv, l, pos, 0);
    float rstd;
    PROFILED(PROF_NORM, rmsnorm_forward(m->xn, &rstd, m->x, m->final_norm, 1, C, RMSNORM_EPS));
    head_one(m, m->xn, m->logits);
    return m->logits;
}

const float *infer_forward(Infer *m, int token, uint32_t pos)
{
    InferCache kv = model_cache(m);
    return forward_one(m, &kv, token, pos);
}

/* ---- blocks of tokens --------------------------------------------------- */

/* infer_forward_block's scratch: a block's activations, row after row, and
 * per-thread buffers of the products and attention */
struct InferBlock {
    float *x, *xn, *q, *k, *v, *atty, *tmp, *gate, *up, *act;  /* (B, C) or (B, H) */
    float *rstd, *xscale;  /* (B) */
    int32_t *xsum;         /* (B) sums of a row of xq */
    int *pos;              /* (B) */
    InferCache **kvs;      /* (B) the cache of each row */
    int8_t *xq;            /* (B rounded up to 4, ldx): int8 rows, zero-padded */
    size_t ldx;
    int threads;           /* the per-thread buffers are for this many */
    uint8_t *panels;       /* per thread: 32 rows of codes, panel_bytes */
    size_t panel_bytes;
    float *att;            /* per thread: (ctx) */
    int32_t *dots;         /* per thread: (ctx) */
    int8_t *qq;            /* per thread: (qq_len) */
    size_t qq_len;
    size_t *runs;          /* (B + 1): rows of one cache at consecutive positions */
    float *keys;           /* per thread: a head's keys as floats, (HS, ctx to 16) */
    float *scores;         /* per thread: (4, ctx to 16) */
    float *qf;             /* per thread: (4, HS) */
};

static void block_free(struct InferBlock *b)
{
    if (!b) return;
    free(b->x); free(b->xn); free(b->q); free(b->k); free(b->v); free(b->atty); free(b->tmp);
    free(b->gate); free(b->up); free(b->act); free(b->rstd); free(b->xscale); free(b->xsum); free(b->pos); free(b->kvs);
    free(b->xq); free(b->panels); free(b->att); free(b->dots); free(b->qq);
    free(b->runs); free(b->keys); free(b->scores); free(b->qf);
    free(b);
}

static struct InferBlock *block_scratch(Infer *m)
{
    const ModelConfig *c = &m->cfg;
    size_t C = c->dim, H = c->hidden, T = c->ctx, HS = C / c->n_heads, B = INFER_BLOCK;
    struct InferBlock *b = m->block;
    if (!b) {
        b = m->block = xcalloc(1, sizeof *b);
        size_t wide = H > C ? H : C;
        b->ldx = ternary_x_len((uint32_t)wide);
        b->x = xcalloc(B * C, sizeof(float));
        b->xn = xcalloc(B * C, sizeof(float));
        b->q = xcalloc(B * C, sizeof(float));
        b->k = xcalloc(B * C, sizeof(float));
        b->v = xcalloc(B * C, sizeof(float));
        b->atty = xcalloc(B * C, sizeof(float));
        b->tmp = xcalloc(B * C, sizeof(float));
        b->gate = xcalloc(B * H, sizeof(float));
        b->up = xcalloc(B * H, sizeof(float));
        b->act = xcalloc(B * H, sizeof(float));
        b->rstd = xcalloc(B, sizeof(float));
        b->xscale = xcalloc(B + 3, sizeof(float));
        b->xsum = xcalloc(B + 3, sizeof(int32_t));
        b->pos = xcalloc(B, sizeof(int));
        b->kvs = xcalloc(B, sizeof *b->kvs);
        b->xq = xcalloc((B + 3) / 4 * 4 * b->ldx, 1);
        b->panel_bytes = 32 * b->ldx;
        b->qq_len = (HS + 63) / 64 * 64;
        b->runs = xcalloc(B + 1, sizeof *b->runs);
    }
    int nt = threads_count();
    if (nt != b->threads) {
        free(b->panels); free(b->att); free(b->dots); free(b->qq);
        free(b->keys); free(b->scores); free(b->qf);
        b->threads = nt;
        size_t Tp = (T + 15) / 16 * 16;
        b->keys = xmalloc((size_t)nt * HS * Tp * sizeof(float));
        b->scores = xmalloc((size_t)nt * 4 * Tp * sizeof(float));
        b->qf = xmalloc((size_t)nt * 4 * HS * sizeof(float));
        b->panels = xmalloc((size_t)nt * b->panel_bytes);
        b->att = xmalloc((size_t)nt * T * sizeof(float));
        b->dots = xmalloc((size_t)nt * T * sizeof(int32_t));
        b->qq = xmalloc((size_t)nt * b->qq_len);
    }
    return b;
}

/* One packed block of a row as codes (weight + 1: 0, 1, 2) in the order of
 * the columns, 64 or 80 bytes. 64-bit words hold eight codes a byte each:
 * 2 bits are a shift and a mask; base 3 multiplies the bytes by 3 in
 * 16-bit lanes (digit = (3q) >> 8, then q = 3q mod 256, ternary.h); a sign
 * bit is code 0 or 2. */
static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    if (!L1B_HOST_LE) return le64(p);
    memcpy(&v, p, 8);
    return v;
}

static inline void store64(uint8_t *p, uint64_t v)
{
    if (L1B_HOST_LE) memcpy(p, &v, 8);
    else put64(p, v);
}

static void block_codes(uint8_t *codes, const uint8_t *blk, uint32_t packing)
{
    const uint64_t two = 0x0303030303030303ull, lanes = 0x00ff00ff00ff00ffull;
    if (packing == PACK_2BIT) {
        for (int h = 0; h < 2; h++) {
            uint64_t w = load64(blk + 8 * h);
            for (int s = 0; s < 4; s++) store64(codes + 16 * s + 8 * h, w >> (2 * s) & two);
        }
    } else if (packing == PACK_BASE3) {
        for (int h = 0; h < 2; h++) {
            uint64_t w = load64(blk + 8 * h), e = w & lanes, o = w >> 8 & lanes;
            for (int d = 0; d < 5; d++) {
                e *= 3;
                o *= 3;
                store64(codes + 16 * d + 8 * h, (e >> 8 & lanes) | (o >> 8 & lanes) << 8);
                e &= lanes;
                o &= lanes;
            }
        }
    } else {
        for (int k = 0; k < 64; k++) codes[k] = (uint8_t)((blk[k >> 3] >> (k & 7) & 1) * 2);
    }
}

/* Rows r0..r0+31 of w (fewer at the end: code 0 for the rest) as the
 * panel codes_panel_4x32 takes: code(k, j) at
 * panel[(k/2 * 32 + j) * 2 + k%2], k < K = the padded columns. Four rows
 * at a time, so that a pair of columns of the four is one 8-byte store. */
static void unpack_panel(uint8_t *panel, const PackedTernary *w, size_t r0, size_t K)
{
    size_t rb = ternary_row_bytes(w), nb = w->n_blocks, bc = ternary_block_cols(w->packing),
           bb = ternary_block_bytes(w->packing), rows = w->rows - r0 < 32 ? w->rows - r0 : 32;
    if (w->packing == PACK_2BIT) {
        kern.panel_2bit(panel, w->data + r0 * rb, rb, rows, nb);
        return;
    }
    uint8_t codes[4][80];
    for (size_t j0 = 0; j0 < 32; j0 += 4) {
        size_t have = j0 < rows ? rows - j0 : 0;
        if (have > 4) have = 4;
        if (!have) {  /* past the last row: zeros, never read back */
            for (size_t kp = 0; kp < K / 2; kp++) memset(panel + kp * 64 + 2 * j0, 0, 8);
            continue;
        }
        if (have < 4) memset(codes, 0, sizeof codes);
        for (size_t b = 0; b < nb; b++) {
            for (size_t r = 0; r < have; r++) block_codes(codes[r], w->data + (r0 + j0 + r) * rb + b * bb, w->packing);
            for (size_t q = 0; q < bc; q += 8) {
                uint64_t m[4];
                for (int r = 0; r < 4; r++) m[r] = load64(codes[r] + q);
                transpose16(m);
                uint8_t *at = panel + (b * bc + q) / 2 * 64 + 2 * j0;
                for (int p = 0; p < 4; p++) store64(at + (size_t)p * 64, m[p]);
            }
        }
    }
}

/* out[j] (B, rows of lin[j]) = lin[j](in (B, cols)), j < n, all of the same
 * cols: the products of linear_many for B tokens at once. */
typedef struct {
    float *const *out;
    const Linear *const *lin;
    int n;
    const struct InferBlock *b;
    size_t B;
} BlockLinear;

/* panels [p0, p1) of 32 rows of the matrices stacked one under the other,
 * each unpacked once and run against every group of 4 tokens: exact
 * integer sums, rescaled as linear_many does */
static void block_panels(void *ctx, size_t p0, size_t p1, int thread)
{
    const BlockLinear *bl = ctx;
    const struct InferBlock *b = bl->b;
    uint8_t *panel = b->panels + (size_t)thread * b->panel_bytes;
    int32_t acc[4 * 32];
    size_t base = 0;  /* first panel of matrix j */
    int j = 0;
    for (size_t p = p0; p < p1; p++) {
        while (p >= base + (bl->lin[j]->rows + 31) / 32) base += (bl->lin[j++]->rows + 31) / 32;
        const PackedTernary *w = &bl->lin[j]->t;
        size_t K = ternary_padded_cols(w), r0 = 32 * (p - base), OC = w->rows;
        size_t wc = OC - r0 < 32 ? OC - r0 : 32;
        unpack_panel(panel, w, r0, K);
        float *out = bl->out[j];
        /* zeroed once: the sums read are zeroed as they are read, and the
         * others (rows past the matrix's, tokens past B) stay 0 */
        memset(acc, 0, sizeof acc);
        for (size_t m0 = 0; m0 < bl->B; m0 += 4) {
            kern.codes_panel_4x32(acc, b->xq + m0 * b->ldx, b->ldx, panel, K);
            for (size_t i = 0; i < 4 && m0 + i < bl->B; i++) {
                float s = b->xscale[m0 + i] * w->scale;
                float *o = out + (m0 + i) * OC + r0;
                int32_t *a = acc + i * 32, xs = b->xsum[m0 + i];
                for (size_t c = 0; c < wc; c++) {
                    o[c] = (float)(a[c] - xs) * s;
                    a[c] = 0;
                }
            }
        }
    }
}

/* Float products of rows that must come out as one row alone would
 * (several sequences in lockstep): matmul_forward computes fewer than 16
 * rows one by one, each as it does a single row (gemm.c), and more as a
 * tiled product summed in another order. */
#define ROWWISE_ROWS 15

static void float_rows(float *out, const float *in, const float *w, size_t B, size_t C, size_t OC, int rowwise)
{
    size_t step = rowwise ? ROWWISE_ROWS : B;
    for (size_t at = 0; at < B; at += step)
        matmul_forward(out + at * OC, in + at * C, w, B - at < step ? B - at : step, C, OC);
}

static void block_linear(Infer *m, float *const out[], const Linear *const lin[], int n, const float *in, size_t B,
                         int rowwise)
{
    size_t cols = lin[0]->cols;
    if (!lin[0]->ternary) {
        for (int j = 0; j < n; j++) float_rows(out[j], in, lin[j]->w, B, cols, lin[j]->rows, rowwise);
        return;
    }
    struct InferBlock *b = m->block;
    double t0 = prof_begin();
    size_t ldx = b->ldx;
    for (size_t i = 0; i < (B + 3) / 4 * 4; i++) {
        int8_t *xq = b->xq + i * ldx;
        int32_t sum = 0;
        if (i < B) {
            act_quant_int8(in + i * cols, cols, xq, &b->xscale[i]);
            for (size_t c = 0; c < cols; c++) sum += xq[c];
            memset(xq + cols, 0, ldx - cols);
        } else {
            memset(xq, 0, ldx);
            b->xscale[i] = 0;
        }
        b->xsum[i] = sum;
    }
    prof_end(PROF_QUANT, t0);
    t0 = prof_begin();
    if (!kern.int8_simd) {
        /* without integer SIMD the panel kernel is plain C: the mat-vec
         * kernels one token at a time are faster, with the same sums */
        int32_t *acc[3];
        const PackedTernary *w[3];
        for (int j = 0, at = 0; j < n; at += (int)lin[j]->rows, j++) {
            acc[j] = m->acc + at;
            w[j] = &lin[j]->t;
        }
        for (size_t i = 0; i < B; i++) {
            ternary_matvec_many(acc, w, n, b->xq + i * ldx);
            for (int j = 0; j < n; j++) {
                float s = b->xscale[i] * lin[j]->t.scale;
                for (uint32_t o = 0; o < lin[j]->rows; o++) out[j][i * lin[j]->rows + o] = (float)acc[j][o] * s;
            }
        }
    } else {
        BlockLinear bl = {out, lin, n, b, B};
        size_t panels = 0, weights = 0;
        for (int j = 0; j < n; j++) {
            panels += (lin[j]->rows + 31) / 32;
            weights += (size_t)lin[j]->rows * ternary_padded_cols(&lin[j]->t);
        }
        parallel_for_min(panels, weights * B, (size_t)1 << 18, block_panels, &bl);
    }
    prof_end(PROF_MATMUL_FWD, t0);
}

/* every (token, head) of a block: attention over the cache up to the
 * token's own position (the block's keys and values are stored first) */
typedef struct {
    const Infer *m;
    const struct InferBlock *b;
    size_t l;
} BlockAttend;

static void block_attend_rows(void *ctx, size_t i0, size_t i1, int thread)
{
    const BlockAttend *a = ctx;
    const struct InferBlock *b = a->b;
    size_t C = a->m->cfg.dim, NH = a->m->cfg.n_heads, HS = C / NH, T = a->m->cfg.ctx;
    for (size_t it = i0; it < i1; it++) {
        size_t i = it / NH, h = it % NH;
        attend_head(a->m, b->kvs[i], a->l, h, (size_t)b->pos[i] + 1, b->q + i * C + h * HS, b->atty + i * C + h * HS,
                    b->att + (size_t)thread * T, b->dots + (size_t)thread * T, b->qq + (size_t)thread * b->qq_len);
    }
}

/* Attention of a run of rows (one cache, consecutive positions) for one
 * head as matrix products, over the int8 cache: the head's keys as floats
 * once, then per group of 4 queries (quantised as attend_head does) the
 * scores as a float product. The products of int8 values summed over HS
 * <= ATTEND_GEMM_MAX_HS are integers below 2^24, exact in floats in any
 * order, so the scores, the softmax and the weighted values (axpy_i8_rows
 * per query, as attend_head) are those of one query at a time. */
#define ATTEND_GEMM_MAX_HS 1024

static void block_attend_heads(void *ctx, size_t j0, size_t j1, int thread)
{
    const BlockAttend *a = ctx;
    const Infer *m = a->m;
    const struct InferBlock *b = a->b;
    size_t C = m->cfg.dim, NH = m->cfg.n_heads, HS = C / NH, T = m->cfg.ctx;
    size_t Tp = (T + 15) / 16 * 16;
    float *keys = b->keys + (size_t)thread * HS * Tp, *scores = b->scores + (size_t)thread * 4 * Tp;
    float *qf = b->qf + (size_t)thread * 4 * HS;
    int8_t *qq = b->qq + (size_t)thread * b->qq_len;
    for (size_t job = j0; job < j1; job++) {
        size_t run = job / NH, h = job % NH, i0 = b->runs[run], i1 = b->runs[run + 1];
        const InferCache *kv = b->kvs[i0];
        if (i1 - i0 < 2) {
            for (size_t i = i0; i < i1; i++)
                attend_head(m, kv, a->l, h, (size_t)b->pos[i] + 1, b->q + i * C + h * HS, b->atty + i * C + h * HS,
                            b->att + (size_t)thread * T, b->dots + (size_t)thread * T, qq);
            continue;
        }
        /* np: n rounded up to whole tiles of 16 columns, zero keys past n */
        size_t r0 = (a->l * NH + h) * T, n = (size_t)b->pos[i1 - 1] + 1, np = (n + 15) / 16 * 16;
        const int8_t *kq = kv->kq.q + r0 * HS;
        for (size_t k = 0; k < HS; k++) {
            float *kk = keys + k * np;
            for (size_t t = 0; t < n; t++) kk[t] = (float)kq[t * HS + k];
            for (size_t t = n; t < np; t++) kk[t] = 0;
        }
        float qscale[4];
        for (size_t g = i0; g < i1; g += 4) {
            size_t gm = i1 - g < 4 ? i1 - g : 4, ng = ((size_t)b->pos[g + gm - 1] + 16) / 16 * 16;
            for (size_t i = 0; i < gm; i++) {
                act_quant_int8(b->q + (g + i) * C + h * HS, HS, qq, &qscale[i]);
                qscale[i] /= sqrtf((float)HS);
                for (size_t k = 0; k < HS; k++) qf[i * HS + k] = (float)qq[k];
            }
            memset(scores, 0, gm * ng * sizeof *scores);
            gemm_block(scores, ng, qf, HS, 1, keys, np, gm, HS, ng, 1.0f);
            size_t nmax = (size_t)b->pos[g + gm - 1] + 1;
            for (size_t i = 0; i < gm; i++) {
                size_t ni = (size_t)b->pos[g + i] + 1;
                float *att = scores + i * ng, *out = b->atty + (g + i) * C + h * HS;
                for (size_t t = 0; t < ni; t++) att[t] = att[t] * kv->kq.scale[r0 + t] * qscale[i];
                kern.softmax_f32(att, att, ni, NULL);
                for (size_t t = 0; t < ni; t++) att[t] *= kv->vq.scale[r0 + t];
                /* a later position adds a product of 0 to a sum that is
                 * never -0: the same sum */
                for (size_t t = ni; t < nmax; t++) att[t] = 0;
                memset(out, 0, HS * sizeof *out);
                if (gm < 4) kern.axpy_i8_rows(out, att, kv->vq.q + r0 * HS, HS, ni);
            }
            if (gm == 4) kern.axpy4_i8_rows(b->atty + g * C + h * HS, C, scores, ng, kv->vq.q + r0 * HS, HS, nmax);
        }
    }
}

/* B <= INFER_BLOCK rows, row i token tokens[i] at position b->pos[i] of
 * the cache b->kvs[i], after its positions before it (rows of one cache
 * at consecutive positions: a block of one sequence; or of several caches:
 * sequences in lockstep). want 0: no logits, 1: the last row's into
 * m->logits, 2: every row's into logits (B, V). rowwise: float products a
 * row at a time, as infer_forward computes them. */
static void forward_rows(Infer *m, const int *tokens, size_t B, int want, float *logits, int rowwise)
{
    const ModelConfig *c = &m->cfg;
    size_t C = c->dim, H = c->hidden, NH = c->n_heads, HS = C / NH;
    struct InferBlock *b = m->block;
    size_t span = 0;  /* attention work: the positions the rows attend to */
    for (size_t i = 0; i < B; i++) {
        if (m->exact)
            memcpy(b->x + i * C, m->tok_emb + (size_t)tokens[i] * C, C * sizeof(float));
        else
            q8_get_row(&m->emb_q, (size_t)tokens[i], b->x + i * C);
        span += (size_t)b->pos[i] + 1;
    }
    for (size_t l = 0; l < c->n_layers; l++) {
        const Linear *lin = m->lin + l * N_LIN;
        PROFILED(PROF_NORM, rmsnorm_forward(b->xn, b->rstd, b->x, m->attn_norm + l * C, B, C, RMSNORM_EPS));
        if (l + 1 == c->n_layers && want < 2) {
            /* Only the last layer's keys and values of the rows are needed
             * further on (no logits, or the last row's): those, then the
             * rest of the layer for the last row alone, as infer_forward
             * runs it. */
            float *const out[2] = {b->k, b->v};
            const Linear *const kv[2] = {&lin[LIN_K], &lin[LIN_V]};
            block_linear(m, out, kv, 2, b->xn, B, rowwise);
            PROFILED(PROF_ELEMENTWISE, rope_forward(b->k, b->pos, B, NH, HS, ROPE_THETA));
            for (size_t i = 0; i < B; i++) cache_store(m, b->kvs[i], l, (uint32_t)b->pos[i], b->k + i * C, b->v + i * C);
            if (want == 0) return;
            memcpy(m->x, b->x + (B - 1) * C, C * sizeof(float));
            layer_one(m, b->kvs[B - 1], l, (uint32_t)b->pos[B - 1], 1);
            float rstd;
            PROFILED(PROF_NORM, rmsnorm_forward(m->xn, &rstd, m->x, m->final_norm, 1, C, RMSNORM_EPS));
            head_one(m, m->xn, m->logits);
            return;
        }
        {
            float *const out[3] = {b->q, b->k, b->v};
            const Linear *const qkv[3] = {&lin[LIN_Q], &lin[LIN_K], &lin[LIN_V]};
            block_linear(m, out, qkv, 3, b->xn, B, rowwise);
        }
        PROFILED(PROF_ELEMENTWISE, rope_forward(b->q, b->pos, B, NH, HS, ROPE_THETA));
        PROFILED(PROF_ELEMENTWISE, rope_forward(b->k, b->pos, B, NH, HS, ROPE_THETA));
        double t0 = prof_begin();
        for (size_t i = 0; i < B; i++) cache_store(m, b->kvs[i], l, (uint32_t)b->pos[i], b->k + i * C, b->v + i * C);
        BlockAttend ba = {m, b, l};
        if (m->exact || HS > ATTEND_GEMM_MAX_HS) {
            parallel_for_min(B * NH, span * C, (size_t)1 << 16, block_attend_rows, &ba);
        } else {
            size_t runs = 0;
            for (size_t i = 0; i < B; i++)
                if (!i || b->kvs[i] != b->kvs[i - 1] || b->pos[i] != b->pos[i - 1] + 1) b->runs[runs++] = i;
            b->runs[runs] = B;
            parallel_for_min(runs * NH, span * C, (size_t)1 << 16, block_attend_heads, &ba);
        }
        prof_end(PROF_ATTENTION, t0);
        {
            float *const out[1] = {b->tmp};
            const Linear *const o[1] = {&lin[LIN_O]};
            block_linear(m, out, o, 1, b->atty, B, rowwise);
        }
        PROFILED(PROF_ELEMENTWISE, residual_forward(b->x, b->tmp, b->x, B * C));
        PROFILED(PROF_NORM, rmsnorm_forward(b->xn, b->rstd, b->x, m->ffn_norm + l * C, B, C, RMSNORM_EPS));
        /* the nonlinearities a row at a time, as infer_forward runs them
         * (a SIMD kernel's tail is then at the same place) */
        if (c->ffn_act == FFN_SWIGLU) {
            float *const out[2] = {b->up, b->gate};
            const Linear *const ug[2] = {&lin[LIN_UP], &lin[LIN_GATE]};
            block_linear(m, out, ug, 2, b->xn, B, rowwise);
            for (size_t i = 0; i < B; i++)
                PROFILED(PROF_ELEMENTWISE, swiglu_forward(b->act + i * H, b->gate + i * H, b->up + i * H, 1, H));
        } else {
            float *const out[1] = {b->up};
            const Linear *const up[1] = {&lin[LIN_UP]};
            block_linear(m, out, up, 1, b->xn, B, rowwise);
            for (size_t i = 0; i < B; i++) PROFILED(PROF_ELEMENTWISE, relu2_forward(b->act + i * H, b->up + i * H, 1, H));
        }
        {
            float *const out[1] = {b->tmp};
            const Linear *const down[1] = {&lin[LIN_DOWN]};
            block_linear(m, out, down, 1, b->act, B, rowwise);
        }
        PROFILED(PROF_ELEMENTWISE, residual_forward(b->x, b->tmp, b->x, B * C));
    }
    if (want == 2) {
        PROFILED(PROF_NORM, rmsnorm_forward(b->xn, b->rstd, b->x, m->final_norm, B, C, RMSNORM_EPS));
        if (m->exact) {
            PROFILED(PROF_MATMUL_FWD, float_rows(logits, b->xn, m->head, B, C, c->vocab, rowwise));
            return;
        }
        double t0 = prof_begin();
        for (size_t i = 0; i < B; i++) act_quant_int8(b->xn + i * C, C, b->xq + i * b->ldx, &b->xscale[i]);
        prof_end(PROF_QUANT, t0);
        PROFILED(PROF_MATMUL_FWD, q8_matmul(logits, &m->head_q, b->xq, b->ldx, b->xscale, B));
    }
}

/* infer_forward_block on a given cache */
static const float *forward_span(Infer *m, InferCache *kv, const int *tokens, size_t n, uint32_t pos, float *logits)
{
    if (!n) return NULL;
    size_t V = m->cfg.vocab;
    struct InferBlock *b = block_scratch(m);
    for (size_t at = 0; at < n; at += INFER_BLOCK) {
        size_t B = n - at < INFER_BLOCK ? n - at : INFER_BLOCK;
        int want = logits ? 2 : at + B == n ? 1 : 0;
        for (size_t i = 0; i < B; i++) {
            b->pos[i] = (int)(pos + at + i);
            b->kvs[i] = kv;
        }
        forward_rows(m, tokens + at, B, want, logits ? logits + at * V : NULL, 0);
    }
    return logits ? logits + (n - 1) * V : m->logits;
}

const float *infer_forward_block(Infer *m, const int *tokens, size_t n, uint32_t pos, float *logits)
{
    InferCache kv = model_cache(m);
    return forward_span(m, &kv, tokens, n, pos, logits);
}

/* ---- sessions --------------------------------------------------------- */

void session_init(Session *s, Infer *m)
{
    s->m = m;
    s->tokens = xmalloc(m->cfg.ctx * sizeof *s->tokens);
    s->n = 0;
    s->slides = 0;
    s->kv = NULL;
}

void session_init_cache(Session *s, Infer *m)
{
    session_init(s, m);
    s->kv = xmalloc(sizeof *s->kv);
    infer_cache_init(m, s->kv);
}

void session_free(Session *s)
{
    free(s->tokens);
    if (s->kv) infer_cache_free(s->kv);
    free(s->kv);
    memset(s, 0, sizeof *s);
}

void session_reset(Session *s) { s->n = 0; }

/* The session's cache: its own, or the model's (as a view in *view). */
static InferCache *cache_of(Session *s, InferCache *view)
{
    if (s->kv) return s->kv;
    *view = model_cache(s->m);
    return view;
}

/* Slide the full window: the newest ctx/2 tokens run again from position
 * 0, in blocks. */
static void slide(Session *s)
{
    uint32_t ctx = s->m->cfg.ctx, keep = ctx / 2;
    InferCache view;
    memmove(s->tokens, s->tokens + ctx - keep, keep * sizeof *s->tokens);
    forward_span(s->m, cache_of(s, &view), s->tokens, keep, 0, NULL);
    s->n = keep;
    s->slides++;
}

const float *session_feed_many(Session *s, const uint16_t *tokens, size_t n)
{
    uint32_t ctx = s->m->cfg.ctx, keep = ctx / 2;
    InferCache view, *kv = cache_of(s, &view);
    if (n == 0) return NULL;
    /* Where the window will stand after all n: count its length through
     * the slides without running the model. After a slide the cache is the
     * kept tokens run afresh from position 0, so if any slide happens the
     * end state is the final window run from scratch: tokens that slide
     * out before it (most of a long prompt) need not be run at all. */
    uint32_t len = s->n;
    uint64_t slides = 0;
    for (size_t i = 0; i < n; i++) {
        if (len == ctx) {
            len = keep;
            slides++;
        }
        len++;
    }
    if (!slides) {
        for (size_t i = 0; i < n; i++) s->tokens[s->n + i] = tokens[i];
        const float *logits = forward_span(s->m, kv, s->tokens + s->n, n, s->n, NULL);
        s->n += (uint32_t)n;
        return logits;
    }
    /* the final window: the last len tokens of the old window and the new */
    int *win = xmalloc(len * sizeof *win);
    for (uint32_t j = 0; j < len; j++) {
        uint64_t from_end = len - j;  /* 1 = the last new token */
        win[j] = from_end <= n ? (int)tokens[n - from_end] : s->tokens[s->n - (from_end - n)];
    }
    memcpy(s->tokens, win, len * sizeof *win);
    free(win);
    s->n = len;
    s->slides += slides;
    return forward_span(s->m, kv, s->tokens, len, 0, NULL);
}

void session_feed_all(Session *s, const uint16_t *tokens, size_t n, float *logits)
{
    uint32_t ctx = s->m->cfg.ctx;
    size_t V = s->m->cfg.vocab;
    InferCache view, *kv = cache_of(s, &view);
    for (size_t i = 0; i < n;) {
        if (s->n == ctx) slide(s);
        size_t k = n - i < ctx - s->n ? n - i : ctx - s->n;
        for (size_t j = 0; j < k; j++) s->tokens[s->n + j] = tokens[i + j];
        forward_span(s->m, kv, s->tokens + s->n, k, s->n, logits + i * V);
        s->n += (uint32_t)k;
        i += k;
    }
}

const float *session_feed(Session *s, int token)
{
    InferCache view, *kv = cache_of(s, &view);
    if (s->n == s->m->cfg.ctx) slide(s);
    s->tokens[s->n] = token;
    const float *logits = forward_one(s->m, kv, token, s->n);
    s->n++;
    return logits;
}

/* Fewer sequences than this run one after another: a step of the matrix
 * products unpacks every weight once for all of its rows, which pays for
 * itself from about 16 rows (dim 768) to 32 (dim 288, whose weights stay
 * in cache and whose mat-vecs are fast) on an AVX-512 machine. The logits
 * are the same either way. */
#define BATCH_MIN 24

void session_feed_batch(Session *const s[], const int *tokens, size_t n, float *logits)
{
    if (!n) return;
    Infer *m = s[0]->m;
    size_t V = m->cfg.vocab;
    if (n < BATCH_MIN) {
        for (size_t i = 0; i < n; i++) memcpy(logits + i * V, session_feed(s[i], tokens[i]), V * sizeof *logits);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (s[i]->n == m->cfg.ctx) slide(s[i]);
    struct InferBlock *b = block_scratch(m);
    InferCache view;  /* a session in the model's cache (at most one can be) */
    for (size_t at = 0; at < n; at += INFER_BLOCK) {
        size_t B = n - at < INFER_BLOCK ? n - at : INFER_BLOCK;
        for (size_t i = 0; i < B; i++) {
            Session *si = s[at + i];
            si->tokens[si->n] = tokens[at + i];
            b->pos[i] = (int)si->n;
            b->kvs[i] = cache_of(si, &view);
        }
        forward_rows(m, tokens + at, B, 2, logits + at * V, 1);
        for (size_t i = 0; i < B; i++) s[at + i]->n++;
    }
}

void session_feed_prompts(Session *const s[], const uint16_t *const tokens[], const size_t len[], size_t n,
                          float *logits)
{
    if (!n) return;
    Infer *m = s[0]->m;
    size_t V = m->cfg.vocab, ctx = m->cfg.ctx;
    InferCache *view = xmalloc(n * sizeof *view), **kv = xmalloc(n * sizeof *kv);
    float *rows = xmalloc((size_t)INFER_BLOCK * V * sizeof *rows);
    int *toks = xmalloc(INFER_BLOCK * sizeof *toks);
    size_t *last_of = xmalloc(INFER_BLOCK * sizeof *last_of);  /* the sequence a row ends, or n */
    uint8_t *alone = xcalloc(n, 1);
    struct InferBlock *b = block_scratch(m);
    for (size_t i = 0; i < n; i++) {
        kv[i] = cache_of(s[i], &view[i]);
        if (len[i] && s[i]->n + len[i] > ctx) {  /* a slide: alone, in the window it ends in */
            memcpy(logits + i * V, session_feed_many(s[i], tokens[i], len[i]), V * sizeof *logits);
            alone[i] = 1;
        }
    }
    size_t B = 0;
    for (size_t i = 0; i < n; i++) {
        if (!len[i] || alone[i]) continue;
        for (size_t j = 0; j < len[i]; j++) {
            s[i]->tokens[s[i]->n + j] = tokens[i][j];
            toks[B] = tokens[i][j];
            b->pos[B] = (int)(s[i]->n + j);
            b->kvs[B] = kv[i];
            last_of[B] = j + 1 == len[i] ? i : n;
            if (++B == INFER_BLOCK) {
                forward_rows(m, toks, B, 2, rows, 1);
                for (size_t r = 0; r < B; r++)
                    if (last_of[r] < n) memcpy(logits + last_of[r] * V, rows + r * V, V * sizeof *rows);
                B = 0;
            }
        }
        s[i]->n += (uint32_t)len[i];
    }
    if (B) {
        forward_rows(m, toks, B, 2, rows, 1);
        for (size_t r = 0; r < B; r++)
            if (last_of[r] < n) memcpy(logits + last_of[r] * V, rows + r * V, V * sizeof *rows);
    }
    free(view);
    free(kv);
    free(rows);
    free(toks);
    free(last_of);
    free(alone);
}
