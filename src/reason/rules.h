/*
 * rules.h — Datalog rules over the facts of a KB: parsing with safety and
 * stratification checks, rules stored in the KB (named, versioned,
 * enabled or disabled, every change audited), semi-naive materialization
 * of the derived facts beside the asserted ones, and proofs with a
 * checker.
 *
 * ==== Syntax ====
 *   Head :- Body.
 * Head is a pattern of the statement grammar with a constant predicate
 * and variables or constants as arguments (`Ancestor(?x, ?z)`); Body is a
 * conjunctive query of src/query (patterns, `not P(...)`, comparisons)
 * without select, order by or limit. A rule is safe when every variable
 * of its head occurs in a positive pattern of its body (the query parser
 * already requires this of negated patterns and comparisons). Body
 * predicates must be constants, so that the predicate dependency graph is
 * known before evaluation.
 *
 * ==== Stratification ====
 * A program is stratified when no cycle of the predicate dependency graph
 * (head <- body predicate) goes through a negated pattern; the error names
 * the rule whose negation closes the cycle and the cycle itself
 * (`A -> not B -> A`).
 *
 * ==== Storage (module databases) ====
 *   rules.rule     name -> u32 version | u8 enabled | i64 created_us |
 *                  i64 updated_us | rule text   (little-endian)
 *   rules.derived  u32 pred | u8 n | n x u32 args (big-endian symbol ids)
 *                  -> the support of the derived fact: version 2 (the
 *                  round, the rule, the free variables' values) or 1
 *                  (the round, the rule, every premise), rules_int.h
 *   rules.meta     "gen" -> u64 (little-endian) count of rule changes;
 *                  "state" -> u64 (big-endian) derived facts stored
 * Every change to a rule appends an audit entry with op "rule" whose
 * before/after are the rule's JSON.
 *
 * ==== Ownership and threads ====
 * Functions read and write through the hk_txn they are given (one txn per
 * thread); results own their memory and have _free functions.
 */
#ifndef HK_RULES_H
#define HK_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hakgal.h"
#include "query/query.h"

#define HKR_NAME_MAX 64    /* bytes of a rule name */
#define HKR_TEXT_MAX 8192  /* bytes of a rule's text */
#define HKR_RULES_MAX 4096 /* rules one KB holds */

/* ==== Parsed rules ==== */

typedef struct hkr_rule {
    char name[HKR_NAME_MAX + 1];    /* name (may be empty before storing) */
    char *text;                     /* the rule as written, trimmed (owned) */
    char *head_pred;                /* head predicate (owned) */
    uint32_t head_n;                /* head arguments */
    bool head_is_var[HK_MAX_ARGS];  /* argument is a variable */
    uint32_t head_var[HK_MAX_ARGS]; /* its index among the body's
                                       variables */
    char *head_const[HK_MAX_ARGS];  /* else the constant (owned) */
    hkq_query *body;                /* the body as a query (owned) */
    uint32_t stratum;               /* set by hkr_stratify */
} hkr_rule;

/* Parses `Head :- Body.`. Errors are HK_ERR_INVALID
 * with the column (characters) of the whole text in err->column. Free
 * with hkr_rule_free. */
hk_err hkr_parse(const char *text, size_t len, hkr_rule **out, hk_error *err);
void hkr_rule_free(hkr_rule *r);

/* True when name is 1..HKR_NAME_MAX bytes of letters, digits, '_', '-'
 * and '.', starting with a letter or '_'. */
bool hkr_name_valid(const char *name);

/* Orders the rules in strata (sets r->stratum: the rules of a stratum
 * read only asserted facts, facts derived by lower strata, and positively
 * the facts of their own stratum). HK_ERR_INVALID naming the rule and
 * the cycle through negation when there is none. */
hk_err hkr_stratify(hkr_rule *const *rules, size_t n, hk_error *err);

/* ==== Stored rules ==== */

/* The module databases of one open KB. */
typedef struct hkr_dbs {
    hks_db rule;    /* rules.rule */
    hks_db derived; /* rules.derived */
    hks_db meta;    /* rules.meta */
} hkr_dbs;

/* Registers (creating when new) the rule databases on s. On a read-only
 * handle of a KB that never held rules: HK_ERR_NOT_FOUND. */
hk_err hkr_open(hk_store *s, hkr_dbs *out, hk_error *err);

/* A stored rule as listed. */
typedef struct hkr_info {
    char name[HKR_NAME_MAX + 1]; /* its name */
    uint32_t version;            /* 1, +1 on every change */
    bool enabled;                /* evaluated by reason */
    int64_t created_us;          /* first stored */
    int64_t updated_us;          /* last changed */
    char *text;                  /* the rule (owned) */
} hkr_info;
void hkr_info_free(hkr_info *v, size_t n); /* frees the texts and v */

/* Adds or replaces rule `name` (NULL or "": named after its head
 * predicate, `Pred_1`, `Pred_2`, ...) in write txn t after checking that
 * the enabled rules with it stay stratified; out (may be NULL) receives
 * the stored state. Replacing keeps the enabled flag and bumps the
 * version; the same text again changes nothing. */
hk_err hkr_add(hk_txn *t, const hkr_dbs *d, const char *name, const char *text,
               hkr_info *out, hk_error *err);
/* Enables or disables a rule (checking stratification when enabling). */
hk_err hkr_set_enabled(hk_txn *t, const hkr_dbs *d, const char *name,
                       bool enabled, hkr_info *out, hk_error *err);
/* Deletes a rule; out gets its last state. HK_ERR_NOT_FOUND. */
hk_err hkr_delete(hk_txn *t, const hkr_dbs *d, const char *name, hkr_info *out,
                  hk_error *err);
/* One rule; HK_ERR_NOT_FOUND. Free out->text with hkr_info_free(out, 0)
 * semantics: hk_free(out->text). */
hk_err hkr_get(hk_txn *t, const hkr_dbs *d, const char *name, hkr_info *out,
               hk_error *err);
/* Every rule in name order; caller frees with hkr_info_free(*out, *n). */
hk_err hkr_list(hk_txn *t, const hkr_dbs *d, hkr_info **out, size_t *n,
                hk_error *err);
/* Counter of rule changes (rules.meta "gen"): grows with every change
 * to any rule, so a cache of the rules knows when to reload. */
hk_err hkr_generation(hk_txn *t, const hkr_dbs *d, uint64_t *gen,
                      hk_error *err);
/* The enabled rules parsed and stratified; free with hkr_rules_free. */
hk_err hkr_load(hk_txn *t, const hkr_dbs *d, hkr_rule ***out, size_t *n,
                hk_error *err);
/* The enabled stored rules and the rules compiled from the ontology
 * declarations (hkr_ontology), stratified together: the program that
 * materialization evaluates. */
hk_err hkr_load_all(hk_txn *t, const hkr_dbs *d, hkr_rule ***out, size_t *n,
                    hk_error *err);

/* ==== Ontology ==== */

/* Rules compiled from the asserted declarations Transitive(P),
 * Symmetric(P), InverseOf(P, Q), SubPropertyOf(P, Q) and SubClassOf(C, D)
 * (with IsA and IsTypeOf inheritance), each named after its declaration
 * (see rules_onto.c). Free with hkr_rules_free. */
hk_err hkr_ontology(hk_txn *t, hkr_rule ***out, size_t *n, hk_error *err);
/* True for the predicates of ontology declarations. */
bool hkr_is_declaration(const char *pred);
void hkr_rules_free(hkr_rule **v, size_t n);

/* JSON object of a rule: {"name","version","enabled","created",
 * "updated","rule"} appended to b. */
hk_err hkr_info_write_json(const hkr_info *r, hk_buf *b);

/* ==== Materialization ==== */

typedef void (*hkr_progress_fn)(void *ud, uint32_t stratum, uint32_t n_strata,
                                uint64_t derived);

typedef struct hkr_reason_res {
    uint64_t derived;     /* derived facts stored */
    uint64_t rounds;      /* semi-naive rounds over all strata */
    uint32_t strata;      /* strata evaluated */
    uint32_t rules;       /* enabled rules evaluated */
    int64_t eval_us;      /* fixpoint computation */
    int64_t store_us;     /* writing the derived facts */
    int64_t eval_cpu_us;  /* the same as CPU time of the calling thread */
    int64_t store_cpu_us; /* (hkr_materialize; 0 elsewhere) */
    int64_t load_us;      /* part of eval_us: reading the asserted facts */
    int64_t load_cpu_us;  /* (id-level evaluator only; 0 elsewhere) */
} hkr_reason_res;

/* Recomputes every derived fact in write txn t from the asserted facts
 * and the enabled rules (semi-naive, stratum by stratum) and replaces the
 * contents of rules.derived. progress may be NULL. */
hk_err hkr_materialize(hk_txn *t, const hkr_dbs *d, hkr_progress_fn progress,
                       void *progress_ud, hkr_reason_res *res, hk_error *err);

/* Updates the stored derived facts in write txn t after the one change c
 * to the asserted facts (add, delete, content update), made in t, by
 * delete-and-rederive: probing the store and rules.derived where it can
 * (rules_local.c), else over the loaded relations (rules_fixpoint.c):
 * the result equals hkr_materialize's set of derived facts, and only the
 * derived facts that lost all support are removed. A bulk import, or a
 * stored state it cannot maintain, is recomputed with hkr_materialize. */
hk_err hkr_materialize_change(hk_txn *t, const hkr_dbs *d, const hks_change *c,
                              hkr_reason_res *res, hk_error *err);

/* True when st (canonical statement content) is a stored derived fact. */
hk_err hkr_is_derived(hk_txn *t, const hkr_dbs *d, const hk_statement *st,
                      bool *derived, hk_error *err);

/* Number of derived facts stored. */
hk_err hkr_derived_count(hk_txn *t, const hkr_dbs *d, uint64_t *n,
                         hk_error *err);

/* Streams the derived facts (key order) as statements; fn returns non-OK
 * to stop with that error. */
typedef hk_err (*hkr_fact_fn)(void *ud, const hk_statement *st, hk_error *err);
hk_err hkr_derived_each(hk_txn *t, const hkr_dbs *d, hkr_fact_fn fn, void *ud,
                        hk_error *err);

/* Streams (key order) the derived facts that have one of the strings
 * ents[0..n) as an argument, reading at most max_scan derived facts
 * (0: no bound): there is no entity index of derived facts, so the scan
 * is bounded for callers on a request path. *truncated (may be NULL)
 * says the bound stopped the scan. fn returns non-OK to stop with that
 * error, or HK_ERR_LIMIT to stop without one (then HK_OK is returned). */
hk_err hkr_derived_mentioning(hk_txn *t, const hkr_dbs *d,
                              const char *const *ents, size_t n,
                              uint64_t max_scan, hkr_fact_fn fn, void *ud,
                              bool *truncated, hk_error *err);

/* ==== Maintenance ==== */

/* Attaches the rule module to s: registers its databases (a read-only
 * handle of a KB without rules gets nothing attached, and HK_OK) and a
 * change hook that updates the derived facts inside the write
 * transaction of every change to the asserted facts that a rule reads or
 * derives (one fact's change incrementally, hkr_materialize_change; a
 * bulk import or a declaration by recomputation), so derived facts always
 * match the
 * committed asserted facts and rules. Call after hk_store_open, before
 * other threads use s; detach before hk_store_close. */
hk_err hkr_attach(hk_store *s, hk_error *err);
void hkr_detach(hk_store *s);
/* The databases of an attached s; HK_ERR_NOT_FOUND when not attached or
 * the KB holds no rules. */
hk_err hkr_dbs_of(hk_store *s, hkr_dbs *out, hk_error *err);

/* ==== Queries over asserted and derived facts ==== */

/* One answer: the projected variables' values and, per positive pattern,
 * the matched fact's id (0 for a derived fact) and whether it is
 * derived. Valid during the call. */
typedef struct hkr_qrow {
    uint32_t n;                /* projected variables */
    const char *const *names;  /* their names */
    const char *const *values; /* their values */
    uint32_t n_facts;          /* positive patterns */
    const hk_fact_id *facts;   /* matched fact ids (0: derived) */
    const bool *derived;       /* matched fact is derived */
    bool any_derived;          /* some matched fact is derived */
} hkr_qrow;
typedef hk_err (*hkr_qrow_fn)(void *ud, const hkr_qrow *row, hk_error *err);

/* Runs query text (src/query's language: patterns, not, comparisons,
 * select) over the asserted facts and the stored derived facts of one
 * snapshot (t), streaming at most limit rows (0 = the query's LIMIT, or
 * all) to fn; *rows gets their count. Negated patterns see derived facts
 * too. DISTINCT and ORDER BY are refused (HK_ERR_INVALID) here. */
hk_err hkr_query(hk_txn *t, const hkr_dbs *d, const char *text, uint64_t limit,
                 hkr_qrow_fn fn, void *ud, uint64_t *rows, hk_error *err);

/* *yes = some pattern (positive or negated) of query text can match a
 * stored derived fact (its predicate has derived facts, or it is a variable and
 * there are any): only then does hkr_query answer differently from the store
 * alone. Parse errors as hkq_parse. */
hk_err hkr_query_needs_derived(hk_txn *t, const hkr_dbs *d, const char *text,
                               bool *yes, hk_error *err);

/* ==== Proofs ==== */

/* Appends the derivation tree of statement st as JSON:
 *   {"statement": S, "derived": false, "id": ID}          (asserted leaf)
 *   {"statement": S, "derived": true, "rule": NAME,
 *    "bindings": {"x": "a", ...}, "premises": [NODE, ...]}
 * HK_ERR_NOT_FOUND when st is neither asserted nor derived. Depth is
 * bounded by the materialization's rounds. */
hk_err hkr_why_json(hk_txn *t, const hkr_dbs *d, const hk_statement *st,
                    hk_buf *out, hk_error *err);

/* ==== Constraints ==== */

/* Appends a JSON array of the stored derived Contradiction facts (at most
 * limit, key order), each {"statement": S, "proof": TREE}; *n gets how
 * many there are in all. */
hk_err hkr_contradictions_json(hk_txn *t, const hkr_dbs *d, size_t limit,
                               hk_buf *out, uint64_t *n, hk_error *err);

/* Strict mode of the KB (rules.meta "strict"; default off): a write after
 * which the materialization holds a Contradiction fact it did not hold
 * before fails with HK_ERR_EXISTS (HTTP 409), its message naming the
 * contradiction and its proof, and nothing of it is committed. Changing
 * the mode is audited (op "rule"). */
hk_err hkr_strict_get(hk_txn *t, const hkr_dbs *d, bool *on, hk_error *err);
hk_err hkr_strict_set(hk_txn *t, const hkr_dbs *d, bool on, hk_error *err);

/* In write txn t: materializes, and in strict mode refuses (HK_ERR_EXISTS)
 * when a Contradiction fact appeared. What the change hook and rule
 * changes run. */
hk_err hkr_maintain(hk_txn *t, const hkr_dbs *d, hkr_reason_res *res,
                    hk_error *err);

/* hkr_maintain after change c to the asserted facts, maintained
 * incrementally (hkr_materialize_change); c NULL: recomputed. */
hk_err hkr_maintain_change(hk_txn *t, const hkr_dbs *d, const hks_change *c,
                           hkr_reason_res *res, hk_error *err);

typedef struct hkr_verify_res {
    uint64_t checked; /* derived facts checked */
    uint64_t bad;     /* steps that failed */
    char first[512];  /* why the first failed step failed */
} hkr_verify_res;

/* Checks every stored derivation step: its rule exists, is enabled and
 * parses; the premises instantiate its body with one binding that also
 * gives the derived fact as the head; comparisons hold; negated patterns
 * match no asserted or derived fact; asserted premises exist; derived
 * premises are stored and of an earlier round (so proofs are finite). */
hk_err hkr_verify(hk_txn *t, const hkr_dbs *d, hkr_verify_res *res,
                  hk_error *err);

#endif /* HK_RULES_H */
