/*
 * test_store_backup.c — hot backup while another thread writes (the copy
 * opens, verifies and holds a whole number of committed transactions),
 * manifest checksum verification and tamper detection, restore with and
 * without force.
 */
#include "test_store_util.h"

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>

#define BATCH 100

typedef struct writer_arg {
    hk_store *s;        /* store to write to */
    atomic_int stop;    /* set to end the writer */
    atomic_int batches; /* committed batches */
    atomic_int failed;  /* a write failed (the test then fails) */
    char why[512];      /* its message, written before failed is set */
} writer_arg;

static void *writer(void *p)
{
    writer_arg *w = p;
    int b = 0;
    hk_txn *t = NULL;
    hk_error err;
    while (!atomic_load(&w->stop) && b < 400) {
        if (hk_txn_begin(w->s, true, &t, &err)) goto fail;
        for (int i = 0; i < BATCH; i++) {
            char a[32];
            snprintf(a, sizeof a, "n%d_%d", b, i);
            hk_statement st = tu_st("Written", a, "during backup", NULL);
            hk_fact_id id;
            if (hk_store_add(t, &st, NULL, &id, NULL, &err)) goto fail;
        }
        hk_txn *done = t;
        t = NULL;
        if (hk_txn_commit(done, &err)) goto fail;
        b++;
        atomic_store(&w->batches, b);
    }
    return NULL;
fail:
    if (t) hk_txn_abort(t);
    snprintf(w->why, sizeof w->why, "%s", err.message);
    atomic_store(&w->failed, 1);
    return NULL;
}

static void check_kb(const char *dir, uint64_t *facts)
{
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, false);
    hk_stats st;
    hk_error err;
    assert_int_equal(hk_store_stats(t, &st, &err), HK_OK);
    hk_audit_report rep;
    assert_int_equal(hk_audit_verify(t, &rep, &err), HK_OK);
    assert_true(rep.ok);
    /* counters agree with a full scan */
    hk_scan sc = HK_SCAN_INIT;
    hk_query *q;
    assert_int_equal(hk_query_open_scan(t, &sc, NULL, &q, &err), HK_OK);
    uint64_t n = 0;
    hk_fact_id id;
    while (tu_next_id(q, &id))
        n++;
    hk_query_close(q);
    assert_int_equal(n, st.facts);
    assert_int_equal(rep.checked, st.audit_entries);
    tu_check(t);
    *facts = st.facts;
    hk_txn_abort(t);
    hk_store_close(s);
}

static void test_hot_backup_restore(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("bk-src");
    char *bdir = tu_tmpdir("bk-dst");
    char *rdir = tu_tmpdir("bk-restore");
    char bk[600], rs[600];
    snprintf(bk, sizeof bk, "%s/nested/dirs/backup1", bdir);
    snprintf(rs, sizeof rs, "%s/deeper/kb", rdir);
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, true);
    for (int i = 0; i < 50; i++) {
        char a[16];
        snprintf(a, sizeof a, "seed%d", i);
        tu_add(t, tu_st("Seed", a, NULL), NULL);
    }
    tu_commit(t);

    writer_arg w = {.s = s};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, writer, &w), 0);
    while (atomic_load(&w.batches) < 3 && !atomic_load(&w.failed))
        usleep(1000);
    char hex[65];
    hk_error err;
    assert_int_equal(hk_store_backup(s, bk, hex, &err), HK_OK);
    int during = atomic_load(&w.batches);
    atomic_store(&w.stop, 1);
    pthread_join(th, NULL);
    if (atomic_load(&w.failed)) fail_msg("writer during backup: %s", w.why);
    assert_int_equal(strlen(hex), 64);

    char hex2[65];
    assert_int_equal(hk_backup_verify(bk, hex2, &err), HK_OK);
    assert_string_equal(hex, hex2);

    /* The copy holds the seed plus whole batches, consistent. */
    uint64_t facts;
    char copy[700];
    snprintf(copy, sizeof copy, "%s", bk);
    /* Open a scratch copy (opening creates lock.mdb; keep the backup
     * pristine so that its checksum stays valid). */
    assert_int_equal(hk_backup_restore(bk, rs, false, &err), HK_OK);
    check_kb(rs, &facts);
    assert_true(facts >= 50);
    assert_int_equal((facts - 50) % BATCH, 0);
    assert_true((facts - 50) / BATCH >= 3);
    fprintf(stderr, "backup holds %llu facts (%d batches committed during)\n",
            (unsigned long long)facts, during);
    assert_int_equal(hk_backup_verify(bk, NULL, &err), HK_OK);

    /* Manifest facts agree. */
    char mpath[800], buf[2048];
    snprintf(mpath, sizeof mpath, "%s/MANIFEST.json", bk);
    FILE *f = fopen(mpath, "r");
    assert_non_null(f);
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    buf[len] = 0;
    fclose(f);
    char want[64];
    snprintf(want, sizeof want, "\"facts\": %llu", (unsigned long long)facts);
    assert_non_null(strstr(buf, want));
    assert_non_null(strstr(buf, hex));

    /* Restore refuses to overwrite a KB without force. */
    assert_int_equal(hk_backup_restore(bk, rs, false, &err), HK_ERR_EXISTS);
    assert_int_equal(hk_backup_restore(bk, rs, true, &err), HK_OK);
    check_kb(rs, &facts);
    /* A backup into a non-empty directory is refused. */
    assert_int_equal(hk_store_backup(s, bk, NULL, &err), HK_ERR_EXISTS);
    hk_store_close(s);
    (void)copy;
    tu_rmrf(dir);
    tu_rmrf(bdir);
    tu_rmrf(rdir);
    free(dir);
    free(bdir);
    free(rdir);
}

static void test_verify_detects_damage(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("bk2-src");
    char *bdir = tu_tmpdir("bk2-dst");
    char *rdir = tu_tmpdir("bk2-restore");
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, true);
    tu_add(t, tu_st("P", "a", NULL), NULL);
    tu_commit(t);
    hk_error err;
    /* bdir exists and is empty: allowed. */
    assert_int_equal(hk_store_backup(s, bdir, NULL, &err), HK_OK);
    hk_store_close(s);
    char data[600];
    snprintf(data, sizeof data, "%s/data.mdb", bdir);
    FILE *f = fopen(data, "r+b");
    assert_non_null(f);
    fseek(f, 100, SEEK_SET);
    int c = fgetc(f);
    fseek(f, 100, SEEK_SET);
    fputc(c ^ 0xff, f);
    fclose(f);
    assert_int_equal(hk_backup_verify(bdir, NULL, &err), HK_ERR_CORRUPT);
    assert_int_equal(hk_backup_restore(bdir, rdir, false, &err),
                     HK_ERR_CORRUPT);
    /* Nothing was installed. */
    char rdata[600];
    snprintf(rdata, sizeof rdata, "%s/data.mdb", rdir);
    assert_int_not_equal(access(rdata, F_OK), 0);
    assert_int_equal(hk_backup_verify("/nonexistent/backup", NULL, &err),
                     HK_ERR_NOT_FOUND);
    tu_rmrf(dir);
    tu_rmrf(bdir);
    tu_rmrf(rdir);
    free(dir);
    free(bdir);
    free(rdir);
}

/* The backup holds exactly the same entries as the KB in every database
 * (it is rewritten in key order, not copied page by page), and it is
 * smaller than the KB file. */
static const char *DBS[] = {
    "meta",    "sym",    "sym_id",        "fact",      "stmt",
    "by_pred", "by_arg", "arg_multi",     "pstat",     "pred_names",
    "tok",     "audit",  "audit_by_fact", "audit_bulk"};
static const unsigned DB_FLAGS[] = {0,
                                    0,
                                    MDB_INTEGERKEY,
                                    MDB_INTEGERKEY,
                                    0,
                                    MDB_DUPSORT | MDB_DUPFIXED,
                                    MDB_DUPSORT | MDB_DUPFIXED,
                                    0,
                                    0,
                                    0,
                                    MDB_DUPSORT | MDB_DUPFIXED,
                                    0,
                                    MDB_DUPSORT | MDB_DUPFIXED,
                                    0};

static void compare_envs(const char *a, const char *b)
{
    MDB_env *ea, *eb;
    MDB_txn *ta, *tb;
    assert_int_equal(mdb_env_create(&ea), 0);
    assert_int_equal(mdb_env_create(&eb), 0);
    mdb_env_set_maxdbs(ea, 32);
    mdb_env_set_maxdbs(eb, 32);
    assert_int_equal(mdb_env_open(ea, a, MDB_RDONLY | MDB_NOLOCK, 0644), 0);
    assert_int_equal(mdb_env_open(eb, b, MDB_RDONLY | MDB_NOLOCK, 0644), 0);
    assert_int_equal(mdb_txn_begin(ea, NULL, MDB_RDONLY, &ta), 0);
    assert_int_equal(mdb_txn_begin(eb, NULL, MDB_RDONLY, &tb), 0);
    size_t total = 0;
    for (size_t i = 0; i < sizeof DBS / sizeof *DBS; i++) {
        MDB_dbi da, db;
        MDB_cursor *ca, *cb;
        assert_int_equal(mdb_dbi_open(ta, DBS[i], DB_FLAGS[i], &da), 0);
        assert_int_equal(mdb_dbi_open(tb, DBS[i], DB_FLAGS[i], &db), 0);
        assert_int_equal(mdb_cursor_open(ta, da, &ca), 0);
        assert_int_equal(mdb_cursor_open(tb, db, &cb), 0);
        MDB_val ka, va, kb, vb;
        int ra = mdb_cursor_get(ca, &ka, &va, MDB_FIRST);
        int rb = mdb_cursor_get(cb, &kb, &vb, MDB_FIRST);
        while (ra == 0 && rb == 0) {
            assert_int_equal(ka.mv_size, kb.mv_size);
            assert_memory_equal(ka.mv_data, kb.mv_data, ka.mv_size);
            assert_int_equal(va.mv_size, vb.mv_size);
            assert_memory_equal(va.mv_data, vb.mv_data, va.mv_size);
            total++;
            ra = mdb_cursor_get(ca, &ka, &va, MDB_NEXT);
            rb = mdb_cursor_get(cb, &kb, &vb, MDB_NEXT);
        }
        assert_int_equal(ra, MDB_NOTFOUND);
        assert_int_equal(rb, MDB_NOTFOUND);
        mdb_cursor_close(ca);
        mdb_cursor_close(cb);
    }
    assert_true(total > 10000);
    mdb_txn_abort(ta);
    mdb_txn_abort(tb);
    mdb_env_close(ea);
    mdb_env_close(eb);
}

static void test_backup_is_identical_and_dense(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("bk3-src");
    char *bdir = tu_tmpdir("bk3-dst");
    hk_store *s = tu_open(dir);
    uint64_t rng = 17;
    hk_error err;
    for (int tx = 0; tx < 20; tx++) {
        hk_txn *t = tu_begin(s, true);
        if (tx % 2) assert_int_equal(hk_txn_set_bulk(t, "bk3"), HK_OK);
        for (int i = 0; i < 500; i++) {
            char a[32], b[32];
            snprintf(a, sizeof a, "ent%llu",
                     (unsigned long long)(tu_rand(&rng) % 2000));
            snprintf(b, sizeof b, "val%llu",
                     (unsigned long long)(tu_rand(&rng) % 5000));
            hk_statement st =
                tu_st(tu_rand(&rng) % 2 ? "HasPart" : "IsA", a, b, NULL);
            hk_fact_id id;
            assert_int_equal(hk_store_add(t, &st, NULL, &id, NULL, &err),
                             HK_OK);
            if (i % 50 == 0)
                assert_int_equal(hk_store_delete(t, id, &err), HK_OK);
        }
        tu_commit(t);
    }
    hk_store_close(s);
    s = tu_open(dir);
    char bk[600];
    snprintf(bk, sizeof bk, "%s/b", bdir);
    assert_int_equal(hk_store_backup(s, bk, NULL, &err), HK_OK);
    hk_store_close(s);
    compare_envs(dir, bk);
    struct stat sa, sb;
    char pa[700], pb[700];
    snprintf(pa, sizeof pa, "%s/data.mdb", dir);
    snprintf(pb, sizeof pb, "%s/data.mdb", bk);
    assert_int_equal(stat(pa, &sa), 0);
    assert_int_equal(stat(pb, &sb), 0);
    fprintf(stderr, "KB %lld bytes, backup %lld bytes\n", (long long)sa.st_size,
            (long long)sb.st_size);
    assert_true(sb.st_size < sa.st_size);
    /* no lock file was left in the backup */
    snprintf(pb, sizeof pb, "%s/lock.mdb", bk);
    assert_int_not_equal(access(pb, F_OK), 0);
    assert_int_equal(hk_backup_verify(bk, NULL, &err), HK_OK);
    tu_rmrf(dir);
    tu_rmrf(bdir);
    free(dir);
    free(bdir);
}

/* A KB whose data.mdb is a symbolic link is not replaced by restore (the
 * link would become a file and the linked file keep the old data). */
static void test_restore_refuses_linked_data_file(void **state)
{
    (void)state;
    char *src = tu_tmpdir("bk-link-src");
    char *bdir = tu_tmpdir("bk-link-bk");
    char *real = tu_tmpdir("bk-link-real");
    char *kb = tu_tmpdir("bk-link-kb");
    char bk[600], target[600], link[600];
    hk_error err;
    snprintf(bk, sizeof bk, "%s/b", bdir);
    hk_store *s = tu_open(src);
    hk_txn *t = tu_begin(s, true);
    tu_add(t, tu_st("FromBackup", "x", NULL), NULL);
    tu_commit(t);
    assert_int_equal(hk_store_backup(s, bk, NULL, &err), HK_OK);
    hk_store_close(s);
    s = tu_open(real);
    t = tu_begin(s, true);
    tu_add(t, tu_st("Original", "y", NULL), NULL);
    tu_commit(t);
    hk_store_close(s);
    snprintf(target, sizeof target, "%s/data.mdb", real);
    snprintf(link, sizeof link, "%s/data.mdb", kb);
    assert_int_equal(symlink(target, link), 0);
    assert_int_equal(hk_backup_restore(bk, kb, true, &err), HK_ERR_INVALID);
    assert_non_null(strstr(err.message, "symbolic link"));
    struct stat lsb;
    assert_int_equal(lstat(link, &lsb), 0);
    assert_true(S_ISLNK(lsb.st_mode));
    s = tu_open(kb);
    t = tu_begin(s, false);
    hk_fact f;
    hk_fact_init(&f);
    assert_int_equal(hk_store_get(t, 1, &f, &err), HK_OK);
    assert_string_equal(f.st.predicate, "Original");
    hk_fact_release(&f);
    hk_txn_abort(t);
    hk_store_close(s);
    const char *dirs[] = {src, bdir, real, kb};
    for (size_t i = 0; i < 4; i++) {
        tu_rmrf(dirs[i]);
        free((void *)dirs[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hot_backup_restore),
        cmocka_unit_test(test_restore_refuses_linked_data_file),
        cmocka_unit_test(test_verify_detects_damage),
        cmocka_unit_test(test_backup_is_identical_and_dense),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
