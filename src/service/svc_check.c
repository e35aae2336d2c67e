/*
 * svc_check.c — a statement checked as an add would check it, nothing
 * stored (svc_check.h). The parse is the fact input's own
 * (hk_svc_fact_in_parse on the text as a JSON string), so the verdict,
 * the message and the column are exactly those an add answers.
 *
 * Pure function of its input; any thread.
 */
#include <string.h>

#include "service/svc_check.h"

hk_err hk_svc_statement_check(const char *text, size_t len,
                              const hk_svc_fact_in_opts *o, hk_svc_check *out,
                              hk_error *err)
{
    memset(out, 0, sizeof(*out));
    hk_error_clear(&out->error);
    hk_svc_fact_in_opts opts = *o;
    opts.allow_string = true;
    opts.need_statement = true;
    json_t *v = json_stringn(text, len);
    if (!v) {
        /* jansson refuses text that is not UTF-8: that is the input's
         * fault, named as the parser would */
        if (len > 0) {
            out->fault = HK_SVC_FAULT_SYNTAX;
            out->code = "invalid_statement";
            hk_error_set(&out->error, HK_ERR_INVALID,
                         "the statement is not valid UTF-8");
            snprintf(out->error.field, sizeof out->error.field, "statement");
            return HK_OK;
        }
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    }
    hk_svc_fact_in in;
    hk_err rc = hk_svc_fact_in_parse(v, &opts, &in, &out->error);
    if (rc == HK_OK) {
        out->valid = true;
        rc = hk_statement_format(&in.st, &out->canonical);
        if (rc == HK_OK)
            rc = hk_statement_parse(out->canonical.data, out->canonical.len,
                                    &out->st, err);
        if (rc != HK_OK) {
            out->valid = false;
            rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        }
    } else if (in.fault == HK_SVC_FAULT_NOMEM || rc == HK_ERR_NOMEM) {
        rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    } else {
        out->fault = in.fault;
        out->code = in.fault == HK_SVC_FAULT_TOO_LONG ? "statement_too_long"
                    : out->error.code == HK_ERR_LIMIT ? "limit_exceeded"
                    : in.fault == HK_SVC_FAULT_SYNTAX && out->error.column
                        ? "invalid_statement"
                        : "invalid_fact";
        if (!out->error.field[0])
            snprintf(out->error.field, sizeof out->error.field, "statement");
        rc = HK_OK;
    }
    hk_svc_fact_in_release(&in);
    json_decref(v);
    return rc;
}

void hk_svc_check_free(hk_svc_check *c)
{
    if (!c) return;
    if (c->st.owned) hk_statement_release(&c->st);
    hk_buf_free(&c->canonical);
    memset(c, 0, sizeof(*c));
}

hk_err hk_svc_check_write_json(const hk_svc_check *c, hk_buf *out)
{
    hk_err rc;
    if (!c->valid) {
        rc = hk_buf_append_str(out, "{\"valid\":false,");
        /* {"error":{...}} without its outer braces */
        hk_buf e = HK_BUF_INIT;
        if (rc == HK_OK) rc = hk_svc_error_write_json(c->code, &c->error, &e);
        if (rc == HK_OK && e.len >= 2)
            rc = hk_buf_append(out, e.data + 1, e.len - 2);
        hk_buf_free(&e);
        if (rc == HK_OK) rc = hk_buf_append_str(out, "}");
        return rc;
    }
    rc = hk_buf_append_str(out, "{\"valid\":true,\"statement\":");
    if (rc == HK_OK)
        rc =
            hk_buf_append_json_string(out, c->canonical.data, c->canonical.len);
    if (rc == HK_OK) rc = hk_buf_append_str(out, ",\"predicate\":");
    if (rc == HK_OK)
        rc = hk_buf_append_json_string(out, c->st.predicate,
                                       strlen(c->st.predicate));
    if (rc == HK_OK) rc = hk_buf_append_str(out, ",\"args\":[");
    for (uint32_t i = 0; rc == HK_OK && i < c->st.n_args; i++) {
        if (i) rc = hk_buf_append_str(out, ",");
        if (rc == HK_OK)
            rc = hk_buf_append_json_string(out, c->st.args[i],
                                           strlen(c->st.args[i]));
    }
    if (rc == HK_OK) rc = hk_buf_append_str(out, "]}");
    return rc;
}
