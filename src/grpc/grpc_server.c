/*
 * grpc_server.c — the gRPC endpoint of `hakgal serve --grpc-listen
 * HOST:PORT`: gRPC's C core (grpc/grpc.h) on its own port and threads,
 * dispatching to the method handlers of grpc_methods.c, which call the
 * service layer like every other adapter.
 *
 * ==== Threads and completion queues ====
 * N worker threads (--grpc-threads), each with its own completion queue
 * registered with the server. Every method is registered, and a worker
 * keeps HK_GRPC_PENDING calls of each asked for
 * (grpc_server_request_registered_call; the request message of unary and
 * server-streaming methods arrives with the call), plus a few of any other
 * method (answered UNIMPLEMENTED). It handles an arrived call start to
 * end: every batch of the call completes on the worker's queue and the
 * worker waits for it, so a call's state lives on one stack, with no
 * locks, while the core can already hand over the next calls.
 *
 * ==== Nesting ====
 * The core tends to give the calls of one connection to the same worker,
 * and a client's channel multiplexes all its calls over one connection;
 * so a call that waits long (a slow peer, a Changes stream following the
 * log) must not hold up the calls queued behind it. A worker that has
 * waited HK_GRPC_NEST_AFTER_MS for a batch handles the calls that arrived
 * meanwhile inside that wait, up to HK_GRPC_NEST_MAX levels deep; every
 * tag names its call (hk_grpc_call) or request slot (hk_grpc_pending), so
 * completions of outer calls are recorded while an inner one runs. Every
 * wait is also bounded by --request-timeout-ms, after which the call is
 * cancelled.
 *
 * ==== Transactions ====
 * A worker keeps one read transaction per nesting level, renewed for each
 * call that reads (hk_grpc_read_txn) and reset when the call ends; a streamed
 * answer (Query, Export) therefore reads one snapshot throughout. Writes go to
 * the server's group-commit writer with hk_server_write_sync, so gRPC
 * writes commit in the same groups as REST's.
 *
 * ==== Auth ====
 * The REST policy on the "authorization" metadata ("Bearer TOKEN"): with
 * no tokens configured everything is allowed (and the listen address must
 * be loopback unless --insecure); with tokens, writes need a write token
 * and reads a read token when --read-auth. The health service is open.
 *
 * ==== Start and stop ====
 * serve.c calls hk_grpc_start after the writer runs and hk_grpc_stop
 * before the writer stops (weak hooks, as for MCP over HTTP). Stop shuts
 * the server down (new calls are refused, running ones cancelled), waits
 * for the workers, then drains and destroys their queues.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>

#include "core/mem.h"
#include "grpc/grpc_int.h"
#include "otel/otel.h"

/* Workers when --grpc-threads is not given: one per CPU, at least two.
 * More threads than CPUs cost more in thread switches (measured: the
 * kernel's share of a unary call) than they gain in overlap. */
#define HK_GRPC_MIN_THREADS 2u
#define HK_GRPC_SHUTDOWN_TAG ((void *)1) /* tag: the server shut down */
/* A worker that has waited this long for one of its call's batches
 * handles calls that arrived meanwhile, nested, up to HK_GRPC_NEST_MAX
 * deep (see "Nesting" above). */
#define HK_GRPC_NEST_AFTER_MS 2
#define HK_GRPC_NEST_MAX 3

/* A call asked for, waiting or arrived: of one registered method (with
 * grpc_server_request_registered_call; the request message of unary and
 * server-streaming methods comes with the call, which saves a batch), or
 * of any other method (grpc_server_request_call; UNIMPLEMENTED). */
typedef struct hk_grpc_pending {
    int tag_kind;              /* HK_GRPC_TAG_PENDING */
    const hk_grpc_method *m;   /* the registered method, NULL: others */
    void *handle;              /* its grpc_server_register_method handle */
    grpc_call *call;           /* the call, once arrived */
    grpc_call_details d;       /* method and deadline (other calls) */
    gpr_timespec deadline;     /* deadline (registered calls) */
    grpc_byte_buffer *payload; /* the request message, read with the call */
    grpc_metadata_array md;    /* its request metadata */
    bool asked;                /* a request_call is outstanding */
    bool arrived;              /* it completed (see ok) */
    bool ok;                   /* completed with a call (false: shutdown) */
    size_t *n_arrived;         /* the worker's count of arrived slots */
} hk_grpc_pending;

/* Calls each worker has asked for at once, per registered method and for
 * the others: while it handles one, the core can already hand it the
 * next ones. */
#define HK_GRPC_PENDING 4

struct hk_grpc_worker {
    hk_grpc_pending *pending;             /* asked-for calls (n_pending) */
    size_t n_pending;                     /* HK_GRPC_PENDING per method, and for
                                             unregistered methods */
    hk_server *srv;                       /* the server */
    grpc_server *server;                  /* the gRPC server */
    grpc_completion_queue *cq;            /* this worker's queue */
    pthread_t thread;                     /* the worker */
    bool started;                         /* thread was created */
    hk_txn *rtxn[HK_GRPC_NEST_MAX + 1];   /* read transaction per nesting
                                             level (reused), or NULL */
    bool rtxn_live[HK_GRPC_NEST_MAX + 1]; /* it holds a call's snapshot */
    unsigned depth;                       /* calls being handled (nested) */
    size_t live;                          /* requests outstanding */
    size_t next;           /* slot to look at first (round robin) */
    size_t n_arrived;      /* slots asked and arrived, not yet served:
                              0 spares next_arrived its scan */
    size_t finishing;      /* last batches not completed yet */
    atomic_bool *stopping; /* the endpoint stops: ask for no call */
};

typedef struct hk_grpc {
    hk_server *srv;          /* the server */
    grpc_server *server;     /* the gRPC server */
    hk_grpc_worker *workers; /* n_workers */
    void **handles;          /* per method of hk_grpc_methods() */
    unsigned n_workers;      /* worker threads */
    atomic_bool stopping;    /* set by hk_grpc_stop */
    int port;                /* bound port */
} hk_grpc;

/* One endpoint per process (one `hakgal serve`). */
static hk_grpc *g_grpc;

/* ==== Status ==== */

grpc_status_code hk_grpc_status(hk_err code)
{
    switch (code) {
    case HK_OK:
        return GRPC_STATUS_OK;
    case HK_ERR_INVALID:
        return GRPC_STATUS_INVALID_ARGUMENT;
    case HK_ERR_NOT_FOUND:
        return GRPC_STATUS_NOT_FOUND;
    case HK_ERR_EXISTS:
        return GRPC_STATUS_ALREADY_EXISTS;
    case HK_ERR_LIMIT:
    case HK_ERR_NOMEM:
    case HK_ERR_FULL:
    case HK_ERR_DISK_FULL:
        return GRPC_STATUS_RESOURCE_EXHAUSTED;
    case HK_ERR_BUSY:
    case HK_ERR_STATE:
        return GRPC_STATUS_UNAVAILABLE;
    case HK_ERR_UNSUPPORTED:
        return GRPC_STATUS_UNIMPLEMENTED;
    case HK_ERR_CORRUPT:
        return GRPC_STATUS_DATA_LOSS;
    default:
        return GRPC_STATUS_INTERNAL;
    }
}

/* ==== Waiting for a batch ==== */

typedef struct hk_grpc_finish_op hk_grpc_finish_op;
static void finish_op_free(hk_grpc_finish_op *f);

/* A RECV_CLOSE_ON_SERVER batch started early (hk_grpc_watch_close): it
 * completes when the call ends, from either side. Owned by the call while
 * its handler runs (detached when the handler returns), freed by its
 * completion; the worker counts it in `finishing` until then. */
struct hk_grpc_close_op {
    int tag_kind;      /* HK_GRPC_TAG_CLOSE */
    hk_grpc_worker *w; /* whose finishing count to lower */
    grpc_call *call;   /* a reference of its own */
    int cancelled;     /* RECV_CLOSE_ON_SERVER's result */
    bool done;         /* it completed */
    bool detached;     /* the handler returned: free on completion */
};
static void close_op_done(hk_grpc_close_op *o);

/* Records a completion: a requested call arrived, or a batch of some
 * call on this worker's stack completed. */
static void on_event(grpc_event ev)
{
    if (*(const int *)ev.tag == HK_GRPC_TAG_FINISH) {
        finish_op_free(ev.tag);
    } else if (*(const int *)ev.tag == HK_GRPC_TAG_CLOSE) {
        close_op_done(ev.tag);
    } else if (*(const int *)ev.tag == HK_GRPC_TAG_CALL) {
        hk_grpc_call *o = ev.tag;
        o->op_done = true;
        o->op_ok = ev.success != 0;
    } else {
        hk_grpc_pending *p = ev.tag;
        p->arrived = true;
        p->ok = ev.success != 0;
        if (p->asked) (*p->n_arrived)++;
    }
}

static void serve_arrived(hk_grpc_worker *w);

/* Waits for the batch in flight on c; false when it failed or the peer
 * was too slow (the call is then cancelled). After HK_GRPC_NEST_AFTER_MS
 * of waiting, calls that arrive are handled meanwhile. */
static bool wait_batch(hk_grpc_call *c)
{
    gpr_timespec now = gpr_now(GPR_CLOCK_MONOTONIC);
    gpr_timespec dl =
        gpr_time_add(now, gpr_time_from_millis(c->deadline_ms, GPR_TIMESPAN));
    gpr_timespec nest = gpr_time_add(
        now, gpr_time_from_millis(HK_GRPC_NEST_AFTER_MS, GPR_TIMESPAN));
    bool cancelled = false, nesting = false;
    while (!c->op_done) {
        gpr_timespec until = cancelled ? gpr_inf_future(GPR_CLOCK_MONOTONIC)
                             : nesting ? dl
                                       : nest;
        grpc_event ev = grpc_completion_queue_next(c->w->cq, until, NULL);
        if (ev.type == GRPC_OP_COMPLETE) on_event(ev);
        if (!nesting && !cancelled &&
            gpr_time_cmp(gpr_now(GPR_CLOCK_MONOTONIC), nest) >= 0)
            nesting = true;
        if (!cancelled && gpr_time_cmp(gpr_now(GPR_CLOCK_MONOTONIC), dl) >= 0 &&
            !c->op_done) {
            grpc_call_cancel(c->call, NULL);
            cancelled = true;
        }
        if (nesting && !cancelled && !c->op_done) serve_arrived(c->w);
    }
    return c->op_ok && !cancelled;
}

/* Waits for a message hk_grpc_send_raw left in flight; false when it
 * failed (the call is then finished: no status can go out). Every other
 * batch of the call starts after this, so a call has one batch in flight
 * at most, and none when its handler returns (c lives on the stack). */
static bool send_wait(hk_grpc_call *c)
{
    if (!c->send_bb) return true;
    bool ok = wait_batch(c);
    grpc_byte_buffer_destroy(c->send_bb);
    c->send_bb = NULL;
    if (!ok) c->finished = true;
    return ok;
}

/* Starts ops and waits for them (as wait_batch). */
static bool run_batch(hk_grpc_call *c, const grpc_op *ops, size_t n)
{
    if (!send_wait(c)) return false;
    c->op_done = false;
    if (grpc_call_start_batch(c->call, ops, n, c, NULL) != GRPC_CALL_OK)
        return false;
    return wait_batch(c);
}

void hk_grpc_idle(hk_grpc_call *c, int64_t us)
{
    if (c->h2) {
        hk_h2_idle(c, us);
        return;
    }
    gpr_timespec until = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                      gpr_time_from_micros(us, GPR_TIMESPAN));
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(c->w->cq, until, NULL);
        if (ev.type != GRPC_OP_COMPLETE) break;
        on_event(ev);
        serve_arrived(c->w);
    }
}

/* ==== Message I/O ==== */

/* Decodes bb (taken) as a message of type d; answers INVALID_ARGUMENT
 * when it is none. */
static hk_err decode(hk_grpc_call *c, const ProtobufCMessageDescriptor *d,
                     grpc_byte_buffer *bb, ProtobufCMessage **out)
{
    grpc_byte_buffer_reader r;
    if (!grpc_byte_buffer_reader_init(&r, bb)) {
        grpc_byte_buffer_destroy(bb);
        hk_grpc_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
                       "the message cannot be decompressed", NULL);
        return HK_ERR_INVALID;
    }
    grpc_slice s = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    grpc_byte_buffer_destroy(bb);
    hk_err rc = hk_grpc_decode(c, d, GRPC_SLICE_START_PTR(s),
                               GRPC_SLICE_LENGTH(s), out);
    grpc_slice_unref(s);
    return rc;
}

hk_err hk_grpc_decode(hk_grpc_call *c, const ProtobufCMessageDescriptor *d,
                      const void *bytes, size_t len, ProtobufCMessage **out)
{
    *out = protobuf_c_message_unpack(d, NULL, len, bytes);
    if (!*out) {
        char msg[200];
        snprintf(msg, sizeof(msg), "the request is not a valid %s message",
                 d->name);
        hk_grpc_finish(c, GRPC_STATUS_INVALID_ARGUMENT, msg, NULL);
        return HK_ERR_INVALID;
    }
    return HK_OK;
}

hk_err hk_grpc_recv(hk_grpc_call *c, const ProtobufCMessageDescriptor *d,
                    ProtobufCMessage **out)
{
    *out = NULL;
    if (c->h2) return hk_h2_recv(c, d, out);
    grpc_byte_buffer *bb = NULL;
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &bb;
    if (!run_batch(c, &op, 1)) {
        if (bb) grpc_byte_buffer_destroy(bb);
        c->finished = true; /* the call is broken: no status can go out */
        return HK_ERR_IO;
    }
    if (!bb) return HK_OK; /* the client closed its side */
    return decode(c, d, bb, out);
}

static size_t add_initial(hk_grpc_call *c, grpc_op *ops)
{
    if (c->sent_initial) return 0;
    memset(ops, 0, sizeof(*ops));
    ops->op = GRPC_OP_SEND_INITIAL_METADATA;
    c->sent_initial = true;
    return 1;
}

hk_err hk_grpc_send_raw(hk_grpc_call *c, const void *bytes, size_t len)
{
    if (c->h2) return hk_h2_send(c, NULL, bytes, len);
    grpc_slice s = grpc_slice_from_copied_buffer(bytes, len);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    grpc_op ops[2];
    size_t n = add_initial(c, ops);
    memset(&ops[n], 0, sizeof(ops[n]));
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n].data.send_message.send_message = bb;
    bool ok = run_batch(c, ops, n + 1);
    grpc_byte_buffer_destroy(bb);
    if (!ok) c->finished = true;
    return ok ? HK_OK : HK_ERR_IO;
}

static void free_page(void *p)
{
    hk_free(p);
}

/* The bytes of *page as a byte buffer that owns them; *page is left
 * empty. */
static grpc_byte_buffer *take_page(hk_buf *page)
{
    grpc_slice s = page->data ? grpc_slice_new(page->data, page->len, free_page)
                              : grpc_empty_slice();
    *page = (hk_buf)HK_BUF_INIT;
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}

hk_err hk_grpc_send_page(hk_grpc_call *c, hk_buf *page)
{
    if (c->h2) {
        hk_err rc = hk_h2_send(c, NULL, page->data, page->len);
        hk_buf_reset(page);
        return rc;
    }
    if (!send_wait(c)) return HK_ERR_IO;
    size_t cap = page->cap;
    c->send_bb = take_page(page);
    /* The next page is about as large: no regrowth from 64 bytes. */
    if (cap > 1) (void)hk_buf_reserve(page, cap - 1);
    grpc_op ops[2];
    size_t n = add_initial(c, ops);
    memset(&ops[n], 0, sizeof(ops[n]));
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n].data.send_message.send_message = c->send_bb;
    c->op_done = false;
    if (grpc_call_start_batch(c->call, ops, n + 1, c, NULL) != GRPC_CALL_OK) {
        grpc_byte_buffer_destroy(c->send_bb);
        c->send_bb = NULL;
        c->finished = true;
        return HK_ERR_IO;
    }
    return HK_OK;
}

static grpc_byte_buffer *pack(const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    grpc_slice s = grpc_slice_malloc(n);
    protobuf_c_message_pack(m, GRPC_SLICE_START_PTR(s));
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}

hk_err hk_grpc_send(hk_grpc_call *c, const ProtobufCMessage *m)
{
    if (c->h2) return hk_h2_send(c, m, NULL, 0);
    grpc_byte_buffer *bb = pack(m);
    grpc_op ops[2];
    size_t n = add_initial(c, ops);
    memset(&ops[n], 0, sizeof(ops[n]));
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n].data.send_message.send_message = bb;
    bool ok = run_batch(c, ops, n + 1);
    grpc_byte_buffer_destroy(bb);
    if (!ok) c->finished = true;
    return ok ? HK_OK : HK_ERR_IO;
}

/* Ends the call: optional message bb (taken), then the status. */
/* The last batch of a call, completing after its handler returned: it
 * owns what the batch uses until the completion frees it (on_event). */
struct hk_grpc_finish_op {
    int tag_kind;          /* HK_GRPC_TAG_FINISH */
    hk_grpc_worker *w;     /* whose finishing count to lower */
    grpc_call *call;       /* a reference of its own */
    grpc_byte_buffer *bb;  /* the answer, or NULL */
    grpc_slice details;    /* status details */
    grpc_metadata trailer; /* hakgal-error-field, when has_field */
    bool has_field;        /* trailer is set */
    int cancelled;         /* RECV_CLOSE_ON_SERVER's result */
};

static void finish_op_free(hk_grpc_finish_op *f)
{
    if (f->bb) grpc_byte_buffer_destroy(f->bb);
    grpc_slice_unref(f->details);
    if (f->has_field) {
        grpc_slice_unref(f->trailer.key);
        grpc_slice_unref(f->trailer.value);
    }
    grpc_call_unref(f->call);
    f->w->finishing--;
    hk_free(f);
}

/* Ends the call: optional message bb (taken), then the status, in one
 * batch that the worker does not wait for (it completes while the worker
 * goes on with the next call: one thread switch less per call). */
static void finish_with(hk_grpc_call *c, grpc_byte_buffer *bb,
                        grpc_status_code code, const char *message,
                        const char *field)
{
    if (!send_wait(c) || c->finished) {
        if (bb) grpc_byte_buffer_destroy(bb);
        return;
    }
    c->finished = true;
    c->status = code;
    hk_grpc_finish_op *f = hk_calloc(1, sizeof(*f));
    if (!f) {
        if (bb) grpc_byte_buffer_destroy(bb);
        grpc_call_cancel(c->call, NULL);
        return;
    }
    f->tag_kind = HK_GRPC_TAG_FINISH;
    f->w = c->w;
    f->call = c->call;
    grpc_call_ref(f->call);
    f->bb = bb;
    f->details = grpc_slice_from_copied_string(message ? message : "");
    f->has_field = field && field[0];
    if (f->has_field) {
        f->trailer.key = grpc_slice_from_static_string("hakgal-error-field");
        f->trailer.value = grpc_slice_from_copied_string(field);
    }
    grpc_op ops[4];
    memset(ops, 0, sizeof(ops));
    size_t n = add_initial(c, ops);
    if (bb) {
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n].data.send_message.send_message = bb;
        n++;
    }
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = code;
    ops[n].data.send_status_from_server.status_details = &f->details;
    ops[n].data.send_status_from_server.trailing_metadata_count =
        f->has_field ? 1 : 0;
    ops[n].data.send_status_from_server.trailing_metadata =
        f->has_field ? &f->trailer : NULL;
    n++;
    if (!c->close) { /* else hk_grpc_watch_close's batch receives it */
        ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
        ops[n].data.recv_close_on_server.cancelled = &f->cancelled;
        n++;
    }
    c->w->finishing++;
    if (grpc_call_start_batch(c->call, ops, n, f, NULL) != GRPC_CALL_OK)
        finish_op_free(f);
}

static void close_op_done(hk_grpc_close_op *o)
{
    o->done = true;
    if (!o->detached) return;
    grpc_call_unref(o->call);
    o->w->finishing--;
    hk_free(o);
}

hk_err hk_grpc_watch_close(hk_grpc_call *c)
{
    if (c->h2) return HK_OK; /* the stream's end is always seen */
    if (c->close) return HK_OK;
    hk_grpc_close_op *o = hk_calloc(1, sizeof(*o));
    if (!o) return HK_ERR_NOMEM;
    o->tag_kind = HK_GRPC_TAG_CLOSE;
    o->w = c->w;
    o->call = c->call;
    grpc_call_ref(o->call);
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    op.data.recv_close_on_server.cancelled = &o->cancelled;
    if (grpc_call_start_batch(c->call, &op, 1, o, NULL) != GRPC_CALL_OK) {
        grpc_call_unref(o->call);
        hk_free(o);
        return HK_ERR_IO;
    }
    c->w->finishing++;
    c->close = o;
    return HK_OK;
}

bool hk_grpc_closed(const hk_grpc_call *c)
{
    if (c->h2) return hk_h2_closed(c);
    return c->close && c->close->done;
}

/* The handler returned: the close op frees itself when it completes. */
static void close_detach(hk_grpc_call *c)
{
    hk_grpc_close_op *o = c->close;
    if (!o) return;
    c->close = NULL;
    o->detached = true;
    if (o->done) close_op_done(o); /* it completed already: free it now */
}

void hk_grpc_reply(hk_grpc_call *c, const ProtobufCMessage *m)
{
    if (c->h2) {
        hk_h2_finish(c, m, NULL, 0, GRPC_STATUS_OK, NULL, NULL);
        return;
    }
    finish_with(c, pack(m), GRPC_STATUS_OK, NULL, NULL);
}

void hk_grpc_reply_raw(hk_grpc_call *c, const void *bytes, size_t len)
{
    if (c->h2) {
        hk_h2_finish(c, NULL, bytes ? bytes : "", len, GRPC_STATUS_OK, NULL,
                     NULL);
        return;
    }
    grpc_slice s = grpc_slice_from_copied_buffer(bytes, len);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    finish_with(c, bb, GRPC_STATUS_OK, NULL, NULL);
}

void hk_grpc_reply_page(hk_grpc_call *c, hk_buf *page)
{
    if (c->h2) {
        hk_h2_finish(c, NULL, page->data ? page->data : "", page->len,
                     GRPC_STATUS_OK, NULL, NULL);
        hk_buf_reset(page);
        return;
    }
    finish_with(c, take_page(page), GRPC_STATUS_OK, NULL, NULL);
}

void hk_grpc_finish(hk_grpc_call *c, grpc_status_code code, const char *message,
                    const char *field)
{
    if (c->h2) {
        hk_h2_finish(c, NULL, NULL, 0, code, message, field);
        return;
    }
    finish_with(c, NULL, code, message, field);
}

void hk_grpc_fail(hk_grpc_call *c, const hk_error *err)
{
    hk_grpc_finish(c, hk_grpc_status(err->code), err->message, err->field);
}

/* ==== Reads ==== */

hk_txn *hk_grpc_read_txn(hk_grpc_call *c)
{
    if (c->h2) return hk_h2_read_txn(c);
    hk_grpc_worker *w = c->w;
    unsigned d = c->depth;
    if (w->rtxn_live[d]) return w->rtxn[d];
    hk_error err;
    hk_error_clear(&err);
    hk_err rc;
    if (!w->rtxn[d]) {
        rc = hk_txn_begin(hk_server_store(w->srv), false, &w->rtxn[d], &err);
        if (rc != HK_OK) w->rtxn[d] = NULL;
    } else {
        rc = hk_txn_renew(w->rtxn[d], &err);
        if (rc != HK_OK) {
            hk_txn_abort(w->rtxn[d]);
            w->rtxn[d] = NULL;
        }
    }
    if (rc != HK_OK) {
        hk_grpc_finish(c, GRPC_STATUS_UNAVAILABLE, err.message, NULL);
        return NULL;
    }
    w->rtxn_live[d] = true;
    return w->rtxn[d];
}

void hk_grpc_read_done(hk_grpc_call *c)
{
    if (c->h2) {
        hk_h2_read_done(c);
        return;
    }
    hk_grpc_worker *w = c->w;
    if (!w->rtxn_live[c->depth]) return;
    hk_txn_reset(w->rtxn[c->depth]);
    w->rtxn_live[c->depth] = false;
}

/* ==== Auth ==== */

static bool authorize(hk_grpc_call *c, const grpc_metadata_array *md,
                      hk_role need)
{
    for (size_t i = 0; i < md->count; i++)
        if (grpc_slice_str_cmp(md->metadata[i].key, "authorization") == 0)
            return hk_grpc_authorize(
                c, (const char *)GRPC_SLICE_START_PTR(md->metadata[i].value),
                GRPC_SLICE_LENGTH(md->metadata[i].value), need);
    return hk_grpc_authorize(c, NULL, 0, need);
}

bool hk_grpc_authorize(hk_grpc_call *c, const char *v, size_t len, hk_role need)
{
    hk_principal *p = &c->who;
    memset(p, 0, sizeof(*p));
    memcpy(p->name, "anonymous", sizeof("anonymous"));
    if (!hk_server_auth_enabled(c->srv)) {
        p->role = HK_ROLE_ADMIN;
        return true;
    }
    if (v) {
        if (len <= 7 || strncasecmp(v, "Bearer ", 7) != 0) {
            hk_grpc_finish(c, GRPC_STATUS_UNAUTHENTICATED,
                           "authorization must be `Bearer <token>`", NULL);
            return false;
        }
        v += 7;
        len -= 7;
        while (len > 0 && *v == ' ') {
            v++;
            len--;
        }
        if (hk_server_auth_lookup(c->srv, v, len, p) != HK_OK) {
            hk_grpc_finish(c, GRPC_STATUS_UNAUTHENTICATED,
                           "the bearer token is not valid", NULL);
            return false;
        }
    }
    hk_role required = need;
    if (need == HK_ROLE_READ && !hk_server_get_config(c->srv)->read_auth)
        required = HK_ROLE_NONE;
    if (p->role >= required) return true;
    if (!p->authenticated)
        hk_grpc_finish(c, GRPC_STATUS_UNAUTHENTICATED,
                       required == HK_ROLE_READ
                           ? "this server needs a read token for reads"
                           : "this method needs a token with the write role",
                       NULL);
    else
        hk_grpc_finish(c, GRPC_STATUS_PERMISSION_DENIED,
                       "the token's role does not allow this method", NULL);
    return false;
}

/* ==== Tracing ==== */

/* The W3C trace context of the call's metadata ("traceparent", and
 * "tracestate" with it), as REST reads it from its headers
 * (server_trace.c): true and ctx filled when traceparent is valid. */
static bool trace_parent(const char *tp, size_t tp_len, const char *ts,
                         size_t ts_len, hk_trace_ctx *ctx)
{
    if (!tp || !hk_traceparent_parse(tp, tp_len, ctx)) return false;
    if (ts && ts_len < sizeof ctx->state) {
        memcpy(ctx->state, ts, ts_len);
        ctx->state[ts_len] = '\0';
    }
    return true;
}

/* Starts the call's span (kind SERVER, named "hakgal.v2.Hakgal/Method"
 * as the RPC semantic conventions name it): a child of the caller's
 * traceparent when the metadata carries a valid one, else a root. It is
 * the thread's current span while the handler runs, so the service
 * layer's spans and the write jobs become its children. */
static void trace_begin(hk_span *sp, const hk_grpc_pending *p)
{
    const grpc_slice *tp = NULL, *ts = NULL;
    for (size_t i = 0; i < p->md.count; i++) {
        if (grpc_slice_str_cmp(p->md.metadata[i].key, "traceparent") == 0)
            tp = &p->md.metadata[i].value;
        else if (grpc_slice_str_cmp(p->md.metadata[i].key, "tracestate") == 0)
            ts = &p->md.metadata[i].value;
    }
    hk_grpc_trace_begin(sp, p->m ? p->m->path : "unknown",
                        tp ? (const char *)GRPC_SLICE_START_PTR(*tp) : NULL,
                        tp ? GRPC_SLICE_LENGTH(*tp) : 0,
                        ts ? (const char *)GRPC_SLICE_START_PTR(*ts) : NULL,
                        ts ? GRPC_SLICE_LENGTH(*ts) : 0);
}

void hk_grpc_trace_begin(hk_span *sp, const char *path, const char *tp,
                         size_t tp_len, const char *ts, size_t ts_len)
{
    hk_trace_ctx in;
    memset(&in, 0, sizeof in);
    bool has = trace_parent(tp, tp_len, ts, ts_len, &in);
    const char *name = path[0] == '/' ? path + 1 : path;
    hk_span_start(sp, name, HK_SPAN_SERVER, has ? &in : NULL, true);
    hk_span_attr_str(sp, "rpc.system", "grpc", 4);
    const char *slash = strchr(name, '/');
    if (slash) {
        hk_span_attr_str(sp, "rpc.service", name, (size_t)(slash - name));
        hk_span_attr_str(sp, "rpc.method", slash + 1, strlen(slash + 1));
    }
}

void hk_grpc_trace_end(hk_span *sp, const hk_grpc_call *c)
{
    hk_span_attr_int(sp, "rpc.grpc.status_code", (int64_t)c->status);
    /* Server errors, as for REST's 5xx: not the caller's mistakes. */
    if (c->status == GRPC_STATUS_INTERNAL ||
        c->status == GRPC_STATUS_UNAVAILABLE ||
        c->status == GRPC_STATUS_DATA_LOSS ||
        c->status == GRPC_STATUS_UNKNOWN) {
        char why[32];
        snprintf(why, sizeof why, "gRPC status %d", (int)c->status);
        hk_span_set_error(sp, why);
    }
    hk_span_end(sp);
}

/* ==== Calls ==== */

static void handle_call(hk_grpc_worker *w, hk_grpc_pending *p)
{
    hk_grpc_call c;
    memset(&c, 0, sizeof(c));
    c.tag_kind = HK_GRPC_TAG_CALL;
    c.depth = w->depth - 1; /* serve_one counted this call already */
    c.w = w;
    c.srv = w->srv;
    c.call = p->call;
    c.deadline_ms = hk_server_get_config(w->srv)->request_timeout_ms;
    if (c.deadline_ms <= 0) c.deadline_ms = 10000;
    const hk_grpc_method *m = p->m;
    grpc_byte_buffer *payload = p->payload;
    p->payload = NULL;
    c.status = GRPC_STATUS_CANCELLED; /* until a status goes out */
    hk_span span;
    bool traced = hk_otel_active();
    /* A call handled inside another's wait (nesting) is not its child. */
    const hk_trace_ctx *outer = traced ? hk_otel_swap_current(NULL) : NULL;
    if (traced) trace_begin(&span, p);
    if (!m) {
        hk_grpc_finish(&c, GRPC_STATUS_UNIMPLEMENTED, "unknown method", NULL);
    } else if (authorize(&c, &p->md, m->need)) {
        hk_err rc = HK_OK;
        if (m->kind != HK_GRPC_CLIENT_STREAM &&
            m->kind != HK_GRPC_BIDI_STREAM) {
            if (payload) {
                rc = decode(&c, m->in, payload, &c.req);
                payload = NULL;
            } else {
                rc = HK_ERR_INVALID;
                hk_grpc_finish(&c, GRPC_STATUS_INVALID_ARGUMENT,
                               "the call carries no request message", NULL);
            }
        }
        if (rc == HK_OK) m->handle(&c);
        if (!c.finished)
            hk_grpc_finish(&c, GRPC_STATUS_INTERNAL,
                           "the method gave no answer", NULL);
    }
    send_wait(&c); /* no batch may point at c after this */
    close_detach(&c);
    if (traced) {
        hk_grpc_trace_end(&span, &c);
        hk_otel_swap_current(outer);
    }
    if (payload) grpc_byte_buffer_destroy(payload);
    if (c.req) protobuf_c_message_free_unpacked(c.req, NULL);
    hk_grpc_read_done(&c);
}

static bool ask(hk_grpc_worker *w, hk_grpc_pending *p)
{
    p->tag_kind = HK_GRPC_TAG_PENDING;
    p->call = NULL;
    p->payload = NULL;
    p->arrived = false;
    p->ok = false;
    grpc_call_details_init(&p->d);
    grpc_metadata_array_init(&p->md);
    grpc_call_error e = GRPC_CALL_ERROR;
    if (!atomic_load(w->stopping)) {
        if (p->m)
            e = grpc_server_request_registered_call(
                w->server, p->handle, &p->call, &p->deadline, &p->md,
                p->m->kind >= HK_GRPC_CLIENT_STREAM ? NULL : &p->payload, w->cq,
                w->cq, p);
        else
            e = grpc_server_request_call(w->server, &p->call, &p->d, &p->md,
                                         w->cq, w->cq, p);
    }
    p->asked = e == GRPC_CALL_OK;
    if (!p->asked) {
        grpc_call_details_destroy(&p->d);
        grpc_metadata_array_destroy(&p->md);
    }
    return p->asked;
}

/* The next arrived call, round robin over the slots; NULL when none. */
static hk_grpc_pending *next_arrived(hk_grpc_worker *w)
{
    if (!w->n_arrived) return NULL; /* most calls: nothing waits */
    size_t i = w->next < w->n_pending ? w->next : 0;
    for (size_t k = 0; k < w->n_pending; k++, i++) {
        if (i == w->n_pending) i = 0;
        hk_grpc_pending *q = &w->pending[i];
        if (q->asked && q->arrived) {
            w->next = i + 1 == w->n_pending ? 0 : i + 1;
            return q;
        }
    }
    return NULL;
}

/* Handles an arrived call (or the end of a request at shutdown) and asks
 * for the next one in its slot. */
static void serve_one(hk_grpc_worker *w, hk_grpc_pending *p)
{
    p->asked = false; /* taken: no nested level serves it again */
    w->n_arrived--;
    if (p->ok && p->call) {
        w->depth++;
        handle_call(w, p);
        w->depth--;
    }
    if (p->payload) grpc_byte_buffer_destroy(p->payload);
    p->payload = NULL;
    if (p->call) grpc_call_unref(p->call);
    grpc_call_details_destroy(&p->d);
    grpc_metadata_array_destroy(&p->md);
    w->live--;
    if (p->ok) w->live += ask(w, p);
}

/* Nesting: handles the calls that arrived while a call of this worker
 * waits (for a slow peer, or a following stream), so that one slow call
 * does not hold up the calls the core already gave this worker — a
 * client's channel sends many calls over one connection, and the core
 * tends to give them to the same worker. At most HK_GRPC_NEST_MAX deep;
 * each level has its own read transaction. */
static void serve_arrived(hk_grpc_worker *w)
{
    if (w->depth > HK_GRPC_NEST_MAX) return;
    hk_grpc_pending *p;
    while (w->depth <= HK_GRPC_NEST_MAX && (p = next_arrived(w)))
        serve_one(w, p);
}

/* Keeps the calls asked for and handles arrived ones until the server
 * shuts down, when every outstanding request completes without a call. */
static void *worker_main(void *arg)
{
    hk_grpc_worker *w = arg;
    w->live = 0;
    for (size_t i = 0; i < w->n_pending; i++)
        w->live += ask(w, &w->pending[i]);
    while (w->live > 0 || w->finishing > 0) {
        hk_grpc_pending *p = next_arrived(w);
        if (p) {
            serve_one(w, p);
            continue;
        }
        grpc_event ev = grpc_completion_queue_next(
            w->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
        if (ev.type != GRPC_OP_COMPLETE) break;
        on_event(ev);
    }
    for (unsigned d = 0; d <= HK_GRPC_NEST_MAX; d++)
        if (w->rtxn[d]) {
            hk_txn_abort(w->rtxn[d]);
            w->rtxn[d] = NULL;
        }
    return NULL;
}

/* ==== Start and stop ==== */

static char *read_file(const char *path, hk_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        hk_error_set(err, HK_ERR_IO, "%s: %s", path, strerror(errno));
        return NULL;
    }
    hk_buf b = HK_BUF_INIT;
    char chunk[4096];
    size_t n;
    hk_err rc = HK_OK;
    while (rc == HK_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0 &&
           b.len < ((size_t)1 << 24))
        rc = hk_buf_append(&b, chunk, n);
    fclose(f);
    if (rc != HK_OK || !b.data) {
        hk_buf_free(&b);
        hk_error_set(err, HK_ERR_IO, "%s: empty or unreadable", path);
        return NULL;
    }
    return b.data; /* NUL-terminated; freed with hk_free */
}

static grpc_server_credentials *credentials(const hk_server_config *cfg,
                                            hk_error *err)
{
    if (!cfg->tls_cert[0]) return grpc_insecure_server_credentials_create();
    char *cert = read_file(cfg->tls_cert, err);
    char *key = cert ? read_file(cfg->tls_key, err) : NULL;
    grpc_server_credentials *cr = NULL;
    if (cert && key) {
        grpc_ssl_pem_key_cert_pair pair = {key, cert};
        cr = grpc_ssl_server_credentials_create(NULL, &pair, 1, 0, NULL);
        if (!cr) hk_error_set(err, HK_ERR_INVALID, "gRPC: bad TLS key/cert");
    }
    hk_free(cert);
    hk_free(key);
    return cr;
}

static bool loopback_host(const char *listen)
{
    return strncmp(listen, "127.", 4) == 0 ||
           strncmp(listen, "localhost:", 10) == 0 ||
           strncmp(listen, "[::1]:", 6) == 0;
}

hk_err hk_grpc_check_listen(hk_server *srv, hk_error *err)
{
    const hk_server_config *cfg = hk_server_get_config(srv);
    if (!hk_server_auth_enabled(srv) && !cfg->insecure &&
        !loopback_host(cfg->grpc_listen))
        return hk_error_set(err, HK_ERR_INVALID,
                            "--grpc-listen %s is not loopback and no tokens "
                            "are configured (use --tokens or --insecure)",
                            cfg->grpc_listen);
    return HK_OK;
}

static void core_stop(hk_server *srv)
{
    hk_grpc *g = g_grpc;
    if (!g || g->srv != srv) return;
    atomic_store(&g->stopping, true);
    /* Health Watch streams see the server stopping within their poll
     * interval, send NOT_SERVING and end: up to 1 s for them. */
    for (int i = 0; i < 100 && hk_grpc_watching() > 0; i++)
        usleep(10000);
    grpc_completion_queue *scq = grpc_completion_queue_create_for_pluck(NULL);
    grpc_server_shutdown_and_notify(g->server, scq, HK_GRPC_SHUTDOWN_TAG);
    grpc_server_cancel_all_calls(g->server);
    grpc_completion_queue_pluck(scq, HK_GRPC_SHUTDOWN_TAG,
                                gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    for (unsigned i = 0; i < g->n_workers; i++)
        if (g->workers[i].started) pthread_join(g->workers[i].thread, NULL);
    for (unsigned i = 0; i < g->n_workers; i++) {
        grpc_completion_queue *cq = g->workers[i].cq;
        if (!cq) continue;
        grpc_completion_queue_shutdown(cq);
        while (grpc_completion_queue_next(
                   cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
                   .type != GRPC_QUEUE_SHUTDOWN)
            ;
        grpc_completion_queue_destroy(cq);
    }
    grpc_server_destroy(g->server);
    grpc_completion_queue_shutdown(scq);
    while (grpc_completion_queue_pluck(scq, NULL,
                                       gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
               .type != GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(scq);
    for (unsigned i = 0; i < g->n_workers; i++)
        hk_free(g->workers[i].pending);
    hk_free(g->handles);
    hk_free(g->workers);
    hk_free(g);
    g_grpc = NULL;
    grpc_shutdown();
}

/* Debian builds abseil without NDEBUG, so every absl::Mutex the C core
 * takes (several per call) also runs abseil's deadlock detector: it
 * records each lock in one process-wide graph under one global spin lock
 * (GraphCycles::GetId in a profile). That is a debugging aid for the
 * library's own developers; switch it off when this abseil exports the
 * switch (absl::SetMutexDeadlockDetectionMode(OnDeadlockCycle::kIgnore),
 * kIgnore being 0), looked up by its mangled name so that another
 * abseil ABI simply keeps its default. */
static void absl_deadlock_check_off(void)
{
    static const char *const names[] = {
        "_ZN4absl7debian329SetMutexDeadlockDetectionModeENS0_"
        "15OnDeadlockCycleE",
        "_ZN4absl12lts_2022062329SetMutexDeadlockDetectionModeENS0_"
        "15OnDeadlockCycleE",
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        void *sym = dlsym(RTLD_DEFAULT, names[i]);
        if (!sym) continue;
        void (*set_mode)(int);
        memcpy(&set_mode, &sym, sizeof(set_mode));
        set_mode(0);
        return;
    }
}

unsigned hk_grpc_default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < (long)HK_GRPC_MIN_THREADS) return HK_GRPC_MIN_THREADS;
    return n > 64 ? 64u : (unsigned)n;
}

static hk_err core_start(hk_server *srv, hk_error *err)
{
    const hk_server_config *cfg = hk_server_get_config(srv);
    if (!cfg->grpc_listen[0]) return HK_OK;
    if (g_grpc) return hk_error_set(err, HK_ERR_STATE, "gRPC already runs");
    hk_err e = hk_grpc_check_listen(srv, err);
    if (e) return e;
    grpc_init();
    absl_deadlock_check_off();
    hk_grpc *g = hk_calloc(1, sizeof(*g));
    unsigned n =
        cfg->grpc_threads ? cfg->grpc_threads : hk_grpc_default_threads();
    hk_grpc_worker *ws = g ? hk_calloc(n, sizeof(*ws)) : NULL;
    if (!g || !ws) {
        hk_free(g);
        grpc_shutdown();
        return hk_error_set(err, HK_ERR_NOMEM, "gRPC: out of memory");
    }
    g->srv = srv;
    g->workers = ws;
    g->n_workers = n;
    atomic_init(&g->stopping, false);
    grpc_arg args[2];
    memset(args, 0, sizeof(args));
    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[0].value.integer =
        cfg->max_body > (size_t)INT32_MAX ? INT32_MAX : (int)cfg->max_body;
    /* A port in use is an error, not a port shared with another server
     * (the core sets SO_REUSEPORT by default). */
    args[1].type = GRPC_ARG_INTEGER;
    args[1].key = (char *)GRPC_ARG_ALLOW_REUSEPORT;
    args[1].value.integer = 0;
    grpc_channel_args ca = {2, args};
    g->server = grpc_server_create(&ca, NULL);
    size_t nm = hk_grpc_method_count();
    const hk_grpc_method *ms = hk_grpc_methods();
    g->handles = hk_calloc(nm, sizeof(*g->handles));
    g_grpc = g;
    if (!g->handles) {
        core_stop(srv);
        return hk_error_set(err, HK_ERR_NOMEM, "gRPC: out of memory");
    }
    for (size_t k = 0; k < nm; k++) {
        g->handles[k] = grpc_server_register_method(
            g->server, ms[k].path, NULL,
            ms[k].kind >= HK_GRPC_CLIENT_STREAM
                ? GRPC_SRM_PAYLOAD_NONE
                : GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER,
            0);
        if (!g->handles[k]) {
            core_stop(srv);
            return hk_error_set(err, HK_ERR_STATE, "gRPC: cannot register %s",
                                ms[k].path);
        }
    }
    for (unsigned i = 0; i < n; i++) {
        ws[i].n_pending = (nm + 1) * HK_GRPC_PENDING;
        ws[i].pending = hk_calloc(ws[i].n_pending, sizeof(*ws[i].pending));
        if (!ws[i].pending) {
            core_stop(srv);
            return hk_error_set(err, HK_ERR_NOMEM, "gRPC: out of memory");
        }
        for (size_t k = 0; k < nm * HK_GRPC_PENDING; k++) {
            ws[i].pending[k].m = &ms[k / HK_GRPC_PENDING];
            ws[i].pending[k].handle = g->handles[k / HK_GRPC_PENDING];
        }
        for (size_t k = 0; k < ws[i].n_pending; k++)
            ws[i].pending[k].n_arrived = &ws[i].n_arrived;
    }
    for (unsigned i = 0; i < n; i++) {
        ws[i].srv = srv;
        ws[i].server = g->server;
        ws[i].stopping = &g->stopping;
        ws[i].cq = grpc_completion_queue_create_for_next(NULL);
        grpc_server_register_completion_queue(g->server, ws[i].cq, NULL);
    }
    grpc_server_credentials *cr = credentials(cfg, err);
    if (!cr) {
        core_stop(srv);
        return err->code;
    }
    g->port = grpc_server_add_http2_port(g->server, cfg->grpc_listen, cr);
    grpc_server_credentials_release(cr);
    if (g->port == 0) {
        core_stop(srv);
        return hk_error_set(err, HK_ERR_IO, "gRPC: cannot listen on %s",
                            cfg->grpc_listen);
    }
    grpc_server_start(g->server);
    for (unsigned i = 0; i < n; i++) {
        if (pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]) != 0) {
            core_stop(srv);
            return hk_error_set(err, HK_ERR_NOMEM,
                                "gRPC: cannot start worker thread");
        }
        ws[i].started = true;
    }
    if (!cfg->quiet) {
        const char *colon = strrchr(cfg->grpc_listen, ':');
        int hl = colon ? (int)(colon - cfg->grpc_listen)
                       : (int)strlen(cfg->grpc_listen);
        fprintf(stderr, "hakgal serve: gRPC on %s%.*s:%d (%u threads)\n",
                cfg->tls_cert[0] ? "tls://" : "", hl, cfg->grpc_listen, g->port,
                n);
    }
    return HK_OK;
}

/* ==== Transport choice ==== */

/* Which transport runs (one endpoint per process). */
static bool g_h2;

hk_err hk_grpc_start(hk_server *srv, hk_error *err)
{
    const hk_server_config *cfg = hk_server_get_config(srv);
    if (!cfg->grpc_listen[0]) return HK_OK;
    const char *t = cfg->grpc_transport;
    if (t[0] && strcmp(t, "h2") != 0 && strcmp(t, "core") != 0)
        return hk_error_set(err, HK_ERR_INVALID,
                            "--grpc-transport %s: expected h2 or core", t);
    /* TLS stays with the C core: its handshake and ALPN are tested there. */
    g_h2 = strcmp(t, "core") != 0 && !cfg->tls_cert[0];
    return g_h2 ? hk_h2_start(srv, err) : core_start(srv, err);
}

void hk_grpc_stop(hk_server *srv)
{
    if (g_h2)
        hk_h2_stop(srv);
    else
        core_stop(srv);
}
