/*
 * grpc_h2.c — the gRPC endpoint over HTTP/2 with libnghttp2
 * (--grpc-transport h2, the default without TLS): nghttp2 does the
 * framing, HPACK and flow control; this file adds the small gRPC layer on
 * top (application/grpc, the 5-byte message prefix, grpc-status and
 * grpc-message trailers, grpc-timeout, trailers-only errors) and runs the
 * method handlers of grpc_methods.c through the hk_grpc_call interface,
 * exactly as the C core transport (grpc_server.c) does.
 *
 * Why: the C core hands every call between its threads and takes several
 * locks per call; a unary read here is parsed, answered and written by
 * the one thread that read its bytes.
 *
 * ==== Threads ====
 * N loop threads (--grpc-threads, default one per CPU), each an epoll loop
 * over its own connections; all wait on the one listening socket
 * (EPOLLEXCLUSIVE), and the loop that accepts a connection hands it to
 * the next loop in turn (conn_accept). A connection, its nghttp2 session
 * and its streams belong to that loop.
 *
 * A short call (hk_grpc_short_call: a read answered from one snapshot,
 * with bounded work) runs inline on the loop when its request is
 * complete, with the loop's read transaction. Every other call (writes,
 * which wait for the group commit; long streams; client streaming and
 * reflection) runs on a thread of its own, which talks to the loop
 * through the stream's buffers under the stream's mutex:
 *   - the loop appends request bytes to `in`; the thread takes whole
 *     messages from it and gives the window back (nghttp2_session_consume,
 *     done by the loop), so a client cannot send more than a window ahead;
 *   - the thread appends response messages to `out`, and waits while more
 *     than HK_H2_OUT_HIGH bytes are unsent: nghttp2 pulls `out` only as
 *     the peer's window allows, so a stream produces its next page when the
 *     window opens, not all at once;
 *   - after changing either, the thread queues the stream on its loop's
 *     ready list and wakes the loop (eventfd).
 * Every such wait is bounded by --request-timeout-ms: a client that stops
 * reading has its stream reset.
 *
 * ==== Lifetime ====
 * A stream is reference counted: the connection holds one while nghttp2
 * knows the stream, a call thread one while it runs, the ready list one
 * while queued. `closed` (under the mutex) tells the thread that the
 * stream ended (the peer reset it, the connection went, the deadline
 * passed); what it still sends is dropped.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>

#include "core/mem.h"
#include "grpc/grpc_int.h"

/* Concurrent streams a client may open per connection (SETTINGS). */
#define HK_H2_MAX_STREAMS 100u
/* Calls on threads of their own at once, over all connections; more are
 * answered RESOURCE_EXHAUSTED. */
#define HK_H2_MAX_THREADS 512u
/* A stream's receive window: a client sends at most this far ahead of
 * what its call has read. The connection's is HK_H2_CONN_WINDOW. */
#define HK_H2_STREAM_WINDOW (1 << 20)
#define HK_H2_CONN_WINDOW (16 << 20)
/* A call thread waits while more than this many response bytes are
 * unsent (one page in flight, the next being encoded). */
#define HK_H2_OUT_HIGH (256u << 10)
/* Request bytes a call reads before its loop gives them back to the
 * window (at the latest when the call waits for more). */
#define HK_H2_GIVE_STEP (64u << 10)
/* Bytes gathered from nghttp2 before one write(2). */
#define HK_H2_WRITE_CHUNK (64u << 10)
/* Loop tick: deadlines and the stop flag are looked at this often. */
#define HK_H2_TICK_MS 50
/* Longest header values kept (longer: the call is refused). */
#define HK_H2_PATH_MAX 128u
#define HK_H2_AUTH_MAX 1024u
#define HK_H2_TRACE_MAX 512u

typedef struct hk_h2_loop hk_h2_loop;
typedef struct hk_h2_conn hk_h2_conn;

struct hk_h2_stream {
    atomic_int refs;           /* conn + call thread + ready list */
    int32_t id;                /* HTTP/2 stream id */
    hk_h2_loop *loop;          /* the owning loop */
    hk_h2_conn *conn;          /* loop only: NULL once nghttp2 closed it */
    hk_h2_stream *prev, *next; /* loop only: the connection's streams */
    hk_h2_stream *ready_next;  /* the loop's ready list (loop's qmu) */
    bool queued;               /* on the ready list (loop's qmu) */
    /* request headers (loop only until the call starts) */
    char path[HK_H2_PATH_MAX];       /* :path */
    char auth[HK_H2_AUTH_MAX];       /* authorization */
    char tp[HK_H2_TRACE_MAX];        /* traceparent */
    char ts[HK_H2_TRACE_MAX];        /* tracestate */
    size_t auth_len, tp_len, ts_len; /* their lengths */
    bool has_auth;                   /* authorization was sent */
    bool bad_header;                 /* a header too long to keep */
    bool is_post;                    /* :method POST */
    bool grpc_ct;                    /* content-type application/grpc... */
    bool compressed;                 /* grpc-encoding other than identity */
    int64_t deadline_us;             /* grpc-timeout, monotonic; 0 = none */
    /* loop only */
    const hk_grpc_method *m; /* the method, once dispatched */
    bool started;            /* the call runs or ran */
    bool threaded;           /* on a thread of its own */
    bool responded;          /* response headers submitted */
    bool deferred;           /* the data source waits for `out` */
    bool ended;              /* trailers submitted (or trailers-only) */
    size_t given;            /* request bytes given back to the window */
    hk_txn **txn;            /* where the call's read transaction lives */
    bool *txn_live;          /* it holds the call's snapshot */
    hk_txn *own_txn;         /* a threaded call's transaction */
    bool own_txn_live;       /* own_txn holds a snapshot */
    /* shared with the call thread, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;     /* in, out or closed changed */
    hk_buf in;             /* request bytes (framed) */
    size_t in_off;         /* bytes of `in` the call took */
    bool in_end;           /* the client ended its side */
    size_t want_given;     /* bytes of `in` to give back (absolute) */
    size_t told;           /* want_given when the loop last heard */
    hk_buf out;            /* response bytes (framed) */
    size_t out_off;        /* bytes of `out` sent */
    bool done;             /* the status is set */
    grpc_status_code code; /* the status */
    char *message;         /* its message (hk_malloc), or NULL */
    char field[64];        /* hakgal-error-field, "" = none */
    bool closed;           /* the stream ended: sends are dropped */
    bool reset;            /* the call asks the loop to reset it */
    size_t in_base;        /* bytes dropped from the front of `in` */
};

struct hk_h2_conn {
    hk_h2_loop *loop;        /* its loop */
    int fd;                  /* the socket */
    nghttp2_session *ses;    /* the HTTP/2 session */
    hk_buf wbuf;             /* bytes to write */
    size_t woff;             /* bytes of wbuf written */
    bool want_out;           /* EPOLLOUT is on */
    bool dying;              /* closed: callbacks and events do nothing
                                until the loop frees it (dead list) */
    hk_h2_stream *streams;   /* its open streams */
    hk_h2_conn *prev, *next; /* the loop's connections */
};

struct hk_h2_loop {
    struct hk_h2 *g;          /* the endpoint */
    int ep;                   /* epoll fd */
    int efd;                  /* eventfd: the ready list has news */
    pthread_t thread;         /* the loop */
    bool started;             /* thread was created */
    hk_h2_conn *conns;        /* its connections */
    hk_h2_conn *dead;         /* closed ones, freed after an epoll batch
                                 (its events may still name them) */
    hk_txn *rtxn;             /* read transaction of inline calls */
    bool rtxn_live;           /* rtxn holds a call's snapshot */
    pthread_mutex_t qmu;      /* guards ready and the fds handed over */
    hk_h2_stream *ready;      /* streams a call thread changed */
    int *fds;                 /* accepted sockets handed to this loop */
    size_t n_fds, cap_fds;    /* their count and room */
    int64_t accept_paused;    /* out of descriptors: listen again at this
                                 time (monotonic us), 0 = listening */
    int64_t next_tick_us;     /* next deadline scan */
    char listen_tag, efd_tag; /* epoll data of the two fds */
};

typedef struct hk_h2 {
    hk_server *srv;                 /* the server */
    int listen_fd;                  /* the listening socket */
    int port;                       /* its port */
    hk_h2_loop *loops;              /* n_loops */
    unsigned n_loops;               /* loop threads */
    atomic_bool stopping;           /* loops close everything and end */
    atomic_uint threads;            /* call threads running */
    atomic_uint next_loop;          /* round robin of accepted connections */
    size_t max_msg;                 /* largest request message (--max-body) */
    int64_t timeout_us;             /* --request-timeout-ms */
    nghttp2_session_callbacks *cbs; /* shared by every session */
    nghttp2_option *opt;            /* shared by every session */
} hk_h2;

static hk_h2 *g_h2;

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ==== Streams ==== */

static hk_h2_stream *stream_new(hk_h2_conn *conn, int32_t id)
{
    hk_h2_stream *s = hk_calloc(1, sizeof(*s));
    if (!s) return NULL;
    atomic_init(&s->refs, 1);
    s->id = id;
    s->loop = conn->loop;
    s->conn = conn;
    s->in = (hk_buf)HK_BUF_INIT;
    s->out = (hk_buf)HK_BUF_INIT;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->next = conn->streams;
    if (conn->streams) conn->streams->prev = s;
    conn->streams = s;
    return s;
}

static void stream_unref(hk_h2_stream *s)
{
    if (atomic_fetch_sub(&s->refs, 1) != 1) return;
    hk_buf_free(&s->in);
    hk_buf_free(&s->out);
    hk_free(s->message);
    if (s->own_txn) hk_txn_abort(s->own_txn);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    hk_free(s);
}

/* The stream ended on the loop's side: tell the call, drop the
 * connection's reference. */
static void stream_detach(hk_h2_stream *s)
{
    hk_h2_conn *conn = s->conn;
    if (!conn) return;
    if (s->prev)
        s->prev->next = s->next;
    else
        conn->streams = s->next;
    if (s->next) s->next->prev = s->prev;
    s->prev = s->next = NULL;
    s->conn = NULL;
    pthread_mutex_lock(&s->mu);
    s->closed = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    stream_unref(s);
}

/* A call thread changed s: queue it for its loop and wake the loop. */
static void stream_notify(hk_h2_stream *s)
{
    hk_h2_loop *l = s->loop;
    bool wake = false;
    pthread_mutex_lock(&l->qmu);
    if (!s->queued) {
        s->queued = true;
        atomic_fetch_add(&s->refs, 1);
        wake = l->ready == NULL;
        s->ready_next = l->ready;
        l->ready = s;
    }
    pthread_mutex_unlock(&l->qmu);
    if (wake) {
        uint64_t one = 1;
        ssize_t w = write(l->efd, &one, sizeof(one));
        (void)w; /* a full counter already wakes the loop */
    }
}

/* ==== Responses (loop) ==== */

/* grpc-message is percent-encoded: every byte outside 0x20..0x7e, and
 * '%' itself (the gRPC HTTP/2 protocol). */
static size_t percent_encode(const char *in, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        bool plain = *p >= 0x20 && *p <= 0x7e && *p != '%';
        if (n + (plain ? 1 : 3) >= cap) break;
        if (plain) {
            out[n++] = (char)*p;
        } else {
            out[n++] = '%';
            out[n++] = hex[*p >> 4];
            out[n++] = hex[*p & 15];
        }
    }
    out[n] = '\0';
    return n;
}

#define NV(name, value, vlen)                                                  \
    {                                                                          \
        (uint8_t *)(name), (uint8_t *)(value), sizeof(name) - 1, (vlen),       \
            NGHTTP2_NV_FLAG_NO_COPY_NAME                                       \
    }

/* The status trailers of s (under s->mu) into nv; buffers hold values
 * until nghttp2 copied them (it does on submit). */
static size_t status_nv(const hk_h2_stream *s, nghttp2_nv *nv, char *code_txt,
                        char *msg_txt, size_t msg_cap)
{
    size_t n = 0;
    /* Status codes are 0..16: no printf on every call. */
    unsigned code = (unsigned)s->code < 100 ? (unsigned)s->code : 2;
    size_t cl = 0;
    if (code >= 10) code_txt[cl++] = (char)('0' + code / 10);
    code_txt[cl++] = (char)('0' + code % 10);
    code_txt[cl] = '\0';
    nv[n++] = (nghttp2_nv)NV("grpc-status", code_txt, cl);
    if (s->message && s->message[0]) {
        size_t ml = percent_encode(s->message, msg_txt, msg_cap);
        nv[n++] = (nghttp2_nv)NV("grpc-message", msg_txt, ml);
    }
    if (s->field[0])
        nv[n++] =
            (nghttp2_nv)NV("hakgal-error-field", s->field, strlen(s->field));
    return n;
}

static ssize_t data_read(nghttp2_session *ses, int32_t id, uint8_t *buf,
                         size_t length, uint32_t *flags,
                         nghttp2_data_source *src, void *ud)
{
    (void)ud;
    hk_h2_stream *s = src->ptr;
    pthread_mutex_lock(&s->mu);
    size_t avail = s->out.len - s->out_off;
    size_t n = avail < length ? avail : length;
    if (n) {
        memcpy(buf, s->out.data + s->out_off, n);
        s->out_off += n;
        if (s->out_off == s->out.len) {
            hk_buf_reset(&s->out);
            s->out_off = 0;
        }
        /* The call waits for the unsent bytes to drop below HK_H2_OUT_HIGH. */
        if (s->threaded && avail > HK_H2_OUT_HIGH &&
            avail - n <= HK_H2_OUT_HIGH)
            pthread_cond_broadcast(&s->cv);
    }
    ssize_t rv = (ssize_t)n;
    bool eof = avail == n && s->done;
    if (eof) {
        nghttp2_nv nv[3];
        char code_txt[8], msg_txt[1024];
        size_t k = status_nv(s, nv, code_txt, msg_txt, sizeof(msg_txt));
        *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        if (nghttp2_submit_trailer(ses, id, nv, k) != 0)
            rv = NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    } else if (n == 0) {
        s->deferred = true;
        rv = NGHTTP2_ERR_DEFERRED;
    }
    pthread_mutex_unlock(&s->mu);
    if (eof) s->ended = true;
    return rv;
}

/* Moves s's response on: headers when the first message or the status is
 * there, data as it comes, trailers-only when the status comes first. */
static void respond(hk_h2_stream *s)
{
    hk_h2_conn *conn = s->conn;
    if (!conn || s->ended) return;
    pthread_mutex_lock(&s->mu);
    bool has_out = s->out.len > s->out_off;
    bool done = s->done;
    bool reset = s->reset;
    pthread_mutex_unlock(&s->mu);
    if (reset) {
        nghttp2_submit_rst_stream(conn->ses, NGHTTP2_FLAG_NONE, s->id,
                                  NGHTTP2_CANCEL);
        s->ended = true;
        return;
    }
    if (!s->responded) {
        if (!has_out && !done) return;
        nghttp2_nv hd[6];
        size_t n = 0;
        hd[n++] = (nghttp2_nv)NV(":status", "200", 3);
        hd[n++] = (nghttp2_nv)NV("content-type", "application/grpc", 16);
        s->responded = true;
        if (!has_out) { /* trailers-only: the status in the headers */
            char code_txt[8], msg_txt[1024];
            pthread_mutex_lock(&s->mu);
            n += status_nv(s, hd + n, code_txt, msg_txt, sizeof(msg_txt));
            pthread_mutex_unlock(&s->mu);
            nghttp2_submit_response(conn->ses, s->id, hd, n, NULL);
            s->ended = true;
            return;
        }
        nghttp2_data_provider dp = {.source = {.ptr = s},
                                    .read_callback = data_read};
        nghttp2_submit_response(conn->ses, s->id, hd, n, &dp);
        return;
    }
    if (s->deferred && (has_out || done)) {
        s->deferred = false;
        nghttp2_session_resume_data(conn->ses, s->id);
    }
}

/* An HTTP-level refusal (not a gRPC call at all). */
static void respond_http(hk_h2_stream *s, const char *status)
{
    nghttp2_nv hd[1] = {NV(":status", status, 3)};
    s->responded = s->ended = true;
    nghttp2_submit_response(s->conn->ses, s->id, hd, 1, NULL);
}

/* ==== Calls ==== */

/* Frames a message into s->out (under mu): the 5-byte prefix (not
 * compressed, length big-endian), then m packed or bytes. */
static hk_err frame_out(hk_h2_stream *s, const ProtobufCMessage *m,
                        const void *bytes, size_t len)
{
    if (m) len = protobuf_c_message_get_packed_size(m);
    if (len > UINT32_MAX) return HK_ERR_LIMIT;
    if (hk_buf_reserve(&s->out, len + 5) != HK_OK) return HK_ERR_NOMEM;
    uint8_t *p = (uint8_t *)s->out.data + s->out.len;
    p[0] = 0;
    p[1] = (uint8_t)(len >> 24);
    p[2] = (uint8_t)(len >> 16);
    p[3] = (uint8_t)(len >> 8);
    p[4] = (uint8_t)len;
    if (m)
        protobuf_c_message_pack(m, p + 5);
    else if (len)
        memcpy(p + 5, bytes, len);
    s->out.len += len + 5;
    s->out.data[s->out.len] = '\0';
    return HK_OK;
}

/* Waits on s->cv until `until_us` (monotonic); false on timeout. */
static bool wait_until(hk_h2_stream *s, int64_t until_us)
{
    int64_t now = mono_us();
    if (now >= until_us) return false;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ns = (int64_t)ts.tv_nsec + (until_us - now) * 1000;
    ts.tv_sec += (time_t)(ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    return pthread_cond_timedwait(&s->cv, &s->mu, &ts) != ETIMEDOUT ||
           mono_us() < until_us;
}

/* The peer did not keep up within --request-timeout-ms: reset the stream
 * (under mu). */
static void give_up(hk_h2_stream *s)
{
    s->closed = true;
    s->reset = true;
}

hk_err hk_h2_send(hk_grpc_call *c, const ProtobufCMessage *m, const void *bytes,
                  size_t len)
{
    hk_h2_stream *s = c->h2;
    hk_err rc = HK_OK;
    pthread_mutex_lock(&s->mu);
    if (s->threaded) {
        int64_t until = mono_us() + g_h2->timeout_us;
        while (!s->closed && s->out.len - s->out_off > HK_H2_OUT_HIGH)
            if (!wait_until(s, until)) give_up(s);
    }
    if (s->closed || s->done)
        rc = HK_ERR_IO;
    else
        rc = frame_out(s, m, bytes, len);
    pthread_mutex_unlock(&s->mu);
    if (rc != HK_OK) {
        c->finished = true; /* no status can go out any more */
        if (rc != HK_ERR_IO) {
            pthread_mutex_lock(&s->mu);
            give_up(s);
            pthread_mutex_unlock(&s->mu);
        }
        rc = HK_ERR_IO;
    }
    c->sent_initial = true;
    if (s->threaded) stream_notify(s);
    return rc;
}

void hk_h2_finish(hk_grpc_call *c, const ProtobufCMessage *m, const void *bytes,
                  size_t len, grpc_status_code code, const char *message,
                  const char *field)
{
    hk_h2_stream *s = c->h2;
    if (c->finished) return;
    c->finished = true;
    c->status = code;
    pthread_mutex_lock(&s->mu);
    if (!s->closed && !s->done) {
        if ((m || bytes) && frame_out(s, m, bytes, len) != HK_OK) {
            code = GRPC_STATUS_RESOURCE_EXHAUSTED;
            message = "out of memory";
            field = NULL;
            c->status = code;
        }
        s->code = code;
        s->message = message && message[0] ? hk_strdup(message) : NULL;
        size_t fl = field ? strnlen(field, sizeof(s->field) - 1) : 0;
        memcpy(s->field, field ? field : "", fl);
        s->field[fl] = '\0';
        s->done = true;
    }
    pthread_mutex_unlock(&s->mu);
    if (s->threaded) stream_notify(s);
}

bool hk_h2_closed(const hk_grpc_call *c)
{
    hk_h2_stream *s = c->h2;
    pthread_mutex_lock(&s->mu);
    bool closed = s->closed;
    pthread_mutex_unlock(&s->mu);
    return closed;
}

void hk_h2_idle(hk_grpc_call *c, int64_t us)
{
    hk_h2_stream *s = c->h2;
    if (!s->threaded) return; /* a short call never waits */
    int64_t until = mono_us() + us;
    pthread_mutex_lock(&s->mu);
    while (!s->closed && wait_until(s, until))
        ;
    pthread_mutex_unlock(&s->mu);
}

hk_err hk_h2_recv(hk_grpc_call *c, const ProtobufCMessageDescriptor *d,
                  ProtobufCMessage **out)
{
    hk_h2_stream *s = c->h2;
    *out = NULL;
    int64_t until = mono_us() + g_h2->timeout_us;
    uint8_t *msg = NULL;
    size_t len = 0;
    hk_err rc = HK_OK;
    const char *why = NULL;
    grpc_status_code code = GRPC_STATUS_OK;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        size_t avail = s->in.len - s->in_off;
        const uint8_t *p = (const uint8_t *)s->in.data + s->in_off;
        if (avail >= 5) {
            len = (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 |
                  p[4];
            if (p[0] != 0) {
                code = GRPC_STATUS_UNIMPLEMENTED;
                why = "compressed messages are not supported";
                break;
            }
            if (len > g_h2->max_msg) {
                code = GRPC_STATUS_RESOURCE_EXHAUSTED;
                why = "the message is larger than --max-body";
                break;
            }
            if (avail >= 5 + len) {
                msg = hk_malloc(len ? len : 1);
                if (!msg) {
                    code = GRPC_STATUS_RESOURCE_EXHAUSTED;
                    why = "out of memory";
                    break;
                }
                memcpy(msg, p + 5, len);
                s->in_off += 5 + len;
                break;
            }
        }
        if (s->closed) {
            rc = HK_ERR_IO;
            break;
        }
        if (s->in_end) {
            if (avail) {
                code = GRPC_STATUS_INVALID_ARGUMENT;
                why = "the stream ended inside a message";
            }
            break; /* the client closed its side */
        }
        /* Give the window back for what is here, so that the rest of a
         * message larger than the window can come. */
        s->want_given = s->in_base + s->in.len;
        s->told = s->want_given;
        pthread_mutex_unlock(&s->mu);
        stream_notify(s);
        pthread_mutex_lock(&s->mu);
        if (s->in.len - s->in_off != avail || s->closed || s->in_end) continue;
        if (!wait_until(s, until)) {
            give_up(s);
            rc = HK_ERR_IO;
            break;
        }
    }
    if (msg || why) {
        /* Drop what was read, then give its window back. */
        if (s->in_off > (64u << 10) && s->in_off * 2 > s->in.len) {
            memmove(s->in.data, s->in.data + s->in_off, s->in.len - s->in_off);
            s->in.len -= s->in_off;
            s->in.data[s->in.len] = '\0';
            s->in_base += s->in_off;
            s->in_off = 0;
        }
        if (s->want_given < s->in_base + s->in_off)
            s->want_given = s->in_base + s->in_off;
    }
    /* The loop hears of read bytes in steps, not once per message (a
     * BulkAdd of small messages would wake it for each). */
    bool tell = rc != HK_OK || s->want_given - s->told >= HK_H2_GIVE_STEP;
    if (tell) s->told = s->want_given;
    pthread_mutex_unlock(&s->mu);
    if (tell) stream_notify(s);
    if (rc != HK_OK) {
        c->finished = true;
        return rc;
    }
    if (why) {
        hk_grpc_finish(c, code, why, NULL);
        return HK_ERR_INVALID;
    }
    if (!msg) return HK_OK;
    rc = hk_grpc_decode(c, d, msg, len, out);
    hk_free(msg);
    return rc;
}

hk_txn *hk_h2_read_txn(hk_grpc_call *c)
{
    hk_h2_stream *s = c->h2;
    if (*s->txn_live) return *s->txn;
    hk_error err;
    hk_error_clear(&err);
    hk_err rc;
    if (!*s->txn) {
        rc = hk_txn_begin(hk_server_store(c->srv), false, s->txn, &err);
        if (rc != HK_OK) *s->txn = NULL;
    } else {
        rc = hk_txn_renew(*s->txn, &err);
        if (rc != HK_OK) {
            hk_txn_abort(*s->txn);
            *s->txn = NULL;
        }
    }
    if (rc != HK_OK) {
        hk_grpc_finish(c, GRPC_STATUS_UNAVAILABLE, err.message, NULL);
        return NULL;
    }
    *s->txn_live = true;
    return *s->txn;
}

void hk_h2_read_done(hk_grpc_call *c)
{
    hk_h2_stream *s = c->h2;
    if (!*s->txn_live) return;
    hk_txn_reset(*s->txn);
    *s->txn_live = false;
}

/* Runs the call of s start to end, on the loop or its own thread, as
 * grpc_server.c's handle_call does for the C core. req is the decoded
 * request of a unary or server-streaming call (taken). */
static void run_call(hk_h2_stream *s, ProtobufCMessage *req)
{
    hk_grpc_call c;
    memset(&c, 0, sizeof(c));
    c.tag_kind = HK_GRPC_TAG_CALL;
    c.srv = g_h2->srv;
    c.h2 = s;
    c.req = req;
    c.deadline_ms = g_h2->timeout_us / 1000;
    c.status = GRPC_STATUS_CANCELLED;
    const hk_grpc_method *m = s->m;
    hk_span span;
    bool traced = hk_otel_active();
    const hk_trace_ctx *outer = traced ? hk_otel_swap_current(NULL) : NULL;
    if (traced)
        hk_grpc_trace_begin(&span, m->path, s->tp_len ? s->tp : NULL, s->tp_len,
                            s->ts_len ? s->ts : NULL, s->ts_len);
    if (hk_grpc_authorize(&c, s->has_auth ? s->auth : NULL, s->auth_len,
                          m->need)) {
        m->handle(&c);
        if (!c.finished)
            hk_grpc_finish(&c, GRPC_STATUS_INTERNAL,
                           "the method gave no answer", NULL);
    }
    if (traced) {
        hk_grpc_trace_end(&span, &c);
        hk_otel_swap_current(outer);
    }
    if (c.req) protobuf_c_message_free_unpacked(c.req, NULL);
    hk_h2_read_done(&c);
}

typedef struct call_job {
    hk_h2_stream *s;       /* its stream (a reference) */
    ProtobufCMessage *req; /* the decoded request, or NULL */
} call_job;

static void *call_main(void *arg)
{
    call_job *j = arg;
    hk_h2_stream *s = j->s;
    ProtobufCMessage *req = j->req;
    hk_free(j);
    run_call(s, req);
    if (s->own_txn) {
        hk_txn_abort(s->own_txn);
        s->own_txn = NULL;
    }
    stream_notify(s);
    stream_unref(s);
    atomic_fetch_sub(&g_h2->threads, 1);
    return NULL;
}

/* Ends a call before it runs (loop), with trailers-only. */
static void refuse(hk_h2_stream *s, grpc_status_code code, const char *why)
{
    pthread_mutex_lock(&s->mu);
    if (!s->done) {
        s->code = code;
        s->message = hk_strdup(why);
        s->done = true;
    }
    pthread_mutex_unlock(&s->mu);
    s->started = true;
    respond(s);
}

/* Starts the call of s on a thread of its own (loop). */
static void start_thread(hk_h2_stream *s, ProtobufCMessage *req)
{
    if (atomic_fetch_add(&g_h2->threads, 1) >= HK_H2_MAX_THREADS) {
        atomic_fetch_sub(&g_h2->threads, 1);
        if (req) protobuf_c_message_free_unpacked(req, NULL);
        refuse(s, GRPC_STATUS_RESOURCE_EXHAUSTED, "too many calls running");
        return;
    }
    call_job *j = hk_calloc(1, sizeof(*j));
    s->started = s->threaded = true;
    s->txn = &s->own_txn;
    s->txn_live = &s->own_txn_live;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    if (j) {
        j->s = s;
        j->req = req;
        atomic_fetch_add(&s->refs, 1);
    }
    if (!j || pthread_create(&t, &at, call_main, j) != 0) {
        if (j) stream_unref(s);
        hk_free(j);
        pthread_attr_destroy(&at);
        atomic_fetch_sub(&g_h2->threads, 1);
        if (req) protobuf_c_message_free_unpacked(req, NULL);
        s->threaded = false;
        refuse(s, GRPC_STATUS_RESOURCE_EXHAUSTED, "cannot start the call");
        return;
    }
    pthread_attr_destroy(&at);
}

/* The request headers of s are complete (loop): refuse what is not a
 * gRPC call, start calls that stream requests at once. */
static void on_request_headers(hk_h2_stream *s)
{
    if (!s->is_post || !s->grpc_ct) {
        respond_http(s, "415");
        s->started = true;
        return;
    }
    s->m = hk_grpc_method_find(s->path, strlen(s->path));
    if (s->bad_header) {
        refuse(s, GRPC_STATUS_INVALID_ARGUMENT, "a header is too long");
    } else if (!s->m) {
        refuse(s, GRPC_STATUS_UNIMPLEMENTED, "unknown method");
    } else if (s->compressed) {
        refuse(s, GRPC_STATUS_UNIMPLEMENTED,
               "compressed messages are not supported (grpc-encoding)");
    } else if (s->deadline_us && mono_us() >= s->deadline_us) {
        refuse(s, GRPC_STATUS_DEADLINE_EXCEEDED, "Deadline Exceeded");
    } else if (s->m->kind == HK_GRPC_CLIENT_STREAM ||
               s->m->kind == HK_GRPC_BIDI_STREAM) {
        start_thread(s, NULL);
    }
}

/* The request of a unary or server-streaming call is complete (loop). */
static void on_request_end(hk_h2_stream *s)
{
    if (s->started) return;
    s->started = true;
    const uint8_t *p = (const uint8_t *)s->in.data;
    size_t n = s->in.len;
    size_t len = n >= 5 ? ((size_t)p[1] << 24 | (size_t)p[2] << 16 |
                           (size_t)p[3] << 8 | p[4])
                        : 0;
    if (n == 0) {
        refuse(s, GRPC_STATUS_INVALID_ARGUMENT,
               "the call carries no request message");
        return;
    }
    if (n < 5 || n != 5 + len) {
        refuse(s, GRPC_STATUS_INVALID_ARGUMENT,
               "the request is not one whole message");
        return;
    }
    if (p[0] != 0) {
        refuse(s, GRPC_STATUS_UNIMPLEMENTED,
               "compressed messages are not supported");
        return;
    }
    ProtobufCMessage *req =
        protobuf_c_message_unpack(s->m->in, NULL, len, p + 5);
    if (!req) {
        char msg[200];
        snprintf(msg, sizeof(msg), "the request is not a valid %s message",
                 s->m->in->name);
        refuse(s, GRPC_STATUS_INVALID_ARGUMENT, msg);
        return;
    }
    hk_buf_free(&s->in); /* the message was copied out */
    if (!hk_grpc_short_call(s->m, req)) {
        start_thread(s, req);
        return;
    }
    s->txn = &s->loop->rtxn;
    s->txn_live = &s->loop->rtxn_live;
    run_call(s, req);
    respond(s);
}

/* ==== nghttp2 callbacks (loop) ==== */

static int on_begin_headers(nghttp2_session *ses, const nghttp2_frame *f,
                            void *ud)
{
    hk_h2_conn *conn = ud;
    if (f->hd.type != NGHTTP2_HEADERS ||
        f->headers.cat != NGHTTP2_HCAT_REQUEST || conn->dying)
        return 0;
    hk_h2_stream *s = stream_new(conn, f->hd.stream_id);
    if (!s) return NGHTTP2_ERR_CALLBACK_FAILURE;
    nghttp2_session_set_stream_user_data(ses, f->hd.stream_id, s);
    return 0;
}

static bool keep(char *dst, size_t cap, size_t *dlen, const uint8_t *v,
                 size_t vlen)
{
    if (vlen >= cap) return false;
    memcpy(dst, v, vlen);
    dst[vlen] = '\0';
    if (dlen) *dlen = vlen;
    return true;
}

#define IS(name, lit)                                                          \
    (name##len == sizeof(lit) - 1 && memcmp(name, lit, sizeof(lit) - 1) == 0)

/* grpc-timeout: at most 8 digits and a unit (H M S m u n). */
static int64_t timeout_us(const uint8_t *v, size_t n)
{
    if (n < 2 || n > 9) return -1;
    int64_t t = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        if (v[i] < '0' || v[i] > '9') return -1;
        t = t * 10 + (v[i] - '0');
    }
    switch (v[n - 1]) {
    case 'H':
        return t * 3600 * 1000000;
    case 'M':
        return t * 60 * 1000000;
    case 'S':
        return t * 1000000;
    case 'm':
        return t * 1000;
    case 'u':
        return t;
    case 'n':
        return t / 1000;
    default:
        return -1;
    }
}

static int on_header(nghttp2_session *ses, const nghttp2_frame *f,
                     const uint8_t *name, size_t namelen, const uint8_t *value,
                     size_t valuelen, uint8_t flags, void *ud)
{
    (void)flags;
    (void)ud;
    if (f->hd.type != NGHTTP2_HEADERS) return 0;
    hk_h2_stream *s =
        nghttp2_session_get_stream_user_data(ses, f->hd.stream_id);
    if (!s || s->started) return 0; /* trailers of the request: ignored */
    if (IS(name, ":path")) {
        if (!keep(s->path, sizeof(s->path), NULL, value, valuelen))
            s->path[0] = '\0'; /* no method has a path that long */
    } else if (IS(name, ":method")) {
        s->is_post = valuelen == 4 && memcmp(value, "POST", 4) == 0;
    } else if (IS(name, "content-type")) {
        s->grpc_ct = valuelen >= 16 &&
                     memcmp(value, "application/grpc", 16) == 0 &&
                     (valuelen == 16 || value[16] == '+' || value[16] == ';');
    } else if (IS(name, "authorization")) {
        s->has_auth = true;
        if (!keep(s->auth, sizeof(s->auth), &s->auth_len, value, valuelen))
            s->bad_header = true;
    } else if (IS(name, "traceparent")) {
        if (!keep(s->tp, sizeof(s->tp), &s->tp_len, value, valuelen))
            s->tp_len = 0; /* not a valid one: a root span */
    } else if (IS(name, "tracestate")) {
        if (!keep(s->ts, sizeof(s->ts), &s->ts_len, value, valuelen))
            s->ts_len = 0;
    } else if (IS(name, "grpc-timeout")) {
        int64_t t = timeout_us(value, valuelen);
        if (t >= 0) s->deadline_us = mono_us() + t;
    } else if (IS(name, "grpc-encoding")) {
        s->compressed = !(valuelen == 8 && memcmp(value, "identity", 8) == 0);
    }
    return 0;
}

static int on_data_chunk(nghttp2_session *ses, uint8_t flags, int32_t id,
                         const uint8_t *data, size_t len, void *ud)
{
    (void)flags;
    hk_h2_conn *conn = ud;
    hk_h2_stream *s = nghttp2_session_get_stream_user_data(ses, id);
    if (!s || conn->dying || (s->started && !s->threaded)) {
        nghttp2_session_consume(ses, id, len); /* nobody reads it */
        return 0;
    }
    if (!s->threaded) {
        /* A unary or server-streaming request: one message at most. */
        nghttp2_session_consume(ses, id, len);
        if (s->in.len + len > g_h2->max_msg + 5) {
            refuse(s, GRPC_STATUS_RESOURCE_EXHAUSTED,
                   "the message is larger than --max-body");
            return 0;
        }
        if (hk_buf_append(&s->in, data, len) != HK_OK)
            refuse(s, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return 0;
    }
    pthread_mutex_lock(&s->mu);
    hk_err rc = HK_OK;
    if (s->done || s->closed) {
        s->given += len; /* the call ended: nobody reads it */
        s->in_base += len;
    } else {
        rc = hk_buf_append(&s->in, data, len);
        pthread_cond_broadcast(&s->cv);
    }
    bool drop = s->done || s->closed;
    pthread_mutex_unlock(&s->mu);
    if (drop) nghttp2_session_consume(ses, id, len);
    if (rc != HK_OK)
        nghttp2_submit_rst_stream(ses, NGHTTP2_FLAG_NONE, id,
                                  NGHTTP2_INTERNAL_ERROR);
    return 0;
}

static int on_frame_recv(nghttp2_session *ses, const nghttp2_frame *f, void *ud)
{
    hk_h2_conn *conn = ud;
    if (conn->dying) return 0;
    if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) return 0;
    hk_h2_stream *s =
        nghttp2_session_get_stream_user_data(ses, f->hd.stream_id);
    if (!s) return 0;
    if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST)
        on_request_headers(s);
    if (!(f->hd.flags & NGHTTP2_FLAG_END_STREAM)) return 0;
    if (s->threaded) {
        pthread_mutex_lock(&s->mu);
        s->in_end = true;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
    } else if (!s->started && s->m) {
        on_request_end(s);
    }
    return 0;
}

static int on_stream_close(nghttp2_session *ses, int32_t id,
                           uint32_t error_code, void *ud)
{
    (void)error_code;
    hk_h2_conn *conn = ud;
    if (conn->dying) return 0;
    hk_h2_stream *s = nghttp2_session_get_stream_user_data(ses, id);
    if (!s) return 0;
    nghttp2_session_set_stream_user_data(ses, id, NULL);
    if (s->threaded) {
        /* Request bytes the call never read still hold the connection's
         * window: give them back. */
        pthread_mutex_lock(&s->mu);
        size_t end = s->in_base + s->in.len;
        size_t left = end > s->given ? end - s->given : 0;
        s->given = end;
        pthread_mutex_unlock(&s->mu);
        if (left) nghttp2_session_consume_connection(ses, left);
    }
    stream_detach(s);
    return 0;
}

/* ==== Connections (loop) ==== */

static void conn_close(hk_h2_conn *conn)
{
    hk_h2_loop *l = conn->loop;
    if (conn->dying) return;
    conn->dying = true;
    while (conn->streams)
        stream_detach(conn->streams);
    nghttp2_session_del(conn->ses);
    epoll_ctl(l->ep, EPOLL_CTL_DEL, conn->fd, NULL);
    close(conn->fd);
    hk_buf_free(&conn->wbuf);
    if (conn->prev)
        conn->prev->next = conn->next;
    else
        l->conns = conn->next;
    if (conn->next) conn->next->prev = conn->prev;
    conn->prev = NULL;
    conn->next = l->dead;
    l->dead = conn;
}

static void free_dead(hk_h2_loop *l)
{
    while (l->dead) {
        hk_h2_conn *c = l->dead;
        l->dead = c->next;
        hk_free(c);
    }
}

static void want_out(hk_h2_conn *conn, bool on)
{
    if (conn->want_out == on) return;
    conn->want_out = on;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0),
                             .data.ptr = conn};
    epoll_ctl(conn->loop->ep, EPOLL_CTL_MOD, conn->fd, &ev);
}

/* Writes what nghttp2 has to send; false when the connection is done
 * (error, or both sides finished). */
static bool conn_flush(hk_h2_conn *conn)
{
    for (int round = 0; round < 64; round++) {
        while (conn->wbuf.len - conn->woff < HK_H2_WRITE_CHUNK) {
            const uint8_t *p;
            ssize_t n = nghttp2_session_mem_send(conn->ses, &p);
            if (n < 0) return false;
            if (n == 0) break;
            if (hk_buf_append(&conn->wbuf, p, (size_t)n) != HK_OK) return false;
        }
        size_t pending = conn->wbuf.len - conn->woff;
        if (pending == 0) break;
        ssize_t w =
            send(conn->fd, conn->wbuf.data + conn->woff, pending, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) return false;
            want_out(conn, true);
            return true;
        }
        conn->woff += (size_t)w;
        if (conn->woff == conn->wbuf.len) {
            hk_buf_reset(&conn->wbuf);
            conn->woff = 0;
        }
    }
    if (conn->wbuf.len > conn->woff) {
        want_out(conn, true); /* more to write: come back when writable */
        return true;
    }
    want_out(conn, false);
    return nghttp2_session_want_read(conn->ses) ||
           nghttp2_session_want_write(conn->ses);
}

static bool conn_read(hk_h2_conn *conn)
{
    uint8_t buf[16384];
    for (int round = 0; round < 16; round++) {
        ssize_t n = recv(conn->fd, buf, sizeof(buf), 0);
        if (n == 0) return false;
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno == EAGAIN || errno == EWOULDBLOCK;
        }
        if (nghttp2_session_mem_recv(conn->ses, buf, (size_t)n) < 0)
            return false;
        if ((size_t)n < sizeof(buf)) break;
    }
    return true;
}

/* Serves the accepted socket fd on loop l. */
static void conn_adopt(hk_h2_loop *l, int fd)
{
    hk_h2 *g = l->g;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    hk_h2_conn *conn = hk_calloc(1, sizeof(*conn));
    if (!conn ||
        nghttp2_session_server_new2(&conn->ses, g->cbs, conn, g->opt) != 0) {
        hk_free(conn);
        close(fd);
        return;
    }
    conn->loop = l;
    conn->fd = fd;
    conn->wbuf = (hk_buf)HK_BUF_INIT;
    nghttp2_settings_entry iv[2] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, HK_H2_MAX_STREAMS},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, HK_H2_STREAM_WINDOW}};
    nghttp2_submit_settings(conn->ses, NGHTTP2_FLAG_NONE, iv, 2);
    nghttp2_session_set_local_window_size(conn->ses, NGHTTP2_FLAG_NONE, 0,
                                          HK_H2_CONN_WINDOW);
    conn->next = l->conns;
    if (l->conns) l->conns->prev = conn;
    l->conns = conn;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = conn};
    if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) != 0 || !conn_flush(conn))
        conn_close(conn);
}

/* Connections are spread over the loops round robin, as REST's are
 * (serve.c): whichever loop the kernel wakes would otherwise take a burst
 * of connections alone, one core saturated while the other idles. A
 * socket meant for another loop goes through that loop's queue. */
static void conn_accept(hk_h2_loop *l)
{
    hk_h2 *g = l->g;
    for (int k = 0; k < 64; k++) {
        int fd =
            accept4(g->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            /* Out of descriptors or memory: the connection stays in the
             * backlog and the listener would fire again at once; pause
             * listening on this loop for 100 ms instead of spinning. */
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                errno == ENOMEM) {
                epoll_ctl(l->ep, EPOLL_CTL_DEL, g->listen_fd, NULL);
                l->accept_paused = mono_us() + 100000;
            }
            return; /* EAGAIN: another loop took it, or none left */
        }
        hk_h2_loop *t =
            &g->loops[atomic_fetch_add(&g->next_loop, 1) % g->n_loops];
        if (t == l) {
            conn_adopt(l, fd);
            continue;
        }
        bool wake = false;
        pthread_mutex_lock(&t->qmu);
        if (t->n_fds == t->cap_fds) {
            size_t cap = t->cap_fds ? 2 * t->cap_fds : 16;
            int *a = hk_realloc(t->fds, cap * sizeof(*a));
            if (a) {
                t->fds = a;
                t->cap_fds = cap;
            }
        }
        if (t->n_fds < t->cap_fds) {
            wake = t->n_fds == 0 && !t->ready;
            t->fds[t->n_fds++] = fd;
            fd = -1;
        }
        pthread_mutex_unlock(&t->qmu);
        if (fd >= 0) {
            conn_adopt(l, fd); /* no memory to hand it over: serve it here */
        } else if (wake) {
            uint64_t one = 1;
            ssize_t w = write(t->efd, &one, sizeof(one));
            (void)w;
        }
    }
}

/* Sockets other loops accepted for this one. */
static void adopt_handed(hk_h2_loop *l)
{
    int fds[64];
    size_t n;
    do {
        pthread_mutex_lock(&l->qmu);
        n = l->n_fds < 64 ? l->n_fds : 64;
        memcpy(fds, l->fds + (l->n_fds - n), n * sizeof(int));
        l->n_fds -= n;
        pthread_mutex_unlock(&l->qmu);
        for (size_t i = 0; i < n; i++)
            conn_adopt(l, fds[i]);
    } while (n == 64);
}

/* ==== The loop ==== */

/* Streams whose call thread changed something: respond, give back
 * window. */
static void drain_ready(hk_h2_loop *l)
{
    uint64_t v;
    ssize_t r = read(l->efd, &v, sizeof(v));
    (void)r;
    pthread_mutex_lock(&l->qmu);
    hk_h2_stream *s = l->ready;
    l->ready = NULL;
    for (hk_h2_stream *q = s; q; q = q->ready_next)
        q->queued = false;
    bool fds = l->n_fds > 0;
    pthread_mutex_unlock(&l->qmu);
    if (fds) adopt_handed(l);
    while (s) {
        hk_h2_stream *next = s->ready_next;
        hk_h2_conn *conn = s->conn;
        if (conn) {
            pthread_mutex_lock(&s->mu);
            /* A call that ended reads nothing more: all it left goes back. */
            size_t want = s->done ? s->in_base + s->in.len : s->want_given;
            size_t give = want > s->given ? want - s->given : 0;
            s->given += give;
            pthread_mutex_unlock(&s->mu);
            if (give) nghttp2_session_consume(conn->ses, s->id, give);
            respond(s);
            if (!conn_flush(conn)) conn_close(conn);
        }
        stream_unref(s);
        s = next;
    }
}

/* Calls past their grpc-timeout end with DEADLINE_EXCEEDED. */
static void scan_deadlines(hk_h2_loop *l, int64_t now)
{
    for (hk_h2_conn *conn = l->conns, *cn; conn; conn = cn) {
        cn = conn->next;
        bool any = false;
        for (hk_h2_stream *s = conn->streams; s; s = s->next) {
            if (!s->deadline_us || now < s->deadline_us || s->ended) continue;
            pthread_mutex_lock(&s->mu);
            bool was_done = s->done;
            if (!was_done) {
                s->code = GRPC_STATUS_DEADLINE_EXCEEDED;
                s->message = hk_strdup("Deadline Exceeded");
                s->done = true;
                hk_buf_reset(&s->out);
                s->out_off = 0;
            }
            s->closed = true; /* what the call sends now is dropped */
            pthread_cond_broadcast(&s->cv);
            pthread_mutex_unlock(&s->mu);
            if (!was_done) {
                s->started = true;
                respond(s);
                any = true;
            }
        }
        if (any && !conn_flush(conn)) conn_close(conn);
    }
}

static void *loop_main(void *arg)
{
    hk_h2_loop *l = arg;
    struct epoll_event evs[64];
    while (!atomic_load(&l->g->stopping)) {
        int n = epoll_wait(l->ep, evs, 64, HK_H2_TICK_MS);
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == &l->listen_tag) {
                conn_accept(l);
            } else if (p == &l->efd_tag) {
                drain_ready(l);
            } else {
                hk_h2_conn *conn = p;
                if (conn->dying) continue;
                bool ok = true;
                if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                    ok = conn_read(conn);
                if (ok) ok = conn_flush(conn);
                if (!ok) conn_close(conn);
            }
        }
        int64_t now = mono_us();
        if (now >= l->next_tick_us) {
            scan_deadlines(l, now);
            if (l->accept_paused && now >= l->accept_paused) {
                struct epoll_event le = {.events = EPOLLIN | EPOLLEXCLUSIVE,
                                         .data.ptr = &l->listen_tag};
                epoll_ctl(l->ep, EPOLL_CTL_ADD, l->g->listen_fd, &le);
                l->accept_paused = 0;
            }
            l->next_tick_us = now + HK_H2_TICK_MS * 1000;
        }
        free_dead(l);
    }
    while (l->conns)
        conn_close(l->conns);
    free_dead(l);
    return NULL;
}

/* ==== Start and stop ==== */

static int listen_on(const char *addr, int *port, hk_error *err)
{
    const char *colon = strrchr(addr, ':');
    if (!colon) {
        hk_error_set(err, HK_ERR_INVALID, "--grpc-listen %s: no port", addr);
        return -1;
    }
    char host[300];
    size_t hl = (size_t)(colon - addr);
    if (hl >= sizeof(host)) hl = sizeof(host) - 1;
    memcpy(host, addr, hl);
    host[hl] = '\0';
    char *h = host;
    if (h[0] == '[' && hl > 1 && h[hl - 1] == ']') {
        h[hl - 1] = '\0';
        h++;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int gai = getaddrinfo(h[0] ? h : NULL, colon + 1, &hints, &res);
    if (gai != 0) {
        hk_error_set(err, HK_ERR_INVALID, "--grpc-listen %s: %s", addr,
                     gai_strerror(gai));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family,
                    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
            listen(fd, 1024) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        hk_error_set(err, HK_ERR_IO, "gRPC: cannot listen on %s: %s", addr,
                     strerror(errno));
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *port = ss.ss_family == AF_INET6
                ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

void hk_h2_stop(hk_server *srv)
{
    hk_h2 *g = g_h2;
    if (!g || g->srv != srv) return;
    /* Health Watch streams see the server stopping within their poll
     * interval, send NOT_SERVING and end: up to 1 s for them. */
    for (int i = 0; i < 100 && hk_grpc_watching() > 0; i++)
        usleep(10000);
    usleep(2 * HK_H2_TICK_MS * 1000); /* their last messages go out */
    atomic_store(&g->stopping, true);
    for (unsigned i = 0; i < g->n_loops; i++)
        if (g->loops[i].started) pthread_join(g->loops[i].thread, NULL);
    /* Every stream is closed now: call threads end at their next send,
     * receive or idle wait. */
    while (atomic_load(&g->threads) > 0)
        usleep(1000);
    for (unsigned i = 0; i < g->n_loops; i++) {
        hk_h2_loop *l = &g->loops[i];
        while (l->ready) { /* queued by threads after the loop ended */
            hk_h2_stream *s = l->ready;
            l->ready = s->ready_next;
            stream_unref(s);
        }
        for (size_t k = 0; k < l->n_fds; k++)
            close(l->fds[k]);
        hk_free(l->fds);
        if (l->rtxn) hk_txn_abort(l->rtxn);
        if (l->ep >= 0) close(l->ep);
        if (l->efd >= 0) close(l->efd);
        pthread_mutex_destroy(&l->qmu);
    }
    if (g->listen_fd >= 0) close(g->listen_fd);
    if (g->cbs) nghttp2_session_callbacks_del(g->cbs);
    if (g->opt) nghttp2_option_del(g->opt);
    hk_free(g->loops);
    hk_free(g);
    g_h2 = NULL;
}

hk_err hk_h2_start(hk_server *srv, hk_error *err)
{
    const hk_server_config *cfg = hk_server_get_config(srv);
    if (g_h2) return hk_error_set(err, HK_ERR_STATE, "gRPC already runs");
    hk_err e = hk_grpc_check_listen(srv, err);
    if (e) return e;
    unsigned n =
        cfg->grpc_threads ? cfg->grpc_threads : hk_grpc_default_threads();
    hk_h2 *g = hk_calloc(1, sizeof(*g));
    hk_h2_loop *ls = g ? hk_calloc(n, sizeof(*ls)) : NULL;
    if (!ls) {
        hk_free(g);
        return hk_error_set(err, HK_ERR_NOMEM, "gRPC: out of memory");
    }
    g->srv = srv;
    g->loops = ls;
    g->n_loops = n;
    g->listen_fd = -1;
    atomic_init(&g->stopping, false);
    atomic_init(&g->threads, 0);
    atomic_init(&g->next_loop, 0);
    g->max_msg = cfg->max_body > UINT32_MAX ? UINT32_MAX : cfg->max_body;
    g->timeout_us =
        (int64_t)(cfg->request_timeout_ms > 0 ? cfg->request_timeout_ms
                                              : 10000) *
        1000;
    for (unsigned i = 0; i < n; i++) {
        ls[i].g = g;
        ls[i].ep = ls[i].efd = -1;
        pthread_mutex_init(&ls[i].qmu, NULL);
    }
    g_h2 = g;
    if (nghttp2_session_callbacks_new(&g->cbs) != 0 ||
        nghttp2_option_new(&g->opt) != 0) {
        hk_h2_stop(srv);
        return hk_error_set(err, HK_ERR_NOMEM, "gRPC: out of memory");
    }
    nghttp2_session_callbacks_set_on_begin_headers_callback(g->cbs,
                                                            on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(g->cbs, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(g->cbs,
                                                              on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(g->cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(g->cbs,
                                                           on_stream_close);
    /* The window is given back as calls read (nghttp2_session_consume). */
    nghttp2_option_set_no_auto_window_update(g->opt, 1);
    g->listen_fd = listen_on(cfg->grpc_listen, &g->port, err);
    if (g->listen_fd < 0) {
        hk_err rc = err->code;
        hk_h2_stop(srv);
        return rc;
    }
    for (unsigned i = 0; i < n; i++) {
        hk_h2_loop *l = &ls[i];
        l->ep = epoll_create1(EPOLL_CLOEXEC);
        l->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        struct epoll_event le = {.events = EPOLLIN | EPOLLEXCLUSIVE,
                                 .data.ptr = &l->listen_tag};
        struct epoll_event ee = {.events = EPOLLIN, .data.ptr = &l->efd_tag};
        if (l->ep < 0 || l->efd < 0 ||
            epoll_ctl(l->ep, EPOLL_CTL_ADD, g->listen_fd, &le) != 0 ||
            epoll_ctl(l->ep, EPOLL_CTL_ADD, l->efd, &ee) != 0) {
            hk_h2_stop(srv);
            return hk_error_set(err, HK_ERR_IO, "gRPC: epoll: %s",
                                strerror(errno));
        }
    }
    for (unsigned i = 0; i < n; i++) {
        if (pthread_create(&ls[i].thread, NULL, loop_main, &ls[i]) != 0) {
            hk_h2_stop(srv);
            return hk_error_set(err, HK_ERR_NOMEM,
                                "gRPC: cannot start loop thread");
        }
        ls[i].started = true;
        char name[16];
        snprintf(name, sizeof(name), "hk-grpc-%u", i % 1000u);
        pthread_setname_np(ls[i].thread, name);
    }
    if (!cfg->quiet) {
        const char *colon = strrchr(cfg->grpc_listen, ':');
        int hl = colon ? (int)(colon - cfg->grpc_listen)
                       : (int)strlen(cfg->grpc_listen);
        fprintf(stderr, "hakgal serve: gRPC on %.*s:%d (%u threads, h2)\n", hl,
                cfg->grpc_listen, g->port, n);
    }
    return HK_OK;
}
