/*
 * svc_changes.c — the change feed: the audit log read oldest first from a
 * sequence number, for interfaces that stream changes to clients (the
 * gRPC Changes method). Every committed change has exactly one audit
 * entry in commit order (a bulk import one entry for its id range), so a
 * client that remembers the next sequence number it was given resumes
 * without gaps or repeats.
 *
 * A read on the caller's transaction (service.h conventions); the walk is
 * bounded by limit and by the transaction's snapshot.
 */
#include "service/service.h"

hk_err hk_svc_audit_since(hk_txn *t, uint64_t from_seq, size_t limit,
                          hk_svc_audit_fn fn, void *ud, uint64_t *next,
                          hk_error *err)
{
    *next = from_seq ? from_seq : 1;
    hk_audit_iter *it = NULL;
    hk_err rc = hk_audit_iter_open(t, *next, &it, err);
    if (rc != HK_OK) return rc;
    size_t n = 0;
    while (limit == 0 || n < limit) {
        const hk_audit_entry *e = NULL;
        rc = hk_audit_iter_next(it, &e, err);
        if (rc != HK_OK || !e) break;
        rc = fn(ud, e, err);
        if (rc != HK_OK) break;
        *next = e->seq + 1;
        n++;
    }
    hk_audit_iter_close(it);
    return rc;
}
