/* Every SIMD level's kernels against the plain C reference, on awkward
 * sizes and unaligned pointers. Float kernels: reassociation changes the
 * rounding, so dot products agree to 1e-5 relative to sum |a_i b_i|. */
#include <stdlib.h>

#include "kernels.h"
#include "test.h"

static const size_t sizes[] = {0, 1, 3, 4, 7, 8, 15, 16, 17, 63, 64, 65, 257, 1000};

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
    CHECK(cpu_best_level() <= cpu_build_level());
}

/* make check-legacy runs us under qemu-i386 -cpu NAME with
 * L1B_EXPECT_CPU=NAME: detection must find exactly that CPU's level. */
TEST(cpu_detection_matches_emulated_cpu)
{
    const char *cpu = getenv("L1B_EXPECT_CPU");
    if (!cpu) return;
    static const struct { const char *cpu; SimdLevel level; } known[] = {
        {"pentium2", SIMD_SCALAR}, {"pentium3", SIMD_SSE}, {"coreduo", SIMD_SSE2}, {"core2duo", SIMD_SSSE3},
    };
    int found = 0;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (!strcmp(cpu, known[i].cpu)) {
            found = 1;
            CHECK_STR(simd_name(cpu_best_level()), simd_name(known[i].level));
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
    static const size_t sizes2[] = {0, 1, 15, 16, 17, 31, 33, 64, 257, 299};
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
    enum { N = 203 };
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
    ref.adamw_f32(wr, g, mr, vr, N, c);
    /* hand-worked first element against the formula */
    float gi = g[0] * 0.5f, mi = 0.9f * m0[0] + 0.1f * gi, vi = 0.95f * v0[0] + 0.05f * gi * gi;
    float wi = w0[0] - 1e-3f * ((mi / 0.271f) / (sqrtf(vi / 0.143f) + 1e-8f) + 0.1f * w0[0]);
    CHECK_NEAR(wr[0], wi, 1e-6);
    for (int lv = SIMD_SCALAR; lv < SIMD_LEVELS; lv++) {
        if (kernels_for_level((SimdLevel)lv, &k) < 0) continue;
        float w[N], m[N], v[N];
        memcpy(w, w0, sizeof w);
        memcpy(m, m0, sizeof m);
        memcpy(v, v0, sizeof v);
        k.adamw_f32(w, g, m, v, N, c);
        for (int i = 0; i < N; i++) {
            /* the same operations in the same order: equal but for x87's
             * excess precision in 32-bit scalar builds, which can move a
             * result by an ulp of its terms (m and v may nearly cancel) */
            if (fabsf(w[i] - wr[i]) > 1e-6f * fabsf(wr[i]) + 1e-8f || fabsf(m[i] - mr[i]) > 1e-6f * fabsf(mr[i]) + 1e-8f)
                FAIL_AT("%s, element %d: %.9g vs %.9g", simd_name((SimdLevel)lv), i, w[i], wr[i]);
        }
    }
}
