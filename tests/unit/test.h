/* test.h: the unit-test harness, a few lines in the style of chibicc's test/test.h. A check that
 * fails prints file:line and the expression under test (with its values), and is counted; main
 * ends with `return test_done();`, which is non-zero if any check failed. */
#ifndef H2C_TEST_H
#define H2C_TEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int test_checks, test_failures;

static int test_fail(const char *file, int line, const char *what) {
    test_failures++;
    fprintf(stderr, "%s:%d: FAILED %s\n", file, line, what);
    return 0;
}

#define CHECK(cond) (test_checks++, (cond) ? 1 : test_fail(__FILE__, __LINE__, "CHECK(" #cond ")"))

/* Integers, doubles and chars (compared with ==, printed as long double). */
#define CHECK_EQ(a, b)                                                                                   \
    do {                                                                                                 \
        test_checks++;                                                                                   \
        if (!((a) == (b))) {                                                                             \
            test_fail(__FILE__, __LINE__, "CHECK_EQ(" #a ", " #b ")");                                   \
            fprintf(stderr, "    %s = %.21Lg\n    %s = %.21Lg\n", #a, (long double)(a), #b, (long double)(b)); \
        }                                                                                                \
    } while (0)

#define CHECK_NEAR(want, got, tol)                                                                       \
    do {                                                                                                 \
        test_checks++;                                                                                   \
        double w_ = (want), g_ = (got);                                                                  \
        if (!(fabs(w_ - g_) <= (tol))) {                                                                 \
            test_fail(__FILE__, __LINE__, "CHECK_NEAR(" #want ", " #got ", " #tol ")");                  \
            fprintf(stderr, "    want %.17g, got %.17g\n", w_, g_);                                      \
        }                                                                                                \
    } while (0)

/* Strings; NULL equals only NULL. */
#define CHECK_STR(a, b)                                                                                  \
    do {                                                                                                 \
        test_checks++;                                                                                   \
        const char *a_ = (a), *b_ = (b);                                                                 \
        if (!(a_ == b_ || (a_ && b_ && strcmp(a_, b_) == 0))) {                                          \
            test_fail(__FILE__, __LINE__, "CHECK_STR(" #a ", " #b ")");                                  \
            fprintf(stderr, "    %s = \"%s\"\n    %s = \"%s\"\n", #a, a_ ? a_ : "(null)", #b,            \
                    b_ ? b_ : "(null)");                                                                 \
        }                                                                                                \
    } while (0)

static int test_done(void) {
    fprintf(stderr, "%d checks, %d failed\n", test_checks, test_failures);
    return test_failures != 0;
}

#endif
