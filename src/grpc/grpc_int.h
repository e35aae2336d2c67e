/*
 * grpc_int.h — internals of the gRPC endpoint (src/grpc/): the call
 * object the method handlers work on, the message I/O they use, and the
 * method table (grpc_methods.c) the transport (grpc_server.c) dispatches
 * through. Private to src/grpc and its tests.
 *
 * Threads: every call is handled start to end by one worker thread, which
 * owns the call, its completion queue and its read transaction; nothing in
 * a call is shared with another thread. Writes go through the server's
 * group-commit writer (hk_server_write_sync), which is callable from any
 * thread.
 */
#ifndef HK_GRPC_INT_H
#define HK_GRPC_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <grpc/grpc.h>
#include <protobuf-c/protobuf-c.h>

#include "grpc/health/v1/health.pb-c.h"
#include "hakgal/v2/hakgal.pb-c.h"
#include "core/buf.h"
#include "otel/otel.h"
#include "server/server.h"

typedef struct hk_grpc_worker hk_grpc_worker;

/* What a completion-queue tag points at (the first member of both). */
#define HK_GRPC_TAG_PENDING 1 /* hk_grpc_pending: a requested call */
#define HK_GRPC_TAG_CALL 2    /* hk_grpc_call: a batch of a call */
#define HK_GRPC_TAG_FINISH 3  /* the last batch of a call (grpc_server.c) */
#define HK_GRPC_TAG_CLOSE 4   /* a call's close watch (grpc_server.c) */

typedef struct hk_grpc_close_op hk_grpc_close_op;
typedef struct hk_h2_stream hk_h2_stream;

/* One call being handled. */
typedef struct hk_grpc_call {
    int tag_kind;              /* HK_GRPC_TAG_CALL */
    bool op_done;              /* the batch in flight completed ... */
    bool op_ok;                /* ... and succeeded */
    unsigned depth;            /* nesting level on its worker (read txn) */
    hk_grpc_worker *w;         /* the worker thread handling it */
    hk_server *srv;            /* the server (config, store, writer) */
    grpc_call *call;           /* the gRPC core call */
    hk_principal who;          /* the caller (token name = audit actor) */
    bool sent_initial;         /* initial metadata went out */
    bool finished;             /* the status went out */
    int64_t deadline_ms;       /* per-operation wait bound (slow peers) */
    ProtobufCMessage *req;     /* unary and server streaming: the request */
    grpc_byte_buffer *send_bb; /* a message in flight (hk_grpc_send_page) */
    grpc_status_code status;   /* the status sent (tracing) */
    hk_grpc_close_op *close;   /* hk_grpc_watch_close's op, or NULL */
    hk_h2_stream *h2;          /* the HTTP/2 transport's stream (grpc_h2.c);
                                  NULL: a C core call (call, w, depth) */
} hk_grpc_call;

/* ==== Message I/O (grpc_server.c) ==== */

/* Receives one message of type d into *out (caller frees with
 * protobuf_c_message_free_unpacked). *out is NULL when the client closed
 * its side. Bytes that are not a valid message answer INVALID_ARGUMENT on
 * the call and return HK_ERR_INVALID; a broken call HK_ERR_IO. */
hk_err hk_grpc_recv(hk_grpc_call *c, const ProtobufCMessageDescriptor *d,
                    ProtobufCMessage **out);
/* Sends one message (a stream element, or a unary answer before
 * hk_grpc_finish). HK_ERR_IO when the client went away. */
hk_err hk_grpc_send(hk_grpc_call *c, const ProtobufCMessage *m);
/* Sends m and status OK in one batch (a unary answer). */
void hk_grpc_reply(hk_grpc_call *c, const ProtobufCMessage *m);
/* The same with a message already encoded (hk_grpc_append_*). */
void hk_grpc_reply_raw(hk_grpc_call *c, const void *bytes, size_t len);
/* Ends the call with a status; message and field (may be NULL) are the
 * status details and the "hakgal-error-field" trailer. */
void hk_grpc_finish(hk_grpc_call *c, grpc_status_code code, const char *message,
                    const char *field);
/* Ends the call with the status an hk_error maps to (hk_grpc_status). */
void hk_grpc_fail(hk_grpc_call *c, const hk_error *err);
/* The gRPC status of a service error code. */
grpc_status_code hk_grpc_status(hk_err code);
/* The worker's read transaction with a fresh snapshot; NULL (and the call
 * answered UNAVAILABLE) when none can be had. Ended after the call. */
hk_txn *hk_grpc_read_txn(hk_grpc_call *c);
/* Waits up to us microseconds, handling calls that arrive meanwhile
 * (a following stream waiting for news). */
void hk_grpc_idle(hk_grpc_call *c, int64_t us);
/* Watches for the end of the call from the client's side (it cancelled
 * or went away) while the handler waits for news without a batch of its
 * own in flight (a Watch stream). HK_ERR_NOMEM or HK_ERR_IO when the
 * watch cannot start. */
hk_err hk_grpc_watch_close(hk_grpc_call *c);
/* True when the watched call ended from the client's side. */
bool hk_grpc_closed(const hk_grpc_call *c);
/* Ends the call's snapshot early, so that the next hk_grpc_read_txn sees
 * newer commits (a following stream). */
void hk_grpc_read_done(hk_grpc_call *c);

/* Decodes bytes as a message of type d into *out (caller frees with
 * protobuf_c_message_free_unpacked); answers INVALID_ARGUMENT on the call
 * and returns HK_ERR_INVALID when they are none. */
hk_err hk_grpc_decode(hk_grpc_call *c, const ProtobufCMessageDescriptor *d,
                      const void *bytes, size_t len, ProtobufCMessage **out);
/* Sets c->who from the "authorization" metadata value v[0..len) (v NULL:
 * none was sent) and checks it against need; false when the call was
 * answered UNAUTHENTICATED or PERMISSION_DENIED. */
bool hk_grpc_authorize(hk_grpc_call *c, const char *v, size_t len,
                       hk_role need);
/* Starts the span of a call of path, a child of the traceparent tp (may
 * be NULL) with its tracestate ts (may be NULL); ends it with the call's
 * status. */
void hk_grpc_trace_begin(hk_span *sp, const char *path, const char *tp,
                         size_t tp_len, const char *ts, size_t ts_len);
void hk_grpc_trace_end(hk_span *sp, const hk_grpc_call *c);
/* Worker or loop threads when --grpc-threads is not given. */
unsigned hk_grpc_default_threads(void);
/* HK_ERR_INVALID when --grpc-listen is not loopback and neither tokens
 * nor --insecure are configured (an open port would serve anyone). */
hk_err hk_grpc_check_listen(hk_server *srv, hk_error *err);

/* ==== HTTP/2 transport (grpc_h2.c) ==== */

/* The endpoint over libnghttp2 (--grpc-transport h2); the message I/O
 * above calls these for a call whose h2 is set. */
hk_err hk_h2_start(hk_server *srv, hk_error *err);
void hk_h2_stop(hk_server *srv);
hk_err hk_h2_recv(hk_grpc_call *c, const ProtobufCMessageDescriptor *d,
                  ProtobufCMessage **out);
/* Sends m, or when m is NULL the encoded bytes[0..len). */
hk_err hk_h2_send(hk_grpc_call *c, const ProtobufCMessage *m, const void *bytes,
                  size_t len);
/* Ends the call: the message m or bytes (both NULL: none), then the
 * status. */
void hk_h2_finish(hk_grpc_call *c, const ProtobufCMessage *m, const void *bytes,
                  size_t len, grpc_status_code code, const char *message,
                  const char *field);
hk_txn *hk_h2_read_txn(hk_grpc_call *c);
void hk_h2_read_done(hk_grpc_call *c);
void hk_h2_idle(hk_grpc_call *c, int64_t us);
bool hk_h2_closed(const hk_grpc_call *c);

/* ==== Methods (grpc_methods.c) ==== */

typedef enum hk_grpc_kind {
    HK_GRPC_UNARY = 0,         /* one request, one answer */
    HK_GRPC_SERVER_STREAM = 1, /* one request, a stream of answers */
    HK_GRPC_CLIENT_STREAM = 2, /* a stream of requests, one answer */
    HK_GRPC_BIDI_STREAM = 3    /* streams both ways (reflection) */
} hk_grpc_kind;

typedef struct hk_grpc_method {
    const char *path;                     /* "/hakgal.v2.Hakgal/GetFact" */
    hk_grpc_kind kind;                    /* call shape */
    hk_role need;                         /* role under an auth policy */
    const ProtobufCMessageDescriptor *in; /* request message type */
    void (*handle)(hk_grpc_call *c);      /* answers the call */
} hk_grpc_method;

/* Health Watch calls running: the endpoint's stop gives them the time to
 * send NOT_SERVING before it cancels what runs. */
unsigned hk_grpc_watching(void);
/* Server reflection's ServerReflectionInfo (grpc_reflect.c). */
void hk_grpc_reflect(hk_grpc_call *c);
/* The rule methods (grpc_rules.c): ListRules, AddRule, SetRuleEnabled,
 * DeleteRule, Reason, Why. */
void hk_grpc_list_rules(hk_grpc_call *c);
void hk_grpc_add_rule(hk_grpc_call *c);
void hk_grpc_set_rule_enabled(hk_grpc_call *c);
void hk_grpc_delete_rule(hk_grpc_call *c);
void hk_grpc_reason(hk_grpc_call *c);
void hk_grpc_why(hk_grpc_call *c);
/* The review queue methods (grpc_review.c): ListReview, ApproveProposal,
 * RejectProposal. */
void hk_grpc_list_review(hk_grpc_call *c);
void hk_grpc_approve_proposal(hk_grpc_call *c);
void hk_grpc_reject_proposal(hk_grpc_call *c);
/* The vector space methods (grpc_vectors.c): ListVectorSpaces,
 * CreateVectorSpace, DropVectorSpace, SimilarVectors. */
void hk_grpc_list_vector_spaces(hk_grpc_call *c);
void hk_grpc_create_vector_space(hk_grpc_call *c);
void hk_grpc_drop_vector_space(hk_grpc_call *c);
void hk_grpc_similar_vectors(hk_grpc_call *c);
/* The learned model's methods (grpc_model.c): ModelInfo, ModelScore,
 * ModelPredict, ModelSimilar. */
void hk_grpc_model_info(hk_grpc_call *c);
void hk_grpc_model_score(hk_grpc_call *c);
void hk_grpc_model_predict(hk_grpc_call *c);
void hk_grpc_model_similar(hk_grpc_call *c);
/* True when the call answers from one snapshot with bounded work and
 * never waits for its peer or the writer (a read, a one-page query): the
 * HTTP/2 transport runs it on its event loop; any other runs on a thread
 * of its own. */
bool hk_grpc_short_call(const hk_grpc_method *m, const ProtobufCMessage *req);
/* The method of a path, NULL when unknown. */
const hk_grpc_method *hk_grpc_method_find(const char *path, size_t len);
/* The table: hk_grpc_methods()[0 .. hk_grpc_method_count()). */
const hk_grpc_method *hk_grpc_methods(void);
size_t hk_grpc_method_count(void);

/* ==== Codec (grpc_codec.c) ==== */

/* Converts a FactInput into the JSON form the service's fact parser
 * reads (hk_svc_fact_in_parse), so that every transport shares one
 * parser and its errors. New reference; NULL with err set when
 * context_json is not a JSON object (field "context_json") or memory runs
 * out. */
json_t *hk_grpc_fact_input_json(const Hakgal__V2__FactInput *in, hk_error *err);

/* A Fact message over an hk_fact: its strings point into the fact (valid
 * while the fact is); arrays, times and the canonical text live here.
 * Reusable from fact to fact; release with hk_grpc_fact_view_free. */
typedef struct hk_grpc_fact_view {
    Hakgal__V2__Fact m;      /* the message */
    char *args[HK_MAX_ARGS]; /* m.args */
    char *tags[HK_MAX_TAGS]; /* m.tags */
    char created[32];        /* m.created, RFC 3339 */
    char updated[32];        /* m.updated, RFC 3339 */
    hk_buf text;             /* m.statement, canonical (reused) */
} hk_grpc_fact_view;
/* Fills v from f (v->text must be HK_BUF_INIT or from an earlier call).
 * HK_ERR_NOMEM on failure. */
hk_err hk_grpc_fact_view_set(hk_grpc_fact_view *v, const hk_fact *f);
void hk_grpc_fact_view_free(hk_grpc_fact_view *v);

/* Appends field number `field` holding message m (length-delimited) to
 * out: how a repeated message field is built one element at a time. */
hk_err hk_grpc_append_field(hk_buf *out, uint32_t field,
                            const ProtobufCMessage *m);
/* Appends field number `field` holding the Fact message of f, encoded
 * straight from the record without protobuf-c: the bytes protobuf-c packs
 * for hk_grpc_fact_view_set's view. scratch (an hk_buf, reused from fact
 * to fact) receives the canonical statement on the way. HK_ERR_NOMEM on
 * failure, with out as it was. */
hk_err hk_grpc_append_fact(hk_buf *out, uint32_t field, const hk_fact *f,
                           hk_buf *scratch);
/* The same for a QueryRow {fact = 1, bindings = 2} of f and the n_vars
 * bindings vars[i] = values[i] (values[i] NULL: ""). */
hk_err hk_grpc_append_query_row(hk_buf *out, uint32_t field, const hk_fact *f,
                                const char *const *vars,
                                const char *const *values, size_t n_vars,
                                hk_buf *scratch);
/* Appends a varint field. */
hk_err hk_grpc_append_varint_field(hk_buf *out, uint32_t field, uint64_t v);
/* Appends a string field (skipped when empty, as proto3 does). */
hk_err hk_grpc_append_string_field(hk_buf *out, uint32_t field, const char *s);
/* Sends the bytes of one already encoded message (hk_grpc_send's form). */
hk_err hk_grpc_send_raw(hk_grpc_call *c, const void *bytes, size_t len);
/* Sends the encoded message in *page without copying it and without
 * waiting: the bytes go to the transport and *page gets a fresh buffer of
 * the same capacity, so the next page is encoded while this one is
 * written (a stream's pages overlap encoding and sending). The next batch
 * of the call waits for it; HK_ERR_IO when the previous message failed. */
hk_err hk_grpc_send_page(hk_grpc_call *c, hk_buf *page);
/* The last page of a stream and status OK in one batch, *page taken
 * without a copy (it is left empty): a one-page answer costs the call one
 * batch, as a unary answer does, and no wait for a separate send. */
void hk_grpc_reply_page(hk_grpc_call *c, hk_buf *page);

#endif /* HK_GRPC_INT_H */
