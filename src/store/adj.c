/*
 * adj.c — symbols and adjacency by symbol id for the graph engine and
 * other modules (store.h), without strings on the hot path.
 *
 * An entity's mentions are its `by_arg` rows, 15 bytes each (position u8,
 * predicate u32 BE, fact id u48 BE, co-argument u32 BE), sorted by
 * position, predicate and id over the entity's chunk keys (argidx.c):
 * hks_adj_open seeks the chunk iterator to the first row wanted (a 5-byte
 * or 1-byte prefix) and hks_adj_next walks the rows until the prefix
 * changes, so a (position, predicate) slice costs one seek. Counts are
 * the sum of the chunks' duplicate counts (hks_arg_count).
 *
 * Write transactions queue index entries (pending.c); every function here
 * flushes them first, so a hook sees the facts of its own transaction.
 * Threads: as hk_txn (one thread at a time per txn).
 */
#include "core/mem.h"
#include "store/store_int.h"

/* ==== Symbols ==== */

hk_err hks_sym_id(hk_txn *t, const char *s, size_t len, uint32_t *id,
                  hk_error *err)
{
    hk_err e;
    if (!id) return hk_error_set(err, HK_ERR_INVALID, "store: no id to fill");
    *id = 0;
    if ((e = hks_txn_check_read(t, err))) return e;
    if (!s || len == 0 || len > HK_MAX_ARG_BYTES)
        return hk_error_set(err, HK_ERR_NOT_FOUND, "store: no such symbol");
    if ((e = hks_sym_lookup(t, s, len, id, err))) return e;
    if (!*id)
        return hk_error_set(err, HK_ERR_NOT_FOUND, "store: no symbol '%.*s'",
                            (int)(len > 80 ? 80 : len), s);
    return HK_OK;
}

hk_err hks_sym_max(hk_txn *t, uint32_t *max, hk_error *err)
{
    hk_err e;
    hks_counters c;
    if (!max) return hk_error_set(err, HK_ERR_INVALID, "store: no max");
    *max = 0;
    if ((e = hks_txn_check_read(t, err))) return e;
    if (t->write) {
        *max = (uint32_t)(t->c.next_sym_id - 1);
        return HK_OK;
    }
    if ((e = hks_txn_load_counters(t, &c, err))) return e;
    *max = (uint32_t)(c.next_sym_id - 1);
    return HK_OK;
}

hk_err hks_sym_str(hk_txn *t, uint32_t id, const char **s, size_t *len,
                   hk_error *err)
{
    hk_err e;
    if ((e = hks_txn_check_read(t, err))) return e;
    if (!s || !len) return hk_error_set(err, HK_ERR_INVALID, "store: no out");
    if (!id) return hk_error_set(err, HK_ERR_NOT_FOUND, "store: no symbol 0");
    /* through the shared id -> string cache: joins decode the same hub
     * entities and predicates over and over */
    return hks_sym_string_or(t, id, HK_ERR_NOT_FOUND, s, len, err);
}

/* ==== Facts as symbol ids ==== */

hk_err hks_fact_syms_get(hk_txn *t, hk_fact_id id, hks_fact_syms *out,
                         hk_error *err)
{
    hk_err e;
    hks_rec r;
    if ((e = hks_txn_check_read(t, err))) return e;
    if (!out) return hk_error_set(err, HK_ERR_INVALID, "store: no out");
    HKS_FACT_KEY(k, id);
    MDB_val d;
    int rc = mdb_get(t->txn, t->s->db.fact, &k, &d);
    if (rc == MDB_NOTFOUND)
        return hk_error_set(err, HK_ERR_NOT_FOUND, "no fact with id %llu",
                            (unsigned long long)id);
    if (rc) return hks_store_mdb_error(t, rc, err, "reading a fact");
    if (!hks_val_sane(t, &d, HKS_REC_MAX_BYTES) ||
        hks_rec_decode_ids(d.mv_data, d.mv_size, &r))
        return hk_error_set(err, HK_ERR_CORRUPT,
                            "store: record of fact %llu is damaged",
                            (unsigned long long)id);
    out->pred = r.pred;
    out->n_args = r.n_args;
    memcpy(out->args, r.args, r.n_args * sizeof r.args[0]);
    return HK_OK;
}

hk_err hks_facts_syms_scan(hk_txn *t, hks_syms_fn fn, void *ud, hk_error *err)
{
    hk_err e;
    MDB_cursor *c = NULL;
    if ((e = hks_txn_check_read(t, err)) || (e = hks_txn_sync(t, err)))
        return e;
    int rc = mdb_cursor_open(t->txn, t->s->db.fact, &c);
    if (rc) return hks_store_mdb_error(t, rc, err, "scanning facts");
    MDB_val k, d;
    /* bounded by the fact records: each pass consumes one */
    rc = mdb_cursor_get(c, &k, &d, MDB_FIRST);
    while (rc == 0) {
        hks_rec r;
        hk_fact_id id = hks_fact_key_id(&k);
        if (!hks_val_sane(t, &d, HKS_REC_MAX_BYTES) ||
            hks_rec_decode_ids(d.mv_data, d.mv_size, &r)) {
            e = hk_error_set(err, HK_ERR_CORRUPT,
                             "store: record of fact %llu is damaged",
                             (unsigned long long)id);
            break;
        }
        hks_fact_syms fs;
        fs.pred = r.pred;
        fs.n_args = r.n_args;
        memcpy(fs.args, r.args, r.n_args * sizeof r.args[0]);
        if ((e = fn(ud, id, &fs, err))) break;
        rc = mdb_cursor_get(c, &k, &d, MDB_NEXT);
    }
    if (!e && rc != MDB_NOTFOUND)
        e = hks_store_mdb_error(t, rc, err, "scanning facts");
    mdb_cursor_close(c);
    return e;
}

hk_err hks_entities_scan(hk_txn *t, hks_entity_fn fn, void *ud, hk_error *err)
{
    hk_err e;
    MDB_cursor *ac = NULL, *sc = NULL;
    if ((e = hks_txn_check_read(t, err)) || (e = hks_txn_sync(t, err)))
        return e;
    int rc = mdb_cursor_open(t->txn, t->s->db.by_arg, &ac);
    if (!rc) rc = mdb_cursor_open(t->txn, t->s->db.sym_id, &sc);
    if (rc) {
        if (ac) mdb_cursor_close(ac);
        return hks_store_mdb_error(t, rc, err, "scanning entities");
    }
    MDB_val sk = {0, NULL}, sd = {0, NULL};
    uint32_t sid = 0; /* id under sc; 0: not positioned yet */
    uint32_t ent = 0;
    /* Both key orders are ascending symbol ids: sc only moves forward,
     * so the loop is bounded by by_arg's entities plus the dictionary. */
    rc = hks_arg_next_entity(ac, true, 0, &ent);
    while (rc == 0) {
        int src = 0;
        if (sid == 0) {
            HKS_SYM_ID_KEY(ik, ent);
            sk = ik;
            src = mdb_cursor_get(sc, &sk, &sd, MDB_SET_RANGE);
            if (src == 0) memcpy(&sid, sk.mv_data, sizeof sid);
        }
        while (src == 0 && sid < ent) {
            src = mdb_cursor_get(sc, &sk, &sd, MDB_NEXT);
            if (src == 0) memcpy(&sid, sk.mv_data, sizeof sid);
        }
        if (src && src != MDB_NOTFOUND) {
            rc = src;
            break;
        }
        if (src || sid != ent) {
            e = hk_error_set(err, HK_ERR_CORRUPT, "store: symbol %u is missing",
                             ent);
            break;
        }
        if (!sd.mv_size || !hks_val_sane(t, &sd, HK_MAX_ARG_BYTES)) {
            e = hk_error_set(err, HK_ERR_CORRUPT,
                             "store: symbol %u is damaged (%zu bytes)", ent,
                             sd.mv_size);
            break;
        }
        if ((e = fn(ud, ent, sd.mv_data, sd.mv_size, err))) break;
        rc = hks_arg_next_entity(ac, false, ent, &ent);
    }
    if (!e && rc == MDB_CORRUPTED)
        e = hk_error_set(err, HK_ERR_CORRUPT, "store: bad by_arg key");
    else if (!e && rc && rc != MDB_NOTFOUND)
        e = hks_store_mdb_error(t, rc, err, "scanning entities");
    mdb_cursor_close(sc);
    mdb_cursor_close(ac);
    return e;
}

hk_err hks_pred_syms_scan(hk_txn *t, uint32_t pred, hks_syms_fn fn, void *ud,
                          hk_error *err)
{
    hks_pred_walk *w = NULL;
    hk_err e = hks_pred_open(t, pred, HKS_PRED_BY_KEY, &w, err);
    /* bounded by the predicate's statements: each pass consumes one */
    while (e == HK_OK) {
        hk_fact_id id;
        hks_fact_syms fs;
        bool has = false;
        e = hks_pred_next(w, &id, &fs, &has, err);
        if (e != HK_OK || !has) break;
        e = fn(ud, id, &fs, err);
    }
    hks_pred_close(w);
    return e;
}

/* ==== Adjacency ==== */

struct hks_adj {
    hk_txn *t;                       /* the txn it was opened in */
    MDB_cursor *c;                   /* cursor on by_arg */
    MDB_cursor *tc;                  /* cursor on by_arg_tail */
    hks_argit it;                    /* walk of the entity's chunks */
    uint32_t ent;                    /* the entity */
    uint8_t seek[HKS_ARG_DUP_BYTES]; /* first row wanted (prefix) */
    size_t prefix; /* bytes of seek every row must share: 0 (any
                      position), 1 (position) or 5 (+ predicate) */
    bool started;  /* the first row was read */
    bool done;     /* past the last row */
};

hk_err hks_adj_open(hk_txn *t, uint32_t entity, int pos, uint32_t pred,
                    hks_adj **out, hk_error *err)
{
    hk_err e;
    if (!out) return hk_error_set(err, HK_ERR_INVALID, "store: no out");
    *out = NULL;
    if ((e = hks_txn_check_read(t, err))) return e;
    if (pos >= (int)HK_MAX_ARGS || (pred && pos < 0))
        return hk_error_set(err, HK_ERR_INVALID,
                            "store: adjacency needs a position 0..%u (and "
                            "one for a predicate), not %d",
                            HK_MAX_ARGS - 1, pos);
    if ((e = hks_txn_sync(t, err))) return e;
    hks_adj *a = hk_calloc(1, sizeof *a);
    if (!a) return hk_error_set(err, HK_ERR_NOMEM, "store: out of memory");
    int rc = mdb_cursor_open(t->txn, t->s->db.by_arg, &a->c);
    if (!rc && (rc = mdb_cursor_open(t->txn, t->s->db.by_arg_tail, &a->tc)))
        mdb_cursor_close(a->c);
    if (rc) {
        hk_free(a);
        return hks_store_mdb_error(t, rc, err, "opening adjacency");
    }
    a->t = t;
    a->ent = entity;
    if (pos >= 0) {
        a->seek[0] = (uint8_t)pos;
        a->prefix = 1;
        if (pred) {
            hks_put_u32(a->seek + 1, pred);
            a->prefix = 5;
        }
    }
    *out = a;
    return HK_OK;
}

hk_err hks_adj_next(hks_adj *a, hks_adj_row *row, bool *has_row, hk_error *err)
{
    hk_err e;
    const uint8_t *p = NULL;
    int rc;
    if (!a || !row || !has_row)
        return hk_error_set(err, HK_ERR_INVALID, "store: no adjacency");
    *has_row = false;
    if (a->done) return HK_OK;
    if ((e = hks_txn_check_read(a->t, err))) return e;
    if (!a->started) {
        rc = hks_argit_seek(&a->it, a->t, a->c, a->tc, a->ent, a->seek);
        a->started = true;
        if (!rc) rc = hks_argit_next(&a->it, &p);
    } else {
        rc = hks_argit_next(&a->it, &p);
    }
    if (rc == MDB_NOTFOUND) {
        a->done = true;
        return HK_OK;
    }
    if (rc == MDB_CORRUPTED)
        return hk_error_set(err, HK_ERR_CORRUPT,
                            "store: damaged by_arg entry of entity %u", a->ent);
    if (rc) return hks_store_mdb_error(a->t, rc, err, "reading adjacency");
    if (a->prefix && memcmp(p, a->seek, a->prefix) != 0) {
        a->done = true;
        return HK_OK;
    }
    row->pos = p[0];
    row->pred = hks_get_u32(p + 1);
    row->fact = hks_get_u48(p + 5);
    row->co = hks_get_u32(p + 5 + HKS_ID_BYTES);
    *has_row = true;
    return HK_OK;
}

void hks_adj_close(hks_adj *a)
{
    if (!a) return;
    mdb_cursor_close(a->c);
    mdb_cursor_close(a->tc);
    hk_free(a);
}

/* ==== Facts of a predicate ====
 *
 * Two orders over the same facts. By id: the by_pred ids a leaf page at a
 * time (MDB_GET_MULTIPLE of the DUPFIXED duplicates), each record through
 * a forward cursor on `fact`. By key: the `stmt` keys of the predicate,
 * which are the codes of the predicate and the arguments (store_int.h);
 * the code is prefix-free, so the facts of one predicate are the keys
 * that start with its code, one sequential range that holds every
 * symbol: no record is read, which is several times cheaper per fact. */

struct hks_pred_walk {
    hk_txn *t;            /* the txn it was opened in */
    hks_pred_order order; /* by id or by statement key */
    uint32_t pred;        /* the predicate's symbol id */
    MDB_cursor *pc;       /* by id: cursor on by_pred; by key: on stmt */
    MDB_cursor *fc;       /* by id: cursor on fact */
    uint8_t key[5];       /* by id: predicate u32 BE; by key: its code */
    size_t key_len;       /* bytes of key */
    const uint8_t *ids;   /* by id: current page of ids (u48 BE each) */
    size_t n_ids, i;      /* ids on it, next one */
    bool started, done;   /* first page or key read; past the last fact */
};

hk_err hks_pred_open(hk_txn *t, uint32_t pred, hks_pred_order order,
                     hks_pred_walk **out, hk_error *err)
{
    hk_err e;
    if (!out) return hk_error_set(err, HK_ERR_INVALID, "store: no out");
    *out = NULL;
    if (order != HKS_PRED_BY_ID && order != HKS_PRED_BY_KEY)
        return hk_error_set(err, HK_ERR_INVALID, "store: no such order %d",
                            (int)order);
    if ((e = hks_txn_check_read(t, err)) || (e = hks_txn_sync(t, err)))
        return e;
    hks_pred_walk *w = hk_calloc(1, sizeof *w);
    if (!w) return hk_error_set(err, HK_ERR_NOMEM, "store: out of memory");
    w->t = t;
    w->order = order;
    w->pred = pred;
    int rc;
    if (order == HKS_PRED_BY_ID) {
        rc = mdb_cursor_open(t->txn, t->s->db.by_pred, &w->pc);
        if (!rc) rc = mdb_cursor_open(t->txn, t->s->db.fact, &w->fc);
        hks_put_u32(w->key, pred);
        w->key_len = 4;
    } else {
        rc = mdb_cursor_open(t->txn, t->s->db.stmt, &w->pc);
        w->key_len = hks_symkey_put(w->key, pred);
    }
    if (rc) {
        hks_pred_close(w);
        return hks_store_mdb_error(t, rc, err, "opening a predicate walk");
    }
    *out = w;
    return HK_OK;
}

/* Loads the next page of ids (MDB_GET_MULTIPLE / MDB_NEXT_MULTIPLE of the
 * DUPFIXED by_pred). 0, MDB_NOTFOUND at the end, or an LMDB error. */
static int pred_page(hks_pred_walk *w)
{
    MDB_val k = {4, w->key}, d;
    int rc;
    if (!w->started) {
        w->started = true;
        rc = mdb_cursor_get(w->pc, &k, &d, MDB_SET);
        if (!rc) rc = mdb_cursor_get(w->pc, &k, &d, MDB_GET_MULTIPLE);
    } else {
        rc = mdb_cursor_get(w->pc, &k, &d, MDB_NEXT_MULTIPLE);
    }
    if (rc) return rc;
    if (d.mv_size % HKS_ID_BYTES) return MDB_CORRUPTED;
    w->ids = d.mv_data;
    w->n_ids = d.mv_size / HKS_ID_BYTES;
    w->i = 0;
    return 0;
}

static hk_err next_by_id(hks_pred_walk *w, hk_fact_id *id, hks_fact_syms *fs,
                         bool *has_row, hk_error *err)
{
    /* bounded by the predicate's ids: each pass consumes one */
    while (!w->done) {
        if (w->i == w->n_ids) {
            int rc = pred_page(w);
            if (rc == MDB_NOTFOUND) {
                w->done = true;
                return HK_OK;
            }
            if (rc)
                return hks_store_mdb_error(w->t, rc, err,
                                           "reading a predicate's facts");
            if (w->n_ids == 0) continue;
        }
        hk_fact_id fid = hks_get_u48(w->ids + w->i++ * HKS_ID_BYTES);
        HKS_FACT_KEY(k, fid);
        MDB_val d;
        int rc = mdb_cursor_get(w->fc, &k, &d, MDB_SET_KEY);
        if (rc == MDB_NOTFOUND) continue; /* index without record: verify */
        if (rc) return hks_store_mdb_error(w->t, rc, err, "reading a fact");
        hks_rec r;
        if (!hks_val_sane(w->t, &d, HKS_REC_MAX_BYTES) ||
            hks_rec_decode_ids(d.mv_data, d.mv_size, &r))
            return hk_error_set(err, HK_ERR_CORRUPT,
                                "store: record of fact %llu is damaged",
                                (unsigned long long)fid);
        fs->pred = r.pred;
        fs->n_args = r.n_args;
        memcpy(fs->args, r.args, r.n_args * sizeof r.args[0]);
        *id = fid;
        *has_row = true;
        return HK_OK;
    }
    return HK_OK;
}

static hk_err next_by_key(hks_pred_walk *w, hk_fact_id *id, hks_fact_syms *fs,
                          bool *has_row, hk_error *err)
{
    MDB_val k = {w->key_len, w->key}, d;
    int rc =
        mdb_cursor_get(w->pc, &k, &d, w->started ? MDB_NEXT : MDB_SET_RANGE);
    w->started = true;
    if (rc == MDB_NOTFOUND) {
        w->done = true;
        return HK_OK;
    }
    if (rc) return hks_store_mdb_error(w->t, rc, err, "scanning statements");
    const uint8_t *p = k.mv_data;
    size_t pl = w->key_len;
    if (k.mv_size < pl || memcmp(p, w->key, pl) != 0) {
        w->done = true;
        return HK_OK;
    }
    fs->pred = w->pred;
    fs->n_args = 0;
    size_t off = pl;
    bool ok = true;
    /* bounded by the key's bytes: each pass consumes at least one */
    while (ok && off < k.mv_size) {
        uint32_t v;
        if (fs->n_args == HK_MAX_ARGS ||
            !hks_symkey_get(p, k.mv_size, &off, &v)) {
            ok = false;
            break;
        }
        fs->args[fs->n_args++] = v;
    }
    uint64_t fid = 0;
    if (!ok || fs->n_args == 0 ||
        !hks_varint_exact(d.mv_data, d.mv_size, &fid) || fid == 0 ||
        fid > HKS_MAX_FACT_ID)
        return hk_error_set(err, HK_ERR_CORRUPT,
                            "store: a statement key of predicate %u is "
                            "damaged",
                            w->pred);
    *id = fid;
    *has_row = true;
    return HK_OK;
}

hk_err hks_pred_next(hks_pred_walk *w, hk_fact_id *id, hks_fact_syms *fs,
                     bool *has_row, hk_error *err)
{
    hk_err e;
    if (!w || !id || !fs || !has_row)
        return hk_error_set(err, HK_ERR_INVALID, "store: no predicate walk");
    *has_row = false;
    if (w->done) return HK_OK;
    if ((e = hks_txn_check_read(w->t, err))) return e;
    return w->order == HKS_PRED_BY_ID ? next_by_id(w, id, fs, has_row, err)
                                      : next_by_key(w, id, fs, has_row, err);
}

void hks_pred_close(hks_pred_walk *w)
{
    if (!w) return;
    if (w->pc) mdb_cursor_close(w->pc);
    if (w->fc) mdb_cursor_close(w->fc);
    hk_free(w);
}

/* ==== Counts ==== */

/* Duplicates of the 4-byte key in dbi. */
static hk_err dups(hk_txn *t, MDB_dbi dbi, uint32_t key, uint64_t *n,
                   hk_error *err)
{
    MDB_cursor *c;
    uint8_t kb[4];
    size_t cnt = 0;
    hks_put_u32(kb, key);
    MDB_val k = {4, kb}, d;
    int rc = mdb_cursor_open(t->txn, dbi, &c);
    if (rc) return hks_store_mdb_error(t, rc, err, "counting");
    rc = mdb_cursor_get(c, &k, &d, MDB_SET);
    if (rc == 0) rc = mdb_cursor_count(c, &cnt);
    mdb_cursor_close(c);
    if (rc && rc != MDB_NOTFOUND)
        return hks_store_mdb_error(t, rc, err, "counting");
    *n = cnt;
    return HK_OK;
}

/* Rows of entity in by_arg (hks_arg_count_upto: exact up to upto) into
 * *m, and with extra (may be NULL) the mentions beyond the first of facts
 * that name it more than once (arg_multi). */
static hk_err arg_rows(hk_txn *t, uint32_t entity, uint64_t upto, uint64_t *m,
                       uint64_t *extra, hk_error *err)
{
    hk_err e;
    *m = 0;
    if (extra) *extra = 0;
    if ((e = hks_txn_check_read(t, err)) || (e = hks_txn_sync(t, err)))
        return e;
    if (extra) {
        uint8_t kb[4];
        hks_put_u32(kb, entity);
        MDB_val k = {4, kb}, d;
        int rc = mdb_get(t->txn, t->s->db.arg_multi, &k, &d);
        if (rc == 0 && d.mv_size == 8)
            *extra = hks_get_u64(d.mv_data);
        else if (rc && rc != MDB_NOTFOUND)
            return hks_store_mdb_error(t, rc, err, "counting");
        /* the bound is on facts */
        upto = upto > UINT64_MAX - *extra ? UINT64_MAX : upto + *extra;
    }
    MDB_cursor *c, *tc = NULL;
    int rc = mdb_cursor_open(t->txn, t->s->db.by_arg, &c);
    if (rc) return hks_store_mdb_error(t, rc, err, "counting");
    rc = mdb_cursor_open(t->txn, t->s->db.by_arg_tail, &tc);
    if (!rc) rc = hks_arg_count_upto(c, tc, entity, upto, m);
    mdb_cursor_close(c);
    if (tc) mdb_cursor_close(tc);
    if (rc == MDB_CORRUPTED)
        return hk_error_set(err, HK_ERR_CORRUPT, "store: bad by_arg key");
    if (rc) return hks_store_mdb_error(t, rc, err, "counting");
    return HK_OK;
}

hk_err hks_entity_count(hk_txn *t, uint32_t entity, uint64_t *mentions,
                        uint64_t *facts, hk_error *err)
{
    uint64_t m = 0, extra = 0;
    hk_err e = arg_rows(t, entity, UINT64_MAX, &m, facts ? &extra : NULL, err);
    if (e) return e;
    if (mentions) *mentions = m;
    if (facts) *facts = extra < m ? m - extra : 0;
    return HK_OK;
}

hk_err hks_entity_count_upto(hk_txn *t, uint32_t entity, uint64_t upto,
                             uint64_t *facts, hk_error *err)
{
    uint64_t m = 0, extra = 0;
    if (!facts) return hk_error_set(err, HK_ERR_INVALID, "store: no out");
    *facts = 0;
    hk_err e = arg_rows(t, entity, upto, &m, &extra, err);
    if (e) return e;
    *facts = extra < m ? m - extra : 0;
    return HK_OK;
}

hk_err hks_pred_count(hk_txn *t, uint32_t pred, uint64_t *facts, hk_error *err)
{
    hk_err e;
    if (!facts) return hk_error_set(err, HK_ERR_INVALID, "store: no out");
    *facts = 0;
    if ((e = hks_txn_check_read(t, err)) || (e = hks_txn_sync(t, err)))
        return e;
    return dups(t, t->s->db.by_pred, pred, facts, err);
}
