/*
 * analytics.c — PageRank, components, communities, degrees and
 * betweenness over a compact snapshot of the entity graph.
 *
 * ==== Snapshot ====
 * One read transaction, one pass over the fact ids 1..last_fact_id
 * (hks_fact_syms_get, no strings): a symbol-indexed array gives each
 * entity a dense vertex number on first sight, facts of three or more
 * arguments get a vertex of their own; edges are collected as (from, to)
 * pairs and turned into compressed sparse rows by a counting sort. The
 * snapshot keeps 8 bytes per vertex for the row start, 4 per edge for the
 * target and 8 per vertex for the name (symbol or fact id), so a 10M-edge
 * graph fits in well under 100 MB; names are decoded only for the rows
 * reported.
 *
 * ==== Algorithms ====
 * PageRank runs on the snapshot itself: power iterations pulled over the
 * reverse rows on two threads (see the PageRank section; 20 iterations by
 * default, as the degree of convergence a ranking needs), 16 bytes per
 * vertex and 4 per edge beyond the snapshot. HK_PAGERANK=igraph in the
 * environment selects igraph's exact PRPACK solver instead, for the
 * benchmarks to compare against. The other analyses build an igraph_t
 * from the snapshot (igraph copies the edges into its own indexed form for
 * the duration of the call) and use igraph 0.10: weak components,
 * multilevel (Louvain)
 * communities on the undirected graph, degrees, and betweenness (exact
 * below HK_GRAPH_BETWEENNESS_EXACT vertices, else from a fixed sample of
 * sources, scaled by vertices / sources). igraph's error handler is
 * replaced by one that returns the error, so the library never aborts.
 *
 * ==== Threads ====
 * Snapshots are immutable once built and may be read by any thread;
 * igraph calls run on the caller's thread; PageRank starts one more
 * thread per pass and joins it before returning.
 */
#include "core/mem.h"
#include "graph/graph.h"
#include "store/store.h"

#include <igraph.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FACT_BIT (1ull << 63)

/* ==== Snapshot ==== */

void hk_graph_snapshot_free(hk_graph_snapshot *snap)
{
    hk_free(snap->offsets);
    hk_free(snap->targets);
    hk_free(snap->names);
    hk_free(snap->facts);
    hk_free(snap->vidx);
    hk_free(snap->in_offsets);
    hk_free(snap->in_sources);
    hk_free(snap->in_facts);
    memset(snap, 0, sizeof *snap);
}

uint64_t hk_graph_snapshot_bytes(const hk_graph_snapshot *snap)
{
    uint64_t v = (uint64_t)snap->n_vertices, e = snap->n_edges;
    uint64_t b = (v + 1) * sizeof *snap->offsets + e * sizeof *snap->targets +
                 v * sizeof *snap->names;
    if (snap->facts) b += e * sizeof *snap->facts;
    if (snap->vidx) b += ((uint64_t)snap->sym_max + 1) * sizeof *snap->vidx;
    if (snap->in_offsets)
        b += (v + 1) * sizeof *snap->in_offsets +
             e * (sizeof *snap->in_sources + sizeof *snap->in_facts);
    return b;
}

/* The build's growing state. */
typedef struct build {
    uint32_t *vidx;     /* symbol id -> vertex + 1 (0 = none) */
    uint64_t *names;    /* vertex -> name */
    size_t cap_names;   /* allocated entries of names */
    uint32_t n_vert;    /* vertices so far */
    uint32_t *pairs;    /* 3 per edge: from, to, fact id (0 when the
                           fact ids do not fit 32 bits) */
    uint64_t n_pairs;   /* edges so far */
    uint64_t cap_pairs; /* allocated edges of pairs */
} build;

static hk_err add_vertex(build *b, uint64_t name, uint32_t *v)
{
    if (b->n_vert == UINT32_MAX - 1) return HK_ERR_LIMIT;
    if (b->n_vert == b->cap_names) {
        size_t nc = b->cap_names ? b->cap_names * 2 : 1024;
        uint64_t *nn = hk_realloc(b->names, nc * sizeof *nn);
        if (!nn) return HK_ERR_NOMEM;
        b->names = nn;
        b->cap_names = nc;
    }
    b->names[b->n_vert] = name;
    *v = b->n_vert++;
    return HK_OK;
}

static hk_err sym_vertex(build *b, uint32_t sym, uint32_t *v)
{
    if (b->vidx[sym]) {
        *v = b->vidx[sym] - 1;
        return HK_OK;
    }
    hk_err rc = add_vertex(b, sym, v);
    if (rc == HK_OK) b->vidx[sym] = *v + 1;
    return rc;
}

static hk_err add_edge(build *b, uint32_t from, uint32_t to, uint32_t fact)
{
    if (b->n_pairs == b->cap_pairs) {
        uint64_t nc = b->cap_pairs ? b->cap_pairs + b->cap_pairs / 2 : 4096;
        uint32_t *np = hk_realloc(b->pairs, nc * 3 * sizeof *np);
        if (!np) return HK_ERR_NOMEM;
        b->pairs = np;
        b->cap_pairs = nc;
    }
    b->pairs[3 * b->n_pairs] = from;
    b->pairs[3 * b->n_pairs + 1] = to;
    b->pairs[3 * b->n_pairs + 2] = fact;
    b->n_pairs++;
    return HK_OK;
}

hk_err hk_graph_snapshot_build(hk_txn *t, hk_graph_snapshot *snap,
                               hk_graph_progress_fn progress, void *ud,
                               hk_error *err)
{
    memset(snap, 0, sizeof *snap);
    hk_error_clear(err);
    hk_stats st;
    uint32_t sym_max = 0;
    hk_err rc = hk_store_stats(t, &st, err);
    if (rc == HK_OK) rc = hks_sym_max(t, &sym_max, err);
    if (rc != HK_OK) return rc;
    build b = {0};
    b.vidx = hk_calloc((size_t)sym_max + 1, sizeof *b.vidx);
    if (!b.vidx) {
        rc = HK_ERR_NOMEM;
        goto done;
    }
    /* per-edge fact ids (for paths) when every id fits 32 bits */
    bool keep_facts = st.last_fact_id <= UINT32_MAX;
    if (st.facts > 0) {
        /* about 2.2 edges per fact in the generator's mix: one growth */
        b.cap_pairs = st.facts * 9 / 4 + 4096;
        b.pairs = hk_malloc(b.cap_pairs * 3 * sizeof *b.pairs);
        if (!b.pairs) {
            rc = HK_ERR_NOMEM;
            goto done;
        }
    }
    uint64_t step = st.last_fact_id / 100 + 1;
    for (hk_fact_id id = 1; id <= st.last_fact_id; id++) {
        if (progress && id % step == 0)
            progress(ud, (double)id, (double)st.last_fact_id, "snapshot");
        hks_fact_syms fs;
        rc = hks_fact_syms_get(t, id, &fs, err);
        if (rc == HK_ERR_NOT_FOUND) { /* deleted */
            rc = HK_OK;
            continue;
        }
        if (rc != HK_OK) goto done;
        uint32_t u, v, f32 = keep_facts ? (uint32_t)id : 0;
        if (fs.n_args == 2) {
            if ((rc = sym_vertex(&b, fs.args[0], &u)) != HK_OK ||
                (rc = sym_vertex(&b, fs.args[1], &v)) != HK_OK ||
                (rc = add_edge(&b, u, v, f32)) != HK_OK)
                goto done;
        } else if (fs.n_args >= 3) {
            if ((rc = add_vertex(&b, id | FACT_BIT, &u)) != HK_OK) goto done;
            for (uint32_t i = 0; i < fs.n_args; i++)
                if ((rc = sym_vertex(&b, fs.args[i], &v)) != HK_OK ||
                    (rc = add_edge(&b, u, v, f32)) != HK_OK)
                    goto done;
        }
    }
    if (progress)
        progress(ud, (double)st.last_fact_id, (double)st.last_fact_id,
                 "snapshot");
    /* compressed sparse rows by a counting sort of the pairs */
    snap->offsets = hk_calloc((size_t)b.n_vert + 1, sizeof *snap->offsets);
    snap->targets =
        hk_malloc((b.n_pairs ? b.n_pairs : 1) * sizeof *snap->targets);
    if (keep_facts)
        snap->facts =
            hk_malloc((b.n_pairs ? b.n_pairs : 1) * sizeof *snap->facts);
    if (!snap->offsets || !snap->targets || (keep_facts && !snap->facts)) {
        rc = HK_ERR_NOMEM;
        goto done;
    }
    for (uint64_t e = 0; e < b.n_pairs; e++)
        snap->offsets[b.pairs[3 * e] + 1]++;
    for (uint32_t v = 0; v < b.n_vert; v++)
        snap->offsets[v + 1] += snap->offsets[v];
    /* stable: a fact vertex's row keeps its arguments in position order */
    for (uint64_t e = 0; e < b.n_pairs; e++) {
        uint32_t from = b.pairs[3 * e];
        /* offsets[from] is the next free slot of row from for now */
        uint64_t slot = snap->offsets[from]++;
        snap->targets[slot] = b.pairs[3 * e + 1];
        if (keep_facts) snap->facts[slot] = b.pairs[3 * e + 2];
    }
    for (uint32_t v = b.n_vert; v > 0; v--)
        snap->offsets[v] = snap->offsets[v - 1];
    snap->offsets[0] = 0;
    snap->n_vertices = b.n_vert;
    snap->n_edges = b.n_pairs;
    snap->audit_seq = st.audit_entries;
    snap->names = b.names; /* exactly n_vertices used; the rest is slack */
    b.names = NULL;
    snap->vidx = b.vidx;
    snap->sym_max = sym_max;
    b.vidx = NULL;
done:
    hk_free(b.vidx);
    hk_free(b.pairs);
    hk_free(b.names);
    if (rc != HK_OK) {
        if (rc == HK_ERR_NOMEM) hk_error_set(err, rc, "out of memory");
        if (rc == HK_ERR_LIMIT)
            hk_error_set(err, rc, "more than 2^32 - 2 vertices");
        hk_graph_snapshot_free(snap);
    }
    return rc;
}

/* ==== PageRank ====
 *
 * Power iterations, pull-based: rank'[v] = (1 - d) / n + d * dangling / n
 * + d * sum over in-edges u -> v of rank[u] / outdeg(u). Each iteration is
 * two passes over fixed blocks of PR_BLOCK vertices: the first writes
 * contrib[u] = rank[u] / outdeg(u) and each block's dangling mass, the
 * second pulls contrib over the reverse rows and each block's L1 change.
 * Threads take contiguous runs of blocks; per-block sums are added in
 * block order, so the result does not depend on the thread count.
 */

#define PR_BLOCK 1024u

typedef struct pr_ctx {
    const uint64_t *offsets; /* out rows (degrees) */
    const uint64_t *in_off;  /* reverse rows */
    const uint32_t *in_src;
    uint32_t n;
    double *rank, *contrib;
    double *part; /* per block: dangling mass, then L1 change */
    double base, damping;
} pr_ctx;

typedef struct pr_job {
    const pr_ctx *c;
    size_t b0, b1; /* blocks [b0, b1) */
    int phase;     /* 0: contributions, 1: pull */
} pr_job;

static void pr_run(const pr_job *j)
{
    const pr_ctx *c = j->c;
    for (size_t b = j->b0; b < j->b1; b++) {
        uint32_t v0 = (uint32_t)(b * PR_BLOCK);
        uint32_t v1 = c->n - v0 < PR_BLOCK ? c->n : v0 + PR_BLOCK;
        double acc = 0;
        if (j->phase == 0) {
            for (uint32_t v = v0; v < v1; v++) {
                uint64_t deg = c->offsets[v + 1] - c->offsets[v];
                if (deg) {
                    c->contrib[v] = c->rank[v] / (double)deg;
                } else {
                    c->contrib[v] = 0;
                    acc += c->rank[v];
                }
            }
        } else {
            for (uint32_t v = v0; v < v1; v++) {
                double sum = 0;
                for (uint64_t i = c->in_off[v]; i < c->in_off[v + 1]; i++)
                    sum += c->contrib[c->in_src[i]];
                double nv = c->base + c->damping * sum;
                acc += fabs(nv - c->rank[v]);
                c->rank[v] = nv;
            }
        }
        c->part[b] = acc;
    }
}

static void *pr_thread(void *arg)
{
    pr_run(arg);
    return NULL;
}

/* Runs one phase over all blocks on nt threads (the caller's included). */
static double pr_phase(const pr_ctx *c, size_t n_blocks, uint32_t nt, int phase)
{
    pr_job jobs[HK_GRAPH_PAGERANK_THREADS];
    pthread_t tid[HK_GRAPH_PAGERANK_THREADS];
    bool started[HK_GRAPH_PAGERANK_THREADS] = {false};
    if (nt > n_blocks) nt = n_blocks ? (uint32_t)n_blocks : 1;
    for (uint32_t k = 0; k < nt; k++)
        jobs[k] =
            (pr_job){c, n_blocks * k / nt, n_blocks * (k + 1) / nt, phase};
    for (uint32_t k = 1; k < nt; k++)
        started[k] = pthread_create(&tid[k], NULL, pr_thread, &jobs[k]) == 0;
    pr_run(&jobs[0]);
    for (uint32_t k = 1; k < nt; k++) {
        if (started[k])
            pthread_join(tid[k], NULL);
        else
            pr_run(&jobs[k]); /* no thread: run it here */
    }
    double sum = 0;
    for (size_t b = 0; b < n_blocks; b++)
        sum += c->part[b];
    return sum;
}

hk_err hk_graph_pagerank(const hk_graph_snapshot *snap,
                         const hk_graph_pagerank_opts *opts, double *rank,
                         uint32_t *iters, hk_error *err)
{
    hk_error_clear(err);
    hk_graph_pagerank_opts o = {HK_GRAPH_PAGERANK_DAMPING,
                                HK_GRAPH_PAGERANK_ITER, 0, 0};
    if (opts) o = *opts;
    if (o.threads == 0) o.threads = HK_GRAPH_PAGERANK_THREADS;
    if (!(o.damping >= 0 && o.damping < 1) || o.max_iter < 1 || !(o.tol >= 0) ||
        o.threads > HK_GRAPH_PAGERANK_THREADS)
        return hk_error_set(err, HK_ERR_INVALID,
                            "pagerank needs 0 <= damping < 1, iterations "
                            ">= 1, tolerance >= 0, threads 1..%u",
                            HK_GRAPH_PAGERANK_THREADS);
    if (iters) *iters = 0;
    uint32_t n = snap->n_vertices;
    if (n == 0) return HK_OK;
    size_t n_blocks = ((size_t)n + PR_BLOCK - 1) / PR_BLOCK;
    uint64_t *own_off = NULL;
    uint32_t *own_src = NULL;
    double *contrib = hk_malloc((size_t)n * sizeof *contrib);
    double *part = hk_malloc(n_blocks * sizeof *part);
    hk_err rc = HK_OK;
    if (!contrib || !part) goto nomem;
    pr_ctx c = {snap->offsets,
                snap->in_offsets,
                snap->in_sources,
                n,
                rank,
                contrib,
                part,
                0,
                o.damping};
    if (!c.in_off) {
        /* reverse rows by a counting sort; sources ascending per row */
        own_off = hk_calloc((size_t)n + 1, sizeof *own_off);
        own_src =
            hk_malloc((snap->n_edges ? snap->n_edges : 1) * sizeof *own_src);
        if (!own_off || !own_src) goto nomem;
        for (uint64_t i = 0; i < snap->n_edges; i++)
            own_off[snap->targets[i] + 1]++;
        for (uint32_t v = 0; v < n; v++)
            own_off[v + 1] += own_off[v];
        for (uint32_t u = 0; u < n; u++)
            for (uint64_t i = snap->offsets[u]; i < snap->offsets[u + 1]; i++)
                own_src[own_off[snap->targets[i]]++] = u;
        for (uint32_t v = n; v > 0; v--)
            own_off[v] = own_off[v - 1];
        own_off[0] = 0;
        c.in_off = own_off;
        c.in_src = own_src;
    }
    for (uint32_t v = 0; v < n; v++)
        rank[v] = 1.0 / n;
    uint32_t it = 0;
    while (it < o.max_iter) {
        double dangling = pr_phase(&c, n_blocks, o.threads, 0);
        c.base = (1 - o.damping) / n + o.damping * dangling / n;
        double change = pr_phase(&c, n_blocks, o.threads, 1);
        it++;
        if (change < o.tol) break;
    }
    double sum = 0;
    for (uint32_t v = 0; v < n; v++)
        sum += rank[v];
    for (uint32_t v = 0; sum > 0 && v < n; v++)
        rank[v] /= sum;
    if (iters) *iters = it;
    goto done;
nomem:
    rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
done:
    hk_free(contrib);
    hk_free(part);
    hk_free(own_off);
    hk_free(own_src);
    return rc;
}

/* ==== igraph ==== */

static void ignore_error(const char *reason, const char *file, int line,
                         igraph_error_t code)
{
    (void)reason, (void)file, (void)line, (void)code;
    IGRAPH_FINALLY_FREE();
}

static hk_err ig_fail(igraph_error_t e, const char *what, hk_error *err)
{
    if (e == IGRAPH_ENOMEM)
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory in %s", what);
    return hk_error_set(err, HK_ERR_STORE, "%s failed: %s", what,
                        igraph_strerror(e));
}

/* The snapshot as an igraph graph (caller destroys g). */
static hk_err to_igraph(const hk_graph_snapshot *snap, bool directed,
                        igraph_t *g, hk_error *err)
{
    igraph_set_error_handler(ignore_error);
    igraph_set_warning_handler(igraph_warning_handler_ignore);
    igraph_vector_int_t edges;
    igraph_error_t e =
        igraph_vector_int_init(&edges, (igraph_integer_t)(2 * snap->n_edges));
    if (e != IGRAPH_SUCCESS) return ig_fail(e, "igraph_vector_int_init", err);
    uint64_t k = 0;
    for (uint32_t v = 0; v < snap->n_vertices; v++)
        for (uint64_t i = snap->offsets[v]; i < snap->offsets[v + 1]; i++) {
            VECTOR(edges)[k++] = v;
            VECTOR(edges)[k++] = snap->targets[i];
        }
    e = igraph_create(g, &edges, (igraph_integer_t)snap->n_vertices, directed);
    igraph_vector_int_destroy(&edges);
    return e == IGRAPH_SUCCESS ? HK_OK : ig_fail(e, "igraph_create", err);
}

/* ==== Results ==== */

void hk_graph_analysis_res_free(hk_graph_analysis_res *res)
{
    for (size_t i = 0; res->top && i < res->n_top; i++)
        hk_free(res->top[i].name);
    hk_free(res->top);
    memset(res, 0, sizeof *res);
}

static char *vertex_name(hk_txn *t, const hk_graph_snapshot *snap, uint32_t v,
                         hk_error *err)
{
    uint64_t n = snap->names[v];
    if (n & FACT_BIT) {
        char buf[32];
        snprintf(buf, sizeof buf, "fact:%llu",
                 (unsigned long long)(n & ~FACT_BIT));
        return hk_strdup(buf);
    }
    const char *s;
    size_t len;
    if (hks_sym_str(t, (uint32_t)n, &s, &len, err) != HK_OK) return NULL;
    return hk_strndup(s, len);
}

/* A (score, vertex or group) pair for sorting. */
typedef struct scored {
    double score; /* sort key, larger first */
    uint64_t id;  /* vertex, group or degree */
    uint32_t rep; /* vertex that names the row */
} scored;

static int by_score_desc(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Sorts v (n entries) and keeps the first top as res->top. */
static hk_err keep_top(hk_txn *t, const hk_graph_snapshot *snap, scored *v,
                       size_t n, size_t top, hk_graph_analysis_res *res,
                       hk_error *err)
{
    qsort(v, n, sizeof *v, by_score_desc);
    size_t k = n < top ? n : top;
    res->top = hk_calloc(k ? k : 1, sizeof *res->top);
    if (!res->top) return HK_ERR_NOMEM;
    for (size_t i = 0; i < k; i++) {
        res->top[i].score = v[i].score;
        res->top[i].key = v[i].id;
        if (!(res->top[i].name = vertex_name(t, snap, v[i].rep, err)))
            return err->code ? err->code : HK_ERR_NOMEM;
        res->n_top++;
    }
    return HK_OK;
}

/* Groups of a membership vector by size; name = first member. */
static hk_err groups_top(hk_txn *t, const hk_graph_snapshot *snap,
                         const igraph_vector_int_t *memb, uint64_t n_groups,
                         size_t top, hk_graph_analysis_res *res, hk_error *err)
{
    scored *v = hk_calloc(n_groups ? n_groups : 1, sizeof *v);
    if (!v) return HK_ERR_NOMEM;
    for (uint64_t gi = 0; gi < n_groups; gi++)
        v[gi].id = gi;
    for (uint32_t i = snap->n_vertices; i > 0; i--) {
        uint64_t gi = (uint64_t)VECTOR(*memb)[i - 1];
        v[gi].score += 1;
        v[gi].rep = i - 1; /* ends at the first member */
    }
    res->groups = n_groups;
    hk_err rc = keep_top(t, snap, v, n_groups, top, res, err);
    hk_free(v);
    return rc;
}

/* Vertices by a score vector. */
static hk_err vertices_top(hk_txn *t, const hk_graph_snapshot *snap,
                           const double *score, double scale, size_t top,
                           hk_graph_analysis_res *res, hk_error *err)
{
    size_t n = snap->n_vertices;
    scored *v = hk_calloc(n ? n : 1, sizeof *v);
    if (!v) return HK_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        v[i].score = score[i] * scale;
        v[i].id = i;
        v[i].rep = (uint32_t)i;
    }
    hk_err rc = keep_top(t, snap, v, n, top, res, err);
    hk_free(v);
    return rc;
}

static int int_desc(const void *a, const void *b)
{
    igraph_integer_t x = *(const igraph_integer_t *)a,
                     y = *(const igraph_integer_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Degree distribution: one row per degree value (score = vertices with
 * it, key = the degree, name = one such vertex), largest degree first. */
static hk_err degrees_top(hk_txn *t, const hk_graph_snapshot *snap, igraph_t *g,
                          size_t top, hk_graph_analysis_res *res, hk_error *err)
{
    igraph_vector_int_t deg;
    igraph_error_t e = igraph_vector_int_init(&deg, 0);
    if (e == IGRAPH_SUCCESS) {
        e = igraph_degree(g, &deg, igraph_vss_all(), IGRAPH_ALL, true);
        if (e != IGRAPH_SUCCESS) igraph_vector_int_destroy(&deg);
    }
    if (e != IGRAPH_SUCCESS) return ig_fail(e, "igraph_degree", err);
    size_t n = snap->n_vertices;
    igraph_integer_t *sorted = hk_malloc((n ? n : 1) * sizeof *sorted);
    scored *rows = hk_calloc(n ? n : 1, sizeof *rows);
    hk_err rc = HK_OK;
    if (!sorted || !rows) {
        rc = HK_ERR_NOMEM;
        goto done;
    }
    memcpy(sorted, VECTOR(deg), n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, int_desc);
    size_t n_rows = 0;
    for (size_t i = 0; i < n; i++) {
        if (n_rows && rows[n_rows - 1].id == (uint64_t)sorted[i]) {
            rows[n_rows - 1].score += 1;
            continue;
        }
        rows[n_rows].id = (uint64_t)sorted[i];
        rows[n_rows].score = 1;
        n_rows++;
    }
    /* a vertex naming each row, then keep the largest degrees */
    for (size_t i = 0; i < n; i++) {
        uint64_t d = (uint64_t)VECTOR(deg)[i];
        size_t lo = 0, hi = n_rows; /* rows by descending degree */
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (rows[mid].id > d)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < n_rows && rows[lo].score > 0 && rows[lo].rep == 0 &&
            rows[lo].id == d)
            rows[lo].rep = (uint32_t)i + 1; /* +1: 0 = unset */
    }
    for (size_t i = 0; i < n_rows; i++) {
        rows[i].rep = rows[i].rep ? rows[i].rep - 1 : 0;
        double count = rows[i].score;
        rows[i].score = (double)rows[i].id; /* sort by degree */
        rows[i].id = (uint64_t)count;
    }
    res->groups = n_rows;
    rc = keep_top(t, snap, rows, n_rows, top, res, err);
    /* report: key = degree, score = vertices with it */
    for (size_t i = 0; rc == HK_OK && i < res->n_top; i++) {
        double degree = res->top[i].score;
        res->top[i].score = (double)res->top[i].key;
        res->top[i].key = (uint64_t)degree;
    }
done:
    hk_free(sorted);
    hk_free(rows);
    igraph_vector_int_destroy(&deg);
    return rc;
}

hk_err hk_graph_analyze(hk_txn *t, const hk_graph_snapshot *snap,
                        hk_graph_analysis kind, size_t top,
                        hk_graph_analysis_res *res, hk_error *err)
{
    memset(res, 0, sizeof *res);
    hk_error_clear(err);
    if (top < 1 || top > HK_GRAPH_TOP_MAX) {
        hk_error_set(err, HK_ERR_INVALID, "top must be 1..%u",
                     HK_GRAPH_TOP_MAX);
        snprintf(err->field, sizeof err->field, "top");
        return HK_ERR_INVALID;
    }
    res->kind = kind;
    res->n_vertices = snap->n_vertices;
    res->n_edges = snap->n_edges;
    res->snapshot_bytes = hk_graph_snapshot_bytes(snap);
    /* PageRank runs on the snapshot; HK_PAGERANK=igraph selects igraph's
       PRPACK instead (for comparison by the benchmarks) */
    const char *alt = getenv("HK_PAGERANK");
    if (kind == HK_GRAPH_PAGERANK && !(alt && strcmp(alt, "igraph") == 0)) {
        size_t n = snap->n_vertices;
        double *rank = hk_malloc((n ? n : 1) * sizeof *rank);
        if (!rank) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        hk_err rc = hk_graph_pagerank(snap, NULL, rank, NULL, err);
        if (rc == HK_OK) rc = vertices_top(t, snap, rank, 1.0, top, res, err);
        hk_free(rank);
        if (rc == HK_ERR_NOMEM && err->code != HK_ERR_NOMEM)
            hk_error_set(err, rc, "out of memory");
        if (rc != HK_OK) hk_graph_analysis_res_free(res);
        return rc;
    }
    igraph_t g;
    bool directed = kind == HK_GRAPH_PAGERANK;
    hk_err rc = to_igraph(snap, directed, &g, err);
    if (rc != HK_OK) return rc;
    igraph_error_t e = IGRAPH_SUCCESS;
    const char *what = "";
    switch (kind) {
    case HK_GRAPH_PAGERANK:
    case HK_GRAPH_BETWEENNESS: {
        igraph_vector_t score;
        if ((e = igraph_vector_init(&score, 0)) != IGRAPH_SUCCESS) break;
        double scale = 1.0;
        if (kind == HK_GRAPH_PAGERANK) {
            what = "igraph_pagerank";
            e = igraph_pagerank(&g, IGRAPH_PAGERANK_ALGO_PRPACK, &score, NULL,
                                igraph_vss_all(), true, 0.85, NULL, NULL);
        } else if (snap->n_vertices <= HK_GRAPH_BETWEENNESS_EXACT) {
            what = "igraph_betweenness";
            e = igraph_betweenness(&g, &score, igraph_vss_all(), false, NULL);
        } else {
            /* sources spread evenly over the vertices: deterministic */
            what = "igraph_betweenness_subset";
            igraph_vector_int_t src;
            e = igraph_vector_int_init(&src, HK_GRAPH_BETWEENNESS_SOURCES);
            if (e == IGRAPH_SUCCESS) {
                igraph_integer_t *sv = VECTOR(src);
                for (uint32_t i = 0; i < HK_GRAPH_BETWEENNESS_SOURCES; i++)
                    sv[i] = (igraph_integer_t)((uint64_t)i * snap->n_vertices /
                                               HK_GRAPH_BETWEENNESS_SOURCES);
                e = igraph_betweenness_subset(&g, &score, igraph_vss_all(),
                                              false, igraph_vss_vector(&src),
                                              igraph_vss_all(), NULL);
                igraph_vector_int_destroy(&src);
            }
            scale = (double)snap->n_vertices / HK_GRAPH_BETWEENNESS_SOURCES;
            res->sampled = true;
        }
        if (e == IGRAPH_SUCCESS)
            rc = vertices_top(t, snap, VECTOR(score), scale, top, res, err);
        igraph_vector_destroy(&score);
        break;
    }
    case HK_GRAPH_COMPONENTS:
    case HK_GRAPH_COMMUNITIES: {
        igraph_vector_int_t memb;
        if ((e = igraph_vector_int_init(&memb, 0)) != IGRAPH_SUCCESS) break;
        igraph_integer_t n_groups = 0;
        if (kind == HK_GRAPH_COMPONENTS) {
            what = "igraph_connected_components";
            e = igraph_connected_components(&g, &memb, NULL, &n_groups,
                                            IGRAPH_WEAK);
        } else {
            what = "igraph_community_multilevel";
            igraph_vector_t mod;
            e = igraph_vector_init(&mod, 0);
            if (e == IGRAPH_SUCCESS)
                e = igraph_community_multilevel(&g, NULL, 1.0, &memb, NULL,
                                                &mod);
            if (e == IGRAPH_SUCCESS) {
                for (igraph_integer_t i = 0; i < igraph_vector_int_size(&memb);
                     i++)
                    if (VECTOR(memb)[i] + 1 > n_groups)
                        n_groups = VECTOR(memb)[i] + 1;
                if (igraph_vector_size(&mod) > 0)
                    res->modularity = igraph_vector_max(&mod);
                igraph_vector_destroy(&mod);
            }
        }
        if (e == IGRAPH_SUCCESS)
            rc = groups_top(t, snap, &memb, (uint64_t)n_groups, top, res, err);
        igraph_vector_int_destroy(&memb);
        break;
    }
    case HK_GRAPH_DEGREES:
        rc = degrees_top(t, snap, &g, top, res, err);
        break;
    default:
        rc = hk_error_set(err, HK_ERR_INVALID, "unknown analysis");
    }
    igraph_destroy(&g);
    if (e != IGRAPH_SUCCESS) rc = ig_fail(e, what, err);
    if (rc == HK_ERR_NOMEM && err->code != HK_ERR_NOMEM)
        hk_error_set(err, rc, "out of memory");
    if (rc != HK_OK) hk_graph_analysis_res_free(res);
    return rc;
}
