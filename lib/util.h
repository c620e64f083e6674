/* util: the one error helper, checked allocation, whole-buffer I/O,
 * atomic output files and temporary-file clean-up on signals.
 *
 * Library functions never print or exit: they return -1 (or NULL) after
 * l1b_error() has recorded a one-line message, and the program prints it as
 * "prog: message" (cmd/common/cli.h). Messages name the file first
 * ("model.l1b: truncated"). */
#ifndef L1B_UTIL_H
#define L1B_UTIL_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The version, in one place: --version, --help and the Makefile (VERSION,
 * l1b.pc) read it from here; the man pages' .TH footers must say the same
 * (tests/cli/install.bats checks). */
#define L1B_VERSION "0.1.0"
/* Where --help sends bug reports. */
#define L1B_BUGREPORT "the l1b issue tracker, with the output of --version"

/* Record a printf-style message as the current error; returns -1. */
int l1b_error(const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 1, 2)))
#endif
    ;
const char *l1b_last_error(void);

/* Allocation that does not return on failure: only for sizes already
 * validated (parsers of untrusted input check sizes before calling). Out of
 * memory calls the handler the program installed (which reports and exits),
 * else aborts. */
void alloc_on_failure(void (*handler)(size_t n));
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
/* xcalloc for memory that will all be used, every page mapped now by
 * writing its zeros. Fresh calloc memory is the kernel's shared zero page
 * until written; a first read then a first write (AdamW's moments, say)
 * costs a copy-on-write fault whose TLB flush must interrupt every CPU
 * running one of the process's threads: on a 2-core VM that made the first
 * training step at -j 2 ten times slower than at -j 1. */
void *xcalloc_touched(size_t n, size_t size);

/* Little-endian load/store, independent of host byte order. */
static inline uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t le64(const uint8_t *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }
static inline void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)v); put32(p + 4, (uint32_t)(v >> 32)); }
/* the 16-bit fields of four words as a 4 x 4 matrix, transposed in place
 * (unpacking four rows of ternary codes into panels) */
static inline void transpose16(uint64_t m[4])
{
    const uint64_t f16 = 0x0000ffff0000ffffull, f32 = 0x00000000ffffffffull;
    uint64_t t;
    t = (m[0] >> 16 ^ m[1]) & f16, m[1] ^= t, m[0] ^= t << 16;
    t = (m[2] >> 16 ^ m[3]) & f16, m[3] ^= t, m[2] ^= t << 16;
    t = (m[0] >> 32 ^ m[2]) & f32, m[2] ^= t, m[0] ^= t << 32;
    t = (m[1] >> 32 ^ m[3]) & f32, m[3] ^= t, m[1] ^= t << 32;
}

/* Byte order. Every multi-byte value in an l1b file is little-endian, on
 * every host (man l1b-format(5)); file bytes are never read or written
 * through a host-typed pointer without one of these. L1B_HOST_LE is 1 on a
 * little-endian host: known at compile time where the compiler says
 * (__BYTE_ORDER__: gcc, clang), else a test the optimiser folds. */
static inline int host_is_little_endian(void)
{
    const union { uint16_t u; uint8_t b[2]; } probe = {1};
    return probe.b[0] == 1;
}
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && defined(__ORDER_BIG_ENDIAN__)
#define L1B_HOST_LE (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)
#else
#define L1B_HOST_LE host_is_little_endian()
#endif
/* n values of 2, 4 or 8 bytes at p (any alignment) between file order
 * (little-endian) and host order, in place; the same call converts either
 * way. Nothing at all on a little-endian host: a block of u16 token ids or
 * f32 numbers is read or written there as it is. */
void bytes_reverse_each(void *p, size_t n, size_t width);
static inline void le16_inplace(void *p, size_t n) { if (!L1B_HOST_LE) bytes_reverse_each(p, n, 2); }
static inline void le32_inplace(void *p, size_t n) { if (!L1B_HOST_LE) bytes_reverse_each(p, n, 4); }
static inline void le64_inplace(void *p, size_t n) { if (!L1B_HOST_LE) bytes_reverse_each(p, n, 8); }

/* Read exactly n bytes; returns bytes read (< n only at end of file), or -1
 * on a read error (recorded with the name). */
long long read_full(int fd, void *buf, size_t n, const char *name);
/* Write all n bytes; -1 on error (disk full included), recorded with name. */
int write_full(int fd, const void *buf, size_t n, const char *name);

/* Open a file l1b reads by name whole (a model file, a token stream whose
 * tokenizer is wanted): without blocking (a FIFO with no writer would keep
 * open waiting for ever), and only a regular file, else -1 with "PATH: not
 * a regular file". Returns the descriptor (blocking again) and its size. */
int open_regular_file(const char *path, uint64_t *size);
/* The first 8 bytes of such a file, to tell its kind: returns how many
 * there were (< 8 only for a shorter file), or -1; size may be NULL. */
int file_magic(const char *path, uint8_t magic[8], uint64_t *size);

/* Output files. A regular file (or a new name) is written atomically: bytes
 * go to "DIR/.NAME.XXXXXX" beside it and are renamed over NAME only by
 * outfile_commit, after fsync, so NAME is always either the old file or the
 * complete new one. Each writer holds a lock on its temporary file; one left
 * by a killed writer (unlocked) is removed by the next writer of NAME. A
 * symbolic link is followed: its target is replaced, the link stays. A FIFO,
 * character device or socket (/dev/null, a named pipe) is written through,
 * never replaced; a directory or other special file is refused at open,
 * before any work. A NULL or "-" path writes to stdout. Writes are
 * buffered. */
typedef struct {
    int fd;
    char *path;        /* final name (the link's target), NULL if not atomic */
    char *tmp_path;    /* temporary name, NULL if not atomic */
    char *stream_path; /* a FIFO or device written through, else NULL */
    const char *name;  /* for messages: the path or "stdout" */
    uint8_t *buf;
    size_t used, cap;
    int failed;
} OutFile;

int outfile_open(OutFile *f, const char *path);
int outfile_write(OutFile *f, const void *p, size_t n);
int outfile_commit(OutFile *f);  /* flush, fsync, rename, close */
void outfile_abort(OutFile *f);  /* close and remove the temporary file */

/* What an output path names now: OUTPUT_NEW (nothing yet), OUTPUT_REGULAR,
 * OUTPUT_STREAM (FIFO, character device, socket), or -1 with a message (a
 * directory, a block device; path is not followed if it is a dangling
 * link: see path_resolve). */
enum { OUTPUT_NEW = 0, OUTPUT_REGULAR = 1, OUTPUT_STREAM = 2 };
int output_kind(const char *path);
/* The lock of a model that l1b-train is writing: a write lock (fcntl) on
 * "TARGET.lock", TARGET being path with symbolic links followed, so every
 * name of one file shares one lock. create: make the lock file if missing
 * (the trainer); else a missing one means nobody trains it (*fd = -1). Held
 * until *fd is closed or the process ends (kill -9 too). -1 with a message
 * when another process holds it. */
int model_lock(const char *path, int create, int *fd);
/* output_kind of what path names once links are followed (a dangling link
 * is an error; NULL or "-", stdout, is OUTPUT_STREAM): the check a program
 * makes before any work, so a bad output fails at once. */
int output_check(const char *path);
/* path with symbolic links followed (realpath), or path itself when it is
 * not a link; NULL with a message for a dangling link. Malloc'ed. */
char *path_resolve(const char *path);

/* Temporary files removed when the process is killed by SIGINT, SIGTERM,
 * SIGHUP or SIGPIPE (the handler removes them and re-raises the signal). */
void cleanup_register(const char *path);
void cleanup_unregister(const char *path);
/* From now on SIGINT, SIGTERM and SIGHUP only store their number in *flag,
 * for a program that stops at a safe point of its own (the trainer saves
 * first); SIGPIPE still removes the temporary files and ends the process. */
void signals_defer(volatile sig_atomic_t *flag);
/* An anonymous temporary file in the directory set by the program (its
 * $TMPDIR; /tmp by default): created and removed at once, so nothing is left
 * behind however the process ends. Returns the fd and stores the name it
 * had (malloc'ed, for messages) in *path. */
void tmpfile_set_dir(const char *dir);
int tmpfile_create(char **path, const char *what);

/* A name table: how options, messages and reports spell the values of one
 * enumerated setting, ending with {NULL, 0}. Each table is written once,
 * beside its enum (ffn_act_names in model.h, batching_names in dataset.h,
 * quant_names in quant.h, packing_bits_names in ternary.h). */
typedef struct {
    const char *name;
    int value;
} NameValue;

/* The name of value, "?" if the table has none. */
const char *name_of(const NameValue *t, int value);
/* The value called name; -1 if the table has no such name. */
int name_value(const NameValue *t, const char *name, int *value);
/* The names as a list for messages, "a, b or c", in out (n bytes). */
const char *name_choices(const NameValue *t, char *out, size_t n);

/* Parse a non-negative integer with an optional decimal suffix: k (or K)
 * 1000, M 10^6, G 10^9 ("10k" is 10000). -1 on junk or overflow. */
int parse_u64(const char *s, uint64_t *out);

/* Parse a duration: a number with an optional unit s, m, h or d ("90s",
 * "30m", "1.5h"; a bare number is seconds). -1 on junk or a value <= 0. */
int parse_duration(const char *s, double *seconds);

/* Monotonic clock in seconds. */
double now_seconds(void);

#endif
