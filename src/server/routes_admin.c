/*
 * routes_admin.c — operational routes: POST /v2/admin/backup (runs on a pool
 * thread: a hot copy of a large KB takes seconds), POST /v2/admin/compact
 * (online compaction, on a pool thread too), /healthz (the process
 * answers), /readyz (the KB is open and the server is not stopping),
 * /metrics (Prometheus text 0.0.4) and /openapi.json. The backup is the
 * service's hk_svc_backup (which also names the directory when the body
 * gives none).
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "server/routes.h"

/* ==== POST /v2/admin/backup ==== */

typedef struct backup_job {
    hk_server *srv;        /* the server */
    char dest[4096];       /* target directory; "" = beside the KB */
    hk_svc_backup_res res; /* where it went, checksum, duration */
    hk_err rc;             /* result */
    hk_error err;          /* why it failed */
} backup_job;

static void backup_work(void *arg)
{
    backup_job *j = arg;
    hk_error_clear(&j->err);
    hk_svc_backup_req br;
    memset(&br, 0, sizeof(br));
    if (j->dest[0])
        br.dest = j->dest;
    else
        br.beside = j->srv->cfg.data_dir;
    j->rc = hk_svc_backup(j->srv->store, &br, &j->res, &j->err);
}

static void backup_after(h2o_req_t *req, void *arg)
{
    backup_job *j = arg;
    if (req) {
        if (j->rc != HK_OK) {
            hk_http_send_hk_error(req, &j->err);
        } else {
            hk_buf b = HK_BUF_INIT;
            hk_err w = hk_buf_append_str(&b, "{\"path\":");
            if (w == HK_OK)
                w = hk_buf_append_json_string(&b, j->res.path,
                                              strlen(j->res.path));
            if (w == HK_OK)
                w = hk_buf_appendf(&b, ",\"sha256\":\"%s\",\"seconds\":%.3f}\n",
                                   j->res.sha256, j->res.seconds);
            hk_send_built(req, w, 201, &b);
        }
    }
    hk_free(j);
}

void hk_route_backup(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)param;
    backup_job *j = hk_calloc(1, sizeof(*j));
    if (!j) {
        hk_http_send_error(req, 503, "out_of_memory", "out of memory", NULL);
        return;
    }
    j->srv = srv;
    const char *dest = NULL;
    json_t *body = NULL;
    if (req->entity.len > 0) {
        body = hk_body_json(req);
        if (!body) {
            hk_free(j);
            return;
        }
        json_t *d = json_object_get(body, "dest");
        if (!json_is_object(body) || (d && !json_is_string(d))) {
            json_decref(body);
            hk_free(j);
            hk_send_field_error(req, 422, "invalid_input",
                                "body is {\"dest\": \"/path/to/new/dir\"}",
                                "dest");
            return;
        }
        dest = d ? json_string_value(d) : NULL;
    }
    if (dest && (!*dest || strlen(dest) >= sizeof(j->dest))) {
        json_decref(body);
        hk_free(j);
        hk_send_field_error(req, 422, "invalid_input",
                            "dest must be a directory path", "dest");
        return;
    }
    /* Without dest the service names a directory beside the KB. */
    if (dest) snprintf(j->dest, sizeof(j->dest), "%s", dest);
    json_decref(body);
    hk_err rc = hk_server_defer(req, backup_work, backup_after, j);
    if (rc != HK_OK) {
        hk_free(j);
        hk_http_send_error(req, 503, "shutting_down",
                           "the server is shutting down", NULL);
    }
}

/* ==== POST /v2/admin/compact ====
 * The compaction runs on a pool thread; the store makes the writer thread
 * wait meanwhile (its queued writes are committed afterwards). */

typedef struct compact_job {
    hk_server *srv;      /* the server */
    hk_compact_report r; /* sizes and duration */
    hk_err rc;           /* result */
    hk_error err;        /* why it failed */
} compact_job;

static void compact_work(void *arg)
{
    compact_job *j = arg;
    hk_error_clear(&j->err);
    j->rc = hk_svc_compact_online(j->srv->store, &j->r, &j->err);
}

static void compact_after(h2o_req_t *req, void *arg)
{
    compact_job *j = arg;
    if (req) {
        if (j->rc != HK_OK) {
            hk_http_send_hk_error(req, &j->err);
        } else {
            hk_buf b = HK_BUF_INIT;
            hk_err w = hk_buf_append_str(&b, "{");
            if (w == HK_OK) w = hk_svc_compact_report_write_members(&j->r, &b);
            if (w == HK_OK) w = hk_buf_append_str(&b, "}\n");
            hk_send_built(req, w, 200, &b);
        }
    }
    hk_free(j);
}

void hk_route_compact(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)param;
    compact_job *j = hk_calloc(1, sizeof(*j));
    if (!j) {
        hk_http_send_error(req, 503, "out_of_memory", "out of memory", NULL);
        return;
    }
    j->srv = srv;
    if (hk_server_defer(req, compact_work, compact_after, j) != HK_OK) {
        hk_free(j);
        hk_http_send_error(req, 503, "shutting_down",
                           "the server is shutting down", NULL);
    }
}

/* ==== Health ==== */

void hk_route_healthz(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)srv;
    (void)param;
    static const char ok[] = "{\"status\":\"ok\"}\n";
    hk_http_send_json(req, 200, ok, sizeof(ok) - 1);
}

void hk_route_readyz(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)param;
    if (!atomic_load(&srv->ready) || atomic_load(&srv->stopping)) {
        hk_http_send_error(req, 503, "not_ready",
                           "the server is starting or stopping", NULL);
        return;
    }
    if (atomic_load(&srv->damaged)) {
        hk_http_send_error(req, 503, "kb_damaged",
                           "a read found the knowledge base damaged: "
                           "restore it from a backup",
                           NULL);
        return;
    }
    if (!hk_server_stream_ready(srv)) {
        hk_http_send_error(req, 503, "not_ready",
                           "the follower lags behind its stream", NULL);
        return;
    }
    /* Ready means the KB answers a read. */
    hk_loop *loop = hk_loop_self();
    hk_error err;
    hk_error_clear(&err);
    hk_txn *txn = hk_loop_read_txn(loop, &err);
    if (!txn) {
        hk_http_send_error(req, 503, "not_ready", err.message, NULL);
        return;
    }
    hk_loop_read_done(loop);
    static const char ok[] = "{\"status\":\"ready\"}\n";
    hk_http_send_json(req, 200, ok, sizeof(ok) - 1);
}

/* ==== /metrics and /openapi.json ==== */

void hk_route_metrics(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)param;
    hk_loop *loop = hk_loop_self();
    hk_txn *txn = hk_loop_read_txn(loop, NULL);
    hk_buf b = HK_BUF_INIT;
    hk_err rc = hk_metrics_render(srv, txn, &b);
    if (txn) hk_loop_read_done(loop);
    if (rc == HK_OK)
        hk_http_send_typed(req, 200, "text/plain; version=0.0.4; charset=utf-8",
                           b.data ? b.data : "", b.len);
    else
        hk_http_send_error(req, 503, "out_of_memory", "cannot render metrics",
                           NULL);
    hk_buf_free(&b);
}

void hk_route_openapi(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)param;
    size_t len = 0;
    const char *doc = hk_openapi_json(srv, &len);
    hk_http_send_json(req, 200, doc, len);
}
