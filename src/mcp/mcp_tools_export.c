/*
 * mcp_tools_export.c — export_graph: the facts of the KB, or a selection
 * of them, in an interchange format, returned as text (the service's
 * hk_svc_export_to_buf, as REST's GET /v2/export).
 */
#include "core/buf.h"
#include "mcp/mcp_int.h"
#include "mcp/mcp_tools.h"

#include <string.h>

hk_err mcp_t_export_graph(mcp_call *c, json_t **out, hk_error *err)
{
    hk_svc_export_req req;
    memset(&req, 0, sizeof req);
    const char *format = mcp_arg_str(c, "format", "turtle");
    if (hk_format_parse(format, &req.format, err) != HK_OK) return err->code;
    req.where = mcp_arg_str(c, "where", NULL);
    req.around = mcp_arg_str(c, "around", NULL);
    if (req.around) req.depth = (unsigned)mcp_arg_int(c, "depth", 1);
    req.iri_base = mcp_arg_str(c, "base", NULL);
    size_t max_bytes = (size_t)mcp_arg_int(c, "max_bytes", 1048576);
    hk_buf b = HK_BUF_INIT;
    hk_svc_export_res res;
    hk_err rc =
        hk_svc_export_to_buf(mcp_store(c), &req, max_bytes, &b, &res, err);
    if (rc == HK_OK) {
        *out = json_pack(
            "{s:s, s:I, s:s%}", "format", hk_format_name(req.format), "bytes",
            (json_int_t)res.bytes, "data", b.data ? b.data : "", b.len);
        /* facts: how many the selection held (absent for the whole KB) */
        if (*out && (req.where || req.around) &&
            json_object_set_new(*out, "facts",
                                json_integer((json_int_t)res.facts)) != 0) {
            json_decref(*out);
            *out = NULL;
        }
        if (!*out) rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    }
    hk_buf_free(&b);
    return rc;
}
