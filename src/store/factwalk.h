/*
 * factwalk.h — batched lookups of fact records in a read snapshot
 * (internal to the store; see factwalk.c for why and how).
 */
#ifndef HKS_STORE_FACTWALK_H
#define HKS_STORE_FACTWALK_H

#include "store/store_int.h"

#define HKS_FACTWALK_MAX 64 /* ids per hks_factwalk_get call */

typedef struct hks_factwalk {
    const uint8_t *map; /* base of LMDB's memory map */
    size_t psize;       /* page size */
    uint64_t n_pages;   /* pages that exist in the file */
    uint64_t root;      /* root page of the `fact` tree in this snapshot */
    uint16_t depth;     /* its depth (levels of pages) */
    bool usable;        /* false: every lookup is left to the caller */
} hks_factwalk;

/* Prepares a walker for t's snapshot. Leaves it unusable (never an error)
 * for write transactions, an empty tree, or an LMDB other than 0.9. Valid
 * until t is reset, renewed or ends. */
void hks_factwalk_init(hk_txn *t, hks_factwalk *w);

/* Looks up n (<= HKS_FACTWALK_MAX) fact ids together. recs[i]/lens[i] get
 * the record of ids[i] inside the map (valid as long as the walker), or
 * NULL when this walker did not resolve it: the caller then looks it up
 * with mdb_get, which also tells "missing" from "damaged". */
void hks_factwalk_get(const hks_factwalk *w, size_t n, const uint64_t *ids,
                      const uint8_t **recs, size_t *lens);

/* symbols.c: prefetch hints for decoding a batch of rows. First the
 * shared cache slots of the ids, then (a pass later, when the slots have
 * arrived) the cached strings. Hints only: no effect on results. */
void hks_sym_prefetch_slot(hk_txn *t, uint32_t id);
void hks_sym_prefetch_string(hk_txn *t, uint32_t id);

#endif
