/*
 * routes_query.c — read-only routes answered on the loop thread from the
 * loop's reusable read transaction (LMDB MVCC: they never wait for the
 * writer): GET /v2/query, GET /v2/facts (scan), GET /v2/entities/{name},
 * GET /v2/predicates, GET /v2/stats, GET /v2/search, GET /v2/audit.
 *
 * Pages: ?limit= (default/max configurable) and ?cursor= (opaque, from the
 * previous page's next_cursor; null when the result is exhausted). A query
 * that runs past query-timeout-ms stops and answers 503 query_timeout.
 */
#include <stdlib.h>
#include <string.h>

#include "server/routes.h"

/* ==== Shared page writer ==== */

typedef struct page {
    hk_buf b;    /* answer being built */
    hk_fact f;   /* row buffer */
    size_t rows; /* rows written */
} page;

static bool timed_out(hk_server *srv, int64_t t0, size_t rows)
{
    return (rows & 255) == 255 &&
           hk_now_us() - t0 > (int64_t)srv->cfg.query_timeout_ms * 1000;
}

static void send_timeout(hk_server *srv, h2o_req_t *req)
{
    char d[64];
    snprintf(d, sizeof(d), "{\"limit_ms\":%u}", srv->cfg.query_timeout_ms);
    hk_http_send_error(req, 503, "query_timeout",
                       "the query ran longer than query-timeout-ms; narrow "
                       "it or lower limit",
                       d);
}

/* Runs q for up to limit rows, appending facts (and, when vars, bindings)
 * then next_cursor. Returns HK_OK, an error (err filled) or HK_ERR_BUSY on
 * timeout. */
static hk_err run_page(hk_server *srv, hk_query *q, size_t limit,
                       const char *const *vars, size_t n_vars, page *pg,
                       hk_error *err)
{
    int64_t t0 = hk_now_us();
    hk_err rc = hk_buf_append_str(&pg->b, "\"facts\":[");
    hk_buf bind = HK_BUF_INIT;
    if (rc == HK_OK && n_vars) rc = hk_buf_append_str(&bind, "\"bindings\":[");
    bool has = false;
    while (rc == HK_OK && pg->rows < limit) {
        rc = hk_query_next(q, &pg->f, &has, err);
        if (rc != HK_OK || !has) break;
        if (pg->rows) rc = hk_buf_append(&pg->b, ",", 1);
        if (rc == HK_OK) rc = hk_fact_write_json(&pg->f, &pg->b);
        if (rc == HK_OK && n_vars) {
            rc = hk_buf_append_str(&bind, pg->rows ? ",{" : "{");
            for (size_t i = 0; rc == HK_OK && i < n_vars; i++) {
                const char *v = hk_query_binding(q, vars[i]);
                rc = hk_buf_append_json_string(&bind, vars[i], strlen(vars[i]));
                if (rc == HK_OK) rc = hk_buf_append(&bind, ":", 1);
                if (rc == HK_OK)
                    rc = v ? hk_buf_append_json_string(&bind, v, strlen(v))
                           : hk_buf_append_str(&bind, "null");
                if (rc == HK_OK && i + 1 < n_vars)
                    rc = hk_buf_append(&bind, ",", 1);
            }
            if (rc == HK_OK) rc = hk_buf_append(&bind, "}", 1);
        }
        pg->rows++;
        if (rc == HK_OK && timed_out(srv, t0, pg->rows)) {
            rc = HK_ERR_BUSY;
            break;
        }
    }
    if (rc == HK_OK) rc = hk_buf_append_str(&pg->b, "]");
    if (rc == HK_OK && n_vars) {
        rc = hk_buf_append_str(&bind, "]");
        if (rc == HK_OK) rc = hk_buf_append(&pg->b, ",", 1);
        if (rc == HK_OK) rc = hk_buf_append(&pg->b, bind.data, bind.len);
    }
    hk_buf_free(&bind);
    if (rc == HK_OK)
        rc =
            hk_buf_appendf(&pg->b, ",\"count\":%zu,\"next_cursor\":", pg->rows);
    if (rc == HK_OK) {
        hk_buf cur = HK_BUF_INIT;
        /* Only a full page can have more rows. */
        if (pg->rows == limit) rc = hk_query_cursor(q, &cur);
        if (rc == HK_OK)
            rc = cur.len ? hk_buf_append_json_string(&pg->b, cur.data, cur.len)
                         : hk_buf_append_str(&pg->b, "null");
        hk_buf_free(&cur);
    }
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
    } else if (rc == HK_ERR_BUSY) {
        send_timeout(srv, req);
    } else if (rc == HK_ERR_INVALID) {
        hk_send_input_error(req, 400, "invalid_cursor", err);
    } else {
        hk_send_store_error(req, err);
    }
    hk_buf_free(&pg->b);
    hk_fact_release(&pg->f);
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
    /* Distinct variable names in slot order. */
    const char *vars[HK_MAX_ARGS + 1];
    size_t n_vars = 0;
    for (uint32_t i = 0; i <= pat.n_args; i++) {
        const hk_term *t = i == 0 ? &pat.predicate : &pat.args[i - 1];
        if (t->kind != HK_TERM_VAR) continue;
        bool seen = false;
        for (size_t k = 0; k < n_vars; k++)
            if (!strcmp(vars[k], t->text)) seen = true;
        if (!seen) vars[n_vars++] = t->text;
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
    hk_fact_init(&pg.f);
    hk_query *q = NULL;
    hk_err rc = hk_query_open_pattern(txn, &pat, cursor, &q, &err);
    if (rc == HK_OK) {
        rc = hk_buf_append_str(&pg.b, "{\"query\":");
        if (rc == HK_OK) rc = hk_buf_append_json_string(&pg.b, qtext, qlen);
        if (rc == HK_OK) rc = hk_buf_append(&pg.b, ",", 1);
        if (rc == HK_OK) rc = run_page(srv, q, limit, vars, n_vars, &pg, &err);
        hk_query_close(q);
    }
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
        if (!hk_parse_id(arity, &a) || a > HK_MAX_ARGS) {
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
    hk_fact_init(&pg.f);
    hk_query *q = NULL;
    hk_err rc = hk_query_open_scan(txn, &scan, cursor, &q, &err);
    if (rc == HK_OK) {
        rc = hk_buf_append_str(&pg.b, "{");
        if (rc == HK_OK) rc = run_page(srv, q, limit, NULL, 0, &pg, &err);
        hk_query_close(q);
    }
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
    hk_err rc = hk_store_count_entity(txn, name, &count, &err);
    if (rc == HK_OK && count == 0) {
        hk_loop_read_done(loop);
        hk_send_field_error(req, 404, "not_found",
                            "no fact mentions this entity", "name");
        return;
    }
    page pg;
    memset(&pg, 0, sizeof(pg));
    hk_fact_init(&pg.f);
    if (rc == HK_OK) {
        hk_scan scan = HK_SCAN_INIT;
        scan.entity = name;
        hk_query *q = NULL;
        rc = hk_query_open_scan(txn, &scan, cursor, &q, &err);
        if (rc == HK_OK) {
            rc = hk_buf_append_str(&pg.b, "{\"entity\":");
            if (rc == HK_OK)
                rc = hk_buf_append_json_string(&pg.b, name, strlen(name));
            if (rc == HK_OK)
                rc = hk_buf_appendf(&pg.b, ",\"fact_count\":%llu,",
                                    (unsigned long long)count);
            if (rc == HK_OK) rc = run_page(srv, q, limit, NULL, 0, &pg, &err);
            hk_query_close(q);
        }
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
    hk_name_count *v = NULL;
    size_t n = 0;
    hk_err rc = hk_store_list_predicates(txn, after, limit, &v, &n, &err);
    hk_loop_read_done(loop);
    if (rc != HK_OK) {
        hk_send_store_error(req, &err);
        return;
    }
    hk_buf b = HK_BUF_INIT;
    hk_err w = hk_buf_append_str(&b, "{\"predicates\":[");
    for (size_t i = 0; w == HK_OK && i < n; i++) {
        w = hk_buf_append_str(&b, i ? ",{\"name\":" : "{\"name\":");
        if (w == HK_OK)
            w = hk_buf_append_json_string(&b, v[i].name, strlen(v[i].name));
        if (w == HK_OK)
            w = hk_buf_appendf(&b,
                               ",\"count\":%llu,\"min_arity\":%u,"
                               "\"max_arity\":%u}",
                               (unsigned long long)v[i].count, v[i].min_arity,
                               v[i].max_arity);
    }
    if (w == HK_OK)
        w = hk_buf_appendf(&b, "],\"count\":%zu,\"next_after\":", n);
    if (w == HK_OK)
        w = n == limit && n > 0 ? hk_buf_append_json_string(
                                      &b, v[n - 1].name, strlen(v[n - 1].name))
                                : hk_buf_append_str(&b, "null");
    if (w == HK_OK) w = hk_buf_append_str(&b, "}\n");
    hk_name_counts_free(v, n);
    if (w == HK_OK)
        hk_http_send_buf(req, 200, &b);
    else
        hk_http_send_error(req, 503, "out_of_memory", "cannot build answer",
                           NULL);
    hk_buf_free(&b);
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
    memset(&st, 0, sizeof(st));
    hk_err rc = hk_store_stats(txn, &st, &err);
    hk_loop_read_done(loop);
    if (rc != HK_OK) {
        hk_send_store_error(req, &err);
        return;
    }
    char when[32] = "";
    if (st.last_change_us) hk_time_format(st.last_change_us, when);
    hk_buf b = HK_BUF_INIT;
    hk_err w = hk_buf_appendf(
        &b,
        "{\"facts\":%llu,\"predicates\":%llu,\"entities\":%llu,"
        "\"symbols\":%llu,\"audit_entries\":%llu,\"last_fact_id\":%llu,"
        "\"bytes_on_disk\":%llu,\"bytes_used\":%llu,\"bytes_free\":%llu,"
        "\"map_size\":%llu,"
        "\"last_change\":%s%s%s,\"schema_version\":%u,\"version\":\"%s\","
        "\"uptime_seconds\":%.3f}\n",
        (unsigned long long)st.facts, (unsigned long long)st.predicates,
        (unsigned long long)st.entities, (unsigned long long)st.symbols,
        (unsigned long long)st.audit_entries,
        (unsigned long long)st.last_fact_id,
        (unsigned long long)st.bytes_on_disk, (unsigned long long)st.bytes_used,
        (unsigned long long)st.bytes_free, (unsigned long long)st.map_size,
        when[0] ? "\"" : "", when[0] ? when : "null", when[0] ? "\"" : "",
        st.schema_version, HK_VERSION,
        (double)(hk_now_us() - srv->started_us) / 1e6);
    if (w == HK_OK)
        hk_http_send_buf(req, 200, &b);
    else
        hk_http_send_error(req, 503, "out_of_memory", "cannot build answer",
                           NULL);
    hk_buf_free(&b);
}

/* ==== GET /v2/search?q= ==== */

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
    hk_loop *loop = hk_loop_self();
    hk_error err;
    hk_txn *txn = hk_route_read_txn(req, loop, &err);
    if (!txn) return;
    hk_search_hit *hits = NULL;
    size_t n = 0;
    hk_err rc = hk_store_search(txn, qtext, limit, &hits, &n, &err);
    hk_buf b = HK_BUF_INIT;
    hk_fact f;
    hk_fact_init(&f);
    if (rc == HK_OK) {
        rc = hk_buf_append_str(&b, "{\"query\":");
        if (rc == HK_OK)
            rc = hk_buf_append_json_string(&b, qtext, strlen(qtext));
        if (rc == HK_OK) rc = hk_buf_append_str(&b, ",\"results\":[");
        size_t shown = 0;
        for (size_t i = 0; rc == HK_OK && i < n; i++) {
            hk_error gerr;
            if (hk_store_get(txn, hits[i].id, &f, &gerr) != HK_OK) continue;
            rc = hk_buf_appendf(&b,
                                "%s{\"score\":%.6g,\"fact\":", shown ? "," : "",
                                hits[i].score);
            if (rc == HK_OK) rc = hk_fact_write_json(&f, &b);
            if (rc == HK_OK) rc = hk_buf_append(&b, "}", 1);
            shown++;
        }
        if (rc == HK_OK) rc = hk_buf_appendf(&b, "],\"count\":%zu}\n", shown);
    }
    hk_loop_read_done(loop);
    hk_fact_release(&f);
    hk_free(hits);
    if (rc == HK_OK)
        hk_http_send_buf(req, 200, &b);
    else
        hk_send_store_error(req, &err);
    hk_buf_free(&b);
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
    if (bad || (before && !hk_parse_id(before, &before_seq))) {
        hk_send_field_error(req, 400, "invalid_parameter",
                            "before is an audit sequence number >= 1",
                            "before");
        return;
    }
    hk_loop *loop = hk_loop_self();
    hk_error err;
    hk_txn *txn = hk_route_read_txn(req, loop, &err);
    if (!txn) return;
    hk_audit_entry *v = NULL;
    size_t n = 0;
    hk_err rc = hk_audit_list(txn, before_seq, limit, &v, &n, &err);
    hk_loop_read_done(loop);
    if (rc != HK_OK) {
        hk_send_store_error(req, &err);
        return;
    }
    hk_buf b = HK_BUF_INIT;
    hk_err w = hk_buf_append_str(&b, "{\"entries\":");
    if (w == HK_OK) w = hk_svc_audit_entries_write_json(v, n, &b);
    if (w == HK_OK)
        w = hk_buf_appendf(&b, ",\"count\":%zu,\"next_before\":", n);
    if (w == HK_OK)
        w = n == limit && n > 0 && v[n - 1].seq > 1
                ? hk_buf_appendf(&b, "%llu", (unsigned long long)v[n - 1].seq)
                : hk_buf_append_str(&b, "null");
    if (w == HK_OK) w = hk_buf_append_str(&b, "}\n");
    hk_audit_entries_free(v, n);
    if (w == HK_OK)
        hk_http_send_buf(req, 200, &b);
    else
        hk_http_send_error(req, 503, "out_of_memory", "cannot build answer",
                           NULL);
    hk_buf_free(&b);
}
