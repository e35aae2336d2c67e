/*
 * routes_llm.c — grounded model use over REST (service:
 * src/service/svc_llm.h):
 *   POST /v2/ask                       answer with checked citations/claims
 *                                      ("stream": true: Server-Sent Events
 *                                      "delta" with the model's text, then
 *                                      "result" with the answer, or "error")
 *   POST /v2/extract                   text -> proposals in the review queue
 *   GET  /v2/review                    proposals (?status=&after=&limit=)
 *   POST /v2/review/{id}/approve       {statement?, note?}: add the fact
 *   POST /v2/review/{id}/reject        {note?}
 *   GET  /v2/admin/llm                 the model switch
 *   PUT  /v2/admin/llm                 {"models": "on"|"off", "kb":
 *                                      "read-only"|"writable"} (admin)
 *
 * Model calls take seconds, so ask and extract run on pool threads
 * (hk_server_defer) with a read transaction of their own; extract queues
 * its proposals with hk_server_write_sync from there. Review decisions and
 * the switch are jobs of the group-commit writer; the request's principal
 * is the audit actor (the reviewer). Every request uses the process's
 * shared client (hk_llm_shared_client: the environment and
 * $HAKGAL_LLM_CONFIG), whose limiter queues what exceeds the endpoint's
 * concurrency.
 */
#include <stdlib.h>
#include <string.h>

#include "core/json_text.h"
#include "core/buf.h"
#include "core/mem.h"
#include "server/routes.h"
#include "server/server_sse.h"
#include "service/svc_llm.h"
#include "service/svc_vector.h"

/* ==== Errors ==== */

/* Answers an error of a model operation: a missing endpoint is 503
 * no_model_endpoint, the switch 409 models_off, a full queue 503
 * model_busy, an endpoint failure 502 model_error; the rest as usual. */
static void send_llm_error(h2o_req_t *req, const hk_error *err, bool model)
{
    if (model && err->code == HK_ERR_NOT_FOUND)
        hk_http_send_error(req, 503, "no_model_endpoint", err->message, NULL);
    else if (err->code == HK_ERR_STATE)
        hk_http_send_error(req, 409, "models_off", err->message, NULL);
    else if (model && err->code == HK_ERR_LIMIT)
        hk_http_send_error(req, 503, "model_busy", err->message, NULL);
    else if (model && err->code == HK_ERR_IO)
        hk_http_send_error(req, 502, "model_error", err->message, NULL);
    else
        hk_http_send_hk_error(req, err);
}

static void send_json_t(h2o_req_t *req, int status, json_t *j)
{
    char *s = j ? hk_json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!s) {
        hk_http_send_error(req, 503, "out_of_memory", "out of memory", NULL);
        return;
    }
    hk_buf b = HK_BUF_INIT;
    if (hk_buf_append_str(&b, s) == HK_OK && hk_buf_append_str(&b, "\n") == 0)
        hk_http_send_buf(req, status, &b);
    else
        hk_http_send_error(req, 503, "out_of_memory", "out of memory", NULL);
    hk_buf_free(&b);
    free(s);
}

/* Optional string member name of object o into *out; false (answered)
 * when it is not a string. */
static bool opt_string(h2o_req_t *req, json_t *o, const char *name,
                       const char **out)
{
    json_t *v = json_object_get(o, name);
    if (!v || json_is_null(v)) return true;
    if (!json_is_string(v)) {
        hk_send_field_error(req, 400, "invalid_parameter", "expected a string",
                            name);
        return false;
    }
    *out = json_string_value(v);
    return true;
}

static void shutting_down(h2o_req_t *req)
{
    hk_http_send_error(req, 503, "shutting_down",
                       "the server is shutting down; retry elsewhere", NULL);
}

/* ==== SSE output of a streamed answer (loop thread) ====
 * The pool thread's deltas reach the loop as hk_loop_post messages, in
 * order, before the job's completion (both travel through the loop's one
 * message queue) and are appended to the stream of server_sse.h. */

/* Appends "event: NAME\ndata: JSON\n\n" (j consumed). */
static void sse_event(hk_sse_out *o, const char *name, json_t *j)
{
    char *s = j ? hk_json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!s) return;
    if (hk_buf_appendf(&o->pending, "event: %s\ndata: %s\n\n", name, s) ==
        HK_OK)
        hk_sse_flush(o);
    free(s);
}

/* ==== POST /v2/ask ==== */

typedef struct ask_job {
    hk_server *srv;       /* the server */
    json_t *body;         /* request body (owns question) */
    const char *question; /* from body */
    unsigned budget;      /* budget_tokens, 0 = default */
    const char *search;   /* search mode from body, or NULL */
    json_t *answer;       /* result JSON */
    bool model_phase;     /* the error came from the model side */
    hk_error err;         /* why it failed */
    bool stream;          /* answer as Server-Sent Events */
    hk_loop *loop;        /* the request's loop (stream) */
    hk_req_ref *ref;      /* the request, while alive (stream) */
    hk_sse_out *out;      /* its event stream (stream; loop thread) */
} ask_job;

typedef struct delta_msg {
    ask_job *j;  /* the job (alive until its completion runs) */
    size_t len;  /* bytes of text */
    char text[]; /* the delta */
} delta_msg;

/* Loop thread: one delta as an event "delta" {"text": ...}. */
static void delta_on_loop(void *arg)
{
    delta_msg *m = arg;
    if (hk_req_ref_get(m->j->ref))
        sse_event(m->j->out, "delta",
                  json_pack("{s:s%}", "text", m->text, m->len));
    hk_free(m);
}

/* Pool thread: hands a delta to the loop. */
static hk_err on_delta(void *ud, const char *text, size_t len)
{
    ask_job *j = ud;
    delta_msg *m = hk_malloc(sizeof *m + len + 1);
    if (!m) return HK_ERR_NOMEM;
    m->j = j;
    m->len = len;
    memcpy(m->text, text, len);
    m->text[len] = 0;
    if (hk_loop_post(j->loop, delta_on_loop, m) != HK_OK) {
        hk_free(m);
        return HK_ERR_NOMEM;
    }
    return HK_OK;
}

static void ask_work(void *arg)
{
    ask_job *j = arg;
    hk_error_clear(&j->err);
    hk_txn *t = NULL;
    hk_svc_ask_res res;
    memset(&res, 0, sizeof res);
    if (hk_txn_begin(j->srv->store, false, &t, &j->err)) return;
    bool on = true;
    if (hk_llm_models_enabled(j->srv->store, t, &on, &j->err)) goto out;
    hk_svc_ask_req r;
    memset(&r, 0, sizeof r);
    r.s = j->srv->store;
    r.question = j->question;
    r.budget_tokens = j->budget;
    r.search = j->search;
    r.vs = hk_server_vstore(j->srv);
    if (j->stream) {
        r.on_delta = on_delta;
        r.ud = j;
    }
    if (on && !(r.client = hk_llm_shared_client(&j->err))) {
        j->model_phase = true;
        goto out;
    }
    if (hk_svc_ask(t, &r, &res, &j->err)) {
        j->model_phase = true;
        goto out;
    }
    if (!(j->answer = hk_svc_ask_json(j->question, &res)))
        hk_error_set(&j->err, HK_ERR_NOMEM, "out of memory");
out:
    hk_svc_ask_res_free(&res);
    hk_txn_abort(t);
}

static void ask_after(h2o_req_t *req, void *arg)
{
    ask_job *j = arg;
    if (j->stream) {
        /* the stream ends with an event "result" (the JSON answer) or
         * "error" ({"error": {"code", "message"}}) */
        if (hk_req_ref_get(j->ref)) {
            if (j->answer) {
                sse_event(j->out, "result", j->answer);
                j->answer = NULL;
            } else {
                sse_event(
                    j->out, "error",
                    json_pack("{s:{s:s, s:s}}", "error", "code",
                              j->model_phase ? "model_error" : "ask_failed",
                              "message", j->err.message));
            }
            j->out->final_wanted = true;
            hk_sse_flush(j->out);
        }
        hk_req_ref_release(j->ref);
    } else if (req) {
        if (j->answer) {
            send_json_t(req, 200, j->answer);
            j->answer = NULL;
        } else {
            send_llm_error(req, &j->err, j->model_phase);
        }
    }
    json_decref(j->answer);
    json_decref(j->body);
    hk_free(j);
}

void hk_route_ask(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)param;
    json_t *body = hk_body_json(req);
    if (!body) return;
    json_t *q = json_object_get(body, "question");
    json_t *b = json_object_get(body, "budget_tokens");
    json_t *st = json_object_get(body, "stream");
    json_t *sm = json_object_get(body, "search");
    if (!json_is_string(q) || json_string_length(q) == 0) {
        json_decref(body);
        hk_send_field_error(req, 400, "invalid_parameter",
                            "body is {\"question\": \"...\"}", "question");
        return;
    }
    if (b && (!json_is_integer(b) || json_integer_value(b) < 50 ||
              json_integer_value(b) > 1000000)) {
        json_decref(body);
        hk_send_field_error(req, 400, "invalid_parameter",
                            "budget_tokens is an integer in 50..1000000",
                            "budget_tokens");
        return;
    }
    hk_svc_smode mode;
    if (sm && (!json_is_string(sm) ||
               !hk_svc_smode_parse(json_string_value(sm), &mode))) {
        json_decref(body);
        hk_send_field_error(req, 400, "invalid_parameter",
                            "search is \"text\", \"vector\" or \"hybrid\"",
                            "search");
        return;
    }
    if (st && !json_is_boolean(st)) {
        json_decref(body);
        hk_send_field_error(req, 400, "invalid_parameter",
                            "stream is true or false", "stream");
        return;
    }
    ask_job *j = hk_calloc(1, sizeof *j);
    if (!j) {
        json_decref(body);
        hk_http_send_error(req, 503, "out_of_memory", "out of memory", NULL);
        return;
    }
    j->srv = srv;
    j->body = body;
    j->question = json_string_value(q);
    j->budget = b ? (unsigned)json_integer_value(b) : 0;
    j->search = sm ? json_string_value(sm) : NULL;
    if (json_is_true(st)) {
        j->stream = true;
        j->loop = hk_server_current_loop();
        j->ref = hk_req_ref_new(req);
        if (!j->loop || !j->ref) {
            if (j->ref) hk_req_ref_release(j->ref);
            json_decref(body);
            hk_free(j);
            hk_http_send_error(req, 503, "out_of_memory", "out of memory",
                               NULL);
            return;
        }
    }
    if (hk_server_defer(req, ask_work, ask_after, j) != HK_OK) {
        if (j->ref) hk_req_ref_release(j->ref);
        json_decref(body);
        hk_free(j);
        shutting_down(req);
        return;
    }
    /* from here on errors arrive as events: the response has started */
    if (j->stream) j->out = hk_sse_start(req);
}

/* ==== POST /v2/extract ==== */

typedef struct extract_job {
    hk_server *srv;         /* the server */
    json_t *body;           /* request body (owns text, source) */
    const char *text;       /* the document */
    size_t len;             /* its bytes */
    const char *source;     /* document name or NULL */
    char actor[64];         /* audit actor of the queue write */
    hk_svc_extract_res res; /* proposals */
    json_t *answer;         /* result JSON */
    bool model_phase;       /* the error came from the model side */
    hk_error err;           /* why it failed */
} extract_job;

static void extract_work(void *arg)
{
    extract_job *j = arg;
    hk_error_clear(&j->err);
    hk_txn *t = NULL;
    bool on = true;
    if (hk_txn_begin(j->srv->store, false, &t, &j->err)) return;
    hk_err rc = hk_llm_models_enabled(j->srv->store, t, &on, &j->err);
    hk_txn_abort(t);
    if (rc) return;
    if (!on) {
        hk_error_set(&j->err, HK_ERR_STATE,
                     "model access is switched off by an administrator");
        return;
    }
    hk_svc_extract_req r = {j->srv->store, hk_llm_shared_client(&j->err),
                            j->text, j->len, j->source};
    j->model_phase = true;
    if (!r.client || hk_svc_extract(NULL, &r, &j->res, &j->err)) return;
    j->model_phase = false;
    if (j->res.n) {
        hk_llm_enqueue_arg a =
            hk_svc_extract_enqueue_arg(j->srv->store, &j->res);
        if (hk_server_write_sync(j->srv, hk_llm_enqueue_apply, &a, j->actor,
                                 &j->err))
            return;
    }
    if (!(j->answer = hk_svc_extract_json(&j->res)))
        hk_error_set(&j->err, HK_ERR_NOMEM, "out of memory");
}

static void extract_after(h2o_req_t *req, void *arg)
{
    extract_job *j = arg;
    if (req) {
        if (j->answer) {
            send_json_t(req, 201, j->answer);
            j->answer = NULL;
        } else {
            send_llm_error(req, &j->err, j->model_phase);
        }
    }
    json_decref(j->answer);
    json_decref(j->body);
    hk_svc_extract_res_free(&j->res);
    hk_free(j);
}

void hk_route_extract(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)param;
    json_t *body = hk_body_json(req);
    if (!body) return;
    json_t *text = json_object_get(body, "text");
    const char *source = NULL;
    if (!json_is_string(text) || json_string_length(text) == 0 ||
        json_string_length(text) > HK_SVC_EXTRACT_MAX_BYTES) {
        json_decref(body);
        hk_send_field_error(req, 400, "invalid_parameter",
                            "body is {\"text\": \"...\", \"source\": "
                            "\"name\"} with 1..262144 bytes of text",
                            "text");
        return;
    }
    if (!opt_string(req, body, "source", &source)) {
        json_decref(body);
        return;
    }
    extract_job *j = hk_calloc(1, sizeof *j);
    if (!j) {
        json_decref(body);
        hk_http_send_error(req, 503, "out_of_memory", "out of memory", NULL);
        return;
    }
    j->srv = srv;
    j->body = body;
    j->text = json_string_value(text);
    j->len = json_string_length(text);
    j->source = source;
    snprintf(j->actor, sizeof j->actor, "%s", hk_req_actor(req));
    if (hk_server_defer(req, extract_work, extract_after, j) != HK_OK) {
        json_decref(body);
        hk_free(j);
        shutting_down(req);
    }
}

/* ==== GET /v2/review ==== */

typedef struct list_arg {
    hk_server *srv;       /* the server */
    bool any;             /* every status */
    hk_llm_status status; /* else this one */
    uint64_t after;       /* ids after this */
    size_t limit;         /* page size */
} list_arg;

static hk_err list_read(hk_txn *t, void *arg, hk_buf *out, hk_error *err)
{
    list_arg *a = arg;
    hk_llm_proposal *v = NULL;
    size_t n = 0;
    hk_err rc = hk_llm_review_list(a->srv->store, t, a->any, a->status,
                                   a->after, a->limit, &v, &n, err);
    if (rc) return rc;
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++)
        if (json_array_append_new(arr, hk_svc_proposal_json(&v[i]))) {
            json_decref(arr);
            arr = NULL;
        }
    json_t *o =
        arr ? json_pack("{s:o, s:I, s:o}", "proposals", arr, "count",
                        (json_int_t)n, "next_after",
                        n == a->limit ? json_integer((json_int_t)v[n - 1].id)
                                      : json_null())
            : NULL;
    hk_llm_proposals_free(v, n);
    char *s = o ? hk_json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    rc = hk_buf_append_str(out, s);
    free(s);
    return rc ? hk_error_set(err, rc, "out of memory") : HK_OK;
}

void hk_route_review_list(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)param;
    list_arg a = {srv, false, HK_LLM_PENDING, 0, 100};
    bool bad = false;
    const char *st = hk_query_param(req, "status", &bad);
    const char *after = hk_query_param(req, "after", &bad);
    if (bad) {
        hk_send_field_error(req, 400, "invalid_parameter", "bad encoding",
                            "status");
        return;
    }
    if (st && !strcmp(st, "all"))
        a.any = true;
    else if (st && !hk_llm_status_parse(st, &a.status)) {
        hk_send_field_error(req, 400, "invalid_parameter",
                            "status is pending, approved, rejected or all",
                            "status");
        return;
    }
    if (after && !hk_svc_parse_positive(after, &a.after)) {
        hk_send_field_error(req, 400, "invalid_parameter",
                            "after is a proposal id", "after");
        return;
    }
    if (!hk_param_limit(srv, req, &a.limit)) return;
    hk_route_read(req, 200, list_read, &a);
}

/* ==== POST /v2/review/{id}/approve|reject ==== */

typedef struct decide_job {
    hk_llm_decide_arg a; /* the decision (strings point into body) */
    json_t *body;        /* request body or NULL */
    char reviewer[64];   /* the principal */
} decide_job;

static void decide_done(h2o_req_t *req, hk_err rc, const hk_error *err,
                        void *arg)
{
    decide_job *j = arg;
    if (req && rc) {
        if (rc == HK_ERR_EXISTS)
            hk_http_send_error(req, 409, "already_decided", err->message, NULL);
        else
            hk_http_send_hk_error(req, err);
    } else if (req) {
        send_json_t(
            req, 200,
            json_pack("{s:I, s:s, s:o, s:b, s:s}", "id", (json_int_t)j->a.id,
                      "status", j->a.approve ? "approved" : "rejected", "fact",
                      j->a.fact ? json_integer((json_int_t)j->a.fact)
                                : json_null(),
                      "created", j->a.created, "reviewer", j->reviewer));
    }
    json_decref(j->body);
    hk_free(j);
}

static void decide(hk_server *srv, h2o_req_t *req, const char *param,
                   bool approve)
{
    uint64_t id = 0;
    if (!hk_svc_parse_positive(param, &id)) {
        hk_send_field_error(req, 400, "invalid_parameter",
                            "the id is a positive integer", "id");
        return;
    }
    decide_job *j = hk_calloc(1, sizeof *j);
    if (!j) {
        hk_http_send_error(req, 503, "out_of_memory", "out of memory", NULL);
        return;
    }
    if (req->entity.len > 0) {
        if (!(j->body = hk_body_json(req))) {
            hk_free(j);
            return;
        }
        if (!json_is_object(j->body) ||
            !opt_string(req, j->body, "note", &j->a.note) ||
            (approve && !opt_string(req, j->body, "statement", &j->a.edit))) {
            if (!json_is_object(j->body))
                hk_send_field_error(req, 400, "invalid_parameter",
                                    "the body is not a JSON object", "body");
            json_decref(j->body);
            hk_free(j);
            return;
        }
    }
    snprintf(j->reviewer, sizeof j->reviewer, "%s", hk_req_actor(req));
    j->a.s = srv->store;
    j->a.id = id;
    j->a.approve = approve;
    j->a.reviewer = j->reviewer;
    if (hk_server_write_async(req, hk_llm_decide_apply, decide_done, j,
                              j->reviewer) != HK_OK) {
        json_decref(j->body);
        hk_free(j);
        shutting_down(req);
    }
}

void hk_route_review_approve(hk_server *srv, h2o_req_t *req, const char *param)
{
    decide(srv, req, param, true);
}

void hk_route_review_reject(hk_server *srv, h2o_req_t *req, const char *param)
{
    decide(srv, req, param, false);
}

/* ==== GET/PUT /v2/admin/llm ==== */

static hk_err switch_read(hk_txn *t, void *arg, hk_buf *out, hk_error *err)
{
    hk_server *srv = arg;
    bool on = true, ro = false;
    hk_err rc = hk_llm_models_enabled(srv->store, t, &on, err);
    if (!rc) rc = hk_llm_kb_read_only(srv->store, t, &ro, err);
    if (rc) return rc;
    hk_error ce;
    hk_error_clear(&ce);
    hk_llm_client *c = hk_llm_shared_client(&ce);
    rc = hk_buf_appendf(out, "{\"models\":\"%s\",\"kb\":\"%s\",\"endpoint\":",
                        on ? "on" : "off", ro ? "read-only" : "writable");
    if (!rc && c)
        rc = hk_buf_appendf(out, "{\"name\":\"%s\",\"model\":",
                            hk_llm_client_endpoint(c)->name);
    if (!rc && c) {
        const char *m = hk_llm_client_endpoint(c)->model;
        rc = hk_buf_append_json_string(out, m, strlen(m));
        if (!rc) rc = hk_buf_append_str(out, "}");
    } else if (!rc) {
        rc = hk_buf_append_str(out, "null,\"missing\":");
        if (!rc)
            rc = hk_buf_append_json_string(out, ce.message, strlen(ce.message));
    }
    if (!rc) rc = hk_buf_append_str(out, "}");
    return rc ? hk_error_set(err, rc, "out of memory") : HK_OK;
}

void hk_route_llm_get(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)param;
    hk_route_read(req, 200, switch_read, srv);
}

typedef struct switch_job {
    bool set_models;          /* change the model switch */
    bool set_kb;              /* change the KB switch */
    hk_llm_switch_arg models; /* the model switch */
    hk_llm_kb_mode_arg kb;    /* the KB switch */
} switch_job;

/* Both switches in one transaction (the writer may run it twice). */
static hk_err switch_apply(hk_txn *t, void *arg, hk_error *err)
{
    switch_job *j = arg;
    hk_err rc = HK_OK;
    if (j->set_models) rc = hk_llm_switch_apply(t, &j->models, err);
    if (!rc && j->set_kb) rc = hk_llm_kb_mode_apply(t, &j->kb, err);
    return rc;
}

static void switch_done(h2o_req_t *req, hk_err rc, const hk_error *err,
                        void *arg)
{
    switch_job *j = arg;
    if (req && rc) {
        hk_http_send_hk_error(req, err);
    } else if (req) {
        char body[160];
        int n = snprintf(body, sizeof body, "{");
        if (j->set_models)
            n += snprintf(body + n, sizeof body - (size_t)n,
                          "\"models\":\"%s\",\"was\":\"%s\"",
                          j->models.on ? "on" : "off",
                          j->models.was_on ? "on" : "off");
        if (j->set_kb)
            n += snprintf(body + n, sizeof body - (size_t)n,
                          "%s\"kb\":\"%s\",\"kb_was\":\"%s\"",
                          j->set_models ? "," : "",
                          j->kb.read_only ? "read-only" : "writable",
                          j->kb.was_ro ? "read-only" : "writable");
        snprintf(body + n, sizeof body - (size_t)n, "}\n");
        hk_http_send_json(req, 200, body, strlen(body));
    }
    hk_free(j);
}

void hk_route_llm_put(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)param;
    json_t *body = hk_body_json(req);
    if (!body) return;
    const char *m = json_string_value(json_object_get(body, "models"));
    const char *k = json_string_value(json_object_get(body, "kb"));
    bool m_ok = !m || !strcmp(m, "on") || !strcmp(m, "off");
    bool k_ok = !k || !strcmp(k, "read-only") || !strcmp(k, "writable");
    switch_job *j = (m || k) && m_ok && k_ok ? hk_calloc(1, sizeof *j) : NULL;
    if (j) {
        j->set_models = m != NULL;
        j->models.s = srv->store;
        j->models.on = m && !strcmp(m, "on");
        j->set_kb = k != NULL;
        j->kb.s = srv->store;
        j->kb.read_only = k && !strcmp(k, "read-only");
    }
    bool valid = (m || k) && m_ok && k_ok;
    json_decref(body);
    if (!valid) {
        hk_send_field_error(req, 400, "invalid_parameter",
                            "body is {\"models\": \"on\"|\"off\", \"kb\": "
                            "\"read-only\"|\"writable\"} (either or both)",
                            m_ok ? "kb" : "models");
        return;
    }
    if (!j) {
        hk_http_send_error(req, 503, "out_of_memory", "out of memory", NULL);
        return;
    }
    if (hk_server_write_async(req, switch_apply, switch_done, j,
                              hk_req_actor(req)) != HK_OK) {
        hk_free(j);
        shutting_down(req);
    }
}
