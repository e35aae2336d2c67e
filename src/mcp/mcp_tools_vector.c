/*
 * mcp_tools_vector.c — the vector search tools vector_spaces,
 * vector_similar, vector_space (create/drop) and vector_entities (entity
 * vectors), and search_knowledge's vector and hybrid modes, over the
 * service operations of svc_vector.h, on the
 * vector module the adapter attached when it opened the KB
 * (hk_mcp_env.vstore_slot).
 */
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "mcp/mcp_tools.h"
#include "service/svc_vector.h"

/* The attached vector module; HK_ERR_STATE when the adapter has none. */
static hk_err vstore(mcp_call *c, hkv_store **vs, hk_error *err)
{
    hkv_store **slot = c->srv->env.vstore_slot;
    *vs = slot ? *slot : NULL;
    if (*vs) return HK_OK;
    return hk_error_set(err, HK_ERR_STATE, "vector search is not available");
}

hk_err mcp_t_vector_spaces(mcp_call *c, json_t **out, hk_error *err)
{
    hkv_store *vs;
    hk_err rc = vstore(c, &vs, err);
    if (rc) return rc;
    hkv_space *all = hk_calloc(HKV_SPACES_MAX, sizeof *all);
    if (!all) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    size_t n = 0;
    hk_txn *t = NULL;
    rc = mcp_read_begin(c, &t, err);
    if (rc == HK_OK) rc = hkv_space_list(vs, t, all, &n, err);
    if (t) hk_txn_abort(t);
    json_t *arr = rc ? NULL : json_array();
    for (size_t i = 0; arr && i < n; i++)
        if (json_array_append_new(arr, hk_svc_vspace_json(&all[i]))) {
            json_decref(arr);
            arr = NULL;
        }
    hk_free(all);
    if (rc) return rc;
    *out = arr ? json_pack("{s:o}", "spaces", arr) : NULL;
    return *out ? HK_OK : hk_error_set(err, HK_ERR_NOMEM, "out of memory");
}

hk_err mcp_t_vector_similar(mcp_call *c, json_t **out, hk_error *err)
{
    hkv_store *vs;
    hk_err rc = vstore(c, &vs, err);
    if (rc) return rc;
    hk_svc_vsimilar_req req;
    memset(&req, 0, sizeof req);
    req.space = mcp_arg_str(c, "space", "");
    req.text = mcp_arg_str(c, "text", NULL);
    req.fact = (hk_fact_id)mcp_arg_int(c, "fact", 0);
    req.k = (uint32_t)mcp_arg_int(c, "k", 10);
    req.predicate = mcp_arg_str(c, "predicate", NULL);
    req.entity = mcp_arg_str(c, "entity", NULL);
    req.tag = mcp_arg_str(c, "tag", NULL);
    req.source = mcp_arg_str(c, "source", NULL);
    req.query = mcp_arg_str(c, "query", NULL);
    req.query_var = mcp_arg_str(c, "var", NULL);
    json_t *v = json_object_get(c->args, "vector");
    float *vec = NULL;
    if (json_is_array(v)) {
        /* the schema bounds it to 1..4096 numbers */
        size_t n = json_array_size(v);
        if (!(vec = hk_malloc(n * sizeof *vec)))
            return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < n; i++)
            vec[i] = (float)json_number_value(json_array_get(v, i));
        req.vector = vec;
        req.dim = (uint32_t)n;
    }
    hk_svc_vsimilar_res res;
    memset(&res, 0, sizeof res);
    hk_txn *t = NULL;
    rc = mcp_read_begin(c, &t, err);
    if (rc == HK_OK) rc = hk_svc_vsimilar(vs, t, &req, &res, err);
    if (t) hk_txn_abort(t);
    hk_free(vec);
    if (rc) return rc;
    json_t *hits = json_array();
    for (size_t i = 0; hits && i < res.n_hits; i++) {
        const hk_svc_vsimilar_hit *h = &res.hits[i];
        if (json_array_append_new(hits, hk_svc_vsimilar_hit_json(h))) {
            json_decref(hits);
            hits = NULL;
        }
    }
    *out = hits ? json_pack("{s:s, s:o, s:I, s:b}", "space", req.space, "hits",
                            hits, "candidates", (json_int_t)res.candidates,
                            "exact", res.exact)
                : NULL;
    hk_svc_vsimilar_res_free(&res);
    return *out ? HK_OK : hk_error_set(err, HK_ERR_NOMEM, "out of memory");
}

/* ==== vector_space: create or drop ==== */

/* HK_ERR_INVALID naming field with why. */
static hk_err bad_arg(hk_error *err, const char *field, const char *why)
{
    hk_error_set(err, HK_ERR_INVALID, "%s", why);
    snprintf(err->field, sizeof err->field, "%s", field);
    return HK_ERR_INVALID;
}

hk_err mcp_t_vector_space(mcp_call *c, json_t **out, hk_error *err)
{
    hkv_store *vs;
    hk_err rc = vstore(c, &vs, err);
    if (rc) return rc;
    const char *action = mcp_arg_str(c, "action", "");
    const char *name = mcp_arg_str(c, "space", "");
    hk_svc_vspace_arg a;
    memset(&a, 0, sizeof a);
    a.vs = vs;
    if (strlen(name) > HKV_NAME_MAX)
        return bad_arg(err, "space", "a space name has at most 48 bytes");
    snprintf(a.sp.name, sizeof a.sp.name, "%s", name);
    if (strcmp(action, "drop") == 0) {
        rc = c->srv->env.write(c->srv->env.write_ud, hk_svc_vspace_drop_apply,
                               &a, c->actor, err);
        if (rc) return rc;
        *out = json_pack("{s:s, s:b}", "space", a.sp.name, "dropped", true);
        return *out ? HK_OK : hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    }
    if (strcmp(action, "create") != 0)
        return bad_arg(err, "action", "action is create or drop");
    const char *storage = mcp_arg_str(c, "storage", "float32");
    const char *model = mcp_arg_str(c, "model", "");
    a.sp.params.dim = (uint32_t)mcp_arg_int(c, "dim", 0);
    a.sp.params.m = (uint32_t)mcp_arg_int(c, "m", 0);
    a.sp.params.ef_construction =
        (uint32_t)mcp_arg_int(c, "ef_construction", 0);
    a.sp.params.ef = (uint32_t)mcp_arg_int(c, "ef", 0);
    a.sp.auto_embed = json_is_true(json_object_get(c->args, "auto_embed"));
    if (!a.sp.params.dim) return bad_arg(err, "dim", "create needs dim");
    if (!hk_svc_vmetric_parse(mcp_arg_str(c, "metric", "cosine"),
                              &a.sp.params.metric))
        return bad_arg(err, "metric", "metric is cosine, dot or l2");
    if (strcmp(storage, "float32") != 0 && strcmp(storage, "int8") != 0)
        return bad_arg(err, "storage", "storage is float32 or int8");
    a.sp.params.quant = storage[0] == 'i' ? HKV_I8 : HKV_F32;
    if (!hk_svc_vembedder_parse(mcp_arg_str(c, "embedder", "none"),
                                &a.sp.embedder))
        return bad_arg(err, "embedder", "embedder is none, hashed or openai");
    if (!hk_svc_vkind_parse(mcp_arg_str(c, "kind", "fact"), &a.sp.kind))
        return bad_arg(err, "kind", "kind is fact or entity");
    if (strlen(model) > HKV_MODEL_MAX)
        return bad_arg(err, "model", "a model name has at most 128 bytes");
    snprintf(a.sp.model, sizeof a.sp.model, "%s", model);
    rc = c->srv->env.write(c->srv->env.write_ud, hk_svc_vspace_create_apply, &a,
                           c->actor, err);
    if (rc) return rc;
    /* the stored record, with the defaults filled in */
    hk_txn *t = NULL;
    rc = mcp_read_begin(c, &t, err);
    if (rc == HK_OK) rc = hkv_space_get(vs, t, name, &a.sp, err);
    if (t) hk_txn_abort(t);
    if (rc) return rc;
    *out = json_pack("{s:o}", "space", hk_svc_vspace_json(&a.sp));
    return *out ? HK_OK : hk_error_set(err, HK_ERR_NOMEM, "out of memory");
}

/* ==== vector_entities: entity vectors in bulk ==== */

hk_err mcp_t_vector_entities(mcp_call *c, json_t **out, hk_error *err)
{
    hkv_store *vs;
    hk_err rc = vstore(c, &vs, err);
    if (rc) return rc;
    hk_svc_ventity_arg a;
    memset(&a, 0, sizeof a);
    a.vs = vs;
    a.space = mcp_arg_str(c, "space", "");
    a.remove = json_is_true(json_object_get(c->args, "remove"));
    const char *model = mcp_arg_str(c, "model", NULL);
    if (model && strlen(model) > HKV_MODEL_MAX)
        return bad_arg(err, "model", "a model name has at most 128 bytes");
    a.model = model;
    /* the schema bounds the list to 1..10000 entries of 1..4096 numbers */
    json_t *list = json_object_get(c->args, "entities");
    size_t n = json_array_size(list);
    const char **names = hk_calloc(n ? n : 1, sizeof *names);
    float *vecs = NULL;
    if (!names) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    rc = HK_OK;
    for (size_t i = 0; !rc && i < n; i++) {
        json_t *e = json_array_get(list, i);
        json_t *jv = json_object_get(e, "vector");
        size_t dim = json_array_size(jv);
        names[i] = json_string_value(json_object_get(e, "entity"));
        if (!names[i]) {
            rc = bad_arg(err, "entities", "each entry needs an entity name");
            break;
        }
        if (a.remove) continue;
        if (dim == 0 || (i > 0 && dim != a.dim)) {
            rc = bad_arg(err, "entities",
                         "each entry needs a vector, all of one length");
            break;
        }
        if (!vecs) {
            a.dim = (uint32_t)dim;
            if (!(vecs = hk_malloc(n * dim * sizeof *vecs))) {
                rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
                break;
            }
        }
        for (size_t d = 0; d < dim; d++)
            vecs[i * dim + d] = (float)json_number_value(json_array_get(jv, d));
    }
    a.names = names;
    a.vecs = vecs;
    a.n = n;
    if (!rc)
        rc = c->srv->env.write(c->srv->env.write_ud, hk_svc_ventity_apply, &a,
                               c->actor, err);
    if (rc && n && a.failed < n && names[a.failed] && rc != HK_ERR_NOMEM &&
        !err->field[0])
        snprintf(err->field, sizeof err->field, "entities");
    hk_free(names);
    hk_free(vecs);
    if (rc) return rc;
    *out = json_pack("{s:s, s:I, s:b}", "space", a.space,
                     a.remove ? "removed" : "written", (json_int_t)a.written,
                     "remove", a.remove);
    return *out ? HK_OK : hk_error_set(err, HK_ERR_NOMEM, "out of memory");
}

/* ==== search_knowledge, mode vector or hybrid ==== */

/* Appends one hit (the fact with its "score") to the JSON array ud. */
static hk_err hsearch_hit(void *ud, const hk_fact *f, double score,
                          hk_error *err)
{
    json_t *j = hk_svc_fact_jansson(f);
    if (!j || json_object_set_new(j, "score", json_real(score)) ||
        json_array_append_new(ud, j)) {
        json_decref(j);
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    }
    return HK_OK;
}

hk_err mcp_t_search_knowledge_mode(mcp_call *c, json_t **out, hk_error *err)
{
    hk_svc_hsearch_req r;
    memset(&r, 0, sizeof r);
    r.query = mcp_arg_str(c, "query", "");
    r.limit = (size_t)mcp_arg_int(c, "limit", 10);
    r.space = mcp_arg_str(c, "space", NULL);
    if (!hk_svc_smode_parse(mcp_arg_str(c, "mode", "text"), &r.mode)) {
        hk_error_set(err, HK_ERR_INVALID, "mode is text, vector or hybrid");
        snprintf(err->field, sizeof err->field, "mode");
        return HK_ERR_INVALID;
    }
    hkv_store **slot = c->srv->env.vstore_slot;
    hkv_store *vs = slot ? *slot : NULL;
    json_t *facts = json_array();
    if (!facts) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    r.hit = hsearch_hit;
    r.hit_ud = facts;
    hk_txn *t = NULL;
    size_t shown = 0;
    hk_err rc = mcp_read_begin(c, &t, err);
    if (rc == HK_OK) rc = hk_svc_hsearch(vs, t, &r, &shown, err);
    if (t) hk_txn_abort(t);
    if (rc != HK_OK) {
        json_decref(facts);
        return rc;
    }
    *out = json_pack("{s:s, s:s, s:I, s:o}", "query", r.query, "mode",
                     hk_svc_smode_name(r.mode), "count", (json_int_t)shown,
                     "facts", facts);
    return *out ? HK_OK : hk_error_set(err, HK_ERR_NOMEM, "out of memory");
}

/* ==== semantic_similarity, mode vector or hybrid ==== */

typedef struct sim_ctx {
    json_t *matches;  /* the answer's array */
    double threshold; /* vector mode: least similarity kept */
    bool vector;      /* vector mode (scores are similarities) */
} sim_ctx;

static hk_err sim_hit(void *ud, const hk_fact *f, double score, hk_error *err)
{
    sim_ctx *x = ud;
    if (x->vector && score < x->threshold) return HK_OK;
    return hsearch_hit(x->matches, f, score, err);
}

hk_err mcp_t_semantic_similarity_mode(mcp_call *c, json_t **out, hk_error *err)
{
    hk_svc_hsearch_req r;
    memset(&r, 0, sizeof r);
    r.query = mcp_arg_str(c, "statement", "");
    r.limit = (size_t)mcp_arg_int(c, "limit", 50);
    r.space = mcp_arg_str(c, "space", NULL);
    if (!hk_svc_smode_parse(mcp_arg_str(c, "mode", "text"), &r.mode)) {
        hk_error_set(err, HK_ERR_INVALID, "mode is text, vector or hybrid");
        snprintf(err->field, sizeof err->field, "mode");
        return HK_ERR_INVALID;
    }
    sim_ctx x = {json_array(), mcp_arg_num(c, "threshold", 0.8),
                 r.mode == HK_SVC_SEARCH_VECTOR};
    if (!x.matches) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    hkv_store **slot = c->srv->env.vstore_slot;
    hkv_store *vs = slot ? *slot : NULL;
    bool used = false;
    r.hit = sim_hit;
    r.hit_ud = &x;
    r.used_vectors = &used;
    hk_txn *t = NULL;
    size_t shown = 0;
    hk_err rc = mcp_read_begin(c, &t, err);
    if (rc == HK_OK) rc = hk_svc_hsearch(vs, t, &r, &shown, err);
    if (t) hk_txn_abort(t);
    if (rc != HK_OK) {
        json_decref(x.matches);
        return rc;
    }
    const char *method =
        !used ? "text: the ranked text search (no vector space to use)"
        : x.vector
            ? "vector: cosine similarity of the space's vectors (its "
              "embedder: hashed-ngrams compares spelling, openai meaning)"
            : "hybrid: text and vector rankings fused by reciprocal rank "
              "(scores are fusion scores, not similarities)";
    *out = json_pack(
        "{s:s, s:s, s:s, s:f, s:I, s:I, s:o}", "statement", r.query, "mode",
        hk_svc_smode_name(r.mode), "method", method, "threshold", x.threshold,
        "candidates_examined", (json_int_t)shown, "count",
        (json_int_t)json_array_size(x.matches), "matches", x.matches);
    return *out ? HK_OK : hk_error_set(err, HK_ERR_NOMEM, "out of memory");
}
