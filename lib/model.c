#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"
#include "ternary.h"
#include "util.h"

const NameValue ffn_act_names[] = {{"swiglu", FFN_SWIGLU}, {"relu2", FFN_RELU2}, {NULL, 0}};

enum { LIN_Q, LIN_K, LIN_V, LIN_O, LIN_GATE, LIN_UP, LIN_DOWN, N_LIN };

int model_config_check(const ModelConfig *c)
{
    if (c->dim < 2 || c->dim > 16384) return l1b_error("dimension %u out of range (2..16384)", c->dim);
    if (c->n_layers < 1 || c->n_layers > 256) return l1b_error("layer count %u out of range (1..256)", c->n_layers);
    if (c->n_heads < 1 || c->dim % c->n_heads || (c->dim / c->n_heads) % 2)
        return l1b_error("%u heads do not split dimension %u into even head sizes", c->n_heads, c->dim);
    if (c->hidden < 1 || c->hidden > 65536) return l1b_error("hidden width %u out of range (1..65536)", c->hidden);
    if (c->ctx < 1 || c->ctx > 65536) return l1b_error("context %u out of range (1..65536)", c->ctx);
    if (c->vocab < 257 || c->vocab > 65536) return l1b_error("vocabulary %u out of range (257..65536)", c->vocab);
    if (c->ffn_act > FFN_RELU2) return l1b_error("unknown feed-forward activation %u", c->ffn_act);
    if (c->quant >= QUANT_COUNT) return l1b_error("unknown quantisation scheme %u", c->quant);
    /* parameters must be addressable even on 32-bit hosts */
    TensorInfo info[N_TENSORS];
    double n = 0;
    ModelConfig t = *c;
    (void)t;
    n = (double)c->vocab * c->dim * 2 + (double)c->n_layers * (4.0 * c->dim * c->dim + 3.0 * c->dim * c->hidden);
    if (n * 4 * sizeof(float) > (double)SIZE_MAX / 2) return l1b_error("model too large for this machine");
    (void)info;
    return 0;
}

uint32_t model_default_hidden(uint32_t dim, uint32_t ffn_act)
{
    if (ffn_act == FFN_RELU2) return 4 * dim;
    uint32_t h = (8 * dim + 2) / 3;
    return (h + 31) / 32 * 32;
}

uint32_t model_packing(const ModelConfig *c)
{
    return c->quant == QUANT_F32 ? 0 : c->quant == QUANT_SIGN ? PACK_SIGN : PACK_2BIT;
}

size_t model_tensor_table(const ModelConfig *c, TensorInfo info[N_TENSORS])
{
    uint32_t C = c->dim, H = c->hidden, L = c->n_layers, V = c->vocab;
    uint32_t gate_rows = c->ffn_act == FFN_SWIGLU ? H : 0;
    /* name, layers, rows, cols, ternary, decay */
    const TensorInfo t[N_TENSORS] = {
        {"tok_emb", 0, 1, V, C, 0, 0},
        {"attn_norm", 0, L, 1, C, 0, 0},
        {"wq", 0, L, C, C, 1, 1},
        {"wk", 0, L, C, C, 1, 1},
        {"wv", 0, L, C, C, 1, 1},
        {"wo", 0, L, C, C, 1, 1},
        {"ffn_norm", 0, L, 1, C, 0, 0},
        {"w_gate", 0, L, gate_rows, C, 1, 1},
        {"w_up", 0, L, H, C, 1, 1},
        {"w_down", 0, L, C, H, 1, 1},
        {"final_norm", 0, 1, 1, C, 0, 0},
        {"head", 0, 1, V, C, 0, 1},
    };
    size_t off = 0;
    for (int i = 0; i < N_TENSORS; i++) {
        info[i] = t[i];
        info[i].offset = off;
        off += (size_t)t[i].layers * t[i].rows * t[i].cols;
    }
    return off;
}

/* layers whose linear-layer inputs are stored (see model_init) */
static size_t layers_kept(const ModelConfig *c) { return c->quant == QUANT_F32 ? c->n_layers : 1; }

static void set_pointers(const Model *m, float *block, Tensors *out)
{
    for (int i = 0; i < N_TENSORS; i++) out->t[i] = block + m->info[i].offset;
}

void model_init(Model *m, const ModelConfig *c, size_t B)
{
    memset(m, 0, sizeof *m);
    m->cfg = *c;
    m->n_params = model_tensor_table(c, m->info);
    m->params = xcalloc(m->n_params, sizeof(float));
    set_pointers(m, m->params, &m->p);
    if (!B) return;
    /* training memory is all used every step: mapped now (util.h) */
    m->grads = xcalloc_touched(m->n_params, sizeof(float));
    m->m = xcalloc_touched(2 * m->n_params, sizeof(float));  /* v follows m: one ADAM section as it is */
    m->v = m->m + m->n_params;
    set_pointers(m, m->grads, &m->g);

    size_t C = c->dim, H = c->hidden, L = c->n_layers, V = c->vocab, T = c->ctx, NH = c->n_heads;
    size_t N = B * T;
    m->B = B;
    Activations *a = &m->a;
    /* one block for every float activation; sizes in floats */
    /* The inputs of the linear layers (xn1, xn2, atty, act) are needed by
     * the backward only in float mode: quantised layers keep their int8
     * copy instead, so one layer's worth of each serves every layer. */
    size_t LK = layers_kept(c);
    size_t sizes[] = {
        (L + 1) * N * C, L * N * C, LK * N * C, LK * N * C, L * N, L * N,
        L * N * C, L * N * C, L * N * C, L * B * NH * T * T, LK * N * C,
        L * N * H, L * N * H, LK * N * H, N * C, N, N * V, N,
        /* scratch: dx dxn dq dk dv datt datty dgate dup dact dlogits */
        N * C, N * C, N * C, N * C, N * C, B * NH * T * T, N * C, N * H, N * H, N * H, N * V,
    };
    float **ptrs[] = {
        &a->x, &a->xmid, &a->xn1, &a->xn2, &a->rstd1, &a->rstd2,
        &a->q, &a->k, &a->v, &a->att, &a->atty,
        &a->gate, &a->up, &a->act, &a->xf, &a->rstdf, &a->logits, &a->losses,
        &a->dx, &a->dxn, &a->dq, &a->dk, &a->dv, &a->datt, &a->datty, &a->dgate, &a->dup, &a->dact, &a->dlogits,
    };
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) total += sizes[i];
    float *mem = xcalloc_touched(total, sizeof(float));
    m->act_mem = mem;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        *ptrs[i] = mem;
        mem += sizes[i];
    }
    a->probs = a->logits;  /* the loss turns logits into probabilities in place */
    a->pos = xmalloc(N * sizeof *a->pos);

    /* BitLinear buffers: quantised weights, activations and their scales */
    a->bq = xcalloc(L * N_LIN, sizeof *a->bq);
    size_t wbytes = 0, xbytes = 0;
    for (size_t l = 0; l < L; l++)
        for (int k = 0; k < N_LIN; k++) {
            size_t in = k == LIN_DOWN ? H : C, out = k == LIN_GATE || k == LIN_UP ? H : C;
            wbytes += in * out;
            xbytes += N * in;
        }
    if (c->quant != QUANT_F32) {
        int8_t *w = m->wq_mem = xmalloc(wbytes + xbytes + 1);
        float *scales = xmalloc(L * N_LIN * N * sizeof *scales);
        for (size_t l = 0; l < L; l++)
            for (int k = 0; k < N_LIN; k++) {
                BitLinearQuant *q = &a->bq[l * N_LIN + k];
                size_t in = k == LIN_DOWN ? H : C, out = k == LIN_GATE || k == LIN_UP ? H : C;
                q->wq = w; w += in * out;
                q->xq = w; w += N * in;
                q->xscale = scales; scales += N;
            }
    }
}

void model_free(Model *m)
{
    free(m->params);
    free(m->grads);
    free(m->m);  /* v lives in the same block */
    free(m->act_mem);
    free(m->a.pos);
    if (m->a.bq) {
        if (m->wq_mem) free(m->a.bq[0].xscale);
        free(m->a.bq);
    }
    free(m->wq_mem);
    memset(m, 0, sizeof *m);
}

void model_init_weights(Model *m, Rng *rng)
{
    float out_scale = 1.0f / sqrtf(2.0f * (float)m->cfg.n_layers);
    for (int i = 0; i < N_TENSORS; i++) {
        const TensorInfo *t = &m->info[i];
        float *w = m->p.t[i];
        size_t n = (size_t)t->layers * t->rows * t->cols;
        int is_norm = t->rows == 1;
        float std = 0.02f * (i == T_WO || i == T_W_DOWN ? out_scale : 1.0f);
        for (size_t j = 0; j < n; j++) w[j] = is_norm ? 1.0f : std * rng_normal(rng);
    }
}

void model_zero_grads(Model *m) { memset(m->grads, 0, m->n_params * sizeof(float)); }

float *model_swap_grads(Model *m, float *block)
{
    float *old = m->grads;
    m->grads = block;
    set_pointers(m, block, &m->g);
    return old;
}

/* ---- forward ---------------------------------------------------------- */

static const float *layer_w(const Model *m, const Tensors *ts, int t, size_t l)
{
    const TensorInfo *i = &m->info[t];
    return ts->t[t] + l * (size_t)i->rows * i->cols;
}

static float *layer_g(Model *m, int t, size_t l)
{
    const TensorInfo *i = &m->info[t];
    return m->g.t[t] + l * (size_t)i->rows * i->cols;
}

float model_forward(Model *m, const int *inputs, const int *targets, size_t B, size_t T)
{
    const ModelConfig *c = &m->cfg;
    Activations *a = &m->a;
    size_t C = c->dim, H = c->hidden, L = c->n_layers, V = c->vocab, NH = c->n_heads, HS = C / NH;
    size_t N = B * T, Nmax = m->B * c->ctx, attmax = m->B * NH * c->ctx * c->ctx;
    QuantScheme qs = (QuantScheme)c->quant;
    for (size_t i = 0; i < N; i++) a->pos[i] = (int)(i % T);

    PROFILED(PROF_ELEMENTWISE, embedding_forward(a->x, inputs, m->p.t[T_TOK_EMB], N, C));
    for (size_t l = 0; l < L; l++) {
        float *x = a->x + l * Nmax * C, *xnext = a->x + (l + 1) * Nmax * C;
        size_t lk = layers_kept(c) > 1 ? l : 0;  /* the slot of the linear layers' inputs */
        float *xn1 = a->xn1 + lk * Nmax * C, *xn2 = a->xn2 + lk * Nmax * C, *xmid = a->xmid + l * Nmax * C;
        float *q = a->q + l * Nmax * C, *k = a->k + l * Nmax * C, *v = a->v + l * Nmax * C;
        float *atty = a->atty + lk * Nmax * C, *att = a->att + l * attmax;
        float *gate = a->gate + l * Nmax * H, *up = a->up + l * Nmax * H, *act = a->act + lk * Nmax * H;
        BitLinearQuant *bq = a->bq + l * N_LIN;
        for (int j = 0; j < N_LIN; j++)  /* a distinct rounding seed per tensor */
            bq[j].noise = m->quant_noise ? m->quant_noise * 0x9E3779B97F4A7C15ull + l * N_LIN + j + 1 : 0;

        PROFILED(PROF_NORM, rmsnorm_forward(xn1, a->rstd1 + l * Nmax, x, layer_w(m, &m->p, T_ATTN_NORM, l), N, C, RMSNORM_EPS));
        bitlinear_forward(q, xn1, layer_w(m, &m->p, T_WQ, l), N, C, C, qs, &bq[LIN_Q]);
        bitlinear_forward(k, xn1, layer_w(m, &m->p, T_WK, l), N, C, C, qs, &bq[LIN_K]);
        bitlinear_forward(v, xn1, layer_w(m, &m->p, T_WV, l), N, C, C, qs, &bq[LIN_V]);
        PROFILED(PROF_ELEMENTWISE, rope_forward(q, a->pos, N, NH, HS, ROPE_THETA));
        PROFILED(PROF_ELEMENTWISE, rope_forward(k, a->pos, N, NH, HS, ROPE_THETA));
        PROFILED(PROF_ATTENTION, attention_forward(atty, att, q, k, v, B, T, C, NH));
        bitlinear_forward(xmid, atty, layer_w(m, &m->p, T_WO, l), N, C, C, qs, &bq[LIN_O]);
        PROFILED(PROF_ELEMENTWISE, residual_forward(xmid, xmid, x, N * C));

        PROFILED(PROF_NORM, rmsnorm_forward(xn2, a->rstd2 + l * Nmax, xmid, layer_w(m, &m->p, T_FFN_NORM, l), N, C, RMSNORM_EPS));
        bitlinear_forward(up, xn2, layer_w(m, &m->p, T_W_UP, l), N, C, H, qs, &bq[LIN_UP]);
        if (c->ffn_act == FFN_SWIGLU) {
            bitlinear_forward(gate, xn2, layer_w(m, &m->p, T_W_GATE, l), N, C, H, qs, &bq[LIN_GATE]);
            PROFILED(PROF_ELEMENTWISE, swiglu_forward(act, gate, up, N, H));
        } else {
            PROFILED(PROF_ELEMENTWISE, relu2_forward(act, up, N, H));
        }
        bitlinear_forward(xnext, act, layer_w(m, &m->p, T_W_DOWN, l), N, H, C, qs, &bq[LIN_DOWN]);
        PROFILED(PROF_ELEMENTWISE, residual_forward(xnext, xnext, xmid, N * C));
    }
    PROFILED(PROF_NORM, rmsnorm_forward(a->xf, a->rstdf, a->x + L * Nmax * C, m->p.t[T_FINAL_NORM], N, C, RMSNORM_EPS));
    matmul_forward(a->logits, a->xf, m->p.t[T_HEAD], N, C, V);
    if (!targets) return 0;
    PROFILED(PROF_ELEMENTWISE, crossentropy_forward(a->losses, a->probs, a->logits, targets, N, V));
    double sum = 0;
    size_t n = 0;
    for (size_t i = 0; i < N; i++)
        if (targets[i] >= 0) sum += a->losses[i], n++;
    return n ? (float)(sum / (double)n) : 0.0f;
}

/* ---- backward --------------------------------------------------------- */

void model_backward(Model *m, const int *inputs, const int *targets, size_t B, size_t T, float loss_scale)
{
    const ModelConfig *c = &m->cfg;
    Activations *a = &m->a;
    size_t C = c->dim, H = c->hidden, L = c->n_layers, V = c->vocab, NH = c->n_heads, HS = C / NH;
    size_t N = B * T, Nmax = m->B * c->ctx, attmax = m->B * NH * c->ctx * c->ctx;
    QuantScheme qs = (QuantScheme)c->quant;
    size_t n_targets = 0;
    for (size_t i = 0; i < N; i++) n_targets += targets[i] >= 0;
    if (!n_targets) return;

    memset(a->dlogits, 0, N * V * sizeof(float));
    PROFILED(PROF_ELEMENTWISE, crossentropy_backward(a->dlogits, a->probs, targets, loss_scale / (float)n_targets, N, V));
    memset(a->dxn, 0, N * C * sizeof(float));
    matmul_backward(a->dxn, m->g.t[T_HEAD], a->dlogits, a->xf, m->p.t[T_HEAD], N, C, V);
    memset(a->dx, 0, N * C * sizeof(float));
    PROFILED(PROF_NORM, rmsnorm_backward(a->dx, m->g.t[T_FINAL_NORM], a->dxn, a->x + L * Nmax * C, m->p.t[T_FINAL_NORM],
                     a->rstdf, N, C));

    for (size_t l = L; l-- > 0;) {
        float *x = a->x + l * Nmax * C;
        size_t lk = layers_kept(c) > 1 ? l : 0;  /* the slot of the linear layers' inputs */
        float *xn1 = a->xn1 + lk * Nmax * C, *xn2 = a->xn2 + lk * Nmax * C, *xmid = a->xmid + l * Nmax * C;
        float *q = a->q + l * Nmax * C, *k = a->k + l * Nmax * C, *v = a->v + l * Nmax * C;
        float *atty = a->atty + lk * Nmax * C, *att = a->att + l * attmax;
        float *gate = a->gate + l * Nmax * H, *up = a->up + l * Nmax * H, *act = a->act + lk * Nmax * H;
        BitLinearQuant *bq = a->bq + l * N_LIN;

        /* feed-forward branch: dx is the gradient of the block's output */
        memset(a->dact, 0, N * H * sizeof(float));
        bitlinear_backward(a->dact, layer_g(m, T_W_DOWN, l), a->dx, act, layer_w(m, &m->p, T_W_DOWN, l),
                           N, H, C, qs, &bq[LIN_DOWN]);
        memset(a->dup, 0, N * H * sizeof(float));
        memset(a->dxn, 0, N * C * sizeof(float));
        if (c->ffn_act == FFN_SWIGLU) {
            memset(a->dgate, 0, N * H * sizeof(float));
            PROFILED(PROF_ELEMENTWISE, swiglu_backward(a->dgate, a->dup, a->dact, gate, up, N, H));
            bitlinear_backward(a->dxn, layer_g(m, T_W_GATE, l), a->dgate, xn2, layer_w(m, &m->p, T_W_GATE, l),
                               N, C, H, qs, &bq[LIN_GATE]);
        } else {
            PROFILED(PROF_ELEMENTWISE, relu2_backward(a->dup, a->dact, up, N, H));
        }
        bitlinear_backward(a->dxn, layer_g(m, T_W_UP, l), a->dup, xn2, layer_w(m, &m->p, T_W_UP, l),
                           N, C, H, qs, &bq[LIN_UP]);
        /* the residual passes dx through; the norm adds its part: dx is now
         * the gradient of xmid */
        PROFILED(PROF_NORM, rmsnorm_backward(a->dx, layer_g(m, T_FFN_NORM, l), a->dxn, xmid, layer_w(m, &m->p, T_FFN_NORM, l),
                         a->rstd2 + l * Nmax, N, C));

        /* attention branch */
        memset(a->datty, 0, N * C * sizeof(float));
        bitlinear_backward(a->datty, layer_g(m, T_WO, l), a->dx, atty, layer_w(m, &m->p, T_WO, l),
                           N, C, C, qs, &bq[LIN_O]);
        memset(a->dq, 0, N * C * sizeof(float));
        memset(a->dk, 0, N * C * sizeof(float));
        memset(a->dv, 0, N * C * sizeof(float));
        PROFILED(PROF_ATTENTION, attention_backward(a->dq, a->dk, a->dv, a->datt, a->datty, q, k, v, att, B, T, C, NH));
        PROFILED(PROF_ELEMENTWISE, rope_backward(a->dq, a->pos, N, NH, HS, ROPE_THETA));
        PROFILED(PROF_ELEMENTWISE, rope_backward(a->dk, a->pos, N, NH, HS, ROPE_THETA));
        memset(a->dxn, 0, N * C * sizeof(float));
        bitlinear_backward(a->dxn, layer_g(m, T_WQ, l), a->dq, xn1, layer_w(m, &m->p, T_WQ, l), N, C, C, qs, &bq[LIN_Q]);
        bitlinear_backward(a->dxn, layer_g(m, T_WK, l), a->dk, xn1, layer_w(m, &m->p, T_WK, l), N, C, C, qs, &bq[LIN_K]);
        bitlinear_backward(a->dxn, layer_g(m, T_WV, l), a->dv, xn1, layer_w(m, &m->p, T_WV, l), N, C, C, qs, &bq[LIN_V]);
        PROFILED(PROF_NORM, rmsnorm_backward(a->dx, layer_g(m, T_ATTN_NORM, l), a->dxn, x, layer_w(m, &m->p, T_ATTN_NORM, l),
                         a->rstd1 + l * Nmax, N, C));
    }
    PROFILED(PROF_ELEMENTWISE, embedding_backward(m->g.t[T_TOK_EMB], a->dx, inputs, N, C));
}

double model_zero_share(const Model *m)
{
    if (m->cfg.quant == QUANT_F32) return 0;
    size_t zeros = 0, total = 0, biggest = 0;
    for (int i = 0; i < N_TENSORS; i++)
        if (m->info[i].ternary) {
            size_t n = (size_t)m->info[i].rows * m->info[i].cols;
            if (n > biggest) biggest = n;
        }
    int8_t *q = xmalloc(biggest + 1);
    for (int i = 0; i < N_TENSORS; i++) {
        const TensorInfo *t = &m->info[i];
        if (!t->ternary) continue;
        size_t n = (size_t)t->rows * t->cols;
        for (size_t l = 0; l < t->layers; l++) {
            weight_quantise((QuantScheme)m->cfg.quant, m->p.t[i] + l * n, n, q);
            for (size_t j = 0; j < n; j++) zeros += q[j] == 0;
            total += n;
        }
    }
    free(q);
    return total ? (double)zeros / (double)total : 0;
}
