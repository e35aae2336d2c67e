/*
 * routes_verify.c — GET/POST /v2/admin/verify[?deep=1]: the audit chain,
 * and with deep=1 every record, symbol and index entry (hk_svc_verify;
 * the same JSON as `hakgal verify --json`). 200 with "ok" either way: a
 * damaged KB is the answer, not an error of the request.
 *
 * Threads: the audit-chain check runs on the loop thread inside its read
 * snapshot; a deep check reads the whole KB (seconds on millions of
 * facts), so it runs on a pool thread with its own read transaction
 * (hk_server_defer) and the loop goes on serving.
 */
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"
#include "server/routes.h"

/* Counts a failed verification for hakgal_audit_verify_failures_total
 * (the alert rule's input), then answers. */
static void send_result(hk_server *srv, h2o_req_t *req,
                        const hk_svc_verify_res *res)
{
    if (!res->ok)
        atomic_fetch_add_explicit(&srv->metrics.verify_failed, 1,
                                  memory_order_relaxed);
    hk_buf b = HK_BUF_INIT;
    hk_err w = hk_svc_verify_json(res, &b);
    if (w == HK_OK) w = hk_buf_append_str(&b, "\n");
    hk_send_built(req, w, 200, &b);
}

typedef struct deep_job {
    hk_server *srv;        /* its store */
    hk_err rc;             /* result */
    hk_error err;          /* its error */
    hk_svc_verify_res res; /* the findings */
} deep_job;

static void deep_work(void *arg)
{
    deep_job *j = arg;
    hk_txn *t = NULL;
    hk_error_clear(&j->err);
    j->rc = hk_txn_begin(hk_server_store(j->srv), false, &t, &j->err);
    if (j->rc == HK_OK) j->rc = hk_svc_verify(t, true, &j->res, &j->err);
    if (t) hk_txn_abort(t);
}

static void deep_after(h2o_req_t *req, void *arg)
{
    deep_job *j = arg;
    if (req) {
        if (j->rc != HK_OK)
            hk_send_store_error(req, &j->err);
        else
            send_result(j->srv, req, &j->res);
    }
    hk_free(j);
}

void hk_route_verify(hk_server *srv, h2o_req_t *req, const char *param)
{
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
    if (deep) {
        deep_job *j = hk_calloc(1, sizeof *j);
        if (!j) {
            hk_http_send_error(req, 503, "out_of_memory", "out of memory",
                               NULL);
            return;
        }
        j->srv = srv;
        if (hk_server_defer(req, deep_work, deep_after, j) != HK_OK) {
            hk_free(j);
            hk_http_send_error(req, 503, "shutting_down",
                               "the server is shutting down", NULL);
        }
        return;
    }
    hk_loop *loop = hk_loop_self();
    hk_error err;
    hk_txn *txn = hk_route_read_txn(req, loop, &err);
    if (!txn) return;
    static _Thread_local hk_svc_verify_res res; /* 4 KiB of problems */
    hk_err rc = hk_svc_verify(txn, false, &res, &err);
    hk_loop_read_done(loop);
    if (rc != HK_OK) {
        hk_send_store_error(req, &err);
        return;
    }
    send_result(srv, req, &res);
}
