/*
 * test_store_abort.c — an aborted write transaction leaves no trace in what
 * later transactions read, including the process-wide caches: symbol ids
 * that an aborted txn created are handed out again by the next writer, so
 * nothing decoded inside the aborted txn may be remembered under those ids.
 */
#include "test_store_util.h"

static hk_fact_id add_text(hk_txn *t, const char *text)
{
    hk_statement st;
    hk_error err;
    hk_fact_id id = 0;
    bool created = false;
    assert_int_equal(hk_statement_parse(text, strlen(text), &st, &err), HK_OK);
    assert_int_equal(hk_store_add(t, &st, NULL, &id, &created, &err), HK_OK);
    assert_true(created);
    hk_statement_release(&st);
    return id;
}

static void expect_fact(hk_txn *t, hk_fact_id id, const char *canonical)
{
    hk_fact f;
    hk_error err;
    hk_buf b = HK_BUF_INIT;
    hk_fact_init(&f);
    assert_int_equal(hk_store_get(t, id, &f, &err), HK_OK);
    assert_int_equal(hk_statement_format(&f.st, &b), HK_OK);
    assert_string_equal(b.data, canonical);
    hk_buf_free(&b);
    hk_fact_release(&f);
}

static void test_aborted_symbols_are_not_cached(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("abort");
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, true);
    hk_fact_id id = add_text(t, "Seen(kept_one)");
    assert_int_equal(hk_txn_commit(t, NULL), HK_OK);

    /* Create and decode new symbols, then throw them away. */
    for (int round = 0; round < 3; round++) {
        t = tu_begin(s, true);
        hk_fact_id gone = add_text(t, round == 0 ? "Aborted(never_was)"
                                                 : "Aborted(again, twice)");
        expect_fact(t, gone,
                    round == 0 ? "Aborted(never_was)"
                               : "Aborted(again, twice)");
        hk_txn_abort(t);
    }

    t = tu_begin(s, true);
    hk_fact_id later = add_text(t, "Committed(real_value, other)");
    assert_int_equal(hk_txn_commit(t, NULL), HK_OK);

    t = tu_begin(s, false);
    expect_fact(t, id, "Seen(kept_one)");
    expect_fact(t, later, "Committed(real_value, other)");
    hk_fact_id found = 0;
    hk_statement st;
    assert_int_equal(hk_statement_parse("Aborted(never_was)", 18, &st, NULL),
                     HK_OK);
    assert_int_equal(hk_store_find(t, &st, &found, NULL), HK_ERR_NOT_FOUND);
    hk_statement_release(&st);
    hk_txn_abort(t);

    /* The same holds for a fresh handle on the same files. */
    hk_store_close(s);
    s = tu_open(dir);
    t = tu_begin(s, false);
    expect_fact(t, later, "Committed(real_value, other)");
    hk_txn_abort(t);
    tu_discard(s, dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aborted_symbols_are_not_cached),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
