#include "infer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "packed.h"
#include "kernels.h"
#include "layers.h"
#include "profile.h"
#include "util.h"

enum { LIN_Q, LIN_K, LIN_V, LIN_O, LIN_GATE, LIN_UP, LIN_DOWN, N_LIN };
static const int lin_tensor[N_LIN] = {T_WQ, T_WK, T_WV, T_WO, T_W_GATE, T_W_UP, T_W_DOWN};

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

/* Layer l's keys and values for position pos, from m->k and m->v. The
 * int8 cache keeps each (layer, head)'s positions together: row
 * ((l * NH + h) * ctx + t), so attention reads consecutive rows. */
static void cache_store(Infer *m, size_t l, uint32_t pos)
{
    size_t C = m->cfg.dim, T = m->cfg.ctx, NH = m->cfg.n_heads, HS = C / NH;
    if (m->exact) {
        memcpy(m->kc + (l * T + pos) * C, m->k, C * sizeof(float));
        memcpy(m->vc + (l * T + pos) * C, m->v, C * sizeof(float));
        return;
    }
    for (size_t h = 0; h < NH; h++) {
        q8_set_row(&m->kq, (l * NH + h) * T + pos, m->k + h * HS);
        q8_set_row(&m->vq, (l * NH + h) * T + pos, m->v + h * HS);
    }
}

/* m->atty = attention of m->q over layer l's cache positions 0..pos. The
 * int8 cache does what attention_query does with one scale per stored
 * row, and the query quantised to int8 as well: scores
 * q.k[t] * qscale * kscale[t] / sqrt(HS) from exact integer dot products,
 * softmax, then the sum of att[t] * vscale[t] * v[t]. */
static void cache_attend(Infer *m, size_t l, uint32_t pos)
{
    size_t C = m->cfg.dim, T = m->cfg.ctx, NH = m->cfg.n_heads, HS = C / NH, n = pos + 1;
    if (m->exact) {
        for (size_t h = 0; h < NH; h++)
            attention_query(m->atty + h * HS, m->att, m->q + h * HS, m->kc + l * T * C + h * HS,
                            m->vc + l * T * C + h * HS, n, C, HS);
        return;
    }
    float *att = m->att;
    int32_t *dots = m->acc;  /* free between the linear layers; >= ctx */
    for (size_t h = 0; h < NH; h++) {
        size_t r0 = (l * NH + h) * T;
        float qscale, *out = m->atty + h * HS;
        act_quant_int8(m->q + h * HS, HS, m->xq, &qscale);
        qscale /= sqrtf((float)HS);
        kern.dot_i8_rows(dots, m->xq, m->kq.q + r0 * HS, HS, n);
        for (size_t t = 0; t < n; t++) att[t] = (float)dots[t] * m->kq.scale[r0 + t] * qscale;
        kern.softmax_f32(att, att, n, NULL);
        for (size_t t = 0; t < n; t++) att[t] *= m->vq.scale[r0 + t];
        memset(out, 0, HS * sizeof *out);
        kern.axpy_i8_rows(out, att, m->vq.q + r0 * HS, HS, n);
    }
}

const float *infer_forward(Infer *m, int token, uint32_t pos)
{
    const ModelConfig *c = &m->cfg;
    size_t C = c->dim, H = c->hidden, NH = c->n_heads, HS = C / NH;
    int p = (int)pos;
    if (m->exact)
        memcpy(m->x, m->tok_emb + (size_t)token * C, C * sizeof(float));
    else
        q8_get_row(&m->emb_q, (size_t)token, m->x);
    for (size_t l = 0; l < c->n_layers; l++) {
        const Linear *lin = m->lin + l * N_LIN;
        float rstd;
        PROFILED(PROF_NORM, rmsnorm_forward(m->xn, &rstd, m->x, m->attn_norm + l * C, 1, C, RMSNORM_EPS));
        {
            float *const out[3] = {m->q, m->k, m->v};
            const Linear *const qkv[3] = {&lin[LIN_Q], &lin[LIN_K], &lin[LIN_V]};
            linear_many(m, out, qkv, 3, m->xn);
        }
        PROFILED(PROF_ELEMENTWISE, rope_forward(m->q, &p, 1, NH, HS, ROPE_THETA));
        PROFILED(PROF_ELEMENTWISE, rope_forward(m->k, &p, 1, NH, HS, ROPE_THETA));
        double t0 = prof_begin();
        cache_store(m, l, pos);
        cache_attend(m, l, pos);
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
    float rstd;
    PROFILED(PROF_NORM, rmsnorm_forward(m->xn, &rstd, m->x, m->final_norm, 1, C, RMSNORM_EPS));
    if (m->exact) {
        matmul_forward(m->logits, m->xn, m->head, 1, C, c->vocab);
        return m->logits;
    }
    float xscale;
    PROFILED(PROF_QUANT, act_quant_int8(m->xn, C, m->xq, &xscale));
    PROFILED(PROF_MATMUL_FWD, q8_matvec(m->logits, &m->head_q, m->xq, xscale));
    return m->logits;
}

/* ---- sessions --------------------------------------------------------- */

void session_init(Session *s, Infer *m)
{
    s->m = m;
    s->tokens = xmalloc(m->cfg.ctx * sizeof *s->tokens);
    s->n = 0;
    s->slides = 0;
}

void session_free(Session *s)
{
    free(s->tokens);
    memset(s, 0, sizeof *s);
}

void session_reset(Session *s) { s->n = 0; }

const float *session_feed_many(Session *s, const uint16_t *tokens, size_t n)
{
    uint32_t ctx = s->m->cfg.ctx, keep = ctx / 2;
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
        const float *logits = NULL;
        for (size_t i = 0; i < n; i++) logits = session_feed(s, tokens[i]);
        return logits;
    }
    /* the final window: the last len tokens of the old window and the new */
    int *win = xmalloc(len * sizeof *win);
    for (uint32_t j = 0; j < len; j++) {
        uint64_t from_end = len - j;  /* 1 = the last new token */
        win[j] = from_end <= n ? (int)tokens[n - from_end] : s->tokens[s->n - (from_end - n)];
    }
    const float *logits = NULL;
    for (uint32_t j = 0; j < len; j++) {
        s->tokens[j] = win[j];
        logits = infer_forward(s->m, win[j], j);
    }
    s->n = len;
    s->slides += slides;
    free(win);
    return logits;
}

const float *session_feed(Session *s, int token)
{
    uint32_t ctx = s->m->cfg.ctx;
    if (s->n == ctx) {
        uint32_t keep = ctx / 2;
        memmove(s->tokens, s->tokens + ctx - keep, keep * sizeof *s->tokens);
        for (uint32_t i = 0; i < keep; i++) infer_forward(s->m, s->tokens[i], i);
        s->n = keep;
        s->slides++;
    }
    s->tokens[s->n] = token;
    const float *logits = infer_forward(s->m, token, s->n);
    s->n++;
    return logits;
}
