/* model files: the inference file (kind 2), pack and unpack, and the
 * checks that refuse damaged files */
#include <stdlib.h>
#include <unistd.h>

#include "convert.h"
#include "crc32.h"
#include "helpers.h"
#include "infer.h"
#include "inspect.h"
#include "model.h"
#include "test.h"
#include "util.h"

/* A random model (weights spread wider than at initialisation, so every
 * ternary value occurs) with a training state and a 3-row history, saved
 * as a training checkpoint. */
static char *make_checkpoint(Model *m, const ModelConfig *shape, uint64_t seed)
{
    ModelConfig c = *shape;
    Tokenizer tok;
    if (c.vocab > 257) {
        uint16_t merges[] = {'t', 'h', 'h', 'e', 257, 'e'};
        tok_init_bpe(&tok, merges, 3, "test");
    } else {
        tok_init_bytes(&tok);
    }
    c.vocab = tok.n_vocab;
    model_init(m, &c, 1);
    Rng r;
    rng_seed(&r, seed);
    model_init_weights(m, &r);
    for (size_t i = 0; i < m->n_params; i++) {
        m->params[i] += 0.2f * rng_normal(&r);
        m->m[i] = 0.01f * rng_normal(&r);
        m->v[i] = 0.001f * rng_float(&r);
    }
    size_t rec_size = tok_record_size(&tok);
    uint8_t *rec = xmalloc(rec_size);
    tok_record_write(&tok, rec);
    tok_free(&tok);
    HistRow hist[3];
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < H_COLS; k++) hist[i].v[k] = 10 * i + k + (k > H_TOKENS ? 0.5 : 0);
    hist[1].v[H_VAL_LOSS] = hist[1].v[H_VAL_PPL] = hist[1].v[H_VAL_BPB] = hist[1].v[H_VAL_ACC] = NAN;
    Checkpoint ck = ckpt_of_model(m, rec, rec_size);
    ck.st.step = 30;
    ck.st.total_steps = 100;
    ck.st.tokens_seen = 1234;
    ck.st.batch = 8;
    ck.st.accum = 1;
    ck.st.lr = 1e-3f;
    ck.st.val_frac = 0.1f;
    ck.hist = hist;
    ck.n_hist = 3;
    char *path = temp_file_with("", 0);
    plausible_train_state(&ck.st);
    if (ckpt_write(path, &ck) < 0) FAIL_AT("%s", l1b_last_error());
    free(rec);
    return path;
}

/* dim 16, 2 layers, hidden 40: rows shorter than a 64-weight block, so
 * every packed row has padding codes */
static const ModelConfig small = {16, 2, 2, 40, 8, 257, FFN_SWIGLU, QUANT_ABSMEAN};

static char *pack_to_temp(const char *ckpt)
{
    PackedModel pm;
    char *out = temp_file_with("", 0);
    if (packed_model_read(ckpt, &pm, NULL, NULL, 0) < 0 || packed_model_write(out, &pm) < 0)
        FAIL_AT("%s", l1b_last_error());
    packed_model_free(&pm);
    return out;
}

static void remove_temp(char *path)
{
    unlink(path);
    free(path);
}

/* l1b-ckpt convert --pack with these tables (TABLES_INT8: the default) */
static char *convert_to_temp(const char *ckpt, uint32_t tables)
{
    char *out = temp_file_with("", 0);
    ConvertOptions o = {.tables = tables};
    if (convert_file(ckpt, out, &o, NULL) < 0) FAIL_AT("%s", l1b_last_error());
    return out;
}

TEST(ckpt_inference_file_has_the_documented_size)
{
    Model m;
    char *ck = make_checkpoint(&m, &small, 1), *inf = pack_to_temp(ck);
    size_t n;
    unsigned char *b = slurp(inf, &n);
    /* header 32 + 5 table entries = 192 -> CONF at 192 (already aligned) */
    CHECK_EQ(le32(b + 12), CKPT_KIND_INFER);
    CHECK_EQ(le32(b + 16), 5);
    uint64_t flts = 4 * (2 * 257 * 16 + 2 * 2 * 16 + 16);
    /* 2 layers x 7 slices; rows x 1 block x 16 bytes; 14 scales = 56 -> 64 */
    uint64_t tern = 64 + 2 * (4 * 16 * 16 + 2 * 40 * 16 + 16 * 16);
    CHECK_EQ(packed_flts_size(&m.cfg, TABLES_F32), flts);
    CHECK_EQ(packed_tern_size(&m.cfg, PACK_2BIT), tern);
    const char *tags[] = {"CONF", "TOKZ", "HIST", "FLTS", "TERN"};
    uint64_t sizes[] = {64, 20, 8 + 3 * H_COLS * 8, flts, tern};
    uint64_t end = 192;
    for (int i = 0; i < 5; i++) {
        const unsigned char *e = b + 32 + 32 * i;
        CHECK(!memcmp(e, tags[i], 4));
        CHECK_EQ(le64(e + 8), (end + 63) / 64 * 64);
        CHECK_EQ(le64(e + 16), sizes[i]);
        end = le64(e + 8) + le64(e + 16);
    }
    CHECK_EQ(n, end);
    /* the first slice (wq[0]) right after the scales: its packing */
    PackedModel pm;
    CHECK_EQ(packed_model_read(ck, &pm, NULL, NULL, 0), 0);
    const unsigned char *tern_data = b + le64(b + 32 + 32 * 4 + 8);
    uint32_t scale_bits;
    memcpy(&scale_bits, &pm.packed[T_WQ][0].scale, 4);
    CHECK_EQ(le32(tern_data), scale_bits);
    CHECK(!memcmp(tern_data + 64, pm.packed[T_WQ][0].data, 16 * 16));
    /* weight (r, c) sits in byte 16r + c%16, bits 2*(c/16) */
    for (uint32_t r = 0; r < 16; r++)
        for (uint32_t c = 0; c < 16; c++)
            CHECK_EQ((tern_data[64 + 16 * r + c % 16] >> (2 * (c / 16)) & 3) - 1, ternary_get(&pm.packed[T_WQ][0], r, c));
    packed_model_free(&pm);
    free(b);
    model_free(&m);
    remove_temp(ck);
    remove_temp(inf);
}

TEST(ckpt_pack_unpack_pack_is_byte_identical)
{
    const ModelConfig shapes[] = {
        small,
        {16, 1, 2, 80, 8, 260, FFN_RELU2, QUANT_ABSMEAN},  /* BPE, no gate, 2 blocks a row */
        {16, 1, 2, 40, 8, 257, FFN_SWIGLU, QUANT_F32},
        {16, 1, 2, 80, 8, 257, FFN_SWIGLU, QUANT_SIGN},   /* 1 bit a weight */
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        Model m;
        char *ck = make_checkpoint(&m, &shapes[s], 7 + s), *a = pack_to_temp(ck);
        PackedModel pm;
        CHECK_EQ(packed_model_read(a, &pm, NULL, NULL, 0), 0);
        TrainState st;
        memset(&st, 0, sizeof st);
        st.batch = 4;
        plausible_train_state(&st);
        Checkpoint back;
        CHECK_EQ(ckpt_unpack(&pm, &st, &back), 0);
        char *un = temp_file_with("", 0);
        CHECK_EQ(ckpt_write(un, &back), 0);
        char *b = pack_to_temp(un);
        size_t na, nb;
        unsigned char *da = slurp(a, &na), *db = slurp(b, &nb);
        CHECK_EQ(na, nb);
        CHECK(na == nb && !memcmp(da, db, na));
        /* the unpacked checkpoint: fresh moments, the given state, the history */
        Checkpoint rd;
        CHECK_EQ(ckpt_read(un, &rd, 0), 0);
        CHECK_EQ(rd.st.batch, 4);
        CHECK_EQ(rd.st.step, 0);
        CHECK_EQ(rd.n_hist, 3);
        CHECK_NEAR(rd.hist[2].v[H_TRAIN_LOSS], 22.5, 0);
        for (size_t i = 0; i < rd.n_params; i++) CHECK(rd.adam_m[i] == 0 && rd.adam_v[i] == 0);
        ckpt_free(&rd);
        free(da);
        free(db);
        ckpt_free(&back);
        packed_model_free(&pm);
        model_free(&m);
        remove_temp(ck);
        remove_temp(a);
        remove_temp(un);
        remove_temp(b);
    }
}

TEST(ckpt_unpack_shadow_weights_quantise_back_exactly)
{
    Model m;
    char *ck = make_checkpoint(&m, &small, 3);
    PackedModel pm;
    CHECK_EQ(packed_model_read(ck, &pm, NULL, NULL, 0), 0);
    TrainState st;
    memset(&st, 0, sizeof st);
    Checkpoint back;
    CHECK_EQ(ckpt_unpack(&pm, &st, &back), 0);
    TensorInfo info[N_TENSORS];
    model_tensor_table(&pm.cfg, info);
    const TensorInfo *ti = &info[T_W_UP];
    size_t n = (size_t)ti->rows * ti->cols;
    int8_t q[40 * 16];
    for (uint32_t l = 0; l < 2; l++) {
        const float *w = back.params + ti->offset + l * n;
        const PackedTernary *p = &pm.packed[T_W_UP][l];
        float scale = weight_quantise(QUANT_ABSMEAN, w, n, q);
        CHECK(scale == p->scale);
        size_t nonzero = 0;
        for (uint32_t r = 0; r < ti->rows; r++)
            for (uint32_t c = 0; c < ti->cols; c++) {
                CHECK_EQ(q[r * ti->cols + c], ternary_get(p, r, c));
                nonzero += q[r * ti->cols + c] != 0;
            }
        /* |w| is the scale over the share of non-zero weights, to a float step */
        double want = (double)p->scale * (double)n / (double)nonzero;
        for (size_t i = 0; i < n; i++)
            if (q[i]) CHECK_NEAR(fabs(w[i]), want, want * 3e-7);
        /* plain q * scale would quantise to scale * nonzero / n: another model */
        CHECK(nonzero < n);
    }
    /* float tensors are copied */
    CHECK(!memcmp(back.params, m.params, 257 * 16 * sizeof(float)));
    ckpt_free(&back);
    packed_model_free(&pm);
    model_free(&m);
    remove_temp(ck);
}

TEST(ckpt_inference_file_gives_the_same_logits)
{
    const ModelConfig shapes[] = {small, {16, 1, 2, 80, 8, 257, FFN_RELU2, QUANT_ABSMEAN},
                                  {16, 2, 2, 40, 8, 257, FFN_SWIGLU, QUANT_F32},
                                  {16, 2, 2, 40, 8, 257, FFN_SWIGLU, QUANT_SIGN}};
    /* both ways: exact, and with int8 tables and cache (quantised from the
     * same floats whichever file they come from) */
    for (size_t s = 0; s < 8; s++) {
        Model m;
        char *ck = make_checkpoint(&m, &shapes[s / 2], 11), *inf = pack_to_temp(ck);
        int flags = s % 2 ? INFER_EXACT : 0;
        /* and the file convert --pack writes by default, int8 tables (an
         * f32 model's: floats), in the default mode */
        char *inf8 = convert_to_temp(ck, 0);
        Infer a, b, c;
        CHECK_EQ(infer_read(&a, ck, flags), 0);
        CHECK_EQ(infer_read(&b, inf, flags), 0);
        CHECK_EQ(infer_read(&c, flags ? inf : inf8, flags), 0);
        CHECK_EQ(a.weight_bytes, b.weight_bytes);
        CHECK_EQ(a.cache_bytes, b.cache_bytes);
        CHECK_EQ(a.weight_bytes, c.weight_bytes);
        int tokens[8] = {256, 72, 101, 108, 108, 111, 0, 255};
        for (uint32_t t = 0; t < 8; t++) {
            const float *la = infer_forward(&a, tokens[t], t);
            float keep[257];
            memcpy(keep, la, sizeof keep);
            const float *lb = infer_forward(&b, tokens[t], t);
            CHECK(!memcmp(keep, lb, sizeof keep));  /* bit for bit */
            const float *lc = infer_forward(&c, tokens[t], t);
            CHECK(!memcmp(keep, lc, sizeof keep));
        }
        infer_free(&a);
        infer_free(&b);
        infer_free(&c);
        model_free(&m);
        remove_temp(ck);
        remove_temp(inf);
        remove_temp(inf8);
    }
}

TEST(ckpt_kinds_are_told_apart)
{
    Model m;
    char *ck = make_checkpoint(&m, &small, 2), *inf = pack_to_temp(ck);
    uint32_t kind;
    CHECK_EQ(ckpt_kind(ck, &kind), 0);
    CHECK_EQ(kind, CKPT_KIND_TRAIN);
    CHECK_EQ(ckpt_kind(inf, &kind), 0);
    CHECK_EQ(kind, CKPT_KIND_INFER);
    Checkpoint c;
    CHECK_EQ(ckpt_read(inf, &c, 0), -1);  /* what l1b-train --resume uses */
    CHECK_ERR("convert --unpack");
    Tokenizer t;
    CHECK_EQ(tokenizer_from_file(inf, &t), 0);
    CHECK_EQ(t.n_vocab, 257);
    tok_free(&t);
    TrainState st;
    PackedModel pm;
    CHECK_EQ(packed_model_read(ck, &pm, &kind, &st, 0), 0);
    CHECK_EQ(st.step, 30);
    CHECK_EQ(st.tokens_seen, 1234);
    packed_model_free(&pm);
    model_free(&m);
    remove_temp(ck);
    remove_temp(inf);
}

TEST(convert_file_packs_unpacks_and_reports_without_printing)
{
    Model m;
    char *ck = make_checkpoint(&m, &small, 3), *inf = pack_to_temp(ck);
    char *out = temp_file_with("", 0), *un = temp_file_with("", 0);
    TrainOptions d;
    train_options_default(&d);
    d.lr = 2e-3f;
    d.steps = 50;
    ConvertOptions pack = {.tables = TABLES_F32}, unpack = {.unpack = 1, .settings = &d};
    ConvertReport r;
    /* --pack --tables f32: the file pack_to_temp writes, and the sizes */
    CHECK_EQ(convert_file(ck, out, &pack, &r), 0);
    size_t na, nb;
    unsigned char *da = slurp(inf, &na), *db = slurp(out, &nb);
    CHECK(na == nb && !memcmp(da, db, na));
    free(da);
    free(db);
    CHECK_EQ(r.out_bytes, na);
    CHECK(r.in_bytes > r.out_bytes);
    CHECK_EQ(r.inexact, 0);
    /* --unpack: step 0 and the settings given */
    CHECK_EQ(convert_file(inf, un, &unpack, &r), 0);
    Checkpoint rd;
    CHECK_EQ(ckpt_read(un, &rd, 0), 0);
    CHECK_EQ(rd.st.step, 0);
    CHECK_EQ(rd.st.total_steps, 50);
    CHECK(rd.st.lr == d.lr); /* not the constant: x87 keeps it wider than float */
    ckpt_free(&rd);
    /* refusals, each as an error message */
    CHECK_EQ(convert_file(inf, out, &pack, &r), -1);
    CHECK_ERR("already an inference file");
    CHECK_EQ(convert_file(ck, out, &unpack, &r), -1);
    CHECK_ERR("already a training checkpoint");
    ConvertOptions base3 = {.packing = PACK_BASE3, .tables = TABLES_F32};
    CHECK_EQ(convert_file(inf, out, &base3, &r), 0);  /* repacked */
    CHECK_EQ(convert_file(out, un, &base3, &r), -1);
    CHECK_ERR("already an inference file");
    /* int8 tables (the default) from either kind: the same bytes; then
     * int8 is refused again, f32 gives back the float-table file's size */
    ConvertOptions int8 = {.unpack = 0};
    char *a = temp_file_with("", 0), *b = temp_file_with("", 0);
    size_t f32_bytes = na;
    CHECK_EQ(convert_file(ck, a, &int8, &r), 0);
    CHECK(r.out_bytes < f32_bytes);
    CHECK_EQ(convert_file(inf, b, &int8, &r), 0);
    da = slurp(a, &na);
    db = slurp(b, &nb);
    CHECK(na == nb && !memcmp(da, db, na));
    free(da);
    free(db);
    CHECK_EQ(convert_file(a, out, &int8, &r), -1);
    CHECK_ERR("already an inference file");
    CHECK_EQ(convert_file(a, out, &pack, &r), 0);
    CHECK_EQ(r.out_bytes, f32_bytes);
    remove_temp(a);
    remove_temp(b);
    model_free(&m);
    remove_temp(ck);
    remove_temp(inf);
    remove_temp(out);
    remove_temp(un);
}

/* ---- damaged files ------------------------------------------------------- */

static int verify_bytes(const unsigned char *b, size_t n)
{
    char *p = temp_file_with(b, n);
    int rc = inspect_verify(p);
    remove_temp(p);
    return rc;
}

/* Re-seal a section's CRC and the header CRC after editing it. */
static void reseal(unsigned char *b, int section)
{
    unsigned char *e = b + 32 + 32 * section;
    put32(e + 24, crc32_update(0, b + le64(e + 8), (size_t)le64(e + 16)));
    uint32_t n = le32(b + 16);
    put32(b + 20, crc32_update(crc32_update(0, b, 20), b + 32, 32 * n));
}

static void check_every_byte_matters(const char *path, size_t stride)
{
    size_t n;
    unsigned char *b = slurp(path, &n);
    CHECK_EQ(verify_bytes(b, n), 0);
    size_t tried = 0, missed = 0;
    for (size_t off = 0; off < n; off += off < 512 ? 1 : stride) {
        b[off] ^= 0x10;
        if (verify_bytes(b, n) == 0) {
            missed++;
            FAIL_AT("%s: flipped byte at %zu not noticed", path, off);
        }
        b[off] ^= 0x10;
        tried++;
    }
    CHECK(tried > 200);
    CHECK_EQ(missed, 0);
    free(b);
}

/* The int8 tables of convert --pack: the rows act_quant_int8 makes from
 * the checkpoint's floats, in QTAB as l1b-format(5) lays it out. */
TEST(ckpt_int8_tables_have_the_documented_layout)
{
    Model m;
    char *ck = make_checkpoint(&m, &small, 1), *inf = convert_to_temp(ck, TABLES_INT8);
    size_t n;
    unsigned char *b = slurp(inf, &n);
    CHECK_EQ(le32(b + 16), 6);
    /* FLTS: the norms only; QTAB: 2 x 257 scales = 2056 -> 2112, then
     * 2 x 257 x 16 values */
    uint64_t flts = 4 * (2 * 2 * 16 + 16), qtab = 2112 + 2 * 257 * 16;
    uint64_t tern = 64 + 2 * (4 * 16 * 16 + 2 * 40 * 16 + 16 * 16);
    CHECK_EQ(packed_flts_size(&m.cfg, TABLES_INT8), flts);
    CHECK_EQ(packed_qtab_size(&m.cfg), qtab);
    const char *tags[] = {"CONF", "TOKZ", "HIST", "FLTS", "QTAB", "TERN"};
    uint64_t sizes[] = {64, 20, 8 + 3 * H_COLS * 8, flts, qtab, tern};
    uint64_t end = 224;
    for (int i = 0; i < 6; i++) {
        const unsigned char *e = b + 32 + 32 * i;
        CHECK(!memcmp(e, tags[i], 4));
        CHECK_EQ(le64(e + 8), (end + 63) / 64 * 64);
        CHECK_EQ(le64(e + 16), sizes[i]);
        end = le64(e + 8) + le64(e + 16);
    }
    CHECK_EQ(n, end);
    /* FLTS starts with attn_norm */
    const unsigned char *f = b + le64(b + 32 + 32 * 3 + 8), *q = b + le64(b + 32 + 32 * 4 + 8);
    CHECK_EQ(le32(f), f32_bits(m.params[m.info[T_ATTN_NORM].offset]));
    /* tok_emb row 5 and head row 256 */
    Q8Matrix row;
    q8_init(&row, 1, 16);
    q8_set_row(&row, 0, m.params + m.info[T_TOK_EMB].offset + 5 * 16);
    CHECK_EQ(le32(q + 4 * 5), f32_bits(row.scale[0]));
    CHECK(!memcmp(q + 2112 + 5 * 16, row.q, 16));
    q8_set_row(&row, 0, m.params + m.info[T_HEAD].offset + 256 * 16);
    CHECK_EQ(le32(q + 4 * (257 + 256)), f32_bits(row.scale[0]));
    CHECK(!memcmp(q + 2112 + 257 * 16 + 256 * 16, row.q, 16));
    q8_free(&row);
    for (size_t i = 2056; i < 2112; i++) CHECK_EQ(q[i], 0);
    /* read as stored, as int8 rows, and not as floats */
    PackedModel pm;
    CHECK_EQ(packed_model_read(inf, &pm, NULL, NULL, PACKED_STORED_TABLES), 0);
    CHECK_EQ(pm.tables, TABLES_INT8);
    CHECK(pm.t[T_TOK_EMB] == NULL && pm.q8[T_HEAD].rows == 257);
    CHECK(pm.t[T_FINAL_NORM] != NULL);
    packed_model_free(&pm);
    CHECK_EQ(packed_model_read(inf, &pm, NULL, NULL, 0), -1);
    CHECK_ERR("the embedding and output head are int8 rows in this file; float tables (--exact) need a file "
              "packed with --tables f32");
    Infer x;
    CHECK_EQ(infer_read(&x, inf, INFER_EXACT), -1);
    CHECK_ERR("need a file packed with --tables f32");
    CHECK_EQ(infer_read(&x, inf, 0), 0);
    CHECK_EQ(x.emb_q.rows, 257);
    infer_free(&x);
    /* every byte is covered */
    check_every_byte_matters(inf, 7);
    free(b);
    model_free(&m);
    remove_temp(ck);
    remove_temp(inf);
}

/* QTAB with good checksums but bad contents: scales that are not finite
 * and positive, the value -128, padding that is not zero. */
TEST(ckpt_int8_tables_are_checked)
{
    Model m;
    char *ck = make_checkpoint(&m, &small, 6), *inf = convert_to_temp(ck, TABLES_INT8);
    size_t n;
    unsigned char *orig = slurp(inf, &n);
    size_t at = (size_t)le64(orig + 32 + 32 * 4 + 8);
    struct {
        size_t off;
        int bits;  /* 32: a float's bit pattern, 8: a byte */
        uint32_t value;
        const char *why;
    } cases[] = {
        {4 * 3, 32, 0x00000000u, "QTAB section: scale of tok_emb row 3 is 0"},
        {4 * (257 + 256), 32, 0x7fc00000u, "QTAB section: scale of head row 256 is nan"},
        {0, 32, 0xff800000u, "QTAB section: scale of tok_emb row 0 is -inf"},
        {4 * 257, 32, 0xbf800000u, "QTAB section: scale of head row 0 is -1"},
        /* finite, but 127 x scale is not: no row of floats gives it */
        {4 * 2, 32, 0x7f7fffffu, "QTAB section: scale of tok_emb row 2 is 3.40282e+38"},
        {2112 + 257 * 16 + 2 * 16 + 5, 8, 0x80, "QTAB section: value -128 in head row 2 (int8 rows hold -127 to 127)"},
        {2060, 8, 1, "QTAB section: non-zero padding after the scales"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned char *b = xmalloc(n);
        memcpy(b, orig, n);
        if (cases[i].bits == 32) put32(b + at + cases[i].off, cases[i].value);
        else b[at + cases[i].off] = (unsigned char)cases[i].value;
        char *p = temp_file_with(b, n);
        PackedModel pm;
        /* unsealed: damage */
        CHECK_EQ(packed_model_read(p, &pm, NULL, NULL, PACKED_STORED_TABLES), -1);
        CHECK_ERR("QTAB section checksum mismatch");
        remove_temp(p);
        reseal(b, 4);
        p = temp_file_with(b, n);
        CHECK_EQ(packed_model_read(p, &pm, NULL, NULL, PACKED_STORED_TABLES), -1);
        CHECK_ERR(cases[i].why);
        CHECK_EQ(packed_model_read(p, &pm, NULL, NULL, PACKED_Q8_TABLES), -1);
        CHECK_ERR(cases[i].why);
        CHECK_EQ(packed_model_read(p, &pm, NULL, NULL, 0), -1);
        CHECK_ERR(cases[i].why);
        CHECK_EQ(inspect_verify(p), -1);
        CHECK_ERR(cases[i].why);
        remove_temp(p);
        free(b);
    }
    /* sections of the wrong size or out of place, in files whose container
     * is sound: QTAB 16 bytes short, FLTS with the tables as well as QTAB,
     * QTAB in a float model's file */
    {
        Container f;
        CHECK_EQ(container_open(&f, inf), 0);
        const char *tags[] = {"CONF", "TOKZ", "HIST", "FLTS", "QTAB", "TERN"};
        uint8_t *sec[6];
        ContainerPart parts[6];
        for (int i = 0; i < 6; i++) {
            sec[i] = container_load(&f, tags[i], 0);
            CHECK(sec[i] != NULL);
            parts[i] = (ContainerPart){tags[i], sec[i], (size_t)container_find(&f, tags[i])->size};
        }
        container_close(&f);
        char *p = temp_file_with("", 0);
        PackedModel pm;
        parts[4].size -= 16;
        CHECK_EQ(container_write(p, CKPT_KIND_INFER, parts, 6), 0);
        CHECK_EQ(packed_model_read(p, &pm, NULL, NULL, PACKED_STORED_TABLES), -1);
        CHECK_ERR("QTAB section is 10320 bytes, expected 10336");
        parts[4].size += 16;
        uint8_t *big = xcalloc(4 * (2 * 257 * 16 + 2 * 2 * 16 + 16), 1);
        parts[3] = (ContainerPart){"FLTS", big, 4 * (2 * 257 * 16 + 2 * 2 * 16 + 16)};
        CHECK_EQ(container_write(p, CKPT_KIND_INFER, parts, 6), 0);
        CHECK_EQ(packed_model_read(p, &pm, NULL, NULL, PACKED_Q8_TABLES), -1);
        CHECK_ERR("FLTS section is 33216 bytes, expected 320");
        /* without QTAB such an FLTS is a float-table file again */
        parts[4] = parts[5];
        CHECK_EQ(container_write(p, CKPT_KIND_INFER, parts, 5), 0);
        CHECK_EQ(packed_model_read(p, &pm, NULL, NULL, 0), 0);
        CHECK_EQ(pm.tables, TABLES_F32);
        packed_model_free(&pm);
        free(big);
        /* a float model's file with a QTAB */
        ModelConfig c32 = small;
        c32.quant = QUANT_F32;
        Model m32;
        char *ck32 = make_checkpoint(&m32, &c32, 6), *inf32 = convert_to_temp(ck32, 0);
        CHECK_EQ(container_open(&f, inf32), 0);
        const char *tags32[] = {"CONF", "TOKZ", "HIST", "PARM"};
        uint8_t *sec32[4];
        ContainerPart parts32[5];
        for (int i = 0; i < 4; i++) {
            sec32[i] = container_load(&f, tags32[i], 0);
            parts32[i] = (ContainerPart){tags32[i], sec32[i], (size_t)container_find(&f, tags32[i])->size};
        }
        container_close(&f);
        parts32[4] = (ContainerPart){"QTAB", sec[4], (size_t)packed_qtab_size(&small)};
        CHECK_EQ(container_write(p, CKPT_KIND_INFER, parts32, 5), 0);
        CHECK_EQ(inspect_verify(p), -1);
        CHECK_ERR("unexpected section QTAB");
        for (int i = 0; i < 4; i++) free(sec32[i]);
        for (int i = 0; i < 6; i++) free(sec[i]);
        model_free(&m32);
        remove_temp(ck32);
        remove_temp(inf32);
        remove_temp(p);
    }
    /* the smallest scale act_quant_int8 makes (an all-zero row) is fine */
    unsigned char *b = xmalloc(n);
    memcpy(b, orig, n);
    put32(b + at + 4 * 9, f32_bits(1e-5f / 127.0f));
    memset(b + at + 2112 + 9 * 16, 0, 16);
    reseal(b, 4);
    char *p = temp_file_with(b, n);
    CHECK_EQ(inspect_verify(p), 0);
    remove_temp(p);
    free(b);
    free(orig);
    model_free(&m);
    remove_temp(ck);
    remove_temp(inf);
}

TEST(ckpt_verify_notices_a_flipped_byte_anywhere)
{
    Model m;
    char *ck = make_checkpoint(&m, &small, 4), *inf = pack_to_temp(ck);
    check_every_byte_matters(inf, 13);
    check_every_byte_matters(ck, 211);
    model_free(&m);
    remove_temp(ck);
    remove_temp(inf);
}

TEST(ckpt_truncated_files_are_refused)
{
    Model m;
    char *ck = make_checkpoint(&m, &small, 5), *inf = pack_to_temp(ck);
    const char *files[] = {ck, inf};
    for (int f = 0; f < 2; f++) {
        size_t n;
        unsigned char *b = slurp(files[f], &n);
        for (size_t len = 0; len < n; len += len < 400 ? 1 : 331) {
            if (verify_bytes(b, len) == 0) FAIL_AT("%s cut to %zu bytes accepted", files[f], len);
            else if (len >= 8 && !strstr(l1b_last_error(), "truncated") && !strstr(l1b_last_error(), "corrupt"))
                FAIL_AT("cut to %zu: unexpected message %s", len, l1b_last_error());
        }
        /* and one byte too many */
        unsigned char *longer = xmalloc(n + 1);
        memcpy(longer, b, n);
        longer[n] = 0;
        CHECK_EQ(verify_bytes(longer, n + 1), -1);
        CHECK_ERR("after the last section");
        free(longer);
        free(b);
    }
    model_free(&m);
    remove_temp(ck);
    remove_temp(inf);
}

TEST(ckpt_sign_models_pack_one_bit_a_weight)
{
    ModelConfig c = small;
    c.quant = QUANT_SIGN;
    Model m;
    char *ck = make_checkpoint(&m, &c, 4), *inf = pack_to_temp(ck);
    /* as above with 8 bytes a block instead of 16 */
    CHECK_EQ(packed_tern_size(&c, PACK_SIGN), 64 + 2 * (4 * 16 * 8 + 2 * 40 * 8 + 16 * 8));
    size_t n;
    unsigned char *b = slurp(inf, &n);
    unsigned char *tern = b + le64(b + 32 + 32 * 4 + 8);
    PackedModel pm;
    CHECK_EQ(packed_model_read(inf, &pm, NULL, NULL, 0), 0);
    CHECK_EQ(pm.packed[T_WQ][0].packing, PACK_SIGN);
    CHECK_EQ(pm.packing, PACK_SIGN);
    CHECK(!memcmp(tern + 64, pm.packed[T_WQ][0].data, 16 * 8));
    for (uint32_t r = 0; r < 16; r++)
        for (uint32_t col = 0; col < 16; col++) CHECK(ternary_get(&pm.packed[T_WQ][0], r, col) != 0);
    packed_model_free(&pm);
    /* a set padding bit (column 16 of a 16-wide row: byte 2, bit 0) is refused */
    tern[64 + 2] |= 1;
    reseal(b, 4);
    CHECK_EQ(verify_bytes(b, n), -1);
    CHECK_ERR("padding bit not 0 in wq[0] row 0");
    free(b);
    model_free(&m);
    remove_temp(ck);
    remove_temp(inf);
}

TEST(ckpt_invalid_ternary_codes_are_refused_even_with_good_checksums)
{
    Model m;
    char *ck = make_checkpoint(&m, &small, 6), *inf = pack_to_temp(ck);
    size_t n;
    unsigned char *b = slurp(inf, &n);
    unsigned char *tern = b + le64(b + 32 + 32 * 4 + 8);
    /* code 3 in wq[0], row 2 */
    tern[64 + 16 * 2 + 5] |= 3 << 2;
    reseal(b, 4);
    CHECK_EQ(verify_bytes(b, n), -1);
    CHECK_ERR("invalid ternary code 3 in wq[0] row 2");
    free(b);
    /* a padding code that is not 1: column 16 of a 16-wide row */
    b = slurp(inf, &n);
    tern = b + le64(b + 32 + 32 * 4 + 8);
    tern[64] ^= 1 << 2;  /* code 1 -> 0 */
    reseal(b, 4);
    CHECK_EQ(verify_bytes(b, n), -1);
    CHECK_ERR("padding code not 1 in wq[0] row 0");
    free(b);
    /* a negative scale */
    b = slurp(inf, &n);
    tern = b + le64(b + 32 + 32 * 4 + 8);
    tern[3] |= 0x80;
    reseal(b, 4);
    CHECK_EQ(verify_bytes(b, n), -1);
    CHECK_ERR("scale of wq[0]");
    free(b);
    model_free(&m);
    remove_temp(ck);
    remove_temp(inf);
}

/* --bits 1.6: a TRI5 section in place of TERN, the same weights, rows
 * dense (ceil(cols / 5) bytes, weights 5i..5i+4 in byte i), every byte
 * checked; bytes that are not five digits and padding digits other than
 * 1 are refused */
TEST(ckpt_base3_inference_files_hold_a_tri5_section)
{
    Model m;
    char *ck = make_checkpoint(&m, &small, 10), *inf = temp_file_with("", 0);
    PackedModel pm, back;
    CHECK_EQ(packed_model_read(ck, &pm, NULL, NULL, 0), 0);
    CHECK_EQ(pm.packing, PACK_2BIT);
    packed_model_repack(&pm, PACK_BASE3);
    CHECK_EQ(packed_model_write(inf, &pm), 0);
    /* 2 layers: q k v o (16 rows of 16: 4 bytes each), gate up (40 rows of
     * 16), down (16 rows of 40: 8 bytes each) */
    CHECK_EQ(packed_tern_size(&small, PACK_BASE3), 64 + 2 * ((4 * 16 + 2 * 40) * 4 + 16 * 8));
    size_t n;
    unsigned char *b = slurp(inf, &n);
    CHECK(!memcmp(b + 32 + 32 * 4, "TRI5", 4));
    CHECK_EQ(le64(b + 32 + 32 * 4 + 16), packed_tern_size(&small, PACK_BASE3));
    unsigned char *tri = b + le64(b + 32 + 32 * 4 + 8);
    /* wq[0] first: row 1, byte 2 holds weights 10..14, the first the
     * highest digit, stored as ceil(256 v / 243) */
    unsigned v = 0;
    for (uint32_t c = 10; c < 15; c++) v = 3 * v + (unsigned)(ternary_get(&pm.packed[T_WQ][0], 1, c) + 1);
    CHECK_EQ(tri[64 + 4 + 2], (v * 256 + 242) / 243);
    CHECK_EQ(packed_model_read(inf, &back, NULL, NULL, 0), 0);
    CHECK_EQ(back.packing, PACK_BASE3);
    for (int t = 0; t < N_TENSORS; t++)
        for (uint32_t l = 0; back.packed[t] && l < 2; l++) {
            const PackedTernary *x = &back.packed[t][l], *y = &pm.packed[t][l];
            CHECK_EQ(x->scale, y->scale);
            CHECK(!memcmp(x->data, y->data, ternary_bytes(y)));  /* the padding too */
        }
    packed_model_free(&back);
    check_every_byte_matters(inf, 7);
    /* byte 1 is no byte of five digits (0 -> 0, 1 -> 2) */
    unsigned char keep = tri[64 + 4 * 2 + 1];
    tri[64 + 4 * 2 + 1] = 1;
    reseal(b, 4);
    CHECK_EQ(verify_bytes(b, n), -1);
    CHECK_ERR("TRI5 section: wq[0] row 2 holds a byte that is not five base-3 digits, or padding digits not 1");
    tri[64 + 4 * 2 + 1] = keep;
    /* byte 3 of a 16-wide row holds weight 15 and padding: the padding's
     * first digit 0 */
    unsigned c15 = (unsigned)(ternary_get(&pm.packed[T_WQ][0], 0, 15) + 1);
    v = 81 * c15 + 0 * 27 + 9 + 3 + 1;
    tri[64 + 3] = (unsigned char)((v * 256 + 242) / 243);
    reseal(b, 4);
    CHECK_EQ(verify_bytes(b, n), -1);
    CHECK_ERR("TRI5 section: wq[0] row 0 holds a byte that is not five base-3 digits, or padding digits not 1");
    free(b);
    packed_model_free(&pm);
    model_free(&m);
    remove_temp(ck);
    remove_temp(inf);
}

/* Files written before TRI5 kept base 3 in a TRIT section: the rows in
 * their blocks of 80 weights, as in memory. They still read, to the same
 * model, and their codes are checked. */
TEST(ckpt_base3_files_of_trit_sections_still_read)
{
    Model m;
    char *ck = make_checkpoint(&m, &small, 10), *inf = temp_file_with("", 0), *old = temp_file_with("", 0);
    PackedModel pm, back;
    CHECK_EQ(packed_model_read(ck, &pm, NULL, NULL, PACKED_Q8_TABLES), 0);
    packed_model_repack(&pm, PACK_BASE3);
    CHECK_EQ(packed_model_write(inf, &pm), 0);
    /* the same file with TRIT: the scales, their padding, the blocks */
    Container f;
    CHECK_EQ(container_open(&f, inf), 0);
    ContainerPart parts[6];
    uint8_t *loaded[6];
    int n = 0;
    uint64_t S = 4 * 2 * 7, at = container_align(S);  /* 7 matrices, 2 layers */
    uint8_t *trit = xcalloc(at + 2 * (4 * 16 + 2 * 40 + 16) * 16, 1);
    for (uint32_t k = 0; k < f.n; k++) {
        char tag[5] = {0};
        memcpy(tag, f.sec[k].tag, 4);
        loaded[n] = container_load(&f, tag, 0);
        CHECK(loaded[n] != NULL);
        if (!strcmp(tag, "TRI5")) {
            memcpy(trit, loaded[n], S);
            for (int t = 0; t < N_TENSORS; t++)
                for (uint32_t l = 0; pm.packed[t] && l < 2; l++) {
                    memcpy(trit + at, pm.packed[t][l].data, ternary_bytes(&pm.packed[t][l]));
                    at += ternary_bytes(&pm.packed[t][l]);
                }
            parts[n] = (ContainerPart){"TRIT", trit, at};
        } else {
            parts[n] = (ContainerPart){f.sec[k].tag, loaded[n], f.sec[k].size};
        }
        n++;
    }
    container_close(&f);
    char tags[6][5];
    for (int k = 0; k < n; k++) {
        memcpy(tags[k], parts[k].tag, 4);
        tags[k][4] = 0;
        parts[k].tag = tags[k];
    }
    CHECK_EQ(container_write(old, CKPT_KIND_INFER, parts, n), 0);
    CHECK_EQ(packed_model_read(old, &back, NULL, NULL, PACKED_Q8_TABLES), 0);
    CHECK_EQ(back.packing, PACK_BASE3);
    for (int t = 0; t < N_TENSORS; t++)
        for (uint32_t l = 0; back.packed[t] && l < 2; l++)
            CHECK(!memcmp(back.packed[t][l].data, pm.packed[t][l].data, ternary_bytes(&pm.packed[t][l])));
    packed_model_free(&back);
    check_every_byte_matters(old, 7);
    /* a padding digit other than 1: column 16 of a 16-wide row is digit 1
     * of byte 0 of wq[0] row 0 */
    size_t nb;
    unsigned char *b = slurp(old, &nb);
    unsigned char *blk = b + le64(b + 32 + 32 * 5 + 8);
    CHECK(!memcmp(b + 32 + 32 * 5, "TRIT", 4));
    unsigned c0 = (unsigned)(ternary_get(&pm.packed[T_WQ][0], 0, 0) + 1), v = 81 * c0 + 0 * 27 + 9 + 3 + 1;
    blk[64] = (unsigned char)((v * 256 + 242) / 243);
    reseal(b, 5);
    CHECK_EQ(verify_bytes(b, nb), -1);
    CHECK_ERR("TRIT section: padding digit not 1 in wq[0] row 0");
    free(b);
    for (int k = 0; k < n; k++) free(loaded[k]);
    free(trit);
    packed_model_free(&pm);
    model_free(&m);
    remove_temp(ck);
    remove_temp(inf);
    remove_temp(old);
}

TEST(ckpt_absurd_offsets_and_shapes_are_refused)
{
    Model m;
    char *ck = make_checkpoint(&m, &small, 8);
    size_t n;
    unsigned char *b = slurp(ck, &n);
    /* a section size near 2^64: offset + size would overflow */
    unsigned char *c = xmalloc(n);
    memcpy(c, b, n);
    put64(c + 32 + 32 * 4 + 16, UINT64_MAX - 100);
    reseal(c, 0);  /* any section: the header CRC is what matters */
    CHECK_EQ(verify_bytes(c, n), -1);
    CHECK_ERR("truncated model file");
    /* an offset far past the end */
    memcpy(c, b, n);
    put64(c + 32 + 32 * 5 + 8, UINT64_MAX - 63);
    reseal(c, 0);
    CHECK_EQ(verify_bytes(c, n), -1);
    /* a shape whose parameters would not fit: caught before any allocation */
    memcpy(c, b, n);
    unsigned char *conf = c + le64(c + 32 + 8);
    put32(conf, 16384);       /* dim */
    put32(conf + 4, 256);     /* layers */
    put32(conf + 12, 65536);  /* hidden */
    reseal(c, 0);
    CHECK_EQ(verify_bytes(c, n), -1);
    CHECK(strstr(l1b_last_error(), "too large") || strstr(l1b_last_error(), "expected"));
    /* 65535 sections */
    memcpy(c, b, n);
    put32(c + 16, 65535);
    CHECK_EQ(verify_bytes(c, n), -1);
    CHECK_ERR("sections");
    /* wrong version, wrong kind (header CRC fixed) */
    memcpy(c, b, n);
    put32(c + 8, 2);
    reseal(c, 0);
    CHECK_EQ(verify_bytes(c, n), -1);
    CHECK_ERR("version 2 not supported");
    memcpy(c, b, n);
    put32(c + 12, 7);
    reseal(c, 0);
    CHECK_EQ(verify_bytes(c, n), -1);
    CHECK_ERR("unknown model file kind 7");
    /* the two reserved words of each table entry */
    for (int e = 0; e < 6; e++)
        for (int at = 4; at <= 28; at += 24) {
            memcpy(c, b, n);
            c[32 + 32 * e + at + e % 4] = 0x10;
            reseal(c, 0);
            CHECK_EQ(verify_bytes(c, n), -1);
            char want[64];
            snprintf(want, sizeof want, "reserved bytes of the %.4s entry not zero", (const char *)c + 32 + 32 * e);
            CHECK_ERR(want);
        }
    free(c);
    free(b);
    model_free(&m);
    remove_temp(ck);
}

TEST(ckpt_verify_checks_weights_and_state)
{
    Model m;
    char *ck = make_checkpoint(&m, &small, 9);
    CHECK_EQ(inspect_verify(ck), 0);
    size_t n;
    unsigned char *b = slurp(ck, &n);
    /* a NaN weight in wk, with a good checksum */
    unsigned char *parm = b + le64(b + 32 + 32 * 4 + 8);
    TensorInfo info[N_TENSORS];
    model_tensor_table(&m.cfg, info);
    put32(parm + 4 * (info[T_WK].offset + 5), 0x7fc00000);
    reseal(b, 4);
    CHECK_EQ(verify_bytes(b, n), -1);
    CHECK_ERR("PARM tensor wk holds a non-finite value");
    free(b);
    /* batch 0 in STAT */
    b = slurp(ck, &n);
    put32(b + le64(b + 32 + 32 * 2 + 8) + 76, 0);
    reseal(b, 2);
    CHECK_EQ(verify_bytes(b, n), -1);
    CHECK_ERR("corrupt training state (batch out of range)");
    free(b);
    /* a random number state of 0: xorshift would draw 0 for ever */
    b = slurp(ck, &n);
    put64(b + le64(b + 32 + 32 * 2 + 8) + 24, 0);
    reseal(b, 2);
    CHECK_EQ(verify_bytes(b, n), -1);
    CHECK_ERR("corrupt training state (random number state out of range)");
    free(b);
    CHECK_EQ(inspect_verify("/nonexistent/model"), -1);
    CHECK_ERR("No such file");
    char *junk = temp_file_with("hello, world", 12);
    CHECK_EQ(inspect_verify(junk), -1);
    CHECK_ERR("bad magic");
    remove_temp(junk);
    model_free(&m);
    remove_temp(ck);
}

/* Every reader refuses non-finite weights and moments on its own, not only
 * verify; a section whose CRC is also wrong is reported as damaged. */
TEST(ckpt_readers_refuse_non_finite_weights_and_moments)
{
    Model m;
    char *ck = make_checkpoint(&m, &small, 11);
    TensorInfo info[N_TENSORS];
    size_t n_params = model_tensor_table(&m.cfg, info), n;
    unsigned char *b = slurp(ck, &n);
    unsigned char *parm = b + le64(b + 32 + 32 * 4 + 8), *adam = b + le64(b + 32 + 32 * 5 + 8);
    Checkpoint c;
    PackedModel pm;
    /* an infinite weight in w_down[1] */
    put32(parm + 4 * (info[T_W_DOWN].offset + 16 * 40 + 3), 0x7f800000);
    char *p = temp_file_with(b, n);
    CHECK_EQ(packed_model_read(p, &pm, NULL, NULL, 0), -1);
    CHECK_ERR("PARM section checksum mismatch");
    reseal(b, 4);
    remove_temp(p);
    p = temp_file_with(b, n);
    const char *want = "PARM tensor w_down holds a non-finite value (inf at index 643)";
    CHECK_EQ(ckpt_read(p, &c, 0), -1);
    CHECK_ERR(want);
    CHECK_EQ(ckpt_read(p, &c, CKPT_WEIGHTS_ONLY), -1);
    CHECK_ERR(want);
    CHECK_EQ(packed_model_read(p, &pm, NULL, NULL, 0), -1);
    CHECK_ERR(want);
    remove_temp(p);
    free(b);
    /* a NaN second moment, also when the moments are not kept */
    b = slurp(ck, &n);
    adam = b + le64(b + 32 + 32 * 5 + 8);
    put32(adam + 4 * (n_params + 1000), 0x7fc00000);
    reseal(b, 5);
    p = temp_file_with(b, n);
    CHECK_EQ(ckpt_read(p, &c, CKPT_WEIGHTS_ONLY), -1);
    CHECK_ERR("ADAM second moment holds a non-finite value (nan at index 1000)");
    CHECK_EQ(packed_model_read(p, &pm, NULL, NULL, PACKED_Q8_TABLES), -1);
    CHECK_ERR("ADAM second moment holds a non-finite value (nan at index 1000)");
    remove_temp(p);
    free(b);
    /* an inference file: a NaN in the output head, read as floats or as
     * int8 rows */
    char *inf = pack_to_temp(ck);
    b = slurp(inf, &n);
    unsigned char *flts = b + le64(b + 32 + 32 * 3 + 8);
    size_t head_at = (size_t)m.cfg.vocab * 16 + 2 * 2 * 16 + 16;  /* after tok_emb and the norms */
    put32(flts + 4 * (head_at + 16 * 5 + 2), 0x7fc00000);
    reseal(b, 3);
    p = temp_file_with(b, n);
    CHECK_EQ(packed_model_read(p, &pm, NULL, NULL, 0), -1);
    CHECK_ERR("FLTS tensor head holds a non-finite value (nan at index 82)");
    CHECK_EQ(packed_model_read(p, &pm, NULL, NULL, PACKED_Q8_TABLES), -1);
    CHECK_ERR("FLTS tensor head holds a non-finite value (nan at index 82)");
    CHECK_EQ(inspect_verify(p), -1);
    CHECK_ERR("FLTS tensor head holds a non-finite value (nan at index 82)");
    remove_temp(p);
    free(b);
    model_free(&m);
    remove_temp(ck);
    remove_temp(inf);
}
