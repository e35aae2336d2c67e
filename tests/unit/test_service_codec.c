/*
 * test_service_codec.c — the service layer's JSON fact input parser
 * (hk_svc_fact_in_*) and error renderer.
 *
 * Every branch that refuses input is reached by one row of a table: the
 * input, the rules (strict or legacy, limits), and what must come back
 * (code, fault, field, a piece of the message). Accepted inputs are
 * checked field by field, including the legacy leniencies (null as
 * absent, numbers as arguments, one tag as a string, contexts that are
 * not objects, fact_metadata merging) and the allocation failure paths.
 * JSON texts are written with ' for " to keep them readable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/mem.h"
#include "service/service.h"

/* ==== Helpers ==== */

/* Parses text (with ' for ") as JSON; caller decrefs. */
static json_t *js(const char *text)
{
    char *t = strdup(text);
    assert_non_null(t);
    for (char *p = t; *p; p++)
        if (*p == '\'') *p = '"';
    json_error_t je;
    json_t *v = json_loads(t, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (v == NULL) fail_msg("bad test JSON %s: %s", t, je.text);
    free(t);
    return v;
}

static const hk_svc_fact_in_opts strict = {.need_statement = true};
static const hk_svc_fact_in_opts legacy = {.need_statement = true,
                                           .legacy = true};

static hk_err parse(const char *text, const hk_svc_fact_in_opts *o,
                    hk_svc_fact_in *in, hk_error *err)
{
    json_t *v = js(text);
    hk_err rc = hk_svc_fact_in_parse(v, o, in, err);
    json_decref(v); /* in keeps its own reference */
    return rc;
}

/* ==== Refusals: one row per branch ==== */

enum { STRICT, LEGACY, STRING_OK, META_ONLY, LIMITS };

typedef struct bad_case {
    int rules;          /* which options */
    const char *json;   /* input, ' for " */
    hk_err code;        /* expected return */
    hk_svc_fault fault; /* expected kind */
    const char *field;  /* expected err.field */
    const char *why;    /* expected piece of the message */
} bad_case;

static const bad_case bad_cases[] = {
    /* body */
    {STRICT, "[1]", HK_ERR_INVALID, HK_SVC_FAULT_VALUE, "body",
     "expected a JSON object"},
    {STRICT, "'A(b)'", HK_ERR_INVALID, HK_SVC_FAULT_VALUE, "body",
     "expected a JSON object"},
    {STRING_OK, "7", HK_ERR_INVALID, HK_SVC_FAULT_VALUE, "body",
     "or a statement string"},
    {LEGACY, "'x'", HK_ERR_INVALID, HK_SVC_FAULT_VALUE, "body",
     "expected a JSON object"},
    /* statement text */
    {STRICT, "{'statement': 42}", HK_ERR_INVALID, HK_SVC_FAULT_VALUE,
     "statement", "expected a string"},
    {LEGACY, "{'statement': 42}", HK_ERR_INVALID, HK_SVC_FAULT_VALUE,
     "statement", "expected a string"},
    {STRICT, "{'statement': 'A(b'}", HK_ERR_INVALID, HK_SVC_FAULT_SYNTAX,
     "statement", ""},
    {STRING_OK, "'A(b'", HK_ERR_INVALID, HK_SVC_FAULT_SYNTAX, "statement", ""},
    {LIMITS, "{'statement': 'Abcdefgh(ijklmnop)'}", HK_ERR_LIMIT,
     HK_SVC_FAULT_TOO_LONG, "statement", "over the limit of 16"},
    {LIMITS, "{'statement': 'A(b, c, d)'}", HK_ERR_LIMIT, HK_SVC_FAULT_VALUE,
     "args", "max-args is 2"},
    {STRICT, "{'statement': 'A(b)', 'predicate': 'A'}", HK_ERR_INVALID,
     HK_SVC_FAULT_VALUE, "statement", "not both"},
    /* content missing */
    {STRICT, "{'source': 'x'}", HK_ERR_INVALID, HK_SVC_FAULT_VALUE, "statement",
     "missing"},
    {LEGACY, "{'statement': null}", HK_ERR_INVALID, HK_SVC_FAULT_VALUE,
     "statement", "missing"},
    /* predicate and arguments */
    {STRICT, "{'predicate': 5, 'args': ['a']}", HK_ERR_INVALID,
     HK_SVC_FAULT_VALUE, "predicate", "expected a string"},
    {STRICT, "{'predicate': 'A\\u0000B', 'args': ['a']}", HK_ERR_INVALID,
     HK_SVC_FAULT_VALUE, "predicate", "NUL"},
    {STRICT, "{'predicate': 'A', 'args': ['a'], 'subject': 'x'}",
     HK_ERR_INVALID, HK_SVC_FAULT_VALUE, "args", "not both"},
    {STRICT, "{'predicate': 'A', 'args': 'a'}", HK_ERR_INVALID,
     HK_SVC_FAULT_VALUE, "args", "expected an array"},
    {STRICT, "{'predicate': 'A', 'args': []}", HK_ERR_INVALID,
     HK_SVC_FAULT_VALUE, "args", "0 arguments"},
    {STRICT,
     "{'predicate': 'A', 'args': ['1','2','3','4','5','6','7','8','9','10',"
     "'11','12','13','14','15','16','17','18','19','20','21','22','23','24',"
     "'25','26','27','28','29','30','31','32','33']}",
     HK_ERR_INVALID, HK_SVC_FAULT_VALUE, "args", "33 arguments"},
    {STRICT, "{'predicate': 'A', 'args': ['x', 3]}", HK_ERR_INVALID,
     HK_SVC_FAULT_VALUE, "args[1]", "expected a string"},
    {LEGACY, "{'predicate': 'A', 'args': ['x', {}]}", HK_ERR_INVALID,
     HK_SVC_FAULT_VALUE, "args[1]", "a string or a number"},
    {STRICT, "{'predicate': 'A', 'args': ['x', 'a\\u0000b']}", HK_ERR_INVALID,
     HK_SVC_FAULT_VALUE, "args[1]", "NUL"},
    {STRICT, "{'predicate': 'A'}", HK_ERR_INVALID, HK_SVC_FAULT_VALUE, "args",
     "missing"},
    {LEGACY, "{'predicate': 'A', 'subject': 'x'}", HK_ERR_INVALID,
     HK_SVC_FAULT_VALUE, "args", "missing"},
    {STRICT, "{'predicate': 'A', 'subject': 1}", HK_ERR_INVALID,
     HK_SVC_FAULT_VALUE, "subject", "expected a string"},
    {STRICT, "{'predicate': 'A', 'subject': 'x', 'object': false}",
     HK_ERR_INVALID, HK_SVC_FAULT_VALUE, "object", "expected a string"},
    {STRICT, "{'predicate': 'A', 'subject': 'x\\u0000'}", HK_ERR_INVALID,
     HK_SVC_FAULT_VALUE, "subject", "NUL"},
    {LEGACY, "{'predicate': 'A', 'subject': 'x', 'object': []}", HK_ERR_INVALID,
     HK_SVC_FAULT_VALUE, "args[1]", "a string or a number"},
    {STRICT, "{'predicate': '9bad', 'args': ['x']}", HK_ERR_INVALID,
     HK_SVC_FAULT_SYNTAX, "predicate", "a predicate is a letter"},
    {STRICT, "{'predicate': 'A', 'args': ['x', '']}", HK_ERR_INVALID,
     HK_SVC_FAULT_SYNTAX, "args[1]", ""},
    /* confidence */
    {STRICT, "{'statement': 'A(b)', 'confidence': 'x'}", HK_ERR_INVALID,
     HK_SVC_FAULT_VALUE, "confidence", "expected a number in 0..1"},
    {STRICT, "{'statement': 'A(b)', 'confidence': null}", HK_ERR_INVALID,
     HK_SVC_FAULT_VALUE, "confidence", "expected a number"},
    {STRICT, "{'statement': 'A(b)', 'confidence': 1.5}", HK_ERR_INVALID,
     HK_SVC_FAULT_VALUE, "confidence", "1.5 is outside 0..1"},
    {LEGACY, "{'statement': 'A(b)', 'confidence': -0.25}", HK_ERR_INVALID,
     HK_SVC_FAULT_VALUE, "confidence", "-0.25 is outside 0..1"},
    /* times (legacy only) */
    {LEGACY, "{'statement': 'A(b)', 'created': -1}", HK_ERR_INVALID,
     HK_SVC_FAULT_VALUE, "created", "outside 1970..9999"},
    {LEGACY, "{'statement': 'A(b)', 'created': 253402300800}", HK_ERR_INVALID,
     HK_SVC_FAULT_VALUE, "created", "outside 1970..9999"},
    {LEGACY, "{'statement': 'A(b)', 'created': true}", HK_ERR_INVALID,
     HK_SVC_FAULT_VALUE, "created", "RFC 3339"},
    {LEGACY, "{'statement': 'A(b)', 'created': 'yesterday'}", HK_ERR_INVALID,
     HK_SVC_FAULT_VALUE, "created", ""},
    {LEGACY, "{'statement': 'A(b)', 'created': '1969-12-31T23:59:59Z'}",
     HK_ERR_INVALID, HK_SVC_FAULT_VALUE, "created", "before 1970"},
    {LEGACY, "{'statement': 'A(b)', 'created': 10, 'updated': 'nope'}",
     HK_ERR_INVALID, HK_SVC_FAULT_VALUE, "updated", ""},
    {LEGACY, "{'statement': 'A(b)', 'updated': 10}", HK_ERR_INVALID,
     HK_SVC_FAULT_VALUE, "updated", "needs \"created\""},
    {LEGACY, "{'statement': 'A(b)', 'created': 10, 'updated': 5}",
     HK_ERR_INVALID, HK_SVC_FAULT_VALUE, "updated", "precedes"},
    /* source */
    {STRICT, "{'statement': 'A(b)', 'source': []}", HK_ERR_INVALID,
     HK_SVC_FAULT_VALUE, "source", "a string or null"},
    {LEGACY, "{'statement': 'A(b)', 'source': 3}", HK_ERR_INVALID,
     HK_SVC_FAULT_VALUE, "source", "expected a string"},
    {STRICT, "{'statement': 'A(b)', 'source': 'a\\u0000b'}", HK_ERR_INVALID,
     HK_SVC_FAULT_VALUE, "source", "NUL"},
    /* tags */
    {STRICT, "{'statement': 'A(b)', 'tags': 'x'}", HK_ERR_INVALID,
     HK_SVC_FAULT_VALUE, "tags", "expected an array of strings"},
    {STRICT, "{'statement': 'A(b)', 'tags': null}", HK_ERR_INVALID,
     HK_SVC_FAULT_VALUE, "tags", "expected an array of strings"},
    {STRICT, "{'statement': 'A(b)', 'tags': [1]}", HK_ERR_INVALID,
     HK_SVC_FAULT_VALUE, "tags[0]", "not a string"},
    {STRICT, "{'statement': 'A(b)', 'tags': ['a', '']}", HK_ERR_INVALID,
     HK_SVC_FAULT_VALUE, "tags[1]", "0 bytes"},
    {STRICT, "{'statement': 'A(b)', 'tags': ['a\\u0000']}", HK_ERR_INVALID,
     HK_SVC_FAULT_VALUE, "tags[0]", "NUL"},
    {LEGACY, "{'statement': 'A(b)', 'tags': ''}", HK_ERR_INVALID,
     HK_SVC_FAULT_VALUE, "tags[0]", "0 bytes"},
    {LEGACY, "{'statement': 'A(b)', 'tags': {}}", HK_ERR_INVALID,
     HK_SVC_FAULT_VALUE, "tags", "expected an array"},
    {STRICT,
     "{'statement': 'A(b)', 'tags': ['t','t','t','t','t','t','t','t','t','t',"
     "'t','t','t','t','t','t','t','t','t','t','t','t','t','t','t','t','t','t',"
     "'t','t','t','t','t']}",
     HK_ERR_INVALID, HK_SVC_FAULT_VALUE, "tags", "33 tags"},
    /* context */
    {STRICT, "{'statement': 'A(b)', 'context': 'x'}", HK_ERR_INVALID,
     HK_SVC_FAULT_VALUE, "context", "an object or null"},
    {STRICT, "{'statement': 'A(b)', 'context': [1]}", HK_ERR_INVALID,
     HK_SVC_FAULT_VALUE, "context", "an object or null"},
};

static hk_svc_fact_in_opts rules(int r)
{
    hk_svc_fact_in_opts o = strict;
    if (r == LEGACY) o = legacy;
    if (r == STRING_OK) o.allow_string = true;
    if (r == META_ONLY) o.need_statement = false;
    if (r == LIMITS) {
        o.max_statement = 16;
        o.max_args = 2;
    }
    return o;
}

static void test_refusals(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case *bc = &bad_cases[i];
        hk_svc_fact_in_opts o = rules(bc->rules);
        hk_svc_fact_in in;
        hk_error err;
        hk_err rc = parse(bc->json, &o, &in, &err);
        if (rc != bc->code || in.fault != bc->fault ||
            strcmp(err.field, bc->field) != 0 ||
            strstr(err.message, bc->why) == NULL)
            fail_msg("case %zu %s: rc %d fault %d field '%s' message '%s'", i,
                     bc->json, rc, in.fault, err.field, err.message);
        assert_int_equal(err.code, rc);
        /* Errors of one field read 'field "NAME": why' (the body as a
         * whole has no field to name in its message). */
        if (in.fault != HK_SVC_FAULT_SYNTAX && err.field[0] != '\0' &&
            strcmp(err.field, "body") != 0)
            assert_memory_equal(err.message, "field \"", 7);
        /* Statement text errors say where. */
        if (in.fault == HK_SVC_FAULT_SYNTAX && strstr(bc->json, "A(b'"))
            assert_true(err.column > 0);
        hk_svc_fact_in_release(&in);
    }
}

/* A context over HK_MAX_CONTEXT_BYTES, in both rule sets. */
static void test_context_too_large(void **state)
{
    (void)state;
    size_t n = HK_MAX_CONTEXT_BYTES + 10;
    char *big = malloc(n + 1);
    assert_non_null(big);
    memset(big, 'x', n);
    big[n] = '\0';
    for (int r = 0; r < 2; r++) {
        json_t *v = json_pack("{s:s, s:{s:s}}", "statement", "A(b)", "context",
                              "k", big);
        assert_non_null(v);
        hk_svc_fact_in in;
        hk_error err;
        hk_svc_fact_in_opts o = r ? legacy : strict;
        assert_int_equal(hk_svc_fact_in_parse(v, &o, &in, &err),
                         HK_ERR_INVALID);
        assert_int_equal(in.fault, HK_SVC_FAULT_VALUE);
        assert_string_equal(err.field, "context");
        assert_non_null(strstr(err.message, "bytes of JSON"));
        hk_svc_fact_in_release(&in);
        json_decref(v);
    }
    free(big);
}

/* A source over HK_MAX_SOURCE_BYTES. */
static void test_source_too_long(void **state)
{
    (void)state;
    char big[HK_MAX_SOURCE_BYTES + 2];
    memset(big, 's', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    json_t *v = json_pack("{s:s, s:s}", "statement", "A(b)", "source", big);
    hk_svc_fact_in in;
    hk_error err;
    assert_int_equal(hk_svc_fact_in_parse(v, &strict, &in, &err),
                     HK_ERR_INVALID);
    assert_string_equal(err.field, "source");
    assert_non_null(strstr(err.message, "at most 1024"));
    hk_svc_fact_in_release(&in);
    json_decref(v);
}

/* A tag over HK_MAX_TAG_BYTES. */
static void test_tag_too_long(void **state)
{
    (void)state;
    char big[HK_MAX_TAG_BYTES + 2];
    memset(big, 't', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    json_t *v = json_pack("{s:s, s:[s]}", "statement", "A(b)", "tags", big);
    hk_svc_fact_in in;
    hk_error err;
    assert_int_equal(hk_svc_fact_in_parse(v, &strict, &in, &err),
                     HK_ERR_INVALID);
    assert_string_equal(err.field, "tags[0]");
    hk_svc_fact_in_release(&in);
    json_decref(v);
}

/* ==== Accepted input ==== */

static void assert_st(const hk_svc_fact_in *in, const char *want)
{
    hk_buf b = HK_BUF_INIT;
    assert_true(in->has_statement);
    assert_int_equal(hk_statement_format(&in->st, &b), HK_OK);
    assert_string_equal(b.data, want);
    hk_buf_free(&b);
}

static void test_content_shapes(void **state)
{
    (void)state;
    hk_svc_fact_in in;
    hk_error err;
    hk_svc_fact_in_opts str = rules(STRING_OK);
    assert_int_equal(parse("'HasPart(Computer, CPU)'", &str, &in, &err), HK_OK);
    assert_st(&in, "HasPart(Computer, CPU)");
    assert_int_equal(in.meta.fields, 0);
    hk_svc_fact_in_release(&in);

    assert_int_equal(
        parse("{'predicate': 'P', 'args': ['a', 'b c']}", &strict, &in, &err),
        HK_OK);
    assert_st(&in, "P(a, b c)");
    hk_svc_fact_in_release(&in);

    /* subject alone is a one-argument fact (strict) */
    assert_int_equal(
        parse("{'predicate': 'P', 'subject': 'a'}", &strict, &in, &err), HK_OK);
    assert_st(&in, "P(a)");
    hk_svc_fact_in_release(&in);

    assert_int_equal(parse("{'predicate': 'P', 'subject': 'a', 'object': 'b'}",
                           &strict, &in, &err),
                     HK_OK);
    assert_st(&in, "P(a, b)");
    hk_svc_fact_in_release(&in);

    /* legacy: statement wins over predicate, args over subject/object,
     * numbers are arguments, null statement means absent */
    assert_int_equal(
        parse("{'statement': 'A(b)', 'predicate': 'Z', 'args': ['q']}", &legacy,
              &in, &err),
        HK_OK);
    assert_st(&in, "A(b)");
    hk_svc_fact_in_release(&in);
    assert_int_equal(parse("{'statement': null, 'predicate': 'N', 'args': [1, "
                           "2.5], 'subject': 'ignored'}",
                           &legacy, &in, &err),
                     HK_OK);
    assert_st(&in, "N(1, 2.5)");
    hk_svc_fact_in_release(&in);
    assert_int_equal(parse("{'predicate': 'N', 'subject': 7, 'object': 'x'}",
                           &legacy, &in, &err),
                     HK_OK);
    assert_st(&in, "N(7, x)");
    hk_svc_fact_in_release(&in);

    /* metadata only */
    hk_svc_fact_in_opts meta = rules(META_ONLY);
    assert_int_equal(parse("{'confidence': 0.5}", &meta, &in, &err), HK_OK);
    assert_false(in.has_statement);
    assert_int_equal(in.meta.fields, HK_META_CONFIDENCE);
    hk_svc_fact_in_release(&in);

    /* within the limits */
    hk_svc_fact_in_opts lim = rules(LIMITS);
    assert_int_equal(parse("{'statement': 'A(b, c)'}", &lim, &in, &err), HK_OK);
    hk_svc_fact_in_release(&in);
}

static void test_metadata_strict(void **state)
{
    (void)state;
    hk_svc_fact_in in;
    hk_error err;
    assert_int_equal(parse("{'statement': 'A(b)', 'confidence': 0.25, "
                           "'source': 'atlas', 'tags': ['x', 'y', 'x'], "
                           "'context': {'k': [1, 2]}, 'created': 'ignored'}",
                           &strict, &in, &err),
                     HK_OK);
    assert_int_equal(in.meta.fields, HK_META_CONFIDENCE | HK_META_SOURCE |
                                         HK_META_TAGS | HK_META_CONTEXT);
    assert_true(in.meta.confidence == 0.25);
    assert_string_equal(in.meta.source, "atlas");
    assert_int_equal(in.meta.n_tags, 2); /* a tag given twice is one tag */
    assert_string_equal(in.meta.tags[0], "x");
    assert_string_equal(in.meta.tags[1], "y");
    assert_string_equal(in.meta.context_json, "{\"k\":[1,2]}");
    hk_svc_fact_in_release(&in);

    /* null clears source and context; an empty source is kept for the
     * store to judge */
    assert_int_equal(parse("{'statement': 'A(b)', 'source': null, "
                           "'context': null}",
                           &strict, &in, &err),
                     HK_OK);
    assert_int_equal(in.meta.fields, HK_META_SOURCE | HK_META_CONTEXT);
    assert_null(in.meta.source);
    assert_null(in.meta.context_json);
    hk_svc_fact_in_release(&in);
    assert_int_equal(
        parse("{'statement': 'A(b)', 'source': ''}", &strict, &in, &err),
        HK_OK);
    assert_int_equal(in.meta.fields, HK_META_SOURCE);
    assert_string_equal(in.meta.source, "");
    hk_svc_fact_in_release(&in);
}

static void test_metadata_legacy(void **state)
{
    (void)state;
    hk_svc_fact_in in;
    hk_error err;
    /* null means absent everywhere; an empty source is none */
    assert_int_equal(parse("{'statement': 'A(b)', 'confidence': null, "
                           "'source': '', 'tags': null, 'context': null, "
                           "'created': null, 'fact_metadata': null}",
                           &legacy, &in, &err),
                     HK_OK);
    assert_int_equal(in.meta.fields, 0);
    hk_svc_fact_in_release(&in);

    /* one tag as a string; times as seconds and as text */
    assert_int_equal(parse("{'statement': 'A(b)', 'tags': 'solo', "
                           "'created': 10, 'updated': "
                           "'1970-01-01T00:00:20Z'}",
                           &legacy, &in, &err),
                     HK_OK);
    assert_int_equal(in.meta.n_tags, 1);
    assert_string_equal(in.meta.tags[0], "solo");
    assert_true(in.meta.fields & HK_META_TIMES);
    assert_true(in.meta.created_us == 10000000);
    assert_true(in.meta.updated_us == 20000000);
    hk_svc_fact_in_release(&in);

    /* contexts: JSON text of an object is decoded, other values wrapped,
     * "null" text and empty text are none */
    struct {
        const char *json;
        const char *want; /* NULL: no context */
    } ctx[] = {
        {"{'statement': 'A(b)', 'context': '{\\'a\\': 1}'}", "{\"a\":1}"},
        {"{'statement': 'A(b)', 'context': 'free text'}",
         "{\"legacy_context\":\"free text\"}"},
        {"{'statement': 'A(b)', 'context': [1]}", "{\"legacy_context\":[1]}"},
        {"{'statement': 'A(b)', 'context': 'null'}", NULL},
        {"{'statement': 'A(b)', 'context': ''}", NULL},
    };
    for (size_t i = 0; i < sizeof ctx / sizeof ctx[0]; i++) {
        assert_int_equal(parse(ctx[i].json, &legacy, &in, &err), HK_OK);
        if (ctx[i].want == NULL) {
            assert_false(in.meta.fields & HK_META_CONTEXT);
        } else {
            assert_true(in.meta.fields & HK_META_CONTEXT);
            assert_string_equal(in.meta.context_json, ctx[i].want);
        }
        hk_svc_fact_in_release(&in);
    }
}

static void test_fact_metadata(void **state)
{
    (void)state;
    hk_svc_fact_in in;
    hk_error err;
    /* mapped when not set otherwise; the rest kept in the context */
    assert_int_equal(
        parse("{'statement': 'A(b)', 'fact_metadata': '{\\'source\\': "
              "\\'doc\\', \\'tags\\': [\\'t\\'], \\'confidence\\': 0.5, "
              "\\'extra\\': 1}'}",
              &legacy, &in, &err),
        HK_OK);
    assert_string_equal(in.meta.source, "doc");
    assert_int_equal(in.meta.n_tags, 1);
    assert_string_equal(in.meta.tags[0], "t");
    assert_true(in.meta.confidence == 0.5);
    assert_string_equal(in.meta.context_json,
                        "{\"fact_metadata\":{\"extra\":1}}");
    hk_svc_fact_in_release(&in);

    /* fields set by the record win; bad values are kept, not refused */
    assert_int_equal(
        parse("{'statement': 'A(b)', 'source': 'own', 'context': {'c': 1}, "
              "'fact_metadata': {'source': 'other', 'confidence': 7, "
              "'tags': [1]}}",
              &legacy, &in, &err),
        HK_OK);
    assert_int_equal(in.fault, HK_SVC_FAULT_NONE);
    assert_string_equal(in.meta.source, "own");
    assert_false(in.meta.fields & HK_META_CONFIDENCE);
    assert_false(in.meta.fields & HK_META_TAGS);
    assert_string_equal(in.meta.context_json,
                        "{\"c\":1,\"fact_metadata\":{\"source\":\"other\","
                        "\"confidence\":7,\"tags\":[1]}}");
    hk_svc_fact_in_release(&in);

    /* fully mapped: no context left */
    assert_int_equal(parse("{'statement': 'A(b)', 'fact_metadata': "
                           "{'confidence': 0.1}}",
                           &legacy, &in, &err),
                     HK_OK);
    assert_false(in.meta.fields & HK_META_CONTEXT);
    hk_svc_fact_in_release(&in);

    /* text that is no object stays text; "null" and "" are nothing */
    assert_int_equal(parse("{'statement': 'A(b)', 'fact_metadata': 'plain'}",
                           &legacy, &in, &err),
                     HK_OK);
    assert_string_equal(in.meta.context_json, "{\"fact_metadata\":\"plain\"}");
    hk_svc_fact_in_release(&in);
    assert_int_equal(parse("{'statement': 'A(b)', 'fact_metadata': 'null'}",
                           &legacy, &in, &err),
                     HK_OK);
    assert_int_equal(in.meta.fields, 0);
    hk_svc_fact_in_release(&in);
    assert_int_equal(
        parse("{'statement': 'A(b)', 'fact_metadata': ''}", &legacy, &in, &err),
        HK_OK);
    assert_int_equal(in.meta.fields, 0);
    hk_svc_fact_in_release(&in);
    /* strict input ignores fact_metadata */
    assert_int_equal(parse("{'statement': 'A(b)', 'fact_metadata': {'x': 1}}",
                           &strict, &in, &err),
                     HK_OK);
    assert_int_equal(in.meta.fields, 0);
    hk_svc_fact_in_release(&in);
}

/* The field parsers one by one (as the SQLite import calls them), with
 * the struct reused from row to row. */
static void test_field_parsers_reuse(void **state)
{
    (void)state;
    hk_svc_fact_in in;
    hk_svc_fact_in_init(&in);
    hk_error err;
    for (int row = 0; row < 3; row++) {
        json_t *conf = json_real(0.75);
        json_t *tags = js("['a', 'b']");
        json_t *md = js("'{\\'source\\': \\'s\\', \\'tags\\': [\\'z\\']}'");
        assert_int_equal(hk_svc_fact_in_confidence(&in, conf, true, &err),
                         HK_OK);
        assert_int_equal(hk_svc_fact_in_source(&in, NULL, true, &err), HK_OK);
        assert_int_equal(hk_svc_fact_in_tags(&in, tags, true, &err), HK_OK);
        assert_int_equal(hk_svc_fact_in_context(&in, NULL, true, &err), HK_OK);
        assert_int_equal(hk_svc_fact_in_fact_metadata(&in, md, &err), HK_OK);
        assert_int_equal(hk_svc_fact_in_finish(&in, &err), HK_OK);
        assert_string_equal(in.meta.source, "s"); /* kept alive by in */
        assert_int_equal(in.meta.n_tags, 2);      /* tags were set: kept */
        assert_string_equal(in.meta.context_json,
                            "{\"fact_metadata\":{\"tags\":[\"z\"]}}");
        hk_svc_fact_in_release(&in);
        json_decref(conf);
        json_decref(tags);
        json_decref(md);
    }
}

/* Every allocation failure is HK_ERR_NOMEM (or success), never a crash or
 * a leak. jansson's allocations are not injected; ours are. */
static void test_parse_nomem(void **state)
{
    (void)state;
    for (long k = 0; k < 20; k++) {
        hk_svc_fact_in in;
        hk_error err;
        json_t *v = js("{'statement': 'A(b, c)', 'tags': ['x'], "
                       "'context': {'a': 1}}");
        hk_mem_fail_after(k);
        hk_err rc = hk_svc_fact_in_parse(v, &strict, &in, &err);
        hk_mem_fail_after(-1);
        if (rc != HK_OK) {
            assert_int_equal(rc, HK_ERR_NOMEM);
            assert_int_equal(in.fault, HK_SVC_FAULT_NOMEM);
        }
        hk_svc_fact_in_release(&in);
        json_decref(v);
    }
}

/* ==== Errors as JSON ==== */

static void test_error_json(void **state)
{
    (void)state;
    hk_error err;
    hk_error_set(&err, HK_ERR_INVALID, "bad \"thing\"");
    err.line = 3;
    err.column = 8;
    snprintf(err.field, sizeof err.field, "statement");
    hk_buf b = HK_BUF_INIT;
    assert_int_equal(hk_svc_error_write_json("invalid_statement", &err, &b),
                     HK_OK);
    assert_string_equal(b.data,
                        "{\"error\":{\"code\":\"invalid_statement\","
                        "\"message\":\"bad \\\"thing\\\"\",\"detail\":{"
                        "\"line\":3,\"column\":8,\"field\":\"statement\"}}}");
    hk_buf_reset(&b);
    hk_error_clear(&err);
    err.code = HK_ERR_NOT_FOUND;
    assert_int_equal(hk_svc_error_write_json("not_found", &err, &b), HK_OK);
    assert_string_equal(b.data, "{\"error\":{\"code\":\"not_found\","
                                "\"message\":\"not found\"}}");
    hk_buf_reset(&b);
    assert_int_equal(hk_svc_error_detail_write_json(&err, &b), HK_OK);
    assert_string_equal(b.data, "{}");
    hk_buf_free(&b);
}

/* The REST forms: the envelope with a null or given detail, the detail
 * with the error's kind first. */
static void test_error_envelope(void **state)
{
    (void)state;
    hk_buf b = HK_BUF_INIT;
    assert_int_equal(
        hk_svc_error_envelope_write_json("busy", "try again", NULL, true, &b),
        HK_OK);
    assert_string_equal(b.data, "{\"error\":{\"code\":\"busy\",\"message\":"
                                "\"try again\",\"detail\":null}}");
    hk_buf_reset(&b);
    assert_int_equal(
        hk_svc_error_envelope_write_json("x", "m", "{\"a\":1}", false, &b),
        HK_OK);
    assert_string_equal(b.data, "{\"error\":{\"code\":\"x\",\"message\":"
                                "\"m\",\"detail\":{\"a\":1}}}");
    hk_buf_reset(&b);
    hk_error err;
    hk_error_clear(&err);
    err.code = HK_ERR_NOT_FOUND;
    assert_int_equal(hk_svc_error_kind_detail_write_json(&err, &b), HK_OK);
    assert_string_equal(b.data, "{\"kind\":\"not found\"}");
    hk_buf_reset(&b);
    err.line = 2;
    snprintf(err.field, sizeof err.field, "limit");
    assert_int_equal(hk_svc_error_kind_detail_write_json(&err, &b), HK_OK);
    assert_string_equal(
        b.data, "{\"kind\":\"not found\",\"line\":2,\"field\":\"limit\"}");
    hk_buf_reset(&b);
    err.line = 0;
    assert_int_equal(hk_svc_error_detail_write_json(&err, &b), HK_OK);
    assert_string_equal(b.data, "{\"field\":\"limit\"}");
    hk_buf_free(&b);
}

/* ==== Ids and counts as text ==== */

static void test_parse_positive(void **state)
{
    (void)state;
    static const struct {
        const char *text; /* input */
        bool ok;          /* accepted */
        uint64_t value;   /* its value when ok */
    } cases[] = {
        {"1", true, 1},
        {"42", true, 42},
        {"007", true, 7},
        {"18446744073709551615", true, UINT64_MAX},
        {"18446744073709551616", false, 0},
        {"99999999999999999999999", false, 0},
        {"0", false, 0},
        {"", false, 0},
        {"-1", false, 0},
        {"+1", false, 0},
        {"1a", false, 0},
        {" 1", false, 0},
        {"1.0", false, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t v = 12345;
        assert_int_equal(hk_svc_parse_positive(cases[i].text, &v), cases[i].ok);
        assert_int_equal(v, cases[i].ok ? cases[i].value : 12345);
    }
    uint64_t v = 0;
    assert_false(hk_svc_parse_positive(NULL, &v));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_context_too_large),
        cmocka_unit_test(test_source_too_long),
        cmocka_unit_test(test_tag_too_long),
        cmocka_unit_test(test_content_shapes),
        cmocka_unit_test(test_metadata_strict),
        cmocka_unit_test(test_metadata_legacy),
        cmocka_unit_test(test_fact_metadata),
        cmocka_unit_test(test_field_parsers_reuse),
        cmocka_unit_test(test_parse_nomem),
        cmocka_unit_test(test_error_json),
        cmocka_unit_test(test_error_envelope),
        cmocka_unit_test(test_parse_positive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
