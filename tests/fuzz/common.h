/* Shared by the fuzz targets (the files of tests/fuzz/, docs/RELIABILITY.md
 * "Fuzzing"): set-up, the scratch files path-taking readers read, checks
 * that abort, and checksum repair so that mutated files get past the CRCs
 * to the parsers behind them.
 *
 * Each target defines LLVMFuzzerTestOneInput. Built with clang
 * -fsanitize=fuzzer it is a libFuzzer binary; linked with driver.c instead
 * (any C compiler, no libFuzzer) it replays the files and directories given
 * on its command line. */
#ifndef L1B_FUZZ_COMMON_H
#define L1B_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "ckpt.h"
#include "packed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Once per process (later calls return at once): cli_start("fuzz") — the
 * kernels, the out-of-memory handler — and a private scratch directory
 * (in /dev/shm when there is one, else $TMPDIR or /tmp), removed at exit;
 * those of crashed targets are removed by the next target to start. */
void fuzz_setup(void);

/* A file in the scratch directory holding exactly data (slot 0..3: each
 * slot is one file, rewritten on every call). Returns its path. */
const char *fuzz_file(int slot, const void *data, size_t size);
/* The path of a scratch file a reader or writer may create (round trips). */
const char *fuzz_path(const char *name);

/* Before a reader: forget the last message. After it failed: check that
 * it left one (hard) and that the message names the file first (soft: a
 * note on stderr, at most a few per process). */
void fuzz_error_reset(void);
void fuzz_expect_message(const char *path);

/* A broken invariant: print what and the input being replayed (driver.c
 * sets fuzz_input_name), then abort() so libFuzzer records a crash. */
#define FUZZ_CHECK(cond, what) ((cond) ? (void)0 : fuzz_fail(__FILE__, __LINE__, what))
void fuzz_fail(const char *file, int line, const char *what);
extern const char *fuzz_input_name;

/* Checksum repair on a copy of the input: a model file's header CRC and
 * the CRC of each section that lies inside the file; a token stream's
 * header CRC and, when the body has a whole number of tokens, its trailer
 * (count, CRC, "TEND"). Return 1 if anything changed, 0 if not (or the
 * input is too broken to tell where the checksums are). */
int fuzz_fix_container(uint8_t *p, size_t n);
int fuzz_fix_tokstream(uint8_t *p, size_t n);

/* Run fn on the input, then on a checksum-repaired copy if that differs. */
void fuzz_with_repair(const uint8_t *data, size_t size, int (*fix)(uint8_t *, size_t),
                      void (*fn)(const uint8_t *, size_t));

/* ---- model files (ckpt.c, packed.c) ---------------------------------------- */

/* The same model, bit for bit (floats compared as bits). */
int fuzz_ckpt_equal(const Checkpoint *a, const Checkpoint *b);
int fuzz_packed_equal(const PackedModel *a, const PackedModel *b, int compare_scales);

/* Every reader of a model file on path: ckpt_read (both flags),
 * packed_model_read (the tables as stored, as int8 rows, as floats only),
 * model_summary_read, tokenizer_from_file, inspect_verify, which must agree
 * with each other; a training checkpoint read is written again
 * (ckpt_write) and read back equal, a model read is written as an
 * inference file (packed_model_write) and read back equal, and again with
 * its tables in the other form (int8 rows through floats: the same rows).
 * Returns the kind read (CKPT_KIND_*), 0 if no reader accepted the file. */
uint32_t fuzz_model_file(const char *path);

#endif
