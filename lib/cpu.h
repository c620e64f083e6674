/* cpu: which SIMD level this CPU (and this build) can run.
 * Levels are ordered: each one implies the ones before it. */
#ifndef L1B_CPU_H
#define L1B_CPU_H

typedef enum {
    SIMD_SCALAR = 0,  /* plain C, always present */
    SIMD_SSE,         /* Pentium III: 4-wide float, and MMX integers */
    SIMD_SSE2,        /* Pentium 4 / M: integer SSE, double */
    SIMD_SSSE3,       /* Core 2: pshufb, pmaddubsw, psign */
    SIMD_AVX2,        /* Haswell and later: 256-bit integer, FMA */
    SIMD_AVX512,      /* Ice Lake, Zen 4 and later: AVX-512 F/BW/VL + VNNI */
    SIMD_LEVELS
} SimdLevel;

/* Best level the CPU supports (CPUID, and OS support for AVX state),
 * capped by what this build compiled in. Computed once. */
SimdLevel cpu_best_level(void);
/* Highest level compiled into this build (SIMD_SCALAR for SIMD=0 and on
 * targets other than x86). */
SimdLevel cpu_build_level(void);
const char *simd_name(SimdLevel level);
/* Parse "scalar", "sse", "sse2", "ssse3", "avx2", "avx512"; -1 if unknown. */
int simd_parse(const char *name, SimdLevel *level);
/* Space-separated CPU feature names relevant to us, e.g. "sse sse2 sse3". */
const char *cpu_feature_string(void);

#endif
