/*
 * routes_graph_query.c — multi-pattern queries over REST:
 *   GET /v2/query?q=...&limit=&cursor=&explain=true  (q with several
 *       patterns, comparisons, not, select, order by or limit; a single
 *       pattern keeps the answer of routes_query.c)
 *   POST /v2/query {"query": "...", "limit": N, "cursor": C,
 *       "explain": true}
 * Answer: {"query": q, "rows": [{"bindings": {...}, "facts": [ids]}],
 * "count": N, "next_cursor": C|null} and "plan": [...] with explain.
 * The run takes the loop's read transaction and stops at
 * query-timeout-ms (503 query_timeout) or the fact budget (422
 * query_budget).
 */
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "server/routes.h"
#include "server/server_int.h"
#include "service/svc_graph_query.h"

typedef struct gq_page {
    hk_buf b;
    bool first;
} gq_page;

static hk_err gq_page_row(void *ud, const hkq_out_row *row, hk_error *err)
{
    (void)err;
    gq_page *pg = ud;
    if (!pg->first) hk_buf_append(&pg->b, ",", 1);
    pg->first = false;
    return hk_svc_gq_row_json(row, &pg->b);
}

void hk_route_graph_query_run(hk_server *srv, h2o_req_t *req, const char *text,
                              size_t limit, const char *cursor, bool explain)
{
    if (strlen(text) > srv->cfg.max_statement) {
        hk_send_field_error(req, 413, "statement_too_long",
                            "the query is longer than max-statement", "query");
        return;
    }
    hk_error err;
    hk_error_clear(&err);
    hk_loop *loop = hk_loop_self();
    hk_txn *txn = hk_route_read_txn(req, loop, &err);
    if (!txn) return;
    gq_page pg;
    memset(&pg, 0, sizeof pg);
    pg.first = true;
    hk_svc_gq_req gr;
    memset(&gr, 0, sizeof gr);
    gr.text = text;
    gr.cursor = cursor;
    gr.limit = limit;
    gr.timeout_us = (int64_t)srv->cfg.query_timeout_ms * 1000;
    gr.row = gq_page_row;
    gr.row_ud = &pg;
    hk_svc_gq_res res;
    memset(&res, 0, sizeof res);
    hk_err rc = hk_buf_append_str(&pg.b, "{\"query\":");
    if (rc == HK_OK) rc = hk_buf_append_json_string(&pg.b, text, strlen(text));
    if (rc == HK_OK) rc = hk_buf_append_str(&pg.b, ",\"rows\":[");
    if (rc == HK_OK) rc = hk_svc_graph_query(txn, &gr, &res, &err);
    hk_loop_read_done(loop);
    if (rc == HK_OK)
        rc = hk_buf_appendf(&pg.b, "],\"count\":%llu,\"next_cursor\":",
                            (unsigned long long)res.exec.count);
    if (rc == HK_OK)
        rc = res.exec.cursor.len
                 ? hk_buf_append_json_string(&pg.b, res.exec.cursor.data,
                                             res.exec.cursor.len)
                 : hk_buf_append_str(&pg.b, "null");
    if (rc == HK_OK && explain) {
        rc = hk_buf_append_str(&pg.b, ",\"plan\":");
        if (rc == HK_OK) rc = hk_svc_gq_plan_json(&res, &pg.b);
    }
    if (rc == HK_OK) rc = hk_buf_append_str(&pg.b, "}\n");
    if (rc == HK_OK) {
        hk_http_send_buf(req, 200, &pg.b);
    } else if (rc == HK_ERR_LIMIT && strstr(err.message, "time budget")) {
        char d[64];
        snprintf(d, sizeof d, "{\"limit_ms\":%u}", srv->cfg.query_timeout_ms);
        hk_http_send_error(req, 503, "query_timeout", err.message, d);
    } else if (rc == HK_ERR_LIMIT) {
        hk_http_send_error(req, 422, "query_budget", err.message, NULL);
    } else if (rc == HK_ERR_INVALID) {
        hk_send_input_error(req, 400,
                            strcmp(err.field, "cursor") == 0 ? "invalid_cursor"
                                                             : "invalid_query",
                            &err);
    } else {
        hk_send_store_error(req, &err);
    }
    hk_buf_free(&pg.b);
    hk_svc_gq_res_free(&res);
}

void hk_route_graph_query_post(hk_server *srv, h2o_req_t *req,
                               const char *param)
{
    (void)param;
    json_t *body = hk_body_json(req);
    if (!body) return;
    const json_t *q = json_object_get(body, "query");
    const json_t *l = json_object_get(body, "limit");
    const json_t *c = json_object_get(body, "cursor");
    const json_t *x = json_object_get(body, "explain");
    const char *field = NULL, *why = NULL;
    if (!json_is_object(body)) {
        field = "query";
        why = "the body is an object {\"query\": \"P(?x, ?y), Q(?y, ?z)\"}";
    } else if (!json_is_string(q) || json_string_length(q) == 0) {
        field = "query";
        why = "query is a non-empty string";
    } else if (l && !json_is_null(l) &&
               (!json_is_integer(l) || json_integer_value(l) < 1 ||
                json_integer_value(l) > (json_int_t)srv->cfg.max_limit)) {
        field = "limit";
        why = "limit is an integer 1..max-limit";
    } else if (c && !json_is_null(c) && !json_is_string(c)) {
        field = "cursor";
        why = "cursor is the next_cursor string of the previous page";
    } else if (x && !json_is_null(x) && !json_is_boolean(x)) {
        field = "explain";
        why = "explain is true or false";
    }
    if (field) {
        hk_send_field_error(req, 400, "invalid_parameter", why, field);
        json_decref(body);
        return;
    }
    size_t limit = json_is_integer(l) ? (size_t)json_integer_value(l)
                                      : srv->cfg.default_limit;
    hk_route_graph_query_run(srv, req, json_string_value(q), limit,
                             json_is_string(c) ? json_string_value(c) : NULL,
                             json_is_true(x));
    json_decref(body);
}
