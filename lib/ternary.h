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
 * Base 3, five weights a byte (1.6 bits; 243 of a byte's 256 values): a
 * row is padded to a multiple of 80 and stored as 16-byte blocks. In block
 * b, byte i holds the codes of weights 80b + i + 16j, j = 0..4, as the
 * number v = sum_j code_j 3^(4-j) (weight i first, in the highest digit),
 * stored as ceil(v * 256 / 243). That scaling makes the digits come out
 * most significant first by multiplying by 3 within a byte:
 *
 *     q = byte;  for j = 0..4:  code_j = (3q) >> 8,  q = 3q mod 256
 *
 * and (3q) >> 8 is (q >= 86) + (q >= 171): two byte compares in SIMD, and
 * 3q mod 256 two byte additions. The products then run as for 2 bits.
 *
 * Binary (sign) weights, 1 bit each: a block of 64 is 8 bytes, weight
 * 64b + k in bit k % 8 of byte k / 8; a set bit is +1, a clear one -1,
 * padding bits 0. Then sum_c w[c] x[c] = 2 sum_{bit set} x[c] - sum_c x[c]:
 * the kernel sums x under a mask of the set bits. */
#ifndef L1B_TERNARY_H
#define L1B_TERNARY_H

#include <stddef.h>
#include <stdint.h>

#include "rng.h"
#include "util.h"

typedef enum {
    PACK_SIGN = 1,   /* binary, 1 bit a weight: 64 weights in 8 bytes */
    PACK_2BIT = 2,   /* ternary codes, 2 bits: 64 weights in 16 bytes */
    PACK_BASE3 = 3,  /* ternary, five a byte: 80 weights in 16 bytes */
} TernaryPacking;
/* The ternary packings by bits a weight, as --bits spells them: "2", "1.6"
 * (util.h) */
extern const NameValue packing_bits_names[];

typedef struct {
    uint32_t rows, cols;    /* logical shape (OC, C) */
    uint32_t packing;       /* TernaryPacking */
    uint32_t n_blocks;      /* per row: ceil(cols / block weights) */
    float scale;            /* dequantised weight = w * scale */
    uint8_t *data;          /* rows * ternary_row_bytes bytes */
} PackedTernary;

/* Weights and bytes in one block of a packing. */
uint32_t ternary_block_cols(uint32_t packing);
uint32_t ternary_block_bytes(uint32_t packing);
/* Bytes of one packed row of cols weights. */
size_t ternary_packed_row_bytes(uint32_t cols, uint32_t packing);
/* The length an int8 vector against cols columns needs, padded with zeros
 * for any packing: at least n_blocks * block weights of each. */
size_t ternary_x_len(uint32_t cols);
/* A code byte of PACK_BASE3 holds five valid digits (0..2 each) exactly
 * when it is one of the 243 bytes the packing writes. */
int ternary_base3_byte_valid(uint8_t byte);

/* Pack q (rows, cols) of -1/0/+1 (-1/+1 for PACK_SIGN) into p (allocates
 * p->data). */
void ternary_pack(PackedTernary *p, const int8_t *q, uint32_t rows, uint32_t cols, float scale, uint32_t packing);
/* A random rows x cols matrix made straight in its packing (allocates
 * p->data): each weight -1, 0 or +1 (PACK_SIGN: -1 or +1) with about
 * equal odds, padding as ternary_pack writes it. For benchmarks: no
 * unpacked copy is made. */
void ternary_random(PackedTernary *p, uint32_t rows, uint32_t cols, float scale, uint32_t packing, Rng *r);
/* p's weights in another packing of the same ternary values (not to or
 * from PACK_SIGN); p->data is replaced. */
void ternary_repack(PackedTernary *p, uint32_t packing);
/* PACK_BASE3 without the blocks' padding, as inference files store it
 * (l1b-format(5), TRI5): row after row, each ternary_dense_row_bytes
 * (ceil(cols / 5)) bytes, byte i the codes of weights 5i..5i+4 in the
 * digits of a block's byte (the first weight the highest digit), digits
 * past cols 1 (zero weights). to_dense writes rows * that many bytes of
 * p's weights (PACK_BASE3 or PACK_2BIT); from_dense fills p->data of a
 * PACK_BASE3 p whose shape is set and data allocated, or returns -1 with
 * *bad_row the first row that holds a byte not one of the 243 or a
 * padding digit not 1. */
size_t ternary_dense_row_bytes(uint32_t cols);
void ternary_to_dense(uint8_t *dense, const PackedTernary *p);
int ternary_from_dense(PackedTernary *p, const uint8_t *dense, uint32_t *bad_row);
/* Bytes of one packed row, and of the whole matrix; columns of x. */
size_t ternary_row_bytes(const PackedTernary *p);
size_t ternary_bytes(const PackedTernary *p);
size_t ternary_padded_cols(const PackedTernary *p);
void ternary_free(PackedTernary *p);
/* Weight (r, c) back from the packing, for tests and conversion; for
 * c >= cols, the padding's. */
int ternary_get(const PackedTernary *p, uint32_t r, uint32_t c);

/* out (rows) = x (cols, int8, padded with zeros to ternary_padded_cols)
 * @ W^T as exact integers; threaded over rows. */
void ternary_matvec(int32_t *out, const PackedTernary *w, const int8_t *x);
/* The same for n matrices of the same width against the same x, as one
 * job: out[j] = x @ w[j]^T (the q, k and v of a layer, say), split over
 * the threads as if the matrices were stacked. */
void ternary_matvec_many(int32_t *const out[], const PackedTernary *const w[], int n, const int8_t *x);

#endif
