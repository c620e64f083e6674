#include "cpu.h"

#include <string.h>

/* L1B_X86: the CPU can be asked (CPUID) what it has. L1B_KERNELS_X86 (from
 * the Makefile): the x86 SIMD kernels are compiled in. */
#if defined(__i386__) || defined(__x86_64__)
#define L1B_X86 1
#include <cpuid.h>
#elif defined(L1B_KERNELS_X86)
#error "L1B_KERNELS_X86 on a target that is not x86"
#endif

static const char *const names[SIMD_LEVELS] = {"scalar", "sse", "sse2", "ssse3", "avx2", "avx512"};

const char *simd_name(SimdLevel level)
{
    return level >= 0 && level < SIMD_LEVELS ? names[level] : "?";
}

int simd_parse(const char *name, SimdLevel *level)
{
    for (int i = 0; i < SIMD_LEVELS; i++)
        if (!strcmp(name, names[i])) { *level = (SimdLevel)i; return 0; }
    return -1;
}

SimdLevel cpu_build_level(void)
{
#ifdef L1B_KERNELS_X86
    return SIMD_AVX512;
#else
    return SIMD_SCALAR;
#endif
}

static char features[128];
static SimdLevel cpu_level = SIMD_LEVELS;  /* not yet detected */

#ifdef L1B_X86
static unsigned long long xgetbv0(void)
{
    unsigned eax, edx;
    /* xgetbv with ecx = 0, as raw bytes so no -mxsave is needed */
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(eax), "=d"(edx) : "c"(0));
    return (unsigned long long)edx << 32 | eax;
}
#endif

static void detect(void)
{
    SimdLevel best = SIMD_SCALAR;
    features[0] = 0;
#ifdef L1B_X86
    unsigned a, b, c, d;
    if (__get_cpuid(1, &a, &b, &c, &d)) {
        int sse = d >> 25 & 1, sse2 = d >> 26 & 1, sse3 = c & 1, ssse3 = c >> 9 & 1;
        int osxsave = c >> 27 & 1, avx = c >> 28 & 1, fma = c >> 12 & 1;
        int avx2 = 0, avx512 = 0;
        if (osxsave && avx && (xgetbv0() & 6) == 6 && __get_cpuid_max(0, 0) >= 7) {
            __cpuid_count(7, 0, a, b, c, d);
            avx2 = b >> 5 & 1;
            /* F, BW, VL and VNNI, and the OS saving the opmask and all 512
             * bits of the zmm registers (XCR0 bits 5-7) */
            avx512 = (b >> 16 & 1) && (b >> 30 & 1) && (b >> 31 & 1) && (c >> 11 & 1) &&
                     (xgetbv0() & 0xe6) == 0xe6;
        }
        if (sse) strcat(features, "sse "), best = SIMD_SSE;
        if (sse2) strcat(features, "sse2 "), best = sse ? SIMD_SSE2 : best;
        if (sse3) strcat(features, "sse3 ");
        if (ssse3) strcat(features, "ssse3 "), best = best == SIMD_SSE2 ? SIMD_SSSE3 : best;
        if (fma) strcat(features, "fma ");
        if (avx2) strcat(features, "avx2 ");
        if (avx512) strcat(features, "avx512 ");
        if (avx2 && fma && best == SIMD_SSSE3) best = SIMD_AVX2;
        if (avx512 && best == SIMD_AVX2) best = SIMD_AVX512;
    }
#endif
    size_t n = strlen(features);
    if (n) features[n - 1] = 0;
    else strcpy(features, "none");
    if (best > cpu_build_level()) best = cpu_build_level();
    cpu_level = best;
}

SimdLevel cpu_best_level(void)
{
    if (cpu_level == SIMD_LEVELS) detect();
    return cpu_level;
}

const char *cpu_feature_string(void)
{
    cpu_best_level();
    return features;
}
