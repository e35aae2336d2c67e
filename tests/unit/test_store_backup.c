/*
 * test_store_backup.c — hot backup while another thread writes (the copy
 * opens, verifies and holds a whole number of committed transactions),
 * manifest checksum verification and tamper detection, restore with and
 * without force.
 */
#include "test_store_util.h"

#include <pthread.h>
#include <stdatomic.h>

#define BATCH 100

typedef struct writer_arg {
    hk_store *s;            /* store to write to */
    atomic_int stop;        /* set to end the writer */
    atomic_int batches;     /* committed batches */
} writer_arg;

static void *writer(void *p) {
    writer_arg *w = p;
    int b = 0;
    while (!atomic_load(&w->stop) && b < 400) {
        hk_txn *t = NULL;
        hk_error err;
        if (hk_txn_begin(w->s, true, &t, &err))
            break;
        for (int i = 0; i < BATCH; i++) {
            char a[32];
            snprintf(a, sizeof a, "n%d_%d", b, i);
            hk_statement st = tu_st("Written", a, "during backup", NULL);
            hk_fact_id id;
            if (hk_store_add(t, &st, NULL, &id, NULL, &err))
                break;
        }
        if (hk_txn_commit(t, &err))
            break;
        b++;
        atomic_store(&w->batches, b);
    }
    return NULL;
}

static void check_kb(const char *dir, uint64_t *facts) {
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
    bool has;
    hk_fact_id id;
    while (hk_query_next_id(q, &id, &has, &err) == HK_OK && has)
        n++;
    hk_query_close(q);
    assert_int_equal(n, st.facts);
    assert_int_equal(rep.checked, st.audit_entries);
    *facts = st.facts;
    hk_txn_abort(t);
    hk_store_close(s);
}

static void test_hot_backup_restore(void **state) {
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
    while (atomic_load(&w.batches) < 3)
        usleep(1000);
    char hex[65];
    hk_error err;
    assert_int_equal(hk_store_backup(s, bk, hex, &err), HK_OK);
    int during = atomic_load(&w.batches);
    atomic_store(&w.stop, 1);
    pthread_join(th, NULL);
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

static void test_verify_detects_damage(void **state) {
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hot_backup_restore),
        cmocka_unit_test(test_verify_detects_damage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
