/*
 * hakgal.h — the public C API of libhakgal, the HAK-GAL 2.0 fact store.
 *
 * A knowledge base (KB) is a directory holding one LMDB environment. It
 * stores facts: a predicate and 1..HK_MAX_ARGS ordered arguments plus
 * metadata (confidence, source, tags, times, legacy context JSON). Facts are
 * written and read inside transactions; any number of read transactions run
 * beside one write transaction (LMDB MVCC), so readers never block the
 * writer.
 *
 * Conventions used throughout:
 *  - Every fallible function returns an hk_err; HK_OK is 0. When an
 *    hk_error pointer is given (it may be NULL) it is filled with a message
 *    that says what failed, where (line/column/field) and why.
 *  - Strings are NUL-terminated UTF-8. Statements never contain NUL or
 *    control characters.
 *  - Ownership: "caller frees with X" is stated on every function that
 *    returns memory. Pointers inside an hk_fact / hk_statement stay valid
 *    until that object is released or reused.
 *  - Threads: an hk_store may be shared by all threads. An hk_txn, hk_query
 *    or hk_fact belongs to the thread that uses it; at most one write
 *    transaction exists at a time (hk_txn_begin blocks for the writer lock).
 *  - Times are microseconds since the Unix epoch (UTC).
 *
 * Scope: this header is the KB API and nothing else. It keeps what a
 * caller needs to hand data in and get results out: hk_buf (text the
 * library writes for the caller; appending is not offered), hk_free, the
 * time text conversions (facts carry times), errors and the version.
 * Helpers that the implementation shares (appending to a buffer, SHA-256,
 * the search tokenizer, UTF-8 checks, the clock, the statement grammar's
 * quoting rule) are private headers in src/core.
 */
#ifndef HAKGAL_H
#define HAKGAL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ==== Version ==== */

/* The version of this header, known when a program is compiled. */
#define HK_VERSION "2.0.0"
/* The version of the libhakgal the program runs with ("2.0.0"; static,
 * never NULL). It equals HK_VERSION unless the program was built against
 * the header of another release. */
const char *hk_version(void);

/* ==== Limits ==== */

#define HK_MAX_ARGS 32               /* arguments per fact */
#define HK_MAX_PREDICATE_BYTES 256   /* UTF-8 bytes in a predicate name */
#define HK_MAX_ARG_BYTES 4096        /* UTF-8 bytes in one argument */
#define HK_MAX_STATEMENT_BYTES 65536 /* bytes of statement text accepted */
#define HK_MAX_TAGS 32               /* tags per fact */
#define HK_MAX_TAG_BYTES 256         /* bytes per tag */
#define HK_MAX_SOURCE_BYTES 1024     /* bytes of the source field */
#define HK_MAX_CONTEXT_BYTES 65536   /* bytes of legacy context JSON */
#define HK_MAX_CURSOR_BYTES 256      /* bytes of an opaque query cursor */

/* ==== Errors ==== */

typedef enum hk_err {
    HK_OK = 0,
    HK_ERR_INVALID = 1,   /* input is malformed (syntax, UTF-8, range) */
    HK_ERR_NOT_FOUND = 2, /* no such fact / symbol / backup */
    HK_ERR_EXISTS = 3,    /* the target already exists (update onto a fact) */
    HK_ERR_NOMEM = 4,     /* allocation failed */
    HK_ERR_IO = 5,        /* file system error (errno in message) */
    HK_ERR_STORE = 6,     /* LMDB reported an error */
    HK_ERR_FULL = 7,      /* the KB reached its map size limit */
    HK_ERR_CORRUPT = 8,   /* stored data fails a check (audit, checksum) */
    HK_ERR_LIMIT = 9,     /* a configured or built-in limit was exceeded */
    HK_ERR_BUSY = 10,     /* the resource is in use (KB locked, dir exists) */
    HK_ERR_UNSUPPORTED = 11, /* valid request the build cannot serve */
    HK_ERR_STATE = 12,    /* called in the wrong state (txn already failed) */
    HK_ERR_VERSION = 13,  /* on-disk schema version is not understood */
    HK_ERR_DISK_FULL = 14 /* the file system holding the KB has no space */
} hk_err;

typedef struct hk_error {
    hk_err code;       /* same value the function returned */
    uint64_t line;     /* 1-based input line, 0 when not applicable */
    uint32_t column;   /* 1-based column (in characters), 0 when n/a */
    char field[64];    /* name of the offending field, "" when n/a */
    char message[512]; /* human-readable: what, where, why */
} hk_error;

/* Static, never NULL. */
const char *hk_strerror(hk_err code);

/* Fill *e (if non-NULL) with code and a printf-style message; clears line,
 * column and field. Returns code so that callers can `return hk_error_set(..)`.
 */
hk_err hk_error_set(hk_error *e, hk_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void hk_error_clear(hk_error *e);

/* ==== Memory and buffers ==== */

/* Frees memory that a libhakgal function documents as "caller frees with
 * hk_free". NULL is fine. */
void hk_free(void *p);

/* Growable byte buffer: how the library hands text to the caller
 * (hk_statement_format, hk_fact_write_json, hk_query_cursor append to
 * one). data is NUL-terminated whenever it is non-NULL. Zero-initialise
 * (or HK_BUF_INIT), pass it to as many calls as wanted, read data and
 * len, release with hk_buf_free. Appending is not part of this API. */
typedef struct hk_buf {
    char *data; /* bytes, NUL-terminated; NULL until the first append */
    size_t len; /* bytes used, not counting the NUL */
    size_t cap; /* bytes allocated */
} hk_buf;
#define HK_BUF_INIT                                                            \
    {                                                                          \
        NULL, 0, 0                                                             \
    }

void hk_buf_reset(hk_buf *b); /* len = 0, keeps the allocation */
void hk_buf_free(hk_buf *b);  /* frees and zeroes */

/* ==== Times ==== */

/* Facts and audit entries carry times (microseconds since the Unix epoch,
 * UTC); these convert them to and from the text every interface shows. */

/* Formats as RFC 3339 UTC with microseconds: 2026-11-26T09:44:39.123456Z.
 * out must hold 32 bytes. */
void hk_time_format(int64_t us, char out[32]);
/* Parses RFC 3339 (Z or +hh:mm offset, optional fraction) or an integer of
 * seconds since the epoch. */
hk_err hk_time_parse(const char *s, int64_t *us, hk_error *err);

/* ==== Statements (fact content) ==== */

/* A predicate with ordered arguments. The pointers are either set by the
 * caller (owned == NULL, strings owned by the caller) or by a parser
 * (owned != NULL; release with hk_statement_release). */
typedef struct hk_statement {
    const char *predicate;         /* predicate name */
    uint32_t n_args;               /* 1..HK_MAX_ARGS */
    const char *args[HK_MAX_ARGS]; /* argument texts, unquoted */
    char *owned;                   /* parser-owned storage or NULL */
} hk_statement;

/* Parses `Pred(arg, "quoted arg", ...)` with an optional trailing '.'.
 * On HK_ERR_INVALID the error's column (1-based, in characters) and message
 * say where and why. On success release with hk_statement_release. */
hk_err hk_statement_parse(const char *text, size_t len, hk_statement *out,
                          hk_error *err);
/* Checks a caller-built statement with the same rules the parser applies
 * (predicate syntax, 1..32 args, lengths, UTF-8, no control chars, no empty
 * args). err->field names the bad part ("predicate", "args[2]"). */
hk_err hk_statement_validate(const hk_statement *st, hk_error *err);
/* Appends the canonical form `Pred(a, b)`: one space after each comma, no
 * trailing period, quotes (with \" and \\ escapes) only where needed. */
hk_err hk_statement_format(const hk_statement *st, hk_buf *out);
void hk_statement_release(hk_statement *st);

/* ==== Patterns ==== */

typedef enum hk_term_kind {
    HK_TERM_CONST = 0, /* must equal text */
    HK_TERM_VAR = 1,   /* ?name: binds; the same name must bind equal values */
    HK_TERM_ANY = 2    /* _ : matches anything */
} hk_term_kind;

typedef struct hk_term {
    hk_term_kind kind; /* what the slot matches */
    const char *text;  /* constant value, or variable name without '?' */
} hk_term;

/* `HasPart(?x, CPU)`, `_(Computer, ?y)`, `?p(Water, ?o)`. Arity is fixed by
 * the pattern. Quoted constants are allowed; `?x` and `_` are only special
 * when bare. */
typedef struct hk_pattern {
    hk_term predicate;         /* predicate slot */
    uint32_t n_args;           /* 1..HK_MAX_ARGS */
    hk_term args[HK_MAX_ARGS]; /* argument slots */
    char *owned;               /* parser-owned storage or NULL */
} hk_pattern;

hk_err hk_pattern_parse(const char *text, size_t len, hk_pattern *out,
                        hk_error *err);
void hk_pattern_release(hk_pattern *p);

/* ==== Facts ==== */

typedef uint64_t hk_fact_id; /* > 0; grows monotonically: id order is
                                insertion order */

/* A decoded fact. Initialise with hk_fact_init; functions that fill it
 * reuse its memory; release with hk_fact_release. */
typedef struct hk_fact {
    hk_fact_id id;                 /* fact id */
    hk_statement st;               /* predicate and arguments */
    double confidence;             /* 0..1 */
    const char *source;            /* provenance, NULL when none */
    uint32_t n_tags;               /* number of tags */
    const char *tags[HK_MAX_TAGS]; /* tag strings */
    const char *context_json;      /* legacy context (JSON text) or NULL */
    int64_t created_us;            /* creation time */
    int64_t updated_us;            /* last metadata/content change */
    hk_buf mem;                    /* owns every string above */
} hk_fact;

void hk_fact_init(hk_fact *f);
void hk_fact_release(hk_fact *f);
/* Appends a JSON object: {"id","statement","predicate","args","confidence",
 * "source","tags","context","created","updated"} (source/context null when
 * absent; context embedded as JSON). */
hk_err hk_fact_write_json(const hk_fact *f, hk_buf *out);

/* Which metadata fields of an hk_fact_meta are set. */
enum {
    HK_META_CONFIDENCE = 1u << 0,
    HK_META_SOURCE = 1u << 1,
    HK_META_TAGS = 1u << 2,
    HK_META_CONTEXT = 1u << 3,
    HK_META_TIMES = 1u << 4 /* created/updated; only when a fact is created
                               (imports that keep the original times) */
};

typedef struct hk_fact_meta {
    unsigned fields;          /* HK_META_* bits that are set */
    double confidence;        /* 0..1 */
    const char *source;       /* NULL clears */
    uint32_t n_tags;          /* tags to store */
    const char *const *tags;  /* n_tags strings */
    const char *context_json; /* valid JSON object text; NULL clears */
    int64_t created_us;       /* HK_META_TIMES: creation time (>= 0) */
    int64_t updated_us;       /* HK_META_TIMES: last change, >= created;
                                 0 = same as created */
} hk_fact_meta;

/* ==== Store ==== */

typedef struct hk_store hk_store;
typedef struct hk_txn hk_txn;

typedef struct hk_store_options {
    uint64_t map_size;     /* max KB size in bytes; 0 = default (64 GiB) */
    bool read_only;        /* open without write access */
    bool create;           /* create the directory and KB if missing */
    bool no_sync;          /* skip fsync on commit (benchmarks only) */
    bool defer_meta_sync;  /* one fsync per commit instead of two (LMDB's
                              MDB_NOMETASYNC): a commit is durable only once
                              hk_store_durable_commit reaches it (the next
                              commit's sync, or hk_store_sync) */
    unsigned max_readers;  /* concurrent read txns; 0 = default (512) */
    unsigned lock_wait_ms; /* how long an open waits while a compaction or
                              restore holds the KB; 0 = default (120000) */
    bool wal;              /* the opener starts the store's write-ahead log
                              (hks_wal_start, store.h): the open takes the
                              log's lock and rolls back a KB whose log was
                              not closed cleanly, for the replay */
} hk_store_options;

/* Opens (or creates) the KB in dir. Caller closes with hk_store_close.
 * Every handle holds a shared lock on dir/hakgal.lock until it is closed;
 * while hk_store_compact or hk_backup_restore holds it exclusively, the
 * open waits (up to lock_wait_ms) and then fails with HK_ERR_BUSY. */
hk_err hk_store_open(const char *dir, const hk_store_options *opt,
                     hk_store **out, hk_error *err);
void hk_store_close(hk_store *s);
/* The newest commit (numbered as hk_store_last_commit) known to be on
 * disk: every commit up to it survives a power loss. Equal to the last
 * commit after each commit, except with defer_meta_sync, where a commit's
 * own sync makes the ones before it durable, and for commits logged in
 * the write-ahead log (wal), durable at the next hk_store_sync. Any
 * thread. */
uint64_t hk_store_durable_commit(hk_store *s);
/* Flushes the KB's file (fdatasync) so that hk_store_durable_commit
 * reaches every commit made before the call. Any thread, also while a
 * write transaction is open. */
hk_err hk_store_sync(hk_store *s, hk_error *err);
/* A number that grows with every commit that changed the KB, made by any
 * process (LMDB's last transaction id); for cheap change polling while the
 * KB stays open. Compaction and restore, which need every handle closed,
 * start it again from a small number. */
uint64_t hk_store_last_commit(hk_store *s);
const char *hk_store_path(const hk_store *s);

/* Begins a transaction. Write transactions serialize (a second writer
 * waits). Caller ends it with hk_txn_commit or hk_txn_abort, which free it. */
hk_err hk_txn_begin(hk_store *s, bool write, hk_txn **out, hk_error *err);
/* Commits durably (fsync unless no_sync) and frees the txn, even on error.
 * A write transaction on which any operation failed with HK_ERR_STORE or
 * HK_ERR_FULL refuses to commit (HK_ERR_STATE) and is aborted. */
hk_err hk_txn_commit(hk_txn *t, hk_error *err);
void hk_txn_abort(hk_txn *t);
/* Read transactions only: release the snapshot but keep the handle, then
 * take a fresh snapshot. Cheap; use on hot paths. */
void hk_txn_reset(hk_txn *t);
hk_err hk_txn_renew(hk_txn *t, hk_error *err);
/* The actor recorded in audit entries of subsequent writes in this txn
 * (copied; default "local"). */
hk_err hk_txn_set_actor(hk_txn *t, const char *actor);
/* Bulk mode: instead of one audit entry per added fact, the transaction
 * records one "import" entry at commit covering the contiguous id range of
 * the facts it created, with a SHA-256 digest of their canonical statements
 * and the given label (e.g. file name). Deletes/updates still get their own
 * entries. */
hk_err hk_txn_set_bulk(hk_txn *t, const char *label);

/* Adds a fact (MERGE): when the statement exists, *id gets the existing id,
 * *created false, and nothing changes. meta may be NULL (defaults:
 * confidence 1.0, no source/tags/context). */
hk_err hk_store_add(hk_txn *t, const hk_statement *st, const hk_fact_meta *meta,
                    hk_fact_id *id, bool *created, hk_error *err);
/* Deletes a fact; HK_ERR_NOT_FOUND when absent. */
hk_err hk_store_delete(hk_txn *t, hk_fact_id id, hk_error *err);
/* Replaces the content of fact id by st, keeping its id, metadata and
 * creation time. HK_ERR_EXISTS (with the other id in *other) when st is
 * already another fact; no change when st equals the current content. */
hk_err hk_store_update(hk_txn *t, hk_fact_id id, const hk_statement *st,
                       hk_fact_id *other, hk_error *err);
/* Changes the metadata fields named in meta->fields (HK_META_TIMES is
 * refused: times change only by writing). */
hk_err hk_store_set_meta(hk_txn *t, hk_fact_id id, const hk_fact_meta *meta,
                         hk_error *err);
/* Reads a fact by id into f (reusing f's memory). */
hk_err hk_store_get(hk_txn *t, hk_fact_id id, hk_fact *f, hk_error *err);
/* Exact lookup by content: *id = the fact's id or HK_ERR_NOT_FOUND. */
hk_err hk_store_find(hk_txn *t, const hk_statement *st, hk_fact_id *id,
                     hk_error *err);

/* ==== Queries ==== */

/* What to scan. Unset fields (NULL / -1 / 0) mean "any". */
typedef struct hk_scan {
    const char *predicate; /* only facts of this predicate */
    const char *entity;    /* only facts that mention this entity */
    int position;          /* with entity: only at this 0-based position */
    uint32_t arity;        /* only facts with this many arguments */
    bool newest_first;     /* with no entity: descending id order */
} hk_scan;
#define HK_SCAN_INIT                                                           \
    {                                                                          \
        NULL, NULL, -1, 0, false                                               \
    }

typedef struct hk_query hk_query;

/* Opens a streaming query over facts matching a scan or a pattern, answered
 * from the most selective index, in constant memory. cursor (NULL or "")
 * resumes after the row a previous query's hk_query_cursor named. The query
 * lives inside txn; close it before the txn ends (hk_txn_reset ends a read
 * txn's snapshot: the query then answers HK_ERR_STATE, also after
 * hk_txn_renew). Caller frees with hk_query_close. */
hk_err hk_query_open_scan(hk_txn *t, const hk_scan *scan, const char *cursor,
                          hk_query **out, hk_error *err);
hk_err hk_query_open_pattern(hk_txn *t, const hk_pattern *p, const char *cursor,
                             hk_query **out, hk_error *err);
/* Next matching fact into f; *has_row false at the end. */
hk_err hk_query_next(hk_query *q, hk_fact *f, bool *has_row, hk_error *err);
/* Like hk_query_next without decoding strings. */
hk_err hk_query_next_id(hk_query *q, hk_fact_id *id, bool *has_row,
                        hk_error *err);
/* For pattern queries: the value bound to variable `name` by the last row
 * (NULL when unknown). Valid until the next call on q. */
const char *hk_query_binding(hk_query *q, const char *name);
/* Appends an opaque cursor (<= HK_MAX_CURSOR_BYTES, URL-safe) that resumes
 * after the last row returned; appends nothing when the query is
 * exhausted. */
hk_err hk_query_cursor(hk_query *q, hk_buf *out);
void hk_query_close(hk_query *q);

/* ==== Counts, statistics, search ==== */

typedef struct hk_stats {
    uint64_t facts;          /* facts stored */
    uint64_t predicates;     /* distinct predicates in use */
    uint64_t entities;       /* distinct argument values in use */
    uint64_t symbols;        /* dictionary entries (may include unused) */
    uint64_t audit_entries;  /* audit log length */
    uint64_t last_fact_id;   /* highest id ever assigned */
    uint64_t bytes_on_disk;  /* size of the data file */
    uint64_t bytes_used;     /* pages in use * page size */
    uint64_t map_size;       /* configured maximum */
    int64_t last_change_us;  /* time of the newest audit entry, 0 if none */
    uint32_t schema_version; /* on-disk format version */
    uint64_t bytes_free;     /* pages on LMDB's free list * page size: part
                                of bytes_used that later writes reuse and
                                hk_store_compact gives back (in a write
                                txn: as of the last commit) */
} hk_stats;

hk_err hk_store_stats(hk_txn *t, hk_stats *out, hk_error *err);
/* Number of facts of a predicate / mentioning an entity (any position), in
 * O(log n). 0 when unknown. */
hk_err hk_store_count_predicate(hk_txn *t, const char *predicate, uint64_t *n,
                                hk_error *err);
hk_err hk_store_count_entity(hk_txn *t, const char *entity, uint64_t *n,
                             hk_error *err);
/* Facts by creation day (UTC): per_day[i] gets the number of facts whose
 * created time falls on day first_day + i (days since 1970-01-01), for
 * n_days (1..36600) days. Reads every fact record once, without decoding
 * strings (about 0.1 µs per fact). per_day is the caller's array. */
hk_err hk_store_count_created(hk_txn *t, int64_t first_day, uint32_t n_days,
                              uint64_t *per_day, hk_error *err);

typedef struct hk_name_count {
    char *name;         /* predicate or entity */
    uint64_t count;     /* facts */
    uint32_t min_arity; /* predicates: smallest arity seen (entities: 0) */
    uint32_t max_arity; /* predicates: largest arity seen (entities: 0) */
} hk_name_count;

/* Lists predicates / entities with their fact counts in dictionary order,
 * starting after `after` (NULL = from the start), at most limit entries.
 * Caller frees with hk_name_counts_free. */
hk_err hk_store_list_predicates(hk_txn *t, const char *after, size_t limit,
                                hk_name_count **out, size_t *n, hk_error *err);
hk_err hk_store_list_entities(hk_txn *t, const char *after, size_t limit,
                              uint64_t min_count, hk_name_count **out,
                              size_t *n, hk_error *err);
void hk_name_counts_free(hk_name_count *v, size_t n);

/* Facts of one predicate grouped by arity: counts[a] for a in 0..32. */
hk_err hk_store_predicate_arities(hk_txn *t, const char *predicate,
                                  uint64_t counts[HK_MAX_ARGS + 1],
                                  hk_error *err);

typedef struct hk_search_hit {
    hk_fact_id id; /* matching fact */
    double score;  /* higher is better, > 0 */
} hk_search_hit;

/* Ranked text search over predicates and arguments using the token index
 * (text split at non-alphanumerics and at camelCase and letter/digit
 * boundaries, lower-cased: "HasPart" -> has, part; "CO2" -> co, 2): facts
 * whose symbols share more (and rarer) query tokens rank higher; exact
 * symbol matches rank highest. Caller frees *hits with hk_free. */
hk_err hk_store_search(hk_txn *t, const char *query, size_t limit,
                       hk_search_hit **hits, size_t *n_hits, hk_error *err);

/* ==== Audit ==== */

typedef struct hk_audit_entry {
    uint64_t seq;            /* 1-based position in the log */
    int64_t time_us;         /* when the mutation committed */
    char *actor;             /* who (token name, "cli", ...) */
    char *op;                /* "add","delete","update","meta","import" */
    hk_fact_id fact_id;      /* fact affected (first of a bulk range) */
    hk_fact_id fact_id_last; /* last id of a bulk range (= fact_id else) */
    uint64_t count;          /* facts affected */
    char *before;            /* JSON of the state before, or NULL */
    char *after;             /* JSON of the state after, or NULL */
    uint8_t prev_hash[32];   /* hash of entry seq-1 (zeros for seq 1) */
    uint8_t hash[32];        /* SHA-256 over prev_hash and this entry */
} hk_audit_entry;

/* Newest first, starting below before_seq (0 = newest). Caller frees with
 * hk_audit_entries_free. */
hk_err hk_audit_list(hk_txn *t, uint64_t before_seq, size_t limit,
                     hk_audit_entry **out, size_t *n, hk_error *err);
/* Entries that touched fact id (the bulk entry whose range covers it
 * included), newest first, starting below before_seq (0 = newest), at most
 * limit (capped at HK_AUDIT_HISTORY_MAX). Pages continue with before_seq =
 * the last entry's seq; an empty page means no older entry. Caller frees
 * *out with hk_audit_entries_free(*out, *n). */
#define HK_AUDIT_HISTORY_MAX 100000
hk_err hk_audit_history(hk_txn *t, hk_fact_id id, uint64_t before_seq,
                        size_t limit, hk_audit_entry **out, size_t *n,
                        hk_error *err);
void hk_audit_entries_free(hk_audit_entry *v, size_t n);

/* Oldest-first iteration from from_seq (0 or 1: from the first entry;
 * entries with seq >= from_seq), for replication and change streams. The
 * iterator belongs to t (close it before t ends; the txn's snapshot bounds
 * it) and holds one entry at a time. *entry points into the iterator, valid
 * until the next call or close; NULL at the end (and on every later call).
 * HK_ERR_CORRUPT names the seq when an entry is damaged or missing. */
typedef struct hk_audit_iter hk_audit_iter;
hk_err hk_audit_iter_open(hk_txn *t, uint64_t from_seq, hk_audit_iter **out,
                          hk_error *err);
hk_err hk_audit_iter_next(hk_audit_iter *it, const hk_audit_entry **entry,
                          hk_error *err);
void hk_audit_iter_close(hk_audit_iter *it);

typedef struct hk_audit_report {
    uint64_t checked;   /* entries verified */
    bool ok;            /* whole chain intact */
    uint64_t first_bad; /* seq of the first bad entry (0 when ok) */
    char reason[256];   /* why it is bad */
} hk_audit_report;

/* Recomputes the chain; detects edited, removed, reordered or appended
 * entries (the head hash and length are kept in the meta table). Returns
 * HK_OK with report->ok false when tampering is found. */
hk_err hk_audit_verify(hk_txn *t, hk_audit_report *report, hk_error *err);

/* ==== Fault containment (src/store/faultguard.c) ==== */

/* A guard around reads that may touch a damaged map: a SIGBUS/SIGSEGV at
 * an address inside an open KB's map, on the thread that armed g, jumps
 * back to the sigsetjmp of g (which then returns 1) instead of killing the
 * process; offset is where in the map. Every other fault is left alone.
 * After a jump the transactions and cursors used inside are dead: abort
 * them and report HK_ERR_CORRUPT. Use:
 *
 *     hk_fault_guard g;
 *     if (sigsetjmp(g.jb, 1) == 0) {
 *         hk_fault_arm(&g); ...reads...; hk_fault_disarm(&g);
 *     } else { ...the KB is damaged at g.offset... }
 */
typedef struct hk_fault_guard {
    sigjmp_buf jb;               /* where a fault returns to */
    struct hk_fault_guard *prev; /* the guard armed before (this thread) */
    uint64_t offset;             /* byte of the map that faulted */
} hk_fault_guard;
void hk_fault_arm(hk_fault_guard *g);
void hk_fault_disarm(hk_fault_guard *g);

/* ==== Deep verification (src/store/verify.c) ==== */

#define HK_VERIFY_PROBLEMS_MAX 16
typedef struct hk_verify_report {
    bool ok;                /* no problem found */
    bool has_digest;        /* the KB keeps a data digest (else: rehash) */
    bool digest_ok;         /* recomputed digest = stored (true without one) */
    uint64_t facts;         /* fact records checked */
    uint64_t symbols;       /* symbols checked */
    uint64_t index_entries; /* index entries checked against the data */
    uint64_t n_problems;    /* problems found (the first ones listed) */
    char digest[65];        /* recomputed digest, hex */
    char problems[HK_VERIFY_PROBLEMS_MAX][256]; /* what is wrong, where */
} hk_verify_report;

/* Checks every record and symbol against the data digest kept with the
 * counters, and every index entry against the data in both directions.
 * Returns HK_OK with report->ok false when something is wrong; an LMDB
 * error inside a database is reported as a problem of that database. */
hk_err hk_store_verify_deep(hk_txn *t, hk_verify_report *report, hk_error *err);
/* Computes the data digest of a KB made before it existed (write txn);
 * every later write keeps it. */
hk_err hk_store_rehash(hk_txn *t, hk_error *err);

/* ==== Backup and restore ==== */

/* Consistent, compacted hot copy of the KB into dest_dir (created; must not
 * exist or be empty) while writers continue. Writes dest_dir/data.mdb and
 * dest_dir/MANIFEST.json (time, facts, bytes, sha256). sha256_hex (may be
 * NULL) receives the checksum of data.mdb. */
hk_err hk_store_backup(hk_store *s, const char *dest_dir, char sha256_hex[65],
                       hk_error *err);
/* Recomputes a backup's checksum and compares it with its manifest. */
hk_err hk_backup_verify(const char *backup_dir, char sha256_hex[65],
                        hk_error *err);
/* Verifies the backup, then installs it as the KB in data_dir. data_dir must
 * not hold a KB unless force is set; the KB must not be open. */
hk_err hk_backup_restore(const char *backup_dir, const char *data_dir,
                         bool force, hk_error *err);

/* ==== Compaction ==== */

/* What hk_store_compact did. */
typedef struct hk_compact_report {
    uint64_t bytes_before;      /* size of data.mdb before */
    uint64_t bytes_after;       /* size of data.mdb after (0 on failure) */
    uint64_t bytes_free_before; /* free-list bytes before (hk_stats) */
    uint64_t facts;             /* facts in the KB (unchanged) */
    double seconds;             /* wall time of the whole call */
} hk_compact_report;

/* Rewrites the KB in dir densely (every tree in key order, full pages, no
 * free pages) and replaces data.mdb with the copy once it is synced and
 * checked (counters, audit head and entry counts equal); a crash leaves
 * either the old or the new complete file. No handle on the KB may be open,
 * in this process or another: the caller closes its own first. Fails at
 * once with HK_ERR_BUSY while any process has the KB open; opens started
 * during compaction wait for it. report (may be NULL) is filled also on
 * failure, as far as the call got. */
hk_err hk_store_compact(const char *dir, hk_compact_report *report,
                        hk_error *err);
/* The compaction policy of imports: true when the free list is at least a
 * quarter of the file and at least 64 MiB. st from hk_store_stats. */
bool hk_store_compact_advised(const hk_stats *st);
/* hk_store_compact on the open handle s, which must be the KB's only user
 * (HK_ERR_BUSY at once when another process has it open): writers of s
 * wait until it is done (none fails), readers go on, every transaction
 * begun afterwards (and every reset read txn at its renew) runs on the
 * compacted file, and the old environment is closed when its last
 * transaction ends. Content, audit chain and digest are unchanged.
 * HK_ERR_STATE for a read-only handle. Any thread except one holding a
 * write transaction of s. */
hk_err hk_store_compact_online(hk_store *s, hk_compact_report *report,
                               hk_error *err);

/* ==== Import and export ==== */

typedef enum hk_format {
    HK_FORMAT_AUTO = 0,       /* detect from extension and content */
    HK_FORMAT_STATEMENTS = 1, /* one statement per line, # comments */
    HK_FORMAT_JSONL = 2,      /* one JSON object per line */
    HK_FORMAT_SQLITE = 3,     /* legacy HAK-GAL SQLite KB (table facts) */
    HK_FORMAT_TSV = 4,        /* pred<TAB>arg<TAB>arg... */
    HK_FORMAT_MCP_MEMORY = 5, /* memory file of the reference MCP memory
                                 server (src/io/io_memory.c) */
    HK_FORMAT_NTRIPLES = 6,   /* RDF N-Triples (src/io/io_rdf.c) */
    HK_FORMAT_GRAPHML = 7,    /* GraphML, export only (src/io/io_graph.c) */
    HK_FORMAT_JSONGRAPH = 8,  /* {"nodes":[..],"edges":[..]}, export only */
    HK_FORMAT_TURTLE = 9,     /* RDF Turtle, export only (src/io/io_rdf.c) */
    HK_FORMAT_CYPHER = 10,    /* Cypher script (UNWIND + MERGE), export only
                                 (src/io/io_neo4j.c) */
    HK_FORMAT_NEO4J = 11      /* neo4j-admin import CSV files, a directory:
                                 hk_export_neo4j (src/io/io_neo4j.c) */
} hk_format;

/* IRI base of RDF import and export when none is given: entity and
 * predicate IRIs are this plus the percent-encoded name. */
#define HK_IRI_BASE_DEFAULT "https://hakgal.org/kb/"

/* Parses "auto", "statements"/"txt", "jsonl", "sqlite", "tsv",
 * "mcp-memory". */
hk_err hk_format_parse(const char *name, hk_format *out, hk_error *err);
const char *hk_format_name(hk_format f);

typedef void (*hk_progress_fn)(void *ud, uint64_t bytes_done,
                               uint64_t bytes_total, uint64_t records);

typedef struct hk_import_options {
    hk_format format;         /* HK_FORMAT_AUTO to detect */
    const char *rejects_path; /* append rejected records here; NULL = none */
    uint64_t batch_size;      /* facts per transaction; 0 = 1000000 */
    const char *actor;        /* audit actor; NULL = "import" */
    hk_progress_fn progress;  /* called about every 64k records; may be NULL */
    void *progress_ud;        /* passed to progress */
    const char *iri_base;     /* N-Triples: IRI base; NULL = default */
} hk_import_options;

typedef struct hk_import_summary {
    uint64_t read;     /* records read (blank lines and comments excluded) */
    uint64_t added;    /* new facts */
    uint64_t present;  /* already in the KB (or earlier in the input) */
    uint64_t rejected; /* invalid records, each written to rejects */
    hk_format format;  /* format used */
} hk_import_summary;

/* Streams path into the KB in constant memory, committing every batch.
 * A bad record is counted and written to the rejects file
 * ("<file>:<line>: <reason>\t<record>") and never stops the import. */
hk_err hk_import_file(hk_store *s, const char *path,
                      const hk_import_options *opt, hk_import_summary *sum,
                      hk_error *err);

/* Writes every fact in id order. JSONL round-trips with hk_import_file
 * (metadata included). */
hk_err hk_export(hk_store *s, FILE *out, hk_format format, hk_error *err);
/* hk_export with an IRI base for N-Triples (NULL = HK_IRI_BASE_DEFAULT). */
hk_err hk_export_iri(hk_store *s, FILE *out, hk_format format,
                     const char *iri_base, hk_error *err);

/* What an export writes, and of which facts. */
typedef struct hk_export_options {
    hk_format format;      /* any export format but HK_FORMAT_NEO4J */
    const char *iri_base;  /* ntriples, turtle: IRI base; NULL = default */
    const hk_fact_id *ids; /* only these facts (ascending, distinct; ids
                              that name no fact are skipped), or NULL for
                              every fact in id order */
    size_t n_ids;          /* entries in ids */
} hk_export_options;

/* Writes the facts opt selects to out, reading through t (read or write
 * transaction: one snapshot). Graph formats (graphml, jsongraph, cypher,
 * neo4j) hold the entities the selected facts mention. The mcp-memory
 * format cannot be restricted (HK_ERR_INVALID with ids). */
hk_err hk_export_txn(hk_txn *t, FILE *out, const hk_export_options *opt,
                     hk_error *err);
/* The neo4j-admin bulk-import files for the facts opt selects (its format
 * is ignored), written into the existing directory dir: entities.csv and
 * facts.csv (nodes), relationships.csv, and import.sh with the
 * neo4j-admin command that loads them (docs/INTERCHANGE.md). */
hk_err hk_export_neo4j(hk_txn *t, const char *dir, const hk_export_options *opt,
                       hk_error *err);

#ifdef __cplusplus
}
#endif
#endif /* HAKGAL_H */
