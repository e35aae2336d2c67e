/*
 * grpc_load.c — load generator for the gRPC endpoint of `hakgal serve`
 * (bench/grpc/run.sh), written on gRPC's C core client so that the client
 * costs about what wrk costs on the REST side of the same run.
 *
 *   grpc_load --addr 127.0.0.1:PORT --conns C --seconds S --threads T
 *             (--entity NAME | --pattern TEXT) [--limit 10]
 *   grpc_load --addr 127.0.0.1:PORT --export [--page-size N] [--window B]
 *   grpc_load (--entity NAME | --pattern TEXT) [--limit 10] --dump FILE
 *
 * --dump writes the request as one gRPC message (the 5-byte prefix, then
 * the protobuf bytes) to FILE and exits: the body h2load sends
 * (bench/grpc/run.sh, LOADER=h2load), so both load generators send the
 * same bytes.
 *
 * Reads: C channels (each its own HTTP/2 connection: a local subchannel
 * pool per channel), spread over T threads with one completion queue
 * each; every channel keeps one call in flight, as wrk keeps one request
 * per connection. A call is one batch (send, close, receive the answer
 * and the status); Query (server streaming) answers a 10-row page in one
 * message, so it is measured the same way. Prints requests/s and the
 * median and 99th percentile latency, and counts calls that did not end
 * with status OK.
 *
 * Export: one Export call; counts the facts of every FactPage by walking
 * its top-level fields (no decoding), prints facts/s and MB/s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include "hakgal/v2/hakgal.pb-c.h"

#define MAX_LAT 8000000 /* latencies kept per thread */

typedef struct slot {
    grpc_channel *ch;         /* this connection */
    grpc_call *call;          /* call in flight */
    grpc_metadata_array im;   /* initial metadata received */
    grpc_metadata_array tm;   /* trailing metadata received */
    grpc_byte_buffer *answer; /* message received */
    grpc_status_code status;  /* status received */
    grpc_slice details;       /* status details */
    double t0;                /* start, s */
} slot;

typedef struct worker {
    pthread_t th;              /* thread */
    grpc_completion_queue *cq; /* its queue */
    slot *slots;               /* its connections */
    int n_slots;               /* how many */
    long done;                 /* calls finished */
    long bad;                  /* calls not OK */
    unsigned *lat_us;          /* latencies */
    long n_lat;                /* kept */
} worker;

static const char *g_addr;
static const char *g_method;
static grpc_slice g_req;    /* the packed request */
static double g_end;        /* stop time, s */
static double g_measure_t0; /* start of measuring, s */
static int g_window;        /* --window: receive window, bytes (0: default) */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void start_call(worker *w, slot *s)
{
    grpc_slice m = grpc_slice_from_static_string(g_method);
    s->call = grpc_channel_create_call(
        s->ch, NULL, GRPC_PROPAGATE_DEFAULTS, w->cq, m, NULL,
        gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    grpc_metadata_array_init(&s->im);
    grpc_metadata_array_init(&s->tm);
    s->answer = NULL;
    grpc_slice copy = grpc_slice_ref(g_req);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&copy, 1);
    grpc_slice_unref(copy);
    grpc_op ops[6];
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = bb;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &s->im;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &s->answer;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &s->tm;
    ops[5].data.recv_status_on_client.status = &s->status;
    ops[5].data.recv_status_on_client.status_details = &s->details;
    s->t0 = now_s();
    if (grpc_call_start_batch(s->call, ops, 6, s, NULL) != GRPC_CALL_OK) {
        fprintf(stderr, "grpc_load: start_batch failed\n");
        exit(1);
    }
    grpc_byte_buffer_destroy(bb);
}

static void end_call(worker *w, slot *s, int ok)
{
    double t = now_s();
    if (t >= g_measure_t0) {
        w->done++;
        if (!ok || s->status != GRPC_STATUS_OK) {
            if (w->bad == 0) {
                char *d = grpc_slice_to_c_string(s->details);
                fprintf(stderr, "grpc_load: status %d: %s\n", s->status, d);
                gpr_free(d);
            }
            w->bad++;
        }
        if (w->n_lat < MAX_LAT)
            w->lat_us[w->n_lat++] = (unsigned)((t - s->t0) * 1e6);
    }
    if (s->answer) grpc_byte_buffer_destroy(s->answer);
    grpc_slice_unref(s->details);
    grpc_metadata_array_destroy(&s->im);
    grpc_metadata_array_destroy(&s->tm);
    grpc_call_unref(s->call);
    s->call = NULL;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    int inflight = 0;
    for (int i = 0; i < w->n_slots; i++) {
        start_call(w, &w->slots[i]);
        inflight++;
    }
    while (inflight > 0) {
        grpc_event ev = grpc_completion_queue_next(
            w->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type != GRPC_OP_COMPLETE) break;
        slot *s = ev.tag;
        end_call(w, s, ev.success);
        inflight--;
        if (now_s() < g_end) {
            start_call(w, s);
            inflight++;
        }
    }
    return NULL;
}

static int cmp_u(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return x < y ? -1 : x > y;
}

static grpc_channel *connect_one(void)
{
    grpc_arg a[3];
    memset(a, 0, sizeof(a));
    a[0].type = GRPC_ARG_INTEGER;
    a[0].key = (char *)GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL;
    a[0].value.integer = 1;
    a[1].type = GRPC_ARG_INTEGER;
    a[1].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    a[1].value.integer = 64 << 20;
    /* The receive window: the default 64 KiB (grown by BDP probes later)
     * holds a 150 KB page up for window updates. */
    a[2].type = GRPC_ARG_INTEGER;
    a[2].key = (char *)GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES;
    a[2].value.integer = g_window;
    grpc_channel_args ca = {g_window > 0 ? 3 : 2, a};
    grpc_channel_credentials *cr = grpc_insecure_credentials_create();
    grpc_channel *ch = grpc_channel_create(g_addr, cr, &ca);
    grpc_channel_credentials_release(cr);
    return ch;
}

/* ==== Export ==== */

static int varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    *v = 0;
    for (int sh = 0; sh < 64 && *p < end; sh += 7) {
        uint8_t b = *(*p)++;
        *v |= (uint64_t)(b & 0x7f) << sh;
        if (!(b & 0x80)) return 1;
    }
    return 0;
}

static int run_export(unsigned page_size)
{
    grpc_channel *ch = connect_one();
    grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
    Hakgal__V2__ExportRequest r = HAKGAL__V2__EXPORT_REQUEST__INIT;
    r.page_size = page_size;
    uint8_t buf[64];
    size_t n = hakgal__v2__export_request__pack(&r, buf);
    grpc_slice req = grpc_slice_from_copied_buffer((const char *)buf, n);
    grpc_call *call = grpc_channel_create_call(
        ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
        grpc_slice_from_static_string("/hakgal.v2.Hakgal/Export"), NULL,
        gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&req, 1);
    grpc_metadata_array im, tm;
    grpc_metadata_array_init(&im);
    grpc_metadata_array_init(&tm);
    grpc_status_code status;
    grpc_slice details;
    grpc_op ops[4];
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = bb;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &im;
    double t0 = now_s();
    grpc_call_start_batch(call, ops, 4, (void *)1, NULL);
    grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    grpc_byte_buffer_destroy(bb);
    unsigned long long facts = 0, bytes = 0, msgs = 0;
    for (;;) {
        grpc_byte_buffer *m = NULL;
        grpc_op op;
        memset(&op, 0, sizeof(op));
        op.op = GRPC_OP_RECV_MESSAGE;
        op.data.recv_message.recv_message = &m;
        grpc_call_start_batch(call, &op, 1, (void *)2, NULL);
        grpc_event ev = grpc_completion_queue_next(
            cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (!ev.success || !m) break;
        grpc_byte_buffer_reader rd;
        grpc_byte_buffer_reader_init(&rd, m);
        grpc_slice s = grpc_byte_buffer_reader_readall(&rd);
        grpc_byte_buffer_reader_destroy(&rd);
        grpc_byte_buffer_destroy(m);
        const uint8_t *p = GRPC_SLICE_START_PTR(s);
        const uint8_t *end = p + GRPC_SLICE_LENGTH(s);
        bytes += GRPC_SLICE_LENGTH(s);
        msgs++;
        while (p < end) {
            uint64_t tag, len;
            if (!varint(&p, end, &tag) || (tag & 7) != 2 ||
                !varint(&p, end, &len) || len > (uint64_t)(end - p)) {
                fprintf(stderr, "grpc_load: bad page\n");
                return 1;
            }
            if ((tag >> 3) == 1) facts++;
            p += len;
        }
        grpc_slice_unref(s);
    }
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[0].data.recv_status_on_client.trailing_metadata = &tm;
    ops[0].data.recv_status_on_client.status = &status;
    ops[0].data.recv_status_on_client.status_details = &details;
    grpc_call_start_batch(call, ops, 1, (void *)3, NULL);
    grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    double t = now_s() - t0;
    printf("export: %llu facts in %llu messages, %.1f MB, %.3f s: %.0f "
           "facts/s, %.1f MB/s, status %d\n",
           facts, msgs, (double)bytes / 1e6, t, (double)facts / t,
           (double)bytes / 1e6 / t, status);
    grpc_slice_unref(details);
    grpc_metadata_array_destroy(&im);
    grpc_metadata_array_destroy(&tm);
    grpc_call_unref(call);
    grpc_slice_unref(req);
    grpc_completion_queue_shutdown(cq);
    while (
        grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
            .type != GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
    grpc_channel_destroy(ch);
    return status == GRPC_STATUS_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    int conns = 16, threads = 2, export_mode = 0;
    double secs = 10, warm = 1;
    unsigned limit = 10, page_size = 0;
    const char *entity = NULL, *pattern = NULL, *dump = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--export")) {
            export_mode = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "grpc_load: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--addr"))
            g_addr = v;
        else if (!strcmp(a, "--conns"))
            conns = atoi(v);
        else if (!strcmp(a, "--threads"))
            threads = atoi(v);
        else if (!strcmp(a, "--seconds"))
            secs = atof(v);
        else if (!strcmp(a, "--warmup"))
            warm = atof(v);
        else if (!strcmp(a, "--entity"))
            entity = v;
        else if (!strcmp(a, "--pattern"))
            pattern = v;
        else if (!strcmp(a, "--limit"))
            limit = (unsigned)atoi(v);
        else if (!strcmp(a, "--page-size"))
            page_size = (unsigned)atoi(v);
        else if (!strcmp(a, "--window"))
            g_window = atoi(v);
        else if (!strcmp(a, "--dump"))
            dump = v;
        else {
            fprintf(stderr, "grpc_load: unknown %s\n", a);
            return 2;
        }
    }
    if ((!g_addr && !dump) || conns < 1 || threads < 1 ||
        (!export_mode && !entity == !pattern) || (dump && export_mode)) {
        fprintf(stderr, "usage: grpc_load --addr H:P (--entity E | --pattern P"
                        " | --export) [--conns C --threads T --seconds S]\n");
        return 2;
    }
    if (!dump) grpc_init();
    if (export_mode) {
        int rc = run_export(page_size);
        grpc_shutdown();
        return rc;
    }
    uint8_t buf[4096];
    size_t n;
    if (entity) {
        Hakgal__V2__EntityRequest r = HAKGAL__V2__ENTITY_REQUEST__INIT;
        r.name = (char *)entity;
        r.limit = limit;
        n = hakgal__v2__entity_request__pack(&r, buf);
        g_method = "/hakgal.v2.Hakgal/Entity";
    } else {
        Hakgal__V2__QueryRequest r = HAKGAL__V2__QUERY_REQUEST__INIT;
        r.pattern = (char *)pattern;
        r.limit = limit;
        n = hakgal__v2__query_request__pack(&r, buf);
        g_method = "/hakgal.v2.Hakgal/Query";
    }
    if (dump) {
        /* Uncompressed flag, then the length big-endian. */
        uint8_t pre[5] = {0, (uint8_t)(n >> 24), (uint8_t)(n >> 16),
                          (uint8_t)(n >> 8), (uint8_t)n};
        FILE *f = fopen(dump, "wb");
        if (!f || fwrite(pre, 1, 5, f) != 5 || fwrite(buf, 1, n, f) != n ||
            fclose(f) != 0) {
            fprintf(stderr, "grpc_load: cannot write %s\n", dump);
            return 1;
        }
        return 0;
    }
    g_req = grpc_slice_from_copied_buffer((const char *)buf, n);
    if (threads > conns) threads = conns;
    worker *ws = calloc((size_t)threads, sizeof(*ws));
    for (int t = 0; t < threads; t++) {
        ws[t].cq = grpc_completion_queue_create_for_next(NULL);
        ws[t].n_slots = conns / threads + (t < conns % threads);
        ws[t].slots = calloc((size_t)ws[t].n_slots, sizeof(slot));
        ws[t].lat_us = malloc(sizeof(unsigned) * MAX_LAT);
        for (int k = 0; k < ws[t].n_slots; k++)
            ws[t].slots[k].ch = connect_one();
    }
    g_measure_t0 = now_s() + warm;
    g_end = g_measure_t0 + secs;
    for (int t = 0; t < threads; t++)
        pthread_create(&ws[t].th, NULL, worker_main, &ws[t]);
    long done = 0, bad = 0, n_lat = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(ws[t].th, NULL);
        done += ws[t].done;
        bad += ws[t].bad;
        n_lat += ws[t].n_lat;
    }
    unsigned *all = malloc(sizeof(unsigned) * (size_t)(n_lat ? n_lat : 1));
    long k = 0;
    for (int t = 0; t < threads; t++) {
        memcpy(all + k, ws[t].lat_us, sizeof(unsigned) * (size_t)ws[t].n_lat);
        k += ws[t].n_lat;
    }
    qsort(all, (size_t)n_lat, sizeof(unsigned), cmp_u);
    double p50 = n_lat ? all[n_lat / 2] / 1000.0 : 0;
    double p99 = n_lat ? all[(long)(n_lat * 0.99)] / 1000.0 : 0;
    printf("%s c=%d: %ld calls in %.1f s: %.0f req/s, p50 %.3f ms, p99 "
           "%.3f ms, not OK %ld\n",
           entity ? "entity" : "pattern", conns, done, secs, done / secs, p50,
           p99, bad);
    for (int t = 0; t < threads; t++) {
        for (int s = 0; s < ws[t].n_slots; s++)
            grpc_channel_destroy(ws[t].slots[s].ch);
        grpc_completion_queue_shutdown(ws[t].cq);
        while (grpc_completion_queue_next(
                   ws[t].cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
                   .type != GRPC_QUEUE_SHUTDOWN)
            ;
        grpc_completion_queue_destroy(ws[t].cq);
        free(ws[t].slots);
        free(ws[t].lat_us);
    }
    free(ws);
    free(all);
    grpc_slice_unref(g_req);
    grpc_shutdown();
    return bad ? 1 : 0;
}
