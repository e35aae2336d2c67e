/*
 * otel_pb.c — OTLP http/protobuf: the protobuf wire format of
 * ExportTraceServiceRequest (otel_pb.h).
 *
 * Why hand-written and not protobuf-c: hakgal sends one message tree and
 * never parses one beyond a single varint of the response. The tree uses
 * three wire types (varint, fixed64, length-delimited); a writer for them
 * is ~150 lines with no generated code, no build-time protoc-c
 * step and no run-time library. Field numbers are those of
 * opentelemetry-proto (collector/trace/v1/trace_service.proto,
 * trace/v1/trace.proto, resource/v1/resource.proto,
 * common/v1/common.proto); the e2e test decodes the output with the
 * official generated definitions, which is what keeps this file honest.
 *
 * Design:
 *   1. A message is written in place: msg_begin remembers where its body
 *      starts, the body is appended, msg_end computes its length and slides
 *      the body forward by the size of the length varint to make room for
 *      it. Nesting is at most four deep (request > resource spans > scope
 *      spans > span > key value > any value), and each slide moves only
 *      the body just written, so the cost stays linear in practice.
 *   2. Strings must be valid UTF-8 in protobuf (the Collector rejects a
 *      request otherwise). Span names and attribute values come from
 *      requests and are truncated to fixed sizes, so every string goes
 *      through str_field, which replaces each invalid byte with U+FFFD as
 *      the JSON encoding does.
 *   3. Fields left at their default value are not written (proto3).
 */
#include <string.h>

#include "core/buf.h"
#include "core/utf8.h"
#include "otel/otel_pb.h"

/* ==== Wire format ==== */

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 }; /* wire types */

static size_t varint_put(uint8_t out[10], uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

static hk_err varint(hk_buf *b, uint64_t v)
{
    uint8_t t[10];
    return hk_buf_append(b, t, varint_put(t, v));
}

static hk_err tag(hk_buf *b, unsigned field, unsigned wt)
{
    return varint(b, (uint64_t)field << 3 | wt);
}

static hk_err varint_field(hk_buf *b, unsigned field, uint64_t v)
{
    if (v == 0) return HK_OK;
    hk_err rc = tag(b, field, WT_VARINT);
    return rc ? rc : varint(b, v);
}

static hk_err fixed64_field(hk_buf *b, unsigned field, uint64_t v)
{
    uint8_t t[8];
    for (int i = 0; i < 8; i++)
        t[i] = (uint8_t)(v >> (8 * i));
    hk_err rc = tag(b, field, WT_I64);
    return rc ? rc : hk_buf_append(b, t, 8);
}

static hk_err bytes_field(hk_buf *b, unsigned field, const void *p, size_t n)
{
    hk_err rc = tag(b, field, WT_LEN);
    if (rc == HK_OK) rc = varint(b, n);
    return rc ? rc : hk_buf_append(b, p, n);
}

/* Starts a length-delimited field: writes its tag and answers where the
 * body begins (pass it to msg_end). */
static hk_err msg_begin(hk_buf *b, unsigned field, size_t *mark)
{
    hk_err rc = tag(b, field, WT_LEN);
    *mark = b->len;
    return rc;
}

/* Ends the field begun at mark: inserts the body's length before it. */
static hk_err msg_end(hk_buf *b, size_t mark)
{
    uint8_t t[10];
    size_t body = b->len - mark, n = varint_put(t, body);
    hk_err rc = hk_buf_reserve(b, n);
    if (rc != HK_OK) return rc;
    memmove(b->data + mark + n, b->data + mark, body);
    memcpy(b->data + mark, t, n);
    b->len += n;
    b->data[b->len] = '\0';
    return HK_OK;
}

/* A string field (skipped when empty), invalid UTF-8 bytes replaced with
 * U+FFFD. */
static hk_err str_field(hk_buf *b, unsigned field, const char *s, size_t n)
{
    if (n == 0) return HK_OK;
    const unsigned char *p = (const unsigned char *)s;
    if (hk_utf8_valid(s, n, NULL)) /* the usual case */
        return bytes_field(b, field, s, n);
    size_t mark, k;
    hk_err rc = msg_begin(b, field, &mark);
    for (size_t i = 0; rc == HK_OK && i < n; i += k ? k : 1) {
        k = hk_utf8_seq_len(p + i, n - i);
        rc = k ? hk_buf_append(b, p + i, k)
               : hk_buf_append(b, "\xEF\xBF\xBD", 3);
    }
    return rc ? rc : msg_end(b, mark);
}

/* ==== Messages ==== */

/* KeyValue{key = 1, value = 2: AnyValue{string_value = 1 | int_value = 3}} */
static hk_err kv(hk_buf *b, unsigned field, const char *key, bool is_int,
                 int64_t i, const char *v, size_t vlen)
{
    size_t m_kv, m_val;
    hk_err rc = msg_begin(b, field, &m_kv);
    if (rc == HK_OK) rc = str_field(b, 1, key, strlen(key));
    if (rc == HK_OK) rc = msg_begin(b, 2, &m_val);
    if (rc == HK_OK && is_int) {
        rc = tag(b, 3, WT_VARINT); /* written even when 0: it is a oneof */
        if (rc == HK_OK) rc = varint(b, (uint64_t)i);
    } else if (rc == HK_OK) {
        rc = str_field(b, 1, v, vlen);
        if (rc == HK_OK && vlen == 0) rc = bytes_field(b, 1, "", 0);
    }
    if (rc == HK_OK) rc = msg_end(b, m_val);
    return rc ? rc : msg_end(b, m_kv);
}

hk_err hk_otlp_pb_kv_str(hk_buf *b, unsigned field, const char *key,
                         const char *v, size_t vlen)
{
    return kv(b, field, key, false, 0, v, vlen);
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i]) return false;
    return true;
}

/* Span (trace.proto): trace_id 1, span_id 2, trace_state 3,
 * parent_span_id 4, name 5, kind 6, start 7, end 8, attributes 9,
 * status 15 {message 2, code 3}. */
static hk_err span(hk_buf *b, const hk_span *sp)
{
    size_t m;
    hk_err rc = msg_begin(b, 2, &m); /* ScopeSpans.spans = 2 */
    if (rc == HK_OK) rc = bytes_field(b, 1, sp->ctx.trace_id, 16);
    if (rc == HK_OK) rc = bytes_field(b, 2, sp->ctx.span_id, 8);
    if (rc == HK_OK) rc = str_field(b, 3, sp->ctx.state, strlen(sp->ctx.state));
    if (rc == HK_OK && !all_zero(sp->parent_id, 8))
        rc = bytes_field(b, 4, sp->parent_id, 8);
    if (rc == HK_OK) rc = str_field(b, 5, sp->name, strlen(sp->name));
    if (rc == HK_OK) rc = varint_field(b, 6, (uint64_t)sp->kind);
    if (rc == HK_OK) rc = fixed64_field(b, 7, sp->start_ns);
    if (rc == HK_OK) rc = fixed64_field(b, 8, sp->end_ns);
    for (unsigned i = 0; rc == HK_OK && i < sp->n_attrs; i++) {
        const hk_span_attr *a = &sp->attrs[i];
        rc = kv(b, 9, a->key, a->is_int, a->i, a->s,
                a->is_int ? 0 : strlen(a->s));
    }
    if (rc == HK_OK && sp->error) {
        size_t ms;
        rc = msg_begin(b, 15, &ms);
        if (rc == HK_OK) rc = str_field(b, 2, sp->status, strlen(sp->status));
        if (rc == HK_OK) rc = varint_field(b, 3, 2); /* STATUS_CODE_ERROR */
        if (rc == HK_OK) rc = msg_end(b, ms);
    }
    /* Span.flags (16, fixed32) is not written: it is newer than the
     * definitions receivers in use decode with, and the W3C sampled bit
     * it would carry is always set on an exported span. */
    return rc ? rc : msg_end(b, m);
}

hk_err hk_otlp_pb_request(hk_buf *b, const char *resource, size_t resource_len,
                          const char *version, const hk_span *ring, size_t cap,
                          size_t first, size_t n)
{
    size_t m_rs, m_ss, m_sc;
    b->len = 0;
    /* ExportTraceServiceRequest.resource_spans = 1 */
    hk_err rc = msg_begin(b, 1, &m_rs);
    /* ResourceSpans.resource = 1 */
    if (rc == HK_OK) rc = bytes_field(b, 1, resource, resource_len);
    /* ResourceSpans.scope_spans = 2; ScopeSpans.scope = 1
     * (InstrumentationScope: name 1, version 2) */
    if (rc == HK_OK) rc = msg_begin(b, 2, &m_ss);
    if (rc == HK_OK) rc = msg_begin(b, 1, &m_sc);
    if (rc == HK_OK) rc = str_field(b, 1, "hakgal", 6);
    if (rc == HK_OK) rc = str_field(b, 2, version, strlen(version));
    if (rc == HK_OK) rc = msg_end(b, m_sc);
    for (size_t i = 0; rc == HK_OK && i < n; i++)
        rc = span(b, &ring[(first + i) % cap]);
    if (rc == HK_OK) rc = msg_end(b, m_ss);
    return rc ? rc : msg_end(b, m_rs);
}

/* ==== The response ==== */

static bool varint_get(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    *v = 0;
    for (unsigned s = 0; s < 64 && *p < end; s += 7) {
        uint8_t c = *(*p)++;
        *v |= (uint64_t)(c & 0x7F) << s;
        if (!(c & 0x80)) return true;
    }
    return false;
}

/* Finds field `want` (wire type LEN or VARINT) in one message, skipping
 * the others; answers its body (LEN) or value (VARINT). */
static bool find_field(const uint8_t *p, const uint8_t *end, unsigned want,
                       const uint8_t **body, size_t *len, uint64_t *value,
                       bool *found)
{
    *found = false;
    while (p < end) {
        uint64_t key, v;
        if (!varint_get(&p, end, &key)) return false;
        unsigned wt = (unsigned)(key & 7);
        switch (wt) {
        case WT_VARINT:
            if (!varint_get(&p, end, &v)) return false;
            if ((key >> 3) == want) *value = v, *found = true;
            break;
        case WT_I64:
        case WT_I32: {
            size_t k = wt == WT_I64 ? 8 : 4;
            if ((size_t)(end - p) < k) return false;
            p += k;
            break;
        }
        case WT_LEN:
            if (!varint_get(&p, end, &v) || v > (uint64_t)(end - p))
                return false;
            if ((key >> 3) == want) *body = p, *len = (size_t)v, *found = true;
            p += v;
            break;
        default:
            return false; /* groups are not used by OTLP */
        }
    }
    return true;
}

bool hk_otlp_pb_rejected(const uint8_t *body, size_t len, uint64_t *rejected)
{
    const uint8_t *ps = NULL;
    size_t ps_len = 0;
    uint64_t v = 0;
    bool found;
    *rejected = 0;
    /* ExportTraceServiceResponse.partial_success = 1 */
    if (!find_field(body, body + len, 1, &ps, &ps_len, &v, &found))
        return false;
    if (!found || !ps) return true;
    /* ExportTracePartialSuccess.rejected_spans = 1 */
    const uint8_t *unused = NULL;
    size_t ulen = 0;
    if (!find_field(ps, ps + ps_len, 1, &unused, &ulen, &v, &found))
        return false;
    if (found) *rejected = v;
    return true;
}
