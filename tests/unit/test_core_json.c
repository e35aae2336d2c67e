/*
 * test_core_json.c — the fast JSON writers (hk_fact_write_json,
 * hk_buf_append_json_string, hk_time_format) against simple references,
 * and hk_json_dumps's reals (core/json_text.h).
 *
 * The writers avoid printf and write through raw pointers for speed; their
 * output must stay byte-identical to the straightforward implementation
 * they replaced. The references below are that implementation (printf for
 * numbers and times, a byte-at-a-time escaper, hk_statement_format for the
 * statement text), plus gmtime_r as an independent oracle for dates.
 * Random inputs come from a fixed-seed generator, so failures reproduce.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <float.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>

#include "core/buf.h"
#include "core/json_text.h"
#include "core/mem.h"
#include "core/utf8.h"
#include "hakgal.h"

/* ==== Deterministic random numbers ==== */

static uint64_t rng_state = UINT64_C(0x2545F4914F6CDD1D);

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* ==== References ==== */

/* RFC 3339 text via snprintf and the civil-date formula. */
static int64_t ref_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
    return q;
}

static void ref_time_format(int64_t us, char out[32])
{
    int64_t secs = us / 1000000;
    int64_t frac = us % 1000000;
    if (frac < 0) {
        frac += 1000000;
        secs -= 1;
    }
    int64_t days = ref_floor_div(secs, 86400);
    int64_t sod = secs - days * 86400;
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1);
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    int64_t y = yoe + era * 400 + (m <= 2);
    char text[96];
    snprintf(text, sizeof text, "%04" PRId64 "-%02u-%02uT%02u:%02u:%02u.%06uZ",
             y, (unsigned)m, (unsigned)d, (unsigned)(sod / 3600),
             (unsigned)(sod / 60 % 60), (unsigned)(sod % 60), (unsigned)frac);
    size_t n = strlen(text);
    if (n > 31) n = 31;
    memcpy(out, text, n);
    out[n] = '\0';
}

/* The same text from the C library's calendar (years 0..9999). */
static void gmtime_time_format(int64_t us, char out[32])
{
    time_t secs = (time_t)ref_floor_div(us, 1000000);
    int64_t frac = us - (int64_t)secs * 1000000;
    struct tm tm;
    assert_non_null(gmtime_r(&secs, &tm));
    char text[96]; /* wider than needed: quiets truncation analysis */
    snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (int)frac);
    assert_true(strlen(text) < 32);
    strcpy(out, text);
}

/* JSON string literal, one byte at a time. */
static void ref_json_string(hk_buf *b, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    char esc[8];
    assert_int_equal(hk_buf_append(b, "\"", 1), HK_OK);
    for (size_t i = 0; i < len;) {
        unsigned char c = p[i];
        if (c >= 0x80) {
            size_t n = hk_utf8_seq_len(p + i, len - i);
            if (n == 0) {
                assert_int_equal(hk_buf_append(b, "\xEF\xBF\xBD", 3), HK_OK);
                i++;
            } else {
                assert_int_equal(hk_buf_append(b, p + i, n), HK_OK);
                i += n;
            }
            continue;
        }
        i++;
        const char *e = NULL;
        switch (c) {
        case '"':
            e = "\\\"";
            break;
        case '\\':
            e = "\\\\";
            break;
        case '\b':
            e = "\\b";
            break;
        case '\f':
            e = "\\f";
            break;
        case '\n':
            e = "\\n";
            break;
        case '\r':
            e = "\\r";
            break;
        case '\t':
            e = "\\t";
            break;
        default:
            if (c < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", c);
                e = esc;
            }
        }
        if (e)
            assert_int_equal(hk_buf_append_str(b, e), HK_OK);
        else
            assert_int_equal(hk_buf_append(b, &c, 1), HK_OK);
    }
    assert_int_equal(hk_buf_append(b, "\"", 1), HK_OK);
}

/* Shortest of %.15g / %.17g that reads back, always with '.' or 'e'. */
static void ref_format_double(double v, char out[40])
{
    snprintf(out, 40, "%.15g", v);
    if (strtod(out, NULL) != v) snprintf(out, 40, "%.17g", v);
    if (!strpbrk(out, ".eE")) strcat(out, ".0");
}

static void ref_nullable_string(hk_buf *b, const char *s)
{
    if (!s)
        assert_int_equal(hk_buf_append_str(b, "null"), HK_OK);
    else
        ref_json_string(b, s, strlen(s));
}

/* The fact object, piece by piece with printf and a temporary statement. */
static void ref_fact_json(const hk_fact *f, hk_buf *out)
{
    hk_buf stmt = HK_BUF_INIT;
    char when[32], num[40];
    assert_int_equal(hk_statement_format(&f->st, &stmt), HK_OK);
    assert_int_equal(hk_buf_appendf(out, "{\"id\":%llu,\"statement\":",
                                    (unsigned long long)f->id),
                     HK_OK);
    ref_json_string(out, stmt.data, stmt.len);
    hk_buf_free(&stmt);
    assert_int_equal(hk_buf_append_str(out, ",\"predicate\":"), HK_OK);
    ref_nullable_string(out, f->st.predicate);
    assert_int_equal(hk_buf_append_str(out, ",\"args\":["), HK_OK);
    for (uint32_t i = 0; i < f->st.n_args; i++) {
        if (i) assert_int_equal(hk_buf_append_str(out, ","), HK_OK);
        ref_nullable_string(out, f->st.args[i]);
    }
    if (isfinite(f->confidence)) {
        ref_format_double(f->confidence, num);
        assert_int_equal(hk_buf_appendf(out, "],\"confidence\":%s", num),
                         HK_OK);
    } else {
        assert_int_equal(hk_buf_append_str(out, "],\"confidence\":null"),
                         HK_OK);
    }
    assert_int_equal(hk_buf_append_str(out, ",\"source\":"), HK_OK);
    ref_nullable_string(out, f->source);
    assert_int_equal(hk_buf_append_str(out, ",\"tags\":["), HK_OK);
    for (uint32_t i = 0; i < f->n_tags && i < HK_MAX_TAGS; i++) {
        if (i) assert_int_equal(hk_buf_append_str(out, ","), HK_OK);
        ref_nullable_string(out, f->tags[i]);
    }
    assert_int_equal(hk_buf_append_str(out, "],\"context\":"), HK_OK);
    assert_int_equal(
        hk_buf_append_str(out, f->context_json && f->context_json[0]
                                   ? f->context_json
                                   : "null"),
        HK_OK);
    ref_time_format(f->created_us, when);
    assert_int_equal(hk_buf_appendf(out, ",\"created\":\"%s\"", when), HK_OK);
    ref_time_format(f->updated_us, when);
    assert_int_equal(hk_buf_appendf(out, ",\"updated\":\"%s\"}", when), HK_OK);
}

/* ==== Random inputs ==== */

/* 0000-01-01 and 9999-12-31T23:59:59.999999, the store's time range. */
#define MIN_US (INT64_C(-62167219200) * 1000000)
#define MAX_US (INT64_C(253402300799) * 1000000 + 999999)

static int64_t random_time(void)
{
    switch (rng() % 8) {
    case 0: /* anything at all, mostly far outside 0000..9999 */
        return (int64_t)rng();
    case 1: /* near the ends of the range */
        return (rng() & 1 ? MIN_US : MAX_US) + (int64_t)(rng() % 2000001) -
               1000000;
    case 2: /* whole seconds, around the epoch */
        return ((int64_t)(rng() % 200000001) - 100000000) * 1000000;
    default: /* anywhere in the range */
        return MIN_US + (int64_t)(rng() % (uint64_t)(MAX_US - MIN_US + 1));
    }
}

static double random_confidence(void)
{
    static const double fixed[] = {0.0,  1.0,  0.1,       1e-9, 1.0 / 3.0,
                                   0.5,  0.95, 0.999999,  1e-4, 0.0001001,
                                   -0.0, 0.3,  2.0 / 3.0, 0.7,  1e-5};
    uint64_t bits;
    double v;
    switch (rng() % 6) {
    case 0:
        return fixed[rng() % (sizeof fixed / sizeof fixed[0])];
    case 1: /* short decimals, the fast path */
        return (double)(rng() % 1000001) / 1e6;
    case 2:
        return (double)(rng() % 1001) / 1000.0;
    case 3: /* any double in [0, 1] */
        return (double)(rng() >> 11) / 9007199254740992.0;
    case 4: /* any bit pattern: NaN, infinities, subnormals, huge */
        bits = rng();
        memcpy(&v, &bits, sizeof v);
        return v;
    default: /* one ulp either side of a short decimal */
        v = (double)(rng() % 1000001) / 1e6;
        return rng() & 1 ? nextafter(v, 2.0) : nextafter(v, -1.0);
    }
}

/* Random text: plain ASCII runs, quotes, backslashes, controls, valid
 * UTF-8 of every length and invalid bytes, at random lengths so that the
 * 8-byte fast path meets every alignment. */
static void random_text(char *out, size_t cap, bool allow_empty)
{
    static const char *pieces[] = {"a",
                                   "Computer",
                                   " ",
                                   "\"",
                                   "\\",
                                   "\n",
                                   "\t",
                                   "\x01",
                                   "\x1f",
                                   "\x7f",
                                   "é",
                                   "€",
                                   "\xF0\x9F\x98\x80",
                                   "\xC3",
                                   "\xE2\x82",
                                   "\xFF",
                                   "\x80",
                                   "\xED\xA0\x80",
                                   "(",
                                   ")",
                                   ",",
                                   "?",
                                   "_",
                                   "Ünïcödé wörds and more"};
    size_t n = 0;
    size_t count = rng() % 12;
    if (!allow_empty && count == 0) count = 1;
    for (size_t i = 0; i < count; i++) {
        const char *p = pieces[rng() % (sizeof pieces / sizeof pieces[0])];
        size_t len = strlen(p);
        if (n + len >= cap) break;
        memcpy(out + n, p, len);
        n += len;
    }
    if (!allow_empty && n == 0) out[n++] = 'x';
    out[n] = '\0';
}

/* ==== Tests ==== */

static void expect_time(int64_t us)
{
    char got[32], want[32];
    hk_time_format(us, got);
    ref_time_format(us, want);
    if (strcmp(got, want) != 0)
        fail_msg("time %" PRId64 ": got %s, want %s", us, got, want);
    if (us >= MIN_US && us <= MAX_US) {
        gmtime_time_format(us, want);
        if (strcmp(got, want) != 0)
            fail_msg("time %" PRId64 ": got %s, gmtime says %s", us, got, want);
    }
}

static void test_time_matches_reference(void **state)
{
    (void)state;
    static const int64_t edges[] = {
        0,
        1,
        -1,
        999999,
        1000000,
        -1000000,
        -1000001,
        86399999999,
        86400000000,
        INT64_MAX,
        INT64_MIN,
        INT64_MIN + 1,
        INT64_MAX - 1,
        MIN_US,
        MIN_US - 1,
        MIN_US + 1,
        MAX_US,
        MAX_US + 1,
        MAX_US - 1,
        INT64_C(951782400000000),  /* 2000-02-29 */
        INT64_C(4107542400000000), /* 2100-03-01 */
        INT64_C(-2203891200000000) /* 1900-03-01 */};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
        expect_time(edges[i]);
    /* Every day of years 0..9999, at a random time of day. */
    for (int64_t day = MIN_US / 86400000000; day <= MAX_US / 86400000000; day++)
        expect_time(day * 86400000000 + (int64_t)(rng() % 86400000000));
    for (int i = 0; i < 300000; i++)
        expect_time(random_time());
}

static void test_json_string_matches_reference(void **state)
{
    (void)state;
    hk_buf got = HK_BUF_INIT, want = HK_BUF_INIT;
    /* Every byte value at every offset of a 17-byte plain string: each
     * word position of the 8-byte path and the tail. */
    char s[18];
    for (int c = 0; c < 256; c++) {
        for (size_t at = 0; at < 17; at++) {
            memset(s, 'k', 17);
            s[at] = (char)c;
            s[17] = '\0';
            hk_buf_reset(&got);
            hk_buf_reset(&want);
            assert_int_equal(hk_buf_append_json_string(&got, s, 17), HK_OK);
            ref_json_string(&want, s, 17);
            assert_int_equal(got.len, want.len);
            assert_memory_equal(got.data, want.data, want.len);
        }
    }
    /* Random texts, appended after what is there. */
    char text[512];
    for (int i = 0; i < 50000; i++) {
        random_text(text, sizeof text, true);
        size_t len = strlen(text);
        hk_buf_reset(&got);
        hk_buf_reset(&want);
        hk_buf_append_str(&got, "pre");
        hk_buf_append_str(&want, "pre");
        assert_int_equal(hk_buf_append_json_string(&got, text, len), HK_OK);
        ref_json_string(&want, text, len);
        assert_int_equal(got.len, want.len);
        assert_string_equal(got.data, want.data);
    }
    /* Random bytes, NULs included (the length is explicit). */
    for (int i = 0; i < 20000; i++) {
        size_t len = rng() % 40;
        for (size_t k = 0; k < len; k++)
            text[k] = (char)rng();
        hk_buf_reset(&got);
        hk_buf_reset(&want);
        assert_int_equal(hk_buf_append_json_string(&got, text, len), HK_OK);
        ref_json_string(&want, text, len);
        assert_int_equal(got.len, want.len);
        assert_memory_equal(got.data, want.data, want.len);
        assert_int_equal(got.data[got.len], '\0');
    }
    hk_buf_free(&got);
    hk_buf_free(&want);
}

/* The confidence text inside a fact's JSON. */
static void confidence_text(hk_fact *f, double v, hk_buf *out, char *text,
                            size_t cap)
{
    f->confidence = v;
    hk_buf_reset(out);
    assert_int_equal(hk_fact_write_json(f, out), HK_OK);
    const char *p = strstr(out->data, "\"confidence\":");
    assert_non_null(p);
    p += 13;
    const char *end = strchr(p, ',');
    assert_non_null(end);
    assert_true((size_t)(end - p) < cap);
    memcpy(text, p, (size_t)(end - p));
    text[end - p] = '\0';
}

static void expect_confidence(hk_fact *f, double v, hk_buf *out)
{
    char got[64], want[40];
    confidence_text(f, v, out, got, sizeof got);
    if (isfinite(v))
        ref_format_double(v, want);
    else
        strcpy(want, "null");
    if (strcmp(got, want) != 0)
        fail_msg("confidence %a: got %s, want %s", v, got, want);
}

static void test_confidence_matches_reference(void **state)
{
    (void)state;
    hk_fact f;
    hk_fact_init(&f);
    f.st.predicate = "P";
    f.st.n_args = 1;
    f.st.args[0] = "a";
    hk_buf out = HK_BUF_INIT;
    /* Every decimal with up to 6 places in [0, 1], the fast path's whole
     * domain, and the doubles on either side of each. */
    for (uint32_t k = 0; k <= 1000000; k++) {
        double v = (double)k / 1e6;
        expect_confidence(&f, v, &out);
        if (k % 97 == 0) {
            expect_confidence(&f, nextafter(v, 2.0), &out);
            expect_confidence(&f, nextafter(v, -1.0), &out);
        }
    }
    static const double special[] = {0.0,
                                     -0.0,
                                     1.0,
                                     0.1,
                                     1e-9,
                                     1.0 / 3.0,
                                     2.0 / 3.0,
                                     1e-4,
                                     9.9e-5,
                                     0.00015,
                                     1.5,
                                     100.0,
                                     -0.5,
                                     1e300,
                                     5e-324,
                                     2.2250738585072014e-308,
                                     DBL_MAX,
                                     -DBL_MAX,
                                     123456789012345678.0,
                                     NAN,
                                     INFINITY,
                                     -INFINITY};
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
        expect_confidence(&f, special[i], &out);
    for (int i = 0; i < 200000; i++)
        expect_confidence(&f, random_confidence(), &out);
    /* Exact-arithmetic fractions: every binade from 2^-15 to 1, around
     * powers of ten and of two (where the gap below a double halves) and
     * just below 1 (where 15 digits round up to "1"). */
    for (int i = 0; i < 300000; i++) {
        uint64_t m = (UINT64_C(1) << 52) | (rng() >> 12);
        expect_confidence(&f, ldexp((double)m, -53 - (int)(rng() % 15)), &out);
    }
    /* j / 2^k has exactly k decimals: for k = 16..18 and v >= 0.1 its
     * last digit is a 5 right at the 15th or 17th significant digit, a
     * tie that printf breaks to even. */
    for (int k = 14; k <= 18; k++)
        for (uint32_t j = 1; j < (UINT32_C(1) << k); j += 2)
            expect_confidence(&f, ldexp((double)j, -k), &out);
    /* Every power of two in range: the only doubles whose gap below is
     * half the gap above. */
    for (int k = 1; k <= 16; k++)
        for (int i = -3; i <= 3; i++)
            expect_confidence(&f, ldexp(1.0 + i * 0x1p-52, -k), &out);
    static const double anchors[] = {1.0, 0.1,  0.01,  0.001,   0.0001,
                                     0.5, 0.25, 0.125, 0x1p-13, 0x1p-14,
                                     0.2, 0.3,  0.7,   0.9,     1e-4 * 3};
    for (size_t i = 0; i < sizeof anchors / sizeof anchors[0]; i++) {
        double up = anchors[i], down = anchors[i];
        for (int k = 0; k < 64; k++) {
            expect_confidence(&f, up, &out);
            expect_confidence(&f, down, &out);
            up = nextafter(up, 2.0);
            down = nextafter(down, -1.0);
        }
    }
    char text[64];
    confidence_text(&f, 1.0, &out, text, sizeof text);
    assert_string_equal(text, "1.0");
    confidence_text(&f, 0.95, &out, text, sizeof text);
    assert_string_equal(text, "0.95");
    confidence_text(&f, -0.0, &out, text, sizeof text);
    assert_string_equal(text, "-0.0");
    hk_buf_free(&out);
}

/* Storage for one random fact. */
typedef struct random_fact {
    hk_fact f;                  /* pointers into the arrays below */
    char pred[64];              /* predicate */
    char args[HK_MAX_ARGS][96]; /* arguments */
    char source[96];            /* source */
    char tags[HK_MAX_TAGS][48]; /* tags */
    char context[96];           /* context JSON text */
} random_fact;

static void make_random_fact(random_fact *r)
{
    hk_fact_init(&r->f);
    hk_fact *f = &r->f;
    uint64_t pick = rng();
    f->id = pick % 4 == 0 ? rng() : pick % 1000000 + 1;
    random_text(r->pred, sizeof r->pred, false);
    f->st.predicate = r->pred;
    f->st.n_args = rng() % 8 == 0 ? 1 + (uint32_t)(rng() % HK_MAX_ARGS)
                                  : 1 + (uint32_t)(rng() % 3);
    for (uint32_t i = 0; i < f->st.n_args; i++) {
        random_text(r->args[i], sizeof r->args[i], rng() % 10 == 0);
        f->st.args[i] = r->args[i];
    }
    f->confidence = random_confidence();
    if (rng() % 3) {
        random_text(r->source, sizeof r->source, true);
        f->source = r->source;
    }
    f->n_tags = rng() % 6 == 0 ? (uint32_t)(rng() % (HK_MAX_TAGS + 1))
                               : (uint32_t)(rng() % 3);
    for (uint32_t i = 0; i < f->n_tags; i++) {
        if (rng() % 10 == 0) {
            f->tags[i] = NULL; /* written as null */
            continue;
        }
        random_text(r->tags[i], sizeof r->tags[i], true);
        f->tags[i] = r->tags[i];
    }
    switch (rng() % 4) {
    case 0:
        f->context_json = NULL;
        break;
    case 1:
        f->context_json = "";
        break;
    case 2:
        f->context_json = "{\"k\":[1,2,{\"x\":\"\\u00e9\"}]}";
        break;
    default:
        snprintf(r->context, sizeof r->context, "{\"n\":%u}",
                 (unsigned)(rng() % 100000));
        f->context_json = r->context;
    }
    f->created_us = random_time();
    f->updated_us = rng() % 2 ? f->created_us : random_time();
}

static void test_fact_json_matches_reference(void **state)
{
    (void)state;
    random_fact *r = calloc(1, sizeof *r);
    assert_non_null(r);
    hk_buf got = HK_BUF_INIT, want = HK_BUF_INIT;
    int parsed = 0;
    for (int i = 0; i < 30000; i++) {
        make_random_fact(r);
        /* Appends after what is there, like a result page. */
        hk_buf_reset(&got);
        hk_buf_reset(&want);
        if (i % 2) {
            hk_buf_append_str(&got, "[{},");
            hk_buf_append_str(&want, "[{},");
        }
        assert_int_equal(hk_fact_write_json(&r->f, &got), HK_OK);
        ref_fact_json(&r->f, &want);
        if (got.len != want.len || memcmp(got.data, want.data, got.len))
            fail_msg("fact %d:\n got  %s\n want %s", i, got.data, want.data);
        assert_int_equal(got.data[got.len], '\0');
        /* And it is JSON whose statement reads back to the canonical
         * form (checked on facts with a finite confidence). */
        if (isfinite(r->f.confidence) && i % 10 == 0) {
            json_error_t jerr;
            const char *obj = got.data + (i % 2 ? 4 : 0);
            /* jansson holds integers as int64: larger ids as reals. */
            bool big_id = r->f.id > (uint64_t)INT64_MAX;
            json_t *j = json_loadb(obj, strlen(obj),
                                   big_id ? JSON_DECODE_INT_AS_REAL : 0, &jerr);
            if (!j) fail_msg("bad JSON %s: %s", obj, jerr.text);
            assert_non_null(json_object_get(j, "statement"));
            if (!big_id)
                assert_int_equal(json_integer_value(json_object_get(j, "id")),
                                 (json_int_t)r->f.id);
            json_decref(j);
            parsed++;
        }
    }
    assert_true(parsed > 1000);
    hk_buf_free(&got);
    hk_buf_free(&want);
    free(r);
}

/* Quoted arguments: the statement text inside the JSON is exactly the
 * canonical form hk_statement_format writes. */
static void test_fact_statement_text(void **state)
{
    (void)state;
    hk_fact f;
    hk_fact_init(&f);
    f.id = 18446744073709551615u; /* UINT64_MAX */
    f.st.predicate = "Says";
    f.st.n_args = 4;
    f.st.args[0] = "plain";
    f.st.args[1] = "a \"quoted\" \\ back";
    f.st.args[2] = "?x";
    f.st.args[3] = "tab\there";
    f.confidence = 0.5;
    hk_buf out = HK_BUF_INIT;
    assert_int_equal(hk_fact_write_json(&f, &out), HK_OK);
    assert_non_null(strstr(
        out.data, "{\"id\":18446744073709551615,\"statement\":\"Says(plain, "
                  "\\\"a \\\\\\\"quoted\\\\\\\" \\\\\\\\ back\\\", \\\"?x\\\", "
                  "\\\"tab\\there\\\")\",\"predicate\":\"Says\","));
    json_error_t jerr;
    json_t *j = json_loadb(out.data, out.len, JSON_DECODE_INT_AS_REAL, &jerr);
    assert_non_null(j);
    hk_buf canon = HK_BUF_INIT;
    assert_int_equal(hk_statement_format(&f.st, &canon), HK_OK);
    assert_string_equal(json_string_value(json_object_get(j, "statement")),
                        canon.data);
    json_decref(j);
    hk_buf_free(&canon);

    /* A NULL argument is refused before anything is written. */
    hk_buf_reset(&out);
    hk_buf_append_str(&out, "keep");
    f.st.args[2] = NULL;
    assert_int_equal(hk_fact_write_json(&f, &out), HK_ERR_INVALID);
    assert_string_equal(out.data, "keep");
    f.st.predicate = NULL;
    assert_int_equal(hk_fact_write_json(&f, &out), HK_ERR_INVALID);
    f.st.predicate = "P";
    f.st.n_args = HK_MAX_ARGS + 1;
    assert_int_equal(hk_fact_write_json(&f, &out), HK_ERR_INVALID);
    assert_string_equal(out.data, "keep");
    assert_int_equal(out.len, 4);
    hk_buf_free(&out);
}

/* The largest output per input byte: every byte a control character
 * (6 bytes escaped, twice for arguments), every slot used, the longest
 * confidence and times, into an empty buffer whose reservation is exact
 * enough that an underestimate would be caught (assert in debug builds,
 * AddressSanitizer in the sanitizer build). */
static void test_fact_json_worst_case(void **state)
{
    (void)state;
    static char text[HK_MAX_ARGS + HK_MAX_TAGS + 2][80];
    for (size_t i = 0; i < sizeof text / sizeof text[0]; i++) {
        memset(text[i], '\x01', sizeof text[i] - 1);
        text[i][sizeof text[i] - 1] = '\0';
    }
    hk_fact f;
    hk_fact_init(&f);
    f.id = UINT64_MAX;
    f.st.predicate = text[0];
    f.st.n_args = HK_MAX_ARGS;
    for (uint32_t i = 0; i < HK_MAX_ARGS; i++)
        f.st.args[i] = text[1 + i];
    f.source = text[1 + HK_MAX_ARGS];
    f.n_tags = HK_MAX_TAGS;
    for (uint32_t i = 0; i < HK_MAX_TAGS; i++)
        f.tags[i] = text[2 + HK_MAX_ARGS + i];
    f.confidence = -2.2250738585072014e-308;
    f.created_us = INT64_MIN;
    f.updated_us = INT64_MAX;
    hk_buf got = HK_BUF_INIT, want = HK_BUF_INIT;
    assert_int_equal(hk_fact_write_json(&f, &got), HK_OK);
    ref_fact_json(&f, &want);
    assert_int_equal(got.len, want.len);
    assert_memory_equal(got.data, want.data, want.len);
    hk_buf_free(&got);
    hk_buf_free(&want);
}

/* Allocation failure for the one reservation leaves the buffer as it
 * was; the next attempt succeeds. */
static void test_fact_json_reserve_failure(void **state)
{
    (void)state;
    hk_fact f;
    hk_fact_init(&f);
    f.id = 7;
    f.st.predicate = "P";
    f.st.n_args = 1;
    f.st.args[0] = "a";
    f.confidence = 1.0;
    hk_buf out = HK_BUF_INIT;
    hk_mem_fail_after(0);
    assert_int_equal(hk_fact_write_json(&f, &out), HK_ERR_NOMEM);
    hk_mem_fail_after(-1);
    assert_null(out.data);
    assert_int_equal(out.len, 0);
    assert_int_equal(hk_fact_write_json(&f, &out), HK_OK);
    size_t first = out.len;
    /* With room already there, writing allocates nothing: a page of
     * facts costs no allocation per fact. */
    char room[4096];
    memset(room, ' ', sizeof room);
    assert_int_equal(hk_buf_append(&out, room, sizeof room), HK_OK);
    out.len = first;
    out.data[first] = '\0';
    char *keep = out.data;
    hk_mem_fail_after(0);
    for (int i = 0; i < 10; i++)
        assert_int_equal(hk_fact_write_json(&f, &out), HK_OK);
    assert_false(hk_mem_fail_triggered());
    hk_mem_fail_after(-1);
    assert_ptr_equal(out.data, keep);
    assert_int_equal(out.len, 11 * first);
    assert_memory_equal(out.data + 10 * first, out.data, first);
    hk_buf_free(&out);
}

/* ==== hk_json_dumps ==== */

/* Answers show reals as people wrote them, not with 17 digits, and
 * strings that look like numbers are left alone. */
static void test_json_dumps_short_reals(void **state)
{
    (void)state;
    json_t *j =
        json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:i, s:s, s:[f, f]}",
                  "a", 0.9, "b", hk_float_decimal(0.1f), "c", 233.0, "d", -0.5,
                  "e", 1e300, "f", 3.7725887222397816, "g", 0.1 + 0.2, "h", 7,
                  "s", "\"0.90000000000000002\" \\\" 1.50", "v", 2.5e-8, -0.0);
    assert_non_null(j);
    char *plain = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    char *text = hk_json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    assert_non_null(plain);
    assert_non_null(text);
    /* what jansson alone writes, so the test fails if the rewrite is off */
    assert_non_null(strstr(plain, "\"a\":0.90000000000000002"));
    assert_string_equal(text,
                        "{\"a\":0.9,\"b\":0.1,\"c\":233.0,\"d\":-0.5,"
                        "\"e\":1e+300,\"f\":3.7725887222397816,"
                        "\"g\":0.30000000000000004,\"h\":7,"
                        "\"s\":\"\\\"0.90000000000000002\\\" \\\\\\\" 1.50\","
                        "\"v\":[2.5e-08,-0.0]}");
    free(plain);
    free(text);
    /* indented output keeps its layout */
    text = hk_json_dumps(j, JSON_INDENT(1) | JSON_SORT_KEYS);
    assert_non_null(text);
    assert_non_null(strstr(text, "\"a\": 0.9,\n"));
    assert_non_null(strstr(text, "[\n  2.5e-08,\n  -0.0\n ]"));
    free(text);
    json_decref(j);
    /* a float32 shown by its own shortest decimal, which reads back */
    const float fs[] = {0.1f, 3e-4f, 1.0f / 3.0f, 16777217.0f, 1e-38f};
    for (size_t i = 0; i < sizeof fs / sizeof fs[0]; i++)
        assert_true((float)hk_float_decimal(fs[i]) == fs[i]);
    assert_true(hk_float_decimal(0.1f) == 0.1);
    /* a bare real, with JSON_ENCODE_ANY */
    json_t *r = json_real(0.7);
    text = hk_json_dumps(r, JSON_ENCODE_ANY);
    assert_string_equal(text, "0.7");
    free(text);
    json_decref(r);
}

/* Every finite double reads back bit for bit, and the text is never
 * longer than jansson's. */
static void test_json_dumps_reals_round_trip(void **state)
{
    (void)state;
    json_t *a = json_array();
    double want[2000];
    size_t n = 0;
    while (n < 2000) {
        uint64_t bits = rng();
        double v;
        memcpy(&v, &bits, sizeof v);
        if (n % 2) v = (double)(rng() % 1000000) / 1e6; /* short decimals */
        if (!isfinite(v)) continue;
        want[n++] = v;
        json_array_append_new(a, json_real(v));
    }
    char *plain = json_dumps(a, JSON_COMPACT);
    char *text = hk_json_dumps(a, JSON_COMPACT);
    assert_non_null(plain);
    assert_non_null(text);
    assert_true(strlen(text) <= strlen(plain));
    json_error_t je;
    json_t *back = json_loads(text, 0, &je);
    assert_non_null(back);
    assert_int_equal(json_array_size(back), n);
    for (size_t i = 0; i < n; i++) {
        json_t *x = json_array_get(back, i);
        assert_true(json_is_real(x));
        double got = json_real_value(x);
        assert_memory_equal(&got, &want[i], sizeof got);
    }
    free(plain);
    free(text);
    json_decref(back);
    json_decref(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_matches_reference),
        cmocka_unit_test(test_json_string_matches_reference),
        cmocka_unit_test(test_confidence_matches_reference),
        cmocka_unit_test(test_fact_json_matches_reference),
        cmocka_unit_test(test_fact_statement_text),
        cmocka_unit_test(test_fact_json_worst_case),
        cmocka_unit_test(test_fact_json_reserve_failure),
        cmocka_unit_test(test_json_dumps_short_reals),
        cmocka_unit_test(test_json_dumps_reals_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
