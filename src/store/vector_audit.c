/*
 * vector_audit.c — see vector_audit.h.
 */
#include "store/store_int.h"
#include "store/vector_audit.h"

hk_err hks_vector_audit(hk_txn *t, hk_fact_id id, const char *what,
                        hk_error *err)
{
    return hks_audit_append(t, "vector", id, id, 1, NULL, what, err);
}
