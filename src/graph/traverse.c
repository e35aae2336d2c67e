/*
 * traverse.c — neighbourhoods and paths over the store's adjacency index.
 *
 * The entity graph is never materialised: the neighbours of an entity are
 * read from its by_arg rows (hks_adj_*) and the symbol ids of each fact
 * (hks_fact_syms_get), so a walk costs one adjacency row and one fact
 * record per fact it touches, and strings are decoded only for the result.
 *
 * ==== Links ====
 * A fact links the entity u to v when u is at a position p and v at a
 * position q != p and the direction allows p -> q (both ways; p < q for
 * HK_GRAPH_OUT; p > q for HK_GRAPH_IN). A fact naming u or v twice links
 * them once: a row is used only at u's first position in the fact, and
 * each v only at its first position.
 *
 * ==== Shortest path (k = 1) ====
 * Bidirectional breadth-first search: two frontiers, one from `from`
 * following the direction and one from `to` against it; each round expands
 * by one level the frontier with fewer facts to read (the sum of its
 * entities' mention counts, which the index gives without scanning). The
 * first link that reaches a vertex of the other side ends the search: it is
 * a shortest path (the argument is in snappath.c).
 *
 * ==== k shortest simple paths ====
 * A breadth-first search from `to` against the direction gives every
 * entity's distance to `to` (up to max_len). Then, for each length L from
 * the shortest to max_len, a depth-first search from `from` enumerates the
 * simple paths of exactly L hops, stepping only to entities whose distance
 * to `to` still fits in L, until k paths are found.
 *
 * ==== Memory and threads ====
 * Visited sets are open-addressing hash tables keyed by symbol id (or fact
 * id), sized by what the walk reaches; every call reads at most
 * HK_GRAPH_TRAVERSE_BUDGET adjacency rows. Calls are as thread-safe as the
 * transaction they are given.
 */
#include "core/mem.h"
#include "graph/graph.h"
#include "graph/graph_int.h"
#include "store/store.h"

#include <stdio.h>
#include <string.h>

/* ==== Links of an entity ==== */

/* The filter resolved to symbol ids. */
typedef struct trav {
    hk_txn *t;                          /* the caller's transaction */
    uint32_t allow[HK_GRAPH_MAX_PREDS]; /* allowed predicate ids */
    size_t n_allow;                     /* entries in allow */
    bool use_allow;                     /* an allow list was given */
    uint32_t deny[HK_GRAPH_MAX_PREDS];  /* denied predicate ids */
    size_t n_deny;                      /* entries in deny */
    uint64_t rows;                      /* adjacency rows read so far */
    uint64_t budget;                    /* rows allowed (HK_ERR_LIMIT) */
} trav;

static hk_err trav_init(trav *tr, hk_txn *t, const hk_graph_filter *f,
                        hk_error *err)
{
    memset(tr, 0, sizeof *tr);
    tr->t = t;
    tr->budget = HK_GRAPH_TRAVERSE_BUDGET;
    if (f->n_allow > HK_GRAPH_MAX_PREDS || f->n_deny > HK_GRAPH_MAX_PREDS) {
        hk_error_set(err, HK_ERR_INVALID, "at most %u predicates per list",
                     HK_GRAPH_MAX_PREDS);
        snprintf(err->field, sizeof err->field, "%s",
                 f->n_allow > HK_GRAPH_MAX_PREDS ? "allow" : "deny");
        return HK_ERR_INVALID;
    }
    tr->use_allow = f->allow != NULL && f->n_allow > 0;
    for (int list = 0; list < 2; list++) {
        const char *const *names = list == 0 ? f->allow : f->deny;
        size_t n = list == 0 ? f->n_allow : f->n_deny;
        for (size_t i = 0; names && i < n; i++) {
            uint32_t id;
            hk_err rc = hks_sym_id(t, names[i], strlen(names[i]), &id, err);
            if (rc == HK_ERR_NOT_FOUND) continue; /* matches no fact */
            if (rc != HK_OK) return rc;
            if (list == 0)
                tr->allow[tr->n_allow++] = id;
            else
                tr->deny[tr->n_deny++] = id;
        }
    }
    hk_error_clear(err);
    return HK_OK;
}

static bool pred_ok(const trav *tr, uint32_t pred)
{
    for (size_t i = 0; i < tr->n_deny; i++)
        if (tr->deny[i] == pred) return false;
    if (!tr->use_allow) return true;
    for (size_t i = 0; i < tr->n_allow; i++)
        if (tr->allow[i] == pred) return true;
    return false;
}

/* Does fact fs link u to its argument at position q (graph_int.h)? */
static bool fact_links(const hks_fact_syms *fs, uint32_t u, hk_graph_dir dir,
                       uint32_t q)
{
    return hk_graph_links(fs->args, fs->n_args, u, dir, q);
}

/* Called once per fact that mentions u and passes the filter. */
typedef hk_err (*fact_fn)(void *ud, uint32_t u, hk_fact_id fact,
                          const hks_fact_syms *fs, bool *stop);

/* Calls fn for each fact mentioning u (index order), until *stop. */
static hk_err each_fact(trav *tr, uint32_t u, fact_fn fn, void *ud,
                        hk_error *err)
{
    hks_adj *a = NULL;
    hk_err rc = hks_adj_open(tr->t, u, -1, 0, &a, err);
    if (rc != HK_OK) return rc;
    for (;;) {
        hks_adj_row row;
        bool has = false;
        rc = hks_adj_next(a, &row, &has, err);
        if (rc != HK_OK || !has) break;
        if (++tr->rows > tr->budget) {
            rc = hk_error_set(err, HK_ERR_LIMIT,
                              "the walk read more than %u facts; narrow it "
                              "with a predicate list or a shorter length",
                              HK_GRAPH_TRAVERSE_BUDGET);
            break;
        }
        if (!pred_ok(tr, row.pred)) continue;
        hks_fact_syms fs;
        /* a binary fact's row carries its other argument: no record read */
        if (!hks_adj_row_syms(&row, u, &fs) &&
            (rc = hks_fact_syms_get(tr->t, row.fact, &fs, err)) != HK_OK)
            break;
        bool first = true; /* row at u's first position in the fact */
        for (uint32_t i = 0; i < row.pos && i < fs.n_args; i++)
            if (fs.args[i] == u) first = false;
        if (!first) continue;
        bool stop = false;
        rc = fn(ud, u, row.fact, &fs, &stop);
        if (rc != HK_OK || stop) break;
    }
    hks_adj_close(a);
    return rc;
}

/* Calls fn(ud, v, fact) for each entity v that a fact links u to. */
typedef hk_err (*link_fn)(void *ud, uint32_t u, uint32_t v, hk_fact_id fact,
                          bool *stop);

typedef struct link_ctx {
    hk_graph_dir dir; /* direction followed */
    link_fn fn;       /* called per link */
    void *ud;         /* fn's context */
} link_ctx;

static hk_err link_fact(void *ud, uint32_t u, hk_fact_id fact,
                        const hks_fact_syms *fs, bool *stop)
{
    link_ctx *lc = ud;
    for (uint32_t q = 0; q < fs->n_args && !*stop; q++) {
        if (!fact_links(fs, u, lc->dir, q)) continue;
        hk_err rc = lc->fn(lc->ud, u, fs->args[q], fact, stop);
        if (rc != HK_OK) return rc;
    }
    return HK_OK;
}

static hk_err each_link(trav *tr, uint32_t u, hk_graph_dir dir, link_fn fn,
                        void *ud, hk_error *err)
{
    link_ctx lc = {dir, fn, ud};
    return each_fact(tr, u, link_fact, &lc, err);
}

static hk_graph_dir reverse_dir(hk_graph_dir d)
{
    return d == HK_GRAPH_OUT  ? HK_GRAPH_IN
           : d == HK_GRAPH_IN ? HK_GRAPH_OUT
                              : HK_GRAPH_BOTH;
}

/* Symbol id of an entity that some fact mentions; *found false else. */
static hk_err entity_sym(hk_txn *t, const char *name, uint32_t *id, bool *found,
                         hk_error *err)
{
    *found = false;
    hk_err rc = hks_sym_id(t, name, strlen(name), id, err);
    if (rc == HK_ERR_NOT_FOUND) {
        hk_error_clear(err);
        return HK_OK;
    }
    if (rc != HK_OK) return rc;
    /* whether any fact mentions it: a count bounded at 0 reads one chunk
     * of a hub's by_arg rows, not all of them */
    uint64_t facts = 0;
    rc = hks_entity_count_upto(t, *id, 0, &facts, err);
    if (rc != HK_OK) return rc;
    *found = facts > 0;
    return HK_OK;
}

static char *sym_dup(hk_txn *t, uint32_t id, hk_error *err)
{
    const char *s;
    size_t len;
    if (hks_sym_str(t, id, &s, &len, err) != HK_OK) return NULL;
    char *d = hk_strndup(s, len);
    if (!d) hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    return d;
}

/* ==== Paths ==== */

void hk_graph_path_res_free(hk_graph_path_res *res)
{
    for (size_t i = 0; res->paths && i < res->n_paths; i++) {
        hk_graph_path *p = &res->paths[i];
        for (size_t j = 0; p->nodes && j <= p->length; j++)
            hk_free(p->nodes[j]);
        hk_free(p->nodes);
        hk_free(p->facts);
    }
    hk_free(res->paths);
    memset(res, 0, sizeof *res);
}

/* Appends the path of `len` hops given as symbol and fact ids. */
static hk_err path_emit(hk_txn *t, hk_graph_path_res *res, const uint32_t *syms,
                        const hk_fact_id *facts, size_t len, hk_error *err)
{
    hk_graph_path *np = hk_realloc(res->paths, (res->n_paths + 1) * sizeof *np);
    if (!np) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    res->paths = np;
    hk_graph_path *p = &res->paths[res->n_paths++];
    memset(p, 0, sizeof *p);
    p->length = len;
    p->nodes = hk_calloc(len + 1, sizeof *p->nodes);
    p->facts = hk_calloc(len ? len : 1, sizeof *p->facts);
    if (!p->nodes || !p->facts)
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i <= len; i++)
        if (!(p->nodes[i] = sym_dup(t, syms[i], err))) return err->code;
    if (len) memcpy(p->facts, facts, len * sizeof *facts);
    return HK_OK;
}

/* One side of the bidirectional search. */
typedef struct side {
    hmap seen;       /* symbol -> parent symbol, fact, distance */
    u32vec frontier; /* the last level reached */
    u32vec next;     /* the level being reached */
    unsigned depth;  /* distance of frontier from the side's start */
} side;

typedef struct bfs_ctx {
    side *own;         /* the side being expanded */
    side *other;       /* the other side */
    unsigned best;     /* shortest meeting length this level, or ~0u */
    uint32_t meet_u;   /* own side's vertex of the best meeting */
    uint32_t meet_v;   /* other side's vertex */
    hk_fact_id meet_f; /* the fact linking them */
} bfs_ctx;

static hk_err bfs_link(void *ud, uint32_t u, uint32_t v, hk_fact_id fact,
                       bool *stop)
{
    bfs_ctx *b = ud;
    hslot *o = hmap_find(&b->other->seen, v);
    if (o != NULL) {
        /* the first meeting of a level is a shortest one (snappath.c) */
        b->best = b->own->depth + 1 + o->dist;
        b->meet_u = u;
        b->meet_v = v;
        b->meet_f = fact;
        *stop = true;
        return HK_OK;
    }
    if (hmap_find(&b->own->seen, v) != NULL) return HK_OK;
    hslot *s = hmap_put(&b->own->seen, v);
    if (!s) return HK_ERR_NOMEM;
    s->a = u;
    s->fact = fact;
    s->dist = b->own->depth + 1;
    return u32vec_push(&b->own->next, v);
}

/* Walks the parents of v on side s into syms/facts (v first). */
static size_t side_trace(const side *s, uint32_t v, uint32_t *syms,
                         hk_fact_id *facts)
{
    size_t n = 0;
    syms[n] = v;
    for (hslot *h = hmap_find(&s->seen, v); h && h->dist > 0;
         h = hmap_find(&s->seen, h->a)) {
        facts[n] = h->fact;
        syms[++n] = h->a;
    }
    return n;
}

static hk_err shortest(trav *tr, uint32_t from, uint32_t to,
                       const hk_graph_path_req *req, hk_graph_path_res *res,
                       hk_error *err)
{
    side sd[2];
    memset(sd, 0, sizeof sd);
    hk_err rc = HK_OK;
    uint32_t ends[2] = {from, to};
    for (int i = 0; i < 2; i++) {
        hslot *h = hmap_put(&sd[i].seen, ends[i]);
        if (!h || u32vec_push(&sd[i].frontier, ends[i]) != HK_OK) {
            rc = HK_ERR_NOMEM;
            goto done;
        }
    }
    while (sd[0].frontier.n > 0 && sd[1].frontier.n > 0 &&
           sd[0].depth + sd[1].depth < req->max_len) {
        /* expand the side whose level has fewer facts to read (exact
           counts from the index, no scan): a hub makes its side costly */
        uint64_t cost[2] = {0, 0};
        for (int j = 0; j < 2; j++)
            for (size_t v = 0; v < sd[j].frontier.n && cost[j] <= cost[1 - j];
                 v++) {
                uint64_t m = 0;
                rc =
                    hks_entity_count(tr->t, sd[j].frontier.v[v], &m, NULL, err);
                if (rc != HK_OK) goto done;
                cost[j] += m;
            }
        int i = cost[0] <= cost[1] ? 0 : 1;
        bfs_ctx b = {&sd[i], &sd[1 - i], ~0u, 0, 0, 0};
        hk_graph_dir dir =
            i == 0 ? req->filter.dir : reverse_dir(req->filter.dir);
        sd[i].next.n = 0;
        for (size_t j = 0; b.best == ~0u && j < sd[i].frontier.n; j++) {
            rc = each_link(tr, sd[i].frontier.v[j], dir, bfs_link, &b, err);
            if (rc != HK_OK) goto done;
        }
        sd[i].depth++;
        u32vec tmp = sd[i].frontier;
        sd[i].frontier = sd[i].next;
        sd[i].next = tmp;
        if (b.best == ~0u) continue;
        /* from ... meet on side 0, the meeting fact, ... to on side 1 */
        uint32_t syms[2 * HK_GRAPH_PATH_MAX_LEN + 2];
        hk_fact_id facts[2 * HK_GRAPH_PATH_MAX_LEN + 2];
        uint32_t u0 = i == 0 ? b.meet_u : b.meet_v;
        uint32_t u1 = i == 0 ? b.meet_v : b.meet_u;
        uint32_t rs[HK_GRAPH_PATH_MAX_LEN + 2];
        hk_fact_id rf[HK_GRAPH_PATH_MAX_LEN + 2];
        size_t n0 = side_trace(&sd[0], u0, rs, rf); /* u0 .. from */
        for (size_t k = 0; k <= n0; k++)
            syms[k] = rs[n0 - k];
        for (size_t k = 0; k < n0; k++)
            facts[k] = rf[n0 - 1 - k];
        facts[n0] = b.meet_f;
        size_t n1 = side_trace(&sd[1], u1, syms + n0 + 1, facts + n0 + 1);
        rc = path_emit(tr->t, res, syms, facts, n0 + 1 + n1, err);
        goto done;
    }
done:
    for (int i = 0; i < 2; i++) {
        hmap_free(&sd[i].seen);
        hk_free(sd[i].frontier.v);
        hk_free(sd[i].next.v);
    }
    if (rc == HK_ERR_NOMEM) hk_error_set(err, rc, "out of memory");
    return rc;
}

/* Distances to `to` against the direction, up to max_len. */
typedef struct dist_ctx {
    hmap *seen;     /* symbol -> distance */
    u32vec *next;   /* the level being reached */
    unsigned depth; /* distance of the level being expanded */
} dist_ctx;

static hk_err dist_link(void *ud, uint32_t u, uint32_t v, hk_fact_id fact,
                        bool *stop)
{
    (void)u, (void)fact, (void)stop;
    dist_ctx *d = ud;
    if (hmap_find(d->seen, v) != NULL) return HK_OK;
    hslot *s = hmap_put(d->seen, v);
    if (!s) return HK_ERR_NOMEM;
    s->dist = d->depth + 1;
    return u32vec_push(d->next, v);
}

/* The depth-first enumeration of paths of exactly `len` hops. */
typedef struct dfs_ctx {
    trav *tr;                                 /* adjacency reader */
    const hmap *dist;                         /* distances to `to` */
    uint32_t to;                              /* last entity */
    size_t len;                               /* hops wanted */
    size_t k;                                 /* paths wanted in total */
    hk_graph_dir dir;                         /* direction followed */
    uint32_t syms[HK_GRAPH_PATH_MAX_LEN + 1]; /* the current path */
    hk_fact_id facts[HK_GRAPH_PATH_MAX_LEN];  /* its hops */
    size_t depth;                             /* hops in the current path */
    hk_graph_path_res *res;                   /* paths found */
    hk_error *err;                            /* error of the walk */
} dfs_ctx;

static hk_err dfs_link(void *ud, uint32_t u, uint32_t v, hk_fact_id fact,
                       bool *stop)
{
    (void)u;
    dfs_ctx *d = ud;
    if (d->res->n_paths >= d->k) {
        *stop = true;
        return HK_OK;
    }
    const hslot *h = hmap_find(d->dist, v);
    if (!h || d->depth + 1 + h->dist > d->len) return HK_OK;
    for (size_t i = 0; i <= d->depth; i++)
        if (d->syms[i] == v) return HK_OK; /* simple paths only */
    for (size_t i = 0; i < d->depth; i++)
        if (d->facts[i] == fact) return HK_OK; /* a fact is one hop */
    d->syms[d->depth + 1] = v;
    d->facts[d->depth] = fact;
    if (v == d->to) {
        if (d->depth + 1 != d->len) return HK_OK;
        return path_emit(d->tr->t, d->res, d->syms, d->facts, d->len, d->err);
    }
    d->depth++;
    hk_err rc = each_link(d->tr, v, d->dir, dfs_link, d, d->err);
    d->depth--;
    if (d->res->n_paths >= d->k) *stop = true;
    return rc;
}

static hk_err k_shortest(trav *tr, uint32_t from, uint32_t to,
                         const hk_graph_path_req *req, hk_graph_path_res *res,
                         hk_error *err)
{
    hmap dist = {0};
    u32vec level = {0}, next = {0};
    hk_err rc = HK_OK;
    hslot *h = hmap_put(&dist, to);
    if (!h || u32vec_push(&level, to) != HK_OK) {
        rc = HK_ERR_NOMEM;
        goto done;
    }
    dist_ctx dc = {&dist, &next, 0};
    for (unsigned d = 0; d < req->max_len && level.n > 0; d++) {
        dc.depth = d;
        next.n = 0;
        for (size_t j = 0; j < level.n; j++) {
            rc = each_link(tr, level.v[j], reverse_dir(req->filter.dir),
                           dist_link, &dc, err);
            if (rc != HK_OK) goto done;
        }
        u32vec tmp = level;
        level = next;
        next = tmp;
    }
    const hslot *s = hmap_find(&dist, from);
    if (!s) goto done;
    dfs_ctx *dfs = hk_calloc(1, sizeof *dfs);
    if (!dfs) {
        rc = HK_ERR_NOMEM;
        goto done;
    }
    dfs->tr = tr;
    dfs->dist = &dist;
    dfs->to = to;
    dfs->k = req->k;
    dfs->dir = req->filter.dir;
    dfs->res = res;
    dfs->err = err;
    dfs->syms[0] = from;
    for (size_t len = s->dist; len <= req->max_len && res->n_paths < req->k;
         len++) {
        dfs->len = len;
        dfs->depth = 0;
        rc = each_link(tr, from, req->filter.dir, dfs_link, dfs, err);
        if (rc != HK_OK) break;
    }
    hk_free(dfs);
done:
    hmap_free(&dist);
    hk_free(level.v);
    hk_free(next.v);
    if (rc == HK_ERR_NOMEM) hk_error_set(err, rc, "out of memory");
    return rc;
}

/* Paths from the cached snapshot (built first when build is true);
 * HK_ERR_NOT_FOUND when there is none for the state t sees. */
static hk_err paths_cached(hk_txn *t, const hk_graph_path_req *req, bool build,
                           hk_graph_path_res *res, hk_error *err)
{
    hk_graph_snapref *ref = NULL;
    const hk_graph_snapshot *snap = NULL;
    hk_err rc = hk_graph_snapshot_acquire(t, build, &ref, &snap, err);
    if (rc != HK_OK) return rc;
    if (!ref) return HK_ERR_NOT_FOUND;
    rc = hk_graph_paths_snapshot(t, snap, req, res, err);
    hk_graph_snapshot_release(ref);
    return rc;
}

hk_err hk_graph_paths(hk_txn *t, const hk_graph_path_req *req,
                      hk_graph_path_res *res, hk_error *err)
{
    memset(res, 0, sizeof *res);
    hk_error_clear(err);
    if (req->max_len < 1 || req->max_len > HK_GRAPH_PATH_MAX_LEN) {
        hk_error_set(err, HK_ERR_INVALID, "max_len must be 1..%u",
                     HK_GRAPH_PATH_MAX_LEN);
        snprintf(err->field, sizeof err->field, "max_len");
        return HK_ERR_INVALID;
    }
    if (req->k < 1 || req->k > HK_GRAPH_PATH_MAX_K) {
        hk_error_set(err, HK_ERR_INVALID, "k must be 1..%u",
                     HK_GRAPH_PATH_MAX_K);
        snprintf(err->field, sizeof err->field, "k");
        return HK_ERR_INVALID;
    }
    trav tr;
    hk_err rc = trav_init(&tr, t, &req->filter, err);
    if (rc != HK_OK) return rc;
    /* without predicate lists the cached snapshot answers when it is
       current; else the walk tries first, within a small budget */
    bool snap_ok = req->filter.n_allow == 0 && req->filter.n_deny == 0;
    if (snap_ok) {
        rc = paths_cached(t, req, false, res, err);
        if (rc != HK_ERR_NOT_FOUND) return rc;
        tr.budget = HK_GRAPH_SNAPSHOT_AFTER;
    }
    uint32_t from, to;
    bool has_from, has_to;
    rc = entity_sym(t, req->from, &from, &has_from, err);
    if (rc == HK_OK) rc = entity_sym(t, req->to, &to, &has_to, err);
    if (rc != HK_OK || !has_from || !has_to) return rc;
    if (from == to)
        rc = path_emit(t, res, &from, NULL, 0, err);
    else if (req->k == 1)
        rc = shortest(&tr, from, to, req, res, err);
    else
        rc = k_shortest(&tr, from, to, req, res, err);
    if (rc != HK_OK) hk_graph_path_res_free(res);
    if (rc == HK_ERR_LIMIT && snap_ok) {
        /* a hub: build the snapshot once, answer from memory */
        rc = paths_cached(t, req, true, res, err);
        if (rc == HK_ERR_NOT_FOUND || rc == HK_ERR_UNSUPPORTED) {
            tr.rows = 0;
            tr.budget = HK_GRAPH_TRAVERSE_BUDGET;
            hk_error_clear(err);
            rc = req->k == 1 ? shortest(&tr, from, to, req, res, err)
                             : k_shortest(&tr, from, to, req, res, err);
            if (rc != HK_OK) hk_graph_path_res_free(res);
        }
    }
    return rc;
}

/* ==== Neighbourhood ==== */

#define FACT_KEY(id) ((uint64_t)(id) | (1ull << 63))

typedef struct hood {
    trav *tr;                     /* adjacency reader */
    const hk_graph_hood_req *req; /* the request */
    hk_graph_walk_res *res;       /* the subgraph being built */
    hmap nodes;                   /* symbol or FACT_KEY -> node index */
    hmap facts;                   /* facts already drawn */
    size_t cap_nodes;             /* allocated entries of res->nodes */
    size_t cap_edges;             /* allocated entries of res->edges */
    size_t max_edges;             /* edges drawn at most */
    size_t taken;                 /* facts followed from the current entity */
    u32vec next;                  /* entities first reached at this level */
    hk_error *err;                /* error of the walk */
} hood;

/* Index of the node for key (added when new, name from sym or fact). */
static hk_err hood_node(hood *h, uint64_t key, uint32_t sym, const char *label,
                        size_t *idx, bool *added)
{
    hslot *s = hmap_find(&h->nodes, key);
    *added = false;
    if (s) {
        *idx = s->a;
        return HK_OK;
    }
    hk_graph_walk_res *res = h->res;
    if (res->n_nodes == h->cap_nodes) {
        size_t nc = h->cap_nodes ? h->cap_nodes * 2 : 64;
        hk_graph_node *nv = hk_realloc(res->nodes, nc * sizeof *nv);
        if (!nv) return HK_ERR_NOMEM;
        res->nodes = nv;
        h->cap_nodes = nc;
    }
    hk_graph_node *n = &res->nodes[res->n_nodes];
    memset(n, 0, sizeof *n);
    if (key & (1ull << 63)) {
        char id[32];
        snprintf(id, sizeof id, "fact:%llu",
                 (unsigned long long)(key & ~(1ull << 63)));
        n->kind = HK_GRAPH_FACT;
        n->id = hk_strdup(id);
        n->label = hk_strdup(label);
        if (!n->id || !n->label) {
            hk_free(n->id);
            hk_free(n->label);
            return HK_ERR_NOMEM;
        }
    } else {
        n->kind = HK_GRAPH_ENTITY;
        if (!(n->id = sym_dup(h->tr->t, sym, h->err))) return h->err->code;
    }
    if (!(s = hmap_put(&h->nodes, key))) {
        hk_free(n->id);
        hk_free(n->label);
        return HK_ERR_NOMEM;
    }
    s->a = (uint32_t)res->n_nodes;
    *idx = res->n_nodes++;
    *added = true;
    return HK_OK;
}

static hk_err hood_edge(hood *h, size_t from, size_t to, const char *label,
                        hk_fact_id fact)
{
    hk_graph_walk_res *res = h->res;
    if (res->n_edges == h->cap_edges) {
        size_t nc = h->cap_edges ? h->cap_edges * 2 : 64;
        hk_graph_edge *nv = hk_realloc(res->edges, nc * sizeof *nv);
        if (!nv) return HK_ERR_NOMEM;
        res->edges = nv;
        h->cap_edges = nc;
    }
    hk_graph_edge *e = &res->edges[res->n_edges];
    e->from = from;
    e->to = to;
    e->fact_id = fact;
    if (!(e->label = hk_strdup(label))) return HK_ERR_NOMEM;
    res->n_edges++;
    return HK_OK;
}

/* Draws one fact mentioning u (if the direction lets u reach through it)
 * and queues the entities it reaches. */
static hk_err hood_fact(void *ud, uint32_t u, hk_fact_id fact,
                        const hks_fact_syms *fs, bool *stop)
{
    hood *h = ud;
    hk_graph_dir dir = h->req->filter.dir;
    bool any = fs->n_args == 1;
    for (uint32_t q = 0; q < fs->n_args && !any; q++)
        any = fact_links(fs, u, dir, q);
    if (!any || hmap_find(&h->facts, fact) != NULL) return HK_OK;
    if (h->req->fanout && h->taken >= h->req->fanout) {
        h->res->truncated = true;
        *stop = true;
        return HK_OK;
    }
    size_t need = fs->n_args == 2 ? 1 : fs->n_args;
    if (h->res->n_edges + need > h->max_edges) {
        h->res->truncated = true;
        *stop = true;
        return HK_OK;
    }
    h->taken++;
    if (!hmap_put(&h->facts, fact)) return HK_ERR_NOMEM;
    const char *ps;
    size_t plen;
    hk_err rc = hks_sym_str(h->tr->t, fs->pred, &ps, &plen, h->err);
    if (rc != HK_OK) return rc;
    char pred[HK_MAX_PREDICATE_BYTES + 1];
    if (plen > HK_MAX_PREDICATE_BYTES) plen = HK_MAX_PREDICATE_BYTES;
    memcpy(pred, ps, plen);
    pred[plen] = '\0';
    size_t idx[HK_MAX_ARGS];
    for (uint32_t q = 0; q < fs->n_args; q++) {
        bool added;
        rc = hood_node(h, fs->args[q], fs->args[q], NULL, &idx[q], &added);
        if (rc != HK_OK) return rc;
        /* an argument drawn but not reachable in this direction is not
           expanded */
        if (added && fact_links(fs, u, dir, q)) {
            rc = u32vec_push(&h->next, fs->args[q]);
            if (rc != HK_OK) return rc;
        }
    }
    if (fs->n_args == 2) return hood_edge(h, idx[0], idx[1], pred, fact);
    size_t fi;
    bool added;
    rc = hood_node(h, FACT_KEY(fact), 0, pred, &fi, &added);
    for (uint32_t q = 0; q < fs->n_args && rc == HK_OK; q++) {
        char lab[HK_MAX_PREDICATE_BYTES + 16];
        snprintf(lab, sizeof lab, "%.*s[%u]", (int)plen, pred, q);
        rc = hood_edge(h, fi, idx[q], lab, fact);
    }
    return rc;
}

hk_err hk_graph_neighbours(hk_txn *t, const hk_graph_hood_req *req,
                           hk_graph_walk_res *res, hk_error *err)
{
    memset(res, 0, sizeof *res);
    hk_error_clear(err);
    if (req->depth < 1 || req->depth > HK_GRAPH_MAX_DEPTH) {
        hk_error_set(err, HK_ERR_INVALID, "depth must be 1..%u",
                     HK_GRAPH_MAX_DEPTH);
        snprintf(err->field, sizeof err->field, "depth");
        return HK_ERR_INVALID;
    }
    trav tr;
    hk_err rc = trav_init(&tr, t, &req->filter, err);
    if (rc != HK_OK) return rc;
    uint32_t centre;
    bool found;
    rc = entity_sym(t, req->entity, &centre, &found, err);
    if (rc != HK_OK) return rc;
    if (!found) {
        hk_error_set(err, HK_ERR_NOT_FOUND, "no fact mentions '%s'",
                     req->entity);
        snprintf(err->field, sizeof err->field, "entity");
        return HK_ERR_NOT_FOUND;
    }
    hood h = {0};
    h.tr = &tr;
    h.req = req;
    h.res = res;
    h.err = err;
    h.max_edges = req->max_edges ? req->max_edges : HK_GRAPH_MAX_EDGES;
    u32vec level = {0};
    size_t ci;
    bool added;
    rc = hood_node(&h, centre, centre, NULL, &ci, &added);
    if (rc == HK_OK) rc = u32vec_push(&level, centre);
    for (unsigned d = 0; rc == HK_OK && d < req->depth && level.n > 0; d++) {
        h.next.n = 0;
        for (size_t j = 0; rc == HK_OK && j < level.n; j++) {
            if (res->n_edges >= h.max_edges) break;
            h.taken = 0;
            rc = each_fact(&tr, level.v[j], hood_fact, &h, err);
        }
        u32vec tmp = level;
        level = h.next;
        h.next = tmp;
    }
    hk_free(level.v);
    hk_free(h.next.v);
    hmap_free(&h.nodes);
    hmap_free(&h.facts);
    if (rc == HK_ERR_NOMEM) hk_error_set(err, rc, "out of memory");
    if (rc != HK_OK) hk_graph_walk_res_free(res);
    return rc;
}
