/*
 * test_store_argidx.c — the chunked by_arg index (argidx.c) on a raw LMDB
 * database, against a plain sorted array of (entity, row) as the oracle.
 *
 * Every check walks the whole database and proves the layout's invariants
 * (validate): 4-byte keys (an entity's first chunk) or 19-byte ones
 * (entity + start row), every row >= its
 * chunk's start and rows rising across an entity's chunks, no chunk
 * holding more than the limit. Then every entity's rows (iterator from the
 * start and from seeks at random rows and (position, predicate) prefixes),
 * counts and existence are compared with the array.
 */
#include "test_store_util.h"

#include <lmdb.h>

#define ROW HKS_ARG_DUP_BYTES
#define MAX_ROWS 6000u

typedef struct model {
    uint8_t r[MAX_ROWS][4 + ROW]; /* entity u32 BE + row, sorted */
    size_t n;                     /* rows */
} model;

typedef struct raw_db {
    char *dir;
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_dbi tdbi; /* by_arg_tail */
    MDB_cursor *c;
    MDB_cursor *tc; /* on by_arg_tail */
} raw_db;

static raw_db raw_open(void)
{
    raw_db d;
    d.dir = tu_tmpdir("argidx");
    assert_int_equal(mdb_env_create(&d.env), 0);
    mdb_env_set_maxdbs(d.env, 4);
    mdb_env_set_mapsize(d.env, 256u << 20);
    assert_int_equal(mdb_env_open(d.env, d.dir, MDB_NOSYNC, 0644), 0);
    assert_int_equal(mdb_txn_begin(d.env, NULL, 0, &d.txn), 0);
    assert_int_equal(mdb_dbi_open(d.txn, "by_arg",
                                  MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED,
                                  &d.dbi),
                     0);
    assert_int_equal(mdb_dbi_open(d.txn, "by_arg_tail",
                                  MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED,
                                  &d.tdbi),
                     0);
    assert_int_equal(mdb_cursor_open(d.txn, d.dbi, &d.c), 0);
    assert_int_equal(mdb_cursor_open(d.txn, d.tdbi, &d.tc), 0);
    return d;
}

static void raw_close(raw_db *d)
{
    mdb_cursor_close(d->c);
    mdb_cursor_close(d->tc);
    assert_int_equal(mdb_txn_commit(d->txn), 0);
    mdb_env_close(d->env);
    tu_rmrf(d->dir);
    free(d->dir);
}

static void make_row(uint8_t row[ROW], uint8_t pos, uint32_t pred, uint64_t id,
                     uint32_t co)
{
    row[0] = pos;
    hks_put_u32(row + 1, pred);
    hks_put_u48(row + 5, id);
    hks_put_u32(row + 5 + HKS_ID_BYTES, co);
}

static int cmp_rec(const void *a, const void *b)
{
    return memcmp(a, b, 4 + ROW);
}

static bool model_has(const model *m, uint32_t ent, const uint8_t *row)
{
    uint8_t k[4 + ROW];
    hks_put_u32(k, ent);
    memcpy(k + 4, row, ROW);
    return bsearch(k, m->r, m->n, sizeof m->r[0], cmp_rec) != NULL;
}

static void model_add(model *m, uint32_t ent, const uint8_t *row)
{
    assert_true(m->n < MAX_ROWS);
    hks_put_u32(m->r[m->n], ent);
    memcpy(m->r[m->n] + 4, row, ROW);
    m->n++;
    qsort(m->r, m->n, sizeof m->r[0], cmp_rec);
}

static void model_del(model *m, size_t i)
{
    memmove(m->r[i], m->r[i + 1], (m->n - i - 1) * sizeof m->r[0]);
    m->n--;
}

/* Walks the database: layout invariants; returns the number of chunks. */
static size_t validate(raw_db *d, uint32_t limit)
{
    MDB_val k, v;
    uint8_t prev[4 + ROW];
    bool have = false;
    size_t chunks = 0;
    int rc;
    for (rc = mdb_cursor_get(d->c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(d->c, &k, &v, MDB_NEXT_NODUP)) {
        assert_true(k.mv_size == 4 || k.mv_size == 4 + ROW);
        static const uint8_t zero[ROW];
        const uint8_t *start =
            k.mv_size == 4 ? zero : (const uint8_t *)k.mv_data + 4;
        size_t cnt = 0;
        assert_int_equal(mdb_cursor_count(d->c, &cnt), 0);
        assert_true(cnt >= 1 && cnt < limit);
        chunks++;
        const uint8_t *kb = k.mv_data;
        bool same = have && memcmp(prev, kb, 4) == 0;
        /* a chunk starts above the rows of the one before */
        if (same) assert_true(memcmp(prev + 4, start, ROW) < 0);
        /* only an entity's first chunk has the 4-byte key */
        if (k.mv_size == 4) assert_false(same);
        /* walk this chunk's rows */
        for (size_t i = 0; i < cnt; i++) {
            if (i)
                assert_int_equal(mdb_cursor_get(d->c, &k, &v, MDB_NEXT_DUP), 0);
            assert_int_equal(v.mv_size, ROW);
            assert_true(memcmp(v.mv_data, start, ROW) >= 0);
            if (same || i) assert_true(memcmp(prev + 4, v.mv_data, ROW) < 0);
            memcpy(prev, kb, 4);
            memcpy(prev + 4, v.mv_data, ROW);
            same = true;
        }
        have = true;
    }
    assert_int_equal(rc, MDB_NOTFOUND);
    /* tails: the invariant readers rely on (store_int.h) */
    uint64_t tail_rows = 99, bad = 99;
    assert_int_equal(hks_arg_tail_check(d->c, d->tc, &tail_rows, &bad), 0);
    assert_int_equal(bad, 0);
    return chunks;
}

/* Rows in tails now. */
static uint64_t tail_rows(raw_db *d)
{
    uint64_t rows = 0, bad = 0;
    assert_int_equal(hks_arg_tail_check(d->c, d->tc, &rows, &bad), 0);
    return rows;
}

/* Every entity of the model (and some absent ones) against the database. */
static void compare(raw_db *d, const model *m, uint64_t *seed)
{
    size_t i = 0;
    /* bounded by the model's rows */
    while (i < m->n) {
        uint32_t ent = hks_get_u32(m->r[i]);
        size_t j = i;
        while (j < m->n && hks_get_u32(m->r[j]) == ent)
            j++;
        /* full walk */
        hks_argit it;
        const uint8_t *row;
        assert_int_equal(hks_argit_seek(&it, NULL, d->c, d->tc, ent, NULL), 0);
        for (size_t x = i; x < j; x++) {
            assert_int_equal(hks_argit_next(&it, &row), 0);
            assert_memory_equal(row, m->r[x] + 4, ROW);
        }
        assert_int_equal(hks_argit_next(&it, &row), MDB_NOTFOUND);
        uint64_t cnt = 0;
        assert_int_equal(hks_arg_count(d->c, d->tc, ent, &cnt), 0);
        assert_int_equal(cnt, j - i);
        bool has = false;
        assert_int_equal(hks_arg_has_entity(d->c, ent, &has), 0);
        assert_true(has);
        /* seeks: at a stored row, just after one, and at a (pos, pred)
         * prefix; each must give the model's lower bound and go on to the
         * entity's end */
        /* bounded counts: exact up to the bound, above it past it */
        uint64_t upto = (j - i) / 2, got = 0;
        assert_int_equal(hks_arg_count_upto(d->c, d->tc, ent, upto, &got), 0);
        assert_true(got > upto && got <= j - i);
        assert_int_equal(hks_arg_count_upto(d->c, d->tc, ent, j - i, &got), 0);
        assert_int_equal(got, j - i);
        for (int s = 0; s < 3; s++) {
            size_t at = i + tu_rand(seed) % (j - i);
            uint8_t from[ROW];
            memcpy(from, m->r[at] + 4, ROW);
            if (s == 1) from[ROW - 1]++;
            if (s == 2) memset(from + 5, 0, ROW - 5);
            size_t want = i;
            while (want < j && memcmp(m->r[want] + 4, from, ROW) < 0)
                want++;
            assert_int_equal(hks_argit_seek(&it, NULL, d->c, d->tc, ent, from),
                             0);
            for (size_t x = want; x < j; x++) {
                assert_int_equal(hks_argit_next(&it, &row), 0);
                assert_memory_equal(row, m->r[x] + 4, ROW);
            }
            assert_int_equal(hks_argit_next(&it, &row), MDB_NOTFOUND);
        }
        i = j;
    }
    /* entities without rows (the model's are even) */
    for (uint32_t ent = 1; ent < 12; ent += 2) {
        bool has = true;
        uint64_t cnt = 1;
        hks_argit it;
        const uint8_t *row;
        assert_int_equal(hks_arg_has_entity(d->c, ent, &has), 0);
        assert_false(has);
        assert_int_equal(hks_arg_count(d->c, d->tc, ent, &cnt), 0);
        assert_int_equal(cnt, 0);
        assert_int_equal(hks_argit_seek(&it, NULL, d->c, d->tc, ent, NULL), 0);
        assert_int_equal(hks_argit_next(&it, &row), MDB_NOTFOUND);
    }
}

/* The real limit for 4 KiB pages keeps a chunk inline; appends leave full
 * chunks behind them and split off the new row. */
static void test_split_at_limit(void **state)
{
    (void)state;
    uint32_t limit = hks_arg_chunk_rows(4096);
    assert_int_equal(limit, 132);
    assert_true(hks_arg_chunk_rows(65536) > limit);
    raw_db d = raw_open();
    model *m = calloc(1, sizeof *m);
    assert_non_null(m);
    uint64_t seed = 3;
    for (uint32_t i = 1; i <= 1000; i++) {
        uint8_t row[ROW];
        bool fresh;
        make_row(row, 1, 7, i, 100 + i);
        assert_int_equal(hks_arg_put(d.c, 4, row, limit, &fresh), 0);
        assert_int_equal(fresh, i == 1);
        model_add(m, 4, row);
        if (i == limit - 1) assert_int_equal(validate(&d, limit), 1);
        if (i == limit) assert_int_equal(validate(&d, limit), 2);
    }
    /* 1000 appends: chunks of limit - 1 rows and the last partial one */
    assert_int_equal(validate(&d, limit), (1000 + limit - 2) / (limit - 1));
    /* inline: 8 nodes of ~2 KiB fill main-tree leaves (as sub-trees they
     * would be 8 small records in one leaf) */
    MDB_stat st;
    assert_int_equal(mdb_stat(d.txn, d.dbi, &st), 0);
    assert_true(st.ms_leaf_pages >= 4);
    compare(&d, m, &seed);
    /* a bounded count stops at the first chunk past its bound */
    uint64_t upto = 0;
    assert_int_equal(hks_arg_count_upto(d.c, d.tc, 4, 10, &upto), 0);
    assert_int_equal(upto, limit - 1);
    assert_int_equal(hks_arg_count_upto(d.c, d.tc, 4, 1000, &upto), 0);
    assert_int_equal(upto, 1000);
    /* inserts in the middle split chunks in halves */
    for (uint32_t i = 1; i <= 400; i++) {
        uint8_t row[ROW];
        bool fresh;
        make_row(row, 0, 7, i, 0);
        assert_int_equal(hks_arg_put(d.c, 4, row, limit, &fresh), 0);
        assert_false(fresh);
        model_add(m, 4, row);
    }
    validate(&d, limit);
    compare(&d, m, &seed);
    free(m);
    raw_close(&d);
}

/* The first chunk emptied: its key goes away, later chunks stay, a row
 * below them goes into a new first chunk (entity + zeros). */
static void test_first_chunk_emptied(void **state)
{
    (void)state;
    const uint32_t limit = 8;
    raw_db d = raw_open();
    model *m = calloc(1, sizeof *m);
    assert_non_null(m);
    uint64_t seed = 5;
    uint8_t row[ROW];
    bool fresh;
    for (uint32_t i = 1; i <= 30; i++) {
        make_row(row, 0, 3, i * 10, 0);
        assert_int_equal(hks_arg_put(d.c, 2, row, limit, &fresh), 0);
        model_add(m, 2, row);
    }
    size_t chunks = validate(&d, limit);
    assert_true(chunks >= 4);
    /* delete the rows of the first chunk */
    while (hks_get_u48(m->r[0] + 4 + 5) <= 70) {
        assert_int_equal(hks_arg_del(d.c, d.tc, 2, m->r[0] + 4, limit), 0);
        model_del(m, 0);
    }
    make_row(row, 0, 3, 10, 0);
    assert_int_equal(hks_arg_del(d.c, d.tc, 2, row, limit), MDB_NOTFOUND);
    validate(&d, limit);
    compare(&d, m, &seed);
    /* a row below every chunk start */
    make_row(row, 0, 3, 5, 0);
    assert_int_equal(hks_arg_put(d.c, 2, row, limit, &fresh), 0);
    assert_false(fresh);
    model_add(m, 2, row);
    validate(&d, limit);
    compare(&d, m, &seed);
    /* delete every row: the entity is gone */
    while (m->n) {
        assert_int_equal(hks_arg_del(d.c, d.tc, 2, m->r[m->n - 1] + 4, limit),
                         0);
        model_del(m, m->n - 1);
    }
    bool has = true;
    assert_int_equal(hks_arg_has_entity(d.c, 2, &has), 0);
    assert_false(has);
    assert_int_equal(validate(&d, limit), 0);
    free(m);
    raw_close(&d);
}

/* Sorted writes: new entities appended in chunks, existing ones put. */
static void test_write_sorted(void **state)
{
    (void)state;
    const uint32_t limit = 16;
    raw_db d = raw_open();
    model *m = calloc(1, sizeof *m);
    assert_non_null(m);
    uint64_t seed = 11;
    for (int round = 0; round < 4; round++) {
        uint8_t(*recs)[4 + ROW] = calloc(500, sizeof *recs);
        assert_non_null(recs);
        size_t n = 0;
        for (uint32_t i = 0; i < 500; i++) {
            uint32_t ent = 2u * (1u + (uint32_t)(tu_rand(&seed) % 5));
            if (round == 3) ent = 20; /* above every key: appended */
            uint8_t row[ROW];
            make_row(row, (uint8_t)(tu_rand(&seed) % 3),
                     1 + (uint32_t)(tu_rand(&seed) % 4), 1 + round * 1000 + i,
                     0);
            hks_put_u32(recs[n], ent);
            memcpy(recs[n] + 4, row, ROW);
            n++;
        }
        qsort(recs, n, sizeof recs[0], cmp_rec);
        uint64_t fresh = 0;
        assert_int_equal(
            hks_arg_write_sorted(d.c, d.tc, recs[0], n, 4 + ROW, limit, &fresh),
            0);
        uint64_t want_fresh = 0;
        for (size_t i = 0; i < n; i++) {
            uint32_t ent = hks_get_u32(recs[i]);
            bool known = false;
            for (size_t x = 0; x < m->n && !known; x++)
                known = hks_get_u32(m->r[x]) == ent;
            if (!known && (i == 0 || hks_get_u32(recs[i - 1]) != ent))
                want_fresh++;
        }
        for (size_t i = 0; i < n; i++)
            model_add(m, hks_get_u32(recs[i]), recs[i] + 4);
        assert_int_equal(fresh, want_fresh);
        free(recs);
        validate(&d, limit);
        compare(&d, m, &seed);
    }
    free(m);
    raw_close(&d);
}

/* Random inserts and deletes over a few entities, with a small limit so
 * that chunks split often, against the sorted array after every batch. */
static void test_random_model(void **state)
{
    (void)state;
    raw_db d = raw_open();
    model *m = calloc(1, sizeof *m);
    assert_non_null(m);
    uint64_t seed = 77;
    for (int batch = 0; batch < 60; batch++) {
        uint32_t limit = batch % 2 ? 6 : 24; /* correctness is not L's */
        for (int op = 0; op < 80; op++) {
            uint64_t r = tu_rand(&seed);
            if (m->n && r % 10 < 4) {
                size_t i = (size_t)(tu_rand(&seed) % m->n);
                assert_int_equal(hks_arg_del(d.c, d.tc, hks_get_u32(m->r[i]),
                                             m->r[i] + 4, limit),
                                 0);
                model_del(m, i);
                continue;
            }
            uint32_t ent = 2u * (1u + (uint32_t)(r >> 8) % 5);
            uint8_t row[ROW];
            make_row(row, (uint8_t)((r >> 16) % 3),
                     1 + (uint32_t)((r >> 20) % 3), 1 + (r >> 24) % 400,
                     (uint32_t)(r >> 40) % 3);
            if (model_has(m, ent, row)) continue;
            bool was = false, fresh;
            for (size_t x = 0; x < m->n && !was; x++)
                was = hks_get_u32(m->r[x]) == ent;
            assert_int_equal(hks_arg_put(d.c, ent, row, limit, &fresh), 0);
            assert_int_equal(fresh, !was);
            model_add(m, ent, row);
        }
        validate(&d, 24);
        compare(&d, m, &seed);
    }
    free(m);
    raw_close(&d);
}

/* Tails (format 6): flushes of sorted batches (hks_arg_write_sorted, as
 * the pending flush writes them) over heavy entities, whose newest rows go
 * to tails once their first chunk holds HKS_ARG_TAIL_MIN rows, and light
 * ones, which never get one; random deletes, a phase that deletes most
 * rows (first chunks fall under the bound: tails go back into the chunks)
 * and one that grows again. Every reader against the model after each
 * batch, and the invariant (validate). */
static void test_tail_model(void **state)
{
    (void)state;
    const uint32_t limit = 80; /* >= 2 * HKS_ARG_TAIL_MIN: tails in use */
    raw_db d = raw_open();
    model *m = calloc(1, sizeof *m);
    uint8_t(*recs)[4 + ROW] = calloc(400, sizeof *recs);
    assert_non_null(m);
    assert_non_null(recs);
    uint64_t seed = 1234, next_id = 1, max_tail = 0;
    bool emptied = false;
    for (int batch = 0; batch < 150; batch++) {
        /* 0-59 grow, 60-99 mostly delete, 100-149 grow again */
        bool shrink = batch >= 60 && batch < 100;
        size_t n = 0;
        for (int op = 0; op < 40; op++) {
            uint64_t r = tu_rand(&seed);
            uint32_t ent = 2u * (1u + (uint32_t)(r % 6)); /* 2..12 */
            bool heavy = ent <= 6;
            if (!heavy && r % 7) continue; /* light: few rows */
            if (shrink && r % 10 < 8) continue;
            uint8_t row[ROW];
            /* rows land anywhere in the entity's order (position,
             * predicate first), not only at its end */
            make_row(row, (uint8_t)((r >> 16) % 3),
                     1 + (uint32_t)((r >> 20) % 3), next_id++,
                     (uint32_t)(r >> 40) % 5);
            hks_put_u32(recs[n], ent);
            memcpy(recs[n] + 4, row, ROW);
            n++;
        }
        qsort(recs, n, sizeof recs[0], cmp_rec);
        uint64_t fresh = 0, want_fresh = 0;
        for (size_t i = 0; i < n; i++) {
            uint32_t ent = hks_get_u32(recs[i]);
            if (i && hks_get_u32(recs[i - 1]) == ent) continue;
            bool known = false;
            for (size_t x = 0; x < m->n && !known; x++)
                known = hks_get_u32(m->r[x]) == ent;
            want_fresh += !known;
        }
        assert_int_equal(
            hks_arg_write_sorted(d.c, d.tc, recs[0], n, 4 + ROW, limit, &fresh),
            0);
        assert_int_equal(fresh, want_fresh);
        for (size_t i = 0; i < n; i++)
            model_add(m, hks_get_u32(recs[i]), recs[i] + 4);
        /* deletes: a few, or most rows while shrinking */
        int dels = shrink ? 30 : 6;
        for (int x = 0; x < dels && m->n; x++) {
            size_t i = (size_t)(tu_rand(&seed) % m->n);
            assert_int_equal(hks_arg_del(d.c, d.tc, hks_get_u32(m->r[i]),
                                         m->r[i] + 4, limit),
                             0);
            assert_int_equal(hks_arg_del(d.c, d.tc, hks_get_u32(m->r[i]),
                                         m->r[i] + 4, limit),
                             MDB_NOTFOUND);
            model_del(m, i);
        }
        validate(&d, limit);
        compare(&d, m, &seed);
        uint64_t tr = tail_rows(&d);
        if (tr > max_tail) max_tail = tr;
        if (shrink && max_tail && tr == 0) emptied = true;
    }
    /* the tails were used, and went back into the chunks as their
     * entities shrank */
    assert_true(max_tail >= HKS_ARG_TAIL_ROWS);
    assert_true(emptied);
    assert_true(tail_rows(&d) > 0);
    free(recs);
    free(m);
    raw_close(&d);
}

/* Light entities never get a tail, and a limit under 2 * HKS_ARG_TAIL_MIN
 * (whose splits could leave a first chunk under the bound) uses none. */
static void test_tail_light(void **state)
{
    (void)state;
    raw_db d = raw_open();
    uint8_t rec[4 + ROW];
    uint64_t fresh = 0;
    for (uint32_t i = 1; i <= 200; i++) {
        hks_put_u32(rec, 2);
        make_row(rec + 4, 0, 1, i, 0);
        assert_int_equal(
            hks_arg_write_sorted(d.c, d.tc, rec, 1, sizeof rec, 40, &fresh), 0);
        hks_put_u32(rec, 4);
        assert_int_equal(
            hks_arg_write_sorted(d.c, d.tc, rec, 1, sizeof rec, 132, &fresh),
            0);
        /* entity 4's tail starts once its first chunk holds the bound
         * plus its step (4 % 16) */
        uint32_t start = HKS_ARG_TAIL_MIN + 4;
        assert_int_equal(tail_rows(&d),
                         i <= start ? 0
                                    : 1 + (i - start - 1) % HKS_ARG_TAIL_ROWS);
    }
    validate(&d, 132);
    uint64_t n = 0;
    assert_int_equal(hks_arg_count(d.c, d.tc, 2, &n), 0);
    assert_int_equal(n, 200);
    assert_int_equal(hks_arg_count(d.c, d.tc, 4, &n), 0);
    assert_int_equal(n, 200);
    /* 16 or more rows of entity 4 in one flush: the tail's rows and all
     * new ones but the last go to its chunks, the last starts the tail */
    assert_true(tail_rows(&d) > 0);
    uint8_t(*bulk)[4 + ROW] = calloc(20, sizeof *bulk);
    assert_non_null(bulk);
    for (uint32_t i = 0; i < 20; i++) {
        hks_put_u32(bulk[i], 4);
        make_row(bulk[i] + 4, 1, 1, 1000 + i, 0);
    }
    assert_int_equal(
        hks_arg_write_sorted(d.c, d.tc, bulk[0], 20, 4 + ROW, 132, &fresh), 0);
    free(bulk);
    assert_int_equal(tail_rows(&d), 1);
    validate(&d, 132);
    assert_int_equal(hks_arg_count(d.c, d.tc, 4, &n), 0);
    assert_int_equal(n, 220);
    /* damage the check names: a tail of an entity whose first chunk is
     * under the bound (readers would not see it), a row both in a tail
     * and a chunk (counted twice) */
    uint64_t rows = 0, bad = 0;
    uint8_t kb[4], row[ROW];
    hks_put_u32(kb, 6);
    make_row(row, 0, 1, 1, 0);
    bool put_fresh;
    assert_int_equal(hks_arg_put(d.c, 6, row, 132, &put_fresh), 0);
    make_row(row, 0, 1, 2, 0);
    MDB_val k = {4, kb}, v = {ROW, row};
    assert_int_equal(mdb_put(d.txn, d.tdbi, &k, &v, 0), 0);
    assert_int_equal(hks_arg_tail_check(d.c, d.tc, &rows, &bad), 0);
    assert_int_equal(bad, 1 + 6);
    assert_int_equal(mdb_del(d.txn, d.tdbi, &k, NULL), 0);
    hks_put_u32(kb, 4);
    make_row(row, 0, 1, 1, 0); /* entity 4's first row, in a chunk */
    assert_int_equal(mdb_put(d.txn, d.tdbi, &k, &v, 0), 0);
    assert_int_equal(hks_arg_tail_check(d.c, d.tc, &rows, &bad), 0);
    assert_int_equal(bad, 1 + 4);
    raw_close(&d);
}

/* ent's first chunk rows (its 4-byte key; 0 without one) and tail rows:
 * the shape the tail invariant is stated on. */
static void shape(raw_db *d, uint32_t ent, size_t *fc, size_t *tn)
{
    uint8_t kb[4], tail[HKS_ARG_TAIL_ROWS * ROW];
    hks_put_u32(kb, ent);
    MDB_val k = {4, kb}, v;
    *fc = 0;
    int rc = mdb_cursor_get(d->c, &k, &v, MDB_SET);
    if (rc == 0)
        assert_int_equal(mdb_cursor_count(d->c, fc), 0);
    else
        assert_int_equal(rc, MDB_NOTFOUND);
    assert_int_equal(hks_arg_tail_rows(d->tc, ent, tail, tn), 0);
}

/* Every reader against the model, and deletes of rows that are nowhere
 * (in the chunks' range and in the tail's): MDB_NOTFOUND, nothing
 * changed. */
static void check_all(raw_db *d, const model *m, uint32_t limit, uint64_t *seed)
{
    uint8_t row[ROW];
    for (uint32_t ent = 16; ent <= 32; ent += 2) {
        make_row(row, 0, 1, 900000 + ent, 0); /* below most rows */
        assert_int_equal(hks_arg_del(d->c, d->tc, ent, row, limit),
                         MDB_NOTFOUND);
        make_row(row, 9, 9, 900001 + ent, 0); /* above every row */
        assert_int_equal(hks_arg_del(d->c, d->tc, ent, row, limit),
                         MDB_NOTFOUND);
    }
    validate(d, limit);
    compare(d, m, seed);
}

/* Deletes ent's row at model index i, twice: found, then MDB_NOTFOUND. */
static void del_row(raw_db *d, model *m, size_t i, uint32_t limit)
{
    uint32_t ent = hks_get_u32(m->r[i]);
    assert_int_equal(hks_arg_del(d->c, d->tc, ent, m->r[i] + 4, limit), 0);
    assert_int_equal(hks_arg_del(d->c, d->tc, ent, m->r[i] + 4, limit),
                     MDB_NOTFOUND);
    model_del(m, i);
}

/* Index in the model of ent's lowest row. */
static size_t ent_row(const model *m, uint32_t ent)
{
    size_t i = 0;
    while (i < m->n && hks_get_u32(m->r[i]) != ent)
        i++;
    assert_true(i < m->n);
    return i;
}

/* Index in the model of ent's row with the newest (or oldest) id. */
static size_t ent_by_id(const model *m, uint32_t ent, bool newest)
{
    size_t at = m->n;
    for (size_t i = 0; i < m->n; i++) {
        if (hks_get_u32(m->r[i]) != ent) continue;
        uint64_t id = hks_get_u48(m->r[i] + 4 + 5);
        if (at == m->n || (newest ? id > hks_get_u48(m->r[at] + 4 + 5)
                                  : id < hks_get_u48(m->r[at] + 4 + 5)))
            at = i;
    }
    assert_true(at < m->n);
    return at;
}

/* The bounds readers decide on (a first chunk of 31, 32, 33 rows), with
 * and without a tail, step by step: entity 16 (its tail starts at 32
 * rows, 16 % 16 == 0) grows one row per flush past a filled tail, loses a
 * tail row, then its oldest rows until the tail goes back into the chunks
 * and the entity is light again; entity 32 grows to several chunks and
 * loses its first chunk's rows until that chunk is gone, so that seeks
 * land on later chunks of an entity whose first chunk is light or absent.
 * After every step every reader against the model (check_all), and the
 * shape asserted, so that the bounds are really crossed. */
static void test_tail_bounds(void **state)
{
    (void)state;
    const uint32_t limit = 132; /* the 4 KiB limit: tails in use */
    raw_db d = raw_open();
    model *m = calloc(1, sizeof *m);
    assert_non_null(m);
    uint64_t seed = 77, next_id = 1, fresh = 0;
    uint8_t recs[2][4 + ROW];
    size_t fc, tn;
    for (uint32_t i = 1; i <= 70; i++) {
        /* rows at two positions and three predicates: tail rows (the
         * newest ids) fall between chunk rows */
        size_t n = 0;
        uint64_t id = next_id++;
        hks_put_u32(recs[n], 16);
        make_row(recs[n++] + 4, (uint8_t)(id % 2), 1 + (uint32_t)(id % 3), id,
                 0);
        if (i % 3 == 0) { /* a light entity in the same flushes */
            id = next_id++;
            hks_put_u32(recs[n], 18);
            make_row(recs[n++] + 4, 0, 1 + (uint32_t)(id % 3), id, 0);
        }
        assert_int_equal(
            hks_arg_write_sorted(d.c, d.tc, recs[0], n, 4 + ROW, limit, &fresh),
            0);
        for (size_t x = 0; x < n; x++)
            model_add(m, hks_get_u32(recs[x]), recs[x] + 4);
        shape(&d, 16, &fc, &tn);
        /* up to 32 rows all in the first chunk; then a tail of 1..16, the
         * 17th moving it into the chunks but for the newest row */
        size_t want_tn = i <= 32 ? 0 : (i - 33) % HKS_ARG_TAIL_ROWS + 1;
        assert_int_equal(tn, want_tn);
        assert_int_equal(fc, i - want_tn);
        shape(&d, 18, &fc, &tn);
        assert_int_equal(tn, 0);
        check_all(&d, m, limit, &seed);
    }
    /* 70 rows: 64 in the first chunk, 6 in the tail; the newest row, a
     * tail row, goes */
    del_row(&d, m, ent_by_id(m, 16, true), limit);
    shape(&d, 16, &fc, &tn);
    assert_int_equal(fc, 64);
    assert_int_equal(tn, 5);
    check_all(&d, m, limit, &seed);
    /* the oldest rows, chunk rows: down to 32 with the tail, then 31
     * takes the tail's rows into the chunks, then light again */
    bool saw32 = false, saw33 = false, flushed = false, light = false;
    while (!light) {
        size_t at = ent_by_id(m, 16, false);
        size_t before_fc, before_tn;
        shape(&d, 16, &before_fc, &before_tn);
        del_row(&d, m, at, limit);
        shape(&d, 16, &fc, &tn);
        if (before_tn && before_fc == HKS_ARG_TAIL_MIN) {
            /* under the bound: the tail is in the chunks now */
            assert_int_equal(tn, 0);
            assert_int_equal(fc, HKS_ARG_TAIL_MIN - 1 + before_tn);
            flushed = true;
        }
        saw33 |= tn && fc == 33;
        if (tn > 1 && fc == HKS_ARG_TAIL_MIN && !saw32) {
            /* a tail row of an entity whose first chunk is at the bound */
            check_all(&d, m, limit, &seed);
            del_row(&d, m, ent_by_id(m, 16, true), limit);
            size_t was = tn;
            shape(&d, 16, &fc, &tn);
            assert_int_equal(fc, HKS_ARG_TAIL_MIN);
            assert_int_equal(tn, was - 1);
            saw32 = true;
        }
        light = fc < HKS_ARG_TAIL_MIN - 2;
        if (fc < HKS_ARG_TAIL_MIN) assert_int_equal(tn, 0);
        check_all(&d, m, limit, &seed);
    }
    assert_true(saw32 && saw33 && flushed);
    /* grown again: no tail before the bound, one at it */
    for (bool done = false; !done;) {
        size_t before_fc = fc;
        hks_put_u32(recs[0], 16);
        make_row(recs[0] + 4, 1, 2, next_id++, 0);
        assert_int_equal(
            hks_arg_write_sorted(d.c, d.tc, recs[0], 1, 4 + ROW, limit, &fresh),
            0);
        model_add(m, 16, recs[0] + 4);
        shape(&d, 16, &fc, &tn);
        done = before_fc == HKS_ARG_TAIL_MIN;
        assert_int_equal(tn, done ? 1 : 0);
        assert_int_equal(fc, done ? before_fc : before_fc + 1);
        check_all(&d, m, limit, &seed);
    }
    /* entity 32: several chunks, a tail */
    for (uint32_t i = 1; i <= 400; i++) {
        uint64_t id = next_id++;
        hks_put_u32(recs[0], 32);
        make_row(recs[0] + 4, (uint8_t)(id % 2), 1 + (uint32_t)(id % 3), id, 0);
        assert_int_equal(
            hks_arg_write_sorted(d.c, d.tc, recs[0], 1, 4 + ROW, limit, &fresh),
            0);
        model_add(m, 32, recs[0] + 4);
        if (i % 50 == 0) check_all(&d, m, limit, &seed);
    }
    shape(&d, 32, &fc, &tn);
    assert_true(tn > 0);
    assert_true(validate(&d, limit) > 4);
    /* its lowest rows (the first chunk's, or tail rows below them) go
     * until the first chunk is gone: a tail while it holds >= 32 rows,
     * none below, none without it */
    bool gone = false;
    while (!gone) {
        del_row(&d, m, ent_row(m, 32), limit);
        shape(&d, 32, &fc, &tn);
        if (fc < HKS_ARG_TAIL_MIN) assert_int_equal(tn, 0);
        gone = fc == 0;
        check_all(&d, m, limit, &seed);
    }
    /* a row below every chunk start makes a 4-byte chunk again */
    hks_put_u32(recs[0], 32);
    make_row(recs[0] + 4, 0, 1, next_id++, 0);
    assert_int_equal(
        hks_arg_write_sorted(d.c, d.tc, recs[0], 1, 4 + ROW, limit, &fresh), 0);
    model_add(m, 32, recs[0] + 4);
    shape(&d, 32, &fc, &tn);
    assert_int_equal(fc, 1);
    assert_int_equal(tn, 0);
    check_all(&d, m, limit, &seed);
    free(m);
    raw_close(&d);
}

/* Damage: a key of the wrong size is MDB_CORRUPTED, never a wrong row. */
static void test_bad_key(void **state)
{
    (void)state;
    raw_db d = raw_open();
    uint8_t kb[7] = {0, 0, 0, 6, 1, 2, 3}, row[ROW];
    make_row(row, 0, 1, 1, 0);
    MDB_val k = {sizeof kb, kb}, v = {ROW, row};
    assert_int_equal(mdb_put(d.txn, d.dbi, &k, &v, 0), 0);
    hks_argit it;
    uint64_t n;
    bool fresh;
    /* entity 5's seeks land on entity 6's 7-byte key */
    assert_int_equal(hks_argit_seek(&it, NULL, d.c, d.tc, 5, NULL),
                     MDB_CORRUPTED);
    assert_int_equal(hks_arg_count(d.c, d.tc, 5, &n), MDB_CORRUPTED);
    assert_int_equal(hks_arg_put(d.c, 5, row, 8, &fresh), MDB_CORRUPTED);
    raw_close(&d);
}

/* A store's write txn: an adjacency walk goes on across adds (flushed,
 * splitting chunks) and deletes of rows it has not reached: every row
 * after the last one returned is seen once, deleted ones never. */
static void test_write_between_steps(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("argit");
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, true);
    hk_error err;
    char x[32];
    hk_fact_id ids[1000];
    for (uint32_t i = 0; i < 400; i++) {
        snprintf(x, sizeof x, "p%u", i);
        ids[i] = tu_add(t, tu_st("HasPart", "hub", x, NULL), NULL);
    }
    uint32_t hub, pred;
    assert_int_equal(hks_sym_id(t, "hub", 3, &hub, &err), HK_OK);
    assert_int_equal(hks_sym_id(t, "HasPart", 7, &pred, &err), HK_OK);
    hks_adj *a = NULL;
    assert_int_equal(hks_adj_open(t, hub, 0, pred, &a, &err), HK_OK);
    hks_adj_row row;
    bool has;
    hk_fact_id last = 0;
    uint32_t n = 0;
    for (; n < 100; n++) {
        assert_int_equal(hks_adj_next(a, &row, &has, &err), HK_OK);
        assert_true(has);
        assert_int_equal(row.fact, ids[n]);
        last = row.fact;
    }
    for (uint32_t i = 400; i < 700; i++) {
        snprintf(x, sizeof x, "q%u", i);
        ids[i] = tu_add(t, tu_st("HasPart", "hub", x, NULL), NULL);
    }
    /* the delete flushes the adds (their rows split the hub's chunks) */
    for (uint32_t i = 200; i < 250; i++)
        assert_int_equal(hk_store_delete(t, ids[i], &err), HK_OK);
    uint32_t seen = 0;
    for (;;) {
        assert_int_equal(hks_adj_next(a, &row, &has, &err), HK_OK);
        if (!has) break;
        assert_true(row.fact > last);
        assert_false(row.fact >= ids[200] && row.fact <= ids[249]);
        last = row.fact;
        seen++;
    }
    assert_int_equal(seen, 700 - 100 - 50);
    hks_adj_close(a);
    tu_check(t);
    tu_commit(t);
    tu_discard(s, dir);
}

/* A store's hub entity gains rows in many small transactions, so its
 * newest rows sit in a tail: counts, scans by entity (and position),
 * adjacency walks across writes, deletes of tail and chunk rows, the
 * store check and verify all see exactly the facts; then a compaction
 * copies the tails. */
static void test_store_tails(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("argtail");
    hk_store *s = tu_open(dir);
    hk_error err;
    char x[32];
    enum { N = 300 };
    hk_fact_id ids[N];
    bool gone[N] = {false};
    for (uint32_t i = 0; i < N; i++) {
        hk_txn *t = tu_begin(s, true);
        snprintf(x, sizeof x, "x%u", i);
        /* the hub at position 0 and, every third fact, at position 1 */
        ids[i] = i % 3 == 2 ? tu_add(t, tu_st("Near", x, "hub", NULL), NULL)
                            : tu_add(t, tu_st("HasPart", "hub", x, NULL), NULL);
        tu_commit(t);
    }
    hk_txn *t = tu_begin(s, true);
    uint32_t hub;
    assert_int_equal(hks_sym_id(t, "hub", 3, &hub, &err), HK_OK);
    MDB_cursor *tc;
    MDB_val k, v;
    uint8_t kb[4];
    hks_put_u32(kb, hub);
    k.mv_size = 4;
    k.mv_data = kb;
    assert_int_equal(mdb_cursor_open(t->txn, s->db.by_arg_tail, &tc), 0);
    assert_int_equal(mdb_cursor_get(tc, &k, &v, MDB_SET), 0);
    mdb_cursor_close(tc);
    tu_check(t);
    /* deletes: every seventh fact (some in the tail, some in chunks) */
    for (uint32_t i = 0; i < N; i += 7) {
        assert_int_equal(hk_store_delete(t, ids[i], &err), HK_OK);
        gone[i] = true;
    }
    uint64_t n = 0, want = 0, want0 = 0;
    for (uint32_t i = 0; i < N; i++)
        if (!gone[i]) {
            want++;
            want0 += i % 3 != 2;
        }
    assert_int_equal(hk_store_count_entity(t, "hub", &n, &err), HK_OK);
    assert_int_equal(n, want);
    /* scans by entity and by entity at a position, in id order */
    for (int pos = -1; pos <= 0; pos++) {
        hk_scan sc = HK_SCAN_INIT;
        sc.entity = "hub";
        sc.position = pos;
        hk_query *q = NULL;
        assert_int_equal(hk_query_open_scan(t, &sc, NULL, &q, &err), HK_OK);
        hk_fact_id id;
        uint64_t got = 0;
        while (tu_next_id(q, &id)) {
            uint32_t at = 0;
            while (at < N && ids[at] != id)
                at++;
            assert_true(at < N);
            assert_false(gone[at]);
            if (pos == 0) assert_true(at % 3 != 2);
            got++;
        }
        hk_query_close(q);
        assert_int_equal(got, pos < 0 ? want : want0);
    }
    tu_check(t);
    hk_verify_report *rep = calloc(1, sizeof *rep);
    assert_non_null(rep);
    assert_int_equal(hk_store_verify_deep(t, rep, &err), HK_OK);
    if (!rep->ok) fprintf(stderr, "verify: %s\n", rep->problems[0]);
    assert_true(rep->ok);
    tu_commit(t);
    /* more small transactions after the deletes, then a read txn */
    for (uint32_t i = 0; i < 40; i++) {
        t = tu_begin(s, true);
        snprintf(x, sizeof x, "y%u", i);
        tu_add(t, tu_st("HasPart", "hub", x, NULL), NULL);
        tu_commit(t);
    }
    t = tu_begin(s, false);
    assert_int_equal(hk_store_count_entity(t, "hub", &n, &err), HK_OK);
    assert_int_equal(n, want + 40);
    tu_check(t);
    memset(rep, 0, sizeof *rep);
    assert_int_equal(hk_store_verify_deep(t, rep, &err), HK_OK);
    assert_true(rep->ok);
    hk_txn_abort(t);
    /* a backup (the dense copy) holds the tails */
    char *bdir = tu_tmpdir("argtailbk");
    tu_rmrf(bdir);
    assert_int_equal(hk_store_backup(s, bdir, NULL, &err), HK_OK);
    hk_store *b = tu_open(bdir);
    t = tu_begin(b, false);
    assert_int_equal(mdb_cursor_open(t->txn, b->db.by_arg_tail, &tc), 0);
    k.mv_size = 4;
    k.mv_data = kb;
    assert_int_equal(mdb_cursor_get(tc, &k, &v, MDB_SET), 0);
    mdb_cursor_close(tc);
    assert_int_equal(hk_store_count_entity(t, "hub", &n, &err), HK_OK);
    assert_int_equal(n, want + 40);
    tu_check(t);
    hk_txn_abort(t);
    tu_discard(b, bdir);
    free(rep);
    tu_discard(s, dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_at_limit),
        cmocka_unit_test(test_first_chunk_emptied),
        cmocka_unit_test(test_write_sorted),
        cmocka_unit_test(test_random_model),
        cmocka_unit_test(test_tail_model),
        cmocka_unit_test(test_tail_light),
        cmocka_unit_test(test_tail_bounds),
        cmocka_unit_test(test_bad_key),
        cmocka_unit_test(test_write_between_steps),
        cmocka_unit_test(test_store_tails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
