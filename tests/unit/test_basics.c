/* crc32, parse_u64, atomic output files */
#include <stdlib.h>
#include <unistd.h>

#include "crc32.h"
#include "helpers.h"
#include "test.h"
#include "util.h"

TEST(crc32_check_value_and_chaining)
{
    CHECK_EQ(crc32_update(0, "123456789", 9), 0xCBF43926u);
    CHECK_EQ(crc32_update(0, "", 0), 0);
    uint32_t c = crc32_update(crc32_update(0, "12345", 5), "6789", 4);
    CHECK_EQ(c, 0xCBF43926u);
    /* odd lengths go through the byte tail of the sliced loop */
    CHECK_EQ(crc32_update(0, "a", 1), 0xE8B7BE43u);
}

TEST(parse_u64_accepts_numbers_and_suffixes)
{
    uint64_t v;
    CHECK_EQ(parse_u64("0", &v), 0); CHECK_EQ(v, 0);
    CHECK_EQ(parse_u64("1024", &v), 0); CHECK_EQ(v, 1024);
    CHECK_EQ(parse_u64("4k", &v), 0); CHECK_EQ(v, 4000);
    CHECK_EQ(parse_u64("10K", &v), 0); CHECK_EQ(v, 10000);
    CHECK_EQ(parse_u64("2M", &v), 0); CHECK_EQ(v, 2000000);
    CHECK_EQ(parse_u64("3G", &v), 0); CHECK(v == 3000000000ull);
    CHECK_EQ(parse_u64("18446744073G", &v), 0); CHECK(v == 18446744073000000000ull);
    CHECK_EQ(parse_u64("18446744073709551615", &v), 0); CHECK(v == UINT64_MAX);
}

TEST(parse_u64_rejects_junk)
{
    uint64_t v;
    CHECK_EQ(parse_u64("", &v), -1);
    CHECK_EQ(parse_u64("-1", &v), -1);
    CHECK_EQ(parse_u64("12x", &v), -1);
    CHECK_EQ(parse_u64("1.5", &v), -1);
    CHECK_EQ(parse_u64("18446744073709551616", &v), -1);
    CHECK_EQ(parse_u64("99999999999999G", &v), -1);
    CHECK_EQ(parse_u64("18446744074G", &v), -1);
    CHECK_EQ(parse_u64("10kk", &v), -1);
}

TEST(outfile_commit_replaces_abort_keeps_old)
{
    char *path = temp_file_with("old", 3);
    OutFile f;
    CHECK_EQ(outfile_open(&f, path), 0);
    outfile_write(&f, "new!", 4);
    /* before commit, the old contents are still in place */
    size_t n;
    unsigned char *b = slurp(path, &n);
    CHECK_EQ(n, 3);
    free(b);
    outfile_abort(&f);
    b = slurp(path, &n);
    CHECK_EQ(n, 3);
    CHECK(b && !memcmp(b, "old", 3));
    free(b);

    CHECK_EQ(outfile_open(&f, path), 0);
    outfile_write(&f, "new!", 4);
    CHECK_EQ(outfile_commit(&f), 0);
    b = slurp(path, &n);
    CHECK_EQ(n, 4);
    CHECK(b && !memcmp(b, "new!", 4));
    free(b);
    unlink(path);
    free(path);
}

TEST(outfile_open_fails_in_missing_directory)
{
    OutFile f;
    CHECK_EQ(outfile_open(&f, "/nonexistent-dir/x.tok"), -1);
    CHECK_ERR("/nonexistent-dir/x.tok: cannot create");
}
