/*
 * test_graph.c — src/graph: the neighbourhood walk, fact chains and
 * isolated facts against brute-force oracles over the whole KB (level by
 * level breadth-first search on the entity graph), their caps, n-ary facts
 * linked through fact vertices, the DOT text, the bulk predicate rename
 * (checks, candidate orders, merges, apply and retry, descriptions), the
 * service checks, and allocation failures.
 */
#include "graph/graph.h"
#include "service/service.h"
#include "test_domain_util.h"

/* ==== A random KB ==== */

static char *g_dir;
static hk_store *g_store;

#define N_ENT 40

static void entity_name(char *out, size_t len, uint64_t i)
{
    snprintf(out, len, "E%llu", (unsigned long long)i);
}

static int setup(void **state)
{
    (void)state;
    g_dir = tu_tmpdir("graph");
    g_store = tu_open(g_dir);
    hk_txn *t = tu_begin(g_store, true);
    uint64_t seed = 3;
    static const char *const preds[] = {"IsA", "HasPart", "Bond", "Tag"};
    for (int i = 0; i < 140; i++) {
        const char *p = preds[tu_rand(&seed) % 4];
        char a[3][16];
        /* distinct arguments: a repeated mention would count twice */
        uint64_t x = tu_rand(&seed) % N_ENT,
                 y = (x + 1 + tu_rand(&seed) % 9) % N_ENT,
                 z = (y + 1 + tu_rand(&seed) % 9) % N_ENT;
        if (z == x) z = (z + 1) % N_ENT;
        entity_name(a[0], 16, x);
        entity_name(a[1], 16, y);
        entity_name(a[2], 16, z);
        if (strcmp(p, "Bond") == 0)
            tu_add(t, tu_st(p, a[0], a[1], a[2], NULL), NULL);
        else if (strcmp(p, "Tag") == 0)
            tu_add(t, tu_st(p, a[0], NULL), NULL);
        else
            tu_add(t, tu_st(p, a[0], a[1], NULL), NULL);
    }
    /* islands */
    tu_add(t, tu_st("Island", "Solo1", "Solo2", NULL), NULL);
    tu_add(t, tu_st("Lonely", "Only", NULL), NULL);
    tu_add(t, tu_st("Island", "Far1", "Far2", "Far3", NULL), NULL);
    tu_commit(t);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_discard(g_store, g_dir);
    return 0;
}

/* ==== Neighbourhood ==== */

/* The expected subgraph: every fact mentioning an entity at distance <
 * depth from the centre (no cap is reached in these KBs). */
static void oracle_walk(const tu_kb *kb, const char *centre, unsigned depth,
                        tu_strs *nodes, tu_strs *edges)
{
    tu_strs level = {0}, next = {0}, reached = {0};
    bool *drawn = calloc(kb->n + 1, sizeof *drawn);
    tu_strs_add(&level, centre);
    tu_strs_add(&reached, centre);
    tu_strs_add(nodes, centre);
    for (unsigned d = 0; d < depth && level.n > 0; d++) {
        for (size_t i = 0; i < kb->n; i++) {
            const hk_fact *f = &kb->facts[i];
            bool hit = false;
            for (size_t e = 0; !hit && e < level.n; e++)
                hit = tu_fact_mentions(f, level.v[e]);
            if (!hit || drawn[i]) continue;
            drawn[i] = true;
            char row[1024], fid[48];
            snprintf(fid, sizeof fid, "fact:%llu", (unsigned long long)f->id);
            for (uint32_t a = 0; a < f->st.n_args; a++) {
                tu_strs_add(nodes, f->st.args[a]);
                if (tu_strs_add(&reached, f->st.args[a]))
                    tu_strs_add(&next, f->st.args[a]);
            }
            if (f->st.n_args == 2) {
                snprintf(row, sizeof row, "%s|%s|%s|%llu", f->st.args[0],
                         f->st.args[1], f->st.predicate,
                         (unsigned long long)f->id);
                tu_strs_push(edges, row);
                continue;
            }
            snprintf(row, sizeof row, "%s|fact|%s", fid, f->st.predicate);
            tu_strs_add(nodes, row);
            for (uint32_t a = 0; a < f->st.n_args; a++) {
                snprintf(row, sizeof row, "%s|%s|%s[%u]|%llu", fid,
                         f->st.args[a], f->st.predicate, a,
                         (unsigned long long)f->id);
                tu_strs_push(edges, row);
            }
        }
        tu_strs_free(&level);
        level = next;
        memset(&next, 0, sizeof next);
    }
    tu_strs_free(&level);
    tu_strs_free(&reached);
    free(drawn);
}

static void check_walk(const tu_kb *kb, const char *centre, unsigned depth)
{
    hk_txn *t = tu_begin(g_store, false);
    hk_graph_walk_req req = {centre, depth};
    hk_graph_walk_res res;
    hk_error err;
    assert_int_equal(hk_graph_walk(t, &req, &res, &err), HK_OK);
    hk_txn_abort(t);
    assert_false(res.truncated);
    assert_string_equal(res.nodes[0].id, centre);
    tu_strs got_nodes = {0}, got_edges = {0}, want_nodes = {0},
            want_edges = {0};
    char row[1024];
    for (size_t i = 0; i < res.n_nodes; i++) {
        const hk_graph_node *n = &res.nodes[i];
        if (n->kind == HK_GRAPH_FACT) {
            snprintf(row, sizeof row, "%s|fact|%s", n->id, n->label);
        } else {
            assert_null(n->label);
            snprintf(row, sizeof row, "%s", n->id);
        }
        assert_true(tu_strs_add(&got_nodes, row)); /* no vertex twice */
    }
    for (size_t i = 0; i < res.n_edges; i++) {
        const hk_graph_edge *e = &res.edges[i];
        assert_true(e->from < res.n_nodes && e->to < res.n_nodes);
        snprintf(row, sizeof row, "%s|%s|%s|%llu", res.nodes[e->from].id,
                 res.nodes[e->to].id, e->label, (unsigned long long)e->fact_id);
        tu_strs_push(&got_edges, row);
    }
    oracle_walk(kb, centre, depth, &want_nodes, &want_edges);
    tu_assert_same_strs(&got_nodes, &want_nodes);
    tu_assert_same_strs(&got_edges, &want_edges);
    tu_strs_free(&got_nodes);
    tu_strs_free(&got_edges);
    tu_strs_free(&want_nodes);
    tu_strs_free(&want_edges);
    hk_graph_walk_res_free(&res);
    hk_graph_walk_res_free(&res); /* idempotent */
}

static void test_walk_matches_oracle(void **state)
{
    (void)state;
    tu_kb kb = tu_kb_load(g_store);
    char centre[16];
    for (uint64_t e = 0; e < N_ENT; e += 7) {
        entity_name(centre, sizeof centre, e);
        for (unsigned depth = 1; depth <= 3; depth++)
            check_walk(&kb, centre, depth);
    }
    check_walk(&kb, "Far2", 2);
    check_walk(&kb, "Only", 5);
    check_walk(&kb, "Absent", 2);
    tu_kb_free(&kb);
}

/* One n-ary fact: a fact vertex links its arguments; DOT quotes names. */
static void test_nary_and_dot(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("graph-nary");
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, true);
    hk_fact_id id = tu_add(t, tu_st("Bond", "a\"b", "N", "c\\d", NULL), NULL);
    tu_commit(t);
    t = tu_begin(s, false);
    hk_graph_walk_req req = {"N", 1};
    hk_graph_walk_res res;
    hk_error err;
    assert_int_equal(hk_graph_walk(t, &req, &res, &err), HK_OK);
    hk_txn_abort(t);
    char fid[48], want[512];
    snprintf(fid, sizeof fid, "fact:%llu", (unsigned long long)id);
    assert_int_equal(res.n_nodes, 4);
    assert_string_equal(res.nodes[0].id, "N");
    assert_string_equal(res.nodes[1].id, "a\"b");
    assert_string_equal(res.nodes[2].id, "c\\d");
    assert_string_equal(res.nodes[3].id, fid);
    assert_int_equal(res.nodes[3].kind, HK_GRAPH_FACT);
    assert_string_equal(res.nodes[3].label, "Bond");
    assert_int_equal(res.n_edges, 3);
    hk_buf dot = HK_BUF_INIT;
    assert_int_equal(hk_graph_write_dot(&res, &dot), HK_OK);
    snprintf(want, sizeof want,
             "digraph hakgal {\n"
             "  \"%s\" -> \"a\\\"b\" [label=\"Bond[0]\"];\n"
             "  \"%s\" -> \"N\" [label=\"Bond[1]\"];\n"
             "  \"%s\" -> \"c\\\\d\" [label=\"Bond[2]\"];\n"
             "}\n",
             fid, fid, fid);
    assert_string_equal(dot.data, want);
    hk_buf_free(&dot);
    hk_graph_walk_res_free(&res);
    tu_discard(s, dir);
}

/* A hub is read HK_GRAPH_PER_ENTITY facts deep; a walk stops at
 * HK_GRAPH_MAX_EDGES edges and says so. */
static void test_walk_caps(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("graph-caps");
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, true);
    char leaf[32], other[32];
    for (int i = 0; i < 250; i++) {
        snprintf(leaf, sizeof leaf, "L%d", i);
        tu_add(t, tu_st("Has", "Hub", leaf, NULL), NULL);
        for (int k = 0; i < 150 && k < 19; k++) {
            snprintf(other, sizeof other, "L%d-%d", i, k);
            tu_add(t, tu_st("Has", leaf, other, NULL), NULL);
        }
    }
    tu_commit(t);
    t = tu_begin(s, false);
    hk_graph_walk_req req = {"Hub", 1};
    hk_graph_walk_res res;
    hk_error err;
    assert_int_equal(hk_graph_walk(t, &req, &res, &err), HK_OK);
    assert_int_equal(res.n_edges, HK_GRAPH_PER_ENTITY);
    assert_int_equal(res.n_nodes, HK_GRAPH_PER_ENTITY + 1);
    assert_false(res.truncated);
    hk_graph_walk_res_free(&res);
    req.depth = 2;
    assert_int_equal(hk_graph_walk(t, &req, &res, &err), HK_OK);
    assert_int_equal(res.n_edges, HK_GRAPH_MAX_EDGES);
    assert_true(res.truncated);
    hk_graph_walk_res_free(&res);
    hk_txn_abort(t);
    tu_discard(s, dir);
}

/* ==== Chains ==== */

static void check_chain(const tu_kb *kb, size_t start, unsigned max_depth)
{
    /* oracle: breadth-first distances between facts sharing an entity */
    long *dist = malloc(kb->n * sizeof *dist);
    size_t *queue = malloc(kb->n * sizeof *queue), qn = 0;
    for (size_t i = 0; i < kb->n; i++)
        dist[i] = -1;
    dist[start] = 0;
    queue[qn++] = start;
    for (size_t h = 0; h < qn; h++) {
        const hk_fact *f = &kb->facts[queue[h]];
        for (size_t j = 0; j < kb->n; j++) {
            if (dist[j] >= 0) continue;
            bool shares = false;
            for (uint32_t a = 0; !shares && a < f->st.n_args; a++)
                shares = tu_fact_mentions(&kb->facts[j], f->st.args[a]);
            if (!shares) continue;
            dist[j] = dist[queue[h]] + 1;
            queue[qn++] = j;
        }
    }
    size_t n_want = 0;
    for (size_t i = 0; i < kb->n; i++)
        if (dist[i] > 0 && dist[i] <= (long)max_depth) n_want++;

    hk_txn *t = tu_begin(g_store, false);
    hk_graph_chain_req req = {&kb->facts[start].st, max_depth};
    hk_graph_chain_res res;
    hk_error err;
    assert_int_equal(hk_graph_chain(t, &req, &res, &err), HK_OK);
    hk_txn_abort(t);
    assert_int_equal(res.start_id, kb->facts[start].id);
    assert_false(res.truncated);
    assert_int_equal(res.n_steps, n_want);
    unsigned prev = 1;
    for (size_t i = 0; i < res.n_steps; i++) {
        const hk_graph_step *s = &res.steps[i];
        long k = tu_kb_find(kb, s->fact.id);
        assert_true(k >= 0);
        assert_int_equal(s->depth, dist[k]);
        assert_true(s->depth >= prev); /* breadth-first order */
        prev = s->depth;
        assert_true(tu_fact_mentions(&s->fact, s->via));
    }
    hk_graph_chain_res_free(&res);
    free(dist);
    free(queue);
}

static void test_chain_matches_oracle(void **state)
{
    (void)state;
    tu_kb kb = tu_kb_load(g_store);
    for (size_t start = 0; start < kb.n; start += 17)
        for (unsigned d = 1; d <= 4; d += 3)
            check_chain(&kb, start, d);
    check_chain(&kb, kb.n - 1, 10); /* an island: no step */
    tu_kb_free(&kb);
}

static void test_chain_caps_and_errors(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("graph-chain");
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, true);
    hk_statement start = tu_st("Link", "C", "D", NULL);
    tu_add(t, start, NULL);
    char a[32], b[32];
    for (int i = 0; i < 30; i++) {
        snprintf(a, sizeof a, "A%d", i);
        tu_add(t, tu_st("Link", "C", a, NULL), NULL);
        for (int k = 0; i < 20 && k < 24; k++) {
            snprintf(b, sizeof b, "B%d-%d", i, k);
            tu_add(t, tu_st("Leaf", a, b, NULL), NULL);
        }
    }
    tu_commit(t);
    t = tu_begin(s, false);
    hk_graph_chain_req req = {&start, 1};
    hk_graph_chain_res res;
    hk_error err;
    /* depth 1: C's first 25 facts, the start among them */
    assert_int_equal(hk_graph_chain(t, &req, &res, &err), HK_OK);
    assert_int_equal(res.n_steps, HK_GRAPH_CHAIN_PER_ENTITY - 1);
    assert_false(res.truncated);
    hk_graph_chain_res_free(&res);
    /* depth 2: 24 + 20 * 24 facts would exceed the cap */
    req.max_depth = 2;
    assert_int_equal(hk_graph_chain(t, &req, &res, &err), HK_OK);
    assert_int_equal(res.n_steps, HK_GRAPH_CHAIN_MAX_FACTS - 1);
    assert_true(res.truncated);
    hk_graph_chain_res_free(&res);
    /* a start that is not in the KB */
    hk_statement absent = tu_st("Link", "D", "C", NULL);
    req.start = &absent;
    assert_int_equal(hk_graph_chain(t, &req, &res, &err), HK_ERR_NOT_FOUND);
    assert_string_equal(err.field, "start");
    assert_int_equal(res.n_steps, 0);
    assert_int_equal(hk_svc_chain(t, &req, &res, &err), HK_ERR_NOT_FOUND);
    req.start = &start;
    req.max_depth = 0;
    assert_int_equal(hk_svc_chain(t, &req, &res, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "max_depth");
    req.max_depth = HK_SVC_CHAIN_MAX_DEPTH + 1;
    assert_int_equal(hk_svc_chain(t, &req, &res, &err), HK_ERR_INVALID);
    req.start = NULL;
    req.max_depth = 2;
    assert_int_equal(hk_svc_chain(t, &req, &res, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "start_fact");
    hk_txn_abort(t);
    tu_discard(s, dir);
}

/* ==== Isolated facts ==== */

static void check_isolated(const tu_kb *kb, size_t limit)
{
    hk_fact_id *want = calloc(kb->n + 1, sizeof *want);
    size_t n_want = 0, examined = 0;
    for (size_t i = kb->n; i-- > 0 && n_want < limit;) {
        const hk_fact *f = &kb->facts[i];
        examined++;
        bool alone = true;
        for (uint32_t a = 0; alone && a < f->st.n_args; a++)
            for (size_t j = 0; alone && j < kb->n; j++)
                if (j != i && tu_fact_mentions(&kb->facts[j], f->st.args[a]))
                    alone = false;
        if (alone) want[n_want++] = f->id;
    }
    hk_txn *t = tu_begin(g_store, false);
    hk_graph_isolated_req req = {limit};
    hk_graph_isolated_res res;
    hk_error err;
    assert_int_equal(hk_graph_isolated(t, &req, &res, &err), HK_OK);
    hk_txn_abort(t);
    assert_int_equal(res.examined, examined);
    assert_int_equal(res.n_facts, n_want);
    for (size_t i = 0; i < n_want; i++)
        assert_int_equal(res.facts[i].id, want[i]);
    hk_graph_isolated_res_free(&res);
    free(want);
}

static void test_isolated_matches_oracle(void **state)
{
    (void)state;
    tu_kb kb = tu_kb_load(g_store);
    check_isolated(&kb, 50);
    check_isolated(&kb, 2);
    check_isolated(&kb, 1);
    tu_kb_free(&kb);
    hk_txn *t = tu_begin(g_store, false);
    hk_graph_isolated_req req = {0};
    hk_graph_isolated_res res;
    hk_error err;
    assert_int_equal(hk_svc_isolated(t, &req, &res, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "limit");
    req.limit = 3;
    assert_int_equal(hk_svc_isolated(t, &req, &res, &err), HK_OK);
    assert_int_equal(res.n_facts, 3);
    hk_graph_isolated_res_free(&res);
    hk_graph_walk_req w = {"", 2};
    hk_graph_walk_res wr;
    assert_int_equal(hk_svc_subgraph(t, &w, &wr, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "entity");
    w.entity = "E1";
    w.depth = HK_SVC_GRAPH_MAX_DEPTH + 1;
    assert_int_equal(hk_svc_subgraph(t, &w, &wr, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "depth");
    w.depth = 1;
    assert_int_equal(hk_svc_subgraph(t, &w, &wr, &err), HK_OK);
    hk_graph_walk_res_free(&wr);
    hk_txn_abort(t);
}

/* ==== Predicate rename ==== */

typedef struct rename_kb {
    char *dir;       /* KB directory */
    hk_store *s;     /* the KB */
    hk_fact_id a[6]; /* A(x0..x5), ids ascending */
    hk_fact_id b[3]; /* B(x0..x2) */
} rename_kb;

/* A(x0) B(x0) A(x1) B(x1) A(x2) B(x2) A(x3) A(x4) A(x5), Z(x4), Other(y) */
static void rename_kb_open(rename_kb *k)
{
    k->dir = tu_tmpdir("graph-rename");
    k->s = tu_open(k->dir);
    hk_txn *t = tu_begin(k->s, true);
    char x[8];
    for (int i = 0; i < 6; i++) {
        snprintf(x, sizeof x, "x%d", i);
        k->a[i] = tu_add(t, tu_st("A", x, NULL), NULL);
        if (i < 3) k->b[i] = tu_add(t, tu_st("B", x, NULL), NULL);
    }
    tu_add(t, tu_st("Z", "x4", NULL), NULL);
    tu_add(t, tu_st("Other", "y", NULL), NULL);
    tu_commit(t);
}

static void rename_kb_close(rename_kb *k)
{
    tu_discard(k->s, k->dir);
}

static hk_err prepare(const hk_graph_rename_pair *map, size_t n,
                      hk_graph_rename_plan *plan, hk_error *err)
{
    hk_graph_rename_req req;
    memset(&req, 0, sizeof req);
    req.map = map;
    req.n_map = n;
    return hk_svc_rename_prepare(&req, plan, err);
}

static void test_rename_checks(void **state)
{
    (void)state;
    hk_graph_rename_plan plan;
    hk_error err;
    assert_int_equal(prepare(NULL, 0, &plan, &err), HK_ERR_INVALID);
    assert_non_null(strstr(err.message, "mapping is empty"));
    hk_graph_rename_pair many[HK_GRAPH_RENAME_MAX_MAP + 1];
    for (size_t i = 0; i <= HK_GRAPH_RENAME_MAX_MAP; i++)
        many[i] = (hk_graph_rename_pair){"A", "B"};
    assert_int_equal(prepare(many, HK_GRAPH_RENAME_MAX_MAP + 1, &plan, &err),
                     HK_ERR_LIMIT);
    hk_graph_rename_pair bad[] = {{"A", "B"}, {"C", "not valid("}};
    assert_int_equal(prepare(bad, 2, &plan, &err), HK_ERR_INVALID);
    assert_non_null(strstr(err.message, "mapping[C]"));
    hk_graph_rename_pair null_to[] = {{"A", NULL}};
    assert_int_equal(prepare(null_to, 1, &plan, &err), HK_ERR_INVALID);
    hk_graph_rename_pair swap[] = {{"A", "B"}, {"B", "A"}};
    assert_int_equal(prepare(swap, 2, &plan, &err), HK_ERR_INVALID);
    assert_non_null(strstr(err.message, "chains and swaps"));
    hk_graph_rename_pair chain[] = {{"A", "B"}, {"B", "C"}};
    assert_int_equal(prepare(chain, 2, &plan, &err), HK_ERR_INVALID);
    /* renames to itself, or filtered out, are dropped before the check */
    hk_graph_rename_pair same[] = {{"A", "A"}, {"B", "C"}};
    assert_int_equal(prepare(same, 2, &plan, &err), HK_OK);
    assert_int_equal(plan.n_renames, 1);
    assert_string_equal(plan.renames[0].from, "B");
    hk_graph_rename_free(&plan);
    hk_graph_rename_req req;
    memset(&req, 0, sizeof req);
    req.map = swap;
    req.n_map = 2;
    const char *only[] = {"A"}, *excl[] = {"A"};
    req.only = only;
    req.n_only = 1;
    assert_int_equal(hk_svc_rename_prepare(&req, &plan, &err), HK_OK);
    assert_int_equal(plan.n_renames, 1);
    hk_graph_rename_free(&plan);
    req.only = NULL;
    req.exclude = excl;
    req.n_exclude = 1;
    assert_int_equal(hk_svc_rename_prepare(&req, &plan, &err), HK_OK);
    assert_int_equal(plan.n_renames, 1);
    assert_string_equal(plan.renames[0].from, "B");
    hk_graph_rename_free(&plan);
    /* an empty `only` list renames nothing */
    req.exclude = NULL;
    req.only = only;
    req.n_only = 0;
    assert_int_equal(hk_svc_rename_prepare(&req, &plan, &err), HK_OK);
    assert_int_equal(plan.n_renames, 0);
    hk_graph_rename_free(&plan);
    req.sample = (hk_graph_sample)7;
    assert_int_equal(hk_svc_rename_prepare(&req, &plan, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "sample_strategy");
    req.sample = HK_GRAPH_SAMPLE_HEAD;
    req.offset = HK_SVC_RENAME_MAX_COUNT + 1;
    assert_int_equal(hk_svc_rename_prepare(&req, &plan, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "start_offset");
}

/* Plans {A: Z, B: W} in one order and compares with the expected ids. */
static void check_order(rename_kb *k, hk_graph_sample sample, size_t offset,
                        size_t limit, bool by_changes, const hk_fact_id *want,
                        size_t n_want)
{
    hk_graph_rename_pair map[] = {{"A", "Z"}, {"B", "W"}};
    hk_graph_rename_req req;
    memset(&req, 0, sizeof req);
    req.map = map;
    req.n_map = 2;
    req.sample = sample;
    req.offset = offset;
    req.limit = limit;
    req.by_changes = by_changes;
    hk_graph_rename_plan plan;
    hk_error err;
    assert_int_equal(hk_svc_rename_prepare(&req, &plan, &err), HK_OK);
    hk_txn *t = tu_begin(k->s, false);
    assert_int_equal(hk_svc_rename_dry_run(t, &plan, &err), HK_OK);
    hk_txn_abort(t);
    assert_int_equal(plan.n_plan, n_want);
    assert_int_equal(plan.examined, n_want);
    for (size_t i = 0; i < n_want; i++)
        assert_int_equal(plan.plan[i].id, want[i]);
    hk_graph_rename_free(&plan);
}

static void test_rename_orders(void **state)
{
    (void)state;
    rename_kb k;
    rename_kb_open(&k);
    const hk_fact_id *a = k.a, *b = k.b;
    hk_fact_id head[] = {a[0], a[1], a[2], a[3], a[4], a[5], b[0], b[1], b[2]};
    check_order(&k, HK_GRAPH_SAMPLE_HEAD, 0, 0, false, head, 9);
    check_order(&k, HK_GRAPH_SAMPLE_HEAD, 4, 3, false, head + 4, 3);
    check_order(&k, HK_GRAPH_SAMPLE_HEAD, 4, 3, true, head + 4, 3);
    hk_fact_id tail[] = {b[2], b[1], b[0], a[5], a[4], a[3], a[2], a[1], a[0]};
    check_order(&k, HK_GRAPH_SAMPLE_TAIL, 0, 0, false, tail, 9);
    check_order(&k, HK_GRAPH_SAMPLE_TAIL, 2, 2, false, tail + 2, 2);
    hk_fact_id strat[] = {a[0], b[0], a[1], b[1], a[2], b[2], a[3], a[4], a[5]};
    check_order(&k, HK_GRAPH_SAMPLE_STRATIFIED, 0, 0, false, strat, 9);
    check_order(&k, HK_GRAPH_SAMPLE_STRATIFIED, 3, 4, false, strat + 3, 4);
    check_order(&k, HK_GRAPH_SAMPLE_STRATIFIED, 100, 0, false, NULL, 0);
    rename_kb_close(&k);
}

static void statements(hk_store *s, tu_strs *out)
{
    tu_kb kb = tu_kb_load(s);
    for (size_t i = 0; i < kb.n; i++) {
        char *st = tu_statement_of(&kb.facts[i]);
        tu_strs_push(out, st);
        free(st);
    }
    tu_kb_free(&kb);
}

/* {A: Z, B: Z}: A(x4) merges into the existing Z(x4); A(xi) and B(xi)
 * become the same Z(xi), found when applying. The KB ends as the oracle
 * says: every statement with its predicate renamed, as a set. */
static void test_rename_apply(void **state)
{
    (void)state;
    rename_kb k;
    rename_kb_open(&k);
    tu_strs want = {0}, got = {0};
    tu_strs_add(&want, "Other(y)");
    for (int i = 0; i < 6; i++) {
        char st[16];
        snprintf(st, sizeof st, "Z(x%d)", i);
        tu_strs_add(&want, st);
    }
    hk_graph_rename_pair map[] = {{"A", "Z"}, {"B", "Z"}};
    hk_graph_rename_plan plan;
    hk_error err;
    assert_int_equal(prepare(map, 2, &plan, &err), HK_OK);
    /* a first attempt that is rolled back, then the real one: the apply
     * step starts afresh */
    for (int attempt = 0; attempt < 2; attempt++) {
        hk_txn *t = tu_begin(k.s, true);
        assert_int_equal(hk_svc_rename_apply(t, &plan, &err), HK_OK);
        assert_int_equal(plan.n_plan, 9);
        assert_int_equal(plan.merged, 4); /* x4 found, x0..x2 applying */
        assert_true(plan.applied);
        if (attempt == 0)
            hk_txn_abort(t);
        else
            tu_commit(t);
    }
    statements(k.s, &got);
    tu_assert_same_strs(&got, &want);
    /* the description reads the KB after the apply */
    hk_txn *t = tu_begin(k.s, false);
    tu_check(t);
    hk_graph_rename_change *ch = NULL;
    size_t n = 0;
    assert_int_equal(hk_svc_rename_describe(t, &plan, 100, &ch, &n, &err),
                     HK_OK);
    assert_int_equal(n, 9);
    size_t merges = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(ch[i].index, i);
        assert_int_equal(ch[i].fact_id, plan.plan[i].id);
        assert_true(ch[i].old_stmt[0] == 'A' || ch[i].old_stmt[0] == 'B');
        assert_int_equal(ch[i].new_stmt[0], 'Z');
        assert_string_equal(ch[i].old_stmt + 1, ch[i].new_stmt + 1);
        merges += ch[i].merge;
    }
    assert_int_equal(merges, 4);
    hk_graph_rename_changes_free(ch, n);
    assert_int_equal(hk_svc_rename_describe(t, &plan, 2, &ch, &n, &err), HK_OK);
    assert_int_equal(n, 2);
    hk_graph_rename_changes_free(ch, n);
    hk_txn_abort(t);
    hk_graph_rename_free(&plan);
    tu_strs_free(&want);
    tu_strs_free(&got);
    rename_kb_close(&k);
}

/* A dry run describes the old facts and changes nothing. */
static void test_rename_dry_run(void **state)
{
    (void)state;
    rename_kb k;
    rename_kb_open(&k);
    tu_strs before = {0}, after = {0};
    statements(k.s, &before);
    hk_graph_rename_pair map[] = {{"A", "Z"}};
    hk_graph_rename_plan plan;
    hk_error err;
    assert_int_equal(prepare(map, 1, &plan, &err), HK_OK);
    hk_txn *t = tu_begin(k.s, false);
    assert_int_equal(hk_svc_rename_dry_run(t, &plan, &err), HK_OK);
    assert_int_equal(plan.n_plan, 6);
    assert_int_equal(plan.merged, 1);
    hk_graph_rename_change *ch = NULL;
    size_t n = 0;
    assert_int_equal(hk_svc_rename_describe(t, &plan, 100, &ch, &n, &err),
                     HK_OK);
    assert_int_equal(n, 6);
    assert_string_equal(ch[4].old_stmt, "A(x4)");
    assert_string_equal(ch[4].new_stmt, "Z(x4)");
    assert_true(ch[4].merge);
    assert_false(ch[0].merge);
    hk_graph_rename_changes_free(ch, n);
    hk_txn_abort(t);
    hk_graph_rename_free(&plan);
    statements(k.s, &after);
    tu_assert_same_strs(&before, &after);
    tu_strs_free(&before);
    tu_strs_free(&after);
    rename_kb_close(&k);
}

/* ==== Allocation failures ==== */

typedef struct alloc_case {
    hk_graph_walk_res w;       /* walk result */
    hk_graph_chain_res c;      /* chain result */
    hk_graph_isolated_res i;   /* isolated facts */
    hk_graph_rename_plan p;    /* rename plan */
    hk_statement start;        /* chain start */
    hk_graph_rename_pair *map; /* rename mapping */
} alloc_case;

static hk_err op_walk(hk_txn *t, void *ud, hk_error *err)
{
    alloc_case *c = ud;
    hk_graph_walk_req req = {"E1", 3};
    return hk_graph_walk(t, &req, &c->w, err);
}

static hk_err op_chain(hk_txn *t, void *ud, hk_error *err)
{
    alloc_case *c = ud;
    hk_graph_chain_req req = {&c->start, 3};
    return hk_graph_chain(t, &req, &c->c, err);
}

static hk_err op_isolated(hk_txn *t, void *ud, hk_error *err)
{
    alloc_case *c = ud;
    hk_graph_isolated_req req = {10};
    return hk_graph_isolated(t, &req, &c->i, err);
}

static hk_err op_rename(hk_txn *t, void *ud, hk_error *err)
{
    alloc_case *c = ud;
    hk_graph_rename_req req;
    memset(&req, 0, sizeof req);
    req.map = c->map;
    req.n_map = 2;
    req.sample = HK_GRAPH_SAMPLE_STRATIFIED;
    hk_err rc = hk_graph_rename_prepare(&req, &c->p, err);
    if (rc == HK_OK) rc = hk_graph_rename_apply(t, &c->p, err);
    hk_graph_rename_change *ch = NULL;
    size_t n = 0;
    if (rc == HK_OK) rc = hk_graph_rename_describe(t, &c->p, 100, &ch, &n, err);
    hk_graph_rename_changes_free(ch, n);
    return rc;
}

static void free_case(void *ud)
{
    alloc_case *c = ud;
    hk_graph_walk_res_free(&c->w);
    hk_graph_chain_res_free(&c->c);
    hk_graph_isolated_res_free(&c->i);
    hk_graph_rename_free(&c->p);
}

static void test_allocation_failures(void **state)
{
    (void)state;
    alloc_case c;
    memset(&c, 0, sizeof c);
    tu_kb kb = tu_kb_load(g_store);
    c.start = kb.facts[0].st;
    c.start.owned = NULL;
    assert_true(tu_fail_each_alloc(g_store, false, op_walk, free_case, &c) > 0);
    assert_true(tu_fail_each_alloc(g_store, false, op_chain, free_case, &c) >
                0);
    assert_true(tu_fail_each_alloc(g_store, false, op_isolated, free_case, &c) >
                0);
    /* the rename in write transactions that are aborted, on a small KB
     * (a write transaction is dear under the sanitizers) */
    hk_graph_rename_pair map[] = {{"A", "Z"}, {"B", "Z"}};
    c.map = map;
    rename_kb k;
    rename_kb_open(&k);
    assert_true(tu_fail_each_alloc(k.s, true, op_rename, free_case, &c) > 0);
    rename_kb_close(&k);
    tu_kb_free(&kb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_walk_matches_oracle),
        cmocka_unit_test(test_nary_and_dot),
        cmocka_unit_test(test_walk_caps),
        cmocka_unit_test(test_chain_matches_oracle),
        cmocka_unit_test(test_chain_caps_and_errors),
        cmocka_unit_test(test_isolated_matches_oracle),
        cmocka_unit_test(test_rename_checks),
        cmocka_unit_test(test_rename_orders),
        cmocka_unit_test(test_rename_apply),
        cmocka_unit_test(test_rename_dry_run),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
