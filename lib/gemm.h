/* gemm: the float matrix products of training, on the kernel table and the
 * thread pool. Every output row is computed by one thread in a fixed order,
 * so results do not depend on the thread count.
 *
 *   gemm_nt   out (M,N) (+)= a (M,K) @ b (N,K)^T          forward: x @ W^T
 *   gemm_nn   out (M,N)  += alpha * a (M,K) @ b (K,N)     backward: dY @ W
 *   gemm_tn   out (M,N)  += alpha * a (K,M)^T @ b (K,N)   backward: dY^T @ X
 *
 * and the integer product of the BitLinear forward pass:
 *
 *   gemm_codes_nt  out (M,N) (+)= (x (M,K) @ (codes (N,K) - 1)^T) * xscale[m] * wscale
 *
 * x int8 in [-127, 127] (act_quant_int8), codes the ternary weights plus
 * one (0, 1, 2) as bytes; the sums are exact integers, rescaled once. */
#ifndef L1B_GEMM_H
#define L1B_GEMM_H

#include <stddef.h>
#include <stdint.h>

void gemm_nt(float *out, const float *a, const float *b, size_t M, size_t K, size_t N, int accumulate);
void gemm_nn(float *out, const float *a, const float *b, size_t M, size_t K, size_t N, float alpha);
void gemm_tn(float *out, const float *a, const float *b, size_t M, size_t K, size_t N, float alpha);
/* The small strided product inside one thread's share of other work
 * (attention, per sequence and head), on the calling thread:
 *   out[m*ldo + n] += alpha * sum_k a[m*sm + k*sk] * b[k*ldb + n]
 * out (M,N), a (M,K) with any strides, b (K,N); the same tiles and
 * order of sums as the products above. */
void gemm_block(float *out, size_t ldo, const float *a, size_t sm, size_t sk, const float *b, size_t ldb, size_t M,
                size_t K, size_t N, float alpha);
void gemm_codes_nt(float *out, const int8_t *x, const float *xscale, const uint8_t *codes, float wscale, size_t M,
                   size_t K, size_t N, int accumulate);

#endif
