/*
 * test_store_times.c — HK_META_TIMES: an add may carry the original created
 * and updated times (imports that keep history); they are validated, kept
 * exactly, never applied to an existing fact (MERGE), and refused by
 * hk_store_set_meta.
 */
#include "core/clock.h"
#include "test_store_util.h"

static hk_err add_with(hk_txn *t, const char *text, const hk_fact_meta *m,
                       hk_fact_id *id, bool *created, hk_error *err)
{
    hk_statement st;
    assert_int_equal(hk_statement_parse(text, strlen(text), &st, NULL), HK_OK);
    hk_err e = hk_store_add(t, &st, m, id, created, err);
    hk_statement_release(&st);
    return e;
}

static void test_times_kept_and_checked(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("times");
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, true);
    hk_error err;
    hk_fact_id id = 0, id2 = 0;
    bool created = false;

    hk_fact_meta m = {0};
    m.fields = HK_META_TIMES;
    m.created_us = INT64_C(1500000000123456); /* 2017-07-14 */
    m.updated_us = INT64_C(1600000000654321);
    assert_int_equal(add_with(t, "Old(fact)", &m, &id, &created, &err), HK_OK);
    assert_true(created);

    m.updated_us = 0; /* same as created */
    assert_int_equal(add_with(t, "Old(other)", &m, &id2, &created, &err),
                     HK_OK);

    /* MERGE: an existing fact keeps its times */
    m.created_us = 1;
    assert_int_equal(add_with(t, "Old(fact)", &m, &id, &created, &err), HK_OK);
    assert_false(created);

    /* invalid: updated before created, negative, beyond year 9999 */
    m.created_us = 2000000;
    m.updated_us = 1000000;
    assert_int_equal(add_with(t, "Bad(a)", &m, &id2, &created, &err),
                     HK_ERR_INVALID);
    assert_string_equal(err.field, "updated");
    m.created_us = -5;
    m.updated_us = 0;
    assert_int_equal(add_with(t, "Bad(b)", &m, &id2, &created, &err),
                     HK_ERR_INVALID);
    assert_string_equal(err.field, "created");
    m.created_us = INT64_C(253402300800000000);
    assert_int_equal(add_with(t, "Bad(c)", &m, &id2, &created, &err),
                     HK_ERR_INVALID);

    /* times are not editable afterwards */
    m.created_us = 1;
    assert_int_equal(hk_store_set_meta(t, id, &m, &err), HK_ERR_INVALID);
    assert_int_equal(hk_txn_commit(t, &err), HK_OK);

    t = tu_begin(s, false);
    hk_fact f;
    hk_fact_init(&f);
    assert_int_equal(hk_store_get(t, id, &f, &err), HK_OK);
    assert_true(f.created_us == INT64_C(1500000000123456));
    assert_true(f.updated_us == INT64_C(1600000000654321));
    hk_fact_id other = 0;
    hk_statement st;
    assert_int_equal(hk_statement_parse("Old(other)", 10, &st, NULL), HK_OK);
    assert_int_equal(hk_store_find(t, &st, &other, NULL), HK_OK);
    hk_statement_release(&st);
    assert_int_equal(hk_store_get(t, other, &f, &err), HK_OK);
    assert_true(f.created_us == INT64_C(1500000000123456));
    assert_true(f.updated_us == f.created_us);
    assert_int_equal(hk_statement_parse("Bad(a)", 6, &st, NULL), HK_OK);
    assert_int_equal(hk_store_find(t, &st, &other, NULL), HK_ERR_NOT_FOUND);
    hk_statement_release(&st);
    hk_fact_release(&f);
    hk_txn_abort(t);
    tu_discard(s, dir);
}

static void test_count_created_by_day(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("times-days");
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, true);
    hk_error err;
    hk_fact_id id = 0;
    const int64_t day = INT64_C(86400000000);
    hk_fact_meta m = {0};
    m.fields = HK_META_TIMES;
    /* day 20000: three facts (first and last microsecond of the day),
     * day 20002: one, day 19999 and 20010: outside the window */
    int64_t when[] = {20000 * day, 20000 * day + day - 1, 20000 * day + 5,
                      20002 * day, 19999 * day + day - 1, 20010 * day};
    for (size_t i = 0; i < sizeof when / sizeof *when; i++) {
        char text[32];
        snprintf(text, sizeof text, "Day(f%zu)", i);
        m.created_us = when[i];
        assert_int_equal(add_with(t, text, &m, &id, NULL, &err), HK_OK);
    }
    uint64_t per[5];
    /* inside the write transaction, then committed, in a read txn */
    assert_int_equal(hk_store_count_created(t, 20000, 5, per, &err), HK_OK);
    uint64_t want[5] = {3, 0, 1, 0, 0};
    assert_memory_equal(per, want, sizeof want);
    /* a deleted fact no longer counts */
    assert_int_equal(hk_store_delete(t, 4, &err), HK_OK);
    want[2] = 0;
    tu_commit(t);
    t = tu_begin(s, false);
    assert_int_equal(hk_store_count_created(t, 20000, 5, per, &err), HK_OK);
    assert_memory_equal(per, want, sizeof want);
    /* today's facts (no explicit time) count on today */
    hk_txn_abort(t);
    t = tu_begin(s, true);
    assert_int_equal(add_with(t, "Day(now)", NULL, &id, NULL, &err), HK_OK);
    tu_commit(t);
    t = tu_begin(s, false);
    int64_t today = hk_now_us() / day;
    assert_int_equal(hk_store_count_created(t, today - 1, 3, per, &err), HK_OK);
    assert_true(per[1] == 1 || per[2] == 1); /* midnight may pass */
    assert_int_equal(hk_store_count_created(t, 0, 0, per, &err),
                     HK_ERR_INVALID);
    assert_int_equal(hk_store_count_created(t, 0, 36601, per, &err),
                     HK_ERR_INVALID);
    hk_txn_abort(t);
    tu_discard(s, dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_times_kept_and_checked),
        cmocka_unit_test(test_count_created_by_day),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
