/*
 * learn_int.h — internals shared by the files of src/learn (not for other
 * modules: they use learn.h).
 */
#ifndef HK_LEARN_INT_H
#define HK_LEARN_INT_H

#include "learn/learn.h"

/* Widest vector (floats): dim <= HKL_WIDTH_MAX / 2, so that a query
 * vector fits on the stack of every scoring function. */
#define HKL_WIDTH_MAX 4096

/* Kernels compiled for the baseline and for x86-64-v3 (AVX2, FMA), picked
 * by the CPU's features at load time
 * (gcc on x86-64; elsewhere one portable version). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define HKL_CLONES __attribute__((target_clones("default", "arch=x86-64-v3")))
#else
#define HKL_CLONES
#endif

/* splitmix64: the one generator of training, sampling and calibration. */
static inline uint64_t hkl_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

float hkl_dot(const float *a, const float *b, uint32_t n);
/* out[e] = q . rows[e] for e < n (rows of width floats). */
void hkl_dots(const float *q, const float *rows, uint32_t width, uint32_t n,
              float *out);
/* q = h o r (DistMult) or the complex product (ComplEx). */
void hkl_query_vec(hkl_kind kind, uint32_t width, const float *h,
                   const float *r, float *q);
/* Given dL/dq, the gradients dL/dh and dL/dr of q = h o r. */
void hkl_query_back(hkl_kind kind, uint32_t width, const float *h,
                    const float *r, const float *gq, float *gh, float *gr);
/* The known answers of query (e, r, ?): triples with h = e and relation r
 * (r < n_rel; answers in .t) or, for a reciprocal r, t = e and relation
 * r - n_rel (answers in .h, *heads true). */
void hkl_known_answers(const hkl_known *k, uint32_t n_rel, uint32_t e,
                       uint32_t r, const hkl_triple **first, size_t *count,
                       bool *heads);

/* One Adagrad step of x (w floats) with gradient g and accumulators G. */
void hkl_adagrad(float *x, float *G, const float *g, uint32_t w, float lr);
/* g += d/dx lambda * sum_i |x_i|^3 (|x_i| the modulus of a complex
 * coordinate for ComplEx). */
void hkl_n3_grad(hkl_kind kind, uint32_t w, const float *x, float lambda,
                 float *g);

/* ==== 1-N training (learn_1n.c) ====
 * A context for m (its E and R trained in place, GE and GR their Adagrad
 * accumulators, borrowed) on threads workers. HK_ERR_NOMEM. */
typedef struct hkl_1n hkl_1n;
hk_err hkl_1n_new(hkl_model *m, float *GE, float *GR, uint32_t threads,
                  hkl_1n **out);
void hkl_1n_free(hkl_1n *c);
uint32_t hkl_1n_batch_size(const hkl_1n *c);
/* Runs the queries order[0..n) ((triple index << 1) | reciprocal, over
 * tr) in batches of hkl_1n_batch_size; with apply, takes an Adagrad step
 * per batch, else (one batch: n <= batch size) leaves the gradient of the
 * batch's objective in hkl_1n_grad_e / _r. *loss: the sum of the queries'
 * cross-entropies (without N3). HK_ERR_NOMEM when a thread cannot start. */
hk_err hkl_1n_run(hkl_1n *c, const hkl_triple *tr, const uint32_t *order,
                  size_t n, bool apply, double *loss);
const float *hkl_1n_grad_e(const hkl_1n *c); /* n_ent x width */
const float *hkl_1n_grad_r(const hkl_1n *c); /* 2 n_rel x width */

/* ==== Ranking by dense rows (learn_baseline.c, learn_combo.c) ==== */

/* Largest dense table (cells) the baselines and the combined ranker
 * allocate: 2 R x N per-answer rows, 2 R x 2 R rule confidences. */
#define HKL_DENSE_MAX (1u << 26)

/* Filtered rank of answer a of query (q, rd) from scores s[0..n_ent) (in
 * double: counts plus a score in (0, 1) must not round together); ties
 * count half, other known answers in k are removed. */
double hkl_filtered_rank(const double *s, uint32_t n_ent, const hkl_known *k,
                         uint32_t n_rel, uint32_t q, uint32_t rd, uint32_t a);
/* Adds one rank to sums in m; hkl_metrics_finish turns sums into means. */
void hkl_metrics_add(hkl_metrics *m, double rank);
void hkl_metrics_finish(hkl_metrics *m);
/* *out (2R x 2R floats, caller frees with hk_free): the confidence of the
 * rule "r2d(x, y) => rd(x, y)" on the pairs tr[0..n_tr) of R relations at
 * r2d * 2R + rd, directions as in learn.h ("Baselines"). HK_ERR_LIMIT,
 * HK_ERR_NOMEM. */
hk_err hkl_rule_conf(uint32_t R, const hkl_triple *tr, size_t n_tr,
                     float **out);

#endif /* HK_LEARN_INT_H */
