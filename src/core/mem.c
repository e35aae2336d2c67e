/*
 * mem.c — allocation wrapper with failure injection (see core/mem.h).
 *
 * Design: a process-wide budget counter. -1 means "never fail"; a value
 * n >= 0 lets n more allocations succeed, after which the counter sits at 0
 * and every allocation fails. The counter is atomic so that library code
 * running on several threads stays race-free even with the hook unused.
 */
#include "core/mem.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hakgal.h"

static _Atomic long g_fail_budget = -1; /* allocations left before failing */
static _Atomic int g_fail_hit = 0;      /* an injected failure happened */

void hk_mem_fail_after(long n)
{
    atomic_store(&g_fail_budget, n < 0 ? -1 : n);
    atomic_store(&g_fail_hit, 0);
}

int hk_mem_fail_triggered(void)
{
    return atomic_load(&g_fail_hit);
}

/* Consumes one unit of the budget; true when this allocation must fail. */
static int injected_failure(void)
{
    long n = atomic_load_explicit(&g_fail_budget, memory_order_relaxed);
    while (n > 0) {
        if (atomic_compare_exchange_weak(&g_fail_budget, &n, n - 1)) return 0;
    }
    if (n == 0) {
        atomic_store(&g_fail_hit, 1);
        return 1;
    }
    return 0;
}

void *hk_malloc(size_t n)
{
    if (injected_failure()) return NULL;
    return malloc(n ? n : 1);
}

void *hk_calloc(size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size) return NULL;
    if (injected_failure()) return NULL;
    return calloc(n ? n : 1, size ? size : 1);
}

void *hk_realloc(void *p, size_t n)
{
    if (injected_failure()) return NULL;
    return realloc(p, n ? n : 1);
}

char *hk_strndup(const char *s, size_t n)
{
    char *copy = hk_malloc(n + 1);
    if (!copy) return NULL;
    memcpy(copy, s, n);
    copy[n] = '\0';
    return copy;
}

char *hk_strdup(const char *s)
{
    return hk_strndup(s, strlen(s));
}

void hk_free(void *p)
{
    free(p);
}
