/*
 * test_store_audit_iter.c — oldest-first audit iteration
 * (hk_audit_iter_*): every entry once in seq order from any start, per-fact
 * and bulk import entries alike, equal to hk_audit_list's newest-first
 * view; past the end; inside a write transaction; and a log with a removed
 * or edited entry names it while hk_audit_verify agrees.
 */
#include "test_store_util.h"

/* A KB with per-fact entries, a bulk import entry, a delete and a meta
 * change: 8 entries. */
static void build(const char *dir)
{
    hk_store *s = tu_open(dir);
    hk_error err;
    hk_txn *t = tu_begin(s, true);
    hk_fact_id a = tu_add(t, tu_st("A", "1", NULL), NULL); /* 1 */
    tu_add(t, tu_st("A", "2", NULL), NULL);                /* 2 */
    tu_commit(t);
    t = tu_begin(s, true);
    assert_int_equal(hk_txn_set_bulk(t, "bulk"), HK_OK);
    char arg[16];
    for (int i = 0; i < 50; i++) {
        snprintf(arg, sizeof arg, "b%d", i);
        tu_add(t, tu_st("B", arg, NULL), NULL);
    }
    assert_int_equal(hk_store_delete(t, a, &err), HK_OK); /* 3 */
    tu_commit(t);                                         /* import: 4 */
    t = tu_begin(s, true);
    tu_add(t, tu_st("C", "1", NULL), NULL); /* 5 */
    hk_fact_meta m = {.fields = HK_META_SOURCE, .source = "x"};
    assert_int_equal(hk_store_set_meta(t, 2, &m, &err), HK_OK); /* 6 */
    tu_add(t, tu_st("C", "2", NULL), NULL);                     /* 7 */
    tu_add(t, tu_st("C", "3", NULL), NULL);                     /* 8 */
    tu_commit(t);
    hk_store_close(s);
}

/* Iterates from `from` and compares with hk_audit_list. Returns entries. */
static uint64_t iterate(hk_txn *t, uint64_t from)
{
    hk_audit_entry *v;
    size_t n;
    hk_error err;
    assert_int_equal(hk_audit_list(t, 0, 1000, &v, &n, &err), HK_OK);
    hk_audit_iter *it = NULL;
    const hk_audit_entry *e;
    uint64_t seen = 0, want = from ? from : 1;
    assert_int_equal(hk_audit_iter_open(t, from, &it, &err), HK_OK);
    for (;;) {
        assert_int_equal(hk_audit_iter_next(it, &e, &err), HK_OK);
        if (!e) break;
        assert_int_equal(e->seq, want);
        const hk_audit_entry *l = &v[n - e->seq]; /* newest first */
        assert_int_equal(l->seq, e->seq);
        assert_string_equal(l->op, e->op);
        assert_string_equal(l->actor, e->actor);
        assert_int_equal(l->fact_id, e->fact_id);
        assert_int_equal(l->fact_id_last, e->fact_id_last);
        assert_int_equal(l->count, e->count);
        assert_memory_equal(l->hash, e->hash, 32);
        assert_memory_equal(l->prev_hash, e->prev_hash, 32);
        want++;
        seen++;
    }
    for (int i = 0; i < 3; i++) { /* past the end, again and again */
        assert_int_equal(hk_audit_iter_next(it, &e, &err), HK_OK);
        assert_null(e);
    }
    hk_audit_iter_close(it);
    hk_audit_entries_free(v, n);
    return seen;
}

static void test_iterate_from_any_seq(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("auditer");
    build(dir);
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, false);
    assert_int_equal(iterate(t, 0), 8);
    assert_int_equal(iterate(t, 1), 8);
    assert_int_equal(iterate(t, 4), 5);
    assert_int_equal(iterate(t, 8), 1);
    assert_int_equal(iterate(t, 9), 0);
    assert_int_equal(iterate(t, UINT64_MAX), 0);

    /* the import entry covers the bulk range */
    hk_audit_iter *it;
    const hk_audit_entry *e;
    hk_error err;
    assert_int_equal(hk_audit_iter_open(t, 3, &it, &err), HK_OK);
    assert_int_equal(hk_audit_iter_next(it, &e, &err), HK_OK);
    assert_string_equal(e->op, "delete");
    assert_int_equal(hk_audit_iter_next(it, &e, &err), HK_OK);
    assert_string_equal(e->op, "import");
    assert_int_equal(e->count, 50);
    assert_int_equal(e->fact_id_last - e->fact_id, 49);
    hk_audit_iter_close(it);

    /* iterating changes nothing: the chain still verifies */
    hk_audit_report rep;
    assert_int_equal(hk_audit_verify(t, &rep, &err), HK_OK);
    assert_true(rep.ok);
    assert_int_equal(rep.checked, 8);

    /* bad arguments and a reset txn */
    assert_int_equal(hk_audit_iter_open(t, 0, NULL, &err), HK_ERR_INVALID);
    assert_int_equal(hk_audit_iter_next(NULL, &e, &err), HK_ERR_INVALID);
    hk_audit_iter_close(NULL);
    hk_txn_reset(t);
    it = NULL;
    assert_int_equal(hk_audit_iter_open(t, 0, &it, &err), HK_ERR_STATE);
    assert_null(it);
    hk_txn_abort(t);

    /* in a write txn: its own entries appear */
    t = tu_begin(s, true);
    tu_add(t, tu_st("D", "1", NULL), NULL);
    assert_int_equal(iterate(t, 8), 2);
    hk_txn_abort(t);
    tu_discard(s, dir);
}

/* Removes (del) or edits one byte of (!del) entry seq with raw LMDB. */
static void tamper(const char *dir, uint64_t seq, bool del)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    uint8_t kb[8];
    for (int i = 0; i < 8; i++)
        kb[i] = (uint8_t)(seq >> (56 - 8 * i));
    MDB_val k = {8, kb}, d;
    assert_int_equal(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 64);
    assert_int_equal(mdb_env_open(env, dir, 0, 0644), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "audit", 0, &dbi), 0);
    if (del) {
        assert_int_equal(mdb_del(txn, dbi, &k, NULL), 0);
    } else {
        assert_int_equal(mdb_get(txn, dbi, &k, &d), 0);
        uint8_t *copy = malloc(d.mv_size);
        memcpy(copy, d.mv_data, d.mv_size);
        copy[1 + 7] ^= 1; /* the low byte of the seq field */
        MDB_val nd = {d.mv_size, copy};
        assert_int_equal(mdb_put(txn, dbi, &k, &nd, 0), 0);
        free(copy);
    }
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

/* Iterates from 1 and expects HK_ERR_CORRUPT naming bad after good
 * entries; hk_audit_verify names the same entry. */
static void expect_corrupt(const char *dir, uint64_t good, uint64_t bad)
{
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, false);
    hk_audit_iter *it;
    const hk_audit_entry *e;
    hk_error err;
    char want[64];
    uint64_t n = 0;
    hk_err rc;
    assert_int_equal(hk_audit_iter_open(t, 1, &it, &err), HK_OK);
    while ((rc = hk_audit_iter_next(it, &e, &err)) == HK_OK && e)
        n++;
    assert_int_equal(rc, HK_ERR_CORRUPT);
    assert_int_equal(n, good);
    snprintf(want, sizeof want, "audit entry %llu ", (unsigned long long)bad);
    assert_non_null(strstr(err.message, want));
    hk_audit_iter_close(it);
    hk_audit_report rep;
    assert_int_equal(hk_audit_verify(t, &rep, &err), HK_OK);
    assert_false(rep.ok);
    assert_int_equal(rep.first_bad, bad);
    hk_txn_abort(t);
    hk_store_close(s);
}

static void test_tampered_log(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("auditer-del");
    build(dir);
    tamper(dir, 5, true);
    expect_corrupt(dir, 4, 5);
    tu_rmrf(dir);
    free(dir);

    dir = tu_tmpdir("auditer-edit");
    build(dir);
    tamper(dir, 3, false);
    expect_corrupt(dir, 2, 3);
    tu_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iterate_from_any_seq),
        cmocka_unit_test(test_tampered_log),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
