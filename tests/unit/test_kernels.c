/* Every SIMD level's kernels against the plain C reference, on awkward
 * sizes and unaligned pointers. Float kernels: reassociation changes the
 * rounding, so dot products agree to 1e-5 relative to sum |a_i b_i|. */
#include <float.h>
#include <stdlib.h>

#include "kernels.h"
#include "test.h"

static const size_t sizes[] = {0, 1, 3, 4, 7, 8, 15, 16, 17, 63, 64, 65, 257, 1000};

/* The sizes around every vector width and unaligned pointers (offset 1
 * float); a sentinel after the row checks that tails write nothing past n. */
static const size_t row_sizes[] = {1, 3, 15, 17, 63, 65, 257};
#define ROW_MAX 260
#define SENTINEL 12345.0f

static float frand(unsigned *s)
{
    *s = *s * 1664525u + 1013904223u;
    return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

TEST(kernels_match_scalar_at_every_level)
{
    Kernels ref, k;
    kernels_for_level(SIMD_SCALAR, &ref);
    unsigned seed = 1;
    float *a = malloc(1100 * sizeof *a), *b = malloc(1100 * sizeof *b);
    for (int i = 0; i < 1100; i++) a[i] = frand(&seed), b[i] = frand(&seed);
    int levels = 0;
    for (int lv = SIMD_SCALAR; lv < SIMD_LEVELS; lv++) {
        if (kernels_for_level((SimdLevel)lv, &k) < 0) continue;
        levels++;
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            for (int off = 0; off < 3; off++) {  /* 0: aligned; 1, 2: not */
                size_t n = sizes[si];
                float want = ref.dot_f32(a + off, b + off, n), got = k.dot_f32(a + off, b + off, n);
                float mag = 0;
                for (size_t i = 0; i < n; i++) mag += fabsf(a[off + i] * b[off + i]);
                CHECK_NEAR(got, want, 1e-5 * mag + 1e-7);
                CHECK(k.absmax_f32(a + off, n) == ref.absmax_f32(a + off, n));
            }
        }
    }
    CHECK(levels >= 1);
    free(a);
    free(b);
}

/* Every slot of the list (kernels_slots.h) and the test that compares it
 * with the plain C kernel at every level, on awkward sizes (around each
 * vector width) and unaligned pointers. A new slot needs a line here. */
static const struct {
    const char *slot, *test;
} compared[] = {
    {"dot_f32", "kernels_match_scalar_at_every_level"},
    {"absmax_f32", "kernels_match_scalar_at_every_level"},
    {"dot4_f32", "dot4_and_axpy4_match_scalar_at_every_level"},
    {"axpy4_f32", "dot4_and_axpy4_match_scalar_at_every_level"},
    {"gemm_tile_f32", "gemm_tile_matches_scalar_at_every_level"},  /* test_gemm.c */
    {"quantize_i8", "quantize_i8_matches_scalar_at_every_level_exactly"},
    {"adamw_f32", "adamw_kernel_matches_scalar_at_every_level"},
    {"ternary_codes_dot", "ternary_codes_dot_matches_scalar_at_every_level"},
    /* test_kernels_int8.c from here on, to binary_masked_sum */
    {"ternary_codes_dot4", "ternary_codes_dot4_matches_four_single_rows_at_every_level"},
    {"ternary_base3_dot", "ternary_base3_dot_and_dot4_match_scalar_at_every_level"},
    {"ternary_base3_dot4", "ternary_base3_dot_and_dot4_match_scalar_at_every_level"},
    {"exp_f32", "exp_kernel_matches_expf_at_every_level"},
    {"softmax_f32", "softmax_kernel_matches_scalar_at_every_level"},
    {"rmsnorm_f32", "rmsnorm_kernels_match_scalar_at_every_level"},
    {"rmsnorm_bwd_f32", "rmsnorm_kernels_match_scalar_at_every_level"},
    {"swiglu_f32", "swiglu_kernels_match_scalar_at_every_level"},
    {"swiglu_bwd_f32", "swiglu_kernels_match_scalar_at_every_level"},
    {"relu2_f32", "relu2_kernels_match_scalar_at_every_level"},
    {"relu2_bwd_f32", "relu2_kernels_match_scalar_at_every_level"},
    {"binary_masked_sum", "binary_masked_sum_matches_scalar_at_every_level"},
    {"dot_i8", "dot_i8_and_the_row_kernels_match_scalar_at_every_level"},
    {"dot_i8_rows", "dot_i8_and_the_row_kernels_match_scalar_at_every_level"},
    {"sum_u8", "sum_u8_matches_scalar_at_every_level"},
    {"axpy_i8_rows", "dot_i8_and_the_row_kernels_match_scalar_at_every_level"},
    {"codes_panel_4x32", "codes_panel_matches_scalar_at_every_level"},
    {"panel_2bit", "panel_2bit_matches_scalar_at_every_level"},
    {"axpy4_i8_rows", "axpy4_i8_rows_matches_scalar_at_every_level"},
};

TEST(kernel_table_is_full_at_every_level)
{
    Kernels k;
    CHECK_EQ(kernels_for_level(SIMD_SCALAR, &k), 0);  /* always there */
    for (int lv = SIMD_SCALAR; lv < SIMD_LEVELS; lv++) {
        if (kernels_for_level((SimdLevel)lv, &k) < 0) continue;
        CHECK_EQ(k.level, lv);
        CHECK(k.gemm_tile_cols >= 16);
        for (int i = 0; i < KERNEL_N_SLOTS; i++)
            if (!kernel_slot(&k, i)) FAIL_AT("%s: slot %s is empty", simd_name((SimdLevel)lv), kernel_slot_names[i]);
    }
    CHECK(kernel_slot(&k, -1) == NULL && kernel_slot(&k, KERNEL_N_SLOTS) == NULL);
    /* the names are the members' (the list gives both) */
    CHECK_STR(kernel_slot_names[KERNEL_SLOT_dot_f32], "dot_f32");
    CHECK_STR(kernel_slot_names[KERNEL_N_SLOTS - 1], "axpy4_i8_rows");
    CHECK(kernel_slot(&k, KERNEL_SLOT_exp_f32) == (KernelFn)k.exp_f32);
}

TEST(every_kernel_slot_has_a_comparison_test)
{
    size_t n = sizeof compared / sizeof compared[0];
    for (int i = 0; i < KERNEL_N_SLOTS; i++) {
        int found = 0;
        for (size_t j = 0; j < n; j++) found += !strcmp(compared[j].slot, kernel_slot_names[i]);
        if (found != 1) FAIL_AT("slot %s: %d entries in compared[] (test_kernels.c), not 1", kernel_slot_names[i], found);
    }
    for (size_t j = 0; j < n; j++) {  /* none for a slot that is gone */
        int found = 0;
        for (int i = 0; i < KERNEL_N_SLOTS; i++) found |= !strcmp(compared[j].slot, kernel_slot_names[i]);
        if (!found) FAIL_AT("compared[]: no slot %s", compared[j].slot);
    }
}

/* dot4 and axpy4 (attention over a float cache): dot4 as dot_f32, to
 * 1e-5 of sum |a b|; axpy4 adds four products to y, in another order or
 * fused at some levels: a few roundings of the terms' size */
TEST(dot4_and_axpy4_match_scalar_at_every_level)
{
    Kernels ref, k;
    kernels_for_level(SIMD_SCALAR, &ref);
    unsigned seed = 2;
    enum { L = 4 * (ROW_MAX + 1) + 2 };
    float a[ROW_MAX + 2], b[L], y0[ROW_MAX + 2], yr[ROW_MAX + 2], yk[ROW_MAX + 2];
    for (int i = 0; i < ROW_MAX + 2; i++) a[i] = frand(&seed), y0[i] = frand(&seed);
    for (int i = 0; i < L; i++) b[i] = frand(&seed);
    const float c[4] = {0.75f, -1.5f, 0.125f, 2.0f};
    for (int lv = SIMD_SCALAR; lv < SIMD_LEVELS; lv++) {
        if (kernels_for_level((SimdLevel)lv, &k) < 0) continue;
        const char *lvn = simd_name((SimdLevel)lv);
        for (size_t si = 0; si < sizeof row_sizes / sizeof row_sizes[0]; si++)
            for (int off = 0; off < 2; off++) {
                size_t n = row_sizes[si], ld = n + 1;  /* odd row stride: unaligned rows */
                float want[4], got[4];
                ref.dot4_f32(a + off, b + off, ld, n, want);
                k.dot4_f32(a + off, b + off, ld, n, got);
                for (int j = 0; j < 4; j++) {
                    double mag = 0;
                    for (size_t i = 0; i < n; i++) mag += fabs(a[off + i] * b[off + j * ld + i]);
                    if (!(fabs(got[j] - want[j]) <= 1e-5 * mag + 1e-7))
                        FAIL_AT("dot4 %s, n %zu, offset %d, row %d: %.9g vs %.9g", lvn, n, off, j, got[j], want[j]);
                }
                memcpy(yr, y0, sizeof yr);
                memcpy(yk, y0, sizeof yk);
                ref.axpy4_f32(yr + off, b + off, ld, c, n);
                k.axpy4_f32(yk + off, b + off, ld, c, n);
                CHECK(yk[off + n] == y0[off + n]);
                for (size_t i = 0; i < n; i++) {
                    size_t t = off + i;
                    double mag = fabs(y0[t]);
                    for (int j = 0; j < 4; j++) mag += fabs(c[j] * b[off + j * ld + i]);
                    if (!(fabs(yk[t] - yr[t]) <= 4 * FLT_EPSILON * mag))
                        FAIL_AT("axpy4 %s, n %zu, offset %d, [%zu]: %.9g vs %.9g", lvn, n, off, i, yk[t], yr[t]);
                }
            }
    }
}

TEST(kernels_absmax_reference_values)
{
    Kernels ref;
    kernels_for_level(SIMD_SCALAR, &ref);
    float x[5] = {0.5f, -3.25f, 2.0f, -0.0f, 3.0f};
    CHECK(ref.absmax_f32(x, 5) == 3.25f);
    CHECK(ref.absmax_f32(x, 0) == 0.0f);
    float y[3] = {1, 2, 3};
    CHECK(ref.dot_f32(x, y, 3) == 0.5f - 6.5f + 6.0f);
}

TEST(simd_names_parse_back)
{
    for (int lv = 0; lv < SIMD_LEVELS; lv++) {
        SimdLevel back;
        CHECK_EQ(simd_parse(simd_name((SimdLevel)lv), &back), 0);
        CHECK_EQ(back, lv);
    }
    SimdLevel x;
    CHECK_EQ(simd_parse("mmx", &x), -1);
    CHECK(simd_rank(cpu_best_level()) >= 0);
    CHECK(simd_rank(cpu_best_level()) <= simd_rank(cpu_build_level()));
}

/* this architecture's list starts with plain C, ranks its levels in
 * order, and kernels_for_level gives a table for exactly the levels the
 * CPU has: the list's first ones, up to the best */
TEST(simd_levels_are_this_architectures_in_order)
{
    int n;
    const SimdLevel *list = simd_levels(&n);
    CHECK(n >= 1 && list[0] == SIMD_SCALAR);
    for (int i = 0; i < n; i++) {
        CHECK_EQ(simd_rank(list[i]), i);
        CHECK(i == 0 || list[i] > list[i - 1]);  /* the enum follows each list */
    }
    int here = 0;
    for (int lv = 0; lv < SIMD_LEVELS; lv++) {
        Kernels k;
        int has = cpu_has_level((SimdLevel)lv);
        CHECK_EQ(kernels_for_level((SimdLevel)lv, &k), has ? 0 : -1);
        if (has) CHECK(simd_rank((SimdLevel)lv) == here++);
        if (simd_rank((SimdLevel)lv) < 0) CHECK(!has);
    }
    CHECK_EQ(here, simd_rank(cpu_best_level()) + 1);
    CHECK(strstr(simd_level_names(), simd_name(cpu_best_level())) != NULL);
}

/* make check-legacy, make check-arm and make check-bigendian-powerpc run
 * us under qemu -cpu NAME with L1B_EXPECT_CPU=NAME: detection must find
 * exactly that CPU's level (capped by the build's: a SIMD=0 build finds
 * plain C). */
TEST(cpu_detection_matches_emulated_cpu)
{
    const char *cpu = getenv("L1B_EXPECT_CPU");
    if (!cpu) return;
    /* qemu's CPU names, for the architecture they belong to */
    static const struct { const char *cpu; SimdLevel level; } known[] = {
#if defined(__aarch64__)
        {"cortex-a53", SIMD_NEON}, {"max", SIMD_DOTPROD},
#elif defined(__arm__)
        {"cortex-a7", SIMD_NEON}, {"cortex-a8", SIMD_NEON}, {"cortex-a15", SIMD_NEON},
        {"cortex-r5f", SIMD_SCALAR},  /* ARMv7 with VFP, no NEON */
#elif defined(__powerpc__) && !defined(__powerpc64__)
        {"g4", SIMD_ALTIVEC}, {"g3", SIMD_SCALAR},  /* the G3 has no AltiVec */
#else
        {"pentium2", SIMD_SCALAR}, {"pentium3", SIMD_SSE}, {"coreduo", SIMD_SSE2}, {"core2duo", SIMD_SSSE3},
#endif
    };
    int found = 0;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (!strcmp(cpu, known[i].cpu)) {
            found = 1;
            SimdLevel want = known[i].level;
            if (simd_rank(want) > simd_rank(cpu_build_level())) want = cpu_build_level();
            CHECK_STR(simd_name(cpu_best_level()), simd_name(want));
        }
    CHECK(found);
}

TEST(ternary_codes_dot_matches_scalar_at_every_level)
{
    Kernels ref, k;
    kernels_for_level(SIMD_SCALAR, &ref);
    unsigned seed = 9;
    size_t maxb = 40;
    uint8_t *codes = malloc(maxb * 16 + 3);
    int8_t *x = malloc(maxb * 64 + 3);
    for (size_t i = 0; i < maxb * 16 + 3; i++) {
        seed = seed * 1664525u + 1013904223u;
        /* codes 0..2 per 2-bit field, as packing writes them */
        uint8_t b = 0;
        for (int j = 0; j < 4; j++) b |= (uint8_t)(((seed >> (8 + 3 * j)) % 3) << (2 * j));
        codes[i] = b;
    }
    for (size_t i = 0; i < maxb * 64 + 3; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (int8_t)(seed >> 24);  /* the full range, -128 included */
    }
    x[5] = -128;
    static const size_t blocks[] = {0, 1, 2, 3, 15, 16, 17, 33};
    for (int lv = SIMD_SCALAR; lv < SIMD_LEVELS; lv++) {
        if (kernels_for_level((SimdLevel)lv, &k) < 0) continue;
        for (size_t bi = 0; bi < sizeof blocks / sizeof blocks[0]; bi++)
            for (int off = 0; off < 3; off++) {
                int32_t want = ref.ternary_codes_dot(codes + off, x + off, blocks[bi]);
                int32_t got = k.ternary_codes_dot(codes + off, x + off, blocks[bi]);
                if (want != got) FAIL_AT("%s, %zu blocks, offset %d: %d != %d", simd_name((SimdLevel)lv), blocks[bi], off, got, want);
            }
    }
    /* a hand-worked block: codes 2 (+1) on weights 0 and 16, 0 (-1) on 48 */
    uint8_t c1[16];
    int8_t x1[64] = {0};
    memset(c1, 0x55, 16);            /* all code 1 */
    c1[0] = 0x46;                    /* bits: w0 = 2, w16 = 1, w32 = 0, w48 = 1 -> 0b01 00 01 10 */
    x1[0] = 5; x1[16] = 7; x1[32] = -3; x1[48] = 11;
    /* sum code*x = 2*5 + 1*7 + 0*(-3) + 1*11 = 28 */
    CHECK_EQ(ref.ternary_codes_dot(c1, x1, 1), 28);
    free(codes);
    free(x);
}

TEST(quantize_i8_matches_scalar_at_every_level_exactly)
{
    Kernels ref, k;
    kernels_for_level(SIMD_SCALAR, &ref);
    float x[300];
    unsigned seed = 4;
    for (int i = 0; i < 300; i++) x[i] = 2.0f * frand(&seed);
    x[7] = 0.5f / 60.0f;   /* x * s = 0.5 exactly below: a tie, to even (0) */
    x[8] = 1.5f / 60.0f;   /* 1.5: to even (2) */
    int8_t want[300], got[300];
    static const size_t sizes2[] = {0, 1, 3, 15, 16, 17, 31, 33, 63, 64, 65, 257, 299};
    for (int lv = SIMD_SCALAR; lv < SIMD_LEVELS; lv++) {
        if (kernels_for_level((SimdLevel)lv, &k) < 0) continue;
        for (size_t si = 0; si < sizeof sizes2 / sizeof sizes2[0]; si++)
            for (int off = 0; off < 2; off++) {
                size_t n = sizes2[si];
                ref.quantize_i8(x + off, n, 60.0f, want);
                k.quantize_i8(x + off, n, 60.0f, got);
                if (memcmp(want, got, n)) FAIL_AT("%s, n %zu, offset %d", simd_name((SimdLevel)lv), n, off);
            }
    }
    /* hand-worked: s 60 on {0.5/60, 1.5/60, 1, -3, 2.5/60} -> {0, 2, 60, -128, 2} */
    float h[5] = {0.5f / 60.0f, 1.5f / 60.0f, 1.0f, -3.0f, 2.5f / 60.0f};
    int8_t q[5];
    ref.quantize_i8(h, 5, 60.0f, q);
    CHECK_EQ(q[2], 60);
    CHECK_EQ(q[3], -128);   /* saturates */
    CHECK(q[0] == 0 || q[0] == 1);  /* 0.5 / 60 * 60 may not be exactly 0.5 in float */
}

TEST(adamw_kernel_matches_scalar_at_every_level)
{
    Kernels ref, k;
    kernels_for_level(SIMD_SCALAR, &ref);
    enum { N = ROW_MAX + 2 };
    float w0[N], g[N], m0[N], v0[N];
    unsigned seed = 8;
    for (int i = 0; i < N; i++) {
        w0[i] = frand(&seed);
        g[i] = frand(&seed);
        m0[i] = 0.1f * frand(&seed);
        v0[i] = 0.01f * fabsf(frand(&seed));
    }
    const float c[8] = {0.9f, 0.95f, 1e-8f, 1e-3f, 0.1f, 0.271f, 0.143f, 0.5f};
    float wr[N], mr[N], vr[N];
    memcpy(wr, w0, sizeof wr);
    memcpy(mr, m0, sizeof mr);
    memcpy(vr, v0, sizeof vr);
    ref.adamw_f32(wr, g, mr, vr, 203, c);
    /* hand-worked first element against the formula */
    float gi = g[0] * 0.5f, mi = 0.9f * m0[0] + 0.1f * gi, vi = 0.95f * v0[0] + 0.05f * gi * gi;
    float wi = w0[0] - 1e-3f * ((mi / 0.271f) / (sqrtf(vi / 0.143f) + 1e-8f) + 0.1f * w0[0]);
    CHECK_NEAR(wr[0], wi, 1e-6);
    for (int lv = SIMD_SCALAR; lv < SIMD_LEVELS; lv++) {
        if (kernels_for_level((SimdLevel)lv, &k) < 0) continue;
        for (size_t si = 0; si < sizeof row_sizes / sizeof row_sizes[0]; si++)
            for (int off = 0; off < 2; off++) {
                size_t n = row_sizes[si];
                float w[N], m[N], v[N];
                memcpy(wr, w0, sizeof wr);
                memcpy(mr, m0, sizeof mr);
                memcpy(vr, v0, sizeof vr);
                memcpy(w, w0, sizeof w);
                memcpy(m, m0, sizeof m);
                memcpy(v, v0, sizeof v);
                ref.adamw_f32(wr + off, g + off, mr + off, vr + off, n, c);
                k.adamw_f32(w + off, g + off, m + off, v + off, n, c);
                CHECK(w[off + n] == w0[off + n] && m[off + n] == m0[off + n] && v[off + n] == v0[off + n]);
                for (size_t i = off; i < off + n; i++) {
                    /* the same operations in the same order: equal but for
                     * x87's excess precision in 32-bit scalar builds, which
                     * can move a result by an ulp of its terms (m and v may
                     * nearly cancel) */
                    if (fabsf(w[i] - wr[i]) > 1e-6f * fabsf(wr[i]) + 1e-8f ||
                        fabsf(m[i] - mr[i]) > 1e-6f * fabsf(mr[i]) + 1e-8f)
                        FAIL_AT("%s, n %zu, offset %d, element %zu: %.9g vs %.9g", simd_name((SimdLevel)lv), n, off,
                                i - off, w[i], wr[i]);
                }
            }
    }
}

/* ---- row kernels of the float layers ------------------------------------ */

typedef struct {
    const char *level;
    size_t n;
    int off;
} Where;

static int near_rel(float got, float want, double rel, double abs_tol)
{
    if (isnan(want)) return isnan(got);
    if (isinf(want)) return got == want;
    return fabs((double)got - want) <= rel * fabs(want) + abs_tol;
}

/* Sums of n positive terms taken in two different orders differ by at most
 * (n - 1) u relative each way (u = FLT_EPSILON / 2): the bound for
 * softmax's and RMSNorm's sums, plus a few roundings around them. Measured
 * differences are far smaller (about 1e-6 at n = 1000), but a fixed 1e-6
 * would sit too close to them. */
static double sum_tol(size_t n) { return (double)(n + 4) * FLT_EPSILON; }

static void fill_range(float *x, size_t n, float lo, float hi, unsigned *seed)
{
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * 0.5f * (frand(seed) + 1.0f);
}

/* exp: both the plain C expf and the vector exp are within 1.01 ulp of the
 * true value (measured; kernels_sse_exp.h), so they agree to 2e-7 relative,
 * and below -87.3365 (denormal results) to FLT_MIN absolutely */
TEST(exp_kernel_matches_expf_at_every_level)
{
    Kernels ref, k;
    kernels_for_level(SIMD_SCALAR, &ref);
    unsigned seed = 11;
    float x[ROW_MAX + 2], want[ROW_MAX + 2], got[ROW_MAX + 2];
    fill_range(x, ROW_MAX + 2, -90.0f, 88.0f, &seed);
    for (int i = 0; i < 40; i++) x[i] *= 0.05f;  /* some near 0 too */
    for (int lv = SIMD_SCALAR; lv < SIMD_LEVELS; lv++) {
        if (kernels_for_level((SimdLevel)lv, &k) < 0) continue;
        for (size_t si = 0; si < sizeof row_sizes / sizeof row_sizes[0]; si++)
            for (int off = 0; off < 2; off++) {
                size_t n = row_sizes[si];
                ref.exp_f32(want, x + off, n);
                got[n] = SENTINEL;
                k.exp_f32(got, x + off, n);
                CHECK(got[n] == SENTINEL);
                for (size_t i = 0; i < n; i++)
                    if (!near_rel(got[i], want[i], 2e-7, 1.2e-38))
                        FAIL_AT("%s, n %zu, offset %d: exp(%.9g) = %.9g, expf %.9g", simd_name((SimdLevel)lv), n, off,
                                x[off + i], got[i], want[i]);
            }
        /* the rest checks our exp, not the C library's */
        if (lv == SIMD_SCALAR) continue;
        /* against exp in double on a grid over the whole range: 1.01 ulp is
         * at most 1.2e-7 relative */
        float g[256], e[256];
        for (int i = 0; i < 256; i++) g[i] = -87.0f + 175.0f * (float)i / 255.0f;
        k.exp_f32(e, g, 256);
        for (int i = 0; i < 256; i++)
            if (!(fabs(e[i] - exp((double)g[i])) <= 1.2e-7 * exp((double)g[i])))
                FAIL_AT("%s: exp(%.9g) = %.9g, true %.9g", simd_name((SimdLevel)lv), g[i], e[i], exp((double)g[i]));
        /* edge inputs: 0, the normal range's end, below it (0, as masked
         * attention and underflowing softmax terms need), -inf, the top */
        float edge[8] = {0.0f, -87.0f, -87.3f, -104.0f, -INFINITY, 88.0f, -1000.0f, NAN}, y[8];
        k.exp_f32(y, edge, 8);
        CHECK(y[0] == 1.0f);
        /* true values as constants: exp() in double under qemu-i386 is
         * itself off by 3e-6 near -87.3 */
        CHECK_NEAR(y[1] / 1.6458114310822737e-38, 1.0, 1.2e-7);
        CHECK_NEAR(y[2] / 1.2192433751108288e-38, 1.0, 1.2e-7);  /* -87.3f: still normal */
        CHECK(y[3] == 0.0f);
        CHECK(y[4] == 0.0f);
        CHECK_NEAR(y[5] / 1.6516362549940019e38, 1.0, 1.2e-7);
        CHECK(y[6] == 0.0f);
        CHECK(isnan(y[7]));
    }
}

/* softmax: 2e-7 from the exps, the rest from summing in another order
 * (sum_tol) */
TEST(softmax_kernel_matches_scalar_at_every_level)
{
    Kernels ref, k;
    kernels_for_level(SIMD_SCALAR, &ref);
    unsigned seed = 12;
    float x[ROW_MAX + 2], want[ROW_MAX + 2], got[ROW_MAX + 2];
    fill_range(x, ROW_MAX + 2, -12.0f, 12.0f, &seed);
    x[40] = -INFINITY;  /* masked scores */
    x[41] = -INFINITY;
    x[70] = 60.0f;      /* one that dominates its row */
    for (int lv = SIMD_SCALAR; lv < SIMD_LEVELS; lv++) {
        if (kernels_for_level((SimdLevel)lv, &k) < 0) continue;
        for (size_t si = 0; si < sizeof row_sizes / sizeof row_sizes[0]; si++)
            for (int off = 0; off < 2; off++) {
                size_t n = row_sizes[si];
                float mref, mgot = 0;
                float sref = ref.softmax_f32(want, x + off, n, &mref);
                got[n] = SENTINEL;
                float sgot = k.softmax_f32(got, x + off, n, &mgot);
                CHECK(got[n] == SENTINEL);
                CHECK(mgot == mref);
                if (!near_rel(sgot, sref, sum_tol(n), 0)) FAIL_AT("%s, n %zu: sum %.9g vs %.9g", simd_name((SimdLevel)lv), n, sgot, sref);
                double total = 0;
                for (size_t i = 0; i < n; i++) {
                    total += got[i];
                    if (!near_rel(got[i], want[i], sum_tol(n) + 2e-7, 1e-30))
                        FAIL_AT("%s, n %zu, offset %d, [%zu]: %.9g vs %.9g", simd_name((SimdLevel)lv), n, off, i, got[i],
                                want[i]);
                }
                CHECK_NEAR(total, 1.0, 1e-5);
                /* in place, as attention and the loss call it */
                float y[ROW_MAX + 2];
                memcpy(y, x + off, n * sizeof *y);
                k.softmax_f32(y, y, n, NULL);
                CHECK(!memcmp(y, got, n * sizeof *y));
            }
    }
}

/* RMSNorm: sums in another order (sum_tol) */
TEST(rmsnorm_kernels_match_scalar_at_every_level)
{
    Kernels ref, k;
    kernels_for_level(SIMD_SCALAR, &ref);
    unsigned seed = 13;
    enum { L = ROW_MAX + 2 };
    float x[L], w[L], g[L], want[L], got[L], dx0[L], dw0[L], dxr[L], dwr[L], dxg[L], dwg[L];
    fill_range(x, L, -3.0f, 3.0f, &seed);
    fill_range(w, L, 0.5f, 1.5f, &seed);
    fill_range(g, L, -1.0f, 1.0f, &seed);
    fill_range(dx0, L, -0.1f, 0.1f, &seed);
    fill_range(dw0, L, -0.1f, 0.1f, &seed);
    for (int lv = SIMD_SCALAR; lv < SIMD_LEVELS; lv++) {
        if (kernels_for_level((SimdLevel)lv, &k) < 0) continue;
        for (size_t si = 0; si < sizeof row_sizes / sizeof row_sizes[0]; si++)
            for (int off = 0; off < 2; off++) {
                size_t n = row_sizes[si];
                const char *lvn = simd_name((SimdLevel)lv);
                float rref = ref.rmsnorm_f32(want, x + off, w + off, n, 1e-5f);
                got[n] = SENTINEL;
                float rgot = k.rmsnorm_f32(got, x + off, w + off, n, 1e-5f);
                CHECK(got[n] == SENTINEL);
                if (!near_rel(rgot, rref, sum_tol(n), 0)) FAIL_AT("%s, n %zu: rstd %.9g vs %.9g", lvn, n, rgot, rref);
                for (size_t i = 0; i < n; i++)
                    if (!near_rel(got[i], want[i], sum_tol(n), 0))
                        FAIL_AT("%s, n %zu, offset %d, [%zu]: %.9g vs %.9g", lvn, n, off, i, got[i], want[i]);
                /* backward: dx has a difference of two terms; the bound is
                 * relative to their magnitudes */
                memcpy(dxr, dx0, sizeof dxr);
                memcpy(dwr, dw0, sizeof dwr);
                memcpy(dxg, dx0, sizeof dxg);
                memcpy(dwg, dw0, sizeof dwg);
                ref.rmsnorm_bwd_f32(dxr + off, dwr + off, g + off, x + off, w + off, rref, n);
                k.rmsnorm_bwd_f32(dxg + off, dwg + off, g + off, x + off, w + off, rref, n);
                CHECK(dxg[off + n] == dx0[off + n] && dwg[off + n] == dw0[off + n]);
                double gwx = 0;
                for (size_t i = 0; i < n; i++) gwx += fabs(g[off + i] * w[off + i] * x[off + i]);
                double kk = (double)rref * rref * rref * gwx / (double)n;
                for (size_t i = 0; i < n; i++) {
                    size_t j = off + i;
                    double mag = fabs(rref * w[j] * g[j]) + kk * fabs(x[j]) + fabs(dx0[j]);
                    if (!(fabs(dxg[j] - dxr[j]) <= sum_tol(n) * mag))
                        FAIL_AT("%s, n %zu, offset %d: dx[%zu] %.9g vs %.9g", lvn, n, off, i, dxg[j], dxr[j]);
                    if (!(fabs(dwg[j] - dwr[j]) <= 4 * FLT_EPSILON * (fabs(dw0[j]) + fabs(g[j] * x[j] * rref))))
                        FAIL_AT("%s, n %zu, offset %d: dw[%zu] %.9g vs %.9g", lvn, n, off, i, dwg[j], dwr[j]);
                }
            }
    }
}

/* SwiGLU: the sigmoid from the vector exp, 2e-7, and a division; 1e-6
 * relative to the terms' magnitudes (silu' crosses 0 near g = -1.28) */
TEST(swiglu_kernels_match_scalar_at_every_level)
{
    Kernels ref, k;
    kernels_for_level(SIMD_SCALAR, &ref);
    unsigned seed = 14;
    enum { L = ROW_MAX + 2 };
    float gt[L], up[L], d[L], want[L], got[L], dg0[L], du0[L], dgr[L], dur[L], dgg[L], dug[L];
    fill_range(gt, L, -10.0f, 10.0f, &seed);
    fill_range(up, L, -2.0f, 2.0f, &seed);
    fill_range(d, L, -1.0f, 1.0f, &seed);
    fill_range(dg0, L, -0.1f, 0.1f, &seed);
    fill_range(du0, L, -0.1f, 0.1f, &seed);
    gt[5] = 0.0f;
    gt[9] = -95.0f;  /* exp(-g) past the float range */
    gt[10] = 95.0f;
    gt[20] = -88.0f;
    for (int lv = SIMD_SCALAR; lv < SIMD_LEVELS; lv++) {
        if (kernels_for_level((SimdLevel)lv, &k) < 0) continue;
        for (size_t si = 0; si < sizeof row_sizes / sizeof row_sizes[0]; si++)
            for (int off = 0; off < 2; off++) {
                size_t n = row_sizes[si];
                const char *lvn = simd_name((SimdLevel)lv);
                ref.swiglu_f32(want, gt + off, up + off, n);
                got[n] = SENTINEL;
                k.swiglu_f32(got, gt + off, up + off, n);
                CHECK(got[n] == SENTINEL);
                for (size_t i = 0; i < n; i++)
                    if (!near_rel(got[i], want[i], 1e-6, 1e-30))
                        FAIL_AT("%s, n %zu, offset %d: swiglu(%.9g) %.9g vs %.9g", lvn, n, off, gt[off + i], got[i], want[i]);
                memcpy(dgr, dg0, sizeof dgr);
                memcpy(dur, du0, sizeof dur);
                memcpy(dgg, dg0, sizeof dgg);
                memcpy(dug, du0, sizeof dug);
                ref.swiglu_bwd_f32(dgr + off, dur + off, d + off, gt + off, up + off, n);
                k.swiglu_bwd_f32(dgg + off, dug + off, d + off, gt + off, up + off, n);
                CHECK(dgg[off + n] == dg0[off + n] && dug[off + n] == du0[off + n]);
                for (size_t i = 0; i < n; i++) {
                    size_t j = off + i;
                    double gg = gt[j], s = 1 / (1 + exp(-gg));
                    double mg = fabs(d[j] * up[j] * s) * (1 + fabs(gg * (1 - s))) + fabs(dg0[j]);
                    double mu = fabs(d[j] * gg * s) + fabs(du0[j]);
                    if (!(fabs(dgg[j] - dgr[j]) <= 1e-6 * mg + 1e-30) || !(fabs(dug[j] - dur[j]) <= 1e-6 * mu + 1e-30))
                        FAIL_AT("%s, n %zu, offset %d, g %.9g: dgate %.9g vs %.9g, dup %.9g vs %.9g", lvn, n, off, gg,
                                dgg[j], dgr[j], dug[j], dur[j]);
                }
            }
    }
}

/* ReLU²: the forward is the same to the bit; the backward too but for
 * x87's excess precision in 32-bit scalar builds, where dx + 2 dout x is
 * rounded once instead of twice */
TEST(relu2_kernels_match_scalar_at_every_level)
{
    Kernels ref, k;
    kernels_for_level(SIMD_SCALAR, &ref);
    unsigned seed = 15;
    enum { L = ROW_MAX + 2 };
    float x[L], d[L], want[L], got[L], dx0[L], dxr[L], dxg[L];
    fill_range(x, L, -2.0f, 2.0f, &seed);
    fill_range(d, L, -1.0f, 1.0f, &seed);
    fill_range(dx0, L, -0.1f, 0.1f, &seed);
    x[3] = 0.0f;
    x[4] = -0.0f;
    for (int lv = SIMD_SCALAR; lv < SIMD_LEVELS; lv++) {
        if (kernels_for_level((SimdLevel)lv, &k) < 0) continue;
        for (size_t si = 0; si < sizeof row_sizes / sizeof row_sizes[0]; si++)
            for (int off = 0; off < 2; off++) {
                size_t n = row_sizes[si];
                ref.relu2_f32(want, x + off, n);
                got[n] = SENTINEL;
                k.relu2_f32(got, x + off, n);
                CHECK(got[n] == SENTINEL);
                memcpy(dxr, dx0, sizeof dxr);
                memcpy(dxg, dx0, sizeof dxg);
                ref.relu2_bwd_f32(dxr + off, d + off, x + off, n);
                k.relu2_bwd_f32(dxg + off, d + off, x + off, n);
                CHECK(dxg[off + n] == dx0[off + n]);
                for (size_t i = 0; i < n; i++) {
                    size_t j = off + i;
                    if (got[i] != want[i])
                        FAIL_AT("%s, n %zu, offset %d: relu2(%.9g) %.9g vs %.9g", simd_name((SimdLevel)lv), n, off,
                                x[j], got[i], want[i]);
                    if (!(fabs(dxg[j] - dxr[j]) <= FLT_EPSILON * (fabs(dx0[j]) + fabs(2 * d[j] * x[j]))))
                        FAIL_AT("%s, n %zu, offset %d: dx %.9g vs %.9g", simd_name((SimdLevel)lv), n, off, dxg[j], dxr[j]);
                }
            }
    }
}
