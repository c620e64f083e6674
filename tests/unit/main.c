/* The unit-test runner: runs every registered TEST (or those whose name
 * contains argv[1]) and ends with the line "N passed, N failed". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kernels.h"
#include "test.h"
#include "threads.h"

#define MAX_TESTS 1024

static struct { const char *name; TestFn fn; } tests[MAX_TESTS];
static int n_tests;
int test_failed;

void test_register(const char *name, TestFn fn)
{
    if (n_tests == MAX_TESTS) {
        fprintf(stderr, "too many tests\n");
        exit(2);
    }
    tests[n_tests].name = name;
    tests[n_tests].fn = fn;
    n_tests++;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int main(int argc, char **argv)
{
    const char *filter = argc > 1 ? argv[1] : NULL;
    cli_start(argv[0]);
    /* tests with several threads use them all, whatever else the machine
     * runs (the pool would otherwise hand a loaded machine's jobs to one) */
    threads_follow_load(0);
    qsort(tests, (size_t)n_tests, sizeof tests[0], by_name);
    int passed = 0, failed = 0;
    for (int i = 0; i < n_tests; i++) {
        if (filter && !strstr(tests[i].name, filter)) continue;
        test_failed = 0;
        tests[i].fn();
        if (test_failed) {
            fprintf(stderr, "FAIL %s\n", tests[i].name);
            failed++;
        } else {
            passed++;
        }
    }
    /* a level asked for with L1B_SIMD must be the one tested: one the
     * CPU lacks falls back with a warning, and the run fails */
    const char *want = getenv("L1B_SIMD");
    if (want && *want && strcmp(want, simd_name(kern.level))) {
        fprintf(stderr, "FAIL L1B_SIMD=%s, but the tests ran at %s\n", want, simd_name(kern.level));
        failed++;
    }
    printf("simd level %s\n", simd_name(kern.level));
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
