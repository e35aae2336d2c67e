/*
 * routes_graphql.c — GraphQL over HTTP, an adapter of src/graphql:
 *   POST /graphql                 {"query", "variables", "operationName"}
 *   GET  /graphql?query=&variables=&operationName=   (queries only)
 *   GET  /graphql/schema.graphql  the SDL
 *
 * Queries run on the loop thread in the loop's reusable read transaction,
 * like the REST reads, except those that may take long (vector similarity
 * and vector or hybrid search: hk_gql_prepared_blocking), which run on a
 * pool thread with a read transaction of their own (hk_server_defer), as
 * REST runs the same searches. A mutation needs the write role (the same check
 * as REST writes, done here because the route itself is a read) and runs
 * as one solo job of the group-commit writer: all its root fields in one
 * transaction (solo, because addFacts switches the store to bulk mode);
 * the response is built on the writer thread inside that transaction and
 * sent from the job's completion once the commit is durable.
 *
 * Answers (GraphQL over HTTP, application/json): 200 with {"data",
 * "errors"} for every request the GraphQL layer saw, including parse and
 * validation errors; 400 when the HTTP request itself carries no
 * document or malformed variables; 405 for a mutation sent with GET.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_text.h"
#include "core/buf.h"
#include "graphql/graphql.h"
#include "server/routes.h"

static hk_gql_env gql_env(hk_server *srv, hk_txn *txn)
{
    hk_gql_env env = {.txn = txn,
                      .store = srv->store,
                      .vs = srv->vs,
                      .default_limit = srv->cfg.default_limit,
                      .max_limit = srv->cfg.max_limit,
                      .max_statement = srv->cfg.max_statement,
                      .query_timeout_us =
                          (int64_t)srv->cfg.query_timeout_ms * 1000};
    return env;
}

static void send_response(h2o_req_t *req, json_t *resp)
{
    char *text = hk_json_dumps(resp, JSON_COMPACT);
    if (!text) {
        hk_http_send_error(req, 503, "out_of_memory", "cannot build answer",
                           NULL);
        return;
    }
    hk_http_send_json(req, 200, text, strlen(text));
    free(text);
}

/* ==== Mutations ==== */

typedef struct gql_job {
    hk_gql_prepared *p; /* the request */
    hk_gql_env env;     /* limits; txn set per run */
    hk_buf response;    /* the last run's response (JSON text) */
    char actor[64];     /* the caller (env.actor points here) */
} gql_job;

static hk_err gql_write(hk_txn *txn, void *arg, hk_error *err)
{
    gql_job *j = arg;
    hk_buf_reset(&j->response);
    j->env.txn = txn;
    return hk_gql_execute_text(j->p, &j->env, &j->response, err);
}

static void gql_done(h2o_req_t *req, hk_err rc, const hk_error *err, void *arg)
{
    gql_job *j = arg;
    if (req) {
        if (rc == HK_OK && j->response.len)
            hk_http_send_buf(req, 200, &j->response);
        else
            hk_send_store_error(req, err);
    }
    hk_buf_free(&j->response);
    hk_gql_prepared_free(j->p);
    hk_free(j);
}

/* ==== Queries off the loop ==== */

typedef struct gql_read_job {
    hk_server *srv;     /* for its store and limits */
    hk_gql_prepared *p; /* the request (owned) */
    hk_buf out;         /* the answer */
    hk_err rc;          /* result */
    hk_error err;       /* why it failed */
} gql_read_job;

static void gql_read_work(void *arg)
{
    gql_read_job *j = arg;
    hk_txn *t = NULL;
    hk_error_clear(&j->err);
    j->rc = hk_txn_begin(j->srv->store, false, &t, &j->err);
    if (j->rc != HK_OK) return;
    hk_gql_env env = gql_env(j->srv, t);
    j->rc = hk_gql_execute_text(j->p, &env, &j->out, &j->err);
    hk_txn_abort(t);
}

static void gql_read_after(h2o_req_t *req, void *arg)
{
    gql_read_job *j = arg;
    if (req && j->rc != HK_OK)
        hk_send_store_error(req, &j->err);
    else if (req)
        hk_http_send_buf(req, 200, &j->out);
    hk_buf_free(&j->out);
    hk_gql_prepared_free(j->p);
    hk_free(j);
}

/* ==== Shared ==== */

static void run_request(hk_server *srv, h2o_req_t *req, const char *query,
                        size_t len, const char *op_name, json_t *vars,
                        bool is_get)
{
    hk_gql_prepared *p = NULL;
    json_t *resp = NULL;
    hk_err rc = hk_gql_prepare(query, len, op_name, vars, NULL, &p, &resp);
    if (rc != HK_OK) {
        hk_http_send_error(req, 503, "out_of_memory", "cannot run the request",
                           NULL);
        return;
    }
    if (!p) {
        send_response(req, resp);
        json_decref(resp);
        return;
    }
    if (hk_gql_prepared_mutation(p)) {
        if (is_get) {
            hk_gql_prepared_free(p);
            h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL,
                           H2O_STRLIT("POST"));
            hk_http_send_error(req, 405, "method_not_allowed",
                               "mutations are sent with POST", NULL);
            return;
        }
        hk_principal who;
        if (!hk_server_authorize(srv, req, HK_ROLE_WRITE, &who)) {
            hk_gql_prepared_free(p);
            return;
        }
        gql_job *j = hk_calloc(1, sizeof(*j));
        if (!j) {
            hk_gql_prepared_free(p);
            hk_http_send_error(req, 503, "out_of_memory",
                               "cannot queue the write", NULL);
            return;
        }
        j->p = p;
        j->env = gql_env(srv, NULL);
        snprintf(j->actor, sizeof(j->actor), "%s", who.name);
        j->env.actor = j->actor;
        j->env.role = who.role;
        rc = hk_write_async_ex(req, gql_write, gql_done, j, who.name, true);
        if (rc != HK_OK) {
            hk_gql_prepared_free(p);
            hk_free(j);
            hk_http_send_error(req, 503, "shutting_down",
                               "the server is shutting down; retry elsewhere",
                               NULL);
        }
        return;
    }
    if (hk_gql_prepared_blocking(p)) {
        gql_read_job *j = hk_calloc(1, sizeof(*j));
        if (!j) {
            hk_gql_prepared_free(p);
            hk_http_send_error(req, 503, "out_of_memory",
                               "cannot run the request", NULL);
            return;
        }
        j->srv = srv;
        j->p = p;
        if (hk_server_defer(req, gql_read_work, gql_read_after, j) != HK_OK) {
            hk_gql_prepared_free(p);
            hk_free(j);
            hk_http_send_error(req, 503, "shutting_down",
                               "the server is shutting down", NULL);
        }
        return;
    }
    hk_loop *loop = hk_loop_self();
    hk_error err;
    hk_txn *txn = hk_route_read_txn(req, loop, &err);
    if (!txn) {
        hk_gql_prepared_free(p);
        return;
    }
    hk_gql_env env = gql_env(srv, txn);
    hk_buf b = HK_BUF_INIT;
    rc = hk_gql_execute_text(p, &env, &b, &err);
    hk_loop_read_done(loop);
    hk_gql_prepared_free(p);
    if (rc != HK_OK)
        hk_send_store_error(req, &err);
    else
        hk_http_send_buf(req, 200, &b);
    hk_buf_free(&b);
}

/* ==== POST /graphql ==== */

void hk_route_graphql_post(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)param;
    json_t *body = hk_body_json(req);
    if (!body) return;
    json_t *q = json_object_get(body, "query");
    json_t *vars = json_object_get(body, "variables");
    json_t *op = json_object_get(body, "operationName");
    if (!json_is_object(body) || !json_is_string(q)) {
        hk_send_field_error(req, 400, "invalid_request",
                            "send {\"query\": \"...\"} with optional "
                            "variables and operationName",
                            "query");
    } else if (vars && !json_is_object(vars) && !json_is_null(vars)) {
        hk_send_field_error(req, 400, "invalid_request",
                            "variables must be an object", "variables");
    } else if (op && !json_is_string(op) && !json_is_null(op)) {
        hk_send_field_error(req, 400, "invalid_request",
                            "operationName must be a string", "operationName");
    } else {
        run_request(srv, req, json_string_value(q), json_string_length(q),
                    json_string_value(op), vars, false);
    }
    json_decref(body);
}

/* ==== GET /graphql ==== */

void hk_route_graphql_get(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)param;
    bool bad = false;
    const char *q = hk_query_param(req, "query", &bad);
    const char *vtext = hk_query_param(req, "variables", &bad);
    const char *op = hk_query_param(req, "operationName", &bad);
    if (bad || !q) {
        hk_send_field_error(req, 400, "invalid_request",
                            "give the document as ?query= (URL-encoded)",
                            "query");
        return;
    }
    json_t *vars = NULL;
    if (vtext) {
        vars = json_loads(vtext, 0, NULL);
        if (!json_is_object(vars)) {
            json_decref(vars);
            hk_send_field_error(req, 400, "invalid_request",
                                "variables must be a JSON object", "variables");
            return;
        }
    }
    run_request(srv, req, q, strlen(q), op, vars, true);
    json_decref(vars);
}

/* ==== GET /graphql/schema.graphql ==== */

void hk_route_graphql_schema(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)srv;
    (void)param;
    const char *sdl = hk_gql_sdl();
    hk_http_send_typed(req, 200, "text/plain; charset=utf-8", sdl, strlen(sdl));
}
