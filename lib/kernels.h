/* kernels: the one table of hot loops, filled at start-up for the SIMD level
 * the CPU has (or the one L1B_SIMD asks for). The slots are listed once, in
 * kernels_slots.h, with each one's shapes and contract. Every slot has a
 * plain C reference in kernels_scalar.c; a level that has no version of its
 * own inherits the one below, so every slot is always callable. Tests check
 * that every level fills every slot and compare each level's kernels
 * against the scalar ones. */
#ifndef L1B_KERNELS_H
#define L1B_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include "cpu.h"

typedef struct {
    SimdLevel level;
    /* the widest n gemm_tile_f32 takes: 16; 64 at AVX-512 */
    size_t gemm_tile_cols;
    /* the int8 products are vector code (SSE2 and up, NEON, AltiVec): the
     * batched ternary product (codes_panel_4x32) then beats the float tile */
    int int8_simd;
    /* the slots, one function pointer each: see kernels_slots.h */
#define KERNEL_SLOT(name, ret, params) ret(*name) params;
#include "kernels_slots.h"
} Kernels;

/* The slots by number, for code that goes over all of them (tests):
 * KERNEL_SLOT_dot_f32 = 0, .. in the list's order, KERNEL_N_SLOTS of them. */
enum {
#define KERNEL_SLOT(name, ret, params) KERNEL_SLOT_##name,
#include "kernels_slots.h"
    KERNEL_N_SLOTS
};
/* "dot_f32", .. by slot number */
extern const char *const kernel_slot_names[KERNEL_N_SLOTS];
/* Slot i of a table as a plain function pointer, only to test it against
 * NULL or another table's (call it only through its own member); NULL
 * if i is out of range. */
typedef void (*KernelFn)(void);
KernelFn kernel_slot(const Kernels *k, int i);

/* The active table; valid after kernels_init(). */
extern Kernels kern;

/* Fill the active table: the level named by want (L1B_SIMD; NULL or ""
 * for none), else the best the CPU has. Returns 0, or -1 with a message
 * (l1b_error) when want is unknown or the CPU or build lacks it: then the
 * best level is used all the same. Safe to call more than once. */
int kernels_init(const char *want);
/* The table for a given level, for tests and benchmarks; -1 if this CPU or
 * build cannot run that level. It starts from an empty table, fills in the
 * plain C kernels, then each level's up to the one asked for. */
int kernels_for_level(SimdLevel level, Kernels *out);

/* Plain C kernels the SIMD versions also use for their last few elements. */
void quantize_i8_ref(const float *x, size_t n, float s, int8_t *q);
void adamw_f32_ref(float *w, const float *g, float *m, float *v, size_t n, const float k[8]);
/* the plain C axpy_i8_rows on the columns [from, len) only: a SIMD
 * version's last columns */
void axpy_i8_rows_from(float *y, const float *a, const int8_t *rows, size_t len, size_t n, size_t from);

/* Per-level fill functions: each overwrites the slots it implements, in
 * the list's order (the plain C one all of them, and gemm_tile_cols). */
void kernels_fill_scalar(Kernels *k);
void kernels_fill_sse(Kernels *k);
void kernels_fill_mmx(Kernels *k);
void kernels_fill_sse2(Kernels *k);
void kernels_fill_ssse3(Kernels *k);
void kernels_fill_avx2(Kernels *k);
void kernels_fill_avx512(Kernels *k);
void kernels_fill_neon(Kernels *k);
void kernels_fill_dotprod(Kernels *k);
void kernels_fill_altivec(Kernels *k);

#endif
