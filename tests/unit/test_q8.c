/* int8 rows with a scale each: rounding bound, dot, axpy, matrix-vector */
#include <math.h>
#include <stdlib.h>

#include "q8.h"
#include "test.h"
#include "threads.h"

static float rnd(unsigned *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return (float)((int)(*seed >> 9 & 0xffff) - 32768) / 8192.0f;  /* [-4, 4) */
}

TEST(q8_rows_round_to_half_a_step)
{
    Q8Matrix m;
    q8_init(&m, 3, 5);
    float x[5] = {1.27f, -0.635f, 0.0f, 0.3f, -1.0f}, back[5];
    q8_set_row(&m, 1, x);
    /* scale = max|x| / 127 = 0.01; -0.635 / 0.01 = -63.5 rounds to even -64 */
    CHECK(fabsf(m.scale[1] - 0.01f) < 1e-8f);
    CHECK_EQ(m.q[5 + 0], 127);
    CHECK_EQ(m.q[5 + 1], -64);
    CHECK_EQ(m.q[5 + 2], 0);
    CHECK_EQ(m.q[5 + 3], 30);
    CHECK_EQ(m.q[5 + 4], -100);
    q8_get_row(&m, 1, back);
    for (int i = 0; i < 5; i++) CHECK(fabsf(back[i] - x[i]) <= m.scale[1] / 2 + 1e-7f);
    /* untouched rows read back as zeros; an all-zero row stays zeros */
    q8_get_row(&m, 0, back);
    for (int i = 0; i < 5; i++) CHECK_EQ(back[i], 0.0f);
    float zero[5] = {0};
    q8_set_row(&m, 2, zero);
    q8_get_row(&m, 2, back);
    for (int i = 0; i < 5; i++) CHECK_EQ(back[i], 0.0f);
    CHECK_EQ(q8_bytes(&m), 3 * (5 + sizeof(float)));
    q8_free(&m);
}

TEST(q8_matvec_equals_the_integer_reference)
{
    /* 300 x 1000 is past the threading threshold: run on 2 threads too */
    static const uint32_t shapes[][2] = {{1, 1}, {3, 7}, {17, 65}, {300, 1000}};
    unsigned seed = 7;
    for (int threads = 1; threads <= 2; threads++) {
        threads_init(threads);
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            uint32_t R = shapes[s][0], C = shapes[s][1];
            Q8Matrix m;
            q8_init(&m, R, C);
            float *row = malloc(C * sizeof *row), *out = malloc(R * sizeof *out);
            int8_t *xq = malloc(C);
            for (uint32_t r = 0; r < R; r++) {
                for (uint32_t c = 0; c < C; c++) row[c] = rnd(&seed);
                q8_set_row(&m, r, row);
            }
            for (uint32_t c = 0; c < C; c++) xq[c] = (int8_t)(rnd(&seed) * 31.75f);
            q8_matvec(out, &m, xq, 0.25f);
            for (uint32_t r = 0; r < R; r++) {
                int64_t ref = 0;
                for (uint32_t c = 0; c < C; c++) ref += (int64_t)m.q[(size_t)r * C + c] * xq[c];
                                /* one rounding of the integer to float, two products */
                CHECK(fabs(out[r] - (double)ref * m.scale[r] * 0.25) <= 1e-6 * fabs((double)ref * m.scale[r]) + 1e-30);
            }
            free(row); free(out); free(xq);
            q8_free(&m);
        }
    }
    threads_init(1);
}
