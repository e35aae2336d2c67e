/*
 * gql_model.c — the resolvers of the learned model: Query.model,
 * modelScore, modelPredict and modelSimilar. They run what the REST
 * routes run (src/server/routes_model.c): the service's cached model
 * (hk_svc_model_acquire) and hk_svc_model_info / _score / _predict /
 * _similar, answering the same JSON (type JSON!).
 */
#include <string.h>

#include "graphql/gql_int.h"
#include "service/svc_learn.h"

enum { M_INFO, M_SCORE, M_PREDICT, M_SIMILAR };

static json_t *model_op(gql_ctx *c, json_t *args, int op, const char *param)
{
    const char *text =
        param ? json_string_value(json_object_get(args, param)) : NULL;
    if (param && (!text || !*text)) return gql_error(c, "%s is empty", param);
    uint32_t k = 0;
    json_t *kj = json_object_get(args, "k");
    if (json_is_integer(kj)) {
        if (json_integer_value(kj) < 1 || json_integer_value(kj) > 1000)
            return gql_error(c, "k must be between 1 and 1000");
        k = (uint32_t)json_integer_value(kj);
    }
    if (!c->env->store) return gql_error(c, "no model here");
    hk_svc_model *h = NULL;
    hk_error err;
    if (hk_svc_model_acquire(c->env->store, &h, &err) != HK_OK)
        return gql_error_hk(c, &err);
    const hkl_model *m = hk_svc_model_get(h);
    size_t len = text ? strlen(text) : 0;
    json_t *j = NULL;
    hk_err rc;
    if (op == M_INFO) {
        uint64_t age = 0;
        if (!(rc = hk_svc_model_age(c->env->txn, m, &age, &err)))
            j = hk_svc_model_info_jansson(m, true, age);
    } else if (op == M_SCORE) {
        hk_svc_model_score_res r;
        if (!(rc = hk_svc_model_score(c->env->txn, m, text, len, &r, &err)))
            j = hk_svc_model_score_jansson(text, &r);
    } else if (op == M_PREDICT) {
        hk_svc_model_predict_res r;
        if (!(rc = hk_svc_model_predict(c->env->txn, m, text, len, k, &r,
                                        &err))) {
            j = hk_svc_model_predict_jansson(text, &r);
            hk_svc_model_predict_free(&r);
        }
    } else {
        hk_svc_model_similar_res r;
        if (!(rc = hk_svc_model_similar(m, text, k, &r, &err))) {
            j = hk_svc_model_similar_jansson(text, &r);
            hk_svc_model_similar_free(&r);
        }
    }
    hk_svc_model_release(h);
    if (rc) return gql_error_hk(c, &err);
    if (!j) {
        hk_error_set(&err, HK_ERR_NOMEM, "out of memory");
        return gql_error_hk(c, &err);
    }
    return j;
}

json_t *gql_r_model(gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    return model_op(c, args, M_INFO, NULL);
}

json_t *gql_r_model_score(gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    return model_op(c, args, M_SCORE, "statement");
}

json_t *gql_r_model_predict(gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    return model_op(c, args, M_PREDICT, "pattern");
}

json_t *gql_r_model_similar(gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    return model_op(c, args, M_SIMILAR, "entity");
}
