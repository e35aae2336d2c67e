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

#endif /* HKQ_QUERY_INT_H */
