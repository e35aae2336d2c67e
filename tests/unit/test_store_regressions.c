/*
 * test_store_regressions.c — store behaviour found wrong in review, each
 * case reproducing the failure it guards against:
 *
 *  - a query row looked ahead by hk_query_cursor in a write transaction,
 *    then a write, then the row handed out: its record must be read after
 *    the write, not through a pointer into a page the write moved (it
 *    returned the next fact's content under the row's id), and so must
 *    its pattern bindings;
 *  - compaction while a process of a build without the process lock
 *    (LMDB's own locks only) has the KB open: refused, like restore, or
 *    that process's later commits went to the replaced file and were lost;
 *  - compaction keeps data.mdb's permissions and owner (the copy was
 *    created 0644 by the compacting process: a private KB became readable
 *    by everyone, and a KB compacted by root unwritable for its owner);
 *    so does a restore over an existing KB, and a backup of a private KB
 *    is private too;
 *  - compaction on a full disk: the KB stays as it was, and the error says
 *    the disk is full (LMDB reports the short write as "Input/output
 *    error"). Needs a small tmpfs (root); skipped where mount is refused.
 */
#include "test_store_util.h"
#include "unit_skip.h"

#include <errno.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/wait.h>

#include <lmdb.h>

static void test_peeked_row_after_write_in_write_txn(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("regress-peek");
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, true);
    char a[16];
    for (int i = 1; i <= 10; i++) {
        snprintf(a, sizeof a, "a%02d", i);
        tu_add(t, tu_st("P", a, "b", NULL), NULL);
    }
    hk_query *q = NULL;
    hk_error err;
    hk_scan sc = HK_SCAN_INIT;
    assert_int_equal(hk_query_open_scan(t, &sc, NULL, &q, &err), HK_OK);
    hk_fact f;
    hk_fact_init(&f);
    bool has = false;
    assert_int_equal(hk_query_next(q, &f, &has, &err), HK_OK);
    assert_true(has);
    assert_int_equal(f.id, 1);
    hk_buf cur = HK_BUF_INIT;
    assert_int_equal(hk_query_cursor(q, &cur), HK_OK); /* looks at row 2 */
    assert_true(cur.len > 0);
    /* fact 1's record sits above fact 2's on the same dirty leaf: deleting
     * it moves fact 2's record */
    assert_int_equal(hk_store_delete(t, 1, &err), HK_OK);
    assert_int_equal(hk_query_next(q, &f, &has, &err), HK_OK);
    assert_true(has);
    assert_int_equal(f.id, 2);
    assert_string_equal(f.st.predicate, "P");
    assert_int_equal(f.st.n_args, 2);
    assert_string_equal(f.st.args[0], "a02");
    assert_int_equal(hk_query_next(q, &f, &has, &err), HK_OK);
    assert_true(has);
    assert_int_equal(f.id, 3);
    assert_string_equal(f.st.args[0], "a03");
    hk_query_close(q);
    /* the same with a pattern: the binding of a peeked row that a write
     * changed is read after the write, like the row itself */
    hk_pattern p;
    memset(&p, 0, sizeof p);
    p.predicate = (hk_term){HK_TERM_CONST, "P"};
    p.n_args = 2;
    p.args[0] = (hk_term){HK_TERM_VAR, "x"};
    p.args[1] = (hk_term){HK_TERM_CONST, "b"};
    assert_int_equal(hk_query_open_pattern(t, &p, NULL, &q, &err), HK_OK);
    assert_int_equal(hk_query_next_id(q, NULL, &has, &err), HK_OK);
    assert_true(has);
    assert_string_equal(hk_query_binding(q, "x"), "a02");
    hk_buf_reset(&cur);
    assert_int_equal(hk_query_cursor(q, &cur), HK_OK); /* looks at row 3 */
    hk_statement nst = tu_st("P", "zz", "b", NULL);
    hk_fact_id other = 0;
    assert_int_equal(hk_store_update(t, 3, &nst, &other, &err), HK_OK);
    assert_int_equal(hk_query_next(q, &f, &has, &err), HK_OK);
    assert_true(has);
    assert_int_equal(f.id, 3);
    assert_string_equal(f.st.args[0], "zz");
    assert_string_equal(hk_query_binding(q, "x"), "zz");
    hk_buf_free(&cur);
    hk_fact_release(&f);
    hk_query_close(q);
    tu_commit(t);
    tu_discard(s, dir);
}

static void small_kb(const char *dir)
{
    hk_store *s = tu_open(dir);
    for (int r = 0; r < 5; r++) {
        hk_txn *t = tu_begin(s, true);
        for (int i = 0; i < 40; i++) {
            char a[32];
            snprintf(a, sizeof a, "x%d_%d", r, i);
            tu_add(t, tu_st("Small", a, "kb", NULL), NULL);
        }
        tu_commit(t);
    }
    hk_store_close(s);
}

/* Child: opens the KB with LMDB alone (as builds before hakgal.lock did),
 * says 'y', waits for the parent, then commits key "probe" into meta. */
static int old_build_child(const char *dir, int ready, int go)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    char c = 0;
    if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 32) ||
        mdb_env_set_mapsize(env, 1ull << 30) ||
        mdb_env_open(env, dir, MDB_NOTLS, 0644))
        return 1;
    if (write(ready, "y", 1) != 1 || read(go, &c, 1) != 1) return 2;
    MDB_val k = {5, (void *)"probe"}, d = {3, (void *)"old"};
    if (mdb_txn_begin(env, NULL, 0, &txn) ||
        mdb_dbi_open(txn, "meta", 0, &dbi) || mdb_put(txn, dbi, &k, &d, 0) ||
        mdb_txn_commit(txn))
        return 3;
    mdb_env_close(env);
    return 0;
}

static void test_compact_refused_while_an_old_build_has_it_open(void **st)
{
    (void)st;
    char *dir = tu_tmpdir("regress-oldbuild");
    small_kb(dir);
    int ready[2], go[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(go), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(ready[0]);
        close(go[1]);
        _exit(old_build_child(dir, ready[1], go[0]));
    }
    close(ready[1]);
    close(go[0]);
    char c = 0;
    assert_int_equal(read(ready[0], &c, 1), 1);
    hk_error err;
    hk_err e = hk_store_compact(dir, NULL, &err);
    assert_int_equal(write(go[1], "g", 1), 1);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    close(ready[0]);
    close(go[1]);
    assert_int_equal(e, HK_ERR_BUSY);
    assert_non_null(strstr(err.message, "open in another process"));
    /* the old process's commit is in the KB */
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, false);
    MDB_val k = {5, (void *)"probe"}, d;
    assert_int_equal(mdb_get(t->txn, t->s->db.meta, &k, &d), 0);
    assert_int_equal(d.mv_size, 3);
    hk_txn_abort(t);
    hk_store_close(s);
    /* and once it is gone, compaction runs */
    assert_int_equal(hk_store_compact(dir, NULL, &err), HK_OK);
    tu_rmrf(dir);
    free(dir);
}

static void test_compact_keeps_mode_and_owner(void **st)
{
    (void)st;
    char *dir = tu_tmpdir("regress-mode");
    small_kb(dir);
    char data[600];
    snprintf(data, sizeof data, "%s/data.mdb", dir);
    assert_int_equal(chmod(data, 0600), 0);
    bool root = geteuid() == 0;
    if (root) assert_int_equal(chown(data, 65534, 65534), 0);
    hk_error err;
    hk_compact_report r;
    assert_int_equal(hk_store_compact(dir, &r, &err), HK_OK);
    assert_true(r.bytes_after > 0 && r.bytes_after < r.bytes_before);
    struct stat sb;
    assert_int_equal(stat(data, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0600);
    if (root) {
        assert_int_equal(sb.st_uid, 65534);
        assert_int_equal(sb.st_gid, 65534);
    }
    tu_rmrf(dir);
    free(dir);
}

static uint64_t count_facts(const char *dir)
{
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, false);
    tu_check(t);
    hk_stats st;
    hk_error err;
    assert_int_equal(hk_store_stats(t, &st, &err), HK_OK);
    hk_txn_abort(t);
    hk_store_close(s);
    return st.facts;
}

static void test_compact_on_a_full_disk(void **st)
{
    (void)st;
    char *mnt = tu_tmpdir("regress-full"); /* created by mkdtemp */
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=2m") != 0) {
        int why = errno;
        rmdir(mnt);
        free(mnt);
        TU_SKIP("cannot mount a small tmpfs (%s): needs root", strerror(why));
    }
    char dir[600], data[640], tmp[640], filler[640];
    snprintf(dir, sizeof dir, "%s/kb", mnt);
    snprintf(data, sizeof data, "%s/data.mdb", dir);
    snprintf(tmp, sizeof tmp, "%s/data.mdb.compact", dir);
    snprintf(filler, sizeof filler, "%s/filler", mnt);
    small_kb(dir);
    small_kb(dir); /* same facts again: only free pages are added */
    struct stat before, after;
    assert_int_equal(stat(data, &before), 0);
    /* leave less room than the copy needs */
    struct statvfs vs;
    assert_int_equal(statvfs(mnt, &vs), 0);
    uint64_t avail = (uint64_t)vs.f_bavail * vs.f_frsize;
    FILE *f = fopen(filler, "w");
    assert_non_null(f);
    static char zeros[4096];
    for (uint64_t n = 0; n + 16384 + sizeof zeros <= avail; n += sizeof zeros)
        assert_int_equal(fwrite(zeros, 1, sizeof zeros, f), sizeof zeros);
    assert_int_equal(fclose(f), 0);

    hk_error err;
    hk_err e = hk_store_compact(dir, NULL, &err);
    assert_int_equal(e, HK_ERR_DISK_FULL);
    assert_non_null(strstr(err.message, "disk full"));
    assert_int_equal(stat(data, &after), 0);
    assert_int_equal(after.st_ino, before.st_ino);
    assert_int_equal(after.st_size, before.st_size);
    assert_int_not_equal(access(tmp, F_OK), 0);
    assert_int_equal(count_facts(dir), 200);

    assert_int_equal(unlink(filler), 0);
    assert_int_equal(hk_store_compact(dir, NULL, &err), HK_OK);
    assert_int_equal(count_facts(dir), 200);
    assert_int_equal(umount2(mnt, MNT_DETACH), 0);
    rmdir(mnt);
    free(mnt);
}

static void test_backup_and_restore_keep_mode_and_owner(void **st)
{
    (void)st;
    char *dir = tu_tmpdir("regress-bmode");
    char *bdir = tu_tmpdir("regress-bmode-bk");
    char bk[600], data[600], bdata[640];
    snprintf(bk, sizeof bk, "%s/backup", bdir);
    snprintf(data, sizeof data, "%s/data.mdb", dir);
    snprintf(bdata, sizeof bdata, "%s/data.mdb", bk);
    small_kb(dir);
    assert_int_equal(chmod(data, 0600), 0);
    hk_error err;
    hk_store *s = tu_open(dir);
    assert_int_equal(hk_store_backup(s, bk, NULL, &err), HK_OK);
    hk_store_close(s);
    struct stat sb;
    assert_int_equal(stat(bdata, &sb), 0);
    assert_int_equal(sb.st_mode & 077, 0); /* private like its KB */
    assert_int_equal(hk_backup_verify(bk, NULL, &err), HK_OK);

    bool root = geteuid() == 0;
    if (root) assert_int_equal(chown(data, 65534, 65534), 0);
    assert_int_equal(hk_backup_restore(bk, dir, true, &err), HK_OK);
    assert_int_equal(stat(data, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0600);
    if (root) {
        assert_int_equal(sb.st_uid, 65534);
        assert_int_equal(sb.st_gid, 65534);
    }
    assert_int_equal(count_facts(dir), 200);
    tu_rmrf(dir);
    tu_rmrf(bdir);
    free(dir);
    free(bdir);
}

/* A query whose read transaction was reset and renewed would read its
 * LMDB cursor's and read-ahead buffer's pages of the old snapshot, which
 * writers may have reused meanwhile; it must refuse instead. */
static void test_query_refuses_a_renewed_snapshot(void **st)
{
    (void)st;
    char *dir = tu_tmpdir("regress-renew");
    hk_store *s = tu_open(dir);
    hk_txn *w = tu_begin(s, true);
    char a[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(a, sizeof a, "v%d", i);
        tu_add(w, tu_st("R", "hub", a, NULL), NULL);
    }
    tu_commit(w);
    hk_txn *t = tu_begin(s, false);
    hk_scan sc = HK_SCAN_INIT;
    sc.entity = "hub";
    hk_query *q = NULL;
    hk_error err;
    assert_int_equal(hk_query_open_scan(t, &sc, NULL, &q, &err), HK_OK);
    hk_fact f;
    hk_fact_init(&f);
    bool has = false;
    assert_int_equal(hk_query_next(q, &f, &has, &err), HK_OK);
    assert_true(has);
    hk_txn_reset(t);
    /* writers free and reuse the old snapshot's pages */
    for (int round = 0; round < 3; round++) {
        w = tu_begin(s, true);
        for (hk_fact_id id = 1 + (hk_fact_id)round * 1000;
             id <= (hk_fact_id)(round + 1) * 1000; id++)
            assert_int_equal(hk_store_delete(w, id, &err), HK_OK);
        for (int i = 0; i < 1000; i++) {
            snprintf(a, sizeof a, "n%d_%d", round, i);
            tu_add(w, tu_st("Other", a, "z", NULL), NULL);
        }
        tu_commit(w);
    }
    assert_int_equal(hk_txn_renew(t, &err), HK_OK);
    hk_err e = hk_query_next(q, &f, &has, &err);
    assert_int_equal(e, HK_ERR_STATE);
    hk_buf cur = HK_BUF_INIT;
    assert_int_equal(hk_query_cursor(q, &cur), HK_ERR_STATE);
    hk_buf_free(&cur);
    hk_fact_release(&f);
    hk_query_close(q);
    hk_txn_abort(t);
    tu_discard(s, dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_peeked_row_after_write_in_write_txn),
        cmocka_unit_test(test_compact_refused_while_an_old_build_has_it_open),
        cmocka_unit_test(test_compact_keeps_mode_and_owner),
        cmocka_unit_test(test_compact_on_a_full_disk),
        cmocka_unit_test(test_query_refuses_a_renewed_snapshot),
        cmocka_unit_test(test_backup_and_restore_keep_mode_and_owner),
    };
    return tu_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
