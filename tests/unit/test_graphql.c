/*
 * test_graphql.c — unit tests of src/graphql: the lexer and parser
 * (string decoding, error positions, limits), validation messages,
 * variable coercion, and execution on a real KB checked against the
 * service layer's own answers (the oracle: hk_svc_fact_jansson and
 * hk_svc_query on the same transaction).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_store_util.h"
#include "unit_skip.h"

#include "graphql/gql_int.h"
#include "llm/llm.h"
#include "service/service.h"
#include "service/svc_vector.h"

static char *g_dir;
static hk_store *g_s;

static int setup(void **state)
{
    (void)state;
    g_dir = tu_tmpdir("gql");
    g_s = tu_open(g_dir);
    hk_txn *t = tu_begin(g_s, true);
    const char *facts[][3] = {{"HasPart", "Computer", "CPU"},
                              {"HasPart", "CPU", "Core"},
                              {"IsA", "CPU", "Chip"},
                              {"HasPart", "Core", "ALU"}};
    for (size_t i = 0; i < 4; i++) {
        hk_statement st;
        memset(&st, 0, sizeof st);
        st.predicate = facts[i][0];
        st.args[0] = facts[i][1];
        st.args[1] = facts[i][2];
        st.n_args = 2;
        bool created;
        tu_add(t, st, &created);
    }
    tu_commit(t);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    hk_store_close(g_s);
    tu_rmrf(g_dir);
    free(g_dir);
    return 0;
}

/* ==== Parser ==== */

static hk_gql_doc *parse_ok(const char *src)
{
    hk_gql_doc *doc = NULL;
    hk_error err;
    hk_err rc = hk_gql_parse(src, strlen(src), 0, &doc, &err);
    if (rc != HK_OK) fail_msg("parse of %s: %s", src, err.message);
    return doc;
}

static void parse_fails(const char *src, hk_err code, uint32_t line,
                        uint32_t col)
{
    hk_gql_doc *doc = NULL;
    hk_error err;
    hk_err rc = hk_gql_parse(src, strlen(src), 0, &doc, &err);
    assert_int_equal(rc, code);
    assert_null(doc);
    if (line) {
        assert_int_equal(err.line, line);
        assert_int_equal(err.column, col);
    }
}

/* The first argument's value of the first field of the first operation. */
static const gql_value *first_arg(const hk_gql_doc *doc)
{
    return doc->ops->sel->args->value;
}

static void test_parse_strings(void **state)
{
    (void)state;
    hk_gql_doc *doc = parse_ok("{ search(q: \"a\\u00e9\\uD83D\\uDE00\\u{1F600}"
                               "\\n\\\"\\/\") { score } }");
    const gql_value *v = first_arg(doc);
    assert_int_equal(v->kind, GQL_V_STRING);
    assert_string_equal(v->s, "a\xc3\xa9\xf0\x9f\x98\x80\xf0\x9f\x98\x80\n\"/");
    hk_gql_doc_free(doc);

    /* block string: common indentation and blank edge lines removed */
    doc =
        parse_ok("{ search(q: \"\"\"\n\n    first\n      second\n    \\\"\"\"\n"
                 "  \"\"\") { score } }");
    assert_string_equal(first_arg(doc)->s, "first\n  second\n\"\"\"");
    hk_gql_doc_free(doc);

    parse_fails("{ search(q: \"bad \\x\") { score } }", HK_ERR_INVALID, 1, 13);
    parse_fails("{ search(q: \"open) { score } }", HK_ERR_INVALID, 1, 13);
    parse_fails("{ search(q: \"\\uD800\") { score } }", HK_ERR_INVALID, 1, 13);
    parse_fails("{ search(q: \"\\u0000\") { score } }", HK_ERR_INVALID, 1, 13);
}

static void test_parse_numbers_and_values(void **state)
{
    (void)state;
    hk_gql_doc *doc =
        parse_ok("{ f(a: -0, b: 1.5e3, c: [1, [true, null]], d: {x: ENUM}) }");
    const gql_arg *a = doc->ops->sel->args;
    assert_int_equal(a->value->kind, GQL_V_INT);
    assert_string_equal(a->value->s, "-0");
    assert_int_equal(a->next->value->kind, GQL_V_FLOAT);
    assert_int_equal(a->next->next->value->kind, GQL_V_LIST);
    const gql_value *d = a->next->next->next->value;
    assert_int_equal(d->kind, GQL_V_OBJECT);
    assert_string_equal(d->items->key, "x");
    assert_int_equal(d->items->kind, GQL_V_ENUM);
    hk_gql_doc_free(doc);
    parse_fails("{ f(a: 01) }", HK_ERR_INVALID, 1, 9);
    parse_fails("{ f(a: 1.) }", HK_ERR_INVALID, 1, 10);
    parse_fails("{ f(a: 1x) }", HK_ERR_INVALID, 1, 9);
}

static void test_parse_errors_and_limits(void **state)
{
    (void)state;
    parse_fails("", HK_ERR_INVALID, 1, 1);
    parse_fails("{ }", HK_ERR_INVALID, 1, 3);
    parse_fails("{\n  fact(\n}", HK_ERR_INVALID, 3, 1);
    parse_fails("query { a } }", HK_ERR_INVALID, 1, 13);
    /* columns count characters, not bytes */
    parse_fails("{ f(a: \"\xc3\xa9\xc3\xa9\") ! }", HK_ERR_INVALID, 1, 14);
    /* nesting and token limits */
    char deep[2000];
    size_t n = 0;
    for (int i = 0; i < 300; i++)
        deep[n++] = '{', deep[n++] = 'a';
    deep[n] = 0;
    hk_gql_doc *doc = NULL;
    hk_error err;
    assert_int_equal(hk_gql_parse(deep, n, 0, &doc, &err), HK_ERR_LIMIT);
    const char *many = "{ a b c d e f g h i j k }";
    assert_int_equal(hk_gql_parse(many, strlen(many), 5, &doc, &err),
                     HK_ERR_LIMIT);
    assert_null(doc);
    /* type system definitions parse but are refused by validation */
    doc = parse_ok("type Foo { a: Int } { stats }");
    assert_non_null(doc->other);
    hk_gql_doc_free(doc);
}

/* ==== Prepare: validation and variables ==== */

/* The first error message of preparing src (NULL when it prepared). */
static char *prepare_error(const char *src, const char *vars_json)
{
    json_t *vars = vars_json ? json_loads(vars_json, 0, NULL) : NULL;
    hk_gql_prepared *p = NULL;
    json_t *resp = NULL;
    assert_int_equal(
        hk_gql_prepare(src, strlen(src), NULL, vars, NULL, &p, &resp), HK_OK);
    json_decref(vars);
    if (p) {
        assert_null(resp);
        hk_gql_prepared_free(p);
        return NULL;
    }
    json_t *e = json_array_get(json_object_get(resp, "errors"), 0);
    char *msg = strdup(json_string_value(json_object_get(e, "message")));
    json_decref(resp);
    return msg;
}

static void expect_error(const char *src, const char *vars, const char *part)
{
    char *m = prepare_error(src, vars);
    if (!m) fail_msg("%s: prepared, expected \"%s\"", src, part);
    if (!strstr(m, part)) fail_msg("%s: got \"%s\", want \"%s\"", src, m, part);
    free(m);
}

static void test_validation(void **state)
{
    (void)state;
    assert_null(prepare_error("{ fact(id: 1) { id } }", NULL));
    expect_error("{ fact(id: 1) { nope } }", NULL,
                 "Cannot query field \"nope\" on type \"Fact\".");
    expect_error("{ fact { id } }", NULL, "argument \"id\" of type \"ID!\"");
    expect_error("{ fact(id: 1) }", NULL, "must have a selection");
    expect_error("{ stats { a } }", NULL, "must not have a selection");
    expect_error("{ facts(first: 9999999999) { count } }", NULL,
                 "Int cannot represent");
    expect_error("{ fact(id: 1) { ...X } }", NULL, "Unknown fragment \"X\".");
    expect_error("{ stats } fragment U on Fact { id }", NULL,
                 "Fragment \"U\" is never used.");
    expect_error("{ fact(id: 1) { ...A } } fragment A on Fact { ...B } "
                 "fragment B on Fact { ...A }",
                 NULL, "within itself");
    expect_error("query ($x: String) { fact(id: $x) { id } }", NULL,
                 "Variable \"$x\" of type \"String\"");
    expect_error("query ($x: ID) { stats }", NULL, "never used");
    expect_error("{ fact(id: $x) { id } }", NULL, "not defined");
    expect_error("{ a: stats a: fact(id: 1) { id } }", NULL, "conflict");
    expect_error("query A { stats } query A { stats }", NULL,
                 "only one operation named \"A\"");
    expect_error("{ stats @skip }", NULL, "argument \"if\"");
    expect_error("{ stats @nope }", NULL, "Unknown directive \"@nope\".");
    expect_error("type Foo { a: Int }", NULL, "not executable");
    /* variables */
    expect_error("query ($id: ID!) { fact(id: $id) { id } }", "{}",
                 "was not provided");
    expect_error("query ($n: Int) { facts(first: $n) { count } }",
                 "{\"n\": 1.5}", "Int cannot represent");
    assert_null(prepare_error("query ($n: Int = 2) { facts(first: $n) { count "
                              "} }",
                              "{}"));
    assert_null(prepare_error("mutation ($i: [FactInput!]!) { addFacts(inputs: "
                              "$i) { created } }",
                              "{\"i\": {\"statement\": \"A(b)\"}}"));
    /* limits */
    hk_gql_limits lim = {.max_depth = 2};
    const char *deep = "{ entity(name: \"a\") { facts { nodes { id } } } }";
    hk_gql_prepared *p = NULL;
    json_t *resp = NULL;
    assert_int_equal(
        hk_gql_prepare(deep, strlen(deep), NULL, NULL, &lim, &p, &resp), HK_OK);
    assert_null(p);
    assert_non_null(strstr(
        json_string_value(json_object_get(
            json_array_get(json_object_get(resp, "errors"), 0), "message")),
        "depth"));
    json_decref(resp);
}

/* ==== Execution ==== */

static json_t *run(const char *src, const char *vars_json, bool write)
{
    json_t *vars = vars_json ? json_loads(vars_json, 0, NULL) : NULL;
    hk_gql_prepared *p = NULL;
    json_t *resp = NULL;
    assert_int_equal(
        hk_gql_prepare(src, strlen(src), NULL, vars, NULL, &p, &resp), HK_OK);
    json_decref(vars);
    if (!p) fail_msg("%s: %s", src, json_dumps(resp, 0));
    hk_txn *t = tu_begin(g_s, write);
    hk_gql_env env = {.txn = t, .default_limit = 100, .max_limit = 1000};
    hk_error err;
    assert_int_equal(hk_gql_execute(p, &env, &resp, &err), HK_OK);
    if (write)
        tu_commit(t);
    else
        hk_txn_abort(t);
    hk_gql_prepared_free(p);
    return resp;
}

static hk_err collect_ids(void *ud, const hk_svc_row *row, hk_error *err)
{
    (void)err;
    char b[32];
    snprintf(b, sizeof b, "%llu", (unsigned long long)row->id);
    json_array_append_new(ud, json_string(b));
    return HK_OK;
}

static void test_execute_against_service(void **state)
{
    (void)state;
    /* fact(id): the service's JSON with the id as a string */
    json_t *r = run("{ fact(id: 2) { id statement predicate args confidence "
                    "source tags context created updated } }",
                    NULL, false);
    hk_txn *t = tu_begin(g_s, false);
    hk_fact f;
    hk_fact_init(&f);
    hk_error err;
    assert_int_equal(hk_svc_fact_get(t, 2, &f, &err), HK_OK);
    json_t *want = hk_svc_fact_jansson(&f);
    json_object_set_new(want, "id", json_string("2"));
    assert_true(
        json_equal(json_object_get(json_object_get(r, "data"), "fact"), want));
    json_decref(want);
    hk_fact_release(&f);
    json_decref(r);

    /* facts by predicate: the same ids as hk_svc_query, in order */
    json_t *ids = json_array();
    hk_svc_query_req qr;
    memset(&qr, 0, sizeof qr);
    qr.scan = (hk_scan)HK_SCAN_INIT;
    qr.scan.predicate = "HasPart";
    qr.row = collect_ids;
    qr.row_ud = ids;
    hk_svc_query_res res;
    assert_int_equal(hk_svc_query(t, &qr, &res, &err), HK_OK);
    hk_svc_query_res_free(&res);
    hk_txn_abort(t);
    r = run("{ facts(predicate: \"HasPart\") { nodes { id } count } }", NULL,
            false);
    json_t *conn = json_object_get(json_object_get(r, "data"), "facts");
    json_t *got = json_array();
    size_t i;
    json_t *n;
    json_array_foreach(json_object_get(conn, "nodes"), i, n)
        json_array_append(got, json_object_get(n, "id"));
    assert_true(json_equal(got, ids));
    assert_int_equal(json_integer_value(json_object_get(conn, "count")), 3);
    json_decref(got);
    json_decref(ids);
    json_decref(r);

    /* aliases, fragments, directives, __typename */
    r = run("query ($no: Boolean!) { a: fact(id: 1) { ...F k: id @skip(if: "
            "$no) } __typename } fragment F on Fact { __typename predicate }",
            "{\"no\": true}", false);
    json_t *a = json_object_get(json_object_get(r, "data"), "a");
    assert_string_equal(json_string_value(json_object_get(a, "__typename")),
                        "Fact");
    assert_null(json_object_get(a, "k"));
    assert_string_equal(json_string_value(json_object_get(a, "predicate")),
                        "HasPart");
    json_decref(r);

    /* a field error: null, with path and location */
    r = run("{ ok: stats\n  bad: fact(id: \"zero\") { id } }", NULL, false);
    json_t *e = json_array_get(json_object_get(r, "errors"), 0);
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(e, "path"), 0)),
        "bad");
    json_t *loc = json_array_get(json_object_get(e, "locations"), 0);
    assert_int_equal(json_integer_value(json_object_get(loc, "line")), 2);
    assert_int_equal(json_integer_value(json_object_get(loc, "column")), 3);
    assert_true(
        json_is_null(json_object_get(json_object_get(r, "data"), "bad")));
    json_decref(r);

    /* introspection lists every field of the table */
    r = run("{ __type(name: \"Fact\") { fields { name } } }", NULL, false);
    json_t *fields = json_object_get(
        json_object_get(json_object_get(r, "data"), "__type"), "fields");
    size_t n_fields = 0;
    for (const gql_field *fd = gql_schema_type("Fact")->fields; fd->name; fd++)
        n_fields++;
    assert_int_equal(json_array_size(fields), n_fields);
    json_decref(r);
}

static void test_mutations(void **state)
{
    (void)state;
    json_t *r = run("mutation { a: addFact(input: {statement: \"New(x)\", "
                    "tags: [\"t\"]}) { created fact { id tags } } }",
                    NULL, true);
    json_t *a = json_object_get(json_object_get(r, "data"), "a");
    assert_true(json_is_true(json_object_get(a, "created")));
    const char *id =
        json_string_value(json_object_get(json_object_get(a, "fact"), "id"));
    uint64_t fid;
    assert_true(hk_svc_parse_positive(id, &fid));
    json_decref(r);
    hk_txn *t = tu_begin(g_s, false);
    hk_fact f;
    hk_fact_init(&f);
    hk_error err;
    assert_int_equal(hk_svc_fact_get(t, fid, &f, &err), HK_OK);
    assert_string_equal(f.st.predicate, "New");
    hk_fact_release(&f);
    hk_txn_abort(t);

    /* writes only in mutations: a query cannot reach them (validation),
     * and a failed field leaves the others' results */
    r = run("mutation { ok: deleteFact(id: 1) { deleted } again: "
            "deleteFact(id: 1) { deleted } }",
            NULL, true);
    assert_true(json_is_null(json_object_get(r, "data")));
    json_t *e = json_array_get(json_object_get(r, "errors"), 0);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(e, "extensions"), "code")),
                        "NOT_FOUND");
    json_decref(r);
    t = tu_begin(g_s, false);
    hk_fact_init(&f);
    assert_int_equal(hk_svc_fact_get(t, 1, &f, &err), HK_ERR_NOT_FOUND);
    hk_fact_release(&f);
    hk_txn_abort(t);
}

/* Facts are completed from their REST JSON text (raw objects): values
 * with escapes, null members, context objects and tags come out as
 * hk_svc_fact_jansson has them, under aliases and fragments too. */
static void test_raw_fact_values(void **state)
{
    (void)state;
    json_t *r = run("mutation { addFact(input: {predicate: \"Says\", args: "
                    "[\"Bob\", \"he said \\\"hi\\\" \\\\ Z\u00fcrich\"], "
                    "confidence: 0.25, source: \"s\\\"rc\", tags: [\"a\", "
                    "\"b,c\"], context: {k: [1, {x: \"}\"}]}}) "
                    "{ fact { id } } }",
                    NULL, true);
    const char *id = json_string_value(json_object_get(
        json_object_get(json_object_get(json_object_get(r, "data"), "addFact"),
                        "fact"),
        "id"));
    assert_non_null(id);
    char q[400];
    snprintf(q, sizeof q,
             "{ fact(id: %s) { ...F x: args c: context } } fragment F on Fact "
             "{ id statement predicate args confidence source tags context "
             "created updated }",
             id);
    json_t *g = run(q, NULL, false);
    hk_txn *t = tu_begin(g_s, false);
    hk_fact f;
    hk_fact_init(&f);
    hk_error err;
    assert_int_equal(hk_svc_fact_get(t, (hk_fact_id)atoll(id), &f, &err),
                     HK_OK);
    json_t *want = hk_svc_fact_jansson(&f);
    json_object_set_new(want, "id", json_string(id));
    json_object_set(want, "x", json_object_get(want, "args"));
    json_object_set(want, "c", json_object_get(want, "context"));
    json_t *got = json_object_get(json_object_get(g, "data"), "fact");
    if (!json_equal(got, want))
        fail_msg("got %s want %s", json_dumps(got, JSON_SORT_KEYS),
                 json_dumps(want, JSON_SORT_KEYS));
    json_decref(want);
    hk_fact_release(&f);
    hk_txn_abort(t);
    json_decref(g);
    json_decref(r);

    /* a fact without source or context: null members */
    g = run("{ fact(id: 2) { source context tags } }", NULL, false);
    json_t *fj = json_object_get(json_object_get(g, "data"), "fact");
    assert_true(json_is_null(json_object_get(fj, "source")));
    assert_true(json_is_null(json_object_get(fj, "context")));
    assert_int_equal(json_array_size(json_object_get(fj, "tags")), 0);
    json_decref(g);
}

/* Validated documents are kept by text: a second prepare of the same
 * text answers the same, and clearing the cache while a request holds
 * its document leaves that request valid. */
static void test_document_cache(void **state)
{
    (void)state;
    const char *q = "query ($p: String) { facts(predicate: $p) { count } }";
    hk_gql_prepared *p1 = NULL, *p2 = NULL;
    json_t *resp = NULL;
    json_t *v1 = json_pack("{s:s}", "p", "HasPart");
    json_t *v2 = json_pack("{s:s}", "p", "IsA");
    assert_int_equal(hk_gql_prepare(q, strlen(q), NULL, v1, NULL, &p1, &resp),
                     HK_OK);
    assert_int_equal(hk_gql_prepare(q, strlen(q), NULL, v2, NULL, &p2, &resp),
                     HK_OK);
    assert_non_null(p1);
    assert_non_null(p2);
    hk_gql_cache_clear();
    hk_txn *t = tu_begin(g_s, false);
    hk_gql_env env = {.txn = t, .default_limit = 100, .max_limit = 1000};
    hk_error err;
    json_t *a = NULL, *b = NULL;
    assert_int_equal(hk_gql_execute(p1, &env, &a, &err), HK_OK);
    assert_int_equal(hk_gql_execute(p2, &env, &b, &err), HK_OK);
    hk_txn_abort(t);
    assert_int_equal(
        json_integer_value(json_object_get(
            json_object_get(json_object_get(a, "data"), "facts"), "count")),
        2); /* test_mutations deleted fact 1 */
    assert_int_equal(
        json_integer_value(json_object_get(
            json_object_get(json_object_get(b, "data"), "facts"), "count")),
        1);
    hk_gql_prepared_free(p1);
    hk_gql_prepared_free(p2);
    json_decref(a);
    json_decref(b);
    json_decref(v1);
    json_decref(v2);
    /* an invalid document is answered the same every time (not kept) */
    const char *bad = "{ fact(id: 1) { nope } }";
    for (int i = 0; i < 2; i++) {
        hk_gql_prepared *p = NULL;
        assert_int_equal(
            hk_gql_prepare(bad, strlen(bad), NULL, NULL, NULL, &p, &resp),
            HK_OK);
        assert_null(p);
        assert_non_null(json_object_get(resp, "errors"));
        json_decref(resp);
    }
}

/* The review queue: proposals listed as the service has them, a
 * decision needs the reviewer role, approval with an edit adds the
 * edited fact. */
static json_t *run_as(const char *src, hk_role role)
{
    hk_gql_prepared *p = NULL;
    json_t *resp = NULL;
    assert_int_equal(
        hk_gql_prepare(src, strlen(src), NULL, NULL, NULL, &p, &resp), HK_OK);
    if (!p) fail_msg("%s: %s", src, json_dumps(resp, 0));
    hk_txn *t = tu_begin(g_s, true);
    hk_gql_env env = {.txn = t,
                      .store = g_s,
                      .role = role,
                      .actor = "carol",
                      .default_limit = 100,
                      .max_limit = 1000};
    hk_error err;
    assert_int_equal(hk_gql_execute(p, &env, &resp, &err), HK_OK);
    tu_commit(t);
    hk_gql_prepared_free(p);
    return resp;
}

static void test_review(void **state)
{
    (void)state;
    hk_error err;
    assert_int_equal(hk_llm_attach(g_s, &err), HK_OK);
    hk_llm_proposal in[2];
    memset(in, 0, sizeof in);
    in[0].statement = "Proposed(a)";
    in[0].origin = "extract";
    in[0].model = "m";
    in[1].statement = "Proposed(b)";
    in[1].origin = "extract";
    uint64_t ids[2];
    hk_llm_enqueue_arg ea = {g_s, in, 2, ids};
    hk_txn *t = tu_begin(g_s, true);
    assert_int_equal(hk_llm_enqueue_apply(t, &ea, &err), HK_OK);
    tu_commit(t);

    json_t *r = run_as("{ review(first: 1) { nodes { id statement model "
                       "origin status } pageInfo { hasNextPage endCursor } } }",
                       HK_ROLE_READ);
    json_t *rv = json_object_get(json_object_get(r, "data"), "review");
    json_t *n0 = json_array_get(json_object_get(rv, "nodes"), 0);
    assert_string_equal(json_string_value(json_object_get(n0, "statement")),
                        "Proposed(a)");
    assert_string_equal(json_string_value(json_object_get(n0, "model")), "m");
    assert_true(json_is_true(
        json_object_get(json_object_get(rv, "pageInfo"), "hasNextPage")));
    json_decref(r);

    char q[200];
    snprintf(q, sizeof q, "mutation { rejectProposal(id: %llu) { status } }",
             (unsigned long long)ids[1]);
    r = run_as(q, HK_ROLE_WRITE);
    json_t *e = json_array_get(json_object_get(r, "errors"), 0);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(e, "extensions"), "code")),
                        "FORBIDDEN");
    json_decref(r);

    snprintf(q, sizeof q,
             "mutation { approveProposal(id: %llu, statement: "
             "\"Proposed(c)\", note: \"edited\") { id status fact created "
             "reviewer } }",
             (unsigned long long)ids[0]);
    r = run_as(q, HK_ROLE_REVIEW);
    json_t *d = json_object_get(json_object_get(r, "data"), "approveProposal");
    assert_non_null(d);
    assert_string_equal(json_string_value(json_object_get(d, "status")),
                        "approved");
    assert_string_equal(json_string_value(json_object_get(d, "reviewer")),
                        "carol");
    assert_true(json_is_true(json_object_get(d, "created")));
    snprintf(q, sizeof q, "{ fact(id: %s) { statement } }",
             json_string_value(json_object_get(d, "fact")));
    json_t *f = run(q, NULL, false);
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(f, "data"), "fact"), "statement")),
        "Proposed(c)");
    json_decref(f);
    json_decref(r);

    snprintf(q, sizeof q, "mutation { rejectProposal(id: %llu) { status } }",
             (unsigned long long)ids[1]);
    r = run_as(q, HK_ROLE_ADMIN);
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(r, "data"), "rejectProposal"),
            "status")),
        "rejected");
    json_decref(r);
    r = run_as("{ review(status: \"all\") { count nodes { status "
               "finalStatement reviewer } } }",
               HK_ROLE_READ);
    rv = json_object_get(json_object_get(r, "data"), "review");
    assert_int_equal(json_integer_value(json_object_get(rv, "count")), 2);
    n0 = json_array_get(json_object_get(rv, "nodes"), 0);
    assert_string_equal(
        json_string_value(json_object_get(n0, "finalStatement")),
        "Proposed(c)");
    json_decref(r);
}

/* Vector search: spaces as the service lists them, similar hits equal
 * hk_svc_vsimilar's on the same KB, dropping needs the admin role. */
static json_t *run_vs(const char *src, hkv_store *vs, hk_role role, bool write)
{
    hk_gql_prepared *p = NULL;
    json_t *resp = NULL;
    assert_int_equal(
        hk_gql_prepare(src, strlen(src), NULL, NULL, NULL, &p, &resp), HK_OK);
    if (!p) fail_msg("%s: %s", src, json_dumps(resp, 0));
    hk_txn *t = tu_begin(g_s, write);
    hk_gql_env env = {.txn = t,
                      .store = g_s,
                      .vs = vs,
                      .role = role,
                      .default_limit = 100,
                      .max_limit = 1000};
    hk_error err;
    assert_int_equal(hk_gql_execute(p, &env, &resp, &err), HK_OK);
    if (write)
        tu_commit(t);
    else
        hk_txn_abort(t);
    hk_gql_prepared_free(p);
    return resp;
}

static const char *err_code(json_t *resp)
{
    return json_string_value(json_object_get(
        json_object_get(json_array_get(json_object_get(resp, "errors"), 0),
                        "extensions"),
        "code"));
}

static void test_vectors(void **state)
{
    (void)state;
    hkv_store *vs = NULL;
    hk_error err;
    assert_int_equal(hkv_store_attach(g_s, &vs, &err), HK_OK);
    json_t *r = run_vs("mutation { createVectorSpace(name: \"u\", dim: 32, "
                       "embedder: \"hashed\") { name dim embedder vectors } }",
                       vs, HK_ROLE_WRITE, true);
    json_t *sp =
        json_object_get(json_object_get(r, "data"), "createVectorSpace");
    assert_string_equal(json_string_value(json_object_get(sp, "name")), "u");
    assert_int_equal(json_integer_value(json_object_get(sp, "dim")), 32);
    json_decref(r);
    hk_svc_embed_arg ea = {.vs = vs, .space = "u"};
    hk_txn *t = tu_begin(g_s, true);
    assert_int_equal(hk_svc_embed_apply(t, &ea, &err), HK_OK);
    tu_commit(t);
    assert_true(ea.embedded > 0);

    /* the list as the service has it */
    r = run_vs("{ vectorSpaces { name vectors } }", vs, 0, false);
    json_t *l = json_object_get(json_object_get(r, "data"), "vectorSpaces");
    assert_int_equal(json_array_size(l), 1);
    assert_int_equal(
        json_integer_value(json_object_get(json_array_get(l, 0), "vectors")),
        (json_int_t)ea.embedded);
    json_decref(r);

    /* similar: the service's hits, in order */
    r = run_vs("{ similar(space: \"u\", text: \"CPU Core\", k: 3) "
               "{ hits { id statement score } exact indexed } }",
               vs, 0, false);
    json_t *hits = json_object_get(
        json_object_get(json_object_get(r, "data"), "similar"), "hits");
    hk_svc_vsimilar_req q = {.space = "u", .text = "CPU Core", .k = 3};
    hk_svc_vsimilar_res res;
    memset(&res, 0, sizeof res);
    t = tu_begin(g_s, false);
    assert_int_equal(hk_svc_vsimilar(vs, t, &q, &res, &err), HK_OK);
    hk_txn_abort(t);
    assert_true(res.n_hits > 0);
    assert_int_equal(json_array_size(hits), res.n_hits);
    for (size_t i = 0; i < res.n_hits; i++) {
        json_t *h = json_array_get(hits, i);
        char id[32];
        snprintf(id, sizeof id, "%llu", (unsigned long long)res.hits[i].id);
        assert_string_equal(json_string_value(json_object_get(h, "id")), id);
        assert_string_equal(json_string_value(json_object_get(h, "statement")),
                            res.hits[i].statement);
        assert_true(json_real_value(json_object_get(h, "score")) ==
                    res.hits[i].score);
    }
    hk_svc_vsimilar_res_free(&res);
    json_decref(r);

    r = run_vs("{ similar(space: \"u\") { exact } }", vs, 0, false);
    assert_non_null(json_object_get(r, "errors"));
    json_decref(r);

    /* dropping needs the admin role */
    r = run_vs("mutation { dropVectorSpace(name: \"u\") { dropped } }", vs,
               HK_ROLE_WRITE, true);
    assert_string_equal(err_code(r), "FORBIDDEN");
    json_decref(r);
    r = run_vs("mutation { dropVectorSpace(name: \"u\") { dropped } }", vs,
               HK_ROLE_ADMIN, true);
    assert_true(json_is_true(json_object_get(
        json_object_get(json_object_get(r, "data"), "dropVectorSpace"),
        "dropped")));
    json_decref(r);
    r = run_vs("{ vectorSpaces { name } }", vs, 0, false);
    assert_int_equal(json_array_size(json_object_get(json_object_get(r, "data"),
                                                     "vectorSpaces")),
                     0);
    json_decref(r);
    hkv_store_detach(vs);
}

/* Which queries a server runs off its event loop: similar anywhere at
 * the root (fragments too), search with a mode other than "text". */
static void test_blocking(void **state)
{
    (void)state;
    static const struct {
        const char *q;
        bool blocks;
    } cases[] = {
        {"{ stats }", false},
        {"{ similar(space: \"g\", text: \"x\") { space } }", true},
        {"{ a: stats s: similar(space: \"g\", text: \"x\") { space } }", true},
        {"{ search(q: \"x\") { score } }", false},
        {"{ search(q: \"x\", mode: \"text\") { score } }", false},
        {"{ search(q: \"x\", mode: \"vector\") { score } }", true},
        {"query ($m: String) { search(q: \"x\", mode: $m) { score } }", true},
        {"{ ...F } fragment F on Query { similar(space: \"g\", text: \"x\") "
         "{ space } }",
         true},
        {"{ ... on Query { search(q: \"x\", mode: \"hybrid\") { score } } }",
         true},
        {"{ ...F } fragment F on Query { stats }", false},
        {"mutation { deleteFact(id: 1) { id } }", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        hk_gql_prepared *p = NULL;
        json_t *resp = NULL;
        assert_int_equal(hk_gql_prepare(cases[i].q, strlen(cases[i].q), NULL,
                                        NULL, NULL, &p, &resp),
                         HK_OK);
        if (!p) fail_msg("%s: %s", cases[i].q, json_dumps(resp, 0));
        if (hk_gql_prepared_blocking(p) != cases[i].blocks)
            fail_msg("%s: blocking should be %d", cases[i].q, cases[i].blocks);
        hk_gql_prepared_free(p);
    }
}

static void test_sdl(void **state)
{
    (void)state;
    const char *sdl = hk_gql_sdl();
    assert_non_null(strstr(sdl, "type Fact {"));
    assert_non_null(strstr(sdl, "input FactInput {"));
    assert_non_null(strstr(sdl, "scalar JSON"));
    assert_null(strstr(sdl, "__Type"));
    /* the SDL parses as a document (type definitions, not executable) */
    hk_gql_doc *doc = parse_ok(sdl);
    assert_non_null(doc->other);
    hk_gql_doc_free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_strings),
        cmocka_unit_test(test_parse_numbers_and_values),
        cmocka_unit_test(test_parse_errors_and_limits),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_execute_against_service),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_raw_fact_values),
        cmocka_unit_test(test_document_cache),
        cmocka_unit_test(test_review),
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_blocking),
        cmocka_unit_test(test_sdl),
    };
    return tu_exit(cmocka_run_group_tests(tests, setup, teardown));
}
