/*
 * cmd_graph_query.c — `hakgal query` for multi-pattern queries (joins,
 * comparisons, negation, select/distinct, order by, limit) and --explain.
 *
 * Text output: one line per row, "name=value" per selected variable and
 * the matched fact ids, tab-separated; the hint with the next cursor goes
 * to stderr. --json: one {"bindings":{...},"facts":[...]} per row, then
 * {"cursor": C|null, "count": N}. --explain runs the page without
 * printing rows and prints the plan with estimated and actual rows
 * ({"plan":[...],"count":N} with --json).
 */
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "core/buf.h"
#include "service/svc_graph_query.h"

typedef struct gq_out {
    const cli_ctx *c;
    bool explain;
    hk_buf line;
    int exit_code;
} gq_out;

static hk_err gq_row(void *ud, const hkq_out_row *row, hk_error *err)
{
    gq_out *o = ud;
    if (o->explain) return HK_OK;
    if (o->c->json) {
        hk_svc_gq_row_json(row, &o->line);
    } else {
        for (uint32_t i = 0; i < row->n; i++)
            hk_buf_appendf(&o->line, "%s=%s\t", row->names[i], row->values[i]);
        hk_buf_append_str(&o->line, "facts");
        for (uint32_t i = 0; i < row->n_facts; i++)
            hk_buf_appendf(&o->line, "%s%llu", i ? "," : " ",
                           (unsigned long long)row->facts[i]);
    }
    o->exit_code = cli_emit(o->c, &o->line);
    if (o->exit_code != HK_EXIT_OK)
        return hk_error_set(err, HK_ERR_IO, "cannot write the results");
    return HK_OK;
}

int hk_cli_graph_query(const cli_ctx *c, const char *text, const char *cursor,
                       uint64_t limit, bool explain)
{
    hk_store *s = NULL;
    hk_txn *t = NULL;
    hk_error e;
    hk_error_clear(&e);
    gq_out o;
    memset(&o, 0, sizeof o);
    o.c = c;
    o.explain = explain;
    o.exit_code = HK_EXIT_OK;
    hk_svc_gq_req req;
    memset(&req, 0, sizeof req);
    req.text = text;
    req.cursor = cursor;
    req.limit = limit;
    req.row = gq_row;
    req.row_ud = &o;
    hk_svc_gq_res res;
    memset(&res, 0, sizeof res);
    hk_buf out = HK_BUF_INIT;
    int rc = cli_open(c, true, false, &s);
    if (rc != HK_EXIT_OK) goto done;
    hk_err err = hk_txn_begin(s, false, &t, &e);
    if (err == HK_OK) err = hk_svc_graph_query(t, &req, &res, &e);
    if (o.exit_code != HK_EXIT_OK) {
        rc = o.exit_code;
        goto done;
    }
    if (err != HK_OK) {
        rc = e.column > 0 ? cli_fail_text(c, "query", text, &e)
                          : cli_fail(c, err, &e);
        goto done;
    }
    const hk_buf *next = &res.exec.cursor;
    if (explain && c->json) {
        hk_buf_append_str(&out, "{\"plan\":");
        hk_svc_gq_plan_json(&res, &out);
        hk_buf_appendf(&out, ",\"count\":%llu}",
                       (unsigned long long)res.exec.count);
        rc = cli_emit(c, &out);
    } else if (explain) {
        hkq_explain_text(res.q, &res.exec.run, &out);
        hk_buf_appendf(&out, "(%llu rows on this page)",
                       (unsigned long long)res.exec.count);
        rc = cli_emit(c, &out);
    } else if (c->json) {
        hk_buf_append_str(&out, "{\"cursor\":");
        cli_json_str(&out, next->len > 0 ? next->data : NULL);
        hk_buf_appendf(&out, ",\"count\":%llu}",
                       (unsigned long long)res.exec.count);
        rc = cli_emit(c, &out);
    } else if (next->len > 0) {
        fprintf(stderr, "(%llu shown; more with --cursor %s)\n",
                (unsigned long long)res.exec.count, next->data);
    } else if (res.exec.count == 0) {
        fprintf(stderr, "(no matching rows)\n");
    }
done:
    if (t != NULL) hk_txn_abort(t);
    hk_svc_gq_res_free(&res);
    hk_buf_free(&out);
    hk_buf_free(&o.line);
    if (s != NULL) hk_store_close(s);
    return rc;
}
