/* AVX-512 kernels (F, BW, VL and VNNI: Ice Lake, Zen 4 and later): 16-wide
 * float and the VNNI byte dot product vpdpbusd, which multiplies 4 unsigned
 * bytes by 4 signed bytes and adds the four products to a 32-bit lane in
 * one instruction. Built with those flags; only called after CPUID and the
 * OS (XCR0) say so. Every other slot is inherited from AVX2. */
#include "kernels.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "kernels_exp_consts.h"

/* 4 x 16nv of the float tile, nv = 1..4 vectors of 16 columns per row,
 * a constant where it is inlined: up to 16 accumulators (of the 32 zmm
 * registers), enough to keep both FMA pipes busy while b streams through.
 * Each sum runs over k in order, one fused multiply-add per k, as the AVX2
 * tile does, so the two levels give the same bits. */
static inline __attribute__((always_inline)) void tile_4xv(float *out, size_t ldo, const float *a, size_t sm,
                                                           size_t sk, const float *b, size_t ldb, size_t K,
                                                           float alpha, const int nv)
{
    __m512 c[4][4], bv[4];
    for (int i = 0; i < 4; i++)
        for (int v = 0; v < nv; v++) c[i][v] = _mm512_setzero_ps();
    for (size_t k = 0; k < K; k++) {
        const float *bk = b + k * ldb, *ak = a + k * sk;
        for (int v = 0; v < nv; v++) bv[v] = _mm512_loadu_ps(bk + 16 * v);
        for (int i = 0; i < 4; i++) {
            __m512 x = _mm512_set1_ps(ak[i * sm]);
            for (int v = 0; v < nv; v++) c[i][v] = _mm512_fmadd_ps(x, bv[v], c[i][v]);
        }
    }
    __m512 va = _mm512_set1_ps(alpha);
    for (int i = 0; i < 4; i++)
        for (int v = 0; v < nv; v++) {
            float *o = out + i * ldo + 16 * v;
            _mm512_storeu_ps(o, _mm512_fmadd_ps(va, c[i][v], _mm512_loadu_ps(o)));
        }
}

static void gemm_tile_f32_avx512(float *out, size_t ldo, const float *a, size_t sm, size_t sk, const float *b,
                                 size_t ldb, size_t K, size_t n, float alpha)
{
    switch (n / 16) {
    case 4: tile_4xv(out, ldo, a, sm, sk, b, ldb, K, alpha, 4); break;
    case 3: tile_4xv(out, ldo, a, sm, sk, b, ldb, K, alpha, 3); break;
    case 2: tile_4xv(out, ldo, a, sm, sk, b, ldb, K, alpha, 2); break;
    default: tile_4xv(out, ldo, a, sm, sk, b, ldb, K, alpha, 1); break;
    }
}

/* The 4 x 32 codes panel (kernels.h: byte pairs of k per column). Two
 * 64-byte rows of the panel, k pairs (k, k+1) and (k+2, k+3), interleave
 * 16 bits at a time into quads of k per column, which is what vpdpbusd
 * takes: "lo" gets columns 0-3, 8-11, 16-19, 24-27, "hi" the others. An
 * x quad, broadcast, then meets 16 columns per instruction. */
static void codes_panel_4x32_avx512(int32_t *out, const int8_t *x, size_t ldx, const uint8_t *panel, size_t K)
{
    __m512i lo_acc[4], hi_acc[4];
    for (int i = 0; i < 4; i++) lo_acc[i] = hi_acc[i] = _mm512_setzero_si512();
    for (size_t k = 0; k < K; k += 4) {
        int last_pair = k + 2 >= K;  /* K % 4 == 2: the upper pair is zero */
        __m512i p0 = _mm512_loadu_si512(panel + k * 32);
        __m512i p1 = last_pair ? _mm512_setzero_si512() : _mm512_loadu_si512(panel + k * 32 + 64);
        __m512i lo = _mm512_unpacklo_epi16(p0, p1), hi = _mm512_unpackhi_epi16(p0, p1);
        for (int i = 0; i < 4; i++) {
            int32_t quad = 0;
            if (last_pair) memcpy(&quad, x + i * ldx + k, 2);
            else memcpy(&quad, x + i * ldx + k, 4);
            __m512i xq = _mm512_set1_epi32(quad);
            lo_acc[i] = _mm512_dpbusd_epi32(lo_acc[i], lo, xq);
            hi_acc[i] = _mm512_dpbusd_epi32(hi_acc[i], hi, xq);
        }
    }
    /* back to column order: per 128-bit lane, 4 columns from lo, then 4 from hi */
    const __m512i first = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
    const __m512i second = _mm512_setr_epi32(8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
    for (int i = 0; i < 4; i++) {
        int32_t *o = out + i * 32;
        __m512i c0 = _mm512_permutex2var_epi32(lo_acc[i], first, hi_acc[i]);
        __m512i c1 = _mm512_permutex2var_epi32(lo_acc[i], second, hi_acc[i]);
        _mm512_storeu_si512(o, _mm512_add_epi32(_mm512_loadu_si512(o), c0));
        _mm512_storeu_si512(o + 16, _mm512_add_epi32(_mm512_loadu_si512(o + 16), c1));
    }
}

/* how far ahead the four-row kernels prefetch (kernels_avx2.c) */
#ifndef TERNARY_PF_BYTES
#define TERNARY_PF_BYTES 8192
#endif

/* 16 bytes of each of four rows, row_bytes apart, one row a 128-bit lane */
static inline __m512i rows_in_lanes(const uint8_t *c, size_t row_bytes)
{
    __m512i v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)c));
    v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(c + row_bytes)), 1);
    v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(c + 2 * row_bytes)), 2);
    return _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(c + 3 * row_bytes)), 3);
}

/* out[r] = the sum of lane r's four 32-bit values */
static inline void lane_sums(int32_t out[4], __m512i s)
{
    s = _mm512_add_epi32(s, _mm512_shuffle_epi32(s, _MM_PERM_BADC));  /* within lanes */
    s = _mm512_add_epi32(s, _mm512_shuffle_epi32(s, _MM_PERM_CDAB));
    s = _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), s);
    _mm_storeu_si128((__m128i *)out, _mm512_castsi512_si128(s));
}

/* Four rows of packed ternary codes (ternary.h) against one x, one 128-bit
 * lane per row: a block of each row (16 bytes, 64 codes) goes to its lane,
 * and each quarter j of the block's x (16 values) is broadcast to all four
 * lanes, so one vpdpbusd does 16 codes of every row. The four quarters
 * accumulate separately (independent chains); each lane's sum is then one
 * row's. No horizontal work until the end, however short the rows. */
static void ternary_codes_dot4_avx512(int32_t out[4], const uint8_t *codes, size_t row_bytes, const int8_t *x,
                                      size_t n_blocks)
{
    const __m512i three = _mm512_set1_epi8(3);
    __m512i acc[4];
    for (int j = 0; j < 4; j++) acc[j] = _mm512_setzero_si512();
    const uint8_t *ahead = codes + TERNARY_PF_BYTES;
    for (size_t b = 0; b < n_blocks; b++) {
        _mm_prefetch((const char *)(ahead + 64 * b), _MM_HINT_T0);
        __m512i v = rows_in_lanes(codes + 16 * b, row_bytes);
        for (int j = 0; j < 4; j++) {
            __m512i xj = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(x + 64 * b + 16 * j)));
            __m512i cj = _mm512_and_si512(_mm512_srli_epi16(v, 2 * j), three);
            acc[j] = _mm512_dpbusd_epi32(acc[j], cj, xj);
        }
    }
    lane_sums(out, _mm512_add_epi32(_mm512_add_epi32(acc[0], acc[1]), _mm512_add_epi32(acc[2], acc[3])));
}

/* The same layout for base-3 blocks (16 bytes, 80 codes a row): each of
 * the five digits of the four lanes against its 16 values of x. Unsigned
 * compares give the digit (q >= 86) + (q >= 171) as two masked steps, and
 * three byte additions 3q mod 256 (ternary.h). */
static void ternary_base3_dot4_avx512(int32_t out[4], const uint8_t *codes, size_t row_bytes, const int8_t *x,
                                      size_t n_blocks)
{
    const __m512i one = _mm512_set1_epi8(1), lo = _mm512_set1_epi8(86), hi = _mm512_set1_epi8((char)171);
    __m512i acc[5];
    for (int j = 0; j < 5; j++) acc[j] = _mm512_setzero_si512();
    const uint8_t *ahead = codes + TERNARY_PF_BYTES;
    for (size_t b = 0; b < n_blocks; b++) {
        _mm_prefetch((const char *)(ahead + 64 * b), _MM_HINT_T0);
        __m512i q = rows_in_lanes(codes + 16 * b, row_bytes);
        for (int j = 0; j < 5; j++) {
            __m512i xj = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(x + 80 * b + 16 * j)));
            __m512i d = _mm512_maskz_mov_epi8(_mm512_cmpge_epu8_mask(q, lo), one);
            d = _mm512_mask_add_epi8(d, _mm512_cmpge_epu8_mask(q, hi), d, one);
            acc[j] = _mm512_dpbusd_epi32(acc[j], d, xj);
            q = _mm512_add_epi8(_mm512_add_epi8(q, q), q);
        }
    }
    __m512i s = _mm512_add_epi32(_mm512_add_epi32(acc[0], acc[1]), _mm512_add_epi32(acc[2], acc[3]));
    lane_sums(out, _mm512_add_epi32(s, acc[4]));
}

/* All of y (up to 64 values, a head of the KV cache) in up to four
 * registers over all the rows, so each row is one pass of independent
 * additions; wider y in strips of 64. Per element the same product and
 * sum, in the same order, as plain C (no fused multiply-add). */
static inline __attribute__((always_inline)) void axpy_strip(float *y, const float *a, const int8_t *rows,
                                                             size_t len, size_t n, const int nv)
{
    __m512 acc[4];
    for (int v = 0; v < nv; v++) acc[v] = _mm512_loadu_ps(y + 16 * v);
    for (size_t t = 0; t < n; t++) {
        __m512 at = _mm512_set1_ps(a[t]);
        const int8_t *r = rows + t * len;
        for (int v = 0; v < nv; v++) {
            __m512 f = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(r + 16 * v))));
            acc[v] = _mm512_add_ps(acc[v], _mm512_mul_ps(at, f));
        }
    }
    for (int v = 0; v < nv; v++) _mm512_storeu_ps(y + 16 * v, acc[v]);
}

static void axpy_i8_rows_avx512(float *y, const float *a, const int8_t *rows, size_t len, size_t n)
{
    size_t i = 0;
    for (; i + 64 <= len; i += 64) axpy_strip(y + i, a, rows + i, len, n, 4);
    switch ((len - i) / 16) {
    case 3: axpy_strip(y + i, a, rows + i, len, n, 3); i += 48; break;
    case 2: axpy_strip(y + i, a, rows + i, len, n, 2); i += 32; break;
    case 1: axpy_strip(y + i, a, rows + i, len, n, 1); i += 16; break;
    default: break;
    }
    for (size_t t = 0; t < n && i < len; t++)
        for (size_t j = i; j < len; j++) {
            float p = a[t] * (float)rows[t * len + j];
            y[j] += p;
        }
}

/* q against n int8 rows of len, exact. vpdpbusd multiplies unsigned by
 * signed bytes, so q goes in as |q| and each row value takes q's sign
 * (negated where q < 0): the same products. Values are in [-127, 127], so
 * nothing overflows. Four rows a step, in one of two layouts:
 *   short rows (a head of the KV cache, len < 64): one row per 128-bit
 *     lane, 16 values of each per instruction, lane sums at the end;
 *   longer rows (the output head, len = dim): 64 values of each row per
 *     instruction against one |q| chunk, four sums reduced together. */
static inline __mmask64 first_bytes(size_t k) { return k >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << k) - 1; }

static void dot4_i8_lanes(int32_t *out, const int8_t *q, const int8_t *r, size_t len)
{
    const __m512i zero = _mm512_setzero_si512();
    __m512i acc = zero;
    for (size_t i = 0; i < len; i += 16) {
        __mmask16 m = (__mmask16)first_bytes(len - i);
        __m512i qb = _mm512_broadcast_i32x4(_mm_maskz_loadu_epi8(m, q + i));
        __m512i v = _mm512_castsi128_si512(_mm_maskz_loadu_epi8(m, r + i));
        v = _mm512_inserti32x4(v, _mm_maskz_loadu_epi8(m, r + len + i), 1);
        v = _mm512_inserti32x4(v, _mm_maskz_loadu_epi8(m, r + 2 * len + i), 2);
        v = _mm512_inserti32x4(v, _mm_maskz_loadu_epi8(m, r + 3 * len + i), 3);
        v = _mm512_mask_sub_epi8(v, _mm512_movepi8_mask(qb), zero, v);
        acc = _mm512_dpbusd_epi32(acc, _mm512_abs_epi8(qb), v);
    }
    acc = _mm512_add_epi32(acc, _mm512_shuffle_epi32(acc, _MM_PERM_BADC));
    acc = _mm512_add_epi32(acc, _mm512_shuffle_epi32(acc, _MM_PERM_CDAB));
    const __m512i lane_sums = _mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    _mm_storeu_si128((__m128i *)out, _mm512_castsi512_si128(_mm512_permutexvar_epi32(lane_sums, acc)));
}

static void dot4_i8_long(int32_t *out, const int8_t *q, const int8_t *r, size_t len)
{
    const __m512i zero = _mm512_setzero_si512();
    __m512i a0 = zero, a1 = zero, a2 = zero, a3 = zero;
    for (size_t i = 0; i < len; i += 64) {
        __mmask64 m = first_bytes(len - i);
        __m512i qv = _mm512_maskz_loadu_epi8(m, q + i), qa = _mm512_abs_epi8(qv);
        __mmask64 neg = _mm512_movepi8_mask(qv);
        __m512i v0 = _mm512_maskz_loadu_epi8(m, r + i), v1 = _mm512_maskz_loadu_epi8(m, r + len + i);
        __m512i v2 = _mm512_maskz_loadu_epi8(m, r + 2 * len + i), v3 = _mm512_maskz_loadu_epi8(m, r + 3 * len + i);
        a0 = _mm512_dpbusd_epi32(a0, qa, _mm512_mask_sub_epi8(v0, neg, zero, v0));
        a1 = _mm512_dpbusd_epi32(a1, qa, _mm512_mask_sub_epi8(v1, neg, zero, v1));
        a2 = _mm512_dpbusd_epi32(a2, qa, _mm512_mask_sub_epi8(v2, neg, zero, v2));
        a3 = _mm512_dpbusd_epi32(a3, qa, _mm512_mask_sub_epi8(v3, neg, zero, v3));
    }
    /* per 128-bit lane (r0, r1, r2, r3) partial sums, then the lanes added */
    __m512i s01 = _mm512_add_epi32(_mm512_unpacklo_epi32(a0, a1), _mm512_unpackhi_epi32(a0, a1));
    __m512i s23 = _mm512_add_epi32(_mm512_unpacklo_epi32(a2, a3), _mm512_unpackhi_epi32(a2, a3));
    __m512i s = _mm512_add_epi32(_mm512_unpacklo_epi64(s01, s23), _mm512_unpackhi_epi64(s01, s23));
    __m256i h = _mm256_add_epi32(_mm512_castsi512_si256(s), _mm512_extracti64x4_epi64(s, 1));
    _mm_storeu_si128((__m128i *)out, _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1)));
}

/* bytes summed in 64-bit lanes by vpsadbw, four independent chains */
static uint64_t sum_u8_avx512(const uint8_t *x, size_t n)
{
    const __m512i zero = _mm512_setzero_si512();
    __m512i a0 = zero, a1 = zero, a2 = zero, a3 = zero;
    size_t i = 0;
    for (; i + 256 <= n; i += 256) {
        a0 = _mm512_add_epi64(a0, _mm512_sad_epu8(_mm512_loadu_si512(x + i), zero));
        a1 = _mm512_add_epi64(a1, _mm512_sad_epu8(_mm512_loadu_si512(x + i + 64), zero));
        a2 = _mm512_add_epi64(a2, _mm512_sad_epu8(_mm512_loadu_si512(x + i + 128), zero));
        a3 = _mm512_add_epi64(a3, _mm512_sad_epu8(_mm512_loadu_si512(x + i + 192), zero));
    }
    for (; i < n; i += 64) a0 = _mm512_add_epi64(a0, _mm512_sad_epu8(_mm512_maskz_loadu_epi8(first_bytes(n - i), x + i), zero));
    return (uint64_t)_mm512_reduce_add_epi64(_mm512_add_epi64(_mm512_add_epi64(a0, a1), _mm512_add_epi64(a2, a3)));
}

static void dot_i8_rows_avx512(int32_t *out, const int8_t *q, const int8_t *rows, size_t len, size_t n)
{
    size_t t = 0;
    for (; t + 4 <= n; t += 4) {
        if (len < 64) dot4_i8_lanes(out + t, q, rows + t * len, len);
        else dot4_i8_long(out + t, q, rows + t * len, len);
    }
    for (; t < n; t++) {
        int32_t s = 0;
        for (size_t i = 0; i < len; i++) s += (int32_t)q[i] * rows[t * len + i];
        out[t] = s;
    }
}

/* exp as the AVX2 one (kernels_avx2.c: the same range handling,
 * reduction and polynomial, in the same fused multiply-adds, so the same
 * bits per value), 16 values at a time. */
static inline __m512 exp512_ps(__m512 x)
{
    const __m512 lo = _mm512_set1_ps(EXP_LO), hi = _mm512_set1_ps(EXP_HI);
    __mmask16 tiny = _mm512_cmp_ps_mask(x, lo, _CMP_LT_OQ);
    x = _mm512_min_ps(hi, _mm512_max_ps(lo, x));  /* NaN goes on */
    __m512i n = _mm512_cvtps_epi32(_mm512_mul_ps(x, _mm512_set1_ps(EXP_LOG2E)));
    __m512 nf = _mm512_cvtepi32_ps(n);
    __m512 r = _mm512_fnmadd_ps(nf, _mm512_set1_ps(EXP_LN2_HI), x);
    r = _mm512_fnmadd_ps(nf, _mm512_set1_ps(EXP_LN2_LO), r);
    __m512 p = _mm512_set1_ps(EXP_P0);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(EXP_P1));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(EXP_P2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(EXP_P3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(EXP_P4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(EXP_P5));
    p = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
    __m512 scale = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n, _mm512_set1_epi32(127)), 23));
    return _mm512_maskz_mov_ps((__mmask16)~tiny, _mm512_mul_ps(p, scale));
}

/* the lanes of a last, partial step of 16 */
static inline __mmask16 first_lanes(size_t k) { return k >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << k) - 1); }

static void exp_f32_avx512(float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = first_lanes(n - i);
        _mm512_mask_storeu_ps(y + i, m, exp512_ps(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

static float softmax_f32_avx512(float *p, const float *x, size_t n, float *maxv)
{
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    __m512 m16 = ninf;
    for (size_t i = 0; i < n; i += 16)  /* -inf past the end: exp(-inf) = 0 adds nothing */
        m16 = _mm512_max_ps(m16, _mm512_mask_loadu_ps(ninf, first_lanes(n - i), x + i));
    float m = _mm512_reduce_max_ps(m16);
    __m512 vm = _mm512_set1_ps(m), s = _mm512_setzero_ps();
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = first_lanes(n - i);
        __m512 e = exp512_ps(_mm512_sub_ps(_mm512_mask_loadu_ps(ninf, k, x + i), vm));
        _mm512_mask_storeu_ps(p + i, k, e);
        s = _mm512_add_ps(s, e);
    }
    float sum = _mm512_reduce_add_ps(s);
    __m512 inv = _mm512_set1_ps(1.0f / sum);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = first_lanes(n - i);
        _mm512_mask_storeu_ps(p + i, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, p + i), inv));
    }
    if (maxv) *maxv = m;
    return sum;
}

static inline __m512 sigmoid512_ps(__m512 g)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 minus_g = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(g), _mm512_set1_epi32(INT32_MIN)));
    return _mm512_div_ps(one, _mm512_add_ps(one, exp512_ps(minus_g)));
}

static void swiglu_f32_avx512(float *out, const float *gate, const float *up, size_t n)
{
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = first_lanes(n - i);
        __m512 g = _mm512_maskz_loadu_ps(m, gate + i);
        _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(_mm512_mul_ps(g, sigmoid512_ps(g)), _mm512_maskz_loadu_ps(m, up + i)));
    }
}

/* the formulas of the AVX2 version, in the same operations */
static void swiglu_bwd_f32_avx512(float *dgate, float *dup, const float *dout, const float *gate, const float *up,
                                  size_t n)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = first_lanes(n - i);
        __m512 d = _mm512_maskz_loadu_ps(m, dout + i), g = _mm512_maskz_loadu_ps(m, gate + i);
        __m512 u = _mm512_maskz_loadu_ps(m, up + i), s = sigmoid512_ps(g);
        __m512 t = _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(d, u), s), _mm512_fmadd_ps(g, _mm512_sub_ps(one, s), one));
        _mm512_mask_storeu_ps(dgate + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, dgate + i), t));
        _mm512_mask_storeu_ps(dup + i, m, _mm512_fmadd_ps(_mm512_mul_ps(d, g), s, _mm512_maskz_loadu_ps(m, dup + i)));
    }
}

/* nv strips of 16 values of the four y rows in registers over all the
 * rows, each row's values widened once for the four; the last strip
 * masked to the columns there are. Per element the product and sum of
 * axpy_strip. */
static inline __attribute__((always_inline)) void axpy4_strips(float *y, size_t ldy, const float *a, size_t lda,
                                                               const int8_t *rows, size_t len, size_t n,
                                                               const int nv, __mmask16 last)
{
    __m512 acc[4][4];
    for (int v = 0; v < nv; v++) {
        __mmask16 m = v == nv - 1 ? last : (__mmask16)0xffff;
        for (int i = 0; i < 4; i++) acc[i][v] = _mm512_maskz_loadu_ps(m, y + i * ldy + 16 * v);
    }
    for (size_t t = 0; t < n; t++) {
        const int8_t *r = rows + t * len;
        __m512 f[4];
        for (int v = 0; v < nv; v++) {
            __mmask16 m = v == nv - 1 ? last : (__mmask16)0xffff;
            f[v] = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, r + 16 * v)));
        }
        for (int i = 0; i < 4; i++) {
            __m512 at = _mm512_set1_ps(a[i * lda + t]);
            for (int v = 0; v < nv; v++) acc[i][v] = _mm512_add_ps(acc[i][v], _mm512_mul_ps(at, f[v]));
        }
    }
    for (int v = 0; v < nv; v++) {
        __mmask16 m = v == nv - 1 ? last : (__mmask16)0xffff;
        for (int i = 0; i < 4; i++) _mm512_mask_storeu_ps(y + i * ldy + 16 * v, m, acc[i][v]);
    }
}

static void axpy4_i8_rows_avx512(float *y, size_t ldy, const float *a, size_t lda, const int8_t *rows, size_t len,
                                 size_t n)
{
    size_t j = 0;
    for (; j + 64 <= len; j += 64) axpy4_strips(y + j, ldy, a, lda, rows + j, len, n, 4, 0xffff);
    size_t left = len - j;
    __mmask16 last = left % 16 ? (__mmask16)((1u << left % 16) - 1) : (__mmask16)0xffff;
    switch ((left + 15) / 16) {
    case 4: axpy4_strips(y + j, ldy, a, lda, rows + j, len, n, 4, last); break;
    case 3: axpy4_strips(y + j, ldy, a, lda, rows + j, len, n, 3, last); break;
    case 2: axpy4_strips(y + j, ldy, a, lda, rows + j, len, n, 2, last); break;
    case 1: axpy4_strips(y + j, ldy, a, lda, rows + j, len, n, 1, last); break;
    default: break;
    }
}

/* 32 rows of a block at once: 8 registers of 4 rows (a row a 128-bit
 * lane), their 16-bit words reordered word-major within each (vpermw),
 * then an 8 x 8 transpose of 64-bit quarters, so that register w holds
 * word w of the 32 rows; each of its 4 shifts masked is one 64-byte row
 * of the panel. */
static void panel_2bit_avx512(uint8_t *panel, const uint8_t *rows, size_t row_bytes, size_t n_rows, size_t n_blocks)
{
    static const uint16_t word_major[32] = {0, 8,  16, 24, 1, 9,  17, 25, 2, 10, 18, 26, 3, 11, 19, 27,
                                            4, 12, 20, 28, 5, 13, 21, 29, 6, 14, 22, 30, 7, 15, 23, 31};
    const __m512i wm = _mm512_loadu_si512(word_major), three = _mm512_set1_epi8(3);
    const __m512i i_lo = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13), i_hi = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
    const __m512i i_a = _mm512_setr_epi64(0, 1, 2, 3, 8, 9, 10, 11), i_b = _mm512_setr_epi64(4, 5, 6, 7, 12, 13, 14, 15);
    for (size_t b = 0; b < n_blocks; b++) {
        __m512i z[8], u[8], v[8], t[8];
        for (size_t r = 0; r < 8; r++) {
            __m128i q[4];
            for (size_t i = 0; i < 4; i++) {
                size_t j = 4 * r + i;
                q[i] = j < n_rows ? _mm_loadu_si128((const __m128i *)(rows + j * row_bytes + b * 16)) : _mm_setzero_si128();
            }
            __m512i x = _mm512_castsi128_si512(q[0]);
            x = _mm512_inserti32x4(x, q[1], 1);
            x = _mm512_inserti32x4(x, q[2], 2);
            x = _mm512_inserti32x4(x, q[3], 3);
            z[r] = _mm512_permutexvar_epi16(wm, x);  /* quarter w: word w of the 4 rows */
        }
        for (size_t p = 0; p < 4; p++) {
            u[2 * p] = _mm512_unpacklo_epi64(z[2 * p], z[2 * p + 1]);      /* words 0 2 4 6 */
            u[2 * p + 1] = _mm512_unpackhi_epi64(z[2 * p], z[2 * p + 1]);  /* words 1 3 5 7 */
        }
        for (size_t g = 0; g < 2; g++) {  /* rows 0-15, 16-31 */
            __m512i *uu = u + 4 * g, *vv = v + 4 * g;
            vv[0] = _mm512_permutex2var_epi64(uu[0], i_lo, uu[2]);  /* words 0, 4 */
            vv[1] = _mm512_permutex2var_epi64(uu[0], i_hi, uu[2]);  /* words 2, 6 */
            vv[2] = _mm512_permutex2var_epi64(uu[1], i_lo, uu[3]);  /* words 1, 5 */
            vv[3] = _mm512_permutex2var_epi64(uu[1], i_hi, uu[3]);  /* words 3, 7 */
        }
        t[0] = _mm512_permutex2var_epi64(v[0], i_a, v[4]);
        t[4] = _mm512_permutex2var_epi64(v[0], i_b, v[4]);
        t[2] = _mm512_permutex2var_epi64(v[1], i_a, v[5]);
        t[6] = _mm512_permutex2var_epi64(v[1], i_b, v[5]);
        t[1] = _mm512_permutex2var_epi64(v[2], i_a, v[6]);
        t[5] = _mm512_permutex2var_epi64(v[2], i_b, v[6]);
        t[3] = _mm512_permutex2var_epi64(v[3], i_a, v[7]);
        t[7] = _mm512_permutex2var_epi64(v[3], i_b, v[7]);
        uint8_t *at = panel + b * 32 * 64;
        for (size_t w = 0; w < 8; w++) {
            __m512i x = t[w];
            for (size_t s = 0; s < 4; s++, x = _mm512_srli_epi16(x, 2))
                _mm512_storeu_si512(at + (8 * s + w) * 64, _mm512_and_si512(x, three));
        }
    }
}

void kernels_fill_avx512(Kernels *k)
{
    k->gemm_tile_f32 = gemm_tile_f32_avx512;
    k->gemm_tile_cols = 64;
    k->ternary_codes_dot4 = ternary_codes_dot4_avx512;
    k->ternary_base3_dot4 = ternary_base3_dot4_avx512;
    k->exp_f32 = exp_f32_avx512;
    k->softmax_f32 = softmax_f32_avx512;
    k->swiglu_f32 = swiglu_f32_avx512;
    k->swiglu_bwd_f32 = swiglu_bwd_f32_avx512;
    k->dot_i8_rows = dot_i8_rows_avx512;
    k->sum_u8 = sum_u8_avx512;
    k->axpy_i8_rows = axpy_i8_rows_avx512;
    k->codes_panel_4x32 = codes_panel_4x32_avx512;
    k->panel_2bit = panel_2bit_avx512;
    k->axpy4_i8_rows = axpy4_i8_rows_avx512;
}
