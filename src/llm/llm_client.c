/*
 * llm_client.c — the OpenAI-compatible HTTP client (llm.h, "Client").
 *
 * One request:
 *   1. take a slot: at most ep.concurrency requests of a client are in
 *      flight; later callers wait in FIFO order (tickets), at most
 *      ep.queue_max of them, the rest get HK_ERR_LIMIT at once;
 *   2. POST the JSON body with libcurl (a new easy handle per attempt:
 *      requests are seconds long, so reusing connections saves nothing
 *      worth the shared state); streaming requests parse the Server-Sent
 *      Events as they arrive ("data: {chunk}" lines, "data: [DONE]") and
 *      hand each content delta to the caller;
 *   3. on a network error, a timeout, 429 or 5xx: wait and try again, up
 *      to ep.retries times — the Retry-After the endpoint sent (seconds,
 *      at most 60), else backoff_ms * 2^attempt with jitter (a uniform
 *      draw in [d/2, d]) so that clients do not retry in lock-step. A
 *      stream that already delivered text is not retried (the caller saw
 *      it); other 4xx answers are final;
 *   4. decode the completion (or the concatenated deltas) and the usage.
 *
 * Threads: a client may be used by any number of threads at once; its
 * limiter is a mutex + condition variable. The counters are process-wide
 * atomics read by /metrics.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "core/json_text.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/mem.h"
#include "llm/llm.h"
#include "otel/otel.h"

#define RETRY_AFTER_MAX_S 60 /* longest Retry-After honoured */
#define BODY_MAX (64u << 20) /* largest answer read, in bytes */
#define ERR_TEXT_MAX 200     /* bytes of an endpoint's error text quoted */

/* ==== Counters ==== */

static _Atomic uint64_t g_requests, g_failures, g_retries, g_queued,
    g_in_flight, g_wait_us, g_prompt_tokens, g_completion_tokens;

void hk_llm_counters_get(hk_llm_counters *o)
{
    o->requests = atomic_load(&g_requests);
    o->failures = atomic_load(&g_failures);
    o->retries = atomic_load(&g_retries);
    o->queued = atomic_load(&g_queued);
    o->in_flight = atomic_load(&g_in_flight);
    o->wait_us = atomic_load(&g_wait_us);
    o->prompt_tokens = atomic_load(&g_prompt_tokens);
    o->completion_tokens = atomic_load(&g_completion_tokens);
}

hk_err hk_llm_metrics_render(hk_buf *b)
{
    hk_llm_counters c;
    hk_llm_counters_get(&c);
    return hk_buf_appendf(
        b,
        "# HELP hakgal_llm_requests_total Model requests started.\n"
        "# TYPE hakgal_llm_requests_total counter\n"
        "hakgal_llm_requests_total %llu\n"
        "# HELP hakgal_llm_failures_total Model requests that failed.\n"
        "# TYPE hakgal_llm_failures_total counter\n"
        "hakgal_llm_failures_total %llu\n"
        "# HELP hakgal_llm_retries_total Extra attempts after 429, 5xx or "
        "network errors.\n"
        "# TYPE hakgal_llm_retries_total counter\n"
        "hakgal_llm_retries_total %llu\n"
        "# HELP hakgal_llm_queue_length Model requests waiting for a slot.\n"
        "# TYPE hakgal_llm_queue_length gauge\n"
        "hakgal_llm_queue_length %llu\n"
        "# HELP hakgal_llm_in_flight Model requests holding a slot.\n"
        "# TYPE hakgal_llm_in_flight gauge\n"
        "hakgal_llm_in_flight %llu\n"
        "# HELP hakgal_llm_queue_wait_seconds_total Time spent waiting for "
        "a slot.\n"
        "# TYPE hakgal_llm_queue_wait_seconds_total counter\n"
        "hakgal_llm_queue_wait_seconds_total %.6f\n"
        "# HELP hakgal_llm_tokens_total Tokens reported by endpoints.\n"
        "# TYPE hakgal_llm_tokens_total counter\n"
        "hakgal_llm_tokens_total{kind=\"prompt\"} %llu\n"
        "hakgal_llm_tokens_total{kind=\"completion\"} %llu\n",
        (unsigned long long)c.requests, (unsigned long long)c.failures,
        (unsigned long long)c.retries, (unsigned long long)c.queued,
        (unsigned long long)c.in_flight, (double)c.wait_us / 1e6,
        (unsigned long long)c.prompt_tokens,
        (unsigned long long)c.completion_tokens);
}

/* ==== Client and limiter ==== */

struct hk_llm_client {
    hk_llm_endpoint ep;   /* copy of the configuration */
    pthread_mutex_t mu;   /* guards the fields below */
    pthread_cond_t cv;    /* signalled when a slot frees */
    unsigned in_flight;   /* requests holding a slot */
    unsigned waiting;     /* requests waiting for one */
    uint64_t next_ticket; /* ticket of the next caller */
    uint64_t serving;     /* lowest ticket not yet admitted */
};

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static CURLcode g_curl_init_rc;
static void curl_init_once(void)
{
    g_curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

hk_err hk_llm_client_new(const hk_llm_endpoint *ep, hk_llm_client **out,
                         hk_error *err)
{
    pthread_once(&g_curl_once, curl_init_once);
    if (g_curl_init_rc != CURLE_OK)
        return hk_error_set(err, HK_ERR_IO, "libcurl failed to start: %s",
                            curl_easy_strerror(g_curl_init_rc));
    hk_llm_client *c = hk_calloc(1, sizeof *c);
    if (!c) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    c->ep = *ep;
    if (c->ep.concurrency == 0) c->ep.concurrency = 1;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    *out = c;
    return HK_OK;
}

void hk_llm_client_free(hk_llm_client *c)
{
    if (!c) return;
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    hk_free(c);
}

const hk_llm_endpoint *hk_llm_client_endpoint(const hk_llm_client *c)
{
    return &c->ep;
}

static hk_err slot_take(hk_llm_client *c, int64_t *wait_us, hk_error *err)
{
    int64_t t0 = hk_now_us();
    pthread_mutex_lock(&c->mu);
    if (c->in_flight >= c->ep.concurrency && c->waiting >= c->ep.queue_max) {
        pthread_mutex_unlock(&c->mu);
        return hk_error_set(err, HK_ERR_LIMIT,
                            "model endpoint '%s' is busy: %u requests in "
                            "flight and %u waiting (queue_max)",
                            c->ep.name, c->ep.concurrency, c->ep.queue_max);
    }
    uint64_t me = c->next_ticket++;
    c->waiting++;
    atomic_fetch_add(&g_queued, 1);
    while (me != c->serving || c->in_flight >= c->ep.concurrency)
        pthread_cond_wait(&c->cv, &c->mu);
    c->serving++;
    c->waiting--;
    c->in_flight++;
    atomic_fetch_sub(&g_queued, 1);
    atomic_fetch_add(&g_in_flight, 1);
    pthread_cond_broadcast(&c->cv); /* the next ticket may fit too */
    pthread_mutex_unlock(&c->mu);
    *wait_us = hk_now_us() - t0;
    atomic_fetch_add(&g_wait_us, (uint64_t)*wait_us);
    return HK_OK;
}

static void slot_give(hk_llm_client *c)
{
    pthread_mutex_lock(&c->mu);
    c->in_flight--;
    atomic_fetch_sub(&g_in_flight, 1);
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static pthread_once_t g_shared_once = PTHREAD_ONCE_INIT;
static hk_llm_client *g_shared; /* NULL when no endpoint is configured */
static hk_error g_shared_err;   /* why there is none */

static void shared_init(void)
{
    hk_llm_config *cfg = hk_calloc(1, sizeof *cfg);
    const hk_llm_endpoint *ep = NULL;
    hk_error_clear(&g_shared_err);
    if (!cfg) {
        hk_error_set(&g_shared_err, HK_ERR_NOMEM, "out of memory");
        return;
    }
    if (hk_llm_config_load(cfg, NULL, &g_shared_err) == HK_OK &&
        hk_llm_config_pick(cfg, NULL, &ep, &g_shared_err) == HK_OK)
        hk_llm_client_new(ep, &g_shared, &g_shared_err);
    hk_free(cfg);
}

hk_llm_client *hk_llm_shared_client(hk_error *err)
{
    pthread_once(&g_shared_once, shared_init);
    if (!g_shared && err) *err = g_shared_err;
    return g_shared;
}

/* ==== One HTTP exchange ==== */

typedef struct xfer {
    long status;              /* HTTP status of the last response line */
    int retry_after_s;        /* Retry-After in seconds, -1 when absent */
    hk_buf body;              /* non-streamed body, or an error body */
    bool stream;              /* parse SSE when the status is 200 */
    hk_buf line;              /* SSE: the incomplete line */
    hk_buf content;           /* SSE: content deltas so far */
    bool delivered;           /* SSE: on_delta has been called */
    bool done;                /* SSE: [DONE] seen */
    bool bad_event;           /* SSE: an event was not valid JSON */
    hk_llm_delta_fn on_delta; /* SSE consumer */
    void *ud;                 /* passed to on_delta */
    hk_err cb_rc;             /* what on_delta returned, when not OK */
    char model[128];          /* reported model */
    char finish[32];          /* reported finish_reason */
    uint64_t prompt_tokens;   /* reported usage */
    uint64_t completion_tokens;
} xfer;

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    xfer *x = ud;
    size_t len = size * n;
    if (len > 5 && !strncmp(p, "HTTP/", 5)) {
        x->retry_after_s = -1;
        const char *sp = memchr(p, ' ', len);
        if (sp) x->status = strtol(sp + 1, NULL, 10);
    } else if (len > 12 && !strncasecmp(p, "Retry-After:", 12)) {
        char tmp[32];
        size_t m = len - 12 < sizeof tmp - 1 ? len - 12 : sizeof tmp - 1;
        memcpy(tmp, p + 12, m);
        tmp[m] = 0;
        char *end = NULL;
        long s = strtol(tmp, &end, 10);
        if (end != tmp && s >= 0)
            x->retry_after_s =
                s > RETRY_AFTER_MAX_S ? RETRY_AFTER_MAX_S : (int)s;
    }
    return len;
}

static void copy_str(char *dst, size_t cap, json_t *v)
{
    if (json_is_string(v)) snprintf(dst, cap, "%s", json_string_value(v));
}

static void read_usage(xfer *x, json_t *root)
{
    json_t *u = json_object_get(root, "usage");
    json_t *p = json_object_get(u, "prompt_tokens");
    json_t *c = json_object_get(u, "completion_tokens");
    if (json_is_integer(p) && json_integer_value(p) >= 0)
        x->prompt_tokens = (uint64_t)json_integer_value(p);
    if (json_is_integer(c) && json_integer_value(c) >= 0)
        x->completion_tokens = (uint64_t)json_integer_value(c);
}

/* One SSE line ("data: ...", comments and other fields ignored). */
static void sse_line(xfer *x, const char *s, size_t n)
{
    if (n < 5 || strncmp(s, "data:", 5) != 0) return;
    s += 5;
    n -= 5;
    while (n && *s == ' ')
        s++, n--;
    if (n == 6 && !strncmp(s, "[DONE]", 6)) {
        x->done = true;
        return;
    }
    json_error_t je;
    json_t *ev = json_loadb(s, n, 0, &je);
    if (!json_is_object(ev)) {
        x->bad_event = true;
        json_decref(ev);
        return;
    }
    copy_str(x->model, sizeof x->model, json_object_get(ev, "model"));
    read_usage(x, ev);
    json_t *ch = json_array_get(json_object_get(ev, "choices"), 0);
    copy_str(x->finish, sizeof x->finish, json_object_get(ch, "finish_reason"));
    json_t *d = json_object_get(json_object_get(ch, "delta"), "content");
    if (json_is_string(d) && json_string_length(d) > 0) {
        const char *t = json_string_value(d);
        size_t tl = json_string_length(d);
        if (hk_buf_append(&x->content, t, tl) != HK_OK)
            x->cb_rc = HK_ERR_NOMEM;
        else if (x->on_delta && x->cb_rc == HK_OK) {
            x->delivered = true;
            x->cb_rc = x->on_delta(x->ud, t, tl);
        }
    }
    json_decref(ev);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    xfer *x = ud;
    size_t len = size * n;
    if (!x->stream || x->status != 200) {
        if (x->body.len + len > BODY_MAX) return 0;
        return hk_buf_append(&x->body, p, len) == HK_OK ? len : 0;
    }
    /* SSE: split into lines; an event's data is one line in practice. */
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '\n') {
            size_t l = x->line.len;
            if (l && x->line.data[l - 1] == '\r') l--;
            if (l) sse_line(x, x->line.data, l);
            hk_buf_reset(&x->line);
            if (x->cb_rc != HK_OK) return 0; /* stop the transfer */
        } else if (x->line.len >= BODY_MAX ||
                   hk_buf_append(&x->line, &p[i], 1) != HK_OK) {
            return 0;
        }
    }
    return len;
}

static void xfer_reset(xfer *x)
{
    hk_buf_reset(&x->body);
    hk_buf_reset(&x->line);
    hk_buf_reset(&x->content);
    x->status = 0;
    x->retry_after_s = -1;
    x->delivered = x->done = x->bad_event = false;
    x->cb_rc = HK_OK;
    x->model[0] = x->finish[0] = 0;
    x->prompt_tokens = x->completion_tokens = 0;
}

static void xfer_free(xfer *x)
{
    hk_buf_free(&x->body);
    hk_buf_free(&x->line);
    hk_buf_free(&x->content);
}

/* POSTs body to base_url + path; fills x. *curl_rc gets libcurl's code. */
static hk_err post_once(const hk_llm_endpoint *ep, const char *path,
                        const char *body, xfer *x, CURLcode *curl_rc,
                        char errbuf[CURL_ERROR_SIZE], hk_error *err)
{
    char url[640];
    size_t bl = strlen(ep->base_url);
    while (bl && ep->base_url[bl - 1] == '/')
        bl--;
    snprintf(url, sizeof url, "%.*s%s", (int)bl, ep->base_url, path);
    CURL *h = curl_easy_init();
    if (!h) return hk_error_set(err, HK_ERR_NOMEM, "libcurl: no handle");
    struct curl_slist *hdr = NULL, *tmp;
    char auth[560];
    hk_err rc = HK_OK;
    if (!(tmp = curl_slist_append(hdr, "Content-Type: application/json")))
        goto nomem;
    hdr = tmp;
    if (x->stream) {
        if (!(tmp = curl_slist_append(hdr, "Accept: text/event-stream")))
            goto nomem;
        hdr = tmp;
    }
    if (ep->api_key[0]) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", ep->api_key);
        if (!(tmp = curl_slist_append(hdr, auth))) goto nomem;
        hdr = tmp;
    }
    /* A CLIENT span per attempt (otel.h), a child of the caller's current
     * span; its context travels to the endpoint as W3C traceparent. */
    hk_span sp;
    hk_span_start(&sp, "llm.request", HK_SPAN_CLIENT, NULL, false);
    hk_span_attr_str(&sp, "server.address", ep->base_url, bl);
    hk_span_attr_str(&sp, "url.path", path, strlen(path));
    if (hk_otel_active()) {
        char tp[13 + 56], tps[12 + HK_TRACESTATE_MAX + 1];
        memcpy(tp, "traceparent: ", 13);
        hk_traceparent_format(&sp.ctx, tp + 13);
        if (!(tmp = curl_slist_append(hdr, tp))) goto nomem_span;
        hdr = tmp;
        if (sp.ctx.state[0]) {
            snprintf(tps, sizeof tps, "tracestate: %s", sp.ctx.state);
            if (!(tmp = curl_slist_append(hdr, tps))) goto nomem_span;
            hdr = tmp;
        }
    }
    errbuf[0] = 0;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)ep->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)ep->connect_ms);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "hakgal");
    *curl_rc = curl_easy_perform(h);
    long st = 0;
    if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st) == CURLE_OK && st)
        x->status = st;
    hk_span_attr_int(&sp, "http.response.status_code", st);
    if (*curl_rc != CURLE_OK)
        hk_span_set_error(&sp, curl_easy_strerror(*curl_rc));
    else if (st >= 400)
        hk_span_set_error(&sp, "HTTP error status");
    hk_span_end(&sp);
    goto done;
nomem_span:
    hk_span_end(&sp);
nomem:
    rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
done:
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    return rc;
}

static bool retryable_status(long st)
{
    return st == 429 || st >= 500;
}

/* The endpoint's error text ({"error": {"message": ...}} or the body). */
static void error_text(const hk_buf *b, char out[ERR_TEXT_MAX + 1])
{
    out[0] = 0;
    if (!b->len) return;
    json_error_t je;
    json_t *v = json_loadb(b->data, b->len, 0, &je);
    json_t *e = json_object_get(v, "error");
    json_t *m = json_is_object(e) ? json_object_get(e, "message") : e;
    if (json_is_string(m))
        snprintf(out, ERR_TEXT_MAX + 1, "%s", json_string_value(m));
    else
        snprintf(out, ERR_TEXT_MAX + 1, "%.*s",
                 (int)(b->len < ERR_TEXT_MAX ? b->len : ERR_TEXT_MAX), b->data);
    json_decref(v);
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20) *p = ' ';
}

static void sleep_ms(uint64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* Backoff before attempt k+1 (k >= 0), with jitter in [d/2, d]. */
static uint64_t backoff_ms(const hk_llm_endpoint *ep, unsigned k, int retry_s)
{
    if (retry_s >= 0) return (uint64_t)retry_s * 1000u;
    uint64_t d = (uint64_t)ep->backoff_ms << (k < 16 ? k : 16);
    if (d > 60000) d = 60000;
    static _Atomic uint64_t seed = 0x9e3779b97f4a7c15ull;
    uint64_t r = atomic_fetch_add(&seed, 0x9e3779b97f4a7c15ull);
    r ^= (uint64_t)hk_now_us();
    r ^= r >> 31;
    r *= 0xbf58476d1ce4e5b9ull;
    r ^= r >> 29;
    return d / 2 + (d ? r % (d / 2 + 1) : 0);
}

/* Runs the request with retries; on success x holds the final answer. */
static hk_err post(hk_llm_client *c, const char *path, const char *body,
                   xfer *x, unsigned *attempts, hk_error *err)
{
    const hk_llm_endpoint *ep = &c->ep;
    char errbuf[CURL_ERROR_SIZE];
    for (unsigned k = 0;; k++) {
        xfer_reset(x);
        CURLcode cr = CURLE_OK;
        *attempts = k + 1;
        hk_err rc = post_once(ep, path, body, x, &cr, errbuf, err);
        if (rc) return rc;
        if (x->cb_rc != HK_OK)
            return x->cb_rc == HK_ERR_NOMEM
                       ? hk_error_set(err, HK_ERR_NOMEM, "out of memory")
                       : x->cb_rc;
        if (cr == CURLE_OK && x->status == 200) return HK_OK;
        bool net = cr != CURLE_OK;
        bool retry = net || retryable_status(x->status);
        if (!retry || k >= ep->retries || x->delivered) {
            if (net)
                return hk_error_set(
                    err, HK_ERR_IO, "model endpoint %s: %s%s%s (after %u %s)",
                    ep->base_url, curl_easy_strerror(cr), errbuf[0] ? ": " : "",
                    errbuf, k + 1, k ? "attempts" : "attempt");
            char text[ERR_TEXT_MAX + 1];
            error_text(&x->body, text);
            return hk_error_set(
                err, HK_ERR_IO,
                "model endpoint %s answered HTTP %ld%s%s (after %u %s)",
                ep->base_url, x->status, text[0] ? ": " : "", text, k + 1,
                k ? "attempts" : "attempt");
        }
        atomic_fetch_add(&g_retries, 1);
        sleep_ms(backoff_ms(ep, k, x->status ? x->retry_after_s : -1));
    }
}

/* ==== Chat ==== */

static json_t *chat_body(const hk_llm_endpoint *ep, const hk_llm_chat_req *r,
                         hk_error *err)
{
    json_t *msgs = json_array();
    json_t *b = json_pack("{s:s, s:o, s:f}", "model", ep->model, "messages",
                          msgs, "temperature", r->temperature);
    if (!b) return NULL;
    for (size_t i = 0; i < r->n_msgs; i++)
        if (json_array_append_new(msgs, json_pack("{s:s, s:s}", "role",
                                                  r->msgs[i].role, "content",
                                                  r->msgs[i].content)))
            goto fail;
    if (r->max_tokens &&
        json_object_set_new(b, "max_tokens", json_integer(r->max_tokens)))
        goto fail;
    if (r->on_delta &&
        (json_object_set_new(b, "stream", json_true()) ||
         json_object_set_new(b, "stream_options",
                             json_pack("{s:b}", "include_usage", 1))))
        goto fail;
    if (r->schema_json && ep->json_schema) {
        json_error_t je;
        json_t *schema = json_loads(r->schema_json, 0, &je);
        if (!schema) {
            json_decref(b);
            hk_error_set(err, HK_ERR_INVALID, "answer schema: %s", je.text);
            return NULL;
        }
        json_t *rf = json_pack("{s:s, s:{s:s, s:o, s:b}}", "type",
                               "json_schema", "json_schema", "name",
                               r->schema_name ? r->schema_name : "answer",
                               "schema", schema, "strict", 1);
        if (!rf || json_object_set_new(b, "response_format", rf)) goto fail;
    }
    return b;
fail:
    json_decref(b);
    hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    return NULL;
}

/* Decodes a non-streamed completion into x->content and the fields. */
static hk_err decode_completion(const hk_llm_endpoint *ep, xfer *x,
                                hk_error *err)
{
    json_error_t je;
    json_t *v =
        json_loadb(x->body.data ? x->body.data : "", x->body.len, 0, &je);
    if (!v)
        return hk_error_set(err, HK_ERR_INVALID,
                            "model endpoint %s: the answer is not JSON (%s)",
                            ep->base_url, je.text);
    json_t *ch = json_array_get(json_object_get(v, "choices"), 0);
    json_t *ct = json_object_get(json_object_get(ch, "message"), "content");
    hk_err rc = HK_OK;
    if (!json_is_string(ct)) {
        rc = hk_error_set(err, HK_ERR_INVALID,
                          "model endpoint %s: the answer has no "
                          "choices[0].message.content",
                          ep->base_url);
    } else {
        copy_str(x->model, sizeof x->model, json_object_get(v, "model"));
        copy_str(x->finish, sizeof x->finish,
                 json_object_get(ch, "finish_reason"));
        read_usage(x, v);
        hk_buf_reset(&x->content);
        if (hk_buf_append(&x->content, json_string_value(ct),
                          json_string_length(ct)))
            rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    }
    json_decref(v);
    return rc;
}

hk_err hk_llm_chat(hk_llm_client *c, const hk_llm_chat_req *req,
                   hk_llm_chat_res *res, hk_error *err)
{
    memset(res, 0, sizeof *res);
    if (req->n_msgs == 0 || req->n_msgs > 64)
        return hk_error_set(err, HK_ERR_INVALID, "1..64 messages");
    atomic_fetch_add(&g_requests, 1);
    json_t *b = chat_body(&c->ep, req, err);
    if (!b) {
        atomic_fetch_add(&g_failures, 1);
        return err->code ? err->code : HK_ERR_NOMEM;
    }
    char *body = hk_json_dumps(b, JSON_COMPACT);
    json_decref(b);
    if (!body) {
        atomic_fetch_add(&g_failures, 1);
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    }
    xfer x;
    memset(&x, 0, sizeof x);
    x.stream = req->on_delta != NULL;
    x.on_delta = req->on_delta;
    x.ud = req->ud;
    hk_err rc = slot_take(c, &res->wait_us, err);
    if (rc == HK_OK) {
        rc = post(c, "/chat/completions", body, &x, &res->attempts, err);
        slot_give(c);
    }
    free(body);
    if (rc == HK_OK && !x.stream) rc = decode_completion(&c->ep, &x, err);
    if (rc == HK_OK && x.stream && x.content.len == 0 && x.bad_event)
        rc = hk_error_set(err, HK_ERR_INVALID,
                          "model endpoint %s: the event stream held no valid "
                          "JSON chunk",
                          c->ep.base_url);
    if (rc == HK_OK) {
        res->content =
            hk_strndup(x.content.data ? x.content.data : "", x.content.len);
        if (!res->content)
            rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        res->len = x.content.len;
        memcpy(res->model, x.model, sizeof res->model);
        memcpy(res->finish, x.finish, sizeof res->finish);
        res->prompt_tokens = x.prompt_tokens;
        res->completion_tokens = x.completion_tokens;
        atomic_fetch_add(&g_prompt_tokens, x.prompt_tokens);
        atomic_fetch_add(&g_completion_tokens, x.completion_tokens);
    }
    xfer_free(&x);
    if (rc) {
        atomic_fetch_add(&g_failures, 1);
        hk_llm_chat_res_free(res);
    }
    return rc;
}

void hk_llm_chat_res_free(hk_llm_chat_res *res)
{
    hk_free(res->content);
    res->content = NULL;
    res->len = 0;
}

/* ==== Embeddings ==== */

hk_err hk_llm_embed(hk_llm_client *c, const char *const *texts, size_t n,
                    float **vecs, uint32_t *dim, hk_error *err)
{
    *vecs = NULL;
    *dim = 0;
    if (n == 0 || n > 256)
        return hk_error_set(err, HK_ERR_INVALID, "1..256 texts per call");
    if (!c->ep.embed_model[0])
        return hk_error_set(err, HK_ERR_NOT_FOUND,
                            "model endpoint '%s' has no embedding model: set "
                            "HAKGAL_EMBED_MODEL or endpoint.%s.embed_model",
                            c->ep.name, c->ep.name);
    atomic_fetch_add(&g_requests, 1);
    json_t *in = json_array();
    json_t *b =
        json_pack("{s:s, s:o}", "model", c->ep.embed_model, "input", in);
    for (size_t i = 0; b && i < n; i++)
        if (json_array_append_new(in, json_string(texts[i]))) {
            json_decref(b);
            b = NULL;
        }
    char *body = b ? hk_json_dumps(b, JSON_COMPACT) : NULL;
    json_decref(b);
    if (!body) {
        atomic_fetch_add(&g_failures, 1);
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    }
    xfer x;
    memset(&x, 0, sizeof x);
    int64_t wait = 0;
    unsigned attempts = 0;
    hk_err rc = slot_take(c, &wait, err);
    if (rc == HK_OK) {
        rc = post(c, "/embeddings", body, &x, &attempts, err);
        slot_give(c);
    }
    free(body);
    json_t *v = NULL;
    float *out = NULL;
    if (rc == HK_OK) {
        json_error_t je;
        v = json_loadb(x.body.data ? x.body.data : "", x.body.len, 0, &je);
        json_t *data = json_object_get(v, "data");
        if (!json_is_array(data) || json_array_size(data) != n) {
            rc = hk_error_set(err, HK_ERR_INVALID,
                              "model endpoint %s: embeddings answer without "
                              "%zu data entries",
                              c->ep.base_url, n);
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            json_t *d = json_array_get(data, i);
            json_t *e = json_object_get(d, "embedding");
            json_t *ix = json_object_get(d, "index");
            size_t row =
                json_is_integer(ix) ? (size_t)json_integer_value(ix) : i;
            size_t m = json_array_size(e);
            if (!json_is_array(e) || m == 0 || m > 65536 || row >= n ||
                (*dim && m != *dim)) {
                rc = hk_error_set(err, HK_ERR_INVALID,
                                  "model endpoint %s: embedding %zu is not "
                                  "an array of the same dimension",
                                  c->ep.base_url, i);
                goto out;
            }
            if (!out) {
                *dim = (uint32_t)m;
                if (!(out = hk_calloc(n * m, sizeof *out))) {
                    rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
                    goto out;
                }
            }
            for (size_t j = 0; j < m; j++) {
                json_t *num = json_array_get(e, j);
                if (!json_is_number(num)) {
                    rc = hk_error_set(err, HK_ERR_INVALID,
                                      "model endpoint %s: embedding %zu has "
                                      "a value that is not a number",
                                      c->ep.base_url, i);
                    goto out;
                }
                out[row * m + j] = (float)json_number_value(num);
            }
        }
        read_usage(&x, v);
        atomic_fetch_add(&g_prompt_tokens, x.prompt_tokens);
    }
out:
    json_decref(v);
    xfer_free(&x);
    if (rc) {
        hk_free(out);
        *dim = 0;
        atomic_fetch_add(&g_failures, 1);
        return rc;
    }
    *vecs = out;
    return HK_OK;
}
