/*
 * hakgal_client.c — libhakgal-client: the REST API (/v2) of a remote
 * hakgal over libcurl, answers decoded with jansson.
 *
 * Design:
 *  1. One CURL easy handle per client, reused for every call so that the
 *     connection is kept alive; hence a client belongs to one thread at a
 *     time. curl_global_init runs once (pthread_once).
 *  2. A call builds the URL (path + query string escaped by curl), sends,
 *     collects the answer into a growable buffer bounded by
 *     max_answer_bytes, and remembers the Retry-After header. 503 and 429
 *     are retried (header comment of hakgal_client.h); other error
 *     statuses become HKC_ERR_API with the server's error object copied
 *     into hkc_error.
 *  3. Results point into the decoded JSON answer, kept alive by the
 *     result's arena (priv_): the arena owns the json_t root and every
 *     array and string made for the result, and is freed at once by the
 *     result's _free function. Facts inside a page, hits or iterator have
 *     priv_ NULL: their container owns them.
 */
#include "hakgal_client.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ==== Allocation ==== */

/* Every allocation of the library goes through these two. */
static void *mem_alloc(size_t n)
{
    return calloc(1, n ? n : 1);
}
static void mem_release(void *p)
{
    free(p);
}

void hkc_free(void *p)
{
    mem_release(p);
}

const char *hkc_version(void)
{
    return HKC_VERSION;
}

/* A result's memory: the decoded answer and the blocks made for it. */
typedef struct chunk {
    struct chunk *next; /* older chunk */
    max_align_t data[]; /* the caller's bytes */
} chunk;

typedef struct arena {
    json_t *root;  /* the answer the result points into; owned */
    chunk *chunks; /* every block allocated for the result */
} arena;

static void *arena_alloc(arena *a, size_t n)
{
    if (n > SIZE_MAX / 2) return NULL;
    chunk *c = mem_alloc(sizeof(chunk) + n);
    if (!c) return NULL;
    c->next = a->chunks;
    a->chunks = c;
    return c->data;
}

static void arena_free(arena *a)
{
    if (!a) return;
    while (a->chunks) {
        chunk *next = a->chunks->next;
        mem_release(a->chunks);
        a->chunks = next;
    }
    if (a->root) json_decref(a->root);
    mem_release(a);
}

/* ==== Errors ==== */

const char *hkc_strerror(hkc_err code)
{
    switch (code) {
    case HKC_OK:
        return "ok";
    case HKC_DONE:
        return "no more items";
    case HKC_ERR_API:
        return "the server answered with an error";
    case HKC_ERR_TIMEOUT:
        return "no answer within the timeout";
    case HKC_ERR_CONNECTION:
        return "connection failed";
    case HKC_ERR_INVALID:
        return "invalid argument";
    case HKC_ERR_NOMEM:
        return "out of memory";
    case HKC_ERR_BAD_ANSWER:
        return "the answer is not what the API sends";
    case HKC_ERR_TOO_LARGE:
        return "the answer is too large";
    }
    return "unknown error";
}

static const char *const API_CODES[] = {"ok",        "done",       "",
                                        "timeout",   "connection", "invalid",
                                        "no_memory", "bad_answer", "too_large"};

static hkc_err fail(hkc_error *e, hkc_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static hkc_err fail(hkc_error *e, hkc_err code, const char *fmt, ...)
{
    if (!e) return code;
    memset(e, 0, sizeof(*e));
    e->code = code;
    if ((size_t)code < sizeof(API_CODES) / sizeof(API_CODES[0]))
        snprintf(e->api_code, sizeof(e->api_code), "%s", API_CODES[code]);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);
    return code;
}

#define NOMEM(e) fail(e, HKC_ERR_NOMEM, "out of memory")

/* ==== Strings ==== */

typedef struct sbuf {
    char *data; /* NUL-terminated when non-NULL */
    size_t len; /* bytes used */
    size_t cap; /* bytes allocated */
} sbuf;

static bool sb_grow(sbuf *b, size_t add)
{
    if (add > SIZE_MAX / 2 - b->len) return false;
    size_t need = b->len + add + 1;
    if (need <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = mem_alloc(cap);
    if (!p) return false;
    if (b->data) memcpy(p, b->data, b->len + 1);
    mem_release(b->data);
    b->data = p;
    b->cap = cap;
    return true;
}

static bool sb_add(sbuf *b, const char *s, size_t n)
{
    if (!sb_grow(b, n)) return false;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return true;
}

static bool sb_str(sbuf *b, const char *s)
{
    return sb_add(b, s, strlen(s));
}

/* ==== Client and transport ==== */

struct hkc_client {
    CURL *curl;           /* the one handle (keep-alive) */
    char *base;           /* base URL without a trailing '/' */
    char *auth;           /* "Authorization: Bearer ..." or NULL */
    hkc_options opt;      /* with defaults filled in */
    sbuf answer;          /* the current answer's body */
    bool too_large;       /* the answer passed max_answer_bytes */
    char retry_after[32]; /* the answer's Retry-After, "" when none */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_OK;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

hkc_err hkc_open(const char *base_url, const hkc_options *opt, hkc_client **out,
                 hkc_error *err)
{
    *out = NULL;
    if (!base_url || strncmp(base_url, "http", 4) != 0)
        return fail(err, HKC_ERR_INVALID,
                    "base_url must be an http:// or https:// URL");
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return fail(err, HKC_ERR_CONNECTION, "curl_global_init: %s",
                    curl_easy_strerror(curl_init_rc));
    hkc_client *c = mem_alloc(sizeof(*c));
    if (!c) return NOMEM(err);
    hkc_options o = HKC_OPTIONS_INIT;
    if (opt) o = *opt;
    if (o.timeout_ms <= 0) o.timeout_ms = 30000;
    if (o.backoff_ms <= 0) o.backoff_ms = 100;
    if (o.max_backoff_ms <= 0) o.max_backoff_ms = 30000;
    if (!o.max_answer_bytes) o.max_answer_bytes = (size_t)256 << 20;
    o.token = NULL;
    c->opt = o;
    size_t n = strlen(base_url);
    while (n && base_url[n - 1] == '/')
        n--;
    sbuf b = {0};
    if (!sb_add(&b, base_url, n)) goto nomem;
    c->base = b.data;
    if (opt && opt->token && *opt->token) {
        sbuf a = {0};
        if (!sb_str(&a, "Authorization: Bearer ") || !sb_str(&a, opt->token))
            goto nomem;
        c->auth = a.data;
    }
    c->curl = curl_easy_init();
    if (!c->curl) goto nomem;
    *out = c;
    return HKC_OK;
nomem:
    hkc_close(c);
    return NOMEM(err);
}

void hkc_close(hkc_client *c)
{
    if (!c) return;
    if (c->curl) curl_easy_cleanup(c->curl);
    mem_release(c->base);
    mem_release(c->auth);
    mem_release(c->answer.data);
    mem_release(c);
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    hkc_client *c = arg;
    size_t len = size * n;
    if (c->answer.len + len > c->opt.max_answer_bytes) {
        c->too_large = true;
        return 0; /* makes curl stop with CURLE_WRITE_ERROR */
    }
    return sb_add(&c->answer, p, len) ? len : 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    hkc_client *c = arg;
    size_t len = size * n;
    static const char name[] = "retry-after:";
    if (len > sizeof(name) - 1 && strncasecmp(p, name, sizeof(name) - 1) == 0) {
        const char *v = p + sizeof(name) - 1;
        const char *end = p + len;
        while (v < end && isspace((unsigned char)*v))
            v++;
        while (end > v && isspace((unsigned char)end[-1]))
            end--;
        size_t vl = (size_t)(end - v);
        if (vl >= sizeof(c->retry_after)) vl = sizeof(c->retry_after) - 1;
        memcpy(c->retry_after, v, vl);
        c->retry_after[vl] = '\0';
    }
    return len;
}

/* Milliseconds to wait before retry number attempt + 1. */
static long retry_wait_ms(const hkc_client *c, unsigned attempt)
{
    if (c->retry_after[0]) {
        char *end;
        errno = 0;
        double s = strtod(c->retry_after, &end);
        if (errno == 0 && *end == '\0' && s >= 0) {
            double ms = s * 1000.0;
            return ms > (double)c->opt.max_backoff_ms ? c->opt.max_backoff_ms
                                                      : (long)ms;
        }
    }
    long b = c->opt.backoff_ms;
    for (unsigned i = 0; i < attempt && b < c->opt.max_backoff_ms; i++)
        b *= 2;
    if (b > c->opt.max_backoff_ms) b = c->opt.max_backoff_ms;
    return b + (long)(rand() % (b / 2 + 1));
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Copies the server's error object into *e. */
static hkc_err api_error(hkc_client *c, int status, const char *method,
                         const char *path, hkc_error *e)
{
    if (!e) return HKC_ERR_API;
    memset(e, 0, sizeof(*e));
    e->code = HKC_ERR_API;
    e->status = status;
    json_t *root = c->answer.data
                       ? json_loadb(c->answer.data, c->answer.len, 0, NULL)
                       : NULL;
    json_t *obj = json_object_get(root, "error");
    const char *code = json_string_value(json_object_get(obj, "code"));
    if (code) {
        const char *msg = json_string_value(json_object_get(obj, "message"));
        snprintf(e->api_code, sizeof(e->api_code), "%s", code);
        snprintf(e->message, sizeof(e->message), "%s", msg ? msg : "");
        json_t *d = json_object_get(obj, "detail");
        if (json_is_object(d)) {
            const char *f = json_string_value(json_object_get(d, "field"));
            if (f) snprintf(e->field, sizeof(e->field), "%s", f);
            json_int_t col = json_integer_value(json_object_get(d, "column"));
            if (col > 0 && col <= UINT32_MAX) e->column = (uint32_t)col;
            char *text = json_dumps(d, JSON_COMPACT);
            if (text) {
                snprintf(e->detail, sizeof(e->detail), "%s", text);
                free(text); /* jansson's allocation */
            }
        }
    } else {
        snprintf(e->api_code, sizeof(e->api_code), "http_%d", status);
        snprintf(e->message, sizeof(e->message), "%s %s: %.200s", method, path,
                 c->answer.data ? c->answer.data : "");
    }
    json_decref(root);
    return HKC_ERR_API;
}

/* One call with retries; on HKC_OK the answer's body is in c->answer. */
static hkc_err send_call(hkc_client *c, const char *method, const char *path,
                         const char *body, int *status, hkc_error *err)
{
    sbuf url = {0};
    if (!sb_str(&url, c->base) || !sb_str(&url, path)) {
        mem_release(url.data);
        return NOMEM(err);
    }
    struct curl_slist *hdr = NULL, *h;
    hkc_err rc = HKC_OK;
    h = curl_slist_append(hdr, "Accept: application/json");
    if (h) hdr = h;
    if (h && body) {
        h = curl_slist_append(hdr, "Content-Type: application/json");
        if (h) hdr = h;
    }
    if (h && c->auth) {
        h = curl_slist_append(hdr, c->auth);
        if (h) hdr = h;
    }
    if (!h) {
        rc = NOMEM(err);
        goto done;
    }
    for (unsigned attempt = 0;; attempt++) {
        CURL *k = c->curl;
        curl_easy_reset(k);
        c->answer.len = 0;
        if (c->answer.data) c->answer.data[0] = '\0';
        c->too_large = false;
        c->retry_after[0] = '\0';
        curl_easy_setopt(k, CURLOPT_URL, url.data);
        curl_easy_setopt(k, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(k, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(k, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(k, CURLOPT_TIMEOUT_MS, c->opt.timeout_ms);
        curl_easy_setopt(k, CURLOPT_USERAGENT, "hakgal-client-c/" HKC_VERSION);
        curl_easy_setopt(k, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(k, CURLOPT_WRITEDATA, c);
        curl_easy_setopt(k, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(k, CURLOPT_HEADERDATA, c);
        if (body) {
            curl_easy_setopt(k, CURLOPT_POSTFIELDS, body);
            curl_easy_setopt(k, CURLOPT_POSTFIELDSIZE_LARGE,
                             (curl_off_t)strlen(body));
        } else if (strcmp(method, "GET") == 0) {
            curl_easy_setopt(k, CURLOPT_HTTPGET, 1L);
        }
        CURLcode cc = curl_easy_perform(k);
        if (cc != CURLE_OK) {
            if (c->too_large)
                rc =
                    fail(err, HKC_ERR_TOO_LARGE, "%s %s: answer over %zu bytes",
                         method, path, c->opt.max_answer_bytes);
            else if (cc == CURLE_OPERATION_TIMEDOUT)
                rc =
                    fail(err, HKC_ERR_TIMEOUT, "%s %s: no answer within %ld ms",
                         method, path, c->opt.timeout_ms);
            else if (cc == CURLE_OUT_OF_MEMORY || cc == CURLE_WRITE_ERROR)
                rc = NOMEM(err);
            else
                rc = fail(err, HKC_ERR_CONNECTION, "%s %s: %s", method, path,
                          curl_easy_strerror(cc));
            goto done;
        }
        long st = 0;
        curl_easy_getinfo(k, CURLINFO_RESPONSE_CODE, &st);
        if (st >= 200 && st < 300) {
            if (status) *status = (int)st;
            goto done;
        }
        if ((st == 503 || st == 429) && attempt < c->opt.max_retries) {
            sleep_ms(retry_wait_ms(c, attempt));
            continue;
        }
        rc = api_error(c, (int)st, method, path, err);
        goto done;
    }
done:
    curl_slist_free_all(hdr);
    mem_release(url.data);
    return rc;
}

hkc_err hkc_request(hkc_client *c, const char *method, const char *path,
                    const char *body_json, int *status, char **answer,
                    hkc_error *err)
{
    if (answer) *answer = NULL;
    if (!c || !method || !path || path[0] != '/')
        return fail(err, HKC_ERR_INVALID, "a client, method and /path needed");
    hkc_err rc = send_call(c, method, path, body_json, status, err);
    if (rc != HKC_OK || !answer) return rc;
    sbuf copy = {0};
    if (!sb_add(&copy, c->answer.data ? c->answer.data : "", c->answer.len))
        return NOMEM(err);
    *answer = copy.data;
    return HKC_OK;
}

/* A call whose answer is decoded into a fresh arena (*out). */
static hkc_err call_json(hkc_client *c, const char *method, const char *path,
                         json_t *body, int *status, arena **out, hkc_error *err)
{
    *out = NULL;
    char *text = NULL;
    if (body) {
        text = json_dumps(body, JSON_COMPACT);
        if (!text) return NOMEM(err);
    }
    hkc_err rc = send_call(c, method, path, text, status, err);
    free(text); /* jansson's allocation */
    if (rc != HKC_OK) return rc;
    json_error_t je;
    json_t *root =
        json_loadb(c->answer.data ? c->answer.data : "", c->answer.len, 0, &je);
    if (!root)
        return fail(err, HKC_ERR_BAD_ANSWER, "%s %s: answer is not JSON: %s",
                    method, path, je.text);
    arena *a = mem_alloc(sizeof(*a));
    if (!a) {
        json_decref(root);
        return NOMEM(err);
    }
    a->root = root;
    *out = a;
    return HKC_OK;
}

/* call_json on a path built in *path; built is false when building it ran
 * out of memory. Releases the path either way. */
static hkc_err call_built(hkc_client *c, const char *method, sbuf *path,
                          bool built, arena **out, hkc_error *err)
{
    *out = NULL;
    hkc_err rc = built ? call_json(c, method, path->data, NULL, NULL, out, err)
                       : NOMEM(err);
    mem_release(path->data);
    return rc;
}

/* ==== Decoding ==== */

static const char *jstr(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static uint64_t juint(json_t *o, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(o, key));
    return v > 0 ? (uint64_t)v : 0;
}

static hkc_err bad(hkc_error *err, const char *what)
{
    return fail(err, HKC_ERR_BAD_ANSWER, "unexpected answer: %s", what);
}

/* An array of the strings of a JSON array (non-strings are refused). */
static hkc_err str_array(arena *a, json_t *arr, const char ***out, size_t *n,
                         hkc_error *err)
{
    *out = NULL;
    *n = 0;
    if (!arr || json_is_null(arr)) return HKC_OK;
    if (!json_is_array(arr)) return bad(err, "a list of strings expected");
    size_t len = json_array_size(arr);
    const char **v = arena_alloc(a, (len + 1) * sizeof(*v));
    if (!v) return NOMEM(err);
    for (size_t i = 0; i < len; i++) {
        v[i] = json_string_value(json_array_get(arr, i));
        if (!v[i]) return bad(err, "a list of strings expected");
    }
    *out = v;
    *n = len;
    return HKC_OK;
}

static hkc_err id_array(arena *a, json_t *arr, uint64_t **out, size_t *n,
                        hkc_error *err)
{
    *out = NULL;
    *n = 0;
    if (!json_is_array(arr)) return bad(err, "a list of ids expected");
    size_t len = json_array_size(arr);
    uint64_t *v = arena_alloc(a, (len + 1) * sizeof(*v));
    if (!v) return NOMEM(err);
    for (size_t i = 0; i < len; i++) {
        json_t *x = json_array_get(arr, i);
        if (!json_is_integer(x)) return bad(err, "a list of ids expected");
        v[i] = (uint64_t)json_integer_value(x);
    }
    *out = v;
    *n = len;
    return HKC_OK;
}

static hkc_err parse_fact(arena *a, json_t *j, hkc_fact *f, hkc_error *err)
{
    memset(f, 0, sizeof(*f));
    if (!json_is_object(j) || !json_is_integer(json_object_get(j, "id")))
        return bad(err, "a fact object expected");
    f->id = juint(j, "id");
    f->statement = jstr(j, "statement");
    f->predicate = jstr(j, "predicate");
    f->created = jstr(j, "created");
    f->updated = jstr(j, "updated");
    f->source = jstr(j, "source");
    if (!f->statement || !f->predicate)
        return bad(err, "a fact without statement or predicate");
    json_t *conf = json_object_get(j, "confidence");
    f->confidence = json_is_number(conf) ? json_number_value(conf) : 1.0;
    hkc_err rc =
        str_array(a, json_object_get(j, "args"), &f->args, &f->n_args, err);
    if (rc == HKC_OK)
        rc =
            str_array(a, json_object_get(j, "tags"), &f->tags, &f->n_tags, err);
    json_t *ctx = json_object_get(j, "context");
    if (rc == HKC_OK && ctx && !json_is_null(ctx)) {
        char *text = json_dumps(ctx, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!text) return NOMEM(err);
        size_t n = strlen(text);
        char *copy = arena_alloc(a, n + 1);
        if (copy) memcpy(copy, text, n + 1);
        free(text); /* jansson's allocation */
        if (!copy) return NOMEM(err);
        f->context_json = copy;
    }
    return rc;
}

static hkc_err parse_bindings(arena *a, json_t *o, hkc_bindings *b,
                              hkc_error *err)
{
    memset(b, 0, sizeof(*b));
    if (!json_is_object(o)) return bad(err, "bindings must be an object");
    size_t n = json_object_size(o);
    b->names = arena_alloc(a, (n + 1) * sizeof(char *));
    b->values = arena_alloc(a, (n + 1) * sizeof(char *));
    if (!b->names || !b->values) return NOMEM(err);
    const char *key;
    json_t *v;
    size_t i = 0;
    json_object_foreach(o, key, v)
    {
        const char *s = json_string_value(v);
        if (!s && !json_is_null(v)) {
            /* a number bound by a comparison: its JSON text */
            char *text = json_dumps(v, JSON_ENCODE_ANY);
            if (!text) return NOMEM(err);
            size_t len = strlen(text);
            char *copy = arena_alloc(a, len + 1);
            if (copy) memcpy(copy, text, len + 1);
            free(text); /* jansson's allocation */
            if (!copy) return NOMEM(err);
            s = copy;
        }
        b->names[i] = key;
        b->values[i] = s;
        i++;
    }
    b->n = i;
    return HKC_OK;
}

const char *hkc_binding(const hkc_bindings *b, const char *name)
{
    if (!b || !name) return NULL;
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(b->names[i], name) == 0) return b->values[i];
    return NULL;
}

/* facts (and bindings when bkey is given) of a page answer. */
static hkc_err parse_page(arena *a, bool with_bindings, hkc_page *p,
                          hkc_error *err)
{
    json_t *facts = json_object_get(a->root, "facts");
    if (!json_is_array(facts)) return bad(err, "no facts list");
    size_t n = json_array_size(facts);
    p->facts = arena_alloc(a, (n + 1) * sizeof(hkc_fact));
    if (!p->facts) return NOMEM(err);
    for (size_t i = 0; i < n; i++) {
        hkc_err rc = parse_fact(a, json_array_get(facts, i), &p->facts[i], err);
        if (rc != HKC_OK) return rc;
    }
    if (with_bindings) {
        json_t *bs = json_object_get(a->root, "bindings");
        if (!json_is_array(bs) || json_array_size(bs) != n)
            return bad(err, "bindings do not match facts");
        p->bindings = arena_alloc(a, (n + 1) * sizeof(hkc_bindings));
        if (!p->bindings) return NOMEM(err);
        for (size_t i = 0; i < n; i++) {
            hkc_err rc =
                parse_bindings(a, json_array_get(bs, i), &p->bindings[i], err);
            if (rc != HKC_OK) return rc;
        }
    }
    p->n = n;
    p->next_cursor = jstr(a->root, "next_cursor");
    return HKC_OK;
}

/* ==== Query strings and bodies ==== */

/* Appends "?k=v" or "&k=v" with v escaped; false on no memory. */
static bool qs(hkc_client *c, sbuf *b, const char *k, const char *v)
{
    if (!v) return true;
    char *e = curl_easy_escape(c->curl, v, 0);
    if (!e) return false;
    bool ok = sb_str(b, strchr(b->data ? b->data : "", '?') ? "&" : "?") &&
              sb_str(b, k) && sb_str(b, "=") && sb_str(b, e);
    curl_free(e);
    return ok;
}

static bool qs_num(hkc_client *c, sbuf *b, const char *k, uint64_t v)
{
    if (!v) return true;
    char num[24];
    snprintf(num, sizeof(num), "%llu", (unsigned long long)v);
    return qs(c, b, k, num);
}

static hkc_err put_meta(json_t *o, const hkc_meta *m, hkc_error *err)
{
    if (!m) return HKC_OK;
    int bad_set = 0;
    if (m->has_confidence)
        bad_set |=
            json_object_set_new(o, "confidence", json_real(m->confidence));
    if (m->source)
        bad_set |= json_object_set_new(o, "source", json_string(m->source));
    if (m->tags) {
        json_t *t = json_array();
        for (size_t i = 0; t && i < m->n_tags; i++)
            bad_set |= json_array_append_new(t, json_string(m->tags[i]));
        bad_set |= json_object_set_new(o, "tags", t);
    }
    if (m->context_json) {
        json_error_t je;
        json_t *ctx = json_loads(m->context_json, 0, &je);
        if (!json_is_object(ctx)) {
            json_decref(ctx);
            return fail(err, HKC_ERR_INVALID,
                        "context_json must be a JSON object");
        }
        bad_set |= json_object_set_new(o, "context", ctx);
    }
    return bad_set
               ? fail(err, HKC_ERR_INVALID, "metadata strings must be UTF-8")
               : HKC_OK;
}

/* ==== Facts ==== */

void hkc_fact_free(hkc_fact *f)
{
    if (!f) return;
    arena_free(f->priv_);
    memset(f, 0, sizeof(*f));
}

/* Decodes a fact answer (at key, or the root when key is NULL). */
static hkc_err fact_answer(arena *a, const char *key, hkc_fact *out,
                           hkc_error *err)
{
    if (!out) {
        arena_free(a);
        return HKC_OK;
    }
    json_t *j = key ? json_object_get(a->root, key) : a->root;
    hkc_err rc = parse_fact(a, j, out, err);
    if (rc != HKC_OK) {
        arena_free(a);
        memset(out, 0, sizeof(*out));
        return rc;
    }
    out->priv_ = a;
    return HKC_OK;
}

static hkc_err add_body(hkc_client *c, json_t *body, const hkc_meta *meta,
                        hkc_fact *out, bool *created, hkc_error *err)
{
    if (out) memset(out, 0, sizeof(*out));
    hkc_err rc = body ? put_meta(body, meta, err) : NOMEM(err);
    arena *a = NULL;
    int status = 0;
    if (rc == HKC_OK)
        rc = call_json(c, "POST", "/v2/facts", body, &status, &a, err);
    json_decref(body);
    if (rc != HKC_OK) return rc;
    if (created) *created = status == 201;
    return fact_answer(a, NULL, out, err);
}

hkc_err hkc_add(hkc_client *c, const char *statement, const hkc_meta *meta,
                hkc_fact *out, bool *created, hkc_error *err)
{
    if (!c || !statement)
        return fail(err, HKC_ERR_INVALID, "a client and a statement needed");
    json_t *s = json_string(statement);
    if (!s) return fail(err, HKC_ERR_INVALID, "statement must be UTF-8");
    return add_body(c, json_pack("{so}", "statement", s), meta, out, created,
                    err);
}

hkc_err hkc_add_args(hkc_client *c, const char *predicate,
                     const char *const *args, size_t n_args,
                     const hkc_meta *meta, hkc_fact *out, bool *created,
                     hkc_error *err)
{
    if (!c || !predicate || (!args && n_args))
        return fail(err, HKC_ERR_INVALID, "a client and a predicate needed");
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n_args; i++) {
        json_t *s = json_string(args[i] ? args[i] : "");
        if (!s || json_array_append_new(arr, s) != 0) {
            json_decref(arr);
            return fail(err, HKC_ERR_INVALID, "argument %zu is not UTF-8", i);
        }
    }
    json_t *p = json_string(predicate);
    if (!arr || !p) {
        json_decref(arr);
        json_decref(p);
        return fail(err, HKC_ERR_INVALID, "predicate must be UTF-8");
    }
    return add_body(c, json_pack("{soso}", "predicate", p, "args", arr), meta,
                    out, created, err);
}

hkc_err hkc_get(hkc_client *c, uint64_t id, hkc_fact *out, hkc_error *err)
{
    if (out) memset(out, 0, sizeof(*out));
    if (!c || !id) return fail(err, HKC_ERR_INVALID, "an id >= 1 needed");
    char path[48];
    snprintf(path, sizeof(path), "/v2/facts/%llu", (unsigned long long)id);
    arena *a;
    hkc_err rc = call_json(c, "GET", path, NULL, NULL, &a, err);
    return rc == HKC_OK ? fact_answer(a, NULL, out, err) : rc;
}

hkc_err hkc_update(hkc_client *c, uint64_t id, const char *statement,
                   const hkc_meta *meta, hkc_fact *out, hkc_error *err)
{
    if (out) memset(out, 0, sizeof(*out));
    if (!c || !id) return fail(err, HKC_ERR_INVALID, "an id >= 1 needed");
    json_t *body = json_object();
    if (!body) return NOMEM(err);
    hkc_err rc = HKC_OK;
    if (statement &&
        json_object_set_new(body, "statement", json_string(statement)) != 0)
        rc = fail(err, HKC_ERR_INVALID, "statement must be UTF-8");
    if (rc == HKC_OK) rc = put_meta(body, meta, err);
    char path[48];
    snprintf(path, sizeof(path), "/v2/facts/%llu", (unsigned long long)id);
    arena *a = NULL;
    if (rc == HKC_OK)
        rc = call_json(c, statement ? "PUT" : "PATCH", path, body, NULL, &a,
                       err);
    json_decref(body);
    return rc == HKC_OK ? fact_answer(a, NULL, out, err) : rc;
}

hkc_err hkc_delete(hkc_client *c, uint64_t id, hkc_fact *out, hkc_error *err)
{
    if (out) memset(out, 0, sizeof(*out));
    if (!c || !id) return fail(err, HKC_ERR_INVALID, "an id >= 1 needed");
    char path[48];
    snprintf(path, sizeof(path), "/v2/facts/%llu", (unsigned long long)id);
    arena *a;
    hkc_err rc = call_json(c, "DELETE", path, NULL, NULL, &a, err);
    return rc == HKC_OK ? fact_answer(a, "fact", out, err) : rc;
}

hkc_err hkc_delete_statement(hkc_client *c, const char *statement,
                             hkc_fact *out, hkc_error *err)
{
    if (out) memset(out, 0, sizeof(*out));
    if (!c || !statement)
        return fail(err, HKC_ERR_INVALID, "a client and a statement needed");
    sbuf p = {0};
    bool built = sb_str(&p, "/v2/facts") && qs(c, &p, "statement", statement);
    arena *a;
    hkc_err rc = call_built(c, "DELETE", &p, built, &a, err);
    return rc == HKC_OK ? fact_answer(a, "fact", out, err) : rc;
}

/* ==== Batch ==== */

void hkc_batch_result_free(hkc_batch_result *r)
{
    if (!r) return;
    arena_free(r->priv_);
    memset(r, 0, sizeof(*r));
}

hkc_err hkc_batch(hkc_client *c, const char *const *statements, size_t n,
                  hkc_batch_result *out, hkc_error *err)
{
    memset(out, 0, sizeof(*out));
    if (!c || (!statements && n))
        return fail(err, HKC_ERR_INVALID, "a client and statements needed");
    json_t *arr = json_array();
    if (!arr) return NOMEM(err);
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_string(statements[i] ? statements[i] : "");
        if (!s || json_array_append_new(arr, s) != 0) {
            json_decref(arr);
            return fail(err, HKC_ERR_INVALID, "statement %zu is not UTF-8", i);
        }
    }
    arena *a;
    hkc_err rc = call_json(c, "POST", "/v2/facts/batch", arr, NULL, &a, err);
    json_decref(arr);
    if (rc != HKC_OK) return rc;
    json_t *res = json_object_get(a->root, "results");
    size_t m = json_array_size(res);
    out->items = arena_alloc(a, (m + 1) * sizeof(hkc_batch_item));
    if (!out->items) {
        arena_free(a);
        return NOMEM(err);
    }
    for (size_t i = 0; i < m; i++) {
        json_t *it = json_array_get(res, i);
        json_t *e = json_object_get(it, "error");
        out->items[i].status = (int)juint(it, "status");
        out->items[i].id = juint(it, "id");
        out->items[i].err_code = jstr(e, "code");
        out->items[i].err_message = jstr(e, "message");
    }
    out->count = m;
    out->created = juint(a->root, "created");
    out->existing = juint(a->root, "existing");
    out->failed = juint(a->root, "failed");
    out->priv_ = a;
    return HKC_OK;
}

/* ==== Reads ==== */

void hkc_page_free(hkc_page *p)
{
    if (!p) return;
    arena_free(p->priv_);
    memset(p, 0, sizeof(*p));
}

/* Fetches path (see call_built) and decodes it as a page into *out. */
static hkc_err page_call(hkc_client *c, sbuf *path, bool built,
                         bool with_bindings, hkc_page *out, arena **keep,
                         hkc_error *err)
{
    arena *a;
    hkc_err rc = call_built(c, "GET", path, built, &a, err);
    if (rc != HKC_OK) return rc;
    rc = parse_page(a, with_bindings, out, err);
    if (rc != HKC_OK) {
        arena_free(a);
        memset(out, 0, sizeof(*out));
        return rc;
    }
    out->priv_ = a;
    if (keep) *keep = a;
    return HKC_OK;
}

hkc_err hkc_query(hkc_client *c, const char *pattern, size_t limit,
                  const char *cursor, hkc_page *out, hkc_error *err)
{
    memset(out, 0, sizeof(*out));
    if (!c || !pattern)
        return fail(err, HKC_ERR_INVALID, "a client and a pattern needed");
    sbuf p = {0};
    bool built = sb_str(&p, "/v2/query") && qs(c, &p, "q", pattern) &&
                 qs_num(c, &p, "limit", limit) && qs(c, &p, "cursor", cursor);
    return page_call(c, &p, built, true, out, NULL, err);
}

hkc_err hkc_entity(hkc_client *c, const char *name, size_t limit,
                   const char *cursor, uint64_t *fact_count, hkc_page *out,
                   hkc_error *err)
{
    memset(out, 0, sizeof(*out));
    if (!c || !name || !*name)
        return fail(err, HKC_ERR_INVALID, "a client and a name needed");
    char *e = curl_easy_escape(c->curl, name, 0);
    if (!e) return NOMEM(err);
    sbuf p = {0};
    bool ok = sb_str(&p, "/v2/entities/") && sb_str(&p, e) &&
              qs_num(c, &p, "limit", limit) && qs(c, &p, "cursor", cursor);
    curl_free(e);
    arena *a = NULL;
    hkc_err rc = page_call(c, &p, ok, false, out, &a, err);
    if (rc == HKC_OK && fact_count) *fact_count = juint(a->root, "fact_count");
    return rc;
}

void hkc_rows_free(hkc_rows *r)
{
    if (!r) return;
    arena_free(r->priv_);
    memset(r, 0, sizeof(*r));
}

static hkc_err parse_rows(arena *a, hkc_rows *out, hkc_error *err)
{
    json_t *rows = json_object_get(a->root, "rows");
    if (!json_is_array(rows)) return bad(err, "no rows list");
    size_t n = json_array_size(rows);
    out->rows = arena_alloc(a, (n + 1) * sizeof(hkc_row));
    if (!out->rows) return NOMEM(err);
    for (size_t i = 0; i < n; i++) {
        json_t *r = json_array_get(rows, i);
        hkc_err rc = parse_bindings(a, json_object_get(r, "bindings"),
                                    &out->rows[i].bindings, err);
        if (rc == HKC_OK)
            rc = id_array(a, json_object_get(r, "facts"), &out->rows[i].facts,
                          &out->rows[i].n_facts, err);
        if (rc != HKC_OK) return rc;
    }
    out->n = n;
    out->next_cursor = jstr(a->root, "next_cursor");
    return HKC_OK;
}

hkc_err hkc_query_rows(hkc_client *c, const char *query, size_t limit,
                       const char *cursor, hkc_rows *out, hkc_error *err)
{
    memset(out, 0, sizeof(*out));
    if (!c || !query)
        return fail(err, HKC_ERR_INVALID, "a client and a query needed");
    json_t *q = json_string(query);
    if (!q) return fail(err, HKC_ERR_INVALID, "query must be UTF-8");
    json_t *body = json_pack("{so}", "query", q);
    if (!body) return NOMEM(err);
    int bad_set = 0;
    if (limit)
        bad_set |=
            json_object_set_new(body, "limit", json_integer((json_int_t)limit));
    if (cursor)
        bad_set |= json_object_set_new(body, "cursor", json_string(cursor));
    arena *a = NULL;
    hkc_err rc = bad_set
                     ? fail(err, HKC_ERR_INVALID, "cursor must be UTF-8")
                     : call_json(c, "POST", "/v2/query", body, NULL, &a, err);
    json_decref(body);
    if (rc == HKC_OK) rc = parse_rows(a, out, err);
    if (rc != HKC_OK) {
        arena_free(a);
        memset(out, 0, sizeof(*out));
        return rc;
    }
    out->priv_ = a;
    return HKC_OK;
}

void hkc_hits_free(hkc_hits *h)
{
    if (!h) return;
    arena_free(h->priv_);
    memset(h, 0, sizeof(*h));
}

hkc_err hkc_search(hkc_client *c, const char *text, size_t limit,
                   const char *mode, hkc_hits *out, hkc_error *err)
{
    memset(out, 0, sizeof(*out));
    if (!c || !text)
        return fail(err, HKC_ERR_INVALID, "a client and a text needed");
    sbuf p = {0};
    bool built = sb_str(&p, "/v2/search") && qs(c, &p, "q", text) &&
                 qs_num(c, &p, "limit", limit) && qs(c, &p, "mode", mode);
    arena *a;
    hkc_err rc = call_built(c, "GET", &p, built, &a, err);
    if (rc != HKC_OK) return rc;
    json_t *res = json_object_get(a->root, "results");
    size_t n = json_array_size(res);
    out->scores = arena_alloc(a, (n + 1) * sizeof(double));
    out->facts = arena_alloc(a, (n + 1) * sizeof(hkc_fact));
    if (!out->scores || !out->facts) rc = NOMEM(err);
    for (size_t i = 0; rc == HKC_OK && i < n; i++) {
        json_t *h = json_array_get(res, i);
        out->scores[i] = json_number_value(json_object_get(h, "score"));
        rc = parse_fact(a, json_object_get(h, "fact"), &out->facts[i], err);
    }
    if (rc != HKC_OK) {
        arena_free(a);
        memset(out, 0, sizeof(*out));
        return rc;
    }
    out->n = n;
    out->priv_ = a;
    return HKC_OK;
}

void hkc_subgraph_free(hkc_subgraph *g)
{
    if (!g) return;
    arena_free(g->priv_);
    memset(g, 0, sizeof(*g));
}

hkc_err hkc_neighbours(hkc_client *c, const char *entity, unsigned depth,
                       hkc_subgraph *out, hkc_error *err)
{
    memset(out, 0, sizeof(*out));
    if (!c || !entity)
        return fail(err, HKC_ERR_INVALID, "a client and an entity needed");
    sbuf p = {0};
    bool built = sb_str(&p, "/v2/graph/neighbours") &&
                 qs(c, &p, "entity", entity) && qs_num(c, &p, "depth", depth);
    arena *a;
    hkc_err rc = call_built(c, "GET", &p, built, &a, err);
    if (rc != HKC_OK) return rc;
    json_t *nodes = json_object_get(a->root, "nodes");
    json_t *edges = json_object_get(a->root, "edges");
    size_t nn = json_array_size(nodes), ne = json_array_size(edges);
    out->nodes = arena_alloc(a, (nn + 1) * sizeof(hkc_node));
    out->edges = arena_alloc(a, (ne + 1) * sizeof(hkc_edge));
    if (!out->nodes || !out->edges) rc = NOMEM(err);
    for (size_t i = 0; rc == HKC_OK && i < nn; i++) {
        json_t *n = json_array_get(nodes, i);
        out->nodes[i] =
            (hkc_node){jstr(n, "id"), jstr(n, "kind"), jstr(n, "label")};
        if (!out->nodes[i].id) rc = bad(err, "a node without id");
    }
    for (size_t i = 0; rc == HKC_OK && i < ne; i++) {
        json_t *e = json_array_get(edges, i);
        out->edges[i] = (hkc_edge){jstr(e, "from"), jstr(e, "to"),
                                   jstr(e, "label"), juint(e, "fact")};
        if (!out->edges[i].from || !out->edges[i].to)
            rc = bad(err, "an edge without ends");
    }
    if (rc != HKC_OK) {
        arena_free(a);
        memset(out, 0, sizeof(*out));
        return rc;
    }
    out->n_nodes = nn;
    out->n_edges = ne;
    out->truncated = json_is_true(json_object_get(a->root, "truncated"));
    out->priv_ = a;
    return HKC_OK;
}

void hkc_paths_free(hkc_paths *p)
{
    if (!p) return;
    arena_free(p->priv_);
    memset(p, 0, sizeof(*p));
}

hkc_err hkc_find_paths(hkc_client *c, const char *from, const char *to,
                       unsigned max_len, unsigned k, hkc_paths *out,
                       hkc_error *err)
{
    memset(out, 0, sizeof(*out));
    if (!c || !from || !to)
        return fail(err, HKC_ERR_INVALID, "a client, from and to needed");
    sbuf p = {0};
    bool built = sb_str(&p, "/v2/graph/path") && qs(c, &p, "from", from) &&
                 qs(c, &p, "to", to) && qs_num(c, &p, "max_len", max_len) &&
                 qs_num(c, &p, "k", k);
    arena *a;
    hkc_err rc = call_built(c, "GET", &p, built, &a, err);
    if (rc != HKC_OK) return rc;
    json_t *paths = json_object_get(a->root, "paths");
    size_t n = json_array_size(paths);
    out->paths = arena_alloc(a, (n + 1) * sizeof(hkc_path));
    if (!out->paths) rc = NOMEM(err);
    for (size_t i = 0; rc == HKC_OK && i < n; i++) {
        json_t *x = json_array_get(paths, i);
        hkc_path *pa = &out->paths[i];
        rc = str_array(a, json_object_get(x, "nodes"), &pa->nodes, &pa->n_nodes,
                       err);
        if (rc == HKC_OK)
            rc = id_array(a, json_object_get(x, "facts"), &pa->facts,
                          &pa->n_facts, err);
    }
    if (rc != HKC_OK) {
        arena_free(a);
        memset(out, 0, sizeof(*out));
        return rc;
    }
    out->n = n;
    out->priv_ = a;
    return HKC_OK;
}

void hkc_audit_page_free(hkc_audit_page *p)
{
    if (!p) return;
    arena_free(p->priv_);
    memset(p, 0, sizeof(*p));
}

hkc_err hkc_audit(hkc_client *c, size_t limit, uint64_t before,
                  hkc_audit_page *out, hkc_error *err)
{
    memset(out, 0, sizeof(*out));
    if (!c) return fail(err, HKC_ERR_INVALID, "a client needed");
    sbuf p = {0};
    bool built = sb_str(&p, "/v2/audit") && qs_num(c, &p, "limit", limit) &&
                 qs_num(c, &p, "before", before);
    arena *a;
    hkc_err rc = call_built(c, "GET", &p, built, &a, err);
    if (rc != HKC_OK) return rc;
    json_t *es = json_object_get(a->root, "entries");
    if (!json_is_array(es)) {
        arena_free(a);
        return bad(err, "no entries list");
    }
    size_t n = json_array_size(es);
    out->entries = arena_alloc(a, (n + 1) * sizeof(hkc_audit_entry));
    if (!out->entries) {
        arena_free(a);
        return NOMEM(err);
    }
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(es, i);
        out->entries[i] = (hkc_audit_entry){
            juint(e, "seq"),   jstr(e, "time"),     jstr(e, "actor"),
            jstr(e, "op"),     juint(e, "fact_id"), juint(e, "fact_id_last"),
            juint(e, "count"), jstr(e, "hash"),     jstr(e, "prev_hash")};
    }
    out->n = n;
    out->next_before = juint(a->root, "next_before");
    out->priv_ = a;
    return HKC_OK;
}

hkc_err hkc_stats(hkc_client *c, char **json, hkc_error *err)
{
    return hkc_request(c, "GET", "/v2/stats", NULL, NULL, json, err);
}

/* ==== Iterators ==== */

typedef enum iter_kind { IT_QUERY, IT_ENTITY, IT_ROWS, IT_AUDIT } iter_kind;

struct hkc_iter {
    hkc_client *c; /* borrowed */
    iter_kind kind;
    char *text;         /* pattern, entity name or query; owned */
    size_t page_size;   /* 0: the server's default */
    hkc_page page;      /* IT_QUERY, IT_ENTITY: the current page */
    hkc_rows rows;      /* IT_ROWS */
    hkc_audit_page log; /* IT_AUDIT */
    size_t pos;         /* next item of the current page */
    bool started;       /* the first page was fetched */
    bool last;          /* the current page is the last one */
    char *cursor;       /* the next page's cursor; owned */
    uint64_t before;    /* IT_AUDIT: the next page's before */
};

static hkc_err iter_open(hkc_client *c, iter_kind kind, const char *text,
                         size_t page_size, hkc_iter **out, hkc_error *err)
{
    *out = NULL;
    if (!c || (kind != IT_AUDIT && !text))
        return fail(err, HKC_ERR_INVALID, "a client and a text needed");
    hkc_iter *it = mem_alloc(sizeof(*it));
    if (!it) return NOMEM(err);
    it->c = c;
    it->kind = kind;
    it->page_size = page_size;
    if (text) {
        sbuf t = {0};
        if (!sb_str(&t, text)) {
            mem_release(it);
            return NOMEM(err);
        }
        it->text = t.data;
    }
    *out = it;
    return HKC_OK;
}

hkc_err hkc_iter_query(hkc_client *c, const char *pattern, size_t page_size,
                       hkc_iter **out, hkc_error *err)
{
    return iter_open(c, IT_QUERY, pattern, page_size, out, err);
}

hkc_err hkc_iter_entity(hkc_client *c, const char *name, size_t page_size,
                        hkc_iter **out, hkc_error *err)
{
    return iter_open(c, IT_ENTITY, name, page_size, out, err);
}

hkc_err hkc_iter_rows(hkc_client *c, const char *query, size_t page_size,
                      hkc_iter **out, hkc_error *err)
{
    return iter_open(c, IT_ROWS, query, page_size, out, err);
}

hkc_err hkc_iter_audit(hkc_client *c, size_t page_size, hkc_iter **out,
                       hkc_error *err)
{
    return iter_open(c, IT_AUDIT, NULL, page_size, out, err);
}

static size_t iter_count(const hkc_iter *it)
{
    switch (it->kind) {
    case IT_ROWS:
        return it->rows.n;
    case IT_AUDIT:
        return it->log.n;
    default:
        return it->page.n;
    }
}

/* Makes the next item available at it->pos: HKC_OK, HKC_DONE or error.
 * An empty page that still has a cursor is followed (bounded by the
 * server's pages, each of which moves the cursor on). */
static hkc_err iter_advance(hkc_iter *it, hkc_error *err)
{
    while (it->pos >= iter_count(it)) {
        if (it->started && it->last) return HKC_DONE;
        const char *cur = NULL;
        hkc_err rc;
        it->started = true;
        it->pos = 0;
        switch (it->kind) {
        case IT_QUERY:
            hkc_page_free(&it->page);
            rc = hkc_query(it->c, it->text, it->page_size, it->cursor,
                           &it->page, err);
            cur = it->page.next_cursor;
            break;
        case IT_ENTITY:
            hkc_page_free(&it->page);
            rc = hkc_entity(it->c, it->text, it->page_size, it->cursor, NULL,
                            &it->page, err);
            cur = it->page.next_cursor;
            break;
        case IT_ROWS:
            hkc_rows_free(&it->rows);
            rc = hkc_query_rows(it->c, it->text, it->page_size, it->cursor,
                                &it->rows, err);
            cur = it->rows.next_cursor;
            break;
        default:
            hkc_audit_page_free(&it->log);
            rc = hkc_audit(it->c, it->page_size, it->before, &it->log, err);
            it->before = it->log.next_before;
            it->last = rc == HKC_OK && !it->before;
            break;
        }
        if (rc != HKC_OK) {
            it->last = true; /* an error ends the walk */
            return rc;
        }
        if (it->kind != IT_AUDIT) {
            mem_release(it->cursor);
            it->cursor = NULL;
            it->last = !cur;
            if (cur) {
                sbuf s = {0};
                if (!sb_str(&s, cur)) return NOMEM(err);
                it->cursor = s.data;
            }
        }
    }
    return HKC_OK;
}

hkc_err hkc_iter_next_fact(hkc_iter *it, const hkc_fact **item, hkc_error *err)
{
    *item = NULL;
    if (!it || (it->kind != IT_QUERY && it->kind != IT_ENTITY))
        return fail(err, HKC_ERR_INVALID, "not an iterator over facts");
    hkc_err rc = iter_advance(it, err);
    if (rc == HKC_OK) *item = &it->page.facts[it->pos++];
    return rc;
}

hkc_err hkc_iter_next_row(hkc_iter *it, const hkc_row **item, hkc_error *err)
{
    *item = NULL;
    if (!it || it->kind != IT_ROWS)
        return fail(err, HKC_ERR_INVALID, "not an iterator over rows");
    hkc_err rc = iter_advance(it, err);
    if (rc == HKC_OK) *item = &it->rows.rows[it->pos++];
    return rc;
}

hkc_err hkc_iter_next_audit(hkc_iter *it, const hkc_audit_entry **item,
                            hkc_error *err)
{
    *item = NULL;
    if (!it || it->kind != IT_AUDIT)
        return fail(err, HKC_ERR_INVALID, "not an iterator over the audit log");
    hkc_err rc = iter_advance(it, err);
    if (rc == HKC_OK) *item = &it->log.entries[it->pos++];
    return rc;
}

void hkc_iter_free(hkc_iter *it)
{
    if (!it) return;
    hkc_page_free(&it->page);
    hkc_rows_free(&it->rows);
    hkc_audit_page_free(&it->log);
    mem_release(it->text);
    mem_release(it->cursor);
    mem_release(it);
}
