/* Plain C reference kernels: the definition every SIMD version must match. */
#include <math.h>

#include "kernels.h"
#include "util.h"

static float dot_f32_scalar(const float *a, const float *b, size_t n)
{
    float s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static float absmax_f32_scalar(const float *x, size_t n)
{
    float m = 0;
    for (size_t i = 0; i < n; i++) {
        float v = fabsf(x[i]);
        if (v > m) m = v;
    }
    return m;
}

static void dot4_f32_scalar(const float *a, const float *b, size_t ldb, size_t K, float out[4])
{
    for (int j = 0; j < 4; j++) {
        const float *bj = b + j * ldb;
        float s = 0;
        for (size_t k = 0; k < K; k++) s += a[k] * bj[k];
        out[j] = s;
    }
}

static void axpy4_f32_scalar(float *y, const float *x, size_t ldx, const float c[4], size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] += c[0] * x[i] + c[1] * x[ldx + i] + c[2] * x[2 * ldx + i] + c[3] * x[3 * ldx + i];
}

static int32_t ternary_codes_dot_scalar(const uint8_t *codes, const int8_t *x, size_t n_blocks)
{
    int32_t acc = 0;
    for (size_t b = 0; b < n_blocks; b++, codes += 16, x += 64)
        for (int i = 0; i < 16; i++)
            for (int j = 0; j < 4; j++) acc += (codes[i] >> (2 * j) & 3) * x[16 * j + i];
    return acc;
}

/* the digits most significant first: code = 3q >> 8, then q = 3q mod 256 */
static int32_t ternary_base3_dot_scalar(const uint8_t *codes, const int8_t *x, size_t n_blocks)
{
    int32_t acc = 0;
    for (size_t b = 0; b < n_blocks; b++, codes += 16, x += 80)
        for (int i = 0; i < 16; i++) {
            unsigned q = codes[i];
            for (int j = 0; j < 5; j++, q &= 255) {
                q *= 3;
                acc += (int32_t)(q >> 8) * x[16 * j + i];
            }
        }
    return acc;
}

static void gemm_tile_f32_scalar(float *out, size_t ldo, const float *a, size_t sm, size_t sk, const float *b,
                                 size_t ldb, size_t K, size_t n, float alpha)
{
    for (size_t j0 = 0; j0 < n; j0 += 16) {
        float acc[4][16] = {{0}};
        for (size_t k = 0; k < K; k++) {
            const float *bk = b + k * ldb + j0;
            for (int i = 0; i < 4; i++) {
                float c = a[i * sm + k * sk];
                for (int j = 0; j < 16; j++) acc[i][j] += c * bk[j];
            }
        }
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 16; j++) out[i * ldo + j0 + j] += alpha * acc[i][j];
    }
}

void quantize_i8_ref(const float *x, size_t n, float s, int8_t *q)
{
    for (size_t i = 0; i < n; i++) {
        long r = lrintf(x[i] * s);
        q[i] = (int8_t)(r > 127 ? 127 : r < -128 ? -128 : r);
    }
}

void adamw_f32_ref(float *w, const float *g, float *m, float *v, size_t n, const float k[8])
{
    float b1 = k[0], b2 = k[1], eps = k[2], lr = k[3], wd = k[4], c1 = k[5], c2 = k[6], gs = k[7];
    float a1 = 1.0f - b1, a2 = 1.0f - b2;
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] * gs;
        m[i] = b1 * m[i] + a1 * gi;
        v[i] = b2 * v[i] + (a2 * gi) * gi;
        float mhat = m[i] / c1, vhat = v[i] / c2;
        w[i] -= lr * (mhat / (sqrtf(vhat) + eps) + wd * w[i]);
    }
}

static void exp_f32_scalar(float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = expf(x[i]);
}

static float softmax_f32_scalar(float *p, const float *x, size_t n, float *maxv)
{
    float m = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (x[i] > m) m = x[i];
    float sum = 0;
    for (size_t i = 0; i < n; i++) {
        p[i] = expf(x[i] - m);
        sum += p[i];
    }
    float inv = 1.0f / sum;
    for (size_t i = 0; i < n; i++) p[i] *= inv;
    if (maxv) *maxv = m;
    return sum;
}

static float rmsnorm_f32_scalar(float *out, const float *x, const float *w, size_t n, float eps)
{
    float ss = 0;
    for (size_t i = 0; i < n; i++) ss += x[i] * x[i];
    float r = 1.0f / sqrtf(ss / (float)n + eps);
    for (size_t i = 0; i < n; i++) out[i] = x[i] * r * w[i];
    return r;
}

/* With r = (mean(x^2) + eps)^(-1/2), dr/dx_j = -r^3 x_j / n, so
 * dx_j = r w_j g_j - (r^3 / n) x_j sum_i(g_i w_i x_i). */
static void rmsnorm_bwd_f32_scalar(float *dx, float *dw, const float *g, const float *x, const float *w, float r,
                                   size_t n)
{
    float gwx = 0;
    for (size_t i = 0; i < n; i++) gwx += g[i] * w[i] * x[i];
    float k = r * r * r * gwx / (float)n;
    for (size_t i = 0; i < n; i++) {
        dx[i] += r * w[i] * g[i] - k * x[i];
        dw[i] += g[i] * x[i] * r;
    }
}

static float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

static void swiglu_f32_scalar(float *out, const float *gate, const float *up, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = gate[i] * sigmoidf(gate[i]) * up[i];
}

/* silu'(g) = s (1 + g (1 - s)), s = sigmoid(g) */
static void swiglu_bwd_f32_scalar(float *dgate, float *dup, const float *dout, const float *gate, const float *up,
                                  size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float g = gate[i], sg = sigmoidf(g);
        dgate[i] += dout[i] * up[i] * sg * (1.0f + g * (1.0f - sg));
        dup[i] += dout[i] * g * sg;
    }
}

static void relu2_f32_scalar(float *out, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float v = x[i] > 0 ? x[i] : 0;
        out[i] = v * v;
    }
}

static void relu2_bwd_f32_scalar(float *dx, const float *dout, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (x[i] > 0) dx[i] += dout[i] * 2.0f * x[i];
}

static int32_t binary_masked_sum_scalar(const uint8_t *bits, const int8_t *x, size_t n_blocks)
{
    /* a mask instead of a branch: the bits are as good as random */
    int32_t s = 0;
    for (size_t i = 0; i < n_blocks * 64; i++) s += x[i] & -(int32_t)(bits[i / 8] >> (i % 8) & 1);
    return s;
}

static int32_t dot_i8_scalar(const int8_t *a, const int8_t *b, size_t n)
{
    int32_t s = 0;
    for (size_t i = 0; i < n; i++) s += (int32_t)a[i] * b[i];
    return s;
}

static uint64_t sum_u8_scalar(const uint8_t *x, size_t n)
{
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++) s += x[i];
    return s;
}

static void dot_i8_rows_scalar(int32_t *out, const int8_t *q, const int8_t *rows, size_t len, size_t n)
{
    for (size_t t = 0; t < n; t++) out[t] = dot_i8_scalar(q, rows + t * len, len);
}

void axpy_i8_rows_from(float *y, const float *a, const int8_t *rows, size_t len, size_t n, size_t from)
{
    for (size_t t = 0; t < n && from < len; t++)
        for (size_t i = from; i < len; i++) {
            float p = a[t] * (float)rows[t * len + i];  /* rounded here also on x87 */
            y[i] += p;
        }
}

static void axpy_i8_rows_scalar(float *y, const float *a, const int8_t *rows, size_t len, size_t n)
{
    axpy_i8_rows_from(y, a, rows, len, n, 0);
}

static void axpy4_i8_rows_scalar(float *y, size_t ldy, const float *a, size_t lda, const int8_t *rows, size_t len,
                                 size_t n)
{
    for (size_t i = 0; i < 4; i++) axpy_i8_rows_from(y + i * ldy, a + i * lda, rows, len, n, 0);
}

static void codes_panel_4x32_scalar(int32_t *out, const int8_t *x, size_t ldx, const uint8_t *panel, size_t K)
{
    for (size_t k = 0; k < K; k += 2, panel += 64)
        for (int i = 0; i < 4; i++) {
            int32_t x0 = x[i * ldx + k], x1 = x[i * ldx + k + 1], *o = out + i * 32;
            for (int j = 0; j < 32; j++) o[j] += panel[2 * j] * x0 + panel[2 * j + 1] * x1;
        }
}

/* Four rows at a time, in 64-bit words read little-endian: a pair of codes
 * (2p, 2p + 1) is the 16-bit word p % 8 of the block shifted by 2 (p / 8).
 * The four rows' words of a half block, transposed, give pairs p, p + 8,
 * p + 16, p + 24 of the four rows by a shift and a mask each. */
static void panel_2bit_scalar(uint8_t *panel, const uint8_t *rows, size_t row_bytes, size_t n_rows, size_t n_blocks)
{
    const uint64_t three = 0x0303030303030303ull;
    for (size_t j0 = 0; j0 < 32; j0 += 4)
        for (size_t b = 0; b < n_blocks; b++) {
            uint8_t *at = panel + b * 32 * 64 + 2 * j0;
            for (size_t hf = 0; hf < 2; hf++) {
                uint64_t m[4] = {0, 0, 0, 0};
                for (size_t r = 0; r < 4 && j0 + r < n_rows; r++) m[r] = le64(rows + (j0 + r) * row_bytes + b * 16 + 8 * hf);
                transpose16(m);
                for (size_t p = 0; p < 4; p++)
                    for (size_t s = 0; s < 4; s++) put64(at + (8 * s + 4 * hf + p) * 64, m[p] >> (2 * s) & three);
            }
        }
}

/* four rows one at a time: the plain C four-row kernels (every SIMD level
 * has its own) */
static void ternary_codes_dot4_scalar(int32_t out[4], const uint8_t *codes, size_t row_bytes, const int8_t *x,
                                      size_t n_blocks)
{
    for (int r = 0; r < 4; r++) out[r] = ternary_codes_dot_scalar(codes + r * row_bytes, x, n_blocks);
}

static void ternary_base3_dot4_scalar(int32_t out[4], const uint8_t *codes, size_t row_bytes, const int8_t *x,
                                      size_t n_blocks)
{
    for (int r = 0; r < 4; r++) out[r] = ternary_base3_dot_scalar(codes + r * row_bytes, x, n_blocks);
}

/* the plain C kernels the SIMD ones also call keep their public names */
#define quantize_i8_scalar quantize_i8_ref
#define adamw_f32_scalar adamw_f32_ref

/* every slot of the list (kernels_slots.h): slot name gets name_scalar */
void kernels_fill_scalar(Kernels *k)
{
#define KERNEL_SLOT(name, ret, params) k->name = name##_scalar;
#include "kernels_slots.h"
    k->gemm_tile_cols = 16;
}
