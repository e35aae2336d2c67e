/*
 * grpc_model.c — the learned model's methods of hakgal.v2.Hakgal
 * (ModelInfo, ModelScore, ModelPredict, ModelSimilar) over the operations
 * the REST routes of src/server/routes_model.c call
 * (src/service/svc_learn.h): the same model cache, checks and answers.
 * Every call takes the current model and keeps it to its end (a retrain
 * swaps the cache's model atomically).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_text.h"
#include "core/mem.h"
#include "grpc/grpc_int.h"
#include "service/svc_learn.h"

enum { OP_INFO, OP_SCORE, OP_PREDICT, OP_SIMILAR };

/* Checks the request's text (required) and k (at most 1000); false with
 * the call answered. */
static bool need(hk_grpc_call *c, const char *text, const char *field,
                 uint32_t k)
{
    if (!text || !text[0]) {
        hk_grpc_finish(c, GRPC_STATUS_INVALID_ARGUMENT, "parameter required",
                       field);
        return false;
    }
    if (k > 1000) {
        hk_grpc_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
                       "expected an integer in 1..1000", "k");
        return false;
    }
    return true;
}

static void info(hk_grpc_call *c, hk_txn *t, const hkl_model *m, hk_error *err)
{
    uint64_t age = 0;
    if (hk_svc_model_age(t, m, &age, err) != HK_OK) {
        hk_grpc_fail(c, err);
        return;
    }
    json_t *j = hk_svc_model_info_jansson(m, true, age);
    char *s = j ? hk_json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!s) {
        hk_grpc_finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory",
                       NULL);
        return;
    }
    Hakgal__V2__ModelInfoResponse a = HAKGAL__V2__MODEL_INFO_RESPONSE__INIT;
    a.model_json = s;
    hk_grpc_reply(c, &a.base);
    free(s);
}

static void score(hk_grpc_call *c, hk_txn *t, const hkl_model *m,
                  const char *text, hk_error *err)
{
    hk_svc_model_score_res r;
    if (hk_svc_model_score(t, m, text, strlen(text), &r, err) != HK_OK) {
        hk_grpc_fail(c, err);
        return;
    }
    Hakgal__V2__ModelScoreResponse a = HAKGAL__V2__MODEL_SCORE_RESPONSE__INIT;
    a.statement = (char *)text;
    a.plausibility = r.plausibility;
    a.score = r.raw;
    a.rank = r.rank;
    a.entities = r.entities;
    a.edges = r.edges;
    a.in_kb = r.in_kb;
    a.rank_subject = r.rank_head > 0 ? r.rank_head : 0;
    a.ranker = (char *)(r.ranker ? r.ranker : "");
    a.rank_ranker = r.ranker ? r.rank_ranker : 0;
    a.has_combined = r.has_combined;
    a.combined = r.has_combined ? r.combined : 0;
    hk_grpc_reply(c, &a.base);
}

static void predict(hk_grpc_call *c, hk_txn *t, const hkl_model *m,
                    const char *text, uint32_t k, hkl_ranker ranker,
                    hk_error *err)
{
    hk_svc_model_predict_res r;
    memset(&r, 0, sizeof r);
    if (hk_svc_model_predict_ranker(t, m, text, strlen(text), k, ranker, &r,
                                    err) != HK_OK) {
        hk_grpc_fail(c, err);
        return;
    }
    Hakgal__V2__ModelCandidate *v = r.n ? hk_calloc(r.n, sizeof *v) : NULL;
    Hakgal__V2__ModelCandidate **vp = r.n ? hk_calloc(r.n, sizeof *vp) : NULL;
    if (r.n && (!v || !vp)) {
        hk_grpc_finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory",
                       NULL);
    } else {
        bool combined = r.ranker && !strcmp(r.ranker, "combined");
        for (size_t i = 0; i < r.n; i++) {
            hakgal__v2__model_candidate__init(&v[i]);
            v[i].rank = (uint32_t)(i + 1);
            v[i].candidate = r.v[i].name;
            v[i].statement = r.v[i].statement;
            v[i].plausibility = r.v[i].plausibility;
            v[i].score = r.v[i].raw;
            v[i].known = r.v[i].known;
            v[i].combined = combined ? r.v[i].combined : 0;
            vp[i] = &v[i];
        }
        Hakgal__V2__ModelPredictResponse a =
            HAKGAL__V2__MODEL_PREDICT_RESPONSE__INIT;
        a.pattern = (char *)text;
        a.predicts = (char *)(r.what ? r.what : "");
        a.n_candidates = r.n;
        a.candidates = vp;
        a.ranker = (char *)(r.ranker ? r.ranker : "model");
        hk_grpc_reply(c, &a.base);
    }
    hk_free(vp);
    hk_free(v);
    hk_svc_model_predict_free(&r);
}

static void similar(hk_grpc_call *c, const hkl_model *m, const char *text,
                    uint32_t k, hk_error *err)
{
    hk_svc_model_similar_res r;
    memset(&r, 0, sizeof r);
    if (hk_svc_model_similar(m, text, k, &r, err) != HK_OK) {
        hk_grpc_fail(c, err);
        return;
    }
    Hakgal__V2__SimilarEntity *v = r.n ? hk_calloc(r.n, sizeof *v) : NULL;
    Hakgal__V2__SimilarEntity **vp = r.n ? hk_calloc(r.n, sizeof *vp) : NULL;
    if (r.n && (!v || !vp)) {
        hk_grpc_finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory",
                       NULL);
    } else {
        for (size_t i = 0; i < r.n; i++) {
            hakgal__v2__similar_entity__init(&v[i]);
            v[i].entity = r.names[i];
            v[i].cosine = r.cos[i];
            vp[i] = &v[i];
        }
        Hakgal__V2__ModelSimilarResponse a =
            HAKGAL__V2__MODEL_SIMILAR_RESPONSE__INIT;
        a.entity = (char *)text;
        a.n_similar = r.n;
        a.similar = vp;
        hk_grpc_reply(c, &a.base);
    }
    hk_free(vp);
    hk_free(v);
    hk_svc_model_similar_free(&r);
}

/* Takes the current model and a read transaction, then answers op. */
static void run(hk_grpc_call *c, int op, const char *text, uint32_t k,
                hkl_ranker ranker)
{
    hk_error err;
    hk_error_clear(&err);
    hk_svc_model *h = NULL;
    if (hk_svc_model_acquire(hk_server_store(c->srv), &h, &err) != HK_OK) {
        hk_grpc_fail(c, &err);
        return;
    }
    const hkl_model *m = hk_svc_model_get(h);
    hk_txn *t = hk_grpc_read_txn(c);
    if (t) {
        switch (op) {
        case OP_INFO:
            info(c, t, m, &err);
            break;
        case OP_SCORE:
            score(c, t, m, text, &err);
            break;
        case OP_PREDICT:
            predict(c, t, m, text, k, ranker, &err);
            break;
        default:
            similar(c, m, text, k, &err);
            break;
        }
    }
    hk_svc_model_release(h);
}

void hk_grpc_model_info(hk_grpc_call *c)
{
    run(c, OP_INFO, NULL, 0, HKL_RANKER_AUTO);
}

void hk_grpc_model_score(hk_grpc_call *c)
{
    const Hakgal__V2__ModelScoreRequest *q = (void *)c->req;
    if (need(c, q->statement, "statement", 0))
        run(c, OP_SCORE, q->statement, 0, HKL_RANKER_AUTO);
}

void hk_grpc_model_predict(hk_grpc_call *c)
{
    const Hakgal__V2__ModelPredictRequest *q = (void *)c->req;
    hkl_ranker ranker = HKL_RANKER_AUTO;
    if (q->ranker && q->ranker[0] && !hkl_ranker_parse(q->ranker, &ranker)) {
        hk_grpc_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
                       "expected auto, model or combined", "ranker");
        return;
    }
    if (need(c, q->pattern, "pattern", q->k))
        run(c, OP_PREDICT, q->pattern, q->k, ranker);
}

void hk_grpc_model_similar(hk_grpc_call *c)
{
    const Hakgal__V2__ModelSimilarRequest *q = (void *)c->req;
    if (need(c, q->entity, "entity", q->k))
        run(c, OP_SIMILAR, q->entity, q->k, HKL_RANKER_AUTO);
}
