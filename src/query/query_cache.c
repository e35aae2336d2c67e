/*
 * query_cache.c — the per-run cache of adjacency slices (query_int.h).
 *
 * Slices live in one array and are found through an open-addressing table
 * keyed by (entity, position, predicate); the facts of FULL slices live in
 * one entry array and one argument pool, addressed by index (never by
 * pointer: a deeper level may grow the arrays while an outer level walks a
 * slice). A slice is read into a hkq_cbuild first and kept only once it
 * was read to its end, so a run stopped early (LIMIT) keeps nothing
 * partial. The cache is a cache: running out of its budget or of memory
 * makes it keep nothing more, never fails the query.
 */
#include <string.h>

#include "core/mem.h"
#include "query/query_int.h"

static size_t key_hash(uint32_t ent, int pos, uint32_t pred)
{
    uint64_t h = ((uint64_t)ent << 32 | pred) * 0x9E3779B97F4A7C15ull;
    h ^= (uint64_t)(uint32_t)pos * 0xC2B2AE3D27D4EB4Full;
    return (size_t)(h ^ (h >> 31));
}

long hkq_cache_find(const hkq_cache *c, uint32_t ent, int pos, uint32_t pred)
{
    if (c->table_size == 0) return -1;
    size_t m = c->table_size - 1;
    for (size_t h = key_hash(ent, pos, pred) & m;; h = (h + 1) & m) {
        uint32_t i = c->table[h];
        if (i == 0) return -1;
        const hkq_slice *s = &c->slices[i - 1];
        if (s->ent == ent && s->pos == pos && s->pred == pred)
            return (long)i - 1;
    }
}

/* Grows *p (elements of size sz, capacity *cap) to hold need; false when
 * the cache budget or memory says no. */
static bool grow(hkq_cache *c, void **p, size_t *cap, size_t need, size_t sz)
{
    if (need <= *cap) return true;
    size_t nc = *cap ? *cap * 2 : 256;
    while (nc < need)
        nc *= 2;
    size_t add = (nc - *cap) * sz;
    if (c && c->bytes + add > HKQ_CACHE_BYTES) return false;
    void *np = hk_realloc(*p, nc * sz);
    if (!np) return false;
    *p = np;
    *cap = nc;
    if (c) c->bytes += add;
    return true;
}

/* Index of a new slice (ent, pos, pred) in the table, or -1 when full. */
static long slice_new(hkq_cache *c, uint32_t ent, int pos, uint32_t pred)
{
    if (c->full) return -1;
    if ((c->n_slices + 1) * 2 > c->table_size) {
        size_t ns = c->table_size ? c->table_size * 2 : 1024;
        size_t add = ns * sizeof(uint32_t);
        uint32_t *nt = c->bytes + add <= HKQ_CACHE_BYTES
                           ? hk_calloc(ns, sizeof *nt)
                           : NULL;
        if (!nt) {
            c->full = true;
            return -1;
        }
        for (size_t i = 0; i < c->n_slices; i++) {
            const hkq_slice *s = &c->slices[i];
            size_t h = key_hash(s->ent, s->pos, s->pred) & (ns - 1);
            while (nt[h])
                h = (h + 1) & (ns - 1);
            nt[h] = (uint32_t)i + 1;
        }
        c->bytes += add - c->table_size * sizeof(uint32_t);
        hk_free(c->table);
        c->table = nt;
        c->table_size = ns;
    }
    if (!grow(c, (void **)&c->slices, &c->cap_slices, c->n_slices + 1,
              sizeof *c->slices)) {
        c->full = true;
        return -1;
    }
    size_t h = key_hash(ent, pos, pred) & (c->table_size - 1);
    while (c->table[h])
        h = (h + 1) & (c->table_size - 1);
    hkq_slice *s = &c->slices[c->n_slices];
    memset(s, 0, sizeof *s);
    s->ent = ent;
    s->pos = pos;
    s->pred = pred;
    c->table[h] = (uint32_t)++c->n_slices;
    return (long)c->n_slices - 1;
}

void hkq_cbuild_add(hkq_cbuild *b, hk_fact_id id, const hks_fact_syms *fs)
{
    if (b->over) return;
    if (b->n >= HKQ_CACHE_SLICE_MAX ||
        !grow(NULL, (void **)&b->ents, &b->cap, b->n + 1, sizeof *b->ents) ||
        !grow(NULL, (void **)&b->args, &b->cap_args, b->n_args + fs->n_args,
              sizeof *b->args)) {
        b->over = true;
        return;
    }
    hkq_centry *e = &b->ents[b->n++];
    e->id = id;
    e->pred = fs->pred;
    e->n_args = fs->n_args;
    e->off = b->n_args;
    memcpy(b->args + b->n_args, fs->args, fs->n_args * sizeof *fs->args);
    b->n_args += fs->n_args;
}

void hkq_cache_put(hkq_cache *c, uint32_t ent, int pos, uint32_t pred,
                   hkq_cbuild *b)
{
    bool over = b->over;
    size_t n = b->n, n_args = b->n_args;
    b->n = b->n_args = 0; /* emptied, whatever happens */
    b->over = false;
    if (over || c->full) return;
    long i = hkq_cache_find(c, ent, pos, pred);
    if (i >= 0 && c->slices[i].state == HKQ_SLICE_FULL) return;
    if (!grow(c, (void **)&c->ents, &c->cap_ents, c->n_ents + n,
              sizeof *c->ents) ||
        !grow(c, (void **)&c->args, &c->cap_args, c->n_args + n_args,
              sizeof *c->args)) {
        c->full = true;
        return;
    }
    if (i < 0 && (i = slice_new(c, ent, pos, pred)) < 0) return;
    hkq_slice *s = &c->slices[i];
    s->state = HKQ_SLICE_FULL;
    s->first = c->n_ents;
    s->n = n;
    for (size_t j = 0; j < n; j++) {
        hkq_centry *e = &c->ents[c->n_ents++];
        *e = b->ents[j];
        e->off += c->n_args;
    }
    if (n_args) /* an empty slice has allocated nothing */
        memcpy(c->args + c->n_args, b->args, n_args * sizeof *b->args);
    c->n_args += n_args;
}

void hkq_cache_mark_nonempty(hkq_cache *c, uint32_t ent, int pos, uint32_t pred)
{
    if (hkq_cache_find(c, ent, pos, pred) >= 0) return;
    long i = slice_new(c, ent, pos, pred);
    if (i >= 0) c->slices[i].state = HKQ_SLICE_NONEMPTY;
}

void hkq_cache_entry(const hkq_cache *c, const hkq_slice *s, size_t j,
                     hk_fact_id *id, hks_fact_syms *fs)
{
    const hkq_centry *e = &c->ents[s->first + j];
    *id = e->id;
    fs->pred = e->pred;
    fs->n_args = e->n_args;
    memcpy(fs->args, c->args + e->off, e->n_args * sizeof *fs->args);
}

void hkq_cbuild_free(hkq_cbuild *b)
{
    hk_free(b->ents);
    hk_free(b->args);
    memset(b, 0, sizeof *b);
}

void hkq_cache_free(hkq_cache *c)
{
    hk_free(c->ents);
    hk_free(c->args);
    hk_free(c->slices);
    hk_free(c->table);
    memset(c, 0, sizeof *c);
}
