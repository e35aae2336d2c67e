/*
 * fuzz_mcp.c — libFuzzer target for the MCP JSON-RPC dispatcher
 * (hk_mcp_handle, src/mcp) fed stdio-style messages.
 *
 * One KB (a few hundred facts across binary and n-ary predicates) and one
 * server with a write token ("tok"), an allowed directory and the
 * conformance fixtures are made once for the run. Every input is split at
 * '\n' into messages, like `hakgal mcp` reads stdin; each input gets a new
 * session that is initialized first, so that tools/call, resources/read,
 * prompts/get and completion/complete are reached. Properties checked on
 * every message, beyond "no crash, no leak":
 *   - a request (object with "method" and "id") gets exactly one response,
 *     a notification ("jsonrpc":"2.0", a string method, no id) none;
 *   - every response is an object with "jsonrpc":"2.0", the request's id
 *     (null when the message was no valid request) and exactly one of
 *     "result" (an object) and "error" (with an integer code and a string
 *     message);
 *   - a tools/call result with isError true carries a text message;
 *   - the response encodes as JSON (what stdio would write).
 * Server->client requests (sampling, elicitation) are answered with an
 * error, as when the client does not support them.
 *
 * The KB changes as the fuzzer calls write tools (add_fact, bulk_delete,
 * bulk_translate_predicates...); that is intended: state reached by one
 * input is explored by the next. backup_kb is not configured (it would fill
 * the disk) and the allowed directory is emptied now and then.
 *
 * Built by CMake with the fixtures linked in (libFuzzer with clang, else
 * the standalone driver); run it as tests/fuzz/README.md says.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/sha256.h"
#include "hakgal.h"
#include "mcp/mcp.h"

static hk_store *g_store;
static hk_mcp_server *g_srv;
static char g_dir[256];
static char g_allow[300];
static const char *g_allow_dirs[1];
static hk_token g_token;
static unsigned long g_runs;

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "property violated: %s\n", what);
        abort();
    }
}

static hk_err fuzz_write(void *ud, hk_mcp_txn_fn fn, void *arg,
                         const char *actor, hk_error *err)
{
    (void)ud;
    hk_txn *t = NULL;
    hk_err rc = hk_txn_begin(g_store, true, &t, err);
    if (rc != HK_OK) return rc;
    rc = hk_txn_set_actor(t, actor ? actor : "mcp");
    if (rc == HK_OK) rc = fn(t, arg, err);
    if (rc != HK_OK) {
        hk_txn_abort(t);
        return rc;
    }
    return hk_txn_commit(t, err);
}

static void on_notify(void *ud, json_t *msg)
{
    (void)ud;
    check(json_is_object(msg), "a notification is an object");
    char *s = json_dumps(msg, JSON_COMPACT);
    check(s != NULL, "a notification encodes");
    free(s);
}

static hk_err on_client_request(void *ud, const char *method, json_t *params,
                                json_t **result, hk_error *err)
{
    (void)ud;
    (void)params;
    *result = NULL;
    return hk_error_set(err, HK_ERR_UNSUPPORTED, "client cannot do %s", method);
}

static void on_kb_changed(void *ud)
{
    (void)ud;
}

static void setup(void)
{
    const char *base = getenv("HK_TEST_TMP"); /* set by run_corpus.sh */
    if (!base || !*base) base = "/tmp";
    snprintf(g_dir, sizeof g_dir, "%.200s/fuzz-mcp-%d", base, (int)getpid());
    snprintf(g_allow, sizeof g_allow, "%.200s/fuzz-mcp-allowed", base);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s' && mkdir -p '%s'", g_dir,
             g_allow, g_allow);
    check(system(cmd) == 0, "scratch directories");
    hk_store_options opt;
    memset(&opt, 0, sizeof opt);
    opt.create = true;
    hk_error e;
    check(hk_store_open(g_dir, &opt, &g_store, &e) == HK_OK, "store opens");
    hk_txn *t = NULL;
    check(hk_txn_begin(g_store, true, &t, &e) == HK_OK, "write txn");
    static const char *const seed[] = {"IsA(Cat, Mammal)",
                                       "IsA(Mammal, Animal)",
                                       "IsA(Animal, Mammal)",
                                       "NotIsA(Cat, Mammal)",
                                       "HasPart(Computer, CPU)",
                                       "HasPart(Computer, RAM)",
                                       "Bond(NH3, nitrogen, hydrogen)",
                                       "Capital(France, Paris)",
                                       "Capital(France, Lyon)",
                                       "Says(Alice, \"Hello, world\")",
                                       "IsA(CO₂, Gas)",
                                       "Causes(Heat, Expansion)",
                                       "Causes(Expansion, Heat)",
                                       "Declare(Capital, functional)",
                                       "Likes(Bob, Alice)"};
    for (size_t i = 0; i < sizeof seed / sizeof seed[0]; i++) {
        hk_statement st;
        check(hk_statement_parse(seed[i], strlen(seed[i]), &st, &e) == HK_OK,
              "seed parses");
        hk_fact_id id;
        bool created;
        check(hk_store_add(t, &st, NULL, &id, &created, &e) == HK_OK,
              "seed adds");
        hk_statement_release(&st);
    }
    for (int i = 0; i < 300; i++) {
        char text[128];
        snprintf(text, sizeof text, "Link(E%d, E%d, R%d)", i, (i * 7) % 50,
                 i % 5);
        hk_statement st;
        check(hk_statement_parse(text, strlen(text), &st, &e) == HK_OK,
              "generated fact parses");
        hk_fact_id id;
        bool created;
        check(hk_store_add(t, &st, NULL, &id, &created, &e) == HK_OK,
              "generated fact adds");
        hk_statement_release(&st);
    }
    check(hk_txn_commit(t, &e) == HK_OK, "seed commits");

    snprintf(g_token.name, sizeof g_token.name, "mcp");
    g_token.role = HK_ROLE_WRITE;
    hk_sha256("tok", 3, g_token.hash);
    g_allow_dirs[0] = g_allow;
    hk_mcp_env env;
    memset(&env, 0, sizeof env);
    env.store = g_store;
    env.write = fuzz_write;
    env.tokens = &g_token;
    env.n_tokens = 1;
    env.allow_dirs = g_allow_dirs;
    env.n_allow_dirs = 1;
    env.fixtures = true;
    env.list_page_size = 7;
    env.transport = "stdio";
    check(hk_mcp_server_new(&env, &g_srv, &e) == HK_OK, "server starts");
}

/* Checks one response against the request it answers. */
static void check_response(const json_t *req, const json_t *resp)
{
    check(json_is_object(resp), "a response is an object");
    check(json_is_string(json_object_get(resp, "jsonrpc")) &&
              strcmp(json_string_value(json_object_get(resp, "jsonrpc")),
                     "2.0") == 0,
          "jsonrpc is 2.0");
    const json_t *id = json_object_get(resp, "id");
    check(id != NULL, "a response has an id");
    const json_t *rid = json_is_object(req) ? json_object_get(req, "id") : NULL;
    check(json_is_null(id) ||
              (rid != NULL && json_equal((json_t *)id, (json_t *)rid)),
          "the response's id is the request's id or null");
    const json_t *result = json_object_get(resp, "result");
    const json_t *error = json_object_get(resp, "error");
    check((result != NULL) != (error != NULL), "exactly one of result, error");
    if (error) {
        check(json_is_integer(json_object_get(error, "code")),
              "error code is an integer");
        check(json_is_string(json_object_get(error, "message")),
              "error message is a string");
    } else {
        check(json_is_object(result), "result is an object");
        if (json_is_true(json_object_get(result, "isError"))) {
            const json_t *content = json_object_get(result, "content");
            const json_t *first = json_array_get(content, 0);
            check(json_is_string(json_object_get(first, "text")),
                  "an isError result carries a text message");
        }
    }
    char *s = json_dumps(resp, JSON_COMPACT);
    check(s != NULL, "the response encodes as JSON");
    free(s);
}

static void handle(hk_mcp_session *sess, const hk_mcp_io *io, const char *line,
                   size_t len)
{
    json_error_t je;
    json_t *msg = json_loadb(line, len, JSON_DECODE_ANY, &je);
    if (msg == NULL || json_is_array(msg)) {
        json_decref(msg);
        return; /* the transport answers these itself */
    }
    json_t *resp = hk_mcp_handle(g_srv, sess, msg, io, NULL, NULL);
    bool is_request = json_is_object(msg) &&
                      json_object_get(msg, "method") != NULL &&
                      json_object_get(msg, "id") != NULL;
    const json_t *ver =
        json_is_object(msg) ? json_object_get(msg, "jsonrpc") : NULL;
    bool is_notification = json_is_string(ver) &&
                           strcmp(json_string_value(ver), "2.0") == 0 &&
                           json_is_string(json_object_get(msg, "method")) &&
                           json_object_get(msg, "id") == NULL;
    if (is_request) check(resp != NULL, "a request gets a response");
    if (is_notification) check(resp == NULL, "a notification gets no response");
    if (resp != NULL) check_response(msg, resp);
    json_decref(resp);
    json_decref(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (g_srv == NULL) setup();
    if (++g_runs % 1000 == 0) {
        char cmd[700];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'/* 2>/dev/null", g_allow);
        (void)system(cmd);
    }
    hk_mcp_io io;
    memset(&io, 0, sizeof io);
    io.notify = on_notify;
    io.client_request = on_client_request;
    io.kb_changed = on_kb_changed;
    hk_mcp_session *sess = NULL;
    hk_error e;
    check(hk_mcp_session_new(g_srv, &sess, &e) == HK_OK, "session");
    static const char init[] =
        "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":"
        "{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{\"sampling\":"
        "{},\"elicitation\":{}},\"clientInfo\":{\"name\":\"fuzz\","
        "\"version\":\"1\"}}}";
    static const char inited[] =
        "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}";
    handle(sess, &io, init, sizeof init - 1);
    handle(sess, &io, inited, sizeof inited - 1);
    size_t start = 0;
    for (size_t i = 0; i <= size; i++) {
        if (i == size || data[i] == '\n') {
            if (i > start)
                handle(sess, &io, (const char *)data + start, i - start);
            start = i + 1;
        }
    }
    json_decref(hk_mcp_session_updates(sess));
    hk_mcp_session_free(sess);
    return 0;
}
