#include "tokstream.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "container.h"
#include "crc32.h"

#define FIXED 24u                 /* magic .. tokenizer record size */
#define READ_CHUNK (1u << 16)

/* ---- writing --------------------------------------------------------- */

int tokw_begin(TokWriter *w, OutFile *out, const Tokenizer *t)
{
    memset(w, 0, sizeof *w);
    w->out = out;
    w->n_vocab = t->n_vocab;
    size_t rec = tok_record_size(t);
    size_t used = FIXED + rec + 4;
    size_t hsize = (used + TOKSTREAM_ALIGN - 1) / TOKSTREAM_ALIGN * TOKSTREAM_ALIGN;
    uint8_t *h = xcalloc(hsize, 1);
    memcpy(h, TOKSTREAM_MAGIC, 8);
    put32(h + 8, TOKSTREAM_VERSION);
    put32(h + 12, 0);
    put32(h + 16, (uint32_t)hsize);
    put32(h + 20, (uint32_t)rec);
    tok_record_write(t, h + FIXED);
    put32(h + FIXED + rec, crc32_update(0, h, FIXED + rec));
    int rc = outfile_write(out, h, hsize);
    free(h);
    return rc;
}

int tokw_put(TokWriter *w, const uint16_t *ids, size_t n)
{
    uint8_t buf[4096];
    while (n) {
        size_t k = n < sizeof buf / 2 ? n : sizeof buf / 2;
        memcpy(buf, ids, 2 * k);
        le16_inplace(buf, k);  /* little-endian in the file */
        w->crc = crc32_update(w->crc, buf, 2 * k);
        if (outfile_write(w->out, buf, 2 * k) < 0) return -1;
        w->n_tokens += k;
        ids += k;
        n -= k;
    }
    return 0;
}

int tokw_end(TokWriter *w)
{
    uint8_t t[TOKSTREAM_TRAILER];
    put64(t, w->n_tokens);
    put32(t + 8, w->crc);
    memcpy(t + 12, "TEND", 4);
    return outfile_write(w->out, t, sizeof t);
}

/* ---- reading --------------------------------------------------------- */

/* The first bytes of a file given where a token stream belongs are text:
 * printable, spaces and line ends, or bytes of UTF-8 sequences. */
static int looks_like_text(const uint8_t *p, size_t n)
{
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++)
        if ((p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' && p[i] != '\r' && p[i] != '\f') || p[i] == 0x7f)
            return 0;
    return 1;
}

int tokstream_parse_header(const uint8_t *p, size_t n, const char *name, Tokenizer *t,
                           uint32_t *header_size)
{
    if (n < 8 || memcmp(p, TOKSTREAM_MAGIC, 8)) {
        if (looks_like_text(p, n < 64 ? n : 64))  /* the likely mistake: l1b-train train.txt */
            return l1b_error("%s: looks like text, not an l1b token stream (make one with l1b-tokenize)", name);
        if (n >= 8 && !memcmp(p, "L1BMODEL", 8))  /* container.h's CKPT_MAGIC */
            return l1b_error("%s: an l1b model file, not a token stream", name);
        return l1b_error("%s: not an l1b token stream (bad magic)", name);
    }
    if (n < FIXED) return l1b_error("%s: truncated token stream header", name);
    uint32_t version = le32(p + 8), flags = le32(p + 12), hsize = le32(p + 16), rec = le32(p + 20);
    if (version != TOKSTREAM_VERSION)
        return l1b_error("%s: token stream version %u not supported (this l1b reads %u)", name,
                         version, TOKSTREAM_VERSION);
    if (flags) return l1b_error("%s: unknown token stream flags 0x%x", name, flags);
    if (rec > TOK_RECORD_MAX || hsize % TOKSTREAM_ALIGN ||
        hsize < FIXED + rec + 4 || hsize - (FIXED + rec + 4) >= TOKSTREAM_ALIGN)
        return l1b_error("%s: corrupt token stream header (sizes %u, %u)", name, hsize, rec);
    if (n < hsize) return l1b_error("%s: truncated token stream header", name);
    if (crc32_update(0, p, FIXED + rec) != le32(p + FIXED + rec))
        return l1b_error("%s: token stream header checksum mismatch", name);
    for (uint32_t i = FIXED + rec + 4; i < hsize; i++)
        if (p[i]) return l1b_error("%s: corrupt token stream header (padding)", name);
    if (tok_record_read(t, p + FIXED, rec, name) < 0) return -1;
    *header_size = hsize;
    return 0;
}

/* Fill r->buf up to READ_CHUNK + trailer bytes, or to end of input. */
static int fill(TokReader *r, size_t want)
{
    while (!r->eof && r->have < want) {
        long long got = read_full(r->fd, r->buf + r->have, want - r->have, r->name);
        if (got < 0) return -1;
        if ((size_t)got < want - r->have) r->eof = 1;
        r->have += (size_t)got;
    }
    return 0;
}

int tokr_open(TokReader *r, int fd, const char *name)
{
    memset(r, 0, sizeof *r);
    r->fd = fd;
    r->name = name;
    r->buf = xmalloc(READ_CHUNK + TOKSTREAM_TRAILER);
    if (fill(r, FIXED) < 0) goto fail;
    if (r->have == 0) {
        l1b_error("%s: empty input, not a token stream", name);
        goto fail;
    }
    /* read the whole header when its size field is plausible; otherwise
     * the parser reports what is wrong with the fixed part */
    const size_t max_header = FIXED + TOK_RECORD_MAX + 4 + TOKSTREAM_ALIGN;
    uint32_t hsize = r->have == FIXED ? le32(r->buf + 16) : 0;
    size_t want = hsize > FIXED && hsize <= max_header ? hsize : FIXED;
    uint8_t *h = xmalloc(want);
    memcpy(h, r->buf, r->have);
    long long got = want > r->have && r->have == FIXED ? read_full(fd, h + FIXED, want - FIXED, name) : 0;
    int rc = got < 0 ? -1 : tokstream_parse_header(h, r->have + (size_t)got, name, &r->tok, &hsize);
    free(h);
    if (rc < 0) goto fail;
    r->have = 0;
    r->eof = 0;
    return 0;
fail:
    free(r->buf);
    r->buf = NULL;
    return -1;
}

long tokr_read(TokReader *r, uint16_t *ids, size_t max)
{
    if (r->done) return 0;
    if (fill(r, READ_CHUNK + TOKSTREAM_TRAILER) < 0) return -1;
    if (r->have < TOKSTREAM_TRAILER)
        return l1b_error("%s: truncated token stream (no end marker)", r->name);
    size_t avail = r->have - TOKSTREAM_TRAILER;  /* bytes that are surely tokens */
    if (r->eof && avail % 2)
        return l1b_error("%s: truncated token stream (odd length)", r->name);
    size_t k = avail / 2 < max ? avail / 2 : max;
    if (k == 0) {
        if (!r->eof) return l1b_error("%s: internal: no progress", r->name);
        const uint8_t *t = r->buf;
        if (memcmp(t + 12, "TEND", 4))
            return l1b_error("%s: truncated token stream (no end marker)", r->name);
        if (le64(t) != r->n_tokens)
            return l1b_error("%s: token count mismatch (trailer says %llu, read %llu)", r->name,
                             (unsigned long long)le64(t), (unsigned long long)r->n_tokens);
        if (le32(t + 8) != r->crc)
            return l1b_error("%s: token checksum mismatch (corrupt data)", r->name);
        r->done = 1;
        return 0;
    }
    for (size_t i = 0; i < k; i++) {
        ids[i] = le16(r->buf + 2 * i);
        if (ids[i] >= r->tok.n_vocab)
            return l1b_error("%s: token %llu: id %u out of range (vocabulary %u)", r->name,
                             (unsigned long long)(r->n_tokens + i), ids[i], r->tok.n_vocab);
    }
    r->crc = crc32_update(r->crc, r->buf, 2 * k);
    r->n_tokens += k;
    memmove(r->buf, r->buf + 2 * k, r->have - 2 * k);
    r->have -= 2 * k;
    return (long)k;
}

void tokr_close(TokReader *r)
{
    free(r->buf);
    tok_free(&r->tok);
    memset(r, 0, sizeof *r);
}

int tok_load_file(const char *path, Tokenizer *t)
{
    uint64_t size;
    int fd = open_regular_file(path, &size);
    if (fd < 0) return -1;
    TokReader r;
    int rc = tokr_open(&r, fd, path);
    if (rc == 0) {
        /* the whole stream, a piece at a time: the tokenizer of a sound
         * stream only */
        uint16_t ids[4096];
        long k;
        while ((k = tokr_read(&r, ids, sizeof ids / sizeof ids[0])) > 0) {}
        if (k < 0) {
            rc = -1;
            tokr_close(&r);
        } else {
            *t = r.tok;  /* keep the tokenizer, drop the reader */
            free(r.buf);
        }
    }
    close(fd);
    return rc;
}
