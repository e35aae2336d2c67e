/*
 * query/query.h — conjunctive multi-pattern queries: parser, planner and
 * an index nested-loop join over the store and in-memory relations.
 *
 * Text form (keywords are case-insensitive):
 *
 *   [select ?a ?b [distinct] where] ITEM, ITEM, ...
 *       [order by ?a [desc], ...] [limit N]
 *
 * An ITEM is a pattern in the statement grammar (`HasPart(?c, ?p)`,
 * `?r(Water, _)`), a negated pattern `not P(...)` whose variables are all
 * bound by positive patterns, or a comparison `?y < 1970` with one of
 * = != < <= > >= between variables and constants (numbers compare
 * numerically when both sides parse as numbers, else byte-wise).
 *
 * Evaluation binds variables to symbol ids of the store's dictionary, left
 * to right in plan order: every step reads the facts of one pattern from
 * the most selective index given the values bound so far (hks_adj for a
 * bound argument, the predicate index, else every fact), so a query holds
 * one open iterator per pattern and nothing per row (DISTINCT and ORDER BY
 * are the exceptions and say so). The rule engine reuses hkq_run with
 * per-pattern sources (hkq_src): the store, an in-memory relation (the
 * delta of semi-naive evaluation), or both.
 *
 * Threads: a parsed query is immutable after hkq_plan and may be shared;
 * a run belongs to the thread of its transaction.
 */
#ifndef HKQ_QUERY_H
#define HKQ_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hakgal.h"
#include "store/store.h"

#define HKQ_MAX_ATOMS 16     /* patterns (positive and negated) */
#define HKQ_MAX_CMPS 16      /* comparisons */
#define HKQ_MAX_VARS 64      /* distinct variables */
#define HKQ_MAX_ORDER 4      /* ORDER BY keys */
#define HKQ_MAX_TEXT 65536   /* bytes of query text */
#define HKQ_ORDER_MAX 100000 /* rows an ORDER BY page may need to keep */

typedef struct hkq_query hkq_query;

/* Parses text[0..len). Errors are HK_ERR_INVALID with the 1-based column
 * (characters) in err->column and the message. Free with hkq_free. */
hk_err hkq_parse(const char *text, size_t len, hkq_query **out, hk_error *err);
void hkq_free(hkq_query *q);

/* True when text is more than one plain pattern (several items, select,
 * not, a comparison, order by or limit): `hakgal query` sends such text
 * here and single patterns to the single-pattern path. */
bool hkq_is_multi(const char *text, size_t len);

/* Read-only view of pattern a (0..hkq_n_atoms-1, text order, positive
 * and negated) for the rule engine, which checks rule safety and
 * stratification on the parsed body. Texts point into q. */
typedef struct hkq_atom_view {
    bool neg;                           /* `not P(...)` */
    uint32_t pos_index;                 /* index among positive patterns
                                           (hkq_row.facts); UINT32_MAX when
                                           negated */
    uint32_t n_args;                    /* arguments */
    hk_term_kind kind[HK_MAX_ARGS + 1]; /* slot 0 = predicate, then args */
    uint32_t var[HK_MAX_ARGS + 1];      /* variable index (kind VAR) */
    const char *text[HK_MAX_ARGS + 1];  /* constant text (kind CONST) */
} hkq_atom_view;
uint32_t hkq_n_atoms(const hkq_query *q);
void hkq_atom_view_get(const hkq_query *q, uint32_t a, hkq_atom_view *out);
/* Read-only view of comparison c (0..hkq_n_cmps-1, text order). */
typedef struct hkq_cmp_view {
    int op;               /* 0 =, 1 !=, 2 <, 3 <=, 4 >, 5 >= */
    hk_term_kind kind[2]; /* left, right: constant or variable */
    uint32_t var[2];      /* variable index (kind VAR) */
    const char *text[2];  /* constant text (kind CONST) */
} hkq_cmp_view;
uint32_t hkq_n_cmps(const hkq_query *q);
void hkq_cmp_view_get(const hkq_query *q, uint32_t c, hkq_cmp_view *out);
/* Whether `a OP b` holds as the query language compares values. */
bool hkq_cmp_holds(int op, const char *a, size_t al, const char *b, size_t bl);
/* True when the text starts with `select ... where`. */
bool hkq_has_select(const hkq_query *q);

/* Variables in order of first appearance; the projected ones (select, or
 * all) and their names. */
uint32_t hkq_n_vars(const hkq_query *q);
const char *hkq_var_name(const hkq_query *q, uint32_t v);
uint32_t hkq_n_select(const hkq_query *q);
uint32_t hkq_select_var(const hkq_query *q, uint32_t i);
uint32_t hkq_n_positive(const hkq_query *q); /* positive patterns */
bool hkq_distinct(const hkq_query *q);
bool hkq_ordered(const hkq_query *q);
/* LIMIT of the text; 0 when none was given. */
uint64_t hkq_limit(const hkq_query *q);

/* Optional index of a relation: the positions (into facts[], ascending;
 * positions >= n are skipped) of the facts with symbol sym at argument
 * pos (0-based) into *list, *n; false when the relation has no index on
 * pos (the run then scans it). */
typedef bool (*hkq_rel_probe_fn)(void *ud, uint32_t pos, uint32_t sym,
                                 const uint32_t **list, size_t *n);

/* An in-memory relation: n facts as symbol ids with their fact ids (0 is
 * allowed for facts not stored). Read, never copied: it must outlive the
 * run. With probe, a step that knows an argument's value reads only the
 * facts the index gives for it. */
typedef struct hkq_rel {
    const hks_fact_syms *facts; /* n facts */
    const hk_fact_id *ids;      /* n ids, or NULL (all 0) */
    size_t n;                   /* number of facts */
    hkq_rel_probe_fn probe;     /* index, or NULL */
    void *probe_ud;             /* passed to probe */
} hkq_rel;

/* Where a positive pattern reads its facts. */
typedef struct hkq_src {
    bool store;         /* the store (through the txn's indexes) */
    const hkq_rel *rel; /* and/or this relation (NULL: none) */
} hkq_src;

/* One result: values[v] is the symbol id bound to variable v (0 when v
 * occurs only in comparisons ... never: every variable is bound), and
 * facts[i] the id of the fact matched by positive pattern i (text order).
 * Valid during the call only. */
typedef struct hkq_row {
    const uint32_t *values;  /* hkq_n_vars entries */
    const hk_fact_id *facts; /* hkq_n_positive entries */
} hkq_row;

/* What a row function tells the run. */
typedef enum hkq_flow {
    HKQ_NEXT = 0,       /* row taken; go on */
    HKQ_STOP_AFTER = 1, /* row taken; stop (cursor: after this row) */
    HKQ_STOP_BEFORE = 2 /* row not taken; stop (cursor: at this row) */
} hkq_flow;

/* Receives a row; a non-OK return stops the run with that error. *flow
 * is HKQ_NEXT on entry. */
typedef hk_err (*hkq_row_fn)(void *ud, const hkq_row *row, hkq_flow *flow,
                             hk_error *err);

/* Limits a run: a query that examines more candidate facts or runs longer
 * stops with HK_ERR_LIMIT naming the budget. 0 = unlimited. */
typedef struct hkq_budget {
    uint64_t max_candidates; /* facts read from indexes and relations */
    int64_t max_us;          /* wall time */
} hkq_budget;

/* One step of the plan as explain shows it. */
typedef struct hkq_step_info {
    uint32_t atom;       /* positive pattern index (text order) */
    const char *access;  /* "adj", "predicate", "all", "relation" */
    int key_pos;         /* argument position of the index key, or -1 */
    double estimate;     /* planned rows out per input binding x inputs */
    uint64_t candidates; /* facts read by this step */
    uint64_t rows;       /* bindings this step passed on */
} hkq_step_info;

typedef struct hkq_run_req {
    const hkq_src *srcs; /* per positive pattern; NULL = all from store */
    hkq_budget budget;   /* limits */
    const char *cursor;  /* resume after this path cursor (no DISTINCT /
                            ORDER BY); NULL or "" = start */
    hkq_row_fn row;      /* receives rows */
    void *row_ud;        /* passed to row */
} hkq_run_req;

typedef struct hkq_run_res {
    uint64_t rows;                      /* rows delivered */
    uint32_t n_steps;                   /* plan steps */
    hkq_step_info steps[HKQ_MAX_ATOMS]; /* in plan order */
    uint32_t preloaded; /* predicates read whole into the run's memory
                           once their slices were read often enough */
    uint32_t by_key;    /* predicate walks finished from the statement
                           index (sorted by id) instead of the records */
    hk_buf cursor;      /* after a stop: resumes after the last row taken
                           (path cursor); empty when the run ended */
} hkq_run_res;

/* Plans q for transaction t (cardinalities from the store's counts) and
 * streams its rows (all of them: no DISTINCT, ORDER BY or LIMIT here — the
 * caller applies them; see hkq_exec) to req->row. Release res->cursor with
 * hk_buf_free. */
hk_err hkq_run(hk_txn *t, const hkq_query *q, const hkq_run_req *req,
               hkq_run_res *res, hk_error *err);

/* A full query as users see it: projection, DISTINCT, ORDER BY, LIMIT
 * and paging. The row function gets the projected values as strings
 * (valid during the call) and the matched fact ids. */
typedef struct hkq_out_row {
    uint32_t n;                /* projected variables */
    const char *const *names;  /* their names */
    const char *const *values; /* their values */
    uint32_t n_facts;          /* positive patterns */
    const hk_fact_id *facts;   /* matched fact ids */
} hkq_out_row;
typedef hk_err (*hkq_out_fn)(void *ud, const hkq_out_row *row, hk_error *err);

typedef struct hkq_exec_req {
    const char *cursor; /* NULL/"" = first page */
    uint64_t limit;     /* rows per page; 0 = the query's LIMIT or all */
    hkq_budget budget;  /* limits */
    hkq_out_fn row;     /* receives rows */
    void *row_ud;       /* passed to row */
} hkq_exec_req;

typedef struct hkq_exec_res {
    uint64_t count;  /* rows delivered */
    hk_buf cursor;   /* next page, empty when none */
    hkq_run_res run; /* plan and counters (explain) */
} hkq_exec_res;

hk_err hkq_exec(hk_txn *t, const hkq_query *q, const hkq_exec_req *req,
                hkq_exec_res *res, hk_error *err);
void hkq_exec_res_free(hkq_exec_res *res);

/* Appends the plan of a finished run as text, one line per step. */
hk_err hkq_explain_text(const hkq_query *q, const hkq_run_res *r, hk_buf *out);
/* Appends the text of positive pattern i as written. */
hk_err hkq_atom_text(const hkq_query *q, uint32_t i, hk_buf *out);

#endif /* HKQ_QUERY_H */
