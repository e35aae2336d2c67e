/*
 * kafka_apply.c — one apply transaction over consumed messages, for
 * followers and replicated nodes (kafka_apply.h).
 *
 * Every message of the range, applied or skipped, records its partition's
 * next offset in the same transaction, so the offsets on disk always say
 * exactly which messages the KB holds. With redo (followers), a message
 * whose change fails on its input is skipped by starting the transaction
 * again without it: at most hi - lo + 1 attempts, each skipping one more.
 */
#include <string.h>

#include "stream/kafka_apply.h"

static void put_be(uint8_t *w, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        w[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t get_be(const uint8_t *r, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | r[i];
    return v;
}

size_t hkst_apply_poll(rd_kafka_t *rk, int wait_ms, rd_kafka_message_t **msgs,
                       size_t max, void (*log)(void *ctx, const char *why),
                       void *ctx)
{
    size_t n = 0;
    if (max > HKST_APPLY_MAX) max = HKST_APPLY_MAX;
    rd_kafka_message_t *km = rd_kafka_consumer_poll(rk, wait_ms);
    while (km) {
        if (km->err) {
            if (km->err != RD_KAFKA_RESP_ERR__PARTITION_EOF && log)
                log(ctx, rd_kafka_message_errstr(km));
            rd_kafka_message_destroy(km);
        } else {
            msgs[n++] = km;
        }
        if (n == max) break;
        km = rd_kafka_consumer_poll(rk, 0);
    }
    return n;
}

static hk_err record_offset(const hkst_apply *a, hk_txn *t,
                            const rd_kafka_message_t *m, hk_error *err)
{
    uint8_t k[4], v[8];
    put_be(k, (uint32_t)m->partition, 4);
    put_be(v, (uint64_t)(m->offset + 1), 8);
    return hks_put(t, a->offsets, (hks_val){k, 4}, (hks_val){v, 8}, 0, err);
}

hk_err hkst_apply_txn(const hkst_apply *a, rd_kafka_message_t **msgs, size_t lo,
                      size_t *hi, bool *skip, hk_err *rcs, hk_error *errs,
                      size_t *applied, size_t *skipped, hk_error *err)
{
    size_t end = *hi;
    *skipped = 0;
    for (size_t i = lo; i < end; i++)
        *skipped += skip[i];
    for (size_t attempt = 0; attempt <= end - lo; attempt++) {
        hk_txn *t = NULL;
        bool again = false;
        *applied = 0;
        hk_err e = hk_txn_begin(a->s, true, &t, err);
        if (!e && a->no_sync) hks_txn_set_no_sync(t);
        for (size_t i = lo; !e && i < end; i++) {
            if (!skip[i]) {
                hk_error one;
                hk_error *ae = errs ? &errs[i] : &one;
                hk_error_clear(ae);
                hk_err rc = a->apply(a->ctx, t, i, ae);
                if (rc && ae->code == HK_OK)
                    hk_error_set(ae, rc, "%s", hk_strerror(rc));
                if (rcs) rcs[i] = rc;
                if (rc && !a->input_error(rc)) {
                    e = rc; /* the store's: nothing is skipped */
                    *err = *ae;
                    break;
                }
                if (rc && a->redo) {
                    skip[i] = true;
                    (*skipped)++;
                    if (a->skipped) a->skipped(a->ctx, i, ae);
                    again = true; /* t may hold part of it */
                    break;
                }
                (*applied)++;
            }
            e = record_offset(a, t, msgs[i], err);
            if (!e && i + 1 == end && a->more && !a->redo) {
                size_t to = a->more(a->ctx, end);
                for (size_t j = end; j < to; j++)
                    *skipped += skip[j];
                end = *hi = to;
            }
        }
        if (again) {
            hk_txn_abort(t);
            continue;
        }
        if (!e) return hk_txn_commit(t, err);
        if (t) hk_txn_abort(t);
        return e;
    }
    return hk_error_set(err, HK_ERR_STATE, "apply: too many attempts");
}

int64_t hkst_apply_offset(hk_txn *t, hks_db offsets, int32_t p)
{
    uint8_t k[4];
    hks_val v;
    put_be(k, (uint32_t)p, 4);
    if (hks_get(t, offsets, (hks_val){k, 4}, &v, NULL) == HK_OK && v.len == 8)
        return (int64_t)get_be(v.data, 8);
    return RD_KAFKA_OFFSET_BEGINNING;
}
