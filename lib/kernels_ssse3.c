/* SSSE3 (Core 2) kernels: pmaddubsw multiplies the unsigned 2-bit codes
 * by the signed int8 activations directly, 16 at a time. */
#include "kernels.h"

#include <tmmintrin.h>

static int32_t ternary_codes_dot_ssse3(const uint8_t *codes, const int8_t *x, size_t n_blocks)
{
    const __m128i three = _mm_set1_epi8(3), ones = _mm_set1_epi16(1);
    __m128i acc = _mm_setzero_si128();
    for (size_t b = 0; b < n_blocks; b++, codes += 16, x += 64) {
        __m128i v = _mm_loadu_si128((const __m128i *)codes);
        /* per 16-bit lane: at most 4 products of 2 * 128, no overflow */
        __m128i s = _mm_maddubs_epi16(_mm_and_si128(v, three), _mm_loadu_si128((const __m128i *)x));
        s = _mm_add_epi16(s, _mm_maddubs_epi16(_mm_and_si128(_mm_srli_epi16(v, 2), three),
                                               _mm_loadu_si128((const __m128i *)(x + 16))));
        __m128i t = _mm_maddubs_epi16(_mm_and_si128(_mm_srli_epi16(v, 4), three),
                                      _mm_loadu_si128((const __m128i *)(x + 32)));
        t = _mm_add_epi16(t, _mm_maddubs_epi16(_mm_and_si128(_mm_srli_epi16(v, 6), three),
                                               _mm_loadu_si128((const __m128i *)(x + 48))));
        acc = _mm_add_epi32(acc, _mm_madd_epi16(s, ones));
        acc = _mm_add_epi32(acc, _mm_madd_epi16(t, ones));
    }
    acc = _mm_add_epi32(acc, _mm_shuffle_epi32(acc, 0x4e));
    acc = _mm_add_epi32(acc, _mm_shuffle_epi32(acc, 0xb1));
    return _mm_cvtsi128_si32(acc);
}

void kernels_fill_ssse3(Kernels *k)
{
    k->ternary_codes_dot = ternary_codes_dot_ssse3;
}
