/*
 * test_otel.c — src/otel: W3C traceparent parsing and formatting, the
 * checks of OTEL_* values, parent/child links and the current span, the
 * samplers (ratio measured against its argument), and the exporter's
 * bounded queue with no receiver (drops counted, never more than the
 * queue holds, stop bounded), the protobuf encoding's framing and its
 * UTF-8 repair, and the reading of a partial-success response.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/buf.h"
#include "otel/otel.h"
#include "otel/otel_pb.h"

#define TP "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

static void test_traceparent(void **state)
{
    (void)state;
    hk_trace_ctx c;
    memset(&c, 0, sizeof c);
    assert_true(hk_traceparent_parse(TP, strlen(TP), &c));
    assert_int_equal(c.trace_id[0], 0x0a);
    assert_int_equal(c.trace_id[15], 0x9c);
    assert_int_equal(c.span_id[7], 0x31);
    assert_int_equal(c.flags, 1);
    char out[56];
    hk_traceparent_format(&c, out);
    assert_string_equal(out, TP);

    static const char *const bad[] = {
        "",
        "00", /* too short */
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-x", /* v00+ */
        "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",   /* ff */
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",   /* 0 id */
        "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",   /* 0 id */
        "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",   /* caps */
        "00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",   /* sep */
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0g",   /* hex */
        "0g-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hk_trace_ctx d;
        memset(&d, 0x55, sizeof d);
        assert_false(hk_traceparent_parse(bad[i], strlen(bad[i]), &d));
        assert_int_equal(d.flags, 0x55); /* untouched */
    }
    /* a later version may append fields */
    const char *v1 =
        "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00-extra";
    assert_true(hk_traceparent_parse(v1, strlen(v1), &c));
    assert_int_equal(c.flags, 0);
}

static void test_check_values(void **state)
{
    (void)state;
    char why[300];
    assert_int_equal(hk_otel_check_value("OTEL_TRACES_SAMPLER",
                                         "parentbased_traceidratio", why,
                                         sizeof why),
                     HK_OK);
    assert_int_equal(
        hk_otel_check_value("otel-traces-sampler", "maybe", why, sizeof why),
        HK_ERR_INVALID);
    assert_non_null(strstr(why, "maybe"));
    assert_int_equal(
        hk_otel_check_value("OTEL_TRACES_SAMPLER_ARG", "0.25", why, sizeof why),
        HK_OK);
    assert_int_equal(
        hk_otel_check_value("OTEL_TRACES_SAMPLER_ARG", "1.5", why, sizeof why),
        HK_ERR_INVALID);
    assert_int_equal(
        hk_otel_check_value("OTEL_TRACES_SAMPLER_ARG", "x", why, sizeof why),
        HK_ERR_INVALID);
    assert_int_equal(hk_otel_check_value("OTEL_EXPORTER_OTLP_PROTOCOL",
                                         "http/json", why, sizeof why),
                     HK_OK);
    assert_int_equal(hk_otel_check_value("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc",
                                         why, sizeof why),
                     HK_ERR_INVALID);
    assert_int_equal(hk_otel_check_value("OTEL_EXPORTER_OTLP_PROTOCOL",
                                         "http/protobuf", why, sizeof why),
                     HK_OK);
    assert_int_equal(hk_otel_check_value("otel-exporter-otlp-traces-protocol",
                                         "http/protobuf", why, sizeof why),
                     HK_OK);
    assert_int_equal(hk_otel_check_value("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
                                         "grpc", why, sizeof why),
                     HK_ERR_INVALID);
    assert_non_null(strstr(why, "grpc"));
    assert_int_equal(hk_otel_check_value("OTEL_EXPORTER_OTLP_ENDPOINT",
                                         "ftp://x", why, sizeof why),
                     HK_ERR_INVALID);
    assert_int_equal(hk_otel_check_value("OTEL_EXPORTER_OTLP_HEADERS",
                                         "a=1, b=x%20y", why, sizeof why),
                     HK_OK);
    assert_int_equal(hk_otel_check_value("OTEL_EXPORTER_OTLP_HEADERS",
                                         "a=1,nokey", why, sizeof why),
                     HK_ERR_INVALID);
    assert_int_equal(
        hk_otel_check_value("OTEL_RESOURCE_ATTRIBUTES", "=v", why, sizeof why),
        HK_ERR_INVALID);
    assert_int_equal(
        hk_otel_check_value("OTEL_TRACES_EXPORTER", "zipkin", why, sizeof why),
        HK_ERR_INVALID);
    hk_otel_config cfg;
    memset(&cfg, 0, sizeof cfg);
    assert_false(hk_otel_config_enabled(&cfg));
    snprintf(cfg.endpoint, sizeof cfg.endpoint, "http://127.0.0.1:1");
    assert_true(hk_otel_config_enabled(&cfg));
    cfg.sdk_disabled = true;
    assert_false(hk_otel_config_enabled(&cfg));
}

/* A port nobody listens on; with keep_fd, a socket that listens but never
 * accepts (a receiver that hangs), left open in *keep_fd. */
static unsigned port_of(int *keep_fd)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    if (keep_fd) {
        assert_int_equal(listen(fd, 16), 0);
        *keep_fd = fd;
    } else {
        close(fd);
    }
    return ntohs(a.sin_port);
}

static void start_at(const char *sampler, const char *arg, uint32_t queue,
                     int *hang_fd)
{
    hk_otel_config cfg;
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.endpoint, sizeof cfg.endpoint, "http://127.0.0.1:%u",
             port_of(hang_fd));
    snprintf(cfg.sampler, sizeof cfg.sampler, "%s", sampler);
    snprintf(cfg.sampler_arg, sizeof cfg.sampler_arg, "%s", arg);
    cfg.queue_max = queue;
    cfg.batch_max = 8;
    cfg.delay_ms = 3600000; /* export only when a batch is full */
    cfg.timeout_ms = 500;
    hk_error e;
    hk_error_clear(&e);
    assert_int_equal(hk_otel_start(&cfg, "test", &e), HK_OK);
    assert_true(hk_otel_active());
}

static void start(const char *sampler, const char *arg, uint32_t queue)
{
    start_at(sampler, arg, queue, NULL);
}

static void test_links_and_current(void **state)
{
    (void)state;
    /* Without a tracer: ids and links still work, nothing records. */
    hk_span a, b;
    hk_span_start(&a, "a", HK_SPAN_SERVER, NULL, true);
    assert_false(a.recording);
    assert_ptr_equal(hk_otel_current(), &a.ctx);
    hk_span_start(&b, "b", HK_SPAN_INTERNAL, NULL, true);
    assert_memory_equal(b.ctx.trace_id, a.ctx.trace_id, 16);
    assert_memory_equal(b.parent_id, a.ctx.span_id, 8);
    assert_memory_not_equal(b.ctx.span_id, a.ctx.span_id, 8);
    hk_span_end(&b);
    assert_ptr_equal(hk_otel_current(), &a.ctx);
    hk_span_end(&a);
    assert_null(hk_otel_current());

    /* parentbased_always_on follows the parent's flag. */
    start("parentbased_always_on", "", 64);
    hk_trace_ctx in;
    assert_true(hk_traceparent_parse(TP, strlen(TP), &in));
    snprintf(in.state, sizeof in.state, "k=v");
    hk_span_start(&a, "req", HK_SPAN_SERVER, &in, false);
    assert_true(a.recording);
    assert_memory_equal(a.ctx.trace_id, in.trace_id, 16);
    assert_memory_equal(a.parent_id, in.span_id, 8);
    assert_string_equal(a.ctx.state, "k=v");
    hk_span_end(&a);
    in.flags = 0;
    hk_span_start(&a, "req", HK_SPAN_SERVER, &in, false);
    assert_false(a.recording);
    hk_span_end(&a);
    hk_otel_stop();
    assert_false(hk_otel_active());
}

static void test_ratio_sampler(void **state)
{
    (void)state;
    start("traceidratio", "0.25", 64);
    unsigned on = 0, n = 20000;
    for (unsigned i = 0; i < n; i++) {
        hk_span s;
        hk_span_start(&s, "r", HK_SPAN_INTERNAL, NULL, false);
        on += s.recording;
        s.recording = false; /* keep the queue out of it */
        hk_span_end(&s);
    }
    /* 25 % +- 2 % (the binomial sd is 0.3 %) */
    assert_in_range(on, n * 23 / 100, n * 27 / 100);
    hk_otel_stop();
    start("always_off", "", 64);
    hk_span s;
    hk_span_start(&s, "r", HK_SPAN_INTERNAL, NULL, false);
    assert_false(s.recording);
    hk_otel_stop();
}

static void test_queue_bounded(void **state)
{
    (void)state;
    int hang = -1;
    start_at("always_on", "", 32, &hang); /* exports wait 500 ms each */
    for (unsigned i = 0; i < 5000; i++) {
        hk_span s;
        hk_span_start(&s, "bulk", HK_SPAN_INTERNAL, NULL, false);
        hk_span_attr_int(&s, "i", i);
        for (unsigned k = 0; k < HK_SPAN_ATTRS + 3; k++) /* extra ignored */
            hk_span_attr_str(&s, "k", "v", 1);
        hk_span_end(&s);
        hk_span_end(&s); /* a second end queues nothing */
        hk_otel_counters c;
        hk_otel_counters_get(&c);
        assert_true(c.queue_len <= 32);
    }
    hk_otel_counters c;
    hk_otel_counters_get(&c);
    assert_int_equal(c.queue_max, 32);
    assert_int_equal(c.spans_ended + c.spans_dropped, 5000);
    assert_true(c.spans_dropped > 0);
    assert_int_equal(c.spans_exported, 0);
    hk_otel_stop(); /* the receiver hangs: one try, then drop */
    close(hang);
    hk_otel_counters_get(&c);
    assert_int_equal(c.queue_max, 0); /* no tracer */
}

/* Reads a varint at *p (test helper: the input is known to be short). */
static uint64_t get_varint(const unsigned char **p)
{
    uint64_t v = 0;
    for (unsigned sh = 0; sh < 64; sh += 7) {
        unsigned char c = *(*p)++;
        v |= (uint64_t)(c & 0x7F) << sh;
        if (!(c & 0x80)) break;
    }
    return v;
}

static const unsigned char *find_bytes(const hk_buf *b, const void *needle,
                                       size_t n)
{
    for (size_t i = 0; i + n <= b->len; i++)
        if (!memcmp(b->data + i, needle, n))
            return (const unsigned char *)b->data + i;
    return NULL;
}

static void test_pb_encoding(void **state)
{
    (void)state;
    hk_span sp[2];
    memset(sp, 0, sizeof sp);
    for (int i = 0; i < 2; i++) {
        assert_true(hk_traceparent_parse(TP, strlen(TP), &sp[i].ctx));
        sp[i].recording = true;
        sp[i].kind = HK_SPAN_SERVER;
        snprintf(sp[i].name, sizeof sp[i].name, "GET /v2/facts");
        sp[i].start_ns = 0x0102030405060708ull;
        sp[i].end_ns = sp[i].start_ns + 1000;
    }
    sp[1].n_attrs = 2;
    sp[1].attrs[0].key = "q";
    sp[1].attrs[0].is_int = false;
    memcpy(sp[1].attrs[0].s, "a\xff\xc3", 4); /* two invalid bytes */
    sp[1].attrs[1].key = "n";
    sp[1].attrs[1].is_int = true;
    sp[1].attrs[1].i = -1; /* int64 as a 10-byte varint */
    sp[1].error = true;
    snprintf(sp[1].status, sizeof sp[1].status, "boom");

    hk_buf res = HK_BUF_INIT, b = HK_BUF_INIT;
    assert_int_equal(hk_otlp_pb_kv_str(&res, 1, "service.name", "s", 1), HK_OK);
    assert_int_equal(
        hk_otlp_pb_request(&b, res.data, res.len, "1.0", sp, 2, 1, 2), HK_OK);
    /* resource_spans (field 1, LEN) spans the whole body */
    const unsigned char *p = (const unsigned char *)b.data;
    assert_int_equal(p[0], 0x0A);
    p++;
    uint64_t len = get_varint(&p);
    assert_int_equal(len, b.len - (size_t)(p - (const unsigned char *)b.data));
    /* the resource body is copied as is */
    assert_non_null(find_bytes(&b, res.data, res.len));
    /* trace id: field 1, 16 bytes; start: field 7 fixed64 little-endian */
    static const unsigned char tid[] = {0x0A, 0x10, 0x0a, 0xf7, 0x65, 0x19};
    assert_non_null(find_bytes(&b, tid, sizeof tid));
    static const unsigned char start[] = {0x39, 8, 7, 6, 5, 4, 3, 2, 1};
    assert_non_null(find_bytes(&b, start, sizeof start));
    /* invalid UTF-8 replaced by U+FFFD, one per bad byte */
    static const char fixed[] = "a\xEF\xBF\xBD\xEF\xBF\xBD";
    assert_non_null(find_bytes(&b, fixed, sizeof fixed - 1));
    /* int value: AnyValue.int_value = 3, -1 as ten bytes */
    static const unsigned char neg[] = {0x18, 0xff, 0xff, 0xff, 0xff, 0xff,
                                        0xff, 0xff, 0xff, 0xff, 0x01};
    assert_non_null(find_bytes(&b, neg, sizeof neg));
    /* status: field 15 {message 2 = "boom", code 3 = 2} */
    static const unsigned char st[] = {0x7A, 0x08, 0x12, 0x04, 'b',
                                       'o',  'o',  'm',  0x18, 0x02};
    assert_non_null(find_bytes(&b, st, sizeof st));
    hk_buf_free(&b);
    hk_buf_free(&res);
}

static void test_pb_rejected(void **state)
{
    (void)state;
    uint64_t r = 99;
    assert_true(hk_otlp_pb_rejected(NULL, 0, &r)); /* empty: all accepted */
    assert_int_equal(r, 0);
    static const uint8_t five[] = {0x0A, 0x02, 0x08, 0x05};
    assert_true(hk_otlp_pb_rejected(five, sizeof five, &r));
    assert_int_equal(r, 5);
    static const uint8_t msg[] = {0x0A, 0x08, 0x12, 0x03, 'b',
                                  'a',  'd',  0x08, 0x83, 0x01}; /* 131 */
    assert_true(hk_otlp_pb_rejected(msg, sizeof msg, &r));
    assert_int_equal(r, 131);
    static const uint8_t cut[] = {0x0A, 0x05, 0x08};
    assert_false(hk_otlp_pb_rejected(cut, sizeof cut, &r));
    static const uint8_t group[] = {0x0B};
    assert_false(hk_otlp_pb_rejected(group, sizeof group, &r));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_traceparent),
        cmocka_unit_test(test_check_values),
        cmocka_unit_test(test_links_and_current),
        cmocka_unit_test(test_ratio_sampler),
        cmocka_unit_test(test_queue_bounded),
        cmocka_unit_test(test_pb_encoding),
        cmocka_unit_test(test_pb_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
