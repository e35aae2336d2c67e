/*
 * mcp_tools_check.c — check_statement: a statement checked as add_fact
 * would check it (hk_svc_statement_check), nothing stored. The answer is
 * the JSON of GET /v2/check: a model can fix a statement at the column
 * named before it writes.
 */
#include <string.h>

#include "mcp/mcp_tools.h"
#include "service/svc_check.h"

hk_err mcp_t_check_statement(mcp_call *c, json_t **out, hk_error *err)
{
    const char *text = mcp_arg_str(c, "statement", "");
    hk_svc_fact_in_opts limits;
    memset(&limits, 0, sizeof(limits)); /* the defaults of add_fact */
    hk_svc_check v;
    hk_buf b = HK_BUF_INIT;
    hk_err rc = hk_svc_statement_check(text, strlen(text), &limits, &v, err);
    if (rc == HK_OK && hk_svc_check_write_json(&v, &b) != HK_OK)
        rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    if (rc == HK_OK) {
        *out = json_loadb(b.data, b.len, 0, NULL);
        if (!*out) rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    }
    hk_buf_free(&b);
    hk_svc_check_free(&v);
    return rc;
}
