/*
 * test_domain_util.h — helpers shared by the tests of the domain modules
 * (src/graph, src/reason, src/similar): a KB loaded into memory for
 * brute-force oracles, and a driver that makes each allocation of an
 * operation fail in turn.
 */
#ifndef TEST_DOMAIN_UTIL_H
#define TEST_DOMAIN_UTIL_H

#include "core/mem.h"
#include "test_store_util.h"

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
