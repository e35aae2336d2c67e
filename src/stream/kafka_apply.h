/*
 * kafka_apply.h — the apply step shared by followers (kafka_follow.c) and
 * replicated nodes (kafka_repl.c): consumed messages applied in one LMDB
 * write transaction that also records, per partition, the next offset to
 * consume (module database "repl.offsets": key = partition, 4 bytes
 * big-endian; value = next offset, 8 bytes big-endian), so that a crash
 * at any point resumes after the last committed transaction and every
 * message is applied exactly once.
 *
 * Private to src/stream (library hakgal_stream). Threads: the caller's
 * apply thread, which owns the consumer.
 */
#ifndef HKST_KAFKA_APPLY_H
#define HKST_KAFKA_APPLY_H

#include <librdkafka/rdkafka.h>

#include "store/store.h"

#define HKST_OFFSETS_DB "repl.offsets"
#define HKST_APPLY_MAX 1000 /* messages per poll and per transaction */

typedef struct hkst_apply {
    hk_store *s;    /* the KB */
    hks_db offsets; /* repl.offsets */
    void *ctx;      /* passed back */
    /* Applies message i in t: HK_OK, an input error (input_error true:
     * the message's fault), or the store's error (the txn is aborted and
     * hkst_apply_txn returns it). */
    hk_err (*apply)(void *ctx, hk_txn *t, size_t i, hk_error *err);
    bool (*input_error)(hk_err e);
    /* Called once for a message whose input error makes it skipped (only
     * with redo). */
    void (*skipped)(void *ctx, size_t i, const hk_error *why);
    /* true: an input error may leave part of the message in t, so the
     * transaction is started again without it (skip[i] set, skipped
     * called); false: the apply left t unchanged, the error is the
     * message's result (rcs[i]) and the transaction goes on. */
    bool redo;
    /* true: the transaction commits without fsync (hks_txn_set_no_sync);
     * the caller syncs the store itself */
    bool no_sync;
    /* NULL, or called (only without redo) once the txn has applied the
     * messages up to hi: returns the range's new end (>= hi), the caller
     * having put messages hi.. of it and their skip flags in place. It
     * lets a txn take the messages that arrived while it was applied. */
    size_t (*more)(void *ctx, size_t hi);
} hkst_apply;

/* Polls up to max (<= HKST_APPLY_MAX) messages into msgs: waits up to
 * wait_ms for the first, then takes what has arrived. Partition-EOF events
 * are dropped, other consumer errors passed to log (may be NULL). Returns
 * the count; the caller destroys the messages. */
size_t hkst_apply_poll(rd_kafka_t *rk, int wait_ms, rd_kafka_message_t **msgs,
                       size_t max, void (*log)(void *ctx, const char *why),
                       void *ctx);

/* Applies msgs[lo..*hi) in one write txn with their offsets (a->more may
 * move *hi on, also when the txn fails). skip[i]
 * (in/out): messages to record without applying. rcs[i] and errs[i] get
 * each applied message's result (may be NULL with redo). *applied counts
 * the messages applied (failed inputs included when !redo), *skipped the
 * skipped ones. HK_OK once committed; otherwise the store's error in err
 * and nothing committed. */
hk_err hkst_apply_txn(const hkst_apply *a, rd_kafka_message_t **msgs, size_t lo,
                      size_t *hi, bool *skip, hk_err *rcs, hk_error *errs,
                      size_t *applied, size_t *skipped, hk_error *err);

/* The recorded next offset of partition p in t, or
 * RD_KAFKA_OFFSET_BEGINNING when none is recorded. */
int64_t hkst_apply_offset(hk_txn *t, hks_db offsets, int32_t p);

#endif /* HKST_KAFKA_APPLY_H */
