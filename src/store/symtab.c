/*
 * symtab.c — the writer's in-memory dictionary cache: string -> sym id.
 *
 * Interning every predicate and argument of every added fact would cost a
 * B-tree descent with string compares per symbol (several per fact). Since
 * a symbol's id never changes once committed (symbols are never removed or
 * renumbered), a process-wide cache of string -> id stays correct forever
 * for one KB. It is only touched inside write transactions, which LMDB
 * serializes (its writer mutex is held from hk_txn_begin(write) to
 * commit/abort), so it needs no lock of its own.
 *
 * Symbols created by a transaction enter the cache at once (the same
 * transaction may use them again); if that transaction aborts, the whole
 * cache is dropped (aborts are rare; correctness beats keeping it warm).
 *
 * When the cache holds every symbol of the KB (the handle started on an
 * empty KB, or loaded the dictionary at a bulk transaction, and never
 * declined an entry, and no other writer committed since), a miss means
 * the string is not in the dictionary: new symbols cost no failed B-tree
 * lookup.
 *
 * Open addressing with linear probing over 64-bit hashes. A slot is 32
 * bytes (two per cache line) and holds strings of up to 16 bytes itself,
 * so the common short symbol is confirmed without a second cache miss;
 * longer strings live in an arena of 1 MiB chunks. Callers that know
 * several strings up front (the symbols of one statement) hash them first
 * and prefetch their slots (hks_symtab_prefetch), so the misses overlap. Memory
 * is bounded: past HKS_SYMTAB_MAX entries or HKS_SYMTAB_ARENA_MAX bytes nothing
 * new is cached (lookups then fall back to LMDB), and the first symbols seen —
 * for Zipf-distributed data the frequent ones — stay.
 */
#include "core/mem.h"
#include "store/store_int.h"

#define HKS_SYMTAB_MAX (1u << 22)         /* entries */
#define HKS_SYMTAB_ARENA_MAX (256u << 20) /* bytes of strings */
#define ARENA_CHUNK (1u << 20)

#define SLOT_INLINE 16u /* strings up to this long live in the slot */

typedef struct symtab_slot {
    uint64_t hash; /* hash of the string (0 = empty slot) */
    uint32_t id;   /* sym id */
    uint32_t len;  /* string length */
    union {
        char inl[SLOT_INLINE]; /* the bytes, when len <= SLOT_INLINE */
        const char *str;       /* else: the bytes in the arena */
    } u;
} symtab_slot;
_Static_assert(sizeof(symtab_slot) == 32, "two slots per cache line");

static inline const char *slot_str(const symtab_slot *sl)
{
    return sl->len <= SLOT_INLINE ? sl->u.inl : sl->u.str;
}

typedef struct arena_chunk {
    struct arena_chunk *next; /* older chunk */
    size_t used;              /* bytes used in data */
    size_t cap;               /* bytes available in data */
    char data[];              /* string bytes */
} arena_chunk;

struct hks_symtab {
    symtab_slot *slots; /* table, power-of-two size */
    size_t mask;        /* size - 1 */
    size_t n;           /* entries */
    arena_chunk *arena; /* newest chunk first */
    size_t arena_bytes; /* total chunk bytes */
};

#define hash_bytes hks_hash_bytes

void hks_symtab_free(hks_symtab *st)
{
    if (!st) return;
    arena_chunk *c = st->arena;
    while (c) {
        arena_chunk *next = c->next;
        hk_free(c);
        c = next;
    }
    hk_free(st->slots);
    hk_free(st);
}

void hks_symtab_clear(hks_symtab *st)
{
    if (!st) return;
    arena_chunk *c = st->arena;
    while (c) {
        arena_chunk *next = c->next;
        hk_free(c);
        c = next;
    }
    st->arena = NULL;
    st->arena_bytes = 0;
    memset(st->slots, 0, (st->mask + 1) * sizeof *st->slots);
    st->n = 0;
}

hks_symtab *hks_symtab_new(void)
{
    hks_symtab *st = hk_calloc(1, sizeof *st);
    if (!st) return NULL;
    st->mask = 4095;
    st->slots = hk_calloc(st->mask + 1, sizeof *st->slots);
    if (!st->slots) {
        hk_free(st);
        return NULL;
    }
    return st;
}

void hks_symtab_prefetch(const hks_symtab *st, uint64_t h)
{
    if (st) __builtin_prefetch(&st->slots[h & st->mask]);
}

uint32_t hks_symtab_get_hashed(const hks_symtab *st, const char *s, size_t len,
                               uint64_t h)
{
    if (!st) return 0;
    for (size_t i = h & st->mask;; i = (i + 1) & st->mask) {
        const symtab_slot *sl = &st->slots[i];
        if (!sl->hash) return 0;
        if (sl->hash == h && sl->len == len &&
            memcmp(slot_str(sl), s, len) == 0)
            return sl->id;
    }
}

uint32_t hks_symtab_get(const hks_symtab *st, const char *s, size_t len)
{
    return hks_symtab_get_hashed(st, s, len, hash_bytes(s, len));
}

static bool grow(hks_symtab *st)
{
    size_t ncap = (st->mask + 1) * 2;
    symtab_slot *ns = hk_calloc(ncap, sizeof *ns);
    if (!ns) return false;
    for (size_t i = 0; i <= st->mask; i++) {
        symtab_slot *sl = &st->slots[i];
        if (!sl->hash) continue;
        size_t j = sl->hash & (ncap - 1);
        while (ns[j].hash)
            j = (j + 1) & (ncap - 1);
        ns[j] = *sl;
    }
    hk_free(st->slots);
    st->slots = ns;
    st->mask = ncap - 1;
    return true;
}

static const char *arena_copy(hks_symtab *st, const char *s, size_t len)
{
    arena_chunk *c = st->arena;
    if (!c || c->cap - c->used < len) {
        size_t cap = len > ARENA_CHUNK ? len : ARENA_CHUNK;
        if (st->arena_bytes + cap > HKS_SYMTAB_ARENA_MAX) return NULL;
        c = hk_malloc(sizeof *c + cap);
        if (!c) return NULL;
        c->next = st->arena;
        c->used = 0;
        c->cap = cap;
        st->arena = c;
        st->arena_bytes += cap;
    }
    char *p = c->data + c->used;
    memcpy(p, s, len);
    c->used += len;
    return p;
}

static bool put_hashed(hks_symtab *st, const char *s, size_t len, uint32_t id,
                       uint64_t h)
{
    /* Best effort: a full or out-of-memory cache just caches less. */
    if (!st || st->n >= HKS_SYMTAB_MAX) return false;
    if ((st->n + 1) * 2 > st->mask + 1 && !grow(st)) return false;
    size_t i = h & st->mask;
    for (;; i = (i + 1) & st->mask) {
        symtab_slot *sl = &st->slots[i];
        if (!sl->hash) break;
        if (sl->hash == h && sl->len == len &&
            memcmp(slot_str(sl), s, len) == 0)
            return true;
    }
    symtab_slot ns = {.hash = h, .id = id, .len = (uint32_t)len};
    if (len <= SLOT_INLINE) {
        memcpy(ns.u.inl, s, len);
    } else if (!(ns.u.str = arena_copy(st, s, len))) {
        return false;
    }
    st->slots[i] = ns;
    st->n++;
    return true;
}

bool hks_symtab_put(hks_symtab *st, const char *s, size_t len, uint32_t id)
{
    return put_hashed(st, s, len, id, hash_bytes(s, len));
}

#define HKS_SYMTAB_PRELOAD_MAX 2000000u

hk_err hks_symtab_preload(hk_txn *t, hk_error *err)
{
    hk_store *s = t->s;
    if (s->symtab_complete || !s->symtab ||
        t->c.next_sym_id - 1 > HKS_SYMTAB_PRELOAD_MAX)
        return HK_OK;
    MDB_cursor *c;
    MDB_val k, d;
    int rc = mdb_cursor_open(t->txn, s->db.sym_id, &c);
    if (rc) return hks_store_mdb_error(t, rc, err, "loading the dictionary");
    bool all = true;
    /* Size the table for the whole dictionary at once (no rehashing while
     * it grows), and insert each symbol PIPE symbols after prefetching its
     * slot, so that the cache misses overlap. The strings point into the
     * map: valid, since nothing is written meanwhile. */
    hks_symtab *st = s->symtab;
    while ((t->c.next_sym_id + 1) * 2 > st->mask + 1 && grow(st))
        ;
    enum { PIPE = 16 };
    struct {
        const char *s; /* string in the map */
        size_t len;    /* its length */
        uint32_t id;   /* its sym id */
        uint64_t h;    /* its hash */
    } ring[PIPE];
    size_t n = 0;
    for (rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); rc == 0 && all;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT), n++) {
        unsigned int id;
        if (k.mv_size != sizeof id || !hks_val_sane(t, &d, HK_MAX_ARG_BYTES))
            break;
        memcpy(&id, k.mv_data, sizeof id);
        uint64_t h = hash_bytes(d.mv_data, d.mv_size);
        hks_symtab_prefetch(st, h);
        if (n >= PIPE) {
            size_t j = n % PIPE;
            all = put_hashed(st, ring[j].s, ring[j].len, ring[j].id, ring[j].h);
        }
        ring[n % PIPE].s = d.mv_data;
        ring[n % PIPE].len = d.mv_size;
        ring[n % PIPE].id = id;
        ring[n % PIPE].h = h;
    }
    for (size_t i = n > PIPE ? n - PIPE : 0; i < n && all; i++)
        all = put_hashed(st, ring[i % PIPE].s, ring[i % PIPE].len,
                         ring[i % PIPE].id, ring[i % PIPE].h);
    mdb_cursor_close(c);
    if (rc && rc != MDB_NOTFOUND)
        return hks_store_mdb_error(t, rc, err, "loading the dictionary");
    s->symtab_complete = all && rc == MDB_NOTFOUND;
    return HK_OK;
}
