/* kernels_base3.h: base-3 digits (ternary.h) of 16 code bytes at once with
 * SSE2, for the SSE2 and SSSE3 kernels (and the AVX2 ones' last block).
 * Include after <emmintrin.h>. */
#ifndef L1B_KERNELS_BASE3_H
#define L1B_KERNELS_BASE3_H

/* Digits most significant first.
 * The state is q ^ 0x80, so that signed compares order q as unsigned; since
 * 3 * 128 = 128 (mod 256), tripling the state with byte additions keeps it
 * the tripled q's ^ 0x80. Digit = (q >= 86) + (q >= 171): two masks of -1,
 * negated. */
static inline __m128i base3_start(const uint8_t *codes)
{
    return _mm_xor_si128(_mm_loadu_si128((const __m128i *)codes), _mm_set1_epi8((char)0x80));
}

static inline __m128i base3_digit(__m128i *state)
{
    __m128i s = *state;
    __m128i m = _mm_add_epi8(_mm_cmpgt_epi8(s, _mm_set1_epi8(-43)), _mm_cmpgt_epi8(s, _mm_set1_epi8(42)));
    *state = _mm_add_epi8(_mm_add_epi8(s, s), s);
    return _mm_sub_epi8(_mm_setzero_si128(), m);
}

#endif
