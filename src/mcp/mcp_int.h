/*
 * mcp_int.h — internals shared by the files of src/mcp/ (not for other
 * modules; they use mcp.h).
 *
 * A tool is a row of a static table (mcp_tools_*.c): name, model-oriented
 * description, JSON Schema 2020-12 input and output schemas (JSON text),
 * annotation flags and the C function that runs it. hk_mcp_server_new
 * parses the schemas once and builds every tools/list entry; tools/call
 * validates the arguments against the input schema (mcp_schema.c) before
 * the function runs, so tool code reads arguments without re-checking
 * their types.
 *
 * A tool function gets an mcp_call (arguments, environment, the request's
 * client channel) and returns either HK_OK with *out = its structured
 * result, or an hk_err whose message becomes an `isError: true` result the
 * model can act on. Fixture tools that need other content blocks set
 * call->result to a whole CallToolResult instead.
 */
#ifndef HK_MCP_INT_H
#define HK_MCP_INT_H

#include <pthread.h>

#include "mcp/mcp.h"
#include "service/service.h"

/* ==== Tools ==== */

enum {
    MCP_TOOL_READ_ONLY = 1u << 0,       /* annotations.readOnlyHint */
    MCP_TOOL_DESTRUCTIVE = 1u << 1,     /* annotations.destructiveHint */
    MCP_TOOL_IDEMPOTENT = 1u << 2,      /* annotations.idempotentHint */
    MCP_TOOL_AUTH = 1u << 3,            /* needs a write token */
    MCP_TOOL_AUTH_UNLESS_DRY = 1u << 4, /* needs one unless dry_run */
    MCP_TOOL_NO_STRUCTURED = 1u << 5,   /* fixture: no outputSchema */
    MCP_TOOL_OPEN_WORLD = 1u << 6       /* fixture: openWorldHint true */
};

typedef struct mcp_call mcp_call;
typedef hk_err (*mcp_tool_fn)(mcp_call *c, json_t **out, hk_error *err);

typedef struct mcp_tool_def {
    const char *name;          /* ^[A-Za-z0-9_./-]{1,64}$ */
    const char *title;         /* human title */
    const char *description;   /* written for a model */
    const char *input_schema;  /* JSON text, 2020-12 */
    const char *output_schema; /* JSON text, 2020-12; NULL for fixtures */
    unsigned flags;            /* MCP_TOOL_* */
    mcp_tool_fn run;           /* the implementation */
} mcp_tool_def;

/* A registered tool: its definition plus parsed forms. */
typedef struct mcp_tool {
    const mcp_tool_def *def; /* static row */
    json_t *input;           /* parsed input schema */
    json_t *listing;         /* the tools/list entry */
} mcp_tool;

extern const mcp_tool_def mcp_kb_tools[]; /* the KB tools (30 legacy + newer) */
extern const size_t mcp_n_kb_tools;
extern const mcp_tool_def mcp_memory_tools[]; /* the memory profile */
/* The memory profile's one resource, as the reference server offers it. */
#define MCP_MEMORY_RESOURCE_URI "memory://knowledge-graph"
hk_err mcp_memory_graph_resource(hk_txn *t, json_t **contents, hk_error *err);
extern const size_t mcp_n_memory_tools;
/* The conformance fixtures: defined by mcp_fixtures.c in the test build
 * (hakgal-conformance, fuzz_mcp), by mcp_fixtures_none.c (no rows) in the
 * product; the executable links one of them. */
extern const mcp_tool_def mcp_fixture_tools[];
extern const size_t mcp_n_fixture_tools;
/* ... and their resources, template and prompts (mcp_fixtures_catalog.c,
 * or nothing from mcp_fixtures_none.c), called by mcp_catalog.c in
 * fixtures mode only. The _list functions append rows to a; _read and
 * _get answer HK_ERR_NOT_FOUND (err not filled) for a name that is not a
 * fixture's; mcp_fixture_completes says whether a prompt name or resource
 * uri is a fixture's (its completions are empty). */
void mcp_fixture_resources_list(json_t *a);
void mcp_fixture_templates_list(json_t *a);
void mcp_fixture_prompts_list(json_t *a);
hk_err mcp_fixture_resource_read(const char *uri, json_t **contents,
                                 hk_error *err);
hk_err mcp_fixture_prompt_get(const char *name, json_t *args,
                              json_t *input_responses, json_t *client_caps,
                              bool stateless, json_t **result, hk_error *err);
bool mcp_fixture_completes(const char *name);

/* ==== Server and sessions ==== */

#define MCP_MAX_PENDING 16 /* server->client requests awaited per session */
#define MCP_MAX_SUBS 64    /* resource subscriptions per session */

struct hk_mcp_server {
    hk_mcp_env env;                     /* copy; strings below own the text */
    hk_token tokens[HK_MCP_MAX_TOKENS]; /* copied tokens */
    char *allow_dirs[HK_MCP_MAX_DIRS];  /* realpath'ed directories */
    const char *allow_ptrs[HK_MCP_MAX_DIRS]; /* env.allow_dirs points here */
    char *backup_dir;                        /* copy of env.backup_dir */
    mcp_tool *tools;                         /* n_tools registered tools */
    size_t n_tools;                          /* count */
    int64_t started_us;                      /* for uptime */
};

/* One awaited server->client request. */
typedef struct mcp_pending {
    json_int_t id;  /* request id we sent; 0 = free slot */
    json_t *answer; /* response message once delivered */
} mcp_pending;

struct hk_mcp_session {
    hk_mcp_server *srv;                   /* owner */
    pthread_mutex_t lock;                 /* guards every field below */
    pthread_cond_t cond;                  /* signalled when an answer arrives */
    bool initialized;                     /* initialize succeeded */
    char version[32];                     /* negotiated revision */
    json_t *client_caps;                  /* client capabilities (owned) */
    int log_level;                        /* min level to send; -1 = none set */
    json_int_t next_id;                   /* ids of server->client requests */
    mcp_pending pending[MCP_MAX_PENDING]; /* awaited answers */
    char *subs[MCP_MAX_SUBS];             /* subscribed resource uris */
    bool aborted;                         /* shutdown: waits fail at once */
};

/* Called by the dispatcher for a response message from the client; false
 * when nobody waits for that id (mcp_server.c). Takes a reference to msg
 * when it is used. */
bool mcp_session_deliver(hk_mcp_session *sess, json_t *msg);

/* Logging levels of RFC 5424 as MCP names them, lowest first. */
int mcp_log_level_parse(const char *name); /* -1 when unknown */
const char *mcp_log_level_name(int level);

/* ==== A running request ==== */

struct mcp_call {
    hk_mcp_server *srv;        /* server */
    hk_mcp_session *sess;      /* session (stateful) or NULL */
    const hk_mcp_io *io;       /* client channel (never NULL) */
    const mcp_tool *tool;      /* the tool being called */
    json_t *args;              /* arguments object (borrowed) */
    json_t *progress_token;    /* _meta.progressToken or NULL (borrowed) */
    bool stateless;            /* 2026-07-28 request */
    json_t *client_caps;       /* capabilities for this request (borrowed) */
    int log_level;             /* level to send at or above; -1 = none */
    json_t *input_responses;   /* 2026: params.inputResponses (borrowed) */
    const char *request_state; /* 2026: params.requestState or NULL */
    const char *actor;         /* authorised writer name, or NULL */
    char actor_buf[64];        /* storage for actor */
    json_t *result;            /* set by a tool: the whole result (owned) */
    int rpc_error;             /* set by a tool: answer with this JSON-RPC
                                  error code instead of a result */
    json_t *rpc_error_data;    /* data of that error (owned) or NULL */
};

/* Reads arguments (already validated against the input schema). */
const char *mcp_arg_str(const mcp_call *c, const char *key, const char *dflt);
json_int_t mcp_arg_int(const mcp_call *c, const char *key, json_int_t dflt);
double mcp_arg_num(const mcp_call *c, const char *key, double dflt);
bool mcp_arg_bool(const mcp_call *c, const char *key, bool dflt);

/* Sends notifications/progress when the client asked for it. */
void mcp_progress(mcp_call *c, double done, double total, const char *msg);
/* Sends notifications/message when the client's level allows it. */
void mcp_log(mcp_call *c, int level, const char *logger, const char *msg);

/* Opens a read transaction on the current store. */
hk_err mcp_read_begin(mcp_call *c, hk_txn **t, hk_error *err);
hk_store *mcp_store(const mcp_call *c);

/* Resolves path (realpath of the path, or of its parent for a file that
 * does not exist yet) and checks that it lies inside an allowed
 * directory. resolved gets an absolute path (caller frees with hk_free). */
hk_err mcp_path_allowed(const hk_mcp_server *s, const char *path,
                        const char *field, char **resolved, hk_error *err);

/* ==== JSON helpers ==== */

/* Canonical statement text of f into buf (reset first). */
hk_err mcp_fact_statement(const hk_fact *f, hk_buf *buf);
/* Parses a statement argument; the error message names the field. */
hk_err mcp_parse_statement(const char *text, const char *field,
                           hk_statement *st, hk_error *err);
/* json_object_set_new that reports allocation failure as HK_ERR_NOMEM. */
hk_err mcp_set(json_t *obj, const char *key, json_t *value);
/* RFC 3339 string of a time in microseconds (0 -> null). */
json_t *mcp_time_json(int64_t us);
/* s as a JSON string even when it is not valid UTF-8 (a message that cut
 * client text inside a character): each invalid byte becomes U+FFFD.
 * json_string(s) would be NULL and the answer would be lost. New
 * reference; NULL only when out of memory. */
json_t *mcp_json_text(const char *s);

/* ==== Schema validation (mcp_schema.c) ==== */

/* Validates value against the subset of JSON Schema 2020-12 the tool
 * schemas use (type, properties, required, additionalProperties,
 * items, enum, const, minimum, maximum, minLength, maxLength, minItems,
 * maxItems). why gets the first problem ("limit: must be >= 1"). */
bool mcp_schema_validate(const json_t *schema, const json_t *value, char *why,
                         size_t why_len);
/* The memory profile's argument check, as the reference server's zod 3
 * schemas do it: unknown properties are ignored, every issue is reported
 * in why, one per line ("Expected string, received number at
 * entities[0].name", "Required at entities"). */
bool mcp_schema_check_zod(const json_t *schema, const json_t *value, char *why,
                          size_t why_len);

/* ==== Resources, prompts, completion (mcp_catalog.c) ==== */

json_t *mcp_resources_list(hk_mcp_server *s, bool fixtures);
json_t *mcp_templates_list(hk_mcp_server *s, bool fixtures);
/* Reads uri into a contents array (new ref); HK_ERR_NOT_FOUND when no
 * such resource. */
hk_err mcp_resource_read(hk_mcp_server *s, const char *uri, json_t **contents,
                         hk_error *err);
json_t *mcp_prompts_list(hk_mcp_server *s, bool fixtures);
/* HK_ERR_NOT_FOUND for unknown prompts, HK_ERR_INVALID for bad args.
 * input_responses / client_caps / stateless serve the fixture prompt that
 * asks the client for input (2026-07-28). */
hk_err mcp_prompt_get(hk_mcp_server *s, const char *name, json_t *args,
                      json_t *input_responses, json_t *client_caps,
                      bool stateless, json_t **result, hk_error *err);
/* {"uri","mimeType":"application/json","text": doc as compact JSON} in a
 * contents array (new ref in *contents); doc is stolen. */
hk_err mcp_json_contents(const char *uri, json_t *doc, json_t **contents);
/* completion/complete: values for a prompt or template argument. */
hk_err mcp_complete(hk_mcp_server *s, json_t *ref, const char *arg_name,
                    const char *value, json_t *context_args, json_t **values,
                    hk_error *err);

/* ==== Writes ==== */

/* Checks that the caller may write: a write token is configured and the
 * request presents one (auth_token argument or HTTP bearer). Sets
 * c->actor. */
hk_err mcp_require_writer(mcp_call *c, hk_error *err);

#endif /* HK_MCP_INT_H */
