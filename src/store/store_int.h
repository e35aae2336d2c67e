/*
 * store_int.h — internals shared by the files of src/store (never included
 * outside this folder).
 *
 * The store is one LMDB environment with named databases (see
 * docs/STORAGE.md for the full layout):
 *
 *   meta            name -> value (schema version, counters, audit head)
 *   sym             symbol key (string, long strings hashed) -> sym id u32 BE
 *   sym_id          sym id (native, INTEGERKEY) -> string bytes
 *   fact            fact id (native, INTEGERKEY) -> compact record
 *   stmt            pred sym, arg syms (hks_symkey_put) -> fact id (varint)
 *   by_pred         DUPSORT|DUPFIXED pred sym -> fact id (u48 BE)
 *   by_arg          DUPSORT|DUPFIXED entity sym u32 BE [+ chunk start, 15
 *                   bytes] -> pos u8, pred u32, id u48, co-argument u32
 *                   (binary facts; 0 otherwise); chunks in argidx.c
 *   arg_multi       entity sym -> u64 extra mentions (same entity twice in
 *                   one fact), so entity counts stay exact
 *   pstat           pred sym u32 BE, arity u8 -> u64 count
 *   pred_names      symbol key of a predicate in use -> sym id (dictionary
 *                   ordered predicate listing without scanning entities)
 *   tok             DUPSORT|DUPFIXED search token -> sym id u32 BE
 *   audit           seq u64 BE -> entry (audit.c)
 *   audit_by_fact   DUPSORT|DUPFIXED fact id u64 BE -> seq u64 BE
 *   audit_bulk      last fact id of an import range u64 BE -> first id, seq
 *
 * Names: the public API (include/hakgal.h) is hk_ / HK_; everything of
 * the store that is not public, here and in store.h, is hks_ / HKS_.
 *
 * Threads: an hk_store is shared; an hk_txn and everything opened inside it
 * belongs to one thread at a time. Read transactions may move between
 * threads (MDB_NOTLS); a write transaction must end on the thread that
 * began it (LMDB's writer mutex).
 */
#ifndef HKS_STORE_INT_H
#define HKS_STORE_INT_H

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "hakgal.h"
#include "store/store.h"

/* On-disk format. 2: varint stmt keys, 6-byte ids in duplicates. 3: by_arg
 * duplicates carry the co-argument of binary facts (covering adjacency).
 * 4: an entity's by_arg rows are split over chunk keys (argidx.c). 5: stmt
 * keys in an order-preserving code (hks_symkey_put). 6: a heavy entity's
 * newest by_arg rows may sit in by_arg_tail (argidx.c). A version 2 to 5
 * KB is upgraded when opened for writing (store.c, upgrade.c). */
#define HKS_SCHEMA_VERSION 6u
#define HKS_SCHEMA_VERSION_OLDEST 2u

/* Strings up to this many bytes are their own `sym` key; longer strings are
 * keyed by a prefix, a NUL and the SHA-256 of the whole string. */
#define HKS_SYM_KEY_DIRECT_MAX 480u
#define HKS_SYM_KEY_PREFIX 440u
/* Length of a hashed key: prefix, NUL, SHA-256. */
#define HKS_SYM_KEY_HASHED (HKS_SYM_KEY_PREFIX + 1u + 32u)
/* Bytes a key buffer needs: the longer of a direct and a hashed key. */
#define HKS_SYM_KEY_MAX HKS_SYM_KEY_DIRECT_MAX
_Static_assert(HKS_SYM_KEY_HASHED <= HKS_SYM_KEY_MAX, "sym key buffer");

/* Fact ids are stored in 6 bytes inside the duplicate lists (by_pred,
 * by_arg): 2^48 - 1 ids are enough, and 2 bytes less per entry add up. */
#define HKS_ID_BYTES 6u
#define HKS_MAX_FACT_ID ((1ull << 48) - 1)
/* by_arg duplicate value: position u8, predicate u32 BE, fact id u48 BE,
 * co-argument u32 BE. The co-argument is the other argument of a binary
 * fact (0 for any other arity), so that a join learns P(E, ?x)'s ?x from
 * the adjacency alone, without reading the record: the covering index
 * SQLite gets from (pred, a0, a1). It sorts last, so the order by
 * (position, predicate, id) and every prefix seek are unchanged. */
#define HKS_ARG_DUP_BYTES (1u + 4u + HKS_ID_BYTES + 4u)
/* by_arg duplicate of version 2 KBs (no co-argument), read by the upgrade. */
#define HKS_ARG_DUP_BYTES_V2 (1u + 4u + HKS_ID_BYTES)
/* by_arg key (format 4, argidx.c): the entity u32 BE alone (4 bytes) for
 * its first chunk, followed by the chunk's first row (this many bytes) for
 * the others. */
#define HKS_ARG_KEY_BYTES (4u + HKS_ARG_DUP_BYTES)

/* Direct-mapped cache of sym id -> string inside the txn's snapshot. */
#define HKS_SYM_CACHE_SIZE 1024u

/* Search tokens longer than this are not indexed. */
#define HKS_TOKEN_MAX_BYTES 64u
/* Tokens indexed per symbol at most (long arguments). */
#define HKS_TOKENS_PER_SYMBOL 64u

typedef struct hks_store_dbs {
    MDB_dbi meta;          /* name -> value */
    MDB_dbi sym;           /* symbol key -> sym id */
    MDB_dbi sym_id;        /* sym id -> string */
    MDB_dbi fact;          /* fact id -> record */
    MDB_dbi stmt;          /* statement ids -> fact id */
    MDB_dbi by_pred;       /* pred -> fact ids */
    MDB_dbi by_arg;        /* entity -> (pos, pred, id) */
    MDB_dbi arg_multi;     /* entity -> extra mentions */
    MDB_dbi pstat;         /* (pred, arity) -> count */
    MDB_dbi pred_names;    /* predicate names in use */
    MDB_dbi tok;           /* token -> sym ids */
    MDB_dbi audit;         /* seq -> entry */
    MDB_dbi audit_by_fact; /* fact id -> seqs */
    MDB_dbi audit_bulk;    /* last id of import range -> (first id, seq) */
    MDB_dbi by_arg_tail;   /* entity -> its newest rows (argidx.c) */
} hks_store_dbs;

/* The store's own databases (hks_store_dbs) and the most module databases
 * (store.h): what maxdbs of every environment of a KB is set to. */
#define HKS_FIXED_DBS 15u
#define HKS_DBS_MAX (HKS_FIXED_DBS + HKS_MODULE_DBS_MAX)
_Static_assert(sizeof(hks_store_dbs) == HKS_FIXED_DBS * sizeof(MDB_dbi),
               "HKS_FIXED_DBS counts hks_store_dbs");

/* `meta` keys recording the module databases of a KB: this prefix and the
 * name -> u32 BE HKS_DB_* flags (ext.c). */
#define HKS_MODULE_DB_KEY "module_db:"

/* A module database registered on the handle (ext.c). */
typedef struct hks_module_db {
    char name[HKS_DB_NAME_MAX + 1]; /* "module.name", NUL-terminated */
    unsigned flags;                 /* HKS_DB_* */
    MDB_dbi dbi;                    /* LMDB handle */
} hks_module_db;

/* A change hook added to the handle (ext.c). */
typedef struct hks_hook_slot {
    char name[HKS_DB_NAME_MAX + 1]; /* copy of hks_hook.name */
    hks_hook h;                     /* the hook; h.name points at name */
} hks_hook_slot;

typedef struct hks_symtab hks_symtab;
typedef struct hks_symcache hks_symcache;
typedef struct hks_pending hks_pending;
typedef struct hks_bloom hks_bloom;

/* One LMDB environment of the store. Online compaction (compact.c) swaps
 * the store's current environment for a new one while transactions of the
 * old one go on; the old one is closed when its last transaction ends. */
typedef struct hks_env {
    MDB_env *env;    /* the LMDB environment */
    void *fault_map; /* its map, registered with faultguard.c (or NULL) */
    uint64_t refs;   /* transactions on it (active or reset), plus one while
                        it is the store's current environment; under
                        env_mu */
} hks_env;

struct hk_store {
    _Atomic(hks_env *) cur;    /* current environment: new transactions
                                  begin on it (written under env_mu and
                                  writer_mu, read lock-free by renew) */
    pthread_mutex_t env_mu;    /* guards cur's swap, every hks_env.refs and
                                  txnid_base */
    bool env_mu_init;          /* env_mu was initialised */
    int64_t txnid_base;        /* added to LMDB's last txn id in
                                  hk_store_last_commit, so that it never goes
                                  back when a compaction restarts the ids */
    _Atomic uint64_t durable;  /* hk_store_durable_commit: newest commit
                                  (hk_store_last_commit numbering) on disk */
    _Atomic uint64_t own;      /* hks_store_own_commit: the newest commit of
                                  this handle, set before it is visible */
    bool broken;               /* an online compaction replaced data.mdb but
                                  could not open it: writes are refused
                                  (they would go to the old, unlinked file) */
    hks_symtab *symtab;        /* writer's string -> sym id cache (symtab.c);
                                 used only inside write transactions */
    hks_symcache *symcache;    /* shared sym id -> string cache (symbols.c);
                                 lock-free, any thread */
    pthread_mutex_t writer_mu; /* held by this process's write txn from
                               begin until after its cleanup; guards
                               symtab, bloom and writer_txnid (LMDB's own
                               writer lock is released inside commit/abort,
                               before that cleanup) */
    bool writer_mu_init;       /* writer_mu was initialised */
    hks_bloom *bloom;          /* writer's filter over stmt keys (bloom.c) */
    size_t writer_txnid;       /* LMDB id of the last write txn this handle
                                  committed (another id in between = another
                                  writer: the writer caches lose trust) */
    bool symtab_complete;      /* symtab holds every symbol of the KB, so a
                                  miss means "absent" (no B-tree lookup) */
    hks_store_dbs db;          /* named database handles */
    char *path;                /* KB directory (owned) */
    char *data_path;           /* dir/data.mdb (owned) */
    hk_store_options opt;      /* options as opened (defaults filled in) */
    uint32_t schema_version;   /* on-disk version read at open */
    uint32_t psize;            /* LMDB page size, bytes (bounds checks of
                                  values read from pages) */
    uint32_t arg_chunk;        /* rows at which a by_arg chunk splits
                                  (hks_arg_chunk_rows of the env's page) */
    bool open_registered;      /* dir is in this process's table of open
                                  KBs (store.c, one environment per file) */
    dev_t open_dev;            /* the KB directory's device and inode, the */
    ino_t open_ino;            /* key of that table */
    int lock_fd;               /* DIR/hakgal.lock holding flock(LOCK_SH)
                                  until close, so that compaction and restore
                                  (LOCK_EX) never replace data.mdb under an
                                  open handle; -1 when not held */
    hks_module_db mod[HKS_MODULE_DBS_MAX]; /* module databases; handle i + 1
                                              is mod[i] (changed under
                                              writer_mu only) */
    uint32_t n_mod;                        /* used entries of mod */
    hks_hook_slot hooks[HKS_HOOKS_MAX];    /* change hooks, in call order
                                              (changed under writer_mu) */
    uint32_t n_hooks;                      /* used entries of hooks */
    unsigned hook_events;  /* union of the hooks' events: one test on
                              the write path when no hook wants a kind */
    bool has_commit_hooks; /* some hook has on_commit */
    hks_pending *spare;    /* the pending-write buffers of the last write
                              txn, empty, handed to the next one (pending.c,
                              hks_pending_keep); under writer_mu */
    struct hks_wal *wal;   /* the write-ahead log (wal.c): set by an open with
                              opt.wal, running after hks_wal_start */
    int wal_lock_fd;       /* DIR/wal.lock: the log's owner holds LOCK_EX for
                              its lifetime; another writable handle takes
                              LOCK_SH for each write txn; -1 when none */
};

/* Counters kept in `meta`; a write txn loads them at begin and stores the
 * changed ones at commit. */
typedef struct hks_counters {
    uint64_t facts;         /* facts stored */
    uint64_t predicates;    /* by_pred keys */
    uint64_t entities;      /* by_arg keys */
    uint64_t next_fact_id;  /* next id to assign (>= 1) */
    uint64_t next_sym_id;   /* next symbol id (>= 1) */
    uint64_t audit_seq;     /* seq of the newest audit entry (0 = none) */
    uint8_t audit_hash[32]; /* hash of the newest audit entry */
    int64_t last_change_us; /* time of the newest audit entry */
    bool has_digest;        /* the KB keeps a data digest (verify.c) */
    uint64_t digest[4];     /* sum of the element hashes of every fact
                               record and symbol, per 64-bit lane */
} hks_counters;

typedef struct hks_sym_cache_entry {
    uint32_t id;     /* sym id (0 = empty) */
    uint32_t len;    /* string length */
    uint64_t gen;    /* txn generation when filled */
    const char *ptr; /* string bytes inside the LMDB map */
} hks_sym_cache_entry;

/* Index writes collected by a write txn, written sorted at flush
 * (pending.c). */
typedef struct hks_pending_stmt {
    uint32_t off;  /* key offset in keys */
    uint32_t len;  /* key length */
    hk_fact_id id; /* fact id (the value) */
} hks_pending_stmt;

typedef struct hks_pending_arg {
    uint8_t k[4 + HKS_ARG_DUP_BYTES]; /* entity u32 BE + by_arg duplicate */
} hks_pending_arg;

typedef struct hks_pending_pred {
    uint8_t k[4 + HKS_ID_BYTES]; /* predicate u32 BE + by_pred duplicate
                                   (fact id u48 BE) */
} hks_pending_pred;

typedef struct hks_pending {
    hk_buf tok_keys;        /* concatenated search tokens */
    hks_pending_stmt *tok;  /* pending tok entries (id = sym id) */
    size_t n_tok;           /* used */
    size_t cap_tok;         /* allocated */
    hk_buf keys;            /* concatenated stmt keys */
    hks_pending_stmt *stmt; /* pending stmt entries */
    size_t n_stmt;          /* used */
    size_t cap_stmt;        /* allocated */
    uint64_t *index;        /* hash index: high 32 bits of the key's
                               hash << 32 | entry + 1; 0 = empty */
    size_t index_mask;      /* index slots - 1 */
    uint64_t *big_index;    /* an empty index of a txn that outgrew the
                               kept size, kept for the next such txn, or
                               NULL (pending.c, grow_index) */
    size_t big_mask;        /* its slots - 1 */
    hk_buf sym_keys;        /* concatenated sym keys */
    hks_pending_stmt *sym;  /* pending sym entries of new symbols (id =
                              sym id); only symbols the writer's symtab
                              holds, so lookups in the txn find them */
    size_t n_sym;           /* used */
    size_t cap_sym;         /* allocated */
    hks_pending_pred *pred; /* pending by_pred entries of new facts, in
                              id order */
    size_t n_pred;          /* used */
    size_t cap_pred;        /* allocated */
    hks_pending_arg *arg;   /* pending by_arg entries */
    size_t n_arg;           /* used */
    size_t cap_arg;         /* allocated */
    void *scratch;          /* work area of the flush's sorts */
    size_t cap_scratch;     /* its bytes */
} hks_pending;

/* Pending change of one pstat counter (pred, arity), applied at flush. */
typedef struct hks_pstat_delta {
    uint32_t key;  /* pred << 6 | arity; 0 = empty slot */
    int32_t delta; /* change of the count */
} hks_pstat_delta;
#define HKS_PSTAT_SLOTS 1024u

struct hk_txn {
    hk_store *s;             /* owning store */
    hks_env *ge;             /* environment the txn runs on (one reference) */
    MDB_txn *txn;            /* LMDB transaction */
    bool write;              /* write transaction */
    size_t txnid;            /* LMDB transaction id */
    bool failed;             /* an op failed mid-write: commit refuses */
    bool active;             /* read txn: snapshot held (not reset) */
    bool counters_dirty;     /* counters changed since begin */
    hks_counters c;          /* counters (write txns: authoritative copy) */
    char *actor;             /* audit actor (owned), NULL = "local" */
    int64_t clock_us;        /* fixed time of this txn's changes (replicated
                                apply), 0 = the wall clock */
    bool no_sync;            /* commit without fsync (hks_txn_set_no_sync) */
    const void *wal_rec;     /* log record of the commit (hks_txn_set_wal),
                                borrowed; NULL: none */
    size_t wal_len;          /* its length, bytes */
    bool wal_shared;         /* holds LOCK_SH on wal.lock (another process's
                                log is excluded while it writes) */
    bool bulk;               /* bulk mode: created facts get one entry */
    bool bloom_lazy;         /* the Bloom filter is to be (re)built at the
                                first statement lookup that asks it
                                (hk_txn_set_bulk, hks_txn_bloom_ensure) */
    uint64_t stmt_sym_floor; /* write txns: symbol ids >= it are in no
                              stmt key of LMDB (sym_floor, or next_sym_id
                              at the last flush that wrote stmt keys), so
                              a statement naming one is in the queue or
                              nowhere (stmt_lookup, facts.c) */
    char *bulk_label;        /* label of the import entry (owned) */
    hk_fact_id bulk_first;   /* first id created in bulk mode (0 = none) */
    hk_fact_id bulk_last;    /* last id created in bulk mode */
    uint64_t bulk_count;     /* facts created in bulk mode */
    void *bulk_digest;       /* EVP_MD_CTX over canonical statements */
    uint64_t gen;            /* bumped whenever mmap pointers may go stale */
    hk_buf scratch;          /* reusable buffer for formatting */
    bool new_syms;           /* symbols were created (abort drops symtab) */
    uint64_t sym_floor;      /* write txns: first sym id this txn may create;
                                ids >= it are uncommitted and must never
                                enter the shared id -> string cache, since
                                an abort hands them out again */
    MDB_cursor *c_by_pred;   /* write cursor on by_pred (closed by LMDB) */
    MDB_cursor *c_by_arg;    /* write cursor on by_arg (closed by LMDB) */
    MDB_cursor *c_tail;      /* write cursor on by_arg_tail (the same) */
    MDB_cursor *c_fact;      /* write cursor on fact for appends: it stays
                                at the last page (closed by LMDB) */
    hks_pending pend;        /* deferred stmt / by_arg writes */
    uint64_t seq_begin;      /* write txns: audit head at begin (the after-
                                commit hooks get the entries above it) */
    uint32_t hook_depth;     /* change hooks running (nested changes) */
    uint32_t n_pstat;        /* used slots in pstat */
    hks_pstat_delta pstat[HKS_PSTAT_SLOTS];        /* pending pstat changes */
    hks_sym_cache_entry cache[HKS_SYM_CACHE_SIZE]; /* sym id -> string */
};

/* ==== Integer keys ====
 * `fact` (fact id) and `sym_id` (sym id) are MDB_INTEGERKEY databases:
 * keys are native size_t / unsigned int and LMDB compares them as
 * integers, which is cheaper than memcmp on the hottest lookups (decoding
 * query rows). Everything else (cursors, other keys) stays big-endian. */
_Static_assert(sizeof(size_t) == 8, "fact ids need a 64-bit size_t");
#define HKS_FACT_KEY(name, id)                                                 \
    size_t name##_v = (size_t)(id);                                            \
    MDB_val name = {sizeof(size_t), &name##_v}
#define HKS_SYM_ID_KEY(name, id)                                               \
    unsigned int name##_v = (unsigned int)(id);                                \
    MDB_val name = {sizeof(unsigned int), &name##_v}
static inline uint64_t hks_fact_key_id(const MDB_val *k)
{
    size_t v;
    memcpy(&v, k->mv_data, sizeof v);
    return v;
}

/* ==== String hash (symbol caches) ====
 * 8 bytes per step; never 0 (0 marks an empty slot). */
static inline uint64_t hks_hash_bytes(const char *s, size_t len)
{
    uint64_t h =
        0x9E3779B97F4A7C15ull ^ ((uint64_t)len * 0xff51afd7ed558ccdull);
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
        s += 8;
        len -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, len);
    h = (h ^ w) * 0x94d049bb133111ebull;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return h ? h : 1;
}

/* ==== Big-endian codecs ==== */

static inline void hks_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline uint32_t hks_get_u32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}
static inline void hks_put_u64(uint8_t *p, uint64_t v)
{
    hks_put_u32(p, (uint32_t)(v >> 32));
    hks_put_u32(p + 4, (uint32_t)v);
}
static inline uint64_t hks_get_u64(const uint8_t *p)
{
    return ((uint64_t)hks_get_u32(p) << 32) | hks_get_u32(p + 4);
}
static inline void hks_put_u48(uint8_t *p, uint64_t v)
{
    p[0] = (uint8_t)(v >> 40);
    p[1] = (uint8_t)(v >> 32);
    hks_put_u32(p + 2, (uint32_t)v);
}
static inline uint64_t hks_get_u48(const uint8_t *p)
{
    return ((uint64_t)p[0] << 40) | ((uint64_t)p[1] << 32) | hks_get_u32(p + 2);
}

/* ==== Statement keys ====
 * A `stmt` key is the predicate's and the arguments' sym ids, each in an
 * order-preserving, prefix-free code (hks_symkey_put), and the value is the
 * fact id as an unsigned LEB128 varint. The code keeps the keys short
 * (about 7 bytes for a binary fact instead of 12) and sorts them like the
 * id tuples: the facts of a predicate are one range in (arg0, arg1, ...)
 * order, and a fact that mentions a new symbol (the highest id so far)
 * lands at the end of its predicate's and first argument's range, so the
 * facts of one commit that introduce new objects share a leaf instead of
 * each writing a leaf of its own (format 5; format 2 to 4 used LEB128
 * varints, whose low bits come first). */
#define HKS_STMT_KEY_MAX (5u * (1u + HK_MAX_ARGS))
#define HKS_STMT_VAL_MAX 10u

static inline size_t hks_varint_put(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* Decodes a varint filling exactly len bytes; false when malformed. */
static inline bool hks_varint_exact(const void *data, size_t len, uint64_t *v)
{
    const uint8_t *p = data;
    uint64_t r = 0;
    if (len == 0 || len > 10) return false;
    for (size_t i = 0; i < len; i++) {
        r |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) return i + 1 == len && (*v = r, true);
    }
    return false;
}

/* Order-preserving code of a u32: the count of leading 1 bits of the first
 * byte is the count of bytes that follow, big-endian, so that memcmp of two
 * codes orders them as the numbers and no code is a prefix of another.
 *   0xxxxxxx                          < 2^7
 *   10xxxxxx + 1 byte                 < 2^14
 *   110xxxxx + 2 bytes                < 2^21
 *   1110xxxx + 3 bytes                < 2^28
 *   11110000 + 4 bytes                the rest
 * The first byte of the code of an id >= 1 is never 0 (pending.c relies on
 * it). Returns the bytes written (1..5). */
static inline size_t hks_symkey_put(uint8_t *p, uint32_t v)
{
    if (v < (1u << 7)) {
        p[0] = (uint8_t)v;
        return 1;
    }
    if (v < (1u << 14)) {
        p[0] = (uint8_t)(0x80 | (v >> 8));
        p[1] = (uint8_t)v;
        return 2;
    }
    if (v < (1u << 21)) {
        p[0] = (uint8_t)(0xC0 | (v >> 16));
        p[1] = (uint8_t)(v >> 8);
        p[2] = (uint8_t)v;
        return 3;
    }
    if (v < (1u << 28)) {
        p[0] = (uint8_t)(0xE0 | (v >> 24));
        p[1] = (uint8_t)(v >> 16);
        p[2] = (uint8_t)(v >> 8);
        p[3] = (uint8_t)v;
        return 4;
    }
    p[0] = 0xF0;
    p[1] = (uint8_t)(v >> 24);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 8);
    p[4] = (uint8_t)v;
    return 5;
}

/* Decodes the code at p[*off] (len bytes in all) and advances *off; false
 * when it is cut short or not the shortest code of its value, which a
 * well-formed key never holds. */
static inline bool hks_symkey_get(const uint8_t *p, size_t len, size_t *off,
                                  uint32_t *v)
{
    if (*off >= len) return false;
    uint8_t b = p[*off];
    size_t extra = b < 0x80    ? 0
                   : b < 0xC0  ? 1
                   : b < 0xE0  ? 2
                   : b < 0xF0  ? 3
                   : b == 0xF0 ? 4
                               : 5;
    if (extra > 4 || len - *off < 1 + extra) return false;
    static const uint8_t mask[5] = {0x7F, 0x3F, 0x1F, 0x0F, 0x00};
    uint32_t r = b & mask[extra];
    for (size_t i = 1; i <= extra; i++)
        r = (r << 8) | p[*off + i];
    static const uint32_t least[5] = {0, 1u << 7, 1u << 14, 1u << 21, 1u << 28};
    if (r < least[extra]) return false;
    *off += 1 + extra;
    *v = r;
    return true;
}

static inline size_t hks_stmt_key(uint32_t pred, uint32_t n,
                                  const uint32_t *args,
                                  uint8_t out[HKS_STMT_KEY_MAX])
{
    size_t len = hks_symkey_put(out, pred);
    for (uint32_t i = 0; i < n; i++)
        len += hks_symkey_put(out + len, args[i]);
    return len;
}

/* ==== store.c ==== */

/* Maps an LMDB return code to hk_err, fills err, and marks a write txn
 * failed (t may be NULL). */
hk_err hks_store_mdb_error(hk_txn *t, int rc, hk_error *err, const char *what);
/* The named databases of s (the store's own, then the module databases):
 * how many, and name / LMDB flags / handle of one. */
size_t hks_store_db_count(const hk_store *s);
void hks_store_db_spec(const hk_store *s, size_t i, const char **name,
                       unsigned *flags, MDB_dbi *dbi);
/* The store's current environment with one more reference (never NULL
 * on an open store); hks_env_release drops it and closes a retired
 * environment whose last reference it was. Any thread. */
hks_env *hks_env_acquire(hk_store *s);
void hks_env_release(hk_store *s, hks_env *e);
/* Creates and opens an LMDB environment on dir with s's options (flags,
 * map size, readers), opens every database of s in it and checks that each
 * gets the handle s uses (so that cached handles stay valid), and registers
 * its map with faultguard.c. *out owns it with refs = 1. */
hk_err hks_env_open(hk_store *s, const char *dir, hks_env **out, hk_error *err);
/* Makes e (from hks_env_open) the current environment of s and retires the
 * old one (closed when its last transaction ends). The caller holds
 * writer_mu. */
void hks_env_swap(hk_store *s, hks_env *e);
/* mkdir -p dir (0755). */
hk_err hks_store_make_dir(const char *dir, hk_error *err);

/* The process lock: every handle holds flock(LOCK_SH) on DIR/hakgal.lock;
 * compaction and restore take LOCK_EX. flock locks belong to an open file
 * description, so they are independent of LMDB's fcntl locks on lock.mdb
 * and conflict between two descriptions even in one process. */
#define HKS_LOCK_FILE "hakgal.lock"

/* ==== Write-ahead log (wal.c) ==== */
/* At open, after the process lock and before LMDB sees data.mdb: the log's
 * lock, and the rollback of data.mdb to the last checkpoint when the log
 * was not closed cleanly (an opener with opt.wal), or the refusal to open
 * such a KB (anyone else). */
hk_err hks_wal_open(hk_store *s, const char *dir, hk_error *err);
/* At close, before the environment goes: a last checkpoint that leaves
 * the log clean, then the log's resources. */
void hks_wal_close(hk_store *s);
/* After LMDB opened a KB that hks_wal_open rolled back: pins the snapshot
 * the replay starts from. */
hk_err hks_wal_opened(hk_store *s, hk_error *err);
/* A write txn of a handle that does not own the log: HK_ERR_BUSY while
 * another process runs the log (t holds LOCK_SH on wal.lock until freed). */
hk_err hks_wal_write_begin(hk_txn *t, hk_error *err);
void hks_wal_write_end(hk_txn *t);
/* The commit of write txn t on a store with an active log, in place of
 * mdb_txn_commit (writer_mu held): with a record, a commit without sync
 * and the record appended; without one, a synced commit and a checkpoint
 * at it. Returns LMDB's code of the commit; a failure of the log after a
 * successful commit is handled inside (the commit is synced instead). */
int hks_wal_commit(hk_txn *t);
/* After a commit that LMDB synced outside hk_txn (a module database's
 * registration, ext.c), writer_mu held: that commit becomes the
 * checkpoint, as every synced commit does, so that the log's records
 * follow it without a gap. 0 or an errno (the log then refuses writes). */
int hks_wal_synced_commit(hk_store *s);
/* hk_store_sync of a store with an active log: syncs the log. */
hk_err hks_wal_sync(hk_store *s, hk_error *err);
/* Online compaction: before data.mdb is replaced (writer_mu held), a
 * checkpoint that leaves the log clean and drops its pin; after the swap,
 * a checkpoint on the new file. */
hk_err hks_wal_before_swap(hk_store *s, hk_error *err);
/* Offline replacement of data.mdb (the caller holds hakgal.lock
 * exclusively). hks_wal_check_clean: HK_ERR_STATE when DIR's log was not
 * closed cleanly (its records would be lost, or replayed onto another
 * file). hks_wal_discard: removes DIR's log (a restore replaces the
 * content it logged), durably, before the new file goes in place. */
hk_err hks_wal_check_clean(const char *dir, hk_error *err);
hk_err hks_wal_discard(const char *dir, hk_error *err);
void hks_wal_after_swap(hk_store *s);
/* Opens DIR/hakgal.lock (created 0644 when create and missing), O_CLOEXEC.
 * Returns the fd, or -1 with errno set. */
int hks_kb_lock_open(const char *dir, bool create);
/* flock(fd, op | LOCK_NB), retried on EINTR. 0, or the errno (EWOULDBLOCK
 * when another description holds a conflicting lock). */
int hks_kb_lock_try(int fd, int op);
/* hk_store_open without the process lock, for code that already holds
 * LOCK_EX on the KB (compact.c). */
hk_err hks_store_open_unlocked(const char *dir, const hk_store_options *opt,
                               hk_store **out, hk_error *err);
/* HK_ERR_STATE unless t is a live write transaction. */
hk_err hks_txn_check_write(hk_txn *t, hk_error *err);
/* HK_ERR_STATE when a read txn has been reset. */
hk_err hks_txn_check_read(hk_txn *t, hk_error *err);
/* Reads counters from meta (read txns: fresh each call). */
hk_err hks_txn_load_counters(hk_txn *t, hks_counters *c, hk_error *err);
/* Marks pointers into the map as stale (after a write in this txn). */
static inline void hks_txn_touch(hk_txn *t)
{
    t->gen++;
}

/* Writes pending counters (pstat) into LMDB; write txns only. Called
 * before commit and before anything reads those tables in the txn. */
hk_err hks_txn_flush(hk_txn *t, hk_error *err);
/* Builds the Bloom filter (bloom.c) when hk_txn_set_bulk asked for it
 * (t->bloom_lazy): the queue is flushed first, so that it sees every key
 * of this txn too. A failure leaves no filter (lookups go to the B-tree). */
void hks_txn_bloom_ensure(hk_txn *t);

/* ==== backup.c ==== */

/* Copies every database of s, as of one read snapshot, into a new
 * environment at path (a directory, or the data file itself when env_flags
 * has MDB_NOSUBDIR), in key order with appends, so every page is full.
 * Committed in steps, then synced; no lock file is written (MDB_NOLOCK). */
hk_err hks_dense_copy(hk_store *s, const char *path, unsigned env_flags,
                      hk_error *err);
/* fsync of a file, or of a directory (its entries) when dir. */
hk_err hks_store_fsync_path(const char *path, bool dir, hk_error *err);
/* Gives the file at path the permissions of orig, and its owner and group
 * when the process may (a KB rewritten by root stays its user's). */
struct stat;
hk_err hks_store_copy_attrs(const char *path, const struct stat *orig,
                            hk_error *err);

/* ==== counts.c ==== */

/* Bytes of the pages on LMDB's free list (dbi 0) in the snapshot of the
 * read txn rtxn; psize is the page size. */
int hks_free_list_bytes(MDB_txn *rtxn, unsigned psize, uint64_t *bytes);

/* ==== opencheck.c ==== */

/* Pages the open check walks at most (breadth-first from the roots). */
#define HKS_OPENCHECK_PAGES 1024u

/* Checks data_path before LMDB maps it: both meta pages, the file's size
 * against the last page in use, and up to HKS_OPENCHECK_PAGES pages
 * reachable from the roots. HK_ERR_CORRUPT ("damaged (...): restore from
 * a backup") when any check fails; HK_ERR_NOT_FOUND when the file is
 * missing and may_create is false (HK_OK when true: a new KB);
 * HK_ERR_IO when it cannot be read. Sets *psize (0 for a new KB). */
hk_err hks_open_check(const char *data_path, bool may_create, uint32_t *psize,
                      hk_error *err);

/* True when the value d that LMDB returned has at most max bytes and, in
 * a read transaction, lies inside its page of the map (or starts the data
 * of overflow pages): a length read from a damaged page is never trusted
 * further. */
bool hks_val_sane(const hk_txn *t, const MDB_val *d, size_t max);

/* Bytes of the largest fact record the encoder can write (32 arguments,
 * source, 32 tags and context at their limits, with their lengths),
 * rounded up: a longer value in `fact` is damage. */
#define HKS_REC_MAX_BYTES (128u << 10)

/* ==== pending.c ==== */

/* h is hks_hash_bytes(key, len). */
hk_fact_id hks_pending_find_stmt(const hks_pending *p, const uint8_t *key,
                                 size_t len, uint64_t h);
hk_err hks_pending_add_stmt(hks_pending *p, const uint8_t *key, size_t len,
                            uint64_t h, hk_fact_id id);
/* Starts loading the index slot of hash h into the cache (a hint). */
void hks_pending_prefetch_stmt(const hks_pending *p, uint64_t h);
hk_err hks_pending_add_tok(hks_pending *p, const char *tok, size_t len,
                           uint32_t sym);
/* Queues the `sym` entry of a new symbol; only for a symbol the writer's
 * symtab holds (lookups in the txn must find it there). */
hk_err hks_pending_add_sym(hks_pending *p, const uint8_t *key, size_t len,
                           uint32_t id);
/* Queues the by_pred entry of a new fact (id above every stored id). */
hk_err hks_pending_add_pred(hks_pending *p, uint32_t pred, hk_fact_id id);
hk_err hks_pending_add_arg(hks_pending *p, uint32_t ent,
                           const uint8_t dup[HKS_ARG_DUP_BYTES]);
/* Writes the pending entries sorted; maintains the entity counter. */
hk_err hks_pending_flush(hk_txn *t, hk_error *err);
bool hks_pending_full(const hks_pending *p);
void hks_pending_free(hks_pending *p);
/* At the end of write txn t (writer_mu held): empties t's pending buffers
 * and keeps them on the store for the next write txn (hks_pending_take),
 * unless they grew beyond what is worth keeping idle. */
void hks_pending_keep(hk_txn *t);
/* At the begin of write txn t (writer_mu held): takes the kept buffers. */
void hks_pending_take(hk_txn *t);

/* Flushes pending writes when t is a write txn (call before reading
 * stmt / by_arg / pstat / counters inside a txn). */
static inline hk_err hks_txn_sync(hk_txn *t, hk_error *err)
{
    return t && t->write ? hks_txn_flush(t, err) : HK_OK;
}

/* ==== bloom.c ==== */

void hks_bloom_free(hks_bloom *b);
bool hks_bloom_needs_rebuild(const hks_bloom *b);
/* h is hks_hash_bytes of the stmt key (b may be NULL: no filter). */
void hks_bloom_add(hks_bloom *b, uint64_t h);
/* False only when the key is certainly not in `stmt` nor pending. */
bool hks_bloom_maybe(const hks_bloom *b, uint64_t h);
/* Starts loading the block of hash h into the cache (a hint). */
void hks_bloom_prefetch(const hks_bloom *b, uint64_t h);
/* Builds a filter over every stmt key (*out NULL when memory is short). */
hk_err hks_bloom_build(hk_txn *t, hks_bloom **out, hk_error *err);

/* ==== symtab.c ==== */

hks_symtab *hks_symtab_new(void);
void hks_symtab_free(hks_symtab *st);
void hks_symtab_clear(hks_symtab *st);
/* Sym id of s, 0 when not cached. */
uint32_t hks_symtab_get(const hks_symtab *st, const char *s, size_t len);
/* The same with h = hks_hash_bytes(s, len) computed by the caller. */
uint32_t hks_symtab_get_hashed(const hks_symtab *st, const char *s, size_t len,
                               uint64_t h);
/* Starts loading the slot of hash h into the cache (a hint). */
void hks_symtab_prefetch(const hks_symtab *st, uint64_t h);
/* Caches s -> id (best effort: false when it declined, full or no
 * memory). */
bool hks_symtab_put(hks_symtab *st, const char *s, size_t len, uint32_t id);
/* Makes symtab complete by loading the whole dictionary, when it has at
 * most HKS_SYMTAB_PRELOAD_MAX symbols (write txns). */
hk_err hks_symtab_preload(hk_txn *t, hk_error *err);

/* ==== symbols.c ==== */

/* Builds the `sym` key of a string; returns its length (<= HKS_SYM_KEY_MAX). */
size_t hks_sym_key(const char *s, size_t len, uint8_t out[HKS_SYM_KEY_MAX]);
/* Sym id of s or 0 when s is not in the dictionary. */
hk_err hks_sym_lookup(hk_txn *t, const char *s, size_t len, uint32_t *id,
                      hk_error *err);
/* The same with h = hks_hash_bytes(s, len) computed by the caller. */
hk_err hks_sym_lookup_hashed(hk_txn *t, const char *s, size_t len, uint64_t h,
                             uint32_t *id, hk_error *err);
/* Sym id of s, creating it (and its search tokens) when missing. */
hk_err hks_sym_intern(hk_txn *t, const char *s, size_t len, uint32_t *id,
                      hk_error *err);
hks_symcache *hks_symcache_new(void);
void hks_symcache_free(hks_symcache *c);
/* Creates s, which the caller knows is not in the dictionary. */
hk_err hks_sym_create(hk_txn *t, const char *s, size_t len, uint32_t *id,
                      hk_error *err);
/* The string of sym id (pointer into the map, valid for the snapshot and
 * until the next write in this txn; not NUL-terminated). */
hk_err hks_sym_string(hk_txn *t, uint32_t id, const char **s, size_t *len,
                      hk_error *err);
/* hks_sym_string, but an id with no symbol is error `missing` (callers that
 * take ids from users want HK_ERR_NOT_FOUND, not damage). */
hk_err hks_sym_string_or(hk_txn *t, uint32_t id, hk_err missing, const char **s,
                         size_t *len, hk_error *err);

/* ==== ext.c ==== */

/* Opens the module databases the KB records (open_dbs, in its txn). */
hk_err hks_module_dbs_open(hk_store *s, MDB_txn *txn, hk_error *err);
/* LMDB flags of HKS_DB_* flags. */
unsigned hks_db_mdb_flags(unsigned flags);
/* Calls the change hooks that want ev (one HKS_EV_* bit) with c; an error
 * marks t failed. Callers test t->s->hook_events & ev first. */
hk_err hks_hooks_change(hk_txn *t, unsigned ev, const hks_change *c,
                        hk_error *err);
/* Calls the after-commit hooks of a committed write txn. */
void hks_hooks_commit(hk_txn *t);

/* ==== record.c ==== */

enum {
    HKS_REC_CONF = 1u << 0,    /* confidence present (else 1.0) */
    HKS_REC_UPDATED = 1u << 1, /* updated time present (else = created) */
    HKS_REC_SOURCE = 1u << 2,  /* source present */
    HKS_REC_TAGS = 1u << 3,    /* tags present */
    HKS_REC_CONTEXT = 1u << 4  /* context JSON present */
};

/* A fact record decoded without touching the dictionary. Pointers refer to
 * the encoded bytes. */
typedef struct hks_rec {
    uint32_t pred;                 /* predicate sym */
    uint32_t n_args;               /* arguments */
    uint32_t args[HK_MAX_ARGS];    /* argument syms */
    double confidence;             /* 0..1 */
    int64_t created_us;            /* creation time */
    int64_t updated_us;            /* last change */
    const char *source;            /* NULL when none */
    size_t source_len;             /* bytes */
    uint32_t n_tags;               /* tags */
    const char *tags[HK_MAX_TAGS]; /* tag bytes */
    size_t tag_lens[HK_MAX_TAGS];  /* tag lengths */
    const char *context;           /* context JSON or NULL */
    size_t context_len;            /* bytes */
} hks_rec;

/* Decodes only pred and args (hot path). */
hk_err hks_rec_decode_ids(const void *data, size_t len, hks_rec *r);
hk_err hks_rec_decode(const void *data, size_t len, hks_rec *r);
hk_err hks_rec_encode(const hks_rec *r, hk_buf *out);
/* Validates metadata (confidence range, lengths, UTF-8, context JSON). */
hk_err hks_meta_validate(const hk_fact_meta *m, hk_error *err);
/* Reads fact id into *r (pointers into the map). HK_ERR_NOT_FOUND. */
hk_err hks_rec_get(hk_txn *t, hk_fact_id id, hks_rec *r, hk_error *err);
/* Fills f with the strings of r. */
hk_err hks_rec_to_fact(hk_txn *t, hk_fact_id id, const hks_rec *r, hk_fact *f,
                       hk_error *err);

/* The by_arg duplicate of argument i of fact id with symbols pred, args
 * (n_args of them): position, predicate, id and, for a binary fact, the
 * other argument. */
static inline void hks_arg_dup(uint8_t dup[HKS_ARG_DUP_BYTES], uint32_t i,
                               uint32_t pred, uint32_t n_args,
                               const uint32_t *args, hk_fact_id id)
{
    dup[0] = (uint8_t)i;
    hks_put_u32(dup + 1, pred);
    hks_put_u48(dup + 5, id);
    hks_put_u32(dup + 5 + HKS_ID_BYTES, n_args == 2 ? args[1 - i] : 0);
}

/* ==== argidx.c ==== */

/* The chunked by_arg index. Functions taking an MDB_cursor (on by_arg)
 * return LMDB codes: 0, MDB_NOTFOUND, MDB_CORRUPTED for a key or value of
 * the wrong size, ENOMEM, or LMDB's error. */

/* Rows at which a chunk splits, for LMDB pages of psize bytes: the most
 * that LMDB keeps inline in a leaf (132 at 4 KiB). */
uint32_t hks_arg_chunk_rows(unsigned psize);
/* An entity's tail (format 6): its newest rows, at most HKS_ARG_TAIL_ROWS,
 * as duplicates of the entity u32 BE in by_arg_tail, apart from its chunks
 * (argidx.c). Invariant: an entity has tail rows only while its first
 * chunk is the 4-byte one and holds at least HKS_ARG_TAIL_MIN rows, so a
 * reader that lands on a smaller first chunk (every light entity) knows
 * without a lookup that there is no tail. Writers use tails only with a
 * limit of at least 2 * HKS_ARG_TAIL_MIN (a split leaves limit / 2 rows in
 * the first chunk). */
#define HKS_ARG_TAIL_ROWS 16u
#define HKS_ARG_TAIL_MIN 32u

/* Adds row to ent's chunks (splitting one that reaches limit rows);
 * *new_ent: ent had no row before. Chunks only: no tail. */
int hks_arg_put(MDB_cursor *c, uint32_t ent, const uint8_t *row, uint32_t limit,
                bool *new_ent);
/* Writes the n sorted rows (stride bytes apart) of an entity above every
 * key of the database, with appends, in chunks of limit - 1 rows. */
int hks_arg_append(MDB_cursor *c, uint32_t ent, const uint8_t *rows, size_t n,
                   size_t stride, uint32_t limit);
/* Writes n records of width bytes (entity u32 BE, row), sorted, entity by
 * entity: appended for entities above the database's last key; else into
 * the entity's tail (tc, a cursor on by_arg_tail) when it has or may have
 * one, a tail that would pass HKS_ARG_TAIL_ROWS moved into the chunks
 * first; else hks_arg_put row by row. tc NULL: chunks only. *new_ents
 * grows by the entities that had no row before. */
int hks_arg_write_sorted(MDB_cursor *c, MDB_cursor *tc, const uint8_t *recs,
                         size_t n, size_t width, uint32_t limit,
                         uint64_t *new_ents);
/* Removes row from ent's chunks or tail: MDB_NOTFOUND when it is in
 * neither. A first chunk that falls under HKS_ARG_TAIL_MIN rows takes the
 * tail's rows (limit: as hks_arg_put). */
int hks_arg_del(MDB_cursor *c, MDB_cursor *tc, uint32_t ent, const uint8_t *row,
                uint32_t limit);
/* Positions c on ent's first chunk (MDB_NOTFOUND: ent has no row). */
int hks_arg_first_chunk(MDB_cursor *c, uint32_t ent);
/* Whether ent has rows (a tail never exists without chunks). */
int hks_arg_has_entity(MDB_cursor *c, uint32_t ent, bool *has);
/* Positions c on ent's last chunk row (k, d: its key and row); MDB_NOTFOUND
 * when ent has none. MDB_PREV from there walks back over its chunk rows;
 * its tail rows are hks_arg_tail_rows'. */
int hks_arg_last_row(MDB_cursor *c, uint32_t ent, MDB_val *k, MDB_val *d);
/* Whether the entity of the chunk c stands on (key k) may have a tail:
 * false only for a 4-byte first chunk under HKS_ARG_TAIL_MIN rows (the
 * invariant above), true for a later chunk, which cannot tell. */
int hks_arg_tail_possible(MDB_cursor *c, const MDB_val *k, bool *maybe);
/* ent's tail rows, sorted, into out (HKS_ARG_TAIL_ROWS rows of room). */
int hks_arg_tail_rows(MDB_cursor *tc, uint32_t ent, uint8_t *out, size_t *n);
/* Rows of ent (the sum over its chunks and its tail). */
int hks_arg_count(MDB_cursor *c, MDB_cursor *tc, uint32_t ent, uint64_t *n);
/* The same, but stops once the sum passes upto (*n is then > upto, not
 * exact): a planner that only compares costs no more than the smaller. */
int hks_arg_count_upto(MDB_cursor *c, MDB_cursor *tc, uint32_t ent,
                       uint64_t upto, uint64_t *n);
/* The first entity (first) or the first above after; MDB_NOTFOUND at the
 * end. Leaves c on that entity's first chunk. */
int hks_arg_next_entity(MDB_cursor *c, bool first, uint32_t after,
                        uint32_t *ent);
/* Checks every tail against the invariant above (tc on by_arg_tail, c on
 * by_arg): 4-byte keys, 15-byte rows, 1..HKS_ARG_TAIL_ROWS of them, the
 * entity's first chunk 4 bytes with >= HKS_ARG_TAIL_MIN rows, no tail row
 * also in a chunk. *rows: the tails' rows; *bad_ent: 0, or 1 + the first
 * entity whose tail breaks it. */
int hks_arg_tail_check(MDB_cursor *c, MDB_cursor *tc, uint64_t *rows,
                       uint64_t *bad_ent);

/* Walks one entity's rows in order from a seek row: a merge of its chunks
 * and its tail. */
typedef struct hks_argit {
    hk_txn *t;                       /* txn (write txns: re-seek after a
                                        write), or NULL */
    MDB_cursor *c;                   /* cursor on by_arg (not owned) */
    MDB_cursor *tc;                  /* cursor on by_arg_tail (not owned) */
    uint32_t ent;                    /* the entity */
    const uint8_t *rows;             /* current page of rows (in the map) */
    size_t n, i;                     /* rows on it, next one */
    bool cdone;                      /* past the entity's last chunk row */
    bool done;                       /* past the entity's last row */
    size_t tn, ti;                   /* tail rows, next one */
    uint64_t gen;                    /* t->gen when rows was taken */
    bool have_last;                  /* last holds the last row returned */
    uint8_t last[HKS_ARG_DUP_BYTES]; /* write txns: the last row returned */
    uint8_t from[HKS_ARG_DUP_BYTES]; /* the seek row (zeros: the first) */
    uint8_t tail[HKS_ARG_TAIL_ROWS * HKS_ARG_DUP_BYTES]; /* tail rows >= the
                                        seek row's chunk side, sorted */
} hks_argit;
/* Seeks it to ent's first row >= from (15 bytes; NULL: its first row). */
int hks_argit_seek(hks_argit *it, hk_txn *t, MDB_cursor *c, MDB_cursor *tc,
                   uint32_t ent, const uint8_t *from);
/* The next row (15 bytes, valid until the next call or write): 0, or
 * MDB_NOTFOUND past the entity's last row. */
int hks_argit_next(hks_argit *it, const uint8_t **row);

/* ==== upgrade.c ==== */

/* Rebuilds the indexes whose format changed since from_version (2..5) in
 * the format of this version: by_arg from 2 or 3 (chunks of limit - 1
 * rows), stmt from 2 to 4 (hks_symkey_put keys), nothing from 5 (an
 * empty by_arg_tail is valid); then writes the new
 * schema version, inside txn (a write txn of the open). On error the
 * caller aborts txn and the KB is unchanged. */
hk_err hks_upgrade(MDB_txn *txn, const hks_store_dbs *db, const char *path,
                   uint32_t from_version, uint32_t limit, hk_error *err);

/* ==== check.c ==== */

/* Walks the whole store and checks every index and counter against the
 * facts. *ok false (with the first problem in why) when one fails; the
 * return value is for errors reading the store. For tests. */
hk_err hks_store_check(hk_txn *t, bool *ok, char *why, size_t why_len,
                       hk_error *err);

/* ==== faultguard.c ==== */

/* Registers / forgets the address range of an open map: faults inside it
 * on a thread with an armed hk_fault_guard jump back to the guard. */
void hks_fault_map_add(const void *addr, size_t len);
void hks_fault_map_remove(const void *addr);

/* ==== verify.c ==== */

/* The data digest (verify.c): t->c.digest gains (sign +1) or loses (-1)
 * the element hash of a fact record or a symbol string. No-ops on a KB
 * without a digest. */
#define HKS_DIGEST_FACT 'F'
#define HKS_DIGEST_SYM 'S'
void hks_digest_update(hk_txn *t, char tag, uint64_t id, const void *data,
                       size_t len, int sign);

/* ==== audit.c ==== */

/* Appends an audit entry in t (before/after may be NULL). */
hk_err hks_audit_append(hk_txn *t, const char *op, hk_fact_id first,
                        hk_fact_id last, uint64_t count, const char *before,
                        const char *after, hk_error *err);
/* Called by commit: writes the import entry of a bulk txn. */
hk_err hks_audit_flush_bulk(hk_txn *t, hk_error *err);
/* Feeds one created fact's canonical statement into the bulk digest. */
hk_err hks_audit_bulk_note(hk_txn *t, hk_fact_id id, const hk_statement *st,
                           hk_error *err);

#endif /* HKS_STORE_INT_H */
