/*
 * test_graph_analytics.c — src/graph/analytics.c on small known graphs:
 * the snapshot's rows against the facts (n-ary facts as fact vertices,
 * deleted facts left out), PageRank against a power iteration written
 * here, weakly connected components, the degree distribution, Louvain on
 * two cliques joined by one edge, betweenness on a path, and the checks.
 */
#include "graph/graph.h"
#include "service/service.h"
#include "test_domain_util.h"

#include <math.h>

static hk_store *kb_of(char **dir, const char *const *stmts, size_t n)
{
    *dir = tu_tmpdir("analytics");
    hk_store *s = tu_open(*dir);
    hk_txn *t = tu_begin(s, true);
    for (size_t i = 0; i < n; i++) {
        hk_statement st;
        hk_error err;
        assert_int_equal(
            hk_statement_parse(stmts[i], strlen(stmts[i]), &st, &err), HK_OK);
        tu_add(t, st, NULL);
        hk_statement_release(&st);
    }
    tu_commit(t);
    return s;
}

static void analyze(hk_store *s, hk_graph_analysis kind, size_t top,
                    hk_graph_analysis_res *res)
{
    hk_txn *t = tu_begin(s, false);
    hk_svc_analyze_req req = {kind, top, NULL, NULL};
    hk_error err;
    hk_err rc = hk_svc_graph_analyze(t, &req, res, &err);
    if (rc != HK_OK) fprintf(stderr, "analyze: %s\n", err.message);
    assert_int_equal(rc, HK_OK);
    hk_txn_abort(t);
}

static double score_of(const hk_graph_analysis_res *res, const char *name)
{
    for (size_t i = 0; i < res->n_top; i++)
        if (strcmp(res->top[i].name, name) == 0) return res->top[i].score;
    fail_msg("%s not ranked", name);
    return 0;
}

/* ==== Snapshot ==== */

static void test_snapshot_rows(void **state)
{
    (void)state;
    static const char *const f[] = {"R(A, B)",        "R(B, C)", "S(A, C)",
                                    "Bond(N, H, H2)", "Tag(A)",  "R(C, A)"};
    char *dir;
    hk_store *s = kb_of(&dir, f, 6);
    hk_txn *w = tu_begin(s, true);
    hk_statement st = tu_st("R", "C", "A", NULL);
    hk_fact_id id;
    hk_error err;
    assert_int_equal(hk_store_find(w, &st, &id, &err), HK_OK);
    assert_int_equal(hk_store_delete(w, id, &err), HK_OK);
    tu_commit(w);
    hk_txn *t = tu_begin(s, false);
    hk_graph_snapshot snap;
    assert_int_equal(hk_graph_snapshot_build(t, &snap, NULL, NULL, &err),
                     HK_OK);
    /* A B C, the Bond vertex, N H H2 */
    assert_int_equal(snap.n_vertices, 7);
    assert_int_equal(snap.n_edges, 3 + 3);
    assert_int_equal(snap.offsets[0], 0);
    for (uint32_t v = 0; v < snap.n_vertices; v++) {
        assert_true(snap.offsets[v] <= snap.offsets[v + 1]);
        for (uint64_t i = snap.offsets[v]; i < snap.offsets[v + 1]; i++)
            assert_true(snap.targets[i] < snap.n_vertices);
    }
    assert_int_equal(snap.offsets[snap.n_vertices], snap.n_edges);
    /* rows, targets, names, per-edge fact ids, symbol -> vertex map */
    assert_non_null(snap.facts);
    assert_int_equal(hk_graph_snapshot_bytes(&snap),
                     8 * 8 + 6 * 4 + 7 * 8 + 6 * 4 +
                         ((uint64_t)snap.sym_max + 1) * 4);
    /* the reverse rows add a row start per vertex and 8 bytes per edge */
    assert_int_equal(hk_graph_snapshot_index(&snap, &err), HK_OK);
    assert_int_equal(hk_graph_snapshot_bytes(&snap),
                     8 * 8 + 6 * 4 + 7 * 8 + 6 * 4 +
                         ((uint64_t)snap.sym_max + 1) * 4 + 8 * 8 + 6 * 8);
    assert_int_equal(snap.in_offsets[snap.n_vertices], snap.n_edges);
    hk_graph_snapshot_free(&snap);
    hk_txn_abort(t);
    tu_discard(s, dir);
}

/* ==== PageRank against power iteration ==== */

static void test_pagerank(void **state)
{
    (void)state;
    static const char *const f[] = {"L(a, b)", "L(b, c)", "L(c, a)", "L(d, c)",
                                    "L(e, d)", "L(c, e)", "L(f, a)"};
    const int n = 6;
    /* vertices named a..f; edges from the statements */
    static const int edges[][2] = {{0, 1}, {1, 2}, {2, 0}, {3, 2},
                                   {4, 3}, {2, 4}, {5, 0}};
    double pr[6], next[6];
    for (int i = 0; i < n; i++)
        pr[i] = 1.0 / n;
    for (int it = 0; it < 1000; it++) {
        int outdeg[6] = {0};
        for (int e = 0; e < 7; e++)
            outdeg[edges[e][0]]++;
        double dangling = 0;
        for (int i = 0; i < n; i++)
            if (!outdeg[i]) dangling += pr[i];
        for (int i = 0; i < n; i++)
            next[i] = (1 - 0.85) / n + 0.85 * dangling / n;
        for (int e = 0; e < 7; e++)
            next[edges[e][1]] += 0.85 * pr[edges[e][0]] / outdeg[edges[e][0]];
        memcpy(pr, next, sizeof pr);
    }
    char *dir;
    hk_store *s = kb_of(&dir, f, 7);
    hk_graph_analysis_res res;
    analyze(s, HK_GRAPH_PAGERANK, 100, &res);
    assert_int_equal(res.n_top, 6);
    static const char *const names[] = {"a", "b", "c", "d", "e", "f"};
    for (int i = 0; i < n; i++)
        assert_true(fabs(score_of(&res, names[i]) - pr[i]) < 1e-6);
    for (size_t i = 1; i < res.n_top; i++)
        assert_true(res.top[i - 1].score >= res.top[i].score);
    hk_graph_analysis_res_free(&res);
    analyze(s, HK_GRAPH_PAGERANK, 2, &res);
    assert_int_equal(res.n_top, 2);
    hk_graph_analysis_res_free(&res);
    tu_discard(s, dir);
}

/* a -> b, a -> c, b -> c; c dangling. With d = 0.85 and c's mass spread
 * over all three: ra = 0.05 + d rc / 3, rb = ra (1 + d / 2), rc = rb (1 +
 * d), so ra : rb : rc = 800 : 1140 : 2109 (of 4049). */
static void test_pagerank_hand(void **state)
{
    (void)state;
    static const char *const f[] = {"L(a, b)", "L(a, c)", "L(b, c)"};
    char *dir;
    hk_store *s = kb_of(&dir, f, 3);
    hk_txn *t = tu_begin(s, false);
    hk_graph_snapshot snap;
    hk_error err;
    assert_int_equal(hk_graph_snapshot_build(t, &snap, NULL, NULL, &err),
                     HK_OK);
    assert_int_equal(snap.n_vertices, 3);
    double rank[3];
    uint32_t iters = 0;
    hk_graph_pagerank_opts o = {0.85, 1000, 1e-15, 1};
    assert_int_equal(hk_graph_pagerank(&snap, &o, rank, &iters, &err), HK_OK);
    assert_true(iters > 1 && iters < 1000);
    /* vertices numbered in order of first sight: a b c */
    assert_true(fabs(rank[0] - 800.0 / 4049) < 1e-12);
    assert_true(fabs(rank[1] - 1140.0 / 4049) < 1e-12);
    assert_true(fabs(rank[2] - 2109.0 / 4049) < 1e-12);
    /* one iteration from 1/3 each: dangling 1/3 spread, a's half to b */
    o.max_iter = 1;
    assert_int_equal(hk_graph_pagerank(&snap, &o, rank, &iters, &err), HK_OK);
    assert_int_equal(iters, 1);
    double base = 0.15 / 3 + 0.85 / 9;
    assert_true(fabs(rank[0] - base) < 1e-15);
    assert_true(fabs(rank[1] - (base + 0.85 / 6)) < 1e-15);
    assert_true(fabs(rank[2] - (base + 0.85 / 6 + 0.85 / 3)) < 1e-15);
    /* checks */
    o = (hk_graph_pagerank_opts){1.0, 20, 0, 1};
    assert_int_equal(hk_graph_pagerank(&snap, &o, rank, NULL, &err),
                     HK_ERR_INVALID);
    o = (hk_graph_pagerank_opts){0.85, 0, 0, 1};
    assert_int_equal(hk_graph_pagerank(&snap, &o, rank, NULL, &err),
                     HK_ERR_INVALID);
    o = (hk_graph_pagerank_opts){0.85, 20, 0, HK_GRAPH_PAGERANK_THREADS + 1};
    assert_int_equal(hk_graph_pagerank(&snap, &o, rank, NULL, &err),
                     HK_ERR_INVALID);
    hk_graph_snapshot_free(&snap);
    hk_txn_abort(t);
    tu_discard(s, dir);
}

/* A random graph of a few thousand edges (binary facts and 3-argument
 * facts, so fact vertices and dangling vertices too): run to a tolerance,
 * the ranks equal igraph's PRPACK within 1e-6, and one thread or two give
 * the same bits. */
static void test_pagerank_random(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("analytics");
    hk_store *s = tu_open(dir);
    hk_txn *w = tu_begin(s, true);
    uint64_t x = 88172645463325252ull; /* xorshift64, fixed seed */
    for (int i = 0; i < 6000; i++) {
        char a[16], b[16], c[16];
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        /* skewed: low-numbered vertices get more in-edges */
        uint32_t u = (uint32_t)(x % 3000), v = (uint32_t)((x >> 20) % 3000);
        if ((x >> 40) % 4 == 0) v = (uint32_t)((x >> 44) % 100);
        snprintf(a, sizeof a, "v%u", u);
        snprintf(b, sizeof b, "v%u", v);
        if ((x >> 50) % 10 == 0) {
            snprintf(c, sizeof c, "v%u", (unsigned)((x >> 54) % 3000));
            tu_add(w, tu_st("T", a, b, c, NULL), NULL);
        } else {
            tu_add(w, tu_st("R", a, b, NULL), NULL);
        }
    }
    tu_commit(w);
    hk_txn *t = tu_begin(s, false);
    hk_graph_snapshot snap;
    hk_error err;
    assert_int_equal(hk_graph_snapshot_build(t, &snap, NULL, NULL, &err),
                     HK_OK);
    uint32_t n = snap.n_vertices;
    assert_true(n > 2048); /* more than one block per thread */
    double *r1 = malloc(n * sizeof *r1), *r2 = malloc(n * sizeof *r2);
    assert_non_null(r1);
    assert_non_null(r2);
    uint32_t it1 = 0, it2 = 0;
    hk_graph_pagerank_opts o = {0.85, 10000, 1e-13, 1};
    assert_int_equal(hk_graph_pagerank(&snap, &o, r1, &it1, &err), HK_OK);
    o.threads = 2;
    assert_int_equal(hk_graph_pagerank(&snap, &o, r2, &it2, &err), HK_OK);
    assert_int_equal(it1, it2);
    assert_true(it1 < 10000);
    assert_memory_equal(r1, r2, n * sizeof *r1);
    /* the reverse rows of an indexed snapshot give the same ranks */
    assert_int_equal(hk_graph_snapshot_index(&snap, &err), HK_OK);
    assert_int_equal(hk_graph_pagerank(&snap, &o, r2, &it2, &err), HK_OK);
    for (uint32_t v = 0; v < n; v++)
        assert_true(fabs(r1[v] - r2[v]) < 1e-12);
    /* igraph's PRPACK, through the analysis (row key = vertex) */
    hk_graph_analysis_res res;
    assert_int_equal(setenv("HK_PAGERANK", "igraph", 1), 0);
    hk_err rc = hk_graph_analyze(t, &snap, HK_GRAPH_PAGERANK, n, &res, &err);
    unsetenv("HK_PAGERANK");
    assert_int_equal(rc, HK_OK);
    assert_int_equal(res.n_top, n);
    for (size_t i = 0; i < res.n_top; i++) {
        assert_true(res.top[i].key < n);
        assert_true(fabs(res.top[i].score - r1[res.top[i].key]) < 1e-6);
    }
    hk_graph_analysis_res_free(&res);
    /* the default analysis: 20 iterations over the snapshot */
    o = (hk_graph_pagerank_opts){0.85, HK_GRAPH_PAGERANK_ITER, 0, 0};
    assert_int_equal(hk_graph_pagerank(&snap, &o, r2, &it2, &err), HK_OK);
    assert_int_equal(it2, HK_GRAPH_PAGERANK_ITER);
    assert_int_equal(
        hk_graph_analyze(t, &snap, HK_GRAPH_PAGERANK, 5, &res, &err), HK_OK);
    assert_int_equal(res.n_top, 5);
    for (size_t i = 0; i < res.n_top; i++)
        assert_true(res.top[i].score == r2[res.top[i].key]);
    hk_graph_analysis_res_free(&res);
    free(r1);
    free(r2);
    hk_graph_snapshot_free(&snap);
    hk_txn_abort(t);
    tu_discard(s, dir);
}

/* ==== Components, degrees ==== */

static void test_components_degrees(void **state)
{
    (void)state;
    static const char *const f[] = {
        "E(a, b)", "E(b, c)", "E(c, a)",         /* triangle */
        "E(x, y)", "E(z, y)", "Bond(y, w1, w2)", /* y's star + fact vertex */
        "E(p, q)"};
    char *dir;
    hk_store *s = kb_of(&dir, f, 7);
    hk_graph_analysis_res res;
    analyze(s, HK_GRAPH_COMPONENTS, 10, &res);
    assert_int_equal(res.groups, 3);
    assert_int_equal(res.n_top, 3);
    assert_true(res.top[0].score == 6); /* x y z w1 w2 fact */
    assert_true(res.top[1].score == 3);
    assert_string_equal(res.top[1].name, "a");
    assert_true(res.top[2].score == 2);
    hk_graph_analysis_res_free(&res);
    analyze(s, HK_GRAPH_DEGREES, 10, &res);
    /* y: 3 (x, z, the fact vertex); fact: 3; a b c: 2; x z w1 w2 p q: 1 */
    assert_int_equal(res.n_top, 3);
    assert_int_equal(res.top[0].key, 3);
    assert_true(res.top[0].score == 2);
    assert_int_equal(res.top[1].key, 2);
    assert_true(res.top[1].score == 3);
    assert_int_equal(res.top[2].key, 1);
    assert_true(res.top[2].score == 6);
    hk_graph_analysis_res_free(&res);
    tu_discard(s, dir);
}

/* ==== Communities, betweenness ==== */

static void test_communities_betweenness(void **state)
{
    (void)state;
    const char *f[64];
    char buf[64][32];
    size_t n = 0;
    for (int side = 0; side < 2; side++)
        for (int i = 0; i < 5; i++)
            for (int j = i + 1; j < 5; j++) {
                snprintf(buf[n], 32, "K(%c%d, %c%d)", 'a' + side, i, 'a' + side,
                         j);
                f[n] = buf[n];
                n++;
            }
    f[n++] = "K(a0, b0)";
    char *dir;
    hk_store *s = kb_of(&dir, f, n);
    hk_graph_analysis_res res;
    analyze(s, HK_GRAPH_COMMUNITIES, 10, &res);
    assert_int_equal(res.groups, 2);
    assert_true(res.top[0].score == 5 && res.top[1].score == 5);
    assert_true(res.modularity > 0.4);
    hk_graph_analysis_res_free(&res);
    analyze(s, HK_GRAPH_BETWEENNESS, 3, &res);
    /* the shortest paths from the 4 other vertices of one clique to the
       5 of the other cross the bridge: 20 through a0, 20 through b0 */
    assert_false(res.sampled);
    assert_true(strcmp(res.top[0].name, "a0") == 0 ||
                strcmp(res.top[0].name, "b0") == 0);
    assert_true(fabs(res.top[0].score - 20.0) < 1e-9);
    assert_true(fabs(res.top[1].score - 20.0) < 1e-9);
    assert_true(fabs(res.top[2].score) < 1e-9);
    hk_buf b = HK_BUF_INIT;
    assert_int_equal(hk_svc_analysis_write_json(&res, &b), HK_OK);
    assert_non_null(strstr((const char *)b.data,
                           "\"analysis\":\"betweenness\",\"vertices\":10"));
    hk_buf_free(&b);
    hk_graph_analysis_res_free(&res);
    /* checks */
    hk_txn *t = tu_begin(s, false);
    hk_svc_analyze_req req = {HK_GRAPH_PAGERANK, 0, NULL, NULL};
    hk_error err;
    assert_int_equal(hk_svc_graph_analyze(t, &req, &res, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "top");
    hk_graph_analysis kind;
    assert_false(hk_svc_analysis_parse("pagerankk", &kind));
    assert_true(hk_svc_analysis_parse("communities", &kind));
    assert_int_equal(kind, HK_GRAPH_COMMUNITIES);
    hk_txn_abort(t);
    tu_discard(s, dir);
}

/* Above HK_GRAPH_BETWEENNESS_EXACT vertices betweenness is sampled: on a
 * path the centre still ranks first and the ends score 0. */
static void test_betweenness_sampled(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("analytics");
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, true);
    const int n = HK_GRAPH_BETWEENNESS_EXACT + 1001;
    for (int i = 0; i + 1 < n; i++) {
        char a[16], b[16];
        snprintf(a, sizeof a, "v%d", i);
        snprintf(b, sizeof b, "v%d", i + 1);
        tu_add(t, tu_st("Next", a, b, NULL), NULL);
    }
    tu_commit(t);
    hk_graph_analysis_res res;
    analyze(s, HK_GRAPH_BETWEENNESS, (size_t)n, &res);
    assert_true(res.sampled);
    assert_int_equal(res.n_top, n);
    int centre = atoi(res.top[0].name + 1);
    assert_true(abs(centre - n / 2) < n / 10);
    assert_true(score_of(&res, "v0") == 0);
    hk_graph_analysis_res_free(&res);
    tu_discard(s, dir);
}

/* An empty KB: no vertices, no rows, no error. */
static void test_empty(void **state)
{
    (void)state;
    char *dir;
    hk_store *s = kb_of(&dir, NULL, 0);
    for (int k = 0; k <= HK_GRAPH_BETWEENNESS; k++) {
        hk_graph_analysis_res res;
        analyze(s, (hk_graph_analysis)k, 5, &res);
        assert_int_equal(res.n_vertices, 0);
        assert_int_equal(res.n_top, 0);
        hk_graph_analysis_res_free(&res);
    }
    tu_discard(s, dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snapshot_rows),
        cmocka_unit_test(test_pagerank),
        cmocka_unit_test(test_pagerank_hand),
        cmocka_unit_test(test_pagerank_random),
        cmocka_unit_test(test_components_degrees),
        cmocka_unit_test(test_communities_betweenness),
        cmocka_unit_test(test_betweenness_sampled),
        cmocka_unit_test(test_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
