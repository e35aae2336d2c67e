/*
 * test_store_upgrade.c — the covering adjacency (format 3: co-arguments of
 * binary facts in by_arg) and the upgrade of a format 2 KB.
 *
 * The oracle for every adjacency row is the fact's record
 * (hks_fact_syms_get): a row covers its fact exactly when the fact is
 * binary, and then the row's symbols are the record's. A format 2 KB is
 * made from a format 3 one with raw LMDB (duplicates cut to their first 11
 * bytes, version set to 2), which is byte for byte what version 2 wrote.
 */
#include "test_store_util.h"

#include <lmdb.h>

#include "store/store.h"

#define N_ENT 60u
#define N_FACTS 3000u

/* Random facts of arity 1..4 over N_ENT entities and 5 predicates, with
 * repeated entities (P(a, a)) and deletions, so that every shape of row is
 * there. */
static void fill(hk_store *s)
{
    uint64_t seed = 9;
    char ent[HK_MAX_ARGS][16], pred[16];
    hk_txn *t = tu_begin(s, true);
    for (uint32_t i = 0; i < N_FACTS; i++) {
        uint64_t r = tu_rand(&seed);
        uint32_t n = (r % 10) < 7 ? 2 : (uint32_t)(1 + (r >> 8) % 4);
        hk_statement st;
        memset(&st, 0, sizeof st);
        snprintf(pred, sizeof pred, "P%u", (unsigned)((r >> 16) % 5));
        st.predicate = pred;
        for (uint32_t k = 0; k < n; k++) {
            snprintf(ent[k], sizeof ent[k], "e%u",
                     (unsigned)(tu_rand(&seed) % N_ENT));
            st.args[k] = ent[k];
        }
        st.n_args = n;
        bool created;
        hk_fact_id id = tu_add(t, st, &created);
        if (i % 7 == 3) {
            hk_error err;
            assert_int_equal(hk_store_delete(t, id, &err), HK_OK);
        }
    }
    tu_commit(t);
}

/* Every adjacency row of every entity against the records; returns the
 * number of rows and adds a checksum of them to *sum. */
static uint64_t check_rows(hk_store *s, uint64_t *sum)
{
    hk_txn *t = tu_begin(s, false);
    hk_error err;
    uint64_t rows = 0, covered = 0;
    for (uint32_t e = 0; e < N_ENT; e++) {
        char name[16];
        uint32_t sym;
        snprintf(name, sizeof name, "e%u", e);
        if (hks_sym_id(t, name, strlen(name), &sym, &err) != HK_OK) continue;
        hks_adj *a = NULL;
        assert_int_equal(hks_adj_open(t, sym, -1, 0, &a, &err), HK_OK);
        for (;;) {
            hks_adj_row row;
            bool has;
            assert_int_equal(hks_adj_next(a, &row, &has, &err), HK_OK);
            if (!has) break;
            hks_fact_syms rec, cov;
            assert_int_equal(hks_fact_syms_get(t, row.fact, &rec, &err), HK_OK);
            assert_int_equal(rec.pred, row.pred);
            assert_int_equal(rec.args[row.pos], sym);
            bool c = hks_adj_row_syms(&row, sym, &cov);
            assert_int_equal(c, rec.n_args == 2);
            if (c) {
                assert_int_equal(cov.n_args, 2);
                assert_int_equal(cov.pred, rec.pred);
                assert_int_equal(cov.args[0], rec.args[0]);
                assert_int_equal(cov.args[1], rec.args[1]);
                covered++;
            } else {
                assert_int_equal(row.co, 0);
            }
            *sum += row.fact * 31 + row.pos * 7 + row.pred + row.co * 131;
            rows++;
        }
        hks_adj_close(a);
    }
    tu_check(t);
    hk_txn_abort(t);
    assert_true(covered > 0 && covered < rows);
    return rows;
}

/* Raw LMDB: by_arg back to 11-byte duplicates and schema version 2. */
static void make_v2(const char *dir)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi arg, meta;
    MDB_cursor *c;
    MDB_val k, d;
    txn = tu_raw_begin(dir, &env);
    assert_int_equal(
        mdb_dbi_open(txn, "by_arg", MDB_DUPSORT | MDB_DUPFIXED, &arg), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    size_t n = 0, cap = 1024;
    uint8_t *all = malloc(cap * 15);
    assert_non_null(all);
    assert_int_equal(mdb_cursor_open(txn, arg, &c), 0);
    for (int rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        assert_int_equal(d.mv_size, 15);
        if (n == cap) {
            cap *= 2;
            all = realloc(all, cap * 15);
            assert_non_null(all);
        }
        memcpy(all + n * 15, k.mv_data, 4);
        memcpy(all + n * 15 + 4, d.mv_data, 11);
        n++;
    }
    mdb_cursor_close(c);
    assert_int_equal(mdb_drop(txn, arg, 0), 0);
    for (size_t i = 0; i < n; i++) {
        MDB_val ek = {4, all + i * 15}, ed = {11, all + i * 15 + 4};
        assert_int_equal(mdb_put(txn, arg, &ek, &ed, 0), 0);
    }
    free(all);
    uint8_t v[4] = {0, 0, 0, 2};
    MDB_val vk = {14, "schema_version"}, vd = {4, v};
    assert_int_equal(mdb_put(txn, meta, &vk, &vd, 0), 0);
    tu_raw_commit(env, txn);
}

/* A new KB writes covering rows; a format 2 copy of it is refused
 * read-only with the command that upgrades it, and upgraded by a writable
 * open to exactly the rows the new KB had. */
static void test_upgrade_v2(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("upgrade");
    hk_store *s = tu_open(dir);
    fill(s);
    uint64_t sum_new = 0, sum_up = 0;
    uint64_t rows = check_rows(s, &sum_new);
    hk_store_close(s);

    make_v2(dir);
    hk_store_options ro = {0};
    ro.read_only = true;
    hk_error err;
    assert_int_equal(hk_store_open(dir, &ro, &s, &err), HK_ERR_VERSION);
    assert_non_null(strstr(err.message, "version 2"));
    assert_non_null(strstr(err.message, "hakgal init --data"));

    s = tu_open(dir); /* writable: upgrades */
    assert_int_equal(check_rows(s, &sum_up), rows);
    assert_true(sum_up == sum_new);
    hk_store_close(s);
    assert_int_equal(hk_store_open(dir, &ro, &s, &err), HK_OK);
    hk_store_close(s);
    tu_rmrf(dir);
    free(dir);
}

/* A wrong co-argument is damage the validator names: joins would read it
 * instead of the record. */
static void test_check_wrong_coarg(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("coarg");
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, true);
    tu_add(t, tu_st("HasPart", "Computer", "CPU", NULL), NULL);
    tu_commit(t);
    hk_store_close(s);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi arg;
    MDB_cursor *c;
    MDB_val k, d;
    txn = tu_raw_begin(dir, &env);
    assert_int_equal(
        mdb_dbi_open(txn, "by_arg", MDB_DUPSORT | MDB_DUPFIXED, &arg), 0);
    assert_int_equal(mdb_cursor_open(txn, arg, &c), 0);
    assert_int_equal(mdb_cursor_get(c, &k, &d, MDB_FIRST), 0);
    uint8_t key[4], dup[15];
    memcpy(key, k.mv_data, 4);
    memcpy(dup, d.mv_data, 15);
    assert_int_equal(mdb_cursor_del(c, 0), 0);
    mdb_cursor_close(c);
    dup[14] ^= 1; /* another symbol id as co-argument */
    MDB_val nk = {4, key}, nd = {15, dup};
    assert_int_equal(mdb_put(txn, arg, &nk, &nd, 0), 0);
    tu_raw_commit(env, txn);

    s = tu_open(dir);
    t = tu_begin(s, false);
    tu_check_fails(t, "by_arg");
    hk_txn_abort(t);
    tu_discard(s, dir);
}

/* hks_pred_walk gives every fact of a predicate once, in id order (by key:
 * in any order), with the record's symbols, across several pages of ids, after
 * deletions, and sees the writes of its own transaction. */
static void test_pred_walk(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("predwalk");
    hk_store *s = tu_open(dir);
    fill(s);
    hk_txn *t = tu_begin(s, true);
    char a[16], b[16];
    for (uint32_t i = 0; i < 3000; i++) { /* > 1 page of by_pred ids */
        snprintf(a, sizeof a, "x%u", i);
        snprintf(b, sizeof b, "y%u", i % 17);
        tu_add(t, i % 3 ? tu_st("Big", a, b, NULL) : tu_st("Big", a, NULL),
               NULL);
    }
    hk_error err;
    for (uint32_t p = 0; p < 6; p++) {
        char name[8];
        snprintf(name, sizeof name, p < 5 ? "P%u" : "Big", p);
        uint32_t pred;
        assert_int_equal(hks_sym_id(t, name, strlen(name), &pred, &err), HK_OK);
        uint64_t want = 0, n = 0;
        assert_int_equal(hks_pred_count(t, pred, &want, &err), HK_OK);
        hks_pred_walk *w = NULL;
        assert_int_equal(hks_pred_open(t, pred, HKS_PRED_BY_ID, &w, &err),
                         HK_OK);
        hk_fact_id last = 0;
        for (;;) {
            hk_fact_id id;
            hks_fact_syms fs, rec;
            bool has;
            assert_int_equal(hks_pred_next(w, &id, &fs, &has, &err), HK_OK);
            if (!has) break;
            assert_true(id > last);
            last = id;
            assert_int_equal(hks_fact_syms_get(t, id, &rec, &err), HK_OK);
            assert_int_equal(fs.pred, pred);
            assert_int_equal(fs.n_args, rec.n_args);
            assert_memory_equal(fs.args, rec.args,
                                rec.n_args * sizeof rec.args[0]);
            n++;
        }
        hks_pred_close(w);
        assert_int_equal(n, want);
        assert_true(n > 0);
        if (p == 5) assert_int_equal(n, 3000);
        /* by key: the same facts (each once, symbols as the records) */
        assert_int_equal(hks_pred_open(t, pred, HKS_PRED_BY_KEY, &w, &err),
                         HK_OK);
        uint8_t *seen = calloc((size_t)last + 1, 1);
        assert_non_null(seen);
        uint64_t nk = 0;
        for (;;) {
            hk_fact_id id;
            hks_fact_syms fs, rec;
            bool has;
            assert_int_equal(hks_pred_next(w, &id, &fs, &has, &err), HK_OK);
            if (!has) break;
            assert_true(id >= 1 && id <= last);
            assert_int_equal(seen[id], 0);
            seen[id] = 1;
            assert_int_equal(hks_fact_syms_get(t, id, &rec, &err), HK_OK);
            assert_int_equal(fs.pred, pred);
            assert_int_equal(fs.n_args, rec.n_args);
            assert_memory_equal(fs.args, rec.args,
                                rec.n_args * sizeof rec.args[0]);
            nk++;
        }
        hks_pred_close(w);
        free(seen);
        assert_int_equal(nk, want);
    }
    hk_txn_abort(t);
    tu_discard(s, dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upgrade_v2),
        cmocka_unit_test(test_check_wrong_coarg),
        cmocka_unit_test(test_pred_walk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
