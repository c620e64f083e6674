/* inspect: what l1b-ckpt shows about model files and token streams — a
 * model's summary (as text or JSON), a full integrity check, the
 * vocabulary and the metric history — printed to a stdio stream. Every
 * function reads the file through the checked readers (ckpt.h,
 * tokstream.h) and returns -1 with a one-line message (l1b_error) on any
 * problem. */
#ifndef L1B_INSPECT_H
#define L1B_INSPECT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ckpt.h"

/* One ternary layer slice after quantisation: its weights' share of -1, 0
 * and +1 and its scale (dequantised weight = q * scale). */
typedef struct {
    uint64_t minus, zero, plus;
    float scale;
} SliceStats;
void slice_stats(const PackedTernary *p, SliceStats *s);

/* Shape, parameters, tokenizer, training progress, last metrics, size and
 * per-tensor statistics of a model file of either kind; json: one JSON
 * object (keys in l1b-ckpt(1)). */
int inspect_info(FILE *out, const char *path, int json);

/* Every checksum and structural invariant of a model file or token stream
 * (told apart by magic), plus finite weights and a sane training state;
 * 0 if all is well. */
int inspect_verify(const char *path);

/* The tokenizer of a model file or token stream, a line per token: id,
 * tab, escaped bytes (or <eod>), and for merges a tab and the rank. */
int inspect_vocab(FILE *out, const char *path);
/* Bytes as vocab prints them: printable ASCII as is, \\ \n \t, else \xHH.
 * out needs room for 4 n + 1 chars. */
void escape_bytes(char *out, const uint8_t *b, size_t n);

/* The metric history as an aligned table, columns as in hist_names, or
 * plotted as an SVG file (svg.h), written atomically. */
int inspect_history(FILE *out, const char *path);
int inspect_history_svg(const char *path, const char *svg_path);

#endif
