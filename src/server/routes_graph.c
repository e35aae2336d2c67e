/*
 * routes_graph.c — graph traversal over REST:
 *   GET /v2/graph/neighbours?entity=&depth=&fanout=&max_edges=&direction=
 *       &allow=&deny=       the subgraph around an entity
 *   GET /v2/graph/path?from=&to=&max_len=&k=&direction=&allow=&deny=
 *                           shortest and k shortest paths
 * allow and deny are comma-separated predicate names. The handlers decode
 * the query parameters into the service request, run it on the loop's
 * read transaction (hk_route_read) and answer the service's JSON.
 * Loop threads only.
 */
#include "core/buf.h"
#include "core/mem.h"
#include "server/routes.h"

#include <string.h>

/* The decoded filter: predicate names split from allow= and deny=. */
typedef struct graph_params {
    char *lists;                           /* copies of both lists (owned) */
    const char *allow[HK_GRAPH_MAX_PREDS]; /* into lists */
    const char *deny[HK_GRAPH_MAX_PREDS];  /* into lists */
    hk_graph_filter filter;                /* the filter for the request */
} graph_params;

/* Splits the comma-separated value of name into v; false (answered) when
 * there are too many names or the value is malformed. */
static bool split_list(h2o_req_t *req, const char *name, char **store,
                       const char **v, size_t *n)
{
    bool bad = false;
    const char *s = hk_query_param(req, name, &bad);
    *n = 0;
    if (bad) {
        hk_send_field_error(req, 400, "invalid_parameter", "invalid %-escape",
                            name);
        return false;
    }
    if (!s) return true;
    char *copy = hk_strdup(s);
    if (!copy) {
        hk_http_send_error(req, 503, "out_of_memory", "cannot decode", NULL);
        return false;
    }
    *store = copy;
    for (char *p = copy; *p;) {
        char *e = strchr(p, ',');
        if (e) *e = '\0';
        if (*p) {
            if (*n == HK_GRAPH_MAX_PREDS) {
                hk_send_field_error(req, 422, "invalid_parameter",
                                    "too many predicates", name);
                return false;
            }
            v[(*n)++] = p;
        }
        if (!e) break;
        p = e + 1;
    }
    return true;
}

static bool get_filter(h2o_req_t *req, graph_params *gp, char **second)
{
    memset(gp, 0, sizeof *gp);
    *second = NULL;
    bool bad = false;
    const char *d = hk_query_param(req, "direction", &bad);
    if (bad || (d && !hk_svc_graph_dir_parse(d, &gp->filter.dir))) {
        hk_send_field_error(req, 400, "invalid_parameter",
                            "direction must be out, in or both", "direction");
        return false;
    }
    if (!split_list(req, "allow", &gp->lists, gp->allow, &gp->filter.n_allow) ||
        !split_list(req, "deny", second, gp->deny, &gp->filter.n_deny))
        return false;
    gp->filter.allow = gp->filter.n_allow ? gp->allow : NULL;
    gp->filter.deny = gp->filter.n_deny ? gp->deny : NULL;
    return true;
}

/* An optional positive number parameter within [1, max]. */
static bool get_num(h2o_req_t *req, const char *name, uint64_t max,
                    uint64_t *out)
{
    bool bad = false;
    const char *s = hk_query_param(req, name, &bad);
    if (!s && !bad) return true;
    uint64_t v = 0;
    if (bad || !hk_svc_parse_positive(s, &v) || v > max) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s must be an integer 1..%llu", name,
                 (unsigned long long)max);
        hk_send_field_error(req, 400, "invalid_parameter", msg, name);
        return false;
    }
    *out = v;
    return true;
}

static bool get_name(h2o_req_t *req, const char *name, const char **out)
{
    bool bad = false;
    *out = hk_query_param(req, name, &bad);
    if (bad || !*out || !**out) {
        hk_send_field_error(req, 400, "invalid_parameter",
                            "a non-empty entity name is required", name);
        return false;
    }
    return true;
}

/* ==== GET /v2/graph/neighbours ==== */

static hk_err hood_read(hk_txn *t, void *arg, hk_buf *out, hk_error *err)
{
    hk_graph_walk_res res;
    hk_err rc = hk_svc_graph_neighbours(t, arg, &res, err);
    if (rc != HK_OK) return rc;
    rc = hk_svc_subgraph_write_json(&res, out);
    hk_graph_walk_res_free(&res);
    return rc;
}

void hk_route_graph_neighbours(hk_server *srv, h2o_req_t *req,
                               const char *param)
{
    (void)srv, (void)param;
    hk_graph_hood_req hr = {0};
    graph_params gp = {0};
    char *deny_lists = NULL;
    uint64_t depth = 1, fanout = 0, max_edges = 0;
    if (get_name(req, "entity", &hr.entity) &&
        get_num(req, "depth", HK_GRAPH_MAX_DEPTH, &depth) &&
        get_num(req, "fanout", 100000000, &fanout) &&
        get_num(req, "max_edges", HK_GRAPH_MAX_EDGES * 50, &max_edges) &&
        get_filter(req, &gp, &deny_lists)) {
        hr.depth = (unsigned)depth;
        hr.fanout = (size_t)fanout;
        hr.max_edges = (size_t)max_edges;
        hr.filter = gp.filter;
        hk_route_read(req, 200, hood_read, &hr);
    }
    hk_free(gp.lists);
    hk_free(deny_lists);
}

/* ==== GET /v2/graph/path ==== */

static hk_err path_read(hk_txn *t, void *arg, hk_buf *out, hk_error *err)
{
    hk_graph_path_res res;
    hk_err rc = hk_svc_graph_paths(t, arg, &res, err);
    if (rc != HK_OK) return rc;
    rc = hk_svc_paths_write_json(&res, out);
    hk_graph_path_res_free(&res);
    return rc;
}

void hk_route_graph_path(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)srv, (void)param;
    hk_graph_path_req pr = {0};
    graph_params gp = {0};
    char *deny_lists = NULL;
    uint64_t max_len = 6, k = 1;
    if (get_name(req, "from", &pr.from) && get_name(req, "to", &pr.to) &&
        get_num(req, "max_len", HK_GRAPH_PATH_MAX_LEN, &max_len) &&
        get_num(req, "k", HK_GRAPH_PATH_MAX_K, &k) &&
        get_filter(req, &gp, &deny_lists)) {
        pr.max_len = (unsigned)max_len;
        pr.k = (size_t)k;
        pr.filter = gp.filter;
        hk_route_read(req, 200, path_read, &pr);
    }
    hk_free(gp.lists);
    hk_free(deny_lists);
}

/* ==== GET /v2/graph/analyze ==== */

static hk_err analyze_read(hk_txn *t, void *arg, hk_buf *out, hk_error *err)
{
    hk_graph_analysis_res res;
    hk_err rc = hk_svc_graph_analyze(t, arg, &res, err);
    if (rc != HK_OK) return rc;
    rc = hk_svc_analysis_write_json(&res, out);
    hk_graph_analysis_res_free(&res);
    return rc;
}

void hk_route_graph_analyze(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)srv, (void)param;
    hk_svc_analyze_req ar = {0};
    uint64_t top = 10;
    bool bad = false;
    const char *kind = hk_query_param(req, "kind", &bad);
    if (bad || !kind || !hk_svc_analysis_parse(kind, &ar.kind)) {
        hk_send_field_error(req, 400, "invalid_parameter",
                            "kind must be pagerank, components, communities, "
                            "degrees or betweenness",
                            "kind");
        return;
    }
    if (!get_num(req, "top", HK_GRAPH_TOP_MAX, &top)) return;
    ar.top = (size_t)top;
    hk_route_read(req, 200, analyze_read, &ar);
}
