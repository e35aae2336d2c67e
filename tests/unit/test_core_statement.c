/*
 * test_core_statement.c — statement parser, validator and formatter.
 *
 * Table-driven: every valid example is parsed and compared against its
 * expected predicate, arguments and canonical form; every invalid example
 * must fail with HK_ERR_INVALID at the expected column with a message
 * containing the expected reason. A random round-trip property checks
 * parse(format(x)) == x on thousands of generated statements, and
 * allocation-failure injection proves parse fails cleanly with NOMEM.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/mem.h"
#include "core/syntax.h"
#include "core/utf8.h"
#include "hakgal.h"

/* ==== Valid statements ==== */

typedef struct valid_case {
    const char *text;      /* input */
    const char *predicate; /* expected predicate */
    int n_args;            /* expected arity */
    const char *args[6];   /* expected arguments (first n_args) */
    const char *canonical; /* expected canonical form */
} valid_case;

static const valid_case k_valid[] = {
    {"HasPart(Computer, CPU)",
     "HasPart",
     2,
     {"Computer", "CPU"},
     "HasPart(Computer, CPU)"},
    {"HasPart(Computer,CPU).",
     "HasPart",
     2,
     {"Computer", "CPU"},
     "HasPart(Computer, CPU)"},
    {"  HasPart ( Computer ,  CPU )  .  ",
     "HasPart",
     2,
     {"Computer", "CPU"},
     "HasPart(Computer, CPU)"},
    {"\tP\t(\ta\t)\t", "P", 1, {"a"}, "P(a)"},
    {"P(a\t ,\tb \t)", "P", 2, {"a", "b"}, "P(a, b)"},
    {"P(a)\n", "P", 1, {"a"}, "P(a)"},
    {"P(a).\r\n", "P", 1, {"a"}, "P(a)"},
    {"LocatedIn(Hawaii, North Pacific)",
     "LocatedIn",
     2,
     {"Hawaii", "North Pacific"},
     "LocatedIn(Hawaii, North Pacific)"},
    {"Uses(Internet, TCP/IP)",
     "Uses",
     2,
     {"Internet", "TCP/IP"},
     "Uses(Internet, TCP/IP)"},
    {"Law(Newton2, F=ma)", "Law", 2, {"Newton2", "F=ma"}, "Law(Newton2, F=ma)"},
    {"Share(Water, 95%)", "Share", 2, {"Water", "95%"}, "Share(Water, 95%)"},
    {"Emits(Car, CO₂)", "Emits", 2, {"Car", "CO₂"}, "Emits(Car, CO₂)"},
    {"Age(Earth, 4.6Gyr).",
     "Age",
     2,
     {"Earth", "4.6Gyr"},
     "Age(Earth, 4.6Gyr)"},
    {"X(a-b, +1, c:d, e'f, g;h, [i], {j}, k?, l!)",
     "X",
     9,
     {"a-b", "+1", "c:d", "e'f", "g;h", "[i]"},
     "X(a-b, +1, c:d, e'f, g;h, [i], {j}, k?, l!)"},
    {"Größe(Haus, groß)", "Größe", 2, {"Haus", "groß"}, "Größe(Haus, groß)"},
    {"_private(x)", "_private", 1, {"x"}, "_private(x)"},
    {"p2p_Link9(a)", "p2p_Link9", 1, {"a"}, "p2p_Link9(a)"},
    {"Says(Bob, \"Hello, world (really)\")",
     "Says",
     2,
     {"Bob", "Hello, world (really)"},
     "Says(Bob, \"Hello, world (really)\")"},
    {"Q(\"say \\\"hi\\\"\", \"back\\\\slash\")",
     "Q",
     2,
     {"say \"hi\"", "back\\slash"},
     "Q(\"say \\\"hi\\\"\", \"back\\\\slash\")"},
    {"Q( \"quoted\" , bare )", "Q", 2, {"quoted", "bare"}, "Q(quoted, bare)"},
    {"Q(\" padded \")", "Q", 1, {" padded "}, "Q(\" padded \")"},
    {"Q(\"_\", \"?x\", ?y, _ )",
     "Q",
     4,
     {"_", "?x", "?y", "_"},
     "Q(\"_\", \"?x\", \"?y\", \"_\")"},
    {"Q(a\\b)", "Q", 1, {"a\\b"}, "Q(\"a\\\\b\")"},
    {"Q(inner   spaces kept)",
     "Q",
     1,
     {"inner   spaces kept"},
     "Q(inner   spaces kept)"},
    {"Q(日本語, 😀)", "Q", 2, {"日本語", "😀"}, "Q(日本語, 😀)"},
    {"Q(a.b.)", "Q", 1, {"a.b."}, "Q(a.b.)"},
};

static void test_valid_statements(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof k_valid / sizeof k_valid[0]; c++) {
        const valid_case *vc = &k_valid[c];
        hk_statement st;
        hk_error err;
        hk_error_clear(&err);
        size_t len = strlen(vc->text);
        char *exact = malloc(len);
        memcpy(exact, vc->text, len);
        hk_err rc = hk_statement_parse(exact, len, &st, &err);
        free(exact);
        if (rc != HK_OK)
            fail_msg("case %zu '%s': %s", c, vc->text, err.message);
        assert_string_equal(st.predicate, vc->predicate);
        assert_int_equal(st.n_args, vc->n_args);
        for (int i = 0; i < vc->n_args && i < 6; i++)
            assert_string_equal(st.args[i], vc->args[i]);
        assert_int_equal(hk_statement_validate(&st, &err), HK_OK);
        hk_buf b = HK_BUF_INIT;
        assert_int_equal(hk_statement_format(&st, &b), HK_OK);
        assert_string_equal(b.data, vc->canonical);
        /* The canonical form parses back to the same statement. */
        hk_statement again;
        assert_int_equal(hk_statement_parse(b.data, b.len, &again, &err),
                         HK_OK);
        assert_string_equal(again.predicate, st.predicate);
        assert_int_equal(again.n_args, st.n_args);
        for (uint32_t i = 0; i < st.n_args; i++)
            assert_string_equal(again.args[i], st.args[i]);
        hk_statement_release(&again);
        hk_buf_free(&b);
        hk_statement_release(&st);
        assert_null(st.owned);
    }
}

/* ==== Invalid statements ==== */

typedef struct invalid_case {
    const char *text;   /* input (NUL-terminated unless len set) */
    size_t len;         /* 0: strlen(text) */
    uint32_t column;    /* expected err.column (0: not checked) */
    const char *reason; /* substring expected in err.message */
} invalid_case;

static const invalid_case k_invalid[] = {
    {"", 0, 1, "empty statement"},
    {"   ", 0, 1, "empty statement"},
    {"(a, b)", 0, 1, "missing predicate"},
    {"HasPart", 0, 8, "expected '('"},
    {"g", 0, 2, "expected '('"},
    {"P ", 0, 2, "expected '('"},
    {"P(a", 0, 4, "missing ')'"},
    {"P(\"a\"", 0, 6, "missing ')'"},
    {"P(\"a\\", 0, 3, "unterminated"},
    {"HasPart Computer, CPU", 0, 9, "expected '('"},
    {"Has-Part(a, b)", 0, 4, "unexpected '-'"},
    {"Has Part(a, b)", 0, 5, "unexpected 'P'"},
    {"1Pred(a)", 0, 1, "predicate starts with a letter"},
    {"?p(a)", 0, 1, "unexpected '?'"},
    {"P()", 0, 3, "unexpected ')' — empty argument 1"},
    {"P(a, , b)", 0, 6, "unexpected ',' — empty argument 2"},
    {"P(a,)", 0, 5, "unexpected ')' — empty argument 2"},
    {"P(,a)", 0, 3, "unexpected ',' — empty argument 1"},
    {"P(a, b", 0, 7, "missing ')'"},
    {"P(a, b,", 0, 8, "missing ')'"},
    {"P(", 0, 3, "missing ')'"},
    {"P(a))", 0, 5, "unexpected ')' after the closing ')'"},
    {"P((a))", 0, 3, "unexpected '('"},
    {"P(a(b))", 0, 4, "unexpected '('"},
    {"P(a) b", 0, 6, "unexpected 'b' after the closing ')'"},
    {"P(a)..", 0, 6, "unexpected '.'"},
    {"P(a). x", 0, 7, "unexpected 'x'"},
    {"P(a\"b\")", 0, 4, "unexpected '\"'"},
    {"P(\"a\"b)", 0, 6, "unexpected 'b' after quoted argument 1"},
    {"P(\"a\" b)", 0, 7, "unexpected 'b' after quoted argument 1"},
    {"P(\"abc)", 0, 3, "unterminated quoted argument 1"},
    {"P(\"abc\\\")", 0, 3, "unterminated quoted argument 1"},
    {"P(\"a\\nb\")", 0, 5, "invalid escape"},
    {"P(\"a\\tb\")", 0, 5, "invalid escape"},
    {"P(\"\")", 0, 3, "empty argument 1"},
    {"P(a, \"\")", 0, 6, "empty argument 2"},
    {"P(a\tb)", 0, 4, "control character U+0009"},
    {"P(a\nb)", 0, 4, "control character U+000A"},
    {"P(\"a\x01\")", 0, 5, "control character U+0001"},
    {"P(a\x7f)", 0, 4, "control character U+007F"},
    {"P\n(a)", 0, 2, "expected '('"},
    {"P(a\0b)", 6, 4, "control character U+0000"},
    /* Columns count characters, not bytes. */
    {"Größe(ä, ö, )", 0, 13, "unexpected ')' — empty argument 3"},
    {"P(日本, 語-(x))", 0, 9, "unexpected '('"},
    {"P(a \t b)", 0, 5, "control character U+0009"},
    {"P(😀😀, \"a\\q\")", 0, 9, "invalid escape"},
    /* Invalid UTF-8. */
    {"P(\xc0\xaf)", 0, 3, "invalid UTF-8"},             /* overlong '/' */
    {"P(\xe0\x80\xaf)", 0, 3, "invalid UTF-8"},         /* overlong */
    {"P(\xf0\x80\x80\xaf)", 0, 3, "invalid UTF-8"},     /* overlong */
    {"P(\xed\xa0\x80)", 0, 3, "invalid UTF-8"},         /* surrogate */
    {"P(ab\xe2\x82)", 0, 5, "invalid UTF-8"},           /* truncated */
    {"P(a)\xe2\x82", 0, 5, "invalid UTF-8"},            /* truncated at end */
    {"P(\xf4\x90\x80\x80)", 0, 3, "invalid UTF-8"},     /* > U+10FFFF */
    {"P(\xf8\x88\x80\x80\x80)", 0, 3, "invalid UTF-8"}, /* 5-byte form */
    {"P(\x80)", 0, 3, "invalid UTF-8"},                 /* stray cont. */
    {"P(\xff)", 0, 3, "invalid UTF-8"},
    {"P(ä\xc3)", 0, 4, "invalid UTF-8"},
};

static void test_invalid_statements(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof k_invalid / sizeof k_invalid[0]; c++) {
        const invalid_case *ic = &k_invalid[c];
        size_t len = ic->len ? ic->len : strlen(ic->text);
        /* An exact-size copy without NUL: the sanitizers catch any read
         * past the end (found by fuzzing: "g" read one byte too far). */
        char *exact = malloc(len ? len : 1);
        memcpy(exact, ic->text, len);
        hk_statement st;
        hk_error err;
        hk_error_clear(&err);
        hk_err rc = hk_statement_parse(exact, len, &st, &err);
        free(exact);
        if (rc != HK_ERR_INVALID)
            fail_msg("case %zu '%s': expected HK_ERR_INVALID, got %d", c,
                     ic->text, rc);
        assert_int_equal(err.code, HK_ERR_INVALID);
        assert_null(st.owned);
        assert_int_equal(st.n_args, 0);
        if (!strstr(err.message, ic->reason))
            fail_msg("case %zu '%s': message '%s' lacks '%s'", c, ic->text,
                     err.message, ic->reason);
        if (ic->column && err.column != ic->column)
            fail_msg("case %zu '%s': column %u, expected %u (%s)", c, ic->text,
                     err.column, ic->column, err.message);
        char prefix[32];
        snprintf(prefix, sizeof prefix, "column %u: ", err.column);
        if (strncmp(err.message, prefix, strlen(prefix)) != 0)
            fail_msg("case %zu: message '%s' lacks prefix '%s'", c, err.message,
                     prefix);
        /* Messages stay valid UTF-8 (they end up in JSON). */
        assert_true(hk_utf8_valid(err.message, strlen(err.message), NULL));
    }
}

/* The column example of the specification. */
static void test_error_message_format(void **state)
{
    (void)state;
    hk_statement st;
    hk_error err;
    const char *text = "Rel(a, , c)";
    assert_int_equal(hk_statement_parse(text, strlen(text), &st, &err),
                     HK_ERR_INVALID);
    assert_string_equal(err.message,
                        "column 8: unexpected ',' — empty argument 2");
    assert_int_equal(err.column, 8);
    /* A NULL error pointer is allowed. */
    assert_int_equal(hk_statement_parse(text, strlen(text), &st, NULL),
                     HK_ERR_INVALID);
}

/* ==== Limits ==== */

static void build_args(hk_buf *b, int n)
{
    hk_buf_reset(b);
    hk_buf_append_str(b, "P(");
    for (int i = 0; i < n; i++)
        hk_buf_appendf(b, "%sa%d", i ? ", " : "", i);
    hk_buf_append_str(b, ")");
}

static void test_arity_limits(void **state)
{
    (void)state;
    hk_buf b = HK_BUF_INIT;
    hk_statement st;
    hk_error err;
    build_args(&b, 32);
    assert_int_equal(hk_statement_parse(b.data, b.len, &st, &err), HK_OK);
    assert_int_equal(st.n_args, 32);
    assert_string_equal(st.args[31], "a31");
    hk_statement_release(&st);

    build_args(&b, 33);
    assert_int_equal(hk_statement_parse(b.data, b.len, &st, &err),
                     HK_ERR_INVALID);
    assert_non_null(strstr(err.message, "too many arguments (max 32)"));
    /* Column of argument 33: after "P(" and 32 args "aN, ". */
    const char *a32 = strstr(b.data, "a32");
    assert_int_equal(err.column, (uint32_t)(a32 - b.data) + 1);
    hk_buf_free(&b);
}

static void test_length_limits(void **state)
{
    (void)state;
    hk_buf b = HK_BUF_INIT;
    hk_statement st;
    hk_error err;

    /* Predicate of exactly the limit, then one byte more. */
    for (int i = 0; i < HK_MAX_PREDICATE_BYTES; i++)
        hk_buf_append(&b, "p", 1);
    hk_buf_append_str(&b, "(a)");
    assert_int_equal(hk_statement_parse(b.data, b.len, &st, &err), HK_OK);
    hk_statement_release(&st);
    hk_buf_reset(&b);
    for (int i = 0; i < HK_MAX_PREDICATE_BYTES + 1; i++)
        hk_buf_append(&b, "p", 1);
    hk_buf_append_str(&b, "(a)");
    assert_int_equal(hk_statement_parse(b.data, b.len, &st, &err),
                     HK_ERR_INVALID);
    assert_non_null(strstr(err.message, "predicate is 257 bytes"));
    assert_int_equal(err.column, 1);

    /* Argument of exactly the limit (bare and quoted), then one more. */
    for (int quoted = 0; quoted < 2; quoted++) {
        for (int extra = 0; extra < 2; extra++) {
            hk_buf_reset(&b);
            hk_buf_append_str(&b, quoted ? "P(x, \"" : "P(x, ");
            for (int i = 0; i < HK_MAX_ARG_BYTES + extra; i++)
                hk_buf_append(&b, "z", 1);
            hk_buf_append_str(&b, quoted ? "\")" : ")");
            hk_err rc = hk_statement_parse(b.data, b.len, &st, &err);
            if (extra) {
                assert_int_equal(rc, HK_ERR_INVALID);
                assert_non_null(
                    strstr(err.message, "argument 2 is 4097 bytes"));
                assert_int_equal(err.column, 6);
            } else {
                assert_int_equal(rc, HK_OK);
                assert_int_equal(strlen(st.args[1]), HK_MAX_ARG_BYTES);
                hk_statement_release(&st);
            }
        }
    }

    /* Statement text over the limit. */
    hk_buf_reset(&b);
    hk_buf_append_str(&b, "P(a");
    while (b.len <= HK_MAX_STATEMENT_BYTES)
        hk_buf_append_str(&b, "        ");
    hk_buf_append_str(&b, ")");
    assert_int_equal(hk_statement_parse(b.data, b.len, &st, &err),
                     HK_ERR_INVALID);
    assert_non_null(strstr(err.message, "over the limit of 65536"));

    /* Input within the limit whose canonical form is not: 32 args of 2040
     * backslashes need quotes and doubling (2 * 2040 + 2 bytes each). */
    hk_buf_reset(&b);
    hk_buf_append_str(&b, "P(");
    for (int a = 0; a < 32; a++) {
        if (a) hk_buf_append(&b, ",", 1);
        for (int i = 0; i < 2040; i++)
            hk_buf_append(&b, "\\", 1);
    }
    hk_buf_append_str(&b, ")");
    assert_true(b.len <= HK_MAX_STATEMENT_BYTES);
    assert_int_equal(hk_statement_parse(b.data, b.len, &st, &err),
                     HK_ERR_INVALID);
    assert_non_null(strstr(err.message, "canonical form"));
    hk_buf_free(&b);
}

/* ==== Validation of caller-built statements ==== */

static void test_validate(void **state)
{
    (void)state;
    hk_error err;
    hk_statement st = {0};
    st.predicate = "HasPart";
    st.n_args = 2;
    st.args[0] = "Computer";
    st.args[1] = "needs, \"quotes\"";
    assert_int_equal(hk_statement_validate(&st, &err), HK_OK);

    st.args[1] = "";
    assert_int_equal(hk_statement_validate(&st, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "args[1]");
    st.args[1] = NULL;
    assert_int_equal(hk_statement_validate(&st, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "args[1]");
    st.args[1] = "bad\xc3";
    assert_int_equal(hk_statement_validate(&st, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "args[1]");
    assert_non_null(strstr(err.message, "UTF-8"));
    st.args[1] = "line\nbreak";
    assert_int_equal(hk_statement_validate(&st, &err), HK_ERR_INVALID);
    assert_non_null(strstr(err.message, "control character U+000A"));
    st.args[1] = "ok";

    const char *bad_preds[] = {"",   "Has Part", "1abc",   "a-b",
                               "?x", "a(b",      "bad\xff"};
    for (size_t i = 0; i < sizeof bad_preds / sizeof bad_preds[0]; i++) {
        st.predicate = bad_preds[i];
        assert_int_equal(hk_statement_validate(&st, &err), HK_ERR_INVALID);
        assert_string_equal(err.field, "predicate");
    }
    st.predicate = NULL;
    assert_int_equal(hk_statement_validate(&st, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "predicate");
    st.predicate = "Größe";
    assert_int_equal(hk_statement_validate(&st, &err), HK_OK);

    st.n_args = 0;
    assert_int_equal(hk_statement_validate(&st, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "args");
    st.n_args = 33;
    assert_int_equal(hk_statement_validate(&st, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "args");
    assert_int_equal(hk_statement_validate(NULL, &err), HK_ERR_INVALID);

    /* Over-long predicate. */
    char longpred[HK_MAX_PREDICATE_BYTES + 2];
    memset(longpred, 'p', sizeof longpred - 1);
    longpred[sizeof longpred - 1] = '\0';
    st.predicate = longpred;
    assert_int_equal(hk_statement_validate(&st, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "predicate");
    assert_non_null(strstr(err.message, "257 bytes"));
    st.predicate = "P";

    /* Arguments each within limits whose canonical form is too long. */
    char *slashes = malloc(HK_MAX_ARG_BYTES + 1);
    memset(slashes, '\\', HK_MAX_ARG_BYTES);
    slashes[HK_MAX_ARG_BYTES] = '\0';
    st.n_args = 16;
    for (int i = 0; i < 16; i++)
        st.args[i] = slashes;
    assert_int_equal(hk_statement_validate(&st, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "args");
    assert_non_null(strstr(err.message, "canonical form"));
    st.n_args = 7; /* 7 * (2 * 4096 + 2) + 12 bytes fits */
    assert_int_equal(hk_statement_validate(&st, &err), HK_OK);
    free(slashes);
    st.n_args = 2;
    st.args[0] = "Computer";
    st.args[1] = "ok";

    /* Over-long argument. */
    char *big = malloc(HK_MAX_ARG_BYTES + 2);
    memset(big, 'x', HK_MAX_ARG_BYTES + 1);
    big[HK_MAX_ARG_BYTES + 1] = '\0';
    st.n_args = 1;
    st.args[0] = big;
    assert_int_equal(hk_statement_validate(&st, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "args[0]");
    big[HK_MAX_ARG_BYTES] = '\0';
    assert_int_equal(hk_statement_validate(&st, &err), HK_OK);
    free(big);
}

static void test_arg_is_bare(void **state)
{
    (void)state;
    const char *bare[] = {"a",   "North Pacific", "TCP/IP", "F=ma", "95%",
                          "CO₂", "4.6Gyr",        "a_b",    "__",   "x?",
                          "_a",  "a'b",           "[1]",    "ä"};
    const char *not_bare[] = {"",     " a", "a ", "a,b", "a(b",  "a)b",  "a\"b",
                              "a\\b", "_",  "?x", "?",   "a\tb", "a\x7f"};
    for (size_t i = 0; i < sizeof bare / sizeof bare[0]; i++)
        assert_true(hk_arg_is_bare(bare[i]));
    for (size_t i = 0; i < sizeof not_bare / sizeof not_bare[0]; i++)
        assert_false(hk_arg_is_bare(not_bare[i]));
    assert_false(hk_arg_is_bare(NULL));
}

static void test_format_rejects_bad_shape(void **state)
{
    (void)state;
    hk_buf b = HK_BUF_INIT;
    hk_statement st = {0};
    assert_int_equal(hk_statement_format(&st, &b), HK_ERR_INVALID);
    st.predicate = "P";
    assert_int_equal(hk_statement_format(&st, &b), HK_ERR_INVALID);
    st.n_args = 1;
    assert_int_equal(hk_statement_format(&st, &b), HK_ERR_INVALID);
    st.args[0] = "x";
    hk_buf_append_str(&b, "prefix:");
    assert_int_equal(hk_statement_format(&st, &b), HK_OK);
    assert_string_equal(b.data, "prefix:P(x)");
    hk_buf_free(&b);
}

/* ==== Round-trip property on random statements ==== */

static uint64_t g_rng = 0x9E3779B97F4A7C15u; /* xorshift64 state */

static uint64_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

static size_t rnd_below(size_t n)
{
    return (size_t)(rnd() % n);
}

/* Pieces arguments are built from: ordinary text, every character the
 * grammar treats specially, and multi-byte UTF-8. */
static const char *const k_arg_pieces[] = {
    "a",        "Z",     "0",  "9",    " ",    " ",   ",",
    "(",        ")",     "\"", "\\",   "?",    "_",   ".",
    "=",        "%",     "/",  "-",    "+",    ":",   "'",
    ";",        "[",     "]",  "{",    "}",    "!",   "#",
    "é",        "ß",     "€",  "₂",    "日本", "😀",   "\xf4\x8f\xbf\xbf",
    "\xc2\xa0", "North", "x1", "\\\"", "\"\"", "),(",
};
static const char *const k_pred_first[] = {"P", "Has", "_", "é", "日", "z"};
static const char *const k_pred_rest[] = {"a", "Part", "_",  "0",
                                          "9", "ß",    "本", "X"};

static void random_statement(hk_statement *st, char *storage, size_t cap)
{
    size_t used = 0;
    memset(st, 0, sizeof *st);
    char *pred = storage;
    used += (size_t)snprintf(storage, cap, "%s", k_pred_first[rnd_below(6)]);
    for (size_t k = rnd_below(6); k > 0; k--)
        used += (size_t)snprintf(storage + used, cap - used, "%s",
                                 k_pred_rest[rnd_below(8)]);
    used++;
    st->predicate = pred;
    st->n_args = 1 + (uint32_t)rnd_below(rnd_below(4) == 0 ? HK_MAX_ARGS : 4);
    size_t n_pieces = sizeof k_arg_pieces / sizeof k_arg_pieces[0];
    for (uint32_t i = 0; i < st->n_args; i++) {
        char *arg = storage + used;
        size_t alen = 0;
        size_t pieces = 1 + rnd_below(rnd_below(8) == 0 ? 40 : 6);
        for (size_t k = 0; k < pieces; k++)
            alen += (size_t)snprintf(arg + alen, cap - used - alen, "%s",
                                     k_arg_pieces[rnd_below(n_pieces)]);
        used += alen + 1;
        st->args[i] = arg;
    }
}

/* Writes st in a random non-canonical but equivalent spelling. */
static void random_spelling(const hk_statement *st, hk_buf *b)
{
    static const char *const blanks[] = {"", "", " ", "\t", "  ", " \t "};
    hk_buf_reset(b);
    hk_buf_append_str(b, blanks[rnd_below(6)]);
    hk_buf_append_str(b, st->predicate);
    hk_buf_append_str(b, blanks[rnd_below(6)]);
    hk_buf_append_str(b, "(");
    for (uint32_t i = 0; i < st->n_args; i++) {
        if (i) hk_buf_append_str(b, ",");
        hk_buf_append_str(b, blanks[rnd_below(6)]);
        const char *a = st->args[i];
        /* Bare when possible and chosen; "?x" and "_" are constants in a
         * statement either way. */
        if ((hk_arg_is_bare(a) || strcmp(a, "_") == 0 || a[0] == '?') &&
            strpbrk(a, ",()\"\\") == NULL && a[0] != ' ' &&
            a[strlen(a) - 1] != ' ' && rnd_below(2)) {
            hk_buf_append_str(b, a);
        } else {
            hk_buf_append_str(b, "\"");
            for (const char *p = a; *p; p++) {
                if (*p == '"' || *p == '\\') hk_buf_append(b, "\\", 1);
                hk_buf_append(b, p, 1);
            }
            hk_buf_append_str(b, "\"");
        }
        hk_buf_append_str(b, blanks[rnd_below(6)]);
    }
    hk_buf_append_str(b, ")");
    static const char *const tails[] = {"", ".", " . ", "\n", ".\r\n", "\t"};
    hk_buf_append_str(b, tails[rnd_below(6)]);
}

static void assert_same_statement(const hk_statement *a, const hk_statement *b)
{
    assert_string_equal(a->predicate, b->predicate);
    assert_int_equal(a->n_args, b->n_args);
    for (uint32_t i = 0; i < a->n_args; i++)
        assert_string_equal(a->args[i], b->args[i]);
}

static void test_random_round_trip(void **state)
{
    (void)state;
    size_t cap = 64 * 1024;
    char *storage = malloc(cap);
    hk_buf canon = HK_BUF_INIT, canon2 = HK_BUF_INIT, spelled = HK_BUF_INIT;
    int checked = 0;
    for (int iter = 0; iter < 10000; iter++) {
        hk_statement st;
        hk_error err;
        random_statement(&st, storage, cap);
        if (hk_statement_validate(&st, &err) != HK_OK)
            fail_msg("generated statement invalid: %s", err.message);
        hk_buf_reset(&canon);
        assert_int_equal(hk_statement_format(&st, &canon), HK_OK);
        assert_int_equal(strlen(canon.data), canon.len);

        hk_statement parsed;
        if (hk_statement_parse(canon.data, canon.len, &parsed, &err) != HK_OK)
            fail_msg("canonical '%s' rejected: %s", canon.data, err.message);
        assert_same_statement(&st, &parsed);
        hk_buf_reset(&canon2);
        assert_int_equal(hk_statement_format(&parsed, &canon2), HK_OK);
        assert_string_equal(canon.data, canon2.data);
        hk_statement_release(&parsed);

        /* Any equivalent spelling parses to the same statement. */
        random_spelling(&st, &spelled);
        if (hk_statement_parse(spelled.data, spelled.len, &parsed, &err) !=
            HK_OK)
            fail_msg("spelling '%s' rejected: %s", spelled.data, err.message);
        assert_same_statement(&st, &parsed);
        hk_statement_release(&parsed);
        checked++;
    }
    assert_int_equal(checked, 10000);
    hk_buf_free(&canon);
    hk_buf_free(&canon2);
    hk_buf_free(&spelled);
    free(storage);
}

/* Random byte edits of valid statements: the parser either accepts (and
 * then the canonical form round-trips) or rejects with a column inside the
 * input. */
static void test_random_mutations(void **state)
{
    (void)state;
    static const char alphabet[] =
        "(),\" \t\\.?_a\n\x01\xc3\xa4\xe2\x82\x82\xff";
    size_t cap = 64 * 1024;
    char *storage = malloc(cap);
    hk_buf text = HK_BUF_INIT, canon = HK_BUF_INIT;
    int accepted = 0, rejected = 0;
    for (int iter = 0; iter < 10000; iter++) {
        hk_statement st;
        random_statement(&st, storage, cap);
        hk_buf_reset(&text);
        hk_statement_format(&st, &text);
        for (size_t k = 1 + rnd_below(3); k > 0 && text.len > 0; k--) {
            size_t at = rnd_below(text.len);
            text.data[at] = alphabet[rnd_below(sizeof alphabet - 1)];
        }
        hk_statement parsed;
        hk_error err;
        hk_error_clear(&err);
        if (hk_statement_parse(text.data, text.len, &parsed, &err) == HK_OK) {
            accepted++;
            hk_buf_reset(&canon);
            assert_int_equal(hk_statement_format(&parsed, &canon), HK_OK);
            hk_statement again;
            assert_int_equal(
                hk_statement_parse(canon.data, canon.len, &again, &err), HK_OK);
            assert_same_statement(&parsed, &again);
            hk_statement_release(&again);
            hk_statement_release(&parsed);
        } else {
            rejected++;
            assert_int_equal(err.code, HK_ERR_INVALID);
            assert_true(err.column >= 1);
            assert_true(err.column <= text.len + 1);
            assert_true(hk_utf8_valid(err.message, strlen(err.message), NULL));
        }
    }
    assert_true(accepted > 100);
    assert_true(rejected > 100);
    hk_buf_free(&text);
    hk_buf_free(&canon);
    free(storage);
}

/* ==== Allocation failures ==== */

static void test_parse_alloc_failure(void **state)
{
    (void)state;
    const char *text = "Says(Bob, \"Hello, world\", CO₂)";
    int failures = 0;
    for (long budget = 0; budget < 10; budget++) {
        hk_statement st;
        hk_error err;
        hk_error_clear(&err);
        hk_mem_fail_after(budget);
        hk_err rc = hk_statement_parse(text, strlen(text), &st, &err);
        hk_mem_fail_after(-1);
        if (rc == HK_OK) {
            assert_string_equal(st.args[1], "Hello, world");
            hk_statement_release(&st);
            break;
        }
        failures++;
        assert_int_equal(rc, HK_ERR_NOMEM);
        assert_int_equal(err.code, HK_ERR_NOMEM);
        assert_null(st.owned);
    }
    assert_true(failures >= 1);

    /* Formatting under failure leaves the buffer's old content intact. */
    hk_statement st;
    assert_int_equal(hk_statement_parse(text, strlen(text), &st, NULL), HK_OK);
    failures = 0;
    for (long budget = 0; budget < 10; budget++) {
        hk_buf b = HK_BUF_INIT;
        hk_mem_fail_after(budget);
        hk_err rc = hk_statement_format(&st, &b);
        hk_mem_fail_after(-1);
        if (rc == HK_OK) {
            assert_string_equal(b.data, "Says(Bob, \"Hello, world\", CO₂)");
            hk_buf_free(&b);
            break;
        }
        failures++;
        assert_int_equal(rc, HK_ERR_NOMEM);
        assert_true(b.data == NULL || b.data[0] == '\0');
        assert_int_equal(b.len, 0);
        hk_buf_free(&b);
    }
    assert_true(failures >= 1);
    hk_statement_release(&st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_statements),
        cmocka_unit_test(test_invalid_statements),
        cmocka_unit_test(test_error_message_format),
        cmocka_unit_test(test_arity_limits),
        cmocka_unit_test(test_length_limits),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_arg_is_bare),
        cmocka_unit_test(test_format_rejects_bad_shape),
        cmocka_unit_test(test_random_round_trip),
        cmocka_unit_test(test_random_mutations),
        cmocka_unit_test(test_parse_alloc_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
