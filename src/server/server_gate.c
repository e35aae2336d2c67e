/*
 * server_gate.c — reads the head of a connection's first HTTP/1 request
 * before h2o does, and refuses at the headers what must not cost a body.
 *
 * h2o 2.2 reads a request's whole body before any handler runs (it has no
 * request streaming), so a token-protected server read 63 MB uploads of
 * clients without a token in full before answering 401, and 30 of them at
 * once took 939 MB. The gate sits between accept and h2o on plaintext
 * connections:
 *  1. it collects the head (request line and headers) into the socket's
 *     input buffer, under h2o's own request timeout; a head beyond
 *     H2O_MAX_REQLEN or with more than H2O_MAX_HEADERS lines is answered
 *     431 in JSON (h2o would answer a plain-text 400);
 *  2. a request that announces a body (Content-Length > 0 or
 *     Transfer-Encoding) is refused at once when its bearer token is
 *     unknown (401) or its role is below what the route needs under the
 *     configured policy (401 without a token, 403 with one), see
 *     hk_router_need;
 *  3. an admitted body reserves its announced size (max-body for chunked)
 *     from a budget shared by every connection (HK_GATE_BUDGET_BODIES
 *     times max-body); beyond it the request is answered 503 busy at the
 *     headers. The reservation is released when the request is disposed
 *     (serve.c) or its connection closes;
 *  4. the socket, its input untouched, is handed to h2o (h2o_accept),
 *     which parses the buffered head as if it had read it itself.
 * Only the first request of a connection passes the gate; the router
 * therefore closes the connection after any request without a valid token
 * on a token-protected server, so that every such request is a first one.
 * TLS connections are handed to h2o directly (the handshake is h2o's).
 *
 * Runs on the loop thread that owns the socket. A refusal is written with
 * h2o_socket_write; then the write side is shut and what the client still
 * sends is dropped (up to LINGER_BYTES) before the socket is closed. The
 * gate's state is freed before the socket is handed over or closed.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "server/server_int.h"

typedef struct hk_gate {
    hk_loop *loop;             /* loop that owns the socket */
    h2o_socket_t *sock;        /* the connection */
    size_t *reserved;          /* where the body reservation is recorded
                                  (the connection's watch, serve.c) */
    h2o_timeout_entry_t timer; /* the head must arrive within the request
                                  timeout */
    char answer[512];          /* a refusal being written */
    size_t lingered;           /* bytes dropped after the refusal */
} hk_gate;

/* ==== Ending the gate ==== */

static void gate_free(hk_gate *g)
{
    if (h2o_timeout_is_linked(&g->timer)) h2o_timeout_unlink(&g->timer);
    g->loop->gating--;
    hk_free(g);
}

/* After a refusal: what the client still sends is read and dropped for a
 * while (at most LINGER_BYTES, within the request timeout), so that a
 * client still writing its request sees the answer rather than a reset. */
#define LINGER_BYTES (1u << 20)

static void close_gate(h2o_socket_t *sock)
{
    hk_gate *g = sock->data;
    h2o_socket_read_stop(sock);
    sock->data = NULL;
    gate_free(g);
    h2o_socket_close(sock);
}

static void on_linger_read(h2o_socket_t *sock, const char *err)
{
    hk_gate *g = sock->data;
    g->lingered += sock->input->size;
    h2o_buffer_consume(&sock->input, sock->input->size);
    if (err || g->lingered > LINGER_BYTES) close_gate(sock);
}

static void on_answer_sent(h2o_socket_t *sock, const char *err)
{
    hk_gate *g = sock->data;
    if (err) {
        close_gate(sock);
        return;
    }
    shutdown(h2o_socket_get_fd(sock), SHUT_WR);
    h2o_buffer_consume(&sock->input, sock->input->size);
    h2o_timeout_link(g->loop->evloop, &g->loop->ctx.http1.req_timeout,
                     &g->timer);
    h2o_socket_read_start(sock, on_linger_read);
}

/* Writes a JSON error answer and closes the connection once it is sent. */
static void refuse(hk_gate *g, int status, const char *reason, const char *code,
                   const char *message, const char *extra)
{
    h2o_socket_read_stop(g->sock);
    if (h2o_timeout_is_linked(&g->timer)) h2o_timeout_unlink(&g->timer);
    char body[256];
    int bl = snprintf(body, sizeof body,
                      "{\"error\":{\"code\":\"%s\",\"message\":\"%s\","
                      "\"detail\":null}}\n",
                      code, message);
    if (bl < 0 || (size_t)bl >= sizeof body) bl = 0;
    int n = snprintf(g->answer, sizeof g->answer,
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json; "
                     "charset=utf-8\r\nContent-Length: %d\r\n%s"
                     "Connection: close\r\nServer: hakgal\r\n\r\n%s",
                     status, reason, bl, extra ? extra : "", body);
    if (n < 0 || (size_t)n >= sizeof g->answer) n = 0;
    h2o_iovec_t v = h2o_iovec_init(g->answer, (size_t)n);
    h2o_socket_write(g->sock, &v, 1, on_answer_sent);
}

static void hand_over(hk_gate *g)
{
    h2o_socket_t *sock = g->sock;
    hk_loop *loop = g->loop;
    h2o_socket_read_stop(sock);
    sock->data = NULL;
    gate_free(g);
    h2o_accept(&loop->accept_ctx, sock);
}

static void on_timeout(h2o_timeout_entry_t *entry)
{
    hk_gate *g = H2O_STRUCT_FROM_MEMBER(hk_gate, timer, entry);
    h2o_socket_t *sock = g->sock;
    h2o_socket_read_stop(sock);
    sock->data = NULL;
    gate_free(g);
    h2o_socket_close(sock);
}

/* ==== The head ==== */

/* Length of the head in buf (through its empty line), 0 while
 * incomplete. */
static size_t head_length(const char *buf, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if (buf[i] != '\n') continue;
        if (buf[i + 1] == '\n') return i + 2;
        if (buf[i + 1] == '\r' && i + 2 < n && buf[i + 2] == '\n') return i + 3;
    }
    return 0;
}

typedef struct head_info {
    const char *method;    /* request method */
    size_t method_len;     /* its length */
    const char *path;      /* target without the query */
    size_t path_len;       /* its length */
    const char *auth;      /* Authorization value or NULL */
    size_t auth_len;       /* its length */
    bool te;               /* Transfer-Encoding present */
    size_t n_headers;      /* header lines */
    bool has_cl;           /* Content-Length present and numeric */
    unsigned long long cl; /* its value */
} head_info;

/* Picks the fields the gate needs from head[0..n); false when the request
 * line is not "METHOD SP TARGET SP ..." (h2o then answers it). */
static bool parse_head(const char *head, size_t n, head_info *h)
{
    memset(h, 0, sizeof *h);
    const char *end = head + n;
    const char *sp = memchr(head, ' ', n);
    if (!sp || sp == head) return false;
    h->method = head;
    h->method_len = (size_t)(sp - head);
    const char *t = sp + 1;
    const char *eol = memchr(t, '\n', (size_t)(end - t));
    if (!eol) return false;
    const char *sp2 = memchr(t, ' ', (size_t)(eol - t));
    if (!sp2) return false;
    const char *q = memchr(t, '?', (size_t)(sp2 - t));
    h->path = t;
    h->path_len = (size_t)((q ? q : sp2) - t);
    /* one header line per turn, up to the empty line */
    for (const char *p = eol + 1; p < end && *p != '\r' && *p != '\n';) {
        const char *le = memchr(p, '\n', (size_t)(end - p));
        if (!le) break;
        const char *colon = memchr(p, ':', (size_t)(le - p));
        h->n_headers++;
        if (colon) {
            const char *v = colon + 1, *ve = le;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v &&
                   (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            size_t nl = (size_t)(colon - p);
            if (nl == 13 && strncasecmp(p, "authorization", 13) == 0) {
                h->auth = v;
                h->auth_len = (size_t)(ve - v);
            } else if (nl == 17 &&
                       strncasecmp(p, "transfer-encoding", 17) == 0) {
                h->te = true;
            } else if (nl == 14 && strncasecmp(p, "content-length", 14) == 0 &&
                       v < ve && ve - v <= 19) {
                unsigned long long x = 0;
                const char *d = v;
                while (d < ve && *d >= '0' && *d <= '9')
                    x = x * 10 + (unsigned long long)(*d++ - '0');
                if (d == ve) {
                    h->has_cl = true;
                    h->cl = x;
                }
            }
        }
        p = le + 1;
    }
    return true;
}

/* ==== Reading ==== */

/* Decides on a complete head: refuses, or reserves and hands over. */
static void decide(hk_gate *g, const char *head, size_t n)
{
    hk_server *srv = g->loop->srv;
    head_info h;
    bool parsed = parse_head(head, n, &h);
    if (parsed && h.n_headers > H2O_MAX_HEADERS) {
        refuse(g, 431, "Request Header Fields Too Large", "header_too_large",
               "the request has more header lines than the server accepts",
               NULL);
        return;
    }
    if (!parsed || (!h.te && (!h.has_cl || h.cl == 0))) {
        hand_over(g); /* no body: nothing to protect */
        return;
    }
    if (srv->n_tokens > 0) {
        hk_role need =
            hk_router_need(srv, h.method, h.method_len, h.path, h.path_len);
        hk_principal p;
        memset(&p, 0, sizeof p);
        if (h.auth) {
            const char *tok = h.auth;
            size_t tl = h.auth_len;
            bool bearer = tl > 7 && strncasecmp(tok, "Bearer ", 7) == 0;
            if (bearer) {
                tok += 7;
                tl -= 7;
                while (tl > 0 && *tok == ' ') {
                    tok++;
                    tl--;
                }
            }
            if (!bearer || hk_server_auth_lookup(srv, tok, tl, &p) != HK_OK) {
                refuse(g, 401, "Unauthorized", "unauthorized",
                       "the bearer token is not valid",
                       "WWW-Authenticate: Bearer realm=\"hakgal\"\r\n");
                return;
            }
        }
        if (p.role < need) {
            if (!p.authenticated)
                refuse(g, 401, "Unauthorized", "unauthorized",
                       "this request needs a token; its body was not read",
                       "WWW-Authenticate: Bearer realm=\"hakgal\"\r\n");
            else
                refuse(g, 403, "Forbidden", "forbidden",
                       "the token's role is too low for this route", NULL);
            return;
        }
    }
    size_t want =
        h.te || h.cl > srv->cfg.max_body ? srv->cfg.max_body : (size_t)h.cl;
    size_t cap = srv->cfg.max_body > SIZE_MAX / HK_GATE_BUDGET_BODIES
                     ? SIZE_MAX
                     : srv->cfg.max_body * HK_GATE_BUDGET_BODIES;
    size_t was = atomic_fetch_add(&srv->body_inflight, want);
    if (was + want > cap || was + want < was) {
        atomic_fetch_sub(&srv->body_inflight, want);
        refuse(g, 503, "Service Unavailable", "busy",
               "too many request bodies in flight; retry later",
               "Retry-After: 1\r\n");
        return;
    }
    *g->reserved = want;
    hand_over(g);
}

static void on_read(h2o_socket_t *sock, const char *err)
{
    hk_gate *g = sock->data;
    if (err) {
        h2o_socket_read_stop(sock);
        sock->data = NULL;
        gate_free(g);
        h2o_socket_close(sock);
        return;
    }
    const char *buf = sock->input->bytes;
    size_t n = sock->input->size;
    size_t hl = head_length(buf, n < H2O_MAX_REQLEN ? n : H2O_MAX_REQLEN);
    if (hl) {
        decide(g, buf, hl);
        return;
    }
    if (n >= H2O_MAX_REQLEN)
        refuse(g, 431, "Request Header Fields Too Large", "header_too_large",
               "the request head is larger than the server accepts", NULL);
}

void hk_gate_start(hk_loop *loop, h2o_socket_t *sock, size_t *reserved)
{
    if (loop->accept_ctx.ssl_ctx) {
        h2o_accept(&loop->accept_ctx, sock);
        return;
    }
    hk_gate *g = hk_calloc(1, sizeof *g);
    if (!g) {
        h2o_socket_close(sock); /* out of memory: not served */
        return;
    }
    loop->gating++;
    g->loop = loop;
    g->sock = sock;
    g->reserved = reserved;
    g->timer.cb = on_timeout;
    sock->data = g;
    h2o_timeout_link(loop->evloop, &loop->ctx.http1.req_timeout, &g->timer);
    h2o_socket_read_start(sock, on_read);
}
