/* container: the section container every l1b model file is (man
 * l1b-format(5)), whatever its kind. It knows tags, offsets, sizes and
 * checksums, not what a section holds (ckpt.h: training checkpoints,
 * packed.h: inference files).
 *
 *   0   8  "L1BMODEL"
 *   8   4  version (1)
 *   12  4  kind: 1 training checkpoint, 2 inference file
 *   16  4  n_sections (<= 16)
 *   20  4  CRC-32 of bytes 0..19 followed by the section table
 *   24  8  zero
 *   32     section table, n_sections x 32 bytes:
 *            u32 tag (4 ASCII bytes), u32 zero, u64 offset, u64 size,
 *            u32 CRC-32 of the section, u32 zero
 *   sections at offsets that are multiples of 64, in table order, each at
 *   the first such offset after the previous one (or the table), with zero
 *   padding between; the file ends where the last section ends. So every
 *   byte is covered by a CRC or must be zero.
 *
 * Writing: container_write lays the sections out and writes the file
 * atomically (util.h's OutFile). Reading: container_open checks the header,
 * the table and every byte outside the sections; a section is then read
 * whole (container_load) or piece by piece (SectionIn), always against its
 * CRC. Errors are l1b_error messages that name the file. */
#ifndef L1B_CONTAINER_H
#define L1B_CONTAINER_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The header's constants (CKPT_: the model-file family, as in l1b-ckpt). */
#define CKPT_MAGIC "L1BMODEL"
#define CKPT_VERSION 1u
#define CKPT_KIND_TRAIN 1u  /* a training checkpoint (ckpt.h) */
#define CKPT_KIND_INFER 2u  /* an inference file (packed.h) */

#define CONTAINER_MAX_SECTIONS 16
#define CONTAINER_ALIGN 64

/* n rounded up to the section alignment */
static inline uint64_t container_align(uint64_t n) { return (n + CONTAINER_ALIGN - 1) / CONTAINER_ALIGN * CONTAINER_ALIGN; }

/* Numbers as sections store them: IEEE-754 bit patterns, little-endian
 * (util.h's put32/le32 and friends for the byte order). */
static inline uint32_t f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static inline uint64_t f64_bits(double d) { uint64_t u; memcpy(&u, &d, 8); return u; }
static inline double bits_f64(uint64_t u) { double d; memcpy(&d, &u, 8); return d; }
/* n floats as little-endian bytes at b (4n bytes) */
void container_put_floats(uint8_t *b, const float *x, size_t n);

/* ---- writing -------------------------------------------------------------- */

/* A section to write: its tag (4 bytes) and contents. */
typedef struct {
    const char *tag;
    const uint8_t *data;
    size_t size;
} ContainerPart;

/* Header, table and the n (<= CONTAINER_MAX_SECTIONS) parts in order at
 * 64-byte aligned offsets, written atomically; -1 on an I/O error. */
int container_write(const char *path, uint32_t kind, const ContainerPart *parts, int n);

/* ---- reading -------------------------------------------------------------- */


typedef struct {
    char tag[4];
    uint64_t offset, size;
    uint32_t crc;
} ContainerSection;

/* An open model file whose header and table have been checked. */
typedef struct {
    int fd;
    const char *path;
    uint64_t size;
    uint32_t kind, n;
    ContainerSection sec[CONTAINER_MAX_SECTIONS];
} Container;

/* Open path and check its header and table: magic, version, a known kind,
 * the header CRC, each section in place and the zero bytes between them. */
int container_open(Container *f, const char *path);
void container_close(Container *f);
/* The kind of a model file (CKPT_KIND_*), from its checked header only. */
int ckpt_kind(const char *path, uint32_t *kind);

/* The section with this tag, or NULL. */
const ContainerSection *container_find(const Container *f, const char *tag);
/* Exactly the n_tags sections, each once (order is free); `what` names
 * the kind of file in the message about an unexpected section. */
int container_check_tags(const Container *f, const char *const *tags, uint32_t n_tags, const char *what);
/* A section read whole into a malloc'ed buffer (one byte more than its
 * size), its CRC checked; want_size 0 = any size. NULL on error. */
uint8_t *container_load(const Container *f, const char *tag, uint64_t want_size);
/* malloc n (+1) bytes for data of f; NULL with an error naming f. */
void *container_alloc(const Container *f, uint64_t n);

/* A section read piece by piece; section_close checks that all of it was
 * read and its CRC, then that every number read as finite was finite.
 * want_size 0 = any size. */
typedef struct {
    const Container *f;
    const ContainerSection *s;
    const char *tag;
    uint64_t pos;
    uint32_t crc;
    /* the first number that should have been finite and was not */
    char bad_what[64];
    uint64_t bad_index;
    float bad_value;
} SectionIn;

int section_open(SectionIn *r, const Container *f, const char *tag, uint64_t want_size);
int section_read(SectionIn *r, void *buf, size_t n);
/* n little-endian floats into x */
int section_floats(SectionIn *r, float *x, size_t n);
/* The same for numbers that must be finite (weights, moments): x[i] is
 * element first + i of `what` ("PARM tensor wq"). The first one that is not
 * finite fails section_close, after the CRC (so damage is reported as
 * such): "FILE: WHAT holds a non-finite value (nan at index I)". */
int section_finite_floats(SectionIn *r, float *x, size_t n, const char *what, uint64_t first);
int section_close(SectionIn *r);

#endif
