/*
 * svc_hybrid.c — one search over text, vectors or both (svc_vector.h,
 * hk_svc_hsearch).
 *
 * Hybrid search fuses two rankings of the same facts: the text search
 * (hk_svc_search: shared words, rarer words weigh more) and the vector
 * search (hk_svc_vsimilar over the query embedded by the space's
 * embedder: built in, or an OpenAI-compatible endpoint). Their scores are not
 * comparable (BM25-like sums against cosine similarities), so they are fused by
 * rank, as Qdrant and Elasticsearch do: reciprocal rank fusion,
 *
 *     score(f) = w_text / (k + rank_text(f)) + w_vector / (k + rank_vec(f))
 *
 * with 1-based ranks, a term only where f appears in that ranking, and
 * k = 60 (Cormack et al. 2009). Each ranking is read max(3 * limit, 50)
 * deep (at most 1000), so a fact ranked well by one side only still
 * competes. Ties go to the smaller fact id, so answers repeat.
 */
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "service/svc_vector.h"

/* Deepest ranking read from either side. */
#define HSEARCH_DEPTH_MAX 1000u
#define HSEARCH_LIMIT_MAX 1000u

bool hk_svc_smode_parse(const char *s, hk_svc_smode *out)
{
    if (strcmp(s, "text") == 0)
        *out = HK_SVC_SEARCH_TEXT;
    else if (strcmp(s, "vector") == 0)
        *out = HK_SVC_SEARCH_VECTOR;
    else if (strcmp(s, "hybrid") == 0)
        *out = HK_SVC_SEARCH_HYBRID;
    else
        return false;
    return true;
}

const char *hk_svc_smode_name(hk_svc_smode m)
{
    return m == HK_SVC_SEARCH_VECTOR   ? "vector"
           : m == HK_SVC_SEARCH_HYBRID ? "hybrid"
                                       : "text";
}

/* One fact's share of the fused score. */
typedef struct fused {
    hk_fact_id id; /* the fact */
    double score;  /* its contribution, then its sum */
} fused;

typedef struct fuse_list {
    fused *a;   /* entries */
    size_t n;   /* used */
    size_t cap; /* allocated */
} fuse_list;

static hk_err fuse_add(fuse_list *l, hk_fact_id id, double score)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 128;
        fused *a = hk_realloc(l->a, cap * sizeof *a);
        if (!a) return HK_ERR_NOMEM;
        l->a = a;
        l->cap = cap;
    }
    l->a[l->n++] = (fused){id, score};
    return HK_OK;
}

static int by_id(const void *a, const void *b)
{
    hk_fact_id x = ((const fused *)a)->id, y = ((const fused *)b)->id;
    return x < y ? -1 : x > y;
}

static int by_score(const void *a, const void *b)
{
    const fused *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Collects the text ranking: rank r gets w / (k + r). */
typedef struct text_ctx {
    fuse_list *l; /* where contributions go */
    double w;     /* weight */
    double k;     /* rank offset */
    size_t rank;  /* hits so far */
} text_ctx;

static hk_err text_hit(void *ud, const hk_fact *f, double score, hk_error *err)
{
    text_ctx *c = ud;
    (void)score;
    c->rank++;
    if (fuse_add(c->l, f->id, c->w / (c->k + (double)c->rank)))
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    return HK_OK;
}

/* The space to search: req->space, or the first (name order) with the
 * built-in embedder or, when this process has an embeddings endpoint,
 * with the openai embedder; for a client's vector (dim > 0) the first
 * fact space of its dimension. *found false when there is none. */
static hk_err pick_space(hkv_store *vs, hk_txn *t, const char *want,
                         uint32_t dim, char *name, bool *found, hk_error *err)
{
    *found = false;
    if (!vs) return HK_OK;
    if (want) {
        hkv_space sp;
        hk_err e = hkv_space_find(vs, t, want, &sp, err);
        if (e) return e;
        if (sp.kind != HKV_KIND_FACT) {
            hk_error_set(err, HK_ERR_INVALID,
                         "space '%s' holds entity vectors; search ranks "
                         "facts (use similar for entities)",
                         want);
            if (err) snprintf(err->field, sizeof err->field, "space");
            return HK_ERR_INVALID;
        }
        snprintf(name, HKV_NAME_MAX + 1, "%s", sp.name);
        *found = true;
        return HK_OK;
    }
    hkv_space *all = hk_calloc(HKV_SPACES_MAX, sizeof *all);
    size_t n = 0;
    if (!all) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    hk_err e = hkv_space_list(vs, t, all, &n, err);
    for (size_t i = 0; !e && i < n && !*found; i++)
        if (all[i].kind != HKV_KIND_FACT) {
            continue; /* entity vectors rank entities, not facts */
        } else if (dim ? all[i].params.dim == dim
                       : (all[i].embedder == HKV_EMBED_HASHED ||
                          (all[i].embedder == HKV_EMBED_OPENAI &&
                           hk_svc_embed_endpoint(NULL) == HK_OK))) {
            snprintf(name, HKV_NAME_MAX + 1, "%s", all[i].name);
            *found = true;
        }
    hk_free(all);
    return e;
}

hk_err hk_svc_hsearch(hkv_store *vs, hk_txn *t, const hk_svc_hsearch_req *r,
                      size_t *shown, hk_error *err)
{
    size_t limit = r->limit ? r->limit : 10;
    char space[HKV_NAME_MAX + 1];
    bool have_space = false;
    fuse_list l = {NULL, 0, 0};
    hk_svc_vsimilar_res vres;
    hk_fact f;
    hk_err e;
    *shown = 0;
    memset(&vres, 0, sizeof vres);
    if (limit > HSEARCH_LIMIT_MAX) {
        hk_error_set(err, HK_ERR_INVALID, "limit must be 1..%u",
                     HSEARCH_LIMIT_MAX);
        if (err) snprintf(err->field, sizeof err->field, "limit");
        return HK_ERR_INVALID;
    }
    if (r->mode != HK_SVC_SEARCH_TEXT &&
        (e = pick_space(vs, t, r->space, r->vector ? r->dim : 0, space,
                        &have_space, err)))
        return e;
    if (r->mode == HK_SVC_SEARCH_VECTOR && !have_space && r->vector)
        return hk_error_set(err, HK_ERR_NOT_FOUND,
                            "no fact vector space of %u dimensions", r->dim);
    if (r->mode == HK_SVC_SEARCH_VECTOR && !have_space)
        return hk_error_set(err, HK_ERR_NOT_FOUND,
                            "no vector space with an embedder this process "
                            "can use (hashed, or openai with an endpoint "
                            "configured); create one or search with "
                            "mode=text");
    if (r->used_vectors)
        *r->used_vectors = r->mode != HK_SVC_SEARCH_TEXT && have_space;
    if (r->mode == HK_SVC_SEARCH_TEXT || !have_space) {
        hk_svc_search_req sr = {r->query, limit, r->hit, r->hit_ud};
        return hk_svc_search(t, &sr, shown, err);
    }
    double k = r->rrf_k ? r->rrf_k : 60;
    double wt = r->w_text > 0 ? r->w_text : 1;
    double wv = r->w_vector > 0 ? r->w_vector : 1;
    size_t depth = limit * 3 > 50 ? limit * 3 : 50;
    if (depth > HSEARCH_DEPTH_MAX) depth = HSEARCH_DEPTH_MAX;
    hk_fact_init(&f);
    bool hybrid = r->mode == HK_SVC_SEARCH_HYBRID;
    if (hybrid) {
        text_ctx tc = {&l, wt, k, 0};
        hk_svc_search_req sr = {r->query, depth, text_hit, &tc};
        size_t n;
        if ((e = hk_svc_search(t, &sr, &n, err))) goto out;
    }
    hk_svc_vsimilar_req vr;
    memset(&vr, 0, sizeof vr);
    vr.space = space;
    vr.text = r->vector ? NULL : r->query;
    vr.vector = r->vector;
    vr.dim = r->dim;
    vr.k = (uint32_t)(hybrid ? depth : limit);
    vr.no_wait = r->no_wait;
    vr.ef = r->ef;
    if ((e = hk_svc_vsimilar(vs, t, &vr, &vres, err))) goto out;
    for (size_t i = 0; i < vres.n_hits; i++) {
        double s = hybrid ? wv / (k + (double)(i + 1)) : vres.hits[i].score;
        if (fuse_add(&l, vres.hits[i].id, s)) {
            e = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    /* sum the shares of each fact, then rank by the sums */
    if (l.n) qsort(l.a, l.n, sizeof *l.a, by_id);
    size_t w = 0;
    for (size_t i = 0; i < l.n; i++) {
        if (w && l.a[w - 1].id == l.a[i].id)
            l.a[w - 1].score += l.a[i].score;
        else
            l.a[w++] = l.a[i];
    }
    l.n = w;
    if (l.n) qsort(l.a, l.n, sizeof *l.a, by_score);
    for (size_t i = 0; i < l.n && *shown < limit; i++) {
        e = hk_store_get(t, l.a[i].id, &f, err);
        if (e == HK_ERR_NOT_FOUND) { /* gone since the rankings */
            hk_error_clear(err);
            continue;
        }
        if (e || (e = r->hit(r->hit_ud, &f, l.a[i].score, err))) goto out;
        (*shown)++;
    }
    e = HK_OK;
out:
    hk_fact_release(&f);
    hk_svc_vsimilar_res_free(&vres);
    hk_free(l.a);
    return e;
}
