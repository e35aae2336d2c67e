/*
 * test_store_verify.c — the data digest and the deep verification
 * (src/store/verify.c): the digest stays equal to a recomputation through
 * adds, updates, deletes and aborted transactions; an edited symbol
 * string, record, index key or stored digest is found and named; a KB
 * without a digest (made before it existed) opens, verifies its indexes,
 * and gets a digest from hk_store_rehash that later writes keep; a file
 * truncated under an open reader is reported, not a SIGBUS.
 */
#include "test_store_util.h"

static hk_verify_report g_rep; /* 4 KiB: not on the stack */

static void verify(hk_store *s, bool want_ok)
{
    hk_txn *t = tu_begin(s, false);
    hk_error err;
    assert_int_equal(hk_store_verify_deep(t, &g_rep, &err), HK_OK);
    hk_txn_abort(t);
    if (g_rep.ok != want_ok)
        fail_msg("verify ok=%d, want %d; first problem: %s", g_rep.ok, want_ok,
                 g_rep.n_problems ? g_rep.problems[0] : "-");
}

static bool has_problem(const char *needle)
{
    for (uint64_t i = 0; i < g_rep.n_problems && i < HK_VERIFY_PROBLEMS_MAX;
         i++)
        if (strstr(g_rep.problems[i], needle)) return true;
    return false;
}

static hk_store *populated(char **dir)
{
    *dir = tu_tmpdir("verify");
    hk_store *s = tu_open(*dir);
    hk_txn *t = tu_begin(s, true);
    bool created;
    for (unsigned i = 0; i < 200; i++) {
        char a[32], b[32];
        snprintf(a, sizeof a, "Computer%u", i);
        snprintf(b, sizeof b, "Machine%u", i % 7);
        tu_add(t, tu_st("IsA", a, b, NULL), &created);
    }
    tu_add(t, tu_st("IsA", "Computer", "Machine", NULL), &created);
    tu_commit(t);
    return s;
}

static void test_digest_follows_writes(void **state)
{
    (void)state;
    char *dir;
    hk_store *s = populated(&dir);
    verify(s, true);
    assert_true(g_rep.has_digest);
    assert_int_equal(g_rep.facts, 201);
    hk_error err;
    hk_txn *t;
    hk_fact_id other = 0;
    t = tu_begin(s, true);
    hk_statement st = tu_st("HasPart", "Computer3", "CPU", NULL);
    assert_int_equal(hk_store_update(t, 3, &st, &other, &err), HK_OK);
    assert_int_equal(hk_store_delete(t, 5, &err), HK_OK);
    hk_fact_meta m = {.fields = HK_META_CONFIDENCE, .confidence = 0.5};
    assert_int_equal(hk_store_set_meta(t, 7, &m, &err), HK_OK);
    tu_commit(t);
    verify(s, true);
    assert_int_equal(g_rep.facts, 200);
    /* an aborted write leaves the committed digest */
    t = tu_begin(s, true);
    bool created;
    tu_add(t, tu_st("New", "Thing", "Here", NULL), &created);
    hk_txn_abort(t);
    verify(s, true);
    tu_discard(s, dir);
}

/* Writes raw bytes under the store, as an editor of data.mdb would. */
static void raw_put(hk_store *s, MDB_dbi dbi, MDB_val *k, MDB_val *d)
{
    hk_txn *t = tu_begin(s, true);
    assert_int_equal(mdb_put(t->txn, dbi, k, d, 0), 0);
    tu_commit(t);
}

static void test_edited_symbol(void **state)
{
    (void)state;
    char *dir;
    hk_store *s = populated(&dir);
    hk_txn *t = tu_begin(s, false);
    uint32_t id = 0;
    hk_error err;
    assert_int_equal(hks_sym_lookup(t, "Computer", 8, &id, &err), HK_OK);
    hk_txn_abort(t);
    assert_true(id > 0);
    HKS_SYM_ID_KEY(k, id);
    MDB_val d = {8, (void *)"Komputer"};
    raw_put(s, s->db.sym_id, &k, &d);
    verify(s, false);
    assert_false(g_rep.digest_ok);
    char want[64];
    snprintf(want, sizeof want, "symbol %u 'Komputer'", id);
    assert_true(has_problem(want));
    tu_discard(s, dir);
}

static void test_edited_sym_key(void **state)
{
    (void)state;
    char *dir;
    hk_store *s = populated(&dir);
    hk_txn *t = tu_begin(s, true);
    MDB_val k = {8, (void *)"Computer"}, d, k2 = {8, (void *)"Komputer"};
    assert_int_equal(mdb_get(t->txn, s->db.sym, &k, &d), 0);
    uint8_t v[4];
    memcpy(v, d.mv_data, 4);
    MDB_val d2 = {4, v};
    assert_int_equal(mdb_del(t->txn, s->db.sym, &k, NULL), 0);
    assert_int_equal(mdb_put(t->txn, s->db.sym, &k2, &d2, 0), 0);
    tu_commit(t);
    verify(s, false);
    assert_true(g_rep.digest_ok); /* the data is intact, an index is not */
    assert_true(has_problem("sym: key 'Komputer'"));
    tu_discard(s, dir);
}

static void test_edited_index_entry(void **state)
{
    (void)state;
    char *dir;
    hk_store *s = populated(&dir);
    /* by_pred: the entry of fact 9 now names fact 999 */
    hk_txn *t = tu_begin(s, true);
    hks_rec r;
    hk_error err;
    assert_int_equal(hks_rec_get(t, 9, &r, &err), HK_OK);
    uint8_t pk[4], idb[HKS_ID_BYTES];
    hks_put_u32(pk, r.pred);
    hks_put_u48(idb, 9);
    MDB_val k = {4, pk}, d = {HKS_ID_BYTES, idb};
    assert_int_equal(mdb_del(t->txn, s->db.by_pred, &k, &d), 0);
    hks_put_u48(idb, 999);
    assert_int_equal(mdb_put(t->txn, s->db.by_pred, &k, &d, 0), 0);
    tu_commit(t);
    verify(s, false);
    assert_true(has_problem("by_pred: symbol"));
    assert_true(has_problem("fact 999, which does not exist"));
    tu_discard(s, dir);
}

static void test_edited_record(void **state)
{
    (void)state;
    char *dir;
    hk_store *s = populated(&dir);
    hk_txn *t = tu_begin(s, true);
    HKS_FACT_KEY(k, 4);
    MDB_val d;
    assert_int_equal(mdb_get(t->txn, s->db.fact, &k, &d), 0);
    uint8_t buf[256];
    assert_true(d.mv_size <= sizeof buf);
    memcpy(buf, d.mv_data, d.mv_size);
    buf[d.mv_size - 1] ^= 1; /* a metadata byte (times) */
    MDB_val d2 = {d.mv_size, buf};
    assert_int_equal(mdb_put(t->txn, s->db.fact, &k, &d2, 0), 0);
    tu_commit(t);
    verify(s, false);
    assert_false(g_rep.digest_ok);
    tu_discard(s, dir);
}

static void test_old_kb_rehash(void **state)
{
    (void)state;
    char *dir;
    hk_store *s = populated(&dir);
    /* a KB made before the digest: no "state_digest" in meta */
    hk_txn *t = tu_begin(s, true);
    MDB_val k = {12, (void *)"state_digest"};
    assert_int_equal(mdb_del(t->txn, s->db.meta, &k, NULL), 0);
    t->c.has_digest = false; /* the commit must not write it back */
    tu_commit(t);
    verify(s, true); /* indexes are checked; the digest is missing */
    assert_false(g_rep.has_digest);
    /* writes keep working without a digest */
    t = tu_begin(s, true);
    bool created;
    tu_add(t, tu_st("IsA", "Old", "Kb", NULL), &created);
    tu_commit(t);
    verify(s, true);
    assert_false(g_rep.has_digest);
    /* rehash, then every write keeps it */
    hk_error err;
    t = tu_begin(s, true);
    assert_int_equal(hk_store_rehash(t, &err), HK_OK);
    tu_commit(t);
    verify(s, true);
    assert_true(g_rep.has_digest);
    t = tu_begin(s, true);
    tu_add(t, tu_st("IsA", "After", "Rehash", NULL), &created);
    assert_int_equal(hk_store_delete(t, 2, &err), HK_OK);
    tu_commit(t);
    verify(s, true);
    assert_true(g_rep.has_digest && g_rep.digest_ok);
    tu_discard(s, dir);
}

/* data.mdb cut short while a reader has it open: the deep check reports
 * the byte it could not read instead of dying of SIGBUS. */
static void test_truncated_while_open(void **state)
{
    (void)state;
    char *dir;
    hk_store *s = populated(&dir);
    char path[600];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    hk_txn *t = tu_begin(s, false);
    assert_int_equal(truncate(path, 3 * 4096), 0);
    hk_error err;
    assert_int_equal(hk_store_verify_deep(t, &g_rep, &err), HK_OK);
    assert_false(g_rep.ok);
    assert_true(has_problem("reading byte"));
    hk_stats st; /* the snapshot is dead: refused, not read */
    assert_int_not_equal(hk_store_stats(t, &st, &err), HK_OK);
    hk_txn_abort(t);
    tu_discard(s, dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_digest_follows_writes),
        cmocka_unit_test(test_edited_symbol),
        cmocka_unit_test(test_edited_sym_key),
        cmocka_unit_test(test_edited_index_entry),
        cmocka_unit_test(test_edited_record),
        cmocka_unit_test(test_old_kb_rehash),
        cmocka_unit_test(test_truncated_while_open),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
