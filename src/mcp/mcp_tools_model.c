/*
 * mcp_tools_model.c — the learned-model tools score_fact and
 * predict_links over the service operations of svc_learn.h, on the
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
    hk_svc_model *h = NULL;
    hk_err rc = hk_svc_model_acquire(mcp_store(c), &h, err);
    if (rc) return rc;
    hk_txn *t = NULL;
    hk_svc_model_predict_res res;
    rc = mcp_read_begin(c, &t, err);
    if (!rc)
        rc = hk_svc_model_predict(t, hk_svc_model_get(h), text, strlen(text), k,
                                  &res, err);
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
