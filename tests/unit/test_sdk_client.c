/*
 * test_sdk_client.c — libhakgal-client (sdk/c) against answers a real
 * server never sends: a canned HTTP server in a thread answers each
 * connection with the next prepared answer and records the request head.
 * Covers what the live test (tests/e2e/test_sdk_c.py) cannot: answers that
 * are not JSON or not the expected shape, error answers without JSON,
 * answers over max_answer_bytes, a Retry-After given as an HTTP date,
 * refused connections, iterators that meet an error mid-walk, the escaping
 * of query strings and entity names, and arguments refused locally.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "hakgal_client.h"

/* ==== The canned server ==== */

#define MAX_ANSWERS 8

typedef struct canned {
    int fd;                           /* listening socket */
    int port;                         /* its port */
    const char *answers[MAX_ANSWERS]; /* full HTTP answers, in order */
    int n_answers;
    int served;                    /* connections answered */
    char heads[MAX_ANSWERS][2048]; /* request heads, in order */
    pthread_t thread;
} canned;

static void *serve(void *arg)
{
    canned *s = arg;
    for (int i = 0; i < s->n_answers; i++) {
        int c = accept(s->fd, NULL, NULL);
        if (c < 0) break;
        size_t got = 0;
        char *head = s->heads[i];
        while (got < sizeof(s->heads[i]) - 1) {
            ssize_t n = read(c, head + got, sizeof(s->heads[i]) - 1 - got);
            if (n <= 0) break;
            got += (size_t)n;
            head[got] = '\0';
            if (strstr(head, "\r\n\r\n")) break;
        }
        const char *a = s->answers[i];
        size_t len = strlen(a), off = 0;
        while (off < len) {
            ssize_t n = write(c, a + off, len - off);
            if (n <= 0) break;
            off += (size_t)n;
        }
        close(c);
        s->served = i + 1;
    }
    return NULL;
}

static void canned_start(canned *s, int n, ...)
{
    memset(s, 0, sizeof(*s));
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->fd >= 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(s->fd, 8), 0);
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &len), 0);
    s->port = ntohs(a.sin_port);
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n && i < MAX_ANSWERS; i++)
        s->answers[i] = va_arg(ap, const char *);
    va_end(ap);
    s->n_answers = n;
    assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void canned_stop(canned *s)
{
    shutdown(s->fd, SHUT_RDWR);
    close(s->fd);
    pthread_join(s->thread, NULL);
}

static hkc_client *client_for(const canned *s, unsigned retries,
                              size_t max_answer)
{
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", s->port);
    hkc_options o = HKC_OPTIONS_INIT;
    o.token = "secret";
    o.max_retries = retries;
    o.backoff_ms = 1;
    o.timeout_ms = 5000;
    o.max_answer_bytes = max_answer;
    hkc_client *c = NULL;
    hkc_error err;
    assert_int_equal(hkc_open(url, &o, &c, &err), HKC_OK);
    return c;
}

#define JSON_200(body)                                                         \
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: "        \
    "close\r\n\r\n" body

static const char FACT[] =
    "{\"id\":7,\"statement\":\"HasPart(A, B)\",\"predicate\":\"HasPart\","
    "\"args\":[\"A\",\"B\"],\"confidence\":1.0,\"source\":null,\"tags\":[],"
    "\"context\":{\"k\":1},\"created\":\"t\",\"updated\":\"t\"}";

/* ==== Tests ==== */

static void test_open_refuses_bad_urls(void **state)
{
    (void)state;
    hkc_client *c = (hkc_client *)1;
    hkc_error err;
    assert_int_equal(hkc_open(NULL, NULL, &c, &err), HKC_ERR_INVALID);
    assert_null(c);
    assert_int_equal(hkc_open("ftp://x", NULL, &c, &err), HKC_ERR_INVALID);
    assert_string_equal(err.api_code, "invalid");
    assert_int_equal(err.status, 0);
}

static void test_connection_refused(void **state)
{
    (void)state;
    canned s;
    canned_start(&s, 0);
    int port = s.port;
    canned_stop(&s); /* nothing listens on port any more */
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    hkc_client *c;
    hkc_error err;
    assert_int_equal(hkc_open(url, NULL, &c, &err), HKC_OK);
    hkc_fact f;
    assert_int_equal(hkc_get(c, 1, &f, &err), HKC_ERR_CONNECTION);
    assert_int_equal(err.status, 0);
    assert_string_equal(err.api_code, "connection");
    assert_null(f.statement);
    hkc_close(c);
}

static void test_answers_that_are_not_the_api(void **state)
{
    (void)state;
    canned s;
    canned_start(&s, 4, JSON_200("not json"), JSON_200("{\"x\": 1}"),
                 JSON_200("{\"id\":1,\"statement\":\"P(a)\",\"predicate\":"
                          "\"P\",\"args\":[1]}"),
                 "HTTP/1.1 500 Oops\r\nContent-Type: text/plain\r\n"
                 "Connection: close\r\n\r\nstack trace here");
    hkc_client *c = client_for(&s, 0, 0);
    hkc_fact f;
    hkc_error err;
    assert_int_equal(hkc_get(c, 1, &f, &err), HKC_ERR_BAD_ANSWER);
    assert_int_equal(hkc_get(c, 1, &f, &err), HKC_ERR_BAD_ANSWER);
    assert_non_null(strstr(err.message, "fact"));
    assert_int_equal(hkc_get(c, 1, &f, &err), HKC_ERR_BAD_ANSWER);
    assert_non_null(strstr(err.message, "strings"));
    assert_int_equal(hkc_get(c, 1, &f, &err), HKC_ERR_API);
    assert_int_equal(err.status, 500);
    assert_string_equal(err.api_code, "http_500");
    assert_non_null(strstr(err.message, "stack trace here"));
    hkc_close(c);
    canned_stop(&s);
}

static void test_error_detail_is_copied(void **state)
{
    (void)state;
    canned s;
    canned_start(&s, 1,
                 "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json"
                 "\r\nConnection: close\r\n\r\n{\"error\":{\"code\":"
                 "\"invalid_statement\",\"message\":\"column 8: missing ')'\","
                 "\"detail\":{\"column\":8,\"field\":\"statement\"}}}");
    hkc_client *c = client_for(&s, 0, 0);
    hkc_error err;
    assert_int_equal(hkc_add(c, "Broken(", NULL, NULL, NULL, &err),
                     HKC_ERR_API);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.api_code, "invalid_statement");
    assert_string_equal(err.message, "column 8: missing ')'");
    assert_int_equal(err.column, 8);
    assert_string_equal(err.field, "statement");
    assert_string_equal(err.detail, "{\"column\":8,\"field\":\"statement\"}");
    hkc_close(c);
    canned_stop(&s);
    /* the request was a POST with the token and a JSON body */
    assert_non_null(strstr(s.heads[0], "POST /v2/facts HTTP/1.1"));
    assert_non_null(strstr(s.heads[0], "Authorization: Bearer secret"));
    assert_non_null(strstr(s.heads[0], "Content-Type: application/json"));
}

static void test_answer_over_the_limit(void **state)
{
    (void)state;
    char big[4096];
    int n = snprintf(big, sizeof(big), "%s", JSON_200("{\"pad\":\""));
    memset(big + n, 'x', 2000);
    memcpy(big + n + 2000, "\"}", 3);
    canned s;
    canned_start(&s, 1, big);
    hkc_client *c = client_for(&s, 0, 256);
    char *json = NULL;
    hkc_error err;
    assert_int_equal(hkc_stats(c, &json, &err), HKC_ERR_TOO_LARGE);
    assert_null(json);
    assert_string_equal(err.api_code, "too_large");
    hkc_close(c);
    canned_stop(&s);
}

static void test_retry_after_date_falls_back_to_backoff(void **state)
{
    (void)state;
    canned s;
    canned_start(&s, 3,
                 "HTTP/1.1 503 Busy\r\nRetry-After: Wed, 21 Oct 2015 07:28:00 "
                 "GMT\r\nConnection: close\r\n\r\n",
                 "HTTP/1.1 429 Slow\r\nRetry-After: 0\r\nConnection: "
                 "close\r\n\r\n",
                 JSON_200("{\"facts\":3}"));
    hkc_client *c = client_for(&s, 2, 0);
    char *json = NULL;
    hkc_error err;
    assert_int_equal(hkc_stats(c, &json, &err), HKC_OK);
    assert_string_equal(json, "{\"facts\":3}");
    hkc_free(json);
    hkc_close(c);
    canned_stop(&s);
    assert_int_equal(s.served, 3);
}

static void test_no_retry_when_max_retries_is_zero(void **state)
{
    (void)state;
    canned s;
    canned_start(&s, 1,
                 "HTTP/1.1 503 Busy\r\nRetry-After: 0\r\nContent-Type: "
                 "application/json\r\nConnection: close\r\n\r\n"
                 "{\"error\":{\"code\":\"busy\",\"message\":\"m\","
                 "\"detail\":null}}");
    hkc_client *c = client_for(&s, 0, 0);
    hkc_error err;
    assert_int_equal(hkc_get(c, 3, NULL, &err), HKC_ERR_API);
    assert_int_equal(err.status, 503);
    assert_string_equal(err.api_code, "busy");
    assert_string_equal(err.detail, "");
    hkc_close(c);
    canned_stop(&s);
    assert_int_equal(s.served, 1);
}

static void test_iterator_follows_cursors_and_stops_on_error(void **state)
{
    (void)state;
    char p1[1024], p2[1024];
    snprintf(p1, sizeof(p1),
             JSON_200("{\"facts\":[%s,%s],\"bindings\":[{\"x\":\"B\"},"
                      "{\"x\":\"B\"}],\"next_cursor\":\"c/1 +\"}"),
             FACT, FACT);
    snprintf(p2, sizeof(p2),
             JSON_200("{\"facts\":[],\"bindings\":[],\"next_cursor\":\"c2\"}"));
    canned s;
    canned_start(&s, 4, p1, p2, JSON_200("{\"facts\":[]}"), p1);
    hkc_client *c = client_for(&s, 0, 0);
    hkc_iter *it;
    hkc_error err;
    const hkc_fact *f;
    const hkc_row *row;
    assert_int_equal(hkc_iter_query(c, "HasPart(?x, A B)", 2, &it, &err),
                     HKC_OK);
    assert_int_equal(hkc_iter_next_row(it, &row, &err), HKC_ERR_INVALID);
    assert_int_equal(hkc_iter_next_fact(it, &f, &err), HKC_OK);
    assert_int_equal(f->id, 7);
    assert_string_equal(f->context_json, "{\"k\":1}");
    assert_int_equal(hkc_iter_next_fact(it, &f, &err), HKC_OK);
    /* page 2 is empty but has a cursor: page 3 has no bindings list */
    assert_int_equal(hkc_iter_next_fact(it, &f, &err), HKC_ERR_BAD_ANSWER);
    assert_null(f);
    assert_int_equal(hkc_iter_next_fact(it, &f, &err), HKC_DONE);
    hkc_iter_free(it);
    /* a walk that ends early frees its page */
    assert_int_equal(hkc_iter_entity(c, "TCP/IP", 0, &it, &err), HKC_OK);
    assert_int_equal(hkc_iter_next_fact(it, &f, &err), HKC_OK);
    hkc_iter_free(it);
    hkc_close(c);
    canned_stop(&s);
    assert_non_null(strstr(s.heads[0], "GET /v2/query?q=HasPart%28%3Fx%2C%20"
                                       "A%20B%29&limit=2 HTTP/1.1"));
    assert_non_null(strstr(s.heads[1], "&cursor=c%2F1%20%2B HTTP/1.1"));
    assert_non_null(strstr(s.heads[3], "GET /v2/entities/TCP%2FIP HTTP/1.1"));
}

static void test_arguments_refused_locally(void **state)
{
    (void)state;
    hkc_client *c;
    hkc_error err;
    assert_int_equal(hkc_open("http://127.0.0.1:9", NULL, &c, &err), HKC_OK);
    hkc_fact f;
    hkc_page p;
    hkc_batch_result br;
    assert_int_equal(hkc_get(c, 0, &f, &err), HKC_ERR_INVALID);
    assert_int_equal(hkc_add(c, NULL, NULL, NULL, NULL, &err), HKC_ERR_INVALID);
    assert_int_equal(hkc_add(c, "P(\xff)", NULL, NULL, NULL, &err),
                     HKC_ERR_INVALID);
    assert_int_equal(hkc_query(c, NULL, 0, NULL, &p, &err), HKC_ERR_INVALID);
    assert_int_equal(hkc_entity(c, "", 0, NULL, NULL, &p, &err),
                     HKC_ERR_INVALID);
    assert_int_equal(hkc_batch(c, NULL, 2, &br, &err), HKC_ERR_INVALID);
    hkc_meta m = HKC_META_INIT;
    m.context_json = "[1]";
    assert_int_equal(hkc_add(c, "P(a)", &m, NULL, NULL, &err), HKC_ERR_INVALID);
    assert_non_null(strstr(err.message, "context_json"));
    assert_int_equal(hkc_request(c, "GET", "v2/stats", NULL, NULL, NULL, &err),
                     HKC_ERR_INVALID);
    assert_string_equal(hkc_strerror(HKC_ERR_TIMEOUT),
                        "no answer within the timeout");
    hkc_close(c);
    hkc_close(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_refuses_bad_urls),
        cmocka_unit_test(test_connection_refused),
        cmocka_unit_test(test_answers_that_are_not_the_api),
        cmocka_unit_test(test_error_detail_is_copied),
        cmocka_unit_test(test_answer_over_the_limit),
        cmocka_unit_test(test_retry_after_date_falls_back_to_backoff),
        cmocka_unit_test(test_no_retry_when_max_retries_is_zero),
        cmocka_unit_test(test_iterator_follows_cursors_and_stops_on_error),
        cmocka_unit_test(test_arguments_refused_locally),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
