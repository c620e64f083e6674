#include "ternary.h"

#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "threads.h"
#include "util.h"

size_t ternary_row_bytes(const PackedTernary *p) { return (size_t)p->n_blocks * 8 * p->bits; }
size_t ternary_bytes(const PackedTernary *p) { return p->rows * ternary_row_bytes(p); }

void ternary_pack(PackedTernary *p, const int8_t *q, uint32_t rows, uint32_t cols, float scale, uint32_t bits)
{
    p->rows = rows;
    p->cols = cols;
    p->n_blocks = (cols + TERNARY_BLOCK - 1) / TERNARY_BLOCK;
    p->bits = bits;
    p->scale = scale;
    size_t row_bytes = ternary_row_bytes(p);
    p->data = xmalloc(rows * row_bytes + 1);
    /* 2 bits: code 1 (weight 0) everywhere; 1 bit: zero padding */
    memset(p->data, bits == 2 ? 0x55 : 0, rows * row_bytes);
    for (uint32_t r = 0; r < rows; r++) {
        uint8_t *row = p->data + r * row_bytes;
        for (uint32_t c = 0; c < cols; c++) {
            uint32_t b = c / 64, k = c % 64, i = k % 16, j = k / 16;
            int8_t w = q[(size_t)r * cols + c];
            if (bits == 1) {
                if (w > 0) row[b * 8 + k / 8] |= (uint8_t)(1u << (k % 8));
                continue;
            }
            uint8_t *byte = row + b * 16 + i;
            *byte = (uint8_t)((*byte & ~(3u << (2 * j))) | (uint8_t)(w + 1) << (2 * j));
        }
    }
}

void ternary_free(PackedTernary *p)
{
    free(p->data);
    memset(p, 0, sizeof *p);
}

int ternary_get(const PackedTernary *p, uint32_t r, uint32_t c)
{
    const uint8_t *row = p->data + r * ternary_row_bytes(p);
    uint32_t b = c / 64, k = c % 64, i = k % 16, j = k / 16;
    if (p->bits == 1) return (row[b * 8 + k / 8] >> (k % 8) & 1) ? 1 : -1;
    return (row[b * 16 + i] >> (2 * j) & 3) - 1;
}

typedef struct {
    int32_t *const *out;
    const PackedTernary *const *w;
    int n;                /* matrices, all of the same cols */
    const int8_t *x;
    int32_t sum_x;
} Matvec;

/* rows [r0, r1) of one matrix */
static void matvec_one(const Matvec *m, int j, size_t r0, size_t r1)
{
    const PackedTernary *w = m->w[j];
    int32_t *out = m->out[j];
    const int32_t sum_x = m->sum_x;  /* a local: out's stores cannot change it */
    const uint8_t *data = w->data;
    const int8_t *x = m->x;
    size_t row_bytes = ternary_row_bytes(w), n_blocks = w->n_blocks;
    if (w->bits == 2) {
        size_t r = r0;
        for (; r + 4 <= r1; r += 4) {
            int32_t s[4];
            kern.ternary_codes_dot4(s, data + r * row_bytes, row_bytes, x, n_blocks);
            for (int i = 0; i < 4; i++) out[r + i] = s[i] - sum_x;
        }
        for (; r < r1; r++) out[r] = kern.ternary_codes_dot(data + r * row_bytes, x, n_blocks) - sum_x;
        return;
    }
    for (size_t r = r0; r < r1; r++) out[r] = 2 * kern.binary_masked_sum(data + r * row_bytes, x, n_blocks) - sum_x;
}

/* rows [r0, r1) of the matrices stacked one under the other */
static void matvec_rows(void *ctx, size_t r0, size_t r1, int thread)
{
    (void)thread;
    const Matvec *m = ctx;
    size_t base = 0;
    for (int j = 0; j < m->n && r0 < r1; j++) {
        size_t rows = m->w[j]->rows;
        if (r0 < base + rows) {
            size_t end = r1 < base + rows ? r1 : base + rows;
            matvec_one(m, j, r0 - base, end - base);
            r0 = end;
        }
        base += rows;
    }
}

void ternary_matvec_many(int32_t *const out[], const PackedTernary *const w[], int n, const int8_t *x)
{
    Matvec m = {out, w, n, x, 0};
    size_t rows = 0, blocks = 0;
    for (int j = 0; j < n; j++) {
        rows += w[j]->rows;
        blocks += (size_t)w[j]->rows * w[j]->n_blocks;
    }
    for (size_t i = 0; i < (size_t)w[0]->n_blocks * TERNARY_BLOCK; i++) m.sum_x += x[i];
    /* below ~256K weights waking a second thread costs more than it saves
     * (measured: a 128-wide model decoded slower on 2 threads than on 1);
     * each row is computed the same way either way */
    if (blocks < 4096)  /* 4096 blocks of 64: 256K weights */
        matvec_rows(&m, 0, rows, 0);
    else
        parallel_for(rows, matvec_rows, &m);
}

void ternary_matvec(int32_t *out, const PackedTernary *w, const int8_t *x)
{
    ternary_matvec_many(&out, &w, 1, x);
}
