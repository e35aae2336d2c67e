/*
 * server_sse.c — the event-stream response of server_sse.h: a double
 * buffer (pending, inflight) so that producers never wait for the
 * network and h2o never sees a buffer that changes under it.
 */
#include <string.h>

#include "server/server_sse.h"

void hk_sse_flush(hk_sse_out *o)
{
    if (o->sending || o->final_sent || o->stopped) return;
    if (o->pending.len == 0 && !o->final_wanted) return;
    hk_buf tmp = o->inflight;
    o->inflight = o->pending;
    o->pending = tmp;
    hk_buf_reset(&o->pending);
    h2o_iovec_t v = h2o_iovec_init(o->inflight.data, o->inflight.len);
    bool fin = o->final_wanted;
    o->sending = !fin;
    if (fin) o->final_sent = true;
    h2o_send(o->req, &v, v.len ? 1 : 0,
             fin ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
}

static void sse_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    (void)req;
    hk_sse_out *o = (hk_sse_out *)gen;
    o->sending = false;
    hk_sse_flush(o);
}

static void sse_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    (void)req;
    ((hk_sse_out *)gen)->stopped = true;
}

static void sse_dispose(void *p)
{
    hk_sse_out *o = p;
    hk_buf_free(&o->pending);
    hk_buf_free(&o->inflight);
}

hk_sse_out *hk_sse_start(h2o_req_t *req)
{
    hk_sse_out *o = h2o_mem_alloc_shared(&req->pool, sizeof *o, sse_dispose);
    memset(o, 0, sizeof *o);
    o->gen.proceed = sse_proceed;
    o->gen.stop = sse_stop;
    o->req = req;
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("text/event-stream"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
                   H2O_STRLIT("no-cache"));
    h2o_start_response(req, &o->gen);
    return o;
}
