/*
 * otel.c — spans, the sampler, W3C trace context and the OTLP/HTTP batch
 * exporter (otel.h).
 *
 * Design:
 *   1. A span is a fixed-size record in the caller's memory. Starting one
 *      draws ids from a thread-local generator and asks the sampler; a span
 *      that does not record is never copied anywhere.
 *   2. Ending a recording span copies it into a ring of queue_max records
 *      allocated once at start-up, under one mutex held for the copy only.
 *      A full ring drops the span and counts it: a request never waits for
 *      the exporter and memory never grows with a slow or absent receiver.
 *   3. One exporter thread wakes every delay_ms, or as soon as batch_max
 *      spans wait, encodes up to batch_max spans straight from the ring
 *      (outside the lock; their slots are freed once encoded) into
 *      one ExportTraceServiceRequest — protobuf (otel_pb.c, the
 *      default of the specification) or OTLP/JSON — and POSTs it with
 *      libcurl (one easy handle, kept alive, bounded by timeout_ms). The
 *      thread runs at nice EXPORTER_NICE so that, on a busy machine, it
 *      yields the CPU to request threads; its ring absorbs the delay.
 *   4. The response is honoured as the OTLP/HTTP specification says: a 2xx
 *      may carry a partial success, whose rejected spans are counted as
 *      failed; 429, 502, 503, 504 and a connection that failed are
 *      retried after an exponential backoff with jitter (1 s, 2 s, 4 s ...)
 *      or after the Retry-After the receiver asked for, at most
 *      MAX_ATTEMPTS sends and BACKOFF_MAX_MS per wait; any other status (a
 *      400 the receiver will refuse again) and a timeout are not retried.
 *      Meanwhile new spans queue, and drop when the ring is full. A stop
 *      ends the wait at once.
 *   5. Sampling follows the SDK specification: always_on, always_off,
 *      traceidratio (the trace id's last 8 bytes, big-endian, below
 *      ratio * 2^64) and their parentbased_ forms (a span with a parent
 *      follows the parent's sampled flag). The default is
 *      parentbased_always_on.
 *
 * Threads: hk_otel_start/stop run on one thread while no other thread ends
 * spans (the server calls them before its threads start and after they are
 * joined); the ring and the counters are guarded by tr->lock; the current
 * context is thread-local.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "core/buf.h"
#include "core/mem.h"
#include "otel/otel.h"
#include "otel/otel_pb.h"

#define DEF_QUEUE 2048u
#define DEF_BATCH 512u
#define DEF_DELAY_MS 5000u
#define DEF_TIMEOUT_MS 10000u
#define MAX_QUEUE 1000000u    /* largest ring accepted, in spans */
#define MAX_ATTEMPTS 5        /* sends of one batch at most */
#define BACKOFF_MS 1000u      /* wait before the first retry */
#define BACKOFF_MAX_MS 30000u /* longest wait, Retry-After included */
#define RESPONSE_MAX 65536u   /* bytes of a response body kept */
#define EXPORTER_NICE 10      /* the exporter thread's nice value */

/* ==== Settings ==== */

typedef enum sampler_kind {
    SAMPLE_ON,
    SAMPLE_OFF,
    SAMPLE_RATIO,
} sampler_kind;

static const struct {
    const char *name;  /* OTEL_TRACES_SAMPLER value */
    sampler_kind root; /* decision for a span without parent */
    bool parent_based; /* a parent's sampled flag decides when present */
} k_samplers[] = {
    {"always_on", SAMPLE_ON, false},
    {"always_off", SAMPLE_OFF, false},
    {"traceidratio", SAMPLE_RATIO, false},
    {"parentbased_always_on", SAMPLE_ON, true},
    {"parentbased_always_off", SAMPLE_OFF, true},
    {"parentbased_traceidratio", SAMPLE_RATIO, true},
};
#define N_SAMPLERS (sizeof(k_samplers) / sizeof(k_samplers[0]))

/* Compares an OTEL_* name with its dashed lower-case form too. */
static bool name_is(const char *name, const char *env)
{
    for (; *name && *env; name++, env++) {
        char c = *name == '-' ? '_' : (char)toupper((unsigned char)*name);
        if (c != *env) return false;
    }
    return !*name && !*env;
}

static bool parse_ratio(const char *v, double *out)
{
    char *end = NULL;
    if (!*v) return false;
    double d = strtod(v, &end);
    if (*end || !(d >= 0.0 && d <= 1.0)) return false;
    *out = d;
    return true;
}

static bool url_ok(const char *v)
{
    return !*v || !strncmp(v, "http://", 7) || !strncmp(v, "https://", 8);
}

/* k=v pairs separated by ',': every pair has a non-empty key and '='. */
static bool pairs_ok(const char *v)
{
    const char *p = v;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        const char *k = p;
        while (k < p + len && *k == ' ')
            k++;
        if (!eq || eq == k) return false;
        p = e ? e + 1 : p + len;
    }
    return true;
}

hk_err hk_otel_check_value(const char *name, const char *v, char *why, size_t n)
{
    if (name_is(name, "OTEL_TRACES_SAMPLER")) {
        if (!*v) return HK_OK;
        for (size_t i = 0; i < N_SAMPLERS; i++)
            if (!strcmp(v, k_samplers[i].name)) return HK_OK;
        snprintf(why, n,
                 "'%s' is not a sampler (always_on, always_off, "
                 "traceidratio, parentbased_always_on, "
                 "parentbased_always_off, parentbased_traceidratio)",
                 v);
        return HK_ERR_INVALID;
    }
    if (name_is(name, "OTEL_TRACES_SAMPLER_ARG")) {
        double d;
        if (!*v || parse_ratio(v, &d)) return HK_OK;
        snprintf(why, n, "'%s' is not a ratio between 0 and 1", v);
        return HK_ERR_INVALID;
    }
    if (name_is(name, "OTEL_EXPORTER_OTLP_PROTOCOL") ||
        name_is(name, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")) {
        if (!*v || !strcmp(v, "http/protobuf") || !strcmp(v, "http/json"))
            return HK_OK;
        snprintf(why, n,
                 "'%s' is not supported: hakgal sends http/protobuf or "
                 "http/json (OTLP over HTTP; grpc is not offered)",
                 v);
        return HK_ERR_INVALID;
    }
    if (name_is(name, "OTEL_EXPORTER_OTLP_ENDPOINT") ||
        name_is(name, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")) {
        if (url_ok(v)) return HK_OK;
        snprintf(why, n, "'%s' is not an http:// or https:// URL", v);
        return HK_ERR_INVALID;
    }
    if (name_is(name, "OTEL_EXPORTER_OTLP_HEADERS") ||
        name_is(name, "OTEL_RESOURCE_ATTRIBUTES")) {
        if (pairs_ok(v)) return HK_OK;
        snprintf(why, n, "'%s' is not a list of key=value pairs", v);
        return HK_ERR_INVALID;
    }
    if (name_is(name, "OTEL_TRACES_EXPORTER")) {
        if (!*v || !strcmp(v, "otlp") || !strcmp(v, "none")) return HK_OK;
        snprintf(why, n, "'%s' is not an exporter (otlp, none)", v);
        return HK_ERR_INVALID;
    }
    return HK_OK;
}

bool hk_otel_config_enabled(const hk_otel_config *cfg)
{
    if (cfg->sdk_disabled || !strcmp(cfg->exporter, "none")) return false;
    return cfg->endpoint[0] || cfg->traces_endpoint[0] ||
           !strcmp(cfg->exporter, "otlp");
}

/* ==== Ids and clocks ==== */

static _Thread_local uint64_t tl_rng;            /* splitmix64 state */
static _Thread_local const hk_trace_ctx *tl_cur; /* current context */

static uint64_t rng_next(void)
{
    if (tl_rng == 0) {
        uint64_t seed = 0;
        if (getrandom(&seed, sizeof seed, 0) != (ssize_t)sizeof seed) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^
                   (uint64_t)(uintptr_t)&tl_rng;
        }
        tl_rng = seed | 1;
    }
    uint64_t z = (tl_rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Fills n bytes (8 or 16) with random bytes, never all zero. */
static void random_id(uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i += 8) {
        uint64_t r = rng_next();
        memcpy(out + i, &r, 8);
    }
    out[n - 1] |= 1; /* an all-zero id is invalid */
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ==== W3C trace context ==== */

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1; /* upper case is invalid in traceparent */
}

static bool unhex(const char *s, uint8_t *out, size_t n)
{
    bool nonzero = false;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        out[i] = (uint8_t)(hi << 4 | lo);
        nonzero |= out[i] != 0;
    }
    return nonzero;
}

bool hk_traceparent_parse(const char *s, size_t len, hk_trace_ctx *ctx)
{
    /* 00-<32 hex>-<16 hex>-<2 hex>: 55 bytes; a later version may add
     * "-..." after them. Version ff is invalid. */
    if (!s || len < 55) return false;
    if (s[2] != '-' || s[35] != '-' || s[52] != '-') return false;
    if (hexval(s[0]) < 0 || hexval(s[1]) < 0) return false;
    uint8_t ver = (uint8_t)(hexval(s[0]) << 4 | hexval(s[1])), flags;
    if (ver == 0xff || (ver == 0 && len != 55) ||
        (ver > 0 && len > 55 && s[55] != '-'))
        return false;
    uint8_t tid[16], sid[8];
    if (!unhex(s + 3, tid, 16) || !unhex(s + 36, sid, 8)) return false;
    if (hexval(s[53]) < 0 || hexval(s[54]) < 0) return false;
    flags = (uint8_t)(hexval(s[53]) << 4 | hexval(s[54]));
    memcpy(ctx->trace_id, tid, 16);
    memcpy(ctx->span_id, sid, 8);
    ctx->flags = flags;
    ctx->state[0] = '\0';
    return true;
}

void hk_otel_hex(const uint8_t *b, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[b[i] >> 4];
        out[2 * i + 1] = d[b[i] & 15];
    }
    out[2 * n] = '\0';
}

void hk_traceparent_format(const hk_trace_ctx *ctx, char out[56])
{
    memcpy(out, "00-", 3);
    hk_otel_hex(ctx->trace_id, 16, out + 3);
    out[35] = '-';
    hk_otel_hex(ctx->span_id, 8, out + 36);
    out[52] = '-';
    hk_otel_hex(&ctx->flags, 1, out + 53);
}

/* ==== The tracer ==== */

typedef struct hk_tracer {
    pthread_mutex_t lock;       /* guards ring, head, len, stop and counters */
    pthread_cond_t wake;        /* signalled: a batch is full, or stop */
    hk_span *ring;              /* queue_max records */
    uint32_t head;              /* index of the oldest queued span */
    uint32_t len;               /* spans queued */
    uint32_t queue_max;         /* ring capacity, spans */
    uint32_t batch_max;         /* spans per export request at most */
    uint32_t delay_ms;          /* longest wait before an export */
    uint32_t timeout_ms;        /* one export request's time limit */
    bool stop;                  /* hk_otel_stop was called */
    sampler_kind root;          /* sampler for spans without a parent */
    bool parent_based;          /* a parent decides when present */
    uint64_t ratio_bound;       /* traceidratio: sample below this */
    char url[600];              /* where batches go */
    bool pb;                    /* http/protobuf, else http/json */
    struct curl_slist *headers; /* request headers, owned */
    char *resource_json;        /* the encoded "resource" object, owned */
    char *resource_pb;          /* the Resource message body, owned */
    size_t resource_pb_len;     /* bytes of resource_pb */
    pthread_t thread;           /* the exporter thread */
    hk_otel_counters c;         /* counters (queue_len/max filled on read) */
} hk_tracer;

static hk_tracer *_Atomic g_tr;

bool hk_otel_active(void)
{
    return atomic_load_explicit(&g_tr, memory_order_acquire) != NULL;
}

const hk_trace_ctx *hk_otel_current(void)
{
    return tl_cur;
}

const hk_trace_ctx *hk_otel_swap_current(const hk_trace_ctx *ctx)
{
    const hk_trace_ctx *prev = tl_cur;
    tl_cur = ctx;
    return prev;
}

static bool sample_root(const hk_tracer *tr, const uint8_t trace_id[16])
{
    switch (tr->root) {
    case SAMPLE_ON:
        return true;
    case SAMPLE_OFF:
        return false;
    case SAMPLE_RATIO: {
        uint64_t x = 0;
        for (int i = 8; i < 16; i++)
            x = x << 8 | trace_id[i];
        return x < tr->ratio_bound || tr->ratio_bound == UINT64_MAX;
    }
    }
    return false;
}

void hk_span_start(hk_span *sp, const char *name, hk_span_kind kind,
                   const hk_trace_ctx *parent, bool make_current)
{
    hk_tracer *tr = atomic_load_explicit(&g_tr, memory_order_acquire);
    sp->recording = false;
    sp->pushed = false;
    sp->n_attrs = 0;
    sp->error = false;
    sp->status[0] = '\0';
    if (!parent) parent = tl_cur;
    if (parent) {
        sp->ctx = *parent;
        memcpy(sp->parent_id, parent->span_id, 8);
    } else {
        random_id(sp->ctx.trace_id, 16);
        memset(sp->parent_id, 0, 8);
        sp->ctx.state[0] = '\0';
        sp->ctx.flags = 0;
    }
    random_id(sp->ctx.span_id, 8);
    if (tr) {
        bool sampled = parent && tr->parent_based
                           ? (parent->flags & 1) != 0
                           : sample_root(tr, sp->ctx.trace_id);
        sp->ctx.flags = (uint8_t)((sp->ctx.flags & ~1u) | (sampled ? 1 : 0));
        sp->recording = sampled;
    }
    sp->kind = kind;
    if (sp->recording) {
        snprintf(sp->name, sizeof sp->name, "%s", name);
        sp->start_ns = now_ns();
    }
    if (make_current) {
        sp->prev = tl_cur;
        tl_cur = &sp->ctx;
        sp->pushed = true;
    }
}

static hk_span_attr *attr_slot(hk_span *sp, const char *key)
{
    if (!sp->recording || sp->n_attrs >= HK_SPAN_ATTRS) return NULL;
    hk_span_attr *a = &sp->attrs[sp->n_attrs++];
    a->key = key;
    return a;
}

void hk_span_attr_str(hk_span *sp, const char *key, const char *v, size_t len)
{
    hk_span_attr *a = attr_slot(sp, key);
    if (!a) return;
    a->is_int = false;
    if (len >= sizeof a->s) len = sizeof a->s - 1;
    memcpy(a->s, v, len);
    a->s[len] = '\0';
}

void hk_span_attr_int(hk_span *sp, const char *key, int64_t v)
{
    hk_span_attr *a = attr_slot(sp, key);
    if (!a) return;
    a->is_int = true;
    a->i = v;
}

void hk_span_set_error(hk_span *sp, const char *why)
{
    if (!sp->recording) return;
    sp->error = true;
    snprintf(sp->status, sizeof sp->status, "%s", why ? why : "");
}

void hk_span_end(hk_span *sp)
{
    if (sp->pushed) {
        tl_cur = sp->prev;
        sp->pushed = false;
    }
    if (!sp->recording) return;
    sp->recording = false; /* ending twice queues once */
    sp->end_ns = now_ns();
    hk_tracer *tr = atomic_load_explicit(&g_tr, memory_order_acquire);
    if (!tr) return;
    pthread_mutex_lock(&tr->lock);
    if (tr->len >= tr->queue_max) {
        tr->c.spans_dropped++;
    } else {
        hk_span *slot = &tr->ring[(tr->head + tr->len) % tr->queue_max];
        memcpy(slot, sp, offsetof(hk_span, attrs));
        memcpy(slot->attrs, sp->attrs, sp->n_attrs * sizeof sp->attrs[0]);
        tr->len++;
        tr->c.spans_ended++;
        if (tr->len == tr->batch_max) pthread_cond_signal(&tr->wake);
    }
    pthread_mutex_unlock(&tr->lock);
}

void hk_otel_counters_get(hk_otel_counters *out)
{
    memset(out, 0, sizeof *out);
    hk_tracer *tr = atomic_load_explicit(&g_tr, memory_order_acquire);
    if (!tr) return;
    pthread_mutex_lock(&tr->lock);
    *out = tr->c;
    out->queue_len = tr->len;
    out->queue_max = tr->queue_max;
    pthread_mutex_unlock(&tr->lock);
}

/* ==== OTLP/JSON encoding ==== */

static hk_err kv_str(hk_buf *b, bool first, const char *k, const char *v,
                     size_t vlen)
{
    hk_err rc = hk_buf_append_str(b, first ? "{\"key\":" : ",{\"key\":");
    if (rc == HK_OK) rc = hk_buf_append_json_string(b, k, strlen(k));
    if (rc == HK_OK) rc = hk_buf_append_str(b, ",\"value\":{\"stringValue\":");
    if (rc == HK_OK) rc = hk_buf_append_json_string(b, v, vlen);
    if (rc == HK_OK) rc = hk_buf_append_str(b, "}}");
    return rc;
}

static hk_err encode_span(hk_buf *b, const hk_span *sp, bool first)
{
    char tid[33], sid[17], pid[17];
    hk_otel_hex(sp->ctx.trace_id, 16, tid);
    hk_otel_hex(sp->ctx.span_id, 8, sid);
    static const uint8_t zero[8];
    bool root = memcmp(sp->parent_id, zero, 8) == 0;
    if (!root) hk_otel_hex(sp->parent_id, 8, pid);
    hk_err rc = hk_buf_appendf(
        b, "%s{\"traceId\":\"%s\",\"spanId\":\"%s\"%s%s%s,", first ? "" : ",",
        tid, sid, root ? "" : ",\"parentSpanId\":\"", root ? "" : pid,
        root ? "" : "\"");
    if (rc == HK_OK && sp->ctx.state[0]) {
        rc = hk_buf_append_str(b, "\"traceState\":");
        if (rc == HK_OK)
            rc = hk_buf_append_json_string(b, sp->ctx.state,
                                           strlen(sp->ctx.state));
        if (rc == HK_OK) rc = hk_buf_append_str(b, ",");
    }
    if (rc == HK_OK) rc = hk_buf_append_str(b, "\"name\":");
    if (rc == HK_OK)
        rc = hk_buf_append_json_string(b, sp->name, strlen(sp->name));
    if (rc == HK_OK)
        rc = hk_buf_appendf(b,
                            ",\"kind\":%d,\"startTimeUnixNano\":\"%llu\","
                            "\"endTimeUnixNano\":\"%llu\"%s",
                            (int)sp->kind, (unsigned long long)sp->start_ns,
                            (unsigned long long)sp->end_ns,
                            sp->n_attrs ? ",\"attributes\":[" : "");
    for (unsigned i = 0; rc == HK_OK && i < sp->n_attrs; i++) {
        const hk_span_attr *a = &sp->attrs[i];
        if (a->is_int) {
            rc = hk_buf_append_str(b, i ? ",{\"key\":" : "{\"key\":");
            if (rc == HK_OK)
                rc = hk_buf_append_json_string(b, a->key, strlen(a->key));
            if (rc == HK_OK)
                rc = hk_buf_appendf(b, ",\"value\":{\"intValue\":\"%lld\"}}",
                                    (long long)a->i);
        } else {
            rc = kv_str(b, i == 0, a->key, a->s, strlen(a->s));
        }
    }
    if (rc == HK_OK && sp->n_attrs) rc = hk_buf_append_str(b, "]");
    if (rc == HK_OK && sp->error) {
        rc = hk_buf_append_str(b, ",\"status\":{\"code\":2,\"message\":");
        if (rc == HK_OK)
            rc = hk_buf_append_json_string(b, sp->status, strlen(sp->status));
        if (rc == HK_OK) rc = hk_buf_append_str(b, "}");
    }
    if (rc == HK_OK) rc = hk_buf_append_str(b, "}");
    return rc;
}

/* Encodes the n spans of the ring from slot first on (wrapping). */
static hk_err encode_batch(hk_tracer *tr, hk_buf *b, uint32_t first, uint32_t n)
{
    const hk_span *ring = tr->ring;
    uint32_t cap = tr->queue_max;
    if (tr->pb)
        return hk_otlp_pb_request(b, tr->resource_pb, tr->resource_pb_len,
                                  hk_version(), ring, cap, first, n);
    b->len = 0;
    hk_err rc = hk_buf_appendf(b,
                               "{\"resourceSpans\":[{\"resource\":%s,"
                               "\"scopeSpans\":[{\"scope\":{\"name\":"
                               "\"hakgal\",\"version\":\"%s\"},\"spans\":[",
                               tr->resource_json, hk_version());
    for (uint32_t i = 0; rc == HK_OK && i < n; i++)
        rc = encode_span(b, &ring[(first + i) % cap], i == 0);
    if (rc == HK_OK) rc = hk_buf_append_str(b, "]}]}]}");
    return rc;
}

/* ==== Export ==== */

/* Keeps the first RESPONSE_MAX bytes of a response body in an hk_buf. */
static size_t keep_body(char *p, size_t size, size_t n, void *ud)
{
    hk_buf *r = ud;
    size_t len = size * n;
    if (r->len < RESPONSE_MAX) {
        size_t k = len < RESPONSE_MAX - r->len ? len : RESPONSE_MAX - r->len;
        if (hk_buf_append(r, p, k) != HK_OK) return 0;
    }
    return len;
}

/* partialSuccess.rejectedSpans of an OTLP/JSON response (an int64, so a
 * string or a number); 0 when absent or unreadable. */
static uint64_t json_rejected(const char *body)
{
    const char *p = body ? strstr(body, "\"rejectedSpans\"") : NULL;
    if (!p) return 0;
    p += 15;
    while (*p == ' ' || *p == ':' || *p == '"' || *p == '\n' || *p == '\t')
        p++;
    uint64_t v = 0;
    for (int i = 0; i < 20 && *p >= '0' && *p <= '9'; i++, p++)
        v = v * 10 + (uint64_t)(*p - '0');
    return v;
}

static bool retryable(CURLcode cc, long code)
{
    if (cc != CURLE_OK)
        return cc == CURLE_COULDNT_CONNECT || cc == CURLE_SEND_ERROR ||
               cc == CURLE_RECV_ERROR || cc == CURLE_GOT_NOTHING;
    return code == 429 || code == 502 || code == 503 || code == 504;
}

/* Waits ms on the exporter thread; false when a stop came first. */
static bool wait_retry(hk_tracer *tr, uint32_t ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&tr->lock);
    while (!tr->stop)
        if (pthread_cond_timedwait(&tr->wake, &tr->lock, &until)) break;
    bool go = !tr->stop;
    pthread_mutex_unlock(&tr->lock);
    return go;
}

/* Sends one encoded batch of n spans, retrying as design point 4 says;
 * counts the outcome. */
static bool export_batch(hk_tracer *tr, CURL *h, const hk_buf *b, hk_buf *resp,
                         size_t n)
{
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, b->data);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b->len);
    for (unsigned attempt = 0;; attempt++) {
        resp->len = 0;
        long code = 0;
        curl_off_t after = -1;
        if (attempt) { /* counted as it is sent */
            pthread_mutex_lock(&tr->lock);
            tr->c.retries++;
            pthread_mutex_unlock(&tr->lock);
        }
        CURLcode cc = curl_easy_perform(h);
        if (cc == CURLE_OK) {
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
            curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &after);
        }
        bool ok = cc == CURLE_OK && code >= 200 && code < 300;
        uint64_t rejected = 0;
        if (ok && tr->pb) {
            if (!hk_otlp_pb_rejected((const uint8_t *)resp->data, resp->len,
                                     &rejected))
                rejected = 0;
        } else if (ok && resp->len) {
            rejected = json_rejected(resp->data);
        }
        if (rejected > n) rejected = n;
        bool again = !ok && retryable(cc, code) && attempt + 1 < MAX_ATTEMPTS;
        pthread_mutex_lock(&tr->lock);
        tr->c.exports++;
        if (ok) {
            tr->c.spans_exported += n - rejected;
            tr->c.spans_failed += rejected;
            tr->c.spans_rejected += rejected;
        } else if (!again) {
            tr->c.spans_failed += n;
        }
        pthread_mutex_unlock(&tr->lock);
        if (!again) return ok;
        uint64_t ms;
        if (after >= 0) {
            ms = (uint64_t)after * 1000u;
        } else { /* exponential, jitter: a uniform draw in [half, full] */
            uint64_t full = (uint64_t)BACKOFF_MS << attempt;
            ms = full / 2 + rng_next() % (full / 2 + 1);
        }
        if (ms > BACKOFF_MAX_MS) ms = BACKOFF_MAX_MS;
        if (!wait_retry(tr, (uint32_t)ms)) {
            pthread_mutex_lock(&tr->lock);
            tr->c.spans_failed += n;
            pthread_mutex_unlock(&tr->lock);
            return false;
        }
    }
}

static void *exporter_main(void *arg)
{
    hk_tracer *tr = arg;
    /* Request work comes first: on Linux a nice value is per thread, so
     * this lowers the exporter only. Failure leaves it at the default. */
    (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), EXPORTER_NICE);
    (void)pthread_setname_np(pthread_self(), "hakgal-otel"); /* for top -H */
    CURL *h = curl_easy_init();
    hk_buf b = HK_BUF_INIT, resp = HK_BUF_INIT;
    if (h) {
        curl_easy_setopt(h, CURLOPT_URL, tr->url);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, tr->headers);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)tr->timeout_ms);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
    }
    pthread_mutex_lock(&tr->lock);
    for (;;) {
        if (!tr->stop && tr->len < tr->batch_max) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += tr->delay_ms / 1000;
            until.tv_nsec += (long)(tr->delay_ms % 1000) * 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            while (!tr->stop && tr->len < tr->batch_max)
                if (pthread_cond_timedwait(&tr->wake, &tr->lock, &until)) break;
        }
        uint32_t n = tr->len < tr->batch_max ? tr->len : tr->batch_max;
        if (!h) { /* no memory for libcurl: drop, count */
            tr->c.spans_failed += n;
            n = 0;
            tr->head = (tr->head + tr->len) % tr->queue_max;
            tr->len = 0;
        }
        /* The n oldest slots stay queued while they are encoded without
         * the lock: producers only write past head + len, so nothing is
         * copied under the lock and request threads never wait for it. */
        uint32_t first = tr->head;
        bool stop = tr->stop;
        pthread_mutex_unlock(&tr->lock);
        hk_err erc = n ? encode_batch(tr, &b, first, n) : HK_OK;
        pthread_mutex_lock(&tr->lock);
        tr->head = (tr->head + n) % tr->queue_max;
        tr->len -= n;
        if (erc != HK_OK) tr->c.spans_failed += n;
        pthread_mutex_unlock(&tr->lock);
        bool ok = n == 0 || (erc == HK_OK && export_batch(tr, h, &b, &resp, n));
        pthread_mutex_lock(&tr->lock);
        if (tr->stop && !ok) { /* shutting down, receiver away: no more */
            tr->c.spans_failed += tr->len;
            tr->len = 0;
        }
        if (stop && tr->len == 0) break;
    }
    pthread_mutex_unlock(&tr->lock);
    hk_buf_free(&b);
    hk_buf_free(&resp);
    if (h) curl_easy_cleanup(h);
    return NULL;
}

/* ==== Start and stop ==== */

static int unpct(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < cap; i++) {
        if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
            isxdigit((unsigned char)s[i + 2])) {
            char hx[3] = {s[i + 1], s[i + 2], 0};
            out[o++] = (char)strtol(hx, NULL, 16);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return (int)o;
}

/* Calls fn(key, value) for each k=v of a comma list (trimmed, values
 * percent-decoded); pairs longer than 1 KiB are skipped. */
static hk_err each_pair(const char *list,
                        hk_err (*fn)(void *, const char *, const char *),
                        void *ud)
{
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (eq && len < 1024) {
            char k[1024], v[1024];
            const char *ks = p, *ke = eq;
            while (ks < ke && *ks == ' ')
                ks++;
            while (ke > ks && ke[-1] == ' ')
                ke--;
            const char *vs = eq + 1, *ve = p + len;
            while (vs < ve && *vs == ' ')
                vs++;
            while (ve > vs && ve[-1] == ' ')
                ve--;
            unpct(ks, (size_t)(ke - ks), k, sizeof k);
            unpct(vs, (size_t)(ve - vs), v, sizeof v);
            if (k[0]) {
                hk_err rc = fn(ud, k, v);
                if (rc != HK_OK) return rc;
            }
        }
        p = e ? e + 1 : p + len;
    }
    return HK_OK;
}

static hk_err add_header(void *ud, const char *k, const char *v)
{
    hk_tracer *tr = ud;
    char line[2100];
    snprintf(line, sizeof line, "%s: %s", k, v);
    struct curl_slist *n = curl_slist_append(tr->headers, line);
    if (!n) return HK_ERR_NOMEM;
    tr->headers = n;
    return HK_OK;
}

typedef struct res_enc {
    hk_buf *b;  /* the JSON attributes array being written */
    hk_buf *pb; /* the protobuf Resource body being written */
} res_enc;

/* One resource attribute in both encodings (never the first: service.name
 * is written before any). */
static hk_err res_attr(res_enc *r, const char *k, const char *v)
{
    hk_err rc = kv_str(r->b, false, k, v, strlen(v));
    return rc ? rc : hk_otlp_pb_kv_str(r->pb, 1, k, v, strlen(v));
}

static hk_err add_res_attr(void *ud, const char *k, const char *v)
{
    if (!strcmp(k, "service.name")) return HK_OK; /* written first */
    return res_attr(ud, k, v);
}

static void tracer_free(hk_tracer *tr)
{
    if (!tr) return;
    curl_slist_free_all(tr->headers);
    hk_free(tr->resource_json);
    hk_free(tr->resource_pb);
    hk_free(tr->ring);
    pthread_cond_destroy(&tr->wake);
    pthread_mutex_destroy(&tr->lock);
    hk_free(tr);
}

static hk_err check_cfg(const hk_otel_config *cfg, hk_error *err)
{
    static const struct {
        const char *name;
        size_t off;
    } k[] = {
        {"OTEL_TRACES_SAMPLER", offsetof(hk_otel_config, sampler)},
        {"OTEL_TRACES_SAMPLER_ARG", offsetof(hk_otel_config, sampler_arg)},
        {"OTEL_EXPORTER_OTLP_PROTOCOL", offsetof(hk_otel_config, protocol)},
        {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
         offsetof(hk_otel_config, traces_protocol)},
        {"OTEL_EXPORTER_OTLP_ENDPOINT", offsetof(hk_otel_config, endpoint)},
        {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
         offsetof(hk_otel_config, traces_endpoint)},
        {"OTEL_EXPORTER_OTLP_HEADERS", offsetof(hk_otel_config, headers)},
        {"OTEL_RESOURCE_ATTRIBUTES", offsetof(hk_otel_config, resource_attrs)},
        {"OTEL_TRACES_EXPORTER", offsetof(hk_otel_config, exporter)},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        char why[300];
        const char *v = (const char *)cfg + k[i].off;
        if (hk_otel_check_value(k[i].name, v, why, sizeof why) != HK_OK)
            return hk_error_set(err, HK_ERR_INVALID, "%s: %s", k[i].name, why);
    }
    return HK_OK;
}

hk_err hk_otel_start(const hk_otel_config *cfg, const char *version,
                     hk_error *err)
{
    hk_err rc = check_cfg(cfg, err);
    if (rc != HK_OK || !hk_otel_config_enabled(cfg)) return rc;
    if (atomic_load(&g_tr))
        return hk_error_set(err, HK_ERR_STATE, "a tracer runs already");
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return hk_error_set(err, HK_ERR_IO, "libcurl failed to start");
    hk_tracer *tr = hk_calloc(1, sizeof *tr);
    if (!tr) goto nomem;
    pthread_mutex_init(&tr->lock, NULL);
    pthread_cond_init(&tr->wake, NULL);
    tr->queue_max = cfg->queue_max ? cfg->queue_max : DEF_QUEUE;
    if (tr->queue_max > MAX_QUEUE) tr->queue_max = MAX_QUEUE;
    tr->batch_max = cfg->batch_max ? cfg->batch_max : DEF_BATCH;
    if (tr->batch_max > tr->queue_max) tr->batch_max = tr->queue_max;
    tr->delay_ms = cfg->delay_ms ? cfg->delay_ms : DEF_DELAY_MS;
    tr->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : DEF_TIMEOUT_MS;
    const char *s = cfg->sampler[0] ? cfg->sampler : "parentbased_always_on";
    for (size_t i = 0; i < N_SAMPLERS; i++)
        if (!strcmp(s, k_samplers[i].name)) {
            tr->root = k_samplers[i].root;
            tr->parent_based = k_samplers[i].parent_based;
        }
    double ratio = 1.0;
    if (cfg->sampler_arg[0]) parse_ratio(cfg->sampler_arg, &ratio);
    tr->ratio_bound =
        ratio >= 1.0 ? UINT64_MAX : (uint64_t)(ratio * 18446744073709551616.0);
    if (cfg->traces_endpoint[0]) {
        snprintf(tr->url, sizeof tr->url, "%s", cfg->traces_endpoint);
    } else {
        const char *base =
            cfg->endpoint[0] ? cfg->endpoint : "http://localhost:4318";
        size_t bl = strlen(base);
        while (bl > 0 && base[bl - 1] == '/')
            bl--;
        snprintf(tr->url, sizeof tr->url, "%.*s/v1/traces", (int)bl, base);
    }
    const char *proto =
        cfg->traces_protocol[0] ? cfg->traces_protocol : cfg->protocol;
    tr->pb = strcmp(proto, "http/json") != 0; /* "" = http/protobuf */
    tr->ring = hk_calloc(tr->queue_max, sizeof *tr->ring);
    if (!tr->ring) goto nomem;
    struct curl_slist *ct =
        curl_slist_append(NULL, tr->pb ? "Content-Type: application/x-protobuf"
                                       : "Content-Type: application/json");
    if (!ct) goto nomem;
    tr->headers = ct;
    /* No "Expect: 100-continue" (libcurl's default for larger bodies): it
     * costs every export a round trip. */
    ct = curl_slist_append(tr->headers, "Expect:");
    if (!ct) goto nomem;
    tr->headers = ct;
    if (each_pair(cfg->headers, add_header, tr) != HK_OK) goto nomem;

    /* The resource: OTEL_SERVICE_NAME wins over service.name in
     * OTEL_RESOURCE_ATTRIBUTES, which wins over "hakgal". */
    hk_buf b = HK_BUF_INIT, pb = HK_BUF_INIT;
    char host[256] = "";
    if (!cfg->node_id[0] && gethostname(host, sizeof host - 1) != 0)
        host[0] = '\0';
    const char *node = cfg->node_id[0] ? cfg->node_id : host;
    const char *svc = cfg->service_name[0] ? cfg->service_name : NULL;
    char from_attrs[1024] = "";
    if (!svc) { /* service.name from the attributes, if there */
        const char *p = strstr(cfg->resource_attrs, "service.name=");
        if (p && (p == cfg->resource_attrs || p[-1] == ',' || p[-1] == ' ')) {
            p += 13;
            size_t l = strcspn(p, ",");
            unpct(p, l, from_attrs, sizeof from_attrs);
        }
        svc = from_attrs[0] ? from_attrs : "hakgal";
    }
    res_enc re = {&b, &pb};
    rc = hk_buf_append_str(&b, "{\"attributes\":[");
    if (rc == HK_OK) rc = kv_str(&b, true, "service.name", svc, strlen(svc));
    if (rc == HK_OK)
        rc = hk_otlp_pb_kv_str(&pb, 1, "service.name", svc, strlen(svc));
    if (rc == HK_OK) rc = res_attr(&re, "service.version", version);
    if (rc == HK_OK && node[0]) rc = res_attr(&re, "service.instance.id", node);
    if (rc == HK_OK) rc = res_attr(&re, "telemetry.sdk.name", "hakgal");
    if (rc == HK_OK) rc = each_pair(cfg->resource_attrs, add_res_attr, &re);
    if (rc == HK_OK) rc = hk_buf_append_str(&b, "]}");
    if (rc != HK_OK) {
        hk_buf_free(&b);
        hk_buf_free(&pb);
        goto nomem;
    }
    tr->resource_json = b.data; /* ownership moves to the tracer */
    tr->resource_pb = pb.data;
    tr->resource_pb_len = pb.len;
    if (pthread_create(&tr->thread, NULL, exporter_main, tr) != 0) {
        tracer_free(tr);
        curl_global_cleanup();
        return hk_error_set(err, HK_ERR_IO, "cannot start the trace exporter");
    }
    atomic_store_explicit(&g_tr, tr, memory_order_release);
    return HK_OK;
nomem:
    tracer_free(tr);
    curl_global_cleanup();
    return hk_error_set(err, HK_ERR_NOMEM, "out of memory starting tracing");
}

void hk_otel_stop(void)
{
    hk_tracer *tr = atomic_exchange(&g_tr, NULL);
    if (!tr) return;
    pthread_mutex_lock(&tr->lock);
    tr->stop = true;
    pthread_cond_signal(&tr->wake);
    pthread_mutex_unlock(&tr->lock);
    pthread_join(tr->thread, NULL);
    tracer_free(tr);
    curl_global_cleanup();
}
