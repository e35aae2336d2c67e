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

/* ---- Fact input ----
 * One parser reads a fact as clients send it, for every interface:
 *   "HasPart(Computer, CPU)"                      (a bare statement string,
 *                                                  when allow_string)
 *   {"statement": "HasPart(Computer, CPU)", ...}
 *   {"predicate": "HasPart", "args": ["Computer", "CPU"], ...}
 *   {"predicate": "HasPart", "subject": "Computer", "object": "CPU", ...}
 * with the metadata fields "confidence" (0..1), "source" (string), "tags"
 * (array of strings; a tag given twice is one tag), "context" (object) and,
 * where allowed, "created"/"updated" (RFC 3339 text or integer seconds).
 * Unknown fields are ignored. Every error names the field (err->field,
 * with the element: "args[1]", "tags[0]"), the column for statement text,
 * and why; hk_svc_fact_in.fault says which kind of error it was.
 *
 * Strict input (REST, MCP): null clears source and context, and is an
 * error elsewhere; "statement" with "predicate", or "args" with
 * "subject"/"object", is an error; "subject" alone is a one-argument fact.
 * Legacy input (import of JSONL files and legacy SQLite KBs) is lenient
 * where old exports differ: null means absent, "statement" wins over
 * "predicate" and "args" over "subject"/"object" (which then both must be
 * present), an argument may be a JSON number, "tags" may be one string, an
 * empty source is none, "created"/"updated" are read, a context that is
 * not an object is kept (JSON text of an object is decoded; anything else
 * is wrapped as {"legacy_context": value}), and "fact_metadata" is merged
 * (hk_svc_fact_in_fact_metadata). */

/* What kind of fault a refused fact input has. */
typedef enum hk_svc_fault {
    HK_SVC_FAULT_NONE = 0,
    HK_SVC_FAULT_SYNTAX,   /* the content is not a valid statement (REST 400) */
    HK_SVC_FAULT_VALUE,    /* a field has a wrong type or value (REST 422) */
    HK_SVC_FAULT_TOO_LONG, /* statement text over max_statement (REST 413) */
    HK_SVC_FAULT_NOMEM     /* out of memory: not the input's fault */
} hk_svc_fault;

typedef struct hk_svc_fact_in_opts {
    bool allow_string;    /* a bare JSON string is a statement */
    bool need_statement;  /* content is required (false: metadata only) */
    bool legacy;          /* legacy leniency (see above) */
    size_t max_statement; /* statement text limit in bytes; 0: no limit
                             beyond HK_MAX_STATEMENT_BYTES */
    uint32_t max_args;    /* argument limit; 0: HK_MAX_ARGS */
} hk_svc_fact_in_opts;

/* A decoded fact input. Its pointers point into the parsed JSON value
 * (one reference is kept in json, and decoded legacy values in hold) or
 * into memory it owns; release with hk_svc_fact_in_release. The struct
 * can be reused from record to record (release, then parse again). */
typedef struct hk_svc_fact_in {
    hk_statement st;    /* content, when has_statement */
    bool has_statement; /* content was given */
    hk_fact_meta meta;  /* the metadata fields given */
    hk_svc_fault fault; /* kind of the last error */
    json_t *json;       /* the input value (a reference) */
    json_t *context;    /* context being built, or NULL */
    bool context_given; /* the input itself had a context */
    char *context_text; /* serialized context (jansson) */
    json_t *hold;       /* decoded fact_metadata, kept while tags or
                           source point into it */
    /* Scratch space, valid as far as meta.n_tags and st.n_args say (init
     * does not clear it: the parsers write before anything reads). */
    const char *tags[HK_MAX_TAGS]; /* meta.tags points here */
    char numbers[HK_MAX_ARGS][32]; /* legacy numeric arguments as text */
} hk_svc_fact_in;

/* Clears in (all but its scratch space; hk_svc_fact_in_parse does it). */
void hk_svc_fact_in_init(hk_svc_fact_in *in);
/* Frees what in holds and leaves it initialised (safe to call twice). */
void hk_svc_fact_in_release(hk_svc_fact_in *in);

/* Parses v (content and metadata) into in, which it initialises first.
 * On failure: in->fault and *err say why, and the caller still releases
 * in. HK_ERR_NOMEM only when out of memory. */
hk_err hk_svc_fact_in_parse(json_t *v, const hk_svc_fact_in_opts *o,
                            hk_svc_fact_in *in, hk_error *err);

/* The field parsers hk_svc_fact_in_parse is made of, for sources whose
 * values do not come as one JSON object (legacy SQLite columns). Each
 * reads one value (NULL = absent) into in, which must have been
 * initialised; v must stay alive until in is released. Call
 * hk_svc_fact_in_finish once after the last one. */
hk_err hk_svc_fact_in_confidence(hk_svc_fact_in *in, const json_t *v,
                                 bool legacy, hk_error *err);
hk_err hk_svc_fact_in_source(hk_svc_fact_in *in, const json_t *v, bool legacy,
                             hk_error *err);
hk_err hk_svc_fact_in_tags(hk_svc_fact_in *in, const json_t *v, bool legacy,
                           hk_error *err);
hk_err hk_svc_fact_in_context(hk_svc_fact_in *in, const json_t *v, bool legacy,
                              hk_error *err);
/* created/updated (legacy input only). */
hk_err hk_svc_fact_in_times(hk_svc_fact_in *in, const json_t *created,
                            const json_t *updated, hk_error *err);
/* Legacy "fact_metadata" (an object, or text holding one): its "source",
 * "tags" and "confidence" fill those fields when not set otherwise and
 * valid; every other key (and any value that could not be used) is kept
 * in the context under "fact_metadata"; text that is not a JSON object is
 * kept there as text. Never refuses a record. */
hk_err hk_svc_fact_in_fact_metadata(hk_svc_fact_in *in, const json_t *v,
                                    hk_error *err);
/* Serialises the context built so far into meta.context_json (at most
 * HK_MAX_CONTEXT_BYTES). */
hk_err hk_svc_fact_in_finish(hk_svc_fact_in *in, hk_error *err);

/* ---- Errors ----
 * {"error":{"code":CODE,"message":MESSAGE,"detail":{"line","column",
 * "field"}}} where detail holds the parts of err that are set (and is left
 * out when none is). Appends to out. */
hk_err hk_svc_error_write_json(const char *code, const hk_error *err,
                               hk_buf *out);
/* Only the detail object ({"line":..,"column":..,"field":..}, "{}" when
 * nothing is set). */
hk_err hk_svc_error_detail_write_json(const hk_error *err, hk_buf *out);

/* ---- Facts and audit entries (output) ---- */

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

/* ---- Add (MERGE) ----
 * Adds n statements with the same metadata, all or none: a statement that
 * exists keeps its id and metadata (created[i] false). The apply step may
 * run twice (group-commit retry); it rewrites every result. */
typedef struct hk_svc_add {
    const hk_statement *st;   /* n statements (borrowed) */
    size_t n;                 /* how many */
    const hk_fact_meta *meta; /* metadata for new facts, or NULL */
    hk_fact_id *ids;          /* out: n ids (caller's array) */
    bool *created;            /* out: n flags (caller's array) */
} hk_svc_add;
hk_err hk_svc_fact_add(hk_txn *t, hk_svc_add *op, hk_error *err);
/* hk_svc_apply_fn form of hk_svc_fact_add (arg: hk_svc_add *). */
hk_err hk_svc_fact_add_apply(hk_txn *t, void *arg, hk_error *err);

/* ---- Batch add ----
 * Items are decoded and added in the apply step, in one transaction in
 * bulk mode (one audit entry for the facts created): an item that cannot
 * be decoded or added is recorded with its error and the others are
 * committed together. Store failures (I/O, full, memory) fail the batch. */
typedef enum hk_svc_item_state {
    HK_SVC_ITEM_CREATED = 0, /* the item created a fact */
    HK_SVC_ITEM_EXISTING,    /* the fact was present */
    HK_SVC_ITEM_FAILED       /* refused: see errs */
} hk_svc_item_state;

typedef struct hk_svc_batch_error {
    size_t index;       /* the item */
    hk_svc_fault fault; /* kind */
    hk_error err;       /* why; line = index + 1 */
} hk_svc_batch_error;

typedef struct hk_svc_batch {
    /* request (set by the caller; items and bad are borrowed) */
    json_t *const *items;     /* n inputs; NULL where bad[i] */
    char *const *bad;         /* per item: why it could not be read
                                 (e.g. invalid JSON), or NULL */
    size_t n;                 /* items */
    hk_svc_fact_in_opts opts; /* decoding rules of one item */
    const char *label;        /* audit label of the bulk entry */
    /* results (hk_svc_batch_init allocates, hk_svc_batch_free frees) */
    hk_fact_id *ids;          /* n ids of added/existing items */
    uint8_t *state;           /* n hk_svc_item_state */
    hk_svc_batch_error *errs; /* failed items, in index order */
    size_t n_errs;            /* used entries of errs */
    size_t cap_errs;          /* allocated entries of errs */
    uint64_t created;         /* items that created a fact */
    uint64_t existing;        /* items already present */
} hk_svc_batch;
/* Allocates the result arrays for n items (n >= 1). */
hk_err hk_svc_batch_init(hk_svc_batch *b, size_t n, hk_error *err);
void hk_svc_batch_free(hk_svc_batch *b);
hk_err hk_svc_fact_batch(hk_txn *t, hk_svc_batch *b, hk_error *err);
/* The error of item i, NULL when it did not fail. Items are asked for in
 * increasing order with one cursor (0 before the first call), which makes
 * a walk over all items linear. */
const hk_svc_batch_error *hk_svc_batch_item_error(const hk_svc_batch *b,
                                                  size_t i, size_t *cursor);

/* ---- Get ----
 * HK_ERR_NOT_FOUND says "no fact with id N" / "no fact P(a)". */
hk_err hk_svc_fact_get(hk_txn *t, hk_fact_id id, hk_fact *f, hk_error *err);
/* The fact's JSON (hk_fact_write_json) appended to out. */
hk_err hk_svc_fact_get_json(hk_txn *t, hk_fact_id id, hk_buf *out,
                            hk_error *err);
/* Resolves "ID|STATEMENT": digits name a fact id (checked to exist),
 * anything else is parsed as a statement (HK_ERR_INVALID with column and
 * field "statement" when it does not parse) and looked up exactly. */
hk_err hk_svc_fact_resolve(hk_txn *t, const char *ref, hk_fact_id *id,
                           hk_error *err);
/* True when ref is a fact id (digits, > 0, no overflow): *id gets it. */
bool hk_svc_fact_ref_is_id(const char *ref, hk_fact_id *id);

/* ---- Update ----
 * Replaces content and/or metadata of one fact, named by id or by its
 * current statement. Refusals:
 *   HK_ERR_NOT_FOUND  no such fact;
 *   HK_ERR_EXISTS     new_st is already another fact (other = its id).
 * When new_st is the fact's own content nothing changes (changed false).
 * Every input check runs before the first write (a refused change leaves
 * the transaction as it was); metadata is written before content.
 * before/after, when given, get the fact as it was and as it is. */
typedef struct hk_svc_update {
    hk_fact_id id;              /* the fact; 0: find old_st */
    const hk_statement *old_st; /* when id == 0 (borrowed) */
    const hk_statement *new_st; /* new content, or NULL (metadata only) */
    const hk_fact_meta *meta;   /* metadata changes, or NULL */
    hk_fact *before;            /* out, optional (caller's, initialised) */
    hk_fact *after;             /* out, optional (caller's, initialised) */
    hk_fact_id found;           /* out: the fact's id */
    hk_fact_id other;           /* out, on HK_ERR_EXISTS: that fact's id */
    bool changed;               /* out: the content changed */
} hk_svc_update;
hk_err hk_svc_fact_update(hk_txn *t, hk_svc_update *op, hk_error *err);
hk_err hk_svc_fact_update_apply(hk_txn *t, void *arg, hk_error *err);

/* Checks a metadata change (PATCH): content is refused (field
 * "statement") and at least one field must be given. fault gets
 * HK_SVC_FAULT_VALUE on refusal. */
hk_err hk_svc_fact_meta_check(const hk_svc_fact_in *in, hk_svc_fault *fault,
                              hk_error *err);

/* ---- Delete ----
 * Deletes n facts named by id (ids[i] != 0) or statement (st[i]), all or
 * none. Every name is resolved first; HK_ERR_NOT_FOUND names the first
 * missing one ("no fact with id N" / "no fact P(a)"), unless
 * missing_ok: then missing facts are skipped (ids[i] = 0). A fact named
 * twice is HK_ERR_INVALID ("fact N is named twice", the two names in
 * dup_first and dup_second), unless dup_ok: then it is deleted once (dup[i]
 * true for the later name). facts, when given, gets each deleted fact as it
 * was. */
typedef struct hk_svc_delete {
    size_t n;               /* names */
    const hk_statement *st; /* n statements, used where ids[i] == 0 */
    hk_fact_id *ids;        /* in/out: n ids (0: by statement; out: the
                               id found, 0 when missing) */
    bool missing_ok;        /* skip facts that do not exist */
    bool dup_ok;            /* delete a fact named twice once */
    bool *dup;              /* out, optional: n flags, later duplicates */
    hk_fact *facts;         /* out, optional: n facts (initialised) */
    size_t deleted;         /* out: facts deleted */
    size_t dup_first;       /* out, on HK_ERR_INVALID: the earlier name */
    size_t dup_second;      /* out, on HK_ERR_INVALID: the later name */
    size_t missing;         /* out, on HK_ERR_NOT_FOUND: the name */
} hk_svc_delete;
hk_err hk_svc_fact_delete(hk_txn *t, hk_svc_delete *op, hk_error *err);
hk_err hk_svc_fact_delete_apply(hk_txn *t, void *arg, hk_error *err);

/* ---- History ----
 * Audit entries of one fact, newest first, at most limit. A fact that no
 * longer exists (or never did) is looked for in the newest scan entries
 * by its canonical statement (when st is given); *id gets the fact's id
 * or 0. Caller frees *v with hk_audit_entries_free(*v, *n). */
#define HK_SVC_HISTORY_SCAN 10000
typedef struct hk_svc_history {
    hk_fact_id id;          /* the fact; 0: find st */
    const hk_statement *st; /* when id == 0 (borrowed) */
    size_t limit;           /* entries at most */
    hk_fact_id found;       /* out: the fact's id, 0 when deleted */
    hk_audit_entry *v;      /* out: entries (caller frees) */
    size_t n;               /* out: entries */
} hk_svc_history;
hk_err hk_svc_fact_history(hk_txn *t, hk_svc_history *op, hk_error *err);

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
