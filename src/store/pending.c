/*
 * pending.c — deferred, sorted index writes of a write transaction.
 *
 * Adding a fact writes one `stmt` key, one `by_pred` duplicate and one
 * `by_arg` duplicate per argument (and a new symbol its `tok` entries) at
 * places spread randomly over those B-trees. Done one by one, each put
 * descends a cold path and dirties a different page. Instead a write
 * transaction collects them here and writes them at flush time in key
 * order, so consecutive puts land on the same (hot, already dirty) pages:
 * bulk imports run several times faster and dirty fewer pages.
 *
 * Correctness rules:
 *  - The MERGE check of hk_store_add asks the writer's Bloom filter (which
 *    has seen every stmt key and every pending one), then the pending
 *    `stmt` keys (hash index below), then the B-tree, so a statement added
 *    twice in one transaction is found.
 *  - Everything that reads `stmt`, `by_pred`, `by_arg`, `tok` or the
 *    predicate/entity counters in a write transaction (queries, counts,
 *    lists, search, stats, delete, update, commit) calls hks_txn_flush
 *    first.
 *  - The distinct-predicate and distinct-entity counters (and
 *    `pred_names`) are maintained at flush time: a key whose duplicate
 *    count is 1 right after a put is new.
 *  - Only new facts queue `by_pred` entries (their ids are above every
 *    stored one); an update writes its entry directly, after a flush.
 *  - Memory is bounded: hk_store_add flushes once HKS_PENDING_MAX_FACTS
 *    statements are waiting.
 *
 * Memory is kept: the queues, a small hash index and the sorts' work area
 * stay allocated from one write txn to the next (hks_pending_keep /
 * hks_pending_take, under the writer mutex), up to HKS_PENDING_KEEP_MAX
 * bytes. Allocating them afresh for every batch of a server cost a page
 * fault and a page clear per 4 KiB each time. The index grows with the
 * txn instead of being sized for a full queue up front: a 16 MiB table
 * for a batch of 10k statements made every probe and the clearing a
 * cache miss (bench/RESULTS.md, "Batches share a commit; the write
 * buffers are kept").
 */
#include <errno.h>
#include <stdlib.h>

#include "core/buf.h"
#include "core/mem.h"
#include "store/store_int.h"

#define HKS_PENDING_MAX_FACTS 1048576u
/* Bytes of empty queues kept between write txns at most: enough for the
 * batches of a server and a replicated node's grouped apply (a few 100k
 * facts); a bigger import's buffers are freed when it ends. */
#define HKS_PENDING_KEEP_MAX ((size_t)96 << 20)

/* The radix sorts below use 16-bit digits (65536 counters: a 256 KiB
 * clear and prefix sum per pass), which pays off for the big queues of a
 * bulk import. Below this many entries (the group commit of a server's
 * single-fact writes: tens to hundreds) those fixed costs dominated the
 * whole commit, so they use 8-bit digits instead: twice the passes over
 * the entries, 256 counters each (bench/RESULTS.md, "Durable single-fact
 * POSTs: CPU per fact"). */
#define RADIX_SMALL 8192u
#define RADIX_MAX_DIGITS 8 /* digits a record sort takes */

/* Index slots carry the high half of the key's hash next to the entry, so
 * a probe that meets another key is rejected without touching the entry
 * or its bytes (two cache misses fewer). */
#define SLOT_TAG(h) ((h) >> 32 << 32)

static const uint8_t *stmt_key_at(const hks_pending *p, size_t i)
{
    return (const uint8_t *)p->keys.data + p->stmt[i].off;
}

static bool grow_index_to(hks_pending *p, size_t cap)
{
    uint64_t *ni = NULL;
    if (p->big_index && p->big_mask + 1 == cap) { /* empty: see keep */
        ni = p->big_index;
        p->big_index = NULL;
        p->big_mask = 0;
    } else {
        ni = hk_calloc(cap, sizeof *ni);
    }
    if (!ni) return false;
    for (size_t i = 0; i < p->n_stmt; i++) {
        uint64_t h =
            hks_hash_bytes((const char *)stmt_key_at(p, i), p->stmt[i].len);
        size_t j = h & (cap - 1);
        while (ni[j])
            j = (j + 1) & (cap - 1);
        ni[j] = SLOT_TAG(h) | ((uint64_t)i + 1);
    }
    hk_free(p->index);
    p->index = ni;
    p->index_mask = cap - 1;
    return true;
}

/* Index slots a txn starts with at most (512 KiB): a bigger index is set
 * aside when its txn ends (big_index), so that the next (usually small)
 * txn probes a table that fits in the cache. */
#define INDEX_KEEP_SLOTS 65536u

/* Doubles the index while it is small (it stays in the cache, rehashing
 * is cheap); a txn that outgrows INDEX_KEEP_SLOTS is an import or a
 * replicated node's grouped apply, so the index then goes at once to
 * what a full queue needs at load 1/2 (one rehash of 32k entries instead
 * of several of big tables). That table (16 MiB) is kept empty between
 * txns (big_index) and taken by the next txn that outgrows the small
 * one: allocated afresh for each, its page faults and clears were a
 * tenth of a replicated node's apply thread catching up at 3M facts
 * (bench/RESULTS.md, "Replication commands in binary"). */
static bool grow_index(hks_pending *p)
{
    size_t cap = p->index_mask + 1, full = 2 * (size_t)HKS_PENDING_MAX_FACTS;
    if (!p->index_mask) return grow_index_to(p, 4096);
    size_t nc = cap * 2;
    if (cap >= INDEX_KEEP_SLOTS && nc < full) nc = full;
    return grow_index_to(p, nc);
}

/* Empties the index. A sparse one (a small transaction in a table sized
 * for a full queue) clears just the slots of its entries: each entry sits
 * at or after its home slot, so scanning from there finds it even when
 * other slots of its run were cleared first. */
static void clear_index(hks_pending *p)
{
    size_t cap = p->index_mask + 1;
    if (p->n_stmt * 16 >= cap) {
        memset(p->index, 0, cap * sizeof *p->index);
        return;
    }
    for (size_t i = 0; i < p->n_stmt; i++) {
        uint64_t h =
            hks_hash_bytes((const char *)stmt_key_at(p, i), p->stmt[i].len);
        uint64_t v = SLOT_TAG(h) | ((uint64_t)i + 1);
        size_t j = h & p->index_mask;
        size_t k = 0;
        for (; k < cap && p->index[j] != v; k++)
            j = (j + 1) & p->index_mask;
        if (k == cap) { /* not found: cannot happen; be safe */
            memset(p->index, 0, cap * sizeof *p->index);
            return;
        }
        p->index[j] = 0;
    }
}

void hks_pending_prefetch_stmt(const hks_pending *p, uint64_t h)
{
    if (p->index) __builtin_prefetch(&p->index[h & p->index_mask]);
}

hk_fact_id hks_pending_find_stmt(const hks_pending *p, const uint8_t *key,
                                 size_t len, uint64_t h)
{
    if (!p->n_stmt) return 0;
    for (size_t j = h & p->index_mask;; j = (j + 1) & p->index_mask) {
        uint64_t v = p->index[j];
        if (!v) return 0;
        if (SLOT_TAG(v) != SLOT_TAG(h)) continue;
        uint32_t e = (uint32_t)v - 1;
        const hks_pending_stmt *s = &p->stmt[e];
        if (s->len == len && memcmp(stmt_key_at(p, e), key, len) == 0)
            return s->id;
    }
}

/* Returns the queue array arr (n of *cap elem-byte entries used) with
 * room for one more entry, growing it (capacity doubles from first); NULL
 * when memory is short, arr staying valid then. */
static void *queue_room(void *arr, size_t n, size_t *cap, size_t elem,
                        size_t first)
{
    if (n < *cap) return arr;
    size_t nc = *cap ? *cap * 2 : first;
    void *na = hk_realloc(arr, nc * elem);
    if (na) *cap = nc;
    return na;
}

/* The sorts' work area of at least bytes bytes (kept between flushes and
 * transactions), NULL when memory is short. */
static void *scratch_get(hks_pending *p, size_t bytes)
{
    if (bytes <= p->cap_scratch) return p->scratch;
    size_t cap = p->cap_scratch ? p->cap_scratch : 65536;
    while (cap < bytes)
        cap *= 2;
    void *ns = hk_malloc(cap);
    if (!ns) return NULL;
    hk_free(p->scratch);
    p->scratch = ns;
    p->cap_scratch = cap;
    return ns;
}

/* Work area kept after a flush at most: an import's (tens of MiB) is
 * freed once its sort is written, so that LMDB's dirty pages of the next
 * write loop can reuse the memory. */
#define SCRATCH_KEEP_MAX ((size_t)4 << 20)

static void scratch_trim(hks_pending *p)
{
    if (p->cap_scratch <= SCRATCH_KEEP_MAX) return;
    hk_free(p->scratch);
    p->scratch = NULL;
    p->cap_scratch = 0;
}

/* Appends a key to keys and its entry (offset, length, value) to q. */
static hk_err queue_keyed(hks_pending_stmt **q, size_t *n, size_t *cap,
                          hk_buf *keys, const void *key, size_t len,
                          hk_fact_id value)
{
    hks_pending_stmt *nq = queue_room(*q, *n, cap, sizeof *nq, 1024);
    if (!nq) return HK_ERR_NOMEM;
    *q = nq;
    size_t off = keys->len;
    hk_err e = hk_buf_append(keys, key, len);
    if (e) return e;
    (*q)[(*n)++] = (hks_pending_stmt){(uint32_t)off, (uint32_t)len, value};
    return HK_OK;
}

hk_err hks_pending_add_stmt(hks_pending *p, const uint8_t *key, size_t len,
                            uint64_t h, hk_fact_id id)
{
    if ((p->n_stmt + 1) * 2 > p->index_mask + 1 && !grow_index(p))
        return HK_ERR_NOMEM;
    size_t i = p->n_stmt;
    hk_err e =
        queue_keyed(&p->stmt, &p->n_stmt, &p->cap_stmt, &p->keys, key, len, id);
    if (e) return e;
    size_t j = h & p->index_mask;
    while (p->index[j])
        j = (j + 1) & p->index_mask;
    p->index[j] = SLOT_TAG(h) | ((uint64_t)i + 1);
    return HK_OK;
}

hk_err hks_pending_add_tok(hks_pending *p, const char *tok, size_t len,
                           uint32_t sym)
{
    return queue_keyed(&p->tok, &p->n_tok, &p->cap_tok, &p->tok_keys, tok, len,
                       sym);
}

hk_err hks_pending_add_sym(hks_pending *p, const uint8_t *key, size_t len,
                           uint32_t id)
{
    return queue_keyed(&p->sym, &p->n_sym, &p->cap_sym, &p->sym_keys, key, len,
                       id);
}

hk_err hks_pending_add_pred(hks_pending *p, uint32_t pred, hk_fact_id id)
{
    hks_pending_pred *np =
        queue_room(p->pred, p->n_pred, &p->cap_pred, sizeof *np, 1024);
    if (!np) return HK_ERR_NOMEM;
    p->pred = np;
    hks_pending_pred *e = &p->pred[p->n_pred++];
    hks_put_u32(e->k, pred);
    hks_put_u48(e->k + 4, id);
    return HK_OK;
}

hk_err hks_pending_add_arg(hks_pending *p, uint32_t ent,
                           const uint8_t dup[HKS_ARG_DUP_BYTES])
{
    hks_pending_arg *na =
        queue_room(p->arg, p->n_arg, &p->cap_arg, sizeof *na, 4096);
    if (!na) return HK_ERR_NOMEM;
    p->arg = na;
    hks_pending_arg *a = &p->arg[p->n_arg++];
    hks_put_u32(a->k, ent);
    memcpy(a->k + 4, dup, HKS_ARG_DUP_BYTES);
    return HK_OK;
}

/* LMDB's default order: memcmp over the common length, shorter first.
 * ud: the key bytes the entries' offsets refer to. */
static int cmp_stmt(const void *a, const void *b, void *ud)
{
    const uint8_t *keys = ud;
    const hks_pending_stmt *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(keys + x->off, keys + y->off, n);
    if (c) return c;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id; /* tok: duplicates in order */
}

/* Order of the stmt, sym or tok entries for writing: LSD radix sort
 * (16-bit digits) of each key's first 8 bytes read big-endian and
 * zero-padded, then the runs with equal prefixes by cmp_stmt (equal tok
 * keys by sym id). That is LMDB's order: zero padding never puts a key
 * after a longer key it is a prefix of (their prefixes are equal or the
 * longer one's is greater), and equal prefixes go to cmp_stmt.
 * Returns the entries in order, in p's work area (valid until its next
 * use), NULL when memory is short. */
typedef struct stmt_ord {
    uint64_t pre;       /* first 8 key bytes, big-endian, zero-padded */
    hks_pending_stmt e; /* the entry (copied: the write loop then reads
                          the sorted array in order, not p->stmt at
                          random) */
} stmt_ord;

static int cmp_ord(const void *a, const void *b, void *ud)
{
    return cmp_stmt(&((const stmt_ord *)a)->e, &((const stmt_ord *)b)->e, ud);
}

static stmt_ord *sort_keyed(hks_pending *p, const hks_pending_stmt *ent,
                            size_t n, const uint8_t *keys)
{
    /* 16-bit digits for big queues, 8-bit ones for small (RADIX_SMALL) */
    unsigned bits = n < RADIX_SMALL ? 8 : 16;
    size_t n_cnt = (size_t)1 << bits;
    uint64_t mask = n_cnt - 1;
    uint32_t small[256];
    /* work area: the entries twice (source and target of a pass), then
     * the 16-bit digits' counters */
    stmt_ord *a =
        scratch_get(p, 2 * n * sizeof *a + (bits == 8 ? 0 : n_cnt * 4));
    if (!a) return NULL;
    stmt_ord *tmp = a + n;
    uint32_t *cnt = bits == 8 ? small : (uint32_t *)(tmp + n);
    for (size_t i = 0; i < n; i++) {
        uint8_t b[8] = {0};
        const hks_pending_stmt *e = &ent[i];
        memcpy(b, keys + e->off, e->len < 8 ? e->len : 8);
        a[i].pre = hks_get_u64(b);
        a[i].e = *e;
    }
    stmt_ord *src = a, *dst = tmp;
    for (unsigned sh = 0; sh < 64; sh += bits) {
        memset(cnt, 0, n_cnt * sizeof *cnt);
        for (size_t i = 0; i < n; i++)
            cnt[(src[i].pre >> sh) & mask]++;
        if (cnt[(src[0].pre >> sh) & mask] == n)
            continue; /* every key has this digit */
        uint32_t sum = 0;
        for (size_t v = 0; v < n_cnt; v++) {
            uint32_t c = cnt[v];
            cnt[v] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[cnt[(src[i].pre >> sh) & mask]++] = src[i];
        stmt_ord *x = src;
        src = dst;
        dst = x;
    }
    for (size_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && src[j].pre == src[i].pre; j++)
            ;
        if (j - i > 1)
            qsort_r(src + i, j - i, sizeof *src, cmp_ord, (void *)keys);
    }
    return src;
}

/* ==== Duplicate queues: by_pred and by_arg ====
 * Their entries are fixed-size records: a 4-byte big-endian key (the
 * predicate or entity) followed by the duplicate LMDB stores under it, so
 * memcmp order of a record is the order of the rows. One radix sort serves
 * both; by_pred records are written by flush_dups, by_arg records into the
 * entities' chunks by hks_arg_write_sorted (argidx.c). */

/* A 16-bit digit of a record (bytes = 2) or an 8-bit one (bytes = 1). */
typedef struct radix_digit {
    uint8_t off;   /* byte offset in the record */
    uint8_t bytes; /* 1 or 2 */
} radix_digit;

static inline __attribute__((always_inline)) unsigned digit_of(const uint8_t *r,
                                                               radix_digit d)
{
    return d.bytes == 1 ? r[d.off] : (unsigned)r[d.off] << 8 | r[d.off + 1];
}

/* Stable LSD radix sort of n records of width bytes by the digits dig
 * (least significant first). The queues are appended in fact id order and
 * the sort is stable, so records equal in every digit stay in id order:
 * sorting by the digits before the id gives full record order. Digits on
 * which all records agree are skipped. Below RADIX_SMALL records each
 * 16-bit digit is sorted as two 8-bit ones (low byte first). Inlined with
 * a constant width, so each record copy is a few moves. The copy and the
 * counters live in p's work area. false when memory is short. */
static inline __attribute__((always_inline)) bool
sort_records(hks_pending *p, uint8_t *a, size_t n, size_t width,
             const radix_digit *dig, int n_dig)
{
    radix_digit bytes[2 * RADIX_MAX_DIGITS];
    uint32_t small[256];
    uint32_t *cnt = small;
    size_t n_cnt = 256;
    if (n < RADIX_SMALL && n_dig <= RADIX_MAX_DIGITS) {
        int k = 0;
        for (int d = 0; d < n_dig; d++) {
            if (dig[d].bytes == 2)
                bytes[k++] = (radix_digit){(uint8_t)(dig[d].off + 1), 1};
            bytes[k++] = (radix_digit){dig[d].off, 1};
        }
        dig = bytes;
        n_dig = k;
    } else {
        n_cnt = 65536;
    }
    size_t tmp_bytes = (n * width + 7) & ~(size_t)7; /* counters aligned */
    uint8_t *tmp =
        scratch_get(p, tmp_bytes + (n_cnt == 256 ? 0 : n_cnt * sizeof *cnt));
    if (!tmp) return false;
    if (n_cnt != 256) cnt = (uint32_t *)(tmp + tmp_bytes);
    uint8_t *src = a, *dst = tmp;
    for (int d = 0; d < n_dig; d++) {
        memset(cnt, 0, n_cnt * sizeof *cnt);
        for (size_t i = 0; i < n; i++)
            cnt[digit_of(src + i * width, dig[d])]++;
        if (cnt[digit_of(src, dig[d])] == n) continue; /* all share it */
        uint32_t sum = 0;
        for (size_t v = 0; v < n_cnt; v++) {
            uint32_t c = cnt[v];
            cnt[v] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            memcpy(dst +
                       (size_t)cnt[digit_of(src + i * width, dig[d])]++ * width,
                   src + i * width, width);
        uint8_t *x = src;
        src = dst;
        dst = x;
    }
    if (src != a) memcpy(a, src, n * width);
    return true;
}

/* by_arg records: (entity, position, predicate) digits, least significant
 * first: pred lo, pred hi, pos (one byte), entity lo, entity hi. */
static bool sort_args(hks_pending *p, hks_pending_arg *a, size_t n)
{
    static const radix_digit dig[] = {{7, 2}, {5, 2}, {4, 1}, {2, 2}, {0, 2}};
    return sort_records(p, a->k, n, sizeof *a, dig, 5);
}

/* by_pred records: by predicate (then id, their queue order). */
static bool sort_preds(hks_pending *p, hks_pending_pred *a, size_t n)
{
    static const radix_digit dig[] = {{2, 2}, {0, 2}};
    return sort_records(p, a->k, n, sizeof *a, dig, 2);
}

/* Called for a key that got its first duplicate. */
typedef int (*new_key_fn)(hk_txn *t, const uint8_t key[4]);

/* A predicate's first fact: count it and list its name. */
static int new_predicate(hk_txn *t, const uint8_t key[4])
{
    uint8_t nk[HKS_SYM_KEY_MAX];
    HKS_SYM_ID_KEY(ik, hks_get_u32(key));
    MDB_val name;
    int rc = mdb_get(t->txn, t->s->db.sym_id, &ik, &name);
    if (rc) return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
    MDB_val nkv = {hks_sym_key(name.mv_data, name.mv_size, nk), nk};
    MDB_val sv = {4, (void *)key};
    if ((rc = mdb_put(t->txn, t->s->db.pred_names, &nkv, &sv, 0))) return rc;
    t->c.predicates++;
    return 0;
}

/* Writes n sorted records of width bytes through cursor c (a DUPSORT |
 * DUPFIXED database with 4-byte keys):
 *  - keys above the database's last key (predicates or entities first
 *    used in this batch: their sym ids are the newest) are appended,
 *    MDB_APPEND for the first duplicate and MDB_APPENDDUP for the rest, so
 *    their pages fill completely and no search is needed;
 *  - other keys get a plain put, or MDB_APPENDDUP when last_dups says each
 *    duplicate sorts after the stored ones (by_pred: new facts have the
 *    largest ids; a refused append falls back to a plain put);
 *  - a key that gets its first duplicate (duplicate count 1 right after
 *    the put) goes to on_new. */
static int flush_dups(hk_txn *t, MDB_cursor *c, const uint8_t *recs, size_t n,
                      size_t width, bool last_dups, new_key_fn on_new)
{
    uint8_t last_key[4] = {0, 0, 0, 0};
    bool have_last = false;
    MDB_val lk, ld;
    int rc = mdb_cursor_get(c, &lk, &ld, MDB_LAST);
    if (rc == 0 && lk.mv_size == 4) {
        memcpy(last_key, lk.mv_data, 4);
        have_last = true;
    } else if (rc && rc != MDB_NOTFOUND) {
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        const uint8_t *r = recs + i * width;
        MDB_val k = {4, (void *)r}, d = {width - 4, (void *)(r + 4)};
        bool first = i == 0 || memcmp(r, r - width, 4) != 0;
        size_t cnt = 0;
        if (!have_last || memcmp(r, last_key, 4) > 0) {
            if ((rc = mdb_cursor_put(c, &k, &d,
                                     first ? MDB_APPEND : MDB_APPENDDUP)))
                return rc;
            if (first && (rc = on_new(t, r))) return rc;
            continue;
        }
        rc = mdb_cursor_put(c, &k, &d, last_dups ? MDB_APPENDDUP : 0);
        if (rc == MDB_KEYEXIST && last_dups) /* not the last after all */
            rc = mdb_cursor_put(c, &k, &d, 0);
        if (rc) return rc;
        if (!first) continue; /* same key as the record before: not new */
        if ((rc = mdb_cursor_count(c, &cnt))) return rc;
        if (cnt == 1 && (rc = on_new(t, r))) return rc;
    }
    t->counters_dirty = true;
    return 0;
}

void hks_pending_free(hks_pending *p)
{
    hk_free(p->scratch);
    hk_free(p->tok);
    hk_buf_free(&p->tok_keys);
    hk_free(p->stmt);
    hk_free(p->index);
    hk_free(p->big_index);
    hk_free(p->arg);
    hk_free(p->pred);
    hk_free(p->sym);
    hk_buf_free(&p->sym_keys);
    hk_buf_free(&p->keys);
    memset(p, 0, sizeof *p);
}

/* ==== Keyed queues: sym, tok and stmt ==== */

typedef enum keyed_kind {
    KEYED_SYM, /* sym: symbol key -> sym id u32 BE, keys new */
    KEYED_TOK, /* tok: token -> sym id u32 BE duplicates, each (nearly
                  always) its token's last: MDB_APPENDDUP, else a plain
                  insert; an existing pair is fine */
    KEYED_STMT /* stmt: statement key -> fact id varint, keys new */
} keyed_kind;

/* Writes the n entries of q (keys in keys) into dbi in key order (see
 * sort_keyed). A key of a new kind that exists already gives
 * MDB_KEYEXIST: the MERGE check or symbol lookup said it was absent. */
static int flush_keyed(hk_txn *t, MDB_dbi dbi, const hks_pending_stmt *q,
                       size_t n, const uint8_t *keys, keyed_kind kind)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, dbi, &c);
    if (rc) return rc;
    stmt_ord *ord = sort_keyed(&t->pend, q, n, keys);
    if (!ord) {
        mdb_cursor_close(c);
        return ENOMEM;
    }
    for (size_t o = 0; o < n && !rc; o++) {
        const hks_pending_stmt *e = &ord[o].e;
        uint8_t v[HKS_STMT_VAL_MAX];
        if (o + 16 < n) /* keys are read in random order */
            __builtin_prefetch(keys + ord[o + 16].e.off);
        MDB_val k = {e->len, (void *)(keys + e->off)}, d = {4, v};
        if (kind == KEYED_STMT)
            d.mv_size = hks_varint_put(v, e->id);
        else
            hks_put_u32(v, (uint32_t)e->id);
        if (kind != KEYED_TOK) {
            rc = mdb_cursor_put(c, &k, &d, MDB_NOOVERWRITE);
            continue;
        }
        rc = mdb_cursor_put(c, &k, &d, MDB_APPENDDUP);
        if (rc == MDB_KEYEXIST) /* not last after all: plain insert */
            rc = mdb_cursor_put(c, &k, &d, MDB_NODUPDATA);
        if (rc == MDB_KEYEXIST) rc = 0;
    }
    mdb_cursor_close(c);
    scratch_trim(&t->pend);
    return rc;
}

/* ==== Flush ==== */

hk_err hks_pending_flush(hk_txn *t, hk_error *err)
{
    hks_pending *p = &t->pend;
    const hks_store_dbs *db = &t->s->db;
    int rc = 0;
    if (!p->n_stmt && !p->n_arg && !p->n_tok && !p->n_pred && !p->n_sym)
        return HK_OK;
    hks_txn_touch(t);
    if (p->n_sym) {
        rc = flush_keyed(t, db->sym, p->sym, p->n_sym,
                         (const uint8_t *)p->sym_keys.data, KEYED_SYM);
        if (rc) goto fail;
        p->n_sym = 0;
        hk_buf_reset(&p->sym_keys);
    }
    if (p->n_pred) {
        if (!t->c_by_pred &&
            (rc = mdb_cursor_open(t->txn, db->by_pred, &t->c_by_pred)))
            goto fail;
        if (!sort_preds(p, p->pred, p->n_pred)) {
            rc = ENOMEM;
            goto fail;
        }
        scratch_trim(p); /* sorted in place: the work area is done */
        rc = flush_dups(t, t->c_by_pred, p->pred->k, p->n_pred, sizeof *p->pred,
                        true, new_predicate);
        if (rc) goto fail;
        p->n_pred = 0;
    }
    if (p->n_tok) {
        rc = flush_keyed(t, db->tok, p->tok, p->n_tok,
                         (const uint8_t *)p->tok_keys.data, KEYED_TOK);
        if (rc) goto fail;
        p->n_tok = 0;
        hk_buf_reset(&p->tok_keys);
    }
    if (p->n_stmt) {
        t->stmt_sym_floor = t->c.next_sym_id; /* stmt_lookup (facts.c) */
        rc = flush_keyed(t, db->stmt, p->stmt, p->n_stmt,
                         (const uint8_t *)p->keys.data, KEYED_STMT);
        if (rc) goto fail;
        clear_index(p);
        p->n_stmt = 0;
        hk_buf_reset(&p->keys);
    }
    if (p->n_arg) {
        if (!t->c_by_arg &&
            (rc = mdb_cursor_open(t->txn, db->by_arg, &t->c_by_arg)))
            goto fail;
        if (!t->c_tail &&
            (rc = mdb_cursor_open(t->txn, db->by_arg_tail, &t->c_tail)))
            goto fail;
        if (!sort_args(p, p->arg, p->n_arg)) {
            rc = ENOMEM;
            goto fail;
        }
        scratch_trim(p);
        /* into the entities' chunks and tails (argidx.c) */
        uint64_t fresh = 0;
        rc = hks_arg_write_sorted(t->c_by_arg, t->c_tail, p->arg->k, p->n_arg,
                                  sizeof *p->arg, t->s->arg_chunk, &fresh);
        t->c.entities += fresh;
        t->counters_dirty = true;
        if (rc) goto fail;
        p->n_arg = 0;
    }
    return HK_OK;
fail:
    if (rc == MDB_KEYEXIST) {
        /* the MERGE check said the key was absent: a bug or damage */
        t->failed = true;
        return hk_error_set(err, HK_ERR_CORRUPT,
                            "store: writing indexes: a statement or symbol "
                            "found absent is already indexed");
    }
    return hks_store_mdb_error(t, rc, err, "writing indexes");
}

bool hks_pending_full(const hks_pending *p)
{
    return p->n_stmt >= HKS_PENDING_MAX_FACTS;
}

/* ==== Kept between transactions ==== */

static size_t held_bytes(const hks_pending *p)
{
    return p->tok_keys.cap + p->cap_tok * sizeof *p->tok + p->keys.cap +
           p->cap_stmt * sizeof *p->stmt +
           (p->index ? (p->index_mask + 1) * sizeof *p->index : 0) +
           (p->big_index ? (p->big_mask + 1) * sizeof *p->big_index : 0) +
           p->sym_keys.cap + p->cap_sym * sizeof *p->sym +
           p->cap_pred * sizeof *p->pred + p->cap_arg * sizeof *p->arg +
           p->cap_scratch;
}

void hks_pending_keep(hk_txn *t)
{
    hks_pending *p = &t->pend;
    hk_store *s = t->s;
    if (held_bytes(p) > HKS_PENDING_KEEP_MAX || s->spare) {
        hks_pending_free(p);
        return;
    }
    /* an aborted txn may leave entries: empty every queue */
    if (p->index && p->n_stmt) clear_index(p);
    if (p->index_mask + 1 > INDEX_KEEP_SLOTS) { /* set aside, empty */
        hk_free(p->big_index);
        p->big_index = p->index;
        p->big_mask = p->index_mask;
        p->index = NULL;
        p->index_mask = 0;
    }
    p->n_stmt = p->n_tok = p->n_sym = p->n_pred = p->n_arg = 0;
    hk_buf_reset(&p->keys);
    hk_buf_reset(&p->tok_keys);
    hk_buf_reset(&p->sym_keys);
    hks_pending *keep = hk_malloc(sizeof *keep);
    if (!keep) {
        hks_pending_free(p);
        return;
    }
    *keep = *p;
    memset(p, 0, sizeof *p);
    s->spare = keep;
}

void hks_pending_take(hk_txn *t)
{
    hks_pending *keep = t->s->spare;
    if (!keep) return;
    hks_pending_free(&t->pend); /* empty: a txn takes before it queues */
    t->pend = *keep;
    hk_free(keep);
    t->s->spare = NULL;
}
