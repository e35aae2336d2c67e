/*
 * test_store_audit.c — the audit chain: entries for every mutation, list
 * and history (bulk import entries included, pages of a fact's history
 * against a scan of the whole log), verify, and tamper detection
 * by editing the LMDB file directly (edited entry, removed middle entry,
 * removed tail, reordered entries, rewritten tail with a correct hash).
 */
#include "core/sha256.h"
#include "test_store_util.h"

#include <lmdb.h>

typedef struct kb_info {
    hk_fact_id a, b, c;    /* per-fact adds */
    hk_fact_id bulk_first; /* first id of the bulk range */
    hk_fact_id bulk_last;  /* last id */
    uint64_t entries;      /* audit entries written */
} kb_info;

static void build_kb(const char *dir, kb_info *ki)
{
    hk_store *s = tu_open(dir);
    hk_error err;
    hk_txn *t = tu_begin(s, true);
    assert_int_equal(hk_txn_set_actor(t, "alice"), HK_OK);
    ki->a = tu_add(t, tu_st("HasPart", "Computer", "CPU", NULL), NULL); /*1*/
    ki->b = tu_add(t, tu_st("IsA", "CPU", "Processor", NULL), NULL);    /*2*/
    tu_commit(t);
    t = tu_begin(s, true);
    hk_statement st = tu_st("IsA", "CPU", "Chip", NULL);
    assert_int_equal(hk_store_update(t, ki->b, &st, NULL, &err), HK_OK); /*3*/
    hk_fact_meta m = {HK_META_CONFIDENCE, 0.5, NULL, 0, NULL, NULL, 0, 0};
    assert_int_equal(hk_store_set_meta(t, ki->a, &m, &err), HK_OK); /*4*/
    ki->c = tu_add(t, tu_st("Temp", "x", NULL), NULL);              /*5*/
    assert_int_equal(hk_store_delete(t, ki->c, &err), HK_OK);       /*6*/
    tu_commit(t);
    /* Bulk: 50 created facts -> one import entry; a delete in the same txn
     * keeps its own entry (written before the import entry at commit). */
    t = tu_begin(s, true);
    assert_int_equal(hk_txn_set_bulk(t, "facts.txt"), HK_OK);
    for (int i = 0; i < 50; i++) {
        char a[32];
        snprintf(a, sizeof a, "item%02d", i);
        hk_fact_id id = tu_add(t, tu_st("Bulk", a, NULL), NULL);
        if (i == 0) ki->bulk_first = id;
        ki->bulk_last = id;
    }
    /* MERGE of an existing fact in bulk mode creates nothing. */
    tu_add(t, tu_st("HasPart", "Computer", "CPU", NULL), NULL);
    assert_int_equal(hk_store_delete(t, ki->bulk_first + 1, &err), HK_OK); /*7*/
    tu_commit(t);                                                          /*8*/
    ki->entries = 8;
    hk_store_close(s);
}

static void test_entries_list_history(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("audit");
    kb_info ki;
    build_kb(dir, &ki);
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, false);
    hk_error err;
    hk_audit_report rep;
    assert_int_equal(hk_audit_verify(t, &rep, &err), HK_OK);
    assert_true(rep.ok);
    assert_int_equal(rep.checked, ki.entries);
    assert_int_equal(rep.first_bad, 0);

    hk_audit_entry *v;
    size_t n;
    assert_int_equal(hk_audit_list(t, 0, 100, &v, &n, &err), HK_OK);
    assert_int_equal(n, ki.entries);
    const char *ops[] = {"import", "delete", "delete", "add",
                         "meta",   "update", "add",    "add"};
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(v[i].seq, ki.entries - i);
        assert_string_equal(v[i].op, ops[i]);
        if (i + 1 < n) {
            assert_memory_equal(v[i].prev_hash, v[i + 1].hash, 32);
            assert_true(v[i].time_us >= v[i + 1].time_us);
        }
    }
    assert_string_equal(v[n - 1].actor, "alice");
    assert_string_equal(v[0].actor, "local");
    /* import entry */
    assert_int_equal(v[0].fact_id, ki.bulk_first);
    assert_int_equal(v[0].fact_id_last, ki.bulk_last);
    assert_int_equal(v[0].count, 50);
    assert_null(v[0].before);
    assert_non_null(strstr(v[0].after, "\"label\":\"facts.txt\""));
    /* The digest covers the canonical statements, one per line. */
    char *all = calloc(1, 50 * 32);
    for (int i = 0; i < 50; i++) {
        char line[32];
        snprintf(line, sizeof line, "Bulk(item%02d)\n", i);
        strcat(all, line);
    }
    uint8_t dg[32];
    char hex[65], needle[80];
    hk_sha256(all, strlen(all), dg);
    hk_hex(dg, 32, hex);
    snprintf(needle, sizeof needle, "\"sha256\":\"%s\"", hex);
    assert_non_null(strstr(v[0].after, needle));
    free(all);
    /* update entry has before and after */
    assert_non_null(strstr(v[5].before, "Processor"));
    assert_non_null(strstr(v[5].after, "Chip"));
    assert_null(v[2].after);
    assert_non_null(strstr(v[2].before, "Temp"));
    hk_audit_entries_free(v, n);

    /* Paging with before_seq. */
    assert_int_equal(hk_audit_list(t, 4, 2, &v, &n, &err), HK_OK);
    assert_int_equal(n, 2);
    assert_int_equal(v[0].seq, 3);
    assert_int_equal(v[1].seq, 2);
    hk_audit_entries_free(v, n);
    assert_int_equal(hk_audit_list(t, 1, 10, &v, &n, &err), HK_OK);
    assert_int_equal(n, 0);
    hk_audit_entries_free(v, n);

    /* History of a: meta then add. */
    assert_int_equal(hk_audit_history(t, ki.a, 0, 10, &v, &n, &err), HK_OK);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].op, "meta");
    assert_string_equal(v[1].op, "add");
    hk_audit_entries_free(v, n);
    assert_int_equal(hk_audit_history(t, ki.a, 0, 1, &v, &n, &err), HK_OK);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].op, "meta");
    hk_audit_entries_free(v, n);
    /* A bulk-created fact: the import entry. */
    assert_int_equal(
        hk_audit_history(t, ki.bulk_first + 7, 0, 10, &v, &n, &err), HK_OK);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].op, "import");
    hk_audit_entries_free(v, n);
    /* Bulk-created then deleted: import (newer, seq 8) and delete (7). */
    assert_int_equal(
        hk_audit_history(t, ki.bulk_first + 1, 0, 10, &v, &n, &err), HK_OK);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].op, "import");
    assert_string_equal(v[1].op, "delete");
    hk_audit_entries_free(v, n);
    /* Outside any range: nothing. */
    assert_int_equal(
        hk_audit_history(t, ki.bulk_last + 100, 0, 10, &v, &n, &err), HK_OK);
    assert_int_equal(n, 0);
    hk_audit_entries_free(v, n);
    hk_stats st;
    assert_int_equal(hk_store_stats(t, &st, &err), HK_OK);
    assert_int_equal(st.audit_entries, ki.entries);
    assert_int_equal(st.facts, 2 + 49);
    tu_check(t);
    hk_txn_abort(t);
    tu_discard(s, dir);
}

/* ==== History pages ==== */

/* Does entry a touch fact id? The oracle for hk_audit_history: a scan of
 * the whole log. */
static bool touches(const hk_audit_entry *a, hk_fact_id id)
{
    return a->fact_id <= id && id <= a->fact_id_last;
}

/* The seqs of id's entries, newest first, by a scan of the whole log. */
static size_t oracle_history(hk_txn *t, hk_fact_id id, uint64_t *out,
                             size_t cap)
{
    hk_audit_entry *v;
    size_t n, k = 0;
    hk_error err;
    assert_int_equal(hk_audit_list(t, 0, 100000, &v, &n, &err), HK_OK);
    for (size_t i = 0; i < n; i++)
        if (touches(&v[i], id)) {
            assert_true(k < cap);
            out[k++] = v[i].seq;
        }
    hk_audit_entries_free(v, n);
    return k;
}

/* Checks one page against the oracle: the entries of `want` below
 * before_seq (0: all), at most limit. */
static void check_page(hk_txn *t, hk_fact_id id, uint64_t before_seq,
                       size_t limit, const uint64_t *want, size_t n_want)
{
    hk_audit_entry *v;
    size_t n;
    hk_error err;
    size_t start = 0;
    while (before_seq != 0 && start < n_want && want[start] >= before_seq)
        start++;
    size_t expect = n_want - start < limit ? n_want - start : limit;
    assert_int_equal(hk_audit_history(t, id, before_seq, limit, &v, &n, &err),
                     HK_OK);
    assert_int_equal(n, expect);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(v[i].seq, want[start + i]);
        assert_true(touches(&v[i], id));
    }
    hk_audit_entries_free(v, n);
}

/* A fact with 25 entries: created by a bulk import whose transaction also
 * changed it 5 times (those entries come before the import entry, which is
 * written at commit), then changed 19 more times, with other facts'
 * entries in between. Paged by 10 it must give each entry once, newest
 * first, the import entry in its place. */
static void test_history_pages(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("audit-pages");
    hk_store *s = tu_open(dir);
    hk_error err;
    hk_txn *t = tu_begin(s, true);
    hk_fact_id other = tu_add(t, tu_st("Other", "x", NULL), NULL);
    tu_commit(t);
    t = tu_begin(s, true);
    assert_int_equal(hk_txn_set_bulk(t, "pages.txt"), HK_OK);
    hk_fact_id f = 0, last = 0;
    for (int i = 0; i < 20; i++) {
        char a[32];
        snprintf(a, sizeof a, "item%02d", i);
        last = tu_add(t, tu_st("Bulk", a, NULL), NULL);
        if (i == 7) f = last;
    }
    for (int i = 0; i < 5; i++) {
        hk_fact_meta m = {
            HK_META_CONFIDENCE, 0.1 * (i + 1), NULL, 0, NULL, NULL, 0, 0};
        assert_int_equal(hk_store_set_meta(t, f, &m, &err), HK_OK);
    }
    tu_commit(t);
    for (int i = 0; i < 19; i++) {
        t = tu_begin(s, true);
        hk_fact_meta m = {
            HK_META_CONFIDENCE, 0.04 * (i + 1), NULL, 0, NULL, NULL, 0, 0};
        assert_int_equal(hk_store_set_meta(t, f, &m, &err), HK_OK);
        if (i % 3 == 0)
            assert_int_equal(hk_store_set_meta(t, other, &m, &err), HK_OK);
        tu_commit(t);
    }
    t = tu_begin(s, false);
    uint64_t want[64];
    size_t n_want = oracle_history(t, f, want, 64);
    assert_int_equal(n_want, 25);
    /* The import entry is the 20th newest: after the 19 later changes,
     * before the 5 made in its own transaction. */
    hk_audit_entry *v;
    size_t n;
    assert_int_equal(hk_audit_history(t, f, 0, 100, &v, &n, &err), HK_OK);
    assert_int_equal(n, 25);
    assert_string_equal(v[19].op, "import");
    assert_int_equal(v[19].fact_id_last, last);
    uint64_t import_seq = v[19].seq;
    hk_audit_entries_free(v, n);

    /* Pages of 10 from the newest, each continuing below the last seq of
     * the one before: 10, 10, 5, then an empty page. */
    uint64_t before = 0;
    size_t seen = 0, pages = 0;
    for (; pages < 10; pages++) {
        assert_int_equal(hk_audit_history(t, f, before, 10, &v, &n, &err),
                         HK_OK);
        if (n == 0) break;
        for (size_t i = 0; i < n; i++) {
            assert_true(seen < n_want);
            assert_int_equal(v[i].seq, want[seen++]);
        }
        before = v[n - 1].seq;
        hk_audit_entries_free(v, n);
    }
    assert_int_equal(pages, 3);
    assert_int_equal(seen, n_want);
    assert_int_equal(before, want[n_want - 1]);

    /* Edges of the cursor: above the newest and far above are the
     * newest page; an entry's own seq starts below it; a seq between two
     * of the fact's entries (another fact's) starts at the lower one;
     * around the import entry; the oldest and 1 give nothing. */
    check_page(t, f, want[0] + 1, 10, want, n_want);
    check_page(t, f, UINT64_MAX, 10, want, n_want);
    for (size_t k = 0; k < n_want; k++) {
        check_page(t, f, want[k], 10, want, n_want);
        check_page(t, f, want[k] + 1, 3, want, n_want);
        if (k + 1 < n_want && want[k] - want[k + 1] > 1)
            check_page(t, f, want[k] - 1, 10, want, n_want);
    }
    check_page(t, f, import_seq, 1, want, n_want);
    check_page(t, f, import_seq + 1, 1, want, n_want);
    assert_int_equal(hk_audit_history(t, f, want[n_want - 1], 10, &v, &n, &err),
                     HK_OK);
    assert_int_equal(n, 0);
    hk_audit_entries_free(v, n);
    check_page(t, f, 1, 10, want, n_want);
    check_page(t, f, 2, 10, want, n_want);

    /* A neighbour in the same import with no entries of its own: only the
     * import entry, and nothing below it. */
    uint64_t one[4];
    assert_int_equal(oracle_history(t, f + 1, one, 4), 1);
    check_page(t, f + 1, 0, 10, one, 1);
    check_page(t, f + 1, import_seq + 1, 10, one, 1);
    check_page(t, f + 1, import_seq, 10, one, 1);
    /* A fact id that never existed: empty pages whatever the cursor. */
    check_page(t, last + 1000, 0, 10, one, 0);
    check_page(t, last + 1000, 5, 10, one, 0);
    hk_txn_abort(t);
    tu_discard(s, dir);
}

/* ==== Tampering ==== */

typedef struct raw_kb {
    MDB_env *env;  /* environment */
    MDB_txn *txn;  /* write txn */
    MDB_dbi audit; /* audit db */
} raw_kb;

static void raw_open(const char *dir, raw_kb *r)
{
    assert_int_equal(mdb_env_create(&r->env), 0);
    mdb_env_set_maxdbs(r->env, 32);
    assert_int_equal(mdb_env_open(r->env, dir, 0, 0644), 0);
    assert_int_equal(mdb_txn_begin(r->env, NULL, 0, &r->txn), 0);
    assert_int_equal(mdb_dbi_open(r->txn, "audit", 0, &r->audit), 0);
}

static void raw_close(raw_kb *r)
{
    assert_int_equal(mdb_txn_commit(r->txn), 0);
    mdb_env_close(r->env);
}

static MDB_val key_of(uint64_t seq, uint8_t kb[8])
{
    for (int i = 7; i >= 0; i--) {
        kb[i] = (uint8_t)seq;
        seq >>= 8;
    }
    MDB_val k = {8, kb};
    return k;
}

/* Copy of entry seq's value (caller frees). */
static uint8_t *raw_get(raw_kb *r, uint64_t seq, size_t *len)
{
    uint8_t kb[8];
    MDB_val k = key_of(seq, kb), d;
    assert_int_equal(mdb_get(r->txn, r->audit, &k, &d), 0);
    uint8_t *c = malloc(d.mv_size);
    memcpy(c, d.mv_data, d.mv_size);
    *len = d.mv_size;
    return c;
}

static void raw_put(raw_kb *r, uint64_t seq, const uint8_t *v, size_t len)
{
    uint8_t kb[8];
    MDB_val k = key_of(seq, kb), d = {len, (void *)v};
    assert_int_equal(mdb_put(r->txn, r->audit, &k, &d, 0), 0);
}

static void raw_del(raw_kb *r, uint64_t seq)
{
    uint8_t kb[8];
    MDB_val k = key_of(seq, kb);
    assert_int_equal(mdb_del(r->txn, r->audit, &k, NULL), 0);
}

static void expect_bad(const char *dir, uint64_t first_bad)
{
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, false);
    hk_audit_report rep;
    hk_error err;
    assert_int_equal(hk_audit_verify(t, &rep, &err), HK_OK);
    if (rep.ok || rep.first_bad != first_bad)
        fprintf(stderr, "verify: ok=%d first_bad=%llu reason=%s\n", rep.ok,
                (unsigned long long)rep.first_bad, rep.reason);
    assert_false(rep.ok);
    assert_int_equal(rep.first_bad, first_bad);
    assert_true(strlen(rep.reason) > 0);
    hk_txn_abort(t);
    hk_store_close(s);
}

typedef enum tamper { EDIT, DEL_MIDDLE, DEL_TAIL, SWAP, REWRITE_TAIL } tamper;

static void run_tamper(tamper kind, uint64_t want_bad)
{
    char *dir = tu_tmpdir("tamper");
    kb_info ki;
    build_kb(dir, &ki);
    raw_kb r;
    raw_open(dir, &r);
    size_t len, len2;
    uint8_t *v, *w;
    switch (kind) {
    case EDIT: /* flip one byte inside the after JSON of entry 3 */
        v = raw_get(&r, 3, &len);
        v[len - 64 - 10] ^= 0x01;
        raw_put(&r, 3, v, len);
        free(v);
        break;
    case DEL_MIDDLE:
        raw_del(&r, 2);
        break;
    case DEL_TAIL:
        raw_del(&r, ki.entries);
        break;
    case SWAP:
        v = raw_get(&r, 2, &len);
        w = raw_get(&r, 3, &len2);
        raw_put(&r, 2, w, len2);
        raw_put(&r, 3, v, len);
        free(v);
        free(w);
        break;
    case REWRITE_TAIL: {
        /* Change the last entry's time and recompute its hash the way the
         * store does: SHA-256(prev_hash || canonical bytes). Only the head
         * kept in meta can catch this. */
        v = raw_get(&r, ki.entries, &len);
        v[16] ^= 0x01; /* a byte of time_us */
        uint8_t *buf = malloc(len);
        memcpy(buf, v + len - 64, 32);
        memcpy(buf + 32, v, len - 64);
        hk_sha256(buf, 32 + len - 64, v + len - 32);
        raw_put(&r, ki.entries, v, len);
        free(buf);
        free(v);
        break;
    }
    }
    raw_close(&r);
    expect_bad(dir, want_bad);
    tu_rmrf(dir);
    free(dir);
}

static void test_tamper_edit(void **state)
{
    (void)state;
    run_tamper(EDIT, 3);
}
static void test_tamper_delete_middle(void **state)
{
    (void)state;
    run_tamper(DEL_MIDDLE, 2);
}
static void test_tamper_delete_tail(void **state)
{
    (void)state;
    run_tamper(DEL_TAIL, 8);
}
static void test_tamper_swap(void **state)
{
    (void)state;
    run_tamper(SWAP, 2);
}
static void test_tamper_rewrite_tail(void **state)
{
    (void)state;
    run_tamper(REWRITE_TAIL, 8);
}

static void test_verify_in_write_txn(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("auditw");
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, true);
    tu_add(t, tu_st("P", "a", NULL), NULL);
    tu_add(t, tu_st("P", "b", NULL), NULL);
    hk_audit_report rep;
    hk_error err;
    assert_int_equal(hk_audit_verify(t, &rep, &err), HK_OK);
    assert_true(rep.ok);
    assert_int_equal(rep.checked, 2);
    hk_txn_abort(t);
    /* Aborted: nothing left. */
    t = tu_begin(s, false);
    assert_int_equal(hk_audit_verify(t, &rep, &err), HK_OK);
    assert_true(rep.ok);
    assert_int_equal(rep.checked, 0);
    hk_txn_abort(t);
    tu_discard(s, dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entries_list_history),
        cmocka_unit_test(test_history_pages),
        cmocka_unit_test(test_tamper_edit),
        cmocka_unit_test(test_tamper_delete_middle),
        cmocka_unit_test(test_tamper_delete_tail),
        cmocka_unit_test(test_tamper_swap),
        cmocka_unit_test(test_tamper_rewrite_tail),
        cmocka_unit_test(test_verify_in_write_txn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
