/*
 * mcp_tools_basic.c — the seven basic tools (search, status, recent facts,
 * add / delete / update, statistics) and helpers other tool files share.
 *
 * The read tools are adapters of the service (hk_svc_search, hk_svc_query,
 * hk_svc_stats): arguments in, one service call, JSON out. Reads run in
 * their own read transaction (MVCC snapshot); writes are adapters of the
 * service layer's fact operations, whose apply step runs in one write
 * transaction through env.write, which commits durably before the tool
 * answers. Every loop is bounded by a limit argument whose
 * maximum the input schema enforces.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "mcp/mcp_tools.h"

/* ==== Shared helpers ==== */

/* Appends one row's fact to the JSON array ud. */
static hk_err fact_row(void *ud, const hk_svc_row *row, hk_error *err)
{
    json_t *j = hk_svc_fact_jansson(row->fact);
    if (!j || json_array_append_new(ud, j))
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    return HK_OK;
}

hk_err mcp_scan_facts(mcp_call *c, hk_txn *t, const hk_scan *scan, size_t limit,
                      json_t **facts, hk_error *err)
{
    (void)c;
    json_t *arr = json_array();
    if (!arr) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    hk_svc_query_req req;
    memset(&req, 0, sizeof req);
    req.scan = *scan;
    req.limit = limit;
    req.no_cursor = true;
    req.row = fact_row;
    req.row_ud = arr;
    hk_svc_query_res res;
    hk_err rc = limit > 0 ? hk_svc_query(t, &req, &res, err) : HK_OK;
    if (limit > 0) hk_svc_query_res_free(&res);
    if (rc != HK_OK) {
        json_decref(arr);
        return rc;
    }
    *facts = arr;
    return HK_OK;
}

/* ==== search_knowledge ==== */

/* Appends one hit (the fact with its "score") to the JSON array ud. */
static hk_err search_hit(void *ud, const hk_fact *f, double score,
                         hk_error *err)
{
    json_t *j = hk_svc_fact_jansson(f);
    if (!j || json_object_set_new(j, "score", json_real(score)) ||
        json_array_append_new(ud, j)) {
        json_decref(j);
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    }
    return HK_OK;
}

hk_err mcp_t_search_knowledge(mcp_call *c, json_t **out, hk_error *err)
{
    const char *mode = mcp_arg_str(c, "mode", NULL);
    if (mode && strcmp(mode, "text") != 0) /* mcp_tools_vector.c */
        return mcp_t_search_knowledge_mode(c, out, err);
    const char *query = mcp_arg_str(c, "query", "");
    size_t limit = (size_t)mcp_arg_int(c, "limit", 10);
    hk_txn *t = NULL;
    size_t shown = 0;
    json_t *facts = json_array();
    hk_svc_search_req req = {query, limit, search_hit, facts};
    hk_err rc = facts ? mcp_read_begin(c, &t, err) : HK_ERR_NOMEM;
    if (rc == HK_OK) rc = hk_svc_search(t, &req, &shown, err);
    if (t) hk_txn_abort(t);
    if (rc != HK_OK) {
        json_decref(facts);
        return rc;
    }
    *out = json_pack("{s:s, s:I, s:o}", "query", query, "count",
                     (json_int_t)shown, "facts", facts);
    return *out ? HK_OK : HK_ERR_NOMEM;
}

/* ==== get_system_status ==== */

hk_err mcp_t_get_system_status(mcp_call *c, json_t **out, hk_error *err)
{
    hk_txn *t = NULL;
    hk_stats st;
    hk_err rc = mcp_read_begin(c, &t, err);
    if (rc == HK_OK) rc = hk_svc_stats(t, &st, err);
    if (t) hk_txn_abort(t);
    if (rc != HK_OK) return rc;
    json_t *versions = json_array();
    for (size_t i = 0; i < hk_mcp_n_versions; i++)
        json_array_append_new(versions, json_string(hk_mcp_versions[i]));
    const hk_mcp_env *e = &c->srv->env;
    *out = json_pack(
        "{s:s, s:s, s:o, s:s, s:s, s:I, s:f, s:b, s:b, s:I}", "server",
        HK_MCP_SERVER_NAME, "version", hk_version(), "protocol_versions",
        versions, "transport", e->transport, "store_path",
        hk_store_path(mcp_store(c)), "facts", (json_int_t)st.facts,
        "uptime_seconds", (double)(hk_now_us() - c->srv->started_us) / 1e6,
        "writes_enabled", hk_mcp_writes_enabled(c->srv), "fixtures",
        e->fixtures, "tools", (json_int_t)c->srv->n_tools);
    return *out ? HK_OK : HK_ERR_NOMEM;
}

/* ==== list_recent_facts ==== */

hk_err mcp_t_list_recent_facts(mcp_call *c, json_t **out, hk_error *err)
{
    size_t count = (size_t)mcp_arg_int(c, "count", 5);
    hk_txn *t = NULL;
    json_t *facts = NULL;
    hk_scan scan = HK_SCAN_INIT;
    scan.newest_first = true;
    hk_err rc = mcp_read_begin(c, &t, err);
    if (rc == HK_OK) rc = mcp_scan_facts(c, t, &scan, count, &facts, err);
    if (t) hk_txn_abort(t);
    if (rc != HK_OK) return rc;
    *out = json_pack("{s:I, s:o}", "count", (json_int_t)json_array_size(facts),
                     "facts", facts);
    return *out ? HK_OK : HK_ERR_NOMEM;
}

/* ==== add_fact ==== */

hk_err mcp_t_add_fact(mcp_call *c, json_t **out, hk_error *err)
{
    hk_svc_fact_in in; /* statement, source and tags */
    hk_svc_fact_in_init(&in);
    hk_fact_id id = 0;
    bool created = false;
    hk_buf canon = HK_BUF_INIT;
    hk_err rc = mcp_parse_statement(mcp_arg_str(c, "statement", NULL),
                                    "statement", &in.st, err);
    if (rc == HK_OK)
        rc = hk_svc_fact_in_source(&in, json_object_get(c->args, "source"),
                                   false, err);
    if (rc == HK_OK)
        rc = hk_svc_fact_in_tags(&in, json_object_get(c->args, "tags"), false,
                                 err);
    hk_svc_add op = {.st = &in.st,
                     .n = 1,
                     .meta = &in.meta,
                     .ids = &id,
                     .created = &created};
    if (rc == HK_OK)
        rc = c->srv->env.write(c->srv->env.write_ud, hk_svc_fact_add_apply, &op,
                               c->actor, err);
    if (rc == HK_OK) rc = hk_statement_format(&in.st, &canon);
    if (rc == HK_OK) {
        *out = json_pack("{s:I, s:s, s:b}", "id", (json_int_t)id, "statement",
                         canon.data, "created", created);
        if (!*out) rc = HK_ERR_NOMEM;
    }
    hk_buf_free(&canon);
    hk_svc_fact_in_release(&in);
    return rc;
}

/* ==== delete_fact ==== */

hk_err mcp_t_delete_fact(mcp_call *c, json_t **out, hk_error *err)
{
    hk_statement st;
    hk_fact_id id = 0;
    hk_buf canon = HK_BUF_INIT;
    hk_err rc = mcp_parse_statement(mcp_arg_str(c, "statement", NULL),
                                    "statement", &st, err);
    if (rc != HK_OK) return rc;
    hk_svc_delete op = {.n = 1, .st = &st, .ids = &id};
    rc = c->srv->env.write(c->srv->env.write_ud, hk_svc_fact_delete_apply, &op,
                           c->actor, err);
    if (rc == HK_ERR_NOT_FOUND)
        hk_error_set(err, rc,
                     "no such fact; use search_knowledge to find the exact "
                     "statement");
    if (rc == HK_OK) rc = hk_statement_format(&st, &canon);
    if (rc == HK_OK) {
        *out = json_pack("{s:I, s:s, s:b}", "id", (json_int_t)id, "statement",
                         canon.data, "deleted", true);
        if (!*out) rc = HK_ERR_NOMEM;
    }
    hk_buf_free(&canon);
    hk_statement_release(&st);
    return rc;
}

/* ==== update_fact ==== */

hk_err mcp_t_update_fact(mcp_call *c, json_t **out, hk_error *err)
{
    hk_statement old_st, new_st;
    memset(&new_st, 0, sizeof new_st);
    hk_buf a = HK_BUF_INIT, b = HK_BUF_INIT;
    hk_err rc = mcp_parse_statement(mcp_arg_str(c, "old_statement", NULL),
                                    "old_statement", &old_st, err);
    if (rc == HK_OK)
        rc = mcp_parse_statement(mcp_arg_str(c, "new_statement", NULL),
                                 "new_statement", &new_st, err);
    hk_svc_update op = {.old_st = &old_st, .new_st = &new_st};
    if (rc == HK_OK)
        rc = c->srv->env.write(c->srv->env.write_ud, hk_svc_fact_update_apply,
                               &op, c->actor, err);
    if (rc == HK_ERR_NOT_FOUND)
        hk_error_set(err, rc,
                     "old_statement does not exist; use search_knowledge to "
                     "find the exact statement");
    else if (rc == HK_ERR_EXISTS)
        hk_error_set(err, rc,
                     "new_statement already exists as fact %llu; delete "
                     "old_statement instead",
                     (unsigned long long)op.other);
    if (rc == HK_OK) rc = hk_statement_format(&old_st, &a);
    if (rc == HK_OK) rc = hk_statement_format(&new_st, &b);
    if (rc == HK_OK) {
        *out = json_pack("{s:I, s:s, s:s, s:b}", "id", (json_int_t)op.found,
                         "old_statement", a.data, "new_statement", b.data,
                         "changed", op.changed);
        if (!*out) rc = HK_ERR_NOMEM;
    }
    hk_buf_free(&a);
    hk_buf_free(&b);
    hk_statement_release(&old_st);
    hk_statement_release(&new_st);
    return rc;
}

/* ==== kb_stats ==== */

hk_err mcp_t_kb_stats(mcp_call *c, json_t **out, hk_error *err)
{
    hk_txn *t = NULL;
    hk_stats st;
    hk_err rc = mcp_read_begin(c, &t, err);
    if (rc == HK_OK) rc = hk_svc_stats(t, &st, err);
    if (t) hk_txn_abort(t);
    if (rc != HK_OK) return rc;
    *out = hk_svc_stats_jansson(&st);
    return *out ? HK_OK : HK_ERR_NOMEM;
}
