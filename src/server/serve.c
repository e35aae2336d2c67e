/*
 * serve.c — `hakgal serve`: start-up, the event loops, graceful shutdown.
 *
 * Start-up (main thread): settings -> tokens -> protected-mode check ->
 * open the KB -> h2o configuration and routes -> MCP hook -> writer and
 * pool threads -> one SO_REUSEPORT listening socket per loop -> loop
 * threads. Whichever loop accepts a connection, connections are placed on
 * the loops round-robin (see on_accept). The main thread then
 * waits in sigwait for SIGTERM/SIGINT (those signals are blocked in every
 * thread, so no handler runs in a random thread).
 *
 * Each loop thread owns an h2o evloop and context, its listening socket, a
 * multithread queue (completions from the writer and the pool arrive
 * there) and a reusable read transaction; it creates and destroys all of
 * them itself (h2o's buffer recycling is per thread).
 *
 * Shutdown, in three steps so that no completion is ever lost:
 *  1. `stopping` is set; each loop closes its listener, asks h2o to close
 *     idle keep-alive connections, and serves until its connections and
 *     pending asynchronous jobs are gone (or request-timeout-ms passes),
 *     then reports itself drained while still delivering messages;
 *  2. the MCP endpoint (if linked in) shuts down its sessions and threads,
 *     then the pool and the writer drain: every queued write is committed
 *     and its completion sent to its loop;
 *  3. `finish` is set; loops deliver the last completions, dispose of their
 *     h2o state and exit; the KB is closed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "core/clock.h"
#include "llm/llm.h"
#include "server/server_int.h"
#include "service/svc_cmd.h"
#include "store/store.h"
#include "service/service.h"
#include "service/svc_vector.h"

void hk_loop_bind_thread(hk_loop *loop);

/* ==== Accessors (server.h) ==== */

const hk_server_config *hk_server_get_config(const hk_server *srv)
{
    return &srv->cfg;
}

hk_store *hk_server_store(hk_server *srv)
{
    return srv->store;
}

struct hkv_store *hk_server_vstore(hk_server *srv)
{
    return srv->vs;
}

bool hk_server_stopping(const hk_server *srv)
{
    return atomic_load(&srv->stopping);
}

hk_txn *hk_loop_read_txn(hk_loop *loop, hk_error *err)
{
    if (loop->read_live) hk_txn_reset(loop->read_txn);
    loop->read_live = false;
    if (!loop->read_txn) {
        if (hk_txn_begin(loop->srv->store, false, &loop->read_txn, err) !=
            HK_OK) {
            loop->read_txn = NULL;
            return NULL;
        }
    } else if (hk_txn_renew(loop->read_txn, err) != HK_OK) {
        return NULL;
    }
    loop->read_live = true;
    return loop->read_txn;
}

void hk_loop_discard_read(hk_loop *loop)
{
    if (loop == NULL || loop->read_txn == NULL) return;
    hk_txn_abort(loop->read_txn);
    loop->read_txn = NULL;
    loop->read_live = false;
}

void hk_loop_read_done(hk_loop *loop)
{
    if (loop->read_live) {
        hk_txn_reset(loop->read_txn);
        loop->read_live = false;
    }
}

/* ==== Listening sockets ==== */

static bool addr_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    return false;
}

static hk_err resolve(hk_server *srv, struct sockaddr_storage *ss,
                      socklen_t *sl, hk_error *err)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port[8];
    snprintf(port, sizeof(port), "%u", (unsigned)srv->cfg.listen_port);
    const char *host = srv->cfg.listen_host[0] ? srv->cfg.listen_host : NULL;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0 || !res)
        return hk_error_set(err, HK_ERR_INVALID, "cannot resolve %s: %s",
                            srv->cfg.listen_host, gai_strerror(gai));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sl = res->ai_addrlen;
    freeaddrinfo(res);
    return HK_OK;
}

/* SO_REUSEPORT would let a second server silently share a port that is
 * already served; a plain bind first proves the address is free (and, for
 * port 0, picks the port). */
static hk_err probe_address(struct sockaddr_storage *ss, socklen_t *sl,
                            hk_error *err)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return hk_error_set(err, HK_ERR_IO, "socket: %s", strerror(errno));
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (bind(fd, (struct sockaddr *)ss, *sl) != 0) {
        int e = errno;
        close(fd);
        return hk_error_set(err, e == EADDRINUSE ? HK_ERR_BUSY : HK_ERR_IO,
                            "cannot listen there: %s", strerror(e));
    }
    socklen_t l = sizeof(*ss);
    getsockname(fd, (struct sockaddr *)ss, &l);
    *sl = l;
    close(fd);
    return HK_OK;
}

static int open_listener(struct sockaddr_storage *ss, socklen_t sl,
                         hk_error *err)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        hk_error_set(err, HK_ERR_IO, "socket: %s", strerror(errno));
        return -1;
    }
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    if (bind(fd, (struct sockaddr *)ss, sl) != 0) {
        hk_error_set(err, HK_ERR_IO, "bind: %s", strerror(errno));
        close(fd);
        return -1;
    }
    if (listen(fd, 4096) != 0) {
        hk_error_set(err, HK_ERR_IO, "listen: %s", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* ==== Loops ==== */

static void on_accept(h2o_socket_t *listener, const char *errstr);

static void resume_accept(h2o_timeout_entry_t *entry)
{
    hk_loop *loop = H2O_STRUCT_FROM_MEMBER(hk_loop, accept_pause, entry);
    if (loop->listener) h2o_socket_read_start(loop->listener, on_accept);
}

/* An accepted socket, watched so that shutdown can tell idle connections
 * from those still receiving or answering a request (see close_idle). */
typedef struct hk_conn_watch {
    h2o_linklist_t link;  /* in hk_loop.conns; unlinked when the socket
                             closes or the loop ends */
    h2o_socket_t *sock;   /* the socket (freed by h2o after on_close);
                             NULL once unlinked */
    unsigned inflight;    /* HTTP/1 requests received and not yet disposed
                             by h2o (their answers may still be pending) */
    unsigned refs;        /* the socket's link + one per request in flight */
    size_t body_reserved; /* bytes of srv->body_inflight reserved by the
                             gate for the first request's body, until that
                             request is disposed or the socket closes */
    hk_server *srv;       /* the server (for body_inflight) */
    size_t seen_bytes;    /* sock->bytes_read at seen_at */
    int64_t seen_at;      /* when bytes last arrived (shutdown only), us */
    bool read_shut;       /* its read side was shut down */
    bool http2;           /* carried an HTTP/2 request */
    bool held;            /* polled for reading, without reading, while
                             its request waits (hk_loop_hold_read) */
} hk_conn_watch;

static void watch_drop(hk_conn_watch *w)
{
    if (--w->refs == 0) hk_free(w);
}

/* Returns a body reservation to the shared budget (server_gate.c). */
static void release_body(hk_conn_watch *w)
{
    if (w->body_reserved)
        atomic_fetch_sub(&w->srv->body_inflight, w->body_reserved);
    w->body_reserved = 0;
}

static void on_conn_close(void *data)
{
    hk_conn_watch *w = data;
    release_body(w);
    atomic_fetch_sub_explicit(&w->srv->metrics.conns_open, 1,
                              memory_order_relaxed);
    h2o_linklist_unlink(&w->link);
    w->sock = NULL;
    watch_drop(w);
}

/* A request's pool was disposed: its answer is done (or abandoned). */
static void on_request_disposed(void *p)
{
    hk_conn_watch *w = *(hk_conn_watch **)p;
    /* h2o reads the next request right after this (or closes the socket) */
    if (w->held && w->sock) h2o_socket_dont_read(w->sock, 0);
    w->held = false;
    release_body(w); /* the first request's body is gone with it */
    w->inflight--;
    watch_drop(w);
}

/* Serves an accepted connection on this loop. */
static void serve_fd(hk_loop *loop, int fd)
{
    int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    h2o_socket_t *sock = h2o_evloop_socket_create(
        loop->evloop, fd, H2O_SOCKET_FLAG_IS_ACCEPTED_CONNECTION);
    atomic_fetch_add_explicit(&loop->accepted, 1, memory_order_relaxed);
    hk_conn_watch *w = hk_calloc(1, sizeof(*w));
    if (!w) { /* out of memory: not served */
        h2o_socket_close(sock);
        return;
    }
    w->sock = sock;
    w->srv = loop->srv;
    w->refs = 1;
    atomic_fetch_add_explicit(&loop->srv->metrics.conns_open, 1,
                              memory_order_relaxed);
    h2o_linklist_insert(&loop->conns, &w->link);
    sock->on_close.cb = on_conn_close; /* accepted sockets: ours */
    sock->on_close.data = w;
    hk_gate_start(loop, sock, &w->body_reserved);
}

/* A connection handed over by another loop. */
typedef struct fd_msg {
    hk_loop_msg msg; /* header */
    int fd;          /* accepted, non-blocking socket */
} fd_msg;

static void run_fd_msg(hk_loop_msg *m)
{
    fd_msg *f = (fd_msg *)m;
    hk_loop *loop = hk_loop_self();
    if (atomic_load(&loop->srv->stopping))
        close(f->fd); /* arrived after shutdown began: not served */
    else
        serve_fd(loop, f->fd);
    atomic_fetch_sub(&loop->pending, 1);
    hk_free(f);
}

/* Connections are spread over the loops round-robin: the kernel's
 * SO_REUSEPORT hash alone left 13 of 18 connections on one loop of two in a
 * wrk run, i.e. one core saturated while the other idled. A loop that
 * accepts a connection meant for another hands the descriptor over through
 * that loop's message queue; the h2o socket is created on the loop that
 * serves it (h2o's buffers are per thread). */
static void on_accept(h2o_socket_t *listener, const char *errstr)
{
    if (errstr) return;
    hk_loop *loop = listener->data;
    hk_server *srv = loop->srv;
    for (int i = 0; i < 32; i++) {
        int fd =
            accept4(loop->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            /* Out of descriptors or memory: the pending connection stays
             * in the backlog and the listener would fire again at once, so
             * pause accepting for 100 ms instead of spinning. */
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                errno == ENOMEM) {
                h2o_socket_read_stop(listener);
                if (!h2o_timeout_is_linked(&loop->accept_pause))
                    h2o_timeout_link(loop->evloop,
                                     &loop->ctx.hundred_ms_timeout,
                                     &loop->accept_pause);
            }
            break;
        }
        unsigned target = loop->index;
        if (srv->n_loops > 1)
            target = (unsigned)(atomic_fetch_add_explicit(
                                    &srv->next_loop, 1, memory_order_relaxed) %
                                srv->n_loops);
        fd_msg *m = target != loop->index ? hk_malloc(sizeof(*m)) : NULL;
        if (!m) {
            serve_fd(loop, fd);
            continue;
        }
        hk_loop *to = &srv->loops[target];
        m->msg.run = run_fd_msg;
        m->fd = fd;
        atomic_fetch_add(&to->pending, 1);
        hk_loop_send(to, &m->msg);
    }
}

/* How long an idle connection may stay open once shutdown began. */
#define SHUTDOWN_IDLE_MS 1000u

void hk_loop_note_request(h2o_req_t *req)
{
    if (!req->conn->callbacks->get_socket) return;
    h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
    if (!sock || sock->on_close.cb != on_conn_close) return;
    hk_conn_watch *w = sock->on_close.data;
    if (req->version >= 0x200) {
        w->http2 = true;
        return;
    }
    /* In flight until h2o disposes the request, i.e. after its answer
     * (an answer from the writer or a worker may take a while, and h2o
     * has consumed the request's bytes by then). */
    hk_conn_watch **slot =
        h2o_mem_alloc_shared(&req->pool, sizeof(*slot), on_request_disposed);
    *slot = w;
    w->inflight++;
    w->refs++;
}

/* ==== Holding a waiting request's socket ====
 *
 * h2o 2.2 stops reading an HTTP/1 connection once it has a whole request
 * and starts again after the answer is written. Its event loop applies a
 * change of a socket's interest at the start of its next iteration, so an
 * answer that comes later (from the writer thread, through a loop message)
 * costs two epoll_ctl(EPOLL_CTL_MOD) calls per request: one to drop
 * EPOLLIN, one to add it back. While a request waits for the writer, its
 * socket is instead left polled for reading with h2o's "don't read" flag
 * (h2o_socket_dont_read, public): the interest never changes, so neither
 * call is made. The client of a request-answer loop sends nothing while it
 * waits, so nothing fires. If it does send (a pipelined request) or close,
 * on_held_read runs without anything read (the flag) and stops reading,
 * which is h2o's own state, one call late: h2o reads those bytes after the
 * answer, as always. Nothing is ever read into the socket's input buffer
 * while the request lives, which matters: the request's path, headers and
 * body point into that buffer, and a read may move it. The flag is cleared
 * when h2o disposes the request (on_request_disposed), before h2o starts
 * reading the next one. Plain-text HTTP/1 connections that serve.c
 * accepted only. */

static void on_held_read(h2o_socket_t *sock, const char *err)
{
    (void)err; /* an error or end of file is h2o's to see after the answer */
    h2o_socket_read_stop(sock);
    h2o_socket_dont_read(sock, 0);
}

void hk_loop_hold_read(h2o_req_t *req)
{
    if (req->version >= 0x200 || !req->conn->callbacks->get_socket) return;
    h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
    if (!sock || sock->on_close.cb != on_conn_close || sock->ssl) return;
    hk_conn_watch *w = sock->on_close.data;
    /* not counted in flight (hk_loop_note_request): no dispose hook to
     * clear the flag; already reading: h2o's, not a waiting request */
    if (w->held || !w->inflight || h2o_socket_is_reading(sock)) return;
    w->held = true;
    h2o_socket_dont_read(sock, 1);
    h2o_socket_read_start(sock, on_held_read);
}

/* True when sock carries HTTP/2: negotiated by TLS, or seen in a request
 * (cleartext HTTP/2 starts as HTTP/1 in h2o). */
static bool is_http2(const hk_conn_watch *w)
{
    if (w->http2) return true;
    if (!w->sock->ssl) return false;
    h2o_iovec_t p = h2o_socket_ssl_get_selected_protocol(w->sock);
    return p.len >= 2 && memcmp(p.base, "h2", 2) == 0;
}

/* Shutdown: closes HTTP/1 connections that wait for a next request.
 *
 * h2o 2.2 closes them only when http1.req_timeout runs out, and that timer
 * is armed once when a connection starts waiting for a request and not
 * re-armed as its bytes arrive: it bounds the whole receipt of a request,
 * body included. Shortening it for everybody would also cut an upload that
 * began earlier and is still streaming in. So a connection counts as idle
 * only when no request of it is in flight (received and not yet answered:
 * counted from hk_loop_note_request until h2o disposes the request),
 * nothing of a next request is buffered, and no byte arrived for
 * SHUTDOWN_IDLE_MS.
 * Its read side is then shut down: h2o reads end-of-file and closes it as
 * if the client had. HTTP/2 connections are left to h2o (GOAWAY, and their
 * idle timeout is shortened instead, as it restarts with every read). */
static void close_idle(hk_loop *loop, bool first)
{
    int64_t now = hk_now_us();
    for (h2o_linklist_t *n = loop->conns.next; n != &loop->conns; n = n->next) {
        hk_conn_watch *w = H2O_STRUCT_FROM_MEMBER(hk_conn_watch, link, n);
        h2o_socket_t *sock = w->sock;
        if (first || w->inflight || sock->bytes_read != w->seen_bytes ||
            (sock->input && sock->input->size != 0)) {
            w->seen_bytes = sock->bytes_read;
            w->seen_at = now;
            continue;
        }
        if (w->read_shut ||
            now - w->seen_at < (int64_t)SHUTDOWN_IDLE_MS * 1000 || is_http2(w))
            continue;
        w->read_shut = true;
        shutdown(h2o_socket_get_fd(sock), SHUT_RD);
    }
}

/* Forgets the sockets still watched when the loop ends (the grace time ran
 * out, or a TLS handshake was still pending): they are never served again,
 * and their on_close must not reach the freed watch. */
static void release_watches(hk_loop *loop)
{
    while (!h2o_linklist_is_empty(&loop->conns)) {
        hk_conn_watch *w =
            H2O_STRUCT_FROM_MEMBER(hk_conn_watch, link, loop->conns.next);
        w->sock->on_close.cb = NULL;
        w->sock->on_close.data = NULL;
        w->sock = NULL;
        h2o_linklist_unlink(&w->link);
        watch_drop(w); /* requests still in flight keep it until disposed */
    }
}

static bool loop_idle(hk_loop *loop)
{
    return loop->gating == 0 &&
           h2o_linklist_is_empty(&loop->ctx.http1._conns) &&
           h2o_linklist_is_empty(&loop->ctx.http2._conns) &&
           atomic_load(&loop->pending) == 0;
}

static void unlink_all(h2o_timeout_t *t)
{
    while (!h2o_linklist_is_empty(&t->_entries)) {
        h2o_timeout_entry_t *e = H2O_STRUCT_FROM_MEMBER(
            h2o_timeout_entry_t, _link, t->_entries.next);
        h2o_timeout_unlink(e);
    }
}

static h2o_barrier_t g_ready_barrier;

/* Everything h2o allocates for a loop is created and destroyed on the loop's
 * own thread: h2o 2.2 recycles socket buffers through a thread-local
 * allocator that the socket remembers, so a socket made on one thread and
 * used on another would share that allocator unsafely. */
static void *loop_main(void *arg)
{
    hk_loop *loop = arg;
    hk_server *srv = loop->srv;
    hk_loop_bind_thread(loop);
    loop->evloop = h2o_evloop_create();
    h2o_linklist_init_anchor(&loop->conns);
    h2o_context_init(&loop->ctx, loop->evloop, &srv->h2o_config);
    loop->queue = h2o_multithread_create_queue(loop->evloop);
    h2o_multithread_register_receiver(loop->queue, &loop->receiver,
                                      hk_loop_on_messages);
    loop->accept_ctx.ctx = &loop->ctx;
    loop->accept_ctx.hosts = srv->h2o_config.hosts;
    loop->accept_ctx.ssl_ctx = srv->ssl_ctx;
    loop->listener = h2o_evloop_socket_create(loop->evloop, loop->listen_fd,
                                              H2O_SOCKET_FLAG_DONT_READ);
    loop->listener->data = loop;
    loop->accept_pause.cb = resume_accept;
    h2o_socket_read_start(loop->listener, on_accept);
    h2o_barrier_wait(&g_ready_barrier);

    /* Serve until stopping, then until idle (or the grace time ran out). */
    int64_t deadline = 0;
    for (;;) {
        h2o_evloop_run(loop->evloop, 100);
        if (!atomic_load(&srv->stopping)) continue;
        if (loop->listener) {
            if (h2o_timeout_is_linked(&loop->accept_pause))
                h2o_timeout_unlink(&loop->accept_pause);
            h2o_socket_read_stop(loop->listener);
            h2o_socket_close(loop->listener);
            loop->listener = NULL;
            h2o_context_request_shutdown(&loop->ctx);
            /* Idle HTTP/1 keep-alive connections are closed by close_idle
             * (h2o 2.2 would hold them for the request timeout). HTTP/2
             * restarts its idle timeout with every read, so shortening it
             * closes only connections that stay silent. */
            if (loop->ctx.http2.idle_timeout.timeout > SHUTDOWN_IDLE_MS)
                loop->ctx.http2.idle_timeout.timeout = SHUTDOWN_IDLE_MS;
            deadline =
                hk_now_us() + (int64_t)srv->cfg.request_timeout_ms * 1000;
            close_idle(loop, true);
        } else {
            close_idle(loop, false);
        }
        if (loop_idle(loop) || hk_now_us() > deadline) break;
    }
    atomic_store(&loop->drained, true);
    /* Keep delivering completions until the writer and pool have stopped
     * (serve.c stops them once every loop is drained). */
    while (!atomic_load(&srv->finish))
        h2o_evloop_run(loop->evloop, 10);
    for (int k = 0; k < 100 && atomic_load(&loop->pending) > 0; k++)
        h2o_evloop_run(loop->evloop, 10);

    if (loop->read_txn) {
        hk_txn_abort(loop->read_txn);
        loop->read_txn = NULL;
        loop->read_live = false;
    }
    while (loop->n_spare_jobs > 0) /* no completion comes any more */
        hk_free(loop->spare_jobs[--loop->n_spare_jobs]);
    bool idle = loop_idle(loop);
    h2o_multithread_unregister_receiver(loop->queue, &loop->receiver);
    h2o_multithread_destroy_queue(loop->queue);
    if (idle) {
        /* Only safe when no connection still points at the context.
         * h2o_context_request_shutdown leaves a one-second timer armed
         * that h2o_context_dispose insists is gone. */
        unlink_all(&loop->ctx.one_sec_timeout);
        unlink_all(&loop->ctx.zero_timeout);
        unlink_all(&loop->ctx.hundred_ms_timeout);
        h2o_context_dispose(&loop->ctx);
        /* Sockets closed above are freed by the loop's next turn. */
        h2o_evloop_run(loop->evloop, 0);
        release_watches(loop);
        h2o_evloop_destroy(loop->evloop);
    } else {
        release_watches(loop);
    }
    hk_loop_bind_thread(NULL);
    return NULL;
}

static hk_err loops_create(hk_server *srv, hk_error *err)
{
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    hk_err rc = resolve(srv, &ss, &sl, err);
    if (rc != HK_OK) return rc;
    srv->loopback = addr_is_loopback((struct sockaddr *)&ss);
    if (!srv->loopback && srv->n_tokens == 0 && !srv->cfg.insecure)
        return hk_error_set(
            err, HK_ERR_INVALID,
            "refusing to listen on %s without tokens: anyone could write. "
            "Configure tokens (--tokens FILE) or pass --insecure",
            srv->cfg.listen_host);
    rc = probe_address(&ss, &sl, err);
    if (rc != HK_OK) return rc;
    srv->cfg.listen_port = ntohs(ss.ss_family == AF_INET
                                     ? ((struct sockaddr_in *)&ss)->sin_port
                                     : ((struct sockaddr_in6 *)&ss)->sin6_port);
    srv->loops = hk_calloc(srv->cfg.threads, sizeof(hk_loop));
    if (!srv->loops)
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory for loops");
    for (unsigned i = 0; i < srv->cfg.threads; i++) {
        hk_loop *loop = &srv->loops[i];
        loop->srv = srv;
        loop->index = i;
        loop->listen_fd = open_listener(&ss, sl, err);
        if (loop->listen_fd < 0) return err ? err->code : HK_ERR_IO;
        srv->n_loops++;
    }
    return HK_OK;
}

/* Closes the sockets of loops whose thread never started (start-up
 * failure); running loops clean up after themselves. */
static void loops_close_unstarted(hk_server *srv)
{
    for (unsigned i = 0; i < srv->n_loops; i++)
        if (!srv->loops[i].started && srv->loops[i].listen_fd >= 0)
            close(srv->loops[i].listen_fd);
}

/* ==== TLS ==== */

static hk_err tls_setup(hk_server *srv, hk_error *err)
{
    if (!srv->cfg.tls_cert[0]) return HK_OK;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        return hk_error_set(err, HK_ERR_NOMEM, "cannot create a TLS context");
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(ctx, srv->cfg.tls_cert) != 1) {
        SSL_CTX_free(ctx);
        return hk_error_set(err, HK_ERR_INVALID,
                            "cannot load TLS certificate %s",
                            srv->cfg.tls_cert);
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, srv->cfg.tls_key, SSL_FILETYPE_PEM) !=
            1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        SSL_CTX_free(ctx);
        return hk_error_set(err, HK_ERR_INVALID,
                            "cannot load TLS key %s (or it does not match "
                            "the certificate)",
                            srv->cfg.tls_key);
    }
    h2o_ssl_register_alpn_protocols(ctx, h2o_http2_alpn_protocols);
    srv->ssl_ctx = ctx;
    return HK_OK;
}

/* ==== The command ==== */

/* DIR/hakgal.server names this server to commands that find the KB busy
 * (`hakgal compact` points at POST /v2/admin/compact). Advisory: a failure
 * to write it is reported and the server runs on. */
static void note_write(hk_server *srv)
{
    char url[600];
    bool v6 = strchr(srv->cfg.listen_host, ':') != NULL;
    snprintf(url, sizeof url, "%s://%s%s%s:%u", srv->ssl_ctx ? "https" : "http",
             v6 ? "[" : "", srv->cfg.listen_host, v6 ? "]" : "",
             (unsigned)srv->cfg.listen_port);
    hk_error err;
    hk_error_clear(&err);
    if (hk_svc_server_note_write(srv->cfg.data_dir, url, &err) != HK_OK &&
        !srv->cfg.quiet)
        fprintf(stderr, "hakgal serve: %s\n", err.message);
}

static int fail(hk_server *srv, const hk_error *err, int code)
{
    (void)srv;
    fprintf(stderr, "hakgal serve: %s\n",
            err->message[0] ? err->message : hk_strerror(err->code));
    return code;
}

static void banner(hk_server *srv)
{
    if (srv->cfg.quiet) return;
    const char *scheme = srv->ssl_ctx ? "https" : "http";
    bool v6 = strchr(srv->cfg.listen_host, ':') != NULL;
    fprintf(stderr,
            "hakgal serve: listening on %s://%s%s%s:%u (%u threads), KB %s\n",
            scheme, v6 ? "[" : "", srv->cfg.listen_host, v6 ? "]" : "",
            (unsigned)srv->cfg.listen_port, srv->n_loops, srv->cfg.data_dir);
    if (srv->n_tokens == 0) {
        if (srv->loopback)
            fprintf(stderr,
                    "hakgal serve: no tokens configured: protected mode, "
                    "loopback only, writes accepted without a token\n");
        else
            fprintf(stderr,
                    "hakgal serve: WARNING: no tokens and --insecure: anyone "
                    "who can reach this address can write\n");
    } else {
        fprintf(
            stderr, "hakgal serve: %u token(s); writes need a write token%s\n",
            srv->n_tokens, srv->cfg.read_auth ? ", reads a read token" : "");
    }
    size_t n_web = 0;
    const char *web = hk_web_root(srv, &n_web);
    if (web)
        fprintf(stderr, "hakgal serve: web explorer at /, %zu files from %s\n",
                n_web, web);
    if (srv->cfg.no_sync)
        fprintf(stderr, "hakgal serve: WARNING: --no-sync: commits are not "
                        "durable\n");
    fflush(stderr);
}

/* Starts the store's write-ahead log (--wal), replaying what an unclean
 * stop left in it, and says what the recovery did. */
static hk_err wal_start(hk_server *srv, hk_error *err)
{
    hk_svc_cmd_env env = {srv->store, srv->vs};
    hks_wal_options o = {.replay = hk_writer_wal_replay, .ud = &env};
    o.checkpoint_ms = srv->cfg.wal_checkpoint_ms;
    o.log_bytes = (uint64_t)srv->cfg.wal_log_mb << 20;
    hks_wal_report rep;
    hk_err e = hks_wal_start(srv->store, &o, &rep, err);
    if (e == HK_OK && rep.recovered)
        fprintf(stderr,
                "hakgal serve: recovered from the write-ahead log: rolled "
                "back to txn %llu, replayed %llu commits (%llu bytes); %s\n",
                (unsigned long long)rep.checkpoint,
                (unsigned long long)rep.records, (unsigned long long)rep.bytes,
                rep.tail);
    return e;
}

int hk_cmd_serve(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--new-token") == 0) {
            if (i + 2 >= argc) {
                fprintf(stderr, "hakgal serve: --new-token needs NAME and "
                                "ROLE (read, write or admin)\n");
                return HK_EXIT_USAGE;
            }
            return hk_auth_new_token(argv[i + 1], argv[i + 2]);
        }
    }
    hk_error err;
    hk_error_clear(&err);
    hk_server *srv = hk_calloc(1, sizeof(*srv));
    if (!srv) {
        fprintf(stderr, "hakgal serve: out of memory\n");
        return 1;
    }
    int code = 1;
    bool config_ready = false;
    bool mcp_registered = false; /* hk_mcp_http_shutdown still owed */
    bool help = false;
    hk_metrics_init(&srv->metrics);
    pthread_mutex_init(&srv->log_lock, NULL);
    hk_config_defaults(&srv->cfg);
    if (hk_config_load(&srv->cfg, argc, argv, &help, &err) != HK_OK) {
        code = fail(srv, &err,
                    strcmp(err.field, "usage") == 0 ? HK_EXIT_USAGE
                                                    : HK_EXIT_INVALID);
        goto done;
    }
    if (help) {
        code = 0;
        goto done;
    }
    if (hk_auth_load(srv, &err) != HK_OK) {
        code = fail(srv, &err, hk_exit_code(err.code));
        goto done;
    }
    if (srv->cfg.access_log[0]) {
        srv->access_log = strcmp(srv->cfg.access_log, "-") == 0
                              ? stderr
                              : fopen(srv->cfg.access_log, "a");
        if (!srv->access_log) {
            hk_error_set(&err, HK_ERR_IO, "access log %s: %s",
                         srv->cfg.access_log, strerror(errno));
            code = fail(srv, &err, HK_EXIT_IO);
            goto done;
        }
    }
    if (tls_setup(srv, &err) != HK_OK) {
        code = fail(srv, &err, HK_EXIT_INVALID);
        goto done;
    }
    /* OpenTelemetry: the exporter thread starts before any span can end
     * and stops after every thread that ends spans is joined. */
    if (hk_otel_start(&srv->cfg.otel, hk_version(), &err) != HK_OK) {
        code = fail(srv, &err, hk_exit_code(err.code));
        goto done;
    }

    /* Signals: blocked everywhere, taken by sigwait on this thread. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* One descriptor per client: allow as many as the hard limit does. */
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 &&
        nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }

    hk_store_options so;
    memset(&so, 0, sizeof(so));
    so.create = true;
    so.map_size = srv->cfg.map_size;
    so.no_sync = srv->cfg.no_sync;
    /* HK_WRITER_SYNC=pipelined: one fsync per group commit, the writer
     * acknowledging a group when a later sync has made it durable
     * (server_writer.c). Opt-in until it is measured on a quiet disk
     * (bench/RESULTS.md); by default LMDB's two syncs per commit. */
    const char *ws = getenv("HK_WRITER_SYNC");
    so.defer_meta_sync = ws && strcmp(ws, "pipelined") == 0;
    so.wal = srv->cfg.wal;
    so.max_readers = 1024;
    if (hk_svc_store_open(srv->cfg.data_dir, &so, &srv->store, &srv->vs,
                          &err) != HK_OK) {
        code = fail(srv, &err, hk_exit_code(err.code));
        goto done;
    }
    /* the review queue and model switch (src/llm) */
    if (hk_llm_attach(srv->store, &err) != HK_OK) {
        code = fail(srv, &err, hk_exit_code(err.code));
        goto done;
    }
    /* the write-ahead log: after every module's hooks are attached, so
     * that a replay runs the writes as they ran */
    if (srv->cfg.wal && wal_start(srv, &err) != HK_OK) {
        code = fail(srv, &err, hk_exit_code(err.code));
        goto done;
    }
    if (hk_server_stream_start(srv, &err) != HK_OK ||
        hk_server_repl_start(srv, &err) != HK_OK) {
        code = fail(srv, &err, hk_exit_code(err.code));
        goto done;
    }
    /* the learned model, when there is one: loaded beside the rest of the
     * start-up, which does not wait for it (routes_model.c) */
    hk_route_model_preload_start(srv);
    if (hk_web_load(srv, &err) != HK_OK) {
        code = fail(srv, &err, hk_exit_code(err.code));
        goto done;
    }

    h2o_config_init(&srv->h2o_config);
    config_ready = true;
    srv->h2o_config.server_name = h2o_iovec_init(H2O_STRLIT("hakgal"));
    /* h2o refuses bodies beyond twice our limit before reading them (the
     * router's fallback filter turns that answer into JSON too); up to
     * there the router answers with a detailed JSON 413. */
    srv->h2o_config.max_request_entity_size =
        srv->cfg.max_body > SIZE_MAX / 2 ? SIZE_MAX : srv->cfg.max_body * 2;
    srv->h2o_config.http1.req_timeout = srv->cfg.request_timeout_ms;
    /* An h2c upgrade would let a client switch protocols past a proxy that
     * only understands HTTP/1: off unless --h2c. */
    srv->h2o_config.http1.upgrade_to_http2 = srv->cfg.h2c ? 1 : 0;
    srv->h2o_config.http2.idle_timeout = srv->cfg.request_timeout_ms;
    srv->hostconf = h2o_config_register_host(
        &srv->h2o_config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    if (hk_router_install(srv, &err) != HK_OK) {
        code = fail(srv, &err, hk_exit_code(err.code));
        goto done;
    }
    srv->registering = true;
    if (hk_mcp_http_register) {
        /* Its shutdown hook runs whether or not registration completed. */
        mcp_registered = true;
        if (hk_mcp_http_register(srv, &err) != HK_OK) {
            code = fail(srv, &err, hk_exit_code(err.code));
            goto done;
        }
    }
    srv->registering = false;

    if (loops_create(srv, &err) != HK_OK) {
        code = fail(srv, &err, hk_exit_code(err.code));
        goto done;
    }
    /* new facts of auto_embed spaces get vectors after commit; not on a
     * replicated node, whose writes must all come from the log (its
     * vectors come from replicated embed commands) */
    if (srv->vs && !srv->repl &&
        hk_svc_autoembed_start(srv->store, srv->vs, &srv->autoembed, &err)) {
        code = fail(srv, &err, 1);
        goto done;
    }
    if (hk_writer_start(srv, &err) != HK_OK ||
        hk_pool_start(srv, &err) != HK_OK) {
        code = fail(srv, &err, 1);
        goto done;
    }
    if (hk_grpc_start && hk_grpc_start(srv, &err) != HK_OK) {
        code = fail(srv, &err, hk_exit_code(err.code));
        goto done;
    }
    /* vector indexes load (or build) in the background */
    if (srv->vs) (void)hkv_store_warm(srv->vs, NULL);
    srv->started_us = hk_now_us();
    h2o_barrier_init(&g_ready_barrier, srv->n_loops + 1);
    for (unsigned i = 0; i < srv->n_loops; i++) {
        if (pthread_create(&srv->loops[i].thread, NULL, loop_main,
                           &srv->loops[i]) != 0) {
            fprintf(stderr, "hakgal serve: cannot start loop thread %u\n", i);
            abort(); /* cannot unwind a partly started barrier */
        }
        srv->loops[i].started = true;
        char name[16];
        snprintf(name, sizeof name, "hk-loop-%u", i % 1000u);
        pthread_setname_np(srv->loops[i].thread, name);
    }
    h2o_barrier_wait(&g_ready_barrier);
    atomic_store(&srv->ready, true);
    banner(srv);
    note_write(srv);

    int sig = 0;
    while (sigwait(&sigs, &sig) != 0)
        ;
    if (!srv->cfg.quiet)
        fprintf(stderr, "hakgal serve: %s received, shutting down\n",
                sig == SIGINT ? "SIGINT" : "SIGTERM");
    atomic_store(&srv->ready, false);
    atomic_store(&srv->stopping, true);
    /* 1. loops stop accepting and drain their connections */
    for (unsigned i = 0; i < srv->n_loops; i++)
        while (!atomic_load(&srv->loops[i].drained))
            usleep(5000);
    /* The MCP endpoint ends its sessions and threads while the writer and
     * the loops still serve its last writes and messages. */
    if (hk_mcp_http_shutdown && mcp_registered) {
        hk_mcp_http_shutdown(srv);
        mcp_registered = false;
    }
    /* gRPC calls end while the writer still commits their writes. */
    if (hk_grpc_stop) hk_grpc_stop(srv);
    /* 2. blocking work and queued writes finish (committed) */
    hk_pool_stop(srv);
    hk_server_repl_stop(srv);
    hk_writer_stop(srv);
    hk_server_stream_stop(srv);
    /* 3. loops deliver the last completions and dispose of h2o state */
    atomic_store(&srv->finish, true);
    for (unsigned i = 0; i < srv->n_loops; i++)
        pthread_join(srv->loops[i].thread, NULL);
    code = 0;

done:
    if (hk_grpc_stop) hk_grpc_stop(srv);
    if (hk_mcp_http_shutdown && mcp_registered) hk_mcp_http_shutdown(srv);
    hk_pool_stop(srv);
    hk_server_repl_stop(srv);
    hk_writer_stop(srv);
    hk_server_stream_stop(srv);
    if (srv->loops) loops_close_unstarted(srv);
    hk_otel_stop();
    if (config_ready) h2o_config_dispose(&srv->h2o_config);
    if (srv->ssl_ctx) SSL_CTX_free(srv->ssl_ctx);
    hk_svc_autoembed_stop(srv->autoembed);
    hk_route_model_preload_join(srv);
    hk_svc_server_note_remove(srv->cfg.data_dir);
    hk_svc_store_close(srv->store, srv->vs);
    if (srv->access_log && srv->access_log != stderr) fclose(srv->access_log);
    hk_web_free(srv);
    hk_free(srv->tokens);
    hk_free(srv->loops);
    hk_metrics_destroy(&srv->metrics);
    pthread_mutex_destroy(&srv->log_lock);
    if (code == 0 && !help && !srv->cfg.quiet)
        fprintf(stderr, "hakgal serve: stopped\n");
    hk_free(srv);
    return code;
}
