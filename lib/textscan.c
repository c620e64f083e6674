#include "textscan.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pretok.h"
#include "util.h"

#define SCAN_BUFSIZE (1u << 18)

/* ---- input ----------------------------------------------------------- */

static char *stdin_path[] = {"-"};

/* The first pass reads the inputs themselves; when any of them cannot be
 * read twice (a pipe, a terminal, stdin not at offset 0), the first pass
 * also copies everything it reads to the spool file, and the second pass
 * reads that copy, then goes on with the inputs from where the first pass
 * stopped: at their end, or at its limit. */
static int open_current(TextInput *in)
{
    const char *p = in->paths[in->cur];
    if (strcmp(p, "-")) {
        in->fd = open(p, O_RDONLY);
        in->name = p;
        if (in->fd < 0) return l1b_error("%s: %s", p, strerror(errno));
        return 0;
    }
    in->name = "stdin";
    in->fd = STDIN_FILENO;
    if (in->second_pass && in->spool_fd < 0 && lseek(in->fd, 0, SEEK_SET) < 0)
        return l1b_error("stdin: cannot rewind: %s", strerror(errno));
    return 0;
}

static void close_fd(TextInput *in, int fd)
{
    if (fd >= 0 && fd != STDIN_FILENO && fd != in->spool_fd) close(fd);
}

static void close_current(TextInput *in)
{
    close_fd(in, in->fd);
    in->fd = -1;
}

/* Can this input be read again from its start? */
static int rereadable(const char *path)
{
    struct stat st;
    if (!strcmp(path, "-"))
        return fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode) && lseek(STDIN_FILENO, 0, SEEK_CUR) == 0;
    return stat(path, &st) < 0 || S_ISREG(st.st_mode);  /* a missing file fails at open */
}

int textin_open(TextInput *in, char **paths, int n, int rewindable)
{
    memset(in, 0, sizeof *in);
    in->paths = n ? paths : stdin_path;
    in->n_paths = n ? n : 1;
    in->fd = -1;
    in->spool_fd = -1;
    in->stop_fd = -1;
    in->rewindable = rewindable;
    int stdin_uses = 0, all_rereadable = 1;
    for (int i = 0; i < in->n_paths; i++) {
        stdin_uses += !strcmp(in->paths[i], "-");
        if (rewindable && !rereadable(in->paths[i])) all_rereadable = 0;
    }
    if (stdin_uses > 1) return l1b_error("stdin given more than once");
    if (!all_rereadable) {
        in->spool_fd = tmpfile_create(&in->spool_path, "spool");
        if (in->spool_fd < 0) return -1;
    }
    return open_current(in);
}

void textin_limit(TextInput *in, uint64_t limit) { in->limit = limit; }

long long textin_read(TextInput *in, void *buf, size_t n)
{
    if (!in->second_pass && in->limit) {
        if (in->bytes >= in->limit) return 0;
        if (n > in->limit - in->bytes) n = (size_t)(in->limit - in->bytes);
    }
    if (n == 0) return 0;
    if (in->in_spool) {
        long long got = read_full(in->spool_fd, buf, n, in->spool_path);
        if (got < 0) return -1;
        if (got > 0) {
            in->bytes += (uint64_t)got;
            return got;
        }
        /* the copy is read: on with the inputs where the first pass left them */
        in->in_spool = 0;
        in->cur = in->stop_cur;
        in->fd = in->stop_fd;
        in->name = in->stop_name;
        in->stop_fd = -1;
    }
    while (in->cur < in->n_paths) {
        if (in->fd >= 0) {
            long long got = read_full(in->fd, buf, n, in->name);
            if (got < 0) return -1;
            /* read_full stops short only where read() returned 0: the end of
             * this input. It is never read again: on a terminal that read
             * would wait for a second Ctrl-D. */
            if ((size_t)got < n) close_current(in);
            if (got > 0) {
                if (!in->second_pass && in->spool_fd >= 0 &&
                    write_full(in->spool_fd, buf, (size_t)got, in->spool_path) < 0)
                    return -1;
                in->bytes += (uint64_t)got;
                return got;
            }
        }
        if (++in->cur < in->n_paths && open_current(in) < 0) return -1;
    }
    return 0;
}

int textin_rewind(TextInput *in)
{
    in->bytes = 0;
    in->second_pass = 1;
    if (in->spool_fd >= 0) {
        in->stop_cur = in->cur;
        in->stop_fd = in->fd;
        in->stop_name = in->name;
        in->fd = -1;
        in->in_spool = 1;
        if (lseek(in->spool_fd, 0, SEEK_SET) < 0) return l1b_error("%s: %s", in->spool_path, strerror(errno));
        return 0;
    }
    close_current(in);
    in->cur = 0;
    return open_current(in);
}

void textin_close(TextInput *in)
{
    close_current(in);
    close_fd(in, in->stop_fd);
    if (in->spool_fd >= 0) {
        close(in->spool_fd);
        free(in->spool_path);
    }
    memset(in, 0, sizeof *in);
    in->fd = in->spool_fd = in->stop_fd = -1;
}

/* ---- scanning -------------------------------------------------------- */

void scan_init(TextScanner *s, TextInput *in, int doc_mode)
{
    memset(s, 0, sizeof *s);
    s->in = in;
    s->doc = doc_mode;
    s->cap = SCAN_BUFSIZE;
    s->buf = xmalloc(s->cap);
}

void scan_symbols(TextScanner *s, const Tokenizer *tok) { s->tok = tok && tok->n_symbols ? tok : NULL; }

void scan_free(TextScanner *s)
{
    free(s->buf);
    memset(s, 0, sizeof *s);
}

/* Keep TOK_SPLIT_LOOKAHEAD (> PRETOK_MAX) bytes ahead of pos unless at end
 * of input. */
static int refill(TextScanner *s)
{
    if (s->eof || s->end - s->pos >= TOK_SPLIT_LOOKAHEAD) return 0;
    memmove(s->buf, s->buf + s->pos, s->end - s->pos);
    s->end -= s->pos;
    s->pos = 0;
    while (!s->eof && s->end < s->cap) {
        long long got = textin_read(s->in, s->buf + s->end, s->cap - s->end);
        if (got < 0) return -1;
        if (got == 0) s->eof = 1;
        s->end += (size_t)got;
    }
    return 0;
}

static size_t split(TextScanner *s, const uint8_t *p, size_t n)
{
    s->symbol = 0;
    return s->tok ? tok_split(s->tok, p, n, &s->symbol) : pretok_next(p, n);
}

static int is_space(uint8_t c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

int scan_next(TextScanner *s, const uint8_t **piece, size_t *len)
{
    s->symbol = 0;
    if (s->eod_pending) {
        s->eod_pending = 0;
        s->doc_open = 0;
        return SCAN_EOD;
    }
    if (refill(s) < 0) return -1;
    if (s->pos == s->end) {
        if (s->doc != DOC_NONE && s->doc_open) {
            s->doc_open = 0;
            return SCAN_EOD;
        }
        return SCAN_END;
    }
    const uint8_t *p = s->buf + s->pos;
    size_t avail = s->end - s->pos, n;

    if (s->doc == DOC_LINE || s->doc == DOC_NUL) {
        const uint8_t *sep = memchr(p, s->doc == DOC_LINE ? '\n' : 0, avail);
        size_t region = sep ? (size_t)(sep - p) + 1 : avail;
        n = split(s, p, region);
        s->doc_open = 1;
        if (sep && n == region) s->eod_pending = 1;
    } else {
        n = split(s, p, avail);
        if (s->doc == DOC_BLANK) {
            if (!s->symbol && is_space(p[n - 1])) {  /* white-space pre-token */
                for (size_t i = 0; i < n; i++) s->newlines += p[i] == '\n';
            } else {
                if (s->newlines >= 2 && s->doc_open) {
                    s->newlines = 0;
                    s->doc_open = 0;
                    s->symbol = 0;
                    return SCAN_EOD;  /* this piece opens the next document */
                }
                s->newlines = 0;
                s->doc_open = 1;
            }
        }
    }
    *piece = p;
    *len = n;
    s->pos += n;
    return SCAN_PIECE;
}

int doc_mode_parse(const char *name, int *mode)
{
    if (!strcmp(name, "line")) *mode = DOC_LINE;
    else if (!strcmp(name, "blank")) *mode = DOC_BLANK;
    else if (!strcmp(name, "nul")) *mode = DOC_NUL;
    else return -1;
    return 0;
}
