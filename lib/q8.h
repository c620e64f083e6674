/* q8: a float matrix kept as int8 rows with one float scale per row, at a
 * quarter of the memory. The sampler keeps its embedding table, output
 * head and KV cache this way (unless asked to be exact).
 *
 * A row x (cols) is stored as q[c] = round(x[c] / scale), ties to even,
 * with scale = max|x| / 127 — the int8 activation quantisation of the
 * BitLinear layers (act_quant_int8), so |x[c] - q[c] * scale| <= scale / 2.
 * The KV cache uses one row per (layer, head, position): a row is then one
 * head's key or value vector, and a large value in one head does not
 * coarsen another. */
#ifndef L1B_Q8_H
#define L1B_Q8_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t rows, cols;
    int8_t *q;      /* (rows, cols) */
    float *scale;   /* (rows) */
} Q8Matrix;

/* Zeroed storage for rows x cols (every row reads back as zeros). */
void q8_init(Q8Matrix *m, uint32_t rows, uint32_t cols);
void q8_free(Q8Matrix *m);
size_t q8_bytes(const Q8Matrix *m);
/* Quantise x (cols) into row r; read row r back as floats into x. */
void q8_set_row(Q8Matrix *m, size_t r, const float *x);
void q8_get_row(const Q8Matrix *m, size_t r, float *x);
/* out (rows) = m @ x for x (cols) given as int8 xq with scale xscale
 * (act_quant_int8): out[r] = scale[r] * xscale * (row r . xq); exact
 * integer products (kern.dot_i8_rows), one float rescale per row.
 * Threaded over rows when the matrix is large. */
void q8_matvec(float *out, const Q8Matrix *m, const int8_t *xq, float xscale);
/* The same for n vectors at once: out (n, rows), row t of it m @ x_t for
 * x_t = xq + t * ldx (cols) with scale xscale[t]; each value as q8_matvec
 * computes it. The rows go in chunks that every vector uses in turn while
 * they are in cache. */
void q8_matmul(float *out, const Q8Matrix *m, const int8_t *xq, size_t ldx, const float *xscale, size_t n);

#endif
