/*
 * svc_vector.c — vector spaces, embedding and similarity search as service
 * operations (svc_vector.h), over src/vector.
 *
 * Similarity search:
 *   1. the query vector comes from the request, from a stored fact's
 *      vector, or from the space's embedder for text (an openai space
 *      asks its endpoint, while the caller's read txn stays open: a
 *      reader holds no lock, it only keeps its snapshot's pages);
 *   2. a filter (predicate and/or entity) becomes the sorted set of fact
 *      ids the store's query engine yields (at most HK_SVC_FILTER_MAX);
 *      in an entity space, of the symbols of those facts' arguments;
 *   3. the space's index, kept by the attached store (vcache.c: read from
 *      its file or built once, then caught up with every commit), is
 *      searched; a selective filter is answered by an exact scan of its
 *      members (hkv_index_search decides, see hnsw.c);
 *   4. hits get their canonical statement and a score (larger is nearer);
 *      a hit the txn's snapshot does not hold yet (the index may be newer
 *      than an older read txn) is left out.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/mem.h"
#include "reason/rules.h"
#include "service/svc_graph_query.h"
#include "service/svc_learn.h"
#include "service/svc_vector.h"
#include "stream/stream.h"
#include "store/store.h"

/* Most fact ids a filter may select. */
#define HK_SVC_FILTER_MAX 10000000u
/* Most hits of one search. */
#define HK_SVC_SIMILAR_K_MAX 1000u

/* ==== Spaces ==== */

bool hk_svc_vmetric_parse(const char *s, hkv_metric *out)
{
    if (strcmp(s, "cosine") == 0)
        *out = HKV_COSINE;
    else if (strcmp(s, "dot") == 0)
        *out = HKV_DOT;
    else if (strcmp(s, "l2") == 0)
        *out = HKV_L2;
    else
        return false;
    return true;
}

const char *hk_svc_vmetric_name(hkv_metric m)
{
    return m == HKV_COSINE ? "cosine" : m == HKV_DOT ? "dot" : "l2";
}

bool hk_svc_vembedder_parse(const char *s, hkv_embedder *out)
{
    if (strcmp(s, "none") == 0)
        *out = HKV_EMBED_NONE;
    else if (strcmp(s, "hashed") == 0 || strcmp(s, "hashed-ngrams") == 0)
        *out = HKV_EMBED_HASHED;
    else if (strcmp(s, "openai") == 0)
        *out = HKV_EMBED_OPENAI;
    else
        return false;
    return true;
}

const char *hk_svc_vembedder_name(hkv_embedder e)
{
    return e == HKV_EMBED_HASHED   ? "hashed-ngrams"
           : e == HKV_EMBED_OPENAI ? "openai"
                                   : "none";
}

bool hk_svc_vkind_parse(const char *s, hkv_kind *out)
{
    if (strcmp(s, "fact") == 0)
        *out = HKV_KIND_FACT;
    else if (strcmp(s, "entity") == 0)
        *out = HKV_KIND_ENTITY;
    else
        return false;
    return true;
}

const char *hk_svc_vkind_name(hkv_kind k)
{
    return k == HKV_KIND_ENTITY ? "entity" : "fact";
}

json_t *hk_svc_vspace_json(const hkv_space *sp)
{
    return json_pack("{s:s, s:i, s:s, s:s, s:i, s:i, s:i, s:s, s:I, s:b, s:s, "
                     "s:s}",
                     "name", sp->name, "dim", (json_int_t)sp->params.dim,
                     "metric", hk_svc_vmetric_name(sp->params.metric),
                     "storage", sp->params.quant == HKV_I8 ? "int8" : "float32",
                     "m", (json_int_t)sp->params.m, "ef_construction",
                     (json_int_t)sp->params.ef_construction, "ef",
                     (json_int_t)sp->params.ef, "embedder",
                     hk_svc_vembedder_name(sp->embedder), "vectors",
                     (json_int_t)sp->vectors, "auto_embed", sp->auto_embed,
                     "kind", hk_svc_vkind_name(sp->kind), "model", sp->model);
}

hk_err hk_svc_vspace_create_apply(hk_txn *t, void *arg, hk_error *err)
{
    hk_svc_vspace_arg *a = arg;
    return hkv_space_create(a->vs, t, &a->sp, err);
}

hk_err hk_svc_vspace_drop_apply(hk_txn *t, void *arg, hk_error *err)
{
    hk_svc_vspace_arg *a = arg;
    return hkv_space_drop(a->vs, t, a->sp.name, err);
}

/* ==== Entity vectors ==== */

hk_err hk_svc_ventity_apply(hk_txn *t, void *arg, hk_error *err)
{
    hk_svc_ventity_arg *a = arg;
    hk_err e = HK_OK;
    a->written = 0;
    a->failed = 0;
    if (a->model &&
        (e = hkv_space_set_model(a->vs, t, a->space, a->model, err)))
        return e;
    for (size_t i = 0; i < a->n; i++) {
        const char *nm = a->names[i];
        if (a->remove)
            e = hkv_entity_del(a->vs, t, a->space, nm, strlen(nm), err);
        else
            e = hkv_entity_put(a->vs, t, a->space, nm, strlen(nm),
                               a->vecs + i * (size_t)a->dim, a->dim, err);
        if (e) {
            a->failed = i;
            return e;
        }
        a->written++;
    }
    return HK_OK;
}

/* ==== Embedding ==== */

/* The canonical statement of fact id into b (reset first). */
static hk_err statement_of(hk_txn *t, hk_fact_id id, hk_fact *f, hk_buf *b,
                           hk_error *err)
{
    hk_err e;
    if ((e = hk_store_get(t, id, f, err))) return e;
    b->len = 0;
    if ((e = hk_statement_format(&f->st, b)))
        return hk_error_set(err, e, "out of memory");
    return HK_OK;
}

/* hk_svc_embed_apply in an entity space: symbols after a->after that
 * some fact has as an argument and that have no vector get the hashed
 * vector of their name. */
static hk_err embed_entities_hashed(hk_svc_embed_arg *a, hk_txn *t,
                                    const hkv_space *sp, float *v,
                                    uint64_t limit, hk_error *err)
{
    uint32_t max;
    hk_err e;
    if ((e = hks_sym_max(t, &max, err))) return e;
    a->done = true;
    for (uint64_t sym = a->after + 1; sym <= max; sym++) {
        if (sym - a->after > limit) {
            a->done = false;
            break;
        }
        a->last = sym;
        uint64_t facts = 0;
        if ((e = hks_entity_count(t, (uint32_t)sym, NULL, &facts, err)))
            return e;
        if (facts == 0) continue; /* a predicate only */
        e = hkv_entity_get(a->vs, t, a->space, (uint32_t)sym, v, err);
        if (e == HK_OK) continue;
        if (e != HK_ERR_NOT_FOUND) return e;
        hk_error_clear(err);
        const char *nm;
        size_t len;
        if ((e = hks_sym_str(t, (uint32_t)sym, &nm, &len, err))) return e;
        hkv_embed_hashed(nm, len, v, sp->params.dim);
        /* the name lives in the map: copy it before writing */
        char *name = hk_strndup(nm, len);
        if (!name) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        e = hkv_entity_put(a->vs, t, a->space, name, len, v, sp->params.dim,
                           err);
        hk_free(name);
        if (e) return e;
        a->embedded++;
    }
    return HK_OK;
}

hk_err hk_svc_embed_apply(hk_txn *t, void *arg, hk_error *err)
{
    hk_svc_embed_arg *a = arg;
    hkv_space sp;
    hk_query *q = NULL;
    hk_fact f;
    hk_buf b = HK_BUF_INIT;
    float *v = NULL;
    hk_err e;
    uint64_t limit = a->limit ? a->limit : 10000;
    a->embedded = 0;
    a->last = a->after;
    a->done = false;
    hk_fact_init(&f);
    if ((e = hkv_space_find(a->vs, t, a->space, &sp, err))) goto out;
    if (sp.embedder == HKV_EMBED_OPENAI) {
        /* a write txn must not wait for the network (svc_embedder.c) */
        e = hk_error_set(err, HK_ERR_UNSUPPORTED,
                         "space '%s' embeds through an endpoint: its facts "
                         "are embedded by `hakgal embed --space %s`, or "
                         "after commit by a server when the space has "
                         "auto_embed",
                         a->space, a->space);
        goto out;
    }
    if (sp.embedder != HKV_EMBED_HASHED) {
        e = hk_error_set(err, HK_ERR_UNSUPPORTED,
                         "space '%s' has no built-in embedder; supply its "
                         "vectors",
                         a->space);
        goto out;
    }
    v = hk_malloc((size_t)sp.params.dim * sizeof *v);
    if (!v) {
        e = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (sp.kind == HKV_KIND_ENTITY) {
        e = embed_entities_hashed(a, t, &sp, v, limit, err);
        goto out;
    }
    hk_scan scan = HK_SCAN_INIT;
    if ((e = hk_query_open_scan(t, &scan, NULL, &q, err))) goto out;
    /* ids ascend; skip to after (bounded by the facts of the KB) */
    uint64_t seen = 0;
    for (;;) {
        hk_fact_id id;
        bool row;
        if ((e = hk_query_next_id(q, &id, &row, err))) goto out;
        if (!row) {
            a->done = true;
            break;
        }
        if (id <= a->after) continue;
        if (seen++ == limit) break;
        a->last = id;
        e = hkv_get(a->vs, t, a->space, id, v, err);
        if (e == HK_OK) continue;
        if (e != HK_ERR_NOT_FOUND) goto out;
        if ((e = statement_of(t, id, &f, &b, err))) goto out;
        hkv_embed_hashed(b.data, b.len, v, sp.params.dim);
        if ((e = hkv_put(a->vs, t, a->space, id, v, sp.params.dim, err)))
            goto out;
        a->embedded++;
    }
    e = HK_OK;
out:
    if (q) hk_query_close(q);
    hk_free(v);
    hk_buf_free(&b);
    hk_fact_release(&f);
    return e;
}

/* ==== Similarity search ==== */

static int id_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* A growing array of ids. */
typedef struct id_set {
    uint64_t *ids; /* entries (owned) */
    size_t n;      /* used */
    size_t cap;    /* allocated */
} id_set;

static hk_err id_push(id_set *v, uint64_t id, hk_error *err)
{
    if (v->n == HK_SVC_FILTER_MAX)
        return hk_error_set(err, HK_ERR_LIMIT,
                            "the filter selects more than %u ids",
                            HK_SVC_FILTER_MAX);
    if (v->n == v->cap) {
        size_t nc = v->cap ? v->cap * 2 : 256;
        uint64_t *p = hk_realloc(v->ids, nc * sizeof *p);
        if (!p) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        v->ids = p;
        v->cap = nc;
    }
    v->ids[v->n++] = id;
    return HK_OK;
}

/* Sorts v and drops duplicates. */
static void id_sort(id_set *v)
{
    if (v->n) qsort(v->ids, v->n, sizeof *v->ids, id_cmp);
    size_t w = 0;
    for (size_t i = 0; i < v->n; i++)
        if (w == 0 || v->ids[w - 1] != v->ids[i]) v->ids[w++] = v->ids[i];
    v->n = w;
}

/* Keeps in a the ids also in b (both sorted). */
static void id_intersect(id_set *a, const id_set *b)
{
    size_t w = 0, j = 0;
    for (size_t i = 0; i < a->n; i++) {
        while (j < b->n && b->ids[j] < a->ids[i])
            j++;
        if (j < b->n && b->ids[j] == a->ids[i]) a->ids[w++] = a->ids[i];
    }
    a->n = w;
}

static bool has_tag(const hk_fact *f, const char *tag)
{
    for (uint32_t i = 0; i < f->n_tags; i++)
        if (strcmp(f->tags[i], tag) == 0) return true;
    return false;
}

/* Pushes symbol sym into an entity filter's set; a full set is first
 * sorted and deduplicated (a fact scan meets the same entity often). */
static hk_err sym_push(id_set *v, uint64_t sym, hk_error *err)
{
    if (v->n == HK_SVC_FILTER_MAX) id_sort(v);
    return id_push(v, sym, err);
}

/* The entities (symbols) of fact f's arguments into out; an argument
 * that is no symbol is skipped. */
static hk_err fact_syms(hk_txn *t, const hk_fact *f, id_set *out, hk_error *err)
{
    for (uint32_t i = 0; i < f->st.n_args; i++) {
        const char *a = f->st.args[i];
        uint32_t sym;
        hk_err e = hks_sym_id(t, a, strlen(a), &sym, err);
        if (e == HK_ERR_NOT_FOUND) {
            hk_error_clear(err);
            continue;
        }
        if (e || (e = sym_push(out, sym, err))) return e;
    }
    return HK_OK;
}

/* The facts of the scan filters (predicate, entity, tag, source). A
 * predicate or entity narrows through its index; tag and source are
 * checked on each fact scanned. In an entity space (entity true) the
 * filters admit the entities that occur as arguments of those facts:
 * predicate:P the entities of P's facts, entity:E E and the entities it
 * shares a fact with, tag:T and source:S the entities of the facts so
 * marked. */
static hk_err scan_ids(hk_txn *t, const hk_svc_vsimilar_req *r, bool entity,
                       id_set *out, hk_error *err)
{
    hk_scan scan = HK_SCAN_INIT;
    hk_query *q = NULL;
    hk_fact f;
    bool meta = entity || r->tag || r->source;
    hk_err e;
    scan.predicate = r->predicate;
    scan.entity = r->entity;
    if ((e = hk_query_open_scan(t, &scan, NULL, &q, err))) return e;
    hk_fact_init(&f);
    /* bounded by the facts of the KB */
    for (;;) {
        hk_fact_id id;
        bool row;
        if (meta) {
            if ((e = hk_query_next(q, &f, &row, err)) || !row) break;
            id = f.id;
            if (r->tag && !has_tag(&f, r->tag)) continue;
            if (r->source && (!f.source || strcmp(f.source, r->source) != 0))
                continue;
        } else if ((e = hk_query_next_id(q, &id, &row, err)) || !row) {
            break;
        }
        if ((e = entity ? fact_syms(t, &f, out, err) : id_push(out, id, err)))
            break;
    }
    hk_fact_release(&f);
    hk_query_close(q);
    return e;
}

typedef struct gq_ctx {
    hk_txn *t;       /* the snapshot */
    id_set *out;     /* collected ids */
    bool entity;     /* collect entities (symbols) instead of facts */
    const char *var; /* entity: the variable, without '?' (NULL: first) */
    size_t var_len;  /* its bytes */
} gq_ctx;

static hk_err gq_row(void *ud, const hkq_out_row *row, hk_error *err)
{
    gq_ctx *c = ud;
    hk_err e = HK_OK;
    if (!c->entity) {
        for (uint32_t i = 0; !e && i < row->n_facts; i++)
            e = id_push(c->out, row->facts[i], err);
        return e;
    }
    for (uint32_t i = 0; i < row->n; i++) {
        const char *nm = row->names[i];
        if (nm[0] == '?') nm++;
        if (c->var &&
            (strncmp(nm, c->var, c->var_len) != 0 || nm[c->var_len] != 0))
            continue;
        uint32_t sym;
        const char *v = row->values[i];
        e = v ? hks_sym_id(c->t, v, strlen(v), &sym, err) : HK_ERR_NOT_FOUND;
        if (e == HK_ERR_NOT_FOUND) { /* a value that is not an entity */
            hk_error_clear(err);
            return HK_OK;
        }
        return e ? e : id_push(c->out, sym, err);
    }
    return HK_OK;
}

/* The ids a graph query selects: its rows' facts, or in an entity space
 * the entities bound to the variable. Bounded by the query budgets of
 * svc_graph_query.h. */
static hk_err query_ids(hk_txn *t, const hk_svc_vsimilar_req *r, bool entity,
                        id_set *out, hk_error *err)
{
    gq_ctx c = {t, out, entity, r->query_var, 0};
    const char *text = r->query;
    /* "?x:PATTERN" names the variable */
    const char *colon = strchr(text, ':'), *paren = strchr(text, '(');
    if (text[0] == '?' && colon && (!paren || colon < paren)) {
        if (!c.var) {
            c.var = text;
            c.var_len = (size_t)(colon - text);
        }
        text = colon + 1;
    }
    if (c.var && c.var[0] == '?') {
        c.var++;
        if (c.var_len) c.var_len--;
    }
    if (c.var && !c.var_len) c.var_len = strlen(c.var);
    hk_svc_gq_req q = {0};
    hk_svc_gq_res res;
    memset(&res, 0, sizeof res);
    q.text = text;
    q.limit = HK_SVC_GQ_MAX_LIMIT;
    q.row = gq_row;
    q.row_ud = &c;
    hk_err e = hk_svc_graph_query(t, &q, &res, err);
    bool more = !e && res.exec.cursor.len > 0;
    hk_svc_gq_res_free(&res);
    if (more)
        return hk_error_set(err, HK_ERR_LIMIT,
                            "the filter query has more than %u rows",
                            HK_SVC_GQ_MAX_LIMIT);
    if (e && err && !err->field[0])
        snprintf(err->field, sizeof err->field, "query");
    return e;
}

/* The sorted distinct ids (facts, or symbols in an entity space) that
 * every filter of the request admits. */
static hk_err filter_ids(hk_txn *t, const hk_svc_vsimilar_req *r, bool entity,
                         uint64_t **ids, size_t *n, hk_error *err)
{
    id_set a = {0}, b = {0};
    hk_err e = HK_OK;
    bool scan = r->predicate || r->entity || r->tag || r->source;
    if (scan) {
        if (!(e = scan_ids(t, r, entity, &a, err))) id_sort(&a);
    }
    if (!e && r->query) {
        id_set *dst = scan ? &b : &a;
        if (!(e = query_ids(t, r, entity, dst, err))) id_sort(dst);
        if (!e && scan) id_intersect(&a, &b);
    }
    hk_free(b.ids);
    if (e) {
        hk_free(a.ids);
        a.ids = NULL;
        a.n = 0;
    }
    *ids = a.ids;
    *n = a.n;
    return e;
}

bool hk_svc_vfilter_parse(const char *s, hk_svc_vsimilar_req *r, hk_error *err)
{
    static const char *const kinds[] = {
        "predicate:", "entity:", "tag:", "source:", "query:"};
    const char **slot[] = {&r->predicate, &r->entity, &r->tag, &r->source,
                           &r->query};
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        size_t len = strlen(kinds[i]);
        if (strncmp(s, kinds[i], len) != 0) continue;
        const char *v = s + len;
        if (!*v || *slot[i]) {
            hk_error_set(err, HK_ERR_INVALID,
                         *v ? "filter '%.*s' given twice"
                            : "filter '%.*s' needs a value",
                         (int)(len - 1), kinds[i]);
            if (err) snprintf(err->field, sizeof err->field, "filter");
            return false;
        }
        *slot[i] = v;
        return true;
    }
    hk_error_set(err, HK_ERR_INVALID,
                 "a filter is predicate:P, entity:E, tag:T, source:S or "
                 "query:Q (a graph query, e.g. query:HasPart(?x, CPU))");
    if (err) snprintf(err->field, sizeof err->field, "filter");
    return false;
}

typedef struct fetch_ctx {
    hkv_store *vs;     /* store */
    hk_txn *t;         /* snapshot */
    const char *space; /* space name */
} fetch_ctx;

static bool fetch_float(void *ud, uint64_t id, float *out)
{
    fetch_ctx *c = ud;
    return hkv_get(c->vs, c->t, c->space, id, out, NULL) == HK_OK;
}

static bool fetch_entity(void *ud, uint64_t id, float *out)
{
    fetch_ctx *c = ud;
    return hkv_entity_get(c->vs, c->t, c->space, (uint32_t)id, out, NULL) ==
           HK_OK;
}

json_t *hk_svc_vsimilar_hit_json(const hk_svc_vsimilar_hit *h)
{
    if (h->entity)
        return json_pack("{s:s, s:f}", "entity", h->entity, "score", h->score);
    return json_pack("{s:I, s:s, s:f}", "id", (json_int_t)h->id, "statement",
                     h->statement, "score", h->score);
}

void hk_svc_vsimilar_res_free(hk_svc_vsimilar_res *res)
{
    if (!res) return;
    for (size_t i = 0; i < res->n_hits; i++) {
        hk_free(res->hits[i].statement);
        hk_free(res->hits[i].entity);
    }
    hk_free(res->hits);
    memset(res, 0, sizeof *res);
}

hk_err hk_svc_vsimilar(hkv_store *vs, hk_txn *t, const hk_svc_vsimilar_req *r,
                       hk_svc_vsimilar_res *res, hk_error *err)
{
    hkv_space sp;
    const hkv_index *ix = NULL;
    hkv_kept *ref = NULL;
    float *qv = NULL;
    uint64_t *ids = NULL;
    size_t n_ids = 0, n_hits = 0;
    hkv_hit *hits = NULL;
    hk_fact f;
    hk_buf b = HK_BUF_INIT;
    hk_err e;
    memset(res, 0, sizeof *res);
    hk_fact_init(&f);
    int given = (r->text != NULL) + (r->vector != NULL) + (r->fact != 0);
    uint32_t k = r->k ? r->k : 10;
    if (given != 1) {
        e = hk_error_set(err, HK_ERR_INVALID,
                         "give exactly one of a text, a vector or a fact");
        goto out;
    }
    if (k > HK_SVC_SIMILAR_K_MAX) {
        e = hk_error_set(err, HK_ERR_INVALID, "k must be 1..%u",
                         HK_SVC_SIMILAR_K_MAX);
        if (err) snprintf(err->field, sizeof err->field, "k");
        goto out;
    }
    if ((e = hkv_space_find(vs, t, r->space, &sp, err))) goto out;
    bool entity = sp.kind == HKV_KIND_ENTITY;
    bool filtered =
        r->predicate || r->entity || r->tag || r->source || r->query;
    if (entity && r->fact) {
        e = hk_error_set(err, HK_ERR_INVALID,
                         "space '%s' holds entity vectors: query it by text "
                         "or vector",
                         r->space);
        if (err) snprintf(err->field, sizeof err->field, "space");
        goto out;
    }
    qv = hk_malloc((size_t)sp.params.dim * sizeof *qv);
    hits = hk_malloc(k * sizeof *hits);
    if (!qv || !hits) {
        e = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (r->vector) {
        if (r->dim != sp.params.dim) {
            e = hk_error_set(err, HK_ERR_INVALID,
                             "space '%s' has %u dimensions, the vector %u",
                             r->space, sp.params.dim, r->dim);
            if (err) snprintf(err->field, sizeof err->field, "vector");
            goto out;
        }
        memcpy(qv, r->vector, (size_t)r->dim * sizeof *qv);
    } else if (r->fact) {
        if ((e = hkv_get(vs, t, r->space, r->fact, qv, err))) goto out;
    } else if ((e = hk_svc_embed_texts(&sp, &r->text, 1, qv, err))) {
        goto out;
    }
    if (filtered && (e = filter_ids(t, r, entity, &ids, &n_ids, err))) goto out;
    if ((e = r->no_wait ? hkv_index_try_acquire(vs, t, r->space, &ix, &ref, err)
                        : hkv_index_acquire(vs, t, r->space, &ix, &ref, err)))
        goto out;
    hkv_filter flt = {ids, n_ids, 0};
    fetch_ctx fc = {vs, t, r->space};
    hkv_search_opts o = {k, r->ef, filtered ? &flt : NULL,
                         entity ? fetch_entity : fetch_float, &fc};
    int64_t t0 = hk_now_us();
    e = hkv_index_search(ix, qv, &o, hits, &n_hits, err);
    hkv_store_note_search(vs, (uint64_t)(hk_now_us() - t0));
    uint64_t live = hkv_index_count(ix);
    hkv_index_release(ref);
    ref = NULL;
    if (e) goto out;
    res->candidates = n_ids;
    res->indexed = live;
    res->exact =
        o.filter != NULL && n_ids <= (live / 50 > 1000 ? live / 50 : 1000);
    res->hits = hk_calloc(n_hits ? n_hits : 1, sizeof *res->hits);
    if (!res->hits) {
        e = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n_hits; i++) {
        hk_svc_vsimilar_hit *h = &res->hits[res->n_hits];
        if (entity) {
            const char *nm;
            size_t len;
            e = hks_sym_str(t, (uint32_t)hits[i].id, &nm, &len, err);
            if (e == HK_OK) {
                h->entity = hk_strndup(nm, len);
                if (!h->entity)
                    e = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
            }
        } else {
            e = statement_of(t, hits[i].id, &f, &b, err);
            if (e == HK_OK) {
                h->statement = hk_strndup(b.data, b.len);
                if (!h->statement)
                    e = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
            }
        }
        if (e == HK_ERR_NOT_FOUND) { /* newer than t */
            hk_error_clear(err);
            continue;
        }
        h->id = hits[i].id;
        res->n_hits++; /* owned strings are freed with res */
        if (e) goto out;
        double d = hits[i].distance;
        h->score = sp.params.metric == HKV_L2    ? -d
                   : sp.params.metric == HKV_DOT ? -d
                                                 : 1.0 - d;
    }
    e = HK_OK;
out:
    if (e) hk_svc_vsimilar_res_free(res);
    hkv_index_release(ref);
    hk_free(qv);
    hk_free(ids);
    hk_free(hits);
    hk_buf_free(&b);
    hk_fact_release(&f);
    return e;
}

/* ==== Metrics ==== */

hk_err hk_svc_vector_metrics(hkv_store *vs, hk_svc_autoembed *ae, hk_buf *b)
{
    hkv_kept_stats st;
    if (!vs) return HK_OK;
    hkv_kept_stats_get(vs, &st);
    static const struct {
        const char *name; /* metric */
        const char *type; /* gauge or counter */
        const char *help; /* HELP text */
    } m[] = {{"hakgal_vector_index_spaces", "gauge",
              "Vector spaces whose HNSW index is in memory."},
             {"hakgal_vector_index_vectors", "gauge",
              "Live vectors in the in-memory indexes."},
             {"hakgal_vector_index_bytes", "gauge",
              "Memory of the in-memory indexes (vectors, links, maps)."},
             {"hakgal_vector_index_builds_total", "counter",
              "Indexes built from the store (no usable index file)."},
             {"hakgal_vector_index_file_loads_total", "counter",
              "Indexes read from their file beside the KB."},
             {"hakgal_vector_index_caught_up_total", "counter",
              "Facts whose vector an index took over from the audit log."},
             {"hakgal_vector_searches_total", "counter",
              "Vector searches (graph or exact) answered."},
             {"hakgal_vector_search_seconds_total", "counter",
              "Time spent in vector searches (divide by searches for the "
              "mean latency)."}};
    uint64_t v[] = {st.spaces,     st.vectors,   st.bytes,   st.builds,
                    st.file_loads, st.caught_up, st.searches};
    hk_err rc = HK_OK;
    for (size_t i = 0; rc == HK_OK && i < sizeof m / sizeof *m; i++) {
        rc = hk_buf_appendf(b, "# HELP %s %s\n# TYPE %s %s\n", m[i].name,
                            m[i].help, m[i].name, m[i].type);
        if (rc) break;
        if (i < sizeof v / sizeof *v)
            rc = hk_buf_appendf(b, "%s %llu\n", m[i].name,
                                (unsigned long long)v[i]);
        else
            rc = hk_buf_appendf(b, "%s %.6f\n", m[i].name,
                                (double)st.search_us / 1e6);
    }
    if (rc || !ae) return rc;
    hk_svc_autoembed_stats es;
    hk_svc_autoembed_stats_get(ae, &es);
    rc = hk_buf_appendf(
        b,
        "# HELP hakgal_vector_embed_lag_entries Audit entries committed but "
        "not yet seen by the background embedder.\n"
        "# TYPE hakgal_vector_embed_lag_entries gauge\n"
        "hakgal_vector_embed_lag_entries %llu\n"
        "# HELP hakgal_vector_embedded_total Vectors written by the "
        "background embedder.\n"
        "# TYPE hakgal_vector_embedded_total counter\n"
        "hakgal_vector_embedded_total %llu\n"
        "# HELP hakgal_vector_embed_failures_total Background embedding "
        "rounds that failed.\n"
        "# TYPE hakgal_vector_embed_failures_total counter\n"
        "hakgal_vector_embed_failures_total %llu\n"
        "# HELP hakgal_vector_embed_seconds_total Time the background "
        "embedder spent (embedded_total / this = vectors per second).\n"
        "# TYPE hakgal_vector_embed_seconds_total counter\n"
        "hakgal_vector_embed_seconds_total %.6f\n",
        (unsigned long long)es.lag, (unsigned long long)es.embedded,
        (unsigned long long)es.failures, es.busy_seconds);
    return rc;
}

/* ==== Opening a KB with the vector module ==== */

hk_err hk_svc_store_open(const char *dir, const hk_store_options *opt,
                         hk_store **s, hkv_store **vs, hk_error *err)
{
    *vs = NULL;
    hk_err e = hk_store_open(dir, opt, s, err);
    if (e) return e;
    e = hkv_store_attach(*s, vs, err);
    /* read-only and the KB never had a vector space: nothing to remove */
    if (e == HK_ERR_NOT_FOUND && opt->read_only) {
        hk_error_clear(err);
        e = HK_OK;
    }
    /* a KB with a change-stream outbox: every write feeds it */
    if (!e) e = hkst_outbox_attach(*s, err);
    /* the rule module keeps derived facts current after every change */
    if (e == HK_OK) e = hkr_attach(*s, err);
    /* per-day counters of facts added and deleted (svc_growth.c) */
    if (e == HK_OK) e = hk_svc_growth_attach(*s, opt->read_only, err);
    if (e) {
        hkv_store_detach(*vs);
        *vs = NULL;
        hk_store_close(*s);
        *s = NULL;
    }
    return e;
}

void hk_svc_store_close(hk_store *s, hkv_store *vs)
{
    if (s) hk_svc_train_stop(s); /* a background training ends first */
    hkv_store_detach(vs);
    hkr_detach(s);
    if (s) hk_store_close(s);
}
