/*
 * test_service_growth.c — facts added and deleted per day
 * (hk_svc_growth_daily, svc_growth.c) against an oracle: a fold of the
 * whole audit log done here. Covers a KB written without the counters'
 * hook (the read folds the log), the one-time backfill when a writable
 * handle attaches, the hook keeping counters current through adds,
 * deletes, a bulk import, updates and an aborted transaction, the day
 * window, and bad input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/clock.h"
#include "service/service.h"
#include "service/svc_vector.h"
#include "test_store_util.h"

#define DAY_US (86400LL * 1000000LL)

/* The oracle: adds (and imports) and deletes of the audit log in days
 * [first_day, first_day + days). */
static void oracle(hk_store *s, int64_t first_day, uint32_t days,
                   uint64_t *added, uint64_t *deleted)
{
    hk_txn *t = tu_begin(s, false);
    hk_audit_iter *it;
    hk_error err;
    *added = *deleted = 0;
    assert_int_equal(hk_audit_iter_open(t, 0, &it, &err), HK_OK);
    for (;;) {
        const hk_audit_entry *a;
        assert_int_equal(hk_audit_iter_next(it, &a, &err), HK_OK);
        if (a == NULL) break;
        int64_t d = a->time_us / DAY_US;
        if (d < first_day || d >= first_day + (int64_t)days) continue;
        if (!strcmp(a->op, "add") || !strcmp(a->op, "import"))
            *added += a->count;
        if (!strcmp(a->op, "delete")) *deleted += a->count;
    }
    hk_audit_iter_close(it);
    hk_txn_abort(t);
}

/* Reads 7 days ending today and checks them against the oracle. Returns
 * the entries the read folded beyond the stored counters. */
static uint64_t check(hk_store *s, uint64_t want_added)
{
    int64_t now = hk_now_us();
    hk_svc_growth_daily_req req = {s, 7, now};
    hk_svc_growth_daily_res res;
    hk_error err;
    hk_txn *t = tu_begin(s, false);
    assert_int_equal(hk_svc_growth_daily(t, &req, &res, &err), HK_OK);
    hk_txn_abort(t);
    uint64_t a, d;
    oracle(s, res.first_day, res.days, &a, &d);
    assert_int_equal(res.days, 7);
    assert_int_equal(res.first_day, now / DAY_US - 6);
    assert_int_equal(res.total_added, a);
    assert_int_equal(res.total_deleted, d);
    assert_int_equal(res.total_added, want_added);
    /* everything happened today */
    assert_int_equal(res.added[6], a);
    assert_int_equal(res.deleted[6], d);
    uint64_t folded = res.folded;
    hk_svc_growth_daily_res_free(&res);
    return folded;
}

static void add_one(hk_store *s, const char *a, const char *b)
{
    hk_txn *t = tu_begin(s, true);
    bool created;
    tu_add(t, tu_st("Rel", a, b, NULL), &created);
    assert_true(created);
    tu_commit(t);
}

static void delete_one(hk_store *s, hk_fact_id id)
{
    hk_txn *t = tu_begin(s, true);
    hk_error err;
    assert_int_equal(hk_store_delete(t, id, &err), HK_OK);
    tu_commit(t);
}

static void bulk(hk_store *s, const char *prefix, int n)
{
    hk_txn *t = tu_begin(s, true);
    hk_error err;
    assert_int_equal(hk_txn_set_bulk(t, "test"), HK_OK);
    for (int i = 0; i < n; i++) {
        char x[32];
        snprintf(x, sizeof x, "%s%d", prefix, i);
        bool created;
        tu_add(t, tu_st("Bulk", x, NULL), &created);
    }
    tu_commit(t);
    (void)err;
}

static hk_store *open_attached(const char *dir, hkv_store **vs)
{
    hk_store_options o = {0};
    o.create = true;
    o.no_sync = true;
    o.map_size = 1ull << 30;
    hk_store *s = NULL;
    hk_error err;
    hk_err e = hk_svc_store_open(dir, &o, &s, vs, &err);
    if (e) fprintf(stderr, "open: %s\n", err.message);
    assert_int_equal(e, HK_OK);
    return s;
}

static void test_counters(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("growth");
    /* a KB written without the hook: reads fold the whole log */
    hk_store *s = tu_open(dir);
    for (int i = 0; i < 20; i++) {
        char a[16];
        snprintf(a, sizeof a, "A%d", i);
        add_one(s, a, "B");
    }
    delete_one(s, 3);
    delete_one(s, 4);
    bulk(s, "Old", 100);
    hk_stats st;
    hk_error err;
    hk_txn *t = tu_begin(s, false);
    assert_int_equal(hk_svc_stats(t, &st, &err), HK_OK);
    hk_txn_abort(t);
    assert_int_equal(check(s, 120), st.audit_entries);
    hk_store_close(s);

    /* attaching writable backfills once: nothing left to fold */
    hkv_store *vs = NULL;
    s = open_attached(dir, &vs);
    assert_int_equal(check(s, 120), 0);
    /* the hook keeps them current */
    add_one(s, "New", "One");
    add_one(s, "New", "Two");
    delete_one(s, 5);
    bulk(s, "Fresh", 30);
    assert_int_equal(check(s, 152), 0);
    /* an update counts nothing (its entry is folded at the next read) */
    t = tu_begin(s, true);
    hk_statement up = tu_st("Rel", "A0", "C", NULL);
    hk_fact_id other = 0;
    assert_int_equal(hk_store_update(t, 1, &up, &other, &err), HK_OK);
    tu_commit(t);
    assert_true(check(s, 152) <= 1);
    /* an aborted change leaves the counters as they were */
    t = tu_begin(s, true);
    bool created;
    tu_add(t, tu_st("Rel", "Gone", "Soon", NULL), &created);
    hk_txn_abort(t);
    add_one(s, "Last", "One");
    assert_int_equal(check(s, 153), 0);
    hk_svc_store_close(s, vs);

    /* reopening finds the counters at the head */
    s = open_attached(dir, &vs);
    assert_int_equal(check(s, 153), 0);
    hk_svc_store_close(s, vs);
    /* and a read-only handle reads them as they are */
    hk_store_options ro = {0};
    ro.read_only = true;
    assert_int_equal(hk_store_open(dir, &ro, &s, &err), HK_OK);
    assert_int_equal(check(s, 153), 0);
    hk_store_close(s);
    tu_rmrf(dir);
    free(dir);
}

static void test_window_and_input(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("growthw");
    hkv_store *vs = NULL;
    hk_store *s = open_attached(dir, &vs);
    add_one(s, "X", "Y");
    hk_txn *t = tu_begin(s, false);
    hk_svc_growth_daily_res res;
    hk_error err;
    int64_t now = hk_now_us();
    /* tomorrow's window of two days holds today first */
    hk_svc_growth_daily_req req = {s, 2, now + DAY_US};
    assert_int_equal(hk_svc_growth_daily(t, &req, &res, &err), HK_OK);
    assert_int_equal(res.added[0], 1);
    assert_int_equal(res.added[1], 0);
    hk_svc_growth_daily_res_free(&res);
    /* three days on, today is outside */
    req.now_us = now + 3 * DAY_US;
    assert_int_equal(hk_svc_growth_daily(t, &req, &res, &err), HK_OK);
    assert_int_equal(res.total_added, 0);
    hk_buf b = HK_BUF_INIT;
    assert_int_equal(hk_svc_growth_daily_write_json(&res, &b), HK_OK);
    json_t *j = json_loadb(b.data, b.len, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_array_size(json_object_get(j, "per_day")), 2);
    json_decref(j);
    hk_buf_free(&b);
    hk_svc_growth_daily_res_free(&res);
    /* bad day counts */
    req.days = 0;
    assert_int_equal(hk_svc_growth_daily(t, &req, &res, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "days");
    assert_null(res.added);
    req.days = 36601;
    assert_int_equal(hk_svc_growth_daily(t, &req, &res, &err), HK_ERR_INVALID);
    hk_txn_abort(t);
    hk_svc_store_close(s, vs);
    tu_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counters),
        cmocka_unit_test(test_window_and_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
