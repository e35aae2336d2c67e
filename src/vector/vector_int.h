/*
 * vector_int.h — internals shared by the files of src/vector: the distance
 * kernels that distance.c picks at run time, and the layout of an HNSW
 * index (hnsw.c builds and searches it, hnsw_file.c writes and reads it).
 */
#ifndef HKV_VECTOR_INT_H
#define HKV_VECTOR_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "vector/vector.h"

/* The kernels of the CPU this process runs on (chosen once, thread-safe). */
typedef struct hkv_kernels {
    float (*dot)(const float *a, const float *b, size_t n); /* a . b */
    /* q . b[k] for k < 4 into out[k], each bitwise equal to dot's */
    void (*dot4)(const float *q, const float *const b[4], size_t n,
                 float out[4]);
    float (*l2sq)(const float *a, const float *b, size_t n); /* |a-b|^2 */
    int32_t (*dot_i8)(const int8_t *a, const int8_t *b, size_t n);
    const char *name; /* "avx512", "avx2" or "scalar" */
} hkv_kernels;

const hkv_kernels *hkv_kernels_get(void);
/* Every kernel set this CPU can run (scalar first) into out; returns how
 * many (tests compare them). */
size_t hkv_kernels_list(const hkv_kernels *out[3]);

/* ==== HNSW index layout ==== */

typedef struct hnsw_node {
    uint64_t id;    /* the caller's id */
    uint8_t *data;  /* the vector (vstride bytes: dim floats or dim int8
                       codes, padded to 4), then the link words: level 0
                       [count, 2M slots]; level l>0 at (1+2M) + (l-1)*(1+M):
                       [count, M slots] */
    float scale;    /* int8: value of code 1; float32: unused */
    float norm2;    /* squared norm of the stored vector */
    uint16_t level; /* top level of the node, 0..16 */
    uint16_t dead;  /* 1 when deleted (kept as a waypoint) */
} hnsw_node;

/* One allocation per node (data) and no pointer per part keep a node at
 * 32 bytes: what int8 storage pays beyond its codes and links. */
_Static_assert(sizeof(hnsw_node) <= 32, "hnsw_node grew");

typedef struct hnsw_scratch hnsw_scratch;

/* Stripes of link locks during a parallel build (a power of two). */
#define HNSW_LOCK_STRIPES 4096u
/* Scratch areas kept for reuse by searches. */
#define HNSW_SCRATCH_KEEP 8u

struct hkv_index {
    hkv_params p;         /* parameters, defaults filled in */
    uint32_t m0;          /* links at level 0 (2*m) */
    uint32_t vstride;     /* bytes of a node's vector in data (4-aligned) */
    double level_mult;    /* 1/ln(m) */
    hnsw_node *nodes;     /* node array */
    uint32_t n_nodes;     /* nodes used (live and dead) */
    uint32_t cap_nodes;   /* nodes allocated */
    uint64_t n_live;      /* live nodes */
    uint32_t entry;       /* entry node (valid when n_nodes > 0) */
    uint32_t max_level;   /* level of the entry node */
    uint64_t rng;         /* xorshift state for levels */
    uint32_t *map_vals;   /* open addressing by id: node index, UINT32_MAX
                             empty (the key is nodes[v].id) */
    uint32_t map_cap;     /* slots (power of two) */
    uint32_t map_used;    /* occupied slots */
    const hkv_kernels *k; /* distance kernels */
    /* an index read from a file: the data of its nodes, in one allocation
     * or a private mapping of the file owned by the index (nodes added
     * later own theirs) */
    uint8_t *arena;        /* NULL when none */
    size_t arena_len;      /* bytes of arena */
    bool arena_mapped;     /* arena is a mapping (munmap), else hk_malloc'd */
    size_t arena_data;     /* offset of the writable data section in a
                              mapped arena (page-aligned) */
    pthread_t pin_thread;  /* hkv_index_pin_start's thread */
    bool pin_running;      /* pin_thread started and not yet joined */
    int pin_result;        /* hkv_pin of the last pin */
    uint32_t file_version; /* format of the file read, 0: built */
    /* parallel build only (hkv_index_add_batch), else NULL: */
    pthread_mutex_t *locks; /* HNSW_LOCK_STRIPES locks over node links */
    pthread_mutex_t glock;  /* entry and max_level while building */
    /* scratch reuse: searches are const but may share these. Every
     * search writes the lock and the list twice; the gap keeps those
     * writes off the cache lines of the fields above, which every
     * distance of every search thread reads. */
    char sc_gap[64];                          /* unused */
    pthread_mutex_t sc_lock;                  /* protects sc_free, n_sc */
    hnsw_scratch *sc_free[HNSW_SCRATCH_KEEP]; /* idle scratch areas */
    uint32_t n_sc;                            /* entries in sc_free */
};

/* Joins a pin thread of ix, if one runs (hnsw_file.c; hkv_index_free). */
void hnsw_pin_join(hkv_index *ix);

/* Fills in the parameters' defaults and checks them (hkv_index_new). */
hk_err hnsw_check_params(hkv_params *p, hk_error *err);
/* Sets up ix for the parameters p (checked): empty, no nodes. */
void hnsw_init(hkv_index *ix, const hkv_params *p);
/* True when p points into ix's arena (hkv_index_free leaves it). */
static inline bool hnsw_in_arena(const hkv_index *ix, const void *p)
{
    uintptr_t a = (uintptr_t)ix->arena, q = (uintptr_t)p;
    return ix->arena && q >= a && q - a < ix->arena_len;
}
/* The stored vector of node n. */
static inline void *hnsw_vec(const hnsw_node *n)
{
    return n->data;
}
/* The link words of node n (level 0 first). */
static inline uint32_t *hnsw_links(const hkv_index *ix, const hnsw_node *n)
{
    return (uint32_t *)(void *)(n->data + ix->vstride);
}
/* Link words of a node of level. */
static inline size_t hnsw_link_words(const hkv_index *ix, uint32_t level)
{
    return (1u + ix->m0) + (size_t)level * (1 + ix->p.m);
}
/* Rebuilds the id map from the nodes (a later node of an id wins). */
hk_err hnsw_map_rebuild(hkv_index *ix);

/* ==== The attached store and the indexes it keeps ==== */

typedef struct hkv_kept hkv_kept;

struct hkv_store {
    hk_store *s;                    /* the store it is attached to */
    hks_db spaces;                  /* vector.spaces */
    hks_db data;                    /* vector.data */
    bool hooked;                    /* the hook is registered */
    unsigned threads;               /* threads of an index build */
    bool files;                     /* keep index files beside the KB */
    pthread_mutex_t kept_lock;      /* protects kept[] and n_kept */
    hkv_kept *kept[HKV_SPACES_MAX]; /* indexes kept in memory */
    uint32_t n_kept;                /* entries of kept */
    _Atomic uint64_t builds;        /* indexes built from the store */
    _Atomic uint64_t file_loads;    /* indexes read from their file */
    _Atomic uint64_t caught_up;     /* vectors applied by catch-up */
    _Atomic uint64_t searches;      /* hkv_store_note_search calls */
    _Atomic uint64_t search_us;     /* their microseconds */
    void (*listener)(void *ud, uint64_t seq); /* after-commit listener */
    _Atomic bool space_dirty;   /* the write txn wrote a space record */
    _Atomic uint64_t space_gen; /* bumped after a commit that did
                                   (hkv_space_generation) */
    void *listener_ud;          /* passed to it */
    pthread_t warm;             /* hkv_store_warm's thread */
    bool warming;               /* warm was started (join it) */
    _Atomic bool stop;          /* detach asks warm to stop */
};

/* Catches every kept index up to the commit that ended at audit entry
 * last_seq (the after-commit hook). */
void hkv_kept_on_commit(hkv_store *vs, uint64_t last_seq);
/* Stops and joins the warm-up thread (detach, before the hook goes). */
void hkv_kept_stop(hkv_store *vs);
/* Saves the kept indexes that changed since their file was written, then
 * frees them (detach). */
void hkv_kept_free_all(hkv_store *vs);

#endif /* HKV_VECTOR_INT_H */
