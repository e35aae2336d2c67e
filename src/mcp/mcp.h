/*
 * mcp.h — the Model Context Protocol (MCP) server of hakgal as a library
 * that knows nothing about its transport.
 *
 * A transport (stdio in mcp_stdio.c, Streamable HTTP in
 * src/server/mcp_http.c) parses one JSON-RPC message, hands it to
 * hk_mcp_handle() together with an hk_mcp_io (how to reach the client
 * while the request runs) and writes back the response it gets.
 *
 * Two protocol revisions are served by the same dispatcher, chosen per
 * message from the version the client sends:
 *  - 2025-11-25 (and the older dated revisions a client may ask for):
 *    stateful. `initialize` negotiates the version and stores the client's
 *    capabilities in an hk_mcp_session; `notifications/initialized`,
 *    `ping`, `logging/setLevel`, resource subscriptions.
 *  - 2026-07-28: stateless. Every request carries `_meta` with
 *    `io.modelcontextprotocol/protocolVersion` and `.../clientCapabilities`;
 *    `server/discover` replaces `initialize`; every result carries
 *    `resultType`; list and read results carry `ttlMs` and `cacheScope`;
 *    sampling / elicitation / roots are asked for with an
 *    `input_required` result and answered by a retried request.
 *
 * Threads: an hk_mcp_server is immutable after hk_mcp_server_new and may be
 * used from any number of threads at once; each call opens its own read
 * transaction and writes go through env.write (one writer). An
 * hk_mcp_session has its own mutex; hk_mcp_handle may be called for the
 * same session from several threads (HTTP POSTs run concurrently), and
 * hk_mcp_session_deliver may be called while another thread waits in a
 * client request of that session.
 */
#ifndef HK_MCP_H
#define HK_MCP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "hakgal.h"
#include "service/service.h" /* hk_token */

#define HK_MCP_SERVER_NAME "hakgal"
#define HK_MCP_VERSION_STATEFUL "2025-11-25"  /* newest stateful revision */
#define HK_MCP_VERSION_STATELESS "2026-07-28" /* stateless revision */
/* Bytes of one JSON-RPC message. */
#define HK_MCP_MAX_MESSAGE_BYTES (4u * 1024u * 1024u)
#define HK_MCP_MAX_TOKENS 64 /* configured write tokens */
#define HK_MCP_MAX_DIRS 16   /* configured allowed directories */

/* JSON-RPC and MCP error codes. */
enum {
    HK_MCP_PARSE_ERROR = -32700,
    HK_MCP_INVALID_REQUEST = -32600,
    HK_MCP_METHOD_NOT_FOUND = -32601,
    HK_MCP_INVALID_PARAMS = -32602,
    HK_MCP_INTERNAL_ERROR = -32603,
    HK_MCP_RESOURCE_NOT_FOUND = -32002, /* resources/read of unknown uri */
    HK_MCP_HEADER_MISMATCH = -32020,    /* HTTP header disagrees with body */
    HK_MCP_MISSING_CLIENT_CAPABILITY = -32021, /* needs undeclared capability */
    HK_MCP_UNSUPPORTED_VERSION = -32022        /* protocol version not served */
};

/* Looks a presented token up elsewhere (the HTTP server's token table);
 * true when it grants writes, with its name copied into name. */
typedef bool (*hk_mcp_token_fn)(void *ud, const char *token, char name[64]);

/* Runs fn inside one write transaction and commits it durably before
 * returning. actor names the writer in the audit log. */
typedef hk_err (*hk_mcp_txn_fn)(hk_txn *t, void *arg, hk_error *err);
typedef hk_err (*hk_mcp_write_fn)(void *ud, hk_mcp_txn_fn fn, void *arg,
                                  const char *actor, hk_error *err);
/* Replaces the KB by a verified backup (stdio mode: close, restore,
 * reopen). NULL where the KB cannot be closed under running clients. */
typedef hk_err (*hk_mcp_restore_fn)(void *ud, const char *backup_dir,
                                    hk_error *err);

/* The vector module of a KB (src/vector/vector.h). */
typedef struct hkv_store hkv_store;

/* What the tools run against. Copied by hk_mcp_server_new (strings are
 * copied too); store must outlive the server. */
typedef struct hk_mcp_env {
    hk_store *store;               /* the KB; replaced by restore in stdio */
    hk_mcp_write_fn write;         /* one durable write transaction */
    void *write_ud;                /* passed to write */
    hk_mcp_restore_fn restore;     /* NULL: restore_kb explains the CLI way */
    void *restore_ud;              /* passed to restore */
    hk_store **store_slot;         /* where restore puts the reopened store
                                      (NULL when restore is NULL) */
    hkv_store **vstore_slot;       /* where the KB's attached vector module
                                      is (replaced with the store by
                                      restore); NULL: vector tools fail */
    const hk_token *tokens;        /* n_tokens write tokens (role write
                                      or admin; the name is the audit
                                      actor, e.g. "mcp" or "alice") */
    size_t n_tokens;               /* 0 and no check_token: writes refused */
    hk_mcp_token_fn check_token;   /* extra lookup (server mode) or NULL */
    void *check_ud;                /* passed to check_token */
    bool external_tokens;          /* check_token knows at least one write
                                      token (so writes are enabled) */
    const char *const *allow_dirs; /* n_allow_dirs directories clients may
                                      name in hub_path / path / report_path */
    size_t n_allow_dirs;           /* 0: such paths are refused */
    const char *backup_dir;        /* where backup_kb writes; NULL = none */
    bool fixtures;                 /* register conformance-suite fixtures
                                      (hakgal-conformance only: other
                                      builds refuse it) */
    unsigned list_page_size;       /* items per list page; 0 = 100 */
    const char *transport;         /* "stdio" or "http" (status output) */
    int profile;                   /* HK_MCP_PROFILE_*: which tools */
} hk_mcp_env;

/* Tool sets a server can offer (hk_mcp_env.profile). */
enum {
    HK_MCP_PROFILE_KB = 0,    /* the KB tools (30 legacy + newer) */
    HK_MCP_PROFILE_MEMORY = 1 /* the 9 tools of the reference MCP memory
                                 server (mcp_memory.c) */
};

typedef struct hk_mcp_server hk_mcp_server;
typedef struct hk_mcp_session hk_mcp_session;

/* How a request reaches its client while it runs. Every member may be
 * NULL / false. */
typedef struct hk_mcp_io {
    void *ud; /* passed to the callbacks */
    /* Sends a notification (progress, log message) tied to the running
     * request. Borrows msg. */
    void (*notify)(void *ud, json_t *msg);
    /* 2025-11-25 round trips: sends a server->client request (sampling,
     * elicitation, roots) and waits for its result (new reference in
     * *result) or error (HK_ERR_* with message). */
    hk_err (*client_request)(void *ud, const char *method, json_t *params,
                             json_t **result, hk_error *err);
    /* Called after a tool changed the KB (so that subscribed clients can
     * be told, see hk_mcp_session_updates). */
    void (*kb_changed)(void *ud);
    const char *bearer_actor;   /* token name of an authenticated HTTP bearer
                                   allowed to write, or NULL */
    int bearer_role;            /* that bearer's role (hk_role; 0 without
                                   one): review_decide needs reviewer */
    bool http;                  /* the message came over HTTP */
    const char *header_version; /* HTTP MCP-Protocol-Version or NULL */
    const char *header_method;  /* HTTP Mcp-Method or NULL */
    const char *header_name;    /* HTTP Mcp-Name or NULL */
    bool header_method_present; /* Mcp-Method header was sent */
} hk_mcp_io;

/* ==== Server ==== */

/* Builds the tool, resource and prompt tables. Caller frees with
 * hk_mcp_server_free. */
hk_err hk_mcp_server_new(const hk_mcp_env *env, hk_mcp_server **out,
                         hk_error *err);
void hk_mcp_server_free(hk_mcp_server *s);
/* Number of registered tools (30, plus fixtures in fixtures mode). */
size_t hk_mcp_tool_count(const hk_mcp_server *s);
/* True when secret is a configured write token; its actor name is copied
 * into name. Compares SHA-256 hashes in constant time over all tokens. */
bool hk_mcp_token_check(const hk_mcp_server *s, const char *secret,
                        char name[64]);
/* Reads a token file with the shared parser (hk_svc_tokens_load: any bad
 * line fails with its line number) and keeps the write tokens (roles write
 * and admin; read tokens are skipped) in out (at most max). */
hk_err hk_mcp_tokens_load(const char *path, hk_token *out, size_t max,
                          size_t *n, hk_error *err);
bool hk_mcp_writes_enabled(const hk_mcp_server *s);

/* ==== Sessions (2025-11-25) ==== */

/* A session: negotiated version, client capabilities, log level,
 * subscriptions, and the client requests waiting for answers. Caller frees
 * with hk_mcp_session_free (after every thread using it is done). */
hk_err hk_mcp_session_new(hk_mcp_server *s, hk_mcp_session **out,
                          hk_error *err);
void hk_mcp_session_free(hk_mcp_session *sess);
/* True once `initialize` succeeded. */
bool hk_mcp_session_initialized(hk_mcp_session *sess);
/* The negotiated protocol version ("" before initialize). Copies into out. */
void hk_mcp_session_version(hk_mcp_session *sess, char out[32]);
/* Registers a server->client request id before it is sent, so that the
 * answer can be matched; returns the id (a fresh integer). */
json_int_t hk_mcp_session_expect(hk_mcp_session *sess);
/* Waits (up to timeout_ms) for the answer to an expected id. *msg gets the
 * whole response message (new reference). HK_ERR_LIMIT on timeout. */
hk_err hk_mcp_session_await(hk_mcp_session *sess, json_int_t id, int timeout_ms,
                            json_t **msg, hk_error *err);
/* Non-blocking: true when the answer to id has arrived (*msg gets it, new
 * reference, and the id is released). */
bool hk_mcp_session_take(hk_mcp_session *sess, json_int_t id, json_t **msg);
/* Wakes every thread waiting in hk_mcp_session_await on this session and
 * makes later waits fail at once (server shutdown). */
void hk_mcp_session_abort(hk_mcp_session *sess);
/* Forgets an expected id (its answer, if any, is dropped). */
void hk_mcp_session_cancel(hk_mcp_session *sess, json_int_t id);
/* notifications/resources/updated messages for every KB resource
 * (hakgal://...) the session subscribed to: sent after a write, since any
 * write may change them. New reference (an array, possibly empty). */
json_t *hk_mcp_session_updates(hk_mcp_session *sess);
/* True when uri is subscribed (resources/subscribe). */
bool hk_mcp_session_subscribed(hk_mcp_session *sess, const char *uri);

/* ==== Dispatch ==== */

/* Classification of a message, for transports that must answer before
 * running it (HTTP: 202 for notifications and responses). */
typedef enum hk_mcp_kind {
    HK_MCP_KIND_INVALID = 0,      /* not a JSON-RPC 2.0 message */
    HK_MCP_KIND_REQUEST = 1,      /* has method and id */
    HK_MCP_KIND_NOTIFICATION = 2, /* has method, no id */
    HK_MCP_KIND_RESPONSE = 3      /* has result or error, and id */
} hk_mcp_kind;
hk_mcp_kind hk_mcp_classify(const json_t *msg);

/* True when the message asks for the stateless revision (2026-07-28 or a
 * later version in params._meta), so that no session applies. */
bool hk_mcp_is_stateless(const json_t *msg);

/* Handles one message. sess is the session for stateful requests (NULL is
 * allowed: stdio passes its one session; HTTP passes the session named by
 * Mcp-Session-Id, or NULL for stateless and initialize requests — then
 * *new_session receives a session created by `initialize`, owned by the
 * caller). Returns the response (new reference; caller decrefs) or NULL
 * for notifications and responses. *http_status (may be NULL) gets the
 * HTTP status the response should carry (200, 400, 404). */
json_t *hk_mcp_handle(hk_mcp_server *s, hk_mcp_session *sess, json_t *msg,
                      const hk_mcp_io *io, hk_mcp_session **new_session,
                      int *http_status);

/* Builds {"jsonrpc":"2.0","id":id,"error":{code,message}} (id borrowed;
 * NULL gives a null id). New reference. */
json_t *hk_mcp_error_response(json_t *id, int code, const char *message);

/* Protocol versions this server speaks, newest first (static). */
extern const char *const hk_mcp_versions[];
extern const size_t hk_mcp_n_versions;

/* ==== Transports ==== */

/* `hakgal mcp`: serve one client on stdin/stdout (see mcp_stdio.c). */
int hk_cmd_mcp(int argc, char **argv);

#endif /* HK_MCP_H */
