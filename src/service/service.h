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

#include "graph/graph.h"
#include "hakgal.h"
#include "reason/reason.h"
#include "similar/similar.h"

/* Runs apply(t, arg, err) in a new write transaction on s, with actor as
 * the audit actor (NULL = "local"), and commits durably. Nothing is
 * committed when apply fails. */
typedef hk_err (*hk_svc_apply_fn)(hk_txn *t, void *arg, hk_error *err);
hk_err hk_svc_write(hk_store *s, const char *actor, hk_svc_apply_fn apply,
                    void *arg, hk_error *err);

/* Steps of a long operation: done of total, with a short message. */
typedef void (*hk_svc_progress_fn)(void *ud, double done, double total,
                                   const char *msg);

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
/* The detail object with the error's kind first: {"kind":hk_strerror(code),
 * "line":..,"column":..,"field":..} (the REST form of a store error). */
hk_err hk_svc_error_kind_detail_write_json(const hk_error *err, hk_buf *out);
/* The envelope every error JSON is written with (hk_svc_error_write_json
 * and the REST server's error answers):
 * {"error":{"code":CODE,"message":MESSAGE,"detail":DETAIL}} where DETAIL is
 * detail_json (JSON text, copied as it is); without detail_json it is null
 * when null_detail, else the member is left out. Appends to out. */
hk_err hk_svc_error_envelope_write_json(const char *code, const char *message,
                                        const char *detail_json,
                                        bool null_detail, hk_buf *out);

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
    /* Instead of items and bad: decoded items (a replication command's
     * binary form, svc_cmd.c), read once each in index order. next fills
     * item i's content and metadata (valid until the next call), or
     * answers an input error with *fault and why for an item that could
     * not be decoded where the request was made. NULL: items are used. */
    hk_err (*next)(void *ctx, size_t i, hk_statement *st, hk_fact_meta *meta,
                   hk_svc_fault *fault, hk_error *why);
    void *next_ctx; /* passed to next */
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
/* The one parser of ids and counts given as text (fact ids, audit
 * sequence numbers, limits): true when s is decimal digits only, > 0, and
 * fits 64 bits; *out gets the value. */
bool hk_svc_parse_positive(const char *s, uint64_t *out);
/* True when ref is a fact id (hk_svc_parse_positive): *id gets it. */
bool hk_svc_fact_ref_is_id(const char *ref, hk_fact_id *id);
/* A reference made of digits that is no valid id: HK_ERR_NOT_FOUND for 0
 * ("no fact with id 0"), HK_ERR_INVALID beyond 64 bits ("out of range");
 * HK_OK for anything else (an id or a statement to parse). */
hk_err hk_svc_fact_ref_check(const char *ref, hk_error *err);

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
 * One page of the audit entries of one fact, newest first, below
 * before_seq (0 = from the newest), at most limit. A fact that no longer
 * exists (or never did) is looked for by its canonical statement (when st
 * is given) in the HK_SVC_HISTORY_SCAN entries of the whole log below
 * before_seq; found gets the fact's id or 0. next_before is the cursor of
 * the next page (the seq of this page's last entry) when an older entry
 * exists, else 0, as in hk_svc_audit_list_res. Caller frees v with
 * hk_audit_entries_free(v, n). */
#define HK_SVC_HISTORY_SCAN 10000
typedef struct hk_svc_history {
    hk_fact_id id;          /* the fact; 0: find st */
    const hk_statement *st; /* when id == 0 (borrowed) */
    size_t limit;           /* entries at most */
    uint64_t before_seq;    /* entries below this seq; 0 = from the newest */
    hk_fact_id found;       /* out: the fact's id, 0 when deleted */
    hk_audit_entry *v;      /* out: entries (caller frees) */
    size_t n;               /* out: entries */
    uint64_t next_before;   /* out: before_seq of the next page; 0: none */
    bool known;             /* out: the fact has entries (also when this
                               page, below before_seq, is empty) */
} hk_svc_history;
hk_err hk_svc_fact_history(hk_txn *t, hk_svc_history *op, hk_error *err);

/* ==== Reads: query, search, entities, predicates, stats ==== */

/* One row of a query, handed to the caller's row function; everything in
 * it is valid only during that call. */
typedef struct hk_svc_row {
    hk_fact_id id;             /* the fact's id */
    const hk_fact *fact;       /* the decoded fact; NULL with ids_only */
    size_t n_vars;             /* distinct variables of the pattern */
    const char *const *vars;   /* their names, in slot order */
    const char *const *values; /* values[i] bound to vars[i] (NULL when
                                  unknown) */
} hk_svc_row;

/* Receives one row. A non-OK return stops the query; hk_svc_query returns
 * that code (with err as the function filled it). */
typedef hk_err (*hk_svc_row_fn)(void *ud, const hk_svc_row *row, hk_error *err);

typedef struct hk_svc_query_req {
    const hk_pattern *pattern; /* a pattern query, or NULL for a scan */
    hk_scan scan;              /* what to scan when pattern is NULL */
    const char *cursor;        /* resume after this cursor; NULL/"" = start */
    size_t limit;              /* rows at most; 0 = no limit */
    bool ids_only;             /* rows carry only ids (no decoding) */
    bool no_cursor;            /* the caller does not page: make no
                                  next_cursor */
    int64_t timeout_us;        /* stop after this long (checked every 256
                                  rows); 0 = never */
    hk_svc_row_fn row;         /* receives the rows */
    void *row_ud;              /* passed to row */
} hk_svc_query_req;

typedef struct hk_svc_query_res {
    size_t count;       /* rows delivered */
    hk_buf next_cursor; /* resumes after the last row when the page is full
                           (count == limit) and the store cannot tell that
                           the result is exhausted; empty otherwise */
    bool timed_out;     /* stopped by timeout_us (the call returned
                           HK_ERR_LIMIT) */
} hk_svc_query_res;

/* Streams the facts matching req's pattern or scan to req->row, in
 * constant memory: the index is chosen by the store, rows are decoded into
 * one reused fact, nothing is allocated per row. *res is overwritten;
 * release with hk_svc_query_res_free (also after an error). An invalid
 * cursor is HK_ERR_INVALID with field "cursor". */
hk_err hk_svc_query(hk_txn *t, const hk_svc_query_req *req,
                    hk_svc_query_res *res, hk_error *err);
void hk_svc_query_res_free(hk_svc_query_res *res);

/* The distinct variable names of p in slot order (predicate first); they
 * point into p. Returns their number (<= HK_MAX_ARGS + 1). */
size_t hk_svc_pattern_vars(const hk_pattern *p,
                           const char *vars[HK_MAX_ARGS + 1]);

/* Receives one search hit; a non-OK return stops the search. */
typedef hk_err (*hk_svc_hit_fn)(void *ud, const hk_fact *f, double score,
                                hk_error *err);

typedef struct hk_svc_search_req {
    const char *query; /* search words (UTF-8) */
    size_t limit;      /* hits at most */
    hk_svc_hit_fn hit; /* receives the hits, best first */
    void *hit_ud;      /* passed to hit */
} hk_svc_search_req;

/* Ranked text search: each hit's fact is read and handed to req->hit;
 * facts that vanished since the index was read are skipped. *shown gets
 * the hits delivered. Invalid UTF-8 is HK_ERR_INVALID, field "query". */
hk_err hk_svc_search(hk_txn *t, const hk_svc_search_req *req, size_t *shown,
                     hk_error *err);

/* Facts that mention entity name; HK_ERR_NOT_FOUND when none do. The facts
 * themselves are a query with scan.entity = name. */
hk_err hk_svc_entity_count(hk_txn *t, const char *name, uint64_t *count,
                           hk_error *err);

typedef enum hk_svc_names_kind {
    HK_SVC_PREDICATES = 0, /* predicates with counts and arities */
    HK_SVC_ENTITIES = 1    /* entities (argument values) with counts */
} hk_svc_names_kind;

typedef struct hk_svc_names_req {
    hk_svc_names_kind kind; /* which names */
    const char *after;      /* start after this name; NULL = first */
    size_t limit;           /* names at most (> 0) */
    uint64_t min_count;     /* entities: only those in >= min_count facts */
} hk_svc_names_req;

typedef struct hk_svc_names_res {
    hk_name_count *v;       /* names in dictionary order */
    size_t n;               /* entries in v */
    const char *next_after; /* v[n-1].name when the page is full, else
                               NULL: pass as after for the next page */
} hk_svc_names_res;

/* One page of names. Release with hk_svc_names_res_free. */
hk_err hk_svc_names(hk_txn *t, const hk_svc_names_req *req,
                    hk_svc_names_res *res, hk_error *err);
void hk_svc_names_res_free(hk_svc_names_res *res);
/* {"name","count"} plus, with arities, "min_arity","max_arity". */
hk_err hk_svc_name_count_write_json(const hk_name_count *nc, bool arities,
                                    hk_buf *out);

/* Facts that use name as a predicate (HK_SVC_PREDICATES) or mention it as
 * an entity (HK_SVC_ENTITIES); 0 when none (no error, unlike
 * hk_svc_entity_count). */
hk_err hk_svc_name_total(hk_txn *t, hk_svc_names_kind kind, const char *name,
                         uint64_t *count, hk_error *err);

/* ---- Top names ----
 * The names with the most facts: every page of the dictionary is read
 * (at most HK_SVC_TOP_NAMES_PAGES pages of HK_SVC_TOP_NAMES_PAGE names),
 * and the `top` largest counts are kept in a min-heap, so memory is bounded
 * by top whatever the number of names. Ties keep the name first in
 * dictionary order. */
#define HK_SVC_TOP_NAMES_MAX 100000  /* top at most */
#define HK_SVC_TOP_NAMES_PAGE 10000  /* names read per page */
#define HK_SVC_TOP_NAMES_PAGES 10000 /* pages at most (10^8 names) */

typedef struct hk_svc_top_names_req {
    hk_svc_names_kind kind;      /* which names */
    uint64_t min_count;          /* only names in >= min_count facts */
    size_t top;                  /* names kept (1..HK_SVC_TOP_NAMES_MAX) */
    hk_svc_progress_fn progress; /* every 5 pages (names matching so far);
                                    may be NULL */
    void *progress_ud;           /* passed to progress */
} hk_svc_top_names_req;

typedef struct hk_svc_top_names_res {
    hk_name_count *v;  /* names by count, largest first, then by name */
    size_t n;          /* entries in v (<= top) */
    uint64_t matching; /* names with >= min_count facts (all, not only the
                          top) */
} hk_svc_top_names_res;

/* The top names of a kind. A top out of range is HK_ERR_INVALID (field
 * "top"). Release with hk_svc_top_names_res_free (also after an error). */
hk_err hk_svc_top_names(hk_txn *t, const hk_svc_top_names_req *req,
                        hk_svc_top_names_res *res, hk_error *err);
void hk_svc_top_names_res_free(hk_svc_top_names_res *res);

/* Counts and sizes of the KB (hk_store_stats). */
hk_err hk_svc_stats(hk_txn *t, hk_stats *out, hk_error *err);
/* Appends the members (no braces) "facts","predicates","entities",
 * "symbols","audit_entries","last_fact_id","bytes_on_disk","bytes_used",
 * "bytes_free","map_size","last_change" (RFC 3339 or null),
 * "schema_version"; adapters add their own members around them. */
hk_err hk_svc_stats_write_members(const hk_stats *st, hk_buf *out);
/* {members above} as a jansson object. New reference, NULL when out of
 * memory. */
json_t *hk_svc_stats_jansson(const hk_stats *st);

typedef struct hk_svc_growth_req {
    uint32_t days;  /* days counted, ending today (1..36600) */
    int64_t now_us; /* "today" is the UTC day of this time; 0 = now */
} hk_svc_growth_req;

typedef struct hk_svc_growth_res {
    int64_t first_day; /* days since 1970-01-01 of per_day[0] */
    uint32_t days;     /* entries in per_day */
    uint64_t *per_day; /* facts created on each day; hk_free'd by
                          hk_svc_growth_res_free */
    uint64_t total;    /* sum of per_day */
} hk_svc_growth_res;

/* Facts added per day over the last req->days days (every fact record is
 * read once: creation times need not follow id order). */
hk_err hk_svc_growth(hk_txn *t, const hk_svc_growth_req *req,
                     hk_svc_growth_res *res, hk_error *err);
void hk_svc_growth_res_free(hk_svc_growth_res *res);
/* "YYYY-MM-DD" of a day number; out holds 11 bytes. */
void hk_svc_day_format(int64_t day, char out[11]);

/* Facts added and deleted per UTC day of the change, from counters kept in
 * module databases (svc_growth.c): O(days) plus the audit entries written
 * since the counters were last brought up to date (none on a handle
 * attached writable). Unlike hk_svc_growth, an imported fact counts on the
 * day of its import, and facts deleted since still count as added. */
typedef struct hk_svc_growth_daily_req {
    hk_store *store; /* the KB of the transaction (its growth databases) */
    uint32_t days;   /* days counted, ending today (1..36600) */
    int64_t now_us;  /* "today" is the UTC day of this time; 0 = now */
} hk_svc_growth_daily_req;

typedef struct hk_svc_growth_daily_res {
    int64_t first_day;      /* days since 1970-01-01 of added[0] */
    uint32_t days;          /* entries in added and deleted */
    uint64_t *added;        /* facts added on each day (hk_free'd by
                               hk_svc_growth_daily_res_free) */
    uint64_t *deleted;      /* facts deleted on each day (the same) */
    uint64_t total_added;   /* sum of added */
    uint64_t total_deleted; /* sum of deleted */
    uint64_t counted_seq;   /* last audit entry the stored counters hold */
    uint64_t folded;        /* audit entries after it read for this answer */
} hk_svc_growth_daily_res;

/* days out of range is HK_ERR_INVALID (field "days"). Release with
 * hk_svc_growth_daily_res_free (also after an error). */
hk_err hk_svc_growth_daily(hk_txn *t, const hk_svc_growth_daily_req *req,
                           hk_svc_growth_daily_res *res, hk_error *err);
void hk_svc_growth_daily_res_free(hk_svc_growth_daily_res *res);
/* {"days","first_day","total_added","total_deleted","per_day":[{"date",
 * "added","deleted"}],"counted_seq","folded"} */
hk_err hk_svc_growth_daily_write_json(const hk_svc_growth_daily_res *res,
                                      hk_buf *out);
/* Keeps the counters of s current: on a writable handle registers the
 * databases, brings them up to the audit head (a KB that predates them:
 * once, in transactions of at most 65536 audit entries) and adds the
 * change hook; read-only: nothing. Called by hk_svc_store_open. */
hk_err hk_svc_growth_attach(hk_store *s, bool read_only, hk_error *err);

/* ==== Audit, backup, restore, compaction, import, export ==== */

typedef struct hk_svc_audit_list_req {
    uint64_t before_seq; /* entries below this seq; 0 = from the newest */
    size_t limit;        /* entries at most (> 0) */
} hk_svc_audit_list_req;

typedef struct hk_svc_audit_list_res {
    hk_audit_entry *v;    /* entries, newest first */
    size_t n;             /* entries in v */
    uint64_t next_before; /* before_seq of the next page; 0 when none */
} hk_svc_audit_list_res;

/* One page of the audit log. Release with hk_svc_audit_list_res_free. */
hk_err hk_svc_audit_list(hk_txn *t, const hk_svc_audit_list_req *req,
                         hk_svc_audit_list_res *res, hk_error *err);
void hk_svc_audit_list_res_free(hk_svc_audit_list_res *res);

/* Receives one audit entry (valid during the call); a non-OK return stops
 * the walk and is returned. */
typedef hk_err (*hk_svc_audit_fn)(void *ud, const hk_audit_entry *e,
                                  hk_error *err);
/* The change feed (svc_changes.c): audit entries oldest first from
 * from_seq (entries with seq >= from_seq; 0 = from the first), at most
 * limit (0 = all in t's snapshot), handed to fn. *next gets the seq to
 * continue from (last delivered + 1, or from_seq when none). */
hk_err hk_svc_audit_since(hk_txn *t, uint64_t from_seq, size_t limit,
                          hk_svc_audit_fn fn, void *ud, uint64_t *next,
                          hk_error *err);

typedef struct hk_svc_audit_verify_res {
    hk_audit_report report; /* the chain's verdict */
    hk_audit_entry *bad;    /* the first bad entry when it can still be
                               read, else NULL */
    size_t n_bad;           /* 1 when bad is set */
} hk_svc_audit_verify_res;

/* Recomputes the audit chain; HK_OK with report.ok false on tampering.
 * Release with hk_svc_audit_verify_res_free. */
hk_err hk_svc_audit_verify(hk_txn *t, hk_svc_audit_verify_res *res,
                           hk_error *err);
void hk_svc_audit_verify_res_free(hk_svc_audit_verify_res *res);

typedef struct hk_svc_health_req {
    const char *store_path;      /* KB directory (for the disk check) */
    const char *txn_error;       /* why no transaction could be begun,
                                    when t is NULL */
    hk_svc_progress_fn progress; /* may be NULL */
    void *progress_ud;           /* passed to progress */
} hk_svc_health_req;

typedef struct hk_svc_health_res {
    bool store_ok;           /* a read snapshot answered */
    hk_stats stats;          /* its counts (zeros when !store_ok) */
    char store_message[512]; /* what the store check found */
    bool audit_checked;      /* the chain was verified (store_ok) */
    bool audit_ok;           /* ... and is intact */
    hk_audit_report audit;   /* the verdict */
    char audit_message[512]; /* what the audit check found */
    bool disk_known;         /* statvfs answered */
    bool disk_ok;            /* more than 64 MiB free */
    uint64_t disk_free;      /* bytes available to the KB */
    uint64_t disk_total;     /* bytes of the file system */
    char disk_message[256];  /* why disk_known is false */
    bool map_ok;             /* less than 90% of the map in use */
    double map_fraction;     /* bytes_used / map_size */
    bool ready;              /* the KB answers reads */
    bool all_ok;             /* every check passed */
} hk_svc_health_res;

/* Store, audit chain, disk and map checks. t may be NULL (no read
 * transaction could be begun): the store check fails with txn_error.
 * Holds no memory. */
void hk_svc_health(hk_txn *t, const hk_svc_health_req *req,
                   hk_svc_health_res *res);

typedef struct hk_svc_backup_req {
    const char *dest;        /* target directory; or NULL with one of: */
    const char *base_dir;    /* a new "kb-<UTC>-<6 hex>" directory inside
                                (base_dir is created when missing) */
    const char *beside;      /* "<beside>-backup-<UTC>-<µs>" (the KB's
                                directory) */
    const char *description; /* saved as DESCRIPTION.txt; may be NULL */
} hk_svc_backup_req;

typedef struct hk_svc_backup_res {
    char id[64];      /* with base_dir: the new backup id, else "" */
    char path[4096];  /* the backup directory written */
    char sha256[65];  /* SHA-256 of its data.mdb */
    char created[32]; /* when it started (RFC 3339) */
    double seconds;   /* how long the copy took */
} hk_svc_backup_res;

/* A consistent hot backup of s (hk_store_backup) into the directory req
 * names. Holds no memory. */
hk_err hk_svc_backup(hk_store *s, const hk_svc_backup_req *req,
                     hk_svc_backup_res *res, hk_error *err);
/* True when id can name a backup inside a backup directory (letters,
 * digits, '-', '_', '.', no leading '.', at most 100 bytes). */
bool hk_svc_backup_id_valid(const char *id);
/* The directory of backup id in base_dir; HK_ERR_INVALID (field
 * "backup_id") for an id hk_svc_backup_id_valid refuses. Caller frees
 * *path with hk_free. */
hk_err hk_svc_backup_path(const char *base_dir, const char *id, char **path,
                          hk_error *err);

typedef struct hk_svc_restore_req {
    const char *backup_dir; /* a backup written by hk_svc_backup */
    const char *data_dir;   /* the KB directory to replace */
    bool force;             /* replace an existing KB */
    bool verify_only;       /* only check the backup's checksum */
} hk_svc_restore_req;

/* Verifies the backup's checksum (sha256 gets it), then installs it as the
 * KB in data_dir (no handle may be open on it). A backup that fails the
 * check is answered with its own code and "backup 'X' cannot be restored:
 * why"; an existing KB without force is HK_ERR_EXISTS. */
hk_err hk_svc_restore(const hk_svc_restore_req *req, char sha256[65],
                      hk_error *err);

/* Imports one file (hk_import_file: streaming, batched, bad records
 * counted and written to opt->rejects_path, never stopping the import). */
hk_err hk_svc_import(hk_store *s, const char *path,
                     const hk_import_options *opt, hk_import_summary *sum,
                     hk_error *err);
/* True when an import error is a problem of that input file (missing,
 * unreadable, unknown format) rather than of the KB: a caller importing
 * several files reports it and goes on with the next. */
bool hk_svc_import_error_is_input(hk_err rc);

typedef struct hk_svc_export_req {
    hk_format format;     /* any export format (hk_export_txn); neo4j
                             writes the directory path */
    FILE *out;            /* stream to write to; or NULL with path: */
    const char *path;     /* file written completely under a temporary name,
                             synced, then renamed into place (neo4j: a
                             directory that must not exist yet, renamed
                             into place the same way) */
    const char *iri_base; /* ntriples, turtle: IRI base; NULL = default */
    const char *where;    /* only the facts matched by this query (single
                             or multi-pattern, src/query/); NULL = all */
    const char *around;   /* only the neighbourhood of this entity ... */
    unsigned depth;       /* ... up to depth hops (1..HK_GRAPH_MAX_DEPTH;
                             0 = 1) */
} hk_svc_export_req;

typedef struct hk_svc_export_res {
    uint64_t bytes; /* bytes written to path (0 for a stream) */
    uint64_t facts; /* facts selected by where/around (0 without them) */
} hk_svc_export_res;

#define HK_SVC_EXPORT_AROUND_MAX                                               \
    1000000u /* facts of a neighbourhood export                                \
              */

/* Every fact in id order, or those selected by where and/or around (both:
 * facts in both selections), from one snapshot. A format export cannot
 * write is HK_ERR_INVALID (field "format"); a bad query HK_ERR_INVALID
 * (field "where", with its column); an unknown entity HK_ERR_NOT_FOUND
 * (field "around"); on any failure nothing appears at path. */
hk_err hk_svc_export(hk_store *s, const hk_svc_export_req *req,
                     hk_svc_export_res *res, hk_error *err);
/* hk_svc_export into memory for REST and MCP: req->out and req->path are
 * ignored, the export is appended to out, and one that would pass
 * max_bytes stops with HK_ERR_LIMIT (field "max_bytes"). neo4j (a
 * directory) is HK_ERR_INVALID (field "format"). */
hk_err hk_svc_export_to_buf(hk_store *s, const hk_svc_export_req *req,
                            size_t max_bytes, hk_buf *out,
                            hk_svc_export_res *res, hk_error *err);
/* The media type of an export format ("text/turtle", ...). Static. */
const char *hk_svc_export_media_type(hk_format f);

typedef enum hk_svc_compact_mode {
    HK_SVC_COMPACT_AUTO = 0,   /* when hk_store_compact_advised says so */
    HK_SVC_COMPACT_ALWAYS = 1, /* every time */
    HK_SVC_COMPACT_NEVER = 2   /* never */
} hk_svc_compact_mode;

typedef enum hk_svc_compact_skip {
    HK_SVC_COMPACT_RUN = 0,           /* compaction should run */
    HK_SVC_COMPACT_SKIP_NEVER = 1,    /* the mode is never */
    HK_SVC_COMPACT_SKIP_NO_STATS = 2, /* auto, without statistics */
    HK_SVC_COMPACT_SKIP_SMALL = 3     /* auto, too little free space */
} hk_svc_compact_skip;

/* The compaction policy after an import: whether mode, given the KB's
 * statistics (NULL when they could not be read), asks for a compaction. */
hk_svc_compact_skip hk_svc_compact_policy(hk_svc_compact_mode mode,
                                          const hk_stats *st);
/* Compacts the KB in data_dir (hk_store_compact: no handle may be open;
 * HK_ERR_BUSY at once while another process has it open). report is
 * filled as far as the call got. */
hk_err hk_svc_compact(const char *data_dir, hk_compact_report *report,
                      hk_error *err);
/* Compacts the KB of the open handle s while it stays in use
 * (hk_store_compact_online: writers wait, readers go on; HK_ERR_BUSY at
 * once while another process has the KB open). For servers. */
hk_err hk_svc_compact_online(hk_store *s, hk_compact_report *report,
                             hk_error *err);
/* DIR/hakgal.server, the note of the `hakgal serve` that holds the KB
 * (svc_servernote.c): written when the server is ready (url like
 * "http://127.0.0.1:8080"), removed when it stops (only if it is this
 * process's). read: true with the pid and url of a live server's note,
 * false when there is none or its process is gone. */
hk_err hk_svc_server_note_write(const char *data_dir, const char *url,
                                hk_error *err);
void hk_svc_server_note_remove(const char *data_dir);
bool hk_svc_server_note_read(const char *data_dir, long *pid, char *url,
                             size_t url_size);
/* Appends the members "bytes_before","bytes_after","bytes_free_before",
 * "facts","seconds" (no braces). */
hk_err hk_svc_compact_report_write_members(const hk_compact_report *r,
                                           hk_buf *out);

/* ==== Analysis and graph (legacy tool operations) ==== */

/* The domain modules hold the logic and the typed request/result structs;
 * these functions check a request's ranges (the bounds the legacy tools
 * document) and run it. A request out of range is HK_ERR_INVALID with
 * err->field naming the parameter; nothing is read then. Results are
 * freed with the domain module's _free functions. */
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

/* ---- Traversal (svc_graph.c; src/graph/traverse.c) ---- */

/* Neighbourhood of an entity with fan-out, predicate and direction limits
 * (hk_graph_neighbours). HK_ERR_INVALID (field "depth", "allow", "deny"),
 * HK_ERR_NOT_FOUND (field "entity"), HK_ERR_LIMIT. Caller frees res with
 * hk_graph_walk_res_free. */
hk_err hk_svc_graph_neighbours(hk_txn *t, const hk_graph_hood_req *req,
                               hk_graph_walk_res *res, hk_error *err);
/* Shortest and k shortest simple paths (hk_graph_paths). HK_ERR_INVALID
 * (field "max_len", "k", "from", "to"), HK_ERR_LIMIT. Caller frees res
 * with hk_graph_path_res_free. */
hk_err hk_svc_graph_paths(hk_txn *t, const hk_graph_path_req *req,
                          hk_graph_path_res *res, hk_error *err);
/* {"paths":[{"length":L,"nodes":[...],"facts":[ids...]},...]} */
hk_err hk_svc_paths_write_json(const hk_graph_path_res *res, hk_buf *out);
/* {"nodes":[{"id":..,"kind":"entity"|"fact","label":..}],
 *  "edges":[{"from":..,"to":..,"label":..,"fact":id}],"truncated":b}
 * with node ids in from/to. */
hk_err hk_svc_subgraph_write_json(const hk_graph_walk_res *res, hk_buf *out);
/* Parses "out", "in" or "both". */
bool hk_svc_graph_dir_parse(const char *s, hk_graph_dir *out);

/* ---- Graph analytics (svc_graph.c; src/graph/analytics.c) ---- */

typedef struct hk_svc_analyze_req {
    hk_graph_analysis kind;      /* what to compute */
    size_t top;                  /* rows kept, 1..HK_GRAPH_TOP_MAX */
    hk_svc_progress_fn progress; /* snapshot progress, or NULL */
    void *progress_ud;           /* passed to progress */
} hk_svc_analyze_req;

/* Builds a snapshot of the entity graph on t and runs the analysis.
 * HK_ERR_INVALID (field "top"), HK_ERR_NOMEM. Caller frees res with
 * hk_graph_analysis_res_free. */
hk_err hk_svc_graph_analyze(hk_txn *t, const hk_svc_analyze_req *req,
                            hk_graph_analysis_res *res, hk_error *err);
/* Parses pagerank|components|communities|degrees|betweenness. */
bool hk_svc_analysis_parse(const char *s, hk_graph_analysis *out);
const char *hk_svc_analysis_name(hk_graph_analysis kind);
/* {"analysis":..,"vertices":V,"edges":E,"snapshot_bytes":B,
 *  "groups":G,"modularity":m,"sampled":b,
 *  "top":[...]} with rows {"name","score"} (pagerank, betweenness),
 * {"group","size","first"} (components, communities) or
 * {"degree","count","example"} (degrees). */
hk_err hk_svc_analysis_write_json(const hk_graph_analysis_res *res,
                                  hk_buf *out);

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

/* A hub is a directory of snapshot-<UTC>.json files, each a hand-over note
 * plus a digest of the KB. The caller confines hub_dir to its allowed
 * directories before calling (the service trusts the path it is given). */

typedef struct hk_svc_hub_snapshot_req {
    const char *hub_dir;     /* resolved hub directory (created if missing) */
    const char *title;       /* snapshot title */
    const char *description; /* free text */
    const char *store_path;  /* recorded as kb.path */
} hk_svc_hub_snapshot_req;

typedef struct hk_svc_hub_snapshot_res {
    char file[8192];  /* path of the snapshot written */
    char created[32]; /* its time (RFC 3339) */
    uint64_t facts;   /* facts in the KB then */
} hk_svc_hub_snapshot_res;

/* Writes a snapshot of the KB as seen by t (stats, newest facts, newest
 * audit entries) atomically (temporary file, then rename). */
hk_err hk_svc_hub_snapshot(hk_txn *t, const hk_svc_hub_snapshot_req *req,
                           hk_svc_hub_snapshot_res *res, hk_error *err);

/* The newest snapshots of hub_dir (at most limit) as a JSON array of
 * {"file","title","created","bytes"}. New reference in *out. */
hk_err hk_svc_hub_list(const char *hub_dir, size_t limit, json_t **out,
                       hk_error *err);

typedef struct hk_svc_hub_digest_res {
    json_t *files;  /* array of the file names digested (one reference) */
    hk_buf digest;  /* the text, cut at max_chars characters */
    bool truncated; /* the cut removed text */
} hk_svc_hub_digest_res;

/* A compact text digest of the newest limit_files snapshots, at most
 * max_chars characters (cut on a UTF-8 boundary). Release with
 * hk_svc_hub_digest_res_free. */
hk_err hk_svc_hub_digest(const char *hub_dir, size_t limit_files,
                         size_t max_chars, hk_svc_hub_digest_res *res,
                         hk_error *err);
void hk_svc_hub_digest_res_free(hk_svc_hub_digest_res *res);

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
    HK_ROLE_NONE = 0,   /* anonymous */
    HK_ROLE_READ = 1,   /* may read */
    HK_ROLE_WRITE = 2,  /* may read and write facts */
    HK_ROLE_REVIEW = 3, /* may also decide on proposed facts (review
                           queue, src/llm) */
    HK_ROLE_ADMIN = 4   /* may do everything (backup, ...) */
} hk_role;

#define HK_TOKEN_NAME_MAX 64 /* bytes of a token name, with its NUL */
#define HK_MAX_TOKENS 256    /* tokens a server or token file may hold */

/* A configured token. The secret is never kept, only its hash. */
typedef struct hk_token {
    char name[HK_TOKEN_NAME_MAX]; /* token name = audit actor */
    hk_role role;                 /* granted role */
    uint8_t hash[32];             /* SHA-256 of the token text */
} hk_token;

/* "read", "write", "reviewer", "admin" ("none" for HK_ROLE_NONE).
 * Static. */
const char *hk_role_name(hk_role r);
/* Parses "read", "write", "reviewer" or "admin"; HK_ERR_INVALID otherwise (err
 * not filled: the caller says where). */
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

/* ==== Verification (svc_verify.c) ==== */

typedef struct hk_svc_verify_res {
    bool deep;             /* records, symbols and indexes were checked */
    hk_audit_report audit; /* the audit chain */
    hk_verify_report data; /* the data (when deep) */
    bool ok;               /* every check passed */
} hk_svc_verify_res;

/* The audit chain, and with deep every record, symbol and index entry
 * (hk_store_verify_deep). HK_OK with res->ok false when something is
 * wrong. Holds no memory. */
hk_err hk_svc_verify(hk_txn *t, bool deep, hk_svc_verify_res *res,
                     hk_error *err);
/* res as one JSON object appended to out (every adapter answers this). */
hk_err hk_svc_verify_json(const hk_svc_verify_res *res, hk_buf *out);
/* hk_svc_apply_fn computing the data digest of an older KB (arg unused). */
hk_err hk_svc_rehash_apply(hk_txn *t, void *arg, hk_error *err);

#endif /* HK_SERVICE_H */
