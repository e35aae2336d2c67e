/*
 * counts.c — statistics, per-predicate / per-entity counts and the
 * dictionary-ordered listings of predicates and entities.
 *
 * Counts come from LMDB's duplicate sub-trees: mdb_cursor_count on a
 * by_pred key reads the sub-tree header, so a count is one B-tree
 * descent (O(log n)) whatever the number of facts; an entity's count is
 * the sum over its by_arg chunks (one step per ~130 rows, argidx.c). An
 * entity filling
 * several positions of one fact has one by_arg entry per position; the
 * `arg_multi` table holds those extra mentions so that counts are facts,
 * not mentions.
 *
 * Listings walk `pred_names` (predicates in use, in dictionary order) or
 * `sym` (all symbols in dictionary order, skipping those no fact uses as an
 * argument). Dictionary order is byte order of the symbol key, which is the
 * string itself for names up to 480 bytes.
 *
 * hk_stats.bytes_free walks LMDB's free list (dbi 0, as `mdb_stat -f`
 * does): a few thousand small records even for a file of several GB.
 */
#include <sys/stat.h>

#include "core/mem.h"
#include "store/store_int.h"

/* Duplicates under key, using cursor c (positioned anywhere). */
static hk_err count_dups_with(hk_txn *t, MDB_cursor *c, uint32_t key,
                              uint64_t *n, hk_error *err)
{
    uint8_t kb[4];
    size_t cnt = 0;
    hks_put_u32(kb, key);
    MDB_val k = {4, kb}, d;
    int rc = mdb_cursor_get(c, &k, &d, MDB_SET);
    if (rc == 0) rc = mdb_cursor_count(c, &cnt);
    if (rc && rc != MDB_NOTFOUND)
        return hks_store_mdb_error(t, rc, err, "counting");
    *n = cnt;
    return HK_OK;
}

static hk_err count_dups(hk_txn *t, MDB_dbi dbi, uint32_t key, uint64_t *n,
                         hk_error *err)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, dbi, &c);
    if (rc) return hks_store_mdb_error(t, rc, err, "counting");
    hk_err e = count_dups_with(t, c, key, n, err);
    mdb_cursor_close(c);
    return e;
}

/* Facts mentioning ent; arg_cur, tail_cur (may be NULL) are cursors on
 * by_arg and by_arg_tail. The rows are the sum over the entity's chunks
 * and its tail (argidx.c). */
static hk_err entity_count_with(hk_txn *t, MDB_cursor *arg_cur,
                                MDB_cursor *tail_cur, uint32_t ent, uint64_t *n,
                                hk_error *err)
{
    MDB_cursor *c = arg_cur, *tc = tail_cur;
    int rc = c ? 0 : mdb_cursor_open(t->txn, t->s->db.by_arg, &c);
    if (!rc && !tc) rc = mdb_cursor_open(t->txn, t->s->db.by_arg_tail, &tc);
    if (!rc) rc = hks_arg_count(c, tc, ent, n);
    if (!arg_cur && c) mdb_cursor_close(c);
    if (!tail_cur && tc) mdb_cursor_close(tc);
    if (rc == MDB_CORRUPTED)
        return hk_error_set(err, HK_ERR_CORRUPT, "store: bad by_arg key");
    if (rc) return hks_store_mdb_error(t, rc, err, "counting");
    if (!*n) return HK_OK;
    uint8_t kb[4];
    hks_put_u32(kb, ent);
    MDB_val k = {4, kb}, d;
    rc = mdb_get(t->txn, t->s->db.arg_multi, &k, &d);
    if (rc == 0 && d.mv_size == 8) {
        uint64_t extra = hks_get_u64(d.mv_data);
        *n = extra < *n ? *n - extra : 0;
    } else if (rc && rc != MDB_NOTFOUND) {
        return hks_store_mdb_error(t, rc, err, "counting");
    }
    return HK_OK;
}

static hk_err entity_count(hk_txn *t, uint32_t ent, uint64_t *n, hk_error *err)
{
    return entity_count_with(t, NULL, NULL, ent, n, err);
}

hk_err hk_store_count_predicate(hk_txn *t, const char *predicate, uint64_t *n,
                                hk_error *err)
{
    uint32_t id;
    hk_err e;
    *n = 0;
    if ((e = hks_txn_check_read(t, err)) || (e = hks_txn_flush(t, err)))
        return e;
    if (!predicate) return hk_error_set(err, HK_ERR_INVALID, "no predicate");
    if ((e = hks_sym_lookup(t, predicate, strlen(predicate), &id, err)) || !id)
        return e;
    return count_dups(t, t->s->db.by_pred, id, n, err);
}

hk_err hk_store_count_entity(hk_txn *t, const char *entity, uint64_t *n,
                             hk_error *err)
{
    uint32_t id;
    hk_err e;
    *n = 0;
    if ((e = hks_txn_check_read(t, err)) || (e = hks_txn_flush(t, err)))
        return e;
    if (!entity) return hk_error_set(err, HK_ERR_INVALID, "no entity");
    if ((e = hks_sym_lookup(t, entity, strlen(entity), &id, err)) || !id)
        return e;
    return entity_count(t, id, n, err);
}

#define US_PER_DAY INT64_C(86400000000)
#define MAX_COUNT_DAYS 36600u

hk_err hk_store_count_created(hk_txn *t, int64_t first_day, uint32_t n_days,
                              uint64_t *per_day, hk_error *err)
{
    hk_err e;
    if ((e = hks_txn_check_read(t, err)) || (e = hks_txn_flush(t, err)))
        return e;
    if (!per_day || n_days == 0 || n_days > MAX_COUNT_DAYS)
        return hk_error_set(err, HK_ERR_INVALID, "days must be 1..%u",
                            MAX_COUNT_DAYS);
    memset(per_day, 0, n_days * sizeof *per_day);
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->s->db.fact, &c);
    if (rc) return hks_store_mdb_error(t, rc, err, "counting facts by day");
    MDB_val k, d;
    /* One pass in id order: creation times do not follow ids (imports
     * keep the times of their records). */
    for (rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        hks_rec r;
        if (!hks_val_sane(t, &d, HKS_REC_MAX_BYTES) ||
            hks_rec_decode(d.mv_data, d.mv_size, &r)) {
            mdb_cursor_close(c);
            return hk_error_set(err, HK_ERR_CORRUPT,
                                "store: a fact record is damaged");
        }
        int64_t day = r.created_us / US_PER_DAY; /* created_us >= 0 */
        if (day >= first_day && day - first_day < (int64_t)n_days)
            per_day[day - first_day]++;
    }
    mdb_cursor_close(c);
    if (rc != MDB_NOTFOUND)
        return hks_store_mdb_error(t, rc, err, "counting facts by day");
    return HK_OK;
}

hk_err hk_store_predicate_arities(hk_txn *t, const char *predicate,
                                  uint64_t counts[HK_MAX_ARGS + 1],
                                  hk_error *err)
{
    uint32_t id;
    hk_err e;
    memset(counts, 0, sizeof(uint64_t) * (HK_MAX_ARGS + 1));
    if ((e = hks_txn_check_read(t, err)) || (e = hks_txn_flush(t, err)))
        return e;
    if (!predicate) return hk_error_set(err, HK_ERR_INVALID, "no predicate");
    if ((e = hks_sym_lookup(t, predicate, strlen(predicate), &id, err)) || !id)
        return e;
    MDB_cursor *c;
    uint8_t kb[5];
    hks_put_u32(kb, id);
    kb[4] = 0;
    MDB_val k = {5, kb}, d;
    int rc = mdb_cursor_open(t->txn, t->s->db.pstat, &c);
    if (rc) return hks_store_mdb_error(t, rc, err, "reading arities");
    rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size == 5 && hks_get_u32(k.mv_data) == id) {
        uint8_t a = ((const uint8_t *)k.mv_data)[4];
        if (a <= HK_MAX_ARGS && d.mv_size == 8)
            counts[a] = hks_get_u64(d.mv_data);
        rc = mdb_cursor_get(c, &k, &d, MDB_NEXT);
    }
    mdb_cursor_close(c);
    if (rc && rc != MDB_NOTFOUND)
        return hks_store_mdb_error(t, rc, err, "reading arities");
    return HK_OK;
}

hk_err hk_store_stats(hk_txn *t, hk_stats *out, hk_error *err)
{
    hks_counters c;
    hk_err e;
    MDB_envinfo info;
    MDB_stat st;
    struct stat sb;
    if ((e = hks_txn_check_read(t, err)) || (e = hks_txn_flush(t, err)))
        return e;
    memset(out, 0, sizeof *out);
    if (t->write)
        c = t->c;
    else if ((e = hks_txn_load_counters(t, &c, err)))
        return e;
    out->facts = c.facts;
    out->predicates = c.predicates;
    out->entities = c.entities;
    out->symbols = c.next_sym_id - 1;
    out->audit_entries = c.audit_seq;
    out->last_fact_id = c.next_fact_id - 1;
    out->last_change_us = c.last_change_us;
    out->schema_version = t->s->schema_version;
    mdb_env_info(mdb_txn_env(t->txn), &info);
    mdb_env_stat(mdb_txn_env(t->txn), &st);
    out->map_size = info.me_mapsize;
    out->bytes_used = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
    if (stat(t->s->data_path, &sb) == 0)
        out->bytes_on_disk = (uint64_t)sb.st_size;
    /* LMDB refuses cursors on its free list in a write txn: a write txn
     * reads it from a snapshot of the last commit (MDB_NOTLS allows a
     * read txn beside the write txn on this thread). */
    MDB_txn *ftxn = t->txn;
    int rc = 0;
    if (t->write)
        rc = mdb_txn_begin(mdb_txn_env(t->txn), NULL, MDB_RDONLY, &ftxn);
    if (rc == 0) {
        rc = hks_free_list_bytes(ftxn, st.ms_psize, &out->bytes_free);
        if (t->write) mdb_txn_abort(ftxn);
    }
    if (rc) return hks_store_mdb_error(NULL, rc, err, "reading the free list");
    return HK_OK;
}

int hks_free_list_bytes(MDB_txn *rtxn, unsigned psize, uint64_t *bytes)
{
    /* As mdb_stat -f: each value of dbi 0 is an ID list (MDB_ID = size_t
     * words) whose first word is its length. */
    MDB_cursor *c = NULL;
    MDB_val k, d;
    uint64_t pages = 0;
    *bytes = 0;
    int rc = mdb_cursor_open(rtxn, 0, &c);
    if (rc) return rc;
    for (rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        size_t n;
        if (d.mv_size < sizeof n) {
            mdb_cursor_close(c);
            return MDB_CORRUPTED;
        }
        memcpy(&n, d.mv_data, sizeof n);
        if (n > d.mv_size / sizeof n - 1) {
            mdb_cursor_close(c);
            return MDB_CORRUPTED;
        }
        pages += n;
    }
    mdb_cursor_close(c);
    if (rc != MDB_NOTFOUND) return rc;
    *bytes = pages * psize;
    return 0;
}

/* ==== Listings ==== */

void hk_name_counts_free(hk_name_count *v, size_t n)
{
    if (!v) return;
    for (size_t i = 0; i < n; i++)
        hk_free(v[i].name);
    hk_free(v);
}

typedef struct list_state {
    hk_name_count *v; /* entries */
    size_t n;         /* used */
    size_t cap;       /* allocated */
} list_state;

static hk_err list_push(list_state *ls, hk_txn *t, uint32_t sym, uint64_t count,
                        uint32_t min_a, uint32_t max_a, hk_error *err)
{
    const char *s;
    size_t len;
    hk_err e = hks_sym_string(t, sym, &s, &len, err);
    if (e) return e;
    if (ls->n == ls->cap) {
        size_t ncap = ls->cap ? ls->cap * 2 : 64;
        hk_name_count *nv = hk_realloc(ls->v, ncap * sizeof *nv);
        if (!nv) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        ls->v = nv;
        ls->cap = ncap;
    }
    char *name = hk_strndup(s, len);
    if (!name) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    ls->v[ls->n++] = (hk_name_count){name, count, min_a, max_a};
    return HK_OK;
}

/* Positions c at the first key after `after` (or the first key). */
static int seek_after(MDB_cursor *c, const char *after, MDB_val *k, MDB_val *d,
                      uint8_t kb[HKS_SYM_KEY_MAX])
{
    if (!after || !*after) return mdb_cursor_get(c, k, d, MDB_FIRST);
    size_t klen = hks_sym_key(after, strlen(after), kb);
    k->mv_size = klen;
    k->mv_data = kb;
    int rc = mdb_cursor_get(c, k, d, MDB_SET_RANGE);
    if (rc == 0 && k->mv_size == klen && memcmp(k->mv_data, kb, klen) == 0)
        rc = mdb_cursor_get(c, k, d, MDB_NEXT);
    return rc;
}

hk_err hk_store_list_predicates(hk_txn *t, const char *after, size_t limit,
                                hk_name_count **out, size_t *n, hk_error *err)
{
    list_state ls = {0};
    MDB_cursor *c = NULL;
    MDB_val k, d;
    uint8_t kb[HKS_SYM_KEY_MAX];
    hk_err e;
    int rc;
    *out = NULL;
    *n = 0;
    if ((e = hks_txn_check_read(t, err)) || (e = hks_txn_flush(t, err)))
        return e;
    if ((rc = mdb_cursor_open(t->txn, t->s->db.pred_names, &c)))
        return hks_store_mdb_error(t, rc, err, "listing predicates");
    rc = seek_after(c, after, &k, &d, kb);
    while (rc == 0 && ls.n < limit) {
        if (d.mv_size != 4) {
            e = hk_error_set(err, HK_ERR_CORRUPT, "bad predicate entry");
            goto fail;
        }
        uint32_t sym = hks_get_u32(d.mv_data);
        uint64_t cnt;
        uint32_t mn = 0, mx = 0;
        if ((e = count_dups(t, t->s->db.by_pred, sym, &cnt, err))) goto fail;
        /* arities from pstat */
        MDB_cursor *pc;
        uint8_t pk[5];
        hks_put_u32(pk, sym);
        pk[4] = 0;
        MDB_val pkv = {5, pk}, pd;
        if ((rc = mdb_cursor_open(t->txn, t->s->db.pstat, &pc))) goto lmdb;
        int prc = mdb_cursor_get(pc, &pkv, &pd, MDB_SET_RANGE);
        while (prc == 0 && pkv.mv_size == 5 &&
               hks_get_u32(pkv.mv_data) == sym) {
            uint32_t a = ((const uint8_t *)pkv.mv_data)[4];
            if (!mn) mn = a;
            mx = a;
            prc = mdb_cursor_get(pc, &pkv, &pd, MDB_NEXT);
        }
        mdb_cursor_close(pc);
        if (prc && prc != MDB_NOTFOUND) {
            rc = prc;
            goto lmdb;
        }
        if (cnt && (e = list_push(&ls, t, sym, cnt, mn, mx, err))) goto fail;
        rc = mdb_cursor_get(c, &k, &d, MDB_NEXT);
    }
    if (rc && rc != MDB_NOTFOUND) goto lmdb;
    mdb_cursor_close(c);
    *out = ls.v;
    *n = ls.n;
    return HK_OK;
lmdb:
    e = hks_store_mdb_error(t, rc, err, "listing predicates");
fail:
    mdb_cursor_close(c);
    hk_name_counts_free(ls.v, ls.n);
    return e;
}

hk_err hk_store_list_entities(hk_txn *t, const char *after, size_t limit,
                              uint64_t min_count, hk_name_count **out,
                              size_t *n, hk_error *err)
{
    list_state ls = {0};
    MDB_cursor *c = NULL;
    MDB_val k, d;
    uint8_t kb[HKS_SYM_KEY_MAX];
    hk_err e;
    int rc;
    *out = NULL;
    *n = 0;
    if ((e = hks_txn_check_read(t, err)) || (e = hks_txn_flush(t, err)))
        return e;
    MDB_cursor *ac = NULL, *tac = NULL;
    if ((rc = mdb_cursor_open(t->txn, t->s->db.by_arg, &ac)))
        return hks_store_mdb_error(t, rc, err, "listing entities");
    if ((rc = mdb_cursor_open(t->txn, t->s->db.by_arg_tail, &tac)) ||
        (rc = mdb_cursor_open(t->txn, t->s->db.sym, &c))) {
        mdb_cursor_close(ac);
        if (tac) mdb_cursor_close(tac);
        return hks_store_mdb_error(t, rc, err, "listing entities");
    }
    rc = seek_after(c, after, &k, &d, kb);
    while (rc == 0 && ls.n < limit) {
        if (d.mv_size != 4) {
            e = hk_error_set(err, HK_ERR_CORRUPT, "bad symbol entry");
            goto fail;
        }
        uint64_t cnt;
        uint32_t sym = hks_get_u32(d.mv_data);
        if ((e = entity_count_with(t, ac, tac, sym, &cnt, err))) goto fail;
        if (cnt && cnt >= min_count &&
            (e = list_push(&ls, t, sym, cnt, 0, 0, err)))
            goto fail;
        rc = mdb_cursor_get(c, &k, &d, MDB_NEXT);
    }
    if (rc && rc != MDB_NOTFOUND) {
        e = hks_store_mdb_error(t, rc, err, "listing entities");
        goto fail;
    }
    mdb_cursor_close(c);
    mdb_cursor_close(ac);
    mdb_cursor_close(tac);
    *out = ls.v;
    *n = ls.n;
    return HK_OK;
fail:
    mdb_cursor_close(c);
    mdb_cursor_close(ac);
    mdb_cursor_close(tac);
    hk_name_counts_free(ls.v, ls.n);
    return e;
}
