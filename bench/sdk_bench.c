/*
 * sdk_bench.c — libhakgal-client (sdk/c) next to bare libcurl + jansson
 * doing the same requests, interleaved in one run against one server
 * (driven by bench/sdk_bench.py, which loads the facts and starts it).
 *
 *   sdk_bench BASE_URL PATTERN PAGE_SIZE N_GETS ROUNDS
 *
 * Per round, each side (in alternating order) (a) pages through every fact
 * matching PATTERN with PAGE_SIZE facts per page, decoding every page, and (b)
 * sends N_GETS GET /v2/facts/{id} for ids 1..N_GETS over one keep-alive
 * connection. Prints one line per side and round: side, facts paged, paging
 * seconds, gets seconds.
 */
#include "hakgal_client.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ==== The SDK ==== */

static int sdk_round(const char *base, const char *pattern, size_t page,
                     unsigned n_gets, size_t *facts, double *t_page,
                     double *t_get)
{
    hkc_client *c;
    hkc_error err;
    if (hkc_open(base, NULL, &c, &err) != HKC_OK) return -1;
    double t0 = now_s();
    hkc_iter *it;
    const hkc_fact *f;
    size_t n = 0;
    hkc_err rc = hkc_iter_query(c, pattern, page, &it, &err);
    while (rc == HKC_OK && (rc = hkc_iter_next_fact(it, &f, &err)) == HKC_OK)
        n++;
    hkc_iter_free(it);
    *t_page = now_s() - t0;
    *facts = n;
    if (rc != HKC_DONE) {
        fprintf(stderr, "sdk: %s\n", err.message);
        hkc_close(c);
        return -1;
    }
    t0 = now_s();
    for (unsigned i = 1; i <= n_gets; i++) {
        hkc_fact one;
        if (hkc_get(c, i, &one, &err) != HKC_OK) {
            fprintf(stderr, "sdk get %u: %s\n", i, err.message);
            hkc_close(c);
            return -1;
        }
        hkc_fact_free(&one);
    }
    *t_get = now_s() - t0;
    hkc_close(c);
    return 0;
}

/* ==== Bare libcurl + jansson ==== */

typedef struct body {
    char *data; /* the answer, grown with realloc */
    size_t len; /* bytes in data */
} body;

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    body *b = arg;
    char *d = realloc(b->data, b->len + size * n + 1);
    if (!d) return 0;
    memcpy(d + b->len, p, size * n);
    b->len += size * n;
    d[b->len] = '\0';
    b->data = d;
    return size * n;
}

static json_t *fetch(CURL *k, const char *url, body *b)
{
    b->len = 0;
    curl_easy_setopt(k, CURLOPT_URL, url);
    if (curl_easy_perform(k) != CURLE_OK) return NULL;
    return json_loadb(b->data, b->len, 0, NULL);
}

static int raw_round(const char *base, const char *pattern, size_t page,
                     unsigned n_gets, size_t *facts, double *t_page,
                     double *t_get)
{
    CURL *k = curl_easy_init();
    body b = {0};
    char url[4096];
    curl_easy_setopt(k, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(k, CURLOPT_WRITEDATA, &b);
    char *q = curl_easy_escape(k, pattern, 0);
    char *cursor = NULL;
    size_t n = 0;
    int rc = 0;
    double t0 = now_s();
    for (;;) {
        int len = snprintf(url, sizeof(url), "%s/v2/query?q=%s&limit=%zu", base,
                           q, page);
        if (cursor) {
            char *e = curl_easy_escape(k, cursor, 0);
            snprintf(url + len, sizeof(url) - (size_t)len, "&cursor=%s", e);
            curl_free(e);
            free(cursor);
            cursor = NULL;
        }
        json_t *j = fetch(k, url, &b);
        if (!j) {
            rc = -1;
            break;
        }
        n += json_array_size(json_object_get(j, "facts"));
        const char *next = json_string_value(json_object_get(j, "next_cursor"));
        if (next) cursor = strdup(next);
        json_decref(j);
        if (!cursor) break;
    }
    *t_page = now_s() - t0;
    *facts = n;
    t0 = now_s();
    for (unsigned i = 1; rc == 0 && i <= n_gets; i++) {
        snprintf(url, sizeof(url), "%s/v2/facts/%u", base, i);
        json_t *j = fetch(k, url, &b);
        if (!j || !json_is_integer(json_object_get(j, "id"))) rc = -1;
        json_decref(j);
    }
    *t_get = now_s() - t0;
    curl_free(q);
    free(b.data);
    curl_easy_cleanup(k);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr,
                "usage: sdk_bench BASE_URL PATTERN PAGE_SIZE N_GETS ROUNDS\n");
        return 2;
    }
    const char *base = argv[1], *pattern = argv[2];
    size_t page = strtoul(argv[3], NULL, 10);
    unsigned n_gets = (unsigned)strtoul(argv[4], NULL, 10);
    int rounds = atoi(argv[5]);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    for (int r = 0; r < rounds * 2; r++) {
        /* sides alternate which goes first, so neither gains from order */
        bool sdk = (r % 2) == ((r / 2) % 2);
        size_t facts;
        double tp, tg;
        int rc = sdk ? sdk_round(base, pattern, page, n_gets, &facts, &tp, &tg)
                     : raw_round(base, pattern, page, n_gets, &facts, &tp, &tg);
        if (rc != 0) {
            fprintf(stderr, "%s round failed\n", sdk ? "sdk" : "raw");
            return 1;
        }
        printf("%s %zu %.6f %.6f\n", sdk ? "c-sdk" : "c-raw", facts, tp, tg);
        fflush(stdout);
    }
    curl_global_cleanup();
    return 0;
}
