/*
 * test_graph_traverse.c — src/graph/traverse.c: shortest path lengths
 * against a plain breadth-first search over the facts held in memory, on
 * random graphs of binary, ternary and unary facts, undirected and
 * directed; k shortest simple paths against a brute-force enumeration of
 * every simple path; predicate allow/deny lists; the neighbourhood's
 * fan-out, direction and n-ary fact vertices; request checks and the
 * service's JSON.
 */
#include "graph/graph.h"
#include "service/service.h"
#include "test_domain_util.h"

/* ==== A random graph, mirrored in memory ==== */

#define MAX_ENT 64
#define MAX_FACTS 400

typedef struct mfact {
    hk_fact_id id; /* its id in the KB */
    int pred;      /* 0..2 */
    int n;         /* arguments */
    int args[3];   /* entity numbers */
} mfact;

typedef struct graph {
    char *dir;          /* scratch KB directory */
    hk_store *s;        /* the KB */
    int n_ent;          /* entities E0..E<n_ent-1> */
    mfact f[MAX_FACTS]; /* distinct facts */
    int n;              /* entries in f */
} graph;

static const char *const PREDS[] = {"P0", "P1", "P2"};

static void ename(char *out, int i)
{
    snprintf(out, 16, "E%d", i);
}

static void graph_make(graph *g, uint64_t seed, int n_ent, int n_facts)
{
    memset(g, 0, sizeof *g);
    g->dir = tu_tmpdir("traverse");
    g->s = tu_open(g->dir);
    g->n_ent = n_ent;
    hk_txn *t = tu_begin(g->s, true);
    for (int i = 0; i < n_facts; i++) {
        mfact m = {0};
        uint64_t r = tu_rand(&seed) % 10;
        m.n = r < 7 ? 2 : r < 9 ? 3 : 1;
        m.pred = (int)(tu_rand(&seed) % 3);
        char a[3][16];
        for (int j = 0; j < m.n; j++) {
            m.args[j] = (int)(tu_rand(&seed) % (uint64_t)n_ent);
            ename(a[j], m.args[j]);
        }
        hk_statement st = tu_st(PREDS[m.pred], NULL);
        st.n_args = (uint32_t)m.n;
        for (int j = 0; j < m.n; j++)
            st.args[j] = a[j];
        bool created = false;
        m.id = tu_add(t, st, &created);
        if (created) g->f[g->n++] = m;
    }
    tu_commit(t);
}

static void graph_free(graph *g)
{
    tu_discard(g->s, g->dir);
}

/* The oracle's link rule: fact m links u to v (v != u) in direction dir. */
static bool m_links(const mfact *m, int u, int v, hk_graph_dir dir,
                    int allow_mask)
{
    if (u == v || !(allow_mask & (1 << m->pred))) return false;
    for (int p = 0; p < m->n; p++)
        for (int q = 0; q < m->n; q++) {
            if (p == q || m->args[p] != u || m->args[q] != v) continue;
            if (dir == HK_GRAPH_BOTH || (dir == HK_GRAPH_OUT && p < q) ||
                (dir == HK_GRAPH_IN && p > q))
                return true;
        }
    return false;
}

/* Plain breadth-first search: hops from a to b, or -1. */
static int bfs(const graph *g, int a, int b, hk_graph_dir dir, int mask)
{
    int dist[MAX_ENT], queue[MAX_ENT], head = 0, tail = 0;
    for (int i = 0; i < g->n_ent; i++)
        dist[i] = -1;
    dist[a] = 0;
    queue[tail++] = a;
    while (head < tail) {
        int u = queue[head++];
        if (u == b) return dist[u];
        for (int i = 0; i < g->n; i++)
            for (int v = 0; v < g->n_ent; v++)
                if (dist[v] < 0 && m_links(&g->f[i], u, v, dir, mask)) {
                    dist[v] = dist[u] + 1;
                    queue[tail++] = v;
                }
    }
    return -1;
}

static bool mentioned(const graph *g, int e)
{
    for (int i = 0; i < g->n; i++)
        for (int j = 0; j < g->f[i].n; j++)
            if (g->f[i].args[j] == e) return true;
    return false;
}

static const mfact *find_fact(const graph *g, hk_fact_id id)
{
    for (int i = 0; i < g->n; i++)
        if (g->f[i].id == id) return &g->f[i];
    return NULL;
}

/* Asserts that p is a simple path from a to b whose hops are links. */
static void check_path(const graph *g, const hk_graph_path *p, int a, int b,
                       hk_graph_dir dir, int mask)
{
    int ent[HK_GRAPH_PATH_MAX_LEN + 1];
    for (size_t i = 0; i <= p->length; i++) {
        assert_int_equal(p->nodes[i][0], 'E');
        ent[i] = atoi(p->nodes[i] + 1);
        for (size_t j = 0; j < i; j++)
            assert_int_not_equal(ent[i], ent[j]);
        for (size_t j = 0; i < p->length && j < i; j++)
            assert_int_not_equal(p->facts[i], p->facts[j]);
    }
    assert_int_equal(ent[0], a);
    assert_int_equal(ent[p->length], b);
    for (size_t i = 0; i < p->length; i++) {
        const mfact *m = find_fact(g, p->facts[i]);
        assert_non_null(m);
        assert_true(m_links(m, ent[i], ent[i + 1], dir, mask));
    }
}

/* Counts every simple path from u to b by length (brute force): no
 * entity twice, no fact twice. */
static void enum_paths(const graph *g, int u, int b, hk_graph_dir dir,
                       int depth, int max_len, bool *on, bool *used,
                       long *count)
{
    if (u == b) {
        count[depth]++;
        return;
    }
    if (depth == max_len) return;
    on[u] = true;
    for (int i = 0; i < g->n; i++)
        for (int v = 0; v < g->n_ent; v++)
            if (!on[v] && !used[i] && m_links(&g->f[i], u, v, dir, 7)) {
                used[i] = true;
                enum_paths(g, v, b, dir, depth + 1, max_len, on, used, count);
                used[i] = false;
            }
    on[u] = false;
}

/* Answer paths from a snapshot built for each call (hk_graph_paths uses
 * it only past HK_GRAPH_SNAPSHOT_AFTER rows, which these graphs never
 * read), rather than from the walk over the store. */
static bool use_snapshot;

static hk_err paths(hk_store *s, const char *from, const char *to,
                    unsigned max_len, size_t k, const hk_graph_filter *f,
                    hk_graph_path_res *res)
{
    hk_txn *t = tu_begin(s, false);
    hk_graph_path_req req = {0};
    req.from = from;
    req.to = to;
    req.max_len = max_len;
    req.k = k;
    if (f) req.filter = *f;
    hk_error err;
    hk_err rc;
    if (use_snapshot && (!f || (f->n_allow == 0 && f->n_deny == 0))) {
        hk_graph_snapshot snap;
        assert_int_equal(hk_graph_snapshot_build(t, &snap, NULL, NULL, &err),
                         HK_OK);
        assert_int_equal(hk_graph_snapshot_index(&snap, &err), HK_OK);
        rc = hk_graph_paths_snapshot(t, &snap, &req, res, &err);
        hk_graph_snapshot_free(&snap);
    } else {
        rc = hk_svc_graph_paths(t, &req, res, &err);
    }
    if (rc != HK_OK) fprintf(stderr, "paths: %s\n", err.message);
    hk_txn_abort(t);
    return rc;
}

/* ==== Shortest paths against BFS ==== */

static void test_shortest_vs_bfs(void **state)
{
    (void)state;
    static const hk_graph_dir dirs[] = {HK_GRAPH_BOTH, HK_GRAPH_OUT,
                                        HK_GRAPH_IN};
    long checked = 0, found = 0;
    for (uint64_t round = 0; round < 6; round++) {
        graph *g = calloc(1, sizeof *g);
        int n_ent = 20 + (int)(round * 8);
        graph_make(g, 100 + round, n_ent, n_ent + (int)(round * 10));
        uint64_t seed = 7 + round;
        for (int q = 0; q < 60; q++) {
            int a = (int)(tu_rand(&seed) % (uint64_t)n_ent);
            int b = (int)(tu_rand(&seed) % (uint64_t)n_ent);
            hk_graph_dir dir = dirs[q % 3];
            char fa[16], fb[16];
            ename(fa, a);
            ename(fb, b);
            hk_graph_filter f = {0};
            f.dir = dir;
            hk_graph_path_res res;
            assert_int_equal(paths(g->s, fa, fb, 32, 1, &f, &res), HK_OK);
            int want =
                mentioned(g, a) && mentioned(g, b) ? bfs(g, a, b, dir, 7) : -1;
            if (want < 0) {
                assert_int_equal(res.n_paths, 0);
            } else {
                if (res.n_paths != 1)
                    fprintf(stderr, "E%d -> E%d dir %d: want %d\n", a, b,
                            (int)dir, want);
                assert_int_equal(res.n_paths, 1);
                assert_int_equal(res.paths[0].length, want);
                check_path(g, &res.paths[0], a, b, dir, 7);
                found++;
                /* a bound below the distance finds nothing */
                if (want > 1) {
                    hk_graph_path_res r2;
                    assert_int_equal(
                        paths(g->s, fa, fb, (unsigned)want - 1, 1, &f, &r2),
                        HK_OK);
                    assert_int_equal(r2.n_paths, 0);
                    hk_graph_path_res_free(&r2);
                }
            }
            checked++;
            hk_graph_path_res_free(&res);
        }
        graph_free(g);
        free(g);
    }
    assert_true(found > checked / 4); /* the graphs are connected enough */
}

/* ==== k shortest simple paths against enumeration ==== */

static void test_k_shortest_vs_enumeration(void **state)
{
    (void)state;
    for (uint64_t round = 0; round < 4; round++) {
        graph *g = calloc(1, sizeof *g);
        graph_make(g, 500 + round, 10, 16);
        uint64_t seed = 11 + round;
        for (int q = 0; q < 25; q++) {
            int a = (int)(tu_rand(&seed) % 10), b = (int)(tu_rand(&seed) % 10);
            if (a == b || !mentioned(g, a) || !mentioned(g, b)) continue;
            hk_graph_dir dir = q % 2 ? HK_GRAPH_OUT : HK_GRAPH_BOTH;
            const int max_len = 4;
            long count[8] = {0};
            bool on[MAX_ENT] = {0}, used[MAX_FACTS] = {0};
            enum_paths(g, a, b, dir, 0, max_len, on, used, count);
            long total = 0;
            for (int l = 0; l <= max_len; l++)
                total += count[l];
            size_t k = 1 + (size_t)(tu_rand(&seed) % 12);
            char fa[16], fb[16];
            ename(fa, a);
            ename(fb, b);
            hk_graph_filter f = {0};
            f.dir = dir;
            hk_graph_path_res res;
            assert_int_equal(paths(g->s, fa, fb, max_len, k, &f, &res), HK_OK);
            size_t want = total < (long)k ? (size_t)total : k;
            assert_int_equal(res.n_paths, want);
            /* lengths: the k smallest of the enumeration, in order */
            long left[8];
            memcpy(left, count, sizeof left);
            int l = 0;
            for (size_t i = 0; i < res.n_paths; i++) {
                while (left[l] == 0)
                    l++;
                assert_int_equal(res.paths[i].length, l);
                left[l]--;
                check_path(g, &res.paths[i], a, b, dir, 7);
                for (size_t j = 0; j < i; j++) { /* all distinct */
                    const hk_graph_path *x = &res.paths[i], *y = &res.paths[j];
                    bool same = x->length == y->length;
                    for (size_t h = 0; same && h < x->length; h++)
                        same = x->facts[h] == y->facts[h] &&
                               strcmp(x->nodes[h + 1], y->nodes[h + 1]) == 0;
                    assert_false(same);
                }
            }
            hk_graph_path_res_free(&res);
        }
        graph_free(g);
        free(g);
    }
}

/* ==== Filters, n-ary hops, edge cases ==== */

static void test_filters_and_edges(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("traverse2");
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, true);
    hk_fact_id ab = tu_add(t, tu_st("R", "A", "B", NULL), NULL);
    tu_add(t, tu_st("S", "B", "C", NULL), NULL);
    hk_fact_id bond = tu_add(t, tu_st("Bond", "A", "X", "C", NULL), NULL);
    tu_add(t, tu_st("Solo", "Z", NULL), NULL);
    tu_commit(t);

    hk_graph_path_res res;
    /* the ternary fact is one hop from A to C */
    assert_int_equal(paths(s, "A", "C", 6, 1, NULL, &res), HK_OK);
    assert_int_equal(res.n_paths, 1);
    assert_int_equal(res.paths[0].length, 1);
    assert_int_equal(res.paths[0].facts[0], bond);
    hk_graph_path_res_free(&res);
    /* deny it: two hops over R and S */
    const char *deny[] = {"Bond"};
    hk_graph_filter f = {0};
    f.deny = deny;
    f.n_deny = 1;
    assert_int_equal(paths(s, "A", "C", 6, 1, &f, &res), HK_OK);
    assert_int_equal(res.n_paths, 1);
    assert_int_equal(res.paths[0].length, 2);
    assert_int_equal(res.paths[0].facts[0], ab);
    assert_string_equal(res.paths[0].nodes[1], "B");
    hk_graph_path_res_free(&res);
    /* allow only R (and an unknown name): no way to C */
    const char *allow[] = {"R", "Nope"};
    hk_graph_filter fa = {0};
    fa.allow = allow;
    fa.n_allow = 2;
    assert_int_equal(paths(s, "A", "C", 6, 1, &fa, &res), HK_OK);
    assert_int_equal(res.n_paths, 0);
    hk_graph_path_res_free(&res);
    /* against the direction: none directed, one undirected */
    hk_graph_filter fo = {0};
    fo.dir = HK_GRAPH_OUT;
    assert_int_equal(paths(s, "B", "A", 6, 1, &fo, &res), HK_OK);
    assert_int_equal(res.n_paths, 0);
    hk_graph_path_res_free(&res);
    /* k = 3: both routes, shortest first (A -Bond- X -Bond- C would use
       one fact twice) */
    assert_int_equal(paths(s, "A", "C", 6, 3, NULL, &res), HK_OK);
    assert_int_equal(res.n_paths, 2);
    assert_int_equal(res.paths[0].length, 1);
    assert_int_equal(res.paths[1].length, 2);
    hk_buf b = HK_BUF_INIT;
    assert_int_equal(hk_svc_paths_write_json(&res, &b), HK_OK);
    char want[256];
    snprintf(
        want, sizeof want,
        "{\"paths\":[{\"length\":1,\"nodes\":[\"A\",\"C\"],\"facts\":[%llu]"
        "},{\"length\":2,\"nodes\":[\"A\",\"B\",\"C\"],\"facts\":[%llu,%llu]}"
        "]}",
        (unsigned long long)bond, (unsigned long long)ab,
        (unsigned long long)ab + 1);
    assert_memory_equal(b.data, want, strlen(want));
    hk_buf_free(&b);
    hk_graph_path_res_free(&res);
    /* same entity: one empty path; unknown or unary-only: none */
    assert_int_equal(paths(s, "A", "A", 6, 1, NULL, &res), HK_OK);
    assert_int_equal(res.n_paths, 1);
    assert_int_equal(res.paths[0].length, 0);
    hk_graph_path_res_free(&res);
    assert_int_equal(paths(s, "A", "Nobody", 6, 1, NULL, &res), HK_OK);
    assert_int_equal(res.n_paths, 0);
    hk_graph_path_res_free(&res);
    assert_int_equal(paths(s, "A", "Z", 6, 2, NULL, &res), HK_OK);
    assert_int_equal(res.n_paths, 0);
    hk_graph_path_res_free(&res);
    /* request checks */
    hk_txn *r = tu_begin(s, false);
    hk_graph_path_req req = {0};
    hk_error err;
    req.from = "A";
    req.to = "C";
    req.k = 1;
    req.max_len = 0;
    assert_int_equal(hk_svc_graph_paths(r, &req, &res, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "max_len");
    req.max_len = 3;
    req.k = HK_GRAPH_PATH_MAX_K + 1;
    assert_int_equal(hk_svc_graph_paths(r, &req, &res, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "k");
    req.k = 1;
    req.from = "";
    assert_int_equal(hk_svc_graph_paths(r, &req, &res, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "from");
    hk_txn_abort(r);
    tu_discard(s, dir);
}

/* ==== Neighbourhood ==== */

static void test_neighbours(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("traverse3");
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, true);
    tu_add(t, tu_st("R", "A", "B", NULL), NULL);
    tu_add(t, tu_st("R", "C", "A", NULL), NULL);
    tu_add(t, tu_st("S", "B", "D", NULL), NULL);
    tu_add(t, tu_st("Bond", "A", "X", "Y", NULL), NULL);
    for (int i = 0; i < 10; i++) {
        char n[16];
        snprintf(n, sizeof n, "H%d", i);
        tu_add(t, tu_st("Hub", "D", n, NULL), NULL);
    }
    tu_commit(t);
    hk_txn *r = tu_begin(s, false);
    hk_graph_hood_req req = {0};
    hk_graph_walk_res res;
    hk_error err;
    req.entity = "A";
    req.depth = 1;
    assert_int_equal(hk_svc_graph_neighbours(r, &req, &res, &err), HK_OK);
    /* R(A,B), R(C,A), the Bond vertex with 3 edges */
    assert_int_equal(res.n_edges, 5);
    assert_string_equal(res.nodes[0].id, "A");
    bool fact_vertex = false;
    for (size_t i = 0; i < res.n_nodes; i++)
        if (res.nodes[i].kind == HK_GRAPH_FACT) {
            fact_vertex = true;
            assert_string_equal(res.nodes[i].label, "Bond");
        }
    assert_true(fact_vertex);
    assert_false(res.truncated);
    hk_buf b = HK_BUF_INIT;
    assert_int_equal(hk_svc_subgraph_write_json(&res, &b), HK_OK);
    assert_non_null(strstr((const char *)b.data, "\"label\":\"Bond[2]\""));
    hk_buf_free(&b);
    hk_graph_walk_res_free(&res);
    /* out only, depth 3: A -> B -> D -> 10 hubs; not C */
    req.filter.dir = HK_GRAPH_OUT;
    req.depth = 3;
    const char *deny[] = {"Bond"};
    req.filter.deny = deny;
    req.filter.n_deny = 1;
    assert_int_equal(hk_svc_graph_neighbours(r, &req, &res, &err), HK_OK);
    assert_int_equal(res.n_edges, 12);
    for (size_t i = 0; i < res.n_nodes; i++)
        assert_string_not_equal(res.nodes[i].id, "C");
    hk_graph_walk_res_free(&res);
    /* fan-out 3 per entity and hop: the hub is cut */
    req.fanout = 3;
    assert_int_equal(hk_svc_graph_neighbours(r, &req, &res, &err), HK_OK);
    assert_int_equal(res.n_edges, 5);
    assert_true(res.truncated);
    hk_graph_walk_res_free(&res);
    /* edge cap */
    req.fanout = 0;
    req.max_edges = 4;
    assert_int_equal(hk_svc_graph_neighbours(r, &req, &res, &err), HK_OK);
    assert_int_equal(res.n_edges, 4);
    assert_true(res.truncated);
    hk_graph_walk_res_free(&res);
    /* errors */
    req.entity = "Nobody";
    assert_int_equal(hk_svc_graph_neighbours(r, &req, &res, &err),
                     HK_ERR_NOT_FOUND);
    assert_string_equal(err.field, "entity");
    req.entity = "A";
    req.depth = 0;
    assert_int_equal(hk_svc_graph_neighbours(r, &req, &res, &err),
                     HK_ERR_INVALID);
    assert_string_equal(err.field, "depth");
    hk_txn_abort(r);
    tu_discard(s, dir);
}

/* ==== The same over the snapshot ==== */

static int snapshot_on(void **state)
{
    (void)state;
    use_snapshot = true;
    return 0;
}

static int snapshot_off(void **state)
{
    (void)state;
    use_snapshot = false;
    return 0;
}

/* Four-argument facts: a directed hyperedge can be used twice by a walk
 * (c -> d, then a -> b of the same fact), which a path must not do. */
static void test_snapshot_wide_facts(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("traverse4");
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, true);
    tu_add(t, tu_st("W", "A", "B", "C", "D", NULL), NULL);
    tu_add(t, tu_st("R", "D", "A", NULL), NULL);
    tu_add(t, tu_st("R", "B", "E", NULL), NULL);
    tu_commit(t);
    hk_graph_filter f = {0};
    f.dir = HK_GRAPH_OUT;
    hk_graph_path_res res;
    /* C -W-> D -R-> A -W-> B -R-> E reuses W: no path of 4 hops */
    assert_int_equal(paths(s, "C", "E", 8, 3, &f, &res), HK_OK);
    assert_int_equal(res.n_paths, 0);
    hk_graph_path_res_free(&res);
    /* A -W-> B -R-> E, and A -W-> C? no: C does not reach E */
    assert_int_equal(paths(s, "A", "E", 8, 3, &f, &res), HK_OK);
    assert_int_equal(res.n_paths, 1);
    assert_int_equal(res.paths[0].length, 2);
    hk_graph_path_res_free(&res);
    tu_discard(s, dir);
}

/* The cache: one snapshot per KB state, current or absent. */
static void test_snapshot_cache(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("traverse5");
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, true);
    tu_add(t, tu_st("R", "A", "B", NULL), NULL);
    tu_commit(t);
    hk_graph_snapshot_cache_clear();
    hk_error err;
    hk_graph_snapref *r1 = NULL, *r2 = NULL;
    const hk_graph_snapshot *g1 = NULL, *g2 = NULL;
    hk_txn *r = tu_begin(s, false);
    assert_int_equal(hk_graph_snapshot_acquire(r, false, &r1, &g1, &err),
                     HK_OK);
    assert_null(r1);
    assert_int_equal(hk_graph_snapshot_acquire(r, true, &r1, &g1, &err), HK_OK);
    assert_non_null(r1);
    assert_int_equal(g1->n_edges, 1);
    assert_int_equal(hk_graph_snapshot_acquire(r, false, &r2, &g2, &err),
                     HK_OK);
    assert_ptr_equal(r2, r1);
    hk_graph_snapshot_release(r2);
    hk_txn_abort(r);
    /* a write makes it stale; the old one lives while referenced */
    t = tu_begin(s, true);
    tu_add(t, tu_st("R", "B", "C", NULL), NULL);
    tu_commit(t);
    r = tu_begin(s, false);
    assert_int_equal(hk_graph_snapshot_acquire(r, false, &r2, &g2, &err),
                     HK_OK);
    assert_null(r2);
    assert_int_equal(hk_graph_snapshot_acquire(r, true, &r2, &g2, &err), HK_OK);
    assert_non_null(r2);
    assert_ptr_not_equal(r2, r1);
    assert_int_equal(g2->n_edges, 2);
    assert_int_equal(g1->n_edges, 1);
    hk_graph_path_req req = {0};
    req.from = "A";
    req.to = "C";
    req.max_len = 4;
    req.k = 1;
    hk_graph_path_res res;
    assert_int_equal(hk_graph_paths(r, &req, &res, &err), HK_OK);
    assert_int_equal(res.n_paths, 1);
    assert_int_equal(res.paths[0].length, 2);
    hk_graph_path_res_free(&res);
    hk_graph_snapshot_release(r1);
    hk_graph_snapshot_release(r2);
    hk_txn_abort(r);
    hk_graph_snapshot_cache_clear();
    tu_discard(s, dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shortest_vs_bfs),
        cmocka_unit_test(test_k_shortest_vs_enumeration),
        cmocka_unit_test_setup_teardown(test_shortest_vs_bfs, snapshot_on,
                                        snapshot_off),
        cmocka_unit_test_setup_teardown(test_k_shortest_vs_enumeration,
                                        snapshot_on, snapshot_off),
        cmocka_unit_test_setup_teardown(test_filters_and_edges, snapshot_on,
                                        snapshot_off),
        cmocka_unit_test_setup_teardown(test_snapshot_wide_facts, snapshot_on,
                                        snapshot_off),
        cmocka_unit_test(test_snapshot_wide_facts),
        cmocka_unit_test(test_snapshot_cache),
        cmocka_unit_test(test_filters_and_edges),
        cmocka_unit_test(test_neighbours),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
