/*
 * routes_web.c — the two routes the web explorer added to the API:
 *   GET /v2/session  who the request's bearer token makes the caller, so
 *                    that a client offers only what its role allows (a
 *                    transport concern, like /healthz: no service
 *                    function);
 *   GET /v2/check    a statement checked as an add would check it
 *                    (hk_svc_statement_check), answered 200 whether it is
 *                    valid or not, for validation while typing.
 *
 * Loop threads only; read the read-only token table and settings.
 */
#include <string.h>

#include "core/buf.h"
#include "server/routes.h"
#include "server/server_int.h"
#include "service/svc_check.h"

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
    hk_send_built(req, rc, 200, &b);
}

void hk_route_check(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)param;
    bool bad = false;
    const char *text = hk_query_param(req, "statement", &bad);
    if (bad || !text) {
        hk_send_field_error(req, 400, "invalid_parameter",
                            "give a statement as ?statement=HasPart(Computer, "
                            "CPU) (URL-encoded)",
                            "statement");
        return;
    }
    hk_svc_fact_in_opts o = hk_fact_in_opts(srv, true, true);
    hk_svc_check c;
    hk_error err;
    hk_error_clear(&err);
    hk_buf b = HK_BUF_INIT;
    hk_err rc = hk_svc_statement_check(text, strlen(text), &o, &c, &err);
    if (rc == HK_OK) rc = hk_svc_check_write_json(&c, &b);
    if (rc == HK_OK) rc = hk_buf_append(&b, "\n", 1);
    hk_send_built(req, rc, 200, &b);
    hk_svc_check_free(&c);
}
