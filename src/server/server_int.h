/*
 * server_int.h — internals shared by the files of src/server/ (not for use
 * outside this folder; the interface for others is server.h).
 *
 * Files:
 *   serve.c          hk_cmd_serve: settings, start-up, loops, shutdown
 *   server_config.c  defaults, config file, environment, flags, --help
 *   server_auth.c    token file/env loading, hashing, role checks, Origin
 *   server_http.c    responses, JSON errors, query strings, request refs
 *   server_writer.c  the group-commit writer thread
 *   server_pool.c    pool threads for blocking work, loop messages
 *   server_metrics.c Prometheus counters and histograms
 *   server_router.c  route table, dispatch, CORS, metrics logger, JSON
 *                    rewriting of errors h2o answers itself
 *   server_gate.c    a connection's first request head, read before h2o:
 *                    bodies refused at the headers, shared body budget
 *   server_openapi.c the OpenAPI 3.1 document
 *   routes.h, routes_util.c  fact input parsing and output helpers
 *   routes_facts.c   fact writes and fact-by-id reads
 *   routes_query.c   queries, scans, entities, predicates, stats, search,
 *                    audit
 *   routes_admin.c   backup, health, readiness, metrics, OpenAPI
 *   mcp_http.c       /mcp (Streamable HTTP), plugged in through server.h
 *   server_web.c     the web explorer's static files at / (web/)
 *
 * Memory: everything here allocates through core/mem.h (hk_malloc ...,
 * released with hk_free) except JSON text from jansson (free()).
 */
#ifndef HK_SERVER_INT_H
#define HK_SERVER_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "core/mem.h"
#include "server/server.h"

/* ==== Loop messages ==== */

/* Every message sent to a loop through its multithread queue starts with
 * this header; the loop calls run(msg) on its own thread. run owns msg. */
typedef struct hk_loop_msg {
    h2o_multithread_message_t super;      /* queue link (must be first) */
    void (*run)(struct hk_loop_msg *msg); /* handler, runs on the loop */
} hk_loop_msg;

/* Jobs of a loop's spare list: about the writes of one group from this
 * loop at 256 connections. */
#define HK_LOOP_SPARE_JOBS 128u

/* Stages of a write request's latency (server_writer.c, "Write latency"):
 * queue, apply, durable, answer. */
#define HK_WRITE_WAITS 4

struct hk_loop {
    hk_server *srv;                   /* owner */
    unsigned index;                   /* 0..threads-1 */
    pthread_t thread;                 /* the loop thread */
    h2o_evloop_t *evloop;             /* h2o event loop */
    h2o_context_t ctx;                /* h2o per-thread context */
    h2o_accept_ctx_t accept_ctx;      /* how accepted sockets are served */
    int listen_fd;                    /* this loop's SO_REUSEPORT socket */
    h2o_socket_t *listener;           /* listen_fd wrapped, NULL once closed */
    h2o_timeout_entry_t accept_pause; /* resumes accepting after EMFILE */
    atomic_uint_fast64_t accepted;    /* connections accepted (metrics) */
    atomic_uint_fast64_t write_wait_us[HK_WRITE_WAITS]; /* µs the writes
                                 answered here spent per stage
                                 (server_writer.c, "Write latency") */
    atomic_uint_fast64_t write_waits;    /* writes counted there */
    h2o_multithread_queue_t *queue;      /* wakes the loop from other threads */
    h2o_multithread_receiver_t receiver; /* receives hk_loop_msg */
    hk_txn *read_txn;                    /* reusable read txn (reset between) */
    bool read_live;                      /* read_txn holds a snapshot now */
    atomic_uint pending;                 /* async jobs not yet completed */
    unsigned gating; /* sockets in the gate (server_gate.c), not yet h2o's */
    bool started;    /* the thread was created */
    atomic_bool drained;  /* stopped serving (shutdown step 1) */
    h2o_linklist_t conns; /* hk_conn_watch of every open accepted
                             socket (serve.c: idle ones are closed
                             at shutdown) */
    /* POST /v2/facts jobs kept for reuse (routes_facts.c): at 1.7 KiB they
     * are beyond malloc's per-thread cache, and its general path cost more
     * than the rest of the request's allocations; freed when the loop
     * ends */
    void *spare_jobs[HK_LOOP_SPARE_JOBS];
    unsigned n_spare_jobs; /* entries of spare_jobs in use */
};

/* Loop thread, for every request: notes the connections that carry
 * HTTP/2, which shutdown leaves to h2o, and counts an HTTP/1 request as in
 * flight until h2o disposes it, so that shutdown never takes its
 * connection for an idle one (serve.c). */
void hk_loop_note_request(h2o_req_t *req);
/* Loop thread, once a request has been handed to another thread and h2o
 * has stopped reading its connection: keeps the connection polled without
 * reading it until the request is disposed, which spares h2o's two
 * epoll_ctl calls per request (serve.c, "Holding a waiting request's
 * socket"). A no-op for HTTP/2, TLS and connections serve.c did not
 * accept. */
void hk_loop_hold_read(h2o_req_t *req);

/* ==== Registered paths ==== */

#define HK_MAX_PATHS 16

typedef struct hk_path_entry {
    char prefix[128];      /* "/mcp" */
    size_t len;            /* strlen(prefix) */
    hk_path_handler_fn fn; /* handler */
    void *ud;              /* passed to fn */
} hk_path_entry;

/* ==== Metrics ==== */

#define HK_METRIC_BUCKETS 14     /* latency histogram buckets (+Inf extra) */
#define HK_METRIC_MAX_ROUTES 160 /* route label slots */

typedef struct hk_route_metric {
    char label[96];                      /* "GET /v2/facts/{id}" */
    atomic_bool used;                    /* slot taken */
    atomic_uint_fast64_t by_status[600]; /* requests by status code */
    atomic_uint_fast64_t bucket[HK_METRIC_BUCKETS + 1]; /* latency counts */
    atomic_uint_fast64_t sum_ns;                        /* total latency, ns */
    atomic_uint_fast64_t count;                         /* requests */
} hk_route_metric;

typedef struct hk_metrics {
    pthread_mutex_t lock; /* guards route slot allocation */
    hk_route_metric routes[HK_METRIC_MAX_ROUTES]; /* per route label */
    atomic_uint_fast64_t facts_added;     /* facts created through the server */
    atomic_uint_fast64_t facts_deleted;   /* facts deleted */
    atomic_uint_fast64_t commits;         /* group commits done */
    atomic_uint_fast64_t commit_failures; /* commits that failed */
    atomic_uint_fast64_t group_bucket[12]; /* jobs-per-commit histogram */
    atomic_uint_fast64_t group_sum;        /* jobs committed in total */
    atomic_uint_fast64_t commit_bucket[HK_METRIC_BUCKETS + 1]; /* latency */
    atomic_uint_fast64_t commit_sum_ns; /* total commit latency */
    atomic_uint_fast64_t queue_depth;   /* jobs waiting for the writer */
    atomic_uint_fast64_t conns_open;    /* accepted sockets not yet closed */
    atomic_uint_fast64_t verify_failed; /* verify answers with ok false */
} hk_metrics;

void hk_metrics_init(hk_metrics *m);
void hk_metrics_destroy(hk_metrics *m);
/* Records one finished request (loop thread). */
void hk_metrics_request(hk_server *srv, const char *route, int status,
                        double seconds);
void hk_metrics_commit(hk_server *srv, size_t jobs, double seconds, bool ok);
/* Appends the Prometheus text exposition (format 0.0.4). */
hk_err hk_metrics_render(hk_server *srv, hk_txn *txn, hk_buf *out);

/* ==== Auth ==== */

/* hk_token, HK_MAX_TOKENS, hk_role_name and hk_role_parse: service.h. */

/* Loads the token file (if any) and HAKGAL_TOKEN_<NAME> variables. */
hk_err hk_auth_load(hk_server *srv, hk_error *err);
/* `hakgal serve --new-token NAME ROLE`: prints a token-file line for a new
 * random token on stdout and the token on stderr; returns the exit code. */
int hk_auth_new_token(const char *name, const char *role);

/* ==== Writer ==== */

typedef struct hk_write_job hk_write_job;

/* Where the writer and the syncer spend their time (server_writer.c). */
#define HK_WRITER_STAGES 8

typedef struct hk_writer {
    pthread_t thread;       /* the writer thread */
    bool started;           /* thread was created */
    pthread_mutex_t lock;   /* guards head/tail/stop */
    pthread_cond_t wake;    /* signalled when a job arrives or on stop */
    hk_write_job *head;     /* queue, FIFO */
    hk_write_job *tail;     /* last queued job */
    size_t count;           /* jobs queued */
    size_t last_group;      /* jobs in the last (non-solo) group */
    int64_t last_commit_us; /* duration of that group's commit */
    int64_t delay_us;       /* most a group waits to gather (config) */
    bool idle;              /* the writer waits for a first job */
    size_t want;            /* gathering: wake the writer when count
                               reaches it (0: not gathering) */
    bool stop;              /* finish the queue, then exit */
    bool closed;            /* refuse new jobs */
    /* the syncer: committed groups waiting for their sync (pipelined
     * durability, server_writer.c) */
    pthread_t sync_thread;     /* syncs and acknowledges them */
    bool sync_started;         /* sync_thread was created */
    pthread_mutex_t sync_lock; /* guards the sync_ fields below */
    pthread_cond_t sync_wake;  /* signalled on a hand-over or on stop */
    pthread_cond_t sync_taken; /* signalled when the syncer takes its
                                  queue (a sync begins) */
    hk_write_job *sync_head;   /* their jobs, in commit order */
    hk_write_job *sync_tail;   /* last of them */
    uint64_t sync_upto;        /* newest commit handed over */
    bool sync_stop;            /* acknowledge what is handed, then exit */
    hk_buf wal_buf;            /* the group's log record (--wal), reused */
    atomic_uint_fast64_t stage_us[HK_WRITER_STAGES]; /* µs per stage
                                        (server_writer.c, "Stages") */
} hk_writer;

hk_err hk_writer_start(hk_server *srv, hk_error *err);
/* Appends hakgal_writer_stage_seconds_total{stage} (/metrics). */
hk_err hk_writer_metrics_render(hk_server *srv, hk_buf *b);
/* hk_server_write_async with a choice: solo jobs get a transaction of
 * their own (used by batches, which switch the store to bulk mode). */
hk_err hk_write_async_ex(h2o_req_t *req, hk_write_fn fn, hk_write_done_fn done,
                         void *arg, const char *actor, bool solo);
/* hk_write_async_ex for a write whose service step is sfn(sarg): with
 * --wal its input is logged (server_writer.c, "Write-ahead log records");
 * sfn NULL: like hk_write_async_ex. */
hk_err hk_write_async_logged(h2o_req_t *req, hk_write_fn fn,
                             hk_write_done_fn done, void *arg,
                             const char *actor, bool solo, hk_svc_apply_fn sfn,
                             void *sarg);
/* The write-ahead log entry of a write command (sfn's request sarg, run
 * by actor, solo or not), in the record format of server_writer.c; the
 * caller frees it with hk_free. NULL when the command cannot be logged or
 * on no memory. */
uint8_t *hk_writer_wal_entry(const char *actor, hk_svc_apply_fn sfn,
                             const void *sarg, bool solo, size_t *len);
/* The store's replay function for --wal (hks_wal_options.replay); ud is
 * an hk_svc_cmd_env of the server's KB. */
hk_err hk_writer_wal_replay(void *ud, hk_txn *t, const void *rec, size_t len,
                            hk_error *err);
/* Refuses new jobs, drains the queue (committing it) and joins. */
void hk_writer_stop(hk_server *srv);

/* ==== Pool ==== */

typedef struct hk_pool_job hk_pool_job;

typedef struct hk_pool {
    pthread_t *threads;   /* pool_threads threads */
    unsigned n_threads;   /* started */
    pthread_mutex_t lock; /* guards the queue */
    pthread_cond_t wake;  /* job arrived or stop */
    hk_pool_job *head;    /* FIFO */
    hk_pool_job *tail;    /* last */
    bool stop;            /* exit once empty */
    bool closed;          /* refuse new jobs */
} hk_pool;

hk_err hk_pool_start(hk_server *srv, hk_error *err);
void hk_pool_stop(hk_server *srv);

/* Sends msg to loop (any thread). */
void hk_loop_send(hk_loop *loop, hk_loop_msg *msg);
/* Multithread receiver callback (runs hk_loop_msg handlers). */
void hk_loop_on_messages(h2o_multithread_receiver_t *receiver,
                         h2o_linklist_t *messages);

/* ==== The server ==== */

struct hk_server {
    hk_server_config cfg;               /* settings (read-only once started) */
    hk_store *store;                    /* the open KB */
    struct hk_svc_autoembed *autoembed; /* background embedder, or NULL */
    pthread_t model_thread;             /* loads the learned model at start */
    bool model_thread_started;          /* model_thread is still to join */
    atomic_bool model_loading;          /* model_thread has not finished */
    struct hkv_store *vs;               /* its vector module (attached) */
    h2o_globalconf_t h2o_config;        /* h2o global configuration */
    h2o_hostconf_t *hostconf;           /* the single host */
    SSL_CTX *ssl_ctx;                   /* TLS context or NULL */
    hk_loop *loops;                     /* cfg.threads loops */
    unsigned n_loops;                   /* loops created */
    hk_writer writer;                   /* group commit */
    hk_pool pool;                       /* blocking work */
    hk_metrics metrics;                 /* counters and histograms */
    hk_token *tokens;                   /* configured tokens */
    unsigned n_tokens;                  /* entries in tokens */
    hk_path_entry paths[HK_MAX_PATHS];  /* registered prefixes */
    unsigned n_paths;                   /* entries in paths */
    bool registering;                   /* register_path allowed now */
    atomic_bool stopping;               /* a stop signal arrived */
    atomic_bool ready;                  /* loops are serving */
    atomic_bool damaged;                /* a read faulted in the KB's map */
    atomic_bool finish;          /* writer and pool stopped: loops exit */
    atomic_uint next_loop;       /* round-robin connection placement */
    atomic_size_t body_inflight; /* bytes reserved by admitted request
                                    bodies (server_gate.c) */
    int64_t started_us;          /* start time */
    bool loopback;               /* listen address is loopback */
    FILE *access_log;            /* access log or NULL */
    pthread_mutex_t log_lock;    /* serialises access log lines */
    struct hkst_pub *stream;     /* change-stream publisher or NULL
                                    (server_stream.c) */
    struct hkst_follow *follow;  /* follower of another node's stream
                                    or NULL (server_stream.c) */
    struct hk_repl_srv *repl;    /* replicated node (--replicate) or NULL
                                    (server_repl.c) */
    uint64_t repl_incarnation;   /* this process's start, in its commands */
    struct hk_web *web;          /* the explorer's files, or NULL when
                                    none is served (server_web.c) */
};

/* ==== Web explorer (server_web.c) ==== */

typedef struct hk_web hk_web;
/* Start-up: loads the explorer's files (--web DIR, else the default
 * places) into srv->web; leaves it NULL with --web none or when no built
 * explorer is found. Errors name the file or the limit. */
hk_err hk_web_load(hk_server *srv, hk_error *err);
/* Frees srv->web; after the loops have been joined. */
void hk_web_free(hk_server *srv);
/* The directory served and its file count, or NULL when none. */
const char *hk_web_root(const hk_server *srv, size_t *n_files);
/* Loop thread: answers a GET or HEAD for one of the explorer's files
 * (path is the raw path without the query; "/" is index.html) and returns
 * true; false when the request is not for one of them. */
bool hk_web_serve(hk_server *srv, h2o_req_t *req, const char *path,
                  size_t path_len);

/* ==== Change stream (server_stream.c) ==== */

/* With cfg.stream_url: enables the KB's outbox and starts its publisher. */
hk_err hk_server_stream_start(hk_server *srv, hk_error *err);
/* Stops the publisher (letting it drain up to 2 s); safe when none. */
void hk_server_stream_stop(hk_server *srv);
/* With cfg.follow_max_lag: false while the follower lags beyond it. */
bool hk_server_stream_ready(hk_server *srv);

/* ==== Replicated nodes (server_repl.c) ==== */

/* --replicate: starts the replicator (before the loops serve). */
hk_err hk_server_repl_start(hk_server *srv, hk_error *err);
/* Stops it; writes still waiting for the log are answered 503. */
void hk_server_repl_stop(hk_server *srv);
/* hk_server_write_sync on a replicated node: fn's request goes through
 * the log as a write command (svc_cmd.h) and the call returns once this
 * node applied it; HK_ERR_UNSUPPORTED when fn has no command. */
hk_err hk_server_repl_write_sync(hk_server *srv, hk_write_fn fn, void *arg,
                                 const char *actor, hk_error *err);
/* False while the node lags more than --replicate-max-lag. */
bool hk_server_repl_ready(hk_server *srv);
hk_err hk_server_repl_metrics(hk_server *srv, hk_buf *b);
/* Adds "replica":{...} to the JSON object in b (which ends with '}'). */
void hk_server_repl_status_json(hk_server *srv, hk_buf *b);
/* Appends the stream's metrics (outbox backlog, publisher counters). */
hk_err hk_server_stream_metrics(hk_server *srv, hk_txn *txn, hk_buf *b);

/* ==== Tracing (server_trace.c) ==== */

/* Opens the request's span (a child of its traceparent) and answers its
 * context, to be made the loop thread's current one while the handler
 * runs; NULL when neither tracing nor JSON access logs are on. */
const hk_trace_ctx *hk_trace_req_begin(hk_server *srv, h2o_req_t *req);
/* Ends the request's span with its route label and status (the logger). */
void hk_trace_req_end(h2o_req_t *req, const char *route, int status);
/* Hex ids of the request's span, false when it has none. */
bool hk_trace_req_ids(h2o_req_t *req, char trace_id[33], char span_id[17]);
/* Writes one error line to stderr: "hakgal serve: MSG" with
 * " trace_id=.. span_id=.." when ctx (the span of the request that caused
 * it) is given, or, with JSON access logs, a JSON object with time, level,
 * msg, trace_id and span_id. Any thread. */
void hk_trace_log_error(hk_server *srv, const hk_trace_ctx *ctx,
                        const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ==== Config ==== */

void hk_config_defaults(hk_server_config *cfg);
/* Applies file (from --config or HAKGAL_CONFIG), then environment, then
 * flags. *help_shown is set when --help was printed (exit 0). */
hk_err hk_config_load(hk_server_config *cfg, int argc, char **argv,
                      bool *help_shown, hk_error *err);
void hk_config_print_help(FILE *out);
/* One bad line of a config file: its number (1-based) and the message. */
typedef void (*hk_config_issue_fn)(void *ud, uint64_t line, const char *msg);
/* Reads a config file as `serve --config` does, but reports every bad line
 * through issue() instead of stopping at the first; *n_bad counts them.
 * HK_OK when the file is valid, HK_ERR_INVALID when a line is bad,
 * HK_ERR_IO when it cannot be read (err says why). */
hk_err hk_config_check_file(const char *path, hk_config_issue_fn issue,
                            void *ud, unsigned *n_bad, hk_error *err);

/* ==== HTTP helpers ==== */

/* Value of query parameter name (URL-decoded into the request pool) or NULL
 * when absent. *bad is set when its encoding is invalid. */
const char *hk_query_param(h2o_req_t *req, const char *name, bool *bad);
/* URL-decodes src[0..len) into the pool; NULL on bad encoding (or when
 * the result would contain NUL). */
char *hk_url_decode(h2o_mem_pool_t *pool, const char *src, size_t len);
/* The request header value (pool copy, NUL-terminated) or NULL. */
const char *hk_req_header(h2o_req_t *req, const h2o_token_t *token);
/* Sends an hk_buf as JSON (copies) and frees nothing. */
void hk_http_send_buf(h2o_req_t *req, int status, const hk_buf *b);
/* Sends a plain/other content type body (copied). */
void hk_http_send_typed(h2o_req_t *req, int status, const char *ctype,
                        const char *body, size_t len);
/* The authorized principal's name (audit actor) of a request, set by the
 * router; "anonymous" when none. */
void hk_req_set_actor(h2o_req_t *req, const char *name);
const char *hk_req_actor(h2o_req_t *req);
/* Stores the route label of the request for metrics. */
void hk_req_set_route(h2o_req_t *req, const char *label);
/* Marks now (monotonic) as the start of the request's handling, and reads
 * it back: the microseconds from that mark to now, or -1 when the request
 * was never marked (h2o answered it before the router). */
void hk_req_mark_start(h2o_req_t *req);
int64_t hk_req_elapsed_us(h2o_req_t *req);

/* ==== Router and routes ==== */

/* Installs the root handler and the metrics logger on the host. */
hk_err hk_router_install(hk_server *srv, hk_error *err);
/* The role a request for method and path (raw, without the query) needs
 * under the configured policy: HK_ROLE_NONE when open to anyone (reads
 * without read-auth, registered prefixes such as /mcp, unknown routes,
 * which are answered 404/405 anyway). Any thread. */
hk_role hk_router_need(const hk_server *srv, const char *method,
                       size_t method_len, const char *path, size_t path_len);

/* ==== Gate (server_gate.c) ==== */

/* Request bodies in flight across all connections at most, in units of
 * max-body (the gate's shared budget). */
#define HK_GATE_BUDGET_BODIES 4

/* Loop thread, for a freshly accepted socket: reads the head of its first
 * request, refuses at the headers a body the request may not send (401,
 * 403) or that exceeds the shared budget (503), then hands the socket to
 * h2o. *reserved receives the bytes reserved from srv->body_inflight, to
 * be released by the caller (when the request is disposed or the
 * connection closes); it must stay valid while the socket is open. */
void hk_gate_start(hk_loop *loop, h2o_socket_t *sock, size_t *reserved);

typedef struct hk_route hk_route;
/* A REST handler: path params already split. */
typedef void (*hk_route_fn)(hk_server *srv, h2o_req_t *req, const char *param);

/* One parameter of a route, for its OpenAPI description. */
typedef struct hk_route_param {
    const char *name; /* parameter name; NULL ends the list */
    const char *in;   /* "query" or "path" */
    const char *type; /* "string" or "integer" */
    bool required;    /* must be present */
    const char *desc; /* one line for the reader */
} hk_route_param;

#define HK_ROUTE_MAX_PARAMS 11

/* A REST route and its OpenAPI operation: one row of server_api.c, read
 * by the router and by the OpenAPI generator. */
struct hk_route {
    const char *method;    /* "GET", ... */
    const char *path;      /* "/v2/facts/{id}/history" (one {param} at most) */
    hk_role need;          /* role required */
    hk_route_fn fn;        /* handler; NULL for hk_prefix_ops rows */
    const char *summary;   /* OpenAPI summary, one line */
    const char *body;      /* request body schema (components), NULL = none */
    const char *ok_status; /* success status: "200", "201" */
    const char *ok_schema; /* success schema (components), NULL = object */
    const char *errors;    /* space-separated error statuses */
    hk_route_param params[HK_ROUTE_MAX_PARAMS]; /* query/path parameters */
};

/* The REST routes (server_api.c), in Allow-header order per path. */
extern const hk_route hk_routes[];
extern const size_t hk_n_routes;
/* Documented operations of registered prefixes (/mcp); fn is NULL. */
extern const hk_route hk_prefix_ops[];
extern const size_t hk_n_prefix_ops;

/* routes_facts.c */
void hk_route_facts_post(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_facts_batch(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_fact_get(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_fact_delete(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_facts_delete(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_fact_put(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_fact_patch(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_fact_history(hk_server *srv, h2o_req_t *req, const char *param);
/* routes_query.c */
void hk_route_facts_list(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_query(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_entity(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_predicates(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_stats(hk_server *srv, h2o_req_t *req, const char *param);
/* routes_growth.c */
void hk_route_growth(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_search(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_audit(hk_server *srv, h2o_req_t *req, const char *param);
/* server_stream.c */
void hk_route_stream_status(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_digest(hk_server *srv, h2o_req_t *req, const char *param);
/* routes_web.c */
void hk_route_session(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_check(hk_server *srv, h2o_req_t *req, const char *param);
/* routes_rules.c */
void hk_route_rules_list(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_rules_post(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_rules_get(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_rules_patch(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_rules_delete(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_reason(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_reason_verify(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_why(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_reason_contradictions(hk_server *srv, h2o_req_t *req,
                                    const char *param);
void hk_route_reason_strict_get(hk_server *srv, h2o_req_t *req,
                                const char *param);
void hk_route_reason_strict_put(hk_server *srv, h2o_req_t *req,
                                const char *param);
/* routes_graphql.c */
void hk_route_graphql_post(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_graphql_get(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_graphql_schema(hk_server *srv, h2o_req_t *req, const char *param);
/* routes_graph.c */
void hk_route_graph_neighbours(hk_server *srv, h2o_req_t *req,
                               const char *param);
void hk_route_graph_path(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_graph_analyze(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_export(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_vectors_list(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_vectors_create(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_vectors_drop(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_vectors_embed(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_vectors_entities(hk_server *srv, h2o_req_t *req,
                               const char *param);
void hk_route_vectors_similar_get(hk_server *srv, h2o_req_t *req,
                                  const char *param);
void hk_route_vectors_similar_post(hk_server *srv, h2o_req_t *req,
                                   const char *param);
/* routes_llm.c */
void hk_route_ask(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_extract(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_review_list(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_review_approve(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_review_reject(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_llm_get(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_llm_put(hk_server *srv, h2o_req_t *req, const char *param);
/* GET /v2/search with ?mode= (text, vector or hybrid), on a pool thread;
 * hk_route_search hands over once it checked q and limit. */
void hk_route_search_mode(hk_server *srv, h2o_req_t *req, const char *qtext,
                          size_t limit);
/* routes_graph_query.c */
/* routes_model.c: the learned model (svc_learn.h) */
void hk_route_model_info(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_model_score(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_model_predict(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_model_suggest(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_model_similar(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_model_train(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_model_train_status(hk_server *srv, h2o_req_t *req,
                                 const char *param);
/* Loads the KB's model file into the service's cache at start, on a
 * thread of its own (a missing file is fine; a damaged one is reported and
 * answered 500 by the model routes until it is retrained): model_loading
 * is true until it ends. _join waits for that thread (before the store
 * closes). Main thread. */
void hk_route_model_preload_start(hk_server *srv);
void hk_route_model_preload_join(hk_server *srv);
void hk_route_graph_query_post(hk_server *srv, h2o_req_t *req,
                               const char *param);
void hk_route_graph_query_run(hk_server *srv, h2o_req_t *req, const char *text,
                              size_t limit, const char *cursor, bool explain);
void hk_route_verify(hk_server *srv, h2o_req_t *req, const char *param);
/* routes_admin.c */
void hk_route_backup(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_compact(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_healthz(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_readyz(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_metrics(hk_server *srv, h2o_req_t *req, const char *param);
void hk_route_openapi(hk_server *srv, h2o_req_t *req, const char *param);

/* server_openapi.c: the document (static text). */
const char *hk_openapi_json(const hk_server *srv, size_t *len);

/* Per-request loop accessor for handlers: the loop running this thread. */
hk_loop *hk_loop_self(void);
/* Drops the loop's read transaction after a fault left it unusable (the
 * next hk_loop_read_txn begins a new one). */
void hk_loop_discard_read(hk_loop *loop);

#endif /* HK_SERVER_INT_H */
