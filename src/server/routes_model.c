/*
 * routes_model.c — the learned model over REST (service:
 * src/service/svc_learn.h):
 *   GET /v2/model                     the model: parameters, metrics, age
 *   GET /v2/model/score?statement=    plausibility and rank of a statement
 *   GET /v2/model/predict?pattern=&k= ranked candidates for one unknown
 *   GET /v2/model/similar?entity=&k=  nearest entities in embedding space
 *   POST /v2/model/suggest            {pattern, k?, min_plausibility?}: the
 *                                     predictions that are not facts go to
 *                                     the review queue (role write)
 *   POST /v2/model/train              {kind?, dim?, epochs?, ...}: retrain
 *                                     in the background (role admin), 202
 *   GET /v2/model/train               the training job's state
 * Every request takes the current model from the service's cache, which
 * reloads DIR/learn.model when `hakgal model train` replaced it (the swap
 * is atomic: a request keeps the model it started with); the server loads
 * it at start, on a thread of its own (hk_route_model_preload_start; see
 * "While the model loads"). Reads run on the loop's read transaction
 * (hk_route_read), or on a pool thread while that load runs. Loop threads
 * only, but for the preload thread.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/json_text.h"
#include "core/buf.h"
#include "server/routes.h"
#include "core/mem.h"
#include "service/svc_learn.h"
#include "service/svc_llm.h"

typedef struct model_arg {
    hk_server *srv;    /* for its store */
    const char *text;  /* statement, pattern or entity */
    uint64_t k;        /* candidates (0: default) */
    int op;            /* 0 info, 1 score, 2 predict, 3 similar */
    hkl_ranker ranker; /* predict: which ranker (auto) */
} model_arg;

static hk_err append_json(json_t *j, hk_buf *out, hk_error *err)
{
    char *s = j ? hk_json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!s) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    hk_err rc = hk_buf_append_str(out, s);
    free(s);
    return rc ? hk_error_set(err, rc, "out of memory") : HK_OK;
}

static hk_err model_read(hk_txn *t, void *arg, hk_buf *out, hk_error *err)
{
    model_arg *a = arg;
    hk_svc_model *h = NULL;
    hk_err rc = hk_svc_model_acquire(a->srv->store, &h, err);
    if (rc) return rc;
    const hkl_model *m = hk_svc_model_get(h);
    size_t len = a->text ? strlen(a->text) : 0;
    json_t *j = NULL;
    if (a->op == 0) {
        uint64_t age = 0;
        if (!(rc = hk_svc_model_age(t, m, &age, err)))
            j = hk_svc_model_info_jansson(m, true, age);
    } else if (a->op == 1) {
        hk_svc_model_score_res r;
        if (!(rc = hk_svc_model_score(t, m, a->text, len, &r, err)))
            j = hk_svc_model_score_jansson(a->text, &r);
    } else if (a->op == 2) {
        hk_svc_model_predict_res r;
        if (!(rc = hk_svc_model_predict_ranker(
                  t, m, a->text, len, (uint32_t)a->k, a->ranker, &r, err))) {
            j = hk_svc_model_predict_jansson(a->text, &r);
            hk_svc_model_predict_free(&r);
        }
    } else {
        hk_svc_model_similar_res r;
        if (!(rc = hk_svc_model_similar(m, a->text, (uint32_t)a->k, &r, err))) {
            j = hk_svc_model_similar_jansson(a->text, &r);
            hk_svc_model_similar_free(&r);
        }
    }
    hk_svc_model_release(h);
    if (rc) return rc;
    return append_json(j, out, err);
}

/* The required string parameter name into a->text; false (answered) when
 * missing or malformed. */
static bool need_param(h2o_req_t *req, const char *name, model_arg *a)
{
    bool bad = false;
    const char *s = hk_query_param(req, name, &bad);
    if (bad || !s || !*s) {
        hk_send_field_error(req, 400, "invalid_parameter",
                            bad ? "invalid %-escape" : "parameter required",
                            name);
        return false;
    }
    a->text = s;
    return true;
}

static bool k_param(h2o_req_t *req, model_arg *a)
{
    bool bad = false;
    const char *s = hk_query_param(req, "k", &bad);
    if (!bad && !s) return true;
    if (!bad && hk_svc_parse_positive(s, &a->k) && a->k <= 1000) return true;
    hk_send_field_error(req, 400, "invalid_parameter",
                        "expected an integer in 1..1000", "k");
    return false;
}

static bool ranker_param(h2o_req_t *req, model_arg *a)
{
    bool bad = false;
    const char *s = hk_query_param(req, "ranker", &bad);
    if (!bad && !s) return true;
    if (!bad && hkl_ranker_parse(s, &a->ranker)) return true;
    hk_send_field_error(req, 400, "invalid_parameter",
                        "expected auto, model or combined", "ranker");
    return false;
}

/* ==== While the model loads ====
 *
 * The load reads the whole model file, checks its checksum, copies the
 * embeddings and sorts the known triples: its cost grows with the KB
 * (0.25 s for the 16 MB model of 200,000 facts, bench/RESULTS.md), so
 * `hakgal serve` runs it on a thread while the listener opens and /readyz
 * does not wait for it. Nothing answers wrongly meanwhile: the service's
 * cache holds its lock during a load, so every reader of the model waits
 * for it and then reads the loaded model. Only where it waits matters: a
 * model read that arrives during the load runs on a pool thread, so that
 * the loop goes on serving everything else. (A suggestion, which takes the
 * model on the loop before its write, waits there.)
 */

typedef struct model_job {
    model_arg a;  /* the request, its text owned by the job */
    hk_buf out;   /* the answer */
    hk_err rc;    /* its result */
    hk_error err; /* the error when rc != HK_OK */
} model_job;

static void model_job_free(model_job *j)
{
    hk_free((char *)j->a.text);
    hk_buf_free(&j->out);
    hk_free(j);
}

static void model_work(void *arg)
{
    model_job *j = arg;
    hk_txn *t = NULL;
    hk_error_clear(&j->err);
    j->rc = hk_txn_begin(j->a.srv->store, false, &t, &j->err);
    if (j->rc) return;
    j->rc = model_read(t, &j->a, &j->out, &j->err);
    hk_txn_abort(t);
    if (j->rc == HK_OK) j->rc = hk_buf_append_str(&j->out, "\n");
}

/* Answers as hk_route_read does. */
static void model_after(h2o_req_t *req, void *arg)
{
    model_job *j = arg;
    if (!req)
        ;
    else if (j->rc == HK_ERR_NOT_FOUND)
        hk_http_send_error(req, 404, "not_found", j->err.message, NULL);
    else if (j->rc == HK_ERR_NOMEM && j->err.code != HK_ERR_NOMEM)
        hk_http_send_error(req, 503, "out_of_memory", "cannot build answer",
                           NULL);
    else if (j->rc != HK_OK)
        hk_send_store_error(req, &j->err);
    else
        hk_http_send_buf(req, 200, &j->out);
    model_job_free(j);
}

/* A model read: on the loop, or on a pool thread while the model loads. */
static void model_route(h2o_req_t *req, const model_arg *a)
{
    if (!atomic_load(&a->srv->model_loading)) {
        hk_route_read(req, 200, model_read, (void *)a);
        return;
    }
    model_job *j = hk_calloc(1, sizeof *j);
    if (j) { /* calloc: out is an empty buffer (HK_BUF_INIT) */
        j->a = *a;
        j->a.text = NULL;
    }
    /* the text lives in the request, which may go before the work ends */
    if (!j || (a->text && !(j->a.text = hk_strdup(a->text)))) {
        if (j) model_job_free(j);
        hk_http_send_error(req, 503, "out_of_memory", "out of memory", NULL);
        return;
    }
    if (hk_server_defer(req, model_work, model_after, j) != HK_OK) {
        model_job_free(j);
        hk_http_send_error(req, 503, "shutting_down",
                           "the server is shutting down", NULL);
    }
}

void hk_route_model_info(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)param;
    model_arg a = {srv, NULL, 0, 0, HKL_RANKER_AUTO};
    model_route(req, &a);
}

void hk_route_model_score(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)param;
    model_arg a = {srv, NULL, 0, 1, HKL_RANKER_AUTO};
    if (need_param(req, "statement", &a)) model_route(req, &a);
}

void hk_route_model_predict(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)param;
    model_arg a = {srv, NULL, 0, 2, HKL_RANKER_AUTO};
    if (need_param(req, "pattern", &a) && k_param(req, &a) &&
        ranker_param(req, &a))
        model_route(req, &a);
}

void hk_route_model_similar(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)param;
    model_arg a = {srv, NULL, 0, 3, HKL_RANKER_AUTO};
    if (need_param(req, "entity", &a) && k_param(req, &a)) model_route(req, &a);
}

/* ==== POST /v2/model/suggest ==== */

typedef struct suggest_job {
    hk_svc_suggest_op op; /* the operation (pattern points into body) */
    hk_svc_model *h;      /* the model, held until done */
    json_t *body;         /* request body */
    char actor[64];       /* the principal */
} suggest_job;

static void suggest_done(h2o_req_t *req, hk_err rc, const hk_error *err,
                         void *arg)
{
    suggest_job *j = arg;
    if (req && rc) {
        hk_http_send_hk_error(req, err);
    } else if (req) {
        json_t *o = hk_svc_suggest_json(&j->op);
        char *s = o ? hk_json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        if (s)
            hk_http_send_json(req, 201, s, strlen(s));
        else
            hk_http_send_error(req, 503, "out_of_memory", "out of memory",
                               NULL);
        free(s);
    }
    hk_svc_suggest_free(&j->op);
    hk_svc_model_release(j->h);
    json_decref(j->body);
    hk_free(j);
}

void hk_route_model_suggest(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)param;
    json_t *body = hk_body_json(req);
    if (!body) return;
    json_t *pat = json_object_get(body, "pattern");
    json_t *k = json_object_get(body, "k");
    json_t *mp = json_object_get(body, "min_plausibility");
    const char *bad = NULL, *why = NULL;
    if (!json_is_string(pat) || json_string_length(pat) == 0)
        bad = "pattern", why = "body is {\"pattern\": \"P(a, ?x)\"}";
    else if (k && (!json_is_integer(k) || json_integer_value(k) < 1 ||
                   json_integer_value(k) > 1000))
        bad = "k", why = "k is an integer in 1..1000";
    else if (mp && (!json_is_number(mp) || json_number_value(mp) < 0 ||
                    json_number_value(mp) > 1))
        bad = "min_plausibility", why = "min_plausibility is a number in 0..1";
    if (bad) {
        json_decref(body);
        hk_send_field_error(req, 400, "invalid_parameter", why, bad);
        return;
    }
    suggest_job *j = hk_calloc(1, sizeof *j);
    if (!j) {
        json_decref(body);
        hk_http_send_error(req, 503, "out_of_memory", "out of memory", NULL);
        return;
    }
    hk_error err;
    if (hk_svc_model_acquire(srv->store, &j->h, &err) != HK_OK) {
        json_decref(body);
        hk_free(j);
        hk_http_send_hk_error(req, &err);
        return;
    }
    j->body = body;
    j->op.s = srv->store;
    j->op.m = hk_svc_model_get(j->h);
    j->op.pattern = json_string_value(pat);
    j->op.k = k ? (uint32_t)json_integer_value(k) : 0;
    j->op.min_plausibility = mp ? json_number_value(mp) : 0.5;
    snprintf(j->actor, sizeof j->actor, "%s", hk_req_actor(req));
    if (hk_server_write_async(req, hk_svc_suggest_apply, suggest_done, j,
                              j->actor) != HK_OK) {
        hk_svc_model_release(j->h);
        json_decref(body);
        hk_free(j);
        hk_http_send_error(req, 503, "shutting_down",
                           "the server is shutting down", NULL);
    }
}

/* ==== Training in the background ==== */

static void send_status(h2o_req_t *req, int status, hk_store *s)
{
    hk_svc_train_status st;
    hk_svc_train_status_get(s, &st);
    json_t *j = hk_svc_train_status_jansson(&st);
    char *txt = j ? hk_json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (txt)
        hk_http_send_json(req, status, txt, strlen(txt));
    else
        hk_http_send_error(req, 503, "out_of_memory", "out of memory", NULL);
    free(txt);
}

void hk_route_model_train_status(hk_server *srv, h2o_req_t *req,
                                 const char *param)
{
    (void)param;
    send_status(req, 200, srv->store);
}

void hk_route_model_train(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)param;
    json_t *body = NULL;
    if (req->entity.len) {
        body = hk_body_json(req);
        if (!body) return;
    }
    hk_svc_model_train_req r;
    hk_svc_model_train_req_init(&r);
    hk_error err;
    hk_error_clear(&err);
    hk_err rc = hk_svc_model_train_req_json(body, &r, &err);
    json_decref(body);
    r.vs = hk_server_vstore(srv);
    if (rc == HK_OK) rc = hk_svc_train_start(srv->store, &r, &err);
    if (rc != HK_OK) {
        hk_http_send_hk_error(req, &err);
        return;
    }
    send_status(req, 202, srv->store);
}

static void model_preload(hk_server *srv)
{
    hk_svc_model *h = NULL;
    hk_error err;
    hk_err rc = hk_svc_model_acquire(srv->store, &h, &err);
    if (rc == HK_OK) {
        const hkl_model *m = hk_svc_model_get(h);
        if (!srv->cfg.quiet)
            fprintf(stderr,
                    "hakgal serve: learned model loaded (%s, dim %u, %u "
                    "entities, trained at audit entry %llu)\n",
                    hkl_kind_name(m->p.kind), m->p.dim, m->ent.n,
                    (unsigned long long)m->audit_seq);
        hk_svc_model_release(h); /* the cache keeps it */
    } else if (rc != HK_ERR_NOT_FOUND) {
        fprintf(stderr, "hakgal serve: learned model not loaded: %s\n",
                err.message);
    }
}

static void *preload_main(void *arg)
{
    hk_server *srv = arg;
    model_preload(srv);
    atomic_store(&srv->model_loading, false);
    return NULL;
}

void hk_route_model_preload_start(hk_server *srv)
{
    atomic_store(&srv->model_loading, true);
    if (pthread_create(&srv->model_thread, NULL, preload_main, srv) != 0) {
        /* no thread: the first model request loads it */
        atomic_store(&srv->model_loading, false);
        return;
    }
    srv->model_thread_started = true;
    pthread_setname_np(srv->model_thread, "hk-model-load");
}

void hk_route_model_preload_join(hk_server *srv)
{
    if (!srv->model_thread_started) return;
    pthread_join(srv->model_thread, NULL);
    srv->model_thread_started = false;
}
