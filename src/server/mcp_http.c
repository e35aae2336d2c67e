/*
 * mcp_http.c — MCP Streamable HTTP at /mcp in `hakgal serve`, and the
 * memory profile (the 9 tools of the reference MCP memory server,
 * mcp_memory.c) at /mcp/memory over the same machinery.
 *
 * One endpoint serves both protocol revisions (src/mcp/mcp.h chooses per
 * message):
 *   POST   a JSON-RPC message. Requests are answered with application/json,
 *          or with text/event-stream when the call produces notifications
 *          (progress, log messages) or asks the client something (sampling,
 *          elicitation) before its result; notifications and responses get
 *          202. 2025-11-25 sessions: `initialize` creates a session whose id
 *          travels in Mcp-Session-Id; other requests must name a live
 *          session (400 without, 404 for an unknown or ended one).
 *          2026-07-28 requests are stateless and need no session.
 *   GET    opens the session's SSE stream for server-initiated messages;
 *          it ends after STREAM_MAX_MS (clients reconnect), when the
 *          session ends or the server stops.
 *   DELETE ends the session named by Mcp-Session-Id.
 * Every method checks Origin (hk_server_origin_allowed; the router checked
 * Host for every route: DNS-rebinding protection, 403 otherwise) and
 * bearer auth through hk_server_authorize (401 + WWW-Authenticate).
 * Sessions and GET streams have quotas per client (section "Quotas").
 * After a tool changed the KB, every session subscribed to KB resources
 * gets notifications/resources/updated on its open GET streams at once;
 * the ticker announces every other change (REST writes, other processes
 * such as the CLI) within its period, noticed by the KB's commit number
 * (hk_store_last_commit), so each commit is announced once.
 * A bearer token with the write role authorises the write tools; so does
 * the legacy auth_token argument when it is a configured write/admin
 * token. Writes go through the server's group commit (write_sync).
 *
 * Threads: handlers run on loop threads. tools/call runs on this file's
 * worker threads (WORKERS), which never touch h2o: they queue SSE events
 * and the final answer in the job and wake the request's loop with
 * hk_loop_post; the loop then writes (one h2o_send in flight at a time,
 * the next one from the generator's proceed callback). A ticker thread
 * posts a tick to the loop of every open GET stream so that streams end on
 * time and at shutdown. The session table and stream list are guarded by
 * g.lock.
 *
 * The two endpoints are two hk_mcp_server tables sharing sessions, quotas,
 * workers and auth; a session belongs to the endpoint that created it (a
 * session id of /mcp is unknown at /mcp/memory and the other way round).
 * Memory writes need no token on a server without tokens (the reference
 * has none); on a server with tokens they need a bearer with the write
 * role, which mcp_memory.c checks (io.bearer_actor).
 *
 * Configuration (environment, read at start-up):
 * HAKGAL_MCP_CONFORMANCE_FIXTURES=1 (or HAKGAL_MCP_FIXTURES=1) registers
 * the conformance-suite fixtures (testing only);
 * HAKGAL_MCP_ALLOW_DIRS=dir:dir the directories clients may name in
 * hub_path / path / report_path; HAKGAL_MCP_BACKUP_DIR the backup_kb
 * target (default DATA.backups).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "core/json_text.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/sha256.h"
#include "mcp/mcp.h"
#include "server/server.h"
#include "server/server_sse.h"

#define MAX_SESSIONS 1024                    /* live sessions */
#define SESSION_IDLE_US (3600LL * 1000000LL) /* idle sessions expire */
#define MAX_STREAMS 256                      /* open GET streams */
/* Quota defaults (a 0 in the configuration means these). */
#define DEF_PRINCIPAL_SESSIONS 64 /* sessions per token name */
#define DEF_ANON_ADDR_SESSIONS 32 /* anonymous sessions per source address */
#define DEF_ANON_SESSIONS 256     /* anonymous sessions in all */
#define DEF_ANON_IDLE_S 300       /* idle anonymous sessions expire, s */
#define DEF_STREAMS_PER_OWNER 8   /* open GET streams per quota owner */
#define DEF_ANON_STREAMS 64       /* anonymous GET streams in all */
#define STREAM_MAX_MS 60000       /* a GET stream ends after this */
#define WORKERS 8                 /* threads running tools/call */
#define MAX_QUEUED 1024           /* calls waiting for a worker */
#define CLIENT_TIMEOUT_MS 60000   /* wait for a client's answer */

/* ==== State ==== */

typedef struct session_entry {
    char id[33];              /* hex session id, "" = free slot */
    hk_mcp_session *sess;     /* the session */
    int refs;                 /* requests using it */
    bool dead;                /* ended (DELETE / expiry); freed at refs 0 */
    int64_t last_used_us;     /* for expiry */
    char owner[64];           /* principal that created it ("anonymous"
                                 without a token): only it may use it */
    char quota_key[128];      /* whose quota it counts against: the token
                                 name, or "anonymous@<source address>" */
    bool anon;                /* created without a valid token */
    const hk_mcp_server *mcp; /* the endpoint's server that created it */
} session_entry;

typedef struct get_stream {
    uint64_t id;         /* stream id, 0 = free slot */
    hk_loop *loop;       /* loop that owns the request */
    hk_req_ref *ref;     /* the GET request (loop thread only) */
    char session[33];    /* its session */
    char quota_key[128]; /* as session_entry.quota_key */
    bool anon;           /* opened without a valid token */
    int64_t opened_us;   /* when it opened */
    hk_sse_out *out;     /* its SSE output (loop thread only) */
} get_stream;

typedef struct call_job call_job;

static struct {
    hk_server *srv;       /* the server */
    hk_mcp_server *mcp;   /* the MCP server at /mcp */
    hk_mcp_server *mem;   /* the memory profile at /mcp/memory */
    pthread_mutex_t lock; /* guards sessions, streams, queue */
    pthread_cond_t wake;  /* workers wait here */
    session_entry sessions[MAX_SESSIONS]; /* session table */
    get_stream streams[MAX_STREAMS];      /* open GET streams */
    uint64_t next_stream;                 /* stream ids */
    call_job *head, *tail;                /* queued calls */
    size_t queued;                        /* count */
    bool closing;                       /* shutdown: workers and ticker exit */
    pthread_t workers[WORKERS];         /* worker threads */
    pthread_t ticker;                   /* GET stream ticker */
    _Atomic uint64_t announced;         /* commit number last announced */
    bool started;                       /* threads were started */
    char *allow_buf;                    /* storage of the allowed directories */
    const char *allow[HK_MCP_MAX_DIRS]; /* allowed directories */
    char backup_dir[4200];              /* backup_kb target */
    struct hkv_store *vs;               /* the vector module of the KB */
    unsigned principal_sessions;        /* sessions per token name */
    unsigned anon_addr_sessions;        /* anonymous sessions per address */
    unsigned anon_sessions;             /* anonymous sessions in all */
    int64_t anon_idle_us;               /* idle anonymous sessions expire */
    unsigned streams_per_owner;         /* GET streams per quota key */
    unsigned anon_streams;              /* anonymous GET streams in all */
} g;

/* ==== Sessions ==== */

static void new_session_id(char out[33])
{
    unsigned char r[16];
    if (RAND_bytes(r, sizeof r) != 1) {
        int64_t t = hk_now_us();
        memcpy(r, &t, sizeof t);
        memcpy(r + 8, &r[0], 8);
    }
    hk_hex(r, 16, out);
}

/* Finds and references a live session of owner; NULL when unknown (a
 * session of another principal is reported as unknown, so a leaked id is
 * of no use to other token holders). */
static session_entry *session_get(const hk_mcp_server *mcp, const char *id,
                                  const char *owner)
{
    session_entry *found = NULL;
    hk_mcp_session *to_free = NULL;
    int64_t now = hk_now_us();
    pthread_mutex_lock(&g.lock);
    for (size_t i = 0; i < MAX_SESSIONS; i++) {
        session_entry *e = &g.sessions[i];
        if (e->id[0] && !e->dead && e->mcp == mcp && strcmp(e->id, id) == 0 &&
            strcmp(e->owner, owner) == 0) {
            if (e->refs == 0 &&
                now - e->last_used_us >
                    (e->anon ? g.anon_idle_us : SESSION_IDLE_US)) {
                /* expired: ends now rather than at the next initialize */
                to_free = e->sess;
                e->sess = NULL;
                e->id[0] = '\0';
                break;
            }
            e->refs++;
            e->last_used_us = now;
            found = e;
            break;
        }
    }
    pthread_mutex_unlock(&g.lock);
    hk_mcp_session_free(to_free);
    return found;
}

static void session_put(session_entry *e)
{
    hk_mcp_session *to_free = NULL;
    pthread_mutex_lock(&g.lock);
    if (--e->refs == 0 && e->dead) {
        to_free = e->sess;
        e->sess = NULL;
        e->id[0] = '\0';
    }
    pthread_mutex_unlock(&g.lock);
    hk_mcp_session_free(to_free);
}

/* ==== Quotas ====
 *
 * Sessions and GET streams are counted per quota key: the token name for
 * an authenticated principal, "anonymous@<source address>" otherwise. So
 * that anonymous clients can never lock out token holders:
 *  - anonymous sessions expire after anon_idle_us without use (token
 *    holders' after SESSION_IDLE_US);
 *  - at its quota (principal_sessions, or anon_addr_sessions per address),
 *    a new session replaces the key's least recently used idle one;
 *  - anonymous sessions together hold at most anon_sessions slots (the
 *    least recently used idle anonymous session is replaced beyond), which
 *    leaves the rest of the table to token holders, and a token holder who
 *    finds the table full replaces the least recently used idle anonymous
 *    session;
 *  - streams are refused (429) beyond streams_per_owner per key and
 *    anon_streams for all anonymous clients.
 * All under g.lock. */

/* The quota key of a request's principal into out. */
static void quota_key(h2o_req_t *req, const hk_principal *p, char out[128])
{
    if (p->authenticated) {
        snprintf(out, 128, "%s", p->name);
        return;
    }
    char addr[INET6_ADDRSTRLEN] = "?";
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    if (req->conn->callbacks->get_peername)
        sl = req->conn->callbacks->get_peername(req->conn,
                                                (struct sockaddr *)&ss);
    if (sl && ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, addr,
                  sizeof addr);
    else if (sl && ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, addr,
                  sizeof addr);
    snprintf(out, 128, "anonymous@%s", addr);
}

/* Frees slot e (g.lock held; e is idle: refs 0). */
static void session_drop_locked(session_entry *e)
{
    hk_mcp_session_free(e->sess);
    e->sess = NULL;
    e->id[0] = '\0';
}

/* The least recently used idle live session matching key (any key when
 * NULL) and anonymity (any when anon_only is false). g.lock held. */
static session_entry *session_lru_locked(const char *key, bool anon_only)
{
    session_entry *lru = NULL;
    for (size_t i = 0; i < MAX_SESSIONS; i++) {
        session_entry *e = &g.sessions[i];
        if (!e->id[0] || e->dead || e->refs != 0) continue;
        if (anon_only && !e->anon) continue;
        if (key && strcmp(e->quota_key, key) != 0) continue;
        if (!lru || e->last_used_us < lru->last_used_us) lru = e;
    }
    return lru;
}

/* Stores a new session of owner (quota key key, anonymous or not) and
 * writes its id to id_out. false when no slot can be had: the table is full
 * of sessions in use, or of token holders' sessions. */
static bool session_add(const hk_mcp_server *mcp, hk_mcp_session *sess,
                        const char *owner, const char *key, bool anon,
                        char id_out[33])
{
    bool ok = false;
    int64_t now = hk_now_us();
    pthread_mutex_lock(&g.lock);
    session_entry *slot = NULL;
    size_t n_key = 0, n_anon = 0;
    for (size_t i = 0; i < MAX_SESSIONS; i++) {
        session_entry *e = &g.sessions[i];
        /* expire idle sessions nobody uses */
        if (e->id[0] && !e->dead && e->refs == 0 &&
            now - e->last_used_us >
                (e->anon ? g.anon_idle_us : SESSION_IDLE_US))
            session_drop_locked(e);
        if (!e->id[0]) {
            if (!slot) slot = e;
            continue;
        }
        if (e->dead) continue;
        if (strcmp(e->quota_key, key) == 0) n_key++;
        if (e->anon) n_anon++;
    }
    session_entry *evict = NULL;
    unsigned key_cap = anon ? g.anon_addr_sessions : g.principal_sessions;
    if (n_key >= key_cap)
        evict = session_lru_locked(key, false);
    else if (anon && n_anon >= g.anon_sessions)
        evict = session_lru_locked(NULL, true);
    else if (!slot && !anon)
        evict = session_lru_locked(NULL, true);
    if (evict) {
        session_drop_locked(evict);
        slot = evict;
    } else if (n_key >= key_cap || (anon && n_anon >= g.anon_sessions)) {
        slot = NULL; /* over quota and every session of it busy */
    }
    if (slot) {
        new_session_id(slot->id);
        slot->sess = sess;
        slot->refs = 0;
        slot->dead = false;
        slot->last_used_us = now;
        slot->anon = anon;
        slot->mcp = mcp;
        snprintf(slot->owner, sizeof slot->owner, "%s", owner);
        snprintf(slot->quota_key, sizeof slot->quota_key, "%s", key);
        memcpy(id_out, slot->id, 33);
        ok = true;
    }
    pthread_mutex_unlock(&g.lock);
    return ok;
}

/* Ends a session of owner; false when unknown. */
static bool session_end(const hk_mcp_server *mcp, const char *id,
                        const char *owner)
{
    hk_mcp_session *to_free = NULL;
    bool found = false;
    pthread_mutex_lock(&g.lock);
    for (size_t i = 0; i < MAX_SESSIONS; i++) {
        session_entry *e = &g.sessions[i];
        if (e->id[0] && !e->dead && e->mcp == mcp && strcmp(e->id, id) == 0 &&
            strcmp(e->owner, owner) == 0) {
            found = true;
            e->dead = true;
            if (e->refs == 0) {
                to_free = e->sess;
                e->sess = NULL;
                e->id[0] = '\0';
            }
        }
    }
    pthread_mutex_unlock(&g.lock);
    hk_mcp_session_free(to_free);
    return found;
}

/* ==== HTTP helpers (loop thread) ==== */

static bool header(h2o_req_t *req, const char *name, size_t nlen,
                   h2o_iovec_t *out)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, name, nlen, -1);
    if (i < 0) return false;
    *out = req->headers.entries[i].value;
    return true;
}

/* Copies a header value into the request pool as a C string. */
static const char *header_str(h2o_req_t *req, const char *name, size_t nlen)
{
    h2o_iovec_t v;
    if (!header(req, name, nlen, &v)) return NULL;
    char *s = h2o_mem_alloc_pool(&req->pool, v.len + 1);
    memcpy(s, v.base, v.len);
    s[v.len] = '\0';
    return s;
}

static bool accepts_sse(h2o_req_t *req)
{
    h2o_iovec_t v;
    if (!header(req, H2O_STRLIT("accept"), &v)) return false;
    return h2o_strstr(v.base, v.len, H2O_STRLIT("text/event-stream")) !=
           SIZE_MAX;
}

static void add_session_header(h2o_req_t *req, const char *id)
{
    size_t n = strlen(id);
    char *v = h2o_mem_alloc_pool(&req->pool, n);
    memcpy(v, id, n);
    h2o_add_header_by_str(&req->pool, &req->res.headers,
                          H2O_STRLIT("mcp-session-id"), 0, NULL, v, n);
}

static void send_json_msg(h2o_req_t *req, int status, json_t *msg,
                          const char *session_id)
{
    char *s = hk_json_dumps(msg, JSON_COMPACT);
    if (session_id) add_session_header(req, session_id);
    if (!s) {
        hk_http_send_error(req, 500, "internal", "cannot encode the answer",
                           NULL);
        return;
    }
    hk_http_send_json(req, status, s, strlen(s));
    free(s);
}

static void send_rpc_error(h2o_req_t *req, int status, int code,
                           const char *message)
{
    json_t *r = hk_mcp_error_response(NULL, code, message);
    send_json_msg(req, status, r, NULL);
    json_decref(r);
}

static void send_empty(h2o_req_t *req, int status)
{
    req->res.status = status;
    req->res.reason = status == 202 ? "Accepted" : "OK";
    req->res.content_length = 0;
    h2o_send_inline(req, "", 0);
}

/* Origin check for browsers; Host (DNS rebinding) was checked by the
 * router for every route, /mcp included. */
static bool host_and_origin_ok(h2o_req_t *req)
{
    return hk_server_origin_allowed(g.srv, req);
}

/* ==== SSE output (loop thread) ==== */

static void sse_event(hk_buf *b, json_t *msg)
{
    char *s = hk_json_dumps(msg, JSON_COMPACT);
    if (!s) return;
    hk_buf_append_str(b, "event: message\ndata: ");
    hk_buf_append_str(b, s);
    hk_buf_append_str(b, "\n\n");
    free(s);
}

/* ==== tools/call on worker threads ==== */

struct call_job {
    call_job *next;                 /* queue link */
    hk_loop *loop;                  /* loop of the request */
    hk_req_ref *ref;                /* the request (loop thread only) */
    json_t *msg;                    /* the JSON-RPC request */
    hk_mcp_server *mcp;             /* the endpoint's server */
    session_entry *entry;           /* session (referenced) or NULL */
    bool sse_ok;                    /* the client accepts text/event-stream */
    char actor[64];                 /* bearer writer name, "" = none */
    int role;                       /* the bearer's role (hk_role) */
    char hv[64], hm[128], hn[1024]; /* header copies */
    bool hv_set, hm_set, hn_set;    /* which headers were sent */
    pthread_mutex_t lock;           /* guards the fields below */
    hk_buf events;                  /* SSE bytes produced by the worker */
    json_t *response;               /* final answer once done */
    int status;                     /* its HTTP status */
    bool done;                      /* the worker finished */
    int refs;                       /* worker + posted messages + loop state */
    hk_sse_out *out;                /* loop: SSE response once started */
    bool started;                   /* loop: the response was started */
    bool finished;                  /* loop: the answer is complete */
};

static void job_release(call_job *j)
{
    pthread_mutex_lock(&j->lock);
    int left = --j->refs;
    pthread_mutex_unlock(&j->lock);
    if (left) return;
    json_decref(j->msg);
    json_decref(j->response);
    hk_buf_free(&j->events);
    pthread_mutex_destroy(&j->lock);
    if (j->entry) session_put(j->entry);
    free(j);
}

/* Loop thread: moves what the worker produced into the response. */
static void job_on_loop(void *arg)
{
    call_job *j = arg;
    h2o_req_t *req = hk_req_ref_get(j->ref);
    pthread_mutex_lock(&j->lock);
    bool done = j->done;
    bool has_events = j->events.len > 0;
    pthread_mutex_unlock(&j->lock);
    if (!req || j->finished) goto out;
    if (!j->started) {
        if (done && !has_events) {
            /* nothing streamed: a plain JSON answer */
            j->started = j->finished = true;
            if (j->response)
                send_json_msg(req, j->status, j->response, NULL);
            else
                send_empty(req, 202);
            goto out;
        }
        if (!has_events) goto out;
        j->out = hk_sse_start(req);
        j->started = true;
    }
    pthread_mutex_lock(&j->lock);
    hk_buf_append(&j->out->pending, j->events.data, j->events.len);
    hk_buf_reset(&j->events);
    if (done) {
        if (j->response) sse_event(&j->out->pending, j->response);
        j->out->final_wanted = true;
        j->finished = true;
    }
    pthread_mutex_unlock(&j->lock);
    hk_sse_flush(j->out);
out:
    if (done && !j->finished && !req) j->finished = true;
    if (done && j->ref) {
        hk_req_ref_release(j->ref);
        j->ref = NULL;
    }
    job_release(j);
}

static void job_post(call_job *j)
{
    pthread_mutex_lock(&j->lock);
    j->refs++;
    pthread_mutex_unlock(&j->lock);
    if (hk_loop_post(j->loop, job_on_loop, j) != HK_OK) job_release(j);
}

static void job_notify(void *ud, json_t *msg)
{
    call_job *j = ud;
    if (!j->sse_ok) return; /* a JSON answer cannot carry notifications */
    pthread_mutex_lock(&j->lock);
    sse_event(&j->events, msg);
    pthread_mutex_unlock(&j->lock);
    job_post(j);
}

static hk_err job_client_request(void *ud, const char *method, json_t *params,
                                 json_t **result, hk_error *err)
{
    call_job *j = ud;
    *result = NULL;
    if (!j->entry || !j->sse_ok)
        return hk_error_set(err, HK_ERR_UNSUPPORTED,
                            "the client cannot be asked: it needs a session "
                            "and must accept text/event-stream");
    hk_mcp_session *sess = j->entry->sess;
    json_int_t id = hk_mcp_session_expect(sess);
    if (id == 0)
        return hk_error_set(err, HK_ERR_LIMIT, "too many client requests");
    json_t *req = json_pack("{s:s, s:I, s:s, s:O}", "jsonrpc", "2.0", "id", id,
                            "method", method, "params", params);
    if (!req) {
        hk_mcp_session_cancel(sess, id);
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    }
    job_notify(j, req);
    json_decref(req);
    return hk_mcp_session_await(sess, id, CLIENT_TIMEOUT_MS, result, err);
}

/* A message for one GET stream, built by any thread. */
typedef struct stream_push {
    uint64_t id;  /* stream */
    hk_buf bytes; /* SSE bytes to append */
} stream_push;

static void stream_push_on_loop(void *arg)
{
    stream_push *m = arg;
    hk_sse_out *o = NULL;
    pthread_mutex_lock(&g.lock);
    for (size_t i = 0; i < MAX_STREAMS; i++) {
        get_stream *s = &g.streams[i];
        if (s->id == m->id && hk_req_ref_get(s->ref) && s->out) o = s->out;
    }
    pthread_mutex_unlock(&g.lock);
    if (o) { /* o belongs to this loop thread: safe after unlocking */
        hk_buf_append(&o->pending, m->bytes.data, m->bytes.len);
        hk_sse_flush(o);
    }
    hk_buf_free(&m->bytes);
    free(m);
}

/* After a write: every session subscribed to KB resources hears about it
 * on its open GET streams. */
static void job_kb_changed(void *ud)
{
    (void)ud;
    atomic_store(&g.announced, hk_store_last_commit(hk_server_store(g.srv)));
    pthread_mutex_lock(&g.lock);
    for (size_t i = 0; i < MAX_SESSIONS; i++) {
        session_entry *e = &g.sessions[i];
        if (!e->id[0] || e->dead || !e->sess) continue;
        json_t *ups = hk_mcp_session_updates(e->sess);
        if (json_array_size(ups) == 0) {
            json_decref(ups);
            continue;
        }
        hk_buf bytes = HK_BUF_INIT;
        size_t k;
        json_t *u;
        json_array_foreach(ups, k, u) sse_event(&bytes, u);
        json_decref(ups);
        for (size_t si = 0; si < MAX_STREAMS; si++) {
            get_stream *st = &g.streams[si];
            if (!st->id || strcmp(st->session, e->id) != 0) continue;
            stream_push *m = calloc(1, sizeof *m);
            if (!m) continue;
            m->id = st->id;
            if (hk_buf_append(&m->bytes, bytes.data, bytes.len) != HK_OK ||
                hk_loop_post(st->loop, stream_push_on_loop, m) != HK_OK) {
                hk_buf_free(&m->bytes);
                free(m);
            }
        }
        hk_buf_free(&bytes);
    }
    pthread_mutex_unlock(&g.lock);
}

static void job_run(call_job *j)
{
    hk_mcp_io io;
    memset(&io, 0, sizeof io);
    io.ud = j;
    io.notify = job_notify;
    io.client_request = job_client_request;
    io.kb_changed = job_kb_changed;
    io.bearer_actor = j->actor[0] ? j->actor : NULL;
    io.bearer_role = j->role;
    io.http = true;
    io.header_version = j->hv_set ? j->hv : NULL;
    io.header_method = j->hm_set ? j->hm : NULL;
    io.header_method_present = j->hm_set;
    io.header_name = j->hn_set ? j->hn : NULL;
    int status = 200;
    json_t *resp = hk_mcp_handle(j->mcp, j->entry ? j->entry->sess : NULL,
                                 j->msg, &io, NULL, &status);
    pthread_mutex_lock(&j->lock);
    j->response = resp;
    j->status = status;
    j->done = true;
    pthread_mutex_unlock(&j->lock);
    job_post(j);
}

static void *worker_main(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&g.lock);
        while (!g.head && !g.closing)
            pthread_cond_wait(&g.wake, &g.lock);
        call_job *j = g.head;
        if (j) {
            g.head = j->next;
            if (!g.head) g.tail = NULL;
            g.queued--;
        }
        bool stop = !j && g.closing;
        pthread_mutex_unlock(&g.lock);
        if (stop) break;
        if (!j) continue;
        job_run(j);
        job_release(j); /* the worker's reference */
    }
    return NULL;
}

/* ==== GET streams ==== */

typedef struct stream_tick {
    uint64_t id; /* stream to look at */
} stream_tick;

static void stream_close_locked(get_stream *s)
{
    if (s->ref) hk_req_ref_release(s->ref);
    memset(s, 0, sizeof *s);
}

/* Loop thread: ends a stream when its time is up, its session ended or the
 * server stops. */
static void stream_on_tick(void *arg)
{
    stream_tick *t = arg;
    pthread_mutex_lock(&g.lock);
    for (size_t i = 0; i < MAX_STREAMS; i++) {
        get_stream *s = &g.streams[i];
        if (s->id != t->id) continue;
        bool session_live = false;
        for (size_t k = 0; k < MAX_SESSIONS; k++)
            if (g.sessions[k].id[0] && !g.sessions[k].dead &&
                strcmp(g.sessions[k].id, s->session) == 0)
                session_live = true;
        bool end = g.closing || hk_server_stopping(g.srv) || !session_live ||
                   hk_now_us() - s->opened_us > (int64_t)STREAM_MAX_MS * 1000;
        h2o_req_t *req = hk_req_ref_get(s->ref);
        if (!req) {
            stream_close_locked(s);
        } else if (end) {
            hk_sse_out *o = s->out;
            o->final_wanted = true;
            stream_close_locked(s);
            pthread_mutex_unlock(&g.lock);
            hk_sse_flush(o);
            free(t);
            return;
        }
    }
    pthread_mutex_unlock(&g.lock);
    free(t);
}

static void *ticker_main(void *arg)
{
    (void)arg;
    int64_t closing_since = 0;
    bool aborted = false;
    for (;;) {
        struct timespec ts = {0, 250 * 1000000L};
        nanosleep(&ts, NULL);
        uint64_t commit = hk_store_last_commit(hk_server_store(g.srv));
        if (commit != atomic_load(&g.announced))
            job_kb_changed(NULL); /* a write made outside MCP */
        pthread_mutex_lock(&g.lock);
        if (!aborted && hk_server_stopping(g.srv)) {
            /* calls waiting for a client's answer end now, so that their
             * connections close and the loops can drain */
            aborted = true;
            for (size_t i = 0; i < MAX_SESSIONS; i++)
                if (g.sessions[i].sess)
                    hk_mcp_session_abort(g.sessions[i].sess);
        }
        bool open = false;
        for (size_t i = 0; i < MAX_STREAMS; i++) {
            get_stream *s = &g.streams[i];
            if (!s->id) continue;
            open = true;
            stream_tick *t = malloc(sizeof *t);
            if (!t) continue;
            t->id = s->id;
            if (hk_loop_post(s->loop, stream_on_tick, t) != HK_OK) free(t);
        }
        if (g.closing && !closing_since) closing_since = hk_now_us();
        /* at shutdown the loops still deliver messages: wait (bounded) until
         * every stream was ended on its own loop thread */
        bool stop =
            g.closing && (!open || hk_now_us() - closing_since > 3000000);
        pthread_mutex_unlock(&g.lock);
        if (stop) break;
    }
    return NULL;
}

static int on_get(hk_mcp_server *mcp, h2o_req_t *req, const hk_principal *p)
{
    const char *sid = header_str(req, H2O_STRLIT("mcp-session-id"));
    if (!accepts_sse(req)) {
        send_rpc_error(req, 406, HK_MCP_INVALID_REQUEST,
                       "Not Acceptable: GET needs Accept: text/event-stream");
        return 0;
    }
    if (!sid) {
        send_rpc_error(req, 400, HK_MCP_INVALID_REQUEST,
                       "Bad Request: Mcp-Session-Id header is required");
        return 0;
    }
    session_entry *e = session_get(mcp, sid, p->name);
    if (!e) {
        send_rpc_error(req, 404, HK_MCP_INVALID_REQUEST,
                       "Session not found: start a new one with initialize");
        return 0;
    }
    hk_loop *loop = hk_server_current_loop();
    char key[128];
    quota_key(req, p, key);
    bool anon = !p->authenticated;
    pthread_mutex_lock(&g.lock);
    get_stream *slot = NULL;
    size_t n_key = 0, n_anon = 0;
    for (size_t i = 0; i < MAX_STREAMS; i++) {
        get_stream *st = &g.streams[i];
        if (!st->id) {
            if (!slot) slot = st;
            continue;
        }
        if (strcmp(st->quota_key, key) == 0) n_key++;
        if (st->anon) n_anon++;
    }
    bool over =
        n_key >= g.streams_per_owner || (anon && n_anon >= g.anon_streams);
    if (slot && !over) {
        slot->id = ++g.next_stream;
        slot->loop = loop;
        slot->ref = hk_req_ref_new(req);
        memcpy(slot->session, e->id, 33);
        snprintf(slot->quota_key, sizeof slot->quota_key, "%s", key);
        slot->anon = anon;
        slot->opened_us = hk_now_us();
    }
    pthread_mutex_unlock(&g.lock);
    session_put(e);
    if (over) {
        send_rpc_error(req, 429, HK_MCP_INTERNAL_ERROR,
                       "too many open streams for this client; close one "
                       "first");
        return 0;
    }
    if (!slot || !slot->ref) {
        send_rpc_error(req, 503, HK_MCP_INTERNAL_ERROR,
                       "too many open streams; retry later");
        return 0;
    }
    hk_sse_out *o = hk_sse_start(req);
    pthread_mutex_lock(&g.lock);
    slot->out = o;
    pthread_mutex_unlock(&g.lock);
    hk_buf_append_str(&o->pending, ": stream open\n\n");
    hk_sse_flush(o);
    return 0;
}

/* ==== POST ==== */

static bool auth_writer(h2o_req_t *req, hk_principal *p, char actor[64])
{
    actor[0] = '\0';
    if (!hk_server_authorize(g.srv, req, HK_ROLE_READ, p)) return false;
    if (p->authenticated && p->role >= HK_ROLE_WRITE)
        snprintf(actor, 64, "%s", p->name);
    return true;
}

static void copy_header(h2o_req_t *req, const char *name, size_t nlen,
                        char *dst, size_t cap, bool *set)
{
    h2o_iovec_t v;
    *set = header(req, name, nlen, &v);
    if (!*set) return;
    size_t n = v.len < cap - 1 ? v.len : cap - 1;
    memcpy(dst, v.base, n);
    dst[n] = '\0';
    /* trim spaces (Mcp-Name values may be padded) */
    size_t a = 0;
    while (dst[a] == ' ' || dst[a] == '\t')
        a++;
    while (n > a && (dst[n - 1] == ' ' || dst[n - 1] == '\t'))
        dst[--n] = '\0';
    if (a) memmove(dst, dst + a, n - a + 1);
}

static int on_post(hk_mcp_server *mcp, h2o_req_t *req)
{
    hk_principal p;
    char actor[64];
    if (!auth_writer(req, &p, actor)) return 0;
    if (req->entity.len > HK_MCP_MAX_MESSAGE_BYTES) {
        send_rpc_error(req, 413, HK_MCP_INVALID_REQUEST,
                       "Invalid request: message larger than 4 MiB");
        return 0;
    }
    json_error_t je;
    json_t *msg = json_loadb(req->entity.base ? req->entity.base : "",
                             req->entity.len, JSON_DECODE_ANY, &je);
    if (!msg) {
        char m[300];
        snprintf(m, sizeof m, "Parse error: %s", je.text);
        send_rpc_error(req, 400, HK_MCP_PARSE_ERROR, m);
        return 0;
    }
    if (json_is_array(msg)) {
        json_decref(msg);
        send_rpc_error(req, 400, HK_MCP_INVALID_REQUEST,
                       "Invalid request: JSON-RPC batches are not supported");
        return 0;
    }
    hk_mcp_kind kind = hk_mcp_classify(msg);
    const char *method = json_string_value(json_object_get(msg, "method"));
    const char *sid = header_str(req, H2O_STRLIT("mcp-session-id"));
    const char *hver = header_str(req, H2O_STRLIT("mcp-protocol-version"));
    bool stateless = hk_mcp_is_stateless(msg);
    if (!stateless && hver && kind == HK_MCP_KIND_REQUEST && method &&
        strcmp(method, "initialize") != 0) {
        bool known = false;
        for (size_t i = 0; i < hk_mcp_n_versions; i++)
            if (strcmp(hk_mcp_versions[i], hver) == 0) known = true;
        if (!known || strcmp(hver, HK_MCP_VERSION_STATELESS) == 0)
            stateless = true; /* validated (and rejected) by the library */
    }
    session_entry *entry = NULL;
    bool initialize = kind == HK_MCP_KIND_REQUEST && method &&
                      strcmp(method, "initialize") == 0 && !stateless;
    if (!stateless && !initialize && kind != HK_MCP_KIND_INVALID) {
        if (!sid) {
            json_decref(msg);
            send_rpc_error(req, 400, HK_MCP_INVALID_REQUEST,
                           "Bad Request: Mcp-Session-Id header is required "
                           "(send initialize first)");
            return 0;
        }
        entry = session_get(mcp, sid, p.name);
        if (!entry) {
            json_decref(msg);
            send_rpc_error(req, 404, HK_MCP_INVALID_REQUEST,
                           "Session not found: start a new one with "
                           "initialize");
            return 0;
        }
    }
    if (initialize && sid) {
        json_decref(msg);
        send_rpc_error(req, 400, HK_MCP_INVALID_REQUEST,
                       "Bad Request: initialize must not carry "
                       "Mcp-Session-Id");
        return 0;
    }

    if (kind == HK_MCP_KIND_REQUEST && method &&
        strcmp(method, "tools/call") == 0) {
        call_job *j = calloc(1, sizeof *j);
        if (!j) goto busy;
        pthread_mutex_init(&j->lock, NULL);
        j->loop = hk_server_current_loop();
        j->ref = hk_req_ref_new(req);
        j->msg = msg;
        j->mcp = mcp;
        j->entry = entry;
        j->sse_ok = accepts_sse(req);
        snprintf(j->actor, sizeof j->actor, "%s", actor);
        j->role = p.authenticated ? (int)p.role : 0;
        copy_header(req, H2O_STRLIT("mcp-protocol-version"), j->hv,
                    sizeof j->hv, &j->hv_set);
        copy_header(req, H2O_STRLIT("mcp-method"), j->hm, sizeof j->hm,
                    &j->hm_set);
        copy_header(req, H2O_STRLIT("mcp-name"), j->hn, sizeof j->hn,
                    &j->hn_set);
        j->refs = 1; /* the worker's */
        pthread_mutex_lock(&g.lock);
        bool full = g.queued >= MAX_QUEUED || g.closing || !j->ref;
        if (!full) {
            if (g.tail)
                g.tail->next = j;
            else
                g.head = j;
            g.tail = j;
            g.queued++;
            pthread_cond_signal(&g.wake);
        }
        pthread_mutex_unlock(&g.lock);
        if (full) {
            if (j->ref) hk_req_ref_release(j->ref);
            j->ref = NULL;
            j->entry = NULL; /* released below */
            j->msg = NULL;
            job_release(j);
            goto busy;
        }
        return 0;
    }

    /* everything else is answered here, on the loop */
    hk_mcp_io io;
    memset(&io, 0, sizeof io);
    io.bearer_actor = actor[0] ? actor : NULL;
    io.bearer_role = p.authenticated ? (int)p.role : 0;
    io.http = true;
    io.header_version = hver;
    io.header_method = header_str(req, H2O_STRLIT("mcp-method"));
    io.header_method_present = io.header_method != NULL;
    char hn[1024];
    bool hn_set = false;
    copy_header(req, H2O_STRLIT("mcp-name"), hn, sizeof hn, &hn_set);
    io.header_name = hn_set ? hn : NULL;
    hk_mcp_session *created = NULL;
    int status = 200;
    json_t *resp = hk_mcp_handle(mcp, entry ? entry->sess : NULL, msg, &io,
                                 initialize ? &created : NULL, &status);
    char new_id[33] = "";
    if (created) {
        char key[128];
        quota_key(req, &p, key);
        if (!session_add(mcp, created, p.name, key, !p.authenticated, new_id)) {
            hk_mcp_session_free(created);
            json_decref(resp);
            resp = hk_mcp_error_response(json_object_get(msg, "id"),
                                         HK_MCP_INTERNAL_ERROR,
                                         "too many sessions; retry later");
            status = 503;
        }
    }
    if (resp)
        send_json_msg(req, status, resp, new_id[0] ? new_id : NULL);
    else
        send_empty(req, kind == HK_MCP_KIND_INVALID ? 400 : 202);
    json_decref(resp);
    json_decref(msg);
    if (entry) session_put(entry);
    return 0;
busy:
    json_decref(msg);
    if (entry) session_put(entry);
    send_rpc_error(req, 503, HK_MCP_INTERNAL_ERROR,
                   "the server is busy or stopping; retry later");
    return 0;
}

/* ==== DELETE and dispatch ==== */

static int on_delete(hk_mcp_server *mcp, h2o_req_t *req, const hk_principal *p)
{
    const char *sid = header_str(req, H2O_STRLIT("mcp-session-id"));
    if (!sid) {
        send_rpc_error(req, 400, HK_MCP_INVALID_REQUEST,
                       "Bad Request: Mcp-Session-Id header is required");
        return 0;
    }
    if (!session_end(mcp, sid, p->name)) {
        send_rpc_error(req, 404, HK_MCP_INVALID_REQUEST, "Session not found");
        return 0;
    }
    send_empty(req, 200);
    return 0;
}

/* ud is &g.mcp or &g.mem: the endpoint registered with that prefix. */
static int on_mcp(hk_server *srv, h2o_req_t *req, void *ud)
{
    (void)srv;
    hk_mcp_server *mcp = *(hk_mcp_server **)ud;
    size_t want = ud == &g.mem ? sizeof "/mcp/memory" - 1 : sizeof "/mcp" - 1;
    size_t plen = req->query_at == SIZE_MAX ? req->path.len : req->query_at;
    if (plen != want) return -1; /* a deeper path is not ours */
    if (!host_and_origin_ok(req)) {
        send_rpc_error(req, 403, HK_MCP_INVALID_REQUEST,
                       "Forbidden: Origin or Host is not allowed "
                       "(DNS-rebinding protection)");
        return 0;
    }
    if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST")))
        return on_post(mcp, req);
    if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"))) {
        hk_principal p;
        char actor[64];
        if (!auth_writer(req, &p, actor)) return 0;
        return on_get(mcp, req, &p);
    }
    if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("DELETE"))) {
        hk_principal p;
        char actor[64];
        if (!auth_writer(req, &p, actor)) return 0;
        return on_delete(mcp, req, &p);
    }
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL,
                   H2O_STRLIT("GET, POST, DELETE"));
    send_rpc_error(req, 405, HK_MCP_INVALID_REQUEST,
                   "Method Not Allowed: use POST, GET or DELETE");
    return 0;
}

/* ==== Start-up and shutdown ==== */

static hk_err write_sync(void *ud, hk_mcp_txn_fn fn, void *arg,
                         const char *actor, hk_error *err)
{
    return hk_server_write_sync(ud, fn, arg, actor ? actor : "mcp", err);
}

static bool check_token(void *ud, const char *token, char name[64])
{
    hk_principal p;
    if (hk_server_auth_lookup(ud, token, strlen(token), &p) != HK_OK)
        return false;
    if (p.role < HK_ROLE_WRITE) return false;
    snprintf(name, 64, "%s", p.name);
    return true;
}

hk_err hk_mcp_http_register(hk_server *srv, hk_error *err)
{
    memset(&g, 0, sizeof g);
    g.srv = srv;
    atomic_store(&g.announced, hk_store_last_commit(hk_server_store(srv)));
    pthread_mutex_init(&g.lock, NULL);
    pthread_cond_init(&g.wake, NULL);
    const hk_server_config *cfg = hk_server_get_config(srv);
    g.principal_sessions = cfg->mcp_principal_sessions
                               ? cfg->mcp_principal_sessions
                               : DEF_PRINCIPAL_SESSIONS;
    g.anon_addr_sessions = cfg->mcp_anon_addr_sessions
                               ? cfg->mcp_anon_addr_sessions
                               : DEF_ANON_ADDR_SESSIONS;
    g.anon_sessions =
        cfg->mcp_anon_sessions ? cfg->mcp_anon_sessions : DEF_ANON_SESSIONS;
    g.anon_idle_us = (int64_t)(cfg->mcp_anon_idle_s ? cfg->mcp_anon_idle_s
                                                    : DEF_ANON_IDLE_S) *
                     1000000;
    g.streams_per_owner = cfg->mcp_streams_per_client
                              ? cfg->mcp_streams_per_client
                              : DEF_STREAMS_PER_OWNER;
    g.anon_streams = DEF_ANON_STREAMS;
    /* `hakgal serve` options --mcp-conformance-fixtures, --mcp-allow-dirs,
     * --mcp-backup-dir (also HAKGAL_<OPTION> and the config file);
     * HAKGAL_MCP_FIXTURES is a short form of the first */
    const char *fx_env = getenv("HAKGAL_MCP_FIXTURES");
    bool fixtures =
        cfg->mcp_conformance_fixtures ||
        (fx_env && (strcmp(fx_env, "1") == 0 || strcmp(fx_env, "true") == 0));
    const char *dirs = cfg->mcp_allow_dirs;
    const char *bdir = cfg->mcp_backup_dir;
    size_t n_allow = 0;
    if (dirs && dirs[0]) {
        g.allow_buf = strdup(dirs);
        if (!g.allow_buf)
            return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        char *save = NULL;
        for (char *d = strtok_r(g.allow_buf, ":", &save);
             d && n_allow < HK_MCP_MAX_DIRS; d = strtok_r(NULL, ":", &save))
            g.allow[n_allow++] = d;
    }
    snprintf(g.backup_dir, sizeof g.backup_dir, "%s",
             bdir && bdir[0] ? bdir : "");
    if (!g.backup_dir[0])
        snprintf(g.backup_dir, sizeof g.backup_dir, "%s.backups",
                 cfg->data_dir);
    hk_mcp_env env;
    memset(&env, 0, sizeof env);
    env.store = hk_server_store(srv);
    g.vs = hk_server_vstore(srv);
    env.vstore_slot = &g.vs;
    env.write = write_sync;
    env.write_ud = srv;
    env.check_token = check_token;
    env.check_ud = srv;
    env.external_tokens = hk_server_auth_enabled(srv);
    env.allow_dirs = g.allow;
    env.n_allow_dirs = n_allow;
    env.backup_dir = g.backup_dir;
    env.fixtures = fixtures;
    env.transport = "http";
    hk_err rc = hk_mcp_server_new(&env, &g.mcp, err);
    if (rc != HK_OK) return rc;
    env.profile = HK_MCP_PROFILE_MEMORY;
    env.fixtures = false;
    rc = hk_mcp_server_new(&env, &g.mem, err);
    if (rc != HK_OK) goto fail;
    /* the longer prefix first: the router takes the first match */
    rc = hk_server_register_path(srv, "/mcp/memory", on_mcp, &g.mem);
    if (rc == HK_OK) rc = hk_server_register_path(srv, "/mcp", on_mcp, &g.mcp);
    if (rc != HK_OK) {
        hk_error_set(err, rc, "cannot register /mcp and /mcp/memory");
        goto fail;
    }
    for (size_t i = 0; i < WORKERS; i++)
        if (pthread_create(&g.workers[i], NULL, worker_main, NULL) != 0)
            return hk_error_set(err, HK_ERR_NOMEM, "cannot start MCP workers");
    if (pthread_create(&g.ticker, NULL, ticker_main, NULL) != 0)
        return hk_error_set(err, HK_ERR_NOMEM, "cannot start MCP ticker");
    g.started = true;
    if (!cfg->quiet && env.fixtures)
        fprintf(stderr, "hakgal serve: /mcp has the conformance-suite "
                        "fixtures (testing only)\n");
    return HK_OK;
fail:
    hk_mcp_server_free(g.mem);
    hk_mcp_server_free(g.mcp);
    g.mem = g.mcp = NULL;
    return rc;
}

/* Called by serve.c after the loops drained their connections, while they
 * still deliver posted messages: workers finish (waits for client answers
 * are aborted), the ticker ends the last GET streams on their loops. */
void hk_mcp_http_shutdown(hk_server *srv)
{
    (void)srv;
    if (!g.mcp) return;
    pthread_mutex_lock(&g.lock);
    g.closing = true;
    pthread_cond_broadcast(&g.wake);
    for (size_t i = 0; i < MAX_SESSIONS; i++)
        if (g.sessions[i].sess) /* wake workers waiting for an answer */
            hk_mcp_session_abort(g.sessions[i].sess);
    pthread_mutex_unlock(&g.lock);
    if (g.started) {
        for (size_t i = 0; i < WORKERS; i++)
            pthread_join(g.workers[i], NULL);
        pthread_join(g.ticker, NULL);
    }
    for (size_t i = 0; i < MAX_SESSIONS; i++) {
        hk_mcp_session_free(g.sessions[i].sess);
        g.sessions[i].sess = NULL;
    }
    hk_mcp_server_free(g.mcp);
    hk_mcp_server_free(g.mem);
    g.mcp = g.mem = NULL;
    free(g.allow_buf);
    g.allow_buf = NULL;
}
