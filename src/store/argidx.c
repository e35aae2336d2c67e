/*
 * argidx.c — the chunked `by_arg` index (format 4) and its tails (format
 * 6): every read and write of an entity's rows goes through here.
 *
 * ==== Layout ====
 * An entity's rows (position u8, predicate u32 BE, fact id u48 BE,
 * co-argument u32 BE: 15 bytes, store_int.h) are DUPSORT|DUPFIXED
 * duplicates, split over several keys ("chunks"). The first chunk's key is
 * the entity u32 BE alone (4 bytes, as in format 3: an entity with fewer
 * rows than a chunk holds is stored exactly as before, so light entities
 * cost no key bytes more); every later chunk's key is the entity followed
 * by a row (19 bytes) that is <= every row of the chunk and > every row of
 * the chunk before. LMDB orders a key before its extensions, so the 4-byte
 * key is the entity's first and stands for a start of 15 zero bytes (no
 * row is that small: predicates are symbols >= 1): a new row always has a
 * chunk whose start is <= it, and no key is ever rewritten. Chunks of one
 * entity are adjacent keys in row order.
 *
 * Why: LMDB keeps a key's duplicates inline in the main-tree leaf until
 * the node would pass me_nodemax (about half a page), then moves them into
 * a sub-tree of their own. A transaction adding one row to a heavy entity
 * then dirtied the sub-tree's leaf, its branch page and the main-tree leaf
 * holding the sub-database record (docs/STORAGE.md, "Pages a write
 * transaction dirties in `by_arg`"). A chunk is split before it reaches
 * that size (hks_arg_chunk_rows), so every chunk stays inline and an append
 * to a heavy entity dirties the one main-tree leaf holding its last chunk
 * for that (position, predicate). Nothing here depends on that limit: a
 * chunk that LMDB did move into a sub-tree reads and writes the same way.
 *
 * ==== Writes ====
 * hks_arg_put finds the chunk whose start is the greatest <= the row
 * (MDB_SET_RANGE, then MDB_PREV_NODUP), adds the duplicate, and splits the
 * chunk once it holds `limit` rows: when the new row is the last of its
 * (position, predicate) run in the upper half, the new chunk starts at it
 * (appends leave full chunks behind them), else at the middle row. Rows
 * moved to the new chunk are deleted from the old one one by one (an
 * append moves only the new row). hks_arg_del removes one duplicate; a
 * chunk whose last row goes away disappears with it (LMDB deletes the
 * key), and chunks are never merged: an entity that lost most of its rows
 * keeps some sparse chunks until a rebuild (upgrade) or it grows again.
 *
 * ==== Reads ====
 * hks_argit walks the rows of one entity from a seek row on, a page of
 * duplicates at a time (MDB_GET_MULTIPLE: the whole inline sub-page, or one
 * leaf of a sub-tree), crossing chunk keys. In a write transaction a write
 * between two calls of hks_argit_next (t->gen changed) makes the iterator
 * seek again just past the last row it returned: its page pointer may be
 * stale, and rows written meanwhile after that row are seen.
 *
 * ==== Tails (format 6) ====
 * A heavy entity's newest rows (at most HKS_ARG_TAIL_ROWS = 16) sit in
 * by_arg_tail under the entity u32 BE, apart from its chunks. Why: a load
 * that adds one row per transaction to each of many heavy entities (the
 * objects x_i of B(t_k, x_i) batches) otherwise dirties one leaf per
 * entity, since each entity's last chunk fills about a leaf; 16 tails of
 * 240 bytes share a leaf, so the same rows dirty ~1/14 of the leaves, and
 * the last chunk only once per 16 rows. A separate database rather than a
 * key range of by_arg: the tails must sit away from the chunks (next to
 * them they would share their leaves), and every scan of by_arg keys
 * (entities, counts, check, verify) stays as it was.
 *
 * Invariant: an entity has tail rows only while its first chunk is the
 * 4-byte key and holds >= HKS_ARG_TAIL_MIN (32) rows. A reader landing on
 * a smaller 4-byte first chunk, or finding no 4-byte chunk, knows there is
 * no tail without looking (hks_arg_tail_possible): light entities cost no
 * extra lookup in the iterator's seek, the counts, the search's backward
 * walk (search.c, from the chunk of the last row) or a delete of a row
 * its chunks lack. A later chunk cannot tell (the first chunk is another
 * key, often on another page): there the tail is looked up. Kept by:
 * writers start a tail only for such an entity (at 32 + id % 16 rows, so
 * that a load touching many entities alike moves their tails into the
 * chunks in different transactions) and use tails only with a
 * limit >= 2 * HKS_ARG_TAIL_MIN (a split leaves >= limit / 2 rows in the
 * first chunk); a delete that takes the first chunk under the bound moves
 * the tail's rows into the chunks (tail_flush).
 *
 * hks_arg_write_sorted: for an entity with chunks, its rows go to its tail
 * when it has one or its first chunk allows one; a tail that would pass 16
 * rows goes into the chunks with all new rows but the last (two sorted
 * runs, put_run), and that last row starts the tail again, so an entity
 * keeps its tail and the next flush needs no look at its first chunk.
 * Entities of a flush are looked up in the tails in order, and one
 * MDB_SET_RANGE that lands above several of them answers for all.
 * hks_arg_del removes the row from its chunk or else, unless the chunk
 * it located is a light first chunk, from the tail.
 * hks_argit merges the chunk rows with the tail's (loaded into the
 * iterator, at most 16 rows): a tail holds the newest ids, not the largest
 * rows. Counts add the tail's count.
 *
 * Damage: a key that is not 4 or 19 bytes, or a duplicate that is not 15
 * bytes, gives MDB_CORRUPTED; so does a tail key that is not 4 bytes or a
 * tail of more than 16 rows.
 *
 * Threads: as the txn (one thread at a time per txn and cursor).
 */
#include <errno.h>

#include "core/mem.h"
#include "store/store_int.h"

/* ==== Chunk size ==== */

uint32_t hks_arg_chunk_rows(unsigned psize)
{
    /* me_nodemax of LMDB 0.9 (mdb.c, mdb_env_open2): the largest node a
     * leaf takes inline. A DUPFIXED sub-page holds its header (16 bytes)
     * and room for 4, 8, 12 ... rows; the node adds 8 bytes and the key.
     * The sub-page that would pass me_nodemax becomes a sub-tree, so the
     * last inline size is the largest multiple of 4 rows below it. */
    if (psize < 1024) psize = 4096;
    uint32_t nodemax = (uint32_t)(((psize - 16u) / 2u) & ~1u) - 2u;
    uint32_t rows =
        (nodemax - 8u - HKS_ARG_KEY_BYTES - 16u) / HKS_ARG_DUP_BYTES;
    rows &= ~3u;
    return rows < 8u ? 8u : rows;
}

/* ==== Keys ==== */

/* A chunk key: 4 bytes (the entity's first chunk) or 19. */
typedef struct chunk_key {
    uint8_t b[HKS_ARG_KEY_BYTES]; /* entity u32 BE [+ start row] */
    size_t len;                   /* 4 or HKS_ARG_KEY_BYTES */
} chunk_key;

static const uint8_t zero_row[HKS_ARG_DUP_BYTES];

/* ent's key starting at row (NULL: its first chunk, 4 bytes). */
static void make_key(chunk_key *k, uint32_t ent, const uint8_t *row)
{
    hks_put_u32(k->b, ent);
    k->len = 4;
    if (row) {
        memcpy(k->b + 4, row, HKS_ARG_DUP_BYTES);
        k->len = HKS_ARG_KEY_BYTES;
    }
}

static bool key_ok(const MDB_val *k)
{
    return k->mv_size == 4 || k->mv_size == HKS_ARG_KEY_BYTES;
}

static void take_key(chunk_key *ck, const MDB_val *k)
{
    ck->len = k->mv_size;
    memcpy(ck->b, k->mv_data, k->mv_size);
}

/* Positions c on the chunk of ent that holds row: the greatest key <= ent |
 * row with ent's prefix; its key goes to ck. MDB_NOTFOUND when ent has no
 * such chunk; then *later says whether ent has chunks above row. */
static int locate(MDB_cursor *c, uint32_t ent, const uint8_t *row,
                  chunk_key *ck, bool *later)
{
    chunk_key kb;
    make_key(&kb, ent, row);
    MDB_val k = {kb.len, kb.b}, d;
    *later = false;
    int rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
    if (rc == 0) {
        if (!key_ok(&k)) return MDB_CORRUPTED;
        if (k.mv_size == kb.len && memcmp(k.mv_data, kb.b, kb.len) == 0) {
            *ck = kb;
            return 0;
        }
        *later = memcmp(k.mv_data, kb.b, 4) == 0;
        rc = mdb_cursor_get(c, &k, &d, MDB_PREV_NODUP);
    } else if (rc == MDB_NOTFOUND) {
        rc = mdb_cursor_get(c, &k, &d, MDB_LAST);
    }
    if (rc) return rc;
    if (!key_ok(&k)) return MDB_CORRUPTED;
    if (memcmp(k.mv_data, kb.b, 4) != 0) return MDB_NOTFOUND;
    take_key(ck, &k);
    return 0;
}

/* ==== Writes ==== */

/* Index of the first of n rows >= row (binary search). */
static size_t lower_bound(const uint8_t *rows, size_t n, const uint8_t *row)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (memcmp(rows + mid * HKS_ARG_DUP_BYTES, row, HKS_ARG_DUP_BYTES) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Reads the cnt rows of chunk ck into out. */
static int read_chunk(MDB_cursor *c, const chunk_key *ck, uint8_t *out,
                      size_t cnt)
{
    MDB_val k = {ck->len, (void *)ck->b}, d;
    size_t got = 0;
    int rc = mdb_cursor_get(c, &k, &d, MDB_SET);
    /* bounded by the chunk's pages: each pass takes one (a chunk that
     * splits has several rows, so a duplicate page: see take_page) */
    if (rc == 0) rc = mdb_cursor_get(c, &k, &d, MDB_GET_MULTIPLE);
    while (rc == 0) {
        if (d.mv_size % HKS_ARG_DUP_BYTES || got + d.mv_size > cnt * 15u)
            return MDB_CORRUPTED;
        memcpy(out + got, d.mv_data, d.mv_size);
        got += d.mv_size;
        rc = mdb_cursor_get(c, &k, &d, MDB_NEXT_MULTIPLE);
    }
    if (rc != MDB_NOTFOUND) return rc;
    return got == cnt * HKS_ARG_DUP_BYTES ? 0 : MDB_CORRUPTED;
}

/* Splits chunk ck of entity ent, holding cnt rows, after row went in. */
static int split(MDB_cursor *c, const chunk_key *ck, size_t cnt,
                 const uint8_t *row)
{
    uint8_t stack[256 * HKS_ARG_DUP_BYTES];
    uint8_t *rows = cnt <= 256 ? stack : hk_malloc(cnt * HKS_ARG_DUP_BYTES);
    if (!rows) return ENOMEM;
    int rc = read_chunk(c, ck, rows, cnt);
    if (rc) goto done;
    size_t idx = lower_bound(rows, cnt, row), m = cnt / 2;
    /* An append to a (position, predicate) run starts the new chunk at the
     * new row: the old chunk stays full and later appends go to the new
     * one. Only in the upper half, so that no chunk is left under half. */
    if (idx < cnt && idx >= m &&
        (idx + 1 == cnt ||
         memcmp(rows + (idx + 1) * HKS_ARG_DUP_BYTES, row, 5) != 0))
        m = idx;
    if (m == 0) m = 1;
    for (size_t i = m; i < cnt; i++) {
        MDB_val k = {ck->len, (void *)ck->b},
                d = {HKS_ARG_DUP_BYTES, rows + i * HKS_ARG_DUP_BYTES};
        if ((rc = mdb_cursor_get(c, &k, &d, MDB_GET_BOTH)) ||
            (rc = mdb_cursor_del(c, 0)))
            goto done;
    }
    chunk_key nk;
    make_key(&nk, hks_get_u32(ck->b), rows + m * HKS_ARG_DUP_BYTES);
    MDB_val k = {nk.len, nk.b};
    MDB_val dm[2] = {{HKS_ARG_DUP_BYTES, rows + m * HKS_ARG_DUP_BYTES},
                     {cnt - m, NULL}};
    rc = mdb_cursor_put(c, &k, dm, MDB_MULTIPLE);
done:
    if (rows != stack) hk_free(rows);
    return rc;
}

int hks_arg_put(MDB_cursor *c, uint32_t ent, const uint8_t *row, uint32_t limit,
                bool *new_ent)
{
    chunk_key ck;
    bool later;
    *new_ent = false;
    int rc = locate(c, ent, row, &ck, &later);
    if (rc == MDB_NOTFOUND) {
        make_key(&ck, ent, NULL);
        *new_ent = !later;
    } else if (rc) {
        return rc;
    }
    MDB_val k = {ck.len, ck.b}, d = {HKS_ARG_DUP_BYTES, (void *)row};
    size_t cnt = 0;
    if ((rc = mdb_cursor_put(c, &k, &d, 0)) || (rc = mdb_cursor_count(c, &cnt)))
        return rc;
    return cnt >= limit ? split(c, &ck, cnt, row) : 0;
}

/* Puts the n sorted rows (stride bytes apart) of ent into its chunks, as
 * hks_arg_put would one by one, with one search per chunk instead of one
 * per row: the rows below the next chunk's start go into the chunk found
 * for the first of them, until it splits. Why: a node catching up applies
 * some 20 rows of each heavy entity per transaction (a tail that moves
 * into its chunks takes 17 or more), and a search per row (locate's
 * MDB_SET_RANGE and MDB_PREV_NODUP, then the put's own) was most of
 * their cost. *new_ent: ent had no row before. */
static int put_run(MDB_cursor *c, uint32_t ent, const uint8_t *rows, size_t n,
                   size_t stride, uint32_t limit, bool *new_ent)
{
    size_t i = 0;
    *new_ent = false;
    /* bounded by n: every pass puts at least the row it located */
    while (i < n) {
        chunk_key ck;
        bool later;
        int rc = locate(c, ent, rows + i * stride, &ck, &later);
        if (rc == MDB_NOTFOUND) {
            make_key(&ck, ent, NULL);
            if (i == 0) *new_ent = !later;
        } else if (rc) {
            return rc;
        }
        /* the next chunk's start: rows at or above it are not ck's */
        uint8_t next[HKS_ARG_DUP_BYTES];
        bool bounded = false;
        MDB_val k = {ck.len, ck.b}, d;
        rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
        if (rc == 0 && k.mv_size == ck.len &&
            memcmp(k.mv_data, ck.b, ck.len) == 0)
            rc = mdb_cursor_get(c, &k, &d, MDB_NEXT_NODUP);
        if (rc == 0) {
            if (!key_ok(&k)) return MDB_CORRUPTED;
            if (hks_get_u32(k.mv_data) == ent) {
                /* a key above ck of its entity is a later chunk's */
                if (k.mv_size != HKS_ARG_KEY_BYTES) return MDB_CORRUPTED;
                memcpy(next, (const uint8_t *)k.mv_data + 4, sizeof next);
                bounded = true;
            }
        } else if (rc != MDB_NOTFOUND) {
            return rc;
        }
        /* bounded by n: each pass puts one row */
        for (bool first = true; i < n; i++, first = false) {
            const uint8_t *row = rows + i * stride;
            if (!first && bounded && memcmp(row, next, sizeof next) >= 0) break;
            MDB_val pk = {ck.len, ck.b}, pd = {HKS_ARG_DUP_BYTES, (void *)row};
            size_t cnt = 0;
            if ((rc = mdb_cursor_put(c, &pk, &pd, 0)) ||
                (rc = mdb_cursor_count(c, &cnt)))
                return rc;
            if (cnt >= limit) {
                if ((rc = split(c, &ck, cnt, row))) return rc;
                i++;
                break; /* the rest may belong to the new chunk */
            }
        }
    }
    return 0;
}

int hks_arg_append(MDB_cursor *c, uint32_t ent, const uint8_t *rows, size_t n,
                   size_t stride, uint32_t limit)
{
    chunk_key ck;
    size_t fill = limit > 1 ? limit - 1 : 1, in_chunk = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *row = rows + i * stride;
        unsigned flags = MDB_APPENDDUP;
        if (i == 0 || in_chunk == fill) {
            make_key(&ck, ent, i == 0 ? NULL : row);
            flags = MDB_APPEND;
            in_chunk = 0;
        }
        MDB_val k = {ck.len, ck.b}, d = {HKS_ARG_DUP_BYTES, (void *)row};
        int rc = mdb_cursor_put(c, &k, &d, flags);
        if (rc) return rc;
        in_chunk++;
    }
    return 0;
}

/* ==== Tails ==== */

static int tail_key_ok(const MDB_val *k, const MDB_val *d)
{
    return k->mv_size == 4 && d->mv_size == HKS_ARG_DUP_BYTES;
}

int hks_arg_tail_rows(MDB_cursor *tc, uint32_t ent, uint8_t *out, size_t *n)
{
    uint8_t kb[4];
    hks_put_u32(kb, ent);
    MDB_val k = {4, kb}, d;
    size_t cnt = 0;
    *n = 0;
    int rc = mdb_cursor_get(tc, &k, &d, MDB_SET);
    if (rc == MDB_NOTFOUND) return 0;
    if (rc || (rc = mdb_cursor_count(tc, &cnt))) return rc;
    if (cnt > HKS_ARG_TAIL_ROWS) return MDB_CORRUPTED;
    /* row by row: at most HKS_ARG_TAIL_ROWS steps inside one node (and
     * no MDB_GET_MULTIPLE on a key of one value: see take_page) */
    for (size_t i = 0; i < cnt; i++) {
        if (i && (rc = mdb_cursor_get(tc, &k, &d, MDB_NEXT_DUP)))
            return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
        if (!tail_key_ok(&k, &d)) return MDB_CORRUPTED;
        memcpy(out + i * HKS_ARG_DUP_BYTES, d.mv_data, HKS_ARG_DUP_BYTES);
    }
    *n = cnt;
    return 0;
}

/* Deletes ent's tail (all its rows). */
static int tail_clear(MDB_cursor *tc, uint32_t ent)
{
    uint8_t kb[4];
    hks_put_u32(kb, ent);
    MDB_val k = {4, kb}, d;
    int rc = mdb_cursor_get(tc, &k, &d, MDB_SET);
    return rc ? rc : mdb_cursor_del(tc, MDB_NODUPDATA);
}

static int tail_put(MDB_cursor *tc, uint32_t ent, const uint8_t *row)
{
    uint8_t kb[4];
    hks_put_u32(kb, ent);
    MDB_val k = {4, kb}, d = {HKS_ARG_DUP_BYTES, (void *)row};
    return mdb_cursor_put(tc, &k, &d, 0);
}

int hks_arg_tail_possible(MDB_cursor *c, const MDB_val *k, bool *maybe)
{
    size_t cnt = 0;
    *maybe = true;
    /* a later chunk cannot tell: its entity's first chunk is another key */
    if (k->mv_size != 4) return 0;
    int rc = mdb_cursor_count(c, &cnt);
    if (rc == 0) *maybe = cnt >= HKS_ARG_TAIL_MIN;
    return rc;
}

/* Rows of ent's first chunk when that is the 4-byte key, else 0: what the
 * tail invariant is stated on. */
static int first_chunk_rows(MDB_cursor *c, uint32_t ent, size_t *cnt)
{
    uint8_t kb[4];
    hks_put_u32(kb, ent);
    MDB_val k = {4, kb}, d;
    *cnt = 0;
    int rc = mdb_cursor_get(c, &k, &d, MDB_SET);
    if (rc == MDB_NOTFOUND) return 0;
    return rc ? rc : mdb_cursor_count(c, cnt);
}

/* Moves ent's tail into its chunks (the first chunk fell under
 * HKS_ARG_TAIL_MIN rows). */
static int tail_flush(MDB_cursor *c, MDB_cursor *tc, uint32_t ent,
                      uint32_t limit)
{
    uint8_t rows[HKS_ARG_TAIL_ROWS * HKS_ARG_DUP_BYTES];
    size_t n = 0;
    int rc = hks_arg_tail_rows(tc, ent, rows, &n);
    if (rc || !n) return rc;
    if ((rc = tail_clear(tc, ent))) return rc;
    bool fresh;
    return put_run(c, ent, rows, n, HKS_ARG_DUP_BYTES, limit, &fresh);
}

/* Which entities of a sorted flush have a tail, without a lookup for the
 * ones below the next tail key already seen. */
typedef struct tail_scan {
    bool known;    /* next / end hold */
    bool end;      /* no tail key >= the last entity looked up */
    uint32_t next; /* the least tail key above it */
} tail_scan;

static int tail_find(MDB_cursor *tc, tail_scan *ts, uint32_t ent, uint8_t *rows,
                     size_t *n)
{
    *n = 0;
    if (ts->known && (ts->end || ent < ts->next)) return 0;
    uint8_t kb[4];
    hks_put_u32(kb, ent);
    MDB_val k = {4, kb}, d;
    int rc = mdb_cursor_get(tc, &k, &d, MDB_SET_RANGE);
    if (rc == MDB_NOTFOUND) {
        ts->known = ts->end = true;
        return 0;
    }
    if (rc) return rc;
    if (!tail_key_ok(&k, &d)) return MDB_CORRUPTED;
    uint32_t got = hks_get_u32(k.mv_data);
    ts->known = got != ent;
    ts->end = false;
    ts->next = got;
    return got == ent ? hks_arg_tail_rows(tc, ent, rows, n) : 0;
}

/* Rows ent's first chunk holds before a writer starts its tail: the
 * invariant's bound, plus a step from the entity's id. Why: a load that
 * adds a row per transaction to each of many entities would otherwise
 * start all their tails in one transaction, and fill and move them into
 * the chunks together, every HKS_ARG_TAIL_ROWS transactions one that
 * dirties a leaf per entity; started apart, about 1/16 of them move in
 * each transaction. */
static size_t tail_start(uint32_t ent)
{
    return HKS_ARG_TAIL_MIN + ent % HKS_ARG_TAIL_ROWS;
}

/* Writes the g sorted rows (width apart) of ent, an entity with chunks,
 * to its tail when it has one or its first chunk allows one. */
static int write_existing(MDB_cursor *c, MDB_cursor *tc, tail_scan *ts,
                          uint32_t ent, const uint8_t *recs, size_t g,
                          size_t width, uint32_t limit, uint64_t *new_ents)
{
    uint8_t tail[HKS_ARG_TAIL_ROWS * HKS_ARG_DUP_BYTES];
    size_t tn = 0;
    bool use_tail = tc && limit >= 2u * HKS_ARG_TAIL_MIN;
    int rc;
    if (use_tail && (rc = tail_find(tc, ts, ent, tail, &tn))) return rc;
    if (use_tail && tn == 0) {
        size_t fc;
        if ((rc = first_chunk_rows(c, ent, &fc))) return rc;
        use_tail = fc >= tail_start(ent);
    }
    if (!use_tail) {
        bool fresh;
        if ((rc = put_run(c, ent, recs + 4, g, width, limit, &fresh)))
            return rc;
        if (fresh) (*new_ents)++;
        return 0;
    }
    if (tn + g <= HKS_ARG_TAIL_ROWS) {
        for (size_t x = 0; x < g; x++)
            if ((rc = tail_put(tc, ent, recs + x * width + 4))) return rc;
        return 0;
    }
    /* The tail would pass its size: its rows and all the new ones but the
     * last go into the chunks (two sorted runs: the tail's, then the new
     * rows'), the last new row starts the tail again, so the entity keeps
     * one and the next flush needs no look at its first chunk. */
    bool fresh;
    if (tn &&
        ((rc = tail_clear(tc, ent)) ||
         (rc = put_run(c, ent, tail, tn, HKS_ARG_DUP_BYTES, limit, &fresh))))
        return rc;
    if (g > 1 && (rc = put_run(c, ent, recs + 4, g - 1, width, limit, &fresh)))
        return rc;
    return tail_put(tc, ent, recs + (g - 1) * width + 4);
}

int hks_arg_write_sorted(MDB_cursor *c, MDB_cursor *tc, const uint8_t *recs,
                         size_t n, size_t width, uint32_t limit,
                         uint64_t *new_ents)
{
    uint32_t last_ent = 0;
    bool have_last = false;
    tail_scan ts = {false, false, 0};
    MDB_val lk, ld;
    int rc = mdb_cursor_get(c, &lk, &ld, MDB_LAST);
    if (rc == 0) {
        if (!key_ok(&lk)) return MDB_CORRUPTED;
        last_ent = hks_get_u32(lk.mv_data);
        have_last = true;
    } else if (rc != MDB_NOTFOUND) {
        return rc;
    }
    /* bounded by n: each pass writes one entity's records */
    for (size_t i = 0; i < n;) {
        const uint8_t *r = recs + i * width;
        uint32_t ent = hks_get_u32(r);
        size_t j = i + 1;
        while (j < n && memcmp(recs + j * width, r, 4) == 0)
            j++;
        if (!have_last || ent > last_ent) {
            /* above every key (an entity first used in this batch: the
             * newest symbols): appended, no search */
            if ((rc = hks_arg_append(c, ent, r + 4, j - i, width, limit)))
                return rc;
            (*new_ents)++;
            last_ent = ent;
            have_last = true;
        } else if ((rc = write_existing(c, tc, &ts, ent, r, j - i, width, limit,
                                        new_ents))) {
            return rc;
        }
        i = j;
    }
    return 0;
}

int hks_arg_del(MDB_cursor *c, MDB_cursor *tc, uint32_t ent, const uint8_t *row,
                uint32_t limit)
{
    chunk_key ck;
    bool later;
    int rc = locate(c, ent, row, &ck, &later);
    /* no chunk <= row: ent has no 4-byte first chunk, so no tail */
    if (rc) return rc;
    /* locate leaves c on ck: the first chunk's count is at hand, and it
     * says whether a tail may hold a row the chunk lacks */
    size_t before = 0;
    if (ck.len == 4 && (rc = mdb_cursor_count(c, &before))) return rc;
    MDB_val ek = {ck.len, ck.b}, ed = {HKS_ARG_DUP_BYTES, (void *)row};
    rc = mdb_cursor_get(c, &ek, &ed, MDB_GET_BOTH);
    if (rc == 0) {
        if ((rc = mdb_cursor_del(c, 0))) return rc;
        /* the first chunk falls under the tail's bound: the tail's rows
         * go into the chunks, so the invariant holds again */
        if (tc && ck.len == 4 && before == HKS_ARG_TAIL_MIN)
            return tail_flush(c, tc, ent, limit);
        return 0;
    }
    if (rc != MDB_NOTFOUND) return rc;
    /* a light entity (a 4-byte first chunk under the bound) has no tail */
    if (!tc || (ck.len == 4 && before < HKS_ARG_TAIL_MIN)) return MDB_NOTFOUND;
    uint8_t kb[4];
    hks_put_u32(kb, ent);
    MDB_val k = {4, kb}, d = {HKS_ARG_DUP_BYTES, (void *)row};
    if ((rc = mdb_cursor_get(tc, &k, &d, MDB_GET_BOTH))) return rc;
    return mdb_cursor_del(tc, 0);
}

/* ==== Entities and counts ==== */

int hks_arg_first_chunk(MDB_cursor *c, uint32_t ent)
{
    chunk_key kb;
    make_key(&kb, ent, NULL);
    MDB_val k = {kb.len, kb.b}, d;
    int rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
    if (rc) return rc;
    if (!key_ok(&k)) return MDB_CORRUPTED;
    return memcmp(k.mv_data, kb.b, 4) == 0 ? 0 : MDB_NOTFOUND;
}

int hks_arg_has_entity(MDB_cursor *c, uint32_t ent, bool *has)
{
    int rc = hks_arg_first_chunk(c, ent);
    *has = rc == 0;
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int hks_arg_last_row(MDB_cursor *c, uint32_t ent, MDB_val *k, MDB_val *d)
{
    chunk_key kb;
    int rc;
    if (ent == UINT32_MAX) {
        rc = mdb_cursor_get(c, k, d, MDB_LAST);
    } else {
        make_key(&kb, ent + 1, NULL);
        k->mv_size = kb.len;
        k->mv_data = kb.b;
        rc = mdb_cursor_get(c, k, d, MDB_SET_RANGE);
        if (rc == 0)
            rc = mdb_cursor_get(c, k, d, MDB_PREV);
        else if (rc == MDB_NOTFOUND)
            rc = mdb_cursor_get(c, k, d, MDB_LAST);
    }
    if (rc) return rc;
    if (!key_ok(k)) return MDB_CORRUPTED;
    return hks_get_u32(k->mv_data) == ent ? 0 : MDB_NOTFOUND;
}

int hks_arg_count(MDB_cursor *c, MDB_cursor *tc, uint32_t ent, uint64_t *n)
{
    return hks_arg_count_upto(c, tc, ent, UINT64_MAX, n);
}

int hks_arg_count_upto(MDB_cursor *c, MDB_cursor *tc, uint32_t ent,
                       uint64_t upto, uint64_t *n)
{
    *n = 0;
    int rc = hks_arg_first_chunk(c, ent);
    uint8_t kb[4];
    hks_put_u32(kb, ent);
    bool tail = false;
    if (rc == 0) {
        /* the first chunk says whether a tail may exist (store_int.h) */
        MDB_val k, d;
        size_t cnt = 0;
        if ((rc = mdb_cursor_get(c, &k, &d, MDB_GET_CURRENT)) ||
            (rc = mdb_cursor_count(c, &cnt)))
            return rc;
        tail = tc && k.mv_size == 4 && cnt >= HKS_ARG_TAIL_MIN;
    }
    /* bounded by the entity's chunks: each pass moves to the next key */
    while (rc == 0) {
        size_t cnt = 0;
        if ((rc = mdb_cursor_count(c, &cnt))) return rc;
        *n += cnt;
        if (*n > upto) return 0;
        MDB_val k, d;
        rc = mdb_cursor_get(c, &k, &d, MDB_NEXT_NODUP);
        if (rc == 0 && !key_ok(&k)) return MDB_CORRUPTED;
        if (rc == 0 && memcmp(k.mv_data, kb, 4) != 0) break;
    }
    if (rc && rc != MDB_NOTFOUND) return rc;
    if (!tail) return 0;
    MDB_val k = {4, kb}, d;
    size_t tn = 0;
    rc = mdb_cursor_get(tc, &k, &d, MDB_SET);
    if (rc == MDB_NOTFOUND) return 0;
    if (rc || (rc = mdb_cursor_count(tc, &tn))) return rc;
    if (tn > HKS_ARG_TAIL_ROWS) return MDB_CORRUPTED;
    *n += tn;
    return 0;
}

int hks_arg_tail_check(MDB_cursor *c, MDB_cursor *tc, uint64_t *rows,
                       uint64_t *bad_ent)
{
    MDB_val k, d;
    int rc;
    *rows = *bad_ent = 0;
    /* bounded by the tails' keys: each pass moves to the next one */
    for (rc = mdb_cursor_get(tc, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(tc, &k, &d, MDB_NEXT_NODUP)) {
        if (!tail_key_ok(&k, &d)) return MDB_CORRUPTED;
        uint32_t ent = hks_get_u32(k.mv_data);
        uint8_t tail[HKS_ARG_TAIL_ROWS * HKS_ARG_DUP_BYTES];
        size_t tn = 0, fc = 0;
        rc = hks_arg_tail_rows(tc, ent, tail, &tn);
        if (rc == MDB_CORRUPTED) {
            *bad_ent = 1 + (uint64_t)ent;
            return 0;
        }
        if (rc || (rc = first_chunk_rows(c, ent, &fc))) return rc;
        *rows += tn;
        bool bad = fc < HKS_ARG_TAIL_MIN;
        for (size_t i = 0; i < tn && !bad; i++) {
            const uint8_t *row = tail + i * HKS_ARG_DUP_BYTES;
            chunk_key ck;
            bool later;
            rc = locate(c, ent, row, &ck, &later);
            if (rc == 0) {
                MDB_val ek = {ck.len, ck.b},
                        ed = {HKS_ARG_DUP_BYTES, (void *)row};
                rc = mdb_cursor_get(c, &ek, &ed, MDB_GET_BOTH);
                bad = rc == 0;
            }
            if (rc && rc != MDB_NOTFOUND) return rc;
        }
        if (bad && !*bad_ent) *bad_ent = 1 + (uint64_t)ent;
        /* tc still stands on ent's key (hks_arg_tail_rows' last row) */
    }
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int hks_arg_next_entity(MDB_cursor *c, bool first, uint32_t after,
                        uint32_t *ent)
{
    MDB_val k, d;
    int rc;
    if (first) {
        rc = mdb_cursor_get(c, &k, &d, MDB_FIRST);
    } else {
        if (after == UINT32_MAX) return MDB_NOTFOUND;
        uint8_t kb[4];
        hks_put_u32(kb, after + 1);
        k.mv_size = sizeof kb;
        k.mv_data = kb;
        rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
    }
    if (rc) return rc;
    if (!key_ok(&k)) return MDB_CORRUPTED;
    *ent = hks_get_u32(k.mv_data);
    return 0;
}

/* ==== Iterator ==== */

/* Takes the page of rows under the cursor; d holds the value the cursor
 * was positioned with. A key with one value has no duplicate page, and
 * LMDB 0.9.24 does not reset its duplicate cursor when MDB_NEXT_NODUP
 * moves from a key with several values to such a key: MDB_GET_MULTIPLE
 * would hand out the previous key's page. So one value is taken from d. */
static int take_page(hks_argit *it, MDB_val *k, MDB_val *d)
{
    size_t cnt = 0;
    if (!key_ok(k)) return MDB_CORRUPTED;
    int rc = mdb_cursor_count(it->c, &cnt);
    if (!rc && cnt > 1) rc = mdb_cursor_get(it->c, k, d, MDB_GET_MULTIPLE);
    if (rc) return rc;
    if (!d->mv_size || d->mv_size % HKS_ARG_DUP_BYTES) return MDB_CORRUPTED;
    it->rows = d->mv_data;
    it->n = d->mv_size / HKS_ARG_DUP_BYTES;
    it->i = 0;
    return 0;
}

/* Positions the chunk side on ent's first chunk row >= from (MDB_NOTFOUND:
 * none). *tail: whether the entity may have a tail, from the chunk the
 * search landed on (store_int.h): a 4-byte first chunk under
 * HKS_ARG_TAIL_MIN rows, or no 4-byte chunk at all, means none. */
static int chunk_seek(hks_argit *it, const uint8_t *from, bool *tail)
{
    chunk_key ck;
    bool later;
    *tail = false;
    int rc = locate(it->c, it->ent, from, &ck, &later);
    if (rc == 0) {
        MDB_val k = {ck.len, ck.b}, d = {HKS_ARG_DUP_BYTES, (void *)from};
        if ((rc = hks_arg_tail_possible(it->c, &k, tail))) return rc;
        rc = mdb_cursor_get(it->c, &k, &d, MDB_GET_BOTH_RANGE);
        if (rc == 0) {
            k.mv_size = ck.len;
            k.mv_data = ck.b;
            if ((rc = take_page(it, &k, &d))) return rc;
            it->i = lower_bound(it->rows, it->n, from);
            return 0;
        }
        if (rc != MDB_NOTFOUND) return rc;
        /* every row of that chunk is below from: the next chunk */
        k.mv_size = ck.len;
        k.mv_data = ck.b;
        if ((rc = mdb_cursor_get(it->c, &k, &d, MDB_SET)) ||
            (rc = mdb_cursor_get(it->c, &k, &d, MDB_NEXT_NODUP)))
            return rc;
        if (!key_ok(&k)) return MDB_CORRUPTED;
        if (hks_get_u32(k.mv_data) != it->ent) return MDB_NOTFOUND;
        return take_page(it, &k, &d);
    }
    if (rc != MDB_NOTFOUND || !later) return rc;
    /* the entity's first chunk starts above from (its 4-byte chunk went
     * away with its rows, and with it any tail) */
    chunk_key kb;
    make_key(&kb, it->ent, from);
    MDB_val k = {kb.len, kb.b}, d;
    if ((rc = mdb_cursor_get(it->c, &k, &d, MDB_SET_RANGE))) return rc;
    if (!key_ok(&k)) return MDB_CORRUPTED;
    if (hks_get_u32(k.mv_data) != it->ent) return MDB_NOTFOUND;
    return take_page(it, &k, &d);
}

/* Both sides from `from` on; MDB_NOTFOUND when neither has a row. */
static int seek(hks_argit *it, const uint8_t *from)
{
    bool tail = false;
    if (!from) from = zero_row;
    it->n = it->i = it->tn = it->ti = 0;
    it->done = it->cdone = false;
    int rc = chunk_seek(it, from, &tail);
    if (rc == MDB_NOTFOUND)
        it->cdone = true;
    else if (rc)
        return rc;
    if (tail && it->tc) {
        if ((rc = hks_arg_tail_rows(it->tc, it->ent, it->tail, &it->tn)))
            return rc;
        it->ti = lower_bound(it->tail, it->tn, from);
    }
    return it->cdone && it->ti >= it->tn ? MDB_NOTFOUND : 0;
}

int hks_argit_seek(hks_argit *it, hk_txn *t, MDB_cursor *c, MDB_cursor *tc,
                   uint32_t ent, const uint8_t *from)
{
    it->t = t;
    it->c = c;
    it->tc = tc;
    it->ent = ent;
    it->gen = t ? t->gen : 0;
    it->have_last = false;
    /* a write before the first row seeks from here again */
    memcpy(it->from, from ? from : zero_row, HKS_ARG_DUP_BYTES);
    int rc = seek(it, from);
    if (rc == MDB_NOTFOUND) {
        it->done = true;
        rc = 0;
    }
    return rc;
}

/* The chunk side's next row without taking it: 0, MDB_NOTFOUND past the
 * entity's last chunk row. */
static int chunk_peek(hks_argit *it, const uint8_t **row)
{
    /* bounded by the entity's pages: each pass loads one or returns */
    while (!it->cdone) {
        if (it->i < it->n) {
            *row = it->rows + it->i * HKS_ARG_DUP_BYTES;
            return 0;
        }
        MDB_val k, d;
        int rc = mdb_cursor_get(it->c, &k, &d, MDB_NEXT_MULTIPLE);
        if (rc == 0) {
            if (!d.mv_size || d.mv_size % HKS_ARG_DUP_BYTES)
                return MDB_CORRUPTED;
            it->rows = d.mv_data;
            it->n = d.mv_size / HKS_ARG_DUP_BYTES;
            it->i = 0;
            continue;
        }
        if (rc != MDB_NOTFOUND) return rc;
        rc = mdb_cursor_get(it->c, &k, &d, MDB_NEXT_NODUP);
        if (rc == 0 && !key_ok(&k)) return MDB_CORRUPTED;
        if (rc == MDB_NOTFOUND ||
            (rc == 0 && hks_get_u32(k.mv_data) != it->ent)) {
            it->cdone = true;
            break;
        }
        if (rc) return rc;
        if ((rc = take_page(it, &k, &d))) return rc;
    }
    return MDB_NOTFOUND;
}

int hks_argit_next(hks_argit *it, const uint8_t **row)
{
    if (it->done) return MDB_NOTFOUND;
    if (it->t && it->t->write && it->t->gen != it->gen) {
        /* written since the last row: seek just past it again */
        uint8_t from[HKS_ARG_DUP_BYTES];
        it->gen = it->t->gen;
        if (it->have_last) {
            memcpy(from, it->last, sizeof from);
            int i = HKS_ARG_DUP_BYTES - 1;
            while (i >= 0 && ++from[i] == 0)
                i--;
            if (i < 0) {
                it->done = true;
                return MDB_NOTFOUND;
            }
        }
        int rc = seek(it, it->have_last ? from : it->from);
        if (rc) {
            if (rc == MDB_NOTFOUND) it->done = true;
            return rc;
        }
    }
    /* a merge of the two sides: the tail's rows are the newest ids, not
     * the largest rows */
    const uint8_t *cr = NULL;
    int rc = chunk_peek(it, &cr);
    if (rc && rc != MDB_NOTFOUND) return rc;
    const uint8_t *tr =
        it->ti < it->tn ? it->tail + it->ti * HKS_ARG_DUP_BYTES : NULL;
    if (!cr && !tr) {
        it->done = true;
        return MDB_NOTFOUND;
    }
    if (cr && (!tr || memcmp(cr, tr, HKS_ARG_DUP_BYTES) < 0)) {
        *row = cr;
        it->i++;
    } else {
        *row = tr;
        it->ti++;
    }
    if (it->t && it->t->write) {
        memcpy(it->last, *row, HKS_ARG_DUP_BYTES);
        it->have_last = true;
    }
    return 0;
}
