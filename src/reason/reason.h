/*
 * reason.h — rules over the facts of a KB: contradictions between facts
 * (consistency_check) and facts that are invalid or unusual for their
 * predicate (validate_facts).
 *
 * Contradiction rules read their declarations from the KB itself, as
 * ordinary facts:
 *   Asymmetric(P)        P(a, b) and P(b, a) contradict; P(a, a) too.
 *                        Asymmetric by default: IsA, HasPart, IsPartOf,
 *                        Causes; a Symmetric(P) fact removes a default.
 *   Functional(P)        P(a, x) and P(a, y) with x != y contradict.
 *   NegationOf(N, P)     N(args) and P(args) contradict. Without a
 *                        declaration, NotP is the negation of P for every
 *                        predicate P present in the KB.
 *
 * ==== Ownership ====
 * Result structs own every string and array in them; release them with
 * their _free function (safe on a zeroed or already freed result).
 * Requests are borrowed for the call.
 *
 * ==== Threads ====
 * The functions read through the hk_txn they are given (read or write) and
 * are as thread-safe as that transaction (one transaction per thread).
 * They use only the public store API (include/hakgal.h).
 */
#ifndef HK_REASON_H
#define HK_REASON_H

#include "hakgal.h"

#define HK_RSN_MAX_FINDINGS 1000 /* contradictions or issues reported */
#define HK_RSN_DECL_MAX 10000    /* declaration facts read per kind */
#define HK_RSN_FUNCTIONAL_MAX 8  /* values of a functional conflict shown */

/* Progress of a long check: done out of total units, what names the
 * phase. Called on the checking thread. */
typedef void (*hk_rsn_progress_fn)(void *ud, double done, double total,
                                   const char *what);

/* ==== Contradictions ==== */

typedef enum hk_rsn_kind {
    HK_RSN_NEGATION = 0,          /* a fact and its declared negation */
    HK_RSN_ASYMMETRIC_CYCLE = 1,  /* P(a, b) and P(b, a), P asymmetric */
    HK_RSN_ASYMMETRIC_REFLEX = 2, /* P(a, a), P asymmetric */
    HK_RSN_FUNCTIONAL = 3         /* P(a, x), P(a, y), P functional */
} hk_rsn_kind;

/* "negation", "asymmetric_cycle", "asymmetric_reflexive",
 * "functional_conflict". Static. */
const char *hk_rsn_kind_name(hk_rsn_kind kind);

/* A fact named by a finding. */
typedef struct hk_rsn_fact_ref {
    hk_fact_id id;   /* the fact */
    char *statement; /* its canonical statement (owned) */
} hk_rsn_fact_ref;

typedef struct hk_rsn_finding {
    hk_rsn_kind kind;                             /* which rule */
    char description[600];                        /* why, for people */
    hk_rsn_fact_ref facts[HK_RSN_FUNCTIONAL_MAX]; /* facts involved */
    size_t n_facts;                               /* entries in facts */
} hk_rsn_finding;

/* A negation rule: facts of `negated` contradict facts of `positive` with
 * the same arguments. */
typedef struct hk_rsn_negation {
    char *negated;  /* e.g. NotIsA (owned) */
    char *positive; /* e.g. IsA (owned) */
} hk_rsn_negation;

typedef struct hk_rsn_check_req {
    size_t limit;                /* facts examined per rule (>= 1) */
    hk_rsn_progress_fn progress; /* after each rule, or NULL */
    void *progress_ud;           /* passed to progress */
} hk_rsn_check_req;

typedef struct hk_rsn_check_res {
    uint64_t examined;          /* facts examined over all rules */
    bool truncated;             /* HK_RSN_MAX_FINDINGS was reached */
    char **asymmetric;          /* predicates checked as asymmetric */
    size_t n_asymmetric;        /* entries in asymmetric */
    char **functional;          /* predicates declared functional */
    size_t n_functional;        /* entries in functional */
    hk_rsn_negation *negations; /* declared pairs, then NotP/P pairs */
    size_t n_negations;         /* entries in negations */
    hk_rsn_finding *findings;   /* contradictions found, rule by rule */
    size_t n_findings;          /* entries in findings */
} hk_rsn_check_res;

/* Reads the declarations, then runs the asymmetry rules, the negation
 * rules and the functional rules in that order, each over at most
 * req->limit facts of its predicate. Every contradiction is reported once.
 * Caller frees res with hk_rsn_check_res_free. */
hk_err hk_rsn_check(hk_txn *t, const hk_rsn_check_req *req,
                    hk_rsn_check_res *res, hk_error *err);
void hk_rsn_check_res_free(hk_rsn_check_res *res);

/* ==== Validation ==== */

typedef enum hk_rsn_issue_kind {
    HK_RSN_INVALID_SYNTAX = 0, /* breaks the statement rules */
    HK_RSN_UNUSUAL_ARITY = 1   /* differs from >= 90% of its predicate */
} hk_rsn_issue_kind;

/* "invalid_syntax", "unusual_arity". Static. */
const char *hk_rsn_issue_kind_name(hk_rsn_issue_kind kind);

typedef struct hk_rsn_issue {
    hk_rsn_issue_kind kind; /* what is wrong */
    hk_fact_id id;          /* the fact */
    char *statement;        /* its canonical statement (owned) */
    char message[700];      /* what and why, for people */
} hk_rsn_issue;

typedef struct hk_rsn_validate_req {
    size_t limit; /* newest facts checked (>= 1) */
} hk_rsn_validate_req;

typedef struct hk_rsn_validate_res {
    size_t examined;      /* facts checked */
    hk_rsn_issue *issues; /* newest first */
    size_t n_issues;      /* entries in issues (<= HK_RSN_MAX_FINDINGS) */
} hk_rsn_validate_res;

/* Checks the newest req->limit facts; stops early once
 * HK_RSN_MAX_FINDINGS issues were found. Caller frees res with
 * hk_rsn_validate_res_free. */
hk_err hk_rsn_validate(hk_txn *t, const hk_rsn_validate_req *req,
                       hk_rsn_validate_res *res, hk_error *err);
void hk_rsn_validate_res_free(hk_rsn_validate_res *res);

#endif /* HK_REASON_H */
