/* the quantisation schemes: hand-worked examples and their properties */
#include <math.h>
#include <stdlib.h>

#include "dataset.h"
#include "model.h"
#include "quant.h"
#include "ternary.h"
#include "rng.h"
#include "test.h"

/* w = {0.5, -1.5, 0.05, 1.0}: mean|w| = 0.7625 */
static const float w4[4] = {0.5f, -1.5f, 0.05f, 1.0f};

TEST(quant_twn_hand_worked_example)
{
    /* delta = 0.7 * 0.7625 = 0.53375: 0.5 and 0.05 fall inside, so
     * q = {0, -1, 0, 1} and alpha = (1.5 + 1.0) / 2 = 1.25 */
    int8_t q[4];
    float alpha = ternary_twn(w4, 4, q);
    CHECK_NEAR(alpha, 1.25, 1e-7);
    CHECK_EQ(q[0], 0); CHECK_EQ(q[1], -1); CHECK_EQ(q[2], 0); CHECK_EQ(q[3], 1);
    float z[3] = {0, 0, 0};
    CHECK(ternary_twn(z, 3, q) == 0.0f);
    CHECK(q[0] == 0 && q[1] == 0 && q[2] == 0);
}

TEST(quant_sign_hand_worked_example)
{
    int8_t q[4];
    float s = binary_sign(w4, 4, q);
    CHECK_NEAR(s, 0.7625, 1e-7);
    CHECK_EQ(q[0], 1); CHECK_EQ(q[1], -1); CHECK_EQ(q[2], 1); CHECK_EQ(q[3], 1);
    float zero = 0.0f, neg = -0.0f;
    binary_sign(&zero, 1, q);
    CHECK_EQ(q[0], 1);  /* w >= 0 is +1, -0 too */
    binary_sign(&neg, 1, q);
    CHECK_EQ(q[0], 1);
}

TEST(quant_stochastic_rounds_to_neighbours_with_the_right_odds)
{
    /* w / gamma: 0.65574, -1.96721 (clipped to -1), 0.06557, 1.31148 (1) */
    int8_t q[4];
    int plus0 = 0, plus2 = 0;
    for (uint64_t seed = 1; seed <= 4000; seed++) {
        float g = ternary_stochastic(w4, 4, q, seed);
        CHECK_NEAR(g, 0.7625, 1e-7);
        CHECK(q[0] == 0 || q[0] == 1);
        CHECK_EQ(q[1], -1);
        CHECK(q[2] == 0 || q[2] == 1);
        CHECK_EQ(q[3], 1);
        plus0 += q[0];
        plus2 += q[2];
    }
    /* expectations 0.656 and 0.066 of 4000: binomial sd ~30 and ~16 */
    CHECK(abs(plus0 - 2623) < 150);
    CHECK(abs(plus2 - 262) < 80);
    /* a seed gives the same rounding every time */
    int8_t a[4], b[4];
    ternary_stochastic(w4, 4, a, 77);
    ternary_stochastic(w4, 4, b, 77);
    CHECK(!memcmp(a, b, 4));
}

TEST(quant_stochastic_is_absmean_without_noise)
{
    int8_t a[4], b[4];
    float ga = weight_quantise(QUANT_STOCHASTIC, w4, 4, a), gb = ternary_absmean(w4, 4, b);
    CHECK(ga == gb);
    CHECK(!memcmp(a, b, 4));
    /* and the noisy form draws */
    weight_quantise_noisy(QUANT_STOCHASTIC, w4, 4, a, 12345);
    CHECK(a[1] == -1 && a[3] == 1);
}

TEST(quant_scheme_names_parse_back)
{
    for (int i = 0; i < QUANT_COUNT; i++) {
        int q = -1;
        CHECK_EQ(name_value(quant_names, name_of(quant_names, i), &q), 0);
        CHECK_EQ(q, i);
    }
    int q;
    CHECK_EQ(name_value(quant_names, "int4", &q), -1);
    CHECK_STR(name_of(quant_names, QUANT_TWN), "twn");
    CHECK_STR(name_of(quant_names, QUANT_COUNT), "?");
}

TEST(name_tables_list_their_choices_for_messages)
{
    char buf[64];
    CHECK_STR(name_choices(quant_names, buf, sizeof buf), "absmean, twn, stochastic, sign or f32");
    CHECK_STR(name_choices(ffn_act_names, buf, sizeof buf), "swiglu or relu2");
    CHECK_STR(name_choices(batching_names, buf, sizeof buf), "pack or bucket");
    CHECK_STR(name_choices(packing_bits_names, buf, sizeof buf), "2 or 1.6");
    int v;
    CHECK_EQ(name_value(packing_bits_names, "1.6", &v), 0);
    CHECK_EQ(v, PACK_BASE3);
    CHECK_STR(name_of(ffn_act_names, FFN_RELU2), "relu2");
    CHECK_STR(name_of(batching_names, BATCH_BUCKET), "bucket");
}

TEST(quant_absmean_ties_round_to_even_and_clip)
{
    /* mean |w| = 8/8 = 1, and 1 + 1e-8 rounds to 1: r = w exactly, so
     * 0.5 and -0.5 are ties (to even: 0), 1.5 rounds to 2 and clips to 1 */
    float w[8] = {2, -2, 0.5f, -0.5f, 0, 1, -1, 1};
    float w2[8] = {1.5f, -1.5f, 0.49f, -0.51f, 2.0f, -0.25f, 0.75f, 1.0f};
    int8_t q[8];
    CHECK_NEAR(ternary_absmean(w, 8, q), 1.0, 0);
    static const int8_t want[8] = {1, -1, 0, 0, 0, 1, -1, 1};
    for (int i = 0; i < 8; i++) CHECK_EQ(q[i], want[i]);
    CHECK_NEAR(ternary_absmean(w2, 8, q), 1.0, 0);  /* 8.0 / 8 again */
    static const int8_t want2[8] = {1, -1, 0, -1, 1, 0, 1, 1};
    for (int i = 0; i < 8; i++) CHECK_EQ(q[i], want2[i]);
}

/* against the plain definition, clip(lrintf(w / (gamma + 1e-8)), -1, 1),
 * on random weights of a few scales, and huge ones */
TEST(quant_absmean_equals_the_plain_definition)
{
    Rng r;
    rng_seed(&r, 77);
    size_t n = 4099;
    float *w = malloc(n * sizeof *w);
    int8_t *q = malloc(n);
    for (int pass = 0; pass < 3; pass++) {
        for (size_t i = 0; i < n; i++) w[i] = rng_normal(&r) * (pass == 0 ? 0.02f : pass == 1 ? 3.0f : 1.0f);
        if (pass == 2) w[5] = 1e30f, w[6] = -1e30f;
        float gamma = ternary_absmean(w, n, q);
        double sum = 0;
        for (size_t i = 0; i < n; i++) sum += fabsf(w[i]);
        CHECK(fabs(gamma - sum / (double)n) <= 1e-6 * (sum / (double)n));
        float denom = gamma + 1e-8f;
        for (size_t i = 0; i < n; i++) {
            float x = w[i] / denom;
            long k = x > 4 ? 4 : x < -4 ? -4 : lrintf(x);
            int want = k > 1 ? 1 : k < -1 ? -1 : (int)k;
            if (q[i] != want) FAIL_AT("pass %d, w[%zu] = %g: %d != %d", pass, i, (double)w[i], q[i], want);
        }
    }
    free(w);
    free(q);
}
