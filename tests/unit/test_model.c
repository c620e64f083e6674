/* the whole model: gradients against finite differences, and checkpoints */
#include <stdlib.h>
#include <unistd.h>

#include "ckpt.h"
#include "helpers.h"
#include "model.h"
#include "optim.h"
#include "test.h"
#include "util.h"

static ModelConfig tiny(uint32_t quant, uint32_t ffn)
{
    ModelConfig c = {8, 2, 2, 12, 5, 257, ffn, quant};
    return c;
}

/* loss of a fixed batch, in double for the finite differences */
static const int inputs[2 * 5] = {1, 7, 3, 256, 40, 9, 9, 2, 100, 5};
static const int targets[2 * 5] = {7, 3, -1, 40, 2, 9, 2, 100, 5, 77};

static double loss_of(Model *m) { return model_forward(m, inputs, targets, 2, 5); }

/* Central differences on a spread of entries of every tensor. The forward
 * is float32 (loss error ~1e-6), so step 1e-2 resolves gradients to ~3e-4:
 * tolerance 5e-4 absolute + 3% relative. */
static void check_model_gradients(uint32_t quant, uint32_t ffn, int only_after_quant)
{
    ModelConfig c = tiny(quant, ffn);
    Model m;
    model_init(&m, &c, 2);
    Rng r;
    rng_seed(&r, 42);
    model_init_weights(&m, &r);
    /* well away from init, so attention is sharp and every gradient is large
     * enough for float32 finite differences to resolve */
    for (size_t i = 0; i < m.n_params; i++) m.params[i] += 0.4f * rng_normal(&r);
    model_zero_grads(&m);
    loss_of(&m);
    model_backward(&m, inputs, targets, 2, 5, 1.0f);
    int checked = 0, bad = 0;
    for (int t = 0; t < N_TENSORS; t++) {
        if (only_after_quant && t != T_HEAD && t != T_FINAL_NORM) continue;
        size_t n = (size_t)m.info[t].layers * m.info[t].rows * m.info[t].cols;
        for (size_t j = 0; j < n; j += n / 7 + 1) {
            float *w = m.p.t[t] + j, keep = *w, h = 1e-2f;
            *w = keep + h;
            double up = loss_of(&m);
            *w = keep - h;
            double down = loss_of(&m);
            *w = keep;
            double fd = (up - down) / (2 * h), an = m.g.t[t][j];
            checked++;
            if (fabs(fd - an) > 5e-4 + 0.03 * fabs(fd)) {
                if (bad++ < 5) FAIL_AT("%s[%zu]: analytic %.6f, finite difference %.6f", m.info[t].name, j, an, fd);
            }
        }
    }
    CHECK(checked > (only_after_quant ? 10 : 60));
    model_free(&m);
}

TEST(model_gradients_match_finite_differences_f32_swiglu) { check_model_gradients(QUANT_F32, FFN_SWIGLU, 0); }
TEST(model_gradients_match_finite_differences_f32_relu2) { check_model_gradients(QUANT_F32, FFN_RELU2, 0); }
/* Through the straight-through estimator the quantised layers have no true
 * derivative to compare with (layers.c's tests pin their STE formulas), but
 * the float tensors after the last quantised layer do. */
TEST(model_gradients_after_ternary_layers_match_finite_differences) { check_model_gradients(QUANT_ABSMEAN, FFN_SWIGLU, 1); }

TEST(model_ternary_gradients_reach_every_tensor)
{
    ModelConfig c = tiny(QUANT_ABSMEAN, FFN_SWIGLU);
    Model m;
    model_init(&m, &c, 2);
    Rng r;
    rng_seed(&r, 1);
    model_init_weights(&m, &r);
    model_zero_grads(&m);
    loss_of(&m);
    model_backward(&m, inputs, targets, 2, 5, 1.0f);
    for (int t = 0; t < N_TENSORS; t++) {
        size_t n = (size_t)m.info[t].layers * m.info[t].rows * m.info[t].cols;
        double s = 0;
        for (size_t j = 0; j < n; j++) s += fabs(m.g.t[t][j]);
        if (!(s > 0 && isfinite(s))) FAIL_AT("tensor %s: gradient sum %g", m.info[t].name, s);
    }
    model_free(&m);
}

TEST(model_parameter_count_and_default_hidden)
{
    CHECK_EQ(model_default_hidden(128, FFN_SWIGLU), 352);
    CHECK_EQ(model_default_hidden(128, FFN_RELU2), 512);
    ModelConfig c = {128, 4, 4, 352, 64, 257, FFN_SWIGLU, QUANT_ABSMEAN};
    TensorInfo info[N_TENSORS];
    /* 2 x 257 x 128 (embedding, head) + 4 x (4 x 128^2 + 3 x 128 x 352 + 2 x 128) + 128 */
    CHECK_EQ(model_tensor_table(&c, info), 2 * 257 * 128 + 4 * (4 * 128 * 128 + 3 * 128 * 352 + 2 * 128) + 128);
    ModelConfig bad = c;
    bad.n_heads = 3;
    CHECK_EQ(model_config_check(&bad), -1);
    CHECK_ERR("3 heads do not split dimension 128");
}

TEST(lr_schedule_warmup_then_cosine)
{
    OptimConfig o = {1e-3f, 1e-4f, 10, 110, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f};
    CHECK_NEAR(lr_at(&o, 0), 1e-4, 1e-9);
    CHECK_NEAR(lr_at(&o, 9), 1e-3, 1e-9);
    CHECK_NEAR(lr_at(&o, 10), 1e-3, 1e-9);
    CHECK_NEAR(lr_at(&o, 60), 5.5e-4, 1e-8);   /* halfway: (max + min) / 2 */
    CHECK_NEAR(lr_at(&o, 110), 1e-4, 1e-9);
    CHECK_NEAR(lr_at(&o, 500), 1e-4, 1e-9);
}

static Checkpoint sample_checkpoint(Model *m, uint8_t *rec, size_t rec_n, HistRow *h)
{
    Checkpoint ck = ckpt_of_model(m, rec, rec_n);
    ck.st.step = 7;
    ck.st.rng_state = 0x123456789abcdefull;
    ck.st.lr = 1e-3f;
    ck.st.total_steps = 100;
    ck.hist = h;
    ck.n_hist = 2;
    return ck;
}

TEST(checkpoint_save_load_save_is_byte_identical)
{
    ModelConfig c = tiny(QUANT_ABSMEAN, FFN_SWIGLU);
    Model m;
    model_init(&m, &c, 1);
    Rng r;
    rng_seed(&r, 3);
    model_init_weights(&m, &r);
    for (size_t i = 0; i < m.n_params; i++) m.m[i] = (float)i * 1e-3f, m.v[i] = (float)i * 1e-6f;
    Tokenizer tok;
    tok_init_bytes(&tok);
    uint8_t rec[TOK_RECORD_FIXED];
    tok_record_write(&tok, rec);
    tok_free(&tok);
    HistRow h[2] = {{{1, 2, 3, NAN, NAN, NAN, NAN, 8, 9, 10, 11, 12, 13}}, {{2, 4, 2.5, 2.4, 11, 3.4, 0.3, 1, 1, 1, 1, 1, 1}}};
    Checkpoint ck = sample_checkpoint(&m, rec, sizeof rec, h);
    char *a = temp_file_with("", 0), *b = temp_file_with("", 0);
    plausible_train_state(&ck.st);
    CHECK_EQ(ckpt_write(a, &ck), 0);
    Checkpoint back;
    CHECK_EQ(ckpt_read(a, &back, 0), 0);
    if (test_failed) {
        fprintf(stderr, "  %s\n", l1b_last_error());
        return;
    }
    CHECK_EQ(back.st.step, 7);
    CHECK(back.st.rng_state == 0x123456789abcdefull);
    CHECK_EQ(back.n_hist, 2);
    CHECK(isnan(back.hist[0].v[H_VAL_LOSS]));
    CHECK_NEAR(back.hist[1].v[H_VAL_LOSS], 2.4, 0);
    CHECK(!memcmp(back.params, m.params, m.n_params * sizeof(float)));
    CHECK_EQ(ckpt_write(b, &back), 0);
    size_t na, nb;
    unsigned char *fa = slurp(a, &na), *fb = slurp(b, &nb);
    CHECK_EQ(na, nb);
    CHECK(na == nb && !memcmp(fa, fb, na));
    /* the file is laid out as the format says */
    CHECK(!memcmp(fa, "L1BMODEL", 8));
    CHECK_EQ(le32(fa + 8), 1);
    CHECK_EQ(le32(fa + 16), 6);
    CHECK(!memcmp(fa + 32, "CONF", 4));
    CHECK_EQ(le64(fa + 32 + 8) % 64, 0);

    /* every truncation and a flipped byte anywhere are refused */
    Checkpoint x;
    size_t step = na / 97 + 1, refused = 0, tried = 0;
    for (size_t cut = 0; cut < na; cut += step) {
        char *p = temp_file_with(fa, cut);
        tried++;
        refused += ckpt_read(p, &x, 0) < 0;
        unlink(p);
        free(p);
    }
    CHECK_EQ(refused, tried);
    refused = tried = 0;
    for (size_t at = 0; at < na; at += step) {
        unsigned char *c2 = malloc(na);
        memcpy(c2, fa, na);
        c2[at] ^= 0x10;
        char *p = temp_file_with(c2, na);
        int rc = ckpt_read(p, &x, 0);
        /* flips inside zero padding change no section or header bytes */
        int in_padding = 1;
        for (size_t s = 0; s < 6; s++) {
            uint64_t off = le64(fa + 32 + 32 * s + 8), size = le64(fa + 32 + 32 * s + 16);
            if (at >= off && at < off + size) in_padding = 0;
        }
        if (at < 32 + 6 * 32) in_padding = 0;
        if (!in_padding) {
            tried++;
            refused += rc < 0;
        } else if (rc == 0) {
            ckpt_free(&x);
        }
        unlink(p);
        free(p);
        free(c2);
    }
    CHECK_EQ(refused, tried);
    free(fa);
    free(fb);
    ckpt_free(&back);
    unlink(a);
    unlink(b);
    free(a);
    free(b);
    model_free(&m);
}

TEST(checkpoint_rejections_name_the_problem)
{
    Checkpoint x;
    char *p = temp_file_with("L1BTOKEN and more bytes to be long enough here", 46);
    CHECK_EQ(ckpt_read(p, &x, 0), -1);
    CHECK_ERR("not an l1b model file (bad magic)");
    unlink(p);
    free(p);
    unsigned char h[64] = "L1BMODEL";
    put32(h + 8, 2);
    p = temp_file_with(h, 64);
    CHECK_EQ(ckpt_read(p, &x, 0), -1);
    CHECK_ERR("model file version 2 not supported");
    unlink(p);
    free(p);
    CHECK_EQ(ckpt_read("/nonexistent/m.l1b", &x, 0), -1);
    CHECK_ERR("/nonexistent/m.l1b: No such file");
}

TEST(checkpoint_refuses_training_state_out_of_range)
{
    /* checksums are right, the values are not: a crafted file must not
     * crash the trainer that resumes it */
    ModelConfig c = tiny(QUANT_ABSMEAN, FFN_SWIGLU);
    Model m;
    model_init(&m, &c, 1);
    Tokenizer tok;
    tok_init_bytes(&tok);
    uint8_t rec[TOK_RECORD_FIXED];
    tok_record_write(&tok, rec);
    tok_free(&tok);
    Checkpoint ck = ckpt_of_model(&m, rec, sizeof rec);
    ck.st.total_steps = 10;
    ck.st.batch = 4;
    ck.st.accum = 1;
    char *path = temp_file_with("", 0);
    Checkpoint back;
    plausible_train_state(&ck.st);
    CHECK_EQ(ckpt_write(path, &ck), 0);
    CHECK_EQ(ckpt_read(path, &back, 0), 0);
    ckpt_free(&back);
    ck.st.batch = 0;
    CHECK_EQ(ckpt_write(path, &ck), 0);
    CHECK_EQ(ckpt_read(path, &back, 0), -1);
    CHECK_ERR("corrupt training state (batch out of range)");
    ck.st.batch = 4;
    ck.st.val_frac = 5;
    CHECK_EQ(ckpt_write(path, &ck), 0);
    CHECK_EQ(ckpt_read(path, &back, 0), -1);
    CHECK_ERR("(val-frac out of range)");
    ck.st.val_frac = 0.1f;
    ck.st.step = 11;
    CHECK_EQ(ckpt_write(path, &ck), 0);
    CHECK_EQ(ckpt_read(path, &back, 0), -1);
    CHECK_ERR("(steps out of range)");
    unlink(path);
    free(path);
    model_free(&m);
}
