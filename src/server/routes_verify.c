/*
 * routes_verify.c — GET/POST /v2/admin/verify[?deep=1]: the audit chain,
 * and with deep=1 every record, symbol and index entry (hk_svc_verify;
 * the same JSON as `hakgal verify --json`). 200 with "ok" either way: a
 * damaged KB is the answer, not an error of the request.
 *
 * Threads: runs on the loop thread inside its read snapshot; a deep check
 * reads the whole KB (seconds on millions of facts), so it is an admin
 * route.
 */
#include <string.h>

#include "core/buf.h"
#include "server/routes.h"

void hk_route_verify(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)srv;
    (void)param;
    bool bad = false;
    const char *deep_s = hk_query_param(req, "deep", &bad);
    bool deep =
        deep_s && (strcmp(deep_s, "1") == 0 || strcmp(deep_s, "true") == 0);
    if (bad || (deep_s && !deep && strcmp(deep_s, "0") != 0 &&
                strcmp(deep_s, "false") != 0)) {
        hk_send_field_error(req, 400, "invalid_parameter",
                            "deep is 1, true, 0 or false", "deep");
        return;
    }
    hk_loop *loop = hk_loop_self();
    hk_error err;
    hk_txn *txn = hk_route_read_txn(req, loop, &err);
    if (!txn) return;
    static _Thread_local hk_svc_verify_res res; /* 4 KiB of problems */
    hk_err rc = hk_svc_verify(txn, deep, &res, &err);
    hk_loop_read_done(loop);
    if (rc != HK_OK) {
        hk_send_store_error(req, &err);
        return;
    }
    hk_buf b = HK_BUF_INIT;
    hk_err w = hk_svc_verify_json(&res, &b);
    if (w == HK_OK) w = hk_buf_append_str(&b, "\n");
    if (w == HK_OK)
        hk_http_send_buf(req, 200, &b);
    else
        hk_http_send_error(req, 503, "out_of_memory", "cannot build answer",
                           NULL);
    hk_buf_free(&b);
}
