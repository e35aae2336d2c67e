/*
 * mcp_tools_model.c — the learned-model tools score_fact, predict_links,
 * suggest_links, similar_entities, model_status and train_model over the
 * service operations of svc_learn.h, on the
 * model of the KB the adapter serves (the service's cache reloads it
 * when the model file was retrained).
 */
#include <string.h>

#include "mcp/mcp_tools.h"
#include "service/svc_llm.h"
#include "service/svc_learn.h"

hk_err mcp_t_score_fact(mcp_call *c, json_t **out, hk_error *err)
{
    const char *text = mcp_arg_str(c, "statement", "");
    hk_svc_model *h = NULL;
    hk_err rc = hk_svc_model_acquire(mcp_store(c), &h, err);
    if (rc) return rc;
    hk_txn *t = NULL;
    hk_svc_model_score_res res;
    rc = mcp_read_begin(c, &t, err);
    if (!rc)
        rc = hk_svc_model_score(t, hk_svc_model_get(h), text, strlen(text),
                                &res, err);
    if (t) hk_txn_abort(t);
    hk_svc_model_release(h);
    if (rc) return rc;
    *out = hk_svc_model_score_jansson(text, &res);
    return *out ? HK_OK : hk_error_set(err, HK_ERR_NOMEM, "out of memory");
}

hk_err mcp_t_predict_links(mcp_call *c, json_t **out, hk_error *err)
{
    const char *text = mcp_arg_str(c, "pattern", "");
    uint32_t k = (uint32_t)mcp_arg_int(c, "k", 10);
    const char *rk = mcp_arg_str(c, "ranker", "auto");
    hkl_ranker ranker;
    if (!hkl_ranker_parse(rk, &ranker)) {
        hk_error_set(err, HK_ERR_INVALID,
                     "ranker must be auto, model or combined, not '%s'", rk);
        snprintf(err->field, sizeof err->field, "ranker");
        return HK_ERR_INVALID;
    }
    hk_svc_model *h = NULL;
    hk_err rc = hk_svc_model_acquire(mcp_store(c), &h, err);
    if (rc) return rc;
    hk_txn *t = NULL;
    hk_svc_model_predict_res res;
    rc = mcp_read_begin(c, &t, err);
    if (!rc)
        rc = hk_svc_model_predict_ranker(t, hk_svc_model_get(h), text,
                                         strlen(text), k, ranker, &res, err);
    if (t) hk_txn_abort(t);
    hk_svc_model_release(h);
    if (rc) return rc;
    *out = hk_svc_model_predict_jansson(text, &res);
    hk_svc_model_predict_free(&res);
    return *out ? HK_OK : hk_error_set(err, HK_ERR_NOMEM, "out of memory");
}

hk_err mcp_t_suggest_links(mcp_call *c, json_t **out, hk_error *err)
{
    hk_svc_model *h = NULL;
    hk_err rc = hk_svc_model_acquire(mcp_store(c), &h, err);
    if (rc) return rc;
    hk_svc_suggest_op op;
    memset(&op, 0, sizeof op);
    op.s = mcp_store(c);
    op.m = hk_svc_model_get(h);
    op.pattern = mcp_arg_str(c, "pattern", "");
    op.k = (uint32_t)mcp_arg_int(c, "k", 10);
    op.min_plausibility = mcp_arg_num(c, "min_plausibility", 0.5);
    rc = c->srv->env.write(c->srv->env.write_ud, hk_svc_suggest_apply, &op,
                           c->actor, err);
    if (rc == HK_OK && !(*out = hk_svc_suggest_json(&op)))
        rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    hk_svc_suggest_free(&op);
    hk_svc_model_release(h);
    return rc;
}

hk_err mcp_t_similar_entities(mcp_call *c, json_t **out, hk_error *err)
{
    const char *entity = mcp_arg_str(c, "entity", "");
    uint32_t k = (uint32_t)mcp_arg_int(c, "k", 10);
    hk_svc_model *h = NULL;
    hk_err rc = hk_svc_model_acquire(mcp_store(c), &h, err);
    if (rc) return rc;
    hk_svc_model_similar_res res;
    rc = hk_svc_model_similar(hk_svc_model_get(h), entity, k, &res, err);
    hk_svc_model_release(h);
    if (rc) return rc;
    *out = hk_svc_model_similar_jansson(entity, &res);
    hk_svc_model_similar_free(&res);
    return *out ? HK_OK : hk_error_set(err, HK_ERR_NOMEM, "out of memory");
}

hk_err mcp_t_model_status(mcp_call *c, json_t **out, hk_error *err)
{
    hk_svc_train_status st;
    hk_svc_train_status_get(mcp_store(c), &st);
    json_t *model = json_null();
    hk_svc_model *h = NULL;
    hk_error e;
    hk_err rc = hk_svc_model_acquire(mcp_store(c), &h, &e);
    if (rc == HK_OK) {
        const hkl_model *m = hk_svc_model_get(h);
        hk_txn *t = NULL;
        uint64_t age = 0;
        bool aged = mcp_read_begin(c, &t, err) == HK_OK &&
                    hk_svc_model_age(t, m, &age, err) == HK_OK;
        if (t) hk_txn_abort(t);
        model = hk_svc_model_info_jansson(m, aged, age);
        hk_svc_model_release(h);
    } else if (rc != HK_ERR_NOT_FOUND) {
        *err = e; /* a damaged model file is an error, not "no model" */
        return rc;
    }
    *out = json_pack("{s:o, s:o}", "model", model ? model : json_null(),
                     "training", hk_svc_train_status_jansson(&st));
    return *out ? HK_OK : hk_error_set(err, HK_ERR_NOMEM, "out of memory");
}

hk_err mcp_t_train_model(mcp_call *c, json_t **out, hk_error *err)
{
    /* the tool's arguments are the REST body's keys (auth_token aside) */
    json_t *o = json_deep_copy(c->args);
    if (!o) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    json_object_del(o, "auth_token");
    hk_svc_model_train_req r;
    hk_svc_model_train_req_init(&r);
    hk_err rc = hk_svc_model_train_req_json(o, &r, err);
    json_decref(o);
    r.vs = c->srv->env.vstore_slot ? *c->srv->env.vstore_slot : NULL;
    if (rc == HK_OK) rc = hk_svc_train_start(mcp_store(c), &r, err);
    if (rc) return rc;
    hk_svc_train_status st;
    hk_svc_train_status_get(mcp_store(c), &st);
    *out = hk_svc_train_status_jansson(&st);
    return *out ? HK_OK : hk_error_set(err, HK_ERR_NOMEM, "out of memory");
}
