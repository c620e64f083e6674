/* cpu: which SIMD levels this CPU (and this build) can run.
 *
 * The levels of every architecture share one enum; each architecture has
 * its own ordered list of them (simd_levels), plain C first, in which each
 * level implies the ones before it: on x86 scalar, sse, sse2, ssse3, avx2,
 * avx512; on 64-bit ARM scalar, neon, dotprod; on 32-bit ARM scalar, neon;
 * on 32-bit PowerPC scalar, altivec; elsewhere scalar alone. A level of another architecture is never
 * available here (kernels_for_level gives -1 for it). Compare levels of
 * one architecture with simd_rank, not with < on the enum. */
#ifndef L1B_CPU_H
#define L1B_CPU_H

typedef enum {
    SIMD_SCALAR = 0,  /* plain C, always present */
    /* x86 */
    SIMD_SSE,         /* Pentium III: 4-wide float, and MMX integers */
    SIMD_SSE2,        /* Pentium 4 / M: integer SSE, double */
    SIMD_SSSE3,       /* Core 2: pshufb, pmaddubsw, psign */
    SIMD_AVX2,        /* Haswell and later: 256-bit integer, FMA */
    SIMD_AVX512,      /* Ice Lake, Zen 4 and later: AVX-512 F/BW/VL + VNNI */
    /* ARM */
    SIMD_NEON,        /* Advanced SIMD: every 64-bit ARM, 32-bit ARMv7 with NEON */
    SIMD_DOTPROD,     /* ARMv8.2 SDOT/UDOT (64-bit ARM): Cortex-A55/A76, Apple M1 and later */
    /* PowerPC */
    SIMD_ALTIVEC,     /* AltiVec (VMX), 32-bit PowerPC: G4 (7400, 7450), G5 */
    SIMD_LEVELS
} SimdLevel;

/* This architecture's levels, lowest (SIMD_SCALAR) first; their number in
 * *n. The same list whatever the build compiled in (make SIMD=0). */
const SimdLevel *simd_levels(int *n);
/* The level's place in that list (0 for SIMD_SCALAR), -1 if it is not a
 * level of this architecture. */
int simd_rank(SimdLevel level);
/* "scalar, sse, sse2, ssse3, avx2, avx512" (this architecture's list), for
 * messages. */
const char *simd_level_names(void);
/* Best level the CPU supports (CPUID and OS support for AVX state on x86;
 * what the OS reports on ARM), capped by what this build compiled in.
 * Computed once. */
SimdLevel cpu_best_level(void);
/* 1 if this CPU and build can run the level: a level of this
 * architecture no higher than cpu_best_level(). */
int cpu_has_level(SimdLevel level);
/* Highest level compiled into this build (SIMD_SCALAR for SIMD=0 and on
 * architectures without SIMD kernels). */
SimdLevel cpu_build_level(void);
const char *simd_name(SimdLevel level);
/* Parse a level's name ("scalar", "sse", .., "avx512", "neon", "dotprod",
 * "altivec": every architecture's); -1 if unknown. */
int simd_parse(const char *name, SimdLevel *level);
/* Space-separated CPU feature names relevant to us, e.g. "sse sse2 sse3";
 * "none" if there are none. */
const char *cpu_feature_string(void);

#endif
