/*
 * test_store_compact.c — hk_store_compact and the process lock.
 *
 *  - A KB built in many small transactions with deletes, updates and
 *    metadata changes is compacted: every fact (with metadata), the rows
 *    of scans and patterns, counts, listings, search, the audit log and
 *    the statistics are identical afterwards, the validator passes, the
 *    file is smaller and its free list about empty, and it takes writes.
 *  - Compaction (and restore) are refused with HK_ERR_BUSY while another
 *    process (a forked child) or another handle of this process has the
 *    KB open, and work once it is closed.
 *  - hk_store_open waits behind an exclusive holder of the process lock
 *    and fails with HK_ERR_BUSY after lock_wait_ms.
 *  - A stale temporary copy of an interrupted compaction is never read and
 *    is removed by the next compaction.
 *  - The policy of hk_store_compact_advised.
 */
#include "core/buf.h"
#include "core/sha256.h"
#include "test_store_util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>

#define N_PRED 12
#define N_ENT 300

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t file_size(const char *dir, const char *name)
{
    char p[700];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

static bool file_exists(const char *dir, const char *name)
{
    char p[700];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

/* ==== Building a KB with history ==== */

/* A random statement over a small vocabulary (so MERGE hits happen). */
static hk_statement rand_st(uint64_t *rng, char bufs[4][32])
{
    snprintf(bufs[0], 32, "Pred%d", (int)(tu_rand(rng) % N_PRED));
    uint32_t n = 1 + (uint32_t)(tu_rand(rng) % 3);
    hk_statement st;
    memset(&st, 0, sizeof st);
    st.predicate = bufs[0];
    for (uint32_t i = 0; i < n; i++) {
        snprintf(bufs[1 + i], 32, "Entity %d", (int)(tu_rand(rng) % N_ENT));
        st.args[i] = bufs[1 + i];
    }
    st.n_args = n;
    return st;
}

/* Many small transactions: adds (some in bulk mode), deletes, updates and
 * metadata changes, so the file ends up with many free pages. */
static uint64_t build_kb(const char *dir)
{
    hk_store *s = tu_open(dir);
    uint64_t rng = 42;
    hk_fact_id *ids = calloc(200000, sizeof *ids);
    size_t n_ids = 0;
    assert_non_null(ids);
    hk_error err;
    for (int round = 0; round < 160; round++) {
        hk_txn *t = tu_begin(s, true);
        if (round % 5 == 0)
            assert_int_equal(hk_txn_set_bulk(t, "rounds"), HK_OK);
        if (round % 7 == 0)
            assert_int_equal(hk_txn_set_actor(t, "tester"), HK_OK);
        for (int i = 0; i < 120; i++) {
            char b[4][32];
            hk_statement st = rand_st(&rng, b);
            hk_fact_id id;
            bool created;
            hk_fact_meta m;
            memset(&m, 0, sizeof m);
            const char *tags[] = {"t1", "t2"};
            if (i % 9 == 0) {
                m.fields = HK_META_CONFIDENCE | HK_META_SOURCE | HK_META_TAGS;
                m.confidence = 0.5;
                m.source = "unit test";
                m.n_tags = 2;
                m.tags = tags;
            }
            assert_int_equal(hk_store_add(t, &st, i % 9 == 0 ? &m : NULL, &id,
                                          &created, &err),
                             HK_OK);
            if (created) ids[n_ids++] = id;
        }
        if (round % 5 != 0) {
            for (int i = 0; i < 15 && n_ids > 0; i++) {
                size_t k = tu_rand(&rng) % n_ids;
                uint64_t op = tu_rand(&rng) % 3;
                if (op == 0) {
                    assert_int_equal(hk_store_delete(t, ids[k], &err), HK_OK);
                    ids[k] = ids[--n_ids];
                } else if (op == 1) {
                    char b[4][32];
                    hk_statement st = rand_st(&rng, b);
                    hk_fact_id other;
                    hk_err e = hk_store_update(t, ids[k], &st, &other, &err);
                    assert_true(e == HK_OK || e == HK_ERR_EXISTS);
                } else {
                    hk_fact_meta m;
                    memset(&m, 0, sizeof m);
                    m.fields = HK_META_CONFIDENCE | HK_META_CONTEXT;
                    m.confidence = 0.25;
                    m.context_json = "{\"round\": 1}";
                    assert_int_equal(hk_store_set_meta(t, ids[k], &m, &err),
                                     HK_OK);
                }
            }
        }
        tu_commit(t);
    }
    hk_store_close(s);
    free(ids);
    return n_ids;
}

/* ==== Everything a reader can see, as text ==== */

static void add_rows(hk_txn *t, hk_query *q, hk_buf *out)
{
    hk_fact f;
    hk_fact_init(&f);
    bool has;
    hk_error err;
    for (int n = 0; n < 100000; n++) {
        assert_int_equal(hk_query_next(q, &f, &has, &err), HK_OK);
        if (!has) break;
        assert_int_equal(hk_fact_write_json(&f, out), HK_OK);
        hk_buf_append_str(out, "\n");
    }
    hk_fact_release(&f);
    hk_query_close(q);
    (void)t;
}

static void fingerprint(hk_store *s, hk_buf *out, hk_stats *stats)
{
    hk_txn *t = tu_begin(s, false);
    hk_error err;
    hk_query *q;
    hk_scan all = HK_SCAN_INIT;
    hk_buf_reset(out);
    /* every fact with its metadata, in id order */
    assert_int_equal(hk_query_open_scan(t, &all, NULL, &q, &err), HK_OK);
    add_rows(t, q, out);
    for (int p = 0; p < N_PRED; p++) {
        char name[32];
        snprintf(name, sizeof name, "Pred%d", p);
        hk_scan sc = HK_SCAN_INIT;
        sc.predicate = name;
        sc.newest_first = true;
        assert_int_equal(hk_query_open_scan(t, &sc, NULL, &q, &err), HK_OK);
        add_rows(t, q, out);
        uint64_t n;
        assert_int_equal(hk_store_count_predicate(t, name, &n, &err), HK_OK);
        hk_buf_appendf(out, "count %s %llu\n", name, (unsigned long long)n);
    }
    for (int e = 0; e < N_ENT; e += 7) {
        char name[32];
        snprintf(name, sizeof name, "Entity %d", e);
        hk_scan sc = HK_SCAN_INIT;
        sc.entity = name;
        sc.position = e % 2;
        assert_int_equal(hk_query_open_scan(t, &sc, NULL, &q, &err), HK_OK);
        add_rows(t, q, out);
        uint64_t n;
        assert_int_equal(hk_store_count_entity(t, name, &n, &err), HK_OK);
        hk_buf_appendf(out, "count %s %llu\n", name, (unsigned long long)n);
        char pat[96];
        snprintf(pat, sizeof pat, "?p(\"%s\", ?x)", name);
        hk_pattern pt;
        assert_int_equal(hk_pattern_parse(pat, strlen(pat), &pt, &err), HK_OK);
        assert_int_equal(hk_query_open_pattern(t, &pt, NULL, &q, &err), HK_OK);
        add_rows(t, q, out);
        hk_pattern_release(&pt);
    }
    hk_name_count *nc;
    size_t n;
    assert_int_equal(hk_store_list_predicates(t, NULL, 1000, &nc, &n, &err),
                     HK_OK);
    for (size_t i = 0; i < n; i++)
        hk_buf_appendf(out, "pred %s %llu %u %u\n", nc[i].name,
                       (unsigned long long)nc[i].count, nc[i].min_arity,
                       nc[i].max_arity);
    hk_name_counts_free(nc, n);
    assert_int_equal(hk_store_list_entities(t, NULL, 1000, 1, &nc, &n, &err),
                     HK_OK);
    for (size_t i = 0; i < n; i++)
        hk_buf_appendf(out, "ent %s %llu\n", nc[i].name,
                       (unsigned long long)nc[i].count);
    hk_name_counts_free(nc, n);
    hk_search_hit *hits;
    size_t nh;
    assert_int_equal(hk_store_search(t, "entity pred", 50, &hits, &nh, &err),
                     HK_OK);
    for (size_t i = 0; i < nh; i++)
        hk_buf_appendf(out, "hit %llu %.6f\n", (unsigned long long)hits[i].id,
                       hits[i].score);
    hk_free(hits);
    hk_audit_entry *ae;
    assert_int_equal(hk_audit_list(t, 0, 100000, &ae, &n, &err), HK_OK);
    for (size_t i = 0; i < n; i++) {
        char h[65];
        hk_hex(ae[i].hash, 32, h);
        hk_buf_appendf(out, "audit %llu %s %s\n", (unsigned long long)ae[i].seq,
                       ae[i].op, h);
    }
    hk_audit_entries_free(ae, n);
    hk_audit_report rep;
    assert_int_equal(hk_audit_verify(t, &rep, &err), HK_OK);
    assert_true(rep.ok);
    hk_buf_appendf(out, "audit ok %llu\n", (unsigned long long)rep.checked);
    assert_int_equal(hk_store_stats(t, stats, &err), HK_OK);
    tu_check(t);
    hk_txn_abort(t);
}

/* ==== Tests ==== */

static void test_compact_keeps_everything(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("compact");
    uint64_t live = build_kb(dir);
    hk_buf before = HK_BUF_INIT, after = HK_BUF_INIT;
    hk_stats sb, sa;
    hk_store *s = tu_open(dir);
    fingerprint(s, &before, &sb);
    hk_store_close(s);
    assert_int_equal(sb.facts, live);
    assert_true(sb.bytes_free > 0);
    assert_true(sb.bytes_free < sb.bytes_used);
    uint64_t size_before = file_size(dir, "data.mdb");

    hk_compact_report r;
    hk_error err;
    hk_err e = hk_store_compact(dir, &r, &err);
    if (e) fprintf(stderr, "compact: %s\n", err.message);
    assert_int_equal(e, HK_OK);
    assert_int_equal(r.facts, live);
    assert_int_equal(r.bytes_before, size_before);
    assert_int_equal(r.bytes_free_before, sb.bytes_free);
    assert_int_equal(r.bytes_after, file_size(dir, "data.mdb"));
    assert_true(r.bytes_after < r.bytes_before);
    assert_true(r.bytes_after <= sb.bytes_used - sb.bytes_free);
    assert_true(r.seconds >= 0.0);
    assert_false(file_exists(dir, "data.mdb.compact"));
    assert_false(file_exists(dir, "lock.mdb")); /* stale, removed */
    fprintf(stderr, "compacted %llu facts: %llu -> %llu bytes (%llu free)\n",
            (unsigned long long)live, (unsigned long long)r.bytes_before,
            (unsigned long long)r.bytes_after,
            (unsigned long long)r.bytes_free_before);

    s = tu_open(dir);
    fingerprint(s, &after, &sa);
    assert_int_equal(before.len, after.len);
    assert_memory_equal(before.data, after.data, before.len);
    assert_int_equal(sa.facts, sb.facts);
    assert_int_equal(sa.predicates, sb.predicates);
    assert_int_equal(sa.entities, sb.entities);
    assert_int_equal(sa.symbols, sb.symbols);
    assert_int_equal(sa.audit_entries, sb.audit_entries);
    assert_int_equal(sa.last_fact_id, sb.last_fact_id);
    assert_int_equal(sa.last_change_us, sb.last_change_us);
    assert_int_equal(sa.schema_version, sb.schema_version);
    assert_true(sa.bytes_free <= 16 * 4096); /* a few pages of the steps */
    assert_true(sa.bytes_free * 10 < sb.bytes_free);

    /* The compacted KB takes writes; ids and the audit chain go on. */
    hk_txn *t = tu_begin(s, true);
    bool created;
    hk_fact_id id = tu_add(t, tu_st("After", "compaction", NULL), &created);
    assert_true(created);
    assert_int_equal(id, sb.last_fact_id + 1);
    hk_stats sw;
    assert_int_equal(hk_store_stats(t, &sw, &err), HK_OK); /* write txn */
    assert_true(sw.bytes_free <= sw.bytes_used);
    tu_commit(t);
    t = tu_begin(s, false);
    hk_audit_report rep;
    assert_int_equal(hk_audit_verify(t, &rep, &err), HK_OK);
    assert_true(rep.ok);
    assert_int_equal(rep.checked, sb.audit_entries + 1);
    tu_check(t);
    hk_txn_abort(t);
    hk_store_close(s);
    hk_buf_free(&before);
    hk_buf_free(&after);
    tu_rmrf(dir);
    free(dir);
}

/* A child process that opens the KB, says so on a pipe, and closes it when
 * the parent writes to another pipe. */
static pid_t hold_open_in_child(const char *dir, int *release_fd)
{
    int ready[2], release[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(release), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(ready[0]);
        close(release[1]);
        hk_store_options o = {0};
        o.read_only = true;
        hk_store *s = NULL;
        char c = hk_store_open(dir, &o, &s, NULL) == HK_OK ? 'y' : 'n';
        if (write(ready[1], &c, 1) != 1) _exit(2);
        ssize_t n = read(release[0], &c, 1);
        hk_store_close(s);
        _exit(n == 1 ? 0 : 3);
    }
    close(ready[1]);
    close(release[0]);
    char c = 0;
    assert_int_equal(read(ready[0], &c, 1), 1);
    assert_int_equal(c, 'y');
    close(ready[0]);
    *release_fd = release[1];
    return pid;
}

static void release_child(pid_t pid, int release_fd)
{
    char c = 'x';
    assert_int_equal(write(release_fd, &c, 1), 1);
    close(release_fd);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void small_kb(const char *dir)
{
    hk_store *s = tu_open(dir);
    for (int r = 0; r < 20; r++) {
        hk_txn *t = tu_begin(s, true);
        for (int i = 0; i < 50; i++) {
            char a[32];
            snprintf(a, sizeof a, "x%d_%d", r, i);
            tu_add(t, tu_st("Small", a, "kb", NULL), NULL);
        }
        tu_commit(t);
    }
    hk_store_close(s);
}

static void test_compact_refused_while_open(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("compact-busy");
    char *bdir = tu_tmpdir("compact-busy-bk");
    char bk[600];
    snprintf(bk, sizeof bk, "%s/backup", bdir);
    small_kb(dir);
    hk_error err;
    hk_store *s = tu_open(dir);
    assert_int_equal(hk_store_backup(s, bk, NULL, &err), HK_OK);
    /* our own handle counts: the caller must close it first */
    assert_int_equal(hk_store_compact(dir, NULL, &err), HK_ERR_BUSY);
    hk_store_close(s);

    int release_fd;
    pid_t pid = hold_open_in_child(dir, &release_fd);
    uint64_t size = file_size(dir, "data.mdb");
    hk_compact_report r;
    assert_int_equal(hk_store_compact(dir, &r, &err), HK_ERR_BUSY);
    assert_int_equal(err.code, HK_ERR_BUSY);
    assert_non_null(strstr(err.message, "open in another process"));
    assert_non_null(strstr(err.message, "hakgal compact"));
    assert_non_null(strstr(err.message, dir));
    assert_int_equal(r.bytes_after, 0);
    assert_int_equal(file_size(dir, "data.mdb"), size);
    assert_false(file_exists(dir, "data.mdb.compact"));
    /* restore is refused too */
    assert_int_equal(hk_backup_restore(bk, dir, true, &err), HK_ERR_BUSY);
    assert_non_null(strstr(err.message, "open in another process"));
    /* other readers still open beside the child */
    hk_store_options o = {0};
    o.read_only = true;
    assert_int_equal(hk_store_open(dir, &o, &s, &err), HK_OK);
    hk_store_close(s);
    release_child(pid, release_fd);

    assert_int_equal(hk_store_compact(dir, &r, &err), HK_OK);
    assert_int_equal(r.facts, 1000);
    assert_int_equal(hk_backup_restore(bk, dir, true, &err), HK_OK);
    s = tu_open(dir);
    hk_txn *t = tu_begin(s, false);
    tu_check(t);
    hk_txn_abort(t);
    hk_store_close(s);
    tu_rmrf(dir);
    tu_rmrf(bdir);
    free(dir);
    free(bdir);
}

typedef struct unlock_later {
    int fd;       /* descriptor holding LOCK_EX */
    int delay_ms; /* when to close it */
} unlock_later;

static void *unlock_thread(void *p)
{
    unlock_later *u = p;
    usleep((useconds_t)u->delay_ms * 1000);
    close(u->fd);
    return NULL;
}

static int lock_exclusive(const char *dir)
{
    char p[700];
    snprintf(p, sizeof p, "%s/hakgal.lock", dir);
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
    return fd;
}

static void test_open_waits_for_exclusive(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("compact-wait");
    small_kb(dir);
    hk_error err;
    hk_store *s = NULL;

    /* held for 300 ms: the open waits, then succeeds */
    unlock_later u = {lock_exclusive(dir), 300};
    pthread_t th;
    double t0 = now_s();
    assert_int_equal(pthread_create(&th, NULL, unlock_thread, &u), 0);
    hk_store_options o = {0};
    hk_err e = hk_store_open(dir, &o, &s, &err);
    double waited = now_s() - t0;
    pthread_join(th, NULL);
    assert_int_equal(e, HK_OK);
    assert_true(waited >= 0.25);
    hk_store_close(s);

    /* held longer than lock_wait_ms: HK_ERR_BUSY, for read-only opens too */
    int fd = lock_exclusive(dir);
    for (int ro = 0; ro < 2; ro++) {
        memset(&o, 0, sizeof o);
        o.read_only = ro;
        o.lock_wait_ms = 200;
        t0 = now_s();
        s = NULL;
        assert_int_equal(hk_store_open(dir, &o, &s, &err), HK_ERR_BUSY);
        assert_null(s);
        assert_true(now_s() - t0 >= 0.18);
        assert_non_null(strstr(err.message, "compacted or restored"));
    }
    close(fd);
    assert_int_equal(hk_store_open(dir, &o, &s, &err), HK_OK);
    tu_discard(s, dir);
}

static void test_stale_temp_removed(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("compact-stale");
    small_kb(dir);
    /* what a compaction killed mid-copy leaves: junk beside data.mdb */
    char p[700];
    snprintf(p, sizeof p, "%s/data.mdb.compact", dir);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    for (int i = 0; i < 100000; i++)
        fputs("junk", f);
    fclose(f);
    /* opening ignores it */
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, false);
    hk_stats st;
    hk_error err;
    assert_int_equal(hk_store_stats(t, &st, &err), HK_OK);
    assert_int_equal(st.facts, 1000);
    hk_txn_abort(t);
    hk_store_close(s);
    /* a busy attempt leaves it alone (another compaction may own it) */
    int fd = lock_exclusive(dir);
    assert_int_equal(hk_store_compact(dir, NULL, &err), HK_ERR_BUSY);
    assert_true(file_exists(dir, "data.mdb.compact"));
    close(fd);
    hk_compact_report r;
    assert_int_equal(hk_store_compact(dir, &r, &err), HK_OK);
    assert_false(file_exists(dir, "data.mdb.compact"));
    assert_int_equal(r.facts, 1000);
    s = tu_open(dir);
    t = tu_begin(s, false);
    tu_check(t);
    hk_txn_abort(t);
    tu_discard(s, dir);
}

static void test_compact_bad_input(void **state)
{
    (void)state;
    hk_error err;
    assert_int_equal(hk_store_compact(NULL, NULL, &err), HK_ERR_INVALID);
    assert_int_equal(hk_store_compact("", NULL, &err), HK_ERR_INVALID);
    char *dir = tu_tmpdir("compact-none");
    assert_int_equal(hk_store_compact(dir, NULL, &err), HK_ERR_NOT_FOUND);
    assert_false(file_exists(dir, "hakgal.lock")); /* nothing created */
    tu_rmrf(dir);
    free(dir);
    assert_int_equal(hk_store_compact("/nonexistent/kb", NULL, &err),
                     HK_ERR_NOT_FOUND);

    /* data.mdb as a symbolic link to a file elsewhere: refused, both the
     * link and the file it names stay as they are and the KB opens */
    char *real = tu_tmpdir("compact-real");
    char *kb = tu_tmpdir("compact-link");
    hk_store *s = tu_open(real);
    hk_txn *t = tu_begin(s, true);
    tu_add(t, tu_st("Linked", "a", "b", NULL), NULL);
    tu_commit(t);
    hk_store_close(s);
    char target[600], link[600];
    snprintf(target, sizeof target, "%s/data.mdb", real);
    snprintf(link, sizeof link, "%s/data.mdb", kb);
    assert_int_equal(symlink(target, link), 0);
    assert_int_equal(hk_store_compact(kb, NULL, &err), HK_ERR_INVALID);
    assert_non_null(strstr(err.message, "symbolic link"));
    struct stat lsb;
    assert_int_equal(lstat(link, &lsb), 0);
    assert_true(S_ISLNK(lsb.st_mode));
    s = tu_open(kb);
    t = tu_begin(s, false);
    hk_stats st;
    assert_int_equal(hk_store_stats(t, &st, &err), HK_OK);
    assert_int_equal(st.facts, 1);
    hk_txn_abort(t);
    hk_store_close(s);
    tu_rmrf(kb);
    tu_rmrf(real);
    free(kb);
    free(real);
}

/* A private KB gets a private lock file: nobody who cannot read data.mdb
 * can take the lock and make every open wait. */
static void test_lock_file_follows_data_mode(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("lock-mode");
    hk_store *s = tu_open(dir);
    hk_store_close(s);
    char data[600], lock[600];
    snprintf(data, sizeof data, "%s/data.mdb", dir);
    snprintf(lock, sizeof lock, "%s/hakgal.lock", dir);
    assert_int_equal(chmod(data, 0600), 0);
    assert_int_equal(unlink(lock), 0);
    mode_t old = umask(022);
    s = tu_open(dir);
    umask(old);
    struct stat sb;
    assert_int_equal(stat(lock, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    tu_discard(s, dir);
}

static void test_compact_policy(void **state)
{
    (void)state;
    hk_stats st;
    memset(&st, 0, sizeof st);
    assert_false(hk_store_compact_advised(NULL));
    assert_false(hk_store_compact_advised(&st));
    st.bytes_on_disk = 300ull << 20;
    st.bytes_free = 100ull << 20; /* a third, >= 64 MiB */
    assert_true(hk_store_compact_advised(&st));
    st.bytes_free = 75ull << 20; /* exactly a quarter */
    assert_true(hk_store_compact_advised(&st));
    st.bytes_free = 74ull << 20; /* below a quarter */
    assert_false(hk_store_compact_advised(&st));
    st.bytes_on_disk = 100ull << 20;
    st.bytes_free = 63ull << 20; /* most of the file, but below 64 MiB */
    assert_false(hk_store_compact_advised(&st));
    st.bytes_free = 64ull << 20;
    assert_true(hk_store_compact_advised(&st));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compact_keeps_everything),
        cmocka_unit_test(test_compact_refused_while_open),
        cmocka_unit_test(test_open_waits_for_exclusive),
        cmocka_unit_test(test_stale_temp_removed),
        cmocka_unit_test(test_compact_bad_input),
        cmocka_unit_test(test_compact_policy),
        cmocka_unit_test(test_lock_file_follows_data_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
