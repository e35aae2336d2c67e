/*
 * routes_web.c — GET /v2/session: who the request's bearer token makes
 * the caller, so that a client (the web explorer) can offer only what its
 * role allows. A transport concern (auth is the server's, like /healthz),
 * so it has no service function.
 *
 * Loop threads only; reads the read-only token table.
 */
#include "core/buf.h"
#include "server/server_int.h"

void hk_route_session(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)param;
    hk_principal who;
    /* The router already answered 401 to an unknown token; this call only
     * fills in the principal. */
    if (!hk_server_authorize(srv, req, HK_ROLE_NONE, &who)) return;
    bool tokens = hk_server_auth_enabled(srv);
    hk_role reads = tokens && srv->cfg.read_auth ? HK_ROLE_READ : HK_ROLE_NONE;
    hk_buf b = HK_BUF_INIT;
    hk_err rc = hk_buf_append_str(&b, "{\"name\":");
    if (rc == HK_OK)
        rc = hk_buf_append_json_string(&b, who.name, strlen(who.name));
    if (rc == HK_OK)
        rc = hk_buf_appendf(
            &b,
            ",\"role\":\"%s\",\"authenticated\":%s,\"tokens\":%s,"
            "\"read_auth\":%s,\"can_read\":%s,\"can_write\":%s,"
            "\"can_review\":%s,\"can_admin\":%s}\n",
            hk_role_name(who.role), who.authenticated ? "true" : "false",
            tokens ? "true" : "false", reads ? "true" : "false",
            who.role >= reads ? "true" : "false",
            who.role >= HK_ROLE_WRITE ? "true" : "false",
            who.role >= HK_ROLE_REVIEW ? "true" : "false",
            who.role >= HK_ROLE_ADMIN ? "true" : "false");
    if (rc == HK_OK)
        hk_http_send_buf(req, 200, &b);
    else
        hk_http_send_error(req, 503, "out_of_memory", "cannot build answer",
                           NULL);
    hk_buf_free(&b);
}
