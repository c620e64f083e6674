/* ternary: packed ternary matrices and their product with int8 vectors,
 * the inference path of every BitLinear layer.
 *
 * Packing, 2 bits a weight: a row of C weights is padded to a multiple of
 * 64 and stored as 16-byte blocks. In block b, byte i holds the codes of
 * weights 64b + i, +16, +32 and +48 in bits 0-1, 2-3, 4-5 and 6-7, where
 * code = weight + 1 (0, 1, 2 for -1, 0, +1). Then
 *
 *     sum_c w[c] x[c] = sum_c code[c] x[c] - sum_c x[c]
 *
 * and the first sum is an unsigned-by-signed byte product (pmaddubsw on
 * SSSE3/AVX2), the second is shared by every row. x is padded with zeros,
 * so padding codes do not matter (they are written as 1).
 *
 * Binary (sign) weights, 1 bit each: a block of 64 is 8 bytes, weight
 * 64b + k in bit k % 8 of byte k / 8; a set bit is +1, a clear one -1,
 * padding bits 0. Then sum_c w[c] x[c] = 2 sum_{bit set} x[c] - sum_c x[c]:
 * the kernel sums x under a mask of the set bits. */
#ifndef L1B_TERNARY_H
#define L1B_TERNARY_H

#include <stddef.h>
#include <stdint.h>

#define TERNARY_BLOCK 64

typedef struct {
    uint32_t rows, cols;    /* logical shape (OC, C) */
    uint32_t n_blocks;      /* per row: ceil(cols / 64) */
    uint32_t bits;          /* per weight: 2 (ternary) or 1 (binary) */
    float scale;            /* dequantised weight = w * scale */
    uint8_t *data;          /* rows * n_blocks * 8 * bits bytes */
} PackedTernary;

/* Pack q (rows, cols) of -1/0/+1 (bits 2) or -1/+1 (bits 1) into p
 * (allocates p->data). */
void ternary_pack(PackedTernary *p, const int8_t *q, uint32_t rows, uint32_t cols, float scale, uint32_t bits);
/* Bytes of one packed row, and of the whole matrix. */
size_t ternary_row_bytes(const PackedTernary *p);
size_t ternary_bytes(const PackedTernary *p);
void ternary_free(PackedTernary *p);
/* Weight (r, c) back from the packing, for tests and conversion. */
int ternary_get(const PackedTernary *p, uint32_t r, uint32_t c);

/* out (rows) = x (cols, int8, padded with zeros to n_blocks*64) @ W^T as
 * exact integers; threaded over rows. */
void ternary_matvec(int32_t *out, const PackedTernary *w, const int8_t *x);
/* The same for n matrices of the same width against the same x, as one
 * job: out[j] = x @ w[j]^T (the q, k and v of a layer, say), split over
 * the threads as if the matrices were stacked. */
void ternary_matvec_many(int32_t *const out[], const PackedTernary *const w[], int n, const int8_t *x);

#endif
