/*
 * svc_memory.h — the knowledge-graph memory of the reference MCP memory
 * server (@modelcontextprotocol/server-memory) kept as hakgal facts.
 *
 * ==== Data mapping ====
 * An entity, its observations and the relations between entities are
 * ordinary facts of the KB, so that the other tools, REST and the graph
 * engine see them:
 *   EntityType(name, entityType)        one per entity
 *   Observation(name, text)             one per observation of an entity
 *   Relation(from, relationType, to)    one per relation
 * Entities are listed in the order their EntityType fact was created,
 * observations and relations in creation order too (fact ids grow), which
 * is the order of the reference server's file.
 *
 * Copies. The reference keeps what one call repeats: two entity objects
 * of one name in one create_entities call, one text twice in one
 * observation list, one relation twice in one create_relations call. Each
 * copy is a fact of its own, marked by one or two more arguments "#N"
 * (N decimal, no leading zero):
 *   EntityType(name, entityType, "#k")      entity object k >= 2 of name
 *   Observation(name, text, "#k")           first occurrence of text in
 *                                           entity object k >= 2
 *   Observation(name, text, "#k", "#j")     occurrence j >= 2 of text in
 *                                           entity object k >= 1
 *   Relation(from, relationType, to, "#j")  occurrence j >= 2
 * The first object and first occurrences keep the plain mapping above, so
 * a memory without copies is stored as before. Copies of an entity are
 * created by one call and deleted together (delete_entities), so k counts
 * 1, 2, ... without gaps; add_observations and delete_observations act on
 * object 1 only, as the reference acts on the first object of that name;
 * occurrences of one text (or relation) are created by one call and
 * deleted together, so j counts without gaps too. Facts of these
 * predicates with other arities or arguments are not memory items and are
 * left alone.
 *
 * Memory texts may be empty or hold control characters, which fact
 * arguments may not: such a text (and every text that begins with '%') is
 * stored as '%' followed by the text with '%', bytes below 0x20 and 0x7f
 * written as %XX. Every other text is stored as it is. Texts longer than
 * HK_MAX_ARG_BYTES once stored are refused.
 *
 * ==== Operations ====
 * Requests are the tool arguments as JSON (already validated against the
 * tool's input schema by the adapter); results are the reference server's
 * structured results as new JSON references. Writes follow the service's
 * convention: hk_svc_mem_apply (an hk_svc_apply_fn) runs inside the
 * caller's write transaction and may run twice (it drops its previous
 * result first). Reads take the caller's read transaction.
 *
 * Errors: add_observations of an unknown entity answers HK_ERR_NOT_FOUND
 * with the reference's message ("Entity with name X not found") and
 * changes nothing; a text over the size limit answers HK_ERR_INVALID.
 */
#ifndef HK_SVC_MEMORY_H
#define HK_SVC_MEMORY_H

#include <jansson.h>
#include <stdbool.h>

#include "hakgal.h"

#define HK_MEM_PRED_TYPE "EntityType"
#define HK_MEM_PRED_OBS "Observation"
#define HK_MEM_PRED_REL "Relation"

typedef enum hk_mem_op {
    HK_MEM_CREATE_ENTITIES = 0, /* args.entities */
    HK_MEM_CREATE_RELATIONS,    /* args.relations */
    HK_MEM_ADD_OBSERVATIONS,    /* args.observations */
    HK_MEM_DELETE_ENTITIES,     /* args.entityNames */
    HK_MEM_DELETE_OBSERVATIONS, /* args.deletions */
    HK_MEM_DELETE_RELATIONS     /* args.relations */
} hk_mem_op;

/* One memory write. */
typedef struct hk_svc_mem_write {
    hk_mem_op op;   /* which tool */
    json_t *args;   /* tool arguments (borrowed) */
    json_t *result; /* out: structured result (owned; caller decrefs) */
} hk_svc_mem_write;

/* hk_svc_apply_fn: runs w (arg: hk_svc_mem_write *). */
hk_err hk_svc_mem_apply(hk_txn *t, void *arg, hk_error *err);

/* read_graph: {"entities":[...],"relations":[...]} into *out. */
hk_err hk_svc_mem_read_graph(hk_txn *t, json_t **out, hk_error *err);
/* search_nodes: entities whose name, type or an observation contains query
 * (case-insensitive), and the relations touching one of them. */
hk_err hk_svc_mem_search(hk_txn *t, const char *query, json_t **out,
                         hk_error *err);
/* open_nodes: the entities named in names (a JSON array of strings) and
 * the relations touching one of them. */
hk_err hk_svc_mem_open(hk_txn *t, const json_t *names, json_t **out,
                       hk_error *err);

/* The reads with the opt-in arguments beyond the reference. */
typedef struct hk_svc_mem_view_req {
    const char *query;   /* search_nodes: the query; NULL otherwise */
    const json_t *names; /* open_nodes: array of names; NULL otherwise */
    size_t limit;        /* read_graph / search_nodes: items per page,
                            0 = everything */
    const char *cursor;  /* nextCursor of the previous page, or NULL */
    bool provenance;     /* add to each entity "provenance":
                            {"createdBy": audit actor, "createdAt": time} */
    bool rank;           /* search_nodes: the same entities, most relevant
                            first (BM25 of hk_store_search); not with
                            limit or cursor */
} hk_svc_mem_view_req;
/* read_graph (query and names NULL), search_nodes or open_nodes with
 * pagination, provenance and (search_nodes) ranking. read_graph pages through
 * the entities and then the relations; search_nodes pages through the matching
 * entities and returns, with each page, the relations touching its entities. A
 * full page carries "nextCursor" (the next page may be empty). A cursor
 * that is not one of these answers HK_ERR_INVALID (err->field "cursor"). */
hk_err hk_svc_mem_view(hk_txn *t, const hk_svc_mem_view_req *req, json_t **out,
                       hk_error *err);

/* Stored texts one memory fact needs at most (name, text, "#k", "#j"). */
#define HK_MEM_N_ENC 4

/* The fact of one memory item into *st, its arguments stored in enc:
 * pred HK_MEM_PRED_TYPE (texts name, entityType), HK_MEM_PRED_OBS (name,
 * text) or HK_MEM_PRED_REL (from, relationType, to); copy is the entity
 * object (1 = first; ignored for relations), occ the occurrence (1 =
 * first; 1 for entities). HK_ERR_INVALID when a text is too long. */
hk_err hk_svc_mem_statement(const char *pred, const char *const *texts,
                            uint64_t copy, uint64_t occ,
                            hk_buf enc[HK_MEM_N_ENC], hk_statement *st,
                            hk_error *err);
/* True when st is a memory item of the mapping above; then *copy and *occ
 * say which entity object (1 for relations) and which occurrence. */
bool hk_svc_mem_classify(const hk_statement *st, uint64_t *copy, uint64_t *occ);

/* The stored form of a memory text (see the top of this file) into out
 * (reset first); HK_ERR_INVALID when it is too long. */
hk_err hk_svc_mem_encode(const char *text, hk_buf *out, hk_error *err);
/* The memory text of a stored argument into out (reset first). */
hk_err hk_svc_mem_decode(const char *stored, hk_buf *out);

#endif /* HK_SVC_MEMORY_H */
