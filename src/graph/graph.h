/*
 * graph.h — the KB seen as a graph whose vertices are entities: the
 * breadth-first neighbourhood of an entity (get_knowledge_graph), chains of
 * facts linked through shared entities (inference_chain), facts whose
 * entities occur nowhere else (find_isolated_facts), and the bulk rename
 * of predicates (bulk_translate_predicates).
 *
 * A binary fact P(a, b) is an edge a -> b labelled P. A fact with another
 * number of arguments becomes a fact vertex "fact:<id>" labelled P, with
 * one edge to each argument labelled P[i]: so n-ary facts connect their
 * arguments through the fact vertex.
 *
 * Every walk has hard caps (facts read per entity, facts or edges in
 * total) so that a hub entity with millions of facts cannot blow up a
 * call; a capped result says so (truncated).
 *
 * ==== Ownership ====
 * Result structs own everything in them; release them with their _free
 * function (safe on a zeroed or already freed result). Requests are
 * borrowed for the call; a rename plan borrows its request's strings
 * until it is freed.
 *
 * ==== Threads ====
 * The functions read (and the rename apply step writes) through the
 * hk_txn they are given and are as thread-safe as that transaction (one
 * transaction per thread). They use the public store API
 * (include/hakgal.h); traverse.c and analytics.c also read symbol ids and
 * adjacency through the store's module header (src/store/store.h).
 */
#ifndef HK_GRAPH_H
#define HK_GRAPH_H

#include "hakgal.h"

/* ==== Neighbourhood ==== */

#define HK_GRAPH_PER_ENTITY 200 /* facts read per entity */
#define HK_GRAPH_MAX_EDGES 2000 /* edges in a subgraph */

typedef enum hk_graph_node_kind {
    HK_GRAPH_ENTITY = 0, /* an argument value */
    HK_GRAPH_FACT = 1    /* an n-ary fact (not binary) */
} hk_graph_node_kind;

typedef struct hk_graph_node {
    char *id;                /* entity text, or "fact:<id>" (owned) */
    hk_graph_node_kind kind; /* entity or fact vertex */
    char *label;             /* fact vertices: the predicate; else NULL */
} hk_graph_node;

typedef struct hk_graph_edge {
    size_t from;        /* index into nodes */
    size_t to;          /* index into nodes */
    char *label;        /* predicate, or "P[i]" from a fact vertex (owned) */
    hk_fact_id fact_id; /* the fact the edge stands for */
} hk_graph_edge;

typedef struct hk_graph_walk_req {
    const char *entity; /* centre entity (NUL-terminated) */
    unsigned depth;     /* hops from the centre (>= 1) */
} hk_graph_walk_req;

typedef struct hk_graph_walk_res {
    hk_graph_node *nodes; /* centre first, then in discovery order */
    size_t n_nodes;       /* entries in nodes */
    hk_graph_edge *edges; /* in discovery order */
    size_t n_edges;       /* entries in edges (<= HK_GRAPH_MAX_EDGES) */
    bool truncated;       /* HK_GRAPH_MAX_EDGES was reached */
} hk_graph_walk_res;

/* Breadth-first walk: level d reads up to HK_GRAPH_PER_ENTITY facts of
 * each entity first reached at level d - 1, and stops at req->depth or
 * when HK_GRAPH_MAX_EDGES edges are drawn. Caller frees res with
 * hk_graph_walk_res_free. */
hk_err hk_graph_walk(hk_txn *t, const hk_graph_walk_req *req,
                     hk_graph_walk_res *res, hk_error *err);
void hk_graph_walk_res_free(hk_graph_walk_res *res);
/* Appends the subgraph as Graphviz text: `digraph hakgal {` and one
 * `"from" -> "to" [label="P"];` line per edge. */
hk_err hk_graph_write_dot(const hk_graph_walk_res *res, hk_buf *out);

/* ==== Chains of linked facts ==== */

#define HK_GRAPH_CHAIN_PER_ENTITY 25 /* facts read per entity */
#define HK_GRAPH_CHAIN_MAX_FACTS 500 /* facts in a chain, start included */

typedef struct hk_graph_chain_req {
    const hk_statement *start; /* the fact to start from */
    unsigned max_depth;        /* levels after the start (>= 1) */
} hk_graph_chain_req;

typedef struct hk_graph_step {
    unsigned depth; /* level: 1 = shares an argument with the start */
    char *via;      /* the shared entity that reached it (owned) */
    hk_fact fact;   /* the fact (owned) */
} hk_graph_step;

typedef struct hk_graph_chain_res {
    hk_fact_id start_id;  /* the start fact's id */
    hk_graph_step *steps; /* breadth-first order */
    size_t n_steps;       /* entries in steps */
    bool truncated;       /* HK_GRAPH_CHAIN_MAX_FACTS was reached */
} hk_graph_chain_res;

/* Breadth-first over facts: the facts at level d + 1 are those sharing an
 * entity with a fact at level d, each entity expanded once. HK_ERR_NOT_FOUND
 * (err->field "start") when the start fact is not in the KB. Caller frees
 * res with hk_graph_chain_res_free. */
hk_err hk_graph_chain(hk_txn *t, const hk_graph_chain_req *req,
                      hk_graph_chain_res *res, hk_error *err);
void hk_graph_chain_res_free(hk_graph_chain_res *res);

/* ==== Isolated facts ==== */

#define HK_GRAPH_ISOLATED_MAX_SCAN 100000 /* newest facts examined */

typedef struct hk_graph_isolated_req {
    size_t limit; /* facts returned at most (>= 1) */
} hk_graph_isolated_req;

typedef struct hk_graph_isolated_res {
    size_t examined; /* facts examined, newest first */
    hk_fact *facts;  /* isolated facts, newest first (owned) */
    size_t n_facts;  /* entries in facts */
} hk_graph_isolated_res;

/* Facts none of whose arguments occurs in another fact. Caller frees res
 * with hk_graph_isolated_res_free. */
hk_err hk_graph_isolated(hk_txn *t, const hk_graph_isolated_req *req,
                         hk_graph_isolated_res *res, hk_error *err);
void hk_graph_isolated_res_free(hk_graph_isolated_res *res);

/* ==== Bulk predicate rename ==== */

#define HK_GRAPH_RENAME_MAX_MAP 64        /* mapping entries per call */
#define HK_GRAPH_RENAME_MAX_PLAN 10000000 /* candidates per predicate */

typedef enum hk_graph_sample {
    HK_GRAPH_SAMPLE_HEAD = 0,      /* oldest first, predicate by predicate */
    HK_GRAPH_SAMPLE_TAIL = 1,      /* newest first, last predicate first */
    HK_GRAPH_SAMPLE_STRATIFIED = 2 /* round-robin over the predicates */
} hk_graph_sample;

typedef struct hk_graph_rename_pair {
    const char *from; /* predicate to rename */
    const char *to;   /* its new name */
} hk_graph_rename_pair;

typedef struct hk_graph_rename_req {
    const hk_graph_rename_pair *map; /* n_map renames, in the caller's order */
    size_t n_map;                    /* 1..HK_GRAPH_RENAME_MAX_MAP */
    const char *const *only;         /* rename only these `from`s, or NULL */
    size_t n_only;                   /* entries in only */
    const char *const *exclude;      /* never rename these `from`s */
    size_t n_exclude;                /* entries in exclude */
    hk_graph_sample sample;          /* candidate order */
    bool by_changes;                 /* limit counts changes, not facts */
    size_t limit;                    /* examined facts or changes; 0 = all */
    size_t offset;                   /* candidates skipped first */
} hk_graph_rename_req;

/* One planned rename. */
typedef struct hk_graph_rename {
    hk_fact_id id;     /* fact to rename */
    hk_fact_id target; /* existing fact with the new content (merge), or 0 */
    uint32_t map;      /* index into the plan's renames */
} hk_graph_rename;

/* A checked mapping and, once planned or applied, what it changes. */
typedef struct hk_graph_rename_plan {
    hk_graph_rename_req req;       /* the request (strings borrowed) */
    hk_graph_rename_pair *renames; /* the mapping entries that apply */
    size_t n_renames;              /* entries in renames */
    hk_graph_rename *plan;         /* planned renames, candidate order */
    size_t n_plan;                 /* entries in plan = facts changed */
    size_t cap_plan;               /* allocated entries of plan */
    size_t examined;               /* candidates looked at */
    size_t merged;                 /* renames onto an existing fact */
    bool applied;                  /* hk_graph_rename_apply succeeded */
} hk_graph_rename_plan;

/* A change described for people. */
typedef struct hk_graph_rename_change {
    size_t index;       /* position in the plan */
    hk_fact_id fact_id; /* the renamed fact's id (before any merge) */
    char *old_stmt;     /* statement before (owned) */
    char *new_stmt;     /* statement after (owned) */
    bool merge;         /* merged into an existing fact (else renamed) */
} hk_graph_rename_change;

/* Checks req without touching the KB: every `to` must be a valid
 * predicate name; entries renaming a predicate to itself, not in only or
 * in exclude are dropped; a `to` that is also renamed (swap or chain) is
 * refused. On success the caller frees plan with hk_graph_rename_free. */
hk_err hk_graph_rename_prepare(const hk_graph_rename_req *req,
                               hk_graph_rename_plan *plan, hk_error *err);
/* Fills plan->plan from the KB as t sees it (dry run; any txn). */
hk_err hk_graph_rename_plan_run(hk_txn *t, hk_graph_rename_plan *plan,
                                hk_error *err);
/* Plans in write transaction t and renames (or merges and deletes) the
 * planned facts. May run again in a new transaction after a failed one:
 * it plans afresh. */
hk_err hk_graph_rename_apply(hk_txn *t, hk_graph_rename_plan *plan,
                             hk_error *err);
/* Describes the plan's entries [0, max) as t sees them (after apply: the
 * renamed or merged-into facts); entries whose fact is gone are left out.
 * Caller frees *out with hk_graph_rename_changes_free. */
hk_err hk_graph_rename_describe(hk_txn *t, const hk_graph_rename_plan *plan,
                                size_t max, hk_graph_rename_change **out,
                                size_t *n, hk_error *err);
void hk_graph_rename_changes_free(hk_graph_rename_change *v, size_t n);
void hk_graph_rename_free(hk_graph_rename_plan *plan);

/* ==== Traversal: neighbourhoods and paths (traverse.c) ====
 *
 * Work on symbol ids through the store's adjacency index (hks_adj_*), so
 * strings are decoded only for the result. A hop is one fact: a binary
 * fact P(a, b) links a and b; a fact with three or more arguments is a
 * hyperedge that links every pair of its arguments through the fact (a
 * path records the fact id of each hop; a neighbourhood draws the fact
 * vertex "fact:<id>"); unary facts link nothing. Directed walks follow a
 * binary fact from its first to its second argument and a hyperedge from
 * an earlier to a later argument position. Every walk reads at most
 * HK_GRAPH_TRAVERSE_BUDGET adjacency rows and answers HK_ERR_LIMIT beyond.
 */

#define HK_GRAPH_TRAVERSE_BUDGET 20000000u /* adjacency rows per call */
#define HK_GRAPH_SNAPSHOT_AFTER                                                \
    100000u                       /* rows a path walk reads before             \
                                     it builds the snapshot */
#define HK_GRAPH_MAX_DEPTH 16u    /* neighbourhood depth */
#define HK_GRAPH_PATH_MAX_LEN 32u /* hops in a path */
#define HK_GRAPH_PATH_MAX_K 100u  /* paths per call */
#define HK_GRAPH_MAX_PREDS 64u    /* allow or deny list entries */

typedef enum hk_graph_dir {
    HK_GRAPH_BOTH = 0, /* undirected */
    HK_GRAPH_OUT = 1,  /* first argument to second (argument order) */
    HK_GRAPH_IN = 2    /* against argument order */
} hk_graph_dir;

/* Which facts a walk may use. */
typedef struct hk_graph_filter {
    const char *const *allow; /* only these predicates, or NULL = all */
    size_t n_allow;           /* entries in allow (0..HK_GRAPH_MAX_PREDS) */
    const char *const *deny;  /* never these predicates */
    size_t n_deny;            /* entries in deny (0..HK_GRAPH_MAX_PREDS) */
    hk_graph_dir dir;         /* direction of binary facts and hyperedges */
} hk_graph_filter;

typedef struct hk_graph_hood_req {
    const char *entity;     /* centre entity */
    unsigned depth;         /* hops from the centre, 1..HK_GRAPH_MAX_DEPTH */
    size_t fanout;          /* facts followed per entity and hop; 0 = all */
    size_t max_edges;       /* edges drawn at most; 0 = HK_GRAPH_MAX_EDGES */
    hk_graph_filter filter; /* facts that may be followed */
} hk_graph_hood_req;

/* Neighbourhood of req->entity as a subgraph (centre first, discovery
 * order): every fact the filter allows that mentions an entity at distance
 * < depth, each at most once; truncated when max_edges stopped it or a
 * fan-out limit skipped facts. HK_ERR_NOT_FOUND (field "entity") for an
 * entity that no fact mentions; HK_ERR_INVALID (field "depth") out of
 * range. Caller frees res with hk_graph_walk_res_free. */
hk_err hk_graph_neighbours(hk_txn *t, const hk_graph_hood_req *req,
                           hk_graph_walk_res *res, hk_error *err);

typedef struct hk_graph_path_req {
    const char *from;       /* first entity */
    const char *to;         /* last entity */
    unsigned max_len;       /* hops at most, 1..HK_GRAPH_PATH_MAX_LEN */
    size_t k;               /* paths wanted, 1..HK_GRAPH_PATH_MAX_K */
    hk_graph_filter filter; /* facts that may be hops */
} hk_graph_path_req;

typedef struct hk_graph_path {
    size_t length;     /* hops */
    char **nodes;      /* length + 1 entities, from first (owned) */
    hk_fact_id *facts; /* length fact ids, hop by hop (owned) */
} hk_graph_path;

typedef struct hk_graph_path_res {
    hk_graph_path *paths; /* shortest first, each a simple path (owned) */
    size_t n_paths;       /* entries in paths (0 when none within max_len) */
} hk_graph_path_res;

/* Up to req->k shortest simple paths from req->from to req->to of at most
 * max_len hops, in order of length (k = 1: bidirectional breadth-first
 * search; k > 1: depth-first enumeration pruned by the distances to `to`).
 * Without predicate lists the cached snapshot (snappath.c) answers when it
 * is current for t, and a walk that reads more than HK_GRAPH_SNAPSHOT_AFTER
 * rows builds it (once per KB state and process) and answers from it.
 * Two paths differ when their entities or facts differ. An entity that no
 * fact mentions has no paths (not an error); from == to gives one path of
 * length 0. Caller frees res with hk_graph_path_res_free. */
hk_err hk_graph_paths(hk_txn *t, const hk_graph_path_req *req,
                      hk_graph_path_res *res, hk_error *err);
void hk_graph_path_res_free(hk_graph_path_res *res);

/* ==== Analytics over a snapshot (analytics.c) ====
 *
 * A snapshot is the entity graph in compressed sparse row form, built
 * from the store in one read transaction: vertices are the entities that
 * binary facts link (dense indexes, with the symbol id of each) plus one
 * vertex "fact:<id>" per fact of three or more arguments; a binary fact
 * P(a, b) is the edge a -> b, an n-ary fact an edge from its vertex to each
 * argument; unary facts add nothing. The algorithms are igraph's (0.10).
 */

typedef struct hk_graph_snapshot {
    uint64_t audit_seq;  /* audit entries when built (staleness key) */
    uint32_t n_vertices; /* vertices */
    uint64_t n_edges;    /* edges */
    uint64_t *offsets;   /* n_vertices + 1 row starts into targets (owned) */
    uint32_t *targets;   /* out-neighbours, row by row; a fact vertex's row
                            lists its arguments in position order (owned) */
    uint64_t *names;     /* per vertex: symbol id, or fact id | 1 << 63 */
    uint32_t *facts;     /* per edge (as targets): the fact it stands for;
                            NULL when fact ids exceed 32 bits (owned) */
    uint32_t *vidx;      /* symbol id -> vertex + 1, 0 = no vertex; sym_max
                            + 1 entries (owned) */
    uint32_t sym_max;    /* highest symbol id when built */
    /* The reverse rows, added by hk_graph_snapshot_index (else NULL): */
    uint64_t *in_offsets; /* n_vertices + 1 row starts into in_sources */
    uint32_t *in_sources; /* in-neighbours, row by row (owned) */
    uint32_t *in_facts;   /* per in-edge: the fact it stands for (owned) */
} hk_graph_snapshot;

/* Progress of a long step: done of total. */
typedef void (*hk_graph_progress_fn)(void *ud, double done, double total,
                                     const char *msg);

/* Builds snap from t (one pass over the facts). progress may be NULL.
 * Caller frees with hk_graph_snapshot_free. */
hk_err hk_graph_snapshot_build(hk_txn *t, hk_graph_snapshot *snap,
                               hk_graph_progress_fn progress, void *ud,
                               hk_error *err);
void hk_graph_snapshot_free(hk_graph_snapshot *snap);
/* Bytes the snapshot holds. */
uint64_t hk_graph_snapshot_bytes(const hk_graph_snapshot *snap);

/* ==== Paths over a snapshot (snappath.c) ====
 *
 * The same answers as hk_graph_paths' walk over the store (same link
 * rule, same lengths; k > 1 by Yen's algorithm), read from memory: a hub
 * costs its row, not a B-tree scan. Used by hk_graph_paths for requests
 * without predicate lists, through a process-wide cache holding one
 * snapshot (the newest KB asked about), keyed by the KB's audit head
 * (length and hash of the newest entry): a snapshot is used only by
 * transactions that see exactly the state it was built from.
 */

/* Adds the reverse rows to snap (idempotent). HK_ERR_NOMEM. */
hk_err hk_graph_snapshot_index(hk_graph_snapshot *snap, hk_error *err);

/* Paths over snap, which must have been built from the state t sees and
 * indexed (t only names the vertices). Checks req as hk_graph_paths does.
 * HK_ERR_UNSUPPORTED when snap has no per-edge fact ids. */
hk_err hk_graph_paths_snapshot(hk_txn *t, const hk_graph_snapshot *snap,
                               const hk_graph_path_req *req,
                               hk_graph_path_res *res, hk_error *err);

/* A counted reference to the cached snapshot. */
typedef struct hk_graph_snapref hk_graph_snapref;

/* The cached, indexed snapshot of the state t sees: when the cache holds
 * none for it and build is true, builds one (seconds on a large KB) and
 * caches it; *ref NULL when there is none and build is false. Release with
 * hk_graph_snapshot_release. Thread-safe. */
hk_err hk_graph_snapshot_acquire(hk_txn *t, bool build, hk_graph_snapref **ref,
                                 const hk_graph_snapshot **snap, hk_error *err);
void hk_graph_snapshot_release(hk_graph_snapref *ref);
/* Drops the cached snapshot (freed when its last reference goes). */
void hk_graph_snapshot_cache_clear(void);

typedef enum hk_graph_analysis {
    HK_GRAPH_PAGERANK = 0,    /* PageRank (damping 0.85, directed) */
    HK_GRAPH_COMPONENTS = 1,  /* weakly connected components */
    HK_GRAPH_COMMUNITIES = 2, /* Louvain (multilevel) on the undirected graph */
    HK_GRAPH_DEGREES = 3,     /* degree distribution (in + out) */
    HK_GRAPH_BETWEENNESS = 4  /* betweenness, exact up to
                                 HK_GRAPH_BETWEENNESS_EXACT vertices, else
                                 sampled from HK_GRAPH_BETWEENNESS_SOURCES
                                 sources and scaled */
} hk_graph_analysis;

#define HK_GRAPH_BETWEENNESS_EXACT 5000u
#define HK_GRAPH_BETWEENNESS_SOURCES 256u
#define HK_GRAPH_TOP_MAX 100000u

/* One ranked row: a vertex with its score, or a group (component,
 * community, degree value) with its size. */
typedef struct hk_graph_rank {
    char *name;   /* vertex name, or a group's first vertex (owned) */
    double score; /* pagerank, betweenness, degree, or group size */
    uint64_t key; /* degrees: the degree value; groups: group number */
} hk_graph_rank;

typedef struct hk_graph_analysis_res {
    hk_graph_analysis kind;  /* what was computed */
    uint32_t n_vertices;     /* of the snapshot */
    uint64_t n_edges;        /* of the snapshot */
    uint64_t snapshot_bytes; /* memory of the snapshot */
    uint64_t groups;         /* components or communities found */
    double modularity;       /* communities: modularity of the split */
    bool sampled;            /* betweenness: from a sample of sources */
    hk_graph_rank *top;      /* best first (owned); degrees: the
                                distribution, largest degree first */
    size_t n_top;            /* entries in top */
} hk_graph_analysis_res;

/* Runs kind over snap and keeps the top entries (1..HK_GRAPH_TOP_MAX):
 * vertices by score (pagerank, betweenness), groups by size (components,
 * communities), degree values by degree (degrees). HK_ERR_INVALID (field
 * "top"); HK_ERR_NOMEM; HK_ERR_STORE for a failure inside igraph. t is
 * used only to name vertices. Caller frees res with
 * hk_graph_analysis_res_free. */
hk_err hk_graph_analyze(hk_txn *t, const hk_graph_snapshot *snap,
                        hk_graph_analysis kind, size_t top,
                        hk_graph_analysis_res *res, hk_error *err);
void hk_graph_analysis_res_free(hk_graph_analysis_res *res);

/* PageRank by power iterations over snap (analytics.c): pull over the
 * reverse rows (snap's own when indexed, else built for the call: 4 bytes
 * per edge), dangling mass spread uniformly, split over threads by fixed
 * vertex blocks so the result is the same for any thread count. */
typedef struct hk_graph_pagerank_opts {
    double damping;    /* 0 <= damping < 1; 0.85 by default */
    uint32_t max_iter; /* iterations at most (>= 1); 20 by default */
    double tol;        /* stop once the L1 change is below; 0 = never */
    uint32_t threads;  /* 1..HK_GRAPH_PAGERANK_THREADS; 0 = the default */
} hk_graph_pagerank_opts;

#define HK_GRAPH_PAGERANK_ITER 20u
#define HK_GRAPH_PAGERANK_DAMPING 0.85
#define HK_GRAPH_PAGERANK_THREADS 2u

/* Fills rank (snap->n_vertices entries, sum 1) and *iters (iterations
 * run; may be NULL). opts NULL = defaults. HK_ERR_INVALID; HK_ERR_NOMEM. */
hk_err hk_graph_pagerank(const hk_graph_snapshot *snap,
                         const hk_graph_pagerank_opts *opts, double *rank,
                         uint32_t *iters, hk_error *err);

#endif /* HK_GRAPH_H */
