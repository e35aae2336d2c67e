/*
 * otel_pb.h — the OTLP protobuf encoding (http/protobuf) of an
 * ExportTraceServiceRequest, and the one field of the response the
 * exporter reads. Private to src/otel.
 *
 * Hand-written for this one message tree (see otel_pb.c for why). Every
 * writer appends completely or returns HK_ERR_NOMEM; the buffer may then
 * hold a partial message and must be discarded.
 *
 * Threads: pure functions over caller-owned buffers.
 */
#ifndef HK_OTEL_PB_H
#define HK_OTEL_PB_H

#include <stddef.h>
#include <stdint.h>

#include "otel/otel.h"

/* Appends one KeyValue with a string value as field `field` of the
 * enclosing message (Resource.attributes = 1, Span.attributes = 9). */
hk_err hk_otlp_pb_kv_str(hk_buf *b, unsigned field, const char *key,
                         const char *v, size_t vlen);

/* Writes (b->len reset to 0) a whole ExportTraceServiceRequest: one
 * ResourceSpans whose Resource body is resource[0..resource_len) (its
 * encoded attributes), one ScopeSpans named "hakgal" of `version`, and
 * the n spans ring[first], ring[(first + 1) % cap], ... (the exporter's
 * queue, read in place). */
hk_err hk_otlp_pb_request(hk_buf *b, const char *resource, size_t resource_len,
                          const char *version, const hk_span *ring, size_t cap,
                          size_t first, size_t n);

/* Reads ExportTraceServiceResponse.partial_success.rejected_spans from a
 * protobuf response body; 0 when absent. False for a body that is not
 * well-formed protobuf. */
bool hk_otlp_pb_rejected(const uint8_t *body, size_t len, uint64_t *rejected);

#endif /* HK_OTEL_PB_H */
