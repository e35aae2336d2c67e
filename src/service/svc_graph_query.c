/*
 * svc_graph_query.c — multi-pattern queries as a service operation (see
 * svc_graph_query.h): defaults and bounds of the adapters, JSON of rows
 * and plans.
 */
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "service/svc_graph_query.h"

hk_err hk_svc_graph_query(hk_txn *t, const hk_svc_gq_req *req,
                          hk_svc_gq_res *res, hk_error *err)
{
    hk_svc_gq_res_free(res);
    if (req->text == NULL || req->text[0] == '\0') {
        hk_error_set(err, HK_ERR_INVALID, "missing query text");
        if (err) snprintf(err->field, sizeof err->field, "query");
        return HK_ERR_INVALID;
    }
    if (req->limit > HK_SVC_GQ_MAX_LIMIT) {
        hk_error_set(err, HK_ERR_INVALID, "limit must be 1..%u",
                     HK_SVC_GQ_MAX_LIMIT);
        if (err) snprintf(err->field, sizeof err->field, "limit");
        return HK_ERR_INVALID;
    }
    hk_err rc = hkq_parse(req->text, strlen(req->text), &res->q, err);
    if (rc != HK_OK) {
        if (err && err->field[0] == '\0')
            snprintf(err->field, sizeof err->field, "query");
        return rc;
    }
    hkq_exec_req xr;
    memset(&xr, 0, sizeof xr);
    xr.cursor = req->cursor;
    xr.limit = req->limit ? req->limit : HK_SVC_GQ_LIMIT;
    if (hkq_limit(res->q) && !req->limit && hkq_limit(res->q) < xr.limit)
        xr.limit = hkq_limit(res->q);
    xr.budget.max_us =
        req->timeout_us > 0 ? req->timeout_us : HK_SVC_GQ_TIMEOUT_US;
    xr.budget.max_candidates =
        req->max_facts ? req->max_facts : HK_SVC_GQ_MAX_FACTS;
    xr.row = req->row;
    xr.row_ud = req->row_ud;
    return hkq_exec(t, res->q, &xr, &res->exec, err);
}

void hk_svc_gq_res_free(hk_svc_gq_res *res)
{
    if (!res) return;
    hkq_exec_res_free(&res->exec);
    hkq_free(res->q);
    memset(res, 0, sizeof *res);
}

hk_err hk_svc_gq_row_json(const hkq_out_row *row, hk_buf *out)
{
    hk_buf_append_str(out, "{\"bindings\":{");
    for (uint32_t i = 0; i < row->n; i++) {
        if (i) hk_buf_append_str(out, ",");
        hk_buf_append_json_string(out, row->names[i], strlen(row->names[i]));
        hk_buf_append_str(out, ":");
        hk_buf_append_json_string(out, row->values[i], strlen(row->values[i]));
    }
    hk_buf_append_str(out, "},\"facts\":[");
    for (uint32_t i = 0; i < row->n_facts; i++)
        hk_buf_appendf(out, "%s%llu", i ? "," : "",
                       (unsigned long long)row->facts[i]);
    return hk_buf_append_str(out, "]}");
}

hk_err hk_svc_gq_plan_json(const hk_svc_gq_res *res, hk_buf *out)
{
    const hkq_run_res *r = &res->exec.run;
    hk_buf pat = HK_BUF_INIT;
    hk_buf_append_str(out, "[");
    for (uint32_t i = 0; i < r->n_steps && res->q; i++) {
        const hkq_step_info *s = &r->steps[i];
        hk_buf_reset(&pat);
        hkq_atom_text(res->q, s->atom, &pat);
        hk_buf_appendf(out, "%s{\"step\":%u,\"pattern\":", i ? "," : "", i + 1);
        hk_buf_append_json_string(out, pat.data ? pat.data : "", pat.len);
        hk_buf_appendf(out,
                       ",\"access\":\"%s\",\"key_arg\":%d,\"estimate\":%.0f,"
                       "\"rows\":%llu,\"facts_read\":%llu}",
                       s->access, s->key_pos, s->estimate,
                       (unsigned long long)s->rows,
                       (unsigned long long)s->candidates);
    }
    hk_buf_free(&pat);
    return hk_buf_append_str(out, "]");
}
