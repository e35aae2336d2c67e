/*
 * test_core_pattern.c — pattern parsing: constants, ?variables and _
 * wildcards in predicate and argument positions, quoting rules, errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/mem.h"
#include "hakgal.h"

static void parse_ok(const char *text, hk_pattern *p)
{
    hk_error err;
    hk_error_clear(&err);
    if (hk_pattern_parse(text, strlen(text), p, &err) != HK_OK)
        fail_msg("'%s': %s", text, err.message);
}

static void assert_term(const hk_term *t, hk_term_kind kind, const char *text)
{
    assert_int_equal(t->kind, kind);
    assert_string_equal(t->text, text);
}

static void test_constants_and_variables(void **state)
{
    (void)state;
    hk_pattern p;
    parse_ok("HasPart(?x, CPU)", &p);
    assert_term(&p.predicate, HK_TERM_CONST, "HasPart");
    assert_int_equal(p.n_args, 2);
    assert_term(&p.args[0], HK_TERM_VAR, "x");
    assert_term(&p.args[1], HK_TERM_CONST, "CPU");
    hk_pattern_release(&p);
    assert_null(p.owned);

    parse_ok("_(Computer, ?y)", &p);
    assert_term(&p.predicate, HK_TERM_ANY, "_");
    assert_term(&p.args[0], HK_TERM_CONST, "Computer");
    assert_term(&p.args[1], HK_TERM_VAR, "y");
    hk_pattern_release(&p);

    parse_ok("?p(Water, ?o).", &p);
    assert_term(&p.predicate, HK_TERM_VAR, "p");
    assert_term(&p.args[0], HK_TERM_CONST, "Water");
    assert_term(&p.args[1], HK_TERM_VAR, "o");
    hk_pattern_release(&p);

    parse_ok(" ?_rel9 ( _ , ?long_name_2 , North Pacific ) ", &p);
    assert_term(&p.predicate, HK_TERM_VAR, "_rel9");
    assert_int_equal(p.n_args, 3);
    assert_term(&p.args[0], HK_TERM_ANY, "_");
    assert_term(&p.args[1], HK_TERM_VAR, "long_name_2");
    assert_term(&p.args[2], HK_TERM_CONST, "North Pacific");
    hk_pattern_release(&p);
}

static void test_quoted_are_constants(void **state)
{
    (void)state;
    hk_pattern p;
    parse_ok("P(\"?x\", \"_\", \"a, (b)\", __, x?, _a)", &p);
    assert_term(&p.args[0], HK_TERM_CONST, "?x");
    assert_term(&p.args[1], HK_TERM_CONST, "_");
    assert_term(&p.args[2], HK_TERM_CONST, "a, (b)");
    assert_term(&p.args[3], HK_TERM_CONST, "__");
    assert_term(&p.args[4], HK_TERM_CONST, "x?");
    assert_term(&p.args[5], HK_TERM_CONST, "_a");
    hk_pattern_release(&p);

    /* Unicode variable names follow the predicate rule. */
    parse_ok("P(?größe, ?x1)", &p);
    assert_term(&p.args[0], HK_TERM_VAR, "größe");
    assert_term(&p.args[1], HK_TERM_VAR, "x1");
    hk_pattern_release(&p);
}

/* The canonical form of any statement, read as a pattern, has only
 * constants equal to the statement's arguments. */
static void test_canonical_statement_is_constant_pattern(void **state)
{
    (void)state;
    hk_statement st = {0};
    st.predicate = "Q";
    st.n_args = 4;
    st.args[0] = "?x";
    st.args[1] = "_";
    st.args[2] = "? y";
    st.args[3] = "plain";
    hk_buf b = HK_BUF_INIT;
    assert_int_equal(hk_statement_format(&st, &b), HK_OK);
    hk_pattern p;
    parse_ok(b.data, &p);
    for (uint32_t i = 0; i < st.n_args; i++)
        assert_term(&p.args[i], HK_TERM_CONST, st.args[i]);
    hk_pattern_release(&p);
    hk_buf_free(&b);
}

typedef struct bad_case {
    const char *text;   /* input */
    uint32_t column;    /* expected column */
    const char *reason; /* expected message substring */
} bad_case;

static const bad_case k_bad[] = {
    {"P(?)", 3, "invalid variable '?'"},
    {"P(a, ?1x)", 6, "invalid variable '?1x'"},
    {"P(a, ?x y)", 6, "invalid variable '?x y'"},
    {"P(?x-y)", 3, "invalid variable"},
    {"?(a)", 2, "expected a variable name after '?'"},
    {"?1(a)", 2, "expected a variable name"},
    {"??p(a)", 2, "expected a variable name"},
    {"P()", 3, "empty argument 1"},
    {"P(?x", 5, "missing ')'"},
    {"P(?x))", 6, "unexpected ')'"},
    {"_ _(a)", 3, "expected '('"},
};

static void test_bad_patterns(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof k_bad / sizeof k_bad[0]; c++) {
        hk_pattern p;
        hk_error err;
        hk_error_clear(&err);
        hk_err rc =
            hk_pattern_parse(k_bad[c].text, strlen(k_bad[c].text), &p, &err);
        if (rc != HK_ERR_INVALID)
            fail_msg("'%s': expected HK_ERR_INVALID, got %d", k_bad[c].text,
                     rc);
        assert_null(p.owned);
        if (!strstr(err.message, k_bad[c].reason))
            fail_msg("'%s': message '%s' lacks '%s'", k_bad[c].text,
                     err.message, k_bad[c].reason);
        if (err.column != k_bad[c].column)
            fail_msg("'%s': column %u, expected %u", k_bad[c].text, err.column,
                     k_bad[c].column);
    }
}

static void test_pattern_alloc_failure(void **state)
{
    (void)state;
    const char *text = "?p(\"a, b\", ?x, _)";
    hk_pattern p;
    hk_error err;
    hk_mem_fail_after(0);
    assert_int_equal(hk_pattern_parse(text, strlen(text), &p, &err),
                     HK_ERR_NOMEM);
    hk_mem_fail_after(-1);
    assert_int_equal(err.code, HK_ERR_NOMEM);
    assert_null(p.owned);
    hk_mem_fail_after(1);
    assert_int_equal(hk_pattern_parse(text, strlen(text), &p, &err), HK_OK);
    hk_mem_fail_after(-1);
    assert_term(&p.predicate, HK_TERM_VAR, "p");
    assert_term(&p.args[0], HK_TERM_CONST, "a, b");
    assert_term(&p.args[1], HK_TERM_VAR, "x");
    assert_term(&p.args[2], HK_TERM_ANY, "_");
    hk_pattern_release(&p);
    hk_pattern_release(&p); /* released twice is harmless */
}

static void test_pattern_arity_limit(void **state)
{
    (void)state;
    hk_buf b = HK_BUF_INIT;
    hk_pattern p;
    hk_error err;
    hk_buf_append_str(&b, "P(");
    for (int i = 0; i < 32; i++)
        hk_buf_appendf(&b, "%s?v%d", i ? ", " : "", i);
    hk_buf_append_str(&b, ")");
    assert_int_equal(hk_pattern_parse(b.data, b.len, &p, &err), HK_OK);
    assert_int_equal(p.n_args, 32);
    assert_term(&p.args[31], HK_TERM_VAR, "v31");
    hk_pattern_release(&p);
    b.len--; /* drop ')' */
    hk_buf_append_str(&b, ", _)");
    assert_int_equal(hk_pattern_parse(b.data, b.len, &p, &err), HK_ERR_INVALID);
    assert_non_null(strstr(err.message, "too many arguments (max 32)"));
    hk_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constants_and_variables),
        cmocka_unit_test(test_quoted_are_constants),
        cmocka_unit_test(test_canonical_statement_is_constant_pattern),
        cmocka_unit_test(test_bad_patterns),
        cmocka_unit_test(test_pattern_alloc_failure),
        cmocka_unit_test(test_pattern_arity_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
