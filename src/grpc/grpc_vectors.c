/*
 * grpc_vectors.c — the vector space methods of hakgal.v2.Hakgal
 * (ListVectorSpaces, CreateVectorSpace, DropVectorSpace, SimilarVectors)
 * over the operations the REST routes of src/server/routes_vectors.c call
 * (src/service/svc_vector.h), with the same checks, defaults and roles.
 *
 * SimilarVectors runs on the worker that owns the call, with the worker's
 * read transaction: a gRPC worker is not an event loop, so a search that
 * first reads or builds an index holds only its own call (REST moves the
 * same search off its loop thread to a pool thread).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "grpc/grpc_int.h"
#include "service/svc_vector.h"

/* The attached vector module; NULL (call answered) when the server has
 * none (a read-only KB that never had a space). */
static hkv_store *vstore(hk_grpc_call *c)
{
    hkv_store *vs = hk_server_vstore(c->srv);
    if (!vs)
        hk_grpc_finish(c, GRPC_STATUS_FAILED_PRECONDITION,
                       "this server has no vector module (read-only KB)", NULL);
    return vs;
}

/* The VectorSpace message of sp; strings point into sp. */
static void space_msg(const hkv_space *sp, Hakgal__V2__VectorSpace *m)
{
    hakgal__v2__vector_space__init(m);
    m->name = (char *)sp->name;
    m->dim = sp->params.dim;
    m->metric = (char *)hk_svc_vmetric_name(sp->params.metric);
    m->storage = sp->params.quant == HKV_I8 ? "int8" : "float32";
    m->m = sp->params.m;
    m->ef_construction = sp->params.ef_construction;
    m->ef = sp->params.ef;
    m->embedder = (char *)hk_svc_vembedder_name(sp->embedder);
    m->vectors = sp->vectors;
    m->auto_embed = sp->auto_embed;
    m->kind = (char *)hk_svc_vkind_name(sp->kind);
    m->model = (char *)sp->model;
}

/* ==== ListVectorSpaces ==== */

void hk_grpc_list_vector_spaces(hk_grpc_call *c)
{
    hkv_store *vs = hk_server_vstore(c->srv);
    hk_txn *t = hk_grpc_read_txn(c);
    if (!t) return;
    hk_error err;
    hk_error_clear(&err);
    hkv_space *all = hk_calloc(HKV_SPACES_MAX, sizeof *all);
    Hakgal__V2__VectorSpace *m = hk_calloc(HKV_SPACES_MAX, sizeof *m);
    Hakgal__V2__VectorSpace **mp = hk_calloc(HKV_SPACES_MAX, sizeof *mp);
    size_t n = 0;
    hk_err rc = HK_OK;
    if (!all || !m || !mp)
        rc = hk_error_set(&err, HK_ERR_NOMEM, "out of memory");
    else if (vs)
        rc = hkv_space_list(vs, t, all, &n, &err);
    if (rc != HK_OK) {
        hk_grpc_fail(c, &err);
    } else {
        for (size_t i = 0; i < n && i < HKV_SPACES_MAX; i++) {
            space_msg(&all[i], &m[i]);
            mp[i] = &m[i];
        }
        Hakgal__V2__ListVectorSpacesResponse a =
            HAKGAL__V2__LIST_VECTOR_SPACES_RESPONSE__INIT;
        a.n_spaces = n;
        a.spaces = mp;
        hk_grpc_reply(c, &a.base);
    }
    hk_free(mp);
    hk_free(m);
    hk_free(all);
}

/* ==== CreateVectorSpace, DropVectorSpace ==== */

static void bad(hk_grpc_call *c, const char *why, const char *field)
{
    hk_grpc_finish(c, GRPC_STATUS_INVALID_ARGUMENT, why, field);
}

static const char *or_default(const char *s, const char *def)
{
    return s && s[0] ? s : def;
}

void hk_grpc_create_vector_space(hk_grpc_call *c)
{
    const Hakgal__V2__CreateVectorSpaceRequest *q = (void *)c->req;
    hk_svc_vspace_arg a;
    memset(&a, 0, sizeof a);
    const char *name = q->name ? q->name : "";
    const char *model = q->model ? q->model : "";
    if (!name[0] || strlen(name) > HKV_NAME_MAX || q->dim == 0) {
        bad(c, "a space needs a name (1..48 of [a-z0-9_-]) and dim (1..4096)",
            name[0] ? "dim" : "name");
    } else if (q->dim > HKV_DIM_MAX || q->m > HKV_M_MAX ||
               q->ef_construction > HKV_EF_MAX || q->ef > HKV_EF_MAX) {
        bad(c, "expected a non-negative integer in range",
            q->dim > HKV_DIM_MAX ? "dim"
            : q->m > HKV_M_MAX   ? "m"
            : q->ef > HKV_EF_MAX ? "ef"
                                 : "ef_construction");
    } else if (!hk_svc_vmetric_parse(or_default(q->metric, "cosine"),
                                     &a.sp.params.metric)) {
        bad(c, "metric is cosine, dot or l2", "metric");
    } else if (!hk_svc_vembedder_parse(or_default(q->embedder, "none"),
                                       &a.sp.embedder)) {
        bad(c, "embedder is none, hashed or openai", "embedder");
    } else if (!hk_svc_vkind_parse(or_default(q->kind, "fact"), &a.sp.kind)) {
        bad(c, "kind is fact or entity", "kind");
    } else if (strlen(model) > HKV_MODEL_MAX) {
        bad(c, "model has at most 128 bytes", "model");
    } else if ((a.vs = vstore(c)) != NULL) {
        snprintf(a.sp.model, sizeof a.sp.model, "%s", model);
        snprintf(a.sp.name, sizeof a.sp.name, "%s", name);
        a.sp.params.dim = q->dim;
        a.sp.params.quant = q->int8 ? HKV_I8 : HKV_F32;
        a.sp.auto_embed = q->auto_embed;
        a.sp.params.m = q->m;
        a.sp.params.ef_construction = q->ef_construction;
        a.sp.params.ef = q->ef;
        hk_error err;
        hk_error_clear(&err);
        hk_err rc = hk_server_write_sync(c->srv, hk_svc_vspace_create_apply, &a,
                                         c->who.name, &err);
        if (rc != HK_OK) {
            hk_grpc_fail(c, &err);
            return;
        }
        Hakgal__V2__VectorSpace m;
        space_msg(&a.sp, &m);
        hk_grpc_reply(c, &m.base);
    }
}

void hk_grpc_drop_vector_space(hk_grpc_call *c)
{
    const Hakgal__V2__DropVectorSpaceRequest *q = (void *)c->req;
    if (!q->name || !q->name[0] || strlen(q->name) > HKV_NAME_MAX) {
        bad(c, "bad vector space name", "space");
        return;
    }
    hk_svc_vspace_arg a;
    memset(&a, 0, sizeof a);
    if (!(a.vs = vstore(c))) return;
    snprintf(a.sp.name, sizeof a.sp.name, "%s", q->name);
    hk_error err;
    hk_error_clear(&err);
    hk_err rc = hk_server_write_sync(c->srv, hk_svc_vspace_drop_apply, &a,
                                     c->who.name, &err);
    if (rc != HK_OK) {
        hk_grpc_fail(c, &err);
        return;
    }
    Hakgal__V2__DropVectorSpaceResponse r =
        HAKGAL__V2__DROP_VECTOR_SPACE_RESPONSE__INIT;
    r.name = a.sp.name;
    r.dropped = true;
    hk_grpc_reply(c, &r.base);
}

/* ==== SimilarVectors ==== */

static const char *opt(const char *s)
{
    return s && s[0] ? s : NULL;
}

void hk_grpc_similar_vectors(hk_grpc_call *c)
{
    const Hakgal__V2__SimilarVectorsRequest *q = (void *)c->req;
    if (!q->space || !q->space[0] || strlen(q->space) > HKV_NAME_MAX) {
        bad(c, "bad vector space name", "space");
        return;
    }
    if (q->k > 1000) {
        bad(c, "expected a positive integer in range", "k");
        return;
    }
    if (q->ef > HKV_EF_MAX) {
        bad(c, "expected a positive integer in range", "ef");
        return;
    }
    if (q->fact > INT64_MAX) {
        bad(c, "expected a positive integer in range", "fact");
        return;
    }
    if (q->n_vector > HKV_DIM_MAX) {
        bad(c, "vector is an array of 1..4096 numbers", "vector");
        return;
    }
    for (size_t i = 0; i < q->n_vector; i++)
        if (!isfinite(q->vector[i])) {
            bad(c, "vector holds a value that is not a finite number",
                "vector");
            return;
        }
    hk_svc_vsimilar_req r;
    memset(&r, 0, sizeof r);
    r.space = q->space;
    r.text = opt(q->text);
    r.vector = q->n_vector ? q->vector : NULL;
    r.dim = (uint32_t)q->n_vector;
    r.fact = q->fact;
    r.k = q->k;
    r.ef = q->ef;
    r.predicate = opt(q->predicate);
    r.entity = opt(q->entity);
    r.tag = opt(q->tag);
    r.source = opt(q->source);
    r.query = opt(q->query);
    r.query_var = opt(q->var);
    hkv_store *vs = vstore(c);
    if (!vs) return;
    hk_txn *t = hk_grpc_read_txn(c);
    if (!t) return;
    hk_error err;
    hk_error_clear(&err);
    hk_svc_vsimilar_res res;
    memset(&res, 0, sizeof res);
    hk_err rc = hk_svc_vsimilar(vs, t, &r, &res, &err);
    if (rc != HK_OK) {
        hk_grpc_fail(c, &err);
        hk_svc_vsimilar_res_free(&res);
        return;
    }
    size_t n = res.n_hits;
    Hakgal__V2__VectorHit *h = n ? hk_calloc(n, sizeof *h) : NULL;
    Hakgal__V2__VectorHit **hp = n ? hk_calloc(n, sizeof *hp) : NULL;
    if (n && (!h || !hp)) {
        hk_grpc_finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory",
                       NULL);
    } else {
        for (size_t i = 0; i < n; i++) {
            const hk_svc_vsimilar_hit *x = &res.hits[i];
            hakgal__v2__vector_hit__init(&h[i]);
            h[i].id = x->entity ? 0 : x->id;
            h[i].statement = x->statement ? x->statement : "";
            h[i].entity = x->entity ? x->entity : "";
            h[i].score = x->score;
            hp[i] = &h[i];
        }
        Hakgal__V2__SimilarVectorsResponse a =
            HAKGAL__V2__SIMILAR_VECTORS_RESPONSE__INIT;
        a.space = (char *)q->space;
        a.n_hits = n;
        a.hits = hp;
        a.candidates = res.candidates;
        a.exact = res.exact;
        a.indexed = res.indexed;
        hk_grpc_reply(c, &a.base);
    }
    hk_free(hp);
    hk_free(h);
    hk_svc_vsimilar_res_free(&res);
}
