/* Fuzz target: the parsers behind command-line options — parse_u64 and
 * parse_duration (lib/util.h), the name tables (name_value, name_of,
 * name_choices) of every enumerated option, doc_mode_parse — and
 * model_config_check with the tensor table and file sizes of the shapes
 * it accepts (l1b-bench's --shape parser is static and exits on error, so
 * its core, model_config_check, stands for it).
 *
 * Input: one selector byte, then either a string (even selector; up to
 * the first NUL) or, odd, the eight u32 of a ModelConfig (little-endian,
 * missing bytes zero). Checks: parse_u64 agrees with a reference written
 * differently (digit count and comparison with 2^64-1, then strtoull);
 * a parsed duration is finite and in (0, 1e12); a name found maps back to
 * itself; name_choices stays inside its buffer; an accepted model shape
 * has a tensor table whose offsets add up, and sizes that fit a size_t. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "dataset.h"
#include "model.h"
#include "packed.h"
#include "quant.h"
#include "textscan.h"
#include "ternary.h"
#include "util.h"

static int ref_u64(const char *s, uint64_t *out)
{
    size_t d = 0;
    while (s[d] >= '0' && s[d] <= '9') d++;
    if (d == 0) return -1;
    uint64_t unit = 1;  /* decimal suffixes: 10k = 10000 */
    const char *rest = s + d;
    if (*rest == 'k' || *rest == 'K') unit = 1000, rest++;
    else if (*rest == 'M') unit = 1000000, rest++;
    else if (*rest == 'G') unit = 1000000000, rest++;
    if (*rest) return -1;
    size_t z = 0;
    while (z + 1 < d && s[z] == '0') z++;  /* leading zeros */
    static const char max[] = "18446744073709551615";
    if (d - z > 20 || (d - z == 20 && strncmp(s + z, max, 20) > 0)) return -1;
    char digits[32];
    memcpy(digits, s + z, d - z);
    digits[d - z] = 0;
    uint64_t v = strtoull(digits, NULL, 10);
    if (v > UINT64_MAX / unit) return -1;
    *out = v * unit;
    return 0;
}

static void strings(const char *s, size_t n)
{
    uint64_t v = 0, r = 0;
    int rc = parse_u64(s, &v), rr = ref_u64(s, &r);
    FUZZ_CHECK(rc == rr && (rc < 0 || v == r), "parse_u64 disagrees with the reference");

    double d;
    if (parse_duration(s, &d) == 0) FUZZ_CHECK(isfinite(d) && d > 0 && d < 1e12, "parse_duration's range");

    const NameValue *tables[] = {ffn_act_names, batching_names, quant_names, packing_bits_names};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        int value;
        if (name_value(tables[i], s, &value) == 0) {
            int back;
            FUZZ_CHECK(name_value(tables[i], name_of(tables[i], value), &back) == 0 && back == value,
                       "a name does not map back to its value");
        }
        char buf[80];
        size_t cap = 1 + n % sizeof buf;
        memset(buf, 'x', sizeof buf);
        name_choices(tables[i], buf, cap);
        FUZZ_CHECK(memchr(buf, 0, cap) != NULL, "name_choices overran its buffer");
    }
    int mode;
    if (doc_mode_parse(s, &mode) == 0) FUZZ_CHECK(mode == DOC_LINE || mode == DOC_BLANK || mode == DOC_NUL, "doc mode");
}

static void shape(const uint8_t *p, size_t n)
{
    uint8_t b[32] = {0};
    memcpy(b, p, n < 32 ? n : 32);
    ModelConfig c = {le32(b), le32(b + 4), le32(b + 8), le32(b + 12), le32(b + 16), le32(b + 20), le32(b + 24),
                     le32(b + 28)};
    fuzz_error_reset();
    if (model_config_check(&c) < 0) {
        FUZZ_CHECK(strcmp(l1b_last_error(), "unknown error") != 0, "model_config_check failed without a message");
        return;
    }
    FUZZ_CHECK(c.dim / c.n_heads % 2 == 0 && c.dim % c.n_heads == 0, "head size");
    TensorInfo info[N_TENSORS];
    size_t np = model_tensor_table(&c, info);
    uint64_t off = 0, floats = 0;
    for (int i = 0; i < N_TENSORS; i++) {
        FUZZ_CHECK(info[i].offset == off, "tensor offsets");
        uint64_t k = (uint64_t)info[i].layers * info[i].rows * info[i].cols;
        off += k;
        if (!info[i].ternary) floats += k;
    }
    FUZZ_CHECK(off == np, "parameter count");
    FUZZ_CHECK((double)np * 4 * sizeof(float) <= (double)SIZE_MAX, "parameters not addressable");
    FUZZ_CHECK(packed_flts_size(&c, TABLES_F32) == 4 * floats, "FLTS size");
    /* int8 tables: the norms in FLTS; each table row as an f32 scale and
     * cols bytes in QTAB, the scales padded to 64 bytes */
    uint64_t table_rows = (uint64_t)info[T_TOK_EMB].layers * info[T_TOK_EMB].rows + info[T_HEAD].rows,
             table_vals = table_rows * c.dim;
    FUZZ_CHECK(packed_flts_size(&c, TABLES_INT8) == 4 * (floats - table_vals), "FLTS size with int8 tables");
    FUZZ_CHECK(packed_qtab_size(&c) == container_align(4 * table_rows) + table_vals, "QTAB size");
    uint64_t t2 = packed_tern_size(&c, PACK_2BIT), t3 = packed_tern_size(&c, PACK_BASE3);
    uint64_t t1 = packed_tern_size(&c, PACK_SIGN);
    FUZZ_CHECK(t1 <= t2 && t3 <= t2, "a denser packing is larger");
    FUZZ_CHECK(model_default_hidden(c.dim, c.ffn_act) >= 1, "default hidden width");
    uint32_t packing = model_packing(&c);
    FUZZ_CHECK(c.quant == QUANT_F32 ? packing == 0 : packing >= PACK_SIGN && packing <= PACK_2BIT, "packing");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_setup();
    if (size == 0) return 0;
    if (data[0] & 1) {
        shape(data + 1, size - 1);
        return 0;
    }
    char *s = malloc(size);
    memcpy(s, data + 1, size - 1);
    s[size - 1] = 0;
    strings(s, strlen(s));
    free(s);
    return 0;
}
