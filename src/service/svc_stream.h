/*
 * svc_stream.h — service operations of the change stream (src/stream).
 *
 * The outbox and publisher live in src/stream (stream.h); these are the
 * operations every interface offers over them.
 */
#ifndef HK_SVC_STREAM_H
#define HK_SVC_STREAM_H

#include "hakgal.h"
#include "stream/stream.h"

/* The state of the KB's change-stream outbox in the caller's (read) txn:
 * whether the KB streams, how many events wait, the oldest and the last
 * published. Never fails on a KB without an outbox (enabled false). */
hk_err hk_svc_stream_status(hk_store *s, hk_txn *t, hkst_status *out,
                            hk_error *err);

/* Creates the outbox of the KB (hakgal stream enable): from then on every
 * writer records its changes. Runs its own write txn (module database
 * registration); call it with no transaction of s open. */
hk_err hk_svc_stream_enable(hk_store *s, hk_error *err);

/* hakgal digest: an order-independent digest of the facts (statement and
 * metadata, without ids and times), of the rule and vector records and
 * the audit head, in the caller's read txn t of s (hkst_digest_get; scans
 * every fact and record). */
hk_err hk_svc_digest(hk_store *s, hk_txn *t, hkst_digest *out, hk_error *err);

#endif /* HK_SVC_STREAM_H */
