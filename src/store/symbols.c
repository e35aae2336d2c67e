/*
 * symbols.c — the dictionary: every predicate and argument string is stored
 * once and referred to by a 32-bit symbol id everywhere else.
 *
 * `sym` maps the string to its id, `sym_id` maps the id back. LMDB keys are
 * at most 511 bytes, so a string longer than HK_SYM_KEY_DIRECT_MAX bytes is
 * keyed by its first HK_SYM_KEY_PREFIX bytes, a NUL byte and the SHA-256 of
 * the whole string. Strings never contain NUL, so such a key cannot equal
 * the key of a short string, and the hash makes it unique.
 *
 * Ids come from the `next_sym_id` counter and only grow, so `sym_id` is
 * written with MDB_APPEND (pages fill completely). Symbols are never
 * removed: a symbol no fact uses any more costs a few bytes and keeps ids
 * stable for cursors.
 *
 * When a symbol is created its search tokens (hk_tokenize: lower case,
 * split at punctuation and camelCase) are added to `tok` (token -> sym ids).
 *
 * Decoding ids back to strings is the hot path of every query, so each
 * transaction keeps a small direct-mapped cache id -> (pointer, length) into
 * the memory map. The pointers are valid for the snapshot; every write in
 * the txn and every reset/renew bumps t->gen, which invalidates the cache.
 */
#include "core/mem.h"
#include "store/store_int.h"

size_t hk_sym_key(const char *s, size_t len, uint8_t out[HK_SYM_KEY_MAX]) {
    if (len <= HK_SYM_KEY_DIRECT_MAX) {
        memcpy(out, s, len);
        return len;
    }
    memcpy(out, s, HK_SYM_KEY_PREFIX);
    out[HK_SYM_KEY_PREFIX] = 0;
    hk_sha256(s, len, out + HK_SYM_KEY_PREFIX + 1);
    return HK_SYM_KEY_MAX;
}

hk_err hk_sym_lookup(hk_txn *t, const char *s, size_t len, uint32_t *id,
                     hk_error *err) {
    uint8_t key[HK_SYM_KEY_MAX];
    *id = 0;
    if (len == 0)
        return HK_OK;
    if (t->write && (*id = hk_symtab_get(t->s->symtab, s, len)))
        return HK_OK;
    MDB_val k = {hk_sym_key(s, len, key), key}, d;
    int rc = mdb_get(t->txn, t->s->db.sym, &k, &d);
    if (rc == MDB_NOTFOUND)
        return HK_OK;
    if (rc)
        return hk_store_mdb_error(t, rc, err, "looking up a symbol");
    if (d.mv_size != 4)
        return hk_error_set(err, HK_ERR_CORRUPT, "store: bad symbol entry");
    *id = hk_get_u32(d.mv_data);
    if (t->write)
        hk_symtab_put(t->s->symtab, s, len, *id);
    return HK_OK;
}

/* ==== Search tokens of a new symbol ==== */

typedef struct token_set {
    uint32_t n;                               /* tokens collected */
    const char *tok[HK_TOKENS_PER_SYMBOL];    /* token bytes (in the text) */
    uint32_t len[HK_TOKENS_PER_SYMBOL];       /* token lengths */
    char lower[HK_TOKENS_PER_SYMBOL][HK_TOKEN_MAX_BYTES]; /* copies */
} token_set;

static hk_err collect_token(void *ud, const char *tok, size_t len) {
    token_set *ts = ud;
    if (len == 0 || len > HK_TOKEN_MAX_BYTES)
        return HK_OK;
    for (uint32_t i = 0; i < ts->n; i++)
        if (ts->len[i] == len && memcmp(ts->lower[i], tok, len) == 0)
            return HK_OK;
    if (ts->n == HK_TOKENS_PER_SYMBOL)
        return HK_OK;
    memcpy(ts->lower[ts->n], tok, len);
    ts->tok[ts->n] = ts->lower[ts->n];
    ts->len[ts->n] = (uint32_t)len;
    ts->n++;
    return HK_OK;
}

static hk_err index_tokens(hk_txn *t, const char *s, size_t len, uint32_t id,
                           hk_error *err) {
    token_set *ts = hk_malloc(sizeof *ts);
    if (!ts)
        return hk_error_set(err, HK_ERR_NOMEM, "store: out of memory");
    ts->n = 0;
    hk_err e = hk_tokenize(s, len, collect_token, ts);
    if (e) {
        hk_free(ts);
        return hk_error_set(err, e, "store: tokenizing a symbol failed");
    }
    uint8_t v[4];
    hk_put_u32(v, id);
    for (uint32_t i = 0; i < ts->n; i++) {
        MDB_val k = {ts->len[i], (void *)ts->tok[i]}, d = {4, v};
        int rc = mdb_put(t->txn, t->s->db.tok, &k, &d, MDB_NODUPDATA);
        if (rc && rc != MDB_KEYEXIST) {
            hk_free(ts);
            return hk_store_mdb_error(t, rc, err, "indexing search tokens");
        }
    }
    hk_free(ts);
    return HK_OK;
}

hk_err hk_sym_intern(hk_txn *t, const char *s, size_t len, uint32_t *id,
                     hk_error *err) {
    hk_err e = hk_sym_lookup(t, s, len, id, err);
    if (e || *id)
        return e;
    return hk_sym_create(t, s, len, id, err);
}

hk_err hk_sym_create(hk_txn *t, const char *s, size_t len, uint32_t *id,
                     hk_error *err) {
    uint8_t key[HK_SYM_KEY_MAX], v[4];
    hk_err e;
    if (len == 0)
        return hk_error_set(err, HK_ERR_INVALID, "store: empty symbol");
    if (t->c.next_sym_id >= UINT32_MAX)
        return hk_error_set(err, HK_ERR_LIMIT,
                            "store: symbol dictionary is full (2^32 ids)");
    uint32_t nid = (uint32_t)t->c.next_sym_id;
    hk_put_u32(v, nid);
    MDB_val k = {hk_sym_key(s, len, key), key}, d = {4, v};
    hk_txn_touch(t);
    int rc = mdb_put(t->txn, t->s->db.sym, &k, &d, MDB_NOOVERWRITE);
    if (rc)
        return hk_store_mdb_error(t, rc, err, "adding a symbol");
    MDB_val ik = {4, v}, id_d = {len, (void *)s};
    rc = mdb_put(t->txn, t->s->db.sym_id, &ik, &id_d, MDB_APPEND);
    if (rc)
        return hk_store_mdb_error(t, rc, err, "adding a symbol id");
    t->c.next_sym_id++;
    t->counters_dirty = true;
    t->new_syms = true;
    hk_symtab_put(t->s->symtab, s, len, nid);
    if ((e = index_tokens(t, s, len, nid, err))) {
        t->failed = true;
        return e;
    }
    *id = nid;
    return HK_OK;
}

hk_err hk_sym_string(hk_txn *t, uint32_t id, const char **s, size_t *len,
                     hk_error *err) {
    uint32_t slot = (uint32_t)(id * 2654435761u) >> 22; /* 10 bits */
    hk_sym_cache_entry *c = &t->cache[slot & (HK_SYM_CACHE_SIZE - 1)];
    if (c->id == id && c->gen == t->gen) {
        *s = c->ptr;
        *len = c->len;
        return HK_OK;
    }
    uint8_t kb[4];
    hk_put_u32(kb, id);
    MDB_val k = {4, kb}, d;
    int rc = mdb_get(t->txn, t->s->db.sym_id, &k, &d);
    if (rc == MDB_NOTFOUND)
        return hk_error_set(err, HK_ERR_CORRUPT,
                            "store: symbol %u is missing", id);
    if (rc)
        return hk_store_mdb_error(t, rc, err, "reading a symbol");
    c->id = id;
    c->gen = t->gen;
    c->ptr = d.mv_data;
    c->len = (uint32_t)d.mv_size;
    *s = c->ptr;
    *len = c->len;
    return HK_OK;
}
