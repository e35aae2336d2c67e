/*
 * test_server_routes.c — the REST route table and the OpenAPI document
 * agree both ways: every routed method and path is an operation of
 * /openapi.json with the table's summary, role, parameters and statuses,
 * and every operation of the document is a routed one (or one of a
 * registered prefix such as /mcp, hk_prefix_ops). Also checks the table
 * itself: no method and path twice, one {param} at most per path and a
 * path parameter documented for it, a handler for every route.
 *
 * Linked against libhakgal_server; no server runs (the document is built
 * without one and then lists every prefix operation).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "server/server_int.h"

static json_t *g_doc; /* the parsed /openapi.json */

static int setup(void **state)
{
    (void)state;
    size_t len = 0;
    const char *text = hk_openapi_json(NULL, &len);
    json_error_t je;
    g_doc = json_loadb(text, len, 0, &je);
    if (!g_doc)
        fprintf(stderr, "openapi.json: %s (line %d)\n", je.text, je.line);
    return g_doc ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    json_decref(g_doc);
    return 0;
}

static void lower(const char *in, char *out, size_t cap)
{
    size_t k = 0;
    for (; in[k] && k + 1 < cap; k++)
        out[k] = (char)tolower((unsigned char)in[k]);
    out[k] = '\0';
}

static json_t *doc_op(const char *path, const char *method)
{
    char m[16];
    lower(method, m, sizeof m);
    return json_object_get(
        json_object_get(json_object_get(g_doc, "paths"), path), m);
}

/* Is (path, lower-case method) a row of table[0..n)? */
static const hk_route *find(const hk_route *table, size_t n, const char *path,
                            const char *method)
{
    for (size_t i = 0; i < n; i++) {
        char m[16];
        lower(table[i].method, m, sizeof m);
        if (!strcmp(table[i].path, path) && !strcmp(m, method))
            return &table[i];
    }
    return NULL;
}

/* The documented operation matches its row. */
static void check_op(const hk_route *r)
{
    json_t *op = doc_op(r->path, r->method);
    if (!op)
        fail_msg("%s %s is routed but not in openapi.json", r->method, r->path);
    assert_string_equal(json_string_value(json_object_get(op, "summary")),
                        r->summary);
    char desc[160];
    snprintf(desc, sizeof desc, "Role needed when tokens are configured: %s.",
             hk_role_name(r->need));
    assert_string_equal(json_string_value(json_object_get(op, "description")),
                        desc);
    assert_int_equal(json_object_get(op, "security") != NULL,
                     r->need != HK_ROLE_NONE);
    assert_int_equal(json_object_get(op, "requestBody") != NULL,
                     r->body != NULL);
    json_t *resp = json_object_get(op, "responses");
    assert_non_null(json_object_get(resp, r->ok_status));
    size_t n_errors = 0;
    char errors[64];
    snprintf(errors, sizeof errors, "%s", r->errors);
    char *save = NULL;
    for (char *c = strtok_r(errors, " ", &save); c;
         c = strtok_r(NULL, " ", &save)) {
        assert_non_null(json_object_get(resp, c));
        n_errors++;
    }
    assert_int_equal(json_object_size(resp), n_errors + 1);
    size_t n_params = 0;
    while (n_params < HK_ROUTE_MAX_PARAMS && r->params[n_params].name)
        n_params++;
    json_t *params = json_object_get(op, "parameters");
    assert_int_equal(json_array_size(params), n_params);
    for (size_t i = 0; i < n_params; i++)
        assert_string_equal(json_string_value(json_object_get(
                                json_array_get(params, i), "name")),
                            r->params[i].name);
}

static void test_routes_are_documented(void **state)
{
    (void)state;
    assert_true(hk_n_routes > 0);
    for (size_t i = 0; i < hk_n_routes; i++) {
        const hk_route *r = &hk_routes[i];
        assert_non_null(r->fn);
        assert_non_null(r->summary);
        assert_non_null(r->ok_status);
        assert_non_null(r->errors);
        check_op(r);
    }
    for (size_t i = 0; i < hk_n_prefix_ops; i++) {
        assert_null(hk_prefix_ops[i].fn);
        check_op(&hk_prefix_ops[i]);
    }
}

static void test_documented_are_routed(void **state)
{
    (void)state;
    json_t *paths = json_object_get(g_doc, "paths");
    assert_true(json_object_size(paths) > 0);
    const char *path;
    json_t *item;
    size_t n_ops = 0;
    json_object_foreach(paths, path, item)
    {
        const char *method;
        json_t *op;
        json_object_foreach(item, method, op)
        {
            (void)op;
            n_ops++;
            if (!find(hk_routes, hk_n_routes, path, method) &&
                !find(hk_prefix_ops, hk_n_prefix_ops, path, method))
                fail_msg("%s %s is in openapi.json but not routed", method,
                         path);
        }
    }
    assert_int_equal(n_ops, hk_n_routes + hk_n_prefix_ops);
}

static void test_table_is_sound(void **state)
{
    (void)state;
    for (size_t i = 0; i < hk_n_routes; i++) {
        const hk_route *r = &hk_routes[i];
        assert_true(r->path[0] == '/');
        for (size_t j = i + 1; j < hk_n_routes; j++)
            if (!strcmp(r->method, hk_routes[j].method) &&
                !strcmp(r->path, hk_routes[j].path))
                fail_msg("%s %s is routed twice", r->method, r->path);
        const char *open = strchr(r->path, '{');
        if (!open) continue;
        const char *close = strchr(open, '}');
        assert_non_null(close);
        assert_null(strchr(close, '{')); /* one parameter at most */
        char name[32];
        size_t nl = (size_t)(close - open - 1);
        assert_true(nl > 0 && nl < sizeof name);
        memcpy(name, open + 1, nl);
        name[nl] = '\0';
        bool documented = false;
        for (size_t k = 0; k < HK_ROUTE_MAX_PARAMS && r->params[k].name; k++)
            if (!strcmp(r->params[k].name, name) &&
                !strcmp(r->params[k].in, "path") && r->params[k].required)
                documented = true;
        if (!documented)
            fail_msg("%s %s: path parameter {%s} is not documented", r->method,
                     r->path, name);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes_are_documented),
        cmocka_unit_test(test_documented_are_routed),
        cmocka_unit_test(test_table_is_sound),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
