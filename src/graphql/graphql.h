/*
 * graphql.h — GraphQL (spec of October 2021) over the service layer,
 * independent of any transport (the HTTP routes are src/server/
 * routes_graphql.c).
 *
 * A request goes through three steps:
 *   1. hk_gql_prepare: parse the document, validate it against the schema
 *      (with depth and complexity limits), pick the operation and coerce
 *      the variables. No transaction is needed; every error is answered
 *      as a spec response {"errors": [...]} with locations.
 *   2. the caller looks at hk_gql_prepared_mutation() to decide which
 *      transaction to give (mutations need a write transaction and a
 *      write role),
 *   3. hk_gql_execute runs the operation on that transaction and returns
 *      the response {"data": ..., "errors": [...]}. A mutation's fields
 *      run in order in the one transaction; execute may run twice on the
 *      same prepared request (group-commit retry) and returns a fresh
 *      response each time. It returns HK_OK with field errors inside the
 *      response, and a store error code (HK_ERR_STORE, _FULL, _NOMEM,
 *      _IO) only when the transaction must be abandoned.
 *
 * The schema's SDL is hk_gql_sdl(). Field results are the JSON forms of
 * the service layer (hk_svc_fact_jansson, the REST answers), so GraphQL
 * and REST answer the same data for the same operation.
 *
 * Threads: prepared requests are not shared; the schema tables are
 * read-only (the introspection value is built on first use under a
 * pthread_once).
 */
#ifndef HK_GRAPHQL_H
#define HK_GRAPHQL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "hakgal.h"
#include "service/service.h" /* hk_role */

typedef struct hk_gql_doc hk_gql_doc;
typedef struct hk_gql_prepared hk_gql_prepared;
typedef struct hkv_store hkv_store; /* src/vector/vector.h */

typedef struct hk_gql_limits {
    size_t max_tokens;       /* lexical tokens per document (0: 20000) */
    unsigned max_depth;      /* selection nesting (0: 15) */
    unsigned max_complexity; /* summed field costs times page sizes
                                (0: 50000) */
} hk_gql_limits;

/* What resolvers may use while a request executes. */
typedef struct hk_gql_env {
    hk_txn *txn;              /* read or write transaction (caller's) */
    hk_store *store;          /* the KB (its rule module); NULL: none */
    hkv_store *vs;            /* its vector module; NULL: no spaces */
    hk_role role;             /* the caller's role (review decisions need
                                 HK_ROLE_REVIEW; 0: none) */
    const char *actor;        /* the caller's name (reviewer), or NULL */
    size_t default_limit;     /* page size when first is not given */
    size_t max_limit;         /* largest first accepted */
    size_t max_statement;     /* statement text limit in bytes (0: none) */
    int64_t query_timeout_us; /* per pattern query (0: none) */
} hk_gql_env;

/* ==== Parsing ==== */

/* Parses an executable document (src[0..len), UTF-8). On a syntax error
 * returns HK_ERR_INVALID with err's line and column set and *out NULL;
 * HK_ERR_LIMIT beyond max_tokens or the nesting bound. Caller frees *out
 * with hk_gql_doc_free. */
hk_err hk_gql_parse(const char *src, size_t len, size_t max_tokens,
                    hk_gql_doc **out, hk_error *err);
void hk_gql_doc_free(hk_gql_doc *doc);

/* ==== Requests ==== */

/* Parses, validates and picks operation_name (NULL: the only one) with
 * variables (an object or NULL; borrowed). On success *out is set and
 * *response NULL; on a request error *out is NULL and *response holds the
 * {"errors": [...]} answer (new reference). HK_ERR_NOMEM only when out of
 * memory. Caller frees *out with hk_gql_prepared_free. */
hk_err hk_gql_prepare(const char *query, size_t len, const char *operation_name,
                      json_t *variables, const hk_gql_limits *lim,
                      hk_gql_prepared **out, json_t **response);
bool hk_gql_prepared_mutation(const hk_gql_prepared *p);
/* True when the query selects, at its root (through fragments too), a
 * field that may take long: `similar` (the first search of a space reads
 * or builds its index) or `search` with a mode (vector and hybrid search
 * embed the text and search an index). A server runs such a query off
 * its event loop, as REST runs the same searches. */
bool hk_gql_prepared_blocking(const hk_gql_prepared *p);
/* Forgets every kept document (prepare keeps validated documents by
 * query text, at most 128, least recently used out). Documents in use
 * are freed by their last user. */
void hk_gql_cache_clear(void);
void hk_gql_prepared_free(hk_gql_prepared *p);

/* Executes p in env->txn. *response gets {"data": ..., "errors": [...]}
 * (new reference) when HK_OK. */
hk_err hk_gql_execute(hk_gql_prepared *p, const hk_gql_env *env,
                      json_t **response, hk_error *err);

/* The same, appending the response as JSON text to out (nothing is
 * appended on an error): what the HTTP routes send. */
hk_err hk_gql_execute_text(hk_gql_prepared *p, const hk_gql_env *env,
                           hk_buf *out, hk_error *err);

/* ==== Schema ==== */

/* The schema in SDL (static text, built once). */
const char *hk_gql_sdl(void);

#endif /* HK_GRAPHQL_H */
