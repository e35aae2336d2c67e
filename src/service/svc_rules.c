/*
 * svc_rules.c — rules, materialization and proofs for every interface
 * (see svc_rules.h; the engine is src/reason/rules.h).
 */
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"
#include "service/svc_rules.h"

hk_err hk_svc_rules_dbs(hk_store *s, hkr_dbs *out, hk_error *err)
{
    if (hkr_dbs_of(s, out, NULL) == HK_OK) return HK_OK;
    return hkr_open(s, out, err);
}

/* ==== Changes ==== */

void hk_svc_rule_op_free(hk_svc_rule_op *op)
{
    hk_free(op->out.text);
    op->out.text = NULL;
}

hk_err hk_svc_rule_apply(hk_txn *t, void *arg, hk_error *err)
{
    hk_svc_rule_op *op = arg;
    hk_svc_rule_op_free(op);
    memset(&op->out, 0, sizeof op->out);
    memset(&op->reason, 0, sizeof op->reason);
    hk_err rc;
    switch (op->verb) {
    case HK_SVC_RULE_ADD:
        if (!op->text) {
            hk_error_set(err, HK_ERR_INVALID, "missing rule text");
            if (err) snprintf(err->field, sizeof err->field, "rule");
            return HK_ERR_INVALID;
        }
        rc = hkr_add(t, &op->d, op->name, op->text, &op->out, err);
        break;
    case HK_SVC_RULE_ENABLE:
    case HK_SVC_RULE_DISABLE:
        rc = hkr_set_enabled(t, &op->d, op->name ? op->name : "",
                             op->verb == HK_SVC_RULE_ENABLE, &op->out, err);
        break;
    case HK_SVC_RULE_DELETE:
        rc = hkr_delete(t, &op->d, op->name ? op->name : "", &op->out, err);
        break;
    default:
        return hk_error_set(err, HK_ERR_INVALID, "unknown rule operation");
    }
    if (rc == HK_OK) rc = hkr_maintain(t, &op->d, &op->reason, err);
    return rc;
}

hk_err hk_svc_rule_op_write_json(const hk_svc_rule_op *op, hk_buf *out)
{
    hk_buf_append_str(out, "{\"rule\":");
    hkr_info_write_json(&op->out, out);
    if (op->verb == HK_SVC_RULE_DELETE)
        hk_buf_append_str(out, ",\"deleted\":true");
    return hk_buf_appendf(out,
                          ",\"derived\":%llu,\"eval_ms\":%.3f,"
                          "\"store_ms\":%.3f,\"eval_cpu_ms\":%.3f,"
                          "\"store_cpu_ms\":%.3f}",
                          (unsigned long long)op->reason.derived,
                          (double)op->reason.eval_us / 1000.0,
                          (double)op->reason.store_us / 1000.0,
                          (double)op->reason.eval_cpu_us / 1000.0,
                          (double)op->reason.store_cpu_us / 1000.0);
}

hk_err hk_svc_reason_apply(hk_txn *t, void *arg, hk_error *err)
{
    hk_svc_reason *r = arg;
    return hkr_materialize(t, &r->d, r->progress, r->progress_ud, &r->res, err);
}

hk_err hk_svc_reason_write_json(const hkr_reason_res *r, hk_buf *out)
{
    return hk_buf_appendf(
        out,
        "{\"derived\":%llu,\"rules\":%u,\"strata\":%u,\"rounds\":%llu,"
        "\"eval_ms\":%.3f,\"store_ms\":%.3f,\"eval_cpu_ms\":%.3f,"
        "\"store_cpu_ms\":%.3f}",
        (unsigned long long)r->derived, r->rules, r->strata,
        (unsigned long long)r->rounds, (double)r->eval_us / 1000.0,
        (double)r->store_us / 1000.0, (double)r->eval_cpu_us / 1000.0,
        (double)r->store_cpu_us / 1000.0);
}

/* ==== Reads ==== */

hk_err hk_svc_rules_list_json(hk_txn *t, const hkr_dbs *d, hk_buf *out,
                              hk_error *err)
{
    hkr_info *v = NULL;
    size_t n = 0;
    uint64_t derived = 0;
    hk_err rc = hkr_list(t, d, &v, &n, err);
    if (rc == HK_OK) rc = hkr_derived_count(t, d, &derived, err);
    if (rc != HK_OK) {
        hkr_info_free(v, n);
        return rc;
    }
    hk_buf_append_str(out, "{\"rules\":[");
    for (size_t i = 0; i < n; i++) {
        if (i) hk_buf_append_str(out, ",");
        hkr_info_write_json(&v[i], out);
    }
    hk_buf_appendf(out, "],\"derived\":%llu}", (unsigned long long)derived);
    hkr_info_free(v, n);
    return out->data ? HK_OK : hk_error_set(err, HK_ERR_NOMEM, "out of memory");
}

hk_err hk_svc_rule_show_json(hk_txn *t, const hkr_dbs *d, const char *name,
                             hk_buf *out, hk_error *err)
{
    hkr_info r;
    hk_err rc = hkr_get(t, d, name, &r, err);
    if (rc != HK_OK) return rc;
    hkr_info_write_json(&r, out);
    hk_free(r.text);
    return HK_OK;
}

hk_err hk_svc_why_json(hk_txn *t, const hkr_dbs *d, const char *statement,
                       hk_buf *out, hk_error *err)
{
    hk_statement st;
    hk_err rc = hk_statement_parse(statement, strlen(statement), &st, err);
    if (rc != HK_OK) {
        if (err) snprintf(err->field, sizeof err->field, "statement");
        return rc;
    }
    if (d) {
        rc = hkr_why_json(t, d, &st, out, err);
    } else {
        /* a KB without rules: asserted facts only */
        hk_fact_id id = 0;
        rc = hk_store_find(t, &st, &id, err);
        if (rc == HK_OK) {
            hk_buf canon = HK_BUF_INIT;
            hk_statement_format(&st, &canon);
            hk_buf_append_str(out, "{\"statement\":");
            hk_buf_append_json_string(out, canon.data ? canon.data : "",
                                      canon.len);
            hk_buf_appendf(out, ",\"derived\":false,\"id\":%llu}",
                           (unsigned long long)id);
            hk_buf_free(&canon);
        } else if (rc == HK_ERR_NOT_FOUND) {
            hk_error_set(err, HK_ERR_NOT_FOUND,
                         "not a fact: neither asserted nor derived");
        }
    }
    hk_statement_release(&st);
    return rc;
}

hk_err hk_svc_reason_verify(hk_txn *t, const hkr_dbs *d, hkr_verify_res *res,
                            hk_error *err)
{
    return hkr_verify(t, d, res, err);
}

hk_err hk_svc_reason_verify_write_json(const hkr_verify_res *r, hk_buf *out)
{
    hk_buf_appendf(out, "{\"checked\":%llu,\"bad\":%llu,\"valid\":%s",
                   (unsigned long long)r->checked, (unsigned long long)r->bad,
                   r->bad ? "false" : "true");
    if (r->bad) {
        hk_buf_append_str(out, ",\"first\":");
        hk_buf_append_json_string(out, r->first, strlen(r->first));
    }
    return hk_buf_append_str(out, "}");
}

hk_err hk_svc_rules_qrow_json(const hkr_qrow *row, hk_buf *out)
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
    hk_buf_appendf(out, "],\"derived\":%s,\"derived_facts\":[",
                   row->any_derived ? "true" : "false");
    for (uint32_t i = 0; i < row->n_facts; i++)
        hk_buf_appendf(out, "%s%s", i ? "," : "",
                       row->derived[i] ? "true" : "false");
    return hk_buf_append_str(out, "]}");
}

hk_err hk_svc_rules_strict_apply(hk_txn *t, void *arg, hk_error *err)
{
    hk_svc_rules_strict *a = arg;
    return hkr_strict_set(t, &a->d, a->on, err);
}

hk_err hk_svc_rule_contradictions_json(hk_txn *t, const hkr_dbs *d,
                                       size_t limit, hk_buf *out, hk_error *err)
{
    uint64_t n = 0;
    hk_buf arr = HK_BUF_INIT;
    hk_err rc = hkr_contradictions_json(t, d, limit, &arr, &n, err);
    if (rc == HK_OK) {
        bool strict = false;
        rc = hkr_strict_get(t, d, &strict, err);
        hk_buf_appendf(out,
                       "{\"count\":%llu,\"strict\":%s,"
                       "\"contradictions\":",
                       (unsigned long long)n, strict ? "true" : "false");
        hk_buf_append(out, arr.data, arr.len);
        hk_buf_append_str(out, "}");
    }
    hk_buf_free(&arr);
    return rc;
}

hk_err hk_svc_rules_strict_json(hk_txn *t, const hkr_dbs *d, hk_buf *out,
                                hk_error *err)
{
    bool on = false;
    hk_err rc = hkr_strict_get(t, d, &on, err);
    if (rc == HK_OK)
        rc = hk_buf_appendf(out, "{\"strict\":%s}", on ? "true" : "false");
    return rc;
}
