/* realpath is XSI */
#define _XOPEN_SOURCE 700
#include "util.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- byte order ------------------------------------------------------ */

void bytes_reverse_each(void *p, size_t n, size_t width)
{
    uint8_t *b = p;
    for (size_t i = 0; i < n; i++, b += width)
        for (size_t j = 0; j < width / 2; j++) {
            uint8_t t = b[j];
            b[j] = b[width - 1 - j];
            b[width - 1 - j] = t;
        }
}

/* ---- errors ---------------------------------------------------------- */

static char errbuf[512];

int l1b_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, sizeof errbuf, fmt, ap);
    va_end(ap);
    return -1;
}

const char *l1b_last_error(void) { return errbuf[0] ? errbuf : "unknown error"; }

/* ---- allocation ------------------------------------------------------ */

static void (*out_of_memory)(size_t n);

void alloc_on_failure(void (*handler)(size_t n)) { out_of_memory = handler; }

static void *checked(void *p, size_t n)
{
    if (p) return p;
    if (out_of_memory) out_of_memory(n);
    abort();
}

void *xmalloc(size_t n)
{
    return checked(malloc(n ? n : 1), n);
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    return checked(p, n * size);
}

void *xcalloc_touched(size_t n, size_t size)
{
    void *p = xcalloc(n, size);
    /* a zero written into every page; volatile, because a compiler may
     * drop a memset of zeros that follows calloc */
    volatile unsigned char *v = p;
    for (size_t i = 0; i < n * size; i += 4096) v[i] = 0;
    return p;
}

void *xrealloc(void *p, size_t n)
{
    return checked(realloc(p, n ? n : 1), n);
}

/* ---- whole-buffer I/O ------------------------------------------------ */

long long read_full(int fd, void *buf, size_t n, const char *name)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r == 0) break;
        if (r < 0) {
            if (errno == EINTR) continue;
            return l1b_error("%s: read error: %s", name, strerror(errno));
        }
        got += (size_t)r;
    }
    return (long long)got;
}

int write_full(int fd, const void *buf, size_t n, const char *name)
{
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, (const char *)buf + done, n - done);
        if (w < 0) {
            if (errno == EINTR) continue;
            return l1b_error("%s: write error: %s", name, strerror(errno));
        }
        done += (size_t)w;
    }
    return 0;
}

int open_regular_file(const char *path, uint64_t *size)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) return l1b_error("%s: %s", path, strerror(errno));
    struct stat st;
    int flags = 0, rc = 0;
    if (fstat(fd, &st) < 0) rc = l1b_error("%s: %s", path, strerror(errno));
    else if (!S_ISREG(st.st_mode)) rc = l1b_error("%s: not a regular file", path);
    else if ((flags = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
        rc = l1b_error("%s: %s", path, strerror(errno));
    if (rc < 0) {
        close(fd);
        return -1;
    }
    *size = (uint64_t)st.st_size;
    return fd;
}

int file_magic(const char *path, uint8_t magic[8], uint64_t *size)
{
    uint64_t sz;
    int fd = open_regular_file(path, &sz);
    if (fd < 0) return -1;
    long long got = read_full(fd, magic, 8, path);
    close(fd);
    if (size) *size = sz;
    return (int)got;
}

/* ---- signal clean-up of temporary files ------------------------------ */

#define MAX_CLEANUP 8
static char *volatile cleanup_paths[MAX_CLEANUP];

static volatile sig_atomic_t *deferred;

static void cleanup_on_signal(int sig)
{
    if (deferred && (sig == SIGINT || sig == SIGTERM || sig == SIGHUP)) {
        *deferred = sig;
        return;
    }
    for (int i = 0; i < MAX_CLEANUP; i++)
        if (cleanup_paths[i]) unlink(cleanup_paths[i]);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void install_handlers(void)
{
    static int installed;
    if (!installed) {
        int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
        for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
            struct sigaction sa;
            memset(&sa, 0, sizeof sa);
            sa.sa_handler = cleanup_on_signal;
            sigemptyset(&sa.sa_mask);
            sigaction(sigs[i], &sa, NULL);
        }
        installed = 1;
    }
}

void signals_defer(volatile sig_atomic_t *flag)
{
    deferred = flag;
    install_handlers();
}

void cleanup_register(const char *path)
{
    install_handlers();
    for (int i = 0; i < MAX_CLEANUP; i++)
        if (!cleanup_paths[i]) { cleanup_paths[i] = (char *)path; return; }
}

void cleanup_unregister(const char *path)
{
    for (int i = 0; i < MAX_CLEANUP; i++)
        if (cleanup_paths[i] == path) cleanup_paths[i] = NULL;
}

static const char *tmp_dir = "/tmp";

void tmpfile_set_dir(const char *dir)
{
    tmp_dir = dir && *dir ? dir : "/tmp";
}

int tmpfile_create(char **path, const char *what)
{
    const char *dir = tmp_dir;
    size_t n = strlen(dir) + 32;
    char *p = xmalloc(n);
    snprintf(p, n, "%s/l1b-%s.XXXXXX", dir, what);
    int fd = mkstemp(p);
    if (fd < 0) {
        l1b_error("%s: cannot create temporary file: %s", dir, strerror(errno));
        free(p);
        return -1;
    }
    unlink(p);  /* the descriptor keeps it; nothing outlives the process */
    *path = p;
    return fd;
}

/* ---- output files ------------------------------------------------------ */

#define OUT_BUFSIZE (1 << 16)

/* A write lock on fd (fcntl): held until the process closes fd or ends, so
 * a kill -9 releases it. 0 if taken, 1 if another process holds it. */
static int lock_fd(int fd)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(fd, F_SETLK, &fl) == 0) return 0;
    return errno == EACCES || errno == EAGAIN ? 1 : -1;
}

static int held_by_other(int fd)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    return fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
}

/* Temporary files ".NAME.XXXXXX" beside NAME that no writer holds (one
 * killed before it could rename): every writer locks its own, so an
 * unlocked one is left over and removed. */
static void sweep_stale(const char *dir, const char *base)
{
    DIR *d = opendir(*dir ? dir : ".");
    if (!d) return;
    size_t blen = strlen(base);
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        if (n[0] != '.' || strncmp(n + 1, base, blen) || n[1 + blen] != '.' || strlen(n + 2 + blen) != 6)
            continue;
        size_t len = strlen(dir) + strlen(n) + 1;
        char *p = xmalloc(len);
        snprintf(p, len, "%s%s", dir, n);
        int fd = open(p, O_RDONLY | O_NONBLOCK | O_NOFOLLOW);
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && !held_by_other(fd)) unlink(p);
        if (fd >= 0) close(fd);
        free(p);
    }
    closedir(d);
}

/* The file a path names, following symbolic links, so that output replaces
 * the link's target and leaves the link. Malloc'ed. */
char *path_resolve(const char *path)
{
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
        char *real = realpath(path, NULL);
        if (!real) {
            l1b_error("%s: %s", path, errno == ENOENT ? "dangling symbolic link" : strerror(errno));
            return NULL;
        }
        return real;
    }
    size_t n = strlen(path) + 1;
    char *copy = xmalloc(n);
    memcpy(copy, path, n);
    return copy;
}

int model_lock(const char *path, int create, int *fd)
{
    *fd = -1;
    char *target = path_resolve(path);
    if (!target) return -1;
    size_t n = strlen(target) + 6;
    char *lock = xmalloc(n);
    snprintf(lock, n, "%s.lock", target);
    free(target);
    int rc = 0;
    *fd = open(lock, O_RDWR | (create ? O_CREAT : 0), 0666);
    if (*fd < 0) {
        if (!create && errno == ENOENT) rc = 0;
        else rc = l1b_error("%s: cannot %s lock file: %s", lock, create ? "create" : "open", strerror(errno));
    } else {
        int held = lock_fd(*fd);
        if (held == 1) rc = l1b_error("%s: another l1b-train is writing this model (lock %s)", path, lock);
        else if (held < 0) rc = l1b_error("%s: cannot lock: %s", lock, strerror(errno));
        if (rc < 0) {
            close(*fd);
            *fd = -1;
        }
    }
    free(lock);
    return rc;
}

int output_kind(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0) return errno == ENOENT ? OUTPUT_NEW : l1b_error("%s: %s", path, strerror(errno));
    if (S_ISREG(st.st_mode)) return OUTPUT_REGULAR;
    if (S_ISDIR(st.st_mode)) return l1b_error("%s: is a directory", path);
    if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) || S_ISSOCK(st.st_mode)) return OUTPUT_STREAM;
    return l1b_error("%s: not a regular file, FIFO or character device", path);
}

int output_check(const char *path)
{
    if (!path || !strcmp(path, "-")) return OUTPUT_STREAM;
    char *target = path_resolve(path);
    if (!target) return -1;
    int kind = output_kind(target);
    free(target);
    return kind;
}

int outfile_open(OutFile *f, const char *path)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    if (!path || !strcmp(path, "-")) {
        f->fd = STDOUT_FILENO;
        f->name = "stdout";
        f->cap = OUT_BUFSIZE;
        f->buf = xmalloc(f->cap);
        return 0;
    }
    char *target = path_resolve(path);
    if (!target) return -1;
    int kind = output_kind(target);
    if (kind < 0) {
        free(target);
        return -1;
    }
    if (kind == OUTPUT_STREAM) {  /* a FIFO or device: written through, never replaced */
        f->fd = open(target, O_WRONLY);
        if (f->fd < 0) {
            int e = errno;
            free(target);
            return l1b_error("%s: %s", path, strerror(e));
        }
        f->stream_path = target;
        f->name = target;
        f->cap = OUT_BUFSIZE;
        f->buf = xmalloc(f->cap);
        return 0;
    }
    /* temporary name in the same directory, so rename() is atomic */
    const char *slash = strrchr(target, '/');
    size_t dirlen = slash ? (size_t)(slash - target + 1) : 0, n = strlen(target);
    char *dir = xmalloc(dirlen + 1);
    memcpy(dir, target, dirlen);
    dir[dirlen] = 0;
    sweep_stale(dir, target + dirlen);
    free(dir);
    f->tmp_path = xmalloc(n + 16);
    for (;;) {
        snprintf(f->tmp_path, n + 16, "%.*s.%s.XXXXXX", (int)dirlen, target, target + dirlen);
        f->fd = mkstemp(f->tmp_path);
        if (f->fd < 0) {
            int e = errno;
            free(f->tmp_path);
            free(target);
            memset(f, 0, sizeof *f);
            f->fd = -1;
            return l1b_error("%s: cannot create: %s", path, strerror(e));
        }
        /* locked, it is ours; if another writer swept it before we could
         * lock it, make another */
        struct stat st;
        if (lock_fd(f->fd) == 0 && fstat(f->fd, &st) == 0 && st.st_nlink > 0) break;
        close(f->fd);
    }
    cleanup_register(f->tmp_path);
    f->path = target;
    f->name = target;
    f->cap = OUT_BUFSIZE;
    f->buf = xmalloc(f->cap);
    return 0;
}

static int outfile_flush(OutFile *f)
{
    if (f->failed) return -1;
    if (f->used && write_full(f->fd, f->buf, f->used, f->name) < 0) {
        f->failed = 1;
        return -1;
    }
    f->used = 0;
    return 0;
}

int outfile_write(OutFile *f, const void *p, size_t n)
{
    if (f->failed) return -1;
    if (f->used + n > f->cap) {
        if (outfile_flush(f) < 0) return -1;
        if (n >= f->cap) {
            if (write_full(f->fd, p, n, f->name) < 0) { f->failed = 1; return -1; }
            return 0;
        }
    }
    memcpy(f->buf + f->used, p, n);
    f->used += n;
    return 0;
}

static void outfile_free(OutFile *f)
{
    free(f->buf);
    free(f->path);
    free(f->tmp_path);
    free(f->stream_path);
    memset(f, 0, sizeof *f);
    f->fd = -1;
}

int outfile_commit(OutFile *f)
{
    int rc = outfile_flush(f);
    if (!f->path) {               /* stdout, a FIFO or a device: nothing to rename */
        if (f->stream_path && close(f->fd) < 0 && rc == 0)
            rc = l1b_error("%s: close: %s", f->name, strerror(errno));
        outfile_free(f);
        return rc;
    }
    if (rc == 0 && fsync(f->fd) < 0)
        rc = l1b_error("%s: fsync: %s", f->path, strerror(errno));
    if (rc == 0) {
        /* mkstemp makes mode 0600; give the file the usual umask mode */
        mode_t um = umask(0);
        umask(um);
        fchmod(f->fd, 0666 & ~um);
        /* the target may have become something else since it was opened */
        if (output_kind(f->path) < 0) rc = -1;
        else if (rename(f->tmp_path, f->path) < 0)
            rc = l1b_error("%s: rename: %s", f->path, strerror(errno));
    }
    if (rc < 0) unlink(f->tmp_path);
    if (close(f->fd) < 0 && rc == 0)  /* after rename: closing releases the lock */
        rc = l1b_error("%s: close: %s", f->path, strerror(errno));
    cleanup_unregister(f->tmp_path);
    outfile_free(f);
    return rc;
}

void outfile_abort(OutFile *f)
{
    if (f->path) {
        unlink(f->tmp_path);
        close(f->fd);
        cleanup_unregister(f->tmp_path);
    } else if (f->stream_path) {
        close(f->fd);
    }
    outfile_free(f);
}

/* ---- name tables, small parsers and clocks ---------------------------- */

const char *name_of(const NameValue *t, int value)
{
    for (; t->name; t++)
        if (t->value == value) return t->name;
    return "?";
}

int name_value(const NameValue *t, const char *name, int *value)
{
    for (; t->name; t++)
        if (!strcmp(t->name, name)) {
            *value = t->value;
            return 0;
        }
    return -1;
}

const char *name_choices(const NameValue *t, char *out, size_t n)
{
    size_t used = 0;
    out[0] = 0;
    for (const NameValue *e = t; e->name && used < n; e++) {
        const char *sep = e == t ? "" : e[1].name ? ", " : " or ";
        int w = snprintf(out + used, n - used, "%s%s", sep, e->name);
        if (w < 0) break;
        used += (size_t)w;
    }
    return out;
}

int parse_u64(const char *s, uint64_t *out)
{
    if (!s || *s < '0' || *s > '9') return -1;
    uint64_t v = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        uint64_t d = (uint64_t)(*s - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    uint64_t unit = 1;
    if (*s == 'k' || *s == 'K') unit = 1000, s++;
    else if (*s == 'M') unit = 1000000, s++;
    else if (*s == 'G') unit = 1000000000, s++;
    if (*s) return -1;
    if (v > UINT64_MAX / unit) return -1;
    *out = v * unit;
    return 0;
}

int parse_duration(const char *s, double *seconds)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !(v > 0)) return -1;
    double unit = 1;
    if (*end == 's') unit = 1, end++;
    else if (*end == 'm') unit = 60, end++;
    else if (*end == 'h') unit = 3600, end++;
    else if (*end == 'd') unit = 86400, end++;
    if (*end || !(v * unit < 1e12)) return -1;
    *seconds = v * unit;
    return 0;
}

double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
