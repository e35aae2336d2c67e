/*
 * test_service_tokens.c — the token file parser of the service layer
 * (hk_svc_tokens_load, svc_tokens.c), shared by `hakgal serve --tokens`
 * and `hakgal mcp --tokens`: accepted lines, every kind of bad line with
 * the line number in the message and in err->line, the limits, and the
 * single-token checks used for HAKGAL_TOKEN_<NAME> variables.
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
#include "service/service.h"

static char g_path[600]; /* the scratch token file */
static char g_hex[65];   /* SHA-256 of "s3cret" as hex */
static uint8_t g_hash[32];

static int setup(void **state)
{
    (void)state;
    const char *base = getenv("HK_TEST_TMP");
    if (!base || !*base) base = "/tmp";
    mkdir(base, 0755);
    snprintf(g_path, sizeof g_path, "%s/svc-tokens-%d", base, (int)getpid());
    hk_sha256("s3cret", 6, g_hash);
    hk_hex(g_hash, 32, g_hex);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(g_path);
    return 0;
}

static void write_file(const char *text)
{
    FILE *fp = fopen(g_path, "w");
    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
}

/* Loads g_path expecting failure `code` at `line`; the message must name
 * the line and contain `why`. */
static void expect_bad(hk_err code, uint64_t line, const char *why)
{
    hk_token toks[4];
    size_t n = 99;
    hk_error e;
    memset(&e, 0, sizeof e);
    assert_int_equal(hk_svc_tokens_load(g_path, toks, 4, &n, &e), code);
    assert_int_equal(n, 0);
    assert_int_equal(e.line, line);
    char at[32];
    snprintf(at, sizeof at, "line %llu:", (unsigned long long)line);
    if (!strstr(e.message, at) || !strstr(e.message, why))
        fail_msg("message '%s' lacks '%s' or '%s'", e.message, at, why);
    assert_non_null(strstr(e.message, g_path));
}

static void test_good_file(void **state)
{
    (void)state;
    char text[1024], upper[65];
    for (int i = 0; i < 65; i++)
        upper[i] =
            (char)((g_hex[i] >= 'a' && g_hex[i] <= 'f') ? g_hex[i] - 'a' + 'A'
                                                        : g_hex[i]);
    snprintf(text, sizeof text,
             "# name role sha256\n\n   \n  # indented comment\n"
             "alice write %s\n\tbob\tread\t%s\r\n"
             "carol.x@y-z_1 admin   %s   \n",
             g_hex, upper, g_hex);
    write_file(text);
    hk_token toks[4];
    size_t n = 0;
    hk_error e;
    assert_int_equal(hk_svc_tokens_load(g_path, toks, 4, &n, &e), HK_OK);
    assert_int_equal(n, 3);
    assert_string_equal(toks[0].name, "alice");
    assert_int_equal(toks[0].role, HK_ROLE_WRITE);
    assert_string_equal(toks[1].name, "bob");
    assert_int_equal(toks[1].role, HK_ROLE_READ);
    assert_string_equal(toks[2].name, "carol.x@y-z_1");
    assert_int_equal(toks[2].role, HK_ROLE_ADMIN);
    for (size_t i = 0; i < n; i++)
        assert_memory_equal(toks[i].hash, g_hash, 32);

    /* an empty file and a comment-only file hold no tokens */
    write_file("");
    assert_int_equal(hk_svc_tokens_load(g_path, toks, 4, &n, &e), HK_OK);
    assert_int_equal(n, 0);
    write_file("# nothing\n");
    assert_int_equal(hk_svc_tokens_load(g_path, toks, 4, &n, &e), HK_OK);
    assert_int_equal(n, 0);
    /* the last line needs no newline */
    snprintf(text, sizeof text, "alice write %s", g_hex);
    write_file(text);
    assert_int_equal(hk_svc_tokens_load(g_path, toks, 4, &n, &e), HK_OK);
    assert_int_equal(n, 1);
}

static void test_bad_lines(void **state)
{
    (void)state;
    char text[2048];
    /* a fourth field is refused, whatever it is (issue 8) */
    snprintf(text, sizeof text, "# c\nalice write %s extra\n", g_hex);
    write_file(text);
    expect_bad(HK_ERR_INVALID, 2, "more than three fields");
    snprintf(text, sizeof text, "alice write %s # comment\n", g_hex);
    write_file(text);
    expect_bad(HK_ERR_INVALID, 1, "more than three fields");
    write_file("alice write\n");
    expect_bad(HK_ERR_INVALID, 1, "fewer than three fields");
    write_file("\n\nalice\n");
    expect_bad(HK_ERR_INVALID, 3, "name role sha256hex");
    /* role */
    snprintf(text, sizeof text, "alice superuser %s\n", g_hex);
    write_file(text);
    expect_bad(HK_ERR_INVALID, 1, "role 'superuser'");
    snprintf(text, sizeof text, "alice Write %s\n", g_hex);
    write_file(text);
    expect_bad(HK_ERR_INVALID, 1, "must be read, write or admin");
    /* name */
    snprintf(text, sizeof text, "al/ice write %s\n", g_hex);
    write_file(text);
    expect_bad(HK_ERR_INVALID, 1, "token name");
    char name[80];
    memset(name, 'n', 64);
    name[64] = '\0';
    snprintf(text, sizeof text, "%s write %s\n", name, g_hex);
    write_file(text);
    expect_bad(HK_ERR_INVALID, 1, "1-63 characters");
    name[63] = '\0'; /* 63 characters is the longest name */
    snprintf(text, sizeof text, "%s write %s\n", name, g_hex);
    write_file(text);
    hk_token toks[4];
    size_t n = 0;
    hk_error e;
    assert_int_equal(hk_svc_tokens_load(g_path, toks, 4, &n, &e), HK_OK);
    assert_int_equal(n, 1);
    assert_string_equal(toks[0].name, name);
    /* hash: not hex, too short, too long */
    write_file("alice write nothex\n");
    expect_bad(HK_ERR_INVALID, 1, "SHA-256 as 64 hex digits");
    snprintf(text, sizeof text, "alice write %.63s\n", g_hex);
    write_file(text);
    expect_bad(HK_ERR_INVALID, 1, "64 hex digits");
    snprintf(text, sizeof text, "alice write %s0\n", g_hex);
    write_file(text);
    expect_bad(HK_ERR_INVALID, 1, "64 hex digits");
    snprintf(text, sizeof text, "alice write %.63sg\n", g_hex);
    write_file(text);
    expect_bad(HK_ERR_INVALID, 1, "64 hex digits");
    /* a bad line after good ones fails the whole file */
    snprintf(text, sizeof text, "alice write %s\nbob read %s\nbad\n", g_hex,
             g_hex);
    write_file(text);
    expect_bad(HK_ERR_INVALID, 3, "name role sha256hex");
    /* the same name twice */
    snprintf(text, sizeof text, "alice write %s\nalice read %s\n", g_hex,
             g_hex);
    write_file(text);
    expect_bad(HK_ERR_EXISTS, 2, "given twice");
}

static void test_limits(void **state)
{
    (void)state;
    char text[4096];
    size_t off = 0;
    for (int i = 0; i < 5; i++)
        off += (size_t)snprintf(text + off, sizeof text - off, "t%d read %s\n",
                                i, g_hex);
    write_file(text);
    expect_bad(HK_ERR_LIMIT, 5, "more than 4 tokens");
    /* a line longer than the parser reads is refused, not split */
    memset(text, ' ', 1500);
    snprintf(text + 1500, sizeof text - 1500, "alice write %s\n", g_hex);
    write_file(text);
    expect_bad(HK_ERR_LIMIT, 1, "longer than");
    /* an unreadable file */
    hk_token toks[1];
    size_t n = 7;
    hk_error e;
    assert_int_equal(
        hk_svc_tokens_load("/nonexistent/dir/tokens", toks, 1, &n, &e),
        HK_ERR_IO);
    assert_int_equal(n, 0);
    assert_non_null(strstr(e.message, "/nonexistent/dir/tokens"));
}

static void test_single_token(void **state)
{
    (void)state;
    hk_token t;
    hk_error e;
    assert_int_equal(hk_svc_token_parse("bob", "admin", g_hex,
                                        "environment HAKGAL_TOKEN_BOB", &t, &e),
                     HK_OK);
    assert_string_equal(t.name, "bob");
    assert_int_equal(t.role, HK_ROLE_ADMIN);
    assert_memory_equal(t.hash, g_hash, 32);
    assert_int_equal(hk_svc_token_parse("bob", "root", g_hex,
                                        "environment HAKGAL_TOKEN_BOB", &t, &e),
                     HK_ERR_INVALID);
    assert_non_null(strstr(e.message, "environment HAKGAL_TOKEN_BOB: role"));
    assert_int_equal(hk_svc_token_parse("", "read", g_hex, "here", &t, &e),
                     HK_ERR_INVALID);
    assert_false(hk_svc_token_name_valid(""));
    assert_false(hk_svc_token_name_valid("a b"));
    assert_true(hk_svc_token_name_valid("a.b-c_d@e"));

    static const hk_role roles[] = {HK_ROLE_READ, HK_ROLE_WRITE, HK_ROLE_ADMIN};
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        hk_role r = HK_ROLE_NONE;
        assert_int_equal(hk_role_parse(hk_role_name(roles[i]), &r), HK_OK);
        assert_int_equal(r, roles[i]);
    }
    hk_role r;
    assert_int_equal(hk_role_parse("none", &r), HK_ERR_INVALID);
    assert_string_equal(hk_role_name(HK_ROLE_NONE), "none");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_file),
        cmocka_unit_test(test_bad_lines),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_single_token),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
