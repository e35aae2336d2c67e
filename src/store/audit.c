/*
 * audit.c — the tamper-evident audit log.
 *
 * Every mutation appends an entry in the same transaction as the change, so
 * the log and the data can never disagree. Entry seq N is stored in `audit`
 * under seq (u64 BE) as
 *
 *   canonical bytes || prev_hash[32] || hash[32]
 *
 * where the canonical bytes are
 *
 *   u8 version (1) | u64 seq | i64 time_us | u64 fact_id | u64 fact_id_last
 *   | u64 count | u16 len, actor | u8 len, op
 *   | u8 has_before, u32 len, before JSON | u8 has_after, u32 len, after JSON
 *
 * (integers big-endian) and hash = SHA-256(prev_hash || canonical bytes),
 * prev_hash being the hash of entry N-1 (zeros for N = 1). `meta` keeps the
 * head (audit_seq, audit_hash), so hk_audit_verify detects edited entries
 * (hash mismatch), removed or reordered ones (seq gaps, seq field vs key,
 * chain break) and a removed or rewritten tail (head mismatch).
 *
 * Per-fact entries are indexed in `audit_by_fact` (fact id -> seq). A bulk
 * transaction (hk_txn_set_bulk) writes no entry per created fact; at commit
 * one "import" entry covers the contiguous id range it created, with the
 * count and the SHA-256 of the canonical statements (one per line, id
 * order) in its "after" JSON, and `audit_bulk` (last id -> first id, seq)
 * lets hk_audit_history find it by a range seek.
 */
#include <openssl/evp.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/mem.h"
#include "core/sha256.h"
#include "store/store_int.h"

#define AUDIT_VERSION 1u
#define AUDIT_FIXED (1u + 8u * 5u) /* version + 5 u64 fields */

/* ==== Encoding ==== */

static hk_err encode_entry(hk_buf *b, uint64_t seq, int64_t time_us,
                           const char *actor, const char *op, hk_fact_id first,
                           hk_fact_id last, uint64_t count, const char *before,
                           const char *after)
{
    uint8_t h[AUDIT_FIXED];
    size_t alen = strlen(actor), olen = strlen(op);
    hk_err e;
    h[0] = AUDIT_VERSION;
    hks_put_u64(h + 1, seq);
    hks_put_u64(h + 9, (uint64_t)time_us);
    hks_put_u64(h + 17, first);
    hks_put_u64(h + 25, last);
    hks_put_u64(h + 33, count);
    if ((e = hk_buf_append(b, h, sizeof h))) return e;
    uint8_t l2[2] = {(uint8_t)(alen >> 8), (uint8_t)alen};
    uint8_t l1 = (uint8_t)olen;
    if ((e = hk_buf_append(b, l2, 2)) || (e = hk_buf_append(b, actor, alen)) ||
        (e = hk_buf_append(b, &l1, 1)) || (e = hk_buf_append(b, op, olen)))
        return e;
    const char *parts[2] = {before, after};
    for (int i = 0; i < 2; i++) {
        uint8_t l5[5] = {parts[i] ? 1 : 0, 0, 0, 0, 0};
        size_t n = parts[i] ? strlen(parts[i]) : 0;
        hks_put_u32(l5 + 1, (uint32_t)n);
        if ((e = hk_buf_append(b, l5, 5)) ||
            (n && (e = hk_buf_append(b, parts[i], n))))
            return e;
    }
    return HK_OK;
}

/* A stored entry split into its parts (pointers into the value). */
typedef struct raw_entry {
    uint64_t seq;                 /* seq field inside the entry */
    int64_t time_us;              /* time */
    hk_fact_id first, last;       /* fact id range */
    uint64_t count;               /* facts affected */
    const char *actor, *op;       /* not NUL-terminated */
    size_t actor_len, op_len;     /* lengths */
    const char *before, *after;   /* NULL when absent */
    size_t before_len, after_len; /* lengths */
    const uint8_t *canon;         /* canonical bytes */
    size_t canon_len;             /* their length */
    const uint8_t *prev_hash;     /* 32 bytes */
    const uint8_t *hash;          /* 32 bytes */
} raw_entry;

static bool parse_entry(const void *data, size_t len, raw_entry *r)
{
    const uint8_t *p = data, *end = p + len;
    if (len < AUDIT_FIXED + 2 + 1 + 5 + 5 + 64 || p[0] != AUDIT_VERSION)
        return false;
    end -= 64;
    r->canon = p;
    r->seq = hks_get_u64(p + 1);
    r->time_us = (int64_t)hks_get_u64(p + 9);
    r->first = hks_get_u64(p + 17);
    r->last = hks_get_u64(p + 25);
    r->count = hks_get_u64(p + 33);
    p += AUDIT_FIXED;
    r->actor_len = ((size_t)p[0] << 8) | p[1];
    p += 2;
    if ((size_t)(end - p) < r->actor_len + 1) return false;
    r->actor = (const char *)p;
    p += r->actor_len;
    r->op_len = *p++;
    if ((size_t)(end - p) < r->op_len) return false;
    r->op = (const char *)p;
    p += r->op_len;
    for (int i = 0; i < 2; i++) {
        if (end - p < 5 || p[0] > 1) return false;
        bool has = p[0] == 1;
        size_t n = hks_get_u32(p + 1);
        p += 5;
        if ((size_t)(end - p) < n || (!has && n)) return false;
        if (i == 0) {
            r->before = has ? (const char *)p : NULL;
            r->before_len = n;
        } else {
            r->after = has ? (const char *)p : NULL;
            r->after_len = n;
        }
        p += n;
    }
    if (p != end) return false;
    r->canon_len = (size_t)(end - r->canon);
    r->prev_hash = end;
    r->hash = end + 32;
    return true;
}

static void chain_hash(const uint8_t prev[32], const void *canon, size_t len,
                       uint8_t out[32])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned n = 32;
    if (ctx && EVP_DigestInit_ex(ctx, hk_sha256_md(), NULL) == 1 &&
        EVP_DigestUpdate(ctx, prev, 32) == 1 &&
        EVP_DigestUpdate(ctx, canon, len) == 1 &&
        EVP_DigestFinal_ex(ctx, out, &n) == 1) {
        EVP_MD_CTX_free(ctx);
        return;
    }
    /* libcrypto could not allocate: fall back to the one-shot API over a
     * concatenated copy (hk_sha256 cannot fail). */
    EVP_MD_CTX_free(ctx);
    uint8_t *tmp = hk_malloc(32 + len);
    if (tmp) {
        memcpy(tmp, prev, 32);
        memcpy(tmp + 32, canon, len);
        hk_sha256(tmp, 32 + len, out);
        hk_free(tmp);
    } else {
        memset(out, 0, 32);
    }
}

/* ==== Appending ==== */

hk_err hks_audit_append(hk_txn *t, const char *op, hk_fact_id first,
                        hk_fact_id last, uint64_t count, const char *before,
                        const char *after, hk_error *err)
{
    hk_buf b = HK_BUF_INIT;
    uint64_t seq = t->c.audit_seq + 1;
    int64_t now = hks_txn_now(t);
    uint8_t kb[8], hash[32];
    hk_err e;
    int rc;

    if (now < t->c.last_change_us)
        now = t->c.last_change_us; /* keep entry times monotonic */
    e = encode_entry(&b, seq, now, t->actor ? t->actor : "local", op, first,
                     last, count, before, after);
    if (e) goto nomem;
    chain_hash(t->c.audit_hash, b.data, b.len, hash);
    if ((e = hk_buf_append(&b, t->c.audit_hash, 32)) ||
        (e = hk_buf_append(&b, hash, 32)))
        goto nomem;
    hks_put_u64(kb, seq);
    MDB_val k = {8, kb}, d = {b.len, b.data};
    hks_txn_touch(t);
    if ((rc = mdb_put(t->txn, t->s->db.audit, &k, &d, MDB_APPEND))) goto lmdb;
    if (strcmp(op, "import") == 0) {
        uint8_t lk[8], v[16];
        hks_put_u64(lk, last);
        hks_put_u64(v, first);
        hks_put_u64(v + 8, seq);
        MDB_val bk = {8, lk}, bv = {16, v};
        if ((rc = mdb_put(t->txn, t->s->db.audit_bulk, &bk, &bv, 0))) goto lmdb;
    } else if (first) {
        uint8_t fk[8];
        hks_put_u64(fk, first);
        MDB_val fkv = {8, fk}, sv = {8, kb};
        if ((rc = mdb_put(t->txn, t->s->db.audit_by_fact, &fkv, &sv, 0)))
            goto lmdb;
    }
    t->c.audit_seq = seq;
    memcpy(t->c.audit_hash, hash, 32);
    t->c.last_change_us = now;
    t->counters_dirty = true;
    hk_buf_free(&b);
    return HK_OK;
lmdb:
    hk_buf_free(&b);
    return hks_store_mdb_error(t, rc, err, "appending an audit entry");
nomem:
    hk_buf_free(&b);
    t->failed = true;
    return hk_error_set(err, HK_ERR_NOMEM, "store: out of memory (audit)");
}

hk_err hks_audit_bulk_note(hk_txn *t, hk_fact_id id, const hk_statement *st,
                           hk_error *err)
{
    hk_buf_reset(&t->scratch);
    hk_err e = hk_statement_format(st, &t->scratch);
    if (!e) e = hk_buf_append(&t->scratch, "\n", 1);
    if (e) return hk_error_set(err, e, "store: cannot format a statement");
    if (EVP_DigestUpdate(t->bulk_digest, t->scratch.data, t->scratch.len) != 1)
        return hk_error_set(err, HK_ERR_NOMEM, "store: digest failed");
    if (!t->bulk_first) t->bulk_first = id;
    t->bulk_last = id;
    t->bulk_count++;
    return HK_OK;
}

hk_err hks_audit_flush_bulk(hk_txn *t, hk_error *err)
{
    uint8_t dg[32];
    char hex[65];
    unsigned n = 32;
    hk_buf after = HK_BUF_INIT;
    hk_err e;
    if (EVP_DigestFinal_ex(t->bulk_digest, dg, &n) != 1)
        return hk_error_set(err, HK_ERR_NOMEM, "store: digest failed");
    hk_hex(dg, 32, hex);
    if ((e = hk_buf_append_str(&after, "{\"label\":")) ||
        (e = hk_buf_append_json_string(&after, t->bulk_label,
                                       strlen(t->bulk_label))) ||
        (e = hk_buf_appendf(&after,
                            ",\"count\":%llu,\"first_id\":%llu,"
                            "\"last_id\":%llu,\"sha256\":\"%s\"}",
                            (unsigned long long)t->bulk_count,
                            (unsigned long long)t->bulk_first,
                            (unsigned long long)t->bulk_last, hex))) {
        hk_buf_free(&after);
        return hk_error_set(err, e, "store: out of memory (audit)");
    }
    e = hks_audit_append(t, "import", t->bulk_first, t->bulk_last,
                         t->bulk_count, NULL, after.data, err);
    hk_buf_free(&after);
    return e;
}

/* ==== Reading ==== */

static hk_err entry_from_raw(const raw_entry *r, uint64_t seq,
                             hk_audit_entry *out)
{
    memset(out, 0, sizeof *out);
    out->seq = seq;
    out->time_us = r->time_us;
    out->fact_id = r->first;
    out->fact_id_last = r->last;
    out->count = r->count;
    out->actor = hk_strndup(r->actor, r->actor_len);
    out->op = hk_strndup(r->op, r->op_len);
    if (r->before) out->before = hk_strndup(r->before, r->before_len);
    if (r->after) out->after = hk_strndup(r->after, r->after_len);
    memcpy(out->prev_hash, r->prev_hash, 32);
    memcpy(out->hash, r->hash, 32);
    if (!out->actor || !out->op || (r->before && !out->before) ||
        (r->after && !out->after))
        return HK_ERR_NOMEM;
    return HK_OK;
}

static void entry_free(hk_audit_entry *e)
{
    hk_free(e->actor);
    hk_free(e->op);
    hk_free(e->before);
    hk_free(e->after);
}

void hk_audit_entries_free(hk_audit_entry *v, size_t n)
{
    if (!v) return;
    for (size_t i = 0; i < n; i++)
        entry_free(&v[i]);
    hk_free(v);
}

static hk_err load_entry(hk_txn *t, uint64_t seq, hk_audit_entry *out,
                         hk_error *err)
{
    uint8_t kb[8];
    raw_entry r;
    hks_put_u64(kb, seq);
    MDB_val k = {8, kb}, d;
    int rc = mdb_get(t->txn, t->s->db.audit, &k, &d);
    if (rc == MDB_NOTFOUND)
        return hk_error_set(err, HK_ERR_CORRUPT, "audit entry %llu is missing",
                            (unsigned long long)seq);
    if (rc) return hks_store_mdb_error(t, rc, err, "reading the audit log");
    if (!parse_entry(d.mv_data, d.mv_size, &r))
        return hk_error_set(err, HK_ERR_CORRUPT, "audit entry %llu is damaged",
                            (unsigned long long)seq);
    if (entry_from_raw(&r, seq, out)) {
        entry_free(out);
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    }
    return HK_OK;
}

hk_err hk_audit_list(hk_txn *t, uint64_t before_seq, size_t limit,
                     hk_audit_entry **out, size_t *n, hk_error *err)
{
    MDB_cursor *c = NULL;
    hk_audit_entry *v = NULL;
    size_t cnt = 0;
    hk_err e;
    int rc;
    uint8_t kb[8];
    MDB_val k, d;

    *out = NULL;
    *n = 0;
    if ((e = hks_txn_check_read(t, err))) return e;
    if (limit == 0) return HK_OK;
    if ((rc = mdb_cursor_open(t->txn, t->s->db.audit, &c)))
        return hks_store_mdb_error(t, rc, err, "reading the audit log");
    if (before_seq == 0) {
        rc = mdb_cursor_get(c, &k, &d, MDB_LAST);
    } else {
        hks_put_u64(kb, before_seq);
        k.mv_size = 8;
        k.mv_data = kb;
        rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
        if (rc == 0)
            rc = mdb_cursor_get(c, &k, &d, MDB_PREV);
        else if (rc == MDB_NOTFOUND)
            rc = mdb_cursor_get(c, &k, &d, MDB_LAST);
    }
    size_t cap = limit < 1024 ? limit : 1024;
    v = hk_calloc(cap, sizeof *v);
    if (!v) {
        e = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        goto fail;
    }
    while (rc == 0 && cnt < limit) {
        raw_entry r;
        if (k.mv_size != 8 || !parse_entry(d.mv_data, d.mv_size, &r)) {
            e = hk_error_set(err, HK_ERR_CORRUPT, "audit entry is damaged");
            goto fail;
        }
        if (cnt == cap) {
            size_t ncap = cap * 2 < limit ? cap * 2 : limit;
            hk_audit_entry *nv = hk_realloc(v, ncap * sizeof *nv);
            if (!nv) {
                e = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
                goto fail;
            }
            v = nv;
            cap = ncap;
        }
        if (entry_from_raw(&r, hks_get_u64(k.mv_data), &v[cnt])) {
            entry_free(&v[cnt]);
            e = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
            goto fail;
        }
        cnt++;
        rc = mdb_cursor_get(c, &k, &d, MDB_PREV);
    }
    if (rc && rc != MDB_NOTFOUND) {
        e = hks_store_mdb_error(t, rc, err, "reading the audit log");
        goto fail;
    }
    mdb_cursor_close(c);
    *out = v;
    *n = cnt;
    return HK_OK;
fail:
    mdb_cursor_close(c);
    hk_audit_entries_free(v, cnt);
    return e;
}

static int cmp_seq_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* A fact's entries come from two places: its own seqs in `audit_by_fact`
 * (a sorted duplicate list, read from the newest down, starting with a seek
 * below before_seq rather than a walk over the newer ones) and at most one
 * bulk import entry whose id range covers it (`audit_bulk`). The bulk
 * entry's seq can fall anywhere among the fact's own (a fact created by an
 * import and updated later is older than its updates), so it is kept only
 * when it is below before_seq and merged by seq with the page read; the
 * page holds at most limit + 1 seqs before the cut. */
hk_err hk_audit_history(hk_txn *t, hk_fact_id id, uint64_t before_seq,
                        size_t limit, hk_audit_entry **out, size_t *n,
                        hk_error *err)
{
    MDB_cursor *c = NULL;
    uint64_t *seqs = NULL;
    size_t ns = 0;
    hk_audit_entry *v = NULL;
    size_t cnt = 0;
    hk_err e = HK_OK;
    int rc;
    uint8_t kb[8], sb[8];
    MDB_val k, d;
    bool from_last = before_seq == 0; /* start at the newest duplicate */

    *out = NULL;
    *n = 0;
    if ((e = hks_txn_check_read(t, err))) return e;
    if (limit == 0 || before_seq == 1) return HK_OK;
    if (limit > HK_AUDIT_HISTORY_MAX) limit = HK_AUDIT_HISTORY_MAX;
    seqs = hk_malloc((limit + 1) * sizeof *seqs);
    if (!seqs) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    /* Per-fact entries, newest first: from the last duplicate, or from the
     * one before the first duplicate >= before_seq. NOTFOUND from the
     * range seek means no duplicate reaches before_seq (all are older) or
     * the fact has none; the plain seek tells which. */
    if ((rc = mdb_cursor_open(t->txn, t->s->db.audit_by_fact, &c))) goto lmdb;
    hks_put_u64(kb, id);
    k.mv_size = 8;
    k.mv_data = kb;
    if (!from_last) {
        hks_put_u64(sb, before_seq);
        d.mv_size = 8;
        d.mv_data = sb;
        rc = mdb_cursor_get(c, &k, &d, MDB_GET_BOTH_RANGE);
        if (rc == 0)
            rc = mdb_cursor_get(c, &k, &d, MDB_PREV_DUP);
        else if (rc == MDB_NOTFOUND)
            from_last = true;
        else
            goto lmdb;
    }
    if (from_last) {
        k.mv_size = 8;
        k.mv_data = kb;
        rc = mdb_cursor_get(c, &k, &d, MDB_SET);
        if (rc == 0) rc = mdb_cursor_get(c, &k, &d, MDB_LAST_DUP);
    }
    while (rc == 0 && ns < limit) {
        if (d.mv_size == 8) seqs[ns++] = hks_get_u64(d.mv_data);
        rc = mdb_cursor_get(c, &k, &d, MDB_PREV_DUP);
    }
    if (rc && rc != MDB_NOTFOUND) goto lmdb;
    mdb_cursor_close(c);
    c = NULL;
    /* The import entry whose id range covers id: the first range ending at
     * or after id, if it starts at or before id. */
    if ((rc = mdb_cursor_open(t->txn, t->s->db.audit_bulk, &c))) goto lmdb;
    k.mv_size = 8;
    k.mv_data = kb;
    rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
    if (rc == 0 && d.mv_size == 16 && hks_get_u64(d.mv_data) <= id) {
        uint64_t bseq = hks_get_u64((const uint8_t *)d.mv_data + 8);
        if (before_seq == 0 || bseq < before_seq) seqs[ns++] = bseq;
    } else if (rc && rc != MDB_NOTFOUND)
        goto lmdb;
    mdb_cursor_close(c);
    c = NULL;

    qsort(seqs, ns, sizeof *seqs, cmp_seq_desc);
    if (ns > limit) ns = limit;
    if (ns) {
        v = hk_calloc(ns, sizeof *v);
        if (!v) {
            e = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
            goto fail;
        }
    }
    for (; cnt < ns; cnt++)
        if ((e = load_entry(t, seqs[cnt], &v[cnt], err))) goto fail;
    hk_free(seqs);
    *out = v;
    *n = cnt;
    return HK_OK;
lmdb:
    e = hks_store_mdb_error(t, rc, err, "reading fact history");
fail:
    if (c) mdb_cursor_close(c);
    hk_free(seqs);
    hk_audit_entries_free(v, cnt);
    return e;
}

/* ==== Oldest-first iteration ====
 * Replication and change streams read the log forward from a sequence: a
 * cursor on `audit` from MDB_SET_RANGE(from_seq), one entry per call, so a
 * caller holds one decoded entry at a time whatever the log's length. Each
 * entry's seq field must equal its key and keys must follow each other
 * without a gap, else HK_ERR_CORRUPT names the seq (the chain hashes are
 * hk_audit_verify's job). */

struct hk_audit_iter {
    hk_txn *t;          /* the txn it was opened in */
    MDB_cursor *c;      /* cursor on `audit` */
    uint64_t want;      /* seq of the next entry (>= 1) */
    bool started;       /* an entry was handed out (later ones must follow
                           it without a gap) */
    bool on_last;       /* c sits on entry want - 1: MDB_NEXT reaches the
                           next; else seek want (start, or retry after a
                           failed call) */
    bool done;          /* past the last entry */
    hk_audit_entry cur; /* the entry handed out last (owned) */
};

hk_err hk_audit_iter_open(hk_txn *t, uint64_t from_seq, hk_audit_iter **out,
                          hk_error *err)
{
    hk_err e;
    if (!out) return hk_error_set(err, HK_ERR_INVALID, "audit: no iterator");
    *out = NULL;
    if ((e = hks_txn_check_read(t, err))) return e;
    hk_audit_iter *it = hk_calloc(1, sizeof *it);
    if (!it) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    int rc = mdb_cursor_open(t->txn, t->s->db.audit, &it->c);
    if (rc) {
        hk_free(it);
        return hks_store_mdb_error(t, rc, err, "reading the audit log");
    }
    it->t = t;
    it->want = from_seq ? from_seq : 1;
    *out = it;
    return HK_OK;
}

hk_err hk_audit_iter_next(hk_audit_iter *it, const hk_audit_entry **entry,
                          hk_error *err)
{
    hk_err e;
    MDB_val k, d;
    uint8_t kb[8];
    raw_entry r;
    int rc;
    if (!it || !entry)
        return hk_error_set(err, HK_ERR_INVALID, "audit: no iterator");
    *entry = NULL;
    if (it->done) return HK_OK;
    if ((e = hks_txn_check_read(it->t, err))) return e;
    if (it->on_last) {
        rc = mdb_cursor_get(it->c, &k, &d, MDB_NEXT);
    } else {
        hks_put_u64(kb, it->want);
        k.mv_size = 8;
        k.mv_data = kb;
        rc = mdb_cursor_get(it->c, &k, &d, MDB_SET_RANGE);
    }
    it->on_last = false; /* until this call succeeds */
    if (rc == MDB_NOTFOUND) {
        it->done = true;
        return HK_OK;
    }
    if (rc) return hks_store_mdb_error(it->t, rc, err, "reading the audit log");
    uint64_t seq = k.mv_size == 8 ? hks_get_u64(k.mv_data) : 0;
    if (!seq || !parse_entry(d.mv_data, d.mv_size, &r) || r.seq != seq)
        return hk_error_set(
            err, HK_ERR_CORRUPT, "audit entry %llu is damaged (seq field %llu)",
            (unsigned long long)seq, (unsigned long long)(seq ? r.seq : 0));
    if (it->started && seq != it->want)
        return hk_error_set(err, HK_ERR_CORRUPT,
                            "audit entry %llu is missing (the next entry is "
                            "%llu)",
                            (unsigned long long)it->want,
                            (unsigned long long)seq);
    entry_free(&it->cur);
    if (entry_from_raw(&r, seq, &it->cur)) {
        entry_free(&it->cur);
        memset(&it->cur, 0, sizeof it->cur);
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    }
    it->want = seq + 1;
    it->started = it->on_last = true;
    *entry = &it->cur;
    return HK_OK;
}

void hk_audit_iter_close(hk_audit_iter *it)
{
    if (!it) return;
    entry_free(&it->cur);
    mdb_cursor_close(it->c);
    hk_free(it);
}

/* ==== Verification ==== */

static hk_err report_bad(hk_audit_report *rep, uint64_t seq, const char *why,
                         unsigned long long a)
{
    rep->ok = false;
    rep->first_bad = seq;
    snprintf(rep->reason, sizeof rep->reason, why, a);
    return HK_OK;
}

hk_err hk_audit_verify(hk_txn *t, hk_audit_report *rep, hk_error *err)
{
    hks_counters c;
    MDB_cursor *cur = NULL;
    MDB_val k, d;
    uint8_t prev[32] = {0}, h[32];
    uint64_t expect = 1;
    hk_err e;
    int rc;

    if (!rep) return hk_error_set(err, HK_ERR_INVALID, "no report");
    memset(rep, 0, sizeof *rep);
    rep->ok = true;
    if ((e = hks_txn_check_read(t, err))) return e;
    if (t->write)
        c = t->c;
    else if ((e = hks_txn_load_counters(t, &c, err)))
        return e;
    if ((rc = mdb_cursor_open(t->txn, t->s->db.audit, &cur)))
        return hks_store_mdb_error(t, rc, err, "verifying the audit log");
    rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST);
    while (rc == 0) {
        raw_entry r;
        uint64_t key = k.mv_size == 8 ? hks_get_u64(k.mv_data) : 0;
        if (key != expect) {
            if (key > expect)
                report_bad(rep, expect, "entry %llu is missing",
                           (unsigned long long)expect);
            else
                report_bad(rep, expect, "unexpected key before entry %llu",
                           (unsigned long long)expect);
            goto done;
        }
        if (!parse_entry(d.mv_data, d.mv_size, &r)) {
            report_bad(rep, expect, "entry %llu cannot be parsed",
                       (unsigned long long)expect);
            goto done;
        }
        if (r.seq != key) {
            report_bad(rep, expect,
                       "entry %llu carries another sequence "
                       "number (moved)",
                       (unsigned long long)expect);
            goto done;
        }
        if (memcmp(r.prev_hash, prev, 32) != 0) {
            report_bad(rep, expect,
                       "entry %llu does not chain to the "
                       "previous entry",
                       (unsigned long long)expect);
            goto done;
        }
        chain_hash(prev, r.canon, r.canon_len, h);
        if (memcmp(h, r.hash, 32) != 0) {
            report_bad(rep, expect, "entry %llu was altered (hash mismatch)",
                       (unsigned long long)expect);
            goto done;
        }
        memcpy(prev, h, 32);
        rep->checked++;
        expect++;
        rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT);
    }
    if (rc != MDB_NOTFOUND) {
        mdb_cursor_close(cur);
        return hks_store_mdb_error(t, rc, err, "verifying the audit log");
    }
    if (rep->checked < c.audit_seq) {
        report_bad(rep, rep->checked + 1,
                   "log ends at entry %llu but the head says more (entries "
                   "removed from the end)",
                   (unsigned long long)rep->checked);
    } else if (rep->checked > c.audit_seq) {
        report_bad(rep, c.audit_seq + 1,
                   "entries beyond the recorded head %llu",
                   (unsigned long long)c.audit_seq);
    } else if (rep->checked && memcmp(prev, c.audit_hash, 32) != 0) {
        report_bad(rep, rep->checked,
                   "entry %llu does not match the recorded head hash",
                   (unsigned long long)rep->checked);
    }
done:
    mdb_cursor_close(cur);
    return HK_OK;
}
