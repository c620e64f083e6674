#include "q8.h"

#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "layers.h"
#include "threads.h"
#include "util.h"

void q8_init(Q8Matrix *m, uint32_t rows, uint32_t cols)
{
    m->rows = rows;
    m->cols = cols;
    m->q = xcalloc((size_t)rows * cols + 1, 1);
    m->scale = xcalloc((size_t)rows + 1, sizeof *m->scale);
}

void q8_free(Q8Matrix *m)
{
    free(m->q);
    free(m->scale);
    memset(m, 0, sizeof *m);
}

size_t q8_bytes(const Q8Matrix *m) { return (size_t)m->rows * (m->cols + sizeof *m->scale); }

void q8_set_row(Q8Matrix *m, size_t r, const float *x)
{
    act_quant_int8(x, m->cols, m->q + r * m->cols, &m->scale[r]);
}

void q8_get_row(const Q8Matrix *m, size_t r, float *x)
{
    const int8_t *q = m->q + r * m->cols;
    float s = m->scale[r];
    for (size_t c = 0; c < m->cols; c++) x[c] = (float)q[c] * s;
}

typedef struct {
    float *out;
    const Q8Matrix *m;
    const int8_t *xq;
    float xscale;
} Matvec;

static void matvec_rows(void *ctx, size_t r0, size_t r1, int thread)
{
    (void)thread;
    const Matvec *mv = ctx;
    const Q8Matrix *m = mv->m;
    int32_t dots[64];  /* the rows go to the row kernel 64 at a time */
    for (size_t r = r0; r < r1; r += 64) {
        size_t n = r1 - r < 64 ? r1 - r : 64;
        kern.dot_i8_rows(dots, mv->xq, m->q + r * m->cols, m->cols, n);
        for (size_t i = 0; i < n; i++) mv->out[r + i] = m->scale[r + i] * mv->xscale * (float)dots[i];
    }
}

void q8_matvec(float *out, const Q8Matrix *m, const int8_t *xq, float xscale)
{
    Matvec mv = {out, m, xq, xscale};
    /* as ternary_matvec: below ~256K weights a second thread costs more
     * than it saves; every row is computed the same way either way */
    if ((size_t)m->rows * m->cols < (1u << 18))
        matvec_rows(&mv, 0, m->rows, 0);
    else
        parallel_for(m->rows, matvec_rows, &mv);
}

typedef struct {
    float *out;
    const Q8Matrix *m;
    const int8_t *xq;
    size_t ldx, n;
    const float *xscale;
} Matmul;

static void matmul_rows(void *ctx, size_t c0, size_t c1, int thread)
{
    (void)thread;
    const Matmul *mm = ctx;
    const Q8Matrix *m = mm->m;
    int32_t dots[64];
    for (size_t r = c0 * 64; r < c1 * 64 && r < m->rows; r += 64) {
        size_t n = m->rows - r < 64 ? m->rows - r : 64;
        for (size_t t = 0; t < mm->n; t++) {
            kern.dot_i8_rows(dots, mm->xq + t * mm->ldx, m->q + r * m->cols, m->cols, n);
            float *out = mm->out + t * m->rows;
            for (size_t i = 0; i < n; i++) out[r + i] = m->scale[r + i] * mm->xscale[t] * (float)dots[i];
        }
    }
}

void q8_matmul(float *out, const Q8Matrix *m, const int8_t *xq, size_t ldx, const float *xscale, size_t n)
{
    Matmul mm = {out, m, xq, ldx, n, xscale};
    size_t chunks = (m->rows + 63) / 64;
    parallel_for_min(chunks, (size_t)m->rows * m->cols * n, (size_t)1 << 18, matmul_rows, &mm);
}
