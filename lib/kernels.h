/* kernels: the one table of hot loops, filled at start-up for the SIMD level
 * the CPU has (or the one L1B_SIMD asks for). Every entry has a plain C
 * reference in kernels_scalar.c; a level that has no version of its own
 * inherits the one below, so every slot is always callable. Tests compare
 * each level's kernels against the scalar ones. */
#ifndef L1B_KERNELS_H
#define L1B_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include "cpu.h"

typedef struct {
    SimdLevel level;
    /* sum_i a[i] * b[i]                       a, b: (n) */
    float (*dot_f32)(const float *a, const float *b, size_t n);
    /* max_i |x[i]| (0 for n == 0)             x: (n)    */
    float (*absmax_f32)(const float *x, size_t n);
    /* out[j] = sum_k a[k] * b[j*ldb + k], j < 4  a: (K), b: (4, ldb) */
    void (*dot4_f32)(const float *a, const float *b, size_t ldb, size_t K, float out[4]);
    /* y[i] += sum_j c[j] * x[j*ldx + i], j < 4   y: (n), x: (4, ldx) */
    void (*axpy4_f32)(float *y, const float *x, size_t ldx, const float c[4], size_t n);
    /* a 4 x n tile of a matrix product, accumulated:
     *   out[i*ldo + j] += alpha * sum_k a[i*sm + k*sk] * b[k*ldb + j]
     * for i < 4, j < n, k < K — a (4, K) with any strides, b (K, n) rows;
     * n a multiple of 16, at most gemm_tile_cols, the widest tile the
     * level keeps in registers (16; 64 at AVX-512). Every level sums over
     * k in order. */
    size_t gemm_tile_cols;
    void (*gemm_tile_f32)(float *out, size_t ldo, const float *a, size_t sm, size_t sk, const float *b,
                          size_t ldb, size_t K, size_t n, float alpha);
    /* q[i] = clamp(round(x[i] * s), -128, 127), rounding to nearest, ties to
     * even: int8 activation quantisation                x: (n), q: (n) */
    void (*quantize_i8)(const float *x, size_t n, float s, int8_t *q);
    /* one AdamW update of n weights (optim.h has the formula); k holds
     * {beta1, beta2, eps, lr, wd, 1-beta1^t, 1-beta2^t, grad scale} */
    void (*adamw_f32)(float *w, const float *g, float *m, float *v, size_t n, const float k[8]);
    /* sum of code * x over n_blocks packed ternary blocks (ternary.h):
     * 16 bytes of 2-bit codes against 64 int8 values each */
    int32_t (*ternary_codes_dot)(const uint8_t *codes, const int8_t *x, size_t n_blocks);
    /* the same for 4 rows of codes, row_bytes apart, against one x: one
     * pass over x and one reduction for the four sums (small matrices) */
    void (*ternary_codes_dot4)(int32_t out[4], const uint8_t *codes, size_t row_bytes, const int8_t *x,
                               size_t n_blocks);
    /* the same two for base-3 packing (ternary.h): n_blocks blocks of 16
     * bytes, five codes a byte, against 80 int8 values each */
    int32_t (*ternary_base3_dot)(const uint8_t *codes, const int8_t *x, size_t n_blocks);
    void (*ternary_base3_dot4)(int32_t out[4], const uint8_t *codes, size_t row_bytes, const int8_t *x,
                               size_t n_blocks);

    /* Row kernels of the float layers (layers.c). The plain C versions use
     * expf; the SIMD ones their own vector exp (kernels_sse_exp.h), which
     * gives 0 for x < -87.3365 (where expf is denormal or 0, and for -inf),
     * propagates NaN and saturates at exp(88.3763) ~ 2.4e38 above. */
    /* y[i] = exp(x[i]); y may be x                       x, y: (n) */
    void (*exp_f32)(float *y, const float *x, size_t n);
    /* p = softmax(x) = exp(x - max) / sum; p may be x. Returns the sum
     * before normalising and stores max in *maxv unless maxv is NULL
     * (log softmax[i] = x[i] - max - log sum).          x, p: (n) */
    float (*softmax_f32)(float *p, const float *x, size_t n, float *maxv);
    /* out = x * r * w, r = 1/sqrt(mean(x^2) + eps); returns r   (n) */
    float (*rmsnorm_f32)(float *out, const float *x, const float *w, size_t n, float eps);
    /* RMSNorm backward of one row with saved r, accumulating:
     * dx += r w g - (r^3/n) x sum(g w x);  dw += g x r        (n) */
    void (*rmsnorm_bwd_f32)(float *dx, float *dw, const float *g, const float *x, const float *w, float r,
                            size_t n);
    /* out = silu(gate) * up, silu(g) = g / (1 + exp(-g))        (n) */
    void (*swiglu_f32)(float *out, const float *gate, const float *up, size_t n);
    /* dgate += dout up s (1 + g (1 - s)), dup += dout g s, s = sigmoid(g) */
    void (*swiglu_bwd_f32)(float *dgate, float *dup, const float *dout, const float *gate, const float *up,
                           size_t n);
    /* out = max(0, x)^2; dx += dout * 2x where x > 0            (n) */
    void (*relu2_f32)(float *out, const float *x, size_t n);
    void (*relu2_bwd_f32)(float *dx, const float *dout, const float *x, size_t n);
    /* sum of x[i] over the set bits of n_blocks binary blocks (ternary.h):
     * 8 bytes of bits against 64 int8 values each */
    int32_t (*binary_masked_sum)(const uint8_t *bits, const int8_t *x, size_t n_blocks);
    /* sum_i a[i] * b[i] of int8 vectors with values in [-127, 127], exact */
    int32_t (*dot_i8)(const int8_t *a, const int8_t *b, size_t n);
    /* the same over n rows of len values (attention over an int8 cache):
     *   out[t] = sum_i q[i] * rows[t*len + i]        (dot_i8 per row)
     *   y[i] += a[t] * rows[t*len + i], for t = 0, 1, .. in turn */
    void (*dot_i8_rows)(int32_t *out, const int8_t *q, const int8_t *rows, size_t len, size_t n);
    void (*axpy_i8_rows)(float *y, const float *a, const int8_t *rows, size_t len, size_t n);
    /* 4 rows of int8 activations against a panel of 32 columns of ternary
     * codes (weight + 1: 0, 1, 2) as bytes, K even, accumulated:
     *   out[i*32 + j] += sum_k x[i*ldx + k] * code(k, j),  i < 4, j < 32
     * the panel holds code(k, j) at panel[(k/2 * 32 + j) * 2 + k%2], so a
     * pair of k is a byte pair for pmaddubsw; x in [-127, 127]; exact */
    void (*codes_panel_4x32)(int32_t *out, const int8_t *x, size_t ldx, const uint8_t *panel, size_t K);
} Kernels;

/* The active table; valid after kernels_init(). */
extern Kernels kern;

/* Choose the level: L1B_SIMD if set (falling back, with a warning on
 * stderr, when the CPU or build lacks it), else the best the CPU has.
 * Returns the level chosen. Safe to call more than once. */
SimdLevel kernels_init(void);
/* The table for a given level, for tests and benchmarks; -1 if this CPU or
 * build cannot run that level. */
int kernels_for_level(SimdLevel level, Kernels *out);

/* Plain C kernels the SIMD versions also use for their last few elements. */
void quantize_i8_ref(const float *x, size_t n, float s, int8_t *q);
void adamw_f32_ref(float *w, const float *g, float *m, float *v, size_t n, const float k[8]);
void axpy_i8_rows_ref(float *y, const float *a, const int8_t *rows, size_t len, size_t n);
/* axpy_i8_rows_ref on the columns [from, len) only: a SIMD version's last
 * columns */
void axpy_i8_rows_from(float *y, const float *a, const int8_t *rows, size_t len, size_t n, size_t from);

/* Per-level fill functions: each overwrites the slots it implements. */
void kernels_fill_scalar(Kernels *k);
void kernels_fill_sse(Kernels *k);
void kernels_fill_mmx(Kernels *k);
void kernels_fill_sse2(Kernels *k);
void kernels_fill_ssse3(Kernels *k);
void kernels_fill_avx2(Kernels *k);
void kernels_fill_avx512(Kernels *k);

#endif
