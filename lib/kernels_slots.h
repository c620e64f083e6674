/* kernels_slots.h: the list of the kernel table's slots (kernels.h), one
 * entry a slot:
 *
 *     KERNEL_SLOT(name, return type, (parameters))
 *
 * Not a normal header: it has no include guard, and a file that includes
 * it first defines KERNEL_SLOT to make what it needs of each entry; the
 * list #undefs it at the end. From it come the members of Kernels, the
 * slot numbers KERNEL_SLOT_<name> and KERNEL_N_SLOTS, the names in
 * kernel_slot_names[], kernel_slot(), and kernels_fill_scalar(), which
 * sets every slot to <name>_scalar (so a slot without a plain C version
 * does not compile). The order is the members' order; nothing else
 * depends on it. */

/* sum_i a[i] * b[i]                       a, b: (n) */
KERNEL_SLOT(dot_f32, float, (const float *a, const float *b, size_t n))
/* max_i |x[i]| (0 for n == 0)             x: (n)    */
KERNEL_SLOT(absmax_f32, float, (const float *x, size_t n))
/* out[j] = sum_k a[k] * b[j*ldb + k], j < 4  a: (K), b: (4, ldb) */
KERNEL_SLOT(dot4_f32, void, (const float *a, const float *b, size_t ldb, size_t K, float out[4]))
/* y[i] += sum_j c[j] * x[j*ldx + i], j < 4   y: (n), x: (4, ldx) */
KERNEL_SLOT(axpy4_f32, void, (float *y, const float *x, size_t ldx, const float c[4], size_t n))
/* a 4 x n tile of a matrix product, accumulated:
 *   out[i*ldo + j] += alpha * sum_k a[i*sm + k*sk] * b[k*ldb + j]
 * for i < 4, j < n, k < K — a (4, K) with any strides, b (K, n) rows;
 * n a multiple of 16, at most gemm_tile_cols, the widest tile the
 * level keeps in registers (16; 64 at AVX-512). Every level sums over
 * k in order. */
KERNEL_SLOT(gemm_tile_f32, void,
            (float *out, size_t ldo, const float *a, size_t sm, size_t sk, const float *b, size_t ldb, size_t K,
             size_t n, float alpha))
/* q[i] = clamp(round(x[i] * s), -128, 127), rounding to nearest, ties to
 * even: int8 activation quantisation                x: (n), q: (n) */
KERNEL_SLOT(quantize_i8, void, (const float *x, size_t n, float s, int8_t *q))
/* one AdamW update of n weights (optim.h has the formula); k holds
 * {beta1, beta2, eps, lr, wd, 1-beta1^t, 1-beta2^t, grad scale} */
KERNEL_SLOT(adamw_f32, void, (float *w, const float *g, float *m, float *v, size_t n, const float k[8]))
/* sum of code * x over n_blocks packed ternary blocks (ternary.h):
 * 16 bytes of 2-bit codes against 64 int8 values each */
KERNEL_SLOT(ternary_codes_dot, int32_t, (const uint8_t *codes, const int8_t *x, size_t n_blocks))
/* the same for 4 rows of codes, row_bytes apart, against one x: one
 * pass over x and one reduction for the four sums (small matrices) */
KERNEL_SLOT(ternary_codes_dot4, void,
            (int32_t out[4], const uint8_t *codes, size_t row_bytes, const int8_t *x, size_t n_blocks))
/* the same two for base-3 packing (ternary.h): n_blocks blocks of 16
 * bytes, five codes a byte, against 80 int8 values each */
KERNEL_SLOT(ternary_base3_dot, int32_t, (const uint8_t *codes, const int8_t *x, size_t n_blocks))
KERNEL_SLOT(ternary_base3_dot4, void,
            (int32_t out[4], const uint8_t *codes, size_t row_bytes, const int8_t *x, size_t n_blocks))

/* Row kernels of the float layers (layers.c). The plain C versions use
 * expf; the SIMD ones their own vector exp (kernels_sse_exp.h), which
 * gives 0 for x < -87.3365 (where expf is denormal or 0, and for -inf),
 * propagates NaN and saturates at exp(88.3763) ~ 2.4e38 above. */
/* y[i] = exp(x[i]); y may be x                       x, y: (n) */
KERNEL_SLOT(exp_f32, void, (float *y, const float *x, size_t n))
/* p = softmax(x) = exp(x - max) / sum; p may be x. Returns the sum
 * before normalising and stores max in *maxv unless maxv is NULL
 * (log softmax[i] = x[i] - max - log sum).          x, p: (n) */
KERNEL_SLOT(softmax_f32, float, (float *p, const float *x, size_t n, float *maxv))
/* out = x * r * w, r = 1/sqrt(mean(x^2) + eps); returns r   (n) */
KERNEL_SLOT(rmsnorm_f32, float, (float *out, const float *x, const float *w, size_t n, float eps))
/* RMSNorm backward of one row with saved r, accumulating:
 * dx += r w g - (r^3/n) x sum(g w x);  dw += g x r        (n) */
KERNEL_SLOT(rmsnorm_bwd_f32, void,
            (float *dx, float *dw, const float *g, const float *x, const float *w, float r, size_t n))
/* out = silu(gate) * up, silu(g) = g / (1 + exp(-g))        (n) */
KERNEL_SLOT(swiglu_f32, void, (float *out, const float *gate, const float *up, size_t n))
/* dgate += dout up s (1 + g (1 - s)), dup += dout g s, s = sigmoid(g) */
KERNEL_SLOT(swiglu_bwd_f32, void,
            (float *dgate, float *dup, const float *dout, const float *gate, const float *up, size_t n))
/* out = max(0, x)^2; dx += dout * 2x where x > 0            (n) */
KERNEL_SLOT(relu2_f32, void, (float *out, const float *x, size_t n))
KERNEL_SLOT(relu2_bwd_f32, void, (float *dx, const float *dout, const float *x, size_t n))
/* sum of x[i] over the set bits of n_blocks binary blocks (ternary.h):
 * 8 bytes of bits against 64 int8 values each */
KERNEL_SLOT(binary_masked_sum, int32_t, (const uint8_t *bits, const int8_t *x, size_t n_blocks))
/* sum_i a[i] * b[i] of int8 vectors with values in [-127, 127], exact */
KERNEL_SLOT(dot_i8, int32_t, (const int8_t *a, const int8_t *b, size_t n))
/* sum_i x[i] of n bytes: reading memory as fast as the level can (the
 * read-bandwidth row of l1b-bench) */
KERNEL_SLOT(sum_u8, uint64_t, (const uint8_t *x, size_t n))
/* the same over n rows of len values (attention over an int8 cache):
 *   out[t] = sum_i q[i] * rows[t*len + i]        (dot_i8 per row)
 *   y[i] += a[t] * rows[t*len + i], for t = 0, 1, .. in turn */
KERNEL_SLOT(dot_i8_rows, void, (int32_t *out, const int8_t *q, const int8_t *rows, size_t len, size_t n))
KERNEL_SLOT(axpy_i8_rows, void, (float *y, const float *a, const int8_t *rows, size_t len, size_t n))
/* 4 rows of int8 activations against a panel of 32 columns of ternary
 * codes (weight + 1: 0, 1, 2) as bytes, K even, accumulated:
 *   out[i*32 + j] += sum_k x[i*ldx + k] * code(k, j),  i < 4, j < 32
 * the panel holds code(k, j) at panel[(k/2 * 32 + j) * 2 + k%2], so a
 * pair of k is a byte pair for pmaddubsw; x in [-127, 127]; exact */
KERNEL_SLOT(codes_panel_4x32, void, (int32_t *out, const int8_t *x, size_t ldx, const uint8_t *panel, size_t K))
/* n_rows <= 32 rows of 2-bit packed ternary codes (ternary.h: n_blocks
 * blocks of 16 bytes, code k of a block bits 2 (k / 16) of byte k % 16),
 * row_bytes apart, as the panel codes_panel_4x32 takes for K = 64 n_blocks:
 * code(k, j) of row j at panel[(k/2 * 32 + j) * 2 + k%2]; rows n_rows..31
 * code 0. Writes 2048 n_blocks bytes. */
KERNEL_SLOT(panel_2bit, void, (uint8_t *panel, const uint8_t *rows, size_t row_bytes, size_t n_rows, size_t n_blocks))
/* axpy_i8_rows for 4 weight rows a (4, lda) into 4 outputs y (4, ldy), the
 * rows' values read once for the four (attention of 4 queries):
 *   y[i*ldy + j] += a[i*lda + t] * rows[t*len + j], t = 0, 1, .. in turn
 * every output exactly as axpy_i8_rows makes it */
KERNEL_SLOT(axpy4_i8_rows, void,
            (float *y, size_t ldy, const float *a, size_t lda, const int8_t *rows, size_t len, size_t n))

#undef KERNEL_SLOT
