/*
 * facts.c — add (MERGE), delete, update, metadata changes, get and exact
 * find, with the index maintenance they imply.
 *
 * Indexes written per fact (see store_int.h): `stmt` (exact content ->
 * id), `by_pred` (pred -> id), `by_arg` (entity -> position, pred, id, one
 * entry per argument position), `pstat` (pred, arity -> count), plus the
 * `arg_multi` correction when one entity fills several positions of a fact.
 * Counters of distinct predicates/entities change when a by_pred/by_arg key
 * gets its first or loses its last duplicate; `pred_names` follows the
 * predicates in use so that listing them needs no scan of the dictionary.
 * `stmt` keys, `by_arg` entries and the `by_pred` entries of new facts
 * are not written here but queued in the transaction and written sorted
 * at flush (pending.c); the MERGE check asks the Bloom filter (bloom.c),
 * then the queue, then `stmt`; delete and update flush first, since they
 * remove index entries.
 *
 * Every operation validates all input before its first write. After the
 * first write any failure marks the transaction failed (see store.c).
 * Fact ids come from `next_fact_id` and only grow: `fact` is written with
 * MDB_APPEND, and the ids created by one transaction are contiguous, which
 * the bulk audit entry relies on.
 */
#include <errno.h>

#include "core/clock.h"
#include "core/mem.h"
#include "store/store_int.h"

#define STMT_KEY_MAX HKS_STMT_KEY_MAX
#define stmt_key hks_stmt_key

/* Looks up the syms of st; *all false when one is not in the dictionary.
 * In a write txn all strings are hashed first and their symtab slots
 * prefetched, so the cache misses of one statement overlap. */
static hk_err lookup_ids(hk_txn *t, const hk_statement *st, hks_rec *r,
                         bool *all, hk_error *err)
{
    hk_err e;
    uint64_t h[1 + HK_MAX_ARGS];
    size_t len[1 + HK_MAX_ARGS];
    const char *str[1 + HK_MAX_ARGS];
    uint32_t n = 1 + st->n_args;
    *all = true;
    r->n_args = st->n_args;
    str[0] = st->predicate;
    for (uint32_t i = 0; i < st->n_args; i++)
        str[1 + i] = st->args[i];
    for (uint32_t i = 0; i < n; i++) {
        len[i] = strlen(str[i]);
        h[i] = hks_hash_bytes(str[i], len[i]);
        if (t->write) hks_symtab_prefetch(t->s->symtab, h[i]);
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t *id = i ? &r->args[i - 1] : &r->pred;
        if ((e = hks_sym_lookup_hashed(t, str[i], len[i], h[i], id, err)))
            return e;
        if (!*id) *all = false;
    }
    return HK_OK;
}

/* Creates the symbols lookup_ids did not find. A string missing from the
 * dictionary can only appear again in this statement, so earlier slots are
 * checked before creating. */
static hk_err intern_ids(hk_txn *t, const hk_statement *st, hks_rec *r,
                         hk_error *err)
{
    hk_err e;
    r->n_args = st->n_args;
    if (!r->pred && (e = hks_sym_create(t, st->predicate, strlen(st->predicate),
                                        &r->pred, err)))
        return e;
    for (uint32_t i = 0; i < st->n_args; i++) {
        if (r->args[i]) continue;
        if (strcmp(st->args[i], st->predicate) == 0) r->args[i] = r->pred;
        for (uint32_t j = 0; j < i && !r->args[i]; j++)
            if (strcmp(st->args[i], st->args[j]) == 0) r->args[i] = r->args[j];
        if (!r->args[i] &&
            (e = hks_sym_create(t, st->args[i], strlen(st->args[i]),
                                &r->args[i], err)))
            return e;
    }
    return HK_OK;
}

/* True when r names a symbol that t created after its last flush of stmt
 * keys (t->stmt_sym_floor): no stmt key in LMDB names it. */
static bool names_new_symbol(const hk_txn *t, const hks_rec *r)
{
    if (r->pred >= t->stmt_sym_floor) return true;
    for (uint32_t i = 0; i < r->n_args; i++)
        if (r->args[i] >= t->stmt_sym_floor) return true;
    return false;
}

static hk_err stmt_lookup(hk_txn *t, const hks_rec *r, hk_fact_id *id,
                          hk_error *err)
{
    uint8_t kb[STMT_KEY_MAX];
    MDB_val k = {stmt_key(r->pred, r->n_args, r->args, kb), kb}, d;
    if (t->write) {
        uint64_t h = hks_hash_bytes((const char *)kb, k.mv_size);
        *id = 0;
        /* both are needed when the statement is new (index_add) */
        hks_pending_prefetch_stmt(&t->pend, h);
        /* A statement naming a symbol created since the last flush of
         * stmt keys (or this txn's start) can only be in the queue, which
         * settles it: a batch with a new subject (the replicated load,
         * whose batches each end with a flush, hks_txn_end_bulk) needs
         * neither the filter nor the B-tree. */
        if (names_new_symbol(t, r)) {
            *id = hks_pending_find_stmt(&t->pend, kb, k.mv_size, h);
            return HK_OK;
        }
        /* The filter has seen every stmt key and every pending one
         * (index_add feeds it), so "no" settles it before the queue. */
        hks_txn_bloom_ensure(t);
        hks_bloom_prefetch(t->s->bloom, h);
        if (!hks_bloom_maybe(t->s->bloom, h))
            return HK_OK; /* certainly absent */
        if ((*id = hks_pending_find_stmt(&t->pend, kb, k.mv_size, h)))
            return HK_OK;
    }
    int rc = mdb_get(t->txn, t->s->db.stmt, &k, &d);
    if (rc == MDB_NOTFOUND) {
        *id = 0;
        return HK_OK;
    }
    if (rc) return hks_store_mdb_error(t, rc, err, "looking up a statement");
    if (!hks_varint_exact(d.mv_data, d.mv_size, id) || !*id)
        return hk_error_set(err, HK_ERR_CORRUPT, "store: bad stmt entry");
    return HK_OK;
}

/* ==== Index maintenance ==== */

static int key_exists(MDB_txn *txn, MDB_dbi dbi, MDB_val *k, bool *exists)
{
    MDB_val d;
    int rc = mdb_get(txn, dbi, k, &d);
    *exists = rc == 0;
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Adds delta to the u64 counter under key k (big-endian value); a counter
 * that reaches 0 is removed. */
static int counter_add(MDB_txn *txn, MDB_dbi dbi, MDB_val *k, int64_t delta)
{
    uint8_t vb[8];
    MDB_val d;
    uint64_t n = 0;
    int rc = mdb_get(txn, dbi, k, &d);
    if (rc == 0 && d.mv_size == 8)
        n = hks_get_u64(d.mv_data);
    else if (rc && rc != MDB_NOTFOUND)
        return rc;
    n = (uint64_t)((int64_t)n + delta);
    if (n == 0 || (int64_t)n < 0)
        return rc == 0 ? mdb_del(txn, dbi, k, NULL) : 0;
    hks_put_u64(vb, n);
    d.mv_size = 8;
    d.mv_data = vb;
    return mdb_put(txn, dbi, k, &d, 0);
}

static int pstat_write(MDB_txn *txn, MDB_dbi dbi, uint32_t pred, uint32_t arity,
                       int64_t delta)
{
    uint8_t kb[5];
    hks_put_u32(kb, pred);
    kb[4] = (uint8_t)arity;
    MDB_val k = {5, kb};
    return counter_add(txn, dbi, &k, delta);
}

/* Records a pstat change in the txn; written by hks_txn_flush. */
static int pstat_add(hk_txn *t, uint32_t pred, uint32_t arity, int delta)
{
    uint32_t key = pred << 6 | arity;
    if (pred >= (1u << 26))
        return pstat_write(t->txn, t->s->db.pstat, pred, arity, delta);
    uint32_t i = (key * 2654435761u) & (HKS_PSTAT_SLOTS - 1);
    for (;; i = (i + 1) & (HKS_PSTAT_SLOTS - 1)) {
        hks_pstat_delta *d = &t->pstat[i];
        if (d->key == key) {
            d->delta += delta;
            return 0;
        }
        if (d->key == 0) break;
    }
    if (t->n_pstat >= HKS_PSTAT_SLOTS / 2) /* keep probes short */
        return pstat_write(t->txn, t->s->db.pstat, pred, arity, delta);
    t->pstat[i].key = key;
    t->pstat[i].delta = delta;
    t->n_pstat++;
    return 0;
}

hk_err hks_txn_flush(hk_txn *t, hk_error *err)
{
    hk_err e;
    if (!t->write) return HK_OK;
    if ((e = hks_pending_flush(t, err))) return e;
    if (!t->n_pstat) return HK_OK;
    for (uint32_t i = 0; i < HKS_PSTAT_SLOTS; i++) {
        hks_pstat_delta *d = &t->pstat[i];
        if (!d->key) continue;
        if (d->delta) {
            int rc = pstat_write(t->txn, t->s->db.pstat, d->key >> 6,
                                 d->key & 63, d->delta);
            if (rc) return hks_store_mdb_error(t, rc, err, "writing counts");
        }
        d->key = 0;
        d->delta = 0;
    }
    t->n_pstat = 0;
    return HK_OK;
}

static int multi_add(MDB_txn *txn, MDB_dbi dbi, uint32_t ent, int64_t delta)
{
    uint8_t kb[4];
    hks_put_u32(kb, ent);
    MDB_val k = {4, kb};
    return counter_add(txn, dbi, &k, delta);
}

/* True when args[i] equals an earlier argument (a repeated mention). */
static bool repeated_before(const hks_rec *r, uint32_t i)
{
    for (uint32_t j = 0; j < i; j++)
        if (r->args[j] == r->args[i]) return true;
    return false;
}

/* fresh: id was just assigned (larger than every stored id). */
static hk_err index_add(hk_txn *t, hk_fact_id id, const hks_rec *r,
                        const char *pred, bool fresh, hk_error *err)
{
    MDB_txn *txn = t->txn;
    const hks_store_dbs *db = &t->s->db;
    uint8_t kb[STMT_KEY_MAX], idb[HKS_ID_BYTES], pk[4], dup[HKS_ARG_DUP_BYTES];
    uint8_t nk[HKS_SYM_KEY_MAX];
    int rc;
    const char *what = "indexing a fact";

    hks_put_u48(idb, id);
    MDB_val d = {HKS_ID_BYTES, idb};
    size_t klen = stmt_key(r->pred, r->n_args, r->args, kb);
    uint64_t h = hks_hash_bytes((const char *)kb, klen);
    if (hks_pending_add_stmt(&t->pend, kb, klen, h, id)) {
        rc = ENOMEM;
        goto fail;
    }
    hks_bloom_add(t->s->bloom, h);

    /* A new fact's by_pred entry is queued and written sorted at flush
     * (pending.c: MDB_APPENDDUP, predicate counter and pred_names there);
     * an update (same id, new predicate; the queue was flushed) writes it
     * here. After the put the cursor sits on the key; a duplicate count of
     * 1 means the key is new. */
    hks_put_u32(pk, r->pred);
    MDB_val pkv = {4, pk};
    size_t cnt = 0;
    d.mv_size = HKS_ID_BYTES;
    d.mv_data = idb;
    if (fresh) {
        if (hks_pending_add_pred(&t->pend, r->pred, id)) {
            rc = ENOMEM;
            goto fail;
        }
    } else if ((!t->c_by_pred &&
                (rc = mdb_cursor_open(txn, db->by_pred, &t->c_by_pred))) ||
               (rc = mdb_cursor_put(t->c_by_pred, &pkv, &d, 0)) ||
               (rc = mdb_cursor_count(t->c_by_pred, &cnt))) {
        goto fail;
    }
    if (cnt == 1) {
        t->c.predicates++;
        MDB_val nkv = {hks_sym_key(pred, strlen(pred), nk), nk}, sv = {4, pk};
        if ((rc = mdb_put(txn, db->pred_names, &nkv, &sv, 0))) goto fail;
    }

    for (uint32_t i = 0; i < r->n_args; i++) {
        hks_arg_dup(dup, i, r->pred, r->n_args, r->args, id);
        /* written sorted at flush (pending.c) */
        if (hks_pending_add_arg(&t->pend, r->args[i], dup)) {
            rc = ENOMEM;
            goto fail;
        }
        if (repeated_before(r, i) &&
            (rc = multi_add(txn, db->arg_multi, r->args[i], 1)))
            goto fail;
    }
    if ((rc = pstat_add(t, r->pred, r->n_args, 1))) goto fail;
    t->c.facts++;
    t->counters_dirty = true;
    return HK_OK;
fail:
    if (rc == MDB_KEYEXIST) { /* an id below an indexed one: damage */
        t->failed = true;
        return hk_error_set(err, HK_ERR_CORRUPT,
                            "store: %s: the entry exists already", what);
    }
    return hks_store_mdb_error(t, rc, err, what);
}

static hk_err index_remove(hk_txn *t, hk_fact_id id, const hks_rec *r,
                           const char *pred, hk_error *err)
{
    MDB_txn *txn = t->txn;
    const hks_store_dbs *db = &t->s->db;
    uint8_t kb[STMT_KEY_MAX], idb[HKS_ID_BYTES], pk[4], dup[HKS_ARG_DUP_BYTES];
    uint8_t nk[HKS_SYM_KEY_MAX];
    bool exists;
    int rc;

    hks_put_u48(idb, id);
    MDB_val k = {stmt_key(r->pred, r->n_args, r->args, kb), kb};
    if ((rc = mdb_del(txn, db->stmt, &k, NULL))) goto fail;

    hks_put_u32(pk, r->pred);
    MDB_val pkv = {4, pk}, d = {HKS_ID_BYTES, idb};
    if ((rc = mdb_del(txn, db->by_pred, &pkv, &d))) goto fail;
    if ((rc = key_exists(txn, db->by_pred, &pkv, &exists))) goto fail;
    if (!exists) {
        t->c.predicates--;
        MDB_val nkv = {hks_sym_key(pred, strlen(pred), nk), nk};
        rc = mdb_del(txn, db->pred_names, &nkv, NULL);
        if (rc && rc != MDB_NOTFOUND) goto fail;
    }

    if (!t->c_by_arg && (rc = mdb_cursor_open(txn, db->by_arg, &t->c_by_arg)))
        goto fail;
    if (!t->c_tail && (rc = mdb_cursor_open(txn, db->by_arg_tail, &t->c_tail)))
        goto fail;
    for (uint32_t i = 0; i < r->n_args; i++) {
        hks_arg_dup(dup, i, r->pred, r->n_args, r->args, id);
        if ((rc = hks_arg_del(t->c_by_arg, t->c_tail, r->args[i], dup,
                              t->s->arg_chunk)))
            goto fail;
        if (repeated_before(r, i)) {
            if ((rc = multi_add(txn, db->arg_multi, r->args[i], -1))) goto fail;
        }
    }
    for (uint32_t i = 0; i < r->n_args; i++) {
        if (repeated_before(r, i)) continue;
        if ((rc = hks_arg_has_entity(t->c_by_arg, r->args[i], &exists)))
            goto fail;
        if (!exists) t->c.entities--;
    }
    if ((rc = pstat_add(t, r->pred, r->n_args, -1))) goto fail;
    t->c.facts--;
    t->counters_dirty = true;
    return HK_OK;
fail:
    if (rc == MDB_NOTFOUND) { /* an index entry of a stored fact is missing */
        t->failed = true;
        return hk_error_set(err, HK_ERR_CORRUPT,
                            "store: unindexing fact %llu: an index entry is "
                            "missing",
                            (unsigned long long)id);
    }
    return hks_store_mdb_error(t, rc, err, "unindexing a fact");
}

static hk_err put_record(hk_txn *t, hk_fact_id id, const hks_rec *r,
                         unsigned flags, hk_error *err)
{
    hk_buf_reset(&t->scratch);
    hk_err e = hks_rec_encode(r, &t->scratch);
    if (e) return hk_error_set(err, e, "store: out of memory encoding a fact");
    HKS_FACT_KEY(k, id);
    MDB_val d = {t->scratch.len, t->scratch.data}, old;
    int rc;
    if (t->c.has_digest && !(flags & MDB_APPEND)) {
        /* the record replaced leaves the digest */
        rc = mdb_get(t->txn, t->s->db.fact, &k, &old);
        if (rc == 0)
            hks_digest_update(t, HKS_DIGEST_FACT, id, old.mv_data, old.mv_size,
                              -1);
        else if (rc != MDB_NOTFOUND)
            return hks_store_mdb_error(t, rc, err, "reading a fact");
    }
    hks_digest_update(t, HKS_DIGEST_FACT, id, d.mv_data, d.mv_size, +1);
    if (flags & MDB_APPEND) {
        if (t->c_fact ||
            !(rc = mdb_cursor_open(t->txn, t->s->db.fact, &t->c_fact)))
            rc = mdb_cursor_put(t->c_fact, &k, &d, flags);
    } else {
        rc = mdb_put(t->txn, t->s->db.fact, &k, &d, flags);
    }
    if (rc) return hks_store_mdb_error(t, rc, err, "writing a fact");
    return HK_OK;
}

/* JSON of a fact built from caller strings (no decoding). */
static hk_err fact_json(const hk_fact *f, hk_buf *out, hk_error *err)
{
    hk_buf_reset(out);
    hk_err e = hk_fact_write_json(f, out);
    if (e) return hk_error_set(err, e, "store: cannot render fact JSON");
    return HK_OK;
}

static void fact_from_parts(hk_fact *f, hk_fact_id id, const hk_statement *st,
                            const hks_rec *r)
{
    memset(f, 0, sizeof *f);
    f->id = id;
    f->st = *st;
    f->st.owned = NULL;
    f->confidence = r->confidence;
    f->source = r->source;
    f->n_tags = r->n_tags;
    for (uint32_t i = 0; i < r->n_tags; i++)
        f->tags[i] = r->tags[i];
    f->context_json = r->context;
    f->created_us = r->created_us;
    f->updated_us = r->updated_us;
}

/* Copies meta fields into r (strings are borrowed from meta). */
static void rec_apply_meta(hks_rec *r, const hk_fact_meta *m)
{
    if (!m) return;
    if (m->fields & HK_META_CONFIDENCE) r->confidence = m->confidence;
    if (m->fields & HK_META_SOURCE) {
        r->source = m->source;
        r->source_len = m->source ? strlen(m->source) : 0;
    }
    if (m->fields & HK_META_TAGS) {
        r->n_tags = m->n_tags;
        for (uint32_t i = 0; i < m->n_tags; i++) {
            r->tags[i] = m->tags[i];
            r->tag_lens[i] = strlen(m->tags[i]);
        }
    }
    if (m->fields & HK_META_CONTEXT) {
        r->context = m->context_json;
        r->context_len = m->context_json ? strlen(m->context_json) : 0;
    }
}

/* Copies the metadata of a decoded fact into r (strings borrowed from f). */
static void rec_meta_from_fact(hks_rec *r, const hk_fact *f)
{
    r->confidence = f->confidence;
    r->created_us = f->created_us;
    r->updated_us = f->updated_us;
    r->source = f->source;
    r->source_len = f->source ? strlen(f->source) : 0;
    r->n_tags = f->n_tags;
    for (uint32_t i = 0; i < f->n_tags; i++) {
        r->tags[i] = f->tags[i];
        r->tag_lens[i] = strlen(f->tags[i]);
    }
    r->context = f->context_json;
    r->context_len = f->context_json ? strlen(f->context_json) : 0;
}

static hk_err check_statement(const hk_statement *st, hk_error *err)
{
    if (!st) return hk_error_set(err, HK_ERR_INVALID, "no statement");
    return hk_statement_validate(st, err);
}

static int64_t now_after(hk_txn *t, int64_t created)
{
    int64_t now = hks_txn_now(t);
    return now < created ? created : now;
}

/* ==== Change hooks ====
 * Each operation tells the hooks (ext.c) after its audit entry is written,
 * when some hook wants that kind of change: one test of a bit when none
 * does, so imports without per-fact hooks pay nothing. */

static void syms_of(const hks_rec *r, hks_fact_syms *out)
{
    out->pred = r->pred;
    out->n_args = r->n_args;
    memcpy(out->args, r->args, r->n_args * sizeof r->args[0]);
}

static hk_err tell_hooks(hk_txn *t, unsigned ev, hks_op op, hk_fact_id id,
                         const hks_rec *before, const hk_statement *st_before,
                         const hks_rec *after, const hk_statement *st_after,
                         hk_error *err)
{
    hks_fact_syms b, a;
    hks_change c = {.op = op,
                    .id = id,
                    .id_last = id,
                    .count = 1,
                    .audit_seq = ev == HKS_EV_BULK_ADD ? 0 : t->c.audit_seq,
                    .st_before = st_before,
                    .st_after = st_after};
    if (before) {
        syms_of(before, &b);
        c.before = &b;
    }
    if (after) {
        syms_of(after, &a);
        c.after = &a;
    }
    return hks_hooks_change(t, ev, &c, err);
}

/* ==== Add ==== */

hk_err hk_store_add(hk_txn *t, const hk_statement *st, const hk_fact_meta *meta,
                    hk_fact_id *id_out, bool *created, hk_error *err)
{
    hks_rec r;
    bool all;
    hk_fact_id id = 0;
    hk_err e;
    hk_buf json = HK_BUF_INIT;

    if (created) *created = false;
    if ((e = hks_txn_check_write(t, err)) || (e = check_statement(st, err)) ||
        (e = hks_meta_validate(meta, err)))
        return e;
    memset(&r, 0, sizeof r);
    if ((e = lookup_ids(t, st, &r, &all, err))) return e;
    if (all) {
        if ((e = stmt_lookup(t, &r, &id, err))) return e;
        if (id) {
            if (id_out) *id_out = id;
            return HK_OK;
        }
    }
    /* From here on the txn is written: a failure marks it failed. */
    if ((e = intern_ids(t, st, &r, err))) goto fail;
    r.confidence = 1.0;
    r.created_us = r.updated_us = hks_txn_now(t);
    rec_apply_meta(&r, meta);
    if (meta && (meta->fields & HK_META_TIMES)) {
        r.created_us = meta->created_us;
        r.updated_us = meta->updated_us ? meta->updated_us : meta->created_us;
    }
    id = t->c.next_fact_id;
    if (id > HKS_MAX_FACT_ID) {
        e = hk_error_set(err, HK_ERR_LIMIT, "store: fact ids exhausted");
        goto fail;
    }
    hks_txn_touch(t);
    if ((e = put_record(t, id, &r, MDB_APPEND, err)) ||
        (e = index_add(t, id, &r, st->predicate, true, err)))
        goto fail;
    t->c.next_fact_id++;
    t->counters_dirty = true;
    if (t->bulk) {
        if ((e = hks_audit_bulk_note(t, id, st, err))) goto fail;
    } else {
        hk_fact f;
        fact_from_parts(&f, id, st, &r);
        if ((e = fact_json(&f, &json, err)) ||
            (e = hks_audit_append(t, "add", id, id, 1, NULL, json.data, err)))
            goto fail;
    }
    unsigned ev = t->bulk ? HKS_EV_BULK_ADD : HKS_EV_ADD;
    if ((t->s->hook_events & ev) &&
        (e = tell_hooks(t, ev, HKS_OP_ADD, id, NULL, NULL, &r, st, err)))
        goto fail;
    hk_buf_free(&json);
    if (hks_pending_full(&t->pend) && (e = hks_txn_flush(t, err))) goto fail;
    if (id_out) *id_out = id;
    if (created) *created = true;
    return HK_OK;
fail:
    t->failed = true;
    hk_buf_free(&json);
    return e;
}

/* ==== Delete ==== */

hk_err hk_store_delete(hk_txn *t, hk_fact_id id, hk_error *err)
{
    hks_rec r;
    hk_fact f;
    hk_err e;
    hk_buf json = HK_BUF_INIT;

    if ((e = hks_txn_check_write(t, err))) return e;
    if ((e = hks_rec_get(t, id, &r, err))) return e;
    if ((e = hks_txn_flush(t, err))) /* index entries must be in place */
        return e;
    hk_fact_init(&f);
    if ((e = hks_rec_to_fact(t, id, &r, &f, err)) ||
        (e = fact_json(&f, &json, err))) {
        hk_fact_release(&f);
        hk_buf_free(&json);
        return e;
    }
    hks_txn_touch(t);
    if ((e = index_remove(t, id, &r, f.st.predicate, err))) goto fail;
    HKS_FACT_KEY(k, id);
    MDB_val old;
    int rc = t->c.has_digest ? mdb_get(t->txn, t->s->db.fact, &k, &old) : 0;
    if (rc == 0 && t->c.has_digest)
        hks_digest_update(t, HKS_DIGEST_FACT, id, old.mv_data, old.mv_size, -1);
    if (rc == 0) rc = mdb_del(t->txn, t->s->db.fact, &k, NULL);
    if (rc) {
        e = hks_store_mdb_error(t, rc, err, "deleting a fact");
        goto fail;
    }
    if ((e = hks_audit_append(t, "delete", id, id, 1, json.data, NULL, err)))
        goto fail;
    if ((t->s->hook_events & HKS_EV_DELETE) &&
        (e = tell_hooks(t, HKS_EV_DELETE, HKS_OP_DELETE, id, &r, &f.st, NULL,
                        NULL, err)))
        goto fail;
    hk_fact_release(&f);
    hk_buf_free(&json);
    return HK_OK;
fail:
    t->failed = true;
    hk_fact_release(&f);
    hk_buf_free(&json);
    return e;
}

/* ==== Update (content) ==== */

hk_err hk_store_update(hk_txn *t, hk_fact_id id, const hk_statement *st,
                       hk_fact_id *other, hk_error *err)
{
    hks_rec old, nr;
    hk_fact f, nf;
    bool all;
    hk_fact_id found = 0;
    hk_err e;
    hk_buf before = HK_BUF_INIT, after = HK_BUF_INIT;

    if (other) *other = 0;
    if ((e = hks_txn_check_write(t, err)) || (e = check_statement(st, err)))
        return e;
    if ((e = hks_rec_get(t, id, &old, err)) || (e = hks_txn_flush(t, err)))
        return e;
    memset(&nr, 0, sizeof nr);
    if ((e = lookup_ids(t, st, &nr, &all, err))) return e;
    if (all) {
        if ((e = stmt_lookup(t, &nr, &found, err))) return e;
        if (found == id) return HK_OK; /* same content: nothing to do */
        if (found) {
            if (other) *other = found;
            hk_error_set(err, HK_ERR_EXISTS,
                         "the new statement is already fact %llu",
                         (unsigned long long)found);
            if (err) snprintf(err->field, sizeof err->field, "statement");
            return HK_ERR_EXISTS;
        }
    }
    hk_fact_init(&f);
    if ((e = hks_rec_to_fact(t, id, &old, &f, err)) ||
        (e = fact_json(&f, &before, err))) {
        hk_fact_release(&f);
        hk_buf_free(&before);
        return e;
    }
    hks_txn_touch(t);
    if ((e = intern_ids(t, st, &nr, err)) ||
        (e = index_remove(t, id, &old, f.st.predicate, err)))
        goto fail;
    rec_meta_from_fact(&nr, &f);
    nr.updated_us = now_after(t, f.created_us);
    if ((e = put_record(t, id, &nr, 0, err)) ||
        (e = index_add(t, id, &nr, st->predicate, false, err)))
        goto fail;
    fact_from_parts(&nf, id, st, &nr);
    if ((e = fact_json(&nf, &after, err)) ||
        (e = hks_audit_append(t, "update", id, id, 1, before.data, after.data,
                              err)))
        goto fail;
    if ((t->s->hook_events & HKS_EV_UPDATE) &&
        (e = tell_hooks(t, HKS_EV_UPDATE, HKS_OP_UPDATE, id, &old, &f.st, &nr,
                        st, err)))
        goto fail;
    hk_fact_release(&f);
    hk_buf_free(&before);
    hk_buf_free(&after);
    return HK_OK;
fail:
    t->failed = true;
    hk_fact_release(&f);
    hk_buf_free(&before);
    hk_buf_free(&after);
    return e;
}

/* ==== Metadata ==== */

hk_err hk_store_set_meta(hk_txn *t, hk_fact_id id, const hk_fact_meta *meta,
                         hk_error *err)
{
    hks_rec r;
    hk_fact f, nf;
    hk_err e;
    hk_buf before = HK_BUF_INIT, after = HK_BUF_INIT;

    if ((e = hks_txn_check_write(t, err)) || (e = hks_meta_validate(meta, err)))
        return e;
    if (meta && (meta->fields & HK_META_TIMES)) {
        e = hk_error_set(err, HK_ERR_INVALID,
                         "created/updated times are set only when a fact is "
                         "created");
        if (err) snprintf(err->field, sizeof err->field, "created");
        return e;
    }
    if ((e = hks_rec_get(t, id, &r, err))) return e;
    if (!meta || !meta->fields) return HK_OK;
    hk_fact_init(&f);
    if ((e = hks_rec_to_fact(t, id, &r, &f, err)) ||
        (e = fact_json(&f, &before, err))) {
        hk_fact_release(&f);
        hk_buf_free(&before);
        return e;
    }
    /* r keeps pred/args; its metadata now comes from f (copied strings),
     * then the requested changes are applied. */
    rec_meta_from_fact(&r, &f);
    rec_apply_meta(&r, meta);
    r.updated_us = now_after(t, f.created_us);
    hks_txn_touch(t);
    if ((e = put_record(t, id, &r, 0, err))) goto fail;
    fact_from_parts(&nf, id, &f.st, &r);
    if ((e = fact_json(&nf, &after, err)) ||
        (e = hks_audit_append(t, "meta", id, id, 1, before.data, after.data,
                              err)))
        goto fail;
    if ((t->s->hook_events & HKS_EV_META) &&
        (e = tell_hooks(t, HKS_EV_META, HKS_OP_META, id, &r, &f.st, &r, &f.st,
                        err)))
        goto fail;
    hk_fact_release(&f);
    hk_buf_free(&before);
    hk_buf_free(&after);
    return HK_OK;
fail:
    t->failed = true;
    hk_fact_release(&f);
    hk_buf_free(&before);
    hk_buf_free(&after);
    return e;
}

/* ==== Reads ==== */

hk_err hk_store_get(hk_txn *t, hk_fact_id id, hk_fact *f, hk_error *err)
{
    hks_rec r;
    hk_err e;
    if ((e = hks_txn_check_read(t, err))) return e;
    if (!f) return hk_error_set(err, HK_ERR_INVALID, "no fact to fill");
    if ((e = hks_rec_get(t, id, &r, err))) return e;
    return hks_rec_to_fact(t, id, &r, f, err);
}

hk_err hks_fact_find_syms(hk_txn *t, const hks_fact_syms *fs, hk_fact_id *id,
                          hk_error *err)
{
    hk_err e = hks_txn_check_read(t, err);
    if (e) return e;
    if (fs->n_args < 1 || fs->n_args > HK_MAX_ARGS)
        return hk_error_set(err, HK_ERR_INVALID, "bad argument count %u",
                            fs->n_args);
    hks_rec r;
    r.pred = fs->pred;
    r.n_args = fs->n_args;
    memcpy(r.args, fs->args, fs->n_args * sizeof fs->args[0]);
    hk_fact_id found = 0;
    if ((e = stmt_lookup(t, &r, &found, err))) return e;
    if (!found) return hk_error_set(err, HK_ERR_NOT_FOUND, "no such fact");
    *id = found;
    return HK_OK;
}

hk_err hk_store_find(hk_txn *t, const hk_statement *st, hk_fact_id *id,
                     hk_error *err)
{
    hks_rec r;
    bool all;
    hk_fact_id found = 0;
    hk_err e;
    if ((e = hks_txn_check_read(t, err)) || (e = check_statement(st, err)))
        return e;
    if ((e = lookup_ids(t, st, &r, &all, err))) return e;
    if (all && (e = stmt_lookup(t, &r, &found, err))) return e;
    if (!found) return hk_error_set(err, HK_ERR_NOT_FOUND, "no such fact");
    if (id) *id = found;
    return HK_OK;
}
