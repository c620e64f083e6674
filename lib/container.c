/* The section container of model files: see container.h. */
#include "container.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32.h"
#include "util.h"

/* f32_bits and the float blocks: binary32 and binary64, 4 and 8 bytes */
_Static_assert(sizeof(float) == 4 && sizeof(double) == 8, "IEEE-754 float and double");

void container_put_floats(uint8_t *b, const float *x, size_t n)
{
    memcpy(b, x, 4 * n);  /* IEEE-754 binary32 on every host l1b builds for */
    le32_inplace(b, n);
}

/* ---- writing ---------------------------------------------------------- */

int container_write(const char *path, uint32_t kind, const ContainerPart *parts, int n)
{
    uint8_t head[32 + 32 * CONTAINER_MAX_SECTIONS];
    size_t head_size = 32 + 32 * (size_t)n;
    memset(head, 0, sizeof head);
    memcpy(head, CKPT_MAGIC, 8);
    put32(head + 8, CKPT_VERSION);
    put32(head + 12, kind);
    put32(head + 16, (uint32_t)n);
    uint64_t off = container_align(head_size);
    for (int i = 0; i < n; i++) {
        uint8_t *e = head + 32 + 32 * i;
        memcpy(e, parts[i].tag, 4);
        put64(e + 8, off);
        put64(e + 16, parts[i].size);
        put32(e + 24, crc32_update(0, parts[i].data, parts[i].size));
        off = container_align(off + parts[i].size);
    }
    uint32_t crc = crc32_update(0, head, 20);
    put32(head + 20, crc32_update(crc, head + 32, 32 * (size_t)n));

    OutFile f;
    int rc = outfile_open(&f, path);
    if (rc < 0) return -1;
    static const uint8_t zeros[CONTAINER_ALIGN];
    uint64_t pos = head_size;
    rc = outfile_write(&f, head, head_size);
    for (int i = 0; i < n && rc == 0; i++) {
        uint64_t at = le64(head + 32 + 32 * i + 8);
        rc = outfile_write(&f, zeros, (size_t)(at - pos));
        if (rc == 0) rc = outfile_write(&f, parts[i].data, parts[i].size);
        pos = at + parts[i].size;
    }
    if (rc == 0) return outfile_commit(&f);
    outfile_abort(&f);
    return -1;
}

/* ---- reading: header and table ----------------------------------------- */

static int read_at(int fd, void *buf, size_t n, uint64_t off, const char *path)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return l1b_error("%s: read error: %s", path, strerror(errno));
        if (r == 0) return l1b_error("%s: truncated model file", path);
        got += (size_t)r;
    }
    return 0;
}

/* zero bytes [from, to) of the file: padding and reserved space */
static int check_zero(const Container *f, uint64_t from, uint64_t to, const char *what)
{
    uint8_t b[CONTAINER_ALIGN];
    if (to - from > sizeof b) return l1b_error("%s: corrupt model file (%s too long)", f->path, what);
    if (read_at(f->fd, b, (size_t)(to - from), from, f->path) < 0) return -1;
    for (uint64_t i = 0; i < to - from; i++)
        if (b[i]) return l1b_error("%s: corrupt model file (non-zero byte in %s at offset %llu)", f->path,
                                   what, (unsigned long long)(from + i));
    return 0;
}

/* Header and section table, checked: every byte of the file outside the
 * sections is covered by the header CRC or must be zero. */
static int read_table(Container *f)
{
    const char *path = f->path;
    uint64_t size = f->size;
    uint8_t head[32 + 32 * CONTAINER_MAX_SECTIONS];
    if (size < 32) {
        uint8_t m[8];
        if (size >= 8 && read_at(f->fd, m, 8, 0, path) < 0) return -1;
        if (size < 8 || memcmp(m, CKPT_MAGIC, 8)) return l1b_error("%s: not an l1b model file (bad magic)", path);
        return l1b_error("%s: truncated model file", path);
    }
    if (read_at(f->fd, head, 32, 0, path) < 0) return -1;
    if (memcmp(head, CKPT_MAGIC, 8)) return l1b_error("%s: not an l1b model file (bad magic)", path);
    uint32_t version = le32(head + 8);
    if (version != CKPT_VERSION)
        return l1b_error("%s: model file version %u not supported (this l1b reads %u)", path, version, CKPT_VERSION);
    f->kind = le32(head + 12);
    if (f->kind != CKPT_KIND_TRAIN && f->kind != CKPT_KIND_INFER)
        return l1b_error("%s: unknown model file kind %u", path, f->kind);
    f->n = le32(head + 16);
    if (f->n == 0 || f->n > CONTAINER_MAX_SECTIONS) return l1b_error("%s: corrupt model file (%u sections)", path, f->n);
    if (size < 32 + 32 * (uint64_t)f->n) return l1b_error("%s: truncated model file", path);
    if (read_at(f->fd, head + 32, 32 * f->n, 32, path) < 0) return -1;
    uint32_t crc = crc32_update(crc32_update(0, head, 20), head + 32, 32 * f->n);
    if (crc != le32(head + 20)) return l1b_error("%s: model header checksum mismatch", path);
    if (le64(head + 24)) return l1b_error("%s: corrupt model file (reserved header bytes not zero)", path);
    uint64_t end = 32 + 32 * (uint64_t)f->n;
    for (uint32_t i = 0; i < f->n; i++) {
        const uint8_t *e = head + 32 + 32 * i;
        ContainerSection *s = &f->sec[i];
        memcpy(s->tag, e, 4);
        s->offset = le64(e + 8);
        s->size = le64(e + 16);
        s->crc = le32(e + 24);
        if (le32(e + 4) || le32(e + 28))
            return l1b_error("%s: corrupt model file (reserved bytes of the %.4s entry not zero)", path, s->tag);
        for (uint32_t j = 0; j < i; j++)
            if (!memcmp(f->sec[j].tag, s->tag, 4))
                return l1b_error("%s: corrupt model file (two %.4s sections)", path, s->tag);
        if (s->offset <= size && s->size > size - s->offset)
            return l1b_error("%s: truncated model file (section %.4s ends past the end)", path, s->tag);
        if (s->offset != container_align(end) || s->offset > size)
            return l1b_error("%s: corrupt model file (section %.4s misplaced)", path, s->tag);
        if (check_zero(f, end, s->offset, "padding") < 0) return -1;
        end = s->offset + s->size;
    }
    if (end != size) return l1b_error("%s: corrupt model file (%llu bytes after the last section)", path,
                                      (unsigned long long)(size - end));
    return 0;
}

int container_open(Container *f, const char *path)
{
    memset(f, 0, sizeof *f);
    f->path = path;
    f->fd = open_regular_file(path, &f->size);
    if (f->fd < 0) return -1;
    if (read_table(f) == 0) return 0;
    close(f->fd);
    f->fd = -1;
    return -1;
}

void container_close(Container *f)
{
    if (f->fd >= 0) close(f->fd);
    f->fd = -1;
}

int ckpt_kind(const char *path, uint32_t *kind)
{
    Container f;
    if (container_open(&f, path) < 0) return -1;
    *kind = f.kind;
    container_close(&f);
    return 0;
}

/* ---- reading: sections ------------------------------------------------- */

int container_check_tags(const Container *f, const char *const *tags, uint32_t n_tags, const char *what)
{
    for (uint32_t i = 0; i < f->n; i++) {
        uint32_t k = 0;
        while (k < n_tags && memcmp(f->sec[i].tag, tags[k], 4)) k++;
        if (k == n_tags) {
            char t[5];
            for (int j = 0; j < 4; j++) {
                unsigned char ch = (unsigned char)f->sec[i].tag[j];
                t[j] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
            }
            t[4] = 0;
            return l1b_error("%s: unexpected section %s in a %s", f->path, t, what);
        }
    }
    for (uint32_t k = 0; k < n_tags; k++) {
        uint32_t i = 0;
        while (i < f->n && memcmp(f->sec[i].tag, tags[k], 4)) i++;
        if (i == f->n) return l1b_error("%s: model file lacks its %s section", f->path, tags[k]);
    }
    return 0;
}

const ContainerSection *container_find(const Container *f, const char *tag)
{
    for (uint32_t i = 0; i < f->n; i++)
        if (!memcmp(f->sec[i].tag, tag, 4)) return &f->sec[i];
    return NULL;
}

static int check_size(const Container *f, const ContainerSection *s, const char *tag, uint64_t want_size)
{
    if (!s) return l1b_error("%s: model file lacks its %s section", f->path, tag);
    if (want_size && s->size != want_size)
        return l1b_error("%s: %s section is %llu bytes, expected %llu", f->path, tag, (unsigned long long)s->size,
                         (unsigned long long)want_size);
    if (s->size > SIZE_MAX - 1) return l1b_error("%s: %s section too large for this machine", f->path, tag);
    return 0;
}

int section_open(SectionIn *r, const Container *f, const char *tag, uint64_t want_size)
{
    r->f = f;
    r->s = container_find(f, tag);
    r->tag = tag;
    r->pos = 0;
    r->crc = 0;
    r->bad_what[0] = 0;
    return check_size(f, r->s, tag, want_size);
}

int section_read(SectionIn *r, void *buf, size_t n)
{
    if (n > r->s->size - r->pos) return l1b_error("%s: %s section too short", r->f->path, r->tag);
    if (read_at(r->f->fd, buf, n, r->s->offset + r->pos, r->f->path) < 0) return -1;
    r->crc = crc32_update(r->crc, buf, n);
    r->pos += n;
    return 0;
}

/* read as the file's bytes (the CRC is of those), then put in host order
 * in place: nothing to do on a little-endian host */
int section_floats(SectionIn *r, float *x, size_t n)
{
    if (section_read(r, x, 4 * n) < 0) return -1;
    le32_inplace(x, n);
    return 0;
}

int section_finite_floats(SectionIn *r, float *x, size_t n, const char *what, uint64_t first)
{
    if (section_floats(r, x, n) < 0) return -1;
    for (size_t i = 0; i < n && !r->bad_what[0]; i++)
        if (!isfinite(x[i])) {
            snprintf(r->bad_what, sizeof r->bad_what, "%s", what);
            r->bad_index = first + i;
            r->bad_value = x[i];
        }
    return 0;
}

int section_close(SectionIn *r)
{
    if (r->pos != r->s->size) return l1b_error("%s: %s section too long", r->f->path, r->tag);
    if (r->crc != r->s->crc)
        return l1b_error("%s: %s section checksum mismatch (corrupt data)", r->f->path, r->tag);
    if (r->bad_what[0])
        return l1b_error("%s: %s holds a non-finite value (%g at index %llu)", r->f->path, r->bad_what,
                         (double)r->bad_value, (unsigned long long)r->bad_index);
    return 0;
}

uint8_t *container_load(const Container *f, const char *tag, uint64_t want_size)
{
    SectionIn r;
    if (section_open(&r, f, tag, want_size) < 0) return NULL;
    uint8_t *b = malloc((size_t)r.s->size + 1);
    if (!b) { l1b_error("%s: out of memory reading %s section", f->path, tag); return NULL; }
    if (section_read(&r, b, (size_t)r.s->size) < 0 || section_close(&r) < 0) {
        free(b);
        return NULL;
    }
    return b;
}

void *container_alloc(const Container *f, uint64_t n)
{
    void *p = n < SIZE_MAX ? malloc((size_t)n + 1) : NULL;
    if (!p) l1b_error("%s: out of memory (%llu bytes)", f->path, (unsigned long long)n);
    return p;
}
