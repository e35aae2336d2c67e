/*
 * upgrade.c — in-place upgrade of an older on-disk format, run by
 * hk_store_open inside its first write transaction.
 *
 * Version 2 -> 3 made the by_arg duplicates grow from 11 to 15 bytes (the
 * co-argument of binary facts, store_int.h); version 3 -> 4 split an
 * entity's rows over chunk keys (argidx.c); version 4 -> 5 changed the
 * `stmt` keys from LEB128 varints to the order-preserving code of
 * hks_symkey_put. Each of these rewrites one index and nothing else, so the
 * index is emptied and rebuilt from the fact records, whatever the old
 * version: one walk of `fact` in id order (walk_facts, which stops at a
 * damaged record) hands each fact to the index's collector, which gathers
 * the entries in batches; each batch is sorted and written with one
 * cursor, so the puts land on neighbouring pages.
 *
 * by_arg (from 2 or 3): each batch is sorted by (entity, row) and written
 * by hks_arg_write_sorted (the first batch is appended in chunks of
 * limit - 1 rows; later ones, whose rows of an entity mostly follow its
 * earlier ones, split off full chunks too). The set of (entity, position,
 * predicate, id) entries is the one the old index had, so counters,
 * arg_multi, pstat and the data digest (records and symbols only) stay as
 * they are.
 *
 * stmt (from 2 to 4): each batch is sorted by key and put with
 * MDB_NOOVERWRITE (the first batch appended), so two records with one
 * statement, which a sound KB never holds, stop the upgrade as damage
 * instead of losing a fact from the index.
 *
 * Everything happens in the open's transaction: a failure aborts it and
 * leaves the KB at its old version.
 *
 * Threads: only hk_store_open calls this, before the handle is shared.
 */
#include <stdlib.h>

#include "core/mem.h"
#include "store/store_int.h"

static hk_err damaged(hk_error *err, const char *path, hk_fact_id id,
                      uint32_t from_version, const char *what)
{
    return hk_error_set(err, HK_ERR_CORRUPT,
                        "store: upgrading %s: fact %llu %s; the KB stays at "
                        "version %u",
                        path, (unsigned long long)id, what, from_version);
}

static hk_err lmdb_failed(hk_error *err, const char *path, int rc,
                          uint32_t from_version)
{
    return hk_error_set(err, HK_ERR_IO,
                        "store: upgrading %s to version %u failed (%s); the "
                        "KB stays at version %u",
                        path, HKS_SCHEMA_VERSION, mdb_strerror(rc),
                        from_version);
}

/* ==== The walk over the facts ==== */

/* A record of the walk: its id from the native size_t key (HKS_FACT_KEY)
 * and its symbols; false when either is damaged. */
static bool walk_record(const MDB_val *k, const MDB_val *d, hk_fact_id *id,
                        hks_rec *r)
{
    size_t kv = 0;
    if (k->mv_size == sizeof kv) memcpy(&kv, k->mv_data, sizeof kv);
    *id = kv;
    return *id && *id <= HKS_MAX_FACT_ID &&
           hks_rec_decode_ids(d->mv_data, d->mv_size, r) == HK_OK;
}

/* Takes one fact of the walk (its id and symbols, valid for the call);
 * an error stops the walk and is the walk's. */
typedef hk_err (*walk_fn)(void *ud, hk_fact_id id, const hks_rec *r,
                          hk_error *err);

/* Hands every record of `fact`, in id order, to fn. A damaged record
 * stops the walk as damage of the KB: an index rebuilt without it would
 * lose a fact. */
static hk_err walk_facts(MDB_txn *txn, const hks_store_dbs *db,
                         const char *path, uint32_t from_version, walk_fn fn,
                         void *ud, hk_error *err)
{
    MDB_cursor *fc = NULL;
    hk_err e = HK_OK;
    int rc = mdb_cursor_open(txn, db->fact, &fc);
    if (rc) return lmdb_failed(err, path, rc, from_version);
    MDB_val k, d;
    /* bounded by the records: each pass moves to the next one */
    for (rc = mdb_cursor_get(fc, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(fc, &k, &d, MDB_NEXT)) {
        hks_rec r;
        hk_fact_id id;
        if (!walk_record(&k, &d, &id, &r)) {
            e = damaged(err, path, id, from_version, "has a damaged record");
            goto done;
        }
        if ((e = fn(ud, id, &r, err))) goto done;
    }
    if (rc != MDB_NOTFOUND) e = lmdb_failed(err, path, rc, from_version);
done:
    mdb_cursor_close(fc);
    return e;
}

/* ==== by_arg ==== */

/* New duplicates collected before a sort and write: 19 bytes each, so a
 * chunk is about 20 MB whatever the KB's size. */
#define UPGRADE_CHUNK (1u << 20)
#define UPGRADE_ENTRY (4u + HKS_ARG_DUP_BYTES)

static int cmp_entry(const void *a, const void *b)
{
    return memcmp(a, b, UPGRADE_ENTRY);
}

static int flush_chunk(MDB_cursor *c, uint8_t *chunk, size_t n, uint32_t limit)
{
    uint64_t fresh = 0; /* the entities counter is already right */
    qsort(chunk, n, UPGRADE_ENTRY, cmp_entry);
    return hks_arg_write_sorted(c, NULL, chunk, n, UPGRADE_ENTRY, limit,
                                &fresh);
}

typedef struct arg_rebuild {
    MDB_cursor *ac;        /* on by_arg */
    uint8_t *chunk;        /* UPGRADE_CHUNK entries of UPGRADE_ENTRY bytes */
    size_t n;              /* entries in chunk */
    uint32_t limit;        /* rows at which a chunk splits */
    const char *path;      /* the KB, for messages */
    uint32_t from_version; /* the KB's version, for messages */
} arg_rebuild;

static hk_err arg_flush(arg_rebuild *b, hk_error *err)
{
    int rc = flush_chunk(b->ac, b->chunk, b->n, b->limit);
    b->n = 0;
    return rc ? lmdb_failed(err, b->path, rc, b->from_version) : HK_OK;
}

static hk_err arg_fact(void *ud, hk_fact_id id, const hks_rec *r, hk_error *err)
{
    arg_rebuild *b = ud;
    hk_err e;
    if (b->n + r->n_args > UPGRADE_CHUNK && (e = arg_flush(b, err))) return e;
    for (uint32_t i = 0; i < r->n_args; i++, b->n++) {
        uint8_t *en = b->chunk + b->n * UPGRADE_ENTRY;
        hks_put_u32(en, r->args[i]);
        hks_arg_dup(en + 4, i, r->pred, r->n_args, r->args, id);
    }
    return HK_OK;
}

static hk_err rebuild_by_arg(MDB_txn *txn, const hks_store_dbs *db,
                             const char *path, uint32_t from_version,
                             uint32_t limit, hk_error *err)
{
    arg_rebuild b = {NULL, NULL, 0, limit, path, from_version};
    hk_err e;
    int rc;
    b.chunk = hk_malloc((size_t)UPGRADE_CHUNK * UPGRADE_ENTRY);
    if (!b.chunk)
        return hk_error_set(err, HK_ERR_NOMEM,
                            "store: out of memory upgrading %s", path);
    if ((rc = mdb_drop(txn, db->by_arg, 0)) ||
        (rc = mdb_cursor_open(txn, db->by_arg, &b.ac))) {
        e = lmdb_failed(err, path, rc, from_version);
        goto done;
    }
    if (!(e = walk_facts(txn, db, path, from_version, arg_fact, &b, err)))
        e = arg_flush(&b, err);
done:
    if (b.ac) mdb_cursor_close(b.ac);
    hk_free(b.chunk);
    return e;
}

/* ==== stmt ==== */

/* The statement keys of one batch: the keys' bytes one after another in
 * keys, an entry per key in ent. About 28 MB for 1M binary facts. */
#define UPGRADE_STMT_BATCH (1u << 20)
#define UPGRADE_STMT_BYTES (UPGRADE_STMT_BATCH * 12u)

typedef struct stmt_entry {
    uint64_t pre; /* first 8 key bytes, big-endian, zero-padded */
    uint32_t off; /* of the key in the batch's bytes */
    uint32_t len; /* key bytes */
    uint64_t id;  /* fact id */
} stmt_entry;

static int cmp_stmt_entry(const void *a, const void *b, void *ud)
{
    const stmt_entry *x = a, *y = b;
    if (x->pre != y->pre) return x->pre < y->pre ? -1 : 1;
    const uint8_t *keys = ud;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(keys + x->off, keys + y->off, n);
    if (c) return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

/* Sorts and writes a batch; *dup_id is set to a fact whose statement is
 * already in the index (MDB_KEYEXIST). */
static int flush_stmt(MDB_cursor *c, stmt_entry *ent, size_t n, uint8_t *keys,
                      bool first, uint64_t *dup_id)
{
    qsort_r(ent, n, sizeof *ent, cmp_stmt_entry, keys);
    for (size_t i = 0; i < n; i++) {
        uint8_t v[HKS_STMT_VAL_MAX];
        MDB_val k = {ent[i].len, keys + ent[i].off};
        MDB_val d = {hks_varint_put(v, ent[i].id), v};
        int rc = mdb_cursor_put(c, &k, &d,
                                MDB_NOOVERWRITE | (first ? MDB_APPEND : 0));
        if (rc == MDB_KEYEXIST) *dup_id = ent[i].id;
        if (rc) return rc;
    }
    return 0;
}

typedef struct stmt_rebuild {
    MDB_cursor *sc;        /* on stmt */
    stmt_entry *ent;       /* UPGRADE_STMT_BATCH entries */
    uint8_t *keys;         /* UPGRADE_STMT_BYTES of their keys' bytes */
    size_t n;              /* entries in ent */
    size_t used;           /* bytes in keys */
    bool first;            /* no batch written yet: append */
    const char *path;      /* the KB, for messages */
    uint32_t from_version; /* the KB's version, for messages */
} stmt_rebuild;

static hk_err stmt_flush(stmt_rebuild *b, hk_error *err)
{
    uint64_t dup_id = 0;
    int rc = flush_stmt(b->sc, b->ent, b->n, b->keys, b->first, &dup_id);
    b->first = false;
    b->n = b->used = 0;
    if (rc == MDB_KEYEXIST)
        return damaged(err, b->path, dup_id, b->from_version,
                       "has the statement of another fact");
    return rc ? lmdb_failed(err, b->path, rc, b->from_version) : HK_OK;
}

static hk_err stmt_fact(void *ud, hk_fact_id id, const hks_rec *r,
                        hk_error *err)
{
    stmt_rebuild *b = ud;
    hk_err e;
    if ((b->n == UPGRADE_STMT_BATCH ||
         UPGRADE_STMT_BYTES - b->used < HKS_STMT_KEY_MAX) &&
        (e = stmt_flush(b, err)))
        return e;
    stmt_entry *en = &b->ent[b->n++];
    en->off = (uint32_t)b->used;
    en->len =
        (uint32_t)hks_stmt_key(r->pred, r->n_args, r->args, b->keys + b->used);
    en->id = id;
    uint8_t pre[8] = {0};
    memcpy(pre, b->keys + b->used, en->len < 8 ? en->len : 8);
    en->pre = hks_get_u64(pre);
    b->used += en->len;
    return HK_OK;
}

static hk_err rebuild_stmt(MDB_txn *txn, const hks_store_dbs *db,
                           const char *path, uint32_t from_version,
                           hk_error *err)
{
    stmt_rebuild b = {NULL, NULL, NULL, 0, 0, true, path, from_version};
    hk_err e;
    int rc;
    b.ent = hk_malloc((size_t)UPGRADE_STMT_BATCH * sizeof *b.ent);
    b.keys = hk_malloc(UPGRADE_STMT_BYTES);
    if (!b.ent || !b.keys) {
        e = hk_error_set(err, HK_ERR_NOMEM, "store: out of memory upgrading %s",
                         path);
        goto done;
    }
    if ((rc = mdb_drop(txn, db->stmt, 0)) ||
        (rc = mdb_cursor_open(txn, db->stmt, &b.sc))) {
        e = lmdb_failed(err, path, rc, from_version);
        goto done;
    }
    if (!(e = walk_facts(txn, db, path, from_version, stmt_fact, &b, err)))
        e = stmt_flush(&b, err);
done:
    if (b.sc) mdb_cursor_close(b.sc);
    hk_free(b.keys);
    hk_free(b.ent);
    return e;
}

hk_err hks_upgrade(MDB_txn *txn, const hks_store_dbs *db, const char *path,
                   uint32_t from_version, uint32_t limit, hk_error *err)
{
    hk_err e;
    if (from_version < 4 &&
        (e = rebuild_by_arg(txn, db, path, from_version, limit, err)))
        return e;
    if (from_version < 5 &&
        (e = rebuild_stmt(txn, db, path, from_version, err)))
        return e;
    uint8_t v[4];
    hks_put_u32(v, HKS_SCHEMA_VERSION);
    MDB_val vk = {14, (void *)"schema_version"}, vd = {4, v};
    int rc = mdb_put(txn, db->meta, &vk, &vd, 0);
    return rc ? lmdb_failed(err, path, rc, from_version) : HK_OK;
}
