/* export --format llama2c: an independent reader of llama2.c's checkpoint
 * and tokenizer.bin layouts, and a float forward written the way run.c
 * computes (float sums, powf/cosf/sinf rotary angles, score / sqrtf(HS)),
 * against l1b's own generation path */
#include <stdlib.h>
#include <unistd.h>

#include "export.h"
#include "helpers.h"
#include "infer.h"
#include "model.h"
#include "packed.h"
#include "sampler.h"
#include "test.h"
#include "util.h"

static char *make_model(Model *m, uint32_t quant, uint32_t ffn, uint64_t seed)
{
    ModelConfig c = {16, 2, 2, 40, 12, 257, ffn, quant};
    Tokenizer tok;
    uint16_t merges[] = {'h', 'e', 'l', 'l', 257, 258};
    tok_init_bpe(&tok, merges, 3, "test");
    c.vocab = tok.n_vocab;
    model_init(m, &c, 1);
    Rng r;
    rng_seed(&r, seed);
    model_init_weights(m, &r);
    for (size_t i = 0; i < m->n_params; i++) m->params[i] += 0.3f * rng_normal(&r);
    uint8_t rec[TOK_RECORD_FIXED + 12];
    tok_record_write(&tok, rec);
    tok_free(&tok);
    Checkpoint ck = ckpt_of_model(m, rec, sizeof rec);
    char *path = temp_file_with("", 0);
    plausible_train_state(&ck.st);
    if (ckpt_write(path, &ck) < 0) FAIL_AT("%s", l1b_last_error());
    return path;
}

/* ---- the llama2.c checkpoint, read by its layout --------------------------- */

typedef struct {
    int dim, hidden, layers, heads, kv_heads, vocab, seq_len, shared;
    float *all;
    const float *emb, *rms_att, *wq, *wk, *wv, *wo, *rms_ffn, *w1, *w2, *w3, *rms_final, *wcls;
    size_t n_floats;
} L2c;

static int l2c_read(L2c *w, const char *path)
{
    size_t n;
    unsigned char *b = slurp(path, &n);
    if (!b || n < 28 || (n - 28) % 4) return -1;
    int32_t h[7];
    for (int i = 0; i < 7; i++) h[i] = (int32_t)le32(b + 4 * i);
    w->dim = h[0], w->hidden = h[1], w->layers = h[2], w->heads = h[3], w->kv_heads = h[4];
    w->shared = h[5] > 0;
    w->vocab = abs(h[5]);
    w->seq_len = h[6];
    w->n_floats = (n - 28) / 4;
    w->all = xmalloc(w->n_floats * sizeof(float));
    for (size_t i = 0; i < w->n_floats; i++) {
        uint32_t u = le32(b + 28 + 4 * i);
        memcpy(&w->all[i], &u, 4);
    }
    free(b);
    size_t C = (size_t)w->dim, H = (size_t)w->hidden, L = (size_t)w->layers, V = (size_t)w->vocab,
           HS = C / (size_t)w->heads;
    const float *p = w->all;
    w->emb = p, p += V * C;
    w->rms_att = p, p += L * C;
    w->wq = p, p += L * C * C;
    w->wk = p, p += L * C * C;
    w->wv = p, p += L * C * C;
    w->wo = p, p += L * C * C;
    w->rms_ffn = p, p += L * C;
    w->w1 = p, p += L * H * C;
    w->w2 = p, p += L * C * H;
    w->w3 = p, p += L * H * C;
    w->rms_final = p, p += C;
    p += (size_t)w->seq_len * HS / 2;  /* freq_cis_real, skipped by run.c */
    p += (size_t)w->seq_len * HS / 2;  /* freq_cis_imag */
    w->wcls = w->shared ? w->emb : p;
    if (!w->shared) p += V * C;
    return (size_t)(p - w->all) == w->n_floats ? 0 : -1;
}

/* ---- run.c's arithmetic, for one token with a KV cache --------------------- */

static void rms(float *o, const float *x, const float *w, int n)
{
    float ss = 0;
    for (int j = 0; j < n; j++) ss += x[j] * x[j];
    ss /= n;
    ss += 1e-5f;
    ss = 1.0f / sqrtf(ss);
    for (int j = 0; j < n; j++) o[j] = w[j] * (ss * x[j]);
}

static void mat(float *out, const float *x, const float *w, int n, int d)
{
    for (int i = 0; i < d; i++) {
        float v = 0;
        for (int j = 0; j < n; j++) v += w[(size_t)i * n + j] * x[j];
        out[i] = v;
    }
}

static void soft(float *x, int n)
{
    float mx = x[0], sum = 0;
    for (int i = 1; i < n; i++) if (x[i] > mx) mx = x[i];
    for (int i = 0; i < n; i++) sum += x[i] = expf(x[i] - mx);
    for (int i = 0; i < n; i++) x[i] /= sum;
}

typedef struct {
    float x[16], xb[16], xb2[16], hb[40], hb2[40], q[16], k[16], v[16], att[12], logits[300];
    float kc[2][12][16], vc[2][12][16];
} L2cState;

static void l2c_forward(const L2c *w, L2cState *s, int token, int pos)
{
    int C = w->dim, H = w->hidden, HS = C / w->heads;
    memcpy(s->x, w->emb + (size_t)token * C, C * sizeof(float));
    for (int l = 0; l < w->layers; l++) {
        rms(s->xb, s->x, w->rms_att + l * C, C);
        mat(s->q, s->xb, w->wq + (size_t)l * C * C, C, C);
        mat(s->k, s->xb, w->wk + (size_t)l * C * C, C, C);
        mat(s->v, s->xb, w->wv + (size_t)l * C * C, C, C);
        for (int i = 0; i < C; i += 2) {
            float freq = 1.0f / powf(10000.0f, (float)(i % HS) / (float)HS);
            float val = pos * freq, fcr = cosf(val), fci = sinf(val);
            float *vecs[2] = {s->q, s->k};
            for (int t = 0; t < 2; t++) {
                float v0 = vecs[t][i], v1 = vecs[t][i + 1];
                vecs[t][i] = v0 * fcr - v1 * fci;
                vecs[t][i + 1] = v0 * fci + v1 * fcr;
            }
        }
        memcpy(s->kc[l][pos], s->k, C * sizeof(float));
        memcpy(s->vc[l][pos], s->v, C * sizeof(float));
        for (int h = 0; h < w->heads; h++) {
            for (int t = 0; t <= pos; t++) {
                float score = 0;
                for (int i = 0; i < HS; i++) score += s->q[h * HS + i] * s->kc[l][t][h * HS + i];
                s->att[t] = score / sqrtf((float)HS);
            }
            soft(s->att, pos + 1);
            for (int i = 0; i < HS; i++) {
                float acc = 0;
                for (int t = 0; t <= pos; t++) acc += s->att[t] * s->vc[l][t][h * HS + i];
                s->xb[h * HS + i] = acc;
            }
        }
        mat(s->xb2, s->xb, w->wo + (size_t)l * C * C, C, C);
        for (int i = 0; i < C; i++) s->x[i] += s->xb2[i];
        rms(s->xb, s->x, w->rms_ffn + l * C, C);
        mat(s->hb, s->xb, w->w1 + (size_t)l * C * H, C, H);
        mat(s->hb2, s->xb, w->w3 + (size_t)l * C * H, C, H);
        for (int i = 0; i < H; i++) s->hb[i] = s->hb[i] * (1.0f / (1.0f + expf(-s->hb[i]))) * s->hb2[i];
        mat(s->xb, s->hb, w->w2 + (size_t)l * C * H, H, C);
        for (int i = 0; i < C; i++) s->x[i] += s->xb[i];
    }
    rms(s->x, s->x, w->rms_final, C);
    mat(s->logits, s->x, w->wcls, C, w->vocab);
}

/* ---- tests ---------------------------------------------------------------- */

TEST(export_llama2c_greedy_tokens_equal_l1b_for_a_float_model)
{
    Model m;
    char *path = make_model(&m, QUANT_F32, FFN_SWIGLU, 31);
    char *out = temp_file_with("", 0);
    CHECK_EQ(export_llama2c(path, out, NULL), 0);
    L2c w;
    CHECK_EQ(l2c_read(&w, out), 0);
    CHECK(w.dim == 16 && w.hidden == 40 && w.layers == 2 && w.heads == 2 && w.kv_heads == 2);
    CHECK(w.vocab == 260 && !w.shared && w.seq_len == 12);
    Infer inf;
    CHECK_EQ(infer_read(&inf, path, INFER_EXACT), 0);
    L2cState *s = xcalloc(1, sizeof *s);
    /* l1b-sample's protocol: <eod>, the prompt, then the most likely token;
     * in llama2.c ids <eod> is 1, run.c's BOS */
    int prompt[] = {256, 'h', 'e', 'l', 'l', 'o'}, token = prompt[0];
    int same = 0;
    double worst = 0;
    for (int pos = 0; pos < 12; pos++) {
        const float *a = infer_forward(&inf, token, (uint32_t)pos);
        l2c_forward(&w, s, (int)llama2c_id((uint32_t)token), pos);
        for (uint32_t v = 0; v < 260; v++) {
            double d = fabs(a[v] - s->logits[llama2c_id(v)]);
            if (d > worst) worst = d;
        }
        uint32_t next = argmax(a, 260), next2 = llama2c_id(argmax(s->logits, 260));
        CHECK_EQ(next, next2);
        same += next == next2;
        token = pos + 1 < 6 ? prompt[pos + 1] : (int)next;
    }
    CHECK_EQ(same, 12);
    CHECK(worst < 1e-4);  /* float rounding only */
    free(s);
    free(w.all);
    infer_free(&inf);
    model_free(&m);
    unlink(path);
    unlink(out);
    free(path);
    free(out);
}

TEST(export_llama2c_tensors_are_the_dequantised_ternary_weights)
{
    Model m;
    char *path = make_model(&m, QUANT_ABSMEAN, FFN_SWIGLU, 32);
    char *out = temp_file_with("", 0), *tok = temp_file_with("", 0);
    CHECK_EQ(export_llama2c(path, out, tok), 0);
    L2c w;
    CHECK_EQ(l2c_read(&w, out), 0);
    PackedModel pm;
    CHECK_EQ(packed_model_read(path, &pm, NULL, NULL, 0), 0);
    const size_t C = 16, H = 40, L = 2, V = 260;
    /* tables with ids 1 and 256 traded */
    for (size_t r = 0; r < V; r++) {
        CHECK(!memcmp(w.emb + r * C, m.params + llama2c_id((uint32_t)r) * C, C * sizeof(float)));
        CHECK(!memcmp(w.wcls + r * C, pm.t[T_HEAD] + llama2c_id((uint32_t)r) * C, C * sizeof(float)));
    }
    CHECK(!memcmp(w.emb + 256 * C, m.params + 1 * C, C * sizeof(float)));
    CHECK(!memcmp(w.rms_att, pm.t[T_ATTN_NORM], L * C * sizeof(float)));
    CHECK(!memcmp(w.rms_ffn, pm.t[T_FFN_NORM], L * C * sizeof(float)));
    CHECK(!memcmp(w.rms_final, pm.t[T_FINAL_NORM], C * sizeof(float)));
    struct { const float *got; int t; size_t rows, cols; } lin[] = {
        {w.wq, T_WQ, C, C}, {w.wk, T_WK, C, C}, {w.wv, T_WV, C, C}, {w.wo, T_WO, C, C},
        {w.w1, T_W_GATE, H, C}, {w.w2, T_W_DOWN, C, H}, {w.w3, T_W_UP, H, C},
    };
    size_t bad = 0;
    for (size_t k = 0; k < 7; k++)
        for (size_t l = 0; l < L; l++) {
            const PackedTernary *p = &pm.packed[lin[k].t][l];
            for (size_t r = 0; r < lin[k].rows; r++)
                for (size_t c = 0; c < lin[k].cols; c++) {
                    float want = (float)ternary_get(p, (uint32_t)r, (uint32_t)c) * p->scale;
                    bad += lin[k].got[(l * lin[k].rows + r) * lin[k].cols + c] != want;
                }
        }
    CHECK_EQ(bad, 0);
    /* the skipped rotary tables are zeros */
    for (const float *z = w.rms_final + C; z < w.wcls; z++) CHECK(*z == 0);

    /* tokenizer.bin: max length, then score, length, bytes per id */
    size_t n;
    unsigned char *b = slurp(tok, &n), *p = b + 4, *end = b + n;
    CHECK_EQ(le32(b), 5);  /* "<eod>" is longer than any token ("hell", 4 bytes) */
    uint32_t id = 0;
    for (; p + 8 <= end && id < V; id++) {
        float score;
        uint32_t u = le32(p), len = le32(p + 4);
        memcpy(&score, &u, 4);
        const unsigned char *bytes = p + 8;
        uint32_t l1b = llama2c_id(id);
        if (l1b == 256) CHECK(len == 5 && !memcmp(bytes, "<eod>", 5));
        else if (l1b < 256) CHECK(len == 1 && bytes[0] == l1b);
        if (l1b == 'A') CHECK(score == 0);
        if (l1b == 257) CHECK(score == 0 && len == 2 && !memcmp(bytes, "he", 2));
        if (l1b == 259) CHECK(score == -2 && len == 4 && !memcmp(bytes, "hell", 4));
        if (l1b == 1) CHECK_EQ(id, 256);
        p += 8 + len;
    }
    CHECK_EQ(id, V);
    CHECK(p == end);
    free(b);
    packed_model_free(&pm);
    free(w.all);
    model_free(&m);
    unlink(path);
    unlink(out);
    unlink(tok);
    free(path);
    free(out);
    free(tok);
}

TEST(export_llama2c_refuses_squared_relu)
{
    Model m;
    char *path = make_model(&m, QUANT_ABSMEAN, FFN_RELU2, 33);
    char *out = temp_file_with("old", 3);
    CHECK_EQ(export_llama2c(path, out, NULL), -1);
    CHECK_ERR("only a SwiGLU feed-forward");
    size_t n;
    free(slurp(out, &n));
    CHECK_EQ(n, 3);  /* untouched */
    model_free(&m);
    unlink(path);
    unlink(out);
    free(path);
    free(out);
}
