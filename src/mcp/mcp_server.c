/*
 * mcp_server.c — the MCP server object, sessions and the helpers that tool
 * implementations share (arguments, progress, logging, paths, facts as
 * JSON, write authorisation).
 *
 * The server copies its environment, resolves the allowed directories once
 * (realpath), and builds every tool's tools/list entry at creation so that
 * listing is a copy of prebuilt JSON. Nothing in the server changes after
 * creation. Write tokens are kept as SHA-256 hashes and compared with
 * CRYPTO_memcmp over the whole table.
 *
 * Sessions: a mutex guards all session fields; client requests
 * (sampling, elicitation) register an id with hk_mcp_session_expect and
 * wait on the condition variable until mcp_session_deliver (called when
 * hk_mcp_handle receives the client's response message) fills the slot.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/crypto.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/mem.h"
#include "core/sha256.h"
#include "core/utf8.h"
#include "mcp/mcp_int.h"

const char *const hk_mcp_versions[] = {HK_MCP_VERSION_STATELESS,
                                       HK_MCP_VERSION_STATEFUL, "2025-06-18",
                                       "2025-03-26", "2024-11-05"};
const size_t hk_mcp_n_versions =
    sizeof hk_mcp_versions / sizeof hk_mcp_versions[0];

/* ==== Tool table ==== */

static json_t *annotations_json(const mcp_tool_def *d)
{
    unsigned f = d->flags;
    return json_pack("{s:s, s:b, s:b, s:b, s:b}", "title", d->title,
                     "readOnlyHint", (f & MCP_TOOL_READ_ONLY) != 0,
                     "destructiveHint", (f & MCP_TOOL_DESTRUCTIVE) != 0,
                     "idempotentHint", (f & MCP_TOOL_IDEMPOTENT) != 0,
                     "openWorldHint", (f & MCP_TOOL_OPEN_WORLD) != 0);
}

static hk_err register_tool(hk_mcp_server *s, const mcp_tool_def *d,
                            hk_error *err)
{
    mcp_tool *t = &s->tools[s->n_tools];
    json_error_t je;
    t->def = d;
    t->input = json_loads(d->input_schema, 0, &je);
    if (!t->input)
        return hk_error_set(err, HK_ERR_INVALID,
                            "tool %s: input schema is not JSON: %s (line %d)",
                            d->name, je.text, je.line);
    json_t *out = NULL;
    if (d->output_schema) {
        out = json_loads(d->output_schema, 0, &je);
        if (!out) {
            json_decref(t->input);
            t->input = NULL;
            return hk_error_set(err, HK_ERR_INVALID,
                                "tool %s: output schema is not JSON: %s",
                                d->name, je.text);
        }
    }
    t->listing =
        json_pack("{s:s, s:s, s:s, s:O, s:o}", "name", d->name, "title",
                  d->title, "description", d->description, "inputSchema",
                  t->input, "annotations", annotations_json(d));
    if (t->listing && out)
        json_object_set_new(t->listing, "outputSchema", out);
    else
        json_decref(out);
    if (!t->listing) {
        json_decref(t->input);
        t->input = NULL;
        return hk_error_set(err, HK_ERR_NOMEM, "tool %s: out of memory",
                            d->name);
    }
    s->n_tools++;
    return HK_OK;
}

/* ==== Server ==== */

/* realpath(p) copied into memory of hk_malloc (caller frees with hk_free);
 * NULL with errno set (ENOMEM when the copy fails). */
static char *real_path(const char *p)
{
    char *rp = realpath(p, NULL);
    if (!rp) return NULL;
    char *copy = hk_strdup(rp);
    free(rp); /* realpath's memory: libc free */
    if (!copy) errno = ENOMEM;
    return copy;
}

hk_err hk_mcp_server_new(const hk_mcp_env *env, hk_mcp_server **out,
                         hk_error *err)
{
    *out = NULL;
    if (!env || !env->store)
        return hk_error_set(err, HK_ERR_INVALID, "mcp: no store given");
    if (env->fixtures && mcp_n_fixture_tools == 0)
        return hk_error_set(err, HK_ERR_INVALID,
                            "mcp: this build has no MCP conformance fixtures "
                            "(they are built only into hakgal-conformance, "
                            "for the tests)");
    if (env->n_tokens > HK_MCP_MAX_TOKENS)
        return hk_error_set(err, HK_ERR_LIMIT, "mcp: more than %d tokens",
                            HK_MCP_MAX_TOKENS);
    if (env->n_allow_dirs > HK_MCP_MAX_DIRS)
        return hk_error_set(err, HK_ERR_LIMIT,
                            "mcp: more than %d allowed directories",
                            HK_MCP_MAX_DIRS);
    hk_err rc = HK_OK;
    hk_mcp_server *s = hk_calloc(1, sizeof *s);
    if (!s) return hk_error_set(err, HK_ERR_NOMEM, "mcp: out of memory");
    s->env = *env;
    s->started_us = hk_now_us();
    for (size_t i = 0; i < env->n_tokens; i++)
        s->tokens[i] = env->tokens[i];
    s->env.tokens = s->tokens;
    for (size_t i = 0; i < env->n_allow_dirs; i++) {
        char *real = real_path(env->allow_dirs[i]);
        if (!real) {
            rc = hk_error_set(err, HK_ERR_IO,
                              "allowed directory '%s' cannot be resolved: %s",
                              env->allow_dirs[i], strerror(errno));
            goto fail;
        }
        s->allow_dirs[i] = real;
        s->allow_ptrs[i] = real;
    }
    s->env.allow_dirs = s->allow_ptrs;
    if (env->backup_dir) {
        s->backup_dir = hk_strdup(env->backup_dir);
        if (!s->backup_dir) {
            rc = hk_error_set(err, HK_ERR_NOMEM, "mcp: out of memory");
            goto fail;
        }
    }
    s->env.backup_dir = s->backup_dir;
    if (s->env.list_page_size == 0) s->env.list_page_size = 100;
    if (!s->env.transport) s->env.transport = "stdio";

    bool memory = env->profile == HK_MCP_PROFILE_MEMORY;
    const mcp_tool_def *table = memory ? mcp_memory_tools : mcp_kb_tools;
    size_t n_table = memory ? mcp_n_memory_tools : mcp_n_kb_tools;
    size_t n = n_table + (env->fixtures ? mcp_n_fixture_tools : 0);
    s->tools = hk_calloc(n, sizeof *s->tools);
    if (!s->tools) {
        rc = hk_error_set(err, HK_ERR_NOMEM, "mcp: out of memory");
        goto fail;
    }
    /* fixtures first: the conformance suite calls the first listed tool
     * without arguments */
    if (env->fixtures)
        for (size_t i = 0; i < mcp_n_fixture_tools; i++)
            if ((rc = register_tool(s, &mcp_fixture_tools[i], err)) != HK_OK)
                goto fail;
    for (size_t i = 0; i < n_table; i++)
        if ((rc = register_tool(s, &table[i], err)) != HK_OK) goto fail;
    *out = s;
    return HK_OK;
fail:
    hk_mcp_server_free(s);
    return rc;
}

void hk_mcp_server_free(hk_mcp_server *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n_tools; i++) {
        json_decref(s->tools[i].input);
        json_decref(s->tools[i].listing);
    }
    hk_free(s->tools);
    for (size_t i = 0; i < HK_MCP_MAX_DIRS; i++)
        hk_free(s->allow_dirs[i]);
    hk_free(s->backup_dir);
    /* wipe copied secrets */
    volatile unsigned char *p = (volatile unsigned char *)s->tokens;
    for (size_t i = 0; i < sizeof s->tokens; i++)
        p[i] = 0;
    hk_free(s);
}

size_t hk_mcp_tool_count(const hk_mcp_server *s)
{
    return s->n_tools;
}

bool hk_mcp_writes_enabled(const hk_mcp_server *s)
{
    return s->env.n_tokens > 0 ||
           (s->env.check_token && s->env.external_tokens);
}

bool hk_mcp_token_check(const hk_mcp_server *s, const char *secret,
                        char name[64])
{
    if (!secret || !secret[0]) return false;
    uint8_t h[32];
    hk_sha256(secret, strlen(secret), h);
    int found = -1;
    for (size_t i = 0; i < s->env.n_tokens; i++)
        if (CRYPTO_memcmp(h, s->tokens[i].hash, 32) == 0 && found < 0)
            found = (int)i;
    if (found >= 0) {
        snprintf(name, 64, "%s", s->tokens[found].name);
        return true;
    }
    if (s->env.check_token)
        return s->env.check_token(s->env.check_ud, secret, name);
    return false;
}

hk_err hk_mcp_tokens_load(const char *path, hk_token *out, size_t max,
                          size_t *n, hk_error *err)
{
    *n = 0;
    size_t got = 0;
    hk_err rc = HK_OK;
    hk_token *all = hk_calloc(HK_MAX_TOKENS, sizeof *all);
    if (!all) return hk_error_set(err, HK_ERR_NOMEM, "mcp: out of memory");
    rc = hk_svc_tokens_load(path, all, HK_MAX_TOKENS, &got, err);
    if (rc != HK_OK) goto done;
    for (size_t i = 0; i < got; i++) {
        if (all[i].role < HK_ROLE_WRITE) continue; /* read tokens: no writes */
        if (*n >= max) {
            rc = hk_error_set(err, HK_ERR_LIMIT,
                              "token file %s: more than %zu write tokens", path,
                              max);
            *n = 0;
            goto done;
        }
        out[(*n)++] = all[i];
    }
done:
    memset(all, 0, HK_MAX_TOKENS * sizeof *all);
    hk_free(all);
    return rc;
}

/* ==== Sessions ==== */

hk_err hk_mcp_session_new(hk_mcp_server *s, hk_mcp_session **out, hk_error *err)
{
    hk_mcp_session *sess = hk_calloc(1, sizeof *sess);
    if (!sess) return hk_error_set(err, HK_ERR_NOMEM, "mcp: out of memory");
    sess->srv = s;
    sess->log_level = -1;
    sess->next_id = 1;
    pthread_mutex_init(&sess->lock, NULL);
    pthread_cond_init(&sess->cond, NULL);
    *out = sess;
    return HK_OK;
}

void hk_mcp_session_free(hk_mcp_session *sess)
{
    if (!sess) return;
    json_decref(sess->client_caps);
    for (size_t i = 0; i < MCP_MAX_PENDING; i++)
        json_decref(sess->pending[i].answer);
    for (size_t i = 0; i < MCP_MAX_SUBS; i++)
        hk_free(sess->subs[i]);
    pthread_cond_destroy(&sess->cond);
    pthread_mutex_destroy(&sess->lock);
    hk_free(sess);
}

bool hk_mcp_session_initialized(hk_mcp_session *sess)
{
    pthread_mutex_lock(&sess->lock);
    bool v = sess->initialized;
    pthread_mutex_unlock(&sess->lock);
    return v;
}

void hk_mcp_session_version(hk_mcp_session *sess, char out[32])
{
    pthread_mutex_lock(&sess->lock);
    memcpy(out, sess->version, 32);
    pthread_mutex_unlock(&sess->lock);
}

json_int_t hk_mcp_session_expect(hk_mcp_session *sess)
{
    json_int_t id = 0;
    pthread_mutex_lock(&sess->lock);
    for (size_t i = 0; i < MCP_MAX_PENDING; i++) {
        if (sess->pending[i].id == 0) {
            id = sess->next_id++;
            sess->pending[i].id = id;
            sess->pending[i].answer = NULL;
            break;
        }
    }
    pthread_mutex_unlock(&sess->lock);
    return id;
}

hk_err hk_mcp_session_await(hk_mcp_session *sess, json_int_t id, int timeout_ms,
                            json_t **msg, hk_error *err)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    hk_err rc = HK_ERR_NOT_FOUND;
    *msg = NULL;
    pthread_mutex_lock(&sess->lock);
    for (;;) {
        mcp_pending *p = NULL;
        for (size_t i = 0; i < MCP_MAX_PENDING; i++)
            if (sess->pending[i].id == id) p = &sess->pending[i];
        if (!p) {
            rc = hk_error_set(err, HK_ERR_NOT_FOUND,
                              "no client request %lld is pending",
                              (long long)id);
            break;
        }
        if (sess->aborted) {
            p->id = 0;
            rc = hk_error_set(err, HK_ERR_STATE, "the server is stopping");
            break;
        }
        if (p->answer) {
            *msg = p->answer;
            p->answer = NULL;
            p->id = 0;
            rc = HK_OK;
            break;
        }
        if (pthread_cond_timedwait(&sess->cond, &sess->lock, &until) ==
            ETIMEDOUT) {
            p->id = 0;
            rc = hk_error_set(err, HK_ERR_LIMIT,
                              "the client did not answer request %lld within "
                              "%d ms",
                              (long long)id, timeout_ms);
            break;
        }
    }
    pthread_mutex_unlock(&sess->lock);
    return rc;
}

bool hk_mcp_session_take(hk_mcp_session *sess, json_int_t id, json_t **msg)
{
    bool got = false;
    *msg = NULL;
    pthread_mutex_lock(&sess->lock);
    for (size_t i = 0; i < MCP_MAX_PENDING; i++) {
        mcp_pending *p = &sess->pending[i];
        if (p->id == id && id != 0 && p->answer) {
            *msg = p->answer;
            p->answer = NULL;
            p->id = 0;
            got = true;
        }
    }
    pthread_mutex_unlock(&sess->lock);
    return got;
}

void hk_mcp_session_abort(hk_mcp_session *sess)
{
    pthread_mutex_lock(&sess->lock);
    sess->aborted = true;
    pthread_cond_broadcast(&sess->cond);
    pthread_mutex_unlock(&sess->lock);
}

void hk_mcp_session_cancel(hk_mcp_session *sess, json_int_t id)
{
    pthread_mutex_lock(&sess->lock);
    for (size_t i = 0; i < MCP_MAX_PENDING; i++) {
        mcp_pending *p = &sess->pending[i];
        if (p->id == id && id != 0) {
            json_decref(p->answer);
            p->answer = NULL;
            p->id = 0;
        }
    }
    pthread_mutex_unlock(&sess->lock);
}

/* mcp_int.h */
bool mcp_session_deliver(hk_mcp_session *sess, json_t *msg)
{
    json_t *idj = json_object_get(msg, "id");
    if (!json_is_integer(idj)) return false;
    json_int_t id = json_integer_value(idj);
    bool used = false;
    pthread_mutex_lock(&sess->lock);
    for (size_t i = 0; i < MCP_MAX_PENDING; i++) {
        if (sess->pending[i].id == id && id != 0 && !sess->pending[i].answer) {
            sess->pending[i].answer = json_incref(msg);
            used = true;
        }
    }
    if (used) pthread_cond_broadcast(&sess->cond);
    pthread_mutex_unlock(&sess->lock);
    return used;
}

json_t *hk_mcp_session_updates(hk_mcp_session *sess)
{
    json_t *arr = json_array();
    pthread_mutex_lock(&sess->lock);
    for (size_t i = 0; arr && i < MCP_MAX_SUBS; i++) {
        const char *u = sess->subs[i];
        if (!u || (strncmp(u, "hakgal://", 9) != 0 &&
                   strcmp(u, MCP_MEMORY_RESOURCE_URI) != 0))
            continue;
        json_array_append_new(arr, json_pack("{s:s, s:s, s:{s:s}}", "jsonrpc",
                                             "2.0", "method",
                                             "notifications/resources/updated",
                                             "params", "uri", u));
    }
    pthread_mutex_unlock(&sess->lock);
    return arr;
}

bool hk_mcp_session_subscribed(hk_mcp_session *sess, const char *uri)
{
    bool found = false;
    pthread_mutex_lock(&sess->lock);
    for (size_t i = 0; i < MCP_MAX_SUBS; i++)
        if (sess->subs[i] && strcmp(sess->subs[i], uri) == 0) found = true;
    pthread_mutex_unlock(&sess->lock);
    return found;
}

/* ==== Logging levels ==== */

static const char *const log_levels[] = {"debug",   "info",     "notice",
                                         "warning", "error",    "critical",
                                         "alert",   "emergency"};

int mcp_log_level_parse(const char *name)
{
    if (!name) return -1;
    for (int i = 0; i < 8; i++)
        if (strcmp(log_levels[i], name) == 0) return i;
    return -1;
}

const char *mcp_log_level_name(int level)
{
    return level >= 0 && level < 8 ? log_levels[level] : "info";
}

/* ==== Call helpers ==== */

const char *mcp_arg_str(const mcp_call *c, const char *key, const char *dflt)
{
    const json_t *v = json_object_get(c->args, key);
    return json_is_string(v) ? json_string_value(v) : dflt;
}

json_int_t mcp_arg_int(const mcp_call *c, const char *key, json_int_t dflt)
{
    const json_t *v = json_object_get(c->args, key);
    if (json_is_integer(v)) return json_integer_value(v);
    if (json_is_real(v)) return (json_int_t)json_real_value(v);
    return dflt;
}

double mcp_arg_num(const mcp_call *c, const char *key, double dflt)
{
    const json_t *v = json_object_get(c->args, key);
    return json_is_number(v) ? json_number_value(v) : dflt;
}

bool mcp_arg_bool(const mcp_call *c, const char *key, bool dflt)
{
    const json_t *v = json_object_get(c->args, key);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

void mcp_progress(mcp_call *c, double done, double total, const char *msg)
{
    if (!c->progress_token || !c->io->notify) return;
    json_t *n = json_pack("{s:s, s:s, s:{s:O, s:f}}", "jsonrpc", "2.0",
                          "method", "notifications/progress", "params",
                          "progressToken", c->progress_token, "progress", done);
    if (!n) return;
    json_t *params = json_object_get(n, "params");
    if (total > 0) json_object_set_new(params, "total", json_real(total));
    if (msg) json_object_set_new(params, "message", json_string(msg));
    c->io->notify(c->io->ud, n);
    json_decref(n);
}

void mcp_log(mcp_call *c, int level, const char *logger, const char *msg)
{
    if (c->log_level < 0 || level < c->log_level || !c->io->notify) return;
    json_t *n =
        json_pack("{s:s, s:s, s:{s:s, s:s, s:s}}", "jsonrpc", "2.0", "method",
                  "notifications/message", "params", "level",
                  mcp_log_level_name(level), "logger", logger, "data", msg);
    if (!n) return;
    c->io->notify(c->io->ud, n);
    json_decref(n);
}

hk_store *mcp_store(const mcp_call *c)
{
    const hk_mcp_env *e = &c->srv->env;
    return e->store_slot ? *e->store_slot : e->store;
}

hk_err mcp_read_begin(mcp_call *c, hk_txn **t, hk_error *err)
{
    return hk_txn_begin(mcp_store(c), false, t, err);
}

static bool inside(const char *dir, const char *path)
{
    size_t n = strlen(dir);
    if (strncmp(dir, path, n) != 0) return false;
    if (n > 0 && dir[n - 1] == '/') return true; /* dir is "/" */
    return path[n] == '\0' || path[n] == '/';
}

hk_err mcp_path_allowed(const hk_mcp_server *s, const char *path,
                        const char *field, char **resolved, hk_error *err)
{
    *resolved = NULL;
    if (s->env.n_allow_dirs == 0)
        return hk_error_set(err, HK_ERR_INVALID,
                            "%s: no directories are configured for client "
                            "paths; the operator must start the server with "
                            "--allow-dir DIR",
                            field);
    if (!path || !path[0])
        return hk_error_set(err, HK_ERR_INVALID, "%s: empty path", field);
    char *real = real_path(path);
    if (!real) {
        /* a file to be created: resolve its parent directory */
        if (errno != ENOENT)
            return hk_error_set(err, HK_ERR_INVALID, "%s: '%s': %s", field,
                                path, strerror(errno));
        /* The name exists but does not resolve: a dangling symbolic link.
         * Creating the "new" file would follow it to wherever it points,
         * possibly outside every allowed directory. */
        struct stat lst;
        if (lstat(path, &lst) == 0)
            return hk_error_set(err, HK_ERR_INVALID,
                                "%s: '%s' is a symbolic link to a missing "
                                "target; give a path that is not a link",
                                field, path);
        const char *slash = strrchr(path, '/');
        char *parent =
            slash ? hk_strndup(path, (size_t)(slash - path)) : hk_strdup(".");
        if (!parent) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        if (!parent[0]) {
            hk_free(parent);
            parent = hk_strdup("/");
            if (!parent)
                return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        }
        char *rp = real_path(parent);
        hk_free(parent);
        const char *base = slash ? slash + 1 : path;
        if (!rp || !base[0] || strcmp(base, ".") == 0 ||
            strcmp(base, "..") == 0) {
            hk_free(rp);
            return hk_error_set(err, HK_ERR_INVALID,
                                "%s: '%s' does not exist and its directory "
                                "cannot be resolved",
                                field, path);
        }
        size_t n = strlen(rp) + strlen(base) + 2;
        real = hk_malloc(n);
        if (!real) {
            hk_free(rp);
            return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        }
        snprintf(real, n, "%s/%s", strcmp(rp, "/") == 0 ? "" : rp, base);
        hk_free(rp);
    }
    for (size_t i = 0; i < s->env.n_allow_dirs; i++) {
        if (inside(s->allow_dirs[i], real)) {
            *resolved = real;
            return HK_OK;
        }
    }
    hk_error_set(err, HK_ERR_INVALID,
                 "%s: '%s' is outside the directories this server may use "
                 "(%s%s); choose a path inside one of them",
                 field, path, s->allow_dirs[0],
                 s->env.n_allow_dirs > 1 ? ", ..." : "");
    hk_free(real);
    return HK_ERR_INVALID;
}

/* ==== JSON helpers ==== */

hk_err mcp_set(json_t *obj, const char *key, json_t *value)
{
    if (!value) return HK_ERR_NOMEM;
    return json_object_set_new(obj, key, value) == 0 ? HK_OK : HK_ERR_NOMEM;
}

json_t *mcp_json_text(const char *s)
{
    size_t n = strlen(s), bad = 0;
    if (hk_utf8_valid(s, n, &bad)) return json_string(s);
    hk_buf b = HK_BUF_INIT;
    hk_err rc = HK_OK;
    /* each round copies the valid run before one invalid byte */
    while (rc == HK_OK && !hk_utf8_valid(s, n, &bad)) {
        rc = hk_buf_append(&b, s, bad);
        if (rc == HK_OK) rc = hk_buf_append(&b, "\xEF\xBF\xBD", 3);
        s += bad + 1;
        n -= bad + 1;
    }
    if (rc == HK_OK) rc = hk_buf_append(&b, s, n);
    json_t *j = rc == HK_OK ? json_stringn(b.data, b.len) : NULL;
    hk_buf_free(&b);
    return j;
}

json_t *mcp_time_json(int64_t us)
{
    if (us == 0) return json_null();
    char buf[32];
    hk_time_format(us, buf);
    return json_string(buf);
}

hk_err mcp_fact_statement(const hk_fact *f, hk_buf *buf)
{
    hk_buf_reset(buf);
    return hk_statement_format(&f->st, buf);
}

hk_err mcp_parse_statement(const char *text, const char *field,
                           hk_statement *st, hk_error *err)
{
    memset(st, 0, sizeof *st);
    if (!text)
        return hk_error_set(err, HK_ERR_INVALID, "%s: missing statement",
                            field);
    hk_error e;
    hk_error_clear(&e);
    hk_err rc = hk_statement_parse(text, strlen(text), st, &e);
    if (rc != HK_OK)
        return hk_error_set(err, rc,
                            "%s: '%s' is not a valid statement: %s. Write "
                            "statements as Predicate(arg1, arg2), e.g. "
                            "HasPart(Computer, CPU)",
                            field, text, e.message);
    return HK_OK;
}

/* ==== Writes ==== */

hk_err mcp_require_writer(mcp_call *c, hk_error *err)
{
    hk_mcp_server *s = c->srv;
    if (!hk_mcp_writes_enabled(s)) {
        /* name the options of the command that runs this server */
        bool http = s->env.transport && strcmp(s->env.transport, "http") == 0;
        return hk_error_set(
            err, HK_ERR_STATE,
            "writes are disabled: the operator has not configured a write "
            "token (start %s). Ask the user before changing the knowledge "
            "base",
            http ? "hakgal serve with --tokens FILE holding a write or admin "
                   "token"
                 : "hakgal mcp with --write-token TOKEN or --tokens FILE");
    }
    const char *tok = mcp_arg_str(c, "auth_token", NULL);
    if (tok && hk_mcp_token_check(s, tok, c->actor_buf)) {
        c->actor = c->actor_buf;
        return HK_OK;
    }
    if (c->io->bearer_actor) {
        c->actor = c->io->bearer_actor;
        return HK_OK;
    }
    return hk_error_set(err, HK_ERR_STATE,
                        tok ? "auth_token is not a valid write token"
                            : "this tool changes the knowledge base and needs "
                              "a write token: pass auth_token (or send an "
                              "Authorization: Bearer token over HTTP)");
}
