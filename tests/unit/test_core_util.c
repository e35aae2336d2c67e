/*
 * test_core_util.c — the version, errors, hk_buf, JSON string escaping,
 * UTF-8, time, SHA-256, hex, tokenizer and fact JSON output.
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
#include <math.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/mem.h"
#include "core/sha256.h"
#include "core/tokenize.h"
#include "core/utf8.h"
#include "hakgal.h"

/* ==== Version ==== */

/* The library reports the version of the header it was built with, as
 * digits.digits.digits. */
static void test_version(void **state)
{
    (void)state;
    const char *v = hk_version();
    assert_non_null(v);
    assert_string_equal(v, HK_VERSION);
    assert_ptr_equal(hk_version(), v); /* static, not allocated per call */
    unsigned major, minor, patch;
    char end;
    assert_int_equal(sscanf(v, "%u.%u.%u%c", &major, &minor, &patch, &end), 3);
}

/* ==== Errors ==== */

static void test_strerror_and_error_set(void **state)
{
    (void)state;
    for (int c = HK_OK; c <= HK_ERR_VERSION; c++) {
        const char *s = hk_strerror((hk_err)c);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
        assert_string_not_equal(s, "unknown error");
    }
    assert_string_equal(hk_strerror((hk_err)999), "unknown error");

    hk_error e;
    hk_error_clear(&e);
    e.line = 7;
    e.column = 3;
    strcpy(e.field, "x");
    assert_int_equal(hk_error_set(&e, HK_ERR_IO, "open %s: %d", "f", 2),
                     HK_ERR_IO);
    assert_int_equal(e.code, HK_ERR_IO);
    assert_string_equal(e.message, "open f: 2");
    assert_int_equal(e.line, 0);
    assert_int_equal(e.column, 0);
    assert_string_equal(e.field, "");
    assert_int_equal(hk_error_set(NULL, HK_ERR_FULL, "x"), HK_ERR_FULL);
    /* Adding context to the error's own message is safe. */
    strcpy(e.field, "args[1]");
    hk_error_set(&e, HK_ERR_INVALID, "line 3: %s (%s)", e.message, e.field);
    assert_string_equal(e.message, "line 3: open f: 2 (args[1])");
    assert_string_equal(e.field, "");

    /* A message longer than the field is cut at a character boundary. */
    char big[1200];
    size_t off = 0;
    while (off + 2 < sizeof big - 1) {
        memcpy(big + off, "é", 2); /* 2 bytes each */
        off += 2;
    }
    big[off] = '\0';
    for (int shift = 0; shift < 4; shift++) {
        hk_error_set(&e, HK_ERR_INVALID, "%.*s%s", shift, "xxx", big);
        size_t n = strlen(e.message);
        assert_true(n < sizeof e.message);
        assert_true(n >= sizeof e.message - 4);
        assert_true(hk_utf8_valid(e.message, n, NULL));
    }
}

/* ==== Buffers ==== */

static void test_buf_growth(void **state)
{
    (void)state;
    hk_buf b = HK_BUF_INIT;
    assert_null(b.data);
    assert_int_equal(hk_buf_append(&b, "", 0), HK_OK);
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    size_t reallocs = 0, last_cap = b.cap;
    for (int i = 0; i < 100000; i++) {
        assert_int_equal(hk_buf_appendf(&b, "%d,", i % 10), HK_OK);
        if (b.cap != last_cap) {
            reallocs++;
            assert_true(b.cap >= 2 * last_cap); /* geometric */
            last_cap = b.cap;
        }
        assert_int_equal(b.data[b.len], '\0');
    }
    assert_int_equal(b.len, 200000);
    assert_true(reallocs < 20);
    assert_memory_equal(b.data, "0,1,2,", 6);
    hk_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    assert_true(b.cap >= 200000);

    /* appendf larger than the free space. */
    char long_arg[5000];
    memset(long_arg, 'q', sizeof long_arg - 1);
    long_arg[sizeof long_arg - 1] = '\0';
    hk_buf_free(&b);
    assert_int_equal(hk_buf_append_str(&b, "<"), HK_OK);
    assert_int_equal(hk_buf_appendf(&b, "%s>", long_arg), HK_OK);
    assert_int_equal(b.len, 5001);
    assert_int_equal(b.data[0], '<');
    assert_int_equal(b.data[4999], 'q');
    assert_int_equal(b.data[5000], '>');
    hk_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.cap, 0);
}

static void test_buf_alloc_failure(void **state)
{
    (void)state;
    hk_buf b = HK_BUF_INIT;
    assert_int_equal(hk_buf_append_str(&b, "keep"), HK_OK);
    char big[200];
    memset(big, 'z', sizeof big);
    hk_mem_fail_after(0);
    assert_int_equal(hk_buf_append(&b, big, sizeof big), HK_ERR_NOMEM);
    assert_int_equal(hk_buf_appendf(&b, "%.*s", 150, big), HK_ERR_NOMEM);
    assert_int_equal(hk_buf_append_json_string(&b, big, sizeof big),
                     HK_ERR_NOMEM);
    hk_mem_fail_after(-1);
    assert_true(b.len == 4);
    assert_string_equal(b.data, "keep"); /* untouched by the failures */
    hk_buf_free(&b);
}

static void expect_json(const char *in, size_t len, const char *want)
{
    hk_buf b = HK_BUF_INIT;
    assert_int_equal(hk_buf_append_json_string(&b, in, len), HK_OK);
    assert_string_equal(b.data, want);
    hk_buf_free(&b);
}

static void test_json_string(void **state)
{
    (void)state;
    expect_json("", 0, "\"\"");
    expect_json("plain", 5, "\"plain\"");
    expect_json("q\"b\\", 4, "\"q\\\"b\\\\\"");
    expect_json("\b\f\n\r\t", 5, "\"\\b\\f\\n\\r\\t\"");
    expect_json("\x01\x1f", 2, "\"\\u0001\\u001f\"");
    expect_json("a\0b", 3, "\"a\\u0000b\"");
    expect_json("CO₂ 😀 /", strlen("CO₂ 😀 /"), "\"CO₂ 😀 /\"");
    /* Invalid UTF-8 becomes U+FFFD. */
    expect_json("a\xff"
                "b\xc3",
                4,
                "\"a\xef\xbf\xbd"
                "b\xef\xbf\xbd\"");
    expect_json("\xed\xa0\x80", 3, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");

    /* Every byte value round-trips through jansson where valid. */
    char all[128];
    for (int i = 0; i < 128; i++)
        all[i] = (char)i;
    hk_buf b = HK_BUF_INIT;
    assert_int_equal(hk_buf_append_json_string(&b, all, sizeof all), HK_OK);
    json_error_t jerr;
    json_t *j =
        json_loadb(b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    assert_non_null(j);
    assert_int_equal(json_string_length(j), 128);
    assert_memory_equal(json_string_value(j), all, 128);
    json_decref(j);
    hk_buf_free(&b);
}

/* ==== UTF-8 ==== */

static void test_utf8(void **state)
{
    (void)state;
    size_t bad = 99;
    assert_true(hk_utf8_valid("", 0, &bad));
    assert_true(hk_utf8_valid("aé€😀\xf4\x8f\xbf\xbf", 14, &bad));
    assert_true(hk_utf8_valid("\xed\x9f\xbf\xee\x80\x80", 6, NULL));
    struct {
        const char *s;
        size_t off;
    } bads[] = {
        {"ab\x80", 2},           {"\xc0\x80", 0},
        {"\xc1\xbf", 0},         {"x\xe0\x9f\xbf", 1},
        {"\xed\xa0\x80", 0},     {"\xed\xbf\xbf", 0},
        {"\xf0\x8f\xbf\xbf", 0}, {"\xf4\x90\x80\x80", 0},
        {"\xf5\x80\x80\x80", 0}, {"é\xe2\x82", 2},
        {"\xe2\x82x", 0},        {"\xff", 0},
        {"ok\xf0\x9f\x98", 2},
    };
    for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
        bad = 99;
        assert_false(hk_utf8_valid(bads[i].s, strlen(bads[i].s), &bad));
        assert_int_equal(bad, bads[i].off);
    }
}

/* ==== Time ==== */

static void test_time_format(void **state)
{
    (void)state;
    char out[32];
    hk_time_format(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00.000000Z");
    hk_time_format(INT64_C(1795686279123456), out);
    assert_string_equal(out, "2026-11-26T09:44:39.123456Z");
    hk_time_format(-1, out);
    assert_string_equal(out, "1969-12-31T23:59:59.999999Z");
    hk_time_format(INT64_C(951782400000000), out); /* leap day 2000 */
    assert_string_equal(out, "2000-02-29T00:00:00.000000Z");
    hk_time_format(INT64_MAX, out);
    assert_true(strlen(out) < 32);
    hk_time_format(INT64_MIN, out);
    assert_true(strlen(out) < 32);
}

static void test_time_parse(void **state)
{
    (void)state;
    struct {
        const char *s;
        int64_t us;
    } ok[] = {
        {"2026-11-26T09:44:39.123456Z", INT64_C(1795686279123456)},
        {"2026-11-26t09:44:39.123456z", INT64_C(1795686279123456)},
        {"2026-11-26 09:44:39.123456Z", INT64_C(1795686279123456)},
        {"2026-11-26T11:44:39.123456+02:00", INT64_C(1795686279123456)},
        {"2026-11-26T04:14:39.123456-05:30", INT64_C(1795686279123456)},
        {"2026-11-26T09:44:39Z", INT64_C(1795686279000000)},
        {"2026-11-26T09:44:39.1Z", INT64_C(1795686279100000)},
        {"2026-11-26T09:44:39.123456789Z", INT64_C(1795686279123456)},
        {"1970-01-01T00:00:00Z", 0},
        {"1969-12-31T23:59:59.999999Z", -1},
        {"2000-02-29T00:00:00Z", INT64_C(951782400000000)},
        {"1795686279", INT64_C(1795686279000000)},
        {"0", 0},
        {"-1", -1000000},
        {"253402300799", INT64_C(253402300799000000)},
        {"-62167219200", INT64_C(-62167219200000000)},
        {"9999-12-31T23:59:59.999999Z", INT64_C(253402300799999999)},
        {"0000-01-01T00:00:00Z", INT64_C(-62167219200000000)},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t us = 12345;
        hk_error err;
        if (hk_time_parse(ok[i].s, &us, &err) != HK_OK)
            fail_msg("'%s': %s", ok[i].s, err.message);
        assert_int_equal(us, ok[i].us);
    }
    const char *bad[] = {"",
                         "2026-11",
                         "2026-13-01T00:00:00Z",
                         "2026-02-29T00:00:00Z",
                         "2026-04-31T00:00:00Z",
                         "2026-11-26T24:00:00Z",
                         "2026-11-26T09:60:00Z",
                         "2026-11-26T09:44:61Z",
                         "2026-11-26T09:44:39",
                         "2026-11-26T09:44:39.Z",
                         "2026-11-26T09:44:39.1234567890Z",
                         "2026-11-26T09:44:39+0200",
                         "2026-11-26T09:44:39Z ",
                         "2026-11-26X09:44:39Z",
                         "12a",
                         "99999999999999999999",
                         "--1",
                         "2026-1-26T09:44:39Z",
                         "2092021223450", /* year > 9999 (fuzz find) */
                         "253402300800",
                         "-62167219201",
                         "9999-12-31T23:59:59-01:00",
                         "0000-01-01T00:00:00+00:01",
                         "-",
                         "2026x11-26T09:44:39Z",
                         "2026-11-26T09x44:39Z",
                         "2026-11-26T09:44x39Z",
                         "2026-11-26T09:44:39+02x00",
                         "2026-11-26T09:44:39+02:6x",
                         "2026-11-26T09:44:39+24:00"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t us = 0;
        hk_error err;
        hk_error_clear(&err);
        if (hk_time_parse(bad[i], &us, &err) != HK_ERR_INVALID)
            fail_msg("'%s' accepted", bad[i]);
        assert_int_equal(err.code, HK_ERR_INVALID);
        assert_true(strlen(err.message) > 0);
    }
    assert_int_equal(hk_time_parse(NULL, NULL, NULL), HK_ERR_INVALID);
}

static void test_time_round_trip(void **state)
{
    (void)state;
    srand(42);
    for (int i = 0; i < 20000; i++) {
        /* Spread over years 0000..9999 (RFC 3339's range). */
        int64_t lo = INT64_C(-62167219200000000);   /* 0000-01-01 */
        int64_t span = INT64_C(315537897600000000); /* to 10000-01-01 */
        uint64_t r = ((uint64_t)rand() << 33) ^ ((uint64_t)rand() << 11) ^
                     (uint64_t)rand();
        int64_t us = lo + (int64_t)(r % (uint64_t)span);
        char text[32];
        hk_time_format(us, text);
        int64_t back = 0;
        hk_error err;
        if (hk_time_parse(text, &back, &err) != HK_OK)
            fail_msg("'%s': %s", text, err.message);
        assert_int_equal(back, us);
    }
    int64_t now = hk_now_us();
    assert_true(now > INT64_C(1700000000000000)); /* after 2023 */
    char text[32];
    hk_time_format(now, text);
    int64_t back;
    assert_int_equal(hk_time_parse(text, &back, NULL), HK_OK);
    assert_int_equal(back, now);
}

/* ==== SHA-256 and hex ==== */

static void test_sha256(void **state)
{
    (void)state;
    uint8_t d[32];
    char hex[65];
    hk_sha256("abc", 3, d);
    hk_hex(d, 32, hex);
    assert_string_equal(
        hex,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    hk_sha256("", 0, d);
    hk_hex(d, 32, hex);
    assert_string_equal(
        hex,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *two_blocks =
        "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    hk_sha256(two_blocks, strlen(two_blocks), d);
    hk_hex(d, 32, hex);
    assert_string_equal(
        hex,
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    uint8_t bytes[3] = {0x00, 0xAB, 0xFF};
    char h[7];
    hk_hex(bytes, 3, h);
    assert_string_equal(h, "00abff");
    hk_hex(bytes, 0, h);
    assert_string_equal(h, "");
}

/* ==== Tokenizer ==== */

typedef struct tok_list {
    char joined[512]; /* tokens joined by '|' */
    int count;        /* tokens seen */
    int stop_after;   /* return HK_ERR_LIMIT after this many (0: never) */
} tok_list;

static hk_err collect(void *ud, const char *tok, size_t len)
{
    tok_list *t = ud;
    size_t used = strlen(t->joined);
    snprintf(t->joined + used, sizeof t->joined - used, "%s%.*s",
             t->count ? "|" : "", (int)len, tok);
    t->count++;
    if (t->stop_after && t->count >= t->stop_after) return HK_ERR_LIMIT;
    return HK_OK;
}

static void expect_tokens(const char *text, const char *want)
{
    tok_list t = {{0}, 0, 0};
    assert_int_equal(hk_tokenize(text, strlen(text), collect, &t), HK_OK);
    if (strcmp(t.joined, want) != 0)
        fail_msg("tokenize('%s') = '%s', expected '%s'", text, t.joined, want);
}

static void test_tokenize(void **state)
{
    (void)state;
    expect_tokens("HasPart", "has|part");
    expect_tokens("TCP/IP", "tcp|ip");
    expect_tokens("CO2", "co|2");
    expect_tokens("XMLParser", "xml|parser");
    expect_tokens("getHTTPResponse", "get|http|response");
    expect_tokens("North Pacific", "north|pacific");
    expect_tokens("4.6Gyr", "4|6|gyr");
    expect_tokens("F=ma", "f|ma");
    expect_tokens("95%", "95");
    expect_tokens("CO₂", "co₂");
    expect_tokens("Größe", "größe");
    expect_tokens("ABC", "abc");
    expect_tokens("A", "a");
    expect_tokens("aB", "a|b");
    expect_tokens("IPv6Address", "i|pv|6|address");
    expect_tokens("snake_case_name", "snake|case|name");
    expect_tokens("  --  ", "");
    expect_tokens("", "");
    expect_tokens("Ünïcödé—dash", "Ünïcödé|dash"); /* ASCII-only folding */
    expect_tokens("a\xff"
                  "b",
                  "a|b");
    expect_tokens("x «quoted» y", "x|quoted|y");
    expect_tokens("a😀b→C", "a😀b|c");
    expect_tokens("pH7.4", "p|h|7|4");

    /* Early stop returns the callback's code. */
    tok_list t = {{0}, 0, 2};
    const char *text = "one two three";
    assert_int_equal(hk_tokenize(text, strlen(text), collect, &t),
                     HK_ERR_LIMIT);
    assert_int_equal(t.count, 2);

    /* A long token needing lower-casing goes through the heap path. */
    char longtok[1000];
    memset(longtok, 'A', sizeof longtok - 1);
    longtok[sizeof longtok - 1] = '\0';
    tok_list big = {{0}, 0, 0};
    assert_int_equal(hk_tokenize(longtok, strlen(longtok), collect, &big),
                     HK_OK);
    assert_int_equal(big.count, 1);
    assert_int_equal(big.joined[0], 'a');
    hk_mem_fail_after(0);
    tok_list big2 = {{0}, 0, 0};
    assert_int_equal(hk_tokenize(longtok, strlen(longtok), collect, &big2),
                     HK_ERR_NOMEM);
    hk_mem_fail_after(-1);
}

/* ==== Fact JSON ==== */

static void test_fact_json(void **state)
{
    (void)state;
    hk_fact f;
    hk_fact_init(&f);
    f.id = 1;
    f.st.predicate = "HasPart";
    f.st.n_args = 2;
    f.st.args[0] = "Computer";
    f.st.args[1] = "CPU";
    f.confidence = 1.0;
    f.created_us = INT64_C(1795686279123456);
    f.updated_us = INT64_C(1795686279123457);
    hk_buf out = HK_BUF_INIT;
    assert_int_equal(hk_fact_write_json(&f, &out), HK_OK);
    assert_string_equal(
        out.data,
        "{\"id\":1,\"statement\":\"HasPart(Computer, CPU)\",\"predicate\":"
        "\"HasPart\",\"args\":[\"Computer\",\"CPU\"],\"confidence\":1.0,"
        "\"source\":null,\"tags\":[],\"context\":null,"
        "\"created\":\"2026-11-26T09:44:39.123456Z\","
        "\"updated\":\"2026-11-26T09:44:39.123457Z\"}");

    /* Metadata, quoting, and exact confidence round trip via jansson. */
    hk_buf_reset(&out);
    f.id = UINT64_C(9223372036854775807);
    f.st.args[1] = "say \"hi\", (ok)";
    f.confidence = 0.1;
    f.source = "wiki\n";
    const char *tags[] = {"a", "b\"c"};
    f.n_tags = 2;
    f.tags[0] = tags[0];
    f.tags[1] = tags[1];
    f.context_json = "{\"k\": [1, 2]}";
    assert_int_equal(hk_fact_write_json(&f, &out), HK_OK);
    json_error_t jerr;
    json_t *j = json_loadb(out.data, out.len, 0, &jerr);
    if (!j) fail_msg("bad JSON %s: %s", out.data, jerr.text);
    assert_string_equal(json_string_value(json_object_get(j, "statement")),
                        "HasPart(Computer, \"say \\\"hi\\\", (ok)\")");
    assert_true(json_real_value(json_object_get(j, "confidence")) == 0.1);
    assert_string_equal(json_string_value(json_object_get(j, "source")),
                        "wiki\n");
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(j, "tags"), 1)),
        "b\"c");
    assert_int_equal(
        json_integer_value(json_array_get(
            json_object_get(json_object_get(j, "context"), "k"), 1)),
        2);
    assert_non_null(strstr(out.data, "\"id\":9223372036854775807,"));
    json_decref(j);

    /* Confidences print short and read back exactly. */
    double values[] = {
        0.0, 1.0, 0.5, 0.1, 0.3, 1.0 / 3.0, 0.95, 1e-7, 0.123456789012345678};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        hk_buf_reset(&out);
        f.confidence = values[i];
        assert_int_equal(hk_fact_write_json(&f, &out), HK_OK);
        const char *c = strstr(out.data, "\"confidence\":") + 13;
        assert_true(strtod(c, NULL) == values[i]);
    }
    hk_buf_reset(&out);
    f.confidence = 0.95;
    assert_int_equal(hk_fact_write_json(&f, &out), HK_OK);
    assert_non_null(strstr(out.data, "\"confidence\":0.95,"));

    /* JSON has no NaN: a non-finite confidence is written as null. */
    hk_buf_reset(&out);
    f.confidence = NAN;
    assert_int_equal(hk_fact_write_json(&f, &out), HK_OK);
    assert_non_null(strstr(out.data, "\"confidence\":null,"));

    /* Appends after existing content; a failure leaves it untouched. */
    hk_buf_reset(&out);
    hk_buf_append_str(&out, "[");
    f.st.n_args = 0; /* invalid statement */
    assert_int_equal(hk_fact_write_json(&f, &out), HK_ERR_INVALID);
    assert_string_equal(out.data, "[");
    hk_buf_free(&out);

    /* Release frees what the fact owns and resets it. */
    assert_int_equal(hk_buf_append_str(&f.mem, "owned strings"), HK_OK);
    assert_int_equal(hk_statement_parse("P(x)", 4, &f.st, NULL), HK_OK);
    hk_fact_release(&f);
    assert_null(f.mem.data);
    assert_null(f.st.owned);
    assert_int_equal(f.id, 0);
    hk_fact_release(&f); /* idempotent */
}

static void test_fact_json_alloc_failure(void **state)
{
    (void)state;
    hk_fact f;
    hk_fact_init(&f);
    f.id = 42;
    f.st.predicate = "P";
    f.st.n_args = 1;
    f.st.args[0] = "a b";
    f.confidence = 0.25;
    f.source = "src";
    f.n_tags = 1;
    f.tags[0] = "t";
    f.context_json = "{}";
    int failures = 0;
    for (long budget = 0; budget < 20; budget++) {
        hk_buf out = HK_BUF_INIT;
        assert_int_equal(hk_buf_append_str(&out, "pre"), HK_OK);
        hk_mem_fail_after(budget);
        hk_err rc = hk_fact_write_json(&f, &out);
        hk_mem_fail_after(-1);
        if (rc == HK_OK) {
            assert_non_null(strstr(out.data, "\"confidence\":0.25,"));
            assert_memory_equal(out.data, "pre{", 4);
            hk_buf_free(&out);
            break;
        }
        failures++;
        assert_int_equal(rc, HK_ERR_NOMEM);
        assert_string_equal(out.data, "pre");
        hk_buf_free(&out);
    }
    assert_true(failures >= 1);
    assert_false(hk_mem_fail_triggered()); /* reset by fail_after(-1) */
}

static void test_mem_hook(void **state)
{
    (void)state;
    hk_mem_fail_after(2);
    void *a = hk_malloc(8);
    char *b = hk_strdup("xy");
    assert_non_null(a);
    assert_non_null(b);
    assert_false(hk_mem_fail_triggered());
    assert_null(hk_malloc(8));
    assert_null(hk_calloc(2, 2));
    assert_null(hk_realloc(a, 64));
    assert_true(hk_mem_fail_triggered());
    hk_mem_fail_after(-1);
    assert_string_equal(b, "xy");
    void *c = hk_realloc(a, 64);
    assert_non_null(c);
    assert_null(hk_calloc(SIZE_MAX / 2, 4)); /* overflow */
    char *d = hk_strndup("abcdef", 3);
    assert_string_equal(d, "abc");
    hk_free(c);
    hk_free(b);
    hk_free(d);
    hk_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_strerror_and_error_set),
        cmocka_unit_test(test_buf_growth),
        cmocka_unit_test(test_buf_alloc_failure),
        cmocka_unit_test(test_json_string),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_time_format),
        cmocka_unit_test(test_time_parse),
        cmocka_unit_test(test_time_round_trip),
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_tokenize),
        cmocka_unit_test(test_fact_json),
        cmocka_unit_test(test_fact_json_alloc_failure),
        cmocka_unit_test(test_mem_hook),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
