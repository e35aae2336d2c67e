/*
 * routes_query.c — read-only routes answered on the loop thread from the
 * loop's reusable read transaction (LMDB MVCC: they never wait for the
 * writer): GET /v2/query, GET /v2/facts (scan), GET /v2/entities/{name},
 * GET /v2/predicates, GET /v2/stats, GET /v2/search, GET /v2/audit.
 *
 * Each handler decodes its parameters, calls one service operation
 * (src/service/svc_query.c, svc_admin.c) on the loop's transaction and
 * writes the answer straight into the response buffer from the service's
 * row and hit callbacks (no per-row allocation, no JSON document).
 *
 * Pages: ?limit= (default/max configurable) and ?cursor= (opaque, from the
 * previous page's next_cursor; null when the result is exhausted). A query
 * that runs past query-timeout-ms stops and answers 503 query_timeout.
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/utf8.h"
#include "query/query.h"
#include "server/routes.h"

/* ==== Shared page writer ==== */

typedef struct page {
    hk_buf b;             /* answer being built */
    hk_buf bind;          /* "bindings":[...] being built (pattern queries) */
    bool with_vars;       /* the pattern has variables: write bindings */
    hk_svc_query_res res; /* count and next cursor */
} page;

static void send_timeout(hk_server *srv, h2o_req_t *req)
{
    char d[64];
    snprintf(d, sizeof(d), "{\"limit_ms\":%u}", srv->cfg.query_timeout_ms);
    hk_http_send_error(req, 503, "query_timeout",
                       "the query ran longer than query-timeout-ms; narrow "
                       "it or lower limit",
                       d);
}

/* Appends one row's fact (and bindings) to the page. */
static hk_err page_row(void *ud, const hk_svc_row *row, hk_error *err)
{
    (void)err;
    page *pg = ud;
    bool first = pg->res.count == 0;
    hk_err rc = first ? HK_OK : hk_buf_append(&pg->b, ",", 1);
    if (rc == HK_OK) rc = hk_fact_write_json(row->fact, &pg->b);
    if (rc == HK_OK && pg->with_vars) {
        rc = hk_buf_append_str(&pg->bind, first ? "{" : ",{");
        for (size_t i = 0; rc == HK_OK && i < row->n_vars; i++) {
            const char *v = row->values[i];
            rc = hk_buf_append_json_string(&pg->bind, row->vars[i],
                                           strlen(row->vars[i]));
            if (rc == HK_OK) rc = hk_buf_append(&pg->bind, ":", 1);
            if (rc == HK_OK)
                rc = v ? hk_buf_append_json_string(&pg->bind, v, strlen(v))
                       : hk_buf_append_str(&pg->bind, "null");
            if (rc == HK_OK && i + 1 < row->n_vars)
                rc = hk_buf_append(&pg->bind, ",", 1);
        }
        if (rc == HK_OK) rc = hk_buf_append(&pg->bind, "}", 1);
    }
    return rc;
}

/* Runs one page of req through the service, appending "facts":[...]
 * (then "bindings" when with_vars), "count" and "next_cursor". */
static hk_err run_page(hk_server *srv, hk_txn *txn, hk_svc_query_req *req,
                       page *pg, hk_error *err)
{
    req->timeout_us = (int64_t)srv->cfg.query_timeout_ms * 1000;
    req->row = page_row;
    req->row_ud = pg;
    hk_err rc = hk_buf_append_str(&pg->b, "\"facts\":[");
    if (rc == HK_OK && pg->with_vars)
        rc = hk_buf_append_str(&pg->bind, "\"bindings\":[");
    if (rc == HK_OK) rc = hk_svc_query(txn, req, &pg->res, err);
    if (rc == HK_OK) rc = hk_buf_append_str(&pg->b, "]");
    if (rc == HK_OK && pg->with_vars) {
        rc = hk_buf_append_str(&pg->bind, "]");
        if (rc == HK_OK) rc = hk_buf_append(&pg->b, ",", 1);
        if (rc == HK_OK)
            rc = hk_buf_append(&pg->b, pg->bind.data, pg->bind.len);
    }
    if (rc == HK_OK)
        rc = hk_buf_appendf(&pg->b,
                            ",\"count\":%zu,\"next_cursor\":", pg->res.count);
    if (rc == HK_OK)
        rc = pg->res.next_cursor.len
                 ? hk_buf_append_json_string(&pg->b, pg->res.next_cursor.data,
                                             pg->res.next_cursor.len)
                 : hk_buf_append_str(&pg->b, "null");
    return rc;
}

static bool get_cursor(h2o_req_t *req, const char **cursor)
{
    bool bad = false;
    *cursor = hk_query_param(req, "cursor", &bad);
    if (bad || (*cursor && strlen(*cursor) > HK_MAX_CURSOR_BYTES)) {
        hk_send_field_error(req, 400, "invalid_cursor",
                            "cursor is not one this server issued", "cursor");
        return false;
    }
    return true;
}

static void finish_page(hk_server *srv, h2o_req_t *req, hk_err rc,
                        const hk_error *err, page *pg)
{
    if (rc == HK_OK) rc = hk_buf_append_str(&pg->b, "}\n");
    if (rc == HK_OK) {
        hk_http_send_buf(req, 200, &pg->b);
    } else if (pg->res.timed_out) {
        send_timeout(srv, req);
    } else if (rc == HK_ERR_INVALID) {
        hk_send_input_error(req, 400, "invalid_cursor", err);
    } else {
        hk_send_store_error(req, err);
    }
    hk_buf_free(&pg->b);
    hk_buf_free(&pg->bind);
    hk_svc_query_res_free(&pg->res);
}

/* ==== GET /v2/query?q= ==== */

void hk_route_query(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)param;
    bool bad = false;
    const char *qtext = hk_query_param(req, "q", &bad);
    if (bad || !qtext || !*qtext) {
        hk_send_field_error(req, 400, "invalid_parameter",
                            "give a pattern as ?q=HasPart(?x, CPU) "
                            "(URL-encoded)",
                            "q");
        return;
    }
    size_t limit;
    const char *cursor;
    const char *explain = hk_query_param(req, "explain", &bad);
    if (!bad && (explain || hkq_is_multi(qtext, strlen(qtext)))) {
        /* several patterns, comparisons, not, select...: the join engine
         * (routes_graph_query.c) */
        cursor = hk_query_param(req, "cursor", &bad);
        if (!hk_param_limit(srv, req, &limit)) return;
        hk_route_graph_query_run(srv, req, qtext, limit, bad ? NULL : cursor,
                                 explain && strcmp(explain, "false") != 0);
        return;
    }
    if (!hk_param_limit(srv, req, &limit) || !get_cursor(req, &cursor)) return;
    size_t qlen = strlen(qtext);
    if (qlen > srv->cfg.max_statement) {
        hk_send_field_error(req, 413, "statement_too_long",
                            "the pattern is longer than max-statement", "q");
        return;
    }
    hk_pattern pat;
    hk_error err;
    hk_error_clear(&err);
    if (hk_pattern_parse(qtext, qlen, &pat, &err) != HK_OK) {
        if (!err.field[0]) snprintf(err.field, sizeof(err.field), "q");
        hk_send_input_error(req, 400, "invalid_pattern", &err);
        return;
    }
    hk_loop *loop = hk_loop_self();
    hk_txn *txn = hk_loop_read_txn(loop, &err);
    if (!txn) {
        hk_pattern_release(&pat);
        hk_send_store_error(req, &err);
        return;
    }
    page pg;
    memset(&pg, 0, sizeof(pg));
    hk_svc_query_req qr;
    memset(&qr, 0, sizeof(qr));
    qr.pattern = &pat;
    qr.cursor = cursor;
    qr.limit = limit;
    const char *vars[HK_MAX_ARGS + 1];
    pg.with_vars = hk_svc_pattern_vars(&pat, vars) > 0;
    hk_err rc = hk_buf_append_str(&pg.b, "{\"query\":");
    if (rc == HK_OK) rc = hk_buf_append_json_string(&pg.b, qtext, qlen);
    if (rc == HK_OK) rc = hk_buf_append(&pg.b, ",", 1);
    if (rc == HK_OK) rc = run_page(srv, txn, &qr, &pg, &err);
    hk_loop_read_done(loop);
    hk_pattern_release(&pat);
    finish_page(srv, req, rc, &err, &pg);
}

/* ==== GET /v2/facts?predicate=&entity=&position=&limit=&cursor= ==== */

void hk_route_facts_list(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)param;
    bool bad = false;
    hk_scan scan = HK_SCAN_INIT;
    scan.predicate = hk_query_param(req, "predicate", &bad);
    scan.entity = hk_query_param(req, "entity", &bad);
    const char *pos = hk_query_param(req, "position", &bad);
    const char *arity = hk_query_param(req, "arity", &bad);
    const char *order = hk_query_param(req, "order", &bad);
    if (bad) {
        hk_http_send_error(req, 400, "invalid_parameter",
                           "a query parameter has an invalid %-escape", NULL);
        return;
    }
    if (pos) {
        /* 0-based argument index, 0..31 */
        size_t pl = strlen(pos);
        bool ok = pl >= 1 && pl <= 2 && pos[0] >= '0' && pos[0] <= '9' &&
                  (pl == 1 || (pos[1] >= '0' && pos[1] <= '9'));
        int pv = ok ? atoi(pos) : -1;
        if (!ok || pv >= HK_MAX_ARGS) {
            hk_send_field_error(req, 400, "invalid_parameter",
                                "position is a 0-based argument index 0..31",
                                "position");
            return;
        }
        if (!scan.entity) {
            hk_send_field_error(req, 400, "invalid_parameter",
                                "position needs entity", "position");
            return;
        }
        scan.position = pv;
    }
    if (arity) {
        uint64_t a;
        if (!hk_svc_parse_positive(arity, &a) || a > HK_MAX_ARGS) {
            hk_send_field_error(req, 400, "invalid_parameter", "arity is 1..32",
                                "arity");
            return;
        }
        scan.arity = (uint32_t)a;
    }
    if (order) {
        if (!strcmp(order, "newest"))
            scan.newest_first = true;
        else if (strcmp(order, "oldest") != 0) {
            hk_send_field_error(req, 400, "invalid_parameter",
                                "order is newest or oldest", "order");
            return;
        }
    }
    size_t limit;
    const char *cursor;
    if (!hk_param_limit(srv, req, &limit) || !get_cursor(req, &cursor)) return;
    hk_loop *loop = hk_loop_self();
    hk_error err;
    hk_txn *txn = hk_route_read_txn(req, loop, &err);
    if (!txn) return;
    page pg;
    memset(&pg, 0, sizeof(pg));
    hk_svc_query_req qr;
    memset(&qr, 0, sizeof(qr));
    qr.scan = scan;
    qr.cursor = cursor;
    qr.limit = limit;
    hk_err rc = hk_buf_append_str(&pg.b, "{");
    if (rc == HK_OK) rc = run_page(srv, txn, &qr, &pg, &err);
    hk_loop_read_done(loop);
    finish_page(srv, req, rc, &err, &pg);
}

/* ==== GET /v2/entities/{name} ==== */

void hk_route_entity(hk_server *srv, h2o_req_t *req, const char *name)
{
    size_t limit;
    const char *cursor;
    if (!hk_param_limit(srv, req, &limit) || !get_cursor(req, &cursor)) return;
    hk_loop *loop = hk_loop_self();
    hk_error err;
    hk_txn *txn = hk_route_read_txn(req, loop, &err);
    if (!txn) return;
    uint64_t count = 0;
    hk_err rc = hk_svc_entity_count(txn, name, &count, &err);
    if (rc == HK_ERR_NOT_FOUND) {
        hk_loop_read_done(loop);
        hk_send_field_error(req, 404, "not_found",
                            "no fact mentions this entity", "name");
        return;
    }
    page pg;
    memset(&pg, 0, sizeof(pg));
    if (rc == HK_OK) {
        hk_svc_query_req qr;
        memset(&qr, 0, sizeof(qr));
        qr.scan = (hk_scan)HK_SCAN_INIT;
        qr.scan.entity = name;
        qr.cursor = cursor;
        qr.limit = limit;
        rc = hk_buf_append_str(&pg.b, "{\"entity\":");
        if (rc == HK_OK)
            rc = hk_buf_append_json_string(&pg.b, name, strlen(name));
        if (rc == HK_OK)
            rc = hk_buf_appendf(&pg.b, ",\"fact_count\":%llu,",
                                (unsigned long long)count);
        if (rc == HK_OK) rc = run_page(srv, txn, &qr, &pg, &err);
    }
    hk_loop_read_done(loop);
    finish_page(srv, req, rc, &err, &pg);
}

/* ==== GET /v2/predicates ==== */

void hk_route_predicates(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)param;
    size_t limit;
    if (!hk_param_limit(srv, req, &limit)) return;
    bool bad = false;
    const char *after = hk_query_param(req, "after", &bad);
    if (bad) {
        hk_send_field_error(req, 400, "invalid_parameter",
                            "after has an invalid %-escape", "after");
        return;
    }
    hk_loop *loop = hk_loop_self();
    hk_error err;
    hk_txn *txn = hk_route_read_txn(req, loop, &err);
    if (!txn) return;
    hk_svc_names_req nr = {HK_SVC_PREDICATES, after, limit, 0};
    hk_svc_names_res res;
    hk_err rc = hk_svc_names(txn, &nr, &res, &err);
    hk_loop_read_done(loop);
    if (rc != HK_OK) {
        hk_send_store_error(req, &err);
        return;
    }
    hk_buf b = HK_BUF_INIT;
    hk_err w = hk_buf_append_str(&b, "{\"predicates\":[");
    for (size_t i = 0; w == HK_OK && i < res.n; i++) {
        if (i) w = hk_buf_append(&b, ",", 1);
        if (w == HK_OK) w = hk_svc_name_count_write_json(&res.v[i], true, &b);
    }
    if (w == HK_OK)
        w = hk_buf_appendf(&b, "],\"count\":%zu,\"next_after\":", res.n);
    if (w == HK_OK)
        w = res.next_after ? hk_buf_append_json_string(&b, res.next_after,
                                                       strlen(res.next_after))
                           : hk_buf_append_str(&b, "null");
    if (w == HK_OK) w = hk_buf_append_str(&b, "}\n");
    hk_svc_names_res_free(&res);
    hk_send_built(req, w, 200, &b);
}

/* ==== GET /v2/stats ==== */

void hk_route_stats(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)param;
    hk_loop *loop = hk_loop_self();
    hk_error err;
    hk_txn *txn = hk_route_read_txn(req, loop, &err);
    if (!txn) return;
    hk_stats st;
    hk_err rc = hk_svc_stats(txn, &st, &err);
    hk_loop_read_done(loop);
    if (rc != HK_OK) {
        hk_send_store_error(req, &err);
        return;
    }
    hk_buf b = HK_BUF_INIT;
    hk_err w = hk_buf_append(&b, "{", 1);
    if (w == HK_OK) w = hk_svc_stats_write_members(&st, &b);
    if (w == HK_OK)
        w = hk_buf_appendf(&b, ",\"version\":\"%s\",\"uptime_seconds\":%.3f}\n",
                           hk_version(),
                           (double)(hk_now_us() - srv->started_us) / 1e6);
    hk_send_built(req, w, 200, &b);
}

/* ==== GET /v2/search?q= ==== */

/* The answer of a search being built. */
typedef struct search_page {
    hk_buf b;     /* answer */
    size_t shown; /* hits written */
} search_page;

/* Appends one hit: {"score","fact"}. */
static hk_err search_hit(void *ud, const hk_fact *f, double score,
                         hk_error *err)
{
    (void)err;
    search_page *sp = ud;
    hk_err rc = hk_buf_appendf(
        &sp->b, "%s{\"score\":%.6g,\"fact\":", sp->shown ? "," : "", score);
    if (rc == HK_OK) rc = hk_fact_write_json(f, &sp->b);
    if (rc == HK_OK) rc = hk_buf_append(&sp->b, "}", 1);
    if (rc == HK_OK) sp->shown++;
    return rc;
}

void hk_route_search(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)param;
    bool bad = false;
    const char *qtext = hk_query_param(req, "q", &bad);
    if (bad || !qtext || !*qtext) {
        hk_send_field_error(req, 400, "invalid_parameter",
                            "give search words as ?q=", "q");
        return;
    }
    if (strlen(qtext) > srv->cfg.max_statement) {
        hk_send_field_error(req, 413, "statement_too_long",
                            "the search text is longer than max-statement",
                            "q");
        return;
    }
    if (!hk_utf8_valid(qtext, strlen(qtext), NULL)) {
        hk_send_field_error(req, 400, "invalid_parameter",
                            "q is not valid UTF-8", "q");
        return;
    }
    size_t limit;
    if (!hk_param_limit(srv, req, &limit)) return;
    if (hk_query_param(req, "mode", &bad) || bad) {
        hk_route_search_mode(srv, req, qtext, limit); /* routes_vectors.c */
        return;
    }
    hk_loop *loop = hk_loop_self();
    hk_error err;
    hk_txn *txn = hk_route_read_txn(req, loop, &err);
    if (!txn) return;
    search_page sp = {HK_BUF_INIT, 0};
    hk_svc_search_req sr = {qtext, limit, search_hit, &sp};
    size_t shown = 0;
    hk_err rc = hk_buf_append_str(&sp.b, "{\"query\":");
    if (rc == HK_OK)
        rc = hk_buf_append_json_string(&sp.b, qtext, strlen(qtext));
    if (rc == HK_OK) rc = hk_buf_append_str(&sp.b, ",\"results\":[");
    if (rc == HK_OK) rc = hk_svc_search(txn, &sr, &shown, &err);
    if (rc == HK_OK) rc = hk_buf_appendf(&sp.b, "],\"count\":%zu}\n", shown);
    hk_loop_read_done(loop);
    if (rc == HK_OK)
        hk_http_send_buf(req, 200, &sp.b);
    else
        hk_send_store_error(req, &err);
    hk_buf_free(&sp.b);
}

/* ==== GET /v2/audit?limit=&before= ==== */

void hk_route_audit(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)param;
    size_t limit;
    if (!hk_param_limit(srv, req, &limit)) return;
    bool bad = false;
    const char *before = hk_query_param(req, "before", &bad);
    uint64_t before_seq = 0;
    if (bad || (before && !hk_svc_parse_positive(before, &before_seq))) {
        hk_send_field_error(req, 400, "invalid_parameter",
                            "before is an audit sequence number >= 1",
                            "before");
        return;
    }
    hk_loop *loop = hk_loop_self();
    hk_error err;
    hk_txn *txn = hk_route_read_txn(req, loop, &err);
    if (!txn) return;
    hk_svc_audit_list_req ar = {before_seq, limit};
    hk_svc_audit_list_res res;
    hk_err rc = hk_svc_audit_list(txn, &ar, &res, &err);
    hk_loop_read_done(loop);
    if (rc != HK_OK) {
        hk_send_store_error(req, &err);
        return;
    }
    hk_buf b = HK_BUF_INIT;
    hk_err w = hk_buf_append_str(&b, "{\"entries\":");
    if (w == HK_OK) w = hk_svc_audit_entries_write_json(res.v, res.n, &b);
    if (w == HK_OK)
        w = hk_buf_appendf(&b, ",\"count\":%zu,\"next_before\":", res.n);
    if (w == HK_OK)
        w = res.next_before
                ? hk_buf_appendf(&b, "%llu",
                                 (unsigned long long)res.next_before)
                : hk_buf_append_str(&b, "null");
    if (w == HK_OK) w = hk_buf_append_str(&b, "}\n");
    hk_svc_audit_list_res_free(&res);
    hk_send_built(req, w, 200, &b);
}
