/*
 * mcp_tools_traverse.c — the graph traversal tools graph_neighbours and
 * graph_path (new tools next to the 30 legacy ones): arguments decoded
 * into the service request, the service's JSON as structuredContent.
 */
#include "core/buf.h"
#include "core/mem.h"
#include "mcp/mcp_tools.h"
#include "service/service.h"

#include <string.h>

/* The strings of the array argument key (at most HK_GRAPH_MAX_PREDS, as
 * the input schema says); non-strings are refused by the schema. */
static size_t str_list(const mcp_call *c, const char *key, const char **v)
{
    const json_t *arr = json_object_get(c->args, key);
    size_t n = 0;
    for (size_t i = 0; json_is_array(arr) && i < json_array_size(arr) &&
                       n < HK_GRAPH_MAX_PREDS;
         i++) {
        const char *s = json_string_value(json_array_get(arr, i));
        if (s) v[n++] = s;
    }
    return n;
}

static void get_filter(const mcp_call *c, hk_graph_filter *f,
                       const char **allow, const char **deny)
{
    memset(f, 0, sizeof *f);
    f->n_allow = str_list(c, "allow", allow);
    f->allow = f->n_allow ? allow : NULL;
    f->n_deny = str_list(c, "deny", deny);
    f->deny = f->n_deny ? deny : NULL;
    hk_svc_graph_dir_parse(mcp_arg_str(c, "direction", "both"), &f->dir);
}

/* Parses the service's JSON text into *out. */
static hk_err to_json(hk_buf *b, json_t **out)
{
    json_error_t je;
    *out = json_loadb((const char *)b->data, b->len, 0, &je);
    return *out ? HK_OK : HK_ERR_NOMEM;
}

hk_err mcp_t_graph_neighbours(mcp_call *c, json_t **out, hk_error *err)
{
    const char *allow[HK_GRAPH_MAX_PREDS], *deny[HK_GRAPH_MAX_PREDS];
    hk_graph_hood_req req = {0};
    req.entity = mcp_arg_str(c, "entity", "");
    req.depth = (unsigned)mcp_arg_int(c, "depth", 1);
    req.fanout = (size_t)mcp_arg_int(c, "fanout", 0);
    req.max_edges = (size_t)mcp_arg_int(c, "max_edges", 0);
    get_filter(c, &req.filter, allow, deny);
    hk_graph_walk_res res;
    memset(&res, 0, sizeof res);
    hk_txn *t = NULL;
    hk_err rc = mcp_read_begin(c, &t, err);
    if (rc == HK_OK) rc = hk_svc_graph_neighbours(t, &req, &res, err);
    if (t) hk_txn_abort(t);
    hk_buf b = HK_BUF_INIT;
    if (rc == HK_OK) rc = hk_svc_subgraph_write_json(&res, &b);
    if (rc == HK_OK) rc = to_json(&b, out);
    hk_buf_free(&b);
    hk_graph_walk_res_free(&res);
    return rc;
}

hk_err mcp_t_graph_path(mcp_call *c, json_t **out, hk_error *err)
{
    const char *allow[HK_GRAPH_MAX_PREDS], *deny[HK_GRAPH_MAX_PREDS];
    hk_graph_path_req req = {0};
    req.from = mcp_arg_str(c, "from", "");
    req.to = mcp_arg_str(c, "to", "");
    req.max_len = (unsigned)mcp_arg_int(c, "max_len", 6);
    req.k = (size_t)mcp_arg_int(c, "k", 1);
    get_filter(c, &req.filter, allow, deny);
    hk_graph_path_res res;
    memset(&res, 0, sizeof res);
    hk_txn *t = NULL;
    hk_err rc = mcp_read_begin(c, &t, err);
    if (rc == HK_OK) rc = hk_svc_graph_paths(t, &req, &res, err);
    if (t) hk_txn_abort(t);
    hk_buf b = HK_BUF_INIT;
    if (rc == HK_OK) rc = hk_svc_paths_write_json(&res, &b);
    if (rc == HK_OK) rc = to_json(&b, out);
    hk_buf_free(&b);
    hk_graph_path_res_free(&res);
    return rc;
}

hk_err mcp_t_graph_analyze(mcp_call *c, json_t **out, hk_error *err)
{
    hk_svc_analyze_req req = {0};
    if (!hk_svc_analysis_parse(mcp_arg_str(c, "kind", ""), &req.kind))
        return hk_error_set(err, HK_ERR_INVALID, "unknown analysis");
    req.top = (size_t)mcp_arg_int(c, "top", 10);
    hk_graph_analysis_res res;
    memset(&res, 0, sizeof res);
    hk_txn *t = NULL;
    hk_err rc = mcp_read_begin(c, &t, err);
    if (rc == HK_OK) rc = hk_svc_graph_analyze(t, &req, &res, err);
    if (t) hk_txn_abort(t);
    hk_buf b = HK_BUF_INIT;
    if (rc == HK_OK) rc = hk_svc_analysis_write_json(&res, &b);
    if (rc == HK_OK) rc = to_json(&b, out);
    hk_buf_free(&b);
    hk_graph_analysis_res_free(&res);
    return rc;
}
