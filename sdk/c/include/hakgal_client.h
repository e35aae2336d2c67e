/*
 * hakgal_client.h — libhakgal-client, the C client of a remote hakgal
 * knowledge base over its REST API (/v2, docs/API.md), on libcurl and
 * jansson.
 *
 * Conventions (those of hakgal.h, with the prefix hkc_ so that a program
 * may link libhakgal and libhakgal-client together):
 *  - Every fallible function returns an hkc_err; HKC_OK is 0. When an
 *    hkc_error pointer is given (it may be NULL) it is filled: for an error
 *    answer of the server (HKC_ERR_API) with the HTTP status and the
 *    server's code, message and detail; otherwise with what failed and why.
 *  - Strings are NUL-terminated UTF-8.
 *  - Ownership: every result struct is filled by one call and released by
 *    its own _free function (which also zeroes it; freeing a zeroed struct
 *    is fine). Pointers inside a result stay valid until it is freed.
 *  - Threads: an hkc_client and the iterators made from it belong to one
 *    thread at a time (one libcurl handle, reused for keep-alive). Use one
 *    client per thread for parallel calls.
 *  - Retries: an answer 503 or 429 is retried up to max_retries times after
 *    the answer's Retry-After (seconds, capped at max_backoff_ms) or else
 *    backoff_ms * 2^attempt with up to 50% jitter. Every write of the API is
 *    idempotent, so writes are retried too. Timeouts and network errors
 *    are not retried (the request may have reached the server).
 */
#ifndef HAKGAL_CLIENT_H
#define HAKGAL_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HKC_VERSION "0.1.0"
const char *hkc_version(void); /* static, never NULL */

/* ==== Errors ==== */

typedef enum hkc_err {
    HKC_OK = 0,
    HKC_DONE = 1,           /* an iterator has no more items (not an error) */
    HKC_ERR_API = 2,        /* the server answered with an error status */
    HKC_ERR_TIMEOUT = 3,    /* no answer within timeout_ms */
    HKC_ERR_CONNECTION = 4, /* connection refused, reset, DNS, TLS */
    HKC_ERR_INVALID = 5,    /* a bad argument (NULL, empty, bad URL) */
    HKC_ERR_NOMEM = 6,      /* allocation failed */
    HKC_ERR_BAD_ANSWER = 7, /* the answer is not the JSON expected */
    HKC_ERR_TOO_LARGE = 8   /* the answer exceeds max_answer_bytes */
} hkc_err;

typedef struct hkc_error {
    hkc_err code;      /* same value the function returned */
    int status;        /* HTTP status of the answer; 0 when none came */
    char api_code[64]; /* the server's code ("not_found", ...); for
                          errors without an answer "timeout",
                          "connection", "invalid", "no_memory",
                          "bad_answer", "too_large" */
    char message[512]; /* the server's message, or what failed and why */
    char field[64];    /* detail.field of the server, "" when none */
    uint32_t column;   /* detail.column of the server, 0 when none */
    char detail[512];  /* the whole detail object as JSON text (cut at
                          511 bytes), "" when null */
} hkc_error;

const char *hkc_strerror(hkc_err code); /* static, never NULL */

/* Frees memory documented as "caller frees with hkc_free". NULL is fine. */
void hkc_free(void *p);

/* ==== Client ==== */

typedef struct hkc_options {
    const char *token;       /* bearer token (copied), NULL for none */
    long timeout_ms;         /* per attempt; 0 = 30000 */
    unsigned max_retries;    /* retries of 503/429 */
    long backoff_ms;         /* first wait without Retry-After; 0 = 100 */
    long max_backoff_ms;     /* longest wait; 0 = 30000 */
    size_t max_answer_bytes; /* largest answer accepted; 0 = 256 MiB */
} hkc_options;
/* 30 s timeout, 3 retries, 100 ms first backoff, 30 s longest. */
#define HKC_OPTIONS_INIT                                                       \
    {                                                                          \
        NULL, 30000, 3, 100, 30000, 0                                          \
    }

typedef struct hkc_client hkc_client;

/* Makes a client of the server at base_url ("http://127.0.0.1:8080");
 * opt may be NULL (HKC_OPTIONS_INIT). Sends nothing. Caller frees with
 * hkc_close. */
hkc_err hkc_open(const char *base_url, const hkc_options *opt, hkc_client **out,
                 hkc_error *err);
void hkc_close(hkc_client *c); /* NULL is fine */

/* One call of any route: method, path with its query string (already
 * encoded), an optional JSON body. On HKC_OK *status is the 2xx status and
 * *answer the answer's text (caller frees with hkc_free); an error answer
 * is HKC_ERR_API. With retries as above. */
hkc_err hkc_request(hkc_client *c, const char *method, const char *path,
                    const char *body_json, int *status, char **answer,
                    hkc_error *err);

/* ==== Facts ==== */

typedef struct hkc_fact {
    uint64_t id;
    const char *statement; /* "Pred(a, b)" */
    const char *predicate;
    size_t n_args;
    const char **args;  /* n_args arguments */
    double confidence;  /* 0..1 */
    const char *source; /* NULL when none */
    size_t n_tags;
    const char **tags;
    const char *context_json; /* the context object as JSON, NULL if none */
    const char *created;      /* RFC 3339 UTC */
    const char *updated;
    void *priv_; /* the memory behind the pointers above */
} hkc_fact;
/* Frees a fact filled by hkc_add, hkc_get, hkc_update or hkc_delete. The
 * facts inside a page, hits or iterator belong to their container: free
 * the container instead. */
void hkc_fact_free(hkc_fact *f);

/* Metadata of an add or update; zero-initialise (HKC_META_INIT) and set
 * what you want sent. */
typedef struct hkc_meta {
    bool has_confidence;     /* send confidence */
    double confidence;       /* 0..1 */
    const char *source;      /* NULL: not sent */
    const char *const *tags; /* n_tags tags; NULL: not sent */
    size_t n_tags;
    const char *context_json; /* a JSON object; NULL: not sent */
} hkc_meta;
#define HKC_META_INIT                                                          \
    {                                                                          \
        false, 0, NULL, NULL, 0, NULL                                          \
    }

/* Adds a fact given as a statement; meta may be NULL. Idempotent:
 * *created (may be NULL) is false when it was already there. out may be
 * NULL; else caller frees with hkc_fact_free. */
hkc_err hkc_add(hkc_client *c, const char *statement, const hkc_meta *meta,
                hkc_fact *out, bool *created, hkc_error *err);
/* The same with the predicate and its n_args arguments. */
hkc_err hkc_add_args(hkc_client *c, const char *predicate,
                     const char *const *args, size_t n_args,
                     const hkc_meta *meta, hkc_fact *out, bool *created,
                     hkc_error *err);

hkc_err hkc_get(hkc_client *c, uint64_t id, hkc_fact *out, hkc_error *err);

/* With a statement: replaces it, keeping the id (PUT; HKC_ERR_API with
 * api_code "conflict" when it is another fact). With statement NULL:
 * changes only the metadata in meta (PATCH). out may be NULL. */
hkc_err hkc_update(hkc_client *c, uint64_t id, const char *statement,
                   const hkc_meta *meta, hkc_fact *out, hkc_error *err);

/* Deletes a fact; *out (may be NULL) is the fact as it was. */
hkc_err hkc_delete(hkc_client *c, uint64_t id, hkc_fact *out, hkc_error *err);
hkc_err hkc_delete_statement(hkc_client *c, const char *statement,
                             hkc_fact *out, hkc_error *err);

/* ==== Batch ==== */

typedef struct hkc_batch_item {
    int status;           /* 201 created, 200 existing, else the error's */
    uint64_t id;          /* 0 on error */
    const char *err_code; /* the item's error code, NULL on success */
    const char *err_message;
} hkc_batch_item;

typedef struct hkc_batch_result {
    size_t count, created, existing, failed;
    hkc_batch_item *items; /* count items, in input order */
    void *priv_;
} hkc_batch_result;
void hkc_batch_result_free(hkc_batch_result *r);

/* Adds n statements in one transaction; invalid ones are reported in
 * their item, the others committed. */
hkc_err hkc_batch(hkc_client *c, const char *const *statements, size_t n,
                  hkc_batch_result *out, hkc_error *err);

/* ==== Reads ==== */

/* The variables bound by one match. */
typedef struct hkc_bindings {
    size_t n;
    const char **names;  /* without the '?' */
    const char **values; /* as text */
} hkc_bindings;
/* The value bound to name, or NULL. */
const char *hkc_binding(const hkc_bindings *b, const char *name);

/* One page of a pattern query: facts[i] matched with bindings[i]. */
typedef struct hkc_page {
    size_t n;
    hkc_fact *facts;
    hkc_bindings *bindings;
    const char *next_cursor; /* NULL on the last page */
    void *priv_;
} hkc_page;
void hkc_page_free(hkc_page *p);

/* One page of a pattern query, e.g. "HasPart(?x, CPU)". limit 0: the
 * server's default; cursor NULL: the first page. */
hkc_err hkc_query(hkc_client *c, const char *pattern, size_t limit,
                  const char *cursor, hkc_page *out, hkc_error *err);

/* A row of a multi-pattern query: bindings and the id of the fact each
 * pattern matched. */
typedef struct hkc_row {
    hkc_bindings bindings;
    size_t n_facts;
    uint64_t *facts;
} hkc_row;

typedef struct hkc_rows {
    size_t n;
    hkc_row *rows;
    const char *next_cursor; /* NULL on the last page */
    void *priv_;
} hkc_rows;
void hkc_rows_free(hkc_rows *r);

/* One page of a multi-pattern query (docs/QUERY.md). */
hkc_err hkc_query_rows(hkc_client *c, const char *query, size_t limit,
                       const char *cursor, hkc_rows *out, hkc_error *err);

typedef struct hkc_hits {
    size_t n;
    double *scores; /* scores[i] belongs to facts[i], best first */
    hkc_fact *facts;
    void *priv_;
} hkc_hits;
void hkc_hits_free(hkc_hits *h);

/* Ranked search; mode NULL ("text"), "vector" or "hybrid". */
hkc_err hkc_search(hkc_client *c, const char *text, size_t limit,
                   const char *mode, hkc_hits *out, hkc_error *err);

/* An entity, its total fact count and one page of its facts (bindings is
 * NULL). */
hkc_err hkc_entity(hkc_client *c, const char *name, size_t limit,
                   const char *cursor, uint64_t *fact_count, hkc_page *out,
                   hkc_error *err);

typedef struct hkc_node {
    const char *id;
    const char *kind;  /* "entity" or "fact" */
    const char *label; /* NULL when none */
} hkc_node;

typedef struct hkc_edge {
    const char *from, *to; /* node ids */
    const char *label;     /* the predicate */
    uint64_t fact;         /* 0 when none */
} hkc_edge;

typedef struct hkc_subgraph {
    size_t n_nodes, n_edges;
    hkc_node *nodes;
    hkc_edge *edges;
    bool truncated; /* a limit cut the walk short */
    void *priv_;
} hkc_subgraph;
void hkc_subgraph_free(hkc_subgraph *g);

/* The neighbourhood of an entity up to depth hops (0: the server's 1). */
hkc_err hkc_neighbours(hkc_client *c, const char *entity, unsigned depth,
                       hkc_subgraph *out, hkc_error *err);

typedef struct hkc_path {
    size_t n_nodes;
    const char **nodes; /* from ... to */
    size_t n_facts;
    uint64_t *facts; /* facts[i] links nodes[i] and nodes[i + 1] */
} hkc_path;

typedef struct hkc_paths {
    size_t n;
    hkc_path *paths; /* shortest first */
    void *priv_;
} hkc_paths;
void hkc_paths_free(hkc_paths *p);

/* Up to k shortest paths of at most max_len edges (0: server defaults). */
hkc_err hkc_find_paths(hkc_client *c, const char *from, const char *to,
                       unsigned max_len, unsigned k, hkc_paths *out,
                       hkc_error *err);

typedef struct hkc_audit_entry {
    uint64_t seq;
    const char *time;
    const char *actor;
    const char *op;                 /* add, update, meta, delete, import */
    uint64_t fact_id, fact_id_last; /* 0 when none */
    uint64_t count;
    const char *hash, *prev_hash;
} hkc_audit_entry;

typedef struct hkc_audit_page {
    size_t n;
    hkc_audit_entry *entries; /* newest first */
    uint64_t next_before;     /* 0 on the last page */
    void *priv_;
} hkc_audit_page;
void hkc_audit_page_free(hkc_audit_page *p);

/* One page of the audit log (before 0: from the newest). */
hkc_err hkc_audit(hkc_client *c, size_t limit, uint64_t before,
                  hkc_audit_page *out, hkc_error *err);

/* ==== Iterators ==== */

/* Walks every item of a paged answer, fetching the next page when the
 * current one is used up:
 *
 *     hkc_iter *it;
 *     const hkc_fact *f;
 *     hkc_err rc = hkc_iter_query(kb, "HasPart(?x, ?y)", 500, &it, &err);
 *     while (rc == HKC_OK && (rc = hkc_iter_next_fact(it, &f, &err)) == HKC_OK)
 *         puts(f->statement);
 *     hkc_iter_free(it);
 *     if (rc != HKC_DONE) ... error in err ...
 *
 * An item stays valid until the next call on the iterator. */
typedef struct hkc_iter hkc_iter;
hkc_err hkc_iter_query(hkc_client *c, const char *pattern, size_t page_size,
                       hkc_iter **out, hkc_error *err);
hkc_err hkc_iter_entity(hkc_client *c, const char *name, size_t page_size,
                        hkc_iter **out, hkc_error *err);
hkc_err hkc_iter_rows(hkc_client *c, const char *query, size_t page_size,
                      hkc_iter **out, hkc_error *err);
hkc_err hkc_iter_audit(hkc_client *c, size_t page_size, hkc_iter **out,
                       hkc_error *err);
/* HKC_OK with the next item, HKC_DONE at the end, or an error. The item
 * kind must match the iterator (facts: query, entity). */
hkc_err hkc_iter_next_fact(hkc_iter *it, const hkc_fact **item, hkc_error *err);
hkc_err hkc_iter_next_row(hkc_iter *it, const hkc_row **item, hkc_error *err);
hkc_err hkc_iter_next_audit(hkc_iter *it, const hkc_audit_entry **item,
                            hkc_error *err);
void hkc_iter_free(hkc_iter *it); /* NULL is fine */

/* ==== Counters ==== */

/* GET /v2/stats as JSON text; caller frees *json with hkc_free. */
hkc_err hkc_stats(hkc_client *c, char **json, hkc_error *err);

#ifdef __cplusplus
}
#endif

#endif /* HAKGAL_CLIENT_H */
