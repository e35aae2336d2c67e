/*
 * gql_resolve.c — the resolvers of Query, Mutation and the object fields
 * that take arguments. Each decodes its coerced arguments, calls one
 * service operation (src/service) on the request's transaction and
 * returns the service's JSON form of the result — the same values the
 * REST routes answer — so that GraphQL adds no domain logic of its own.
 *
 * Connections (Relay): {edges: [{cursor, node}], nodes, pageInfo:
 * {hasNextPage, endCursor}, count}. The service pages with one opaque
 * cursor per page (it resumes after the page's last row), so only the
 * last edge of a page that has more carries a cursor for fact and query
 * connections; predicates and audit entries have a cursor on every edge
 * (the name, the sequence number).
 *
 * Errors: input errors become field errors (extensions.code
 * BAD_USER_INPUT, NOT_FOUND, CONFLICT); store failures INTERNAL, which
 * stops execution (gql_exec.c).
 */
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"
#include "graphql/gql_int.h"
#include "service/svc_vector.h"
#include "service/service.h"
#include "service/svc_graph_query.h"

/* ==== Arguments ==== */

static const char *arg_str(json_t *args, const char *name)
{
    return json_string_value(json_object_get(args, name));
}

/* first: the page size (default when absent); false with an error. */
static bool arg_first(gql_ctx *c, json_t *args, size_t *out)
{
    json_t *v = json_object_get(args, "first");
    size_t max = c->env->max_limit ? c->env->max_limit : 1000;
    if (!v || json_is_null(v)) {
        *out = c->env->default_limit ? c->env->default_limit : 100;
        if (*out > max) *out = max;
        return true;
    }
    json_int_t n = json_integer_value(v);
    if (n < 1 || (size_t)n > max) {
        gql_error(c, "first must be between 1 and %zu", max);
        return false;
    }
    *out = (size_t)n;
    return true;
}

static bool arg_id(gql_ctx *c, json_t *args, hk_fact_id *id)
{
    const char *s = arg_str(args, "id");
    if (!s || !hk_svc_parse_positive(s, id)) {
        gql_error(c, "a fact id is a whole number >= 1");
        return false;
    }
    return true;
}

static json_t *nomem(gql_ctx *c)
{
    hk_error e;
    hk_error_set(&e, HK_ERR_NOMEM, "out of memory");
    return gql_error_hk(c, &e);
}

/* Parses JSON text the service wrote; NULL when out of memory. */
static json_t *buf_json(const hk_buf *b)
{
    return json_loadb(b->data, b->len, JSON_DECODE_ANY, NULL);
}

/* A fact as a raw object (its REST JSON text): scratch is reused
 * between facts; NULL when out of memory. */
static json_t *fact_value(const hk_fact *f, hk_buf *scratch)
{
    hk_buf_reset(scratch);
    if (hk_fact_write_json(f, scratch) != HK_OK) return NULL;
    return gql_raw_object(scratch->data, scratch->len);
}

/* ==== Connections ==== */

typedef struct conn {
    json_t *edges;  /* [{cursor, node[, bindings]}] */
    bool with_vars; /* pattern rows: add bindings */
    bool failed;    /* out of memory while building */
    hk_buf scratch; /* fact text, reused per row */
    json_t *nodes;  /* fact rows: the nodes, or NULL (taken from edges) */
    bool no_edges;  /* fact rows: edges not selected, not built */
    size_t n;       /* fact rows: rows seen */
} conn;

static json_t *conn_finish(conn *cn, const char *end, size_t end_len)
{
    size_t n = cn->no_edges ? cn->n : json_array_size(cn->edges);
    json_t *nodes = cn->nodes;
    if (!nodes) {
        nodes = json_array();
        for (size_t i = 0; nodes && i < n; i++)
            json_array_append(
                nodes, json_object_get(json_array_get(cn->edges, i), "node"));
    }
    cn->nodes = NULL;
    json_t *endc = end_len ? json_stringn(end, end_len) : json_null();
    if (end_len && n > 0 &&
        json_is_null(
            json_object_get(json_array_get(cn->edges, n - 1), "cursor")))
        json_object_set(json_array_get(cn->edges, n - 1), "cursor", endc);
    return json_pack("{s:o,s:o,s:{s:b,s:o},s:I}", "edges", cn->edges, "nodes",
                     nodes, "pageInfo", "hasNextPage", end_len > 0, "endCursor",
                     endc, "count", (json_int_t)n);
}

static hk_err fact_row(void *ud, const hk_svc_row *row, hk_error *err)
{
    conn *cn = ud;
    json_t *f = fact_value(row->fact, &cn->scratch);
    cn->n++;
    if (cn->nodes && (!f || json_array_append(cn->nodes, f) != 0)) {
        json_decref(f);
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    }
    if (cn->no_edges) {
        json_decref(f);
        return HK_OK;
    }
    json_t *e = json_object();
    if (!e || json_object_set_new_nocheck(e, "cursor", json_null()) != 0) {
        json_decref(f);
        json_decref(e);
        e = NULL;
    } else if (json_object_set_new_nocheck(e, "node", f) != 0) {
        json_decref(e); /* f was released by jansson (or was NULL) */
        e = NULL;
    }
    if (e && cn->with_vars) {
        json_t *b = json_object();
        for (size_t i = 0; b && i < row->n_vars; i++)
            json_object_set_new(b, row->vars[i],
                                row->values[i] ? json_string(row->values[i])
                                               : json_null());
        json_object_set_new(e, "bindings", b);
    }
    if (!e || json_array_append_new(cn->edges, e) != 0)
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    return HK_OK;
}

/* Runs a pattern query or scan into a connection. */
static json_t *run_facts(gql_ctx *c, hk_svc_query_req *qr, json_t *args,
                         bool with_vars)
{
    size_t limit;
    if (!arg_first(c, args, &limit)) return NULL;
    const char *after = arg_str(args, "after");
    if (after && strlen(after) > HK_MAX_CURSOR_BYTES)
        return gql_error(c, "after is not a cursor this server issued");
    /* build only the lists the selection asks for */
    conn cn = {json_array(), with_vars, false, HK_BUF_INIT, NULL, false, 0};
    cn.no_edges = !gql_selects(c, "edges");
    bool want_nodes = gql_selects(c, "nodes");
    if (want_nodes) cn.nodes = json_array();
    if (!cn.edges || (want_nodes && !cn.nodes)) {
        json_decref(cn.edges);
        json_decref(cn.nodes);
        return nomem(c);
    }
    qr->cursor = after;
    qr->limit = limit;
    qr->timeout_us = c->env->query_timeout_us;
    qr->row = fact_row;
    qr->row_ud = &cn;
    hk_svc_query_res res;
    hk_error err;
    hk_err rc = hk_svc_query(c->env->txn, qr, &res, &err);
    json_t *out = NULL;
    if (rc == HK_OK)
        out = conn_finish(&cn, res.next_cursor.data, res.next_cursor.len);
    else {
        json_decref(cn.edges);
        json_decref(cn.nodes);
        if (res.timed_out)
            gql_error(c, "the query ran longer than the query timeout; "
                         "narrow it or lower first");
        else
            gql_error_hk(c, &err);
    }
    hk_buf_free(&cn.scratch);
    hk_svc_query_res_free(&res);
    return out;
}

/* ==== Facts ==== */

static json_t *fact_json(gql_ctx *c, hk_fact_id id, bool null_missing)
{
    hk_fact f;
    hk_fact_init(&f);
    hk_error err;
    hk_err rc = hk_svc_fact_get(c->env->txn, id, &f, &err);
    json_t *out = NULL;
    hk_buf b = HK_BUF_INIT;
    if (rc == HK_OK)
        out = fact_value(&f, &b);
    else if (rc == HK_ERR_NOT_FOUND && null_missing)
        out = json_null();
    else
        gql_error_hk(c, &err);
    hk_buf_free(&b);
    hk_fact_release(&f);
    if (rc == HK_OK && !out) return nomem(c);
    return out;
}

json_t *gql_r_fact(gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    hk_fact_id id;
    if (!arg_id(c, args, &id)) return NULL;
    return fact_json(c, id, true);
}

json_t *gql_r_facts(gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    hk_svc_query_req qr;
    memset(&qr, 0, sizeof(qr));
    qr.scan = (hk_scan)HK_SCAN_INIT;
    qr.scan.predicate = arg_str(args, "predicate");
    qr.scan.entity = arg_str(args, "entity");
    return run_facts(c, &qr, args, false);
}

json_t *gql_r_pattern(gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    const char *q = arg_str(args, "q");
    size_t ql = strlen(q);
    if (c->env->max_statement && ql > c->env->max_statement)
        return gql_error(c, "the pattern is longer than max-statement");
    hk_pattern pat;
    hk_error err;
    hk_error_clear(&err);
    if (hk_pattern_parse(q, ql, &pat, &err) != HK_OK) {
        if (!err.field[0]) snprintf(err.field, sizeof(err.field), "q");
        return gql_error_hk(c, &err);
    }
    hk_svc_query_req qr;
    memset(&qr, 0, sizeof(qr));
    qr.pattern = &pat;
    const char *vars[HK_MAX_ARGS + 1];
    bool with_vars = hk_svc_pattern_vars(&pat, vars) > 0;
    json_t *out = run_facts(c, &qr, args, with_vars);
    hk_pattern_release(&pat);
    return out;
}

/* ==== Multi-pattern queries ==== */

static hk_err query_row(void *ud, const hkq_out_row *row, hk_error *err)
{
    conn *cn = ud;
    hk_buf b = HK_BUF_INIT;
    hk_err rc = hk_svc_gq_row_json(row, &b);
    json_t *node = rc == HK_OK ? buf_json(&b) : NULL;
    hk_buf_free(&b);
    json_t *e = node ? json_pack("{s:n,s:o}", "cursor", "node", node) : NULL;
    if (!e || json_array_append_new(cn->edges, e) != 0)
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    return HK_OK;
}

json_t *gql_r_query(gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    size_t limit;
    if (!arg_first(c, args, &limit)) return NULL;
    conn cn = {json_array(), false, false, HK_BUF_INIT, NULL, false, 0};
    if (!cn.edges) return nomem(c);
    hk_svc_gq_req req = {.text = arg_str(args, "q"),
                         .cursor = arg_str(args, "after"),
                         .limit = limit,
                         .row = query_row,
                         .row_ud = &cn};
    hk_svc_gq_res res;
    memset(&res, 0, sizeof(res));
    hk_error err;
    hk_err rc = hk_svc_graph_query(c->env->txn, &req, &res, &err);
    json_t *out = NULL;
    if (rc == HK_OK)
        out = conn_finish(&cn, res.exec.cursor.data, res.exec.cursor.len);
    else {
        json_decref(cn.edges);
        if (!err.field[0]) snprintf(err.field, sizeof(err.field), "q");
        gql_error_hk(c, &err);
    }
    hk_svc_gq_res_free(&res);
    return out;
}

/* ==== Entities and predicates ==== */

json_t *gql_r_entity(gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    const char *name = arg_str(args, "name");
    uint64_t count = 0;
    hk_error err;
    hk_err rc = hk_svc_entity_count(c->env->txn, name, &count, &err);
    if (rc == HK_ERR_NOT_FOUND) return json_null();
    if (rc != HK_OK) return gql_error_hk(c, &err);
    json_t *o =
        json_pack("{s:s,s:I}", "name", name, "fact_count", (json_int_t)count);
    return o ? o : nomem(c);
}

json_t *gql_r_entity_facts(gql_ctx *c, json_t *parent, json_t *args)
{
    hk_svc_query_req qr;
    memset(&qr, 0, sizeof(qr));
    qr.scan = (hk_scan)HK_SCAN_INIT;
    qr.scan.entity = json_string_value(json_object_get(parent, "name"));
    return run_facts(c, &qr, args, false);
}

json_t *gql_r_predicate_facts(gql_ctx *c, json_t *parent, json_t *args)
{
    hk_svc_query_req qr;
    memset(&qr, 0, sizeof(qr));
    qr.scan = (hk_scan)HK_SCAN_INIT;
    qr.scan.predicate = json_string_value(json_object_get(parent, "name"));
    return run_facts(c, &qr, args, false);
}

json_t *gql_r_entity_neighbours(gql_ctx *c, json_t *parent, json_t *args)
{
    json_int_t depth = json_integer_value(json_object_get(args, "depth"));
    json_int_t fanout = json_integer_value(json_object_get(args, "fanout"));
    if (depth < 1 || depth > HK_GRAPH_MAX_DEPTH)
        return gql_error(c, "depth is 1..%d", HK_GRAPH_MAX_DEPTH);
    if (fanout < 0) return gql_error(c, "fanout is >= 0");
    hk_graph_hood_req hr;
    memset(&hr, 0, sizeof(hr));
    hr.entity = json_string_value(json_object_get(parent, "name"));
    hr.depth = (unsigned)depth;
    hr.fanout = (size_t)fanout;
    hk_graph_walk_res res;
    hk_error err;
    hk_err rc = hk_svc_graph_neighbours(c->env->txn, &hr, &res, &err);
    if (rc != HK_OK) return gql_error_hk(c, &err);
    hk_buf b = HK_BUF_INIT;
    json_t *out = NULL;
    if (hk_svc_subgraph_write_json(&res, &b) == HK_OK) out = buf_json(&b);
    hk_buf_free(&b);
    hk_graph_walk_res_free(&res);
    return out ? out : nomem(c);
}

json_t *gql_r_predicate(gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    const char *name = arg_str(args, "name");
    uint64_t count = 0;
    hk_error err;
    hk_err rc =
        hk_svc_name_total(c->env->txn, HK_SVC_PREDICATES, name, &count, &err);
    if (rc != HK_OK) return gql_error_hk(c, &err);
    if (count == 0) return json_null();
    json_t *o = json_pack("{s:s,s:I,s:n,s:n}", "name", name, "count",
                          (json_int_t)count, "min_arity", "max_arity");
    return o ? o : nomem(c);
}

json_t *gql_r_predicates(gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    size_t limit;
    if (!arg_first(c, args, &limit)) return NULL;
    hk_svc_names_req nr = {HK_SVC_PREDICATES, arg_str(args, "after"), limit, 0};
    hk_svc_names_res res;
    hk_error err;
    if (hk_svc_names(c->env->txn, &nr, &res, &err) != HK_OK)
        return gql_error_hk(c, &err);
    conn cn = {json_array(), false, false, HK_BUF_INIT, NULL, false, 0};
    hk_buf b = HK_BUF_INIT;
    for (size_t i = 0; cn.edges && i < res.n && !cn.failed; i++) {
        hk_buf_reset(&b);
        json_t *node =
            hk_svc_name_count_write_json(&res.v[i], true, &b) == HK_OK
                ? buf_json(&b)
                : NULL;
        json_t *e =
            node ? json_pack("{s:s,s:o}", "cursor", res.v[i].name, "node", node)
                 : NULL;
        if (!e || json_array_append_new(cn.edges, e) != 0) cn.failed = true;
    }
    hk_buf_free(&b);
    json_t *out = NULL;
    if (cn.edges && !cn.failed)
        out = conn_finish(&cn, res.next_after,
                          res.next_after ? strlen(res.next_after) : 0);
    else
        json_decref(cn.edges);
    hk_svc_names_res_free(&res);
    return out ? out : nomem(c);
}

/* ==== Search, audit, paths, stats ==== */

static hk_err search_hit(void *ud, const hk_fact *f, double score,
                         hk_error *err)
{
    hk_buf b = HK_BUF_INIT;
    json_t *fj = fact_value(f, &b);
    hk_buf_free(&b);
    json_t *h = fj ? json_pack("{s:f,s:o}", "score", score, "fact", fj) : NULL;
    if (!h || json_array_append_new(ud, h) != 0)
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    return HK_OK;
}

json_t *gql_r_search(gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    size_t limit;
    if (!arg_first(c, args, &limit)) return NULL;
    const char *q = arg_str(args, "q");
    if (!*q) return gql_error(c, "give search words as q");
    if (c->env->max_statement && strlen(q) > c->env->max_statement)
        return gql_error(c, "the search text is longer than max-statement");
    json_t *hits = json_array();
    if (!hits) return nomem(c);
    const char *mode = arg_str(args, "mode");
    hk_svc_hsearch_req hr = {.query = q,
                             .limit = limit,
                             .space = arg_str(args, "space"),
                             .hit = search_hit,
                             .hit_ud = hits};
    if (mode && !hk_svc_smode_parse(mode, &hr.mode)) {
        json_decref(hits);
        return gql_error(c, "mode is text, vector or hybrid");
    }
    size_t shown = 0;
    hk_error err;
    /* text, vector or hybrid, as GET /v2/search?mode= */
    if (hk_svc_hsearch(c->env->vs, c->env->txn, &hr, &shown, &err) != HK_OK) {
        json_decref(hits);
        return gql_error_hk(c, &err);
    }
    return hits;
}

json_t *gql_r_audit(gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    size_t limit;
    if (!arg_first(c, args, &limit)) return NULL;
    uint64_t before = 0;
    const char *after = arg_str(args, "after");
    if (after && !hk_svc_parse_positive(after, &before))
        return gql_error(c, "after is an audit sequence number >= 1");
    hk_svc_audit_list_req ar = {before, limit};
    hk_svc_audit_list_res res;
    hk_error err;
    if (hk_svc_audit_list(c->env->txn, &ar, &res, &err) != HK_OK)
        return gql_error_hk(c, &err);
    conn cn = {json_array(), false, false, HK_BUF_INIT, NULL, false, 0};
    for (size_t i = 0; cn.edges && i < res.n && !cn.failed; i++) {
        json_t *node = hk_svc_audit_entry_jansson(&res.v[i]);
        char cur[32];
        snprintf(cur, sizeof(cur), "%llu", (unsigned long long)res.v[i].seq);
        json_t *e =
            node ? json_pack("{s:s,s:o}", "cursor", cur, "node", node) : NULL;
        if (!e || json_array_append_new(cn.edges, e) != 0) cn.failed = true;
    }
    char end[32] = "";
    if (res.next_before)
        snprintf(end, sizeof(end), "%llu", (unsigned long long)res.next_before);
    json_t *out = NULL;
    if (cn.edges && !cn.failed)
        out = conn_finish(&cn, end, strlen(end));
    else
        json_decref(cn.edges);
    hk_svc_audit_list_res_free(&res);
    return out ? out : nomem(c);
}

json_t *gql_r_paths(gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    json_int_t max_len = json_integer_value(json_object_get(args, "maxLen"));
    json_int_t k = json_integer_value(json_object_get(args, "k"));
    if (max_len < 1 || max_len > HK_GRAPH_PATH_MAX_LEN)
        return gql_error(c, "maxLen is 1..%d", HK_GRAPH_PATH_MAX_LEN);
    if (k < 1 || k > HK_GRAPH_PATH_MAX_K)
        return gql_error(c, "k is 1..%d", HK_GRAPH_PATH_MAX_K);
    hk_graph_path_req pr;
    memset(&pr, 0, sizeof(pr));
    pr.from = arg_str(args, "from");
    pr.to = arg_str(args, "to");
    pr.max_len = (unsigned)max_len;
    pr.k = (size_t)k;
    hk_graph_path_res res;
    hk_error err;
    if (hk_svc_graph_paths(c->env->txn, &pr, &res, &err) != HK_OK)
        return gql_error_hk(c, &err);
    hk_buf b = HK_BUF_INIT;
    json_t *doc = NULL;
    if (hk_svc_paths_write_json(&res, &b) == HK_OK) doc = buf_json(&b);
    hk_buf_free(&b);
    hk_graph_path_res_free(&res);
    json_t *paths = doc ? json_incref(json_object_get(doc, "paths")) : NULL;
    json_decref(doc);
    return paths ? paths : nomem(c);
}

json_t *gql_r_stats(gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    (void)args;
    hk_stats st;
    hk_error err;
    if (hk_svc_stats(c->env->txn, &st, &err) != HK_OK)
        return gql_error_hk(c, &err);
    hk_buf b = HK_BUF_INIT;
    json_t *out = NULL;
    if (hk_buf_append(&b, "{", 1) == HK_OK &&
        hk_svc_stats_write_members(&st, &b) == HK_OK &&
        hk_buf_append(&b, "}", 1) == HK_OK)
        out = buf_json(&b);
    hk_buf_free(&b);
    return out ? out : nomem(c);
}

/* ==== Mutations ==== */

static hk_svc_fact_in_opts in_opts(gql_ctx *c)
{
    hk_svc_fact_in_opts o = {.need_statement = true,
                             .max_statement = c->env->max_statement};
    return o;
}

static bool writable(gql_ctx *c)
{
    if (!c->mutation) {
        gql_error(c, "writes run only in mutation operations");
        return false;
    }
    return true;
}

/* The input's fields as the fact parser reads them (GraphQL input
 * objects are the REST body's fields). */
static json_t *input_to_body(json_t *in)
{
    json_t *o = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(in, k, v)
    {
        json_object_set(o, k, v);
    }
    return o;
}

json_t *gql_r_add(gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    if (!writable(c)) return NULL;
    json_t *body = input_to_body(json_object_get(args, "input"));
    if (!body) return nomem(c);
    hk_svc_fact_in in;
    hk_error err;
    hk_svc_fact_in_opts o = in_opts(c);
    hk_err rc = hk_svc_fact_in_parse(body, &o, &in, &err);
    json_decref(body);
    json_t *out = NULL;
    if (rc == HK_OK) {
        hk_fact_id id = 0;
        bool created = false;
        hk_svc_add op = {&in.st, 1, &in.meta, &id, &created};
        rc = hk_svc_fact_add(c->env->txn, &op, &err);
        if (rc == HK_OK) {
            json_t *f = fact_json(c, id, false);
            out = f ? json_pack("{s:o,s:b}", "fact", f, "created", created)
                    : NULL;
            hk_svc_fact_in_release(&in);
            return out;
        }
    }
    hk_svc_fact_in_release(&in);
    return gql_error_hk(c, &err);
}

json_t *gql_r_update(gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    if (!writable(c)) return NULL;
    hk_fact_id id;
    if (!arg_id(c, args, &id)) return NULL;
    json_t *body = input_to_body(json_object_get(args, "input"));
    if (!body) return nomem(c);
    hk_svc_fact_in in;
    hk_error err;
    hk_svc_fact_in_opts o = in_opts(c);
    hk_err rc = hk_svc_fact_in_parse(body, &o, &in, &err);
    json_decref(body);
    if (rc == HK_OK) {
        hk_svc_update op = {.id = id, .new_st = &in.st, .meta = &in.meta};
        rc = hk_svc_fact_update(c->env->txn, &op, &err);
    }
    hk_svc_fact_in_release(&in);
    if (rc != HK_OK) return gql_error_hk(c, &err);
    return fact_json(c, id, false);
}

json_t *gql_r_delete(gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    if (!writable(c)) return NULL;
    hk_fact_id id;
    if (!arg_id(c, args, &id)) return NULL;
    hk_svc_delete op;
    memset(&op, 0, sizeof(op));
    op.n = 1;
    op.ids = &id;
    hk_error err;
    if (hk_svc_fact_delete(c->env->txn, &op, &err) != HK_OK)
        return gql_error_hk(c, &err);
    char b[32];
    snprintf(b, sizeof(b), "%llu", (unsigned long long)id);
    json_t *o = json_pack("{s:s,s:b}", "id", b, "deleted", 1);
    return o ? o : nomem(c);
}

json_t *gql_r_batch(gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    if (!writable(c)) return NULL;
    json_t *inputs = json_object_get(args, "inputs");
    size_t n = json_array_size(inputs);
    if (n == 0) return gql_error(c, "inputs is empty");
    json_t **items = hk_calloc(n, sizeof(*items));
    if (!items) return nomem(c);
    for (size_t i = 0; i < n; i++)
        items[i] = input_to_body(json_array_get(inputs, i));
    hk_svc_batch b;
    memset(&b, 0, sizeof(b));
    b.items = items;
    b.n = n;
    b.opts = in_opts(c);
    b.label = "graphql addFacts";
    hk_error err;
    hk_err rc = hk_svc_batch_init(&b, n, &err);
    if (rc == HK_OK) rc = hk_svc_fact_batch(c->env->txn, &b, &err);
    json_t *out = NULL;
    if (rc == HK_OK) {
        json_t *list = json_array();
        size_t cursor = 0;
        for (size_t i = 0; list && i < n; i++) {
            const hk_svc_batch_error *be =
                hk_svc_batch_item_error(&b, i, &cursor);
            char id[32];
            snprintf(id, sizeof(id), "%llu", (unsigned long long)b.ids[i]);
            const char *st = b.state[i] == HK_SVC_ITEM_CREATED    ? "created"
                             : b.state[i] == HK_SVC_ITEM_EXISTING ? "existing"
                                                                  : "failed";
            json_array_append_new(
                list, json_pack("{s:I,s:s?,s:s,s:s?}", "index", (json_int_t)i,
                                "id", be ? NULL : id, "status", st, "error",
                                be ? be->err.message : NULL));
        }
        out = json_pack("{s:I,s:I,s:I,s:o}", "created", (json_int_t)b.created,
                        "existing", (json_int_t)b.existing, "failed",
                        (json_int_t)b.n_errs, "items", list);
    }
    hk_svc_batch_free(&b);
    for (size_t i = 0; i < n; i++)
        json_decref(items[i]);
    hk_free(items);
    if (rc != HK_OK) return gql_error_hk(c, &err);
    return out ? out : nomem(c);
}
