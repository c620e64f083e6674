/* kernels_base3.h: base-3 digits (ternary.h) of 16 code bytes at once with
 * SSE2, for the SSE2 and SSSE3 kernels (and the AVX2 ones' last block);
 * with SSSE3, a block's products. Include after the intrinsics headers. */
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

#ifdef __SSSE3__
/* One base-3 block (16 bytes, 80 codes) against its 80 values of x as
 * 16-bit pair sums (pmaddubsw: at most 10 products of 2 * 128 a lane) */
static inline __m128i base3_block_sums(const uint8_t *codes, const int8_t *x)
{
    __m128i state = base3_start(codes), s = _mm_setzero_si128();
    for (int j = 0; j < 5; j++)
        s = _mm_add_epi16(s, _mm_maddubs_epi16(base3_digit(&state), _mm_loadu_si128((const __m128i *)(x + 16 * j))));
    return s;
}
#endif

#endif
