/*
 * rule_audit.c — see rule_audit.h.
 */
#include "store/rule_audit.h"
#include "store/store_int.h"

hk_err hks_rule_audit(hk_txn *t, const char *before, const char *after,
                      hk_error *err)
{
    return hks_audit_append(t, "rule", 0, 0, 0, before, after, err);
}

hk_err hks_rule_sym(hk_txn *t, const char *s, size_t len, uint32_t *id,
                    hk_error *err)
{
    return hks_sym_intern(t, s, len, id, err);
}
