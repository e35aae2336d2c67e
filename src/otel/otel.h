/*
 * otel.h — OpenTelemetry tracing: W3C trace context, spans, and a bounded
 * background exporter that sends OTLP/HTTP (protobuf or JSON encoding) with
 * libcurl.
 *
 * The module knows nothing about the server: the server starts the tracer
 * once (hk_otel_start), opens a span per request, and any code below it
 * (service layer, query engine, writer, model client) opens child spans of
 * whatever span is current on its thread. With no tracer running every
 * call is a few loads and returns; a span that is not sampled costs no
 * lock and no copy.
 *
 * Threads: hk_otel_start/hk_otel_stop on one thread (start-up, shut-down);
 * every other function from any thread at any time. The "current span" is
 * thread-local.
 */
#ifndef HK_OTEL_H
#define HK_OTEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hakgal.h"

/* ==== Configuration (the OTEL_* settings every SDK reads) ==== */

typedef struct hk_otel_config {
    char endpoint[512];        /* OTEL_EXPORTER_OTLP_ENDPOINT: base URL,
                                  "/v1/traces" is appended */
    char traces_endpoint[512]; /* OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: full
                                  URL, used as is; wins over endpoint */
    char protocol[32];         /* OTEL_EXPORTER_OTLP_PROTOCOL:
                                  "http/protobuf" or "http/json"; "" =
                                  http/protobuf (the specification's
                                  default) */
    char traces_protocol[32];  /* OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: the
                                  same for traces; wins over protocol */
    char headers[1024];        /* OTEL_EXPORTER_OTLP_HEADERS: k=v,k2=v2
                                  (values percent-decoded) */
    uint32_t timeout_ms;       /* OTEL_EXPORTER_OTLP_TIMEOUT, 0 = 10000 */
    char service_name[128];    /* OTEL_SERVICE_NAME, "" = "hakgal" */
    char resource_attrs[1024]; /* OTEL_RESOURCE_ATTRIBUTES: k=v,k2=v2 */
    char sampler[32];          /* OTEL_TRACES_SAMPLER, "" =
                                  parentbased_always_on */
    char sampler_arg[32];      /* OTEL_TRACES_SAMPLER_ARG: ratio 0..1 */
    char exporter[16];         /* OTEL_TRACES_EXPORTER: otlp | none; "" =
                                  otlp when an endpoint is set */
    bool sdk_disabled;         /* OTEL_SDK_DISABLED */
    uint32_t queue_max;        /* OTEL_BSP_MAX_QUEUE_SIZE, 0 = 2048 spans */
    uint32_t batch_max;        /* OTEL_BSP_MAX_EXPORT_BATCH_SIZE, 0 = 512 */
    uint32_t delay_ms;         /* OTEL_BSP_SCHEDULE_DELAY, 0 = 5000 */
    char node_id[128];         /* service.instance.id, "" = host name */
} hk_otel_config;

/* Checks one textual setting by its OTEL_* name (e.g. "OTEL_TRACES_SAMPLER")
 * or its lower-case dashed form; fills `why` (size n) and answers
 * HK_ERR_INVALID when the value cannot be used. Unknown names pass. */
hk_err hk_otel_check_value(const char *name, const char *value, char *why,
                           size_t n);
/* True when cfg asks for export (an endpoint set, not disabled). */
bool hk_otel_config_enabled(const hk_otel_config *cfg);

/* ==== W3C trace context ==== */

#define HK_TRACESTATE_MAX 256

typedef struct hk_trace_ctx {
    uint8_t trace_id[16]; /* all zero = no context */
    uint8_t span_id[8];   /* the span that is the parent of new children */
    uint8_t flags;        /* trace-flags; bit 0 = sampled */
    char state[HK_TRACESTATE_MAX]; /* tracestate, verbatim; "" = none */
} hk_trace_ctx;

/* Parses a traceparent header value (version 00, or a later version with
 * the same first 55 bytes). Answers false for anything invalid, including
 * all-zero ids; ctx is then untouched. */
bool hk_traceparent_parse(const char *s, size_t len, hk_trace_ctx *ctx);
/* Writes "00-<trace>-<span>-<flags>" and a NUL into out (56 bytes). */
void hk_traceparent_format(const hk_trace_ctx *ctx, char out[56]);
/* Hex of n bytes into out (2n + 1 bytes). */
void hk_otel_hex(const uint8_t *b, size_t n, char *out);

/* ==== Spans ==== */

typedef enum hk_span_kind {
    HK_SPAN_INTERNAL = 1,
    HK_SPAN_SERVER = 2,
    HK_SPAN_CLIENT = 3,
    HK_SPAN_PRODUCER = 4,
} hk_span_kind;

#define HK_SPAN_ATTRS 8    /* attributes per span at most */
#define HK_SPAN_TEXT 96    /* bytes of a string attribute value kept */
#define HK_SPAN_NAME 64    /* bytes of a span name kept */
#define HK_SPAN_STATUS 128 /* bytes of an error description kept */

typedef struct hk_span_attr {
    const char *key;      /* static string (semantic convention name) */
    bool is_int;          /* value is i, else s */
    int64_t i;            /* integer value */
    char s[HK_SPAN_TEXT]; /* string value, truncated */
} hk_span_attr;

/* A span lives in the caller's memory (stack, request pool) from
 * hk_span_start to hk_span_end; hk_span_end copies it into the exporter's
 * queue. */
typedef struct hk_span {
    hk_trace_ctx ctx;            /* trace id, this span's id, flags, state */
    uint8_t parent_id[8];        /* parent span id, zero for a root */
    bool recording;              /* sampled and a tracer runs */
    hk_span_kind kind;           /* OTLP SpanKind */
    char name[HK_SPAN_NAME];     /* operation name */
    uint64_t start_ns;           /* wall clock, ns since the epoch */
    uint64_t end_ns;             /* wall clock at hk_span_end */
    bool error;                  /* status ERROR, else UNSET */
    char status[HK_SPAN_STATUS]; /* error description */
    unsigned n_attrs;            /* used entries of attrs */
    hk_span_attr attrs[HK_SPAN_ATTRS]; /* attributes */
    const hk_trace_ctx *prev; /* thread's current context before this span
                                 became current */
    bool pushed;              /* this span is the thread's current one */
} hk_span;

/* Starts a span. parent: an explicit parent context (an incoming
 * traceparent), or NULL for the thread's current span (a root when there
 * is none). The sampler decides `recording`. With make_current the span
 * becomes the thread's current span until hk_span_end (strictly nested). */
void hk_span_start(hk_span *sp, const char *name, hk_span_kind kind,
                   const hk_trace_ctx *parent, bool make_current);
void hk_span_attr_str(hk_span *sp, const char *key, const char *v, size_t len);
void hk_span_attr_int(hk_span *sp, const char *key, int64_t v);
void hk_span_set_error(hk_span *sp, const char *why);
/* Ends the span and queues it for export (when recording). */
void hk_span_end(hk_span *sp);

/* The thread's current context (NULL when none); swap sets it and answers
 * the previous one, for spans that outlive one call on the thread. */
const hk_trace_ctx *hk_otel_current(void);
const hk_trace_ctx *hk_otel_swap_current(const hk_trace_ctx *ctx);
/* True when a tracer runs (spans may record). */
bool hk_otel_active(void);

/* ==== The tracer and its exporter ==== */

typedef struct hk_otel_counters {
    uint64_t spans_ended;    /* recorded spans handed to the queue */
    uint64_t spans_dropped;  /* not queued: the queue was full */
    uint64_t spans_exported; /* accepted by the receiver (2xx) */
    uint64_t spans_failed;   /* in batches the receiver did not accept,
                                including spans it rejected in a partial
                                success */
    uint64_t spans_rejected; /* of spans_failed: rejected by a receiver
                                that accepted the rest of their batch */
    uint64_t exports;        /* export requests sent, retries included */
    uint64_t retries;        /* of exports: sent again after a 429, 502,
                                503, 504 or a failed connection */
    uint64_t queue_len;      /* spans waiting now */
    uint64_t queue_max;      /* queue capacity */
} hk_otel_counters;

/* Starts the process's tracer and its exporter thread; `version` goes into
 * service.version. HK_ERR_INVALID for a bad setting (err says which),
 * HK_ERR_STATE when one runs already. Does nothing and answers HK_OK when
 * cfg does not enable export. */
hk_err hk_otel_start(const hk_otel_config *cfg, const char *version,
                     hk_error *err);
/* Exports what is queued (one attempt, bounded by the export timeout),
 * stops the thread and frees the tracer. Safe without a tracer. */
void hk_otel_stop(void);
void hk_otel_counters_get(hk_otel_counters *out);

#endif
