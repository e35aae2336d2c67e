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
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "query/query_int.h"

static size_t key_hash(uint32_t ent, int pos, uint32_t pred)
{
    uint64_t h = ((uint64_t)ent << 32 | pred) * 0x9E3779B97F4A7C15ull;
    h ^= (uint64_t)(uint32_t)pos * 0xC2B2AE3D27D4EB4Full;
    return (size_t)(h ^ (h >> 31));
}

static long find_exact(const hkq_cache *c, uint32_t ent, int pos, uint32_t pred)
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

long hkq_cache_find(const hkq_cache *c, uint32_t ent, int pos, uint32_t pred)
{
    long i = find_exact(c, ent, pos, pred);
    if (i >= 0 || ent == 0 || pred == 0) return i;
    /* a predicate read whole (hkq_cache_put_all): every slice of it is
     * known, so a missing one is empty: the marker, FULL with no fact */
    return find_exact(c, 0, pos, pred);
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

void hkq_cbuild_reserve(hkq_cbuild *b, size_t n, size_t n_args)
{
    if (n > HKQ_CACHE_SLICE_MAX) n = HKQ_CACHE_SLICE_MAX;
    if (n_args > n * HK_MAX_ARGS) n_args = n * HK_MAX_ARGS;
    /* a failure only means growing later, in steps */
    (void)(grow(NULL, (void **)&b->ents, &b->cap, n, sizeof *b->ents) &&
           grow(NULL, (void **)&b->args, &b->cap_args, n_args,
                sizeof *b->args));
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
    long i = find_exact(c, ent, pos, pred);
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

void hkq_sort_ids(hkq_id_ent *a, size_t n)
{
    if (n < 2) return;
    if (n <= 32) { /* insertion sort: no buffer for short lists */
        for (size_t x = 1; x < n; x++)
            for (size_t y = x; y > 0 && a[y - 1].id > a[y].id; y--) {
                hkq_id_ent t = a[y];
                a[y] = a[y - 1];
                a[y - 1] = t;
            }
        return;
    }
    hkq_id_ent *tmp = hk_malloc(n * sizeof *tmp);
    if (!tmp) { /* no memory: slower, never wrong (shell sort, gaps 3h+1) */
        size_t g = 1;
        while (g < n / 3)
            g = 3 * g + 1;
        for (; g > 0; g /= 3)
            for (size_t x = g; x < n; x++)
                for (size_t y = x; y >= g && a[y - g].id > a[y].id; y -= g) {
                    hkq_id_ent t = a[y];
                    a[y] = a[y - g];
                    a[y - g] = t;
                }
        return;
    }
    /* LSD radix on the 48 bits of an id, a byte a pass */
    hkq_id_ent *src = a, *dst = tmp;
    for (unsigned shift = 0; shift < 48; shift += 8) {
        size_t cnt[257] = {0};
        for (size_t x = 0; x < n; x++)
            cnt[((src[x].id >> shift) & 0xff) + 1]++;
        if (cnt[((src[0].id >> shift) & 0xff) + 1] == n) continue;
        for (size_t d = 1; d <= 256; d++)
            cnt[d] += cnt[d - 1];
        for (size_t x = 0; x < n; x++)
            dst[cnt[(src[x].id >> shift) & 0xff]++] = src[x];
        hkq_id_ent *t = src;
        src = dst;
        dst = t;
    }
    if (src != a) memcpy(a, src, n * sizeof *a);
    hk_free(tmp);
}

/* Slice states while hkq_cache_put_all fills them. */
#define SLICE_FILLING 0

bool hkq_cache_put_all(hkq_cache *c, int pos, uint32_t pred, uint32_t arg,
                       hkq_cbuild *b)
{
    bool ok = false;
    size_t n = b->n, n_new = 0, new_args = 0;
    hkq_id_ent *order = NULL;
    if (b->over || c->full || pred == 0 || find_exact(c, 0, pos, pred) >= 0)
        goto done;
    order = hk_malloc((n ? n : 1) * sizeof *order);
    if (!order) goto done;
    /* pass 1: a slice per entity, counting its facts; slices already
     * FULL keep theirs */
    size_t no = 0;
    for (size_t j = 0; j < n; j++) {
        const hkq_centry *e = &b->ents[j];
        if (e->n_args <= arg) continue; /* in no slice of arg */
        uint32_t ent = b->args[e->off + arg];
        if (ent == 0) continue; /* no symbol 0; its key is the marker's */
        long i = find_exact(c, ent, pos, pred);
        if (i >= 0 && c->slices[i].state == HKQ_SLICE_FULL) continue;
        if (i < 0 && (i = slice_new(c, ent, pos, pred)) < 0) goto undo;
        hkq_slice *s = &c->slices[i];
        if (s->state != SLICE_FILLING) { /* was NONEMPTY */
            s->state = SLICE_FILLING;
            s->n = 0;
        }
        s->n++;
        n_new++;
        new_args += e->n_args;
        order[no++] = (hkq_id_ent){e->id, (uint32_t)j};
    }
    if (!grow(c, (void **)&c->ents, &c->cap_ents, c->n_ents + n_new,
              sizeof *c->ents) ||
        !grow(c, (void **)&c->args, &c->cap_args, c->n_args + new_args,
              sizeof *c->args)) {
        c->full = true;
        goto undo;
    }
    /* pass 2: each filling slice gets its range of entries */
    size_t next = c->n_ents;
    for (size_t i = 0; i < c->n_slices; i++) {
        hkq_slice *s = &c->slices[i];
        if (s->state != SLICE_FILLING) continue;
        s->first = next;
        next += s->n;
        s->n = 0;
    }
    /* pass 3: facts by id into their slices, which are then in the
     * index order (by id within a predicate) */
    hkq_sort_ids(order, no);
    for (size_t x = 0; x < no; x++) {
        const hkq_centry *e = &b->ents[order[x].j];
        hkq_slice *s =
            &c->slices[find_exact(c, b->args[e->off + arg], pos, pred)];
        hkq_centry *d = &c->ents[s->first + s->n++];
        *d = *e;
        d->off = c->n_args;
        memcpy(c->args + c->n_args, b->args + e->off,
               e->n_args * sizeof *c->args);
        c->n_args += e->n_args;
    }
    c->n_ents = next;
    for (size_t i = 0; i < c->n_slices; i++)
        if (c->slices[i].state == SLICE_FILLING)
            c->slices[i].state = HKQ_SLICE_FULL;
    long m = slice_new(c, 0, pos, pred);
    if (m >= 0) {
        c->slices[m].state = HKQ_SLICE_FULL;
        c->slices[m].first = c->n_ents;
        c->slices[m].n = 0;
        ok = true;
    }
    goto done;
undo:
    /* slices counted but not filled: they hold facts, nothing more known */
    for (size_t i = 0; i < c->n_slices; i++)
        if (c->slices[i].state == SLICE_FILLING) {
            c->slices[i].state = HKQ_SLICE_NONEMPTY;
            c->slices[i].n = 0;
        }
done:
    hk_free(order);
    b->n = b->n_args = 0;
    b->over = false;
    return ok;
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
