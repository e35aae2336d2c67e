/*
 * rule_audit.h — the store's doors for the rule engine (src/reason).
 *
 * Rules and derived facts live in module databases of src/reason; the
 * audit trail and the symbol dictionary are the store's. This header is
 * the one place where the rule engine reaches them: an audit entry with op
 * "rule" for every change to a rule (chained like every other entry), and
 * the symbol id of a constant a rule head introduces (created when new).
 */
#ifndef HKS_RULE_AUDIT_H
#define HKS_RULE_AUDIT_H

#include "hakgal.h"

/* Appends, in write txn t, the audit entry "rule" with the rule's JSON
 * before and after the change (either NULL). */
hk_err hks_rule_audit(hk_txn *t, const char *before, const char *after,
                      hk_error *err);

/* Symbol id of s[0..len) in write txn t, created when missing. */
hk_err hks_rule_sym(hk_txn *t, const char *s, size_t len, uint32_t *id,
                    hk_error *err);

#endif /* HKS_RULE_AUDIT_H */
