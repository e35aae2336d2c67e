/*
 * mcp_tools_query.c — query_graph: multi-pattern (conjunctive) queries
 * for a model, through the same service operation as `hakgal query` and
 * /v2/query (src/service/svc_graph_query.c).
 */
#include <string.h>

#include "mcp/mcp_tools.h"
#include "service/svc_graph_query.h"

typedef struct gq_rows {
    json_t *rows;
} gq_rows;

static hk_err gq_row(void *ud, const hkq_out_row *row, hk_error *err)
{
    gq_rows *g = ud;
    json_t *b = json_object();
    json_t *f = json_array();
    json_t *r = json_pack("{s:o, s:o}", "bindings", b, "facts", f);
    if (!b || !f || !r) {
        json_decref(r);
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    }
    for (uint32_t i = 0; i < row->n; i++)
        json_object_set_new(b, row->names[i], json_string(row->values[i]));
    for (uint32_t i = 0; i < row->n_facts; i++)
        json_array_append_new(f, json_integer((json_int_t)row->facts[i]));
    if (json_array_append_new(g->rows, r) != 0)
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    return HK_OK;
}

hk_err mcp_t_query_graph(mcp_call *c, json_t **out, hk_error *err)
{
    gq_rows g = {json_array()};
    if (!g.rows) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    hk_svc_gq_req req;
    memset(&req, 0, sizeof req);
    req.text = mcp_arg_str(c, "query", "");
    req.cursor = mcp_arg_str(c, "cursor", NULL);
    req.limit = (uint64_t)mcp_arg_int(c, "limit", 100);
    req.row = gq_row;
    req.row_ud = &g;
    bool explain = mcp_arg_bool(c, "explain", false);
    hk_svc_gq_res res;
    memset(&res, 0, sizeof res);
    hk_txn *t = NULL;
    hk_err rc = mcp_read_begin(c, &t, err);
    if (rc == HK_OK) rc = hk_svc_graph_query(t, &req, &res, err);
    if (t) hk_txn_abort(t);
    json_t *plan = NULL;
    if (rc == HK_OK && explain) {
        hk_buf pb = HK_BUF_INIT;
        hk_svc_gq_plan_json(&res, &pb);
        plan =
            json_loadb(pb.data ? pb.data : "[]", pb.len ? pb.len : 2, 0, NULL);
        hk_buf_free(&pb);
    }
    if (rc != HK_OK) {
        json_decref(g.rows);
        hk_svc_gq_res_free(&res);
        return rc;
    }
    *out = json_pack("{s:s, s:I, s:o, s:s?}", "query", req.text, "count",
                     (json_int_t)res.exec.count, "rows", g.rows, "next_cursor",
                     res.exec.cursor.len ? res.exec.cursor.data : NULL);
    if (*out && plan)
        json_object_set_new(*out, "plan", plan);
    else
        json_decref(plan);
    hk_svc_gq_res_free(&res);
    return *out ? HK_OK : HK_ERR_NOMEM;
}
