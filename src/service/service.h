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

/* Steps of a long operation: done of total, with a short message. */
typedef void (*hk_svc_progress_fn)(void *ud, double done, double total,
                                   const char *msg);

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
    hk_format format; /* HK_FORMAT_STATEMENTS, _JSONL or _TSV */
    FILE *out;        /* stream to write to; or NULL with path: */
    const char *path; /* file written completely under a temporary name,
                         synced, then renamed into place */
} hk_svc_export_req;

typedef struct hk_svc_export_res {
    uint64_t bytes; /* bytes written to path (0 for a stream) */
} hk_svc_export_res;

/* Every fact in id order from one snapshot. A format export cannot write
 * is HK_ERR_INVALID (field "format"); on any failure no file appears at
 * path. */
hk_err hk_svc_export(hk_store *s, const hk_svc_export_req *req,
                     hk_svc_export_res *res, hk_error *err);

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
/* Appends the members "bytes_before","bytes_after","bytes_free_before",
 * "facts","seconds" (no braces). */
hk_err hk_svc_compact_report_write_members(const hk_compact_report *r,
                                           hk_buf *out);

/* ==== Analysis and graph (legacy tool operations) ==== */

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

#endif /* HK_SERVICE_H */
