/* check.h — the tiny assertion layer every C test uses: count checks, print failures, exit non-zero. */
#ifndef UG_TEST_CHECK_H
#define UG_TEST_CHECK_H
#include <math.h>
#include <stdio.h>

static int check_failed_ = 0, check_total_ = 0;

#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        check_total_++;                                                      \
        if (!(cond)) {                                                       \
            check_failed_++;                                                 \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                    \
            fputc('\n', stderr);                                             \
        }                                                                    \
    } while (0)

/* |a-b| <= atol + rtol*|b| */
#define CHECK_CLOSE(a, b, rtol, atol)                                        \
    do {                                                                     \
        double a_ = (double)(a), b_ = (double)(b);                           \
        CHECK(fabs(a_ - b_) <= (atol) + (rtol)*fabs(b_), "%s = %.9g, %s = %.9g", #a, a_, #b, b_); \
    } while (0)

#define CHECK_DONE()                                                         \
    (printf("%d passed, %d failed\n", check_total_ - check_failed_, check_failed_), \
     check_failed_ ? 1 : 0)
#endif
