/*
 * routes_util.c — input parsing and output helpers for the REST handlers.
 *
 * Fact bodies are read by the service layer's fact input parser (strict
 * rules, src/service/service.h); here its faults become HTTP answers:
 * statement syntax 400 (with the column), wrong types and out-of-range
 * values 422 naming the field, a statement over max-statement 413.
 * Read routes share one skeleton: read transaction, service call, error
 * or JSON answer (hk_route_read).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "server/routes.h"

/* ==== Error answers ==== */

void hk_send_field_error(h2o_req_t *req, int status, const char *code,
                         const char *message, const char *field)
{
    hk_error e;
    hk_error_clear(&e);
    snprintf(e.field, sizeof(e.field), "%s", field);
    hk_buf d = HK_BUF_INIT;
    hk_err rc = hk_svc_error_detail_write_json(&e, &d);
    hk_http_send_error(req, status, code, message, rc == HK_OK ? d.data : NULL);
    hk_buf_free(&d);
}

void hk_send_input_error(h2o_req_t *req, int status, const char *code,
                         const hk_error *err)
{
    hk_buf d = HK_BUF_INIT;
    hk_err rc = hk_svc_error_detail_write_json(err, &d);
    hk_http_send_error(req, status, code,
                       err->message[0] ? err->message : hk_strerror(err->code),
                       rc == HK_OK ? d.data : NULL);
    hk_buf_free(&d);
}

void hk_send_store_error(h2o_req_t *req, const hk_error *err)
{
    hk_http_send_hk_error(req, err);
}

void hk_send_built(h2o_req_t *req, hk_err built, int status, hk_buf *b)
{
    if (built == HK_OK)
        hk_http_send_buf(req, status, b);
    else
        hk_http_send_error(req, 503, "out_of_memory", "cannot build answer",
                           NULL);
    hk_buf_free(b);
}

bool hk_param_limit(hk_server *srv, h2o_req_t *req, size_t *limit)
{
    bool bad = false;
    const char *v = hk_query_param(req, "limit", &bad);
    *limit = srv->cfg.default_limit;
    if (bad) {
        hk_send_field_error(req, 400, "invalid_parameter",
                            "limit has an invalid %-escape", "limit");
        return false;
    }
    if (!v) return true;
    uint64_t n;
    if (!hk_svc_parse_positive(v, &n)) {
        hk_send_field_error(req, 400, "invalid_parameter",
                            "limit must be a whole number >= 1", "limit");
        return false;
    }
    if (n > srv->cfg.max_limit) {
        char msg[128];
        snprintf(msg, sizeof(msg), "limit %llu is over max-limit %u",
                 (unsigned long long)n, srv->cfg.max_limit);
        hk_send_field_error(req, 422, "limit_exceeded", msg, "limit");
        return false;
    }
    *limit = (size_t)n;
    return true;
}

json_t *hk_body_json(h2o_req_t *req)
{
    json_error_t je;
    if (!req->entity.base || req->entity.len == 0) {
        hk_http_send_error(req, 400, "invalid_json",
                           "the request body is empty; send a JSON object",
                           NULL);
        return NULL;
    }
    json_t *j = json_loadb(req->entity.base, req->entity.len,
                           JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        char d[96];
        snprintf(d, sizeof(d), "{\"line\":%d,\"column\":%d,\"position\":%d}",
                 je.line, je.column, je.position);
        char msg[300];
        snprintf(msg, sizeof(msg), "invalid JSON at line %d column %d: %s",
                 je.line, je.column, je.text);
        hk_http_send_error(req, 400, "invalid_json", msg, d);
    }
    return j;
}

/* ==== Fact input ==== */

hk_svc_fact_in_opts hk_fact_in_opts(const hk_server *srv, bool allow_string,
                                    bool need_statement)
{
    hk_svc_fact_in_opts o = {
        .allow_string = allow_string,
        .need_statement = need_statement,
        .legacy = false,
        .max_statement = srv->cfg.max_statement,
        .max_args = srv->cfg.max_args,
    };
    return o;
}

int hk_fault_status(hk_svc_fault fault)
{
    switch (fault) {
    case HK_SVC_FAULT_SYNTAX:
        return 400;
    case HK_SVC_FAULT_TOO_LONG:
        return 413;
    case HK_SVC_FAULT_NOMEM:
        return 503;
    case HK_SVC_FAULT_VALUE:
    case HK_SVC_FAULT_NONE:
    default:
        return 422;
    }
}

void hk_send_fact_input_error(h2o_req_t *req, hk_svc_fault fault,
                              const hk_error *err)
{
    int status = hk_fault_status(fault);
    hk_send_input_error(req, status,
                        status == 413               ? "statement_too_long"
                        : err->code == HK_ERR_LIMIT ? "limit_exceeded"
                        : status == 422             ? "invalid_fact"
                        : err->column               ? "invalid_statement"
                                                    : "invalid_fact",
                        err);
}

/* ==== Output ==== */

hk_txn *hk_route_read_txn(h2o_req_t *req, hk_loop *loop, hk_error *err)
{
    hk_error_clear(err);
    hk_txn *txn = hk_loop_read_txn(loop, err);
    if (!txn) hk_send_store_error(req, err);
    return txn;
}

void hk_route_read(h2o_req_t *req, int status, hk_route_read_fn fn, void *arg)
{
    hk_loop *loop = hk_loop_self();
    hk_error err;
    hk_txn *txn = hk_route_read_txn(req, loop, &err);
    if (!txn) return;
    hk_buf b = HK_BUF_INIT;
    hk_err rc = fn(txn, arg, &b, &err);
    hk_loop_read_done(loop);
    if (rc == HK_OK) rc = hk_buf_append_str(&b, "\n");
    if (rc == HK_ERR_NOT_FOUND)
        hk_http_send_error(req, 404, "not_found", err.message, NULL);
    else if (rc == HK_ERR_NOMEM && err.code != HK_ERR_NOMEM)
        hk_http_send_error(req, 503, "out_of_memory", "cannot build answer",
                           NULL);
    else if (rc != HK_OK)
        hk_send_store_error(req, &err);
    else
        hk_http_send_buf(req, status, &b);
    hk_buf_free(&b);
}
