/*
 * test_store_basic.c — store CRUD: open/create, add (MERGE), get, find,
 * delete, update (incl. EXISTS), metadata, counts and stats, long symbols,
 * persistence across reopen, schema version refusal and failed-txn rules.
 */
#include "test_store_util.h"

#include <lmdb.h>
#include <math.h>
#include <sys/wait.h>

#include "core/mem.h"

static void test_open_missing(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("missing");
    char sub[600];
    snprintf(sub, sizeof sub, "%s/nope", dir);
    hk_store_options o = {0};
    hk_store *s = NULL;
    hk_error err;
    assert_int_equal(hk_store_open(sub, &o, &s, &err), HK_ERR_NOT_FOUND);
    assert_null(s);
    /* An existing empty dir without create is not a KB either. */
    assert_int_equal(hk_store_open(dir, &o, &s, &err), HK_ERR_NOT_FOUND);
    o.create = true;
    assert_int_equal(hk_store_open(sub, &o, &s, &err), HK_OK);
    assert_string_equal(hk_store_path(s), sub);
    tu_discard(s, dir);
}

static void test_add_get_find_merge(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("crud");
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, true);
    bool created;
    hk_fact_id a =
        tu_add(t, tu_st("HasPart", "Computer", "CPU", NULL), &created);
    assert_true(created);
    hk_fact_id b =
        tu_add(t, tu_st("Bond", "NH3", "chlorine", "carbon", NULL), &created);
    assert_true(created);
    assert_true(b > a);
    /* MERGE: same statement, same id, not created. */
    hk_fact_id a2 =
        tu_add(t, tu_st("HasPart", "Computer", "CPU", NULL), &created);
    assert_false(created);
    assert_int_equal(a2, a);
    tu_commit(t);

    t = tu_begin(s, false);
    hk_fact f;
    hk_error err;
    hk_fact_init(&f);
    assert_int_equal(hk_store_get(t, b, &f, &err), HK_OK);
    assert_string_equal(f.st.predicate, "Bond");
    assert_int_equal(f.st.n_args, 3);
    assert_string_equal(f.st.args[2], "carbon");
    assert_true(f.confidence == 1.0);
    assert_null(f.source);
    assert_int_equal(f.n_tags, 0);
    assert_null(f.context_json);
    assert_true(f.created_us > 0);
    assert_true(f.updated_us == f.created_us);
    assert_int_equal(hk_store_get(t, 999, &f, &err), HK_ERR_NOT_FOUND);
    hk_fact_id id = 0;
    hk_statement st = tu_st("HasPart", "Computer", "CPU", NULL);
    assert_int_equal(hk_store_find(t, &st, &id, &err), HK_OK);
    assert_int_equal(id, a);
    st = tu_st("HasPart", "CPU", "Computer", NULL);
    assert_int_equal(hk_store_find(t, &st, &id, &err), HK_ERR_NOT_FOUND);
    st = tu_st("HasPart", "Computer", NULL);
    assert_int_equal(hk_store_find(t, &st, &id, &err), HK_ERR_NOT_FOUND);
    /* Writes in a read txn are refused. */
    assert_int_equal(hk_store_add(t, &st, NULL, &id, NULL, &err), HK_ERR_STATE);
    hk_fact_release(&f);
    hk_txn_abort(t);
    tu_discard(s, dir);
}

static void test_invalid_input(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("invalid");
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, true);
    hk_error err;
    hk_fact_id id;
    hk_statement st = tu_st("Has Part", "a", NULL);
    assert_int_equal(hk_store_add(t, &st, NULL, &id, NULL, &err),
                     HK_ERR_INVALID);
    st = tu_st("P", "", NULL);
    assert_int_equal(hk_store_add(t, &st, NULL, &id, NULL, &err),
                     HK_ERR_INVALID);
    st = tu_st("P", "a", NULL);
    hk_fact_meta m = {0};
    m.fields = HK_META_CONFIDENCE;
    m.confidence = NAN;
    assert_int_equal(hk_store_add(t, &st, &m, &id, NULL, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "confidence");
    m.confidence = 1.5;
    assert_int_equal(hk_store_add(t, &st, &m, &id, NULL, &err), HK_ERR_INVALID);
    m.fields = HK_META_CONTEXT;
    m.context_json = "[1,2]";
    assert_int_equal(hk_store_add(t, &st, &m, &id, NULL, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "context");
    m.context_json = "{\"a\":";
    assert_int_equal(hk_store_add(t, &st, &m, &id, NULL, &err), HK_ERR_INVALID);
    m.fields = HK_META_TAGS;
    const char *tags[] = {"ok", ""};
    m.n_tags = 2;
    m.tags = tags;
    assert_int_equal(hk_store_add(t, &st, &m, &id, NULL, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "tags");
    /* Invalid input never fails the txn: a valid add still commits. */
    tu_add(t, st, NULL);
    tu_commit(t);
    t = tu_begin(s, false);
    hk_stats stats;
    assert_int_equal(hk_store_stats(t, &stats, &err), HK_OK);
    assert_int_equal(stats.facts, 1);
    hk_txn_abort(t);
    tu_discard(s, dir);
}

static void test_meta_roundtrip_and_set_meta(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("meta");
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, true);
    hk_error err;
    hk_fact_id id;
    bool created;
    hk_statement st = tu_st("IsA", "Water", "Molecule", NULL);
    const char *tags[] = {"chemistry", "basics"};
    hk_fact_meta m = {HK_META_CONFIDENCE | HK_META_SOURCE | HK_META_TAGS |
                          HK_META_CONTEXT,
                      0.75,
                      "textbook",
                      2,
                      tags,
                      "{\"page\": 12}",
                      0,
                      0};
    assert_int_equal(hk_store_add(t, &st, &m, &id, &created, &err), HK_OK);
    assert_true(created);
    tu_commit(t);

    t = tu_begin(s, false);
    hk_fact f;
    hk_fact_init(&f);
    assert_int_equal(hk_store_get(t, id, &f, &err), HK_OK);
    assert_true(f.confidence == 0.75);
    assert_string_equal(f.source, "textbook");
    assert_int_equal(f.n_tags, 2);
    assert_string_equal(f.tags[1], "basics");
    assert_string_equal(f.context_json, "{\"page\": 12}");
    int64_t created_us = f.created_us;
    hk_txn_abort(t);

    /* Change only the confidence; clear the source. */
    t = tu_begin(s, true);
    hk_fact_meta m2 = {
        HK_META_CONFIDENCE | HK_META_SOURCE, 0.5, NULL, 0, NULL, NULL, 0, 0};
    assert_int_equal(hk_store_set_meta(t, id, &m2, &err), HK_OK);
    assert_int_equal(hk_store_set_meta(t, 12345, &m2, &err), HK_ERR_NOT_FOUND);
    tu_commit(t);
    t = tu_begin(s, false);
    assert_int_equal(hk_store_get(t, id, &f, &err), HK_OK);
    assert_true(f.confidence == 0.5);
    assert_null(f.source);
    assert_int_equal(f.n_tags, 2);
    assert_string_equal(f.context_json, "{\"page\": 12}");
    assert_true(f.created_us == created_us);
    assert_true(f.updated_us >= created_us);
    hk_fact_release(&f);
    hk_txn_abort(t);
    tu_discard(s, dir);
}

static void test_update(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("update");
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, true);
    hk_error err;
    hk_fact_id a = tu_add(t, tu_st("P", "x", "y", NULL), NULL);
    hk_fact_id b = tu_add(t, tu_st("P", "y", "z", NULL), NULL);
    hk_statement st = tu_st("Q", "x", "w", "v", NULL);
    hk_fact_id other = 77;
    assert_int_equal(hk_store_update(t, a, &st, &other, &err), HK_OK);
    assert_int_equal(other, 0);
    /* Onto another fact: EXISTS with its id. */
    st = tu_st("P", "y", "z", NULL);
    assert_int_equal(hk_store_update(t, a, &st, &other, &err), HK_ERR_EXISTS);
    assert_int_equal(other, b);
    /* Onto itself: no change. */
    st = tu_st("Q", "x", "w", "v", NULL);
    assert_int_equal(hk_store_update(t, a, &st, &other, &err), HK_OK);
    assert_int_equal(hk_store_update(t, 999, &st, &other, &err),
                     HK_ERR_NOT_FOUND);
    tu_commit(t);

    t = tu_begin(s, false);
    hk_fact f;
    hk_fact_init(&f);
    assert_int_equal(hk_store_get(t, a, &f, &err), HK_OK);
    assert_string_equal(f.st.predicate, "Q");
    assert_int_equal(f.st.n_args, 3);
    hk_fact_id id;
    st = tu_st("P", "x", "y", NULL);
    assert_int_equal(hk_store_find(t, &st, &id, &err), HK_ERR_NOT_FOUND);
    st = tu_st("Q", "x", "w", "v", NULL);
    assert_int_equal(hk_store_find(t, &st, &id, &err), HK_OK);
    assert_int_equal(id, a);
    uint64_t n;
    assert_int_equal(hk_store_count_predicate(t, "P", &n, &err), HK_OK);
    assert_int_equal(n, 1);
    assert_int_equal(hk_store_count_predicate(t, "Q", &n, &err), HK_OK);
    assert_int_equal(n, 1);
    assert_int_equal(hk_store_count_entity(t, "x", &n, &err), HK_OK);
    assert_int_equal(n, 1);
    assert_int_equal(hk_store_count_entity(t, "y", &n, &err), HK_OK);
    assert_int_equal(n, 1);
    hk_stats stats;
    tu_check(t);
    assert_int_equal(hk_store_stats(t, &stats, &err), HK_OK);
    assert_int_equal(stats.facts, 2);
    assert_int_equal(stats.predicates, 2);
    assert_int_equal(stats.entities, 5); /* x y z w v */
    hk_fact_release(&f);
    hk_txn_abort(t);
    tu_discard(s, dir);
}

static void test_delete_counts(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("delete");
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, true);
    hk_error err;
    hk_fact_id a = tu_add(t, tu_st("R", "a", "a", NULL), NULL);
    hk_fact_id b = tu_add(t, tu_st("R", "a", "b", NULL), NULL);
    tu_commit(t);
    t = tu_begin(s, false);
    uint64_t n;
    assert_int_equal(hk_store_count_entity(t, "a", &n, &err), HK_OK);
    assert_int_equal(n, 2); /* facts, not mentions */
    hk_txn_abort(t);

    t = tu_begin(s, true);
    assert_int_equal(hk_store_delete(t, a, &err), HK_OK);
    assert_int_equal(hk_store_delete(t, a, &err), HK_ERR_NOT_FOUND);
    tu_commit(t);
    t = tu_begin(s, false);
    assert_int_equal(hk_store_count_entity(t, "a", &n, &err), HK_OK);
    assert_int_equal(n, 1);
    hk_stats st;
    assert_int_equal(hk_store_stats(t, &st, &err), HK_OK);
    assert_int_equal(st.facts, 1);
    assert_int_equal(st.entities, 2);
    assert_int_equal(st.predicates, 1);
    assert_int_equal(st.last_fact_id, b);
    hk_txn_abort(t);
    t = tu_begin(s, true);
    assert_int_equal(hk_store_delete(t, b, &err), HK_OK);
    tu_commit(t);
    t = tu_begin(s, false);
    assert_int_equal(hk_store_stats(t, &st, &err), HK_OK);
    assert_int_equal(st.facts, 0);
    assert_int_equal(st.entities, 0);
    assert_int_equal(st.predicates, 0);
    tu_check(t);
    assert_int_equal(st.last_fact_id, b);
    assert_int_equal(hk_store_count_predicate(t, "R", &n, &err), HK_OK);
    assert_int_equal(n, 0);
    uint64_t ar[HK_MAX_ARGS + 1];
    assert_int_equal(hk_store_predicate_arities(t, "R", ar, &err), HK_OK);
    assert_int_equal(ar[2], 0);
    hk_txn_abort(t);
    /* A new fact gets a new id (never reused). */
    t = tu_begin(s, true);
    hk_fact_id c = tu_add(t, tu_st("R", "a", "a", NULL), NULL);
    assert_true(c > b);
    tu_commit(t);
    tu_discard(s, dir);
}

static void test_long_symbols_and_reopen(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("long");
    char *long1 = malloc(HK_MAX_ARG_BYTES + 1);
    char *long2 = malloc(HK_MAX_ARG_BYTES + 1);
    /* Same first 440+ bytes, differ only at the end. */
    memset(long1, 'x', HK_MAX_ARG_BYTES);
    memset(long2, 'x', HK_MAX_ARG_BYTES);
    long1[HK_MAX_ARG_BYTES] = long2[HK_MAX_ARG_BYTES] = 0;
    long2[HK_MAX_ARG_BYTES - 1] = 'y';
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, true);
    hk_fact_id a = tu_add(t, tu_st("Text", long1, NULL), NULL);
    hk_fact_id b = tu_add(t, tu_st("Text", long2, NULL), NULL);
    assert_true(a != b);
    const char *tags[] = {"t1"};
    hk_fact_meta m = {
        HK_META_TAGS | HK_META_SOURCE, 1.0, "src", 1, tags, NULL, 0, 0};
    hk_statement st = tu_st("Located", "North Pacific", "Ocean", NULL);
    hk_fact_id c;
    hk_error err;
    assert_int_equal(hk_store_add(t, &st, &m, &c, NULL, &err), HK_OK);
    tu_commit(t);
    hk_store_close(s);

    s = tu_open(dir);
    t = tu_begin(s, false);
    hk_fact f;
    hk_fact_init(&f);
    assert_int_equal(hk_store_get(t, a, &f, &err), HK_OK);
    assert_string_equal(f.st.args[0], long1);
    assert_int_equal(hk_store_get(t, b, &f, &err), HK_OK);
    assert_string_equal(f.st.args[0], long2);
    assert_int_equal(hk_store_get(t, c, &f, &err), HK_OK);
    assert_string_equal(f.source, "src");
    assert_string_equal(f.tags[0], "t1");
    hk_fact_id id;
    st = tu_st("Text", long2, NULL);
    assert_int_equal(hk_store_find(t, &st, &id, &err), HK_OK);
    assert_int_equal(id, b);
    uint64_t n;
    assert_int_equal(hk_store_count_entity(t, long1, &n, &err), HK_OK);
    assert_int_equal(n, 1);
    hk_stats stats;
    assert_int_equal(hk_store_stats(t, &stats, &err), HK_OK);
    assert_int_equal(stats.facts, 3);
    assert_int_equal(stats.audit_entries, 3);
    assert_int_equal(stats.schema_version, 6);
    assert_true(stats.bytes_on_disk > 0);
    assert_true(stats.bytes_used > 0 &&
                stats.bytes_used <= stats.bytes_on_disk);
    assert_int_equal(stats.map_size, 1ull << 30);
    assert_true(stats.last_change_us > 0);
    hk_fact_release(&f);
    hk_txn_abort(t);
    hk_store_close(s);

    /* Read-only open refuses writes. */
    hk_store_options o = {0};
    o.read_only = true;
    assert_int_equal(hk_store_open(dir, &o, &s, &err), HK_OK);
    hk_txn *w;
    assert_int_equal(hk_txn_begin(s, true, &w, &err), HK_ERR_STATE);
    hk_store_close(s);
    free(long1);
    free(long2);
    tu_rmrf(dir);
    free(dir);
}

static void test_schema_version_refused(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("version");
    hk_store *s = tu_open(dir);
    hk_store_close(s);
    /* Rewrite the version with raw LMDB. */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    txn = tu_raw_begin(dir, &env);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    uint8_t v[4] = {0, 0, 0, 99};
    MDB_val k = {14, "schema_version"}, d = {4, v};
    assert_int_equal(mdb_put(txn, dbi, &k, &d, 0), 0);
    tu_raw_commit(env, txn);
    hk_store_options o = {0};
    hk_error err;
    assert_int_equal(hk_store_open(dir, &o, &s, &err), HK_ERR_VERSION);
    assert_non_null(strstr(err.message, "99"));
    tu_rmrf(dir);
    free(dir);
}

static void test_txn_reset_renew(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("renew");
    hk_store *s = tu_open(dir);
    hk_txn *r = tu_begin(s, false);
    hk_error err;
    hk_stats st;
    assert_int_equal(hk_store_stats(r, &st, &err), HK_OK);
    assert_int_equal(st.facts, 0);
    hk_txn *t = tu_begin(s, true);
    tu_add(t, tu_st("P", "a", NULL), NULL);
    tu_commit(t);
    /* Old snapshot still sees nothing; after renew it sees the fact. */
    assert_int_equal(hk_store_stats(r, &st, &err), HK_OK);
    assert_int_equal(st.facts, 0);
    hk_txn_reset(r);
    assert_int_equal(hk_store_stats(r, &st, &err), HK_ERR_STATE);
    assert_int_equal(hk_txn_renew(r, &err), HK_OK);
    assert_int_equal(hk_store_stats(r, &st, &err), HK_OK);
    assert_int_equal(st.facts, 1);
    hk_txn_abort(r);
    tu_discard(s, dir);
}

/* Allocation failures at every point of an add must leave the KB as it
 * was: the op fails, the txn refuses to commit, nothing leaks. */
static void test_alloc_failure_injection(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("nomem");
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, true);
    tu_add(t, tu_st("Base", "fact", NULL), NULL);
    tu_commit(t);
    bool succeeded = false;
    for (long n = 0; n < 200 && !succeeded; n++) {
        hk_txn *w = NULL;
        hk_error err;
        hk_mem_fail_after(n);
        hk_err e = hk_txn_begin(s, true, &w, &err);
        if (e == HK_OK) {
            hk_statement st =
                tu_st("NewPred", "alpha beta", "gammaDelta", NULL);
            const char *tags[] = {"x"};
            hk_fact_meta m = {HK_META_TAGS | HK_META_CONTEXT,
                              1,
                              NULL,
                              1,
                              tags,
                              "{\"k\": [1, 2]}",
                              0,
                              0};
            hk_fact_id id;
            e = hk_store_add(w, &st, &m, &id, NULL, &err);
            if (e == HK_OK)
                e = hk_txn_commit(w, &err);
            else
                hk_txn_abort(w);
        }
        bool injected = hk_mem_fail_triggered();
        hk_mem_fail_after(-1);
        if (e == HK_OK) {
            succeeded = true;
        } else {
            assert_true(injected);
        }
        /* The KB is consistent either way. */
        hk_txn *r = tu_begin(s, false);
        hk_stats st;
        assert_int_equal(hk_store_stats(r, &st, &err), HK_OK);
        assert_int_equal(st.facts, succeeded ? 2 : 1);
        hk_audit_report rep;
        assert_int_equal(hk_audit_verify(r, &rep, &err), HK_OK);
        assert_true(rep.ok);
        assert_int_equal(rep.checked, succeeded ? 2 : 1);
        uint64_t cnt;
        assert_int_equal(hk_store_count_predicate(r, "NewPred", &cnt, &err),
                         HK_OK);
        assert_int_equal(cnt, succeeded ? 1 : 0);
        hk_txn_abort(r);
    }
    assert_true(succeeded);
    tu_discard(s, dir);
}

/* The same for every other operation: each allocation point fails once;
 * the KB stays consistent (audit chain intact, counters = a full scan),
 * reads return an error or a right answer, nothing leaks. */
typedef enum op_kind {
    OP_UPDATE,
    OP_META,
    OP_DELETE,
    OP_BULK,
    OP_QUERY,
    OP_SEARCH,
    OP_AUDIT,
    OP_LIST,
    N_OPS
} op_kind;

static hk_err run_op(hk_store *s, op_kind op, hk_fact_id id)
{
    hk_txn *t = NULL;
    hk_error err;
    hk_err e = hk_txn_begin(s, op <= OP_BULK, &t, &err);
    if (e) return e;
    hk_statement st = tu_st("Moved", "x y", "z", NULL);
    const char *tags[] = {"t"};
    hk_fact_meta m = {
        HK_META_TAGS | HK_META_SOURCE, 1, "src", 1, tags, NULL, 0, 0};
    switch (op) {
    case OP_UPDATE:
        e = hk_store_update(t, id, &st, NULL, &err);
        break;
    case OP_META:
        e = hk_store_set_meta(t, id, &m, &err);
        break;
    case OP_DELETE:
        e = hk_store_delete(t, id, &err);
        break;
    case OP_BULK:
        e = hk_txn_set_bulk(t, "bulk");
        for (int i = 0; i < 20 && !e; i++) {
            char a[16];
            snprintf(a, sizeof a, "b%d", i);
            hk_statement bs = tu_st("BulkPred", a, NULL);
            hk_fact_id nid;
            e = hk_store_add(t, &bs, NULL, &nid, NULL, &err);
        }
        break;
    case OP_QUERY: {
        hk_pattern p;
        hk_query *q = NULL;
        e = hk_pattern_parse("?p(?x, ?y)", 10, &p, &err);
        if (!e) e = hk_query_open_pattern(t, &p, NULL, &q, &err);
        hk_fact f;
        hk_fact_init(&f);
        bool has = true;
        while (!e && has) {
            e = hk_query_next(q, &f, &has, &err);
            if (!e && has && !hk_query_binding(q, "x")) e = HK_ERR_NOMEM;
        }
        hk_buf cur = HK_BUF_INIT;
        if (!e) e = hk_query_cursor(q, &cur);
        hk_buf_free(&cur);
        hk_fact_release(&f);
        hk_query_close(q);
        hk_pattern_release(&p);
        break;
    }
    case OP_SEARCH: {
        hk_search_hit *h = NULL;
        size_t n;
        e = hk_store_search(t, "has part", 10, &h, &n, &err);
        hk_free(h);
        break;
    }
    case OP_AUDIT: {
        hk_audit_entry *v = NULL;
        size_t n = 0;
        e = hk_audit_list(t, 0, 10, &v, &n, &err);
        hk_audit_entries_free(v, n);
        v = NULL;
        n = 0;
        if (!e) e = hk_audit_history(t, id, 0, 10, &v, &n, &err);
        hk_audit_entries_free(v, n);
        break;
    }
    case OP_LIST: {
        hk_name_count *v = NULL;
        size_t n = 0;
        e = hk_store_list_predicates(t, NULL, 10, &v, &n, &err);
        hk_name_counts_free(v, n);
        v = NULL;
        n = 0;
        if (!e) e = hk_store_list_entities(t, NULL, 10, 1, &v, &n, &err);
        hk_name_counts_free(v, n);
        break;
    }
    default:
        break;
    }
    if (e) {
        hk_txn_abort(t);
        return e;
    }
    return hk_txn_commit(t, &err);
}

static void check_consistent(hk_store *s)
{
    hk_txn *r = tu_begin(s, false);
    hk_error err;
    hk_stats st;
    assert_int_equal(hk_store_stats(r, &st, &err), HK_OK);
    hk_audit_report rep;
    assert_int_equal(hk_audit_verify(r, &rep, &err), HK_OK);
    assert_true(rep.ok);
    hk_scan sc = HK_SCAN_INIT;
    hk_query *q;
    assert_int_equal(hk_query_open_scan(r, &sc, NULL, &q, &err), HK_OK);
    uint64_t n = 0;
    hk_fact_id id;
    while (tu_next_id(q, &id))
        n++;
    hk_query_close(q);
    assert_int_equal(n, st.facts);
    tu_check(r);
    hk_txn_abort(r);
}

static void test_alloc_failure_all_ops(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("nomem2");
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, true);
    hk_fact_id ids[N_OPS];
    for (int i = 0; i < N_OPS; i++) {
        char a[16];
        snprintf(a, sizeof a, "thing%d", i);
        ids[i] = tu_add(t, tu_st("HasPart", "Computer", a, NULL), NULL);
    }
    tu_commit(t);
    for (int op = 0; op < N_OPS; op++) {
        bool ok = false;
        long fails = 0;
        for (long n = 0; n < 400 && !ok; n++) {
            hk_mem_fail_after(n);
            hk_err e = run_op(s, (op_kind)op, ids[op]);
            bool injected = hk_mem_fail_triggered();
            hk_mem_fail_after(-1);
            if (e == HK_OK)
                ok = true;
            else
                fails++;
            if (e != HK_OK && !injected)
                fprintf(stderr, "op %d failed without injection: %d\n", op, e);
            assert_true(e == HK_OK || injected);
            check_consistent(s);
        }
        assert_true(ok);
        fprintf(stderr, "op %d: succeeded after %ld injected failures\n", op,
                fails);
    }
    tu_discard(s, dir);
}

static void test_failed_txn_refuses_commit(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("full");
    hk_store_options o = {0};
    hk_store *s = NULL;
    hk_error err;
    o.create = true;
    o.no_sync = true;
    o.map_size = 256 * 1024; /* tiny map: fills quickly */
    assert_int_equal(hk_store_open(dir, &o, &s, &err), HK_OK);
    hk_txn *t = tu_begin(s, true);
    hk_err e = HK_OK;
    char a[64];
    for (int i = 0; i < 100000 && e == HK_OK; i++) {
        snprintf(a, sizeof a, "entity number %d", i);
        hk_statement st = tu_st("P", a, NULL);
        hk_fact_id id;
        e = hk_store_add(t, &st, NULL, &id, NULL, &err);
    }
    assert_int_equal(e, HK_ERR_FULL);
    hk_statement st = tu_st("P", "more", NULL);
    hk_fact_id id;
    assert_int_equal(hk_store_add(t, &st, NULL, &id, NULL, &err), HK_ERR_STATE);
    assert_int_equal(hk_txn_commit(t, &err), HK_ERR_STATE);
    t = tu_begin(s, false);
    hk_stats stats;
    assert_int_equal(hk_store_stats(t, &stats, &err), HK_OK);
    assert_int_equal(stats.facts, 0);
    hk_txn_abort(t);
    tu_discard(s, dir);
}

/* Bulk transactions use a filter over statement keys to skip lookups of
 * new statements; duplicates must still be found, also when another
 * handle (another writer) committed in between. */
static void bulk_add_range(hk_store *s, int from, int to, int *created_n)
{
    hk_txn *t = tu_begin(s, true);
    assert_int_equal(hk_txn_set_bulk(t, "range"), HK_OK);
    *created_n = 0;
    for (int i = from; i < to; i++) {
        char a[32];
        snprintf(a, sizeof a, "e%d", i);
        bool created;
        tu_add(t, tu_st("Bulk", a, "x", NULL), &created);
        *created_n += created;
    }
    tu_commit(t);
}

/* Another process writes between our bulk transactions (LMDB allows one
 * environment per file per process, so the other writer is a child). */
static int child_adds(const char *dir, int from, int to, bool bulk)
{
    pid_t pid = fork();
    if (pid == 0) {
        hk_store_options o = {0};
        hk_store *s = NULL;
        hk_error err;
        o.no_sync = true;
        int created = 0, rc = 1;
        if (hk_store_open(dir, &o, &s, &err) == HK_OK) {
            hk_txn *t = NULL;
            if (hk_txn_begin(s, true, &t, &err) == HK_OK) {
                if (bulk) hk_txn_set_bulk(t, "child");
                rc = 0;
                for (int i = from; i < to && !rc; i++) {
                    char a[32];
                    snprintf(a, sizeof a, "e%d", i);
                    hk_statement st = tu_st("Bulk", a, "x", NULL);
                    hk_fact_id id;
                    bool c;
                    rc = hk_store_add(t, &st, NULL, &id, &c, &err) != HK_OK;
                    created += c;
                }
                if (hk_txn_commit(t, &err)) rc = 1;
            }
            hk_store_close(s);
        }
        _exit(rc ? 255 : created % 250); /* exit codes are 8 bits */
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_bulk_merge_other_writer(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("bulk2");
    hk_store *a = tu_open(dir);
    int n;
    bulk_add_range(a, 0, 3000, &n);
    assert_int_equal(n, 3000);
    bulk_add_range(a, 1000, 4000, &n); /* same handle: filter kept */
    assert_int_equal(n, 1000);
    /* the child adds 1000 new of 3000 (2000..5000) */
    assert_int_equal(child_adds(dir, 2000, 5000, true), 1000 % 250);
    bulk_add_range(a, 4500, 6000, &n); /* a must notice the child's commit */
    assert_int_equal(n, 1000);
    /* a non-bulk add by the child, then bulk by a again */
    assert_int_equal(child_adds(dir, 7000, 7001, false), 1);
    bulk_add_range(a, 6990, 7010, &n);
    assert_int_equal(n, 19);
    hk_txn *t = tu_begin(a, false);
    hk_stats st;
    hk_error err;
    assert_int_equal(hk_store_stats(t, &st, &err), HK_OK);
    assert_int_equal(st.facts, 6020);
    tu_check(t);
    hk_audit_report rep;
    assert_int_equal(hk_audit_verify(t, &rep, &err), HK_OK);
    assert_true(rep.ok);
    hk_txn_abort(t);
    tu_discard(a, dir);
}

/* MERGE inside one bulk transaction: statements repeated within the
 * queue (found through the filter and the pending index) and across
 * transactions, with statement keys that are prefixes of each other or
 * share their first 8 bytes (the flush orders keys by an 8-byte prefix,
 * then in full), and reads that flush the queue in between. Every repeat
 * returns the first id; the indexes agree. */
static void test_bulk_merge_repeats(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("bulkrep");
    hk_store *s = tu_open(dir);
    enum { N = 6000 };
    static hk_fact_id ids[N];
    char a[32], b[32], c[32];
    for (int round = 0; round < 2; round++) {
        hk_txn *t = tu_begin(s, true);
        assert_int_equal(hk_txn_set_bulk(t, "rep"), HK_OK);
        uint64_t seed = 7;
        for (int k = 0; k < 3 * N; k++) {
            int i = (int)(tu_rand(&seed) % N);
            /* arity 1..4; the same leading arguments for many i */
            snprintf(a, sizeof a, "e%d", i % 50);
            snprintf(b, sizeof b, "f%d", i % 300);
            snprintf(c, sizeof c, "g%d", i);
            hk_statement st;
            switch (i % 4) {
            case 0: /* P(e<i>): a prefix of P(e<i>, ...) for i < 50 */
                snprintf(a, sizeof a, "e%d", i);
                st = tu_st("P", a, NULL);
                break;
            case 1:
                st = tu_st("P", a, c, NULL);
                break;
            case 2:
                st = tu_st("P", a, b, c, NULL);
                break;
            default:
                st = tu_st("P", a, b, c, b, NULL);
                break;
            }
            bool created;
            hk_fact_id id = tu_add(t, st, &created);
            if (!ids[i]) {
                assert_int_equal(round, 0);
                assert_true(created);
                ids[i] = id;
            } else {
                assert_int_equal(id, ids[i]);
                assert_false(created);
            }
            if (k % 500 == 499) {
                /* a read flushes the queue mid-transaction: the (sparse)
                 * pending index is emptied and refilled */
                hk_stats stats;
                hk_error err;
                assert_int_equal(hk_store_stats(t, &stats, &err), HK_OK);
                uint64_t distinct = 0;
                for (int j = 0; j < N; j++)
                    distinct += ids[j] != 0;
                assert_int_equal(stats.facts, distinct);
            }
        }
        tu_check(t);
        tu_commit(t);
    }
    hk_txn *t = tu_begin(s, false);
    tu_check(t);
    hk_txn_abort(t);
    tu_discard(s, dir);
}

/* Damaged records (random bytes written over `fact` values with raw
 * LMDB) give HK_ERR_CORRUPT or a decodable fact, never a crash, in get,
 * scans, patterns and search. */
static void test_damaged_records(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("damage");
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, true);
    for (int i = 0; i < 200; i++) {
        char a[16];
        snprintf(a, sizeof a, "v%d", i % 17);
        tu_add(t, tu_st("HasPart", a, i % 2 ? "x" : "y", NULL), NULL);
    }
    tu_commit(t);
    hk_store_close(s);

    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    uint64_t rng = 5;
    txn = tu_raw_begin(dir, &env);
    assert_int_equal(mdb_dbi_open(txn, "fact", MDB_INTEGERKEY, &dbi), 0);
    for (size_t id = 1; id <= 200; id++) {
        uint8_t junk[64];
        size_t len = 1 + tu_rand(&rng) % sizeof junk;
        for (size_t j = 0; j < len; j++)
            junk[j] = (uint8_t)tu_rand(&rng);
        if (id % 3 == 0) junk[0] = 0; /* plausible flags: deeper decoding */
        MDB_val k = {sizeof id, &id}, d = {len, junk};
        assert_int_equal(mdb_put(txn, dbi, &k, &d, 0), 0);
    }
    tu_raw_commit(env, txn);

    s = tu_open(dir);
    t = tu_begin(s, false);
    hk_fact f;
    hk_error err;
    bool ok = true;
    char why[256];
    assert_int_equal(hks_store_check(t, &ok, why, sizeof why, &err), HK_OK);
    assert_false(ok); /* the validator sees the damage */
    assert_non_null(strstr(why, "fact"));
    hk_fact_init(&f);
    int corrupt = 0;
    for (hk_fact_id id = 1; id <= 200; id++) {
        hk_err e = hk_store_get(t, id, &f, &err);
        assert_true(e == HK_OK || e == HK_ERR_CORRUPT);
        corrupt += e == HK_ERR_CORRUPT;
    }
    assert_true(corrupt > 150);
    hk_scan sc = HK_SCAN_INIT;
    hk_query *q;
    bool has;
    for (int kind = 0; kind < 3; kind++) {
        sc = (hk_scan)HK_SCAN_INIT;
        if (kind == 1) sc.entity = "x";
        if (kind == 2) sc.arity = 2;
        assert_int_equal(hk_query_open_scan(t, &sc, NULL, &q, &err), HK_OK);
        hk_err e;
        int guard = 0;
        while ((e = hk_query_next(q, &f, &has, &err)) == HK_OK && has &&
               guard++ < 1000) {
        }
        assert_true(e == HK_OK || e == HK_ERR_CORRUPT);
        hk_query_close(q);
    }
    hk_pattern p;
    assert_int_equal(hk_pattern_parse("HasPart(?a, ?b)", 15, &p, &err), HK_OK);
    assert_int_equal(hk_query_open_pattern(t, &p, NULL, &q, &err), HK_OK);
    hk_err e;
    while ((e = hk_query_next(q, &f, &has, &err)) == HK_OK && has)
        (void)hk_query_binding(q, "a");
    assert_true(e == HK_OK || e == HK_ERR_CORRUPT);
    hk_query_close(q);
    hk_pattern_release(&p);
    hk_search_hit *h = NULL;
    size_t n;
    e = hk_store_search(t, "has part", 10, &h, &n, &err);
    assert_true(e == HK_OK || e == HK_ERR_CORRUPT);
    hk_free(h);
    hk_fact_release(&f);
    hk_txn_abort(t);
    /* Deleting a damaged fact fails cleanly; the txn refuses to commit or
     * commits nothing wrong. */
    t = tu_begin(s, true);
    e = hk_store_delete(t, 3, &err);
    assert_true(e == HK_OK || e == HK_ERR_CORRUPT);
    hk_txn_abort(t);
    tu_discard(s, dir);
}

/* The validator notices a missing index entry and a wrong counter. */
static void test_check_detects_index_damage(void **state)
{
    (void)state;
    for (int round = 0; round < 2; round++) {
        char *dir = tu_tmpdir("check");
        hk_store *s = tu_open(dir);
        hk_txn *t = tu_begin(s, true);
        tu_add(t, tu_st("HasPart", "Computer", "CPU", NULL), NULL);
        tu_add(t, tu_st("HasPart", "Computer", "RAM", NULL), NULL);
        tu_commit(t);
        t = tu_begin(s, false);
        tu_check(t);
        hk_txn_abort(t);
        hk_store_close(s);
        MDB_env *env;
        MDB_txn *txn;
        MDB_dbi dbi;
        txn = tu_raw_begin(dir, &env);
        if (round == 0) { /* drop every by_arg entry of one key */
            assert_int_equal(
                mdb_dbi_open(txn, "by_arg", MDB_DUPSORT | MDB_DUPFIXED, &dbi),
                0);
            MDB_cursor *c;
            MDB_val k, d;
            assert_int_equal(mdb_cursor_open(txn, dbi, &c), 0);
            assert_int_equal(mdb_cursor_get(c, &k, &d, MDB_LAST), 0);
            assert_int_equal(mdb_cursor_del(c, MDB_NODUPDATA), 0);
            mdb_cursor_close(c);
        } else { /* a wrong facts counter */
            assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
            uint8_t v[8] = {0, 0, 0, 0, 0, 0, 0, 7};
            MDB_val k = {5, "facts"}, d = {8, v};
            assert_int_equal(mdb_put(txn, dbi, &k, &d, 0), 0);
        }
        tu_raw_commit(env, txn);
        s = tu_open(dir);
        t = tu_begin(s, false);
        tu_check_fails(t, round == 0 ? "by_arg" : "counter");
        hk_txn_abort(t);
        tu_discard(s, dir);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_missing),
        cmocka_unit_test(test_add_get_find_merge),
        cmocka_unit_test(test_invalid_input),
        cmocka_unit_test(test_meta_roundtrip_and_set_meta),
        cmocka_unit_test(test_update),
        cmocka_unit_test(test_delete_counts),
        cmocka_unit_test(test_long_symbols_and_reopen),
        cmocka_unit_test(test_schema_version_refused),
        cmocka_unit_test(test_txn_reset_renew),
        cmocka_unit_test(test_alloc_failure_injection),
        cmocka_unit_test(test_failed_txn_refuses_commit),
        cmocka_unit_test(test_bulk_merge_other_writer),
        cmocka_unit_test(test_bulk_merge_repeats),
        cmocka_unit_test(test_alloc_failure_all_ops),
        cmocka_unit_test(test_damaged_records),
        cmocka_unit_test(test_check_detects_index_damage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
