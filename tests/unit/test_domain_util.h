/*
 * test_domain_util.h — helpers shared by the tests of the domain modules
 * (src/graph, src/reason, src/similar): a KB loaded into memory and string
 * lists for brute-force oracles, and a driver that makes each allocation
 * of an operation fail in turn.
 */
#ifndef TEST_DOMAIN_UTIL_H
#define TEST_DOMAIN_UTIL_H

#include "core/mem.h"
#include "test_store_util.h"

/* ==== A KB in memory ==== */

/* Every fact of a KB, in id order. */
typedef struct tu_kb {
    hk_fact *facts; /* n facts (owned) */
    size_t n;       /* entries */
} tu_kb;

static inline tu_kb tu_kb_load(hk_store *s)
{
    tu_kb kb = {NULL, 0};
    size_t cap = 0;
    hk_txn *t = tu_begin(s, false);
    hk_query *q = NULL;
    hk_scan scan = HK_SCAN_INIT;
    hk_error err;
    assert_int_equal(hk_query_open_scan(t, &scan, NULL, &q, &err), HK_OK);
    for (;;) {
        if (kb.n == cap) {
            cap = cap ? cap * 2 : 64;
            kb.facts = realloc(kb.facts, cap * sizeof *kb.facts);
            assert_non_null(kb.facts);
        }
        hk_fact_init(&kb.facts[kb.n]);
        bool has = false;
        assert_int_equal(hk_query_next(q, &kb.facts[kb.n], &has, &err), HK_OK);
        if (!has) {
            hk_fact_release(&kb.facts[kb.n]);
            break;
        }
        kb.n++;
    }
    hk_query_close(q);
    hk_txn_abort(t);
    return kb;
}

static inline void tu_kb_free(tu_kb *kb)
{
    for (size_t i = 0; i < kb->n; i++)
        hk_fact_release(&kb->facts[i]);
    free(kb->facts);
    kb->facts = NULL;
    kb->n = 0;
}

/* The index of fact id in kb (which is in id order), or -1. */
static inline long tu_kb_find(const tu_kb *kb, hk_fact_id id)
{
    size_t lo = 0, hi = kb->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (kb->facts[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < kb->n && kb->facts[lo].id == id ? (long)lo : -1;
}

static inline bool tu_fact_mentions(const hk_fact *f, const char *entity)
{
    for (uint32_t i = 0; i < f->st.n_args; i++)
        if (strcmp(f->st.args[i], entity) == 0) return true;
    return false;
}

/* The canonical statement of f; caller frees with free. */
static inline char *tu_statement_of(const hk_fact *f)
{
    hk_buf b = HK_BUF_INIT;
    assert_int_equal(hk_statement_format(&f->st, &b), HK_OK);
    return b.data;
}

/* ==== String lists for oracles ==== */

/* A growable list of strings (copies) with linear lookup; zero-initialise.
 * tu_strs_push keeps repeats (a multiset), tu_strs_add does not (a set). */
typedef struct tu_strs {
    char **v; /* members (owned) */
    size_t n; /* entries */
} tu_strs;

/* Appends a copy of x[0..len). */
static inline void tu_strs_push_n(tu_strs *l, const char *x, size_t len)
{
    l->v = realloc(l->v, (l->n + 1) * sizeof *l->v);
    assert_non_null(l->v);
    l->v[l->n] = strndup(x, len);
    assert_non_null(l->v[l->n]);
    l->n++;
}

static inline void tu_strs_push(tu_strs *l, const char *x)
{
    tu_strs_push_n(l, x, strlen(x));
}

/* The index of x[0..len) in l, or -1. */
static inline long tu_strs_find_n(const tu_strs *l, const char *x, size_t len)
{
    for (size_t i = 0; i < l->n; i++)
        if (strlen(l->v[i]) == len && memcmp(l->v[i], x, len) == 0)
            return (long)i;
    return -1;
}

static inline bool tu_strs_has(const tu_strs *l, const char *x)
{
    return tu_strs_find_n(l, x, strlen(x)) >= 0;
}

/* Appends a copy of x[0..len) unless it is there; true when appended. */
static inline bool tu_strs_add_n(tu_strs *l, const char *x, size_t len)
{
    if (tu_strs_find_n(l, x, len) >= 0) return false;
    tu_strs_push_n(l, x, len);
    return true;
}

static inline bool tu_strs_add(tu_strs *l, const char *x)
{
    return tu_strs_add_n(l, x, strlen(x));
}

static inline void tu_strs_free(tu_strs *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static inline int tu_strs_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Asserts that a and b hold the same strings, each as often (sorts both):
 * the first difference in sorted order is named. */
static inline void tu_assert_same_strs(tu_strs *a, tu_strs *b)
{
    if (a->n) qsort(a->v, a->n, sizeof *a->v, tu_strs_cmp);
    if (b->n) qsort(b->v, b->n, sizeof *b->v, tu_strs_cmp);
    for (size_t i = 0; i < a->n && i < b->n; i++)
        assert_string_equal(a->v[i], b->v[i]);
    assert_int_equal(a->n, b->n);
}

/* ==== Allocation failures ==== */

/* An operation under allocation failure: runs in t, fills what free_res
 * releases. */
typedef hk_err (*tu_op_fn)(hk_txn *t, void *ud, hk_error *err);
typedef void (*tu_free_fn)(void *ud);

/* Runs op with its n-th allocation failing, for n = 0, 1, ... until it
 * runs without an injected failure (then it must succeed). An injected
 * failure must be answered with HK_ERR_NOMEM and a message, or absorbed
 * (HK_OK, e.g. a cache entry not kept); the sanitizer build proves that
 * nothing leaks. Returns the number of allocations of a full run. */
static inline long tu_fail_each_alloc(hk_store *s, bool write, tu_op_fn op,
                                      tu_free_fn free_res, void *ud)
{
    for (long n = 0; n < 1000000; n++) {
        hk_txn *t = tu_begin(s, write);
        hk_error err;
        hk_error_clear(&err);
        hk_mem_fail_after(n);
        hk_err rc = op(t, ud, &err);
        bool injected = hk_mem_fail_triggered();
        hk_mem_fail_after(-1);
        hk_txn_abort(t);
        free_res(ud);
        if (!injected) {
            if (rc != HK_OK) fprintf(stderr, "op: %s\n", err.message);
            assert_int_equal(rc, HK_OK);
            return n;
        }
        if (rc != HK_OK && rc != HK_ERR_NOMEM)
            fprintf(stderr, "allocation %ld: %d %s\n", n, rc, err.message);
        assert_true(rc == HK_OK || rc == HK_ERR_NOMEM);
        if (rc == HK_ERR_NOMEM) assert_true(err.message[0] != '\0');
    }
    fail_msg("the operation never ran without an injected failure");
    return -1;
}

#endif
