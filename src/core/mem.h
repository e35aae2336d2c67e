/*
 * core/mem.h — the one allocation wrapper used by all library code.
 *
 * Every allocation in libhakgal goes through these functions so that tests
 * can make allocations fail on purpose (hk_mem_fail_after) and prove that
 * each out-of-memory path returns HK_ERR_NOMEM and leaks nothing. Memory
 * from hk_malloc/hk_calloc/hk_realloc/hk_strdup is released with hk_free
 * (declared in hakgal.h).
 *
 * Threads: all functions may be called from any thread. The failure budget
 * is one process-wide atomic counter; tests that use it should run
 * single-threaded while injection is active.
 */
#ifndef HK_CORE_MEM_H
#define HK_CORE_MEM_H

#include <stddef.h>

/* malloc(n); n == 0 is treated as 1 so that NULL always means failure. */
void *hk_malloc(size_t n);
/* calloc(n, size) with overflow check; NULL on failure or overflow. */
void *hk_calloc(size_t n, size_t size);
/* realloc(p, n); on failure p is untouched and NULL is returned. */
void *hk_realloc(void *p, size_t n);
/* Copy of the NUL-terminated s; caller frees with hk_free. */
char *hk_strdup(const char *s);
/* Copy of s[0..n) plus a NUL; caller frees with hk_free. */
char *hk_strndup(const char *s, size_t n);

/* Test hook: after n more successful allocations, every allocation fails
 * until the hook is reset with a negative n (the default, no injection).
 * n == 0 makes the very next allocation fail. */
void hk_mem_fail_after(long n);
/* True when at least one allocation has failed because of the hook since
 * the last hk_mem_fail_after call. Lets a test tell "succeeded because the
 * budget was large enough" from "failed as injected". */
int hk_mem_fail_triggered(void);

#endif /* HK_CORE_MEM_H */
