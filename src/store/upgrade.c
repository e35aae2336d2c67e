/*
 * upgrade.c — in-place upgrade of an older on-disk format, run by
 * hk_store_open inside its first write transaction.
 *
 * Version 2 -> 3 made the by_arg duplicates grow from 11 to 15 bytes (the
 * co-argument of binary facts, store_int.h); version 3 -> 4 split an
 * entity's rows over chunk keys (argidx.c). Both change every entry of
 * by_arg and nothing else, so the index is emptied and rebuilt from the
 * fact records, whatever the old version: a walk of `fact` in id order
 * collects the rows in batches, each batch is sorted by (entity, row) and
 * written with one cursor (hks_arg_write_sorted: the first batch is
 * appended in chunks of limit - 1 rows; later ones, whose rows of an
 * entity mostly follow its earlier ones, split off full chunks too), so
 * the puts land on neighbouring pages. The set of (entity, position,
 * predicate, id) entries is the one the old index had, so counters,
 * arg_multi, pstat and the data digest (records and symbols only) stay as
 * they are. Everything happens in the open's transaction: a failure
 * aborts it and leaves the KB at its old version.
 *
 * Threads: only hk_store_open calls this, before the handle is shared.
 */
#include <stdlib.h>

#include "core/mem.h"
#include "store/store_int.h"

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
    return hks_arg_write_sorted(c, chunk, n, UPGRADE_ENTRY, limit, &fresh);
}

hk_err hks_upgrade(MDB_txn *txn, const hks_store_dbs *db, const char *path,
                   uint32_t from_version, uint32_t limit, hk_error *err)
{
    MDB_cursor *fc = NULL, *ac = NULL;
    uint8_t *chunk = hk_malloc((size_t)UPGRADE_CHUNK * UPGRADE_ENTRY);
    size_t n = 0;
    hk_err e = HK_OK;
    int rc;
    if (!chunk)
        return hk_error_set(err, HK_ERR_NOMEM,
                            "store: out of memory upgrading %s", path);
    if ((rc = mdb_drop(txn, db->by_arg, 0)) ||
        (rc = mdb_cursor_open(txn, db->fact, &fc)) ||
        (rc = mdb_cursor_open(txn, db->by_arg, &ac)))
        goto lmdb;
    MDB_val k, d;
    for (rc = mdb_cursor_get(fc, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(fc, &k, &d, MDB_NEXT)) {
        hks_rec r;
        size_t kv = 0; /* native size_t key (HKS_FACT_KEY) */
        if (k.mv_size == sizeof kv) memcpy(&kv, k.mv_data, sizeof kv);
        hk_fact_id id = kv;
        if (!id || hks_rec_decode_ids(d.mv_data, d.mv_size, &r)) {
            e = hk_error_set(err, HK_ERR_CORRUPT,
                             "store: upgrading %s: record of fact %llu is "
                             "damaged; the KB stays at version %u",
                             path, (unsigned long long)id, from_version);
            goto done;
        }
        if (n + r.n_args > UPGRADE_CHUNK) {
            if ((rc = flush_chunk(ac, chunk, n, limit))) goto lmdb;
            n = 0;
        }
        for (uint32_t i = 0; i < r.n_args; i++, n++) {
            uint8_t *en = chunk + n * UPGRADE_ENTRY;
            hks_put_u32(en, r.args[i]);
            hks_arg_dup(en + 4, i, r.pred, r.n_args, r.args, id);
        }
    }
    if (rc != MDB_NOTFOUND) goto lmdb;
    if ((rc = flush_chunk(ac, chunk, n, limit))) goto lmdb;
    uint8_t v[4];
    hks_put_u32(v, HKS_SCHEMA_VERSION);
    MDB_val vk = {14, (void *)"schema_version"}, vd = {4, v};
    if ((rc = mdb_put(txn, db->meta, &vk, &vd, 0))) goto lmdb;
    goto done;
lmdb:
    e = hk_error_set(err, HK_ERR_IO,
                     "store: upgrading %s to version %u failed (%s); the KB "
                     "stays at version %u",
                     path, HKS_SCHEMA_VERSION, mdb_strerror(rc), from_version);
done:
    if (ac) mdb_cursor_close(ac);
    if (fc) mdb_cursor_close(fc);
    hk_free(chunk);
    return e;
}
