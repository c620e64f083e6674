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
static uint64_t align_up(uint64_t n) { return (n + ALIGN - 1) / ALIGN * ALIGN; }

/* ---- shapes of the inference sections ------------------------------------ */

/* BitLinear tensors stored packed: ternary in the table and present */
static int is_packed(const ModelConfig *c, const TensorInfo *ti)
{
    return c->quant != QUANT_F32 && ti->ternary && ti->rows > 0;
}

static uint64_t tensor_floats(const TensorInfo *ti) { return (uint64_t)ti->layers * ti->rows * ti->cols; }
/* a packed layer slice: rows x blocks */
static uint64_t slice_bytes(const TensorInfo *ti, uint32_t packing)
{
    return (uint64_t)ti->rows * ternary_packed_row_bytes(ti->cols, packing);
}

/* the section of the ternary weights in an inference file */
static const char *tern_tag(uint32_t packing) { return packing == PACK_BASE3 ? "TRIT" : "TERN"; }

static uint32_t n_slices(const ModelConfig *c, const TensorInfo info[N_TENSORS])
{
    uint32_t s = 0;
    for (int i = 0; i < N_TENSORS; i++)
        if (is_packed(c, &info[i])) s += info[i].layers;
    return s;
}

uint64_t ckpt_flts_size(const ModelConfig *c)
{
    TensorInfo info[N_TENSORS];
    model_tensor_table(c, info);
    uint64_t n = 0;
    for (int i = 0; i < N_TENSORS; i++)
        if (!info[i].ternary) n += tensor_floats(&info[i]);
    return 4 * n;
}

uint64_t ckpt_tern_size(const ModelConfig *c, uint32_t packing)
{
    TensorInfo info[N_TENSORS];
    model_tensor_table(c, info);
    uint64_t n = align_up(4 * (uint64_t)n_slices(c, info));
    for (int i = 0; i < N_TENSORS; i++)
        if (is_packed(c, &info[i])) n += info[i].layers * slice_bytes(&info[i], packing);
    return n;
}

/* ---- writing ---------------------------------------------------------- */

typedef struct {
    char tag[4];
    uint64_t offset, size;
    uint32_t crc;
} Section;

typedef struct { const char *tag; const uint8_t *data; size_t size; } Part;

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

static uint8_t *encode_hist(const HistRow *hist, size_t n_hist, size_t *size)
{
    *size = 8 + n_hist * H_COLS * 8;
    uint8_t *b = xmalloc(*size);
    put32(b, H_COLS);
    put32(b + 4, (uint32_t)n_hist);
    for (size_t r = 0; r < n_hist; r++)
        for (int c = 0; c < H_COLS; c++) put64(b + 8 + (r * H_COLS + c) * 8, f64_bits(hist[r].v[c]));
    return b;
}

/* floats as little-endian bytes */
static void put_floats(uint8_t *b, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) put32(b + 4 * i, f32_bits(x[i]));
}

/* Header, table and the parts at 64-byte aligned offsets, atomically. */
static int write_model_file(const char *path, uint32_t kind, const Part *parts, int n)
{
    uint8_t head[32 + 32 * MAX_SECTIONS];
    size_t head_size = 32 + 32 * (size_t)n;
    memset(head, 0, sizeof head);
    memcpy(head, CKPT_MAGIC, 8);
    put32(head + 8, CKPT_VERSION);
    put32(head + 12, kind);
    put32(head + 16, (uint32_t)n);
    uint64_t off = align_up(head_size);
    for (int i = 0; i < n; i++) {
        uint8_t *e = head + 32 + 32 * i;
        memcpy(e, parts[i].tag, 4);
        put64(e + 8, off);
        put64(e + 16, parts[i].size);
        put32(e + 24, crc32_update(0, parts[i].data, parts[i].size));
        off = align_up(off + parts[i].size);
    }
    uint32_t crc = crc32_update(0, head, 20);
    put32(head + 20, crc32_update(crc, head + 32, 32 * (size_t)n));

    OutFile f;
    int rc = outfile_open(&f, path);
    if (rc < 0) return -1;
    static const uint8_t zeros[ALIGN];
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

Checkpoint ckpt_of_model(const Model *m, const uint8_t *tok_record, size_t tok_record_size)
{
    Checkpoint ck;
    memset(&ck, 0, sizeof ck);
    ck.cfg = m->cfg;
    ck.tok_record = (uint8_t *)tok_record;
    ck.tok_record_size = tok_record_size;
    ck.params = m->params;
    ck.adam_m = m->m;
    ck.adam_v = m->v;
    ck.n_params = m->n_params;
    return ck;
}

int ckpt_write(const char *path, const Checkpoint *ck)
{
    uint8_t conf[CONF_SIZE], stat[STAT_SIZE];
    encode_conf(&ck->cfg, conf);
    encode_stat(&ck->st, stat);
    size_t hist_size;
    uint8_t *hist = encode_hist(ck->hist, ck->n_hist, &hist_size);
    /* On a little-endian host the float blocks are already the file's bytes:
     * written as they are, saving does not need a second copy of the model
     * (10 MB at the nanoGPT shape, which used to set the training peak). */
    const uint16_t probe = 1;
    int host_le = *(const uint8_t *)&probe == 1;
    uint8_t *parm_copy = NULL, *adam_copy = NULL;
    const uint8_t *parm = (const uint8_t *)ck->params, *adam = (const uint8_t *)ck->adam_m;
    if (!host_le) {
        parm = parm_copy = xmalloc(4 * ck->n_params + 1);
        put_floats(parm_copy, ck->params, ck->n_params);
    }
    if (!host_le || ck->adam_v != ck->adam_m + ck->n_params) {
        adam = adam_copy = xmalloc(8 * ck->n_params + 1);
        put_floats(adam_copy, ck->adam_m, ck->n_params);
        put_floats(adam_copy + 4 * ck->n_params, ck->adam_v, ck->n_params);
    }
    const Part parts[] = {
        {"CONF", conf, CONF_SIZE},
        {"TOKZ", ck->tok_record, ck->tok_record_size},
        {"STAT", stat, STAT_SIZE},
        {"HIST", hist, hist_size},
        {"PARM", parm, 4 * ck->n_params},
        {"ADAM", adam, 8 * ck->n_params},
    };
    int rc = write_model_file(path, CKPT_KIND_TRAIN, parts, (int)(sizeof parts / sizeof parts[0]));
    free(hist);
    free(parm_copy);
    free(adam_copy);
    return rc;
}

int ckpt_write_packed(const char *path, const PackedModel *pm)
{
    const ModelConfig *c = &pm->cfg;
    TensorInfo info[N_TENSORS];
    size_t n_params = model_tensor_table(c, info);
    uint8_t conf[CONF_SIZE];
    encode_conf(c, conf);
    size_t hist_size;
    uint8_t *hist = encode_hist(pm->hist, pm->n_hist, &hist_size);
    Part parts[5] = {
        {"CONF", conf, CONF_SIZE},
        {"TOKZ", pm->tok_record, pm->tok_record_size},
        {"HIST", hist, hist_size},
    };
    int n = 3;
    uint8_t *floats, *tern = NULL;
    if (c->quant == QUANT_F32) {
        floats = xmalloc(4 * n_params + 1);
        for (int i = 0; i < N_TENSORS; i++)
            put_floats(floats + 4 * info[i].offset, pm->t[i], (size_t)tensor_floats(&info[i]));
        parts[n++] = (Part){"PARM", floats, 4 * n_params};
    } else {
        size_t flts = (size_t)ckpt_flts_size(c), tsize = (size_t)ckpt_tern_size(c, pm->packing);
        floats = xmalloc(flts + 1);
        tern = xcalloc(tsize + 1, 1);
        size_t at = 0, scale_at = 0, data_at = (size_t)align_up(4 * (uint64_t)n_slices(c, info));
        for (int i = 0; i < N_TENSORS; i++) {
            if (!info[i].ternary) {
                put_floats(floats + at, pm->t[i], (size_t)tensor_floats(&info[i]));
                at += 4 * (size_t)tensor_floats(&info[i]);
            } else if (is_packed(c, &info[i])) {
                for (uint32_t l = 0; l < info[i].layers; l++) {
                    const PackedTernary *p = &pm->packed[i][l];
                    put32(tern + scale_at, f32_bits(p->scale));
                    scale_at += 4;
                    memcpy(tern + data_at, p->data, ternary_bytes(p));
                    data_at += ternary_bytes(p);
                }
            }
        }
        parts[n++] = (Part){"FLTS", floats, flts};
        parts[n++] = (Part){tern_tag(pm->packing), tern, tsize};
    }
    int rc = write_model_file(path, CKPT_KIND_INFER, parts, n);
    free(hist);
    free(floats);
    free(tern);
    return rc;
}

/* ---- reading: the container ------------------------------------------- */

typedef struct {
    int fd;
    const char *path;
    uint64_t size;
    uint32_t kind, n;
    Section sec[MAX_SECTIONS];
} ModelIn;

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
static int check_zero(const ModelIn *mf, uint64_t from, uint64_t to, const char *what)
{
    uint8_t b[ALIGN];
    if (to - from > sizeof b) return l1b_error("%s: corrupt model file (%s too long)", mf->path, what);
    if (read_at(mf->fd, b, (size_t)(to - from), from, mf->path) < 0) return -1;
    for (uint64_t i = 0; i < to - from; i++)
        if (b[i]) return l1b_error("%s: corrupt model file (non-zero byte in %s at offset %llu)", mf->path,
                                   what, (unsigned long long)(from + i));
    return 0;
}

/* Header and section table, checked: every byte of the file outside the
 * sections is covered by the header CRC or must be zero. */
static int read_table(ModelIn *mf)
{
    const char *path = mf->path;
    uint64_t size = mf->size;
    uint8_t head[32 + 32 * MAX_SECTIONS];
    if (size < 32) {
        uint8_t m[8];
        if (size >= 8 && read_at(mf->fd, m, 8, 0, path) < 0) return -1;
        if (size < 8 || memcmp(m, CKPT_MAGIC, 8)) return l1b_error("%s: not an l1b model file (bad magic)", path);
        return l1b_error("%s: truncated model file", path);
    }
    if (read_at(mf->fd, head, 32, 0, path) < 0) return -1;
    if (memcmp(head, CKPT_MAGIC, 8)) return l1b_error("%s: not an l1b model file (bad magic)", path);
    uint32_t version = le32(head + 8);
    if (version != CKPT_VERSION)
        return l1b_error("%s: model file version %u not supported (this l1b reads %u)", path, version, CKPT_VERSION);
    mf->kind = le32(head + 12);
    if (mf->kind != CKPT_KIND_TRAIN && mf->kind != CKPT_KIND_INFER)
        return l1b_error("%s: unknown model file kind %u", path, mf->kind);
    mf->n = le32(head + 16);
    if (mf->n == 0 || mf->n > MAX_SECTIONS) return l1b_error("%s: corrupt model file (%u sections)", path, mf->n);
    if (size < 32 + 32 * (uint64_t)mf->n) return l1b_error("%s: truncated model file", path);
    if (read_at(mf->fd, head + 32, 32 * mf->n, 32, path) < 0) return -1;
    uint32_t crc = crc32_update(crc32_update(0, head, 20), head + 32, 32 * mf->n);
    if (crc != le32(head + 20)) return l1b_error("%s: model header checksum mismatch", path);
    if (le64(head + 24)) return l1b_error("%s: corrupt model file (reserved header bytes not zero)", path);
    uint64_t end = 32 + 32 * (uint64_t)mf->n;
    for (uint32_t i = 0; i < mf->n; i++) {
        const uint8_t *e = head + 32 + 32 * i;
        Section *s = &mf->sec[i];
        memcpy(s->tag, e, 4);
        s->offset = le64(e + 8);
        s->size = le64(e + 16);
        s->crc = le32(e + 24);
        for (uint32_t j = 0; j < i; j++)
            if (!memcmp(mf->sec[j].tag, s->tag, 4))
                return l1b_error("%s: corrupt model file (two %.4s sections)", path, s->tag);
        if (s->offset <= size && s->size > size - s->offset)
            return l1b_error("%s: truncated model file (section %.4s ends past the end)", path, s->tag);
        if (s->offset != align_up(end) || s->offset > size)
            return l1b_error("%s: corrupt model file (section %.4s misplaced)", path, s->tag);
        if (check_zero(mf, end, s->offset, "padding") < 0) return -1;
        end = s->offset + s->size;
    }
    if (end != size) return l1b_error("%s: corrupt model file (%llu bytes after the last section)", path,
                                      (unsigned long long)(size - end));
    return 0;
}

static int model_open(ModelIn *mf, const char *path)
{
    memset(mf, 0, sizeof *mf);
    mf->path = path;
    mf->fd = open(path, O_RDONLY);
    if (mf->fd < 0) return l1b_error("%s: %s", path, strerror(errno));
    struct stat st;
    int rc = 0;
    if (fstat(mf->fd, &st) < 0) rc = l1b_error("%s: %s", path, strerror(errno));
    else if (!S_ISREG(st.st_mode)) rc = l1b_error("%s: not a regular file", path);
    mf->size = (uint64_t)st.st_size;
    if (rc == 0) rc = read_table(mf);
    if (rc < 0) {
        close(mf->fd);
        mf->fd = -1;
    }
    return rc;
}

static void model_close(ModelIn *mf)
{
    if (mf->fd >= 0) close(mf->fd);
    mf->fd = -1;
}

/* Exactly the sections a kind of file has, each once (order is free). */
static int check_tags(const ModelIn *mf, const char *const *tags, uint32_t n_tags)
{
    for (uint32_t i = 0; i < mf->n; i++) {
        uint32_t k = 0;
        while (k < n_tags && memcmp(mf->sec[i].tag, tags[k], 4)) k++;
        if (k == n_tags) {
            char t[5];
            for (int j = 0; j < 4; j++) {
                unsigned char ch = (unsigned char)mf->sec[i].tag[j];
                t[j] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
            }
            t[4] = 0;
            return l1b_error("%s: unexpected section %s in a %s", mf->path, t,
                             mf->kind == CKPT_KIND_TRAIN ? "training checkpoint" : "inference file");
        }
    }
    for (uint32_t k = 0; k < n_tags; k++) {
        uint32_t i = 0;
        while (i < mf->n && memcmp(mf->sec[i].tag, tags[k], 4)) i++;
        if (i == mf->n) return l1b_error("%s: model file lacks its %s section", mf->path, tags[k]);
    }
    return 0;
}

static const Section *find(const ModelIn *mf, const char *tag)
{
    for (uint32_t i = 0; i < mf->n; i++)
        if (!memcmp(mf->sec[i].tag, tag, 4)) return &mf->sec[i];
    return NULL;
}

static int check_size(const ModelIn *mf, const Section *s, const char *tag, uint64_t want_size)
{
    if (!s) return l1b_error("%s: model file lacks its %s section", mf->path, tag);
    if (want_size && s->size != want_size)
        return l1b_error("%s: %s section is %llu bytes, expected %llu", mf->path, tag, (unsigned long long)s->size,
                         (unsigned long long)want_size);
    if (s->size > SIZE_MAX - 1) return l1b_error("%s: %s section too large for this machine", mf->path, tag);
    return 0;
}

/* A section read piece by piece, its CRC checked at the end. */
typedef struct {
    const ModelIn *mf;
    const Section *s;
    const char *tag;
    uint64_t pos;
    uint32_t crc;
} SecIn;

static int secin_open(SecIn *r, const ModelIn *mf, const char *tag, uint64_t want_size)
{
    r->mf = mf;
    r->s = find(mf, tag);
    r->tag = tag;
    r->pos = 0;
    r->crc = 0;
    return check_size(mf, r->s, tag, want_size);
}

static int secin_read(SecIn *r, void *buf, size_t n)
{
    if (n > r->s->size - r->pos) return l1b_error("%s: %s section too short", r->mf->path, r->tag);
    if (read_at(r->mf->fd, buf, n, r->s->offset + r->pos, r->mf->path) < 0) return -1;
    r->crc = crc32_update(r->crc, buf, n);
    r->pos += n;
    return 0;
}

/* n little-endian floats, decoded in place */
static int secin_floats(SecIn *r, float *x, size_t n)
{
    if (secin_read(r, x, 4 * n) < 0) return -1;
    uint8_t *b = (uint8_t *)x;
    for (size_t i = 0; i < n; i++) {
        float f = bits_f32(le32(b + 4 * i));
        memcpy(b + 4 * i, &f, 4);
    }
    return 0;
}

static int secin_close(SecIn *r)
{
    if (r->pos != r->s->size) return l1b_error("%s: %s section too long", r->mf->path, r->tag);
    if (r->crc != r->s->crc)
        return l1b_error("%s: %s section checksum mismatch (corrupt data)", r->mf->path, r->tag);
    return 0;
}

/* Read a section whole and check its CRC; want_size 0 = any. */
static uint8_t *load_section(const ModelIn *mf, const char *tag, uint64_t want_size)
{
    SecIn r;
    if (secin_open(&r, mf, tag, want_size) < 0) return NULL;
    uint8_t *b = malloc((size_t)r.s->size + 1);
    if (!b) { l1b_error("%s: out of memory reading %s section", mf->path, tag); return NULL; }
    if (secin_read(&r, b, (size_t)r.s->size) < 0 || secin_close(&r) < 0) {
        free(b);
        return NULL;
    }
    return b;
}

/* Check a section's CRC reading it in chunks, without keeping it. */
static int check_section(const ModelIn *mf, const char *tag, uint64_t want_size)
{
    SecIn r;
    if (secin_open(&r, mf, tag, want_size) < 0) return -1;
    uint8_t *buf = xmalloc(1 << 20);
    int rc = 0;
    while (rc == 0 && r.pos < r.s->size) {
        uint64_t left = r.s->size - r.pos;
        rc = secin_read(&r, buf, left < (1 << 20) ? (size_t)left : (1 << 20));
    }
    free(buf);
    return rc < 0 ? -1 : secin_close(&r);
}

static void *alloc_or_error(const ModelIn *mf, uint64_t n)
{
    void *p = n < SIZE_MAX ? malloc((size_t)n + 1) : NULL;
    if (!p) l1b_error("%s: out of memory (%llu bytes)", mf->path, (unsigned long long)n);
    return p;
}

/* ---- reading: the sections both kinds share ------------------------------ */

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
    for (int i = 40; i < CONF_SIZE; i++)
        if (b[i]) return l1b_error("%s: corrupt CONF section (reserved bytes not zero)", path);
    if (model_config_check(c) < 0) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", l1b_last_error());
        return l1b_error("%s: bad model shape: %s", path, msg);
    }
    return 0;
}

/* The training settings a resumed run relies on, within the ranges
 * l1b-train accepts: a checksummed but crafted file must not crash it. */
static int check_stat(const TrainState *s, const char *path)
{
    const char *bad = NULL;
    if (s->batch < 1 || s->batch > 65536) bad = "batch";
    else if (s->accum < 1 || s->accum > 65536) bad = "accum";
    else if (s->batching > 1) bad = "batching";
    else if (!(s->val_frac >= 0 && s->val_frac <= 0.9f)) bad = "val-frac";
    else if (!(s->lr >= 0 && s->lr <= 10) || !(s->min_lr >= 0 && s->min_lr <= 10)) bad = "lr";
    else if (!(s->wd >= 0 && s->wd <= 10) || !(s->clip >= 0 && s->clip <= 1e9f)) bad = "wd or clip";
    else if (s->total_steps < 1 || s->step > s->total_steps) bad = "steps";
    if (bad) return l1b_error("%s: corrupt training state (%s out of range)", path, bad);
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

/* CONF, TOKZ (checked against the vocabulary) and HIST. */
static int read_common(const ModelIn *mf, ModelConfig *cfg, uint8_t **tok_record, size_t *tok_record_size,
                       HistRow **hist_out, size_t *n_hist)
{
    const char *path = mf->path;
    uint8_t *conf = load_section(mf, "CONF", CONF_SIZE);
    if (!conf) return -1;
    int rc = decode_conf(conf, cfg, path);
    free(conf);
    if (rc < 0) return -1;
    if (!(*tok_record = load_section(mf, "TOKZ", 0))) return -1;
    *tok_record_size = (size_t)find(mf, "TOKZ")->size;
    Tokenizer tok;
    if (tok_record_read(&tok, *tok_record, *tok_record_size, path) < 0) return -1;
    uint32_t tv = tok.n_vocab;
    tok_free(&tok);
    if (tv != cfg->vocab)
        return l1b_error("%s: model vocabulary %u does not match its tokenizer's %u", path, cfg->vocab, tv);
    const Section *hs = find(mf, "HIST");
    if (!hs || hs->size < 8) return l1b_error("%s: model file lacks its HIST section", path);
    uint8_t *hist = load_section(mf, "HIST", 0);
    if (!hist) return -1;
    uint32_t cols = le32(hist), rows = le32(hist + 4);
    if (cols != H_COLS || hs->size != 8 + (uint64_t)rows * H_COLS * 8) {
        free(hist);
        return l1b_error("%s: corrupt HIST section", path);
    }
    *n_hist = rows;
    *hist_out = xmalloc((rows + 1) * sizeof **hist_out);
    for (uint32_t r = 0; r < rows; r++)
        for (int c = 0; c < H_COLS; c++)
            (*hist_out)[r].v[c] = bits_f64(le64(hist + 8 + ((size_t)r * H_COLS + c) * 8));
    free(hist);
    return 0;
}

/* ---- reading: training checkpoints ------------------------------------------ */

static const char *const train_tags[] = {"CONF", "TOKZ", "STAT", "HIST", "PARM", "ADAM"};

static int read_train(const ModelIn *mf, Checkpoint *ck, int flags)
{
    if (check_tags(mf, train_tags, 6) < 0) return -1;
    if (read_common(mf, &ck->cfg, &ck->tok_record, &ck->tok_record_size, &ck->hist, &ck->n_hist) < 0) return -1;
    TensorInfo info[N_TENSORS];
    ck->n_params = model_tensor_table(&ck->cfg, info);
    uint8_t *stat_b = load_section(mf, "STAT", STAT_SIZE);
    if (!stat_b) return -1;
    decode_stat(stat_b, &ck->st);
    free(stat_b);
    if (check_stat(&ck->st, mf->path) < 0) return -1;
    SecIn r;
    if (secin_open(&r, mf, "PARM", 4 * (uint64_t)ck->n_params) < 0) return -1;
    if (!(ck->params = alloc_or_error(mf, 4 * (uint64_t)ck->n_params))) return -1;
    if (secin_floats(&r, ck->params, ck->n_params) < 0 || secin_close(&r) < 0) return -1;
    if (flags & CKPT_WEIGHTS_ONLY) return check_section(mf, "ADAM", 8 * (uint64_t)ck->n_params);
    if (secin_open(&r, mf, "ADAM", 8 * (uint64_t)ck->n_params) < 0) return -1;
    if (!(ck->adam_m = alloc_or_error(mf, 4 * (uint64_t)ck->n_params))) return -1;
    if (!(ck->adam_v = alloc_or_error(mf, 4 * (uint64_t)ck->n_params))) return -1;
    if (secin_floats(&r, ck->adam_m, ck->n_params) < 0 || secin_floats(&r, ck->adam_v, ck->n_params) < 0 ||
        secin_close(&r) < 0)
        return -1;
    return 0;
}

/* Keep the first error's message across the clean-up. */
static int fail_keeping_message(void)
{
    char msg[512];
    snprintf(msg, sizeof msg, "%s", l1b_last_error());
    return l1b_error("%s", msg);
}

int ckpt_read(const char *path, Checkpoint *ck, int flags)
{
    memset(ck, 0, sizeof *ck);
    ModelIn mf;
    if (model_open(&mf, path) < 0) return -1;
    int rc;
    if (mf.kind != CKPT_KIND_TRAIN)
        rc = l1b_error("%s: an inference file, not a training checkpoint (l1b-ckpt convert --unpack makes one)",
                       path);
    else
        rc = read_train(&mf, ck, flags);
    model_close(&mf);
    if (rc < 0) {
        ckpt_free(ck);
        return fail_keeping_message();
    }
    return 0;
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

/* ---- reading: inference files ---------------------------------------------- */

static const char *const infer_tags_ternary[] = {"CONF", "TOKZ", "HIST", "FLTS", "TERN"};
static const char *const infer_tags_base3[] = {"CONF", "TOKZ", "HIST", "FLTS", "TRIT"};
static const char *const infer_tags_f32[] = {"CONF", "TOKZ", "HIST", "PARM"};

static const char *slice_name(const TensorInfo *ti, uint32_t l, char *buf, size_t n)
{
    snprintf(buf, n, "%s[%u]", ti->name, l);
    return buf;
}

/* 2 bits: codes 0..2 only; base 3: only the 243 bytes of five digits;
 * padding weights (columns >= cols) 0 (code or digit 1), or for 1 bit -1
 * (a clear bit). */
static int check_codes(const ModelIn *mf, const PackedTernary *p, const char *name)
{
    size_t row_bytes = ternary_row_bytes(p);
    const char *tag = tern_tag(p->packing);
    int pad = p->packing == PACK_SIGN ? -1 : 0;
    for (uint32_t r = 0; r < p->rows; r++) {
        const uint8_t *row = p->data + r * row_bytes;
        for (size_t i = 0; p->packing == PACK_2BIT && i < row_bytes; i++)
            if (row[i] & row[i] >> 1 & 0x55)
                return l1b_error("%s: %s section: invalid ternary code 3 in %s row %u", mf->path, tag, name, r);
        for (size_t i = 0; p->packing == PACK_BASE3 && i < row_bytes; i++)
            if (!ternary_base3_byte_valid(row[i]))
                return l1b_error("%s: %s section: invalid base-3 byte %u in %s row %u", mf->path, tag, row[i], name,
                                 r);
        for (uint32_t c = p->cols; c < ternary_padded_cols(p); c++)
            if (ternary_get(p, r, c) != pad)
                return l1b_error("%s: %s section: padding %s in %s row %u", mf->path, tag,
                                 p->packing == PACK_SIGN ? "bit not 0" : p->packing == PACK_2BIT ? "code not 1" : "digit not 1",
                                 name, r);
    }
    return 0;
}

/* The embedding table and the output head, as int8 rows under
 * CKPT_Q8_TABLES; every other float tensor as floats. */
static int is_q8_table(int i, int flags) { return (flags & CKPT_Q8_TABLES) && (i == T_TOK_EMB || i == T_HEAD); }

/* Float tensor i from the section being read, into pm->t[i] or, row by row
 * (the floats are never whole in memory), into pm->q8[i]. */
static int read_float_tensor(SecIn *r, PackedModel *pm, int i, const TensorInfo *ti, int flags)
{
    if (!is_q8_table(i, flags)) {
        if (!(pm->t[i] = alloc_or_error(r->mf, 4 * tensor_floats(ti)))) return -1;
        return secin_floats(r, pm->t[i], (size_t)tensor_floats(ti));
    }
    Q8Matrix *m = &pm->q8[i];
    q8_alloc(m, ti->layers * ti->rows, ti->cols);
    float *row = xmalloc(4 * (size_t)ti->cols + 1);
    int rc = 0;
    for (uint32_t k = 0; rc == 0 && k < m->rows; k++)
        if ((rc = secin_floats(r, row, ti->cols)) == 0) q8_set_row(m, k, row);
    free(row);
    return rc;
}

static int read_infer(const ModelIn *mf, PackedModel *pm, int flags)
{
    const char *path = mf->path;
    if (read_common(mf, &pm->cfg, &pm->tok_record, &pm->tok_record_size, &pm->hist, &pm->n_hist) < 0) return -1;
    const ModelConfig *c = &pm->cfg;
    TensorInfo info[N_TENSORS];
    size_t n_params = model_tensor_table(c, info);
    SecIn r;
    if (c->quant == QUANT_F32) {
        if (check_tags(mf, infer_tags_f32, 4) < 0) return -1;
        if (secin_open(&r, mf, "PARM", 4 * (uint64_t)n_params) < 0) return -1;
        for (int i = 0; i < N_TENSORS; i++)
            if (read_float_tensor(&r, pm, i, &info[i], flags) < 0) return -1;
        return secin_close(&r);
    }
    pm->packing = find(mf, "TRIT") && c->quant != QUANT_SIGN ? PACK_BASE3 : model_packing(c);
    if (check_tags(mf, pm->packing == PACK_BASE3 ? infer_tags_base3 : infer_tags_ternary, 5) < 0) return -1;
    if (secin_open(&r, mf, "FLTS", ckpt_flts_size(c)) < 0) return -1;
    for (int i = 0; i < N_TENSORS; i++)
        if (!info[i].ternary && read_float_tensor(&r, pm, i, &info[i], flags) < 0) return -1;
    if (secin_close(&r) < 0) return -1;

    const char *tag = tern_tag(pm->packing);
    if (secin_open(&r, mf, tag, ckpt_tern_size(c, pm->packing)) < 0) return -1;
    uint32_t S = n_slices(c, info);
    float *scales = xmalloc(4 * (size_t)S + 1);
    uint8_t pad[ALIGN];
    size_t n_pad = (size_t)(align_up(4 * (uint64_t)S) - 4 * (uint64_t)S);
    int rc = secin_floats(&r, scales, S) < 0 || secin_read(&r, pad, n_pad) < 0 ? -1 : 0;
    for (size_t i = 0; rc == 0 && i < n_pad; i++)
        if (pad[i]) rc = l1b_error("%s: %s section: non-zero padding after the scales", path, tag);
    for (int i = 0, s = 0; rc == 0 && i < N_TENSORS; i++) {
        if (!is_packed(c, &info[i])) continue;
        pm->packed[i] = xcalloc(info[i].layers, sizeof *pm->packed[i]);
        for (uint32_t l = 0; rc == 0 && l < info[i].layers; l++, s++) {
            char name[64];
            PackedTernary *p = &pm->packed[i][l];
            p->rows = info[i].rows;
            p->cols = info[i].cols;
            p->packing = pm->packing;
            p->n_blocks = (p->cols + ternary_block_cols(p->packing) - 1) / ternary_block_cols(p->packing);
            p->scale = scales[s];
            if (!(p->data = alloc_or_error(mf, slice_bytes(&info[i], p->packing))) ||
                secin_read(&r, p->data, (size_t)slice_bytes(&info[i], p->packing)) < 0)
                rc = -1;
            else if (!isfinite(p->scale) || p->scale < 0)
                rc = l1b_error("%s: %s section: scale of %s is %g", path, tag,
                               slice_name(&info[i], l, name, sizeof name), (double)p->scale);
            else
                rc = check_codes(mf, p, slice_name(&info[i], l, name, sizeof name));
        }
    }
    free(scales);
    return rc < 0 ? -1 : secin_close(&r);
}

void packed_model_free(PackedModel *pm)
{
    TensorInfo info[N_TENSORS];
    model_tensor_table(&pm->cfg, info);
    for (int i = 0; i < N_TENSORS; i++) {
        free(pm->t[i]);
        q8_free(&pm->q8[i]);
        if (pm->packed[i])
            for (uint32_t l = 0; l < info[i].layers; l++) ternary_free(&pm->packed[i][l]);
        free(pm->packed[i]);
    }
    free(pm->tok_record);
    free(pm->hist);
    memset(pm, 0, sizeof *pm);
}

/* ---- conversions -------------------------------------------------------- */

static void *copy_of(const void *p, size_t n)
{
    void *d = xmalloc(n + 1);
    if (n) memcpy(d, p, n);
    return d;
}

void ckpt_pack(const Checkpoint *ck, PackedModel *pm)
{
    memset(pm, 0, sizeof *pm);
    const ModelConfig *c = &ck->cfg;
    pm->cfg = *c;
    pm->tok_record = copy_of(ck->tok_record, ck->tok_record_size);
    pm->tok_record_size = ck->tok_record_size;
    pm->hist = copy_of(ck->hist, ck->n_hist * sizeof *ck->hist);
    pm->n_hist = ck->n_hist;
    pm->packing = model_packing(c);
    TensorInfo info[N_TENSORS];
    model_tensor_table(c, info);
    int8_t *q = xmalloc((size_t)c->hidden * c->dim + (size_t)c->dim * c->dim + 1);
    for (int i = 0; i < N_TENSORS; i++) {
        const float *w = ck->params + info[i].offset;
        if (is_packed(c, &info[i])) {
            size_t n = (size_t)info[i].rows * info[i].cols;
            pm->packed[i] = xcalloc(info[i].layers, sizeof *pm->packed[i]);
            for (uint32_t l = 0; l < info[i].layers; l++) {
                float scale = weight_quantise((QuantScheme)c->quant, w + l * n, n, q);
                ternary_pack(&pm->packed[i][l], q, info[i].rows, info[i].cols, scale, pm->packing);
            }
        } else if (!info[i].ternary || c->quant == QUANT_F32) {
            pm->t[i] = copy_of(w, (size_t)tensor_floats(&info[i]) * sizeof(float));
        }
    }
    free(q);
}

void packed_model_repack(PackedModel *pm, uint32_t packing)
{
    TensorInfo info[N_TENSORS];
    model_tensor_table(&pm->cfg, info);
    for (int i = 0; i < N_TENSORS; i++)
        if (pm->packed[i])
            for (uint32_t l = 0; l < info[i].layers; l++) ternary_repack(&pm->packed[i][l], packing);
    pm->packing = packing;
}

/* Shadow weights w (n) for the codes q with nonzero magnitudes a (or b, the
 * next float up, for the first j of them). */
static void fill_shadow(float *w, const int8_t *q, size_t n, float a, float b, uint64_t j)
{
    for (size_t i = 0; i < n; i++) {
        float m = j ? b : a;
        j -= q[i] && j;
        w[i] = q[i] > 0 ? m : q[i] < 0 ? -m : 0.0f;
    }
}

/* Shadow weights that quantise back to exactly q and scale: absmean's
 * scale is mean|w| = (k a + j (b - a)) / n over the k non-zero weights
 * (twn's divides by k instead),
 * which steps finer than the float spacing of the scale as j goes 0..k.
 * Each candidate is checked with the quantiser itself. Returns 0, or -1 if
 * no candidate reproduced the scale bit for bit (w then holds the nearest). */
static int fit_shadow(float *w, const int8_t *q, size_t n, float scale, QuantScheme scheme, int8_t *tmp)
{
    uint64_t k = 0;
    for (size_t i = 0; i < n; i++) k += q[i] != 0;
    if (k == 0) {
        memset(w, 0, n * sizeof *w);
        return scale == 0 ? 0 : -1;
    }
    /* the scale is mean |w| over all n weights (absmean, stochastic, sign),
     * or over the k kept ones (twn) */
    double target = (double)scale * (double)(scheme == QUANT_TWN ? k : n);
    float a = (float)(target / (double)k);
    while (a > 0 && (double)a * (double)k > target) a = nextafterf(a, 0);
    float b = nextafterf(a, INFINITY);
    double step = (double)b - (double)a;
    double jd = floor((target - (double)a * (double)k) / step + 0.5);
    uint64_t j0 = jd < 0 ? 0 : jd > (double)k ? k : (uint64_t)jd;
    for (int d = 0; d <= 6; d++) {
        int64_t j = (int64_t)j0 + (d % 2 ? -(d + 1) / 2 : d / 2);
        if (j < 0 || (uint64_t)j > k) continue;
        fill_shadow(w, q, n, a, b, (uint64_t)j);
        float s = weight_quantise(scheme, w, n, tmp);
        if (f32_bits(s) == f32_bits(scale) && !memcmp(tmp, q, n)) return 0;
    }
    fill_shadow(w, q, n, a, b, j0);
    return -1;
}

size_t ckpt_unpack(const PackedModel *pm, const TrainState *st, Checkpoint *ck)
{
    memset(ck, 0, sizeof *ck);
    const ModelConfig *c = &pm->cfg;
    ck->cfg = *c;
    ck->tok_record = copy_of(pm->tok_record, pm->tok_record_size);
    ck->tok_record_size = pm->tok_record_size;
    ck->hist = copy_of(pm->hist, pm->n_hist * sizeof *pm->hist);
    ck->n_hist = pm->n_hist;
    ck->st = *st;
    TensorInfo info[N_TENSORS];
    ck->n_params = model_tensor_table(c, info);
    ck->params = xcalloc(ck->n_params + 1, sizeof(float));
    ck->adam_m = xcalloc(ck->n_params + 1, sizeof(float));
    ck->adam_v = xcalloc(ck->n_params + 1, sizeof(float));
    size_t most = (size_t)c->hidden * c->dim > (size_t)c->dim * c->dim ? (size_t)c->hidden * c->dim
                                                                       : (size_t)c->dim * c->dim;
    int8_t *q = xmalloc(2 * most + 1), *tmp = q + most;
    size_t inexact = 0;
    for (int i = 0; i < N_TENSORS; i++) {
        float *w = ck->params + info[i].offset;
        if (!is_packed(c, &info[i])) {
            if (pm->t[i]) memcpy(w, pm->t[i], (size_t)tensor_floats(&info[i]) * sizeof(float));
            continue;
        }
        size_t n = (size_t)info[i].rows * info[i].cols;
        for (uint32_t l = 0; l < info[i].layers; l++) {
            const PackedTernary *p = &pm->packed[i][l];
            for (uint32_t r = 0; r < p->rows; r++)
                for (uint32_t col = 0; col < p->cols; col++) q[(size_t)r * p->cols + col] = (int8_t)ternary_get(p, r, col);
            if (fit_shadow(w + l * n, q, n, p->scale, (QuantScheme)c->quant, tmp) < 0) inexact++;
        }
    }
    free(q);
    return inexact;
}

/* ---- either kind ---------------------------------------------------------- */

int ckpt_kind(const char *path, uint32_t *kind)
{
    ModelIn mf;
    if (model_open(&mf, path) < 0) return -1;
    *kind = mf.kind;
    model_close(&mf);
    return 0;
}

int ckpt_read_packed(const char *path, PackedModel *pm, uint32_t *kind, TrainState *st, int flags)
{
    memset(pm, 0, sizeof *pm);
    if (st) memset(st, 0, sizeof *st);
    ModelIn mf;
    if (model_open(&mf, path) < 0) return -1;
    if (kind) *kind = mf.kind;
    int rc;
    if (mf.kind == CKPT_KIND_INFER) {
        rc = read_infer(&mf, pm, flags);
        model_close(&mf);
        if (rc < 0) {
            packed_model_free(pm);
            return fail_keeping_message();
        }
        return 0;
    }
    Checkpoint ck;
    memset(&ck, 0, sizeof ck);
    rc = read_train(&mf, &ck, CKPT_WEIGHTS_ONLY);
    model_close(&mf);
    if (rc < 0) {
        ckpt_free(&ck);
        return fail_keeping_message();
    }
    ckpt_pack(&ck, pm);
    if (st) *st = ck.st;
    ckpt_free(&ck);
    for (int i = 0; i < N_TENSORS; i++) {
        if (!is_q8_table(i, flags)) continue;
        TensorInfo info[N_TENSORS];
        model_tensor_table(&pm->cfg, info);
        q8_alloc(&pm->q8[i], info[i].layers * info[i].rows, info[i].cols);
        for (uint32_t k = 0; k < pm->q8[i].rows; k++) q8_set_row(&pm->q8[i], k, pm->t[i] + (size_t)k * info[i].cols);
        free(pm->t[i]);
        pm->t[i] = NULL;
    }
    return 0;
}

int tokenizer_from_file(const char *path, Tokenizer *t)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return l1b_error("%s: %s", path, strerror(errno));
    uint8_t magic[8];
    long long got = read_full(fd, magic, 8, path);
    close(fd);
    if (got != 8 || memcmp(magic, CKPT_MAGIC, 8)) return tok_load_file(path, t);
    /* only the tokenizer is needed, but checking the whole file keeps one
     * reading path */
    ModelIn mf;
    if (model_open(&mf, path) < 0) return -1;
    Checkpoint ck;
    PackedModel pm;
    memset(&ck, 0, sizeof ck);
    memset(&pm, 0, sizeof pm);
    int rc = mf.kind == CKPT_KIND_TRAIN ? read_train(&mf, &ck, CKPT_WEIGHTS_ONLY) : read_infer(&mf, &pm, 0);
    model_close(&mf);
    if (rc == 0)
        rc = mf.kind == CKPT_KIND_TRAIN ? tok_record_read(t, ck.tok_record, ck.tok_record_size, path)
                                        : tok_record_read(t, pm.tok_record, pm.tok_record_size, path);
    ckpt_free(&ck);
    packed_model_free(&pm);
    return rc < 0 ? fail_keeping_message() : 0;
}
