/*
 * graph_int.h — small containers shared by traverse.c and snappath.c: a
 * hash table from a 64-bit key (never 0) to a parent/fact/distance record,
 * a growable array of 32-bit vertex or symbol ids, and the rule of which
 * argument positions of a fact are linked. Private to src/graph; not
 * thread-safe (each walk owns its own).
 */
#ifndef HK_GRAPH_INT_H
#define HK_GRAPH_INT_H

#include "core/mem.h"
#include "graph/graph.h"
#include "hakgal.h"

#include <string.h>

/* ==== Hash table: 64-bit key -> small record ==== */

typedef struct hslot {
    uint64_t key;  /* 0 = empty */
    uint64_t fact; /* fact of the hop that reached key (paths) */
    uint32_t a;    /* parent symbol or vertex (paths), node index (hood) */
    uint32_t dist; /* hops from the side's start */
} hslot;

typedef struct hmap {
    hslot *slots; /* cap entries */
    size_t cap;   /* a power of two, or 0 */
    size_t n;     /* used slots */
} hmap;

static inline uint64_t hk_graph_mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

static inline hslot *hmap_find(const hmap *m, uint64_t key)
{
    if (m->cap == 0) return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = (size_t)hk_graph_mix64(key) & mask;; i = (i + 1) & mask) {
        if (m->slots[i].key == key) return &m->slots[i];
        if (m->slots[i].key == 0) return NULL;
    }
}

/* Inserts key (absent) and returns its slot, or NULL without memory. */
static inline hslot *hmap_put(hmap *m, uint64_t key)
{
    if ((m->n + 1) * 2 > m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 64;
        hslot *ns = hk_calloc(nc, sizeof *ns);
        if (!ns) return NULL;
        for (size_t i = 0; i < m->cap; i++) {
            if (m->slots[i].key == 0) continue;
            size_t j = (size_t)hk_graph_mix64(m->slots[i].key) & (nc - 1);
            while (ns[j].key != 0)
                j = (j + 1) & (nc - 1);
            ns[j] = m->slots[i];
        }
        hk_free(m->slots);
        m->slots = ns;
        m->cap = nc;
    }
    size_t mask = m->cap - 1;
    size_t i = (size_t)hk_graph_mix64(key) & mask;
    while (m->slots[i].key != 0)
        i = (i + 1) & mask;
    memset(&m->slots[i], 0, sizeof m->slots[i]);
    m->slots[i].key = key;
    m->n++;
    return &m->slots[i];
}

static inline void hmap_free(hmap *m)
{
    hk_free(m->slots);
    memset(m, 0, sizeof *m);
}

/* ==== Growable array of 32-bit ids ==== */

typedef struct u32vec {
    uint32_t *v; /* entries */
    size_t n;    /* used */
    size_t cap;  /* allocated */
} u32vec;

static inline hk_err u32vec_push(u32vec *a, uint32_t x)
{
    if (a->n == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 64;
        uint32_t *nv = hk_realloc(a->v, nc * sizeof *nv);
        if (!nv) return HK_ERR_NOMEM;
        a->v = nv;
        a->cap = nc;
    }
    a->v[a->n++] = x;
    return HK_OK;
}

/* ==== Links of a fact ====
 * Both walks (the store's in traverse.c, the snapshot's in snappath.c)
 * must agree on what a fact links, or their answers would differ: the
 * argument at position p links to the one at q != p, forward only (p < q)
 * for HK_GRAPH_OUT, backward only for HK_GRAPH_IN, both ways otherwise. */

static inline bool hk_graph_pos_linked(hk_graph_dir dir, uint32_t p, uint32_t q)
{
    if (p == q) return false;
    if (dir == HK_GRAPH_OUT) return p < q;
    if (dir == HK_GRAPH_IN) return p > q;
    return true;
}

/* Does the fact with arguments args[0..n) link u (at some position) to
 * its argument at position q? */
static inline bool hk_graph_linked_at(const uint32_t *args, uint32_t n,
                                      uint32_t u, hk_graph_dir dir, uint32_t q)
{
    if (args[q] == u) return false;
    for (uint32_t p = 0; p < n; p++)
        if (args[p] == u && hk_graph_pos_linked(dir, p, q)) return true;
    return false;
}

/* The same, counting each linked entity once: at its first linked
 * position. */
static inline bool hk_graph_links(const uint32_t *args, uint32_t n, uint32_t u,
                                  hk_graph_dir dir, uint32_t q)
{
    if (!hk_graph_linked_at(args, n, u, dir, q)) return false;
    for (uint32_t i = 0; i < q; i++)
        if (args[i] == args[q] && hk_graph_linked_at(args, n, u, dir, i))
            return false;
    return true;
}

#endif /* HK_GRAPH_INT_H */
