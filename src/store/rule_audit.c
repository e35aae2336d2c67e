/*
 * rule_audit.c — see rule_audit.h.
 */
#include "store/rule_audit.h"
#include "store/store_int.h"

hk_err hks_rule_audit(hk_txn *t, const char *before, const char *after,
                      hk_error *err)
{
    hk_err e = hks_audit_append(t, "rule", 0, 0, 0, before, after, err);
    if (e) return e;
    /* change streams see rule changes too (HKS_EV_RULE) */
    hks_change c = {.op = HKS_OP_RULE, .audit_seq = t->c.audit_seq};
    return hks_hooks_change(t, HKS_EV_RULE, &c, err);
}

hk_err hks_rule_sym(hk_txn *t, const char *s, size_t len, uint32_t *id,
                    hk_error *err)
{
    return hks_sym_intern(t, s, len, id, err);
}
