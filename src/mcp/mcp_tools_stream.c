/*
 * mcp_tools_stream.c — MCP tools over the change stream and the digest
 * (service functions of svc_stream.h): stream_status and kb_digest. Their
 * answers are the JSON of GET /v2/stream/status and GET /v2/digest.
 */
#include "core/buf.h"
#include "mcp/mcp_int.h"
#include "mcp/mcp_tools.h"
#include "service/svc_stream.h"

/* The KB the tools run on (stdio replaces it on restore). */
static hk_store *store_of(mcp_call *c)
{
    hk_store **slot = c->srv->env.store_slot;
    return slot && *slot ? *slot : c->srv->env.store;
}

/* The rendered JSON text as a jansson object in *out. */
static hk_err to_json(hk_err rc, hk_buf *b, json_t **out, hk_error *err)
{
    if (!rc) {
        json_error_t je;
        *out = json_loadb(b->data, b->len, 0, &je);
        if (!*out) rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    }
    hk_buf_free(b);
    return rc;
}

hk_err mcp_t_stream_status(mcp_call *c, json_t **out, hk_error *err)
{
    hk_txn *t = NULL;
    hkst_status st;
    hk_buf b = HK_BUF_INIT;
    hk_err rc = mcp_read_begin(c, &t, err);
    if (rc == HK_OK) rc = hk_svc_stream_status(store_of(c), t, &st, err);
    if (t) hk_txn_abort(t);
    if (rc == HK_OK && hkst_status_write_json(&st, &b))
        rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    return to_json(rc, &b, out, err);
}

hk_err mcp_t_kb_digest(mcp_call *c, json_t **out, hk_error *err)
{
    hk_txn *t = NULL;
    hkst_digest d;
    hk_buf b = HK_BUF_INIT;
    hk_err rc = mcp_read_begin(c, &t, err);
    if (rc == HK_OK) rc = hk_svc_digest(store_of(c), t, &d, err);
    if (t) hk_txn_abort(t);
    if (rc == HK_OK && hkst_digest_write_json(&d, &b))
        rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    return to_json(rc, &b, out, err);
}
