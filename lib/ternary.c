#include "ternary.h"

#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "threads.h"
#include "util.h"

const NameValue packing_bits_names[] = {{"2", PACK_2BIT}, {"1.6", PACK_BASE3}, {NULL, 0}};

uint32_t ternary_block_cols(uint32_t packing) { return packing == PACK_BASE3 ? 80 : 64; }
uint32_t ternary_block_bytes(uint32_t packing) { return packing == PACK_SIGN ? 8 : 16; }

size_t ternary_packed_row_bytes(uint32_t cols, uint32_t packing)
{
    uint32_t bc = ternary_block_cols(packing);
    return (size_t)((cols + bc - 1) / bc) * ternary_block_bytes(packing);
}

size_t ternary_x_len(uint32_t cols)
{
    size_t a = (cols + 63) / 64 * (size_t)64, b = (cols + 79) / 80 * (size_t)80;
    return a > b ? a : b;
}

size_t ternary_row_bytes(const PackedTernary *p) { return (size_t)p->n_blocks * ternary_block_bytes(p->packing); }
size_t ternary_bytes(const PackedTernary *p) { return p->rows * ternary_row_bytes(p); }
size_t ternary_padded_cols(const PackedTernary *p) { return (size_t)p->n_blocks * ternary_block_cols(p->packing); }

/* the byte of five codes (0..2), the first the most significant digit */
static uint8_t base3_byte(const uint8_t code[5])
{
    unsigned v = 0;
    for (int j = 0; j < 5; j++) v = 3 * v + code[j];
    return (uint8_t)((v * 256 + 242) / 243);
}

static unsigned base3_digit(uint8_t byte, uint32_t j)
{
    unsigned q = byte;
    for (uint32_t d = 0; d < j; d++) q = 3 * q & 255;
    return 3 * q >> 8;
}

/* the five codes of a base-3 byte, the first the most significant digit */
static void base3_codes(uint8_t byte, uint8_t code[5])
{
    unsigned q = byte;
    for (int j = 0; j < 5; j++) {
        q *= 3;
        code[j] = (uint8_t)(q >> 8);
        q &= 255;
    }
}

int ternary_base3_byte_valid(uint8_t byte)
{
    uint8_t code[5];
    base3_codes(byte, code);
    return base3_byte(code) == byte;
}

/* where weight c of a row sits: block b, byte i of the block, and slot j
 * (the 2-bit pair, or the base-3 digit) */
static void locate(uint32_t packing, uint32_t c, uint32_t *b, uint32_t *i, uint32_t *j)
{
    uint32_t bc = ternary_block_cols(packing), k = c % bc;
    *b = c / bc;
    *i = k % 16;
    *j = k / 16;
}

/* a row of codes (0..2, n_blocks whole blocks of them) into its blocks */
static void encode_row(uint8_t *row, const uint8_t *codes, uint32_t packing, uint32_t n_blocks)
{
    uint32_t bc = ternary_block_cols(packing);
    for (uint32_t b = 0; b < n_blocks; b++)
        for (uint32_t i = 0; i < 16; i++) {
            const uint8_t *k = codes + (size_t)b * bc + i;
            if (packing == PACK_2BIT)
                row[b * 16 + i] = (uint8_t)(k[0] | k[16] << 2 | k[32] << 4 | k[48] << 6);
            else
                row[b * 16 + i] = base3_byte((const uint8_t[5]){k[0], k[16], k[32], k[48], k[64]});
        }
}

/* encode_row's inverse: a row's blocks (2 bits or base 3) back to codes */
static void decode_row(uint8_t *codes, const uint8_t *row, uint32_t packing, uint32_t n_blocks)
{
    uint32_t bc = ternary_block_cols(packing);
    for (uint32_t b = 0; b < n_blocks; b++)
        for (uint32_t i = 0; i < 16; i++) {
            uint8_t *k = codes + (size_t)b * bc + i, byte = row[b * 16 + i], d[5];
            if (packing == PACK_2BIT) {
                for (int j = 0; j < 4; j++) k[16 * j] = (uint8_t)(byte >> (2 * j) & 3);
            } else {
                base3_codes(byte, d);
                for (int j = 0; j < 5; j++) k[16 * j] = d[j];
            }
        }
}

void ternary_pack(PackedTernary *p, const int8_t *q, uint32_t rows, uint32_t cols, float scale, uint32_t packing)
{
    p->rows = rows;
    p->cols = cols;
    p->packing = packing;
    p->n_blocks = (cols + ternary_block_cols(packing) - 1) / ternary_block_cols(packing);
    p->scale = scale;
    size_t row_bytes = ternary_row_bytes(p), padded = ternary_padded_cols(p);
    p->data = xmalloc(rows * row_bytes + 1);
    if (packing == PACK_SIGN) {  /* padding bits 0 */
        memset(p->data, 0, rows * row_bytes);
        for (uint32_t r = 0; r < rows; r++)
            for (uint32_t c = 0; c < cols; c++)
                if (q[(size_t)r * cols + c] > 0) p->data[r * row_bytes + c / 8] |= (uint8_t)(1u << (c % 8));
        return;
    }
    /* codes w + 1, padding weights code 1 (zero) */
    uint8_t *codes = xmalloc(padded);
    for (uint32_t r = 0; r < rows; r++) {
        for (size_t c = 0; c < padded; c++) codes[c] = c < cols ? (uint8_t)(q[(size_t)r * cols + c] + 1) : 1;
        encode_row(p->data + r * row_bytes, codes, packing, p->n_blocks);
    }
    free(codes);
}

/* weight c of row r set to code (0..2; for PACK_SIGN 0 or 1, the bit) */
static void set_code(PackedTernary *p, uint32_t r, uint32_t c, unsigned code)
{
    uint8_t *row = p->data + r * ternary_row_bytes(p);
    if (p->packing == PACK_SIGN) {
        row[c / 8] = (uint8_t)((row[c / 8] & ~(1u << (c % 8))) | code << (c % 8));
        return;
    }
    uint32_t b, i, j;
    locate(p->packing, c, &b, &i, &j);
    uint8_t *byte = &row[b * 16 + i];
    if (p->packing == PACK_2BIT) {
        *byte = (uint8_t)((*byte & ~(3u << (2 * j))) | code << (2 * j));
        return;
    }
    uint8_t digits[5];
    base3_codes(*byte, digits);
    digits[j] = (uint8_t)code;
    *byte = base3_byte(digits);
}

size_t ternary_dense_row_bytes(uint32_t cols) { return ((size_t)cols + 4) / 5; }

void ternary_to_dense(uint8_t *dense, const PackedTernary *p)
{
    /* the row's codes, then 1s up to 5 nd (past 2 bits' padding at 64k columns) */
    size_t nd = ternary_dense_row_bytes(p->cols), padded = ternary_padded_cols(p);
    uint8_t *codes = xmalloc(padded > 5 * nd ? padded : 5 * nd);
    for (uint32_t r = 0; r < p->rows; r++) {
        decode_row(codes, p->data + r * ternary_row_bytes(p), p->packing, p->n_blocks);
        for (size_t c = p->cols; c < 5 * nd; c++) codes[c] = 1;
        for (size_t i = 0; i < nd; i++) dense[r * nd + i] = base3_byte(codes + 5 * i);
    }
    free(codes);
}

int ternary_from_dense(PackedTernary *p, const uint8_t *dense, uint32_t *bad_row)
{
    size_t nd = ternary_dense_row_bytes(p->cols), padded = ternary_padded_cols(p);
    uint8_t *codes = xmalloc(padded);  /* 80 n_blocks >= 5 nd */
    int rc = 0;
    for (uint32_t r = 0; rc == 0 && r < p->rows; r++) {
        const uint8_t *in = dense + r * nd;
        for (size_t i = 0; i < nd; i++) {
            if (!ternary_base3_byte_valid(in[i])) rc = -1;
            base3_codes(in[i], codes + 5 * i);
        }
        for (size_t c = p->cols; c < padded; c++) {
            if (c < 5 * nd && codes[c] != 1) rc = -1;
            codes[c] = 1;
        }
        if (rc < 0) *bad_row = r;
        else encode_row(p->data + r * ternary_row_bytes(p), codes, PACK_BASE3, p->n_blocks);
    }
    free(codes);
    return rc;
}

void ternary_random(PackedTernary *p, uint32_t rows, uint32_t cols, float scale, uint32_t packing, Rng *r)
{
    p->rows = rows;
    p->cols = cols;
    p->packing = packing;
    p->n_blocks = (cols + ternary_block_cols(packing) - 1) / ternary_block_cols(packing);
    p->scale = scale;
    size_t n = rows * ternary_row_bytes(p);
    p->data = xmalloc(n + 1);
    /* the bytes a packing writes: 81 of four codes, 243 of five, 256 of 8 bits */
    uint8_t valid[256];
    unsigned n_valid = 0;
    for (unsigned v = 0; v < 256; v++)
        if (packing == PACK_SIGN || (packing == PACK_2BIT ? (v & 0x55 & v >> 1) == 0 : ternary_base3_byte_valid((uint8_t)v)))
            valid[n_valid++] = (uint8_t)v;
    for (size_t i = 0; i < n; i += 4) {
        uint64_t u = rng_u64(r);
        for (size_t k = 0; k < 4 && i + k < n; k++, u >>= 16) p->data[i + k] = valid[(u & 0xffff) * n_valid >> 16];
    }
    /* padding as ternary_pack writes it: zero weights, clear bits */
    for (uint32_t row = 0; row < rows; row++)
        for (size_t c = cols; c < ternary_padded_cols(p); c++) set_code(p, row, (uint32_t)c, packing == PACK_SIGN ? 0 : 1);
}

void ternary_repack(PackedTernary *p, uint32_t packing)
{
    if (p->packing == packing) return;
    int8_t *q = xmalloc((size_t)p->rows * p->cols + 1);
    for (uint32_t r = 0; r < p->rows; r++)
        for (uint32_t c = 0; c < p->cols; c++) q[(size_t)r * p->cols + c] = (int8_t)ternary_get(p, r, c);
    free(p->data);
    ternary_pack(p, q, p->rows, p->cols, p->scale, packing);
    free(q);
}

void ternary_free(PackedTernary *p)
{
    free(p->data);
    memset(p, 0, sizeof *p);
}

int ternary_get(const PackedTernary *p, uint32_t r, uint32_t c)
{
    const uint8_t *row = p->data + r * ternary_row_bytes(p);
    if (p->packing == PACK_SIGN) return (row[c / 8] >> (c % 8) & 1) ? 1 : -1;
    uint32_t b, i, j;
    locate(p->packing, c, &b, &i, &j);
    uint8_t byte = row[b * 16 + i];
    return (int)(p->packing == PACK_2BIT ? (unsigned)(byte >> (2 * j) & 3) : base3_digit(byte, j)) - 1;
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
    if (w->packing != PACK_SIGN) {
        int base3 = w->packing == PACK_BASE3;
        size_t r = r0;
        for (; r + 4 <= r1; r += 4) {
            int32_t s[4];
            if (base3)
                kern.ternary_base3_dot4(s, data + r * row_bytes, row_bytes, x, n_blocks);
            else
                kern.ternary_codes_dot4(s, data + r * row_bytes, row_bytes, x, n_blocks);
            for (int i = 0; i < 4; i++) out[r + i] = s[i] - sum_x;
        }
        for (; r < r1; r++)
            out[r] = (base3 ? kern.ternary_base3_dot : kern.ternary_codes_dot)(data + r * row_bytes, x, n_blocks) - sum_x;
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
    size_t rows = 0, weights = 0;
    for (int j = 0; j < n; j++) {
        rows += w[j]->rows;
        weights += (size_t)w[j]->rows * ternary_padded_cols(w[j]);
    }
    for (size_t i = 0; i < ternary_padded_cols(w[0]); i++) m.sum_x += x[i];
    /* below ~256K weights waking a second thread costs more than it saves
     * (measured: a 128-wide model decoded slower on 2 threads than on 1);
     * each row is computed the same way either way */
    if (weights < 4096 * 64)
        matvec_rows(&m, 0, rows, 0);
    else
        parallel_for(rows, matvec_rows, &m);
}

void ternary_matvec(int32_t *out, const PackedTernary *w, const int8_t *x)
{
    ternary_matvec_many(&out, &w, 1, x);
}
