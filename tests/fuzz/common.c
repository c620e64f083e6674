/* Shared by the fuzz targets: see common.h. */
#include "common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "container.h"
#include "crc32.h"
#include "inspect.h"
#include "tokenizer.h"
#include "tokstream.h"
#include "util.h"

const char *fuzz_input_name;

static char scratch[512];
static char paths[8][640];

static void remove_scratch(void)
{
    if (!scratch[0]) return;
    DIR *d = opendir(scratch);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char p[800];
            snprintf(p, sizeof p, "%s/%s", scratch, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(scratch);
    scratch[0] = 0;
}

/* Scratch directories "l1b-fuzz.PID.XXXXXX" of processes that are gone
 * (a crash ends a target without its atexit clean-up) are removed. */
static void sweep(const char *base)
{
    DIR *d = opendir(base);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        char *end;
        if (strncmp(e->d_name, "l1b-fuzz.", 9)) continue;
        long pid = strtol(e->d_name + 9, &end, 10);
        if (end == e->d_name + 9 || *end != '.' || pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        snprintf(scratch, sizeof scratch, "%.200s/%.255s", base, e->d_name);
        remove_scratch();
    }
    closedir(d);
}

void fuzz_setup(void)
{
    static int done;
    if (done) return;
    done = 1;
    cli_start("fuzz");
    /* tmpfs when there is one: the readers open their input by path on
     * every run */
    const char *tmp = getenv("TMPDIR");
    const char *dirs[] = {"/dev/shm", tmp && *tmp ? tmp : "/tmp", "/tmp"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0] && !scratch[0]; i++) {
        struct stat st;
        if (stat(dirs[i], &st) < 0 || !S_ISDIR(st.st_mode) || access(dirs[i], W_OK) < 0) continue;
        sweep(dirs[i]);
        snprintf(scratch, sizeof scratch, "%s/l1b-fuzz.%ld.XXXXXX", dirs[i], (long)getpid());
        if (!mkdtemp(scratch)) scratch[0] = 0;
    }
    if (!scratch[0]) {
        fprintf(stderr, "fuzz: cannot create a scratch directory: %s\n", strerror(errno));
        abort();
    }
    tmpfile_set_dir(scratch);
    atexit(remove_scratch);
}

const char *fuzz_path(const char *name)
{
    static int next;
    char *p = paths[4 + (next++ & 3)];
    snprintf(p, sizeof paths[0], "%s/%s", scratch, name);
    return p;
}

const char *fuzz_file(int slot, const void *data, size_t size)
{
    char *p = paths[slot & 3];
    snprintf(p, sizeof paths[0], "%s/in.%d", scratch, slot & 3);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write_full(fd, data, size, p) < 0 || close(fd) < 0) {
        fprintf(stderr, "fuzz: %s: cannot write the input: %s\n", p, strerror(errno));
        abort();
    }
    return p;
}

void fuzz_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "fuzz: %s:%d: check failed: %s", file, line, what);
    if (fuzz_input_name) fprintf(stderr, " (input %s)", fuzz_input_name);
    fprintf(stderr, "\nfuzz: last l1b message: %s\n", l1b_last_error());
    abort();
}

void fuzz_error_reset(void) { l1b_error("%s", ""); }

void fuzz_expect_message(const char *path)
{
    static int notes;
    const char *msg = l1b_last_error();
    FUZZ_CHECK(strcmp(msg, "unknown error") != 0, "a reader failed without a message");
    size_t n = strlen(path);
    if ((strncmp(msg, path, n) || msg[n] != ':') && notes < 5) {
        notes++;
        fprintf(stderr, "fuzz: note: message does not name the file first: %s\n", msg);
    }
}

/* ---- checksum repair ---------------------------------------------------- */

int fuzz_fix_container(uint8_t *p, size_t n)
{
    if (n < 32 || memcmp(p, CKPT_MAGIC, 8)) return 0;
    uint32_t ns = le32(p + 16);
    if (ns == 0 || ns > CONTAINER_MAX_SECTIONS || n < 32 + 32 * (size_t)ns) return 0;
    int changed = 0;
    for (uint32_t i = 0; i < ns; i++) {
        uint8_t *e = p + 32 + 32 * i;
        uint64_t off = le64(e + 8), size = le64(e + 16);
        if (off > n || size > n - off) continue;
        uint32_t crc = crc32_update(0, p + off, (size_t)size);
        if (le32(e + 24) != crc) put32(e + 24, crc), changed = 1;
    }
    uint32_t crc = crc32_update(crc32_update(0, p, 20), p + 32, 32 * (size_t)ns);
    if (le32(p + 20) != crc) put32(p + 20, crc), changed = 1;
    return changed;
}

int fuzz_fix_tokstream(uint8_t *p, size_t n)
{
    if (n < 24 || memcmp(p, TOKSTREAM_MAGIC, 8)) return 0;
    uint32_t hsize = le32(p + 16), rec = le32(p + 20);
    if (rec > n || 24 + (size_t)rec + 4 > n) return 0;
    int changed = 0;
    uint32_t crc = crc32_update(0, p, 24 + rec);
    if (le32(p + 24 + rec) != crc) put32(p + 24 + rec, crc), changed = 1;
    if (hsize % TOKSTREAM_ALIGN || hsize < 24 + rec + 4 || hsize > n || n - hsize < TOKSTREAM_TRAILER) return changed;
    size_t body = n - hsize - TOKSTREAM_TRAILER;
    if (body % 2) return changed;
    uint8_t t[TOKSTREAM_TRAILER];
    put64(t, body / 2);
    put32(t + 8, crc32_update(0, p + hsize, body));
    memcpy(t + 12, "TEND", 4);
    if (memcmp(p + n - TOKSTREAM_TRAILER, t, sizeof t)) memcpy(p + n - TOKSTREAM_TRAILER, t, sizeof t), changed = 1;
    return changed;
}

void fuzz_with_repair(const uint8_t *data, size_t size, int (*fix)(uint8_t *, size_t),
                      void (*fn)(const uint8_t *, size_t))
{
    fn(data, size);
    uint8_t *copy = malloc(size + 1);
    FUZZ_CHECK(copy != NULL, "out of memory for the repaired copy");
    memcpy(copy, data, size);
    if (fix(copy, size)) fn(copy, size);
    free(copy);
}

/* ---- model files ---------------------------------------------------------- */

static int same_bytes(const void *a, const void *b, size_t n)
{
    return n == 0 || (a && b && !memcmp(a, b, n));
}

int fuzz_ckpt_equal(const Checkpoint *a, const Checkpoint *b)
{
    return !memcmp(&a->cfg, &b->cfg, sizeof a->cfg) && a->tok_record_size == b->tok_record_size &&
           same_bytes(a->tok_record, b->tok_record, a->tok_record_size) && a->n_hist == b->n_hist &&
           same_bytes(a->hist, b->hist, a->n_hist * sizeof *a->hist) && a->n_params == b->n_params &&
           same_bytes(a->params, b->params, a->n_params * sizeof(float)) &&
           !a->adam_m == !b->adam_m && !a->adam_v == !b->adam_v &&
           (!a->adam_m || same_bytes(a->adam_m, b->adam_m, a->n_params * sizeof(float))) &&
           (!a->adam_v || same_bytes(a->adam_v, b->adam_v, a->n_params * sizeof(float))) &&
           !memcmp(&a->st, &b->st, sizeof a->st);  /* both zeroed before filling: no stray padding */
}

int fuzz_packed_equal(const PackedModel *a, const PackedModel *b, int compare_scales)
{
    if (memcmp(&a->cfg, &b->cfg, sizeof a->cfg) || a->tok_record_size != b->tok_record_size ||
        !same_bytes(a->tok_record, b->tok_record, a->tok_record_size) || a->n_hist != b->n_hist ||
        !same_bytes(a->hist, b->hist, a->n_hist * sizeof *a->hist))
        return 0;
    TensorInfo info[N_TENSORS];
    model_tensor_table(&a->cfg, info);
    for (int i = 0; i < N_TENSORS; i++) {
        size_t n = (size_t)info[i].layers * info[i].rows * info[i].cols;
        if (n && (!a->t[i] != !b->t[i] || (a->t[i] && memcmp(a->t[i], b->t[i], n * sizeof(float))))) return 0;
        const Q8Matrix *qa = &a->q8[i], *qb = &b->q8[i];
        if (!qa->q != !qb->q) return 0;
        if (qa->q && (qa->rows != qb->rows || qa->cols != qb->cols ||
                      memcmp(qa->q, qb->q, (size_t)qa->rows * qa->cols) ||
                      memcmp(qa->scale, qb->scale, qa->rows * sizeof(float))))
            return 0;
        if (!a->packed[i] != !b->packed[i]) return 0;
        for (uint32_t l = 0; a->packed[i] && l < info[i].layers; l++) {
            const PackedTernary *p = &a->packed[i][l], *q = &b->packed[i][l];
            if (p->rows != q->rows || p->cols != q->cols) return 0;
            if (compare_scales && f32_bits(p->scale) != f32_bits(q->scale)) return 0;
            if (p->packing == q->packing) {
                if (p->n_blocks != q->n_blocks || !same_bytes(p->data, q->data, ternary_bytes(p))) return 0;
                continue;
            }
            for (uint32_t r = 0; r < p->rows; r++)
                for (uint32_t c = 0; c < p->cols; c++)
                    if (ternary_get(p, r, c) != ternary_get(q, r, c)) return 0;
        }
    }
    return 1;
}

static int has_model_magic(const char *path)
{
    uint8_t m[8];
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    long long got = read_full(fd, m, 8, path);
    close(fd);
    return got == 8 && !memcmp(m, CKPT_MAGIC, 8);
}

uint32_t fuzz_model_file(const char *path)
{
    Checkpoint ck, ckw;
    fuzz_error_reset();
    int ok_train = ckpt_read(path, &ck, 0) == 0;
    if (!ok_train) fuzz_expect_message(path);
    fuzz_error_reset();
    int ok_weights = ckpt_read(path, &ckw, CKPT_WEIGHTS_ONLY) == 0;
    if (!ok_weights) fuzz_expect_message(path);
    FUZZ_CHECK(ok_train == ok_weights, "ckpt_read with and without CKPT_WEIGHTS_ONLY disagree");
    if (ok_weights) {
        FUZZ_CHECK(!ckw.adam_m && !ckw.adam_v, "CKPT_WEIGHTS_ONLY kept the moments");
        ckpt_free(&ckw);
    }
    if (ok_train) {
        TensorInfo info[N_TENSORS];
        FUZZ_CHECK(model_tensor_table(&ck.cfg, info) == ck.n_params, "parameter count");
        const char *out = fuzz_path("train.l1b");
        FUZZ_CHECK(ckpt_write(out, &ck) == 0, "ckpt_write of a checkpoint just read");
        Checkpoint back;
        FUZZ_CHECK(ckpt_read(out, &back, 0) == 0, "reading back a checkpoint just written");
        FUZZ_CHECK(fuzz_ckpt_equal(&ck, &back), "a checkpoint changed in a write/read round trip");
        ckpt_free(&back);
        ckpt_free(&ck);
    }

    PackedModel pm, q8, f32;
    uint32_t kind = 0;
    TrainState st;
    fuzz_error_reset();
    int ok_model = packed_model_read(path, &pm, &kind, &st, PACKED_STORED_TABLES) == 0;
    if (!ok_model) fuzz_expect_message(path);
    if (kind == CKPT_KIND_TRAIN)
        FUZZ_CHECK(ok_model == ok_weights, "packed_model_read and ckpt_read disagree on a checkpoint");
    else
        FUZZ_CHECK(!ok_weights, "ckpt_read accepts what is not a checkpoint");
    fuzz_error_reset();
    int ok_q8 = packed_model_read(path, &q8, NULL, NULL, PACKED_Q8_TABLES) == 0;
    if (!ok_q8) fuzz_expect_message(path);
    FUZZ_CHECK(ok_q8 == ok_model, "packed_model_read with PACKED_Q8_TABLES and PACKED_STORED_TABLES disagree");
    /* int8 tables in the file: the rows as stored */
    if (ok_q8 && pm.tables == TABLES_INT8)
        for (int i = T_TOK_EMB; i <= T_HEAD; i += T_HEAD - T_TOK_EMB)
            FUZZ_CHECK(q8.q8[i].rows == pm.q8[i].rows &&
                           !memcmp(q8.q8[i].q, pm.q8[i].q, (size_t)pm.q8[i].rows * pm.q8[i].cols) &&
                           !memcmp(q8.q8[i].scale, pm.q8[i].scale, pm.q8[i].rows * sizeof(float)),
                       "PACKED_Q8_TABLES and PACKED_STORED_TABLES read different int8 rows");
    if (ok_q8) packed_model_free(&q8);
    /* float tables only: refused exactly when the file holds int8 rows */
    fuzz_error_reset();
    int ok_f32 = packed_model_read(path, &f32, NULL, NULL, 0) == 0;
    if (!ok_f32) fuzz_expect_message(path);
    FUZZ_CHECK(ok_f32 == (ok_model && pm.tables == TABLES_F32), "packed_model_read without flags: int8 tables");
    if (ok_f32) packed_model_free(&f32);

    if (ok_model) {
        const char *out = fuzz_path("infer.l1b");
        FUZZ_CHECK(packed_model_write(out, &pm) == 0, "packed_model_write of a model just read");
        PackedModel back;
        uint32_t back_kind = 0;
        FUZZ_CHECK(packed_model_read(out, &back, &back_kind, NULL, PACKED_STORED_TABLES) == 0 &&
                       back_kind == CKPT_KIND_INFER,
                   "reading back an inference file just written");
        FUZZ_CHECK(fuzz_packed_equal(&pm, &back, 1), "a model changed in a write/read round trip");
        packed_model_free(&back);
        /* the tables the other way: int8 rows to floats and back give the
         * same rows, floats to int8 rows */
        if (pm.cfg.quant != QUANT_F32) {
            PackedModel was;
            FUZZ_CHECK(packed_model_read(out, &was, NULL, NULL, PACKED_STORED_TABLES) == 0, "reading it again");
            uint32_t other = pm.tables == TABLES_INT8 ? TABLES_F32 : TABLES_INT8;
            size_t inexact = packed_model_set_tables(&pm, other);
            FUZZ_CHECK(packed_model_write(out, &pm) == 0, "packed_model_write with the other tables");
            FUZZ_CHECK(packed_model_read(out, &back, NULL, NULL, PACKED_STORED_TABLES) == 0 && back.tables == other,
                       "reading back the other tables");
            FUZZ_CHECK(fuzz_packed_equal(&pm, &back, 1), "a model changed in a write/read round trip (tables)");
            if (other == TABLES_F32 && inexact == 0) {
                packed_model_set_tables(&back, TABLES_INT8);
                FUZZ_CHECK(fuzz_packed_equal(&was, &back, 1), "int8 tables changed on the way through floats");
            }
            packed_model_free(&back);
            packed_model_free(&was);
        }
        packed_model_free(&pm);
    }

    ModelSummary s;
    fuzz_error_reset();
    int ok_sum = model_summary_read(&s, path) == 0;
    FUZZ_CHECK(ok_sum == ok_model, "model_summary_read and packed_model_read disagree");
    if (ok_sum) {
        FUZZ_CHECK(s.kind == kind, "model_summary_read: kind");
        model_summary_free(&s);
    } else {
        fuzz_expect_message(path);
    }

    Tokenizer t;
    fuzz_error_reset();
    int ok_tok = tokenizer_from_file(path, &t) == 0;
    if (ok_tok) tok_free(&t);
    else fuzz_expect_message(path);
    int model_magic = has_model_magic(path);
    if (model_magic) FUZZ_CHECK(ok_tok == ok_model, "tokenizer_from_file and packed_model_read disagree");

    fuzz_error_reset();
    int ok_verify = inspect_verify(path) == 0;
    if (!ok_verify) fuzz_expect_message(path);
    if (model_magic && ok_verify) FUZZ_CHECK(ok_model && (kind != CKPT_KIND_TRAIN || ok_train),
                                             "verify passes a model file the readers refuse");
    return ok_model ? kind : 0;
}
