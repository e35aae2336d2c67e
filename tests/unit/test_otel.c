/*
 * test_otel.c — src/otel: W3C traceparent parsing and formatting, the
 * checks of OTEL_* values, parent/child links and the current span, the
 * samplers (ratio measured against its argument), and the exporter's
 * bounded queue with no receiver (drops counted, never more than the
 * queue holds, stop bounded).
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

#include "otel/otel.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_traceparent),
        cmocka_unit_test(test_check_values),
        cmocka_unit_test(test_links_and_current),
        cmocka_unit_test(test_ratio_sampler),
        cmocka_unit_test(test_queue_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
