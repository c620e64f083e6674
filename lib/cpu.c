/* macOS hides sysctlbyname under strict POSIX */
#if defined(__APPLE__) && !defined(_DARWIN_C_SOURCE)
#define _DARWIN_C_SOURCE 1
#endif

#include "cpu.h"

#include <string.h>

/* The architecture, and how its CPU says what it has: CPUID on x86; on
 * ARM and PowerPC the operating system (Linux: the hardware capabilities
 * in the auxiliary vector; macOS: sysctl), never a trial instruction.
 * L1B_KERNELS_X86, L1B_KERNELS_NEON, L1B_KERNELS_DOTPROD,
 * L1B_KERNELS_ALTIVEC (from the Makefile): which SIMD kernels are compiled
 * in. */
#if defined(__i386__) || defined(__x86_64__)
#define L1B_X86 1
#include <cpuid.h>
#elif defined(L1B_KERNELS_X86)
#error "L1B_KERNELS_X86 on a target that is not x86"
#endif

#if defined(__aarch64__)
#define L1B_AARCH64 1
#elif defined(__arm__)
#define L1B_ARM32 1
#endif
#if (defined(L1B_KERNELS_NEON) && !defined(L1B_AARCH64) && !defined(L1B_ARM32)) || \
    (defined(L1B_KERNELS_DOTPROD) && !defined(L1B_AARCH64))
#error "ARM kernels on a target that is not ARM (or dotprod on 32-bit ARM)"
#endif

/* 32-bit PowerPC (big-endian): AltiVec on the G4 and G5 */
#if (defined(__powerpc__) || defined(__ppc__)) && !defined(__powerpc64__) && !defined(__ppc64__)
#define L1B_PPC32 1
#endif
#if defined(L1B_KERNELS_ALTIVEC) && !defined(L1B_PPC32)
#error "AltiVec kernels on a target that is not 32-bit PowerPC"
#endif

#if (defined(L1B_AARCH64) || defined(L1B_ARM32) || defined(L1B_PPC32)) && defined(__linux__)
#include <sys/auxv.h>
#define L1B_HWCAP 1
#define L1B_HWCAP_NEON (1UL << 12)     /* 32-bit ARM: HWCAP_NEON */
#define L1B_HWCAP_ASIMDDP (1UL << 20)  /* 64-bit ARM: HWCAP_ASIMDDP */
#define L1B_HWCAP_ALTIVEC 0x10000000UL /* PowerPC: PPC_FEATURE_HAS_ALTIVEC */
#endif
#if defined(L1B_PPC32) && defined(__APPLE__)
#include <sys/sysctl.h>
#endif
#if defined(L1B_AARCH64) && defined(__APPLE__)
#include <sys/sysctl.h>
#endif

static const char *const names[SIMD_LEVELS] = {"scalar", "sse", "sse2", "ssse3", "avx2",
                                               "avx512", "neon", "dotprod", "altivec"};

/* each architecture's levels, lowest first */
#if defined(L1B_X86)
static const SimdLevel arch_levels[] = {SIMD_SCALAR, SIMD_SSE, SIMD_SSE2, SIMD_SSSE3, SIMD_AVX2, SIMD_AVX512};
static const char level_names[] = "scalar, sse, sse2, ssse3, avx2, avx512";
#elif defined(L1B_AARCH64)
static const SimdLevel arch_levels[] = {SIMD_SCALAR, SIMD_NEON, SIMD_DOTPROD};
static const char level_names[] = "scalar, neon, dotprod";
#elif defined(L1B_ARM32)
static const SimdLevel arch_levels[] = {SIMD_SCALAR, SIMD_NEON};
static const char level_names[] = "scalar, neon";
#elif defined(L1B_PPC32)
static const SimdLevel arch_levels[] = {SIMD_SCALAR, SIMD_ALTIVEC};
static const char level_names[] = "scalar, altivec";
#else
static const SimdLevel arch_levels[] = {SIMD_SCALAR};
static const char level_names[] = "scalar";
#endif
#define N_ARCH_LEVELS ((int)(sizeof arch_levels / sizeof arch_levels[0]))

const SimdLevel *simd_levels(int *n)
{
    *n = N_ARCH_LEVELS;
    return arch_levels;
}

int simd_rank(SimdLevel level)
{
    for (int i = 0; i < N_ARCH_LEVELS; i++)
        if (arch_levels[i] == level) return i;
    return -1;
}

const char *simd_level_names(void) { return level_names; }

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
#if defined(L1B_KERNELS_X86)
    return SIMD_AVX512;
#elif defined(L1B_KERNELS_DOTPROD)
    return SIMD_DOTPROD;
#elif defined(L1B_KERNELS_NEON)
    return SIMD_NEON;
#elif defined(L1B_KERNELS_ALTIVEC)
    return SIMD_ALTIVEC;
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

/* the best level of this CPU (whatever the build has), and its features */
static SimdLevel detect_cpu(void)
{
    SimdLevel best = SIMD_SCALAR;
#if defined(L1B_X86)
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
#elif defined(L1B_AARCH64)
    /* Advanced SIMD is part of the 64-bit ARM base; the dot products are
     * ARMv8.2's optional FEAT_DotProd */
    int dotprod = 0;
#if defined(L1B_HWCAP)
    dotprod = (getauxval(AT_HWCAP) & L1B_HWCAP_ASIMDDP) != 0;
#elif defined(__APPLE__)
    int v = 0;
    size_t len = sizeof v;
    dotprod = sysctlbyname("hw.optional.arm.FEAT_DotProd", &v, &len, NULL, 0) == 0 && v;
#endif
    strcat(features, "neon ");
    best = SIMD_NEON;
    if (dotprod) strcat(features, "dotprod "), best = SIMD_DOTPROD;
#elif defined(L1B_ARM32)
    /* NEON is optional on ARMv7 (absent on Cortex-A9 without it, Tegra 2) */
    int neon = 0;
#if defined(L1B_HWCAP)
    neon = (getauxval(AT_HWCAP) & L1B_HWCAP_NEON) != 0;
#elif defined(__ARM_NEON)
    neon = 1;  /* the whole program is built for NEON */
#endif
    if (neon) strcat(features, "neon "), best = SIMD_NEON;
#elif defined(L1B_PPC32)
    /* AltiVec (VMX) is optional: the G4 and G5 have it, the G3 not */
    int altivec = 0;
#if defined(L1B_HWCAP)
    altivec = (getauxval(AT_HWCAP) & L1B_HWCAP_ALTIVEC) != 0;
#elif defined(__APPLE__)
    int v = 0;
    size_t len = sizeof v;
    altivec = sysctlbyname("hw.optional.altivec", &v, &len, NULL, 0) == 0 && v;
#endif
    if (altivec) strcat(features, "altivec "), best = SIMD_ALTIVEC;
#endif
    return best;
}

static void detect(void)
{
    features[0] = 0;
    SimdLevel best = detect_cpu();
    size_t n = strlen(features);
    if (n) features[n - 1] = 0;
    else strcpy(features, "none");
    if (simd_rank(best) > simd_rank(cpu_build_level())) best = cpu_build_level();
    cpu_level = best;
}

SimdLevel cpu_best_level(void)
{
    if (cpu_level == SIMD_LEVELS) detect();
    return cpu_level;
}

int cpu_has_level(SimdLevel level)
{
    int r = simd_rank(level);
    return r >= 0 && r <= simd_rank(cpu_best_level());
}

const char *cpu_feature_string(void)
{
    cpu_best_level();
    return features;
}
