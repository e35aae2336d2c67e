/*
 * symbols.c — the dictionary: every predicate and argument string is stored
 * once and referred to by a 32-bit symbol id everywhere else.
 *
 * `sym` maps the string to its id, `sym_id` maps the id back. LMDB keys are
 * at most 511 bytes, so a string longer than HKS_SYM_KEY_DIRECT_MAX bytes is
 * keyed by its first HKS_SYM_KEY_PREFIX bytes, a NUL byte and the SHA-256 of
 * the whole string. Strings never contain NUL, so such a key cannot equal
 * the key of a short string, and the hash makes it unique.
 *
 * Ids come from the `next_sym_id` counter and only grow, so `sym_id` is
 * written with MDB_APPEND (pages fill completely). Symbols are never
 * removed: a symbol no fact uses any more costs a few bytes and keeps ids
 * stable for cursors.
 *
 * When a symbol is created its search tokens (hk_tokenize: lower case,
 * split at punctuation and camelCase) are queued for `tok` (token -> sym
 * ids), written sorted when the transaction flushes (pending.c).
 *
 * Decoding ids back to strings is the hot path of every query. Since the
 * string of an id never changes (symbols are never removed or renumbered),
 * the store keeps one shared cache id -> heap copy of the string, valid for
 * the life of the hk_store and shared by all threads without locks: a
 * two-level table (chunks of 65536 slots) whose slots and chunks are
 * published with atomic compare-and-swap; a loser of a race frees its copy.
 * It is bounded (HKS_SYMCACHE_MAX_BYTES); once full, each transaction falls
 * back to a small direct-mapped cache id -> (pointer, length) into the
 * memory map, valid for its snapshot (every write in the txn and every
 * reset/renew bumps t->gen, which invalidates it).
 */
#include <stdatomic.h>

#include "core/mem.h"
#include "core/sha256.h"
#include "core/tokenize.h"
#include "store/factwalk.h"

#define HKS_SYMCACHE_MAX_BYTES (96u << 20)
#define SYMCACHE_CHUNK_BITS 16u
#define SYMCACHE_CHUNKS (1u << (32 - SYMCACHE_CHUNK_BITS))

typedef struct symstr {
    uint32_t len; /* string length */
    char s[];     /* string bytes (not NUL-terminated) */
} symstr;

typedef _Atomic(symstr *) symslot;

/* Reverse direction, string -> id, for lookups outside the writer (query
 * constants, exact finds): an insert-only open-addressing table whose
 * slots are published with compare-and-swap; at most SYMIDX_PROBES probes,
 * so a crowded neighbourhood just means "not cached". Only committed
 * symbols enter it (their ids never change). */
#define SYMIDX_SLOTS (1u << 20)
#define SYMIDX_PROBES 8u
#define SYMIDX_MAX_BYTES (64u << 20)

typedef struct symidx_entry {
    uint64_t hash; /* hks_hash_bytes of the string */
    uint32_t id;   /* sym id */
    uint32_t len;  /* string length */
    char s[];      /* string bytes */
} symidx_entry;

typedef _Atomic(symidx_entry *) symidx_slot;

/* The search tokens of one new symbol (index_tokens). */
typedef struct token_set {
    uint32_t n;                             /* tokens collected */
    const char *tok[HKS_TOKENS_PER_SYMBOL]; /* token bytes (in the text) */
    uint32_t len[HKS_TOKENS_PER_SYMBOL];    /* token lengths */
    char lower[HKS_TOKENS_PER_SYMBOL][HKS_TOKEN_MAX_BYTES]; /* copies */
} token_set;

struct hks_symcache {
    _Atomic(symslot *) chunks[SYMCACHE_CHUNKS]; /* lazily allocated */
    atomic_size_t bytes;                        /* memory held */
    symidx_slot *idx;                           /* string -> id slots */
    atomic_size_t idx_bytes;                    /* memory of entries */
    token_set *tokens; /* index_tokens' buffer, ~5 KB, kept from one new
                          symbol to the next (writer_mu) */
};

hks_symcache *hks_symcache_new(void)
{
    hks_symcache *c = hk_calloc(1, sizeof *c);
    if (!c) return NULL;
    for (size_t i = 0; i < SYMCACHE_CHUNKS; i++)
        atomic_init(&c->chunks[i], NULL);
    atomic_init(&c->bytes, sizeof *c);
    atomic_init(&c->idx_bytes, 0);
    /* calloc'd zero pages cost no memory until a slot is used */
    c->idx = hk_calloc(SYMIDX_SLOTS, sizeof *c->idx);
    if (!c->idx) {
        hk_free(c);
        return NULL;
    }
    return c;
}

void hks_symcache_free(hks_symcache *c)
{
    if (!c) return;
    for (size_t i = 0; i < SYMCACHE_CHUNKS; i++) {
        symslot *ch = atomic_load(&c->chunks[i]);
        if (!ch) continue;
        for (size_t j = 0; j < (1u << SYMCACHE_CHUNK_BITS); j++)
            hk_free(atomic_load(&ch[j]));
        hk_free(ch);
    }
    for (size_t i = 0; i < SYMIDX_SLOTS; i++)
        hk_free(atomic_load(&c->idx[i]));
    hk_free(c->idx);
    hk_free(c->tokens);
    hk_free(c);
}

static uint32_t symidx_get(hks_symcache *c, const char *s, size_t len)
{
    uint64_t h = hks_hash_bytes(s, len);
    for (uint32_t p = 0; p < SYMIDX_PROBES; p++) {
        symidx_entry *e = atomic_load_explicit(
            &c->idx[(h + p) & (SYMIDX_SLOTS - 1)], memory_order_acquire);
        if (!e) return 0;
        if (e->hash == h && e->len == len && memcmp(e->s, s, len) == 0)
            return e->id;
    }
    return 0;
}

static void symidx_put(hks_symcache *c, const char *s, size_t len, uint32_t id)
{
    size_t need = sizeof(symidx_entry) + len;
    if (atomic_load_explicit(&c->idx_bytes, memory_order_relaxed) + need >
        SYMIDX_MAX_BYTES)
        return;
    uint64_t h = hks_hash_bytes(s, len);
    symidx_entry *e = NULL;
    for (uint32_t p = 0; p < SYMIDX_PROBES; p++) {
        symidx_slot *slot = &c->idx[(h + p) & (SYMIDX_SLOTS - 1)];
        symidx_entry *cur = atomic_load_explicit(slot, memory_order_acquire);
        if (cur) {
            if (cur->hash == h && cur->len == len &&
                memcmp(cur->s, s, len) == 0)
                break; /* already there */
            continue;
        }
        if (!e) {
            e = hk_malloc(need);
            if (!e) return;
            e->hash = h;
            e->id = id;
            e->len = (uint32_t)len;
            memcpy(e->s, s, len);
        }
        symidx_entry *expected = NULL;
        if (atomic_compare_exchange_strong(slot, &expected, e)) {
            atomic_fetch_add(&c->idx_bytes, need);
            return;
        }
        if (expected->hash == h && expected->len == len &&
            memcmp(expected->s, s, len) == 0)
            break; /* another thread cached it */
    }
    hk_free(e);
}

static const symstr *symcache_get(hks_symcache *c, uint32_t id)
{
    symslot *ch = atomic_load_explicit(&c->chunks[id >> SYMCACHE_CHUNK_BITS],
                                       memory_order_acquire);
    if (!ch) return NULL;
    return atomic_load_explicit(&ch[id & ((1u << SYMCACHE_CHUNK_BITS) - 1)],
                                memory_order_acquire);
}

/* Best effort: returns the cached copy, or NULL when the cache is full or
 * memory is short. */
static const symstr *symcache_put(hks_symcache *c, uint32_t id, const char *s,
                                  size_t len)
{
    size_t need = sizeof(symstr) + len;
    if (atomic_load_explicit(&c->bytes, memory_order_relaxed) + need >
        HKS_SYMCACHE_MAX_BYTES)
        return NULL;
    _Atomic(symslot *) *cp = &c->chunks[id >> SYMCACHE_CHUNK_BITS];
    symslot *ch = atomic_load_explicit(cp, memory_order_acquire);
    if (!ch) {
        symslot *fresh =
            hk_calloc((size_t)1 << SYMCACHE_CHUNK_BITS, sizeof *fresh);
        if (!fresh) return NULL;
        symslot *expected = NULL;
        if (atomic_compare_exchange_strong(cp, &expected, fresh)) {
            ch = fresh;
            atomic_fetch_add(&c->bytes, ((size_t)1 << SYMCACHE_CHUNK_BITS) *
                                            sizeof *fresh);
        } else {
            hk_free(fresh);
            ch = expected;
        }
    }
    symstr *e = hk_malloc(need);
    if (!e) return NULL;
    e->len = (uint32_t)len;
    memcpy(e->s, s, len);
    symstr *expected = NULL;
    symslot *slot = &ch[id & ((1u << SYMCACHE_CHUNK_BITS) - 1)];
    if (!atomic_compare_exchange_strong(slot, &expected, e)) {
        hk_free(e);
        return expected;
    }
    atomic_fetch_add(&c->bytes, need);
    return e;
}

size_t hks_sym_key(const char *s, size_t len, uint8_t out[HKS_SYM_KEY_MAX])
{
    if (len <= HKS_SYM_KEY_DIRECT_MAX) {
        memcpy(out, s, len);
        return len;
    }
    memcpy(out, s, HKS_SYM_KEY_PREFIX);
    out[HKS_SYM_KEY_PREFIX] = 0;
    hk_sha256(s, len, out + HKS_SYM_KEY_PREFIX + 1);
    return HKS_SYM_KEY_HASHED;
}

hk_err hks_sym_lookup(hk_txn *t, const char *s, size_t len, uint32_t *id,
                      hk_error *err)
{
    return hks_sym_lookup_hashed(t, s, len, hks_hash_bytes(s, len), id, err);
}

hk_err hks_sym_lookup_hashed(hk_txn *t, const char *s, size_t len, uint64_t h,
                             uint32_t *id, hk_error *err)
{
    uint8_t key[HKS_SYM_KEY_MAX];
    *id = 0;
    if (len == 0) return HK_OK;
    if (t->write) {
        if ((*id = hks_symtab_get_hashed(t->s->symtab, s, len, h)))
            return HK_OK;
        if (t->s->symtab_complete)
            return HK_OK; /* the whole dictionary is cached: absent */
    }
    if ((*id = symidx_get(t->s->symcache, s, len))) return HK_OK;
    MDB_val k = {hks_sym_key(s, len, key), key}, d;
    int rc = mdb_get(t->txn, t->s->db.sym, &k, &d);
    if (rc == MDB_NOTFOUND) return HK_OK;
    if (rc) return hks_store_mdb_error(t, rc, err, "looking up a symbol");
    if (d.mv_size != 4)
        return hk_error_set(err, HK_ERR_CORRUPT, "store: bad symbol entry");
    *id = hks_get_u32(d.mv_data);
    if (t->write && !hks_symtab_put(t->s->symtab, s, len, *id))
        t->s->symtab_complete = false;
    if (!t->write || *id < t->sym_floor) /* committed: stable forever */
        symidx_put(t->s->symcache, s, len, *id);
    return HK_OK;
}

/* ==== Search tokens of a new symbol ==== */

static hk_err collect_token(void *ud, const char *tok, size_t len)
{
    token_set *ts = ud;
    if (len == 0 || len > HKS_TOKEN_MAX_BYTES) return HK_OK;
    for (uint32_t i = 0; i < ts->n; i++)
        if (ts->len[i] == len && memcmp(ts->lower[i], tok, len) == 0)
            return HK_OK;
    if (ts->n == HKS_TOKENS_PER_SYMBOL) return HK_OK;
    memcpy(ts->lower[ts->n], tok, len);
    ts->tok[ts->n] = ts->lower[ts->n];
    ts->len[ts->n] = (uint32_t)len;
    ts->n++;
    return HK_OK;
}

static hk_err index_tokens(hk_txn *t, const char *s, size_t len, uint32_t id,
                           hk_error *err)
{
    /* a write txn holds writer_mu: the buffer is the writer's alone */
    hks_symcache *c = t->s->symcache;
    if (!c->tokens && !(c->tokens = hk_malloc(sizeof *c->tokens)))
        return hk_error_set(err, HK_ERR_NOMEM, "store: out of memory");
    token_set *ts = c->tokens;
    ts->n = 0;
    hk_err e = hk_tokenize(s, len, collect_token, ts);
    if (e) return hk_error_set(err, e, "store: tokenizing a symbol failed");
    /* Written sorted at flush (pending.c). */
    for (uint32_t i = 0; i < ts->n; i++)
        if (hks_pending_add_tok(&t->pend, ts->tok[i], ts->len[i], id))
            return hk_error_set(err, HK_ERR_NOMEM, "store: out of memory");
    return HK_OK;
}

hk_err hks_sym_intern(hk_txn *t, const char *s, size_t len, uint32_t *id,
                      hk_error *err)
{
    hk_err e = hks_sym_lookup(t, s, len, id, err);
    if (e || *id) return e;
    return hks_sym_create(t, s, len, id, err);
}

hk_err hks_sym_create(hk_txn *t, const char *s, size_t len, uint32_t *id,
                      hk_error *err)
{
    uint8_t key[HKS_SYM_KEY_MAX], v[4];
    hk_err e;
    if (len == 0)
        return hk_error_set(err, HK_ERR_INVALID, "store: empty symbol");
    if (t->c.next_sym_id >= UINT32_MAX)
        return hk_error_set(err, HK_ERR_LIMIT,
                            "store: symbol dictionary is full (2^32 ids)");
    uint32_t nid = (uint32_t)t->c.next_sym_id;
    hks_put_u32(v, nid);
    MDB_val k = {hks_sym_key(s, len, key), key}, d = {4, v};
    hks_txn_touch(t);
    HKS_SYM_ID_KEY(ik, nid);
    MDB_val id_d = {len, (void *)s};
    int rc = mdb_put(t->txn, t->s->db.sym_id, &ik, &id_d, MDB_APPEND);
    if (rc) return hks_store_mdb_error(t, rc, err, "adding a symbol id");
    hks_digest_update(t, HKS_DIGEST_SYM, nid, s, len, +1);
    t->new_syms = true; /* from here on an abort drops the symtab */
    /* Every lookup in a write txn asks the symtab before `sym`, so a
     * symbol it holds can wait for the sorted write at flush (pending.c);
     * one it declined is written now. */
    if (hks_symtab_put(t->s->symtab, s, len, nid)) {
        if (hks_pending_add_sym(&t->pend, key, k.mv_size, nid)) {
            t->failed = true;
            return hk_error_set(err, HK_ERR_NOMEM,
                                "store: out of memory adding a symbol");
        }
    } else {
        t->s->symtab_complete = false;
        rc = mdb_put(t->txn, t->s->db.sym, &k, &d, MDB_NOOVERWRITE);
        if (rc) return hks_store_mdb_error(t, rc, err, "adding a symbol");
    }
    t->c.next_sym_id++;
    t->counters_dirty = true;
    if ((e = index_tokens(t, s, len, nid, err))) {
        t->failed = true;
        return e;
    }
    *id = nid;
    return HK_OK;
}

void hks_sym_prefetch_slot(hk_txn *t, uint32_t id)
{
    symslot *ch =
        atomic_load_explicit(&t->s->symcache->chunks[id >> SYMCACHE_CHUNK_BITS],
                             memory_order_relaxed);
    if (ch) __builtin_prefetch(&ch[id & ((1u << SYMCACHE_CHUNK_BITS) - 1)]);
}

void hks_sym_prefetch_string(hk_txn *t, uint32_t id)
{
    const symstr *cs = symcache_get(t->s->symcache, id);
    if (cs) __builtin_prefetch(cs);
}

hk_err hks_sym_string(hk_txn *t, uint32_t id, const char **s, size_t *len,
                      hk_error *err)
{
    return hks_sym_string_or(t, id, HK_ERR_CORRUPT, s, len, err);
}

hk_err hks_sym_string_or(hk_txn *t, uint32_t id, hk_err missing, const char **s,
                         size_t *len, hk_error *err)
{
    const symstr *cs = symcache_get(t->s->symcache, id);
    if (cs) {
        *s = cs->s;
        *len = cs->len;
        return HK_OK;
    }
    uint32_t slot = (uint32_t)(id * 2654435761u) >> 22; /* 10 bits */
    hks_sym_cache_entry *c = &t->cache[slot & (HKS_SYM_CACHE_SIZE - 1)];
    if (c->id == id && c->gen == t->gen) {
        *s = c->ptr;
        *len = c->len;
        return HK_OK;
    }
    HKS_SYM_ID_KEY(k, id);
    MDB_val d;
    int rc = mdb_get(t->txn, t->s->db.sym_id, &k, &d);
    if (rc == MDB_NOTFOUND)
        return hk_error_set(err, missing,
                            missing == HK_ERR_CORRUPT
                                ? "store: symbol %u is missing"
                                : "store: no symbol %u",
                            id);
    if (rc) return hks_store_mdb_error(t, rc, err, "reading a symbol");
    if (!d.mv_size || !hks_val_sane(t, &d, HK_MAX_ARG_BYTES))
        return hk_error_set(err, HK_ERR_CORRUPT,
                            "store: symbol %u is damaged (%zu bytes)", id,
                            d.mv_size);
    bool committed = !t->write || id < t->sym_floor;
    if (committed &&
        (cs = symcache_put(t->s->symcache, id, d.mv_data, d.mv_size))) {
        *s = cs->s;
        *len = cs->len;
        return HK_OK;
    }
    c->id = id;
    c->gen = t->gen;
    c->ptr = d.mv_data;
    c->len = (uint32_t)d.mv_size;
    *s = c->ptr;
    *len = c->len;
    return HK_OK;
}
