/*
 * svc_learn.h — the service operations of the learned model (src/learn):
 * training a model from the KB and storing it next to the KB, evaluating
 * it, and using it to score statements, predict links and find similar
 * entities. Same conventions as service.h: read operations take the
 * caller's txn; nothing here begins a transaction.
 *
 * ==== The model of a KB ====
 * A KB's model lives in DIR/learn.model (hkl_save: atomic rename). Every
 * process holds at most one loaded copy per KB directory in a shared
 * cache: hk_svc_model_acquire returns it with a reference, and reloads it
 * when the file changed (another process retrained: device, inode, size
 * and modification time are compared on every acquire, a stat call); a
 * training in this process publishes its model directly. Readers keep
 * the copy they acquired until they release it, so a swap never pulls a
 * model from under a request.
 */
#ifndef HK_SVC_LEARN_H
#define HK_SVC_LEARN_H

#include <jansson.h>

#include "hakgal.h"
#include "learn/learn.h"

/* ==== The loaded model ==== */

typedef struct hk_svc_model hk_svc_model;

/* The model of the KB s (loading or reloading DIR/learn.model when needed)
 * with a reference for the caller: HK_ERR_NOT_FOUND ("no model; train one
 * with `hakgal model train`") when there is none; load errors as hkl_load.
 * Thread-safe. Caller releases with hk_svc_model_release. */
hk_err hk_svc_model_acquire(hk_store *s, hk_svc_model **out, hk_error *err);
void hk_svc_model_release(hk_svc_model *h);
const hkl_model *hk_svc_model_get(const hk_svc_model *h);
/* Path of the model file of s into out (DIR/learn.model). */
hk_err hk_svc_model_path(hk_store *s, char *out, size_t cap, hk_error *err);

/* How many audit entries the KB in t has beyond the model's (the model's
 * age; 0 when current). */
hk_err hk_svc_model_age(hk_txn *t, const hkl_model *m, uint64_t *age,
                        hk_error *err);

/* JSON description: kind, dim, entities, relations, trained_at (RFC
 * 3339), audit_seq, age (when age_known), hyperparameters, calibration,
 * valid and test metrics, training statistics. Caller owns the ref. */
json_t *hk_svc_model_info_jansson(const hkl_model *m, bool age_known,
                                  uint64_t age);
json_t *hk_svc_metrics_jansson(const hkl_metrics *mt);

/* ==== Training ==== */

typedef struct hk_svc_model_train_req {
    hkl_params params;        /* hyperparameters (hkl_params_default) */
    uint64_t split_seed;      /* which facts are held out (hkl_split_of) */
    double valid;             /* fraction of facts for validation (0.05) */
    double test;              /* fraction of facts for testing (0.05) */
    hkl_progress_fn progress; /* per epoch, may be NULL */
    void *ud;                 /* for progress */
    struct hkv_store *vs;     /* hk_svc_train_start: with space, where the
                                 entity embeddings are published after
                                 training (the KB's attached vector
                                 module), or NULL */
    const char *space;        /* entity vector space for them
                                 (HK_SVC_GRAPH_SPACE by default; a static
                                 string), or NULL: none */
} hk_svc_model_train_req;

/* Defaults: hkl_params_default, split seed 1, valid 0.05, test 0.05,
 * space HK_SVC_GRAPH_SPACE (vs NULL: not published). */
void hk_svc_model_train_req_init(hk_svc_model_train_req *r);

/* Step 1, in the caller's read txn: every fact of the KB as edges in the
 * splits, and the audit sequence of the snapshot. d must be initialised
 * (hkl_data_init); caller frees it. HK_ERR_INVALID (field "valid" or
 * "test") for fractions outside [0, 0.5]. */
hk_err hk_svc_model_collect(hk_txn *t, const hk_svc_model_train_req *r,
                            hkl_data *d, uint64_t *audit_seq, hk_error *err);
/* Step 2, without a transaction (it takes minutes: end the read txn
 * first): trains on d, stores the model as DIR/learn.model of s and
 * publishes it to this process's cache. *out (may be NULL) receives a
 * reference to the new model (release with hk_svc_model_release). */
hk_err hk_svc_model_train(hk_store *s, const hkl_data *d, uint64_t audit_seq,
                          const hk_svc_model_train_req *r, hk_svc_model **out,
                          hk_error *err);
/* The same, and when r->vs and r->space are set, the entity embeddings
 * are written to that space (hk_svc_model_publish_space) before the
 * model is stored, and the model's audit sequence is moved past the
 * entries those writes appended, so that they do not age it. A failed
 * publication does not fail the training: its code goes to *space_rc
 * and its error to *space_err, *space (may be NULL) gets the result. */
struct hk_svc_model_space_res; /* below, "The graph vector space" */
hk_err
hk_svc_model_train_space(hk_store *s, const hkl_data *d, uint64_t audit_seq,
                         const hk_svc_model_train_req *r, hk_svc_model **out,
                         struct hk_svc_model_space_res *space, hk_err *space_rc,
                         hk_error *space_err, hk_error *err);

/* ==== The graph vector space ==== */

/* The entity vector space a trained model's embeddings are written to. */
#define HK_SVC_GRAPH_SPACE "graph"

typedef struct hk_svc_model_space_res {
    char space[64];         /* the space written */
    uint32_t dim;           /* its dimension: the model's width (ComplEx: the
                               real parts, then the imaginary parts) */
    uint64_t written;       /* entity vectors stored */
    uint64_t skipped;       /* model entities the KB has no symbol for */
    uint64_t audit_entries; /* audit entries the writes appended */
} hk_svc_model_space_res;

/* Writes the entity embeddings of m as the entity vector space `space`
 * of the KB s (vs: its attached vector module), metric cosine (what
 * `hakgal model similar` ranks by), model name "learn:KIND-DIM@SEQ":
 * created when absent, cleared and refilled when it is an entity space of
 * the same dim, re-created when it held an older learned model of another
 * dim; HK_ERR_EXISTS for another space of that name (left alone). Write
 * transactions of its own (svc_learn_space.c): call with none open.
 * The background job (hk_svc_train_start) calls it after storing the
 * model when its request names vs and space; `hakgal model train` too. */
hk_err hk_svc_model_publish_space(hk_store *s, struct hkv_store *vs,
                                  const hkl_model *m, const char *space,
                                  hk_svc_model_space_res *res, hk_error *err);
json_t *hk_svc_model_space_jansson(const hk_svc_model_space_res *res);

/* ==== Backups ==== */

/* Copies from_dir/learn.model to to_dir/learn.model (temporary file,
 * fsync, rename, fsync of to_dir); *copied tells whether there was one.
 * Without a model in from_dir: nothing, or with remove_stale the one in
 * to_dir is removed (a restore: it belonged to the KB replaced).
 * hk_svc_backup and hk_svc_restore call it (svc_learn_backup.c). */
hk_err hk_svc_model_file_copy(const char *from_dir, const char *to_dir,
                              bool remove_stale, bool *copied, hk_error *err);

/* ==== Training in the background (servers) ==== */

typedef enum hk_svc_train_state {
    HK_SVC_TRAIN_IDLE,    /* no job since the process started */
    HK_SVC_TRAIN_RUNNING, /* collecting facts or training */
    HK_SVC_TRAIN_DONE,    /* the new model is stored and in use */
    HK_SVC_TRAIN_FAILED,  /* error holds why; the old model stays */
    HK_SVC_TRAIN_STOPPED  /* stopped by hk_svc_train_stop; old model stays */
} hk_svc_train_state;

typedef struct hk_svc_train_status {
    hk_svc_train_state state;
    uint32_t epoch;         /* epochs done */
    uint32_t epochs;        /* maximum epochs */
    double loss;            /* mean loss of the last epoch */
    double valid_mrr;       /* last validation MRR (-1: none yet) */
    uint64_t triples;       /* training triples (once collected) */
    uint64_t audit_seq;     /* audit entries of the snapshot trained on */
    int64_t started_us;     /* when the job started (0: never) */
    int64_t ended_us;       /* when it ended (0: running or never) */
    char error[512];        /* why it failed */
    uint64_t space_vectors; /* DONE: entity vectors written to the graph
                               space (0: not published) */
    char space_error[512];  /* DONE: why they were not ("" when they were
                               or none was asked for) */
} hk_svc_train_status;

/* Fills r (initialised with hk_svc_model_train_req_init) from a JSON
 * object with any of: kind ("complex"|"distmult"), dim, epochs, threads,
 * seed, negatives, lr, reg, valid, test, split_seed. HK_ERR_INVALID with
 * err->field for an unknown key, a wrong type or a value out of range
 * (the ranges of hkl_params_check). o may be NULL (defaults). */
hk_err hk_svc_model_train_req_json(const json_t *o, hk_svc_model_train_req *r,
                                   hk_error *err);

/* Trains the model of s on a thread of its own, so that a server can
 * retrain without blocking a request: the thread collects the KB's facts
 * in a read transaction of its own, trains without one (r->params.threads
 * workers), then stores and publishes the model as hk_svc_model_train
 * does; requests keep the model they acquired until the swap. One job at
 * a time per process: HK_ERR_BUSY while one runs. r->progress and r->ud
 * are ignored (the job reports through hk_svc_train_status_get). */
hk_err hk_svc_train_start(hk_store *s, const hk_svc_model_train_req *r,
                          hk_error *err);
/* The state of the last job on s (IDLE when none ran on s). */
void hk_svc_train_status_get(hk_store *s, hk_svc_train_status *out);
/* Stops a job running on s after its current epoch and waits for it;
 * nothing is stored. Safe when none runs; servers call it before closing
 * the store. */
void hk_svc_train_stop(hk_store *s);
json_t *hk_svc_train_status_jansson(const hk_svc_train_status *st);

/* ==== Evaluation ==== */

/* Baselines for link prediction, evaluated with the same filtered
 * protocol (learn_baseline.c): the most frequent answer of the relation
 * (per direction), and a 1-hop path heuristic. */
typedef struct hk_svc_model_eval_res {
    hkl_metrics model;     /* the model */
    hkl_metrics freq;      /* most frequent answer of the relation */
    hkl_metrics path;      /* 1-hop path heuristic */
    hkl_metrics backoff;   /* the model behind the frequency prior
                              (hkl_eval_backoff; n = 0: not measured) */
    hkl_metrics combo;     /* the combined ranker (hkl_eval_combo; n = 0:
                              not fitted or too large) */
    uint64_t test_triples; /* test edges evaluated */
    uint64_t unknown;      /* test edges naming entities or relations
                              the model never saw (not ranked) */
} hk_svc_model_eval_res;

/* Filtered metrics of m on the test split of the KB in t (the split the
 * model was trained with; other true facts of the KB filtered out), with
 * the baselines trained on the KB's training split. At most max_test
 * test edges (0: 5000, an even sample). */
hk_err hk_svc_model_eval(hk_txn *t, const hkl_model *m, uint64_t max_test,
                         uint32_t threads, hk_svc_model_eval_res *res,
                         hk_error *err);
/* The protocol of the public benchmarks: trains on DIR/train.txt with
 * early stopping on DIR/valid.txt and measures DIR/test.txt, with the
 * baselines. *out (may be NULL) receives the model (hkl_model_free). */
hk_err hk_svc_model_eval_split(const char *dir, const hk_svc_model_train_req *r,
                               hk_svc_model_eval_res *res, hkl_model **out,
                               hk_error *err);
json_t *hk_svc_model_eval_jansson(const hk_svc_model_eval_res *res);

/* ==== Using the model ==== */

typedef struct hk_svc_model_score_res {
    double raw;          /* raw score (mean over the statement's edges) */
    double plausibility; /* calibrated, in [0, 1] */
    double rank;         /* filtered rank of the object among all entities
                            (worst over the edges of an n-ary fact) */
    double rank_head;    /* same for the subject (binary facts; else 0) */
    uint32_t entities;   /* entities ranked among */
    uint32_t edges;      /* edges the statement decomposes into */
    bool in_kb;          /* the statement is a fact of the KB now */
    const char *ranker;  /* the ranker auto chooses: "model" or
                            "combined" (hkl_ranker_auto) */
    bool has_combined;   /* the model has a combined ranker ready: */
    double combined;     /* its score (mean over the edges) */
    double rank_ranker;  /* the object's filtered rank under ranker
                            (= rank when it is "model") */
} hk_svc_model_score_res;

/* Scores statement text: the calibrated plausibility and the rank are
 * the model's; with a combined ranker, its score and the rank under the
 * ranker auto picks are added. HK_ERR_INVALID (with the column) for bad text;
 * HK_ERR_NOT_FOUND naming the entity or predicate the model never saw
 * (err->field "predicate" or "args[i]"). */
hk_err hk_svc_model_score(hk_txn *t, const hkl_model *m, const char *text,
                          size_t len, hk_svc_model_score_res *res,
                          hk_error *err);
json_t *hk_svc_model_score_jansson(const char *statement,
                                   const hk_svc_model_score_res *res);

typedef struct hk_svc_model_cand {
    char *name;          /* the predicted entity or predicate (owned) */
    char *statement;     /* the completed statement (owned) */
    double raw;          /* raw score */
    double plausibility; /* calibrated (the model's, under any ranker) */
    double combined;     /* combined score (ranker "combined" only) */
    bool known;          /* the statement is a fact of the KB now */
} hk_svc_model_cand;

typedef struct hk_svc_model_predict_res {
    hk_svc_model_cand *v; /* best first */
    size_t n;             /* candidates */
    const char *what;     /* "object", "subject" or "predicate" */
    const char *ranker;   /* "model" or "combined": what ordered them */
} hk_svc_model_predict_res;

/* Predicts the one unknown of a pattern: 'P(a, ?x)' (objects), 'P(?x, b)'
 * (subjects) or '?r(a, b)' (predicates), k best (1..1000, 0: 10).
 * HK_ERR_INVALID for another shape (field "pattern"); HK_ERR_NOT_FOUND
 * for names the model never saw. Caller frees res with
 * hk_svc_model_predict_free. */
hk_err hk_svc_model_predict(hk_txn *t, const hkl_model *m, const char *text,
                            size_t len, uint32_t k,
                            hk_svc_model_predict_res *res, hk_error *err);
/* The same under a ranker (hkl_ranker; hk_svc_model_predict: auto).
 * Entities are ranked by the model or the combined ranker; predicates
 * ('?r(a, b)') always by the model. HK_ERR_STATE (field "ranker") for
 * "combined" when the model has none (no validation split, a KB above
 * its table limit, or a model file of version 1). */
hk_err hk_svc_model_predict_ranker(hk_txn *t, const hkl_model *m,
                                   const char *text, size_t len, uint32_t k,
                                   hkl_ranker ranker,
                                   hk_svc_model_predict_res *res,
                                   hk_error *err);
void hk_svc_model_predict_free(hk_svc_model_predict_res *res);
json_t *hk_svc_model_predict_jansson(const char *pattern,
                                     const hk_svc_model_predict_res *res);

typedef struct hk_svc_model_similar_res {
    char **names; /* entity names, nearest first (owned) */
    double *cos;  /* cosine similarity of each */
    size_t n;     /* entities */
} hk_svc_model_similar_res;

/* Entities nearest to entity in embedding space (cosine), k best (1..1000,
 * 0: 10). HK_ERR_NOT_FOUND for an unknown entity. Caller frees with
 * hk_svc_model_similar_free. */
hk_err hk_svc_model_similar(const hkl_model *m, const char *entity, uint32_t k,
                            hk_svc_model_similar_res *res, hk_error *err);
void hk_svc_model_similar_free(hk_svc_model_similar_res *res);
json_t *hk_svc_model_similar_jansson(const char *entity,
                                     const hk_svc_model_similar_res *res);

/* ==== Model scores inside the legacy analysis tools ==== */

/* Plausibility in [0, 1] of statement st under m, without ranks: one
 * score per edge, so it is cheap enough for every fact of a scan.
 * Returns false (and leaves *out) when m never saw one of its entities
 * or its predicate. */
bool hk_svc_model_plausibility(const hkl_model *m, const hk_statement *st,
                               double *out);
/* Similarity in [-1, 1] of two statements in m's embedding space: the
 * mean cosine of their predicates' relation vectors and of their
 * arguments' entity vectors, position by position over the shorter
 * argument list. Returns false when m does not know a name used. */
bool hk_svc_model_pair_similarity(const hkl_model *m, const hk_statement *a,
                                  const hk_statement *b, double *out);

typedef struct hk_svc_model_flag {
    hk_fact_id id;       /* the fact */
    char *statement;     /* its canonical statement (owned) */
    double plausibility; /* below the request's threshold */
} hk_svc_model_flag;

typedef struct hk_svc_model_flag_res {
    size_t examined;      /* facts read, newest first */
    size_t unknown;       /* of them, naming something m never saw */
    hk_svc_model_flag *v; /* least plausible first */
    size_t n;             /* entries in v (<= max) */
} hk_svc_model_flag_res;

/* The facts among the newest limit (>= 1) whose plausibility under m is
 * below `below`, least plausible first, at most max (>= 1) of them.
 * Caller frees res with hk_svc_model_flag_free. */
hk_err hk_svc_model_implausible(hk_txn *t, const hkl_model *m, size_t limit,
                                double below, size_t max,
                                hk_svc_model_flag_res *res, hk_error *err);
void hk_svc_model_flag_free(hk_svc_model_flag_res *res);
/* {"kind", "dim", "audit_seq", "age", "valid_mrr"} of the model of h,
 * for answers that used it (age: audit entries since training). */
json_t *hk_svc_model_brief_jansson(hk_txn *t, const hkl_model *m);

#endif /* HK_SVC_LEARN_H */
