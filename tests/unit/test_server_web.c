/*
 * test_server_web.c — loading the web explorer's directory
 * (server_web.c): which files are taken (regular files, not dot files,
 * not symbolic links, NAME.gz attached to NAME rather than served alone),
 * the errors (no index.html, a missing --web directory, too many files)
 * and --web none. Serving is tested end to end (test_web_explorer.mjs).
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

#include "server/server_int.h"

static char g_dir[512]; /* a fresh directory per test */

static void put_file(const char *rel, const char *text)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", g_dir, rel);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    const char *tmp = getenv("HK_TEST_TMP");
    if (!tmp) tmp = "/tmp";
    mkdir(tmp, 0755);
    snprintf(g_dir, sizeof g_dir, "%s/webXXXXXX", tmp);
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static hk_server *server_for(const char *web_dir)
{
    hk_server *srv = hk_calloc(1, sizeof(*srv));
    assert_non_null(srv);
    snprintf(srv->cfg.web_dir, sizeof srv->cfg.web_dir, "%s", web_dir);
    return srv;
}

static void test_loads_regular_files(void **state)
{
    (void)state;
    char p[1024];
    put_file("index.html", "<!doctype html><title>t</title>");
    snprintf(p, sizeof p, "%s/assets", g_dir);
    assert_int_equal(mkdir(p, 0755), 0);
    put_file("assets/app-1.js", "console.log(1)");
    put_file("assets/app-1.js.gz", "not really gzip");
    put_file(".hidden", "secret");
    snprintf(p, sizeof p, "%s/passwd", g_dir);
    assert_int_equal(symlink("/etc/passwd", p), 0);
    hk_server *srv = server_for(g_dir);
    hk_error err;
    hk_error_clear(&err);
    assert_int_equal(hk_web_load(srv, &err), HK_OK);
    size_t n = 0;
    const char *root = hk_web_root(srv, &n);
    assert_non_null(root);
    assert_string_equal(root, g_dir);
    assert_int_equal(n, 2); /* index.html and assets/app-1.js */
    hk_web_free(srv);
    assert_null(hk_web_root(srv, NULL));
    hk_web_free(srv); /* safe twice */
    hk_free(srv);
}

static void test_needs_index(void **state)
{
    (void)state;
    put_file("other.html", "x");
    hk_server *srv = server_for(g_dir);
    hk_error err;
    assert_int_equal(hk_web_load(srv, &err), HK_ERR_INVALID);
    assert_non_null(strstr(err.message, "index.html"));
    assert_null(srv->web);
    hk_free(srv);
}

static void test_missing_dir_and_none(void **state)
{
    (void)state;
    char p[1024];
    snprintf(p, sizeof p, "%s/nope", g_dir);
    hk_server *srv = server_for(p);
    hk_error err;
    assert_int_equal(hk_web_load(srv, &err), HK_ERR_IO);
    assert_non_null(strstr(err.message, "nope"));
    snprintf(srv->cfg.web_dir, sizeof srv->cfg.web_dir, "none");
    assert_int_equal(hk_web_load(srv, &err), HK_OK);
    assert_null(hk_web_root(srv, NULL));
    hk_free(srv);
}

static void test_too_many_files(void **state)
{
    (void)state;
    put_file("index.html", "x");
    for (int i = 0; i < 520; i++) {
        char rel[32];
        snprintf(rel, sizeof rel, "f%03d.txt", i);
        put_file(rel, "x");
    }
    hk_server *srv = server_for(g_dir);
    hk_error err;
    assert_int_equal(hk_web_load(srv, &err), HK_ERR_LIMIT);
    assert_non_null(strstr(err.message, "files"));
    assert_null(srv->web);
    hk_free(srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_loads_regular_files, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_needs_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_dir_and_none, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_too_many_files, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
