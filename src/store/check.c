/*
 * check.c — a validator that walks the whole store and proves its
 * invariants: every fact's record decodes, its `stmt` entry maps back to
 * it, its `by_pred` and per-position `by_arg` entries exist, and the
 * totals of every index equal what the facts imply (so no index holds an
 * entry without a fact), as do the counters kept in `meta`, `pstat` and
 * `arg_multi`; every module database (store.h) walks from first to last
 * entry with well-formed keys. Tests call it after batches of random
 * operations; it reads everything, so it is O(n log n) and not meant for
 * hot paths.
 *
 * Runs inside any transaction (a write transaction is flushed first).
 */
#include <errno.h>
#include <stdio.h>

#include "core/mem.h"
#include "store/store_int.h"

static hk_err bad(bool *ok, char *why, size_t why_len, const char *msg,
                  unsigned long long a)
{
    *ok = false;
    if (why && why_len) snprintf(why, why_len, msg, a);
    return HK_OK;
}

/* Entries and distinct keys of a database. */
static int count_db(MDB_txn *txn, MDB_dbi dbi, uint64_t *entries,
                    uint64_t *keys, uint64_t *sum_u64)
{
    MDB_cursor *c;
    MDB_val k, d;
    int rc = mdb_cursor_open(txn, dbi, &c);
    if (rc) return rc;
    *entries = *keys = 0;
    if (sum_u64) *sum_u64 = 0;
    for (rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT_NODUP)) {
        size_t n = 1;
        (*keys)++;
        if ((rc = mdb_cursor_count(c, &n)) == MDB_INCOMPATIBLE || rc == EINVAL)
            n = 1, rc = 0; /* not a DUPSORT database */
        else if (rc)
            break;
        *entries += n;
        if (sum_u64 && d.mv_size == 8) *sum_u64 += hks_get_u64(d.mv_data);
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* by_arg (argidx.c): rows, distinct entities, and the chunk invariant
 * (every row >= its chunk's start, an entity's rows rising across its
 * chunks); *bad_ent is 1 + the first entity breaking it, 0 when none. A
 * key that is not 4 or 19 bytes or a row that is not 15 is
 * MDB_CORRUPTED. */
static int count_args(MDB_txn *txn, MDB_dbi dbi, uint64_t *rows, uint64_t *ents,
                      uint64_t *bad_ent)
{
    MDB_cursor *c;
    MDB_val k, d;
    uint8_t prev[HKS_ARG_KEY_BYTES];
    bool have_prev = false;
    int rc = mdb_cursor_open(txn, dbi, &c);
    if (rc) return rc;
    *rows = *ents = *bad_ent = 0;
    for (rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        static const uint8_t zero[HKS_ARG_DUP_BYTES];
        if ((k.mv_size != 4 && k.mv_size != HKS_ARG_KEY_BYTES) ||
            d.mv_size != HKS_ARG_DUP_BYTES) {
            rc = MDB_CORRUPTED;
            break;
        }
        const uint8_t *kb = k.mv_data, *v = d.mv_data;
        const uint8_t *start = k.mv_size == 4 ? zero : kb + 4;
        bool same = have_prev && memcmp(prev, kb, 4) == 0;
        if (!same) (*ents)++;
        (*rows)++;
        if (!*bad_ent &&
            (memcmp(v, start, HKS_ARG_DUP_BYTES) < 0 ||
             (same && memcmp(prev + 4, v, HKS_ARG_DUP_BYTES) >= 0)))
            *bad_ent = 1 + (uint64_t)hks_get_u32(kb);
        memcpy(prev, kb, 4);
        memcpy(prev + 4, v, HKS_ARG_DUP_BYTES);
        have_prev = true;
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Walks module database m entry by entry: keys of 1..511 bytes (4 or 8
 * with integer keys), values of one size per key in a DUPFIXED database,
 * and as many entries as LMDB's own count says. *bad_at names the first
 * problem ("" when none). */
static int check_module_db(MDB_txn *txn, const hks_module_db *m, char *bad_at,
                           size_t bad_len)
{
    MDB_cursor *c;
    MDB_val k, d;
    MDB_stat st;
    uint64_t n = 0;
    bool dup = (m->flags & HKS_DB_DUPSORT) != 0;
    bad_at[0] = 0;
    int rc = mdb_stat(txn, m->dbi, &st);
    if (rc || (rc = mdb_cursor_open(txn, m->dbi, &c))) return rc;
    for (rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); rc == 0 && !bad_at[0];
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT_NODUP)) {
        if (k.mv_size == 0 || k.mv_size > HKS_KEY_MAX ||
            ((m->flags & HKS_DB_INTEGERKEY) && k.mv_size != 4 &&
             k.mv_size != 8)) {
            snprintf(bad_at, bad_len, "a key of %zu bytes", k.mv_size);
            break;
        }
        n++;
        if (!dup) continue;
        /* the key's further values, each of the first one's size when
         * DUPFIXED */
        size_t size = d.mv_size;
        while ((rc = mdb_cursor_get(c, &k, &d, MDB_NEXT_DUP)) == 0) {
            n++;
            if ((m->flags & HKS_DB_DUPFIXED) && d.mv_size != size) {
                snprintf(bad_at, bad_len, "values of %zu and %zu bytes", size,
                         d.mv_size);
                break;
            }
        }
        if (rc && rc != MDB_NOTFOUND) break;
        rc = 0;
    }
    mdb_cursor_close(c);
    if (bad_at[0]) return 0;
    if (rc != MDB_NOTFOUND) return rc;
    if (n != st.ms_entries)
        snprintf(bad_at, bad_len, "%llu entries walked, %llu counted",
                 (unsigned long long)n, (unsigned long long)st.ms_entries);
    return 0;
}

hk_err hks_store_check(hk_txn *t, bool *ok, char *why, size_t why_len,
                       hk_error *err)
{
    hks_counters c;
    MDB_cursor *fc = NULL;
    MDB_val k, d;
    uint64_t n_facts = 0, n_mentions = 0, n_repeats = 0;
    hk_err e;
    int rc;

    *ok = true;
    if (why && why_len) why[0] = 0;
    if ((e = hks_txn_check_read(t, err)) || (e = hks_txn_sync(t, err)))
        return e;
    if (t->write)
        c = t->c;
    else if ((e = hks_txn_load_counters(t, &c, err)))
        return e;
    const hks_store_dbs *db = &t->s->db;
    if ((rc = mdb_cursor_open(t->txn, db->fact, &fc))) goto lmdb;
    for (rc = mdb_cursor_get(fc, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(fc, &k, &d, MDB_NEXT)) {
        hks_rec r;
        hk_fact_id id = hks_fact_key_id(&k);
        if (hks_rec_decode(d.mv_data, d.mv_size, &r)) {
            mdb_cursor_close(fc);
            return bad(ok, why, why_len, "fact %llu: record does not decode",
                       (unsigned long long)id);
        }
        n_facts++;
        n_mentions += r.n_args;
        /* stmt -> this id */
        uint8_t sk[HKS_STMT_KEY_MAX];
        MDB_val skv = {hks_stmt_key(r.pred, r.n_args, r.args, sk), sk}, sv;
        uint64_t sid = 0;
        rc = mdb_get(t->txn, db->stmt, &skv, &sv);
        if (rc == MDB_NOTFOUND ||
            (rc == 0 &&
             (!hks_varint_exact(sv.mv_data, sv.mv_size, &sid) || sid != id))) {
            mdb_cursor_close(fc);
            return bad(ok, why, why_len,
                       "fact %llu: stmt entry missing or names another id",
                       (unsigned long long)id);
        }
        if (rc) goto lmdb;
        /* by_pred (pred, id) */
        uint8_t pk[4], idb[HKS_ID_BYTES];
        hks_put_u32(pk, r.pred);
        hks_put_u48(idb, id);
        MDB_val pkv = {4, pk}, pv = {HKS_ID_BYTES, idb};
        MDB_cursor *pc;
        if ((rc = mdb_cursor_open(t->txn, db->by_pred, &pc))) goto lmdb;
        rc = mdb_cursor_get(pc, &pkv, &pv, MDB_GET_BOTH);
        mdb_cursor_close(pc);
        if (rc == MDB_NOTFOUND) {
            mdb_cursor_close(fc);
            return bad(ok, why, why_len, "fact %llu: by_pred entry missing",
                       (unsigned long long)id);
        }
        if (rc) goto lmdb;
        /* by_arg (arg, pos, pred, id, co-argument) for every position */
        MDB_cursor *ac, *tac;
        if ((rc = mdb_cursor_open(t->txn, db->by_arg, &ac))) goto lmdb;
        if ((rc = mdb_cursor_open(t->txn, db->by_arg_tail, &tac))) {
            mdb_cursor_close(ac);
            goto lmdb;
        }
        for (uint32_t i = 0; i < r.n_args && rc == 0; i++) {
            uint8_t dup[HKS_ARG_DUP_BYTES];
            const uint8_t *row = NULL;
            hks_argit it;
            hks_arg_dup(dup, i, r.pred, r.n_args, r.args, id);
            rc = hks_argit_seek(&it, NULL, ac, tac, r.args[i], dup);
            if (!rc) rc = hks_argit_next(&it, &row);
            if (!rc && memcmp(row, dup, HKS_ARG_DUP_BYTES) != 0)
                rc = MDB_NOTFOUND;
            for (uint32_t j = 0; j < i; j++)
                if (r.args[j] == r.args[i]) {
                    n_repeats++;
                    break;
                }
        }
        mdb_cursor_close(ac);
        mdb_cursor_close(tac);
        if (rc == MDB_NOTFOUND) {
            mdb_cursor_close(fc);
            return bad(ok, why, why_len, "fact %llu: by_arg entry missing",
                       (unsigned long long)id);
        }
        if (rc) goto lmdb;
    }
    mdb_cursor_close(fc);
    fc = NULL;
    if (rc != MDB_NOTFOUND) goto lmdb;

    /* Totals: every index entry belongs to a fact (counts match), and the
     * counters agree. */
    uint64_t entries, keys, sum, chunk_bad = 0;
    if (c.facts != n_facts)
        return bad(ok, why, why_len, "facts counter says %llu",
                   (unsigned long long)c.facts);
    if ((rc = count_db(t->txn, db->stmt, &entries, &keys, NULL))) goto lmdb;
    if (entries != n_facts)
        return bad(ok, why, why_len, "stmt has %llu entries",
                   (unsigned long long)entries);
    if ((rc = count_db(t->txn, db->by_pred, &entries, &keys, NULL))) goto lmdb;
    if (entries != n_facts)
        return bad(ok, why, why_len, "by_pred has %llu entries",
                   (unsigned long long)entries);
    if (keys != c.predicates)
        return bad(ok, why, why_len, "by_pred has %llu keys (counter differs)",
                   (unsigned long long)keys);
    if ((rc = count_db(t->txn, db->pred_names, &entries, &keys, NULL)))
        goto lmdb;
    if (keys != c.predicates)
        return bad(ok, why, why_len, "pred_names has %llu names",
                   (unsigned long long)keys);
    if ((rc = count_args(t->txn, db->by_arg, &entries, &keys, &chunk_bad)))
        goto lmdb;
    if (chunk_bad)
        return bad(ok, why, why_len,
                   "by_arg: a row of entity %llu is out of its chunk's range",
                   (unsigned long long)(chunk_bad - 1));
    {
        /* tails: their invariant, and their rows count as by_arg's */
        MDB_cursor *ac, *tac;
        uint64_t tail_rows = 0, tail_bad = 0;
        if ((rc = mdb_cursor_open(t->txn, db->by_arg, &ac))) goto lmdb;
        if ((rc = mdb_cursor_open(t->txn, db->by_arg_tail, &tac))) {
            mdb_cursor_close(ac);
            goto lmdb;
        }
        rc = hks_arg_tail_check(ac, tac, &tail_rows, &tail_bad);
        mdb_cursor_close(ac);
        mdb_cursor_close(tac);
        if (rc) goto lmdb;
        if (tail_bad)
            return bad(ok, why, why_len,
                       "by_arg_tail: the tail of entity %llu breaks its "
                       "invariant",
                       (unsigned long long)(tail_bad - 1));
        entries += tail_rows;
    }
    if (entries != n_mentions)
        return bad(ok, why, why_len, "by_arg has %llu entries",
                   (unsigned long long)entries);
    if (keys != c.entities)
        return bad(ok, why, why_len,
                   "by_arg has %llu entities (counter differs)",
                   (unsigned long long)keys);
    if ((rc = count_db(t->txn, db->pstat, &entries, &keys, &sum))) goto lmdb;
    if (sum != n_facts)
        return bad(ok, why, why_len, "pstat counts sum to %llu",
                   (unsigned long long)sum);
    if ((rc = count_db(t->txn, db->arg_multi, &entries, &keys, &sum)))
        goto lmdb;
    if (sum != n_repeats)
        return bad(ok, why, why_len, "arg_multi sums to %llu",
                   (unsigned long long)sum);
    if ((rc = count_db(t->txn, db->sym, &entries, &keys, NULL))) goto lmdb;
    uint64_t n_sym = entries;
    if ((rc = count_db(t->txn, db->sym_id, &entries, &keys, NULL))) goto lmdb;
    if (entries != n_sym || n_sym != c.next_sym_id - 1)
        return bad(ok, why, why_len, "dictionary has %llu / %llu symbols",
                   (unsigned long long)n_sym);
    /* Module databases (store.h): their content is the module's, their
     * structure the store's. */
    for (uint32_t i = 0; i < t->s->n_mod; i++) {
        char bad_at[128];
        if ((rc =
                 check_module_db(t->txn, &t->s->mod[i], bad_at, sizeof bad_at)))
            goto lmdb;
        if (bad_at[0]) {
            *ok = false;
            if (why && why_len)
                snprintf(why, why_len, "module database '%s': %s",
                         t->s->mod[i].name, bad_at);
            return HK_OK;
        }
    }
    return HK_OK;
lmdb:
    if (fc) mdb_cursor_close(fc);
    return hks_store_mdb_error(t, rc, err, "checking the store");
}
