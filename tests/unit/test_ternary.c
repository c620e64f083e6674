/* packed ternary matrices: layout and the integer matrix-vector product */
#include <stdlib.h>
#include <string.h>

#include "layers.h"
#include "ternary.h"
#include "test.h"
#include "threads.h"

TEST(ternary_pack_layout_and_round_trip)
{
    int8_t q[2 * 70];
    for (int i = 0; i < 140; i++) q[i] = (int8_t)((i * 7 % 3) - 1);
    PackedTernary p;
    ternary_pack(&p, q, 2, 70, 0.5f, PACK_2BIT);
    CHECK_EQ(p.n_blocks, 2);
    for (uint32_t r = 0; r < 2; r++)
        for (uint32_t c = 0; c < 70; c++) CHECK_EQ(ternary_get(&p, r, c), q[r * 70 + c]);
    /* weight 17 of row 0 sits in byte 1, bits 2-3 */
    CHECK_EQ((p.data[1] >> 2 & 3) - 1, q[17]);
    /* padding weights are code 1 (zero) */
    CHECK_EQ(ternary_get(&p, 0, 127), 0);
    ternary_free(&p);
}

/* base 3: every byte value the packing can write, decoded by ternary_get
 * against the digits by division; the 243 valid bytes and only those */
TEST(base3_pack_layout_every_byte_and_round_trip)
{
    int valid = 0;
    for (unsigned byte = 0; byte < 256; byte++) valid += ternary_base3_byte_valid((uint8_t)byte);
    CHECK_EQ(valid, 243);
    int8_t q[80];
    for (unsigned v = 0; v < 243; v++) {
        memset(q, 0, sizeof q);
        /* digit j (most significant first) is the weight of column 16j */
        for (unsigned j = 0, d = 81; j < 5; j++, d /= 3) q[16 * j] = (int8_t)(v / d % 3) - 1;
        PackedTernary p;
        ternary_pack(&p, q, 1, 80, 1.0f, PACK_BASE3);
        CHECK_EQ(p.n_blocks, 1);
        CHECK_EQ(ternary_row_bytes(&p), 16);
        CHECK_EQ(p.data[0], (v * 256 + 242) / 243);
        CHECK(ternary_base3_byte_valid(p.data[0]));
        for (uint32_t c = 0; c < 80; c++) CHECK_EQ(ternary_get(&p, 0, c), q[c]);
        ternary_free(&p);
    }
    /* 2 x 170: three blocks a row, 70 padding weights of 0 */
    int8_t w[2 * 170];
    for (int i = 0; i < 340; i++) w[i] = (int8_t)((i * 7 % 3) - 1);
    PackedTernary p;
    ternary_pack(&p, w, 2, 170, 0.5f, PACK_BASE3);
    CHECK_EQ(p.n_blocks, 3);
    CHECK_EQ(ternary_padded_cols(&p), 240);
    CHECK_EQ(ternary_bytes(&p), 2 * 48);
    for (uint32_t r = 0; r < 2; r++) {
        for (uint32_t c = 0; c < 170; c++) CHECK_EQ(ternary_get(&p, r, c), w[r * 170 + c]);
        for (uint32_t c = 170; c < 240; c++) CHECK_EQ(ternary_get(&p, r, c), 0);
    }
    /* to 2 bits and back: the same weights, the same bytes */
    uint8_t first[96];
    memcpy(first, p.data, 96);
    ternary_repack(&p, PACK_2BIT);
    CHECK_EQ(p.packing, PACK_2BIT);
    CHECK_EQ(ternary_bytes(&p), 2 * 48);  /* 170 columns: 3 blocks of 64 */
    for (uint32_t c = 0; c < 170; c++) CHECK_EQ(ternary_get(&p, 1, c), w[170 + c]);
    ternary_repack(&p, PACK_BASE3);
    CHECK(!memcmp(p.data, first, 96));
    CHECK_EQ(p.scale, 0.5f);
    ternary_free(&p);
    CHECK_EQ(ternary_x_len(170), 240);
    CHECK_EQ(ternary_x_len(288), 320);
    CHECK_EQ(ternary_x_len(700), 720);
    CHECK_EQ(ternary_x_len(640), 640);
}

TEST(binary_pack_layout_one_bit_a_weight)
{
    int8_t q[2 * 70];
    for (int i = 0; i < 140; i++) q[i] = (int8_t)(i * 7 % 3 ? 1 : -1);
    PackedTernary p;
    ternary_pack(&p, q, 2, 70, 0.5f, PACK_SIGN);
    CHECK_EQ(ternary_row_bytes(&p), 16);  /* two blocks of 8 bytes */
    CHECK_EQ(ternary_bytes(&p), 32);
    for (uint32_t r = 0; r < 2; r++)
        for (uint32_t c = 0; c < 70; c++) CHECK_EQ(ternary_get(&p, r, c), q[r * 70 + c]);
    /* weight 17 is byte 2, bit 1; weight 36 byte 4, bit 4 */
    CHECK_EQ(p.data[2] >> 1 & 1, q[17] > 0);
    CHECK_EQ(p.data[4] >> 4 & 1, q[36] > 0);
    /* padding bits are 0: row 0's second block holds weights 64..69 only */
    CHECK_EQ(p.data[8] & 0xc0, 0);
    for (int i = 9; i < 16; i++) CHECK_EQ(p.data[i], 0);
    ternary_free(&p);
}

/* Every packing against the integer product, on odd shapes; binary
 * matrices hold only -1 and +1. Shapes past 256K weights run threaded. */
TEST(ternary_matvec_equals_integer_reference_on_odd_shapes)
{
    static const uint32_t shapes[][2] = {{1, 1}, {3, 5}, {7, 63}, {5, 64}, {9, 65}, {17, 130}, {4, 257}, {6, 80}, {5, 161}, {4200, 65}};
    unsigned seed = 3;
    for (size_t s = 0; s < 3 * sizeof shapes / sizeof shapes[0]; s++) {
        static const uint32_t packings[3] = {PACK_2BIT, PACK_SIGN, PACK_BASE3};
        uint32_t R = shapes[s / 3][0], C = shapes[s / 3][1], bits = packings[s % 3];
        int8_t *q = malloc((size_t)R * C), *x = calloc(ternary_x_len(C), 1);
        for (size_t i = 0; i < (size_t)R * C; i++) {
            seed = seed * 1103515245u + 12345u;
            q[i] = bits != PACK_SIGN ? (int8_t)((seed >> 16) % 3) - 1 : (seed >> 16 & 1) ? 1 : -1;
        }
        for (uint32_t i = 0; i < C; i++) {
            seed = seed * 1103515245u + 12345u;
            x[i] = (int8_t)(seed >> 20);
        }
        PackedTernary p;
        ternary_pack(&p, q, R, C, 1.0f, bits);
        int32_t *out = malloc(R * sizeof *out);
        ternary_matvec(out, &p, x);
        for (uint32_t r = 0; r < R; r++) {
            int32_t want = 0;
            for (uint32_t c = 0; c < C; c++) want += q[(size_t)r * C + c] * x[c];
            if (out[r] != want) FAIL_AT("%ux%u (packing %u) row %u: %d != %d", R, C, bits, r, out[r], want);
        }
        ternary_free(&p);
        free(q);
        free(x);
        free(out);
    }
}

/* several matrices as one job equal each on its own, on one thread and
 * on two (the 3 x 1500-row case is past the threading threshold, and a
 * thread's share of rows crosses from one matrix into the next) */
TEST(ternary_matvec_many_equals_one_at_a_time)
{
    static const uint32_t rows[][3] = {{3, 5, 7}, {1500, 1500, 1500}, {64, 1, 130}};
    unsigned seed = 17;
    uint32_t C = 130, NB = 3;
    int8_t *x = calloc(NB * 64, 1);
    for (uint32_t i = 0; i < C; i++) {
        seed = seed * 1103515245u + 12345u;
        x[i] = (int8_t)(seed >> 20);
    }
    for (int threads = 1; threads <= 2; threads++) {
        threads_init(threads);
        for (size_t s = 0; s < 3; s++) {
            PackedTernary p[3];
            int32_t *many[3], *one[3];
            const PackedTernary *w[3];
            for (int j = 0; j < 3; j++) {
                uint32_t R = rows[s][j];
                int8_t *q = malloc((size_t)R * C);
                for (size_t i = 0; i < (size_t)R * C; i++) {
                    seed = seed * 1103515245u + 12345u;
                    q[i] = (int8_t)((seed >> 16) % 3) - 1;
                }
                ternary_pack(&p[j], q, R, C, 1.0f, PACK_2BIT);
                free(q);
                w[j] = &p[j];
                many[j] = malloc(R * sizeof(int32_t));
                one[j] = malloc(R * sizeof(int32_t));
                ternary_matvec(one[j], &p[j], x);
            }
            ternary_matvec_many(many, w, 3, x);
            for (int j = 0; j < 3; j++) {
                CHECK(!memcmp(many[j], one[j], rows[s][j] * sizeof(int32_t)));
                free(many[j]);
                free(one[j]);
                ternary_free(&p[j]);
            }
        }
    }
    threads_init(1);
    free(x);
}

/* random matrices made in their packing: every weight -1, 0 or +1 (the
 * bytes are ones the packing writes), about a third each, padding as
 * ternary_pack writes it, so a repack round-trips */
TEST(ternary_random_draws_valid_weights_in_every_packing)
{
    static const uint32_t packings[] = {PACK_2BIT, PACK_BASE3, PACK_SIGN};
    for (int k = 0; k < 3; k++) {
        Rng r;
        rng_seed(&r, 7);
        PackedTernary p;
        ternary_random(&p, 30, 150, 0.25f, packings[k], &r);
        CHECK(p.rows == 30 && p.cols == 150 && p.scale == 0.25f && p.packing == packings[k]);
        int count[3] = {0, 0, 0};
        for (uint32_t row = 0; row < 30; row++) {
            for (uint32_t c = 0; c < 150; c++) {
                int w = ternary_get(&p, row, c);
                CHECK(w >= -1 && w <= 1);
                count[w + 1]++;
            }
            for (uint32_t c = 150; c < ternary_padded_cols(&p); c++) {
                if (packings[k] == PACK_SIGN) CHECK_EQ(p.data[row * ternary_row_bytes(&p) + c / 8] >> (c % 8) & 1, 0);
                else CHECK_EQ(ternary_get(&p, row, c), 0);
            }
        }
        if (packings[k] == PACK_BASE3)
            for (size_t i = 0; i < ternary_bytes(&p); i++) CHECK(ternary_base3_byte_valid(p.data[i]));
        if (packings[k] == PACK_SIGN) CHECK(count[1] == 0 && count[0] > 2000 && count[2] > 2000);
        else CHECK(count[0] > 1300 && count[1] > 1300 && count[2] > 1300);
        if (packings[k] != PACK_SIGN) {  /* the other packing holds the same weights */
            PackedTernary q = p;
            q.data = malloc(ternary_bytes(&p) + 1);
            memcpy(q.data, p.data, ternary_bytes(&p));
            ternary_repack(&q, packings[k] == PACK_2BIT ? PACK_BASE3 : PACK_2BIT);
            for (uint32_t row = 0; row < 30; row++)
                for (uint32_t c = 0; c < 150; c++) CHECK_EQ(ternary_get(&q, row, c), ternary_get(&p, row, c));
            ternary_free(&q);
        }
        ternary_free(&p);
    }
}
