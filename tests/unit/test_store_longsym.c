/*
 * test_store_longsym.c — symbols of every length around the point where the
 * dictionary switches from the string itself to prefix + NUL + SHA-256 as
 * its key (480 bytes), and far beyond: each is stored, found, queried and
 * decoded exactly, and two long strings that share the hashed prefix stay
 * distinct.
 */
#include "test_store_util.h"

static void add_arg(hk_txn *t, const char *pred, const char *arg,
                    hk_fact_id *id)
{
    hk_statement st = {0};
    hk_error err;
    bool created = false;
    st.predicate = pred;
    st.n_args = 1;
    st.args[0] = arg;
    hk_err e = hk_store_add(t, &st, NULL, id, &created, &err);
    if (e) fail_msg("add %zu-byte argument: %s", strlen(arg), err.message);
    assert_true(created);
}

static void test_symbol_lengths(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("longsym");
    hk_store *s = tu_open(dir);
    static const size_t lens[] = {1,   439, 440, 441, 472, 473, 474, 475,
                                  476, 479, 480, 481, 482, 511, 600, 4096};
    enum { N = sizeof lens / sizeof lens[0] };
    char *args[N];
    hk_fact_id ids[N];
    hk_txn *t = tu_begin(s, true);
    for (size_t i = 0; i < N; i++) {
        args[i] = malloc(lens[i] + 1);
        assert_non_null(args[i]);
        memset(args[i], 'x', lens[i]);
        if (lens[i] > 1)
            args[i][lens[i] - 1] = 'y'; /* differs only at the end */
        args[i][lens[i]] = 0;
        add_arg(t, "Long", args[i], &ids[i]);
    }
    assert_int_equal(hk_txn_commit(t, NULL), HK_OK);

    t = tu_begin(s, false);
    hk_fact f;
    hk_fact_init(&f);
    for (size_t i = 0; i < N; i++) {
        hk_statement st = {0};
        hk_fact_id found = 0;
        st.predicate = "Long";
        st.n_args = 1;
        st.args[0] = args[i];
        assert_int_equal(hk_store_find(t, &st, &found, NULL), HK_OK);
        assert_true(found == ids[i]);
        assert_int_equal(hk_store_get(t, ids[i], &f, NULL), HK_OK);
        assert_string_equal(f.st.args[0], args[i]);
        uint64_t n = 0;
        assert_int_equal(hk_store_count_entity(t, args[i], &n, NULL), HK_OK);
        assert_true(n == 1);
        hk_scan sc = HK_SCAN_INIT;
        sc.entity = args[i];
        hk_query *q = NULL;
        bool has = false;
        assert_int_equal(hk_query_open_scan(t, &sc, NULL, &q, NULL), HK_OK);
        assert_int_equal(hk_query_next(q, &f, &has, NULL), HK_OK);
        assert_true(has && f.id == ids[i]);
        assert_int_equal(hk_query_next(q, &f, &has, NULL), HK_OK);
        assert_false(has);
        hk_query_close(q);
    }
    hk_fact_release(&f);
    hk_txn_abort(t);
    hk_store_close(s);
    for (size_t i = 0; i < N; i++)
        free(args[i]);
    tu_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_symbol_lengths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
