/*
 * svc_rules.h — the rule operations of the service layer (rules, reason,
 * why), shared by the CLI, REST and MCP adapters. Logic lives in
 * src/reason/rules.h; these functions decode, check ranges, call it and
 * render JSON.
 *
 * Conventions are those of service.h: reads take the caller's hk_txn;
 * writes are a request struct plus an apply step (hk_svc_apply_fn) that
 * may run twice and resets its results first.
 */
#ifndef HK_SVC_RULES_H
#define HK_SVC_RULES_H

#include "hakgal.h"
#include "reason/rules.h"

/* The rule databases of s: attached ones (hk_svc_store_open), else
 * registered here (created on a writable handle). HK_ERR_NOT_FOUND for a
 * read-only handle of a KB that never held rules. */
hk_err hk_svc_rules_dbs(hk_store *s, hkr_dbs *out, hk_error *err);

/* ==== Changes ==== */

typedef enum hk_svc_rule_verb {
    HK_SVC_RULE_ADD = 0,     /* add or replace (name, text) */
    HK_SVC_RULE_ENABLE = 1,  /* name */
    HK_SVC_RULE_DISABLE = 2, /* name */
    HK_SVC_RULE_DELETE = 3   /* name */
} hk_svc_rule_verb;

/* One change to a rule, then a new materialization in the same
 * transaction, so derived facts always follow the rules. Errors:
 * HK_ERR_INVALID (field "rule": syntax, safety or stratification, with
 * the column; field "name"), HK_ERR_NOT_FOUND (no such rule). */
typedef struct hk_svc_rule_op {
    hkr_dbs d;             /* the KB's rule databases */
    hk_svc_rule_verb verb; /* what to do */
    const char *name;      /* rule name (ADD: NULL/"" = generated) */
    const char *text;      /* ADD: the rule */
    hkr_info out;          /* out: the rule's state after (DELETE:
                              before); free with hk_svc_rule_op_free */
    hkr_reason_res reason; /* out: the materialization that followed */
} hk_svc_rule_op;
hk_err hk_svc_rule_apply(hk_txn *t, void *arg, hk_error *err);
void hk_svc_rule_op_free(hk_svc_rule_op *op);

/* {"rule": {...}, "derived": N} of a finished op. */
hk_err hk_svc_rule_op_write_json(const hk_svc_rule_op *op, hk_buf *out);

/* Materialization (`hakgal reason`): recomputes the derived facts. */
typedef struct hk_svc_reason {
    hkr_dbs d;                /* the KB's rule databases */
    hkr_progress_fn progress; /* or NULL */
    void *progress_ud;        /* passed to progress */
    hkr_reason_res res;       /* out */
} hk_svc_reason;
hk_err hk_svc_reason_apply(hk_txn *t, void *arg, hk_error *err);
hk_err hk_svc_reason_write_json(const hkr_reason_res *r, hk_buf *out);

/* Strict mode on or off (hkr_strict_set): with it, a write that derives
 * a new Contradiction fact fails with HK_ERR_EXISTS (409) and the
 * proof. */
typedef struct hk_svc_rules_strict {
    hkr_dbs d; /* the KB's rule databases */
    bool on;   /* the new mode */
} hk_svc_rules_strict;
hk_err hk_svc_rules_strict_apply(hk_txn *t, void *arg, hk_error *err);

/* ==== Reads ==== */

/* {"count": N, "strict": bool, "contradictions": [{"statement", "proof"}]}:
 * the derived Contradiction facts (constraint rules and the declared
 * Functional, Asymmetric and NegationOf constraints) with their proofs,
 * at most limit of them. */
hk_err hk_svc_rule_contradictions_json(hk_txn *t, const hkr_dbs *d,
                                       size_t limit, hk_buf *out,
                                       hk_error *err);

/* {"strict": bool}: the KB's strict mode (hkr_strict_get). */
hk_err hk_svc_rules_strict_json(hk_txn *t, const hkr_dbs *d, hk_buf *out,
                                hk_error *err);

/* {"rules": [...], "derived": N}. */
hk_err hk_svc_rules_list_json(hk_txn *t, const hkr_dbs *d, hk_buf *out,
                              hk_error *err);
/* One rule's JSON; HK_ERR_NOT_FOUND (field "name"). */
hk_err hk_svc_rule_show_json(hk_txn *t, const hkr_dbs *d, const char *name,
                             hk_buf *out, hk_error *err);
/* The derivation tree of a statement (text in the statement grammar) as
 * hkr_why_json writes it. HK_ERR_INVALID (field "statement", column) for
 * text that is not a statement, HK_ERR_NOT_FOUND when it is neither
 * asserted nor derived. d NULL: a KB without rules (asserted facts only). */
hk_err hk_svc_why_json(hk_txn *t, const hkr_dbs *d, const char *statement,
                       hk_buf *out, hk_error *err);
/* {"checked": N, "bad": N, "first": "..."} of the proof checker. */
hk_err hk_svc_reason_verify(hk_txn *t, const hkr_dbs *d, hkr_verify_res *res,
                            hk_error *err);
hk_err hk_svc_reason_verify_write_json(const hkr_verify_res *r, hk_buf *out);

/* ==== Queries over asserted and derived facts ==== */

/* A query row as JSON: {"bindings": {...}, "facts": [ids, 0 = derived],
 * "derived": any matched fact derived, "derived_facts": [bool per
 * pattern]}. */
hk_err hk_svc_rules_qrow_json(const hkr_qrow *row, hk_buf *out);

#endif /* HK_SVC_RULES_H */
