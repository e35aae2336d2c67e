/*
 * snappath.c — shortest and k shortest simple paths over the CSR snapshot
 * (graph.h), and the process-wide cache of one indexed snapshot.
 *
 * ==== Links ====
 * The walk's link rule (traverse.c) read from memory. An entity u's
 * out-row holds its binary facts P(u, v) (u at position 0, v at 1); its
 * in-row (hk_graph_snapshot_index) holds the binary facts P(w, u) and the
 * vertex of every n-ary fact that mentions u, once per mention, next to
 * each other. A fact vertex's out-row lists the fact's arguments in
 * position order, so a position is a row offset and the direction rule
 * (p < q out, p > q in) applies as in the walk; each linked entity counts
 * once per fact, at its first linked position. Per-edge fact ids are kept
 * as 32 bits (the snapshot has none when ids are larger, and the callers
 * then walk the store instead).
 *
 * ==== Shortest path ====
 * Bidirectional breadth-first search: each round expands by a whole level
 * the side whose frontier has the smaller degree sum (the row lengths, read
 * in O(frontier)); the first level that touches the other side ends the
 * search at its first meeting. That meeting is a shortest path: with sides
 * at depths di and dj and no meeting yet, every path is longer than
 * di + dj (its vertex at di from one end would have been seen by both), and
 * a meeting found while going to di + 1 is at most di + 1 + dj long. Visited
 * sets are hash tables sized by what the search reaches, so a call costs what
 * it touches, never O(vertices).
 *
 * ==== k shortest simple paths (Yen) ====
 * A[0] is the shortest path. For the next one, every vertex i of the last
 * path found is a spur: the root (its first i hops) is kept, the root's
 * other vertices and its facts are banned, as is the next hop of every
 * found path sharing that root; the shortest spur path from i to `to`
 * completes a candidate. The shortest candidate (first found on ties)
 * becomes the next path. Paths differ when an entity or a fact differs, as
 * in the walk. Breadth-first search cannot see a fact used twice, which a
 * banned first hop through an n-ary fact makes possible: such a spur path
 * is replaced by an exact depth-first search (no vertex, no fact twice)
 * from its length up, pruned by the distances to `to`.
 *
 * ==== Cache ====
 * One snapshot, for the KB state last asked about, keyed by the audit log's
 * length and newest hash (they identify the whole history, hence the
 * content and the symbol ids), plus the highest fact and symbol ids. A
 * mutex guards the slot; snapshots are reference-counted, so a reader keeps
 * its snapshot while another thread replaces the slot. Builds run outside
 * the lock (two threads missing at once may both build; the later one
 * stays cached).
 */
#include "core/mem.h"
#include "graph/graph.h"
#include "graph/graph_int.h"
#include "store/store.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define FACT_BIT (1ull << 63)

/* ==== Reverse rows ==== */

hk_err hk_graph_snapshot_index(hk_graph_snapshot *snap, hk_error *err)
{
    if (snap->in_offsets) return HK_OK;
    uint32_t nv = snap->n_vertices;
    uint64_t ne = snap->n_edges;
    uint64_t *off = hk_calloc((size_t)nv + 1, sizeof *off);
    uint32_t *src = hk_malloc((ne ? ne : 1) * sizeof *src);
    uint32_t *fac = hk_malloc((ne ? ne : 1) * sizeof *fac);
    if (!off || !src || !fac) {
        hk_free(off);
        hk_free(src);
        hk_free(fac);
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    }
    for (uint64_t e = 0; e < ne; e++)
        off[snap->targets[e] + 1]++;
    for (uint32_t v = 0; v < nv; v++)
        off[v + 1] += off[v];
    /* sources in increasing order within a row: a fact vertex that
       mentions v twice gives two adjacent entries */
    for (uint32_t u = 0; u < nv; u++)
        for (uint64_t e = snap->offsets[u]; e < snap->offsets[u + 1]; e++) {
            uint64_t slot = off[snap->targets[e]]++;
            src[slot] = u;
            fac[slot] = snap->facts ? snap->facts[e] : 0;
        }
    for (uint32_t v = nv; v > 0; v--)
        off[v] = off[v - 1];
    off[0] = 0;
    snap->in_offsets = off;
    snap->in_sources = src;
    snap->in_facts = fac;
    return HK_OK;
}

/* ==== Links ==== */

/* Called per link u -> v through fact. */
typedef hk_err (*slink_fn)(void *ud, uint32_t u, uint32_t v, uint32_t fact,
                           bool *stop);

static hk_err snap_links(const hk_graph_snapshot *g, uint32_t u,
                         hk_graph_dir dir, slink_fn fn, void *ud)
{
    hk_err rc = HK_OK;
    bool stop = false;
    if (dir != HK_GRAPH_IN)
        for (uint64_t e = g->offsets[u];
             rc == HK_OK && !stop && e < g->offsets[u + 1]; e++)
            if (g->targets[e] != u)
                rc = fn(ud, u, g->targets[e], g->facts[e], &stop);
    for (uint64_t e = g->in_offsets[u];
         rc == HK_OK && !stop && e < g->in_offsets[u + 1]; e++) {
        uint32_t w = g->in_sources[e];
        if (!(g->names[w] & FACT_BIT)) {
            if (dir != HK_GRAPH_OUT && w != u)
                rc = fn(ud, u, w, g->in_facts[e], &stop);
            continue;
        }
        if (e > g->in_offsets[u] && g->in_sources[e - 1] == w) continue;
        const uint32_t *args = g->targets + g->offsets[w];
        uint32_t n = (uint32_t)(g->offsets[w + 1] - g->offsets[w]);
        for (uint32_t q = 0; rc == HK_OK && !stop && q < n; q++)
            if (hk_graph_links(args, n, u, dir, q))
                rc = fn(ud, u, args[q], g->in_facts[e], &stop);
    }
    return rc;
}

static uint64_t degree(const hk_graph_snapshot *g, uint32_t u)
{
    return (g->offsets[u + 1] - g->offsets[u]) +
           (g->in_offsets[u + 1] - g->in_offsets[u]);
}

static hk_graph_dir reverse(hk_graph_dir d)
{
    return d == HK_GRAPH_OUT  ? HK_GRAPH_IN
           : d == HK_GRAPH_IN ? HK_GRAPH_OUT
                              : HK_GRAPH_BOTH;
}

/* ==== Shortest path with bans ==== */

/* A path as vertex and fact ids of the snapshot. */
typedef struct spath {
    uint32_t len;                          /* hops */
    uint32_t v[HK_GRAPH_PATH_MAX_LEN + 1]; /* vertices, from first */
    uint32_t f[HK_GRAPH_PATH_MAX_LEN];     /* facts, hop by hop */
} spath;

/* What a spur search may not use. */
typedef struct bans {
    const uint32_t *verts; /* vertices (the root's, but the spur) */
    size_t n_verts;        /* entries in verts */
    const uint32_t *facts; /* facts (the root's) */
    size_t n_facts;        /* entries in facts */
    uint32_t spur;         /* the vertex whose first hops are restricted */
    const uint64_t *hops;  /* banned first hops: fact << 32 | next vertex */
    size_t n_hops;         /* entries in hops */
} bans;

static bool banned(const bans *b, uint32_t from, uint32_t to, uint32_t fact)
{
    if (!b) return false;
    for (size_t i = 0; i < b->n_facts; i++)
        if (b->facts[i] == fact) return true;
    for (size_t i = 0; i < b->n_verts; i++)
        if (b->verts[i] == to || b->verts[i] == from) return true;
    if (from == b->spur) {
        uint64_t key = (uint64_t)fact << 32 | to;
        for (size_t i = 0; i < b->n_hops; i++)
            if (b->hops[i] == key) return true;
    }
    return false;
}

typedef struct sside {
    hmap seen;       /* vertex + 1 -> parent vertex, fact, distance */
    u32vec frontier; /* the last level reached */
    u32vec next;     /* the level being reached */
    unsigned depth;  /* distance of frontier from the side's start */
} sside;

typedef struct sbfs {
    const bans *b;   /* what may not be used, or NULL */
    bool forward;    /* expanding the side of `from` */
    sside *own;      /* the side being expanded */
    sside *other;    /* the other side */
    unsigned best;   /* shortest meeting length this level, or ~0u */
    uint32_t meet_u; /* own side's vertex of the best meeting */
    uint32_t meet_v; /* other side's vertex */
    uint32_t meet_f; /* the fact linking them */
} sbfs;

static hk_err sbfs_link(void *ud, uint32_t u, uint32_t v, uint32_t fact,
                        bool *stop)
{
    sbfs *s = ud;
    /* the path runs from -> to: on the side of `to`, the hop is v -> u */
    if (s->forward ? banned(s->b, u, v, fact) : banned(s->b, v, u, fact))
        return HK_OK;
    hslot *o = hmap_find(&s->other->seen, (uint64_t)v + 1);
    if (o != NULL) {
        unsigned len = s->own->depth + 1 + o->dist;
        /* the first meeting of a level is a shortest path: see above */
        s->best = len;
        s->meet_u = u;
        s->meet_v = v;
        s->meet_f = fact;
        *stop = true;
        return HK_OK;
    }
    if (hmap_find(&s->own->seen, (uint64_t)v + 1) != NULL) return HK_OK;
    hslot *h = hmap_put(&s->own->seen, (uint64_t)v + 1);
    if (!h) return HK_ERR_NOMEM;
    h->a = u;
    h->fact = fact;
    h->dist = s->own->depth + 1;
    return u32vec_push(&s->own->next, v);
}

/* Parents of v on side s into vs/fs (v first); returns the hops. */
static uint32_t sside_trace(const sside *s, uint32_t v, uint32_t *vs,
                            uint32_t *fs)
{
    uint32_t n = 0;
    vs[0] = v;
    for (hslot *h = hmap_find(&s->seen, (uint64_t)v + 1); h && h->dist > 0;
         h = hmap_find(&s->seen, (uint64_t)h->a + 1)) {
        fs[n] = (uint32_t)h->fact;
        vs[++n] = h->a;
    }
    return n;
}

/* Shortest path from -> to (from != to) of at most max_len hops avoiding
 * b; *found false when none. */
static hk_err snap_shortest(const hk_graph_snapshot *g, uint32_t from,
                            uint32_t to, unsigned max_len, hk_graph_dir dir,
                            const bans *b, spath *out, bool *found)
{
    *found = false;
    sside sd[2];
    memset(sd, 0, sizeof sd);
    hk_err rc = HK_OK;
    uint32_t ends[2] = {from, to};
    for (int i = 0; i < 2; i++)
        if (!hmap_put(&sd[i].seen, (uint64_t)ends[i] + 1) ||
            u32vec_push(&sd[i].frontier, ends[i]) != HK_OK) {
            rc = HK_ERR_NOMEM;
            goto done;
        }
    while (sd[0].frontier.n > 0 && sd[1].frontier.n > 0 &&
           sd[0].depth + sd[1].depth < max_len) {
        uint64_t cost[2] = {0, 0};
        for (int j = 0; j < 2; j++)
            for (size_t k = 0; k < sd[j].frontier.n && cost[j] <= cost[1 - j];
                 k++)
                cost[j] += degree(g, sd[j].frontier.v[k]);
        int i = cost[0] <= cost[1] ? 0 : 1;
        sbfs s = {b, i == 0, &sd[i], &sd[1 - i], ~0u, 0, 0, 0};
        hk_graph_dir d = i == 0 ? dir : reverse(dir);
        sd[i].next.n = 0;
        for (size_t j = 0; rc == HK_OK && s.best == ~0u && j < sd[i].frontier.n;
             j++)
            rc = snap_links(g, sd[i].frontier.v[j], d, sbfs_link, &s);
        if (rc != HK_OK) goto done;
        sd[i].depth++;
        u32vec tmp = sd[i].frontier;
        sd[i].frontier = sd[i].next;
        sd[i].next = tmp;
        if (s.best == ~0u) continue;
        uint32_t u0 = i == 0 ? s.meet_u : s.meet_v;
        uint32_t u1 = i == 0 ? s.meet_v : s.meet_u;
        uint32_t rv[HK_GRAPH_PATH_MAX_LEN + 2], rf[HK_GRAPH_PATH_MAX_LEN + 2];
        uint32_t n0 = sside_trace(&sd[0], u0, rv, rf); /* u0 .. from */
        for (uint32_t k = 0; k <= n0; k++)
            out->v[k] = rv[n0 - k];
        for (uint32_t k = 0; k < n0; k++)
            out->f[k] = rf[n0 - 1 - k];
        out->f[n0] = s.meet_f;
        uint32_t n1 = sside_trace(&sd[1], u1, out->v + n0 + 1, out->f + n0 + 1);
        out->len = n0 + 1 + n1;
        *found = true;
        goto done;
    }
done:
    for (int i = 0; i < 2; i++) {
        hmap_free(&sd[i].seen);
        hk_free(sd[i].frontier.v);
        hk_free(sd[i].next.v);
    }
    return rc;
}

/* ==== Exact spur search ==== */

/* Depth-first search for a path of exactly len hops that uses no vertex
 * and no fact twice, pruned by the distances to `to`. */
typedef struct sdfs {
    const hk_graph_snapshot *g; /* the graph */
    const bans *b;              /* what may not be used */
    const hmap *dist;           /* vertex + 1 -> hops to `to` */
    uint32_t to;                /* last vertex */
    uint32_t len;               /* hops wanted */
    hk_graph_dir dir;           /* direction followed */
    spath *p;                   /* the current path; the answer when found */
    bool found;                 /* a path was found */
} sdfs;

static hk_err sdfs_link(void *ud, uint32_t u, uint32_t v, uint32_t fact,
                        bool *stop)
{
    sdfs *d = ud;
    *stop = d->found;
    spath *p = d->p;
    if (d->found || banned(d->b, u, v, fact)) return HK_OK;
    const hslot *h = hmap_find(d->dist, (uint64_t)v + 1);
    if (!h || p->len + 1 + h->dist > d->len) return HK_OK;
    for (uint32_t i = 0; i <= p->len; i++)
        if (p->v[i] == v || (i < p->len && p->f[i] == fact)) return HK_OK;
    p->v[p->len + 1] = v;
    p->f[p->len] = fact;
    p->len++;
    if (v == d->to) {
        d->found = p->len == d->len;
        if (!d->found) p->len--;
        return HK_OK;
    }
    hk_err rc = snap_links(d->g, v, d->dir, sdfs_link, d);
    if (!d->found) p->len--;
    return rc;
}

typedef struct sdist {
    const bans *b;  /* what may not be used */
    hmap *seen;     /* vertex + 1 -> hops to `to` */
    u32vec *next;   /* the level being reached */
    uint32_t depth; /* distance of the level being expanded */
} sdist;

static hk_err sdist_link(void *ud, uint32_t u, uint32_t v, uint32_t fact,
                         bool *stop)
{
    (void)stop;
    sdist *d = ud;
    if (banned(d->b, v, u, fact) || hmap_find(d->seen, (uint64_t)v + 1) != NULL)
        return HK_OK;
    hslot *h = hmap_put(d->seen, (uint64_t)v + 1);
    if (!h) return HK_ERR_NOMEM;
    h->dist = d->depth + 1;
    return u32vec_push(d->next, v);
}

/* The shortest path spur -> to of min_len..limit hops that uses no vertex
 * and no fact twice and avoids b (for when breadth-first search, which
 * cannot see fact reuse, found only a path using a fact twice). */
static hk_err spur_exact(const hk_graph_snapshot *g, uint32_t spur, uint32_t to,
                         uint32_t min_len, uint32_t limit, hk_graph_dir dir,
                         const bans *b, spath *out, bool *found)
{
    *found = false;
    hmap dist = {0};
    u32vec level = {0}, next = {0};
    hk_err rc = HK_OK;
    if (!hmap_put(&dist, (uint64_t)to + 1) || u32vec_push(&level, to)) {
        rc = HK_ERR_NOMEM;
        goto done;
    }
    sdist dc = {b, &dist, &next, 0};
    for (uint32_t d = 0; d < limit && level.n > 0; d++) {
        dc.depth = d;
        next.n = 0;
        for (size_t j = 0; rc == HK_OK && j < level.n; j++)
            rc = snap_links(g, level.v[j], reverse(dir), sdist_link, &dc);
        if (rc != HK_OK) goto done;
        u32vec tmp = level;
        level = next;
        next = tmp;
    }
    if (!hmap_find(&dist, (uint64_t)spur + 1)) goto done;
    sdfs d = {g, b, &dist, to, 0, dir, out, false};
    for (uint32_t len = min_len; rc == HK_OK && !d.found && len <= limit;
         len++) {
        d.len = len;
        out->len = 0;
        out->v[0] = spur;
        rc = snap_links(g, spur, dir, sdfs_link, &d);
    }
    *found = d.found;
done:
    hmap_free(&dist);
    hk_free(level.v);
    hk_free(next.v);
    return rc;
}

/* ==== k shortest: Yen ==== */

static bool spath_eq(const spath *x, const spath *y)
{
    if (x->len != y->len) return false;
    return memcmp(x->v, y->v, (x->len + 1) * sizeof x->v[0]) == 0 &&
           memcmp(x->f, y->f, x->len * sizeof x->f[0]) == 0;
}

/* No vertex and no fact twice. */
static bool spath_simple(const spath *p)
{
    for (uint32_t i = 0; i <= p->len; i++)
        for (uint32_t j = 0; j < i; j++)
            if (p->v[i] == p->v[j] || (i < p->len && p->f[i] == p->f[j]))
                return false;
    return true;
}

/* Paths A[0..n_a) found so far; candidates B. */
typedef struct yen {
    spath *a;   /* found, shortest first */
    size_t n_a; /* entries in a */
    spath *b;   /* candidates */
    size_t n_b; /* entries in b */
    size_t cap; /* allocated entries of b */
} yen;

static bool yen_has(const yen *y, const spath *p)
{
    for (size_t i = 0; i < y->n_a; i++)
        if (spath_eq(&y->a[i], p)) return true;
    for (size_t i = 0; i < y->n_b; i++)
        if (spath_eq(&y->b[i], p)) return true;
    return false;
}

static hk_err snap_yen(const hk_graph_snapshot *g, uint32_t from, uint32_t to,
                       const hk_graph_path_req *req, yen *y)
{
    bool found = false;
    hk_err rc = snap_shortest(g, from, to, req->max_len, req->filter.dir, NULL,
                              &y->a[0], &found);
    if (rc == HK_OK && found && !spath_simple(&y->a[0]))
        rc = spur_exact(g, from, to, y->a[0].len, req->max_len, req->filter.dir,
                        NULL, &y->a[0], &found);
    if (rc != HK_OK || !found) return rc;
    y->n_a = 1;
    uint64_t *hops = hk_malloc(req->k * sizeof *hops);
    spath *cand = hk_malloc(sizeof *cand);
    if (!hops || !cand) {
        rc = HK_ERR_NOMEM;
        goto done;
    }
    while (y->n_a < req->k) {
        const spath *prev = &y->a[y->n_a - 1];
        for (uint32_t i = 0; rc == HK_OK && i < prev->len; i++) {
            bans b = {prev->v, i, prev->f, i, prev->v[i], hops, 0};
            for (size_t j = 0; j < y->n_a; j++) {
                const spath *p = &y->a[j];
                if (p->len > i &&
                    memcmp(p->v, prev->v, (i + 1) * sizeof p->v[0]) == 0 &&
                    memcmp(p->f, prev->f, i * sizeof p->f[0]) == 0)
                    hops[b.n_hops++] = (uint64_t)p->f[i] << 32 | p->v[i + 1];
            }
            spath sp;
            rc = snap_shortest(g, prev->v[i], to, req->max_len - i,
                               req->filter.dir, &b, &sp, &found);
            if (rc == HK_OK && found && !spath_simple(&sp))
                rc = spur_exact(g, prev->v[i], to, sp.len, req->max_len - i,
                                req->filter.dir, &b, &sp, &found);
            if (rc != HK_OK || !found) continue;
            cand->len = i + sp.len;
            memcpy(cand->v, prev->v, i * sizeof cand->v[0]);
            memcpy(cand->f, prev->f, i * sizeof cand->f[0]);
            memcpy(cand->v + i, sp.v, (sp.len + 1) * sizeof sp.v[0]);
            memcpy(cand->f + i, sp.f, sp.len * sizeof sp.f[0]);
            if (!spath_simple(cand) || yen_has(y, cand)) continue;
            if (y->n_b == y->cap) {
                size_t nc = y->cap ? y->cap * 2 : 16;
                spath *nb = hk_realloc(y->b, nc * sizeof *nb);
                if (!nb) {
                    rc = HK_ERR_NOMEM;
                    break;
                }
                y->b = nb;
                y->cap = nc;
            }
            y->b[y->n_b++] = *cand;
        }
        if (rc != HK_OK || y->n_b == 0) break;
        size_t best = 0;
        for (size_t j = 1; j < y->n_b; j++)
            if (y->b[j].len < y->b[best].len) best = j;
        y->a[y->n_a++] = y->b[best];
        memmove(&y->b[best], &y->b[best + 1],
                (y->n_b - best - 1) * sizeof *y->b);
        y->n_b--;
    }
done:
    hk_free(hops);
    hk_free(cand);
    return rc;
}

/* ==== Entry point ==== */

static hk_err emit(hk_txn *t, const hk_graph_snapshot *g, const spath *p,
                   hk_graph_path_res *res, hk_error *err)
{
    hk_graph_path *np = hk_realloc(res->paths, (res->n_paths + 1) * sizeof *np);
    if (!np) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    res->paths = np;
    hk_graph_path *o = &res->paths[res->n_paths++];
    memset(o, 0, sizeof *o);
    o->length = p->len;
    o->nodes = hk_calloc((size_t)p->len + 1, sizeof *o->nodes);
    o->facts = hk_calloc(p->len ? p->len : 1, sizeof *o->facts);
    if (!o->nodes || !o->facts)
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    for (uint32_t i = 0; i <= p->len; i++) {
        const char *s;
        size_t len;
        hk_err rc = hks_sym_str(t, (uint32_t)g->names[p->v[i]], &s, &len, err);
        if (rc != HK_OK) return rc;
        if (!(o->nodes[i] = hk_strndup(s, len)))
            return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    }
    for (uint32_t i = 0; i < p->len; i++)
        o->facts[i] = p->f[i];
    return HK_OK;
}

/* Vertex of an entity name; *found false when it has none. */
static hk_err name_vertex(hk_txn *t, const hk_graph_snapshot *g,
                          const char *name, uint32_t *v, bool *found,
                          hk_error *err)
{
    *found = false;
    uint32_t sym;
    hk_err rc = hks_sym_id(t, name, strlen(name), &sym, err);
    if (rc == HK_ERR_NOT_FOUND) {
        hk_error_clear(err);
        return HK_OK;
    }
    if (rc != HK_OK) return rc;
    if (sym > g->sym_max || g->vidx[sym] == 0) return HK_OK;
    *v = g->vidx[sym] - 1;
    *found = true;
    return HK_OK;
}

hk_err hk_graph_paths_snapshot(hk_txn *t, const hk_graph_snapshot *snap,
                               const hk_graph_path_req *req,
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
    if (!snap->facts || !snap->in_offsets || !snap->vidx)
        return hk_error_set(err, HK_ERR_UNSUPPORTED,
                            "the snapshot has no path index");
    uint32_t from = 0, to = 0;
    bool has_from, has_to;
    hk_err rc = name_vertex(t, snap, req->from, &from, &has_from, err);
    if (rc == HK_OK) rc = name_vertex(t, snap, req->to, &to, &has_to, err);
    if (rc != HK_OK) return rc;
    if (has_from && has_to && from == to) {
        spath p = {0};
        p.v[0] = from;
        rc = emit(t, snap, &p, res, err);
    } else if (has_from && has_to) {
        yen y = {0};
        y.a = hk_malloc(req->k * sizeof *y.a);
        if (!y.a) rc = HK_ERR_NOMEM;
        if (rc == HK_OK) rc = snap_yen(snap, from, to, req, &y);
        for (size_t i = 0; rc == HK_OK && i < y.n_a; i++)
            rc = emit(t, snap, &y.a[i], res, err);
        hk_free(y.a);
        hk_free(y.b);
    }
    if (rc == HK_ERR_NOMEM && err->code != HK_ERR_NOMEM)
        hk_error_set(err, rc, "out of memory");
    if (rc != HK_OK) hk_graph_path_res_free(res);
    return rc;
}

/* ==== Cache ==== */

struct hk_graph_snapref {
    hk_graph_snapshot snap; /* indexed */
    unsigned refs;          /* the cache's reference + the callers' */
    uint64_t audit_len;     /* audit entries of the state it shows */
    uint8_t head[32];       /* hash of the newest audit entry */
    uint64_t last_fact_id;  /* highest fact id of that state */
    uint32_t sym_max;       /* highest symbol id of that state */
};

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static hk_graph_snapref *cache_cur; /* guarded by cache_mu */

void hk_graph_snapshot_release(hk_graph_snapref *ref)
{
    if (!ref) return;
    pthread_mutex_lock(&cache_mu);
    bool last = --ref->refs == 0;
    pthread_mutex_unlock(&cache_mu);
    if (!last) return;
    hk_graph_snapshot_free(&ref->snap);
    hk_free(ref);
}

void hk_graph_snapshot_cache_clear(void)
{
    pthread_mutex_lock(&cache_mu);
    hk_graph_snapref *old = cache_cur;
    cache_cur = NULL;
    pthread_mutex_unlock(&cache_mu);
    hk_graph_snapshot_release(old);
}

/* The key of the state t sees. */
static hk_err state_key(hk_txn *t, hk_graph_snapref *k, hk_error *err)
{
    hk_stats st;
    hk_err rc = hk_store_stats(t, &st, err);
    if (rc == HK_OK) rc = hks_sym_max(t, &k->sym_max, err);
    if (rc != HK_OK) return rc;
    k->audit_len = st.audit_entries;
    k->last_fact_id = st.last_fact_id;
    memset(k->head, 0, sizeof k->head);
    if (st.audit_entries == 0) return HK_OK;
    hk_audit_entry *v = NULL;
    size_t n = 0;
    rc = hk_audit_list(t, 0, 1, &v, &n, err);
    if (rc == HK_OK && n == 1) memcpy(k->head, v[0].hash, sizeof k->head);
    hk_audit_entries_free(v, n);
    return rc;
}

static bool same_state(const hk_graph_snapref *a, const hk_graph_snapref *b)
{
    return a->audit_len == b->audit_len && a->last_fact_id == b->last_fact_id &&
           a->sym_max == b->sym_max &&
           memcmp(a->head, b->head, sizeof a->head) == 0;
}

hk_err hk_graph_snapshot_acquire(hk_txn *t, bool build, hk_graph_snapref **ref,
                                 const hk_graph_snapshot **snap, hk_error *err)
{
    *ref = NULL;
    *snap = NULL;
    hk_graph_snapref key;
    memset(&key, 0, sizeof key);
    hk_err rc = state_key(t, &key, err);
    if (rc != HK_OK) return rc;
    pthread_mutex_lock(&cache_mu);
    if (cache_cur && same_state(cache_cur, &key)) {
        cache_cur->refs++;
        *ref = cache_cur;
    }
    pthread_mutex_unlock(&cache_mu);
    if (*ref || !build) {
        if (*ref) *snap = &(*ref)->snap;
        return HK_OK;
    }
    hk_graph_snapref *r = hk_calloc(1, sizeof *r);
    if (!r) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    *r = key;
    rc = hk_graph_snapshot_build(t, &r->snap, NULL, NULL, err);
    if (rc == HK_OK) rc = hk_graph_snapshot_index(&r->snap, err);
    if (rc == HK_OK && !r->snap.facts)
        rc = hk_error_set(err, HK_ERR_UNSUPPORTED,
                          "fact ids beyond 32 bits: no path index");
    if (rc != HK_OK) {
        hk_graph_snapshot_free(&r->snap);
        hk_free(r);
        return rc;
    }
    r->refs = 2; /* the cache's and the caller's */
    pthread_mutex_lock(&cache_mu);
    hk_graph_snapref *old = cache_cur;
    cache_cur = r;
    pthread_mutex_unlock(&cache_mu);
    hk_graph_snapshot_release(old);
    *ref = r;
    *snap = &r->snap;
    return HK_OK;
}
