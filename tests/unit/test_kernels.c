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
