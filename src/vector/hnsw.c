/*
 * hnsw.c — a hierarchical navigable small world graph (Malkov & Yashunin)
 * over vectors keyed by 64-bit ids.
 *
 * Design:
 *   - Nodes live in one growing array and are named by their index
 *     (uint32). Each node holds its vector (float32, or int8 plus a scale),
 *     its squared norm and its links: level 0 has room for 2*M neighbours,
 *     each upper level for M. A node's level is drawn from an exponential
 *     distribution with mean 1/ln(M) (a seeded xorshift, so builds repeat).
 *   - Cosine vectors are normalised on insert, so cosine is 1 - dot.
 *   - int8: each vector is scaled by 127/max|x| and rounded; a . b is
 *     recovered as sa*sb*(qa . qb). The query is quantised the same way.
 *     With a fetch function, the ef candidates are re-ranked with exact
 *     float distances before the k best are returned.
 *   - Neighbours are chosen with the diversity heuristic (keep a candidate
 *     only if it is nearer to the new node than to every neighbour kept so
 *     far), both when linking a new node and when a full neighbour list
 *     must shrink; the nearest rejected candidates then fill a new node's
 *     list to M links on every level (at level 0 the other M of its room
 *     is for back-links of later nodes: HNSW_NEW_LINKS0) and a shrunk
 *     list to three quarters (link_to).
 *   - A layer walk takes a node's unvisited neighbours first, then their
 *     distances four at a time (dist_many: the dot4 kernel, bitwise the
 *     single dot, with the next vectors prefetched), since at large N the
 *     walk waits on memory, not on arithmetic.
 *   - Deletion marks the node: it stays a waypoint for traversal but never
 *     enters a result, so recall holds without a rebuild. Re-adding an id
 *     marks the old node and adds a new one.
 *   - Filters: a search restricted to a sorted id set traverses the whole
 *     graph but keeps only members in its result list; when the set is
 *     small (exact_below) an exact scan of the members answers instead,
 *     because a graph walk finds too few members of a rare set.
 *
 *   - Parallel build (hkv_index_add_batch): the batch's nodes are made
 *     first, one thread after the other (levels drawn in order, ids
 *     mapped), then threads link them. While they do, each link list is
 *     read and written under one of HNSW_LOCK_STRIPES mutexes (a copy is
 *     taken for reading), and a node rising above the top level holds the
 *     global lock until it is linked (as hnswlib does). Outside a build
 *     no lock is taken.
 *
 * Threads: searches only read the index (they borrow scratch areas from a
 * small mutex-protected free list), so any number may run at once while
 * no add, delete or batch runs.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/mem.h"
#include "vector/vector.h"
#include "vector/vector_int.h"

/* Highest level a node may get (a bound for the level draw). */
#define HNSW_LEVEL_MAX 16u

/* A full neighbour list that takes a new link is refilled to this many
 * links after the heuristic's choice (see link_to); a benchmark may
 * compile another, e.g. (max) for lists kept full. */
#ifndef HNSW_PRUNE_FILL
#define HNSW_PRUNE_FILL(max) ((max) - (max) / 4u)
#endif

/* Links a new node takes at level 0, of the m0 = 2M its list holds; the
 * rest of the room is for back-links of later nodes. M, as hnswlib: a new
 * node with 2M links made twice the back-links, and so twice the prunes
 * of full lists, for a little recall per ef (at 100k, 0.985 against
 * 0.975 at ef 64, hnswlib 0.973) and the build took ~1.25x the CPU
 * (bench/RESULTS.md, "New nodes take M links"). A benchmark may compile
 * another, e.g. (m0) for the old policy. */
#ifndef HNSW_NEW_LINKS0
#define HNSW_NEW_LINKS0(m, m0) (m)
#endif

/* ==== Id map ==== */

/* Open addressing with linear probing over node indexes only: a slot's
 * key is the id of the node it names, so the map costs 4 bytes a slot
 * (int8 storage counts every byte beside its codes). The map never holds
 * more than half its slots. */
#define MAP_NONE UINT32_MAX

static uint32_t map_slot(const hkv_index *ix, uint64_t id)
{
    uint64_t h = (id + 1) * 0x9E3779B97F4A7C15ull;
    return (uint32_t)(h >> 32) & (ix->map_cap - 1);
}

/* Node index of id, or UINT32_MAX. */
static uint32_t map_find(const hkv_index *ix, uint64_t id)
{
    if (!ix->map_cap) return MAP_NONE;
    for (uint32_t i = map_slot(ix, id), n = 0; n < ix->map_cap;
         i = (i + 1) & (ix->map_cap - 1), n++) {
        uint32_t v = ix->map_vals[i];
        if (v == MAP_NONE) return MAP_NONE;
        if (ix->nodes[v].id == id) return v;
    }
    return MAP_NONE;
}

/* Points id at node (ix->nodes[node].id == id), replacing the node it
 * named. There must be room (map_reserve). */
static void map_put(hkv_index *ix, uint32_t node)
{
    uint64_t id = ix->nodes[node].id;
    uint32_t i = map_slot(ix, id);
    while (ix->map_vals[i] != MAP_NONE && ix->nodes[ix->map_vals[i]].id != id)
        i = (i + 1) & (ix->map_cap - 1);
    if (ix->map_vals[i] == MAP_NONE) ix->map_used++;
    ix->map_vals[i] = node;
}

/* A map of cap slots (a power of two), all empty. */
static uint32_t *map_alloc(uint32_t cap)
{
    uint32_t *v = hk_malloc((size_t)cap * sizeof *v);
    if (v) memset(v, 0xFF, (size_t)cap * sizeof *v);
    return v;
}

/* Makes room for n more ids (doubling and rehashing when needed). */
static hk_err map_reserve(hkv_index *ix, size_t n)
{
    uint64_t want = 2 * ((uint64_t)ix->map_used + n);
    if (want <= ix->map_cap) return HK_OK;
    uint64_t cap = ix->map_cap ? ix->map_cap : 1024;
    while (cap < want)
        cap *= 2;
    if (cap > ((uint64_t)1 << 31)) return HK_ERR_LIMIT;
    uint32_t *vals = map_alloc((uint32_t)cap);
    if (!vals) return HK_ERR_NOMEM;
    uint32_t *ov = ix->map_vals, ocap = ix->map_cap;
    ix->map_vals = vals;
    ix->map_cap = (uint32_t)cap;
    ix->map_used = 0;
    for (uint32_t i = 0; i < ocap; i++)
        if (ov[i] != MAP_NONE) map_put(ix, ov[i]);
    hk_free(ov);
    return HK_OK;
}

/* Takes id out of the map (backward-shift deletion: no tombstones). */
static void map_remove(hkv_index *ix, uint64_t id)
{
    if (!ix->map_cap) return;
    uint32_t mask = ix->map_cap - 1, i = map_slot(ix, id), n = 0;
    for (; n < ix->map_cap; i = (i + 1) & mask, n++) {
        if (ix->map_vals[i] == MAP_NONE) return;
        if (ix->nodes[ix->map_vals[i]].id == id) break;
    }
    if (n == ix->map_cap) return;
    /* move later entries of the run back over the hole when their home
     * slot does not lie cyclically in (hole, j] */
    for (uint32_t j = (i + 1) & mask, k = 0;
         k < ix->map_cap && ix->map_vals[j] != MAP_NONE;
         j = (j + 1) & mask, k++) {
        uint32_t home = map_slot(ix, ix->nodes[ix->map_vals[j]].id);
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            ix->map_vals[i] = ix->map_vals[j];
            i = j;
        }
    }
    ix->map_vals[i] = MAP_NONE;
    ix->map_used--;
}

/* ==== Vectors and distances ==== */

/* A vector prepared for distance computations against nodes. */
typedef struct hnsw_query {
    const float *f; /* float32 form (normalised for cosine) */
    int8_t *q;      /* int8 codes (int8 indexes), else NULL */
    float scale;    /* int8 scale */
    float norm2;    /* squared norm */
} hnsw_query;

static uint32_t *node_links(const hkv_index *ix, const hnsw_node *n,
                            uint32_t level)
{
    uint32_t *l = hnsw_links(ix, n);
    if (level == 0) return l;
    return l + (1 + ix->m0) + (size_t)(level - 1) * (1 + ix->p.m);
}

static float quantise(const float *v, uint32_t dim, int8_t *out)
{
    float mx = 0;
    for (uint32_t i = 0; i < dim; i++)
        if (fabsf(v[i]) > mx) mx = fabsf(v[i]);
    float scale = mx > 0 ? mx / 127.0f : 1.0f;
    for (uint32_t i = 0; i < dim; i++) {
        float r = roundf(v[i] / scale);
        out[i] = (int8_t)(r > 127 ? 127 : r < -127 ? -127 : r);
    }
    return scale;
}

/* Distance from a dot product and squared norms by the metric. */
static float from_dot(hkv_metric m, float dot, float na2, float nb2)
{
    switch (m) {
    case HKV_COSINE:
        return 1.0f - dot;
    case HKV_DOT:
        return -dot;
    case HKV_L2:
        break;
    }
    float d = na2 + nb2 - 2.0f * dot;
    return d < 0 ? 0 : d;
}

static float dist_qn(const hkv_index *ix, const hnsw_query *q,
                     const hnsw_node *n)
{
    if (ix->p.quant == HKV_I8) {
        float dot = (float)ix->k->dot_i8(q->q, hnsw_vec(n), ix->p.dim) *
                    q->scale * n->scale;
        return from_dot(ix->p.metric, dot, q->norm2, n->norm2);
    }
    const float *v = hnsw_vec(n);
    if (ix->p.metric == HKV_L2) return ix->k->l2sq(q->f, v, ix->p.dim);
    return from_dot(ix->p.metric, ix->k->dot(q->f, v, ix->p.dim), 0, 0);
}

static float dist_nn(const hkv_index *ix, const hnsw_node *a,
                     const hnsw_node *b)
{
    hnsw_query q = {hnsw_vec(a), hnsw_vec(a), a->scale, a->norm2};
    return dist_qn(ix, &q, b);
}

/* Exact float distance of q to v (both prepared: cosine normalised). */
static float dist_float(const hkv_index *ix, const float *q, const float *v)
{
    if (ix->p.metric == HKV_L2) return ix->k->l2sq(q, v, ix->p.dim);
    return from_dot(ix->p.metric, ix->k->dot(q, v, ix->p.dim), 0, 0);
}

/* Checks v and writes its prepared float form into out (dim floats). */
static hk_err prepare(const hkv_index *ix, const float *v, float *out,
                      float *norm2, hk_error *err)
{
    double n2 = 0;
    for (uint32_t i = 0; i < ix->p.dim; i++) {
        if (!isfinite(v[i]))
            return hk_error_set(err, HK_ERR_INVALID,
                                "vector value %u is not a finite number", i);
        n2 += (double)v[i] * v[i];
    }
    memcpy(out, v, ix->p.dim * sizeof *out);
    if (ix->p.metric == HKV_COSINE) {
        if (n2 == 0)
            return hk_error_set(err, HK_ERR_INVALID,
                                "a zero vector has no cosine distance");
        float inv = (float)(1.0 / sqrt(n2));
        for (uint32_t i = 0; i < ix->p.dim; i++)
            out[i] *= inv;
        n2 = 1;
    }
    *norm2 = (float)n2;
    return HK_OK;
}

/* ==== Heaps of (distance, node) ==== */

typedef struct hnsw_cand {
    float d;    /* distance to the query */
    uint32_t n; /* node index */
} hnsw_cand;

typedef struct hnsw_heap {
    hnsw_cand *a; /* entries */
    size_t n;     /* used */
    size_t cap;   /* allocated */
    int max;      /* 1: largest distance on top; 0: smallest */
} hnsw_heap;

static int heap_before(const hnsw_heap *h, size_t i, size_t j)
{
    return h->max ? h->a[i].d > h->a[j].d : h->a[i].d < h->a[j].d;
}

static hk_err heap_push(hnsw_heap *h, float d, uint32_t n)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        hnsw_cand *a = hk_realloc(h->a, cap * sizeof *a);
        if (!a) return HK_ERR_NOMEM;
        h->a = a;
        h->cap = cap;
    }
    size_t i = h->n++;
    h->a[i] = (hnsw_cand){d, n};
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!heap_before(h, i, p)) break;
        hnsw_cand t = h->a[i];
        h->a[i] = h->a[p];
        h->a[p] = t;
        i = p;
    }
    return HK_OK;
}

static hnsw_cand heap_pop(hnsw_heap *h)
{
    hnsw_cand top = h->a[0];
    h->a[0] = h->a[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, b = i;
        if (l < h->n && heap_before(h, l, b)) b = l;
        if (r < h->n && heap_before(h, r, b)) b = r;
        if (b == i) break;
        hnsw_cand t = h->a[i];
        h->a[i] = h->a[b];
        h->a[b] = t;
        i = b;
    }
    return top;
}

static int cand_cmp(const void *a, const void *b)
{
    const hnsw_cand *x = a, *y = b;
    if (x->d < y->d) return -1;
    if (x->d > y->d) return 1;
    return x->n < y->n ? -1 : x->n > y->n;
}

/* ==== Scratch areas ==== */

/* Scratch of one search or insert. A node is visited when its mark equals
 * the epoch, so a new walk costs one increment instead of clearing. Marks
 * are 16-bit (cleared once every 65535 walks): at 500k nodes a thread's
 * marks take 1 MB instead of 2, and each search touches marks at random,
 * so the smaller array keeps more of them in the cache beside the other
 * thread's. */
struct hnsw_scratch {
    uint16_t *mark;  /* per node: epoch of the last visit */
    uint32_t cap;    /* entries of mark */
    uint16_t epoch;  /* current walk */
    hnsw_heap cand;  /* to expand, nearest first */
    hnsw_heap res;   /* kept, farthest on top */
    uint32_t *lbuf;  /* copy of one link list (parallel build) */
    uint32_t *prev;  /* entry points handed to the next level */
    size_t prev_cap; /* entries of prev */
    float *qf;       /* a search's prepared query (dim floats) */
    int8_t *qcodes;  /* its int8 codes (dim) */
};

static void scratch_free(hnsw_scratch *sc)
{
    if (!sc) return;
    hk_free(sc->mark);
    hk_free(sc->cand.a);
    hk_free(sc->res.a);
    hk_free(sc->lbuf);
    hk_free(sc->prev);
    hk_free(sc->qf);
    hk_free(sc->qcodes);
    hk_free(sc);
}

/* A scratch area with room for n_nodes nodes: an idle one of the index or
 * a new one; NULL when out of memory. Give it back with scratch_put. */
static hnsw_scratch *scratch_get(const hkv_index *cix, uint32_t n_nodes)
{
    hkv_index *ix = (hkv_index *)cix; /* only the free list changes */
    hnsw_scratch *sc = NULL;
    pthread_mutex_lock(&ix->sc_lock);
    if (ix->n_sc) sc = ix->sc_free[--ix->n_sc];
    pthread_mutex_unlock(&ix->sc_lock);
    if (!sc) {
        sc = hk_calloc(1, sizeof *sc);
        if (!sc) return NULL;
        sc->res.max = 1;
        sc->lbuf = hk_malloc((1u + ix->m0) * sizeof *sc->lbuf);
        sc->qf = hk_malloc(ix->p.dim * sizeof *sc->qf);
        sc->qcodes = hk_malloc(ix->p.dim);
        if (!sc->lbuf || !sc->qf || !sc->qcodes) goto fail;
    }
    if (sc->cap < n_nodes) {
        uint32_t cap = n_nodes + n_nodes / 4 + 64;
        uint16_t *m = hk_calloc(cap, sizeof *m);
        if (!m) goto fail;
        hk_free(sc->mark);
        sc->mark = m;
        sc->cap = cap;
        sc->epoch = 0;
    }
    return sc;
fail:
    scratch_free(sc);
    return NULL;
}

static void scratch_put(const hkv_index *cix, hnsw_scratch *sc)
{
    hkv_index *ix = (hkv_index *)cix;
    pthread_mutex_lock(&ix->sc_lock);
    if (ix->n_sc < HNSW_SCRATCH_KEEP) {
        ix->sc_free[ix->n_sc++] = sc;
        sc = NULL;
    }
    pthread_mutex_unlock(&ix->sc_lock);
    scratch_free(sc);
}

/* Starts a new walk: every node unvisited. */
static void scratch_walk(hnsw_scratch *sc)
{
    if (++sc->epoch == 0) {
        memset(sc->mark, 0, (size_t)sc->cap * sizeof *sc->mark);
        sc->epoch = 1;
    }
    sc->cand.n = sc->res.n = 0;
}

/* ==== Links under concurrency ==== */

static pthread_mutex_t *stripe(const hkv_index *ix, uint32_t n)
{
    return &ix->locks[n & (HNSW_LOCK_STRIPES - 1)];
}

/* The link list of node n at level: the list itself, or during a parallel
 * build a copy taken under the node's lock (into buf). */
static const uint32_t *links_read(const hkv_index *ix, uint32_t n,
                                  uint32_t level, uint32_t *buf)
{
    const uint32_t *l = node_links(ix, &ix->nodes[n], level);
    if (!ix->locks) return l;
    pthread_mutex_lock(stripe(ix, n));
    memcpy(buf, l, (1u + l[0]) * sizeof *buf);
    pthread_mutex_unlock(stripe(ix, n));
    return buf;
}

/* ==== Search in one layer ==== */

/* Asks the CPU to start loading the first cache lines of n's vector. */
static inline void prefetch_vec(const hkv_index *ix, const hnsw_node *n)
{
    const char *v = hnsw_vec(n);
    size_t bytes = ix->p.quant == HKV_I8 ? ix->p.dim : ix->p.dim * 4u;
    for (size_t off = 0; off < bytes && off < 256; off += 64)
        __builtin_prefetch(v + off);
}

/* Distances of q to the nodes nb[0..n) into d, equal to dist_qn's.
 * Float vectors go four at a time through the dot4 kernel, the next four
 * prefetched meanwhile: at large N every vector is a cache miss, and four
 * streams in flight wait on memory once where one at a time waits four
 * times (hnswlib prefetches one ahead; this keeps four to eight). */
static void dist_many(const hkv_index *ix, const hnsw_query *q,
                      const uint32_t *nb, uint32_t n, float *d)
{
    uint32_t i = 0;
    if (ix->p.quant == HKV_F32 && ix->p.metric != HKV_L2) {
        for (uint32_t j = 0; j < 4 && j < n; j++)
            prefetch_vec(ix, &ix->nodes[nb[j]]);
        for (; i + 4 <= n; i += 4) {
            for (uint32_t j = i + 4; j < i + 8 && j < n; j++)
                prefetch_vec(ix, &ix->nodes[nb[j]]);
            const float *b[4];
            float dots[4];
            for (uint32_t k = 0; k < 4; k++)
                b[k] = hnsw_vec(&ix->nodes[nb[i + k]]);
            ix->k->dot4(q->f, b, ix->p.dim, dots);
            for (uint32_t k = 0; k < 4; k++)
                d[i + k] = from_dot(ix->p.metric, dots[k], 0, 0);
        }
    }
    for (; i < n; i++) {
        if (i + 1 < n) prefetch_vec(ix, &ix->nodes[nb[i + 1]]);
        d[i] = dist_qn(ix, q, &ix->nodes[nb[i]]);
    }
}

/* Keeps only members of the filter (NULL: all) in the results. */
static bool allowed(const hkv_index *ix, uint32_t n, const hkv_filter *f)
{
    const hnsw_node *nd = &ix->nodes[n];
    if (nd->dead) return false;
    if (!f) return true;
    size_t lo = 0, hi = f->n_ids;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (f->ids[mid] < nd->id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < f->n_ids && f->ids[lo] == nd->id;
}

/* The ef nearest nodes to q at level from the entry points, left in
 * sc->res. With keep_all the result may hold dead and filtered nodes
 * (inserts link through them); without it only nodes passing `allowed`
 * enter the result. */
static hk_err search_layer(const hkv_index *ix, const hnsw_query *q,
                           uint32_t ef, uint32_t level, bool keep_all,
                           const hkv_filter *f, hnsw_scratch *sc,
                           const uint32_t *entries, size_t n_entries)
{
    hk_err e;
    scratch_walk(sc);
    for (size_t i = 0; i < n_entries; i++) {
        uint32_t ep = entries[i];
        if (sc->mark[ep] == sc->epoch) continue;
        float d = dist_qn(ix, q, &ix->nodes[ep]);
        sc->mark[ep] = sc->epoch;
        if ((e = heap_push(&sc->cand, d, ep))) return e;
        if (keep_all || allowed(ix, ep, f))
            if ((e = heap_push(&sc->res, d, ep))) return e;
    }
    while (sc->cand.n) {
        hnsw_cand c = heap_pop(&sc->cand);
        if (sc->res.n >= ef && c.d > sc->res.a[0].d) break;
        /* the next candidate's links lie past its vector, which its
         * distance read but not them: start loading them now */
        if (sc->cand.n) {
            const char *nl = (const char *)node_links(
                ix, &ix->nodes[sc->cand.a[0].n], level);
            __builtin_prefetch(nl);
            __builtin_prefetch(nl + 64);
        }
        const uint32_t *l = links_read(ix, c.n, level, sc->lbuf);
        /* the neighbours' nodes and visit marks, then each next vector,
         * are fetched ahead: at large N every one is a cache miss */
        for (uint32_t i = 0; i < l[0]; i++) {
            __builtin_prefetch(&ix->nodes[l[1 + i]]);
            __builtin_prefetch(&sc->mark[l[1 + i]]);
        }
        /* the unvisited ones first, then their distances in one go */
        uint32_t nb_new[2 * HKV_M_MAX], n_new = 0;
        float d_new[2 * HKV_M_MAX];
        for (uint32_t i = 0; i < l[0]; i++) {
            uint32_t nb = l[1 + i];
            if (sc->mark[nb] == sc->epoch) continue;
            sc->mark[nb] = sc->epoch;
            nb_new[n_new++] = nb;
        }
        dist_many(ix, q, nb_new, n_new, d_new);
        for (uint32_t i = 0; i < n_new; i++) {
            uint32_t nb = nb_new[i];
            float d = d_new[i];
            if (sc->res.n < ef || d < sc->res.a[0].d) {
                if ((e = heap_push(&sc->cand, d, nb))) return e;
                if (keep_all || allowed(ix, nb, f)) {
                    if ((e = heap_push(&sc->res, d, nb))) return e;
                    if (sc->res.n > ef) heap_pop(&sc->res);
                }
            }
        }
    }
    return HK_OK;
}

/* Greedy walk at one level from *cur toward q. */
static void greedy(const hkv_index *ix, const hnsw_query *q, uint32_t level,
                   uint32_t *cur, float *cur_d, uint32_t *buf)
{
    for (bool moved = true; moved;) {
        moved = false;
        const uint32_t *l = links_read(ix, *cur, level, buf);
        uint32_t best = *cur;
        float dl[HKV_M_MAX];
        dist_many(ix, q, l + 1, l[0], dl);
        for (uint32_t i = 0; i < l[0]; i++) {
            float d = dl[i];
            if (d < *cur_d) {
                *cur_d = d;
                best = l[1 + i];
                moved = true;
            }
        }
        *cur = best;
    }
}

/* ==== Neighbour selection ==== */

/* Selects at most max of the n candidates c (sorted nearest first) with
 * the diversity heuristic into out; returns how many. Then fills up to
 * fill (at most max) with the nearest rejected ones, so that lists do not
 * run short: the fuller graph is what gives more recall per ef than the
 * heuristic alone (hnswlib's policy). */
static uint32_t select_neighbours(const hkv_index *ix, const hnsw_cand *c,
                                  size_t n, uint32_t max, uint32_t fill,
                                  uint32_t *out)
{
    uint32_t kept = 0;
    for (size_t i = 0; i < n && kept < max; i++) {
        bool good = true;
        for (uint32_t j = 0; j < kept; j++) {
            float d = dist_nn(ix, &ix->nodes[c[i].n], &ix->nodes[out[j]]);
            if (d < c[i].d) {
                good = false;
                break;
            }
        }
        if (good) out[kept++] = c[i].n;
    }
    for (size_t i = 0; i < n && kept < fill; i++) {
        bool in = false;
        for (uint32_t j = 0; j < kept && !in; j++)
            in = out[j] == c[i].n;
        if (!in) out[kept++] = c[i].n;
    }
    return kept;
}

/* Adds a link from node a to b at level, shrinking a's list with the
 * heuristic when it is full (under a's lock during a parallel build).
 * The shrunk list is refilled to HNSW_PRUNE_FILL, not to the brim: a list
 * kept full re-ran the heuristic (33 candidates, up to 32 distances each)
 * for every back-link a new node made to it, a third of a build's CPU;
 * with a quarter left free the next few back-links append, and a build
 * takes 0.72-0.78x the CPU for a little recall per ef (bench/RESULTS.md,
 * "Build rate beside hnswlib"). */
static hk_err link_to(hkv_index *ix, uint32_t a, uint32_t b, uint32_t level)
{
    hk_err e = HK_OK;
    if (ix->locks) pthread_mutex_lock(stripe(ix, a));
    uint32_t *l = node_links(ix, &ix->nodes[a], level);
    uint32_t max = level == 0 ? ix->m0 : ix->p.m;
    for (uint32_t i = 0; i < l[0]; i++)
        if (l[1 + i] == b) goto out;
    if (l[0] < max) {
        l[1 + l[0]++] = b;
        goto out;
    }
    /* on the stack: a full list is the common case of a build, once per
     * new link, and the candidates are at most 2 * HKV_M_MAX + 1 */
    hnsw_cand c[2 * HKV_M_MAX + 1];
    const hnsw_node *na = &ix->nodes[a];
    hnsw_query qa = {hnsw_vec(na), hnsw_vec(na), na->scale, na->norm2};
    uint32_t ids[2 * HKV_M_MAX + 1];
    float d[2 * HKV_M_MAX + 1];
    memcpy(ids, l + 1, max * sizeof *ids);
    ids[max] = b;
    dist_many(ix, &qa, ids, max + 1, d);
    for (uint32_t i = 0; i <= max; i++)
        c[i] = (hnsw_cand){d[i], ids[i]};
    qsort(c, max + 1, sizeof *c, cand_cmp);
    l[0] = select_neighbours(ix, c, max + 1, max, HNSW_PRUNE_FILL(max), l + 1);
out:
    if (ix->locks) pthread_mutex_unlock(stripe(ix, a));
    return e;
}

/* Sets node me's list at level to the sel[0..n) chosen for it. During a
 * parallel build others may have linked to me already: their links are
 * kept while there is room. */
static void links_set(hkv_index *ix, uint32_t me, uint32_t level,
                      const uint32_t *sel, uint32_t n)
{
    uint32_t max = level == 0 ? ix->m0 : ix->p.m;
    if (ix->locks) pthread_mutex_lock(stripe(ix, me));
    uint32_t *l = node_links(ix, &ix->nodes[me], level);
    uint32_t old_n = l[0], old[1 + 2 * HKV_M_MAX];
    memcpy(old, l + 1, old_n * sizeof *old);
    memcpy(l + 1, sel, n * sizeof *sel);
    l[0] = n;
    for (uint32_t i = 0; i < old_n && l[0] < max; i++) {
        bool in = false;
        for (uint32_t j = 0; j < n && !in; j++)
            in = sel[j] == old[i];
        if (!in) l[1 + l[0]++] = old[i];
    }
    if (ix->locks) pthread_mutex_unlock(stripe(ix, me));
}

/* ==== Life cycle ==== */

hk_err hnsw_check_params(hkv_params *q, hk_error *err)
{
    if (q->dim == 0 || q->dim > HKV_DIM_MAX) {
        hk_error_set(err, HK_ERR_INVALID, "dimension %u is not in 1..%u",
                     q->dim, HKV_DIM_MAX);
        if (err) snprintf(err->field, sizeof err->field, "dim");
        return HK_ERR_INVALID;
    }
    if (q->metric != HKV_COSINE && q->metric != HKV_DOT && q->metric != HKV_L2)
        return hk_error_set(err, HK_ERR_INVALID, "unknown metric %d",
                            (int)q->metric);
    if (q->quant != HKV_F32 && q->quant != HKV_I8)
        return hk_error_set(err, HK_ERR_INVALID, "unknown storage %d",
                            (int)q->quant);
    if (!q->m) q->m = HKV_M_DEFAULT;
    if (!q->ef_construction) q->ef_construction = HKV_EF_CONSTRUCTION_DEFAULT;
    if (!q->ef) q->ef = HKV_EF_DEFAULT;
    if (q->m < 2 || q->m > HKV_M_MAX || q->ef_construction > HKV_EF_MAX ||
        q->ef > HKV_EF_MAX)
        return hk_error_set(err, HK_ERR_INVALID,
                            "m must be 2..%u and ef, ef_construction at "
                            "most %u",
                            HKV_M_MAX, HKV_EF_MAX);
    return HK_OK;
}

void hnsw_init(hkv_index *ix, const hkv_params *p)
{
    memset(ix, 0, sizeof *ix);
    ix->p = *p;
    ix->m0 = 2 * p->m;
    ix->vstride = p->quant == HKV_I8 ? (p->dim + 3u) & ~3u : p->dim * 4u;
    ix->level_mult = 1.0 / log((double)p->m);
    ix->rng = 0x2545F4914F6CDD1Dull;
    ix->k = hkv_kernels_get();
    pthread_mutex_init(&ix->sc_lock, NULL);
}

hk_err hkv_index_new(const hkv_params *p, hkv_index **out, hk_error *err)
{
    hkv_params q = *p;
    hk_err e;
    *out = NULL;
    if ((e = hnsw_check_params(&q, err))) return e;
    hkv_index *ix = hk_malloc(sizeof *ix);
    if (!ix) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    hnsw_init(ix, &q);
    *out = ix;
    return HK_OK;
}

void hkv_index_free(hkv_index *ix)
{
    if (!ix) return;
    hnsw_pin_join(ix); /* it works on the arena */
    for (uint32_t i = 0; i < ix->n_nodes; i++)
        if (!hnsw_in_arena(ix, ix->nodes[i].data)) hk_free(ix->nodes[i].data);
    if (ix->arena_mapped)
        munmap(ix->arena, ix->arena_len);
    else
        hk_free(ix->arena);
    for (uint32_t i = 0; i < ix->n_sc; i++)
        scratch_free(ix->sc_free[i]);
    pthread_mutex_destroy(&ix->sc_lock);
    hk_free(ix->nodes);
    hk_free(ix->map_vals);
    hk_free(ix);
}

uint64_t hkv_index_count(const hkv_index *ix)
{
    return ix->n_live;
}

bool hkv_index_contains(const hkv_index *ix, uint64_t id)
{
    uint32_t n = map_find(ix, id);
    return n != UINT32_MAX && !ix->nodes[n].dead;
}

uint64_t hkv_index_bytes(const hkv_index *ix)
{
    uint64_t b = sizeof *ix + (uint64_t)ix->cap_nodes * sizeof(hnsw_node) +
                 (uint64_t)ix->map_cap * sizeof(uint32_t);
    for (uint32_t i = 0; i < ix->n_nodes; i++)
        b += ix->vstride +
             hnsw_link_words(ix, ix->nodes[i].level) * sizeof(uint32_t);
    return b;
}

hk_err hnsw_map_rebuild(hkv_index *ix)
{
    hk_free(ix->map_vals);
    ix->map_vals = NULL;
    ix->map_cap = ix->map_used = 0;
    /* sized once for every node: no doubling and rehashing on the way */
    if (map_reserve(ix, (size_t)ix->n_nodes + 1)) return HK_ERR_NOMEM;
    for (uint32_t i = 0; i < ix->n_nodes; i++)
        map_put(ix, i);
    return HK_OK;
}

/* ==== Insert and delete ==== */

static uint32_t draw_level(hkv_index *ix)
{
    uint64_t x = ix->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    ix->rng = x;
    double u = ((double)(x >> 11) + 1.0) / 9007199254740993.0;
    double l = -log(u) * ix->level_mult;
    return l >= HNSW_LEVEL_MAX ? HNSW_LEVEL_MAX : (uint32_t)l;
}

/* Fills node nd (zeroed) with id, a drawn level, its empty link lists and
 * the stored form of v. On failure nd holds nothing. */
static hk_err node_make(hkv_index *ix, hnsw_node *nd, uint64_t id,
                        const float *v, uint32_t level, hk_error *err)
{
    hk_err e;
    float norm2;
    size_t words = hnsw_link_words(ix, level);
    uint8_t *data = hk_calloc(ix->vstride + words * sizeof(uint32_t), 1);
    float *f = ix->p.quant == HKV_I8 ? hk_malloc(ix->p.dim * sizeof *f)
                                     : (float *)(void *)data;
    if (!data || !f) {
        e = hk_error_set(err, HK_ERR_NOMEM, "out of memory adding a vector");
        goto fail;
    }
    if ((e = prepare(ix, v, f, &norm2, err))) goto fail;
    nd->id = id;
    nd->level = (uint16_t)level;
    nd->norm2 = norm2;
    nd->data = data;
    if (ix->p.quant == HKV_I8) {
        nd->scale = quantise(f, ix->p.dim, (int8_t *)data);
        hk_free(f);
    }
    return HK_OK;
fail:
    if (f != (float *)(void *)data) hk_free(f);
    hk_free(data);
    memset(nd, 0, sizeof *nd);
    return e;
}

/* Links node me (made, counted in n_nodes, unreachable so far) into the
 * graph. Allocation failures leave it with fewer links, never with broken
 * ones. During a parallel build the entry point is read under glock,
 * which a node rising above the top level holds to the end. */
static hk_err node_link(hkv_index *ix, uint32_t me, hnsw_scratch *sc)
{
    hk_err e = HK_OK;
    hnsw_node *nd = &ix->nodes[me];
    uint32_t level = nd->level;
    bool held = false;
    if (ix->locks) {
        pthread_mutex_lock(&ix->glock);
        held = true;
    }
    uint32_t cur = ix->entry, max_level = ix->max_level;
    if (held && level <= max_level) {
        pthread_mutex_unlock(&ix->glock);
        held = false;
    }
    hnsw_query q = {hnsw_vec(nd), hnsw_vec(nd), nd->scale, nd->norm2};
    float cur_d = dist_qn(ix, &q, &ix->nodes[cur]);
    for (uint32_t l = max_level; l > level; l--)
        greedy(ix, &q, l, &cur, &cur_d, sc->lbuf);
    uint32_t top = level < max_level ? level : max_level;
    uint32_t first[1] = {cur};
    const uint32_t *entries = first;
    size_t n_entries = 1;
    uint32_t sel[2 * HKV_M_MAX];
    for (uint32_t l = top + 1; l-- > 0;) {
        e = search_layer(ix, &q, ix->p.ef_construction, l, true, NULL, sc,
                         entries, n_entries);
        if (e) break;
        /* in a parallel build others may link to me while I search, so
         * the walk can reach me: never a neighbour of myself */
        size_t kept = 0;
        for (size_t i = 0; i < sc->res.n; i++)
            if (sc->res.a[i].n != me) sc->res.a[kept++] = sc->res.a[i];
        sc->res.n = kept;
        qsort(sc->res.a, sc->res.n, sizeof *sc->res.a, cand_cmp);
        uint32_t max = l == 0 ? HNSW_NEW_LINKS0(ix->p.m, ix->m0) : ix->p.m;
        uint32_t n_sel =
            select_neighbours(ix, sc->res.a, sc->res.n, max, max, sel);
        links_set(ix, me, l, sel, n_sel);
        for (uint32_t i = 0; i < n_sel && !e; i++)
            e = link_to(ix, sel[i], me, l);
        if (e) break;
        /* the next level starts from everything found here */
        if (sc->res.n > sc->prev_cap) {
            uint32_t *p = hk_realloc(sc->prev, sc->res.n * sizeof *p);
            if (!p) {
                e = HK_ERR_NOMEM;
                break;
            }
            sc->prev = p;
            sc->prev_cap = sc->res.n;
        }
        for (size_t i = 0; i < sc->res.n; i++)
            sc->prev[i] = sc->res.a[i].n;
        entries = sc->prev;
        n_entries = sc->res.n;
    }
    if ((held || !ix->locks) && level > ix->max_level) {
        ix->max_level = level;
        ix->entry = me;
    }
    if (held) pthread_mutex_unlock(&ix->glock);
    return e;
}

/* Grows the node array to hold n more nodes. */
static hk_err nodes_reserve(hkv_index *ix, size_t n)
{
    if (n > (size_t)(UINT32_MAX - 2) - ix->n_nodes) return HK_ERR_LIMIT;
    if (ix->n_nodes + n <= ix->cap_nodes) return HK_OK;
    size_t cap = ix->cap_nodes ? ix->cap_nodes : 1024;
    while (cap < ix->n_nodes + n)
        cap *= 2;
    if (cap > UINT32_MAX - 1) cap = UINT32_MAX - 1;
    hnsw_node *nn = hk_realloc(ix->nodes, cap * sizeof *nn);
    if (!nn) return HK_ERR_NOMEM;
    ix->nodes = nn;
    ix->cap_nodes = (uint32_t)cap;
    return HK_OK;
}

/* Marks node old dead (the id moved to a newer node). */
static void retire(hkv_index *ix, uint32_t old)
{
    if (old != UINT32_MAX && !ix->nodes[old].dead) {
        ix->nodes[old].dead = 1;
        ix->n_live--;
    }
}

hk_err hkv_index_add(hkv_index *ix, uint64_t id, const float *v, hk_error *err)
{
    hk_err e;
    if (id == UINT64_MAX)
        return hk_error_set(err, HK_ERR_INVALID, "id %llu is reserved",
                            (unsigned long long)id);
    if ((e = nodes_reserve(ix, 1)))
        return hk_error_set(
            err, e, e == HK_ERR_LIMIT ? "the index is full" : "out of memory");
    uint32_t me = ix->n_nodes;
    hnsw_node *nd = &ix->nodes[me];
    memset(nd, 0, sizeof *nd);
    uint32_t old = map_find(ix, id);
    /* room in the map is made before the node counts, so that a failed
     * allocation leaves the index as it was */
    if (old == MAP_NONE && map_reserve(ix, 1))
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    hnsw_scratch *sc = NULL;
    if ((e = node_make(ix, nd, id, v, draw_level(ix), err))) return e;
    if (ix->n_nodes > 0 && !(sc = scratch_get(ix, ix->n_nodes + 1))) {
        hk_free(nd->data);
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    }
    ix->n_nodes++;
    ix->n_live++;
    if (me == 0) {
        ix->entry = me;
        ix->max_level = nd->level;
    } else {
        e = node_link(ix, me, sc);
        scratch_put(ix, sc);
    }
    retire(ix, old);
    map_put(ix, me);
    if (e) return hk_error_set(err, e, "out of memory while linking");
    return HK_OK;
}

/* ==== Parallel build ==== */

typedef struct batch_ctx {
    hkv_index *ix;         /* the index */
    uint32_t base;         /* first node of the batch */
    uint32_t n;            /* nodes of the batch */
    _Atomic uint32_t next; /* next batch position to link */
    _Atomic int failed;    /* an hk_err of some thread, or 0 */
} batch_ctx;

static void *batch_worker(void *arg)
{
    batch_ctx *c = arg;
    hnsw_scratch *sc = scratch_get(c->ix, c->ix->n_nodes);
    if (!sc) {
        atomic_store(&c->failed, HK_ERR_NOMEM);
        return NULL;
    }
    for (;;) {
        uint32_t i = atomic_fetch_add(&c->next, 1);
        if (i >= c->n) break;
        hk_err e = node_link(c->ix, c->base + i, sc);
        if (e) atomic_store(&c->failed, e);
    }
    scratch_put(c->ix, sc);
    return NULL;
}

hk_err hkv_index_add_batch(hkv_index *ix, const uint64_t *ids, const float *v,
                           size_t n, unsigned threads, hk_error *err)
{
    hk_err e;
    size_t done = 0;
    /* ids already present, repeated or reserved take the one-by-one path */
    while (done < n && (ix->n_nodes == 0 || ids[done] == UINT64_MAX ||
                        map_find(ix, ids[done]) != UINT32_MAX)) {
        if ((e = hkv_index_add(ix, ids[done], v + done * ix->p.dim, err)))
            return e;
        done++;
    }
    if (done == n) return HK_OK;
    if (threads == 0) threads = 1;
    if (threads > 64) threads = 64;
    if ((e = nodes_reserve(ix, n - done)) || (e = map_reserve(ix, n - done)))
        return hk_error_set(
            err, e, e == HK_ERR_LIMIT ? "the index is full" : "out of memory");
    /* make every node first (sequential: levels repeat), then link them */
    uint32_t base = ix->n_nodes, made = 0;
    size_t *later = NULL, n_later = 0;
    for (size_t i = done; i < n; i++) {
        uint64_t id = ids[i];
        if (id == UINT64_MAX || map_find(ix, id) != UINT32_MAX) {
            if (!later && !(later = hk_malloc((n - i) * sizeof *later))) {
                e = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
                goto unmake;
            }
            later[n_later++] = i;
            continue;
        }
        hnsw_node *nd = &ix->nodes[base + made];
        memset(nd, 0, sizeof *nd);
        if ((e = node_make(ix, nd, id, v + i * ix->p.dim, draw_level(ix), err)))
            goto unmake;
        map_put(ix, base + made);
        made++;
    }
    ix->n_nodes = base + made;
    ix->n_live += made;
    batch_ctx c = {ix, base, made, 0, 0};
    pthread_t th[64];
    unsigned started = 0;
    if (threads > 1 && made > 1000) {
        ix->locks = hk_malloc(HNSW_LOCK_STRIPES * sizeof *ix->locks);
        if (ix->locks) {
            for (unsigned i = 0; i < HNSW_LOCK_STRIPES; i++)
                pthread_mutex_init(&ix->locks[i], NULL);
            pthread_mutex_init(&ix->glock, NULL);
            for (; started + 1 < threads; started++)
                if (pthread_create(&th[started], NULL, batch_worker, &c)) break;
        }
    }
    batch_worker(&c);
    for (unsigned i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    if (ix->locks) {
        for (unsigned i = 0; i < HNSW_LOCK_STRIPES; i++)
            pthread_mutex_destroy(&ix->locks[i]);
        pthread_mutex_destroy(&ix->glock);
        hk_free(ix->locks);
        ix->locks = NULL;
    }
    e = HK_OK;
    if (atomic_load(&c.failed))
        e = hk_error_set(err, HK_ERR_NOMEM, "out of memory while linking");
    for (size_t i = 0; !e && i < n_later; i++)
        e = hkv_index_add(ix, ids[later[i]], v + later[i] * ix->p.dim, err);
    hk_free(later);
    return e;
unmake:
    /* nothing of the batch is linked yet: take the made nodes back */
    for (uint32_t i = 0; i < made; i++) {
        hnsw_node *nd = &ix->nodes[base + i];
        map_remove(ix, nd->id);
        hk_free(nd->data);
    }
    hk_free(later);
    return e;
}

hk_err hkv_index_delete(hkv_index *ix, uint64_t id, hk_error *err)
{
    uint32_t n = map_find(ix, id);
    if (n == UINT32_MAX || ix->nodes[n].dead)
        return hk_error_set(err, HK_ERR_NOT_FOUND, "no vector with id %llu",
                            (unsigned long long)id);
    ix->nodes[n].dead = 1;
    ix->n_live--;
    return HK_OK;
}

/* ==== Search ==== */

static hk_err check_opts(const hkv_index *ix, const hkv_search_opts *o,
                         hk_error *err)
{
    if (o->k == 0 || o->k > HKV_EF_MAX)
        return hk_error_set(err, HK_ERR_INVALID, "k must be 1..%u", HKV_EF_MAX);
    if (o->ef > HKV_EF_MAX)
        return hk_error_set(err, HK_ERR_INVALID, "ef must be at most %u",
                            HKV_EF_MAX);
    (void)ix;
    return HK_OK;
}

/* Fills q from v: prepared floats in f (dim), codes in codes (dim). */
static hk_err make_query(const hkv_index *ix, const float *v, float *f,
                         int8_t *codes, hnsw_query *q, hk_error *err)
{
    hk_err e;
    float n2;
    if ((e = prepare(ix, v, f, &n2, err))) return e;
    q->f = f;
    q->norm2 = n2;
    q->q = NULL;
    q->scale = 1;
    if (ix->p.quant == HKV_I8) {
        q->q = codes;
        q->scale = quantise(f, ix->p.dim, codes);
    }
    return HK_OK;
}

/* Re-ranks n candidates with float vectors (int8 + fetch), sorts them and
 * copies at most k into out. */
static hk_err finish(const hkv_index *ix, const hnsw_query *q,
                     const hkv_search_opts *o, hnsw_cand *c, size_t n,
                     hkv_hit *out, size_t *n_out)
{
    if (ix->p.quant == HKV_I8 && o->fetch) {
        float *v = hk_malloc(ix->p.dim * sizeof *v);
        if (!v) return HK_ERR_NOMEM;
        for (size_t i = 0; i < n; i++) {
            if (!o->fetch(o->fetch_ud, ix->nodes[c[i].n].id, v)) continue;
            float n2 = 0;
            if (ix->p.metric == HKV_COSINE) {
                for (uint32_t j = 0; j < ix->p.dim; j++)
                    n2 += v[j] * v[j];
                if (n2 > 0) {
                    float inv = 1.0f / sqrtf(n2);
                    for (uint32_t j = 0; j < ix->p.dim; j++)
                        v[j] *= inv;
                }
            }
            c[i].d = dist_float(ix, q->f, v);
        }
        hk_free(v);
    }
    if (n) qsort(c, n, sizeof *c, cand_cmp);
    size_t m = n < o->k ? n : o->k;
    for (size_t i = 0; i < m; i++)
        out[i] = (hkv_hit){ix->nodes[c[i].n].id, c[i].d};
    *n_out = m;
    return HK_OK;
}

hk_err hkv_index_exact(const hkv_index *ix, const float *v,
                       const hkv_search_opts *o, hkv_hit *out, size_t *n_out,
                       hk_error *err)
{
    hk_err e;
    hnsw_query q;
    hnsw_heap res = {NULL, 0, 0, 1};
    float *f = hk_malloc(ix->p.dim * sizeof *f);
    int8_t *codes = hk_malloc(ix->p.dim);
    *n_out = 0;
    if (!f || !codes) {
        e = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((e = check_opts(ix, o, err)) ||
        (e = make_query(ix, v, f, codes, &q, err)))
        goto out;
    /* with re-ranking, keep more candidates than k (as the graph does) */
    size_t keep = o->k;
    if (ix->p.quant == HKV_I8 && o->fetch) {
        uint32_t ef = o->ef ? o->ef : ix->p.ef;
        keep = ef > o->k ? ef : o->k;
    }
    const hkv_filter *flt = o->filter;
    size_t n_scan = flt ? flt->n_ids : ix->n_nodes;
    for (size_t i = 0; i < n_scan; i++) {
        uint32_t n = (uint32_t)i;
        if (flt) {
            n = map_find(ix, flt->ids[i]);
            if (n == UINT32_MAX) continue;
        }
        if (ix->nodes[n].dead) continue;
        float d = dist_qn(ix, &q, &ix->nodes[n]);
        if (res.n < keep || d < res.a[0].d) {
            if (heap_push(&res, d, n)) goto nomem;
            if (res.n > keep) heap_pop(&res);
        }
    }
    if (finish(ix, &q, o, res.a, res.n, out, n_out)) goto nomem;
    goto out;
nomem:
    e = hk_error_set(err, HK_ERR_NOMEM, "out of memory searching");
out:
    hk_free(res.a);
    hk_free(f);
    hk_free(codes);
    return e;
}

hk_err hkv_index_search(const hkv_index *ix, const float *v,
                        const hkv_search_opts *o, hkv_hit *out, size_t *n_out,
                        hk_error *err)
{
    hk_err e;
    hnsw_query q;
    *n_out = 0;
    if ((e = check_opts(ix, o, err))) return e;
    if (o->filter) {
        size_t below = o->filter->exact_below;
        if (!below) {
            below = (size_t)(ix->n_nodes / 50);
            if (below < 1000) below = 1000;
        }
        if (o->filter->n_ids <= below)
            return hkv_index_exact(ix, v, o, out, n_out, err);
    }
    if (ix->n_nodes == 0) return HK_OK;
    /* the scratch holds the query too: no allocation per search */
    hnsw_scratch *sc = scratch_get(ix, ix->n_nodes);
    if (!sc) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    if ((e = make_query(ix, v, sc->qf, sc->qcodes, &q, err))) goto out;
    uint32_t ef = o->ef ? o->ef : ix->p.ef;
    if (ef < o->k) ef = o->k;
    uint32_t cur = ix->entry;
    float cur_d = dist_qn(ix, &q, &ix->nodes[cur]);
    for (uint32_t l = ix->max_level; l > 0; l--)
        greedy(ix, &q, l, &cur, &cur_d, sc->lbuf);
    if (search_layer(ix, &q, ef, 0, false, o->filter, sc, &cur, 1) ||
        finish(ix, &q, o, sc->res.a, sc->res.n, out, n_out))
        e = hk_error_set(err, HK_ERR_NOMEM, "out of memory searching");
out:
    scratch_put(ix, sc);
    return e;
}

/* ==== Validation ==== */

void hkv_index_validate(const hkv_index *ix, bool *ok, char *why,
                        size_t why_len)
{
    *ok = true;
    uint64_t live = 0;
    for (uint32_t i = 0; i < ix->n_nodes; i++) {
        const hnsw_node *n = &ix->nodes[i];
        if (!n->dead) {
            live++;
            if (map_find(ix, n->id) != i) {
                snprintf(why, why_len, "node %u: id map points elsewhere", i);
                goto bad;
            }
        }
        if (n->level > ix->max_level) {
            snprintf(why, why_len, "node %u: level above the entry's", i);
            goto bad;
        }
        for (uint32_t l = 0; l <= n->level; l++) {
            const uint32_t *lk = node_links(ix, n, l);
            if (lk[0] > (l == 0 ? ix->m0 : ix->p.m)) {
                snprintf(why, why_len, "node %u level %u: %u links", i, l,
                         lk[0]);
                goto bad;
            }
            for (uint32_t j = 0; j < lk[0]; j++) {
                uint32_t b = lk[1 + j];
                if (b >= ix->n_nodes || b == i || ix->nodes[b].level < l) {
                    snprintf(why, why_len, "node %u level %u: bad link %u", i,
                             l, b);
                    goto bad;
                }
            }
        }
    }
    if (live != ix->n_live) {
        snprintf(why, why_len, "%llu live nodes, count says %llu",
                 (unsigned long long)live, (unsigned long long)ix->n_live);
        goto bad;
    }
    return;
bad:
    *ok = false;
}
