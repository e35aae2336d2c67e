/*
 * test_store_audit.c — the audit chain: entries for every mutation, list
 * and history (bulk import entries included), verify, and tamper detection
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
    assert_int_equal(hk_audit_history(t, ki.a, 10, &v, &n, &err), HK_OK);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].op, "meta");
    assert_string_equal(v[1].op, "add");
    hk_audit_entries_free(v, n);
    assert_int_equal(hk_audit_history(t, ki.a, 1, &v, &n, &err), HK_OK);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].op, "meta");
    hk_audit_entries_free(v, n);
    /* A bulk-created fact: the import entry. */
    assert_int_equal(hk_audit_history(t, ki.bulk_first + 7, 10, &v, &n, &err),
                     HK_OK);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].op, "import");
    hk_audit_entries_free(v, n);
    /* Bulk-created then deleted: import (newer, seq 8) and delete (7). */
    assert_int_equal(hk_audit_history(t, ki.bulk_first + 1, 10, &v, &n, &err),
                     HK_OK);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].op, "import");
    assert_string_equal(v[1].op, "delete");
    hk_audit_entries_free(v, n);
    /* Outside any range: nothing. */
    assert_int_equal(hk_audit_history(t, ki.bulk_last + 100, 10, &v, &n, &err),
                     HK_OK);
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
        cmocka_unit_test(test_tamper_edit),
        cmocka_unit_test(test_tamper_delete_middle),
        cmocka_unit_test(test_tamper_delete_tail),
        cmocka_unit_test(test_tamper_swap),
        cmocka_unit_test(test_tamper_rewrite_tail),
        cmocka_unit_test(test_verify_in_write_txn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
