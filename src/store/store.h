/*
 * store.h — the store's interface for the modules of hakgal (graph engine,
 * rules, vectors, change streams), beside the product API in hakgal.h.
 *
 * hakgal.h is what applications use: statements in, facts out. Modules
 * inside the product need more, without touching LMDB or the store's
 * internals (store_int.h stays private to src/store, as SQLite keeps
 * btreeInt.h behind btree.h):
 *
 *   1. Module databases: named LMDB databases that a module registers on an
 *      hk_store and reads and writes inside hk_txn. Backup, compaction and
 *      hks_store_check cover every registered database, also in processes
 *      that never load the module (the KB records them).
 *   2. Change hooks: a module registers functions that the store calls for
 *      every change, whoever the writer is (server, CLI, MCP stdio, import,
 *      later replication): one inside the write transaction (it may write
 *      its own databases, so an outbox entry commits atomically with the
 *      change) and one after each commit.
 *   3. Symbols and adjacency by symbol id: a string <-> id dictionary, the
 *      facts mentioning an entity in index order, the symbol ids of a fact
 *      without decoding strings, and counts.
 *
 * Names: every function and type of the store that is not part of the
 * public API carries the prefix hks_ (hk_ is the public API).
 *
 * Threads: the rules of hakgal.h hold (an hk_store is shared; a txn and
 * what is opened in it belong to one thread at a time). Registration
 * (hks_db_register, hks_hook_add, hks_hook_remove) changes the handle:
 * call it after hk_store_open and before other threads use the handle, or
 * at least while no transaction of the handle is open in another thread
 * (it waits for a running write transaction of the handle, so never call
 * it from inside a hook or with a write transaction of the handle open).
 */
#ifndef HKS_STORE_H
#define HKS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hakgal.h"

/* ==== Module databases ==== */

/* Most module databases one KB holds. */
#define HKS_MODULE_DBS_MAX 32u
/* Longest database name, in bytes. */
#define HKS_DB_NAME_MAX 64u
/* Longest key (LMDB's limit), in bytes. */
#define HKS_KEY_MAX 511u

/* Layout flags of a module database (fixed when it is first created). */
enum {
    HKS_DB_DUPSORT = 1u << 0,   /* several sorted values per key */
    HKS_DB_DUPFIXED = 1u << 1,  /* with DUPSORT: all values of equal size */
    HKS_DB_INTEGERKEY = 1u << 2 /* keys are native uint32_t or uint64_t,
                                   compared as integers */
};

/* Handle of a registered database; valid for the hk_store that returned
 * it, until hk_store_close. 0 is never a valid handle. */
typedef uint32_t hks_db;

/* Bytes in or out. Values returned point into the map: valid until the
 * next write in the same txn or the end of the txn; never write to them. */
typedef struct hks_val {
    const void *data; /* bytes (may be NULL when len is 0) */
    size_t len;       /* length in bytes */
} hks_val;

/* Registers (creating it when new) the database name with flags and gives
 * its handle. Names are "module.name": 3..64 bytes of a-z, 0-9, '_', '.'
 * and '-', with at least one '.', so they can never collide with the
 * store's own databases. The name and flags are recorded in the KB, so
 * every later open (of any process) opens the database and backup,
 * compaction and check cover it. Registering a known name again gives the
 * same handle; with other flags it fails (HK_ERR_INVALID, field "flags").
 * On a read-only handle an unknown name gives HK_ERR_NOT_FOUND. Creating
 * runs a write transaction of its own (it waits for a running one of this
 * handle); HK_ERR_LIMIT beyond HKS_MODULE_DBS_MAX databases. */
hk_err hks_db_register(hk_store *s, const char *name, unsigned flags,
                       hks_db *out, hk_error *err);
/* Handle of a database the KB already records (opened at hk_store_open),
 * HK_ERR_NOT_FOUND otherwise. Never writes. */
hk_err hks_db_find(hk_store *s, const char *name, hks_db *out, hk_error *err);

/* Value of key (for a DUPSORT database: its first). HK_ERR_NOT_FOUND. */
hk_err hks_get(hk_txn *t, hks_db db, hks_val key, hks_val *val, hk_error *err);

enum {
    HKS_PUT_NOOVERWRITE = 1u << 0, /* HK_ERR_EXISTS (nothing written, the
                                      txn stays usable) when the key exists
                                      (DUPSORT: when the pair exists) */
    HKS_PUT_APPEND = 1u << 1       /* the key sorts after every key (or the
                                      value after every value of the key):
                                      faster, HK_ERR_INVALID otherwise */
};
/* Stores key -> val (write txns). Keys are 1..HKS_KEY_MAX bytes; values of
 * a DUPSORT database too. A failure other than HK_ERR_INVALID or
 * HK_ERR_EXISTS fails the transaction (see hk_txn_commit). */
hk_err hks_put(hk_txn *t, hks_db db, hks_val key, hks_val val, unsigned flags,
               hk_error *err);
/* Removes key (val NULL: with all its values) or one value of a DUPSORT
 * key. HK_ERR_NOT_FOUND (the txn stays usable) when absent. */
hk_err hks_del(hk_txn *t, hks_db db, hks_val key, const hks_val *val,
               hk_error *err);
/* Entries (key/value pairs) of the database in the txn's snapshot. */
hk_err hks_db_entries(hk_txn *t, hks_db db, uint64_t *n, hk_error *err);

/* Cursor over a module database in key order (values of a key in value
 * order). Opened in a txn, closed before it ends with hks_cursor_close. */
typedef struct hks_cursor hks_cursor;
hk_err hks_cursor_open(hk_txn *t, hks_db db, hks_cursor **out, hk_error *err);
/* Positions at the first entry whose key is >= key (key.len 0: the first
 * entry) and returns it; *found false (k, v untouched) when none. */
hk_err hks_cursor_seek(hks_cursor *c, hks_val key, hks_val *k, hks_val *v,
                       bool *found, hk_error *err);
/* The entry after the current one (the first when not positioned); *found
 * false at the end, and again on every later call. */
hk_err hks_cursor_next(hks_cursor *c, hks_val *k, hks_val *v, bool *found,
                       hk_error *err);
void hks_cursor_close(hks_cursor *c);

/* ==== Change hooks ==== */

/* The content of a fact as symbol ids (see hks_sym_str for the strings). */
typedef struct hks_fact_syms {
    uint32_t pred;              /* predicate symbol id */
    uint32_t n_args;            /* 1..HK_MAX_ARGS */
    uint32_t args[HK_MAX_ARGS]; /* argument symbol ids, in position order */
} hks_fact_syms;

typedef enum hks_op {
    HKS_OP_ADD = 1,    /* a fact was created (not on a MERGE) */
    HKS_OP_DELETE = 2, /* a fact was deleted */
    HKS_OP_UPDATE = 3, /* a fact's content was replaced (same id) */
    HKS_OP_META = 4,   /* a fact's metadata changed (same content) */
    HKS_OP_IMPORT = 5, /* a bulk transaction created facts id..id_last */
    HKS_OP_VECTOR = 6, /* a vector of fact id was set or removed (its
                          audit entry, op "vector", says which space);
                          id 0: an entity vector (the entry names it) */
    HKS_OP_RULE = 7    /* a rule was added, replaced, enabled, disabled or
                          deleted (id 0; its audit entry, op "rule", holds
                          the rule before and after) */
} hks_op;

/* Which changes a hook receives (hks_hook.events). */
enum {
    HKS_EV_ADD = 1u << 0,      /* HKS_OP_ADD outside bulk transactions */
    HKS_EV_DELETE = 1u << 1,   /* HKS_OP_DELETE */
    HKS_EV_UPDATE = 1u << 2,   /* HKS_OP_UPDATE */
    HKS_EV_META = 1u << 3,     /* HKS_OP_META */
    HKS_EV_IMPORT = 1u << 4,   /* HKS_OP_IMPORT, at commit of a bulk txn */
    HKS_EV_BULK_ADD = 1u << 5, /* HKS_OP_ADD for each fact created in a
                                  bulk transaction as well (costs a call per
                                  imported fact; without it bulk imports
                                  are seen only as one HKS_OP_IMPORT) */
    HKS_EV_VECTOR = 1u << 6,   /* HKS_OP_VECTOR */
    HKS_EV_RULE = 1u << 7,     /* HKS_OP_RULE */
    HKS_EV_ALL = (1u << 8) - 1
};

/* One change, as the in-transaction hook sees it. Everything points into
 * the store's memory, valid only during the call. */
typedef struct hks_change {
    hks_op op;                     /* what happened */
    hk_fact_id id;                 /* the fact (first of an import range) */
    hk_fact_id id_last;            /* last id of an import range, else id */
    uint64_t count;                /* facts: 1, or the import's count */
    uint64_t audit_seq;            /* the audit entry recording it; 0 for
                                      an add inside a bulk txn (its import
                                      entry is written at commit) */
    const hks_fact_syms *before;   /* content before (delete, update,
                                      meta), else NULL */
    const hks_fact_syms *after;    /* content after (add, update, meta),
                                      else NULL */
    const hk_statement *st_before; /* the same as strings, or NULL */
    const hk_statement *st_after;  /* the same as strings, or NULL */
} hks_change;

/* What the after-commit hook sees: the audit entries first_seq..last_seq
 * were committed together (read them with hk_audit_iter_open). */
typedef struct hks_commit {
    uint64_t first_seq; /* first audit entry of the transaction */
    uint64_t last_seq;  /* last one (the KB's audit head now) */
    uint64_t commit;    /* hk_store_last_commit after this commit */
} hks_commit;

/* In-transaction hook: called inside the write transaction t right after
 * the change and its audit entry were written, on the writer's thread. It
 * may read anything in t and write its own module databases (hks_put);
 * it may also change facts (hk_store_add...), whose own changes reach the
 * hooks again, nested at most HKS_HOOK_DEPTH_MAX deep (HK_ERR_LIMIT). An
 * error fails the transaction: the operation returns it, the txn is
 * marked failed and hk_txn_commit aborts it, so nothing of it is
 * committed. For HKS_OP_IMPORT the call happens inside hk_txn_commit,
 * which then returns the error. */
typedef hk_err (*hks_change_fn)(hk_txn *t, const hks_change *c, void *ud,
                                hk_error *err);
/* After-commit hook: called once per committed write transaction that
 * appended audit entries, after the data is durable (with the write-ahead
 * log: after its record is appended, before the log's sync), on the committing
 * thread, in commit order, before the next write transaction of the handle
 * may begin. It must not begin a write transaction on the same handle
 * (that would wait for itself); read transactions are fine. Commits made
 * by other processes or other handles are not seen. */
typedef void (*hks_commit_fn)(hk_store *s, const hks_commit *c, void *ud);

#define HKS_HOOKS_MAX 16u
#define HKS_HOOK_DEPTH_MAX 4u

typedef struct hks_hook {
    const char *name;        /* for errors and removal (copied), 1..64 B */
    unsigned events;         /* HKS_EV_* the change hook wants; 0 = none
                                (then it costs nothing) */
    hks_change_fn on_change; /* may be NULL */
    hks_commit_fn on_commit; /* may be NULL */
    void *ud;                /* passed back, never touched */
} hks_hook;

/* Fixes the time of the changes of write txn t (facts' created/updated
 * times and audit entry times; audit times still never go backwards) to
 * us, so that replicas applying one log produce identical content; 0
 * returns to the wall clock. hks_txn_now: the time t's changes get. */
void hks_txn_set_clock(hk_txn *t, int64_t us);
int64_t hks_txn_now(const hk_txn *t);

/* Makes the commit of write txn t skip LMDB's fsync: the commit is visible
 * and survives a crash of the process (the page cache holds it), but not
 * of the system until hk_store_sync (or a later synced commit) ran; until
 * then a system crash may lose it, and since LMDB then writes the meta
 * page without a sync barrier after the data pages, may damage the file
 * (LMDB's MDB_NOSYNC contract). For writes that can be redone from
 * elsewhere: a replicated node's apply, whose commands the log holds.
 * hk_store_durable_commit does not count such a commit until a sync. */
void hks_txn_set_no_sync(hk_txn *t);

/* The commit that txn t sees (numbered as hk_store_last_commit numbers
 * them): for a read txn, the newest commit of its snapshot. Compared with
 * hk_store_durable_commit, it says whether everything t reads is durable. */
uint64_t hks_txn_snapshot(const hk_txn *t);
/* The newest commit made through this handle (hk_store_last_commit
 * numbering; set just before the commit becomes visible, 0 before the
 * first). hk_store_durable_commit speaks of this handle's commits only: a
 * later commit that a snapshot holds came from another process, which
 * syncs its own (the product's open; a no_sync open is never durable). */
uint64_t hks_store_own_commit(hk_store *s);

/* Ends bulk mode (hk_txn_set_bulk) inside write txn t: records now the
 * import entry its commit would record for the facts created since, so
 * that several batches share one transaction with the audit entries they
 * get in transactions of their own (a replicated node groups the batches
 * of the log). A later hk_txn_set_bulk starts a new entry. No-op outside
 * bulk mode; on failure t is marked failed. */
hk_err hks_txn_end_bulk(hk_txn *t, hk_error *err);

/* Adds a hook to the handle (not to the KB: every process registers its
 * own). Hooks run in the order they were added. HK_ERR_EXISTS for a name
 * already added, HK_ERR_LIMIT beyond HKS_HOOKS_MAX. */
hk_err hks_hook_add(hk_store *s, const hks_hook *h, hk_error *err);
/* Removes the hook called name; HK_ERR_NOT_FOUND when there is none. */
hk_err hks_hook_remove(hk_store *s, const char *name, hk_error *err);

/* ==== Symbols and adjacency ==== */

/* Id of a symbol (predicate or argument string); HK_ERR_NOT_FOUND. */
hk_err hks_sym_id(hk_txn *t, const char *s, size_t len, uint32_t *id,
                  hk_error *err);
/* String of symbol id (not NUL-terminated; into the map or the store's
 * shared symbol cache: valid at least until the next write in t or its
 * end). HK_ERR_NOT_FOUND for an unknown id. */
hk_err hks_sym_str(hk_txn *t, uint32_t id, const char **s, size_t *len,
                   hk_error *err);
/* Symbol ids in use are 1..*max (never reused, never removed). */
hk_err hks_sym_max(hk_txn *t, uint32_t *max, hk_error *err);

/* The symbol ids of fact id, without touching the dictionary.
 * HK_ERR_NOT_FOUND. */
hk_err hks_fact_syms_get(hk_txn *t, hk_fact_id id, hks_fact_syms *out,
                         hk_error *err);

/* Called by hks_pred_syms_scan once per fact: its id and symbols. A
 * return other than HK_OK stops the scan and is returned. */
typedef hk_err (*hks_syms_fn)(void *ud, hk_fact_id id, const hks_fact_syms *fs,
                              hk_error *err);

/* Every fact in id order with its symbols, from one cursor moving forward
 * over the fact records (no dictionary access): fn once per fact; a
 * return other than HK_OK stops the scan and is returned. */
hk_err hks_facts_syms_scan(hk_txn *t, hks_syms_fn fn, void *ud, hk_error *err);

/* Called by hks_entities_scan once per entity: its symbol id and string
 * (not NUL-terminated, valid during the call). */
typedef hk_err (*hks_entity_fn)(void *ud, uint32_t id, const char *s,
                                size_t len, hk_error *err);
/* Every entity (a symbol that is an argument of a live fact) in symbol id
 * order with its string, from two cursors moving forward together: the
 * keys of by_arg and the id -> string dictionary. Unlike
 * hk_store_list_entities (name order: a by_arg seek and a dictionary
 * lookup per entity, in random order), every page is read once in order. */
hk_err hks_entities_scan(hk_txn *t, hks_entity_fn fn, void *ud, hk_error *err);
/* Every fact of predicate pred (any arity): hks_pred_open with
 * HKS_PRED_BY_KEY, each fact given to fn. */
hk_err hks_pred_syms_scan(hk_txn *t, uint32_t pred, hks_syms_fn fn, void *ud,
                          hk_error *err);

/* The id of the fact whose symbols are fs (one lookup in the statement
 * index, no dictionary access). HK_ERR_NOT_FOUND when there is none. */
hk_err hks_fact_find_syms(hk_txn *t, const hks_fact_syms *fs, hk_fact_id *id,
                          hk_error *err);

/* One mention of an entity: fact `fact` has it at argument position pos
 * (0-based) and predicate pred. For a binary fact co is its other argument
 * (so the fact's symbols are known without reading it: hks_adj_row_syms);
 * 0 for any other arity. */
typedef struct hks_adj_row {
    hk_fact_id fact; /* the fact */
    uint32_t pred;   /* its predicate symbol id */
    uint32_t pos;    /* 0-based argument position of the entity */
    uint32_t co;     /* other argument of a binary fact, else 0 */
} hks_adj_row;

/* The symbols of row's fact when the row covers them (a binary fact):
 * entity is the one the adjacency was opened on. False otherwise. */
static inline bool hks_adj_row_syms(const hks_adj_row *row, uint32_t entity,
                                    hks_fact_syms *fs)
{
    if (!row->co || row->pos > 1) return false;
    fs->pred = row->pred;
    fs->n_args = 2;
    fs->args[row->pos] = entity;
    fs->args[1 - row->pos] = row->co;
    return true;
}

/* Streams the mentions of entity in index order: by position, then
 * predicate, then fact id. pos < 0: any position; pos >= 0 with pred != 0:
 * only that position and predicate; pred without a position is refused
 * (HK_ERR_INVALID). A fact naming the entity twice gives one row per
 * position. Close with hks_adj_close before the txn ends. */
typedef struct hks_adj hks_adj;
hk_err hks_adj_open(hk_txn *t, uint32_t entity, int pos, uint32_t pred,
                    hks_adj **out, hk_error *err);
/* Next row; *has_row false at the end (and on every later call). */
hk_err hks_adj_next(hks_adj *a, hks_adj_row *row, bool *has_row, hk_error *err);
void hks_adj_close(hks_adj *a);

/* Streams the facts of predicate pred (any arity) with their symbols.
 * HKS_PRED_BY_ID: in id order, the by_pred ids a leaf page at a time and
 * each record through one cursor that moves forward. HKS_PRED_BY_KEY: in
 * the statement index's order (not by id), from its keys alone: one
 * sequential range, no fact record and no dictionary access. Close with
 * hks_pred_close before the txn ends. */
typedef enum hks_pred_order {
    HKS_PRED_BY_ID = 0, /* ascending fact id */
    HKS_PRED_BY_KEY = 1 /* statement key order: cheapest */
} hks_pred_order;
typedef struct hks_pred_walk hks_pred_walk;
hk_err hks_pred_open(hk_txn *t, uint32_t pred, hks_pred_order order,
                     hks_pred_walk **out, hk_error *err);
/* Next fact; *has_row false at the end (and on every later call). */
hk_err hks_pred_next(hks_pred_walk *w, hk_fact_id *id, hks_fact_syms *fs,
                     bool *has_row, hk_error *err);
void hks_pred_close(hks_pred_walk *w);

/* Counts without scanning: *mentions = rows hks_adj_open(entity, -1)
 * gives, *facts = distinct facts among them. Either may be NULL. */
hk_err hks_entity_count(hk_txn *t, uint32_t entity, uint64_t *mentions,
                        uint64_t *facts, hk_error *err);
/* *facts as hks_entity_count gives it, or, once it is known to be above
 * upto, some number above upto: a hub entity's rows are summed over its
 * chunks, and a planner that only compares the count with upto need not
 * sum them all. */
hk_err hks_entity_count_upto(hk_txn *t, uint32_t entity, uint64_t upto,
                             uint64_t *facts, hk_error *err);
/* Facts with predicate pred. */
hk_err hks_pred_count(hk_txn *t, uint32_t pred, uint64_t *facts, hk_error *err);

/* ==== Write-ahead log (wal.c) ====
 * For a KB opened with hk_store_options.wal: a commit with a log record
 * (hks_txn_set_wal) skips LMDB's sync and appends the record to DIR/wal
 * instead; hk_store_sync then syncs the log (one small sequential write
 * per group), and a background checkpoint makes LMDB's pages durable and
 * drops the records before it. After an unclean stop the open rolls
 * data.mdb back to the last checkpoint and hks_wal_start replays the
 * records after it. Design and safety argument: docs/STORAGE.md,
 * "Write-ahead log". */

/* Applies one logged record in write txn t during recovery (the same
 * inputs in the same order as when it was logged); the store commits t.
 * An error stops the recovery (hks_wal_start returns it). */
typedef hk_err (*hks_wal_replay_fn)(void *ud, hk_txn *t, const void *rec,
                                    size_t len, hk_error *err);

typedef struct hks_wal_options {
    hks_wal_replay_fn replay;  /* required */
    void *ud;                  /* passed back to replay */
    uint32_t checkpoint_ms;    /* most time between checkpoints; 0 = 1000 */
    uint64_t checkpoint_bytes; /* log bytes that start one early; 0 = a
                                  quarter of log_bytes, at most 64 MiB */
    uint64_t log_bytes;        /* size of the log's ring (rounded down to
                                  4096, at least 12 KiB); 0 = 64 MiB */
} hks_wal_options;

/* What hks_wal_start did. */
typedef struct hks_wal_report {
    bool recovered;      /* the log was not closed cleanly */
    uint64_t checkpoint; /* LMDB txn id data.mdb was rolled back to */
    uint64_t records;    /* records replayed */
    uint64_t bytes;      /* their bytes, headers included */
    uint32_t laps;       /* times the replay went on at the ring's
                            beginning (0 or 1) */
    char tail[160];      /* how the log ended ("clean end", or the
                            offset and kind of the torn record) */
} hks_wal_report;

/* Starts the log on s (opened with opt.wal, before other threads use
 * it): replays what an unclean stop left (rep says what), checkpoints and
 * starts the checkpoint thread. Until hk_store_close, other processes
 * can read the KB but not write it (HK_ERR_BUSY). */
hk_err hks_wal_start(hk_store *s, const hks_wal_options *o, hks_wal_report *rep,
                     hk_error *err);
/* True once hks_wal_start succeeded (until close or a log failure, after
 * which commits are synced by LMDB again). */
bool hks_wal_active(hk_store *s);
/* Sets the log record of write txn t: its commit skips LMDB's sync and
 * appends rec (borrowed until the commit returns) to the log instead; the
 * commit is durable once hk_store_sync ran after it. Without one, a
 * commit of a WAL store is synced by LMDB as always and counts as a
 * checkpoint. No-op when the log is not active. */
void hks_txn_set_wal(hk_txn *t, const void *rec, size_t len);

typedef struct hks_wal_stats {
    uint64_t records;        /* records appended */
    uint64_t bytes;          /* bytes appended, headers included */
    uint64_t syncs;          /* fdatasync calls on the log */
    uint64_t checkpoints;    /* checkpoints completed */
    uint64_t synced_commits; /* commits without a record (synced by LMDB) */
} hks_wal_stats;
void hks_wal_get_stats(hk_store *s, hks_wal_stats *out);

/* Test hook: called by the checkpoint after data.mdb is synced and before
 * the header naming it is written (the power-loss tests copy the durable
 * image there). NULL in production. */
extern void (*hks_wal_test_synced)(hk_store *s, const char *data_path);

#endif /* HKS_STORE_H */
