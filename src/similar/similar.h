/*
 * similar.h — lexical similarity of statements and the two scans built on
 * it: facts similar to a given text (semantic_similarity) and pairs of
 * near-duplicate facts (analyze_duplicates). It stands in for meaning until
 * vector embeddings arrive; synonyms score low.
 *
 * ==== Ownership ====
 * A profile belongs to its caller (hk_sim_profile_release). Result structs
 * own their facts and arrays; release them with their _free function
 * (safe on a zeroed or already freed result). Requests are borrowed for
 * the call.
 *
 * ==== Threads ====
 * Profiles and scores are pure functions: any thread. The scans read
 * through the hk_txn they are given (read or write) and are as thread-safe
 * as that transaction (one transaction per thread). They use only the
 * public store API (include/hakgal.h).
 */
#ifndef HK_SIMILAR_H
#define HK_SIMILAR_H

#include "hakgal.h"

/* ==== Profiles and scores ==== */

/* Profile of a statement text: its search tokens (hk_tokenize: lower case,
 * camelCase split) and the character trigrams of those tokens. */
typedef struct hk_sim_profile {
    uint64_t *tokens; /* sorted FNV-1a hashes of the distinct tokens */
    size_t n_tokens;  /* entries in tokens */
    uint64_t *grams;  /* sorted hashes of the distinct character trigrams */
    size_t n_grams;   /* entries in grams */
} hk_sim_profile;

#define HK_SIM_PROFILE_MAX_TOKENS 512 /* tokens of a text that count */

/* Builds p from text[0..len). On failure (HK_ERR_NOMEM) p is empty. Release
 * with hk_sim_profile_release. */
hk_err hk_sim_profile_build(const char *text, size_t len, hk_sim_profile *p);
void hk_sim_profile_release(hk_sim_profile *p);
/* 0..1: the mean of the token-set and trigram-set Jaccard indices (1 for
 * two empty profiles). */
double hk_sim_score(const hk_sim_profile *a, const hk_sim_profile *b);

/* Progress of a long scan: done out of total units, what names the phase.
 * Called on the scanning thread. */
typedef void (*hk_sim_progress_fn)(void *ud, double done, double total,
                                   const char *what);

/* ==== Facts similar to a text ==== */

#define HK_SIM_CANDIDATES 500 /* search hits compared with the text */

typedef struct hk_sim_query_req {
    const char *text; /* statement or phrase to compare (NUL-terminated) */
    double threshold; /* minimum score, 0..1 */
    size_t limit;     /* matches returned at most (>= 1) */
} hk_sim_query_req;

typedef struct hk_sim_match {
    double score; /* 0..1, rounded to 4 decimals */
    hk_fact fact; /* the similar fact (owned) */
} hk_sim_match;

typedef struct hk_sim_query_res {
    size_t examined;       /* search hits compared */
    hk_sim_match *matches; /* best first; ties in search rank order */
    size_t n_matches;      /* entries in matches (<= limit) */
} hk_sim_query_res;

/* Compares the text with the facts that the search index finds for it
 * (at most HK_SIM_CANDIDATES) and keeps those scoring at least threshold.
 * Caller frees res with hk_sim_query_res_free. */
hk_err hk_sim_query(hk_txn *t, const hk_sim_query_req *req,
                    hk_sim_query_res *res, hk_error *err);
void hk_sim_query_res_free(hk_sim_query_res *res);

/* ==== Near-duplicate pairs ==== */

#define HK_SIM_DUP_WINDOW 20000 /* newest facts read */
#define HK_SIM_DUP_MAX_DF 200   /* a token in more facts pairs no facts */
#define HK_SIM_DUP_MAX_COMPARISONS 5000000 /* scores computed per scan */

typedef struct hk_sim_dup_req {
    double threshold;            /* minimum score, 0..1 */
    size_t max_pairs;            /* pairs returned at most (>= 1) */
    hk_sim_progress_fn progress; /* or NULL */
    void *progress_ud;           /* passed to progress */
} hk_sim_dup_req;

typedef struct hk_sim_pair {
    double score; /* 0..1, rounded to 4 decimals */
    hk_fact a;    /* the newer fact of the pair (owned) */
    hk_fact b;    /* the older one (owned) */
} hk_sim_pair;

typedef struct hk_sim_dup_res {
    size_t examined;    /* facts read (newest first) */
    hk_sim_pair *pairs; /* best first */
    size_t n_pairs;     /* entries in pairs (<= max_pairs) */
} hk_sim_dup_res;

/* Pairs of facts among the newest HK_SIM_DUP_WINDOW that share a token
 * held by at most HK_SIM_DUP_MAX_DF of them and score at least threshold.
 * Caller frees res with hk_sim_dup_res_free. */
hk_err hk_sim_duplicates(hk_txn *t, const hk_sim_dup_req *req,
                         hk_sim_dup_res *res, hk_error *err);
void hk_sim_dup_res_free(hk_sim_dup_res *res);

#endif /* HK_SIMILAR_H */
