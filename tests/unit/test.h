/* test.h: the unit-test harness. Each test file defines tests with
 *
 *     TEST(bpe_merges_hand_worked_example) { CHECK_EQ(x, 3); ... }
 *
 * which register themselves at start-up; the runner (main.c) runs them all
 * (or those whose name contains argv[1]) and ends with "N passed, N failed".
 * A failed CHECK prints file:line and the values, and fails the test. */
#ifndef L1B_TEST_H
#define L1B_TEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef void (*TestFn)(void);
void test_register(const char *name, TestFn fn);
extern int test_failed;  /* the current test's failure count */

#define TEST(name)                                                        \
    static void name(void);                                               \
    __attribute__((constructor)) static void register_##name(void) {      \
        test_register(#name, name);                                       \
    }                                                                     \
    static void name(void)

#define FAIL_AT(...)                                                      \
    do {                                                                  \
        fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);                 \
        fprintf(stderr, __VA_ARGS__);                                     \
        fputc('\n', stderr);                                              \
        test_failed++;                                                    \
    } while (0)

#define CHECK(cond)                                                       \
    do { if (!(cond)) FAIL_AT("CHECK(%s)", #cond); } while (0)

#define CHECK_EQ(a, b)                                                    \
    do {                                                                  \
        long long va_ = (long long)(a), vb_ = (long long)(b);             \
        if (va_ != vb_) FAIL_AT("%s == %s: %lld != %lld", #a, #b, va_, vb_); \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                             \
    do {                                                                  \
        double va_ = (double)(a), vb_ = (double)(b);                      \
        if (!(fabs(va_ - vb_) <= (tol)))                                  \
            FAIL_AT("%s ~= %s: %.9g vs %.9g (tol %g)", #a, #b, va_, vb_, (double)(tol)); \
    } while (0)

#define CHECK_STR(a, b)                                                   \
    do {                                                                  \
        const char *sa_ = (a), *sb_ = (b);                                \
        if (strcmp(sa_, sb_)) FAIL_AT("%s == %s: \"%s\" != \"%s\"", #a, #b, sa_, sb_); \
    } while (0)

/* the recorded error message contains the fragment */
#define CHECK_ERR(fragment)                                               \
    do {                                                                  \
        const char *e_ = l1b_last_error();                                \
        if (!strstr(e_, (fragment)))                                      \
            FAIL_AT("error \"%s\" lacks \"%s\"", e_, (fragment));         \
    } while (0)

#endif
