#include "kernels.h"

#include "util.h"

Kernels kern;

const char *const kernel_slot_names[KERNEL_N_SLOTS] = {
#define KERNEL_SLOT(name, ret, params) #name,
#include "kernels_slots.h"
};

KernelFn kernel_slot(const Kernels *k, int i)
{
    switch (i) {
#define KERNEL_SLOT(name, ret, params) \
    case KERNEL_SLOT_##name:           \
        return (KernelFn)k->name;
#include "kernels_slots.h"
    }
    return NULL;
}

int kernels_for_level(SimdLevel level, Kernels *out)
{
    if (!cpu_has_level(level)) return -1;  /* above this CPU, or another architecture's */
    *out = (Kernels){0};  /* a slot no fill sets stays NULL, for the tests */
    kernels_fill_scalar(out);
    /* within one architecture the enum follows its list (cpu.h), so >
     * orders its levels */
#ifdef L1B_KERNELS_X86
    if (level >= SIMD_SSE) {  /* SSE floats, MMX integers */
        kernels_fill_sse(out);
        kernels_fill_mmx(out);
    }
    if (level >= SIMD_SSE2) kernels_fill_sse2(out);
    if (level >= SIMD_SSSE3) kernels_fill_ssse3(out);
    if (level >= SIMD_AVX2) kernels_fill_avx2(out);
    if (level >= SIMD_AVX512) kernels_fill_avx512(out);
#endif
#ifdef L1B_KERNELS_NEON
    if (level >= SIMD_NEON) kernels_fill_neon(out);
#endif
#ifdef L1B_KERNELS_DOTPROD
    if (level >= SIMD_DOTPROD) kernels_fill_dotprod(out);
#endif
#ifdef L1B_KERNELS_ALTIVEC
    if (level >= SIMD_ALTIVEC) kernels_fill_altivec(out);
#endif
    out->level = level;
    return 0;
}

int kernels_init(const char *want)
{
    SimdLevel level = cpu_best_level(), asked;
    int rc = 0;
    if (want && *want) {
        if (simd_parse(want, &asked) < 0)
            rc = l1b_error("L1B_SIMD=%s: unknown level (%s); using %s", want, simd_level_names(), simd_name(level));
        else if (simd_rank(asked) < 0)
            rc = l1b_error("L1B_SIMD=%s: not a level of this architecture (%s); using %s", want, simd_level_names(),
                           simd_name(level));
        else if (!cpu_has_level(asked))
            rc = l1b_error("L1B_SIMD=%s: not supported by this %s; using %s", want,
                           simd_rank(cpu_build_level()) < simd_rank(asked) ? "build" : "CPU", simd_name(level));
        else
            level = asked;
    }
    kernels_for_level(level, &kern);
    return rc;
}
