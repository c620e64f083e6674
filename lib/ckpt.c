#include "ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32.h"
#include "tokstream.h"
#include "util.h"

#define MAX_SECTIONS 16
#define ALIGN 64
#define CONF_SIZE 64
#define STAT_SIZE 128

const char *const hist_names[H_COLS] = {
    "step", "tokens", "train_loss", "val_loss", "val_ppl", "val_bpb", "val_acc", "lr", "grad_norm",
    "zero_share", "tok_per_s", "ms_per_step", "elapsed_s",
};

static uint32_t f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static uint64_t f64_bits(double d) { uint64_t u; memcpy(&u, &d, 8); return u; }
static double bits_f64(uint64_t u) { double d; memcpy(&d, &u, 8); return d; }

/* ---- writing ---------------------------------------------------------- */

typedef struct {
    char tag[4];
    uint64_t offset, size;
    uint32_t crc;
} Section;

static void encode_conf(const ModelConfig *c, uint8_t *b)
{
    memset(b, 0, CONF_SIZE);
    uint32_t v[] = {c->dim, c->n_layers, c->n_heads, c->hidden, c->ctx, c->vocab, c->ffn_act, c->quant,
                    f32_bits(ROPE_THETA), f32_bits(RMSNORM_EPS)};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) put32(b + 4 * i, v[i]);
}

static void encode_stat(const TrainState *s, uint8_t *b)
{
    memset(b, 0, STAT_SIZE);
    put64(b, s->step);
    put64(b + 8, s->tokens_seen);
    put64(b + 16, s->batch_index);
    put64(b + 24, s->rng_state);
    put64(b + 32, f64_bits(s->elapsed));
    put64(b + 40, s->total_steps);
    put64(b + 48, s->seed);
    put32(b + 56, f32_bits(s->lr));
    put32(b + 60, f32_bits(s->min_lr));
    put32(b + 64, f32_bits(s->wd));
    put32(b + 68, f32_bits(s->clip));
    put32(b + 72, s->warmup);
    put32(b + 76, s->batch);
    put32(b + 80, s->accum);
    put32(b + 84, s->batching);
    put32(b + 88, f32_bits(s->val_frac));
    put64(b + 96, s->data_tokens);
    put32(b + 104, s->data_crc);
}

/* floats as little-endian bytes, a chunk at a time */
static uint8_t *floats_le(const float *x, size_t n)
{
    uint8_t *b = xmalloc(4 * n + 1);
    for (size_t i = 0; i < n; i++) put32(b + 4 * i, f32_bits(x[i]));
    return b;
}

int ckpt_write(const char *path, const Checkpoint *ck)
{
    uint8_t conf[CONF_SIZE], stat[STAT_SIZE];
    encode_conf(&ck->cfg, conf);
    encode_stat(&ck->st, stat);
    size_t hist_size = 8 + ck->n_hist * H_COLS * 8;
    uint8_t *hist = xmalloc(hist_size);
    put32(hist, H_COLS);
    put32(hist + 4, (uint32_t)ck->n_hist);
    for (size_t r = 0; r < ck->n_hist; r++)
        for (int c = 0; c < H_COLS; c++) put64(hist + 8 + (r * H_COLS + c) * 8, f64_bits(ck->hist[r].v[c]));
    uint8_t *parm = floats_le(ck->params, ck->n_params);
    uint8_t *adam = xmalloc(8 * ck->n_params + 1);
    for (size_t i = 0; i < ck->n_params; i++) {
        put32(adam + 4 * i, f32_bits(ck->adam_m[i]));
        put32(adam + 4 * (ck->n_params + i), f32_bits(ck->adam_v[i]));
    }

    struct { const char *tag; const uint8_t *data; size_t size; } parts[] = {
        {"CONF", conf, CONF_SIZE},
        {"TOKZ", ck->tok_record, ck->tok_record_size},
        {"STAT", stat, STAT_SIZE},
        {"HIST", hist, hist_size},
        {"PARM", parm, 4 * ck->n_params},
        {"ADAM", adam, 8 * ck->n_params},
    };
    enum { N = sizeof parts / sizeof parts[0] };
    uint8_t head[32 + 32 * N];
    memset(head, 0, sizeof head);
    memcpy(head, CKPT_MAGIC, 8);
    put32(head + 8, CKPT_VERSION);
    put32(head + 12, CKPT_KIND_TRAIN);
    put32(head + 16, N);
    uint64_t off = (sizeof head + ALIGN - 1) / ALIGN * ALIGN;
    for (int i = 0; i < N; i++) {
        uint8_t *e = head + 32 + 32 * i;
        memcpy(e, parts[i].tag, 4);
        put64(e + 8, off);
        put64(e + 16, parts[i].size);
        put32(e + 24, crc32_update(0, parts[i].data, parts[i].size));
        off = (off + parts[i].size + ALIGN - 1) / ALIGN * ALIGN;
    }
    uint32_t crc = crc32_update(0, head, 20);
    put32(head + 20, crc32_update(crc, head + 32, 32 * N));

    OutFile f;
    int rc = outfile_open(&f, path);
    if (rc == 0) {
        static const uint8_t zeros[ALIGN];
        uint64_t pos = sizeof head;
        rc = outfile_write(&f, head, sizeof head);
        for (int i = 0; i < N && rc == 0; i++) {
            uint64_t at = le64(head + 32 + 32 * i + 8);
            rc = outfile_write(&f, zeros, (size_t)(at - pos));
            if (rc == 0) rc = outfile_write(&f, parts[i].data, parts[i].size);
            pos = at + parts[i].size;
        }
        if (rc == 0) rc = outfile_commit(&f);
        else outfile_abort(&f);
    }
    free(hist);
    free(parm);
    free(adam);
    return rc;
}

/* ---- reading ---------------------------------------------------------- */

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

/* Header and section table, checked; sections[] gets the table. */
static int read_table(int fd, const char *path, uint64_t size, Section *sec, uint32_t *n_sec, uint32_t *kind)
{
    uint8_t head[32 + 32 * MAX_SECTIONS];
    if (size < 32) {
        uint8_t m[8];
        if (size >= 8 && read_at(fd, m, 8, 0, path) < 0) return -1;
        if (size < 8 || memcmp(m, CKPT_MAGIC, 8)) return l1b_error("%s: not an l1b model file (bad magic)", path);
        return l1b_error("%s: truncated model file", path);
    }
    if (read_at(fd, head, 32, 0, path) < 0) return -1;
    if (memcmp(head, CKPT_MAGIC, 8)) return l1b_error("%s: not an l1b model file (bad magic)", path);
    uint32_t version = le32(head + 8);
    if (version != CKPT_VERSION)
        return l1b_error("%s: model file version %u not supported (this l1b reads %u)", path, version, CKPT_VERSION);
    *kind = le32(head + 12);
    if (*kind != CKPT_KIND_TRAIN) return l1b_error("%s: unknown model file kind %u", path, *kind);
    *n_sec = le32(head + 16);
    if (*n_sec == 0 || *n_sec > MAX_SECTIONS) return l1b_error("%s: corrupt model file (%u sections)", path, *n_sec);
    if (size < 32 + 32 * (uint64_t)*n_sec) return l1b_error("%s: truncated model file", path);
    if (read_at(fd, head + 32, 32 * *n_sec, 32, path) < 0) return -1;
    uint32_t crc = crc32_update(crc32_update(0, head, 20), head + 32, 32 * *n_sec);
    if (crc != le32(head + 20)) return l1b_error("%s: model header checksum mismatch", path);
    uint64_t end = 32 + 32 * (uint64_t)*n_sec;
    for (uint32_t i = 0; i < *n_sec; i++) {
        const uint8_t *e = head + 32 + 32 * i;
        memcpy(sec[i].tag, e, 4);
        sec[i].offset = le64(e + 8);
        sec[i].size = le64(e + 16);
        sec[i].crc = le32(e + 24);
        if (sec[i].offset <= size && sec[i].size > size - sec[i].offset)
            return l1b_error("%s: truncated model file (section %.4s ends past the end)", path, sec[i].tag);
        if (sec[i].offset % ALIGN || sec[i].offset < end || sec[i].offset > size)
            return l1b_error("%s: corrupt model file (section %.4s misplaced)", path, sec[i].tag);
        end = sec[i].offset + sec[i].size;
    }
    if (end != size) return l1b_error("%s: corrupt model file (%llu bytes after the last section)", path,
                                      (unsigned long long)(size - end));
    return 0;
}

static const Section *find(const Section *sec, uint32_t n, const char *tag)
{
    for (uint32_t i = 0; i < n; i++)
        if (!memcmp(sec[i].tag, tag, 4)) return &sec[i];
    return NULL;
}

/* Read a section whole and check its CRC; want_size 0 = any. */
static uint8_t *load_section(int fd, const char *path, const Section *sec, uint32_t n, const char *tag,
                             uint64_t want_size)
{
    const Section *s = find(sec, n, tag);
    if (!s) { l1b_error("%s: model file lacks its %s section", path, tag); return NULL; }
    if (want_size && s->size != want_size) {
        l1b_error("%s: %s section is %llu bytes, expected %llu", path, tag, (unsigned long long)s->size,
                  (unsigned long long)want_size);
        return NULL;
    }
    if (s->size > SIZE_MAX - 1) { l1b_error("%s: %s section too large for this machine", path, tag); return NULL; }
    uint8_t *b = malloc((size_t)s->size + 1);
    if (!b) { l1b_error("%s: out of memory reading %s section", path, tag); return NULL; }
    if (read_at(fd, b, (size_t)s->size, s->offset, path) < 0) { free(b); return NULL; }
    if (crc32_update(0, b, (size_t)s->size) != s->crc) {
        free(b);
        l1b_error("%s: %s section checksum mismatch (corrupt data)", path, tag);
        return NULL;
    }
    return b;
}

static int decode_conf(const uint8_t *b, ModelConfig *c, const char *path)
{
    c->dim = le32(b);
    c->n_layers = le32(b + 4);
    c->n_heads = le32(b + 8);
    c->hidden = le32(b + 12);
    c->ctx = le32(b + 16);
    c->vocab = le32(b + 20);
    c->ffn_act = le32(b + 24);
    c->quant = le32(b + 28);
    /* compare bit patterns: on x87 a float constant may carry extra precision */
    if (le32(b + 32) != f32_bits(ROPE_THETA) || le32(b + 36) != f32_bits(RMSNORM_EPS))
        return l1b_error("%s: unsupported rotary base or norm epsilon", path);
    if (model_config_check(c) < 0) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", l1b_last_error());
        return l1b_error("%s: bad model shape: %s", path, msg);
    }
    return 0;
}

static void decode_stat(const uint8_t *b, TrainState *s)
{
    s->step = le64(b);
    s->tokens_seen = le64(b + 8);
    s->batch_index = le64(b + 16);
    s->rng_state = le64(b + 24);
    s->elapsed = bits_f64(le64(b + 32));
    s->total_steps = le64(b + 40);
    s->seed = le64(b + 48);
    s->lr = bits_f32(le32(b + 56));
    s->min_lr = bits_f32(le32(b + 60));
    s->wd = bits_f32(le32(b + 64));
    s->clip = bits_f32(le32(b + 68));
    s->warmup = le32(b + 72);
    s->batch = le32(b + 76);
    s->accum = le32(b + 80);
    s->batching = le32(b + 84);
    s->val_frac = bits_f32(le32(b + 88));
    s->data_tokens = le64(b + 96);
    s->data_crc = le32(b + 104);
}

/* Check a section's CRC reading it in chunks, without keeping it. */
static int check_section(int fd, const char *path, const Section *sec, uint32_t n, const char *tag, uint64_t want_size)
{
    const Section *s = find(sec, n, tag);
    if (!s) return l1b_error("%s: model file lacks its %s section", path, tag);
    if (s->size != want_size)
        return l1b_error("%s: %s section is %llu bytes, expected %llu", path, tag, (unsigned long long)s->size,
                         (unsigned long long)want_size);
    uint8_t *buf = xmalloc(1 << 20);
    uint32_t crc = 0;
    int rc = 0;
    for (uint64_t done = 0; done < s->size && rc == 0;) {
        size_t k = s->size - done < (1 << 20) ? (size_t)(s->size - done) : (1 << 20);
        rc = read_at(fd, buf, k, s->offset + done, path);
        crc = crc32_update(crc, buf, k);
        done += k;
    }
    free(buf);
    if (rc == 0 && crc != s->crc) rc = l1b_error("%s: %s section checksum mismatch (corrupt data)", path, tag);
    return rc;
}

int ckpt_read(const char *path, Checkpoint *ck, int flags)
{
    memset(ck, 0, sizeof *ck);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return l1b_error("%s: %s", path, strerror(errno));
    struct stat st;
    Section sec[MAX_SECTIONS];
    uint32_t n = 0, kind = 0;
    uint8_t *conf = NULL, *stat_b = NULL, *hist = NULL, *parm = NULL, *adam = NULL;
    int rc = -1;
    if (fstat(fd, &st) < 0) { l1b_error("%s: %s", path, strerror(errno)); goto out; }
    if (read_table(fd, path, (uint64_t)st.st_size, sec, &n, &kind) < 0) goto out;
    if (!(conf = load_section(fd, path, sec, n, "CONF", CONF_SIZE))) goto out;
    if (decode_conf(conf, &ck->cfg, path) < 0) goto out;
    if (!(ck->tok_record = load_section(fd, path, sec, n, "TOKZ", 0))) goto out;
    ck->tok_record_size = find(sec, n, "TOKZ")->size;
    Tokenizer tok;
    if (tok_record_read(&tok, ck->tok_record, ck->tok_record_size, path) < 0) goto out;
    uint32_t tv = tok.n_vocab;
    tok_free(&tok);
    if (tv != ck->cfg.vocab) {
        l1b_error("%s: model vocabulary %u does not match its tokenizer's %u", path, ck->cfg.vocab, tv);
        goto out;
    }
    TensorInfo info[N_TENSORS];
    ck->n_params = model_tensor_table(&ck->cfg, info);
    if (!(stat_b = load_section(fd, path, sec, n, "STAT", STAT_SIZE))) goto out;
    decode_stat(stat_b, &ck->st);
    const Section *hs = find(sec, n, "HIST");
    if (!hs || hs->size < 8) { l1b_error("%s: model file lacks its HIST section", path); goto out; }
    if (!(hist = load_section(fd, path, sec, n, "HIST", 0))) goto out;
    uint32_t cols = le32(hist), rows = le32(hist + 4);
    if (cols != H_COLS || hs->size != 8 + (uint64_t)rows * H_COLS * 8) {
        l1b_error("%s: corrupt HIST section", path);
        goto out;
    }
    ck->n_hist = rows;
    ck->hist = xmalloc((rows + 1) * sizeof *ck->hist);
    for (uint32_t r = 0; r < rows; r++)
        for (int c = 0; c < H_COLS; c++) ck->hist[r].v[c] = bits_f64(le64(hist + 8 + ((size_t)r * H_COLS + c) * 8));
    if (!(parm = load_section(fd, path, sec, n, "PARM", 4 * (uint64_t)ck->n_params))) goto out;
    ck->params = xmalloc(ck->n_params * sizeof(float) + 1);
    for (size_t i = 0; i < ck->n_params; i++) ck->params[i] = bits_f32(le32(parm + 4 * i));
    free(parm);
    parm = NULL;
    if (flags & CKPT_WEIGHTS_ONLY) {
        if (check_section(fd, path, sec, n, "ADAM", 8 * (uint64_t)ck->n_params) < 0) goto out;
    } else {
        if (!(adam = load_section(fd, path, sec, n, "ADAM", 8 * (uint64_t)ck->n_params))) goto out;
        ck->adam_m = xmalloc(ck->n_params * sizeof(float) + 1);
        ck->adam_v = xmalloc(ck->n_params * sizeof(float) + 1);
        for (size_t i = 0; i < ck->n_params; i++) {
            ck->adam_m[i] = bits_f32(le32(adam + 4 * i));
            ck->adam_v[i] = bits_f32(le32(adam + 4 * (ck->n_params + i)));
        }
    }
    rc = 0;
out:
    free(conf);
    free(stat_b);
    free(hist);
    free(parm);
    free(adam);
    close(fd);
    if (rc < 0) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", l1b_last_error());
        ckpt_free(ck);
        l1b_error("%s", msg);
    }
    return rc;
}

void ckpt_free(Checkpoint *ck)
{
    free(ck->tok_record);
    free(ck->params);
    free(ck->adam_m);
    free(ck->adam_v);
    free(ck->hist);
    memset(ck, 0, sizeof *ck);
}

int tokenizer_from_file(const char *path, Tokenizer *t)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return l1b_error("%s: %s", path, strerror(errno));
    uint8_t magic[8];
    long long got = read_full(fd, magic, 8, path);
    close(fd);
    if (got == 8 && !memcmp(magic, CKPT_MAGIC, 8)) {
        /* only the tokenizer is needed, but checking the whole file keeps
         * one reading path */
        Checkpoint ck;
        if (ckpt_read(path, &ck, CKPT_WEIGHTS_ONLY) < 0) return -1;
        int rc = tok_record_read(t, ck.tok_record, ck.tok_record_size, path);
        ckpt_free(&ck);
        return rc;
    }
    return tok_load_file(path, t);
}
