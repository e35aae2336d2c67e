/*
 * svc_vector.h — the service operations of vector search (src/vector):
 * spaces, embedding the facts of a space, and similarity search with
 * graph filters. Same conventions as service.h (read operations take the
 * caller's txn; writes are an apply step that may run twice), plus the
 * hkv_store the caller attached to its hk_store.
 */
#ifndef HK_SVC_VECTOR_H
#define HK_SVC_VECTOR_H

#include <jansson.h>

#include "hakgal.h"
#include "service/service.h"
#include "vector/vector.h"

/* ==== Opening a KB ==== */

/* Opens the KB at dir as hk_store_open does and attaches the vector module
 * (hkv_store_attach), so that deleting or replacing a fact removes its
 * vectors in every process that writes. Every adapter that opens a KB
 * opens it here. *vs is NULL only for a read-only open of a KB that never
 * had a vector space. It also attaches the rule module (hkr_attach,
 * src/reason/rules.h), which keeps derived facts current inside every
 * write. On failure nothing stays open. */
hk_err hk_svc_store_open(const char *dir, const hk_store_options *opt,
                         hk_store **s, hkv_store **vs, hk_error *err);
/* Detaches vs (may be NULL) and closes s (may be NULL). */
void hk_svc_store_close(hk_store *s, hkv_store *vs);

/* ==== Spaces ==== */

/* Writes: create (arg: hk_svc_vspace_arg with sp filled) and drop (arg
 * with sp.name). */
typedef struct hk_svc_vspace_arg {
    hkv_store *vs; /* attached store */
    hkv_space sp;  /* the space */
} hk_svc_vspace_arg;
hk_err hk_svc_vspace_create_apply(hk_txn *t, void *arg, hk_error *err);
hk_err hk_svc_vspace_drop_apply(hk_txn *t, void *arg, hk_error *err);

/* Parses a metric name ("cosine", "dot", "l2"); false when unknown. */
bool hk_svc_vmetric_parse(const char *s, hkv_metric *out);
const char *hk_svc_vmetric_name(hkv_metric m);
/* Parses an embedder name ("none", "hashed" or "hashed-ngrams",
 * "openai"); false when unknown. */
bool hk_svc_vembedder_parse(const char *s, hkv_embedder *out);
/* "none", "hashed-ngrams" or "openai". */
const char *hk_svc_vembedder_name(hkv_embedder e);
/* Parses a space kind ("fact", "entity"); false when unknown. */
bool hk_svc_vkind_parse(const char *s, hkv_kind *out);
const char *hk_svc_vkind_name(hkv_kind k);
/* JSON of a space (caller owns the reference). */
json_t *hk_svc_vspace_json(const hkv_space *sp);

/* ==== Entity vectors ==== */

/* Apply step: stores (or with remove, deletes) the vectors of n entities
 * of an entity space in one write transaction: names[i] (NUL-terminated)
 * gets vecs[i * dim ..]. All or nothing: the first unknown entity, wrong
 * dimension or non-finite value fails the whole call (index in *failed).
 * With model set, the space's model name becomes it first (a publisher,
 * e.g. the learned model, names what its vectors came from). The bulk
 * door for producers of entity embeddings. */
typedef struct hk_svc_ventity_arg {
    hkv_store *vs;            /* attached store */
    const char *space;        /* an entity space */
    const char *const *names; /* n entity names */
    const float *vecs;        /* n * dim floats (unused with remove) */
    uint32_t dim;             /* floats per vector */
    size_t n;                 /* entities */
    bool remove;              /* delete their vectors instead */
    const char *model;        /* model name to record, or NULL */
    size_t failed;            /* out: index of the entity that failed */
    uint64_t written;         /* out: vectors stored or removed */
} hk_svc_ventity_arg;
hk_err hk_svc_ventity_apply(hk_txn *t, void *arg, hk_error *err);

/* ==== Embedding with the built-in embedder ==== */

/* Apply step: gives every fact without a vector in space (whose embedder
 * is HKV_EMBED_HASHED) the vector of its canonical statement, at most
 * limit facts per call (0: 10000), after fact id `after`. Resumable: the
 * caller calls again with after = last until done. */
typedef struct hk_svc_embed_arg {
    hkv_store *vs;     /* attached store */
    const char *space; /* the space */
    hk_fact_id after;  /* start after this fact id */
    uint64_t limit;    /* facts examined per call (0: 10000) */
    uint64_t embedded; /* out: vectors written by this call */
    hk_fact_id last;   /* out: last fact examined */
    bool done;         /* out: no facts after last */
} hk_svc_embed_arg;
hk_err hk_svc_embed_apply(hk_txn *t, void *arg, hk_error *err);

/* ==== Embedders (svc_embedder.c) ==== */

/* HK_OK when this process has an embeddings endpoint for HKV_EMBED_OPENAI
 * spaces (OPENAI_BASE_URL and HAKGAL_EMBED_MODEL, or the endpoint
 * "default" of $HAKGAL_LLM_CONFIG; OPENAI_API_KEY is its bearer token),
 * else HK_ERR_UNSUPPORTED with *err saying what to set. Read once. */
hk_err hk_svc_embed_endpoint(hk_error *err);

/* The vectors of texts[0..n) by space sp's embedder into out (n * dim
 * floats): hashed here, openai through the endpoint in requests of up to
 * 256 texts. HK_ERR_UNSUPPORTED for a space without an embedder or no
 * endpoint; HK_ERR_INVALID when the endpoint answers another dimension
 * than the space's, a non-finite number or a malformed answer; HK_ERR_IO
 * for network errors, timeouts and HTTP errors after the retries. May
 * take seconds: call it with no write transaction open. */
hk_err hk_svc_embed_texts(const hkv_space *sp, const char *const *texts,
                          size_t n, float *out, hk_error *err);

typedef struct hk_svc_embed_run hk_svc_embed_run;
/* Called after each committed batch; false stops the run. */
typedef bool (*hk_svc_embed_progress_fn)(void *ud, const hk_svc_embed_run *r);

struct hk_svc_embed_run {
    hkv_store *vs;                     /* attached store */
    const char *space;                 /* the space (hashed or openai) */
    const char *actor;                 /* audit actor (NULL: the store's) */
    uint32_t batch;                    /* facts per request and write txn
                                          (0: 256), at most 10000 */
    hk_svc_embed_progress_fn progress; /* or NULL */
    bool force;                        /* openai: the endpoint's model
                                          differs from the space's: drop
                                          the space's vectors, record the
                                          new model and embed again */
    void *ud;                          /* passed to progress */
    uint64_t embedded;                 /* out: vectors written */
    uint64_t examined;                 /* out: facts looked at */
    hk_fact_id last;                   /* out: last fact looked at */
    bool done;                         /* out: every fact looked at */
};

/* Gives every fact of the space without a vector one, batch by batch
 * (in an entity space: every entity, a symbol that some fact has as an
 * argument, embedded from its name):
 * a read txn collects the batch's statements, the embedder computes their
 * vectors with no txn open, one write txn stores them (facts deleted or
 * changed meanwhile are skipped). A failed batch writes nothing; earlier
 * batches stay, and a new run skips their facts (resumable). Opens its
 * own transactions: the caller holds none. */
hk_err hk_svc_embed_space(hk_store *s, hk_svc_embed_run *run, hk_error *err);

/* The same for the facts ids[0..n) (those that exist and have no vector
 * in space); *embedded gets the vectors written. */
hk_err hk_svc_embed_facts(hk_store *s, hkv_store *vs, const char *space,
                          const char *actor, const hk_fact_id *ids, size_t n,
                          uint64_t *embedded, hk_error *err);

/* ==== Similarity search ==== */

typedef struct hk_svc_vsimilar_req {
    const char *space;   /* the space */
    const char *text;    /* query text (the space's embedder), or NULL */
    const float *vector; /* query vector, or NULL */
    uint32_t dim;        /* floats in vector */
    hk_fact_id fact;     /* query by this fact's vector, or 0 */
    uint32_t k;          /* hits (0: 10), at most 1000 */
    uint32_t ef;         /* 0: the space's ef */
    /* Fact filters; in an entity space they admit the entities that occur
     * as arguments of the facts they select. */
    const char *predicate; /* filter: only facts of this predicate */
    const char *entity;    /* filter: only facts mentioning this entity */
    const char *tag;       /* filter: only facts with this tag */
    const char *source;    /* filter: only facts with this source */
    const char *query;     /* filter: a graph query (src/query syntax):
                              the facts its rows match; in an entity space
                              the entities bound to query_var, or to ?v
                              when it reads "?v:QUERY" */
    const char *query_var; /* entity space: the variable (with or without
                              '?'; NULL: the first of each row) */
    bool no_wait;          /* HK_ERR_BUSY instead of waiting for, reading
                              or building the index (hkv_index_try_acquire) */
} hk_svc_vsimilar_req;

/* Parses one filter "predicate:P", "entity:E", "tag:T", "source:S" or
 * "query:Q" (Q a graph query, e.g. HasPart(?x, CPU); in an entity space
 * "query:?x:Q" names the variable) into r (pointing into s). false with
 * *err set for anything else; a filter given twice is refused. */
bool hk_svc_vfilter_parse(const char *s, hk_svc_vsimilar_req *r, hk_error *err);

typedef struct hk_svc_vsimilar_hit {
    hk_fact_id id;   /* the fact (entity space: the entity's symbol id) */
    double score;    /* cosine: similarity; dot: a.b; L2: -distance */
    char *statement; /* canonical statement (owned; NULL for an entity) */
    char *entity;    /* entity space: the entity's name (owned), else NULL */
} hk_svc_vsimilar_hit;

/* JSON of a hit: {"id","statement","score"} of a fact, {"entity","score"}
 * of an entity (caller owns the reference; NULL without memory). */
json_t *hk_svc_vsimilar_hit_json(const hk_svc_vsimilar_hit *h);

typedef struct hk_svc_vsimilar_res {
    hk_svc_vsimilar_hit *hits; /* nearest first (owned) */
    size_t n_hits;             /* entries in hits */
    uint64_t candidates;       /* ids the filter allowed (0: no filter) */
    bool exact;                /* answered by an exact scan */
    uint64_t indexed;          /* live vectors in the space's index */
} hk_svc_vsimilar_res;

/* Searches the space's index kept by vs (hkv_index_acquire: read from
 * its file or built on first use, caught up to t). Filters combine (all
 * must hold) into a set of ids; a set below the index's threshold (2% of
 * it, at least 1000) is searched exactly, so selective filters keep full
 * recall. In an entity space the hits are entities; a query by fact is
 * for fact spaces (HK_ERR_INVALID); the fact filters (predicate, entity,
 * tag, source) admit the entities occurring as arguments of the facts
 * they select (entity:E: E and the entities it shares a fact with), the
 * query filter the entities bound to its variable.
 * Exactly one of text, vector, fact. Caller frees res with
 * hk_svc_vsimilar_res_free. */
hk_err hk_svc_vsimilar(hkv_store *vs, hk_txn *t, const hk_svc_vsimilar_req *req,
                       hk_svc_vsimilar_res *res, hk_error *err);
void hk_svc_vsimilar_res_free(hk_svc_vsimilar_res *res);

/* ==== Text, vector and hybrid search ==== */

typedef enum hk_svc_smode {
    HK_SVC_SEARCH_TEXT = 0,   /* the ranked text search (hk_svc_search) */
    HK_SVC_SEARCH_VECTOR = 1, /* nearest vectors of the query text */
    HK_SVC_SEARCH_HYBRID = 2  /* both, fused by reciprocal rank */
} hk_svc_smode;

/* Parses "text", "vector" or "hybrid"; false when unknown. */
bool hk_svc_smode_parse(const char *s, hk_svc_smode *out);
const char *hk_svc_smode_name(hk_svc_smode m);

typedef struct hk_svc_hsearch_req {
    const char *query;   /* search text (UTF-8) */
    size_t limit;        /* hits at most (0: 10), at most 1000 */
    hk_svc_smode mode;   /* which rankings */
    const char *space;   /* vector space; NULL: the first (by name) with
                            the built-in embedder, or with the openai one
                            when the process has an endpoint */
    double w_text;       /* weight of the text ranking (0: 1) */
    double w_vector;     /* weight of the vector ranking (0: 1) */
    uint32_t rrf_k;      /* rank offset of the fusion (0: 60) */
    hk_svc_hit_fn hit;   /* receives the hits, best first */
    void *hit_ud;        /* passed to hit */
    bool *used_vectors;  /* set to whether a vector ranking took part (the
                            text search alone: false); may be NULL */
    const float *vector; /* the client's query vector for the vector
                            ranking instead of the embedded query (NULL:
                            embed); the space may then have no embedder,
                            and without space the first fact space of
                            this dimension is searched */
    uint32_t dim;        /* floats in vector */
    bool no_wait;        /* vector ranking: HK_ERR_BUSY instead of waiting
                            for the index (hk_svc_vsimilar_req.no_wait) */
    uint32_t ef;         /* vector ranking's search breadth (0: the
                            space's ef) */
} hk_svc_hsearch_req;

/* Searches facts by text, by meaning or both. Text: hk_svc_search. Vector:
 * the space's nearest facts to the embedded query, scored by similarity.
 * Hybrid: both rankings (each up to max(3 * limit, 50) deep) fused by
 * reciprocal rank, score(f) = sum over rankings of w / (rrf_k + rank);
 * without a usable space (vs NULL or none with the built-in embedder) it
 * is the text search. Vector mode without one is HK_ERR_NOT_FOUND.
 * *shown gets the hits delivered. */
hk_err hk_svc_hsearch(hkv_store *vs, hk_txn *t, const hk_svc_hsearch_req *req,
                      size_t *shown, hk_error *err);

/* ==== Background embedding (svc_autoembed.c) ==== */

/* A thread that gives new facts the built-in embedder's vector in every
 * space created with auto_embed, after their commit: writers never wait
 * for it. It first sweeps those spaces once (facts committed while no
 * embedder ran), then follows the audit log. Long-running processes start
 * it after attaching vs and before other threads write; stop it before
 * detaching vs. */
typedef struct hk_svc_autoembed hk_svc_autoembed;
hk_err hk_svc_autoembed_start(hk_store *s, hkv_store *vs,
                              hk_svc_autoembed **out, hk_error *err);
void hk_svc_autoembed_stop(hk_svc_autoembed *ae); /* NULL: nothing */

typedef struct hk_svc_autoembed_stats {
    uint64_t lag;        /* audit entries committed but not yet handled */
    uint64_t embedded;   /* vectors written */
    uint64_t failures;   /* rounds that failed */
    double busy_seconds; /* time spent embedding (embedded / busy = rate) */
} hk_svc_autoembed_stats;
void hk_svc_autoembed_stats_get(hk_svc_autoembed *ae,
                                hk_svc_autoembed_stats *out);

/* ==== Metrics ==== */

/* Appends the Prometheus text of the kept indexes of vs (NULL: nothing):
 * spaces, vectors and bytes in memory, builds, file loads, catch-up and
 * search counts and time; and of the background embedder ae (may be
 * NULL): lag, vectors embedded, failures, busy time. */
hk_err hk_svc_vector_metrics(hkv_store *vs, hk_svc_autoembed *ae, hk_buf *b);

#endif /* HK_SVC_VECTOR_H */
