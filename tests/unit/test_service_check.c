/*
 * test_service_check.c — hk_svc_statement_check: the verdict on a
 * statement is the one an add gives. Oracle: for every statement of a
 * corpus of good and broken ones, valid iff hk_statement_parse accepts
 * it, with the same message and column; the canonical form is
 * hk_statement_format's. Then the limits (statement bytes, arguments),
 * text that is not UTF-8, and both JSON shapes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "service/svc_check.h"

static const char *const k_corpus[] = {
    "HasPart(Computer, CPU)",
    "HasPart( Computer ,CPU).",
    "Bond(NH3, N, H)",
    "IsA(\"a, b\", c)",
    "IsA(\"quote \\\" inside\", x)",
    "HasPart(Computer, GPU",
    "HasPart Computer, GPU)",
    "(a, b)",
    "P()",
    "P(a,, b)",
    "P(a) trailing",
    "P(\"unterminated)",
    "",
    "   ",
    "Ünïcødé(ärg, 名前)",
    "P(a\tb)",
    "9Pred(a)",
};

static void test_oracle_parse(void **state)
{
    (void)state;
    hk_svc_fact_in_opts o;
    memset(&o, 0, sizeof(o));
    for (size_t i = 0; i < sizeof(k_corpus) / sizeof(k_corpus[0]); i++) {
        const char *s = k_corpus[i];
        hk_statement st;
        hk_error pe;
        hk_error_clear(&pe);
        hk_err prc = hk_statement_parse(s, strlen(s), &st, &pe);
        hk_svc_check v;
        hk_error e;
        hk_error_clear(&e);
        assert_int_equal(hk_svc_statement_check(s, strlen(s), &o, &v, &e),
                         HK_OK);
        if (prc == HK_OK) {
            assert_true(v.valid);
            hk_buf canon = HK_BUF_INIT;
            assert_int_equal(hk_statement_format(&st, &canon), HK_OK);
            assert_int_equal(v.canonical.len, canon.len);
            assert_memory_equal(v.canonical.data, canon.data, canon.len);
            assert_string_equal(v.st.predicate, st.predicate);
            assert_int_equal(v.st.n_args, st.n_args);
            hk_buf_free(&canon);
            hk_statement_release(&st);
        } else {
            if (v.valid) fail_msg("'%s' valid, the parser says no", s);
            assert_int_equal(v.error.column, pe.column);
            assert_non_null(strstr(v.error.message, pe.message));
            assert_string_equal(v.error.field, "statement");
            assert_non_null(v.code);
        }
        hk_svc_check_free(&v);
    }
}

static void test_column_and_code(void **state)
{
    (void)state;
    hk_svc_fact_in_opts o;
    memset(&o, 0, sizeof(o));
    hk_svc_check v;
    hk_error e;
    const char *s = "HasPart(Computer, GPU";
    assert_int_equal(hk_svc_statement_check(s, strlen(s), &o, &v, &e), HK_OK);
    assert_false(v.valid);
    assert_int_equal(v.error.column, 22);
    assert_string_equal(v.code, "invalid_statement");
    assert_int_equal(v.fault, HK_SVC_FAULT_SYNTAX);
    hk_buf b = HK_BUF_INIT;
    assert_int_equal(hk_svc_check_write_json(&v, &b), HK_OK);
    assert_int_equal(hk_buf_append(&b, "", 1), HK_OK);
    assert_string_equal(
        b.data, "{\"valid\":false,\"error\":{\"code\":\"invalid_statement\","
                "\"message\":\"column 22: missing ')' at the end of the "
                "statement\",\"detail\":{\"column\":22,\"field\":"
                "\"statement\"}}}");
    hk_buf_free(&b);
    hk_svc_check_free(&v);
    hk_svc_check_free(&v); /* safe twice */
}

static void test_valid_json(void **state)
{
    (void)state;
    hk_svc_fact_in_opts o;
    memset(&o, 0, sizeof(o));
    hk_svc_check v;
    hk_error e;
    const char *s = "IsA( \"a \\\"b\\\"\" ,c d ).";
    assert_int_equal(hk_svc_statement_check(s, strlen(s), &o, &v, &e), HK_OK);
    assert_true(v.valid);
    hk_buf b = HK_BUF_INIT;
    assert_int_equal(hk_svc_check_write_json(&v, &b), HK_OK);
    assert_int_equal(hk_buf_append(&b, "", 1), HK_OK);
    assert_string_equal(b.data,
                        "{\"valid\":true,\"statement\":\"IsA(\\\"a "
                        "\\\\\\\"b\\\\\\\"\\\", c d)\",\"predicate\":\"IsA\","
                        "\"args\":[\"a \\\"b\\\"\",\"c d\"]}");
    hk_buf_free(&b);
    hk_svc_check_free(&v);
}

static void test_limits(void **state)
{
    (void)state;
    hk_svc_fact_in_opts o;
    memset(&o, 0, sizeof(o));
    o.max_statement = 16;
    hk_svc_check v;
    hk_error e;
    const char *s = "HasPart(Computer, CPU)"; /* 22 bytes */
    assert_int_equal(hk_svc_statement_check(s, strlen(s), &o, &v, &e), HK_OK);
    assert_false(v.valid);
    assert_string_equal(v.code, "statement_too_long");
    assert_int_equal(v.fault, HK_SVC_FAULT_TOO_LONG);
    hk_svc_check_free(&v);

    memset(&o, 0, sizeof(o));
    o.max_args = 2;
    s = "Bond(NH3, N, H)";
    assert_int_equal(hk_svc_statement_check(s, strlen(s), &o, &v, &e), HK_OK);
    assert_false(v.valid);
    assert_non_null(v.code);
    assert_true(v.error.message[0] != '\0');
    hk_svc_check_free(&v);
    s = "Bond(NH3, N)";
    assert_int_equal(hk_svc_statement_check(s, strlen(s), &o, &v, &e), HK_OK);
    assert_true(v.valid);
    hk_svc_check_free(&v);
}

static void test_not_utf8(void **state)
{
    (void)state;
    hk_svc_fact_in_opts o;
    memset(&o, 0, sizeof(o));
    hk_svc_check v;
    hk_error e;
    const char s[] = "P(a\xff)";
    assert_int_equal(hk_svc_statement_check(s, sizeof(s) - 1, &o, &v, &e),
                     HK_OK);
    assert_false(v.valid);
    assert_string_equal(v.code, "invalid_statement");
    hk_svc_check_free(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oracle_parse),
        cmocka_unit_test(test_column_and_code),
        cmocka_unit_test(test_valid_json),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_not_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
