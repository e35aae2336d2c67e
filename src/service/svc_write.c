/*
 * svc_write.c — hk_svc_write: one apply step in a durable write transaction
 * of its own, for adapters that have no writer thread (CLI, MCP stdio).
 */
#include "service/service.h"

hk_err hk_svc_write(hk_store *s, const char *actor, hk_svc_apply_fn apply,
                    void *arg, hk_error *err)
{
    hk_txn *t = NULL;
    hk_err rc = hk_txn_begin(s, true, &t, err);
    if (rc != HK_OK) return rc;
    if (actor != NULL) rc = hk_txn_set_actor(t, actor);
    if (rc == HK_OK) rc = apply(t, arg, err);
    if (rc != HK_OK) {
        hk_txn_abort(t);
        return rc;
    }
    return hk_txn_commit(t, err);
}
