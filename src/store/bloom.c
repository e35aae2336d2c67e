/*
 * bloom.c — the writer's Bloom filter over `stmt` keys.
 *
 * In a bulk import almost every statement is new, yet the MERGE check of
 * hk_store_add must look it up in `stmt`: a B-tree descent that finds
 * nothing. A Bloom filter answers most of those "no" in a few nanoseconds.
 * It may say "maybe" for a key that is absent (about 1% of the time; the
 * B-tree then decides) but never "no" for a present key, provided it has
 * seen every key in `stmt`. That holds because:
 *  - it is built by a full scan of `stmt` inside a write transaction (the
 *    writer lock is held, so nothing is added meanwhile);
 *  - every key added afterwards by this process goes in (index_add);
 *  - deletions leave bits set (only more "maybe");
 *  - a commit by any other writer (another process) is noticed: the store
 *    remembers the LMDB id of the last write transaction it committed, and
 *    a write transaction whose id is not that + 1 drops the filter.
 * Like the symtab it is touched only under the writer lock.
 *
 * It is built only for bulk transactions (imports), sized for twice the
 * current keys plus room for a large batch, and rebuilt (bigger) at the
 * start of a bulk transaction once it holds more keys than it was sized
 * for. 10 bits and 4 probes per key.
 *
 * Blocked layout: the 4 bits of a key lie in one 64-byte block (chosen by
 * the high bits of the hash, the bits by 9-bit slices of the low ones), so
 * a check or an add costs one cache miss instead of four; the false
 * positive rate rises only from about 1.2% to about 1.5%. The hash is
 * hks_hash_bytes, the same as the pending statement index uses, so one
 * hash per statement serves both.
 */
#include "core/mem.h"
#include "store/store_int.h"

#define BLOOM_BITS_PER_KEY 10u
#define BLOOM_PROBES 4u
#define BLOOM_MIN_KEYS (1u << 20)

struct hks_bloom {
    uint64_t *bits;    /* bit array */
    uint64_t n_bits;   /* size in bits (power of two) */
    uint64_t cap_keys; /* keys it was sized for */
    uint64_t n_keys;   /* keys added */
};

#define BLOCK_WORDS 8u /* uint64 words per 64-byte block */

/* The block of hash h (high bits: independent of the bit slices). */
static inline uint64_t *block_of(const hks_bloom *b, uint64_t h)
{
    uint64_t blocks = b->n_bits / 512;
    return b->bits + ((h >> 36) & (blocks - 1)) * BLOCK_WORDS;
}

void hks_bloom_free(hks_bloom *b)
{
    if (!b) return;
    hk_free(b->bits);
    hk_free(b);
}

bool hks_bloom_needs_rebuild(const hks_bloom *b)
{
    return !b || b->n_keys > b->cap_keys;
}

void hks_bloom_add(hks_bloom *b, uint64_t h)
{
    if (!b) return;
    uint64_t *blk = block_of(b, h);
    for (unsigned i = 0; i < BLOOM_PROBES; i++) {
        unsigned bit = (unsigned)(h >> (9 * i)) & 511u;
        blk[bit >> 6] |= 1ull << (bit & 63);
    }
    b->n_keys++;
}

void hks_bloom_prefetch(const hks_bloom *b, uint64_t h)
{
    if (b) __builtin_prefetch(block_of(b, h));
}

bool hks_bloom_maybe(const hks_bloom *b, uint64_t h)
{
    if (!b) return true;
    const uint64_t *blk = block_of(b, h);
    for (unsigned i = 0; i < BLOOM_PROBES; i++) {
        unsigned bit = (unsigned)(h >> (9 * i)) & 511u;
        if (!(blk[bit >> 6] & (1ull << (bit & 63)))) return false;
    }
    return true;
}

hk_err hks_bloom_build(hk_txn *t, hks_bloom **out, hk_error *err)
{
    MDB_stat st;
    MDB_cursor *c = NULL;
    MDB_val k, d;
    int rc = mdb_stat(t->txn, t->s->db.stmt, &st);
    if (rc) return hks_store_mdb_error(t, rc, err, "sizing the bloom filter");
    uint64_t keys = 2 * (uint64_t)st.ms_entries + BLOOM_MIN_KEYS;
    uint64_t n_bits = 512; /* at least one block */
    while (n_bits < keys * BLOOM_BITS_PER_KEY)
        n_bits <<= 1;
    hks_bloom *b = hk_calloc(1, sizeof *b);
    if (!b || !(b->bits = hk_calloc(n_bits / 64, sizeof(uint64_t)))) {
        hk_free(b);
        *out = NULL; /* no filter: every lookup goes to the B-tree */
        return HK_OK;
    }
    b->n_bits = n_bits;
    b->cap_keys = n_bits / BLOOM_BITS_PER_KEY;
    if ((rc = mdb_cursor_open(t->txn, t->s->db.stmt, &c))) goto fail;
    /* Each add is a cache miss at a random block: the block of a key is
     * prefetched and the key added PIPE keys later, so that the misses
     * overlap (a KB of 10M facts: several times faster). */
    enum { PIPE = 16 };
    uint64_t ring[PIPE];
    size_t n = 0;
    for (rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT), n++) {
        uint64_t h = hks_hash_bytes(k.mv_data, k.mv_size);
        hks_bloom_prefetch(b, h);
        if (n >= PIPE) hks_bloom_add(b, ring[n % PIPE]);
        ring[n % PIPE] = h;
    }
    for (size_t i = n > PIPE ? n - PIPE : 0; i < n; i++)
        hks_bloom_add(b, ring[i % PIPE]);
    mdb_cursor_close(c);
    if (rc != MDB_NOTFOUND) goto fail;
    *out = b;
    return HK_OK;
fail:
    hks_bloom_free(b);
    *out = NULL;
    return hks_store_mdb_error(t, rc, err, "building the bloom filter");
}
