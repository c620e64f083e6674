/* Fuzz target: inference files (lib/packed.h) in every packing — 2-bit,
 * base-3 (1.6-bit) and 1-bit sign — and every other reader of a model
 * file on them.
 *
 * Input: a model file, normally an inference file (seeds: a tiny trained
 * model packed at --bits 2 and 1.6, a sign-quantised one, a float one).
 * It is read as it is and again with its header and section CRCs
 * repaired. On each: fuzz_model_file (common.c: every reader, agreeing,
 * with write/read round trips), then l1b-ckpt convert (convert_file):
 * --pack into the other ternary packing must give the same weights and
 * scales, --unpack a training checkpoint that reads back as the same
 * model (exactly, when the conversion reports no inexact slice). */
#include <string.h>

#include "common.h"
#include "convert.h"
#include "train.h"
#include "util.h"

static void convert_and_compare(const char *path, int unpack, uint32_t packing, uint32_t tables)
{
    const char *out = fuzz_path(unpack ? "unpacked.l1b" : "repacked.l1b");
    TrainOptions settings;
    train_options_default(&settings);
    ConvertOptions co;
    memset(&co, 0, sizeof co);
    co.unpack = unpack;
    co.packing = packing;
    co.tables = tables;
    co.settings = &settings;
    ConvertReport rep;
    fuzz_error_reset();
    if (convert_file(path, out, &co, &rep) < 0) {
        fuzz_expect_message(path);
        return;
    }
    PackedModel a, b;
    uint32_t kind = 0;
    FUZZ_CHECK(packed_model_read(path, &a, NULL, NULL, PACKED_STORED_TABLES) == 0,
               "convert read a file the reader refuses");
    FUZZ_CHECK(packed_model_read(out, &b, &kind, NULL, PACKED_STORED_TABLES) == 0,
               "convert wrote a file the reader refuses");
    /* the tables compared as the output holds them: convert makes int8
     * rows as q8_set_row does, floats as packed_model_set_tables does */
    if (!unpack && a.cfg.quant != QUANT_F32) FUZZ_CHECK(b.tables == tables, "convert --pack --tables");
    packed_model_set_tables(&a, unpack || a.cfg.quant == QUANT_F32 ? TABLES_F32 : tables);
    FUZZ_CHECK(kind == (unpack ? CKPT_KIND_TRAIN : CKPT_KIND_INFER), "convert wrote the wrong kind");
    if (unpack) {
        Checkpoint ck;
        FUZZ_CHECK(ckpt_read(out, &ck, 0) == 0, "convert --unpack wrote a checkpoint ckpt_read refuses");
        ckpt_free(&ck);
    }
    if (!unpack || rep.inexact == 0)
        FUZZ_CHECK(fuzz_packed_equal(&a, &b, 1), unpack ? "convert --unpack changed the model"
                                                        : "convert --pack changed the model");
    packed_model_free(&a);
    packed_model_free(&b);
}

static void run(const uint8_t *p, size_t n)
{
    const char *path = fuzz_file(0, p, n);
    if (fuzz_model_file(path) != CKPT_KIND_INFER) return;
    convert_and_compare(path, 0, PACK_2BIT, TABLES_INT8);
    convert_and_compare(path, 0, PACK_BASE3, TABLES_F32);
    convert_and_compare(path, 0, PACK_BASE3, TABLES_INT8);
    convert_and_compare(path, 1, 0, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_setup();
    fuzz_with_repair(data, size, fuzz_fix_container, run);
    return 0;
}
