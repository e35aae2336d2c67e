/*
 * server.h — internal interface of the hakgal HTTP server (src/server/).
 *
 * The server is `hakgal serve`: h2o (evloop flavour) with one event loop per
 * worker thread, each loop owning its own SO_REUSEPORT listening socket. This
 * header is what other parts of the executable (the MCP Streamable HTTP
 * endpoint in mcp_http.c) use to plug into it. It is stable: new functions
 * may be added, existing ones keep their signatures.
 *
 * Threads and who may call what:
 *  - Loop threads run h2o. Every h2o_req_t is touched only by the loop thread
 *    that received it. Path handlers, hk_http_send_*, hk_server_authorize,
 *    hk_server_write_async, hk_server_defer, hk_req_ref_* and
 *    hk_loop_read_txn run on loop threads only.
 *  - The writer thread owns the single LMDB write transaction. Jobs from any
 *    thread are queued to it; it drains the queue, applies every queued job
 *    in one write transaction (each with its own audit actor), commits
 *    durably and only then completes each job (group commit). No loop ever
 *    waits for a commit.
 *  - Pool threads run blocking work handed over with hk_server_defer; the
 *    completion then runs on the loop thread that owns the request.
 *  - hk_server_write_sync, hk_loop_post, hk_server_store, the config, auth
 *    lookups and metrics are callable from any thread.
 *
 * Plugging in a path (how /mcp is served):
 *  At start-up, after the REST routes are set up and before the loops start,
 *  the server calls hk_mcp_http_register(srv) when that function is linked
 *  in (it is declared weak here). It registers its prefixes with
 *  hk_server_register_path. The server's router then hands every request
 *  whose path equals the prefix or continues it with '/' or '?' to the
 *  handler, after the common checks (body size limit, Host check). Auth is
 *  left to the handler (hk_server_authorize), since protocols differ in what
 *  needs which role. Request counts and latency for the route label
 *  "<METHOD> <prefix>" are recorded automatically when the request ends.
 */
#ifndef HK_SERVER_H
#define HK_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <h2o.h>

#include "hakgal.h"
#include "otel/otel.h"
#include "service/service.h"

typedef struct hk_server hk_server;
typedef struct hk_loop hk_loop; /* one per loop (worker) thread */

/* ==== Configuration ==== */

#define HK_SERVER_MAX_LIST 16 /* entries in allowed_hosts / allowed_origins */

typedef struct hk_server_config {
    char data_dir[4096];       /* KB directory (--data, HAKGAL_DATA) */
    char listen_host[256];     /* address to bind, e.g. "127.0.0.1" */
    uint16_t listen_port;      /* TCP port; 0 picks a free one */
    unsigned threads;          /* event loop threads */
    unsigned pool_threads;     /* threads for blocking work (hk_server_defer) */
    char tokens_file[4096];    /* token file path, "" when none */
    bool insecure;             /* allow non-loopback listen without tokens */
    bool read_auth;            /* reads need a read token too */
    char tls_cert[4096];       /* PEM certificate chain, "" = plain HTTP */
    char tls_key[4096];        /* PEM private key */
    size_t max_body;           /* bytes of request body accepted */
    uint32_t max_batch;        /* facts per POST /v2/facts/batch */
    size_t max_statement;      /* bytes of one statement text */
    uint32_t max_args;         /* arguments per fact (<= HK_MAX_ARGS) */
    uint32_t max_limit;        /* largest page size (?limit=) */
    uint32_t default_limit;    /* page size when ?limit= is absent */
    uint32_t query_timeout_ms; /* time budget of one read query */
    uint32_t request_timeout_ms; /* h2o I/O timeout (slow clients) */
    uint32_t max_group;          /* jobs per group commit at most */
    uint32_t commit_delay_us;    /* most a group waits to gather, 0 = never */
    uint64_t map_size;           /* LMDB map size in bytes, 0 = default */
    bool no_sync;                /* skip fsync (benchmarks only; not durable) */
    bool wal;                    /* durable writes through the store's
                                    write-ahead log (--wal) */
    uint32_t wal_checkpoint_ms;  /* --wal: most time between checkpoints,
                                    0 = the store's default */
    uint32_t wal_log_mb;         /* --wal: the log's ring in MiB, 0 = the
                                    store's default */
    bool h2c;                    /* accept "Upgrade: h2c" (cleartext HTTP/2) */
    unsigned n_allowed_hosts;    /* entries in allowed_hosts; 0 = any */
    char allowed_hosts[HK_SERVER_MAX_LIST][256]; /* Host header values */
    unsigned n_allowed_origins; /* entries in allowed_origins */
    char allowed_origins[HK_SERVER_MAX_LIST][256]; /* Origin values, "*" any */
    char access_log[4096];         /* access log path, "" = none */
    bool mcp_conformance_fixtures; /* /mcp registers the conformance suite's
                                      fixture tools (testing only) */
    char mcp_allow_dirs[4096];     /* ':'-separated dirs MCP tools may touch */
    char mcp_backup_dir[4096];     /* backup_kb target, "" = <data>.backups */
    uint32_t mcp_principal_sessions; /* MCP sessions per token name, 0 = 64 */
    uint32_t mcp_anon_addr_sessions; /* anonymous MCP sessions per source
                                        address, 0 = 32 */
    uint32_t mcp_anon_sessions;      /* anonymous MCP sessions in all (the
                                        rest of the 1024 stay for token
                                        holders), 0 = 256 */
    uint32_t mcp_anon_idle_s; /* idle anonymous sessions expire, s; 0 = 300 */
    uint32_t mcp_streams_per_client; /* open /mcp GET streams per token name
                                        or anonymous address, 0 = 8 */
    bool quiet;                      /* no start-up banner on stderr */
    char stream_url[1300];   /* --stream kafka://BROKERS/TOPIC, "" = none */
    char follow_url[1300];   /* --follow kafka://BROKERS/TOPIC, "" = none */
    uint32_t follow_max_lag; /* /readyz 503 beyond this lag, 0 = no bound */
    char grpc_listen[300];   /* --grpc-listen HOST:PORT, "" = no gRPC */
    unsigned grpc_threads;   /* gRPC worker threads, 0 = 4 */
    char grpc_transport[8];  /* "h2" (libnghttp2 on event loops) or
                                "core" (gRPC C core), "" = h2; TLS always
                                goes through the C core */
    char web_dir[4096];      /* --web: explorer files, "" = next to the
                                binary, "none" = no explorer */
    hk_otel_config otel;     /* OpenTelemetry tracing (OTEL_* settings) */
    bool access_log_json;    /* access log lines are JSON with trace ids */

    /* multi-writer replication (server_repl.c) */
    char repl_url[1300];      /* --replicate kafka://BROKERS/TOPIC */
    uint32_t node_id;         /* --node-id */
    char repl_ack[16];        /* --ack applied|log, "" = applied */
    uint32_t repl_timeout_ms; /* --replicate-timeout-ms, 0 = 10000 */
    uint32_t repl_max_lag;    /* --replicate-max-lag, 0 = 1000 */
    uint32_t repl_sync_ms;    /* --replicate-sync-ms: fsync period of the
                                 apply, 0 = fsync every apply commit */
    char repl_commands[16];   /* --replicate-commands binary|json, "" =
                                 binary */
} hk_server_config;

/* Read-only after start-up; valid as long as the server. */
const hk_server_config *hk_server_get_config(const hk_server *srv);
/* The open KB. Shared by all threads (see hakgal.h thread rules). */
hk_store *hk_server_store(hk_server *srv);
/* The vector module attached to that KB (src/vector/vector.h). */
struct hkv_store *hk_server_vstore(hk_server *srv);
/* True once SIGTERM/SIGINT was received: long-lived streams should end. */
bool hk_server_stopping(const hk_server *srv);

/* ==== Command ==== */

/* `hakgal serve` (serve.c); returns an HK_EXIT_* code (service.h). */
int hk_cmd_serve(int argc, char **argv);

/* ==== Auth ==== */

/* Roles (hk_role, HK_ROLE_*) and tokens are the service layer's
 * (service.h, section "Access tokens"). */

typedef struct hk_principal {
    char name[64];      /* token name; "anonymous" without a token */
    hk_role role;       /* granted role */
    bool authenticated; /* a valid bearer token was presented */
} hk_principal;

/* True when at least one token is configured (file or environment). */
bool hk_server_auth_enabled(const hk_server *srv);
/* Looks a bearer token up (SHA-256 of the token compared in constant time
 * against every configured hash). HK_ERR_NOT_FOUND when unknown. */
hk_err hk_server_auth_lookup(const hk_server *srv, const char *token,
                             size_t len, hk_principal *out);
/* The role an operation of kind `need` requires of this request under the
 * configured policy, resolved: with no tokens configured every request is
 * allowed (principal "anonymous", role admin, loopback-only listen); with
 * tokens, writes need >= write, admin routes admin, and reads need a read
 * token only when read_auth is on. On success fills *out (may be NULL) and
 * returns true. On failure sends the JSON 401/403 answer itself (with
 * WWW-Authenticate) and returns false: the handler must then return 0. */
bool hk_server_authorize(hk_server *srv, h2o_req_t *req, hk_role need,
                         hk_principal *out);
/* Origin header check for browser clients: true when the request has no
 * Origin header, or it is listed in allowed_origins (or "*" is), or it is a
 * loopback origin (http://localhost, http://127.0.0.1, http://[::1], any
 * port) while the server listens on loopback. */
bool hk_server_origin_allowed(const hk_server *srv, h2o_req_t *req);

/* ==== Registering paths ==== */

/* Handles one request on its loop thread. Must answer it (now or later,
 * through hk_server_defer / hk_loop_post / hk_req_ref) and return 0;
 * returning -1 makes the server answer 404. */
typedef int (*hk_path_handler_fn)(hk_server *srv, h2o_req_t *req, void *ud);

/* Adds a path prefix ("/mcp"). Only during start-up (inside
 * hk_mcp_http_register). HK_ERR_EXISTS when taken, HK_ERR_LIMIT when the
 * table (16 entries) is full. */
hk_err hk_server_register_path(hk_server *srv, const char *prefix,
                               hk_path_handler_fn fn, void *ud);

/* Start-up hook implemented by src/server/mcp_http.c; called once when it is
 * linked in. Returns HK_OK or an error that stops start-up. */
hk_err hk_mcp_http_register(hk_server *srv, hk_error *err)
    __attribute__((weak));
/* Shutdown hook, called once when linked in (also after a failed
 * registration): after the loops stopped accepting and drained their
 * connections, while the writer (hk_server_write_sync) and the loops'
 * message queues (hk_loop_post) still work; after it returns no thread of
 * the endpoint may use the server. */
void hk_mcp_http_shutdown(hk_server *srv) __attribute__((weak));

/* gRPC endpoint hooks (src/grpc/grpc_server.c), called once each when
 * linked in: start after the writer runs (nothing happens without
 * --grpc-listen), stop before the writer stops (also after a failed
 * start). */
hk_err hk_grpc_start(hk_server *srv, hk_error *err) __attribute__((weak));
void hk_grpc_stop(hk_server *srv) __attribute__((weak));

/* ==== Responses (loop thread) ==== */

/* Sends body (copied into the request pool) with Content-Type
 * application/json; charset=utf-8. */
void hk_http_send_json(h2o_req_t *req, int status, const char *body,
                       size_t len);
/* Sends {"error": {"code": code, "message": message, "detail": detail}}.
 * detail_json is raw JSON text (object, number, ...) or NULL for null. */
void hk_http_send_error(h2o_req_t *req, int status, const char *code,
                        const char *message, const char *detail_json);
/* Maps an hk_error to status and code (INVALID -> 400 invalid_statement or
 * bad_request, NOT_FOUND -> 404, EXISTS -> 409, LIMIT -> 413/422,
 * FULL -> 507, others -> 500) with line/column/field in detail. */
void hk_http_send_hk_error(h2o_req_t *req, const hk_error *err);

/* ==== Writes through the group commit ==== */

/* Runs on the writer thread inside the group's write transaction (the actor
 * is already set). Rules: it must not keep pointers into txn; when it
 * returns an input error (HK_ERR_INVALID, NOT_FOUND, EXISTS, LIMIT) it must
 * have left the transaction unchanged (validate before mutating); on
 * HK_ERR_STORE/FULL/NOMEM/IO/STATE the whole group is rolled back and every
 * job is re-run alone, so fn may run twice and must not consume arg. */
typedef hk_err (*hk_write_fn)(hk_txn *txn, void *arg, hk_error *err);

/* From any thread except a loop thread: queues the job and blocks until its
 * transaction is durably committed (or failed). Returns fn's result, or the
 * commit's error. actor NULL = "local". */
hk_err hk_server_write_sync(hk_server *srv, hk_write_fn fn, void *arg,
                            const char *actor, hk_error *err);
/* The same with a choice: a solo job gets a transaction of its own (a
 * batch, which switches the store to bulk mode). */
hk_err hk_server_write_sync_ex(hk_server *srv, hk_write_fn fn, void *arg,
                               const char *actor, bool solo, hk_error *err);

/* Called on the loop thread of the request once the job is durable (rc
 * HK_OK) or failed. req is NULL when the client went away meanwhile. done
 * owns arg from then on (free it there). */
typedef void (*hk_write_done_fn)(h2o_req_t *req, hk_err rc, const hk_error *err,
                                 void *arg);

/* Loop thread only: queues a job for the request; never blocks. On an error
 * return (HK_ERR_STATE when shutting down) nothing was queued and done will
 * not be called. */
hk_err hk_server_write_async(h2o_req_t *req, hk_write_fn fn,
                             hk_write_done_fn done, void *arg,
                             const char *actor);

/* ==== Blocking work off the loop ==== */

typedef void (*hk_work_fn)(void *arg); /* pool thread */
typedef void (*hk_after_work_fn)(h2o_req_t *req,
                                 void *arg); /* loop thread;
                                  req NULL when gone; owns arg */

/* Loop thread only: runs work(arg) on a pool thread, then after(req, arg)
 * on this loop thread. HK_ERR_STATE when shutting down (nothing queued). */
hk_err hk_server_defer(h2o_req_t *req, hk_work_fn work, hk_after_work_fn after,
                       void *arg);

/* The loop of the calling thread, NULL when it is not a loop thread. */
hk_loop *hk_server_current_loop(void);
/* The h2o context of a loop (use on that loop's thread only). */
h2o_context_t *hk_loop_context(hk_loop *loop);
/* Any thread: runs fn(arg) soon on loop's thread (used to push SSE chunks
 * produced elsewhere). HK_ERR_NOMEM when the message cannot be allocated. */
hk_err hk_loop_post(hk_loop *loop, void (*fn)(void *arg), void *arg);

/* A weak reference to a request that tells whether it is still alive (the
 * client may disconnect before an asynchronous answer is ready). Loop thread
 * only. hk_req_ref_new returns NULL on allocation failure. */
typedef struct hk_req_ref hk_req_ref;
hk_req_ref *hk_req_ref_new(h2o_req_t *req);
h2o_req_t *hk_req_ref_get(hk_req_ref *ref); /* NULL once disposed */
void hk_req_ref_release(hk_req_ref *ref);

/* ==== Reads ==== */

/* Loop thread only: this loop's reusable read transaction with a fresh
 * snapshot (hk_txn_renew). Call hk_loop_read_done when the answer is built,
 * before returning to the loop. Other threads open their own read
 * transaction with hk_txn_begin(hk_server_store(srv), false, ...). */
hk_txn *hk_loop_read_txn(hk_loop *loop, hk_error *err);
void hk_loop_read_done(hk_loop *loop); /* releases the snapshot (reset) */

#endif /* HK_SERVER_H */
