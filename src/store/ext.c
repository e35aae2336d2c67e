/*
 * ext.c — the store's extension points for modules (store.h): databases
 * that modules register, their reads and writes inside hk_txn, and the
 * change hooks that every writer feeds.
 *
 * Threads: the module database table (hk_store.mod) and the hook table
 * (hk_store.hooks) change only under the handle's writer_mu, which a write
 * transaction holds from begin to cleanup, so a writer always sees one
 * consistent table. Readers in other threads read the tables without a
 * lock; store.h therefore asks modules to register before the handle is
 * shared (or while no transaction of it is open elsewhere).
 */
#include <errno.h>
#include <stdio.h>

#include "core/mem.h"
#include "store/store_int.h"

/* ==== Module databases ====
 * A module database is an LMDB named database plus a `meta` entry
 * "module_db:NAME" -> u32 BE HKS_DB_* flags, written in the transaction
 * that creates it. Every open reads those entries and opens the databases,
 * so backup (hks_dense_copy walks hks_store_db_spec), compaction (its copy
 * check counts the entries of every database) and hks_store_check cover
 * them in any process, whether it loads the module or not. */

unsigned hks_db_mdb_flags(unsigned flags)
{
    unsigned f = 0;
    if (flags & HKS_DB_DUPSORT) f |= MDB_DUPSORT;
    if (flags & HKS_DB_DUPFIXED) f |= MDB_DUPFIXED;
    if (flags & HKS_DB_INTEGERKEY) f |= MDB_INTEGERKEY;
    return f;
}

static hk_err check_name(const char *name, hk_error *err)
{
    size_t n = name ? strlen(name) : 0;
    bool dot = false;
    if (n < 3 || n > HKS_DB_NAME_MAX) goto bad;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (c == '.') dot = true;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '.' || c == '-'))
            goto bad;
    }
    if (!dot || name[0] == '.') goto bad;
    return HK_OK;
bad:
    hk_error_set(err, HK_ERR_INVALID,
                 "store: database name '%.80s' is not \"module.name\" "
                 "(3..%u bytes of a-z, 0-9, '_', '.', '-' with a '.')",
                 name ? name : "", HKS_DB_NAME_MAX);
    if (err) snprintf(err->field, sizeof err->field, "name");
    return HK_ERR_INVALID;
}

static hk_err check_flags(unsigned flags, hk_error *err)
{
    if ((flags &
         ~(unsigned)(HKS_DB_DUPSORT | HKS_DB_DUPFIXED | HKS_DB_INTEGERKEY)) ||
        ((flags & HKS_DB_DUPFIXED) && !(flags & HKS_DB_DUPSORT))) {
        hk_error_set(err, HK_ERR_INVALID,
                     "store: database flags %#x are not a combination of "
                     "HKS_DB_* (DUPFIXED needs DUPSORT)",
                     flags);
        if (err) snprintf(err->field, sizeof err->field, "flags");
        return HK_ERR_INVALID;
    }
    return HK_OK;
}

static hks_module_db *find_db(hk_store *s, const char *name)
{
    for (uint32_t i = 0; i < s->n_mod; i++)
        if (strcmp(s->mod[i].name, name) == 0) return &s->mod[i];
    return NULL;
}

hk_err hks_module_dbs_open(hk_store *s, MDB_txn *txn, hk_error *err)
{
    MDB_cursor *c = NULL;
    MDB_val k = {sizeof HKS_MODULE_DB_KEY - 1, (void *)HKS_MODULE_DB_KEY}, d;
    const size_t plen = sizeof HKS_MODULE_DB_KEY - 1;
    hk_err e = HK_OK;
    int rc = mdb_cursor_open(txn, s->db.meta, &c);
    if (rc) return hks_store_mdb_error(NULL, rc, err, "opening module dbs");
    s->n_mod = 0;
    for (rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        if (k.mv_size < plen || memcmp(k.mv_data, HKS_MODULE_DB_KEY, plen))
            break;
        size_t nlen = k.mv_size - plen;
        char name[HKS_DB_NAME_MAX + 1];
        if (nlen > HKS_DB_NAME_MAX || d.mv_size != 4) goto damaged;
        memcpy(name, (const char *)k.mv_data + plen, nlen);
        name[nlen] = '\0';
        unsigned flags = hks_get_u32(d.mv_data);
        if (check_name(name, NULL) || check_flags(flags, NULL)) goto damaged;
        if (s->n_mod == HKS_MODULE_DBS_MAX) {
            e = hk_error_set(err, HK_ERR_LIMIT,
                             "store: %s records more than %u module "
                             "databases",
                             s->path, HKS_MODULE_DBS_MAX);
            goto done;
        }
        hks_module_db *m = &s->mod[s->n_mod];
        rc = mdb_dbi_open(txn, name, hks_db_mdb_flags(flags), &m->dbi);
        if (rc == MDB_NOTFOUND || rc == MDB_INCOMPATIBLE) {
            e = hk_error_set(
                err, HK_ERR_CORRUPT, "store: module database '%s' of %s is %s",
                name, s->path,
                rc == MDB_NOTFOUND ? "missing" : "not of its recorded layout");
            goto done;
        }
        if (rc) {
            e = hks_store_mdb_error(NULL, rc, err, "opening a module database");
            goto done;
        }
        memcpy(m->name, name, nlen + 1);
        m->flags = flags;
        s->n_mod++;
    }
    if (rc && rc != MDB_NOTFOUND)
        e = hks_store_mdb_error(NULL, rc, err, "reading module databases");
    goto done;
damaged:
    e = hk_error_set(err, HK_ERR_CORRUPT,
                     "store: %s has a damaged module database entry in meta",
                     s->path);
done:
    mdb_cursor_close(c);
    return e;
}

hk_err hks_db_find(hk_store *s, const char *name, hks_db *out, hk_error *err)
{
    if (!s || !out) return hk_error_set(err, HK_ERR_INVALID, "store: no store");
    *out = 0;
    hks_module_db *m = name ? find_db(s, name) : NULL;
    if (!m)
        return hk_error_set(err, HK_ERR_NOT_FOUND,
                            "store: no module database '%.80s' in %s",
                            name ? name : "", s->path);
    *out = (hks_db)(m - s->mod) + 1;
    return HK_OK;
}

/* Creates (or opens) name in a write txn of its own and records it. */
static hk_err create_db(hk_store *s, const char *name, unsigned flags,
                        hk_error *err)
{
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    size_t nlen = strlen(name), plen = sizeof HKS_MODULE_DB_KEY - 1;
    uint8_t kb[sizeof HKS_MODULE_DB_KEY + HKS_DB_NAME_MAX], fb[4];
    MDB_val k = {plen + nlen, kb}, d;
    hk_err e = HK_OK;
    memcpy(kb, HKS_MODULE_DB_KEY, plen);
    memcpy(kb + plen, name, nlen);
    if (s->broken)
        return hk_error_set(err, HK_ERR_STATE,
                            "store: %s was compacted but could not be "
                            "reopened; restart the server",
                            s->path);
    /* writer_mu is held: the current environment cannot change */
    hks_env *ge = atomic_load(&s->cur);
    int rc = mdb_txn_begin(ge->env, NULL, 0, &txn);
    if (rc) return hks_store_mdb_error(NULL, rc, err, "registering a database");
    size_t txnid = mdb_txn_id(txn);
    /* Another handle or process may have recorded it since our open. */
    rc = mdb_get(txn, s->db.meta, &k, &d);
    if (rc == 0 && (d.mv_size != 4 || hks_get_u32(d.mv_data) != flags)) {
        e = hk_error_set(err, HK_ERR_INVALID,
                         "store: module database '%s' exists with other "
                         "flags",
                         name);
        if (err) snprintf(err->field, sizeof err->field, "flags");
        goto fail;
    }
    if (rc && rc != MDB_NOTFOUND) goto lmdb;
    rc = mdb_dbi_open(txn, name, hks_db_mdb_flags(flags) | MDB_CREATE, &dbi);
    if (rc == MDB_INCOMPATIBLE) {
        e = hk_error_set(err, HK_ERR_INVALID,
                         "store: database '%s' exists with other flags", name);
        if (err) snprintf(err->field, sizeof err->field, "flags");
        goto fail;
    }
    if (rc) goto lmdb;
    hks_put_u32(fb, flags);
    d.mv_size = 4;
    d.mv_data = fb;
    if ((rc = mdb_put(txn, s->db.meta, &k, &d, 0))) goto lmdb;
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc) goto lmdb;
    /* Synced by LMDB (no hk_txn: writer_mu is held): under the
     * write-ahead log it must become the checkpoint, or a replay would
     * find the next record's txn one too far; and it is durable. */
    if (hks_wal_active(s) && (rc = hks_wal_synced_commit(s)))
        return hk_error_set(err, HK_ERR_IO,
                            "store: registering database '%s': the "
                            "write-ahead log could not checkpoint (%s)",
                            name, strerror(rc));
    uint64_t done = (uint64_t)((int64_t)txnid + s->txnid_base);
    if (s->opt.defer_meta_sync && !s->opt.no_sync && !hks_wal_active(s))
        done--; /* its meta page is synced by the next commit (store.c) */
    uint64_t cur = atomic_load(&s->durable);
    while (cur < done && !atomic_compare_exchange_weak(&s->durable, &cur, done))
        ;
    /* Only meta changed: the writer caches stay valid when they were. */
    if (s->writer_txnid + 1 == txnid) s->writer_txnid = txnid;
    hks_module_db *m = &s->mod[s->n_mod];
    memcpy(m->name, name, nlen + 1);
    m->flags = flags;
    m->dbi = dbi;
    s->n_mod++;
    return HK_OK;
lmdb:
    e = hks_store_mdb_error(NULL, rc, err, "registering a database");
fail:
    if (txn) mdb_txn_abort(txn);
    return e;
}

hk_err hks_db_register(hk_store *s, const char *name, unsigned flags,
                       hks_db *out, hk_error *err)
{
    hk_err e;
    if (!s || !out) return hk_error_set(err, HK_ERR_INVALID, "store: no store");
    *out = 0;
    if ((e = check_name(name, err)) || (e = check_flags(flags, err))) return e;
    pthread_mutex_lock(&s->writer_mu);
    hks_module_db *m = find_db(s, name);
    if (m && m->flags != flags) {
        e = hk_error_set(err, HK_ERR_INVALID,
                         "store: module database '%s' exists with flags %#x, "
                         "not %#x",
                         name, m->flags, flags);
        if (err) snprintf(err->field, sizeof err->field, "flags");
    } else if (m) {
        e = HK_OK;
    } else if (s->opt.read_only) {
        e = hk_error_set(err, HK_ERR_NOT_FOUND,
                         "store: no module database '%s' in %s (open "
                         "read-only: it cannot be created)",
                         name, s->path);
    } else if (s->n_mod == HKS_MODULE_DBS_MAX) {
        e = hk_error_set(err, HK_ERR_LIMIT,
                         "store: at most %u module databases per KB",
                         HKS_MODULE_DBS_MAX);
    } else if ((e = create_db(s, name, flags, err)) == HK_OK) {
        m = &s->mod[s->n_mod - 1];
    }
    if (!e) *out = (hks_db)(m - s->mod) + 1;
    pthread_mutex_unlock(&s->writer_mu);
    return e;
}

/* ==== Module database access ==== */

/* The module database of handle db, or NULL (err set). */
static hks_module_db *db_of(hk_txn *t, hks_db db, hk_error *err)
{
    if (db == 0 || db > t->s->n_mod) {
        hk_error_set(err, HK_ERR_INVALID,
                     "store: %u is not a module database handle", db);
        return NULL;
    }
    return &t->s->mod[db - 1];
}

static hk_err check_key(hks_val key, const char *what, hk_error *err)
{
    if (key.len == 0 || key.len > HKS_KEY_MAX || !key.data) {
        hk_error_set(err, HK_ERR_INVALID,
                     "store: a %s must have 1..%u bytes, not %zu", what,
                     HKS_KEY_MAX, key.len);
        if (err) snprintf(err->field, sizeof err->field, "%s", what);
        return HK_ERR_INVALID;
    }
    return HK_OK;
}

/* The checks of every access by key: t usable (for writing when write),
 * db a module database of t's store, key 1..HKS_KEY_MAX bytes. *m gets
 * the database. */
static hk_err keyed_access(hk_txn *t, bool write, hks_db db, hks_val key,
                           hks_module_db **m, hk_error *err)
{
    hk_err e = write ? hks_txn_check_write(t, err) : hks_txn_check_read(t, err);
    if (e) return e;
    if (!(*m = db_of(t, db, err))) return HK_ERR_INVALID;
    return check_key(key, "key", err);
}

hk_err hks_get(hk_txn *t, hks_db db, hks_val key, hks_val *val, hk_error *err)
{
    hks_module_db *m;
    hk_err e = keyed_access(t, false, db, key, &m, err);
    if (e) return e;
    MDB_val k = {key.len, (void *)key.data}, d;
    int rc = mdb_get(t->txn, m->dbi, &k, &d);
    if (rc == MDB_NOTFOUND)
        return hk_error_set(err, HK_ERR_NOT_FOUND, "store: no such key in %s",
                            m->name);
    if (rc) return hks_store_mdb_error(t, rc, err, "reading a module database");
    if (val) {
        val->data = d.mv_data;
        val->len = d.mv_size;
    }
    return HK_OK;
}

hk_err hks_put(hk_txn *t, hks_db db, hks_val key, hks_val val, unsigned flags,
               hk_error *err)
{
    hks_module_db *m;
    hk_err e = keyed_access(t, true, db, key, &m, err);
    if (e) return e;
    bool dup = (m->flags & HKS_DB_DUPSORT) != 0;
    if (dup && (e = check_key(val, "value", err))) return e;
    if (!dup && val.len && !val.data)
        return hk_error_set(err, HK_ERR_INVALID, "store: value without bytes");
    if ((m->flags & HKS_DB_INTEGERKEY) && key.len != 4 && key.len != 8)
        return hk_error_set(err, HK_ERR_INVALID,
                            "store: %s has integer keys (4 or 8 bytes)",
                            m->name);
    if (flags & ~(unsigned)(HKS_PUT_NOOVERWRITE | HKS_PUT_APPEND))
        return hk_error_set(err, HK_ERR_INVALID, "store: put flags %#x", flags);
    unsigned mf = 0;
    if (flags & HKS_PUT_NOOVERWRITE)
        mf |= dup ? MDB_NODUPDATA : MDB_NOOVERWRITE;
    if (flags & HKS_PUT_APPEND) mf |= dup ? MDB_APPENDDUP : MDB_APPEND;
    MDB_val k = {key.len, (void *)key.data}, d = {val.len, (void *)val.data};
    hks_txn_touch(t);
    int rc = mdb_put(t->txn, m->dbi, &k, &d, mf);
    if (rc == MDB_KEYEXIST) { /* nothing written */
        if (flags & HKS_PUT_NOOVERWRITE)
            return hk_error_set(err, HK_ERR_EXISTS,
                                "store: the key exists in %s", m->name);
        return hk_error_set(err, HK_ERR_INVALID,
                            "store: append out of order in %s", m->name);
    }
    if (rc) return hks_store_mdb_error(t, rc, err, "writing a module database");
    return HK_OK;
}

hk_err hks_del(hk_txn *t, hks_db db, hks_val key, const hks_val *val,
               hk_error *err)
{
    hks_module_db *m;
    hk_err e = keyed_access(t, true, db, key, &m, err);
    if (e) return e;
    MDB_val k = {key.len, (void *)key.data};
    MDB_val d = {val ? val->len : 0, val ? (void *)val->data : NULL};
    hks_txn_touch(t);
    int rc = mdb_del(t->txn, m->dbi, &k,
                     val && (m->flags & HKS_DB_DUPSORT) ? &d : NULL);
    if (rc == MDB_NOTFOUND)
        return hk_error_set(err, HK_ERR_NOT_FOUND, "store: no such entry in %s",
                            m->name);
    if (rc) return hks_store_mdb_error(t, rc, err, "deleting from a database");
    return HK_OK;
}

hk_err hks_db_entries(hk_txn *t, hks_db db, uint64_t *n, hk_error *err)
{
    hk_err e;
    hks_module_db *m;
    MDB_stat st;
    if ((e = hks_txn_check_read(t, err))) return e;
    if (!(m = db_of(t, db, err))) return HK_ERR_INVALID;
    int rc = mdb_stat(t->txn, m->dbi, &st);
    if (rc) return hks_store_mdb_error(t, rc, err, "counting a database");
    *n = st.ms_entries;
    return HK_OK;
}

/* ==== Cursors ==== */

struct hks_cursor {
    hk_txn *t;       /* the txn it was opened in */
    MDB_cursor *c;   /* LMDB cursor on the module database */
    bool positioned; /* a seek or next found an entry */
    bool at_end;     /* iteration ran past the last entry */
};

hk_err hks_cursor_open(hk_txn *t, hks_db db, hks_cursor **out, hk_error *err)
{
    hk_err e;
    hks_module_db *m;
    if (!out) return hk_error_set(err, HK_ERR_INVALID, "store: no cursor");
    *out = NULL;
    if ((e = hks_txn_check_read(t, err))) return e;
    if (!(m = db_of(t, db, err))) return HK_ERR_INVALID;
    hks_cursor *c = hk_calloc(1, sizeof *c);
    if (!c) return hk_error_set(err, HK_ERR_NOMEM, "store: out of memory");
    int rc = mdb_cursor_open(t->txn, m->dbi, &c->c);
    if (rc) {
        hk_free(c);
        return hks_store_mdb_error(t, rc, err, "opening a cursor");
    }
    c->t = t;
    *out = c;
    return HK_OK;
}

/* Hands out the entry the LMDB call gave (rc), or the end. */
static hk_err cursor_result(hks_cursor *c, int rc, MDB_val *mk, MDB_val *md,
                            hks_val *k, hks_val *v, bool *found, hk_error *err)
{
    *found = false;
    if (rc == MDB_NOTFOUND) {
        c->at_end = true;
        return HK_OK;
    }
    if (rc) return hks_store_mdb_error(c->t, rc, err, "reading a cursor");
    c->positioned = true;
    c->at_end = false;
    *found = true;
    if (k) {
        k->data = mk->mv_data;
        k->len = mk->mv_size;
    }
    if (v) {
        v->data = md->mv_data;
        v->len = md->mv_size;
    }
    return HK_OK;
}

hk_err hks_cursor_seek(hks_cursor *c, hks_val key, hks_val *k, hks_val *v,
                       bool *found, hk_error *err)
{
    hk_err e;
    MDB_val mk = {key.len, (void *)key.data}, md;
    if (!c || !found)
        return hk_error_set(err, HK_ERR_INVALID, "store: no cursor");
    *found = false;
    if ((e = hks_txn_check_read(c->t, err))) return e;
    if (key.len > HKS_KEY_MAX || (key.len && !key.data))
        return check_key(key, "key", err);
    int rc = key.len ? mdb_cursor_get(c->c, &mk, &md, MDB_SET_RANGE)
                     : mdb_cursor_get(c->c, &mk, &md, MDB_FIRST);
    return cursor_result(c, rc, &mk, &md, k, v, found, err);
}

hk_err hks_cursor_next(hks_cursor *c, hks_val *k, hks_val *v, bool *found,
                       hk_error *err)
{
    hk_err e;
    MDB_val mk, md;
    if (!c || !found)
        return hk_error_set(err, HK_ERR_INVALID, "store: no cursor");
    *found = false;
    if ((e = hks_txn_check_read(c->t, err))) return e;
    if (c->at_end) return HK_OK;
    int rc =
        mdb_cursor_get(c->c, &mk, &md, c->positioned ? MDB_NEXT : MDB_FIRST);
    return cursor_result(c, rc, &mk, &md, k, v, found, err);
}

void hks_cursor_close(hks_cursor *c)
{
    if (!c) return;
    mdb_cursor_close(c->c);
    hk_free(c);
}

/* ==== Change hooks ==== */

static void hooks_summarise(hk_store *s)
{
    s->hook_events = 0;
    s->has_commit_hooks = false;
    for (uint32_t i = 0; i < s->n_hooks; i++) {
        const hks_hook *h = &s->hooks[i].h;
        if (h->on_change) s->hook_events |= h->events;
        if (h->on_commit) s->has_commit_hooks = true;
    }
}

hk_err hks_hook_add(hk_store *s, const hks_hook *h, hk_error *err)
{
    hk_err e = HK_OK;
    size_t n = h && h->name ? strlen(h->name) : 0;
    if (!s || !h) return hk_error_set(err, HK_ERR_INVALID, "store: no hook");
    if (n == 0 || n > HKS_DB_NAME_MAX)
        return hk_error_set(err, HK_ERR_INVALID,
                            "store: a hook needs a name of 1..%u bytes",
                            HKS_DB_NAME_MAX);
    if (h->events & ~(unsigned)HKS_EV_ALL)
        return hk_error_set(err, HK_ERR_INVALID,
                            "store: hook events %#x are not HKS_EV_*",
                            h->events);
    pthread_mutex_lock(&s->writer_mu);
    for (uint32_t i = 0; i < s->n_hooks; i++) {
        if (strcmp(s->hooks[i].name, h->name) == 0) {
            e = hk_error_set(err, HK_ERR_EXISTS,
                             "store: a hook '%s' is added already", h->name);
            goto done;
        }
    }
    if (s->n_hooks == HKS_HOOKS_MAX) {
        e = hk_error_set(err, HK_ERR_LIMIT, "store: at most %u hooks",
                         HKS_HOOKS_MAX);
        goto done;
    }
    hks_hook_slot *slot = &s->hooks[s->n_hooks++];
    memcpy(slot->name, h->name, n + 1);
    slot->h = *h;
    slot->h.name = slot->name;
    hooks_summarise(s);
done:
    pthread_mutex_unlock(&s->writer_mu);
    return e;
}

hk_err hks_hook_remove(hk_store *s, const char *name, hk_error *err)
{
    hk_err e = HK_ERR_NOT_FOUND;
    if (!s || !name)
        return hk_error_set(err, HK_ERR_INVALID, "store: no hook name");
    pthread_mutex_lock(&s->writer_mu);
    for (uint32_t i = 0; i < s->n_hooks; i++) {
        if (strcmp(s->hooks[i].name, name) != 0) continue;
        for (uint32_t j = i; j + 1 < s->n_hooks; j++) {
            s->hooks[j] = s->hooks[j + 1];
            s->hooks[j].h.name = s->hooks[j].name;
        }
        s->n_hooks--;
        hooks_summarise(s);
        e = HK_OK;
        break;
    }
    pthread_mutex_unlock(&s->writer_mu);
    if (e) hk_error_set(err, e, "store: no hook '%.80s'", name);
    return e;
}

static const char *op_name(hks_op op)
{
    switch (op) {
    case HKS_OP_ADD:
        return "add";
    case HKS_OP_DELETE:
        return "delete";
    case HKS_OP_UPDATE:
        return "update";
    case HKS_OP_META:
        return "meta";
    case HKS_OP_IMPORT:
        return "import";
    case HKS_OP_VECTOR:
        return "vector";
    case HKS_OP_RULE:
        return "rule";
    }
    return "change";
}

hk_err hks_hooks_change(hk_txn *t, unsigned ev, const hks_change *c,
                        hk_error *err)
{
    hk_store *s = t->s;
    hk_err e = HK_OK;
    if (t->hook_depth >= HKS_HOOK_DEPTH_MAX) {
        t->failed = true;
        return hk_error_set(err, HK_ERR_LIMIT,
                            "store: change hooks nested more than %u deep "
                            "(a hook's change fed the hooks again)",
                            HKS_HOOK_DEPTH_MAX);
    }
    t->hook_depth++;
    for (uint32_t i = 0; i < s->n_hooks && !e; i++) {
        const hks_hook *h = &s->hooks[i].h;
        hk_error herr;
        if (!(h->events & ev) || !h->on_change) continue;
        memset(&herr, 0, sizeof herr);
        e = h->on_change(t, c, h->ud, &herr);
        if (!e && t->failed) /* it ignored an error of a nested change */
            e = hk_error_set(&herr, HK_ERR_STATE,
                             "an operation of the hook failed");
        if (e) {
            hk_error_set(err, e,
                         "store: hook '%s' failed on %s of fact %llu (the "
                         "transaction is aborted): %s",
                         h->name, op_name(c->op), (unsigned long long)c->id,
                         herr.message[0] ? herr.message : hk_strerror(e));
            if (err) memcpy(err->field, herr.field, sizeof err->field);
        }
    }
    t->hook_depth--;
    if (e) t->failed = true;
    return e;
}

void hks_hooks_commit(hk_txn *t)
{
    hk_store *s = t->s;
    hks_commit c = {.first_seq = t->seq_begin + 1,
                    .last_seq = t->c.audit_seq,
                    .commit = hk_store_last_commit(s)};
    for (uint32_t i = 0; i < s->n_hooks; i++) {
        const hks_hook *h = &s->hooks[i].h;
        if (h->on_commit) h->on_commit(s, &c, h->ud);
    }
}
