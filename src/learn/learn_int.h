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

#endif /* HK_LEARN_INT_H */
