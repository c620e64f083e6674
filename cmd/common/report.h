/* report: what l1b-ckpt prints about model files and token streams (the
 * facts come from lib/inspect.h): a model's summary as text or JSON, the
 * vocabulary, the metric history as a table or an SVG plot (svg.h).
 * Each returns -1 with a one-line message (l1b_error) when the file cannot
 * be read. */
#ifndef L1B_REPORT_H
#define L1B_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* json: one JSON object (keys in l1b-ckpt(1)). */
int report_info(FILE *out, const char *path, int json);
/* The tokenizer of a model file or token stream, a line per token: id,
 * tab, the token spelt as escape_bytes does (or <eod>), and for merges a
 * tab and the rank, for user symbols a tab and "user". */
int report_vocab(FILE *out, const char *path);
/* A token's bytes as text, the one spelling of pieces (l1b-tokenize
 * --pieces, vocab, --logprobs; l1b-tokenize(1), PIECES): a space as U+2581
 * (lower one eighth block), \\ \n \t \r, printable ASCII and well-formed UTF-8 as they are
 * (but C1 controls and U+2581 itself), every other byte \xHH. Never holds
 * a plain space, tab or newline. out needs room for 4 n + 1 chars. */
void escape_bytes(char *out, const uint8_t *b, size_t n);
/* The metric history as an aligned table, columns as in hist_names, or
 * plotted as an SVG file, written atomically. */
int report_history(FILE *out, const char *path);
int report_history_svg(const char *path, const char *svg_path);

#endif
