/*
 * mcp_dispatch.c — JSON-RPC 2.0 dispatch for both MCP revisions.
 *
 * One entry point, hk_mcp_handle, takes a parsed message and returns the
 * response. The revision is chosen per message:
 *  - a request whose params._meta names a protocol version of 2026-07-28
 *    (or whose transport header does), and server/discover, are stateless:
 *    _meta must carry io.modelcontextprotocol/protocolVersion and
 *    .../clientCapabilities (else -32602, HTTP 400), an unknown version
 *    gets -32022 UnsupportedProtocolVersion with the versions we serve,
 *    HTTP headers that disagree with the body get -32020 HeaderMismatch,
 *    removed methods (initialize, ping, logging/setLevel, subscriptions)
 *    and unknown ones get -32601 with HTTP 404, and every result carries
 *    resultType ("complete", or "input_required" from a tool that needs
 *    the client); list and read results also carry ttlMs and cacheScope.
 *  - everything else follows the stateful 2025-11-25 lifecycle on the
 *    session: initialize negotiates a dated version and stores the client
 *    capabilities, ping, logging/setLevel, resources/subscribe.
 *
 * Lists are paginated with opaque cursors: base64url of "hk1:<offset>",
 * pages of env.list_page_size entries in a fixed order, so that paging is
 * deterministic.
 *
 * Threads: see mcp.h. Nothing here keeps state outside the session.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_text.h"
#include "core/mem.h"
#include "mcp/mcp_int.h"

#define META_VERSION "io.modelcontextprotocol/protocolVersion"
#define META_CAPS "io.modelcontextprotocol/clientCapabilities"
#define META_LOGLEVEL "io.modelcontextprotocol/logLevel"
#define META_SERVERINFO "io.modelcontextprotocol/serverInfo"
#define LIST_TTL_MS 60000 /* tools/prompts/templates change only on restart */

static const char *const instructions =
    "hakgal is a knowledge base of facts written as Predicate(arg1, arg2, "
    "...), e.g. HasPart(Computer, CPU). Use search_knowledge, query_related "
    "and search_by_predicate to look facts up before answering; cite facts "
    "by their statement. Tools that change the knowledge base need a write "
    "token and must only be used when the user asks for the change.";

/* ==== Message helpers ==== */

json_t *hk_mcp_error_response(json_t *id, int code, const char *message)
{
    /* messages quote client text, possibly cut inside a character */
    return json_pack("{s:s, s:O, s:{s:i, s:o}}", "jsonrpc", "2.0", "id",
                     id ? id : json_null(), "error", "code", code, "message",
                     mcp_json_text(message));
}

static json_t *error_with_data(json_t *id, int code, const char *message,
                               json_t *data /* stolen */)
{
    json_t *r = hk_mcp_error_response(id, code, message);
    if (r && data)
        json_object_set_new(json_object_get(r, "error"), "data", data);
    else
        json_decref(data);
    return r;
}

static json_t *result_response(json_t *id, json_t *result /* stolen */)
{
    if (!result)
        return hk_mcp_error_response(id, HK_MCP_INTERNAL_ERROR,
                                     "out of memory");
    return json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result",
                     result);
}

hk_mcp_kind hk_mcp_classify(const json_t *msg)
{
    if (!json_is_object(msg)) return HK_MCP_KIND_INVALID;
    const json_t *v = json_object_get(msg, "jsonrpc");
    if (!json_is_string(v) || strcmp(json_string_value(v), "2.0") != 0)
        return HK_MCP_KIND_INVALID;
    const json_t *id = json_object_get(msg, "id");
    const json_t *method = json_object_get(msg, "method");
    bool id_ok = json_is_string(id) || json_is_integer(id);
    if (method) {
        if (!json_is_string(method)) return HK_MCP_KIND_INVALID;
        if (!id) return HK_MCP_KIND_NOTIFICATION;
        return id_ok ? HK_MCP_KIND_REQUEST : HK_MCP_KIND_INVALID;
    }
    if ((json_object_get(msg, "result") || json_object_get(msg, "error")) &&
        (id_ok || json_is_null(id)))
        return HK_MCP_KIND_RESPONSE;
    return HK_MCP_KIND_INVALID;
}

static const char *meta_version(const json_t *msg)
{
    const json_t *meta =
        json_object_get(json_object_get(msg, "params"), "_meta");
    const json_t *v = json_object_get(meta, META_VERSION);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static bool is_dated_stateful(const char *v)
{
    for (size_t i = 1; i < hk_mcp_n_versions; i++)
        if (strcmp(hk_mcp_versions[i], v) == 0) return true;
    return false;
}

bool hk_mcp_is_stateless(const json_t *msg)
{
    const json_t *m = json_object_get(msg, "method");
    if (json_is_string(m) &&
        strcmp(json_string_value(m), "server/discover") == 0)
        return true;
    const char *v = meta_version(msg);
    return v && !is_dated_stateful(v);
}

/* ==== Pagination ==== */

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static json_t *cursor_json(size_t offset)
{
    char raw[32], out[64];
    int n = snprintf(raw, sizeof raw, "hk1:%zu", offset);
    size_t o = 0;
    for (int i = 0; i < n; i += 3) {
        unsigned v = (unsigned)(unsigned char)raw[i] << 16;
        if (i + 1 < n) v |= (unsigned)(unsigned char)raw[i + 1] << 8;
        if (i + 2 < n) v |= (unsigned char)raw[i + 2];
        out[o++] = b64url[(v >> 18) & 63];
        out[o++] = b64url[(v >> 12) & 63];
        if (i + 1 < n) out[o++] = b64url[(v >> 6) & 63];
        if (i + 2 < n) out[o++] = b64url[v & 63];
    }
    out[o] = '\0';
    return json_string(out);
}

/* Decodes a cursor; false when it is not one of ours. */
static bool cursor_parse(const char *c, size_t *offset)
{
    char raw[48];
    size_t len = strlen(c), o = 0;
    if (len == 0 || len > 40) return false;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        const char *p = strchr(b64url, c[i]);
        if (!p || !c[i]) return false;
        acc = (acc << 6) | (unsigned)(p - b64url);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            raw[o++] = (char)((acc >> bits) & 0xFF);
        }
    }
    raw[o] = '\0';
    if (strncmp(raw, "hk1:", 4) != 0 || !raw[4]) return false;
    char *end;
    unsigned long long v = strtoull(raw + 4, &end, 10);
    if (*end) return false;
    *offset = (size_t)v;
    return true;
}

/* Slices a full list into one page; adds nextCursor. items stolen. */
static hk_err paginate(json_t *params, json_t *items, size_t page,
                       const char *key, json_t **result, const char **why)
{
    size_t offset = 0;
    json_t *cj = json_object_get(params, "cursor");
    *result = NULL;
    if (cj && !json_is_null(cj)) {
        if (!json_is_string(cj) ||
            !cursor_parse(json_string_value(cj), &offset) ||
            offset > json_array_size(items)) {
            json_decref(items);
            *why = "Invalid params: unknown or expired cursor";
            return HK_ERR_INVALID;
        }
    }
    json_t *slice = json_array();
    json_t *r = json_object();
    if (!slice || !r) goto oom;
    size_t n = json_array_size(items);
    for (size_t i = offset; i < n && i < offset + page; i++)
        json_array_append(slice, json_array_get(items, i));
    json_object_set_new(r, key, slice);
    slice = NULL;
    if (offset + page < n)
        json_object_set_new(r, "nextCursor", cursor_json(offset + page));
    json_decref(items);
    *result = r;
    return HK_OK;
oom:
    json_decref(slice);
    json_decref(r);
    json_decref(items);
    *why = "out of memory";
    return HK_ERR_NOMEM;
}

/* ==== Request context ==== */

/* Per-request facts the handlers need. */
typedef struct req {
    hk_mcp_server *srv;   /* server */
    hk_mcp_session *sess; /* session (stateful) or NULL */
    const hk_mcp_io *io;  /* channel */
    json_t *id;           /* request id (borrowed) */
    json_t *params;       /* params object (borrowed, never NULL) */
    bool stateless;       /* 2026-07-28 */
    const char *version;  /* revision in force */
    json_t *client_caps;  /* capabilities (borrowed) or NULL */
    int log_level;        /* -1: send no log messages */
    int http_status;      /* status for the response */
} req;

static json_t *err_resp(req *r, int code, const char *msg, json_t *data)
{
    if (r->io->http && r->http_status == 200) {
        if (code == HK_MCP_METHOD_NOT_FOUND && r->stateless)
            r->http_status = 404;
        else if (r->stateless && (code == HK_MCP_HEADER_MISMATCH ||
                                  code == HK_MCP_MISSING_CLIENT_CAPABILITY ||
                                  code == HK_MCP_UNSUPPORTED_VERSION))
            r->http_status = 400;
    }
    return error_with_data(r->id, code, msg, data);
}

static json_t *server_info(void)
{
    return json_pack("{s:s, s:s, s:s, s:s}", "name", HK_MCP_SERVER_NAME,
                     "title", "HAK-GAL knowledge base", "version", hk_version(),
                     "description",
                     "Facts as Predicate(args), with search, graph and "
                     "consistency tools");
}

static json_t *capabilities(req *r)
{
    if (r->srv->env.profile == HK_MCP_PROFILE_MEMORY) /* as the reference */
        return r->stateless
                   ? json_pack("{s:{s:b}, s:{s:b}}", "resources", "listChanged",
                               true, "tools", "listChanged", true)
                   : json_pack("{s:{s:b, s:b}, s:{s:b}}", "resources",
                               "subscribe", true, "listChanged", true, "tools",
                               "listChanged", true);
    /* the lists only change when the server restarts: no listChanged */
    json_t *c = json_pack("{s:{s:b}, s:{s:b}, s:{}, s:{}}", "tools",
                          "listChanged", false, "prompts", "listChanged", false,
                          "logging", "completions");
    json_t *res = r->stateless ? json_pack("{s:b}", "listChanged", false)
                               : json_pack("{s:b, s:b}", "subscribe", true,
                                           "listChanged", false);
    json_object_set_new(c, "resources", res);
    return c;
}

/* Adds the fields every 2026-07-28 result carries. */
static void stateless_fields(req *r, json_t *result, bool cacheable, int ttl_ms,
                             bool is_public)
{
    if (!r->stateless || !result) return;
    if (!json_object_get(result, "resultType"))
        json_object_set_new(result, "resultType", json_string("complete"));
    if (cacheable) {
        json_object_set_new(result, "ttlMs", json_integer(ttl_ms));
        json_object_set_new(result, "cacheScope",
                            json_string(is_public ? "public" : "private"));
    }
}

/* ==== Methods ==== */

static json_t *m_initialize(req *r, hk_mcp_session **new_session)
{
    json_t *pv = json_object_get(r->params, "protocolVersion");
    if (!json_is_string(pv))
        return err_resp(r, HK_MCP_INVALID_PARAMS,
                        "Invalid params: initialize needs protocolVersion",
                        NULL);
    const char *want = json_string_value(pv);
    const char *chosen =
        is_dated_stateful(want) ? want : HK_MCP_VERSION_STATEFUL;
    hk_mcp_session *sess = r->sess;
    if (!sess) {
        hk_error e;
        if (!new_session || hk_mcp_session_new(r->srv, &sess, &e) != HK_OK)
            return err_resp(r, HK_MCP_INTERNAL_ERROR, "cannot create a session",
                            NULL);
        *new_session = sess;
    }
    pthread_mutex_lock(&sess->lock);
    bool again = sess->initialized;
    if (!again) {
        sess->initialized = true;
        snprintf(sess->version, sizeof sess->version, "%s", chosen);
        json_t *caps = json_object_get(r->params, "capabilities");
        sess->client_caps =
            json_is_object(caps) ? json_incref(caps) : json_object();
    }
    pthread_mutex_unlock(&sess->lock);
    if (again)
        return err_resp(r, HK_MCP_INVALID_REQUEST,
                        "Invalid request: the session is already initialized",
                        NULL);
    return result_response(
        r->id, json_pack("{s:s, s:o, s:o, s:s}", "protocolVersion", chosen,
                         "capabilities", capabilities(r), "serverInfo",
                         server_info(), "instructions", instructions));
}

static json_t *m_discover(req *r)
{
    json_t *versions = json_array();
    for (size_t i = 0; i < hk_mcp_n_versions; i++)
        json_array_append_new(versions, json_string(hk_mcp_versions[i]));
    json_t *res =
        json_pack("{s:o, s:o, s:s, s:{s:o}}", "supportedVersions", versions,
                  "capabilities", capabilities(r), "instructions", instructions,
                  "_meta", META_SERVERINFO, server_info());
    stateless_fields(r, res, true, LIST_TTL_MS, true);
    return result_response(r->id, res);
}

static json_t *m_set_level(req *r)
{
    const json_t *lv = json_object_get(r->params, "level");
    int level =
        json_is_string(lv) ? mcp_log_level_parse(json_string_value(lv)) : -1;
    if (level < 0)
        return err_resp(r, HK_MCP_INVALID_PARAMS,
                        "Invalid params: level must be one of debug, info, "
                        "notice, warning, error, critical, alert, emergency",
                        NULL);
    if (r->sess) {
        pthread_mutex_lock(&r->sess->lock);
        r->sess->log_level = level;
        pthread_mutex_unlock(&r->sess->lock);
    }
    return result_response(r->id, json_object());
}

static json_t *list_reply(req *r, json_t *items, const char *key, int ttl)
{
    json_t *res = NULL;
    const char *why = NULL;
    if (paginate(r->params, items, r->srv->env.list_page_size, key, &res,
                 &why) != HK_OK)
        return err_resp(r, HK_MCP_INVALID_PARAMS, why, NULL);
    stateless_fields(r, res, true, ttl, true);
    return result_response(r->id, res);
}

static json_t *m_tools_list(req *r)
{
    json_t *items = json_array();
    for (size_t i = 0; i < r->srv->n_tools; i++)
        json_array_append(items, r->srv->tools[i].listing);
    return list_reply(r, items, "tools", LIST_TTL_MS);
}

static const mcp_tool *find_tool(hk_mcp_server *s, const char *name)
{
    for (size_t i = 0; i < s->n_tools; i++)
        if (strcmp(s->tools[i].def->name, name) == 0) return &s->tools[i];
    return NULL;
}

static json_t *tool_error_result(const char *msg)
{
    return json_pack("{s:[{s:s, s:o}], s:b}", "content", "type", "text", "text",
                     mcp_json_text(msg), "isError", true);
}

static json_t *m_tools_call(req *r)
{
    json_t *name = json_object_get(r->params, "name");
    if (!json_is_string(name))
        return err_resp(r, HK_MCP_INVALID_PARAMS,
                        "Invalid params: tools/call needs a tool name", NULL);
    const mcp_tool *tool = find_tool(r->srv, json_string_value(name));
    if (!tool) {
        char msg[200];
        snprintf(msg, sizeof msg, "Unknown tool: %.100s",
                 json_string_value(name));
        return err_resp(r, HK_MCP_INVALID_PARAMS, msg, NULL);
    }
    json_t *args = json_object_get(r->params, "arguments");
    json_t *own_args = NULL;
    if (!args || json_is_null(args)) args = own_args = json_object();
    if (!json_is_object(args))
        return err_resp(r, HK_MCP_INVALID_PARAMS,
                        "Invalid params: arguments must be an object", NULL);
    char why[300];
    if (r->srv->env.profile == HK_MCP_PROFILE_MEMORY) {
        /* as the reference's SDK answers: a tool result, not a JSON-RPC
         * error, and unknown properties dropped */
        char zwhy[1024];
        if (!mcp_schema_check_zod(tool->input, args, zwhy, sizeof zwhy)) {
            char msg[1200];
            snprintf(msg, sizeof msg,
                     "MCP error -32602: Input validation error: Invalid "
                     "arguments for tool %s: %s",
                     tool->def->name, zwhy);
            json_decref(own_args);
            return result_response(r->id, tool_error_result(msg));
        }
    } else if (!mcp_schema_validate(tool->input, args, why, sizeof why)) {
        char msg[420];
        snprintf(msg, sizeof msg, "Invalid arguments for tool %s: %s",
                 tool->def->name, why);
        json_decref(own_args);
        return err_resp(r, HK_MCP_INVALID_PARAMS, msg, NULL);
    }

    mcp_call c;
    memset(&c, 0, sizeof c);
    c.srv = r->srv;
    c.sess = r->sess;
    c.io = r->io;
    c.tool = tool;
    c.args = args;
    c.stateless = r->stateless;
    c.client_caps = r->client_caps;
    c.log_level = r->log_level;
    json_t *meta = json_object_get(r->params, "_meta");
    json_t *pt = json_object_get(meta, "progressToken");
    if (json_is_string(pt) || json_is_integer(pt)) c.progress_token = pt;
    c.input_responses = json_object_get(r->params, "inputResponses");
    const json_t *rs = json_object_get(r->params, "requestState");
    c.request_state = json_is_string(rs) ? json_string_value(rs) : NULL;

    hk_error e;
    hk_error_clear(&e);
    json_t *structured = NULL;
    hk_err rc = HK_OK;
    unsigned f = tool->def->flags;
    if ((f & MCP_TOOL_AUTH) ||
        ((f & MCP_TOOL_AUTH_UNLESS_DRY) && !mcp_arg_bool(&c, "dry_run", true)))
        rc = mcp_require_writer(&c, &e);
    if (rc == HK_OK) rc = tool->def->run(&c, &structured, &e);

    json_t *result = NULL;
    if (c.rpc_error) {
        json_decref(structured);
        json_decref(c.result);
        json_decref(own_args);
        return err_resp(r, c.rpc_error, e.message[0] ? e.message : "error",
                        c.rpc_error_data);
    }
    if (rc != HK_OK) {
        json_decref(structured);
        json_decref(c.result);
        char msg[600];
        snprintf(msg, sizeof msg, "%s failed: %s", tool->def->name,
                 e.message[0] ? e.message : hk_strerror(rc));
        mcp_log(&c, 3 /* warning */, "hakgal.tools", msg);
        result = tool_error_result(msg);
    } else if (c.result) {
        result = c.result;
        json_decref(structured);
    } else {
        bool wrote =
            (f & MCP_TOOL_AUTH) || ((f & MCP_TOOL_AUTH_UNLESS_DRY) &&
                                    !mcp_arg_bool(&c, "dry_run", true));
        if (wrote) {
            char msg[300];
            snprintf(msg, sizeof msg,
                     "%s changed the knowledge base (actor %s)",
                     tool->def->name, c.actor ? c.actor : "-");
            mcp_log(&c, 2 /* notice */, "hakgal.tools", msg);
            if (r->io->kb_changed) r->io->kb_changed(r->io->ud);
        }
        if (!structured) structured = json_object();
        char *text =
            hk_json_dumps(structured, JSON_COMPACT | JSON_ENSURE_ASCII);
        result = json_pack("{s:[{s:s, s:s}], s:o}", "content", "type", "text",
                           "text", text ? text : "{}", "structuredContent",
                           structured);
        free(text); /* json_dumps memory: libc free */
    }
    json_decref(own_args);
    stateless_fields(r, result, false, 0, false);
    return result_response(r->id, result);
}

static json_t *m_resources_read(req *r)
{
    json_t *uri = json_object_get(r->params, "uri");
    if (!json_is_string(uri))
        return err_resp(r, HK_MCP_INVALID_PARAMS,
                        "Invalid params: resources/read needs a uri", NULL);
    json_t *contents = NULL;
    hk_error e;
    hk_error_clear(&e);
    hk_err rc =
        mcp_resource_read(r->srv, json_string_value(uri), &contents, &e);
    if (rc == HK_ERR_NOT_FOUND &&
        r->srv->env.profile == HK_MCP_PROFILE_MEMORY) {
        char msg[300]; /* the reference SDK's wording */
        snprintf(msg, sizeof msg, "MCP error -32602: Resource %.200s not found",
                 json_string_value(uri));
        return err_resp(r, HK_MCP_INVALID_PARAMS, msg, NULL);
    }
    if (rc == HK_ERR_NOT_FOUND)
        return err_resp(
            r, r->stateless ? HK_MCP_INVALID_PARAMS : HK_MCP_RESOURCE_NOT_FOUND,
            "Resource not found", json_pack("{s:O}", "uri", uri));
    if (rc != HK_OK)
        return err_resp(r,
                        rc == HK_ERR_INVALID ? HK_MCP_INVALID_PARAMS
                                             : HK_MCP_INTERNAL_ERROR,
                        e.message, NULL);
    json_t *res = json_pack("{s:o}", "contents", contents);
    /* KB resources change with every write: clients revalidate */
    stateless_fields(r, res, true, 0, false);
    return result_response(r->id, res);
}

static json_t *m_subscribe(req *r, bool on)
{
    json_t *uri = json_object_get(r->params, "uri");
    if (!json_is_string(uri))
        return err_resp(r, HK_MCP_INVALID_PARAMS, "Invalid params: needs a uri",
                        NULL);
    if (r->sess) {
        const char *u = json_string_value(uri);
        pthread_mutex_lock(&r->sess->lock);
        int free_slot = -1;
        bool found = false;
        for (int i = 0; i < MCP_MAX_SUBS; i++) {
            if (r->sess->subs[i] && strcmp(r->sess->subs[i], u) == 0) {
                found = true;
                if (!on) {
                    hk_free(r->sess->subs[i]);
                    r->sess->subs[i] = NULL;
                }
            } else if (!r->sess->subs[i] && free_slot < 0) {
                free_slot = i;
            }
        }
        bool full = on && !found && free_slot < 0;
        if (on && !found && free_slot >= 0)
            r->sess->subs[free_slot] = hk_strdup(u);
        pthread_mutex_unlock(&r->sess->lock);
        if (full)
            return err_resp(r, HK_MCP_INVALID_REQUEST,
                            "too many subscriptions in this session", NULL);
    }
    return result_response(r->id, json_object());
}

static json_t *m_prompts_get(req *r)
{
    json_t *name = json_object_get(r->params, "name");
    if (!json_is_string(name))
        return err_resp(r, HK_MCP_INVALID_PARAMS,
                        "Invalid params: prompts/get needs a name", NULL);
    json_t *args = json_object_get(r->params, "arguments");
    if (args && !json_is_null(args) && !json_is_object(args))
        return err_resp(r, HK_MCP_INVALID_PARAMS,
                        "Invalid params: arguments must be an object", NULL);
    json_t *res = NULL;
    hk_error e;
    hk_error_clear(&e);
    hk_err rc = mcp_prompt_get(r->srv, json_string_value(name),
                               json_is_object(args) ? args : NULL,
                               json_object_get(r->params, "inputResponses"),
                               r->client_caps, r->stateless, &res, &e);
    if (rc != HK_OK)
        return err_resp(r,
                        rc == HK_ERR_NOT_FOUND || rc == HK_ERR_INVALID
                            ? HK_MCP_INVALID_PARAMS
                            : HK_MCP_INTERNAL_ERROR,
                        e.message, NULL);
    stateless_fields(r, res, false, 0, false);
    return result_response(r->id, res);
}

static json_t *m_complete(req *r)
{
    json_t *ref = json_object_get(r->params, "ref");
    json_t *arg = json_object_get(r->params, "argument");
    json_t *an = json_object_get(arg, "name");
    json_t *av = json_object_get(arg, "value");
    if (!json_is_object(ref) || !json_is_string(an) || !json_is_string(av))
        return err_resp(r, HK_MCP_INVALID_PARAMS,
                        "Invalid params: completion/complete needs ref and "
                        "argument {name, value}",
                        NULL);
    json_t *ctx =
        json_object_get(json_object_get(r->params, "context"), "arguments");
    json_t *values = NULL;
    hk_error e;
    hk_error_clear(&e);
    hk_err rc = mcp_complete(r->srv, ref, json_string_value(an),
                             json_string_value(av), ctx, &values, &e);
    if (rc != HK_OK)
        return err_resp(r,
                        rc == HK_ERR_INVALID || rc == HK_ERR_NOT_FOUND
                            ? HK_MCP_INVALID_PARAMS
                            : HK_MCP_INTERNAL_ERROR,
                        e.message, NULL);
    size_t total = json_array_size(values);
    json_t *res =
        json_pack("{s:{s:o, s:I, s:b}}", "completion", "values", values,
                  "total", (json_int_t)total, "hasMore", false);
    stateless_fields(r, res, false, 0, false);
    return result_response(r->id, res);
}

/* ==== Entry ==== */

/* Stateless validation of _meta and headers; NULL when all is well. */
static json_t *check_stateless(req *r, const char *method)
{
    json_t *meta = json_object_get(r->params, "_meta");
    json_t *ver = json_object_get(meta, META_VERSION);
    json_t *caps = json_object_get(meta, META_CAPS);
    const hk_mcp_io *io = r->io;
    if (!json_is_object(meta) || !json_is_string(ver) ||
        !json_is_object(caps)) {
        r->http_status = 400;
        return err_resp(
            r, HK_MCP_INVALID_PARAMS,
            !json_is_object(meta)
                ? "Invalid params: _meta is required in protocol 2026-07-28"
            : !json_is_string(ver) ? "Invalid params: _meta lacks " META_VERSION
                                   : "Invalid params: _meta lacks " META_CAPS,
            NULL);
    }
    const char *v = json_string_value(ver);
    if (io->http && io->header_version && strcmp(io->header_version, v) != 0) {
        r->http_status = 400;
        return err_resp(r, HK_MCP_HEADER_MISMATCH,
                        "Header mismatch: MCP-Protocol-Version header differs "
                        "from _meta " META_VERSION,
                        NULL);
    }
    if (strcmp(v, HK_MCP_VERSION_STATELESS) != 0) {
        json_t *sup = json_array();
        for (size_t i = 0; i < hk_mcp_n_versions; i++)
            json_array_append_new(sup, json_string(hk_mcp_versions[i]));
        r->http_status = 400;
        return err_resp(
            r, HK_MCP_UNSUPPORTED_VERSION, "Unsupported protocol version",
            json_pack("{s:s, s:o}", "requested", v, "supported", sup));
    }
    if (io->http) {
        if (!io->header_method_present ||
            (io->header_method && strcmp(io->header_method, method) != 0)) {
            r->http_status = 400;
            return err_resp(r, HK_MCP_HEADER_MISMATCH,
                            io->header_method_present
                                ? "Header mismatch: Mcp-Method header differs "
                                  "from the request method"
                                : "Header mismatch: Mcp-Method header is "
                                  "required",
                            NULL);
        }
        const char *body_name = NULL;
        if (strcmp(method, "tools/call") == 0 ||
            strcmp(method, "prompts/get") == 0) {
            json_t *n = json_object_get(r->params, "name");
            body_name = json_is_string(n) ? json_string_value(n) : NULL;
        } else if (strcmp(method, "resources/read") == 0) {
            json_t *n = json_object_get(r->params, "uri");
            body_name = json_is_string(n) ? json_string_value(n) : NULL;
        }
        if (body_name &&
            (!io->header_name || strcmp(io->header_name, body_name) != 0)) {
            r->http_status = 400;
            return err_resp(r, HK_MCP_HEADER_MISMATCH,
                            io->header_name
                                ? "Header mismatch: Mcp-Name header differs "
                                  "from the request body"
                                : "Header mismatch: Mcp-Name header is "
                                  "required for this method",
                            NULL);
        }
    }
    r->client_caps = caps;
    json_t *lv = json_object_get(meta, META_LOGLEVEL);
    r->log_level =
        json_is_string(lv) ? mcp_log_level_parse(json_string_value(lv)) : -1;
    return NULL;
}

json_t *hk_mcp_handle(hk_mcp_server *s, hk_mcp_session *sess, json_t *msg,
                      const hk_mcp_io *io, hk_mcp_session **new_session,
                      int *http_status)
{
    static const hk_mcp_io no_io;
    if (!io) io = &no_io;
    if (new_session) *new_session = NULL;
    if (http_status) *http_status = 200;
    hk_mcp_kind kind = hk_mcp_classify(msg);
    json_t *id = json_object_get(msg, "id");
    if (kind == HK_MCP_KIND_INVALID) {
        if (http_status) *http_status = 400;
        bool id_ok = json_is_string(id) || json_is_integer(id);
        return hk_mcp_error_response(id_ok ? id : NULL, HK_MCP_INVALID_REQUEST,
                                     "Invalid request: not a JSON-RPC 2.0 "
                                     "request, notification or response");
    }
    if (kind == HK_MCP_KIND_RESPONSE) {
        if (sess) mcp_session_deliver(sess, msg);
        return NULL;
    }
    const char *method = json_string_value(json_object_get(msg, "method"));
    json_t *params = json_object_get(msg, "params");
    json_t *own_params = NULL;
    if (!params || json_is_null(params)) params = own_params = json_object();
    if (!json_is_object(params)) {
        if (kind == HK_MCP_KIND_NOTIFICATION) return NULL;
        if (http_status) *http_status = 400;
        return hk_mcp_error_response(
            id, HK_MCP_INVALID_PARAMS,
            "Invalid params: params must be an object");
    }

    req r;
    memset(&r, 0, sizeof r);
    r.srv = s;
    r.sess = sess;
    r.io = io;
    r.id = id;
    r.params = params;
    r.http_status = 200;
    r.log_level = -1;
    r.stateless = hk_mcp_is_stateless(msg);
    if (!r.stateless && io->http && io->header_version &&
        !is_dated_stateful(io->header_version) &&
        strcmp(method, "initialize") != 0)
        r.stateless = true; /* a 2026 header with a body lacking _meta */
    json_t *resp = NULL;

    if (kind == HK_MCP_KIND_NOTIFICATION) {
        /* notifications/initialized, cancelled, roots/list_changed: nothing
         * to answer; cancellation of synchronous tools is not possible. */
        json_decref(own_params);
        return NULL;
    }
    /* The memory profile offers what the reference memory server offers:
     * tools and one resource; no prompts, completions or logging. */
    if (s->env.profile == HK_MCP_PROFILE_MEMORY &&
        (strncmp(method, "prompts/", 8) == 0 ||
         strcmp(method, "completion/complete") == 0 ||
         strcmp(method, "logging/setLevel") == 0)) {
        json_decref(own_params);
        return hk_mcp_error_response(id, HK_MCP_METHOD_NOT_FOUND,
                                     "Method not found");
    }

    if (r.stateless) {
        r.version = HK_MCP_VERSION_STATELESS;
        r.sess = NULL;
        resp = check_stateless(&r, method);
        if (resp) goto done;
        if (strcmp(method, "server/discover") == 0)
            resp = m_discover(&r);
        else if (strcmp(method, "tools/list") == 0)
            resp = m_tools_list(&r);
        else if (strcmp(method, "tools/call") == 0)
            resp = m_tools_call(&r);
        else if (strcmp(method, "resources/list") == 0)
            resp = list_reply(&r, mcp_resources_list(s, s->env.fixtures),
                              "resources", 0);
        else if (strcmp(method, "resources/templates/list") == 0)
            resp = list_reply(&r, mcp_templates_list(s, s->env.fixtures),
                              "resourceTemplates", LIST_TTL_MS);
        else if (strcmp(method, "resources/read") == 0)
            resp = m_resources_read(&r);
        else if (strcmp(method, "prompts/list") == 0)
            resp = list_reply(&r, mcp_prompts_list(s, s->env.fixtures),
                              "prompts", LIST_TTL_MS);
        else if (strcmp(method, "prompts/get") == 0)
            resp = m_prompts_get(&r);
        else if (strcmp(method, "completion/complete") == 0)
            resp = m_complete(&r);
        else {
            char m[160];
            snprintf(m, sizeof m, "Method not found: %.100s", method);
            resp = err_resp(&r, HK_MCP_METHOD_NOT_FOUND, m, NULL);
        }
        goto done;
    }

    /* ---- stateful (2025-11-25 and older dated revisions) ---- */
    if (strcmp(method, "initialize") == 0) {
        resp = m_initialize(&r, new_session);
        goto done;
    }
    if (strcmp(method, "ping") == 0) {
        resp = result_response(id, json_object());
        goto done;
    }
    if (sess && !hk_mcp_session_initialized(sess)) {
        if (http_status) *http_status = 400;
        resp = hk_mcp_error_response(id, HK_MCP_INVALID_REQUEST,
                                     "Invalid request: send initialize first");
        goto done;
    }
    if (sess) {
        pthread_mutex_lock(&sess->lock);
        r.version = sess->version;
        r.client_caps = sess->client_caps;
        r.log_level = sess->log_level;
        pthread_mutex_unlock(&sess->lock);
    } else {
        r.version = HK_MCP_VERSION_STATEFUL;
    }
    if (strcmp(method, "logging/setLevel") == 0)
        resp = m_set_level(&r);
    else if (strcmp(method, "tools/list") == 0)
        resp = m_tools_list(&r);
    else if (strcmp(method, "tools/call") == 0)
        resp = m_tools_call(&r);
    else if (strcmp(method, "resources/list") == 0)
        resp = list_reply(&r, mcp_resources_list(s, s->env.fixtures),
                          "resources", 0);
    else if (strcmp(method, "resources/templates/list") == 0)
        resp = list_reply(&r, mcp_templates_list(s, s->env.fixtures),
                          "resourceTemplates", 0);
    else if (strcmp(method, "resources/read") == 0)
        resp = m_resources_read(&r);
    else if (strcmp(method, "resources/subscribe") == 0)
        resp = m_subscribe(&r, true);
    else if (strcmp(method, "resources/unsubscribe") == 0)
        resp = m_subscribe(&r, false);
    else if (strcmp(method, "prompts/list") == 0)
        resp =
            list_reply(&r, mcp_prompts_list(s, s->env.fixtures), "prompts", 0);
    else if (strcmp(method, "prompts/get") == 0)
        resp = m_prompts_get(&r);
    else if (strcmp(method, "completion/complete") == 0)
        resp = m_complete(&r);
    else {
        char m[160];
        snprintf(m, sizeof m, "Method not found: %.100s", method);
        resp = hk_mcp_error_response(id, HK_MCP_METHOD_NOT_FOUND, m);
    }
done:
    if (http_status) *http_status = r.http_status;
    json_decref(own_params);
    return resp;
}
