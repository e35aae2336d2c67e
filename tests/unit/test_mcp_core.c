/*
 * test_mcp_core.c — unit tests of the transport-independent pieces of the
 * MCP server library (libhakgal_mcp), through its headers: the JSON Schema
 * subset that validates tool arguments, the write-token file and
 * constant-time token check, the allowed-directory check for client paths,
 * server->client request bookkeeping of sessions, and the refusal of
 * conformance fixtures by a build without them.
 *
 * Linked against libhakgal_mcp with the empty fixture table
 * (mcp_fixtures_none.c), as the production binary is. The lexical
 * similarity has its own module and tests (src/similar).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/sha256.h"
#include "mcp/mcp_int.h"

static bool valid(const char *schema, const char *value, char *why)
{
    json_t *s = json_loads(schema, 0, NULL),
           *v = json_loads(value, JSON_DECODE_ANY, NULL);
    assert_non_null(s);
    assert_non_null(v);
    bool ok = mcp_schema_validate(s, v, why, 300);
    json_decref(s);
    json_decref(v);
    return ok;
}

static void test_schema(void **state)
{
    (void)state;
    char why[300];
    const char *obj =
        "{\"type\":\"object\",\"properties\":{"
        "\"q\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":3},"
        "\"n\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":10},"
        "\"x\":{\"type\":\"number\"},"
        "\"d\":{\"type\":\"string\",\"enum\":[\"head\",\"tail\"]},"
        "\"t\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},"
        "\"maxItems\":2},"
        "\"m\":{\"type\":\"object\",\"additionalProperties\":{\"type\":"
        "\"string\"}},"
        "\"u\":{\"type\":[\"string\",\"null\"]}},"
        "\"required\":[\"q\"],\"additionalProperties\":false}";
    assert_true(valid(obj,
                      "{\"q\":\"ab\",\"n\":3,\"x\":1.5,\"d\":\"head\",\"t\":["
                      "\"a\"],\"m\":{\"a\":\"b\"},\"u\":null}",
                      why));
    assert_true(valid(obj, "{\"q\":\"\xc3\xa9\xc3\xa9\xc3\xa9\"}",
                      why));                                 /* 3 characters */
    assert_true(valid(obj, "{\"q\":\"a\",\"n\":2.0}", why)); /* integral real */
    assert_false(valid(obj, "{}", why));
    assert_string_equal(why, "missing required property 'q'");
    assert_false(valid(obj, "{\"q\":\"\"}", why));
    assert_string_equal(why, "q: must have at least 1 characters");
    assert_false(valid(obj, "{\"q\":\"abcd\"}", why));
    assert_false(valid(obj, "{\"q\":5}", why));
    assert_string_equal(why, "q: must be of type string");
    assert_false(valid(obj, "{\"q\":\"a\",\"n\":0}", why));
    assert_string_equal(why, "n: must be >= 1");
    assert_false(valid(obj, "{\"q\":\"a\",\"n\":11}", why));
    assert_false(valid(obj, "{\"q\":\"a\",\"n\":1.5}", why));
    assert_false(valid(obj, "{\"q\":\"a\",\"d\":\"middle\"}", why));
    assert_non_null(strstr(why, "must be one of"));
    assert_false(valid(obj, "{\"q\":\"a\",\"t\":[\"a\",\"b\",\"c\"]}", why));
    assert_false(valid(obj, "{\"q\":\"a\",\"t\":[1]}", why));
    assert_string_equal(why, "t[0]: must be of type string");
    assert_false(valid(obj, "{\"q\":\"a\",\"m\":{\"k\":1}}", why));
    assert_string_equal(why, "m.k: must be of type string");
    assert_false(valid(obj, "{\"q\":\"a\",\"bogus\":1}", why));
    assert_string_equal(why, "unknown property 'bogus'");
    assert_false(valid(obj, "{\"q\":\"a\",\"u\":3}", why));
    assert_false(valid(obj, "[1]", why));
    assert_true(valid("{\"const\":5}", "5", why));
    assert_false(valid("{\"const\":5}", "6", why));
    assert_true(valid("{\"type\":\"boolean\"}", "true", why));
    assert_false(valid("{\"type\":\"boolean\"}", "0", why));
    /* unknown keywords are annotations */
    assert_true(valid(
        "{\"type\":\"object\",\"allOf\":[{\"required\":[\"z\"]}]}", "{}", why));
}

static const char *tmpdir(void)
{
    static char dir[512];
    const char *base = getenv("HK_TEST_TMP");
    snprintf(dir, sizeof dir, "%s/mcp-core-%d", base ? base : "/tmp",
             (int)getpid());
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "rm -rf '%s' && mkdir -p '%s/allowed/sub' '%s/other'", dir, dir,
             dir);
    assert_int_equal(system(cmd), 0);
    return dir;
}

static void test_tokens_and_paths(void **state)
{
    (void)state;
    const char *dir = tmpdir();
    char path[1024], hex[65];
    uint8_t h[32];
    hk_sha256("s3cret", 6, h);
    hk_hex(h, 32, hex);
    snprintf(path, sizeof path, "%s/tokens", dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fprintf(fp, "# comment\n\nalice write %s\nbob read %s\ncarol admin %s\n",
            hex, hex, hex);
    fclose(fp);
    hk_token toks[4];
    size_t n = 0;
    hk_error e;
    assert_int_equal(hk_mcp_tokens_load(path, toks, 4, &n, &e), HK_OK);
    assert_int_equal(n, 2); /* read tokens do not write */
    assert_string_equal(toks[0].name, "alice");
    assert_string_equal(toks[1].name, "carol");
    fp = fopen(path, "w");
    fprintf(fp, "alice write nothex\n");
    fclose(fp);
    assert_int_equal(hk_mcp_tokens_load(path, toks, 4, &n, &e), HK_ERR_INVALID);
    assert_non_null(strstr(e.message, "line 1"));
    assert_int_equal(hk_mcp_tokens_load("/nonexistent/tokens", toks, 4, &n, &e),
                     HK_ERR_IO);

    /* a server over a real store, with tokens and one allowed directory */
    char kb[1024], allowed[1024];
    snprintf(kb, sizeof kb, "%s/kb", dir);
    snprintf(allowed, sizeof allowed, "%s/allowed", dir);
    hk_store_options opt;
    memset(&opt, 0, sizeof opt);
    opt.create = true;
    hk_store *st = NULL;
    assert_int_equal(hk_store_open(kb, &opt, &st, &e), HK_OK);
    hk_token one;
    snprintf(one.name, sizeof one.name, "mcp");
    one.role = HK_ROLE_WRITE;
    memcpy(one.hash, h, 32);
    const char *dirs[1] = {allowed};
    hk_mcp_env env;
    memset(&env, 0, sizeof env);
    env.store = st;
    env.tokens = &one;
    env.n_tokens = 1;
    env.allow_dirs = dirs;
    env.n_allow_dirs = 1;
    hk_mcp_server *s = NULL;
    assert_int_equal(hk_mcp_server_new(&env, &s, &e), HK_OK);
    char name[64];
    assert_true(hk_mcp_token_check(s, "s3cret", name));
    assert_string_equal(name, "mcp");
    assert_false(hk_mcp_token_check(s, "s3cre", name));
    assert_false(hk_mcp_token_check(s, "s3cret!", name));
    assert_false(hk_mcp_token_check(s, "", name));
    assert_false(hk_mcp_token_check(s, NULL, name));
    assert_true(hk_mcp_writes_enabled(s));

    char *res = NULL, p2[2048];
    snprintf(p2, sizeof p2, "%s/sub", allowed);
    assert_int_equal(mcp_path_allowed(s, p2, "hub_path", &res, &e), HK_OK);
    free(res);
    snprintf(p2, sizeof p2, "%s/new-file.json", allowed); /* not there yet */
    assert_int_equal(mcp_path_allowed(s, p2, "report_path", &res, &e), HK_OK);
    assert_non_null(strstr(res, "/allowed/new-file.json"));
    free(res);
    snprintf(p2, sizeof p2, "%s/sub/../../other", allowed); /* escapes */
    assert_int_equal(mcp_path_allowed(s, p2, "hub_path", &res, &e),
                     HK_ERR_INVALID);
    assert_non_null(strstr(e.message, "outside"));
    snprintf(p2, sizeof p2, "%s/../other/x.json", allowed);
    assert_int_equal(mcp_path_allowed(s, p2, "report_path", &res, &e),
                     HK_ERR_INVALID);
    snprintf(p2, sizeof p2, "%s-evil", allowed); /* prefix is not inside */
    assert_int_equal(mcp_path_allowed(s, p2, "hub_path", &res, &e),
                     HK_ERR_INVALID);
    /* a symlink inside pointing outside is resolved and refused */
    char link[2048], target[1024];
    snprintf(link, sizeof link, "%s/link", allowed);
    snprintf(target, sizeof target, "%s/other", dir);
    assert_int_equal(symlink(target, link), 0);
    assert_int_equal(mcp_path_allowed(s, link, "hub_path", &res, &e),
                     HK_ERR_INVALID);
    /* a dangling symlink inside pointing outside: writing the "new file"
     * would create the link's target outside, so it is refused too */
    char dangling[2048], away[1024];
    snprintf(dangling, sizeof dangling, "%s/report.json", allowed);
    snprintf(away, sizeof away, "%s/other/not-yet.json", dir);
    assert_int_equal(symlink(away, dangling), 0);
    assert_int_equal(mcp_path_allowed(s, dangling, "report_path", &res, &e),
                     HK_ERR_INVALID);
    assert_null(res);
    assert_non_null(strstr(e.message, "symbolic link"));
    assert_int_equal(mcp_path_allowed(s, "", "hub_path", &res, &e),
                     HK_ERR_INVALID);
    hk_mcp_server_free(s);

    /* no allowed directories: every client path is refused */
    env.n_allow_dirs = 0;
    env.n_tokens = 0;
    assert_int_equal(hk_mcp_server_new(&env, &s, &e), HK_OK);
    assert_false(hk_mcp_writes_enabled(s));
    assert_int_equal(mcp_path_allowed(s, allowed, "hub_path", &res, &e),
                     HK_ERR_INVALID);
    assert_non_null(strstr(e.message, "--allow-dir"));
    hk_mcp_server_free(s);

    /* this build has no conformance fixtures and says so */
    env.fixtures = true;
    s = NULL;
    assert_int_equal(hk_mcp_server_new(&env, &s, &e), HK_ERR_INVALID);
    assert_null(s);
    assert_non_null(strstr(e.message, "no MCP conformance fixtures"));
    env.fixtures = false;
    assert_int_equal(hk_mcp_server_new(&env, &s, &e), HK_OK);
    assert_int_equal(hk_mcp_tool_count(s), mcp_n_kb_tools);
    hk_mcp_server_free(s);
    hk_store_close(st);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_sessions(void **state)
{
    (void)state;
    hk_mcp_server fake;
    memset(&fake, 0, sizeof fake);
    hk_mcp_session *sess = NULL;
    hk_error e;
    assert_int_equal(hk_mcp_session_new(&fake, &sess, &e), HK_OK);
    json_int_t id = hk_mcp_session_expect(sess);
    assert_true(id > 0);
    json_t *msg = NULL;
    assert_false(hk_mcp_session_take(sess, id, &msg));
    json_t *answer =
        json_pack("{s:s, s:I, s:{}}", "jsonrpc", "2.0", "id", id, "result");
    assert_true(mcp_session_deliver(sess, answer));
    assert_false(mcp_session_deliver(sess, answer)); /* already answered */
    assert_true(hk_mcp_session_take(sess, id, &msg));
    assert_ptr_equal(msg, answer);
    json_decref(msg);
    json_decref(answer);
    /* a wait times out and frees the slot */
    id = hk_mcp_session_expect(sess);
    assert_int_equal(hk_mcp_session_await(sess, id, 10, &msg, &e),
                     HK_ERR_LIMIT);
    assert_int_equal(hk_mcp_session_await(sess, id, 10, &msg, &e),
                     HK_ERR_NOT_FOUND);
    /* at most MCP_MAX_PENDING at once */
    for (int i = 0; i < MCP_MAX_PENDING; i++)
        assert_true(hk_mcp_session_expect(sess) > 0);
    assert_int_equal(hk_mcp_session_expect(sess), 0);
    hk_mcp_session_abort(sess);
    hk_mcp_session_free(sess);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema),
        cmocka_unit_test(test_tokens_and_paths),
        cmocka_unit_test(test_sessions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
