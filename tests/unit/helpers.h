/* Shared test helpers: temporary files with given contents. */
#ifndef L1B_TEST_HELPERS_H
#define L1B_TEST_HELPERS_H

#include <stddef.h>

#include "ckpt.h"

/* Write n bytes to a new temporary file; returns its malloc'ed path. */
char *temp_file_with(const void *data, size_t n);
/* Read a whole file into a malloc'ed buffer; *n gets its size. */
unsigned char *slurp(const char *path, size_t *n);

/* Give a test checkpoint's training state the least values l1b-train
 * could have written (batch, accumulation and schedule of at least 1, a
 * random number state that is not 0). */
void plausible_train_state(TrainState *st);

#endif
