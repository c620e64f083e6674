/* pretok: split bytes into pre-tokens, the units BPE merges stay inside.
 *
 * Rules (pre-tokenizer 1, recorded in every tokenizer): bytes fall into four
 * classes: letters (A-Z, a-z and every byte >= 0x80, so UTF-8 characters
 * stay inside words), digits (0-9), white space (space, \t, \n, \v, \f, \r)
 * and punctuation (everything else, NUL included). A pre-token is
 *   - a run of one class other than white space, with one leading space
 *     attached when a space precedes it (" the", " 42", " --");
 *   - a run of white space; when the run is followed by a non-space byte and
 *     ends in a space, that last space is left to lead the next pre-token.
 * No pre-token is longer than PRETOK_MAX bytes: longer runs are cut. */
#ifndef L1B_PRETOK_H
#define L1B_PRETOK_H

#include <stddef.h>
#include <stdint.h>

#define PRETOK_VERSION 1
#define PRETOK_MAX 64

/* Length (>= 1) of the pre-token starting at p, given n > 0 bytes. The
 * decision looks at no more than PRETOK_MAX + 1 bytes, so a streaming caller
 * passes n > PRETOK_MAX until it reaches the end of its input; the same
 * bytes then split the same way whatever the buffer boundaries. */
size_t pretok_next(const uint8_t *p, size_t n);

#endif
