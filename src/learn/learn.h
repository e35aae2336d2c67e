/*
 * learn.h — knowledge-graph embeddings learned from the KB: DistMult and
 * ComplEx with N3 regularisation, trained in C, evaluated with the
 * filtered link-prediction protocol, and used for plausibility scores,
 * link prediction and similar entities.
 *
 * ==== Facts as triples ====
 * A model sees binary edges (head, relation, tail). A fact becomes:
 *   - P(a, b)            -> (a, "P", b)
 *   - P(a)               -> (a, "P", "") : the empty entity stands for
 *                           "true" (no argument can be empty, so it never
 *                           collides with a real entity);
 *   - P(a0, a1, ..., an) -> role edges from the first argument:
 *                           (a0, "P#1", a1), ..., (a0, "P#n", an).
 * A statement is scored as the mean raw score of its edges; all edges of
 * one fact fall into the same split (train / valid / test), chosen by a
 * hash of the fact id and the split seed, so the split is stable while
 * facts are added.
 *
 * ==== Models ====
 * Every relation r has a reciprocal r' (row r + n_rel), as in Lacroix et
 * al. 2018: a triple (h, r, t) trains the queries (h, r, ?) and (t, r', ?),
 * so head prediction is tail prediction with r'. A query vector q = h o r
 * (element-wise; complex product for ComplEx) scores every entity e with
 * one dot product q . e, which the compiler vectorises (kernels compiled
 * for AVX2+FMA and chosen at run time).
 *   DistMult: width = dim floats, s = sum h_i r_i t_i.
 *   ComplEx:  width = 2 * dim floats (re[dim] then im[dim]),
 *             s = Re(sum h_i r_i conj(t_i)).
 *
 * ==== Threads ====
 * hkl_train uses params.threads workers (Hogwild: lock-free updates of the
 * shared parameters; one thread with a seed is bit-for-bit repeatable).
 * A trained or loaded model is immutable: any number of threads may score,
 * rank and predict with it at once.
 */
#ifndef HK_LEARN_H
#define HK_LEARN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hakgal.h"

/* ==== Names ==== */

/* A string <-> dense id dictionary (ids 0..n-1 in insertion order). */
typedef struct hkl_names {
    char **v;         /* v[id]: NUL-terminated name (owned) */
    uint32_t n;       /* names held */
    uint32_t cap;     /* slots allocated in v */
    uint32_t *slots;  /* open-addressing table of id + 1 (0 = empty) */
    uint32_t n_slots; /* power of two, > 2 * n */
} hkl_names;

/* Id of name s[0..len), adding it when absent. HK_ERR_NOMEM. */
hk_err hkl_names_intern(hkl_names *nm, const char *s, size_t len, uint32_t *id);
/* Id of s[0..len), or UINT32_MAX when absent. */
uint32_t hkl_names_find(const hkl_names *nm, const char *s, size_t len);
void hkl_names_free(hkl_names *nm);

/* ==== Data: triples and their splits ==== */

typedef struct hkl_triple {
    uint32_t h; /* head entity id */
    uint32_t r; /* relation id (forward, < n_rel) */
    uint32_t t; /* tail entity id */
} hkl_triple;

typedef enum hkl_split { HKL_TRAIN = 0, HKL_VALID = 1, HKL_TEST = 2 } hkl_split;

/* Every true triple, sorted twice, for filtered ranking and "known"
 * checks: by (h, r, t) and by (t, r, h). */
typedef struct hkl_known {
    hkl_triple *hrt; /* sorted by h, r, t */
    hkl_triple *trh; /* sorted by t, r, h */
    size_t n;        /* triples in each */
} hkl_known;

typedef struct hkl_data {
    hkl_names ent;        /* entity names */
    hkl_names rel;        /* relation names */
    hkl_triple *split[3]; /* triples per hkl_split */
    size_t n[3];          /* triples per split */
    size_t cap[3];        /* allocated per split */
    hkl_known known;      /* all splits, after hkl_data_finish */
    uint64_t facts;       /* facts read (KB) or lines read (files) */
    uint64_t skipped;     /* facts or lines not usable */
} hkl_data;

void hkl_data_init(hkl_data *d);
void hkl_data_free(hkl_data *d);
/* Adds a triple by names to a split. */
hk_err hkl_data_add(hkl_data *d, hkl_split sp, const char *h, size_t hl,
                    const char *r, size_t rl, const char *t, size_t tl);
/* Adds the edges of one statement (see "Facts as triples"). */
hk_err hkl_data_add_statement(hkl_data *d, hkl_split sp,
                              const hk_statement *st);
/* Which split a fact id falls into for fractions valid, test and a seed. */
hkl_split hkl_split_of(hk_fact_id id, uint64_t seed, double valid, double test);
/* Reads every fact of the KB in t into the splits (valid/test fractions of
 * the facts, by hkl_split_of). */
hk_err hkl_data_from_kb(hk_txn *t, hkl_data *d, uint64_t split_seed,
                        double valid, double test, hk_error *err);
/* Reads DIR/train.txt, DIR/valid.txt, DIR/test.txt: one triple per line,
 * "head<TAB>relation<TAB>tail" (the format of the public benchmarks).
 * err names the file and line of a malformed line. */
hk_err hkl_data_read_split(const char *dir, hkl_data *d, hk_error *err);
/* Builds d->known from every split; call after the last add. */
hk_err hkl_data_finish(hkl_data *d, hk_error *err);
/* Builds k from n triples (copied). Caller frees with hkl_known_free. */
hk_err hkl_known_build(hkl_known *k, const hkl_triple *v, size_t n);
void hkl_known_free(hkl_known *k);
bool hkl_known_has(const hkl_known *k, uint32_t h, uint32_t r, uint32_t t);
/* Known answers of the query (e, r, ?) for n_rel relations: tails of
 * (e, r) for r < n_rel, heads of (?, r - n_rel, e) for a reciprocal. */
size_t hkl_known_count(const hkl_known *k, uint32_t n_rel, uint32_t e,
                       uint32_t r);

/* ==== Models ==== */

typedef enum hkl_kind { HKL_DISTMULT = 1, HKL_COMPLEX = 2 } hkl_kind;

const char *hkl_kind_name(hkl_kind k);
bool hkl_kind_parse(const char *s, hkl_kind *out);

typedef struct hkl_params {
    hkl_kind kind;       /* scoring function */
    uint32_t dim;        /* rank: floats (DistMult) or complex numbers,
                            1..2048 */
    uint32_t epochs;     /* maximum passes over the training triples */
    uint32_t threads;    /* worker threads (1: deterministic with seed) */
    uint64_t seed;       /* initialisation, shuffling, negatives */
    float lr;            /* Adagrad learning rate */
    float reg;           /* N3 weight lambda */
    float init_scale;    /* initial values uniform in +-init_scale */
    uint32_t negatives;  /* sampled negatives per query (softmax over them
                            and the true tail); 0: 1-N, the softmax over
                            every entity (learn_1n.c) */
    uint32_t eval_every; /* epochs between validation MRR checks */
    uint32_t patience;   /* checks without improvement before stopping */
    uint32_t valid_max;  /* validation triples used for early stopping */
} hkl_params;

/* Defaults: ComplEx, dim 64, 100 epochs, 2 threads, seed 1, lr 0.1,
 * reg 0.001, init 0.1, 64 negatives, check every 5, patience 3, 1000
 * validation triples. */
void hkl_params_default(hkl_params *p);
/* Ranges: dim 1..2048, epochs 1..100000, threads 1..64, negatives
 * 0..65536 (0: 1-N), lr (0, 10], reg [0, 10], init (0, 10]. err->field names
 * the parameter. */
hk_err hkl_params_check(const hkl_params *p, hk_error *err);

typedef struct hkl_metrics {
    double mrr;       /* mean reciprocal filtered rank (both directions) */
    double hits1;     /* fraction of ranks <= 1 */
    double hits3;     /* <= 3 */
    double hits10;    /* <= 10 */
    double mean_rank; /* mean filtered rank */
    uint64_t n;       /* ranks counted (2 per triple) */
} hkl_metrics;

/* Weights of the combined ranker (learn_combo.c), fitted on the
 * validation split; the features, in order: model score, log(1 + answer
 * frequency), answer seen, log(1 + 1-hop evidence), adjacent to the
 * query entity, type overlap, log(1 + degree), log(1 + edges on the
 * answer's side), log(1 + two-hop walks from the query entity). */
#define HKL_COMBO_NF 9
typedef struct hkl_combo {
    bool fitted;            /* false: no weights (no validation split,
                               a KB too large for the dense features,
                               or a model file of version 1) */
    double w[HKL_COMBO_NF]; /* weight per feature, raw units */
    uint64_t fit_queries;   /* validation queries fitted on */
    uint64_t fit_rows;      /* candidate rows over all of them */
    double fit_loss;        /* mean penalised negative log-likelihood */
    double fit_l2;          /* L2 penalty chosen by cross-validation */
    hkl_metrics valid;      /* combined ranker on the validation split
                               (the fit's own data: optimistic) */
} hkl_combo;

typedef struct hkl_model {
    hkl_params p;           /* hyperparameters it was trained with */
    uint32_t width;         /* floats per vector (dim or 2 * dim) */
    hkl_names ent;          /* entity names, id = row of E */
    hkl_names rel;          /* forward relation names (< n_rel) */
    float *E;               /* n_ent x width */
    float *R;               /* 2 * n_rel x width (reciprocals after) */
    hkl_known known;        /* triples known at training time */
    uint64_t audit_seq;     /* audit entries of the KB when trained */
    int64_t trained_us;     /* when training ended */
    uint64_t split_seed;    /* split of the KB's facts (hkl_split_of) */
    double split_valid;     /* fraction of facts held out for validation */
    double split_test;      /* fraction held out for testing */
    double platt_a;         /* plausibility = 1 / (1 + exp(-(a s + b))) */
    double platt_b;         /* (fitted on the validation split) */
    hkl_metrics valid;      /* filtered metrics on the validation split */
    hkl_metrics test;       /* on the test split (n = 0: none) */
    uint32_t epochs_run;    /* epochs trained */
    uint32_t best_epoch;    /* epoch of the parameters kept */
    double train_seconds;   /* wall time of training */
    double last_loss;       /* mean loss of the last epoch */
    uint64_t n_train;       /* training triples */
    double triples_per_sec; /* training throughput (triples x epochs / s) */
    int8_t *Q;              /* int8 copy of E for predict scans, or NULL
                               (hkl_quantize; not stored in the file) */
    float *q_scale;         /* per entity: E row = q_scale * Q row */
    hkl_combo combo;        /* combined ranker (fitted by hkl_train) */
    struct hkl_cfeat *cf;   /* its tables for prediction, or NULL
                               (hkl_combo_prepare; not stored) */
} hkl_model;

/* Progress of training: after every epoch (valid_mrr < 0 when not
 * checked in that epoch). Returns false to stop training: hkl_train then
 * fails with HK_ERR_STATE ("training was stopped") and writes nothing. */
typedef bool (*hkl_progress_fn)(void *ud, uint32_t epoch, uint32_t epochs,
                                double loss, double valid_mrr);

/* Trains a model on d's training triples (d finished), with early
 * stopping on up to p->valid_max of its validation triples, then fits the
 * plausibility calibration and measures valid (all) and test metrics.
 * Caller frees *out with hkl_model_free. HK_ERR_INVALID when d has no
 * training triples. */
hk_err hkl_train(const hkl_data *d, const hkl_params *p, hkl_progress_fn fn,
                 void *ud, hkl_model **out, hk_error *err);
void hkl_model_free(hkl_model *m);

uint32_t hkl_n_ent(const hkl_model *m);
uint32_t hkl_n_rel(const hkl_model *m);

/* ==== Scoring ==== */

/* Raw score of (h, r, t); r < 2 * n_rel (r >= n_rel: reciprocal). */
float hkl_score(const hkl_model *m, uint32_t h, uint32_t r, uint32_t t);
/* Calibrated plausibility in [0, 1] of a raw score. */
double hkl_plausibility(const hkl_model *m, double raw);
/* Raw scores of (h, r, e) for every entity e into out[n_ent]. */
void hkl_score_tails(const hkl_model *m, uint32_t h, uint32_t r, float *out);
/* Gradients of the raw score of (h, r, t) with respect to the three
 * vectors (width floats each), for kind and width: the function training
 * uses, exposed for finite-difference checks. */
float hkl_score_vec(hkl_kind kind, uint32_t width, const float *h,
                    const float *r, const float *t);
void hkl_score_grad(hkl_kind kind, uint32_t width, const float *h,
                    const float *r, const float *t, float *gh, float *gr,
                    float *gt);

/* Filtered rank (1 = best) of the true tail t of query (h, r, ?) among
 * every entity, other known true tails removed; ties count half. r may be
 * a reciprocal. scratch: n_ent floats or NULL (allocated). */
double hkl_rank_tail(const hkl_model *m, const hkl_known *k, uint32_t h,
                     uint32_t r, uint32_t t, float *scratch);
/* Filtered metrics over n triples, both directions, on threads workers.
 * HK_ERR_NOMEM. */
hk_err hkl_eval(const hkl_model *m, const hkl_known *k, const hkl_triple *v,
                size_t n, uint32_t threads, hkl_metrics *out);

/* Fits platt_a / platt_b on the triples v (positives) against one
 * corrupted tail each (never a known triple), drawn with seed. */
hk_err hkl_calibrate(hkl_model *m, const hkl_triple *v, size_t n,
                     uint64_t seed);

/* ==== Baselines ====
 * Two simple link predictors under the same filtered protocol, learned
 * from d's training split and filtered with d->known (learn_baseline.c):
 *   freq: the answer's frequency for the relation and direction;
 *   path: 1-hop rules: an entity e linked to the query entity q by an
 *         edge r2 (either direction) scores the confidence of
 *         "r2(x, y) implies r(x, y)" measured on the training pairs,
 *         summed over such edges; ties broken by freq.
 * HK_ERR_LIMIT when 2 * relations * entities exceeds 2^26 (the dense
 * frequency table); HK_ERR_NOMEM. */
hk_err hkl_baselines(const hkl_data *d, const hkl_triple *v, size_t n,
                     hkl_metrics *freq, hkl_metrics *path);
/* Filtered metrics of m backed off to the freq prior: candidates ranked by
 * their frequency as answers of the relation and direction in d's training
 * split, equal frequencies by m's score. m's entities and relations must
 * be d's first ids (HK_ERR_INVALID otherwise); triples naming others are
 * not ranked, as in hkl_eval. HK_ERR_LIMIT and HK_ERR_NOMEM as above. */
hk_err hkl_eval_backoff(const hkl_model *m, const hkl_data *d,
                        const hkl_triple *v, size_t n, hkl_metrics *out);

/* ==== Combined ranker ====
 * score(e) = w . x(e) over the features of HKL_COMBO_NF for the query
 * (q, r, ?): the model's raw score beside the frequency prior, 1-hop
 * rule evidence, adjacency, a type overlap learned from the answer sets
 * of the relations, the degree, the answer's side and two-hop walks, all
 * counted on d's training split
 * (learn_combo.c). hkl_train fits the weights on the validation split. */

#define HKL_COMBO_ALL ((1u << HKL_COMBO_NF) - 1)
/* Fits m->combo on up to 1000 of d's validation triples (both
 * directions), features from d's training split; random candidates (KBs
 * over 4096 entities) drawn with seed: deterministic. mask: bit k set =
 * feature k is used, the others keep weight 0 (HKL_COMBO_ALL in
 * training; fewer to measure what a feature adds). No validation
 * triples: m->combo.fitted stays false, HK_OK. m's ids must be d's first
 * ids (HK_ERR_INVALID); HK_ERR_LIMIT when 2 R x N or (2 R)^2 exceeds
 * 2^24; HK_ERR_NOMEM. */
hk_err hkl_combo_fit(hkl_model *m, const hkl_data *d, uint64_t seed,
                     uint32_t mask);
/* Filtered metrics of the combined ranker with m->combo's weights
 * (HK_ERR_STATE when not fitted), features from d's training split;
 * otherwise as hkl_eval_backoff. */
hk_err hkl_eval_combo(const hkl_model *m, const hkl_data *d,
                      const hkl_triple *v, size_t n, hkl_metrics *out);

/* ==== Which ranker answers ====
 * predict ranks candidate entities by the model's score or by the
 * combined ranker's; auto takes the combined ranker when the model has
 * one ready (fitted and prepared), at most HKL_COMBO_AUTO_MAX entities,
 * and its MRR on the validation split beat the model's at training time:
 * the choice per KB made on held-out data (the sample KB: combined;
 * WN18RR: the model). */
typedef enum hkl_ranker {
    HKL_RANKER_AUTO = 0,
    HKL_RANKER_MODEL = 1,
    HKL_RANKER_COMBINED = 2
} hkl_ranker;

const char *hkl_ranker_name(hkl_ranker r);
bool hkl_ranker_parse(const char *s, hkl_ranker *out);
/* Most entities for which auto takes the combined ranker: its exact scan
 * computes nine features per entity (about 0.2 us each, 88 ms p50 at
 * 400,000 entities on this machine under load, against 10 ms for the
 * model's int8 scan), so above this auto stays with the model's path
 * (predict over 1M entities within 20 ms); "combined" still forces it. */
#define HKL_COMBO_AUTO_MAX (1u << 16)
/* MODEL or COMBINED, as "auto" decides for m. */
hkl_ranker hkl_ranker_auto(const hkl_model *m);
/* Builds m->cf, the combined ranker's tables counted on every edge the
 * model knew (m->known: the training, validation and test edges, the
 * facts a user asks about; the weights were fitted with the training
 * edges alone). HK_ERR_STATE when m->combo is not fitted, HK_ERR_LIMIT
 * above the fit's 2^24-cell tables (no combined ranker then),
 * HK_ERR_NOMEM. */
hk_err hkl_combo_prepare(hkl_model *m);
/* Frees m->cf (hkl_model_free does). */
void hkl_combo_release(hkl_model *m);
/* Combined scores of every entity e for the query (q, rd, ?) (rd >= n_rel:
 * reciprocal) into out[n_ent]. HK_ERR_STATE without m->cf,
 * HK_ERR_INVALID for ids out of range, HK_ERR_NOMEM. Thread-safe. */
hk_err hkl_combo_scores(const hkl_model *m, uint32_t q, uint32_t rd,
                        double *out);

/* The combined score of (h, r, t) and the filtered rank of t among every
 * entity under the combined ranker (other answers in m->known removed,
 * ties count half). Errors as hkl_combo_scores. */
hk_err hkl_combo_rank_tail(const hkl_model *m, uint32_t h, uint32_t r,
                           uint32_t t, double *score, double *rank);

/* ==== Ranking candidates ==== */

typedef struct hkl_hit {
    uint32_t id; /* entity or relation id */
    float score; /* raw score */
} hkl_hit;

/* The k best of n scores (descending, ties by id), skipping ids in
 * skip[0..n_skip). Returns hits written (<= k). */
size_t hkl_top_k(const float *scores, uint32_t n, size_t k,
                 const uint32_t *skip, size_t n_skip, hkl_hit *out);
/* Builds m->Q, an int8 copy of E (per-row scale max|x| / 127), so that
 * hkl_predict reads a quarter of the bytes per scan. HK_ERR_NOMEM. */
hk_err hkl_quantize(hkl_model *m);
/* Candidates re-scored exactly after an int8 scan, beyond k. */
#define HKL_RERANK 64
/* The k best answers of the query (h, r, ?) (r may be a reciprocal),
 * skipping skip[0..n_skip), best first, exact scores. With m->Q: an int8
 * scan keeps the k + HKL_RERANK best approximate scores and re-scores
 * them with the float vectors (approximate: an entity whose int8 score
 * falls below that cut is missed; from 2^18 entities the scan runs on
 * two threads); without: an exact scan. scratch: n_ent floats. Returns hits
 * written (<= k <= HKL_PREDICT_MAX). */
#define HKL_PREDICT_MAX 1000
size_t hkl_predict(const hkl_model *m, uint32_t h, uint32_t r, size_t k,
                   const uint32_t *skip, size_t n_skip, float *scratch,
                   hkl_hit *out);
/* The k best answers of (q, rd, ?) by the combined ranker (an exact
 * scan of every entity, scores compared in double, ties by id), skipping
 * skip[0..n_skip), best first (score: the combined score). Returns hits
 * written; errors of hkl_combo_scores as 0 hits with *rc set. */
size_t hkl_predict_combo(const hkl_model *m, uint32_t q, uint32_t rd, size_t k,
                         const uint32_t *skip, size_t n_skip, hkl_hit *out,
                         hk_err *rc);
/* Entities nearest to e by cosine similarity of their vectors (e itself
 * excluded): the k best into out (score = cosine). Returns hits written;
 * HK_ERR_NOMEM as 0 hits with *rc set. */
size_t hkl_similar(const hkl_model *m, uint32_t e, size_t k, hkl_hit *out,
                   hk_err *rc);

/* ==== Model files ==== */

/* The model file of a KB: DIR/learn.model. */
#define HKL_MODEL_FILE "learn.model"

/* Writes m to path atomically (a temporary file in the same directory,
 * fsync, rename, fsync of the directory). */
hk_err hkl_save(const hkl_model *m, const char *path, hk_error *err);
/* Reads a model file; HK_ERR_NOT_FOUND when absent, HK_ERR_CORRUPT (with
 * the reason) when damaged, HK_ERR_VERSION for an unknown format. Caller
 * frees with hkl_model_free. */
hk_err hkl_load(const char *path, hkl_model **out, hk_error *err);

#endif /* HK_LEARN_H */
