/*
 * verify.c — the data digest and the deep verification of a KB.
 *
 * The digest. Every fact record and every symbol string contributes an
 * element hash, SHA-256 of (tag 'F' or 'S', id u64 BE, length u64 BE,
 * the bytes — or their SHA-256 when longer than ELEM_INLINE_MAX). The
 * digest is the sum of the element hashes taken as four 64-bit lanes,
 * each modulo 2^64: an additive multiset hash, so a write adds the hash
 * of what it stores and subtracts the hash of what it replaces or
 * deletes, at the cost of one SHA-256 over a short record per change and
 * no reads of other data. It lives in `meta` under "state_digest" and is
 * written with the counters at commit, in the same LMDB transaction as the
 * data, so it is always the digest of the committed state.
 *
 * What it proves. Records and symbols are the data; every index (sym,
 * stmt, by_pred, by_arg, pred_names, tok) is derived from them.
 * hk_store_verify_deep recomputes the digest from every record and
 * symbol and compares it with the stored one (any edit of a record or a
 * symbol string — "Computer" -> "Komputer" — changes it), then checks
 * every index entry against the data in both directions and names the
 * entry that disagrees. An edit that also rewrites the stored digest is
 * not caught by the digest alone (it is not keyed); the audit chain
 * (audit.c) covers the history, this covers the current state.
 *
 * KBs made before the digest existed have no "state_digest": they open and
 * work as before; verify --deep checks their indexes and reports that the
 * digest is missing, and hk_store_rehash (hakgal verify --rehash) computes
 * it once, after which every write keeps it. A KB still empty gets one at
 * its first write (store.c).
 *
 * Damage. An LMDB error while walking a database is reported as a
 * problem of that database, and the walk goes on with the next one, so a
 * damaged file is named rather than aborting the check. A fault inside the
 * map ends the walks under a guard (faultguard.c): the cursor open at the
 * time is closed, the transaction is marked failed, and the report names
 * the byte.
 *
 * Threads: runs inside the caller's transaction (a write transaction is
 * flushed first); rehash needs a write transaction.
 */
#include <stdarg.h>
#include <stdio.h>

#include "core/sha256.h"
#include "store/store_int.h"

/* ==== Element hashes and the digest ==== */

/* SHA-256 on the write path. OpenSSL 3's one-shot SHA256() fetches the
 * algorithm on every call (EVP_Q_digest), which cost more than hashing an
 * element; hk_sha256 uses the one fetched per process. */
static void sha256(const void *data, size_t len, uint8_t out[32])
{
    hk_sha256(data, len, out);
}

#define ELEM_INLINE_MAX 239u

static void element_hash(char tag, uint64_t id, const void *data, size_t len,
                         uint8_t out[32])
{
    uint8_t b[17 + ELEM_INLINE_MAX];
    b[0] = (uint8_t)tag;
    hks_put_u64(b + 1, id);
    hks_put_u64(b + 9, (uint64_t)len);
    if (len <= ELEM_INLINE_MAX) {
        if (len) memcpy(b + 17, data, len);
        sha256(b, 17 + len, out);
    } else {
        sha256(data, len, b + 17);
        sha256(b, 17 + 32, out);
    }
}

static void digest_add(uint64_t dg[4], char tag, uint64_t id, const void *data,
                       size_t len, int sign)
{
    uint8_t h[32];
    element_hash(tag, id, data, len, h);
    for (int i = 0; i < 4; i++) {
        uint64_t v = hks_get_u64(h + 8 * i);
        dg[i] = sign > 0 ? dg[i] + v : dg[i] - v;
    }
}

void hks_digest_update(hk_txn *t, char tag, uint64_t id, const void *data,
                       size_t len, int sign)
{
    if (!t->c.has_digest) return;
    digest_add(t->c.digest, tag, id, data, len, sign);
    t->counters_dirty = true;
}

/* ==== Problems ==== */

static void problem(hk_verify_report *r, const char *fmt, ...)
{
    r->ok = false;
    if (r->n_problems < HK_VERIFY_PROBLEMS_MAX) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->problems[r->n_problems], sizeof r->problems[0], fmt, ap);
        va_end(ap);
    }
    r->n_problems++;
}

/* A symbol string for a message: at most 40 bytes, non-printable bytes
 * as '?'. */
static const char *shown(const void *data, size_t len, char out[48])
{
    size_t n = len < 40 ? len : 40, i;
    const unsigned char *p = data;
    for (i = 0; i < n; i++)
        out[i] = (char)(p[i] >= 0x20 && p[i] < 0x7f ? p[i] : '?');
    if (len > n) out[i++] = '~';
    out[i] = 0;
    return out;
}

/* The string of sym id into *d; false when missing or unreadable. */
static bool sym_string(hk_txn *t, uint32_t id, MDB_val *d)
{
    HKS_SYM_ID_KEY(k, id);
    return id && mdb_get(t->txn, t->s->db.sym_id, &k, d) == 0 &&
           d->mv_size > 0 && hks_val_sane(t, d, SIZE_MAX);
}

static bool fact_record(hk_txn *t, uint64_t id, hks_rec *r)
{
    HKS_FACT_KEY(k, id);
    MDB_val d;
    return mdb_get(t->txn, t->s->db.fact, &k, &d) == 0 &&
           hks_val_sane(t, &d, SIZE_MAX) &&
           hks_rec_decode(d.mv_data, d.mv_size, r) == HK_OK;
}

static void walk_error(hk_verify_report *r, const char *db, int rc)
{
    if (rc && rc != MDB_NOTFOUND)
        problem(r, "database %s cannot be read to its end: %s", db,
                mdb_strerror(rc));
}

/* ==== The walks ==== */

/* The cursor a walk has open, closed by hk_store_verify_deep after a fault
 * inside the map left the walk (faultguard.c). */
static _Thread_local MDB_cursor *t_walk_cur;

/* sym_id: every symbol's string is a key of `sym` naming it back; adds
 * symbols to the digest. */
static void walk_symbols(hk_txn *t, const hks_counters *c, hk_verify_report *r,
                         uint64_t dg[4])
{
    MDB_cursor *cur;
    MDB_val k, d;
    char s1[48];
    int rc = mdb_cursor_open(t->txn, t->s->db.sym_id, &cur);
    t_walk_cur = rc ? NULL : cur;
    if (rc) return walk_error(r, "sym_id", rc);
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        unsigned int id;
        if (k.mv_size != sizeof id) {
            problem(r, "sym_id: a key of %zu bytes", k.mv_size);
            continue;
        }
        memcpy(&id, k.mv_data, sizeof id);
        r->symbols++;
        if (!hks_val_sane(t, &d, SIZE_MAX) || d.mv_size == 0) {
            problem(r,
                    "symbol %u: its string lies outside its page or is empty",
                    id);
            continue;
        }
        digest_add(dg, HKS_DIGEST_SYM, id, d.mv_data, d.mv_size, +1);
        if (id == 0 || id >= c->next_sym_id)
            problem(r, "symbol %u '%s': id not below the next id %llu", id,
                    shown(d.mv_data, d.mv_size, s1),
                    (unsigned long long)c->next_sym_id);
        uint8_t key[HKS_SYM_KEY_MAX];
        MDB_val sk = {hks_sym_key(d.mv_data, d.mv_size, key), key}, sv;
        int g = mdb_get(t->txn, t->s->db.sym, &sk, &sv);
        if (g == MDB_NOTFOUND)
            problem(r,
                    "symbol %u '%s': the sym index has no entry for its "
                    "string",
                    id, shown(d.mv_data, d.mv_size, s1));
        else if (g)
            problem(r, "symbol %u: sym index unreadable: %s", id,
                    mdb_strerror(g));
        else if (sv.mv_size != 4 || hks_get_u32(sv.mv_data) != id)
            problem(r, "symbol %u '%s': the sym index names id %u", id,
                    shown(d.mv_data, d.mv_size, s1),
                    sv.mv_size == 4 ? hks_get_u32(sv.mv_data) : 0u);
    }
    t_walk_cur = NULL;
    mdb_cursor_close(cur);
    walk_error(r, "sym_id", rc);
}

/* A key of `sym` or `pred_names` -> sym id must be the key of that
 * symbol's string. */
static void walk_sym_keys(hk_txn *t, MDB_dbi dbi, const char *name,
                          hk_verify_report *r)
{
    MDB_cursor *cur;
    MDB_val k, d, s;
    char s1[48];
    int rc = mdb_cursor_open(t->txn, dbi, &cur);
    t_walk_cur = rc ? NULL : cur;
    if (rc) return walk_error(r, name, rc);
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        r->index_entries++;
        uint32_t id = d.mv_size == 4 ? hks_get_u32(d.mv_data) : 0;
        if (!sym_string(t, id, &s)) {
            problem(r, "%s: key '%s' names symbol %u, which does not exist",
                    name, shown(k.mv_data, k.mv_size, s1), id);
            continue;
        }
        uint8_t key[HKS_SYM_KEY_MAX];
        size_t n = hks_sym_key(s.mv_data, s.mv_size, key);
        if (n != k.mv_size || memcmp(key, k.mv_data, n) != 0)
            problem(r, "%s: key '%s' names symbol %u, whose string differs",
                    name, shown(k.mv_data, k.mv_size, s1), id);
    }
    t_walk_cur = NULL;
    mdb_cursor_close(cur);
    walk_error(r, name, rc);
}

/* fact: every record decodes, names existing symbols, and has its stmt
 * entry; adds records to the digest. */
static void walk_facts(hk_txn *t, const hks_counters *c, hk_verify_report *r,
                       uint64_t dg[4])
{
    MDB_cursor *cur;
    MDB_val k, d, s;
    int rc = mdb_cursor_open(t->txn, t->s->db.fact, &cur);
    t_walk_cur = rc ? NULL : cur;
    if (rc) return walk_error(r, "fact", rc);
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        hks_rec rec;
        if (k.mv_size != sizeof(size_t)) {
            problem(r, "fact: a key of %zu bytes", k.mv_size);
            continue;
        }
        uint64_t id = hks_fact_key_id(&k);
        r->facts++;
        if (!hks_val_sane(t, &d, SIZE_MAX)) {
            problem(r, "fact %llu: its record lies outside its page",
                    (unsigned long long)id);
            continue;
        }
        digest_add(dg, HKS_DIGEST_FACT, id, d.mv_data, d.mv_size, +1);
        if (id == 0 || id >= c->next_fact_id)
            problem(r, "fact %llu: id not below the next id %llu",
                    (unsigned long long)id,
                    (unsigned long long)c->next_fact_id);
        if (hks_rec_decode(d.mv_data, d.mv_size, &rec)) {
            problem(r, "fact %llu: record does not decode",
                    (unsigned long long)id);
            continue;
        }
        if (!sym_string(t, rec.pred, &s))
            problem(r, "fact %llu: predicate symbol %u does not exist",
                    (unsigned long long)id, rec.pred);
        for (uint32_t i = 0; i < rec.n_args; i++)
            if (!sym_string(t, rec.args[i], &s))
                problem(r,
                        "fact %llu: argument %u names symbol %u, which "
                        "does not exist",
                        (unsigned long long)id, i + 1, rec.args[i]);
        uint8_t sk[HKS_STMT_KEY_MAX];
        MDB_val skv = {hks_stmt_key(rec.pred, rec.n_args, rec.args, sk), sk},
                sv;
        uint64_t sid = 0;
        int g = mdb_get(t->txn, t->s->db.stmt, &skv, &sv);
        if (g || !hks_varint_exact(sv.mv_data, sv.mv_size, &sid) || sid != id)
            problem(r, "fact %llu: the stmt index %s", (unsigned long long)id,
                    g ? "has no entry for it" : "names another id");
    }
    t_walk_cur = NULL;
    mdb_cursor_close(cur);
    walk_error(r, "fact", rc);
}

/* stmt: every key is the statement of the fact it names. */
static void walk_stmt(hk_txn *t, hk_verify_report *r)
{
    MDB_cursor *cur;
    MDB_val k, d;
    int rc = mdb_cursor_open(t->txn, t->s->db.stmt, &cur);
    t_walk_cur = rc ? NULL : cur;
    if (rc) return walk_error(r, "stmt", rc);
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        hks_rec rec;
        uint64_t id = 0;
        r->index_entries++;
        if (!hks_varint_exact(d.mv_data, d.mv_size, &id) ||
            !fact_record(t, id, &rec)) {
            problem(r, "stmt: an entry names fact %llu, which does not exist",
                    (unsigned long long)id);
            continue;
        }
        uint8_t sk[HKS_STMT_KEY_MAX];
        size_t n = hks_stmt_key(rec.pred, rec.n_args, rec.args, sk);
        if (n != k.mv_size || memcmp(sk, k.mv_data, n) != 0)
            problem(r, "stmt: the key of fact %llu is not its statement",
                    (unsigned long long)id);
    }
    t_walk_cur = NULL;
    mdb_cursor_close(cur);
    walk_error(r, "stmt", rc);
}

/* The fact an index entry of sym names has that predicate (and sym at
 * that position, with that co-argument). */
static void check_posting(hk_txn *t, const char *name, bool args, uint32_t sym,
                          const uint8_t *v, hk_verify_report *r)
{
    hks_rec rec;
    uint32_t pos = args ? v[0] : 0;
    uint32_t pred = args ? hks_get_u32(v + 1) : sym;
    uint64_t id = hks_get_u48(v + (args ? 5 : 0));
    if (!fact_record(t, id, &rec))
        problem(r, "%s: symbol %u lists fact %llu, which does not exist", name,
                sym, (unsigned long long)id);
    else if (rec.pred != pred ||
             (args && (pos >= rec.n_args || rec.args[pos] != sym)))
        problem(r,
                "%s: symbol %u lists fact %llu (position %u), which "
                "does not have it there",
                name, sym, (unsigned long long)id, pos + args);
    else if (args && hks_get_u32(v + 5 + HKS_ID_BYTES) !=
                         (rec.n_args == 2 ? rec.args[1 - pos] : 0))
        /* joins read the co-argument instead of the record */
        problem(r,
                "%s: symbol %u lists fact %llu (position %u) with a "
                "wrong co-argument",
                name, sym, (unsigned long long)id, pos + 1);
}

/* by_pred and by_arg: every entry names a fact that has that predicate
 * (and that argument at that position). */
static void walk_postings(hk_txn *t, bool args, hk_verify_report *r)
{
    const char *name = args ? "by_arg" : "by_pred";
    size_t want = args ? HKS_ARG_DUP_BYTES : HKS_ID_BYTES;
    uint8_t prev[HKS_ARG_KEY_BYTES]; /* by_arg: entity and last row seen */
    bool have_prev = false;
    MDB_cursor *cur;
    MDB_val k, d;
    int rc = mdb_cursor_open(t->txn, args ? t->s->db.by_arg : t->s->db.by_pred,
                             &cur);
    t_walk_cur = rc ? NULL : cur;
    if (rc) return walk_error(r, name, rc);
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        r->index_entries++;
        if ((k.mv_size != 4 && (!args || k.mv_size != HKS_ARG_KEY_BYTES)) ||
            d.mv_size != want) {
            problem(r, "%s: an entry of %zu + %zu bytes", name, k.mv_size,
                    d.mv_size);
            continue;
        }
        uint32_t sym = hks_get_u32(k.mv_data);
        const uint8_t *v = d.mv_data;
        if (args) {
            /* chunks (argidx.c): a row is >= its chunk's start, and the
             * rows of an entity rise across its chunks; else a lookup by
             * row would pick the wrong chunk */
            static const uint8_t zero[HKS_ARG_DUP_BYTES];
            const uint8_t *kb = k.mv_data;
            const uint8_t *start = k.mv_size == 4 ? zero : kb + 4;
            if (memcmp(v, start, HKS_ARG_DUP_BYTES) < 0 ||
                (have_prev && memcmp(prev, kb, 4) == 0 &&
                 memcmp(prev + 4, v, HKS_ARG_DUP_BYTES) >= 0))
                problem(r,
                        "by_arg: symbol %u has a row out of its chunk's "
                        "range",
                        sym);
            memcpy(prev, kb, 4);
            memcpy(prev + 4, v, HKS_ARG_DUP_BYTES);
            have_prev = true;
        }
        check_posting(t, name, args, sym, v, r);
    }
    t_walk_cur = NULL;
    mdb_cursor_close(cur);
    walk_error(r, name, rc);
}

/* by_arg_tail: every row names a fact as a by_arg row does, and the tails
 * keep the invariant readers rely on (store_int.h, argidx.c). */
static void walk_tails(hk_txn *t, hk_verify_report *r)
{
    MDB_cursor *cur, *ac = NULL;
    MDB_val k, d;
    int rc = mdb_cursor_open(t->txn, t->s->db.by_arg_tail, &cur);
    t_walk_cur = rc ? NULL : cur;
    if (rc) return walk_error(r, "by_arg_tail", rc);
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        r->index_entries++;
        if (k.mv_size != 4 || d.mv_size != HKS_ARG_DUP_BYTES) {
            problem(r, "by_arg_tail: an entry of %zu + %zu bytes", k.mv_size,
                    d.mv_size);
            continue;
        }
        check_posting(t, "by_arg_tail", true, hks_get_u32(k.mv_data), d.mv_data,
                      r);
    }
    t_walk_cur = NULL;
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND) return walk_error(r, "by_arg_tail", rc);
    uint64_t rows = 0, bad = 0;
    rc = mdb_cursor_open(t->txn, t->s->db.by_arg_tail, &cur);
    if (!rc && (rc = mdb_cursor_open(t->txn, t->s->db.by_arg, &ac)))
        mdb_cursor_close(cur);
    if (rc) return walk_error(r, "by_arg_tail", rc);
    rc = hks_arg_tail_check(ac, cur, &rows, &bad);
    mdb_cursor_close(ac);
    mdb_cursor_close(cur);
    if (bad)
        problem(r,
                "by_arg_tail: symbol %llu has a tail of more than %u rows, "
                "with a first chunk under %u rows or with a row also in "
                "its chunks",
                (unsigned long long)(bad - 1), HKS_ARG_TAIL_ROWS,
                HKS_ARG_TAIL_MIN);
    if (rc) walk_error(r, "by_arg_tail", rc == MDB_NOTFOUND ? 0 : rc);
}

/* tok: every entry names an existing symbol. */
static void walk_tokens(hk_txn *t, hk_verify_report *r)
{
    MDB_cursor *cur;
    MDB_val k, d, s;
    char s1[48];
    int rc = mdb_cursor_open(t->txn, t->s->db.tok, &cur);
    t_walk_cur = rc ? NULL : cur;
    if (rc) return walk_error(r, "tok", rc);
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        r->index_entries++;
        uint32_t id = d.mv_size == 4 ? hks_get_u32(d.mv_data) : 0;
        if (!sym_string(t, id, &s))
            problem(r, "tok: token '%s' names symbol %u, which does not exist",
                    shown(k.mv_data, k.mv_size, s1), id);
    }
    t_walk_cur = NULL;
    mdb_cursor_close(cur);
    walk_error(r, "tok", rc);
}

/* ==== Entry points ==== */

static void walk_all(hk_txn *t, const hks_counters *c, hk_verify_report *r,
                     uint64_t dg[4])
{
    walk_symbols(t, c, r, dg);
    walk_sym_keys(t, t->s->db.sym, "sym", r);
    walk_sym_keys(t, t->s->db.pred_names, "pred_names", r);
    walk_facts(t, c, r, dg);
    walk_stmt(t, r);
    walk_postings(t, false, r);
    walk_postings(t, true, r);
    walk_tails(t, r);
    walk_tokens(t, r);
    /* Counts and counters (check.c): an index entry the walks above let
     * pass, a counter that disagrees. */
    bool ok = true;
    char why[200];
    hk_error ce;
    hk_error_clear(&ce);
    if (hks_store_check(t, &ok, why, sizeof why, &ce) != HK_OK)
        problem(r, "the index check could not finish: %s", ce.message);
    else if (!ok)
        problem(r, "%s", why);
}

static hk_err load_and_walk(hk_txn *t, hks_counters *c, hk_verify_report *r,
                            uint64_t dg[4], hk_error *err)
{
    hk_err e;
    if (t->write)
        *c = t->c;
    else if ((e = hks_txn_load_counters(t, c, err)))
        return e;
    walk_all(t, c, r, dg);
    return HK_OK;
}

hk_err hk_store_verify_deep(hk_txn *t, hk_verify_report *r, hk_error *err)
{
    hks_counters c;
    hk_err e;
    uint64_t dg[4] = {0, 0, 0, 0};

    memset(r, 0, sizeof *r);
    r->ok = true;
    if ((e = hks_txn_check_read(t, err)) || (e = hks_txn_sync(t, err)))
        return e;
    /* A fault inside the map (a page past the end of a file truncated
     * while open) ends the walks: the snapshot is dead, the damage is the
     * answer (faultguard.c explains why the jump is safe here). */
    memset(&c, 0, sizeof c);
    hk_fault_guard g;
    if (sigsetjmp(g.jb, 1) == 0) {
        hk_fault_arm(&g);
        e = load_and_walk(t, &c, r, dg, err);
        hk_fault_disarm(&g);
        if (e) return e;
    } else {
        if (t_walk_cur) mdb_cursor_close(t_walk_cur);
        t_walk_cur = NULL;
        t->failed = true;
        problem(r,
                "reading byte %llu of data.mdb failed (the file is shorter "
                "than its pages or changed while open): restore from a "
                "backup",
                (unsigned long long)g.offset);
        r->has_digest = c.has_digest;
        return HK_OK;
    }
    r->has_digest = c.has_digest;
    r->digest_ok = !c.has_digest || memcmp(dg, c.digest, sizeof dg) == 0;
    if (!r->digest_ok)
        problem(r, "the data digest differs from the one stored at the last "
                   "commit: a record or a symbol was changed outside hakgal");
    uint8_t b[32];
    for (int i = 0; i < 4; i++)
        hks_put_u64(b + 8 * i, dg[i]);
    hk_hex(b, 32, r->digest);
    return HK_OK;
}

hk_err hk_store_rehash(hk_txn *t, hk_error *err)
{
    hk_err e;
    MDB_cursor *cur = NULL;
    MDB_val k, d;
    uint64_t dg[4] = {0, 0, 0, 0};
    int rc;
    if ((e = hks_txn_check_write(t, err)) || (e = hks_txn_sync(t, err)))
        return e;
    const MDB_dbi dbs[2] = {t->s->db.sym_id, t->s->db.fact};
    for (int i = 0; i < 2; i++) {
        if ((rc = mdb_cursor_open(t->txn, dbs[i], &cur))) goto lmdb;
        for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
            uint64_t id;
            if (i == 0) {
                unsigned int v = 0;
                if (k.mv_size == sizeof v) memcpy(&v, k.mv_data, sizeof v);
                id = v;
            } else {
                id = k.mv_size == sizeof(size_t) ? hks_fact_key_id(&k) : 0;
            }
            digest_add(dg, i == 0 ? HKS_DIGEST_SYM : HKS_DIGEST_FACT, id,
                       d.mv_data, d.mv_size, +1);
        }
        mdb_cursor_close(cur);
        cur = NULL;
        if (rc != MDB_NOTFOUND) goto lmdb;
    }
    t->c.has_digest = true;
    memcpy(t->c.digest, dg, sizeof dg);
    t->counters_dirty = true;
    return HK_OK;
lmdb:
    if (cur) mdb_cursor_close(cur);
    return hks_store_mdb_error(t, rc, err, "computing the data digest");
}
