/*
 * vector_audit.c — see vector_audit.h.
 */
#include "store/store_int.h"
#include "store/vector_audit.h"

hk_err hks_vector_audit(hk_txn *t, hk_fact_id id, const char *what,
                        hk_error *err)
{
    hk_err e = hks_audit_append(t, "vector", id, id, 1, NULL, what, err);
    if (e) return e;
    /* change streams see vector changes too (HKS_EV_VECTOR) */
    hks_change c = {.op = HKS_OP_VECTOR,
                    .id = id,
                    .id_last = id,
                    .count = 1,
                    .audit_seq = t->c.audit_seq};
    return hks_hooks_change(t, HKS_EV_VECTOR, &c, err);
}

hk_err hks_vector_audit_entity(hk_txn *t, const char *what, hk_error *err)
{
    hk_err e = hks_audit_append(t, "vector", 0, 0, 1, NULL, what, err);
    if (e) return e;
    /* change streams see entity vectors too, as fact id 0 */
    hks_change c = {
        .op = HKS_OP_VECTOR, .count = 1, .audit_seq = t->c.audit_seq};
    return hks_hooks_change(t, HKS_EV_VECTOR, &c, err);
}
