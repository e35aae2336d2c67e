/*
 * query/query_int.h — the parsed form of a query, private to src/query.
 */
#ifndef HKQ_QUERY_INT_H
#define HKQ_QUERY_INT_H

#include "core/buf.h"
#include "query/query.h"

typedef enum hkq_op {
    HKQ_EQ = 0,
    HKQ_NE,
    HKQ_LT,
    HKQ_LE,
    HKQ_GT,
    HKQ_GE
} hkq_op;

/* A predicate or argument slot, or a comparison operand. */
typedef struct hkq_slot {
    hk_term_kind kind; /* constant, variable or _ */
    uint32_t var;      /* variable index (kind VAR) */
    const char *text;  /* constant text (kind CONST) */
    char *owned;       /* comparison constants: their storage */
} hkq_slot;

typedef struct hkq_atom {
    hk_pattern pat;                  /* as parsed (owns the texts) */
    bool neg;                        /* `not P(...)` */
    size_t off, end;                 /* span in the query text */
    hkq_slot slots[HK_MAX_ARGS + 1]; /* predicate, then arguments */
} hkq_atom;

typedef struct hkq_cmp {
    hkq_op op;     /* operator */
    hkq_slot l, r; /* operands */
    size_t off;    /* offset in the query text */
} hkq_cmp;

struct hkq_query {
    char *text;                      /* copy of the query text */
    size_t len;                      /* its bytes */
    uint32_t n_atoms;                /* patterns, text order */
    hkq_atom atoms[HKQ_MAX_ATOMS];   /* positive and negated */
    uint32_t n_pos;                  /* positive patterns */
    uint32_t pos[HKQ_MAX_ATOMS];     /* their indexes in atoms */
    uint32_t n_cmps;                 /* comparisons */
    hkq_cmp cmps[HKQ_MAX_CMPS];      /* in text order */
    uint32_t n_vars;                 /* distinct variables */
    char *vars[HKQ_MAX_VARS];        /* names without '?' */
    bool has_select;                 /* select ... where given */
    bool distinct;                   /* select ... distinct */
    uint32_t n_select;               /* projected variables */
    uint32_t select[HKQ_MAX_VARS];   /* their indexes */
    size_t select_off[HKQ_MAX_VARS]; /* offsets in the text */
    uint32_t n_order;                /* ORDER BY keys */
    uint32_t order[HKQ_MAX_ORDER];   /* variable indexes */
    bool order_desc[HKQ_MAX_ORDER];  /* descending */
    size_t order_off[HKQ_MAX_ORDER]; /* offsets in the text */
    uint64_t limit;                  /* LIMIT, 0 = none */
};

/* Compares two values as the query language does: numerically when both
 * parse as finite numbers, else byte-wise. */
int hkq_value_cmp(const char *a, size_t al, const char *b, size_t bl);

/* ==== Slice cache (query_cache.c) ====
 *
 * A run's memory of the adjacency slices (entity, position, predicate) it
 * has read, with every fact's symbols, so that an entity recurring as a
 * bound value (a hub) costs one read of its slice per run instead of one
 * per recurrence, and of which slices are empty or not (the lookahead that
 * cuts a branch before a later pattern is known to fail). Entries keep the
 * index order of hks_adj (predicate, then fact id), so cursors see the
 * same order as without the cache. Memory is bounded (HKQ_CACHE_BYTES);
 * once full, no new slice is kept and reads go to the store again. */
#define HKQ_CACHE_BYTES (32u << 20) /* per run */
#define HKQ_CACHE_SLICE_MAX 65536u  /* facts of one cached slice */

typedef enum hkq_slice_state {
    HKQ_SLICE_FULL = 1,    /* every fact of the slice is in the cache */
    HKQ_SLICE_NONEMPTY = 2 /* known to hold a fact; facts not kept */
} hkq_slice_state;

typedef struct hkq_centry {
    hk_fact_id id;   /* fact id */
    uint32_t pred;   /* its predicate */
    uint32_t n_args; /* its arity */
    size_t off;      /* its arguments in hkq_cache.args */
} hkq_centry;

typedef struct hkq_slice {
    uint32_t ent, pred; /* key: entity, predicate (0: any) */
    int32_t pos;        /* key: argument position */
    hkq_slice_state state;
    size_t first; /* FULL: its entries are ents[first .. first + n) */
    size_t n;
} hkq_slice;

typedef struct hkq_cache {
    hkq_centry *ents; /* entries of every FULL slice */
    size_t n_ents, cap_ents;
    uint32_t *args; /* their arguments */
    size_t n_args, cap_args;
    hkq_slice *slices; /* every slice known */
    size_t n_slices, cap_slices;
    uint32_t *table; /* open addressing: slice index + 1, 0 = free */
    size_t table_size;
    size_t bytes; /* allocated */
    bool full;    /* HKQ_CACHE_BYTES reached: nothing new is kept */
} hkq_cache;

/* A slice being read, kept aside until it is complete. */
typedef struct hkq_cbuild {
    hkq_centry *ents;
    size_t n, cap;
    uint32_t *args;
    size_t n_args, cap_args;
    bool over; /* longer than HKQ_CACHE_SLICE_MAX, or out of memory */
} hkq_cbuild;

/* Index of the slice (ent, pos, pred) in c->slices, or -1; for a
 * predicate kept whole by hkq_cache_put_all, a slice not in the cache is
 * its empty marker. */
long hkq_cache_find(const hkq_cache *c, uint32_t ent, int pos, uint32_t pred);
/* Makes room in b for n facts with n_args arguments in all (a hint). */
void hkq_cbuild_reserve(hkq_cbuild *b, size_t n, size_t n_args);
/* Appends fact (id, fs) to b (sets b->over instead of failing). */
void hkq_cbuild_add(hkq_cbuild *b, hk_fact_id id, const hks_fact_syms *fs);
/* Keeps b as the FULL slice (ent, pos, pred) unless b->over or the cache
 * is full (then nothing happens); empties b. */
void hkq_cache_put(hkq_cache *c, uint32_t ent, int pos, uint32_t pred,
                   hkq_cbuild *b);
/* A fact id and the index of its entry in some array. */
typedef struct hkq_id_ent {
    hk_fact_id id; /* fact id */
    uint32_t j;    /* its entry */
} hkq_id_ent;
/* Sorts a[0..n) by id (ids distinct): a radix sort, no comparisons. */
void hkq_sort_ids(hkq_id_ent *a, size_t n);

/* Keeps every slice (e, pos, pred) of the facts of predicate pred in b
 * (all of them, any order), keyed by their argument arg (0-based; facts
 * with fewer arguments are in none), then a marker that makes every other
 * slice (e, pos, pred) an empty FULL one for hkq_cache_find. True when
 * all of it was kept (else a miss still means "unknown"); empties b. */
bool hkq_cache_put_all(hkq_cache *c, int pos, uint32_t pred, uint32_t arg,
                       hkq_cbuild *b);
/* Records that the slice holds a fact (when nothing is known of it). */
void hkq_cache_mark_nonempty(hkq_cache *c, uint32_t ent, int pos,
                             uint32_t pred);
/* Entry j of FULL slice s as symbols. */
void hkq_cache_entry(const hkq_cache *c, const hkq_slice *s, size_t j,
                     hk_fact_id *id, hks_fact_syms *fs);
void hkq_cbuild_free(hkq_cbuild *b);
void hkq_cache_free(hkq_cache *c);

#endif /* HKQ_QUERY_INT_H */
