/*
 * mcp_tools_vector.c — the vector search tools vector_spaces and
 * vector_similar, and search_knowledge's vector and hybrid modes, over the
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
        if (json_array_append_new(hits,
                                  json_pack("{s:I, s:s, s:f}", "id",
                                            (json_int_t)h->id, "statement",
                                            h->statement, "score", h->score))) {
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
