/*
 * server_trace.c — one OpenTelemetry span per HTTP request (otel.h).
 *
 * The router calls hk_trace_req_begin before it routes a request: the span
 * (kind SERVER) is a child of the client's W3C `traceparent` header when it
 * carries a valid one (its `tracestate` is kept and propagated), else a
 * root; the sampler decides whether it records. The span lives in the
 * request's pool and is the loop thread's current span while the handler
 * runs synchronously, so that the service layer's spans (query planning
 * and execution) and the write jobs the handler queues (their "write.apply"
 * and "group commit" spans on the writer thread) become its children. The
 * access logger ends it with the route, the status and the time; MCP over
 * HTTP (/mcp) goes through the same router and is traced the same way.
 *
 * Without a tracer and without JSON access logs nothing is allocated.
 *
 * Error lines a request causes (hk_trace_log_error) carry its trace and
 * span ids, as JSON objects when the access log is JSON, so that a log
 * search finds the trace and the trace finds the log line.
 *
 * Threads: the loop thread that owns the request.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "core/buf.h"
#include "server/server_int.h"

#define ENV_SPAN "hk.span"

static hk_span *req_span(h2o_req_t *req)
{
    h2o_iovec_t *slot = h2o_req_getenv(req, H2O_STRLIT(ENV_SPAN), 0);
    return slot ? (hk_span *)slot->base : NULL;
}

static const h2o_iovec_t *header(h2o_req_t *req, const char *name, size_t len)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, name, len, -1);
    return i >= 0 ? &req->headers.entries[i].value : NULL;
}

const hk_trace_ctx *hk_trace_req_begin(hk_server *srv, h2o_req_t *req)
{
    if (!hk_otel_active() && !srv->cfg.access_log_json) return NULL;
    hk_span *sp = h2o_mem_alloc_pool(&req->pool, sizeof(*sp));
    hk_trace_ctx in, *parent = NULL;
    const h2o_iovec_t *tp = header(req, H2O_STRLIT("traceparent"));
    if (tp && hk_traceparent_parse(tp->base, tp->len, &in)) {
        const h2o_iovec_t *ts = header(req, H2O_STRLIT("tracestate"));
        if (ts && ts->len < sizeof in.state) {
            memcpy(in.state, ts->base, ts->len);
            in.state[ts->len] = '\0';
        }
        parent = &in;
    }
    hk_span_start(sp, "HTTP", HK_SPAN_SERVER, parent, false);
    hk_span_attr_str(sp, "http.request.method", req->method.base,
                     req->method.len);
    size_t plen = req->query_at == SIZE_MAX ? req->path.len : req->query_at;
    hk_span_attr_str(sp, "url.path", req->path.base, plen);
    h2o_iovec_t *slot = h2o_req_getenv(req, H2O_STRLIT(ENV_SPAN), 1);
    slot->base = (char *)sp;
    slot->len = sizeof *sp;
    return &sp->ctx;
}

void hk_trace_req_end(h2o_req_t *req, const char *route, int status)
{
    hk_span *sp = req_span(req);
    if (!sp || !sp->recording) return;
    /* The route label is "METHOD /path/{param}": the span name of the
     * HTTP semantic conventions. */
    snprintf(sp->name, sizeof sp->name, "%s", route);
    const char *sp_ = strchr(route, ' ');
    if (sp_) hk_span_attr_str(sp, "http.route", sp_ + 1, strlen(sp_ + 1));
    hk_span_attr_int(sp, "http.response.status_code", status);
    if (status >= 500) {
        char why[16];
        snprintf(why, sizeof why, "HTTP %d", status);
        hk_span_set_error(sp, why);
    }
    hk_span_end(sp);
}

bool hk_trace_req_ids(h2o_req_t *req, char trace_id[33], char span_id[17])
{
    hk_span *sp = req_span(req);
    if (!sp) return false;
    hk_otel_hex(sp->ctx.trace_id, 16, trace_id);
    hk_otel_hex(sp->ctx.span_id, 8, span_id);
    return true;
}

void hk_trace_log_error(hk_server *srv, const hk_trace_ctx *ctx,
                        const char *fmt, ...)
{
    char msg[512], tid[33] = "", sid[17] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (ctx) {
        hk_otel_hex(ctx->trace_id, 16, tid);
        hk_otel_hex(ctx->span_id, 8, sid);
    }
    hk_buf b = HK_BUF_INIT;
    hk_err rc;
    if (srv->cfg.access_log_json) {
        struct timeval now;
        gettimeofday(&now, NULL);
        rc = hk_buf_appendf(&b,
                            "{\"time\":%lld.%06ld,\"level\":\"error\","
                            "\"msg\":",
                            (long long)now.tv_sec, (long)now.tv_usec);
        if (rc == HK_OK) rc = hk_buf_append_json_string(&b, msg, strlen(msg));
        if (rc == HK_OK)
            rc = hk_buf_appendf(
                &b, ",\"trace_id\":\"%s\",\"span_id\":\"%s\"}\n", tid, sid);
    } else {
        rc = hk_buf_appendf(&b, "hakgal serve: %s", msg);
        if (rc == HK_OK && ctx)
            rc = hk_buf_appendf(&b, " trace_id=%s span_id=%s", tid, sid);
        if (rc == HK_OK) rc = hk_buf_append_str(&b, "\n");
    }
    if (rc == HK_OK) /* one write: lines of threads do not interleave */
        fputs(b.data, stderr);
    else
        fprintf(stderr, "hakgal serve: %s\n", msg);
    hk_buf_free(&b);
}
