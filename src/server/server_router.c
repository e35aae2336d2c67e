/*
 * server_router.c — from an h2o request to a handler.
 *
 * One h2o handler is installed at "/" and does the routing itself, so that
 * every answer (including 404 and 405) is our JSON and every request passes
 * the same checks in the same order:
 *   1. message framing: Transfer-Encoding with Content-Length, or differing
 *      Content-Length values -> 400 bad_framing and the connection closed
 *   2. Host allow-list (loopback names by default on a loopback listen,
 *      see host_allowed) -> 403 forbidden_host
 *   3. body size limit -> 413 body_too_large
 *   4. registered prefixes (e.g. /mcp) -> their handler (auth is theirs)
 *   5. REST route table: path match (405 with Allow when only the method
 *      is wrong), auth for the route's role, Content-Type for bodies (415)
 *   6. no route: the web explorer's static files (server_web.c), open to
 *      anyone (they hold no data), else 404
 * An h2o logger on the same path records metrics (and the optional access
 * log) when the request ends, whether it was answered synchronously or
 * later from the writer or a pool thread.
 *
 * Paths are matched on the raw (still percent-encoded) path so that "%2F"
 * inside an entity name stays part of that segment; the parameter is then
 * decoded. Runs on loop threads only.
 */
#include <ctype.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "core/buf.h"
#include "server/server_int.h"

/* The route table is server_api.c (hk_routes, shared with the OpenAPI
 * document). */

/* Route labels for metrics: "GET /v2/facts/{id}/history". Built once. */
#define MAX_ROUTES 128 /* rows of hk_routes the router takes */
static char g_labels[MAX_ROUTES][96];

static __thread hk_loop *tls_loop;

hk_loop *hk_loop_self(void)
{
    return tls_loop;
}

hk_loop *hk_server_current_loop(void)
{
    return tls_loop;
}

void hk_loop_bind_thread(hk_loop *loop);
void hk_loop_bind_thread(hk_loop *loop)
{
    tls_loop = loop;
}

/* ==== Matching ==== */

/* Does path[0..len) match route r? On a match with a parameter, *param and
 * *param_len give the raw (encoded) parameter text. */
/* The shape of each route's path, measured once (shapes_init) instead of
 * with strchr/strlen on every row of every request: the router scans the
 * whole table for each request, so this was most of its cost. */
typedef struct route_shape {
    bool param;        /* the path has a {param} segment */
    uint16_t len;      /* literal: path length */
    uint16_t pre;      /* param: bytes before '{' */
    uint16_t suf;      /* param: offset of the text after '}' */
    uint16_t suf_len;  /* param: its length */
    uint16_t meth_len; /* strlen(method) */
} route_shape;
static route_shape g_shapes[MAX_ROUTES];
static pthread_once_t g_shapes_once = PTHREAD_ONCE_INIT;

static void shapes_init(void)
{
    for (size_t i = 0; i < hk_n_routes && i < MAX_ROUTES; i++) {
        const char *path = hk_routes[i].path;
        const char *brace = strchr(path, '{');
        const char *close = brace ? strchr(brace, '}') : NULL;
        route_shape *sh = &g_shapes[i];
        sh->param = brace != NULL;
        sh->len = (uint16_t)strlen(path);
        sh->pre = brace ? (uint16_t)(brace - path) : 0;
        sh->suf = close ? (uint16_t)(close + 1 - path) : sh->len;
        sh->suf_len = (uint16_t)(sh->len - sh->suf);
        sh->meth_len = (uint16_t)strlen(hk_routes[i].method);
    }
}

/* Does row i of hk_routes match path (len bytes)? *param: the {param}
 * segment. shapes_init has run. */
static bool route_matches(size_t i, const char *path, size_t len,
                          const char **param, size_t *param_len)
{
    const hk_route *r = &hk_routes[i];
    const route_shape *sh = &g_shapes[i];
    if (!sh->param) return sh->len == len && memcmp(r->path, path, len) == 0;
    size_t pre = sh->pre;
    if (len <= pre || memcmp(r->path, path, pre) != 0) return false;
    const char *p = path + pre;
    const char *end = path + len;
    const char *slash = memchr(p, '/', (size_t)(end - p));
    const char *pend = slash ? slash : end;
    if (pend == p) return false;
    size_t sl = sh->suf_len;
    if ((size_t)(end - pend) != sl || memcmp(pend, r->path + sh->suf, sl) != 0)
        return false;
    *param = p;
    *param_len = (size_t)(pend - p);
    return true;
}

static bool method_is(h2o_req_t *req, const char *m)
{
    size_t n = strlen(m);
    return req->method.len == n && memcmp(req->method.base, m, n) == 0;
}

static bool has_json_type(h2o_req_t *req, bool allow_ndjson)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    if (i < 0)
        return true; /* curl -d without -H: be lenient, the body decides */
    h2o_iovec_t v = req->headers.entries[i].value;
    size_t n = v.len;
    const char *semi = memchr(v.base, ';', v.len);
    if (semi) n = (size_t)(semi - v.base);
    while (n > 0 && v.base[n - 1] == ' ')
        n--;
#define IS(s) (n == sizeof(s) - 1 && strncasecmp(v.base, s, n) == 0)
    if (IS("application/json")) return true;
    if (allow_ndjson &&
        (IS("application/x-ndjson") || IS("application/ndjson") ||
         IS("application/jsonl") || IS("application/json-seq")))
        return true;
    /* curl -d sends this by default; the body is still parsed as JSON. */
    if (IS("application/x-www-form-urlencoded")) return true;
#undef IS
    return false;
}

/* The Host header's name without its port ("[::1]" keeps its brackets). */
static size_t host_name_len(h2o_iovec_t a)
{
    if (a.len && a.base[0] == '[') {
        const char *rb = memchr(a.base, ']', a.len);
        return rb ? (size_t)(rb - a.base) + 1 : a.len;
    }
    const char *colon = memchr(a.base, ':', a.len);
    return colon ? (size_t)(colon - a.base) : a.len;
}

/* localhost, [::1] or a 127.x.y.z literal. */
static bool is_loopback_host(const char *h, size_t n)
{
    if ((n == 9 && strncasecmp(h, "localhost", 9) == 0) ||
        (n == 5 && memcmp(h, "[::1]", 5) == 0))
        return true;
    if (n < 9 || n > 15 || memcmp(h, "127.", 4) != 0) return false;
    unsigned dots = 0;
    for (size_t i = 4; i < n; i++) {
        if (h[i] == '.')
            dots++;
        else if (h[i] < '0' || h[i] > '9')
            return false;
    }
    return dots == 2;
}

/* DNS-rebinding protection for every route: a page from another site that
 * made its name resolve to this server still sends its own name as Host.
 * With allowed-hosts configured only those names pass; without, a server
 * listening on loopback accepts loopback names only, and a server listening
 * beyond loopback (tokens required there, or --insecure) accepts any. A
 * request without a Host header (HTTP/1.0) is not a browser's and passes. */
static bool host_allowed(hk_server *srv, h2o_req_t *req)
{
    h2o_iovec_t a = req->authority;
    if (srv->cfg.n_allowed_hosts == 0 && !srv->loopback) return true;
    if (a.len == 0) return true;
    size_t n = host_name_len(a);
    if (srv->cfg.n_allowed_hosts == 0) return is_loopback_host(a.base, n);
    for (unsigned i = 0; i < srv->cfg.n_allowed_hosts; i++) {
        const char *h = srv->cfg.allowed_hosts[i];
        if (strlen(h) == n && strncasecmp(h, a.base, n) == 0) return true;
    }
    return false;
}

/* ==== Message framing ==== */

/* Request-smuggling shapes (RFC 9112 section 6.3): a request that carries
 * both Transfer-Encoding and Content-Length, or Content-Length values that
 * differ, is framed differently by different parsers; a proxy in front may
 * have read a second request where h2o reads a body, or the reverse. h2o
 * 2.2 takes the chunked framing (or one of the lengths) and keeps the
 * connection, so bytes after the last chunk would run as a request of
 * their own. Such requests are answered 400 and the connection is closed.
 *
 * h2o 2.2 drops Content-Length from req->headers, but it parses the head in
 * place: while the handler runs, the raw head still starts the socket's
 * input buffer, followed by the body (req->entity), and is scanned here. Only
 * requests with a body are scanned (h2o sets req->entity only for those), so
 * reads without a body pay one comparison. HTTP/2 frames bodies itself. */

/* Compares header line [p, colon) case-insensitively with name. */
static bool header_is(const char *p, const char *colon, const char *name)
{
    size_t n = strlen(name);
    return (size_t)(colon - p) == n && strncasecmp(p, name, n) == 0;
}

/* NULL when the framing is unambiguous, else why it is not. */
static const char *framing_error(h2o_req_t *req)
{
    if (!req->entity.base || req->version >= 0x200 ||
        !req->conn->callbacks->get_socket)
        return NULL;
    h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
    if (!sock || !sock->input) return NULL;
    const char *buf = sock->input->bytes;
    const char *end = buf + sock->input->size;
    /* the head starts the buffer: it begins with the method, and the
     * body follows it */
    if (req->entity.base < buf || req->entity.base > end ||
        (size_t)(end - buf) <= req->method.len ||
        memcmp(buf, req->method.base, req->method.len) != 0 ||
        buf[req->method.len] != ' ')
        return NULL;
    end = req->entity.base;
    const char *p = memchr(buf, '\n', (size_t)(end - buf));
    bool te = false;
    const char *cl = NULL; /* the first Content-Length value */
    size_t cl_len = 0;
    /* one header line per turn; ends at the empty line or the buffer end */
    while (p && ++p < end && *p != '\r' && *p != '\n') {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) break;
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (colon) {
            const char *v = colon + 1, *ve = eol;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v &&
                   (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            if (header_is(p, colon, "transfer-encoding")) {
                te = true;
            } else if (header_is(p, colon, "content-length")) {
                size_t vl = (size_t)(ve - v);
                if (cl && (vl != cl_len || memcmp(v, cl, vl) != 0))
                    return "the request has differing Content-Length values";
                cl = v;
                cl_len = vl;
            }
        }
        p = eol;
    }
    if (te && cl)
        return "the request has both Transfer-Encoding and Content-Length";
    return NULL;
}

hk_role hk_router_need(const hk_server *srv, const char *method,
                       size_t method_len, const char *path, size_t path_len)
{
    hk_role need = HK_ROLE_NONE;
    bool head = method_len == 4 && memcmp(method, "HEAD", 4) == 0;
    pthread_once(&g_shapes_once, shapes_init);
    for (size_t i = 0; i < hk_n_routes && i < MAX_ROUTES; i++) {
        const hk_route *r = &hk_routes[i];
        const char *pp;
        size_t pl;
        bool same = g_shapes[i].meth_len == method_len &&
                    memcmp(r->method, method, method_len) == 0;
        if (!same && !(head && !strcmp(r->method, "GET"))) continue;
        if (!route_matches(i, path, path_len, &pp, &pl)) continue;
        /* literal and parameter patterns may both match: the strictest */
        if (r->need > need) need = r->need;
    }
    if (need == HK_ROLE_READ && !srv->cfg.read_auth) need = HK_ROLE_NONE;
    return need;
}

/* ==== CORS ==== */

/* An allowed browser origin may read the answer. */
static void add_cors(h2o_req_t *req)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("origin"), -1);
    if (i < 0) return;
    h2o_iovec_t o = req->headers.entries[i].value;
    h2o_add_header_by_str(&req->pool, &req->res.headers,
                          H2O_STRLIT("access-control-allow-origin"), 0, NULL,
                          o.base, o.len);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_VARY, NULL,
                   H2O_STRLIT("Origin"));
}

/* OPTIONS on a known path: the methods, and a CORS preflight answer for
 * allowed origins. */
static void send_options(hk_server *srv, h2o_req_t *req, const char *allow)
{
    if (!hk_server_origin_allowed(srv, req)) {
        hk_http_send_error(req, 403, "forbidden_origin",
                           "the Origin header is not in allowed-origins", NULL);
        return;
    }
    size_t al = strlen(allow);
    char *methods = h2o_mem_alloc_pool(&req->pool, al + 10);
    memcpy(methods, allow, al);
    memcpy(methods + al, ", OPTIONS", 10);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL,
                   methods, al + 9);
    if (h2o_find_header_by_str(&req->headers, H2O_STRLIT("origin"), -1) >= 0) {
        add_cors(req);
        h2o_add_header_by_str(&req->pool, &req->res.headers,
                              H2O_STRLIT("access-control-allow-methods"), 0,
                              NULL, methods, al + 9);
        h2o_add_header_by_str(&req->pool, &req->res.headers,
                              H2O_STRLIT("access-control-allow-headers"), 0,
                              NULL, H2O_STRLIT("Authorization, Content-Type"));
        h2o_add_header_by_str(&req->pool, &req->res.headers,
                              H2O_STRLIT("access-control-max-age"), 0, NULL,
                              H2O_STRLIT("600"));
    }
    req->res.status = 204;
    req->res.reason = "No Content";
    h2o_send_inline(req, "", 0);
}

/* ==== The root handler ==== */

/* Only a connection's first request passes the gate (server_gate.c),
 * which refuses bodies at the headers: on a token-protected server an
 * HTTP/1 connection that carried a request without a valid bearer token is
 * closed after its answer (whatever the answer), so that the client's next
 * request is a first one again. */
static void close_unless_token(hk_server *srv, h2o_req_t *req)
{
    if (srv->n_tokens == 0 || req->version >= 0x200) return;
    ssize_t hi = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    if (hi >= 0) {
        h2o_iovec_t v = req->headers.entries[hi].value;
        if (v.len > 7 && strncasecmp(v.base, "Bearer ", 7) == 0) {
            const char *t = v.base + 7;
            size_t tl = v.len - 7;
            while (tl > 0 && *t == ' ') {
                t++;
                tl--;
            }
            if (hk_server_auth_lookup(srv, t, tl, NULL) == HK_OK) return;
        }
    }
    req->http1_is_persistent = 0;
}

/* The first malformed percent-escape of the query string (a '%' not
 * followed by two hex digits, or an encoded NUL), described in msg with the
 * parameter it is in; false when there is none. Checked once here, so that
 * every route reports bad encoding as such rather than as a missing or
 * invalid value. */
static bool query_encoding_error(const h2o_req_t *req, char *msg, size_t cap)
{
    if (req->query_at == SIZE_MAX) return false;
    const char *q = req->path.base + req->query_at + 1;
    size_t len = req->path.len - req->query_at - 1;
    size_t start = 0; /* of the current name=value pair */
    for (size_t i = 0; i < len; i++) {
        if (q[i] == '&') {
            start = i + 1;
            continue;
        }
        if (q[i] != '%') continue;
        bool ok = i + 2 < len && isxdigit((unsigned char)q[i + 1]) &&
                  isxdigit((unsigned char)q[i + 2]) &&
                  !(q[i + 1] == '0' && q[i + 2] == '0');
        if (ok) {
            i += 2;
            continue;
        }
        size_t ne = start;
        while (ne < len && q[ne] != '=' && q[ne] != '&')
            ne++;
        size_t shown = len - i < 3 ? len - i : 3;
        snprintf(msg, cap,
                 "query parameter '%.*s': invalid percent-encoding '%.*s' at "
                 "byte %zu of the query string (a '%%' must be followed by two "
                 "hex digits, and %%00 is not allowed)",
                 (int)(ne - start > 64 ? 64 : ne - start), q + start,
                 (int)shown, q + i, i + 1);
        return true;
    }
    return false;
}

typedef struct root_handler {
    h2o_handler_t super; /* h2o handler header */
    hk_server *srv;      /* the server */
} root_handler;

static int route_req(h2o_handler_t *self, h2o_req_t *req)
{
    hk_server *srv = ((root_handler *)self)->srv;
    size_t plen = req->query_at == SIZE_MAX ? req->path.len : req->query_at;
    const char *path = req->path.base;

    hk_loop_note_request(req);
    close_unless_token(srv, req);
    const char *framing = framing_error(req);
    if (framing) {
        hk_req_set_route(req, "other");
        req->http1_is_persistent = 0; /* what follows is not trusted */
        hk_http_send_error(req, 400, "bad_framing", framing, NULL);
        return 0;
    }
    if (!host_allowed(srv, req)) {
        hk_req_set_route(req, "other");
        hk_http_send_error(req, 403, "forbidden_host",
                           "the Host header is not in allowed-hosts", NULL);
        return 0;
    }
    if (req->entity.base && req->entity.len > srv->cfg.max_body) {
        hk_req_set_route(req, "other");
        char d[64];
        snprintf(d, sizeof(d), "{\"limit\":%zu,\"got\":%zu}", srv->cfg.max_body,
                 req->entity.len);
        hk_http_send_error(req, 413, "body_too_large",
                           "the request body is larger than max-body", d);
        return 0;
    }

    /* Registered prefixes. */
    for (unsigned i = 0; i < srv->n_paths; i++) {
        hk_path_entry *e = &srv->paths[i];
        if (plen >= e->len && memcmp(path, e->prefix, e->len) == 0 &&
            (plen == e->len || path[e->len] == '/')) {
            /* Known methods only, so that clients cannot invent labels. */
            static const char *const known[] = {
                "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"};
            const char *m = "OTHER";
            for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
                if (method_is(req, known[k])) m = known[k];
            size_t ml = strlen(m);
            char *label = h2o_mem_alloc_pool(&req->pool, ml + e->len + 2);
            memcpy(label, m, ml);
            label[ml] = ' ';
            memcpy(label + ml + 1, e->prefix, e->len + 1);
            hk_req_set_route(req, label);
            if (e->fn(srv, req, e->ud) != 0)
                hk_http_send_error(req, 404, "not_found", "no such resource",
                                   NULL);
            return 0;
        }
    }

    char enc[256];
    if (query_encoding_error(req, enc, sizeof enc)) {
        hk_req_set_route(req, "other");
        hk_http_send_error(req, 400, "invalid_encoding", enc, NULL);
        return 0;
    }

    /* REST routes: literal patterns win over parameter patterns. */
    pthread_once(&g_shapes_once, shapes_init);
    bool literal_hit = false;
    for (size_t i = 0; i < hk_n_routes; i++) {
        const char *pp;
        size_t pl;
        if (!g_shapes[i].param && route_matches(i, path, plen, &pp, &pl)) {
            literal_hit = true;
            break;
        }
    }
    const hk_route *found = NULL;
    const char *param = NULL;
    size_t param_len = 0;
    char allow[96] = "";
    size_t found_idx = 0;
    bool head = method_is(req, "HEAD");
    for (size_t i = 0; i < hk_n_routes; i++) {
        const hk_route *r = &hk_routes[i];
        const char *pp = NULL;
        size_t pl = 0;
        if (literal_hit && g_shapes[i].param) continue;
        if (!route_matches(i, path, plen, &pp, &pl)) continue;
        if (method_is(req, r->method) || (head && !strcmp(r->method, "GET"))) {
            found = r;
            found_idx = i;
            param = pp;
            param_len = pl;
            break;
        }
        if (!strstr(allow, r->method)) {
            size_t al = strlen(allow);
            snprintf(allow + al, sizeof(allow) - al, "%s%s", al ? ", " : "",
                     r->method);
        }
    }
    if (!found && allow[0] && method_is(req, "OPTIONS")) {
        hk_req_set_route(req, "OPTIONS");
        send_options(srv, req, allow);
        return 0;
    }
    if (!found && !allow[0] && hk_web_serve(srv, req, path, plen)) return 0;
    if (!found) {
        hk_req_set_route(req, "other");
        if (allow[0]) {
            h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL,
                           h2o_strdup(&req->pool, allow, SIZE_MAX).base,
                           strlen(allow));
            char d[128];
            snprintf(d, sizeof(d), "{\"allow\":\"%s\"}", allow);
            hk_http_send_error(req, 405, "method_not_allowed",
                               "this method is not allowed on this path", d);
        } else {
            hk_http_send_error(req, 404, "not_found", "no such route", NULL);
        }
        return 0;
    }
    hk_req_set_route(req, g_labels[found_idx]);

    if (!hk_server_origin_allowed(srv, req)) {
        hk_http_send_error(req, 403, "forbidden_origin",
                           "the Origin header is not in allowed-origins", NULL);
        return 0;
    }
    add_cors(req);
    hk_principal who;
    if (!hk_server_authorize(srv, req, found->need, &who)) return 0;
    hk_req_set_actor(req, who.name);
    bool has_body = method_is(req, "POST") || method_is(req, "PUT") ||
                    method_is(req, "PATCH");
    if (has_body && req->entity.len > 0 &&
        !has_json_type(req, found->fn == hk_route_facts_batch)) {
        hk_http_send_error(req, 415, "unsupported_media_type",
                           found->fn == hk_route_facts_batch
                               ? "send application/json or "
                                 "application/x-ndjson"
                               : "send application/json",
                           NULL);
        return 0;
    }
    const char *decoded = NULL;
    if (param) {
        decoded = hk_url_decode(&req->pool, param, param_len);
        if (!decoded) {
            hk_http_send_error(req, 400, "bad_path",
                               "the path has an invalid %-escape", NULL);
            return 0;
        }
    }
    found->fn(srv, req, decoded);
    return 0;
}

/* Every request runs under a fault guard (src/store/faultguard.c): a read
 * that touches a damaged or truncated data file on this loop answers 500
 * kb_damaged, marks the server damaged (/readyz then says so) and drops
 * the loop's read transaction, instead of ending the process with SIGBUS.
 * The handler's half-done work is abandoned (its memory may leak); writes
 * run on the writer thread and are not affected. The handler is
 * installed with SA_NODEFER, so sigsetjmp need not save the signal mask
 * (a system call per request). */
static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    hk_server *srv = ((root_handler *)self)->srv;
    hk_fault_guard g;
    hk_req_mark_start(req);
    const hk_trace_ctx *ctx = hk_trace_req_begin(srv, req);
    const hk_trace_ctx *prev = hk_otel_swap_current(ctx);
    if (sigsetjmp(g.jb, 0) == 0) {
        hk_fault_arm(&g);
        int rc = route_req(self, req);
        hk_fault_disarm(&g);
        hk_otel_swap_current(prev);
        return rc;
    }
    hk_otel_swap_current(prev);
    hk_loop_discard_read(hk_loop_self());
    atomic_store(&srv->damaged, true);
    hk_trace_log_error(srv, ctx,
                       "knowledge base damaged: a read faulted at byte %llu "
                       "of the data file; restore it from a backup",
                       (unsigned long long)g.offset);
    char msg[160];
    snprintf(msg, sizeof msg,
             "the knowledge base is damaged (a read faulted at byte %llu of "
             "its data file): restore it from a backup",
             (unsigned long long)g.offset);
    hk_http_send_error(req, 500, "kb_damaged", msg, NULL);
    return 0;
}

/* ==== Logger: metrics and access log ==== */

typedef struct metrics_logger {
    h2o_logger_t super; /* h2o logger header */
    hk_server *srv;     /* the server */
} metrics_logger;

static void log_access(h2o_logger_t *self, h2o_req_t *req)
{
    hk_server *srv = ((metrics_logger *)self)->srv;
    h2o_iovec_t *route = h2o_req_getenv(req, H2O_STRLIT("hk.route"), 0);
    const char *label = route ? route->base : "other";
    struct timeval now;
    gettimeofday(&now, NULL);
    int64_t us = hk_req_elapsed_us(req);
    double secs =
        us >= 0
            ? (double)us / 1e6
            : (double)(now.tv_sec - req->timestamps.request_begin_at.tv_sec) +
                  (double)(now.tv_usec -
                           req->timestamps.request_begin_at.tv_usec) /
                      1e6;
    int status = req->res.status ? req->res.status : 499;
    hk_metrics_request(srv, label, status, secs);
    hk_trace_req_end(req, label, status);
    if (srv->access_log && srv->cfg.access_log_json) {
        /* One JSON object per line, with the trace ids (server_trace.c). */
        char tid[33] = "", sid[17] = "";
        hk_trace_req_ids(req, tid, sid);
        size_t plen = req->path.len < 512 ? req->path.len : 512;
        hk_buf b = HK_BUF_INIT;
        hk_buf_appendf(&b,
                       "{\"time\":%lld.%06ld,\"route\":", (long long)now.tv_sec,
                       (long)now.tv_usec);
        hk_buf_append_json_string(&b, label, strlen(label));
        hk_buf_append_str(&b, ",\"method\":");
        hk_buf_append_json_string(&b, req->method.base, req->method.len);
        hk_buf_append_str(&b, ",\"path\":");
        hk_buf_append_json_string(&b, req->path.base, plen);
        hk_buf_appendf(&b,
                       ",\"status\":%d,\"bytes\":%zu,\"seconds\":%.6f,"
                       "\"trace_id\":\"%s\",\"span_id\":\"%s\"}\n",
                       status, req->bytes_sent, secs, tid, sid);
        pthread_mutex_lock(&srv->log_lock);
        if (b.data) fwrite(b.data, 1, b.len, srv->access_log);
        fflush(srv->access_log);
        pthread_mutex_unlock(&srv->log_lock);
        hk_buf_free(&b);
    } else if (srv->access_log) {
        size_t plen = req->path.len < 512 ? req->path.len : 512;
        pthread_mutex_lock(&srv->log_lock);
        fprintf(srv->access_log, "%s %.*s %.*s %d %zu %.6f\n", label,
                (int)req->method.len, req->method.base, (int)plen,
                req->path.base, status, req->bytes_sent, secs);
        fflush(srv->access_log);
        pthread_mutex_unlock(&srv->log_lock);
    }
}

/* ==== Errors h2o answers itself ==== */

/* A few errors are answered by h2o before any handler runs (a body far over
 * the limit: 413; a request it cannot route). It binds those to the host's
 * fallback path, where this filter rewrites the plain-text body into our
 * JSON error shape, keeping h2o's status and message. */
typedef struct json_error_ostream {
    h2o_ostream_t super; /* h2o output stream header */
    hk_buf body;         /* the original text body, collected */
} json_error_ostream;

static const char *code_for(int status)
{
    switch (status) {
    case 400:
        return "bad_request";
    case 404:
        return "not_found";
    case 405:
        return "method_not_allowed";
    case 413:
        return "body_too_large";
    case 417:
        return "expectation_failed";
    case 503:
        return "unavailable";
    default:
        return status >= 500 ? "internal" : "bad_request";
    }
}

static void json_error_send(h2o_ostream_t *self, h2o_req_t *req,
                            h2o_iovec_t *bufs, size_t bufcnt,
                            h2o_send_state_t state)
{
    json_error_ostream *os = (json_error_ostream *)self;
    for (size_t i = 0; i < bufcnt; i++)
        if (os->body.len < 4096) /* h2o's messages are one line */
            hk_buf_append(&os->body, bufs[i].base, bufs[i].len);
    if (h2o_send_state_is_in_progress(state)) {
        h2o_ostream_send_next(&os->super, req, NULL, 0, state);
        return;
    }
    size_t n = os->body.len;
    while (n > 0 &&
           (os->body.data[n - 1] == '\n' || os->body.data[n - 1] == ' '))
        n--;
    hk_buf b = HK_BUF_INIT;
    hk_err rc = hk_buf_appendf(&b, "{\"error\":{\"code\":\"%s\",\"message\":",
                               code_for(req->res.status));
    if (rc == HK_OK)
        rc = hk_buf_append_json_string(&b, n ? os->body.data : "error",
                                       n ? n : 5);
    if (rc == HK_OK) rc = hk_buf_append_str(&b, ",\"detail\":null}}\n");
    hk_buf_free(&os->body);
    h2o_iovec_t out = rc == HK_OK ? h2o_strdup(&req->pool, b.data, b.len)
                                  : h2o_iovec_init(NULL, 0);
    hk_buf_free(&b);
    req->res.content_length = out.len;
    h2o_ostream_send_next(&os->super, req, out.len ? &out : NULL,
                          out.len ? 1 : 0, state);
}

static void json_error_stop(h2o_ostream_t *self, h2o_req_t *req)
{
    (void)req;
    hk_buf_free(&((json_error_ostream *)self)->body);
}

static void json_error_setup(h2o_filter_t *self, h2o_req_t *req,
                             h2o_ostream_t **slot)
{
    (void)self;
    if (req->res.status >= 400) {
        ssize_t i =
            h2o_find_header(&req->res.headers, H2O_TOKEN_CONTENT_TYPE, -1);
        if (i >= 0 && req->res.headers.entries[i].value.len >= 10 &&
            memcmp(req->res.headers.entries[i].value.base, "text/plain", 10) ==
                0) {
            req->res.headers.entries[i].value =
                h2o_iovec_init(H2O_STRLIT("application/json; charset=utf-8"));
            json_error_ostream *os =
                (json_error_ostream *)h2o_add_ostream(req, sizeof(*os), slot);
            memset(&os->body, 0, sizeof(os->body));
            os->super.do_send = json_error_send;
            os->super.stop = json_error_stop;
            slot = &os->super.next;
        }
    }
    h2o_setup_next_ostream(req, slot);
}

hk_err hk_router_install(hk_server *srv, hk_error *err)
{
    if (hk_n_routes > MAX_ROUTES)
        return hk_error_set(err, HK_ERR_LIMIT,
                            "router: %zu routes, at most %d (MAX_ROUTES)",
                            hk_n_routes, MAX_ROUTES);
    for (size_t i = 0; i < hk_n_routes; i++)
        snprintf(g_labels[i], sizeof(g_labels[i]), "%s %.80s",
                 hk_routes[i].method, hk_routes[i].path);
    h2o_pathconf_t *pc = h2o_config_register_path(srv->hostconf, "/", 0);
    if (!pc) return hk_error_set(err, HK_ERR_NOMEM, "cannot register path /");
    root_handler *h = (root_handler *)h2o_create_handler(pc, sizeof(*h));
    h->super.on_req = on_req;
    h->srv = srv;
    metrics_logger *l = (metrics_logger *)h2o_create_logger(pc, sizeof(*l));
    l->super.log_access = log_access;
    l->srv = srv;
    h2o_filter_t *f =
        h2o_create_filter(&srv->hostconf->fallback_path, sizeof(*f));
    f->on_setup_ostream = json_error_setup;
    metrics_logger *fl = (metrics_logger *)h2o_create_logger(
        &srv->hostconf->fallback_path, sizeof(*fl));
    fl->super.log_access = log_access;
    fl->srv = srv;
    return HK_OK;
}

hk_err hk_server_register_path(hk_server *srv, const char *prefix,
                               hk_path_handler_fn fn, void *ud)
{
    if (!srv->registering || !prefix || prefix[0] != '/' || !fn)
        return HK_ERR_STATE;
    size_t len = strlen(prefix);
    while (len > 1 && prefix[len - 1] == '/')
        len--;
    if (len >= sizeof(srv->paths[0].prefix)) return HK_ERR_LIMIT;
    for (unsigned i = 0; i < srv->n_paths; i++)
        if (srv->paths[i].len == len &&
            !memcmp(srv->paths[i].prefix, prefix, len))
            return HK_ERR_EXISTS;
    if (srv->n_paths >= HK_MAX_PATHS) return HK_ERR_LIMIT;
    hk_path_entry *e = &srv->paths[srv->n_paths++];
    memcpy(e->prefix, prefix, len);
    e->prefix[len] = '\0';
    e->len = len;
    e->fn = fn;
    e->ud = ud;
    return HK_OK;
}
