/*
 * llm_audit.h — audit entries of the review queue and the model switch,
 * for src/llm.
 *
 * The review queue and the switch live in module databases
 * (src/llm/llm_review.c); the audit trail is the store's. This is the one
 * door between them: an entry with op "review" (a proposal approved or
 * rejected) or "control" (model access switched), whose after text is a
 * JSON object saying what happened, chained like every other entry.
 */
#ifndef HKS_LLM_AUDIT_H
#define HKS_LLM_AUDIT_H

#include "hakgal.h"

/* Appends, in write txn t, the audit entry op ("review" or "control") for
 * fact id (0 when no fact is concerned) with after_json (a JSON object). */
hk_err hks_llm_audit(hk_txn *t, const char *op, hk_fact_id id,
                     const char *after_json, hk_error *err);

#endif /* HKS_LLM_AUDIT_H */
