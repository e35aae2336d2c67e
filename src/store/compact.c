/*
 * compact.c — giving a KB's free pages back to the file system.
 *
 * LMDB is copy-on-write and never shrinks data.mdb: a large import in
 * several transactions leaves the file about twice its live data (the old
 * copies of every page a commit touched sit on the free list). Compaction
 * rewrites the KB densely and swaps it in:
 *
 *   1. LOCK_EX | LOCK_NB on DIR/hakgal.lock (store.c). Every open handle
 *      holds LOCK_SH, so holding it proves no process has data.mdb mapped;
 *      when it is held the answer is HK_ERR_BUSY at once. Opens that start
 *      meanwhile wait for the lock (store.c) and then see the new file.
 *   2. A leftover DIR/data.mdb.compact of a crashed compaction is removed;
 *      nothing ever reads it. Processes of builds before the process lock
 *      hold only LMDB's shared lock on byte 0 of lock.mdb: taking it
 *      exclusively (here and again before the rename) proves none has the
 *      KB open, else HK_ERR_BUSY, as for restore.
 *   3. The KB is opened read-only (without taking LOCK_SH on top of our
 *      LOCK_EX) and hks_dense_copy (backup.c) writes every tree in key order
 *      with appends into DIR/data.mdb.compact (MDB_NOSUBDIR), gives it
 *      data.mdb's mode (and owner, when allowed), then syncs it.
 *   4. The copy is checked: opened on its own, its schema version, every
 *      counter in `meta` (facts, ids, audit length and head hash) and the
 *      entry count of every database must equal the source's.
 *   5. rename(data.mdb.compact, data.mdb), fsync of the directory, removal
 *      of the stale lock.mdb (LMDB re-initialises it at the next first
 *      open anyway), fsync of the directory, then the lock is released.
 *
 * A crash before the rename leaves the old file (and a temp file the next
 * compaction removes); the rename is atomic and happens only after the
 * copy is synced, so a crash after it leaves the new complete file.
 *
 * hk_store_compact_advised holds the policy that imports and the benchmark
 * share: compact when the free list is at least a quarter of the file and
 * at least 64 MiB.
 *
 * Threads: hk_store_compact is a blocking call for one thread; the caller
 * must have closed its own handles on the KB (they hold LOCK_SH too).
 *
 * Online compaction (hk_store_compact_online) does the same on an open
 * handle that is the KB's only user, e.g. a server's:
 *
 *   1. writer_mu is taken: in-process writers wait (none fails) until the
 *      end; readers go on.
 *   2. The handle's LOCK_SH is converted to LOCK_EX (non-blocking): it
 *      fails, and the handle keeps LOCK_SH, when another process has the
 *      KB open. (LMDB's own lock on lock.mdb is not probed as in step 2:
 *      that needs a descriptor of lock.mdb whose close would drop this
 *      process's fcntl locks on it while the environment is still in use.
 *      Builds that hold only LMDB's lock predate the process lock.)
 *   3. Dense copy, sync and check as in steps 3 and 4, from a read txn of
 *      the current environment.
 *   4. rename over data.mdb, fsync of the directory, unlink of lock.mdb,
 *      fsync of the directory. The old environment keeps its mapping of the
 *      old (now unlinked) data and lock files; the copy's txn ids restart,
 *      so it must never share a lock file with the old one: the new
 *      environment creates a fresh lock.mdb, and since fcntl locks belong
 *      to (process, inode), closing the old one later drops no lock of the
 *      new one.
 *   5. The new environment is opened and checked to give every database
 *      the same handle (hks_env_open), then swapped in (hks_env_swap):
 *      new transactions begin on it, reset read transactions move to it
 *      at their next renew, and the old environment is closed when its
 *      last transaction ends. If it cannot be opened, the handle refuses
 *      writes from then on (they would go to the unlinked file) and reads
 *      go on from the old snapshot.
 *   6. LOCK_EX goes back to LOCK_SH and writer_mu is released.
 *
 * Nothing of the KB's content changes (the copy is checked), so the audit
 * chain, the data digest, backups and the process lock file are as before.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/mem.h"
#include "store/store_int.h"

#define COMPACT_TMP "data.mdb.compact"
#define COMPACT_MIN_FREE (64ull << 20) /* advised from 64 MiB free ... */
#define COMPACT_MIN_SHARE 4u           /* ... and 1/4 of the file */

bool hk_store_compact_advised(const hk_stats *st)
{
    if (!st || st->bytes_on_disk == 0) return false;
    return st->bytes_free >= COMPACT_MIN_FREE &&
           st->bytes_free >= st->bytes_on_disk / COMPACT_MIN_SHARE;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = hk_malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* ==== What must survive the copy ==== */

/* Counters and sizes that a correct copy has unchanged. */
typedef struct kb_summary {
    uint32_t schema_version;       /* meta schema_version */
    uint64_t counters[7];          /* meta u64 counters, in META_U64 order */
    uint8_t audit_hash[32];        /* meta audit_hash (zeros when absent) */
    uint64_t entries[HKS_DBS_MAX]; /* entries of each database, DB spec order */
    size_t n_db;                   /* databases summarised */
} kb_summary;

static const char *const META_U64[7] = {
    "facts",       "predicates", "entities",      "next_fact_id",
    "next_sym_id", "audit_seq",  "last_change_us"};

/* Reads the summary of the environment of txn, whose databases are opened
 * by name (so it works on the copy as well as on the source). */
static int summarise(MDB_txn *txn, const hk_store *like, kb_summary *out)
{
    MDB_dbi dbi;
    MDB_val k, d;
    int rc;
    memset(out, 0, sizeof *out);
    out->n_db = hks_store_db_count(like);
    if (out->n_db > sizeof out->entries / sizeof out->entries[0])
        return MDB_INCOMPATIBLE;
    for (size_t i = 0; i < out->n_db; i++) {
        const char *name;
        unsigned flags;
        MDB_dbi unused;
        MDB_stat st;
        hks_store_db_spec(like, i, &name, &flags, &unused);
        if ((rc = mdb_dbi_open(txn, name, flags, &dbi)) ||
            (rc = mdb_stat(txn, dbi, &st)))
            return rc;
        /* Opened in the order of `like`, every database of a copy gets the
         * handle it has in `like` (what an online switch relies on). */
        if (dbi != unused) return MDB_INCOMPATIBLE;
        out->entries[i] = st.ms_entries;
    }
    if ((rc = mdb_dbi_open(txn, "meta", 0, &dbi))) return rc;
    k.mv_data = (void *)"schema_version";
    k.mv_size = 14;
    if ((rc = mdb_get(txn, dbi, &k, &d))) return rc;
    if (d.mv_size != 4) return MDB_CORRUPTED;
    out->schema_version = hks_get_u32(d.mv_data);
    for (size_t i = 0; i < 7; i++) {
        k.mv_data = (void *)META_U64[i];
        k.mv_size = strlen(META_U64[i]);
        rc = mdb_get(txn, dbi, &k, &d);
        if (rc == MDB_NOTFOUND) continue;
        if (rc) return rc;
        if (d.mv_size != 8) return MDB_CORRUPTED;
        out->counters[i] = hks_get_u64(d.mv_data);
    }
    k.mv_data = (void *)"audit_hash";
    k.mv_size = 10;
    rc = mdb_get(txn, dbi, &k, &d);
    if (rc == 0 && d.mv_size == 32)
        memcpy(out->audit_hash, d.mv_data, 32);
    else if (rc == 0)
        return MDB_CORRUPTED;
    else if (rc != MDB_NOTFOUND)
        return rc;
    return 0;
}

/* Opens the copy at path on its own and compares it with want. */
static hk_err check_copy(const char *path, const hk_store *like,
                         const kb_summary *want, hk_error *err)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    kb_summary got;
    int rc;
    hk_err e = HK_OK;
    if ((rc = mdb_env_create(&env)) ||
        (rc = mdb_env_set_maxdbs(env, HKS_DBS_MAX)) ||
        (rc = mdb_env_open(env, path, MDB_RDONLY | MDB_NOLOCK | MDB_NOSUBDIR,
                           0644)) ||
        (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) ||
        (rc = summarise(txn, like, &got))) {
        e = hk_error_set(err, HK_ERR_CORRUPT,
                         "compact: the copy %s does not "
                         "read back: %s",
                         path, mdb_strerror(rc));
        goto done;
    }
    if (got.schema_version != want->schema_version ||
        memcmp(got.counters, want->counters, sizeof got.counters) != 0 ||
        memcmp(got.audit_hash, want->audit_hash, 32) != 0) {
        e = hk_error_set(err, HK_ERR_CORRUPT,
                         "compact: the copy %s differs "
                         "from the KB in its counters or audit head (facts "
                         "%llu vs %llu, audit entries %llu vs %llu)",
                         path, (unsigned long long)got.counters[0],
                         (unsigned long long)want->counters[0],
                         (unsigned long long)got.counters[5],
                         (unsigned long long)want->counters[5]);
        goto done;
    }
    for (size_t i = 0; i < want->n_db; i++) {
        if (got.entries[i] != want->entries[i]) {
            const char *name;
            unsigned flags;
            MDB_dbi unused;
            hks_store_db_spec(like, i, &name, &flags, &unused);
            e = hk_error_set(err, HK_ERR_CORRUPT,
                             "compact: the copy %s has "
                             "%llu entries in '%s', the KB %llu",
                             path, (unsigned long long)got.entries[i], name,
                             (unsigned long long)want->entries[i]);
            goto done;
        }
    }
done:
    if (txn) mdb_txn_abort(txn);
    if (env) mdb_env_close(env);
    return e;
}

/* ==== Compaction ==== */

/* Builds before the process lock hold only LMDB's own locks: every process
 * with the environment open holds a shared fcntl lock on byte 0 of
 * lock.mdb. Taking that byte exclusively proves that none has (restore
 * checks the same). fcntl locks belong to the process, and our own
 * environment's open and close change and drop it, so the check is made
 * before the copy and again just before the rename. HK_OK, or HK_ERR_BUSY
 * when such a process has the KB open. */
static hk_err lmdb_users_check(int fd, const char *dir, hk_error *err)
{
    struct flock fl;
    if (fd < 0) return HK_OK; /* no lock.mdb: nobody has it open */
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = 0;
    fl.l_len = 1;
    if (fcntl(fd, F_SETLK, &fl) == 0) return HK_OK;
    if (errno == EAGAIN || errno == EACCES)
        return hk_error_set(err, HK_ERR_BUSY,
                            "compact: the KB in %s is open in another "
                            "process (one that holds LMDB's lock only); "
                            "close it and run `hakgal compact`",
                            dir);
    return hk_error_set(err, HK_ERR_IO,
                        "compact: cannot lock %s/lock.mdb: "
                        "%s",
                        dir, strerror(errno));
}

/* Removes a leftover copy of an interrupted compaction. */
static hk_err remove_stale(const char *tmp, hk_error *err)
{
    if (unlink(tmp) != 0 && errno != ENOENT)
        return hk_error_set(err, HK_ERR_IO,
                            "compact: cannot remove the stale "
                            "%s: %s",
                            tmp, strerror(errno));
    return HK_OK;
}

hk_err hk_store_compact(const char *dir, hk_compact_report *report,
                        hk_error *err)
{
    double start = mono_s();
    char *data = NULL, *tmp = NULL, *lockmdb = NULL;
    int kb_lock = -1;    /* DIR/hakgal.lock */
    int lmdb_lock = -1;  /* DIR/lock.mdb, for lmdb_users_check */
    bool locked = false; /* kb_lock holds LOCK_EX */
    hk_store *s = NULL;
    hk_txn *rt = NULL;
    hk_err e = HK_OK;
    struct stat sb;
    kb_summary want;
    hk_compact_report r;
    memset(&r, 0, sizeof r);
    if (report) memset(report, 0, sizeof *report);
    if (!dir || !*dir)
        return hk_error_set(err, HK_ERR_INVALID, "compact: no KB directory");
    data = path_join(dir, "data.mdb");
    tmp = path_join(dir, COMPACT_TMP);
    lockmdb = path_join(dir, "lock.mdb");
    if (!data || !tmp || !lockmdb) {
        e = hk_error_set(err, HK_ERR_NOMEM, "compact: out of memory");
        goto done;
    }
    if (stat(data, &sb) != 0) {
        e = hk_error_set(err, HK_ERR_NOT_FOUND, "compact: no KB at %s", dir);
        goto done;
    }
    if (lstat(data, &sb) == 0 && S_ISLNK(sb.st_mode)) {
        /* The rename would put a plain file where the link was and leave
         * the linked file behind with the old data. */
        e = hk_error_set(err, HK_ERR_INVALID,
                         "compact: %s is a symbolic link; compaction "
                         "replaces data.mdb by a new file, which would "
                         "break the link (link the KB directory instead)",
                         data);
        goto done;
    }
    kb_lock = hks_kb_lock_open(dir, true);
    if (kb_lock < 0) {
        e = hk_error_set(err, HK_ERR_IO, "compact: cannot open %s/%s: %s", dir,
                         HKS_LOCK_FILE, strerror(errno));
        goto done;
    }
    int lrc = hks_kb_lock_try(kb_lock, LOCK_EX);
    if (lrc == EWOULDBLOCK) {
        e = hk_error_set(err, HK_ERR_BUSY,
                         "compact: the KB in %s is open in another process "
                         "(a server, an MCP session or another command); "
                         "close it and run `hakgal compact`",
                         dir);
        goto done;
    }
    if (lrc) {
        e = hk_error_set(err, HK_ERR_IO, "compact: cannot lock %s/%s: %s", dir,
                         HKS_LOCK_FILE, strerror(lrc));
        goto done;
    }
    locked = true;
    if ((e = hks_wal_check_clean(dir, err))) goto done;
    if ((e = remove_stale(tmp, err))) goto done;
    if (stat(data, &sb) != 0) { /* a restore may have run before our lock */
        e = hk_error_set(err, HK_ERR_NOT_FOUND, "compact: no KB at %s", dir);
        goto done;
    }
    r.bytes_before = (uint64_t)sb.st_size;
    lmdb_lock = open(lockmdb, O_RDWR | O_CLOEXEC);
    if (lmdb_lock < 0 && errno != ENOENT) {
        e = hk_error_set(err, HK_ERR_IO, "compact: cannot open %s: %s", lockmdb,
                         strerror(errno));
        goto done;
    }
    if ((e = lmdb_users_check(lmdb_lock, dir, err))) goto done;

    hk_store_options o;
    memset(&o, 0, sizeof o);
    o.read_only = true;
    if ((e = hks_store_open_unlocked(dir, &o, &s, err)) ||
        (e = hk_txn_begin(s, false, &rt, err)))
        goto done;
    hk_stats st;
    if ((e = hk_store_stats(rt, &st, err))) goto done;
    r.bytes_free_before = st.bytes_free;
    r.facts = st.facts;
    int rc = summarise(rt->txn, s, &want);
    hk_txn_abort(rt);
    rt = NULL;
    if (rc) {
        e = hks_store_mdb_error(NULL, rc, err, "compact: reading the KB");
        goto done;
    }
    if ((e = hks_dense_copy(s, tmp, MDB_NOSUBDIR, err)) ||
        (e = hks_store_copy_attrs(tmp, &sb, err)) ||
        (e = hks_store_fsync_path(tmp, false, err)) ||
        (e = check_copy(tmp, s, &want, err)))
        goto done;
    hk_store_close(s); /* unmaps the old file before it is replaced */
    s = NULL;
    if ((e = lmdb_users_check(lmdb_lock, dir, err)))
        goto done; /* one opened it meanwhile */
    if (rename(tmp, data) != 0) {
        e = hk_error_set(err, HK_ERR_IO, "compact: cannot rename %s to %s: %s",
                         tmp, data, strerror(errno));
        goto done;
    }
    if ((e = hks_store_fsync_path(dir, true, err))) goto done;
    if (unlink(lockmdb) != 0 && errno != ENOENT) {
        e = hk_error_set(err, HK_ERR_IO,
                         "compact: cannot remove the stale "
                         "%s: %s",
                         lockmdb, strerror(errno));
        goto done;
    }
    if ((e = hks_store_fsync_path(dir, true, err))) goto done;
    if (stat(data, &sb) == 0) r.bytes_after = (uint64_t)sb.st_size;
done:
    if (rt) hk_txn_abort(rt);
    hk_store_close(s);
    if (e && locked)
        unlink(tmp); /* our own copy, when the rename did not happen */
    if (lmdb_lock >= 0) close(lmdb_lock);
    if (kb_lock >= 0) close(kb_lock); /* releases LOCK_EX last */
    hk_free(data);
    hk_free(tmp);
    hk_free(lockmdb);
    r.seconds = mono_s() - start;
    if (report) *report = r;
    return e;
}

/* ==== Online compaction ==== */

/* Converts the handle's process lock back to LOCK_SH (blocking: a
 * conversion may let another LOCK_EX in between, which is short). */
static void lock_shared_again(int fd)
{
    while (flock(fd, LOCK_SH) != 0 && errno == EINTR)
        ;
}

hk_err hk_store_compact_online(hk_store *s, hk_compact_report *report,
                               hk_error *err)
{
    double start = mono_s();
    char *tmp = NULL, *lockmdb = NULL;
    bool exclusive = false; /* s->lock_fd holds LOCK_EX */
    bool renamed = false;   /* data.mdb is the copy */
    hk_txn *rt = NULL;
    hks_env *ge = NULL;
    hk_err e = HK_OK;
    struct stat sb;
    kb_summary want;
    hk_compact_report r;
    memset(&r, 0, sizeof r);
    if (report) memset(report, 0, sizeof *report);
    if (!s) return hk_error_set(err, HK_ERR_INVALID, "compact: no store");
    if (s->opt.read_only || s->lock_fd < 0)
        return hk_error_set(err, HK_ERR_STATE,
                            "compact: %s is open read-only or without its "
                            "process lock; it cannot be compacted online",
                            s->path);
    pthread_mutex_lock(&s->writer_mu);
    if (s->broken) {
        e = hk_error_set(err, HK_ERR_STATE,
                         "compact: %s was compacted but could not be "
                         "reopened; restart the server",
                         s->path);
        goto done;
    }
    tmp = path_join(s->path, COMPACT_TMP);
    lockmdb = path_join(s->path, "lock.mdb");
    if (!tmp || !lockmdb) {
        e = hk_error_set(err, HK_ERR_NOMEM, "compact: out of memory");
        goto done;
    }
    int lrc = hks_kb_lock_try(s->lock_fd, LOCK_EX);
    if (lrc) {
        lock_shared_again(s->lock_fd);
        if (lrc == EWOULDBLOCK)
            e = hk_error_set(err, HK_ERR_BUSY,
                             "compact: the KB in %s is also open in another "
                             "process (a command or an MCP session); online "
                             "compaction needs this process to be its only "
                             "user",
                             s->path);
        else
            e = hk_error_set(err, HK_ERR_IO, "compact: cannot lock %s/%s: %s",
                             s->path, HKS_LOCK_FILE, strerror(lrc));
        goto done;
    }
    exclusive = true;
    /* the log is left clean (data.mdb synced, nothing to roll back) while
     * data.mdb is replaced; it starts again on the new file below */
    if ((e = hks_wal_before_swap(s, err))) goto done;
    if ((e = remove_stale(tmp, err))) goto done;
    if (stat(s->data_path, &sb) != 0) {
        e = hk_error_set(err, HK_ERR_IO, "compact: cannot stat %s: %s",
                         s->data_path, strerror(errno));
        goto done;
    }
    r.bytes_before = (uint64_t)sb.st_size;
    if ((e = hk_txn_begin(s, false, &rt, err))) goto done;
    hk_stats st;
    if ((e = hk_store_stats(rt, &st, err))) goto done;
    r.bytes_free_before = st.bytes_free;
    r.facts = st.facts;
    int rc = summarise(rt->txn, s, &want);
    hk_txn_abort(rt);
    rt = NULL;
    if (rc) {
        e = hks_store_mdb_error(NULL, rc, err, "compact: reading the KB");
        goto done;
    }
    if ((e = hks_dense_copy(s, tmp, MDB_NOSUBDIR, err)) ||
        (e = hks_store_copy_attrs(tmp, &sb, err)) ||
        (e = hks_store_fsync_path(tmp, false, err)) ||
        (e = check_copy(tmp, s, &want, err)))
        goto done;
    if (rename(tmp, s->data_path) != 0) {
        e = hk_error_set(err, HK_ERR_IO, "compact: cannot rename %s to %s: %s",
                         tmp, s->data_path, strerror(errno));
        goto done;
    }
    renamed = true;
    if ((e = hks_store_fsync_path(s->path, true, err))) goto reopen;
    if (unlink(lockmdb) != 0) {
        e = hk_error_set(err, HK_ERR_IO,
                         "compact: cannot remove the stale "
                         "%s: %s",
                         lockmdb, strerror(errno));
        goto reopen;
    }
    if ((e = hks_store_fsync_path(s->path, true, err))) goto reopen;
reopen:
    /* From the rename on, the only way on is the new file: even after a
     * failed directory sync the name already refers to it. */
    {
        hk_error oerr;
        hk_error_clear(&oerr);
        hk_err oe = hks_env_open(s, s->path, &ge, &oerr);
        if (oe) {
            s->broken = true;
            if (!e) {
                e = oe;
                if (err) *err = oerr;
            }
            goto done;
        }
    }
    hks_env_swap(s, ge);
    /* the copy was synced before the rename: every commit is on disk */
    atomic_store(&s->durable, hk_store_last_commit(s));
    if (stat(s->data_path, &sb) == 0) r.bytes_after = (uint64_t)sb.st_size;
done:
    if (rt) hk_txn_abort(rt);
    if (!s->broken) hks_wal_after_swap(s);  /* on whichever file is current */
    if (!renamed && exclusive) unlink(tmp); /* our copy, not renamed */
    if (exclusive) lock_shared_again(s->lock_fd);
    pthread_mutex_unlock(&s->writer_mu);
    hk_free(tmp);
    hk_free(lockmdb);
    r.seconds = mono_s() - start;
    if (report) *report = r;
    return e;
}
