/*
 * svc_verify.c — verification of a KB for every adapter: the audit chain
 * always, and with deep every record, symbol and index entry against the
 * data digest and against each other (src/store/verify.c). One JSON shape
 * for the CLI (`hakgal verify --json`), REST (`/v2/admin/verify`) and MCP
 * (`health_check` with deep):
 *
 *   {"ok": bool, "deep": bool,
 *    "audit": {"ok", "checked", "first_bad", "reason"},
 *    "data": {"ok", "digest": "present"|"missing", "digest_ok", "facts",
 *             "symbols", "index_entries", "problems_total",
 *             "problems": ["fact 12: ...", ...]}}      (deep only)
 *
 * Threads: runs on the caller's read transaction; rehash is an apply step.
 */
#include <string.h>

#include "core/buf.h"
#include "service/service.h"

hk_err hk_svc_verify(hk_txn *t, bool deep, hk_svc_verify_res *res,
                     hk_error *err)
{
    memset(res, 0, sizeof *res);
    res->deep = deep;
    hk_err rc = hk_audit_verify(t, &res->audit, err);
    if (rc != HK_OK) return rc;
    res->ok = res->audit.ok;
    if (!deep) return HK_OK;
    if ((rc = hk_store_verify_deep(t, &res->data, err)) != HK_OK) return rc;
    res->ok = res->ok && res->data.ok;
    return HK_OK;
}

hk_err hk_svc_verify_json(const hk_svc_verify_res *res, hk_buf *out)
{
    const hk_audit_report *a = &res->audit;
    const hk_verify_report *d = &res->data;
    hk_err rc =
        hk_buf_appendf(out,
                       "{\"ok\":%s,\"deep\":%s,\"audit\":{\"ok\":%s,"
                       "\"checked\":%llu,\"first_bad\":%llu,"
                       "\"reason\":",
                       res->ok ? "true" : "false", res->deep ? "true" : "false",
                       a->ok ? "true" : "false", (unsigned long long)a->checked,
                       (unsigned long long)a->first_bad);
    if (rc == HK_OK)
        rc = a->ok
                 ? hk_buf_append_str(out, "null")
                 : hk_buf_append_json_string(out, a->reason, strlen(a->reason));
    if (rc == HK_OK) rc = hk_buf_append_str(out, "}");
    if (rc != HK_OK || !res->deep)
        return rc != HK_OK ? rc : hk_buf_append_str(out, "}");
    rc = hk_buf_appendf(
        out,
        ",\"data\":{\"ok\":%s,\"digest\":\"%s\",\"digest_ok\":%s,"
        "\"facts\":%llu,\"symbols\":%llu,\"index_entries\":%llu,"
        "\"problems_total\":%llu,\"problems\":[",
        d->ok ? "true" : "false", d->has_digest ? "present" : "missing",
        d->digest_ok ? "true" : "false", (unsigned long long)d->facts,
        (unsigned long long)d->symbols, (unsigned long long)d->index_entries,
        (unsigned long long)d->n_problems);
    for (uint64_t i = 0;
         rc == HK_OK && i < d->n_problems && i < HK_VERIFY_PROBLEMS_MAX; i++) {
        if (i) rc = hk_buf_append_str(out, ",");
        if (rc == HK_OK)
            rc = hk_buf_append_json_string(out, d->problems[i],
                                           strlen(d->problems[i]));
    }
    return rc != HK_OK ? rc : hk_buf_append_str(out, "]}}");
}

hk_err hk_svc_rehash_apply(hk_txn *t, void *arg, hk_error *err)
{
    (void)arg;
    return hk_store_rehash(t, err);
}
