/*
 * routes_rules.c — Datalog rules, materialization and proofs over REST
 * (service: src/service/svc_rules.h):
 *   GET    /v2/rules               every rule and the derived fact count
 *   POST   /v2/rules               {"rule": "H :- B.", "name": N?} add or
 *                                  replace (201)
 *   GET    /v2/rules/{name}        one rule
 *   PATCH  /v2/rules/{name}        {"enabled": true|false}
 *   DELETE /v2/rules/{name}        delete
 *   POST   /v2/reason              recompute the derived facts
 *   GET    /v2/reason/verify       check every stored derivation step
 *   GET    /v2/why?statement=S     the derivation tree of a fact
 *   GET    /v2/reason/contradictions?limit=N  derived contradictions with
 *                                  proofs
 *   GET    /v2/reason/strict       {"strict": bool}
 *   PUT    /v2/reason/strict       {"strict": bool} turn strict mode on/off
 * Rule changes rematerialize in their own write; the rule module attached
 * by hk_svc_store_open keeps derived facts current after every fact
 * write. Reads run on the loop's read transaction, writes are jobs of the
 * group-commit writer. Loop threads only.
 */
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"
#include "server/routes.h"
#include "service/svc_rules.h"

/* The KB's rule databases; answers 503 and returns false when absent. */
static bool rule_dbs(hk_server *srv, h2o_req_t *req, hkr_dbs *d)
{
    hk_error e;
    if (hkr_dbs_of(srv->store, d, &e) == HK_OK) return true;
    hk_http_send_error(req, 503, "unavailable",
                       "the rule module is not attached to this KB", NULL);
    return false;
}

static void queue(h2o_req_t *req, hk_write_fn fn, hk_write_done_fn done,
                  void *a)
{
    /* the request is the job's first member: through the log on a
     * replicated node (server_repl.c) */
    if (hk_server_write_async_cmd(req, fn, done, a, hk_req_actor(req), fn, a,
                                  false) != HK_OK) {
        hk_http_send_error(req, 503, "shutting_down",
                           "the server is shutting down; retry elsewhere",
                           NULL);
        hk_free(a);
    }
}

/* The {name} parameter decoded into the pool; NULL (answered) when bad. */
static const char *name_param(h2o_req_t *req, const char *param)
{
    char *s = hk_url_decode(&req->pool, param, strlen(param));
    if (!s || !hkr_name_valid(s)) {
        hk_send_field_error(req, 400, "invalid_parameter", "bad rule name",
                            "name");
        return NULL;
    }
    return s;
}

/* ==== Changes ==== */

typedef struct rule_job {
    hk_svc_rule_op op;           /* the service request */
    char name[HKR_NAME_MAX + 1]; /* op.name points here */
    char *text;                  /* op.text (owned) */
    int ok_status;               /* 201 for add, else 200 */
} rule_job;

static void rule_done(h2o_req_t *req, hk_err rc, const hk_error *err, void *arg)
{
    rule_job *j = arg;
    if (req && rc) {
        hk_http_send_hk_error(req, err);
    } else if (req) {
        hk_buf b = HK_BUF_INIT;
        hk_svc_rule_op_write_json(&j->op, &b);
        hk_http_send_buf(req, j->ok_status, &b);
        hk_buf_free(&b);
    }
    hk_svc_rule_op_free(&j->op);
    hk_free(j->text);
    hk_free(j);
}

static rule_job *job_new(h2o_req_t *req, const hkr_dbs *d,
                         hk_svc_rule_verb verb, const char *name)
{
    rule_job *j = hk_calloc(1, sizeof *j);
    if (!j) {
        hk_http_send_error(req, 503, "out_of_memory", "out of memory", NULL);
        return NULL;
    }
    j->op.d = *d;
    j->op.verb = verb;
    j->ok_status = 200;
    if (name) {
        snprintf(j->name, sizeof j->name, "%s", name);
        j->op.name = j->name;
    }
    return j;
}

void hk_route_rules_post(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)param;
    hkr_dbs d;
    if (!rule_dbs(srv, req, &d)) return;
    json_t *body = hk_body_json(req);
    if (!body) return;
    json_t *jr = json_object_get(body, "rule");
    json_t *jn = json_object_get(body, "name");
    if (!json_is_object(body) || !json_is_string(jr)) {
        hk_send_field_error(req, 400, "invalid_parameter",
                            "expected {\"rule\": \"Head(...) :- Body.\", "
                            "\"name\": optional}",
                            "rule");
    } else if (jn && !json_is_null(jn) &&
               (!json_is_string(jn) ||
                !hkr_name_valid(json_string_value(jn)))) {
        hk_send_field_error(req, 400, "invalid_parameter",
                            "a rule name is 1..64 letters, digits, '_', '-' "
                            "or '.', starting with a letter or '_'",
                            "name");
    } else {
        rule_job *j =
            job_new(req, &d, HK_SVC_RULE_ADD,
                    json_is_string(jn) ? json_string_value(jn) : NULL);
        if (j) {
            j->text = hk_strdup(json_string_value(jr));
            j->op.text = j->text;
            j->ok_status = 201;
            if (!j->text) {
                hk_free(j);
                hk_http_send_error(req, 503, "out_of_memory", "out of memory",
                                   NULL);
            } else {
                queue(req, hk_svc_rule_apply, rule_done, j);
            }
        }
    }
    json_decref(body);
}

void hk_route_rules_patch(hk_server *srv, h2o_req_t *req, const char *param)
{
    hkr_dbs d;
    const char *name = name_param(req, param);
    if (!name || !rule_dbs(srv, req, &d)) return;
    json_t *body = hk_body_json(req);
    if (!body) return;
    json_t *en = json_object_get(body, "enabled");
    if (!json_is_object(body) || !json_is_boolean(en)) {
        hk_send_field_error(req, 400, "invalid_parameter",
                            "expected {\"enabled\": true|false}", "enabled");
    } else {
        rule_job *j = job_new(
            req, &d,
            json_is_true(en) ? HK_SVC_RULE_ENABLE : HK_SVC_RULE_DISABLE, name);
        if (j) queue(req, hk_svc_rule_apply, rule_done, j);
    }
    json_decref(body);
}

void hk_route_rules_delete(hk_server *srv, h2o_req_t *req, const char *param)
{
    hkr_dbs d;
    const char *name = name_param(req, param);
    if (!name || !rule_dbs(srv, req, &d)) return;
    rule_job *j = job_new(req, &d, HK_SVC_RULE_DELETE, name);
    if (j) queue(req, hk_svc_rule_apply, rule_done, j);
}

static void reason_done(h2o_req_t *req, hk_err rc, const hk_error *err,
                        void *arg)
{
    hk_svc_reason *r = arg;
    if (req && rc) {
        hk_http_send_hk_error(req, err);
    } else if (req) {
        hk_buf b = HK_BUF_INIT;
        hk_svc_reason_write_json(&r->res, &b);
        hk_http_send_buf(req, 200, &b);
        hk_buf_free(&b);
    }
    hk_free(r);
}

void hk_route_reason(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)param;
    hkr_dbs d;
    if (!rule_dbs(srv, req, &d)) return;
    hk_svc_reason *r = hk_calloc(1, sizeof *r);
    if (!r) {
        hk_http_send_error(req, 503, "out_of_memory", "out of memory", NULL);
        return;
    }
    r->d = d;
    queue(req, hk_svc_reason_apply, reason_done, r);
}

/* ==== Reads ==== */

typedef struct read_arg {
    hkr_dbs d;        /* the KB's rule databases */
    const char *text; /* name or statement */
} read_arg;

static hk_err list_read(hk_txn *t, void *arg, hk_buf *out, hk_error *err)
{
    return hk_svc_rules_list_json(t, &((read_arg *)arg)->d, out, err);
}

static hk_err show_read(hk_txn *t, void *arg, hk_buf *out, hk_error *err)
{
    read_arg *a = arg;
    return hk_svc_rule_show_json(t, &a->d, a->text, out, err);
}

static hk_err why_read(hk_txn *t, void *arg, hk_buf *out, hk_error *err)
{
    read_arg *a = arg;
    return hk_svc_why_json(t, &a->d, a->text, out, err);
}

static hk_err verify_read(hk_txn *t, void *arg, hk_buf *out, hk_error *err)
{
    hkr_verify_res vr;
    hk_err rc = hk_svc_reason_verify(t, &((read_arg *)arg)->d, &vr, err);
    if (rc == HK_OK) rc = hk_svc_reason_verify_write_json(&vr, out);
    return rc;
}

void hk_route_rules_list(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)param;
    read_arg a = {{0}, NULL};
    if (!rule_dbs(srv, req, &a.d)) return;
    hk_route_read(req, 200, list_read, &a);
}

void hk_route_rules_get(hk_server *srv, h2o_req_t *req, const char *param)
{
    read_arg a = {{0}, name_param(req, param)};
    if (!a.text || !rule_dbs(srv, req, &a.d)) return;
    hk_route_read(req, 200, show_read, &a);
}

void hk_route_reason_verify(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)param;
    read_arg a = {{0}, NULL};
    if (!rule_dbs(srv, req, &a.d)) return;
    hk_route_read(req, 200, verify_read, &a);
}

void hk_route_why(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)param;
    bool bad = false;
    read_arg a = {{0}, hk_query_param(req, "statement", &bad)};
    if (bad || !a.text || !*a.text) {
        hk_send_field_error(req, 400, "invalid_parameter",
                            "missing ?statement=Pred(arg, ...)", "statement");
        return;
    }
    if (!rule_dbs(srv, req, &a.d)) return;
    hk_route_read(req, 200, why_read, &a);
}

/* ==== Constraints ==== */

typedef struct contra_arg {
    hkr_dbs d;    /* the KB's rule databases */
    size_t limit; /* contradictions listed */
} contra_arg;

static hk_err contra_read(hk_txn *t, void *arg, hk_buf *out, hk_error *err)
{
    contra_arg *a = arg;
    return hk_svc_rule_contradictions_json(t, &a->d, a->limit, out, err);
}

void hk_route_reason_contradictions(hk_server *srv, h2o_req_t *req,
                                    const char *param)
{
    (void)param;
    contra_arg a;
    memset(&a, 0, sizeof a);
    if (!hk_param_limit(srv, req, &a.limit) || !rule_dbs(srv, req, &a.d))
        return;
    hk_route_read(req, 200, contra_read, &a);
}

static hk_err strict_read(hk_txn *t, void *arg, hk_buf *out, hk_error *err)
{
    return hk_svc_rules_strict_json(t, &((read_arg *)arg)->d, out, err);
}

void hk_route_reason_strict_get(hk_server *srv, h2o_req_t *req,
                                const char *param)
{
    (void)param;
    read_arg a = {{0}, NULL};
    if (!rule_dbs(srv, req, &a.d)) return;
    hk_route_read(req, 200, strict_read, &a);
}

static void strict_done(h2o_req_t *req, hk_err rc, const hk_error *err,
                        void *arg)
{
    hk_svc_rules_strict *a = arg;
    if (req && rc) {
        hk_http_send_hk_error(req, err);
    } else if (req) {
        hk_buf b = HK_BUF_INIT;
        hk_buf_appendf(&b, "{\"strict\":%s}", a->on ? "true" : "false");
        hk_http_send_buf(req, 200, &b);
        hk_buf_free(&b);
    }
    hk_free(a);
}

void hk_route_reason_strict_put(hk_server *srv, h2o_req_t *req,
                                const char *param)
{
    (void)param;
    hkr_dbs d;
    if (!rule_dbs(srv, req, &d)) return;
    json_t *body = hk_body_json(req);
    if (!body) return;
    json_t *on = json_object_get(body, "strict");
    if (!json_is_object(body) || !json_is_boolean(on)) {
        hk_send_field_error(req, 400, "invalid_parameter",
                            "expected {\"strict\": true|false}", "strict");
    } else {
        hk_svc_rules_strict *a = hk_calloc(1, sizeof *a);
        if (!a) {
            hk_http_send_error(req, 503, "out_of_memory", "out of memory",
                               NULL);
        } else {
            a->d = d;
            a->on = json_is_true(on);
            queue(req, hk_svc_rules_strict_apply, strict_done, a);
        }
    }
    json_decref(body);
}
