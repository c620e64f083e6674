/* kernels_exp_consts.h: the constants of the vector exp, written once for
 * the SSE/SSE2 (kernels_sse_exp.h), AVX2 and AVX-512 versions, which all
 * compute
 *
 *     exp(x) = 2^n * exp(r), n = round(x * EXP_LOG2E),
 *     r = x - n * EXP_LN2_HI - n * EXP_LN2_LO  (ln 2 in two parts),
 *     exp(r) = 1 + r + r^2 P(r),  P(r) = ((((P0 r + P1) r + P2) r + P3) r + P4) r + P5
 *
 * with Cephes' degree-5 minimax P, on x clamped to [EXP_LO, EXP_HI]
 * (inputs below EXP_LO give 0). kernels_sse_exp.h has the details and the
 * measured errors. */
#ifndef L1B_KERNELS_EXP_CONSTS_H
#define L1B_KERNELS_EXP_CONSTS_H

#define EXP_LO (-87.3365402f)    /* ~ ln FLT_MIN: below, 0 */
#define EXP_HI 88.3762589f       /* round(EXP_HI / ln 2) = 127 */
#define EXP_LOG2E 1.44269504089f
#define EXP_LN2_HI 0.693359375f  /* 8 significant bits: n * EXP_LN2_HI is exact */
#define EXP_LN2_LO (-2.12194440e-4f)
#define EXP_P0 1.9875691500e-4f
#define EXP_P1 1.3981999507e-3f
#define EXP_P2 8.3334519073e-3f
#define EXP_P3 4.1665795894e-2f
#define EXP_P4 1.6666665459e-1f
#define EXP_P5 5.0000001201e-1f

#endif
