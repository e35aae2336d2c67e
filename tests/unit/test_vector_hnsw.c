/*
 * test_vector_hnsw.c — the HNSW index of src/vector against its oracle,
 * the exact scan: recall@10 on random and clustered data in float32 and
 * int8 (with float re-ranking), deletions and updates (recall kept,
 * deleted ids never returned), filtered search (selective filters answer
 * exactly; broad ones through the graph), parameter checks and the graph
 * validator after every batch of changes; batches linked by several
 * threads; index files read back equal and refused when damaged.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/mem.h"
#include "vector/vector.h"
#include "vector/vector_int.h"

#define DIM 32
#define N_VEC 3000
#define N_QUERY 60
#define K 10

/* ==== Data ==== */

static uint64_t g_rng = 88172645463325252ull;

static double urand(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return ((double)(g_rng >> 11) + 0.5) / 9007199254740992.0;
}

static float grand(void)
{
    return (float)(sqrt(-2 * log(urand())) * cos(6.283185307179586 * urand()));
}

static float g_centres[16][DIM]; /* cluster centres, drawn once */
static bool g_have_centres;

/* n vectors of DIM floats: uniform in [-1,1), or around 16 centres shared
 * by every call (so queries come from the clusters of the data). */
static float *make_data(size_t n, bool clustered)
{
    float *v = malloc(n * DIM * sizeof *v);
    assert_non_null(v);
    for (int c = 0; c < 16 && !g_have_centres; c++)
        for (int d = 0; d < DIM; d++)
            g_centres[c][d] = 4 * grand();
    g_have_centres = true;
    for (size_t i = 0; i < n; i++)
        for (int d = 0; d < DIM; d++)
            v[i * DIM + d] = clustered ? g_centres[i % 16][d] + grand()
                                       : (float)(2 * urand() - 1);
    return v;
}

static const float *g_data; /* the vectors of the index under test */

static bool fetch(void *ud, uint64_t id, float *out)
{
    (void)ud;
    if (id >= N_VEC * 2) return false;
    memcpy(out, g_data + (id % N_VEC) * DIM, DIM * sizeof *out);
    return true;
}

static hkv_index *build(const float *data, size_t n, hkv_metric m, hkv_quant q)
{
    hkv_params p = {DIM, m, q, 0, 0, 0};
    hkv_index *ix = NULL;
    hk_error err;
    assert_int_equal(hkv_index_new(&p, &ix, &err), HK_OK);
    for (size_t i = 0; i < n; i++) {
        hk_err e = hkv_index_add(ix, i, data + i * DIM, &err);
        if (e) fprintf(stderr, "add %zu: %s\n", i, err.message);
        assert_int_equal(e, HK_OK);
    }
    return ix;
}

static void validate(const hkv_index *ix)
{
    bool ok;
    char why[256] = "";
    hkv_index_validate(ix, &ok, why, sizeof why);
    if (!ok) fprintf(stderr, "invalid graph: %s\n", why);
    assert_true(ok);
}

/* Mean recall@K of the graph search of ix against the exact float answer
 * of oracle (an f32 index of the same vectors). */
static double recall(const hkv_index *ix, const hkv_index *oracle,
                     const float *queries, const hkv_filter *f)
{
    hkv_hit got[K], want[K];
    size_t n_got, n_want, hits = 0, total = 0;
    hk_error err;
    hkv_search_opts o = {K, 0, f, fetch, NULL};
    hkv_search_opts oo = {K, 0, f, NULL, NULL};
    for (int i = 0; i < N_QUERY; i++) {
        const float *q = queries + (size_t)i * DIM;
        assert_int_equal(hkv_index_search(ix, q, &o, got, &n_got, &err), HK_OK);
        assert_int_equal(hkv_index_exact(oracle, q, &oo, want, &n_want, &err),
                         HK_OK);
        for (size_t a = 0; a < n_want; a++)
            for (size_t b = 0; b < n_got; b++)
                if (want[a].id == got[b].id) {
                    hits++;
                    break;
                }
        total += n_want;
    }
    return total ? (double)hits / (double)total : 1.0;
}

/* ==== Recall ==== */

static void check_recall(bool clustered, hkv_metric m, hkv_quant q)
{
    float *data = make_data(N_VEC, clustered);
    float *queries = make_data(N_QUERY, clustered);
    g_data = data;
    hkv_index *ix = build(data, N_VEC, m, q);
    hkv_index *oracle = q == HKV_F32 ? ix : build(data, N_VEC, m, HKV_F32);
    validate(ix);
    assert_int_equal(hkv_index_count(ix), N_VEC);
    double r = recall(ix, oracle, queries, NULL);
    fprintf(stderr, "recall@10 %s metric %d %s: %.3f (kernel %s)\n",
            clustered ? "clustered" : "random", (int)m,
            q == HKV_I8 ? "int8" : "f32", r, hkv_kernel_name());
    assert_true(r >= 0.95);
    if (oracle != ix) hkv_index_free(oracle);
    hkv_index_free(ix);
    free(data);
    free(queries);
}

static void test_recall_random_f32(void **state)
{
    (void)state;
    check_recall(false, HKV_COSINE, HKV_F32);
    check_recall(false, HKV_L2, HKV_F32);
}

static void test_recall_clustered_f32(void **state)
{
    (void)state;
    check_recall(true, HKV_COSINE, HKV_F32);
    check_recall(true, HKV_DOT, HKV_F32);
}

static void test_recall_int8(void **state)
{
    (void)state;
    check_recall(false, HKV_COSINE, HKV_I8);
    check_recall(true, HKV_L2, HKV_I8);
}

/* ==== Deletions and updates ==== */

/* dot4 gives each of its four dots bitwise as dot does, for every kernel
 * this CPU runs and lengths around the kernels' block sizes (the graph
 * walk uses dot4 where an insert's heuristic uses dot: an index built
 * with either must be the same). Kernels agree with the scalar one up to
 * rounding. */
static void test_kernels_dot4(void **state)
{
    (void)state;
    const hkv_kernels *ks[3];
    size_t nk = hkv_kernels_list(ks);
    assert_true(nk >= 1 && strcmp(ks[0]->name, "scalar") == 0);
    enum { MAXN = 200 };
    float *buf = malloc(5 * (MAXN + 1) * sizeof *buf);
    assert_non_null(buf);
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < 5 * (MAXN + 1); i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        buf[i] = (float)((double)(x >> 11) / 9007199254740992.0 - 0.5);
    }
    static const size_t lens[] = {1,  3,  8,  15,  16,  17,  31, 33,
                                  63, 64, 65, 127, 128, 129, 200};
    for (size_t k = 0; k < nk; k++)
        for (size_t li = 0; li < sizeof lens / sizeof *lens; li++) {
            size_t n = lens[li];
            /* +1: unaligned starts */
            const float *q = buf + 1;
            const float *b[4] = {buf + (MAXN + 1) + 1, buf + 2 * (MAXN + 1),
                                 buf + 3 * (MAXN + 1) + 1,
                                 buf + 4 * (MAXN + 1)};
            float got[4];
            ks[k]->dot4(q, b, n, got);
            for (int j = 0; j < 4; j++) {
                float one = ks[k]->dot(q, b[j], n);
                float ref = ks[0]->dot(q, b[j], n);
                assert_memory_equal(&got[j], &one, sizeof one);
                assert_true(fabsf(one - ref) <= 1e-4f * (1.0f + fabsf(ref)));
            }
        }
    free(buf);
}

static void test_delete_and_update(void **state)
{
    (void)state;
    float *data = make_data(N_VEC, true);
    float *queries = make_data(N_QUERY, true);
    g_data = data;
    hkv_index *ix = build(data, N_VEC, HKV_COSINE, HKV_F32);
    hk_error err;

    /* every third id goes */
    for (uint64_t id = 0; id < N_VEC; id += 3)
        assert_int_equal(hkv_index_delete(ix, id, &err), HK_OK);
    assert_int_equal(hkv_index_delete(ix, 0, &err), HK_ERR_NOT_FOUND);
    assert_int_equal(hkv_index_delete(ix, N_VEC + 5, &err), HK_ERR_NOT_FOUND);
    validate(ix);
    assert_int_equal(hkv_index_count(ix), N_VEC - (N_VEC + 2) / 3);

    hkv_hit got[K];
    size_t n;
    hkv_search_opts o = {K, 0, NULL, NULL, NULL};
    for (int i = 0; i < N_QUERY; i++) {
        assert_int_equal(
            hkv_index_search(ix, queries + i * DIM, &o, got, &n, &err), HK_OK);
        assert_int_equal(n, K);
        for (size_t j = 0; j < n; j++)
            assert_true(got[j].id % 3 != 0);
    }
    double r = recall(ix, ix, queries, NULL);
    fprintf(stderr, "recall@10 after deleting a third: %.3f\n", r);
    assert_true(r >= 0.95);

    /* updates: ids 1, 4, 7... move to the vectors of other ids */
    for (uint64_t id = 1; id < N_VEC; id += 3) {
        assert_int_equal(
            hkv_index_add(ix, id, data + ((id + 1) % N_VEC) * DIM, &err),
            HK_OK);
    }
    validate(ix);
    assert_int_equal(hkv_index_count(ix), N_VEC - (N_VEC + 2) / 3);
    /* a query equal to an updated vector finds the id that now holds it */
    assert_int_equal(hkv_index_search(ix, data + 2 * DIM, &o, got, &n, &err),
                     HK_OK);
    bool found1 = false;
    for (size_t j = 0; j < n; j++)
        found1 |= got[j].id == 1;
    assert_true(found1);
    r = recall(ix, ix, queries, NULL);
    fprintf(stderr, "recall@10 after updates: %.3f\n", r);
    assert_true(r >= 0.95);

    /* deleting everything leaves empty answers */
    for (uint64_t id = 0; id < N_VEC; id++)
        if (hkv_index_contains(ix, id))
            assert_int_equal(hkv_index_delete(ix, id, &err), HK_OK);
    assert_int_equal(hkv_index_count(ix), 0);
    assert_int_equal(hkv_index_search(ix, queries, &o, got, &n, &err), HK_OK);
    assert_int_equal(n, 0);
    validate(ix);
    hkv_index_free(ix);
    free(data);
    free(queries);
}

/* ==== Filters ==== */

static void test_filtered(void **state)
{
    (void)state;
    float *data = make_data(N_VEC, true);
    float *queries = make_data(N_QUERY, true);
    g_data = data;
    hkv_index *ix = build(data, N_VEC, HKV_L2, HKV_F32);
    hk_error err;

    /* 1%: ids 7, 107, 207...; answered exactly */
    uint64_t *ids = malloc(N_VEC * sizeof *ids);
    size_t n_ids = 0;
    for (uint64_t id = 7; id < N_VEC; id += 100)
        ids[n_ids++] = id;
    hkv_filter f = {ids, n_ids, 0};
    hkv_hit got[K], want[K];
    size_t n_got, n_want;
    hkv_search_opts o = {K, 0, &f, NULL, NULL};
    for (int i = 0; i < N_QUERY; i++) {
        const float *q = queries + i * DIM;
        assert_int_equal(hkv_index_search(ix, q, &o, got, &n_got, &err), HK_OK);
        assert_int_equal(hkv_index_exact(ix, q, &o, want, &n_want, &err),
                         HK_OK);
        assert_int_equal(n_got, n_want);
        assert_int_equal(n_got, K);
        for (size_t j = 0; j < n_got; j++) {
            assert_int_equal(got[j].id, want[j].id);
            assert_int_equal(got[j].id % 100, 7);
        }
    }
    /* a deleted member never comes back */
    assert_int_equal(hkv_index_delete(ix, 7, &err), HK_OK);
    for (int i = 0; i < N_QUERY; i++) {
        assert_int_equal(
            hkv_index_search(ix, queries + i * DIM, &o, got, &n_got, &err),
            HK_OK);
        for (size_t j = 0; j < n_got; j++)
            assert_true(got[j].id != 7);
    }

    /* 50% (even ids), through the graph: forced with exact_below 1 */
    n_ids = 0;
    for (uint64_t id = 0; id < N_VEC; id += 2)
        ids[n_ids++] = id;
    hkv_filter half = {ids, n_ids, 1};
    o.filter = &half;
    for (int i = 0; i < N_QUERY; i++) {
        assert_int_equal(
            hkv_index_search(ix, queries + i * DIM, &o, got, &n_got, &err),
            HK_OK);
        assert_int_equal(n_got, K);
        for (size_t j = 0; j < n_got; j++)
            assert_int_equal(got[j].id % 2, 0);
    }
    double r = recall(ix, ix, queries, &half);
    fprintf(stderr, "recall@10 with a 50%% filter: %.3f\n", r);
    assert_true(r >= 0.95);

    free(ids);
    hkv_index_free(ix);
    free(data);
    free(queries);
}

/* ==== Parameters and input ==== */

static void test_params_and_input(void **state)
{
    (void)state;
    hkv_index *ix = NULL;
    hk_error err;
    hkv_params p = {0, HKV_COSINE, HKV_F32, 0, 0, 0};
    assert_int_equal(hkv_index_new(&p, &ix, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "dim");
    p.dim = HKV_DIM_MAX + 1;
    assert_int_equal(hkv_index_new(&p, &ix, &err), HK_ERR_INVALID);
    p.dim = 4;
    p.metric = (hkv_metric)9;
    assert_int_equal(hkv_index_new(&p, &ix, &err), HK_ERR_INVALID);
    p.metric = HKV_COSINE;
    p.m = 1;
    assert_int_equal(hkv_index_new(&p, &ix, &err), HK_ERR_INVALID);
    p.m = 0;
    assert_int_equal(hkv_index_new(&p, &ix, &err), HK_OK);

    float zero[4] = {0, 0, 0, 0}, nan4[4] = {1, NAN, 0, 0};
    float one[4] = {1, 0, 0, 0};
    assert_int_equal(hkv_index_add(ix, 1, zero, &err), HK_ERR_INVALID);
    assert_int_equal(hkv_index_add(ix, 1, nan4, &err), HK_ERR_INVALID);
    assert_int_equal(hkv_index_add(ix, UINT64_MAX, one, &err), HK_ERR_INVALID);
    assert_int_equal(hkv_index_count(ix), 0);
    assert_false(hkv_index_contains(ix, 1));

    hkv_hit h[2];
    size_t n = 9;
    hkv_search_opts o = {1, 0, NULL, NULL, NULL};
    assert_int_equal(hkv_index_search(ix, one, &o, h, &n, &err), HK_OK);
    assert_int_equal(n, 0);
    assert_int_equal(hkv_index_add(ix, 0, one, &err), HK_OK);
    assert_int_equal(hkv_index_search(ix, one, &o, h, &n, &err), HK_OK);
    assert_int_equal(n, 1);
    assert_int_equal(h[0].id, 0);
    assert_true(fabsf(h[0].distance) < 1e-5f);
    o.k = 0;
    assert_int_equal(hkv_index_search(ix, one, &o, h, &n, &err),
                     HK_ERR_INVALID);
    o.k = 1;
    assert_int_equal(hkv_index_search(ix, nan4, &o, h, &n, &err),
                     HK_ERR_INVALID);
    assert_true(hkv_index_bytes(ix) > 4 * sizeof(float));
    validate(ix);
    hkv_index_free(ix);
}

/* ==== Parallel build ==== */

/* A batch linked by several threads is a valid graph with the recall of
 * one built by hkv_index_add; ids present or repeated are replaced. */
static void test_batch_parallel(void **state)
{
    (void)state;
    float *data = make_data(N_VEC, true);
    float *queries = make_data(N_QUERY, true);
    uint64_t *ids = malloc(N_VEC * sizeof *ids);
    assert_non_null(ids);
    g_data = data;
    hk_error err;
    for (unsigned threads = 1; threads <= 4; threads *= 2) {
        hkv_params p = {DIM, HKV_COSINE, HKV_F32, 0, 0, 0};
        hkv_index *ix = NULL;
        assert_int_equal(hkv_index_new(&p, &ix, &err), HK_OK);
        for (size_t i = 0; i < N_VEC; i++)
            ids[i] = i;
        /* two batches: the second links into an existing graph */
        assert_int_equal(
            hkv_index_add_batch(ix, ids, data, N_VEC / 2, threads, &err),
            HK_OK);
        assert_int_equal(hkv_index_add_batch(ix, ids + N_VEC / 2,
                                             data + (N_VEC / 2) * DIM,
                                             N_VEC - N_VEC / 2, threads, &err),
                         HK_OK);
        validate(ix);
        assert_int_equal(hkv_index_count(ix), N_VEC);
        double r = recall(ix, ix, queries, NULL);
        fprintf(stderr, "recall@10 batch of %u threads: %.3f\n", threads, r);
        assert_true(r >= 0.95);
        /* present (0, 1) and repeated (5 twice) ids are replaced */
        uint64_t again[4] = {0, 1, 5, 5};
        assert_int_equal(
            hkv_index_add_batch(ix, again, data + 10 * DIM, 4, threads, &err),
            HK_OK);
        validate(ix);
        assert_int_equal(hkv_index_count(ix), N_VEC);
        /* a bad vector is refused */
        float bad[2 * DIM];
        memcpy(bad, data, sizeof bad);
        bad[DIM + 3] = NAN;
        uint64_t two[2] = {N_VEC + 1, N_VEC + 2};
        assert_int_equal(hkv_index_add_batch(ix, two, bad, 2, threads, &err),
                         HK_ERR_INVALID);
        assert_false(hkv_index_contains(ix, N_VEC + 2));
        validate(ix);
        hkv_index_free(ix);
    }
    free(ids);
    free(data);
    free(queries);
}

/* ==== Index files ==== */

static char *tmp_path(const char *name)
{
    const char *base = getenv("TMPDIR");
    char *p = malloc(4096);
    assert_non_null(p);
    snprintf(p, 4096, "%s/hkv-%ld-%s", base && *base ? base : "/tmp",
             (long)getpid(), name);
    return p;
}

/* Both indexes answer every query with the same hits. */
static void same_answers(const hkv_index *a, const hkv_index *b,
                         const float *queries)
{
    hkv_hit ha[K], hb[K];
    size_t na, nb;
    hk_error err;
    hkv_search_opts o = {K, 0, NULL, NULL, NULL};
    for (int i = 0; i < N_QUERY; i++) {
        const float *q = queries + (size_t)i * DIM;
        assert_int_equal(hkv_index_search(a, q, &o, ha, &na, &err), HK_OK);
        assert_int_equal(hkv_index_search(b, q, &o, hb, &nb, &err), HK_OK);
        assert_int_equal(na, nb);
        for (size_t j = 0; j < na; j++) {
            assert_true(ha[j].id == hb[j].id);
            assert_true(ha[j].distance == hb[j].distance);
        }
    }
}

/* A saved index reads back equal (float32 and int8, with deleted nodes);
 * a missing, truncated or damaged file is refused, never half-read. */
static void test_file_roundtrip(void **state)
{
    (void)state;
    float *data = make_data(N_VEC, true);
    float *queries = make_data(N_QUERY, true);
    char *path = tmp_path("roundtrip.hnsw");
    hk_error err;
    for (int q = 0; q < 2; q++) {
        hkv_index *ix = build(data, N_VEC, HKV_COSINE, q ? HKV_I8 : HKV_F32),
                  *back = NULL;
        for (uint64_t id = 0; id < N_VEC; id += 7)
            assert_int_equal(hkv_index_delete(ix, id, &err), HK_OK);
        const char meta[] = "meta-data";
        char got[64];
        size_t got_len = 0;
        assert_int_equal(hkv_index_save(ix, path, meta, sizeof meta, &err),
                         HK_OK);
        hk_err e = hkv_index_read(path, &back, got, sizeof got, &got_len, &err);
        if (e) fprintf(stderr, "read: %s\n", err.message);
        assert_int_equal(e, HK_OK);
        assert_int_equal(got_len, sizeof meta);
        assert_memory_equal(got, meta, sizeof meta);
        validate(back);
        assert_int_equal(hkv_index_count(back), hkv_index_count(ix));
        assert_false(hkv_index_contains(back, 7));
        assert_true(hkv_index_contains(back, 8));
        same_answers(ix, back, queries);
        /* the read index takes changes like any other */
        assert_int_equal(hkv_index_add(back, 7, data, &err), HK_OK);
        validate(back);
        hkv_index_free(back);
        hkv_index_free(ix);
    }
    /* damage: cut at several lengths, flip a byte, too small a meta room */
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    rewind(f);
    char *bytes = malloc((size_t)len);
    assert_non_null(bytes);
    assert_int_equal(fread(bytes, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    char *bad = tmp_path("bad.hnsw");
    long cuts[] = {0, 10, 90, len / 2, len - 9, len - 1};
    for (size_t c = 0; c <= sizeof cuts / sizeof *cuts; c++) {
        f = fopen(bad, "wb");
        assert_non_null(f);
        if (c < sizeof cuts / sizeof *cuts) {
            fwrite(bytes, 1, (size_t)cuts[c], f);
        } else {
            bytes[len / 3] ^= 0x40;
            fwrite(bytes, 1, (size_t)len, f);
        }
        fclose(f);
        hkv_index *ix = NULL;
        char m[64];
        size_t ml;
        assert_int_equal(hkv_index_read(bad, &ix, m, sizeof m, &ml, &err),
                         HK_ERR_CORRUPT);
        assert_null(ix);
    }
    hkv_index *ix = NULL;
    char m[4];
    size_t ml;
    assert_int_equal(hkv_index_read(path, &ix, m, sizeof m, &ml, &err),
                     HK_ERR_CORRUPT);
    unlink(path);
    assert_int_equal(hkv_index_read(path, &ix, m, sizeof m, &ml, &err),
                     HK_ERR_NOT_FOUND);
    unlink(bad);
    free(bad);
    free(bytes);
    free(path);
    free(data);
    free(queries);
}

/* Saves ix (with a valid hash) and expects reading it back to be refused
 * as corrupt, with nothing returned. */
static void expect_corrupt(const hkv_index *ix, const char *path)
{
    hk_error err;
    hkv_index *back = NULL;
    char m[16];
    size_t ml;
    assert_int_equal(hkv_index_save(ix, path, "x", 1, &err), HK_OK);
    assert_int_equal(hkv_index_read(path, &back, m, sizeof m, &ml, &err),
                     HK_ERR_CORRUPT);
    assert_null(back);
}

/* A file whose hash matches but whose graph is wrong is refused: a link
 * out of bounds, a link to itself, an upper-level link to a node without
 * that level, a count beyond the list; so are bytes after the trailer. */
static void test_file_bad_links(void **state)
{
    (void)state;
    float *data = make_data(500, false);
    char *path = tmp_path("links.hnsw");
    hkv_index *ix = build(data, 500, HKV_L2, HKV_F32);
    hk_error err;
    uint32_t *lk = hnsw_links(ix, &ix->nodes[5]);
    assert_true(lk[0] > 0);
    uint32_t keep = lk[1];
    lk[1] = ix->n_nodes;
    expect_corrupt(ix, path);
    lk[1] = 5;
    expect_corrupt(ix, path);
    lk[1] = keep;
    uint32_t cnt = lk[0];
    lk[0] = ix->m0 + 1;
    expect_corrupt(ix, path);
    lk[0] = cnt;
    /* an upper-level link to a node of level 0 */
    uint32_t up = UINT32_MAX, low = UINT32_MAX;
    for (uint32_t i = 0; i < ix->n_nodes; i++) {
        const hnsw_node *n = &ix->nodes[i];
        if (n->level >= 1 && up == UINT32_MAX &&
            hnsw_links(ix, n)[1 + ix->m0] > 0)
            up = i;
        if (n->level == 0 && low == UINT32_MAX) low = i;
    }
    assert_true(up != UINT32_MAX && low != UINT32_MAX);
    uint32_t *ul = hnsw_links(ix, &ix->nodes[up]) + 1 + ix->m0;
    keep = ul[1];
    ul[1] = low;
    expect_corrupt(ix, path);
    ul[1] = keep;
    /* intact, it reads back and answers like the original */
    hkv_index *back = NULL;
    char m[16];
    size_t ml;
    assert_int_equal(hkv_index_save(ix, path, "x", 1, &err), HK_OK);
    assert_int_equal(hkv_index_read(path, &back, m, sizeof m, &ml, &err),
                     HK_OK);
    validate(back);
    hkv_index_free(back);
    /* bytes after the trailer */
    FILE *f = fopen(path, "ab");
    assert_non_null(f);
    fputs("junk", f);
    fclose(f);
    back = NULL;
    assert_int_equal(hkv_index_read(path, &back, m, sizeof m, &ml, &err),
                     HK_ERR_CORRUPT);
    assert_null(back);
    unlink(path);
    hkv_index_free(ix);
    free(path);
    free(data);
}

/* Minor faults of this thread while writing every page of ix's mapped data
 * section back with its own bytes (what a change of links does): one per
 * page while the pages belong to the page cache, none once pinned. */
static long write_faults(hkv_index *ix)
{
    struct rusage a, b;
    volatile uint8_t *p = ix->arena + ix->arena_data;
    size_t n = ix->arena_len - ix->arena_data;
    uint8_t sum = 0;
    /* reading first maps what reads fault in (under ASan, its shadow of
     * the mapping too), so that only the writes' faults are counted */
    for (size_t off = 0; off < n; off += 4096)
        sum = (uint8_t)(sum + p[off]);
    getrusage(RUSAGE_THREAD, &a);
    for (size_t off = 0; off < n; off += 4096)
        p[off] = p[off];
    getrusage(RUSAGE_THREAD, &b);
    (void)sum;
    return b.ru_minflt - a.ru_minflt;
}

/* Pinning a read index: with no mlock allowance its pages become private
 * copies, with enough it is locked; either way the answers do not change
 * and writes no longer fault. A built index has nothing to pin. */
static void test_file_pin(void **state)
{
    (void)state;
    float *data = make_data(1000, true);
    float *queries = make_data(N_QUERY, true);
    char *path = tmp_path("pin.hnsw");
    hk_error err;
    hkv_index *ix = build(data, 1000, HKV_COSINE, HKV_F32);
    assert_int_equal(hkv_index_pin(ix), HKV_PIN_NONE);
    assert_int_equal(hkv_index_save(ix, path, "p", 1, &err), HK_OK);
    struct rlimit old, none;
    assert_int_equal(getrlimit(RLIMIT_MEMLOCK, &old), 0);
    for (int round = 0; round < 3; round++) {
        hkv_index *back = NULL;
        char m[16];
        size_t ml;
        assert_int_equal(hkv_index_read(path, &back, m, sizeof m, &ml, &err),
                         HK_OK);
        assert_true(back->arena_mapped);
        size_t pages = (back->arena_len - back->arena_data) / 4096;
        assert_true(pages >= 16);
        if (round == 0) { /* not pinned: every page faults once */
            assert_true(write_faults(back) >= (long)pages / 2);
        } else {
            none = old;
            none.rlim_cur = round == 1 ? 0 : old.rlim_max;
            assert_int_equal(setrlimit(RLIMIT_MEMLOCK, &none), 0);
            assert_int_equal(hkv_index_pin_start(back, &err), HK_OK);
            same_answers(ix, back, queries); /* while it runs */
            hkv_pin got = hkv_index_pin_wait(back);
            assert_int_equal(setrlimit(RLIMIT_MEMLOCK, &old), 0);
            if (round == 1)
                assert_int_equal(got, HKV_PIN_COPIED);
            else if (old.rlim_max == RLIM_INFINITY ||
                     old.rlim_max >= back->arena_len)
                assert_int_equal(got, HKV_PIN_LOCKED);
            else
                assert_int_equal(got, HKV_PIN_COPIED);
#ifdef __SANITIZE_ADDRESS__
            /* ASan's mlock interceptor does nothing */
            if (got != HKV_PIN_LOCKED) assert_true(write_faults(back) <= 2);
#else
            assert_true(write_faults(back) <= 2);
#endif
            assert_int_equal(hkv_index_pin_wait(back), got); /* joined */
        }
        validate(back);
        same_answers(ix, back, queries);
        if (round == 2) { /* a thread still running when freed is joined */
            assert_int_equal(hkv_index_pin_start(back, &err), HK_OK);
        }
        hkv_index_free(back);
    }
    unlink(path);
    hkv_index_free(ix);
    free(path);
    free(queries);
    free(data);
}

/* Allocation failures leave the index usable and valid. */
static void test_alloc_failures(void **state)
{
    (void)state;
    float *data = make_data(200, false);
    hkv_index *ix = build(data, 100, HKV_COSINE, HKV_F32);
    hk_error err;
    for (long n = 0; n < 40; n++) {
        hk_mem_fail_after(n);
        hk_err e =
            hkv_index_add(ix, 100 + (uint64_t)n, data + (100 + n) * DIM, &err);
        hk_mem_fail_after(-1);
        assert_true(e == HK_OK || e == HK_ERR_NOMEM);
        validate(ix);
    }
    hkv_hit h[K];
    size_t got;
    hkv_search_opts o = {K, 0, NULL, NULL, NULL};
    assert_int_equal(hkv_index_search(ix, data, &o, h, &got, &err), HK_OK);
    assert_int_equal(got, K);
    hkv_index_free(ix);
    free(data);
}

/* Reads a whole file into a malloc'd buffer (*len bytes). */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    char *b = malloc((size_t)n);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void spill(const char *path, const char *b, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, len, f), len);
    fclose(f);
}

/* An index read from its file is a private mapping of it: adds, deletes
 * and updates of loaded nodes change this process's pages, never the
 * file; the changed index saves and reads back equal. A file of the
 * older format is HK_ERR_VERSION (the caller rebuilds), and one damaged
 * byte in any section (header, node table, vector, links, trailer) is
 * HK_ERR_CORRUPT with nothing returned. */
static void test_file_mapped(void **state)
{
    enum { N_MAPPED = 1000 }; /* a third of N_VEC: ASan runs it too */
    (void)state;
    float *data = make_data(N_MAPPED + 100, true);
    float *queries = make_data(N_QUERY, true);
    char *path = tmp_path("mapped.hnsw"), *path2 = tmp_path("mapped2.hnsw");
    hk_error err;
    for (int q = 0; q < 2; q++) {
        hkv_index *ix = build(data, N_MAPPED, HKV_L2, q ? HKV_I8 : HKV_F32);
        hkv_index *back = NULL, *again = NULL;
        char m[16];
        size_t ml, len, len2;
        assert_int_equal(hkv_index_save(ix, path, "m", 1, &err), HK_OK);
        char *before = slurp(path, &len);
        assert_int_equal(hkv_index_read(path, &back, m, sizeof m, &ml, &err),
                         HK_OK);
        assert_true(back->arena_mapped);
        same_answers(ix, back, queries);
        for (uint64_t i = 0; i < 100; i++) {
            const float *v = data + (N_MAPPED + i) * DIM;
            assert_int_equal(hkv_index_add(back, N_MAPPED + i, v, &err), HK_OK);
            assert_int_equal(hkv_index_add(ix, N_MAPPED + i, v, &err), HK_OK);
        }
        for (uint64_t id = 0; id < N_MAPPED; id += 29) {
            assert_int_equal(hkv_index_delete(back, id, &err), HK_OK);
            assert_int_equal(hkv_index_delete(ix, id, &err), HK_OK);
        }
        for (uint64_t id = 1; id < N_MAPPED; id += 151) { /* updates */
            const float *v = data + ((id * 7) % N_MAPPED) * DIM;
            assert_int_equal(hkv_index_add(back, id, v, &err), HK_OK);
            assert_int_equal(hkv_index_add(ix, id, v, &err), HK_OK);
        }
        validate(back);
        same_answers(ix, back, queries);
        char *after = slurp(path, &len2);
        assert_int_equal(len, len2);
        assert_memory_equal(before, after, len);
        free(after);
        assert_int_equal(hkv_index_save(back, path2, "m", 1, &err), HK_OK);
        assert_int_equal(hkv_index_read(path2, &again, m, sizeof m, &ml, &err),
                         HK_OK);
        validate(again);
        same_answers(back, again, queries);
        assert_int_equal(hkv_index_count(again), hkv_index_count(ix));
        hkv_index_free(again);
        hkv_index_free(back);
        hkv_index_free(ix);
        /* one flipped byte per section: all refused */
        uint64_t doff;
        uint32_t n_nodes;
        memcpy(&n_nodes, before + 40, 4);
        memcpy(&doff, before + 72, 8);
        assert_int_equal(n_nodes, N_MAPPED);
        assert_true(doff % 4096 == 0 && doff < len);
        size_t at[] = {24,
                       90,
                       128 + 16,
                       (size_t)doff - 1,
                       (size_t)doff + 3,
                       (size_t)doff + len / 4,
                       len - 40,
                       len - 12,
                       len - 3};
        for (size_t i = 0; i < sizeof at / sizeof *at; i++) {
            before[at[i]] ^= 0x10;
            spill(path2, before, len);
            before[at[i]] ^= 0x10;
            hk_err e = hkv_index_read(path2, &back, m, sizeof m, &ml, &err);
            if (e != HK_ERR_CORRUPT)
                fprintf(stderr, "flip at %zu: %d\n", at[i], (int)e);
            assert_int_equal(e, HK_ERR_CORRUPT);
            assert_null(back);
        }
        /* the format before the mapped layout */
        memcpy(before, "HKVIDX01", 8);
        spill(path2, before, len);
        assert_int_equal(hkv_index_read(path2, &back, m, sizeof m, &ml, &err),
                         HK_ERR_VERSION);
        assert_null(back);
        free(before);
    }
    unlink(path);
    unlink(path2);
    free(path);
    free(path2);
    free(data);
    free(queries);
}

/* A batch that fails to allocate midway takes back every node it made:
 * the id map holds none of them and the index stays valid. */
static void test_batch_alloc_failures(void **state)
{
    (void)state;
    float *data = make_data(1400, false);
    uint64_t ids[1200];
    for (int i = 0; i < 1200; i++)
        ids[i] = 1000 + (uint64_t)i;
    hkv_index *ix = build(data, 200, HKV_COSINE, HKV_F32);
    hk_error err;
    for (long n = 0; n < 60; n += 3) {
        hk_mem_fail_after(n * 17);
        hk_err e =
            hkv_index_add_batch(ix, ids, data + 200 * DIM, 1200, 2, &err);
        hk_mem_fail_after(-1);
        assert_true(e == HK_OK || e == HK_ERR_NOMEM);
        validate(ix);
        if (e == HK_OK) break;
        /* failed while making nodes: none of the batch is in */
        for (int i = 0; i < 1200; i += 37)
            assert_false(hkv_index_contains(ix, ids[i]) &&
                         hkv_index_count(ix) == 200);
    }
    hkv_index_free(ix);
    free(data);
}

/* Visit marks are 16-bit epochs cleared when the epoch wraps: searches
 * on both sides of the wrap (65535 walks of one reused scratch area)
 * answer exactly as before it, so no stale mark hides a node. */
static void test_mark_wrap(void **state)
{
    (void)state;
    enum { N = 400, NQ = 40 };
    float *data = make_data(N, true), *queries = make_data(NQ, true);
    hkv_index *ix = build(data, N, HKV_COSINE, HKV_F32);
    hkv_hit first[NQ][K], again[K];
    size_t n_first[NQ], n;
    hk_error err;
    hkv_search_opts o = {K, 16, NULL, NULL, NULL};
    for (int q = 0; q < NQ; q++)
        assert_int_equal(hkv_index_search(ix, queries + q * DIM, &o, first[q],
                                          &n_first[q], &err),
                         HK_OK);
    /* a search walks level 0 once (the greedy descent above it keeps no
     * marks), so 65600 searches pass the wrap, each one checked */
    for (long i = 0; i < 65600; i++) {
        int q = (int)(i % NQ);
        assert_int_equal(
            hkv_index_search(ix, queries + q * DIM, &o, again, &n, &err),
            HK_OK);
        assert_int_equal(n, n_first[q]);
        for (size_t j = 0; j < n; j++)
            assert_int_equal(again[j].id, first[q][j].id);
    }
    hkv_index_free(ix);
    free(data);
    free(queries);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recall_random_f32),
        cmocka_unit_test(test_recall_clustered_f32),
        cmocka_unit_test(test_recall_int8),
        cmocka_unit_test(test_kernels_dot4),
        cmocka_unit_test(test_delete_and_update),
        cmocka_unit_test(test_filtered),
        cmocka_unit_test(test_params_and_input),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_batch_parallel),
        cmocka_unit_test(test_file_roundtrip),
        cmocka_unit_test(test_file_bad_links),
        cmocka_unit_test(test_file_mapped),
        cmocka_unit_test(test_file_pin),
        cmocka_unit_test(test_batch_alloc_failures),
        cmocka_unit_test(test_mark_wrap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
