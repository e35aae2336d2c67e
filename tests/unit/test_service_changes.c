/*
 * test_service_changes.c — the change feed (hk_svc_audit_since,
 * svc_changes.c): entries oldest first from a sequence number, equal to
 * the audit log read newest first and reversed (the oracle); limits,
 * resuming with *next without gaps or repeats, the end of the log, and a
 * callback that stops the walk.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "service/service.h"
#include "test_store_util.h"

#define N_CHANGES 25

typedef struct seen {
    uint64_t seq[64]; /* sequence numbers delivered */
    size_t n;         /* how many */
    size_t stop_at;   /* refuse the entry at this position (0 = never) */
} seen;

static hk_err take(void *ud, const hk_audit_entry *e, hk_error *err)
{
    seen *s = ud;
    if (s->stop_at && s->n + 1 == s->stop_at)
        return hk_error_set(err, HK_ERR_IO, "stop");
    assert_true(s->n < 64);
    s->seq[s->n++] = e->seq;
    return HK_OK;
}

static void test_since(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("changes");
    hk_store *s = tu_open(dir);
    char names[N_CHANGES][16];
    for (int i = 0; i < N_CHANGES; i++) {
        hk_txn *t = tu_begin(s, true);
        snprintf(names[i], sizeof(names[i]), "e%d", i);
        tu_add(t, tu_st("Changed", names[i], NULL), NULL);
        tu_commit(t);
    }
    hk_txn *t = tu_begin(s, false);
    hk_error err;
    hk_error_clear(&err);

    /* the oracle: the whole log newest first */
    hk_audit_entry *v = NULL;
    size_t nv = 0;
    assert_int_equal(hk_audit_list(t, 0, 1000, &v, &nv, &err), HK_OK);
    assert_int_equal(nv, N_CHANGES);

    seen all = {0};
    uint64_t next = 0;
    assert_int_equal(hk_svc_audit_since(t, 0, 0, take, &all, &next, &err),
                     HK_OK);
    assert_int_equal(all.n, nv);
    for (size_t i = 0; i < nv; i++)
        assert_int_equal(all.seq[i], v[nv - 1 - i].seq);
    assert_int_equal(next, v[0].seq + 1);
    hk_audit_entries_free(v, nv);

    /* pages of 7 resume without gaps or repeats */
    seen paged = {0};
    next = 1;
    for (int k = 0; k < 10; k++) {
        uint64_t from = next;
        size_t before = paged.n;
        assert_int_equal(
            hk_svc_audit_since(t, from, 7, take, &paged, &next, &err), HK_OK);
        assert_true(paged.n - before <= 7);
        if (paged.n == before) {
            assert_int_equal(next, from); /* nothing new: next stays */
            break;
        }
    }
    assert_int_equal(paged.n, all.n);
    assert_memory_equal(paged.seq, all.seq, all.n * sizeof(uint64_t));

    /* from a middle entry, and past the end */
    seen mid = {0};
    assert_int_equal(hk_svc_audit_since(t, 10, 5, take, &mid, &next, &err),
                     HK_OK);
    assert_int_equal(mid.n, 5);
    assert_int_equal(mid.seq[0], 10);
    assert_int_equal(next, 15);
    seen none = {0};
    assert_int_equal(hk_svc_audit_since(t, 1000, 0, take, &none, &next, &err),
                     HK_OK);
    assert_int_equal(none.n, 0);
    assert_int_equal(next, 1000);

    /* the callback stops the walk: its error comes back, next is exact */
    seen stop = {.stop_at = 3};
    assert_int_equal(hk_svc_audit_since(t, 1, 0, take, &stop, &next, &err),
                     HK_ERR_IO);
    assert_int_equal(stop.n, 2);
    assert_int_equal(next, 3);

    hk_txn_abort(t);
    tu_discard(s, dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_since),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
