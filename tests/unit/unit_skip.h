/*
 * unit_skip.h — skipping a cmocka test so that CTest counts it as skipped
 * rather than passed. TU_SKIP("why") prints "SKIP: <test>: why" and skips
 * the running test (cmocka prints [  SKIPPED ]); tu_exit() turns the
 * group's result into the exit code: the failure count when a test failed,
 * else 77 (SKIP_RETURN_CODE in CMakeLists.txt) when a test was skipped,
 * else 0. Include after cmocka.h.
 */
#ifndef UNIT_SKIP_H
#define UNIT_SKIP_H

#include <stdio.h>

#define TU_SKIP_EXIT 77

static int tu_skipped __attribute__((unused)); /* a test was skipped */

#define TU_SKIP(...)                                                           \
    do {                                                                       \
        fprintf(stderr, "SKIP: %s: ", __func__);                               \
        fprintf(stderr, __VA_ARGS__);                                          \
        fputc('\n', stderr);                                                   \
        tu_skipped = 1;                                                        \
        skip();                                                                \
    } while (0)

/* main: return tu_exit(cmocka_run_group_tests(...)); */
static inline int tu_exit(int failed)
{
    if (failed) return failed;
    return tu_skipped ? TU_SKIP_EXIT : 0;
}

#endif /* UNIT_SKIP_H */
