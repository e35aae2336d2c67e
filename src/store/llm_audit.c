/*
 * llm_audit.c — see llm_audit.h.
 */
#include <string.h>

#include "store/llm_audit.h"
#include "store/store_int.h"

hk_err hks_llm_audit(hk_txn *t, const char *op, hk_fact_id id,
                     const char *after_json, hk_error *err)
{
    if (strcmp(op, "review") != 0 && strcmp(op, "control") != 0)
        return hk_error_set(err, HK_ERR_INVALID, "audit op '%.20s'", op);
    return hks_audit_append(t, op, id, id, 1, NULL, after_json, err);
}
