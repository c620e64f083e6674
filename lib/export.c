#include "export.h"

#include <stdlib.h>
#include <string.h>

#include "packed.h"
#include "util.h"

uint32_t llama2c_id(uint32_t id)
{
    return id == 1 ? TOK_EOD : id == TOK_EOD ? 1 : id;
}

static int put_i32(OutFile *f, int32_t v)
{
    uint8_t b[4];
    put32(b, (uint32_t)v);
    return outfile_write(f, b, 4);
}

/* n floats, little-endian (as run.c reads them on x86 and ARM); x NULL:
 * zeros */
static int put_f32s(OutFile *f, const float *x, size_t n)
{
    uint8_t b[4096];
    while (n) {
        size_t k = n < sizeof b / 4 ? n : sizeof b / 4;
        if (x)
            memcpy(b, x, 4 * k);
        else
            memset(b, 0, 4 * k);
        le32_inplace(b, k);
        if (outfile_write(f, b, 4 * k) < 0) return -1;
        if (x) x += k;
        n -= k;
    }
    return 0;
}

/* A (V,C) table with rows 1 and 256 traded. */
static int put_table(OutFile *f, const float *t, uint32_t V, size_t C)
{
    for (uint32_t r = 0; r < V; r++)
        if (put_f32s(f, t + (size_t)llama2c_id(r) * C, C) < 0) return -1;
    return 0;
}

/* A BitLinear tensor (L, rows, cols), dequantised one slice at a time. */
static int put_linear(OutFile *f, const PackedModel *pm, const TensorInfo *ti, int t, float *buf)
{
    size_t n = (size_t)ti->rows * ti->cols;
    for (uint32_t l = 0; l < ti->layers; l++) {
        const float *w = buf;
        if (pm->packed[t]) {
            const PackedTernary *p = &pm->packed[t][l];
            for (uint32_t r = 0; r < p->rows; r++)
                for (uint32_t c = 0; c < p->cols; c++)
                    buf[(size_t)r * p->cols + c] = (float)ternary_get(p, r, c) * p->scale;
        } else {
            w = pm->t[t] + l * n;
        }
        if (put_f32s(f, w, n) < 0) return -1;
    }
    return 0;
}

static int write_model(OutFile *f, const PackedModel *pm)
{
    const ModelConfig *c = &pm->cfg;
    TensorInfo info[N_TENSORS];
    model_tensor_table(c, info);
    size_t C = c->dim, HS = C / c->n_heads;
    int32_t head[7] = {(int32_t)c->dim, (int32_t)c->hidden, (int32_t)c->n_layers, (int32_t)c->n_heads,
                       (int32_t)c->n_heads, -(int32_t)c->vocab, (int32_t)c->ctx};
    for (int i = 0; i < 7; i++)
        if (put_i32(f, head[i]) < 0) return -1;
    float *buf = xmalloc(((size_t)c->hidden * C > C * C ? (size_t)c->hidden * C : C * C) * sizeof *buf);
    /* run.c's order; w1 is the gate, w3 the up projection */
    static const int order[] = {T_WQ, T_WK, T_WV, T_WO, -1, T_W_GATE, T_W_DOWN, T_W_UP};
    int rc = put_table(f, pm->t[T_TOK_EMB], c->vocab, C);
    if (rc == 0) rc = put_f32s(f, pm->t[T_ATTN_NORM], c->n_layers * C);
    for (size_t i = 0; rc == 0 && i < sizeof order / sizeof order[0]; i++)
        rc = order[i] < 0 ? put_f32s(f, pm->t[T_FFN_NORM], c->n_layers * C)
                          : put_linear(f, pm, &info[order[i]], order[i], buf);
    if (rc == 0) rc = put_f32s(f, pm->t[T_FINAL_NORM], C);
    if (rc == 0) rc = put_f32s(f, NULL, 2 * ((size_t)c->ctx * HS / 2));
    if (rc == 0) rc = put_table(f, pm->t[T_HEAD], c->vocab, C);
    free(buf);
    return rc;
}

static int write_tokenizer(OutFile *f, const uint8_t *rec, size_t rec_size, const char *path)
{
    Tokenizer tok;
    if (tok_record_read(&tok, rec, rec_size, path) < 0) return -1;
    static const char eod[] = "<eod>";
    size_t max_len = sizeof eod - 1;
    for (uint32_t id = 0; id < tok.n_vocab; id++) {
        size_t len;
        tok_bytes(&tok, id, &len);
        if (len > max_len) max_len = len;
    }
    int rc = put_i32(f, (int32_t)max_len);
    for (uint32_t i = 0; rc == 0 && i < tok.n_vocab; i++) {
        uint32_t id = llama2c_id(i);
        size_t len = sizeof eod - 1;
        const uint8_t *b = (const uint8_t *)eod;
        if (id != TOK_EOD) b = tok_bytes(&tok, id, &len);
        float score = id >= TOK_FIRST_MERGE ? -(float)(id - TOK_FIRST_MERGE) : 0.0f;
        rc = put_f32s(f, &score, 1);
        if (rc == 0) rc = put_i32(f, (int32_t)len);
        if (rc == 0) rc = outfile_write(f, b, len);
    }
    tok_free(&tok);
    return rc;
}

int export_llama2c(const char *path, const char *model_out, const char *tok_out)
{
    PackedModel pm;
    if (packed_model_read(path, &pm, NULL, NULL, PACKED_STORED_TABLES) < 0) return -1;
    packed_model_set_tables(&pm, TABLES_F32);  /* int8 tables dequantised */
    if (pm.cfg.ffn_act != FFN_SWIGLU) {
        packed_model_free(&pm);
        return l1b_error("%s: llama2.c's run.c has only a SwiGLU feed-forward; this model uses squared ReLU "
                         "(--ffn-act relu2) and cannot be exported", path);
    }
    OutFile mf, tf;
    int rc = outfile_open(&mf, model_out), tok_open = 0;
    if (rc == 0 && tok_out) {
        rc = outfile_open(&tf, tok_out);
        tok_open = rc == 0;
        if (rc < 0) outfile_abort(&mf);
    }
    if (rc == 0) {
        rc = write_model(&mf, &pm);
        if (rc == 0 && tok_out) rc = write_tokenizer(&tf, pm.tok_record, pm.tok_record_size, path);
        if (rc == 0) rc = outfile_commit(&mf);
        else outfile_abort(&mf);
        if (tok_open) {
            if (rc == 0) rc = outfile_commit(&tf);
            else outfile_abort(&tf);
        }
    }
    packed_model_free(&pm);
    return rc;
}
