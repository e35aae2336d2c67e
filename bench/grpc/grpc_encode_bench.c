/*
 * grpc_encode_bench.c — what a streamed page costs the server per fact,
 * by encoder, side by side in one process over one snapshot of a KB:
 *
 *   read      hk_svc_query over every fact (the store's scan and record
 *             decoding) with a row callback that only counts: the floor
 *   protobuf  the earlier encoder: a Fact view (hk_grpc_fact_view_set)
 *             packed by protobuf-c (hk_grpc_append_field)
 *   direct    hk_grpc_append_fact: the statement formatted once, every
 *             size measured first, one pass, no protobuf-c
 *
 * Each round runs the three passes in turn over the whole KB (pages of
 * 1000 facts, the buffer reset per page as a stream hands it off); the
 * median of the rounds is printed per pass, and the encoders' own cost
 * (pass - read) with their ratio. Never part of `make test`.
 *
 *   grpc_encode_bench KB_DIR [ROUNDS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "grpc/grpc_int.h"
#include "service/service.h"

enum { READ, PROTOBUF, DIRECT, PASSES };
static const char *const k_names[PASSES] = {"read", "protobuf", "direct"};

typedef struct pass {
    int kind;
    hk_buf page;
    size_t n;
    uint64_t facts;
    uint64_t bytes;
    hk_grpc_fact_view v;
} pass;

static hk_err row(void *ud, const hk_svc_row *r, hk_error *err)
{
    pass *p = ud;
    hk_err rc = HK_OK;
    if (p->kind == PROTOBUF) {
        rc = hk_grpc_fact_view_set(&p->v, r->fact);
        if (rc == HK_OK) rc = hk_grpc_append_field(&p->page, 1, &p->v.m.base);
    } else if (p->kind == DIRECT) {
        rc = hk_grpc_append_fact(&p->page, 1, r->fact, &p->v.text);
    }
    if (rc != HK_OK) return hk_error_set(err, rc, "encoding failed");
    p->facts++;
    if (++p->n == 1000) {
        p->bytes += p->page.len;
        hk_buf_reset(&p->page);
        p->n = 0;
    }
    return HK_OK;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: grpc_encode_bench KB_DIR [ROUNDS]\n");
        return 2;
    }
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    if (rounds < 1 || rounds > 100) rounds = 5;
    hk_store_options o = {.read_only = true};
    hk_store *s = NULL;
    hk_error err;
    hk_error_clear(&err);
    if (hk_store_open(argv[1], &o, &s, &err) != HK_OK) {
        fprintf(stderr, "grpc_encode_bench: %s\n", err.message);
        return 1;
    }
    hk_txn *t = NULL;
    if (hk_txn_begin(s, false, &t, &err) != HK_OK) {
        fprintf(stderr, "grpc_encode_bench: %s\n", err.message);
        hk_store_close(s);
        return 1;
    }
    double secs[PASSES][100];
    uint64_t facts = 0, bytes[PASSES] = {0};
    int rc = 0;
    for (int r = 0; r < rounds && !rc; r++)
        for (int k = 0; k < PASSES && !rc; k++) {
            pass p = {.kind = k, .page = HK_BUF_INIT};
            p.v.text = (hk_buf)HK_BUF_INIT;
            hk_svc_query_req q;
            memset(&q, 0, sizeof q);
            q.scan = (hk_scan)HK_SCAN_INIT;
            q.no_cursor = true;
            q.row = row;
            q.row_ud = &p;
            hk_svc_query_res res;
            memset(&res, 0, sizeof res);
            double t0 = now();
            if (hk_svc_query(t, &q, &res, &err) != HK_OK) {
                fprintf(stderr, "grpc_encode_bench: %s\n", err.message);
                rc = 1;
            }
            secs[k][r] = now() - t0;
            facts = p.facts;
            bytes[k] = p.bytes + p.page.len;
            hk_svc_query_res_free(&res);
            hk_buf_free(&p.page);
            hk_grpc_fact_view_free(&p.v);
        }
    hk_txn_abort(t);
    hk_store_close(s);
    if (rc) return rc;
    double med[PASSES];
    for (int k = 0; k < PASSES; k++) {
        qsort(secs[k], (size_t)rounds, sizeof(double), cmp);
        med[k] = secs[k][rounds / 2];
        printf("%-9s %llu facts, %.1f MB: median %.3f s CPU, %.0f ns/fact, "
               "%.2fM facts/s\n",
               k_names[k], (unsigned long long)facts, (double)bytes[k] / 1e6,
               med[k], med[k] / (double)facts * 1e9,
               (double)facts / med[k] / 1e6);
    }
    double pb = med[PROTOBUF] - med[READ], di = med[DIRECT] - med[READ];
    printf("encoding alone: protobuf %.0f ns/fact, direct %.0f ns/fact, "
           "ratio %.2fx; whole pass ratio %.2fx; bytes %s\n",
           pb / (double)facts * 1e9, di / (double)facts * 1e9,
           di > 0 ? pb / di : 0.0, med[PROTOBUF] / med[DIRECT],
           bytes[PROTOBUF] == bytes[DIRECT] ? "equal" : "DIFFER");
    return 0;
}
