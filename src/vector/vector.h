/*
 * vector.h — vector spaces and approximate nearest-neighbour search.
 *
 * Two parts, one header:
 *
 *   1. The index (hnsw.c, distance.c): an in-memory HNSW graph over
 *      vectors keyed by a 64-bit id, with cosine, dot-product and L2
 *      distances, float32 or int8 (scalar-quantised) storage, deletion
 *      without rebuild, and search with an optional id filter that falls
 *      back to an exact scan when the filter is selective. It knows
 *      nothing of the store: ids are opaque.
 *   2. Vector spaces in the store (vstore.c): named spaces (dimension,
 *      metric, index parameters) and one vector per fact per space, kept
 *      in module databases and written in the caller's write transaction,
 *      so a vector commits or aborts with its fact. A change hook removes
 *      the vectors of a fact that is deleted or whose content is replaced;
 *      backups and compaction cover the databases like every module
 *      database; an audit entry records each vector change (not its bytes).
 *
 * Threads: an hkv_index may be searched by many threads at once while no
 * thread changes it (the caller holds a read/write lock, or builds first
 * and searches after). The store functions follow hakgal.h's txn rules.
 */
#ifndef HKV_VECTOR_H
#define HKV_VECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hakgal.h"

/* ==== Index ==== */

/* Largest dimension of a space. */
#define HKV_DIM_MAX 4096u
/* Bounds of the index parameters. */
#define HKV_M_MAX 128u
#define HKV_EF_MAX 4096u
/* Defaults of the index parameters. */
#define HKV_M_DEFAULT 16u
#define HKV_EF_CONSTRUCTION_DEFAULT 200u
#define HKV_EF_DEFAULT 64u

typedef enum hkv_metric {
    HKV_COSINE = 1, /* 1 - cos(a, b); vectors normalised on insert */
    HKV_DOT = 2,    /* -(a . b) */
    HKV_L2 = 3      /* squared Euclidean distance */
} hkv_metric;

typedef enum hkv_quant {
    HKV_F32 = 1, /* 4 bytes per dimension */
    HKV_I8 = 2   /* 1 byte per dimension plus a scale; candidates are
                    re-ranked with float vectors when a fetch is given */
} hkv_quant;

typedef struct hkv_params {
    uint32_t dim;             /* 1..HKV_DIM_MAX */
    hkv_metric metric;        /* distance */
    hkv_quant quant;          /* storage of vectors in the index */
    uint32_t m;               /* links per node above level 0 (0: default);
                                 level 0 holds 2*m */
    uint32_t ef_construction; /* candidate list while inserting (0: dflt) */
    uint32_t ef;              /* candidate list while searching (0: dflt) */
} hkv_params;

typedef struct hkv_index hkv_index;

/* One answer: the id and its distance (smaller is nearer). */
typedef struct hkv_hit {
    uint64_t id;    /* the id given to hkv_index_add */
    float distance; /* by the space's metric; exact after re-ranking */
} hkv_hit;

/* A new empty index; caller frees with hkv_index_free. HK_ERR_INVALID for
 * parameters out of bounds (field names the parameter). */
hk_err hkv_index_new(const hkv_params *p, hkv_index **out, hk_error *err);
void hkv_index_free(hkv_index *ix);

/* Adds vector v (p->dim floats, all finite) under id; an id already
 * present is replaced (its old node is deleted). HK_ERR_INVALID for a
 * non-finite value or a zero vector under cosine. */
hk_err hkv_index_add(hkv_index *ix, uint64_t id, const float *v, hk_error *err);
/* Adds n vectors (v holds n * dim floats, ids[i] the id of the i-th)
 * with up to `threads` threads linking them at once (0 or 1: this thread
 * only); the graph is the same kind as n hkv_index_add calls make. Ids
 * already present are replaced one by one. HK_ERR_INVALID for an invalid
 * vector: then some vectors before it may be in the index, none after. */
hk_err hkv_index_add_batch(hkv_index *ix, const uint64_t *ids, const float *v,
                           size_t n, unsigned threads, hk_error *err);
/* Removes id: it is never returned again; its node stays as a waypoint
 * of the graph. HK_ERR_NOT_FOUND when absent. */
hk_err hkv_index_delete(hkv_index *ix, uint64_t id, hk_error *err);
/* Live (not deleted) vectors. */
uint64_t hkv_index_count(const hkv_index *ix);
/* Bytes of memory the index holds (vectors, links, maps). */
uint64_t hkv_index_bytes(const hkv_index *ix);
/* Whether id is present and live. */
bool hkv_index_contains(const hkv_index *ix, uint64_t id);

/* Fetches the float vector of id for re-ranking (dim floats into out);
 * false when unavailable. */
typedef bool (*hkv_fetch_fn)(void *ud, uint64_t id, float *out);

/* Optional restriction of a search to a set of ids. */
typedef struct hkv_filter {
    const uint64_t *ids; /* sorted ascending, no duplicates */
    size_t n_ids;        /* entries in ids */
    /* A filter matching at most exact_below ids (0: the default, 2% of the
     * index or at least 1000) is answered by an exact scan. */
    size_t exact_below;
} hkv_filter;

typedef struct hkv_search_opts {
    uint32_t k;               /* hits wanted, 1..HKV_EF_MAX */
    uint32_t ef;              /* 0: the index's ef; raised to k */
    const hkv_filter *filter; /* NULL: every id */
    hkv_fetch_fn fetch;       /* int8: float re-rank (NULL: none) */
    void *fetch_ud;           /* passed to fetch */
} hkv_search_opts;

/* The nearest live vectors to q (dim floats), nearest first: at most
 * o->k hits in out (room for o->k), their number in *n_out. Safe to call
 * from several threads while nothing changes the index. */
hk_err hkv_index_search(const hkv_index *ix, const float *q,
                        const hkv_search_opts *o, hkv_hit *out, size_t *n_out,
                        hk_error *err);
/* The same answer by a scan of every live vector (the oracle of tests, and
 * the path of selective filters). */
hk_err hkv_index_exact(const hkv_index *ix, const float *q,
                       const hkv_search_opts *o, hkv_hit *out, size_t *n_out,
                       hk_error *err);

/* Walks the graph and checks its invariants (links in range, no self
 * links, counts within bounds, the id map agrees with the nodes). *ok
 * false with the first problem in why. For tests. */
void hkv_index_validate(const hkv_index *ix, bool *ok, char *why,
                        size_t why_len);

/* ==== Index files (hnsw_file.c) ==== */

/* Most bytes of caller metadata an index file carries. */
#define HKV_FILE_META_MAX 256u

/* Writes ix and meta[0..meta_len) to path atomically (a temporary file,
 * fsync, rename). No add or delete may run meanwhile. HK_ERR_IO. */
hk_err hkv_index_save(const hkv_index *ix, const char *path, const void *meta,
                      size_t meta_len, hk_error *err);
/* Reads the index saved at path (caller frees with hkv_index_free) and its
 * metadata into meta (room for meta_cap bytes; its length in *meta_len).
 * HK_ERR_NOT_FOUND when there is no file, HK_ERR_CORRUPT when it is
 * damaged, torn or inconsistent, HK_ERR_VERSION for another format. */
hk_err hkv_index_read(const char *path, hkv_index **out, void *meta,
                      size_t meta_cap, size_t *meta_len, hk_error *err);

/* How hkv_index_pin kept an index's data in memory. */
typedef enum hkv_pin {
    HKV_PIN_NONE = 0, /* not a mapped index, or no way was allowed */
    HKV_PIN_LOCKED,   /* mlock: private, resident, never reclaimed */
    HKV_PIN_COPIED,   /* private copies of every page (populated for
                         writing): out of the page cache's reach */
} hkv_pin;

/* Makes the data of an index read from a file (a private mapping whose
 * pages belong to the page cache, which takes them back under pressure:
 * every later search then pays minor faults) the process's own memory:
 * mlock when RLIMIT_MEMLOCK allows the whole data section, else private
 * copies of its pages; HKV_PIN_NONE when neither is possible or the index
 * is not mapped. Works in 32 MiB pieces; searches and changes may run
 * meanwhile (the kernel swaps each page for its copy atomically), but not
 * another pin or hkv_index_free. */
hkv_pin hkv_index_pin(hkv_index *ix);
/* hkv_index_pin on a thread of its own, so that serving starts at once;
 * hkv_index_free (or hkv_index_pin_wait) joins it. HK_ERR_NOMEM when
 * the thread cannot start (the index stays as it was). */
hk_err hkv_index_pin_start(hkv_index *ix, hk_error *err);
/* Joins the thread of hkv_index_pin_start, if any; the last pin's result. */
hkv_pin hkv_index_pin_wait(hkv_index *ix);

/* Name of the distance kernel chosen at run time ("avx512", "avx2",
 * "scalar"). */
const char *hkv_kernel_name(void);

/* ==== Vector spaces in the store ==== */

/* Longest space name, in bytes ([a-z0-9_-], 1..HKV_NAME_MAX). */
#define HKV_NAME_MAX 48u
/* Most spaces one KB holds. */
#define HKV_SPACES_MAX 64u

/* Who computes a space's vectors from text. */
typedef enum hkv_embedder {
    HKV_EMBED_NONE = 0,   /* vectors come from the client only */
    HKV_EMBED_HASHED = 1, /* built in: hashed tokens and trigrams
                             (hkv_embed_hashed) */
    HKV_EMBED_OPENAI = 2  /* an OpenAI-compatible /v1/embeddings endpoint
                             (src/service/svc_embedder.c) */
} hkv_embedder;

/* What a space's vectors describe. */
typedef enum hkv_kind {
    HKV_KIND_FACT = 0,  /* one vector per fact, keyed by fact id, removed
                           with the fact (spaces of older records) */
    HKV_KIND_ENTITY = 1 /* one vector per entity, keyed by its symbol id
                           (symbols are never removed) */
} hkv_kind;

/* Longest embedding model name stored with a space, in bytes. */
#define HKV_MODEL_MAX 128u

typedef struct hkv_space {
    char name[HKV_NAME_MAX + 1];   /* NUL-terminated */
    uint32_t id;                   /* key prefix of its vectors, 1.. */
    hkv_params params;             /* dim, metric, quant, m, ef_c, ef */
    hkv_embedder embedder;         /* how text becomes a vector */
    uint64_t vectors;              /* vectors stored (hkv_space_get/list) */
    bool auto_embed;               /* embed new facts after each commit
                                      (needs an embedder) */
    uint64_t stamp;                /* creation time (µs): tells a space from
                                      one re-created under its name; 0 for
                                      spaces of an older record version */
    hkv_kind kind;                 /* fact or entity vectors */
    char model[HKV_MODEL_MAX + 1]; /* embedding model the vectors came
                                      from ("" when unknown: none, or
                                      a record of an older version) */
} hkv_space;

typedef struct hkv_store hkv_store;

/* Registers the vector databases of s and the hook that removes a fact's
 * vectors with the fact. Call after hk_store_open, before other threads
 * use s; caller ends it with hkv_store_detach before hk_store_close. */
hk_err hkv_store_attach(hk_store *s, hkv_store **out, hk_error *err);
void hkv_store_detach(hkv_store *vs);

/* Creates space sp->name with sp->params (defaults filled in) in write
 * txn t. HK_ERR_EXISTS, HK_ERR_INVALID (field names the bad one),
 * HK_ERR_LIMIT beyond HKV_SPACES_MAX. */
hk_err hkv_space_create(hkv_store *vs, hk_txn *t, const hkv_space *sp,
                        hk_error *err);
/* The space called name, with its vector count. HK_ERR_NOT_FOUND. */
hk_err hkv_space_get(hkv_store *vs, hk_txn *t, const char *name, hkv_space *out,
                     hk_error *err);
/* The same without counting the vectors (out->vectors 0): O(1), for
 * every search. */
hk_err hkv_space_find(hkv_store *vs, hk_txn *t, const char *name,
                      hkv_space *out, hk_error *err);
/* Every space in name order into out (room for HKV_SPACES_MAX). */
hk_err hkv_space_list(hkv_store *vs, hk_txn *t, hkv_space *out, size_t *n,
                      hk_error *err);
/* Removes the space and all its vectors (write txn). HK_ERR_NOT_FOUND. */
hk_err hkv_space_drop(hkv_store *vs, hk_txn *t, const char *name,
                      hk_error *err);

/* Stores v (dim floats, finite) as fact id's vector in space (write txn):
 * HK_ERR_NOT_FOUND for an unknown space or fact, HK_ERR_INVALID for a
 * dimension other than the space's or a non-finite value. */
hk_err hkv_put(hkv_store *vs, hk_txn *t, const char *space, hk_fact_id id,
               const float *v, uint32_t dim, hk_error *err);
/* Fact id's vector in space into out (room for the space's dim).
 * HK_ERR_NOT_FOUND when the space or the vector does not exist. */
hk_err hkv_get(hkv_store *vs, hk_txn *t, const char *space, hk_fact_id id,
               float *out, hk_error *err);
/* Removes fact id's vector from space; HK_ERR_NOT_FOUND when absent. */
hk_err hkv_del(hkv_store *vs, hk_txn *t, const char *space, hk_fact_id id,
               hk_error *err);

/* Entity vectors (spaces of kind HKV_KIND_ENTITY), keyed by the entity's
 * symbol: put stores v as the vector of entity[0..len) (write txn; the
 * symbol must exist: HK_ERR_NOT_FOUND otherwise), get reads the vector of
 * symbol id sym, del removes the vector of the entity. Each put and del
 * appends an audit entry "vector" (fact id 0) naming space, entity and
 * symbol, not the bytes. On a fact space they fail with HK_ERR_INVALID, as
 * hkv_put/hkv_get/hkv_del do on an entity space. */
hk_err hkv_entity_put(hkv_store *vs, hk_txn *t, const char *space,
                      const char *entity, size_t len, const float *v,
                      uint32_t dim, hk_error *err);
hk_err hkv_entity_get(hkv_store *vs, hk_txn *t, const char *space, uint32_t sym,
                      float *out, hk_error *err);
hk_err hkv_entity_del(hkv_store *vs, hk_txn *t, const char *space,
                      const char *entity, size_t len, hk_error *err);
/* Stores the embedding model name of space (write txn): what later
 * vectors must come from. HK_ERR_INVALID beyond HKV_MODEL_MAX bytes. */
hk_err hkv_space_set_model(hkv_store *vs, hk_txn *t, const char *space,
                           const char *model, hk_error *err);

/* Removes every vector of space and records model as its model (write
 * txn), giving the space a new stamp: what a re-embedding with another
 * model starts from. */
hk_err hkv_space_clear(hkv_store *vs, hk_txn *t, const char *name,
                       const char *model, hk_error *err);

/* Builds an index of every vector of space as of t's snapshot (ids are
 * fact ids, or symbol ids in an entity space) with the store's build threads.
 * Caller frees with hkv_index_free. */
hk_err hkv_index_load(hkv_store *vs, hk_txn *t, const char *space,
                      hkv_index **out, hk_error *err);

/* Calls fn(ud, last_seq) after each commit of the handle (after the kept
 * indexes caught up), on the committing thread; fn must not write. One
 * listener (the background embedder); NULL removes it. Call before other
 * threads use vs. */
void hkv_store_set_listener(hkv_store *vs, void (*fn)(void *ud, uint64_t seq),
                            void *ud);

/* A number that grows after each commit of this handle that wrote a
 * space's record (create, drop, clear, model change), before the
 * listener hears of that commit: a listener that reads the same number
 * twice knows that no commit of this handle changed the spaces in
 * between, and a read txn begun after reading it sees every space write
 * the number counts. */
uint64_t hkv_space_generation(hkv_store *vs);

/* How this process builds indexes: threads (0: 1) and whether it keeps
 * index files beside the KB (DIR/vector-SPACE.hnsw). Defaults: the CPUs
 * online (at most 8) and files on. Call before other threads use vs. */
void hkv_store_set_build(hkv_store *vs, unsigned threads, bool files);

/* ==== Indexes kept in memory (vcache.c) ==== */

/* An attached store keeps one index per space it was asked to search:
 *   - the first acquire reads the space's index file (when it names the
 *     same space and an audit entry of t's history, see vcache.c) and
 *     catches up from the audit log, or else builds the index from the
 *     store and writes the file;
 *   - every commit of this handle catches the kept indexes up (the
 *     after-commit hook), and an acquire whose snapshot is newer (another
 *     process wrote) catches up first;
 *   - detach writes the files of indexes that changed.
 * Searches of one space run in parallel; catch-up excludes them briefly. */
typedef struct hkv_kept hkv_kept;

/* The index of space, current as of t's snapshot (or newer), held for
 * reading until hkv_index_release(*ref). It may hold ids of facts that t
 * does not see yet (a newer commit): callers skip those. */
hk_err hkv_index_acquire(hkv_store *vs, hk_txn *t, const char *space,
                         const hkv_index **ix, hkv_kept **ref, hk_error *err);
void hkv_index_release(hkv_kept *ref);
/* As hkv_index_acquire, but never waits, reads a file, builds or catches
 * up: HK_ERR_BUSY when the index of space is not in memory, is behind t's
 * snapshot, or a catch-up holds or waits for it. For a caller that must
 * not block (an event loop), which then hands the search to a thread that
 * may wait. */
hk_err hkv_index_try_acquire(hkv_store *vs, hk_txn *t, const char *space,
                             const hkv_index **ix, hkv_kept **ref,
                             hk_error *err);

/* Starts a thread that acquires (reads or builds) the index of every
 * space of the KB, so that the first searches find it ready; detach
 * waits for it (after the space it is on). Long-running processes call
 * it once after attaching; HK_ERR_STATE when already started. */
hk_err hkv_store_warm(hkv_store *vs, hk_error *err);

/* Counters of the kept indexes (for metrics). */
typedef struct hkv_kept_stats {
    uint64_t spaces;     /* indexes kept */
    uint64_t vectors;    /* live vectors in them */
    uint64_t bytes;      /* memory they hold */
    uint64_t builds;     /* built from the store */
    uint64_t file_loads; /* read from their file */
    uint64_t caught_up;  /* vectors applied by catch-up */
    uint64_t searches;   /* searches noted (hkv_store_note_search) */
    uint64_t search_us;  /* their total time, microseconds */
} hkv_kept_stats;
void hkv_kept_stats_get(hkv_store *vs, hkv_kept_stats *out);
/* Counts one search of us microseconds (any thread). */
void hkv_store_note_search(hkv_store *vs, uint64_t us);

/* ==== Built-in embedder ==== */

/* Embeds text[0..len) into out (dim floats, length 1) by hashing its
 * tokens (split at non-alphanumerics and CamelCase, lowercased) and their
 * character trigrams. It captures spelling, not meaning (embed_hash.c). */
void hkv_embed_hashed(const char *text, size_t len, float *out, uint32_t dim);

#endif /* HKV_VECTOR_H */
