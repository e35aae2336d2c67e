/*
 * test_store_factwalk.c — the batched fact-record walker (factwalk.c)
 * against LMDB's own lookups, and query read-ahead against row-by-row
 * reading.
 *
 * The store is built so that the `fact` tree has three levels, leaves with
 * gaps (deleted ids), updated records, and records on overflow pages (big
 * context). Every id, present or not, is looked up in batches of every
 * size and in shuffled order; the walker must return exactly the pointer
 * mdb_get returns, or nothing (then callers fall back to mdb_get).
 */
#include "core/buf.h"
#include "test_store_util.h"

#include "store/factwalk.h"

#define N_FACTS 60000u

static char *g_dir;
static hk_store *g_store;
static hk_fact_id g_max_id;

static void add_with_context(hk_txn *t, uint32_t i, size_t ctx_len)
{
    char a[32], b[32];
    snprintf(a, sizeof a, "e%u", i % 4099u);
    snprintf(b, sizeof b, "v%u", i);
    hk_statement st = tu_st(i % 7 ? "Links" : "Holds", a, b, NULL);
    hk_fact_meta m = {0};
    char *ctx = NULL;
    if (ctx_len) {
        ctx = malloc(ctx_len + 16);
        assert_non_null(ctx);
        int n = snprintf(ctx, ctx_len + 16, "{\"note\":\"");
        memset(ctx + n, 'x', ctx_len);
        strcpy(ctx + n + ctx_len, "\"}");
        m.fields = HK_META_CONTEXT;
        m.context_json = ctx;
    }
    hk_fact_id id = 0;
    hk_error err;
    assert_int_equal(hk_store_add(t, &st, ctx ? &m : NULL, &id, NULL, &err),
                     HK_OK);
    if (id > g_max_id) g_max_id = id;
    free(ctx);
}

static int setup(void **state)
{
    (void)state;
    g_dir = tu_tmpdir("factwalk");
    g_store = tu_open(g_dir);
    uint64_t rng = 42;
    hk_error err;
    /* several transactions, so leaves come from different commits */
    for (uint32_t batch = 0; batch < 4; batch++) {
        hk_txn *t = tu_begin(g_store, true);
        for (uint32_t i = batch * (N_FACTS / 4);
             i < (batch + 1) * (N_FACTS / 4); i++)
            add_with_context(t, i, i % 997 == 0 ? 5000 : 0);
        tu_commit(t);
    }
    /* gaps: delete about 10% (and whole runs of ids), update some */
    hk_txn *t = tu_begin(g_store, true);
    for (hk_fact_id id = 1; id <= g_max_id; id++) {
        uint64_t r = tu_rand(&rng) % 100;
        bool run = id >= 20000 && id < 20400;
        if (r < 10 || run) {
            assert_int_equal(hk_store_delete(t, id, &err), HK_OK);
        } else if (r < 12) {
            char v[48];
            snprintf(v, sizeof v, "updated%llu", (unsigned long long)id);
            hk_statement st = tu_st("Changed", "x", v, NULL);
            assert_int_equal(hk_store_update(t, id, &st, NULL, &err), HK_OK);
        }
    }
    tu_commit(t);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_discard(g_store, g_dir);
    return 0;
}

/* Compares one batch with mdb_get. Returns how many the walker resolved. */
static size_t check_batch(hk_txn *t, const hks_factwalk *w, const uint64_t *ids,
                          size_t n)
{
    const uint8_t *recs[HKS_FACTWALK_MAX];
    size_t lens[HKS_FACTWALK_MAX];
    size_t resolved = 0;
    hks_factwalk_get(w, n, ids, recs, lens);
    for (size_t i = 0; i < n; i++) {
        HKS_FACT_KEY(k, ids[i]);
        MDB_val d;
        int rc = mdb_get(t->txn, t->s->db.fact, &k, &d);
        if (rc == MDB_NOTFOUND) {
            assert_null(recs[i]);
            continue;
        }
        assert_int_equal(rc, 0);
        if (!recs[i]) {
            /* only records on overflow pages are left to the caller */
            assert_true(d.mv_size > 1000);
            continue;
        }
        assert_ptr_equal(recs[i], d.mv_data);
        assert_int_equal(lens[i], d.mv_size);
        resolved++;
    }
    return resolved;
}

static void test_walker_matches_lmdb(void **state)
{
    (void)state;
    hk_txn *t = tu_begin(g_store, false);
    hks_factwalk w;
    hks_factwalk_init(t, &w);
    assert_true(w.usable);
    assert_true(w.depth >= 3);
    /* every id in order, in batches of every size 1..64, plus ids past
     * the end and id 0 */
    uint64_t ids[HKS_FACTWALK_MAX];
    uint64_t next = 0, rng = 7;
    size_t resolved = 0, size = 1;
    while (next <= g_max_id + 100) {
        size_t n = 0;
        for (; n < size && next <= g_max_id + 100; n++)
            ids[n] = next++;
        resolved += check_batch(t, &w, ids, n);
        size = size % HKS_FACTWALK_MAX + 1;
    }
    assert_true(resolved > N_FACTS * 8 / 10);
    /* shuffled ids, with repeats, in full batches */
    for (int round = 0; round < 2000; round++) {
        for (size_t i = 0; i < HKS_FACTWALK_MAX; i++)
            ids[i] = tu_rand(&rng) % (g_max_id + 50);
        check_batch(t, &w, ids, HKS_FACTWALK_MAX);
    }
    /* ids far outside the tree */
    ids[0] = UINT64_MAX;
    ids[1] = (uint64_t)1 << 47;
    ids[2] = 1;
    check_batch(t, &w, ids, 3);
    hk_txn_abort(t);
}

static void test_walker_refuses_write_txn_and_empty_store(void **state)
{
    (void)state;
    hk_txn *t = tu_begin(g_store, true);
    hks_factwalk w;
    hks_factwalk_init(t, &w);
    assert_false(w.usable);
    uint64_t id = 1;
    const uint8_t *rec = (const uint8_t *)"x";
    size_t len = 1;
    hks_factwalk_get(&w, 1, &id, &rec, &len);
    assert_null(rec);
    hk_txn_abort(t);

    char *dir = tu_tmpdir("factwalk-empty");
    hk_store *s = tu_open(dir);
    t = tu_begin(s, false);
    hks_factwalk_init(t, &w);
    assert_false(w.usable);
    hk_txn_abort(t);
    tu_discard(s, dir);
}

/* Reads a whole scan into "id statement" lines, k rows per query, resuming
 * with cursors, in read or write transactions. */
static char *scan_all(const hk_scan *sc, bool write, uint32_t k)
{
    hk_buf out = HK_BUF_INIT, cur = HK_BUF_INIT, line = HK_BUF_INIT;
    hk_error err;
    hk_fact f;
    hk_fact_init(&f);
    for (int guard = 0; guard < 100000; guard++) {
        hk_txn *t = tu_begin(g_store, write);
        hk_query *q = NULL;
        hk_buf_append(&cur, "", 1);
        assert_int_equal(hk_query_open_scan(t, sc, cur.data, &q, &err), HK_OK);
        bool has = true;
        uint32_t got = 0;
        for (; got < k; got++) {
            assert_int_equal(hk_query_next(q, &f, &has, &err), HK_OK);
            if (!has) break;
            hk_buf_reset(&line);
            assert_int_equal(hk_statement_format(&f.st, &line), HK_OK);
            hk_buf_appendf(&out, "%llu %.*s %zu\n", (unsigned long long)f.id,
                           (int)line.len, line.data,
                           f.context_json ? strlen(f.context_json) : 0);
        }
        hk_buf_reset(&cur);
        assert_int_equal(hk_query_cursor(q, &cur), HK_OK);
        hk_query_close(q);
        hk_txn_abort(t);
        if (!cur.len) break;
    }
    hk_fact_release(&f);
    hk_buf_free(&cur);
    hk_buf_free(&line);
    hk_buf_append(&out, "", 1);
    return out.data;
}

/* Rows read with a mix of hk_query_next_id (no record needed) and
 * hk_query_next (record needed), cursors taken in between: the records are
 * looked up lazily, from the first row that needs one, and must still be
 * exactly the row-by-row results. */
static void test_read_ahead_mixed_next_and_next_id(void **state)
{
    (void)state;
    const char *entities[] = {"e0", "e17", "x"};
    uint64_t rng = 5;
    for (size_t e = 0; e < sizeof entities / sizeof *entities; e++) {
        hk_scan sc = HK_SCAN_INIT;
        sc.entity = entities[e];
        char *want = scan_all(&sc, true, 1000000);
        for (int round = 0; round < 4; round++) {
            hk_buf got = HK_BUF_INIT, line = HK_BUF_INIT, cur = HK_BUF_INIT;
            hk_error err;
            hk_fact f;
            hk_fact_init(&f);
            hk_txn *t = tu_begin(g_store, false);
            hk_query *q = NULL;
            assert_int_equal(hk_query_open_scan(t, &sc, NULL, &q, &err), HK_OK);
            for (int guard = 0; guard < 100000; guard++) {
                bool has = false;
                uint64_t r = tu_rand(&rng) % 10;
                if (r < 4) {
                    hk_fact_id id = 0;
                    assert_int_equal(hk_query_next_id(q, &id, &has, &err),
                                     HK_OK);
                    if (!has) break;
                    /* the record is still decodable afterwards through a
                     * fresh get */
                    assert_int_equal(hk_store_get(t, id, &f, &err), HK_OK);
                } else {
                    assert_int_equal(hk_query_next(q, &f, &has, &err), HK_OK);
                    if (!has) break;
                }
                if (r == 9) { /* a cursor looks one row ahead */
                    hk_buf_reset(&cur);
                    assert_int_equal(hk_query_cursor(q, &cur), HK_OK);
                }
                hk_buf_reset(&line);
                assert_int_equal(hk_statement_format(&f.st, &line), HK_OK);
                hk_buf_appendf(&got, "%llu %.*s %zu\n",
                               (unsigned long long)f.id, (int)line.len,
                               line.data,
                               f.context_json ? strlen(f.context_json) : 0);
            }
            hk_query_close(q);
            hk_txn_abort(t);
            hk_buf_append(&got, "", 1);
            assert_string_equal(got.data, want);
            hk_fact_release(&f);
            hk_buf_free(&got);
            hk_buf_free(&line);
            hk_buf_free(&cur);
        }
        free(want);
    }
}

static void test_read_ahead_matches_row_by_row(void **state)
{
    (void)state;
    const char *entities[] = {"e0", "e1", "e17", "e4098", "x"};
    const char *preds[] = {"Holds", "Changed", NULL};
    for (size_t e = 0; e < sizeof entities / sizeof *entities; e++) {
        for (size_t p = 0; p < 3; p++) {
            for (int pos = -1; pos <= 1; pos++) {
                hk_scan sc = HK_SCAN_INIT;
                sc.entity = entities[e];
                sc.predicate = preds[p];
                sc.position = pos;
                char *slow = scan_all(&sc, true, 1000000);
                char *fast = scan_all(&sc, false, 1000000);
                assert_string_equal(slow, fast);
                /* page sizes around the batch sizes, resumed by cursor */
                uint32_t sizes[] = {1, 15, 16, 17, 63, 64, 65, 100};
                for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
                    char *paged = scan_all(&sc, false, sizes[i]);
                    assert_string_equal(slow, paged);
                    free(paged);
                }
                free(slow);
                free(fast);
            }
        }
    }
    /* predicate scans (by_pred), both directions, with big records */
    for (int desc = 0; desc < 2; desc++) {
        hk_scan sc = HK_SCAN_INIT;
        sc.predicate = "Holds";
        sc.newest_first = desc;
        char *slow = scan_all(&sc, true, 1000000);
        char *fast = scan_all(&sc, false, 1000000);
        assert_string_equal(slow, fast);
        assert_non_null(strstr(fast, " 5011\n")); /* a 5000-byte context */
        char *paged = scan_all(&sc, false, 64);
        assert_string_equal(slow, paged);
        free(paged);
        free(slow);
        free(fast);
    }
}

/* Damaged pages never make the walker read outside a page. Every page of
 * the map (pages of every tree, free pages, meta pages) is copied alone
 * into a heap block of exactly one page, so AddressSanitizer sees any read
 * past it, renumbered as page 0 of a one-page map, and damaged: random
 * bytes anywhere, or in the header and node offsets. Lookups of ids around
 * the page's own keys must end with nothing or a record inside the page. */
static void test_walker_survives_damaged_pages(void **state)
{
    (void)state;
    hk_txn *t = tu_begin(g_store, false);
    hks_factwalk w;
    hks_factwalk_init(t, &w);
    assert_true(w.usable);
    uint8_t *page = malloc(w.psize);
    assert_non_null(page);
    uint64_t rng = 99, resolved = 0;
    uint64_t ids[HKS_FACTWALK_MAX];
    const uint8_t *recs[HKS_FACTWALK_MAX];
    size_t lens[HKS_FACTWALK_MAX];
    for (uint64_t pg = 0; pg < w.n_pages; pg++) {
        for (int variant = 0; variant < 4; variant++) {
            memcpy(page, w.map + pg * w.psize, w.psize);
            memset(page, 0, 8); /* it is page 0 of its one-page map */
            /* ids from the first key of the undamaged page (a leaf of
             * `fact` holds consecutive ids from there) */
            uint64_t first = 0;
            uint16_t off0 = 0;
            memcpy(&off0, page + 16, 2);
            if (off0 >= 18 && off0 + 16u <= w.psize)
                memcpy(&first, page + off0 + 8, 8);
            uint32_t n_hits = variant == 0 ? 0 : 1 + tu_rand(&rng) % 24;
            for (uint32_t i = 0; i < n_hits; i++) {
                size_t at = variant == 1 ? tu_rand(&rng) % w.psize
                                         : 8 + tu_rand(&rng) % 248;
                page[at] = (uint8_t)tu_rand(&rng);
            }
            hks_factwalk one = w;
            one.map = page;
            one.n_pages = 1;
            one.root = 0;
            one.depth = (uint16_t)(1 + variant % 2);
            for (size_t i = 0; i < HKS_FACTWALK_MAX; i++)
                ids[i] =
                    i < 32 ? first + i * 3 : tu_rand(&rng) % (g_max_id + 10);
            hks_factwalk_get(&one, HKS_FACTWALK_MAX, ids, recs, lens);
            for (size_t i = 0; i < HKS_FACTWALK_MAX; i++) {
                if (!recs[i]) continue;
                resolved++;
                assert_true(recs[i] >= page &&
                            recs[i] + lens[i] <= page + w.psize);
            }
        }
    }
    /* undamaged leaves of `fact` resolved their own ids */
    assert_true(resolved > 0);
    free(page);
    hk_txn_abort(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_walker_matches_lmdb),
        cmocka_unit_test(test_walker_refuses_write_txn_and_empty_store),
        cmocka_unit_test(test_read_ahead_matches_row_by_row),
        cmocka_unit_test(test_read_ahead_mixed_next_and_next_id),
        cmocka_unit_test(test_walker_survives_damaged_pages),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
