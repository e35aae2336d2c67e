/*
 * store.c — opening a KB, transactions and the counters kept in `meta`.
 *
 * A KB directory holds one LMDB environment (data.mdb + lock.mdb). It is
 * opened with MDB_NOTLS so that read transactions are not tied to a thread
 * (server workers hand them around and reuse them with reset/renew), a
 * sparse 64 GiB map and 512 reader slots by default.
 *
 * Counters (facts, predicates, entities, next ids, audit head) live in the
 * `meta` database. A write transaction reads them once at begin, keeps them
 * in its hk_txn and writes the changed ones back just before mdb_txn_commit,
 * so a bulk import pays one meta write per transaction, not per fact. Since
 * LMDB admits one writer at a time, that copy is authoritative.
 *
 * Writers: besides LMDB's writer lock (which also serializes other
 * processes), a write transaction holds the store's writer_mu from begin
 * until its cleanup after commit/abort is done, because the writer caches
 * (symtab.c, bloom.c) are updated or dropped after LMDB has released its
 * lock. A write transaction must end on the thread that began it.
 *
 * Failure rule: when an operation fails after it started writing (LMDB
 * error, map full, allocation failure), the transaction is marked failed and
 * hk_txn_commit refuses it (HK_ERR_STATE) and aborts, so half an operation
 * is never committed.
 *
 * Process lock: every handle (read-only ones too) holds flock(LOCK_SH) on
 * DIR/hakgal.lock from open to close. Compaction (compact.c) and restore
 * (backup.c) replace data.mdb, which is only safe when no process has it
 * mapped, so they take LOCK_EX and fail at once when it is held. An open
 * that meets their LOCK_EX polls every 20 ms for up to lock_wait_ms (120 s
 * by default) and then fails with HK_ERR_BUSY. flock, not fcntl: fcntl
 * locks belong to the process and any close() of the file drops them,
 * which is how LMDB's own locks on lock.mdb work and why this file is
 * separate from lock.mdb.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "core/clock.h"
#include "core/mem.h"
#include "core/sha256.h"
#include "core/utf8.h"
#include "store/store_int.h"

#define HKS_DEFAULT_MAP_SIZE (64ull << 30)
#define HKS_DEFAULT_MAX_READERS 512u
#define HKS_DEFAULT_LOCK_WAIT_MS 120000u
#define HKS_LOCK_POLL_MS 20u

/* ==== Errors ==== */

hk_err hks_store_mdb_error(hk_txn *t, int rc, hk_error *err, const char *what)
{
    hk_err code = HK_ERR_STORE;
    if (rc == ENOSPC) {
        if (t && t->write) t->failed = true;
        return hk_error_set(err, HK_ERR_DISK_FULL, "store: %s: disk full",
                            what);
    }
    if (rc == MDB_MAP_FULL || rc == MDB_TXN_FULL || rc == MDB_PAGE_FULL)
        code = HK_ERR_FULL;
    else if (rc == ENOMEM)
        code = HK_ERR_NOMEM;
    if (t && t->write) t->failed = true;
    return hk_error_set(err, code, "store: %s: %s", what, mdb_strerror(rc));
}

/* True when the file system that holds the KB has less than 64 KiB left
 * (LMDB writes whole pages; less than that is full for it). */
static bool store_disk_full(hk_store *s)
{
    struct statvfs vs;
    if (statvfs(s->path, &vs) != 0) return false;
    return (uint64_t)vs.f_bavail * vs.f_frsize < 65536;
}

hk_err hks_txn_check_write(hk_txn *t, hk_error *err)
{
    if (!t) return hk_error_set(err, HK_ERR_INVALID, "store: no transaction");
    if (!t->write)
        return hk_error_set(err, HK_ERR_STATE,
                            "store: write operation in a read transaction");
    if (t->failed)
        return hk_error_set(err, HK_ERR_STATE,
                            "store: transaction already failed; abort it");
    return HK_OK;
}

hk_err hks_txn_check_read(hk_txn *t, hk_error *err)
{
    if (!t) return hk_error_set(err, HK_ERR_INVALID, "store: no transaction");
    if (!t->write && !t->active)
        return hk_error_set(err, HK_ERR_STATE,
                            "store: read transaction was reset; renew it");
    if (t->failed)
        return hk_error_set(err, HK_ERR_STATE,
                            "store: transaction already failed; abort it");
    return HK_OK;
}

/* ==== Meta values ==== */

static int meta_get_u64(MDB_txn *txn, MDB_dbi dbi, const char *name,
                        uint64_t *v)
{
    MDB_val k = {strlen(name), (void *)name}, d;
    int rc = mdb_get(txn, dbi, &k, &d);
    if (rc == MDB_NOTFOUND) {
        *v = 0;
        return 0;
    }
    if (rc) return rc;
    if (d.mv_size != 8) return MDB_CORRUPTED;
    *v = hks_get_u64(d.mv_data);
    return 0;
}

static int meta_put_u64(MDB_txn *txn, MDB_dbi dbi, const char *name, uint64_t v)
{
    uint8_t b[8];
    hks_put_u64(b, v);
    MDB_val k = {strlen(name), (void *)name}, d = {8, b};
    return mdb_put(txn, dbi, &k, &d, 0);
}

hk_err hks_txn_load_counters(hk_txn *t, hks_counters *c, hk_error *err)
{
    MDB_txn *txn = t->txn;
    MDB_dbi m = t->s->db.meta;
    uint64_t last = 0;
    int rc;
    memset(c, 0, sizeof *c);
    if ((rc = meta_get_u64(txn, m, "facts", &c->facts)) ||
        (rc = meta_get_u64(txn, m, "predicates", &c->predicates)) ||
        (rc = meta_get_u64(txn, m, "entities", &c->entities)) ||
        (rc = meta_get_u64(txn, m, "next_fact_id", &c->next_fact_id)) ||
        (rc = meta_get_u64(txn, m, "next_sym_id", &c->next_sym_id)) ||
        (rc = meta_get_u64(txn, m, "audit_seq", &c->audit_seq)) ||
        (rc = meta_get_u64(txn, m, "last_change_us", &last)))
        return hks_store_mdb_error(NULL, rc, err, "reading counters");
    c->last_change_us = (int64_t)last;
    if (c->next_fact_id == 0) c->next_fact_id = 1;
    if (c->next_sym_id == 0) c->next_sym_id = 1;
    MDB_val k = {10, (void *)"audit_hash"}, d;
    rc = mdb_get(txn, m, &k, &d);
    if (rc == 0 && d.mv_size == 32)
        memcpy(c->audit_hash, d.mv_data, 32);
    else if (rc != MDB_NOTFOUND && rc != 0)
        return hks_store_mdb_error(NULL, rc, err, "reading audit head");
    /* The data digest (verify.c): kept by every KB made since it exists;
     * a KB still empty gets one at its first write. */
    MDB_val dk = {12, (void *)"state_digest"};
    rc = mdb_get(txn, m, &dk, &d);
    if (rc == 0 && d.mv_size == 32) {
        c->has_digest = true;
        for (int i = 0; i < 4; i++)
            c->digest[i] = hks_get_u64((const uint8_t *)d.mv_data + 8 * i);
    } else if (rc == MDB_NOTFOUND) {
        c->has_digest = c->next_fact_id == 1 && c->next_sym_id == 1;
    } else {
        return hks_store_mdb_error(NULL, rc ? rc : MDB_CORRUPTED, err,
                                   "reading the data digest");
    }
    return HK_OK;
}

static int store_counters(hk_txn *t)
{
    MDB_txn *txn = t->txn;
    MDB_dbi m = t->s->db.meta;
    const hks_counters *c = &t->c;
    int rc;
    if ((rc = meta_put_u64(txn, m, "facts", c->facts)) ||
        (rc = meta_put_u64(txn, m, "predicates", c->predicates)) ||
        (rc = meta_put_u64(txn, m, "entities", c->entities)) ||
        (rc = meta_put_u64(txn, m, "next_fact_id", c->next_fact_id)) ||
        (rc = meta_put_u64(txn, m, "next_sym_id", c->next_sym_id)) ||
        (rc = meta_put_u64(txn, m, "audit_seq", c->audit_seq)) ||
        (rc = meta_put_u64(txn, m, "last_change_us",
                           (uint64_t)c->last_change_us)))
        return rc;
    MDB_val k = {10, (void *)"audit_hash"}, d = {32, (void *)c->audit_hash};
    if ((rc = mdb_put(txn, m, &k, &d, 0)) || !c->has_digest) return rc;
    uint8_t b[32];
    for (int i = 0; i < 4; i++)
        hks_put_u64(b + 8 * i, c->digest[i]);
    MDB_val dk = {12, (void *)"state_digest"}, dd = {32, b};
    return mdb_put(txn, m, &dk, &dd, 0);
}

/* ==== Open / close ==== */

static void find_map(hk_store *s, hks_env *ge);

typedef struct db_spec {
    const char *name; /* LMDB database name */
    unsigned flags;   /* MDB_DUPSORT etc. */
    size_t offset;    /* offset of the handle in hks_store_dbs */
} db_spec;

#define DB(n, f)                                                               \
    {                                                                          \
#n, f, offsetof(hks_store_dbs, n)                                      \
    }
static const db_spec DB_SPECS[] = {
    DB(meta, 0),
    DB(sym, 0),
    DB(sym_id, MDB_INTEGERKEY),
    DB(fact, MDB_INTEGERKEY),
    DB(stmt, 0),
    DB(by_pred, MDB_DUPSORT | MDB_DUPFIXED),
    DB(by_arg, MDB_DUPSORT | MDB_DUPFIXED),
    DB(arg_multi, 0),
    DB(pstat, 0),
    DB(pred_names, 0),
    DB(tok, MDB_DUPSORT | MDB_DUPFIXED),
    DB(audit, 0),
    DB(audit_by_fact, MDB_DUPSORT | MDB_DUPFIXED),
    DB(audit_bulk, 0),
    /* format 6; a read-only open of an older KB finds it missing */
    DB(by_arg_tail, MDB_DUPSORT | MDB_DUPFIXED),
};
#undef DB
#define N_DBS (sizeof DB_SPECS / sizeof DB_SPECS[0])

_Static_assert(N_DBS == HKS_FIXED_DBS, "HKS_FIXED_DBS counts DB_SPECS");

size_t hks_store_db_count(const hk_store *s)
{
    return N_DBS + s->n_mod;
}

void hks_store_db_spec(const hk_store *s, size_t i, const char **name,
                       unsigned *flags, MDB_dbi *dbi)
{
    if (i >= N_DBS) {
        const hks_module_db *m = &s->mod[i - N_DBS];
        *name = m->name;
        *flags = hks_db_mdb_flags(m->flags);
        *dbi = m->dbi;
        return;
    }
    *name = DB_SPECS[i].name;
    *flags = DB_SPECS[i].flags;
    *dbi = *(const MDB_dbi *)((const char *)&s->db + DB_SPECS[i].offset);
}

hk_err hks_store_make_dir(const char *dir, hk_error *err)
{
    /* mkdir -p: create each missing component. */
    size_t n = strlen(dir);
    char *p = hk_strdup(dir);
    if (!p) return hk_error_set(err, HK_ERR_NOMEM, "store: out of memory");
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0') continue;
        char save = p[i];
        p[i] = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            hk_err rc = hk_error_set(err, HK_ERR_IO,
                                     "store: cannot create directory %s: %s", p,
                                     strerror(errno));
            hk_free(p);
            return rc;
        }
        p[i] = save;
    }
    hk_free(p);
    return HK_OK;
}

static hk_err open_dbs(hk_store *s, MDB_env *env, bool create, hk_error *err)
{
    MDB_txn *txn = NULL;
    bool upgraded = false; /* rewrote an older format: sync even if NOSYNC */
    bool no_tail = false;  /* by_arg_tail missing (a format 2-5 KB) */
    int rc = mdb_txn_begin(env, NULL, create ? 0 : MDB_RDONLY, &txn);
    if (rc) return hks_store_mdb_error(NULL, rc, err, "opening the KB");
    for (size_t i = 0; i < N_DBS; i++) {
        MDB_dbi *h = (MDB_dbi *)((char *)&s->db + DB_SPECS[i].offset);
        rc = mdb_dbi_open(txn, DB_SPECS[i].name,
                          DB_SPECS[i].flags | (create ? MDB_CREATE : 0), h);
        if (rc == MDB_NOTFOUND && h == &s->db.by_arg_tail) {
            /* the version check below says whether that is damage */
            no_tail = true;
            continue;
        }
        if (rc == MDB_NOTFOUND) {
            mdb_txn_abort(txn);
            return hk_error_set(err, HK_ERR_VERSION,
                                "store: %s is not a hakgal KB (database '%s' "
                                "missing)",
                                s->path, DB_SPECS[i].name);
        }
        if (rc == MDB_INCOMPATIBLE) {
            mdb_txn_abort(txn);
            return hk_error_set(err, HK_ERR_VERSION,
                                "store: %s was written by an incompatible "
                                "layout (database '%s' has other flags)",
                                s->path, DB_SPECS[i].name);
        }
        if (rc) {
            mdb_txn_abort(txn);
            return hks_store_mdb_error(NULL, rc, err, "opening a database");
        }
    }
    /* Schema version: written when the KB is new, checked otherwise. */
    MDB_val k = {14, (void *)"schema_version"}, d;
    rc = mdb_get(txn, s->db.meta, &k, &d);
    if (rc == MDB_NOTFOUND) {
        MDB_stat st;
        mdb_stat(txn, s->db.fact, &st);
        if (!create || st.ms_entries != 0) {
            mdb_txn_abort(txn);
            return hk_error_set(err, HK_ERR_VERSION,
                                "store: %s has no schema version", s->path);
        }
        uint8_t v[4];
        hks_put_u32(v, HKS_SCHEMA_VERSION);
        MDB_val dv = {4, v};
        rc = mdb_put(txn, s->db.meta, &k, &dv, 0);
        if (rc) {
            mdb_txn_abort(txn);
            return hks_store_mdb_error(NULL, rc, err, "writing schema version");
        }
        s->schema_version = HKS_SCHEMA_VERSION;
    } else if (rc) {
        mdb_txn_abort(txn);
        return hks_store_mdb_error(NULL, rc, err, "reading schema version");
    } else {
        uint32_t v = d.mv_size == 4 ? hks_get_u32(d.mv_data) : 0;
        bool old = v >= HKS_SCHEMA_VERSION_OLDEST && v < HKS_SCHEMA_VERSION;
        if (old && !create) {
            mdb_txn_abort(txn);
            return hk_error_set(err, HK_ERR_VERSION,
                                "store: %s has schema version %u; this build "
                                "needs %u (by_arg tails) and "
                                "upgrades it when it opens it for writing: "
                                "run 'hakgal init --data %s' once",
                                s->path, v, HKS_SCHEMA_VERSION, s->path);
        }
        if (old) {
            hk_err ue = hks_upgrade(txn, &s->db, s->path, v, s->arg_chunk, err);
            if (ue) {
                mdb_txn_abort(txn);
                return ue;
            }
            v = HKS_SCHEMA_VERSION;
            upgraded = true;
        }
        if (v != HKS_SCHEMA_VERSION) {
            mdb_txn_abort(txn);
            return hk_error_set(err, HK_ERR_VERSION,
                                "store: %s has schema version %u; this build "
                                "understands %u",
                                s->path, v, HKS_SCHEMA_VERSION);
        }
        if (no_tail) {
            mdb_txn_abort(txn);
            return hk_error_set(err, HK_ERR_VERSION,
                                "store: %s is not a hakgal KB (database "
                                "'by_arg_tail' missing)",
                                s->path);
        }
        s->schema_version = v;
    }
    hk_err e = hks_module_dbs_open(s, txn, err);
    if (e) {
        mdb_txn_abort(txn);
        return e;
    }
    rc = mdb_txn_commit(txn); /* keeps the dbi handles */
    if (!rc && upgraded) rc = mdb_env_sync(env, 1);
    if (rc) return hks_store_mdb_error(NULL, rc, err, "opening the KB");
    return HK_OK;
}

/* ==== Environments ====
 * An hk_store has one current LMDB environment; every transaction holds a
 * reference on the one it began on (hk_txn.ge). Online compaction opens a
 * new environment on the compacted file and swaps it in under writer_mu
 * (no write txn can be open then); read transactions of the old one go
 * on, a reset one moves to the new one at its next renew, and the old
 * environment is closed by whoever drops its last reference. So no
 * transaction ever touches a closed environment, and only transactions
 * already running see the old snapshot. */

static unsigned env_flags(const hk_store *s)
{
    unsigned flags = MDB_NOTLS;
    if (s->opt.read_only) flags |= MDB_RDONLY;
    if (s->opt.no_sync) flags |= MDB_NOSYNC;
    if (s->opt.defer_meta_sync) flags |= MDB_NOMETASYNC;
    return flags;
}

static int env_create(const hk_store *s, MDB_env **out)
{
    int rc;
    if ((rc = mdb_env_create(out))) return rc;
    if ((rc = mdb_env_set_maxdbs(*out, HKS_DBS_MAX)) ||
        (rc = mdb_env_set_mapsize(*out, (size_t)s->opt.map_size)) ||
        (rc = mdb_env_set_maxreaders(*out, s->opt.max_readers)))
        return rc; /* *out is closed by the caller's env_free */
    return 0;
}

static void env_free(hks_env *ge)
{
    if (!ge) return;
    hks_fault_map_remove(ge->fault_map);
    if (ge->env) mdb_env_close(ge->env);
    hk_free(ge);
}

hks_env *hks_env_acquire(hk_store *s)
{
    pthread_mutex_lock(&s->env_mu);
    hks_env *ge = atomic_load(&s->cur);
    ge->refs++;
    pthread_mutex_unlock(&s->env_mu);
    return ge;
}

void hks_env_release(hk_store *s, hks_env *ge)
{
    if (!ge) return;
    pthread_mutex_lock(&s->env_mu);
    assert(ge->refs > 0);
    bool last = --ge->refs == 0; /* only a retired env reaches 0 */
    pthread_mutex_unlock(&s->env_mu);
    if (last) env_free(ge);
}

hk_err hks_env_open(hk_store *s, const char *dir, hks_env **out, hk_error *err)
{
    MDB_txn *txn = NULL;
    hk_err e = HK_OK;
    int rc;
    *out = NULL;
    hks_env *ge = hk_calloc(1, sizeof *ge);
    if (!ge) return hk_error_set(err, HK_ERR_NOMEM, "store: out of memory");
    ge->refs = 1;
    if ((rc = env_create(s, &ge->env)) ||
        (rc = mdb_env_open(ge->env, dir, env_flags(s), 0644)) ||
        (rc = mdb_txn_begin(ge->env, NULL, MDB_RDONLY, &txn))) {
        e = hks_store_mdb_error(NULL, rc, err, "reopening the KB");
        goto fail;
    }
    /* Handles are slots in the environment's table, given in opening
     * order: opened in the order of the first environment, each database
     * gets the handle that s->db, s->mod and the modules hold. */
    for (size_t i = 0; i < hks_store_db_count(s); i++) {
        const char *name;
        unsigned flags;
        MDB_dbi want, got;
        hks_store_db_spec(s, i, &name, &flags, &want);
        if ((rc = mdb_dbi_open(txn, name, flags, &got))) {
            e = hks_store_mdb_error(NULL, rc, err, "reopening a database");
            goto fail;
        }
        if (got != want) {
            e = hk_error_set(err, HK_ERR_STATE,
                             "store: database '%s' reopened as handle %u, "
                             "not %u",
                             name, (unsigned)got, (unsigned)want);
            goto fail;
        }
    }
    rc = mdb_txn_commit(txn); /* keeps the handles */
    txn = NULL;
    if (rc) {
        e = hks_store_mdb_error(NULL, rc, err, "reopening the KB");
        goto fail;
    }
    find_map(s, ge);
    *out = ge;
    return HK_OK;
fail:
    if (txn) mdb_txn_abort(txn);
    env_free(ge);
    return e;
}

void hks_env_swap(hk_store *s, hks_env *ge)
{
    MDB_envinfo old_info, new_info;
    pthread_mutex_lock(&s->env_mu);
    hks_env *old = atomic_load(&s->cur);
    if (mdb_env_info(old->env, &old_info) == 0 &&
        mdb_env_info(ge->env, &new_info) == 0) {
        /* hk_store_last_commit goes on from where it was */
        s->txnid_base +=
            (int64_t)old_info.me_last_txnid - (int64_t)new_info.me_last_txnid;
        s->writer_txnid = new_info.me_last_txnid; /* writer caches hold */
    }
    atomic_store_explicit(&s->cur, ge, memory_order_release);
    bool last = --old->refs == 0;
    pthread_mutex_unlock(&s->env_mu);
    if (last) env_free(old);
}

/* ==== Process lock ==== */

int hks_kb_lock_open(const char *dir, bool create)
{
    size_t n = strlen(dir) + sizeof "/" HKS_LOCK_FILE;
    char *p = hk_malloc(n);
    if (!p) {
        errno = ENOMEM;
        return -1;
    }
    snprintf(p, n, "%s/%s", dir, HKS_LOCK_FILE);
    /* Whoever may read data.mdb may hold the lock (a reader holds it
     * shared); nobody else should be able to take it and make every open
     * wait. A new lock file therefore gets data.mdb's permissions. */
    mode_t mode = 0644;
    size_t dn = strlen(dir) + sizeof "/data.mdb";
    char *data = hk_malloc(dn);
    struct stat sb;
    if (data) {
        snprintf(data, dn, "%s/data.mdb", dir);
        if (stat(data, &sb) == 0) mode = sb.st_mode & 0666;
        hk_free(data);
    }
    int fd = open(p, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), mode);
    if (fd < 0 && (errno == EACCES || errno == EROFS))
        fd = open(p, O_RDONLY | O_CLOEXEC); /* flock needs no write access */
    int saved = errno;
    hk_free(p);
    errno = saved;
    return fd;
}

int hks_kb_lock_try(int fd, int op)
{
    for (int tries = 0; tries < 1000; tries++) {
        if (flock(fd, op | LOCK_NB) == 0) return 0;
        if (errno != EINTR) return errno == EAGAIN ? EWOULDBLOCK : errno;
    }
    return EINTR;
}

/* Takes LOCK_SH on dir's lock file for s, waiting up to wait_ms while a
 * compaction or restore holds LOCK_EX. */
static hk_err take_process_lock(hk_store *s, const char *dir, bool read_only,
                                unsigned wait_ms, hk_error *err)
{
    int fd = hks_kb_lock_open(dir, true);
    if (fd < 0) {
        if (read_only && (errno == ENOENT || errno == EACCES || errno == EROFS))
            return HK_OK; /* read-only directory: nobody can replace the
                             file in it either */
        return hk_error_set(err, HK_ERR_IO, "store: cannot open %s/%s: %s", dir,
                            HKS_LOCK_FILE, strerror(errno));
    }
    s->lock_fd = fd;
    unsigned waited = 0;
    for (;;) {
        int rc = hks_kb_lock_try(fd, LOCK_SH);
        if (rc == 0) return HK_OK;
        if (rc != EWOULDBLOCK)
            return hk_error_set(err, HK_ERR_IO, "store: cannot lock %s/%s: %s",
                                dir, HKS_LOCK_FILE, strerror(rc));
        if (waited >= wait_ms)
            return hk_error_set(err, HK_ERR_BUSY,
                                "store: the KB in %s is being compacted or "
                                "restored by another process (waited %.1f s "
                                "for it to finish); try again later",
                                dir, (double)waited / 1000.0);
        struct timespec ts = {0, (long)HKS_LOCK_POLL_MS * 1000000L};
        nanosleep(&ts, NULL);
        waited += HKS_LOCK_POLL_MS;
    }
}

/* ==== One environment per KB per process ====
 * LMDB forbids opening one file twice in a process: its lock file uses
 * fcntl locks, which never conflict within a process, so a second
 * environment believes it is alone, reinitializes the shared reader table
 * and mutexes under the first, and closing it drops the first one's locks.
 * Every handle of the process is therefore recorded by the identity of
 * its directory (a compaction replaces data.mdb, never the directory), and
 * a second open of the same KB is refused before LMDB sees it. */
typedef struct open_kb {
    dev_t dev;
    ino_t ino;
} open_kb;

static pthread_mutex_t g_open_mu = PTHREAD_MUTEX_INITIALIZER;
static open_kb *g_open; /* KBs open in this process (unordered) */
static size_t g_open_n, g_open_cap;
static pid_t g_open_pid; /* the process that filled g_open: a child of fork()
                           inherits the table but none of the environments'
                           locks, so it starts empty */

static hk_err open_register(hk_store *s, const struct stat *dir_sb,
                            hk_error *err)
{
    hk_err e = HK_OK;
    pthread_mutex_lock(&g_open_mu);
    if (g_open_pid != getpid()) {
        g_open_n = 0;
        g_open_pid = getpid();
    }
    for (size_t i = 0; i < g_open_n; i++)
        if (g_open[i].dev == dir_sb->st_dev &&
            g_open[i].ino == dir_sb->st_ino) {
            e = hk_error_set(err, HK_ERR_BUSY,
                             "store: the KB in %s is already open in this "
                             "process; LMDB allows one environment per file "
                             "per process, so use the open handle",
                             s->path);
            goto out;
        }
    if (g_open_n == g_open_cap) {
        size_t cap = g_open_cap ? g_open_cap * 2 : 8;
        open_kb *grown = hk_realloc(g_open, cap * sizeof *grown);
        if (!grown) {
            e = hk_error_set(err, HK_ERR_NOMEM, "store: out of memory");
            goto out;
        }
        g_open = grown;
        g_open_cap = cap;
    }
    g_open[g_open_n++] = (open_kb){dir_sb->st_dev, dir_sb->st_ino};
    s->open_dev = dir_sb->st_dev;
    s->open_ino = dir_sb->st_ino;
    s->open_registered = true;
out:
    pthread_mutex_unlock(&g_open_mu);
    return e;
}

static void open_unregister(hk_store *s)
{
    if (!s->open_registered) return;
    pthread_mutex_lock(&g_open_mu);
    if (g_open_pid != getpid()) g_open_n = 0; /* a handle from before fork */
    for (size_t i = 0; i < g_open_n; i++)
        if (g_open[i].dev == s->open_dev && g_open[i].ino == s->open_ino) {
            g_open[i] = g_open[--g_open_n];
            break;
        }
    if (g_open_n == 0) { /* leak checkers see a clean process */
        hk_free(g_open);
        g_open = NULL;
        g_open_cap = 0;
    }
    pthread_mutex_unlock(&g_open_mu);
    s->open_registered = false;
}

/* ==== Open / close (continued) ==== */

static hk_err store_open(const char *dir, const hk_store_options *opt,
                         bool process_lock, hk_store **out, hk_error *err)
{
    hk_store_options o = {0};
    hk_store *s = NULL;
    hk_err e = HK_OK;
    int rc;
    struct stat sb;

    if (!dir || !*dir || !out)
        return hk_error_set(err, HK_ERR_INVALID, "store: no KB directory");
    *out = NULL;
    if (opt) o = *opt;
    if (!o.map_size) o.map_size = HKS_DEFAULT_MAP_SIZE;
    if (!o.max_readers) o.max_readers = HKS_DEFAULT_MAX_READERS;
    if (o.read_only) o.create = false;

    if (!o.lock_wait_ms) o.lock_wait_ms = HKS_DEFAULT_LOCK_WAIT_MS;

    s = hk_calloc(1, sizeof *s);
    if (!s) return hk_error_set(err, HK_ERR_NOMEM, "store: out of memory");
    s->lock_fd = -1;
    s->wal_lock_fd = -1;
    s->opt = o;
    if (pthread_mutex_init(&s->writer_mu, NULL) == 0) s->writer_mu_init = true;
    if (pthread_mutex_init(&s->env_mu, NULL) == 0) s->env_mu_init = true;
    s->path = hk_strdup(dir);
    s->data_path = hk_malloc(strlen(dir) + 10);
    if (!s->path || !s->data_path || !s->writer_mu_init || !s->env_mu_init) {
        e = hk_error_set(err, HK_ERR_NOMEM, "store: out of memory");
        goto fail;
    }
    sprintf(s->data_path, "%s/data.mdb", dir);

    if (stat(dir, &sb) != 0) {
        if (errno != ENOENT) {
            e = hk_error_set(err, HK_ERR_IO, "store: cannot open %s: %s", dir,
                             strerror(errno));
            goto fail;
        }
        if (!o.create) {
            e = hk_error_set(err, HK_ERR_NOT_FOUND,
                             "store: no KB at %s (directory missing)", dir);
            goto fail;
        }
        if ((e = hks_store_make_dir(dir, err))) goto fail;
    } else if (!S_ISDIR(sb.st_mode)) {
        e = hk_error_set(err, HK_ERR_INVALID, "store: %s is not a directory",
                         dir);
        goto fail;
    }
    if (stat(s->data_path, &sb) != 0) {
        if (errno != ENOENT) {
            e = hk_error_set(err, HK_ERR_IO, "store: cannot open %s: %s",
                             s->data_path, strerror(errno));
            goto fail;
        }
        if (!o.create) {
            e = hk_error_set(err, HK_ERR_NOT_FOUND, "store: no KB at %s", dir);
            goto fail;
        }
    }
    if (stat(dir, &sb) != 0) {
        e = hk_error_set(err, HK_ERR_IO, "store: cannot open %s: %s", dir,
                         strerror(errno));
        goto fail;
    }
    if ((e = open_register(s, &sb, err))) goto fail;
    if (process_lock &&
        (e = take_process_lock(s, dir, o.read_only, o.lock_wait_ms, err)))
        goto fail;
    if (o.wal && (o.read_only || o.no_sync)) {
        e = hk_error_set(err, HK_ERR_INVALID,
                         "store: the write-ahead log needs a writable, synced "
                         "KB (not read-only, not no_sync)");
        goto fail;
    }
    /* The log's lock, and a rollback to its checkpoint after an unclean
     * stop: before LMDB or the checks below read the meta pages. */
    if (process_lock && (e = hks_wal_open(s, dir, err))) goto fail;
    /* Before LMDB maps the file: a damaged one must never reach it. */
    if ((e = hks_open_check(s->data_path, o.create, &s->psize, err))) goto fail;

    hks_env *ge = hk_calloc(1, sizeof *ge);
    if (!ge) {
        e = hk_error_set(err, HK_ERR_NOMEM, "store: out of memory");
        goto fail;
    }
    ge->refs = 1;
    atomic_store(&s->cur, ge);
    if ((rc = env_create(s, &ge->env))) {
        e = hks_store_mdb_error(NULL, rc, err, "creating the environment");
        goto fail;
    }
    rc = mdb_env_open(ge->env, dir, env_flags(s), 0644);
    if (rc) {
        if (rc == EACCES || rc == EROFS)
            e = hk_error_set(err, HK_ERR_IO, "store: cannot open %s: %s", dir,
                             mdb_strerror(rc));
        else if (rc == MDB_VERSION_MISMATCH || rc == MDB_INVALID)
            e = hk_error_set(err, HK_ERR_VERSION,
                             "store: %s is not a readable LMDB KB: %s", dir,
                             mdb_strerror(rc));
        else
            e = hks_store_mdb_error(NULL, rc, err, "opening the environment");
        goto fail;
    }
    MDB_stat est = {0};
    long os_page = sysconf(_SC_PAGESIZE);
    s->psize = 0; /* value checks assume pages aligned in the map */
    if (mdb_env_stat(ge->env, &est) == 0 && os_page > 0 &&
        est.ms_psize == (unsigned)os_page)
        s->psize = est.ms_psize;
    s->arg_chunk = hks_arg_chunk_rows(est.ms_psize);
    if ((e = open_dbs(s, ge->env, !o.read_only, err))) goto fail;
    find_map(s, ge);
    atomic_store(&s->durable, hk_store_last_commit(s)); /* as opened */
    if ((e = hks_wal_opened(s, err))) goto fail;
    if (!(s->symcache = hks_symcache_new()) ||
        (!o.read_only && !(s->symtab = hks_symtab_new()))) {
        e = hk_error_set(err, HK_ERR_NOMEM, "store: out of memory");
        goto fail;
    }
    *out = s;
    return HK_OK;
fail:
    hk_store_close(s);
    return e;
}

/* Registers the map of s with faultguard.c. LMDB does not tell where it
 * mapped the file (me_mapaddr is only the MDB_FIXEDMAP address), so it is
 * found from a page: the first key of the main database lies on a leaf
 * page, whose header starts with its page number; the map starts that many
 * pages before it. Pages are aligned in the map only when LMDB's page size
 * is the OS page size (s->psize != 0); otherwise the map stays unguarded. */
static void find_map(hk_store *s, hks_env *ge)
{
    MDB_envinfo info;
    MDB_txn *txn;
    MDB_dbi main_dbi;
    MDB_cursor *c;
    MDB_val k, d;
    if (!s->psize || mdb_env_info(ge->env, &info) ||
        mdb_txn_begin(ge->env, NULL, MDB_RDONLY, &txn))
        return;
    if (mdb_dbi_open(txn, NULL, 0, &main_dbi) == 0 &&
        mdb_cursor_open(txn, main_dbi, &c) == 0) {
        if (mdb_cursor_get(c, &k, &d, MDB_FIRST) == 0) {
            uintptr_t page = (uintptr_t)k.mv_data & ~(uintptr_t)(s->psize - 1);
            size_t pgno;
            memcpy(&pgno, (const void *)page, sizeof pgno);
            if (pgno < info.me_mapsize / s->psize) {
                ge->fault_map = (void *)(page - pgno * s->psize);
                hks_fault_map_add(ge->fault_map, info.me_mapsize);
            }
        }
        mdb_cursor_close(c);
    }
    mdb_txn_abort(txn);
}

hk_err hk_store_open(const char *dir, const hk_store_options *opt,
                     hk_store **out, hk_error *err)
{
    return store_open(dir, opt, true, out, err);
}

hk_err hks_store_open_unlocked(const char *dir, const hk_store_options *opt,
                               hk_store **out, hk_error *err)
{
    return store_open(dir, opt, false, out, err);
}

uint64_t hk_store_last_commit(hk_store *s)
{
    MDB_envinfo info;
    if (!s) return 0;
    pthread_mutex_lock(&s->env_mu);
    hks_env *ge = atomic_load(&s->cur);
    int rc = mdb_env_info(ge->env, &info);
    int64_t base = s->txnid_base;
    pthread_mutex_unlock(&s->env_mu);
    return rc ? 0 : (uint64_t)((int64_t)info.me_last_txnid + base);
}

void hk_store_close(hk_store *s)
{
    if (!s) return;
    /* Transactions must be over: the current environment is closed
     * whatever its count (retired ones were closed by their last txn). */
    hks_wal_close(s); /* a last checkpoint while the environment is open */
    env_free(atomic_load(&s->cur));
    if (s->lock_fd >= 0)
        close(s->lock_fd); /* releases LOCK_SH, after the env is gone */
    open_unregister(s);    /* after LMDB let go of the file */
    if (s->writer_mu_init) pthread_mutex_destroy(&s->writer_mu);
    if (s->env_mu_init) pthread_mutex_destroy(&s->env_mu);
    hks_symtab_free(s->symtab);
    hks_symcache_free(s->symcache);
    hks_bloom_free(s->bloom);
    if (s->spare) hks_pending_free(s->spare);
    hk_free(s->spare);
    hk_free(s->path);
    hk_free(s->data_path);
    hk_free(s);
}

const char *hk_store_path(const hk_store *s)
{
    return s ? s->path : NULL;
}

/* ==== Transactions ==== */

hk_err hk_txn_begin(hk_store *s, bool write, hk_txn **out, hk_error *err)
{
    if (!s || !out) return hk_error_set(err, HK_ERR_INVALID, "store: no store");
    *out = NULL;
    if (write && s->opt.read_only)
        return hk_error_set(err, HK_ERR_STATE, "store: %s is open read-only",
                            s->path);
    hk_txn *t = hk_malloc(sizeof *t);
    if (!t) return hk_error_set(err, HK_ERR_NOMEM, "store: out of memory");
    memset(t, 0, sizeof *t);
    t->s = s;
    t->write = write;
    t->gen = 1;
    if (write) {
        pthread_mutex_lock(&s->writer_mu);
        if (s->broken) {
            pthread_mutex_unlock(&s->writer_mu);
            hk_free(t);
            return hk_error_set(err, HK_ERR_STATE,
                                "store: %s was compacted but its new file "
                                "could not be opened; writes are refused "
                                "until the KB is reopened",
                                s->path);
        }
    }
    if (write) {
        hk_err we = hks_wal_write_begin(t, err);
        if (we) {
            pthread_mutex_unlock(&s->writer_mu);
            hk_free(t);
            return we;
        }
    }
    t->ge = hks_env_acquire(s);
    int rc = mdb_txn_begin(t->ge->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
    if (rc) {
        hks_env_release(s, t->ge);
        if (write) hks_wal_write_end(t);
        if (write) pthread_mutex_unlock(&s->writer_mu);
        hk_free(t);
        return hks_store_mdb_error(NULL, rc, err, "beginning a transaction");
    }
    t->active = true;
    if (write) {
        t->txnid = mdb_txn_id(t->txn);
        hk_err e = hks_txn_load_counters(t, &t->c, err);
        if (e) {
            mdb_txn_abort(t->txn);
            hks_env_release(s, t->ge);
            hks_wal_write_end(t);
            pthread_mutex_unlock(&s->writer_mu);
            hk_free(t);
            return e;
        }
        if (t->txnid != s->writer_txnid + 1) {
            /* first write of this handle, or another writer committed: the
             * filter may lack its keys, the symbol cache its symbols */
            hks_bloom_free(s->bloom);
            s->bloom = NULL;
            s->symtab_complete = t->c.next_sym_id == 1; /* empty KB */
        }
        t->sym_floor = t->stmt_sym_floor = t->c.next_sym_id;
        t->seq_begin = t->c.audit_seq;
        hks_pending_take(t);
    }
    *out = t;
    return HK_OK;
}

/* After a commit of t: which commits are on disk now. LMDB's commit
 * writes the data pages, fdatasyncs the file, then writes the meta page
 * (and, without MDB_NOMETASYNC, syncs it too). With MDB_NOMETASYNC the
 * data sync of this commit flushed the meta pages of every commit before
 * it, so those are durable; this one's meta is not yet. A commit that
 * changed nothing (no new txn id) synced nothing. writer_mu is held, so
 * txnid_base is stable. */
static void note_durable(hk_txn *t)
{
    hk_store *s = t->s;
    MDB_envinfo info;
    if (mdb_env_info(t->ge->env, &info) || info.me_last_txnid != t->txnid)
        return;
    uint64_t id = (uint64_t)((int64_t)t->txnid + s->txnid_base);
    if (s->opt.defer_meta_sync && !s->opt.no_sync) id--;
    atomic_store(&s->durable, id);
}

uint64_t hk_store_durable_commit(hk_store *s)
{
    return s ? atomic_load(&s->durable) : 0;
}

hk_err hk_store_sync(hk_store *s, hk_error *err)
{
    if (!s) return hk_error_set(err, HK_ERR_INVALID, "store: no store");
    if (s->opt.read_only) return HK_OK;
    if (hks_wal_active(s)) return hks_wal_sync(s, err);
    uint64_t upto = hk_store_last_commit(s); /* metas written before it */
    hks_env *ge = hks_env_acquire(s);
    int rc = mdb_env_sync(ge->env, 1);
    hks_env_release(s, ge);
    if (rc) return hks_store_mdb_error(NULL, rc, err, "syncing the KB");
    /* never backwards: a commit may have advanced it meanwhile */
    uint64_t cur = atomic_load(&s->durable);
    while (cur < upto && !atomic_compare_exchange_weak(&s->durable, &cur, upto))
        ;
    return HK_OK;
}

/* Frees t; a write txn releases the process writer mutex last, after all
 * cleanup of the shared writer caches. */
static void txn_free(hk_txn *t)
{
    hk_store *s = t->s;
    bool write = t->write;
    hk_free(t->actor);
    hk_free(t->bulk_label);
    if (t->bulk_digest) EVP_MD_CTX_free(t->bulk_digest);
    hk_buf_free(&t->scratch);
    if (write)
        hks_pending_keep(t); /* for the next write txn (under writer_mu) */
    else
        hks_pending_free(&t->pend);
    hks_env_release(s, t->ge); /* after the LMDB txn is over */
    if (write) hks_wal_write_end(t);
    hk_free(t);
    if (write) pthread_mutex_unlock(&s->writer_mu);
}

/* Records the import entry of the facts created in bulk mode (if any) and
 * leaves bulk mode. */
static hk_err bulk_flush(hk_txn *t, hk_error *err)
{
    hk_err e;
    if (!t->bulk || t->bulk_count == 0) {
        t->bulk = false;
        return HK_OK;
    }
    if ((e = hks_audit_flush_bulk(t, err))) return e;
    /* Facts that an import hook adds get entries of their own. */
    t->bulk = false;
    if (t->s->hook_events & HKS_EV_IMPORT) {
        hks_change c = {.op = HKS_OP_IMPORT,
                        .id = t->bulk_first,
                        .id_last = t->bulk_last,
                        .count = t->bulk_count,
                        .audit_seq = t->c.audit_seq};
        if ((e = hks_hooks_change(t, HKS_EV_IMPORT, &c, err))) return e;
    }
    return HK_OK;
}

hk_err hks_txn_end_bulk(hk_txn *t, hk_error *err)
{
    if (!t || !t->write || t->failed)
        return hk_error_set(err, HK_ERR_STATE, "store: no usable write txn");
    hk_err e = bulk_flush(t, err);
    if (e) {
        t->failed = true; /* the entry may be half written */
        return e;
    }
    /* a later hk_txn_set_bulk starts a new range and digest */
    t->bulk_first = t->bulk_last = 0;
    t->bulk_count = 0;
    EVP_MD_CTX_free(t->bulk_digest);
    t->bulk_digest = NULL;
    return HK_OK;
}

hk_err hk_txn_commit(hk_txn *t, hk_error *err)
{
    hk_err e = HK_OK;
    int rc;
    if (!t) return hk_error_set(err, HK_ERR_INVALID, "store: no transaction");
    if (!t->write) {
        if (t->txn) mdb_txn_abort(t->txn); /* a reset txn is a handle too */
        txn_free(t);
        return HK_OK;
    }
    if (t->failed) {
        mdb_txn_abort(t->txn);
        if (t->new_syms) {
            hks_symtab_clear(t->s->symtab);
            t->s->symtab_complete = t->sym_floor == 1;
        }
        txn_free(t);
        return hk_error_set(err, HK_ERR_STATE,
                            "store: transaction had a failed operation and "
                            "was aborted");
    }
    if ((e = bulk_flush(t, err))) goto fail;
    if ((e = hks_txn_flush(t, err))) goto fail;
    if (t->counters_dirty) {
        rc = store_counters(t);
        if (rc) {
            e = hks_store_mdb_error(t, rc, err, "writing counters");
            goto fail;
        }
    }
    /* LMDB reads MDB_NOSYNC at commit time and allows the flag to change
     * at any time while no other thread changes it: only the holder of
     * writer_mu does, and puts it back before the next writer begins. */
    bool env_no_sync = t->s->opt.no_sync;
    /* before it is visible: whoever sees it must know it is ours */
    atomic_store(&t->s->own, (uint64_t)((int64_t)t->txnid + t->s->txnid_base));
    if (hks_wal_active(t->s)) {
        rc = hks_wal_commit(t); /* logged, or synced as a checkpoint */
    } else {
        if (t->no_sync && !env_no_sync)
            (void)mdb_env_set_flags(t->ge->env, MDB_NOSYNC, 1);
        rc = mdb_txn_commit(t->txn);
        if (t->no_sync && !env_no_sync)
            (void)mdb_env_set_flags(t->ge->env, MDB_NOSYNC, 0);
    }
    t->txn = NULL;
    if (rc == 0) {
        t->s->writer_txnid = t->txnid;
        if (!t->no_sync) note_durable(t);
        if (t->s->has_commit_hooks && t->c.audit_seq > t->seq_begin)
            hks_hooks_commit(t); /* before the next writer may begin */
    }
    if (rc) {
        /* LMDB reports a write that ran out of disk space as EIO (a short
         * write): tell it apart by the space left on the KB's file system,
         * so that callers see a full disk (HK_ERR_FULL), not an I/O error */
        if (rc == EIO && store_disk_full(t->s)) rc = ENOSPC;
        e = hks_store_mdb_error(NULL, rc, err, "committing");
        if (t->new_syms) {
            hks_symtab_clear(t->s->symtab);
            t->s->symtab_complete = t->sym_floor == 1;
        }
        txn_free(t);
        return e;
    }
    txn_free(t);
    return HK_OK;
fail:
    mdb_txn_abort(t->txn);
    if (t->new_syms) {
        hks_symtab_clear(t->s->symtab);
        t->s->symtab_complete = t->sym_floor == 1;
    }
    txn_free(t);
    return e;
}

void hk_txn_abort(hk_txn *t)
{
    if (!t) return;
    if (t->txn) mdb_txn_abort(t->txn);
    if (t->new_syms) {
        hks_symtab_clear(t->s->symtab);            /* its new ids are gone */
        t->s->symtab_complete = t->sym_floor == 1; /* empty KB only */
    }
    txn_free(t);
}

void hk_txn_reset(hk_txn *t)
{
    if (!t || t->write || !t->active) return;
    mdb_txn_reset(t->txn);
    t->active = false;
    t->gen++;
}

/* Moves the reset read txn t to the store's current environment (after an
 * online compaction): a new LMDB txn there, then the old one is dropped.
 * On failure t stays a reset txn of its old environment. */
static hk_err txn_move(hk_txn *t, hk_error *err)
{
    hks_env *ge = hks_env_acquire(t->s);
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(ge->env, NULL, MDB_RDONLY, &txn);
    if (rc) {
        hks_env_release(t->s, ge);
        return hks_store_mdb_error(NULL, rc, err, "renewing a transaction");
    }
    if (t->txn) mdb_txn_abort(t->txn);
    hks_env_release(t->s, t->ge);
    t->ge = ge;
    t->txn = txn;
    t->active = true;
    t->gen++;
    return HK_OK;
}

hk_err hk_txn_renew(hk_txn *t, hk_error *err)
{
    if (!t || t->write)
        return hk_error_set(err, HK_ERR_STATE,
                            "store: only read transactions can be renewed");
    if (t->active) hk_txn_reset(t);
    if (atomic_load_explicit(&t->s->cur, memory_order_acquire) != t->ge)
        return txn_move(t, err); /* the store was compacted meanwhile */
    int rc = mdb_txn_renew(t->txn);
    if (rc) return hks_store_mdb_error(NULL, rc, err, "renewing a transaction");
    t->active = true;
    t->gen++;
    return HK_OK;
}

hk_err hk_txn_set_actor(hk_txn *t, const char *actor)
{
    if (!t || !actor || !*actor || strlen(actor) > 256 ||
        !hk_utf8_valid(actor, strlen(actor), NULL))
        return HK_ERR_INVALID;
    char *a = hk_strdup(actor);
    if (!a) return HK_ERR_NOMEM;
    hk_free(t->actor);
    t->actor = a;
    return HK_OK;
}

void hks_txn_set_clock(hk_txn *t, int64_t us)
{
    if (t) t->clock_us = us > 0 ? us : 0;
}

void hks_txn_set_wal(hk_txn *t, const void *rec, size_t len)
{
    if (t && t->write && hks_wal_active(t->s)) {
        t->wal_rec = rec;
        t->wal_len = len;
    }
}

void hks_txn_set_no_sync(hk_txn *t)
{
    if (t && t->write) t->no_sync = true;
}

uint64_t hks_store_own_commit(hk_store *s)
{
    return s ? atomic_load(&s->own) : 0;
}

uint64_t hks_txn_snapshot(const hk_txn *t)
{
    if (!t || !t->active) return 0;
    /* a write txn's own id is the commit it will make; it sees the one
     * before */
    size_t id = mdb_txn_id(t->txn) - (t->write ? 1u : 0u);
    hk_store *s = t->s;
    pthread_mutex_lock(&s->env_mu);
    int64_t base = s->txnid_base;
    pthread_mutex_unlock(&s->env_mu);
    return (uint64_t)((int64_t)id + base);
}

int64_t hks_txn_now(const hk_txn *t)
{
    return t && t->clock_us > 0 ? t->clock_us : hk_now_us();
}

void hks_txn_bloom_ensure(hk_txn *t)
{
    if (!t->bloom_lazy) return;
    t->bloom_lazy = false;
    if (hks_txn_flush(t, NULL)) return; /* the commit reports it */
    hks_bloom *b = NULL;
    hks_bloom_free(t->s->bloom);
    t->s->bloom = NULL;
    if (hks_bloom_build(t, &b, NULL) == HK_OK) t->s->bloom = b;
}

hk_err hk_txn_set_bulk(hk_txn *t, const char *label)
{
    if (!t || !t->write || t->failed) return HK_ERR_STATE;
    /* Imports look up mostly absent statements: the filter is (re)built,
     * but only at the first lookup that asks it (hks_txn_bloom_ensure).
     * Why: the build scans all of stmt (~12 % of a node's apply thread
     * when it catches up 1M facts at 6M), and a batch whose statements
     * each name a symbol it created never asks (stmt_lookup, facts.c). */
    if (hks_bloom_needs_rebuild(t->s->bloom)) t->bloom_lazy = true;
    if (!t->s->symtab_complete && hks_txn_flush(t, NULL) == HK_OK)
        hks_symtab_preload(t, NULL); /* imports: misses need no lookup */
    if (label &&
        (strlen(label) > 4096 || !hk_utf8_valid(label, strlen(label), NULL)))
        return HK_ERR_INVALID;
    char *l = hk_strdup(label ? label : "");
    if (!l) return HK_ERR_NOMEM;
    if (!t->bulk_digest) {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        if (!ctx || EVP_DigestInit_ex(ctx, hk_sha256_md(), NULL) != 1) {
            EVP_MD_CTX_free(ctx);
            hk_free(l);
            return HK_ERR_NOMEM;
        }
        t->bulk_digest = ctx;
    }
    hk_free(t->bulk_label);
    t->bulk_label = l;
    t->bulk = true;
    return HK_OK;
}
