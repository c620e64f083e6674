/* generation: the KV-cache path against the training forward, sampling */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "convert.h"
#include "helpers.h"
#include "kernels.h"
#include "infer.h"
#include "model.h"
#include "sampler.h"
#include "test.h"
#include "util.h"

/* a random model of the given shape saved to a temporary checkpoint */
static char *random_checkpoint_shaped(Model *m, const ModelConfig *c)
{
    model_init(m, c, 1);
    Rng r;
    rng_seed(&r, 5);
    model_init_weights(m, &r);
    for (size_t i = 0; i < m->n_params; i++) m->params[i] += 0.2f * rng_normal(&r);
    Tokenizer tok;
    tok_init_bytes(&tok);
    uint8_t rec[TOK_RECORD_FIXED];
    tok_record_write(&tok, rec);
    tok_free(&tok);
    Checkpoint ck = ckpt_of_model(m, rec, sizeof rec);
    char *path = temp_file_with("", 0);
    plausible_train_state(&ck.st);
    if (ckpt_write(path, &ck) < 0) FAIL_AT("%s", l1b_last_error());
    return path;
}

static char *random_checkpoint(Model *m, uint32_t quant, uint32_t ffn)
{
    ModelConfig c = {16, 2, 2, 40, 12, 257, ffn, quant};
    return random_checkpoint_shaped(m, &c);
}

static void check_logits_match(uint32_t quant, uint32_t ffn)
{
    Model m;
    char *path = random_checkpoint(&m, quant, ffn);
    Infer inf;
    CHECK_EQ(infer_read(&inf, path, INFER_EXACT), 0);
    int tokens[12] = {256, 72, 101, 108, 108, 111, 32, 119, 0, 255, 10, 256};
    model_forward(&m, tokens, NULL, 1, 12);
    double worst = 0;
    for (uint32_t t = 0; t < 12; t++) {
        const float *lg = infer_forward(&inf, tokens[t], t);
        for (uint32_t v = 0; v < 257; v++) {
            double d = fabs(lg[v] - m.a.logits[t * 257 + v]);
            if (d > worst) worst = d;
        }
        CHECK_EQ(argmax(lg, 257), argmax(m.a.logits + t * 257, 257));
    }
    /* the same functions on the same numbers: equal to float rounding */
    CHECK(worst <= 1e-5);
    infer_free(&inf);
    model_free(&m);
    unlink(path);
    free(path);
}

TEST(infer_logits_equal_training_forward_ternary) { check_logits_match(QUANT_ABSMEAN, FFN_SWIGLU); }
TEST(infer_logits_equal_training_forward_relu2) { check_logits_match(QUANT_ABSMEAN, FFN_RELU2); }
TEST(infer_logits_equal_training_forward_f32) { check_logits_match(QUANT_F32, FFN_SWIGLU); }

/* The int8 tables and cache against the exact path on the same random
 * model: every element is off by at most half its row's step (1/254 of
 * the row's largest), which moves these logits (|logit| up to ~4) by a
 * few hundredths; 0.1 leaves room without hiding a wrong row or scale
 * (those move them by whole units). */
static void check_compact_near_exact(uint32_t quant, uint32_t ffn)
{
    Model m;
    char *path = random_checkpoint(&m, quant, ffn);
    Infer a, b;
    CHECK_EQ(infer_read(&a, path, INFER_EXACT), 0);
    CHECK_EQ(infer_read(&b, path, 0), 0);
    int tokens[12] = {256, 72, 101, 108, 108, 111, 32, 119, 0, 255, 10, 256};
    double worst = 0, largest = 0;
    for (uint32_t t = 0; t < 12; t++) {
        float keep[257];
        memcpy(keep, infer_forward(&a, tokens[t], t), sizeof keep);
        const float *lg = infer_forward(&b, tokens[t], t);
        for (uint32_t v = 0; v < 257; v++) {
            double d = fabs(lg[v] - keep[v]);
            if (d > worst) worst = d;
            if (fabs(keep[v]) > largest) largest = fabs(keep[v]);
        }
    }
    CHECK(largest > 1);     /* the logits are not all near zero */
    CHECK(worst > 0);       /* the int8 path is really taken */
    CHECK(worst <= 0.1);
    infer_free(&a);
    infer_free(&b);
    model_free(&m);
    unlink(path);
    free(path);
}

TEST(infer_int8_tables_and_cache_near_exact_ternary) { check_compact_near_exact(QUANT_ABSMEAN, FFN_SWIGLU); }
TEST(infer_int8_tables_and_cache_near_exact_f32) { check_compact_near_exact(QUANT_F32, FFN_RELU2); }

TEST(infer_holds_packed_weights_not_floats)
{
    Model m;
    char *path = random_checkpoint(&m, QUANT_ABSMEAN, FFN_SWIGLU);
    /* 2 layers x 7 BitLinear layers, each row one 16-byte block (C, H <= 64) */
    size_t ternary = 2 * (4 * 16 + 2 * 40 + 16) * 16, norms = (2 * 2 * 16 + 16) * sizeof(float);
    Infer inf;
    CHECK_EQ(infer_read(&inf, path, INFER_EXACT), 0);
    CHECK_EQ(inf.weight_bytes, ternary + norms + 2 * 257 * 16 * sizeof(float));
    /* K and V: 2 layers x ctx 12 x 16 floats each */
    CHECK_EQ(inf.cache_bytes, 2 * 2 * 12 * 16 * sizeof(float));
    CHECK(inf.lin[0].ternary);
    infer_free(&inf);
    /* int8 tables: a byte per weight and a float per row; the cache a row
     * per (layer, position, head) of 8 bytes and its scale */
    CHECK_EQ(infer_read(&inf, path, 0), 0);
    CHECK_EQ(inf.weight_bytes, ternary + norms + 2 * 257 * (16 + sizeof(float)));
    CHECK_EQ(inf.cache_bytes, 2 * (2 * 12 * 2) * (8 + sizeof(float)));
    infer_free(&inf);
    model_free(&m);
    unlink(path);
    free(path);
}

/* An inference file with the weights five to a byte computes exactly what
 * the 2-bit one does (the same integers), in less memory. Widths 96 and 200
 * pad differently in the two packings (128 / 256 columns against 160 /
 * 240). */
TEST(infer_base3_weights_give_the_same_logits_as_2_bit)
{
    ModelConfig c = {96, 2, 2, 200, 12, 257, FFN_SWIGLU, QUANT_ABSMEAN};
    Model m;
    char *path = random_checkpoint_shaped(&m, &c);
    PackedModel pm;
    CHECK_EQ(packed_model_read(path, &pm, NULL, NULL, 0), 0);
    char *two = temp_file_with("", 0), *three = temp_file_with("", 0);
    CHECK_EQ(packed_model_write(two, &pm), 0);
    packed_model_repack(&pm, PACK_BASE3);
    CHECK_EQ(packed_model_write(three, &pm), 0);
    packed_model_free(&pm);
    Infer a, b;
    CHECK_EQ(infer_read(&a, two, 0), 0);
    CHECK_EQ(infer_read(&b, three, 0), 0);
    CHECK_EQ(b.lin[0].t.packing, PACK_BASE3);
    /* rows of 96 columns (q k v o gate up) take 2 blocks either way; the
     * 96 rows of w_down (200 columns) 4 blocks of 2 bits, 3 of base 3 */
    CHECK_EQ(a.weight_bytes - b.weight_bytes, 2 * 96 * (4 - 3) * 16);
    int tokens[12] = {256, 72, 101, 108, 108, 111, 32, 119, 0, 255, 10, 256};
    for (uint32_t t = 0; t < 12; t++) {
        const float *la = infer_forward(&a, tokens[t], t), *lb = infer_forward(&b, tokens[t], t);
        CHECK(!memcmp(la, lb, 257 * sizeof *la));
    }
    infer_free(&a);
    infer_free(&b);
    model_free(&m);
    unlink(path);
    unlink(two);
    unlink(three);
    free(path);
    free(two);
    free(three);
}

TEST(sampler_greedy_and_top_k_one_are_argmax)
{
    float lg[6] = {0.1f, 2.0f, -1.0f, 2.0f, 1.9f, 0.0f};
    CHECK_EQ(argmax(lg, 6), 1);  /* first of the equal best */
    Sampler g, k1;
    sampler_init(&g, 6, 0.0f, 0, 1.0f, 1);
    sampler_init(&k1, 6, 1.0f, 1, 1.0f, 1);
    for (int i = 0; i < 50; i++) {
        CHECK_EQ(sampler_pick(&g, lg), 1);
        CHECK_EQ(sampler_pick(&k1, lg), 1);
    }
    sampler_free(&g);
    sampler_free(&k1);
}

TEST(sampler_top_k_and_top_p_restrict_the_support)
{
    float lg[8] = {3.0f, 2.5f, 2.0f, 1.0f, 0.5f, 0.0f, -1.0f, -2.0f};
    Sampler k3, p, all;
    sampler_init(&k3, 8, 1.0f, 3, 1.0f, 7);
    /* probabilities: 0.441 0.268 0.162 0.060 ...: 0.7 needs the top two */
    sampler_init(&p, 8, 1.0f, 0, 0.7f, 7);
    sampler_init(&all, 8, 1.0f, 0, 1.0f, 7);
    int seen_k[8] = {0}, seen_p[8] = {0}, seen_all[8] = {0};
    for (int i = 0; i < 4000; i++) {
        seen_k[sampler_pick(&k3, lg)]++;
        seen_p[sampler_pick(&p, lg)]++;
        seen_all[sampler_pick(&all, lg)]++;
    }
    for (int t = 3; t < 8; t++) CHECK_EQ(seen_k[t], 0);
    for (int t = 0; t < 3; t++) CHECK(seen_k[t] > 100);
    for (int t = 2; t < 8; t++) CHECK_EQ(seen_p[t], 0);
    CHECK(seen_p[0] > 1800 && seen_p[1] > 1000);
    CHECK(seen_all[5] > 0 && seen_all[3] > 100);  /* unrestricted reaches the tail */
    sampler_free(&k3);
    sampler_free(&p);
    sampler_free(&all);
}

TEST(sampler_same_seed_same_draws)
{
    float lg[5] = {1, 1, 1, 1, 1};
    Sampler a, b;
    sampler_init(&a, 5, 1.0f, 0, 1.0f, 99);
    sampler_init(&b, 5, 1.0f, 0, 1.0f, 99);
    for (int i = 0; i < 100; i++) CHECK_EQ(sampler_pick(&a, lg), sampler_pick(&b, lg));
    sampler_free(&a);
    sampler_free(&b);
}

TEST(sampler_top_p_applies_within_top_k)
{
    /* probabilities 0.441 0.268 0.162 ...: the top two hold 0.709, of which
     * the first is 0.62 and the second 0.38 once renormalised, so p 0.65
     * needs both and p 0.6 only the first */
    float lg[8] = {3.0f, 2.5f, 2.0f, 1.0f, 0.5f, 0.0f, -1.0f, -2.0f};
    Sampler a, b;
    sampler_init(&a, 8, 1.0f, 2, 0.65f, 3);
    sampler_init(&b, 8, 1.0f, 2, 0.6f, 3);
    int seen_a[8] = {0}, seen_b[8] = {0};
    for (int i = 0; i < 2000; i++) {
        seen_a[sampler_pick(&a, lg)]++;
        seen_b[sampler_pick(&b, lg)]++;
    }
    CHECK(seen_a[0] > 0 && seen_a[1] > 0);
    for (int t = 2; t < 8; t++) CHECK_EQ(seen_a[t], 0);
    CHECK_EQ(seen_b[0], 2000);
    sampler_free(&a);
    sampler_free(&b);
}

TEST(repeat_penalty_divides_positive_multiplies_negative_once_per_token)
{
    float lg[5] = {2.0f, -1.0f, 0.5f, 3.0f, 0.0f};
    uint32_t recent[5] = {0, 1, 0, 4, 7};  /* 0 twice: penalised once; 7 is no token */
    uint8_t seen[5] = {0};
    repeat_penalty_apply(lg, 5, recent, 5, 2.0f, seen);
    CHECK_NEAR(lg[0], 1.0, 0);
    CHECK_NEAR(lg[1], -2.0, 0);
    CHECK_NEAR(lg[2], 0.5, 0);
    CHECK_NEAR(lg[3], 3.0, 0);
    CHECK_NEAR(lg[4], 0.0, 0);
    for (int i = 0; i < 5; i++) CHECK_EQ(seen[i], 0);
}

TEST(sampler_repeat_penalty_looks_at_the_last_n_accepted)
{
    float lg[4] = {2.0f, 1.5f, -1.0f, -0.5f};
    Sampler s;
    sampler_init(&s, 4, 0.0f, 0, 1.0f, 1);
    sampler_set_repeat_penalty(&s, 1.5f, 2);
    CHECK_EQ(sampler_pick(&s, lg), 0);
    sampler_accept(&s, 0);  /* 2.0 / 1.5 = 1.33 < 1.5 */
    CHECK_EQ(sampler_pick(&s, lg), 1);
    sampler_accept(&s, 1);  /* both penalised: 1.33 > 1.0 */
    CHECK_EQ(sampler_pick(&s, lg), 0);
    sampler_accept(&s, 3);  /* 0 is no longer among the last 2 */
    CHECK_EQ(sampler_pick(&s, lg), 0);
    sampler_accept(&s, 0);
    sampler_forget(&s);
    CHECK_EQ(sampler_pick(&s, lg), 0);
    CHECK_NEAR(lg[0], 2.0, 0);  /* the caller's logits are left alone */
    /* penalty 1 changes nothing */
    sampler_set_repeat_penalty(&s, 1.0f, 64);
    sampler_accept(&s, 0);
    CHECK_EQ(sampler_pick(&s, lg), 0);
    sampler_free(&s);
}

TEST(sampler_min_p_keeps_tokens_within_a_share_of_the_best_after_temperature)
{
    /* probabilities 1 : 1/2 : 1/4 : 1/8 of the most likely at temperature 1,
     * 1 : 1/4 : 1/16 : 1/64 at 0.5; token 4 is far below */
    float lg[5] = {0.0f, -logf(2), -logf(4), -logf(8), -20.0f};
    Sampler s;
    int sorted;
    sampler_init(&s, 5, 1.0f, 0, 1.0f, 5);
    sampler_set_min_p(&s, 0.3f);
    CHECK_EQ(sampler_candidates(&s, lg, &sorted), 2);
    CHECK(sorted);
    CHECK_EQ(s.order[0], 0);
    CHECK_EQ(s.order[1], 1);
    sampler_set_min_p(&s, 0.2f);
    CHECK_EQ(sampler_candidates(&s, lg, &sorted), 3);
    sampler_set_min_p(&s, 0.1f);
    CHECK_EQ(sampler_candidates(&s, lg, &sorted), 4);
    s.temperature = 0.5f;
    sampler_set_min_p(&s, 0.2f);
    CHECK_EQ(sampler_candidates(&s, lg, &sorted), 2);
    /* with top-k and top-p: the shortest of the runs they keep */
    s.temperature = 1.0f;
    sampler_set_min_p(&s, 0.1f);
    s.top_k = 2;
    CHECK_EQ(sampler_candidates(&s, lg, &sorted), 2);
    s.top_k = 0;
    s.top_p = 0.5f;  /* 1 / 1.875 = 0.53 of the mass: token 0 alone */
    CHECK_EQ(sampler_candidates(&s, lg, &sorted), 1);
    /* the draws stay inside */
    s.top_p = 1.0f;
    sampler_set_min_p(&s, 0.3f);
    int seen[5] = {0};
    for (int i = 0; i < 3000; i++) seen[sampler_pick(&s, lg)]++;
    CHECK(seen[0] > 1700 && seen[1] > 700);
    CHECK_EQ(seen[2] + seen[3] + seen[4], 0);
    /* off: every token can be drawn, unsorted */
    sampler_set_min_p(&s, 0.0f);
    CHECK_EQ(sampler_candidates(&s, lg, &sorted), 5);
    CHECK(!sorted);
    sampler_free(&s);
}

/* A long prompt fed at once runs only the window it ends in, and leaves the
 * session exactly as feeding it token by token would: same logits, same
 * window, same slide count; from an empty session and from a part-full one,
 * for prompts ending before, at and after slides. ctx 12: slides keep 6. */
TEST(session_feed_many_equals_token_by_token_across_slides)
{
    Model m;
    char *path = random_checkpoint(&m, QUANT_ABSMEAN, FFN_SWIGLU);
    Infer a, b;
    CHECK_EQ(infer_read(&a, path, 0), 0);
    CHECK_EQ(infer_read(&b, path, 0), 0);
    Session sa, sb;
    session_init(&sa, &a);
    session_init(&sb, &b);
    uint16_t prompt[40];
    for (int i = 0; i < 40; i++) prompt[i] = (uint16_t)((i * 37 + 11) % 256);
    size_t lens[] = {1, 5, 11, 12, 13, 17, 18, 19, 40};
    for (int start = 0; start < 3; start++)
        for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
            session_reset(&sa);
            session_reset(&sb);
            for (int i = 0; i < 4 * start; i++) {  /* 0, 4 or 8 tokens already in */
                session_feed(&sa, 256);
                session_feed(&sb, 256);
            }
            const float *la = NULL;
            for (size_t i = 0; i < lens[k]; i++) la = session_feed(&sa, prompt[i]);
            const float *lb = session_feed_many(&sb, prompt, lens[k]);
            CHECK(la && lb && !memcmp(la, lb, 257 * sizeof *la));
            CHECK_EQ(sa.n, sb.n);
            CHECK(!memcmp(sa.tokens, sb.tokens, sa.n * sizeof *sa.tokens));
            CHECK_EQ(sa.slides, sb.slides);
            /* and the next token continues alike */
            la = session_feed(&sa, 65);
            lb = session_feed(&sb, 65);
            CHECK(!memcmp(la, lb, 257 * sizeof *la));
        }
    CHECK(session_feed_many(&sb, prompt, 0) == NULL);
    session_free(&sa);
    session_free(&sb);
    infer_free(&a);
    infer_free(&b);
    model_free(&m);
    unlink(path);
    free(path);
}

/* ---- blocks of tokens ---------------------------------------------------- */

/* the largest difference of two (n) float arrays */
static double worst_diff(const float *a, const float *b, size_t n)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d != d || d > worst) worst = d != d ? 1e30 : d;
    }
    return worst;
}

/* A block forward against infer_forward token by token on the same
 * random model: every token's logits (the prompt run in pieces of 3, 70 and
 * the rest, so blocks of 64 end mid-piece and groups of 4 tokens run
 * short), the next token after them (the KV cache filled alike), and the
 * last token's logits alone. The int8 products are exact and the rest is
 * the same code a row at a time, so the int8 path (tol 0) is bit for bit;
 * float products (f32 layers, the exact head over many rows) are summed in
 * another order: float rounding, which the int8 cache of an f32 model can
 * turn into a step of a key's int8 rounding (1/254 of its row's largest,
 * ~0.01 in these logits). */
static void check_block(const ModelConfig *c, uint32_t packing, int flags, double tol)
{
    Model mdl;
    char *path = random_checkpoint_shaped(&mdl, c);
    Infer a, b;
    CHECK_EQ(infer_read(&a, path, flags), 0);
    CHECK_EQ(infer_read(&b, path, flags), 0);
    if (packing) {
        infer_repack(&a, packing);
        infer_repack(&b, packing);
    }
    size_t n = 150, V = c->vocab;
    int tokens[150];
    for (size_t i = 0; i < n; i++) tokens[i] = i % 50 == 0 ? 256 : (int)((i * 37 + 11) % 256);
    float *ref = xmalloc(n * V * sizeof *ref), *got = xmalloc(n * V * sizeof *got), next[257];
    for (size_t t = 0; t < n; t++) memcpy(ref + t * V, infer_forward(&a, tokens[t], (uint32_t)t), V * sizeof *ref);
    memcpy(next, infer_forward(&a, 65, (uint32_t)n), sizeof next);
    CHECK(infer_forward_block(&b, tokens, 3, 0, got) == got + 2 * V);
    infer_forward_block(&b, tokens + 3, 70, 3, got + 3 * V);
    infer_forward_block(&b, tokens + 73, n - 73, 73, got + 73 * V);
    double d = worst_diff(ref, got, n * V);
    if (d > tol) FAIL_AT("every token's logits: off by %g (tol %g)", d, tol);
    for (size_t t = 0; t < n; t++) CHECK_EQ(argmax(ref + t * V, (uint32_t)V), argmax(got + t * V, (uint32_t)V));
    d = worst_diff(next, infer_forward(&b, 65, (uint32_t)n), V);
    if (d > tol) FAIL_AT("the token after: off by %g (tol %g)", d, tol);
    /* the cache run again, the last logits only (the last layer of the
     * other rows makes only keys and values), and the token after */
    const float *last = infer_forward_block(&b, tokens, n, 0, NULL);
    d = worst_diff(ref + (n - 1) * V, last, V);
    if (d > tol) FAIL_AT("the last token's logits: off by %g (tol %g)", d, tol);
    d = worst_diff(next, infer_forward(&b, 65, (uint32_t)n), V);
    if (d > tol) FAIL_AT("the token after the last logits only: off by %g (tol %g)", d, tol);
    CHECK(infer_forward_block(&b, tokens, 0, 0, NULL) == NULL);
    free(ref);
    free(got);
    infer_free(&a);
    infer_free(&b);
    model_free(&mdl);
    unlink(path);
    free(path);
}

TEST(infer_block_equals_token_by_token_ternary_int8)
{
    ModelConfig c = {32, 2, 2, 80, 160, 257, FFN_SWIGLU, QUANT_ABSMEAN};
    check_block(&c, 0, 0, 0);
}

TEST(infer_block_equals_token_by_token_base3_relu2)
{
    ModelConfig c = {96, 2, 3, 200, 160, 257, FFN_RELU2, QUANT_ABSMEAN};
    check_block(&c, PACK_BASE3, 0, 0);
}

TEST(infer_block_equals_token_by_token_sign)
{
    ModelConfig c = {96, 2, 3, 200, 160, 257, FFN_SWIGLU, QUANT_SIGN};
    check_block(&c, 0, 0, 0);
}

TEST(infer_block_equals_token_by_token_exact)
{
    ModelConfig c = {32, 2, 2, 80, 160, 257, FFN_SWIGLU, QUANT_ABSMEAN};
    check_block(&c, 0, INFER_EXACT, 1e-4);
}

TEST(infer_block_equals_token_by_token_f32)
{
    ModelConfig c = {32, 2, 2, 80, 160, 257, FFN_RELU2, QUANT_F32};
    check_block(&c, 0, 0, 0.05);
    check_block(&c, 0, INFER_EXACT, 1e-4);
}

/* Without integer SIMD the block runs the mat-vec kernels a token at a
 * time: the same numbers. */
TEST(infer_block_equals_token_by_token_plain_c)
{
    Kernels saved = kern;
    CHECK_EQ(kernels_for_level(SIMD_SCALAR, &kern), 0);
    ModelConfig c = {32, 2, 2, 80, 160, 257, FFN_SWIGLU, QUANT_ABSMEAN};
    check_block(&c, 0, 0, 0);
    kern = saved;
}

/* Scoring: the logits after every token, in blocks, across slides, equal
 * session_feed's; ctx 12 slides every 6 tokens. */
TEST(session_feed_all_equals_session_feed_across_slides)
{
    Model m;
    char *path = random_checkpoint(&m, QUANT_ABSMEAN, FFN_SWIGLU);
    Infer a, b;
    CHECK_EQ(infer_read(&a, path, 0), 0);
    CHECK_EQ(infer_read(&b, path, 0), 0);
    Session sa, sb;
    session_init(&sa, &a);
    session_init(&sb, &b);
    uint16_t text[40];
    for (int i = 0; i < 40; i++) text[i] = (uint16_t)((i * 37 + 11) % 256);
    float *got = xmalloc(40 * 257 * sizeof *got);
    for (int start = 0; start < 3; start++) {
        session_reset(&sa);
        session_reset(&sb);
        for (int i = 0; i < 5 * start; i++) {  /* 0, 5 or 10 tokens already in */
            session_feed(&sa, 256);
            session_feed(&sb, 256);
        }
        session_feed_all(&sb, text, 7, got);
        session_feed_all(&sb, text + 7, 33, got + 7 * 257);
        for (int i = 0; i < 40; i++) CHECK(!memcmp(session_feed(&sa, text[i]), got + i * 257, 257 * sizeof *got));
        CHECK_EQ(sa.n, sb.n);
        CHECK(!memcmp(sa.tokens, sb.tokens, sa.n * sizeof *sa.tokens));
        CHECK_EQ(sa.slides, sb.slides);
        CHECK(!memcmp(session_feed(&sa, 65), session_feed(&sb, 65), 257 * sizeof *got));
    }
    free(got);
    session_free(&sa);
    session_free(&sb);
    infer_free(&a);
    infer_free(&b);
    model_free(&m);
    unlink(path);
    free(path);
}

/* Sequences in lockstep, each in a cache of its own: their mat-vecs become
 * one matrix product, but every row comes out as session_feed gives it to
 * the last bit, slides included (ctx 12), for the int8 and float paths and
 * f32 layers (whose float products then run a row at a time). */
static void check_batch(uint32_t quant, int flags)
{
    Model m;
    char *path = random_checkpoint(&m, quant, FFN_SWIGLU);
    Infer a, b;
    CHECK_EQ(infer_read(&a, path, flags), 0);
    CHECK_EQ(infer_read(&b, path, flags), 0);
    enum { N = 26, STEPS = 20 };  /* from 24 sequences on they run as one product */
    Session ref, seq[N], *ptr[N];
    session_init(&ref, &a);
    float *got = xmalloc(STEPS * N * 257 * sizeof *got);
    uint16_t prompt[N][64];
    for (int i = 0; i < N; i++) {
        if (i == 3)
            session_init(&seq[i], &b);  /* one may be in the model's own cache */
        else
            session_init_cache(&seq[i], &b);
        ptr[i] = &seq[i];
        for (int j = 0; j < 3 + 2 * i; j++) prompt[i][j] = (uint16_t)((i * 53 + j * 11) % 256);  /* 3..53 */
        session_feed_many(&seq[i], prompt[i], (size_t)(3 + 2 * i));
    }
    for (int t = 0; t < STEPS; t++) {
        int tokens[N];
        for (int i = 0; i < N; i++) tokens[i] = (i * 31 + t * 7) % 256;
        session_feed_batch(ptr, tokens, N, got + (size_t)t * N * 257);
    }
    for (int i = 0; i < N; i++) {
        session_reset(&ref);
        uint64_t slides = ref.slides;  /* counted since session_init */
        session_feed_many(&ref, prompt[i], (size_t)(3 + 2 * i));
        for (int t = 0; t < STEPS; t++) {
            const float *lg = session_feed(&ref, (i * 31 + t * 7) % 256);
            if (memcmp(lg, got + ((size_t)t * N + i) * 257, 257 * sizeof *lg))
                FAIL_AT("sequence %d, step %d: off by %g", i, t, worst_diff(lg, got + ((size_t)t * N + i) * 257, 257));
        }
        CHECK_EQ(ref.slides - slides, seq[i].slides);
        CHECK(seq[i].slides > 0);
    }
    free(got);
    session_free(&ref);
    for (int i = 0; i < N; i++) session_free(&seq[i]);
    infer_free(&a);
    infer_free(&b);
    model_free(&m);
    unlink(path);
    free(path);
}

TEST(session_feed_batch_equals_one_at_a_time_int8) { check_batch(QUANT_ABSMEAN, 0); }
TEST(session_feed_batch_equals_one_at_a_time_exact) { check_batch(QUANT_ABSMEAN, INFER_EXACT); }
TEST(session_feed_batch_equals_one_at_a_time_f32) { check_batch(QUANT_F32, 0); check_batch(QUANT_F32, INFER_EXACT); }

/* The prompts of many sessions run together, blocks mixing their rows
 * (and cutting some prompts in two): each session's logits and cache as
 * its prompt alone gives them (the int8 path: session_feed_many's; float
 * products a row at a time: session_feed's), one prompt making its
 * session slide. */
static void check_prompts(uint32_t quant, int flags)
{
    ModelConfig c = {32, 2, 2, 80, 160, 257, FFN_SWIGLU, quant};
    Model mdl;
    char *path = random_checkpoint_shaped(&mdl, &c);
    Infer a, b;
    CHECK_EQ(infer_read(&a, path, flags), 0);
    CHECK_EQ(infer_read(&b, path, flags), 0);
    enum { N = 20 };
    Session ref, seq[N], *ptr[N];
    session_init(&ref, &a);
    uint16_t text[N][60];
    const uint16_t *tok[N];
    size_t len[N];
    float *got = xmalloc(N * 257 * sizeof *got);
    for (int i = 0; i < N; i++) {
        session_init_cache(&seq[i], &b);
        ptr[i] = &seq[i];
        len[i] = (size_t)(1 + (i * 37) % 60);
        for (size_t j = 0; j < len[i]; j++) text[i][j] = (uint16_t)((i * 53 + j * 11) % 256);
        tok[i] = text[i];
    }
    for (int j = 0; j < 150; j++) session_feed(&seq[7], 256);  /* its prompt makes it slide */
    CHECK(len[7] > 10);
    session_feed_prompts(ptr, tok, len, N, got);
    for (int i = 0; i < N; i++) {
        session_reset(&ref);
        if (i == 7)
            for (int j = 0; j < 150; j++) session_feed(&ref, 256);
        const float *lg = NULL;
        if (flags || quant == QUANT_F32)
            for (size_t j = 0; j < len[i]; j++) lg = session_feed(&ref, text[i][j]);
        else
            lg = session_feed_many(&ref, text[i], len[i]);
        if (i != 7 && memcmp(lg, got + i * 257, 257 * sizeof *lg))
            FAIL_AT("prompt %d: off by %g", i, worst_diff(lg, got + i * 257, 257));
        CHECK_EQ(ref.n, seq[i].n);
        /* the one that slid ran as a block here and token by token there:
         * float products in another order (see check_block) */
        double d = worst_diff(session_feed(&ref, 65), session_feed(&seq[i], 65), 257);
        if (d > (i == 7 && (flags || quant == QUANT_F32) ? 0.05 : 0)) FAIL_AT("prompt %d, the token after: off by %g", i, d);
    }
    CHECK_EQ(seq[7].slides, 1);
    free(got);
    session_free(&ref);
    for (int i = 0; i < N; i++) session_free(&seq[i]);
    infer_free(&a);
    infer_free(&b);
    model_free(&mdl);
    unlink(path);
    free(path);
}

TEST(session_feed_prompts_equals_one_prompt_at_a_time)
{
    check_prompts(QUANT_ABSMEAN, 0);
    check_prompts(QUANT_ABSMEAN, INFER_EXACT);
    check_prompts(QUANT_F32, 0);
}
