/* Fuzz target: training checkpoints (lib/ckpt.h), and every other reader
 * of a model file on them.
 *
 * Input: a model file, normally a training checkpoint (seeds: tiny trained
 * ones). It is read as it is and again with its header and section CRCs
 * repaired, so that mutations reach the section parsers. On each:
 * fuzz_model_file (common.c: ckpt_read with both flags, packed_model_read
 * with both flags, model_summary_read, tokenizer_from_file,
 * inspect_verify; they must agree, and what is read is written and read
 * back equal), then l1b-ckpt convert --pack at 2 and 1.6 bits
 * (convert_file), whose output must read back as the same model. */
#include <string.h>

#include "common.h"
#include "convert.h"
#include "util.h"

static void pack_to(const char *path, uint32_t packing, uint32_t tables)
{
    const char *out = fuzz_path("packed.l1b");
    ConvertOptions co;
    memset(&co, 0, sizeof co);
    co.packing = packing;
    co.tables = tables;
    fuzz_error_reset();
    if (convert_file(path, out, &co, NULL) < 0) {
        fuzz_expect_message(path);
        return;
    }
    PackedModel a, b;
    uint32_t kind = 0;
    FUZZ_CHECK(packed_model_read(path, &a, NULL, NULL, 0) == 0, "convert --pack read a file the reader refuses");
    FUZZ_CHECK(packed_model_read(out, &b, &kind, NULL, PACKED_STORED_TABLES) == 0 && kind == CKPT_KIND_INFER,
               "convert --pack wrote a file the reader refuses");
    /* int8 tables: the rows q8_set_row makes of the checkpoint's floats (a
     * float model keeps floats) */
    FUZZ_CHECK(b.tables == (a.cfg.quant == QUANT_F32 ? TABLES_F32 : tables ? tables : TABLES_INT8),
               "convert --pack --tables");
    packed_model_set_tables(&a, b.tables);
    FUZZ_CHECK(fuzz_packed_equal(&a, &b, 1), "convert --pack changed the model");
    packed_model_free(&a);
    packed_model_free(&b);
}

static void run(const uint8_t *p, size_t n)
{
    const char *path = fuzz_file(0, p, n);
    if (fuzz_model_file(path) != CKPT_KIND_TRAIN) return;
    pack_to(path, PACK_2BIT, 0);
    pack_to(path, PACK_BASE3, TABLES_F32);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_setup();
    fuzz_with_repair(data, size, fuzz_fix_container, run);
    return 0;
}
