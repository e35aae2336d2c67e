/*
 * vector_audit.h — the audit entry of a vector change, for src/vector.
 *
 * Vectors live in module databases (src/vector/vstore.c); the audit trail
 * is the store's. This is the one door between them: an entry with op
 * "vector" for the fact, whose text says which space and what happened
 * (never the vector's bytes), chained like every other entry.
 */
#ifndef HKS_VECTOR_AUDIT_H
#define HKS_VECTOR_AUDIT_H

#include "hakgal.h"

/* Appends, in write txn t, the audit entry "vector" for fact id with the
 * text what (e.g. "minilm: set, 384 dimensions"). */
hk_err hks_vector_audit(hk_txn *t, hk_fact_id id, const char *what,
                        hk_error *err);

/* Appends, in write txn t, the audit entry "vector" of an entity vector
 * (fact id 0; what names the space and the entity). */
hk_err hks_vector_audit_entity(hk_txn *t, const char *what, hk_error *err);

#endif /* HKS_VECTOR_AUDIT_H */
