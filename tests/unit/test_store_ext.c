/*
 * test_store_ext.c — the store's extension points (src/store/store.h):
 * module databases (registration, access, persistence, backup, restore,
 * compaction and check) and change hooks (what each writer reports, the
 * outbox written in the change's transaction, failing hooks that abort,
 * bulk imports, after-commit notification).
 */
#include "test_store_util.h"

#include "core/mem.h"
#include "store/store.h"

/* ==== Helpers ==== */

static hks_val v_str(const char *s)
{
    hks_val v = {s, strlen(s)};
    return v;
}

static hks_db reg(hk_store *s, const char *name, unsigned flags)
{
    hks_db db = 0;
    hk_error err;
    hk_err e = hks_db_register(s, name, flags, &db, &err);
    if (e) fprintf(stderr, "register: %s\n", err.message);
    assert_int_equal(e, HK_OK);
    assert_true(db != 0);
    return db;
}

static void put_str(hk_txn *t, hks_db db, const char *k, const char *v)
{
    hk_error err;
    hk_err e = hks_put(t, db, v_str(k), v_str(v), 0, &err);
    if (e) fprintf(stderr, "put: %s\n", err.message);
    assert_int_equal(e, HK_OK);
}

/* Asserts that key k holds the string want. */
static void expect_str(hk_txn *t, hks_db db, const char *k, const char *want)
{
    hks_val v;
    hk_error err;
    assert_int_equal(hks_get(t, db, v_str(k), &v, &err), HK_OK);
    assert_int_equal(v.len, strlen(want));
    assert_memory_equal(v.data, want, v.len);
}

static uint64_t entries(hk_txn *t, hks_db db)
{
    uint64_t n = 0;
    hk_error err;
    assert_int_equal(hks_db_entries(t, db, &n, &err), HK_OK);
    return n;
}

static uint64_t fact_count(hk_store *s)
{
    hk_stats st;
    hk_error err;
    hk_txn *t = tu_begin(s, false);
    assert_int_equal(hk_store_stats(t, &st, &err), HK_OK);
    hk_txn_abort(t);
    return st.facts;
}

/* ==== Module databases ==== */

static void test_db_register_and_access(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("moddb");
    hk_store *s = tu_open(dir);
    hk_error err;
    hks_db db = 0, dup;

    /* names and flags are checked */
    const char *bad_names[] = {"",           "ab",       "nodot", ".x.y",
                               "Upper.case", "sp ace.x", "fact",  NULL};
    for (size_t i = 0; i < sizeof bad_names / sizeof *bad_names; i++) {
        assert_int_equal(hks_db_register(s, bad_names[i], 0, &db, &err),
                         HK_ERR_INVALID);
        assert_int_equal(db, 0);
    }
    assert_int_equal(hks_db_register(s, "test.x", HKS_DB_DUPFIXED, &db, &err),
                     HK_ERR_INVALID);
    assert_string_equal(err.field, "flags");
    assert_int_equal(hks_db_register(s, "test.x", 1u << 9, &db, &err),
                     HK_ERR_INVALID);
    assert_int_equal(hks_db_find(s, "test.kv", &db, &err), HK_ERR_NOT_FOUND);

    hks_db kv = reg(s, "test.kv", 0);
    assert_int_equal(reg(s, "test.kv", 0), kv); /* same handle again */
    assert_int_equal(hks_db_register(s, "test.kv", HKS_DB_DUPSORT, &db, &err),
                     HK_ERR_INVALID);
    dup = reg(s, "test.dups", HKS_DB_DUPSORT | HKS_DB_DUPFIXED);
    assert_true(dup != kv);
    assert_int_equal(hks_db_find(s, "test.kv", &db, &err), HK_OK);
    assert_int_equal(db, kv);

    hk_txn *t = tu_begin(s, true);
    /* unknown handles, bad keys, writes in a read txn */
    assert_int_equal(hks_put(t, 0, v_str("k"), v_str("v"), 0, &err),
                     HK_ERR_INVALID);
    assert_int_equal(hks_put(t, 99, v_str("k"), v_str("v"), 0, &err),
                     HK_ERR_INVALID);
    assert_int_equal(hks_put(t, kv, v_str(""), v_str("v"), 0, &err),
                     HK_ERR_INVALID);
    char big[600];
    memset(big, 'k', sizeof big - 1);
    big[sizeof big - 1] = 0;
    assert_int_equal(hks_put(t, kv, v_str(big), v_str("v"), 0, &err),
                     HK_ERR_INVALID);
    assert_int_equal(hks_put(t, kv, v_str("k"), v_str("v"), 1u << 7, &err),
                     HK_ERR_INVALID);

    put_str(t, kv, "b", "2");
    put_str(t, kv, "a", "1");
    put_str(t, kv, "c", "3");
    put_str(t, kv, "a", "one"); /* overwrite */
    assert_int_equal(
        hks_put(t, kv, v_str("a"), v_str("x"), HKS_PUT_NOOVERWRITE, &err),
        HK_ERR_EXISTS);
    assert_int_equal(
        hks_put(t, kv, v_str("0"), v_str("x"), HKS_PUT_APPEND, &err),
        HK_ERR_INVALID); /* out of order; the txn stays usable */
    assert_int_equal(
        hks_put(t, kv, v_str("d"), v_str("4"), HKS_PUT_APPEND, &err), HK_OK);
    expect_str(t, kv, "a", "one");
    hks_val v;
    assert_int_equal(hks_get(t, kv, v_str("zz"), &v, &err), HK_ERR_NOT_FOUND);
    assert_int_equal(hks_del(t, kv, v_str("zz"), NULL, &err), HK_ERR_NOT_FOUND);
    assert_int_equal(hks_del(t, kv, v_str("d"), NULL, &err), HK_OK);
    assert_int_equal(entries(t, kv), 3);

    /* duplicates: sorted values under a key, one removed by value */
    const char *vals[] = {"c3", "a1", "b2"};
    for (int i = 0; i < 3; i++)
        put_str(t, dup, "key", vals[i]);
    assert_int_equal(
        hks_put(t, dup, v_str("key"), v_str("a1"), HKS_PUT_NOOVERWRITE, &err),
        HK_ERR_EXISTS);
    hks_val b2 = v_str("b2");
    assert_int_equal(hks_del(t, dup, v_str("key"), &b2, &err), HK_OK);
    assert_int_equal(entries(t, dup), 2);
    tu_commit(t);

    /* cursor: seek, walk, past the end */
    t = tu_begin(s, false);
    assert_int_equal(hks_put(t, kv, v_str("k"), v_str("v"), 0, &err),
                     HK_ERR_STATE);
    hks_cursor *c = NULL;
    hks_val k;
    bool found;
    assert_int_equal(hks_cursor_open(t, 77, &c, &err), HK_ERR_INVALID);
    assert_null(c);
    assert_int_equal(hks_cursor_open(t, kv, &c, &err), HK_OK);
    const char *order[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(hks_cursor_next(c, &k, &v, &found, &err), HK_OK);
        assert_true(found);
        assert_int_equal(k.len, 1);
        assert_memory_equal(k.data, order[i], 1);
    }
    for (int i = 0; i < 3; i++) { /* past the end, and again */
        assert_int_equal(hks_cursor_next(c, &k, &v, &found, &err), HK_OK);
        assert_false(found);
    }
    assert_int_equal(hks_cursor_seek(c, v_str("bb"), &k, &v, &found, &err),
                     HK_OK);
    assert_true(found);
    assert_memory_equal(k.data, "c", 1);
    assert_memory_equal(v.data, "3", 1);
    assert_int_equal(hks_cursor_seek(c, v_str("zzz"), &k, &v, &found, &err),
                     HK_OK);
    assert_false(found);
    hks_val none = {NULL, 0};
    assert_int_equal(hks_cursor_seek(c, none, &k, &v, &found, &err), HK_OK);
    assert_true(found);
    assert_memory_equal(k.data, "a", 1);
    hks_cursor_close(c);
    assert_int_equal(hks_cursor_open(t, dup, &c, &err), HK_OK);
    assert_int_equal(hks_cursor_next(c, &k, &v, &found, &err), HK_OK);
    assert_memory_equal(v.data, "a1", 2);
    assert_int_equal(hks_cursor_next(c, &k, &v, &found, &err), HK_OK);
    assert_memory_equal(v.data, "c3", 2);
    assert_int_equal(hks_cursor_next(c, &k, &v, &found, &err), HK_OK);
    assert_false(found);
    hks_cursor_close(c);
    tu_check(t);
    hk_txn_abort(t);
    hk_store_close(s);

    /* the KB remembers its module databases */
    s = tu_open(dir);
    assert_int_equal(hks_db_find(s, "test.kv", &db, &err), HK_OK);
    t = tu_begin(s, false);
    expect_str(t, db, "a", "one");
    hk_txn_abort(t);
    hk_store_close(s);

    hk_store_options ro = {.read_only = true};
    assert_int_equal(hk_store_open(dir, &ro, &s, &err), HK_OK);
    assert_int_equal(hks_db_register(s, "test.kv", 0, &db, &err), HK_OK);
    assert_int_equal(hks_db_register(s, "test.new", 0, &db, &err),
                     HK_ERR_NOT_FOUND);
    tu_discard(s, dir);
}

static void test_db_limit(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("modlimit");
    hk_store *s = tu_open(dir);
    hk_error err;
    hks_db db;
    char name[32];
    for (unsigned i = 0; i < HKS_MODULE_DBS_MAX; i++) {
        snprintf(name, sizeof name, "lim.db%u", i);
        reg(s, name, i % 2 ? HKS_DB_INTEGERKEY : 0);
    }
    assert_int_equal(hks_db_register(s, "lim.over", 0, &db, &err),
                     HK_ERR_LIMIT);
    hk_store_close(s);
    s = tu_open(dir); /* all of them open again */
    assert_int_equal(hks_db_find(s, "lim.db31", &db, &err), HK_OK);
    hk_txn *t = tu_begin(s, true);
    uint64_t ik = 7;
    hks_val key = {&ik, sizeof ik}, val = v_str("seven");
    assert_int_equal(hks_put(t, db, key, val, 0, &err), HK_OK);
    hks_val bad = v_str("abc");
    assert_int_equal(hks_put(t, db, bad, val, 0, &err), HK_ERR_INVALID);
    tu_check(t);
    tu_commit(t);
    tu_discard(s, dir);
}

/* Fills a KB with facts and two module databases. */
static void fill_module_kb(hk_store *s, hks_db *kv, hks_db *dup)
{
    *kv = reg(s, "vec.items", 0);
    *dup = reg(s, "vec.links", HKS_DB_DUPSORT | HKS_DB_DUPFIXED);
    hk_txn *t = tu_begin(s, true);
    char k[32], v[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(k, sizeof k, "item%05d", i);
        snprintf(v, sizeof v, "value-%d", i * 7);
        put_str(t, *kv, k, v);
        uint32_t link = (uint32_t)i;
        hks_val lk = v_str(i % 2 ? "odd" : "even"), lv = {&link, 4};
        assert_int_equal(hks_put(t, *dup, lk, lv, 0, NULL), HK_OK);
        snprintf(k, sizeof k, "E%d", i % 50);
        tu_add(t, tu_st("Rel", k, "X", NULL), NULL);
    }
    tu_commit(t);
}

static void expect_module_kb(hk_store *s)
{
    hks_db kv, dup;
    hk_error err;
    assert_int_equal(hks_db_find(s, "vec.items", &kv, &err), HK_OK);
    assert_int_equal(hks_db_find(s, "vec.links", &dup, &err), HK_OK);
    hk_txn *t = tu_begin(s, false);
    assert_int_equal(entries(t, kv), 3000);
    assert_int_equal(entries(t, dup), 3000);
    expect_str(t, kv, "item02999", "value-20993");
    hks_cursor *c;
    hks_val k, v;
    bool found;
    uint32_t want = 0, n = 0;
    assert_int_equal(hks_cursor_open(t, dup, &c, &err), HK_OK);
    assert_int_equal(hks_cursor_seek(c, v_str("even"), &k, &v, &found, &err),
                     HK_OK);
    while (found && k.len == 4 && memcmp(k.data, "even", 4) == 0) {
        uint32_t got;
        memcpy(&got, v.data, 4);
        n++;
        want = got;
        assert_int_equal(hks_cursor_next(c, &k, &v, &found, &err), HK_OK);
    }
    hks_cursor_close(c);
    assert_int_equal(n, 1500);
    assert_true(want > 0);
    tu_check(t);
    hk_txn_abort(t);
    assert_int_equal(fact_count(s), 50);
}

static void test_db_backup_restore_compact(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("modbk");
    char *bk = tu_tmpdir("modbk-copy");
    char *rs = tu_tmpdir("modbk-restored");
    hk_error err;
    hks_db kv, dup;
    hk_store *s = tu_open(dir);
    fill_module_kb(s, &kv, &dup);
    assert_int_equal(hk_store_backup(s, bk, NULL, &err), HK_OK);
    hk_store_close(s);

    assert_int_equal(hk_backup_restore(bk, rs, false, &err), HK_OK);
    s = tu_open(rs);
    expect_module_kb(s);
    hk_store_close(s);

    hk_compact_report rep;
    assert_int_equal(hk_store_compact(dir, &rep, &err), HK_OK);
    s = tu_open(dir);
    expect_module_kb(s);
    hk_store_close(s);

    /* a KB whose recorded module database is gone does not open */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 64);
    assert_int_equal(mdb_env_open(env, dir, 0, 0644), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "vec.items", 0, &dbi), 0);
    assert_int_equal(mdb_drop(txn, dbi, 1), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    hk_store_options o = {0};
    assert_int_equal(hk_store_open(dir, &o, &s, &err), HK_ERR_CORRUPT);
    assert_non_null(strstr(err.message, "vec.items"));
    assert_null(s);
    tu_rmrf(dir);
    tu_rmrf(bk);
    tu_rmrf(rs);
    free(dir);
    free(bk);
    free(rs);
}

/* ==== Hooks ==== */

#define MAX_SEEN 64

typedef struct seen {
    hks_op op[MAX_SEEN];            /* operations, in call order */
    hk_fact_id id[MAX_SEEN];        /* their fact ids */
    hk_fact_id id_last[MAX_SEEN];   /* import ranges */
    uint64_t seq[MAX_SEEN];         /* their audit seqs */
    uint32_t pred_before[MAX_SEEN]; /* before->pred or 0 */
    uint32_t pred_after[MAX_SEEN];  /* after->pred or 0 */
    char st_after[MAX_SEEN][64];    /* predicate of st_after or "" */
    size_t n;                       /* calls */
    hks_db outbox;                  /* where the hook writes (0: nowhere) */
    int fail_at;                    /* call index that fails (-1: none) */
    hks_commit commits[MAX_SEEN];   /* after-commit calls */
    size_t n_commits;               /* their number */
} seen;

static hk_err record_change(hk_txn *t, const hks_change *c, void *ud,
                            hk_error *err)
{
    seen *s = ud;
    if (s->fail_at >= 0 && (size_t)s->fail_at == s->n)
        return hk_error_set(err, HK_ERR_INVALID, "refused on purpose");
    assert_true(s->n < MAX_SEEN);
    s->op[s->n] = c->op;
    s->id[s->n] = c->id;
    s->id_last[s->n] = c->id_last;
    s->seq[s->n] = c->audit_seq;
    s->pred_before[s->n] = c->before ? c->before->pred : 0;
    s->pred_after[s->n] = c->after ? c->after->pred : 0;
    snprintf(s->st_after[s->n], sizeof s->st_after[0], "%s",
             c->st_after ? c->st_after->predicate : "");
    if (c->after) { /* the symbol ids name the statement's strings */
        const char *p;
        size_t len;
        assert_int_equal(hks_sym_str(t, c->after->pred, &p, &len, NULL), HK_OK);
        assert_int_equal(len, strlen(c->st_after->predicate));
        assert_memory_equal(p, c->st_after->predicate, len);
    }
    s->n++;
    if (s->outbox) { /* an outbox entry: seq or fact id -> op */
        uint64_t k = c->audit_seq ? c->audit_seq : (1ull << 63) | c->id;
        uint8_t kb[8];
        for (int i = 0; i < 8; i++)
            kb[i] = (uint8_t)(k >> (56 - 8 * i));
        uint8_t op = (uint8_t)c->op;
        hks_val key = {kb, 8}, val = {&op, 1};
        hk_err e = hks_put(t, s->outbox, key, val, 0, err);
        if (e) return e;
    }
    return HK_OK;
}

static void record_commit(hk_store *st, const hks_commit *c, void *ud)
{
    seen *s = ud;
    assert_non_null(st);
    assert_true(s->n_commits < MAX_SEEN);
    s->commits[s->n_commits++] = *c;
}

static void add_hook(hk_store *s, const char *name, unsigned events, seen *sn)
{
    hks_hook h = {.name = name,
                  .events = events,
                  .on_change = record_change,
                  .on_commit = record_commit,
                  .ud = sn};
    hk_error err;
    assert_int_equal(hks_hook_add(s, &h, &err), HK_OK);
}

static void test_hooks_every_change(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("hooks");
    hk_store *s = tu_open(dir);
    hk_error err;
    seen sn;
    memset(&sn, 0, sizeof sn);
    sn.fail_at = -1;
    sn.outbox = reg(s, "cdc.outbox", 0);
    add_hook(s, "cdc", HKS_EV_ALL & ~(unsigned)HKS_EV_BULK_ADD, &sn);

    /* registration errors */
    hks_hook h = {.name = "cdc", .events = HKS_EV_ADD};
    assert_int_equal(hks_hook_add(s, &h, &err), HK_ERR_EXISTS);
    h.name = "";
    assert_int_equal(hks_hook_add(s, &h, &err), HK_ERR_INVALID);
    h.name = "x";
    h.events = 1u << 20;
    assert_int_equal(hks_hook_add(s, &h, &err), HK_ERR_INVALID);
    assert_int_equal(hks_hook_remove(s, "nope", &err), HK_ERR_NOT_FOUND);

    hk_txn *t = tu_begin(s, true);
    bool created;
    hk_fact_id a = tu_add(t, tu_st("Likes", "ann", "bob", NULL), &created);
    tu_add(t, tu_st("Likes", "ann", "bob", NULL), &created); /* MERGE */
    assert_false(created);
    hk_fact_id b = tu_add(t, tu_st("Knows", "bob", "cy", NULL), NULL);
    hk_statement nst = tu_st("Hates", "ann", "bob", NULL);
    hk_fact_id other;
    assert_int_equal(hk_store_update(t, a, &nst, &other, &err), HK_OK);
    hk_fact_meta m = {.fields = HK_META_CONFIDENCE, .confidence = 0.5};
    assert_int_equal(hk_store_set_meta(t, b, &m, &err), HK_OK);
    assert_int_equal(hk_store_delete(t, b, &err), HK_OK);
    assert_int_equal(sn.n, 5);
    assert_int_equal(entries(t, sn.outbox), 5); /* in the same txn */
    tu_commit(t);

    hks_op want[] = {HKS_OP_ADD, HKS_OP_ADD, HKS_OP_UPDATE, HKS_OP_META,
                     HKS_OP_DELETE};
    hk_fact_id want_id[] = {a, b, a, b, b};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(sn.op[i], want[i]);
        assert_int_equal(sn.id[i], want_id[i]);
        assert_int_equal(sn.seq[i], i + 1); /* audit entry of the change */
    }
    assert_string_equal(sn.st_after[0], "Likes");
    assert_string_equal(sn.st_after[2], "Hates");
    assert_true(sn.pred_before[2] != sn.pred_after[2]);
    assert_int_equal(sn.pred_before[3], sn.pred_after[3]);
    assert_int_equal(sn.pred_after[4], 0);
    assert_true(sn.pred_before[4] != 0);
    /* one after-commit call with the committed audit range */
    assert_int_equal(sn.n_commits, 1);
    assert_int_equal(sn.commits[0].first_seq, 1);
    assert_int_equal(sn.commits[0].last_seq, 5);
    assert_int_equal(sn.commits[0].commit, hk_store_last_commit(s));

    /* a txn that changes nothing notifies nobody */
    t = tu_begin(s, true);
    tu_add(t, tu_st("Hates", "ann", "bob", NULL), &created);
    assert_false(created);
    tu_commit(t);
    assert_int_equal(sn.n_commits, 1);

    /* removed: no more calls */
    assert_int_equal(hks_hook_remove(s, "cdc", &err), HK_OK);
    t = tu_begin(s, true);
    tu_add(t, tu_st("New", "x", NULL), NULL);
    tu_commit(t);
    assert_int_equal(sn.n, 5);
    assert_int_equal(sn.n_commits, 1);
    tu_discard(s, dir);
}

static void test_hook_failure_aborts(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("hookfail");
    hk_store *s = tu_open(dir);
    hk_error err;
    seen sn;
    memset(&sn, 0, sizeof sn);
    sn.outbox = reg(s, "cdc.outbox", 0);
    sn.fail_at = 2; /* the third change */
    add_hook(s, "cdc", HKS_EV_ALL, &sn);

    hk_txn *t = tu_begin(s, true);
    tu_add(t, tu_st("A", "1", NULL), NULL);
    tu_add(t, tu_st("A", "2", NULL), NULL);
    hk_statement st = tu_st("A", "3", NULL);
    hk_fact_id id;
    assert_int_equal(hk_store_add(t, &st, NULL, &id, NULL, &err),
                     HK_ERR_INVALID);
    assert_non_null(strstr(err.message, "refused on purpose"));
    assert_non_null(strstr(err.message, "'cdc'"));
    st = tu_st("A", "4", NULL);
    assert_int_equal(hk_store_add(t, &st, NULL, &id, NULL, &err), HK_ERR_STATE);
    assert_int_equal(hk_txn_commit(t, &err), HK_ERR_STATE);
    assert_int_equal(sn.n_commits, 0);

    /* nothing of the txn is stored: no facts, no outbox, no audit */
    assert_int_equal(fact_count(s), 0);
    t = tu_begin(s, false);
    assert_int_equal(entries(t, sn.outbox), 0);
    hk_audit_entry *v;
    size_t n;
    assert_int_equal(hk_audit_list(t, 0, 10, &v, &n, &err), HK_OK);
    assert_int_equal(n, 0);
    hk_audit_entries_free(v, n);
    tu_check(t);
    hk_txn_abort(t);

    /* the handle works on: the next txn commits */
    sn.fail_at = -1;
    sn.n = 0;
    t = tu_begin(s, true);
    tu_add(t, tu_st("A", "1", NULL), NULL);
    tu_commit(t);
    assert_int_equal(fact_count(s), 1);
    assert_int_equal(sn.n_commits, 1);
    tu_discard(s, dir);
}

/* A hook that adds a fact for every change: its own changes feed it again
 * until the nesting limit fails the transaction. */
static hk_err echo_change(hk_txn *t, const hks_change *c, void *ud,
                          hk_error *err)
{
    char arg[32];
    (void)ud;
    snprintf(arg, sizeof arg, "e%llu", (unsigned long long)c->id);
    hk_statement st = tu_st("Echo", arg, NULL);
    return hk_store_add(t, &st, NULL, NULL, NULL, err);
}

static void test_hook_nesting_limit(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("hooknest");
    hk_store *s = tu_open(dir);
    hk_error err;
    hks_hook h = {
        .name = "echo", .events = HKS_EV_ADD, .on_change = echo_change};
    assert_int_equal(hks_hook_add(s, &h, &err), HK_OK);
    hk_txn *t = tu_begin(s, true);
    hk_statement st = tu_st("Start", "x", NULL);
    assert_int_equal(hk_store_add(t, &st, NULL, NULL, NULL, &err),
                     HK_ERR_LIMIT);
    assert_int_equal(hk_txn_commit(t, &err), HK_ERR_STATE);
    assert_int_equal(fact_count(s), 0);
    tu_discard(s, dir);
}

static void test_hooks_bulk(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("hookbulk");
    hk_store *s = tu_open(dir);
    hk_error err;
    seen range, each;
    memset(&range, 0, sizeof range);
    memset(&each, 0, sizeof each);
    range.fail_at = each.fail_at = -1;
    add_hook(s, "range", HKS_EV_IMPORT | HKS_EV_DELETE, &range);
    add_hook(s, "each", HKS_EV_BULK_ADD | HKS_EV_ADD, &each);

    hk_txn *t = tu_begin(s, true);
    assert_int_equal(hk_txn_set_bulk(t, "file.txt"), HK_OK);
    hk_fact_id first = 0, last = 0;
    char arg[16];
    for (int i = 0; i < 20; i++) {
        snprintf(arg, sizeof arg, "n%d", i);
        last = tu_add(t, tu_st("Num", arg, NULL), NULL);
        if (!first) first = last;
    }
    assert_int_equal(hk_store_delete(t, first, &err), HK_OK);
    assert_int_equal(range.n, 1); /* the delete */
    assert_int_equal(each.n, 20); /* one per fact, no audit seq yet */
    assert_int_equal(each.seq[0], 0);
    tu_commit(t);
    assert_int_equal(range.n, 2);
    assert_int_equal(range.op[1], HKS_OP_IMPORT);
    assert_int_equal(range.id[1], first);
    assert_int_equal(range.id_last[1], last);
    assert_int_equal(range.seq[1], 2); /* after the delete's entry */
    assert_int_equal(range.n_commits, 1);
    assert_int_equal(range.commits[0].first_seq, 1);
    assert_int_equal(range.commits[0].last_seq, 2);

    /* a failing import hook fails the commit: nothing stored */
    range.fail_at = (int)range.n;
    t = tu_begin(s, true);
    assert_int_equal(hk_txn_set_bulk(t, "again"), HK_OK);
    tu_add(t, tu_st("Num", "more", NULL), NULL);
    assert_int_equal(hk_txn_commit(t, &err), HK_ERR_INVALID);
    assert_int_equal(fact_count(s), 19);

    /* writers above the store feed the hooks too: the importer */
    range.fail_at = -1;
    char path[600];
    snprintf(path, sizeof path, "%s/in.txt", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "Imp(a)\nImp(b)\nImp(c)\n");
    fclose(f);
    size_t before = range.n;
    hk_import_summary sum;
    assert_int_equal(hk_import_file(s, path, NULL, &sum, &err), HK_OK);
    assert_int_equal(sum.added, 3);
    assert_int_equal(range.n, before + 1);
    assert_int_equal(range.op[before], HKS_OP_IMPORT);
    assert_int_equal(range.id_last[before] - range.id[before], 2);
    tu_discard(s, dir);
}

/* ==== Allocation failures ==== */

static void test_nomem(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("extnomem");
    hk_store *s = tu_open(dir);
    hk_error err;
    hks_db db = reg(s, "test.kv", 0);
    hk_txn *t = tu_begin(s, true);
    tu_add(t, tu_st("A", "x", NULL), NULL);
    tu_add(t, tu_st("A", "y", NULL), NULL);
    put_str(t, db, "k", "v");
    tu_commit(t);
    t = tu_begin(s, false);
    hks_cursor *c = (hks_cursor *)1;
    hks_adj *a = (hks_adj *)1;
    hk_audit_iter *it = (hk_audit_iter *)1;
    hk_mem_fail_after(0);
    assert_int_equal(hks_cursor_open(t, db, &c, &err), HK_ERR_NOMEM);
    assert_int_equal(hks_adj_open(t, 2, -1, 0, &a, &err), HK_ERR_NOMEM);
    assert_int_equal(hk_audit_iter_open(t, 0, &it, &err), HK_ERR_NOMEM);
    hk_mem_fail_after(-1);
    assert_null(c);
    assert_null(a);
    assert_null(it);
    /* an entry that cannot be copied: NOMEM, and the next call hands out
     * the same entry (first and later in the log) */
    const hk_audit_entry *e = NULL;
    assert_int_equal(hk_audit_iter_open(t, 0, &it, &err), HK_OK);
    for (uint64_t seq = 1; seq <= 2; seq++) {
        hk_mem_fail_after(0);
        assert_int_equal(hk_audit_iter_next(it, &e, &err), HK_ERR_NOMEM);
        hk_mem_fail_after(-1);
        assert_null(e);
        assert_int_equal(hk_audit_iter_next(it, &e, &err), HK_OK);
        assert_non_null(e);
        assert_int_equal(e->seq, seq);
    }
    hk_audit_iter_close(it);
    hk_txn_abort(t);
    tu_discard(s, dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_db_register_and_access),
        cmocka_unit_test(test_db_limit),
        cmocka_unit_test(test_db_backup_restore_compact),
        cmocka_unit_test(test_hooks_every_change),
        cmocka_unit_test(test_hook_failure_aborts),
        cmocka_unit_test(test_hook_nesting_limit),
        cmocka_unit_test(test_hooks_bulk),
        cmocka_unit_test(test_nomem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
