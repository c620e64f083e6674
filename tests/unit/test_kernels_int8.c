/* the int8 kernels of the sampler (int8 tables and KV cache) and of
 * binary weights, at every level against the plain C ones */
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "kernels.h"
#include "test.h"
#include "threads.h"

static unsigned next(unsigned *seed)
{
    *seed = *seed * 1664525u + 1013904223u;
    return *seed >> 8;
}

TEST(binary_masked_sum_matches_scalar_at_every_level)
{
    Kernels ref, k;
    kernels_for_level(SIMD_SCALAR, &ref);
    /* a hand-worked block: bits 0, 9 and 63 set */
    uint8_t b1[8] = {0x01, 0x02, 0, 0, 0, 0, 0, 0x80};
    int8_t x1[64];
    for (int i = 0; i < 64; i++) x1[i] = (int8_t)(i - 32);
    CHECK_EQ(ref.binary_masked_sum(b1, x1, 1), -32 + -23 + 31);
    unsigned seed = 4;
    size_t maxb = 40;
    uint8_t *bits = malloc(maxb * 8 + 3);
    int8_t *x = malloc(maxb * 64 + 3);
    for (size_t i = 0; i < maxb * 8 + 3; i++) bits[i] = (uint8_t)next(&seed);
    for (size_t i = 0; i < maxb * 64 + 3; i++) x[i] = (int8_t)next(&seed);
    x[3] = -128;
    memset(x + 64, -128, 64);  /* a block of the most negative values */
    memset(bits + 8, 0xff, 8);
    static const size_t blocks[] = {0, 1, 2, 3, 15, 16, 17, 33};
    for (int lv = SIMD_SCALAR; lv < SIMD_LEVELS; lv++) {
        if (kernels_for_level((SimdLevel)lv, &k) < 0) continue;
        for (size_t bi = 0; bi < sizeof blocks / sizeof blocks[0]; bi++)
            for (int off = 0; off < 3; off++) {
                int32_t want = ref.binary_masked_sum(bits + off, x + off, blocks[bi]);
                int32_t got = k.binary_masked_sum(bits + off, x + off, blocks[bi]);
                if (want != got) FAIL_AT("%s, %zu blocks, offset %d: %d != %d", simd_name((SimdLevel)lv), blocks[bi], off, got, want);
            }
    }
    free(bits);
    free(x);
}

TEST(sum_u8_matches_scalar_at_every_level)
{
    Kernels ref, k;
    kernels_for_level(SIMD_SCALAR, &ref);
    const uint8_t three[3] = {255, 1, 7};
    CHECK_EQ(ref.sum_u8(three, 3), (uint64_t)263);
    enum { N = 1000 };
    uint8_t *x = malloc(N + 3);
    unsigned seed = 12;
    for (size_t i = 0; i < N + 3; i++) x[i] = (uint8_t)next(&seed);
    x[0] = x[1] = 255;
    static const size_t sizes[] = {0, 1, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257, 511, 700, N};
    for (int lv = SIMD_SCALAR; lv < SIMD_LEVELS; lv++) {
        if (kernels_for_level((SimdLevel)lv, &k) < 0) continue;
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
            for (int off = 0; off < 3; off++) {
                uint64_t want = ref.sum_u8(x + off, sizes[si]), got = k.sum_u8(x + off, sizes[si]);
                if (want != got)
                    FAIL_AT("sum_u8 %s, n %zu, offset %d: %llu != %llu", simd_name((SimdLevel)lv), sizes[si], off,
                            (unsigned long long)got, (unsigned long long)want);
            }
    }
    free(x);
}

TEST(dot_i8_and_the_row_kernels_match_scalar_at_every_level)
{
    Kernels ref, k;
    kernels_for_level(SIMD_SCALAR, &ref);
    int8_t a1[6] = {127, -127, 3, 1, 2, -1}, b1[3] = {127, 127, -5};
    CHECK_EQ(ref.dot_i8(a1, b1, 3), 127 * 127 - 127 * 127 - 15);
    int32_t d2[2];
    ref.dot_i8_rows(d2, b1, a1, 3, 2);   /* rows (127, -127, 3), (1, 2, -1) */
    CHECK(d2[0] == -15 && d2[1] == 127 + 254 + 5);
    float y1[3] = {1, 2, 3}, w2[2] = {0.5f, 2};
    ref.axpy_i8_rows(y1, w2, a1, 3, 2);  /* y += 0.5 row 0 + 2 row 1 */
    CHECK(y1[0] == 66.5f && y1[1] == -57.5f && y1[2] == 2.5f);

    unsigned seed = 8;
    size_t maxn = 300, nrows = 21;
    int8_t *a = malloc(maxn + 3), *b = malloc(maxn + 3), *rows = malloc(nrows * (maxn + 3));
    float *w = malloc(nrows * sizeof *w);
    float *y0 = malloc((maxn + 3) * sizeof *y0), *yr = malloc((maxn + 3) * sizeof *yr), *yk = malloc((maxn + 3) * sizeof *yk);
    int32_t dr[21], dk[21];
    for (size_t i = 0; i < maxn + 3; i++) {
        a[i] = (int8_t)((int)(next(&seed) % 255) - 127);  /* [-127, 127] */
        b[i] = (int8_t)((int)(next(&seed) % 255) - 127);
        y0[i] = (float)((int)(next(&seed) % 2001) - 1000) / 64.0f;
    }
    for (size_t i = 0; i < nrows * (maxn + 3); i++) rows[i] = (int8_t)((int)(next(&seed) % 255) - 127);
    for (size_t t = 0; t < nrows; t++) w[t] = (float)(next(&seed) % 1000) / 997.0f;
    a[0] = b[0] = 127;
    a[1] = b[1] = -127;
    static const size_t sizes[] = {0, 1, 3, 15, 16, 17, 31, 32, 33, 48, 63, 64, 65, 257};
    for (int lv = SIMD_SCALAR; lv < SIMD_LEVELS; lv++) {
        if (kernels_for_level((SimdLevel)lv, &k) < 0) continue;
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
            for (int off = 0; off < 3; off++) {
                size_t n = sizes[si];
                int32_t want = ref.dot_i8(a + off, b + off, n), got = k.dot_i8(a + off, b + off, n);
                if (want != got) FAIL_AT("dot_i8 %s, n %zu, offset %d: %d != %d", simd_name((SimdLevel)lv), n, off, got, want);
                /* 1..21 rows of n values: four-row groups and leftovers */
                for (size_t nr = 1; nr <= nrows; nr += 4) {
                    ref.dot_i8_rows(dr, a + off, rows + off, n, nr);
                    k.dot_i8_rows(dk, a + off, rows + off, n, nr);
                    if (memcmp(dr, dk, nr * sizeof *dr))
                        FAIL_AT("dot_i8_rows %s, len %zu, %zu rows, offset %d differs", simd_name((SimdLevel)lv), n, nr, off);
                    /* one product and one sum per element and row, in the
                     * same order: equal */
                    memcpy(yr, y0, (maxn + 3) * sizeof *yr);
                    memcpy(yk, y0, (maxn + 3) * sizeof *yk);
                    ref.axpy_i8_rows(yr + off, w, rows + off, n, nr);
                    k.axpy_i8_rows(yk + off, w, rows + off, n, nr);
                    if (memcmp(yr, yk, (maxn + 3) * sizeof *yr))
                        FAIL_AT("axpy_i8_rows %s, len %zu, %zu rows, offset %d differs", simd_name((SimdLevel)lv), n, nr, off);
                }
            }
    }
    free(a); free(b); free(rows); free(w); free(y0); free(yr); free(yk);
}

TEST(codes_panel_matches_scalar_at_every_level)
{
    Kernels ref, k;
    kernels_for_level(SIMD_SCALAR, &ref);
    /* hand-worked, K = 2: x row i = (i+1, 1); column j codes (j % 3, 2) */
    int8_t xh[4 * 2];
    uint8_t ph[64];
    for (int i = 0; i < 4; i++) xh[2 * i] = (int8_t)(i + 1), xh[2 * i + 1] = 1;
    for (int j = 0; j < 32; j++) ph[2 * j] = (uint8_t)(j % 3), ph[2 * j + 1] = 2;
    int32_t th[128];
    for (int t = 0; t < 128; t++) th[t] = 1000;  /* accumulated into */
    ref.codes_panel_4x32(th, xh, 2, ph, 2);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 32; j++) CHECK_EQ(th[i * 32 + j], 1000 + (i + 1) * (j % 3) + 2);
    /* K past 128 checks the widening of the 16-bit sums, here with the
     * largest ones (x = 127 or -127 runs, codes 2) in the second pass */
    static const size_t Ks[] = {2, 4, 16, 30, 32, 34, 64, 126, 128, 130, 256, 258, 2100};
    unsigned seed = 11;
    size_t maxk = 2100 + 4;
    int8_t *x = malloc(4 * maxk);
    uint8_t *panel = malloc(32 * maxk);
    int32_t want[128], got[128];
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < 4 * maxk; i++)
            x[i] = pass ? (int8_t)(i % 300 < 200 ? 127 : -127) : (int8_t)((int)(next(&seed) % 255) - 127);
        for (size_t i = 0; i < 32 * maxk; i++) panel[i] = pass ? 2 : (uint8_t)(next(&seed) % 3);
        for (int lv = SIMD_SCALAR; lv < SIMD_LEVELS; lv++) {
            if (kernels_for_level((SimdLevel)lv, &k) < 0) continue;
            for (size_t ki = 0; ki < sizeof Ks / sizeof Ks[0]; ki++)
                for (int off = 0; off < 2; off++) {
                    size_t K = Ks[ki], ld = K + 1;  /* odd row stride: unaligned rows */
                    for (int t = 0; t < 128; t++) want[t] = got[t] = t - 64;
                    ref.codes_panel_4x32(want, x + off, ld, panel + off, K);
                    k.codes_panel_4x32(got, x + off, ld, panel + off, K);
                    for (int t = 0; t < 128; t++)
                        if (want[t] != got[t])
                            FAIL_AT("%s, K %zu, pass %d, entry %d: %d != %d", simd_name((SimdLevel)lv), K, pass, t, got[t], want[t]);
                }
        }
    }
    free(x);
    free(panel);
}

/* 2-bit rows into the panel: plain C against the layout written out
 * (code k of a row: bits 2 (k % 64 / 16) of byte k / 64 * 16 + k % 16),
 * every level against plain C, on partial panels, several blocks, an odd
 * row stride and unaligned rows */
TEST(panel_2bit_matches_scalar_at_every_level)
{
    Kernels ref, k;
    kernels_for_level(SIMD_SCALAR, &ref);
    enum { MAXB = 5, STRIDE = MAXB * 16 + 3 };
    unsigned seed = 5;
    uint8_t *rows = malloc(32 * STRIDE + 1), *want = malloc(2048 * MAXB), *got = malloc(2048 * MAXB);
    for (size_t i = 0; i < 32 * STRIDE + 1; i++) rows[i] = (uint8_t)next(&seed);
    static const size_t nrs[] = {1, 3, 4, 15, 16, 17, 31, 32}, nbs[] = {1, 2, 5};
    for (size_t a = 0; a < sizeof nrs / sizeof nrs[0]; a++)
        for (size_t c = 0; c < sizeof nbs / sizeof nbs[0]; c++)
            for (int off = 0; off < 2; off++) {
                size_t nr = nrs[a], nb = nbs[c], bytes = 2048 * nb;
                const uint8_t *r = rows + off;
                memset(want, 0xaa, bytes);
                ref.panel_2bit(want, r, STRIDE, nr, nb);
                for (size_t kk = 0; kk < 64 * nb; kk++)
                    for (size_t j = 0; j < 32; j++) {
                        int code = j < nr ? r[j * STRIDE + kk / 64 * 16 + kk % 16] >> (2 * (kk % 64 / 16)) & 3 : 0;
                        if (want[(kk / 2 * 32 + j) * 2 + kk % 2] != code)
                            FAIL_AT("plain C: %zu rows, %zu blocks, k %zu, row %zu", nr, nb, kk, j);
                    }
                for (int lv = SIMD_SCALAR; lv < SIMD_LEVELS; lv++) {
                    if (kernels_for_level((SimdLevel)lv, &k) < 0) continue;
                    memset(got, 0x55, bytes);
                    k.panel_2bit(got, r, STRIDE, nr, nb);
                    if (memcmp(want, got, bytes))
                        FAIL_AT("%s: %zu rows, %zu blocks, offset %d differ", simd_name((SimdLevel)lv), nr, nb, off);
                }
            }
    free(rows); free(want); free(got);
}

/* four axpy_i8_rows at once: plain C as four calls of axpy_i8_rows, every
 * level equal to it to the bit (weights with zeros, as attention's masked
 * positions, odd strides, unaligned rows) */
TEST(axpy4_i8_rows_matches_scalar_at_every_level)
{
    Kernels ref, k;
    kernels_for_level(SIMD_SCALAR, &ref);
    enum { MAXN = 257, NR = 21, LDY = MAXN + 3, LDA = NR + 2 };
    unsigned seed = 9;
    int8_t *rows = malloc(NR * MAXN + 3);
    float *a = malloc(4 * LDA * sizeof *a), *y0 = malloc(4 * LDY * sizeof *y0);
    float *yr = malloc(4 * LDY * sizeof *yr), *yk = malloc(4 * LDY * sizeof *yk);
    for (size_t i = 0; i < NR * MAXN + 3; i++) rows[i] = (int8_t)((int)(next(&seed) % 255) - 127);
    for (size_t i = 0; i < 4 * LDA; i++) a[i] = i % 7 == 3 ? 0 : (float)(next(&seed) % 1000) / 997.0f;
    for (size_t i = 0; i < 4 * LDY; i++) y0[i] = (float)((int)(next(&seed) % 2001) - 1000) / 64.0f;
    static const size_t sizes[] = {1, 3, 8, 15, 16, 17, 24, 31, 32, 33, 48, 63, 64, 65, 80, 257};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
        for (size_t nr = 1; nr <= NR; nr += 4)
            for (int off = 0; off < 2; off++) {
                size_t len = sizes[si];
                memcpy(yr, y0, 4 * LDY * sizeof *yr);
                for (int i = 0; i < 4; i++) ref.axpy_i8_rows(yr + i * LDY + off, a + i * LDA, rows + off, len, nr);
                for (int lv = SIMD_SCALAR; lv < SIMD_LEVELS; lv++) {
                    if (kernels_for_level((SimdLevel)lv, &k) < 0) continue;
                    memcpy(yk, y0, 4 * LDY * sizeof *yk);
                    k.axpy4_i8_rows(yk + off, LDY, a, LDA, rows + off, len, nr);
                    if (memcmp(yr, yk, 4 * LDY * sizeof *yr))
                        FAIL_AT("%s: len %zu, %zu rows, offset %d differs", simd_name((SimdLevel)lv), len, nr, off);
                }
            }
    free(rows); free(a); free(y0); free(yr); free(yk);
}

/* the BitLinear forward product against a plain triple loop, on shapes
 * with partial row groups and an odd column, at 1 and 2 threads */
TEST(gemm_codes_nt_equals_the_integer_product)
{
    static const size_t shapes[][3] = {{1, 5, 3}, {4, 32, 2}, {7, 33, 5}, {13, 128, 9}, {64, 130, 70}, {8, 352, 33}};
    unsigned seed = 5;
    Kernels keep = kern;
    /* every level (below SSE2 the product runs as floats), 1 and 2 threads */
    for (int run = 0; run < 2 * SIMD_LEVELS; run++) {
        int threads = 1 + run % 2;
        if (kernels_for_level((SimdLevel)(run / 2), &kern) < 0) continue;
        threads_init(threads);
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            size_t M = shapes[s][0], K = shapes[s][1], N = shapes[s][2];
            int8_t *x = malloc(M * K);
            uint8_t *codes = malloc(N * K);
            float *xs = malloc(M * sizeof *xs), *out = malloc(M * N * sizeof *out);
            for (size_t i = 0; i < M * K; i++) x[i] = (int8_t)((int)(next(&seed) % 255) - 127);
            for (size_t i = 0; i < N * K; i++) codes[i] = (uint8_t)(next(&seed) % 3);
            for (size_t m = 0; m < M; m++) xs[m] = 0.01f * (float)(m + 1);
            for (int accumulate = 0; accumulate < 2; accumulate++) {
                for (size_t i = 0; i < M * N; i++) out[i] = 1.5f;
                gemm_codes_nt(out, x, xs, codes, 0.5f, M, K, N, accumulate);
                for (size_t m = 0; m < M; m++)
                    for (size_t n = 0; n < N; n++) {
                        int32_t acc = 0;
                        for (size_t k = 0; k < K; k++) acc += x[m * K + k] * ((int)codes[n * K + k] - 1);
                        float sm = xs[m] * 0.5f, want = (float)acc * sm;
                        if (accumulate) want = 1.5f + want;
                        if (out[m * N + n] != want)
                            FAIL_AT("%s, accumulate %d: %zux%zux%zu at (%zu, %zu): %g != %g", simd_name(kern.level),
                                    accumulate, M, K, N, m, n, out[m * N + n], want);
                    }
            }
            free(x); free(codes); free(xs); free(out);
        }
    }
    kern = keep;
    threads_init(1);
}

/* a byte of five base-3 digits as the packing writes it (ternary.h) */
static uint8_t base3_byte(unsigned v) { return (uint8_t)((v * 256 + 242) / 243); }

/* the one-row and four-row base-3 kernels of every level against the
 * scalar one, on every block count up to 9 (odd ones leave AVX2 a last
 * single block), unaligned rows and x, x over the full int8 range; and the
 * scalar one against the digits worked out by hand */
TEST(ternary_base3_dot_and_dot4_match_scalar_at_every_level)
{
    Kernels ref, k;
    kernels_for_level(SIMD_SCALAR, &ref);
    unsigned seed = 33;
    size_t maxb = 9, row_bytes = maxb * 16 + 5;
    uint8_t *codes = malloc(4 * row_bytes + 3);
    int8_t *x = malloc(maxb * 80 + 3);
    for (size_t i = 0; i < 4 * row_bytes + 3; i++) codes[i] = base3_byte(next(&seed) % 243);
    codes[0] = base3_byte(242);  /* all digits 2 */
    codes[1] = base3_byte(0);
    for (size_t i = 0; i < maxb * 80 + 3; i++) x[i] = (int8_t)next(&seed);
    x[3] = -128;
    x[16] = -128;
    for (int lv = SIMD_SCALAR; lv < SIMD_LEVELS; lv++) {
        if (kernels_for_level((SimdLevel)lv, &k) < 0) continue;
        for (size_t nb = 0; nb <= maxb; nb++)
            for (int off = 0; off < 2; off++) {
                int32_t got[4] = {0};
                if (nb) k.ternary_base3_dot4(got, codes + off, row_bytes, x + off, nb);
                for (int r = 0; r < 4; r++) {
                    int32_t want = ref.ternary_base3_dot(codes + off + r * row_bytes, x + off, nb);
                    int32_t one = k.ternary_base3_dot(codes + off + r * row_bytes, x + off, nb);
                    if (one != want)
                        FAIL_AT("%s, %zu blocks, row %d, offset %d: one row %d != %d", simd_name((SimdLevel)lv), nb, r, off, one, want);
                    if (nb && got[r] != want)
                        FAIL_AT("%s, %zu blocks, row %d, offset %d: four rows %d != %d", simd_name((SimdLevel)lv), nb, r, off, got[r], want);
                }
            }
    }
    /* by hand: byte 0 holds the codes of weights 0, 16, 32, 48, 64 as
     * 2 0 1 2 1: v = 2*81 + 0*27 + 1*9 + 2*3 + 1 = 178, byte 188; every other
     * byte code 1 everywhere (v = 121, byte 128), against x = 0 there */
    uint8_t c1[16];
    int8_t x1[80] = {0};
    memset(c1, 128, 16);
    c1[0] = 188;
    CHECK_EQ(base3_byte(178), 188);
    CHECK_EQ(base3_byte(121), 128);
    x1[0] = 5; x1[16] = 7; x1[32] = -3; x1[48] = 11; x1[64] = -13;
    /* 2*5 + 0*7 + 1*(-3) + 2*11 + 1*(-13) = 16 */
    CHECK_EQ(ref.ternary_base3_dot(c1, x1, 1), 16);
    free(codes);
    free(x);
}

TEST(ternary_codes_dot4_matches_four_single_rows_at_every_level)
{
    Kernels ref, k;
    kernels_for_level(SIMD_SCALAR, &ref);
    unsigned seed = 21;
    size_t maxb = 9, row_bytes = maxb * 16 + 5;  /* rows not 16-byte aligned */
    uint8_t *codes = malloc(4 * row_bytes + 3);
    int8_t *x = malloc(maxb * 64 + 3);
    for (size_t i = 0; i < 4 * row_bytes + 3; i++) {
        unsigned v = next(&seed);
        codes[i] = (uint8_t)(v % 3 | (v / 3 % 3) << 2 | (v / 9 % 3) << 4 | (v / 27 % 3) << 6);
    }
    for (size_t i = 0; i < maxb * 64 + 3; i++) x[i] = (int8_t)next(&seed);
    for (int lv = SIMD_SCALAR; lv < SIMD_LEVELS; lv++) {
        if (kernels_for_level((SimdLevel)lv, &k) < 0) continue;
        for (size_t nb = 1; nb <= maxb; nb++)
            for (int off = 0; off < 2; off++) {
                int32_t got[4];
                k.ternary_codes_dot4(got, codes + off, row_bytes, x + off, nb);
                for (int r = 0; r < 4; r++) {
                    int32_t want = ref.ternary_codes_dot(codes + off + r * row_bytes, x + off, nb);
                    if (got[r] != want)
                        FAIL_AT("%s, %zu blocks, row %d, offset %d: %d != %d", simd_name((SimdLevel)lv), nb, r, off, got[r], want);
                }
            }
    }
    free(codes);
    free(x);
}
