#include "dataset.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32.h"
#include "tokstream.h"
#include "util.h"

const NameValue batching_names[] = {{"pack", BATCH_PACK}, {"bucket", BATCH_BUCKET}, {NULL, 0}};

#define CHUNK_TOKENS (1u << 19)  /* 1 MB per read while checking */

static int pread_full(int fd, void *buf, size_t n, uint64_t off, const char *name)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return l1b_error("%s: read error: %s", name, strerror(errno));
        if (r == 0) return l1b_error("%s: unexpected end of file", name);
        got += (size_t)r;
    }
    return 0;
}

/* a stream that is not a regular file goes to a temporary file first */
static int spool(TokenFile *f, int in)
{
    int fd = tmpfile_create(&f->spool_path, "tokens");
    if (fd < 0) return -1;
    uint8_t *buf = xmalloc(1 << 16);
    long long got;
    int rc = 0;
    while ((got = read_full(in, buf, 1 << 16, f->path)) > 0)
        if (write_full(fd, buf, (size_t)got, f->spool_path) < 0) { rc = -1; break; }
    free(buf);
    if (got < 0) rc = -1;
    f->fd = fd;
    return rc;
}

static int check_tokens(TokenFile *f, int want_docs)
{
    uint8_t *buf = xmalloc(2 * (size_t)CHUNK_TOKENS);
    uint64_t cap_docs = 0;
    uint32_t crc = 0;
    int rc = 0;
    for (uint64_t i = 0; i < f->n_tokens && rc == 0;) {
        size_t k = f->n_tokens - i < CHUNK_TOKENS ? (size_t)(f->n_tokens - i) : CHUNK_TOKENS;
        if (pread_full(f->fd, buf, 2 * k, f->header_size + 2 * i, f->path) < 0) { rc = -1; break; }
        crc = crc32_update(crc, buf, 2 * k);
        for (size_t j = 0; j < k; j++) {
            uint16_t id = le16(buf + 2 * j);
            if (id >= f->tok.n_vocab) {
                rc = l1b_error("%s: token %llu: id %u out of range (vocabulary %u)", f->path,
                               (unsigned long long)(i + j), id, f->tok.n_vocab);
                break;
            }
            if (want_docs && id == TOK_EOD) {
                if (f->n_docs == cap_docs) {
                    cap_docs = cap_docs ? 2 * cap_docs : 1024;
                    f->doc_ends = xrealloc(f->doc_ends, cap_docs * sizeof *f->doc_ends);
                }
                f->doc_ends[f->n_docs++] = i + j + 1;
            }
        }
        i += k;
    }
    free(buf);
    if (rc == 0 && crc != f->crc) rc = l1b_error("%s: token checksum mismatch (corrupt data)", f->path);
    return rc;
}

int tokfile_open(TokenFile *f, const char *path, int want_docs)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    int is_stdin = !path || !strcmp(path, "-");
    f->path = xmalloc(strlen(is_stdin ? "stdin" : path) + 1);
    strcpy(f->path, is_stdin ? "stdin" : path);
    struct stat st;
    /* random access needs a regular file: anything else (a pipe, a process
     * substitution) is copied aside first */
    int in = is_stdin ? dup(STDIN_FILENO) : open(path, O_RDONLY);
    if (in < 0) { l1b_error("%s: %s", f->path, strerror(errno)); goto fail; }
    if (fstat(in, &st) == 0 && S_ISREG(st.st_mode)) {
        f->fd = in;
    } else {
        int rc = spool(f, in);
        close(in);
        if (rc < 0) goto fail;
    }
    if (f->fd < 0) { l1b_error("%s: %s", f->path, strerror(errno)); goto fail; }
    if (fstat(f->fd, &st) < 0) { l1b_error("%s: %s", f->path, strerror(errno)); goto fail; }
    uint64_t size = (uint64_t)st.st_size;

    /* the header: at most 24 + record + 4, padded */
    size_t hmax = 24 + TOK_RECORD_MAX + 4 + TOKSTREAM_ALIGN;
    size_t hn = size < hmax ? (size_t)size : hmax;
    if (hn == 0) { l1b_error("%s: empty file, not a token stream", f->path); goto fail; }
    uint8_t *h = xmalloc(hn);
    if (pread_full(f->fd, h, hn, 0, f->path) < 0) { free(h); goto fail; }
    int rc = tokstream_parse_header(h, hn, f->path, &f->tok, &f->header_size);
    if (rc == 0) {
        f->tok_record_size = le32(h + 20);
        f->tok_record = xmalloc(f->tok_record_size);
        memcpy(f->tok_record, h + 24, f->tok_record_size);
    }
    free(h);
    if (rc < 0) goto fail;

    uint8_t t[TOKSTREAM_TRAILER];
    if (size < (uint64_t)f->header_size + TOKSTREAM_TRAILER ||
        pread_full(f->fd, t, sizeof t, size - TOKSTREAM_TRAILER, f->path) < 0 || memcmp(t + 12, "TEND", 4)) {
        l1b_error("%s: truncated token stream (no end marker)", f->path);
        goto fail;
    }
    f->n_tokens = le64(t);
    f->crc = le32(t + 8);
    if (f->n_tokens > (size - f->header_size - TOKSTREAM_TRAILER) / 2 ||
        (uint64_t)f->header_size + 2 * f->n_tokens + TOKSTREAM_TRAILER != size) {
        l1b_error("%s: token count %llu does not match the file size (truncated or corrupt)", f->path,
                  (unsigned long long)f->n_tokens);
        goto fail;
    }
    if (check_tokens(f, want_docs) < 0) goto fail;
    return 0;
fail:
    {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", l1b_last_error());
        tokfile_close(f);
        l1b_error("%s", msg);
    }
    return -1;
}

void tokfile_close(TokenFile *f)
{
    if (f->fd >= 0) close(f->fd);
    if (f->spool_path) {
        free(f->spool_path);
    }
    if (f->tok.n_vocab) tok_free(&f->tok);
    free(f->tok_record);
    free(f->doc_ends);
    free(f->path);
    memset(f, 0, sizeof *f);
    f->fd = -1;
}

int tokfile_read(const TokenFile *f, uint64_t start, size_t n, uint16_t *out)
{
    /* the file's little-endian ids, read in place and put in host order */
    if (pread_full(f->fd, out, 2 * n, f->header_size + 2 * start, f->path) < 0) return -1;
    le16_inplace(out, n);
    return 0;
}

/* ---- batches ---------------------------------------------------------- */

/* one row into inputs/targets (T each), padding masked */
static int fill_row(const TokenFile *f, Row r, uint32_t T, uint16_t *scratch, int *inputs, int *targets)
{
    /* scratch holds tokens [pos-1, pos+len) */
    uint64_t first = r.pos ? r.pos - 1 : 0;
    size_t n = (size_t)(r.pos + r.len - first);
    if (tokfile_read(f, first, n, scratch) < 0) return -1;
    size_t off = r.pos ? 1 : 0;  /* scratch[t + off] is target t */
    for (uint32_t t = 0; t < T; t++) {
        if (t < r.len) {
            inputs[t] = t + off == 0 ? (int)TOK_EOD : scratch[t + off - 1];
            targets[t] = scratch[t + off];
        } else {
            inputs[t] = TOK_EOD;
            targets[t] = -1;
        }
    }
    return 0;
}

static int cmp_rows(const void *x, const void *y)
{
    const Row *a = x, *b = y;
    if (a->len != b->len) return a->len < b->len ? -1 : 1;
    return (a->pos > b->pos) - (a->pos < b->pos);
}

int batcher_init(Batcher *b, const TokenFile *f, uint64_t begin, uint64_t end, int mode,
                 uint32_t B, uint32_t T, uint64_t seed)
{
    memset(b, 0, sizeof *b);
    b->file = f;
    b->begin = begin;
    b->end = end;
    b->mode = mode;
    b->B = B;
    b->T = T;
    b->seed = seed;
    if (mode == BATCH_PACK) {
        if (end - begin <= T)
            return l1b_error("%s: %llu tokens are too few for a context of %u", f->path,
                             (unsigned long long)(end - begin), T);
        return 0;
    }
    /* bucket: documents within [begin, end), cut into rows of <= T */
    uint64_t cap = 1024, start = begin, slots = 0, used = 0;
    b->rows = xmalloc(cap * sizeof *b->rows);
    for (uint64_t d = 0; d <= f->n_docs; d++) {
        uint64_t stop = d < f->n_docs ? f->doc_ends[d] : end;
        if (stop <= begin) continue;
        if (stop > end) stop = end;
        while (start < stop) {
            uint32_t len = stop - start > T ? T : (uint32_t)(stop - start);
            if (b->n_rows == cap) b->rows = xrealloc(b->rows, (cap *= 2) * sizeof *b->rows);
            b->rows[b->n_rows++] = (Row){start, len};
            start += len;
        }
        if (stop == end) break;
    }
    if (b->n_rows < B) {
        batcher_free(b);
        return l1b_error("%s: %llu document pieces are too few for a batch of %u", f->path,
                         (unsigned long long)b->n_rows, B);
    }
    qsort(b->rows, b->n_rows, sizeof *b->rows, cmp_rows);
    b->n_batches = b->n_rows / B;  /* the shortest leftover rows sit out */
    uint64_t skip = b->n_rows - b->n_batches * B;
    for (uint64_t i = 0; i < b->n_batches; i++) {
        uint32_t bt = b->rows[skip + i * B + B - 1].len;  /* sorted: the last is longest */
        for (uint32_t r = 0; r < B; r++) used += b->rows[skip + i * B + r].len;
        slots += (uint64_t)bt * B;
    }
    memmove(b->rows, b->rows + skip, b->n_batches * B * sizeof *b->rows);
    b->pad_share = slots ? 1.0 - (double)used / (double)slots : 0;
    b->order = xmalloc(b->n_batches * sizeof *b->order);
    return 0;
}

void batcher_free(Batcher *b)
{
    free(b->rows);
    free(b->order);
    memset(b, 0, sizeof *b);
}

int batcher_fill(Batcher *b, uint64_t index, Rng *rng, int *inputs, int *targets, size_t *n_targets)
{
    uint16_t *scratch = xmalloc(((size_t)b->T + 2) * sizeof *scratch);
    int T = (int)b->T, rc = 0;
    *n_targets = 0;
    if (b->mode == BATCH_PACK) {
        for (uint32_t r = 0; r < b->B && rc == 0; r++) {
            Row row = {b->begin + rng_below(rng, b->end - b->begin - b->T + 1), b->T};
            rc = fill_row(b->file, row, b->T, scratch, inputs + (size_t)r * b->T, targets + (size_t)r * b->T);
        }
        *n_targets = (size_t)b->B * b->T;
    } else {
        uint64_t epoch = index / b->n_batches, k = index % b->n_batches;
        if (b->order_epoch != epoch + 1) {  /* shuffle for this epoch, from (seed, epoch) only */
            Rng er;
            rng_seed(&er, b->seed ^ (0x9E3779B97F4A7C15ull * (epoch + 1)));
            for (uint64_t i = 0; i < b->n_batches; i++) b->order[i] = (uint32_t)i;
            for (uint64_t i = b->n_batches; i > 1; i--) {
                uint64_t j = rng_below(&er, i);
                uint32_t t = b->order[i - 1];
                b->order[i - 1] = b->order[j];
                b->order[j] = t;
            }
            b->order_epoch = epoch + 1;
        }
        const Row *rows = b->rows + (size_t)b->order[k] * b->B;
        T = (int)rows[b->B - 1].len;
        for (uint32_t r = 0; r < b->B && rc == 0; r++) {
            rc = fill_row(b->file, rows[r], (uint32_t)T, scratch, inputs + (size_t)r * T, targets + (size_t)r * T);
            *n_targets += rows[r].len;
        }
    }
    free(scratch);
    return rc < 0 ? -1 : T;
}

uint64_t eval_batches(uint64_t begin, uint64_t end, uint32_t B, uint32_t T)
{
    if (end - begin <= T) return 0;
    uint64_t rows = (end - begin - 1) / T;  /* each row needs T + 1 tokens */
    return rows / B;
}

int eval_fill(const TokenFile *f, uint64_t begin, uint64_t end, uint64_t i, uint32_t B, uint32_t T,
              int *inputs, int *targets, size_t *n_targets)
{
    (void)end;
    uint16_t *scratch = xmalloc(((size_t)T + 2) * sizeof *scratch);
    int rc = 0;
    for (uint32_t r = 0; r < B && rc == 0; r++) {
        Row row = {begin + 1 + (i * B + r) * T, T};
        rc = fill_row(f, row, T, scratch, inputs + (size_t)r * T, targets + (size_t)r * T);
    }
    free(scratch);
    *n_targets = (size_t)B * T;
    return rc;
}
