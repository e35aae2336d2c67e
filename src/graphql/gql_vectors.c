/*
 * gql_vectors.c — the resolvers of vector search: Query.vectorSpaces,
 * Query.similar and Mutation.createVectorSpace, dropVectorSpace. They
 * call the functions of the REST routes (src/server/routes_vectors.c):
 * hkv_space_list with hk_svc_vspace_json, hk_svc_vsimilar, and the apply
 * steps hk_svc_vspace_create_apply / _drop_apply. Dropping a space needs
 * the admin role as DELETE /v2/vectors/{space} does. The vector module
 * is env->vs (NULL: the KB never had a space).
 */
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "graphql/gql_int.h"
#include "service/svc_vector.h"

static json_t *nomem(gql_ctx *c)
{
    hk_error e;
    hk_error_set(&e, HK_ERR_NOMEM, "out of memory");
    return gql_error_hk(c, &e);
}

/* The string argument name, or NULL when absent or null. */
static const char *arg_str(json_t *args, const char *name)
{
    return json_string_value(json_object_get(args, name));
}

json_t *gql_r_vector_spaces(gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    (void)args;
    json_t *arr = json_array();
    if (!arr) return nomem(c);
    if (!c->env->vs) return arr; /* no space was ever created */
    hkv_space *all = hk_calloc(HKV_SPACES_MAX, sizeof *all);
    size_t n = 0;
    hk_error err;
    if (!all) {
        json_decref(arr);
        return nomem(c);
    }
    if (hkv_space_list(c->env->vs, c->env->txn, all, &n, &err) != HK_OK) {
        hk_free(all);
        json_decref(arr);
        return gql_error_hk(c, &err);
    }
    bool ok = true;
    for (size_t i = 0; ok && i < n; i++)
        ok = !json_array_append_new(arr, hk_svc_vspace_json(&all[i]));
    hk_free(all);
    if (!ok) {
        json_decref(arr);
        return nomem(c);
    }
    return arr;
}

json_t *gql_r_similar(gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    hk_svc_vsimilar_req r;
    memset(&r, 0, sizeof r);
    r.space = arg_str(args, "space");
    r.text = arg_str(args, "text");
    r.predicate = arg_str(args, "predicate");
    r.entity = arg_str(args, "entity");
    const char *fact = arg_str(args, "fact");
    if (fact && !hk_svc_parse_positive(fact, &r.fact))
        return gql_error(c, "fact is a fact id");
    json_t *vec = json_object_get(args, "vector");
    if (json_is_array(vec) && json_array_size(vec) > HKV_DIM_MAX)
        return gql_error(c, "vector has more than %u numbers", HKV_DIM_MAX);
    if ((r.text != NULL) + (fact != NULL) + json_is_array(vec) != 1)
        return gql_error(c, "give exactly one of text, vector and fact");
    json_t *ef = json_object_get(args, "ef");
    if (json_is_integer(ef)) {
        if (json_integer_value(ef) < 1 || json_integer_value(ef) > HKV_EF_MAX)
            return gql_error(c, "ef must be between 1 and %u", HKV_EF_MAX);
        r.ef = (uint32_t)json_integer_value(ef);
    }
    json_t *k = json_object_get(args, "k");
    if (json_is_integer(k)) {
        if (json_integer_value(k) < 1 || json_integer_value(k) > 1000)
            return gql_error(c, "k must be between 1 and 1000");
        r.k = (uint32_t)json_integer_value(k);
    }
    if (!c->env->vs) return gql_error(c, "no vector space '%s'", r.space);
    float *v = NULL;
    if (json_is_array(vec)) {
        size_t n = json_array_size(vec);
        v = hk_calloc(n ? n : 1, sizeof *v);
        if (!v) return nomem(c);
        for (size_t i = 0; i < n; i++)
            v[i] = (float)json_number_value(json_array_get(vec, i));
        r.vector = v;
        r.dim = (uint32_t)n;
    }
    hk_svc_vsimilar_res res;
    memset(&res, 0, sizeof res);
    hk_error err;
    hk_err rc = hk_svc_vsimilar(c->env->vs, c->env->txn, &r, &res, &err);
    hk_free(v);
    if (rc != HK_OK) return gql_error_hk(c, &err);
    json_t *hits = json_array();
    bool ok = hits != NULL;
    for (size_t i = 0; ok && i < res.n_hits; i++) {
        const hk_svc_vsimilar_hit *h = &res.hits[i];
        char id[32];
        snprintf(id, sizeof id, "%llu", (unsigned long long)h->id);
        ok = !json_array_append_new(hits, json_pack("{s:s, s:s, s:f}", "id", id,
                                                    "statement", h->statement,
                                                    "score", h->score));
    }
    json_t *out =
        ok ? json_pack("{s:s, s:o, s:I, s:b, s:I}", "space", r.space, "hits",
                       hits, "candidates", (json_int_t)res.candidates, "exact",
                       res.exact, "indexed", (json_int_t)res.indexed)
           : NULL;
    if (!ok) json_decref(hits);
    hk_svc_vsimilar_res_free(&res);
    return out ? out : nomem(c);
}

json_t *gql_r_create_space(gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    if (!c->mutation) return gql_error(c, "writes run only in mutations");
    if (!c->env->vs) return gql_error(c, "no vector module here");
    hk_svc_vspace_arg a;
    memset(&a, 0, sizeof a);
    const char *name = arg_str(args, "name");
    const char *metric = arg_str(args, "metric");
    const char *embedder = arg_str(args, "embedder");
    json_int_t dim = json_integer_value(json_object_get(args, "dim"));
    if (!name || !*name || strlen(name) > HKV_NAME_MAX)
        return gql_error(c, "a space needs a name (1..48 of [a-z0-9_-])");
    if (dim < 1 || dim > HKV_DIM_MAX)
        return gql_error(c, "dim must be between 1 and %u", HKV_DIM_MAX);
    if (!hk_svc_vmetric_parse(metric ? metric : "cosine", &a.sp.params.metric))
        return gql_error(c, "metric is cosine, dot or l2");
    if (!hk_svc_vembedder_parse(embedder ? embedder : "none", &a.sp.embedder))
        return gql_error(c, "embedder is none, hashed or openai");
    a.vs = c->env->vs;
    snprintf(a.sp.name, sizeof a.sp.name, "%s", name);
    a.sp.params.dim = (uint32_t)dim;
    a.sp.params.quant =
        json_is_true(json_object_get(args, "int8")) ? HKV_I8 : HKV_F32;
    a.sp.auto_embed = json_is_true(json_object_get(args, "autoEmbed"));
    const char *const pn[] = {"m", "efConstruction", "ef"};
    const uint32_t pmax[] = {HKV_M_MAX, HKV_EF_MAX, HKV_EF_MAX};
    uint32_t *pv[] = {&a.sp.params.m, &a.sp.params.ef_construction,
                      &a.sp.params.ef};
    for (size_t i = 0; i < 3; i++) {
        json_t *x = json_object_get(args, pn[i]);
        if (!json_is_integer(x)) continue;
        if (json_integer_value(x) < 0 || json_integer_value(x) > pmax[i])
            return gql_error(c, "%s must be between 0 and %u", pn[i], pmax[i]);
        *pv[i] = (uint32_t)json_integer_value(x);
    }
    hk_error err;
    hk_error_clear(&err);
    if (hk_svc_vspace_create_apply(c->env->txn, &a, &err) != HK_OK)
        return gql_error_hk(c, &err);
    json_t *o = hk_svc_vspace_json(&a.sp);
    return o ? o : nomem(c);
}

json_t *gql_r_drop_space(gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    if (!c->mutation) return gql_error(c, "writes run only in mutations");
    if (c->env->role < HK_ROLE_ADMIN)
        return gql_error_code(c, "FORBIDDEN",
                              "dropping a vector space needs the admin role");
    const char *name = arg_str(args, "name");
    if (!name || !*name || strlen(name) > HKV_NAME_MAX)
        return gql_error(c, "bad vector space name");
    if (!c->env->vs) return gql_error(c, "no vector space '%s'", name);
    hk_svc_vspace_arg a;
    memset(&a, 0, sizeof a);
    a.vs = c->env->vs;
    snprintf(a.sp.name, sizeof a.sp.name, "%s", name);
    hk_error err;
    hk_error_clear(&err);
    if (hk_svc_vspace_drop_apply(c->env->txn, &a, &err) != HK_OK)
        return gql_error_hk(c, &err);
    json_t *o = json_pack("{s:s, s:b}", "name", a.sp.name, "dropped", 1);
    return o ? o : nomem(c);
}
