/*
 * server_sse.h — a 200 text/event-stream response fed from the loop
 * thread: the MCP GET streams and tool calls (mcp_http.c) and the
 * streamed /v2/ask answer (routes_llm.c).
 *
 * One h2o_send is in flight at a time; bytes appended to `pending`
 * meanwhile go out from h2o's proceed callback. The struct lives in the
 * request's pool, so it dies with the request. Loop thread only.
 */
#ifndef HK_SERVER_SSE_H
#define HK_SERVER_SSE_H

#include <stdbool.h>

#include <h2o.h>

#include "core/buf.h"

typedef struct hk_sse_out {
    h2o_generator_t gen; /* h2o callbacks (first member) */
    h2o_req_t *req;      /* the response */
    hk_buf pending;      /* bytes not yet handed to h2o */
    hk_buf inflight;     /* bytes h2o is sending */
    bool sending;        /* an h2o_send is in flight */
    bool final_wanted;   /* end the response after pending */
    bool final_sent;     /* the final h2o_send happened */
    bool stopped;        /* h2o stopped the response */
} hk_sse_out;

/* Starts the response (200, text/event-stream, no-cache). The stream is
 * freed with the request's pool. */
hk_sse_out *hk_sse_start(h2o_req_t *req);

/* Hands `pending` to h2o unless a send is in flight; with final_wanted
 * set, ends the response once pending is out. */
void hk_sse_flush(hk_sse_out *o);

#endif
