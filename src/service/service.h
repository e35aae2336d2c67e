/*
 * service.h — the service layer: every operation that hakgal's interfaces
 * offer (CLI commands, REST routes, MCP tools, and later GraphQL, gRPC and
 * the web UI) exists here once, as a function that takes a typed request
 * and yields a typed result or an hk_error. Adapters decode their
 * transport's arguments into the request, call the function, and render
 * the result; they hold no domain logic of their own.
 *
 * ==== Transactions ====
 * Operations do not open transactions themselves: the caller passes the
 * transaction it owns, because each adapter gets its transactions its own
 * way (the server reuses a read transaction per event loop and funnels
 * writes through its group-commit writer thread; the CLI opens one
 * transaction per command; MCP over stdio writes through its environment's
 * write callback). So:
 *   - a read operation is `hk_err hk_svc_X(hk_txn *t, const hk_svc_X_req *,
 *     hk_svc_X_res *, hk_error *)` on any transaction;
 *   - a write operation is split into a decode/validate step that needs no
 *     transaction (run on the caller's thread, errors answered at once) and
 *     an apply step `hk_svc_X_apply(hk_txn *t, ..., hk_error *)` that runs
 *     inside a write transaction and may run again when a group commit is
 *     retried (it must reset its results first);
 *   - hk_svc_write() runs an apply step in a transaction of its own and
 *     commits it durably, for callers without a writer of their own.
 *
 * ==== JSON ====
 * The JSON forms of facts, fact input (statement plus metadata), errors,
 * audit entries and cursors are produced and parsed here and nowhere else.
 *
 * ==== Ownership and threads ====
 * Every result struct has a hk_svc_X_res_free (or states that it holds no
 * memory). A request's strings are borrowed from the caller for the call.
 * The functions are thread-safe as far as the transactions passed are
 * (one transaction per thread).
 */
#ifndef HK_SERVICE_H
#define HK_SERVICE_H

#include <jansson.h>

#include "hakgal.h"

/* Runs apply(t, arg, err) in a new write transaction on s, with actor as
 * the audit actor (NULL = "local"), and commits durably. Nothing is
 * committed when apply fails. */
typedef hk_err (*hk_svc_apply_fn)(hk_txn *t, void *arg, hk_error *err);
hk_err hk_svc_write(hk_store *s, const char *actor, hk_svc_apply_fn apply,
                    void *arg, hk_error *err);

/* ==== JSON codec ==== */

/* A fact as one JSON object: {"id","statement","predicate","args",
 * "confidence","source","tags","context","created","updated"}. The text
 * form is hk_fact_write_json's (the only renderer of a fact); the jansson
 * form is parsed from it, for adapters that build jansson documents. New
 * reference, NULL only when out of memory. */
json_t *hk_svc_fact_jansson(const hk_fact *f);

/* An audit entry as one JSON object: {"seq","time","actor","op","fact_id",
 * "fact_id_last","count","before","after","prev_hash","hash"}; before and
 * after are the stored JSON (or null). Appends to out. */
hk_err hk_svc_audit_entry_write_json(const hk_audit_entry *e, hk_buf *out);
/* Appends "[e1,e2,...]" for n entries. */
hk_err hk_svc_audit_entries_write_json(const hk_audit_entry *v, size_t n,
                                       hk_buf *out);
/* The same as a jansson value. New reference, NULL when out of memory. */
json_t *hk_svc_audit_entry_jansson(const hk_audit_entry *e);

/* ==== Facts: add, get, update, metadata, delete, batch, history ==== */

/* ==== Reads: query, search, entities, predicates, stats ==== */

/* ==== Audit, backup, restore, compaction, import, export ==== */

/* ==== Analysis and graph (legacy tool operations) ==== */

/* The domain modules hold the logic and the typed request/result structs;
 * these functions check a request's ranges (the bounds the legacy tools
 * document) and run it. A request out of range is HK_ERR_INVALID with
 * err->field naming the parameter; nothing is read then. Results are
 * freed with the domain module's _free functions. */
#include "graph/graph.h"
#include "reason/reason.h"
#include "similar/similar.h"

#define HK_SVC_SIMILAR_MAX_LIMIT 1000     /* semantic_similarity: limit */
#define HK_SVC_DUP_MAX_PAIRS 10000        /* analyze_duplicates: max_pairs */
#define HK_SVC_CHECK_MAX_LIMIT 1000000    /* consistency_check: limit */
#define HK_SVC_VALIDATE_MAX_LIMIT 1000000 /* validate_facts: limit */
#define HK_SVC_ISOLATED_MAX_LIMIT 10000   /* find_isolated_facts: limit */
#define HK_SVC_CHAIN_MAX_DEPTH 10         /* inference_chain: max_depth */
#define HK_SVC_GRAPH_MAX_DEPTH 5          /* get_knowledge_graph: depth */
#define HK_SVC_RENAME_MAX_COUNT 100000000 /* rename: limit, start_offset */
#define HK_SVC_RENAME_SAMPLE 100          /* rename: changes in an answer */

/* semantic_similarity: facts lexically similar to a text. */
hk_err hk_svc_similar(hk_txn *t, const hk_sim_query_req *req,
                      hk_sim_query_res *res, hk_error *err);
/* analyze_duplicates: near-duplicate pairs among the newest facts. */
hk_err hk_svc_duplicates(hk_txn *t, const hk_sim_dup_req *req,
                         hk_sim_dup_res *res, hk_error *err);
/* consistency_check: contradictions under the declared rules. */
hk_err hk_svc_consistency(hk_txn *t, const hk_rsn_check_req *req,
                          hk_rsn_check_res *res, hk_error *err);
/* validate_facts: invalid or unusual newest facts. */
hk_err hk_svc_validate(hk_txn *t, const hk_rsn_validate_req *req,
                       hk_rsn_validate_res *res, hk_error *err);
/* find_isolated_facts: facts whose entities occur nowhere else. */
hk_err hk_svc_isolated(hk_txn *t, const hk_graph_isolated_req *req,
                       hk_graph_isolated_res *res, hk_error *err);
/* inference_chain: facts linked through shared entities from a start. */
hk_err hk_svc_chain(hk_txn *t, const hk_graph_chain_req *req,
                    hk_graph_chain_res *res, hk_error *err);
/* get_knowledge_graph: the subgraph around an entity. */
hk_err hk_svc_subgraph(hk_txn *t, const hk_graph_walk_req *req,
                       hk_graph_walk_res *res, hk_error *err);

/* bulk_translate_predicates, a write in steps:
 *   hk_svc_rename_prepare  decode/validate (no transaction);
 *   hk_svc_rename_dry_run  plans on any transaction (dry run), or
 *   hk_svc_rename_apply    plans and renames inside a write transaction
 *                          (arg = the plan; an hk_svc_apply_fn);
 *   hk_svc_rename_describe the changes as statements, on a transaction
 *                          that sees the result (a new read after apply).
 * The plan borrows req's strings until hk_graph_rename_free. */
hk_err hk_svc_rename_prepare(const hk_graph_rename_req *req,
                             hk_graph_rename_plan *plan, hk_error *err);
hk_err hk_svc_rename_dry_run(hk_txn *t, hk_graph_rename_plan *plan,
                             hk_error *err);
hk_err hk_svc_rename_apply(hk_txn *t, void *plan, hk_error *err);
/* The first `max` planned changes (describable ones; see
 * hk_graph_rename_describe). Caller frees with
 * hk_graph_rename_changes_free. */
hk_err hk_svc_rename_describe(hk_txn *t, const hk_graph_rename_plan *plan,
                              size_t max, hk_graph_rename_change **out,
                              size_t *n, hk_error *err);

/* ==== Project hub ==== */

/* ==== Process exit codes ==== */

/* The exit status of every hakgal command, whichever module provides it
 * (src/cli, `serve` in src/server, `mcp` in src/mcp); documented in
 * `hakgal help` and README.md. */
enum {
    HK_EXIT_OK = 0,        /* success */
    HK_EXIT_USAGE = 1,     /* unknown command/option, missing argument */
    HK_EXIT_INVALID = 2,   /* invalid input: statement, JSON, value */
    HK_EXIT_NOT_FOUND = 3, /* no such fact, file, KB or backup */
    HK_EXIT_CONFLICT = 4,  /* already exists, or the KB/dir is in use */
    HK_EXIT_IO = 5,        /* I/O or store error */
    HK_EXIT_AUDIT = 6      /* audit verification failed */
};

/* Maps a library error to the exit code above (HK_OK -> HK_EXIT_OK). */
int hk_exit_code(hk_err rc);

/* ==== Access tokens ==== */

/* Roles, lowest first: a role may do everything a lower one may. */
typedef enum hk_role {
    HK_ROLE_NONE = 0,  /* anonymous */
    HK_ROLE_READ = 1,  /* may read */
    HK_ROLE_WRITE = 2, /* may read and write facts */
    HK_ROLE_ADMIN = 3  /* may do everything (backup, ...) */
} hk_role;

#define HK_TOKEN_NAME_MAX 64 /* bytes of a token name, with its NUL */
#define HK_MAX_TOKENS 256    /* tokens a server or token file may hold */

/* A configured token. The secret is never kept, only its hash. */
typedef struct hk_token {
    char name[HK_TOKEN_NAME_MAX]; /* token name = audit actor */
    hk_role role;                 /* granted role */
    uint8_t hash[32];             /* SHA-256 of the token text */
} hk_token;

/* "read", "write", "admin" ("none" for HK_ROLE_NONE). Static. */
const char *hk_role_name(hk_role r);
/* Parses "read", "write" or "admin"; HK_ERR_INVALID otherwise (err not
 * filled: the caller says where). */
hk_err hk_role_parse(const char *s, hk_role *out);
/* True when s is 1..63 characters of letters, digits, _ - . @. */
bool hk_svc_token_name_valid(const char *s);
/* Checks and converts one token's three fields into *out; errors start
 * with `where` (e.g. "environment HAKGAL_TOKEN_BOB") and say what is
 * expected. */
hk_err hk_svc_token_parse(const char *name, const char *role, const char *hex,
                          const char *where, hk_token *out, hk_error *err);
/* Reads a token file (format in svc_tokens.c: `name role sha256hex` per
 * line, # comments) into out[0..max), *n tokens, every role kept. Any bad
 * line fails the whole file with an error naming the file and line (also
 * in err->line): wrong field count (a fourth field included), bad name,
 * role or hash (HK_ERR_INVALID), a name given twice (HK_ERR_EXISTS), more
 * than max tokens (HK_ERR_LIMIT); HK_ERR_IO when unreadable. On failure
 * *n is 0. */
hk_err hk_svc_tokens_load(const char *path, hk_token *out, size_t max,
                          size_t *n, hk_error *err);

#endif /* HK_SERVICE_H */
