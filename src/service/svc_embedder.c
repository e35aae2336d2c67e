/*
 * svc_embedder.c — turning fact statements into vectors with a space's
 * embedder (svc_vector.h): the built-in hashed embedder or an
 * OpenAI-compatible /v1/embeddings endpoint (HKV_EMBED_OPENAI, through
 * the client of src/llm: batching, retries with backoff on 429/5xx,
 * timeouts, a concurrency limit, the API key from the environment).
 *
 * A network call may take seconds and fail; a write transaction must not
 * wait for it (it would stall every writer of the KB) and a half-embedded
 * batch must never be committed. So every batch takes three steps:
 *   1. a read transaction collects up to `batch` facts of the space that
 *      have no vector, with their canonical statements, and ends;
 *   2. the endpoint embeds the statements, with no transaction open; an
 *      answer of another dimension than the space's, a non-finite
 *      number or a malformed answer fails the batch: nothing is written;
 *   3. one write transaction stores the batch's vectors, skipping facts
 *      that got a vector, were deleted or changed their content
 *      meanwhile, and failing when the space was dropped or re-created.
 * A run interrupted anywhere leaves whole batches behind; running it
 * again skips facts that have a vector (resumable).
 *
 * Threads: hk_svc_embed_client's client is made once per process and may
 * be shared; the other functions run on the caller's thread and open
 * transactions of their own (the caller must hold none on the same
 * thread).
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"
#include "llm/llm.h"
#include "service/svc_vector.h"
#include "store/store.h"

/* Most texts in one request to the endpoint (hk_llm_embed's limit). */
#define EMBED_REQUEST_MAX 256u
/* Default facts per batch (one request, one write transaction). */
#define EMBED_BATCH_DEFAULT 256u
/* Most facts per batch. */
#define EMBED_BATCH_MAX 10000u

/* ==== The endpoint ==== */

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static hk_llm_client *g_client; /* NULL when no endpoint is configured */
static hk_error g_err;          /* why there is none */

/* The endpoint "default" (or the only one) of the configuration
 * (hk_llm_config_load: OPENAI_BASE_URL, OPENAI_API_KEY,
 * HAKGAL_EMBED_MODEL, $HAKGAL_LLM_CONFIG), which needs a base URL and an
 * embedding model but, unlike chat, no chat model. */
static void client_init(void)
{
    hk_llm_config *cfg = hk_calloc(1, sizeof *cfg);
    const hk_llm_endpoint *ep = NULL;
    hk_error_clear(&g_err);
    if (!cfg) {
        hk_error_set(&g_err, HK_ERR_NOMEM, "out of memory");
        return;
    }
    if (hk_llm_config_load(cfg, NULL, &g_err) != HK_OK) {
        hk_free(cfg);
        return;
    }
    for (size_t i = 0; i < cfg->n; i++)
        if (!strcmp(cfg->ep[i].name, "default")) ep = &cfg->ep[i];
    if (!ep && cfg->n == 1) ep = &cfg->ep[0];
    if (!ep || !ep->base_url[0])
        hk_error_set(&g_err, HK_ERR_UNSUPPORTED,
                     "no embeddings endpoint is configured: set "
                     "OPENAI_BASE_URL (e.g. http://127.0.0.1:8080/v1) and "
                     "HAKGAL_EMBED_MODEL, or endpoint.default.base_url and "
                     ".embed_model in $HAKGAL_LLM_CONFIG");
    else if (!ep->embed_model[0])
        hk_error_set(&g_err, HK_ERR_UNSUPPORTED,
                     "the embeddings endpoint %s has no embedding model: set "
                     "HAKGAL_EMBED_MODEL or endpoint.%s.embed_model",
                     ep->base_url, ep->name);
    else
        hk_llm_client_new(ep, &g_client, &g_err);
    hk_free(cfg);
}

/* The process's embeddings client; NULL with *err saying what is missing. */
static hk_llm_client *embed_client(hk_error *err)
{
    pthread_once(&g_once, client_init);
    if (!g_client && err) *err = g_err;
    return g_client;
}

hk_err hk_svc_embed_endpoint(hk_error *err)
{
    return embed_client(err) ? HK_OK : g_err.code;
}

/* The embedding model of the process's endpoint ("" without one). */
static const char *endpoint_model(void)
{
    hk_llm_client *c = embed_client(NULL);
    return c ? hk_llm_client_endpoint(c)->embed_model : "";
}

/* HK_ERR_INVALID when space sp records a model other than the
 * endpoint's: its vectors and the new ones would not be comparable. */
static hk_err check_model(const hkv_space *sp, hk_error *err)
{
    const char *em = endpoint_model();
    if (sp->embedder != HKV_EMBED_OPENAI || !sp->model[0] ||
        strcmp(sp->model, em) == 0)
        return HK_OK;
    hk_error_set(err, HK_ERR_INVALID,
                 "space '%s' holds vectors of model '%s'; the endpoint "
                 "embeds with '%s' (`hakgal embed --space %s --force` "
                 "re-embeds the space with it)",
                 sp->name, sp->model, em, sp->name);
    if (err) snprintf(err->field, sizeof err->field, "model");
    return HK_ERR_INVALID;
}

hk_err hk_svc_embed_texts(const hkv_space *sp, const char *const *texts,
                          size_t n, float *out, hk_error *err)
{
    uint32_t dim = sp->params.dim;
    if (sp->embedder == HKV_EMBED_HASHED) {
        for (size_t i = 0; i < n; i++)
            hkv_embed_hashed(texts[i], strlen(texts[i]), out + i * dim, dim);
        return HK_OK;
    }
    if (sp->embedder != HKV_EMBED_OPENAI)
        return hk_error_set(err, HK_ERR_UNSUPPORTED,
                            "space '%s' has no built-in embedder nor an "
                            "endpoint; supply its vectors or query with a "
                            "vector or a fact",
                            sp->name);
    hk_llm_client *c = embed_client(err);
    if (!c) return err ? err->code : HK_ERR_UNSUPPORTED;
    hk_err me = check_model(sp, err);
    if (me) return me;
    for (size_t at = 0; at < n; at += EMBED_REQUEST_MAX) {
        size_t m = n - at < EMBED_REQUEST_MAX ? n - at : EMBED_REQUEST_MAX;
        float *v = NULL;
        uint32_t got = 0;
        hk_err e = hk_llm_embed(c, texts + at, m, &v, &got, err);
        if (e) return e;
        if (got != dim) {
            hk_free(v);
            hk_error_set(err, HK_ERR_INVALID,
                         "the embeddings endpoint %s answered vectors of %u "
                         "dimensions; space '%s' has %u (is HAKGAL_EMBED_MODEL "
                         "the model the space was made for?)",
                         hk_llm_client_endpoint(c)->base_url, got, sp->name,
                         dim);
            if (err) snprintf(err->field, sizeof err->field, "dim");
            return HK_ERR_INVALID;
        }
        for (size_t i = 0; i < m * dim; i++)
            if (!isfinite(v[i])) {
                hk_free(v);
                return hk_error_set(err, HK_ERR_INVALID,
                                    "the embeddings endpoint %s answered a "
                                    "non-finite number for text %zu",
                                    hk_llm_client_endpoint(c)->base_url,
                                    at + i / dim);
            }
        memcpy(out + at * dim, v, m * dim * sizeof *v);
        hk_free(v);
    }
    return HK_OK;
}

/* ==== One batch ==== */

typedef struct batch {
    hkv_space sp;     /* the space as the read step saw it */
    hk_fact_id *ids;  /* facts to embed */
    char **texts;     /* their canonical statements (owned) */
    size_t n;         /* entries of ids and texts */
    size_t cap;       /* room in ids and texts */
    float *vecs;      /* n * dim floats (step 2) */
    uint64_t written; /* out of step 3: vectors stored */
} batch;

static void batch_clear(batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        hk_free(b->texts[i]);
    hk_free(b->vecs);
    b->vecs = NULL;
    b->n = 0;
}

static void batch_free(batch *b)
{
    batch_clear(b);
    hk_free(b->ids);
    hk_free(b->texts);
}

static hk_err batch_reserve(batch *b, size_t cap, hk_error *err)
{
    hk_fact_id *ids = hk_realloc(b->ids, cap * sizeof *ids);
    if (ids) b->ids = ids;
    char **texts = ids ? hk_realloc(b->texts, cap * sizeof *texts) : NULL;
    if (texts) b->texts = texts;
    if (!ids || !texts) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    b->cap = cap;
    return HK_OK;
}

/* The canonical statement of fact id into s (reset first); *gone when the
 * fact does not exist. */
static hk_err statement(hk_txn *t, hk_fact_id id, hk_fact *f, hk_buf *s,
                        bool *gone, hk_error *err)
{
    hk_err e = hk_store_get(t, id, f, err);
    *gone = e == HK_ERR_NOT_FOUND;
    if (*gone) {
        hk_error_clear(err);
        return HK_OK;
    }
    if (e) return e;
    s->len = 0;
    if (hk_statement_format(&f->st, s))
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    return HK_OK;
}

/* Step 1 for fact id: appends it to b when it exists and has no vector. */
static hk_err consider(hkv_store *vs, hk_txn *t, batch *b, hk_fact_id id,
                       float *probe, hk_fact *f, hk_buf *s, hk_error *err)
{
    hk_err e = hkv_get(vs, t, b->sp.name, id, probe, err);
    if (e == HK_OK) return HK_OK; /* has one */
    if (e != HK_ERR_NOT_FOUND) return e;
    hk_error_clear(err);
    bool gone;
    if ((e = statement(t, id, f, s, &gone, err)) || gone) return e;
    if (b->n == b->cap && (e = batch_reserve(b, b->cap ? b->cap * 2 : 64, err)))
        return e;
    char *text = hk_strndup(s->data, s->len);
    if (!text) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    b->ids[b->n] = id;
    b->texts[b->n++] = text;
    return HK_OK;
}

/* In step 3: an openai space records the endpoint's model with its first
 * vectors, and refuses vectors of another one recorded meanwhile. */
static hk_err record_model(hkv_store *vs, hk_txn *t, const hkv_space *now,
                           hk_error *err)
{
    if (now->embedder != HKV_EMBED_OPENAI) return HK_OK;
    if (now->model[0]) return check_model(now, err);
    return hkv_space_set_model(vs, t, now->name, endpoint_model(), err);
}

/* Step 3: the apply step storing b's vectors (may run twice). */
static hk_err batch_write(hk_txn *t, void *arg, hk_error *err)
{
    struct {
        hkv_store *vs; /* attached store */
        batch *b;      /* the embedded batch */
    } *a = arg;
    batch *b = a->b;
    uint32_t dim = b->sp.params.dim;
    hkv_space now;
    hk_fact f;
    hk_buf s = HK_BUF_INIT;
    float *probe = hk_malloc((size_t)dim * sizeof *probe);
    hk_err e;
    b->written = 0;
    hk_fact_init(&f);
    if (!probe) {
        e = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        goto out;
    }
    e = hkv_space_find(a->vs, t, b->sp.name, &now, err);
    if (e == HK_OK && now.stamp != b->sp.stamp)
        e = hk_error_set(err, HK_ERR_NOT_FOUND,
                         "vector space '%s' was re-created while embedding",
                         b->sp.name);
    if (e == HK_OK) e = record_model(a->vs, t, &now, err);
    for (size_t i = 0; !e && i < b->n; i++) {
        e = hkv_get(a->vs, t, b->sp.name, b->ids[i], probe, err);
        if (e == HK_OK) continue; /* embedded meanwhile */
        if (e != HK_ERR_NOT_FOUND) break;
        hk_error_clear(err);
        bool gone;
        if ((e = statement(t, b->ids[i], &f, &s, &gone, err))) break;
        /* deleted, or replaced by other content: not this vector */
        if (gone || !s.data || strcmp(s.data, b->texts[i]) != 0) continue;
        e = hkv_put(a->vs, t, b->sp.name, b->ids[i], b->vecs + i * dim, dim,
                    err);
        if (!e) b->written++;
    }
out:
    hk_free(probe);
    hk_buf_free(&s);
    hk_fact_release(&f);
    return e;
}

/* Steps 2 and 3 for a collected batch. */
static hk_err batch_embed_write(hk_store *s, hkv_store *vs, const char *actor,
                                batch *b, hk_error *err)
{
    b->written = 0;
    if (b->n == 0) return HK_OK;
    b->vecs = hk_malloc(b->n * b->sp.params.dim * sizeof *b->vecs);
    if (!b->vecs) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    hk_err e = hk_svc_embed_texts(&b->sp, (const char *const *)b->texts, b->n,
                                  b->vecs, err);
    if (e) return e;
    struct {
        hkv_store *vs;
        batch *b;
    } a = {vs, b};
    return hk_svc_write(s, actor, batch_write, &a, err);
}

/* ==== Runs ==== */

hk_err hk_svc_embed_facts(hk_store *s, hkv_store *vs, const char *space,
                          const char *actor, const hk_fact_id *ids, size_t n,
                          uint64_t *embedded, hk_error *err)
{
    batch b;
    hk_fact f;
    hk_buf st = HK_BUF_INIT;
    float *probe = NULL;
    hk_err e = HK_OK;
    memset(&b, 0, sizeof b);
    hk_fact_init(&f);
    *embedded = 0;
    for (size_t at = 0; !e && at < n; at += EMBED_BATCH_DEFAULT) {
        size_t m = n - at < EMBED_BATCH_DEFAULT ? n - at : EMBED_BATCH_DEFAULT;
        hk_txn *t;
        batch_clear(&b);
        if ((e = hk_txn_begin(s, false, &t, err))) break;
        e = hkv_space_find(vs, t, space, &b.sp, err);
        if (!e) {
            float *p = hk_realloc(probe, b.sp.params.dim * sizeof *p);
            if (p)
                probe = p;
            else
                e = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        }
        for (size_t i = 0; !e && i < m; i++)
            e = consider(vs, t, &b, ids[at + i], probe, &f, &st, err);
        hk_txn_abort(t);
        if (!e) e = batch_embed_write(s, vs, actor, &b, err);
        if (!e) *embedded += b.written;
    }
    batch_free(&b);
    hk_free(probe);
    hk_buf_free(&st);
    hk_fact_release(&f);
    return e;
}

/* ==== Entity spaces ==== */

/* Step 1 in an entity space: up to size entities (symbols some fact has
 * as an argument) after *cursor without a vector, named in b->texts. */
static hk_err collect_entities(hkv_store *vs, hk_txn *t, batch *b,
                               uint32_t size, hk_svc_embed_run *run,
                               float *probe, bool *done, hk_error *err)
{
    uint32_t max;
    hk_err e;
    *done = true;
    if ((e = hks_sym_max(t, &max, err))) return e;
    for (uint64_t sym = run->last + 1; sym <= max; sym++) {
        if (b->n == size) {
            *done = false;
            break;
        }
        run->last = sym;
        run->examined++;
        uint64_t facts = 0;
        if ((e = hks_entity_count(t, (uint32_t)sym, NULL, &facts, err)))
            return e;
        if (facts == 0) continue; /* a predicate only */
        e = hkv_entity_get(vs, t, b->sp.name, (uint32_t)sym, probe, err);
        if (e == HK_OK) continue;
        if (e != HK_ERR_NOT_FOUND) return e;
        hk_error_clear(err);
        const char *nm;
        size_t len;
        if ((e = hks_sym_str(t, (uint32_t)sym, &nm, &len, err))) return e;
        if (b->n == b->cap &&
            (e = batch_reserve(b, b->cap ? b->cap * 2 : 64, err)))
            return e;
        char *text = hk_strndup(nm, len);
        if (!text) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        b->ids[b->n] = sym;
        b->texts[b->n++] = text;
    }
    return HK_OK;
}

/* Step 3 in an entity space (may run twice). */
static hk_err entity_write(hk_txn *t, void *arg, hk_error *err)
{
    struct {
        hkv_store *vs; /* attached store */
        batch *b;      /* the embedded batch */
    } *a = arg;
    batch *b = a->b;
    uint32_t dim = b->sp.params.dim;
    hkv_space now;
    float *probe = hk_malloc((size_t)dim * sizeof *probe);
    hk_err e;
    b->written = 0;
    if (!probe) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    e = hkv_space_find(a->vs, t, b->sp.name, &now, err);
    if (e == HK_OK && now.stamp != b->sp.stamp)
        e = hk_error_set(err, HK_ERR_NOT_FOUND,
                         "vector space '%s' was re-created while embedding",
                         b->sp.name);
    if (e == HK_OK) e = record_model(a->vs, t, &now, err);
    for (size_t i = 0; !e && i < b->n; i++) {
        e = hkv_entity_get(a->vs, t, b->sp.name, (uint32_t)b->ids[i], probe,
                           err);
        if (e == HK_OK) continue; /* embedded meanwhile */
        if (e != HK_ERR_NOT_FOUND) break;
        hk_error_clear(err);
        e = hkv_entity_put(a->vs, t, b->sp.name, b->texts[i],
                           strlen(b->texts[i]), b->vecs + i * dim, dim, err);
        if (!e) b->written++;
    }
    hk_free(probe);
    return e;
}

/* hk_svc_embed_space for an entity space: the same three steps per
 * batch, over symbol ids instead of facts. */
static hk_err embed_entities(hk_store *s, hk_svc_embed_run *run, uint32_t size,
                             hk_error *err)
{
    batch b;
    float *probe = NULL;
    hk_err e = HK_OK;
    bool done = false;
    memset(&b, 0, sizeof b);
    run->last = 0;
    /* each round moves run->last forward: bounded by the KB's symbols */
    while (!e && !done) {
        hk_txn *t;
        batch_clear(&b);
        if ((e = hk_txn_begin(s, false, &t, err))) break;
        e = hkv_space_find(run->vs, t, run->space, &b.sp, err);
        if (!e) {
            float *p = hk_realloc(probe, b.sp.params.dim * sizeof *p);
            if (p)
                probe = p;
            else
                e = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        }
        if (!e)
            e = collect_entities(run->vs, t, &b, size, run, probe, &done, err);
        hk_txn_abort(t);
        if (!e && b.n) {
            b.vecs = hk_malloc(b.n * b.sp.params.dim * sizeof *b.vecs);
            if (!b.vecs) e = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
            if (!e)
                e = hk_svc_embed_texts(&b.sp, (const char *const *)b.texts, b.n,
                                       b.vecs, err);
            struct {
                hkv_store *vs;
                batch *b;
            } a = {run->vs, &b};
            if (!e) e = hk_svc_write(s, run->actor, entity_write, &a, err);
        }
        if (e) break;
        run->embedded += b.written;
        if (run->progress && !run->progress(run->ud, run)) break;
    }
    run->done = done && !e;
    batch_free(&b);
    hk_free(probe);
    return e;
}

/* --force: an openai space whose model differs from the endpoint's loses
 * its vectors and records the endpoint's model. */
typedef struct clear_arg {
    hkv_store *vs;     /* attached store */
    const char *space; /* the space */
    const char *model; /* the new model */
} clear_arg;

static hk_err clear_apply(hk_txn *t, void *arg, hk_error *err)
{
    clear_arg *a = arg;
    return hkv_space_clear(a->vs, t, a->space, a->model, err);
}

/* Reads the space: its kind into *kind; with run->force, clears it when
 * its model is not the endpoint's. */
static hk_err prepare(hk_store *s, hk_svc_embed_run *run, hkv_kind *kind,
                      hk_error *err)
{
    hk_txn *t;
    hkv_space sp;
    hk_err e = hk_txn_begin(s, false, &t, err);
    if (e) return e;
    e = hkv_space_find(run->vs, t, run->space, &sp, err);
    hk_txn_abort(t);
    if (e) return e;
    *kind = sp.kind;
    if (!run->force || sp.embedder != HKV_EMBED_OPENAI ||
        (e = hk_svc_embed_endpoint(err)))
        return e;
    const char *em = endpoint_model();
    if (!sp.model[0] || strcmp(sp.model, em) == 0) return HK_OK;
    clear_arg a = {run->vs, run->space, em};
    return hk_svc_write(s, run->actor, clear_apply, &a, err);
}

hk_err hk_svc_embed_space(hk_store *s, hk_svc_embed_run *run, hk_error *err)
{
    batch b;
    hk_fact f;
    hk_buf st = HK_BUF_INIT, cursor = HK_BUF_INIT;
    float *probe = NULL;
    hk_err e = HK_OK;
    uint32_t size = run->batch ? run->batch : EMBED_BATCH_DEFAULT;
    bool done = false;
    memset(&b, 0, sizeof b);
    hk_fact_init(&f);
    run->embedded = 0;
    run->examined = 0;
    if (size > EMBED_BATCH_MAX) {
        hk_error_set(err, HK_ERR_INVALID, "batch must be 1..%u",
                     EMBED_BATCH_MAX);
        if (err) snprintf(err->field, sizeof err->field, "batch");
        return HK_ERR_INVALID;
    }
    hkv_kind kind;
    if ((e = prepare(s, run, &kind, err))) goto out;
    if (kind == HKV_KIND_ENTITY) {
        e = embed_entities(s, run, size, err);
        done = run->done;
        goto out;
    }
    /* each round moves the cursor forward: bounded by the KB's facts */
    while (!e && !done) {
        hk_txn *t;
        hk_query *q = NULL;
        hk_scan scan = HK_SCAN_INIT;
        batch_clear(&b);
        if ((e = hk_txn_begin(s, false, &t, err))) break;
        e = hkv_space_find(run->vs, t, run->space, &b.sp, err);
        if (!e && b.sp.embedder == HKV_EMBED_NONE)
            e = hk_error_set(err, HK_ERR_UNSUPPORTED,
                             "space '%s' has no embedder; supply its vectors",
                             run->space);
        if (!e) {
            float *p = hk_realloc(probe, b.sp.params.dim * sizeof *p);
            if (p)
                probe = p;
            else
                e = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        }
        if (!e) e = hk_query_open_scan(t, &scan, cursor.data, &q, err);
        while (!e && b.n < size) {
            hk_fact_id id;
            bool row;
            if ((e = hk_query_next_id(q, &id, &row, err))) break;
            if (!row) {
                done = true;
                break;
            }
            run->examined++;
            run->last = id;
            e = consider(run->vs, t, &b, id, probe, &f, &st, err);
        }
        if (!e && !done) {
            cursor.len = 0;
            if (hk_query_cursor(q, &cursor))
                e = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
            else if (cursor.len == 0)
                done = true;
        }
        if (q) hk_query_close(q);
        hk_txn_abort(t);
        if (!e) e = batch_embed_write(s, run->vs, run->actor, &b, err);
        if (e) break;
        run->embedded += b.written;
        if (run->progress && !run->progress(run->ud, run)) break;
    }
out:
    run->done = done && !e;
    batch_free(&b);
    hk_free(probe);
    hk_buf_free(&st);
    hk_buf_free(&cursor);
    hk_fact_release(&f);
    return e;
}
