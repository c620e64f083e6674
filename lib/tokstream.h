/* tokstream: the token stream file format (man l1b-format(5)).
 *
 *   header   "L1BTOKEN", u32 version (1), u32 flags (0), u32 header size H
 *            (multiple of 64), u32 tokenizer record size T, the tokenizer
 *            record (tokenizer.h), u32 CRC-32 of everything before it,
 *            zero padding up to H
 *   tokens   n x u16, little-endian, from offset H (aligned for mapping)
 *   trailer  u64 n, u32 CRC-32 of the token bytes, "TEND"
 *
 * The trailer lets a reader tell a complete stream from one cut short:
 * streaming readers hold back the last 16 bytes until end of input. */
#ifndef L1B_TOKSTREAM_H
#define L1B_TOKSTREAM_H

#include <stdint.h>

#include "tokenizer.h"
#include "util.h"

#define TOKSTREAM_MAGIC "L1BTOKEN"
#define TOKSTREAM_VERSION 1u
#define TOKSTREAM_TRAILER 16u
#define TOKSTREAM_ALIGN 64u

/* ---- writing --------------------------------------------------------- */

typedef struct {
    OutFile *out;
    uint64_t n_tokens;
    uint32_t crc;
    uint32_t n_vocab;
} TokWriter;

int tokw_begin(TokWriter *w, OutFile *out, const Tokenizer *t);
int tokw_put(TokWriter *w, const uint16_t *ids, size_t n);
int tokw_end(TokWriter *w);  /* writes the trailer; the caller commits */

/* ---- streaming read -------------------------------------------------- */

typedef struct {
    int fd;
    const char *name;
    Tokenizer tok;
    uint64_t n_tokens;  /* read so far */
    uint32_t crc;
    int eof, done;
    uint8_t *buf;       /* read-ahead; the last 16 bytes may be the trailer */
    size_t have;
} TokReader;

/* Read and check the header from fd (name for messages). */
int tokr_open(TokReader *r, int fd, const char *name);
/* Up to max ids into ids. Returns the count, 0 once the whole stream was
 * read and its trailer checked, -1 on a bad, truncated or corrupt stream. */
long tokr_read(TokReader *r, uint16_t *ids, size_t max);
void tokr_close(TokReader *r);  /* frees; does not close fd */

/* Parse a whole header held in memory (n >= bytes available); on success
 * stores the header size. Shared by tokr_open and tests. */
int tokstream_parse_header(const uint8_t *p, size_t n, const char *name, Tokenizer *t,
                           uint32_t *header_size);

/* Load the tokenizer stored in a token stream, after reading the whole
 * stream and checking it (ids, count, CRC) in bounded memory: a damaged
 * stream gives no tokenizer. tokenizer_from_file (tokenizer.h) also takes
 * model files. */
int tok_load_file(const char *path, Tokenizer *t);

#endif
