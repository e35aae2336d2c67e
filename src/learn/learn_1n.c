/*
 * learn_1n.c — 1-N training: every query is scored against all entities,
 * with the full softmax cross-entropy of Lacroix et al. 2018 (ComplEx-N3
 * with reciprocal relations), on both cores, deterministic for a seed and
 * a thread count.
 *
 * ==== The objective of one batch ====
 * A batch holds B queries (h_b, r_b, ?) -> a_b (a reciprocal r_b asks for
 * the head). With q_b = h_b o r_b and s_be = q_b . E_e for every entity e:
 *   L = 1/B sum_b [ log sum_e exp(s_be) - s_b,a_b ]
 *     + lambda/B sum_b ( |h_b|^3 + |r_b|^3 + |a_b|^3 )      (N3)
 * and with G_be = (softmax_e(s_b.) - [e = a_b]) / B:
 *   dL/dE_e = sum_b G_be q_b          (every entity: the softmax is dense)
 *   dL/dq_b = sum_e G_be E_e,  then through q = h o r to h_b and r_b.
 * So a batch is three matrix products of B x n_ent x width: S = Q E^T,
 * dQ = G E and dE = G^T Q, plus a dense Adagrad step on every entity row
 * (as the published recipe, whose entity table gets a dense gradient).
 *
 * ==== Threads ====
 * The entities are cut into one contiguous slice per thread. A thread
 * scores its slice for the whole batch, writes the gradient rows of its
 * slice and updates only those rows, so no two threads write the same
 * memory; four barriers per batch order the phases:
 *   1. queries q_b (every thread builds them, they are cheap), scores of
 *      the slice, the slice's row maxima and sums of exp;
 *   2. the global softmax from the per-slice maxima and sums (combined in
 *      thread order), G for the slice, dE for the slice, a partial dQ;
 *   3. dQ_b summed over the threads in thread order by the owner of h_b,
 *      back through q = h o r, N3 terms; Adagrad on the slice's rows;
 *   4. relation rows: row r belongs to thread r % threads, which sums the
 *      batch's gradients of its rows in batch order and steps them.
 * Every sum runs in a fixed order, so a seed reproduces the model bit for
 * bit for a given thread count (unlike the Hogwild sampled training).
 *
 * ==== Kernels ====
 * The products are written with gcc's vector extension (8 floats) and
 * compiled twice (baseline, AVX2+FMA; HKL_CLONES): register blocks of
 * 4 queries x 2 entities for S, 4 rows x 16 columns for dQ and dE, over
 * entity blocks small enough to stay in cache. A width that is not a
 * multiple of 8 takes the scalar path (correct, slower).
 */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "core/mem.h"
#include "learn/learn.h"
#include "learn/learn_int.h"

/* Queries per batch (the published recipe uses 100); fewer when a batch's
 * score matrix would pass HKL_1N_SCORES floats. */
#define BATCH_1N 100
#define HKL_1N_SCORES (1u << 25)
/* Entities per cache block of the products. */
#define EBLK 128

typedef float v8 __attribute__((vector_size(32), aligned(4), may_alias));
#define V8(p) (*(const v8 *)(const void *)(p))
#define V8W(p) (*(v8 *)(void *)(p))
#define HSUM(v)                                                                \
    ((((v)[0] + (v)[1]) + ((v)[2] + (v)[3])) +                                 \
     (((v)[4] + (v)[5]) + ((v)[6] + (v)[7])))

struct hkl_1n {
    hkl_model *m;     /* model trained (E, R updated in place) */
    float *GE, *GR;   /* Adagrad accumulators of E and R */
    uint32_t threads; /* workers, each owning an entity slice */
    uint32_t bsize;   /* queries per batch */
    uint32_t lo[64];  /* slice of thread t: entities [lo, hi) */
    uint32_t hi[64];  /* */
    float *gE;        /* n_ent x width: gradient of the batch */
    float *gR;        /* 2 n_rel x width: gradient of the batch */
    uint8_t *rdone;   /* 2 n_rel: row stepped in this batch */
    float *Q[64];     /* per thread: bsize x width query vectors */
    float *S[64];     /* per thread: bsize x slice scores, then G */
    float *gQ[64];    /* per thread: bsize x width partial dL/dq */
    float *grb;       /* bsize x width: dL/dr_b */
    float *mx;        /* threads x bsize: slice row maxima */
    float *zs;        /* threads x bsize: slice sums of exp(s - max) */
    float *sa;        /* bsize: score of the true answer */
    pthread_barrier_t bar;
    pthread_mutex_t mu; /* guards go */
    pthread_cond_t cv;  /* signals go */
    int go;             /* 0: wait, 1: run, 2: every thread could not start */
    /* the run */
    const hkl_triple *tr;  /* triples */
    const uint32_t *order; /* queries: (triple << 1) | reciprocal */
    size_t n;              /* queries */
    bool apply;            /* take the Adagrad steps (false: gradients) */
    double loss;           /* sum of the queries' cross-entropies */
};

/* ==== Kernels ==== */

/* S[b * lds + e] = Q_b . X_e for b < nb, e < ne (rows of w floats). */
HKL_CLONES static void k_scores(const float *Q, uint32_t nb, const float *X,
                                uint32_t ne, uint32_t w, float *S, size_t lds)
{
    if (w % 8) {
        for (uint32_t b = 0; b < nb; b++)
            for (uint32_t e = 0; e < ne; e++)
                S[b * lds + e] =
                    hkl_dot(Q + (size_t)b * w, X + (size_t)e * w, w);
        return;
    }
    for (uint32_t e0 = 0; e0 < ne; e0 += EBLK) {
        uint32_t e1 = e0 + EBLK < ne ? e0 + EBLK : ne;
        uint32_t b = 0;
        for (; b + 4 <= nb; b += 4) {
            const float *q0 = Q + (size_t)b * w, *q1 = q0 + w, *q2 = q1 + w,
                        *q3 = q2 + w;
            float *s0 = S + b * lds, *s1 = s0 + lds, *s2 = s1 + lds,
                  *s3 = s2 + lds;
            uint32_t e = e0;
            for (; e + 2 <= e1; e += 2) {
                const float *x0 = X + (size_t)e * w, *x1 = x0 + w;
                v8 a00 = {0}, a01 = {0}, a10 = {0}, a11 = {0};
                v8 a20 = {0}, a21 = {0}, a30 = {0}, a31 = {0};
                for (uint32_t k = 0; k < w; k += 8) {
                    v8 y0 = V8(x0 + k), y1 = V8(x1 + k), t;
                    t = V8(q0 + k);
                    a00 += t * y0;
                    a01 += t * y1;
                    t = V8(q1 + k);
                    a10 += t * y0;
                    a11 += t * y1;
                    t = V8(q2 + k);
                    a20 += t * y0;
                    a21 += t * y1;
                    t = V8(q3 + k);
                    a30 += t * y0;
                    a31 += t * y1;
                }
                s0[e] = HSUM(a00);
                s0[e + 1] = HSUM(a01);
                s1[e] = HSUM(a10);
                s1[e + 1] = HSUM(a11);
                s2[e] = HSUM(a20);
                s2[e + 1] = HSUM(a21);
                s3[e] = HSUM(a30);
                s3[e + 1] = HSUM(a31);
            }
            for (; e < e1; e++) {
                const float *x0 = X + (size_t)e * w;
                s0[e] = hkl_dot(q0, x0, w);
                s1[e] = hkl_dot(q1, x0, w);
                s2[e] = hkl_dot(q2, x0, w);
                s3[e] = hkl_dot(q3, x0, w);
            }
        }
        for (; b < nb; b++)
            for (uint32_t e = e0; e < e1; e++)
                S[b * lds + e] =
                    hkl_dot(Q + (size_t)b * w, X + (size_t)e * w, w);
    }
}

/* Y[b] += sum_e G[b * lds + e] X_e for b < nb, e < ne (Y: nb x w). */
HKL_CLONES static void k_gq(const float *G, size_t lds, uint32_t nb,
                            const float *X, uint32_t ne, uint32_t w, float *Y)
{
    for (uint32_t e0 = 0; e0 < ne; e0 += EBLK) {
        uint32_t e1 = e0 + EBLK < ne ? e0 + EBLK : ne;
        uint32_t b = 0;
        for (; w % 16 == 0 && b + 4 <= nb; b += 4) {
            const float *g0 = G + b * lds, *g1 = g0 + lds, *g2 = g1 + lds,
                        *g3 = g2 + lds;
            for (uint32_t k = 0; k < w; k += 16) {
                float *y0 = Y + (size_t)b * w + k, *y1 = y0 + w, *y2 = y1 + w,
                      *y3 = y2 + w;
                v8 a00 = V8(y0), a01 = V8(y0 + 8), a10 = V8(y1),
                   a11 = V8(y1 + 8), a20 = V8(y2), a21 = V8(y2 + 8),
                   a30 = V8(y3), a31 = V8(y3 + 8);
                for (uint32_t e = e0; e < e1; e++) {
                    const float *x = X + (size_t)e * w + k;
                    v8 x0 = V8(x), x1 = V8(x + 8);
                    a00 += g0[e] * x0;
                    a01 += g0[e] * x1;
                    a10 += g1[e] * x0;
                    a11 += g1[e] * x1;
                    a20 += g2[e] * x0;
                    a21 += g2[e] * x1;
                    a30 += g3[e] * x0;
                    a31 += g3[e] * x1;
                }
                V8W(y0) = a00;
                V8W(y0 + 8) = a01;
                V8W(y1) = a10;
                V8W(y1 + 8) = a11;
                V8W(y2) = a20;
                V8W(y2 + 8) = a21;
                V8W(y3) = a30;
                V8W(y3 + 8) = a31;
            }
        }
        for (; b < nb; b++) {
            float *y = Y + (size_t)b * w;
            for (uint32_t e = e0; e < e1; e++) {
                float g = G[b * lds + e];
                const float *x = X + (size_t)e * w;
                for (uint32_t k = 0; k < w; k++)
                    y[k] += g * x[k];
            }
        }
    }
}

/* Y_e = sum_b G[b * lds + e] Q_b for e < ne, b < nb (Y: ne x w,
 * overwritten). */
HKL_CLONES static void k_ge(const float *G, size_t lds, uint32_t nb,
                            const float *Q, uint32_t ne, uint32_t w, float *Y)
{
    uint32_t e = 0;
    for (; w % 16 == 0 && e + 4 <= ne; e += 4) {
        for (uint32_t k = 0; k < w; k += 16) {
            v8 a00 = {0}, a01 = {0}, a10 = {0}, a11 = {0};
            v8 a20 = {0}, a21 = {0}, a30 = {0}, a31 = {0};
            for (uint32_t b = 0; b < nb; b++) {
                const float *q = Q + (size_t)b * w + k;
                const float *g = G + b * lds + e;
                v8 x0 = V8(q), x1 = V8(q + 8);
                a00 += g[0] * x0;
                a01 += g[0] * x1;
                a10 += g[1] * x0;
                a11 += g[1] * x1;
                a20 += g[2] * x0;
                a21 += g[2] * x1;
                a30 += g[3] * x0;
                a31 += g[3] * x1;
            }
            float *y0 = Y + (size_t)e * w + k, *y1 = y0 + w, *y2 = y1 + w,
                  *y3 = y2 + w;
            V8W(y0) = a00;
            V8W(y0 + 8) = a01;
            V8W(y1) = a10;
            V8W(y1 + 8) = a11;
            V8W(y2) = a20;
            V8W(y2 + 8) = a21;
            V8W(y3) = a30;
            V8W(y3 + 8) = a31;
        }
    }
    for (; e < ne; e++) {
        float *y = Y + (size_t)e * w;
        memset(y, 0, w * sizeof *y);
        for (uint32_t b = 0; b < nb; b++) {
            float g = G[b * lds + e];
            const float *q = Q + (size_t)b * w;
            for (uint32_t k = 0; k < w; k++)
                y[k] += g * q[k];
        }
    }
}

/* ==== One batch, one thread ==== */

typedef struct query {
    uint32_t h, r, a; /* (h, r, ?) -> a; r may be a reciprocal */
} query;

static query query_of(const struct hkl_1n *c, size_t i)
{
    uint32_t q = c->order[i];
    hkl_triple x = c->tr[q >> 1];
    if (q & 1) return (query){x.t, x.r + c->m->rel.n, x.h};
    return (query){x.h, x.r, x.t};
}

static void batch(struct hkl_1n *c, uint32_t t, size_t first, uint32_t nb)
{
    hkl_model *m = c->m;
    const uint32_t w = m->width, T = c->threads, lo = c->lo[t], hi = c->hi[t];
    const uint32_t ns = hi - lo;
    const size_t lds = ns;
    const float lambda = m->p.reg / (float)nb, inv_b = 1.0f / (float)nb;
    float *Q = c->Q[t], *S = c->S[t], *gQ = c->gQ[t];

    /* 1. queries, scores of the slice, maxima and sums of exp */
    for (uint32_t b = 0; b < nb; b++) {
        query x = query_of(c, first + b);
        hkl_query_vec(m->p.kind, w, m->E + (size_t)x.h * w,
                      m->R + (size_t)x.r * w, Q + (size_t)b * w);
    }
    k_scores(Q, nb, m->E + (size_t)lo * w, ns, w, S, lds);
    for (uint32_t b = 0; b < nb; b++) {
        float *s = S + b * lds;
        query x = query_of(c, first + b);
        if (x.a >= lo && x.a < hi) c->sa[b] = s[x.a - lo];
        float mx = -INFINITY;
        for (uint32_t e = 0; e < ns; e++)
            mx = s[e] > mx ? s[e] : mx;
        float z = 0;
        for (uint32_t e = 0; e < ns; e++) {
            s[e] = expf(s[e] - mx);
            z += s[e];
        }
        c->mx[t * c->bsize + b] = mx;
        c->zs[t * c->bsize + b] = z;
    }
    pthread_barrier_wait(&c->bar);

    /* 2. global softmax, G of the slice, dE of the slice, partial dQ */
    for (uint32_t b = 0; b < nb; b++) {
        float M = -INFINITY;
        for (uint32_t u = 0; u < T; u++) {
            float v = c->mx[u * c->bsize + b];
            if (c->lo[u] < c->hi[u] && v > M) M = v;
        }
        double Z = 0;
        for (uint32_t u = 0; u < T; u++)
            if (c->lo[u] < c->hi[u])
                Z += (double)c->zs[u * c->bsize + b] *
                     exp((double)c->mx[u * c->bsize + b] - M);
        if (t == 0) c->loss += log(Z) + (double)M - (double)c->sa[b];
        float f = (float)(exp((double)c->mx[t * c->bsize + b] - M) / Z) * inv_b;
        float *s = S + b * lds;
        for (uint32_t e = 0; e < ns; e++)
            s[e] *= f;
        query x = query_of(c, first + b);
        if (x.a >= lo && x.a < hi) s[x.a - lo] -= inv_b;
    }
    k_ge(S, lds, nb, Q, ns, w, c->gE + (size_t)lo * w);
    memset(gQ, 0, (size_t)nb * w * sizeof *gQ);
    k_gq(S, lds, nb, m->E + (size_t)lo * w, ns, w, gQ);
    pthread_barrier_wait(&c->bar);

    /* 3. dQ through q = h o r (owner of h_b), N3, Adagrad on the slice */
    float gq[HKL_WIDTH_MAX], gh[HKL_WIDTH_MAX];
    for (uint32_t b = 0; b < nb; b++) {
        query x = query_of(c, first + b);
        if (x.a >= lo && x.a < hi)
            hkl_n3_grad(m->p.kind, w, m->E + (size_t)x.a * w, lambda,
                        c->gE + (size_t)x.a * w);
        if (x.h < lo || x.h >= hi) continue;
        memset(gq, 0, w * sizeof *gq);
        for (uint32_t u = 0; u < T; u++) {
            const float *p = c->gQ[u] + (size_t)b * w;
            for (uint32_t k = 0; k < w; k++)
                gq[k] += p[k];
        }
        const float *H = m->E + (size_t)x.h * w, *R = m->R + (size_t)x.r * w;
        float *gr = c->grb + (size_t)b * w;
        hkl_query_back(m->p.kind, w, H, R, gq, gh, gr);
        hkl_n3_grad(m->p.kind, w, H, lambda, gh);
        hkl_n3_grad(m->p.kind, w, R, lambda, gr);
        float *ge = c->gE + (size_t)x.h * w;
        for (uint32_t k = 0; k < w; k++)
            ge[k] += gh[k];
    }
    if (c->apply)
        for (uint32_t e = lo; e < hi; e++)
            hkl_adagrad(m->E + (size_t)e * w, c->GE + (size_t)e * w,
                        c->gE + (size_t)e * w, w, m->p.lr);
    pthread_barrier_wait(&c->bar);

    /* 4. relation rows r % T == t: sums in batch order, then one step */
    for (uint32_t b = 0; b < nb; b++) {
        query x = query_of(c, first + b);
        if (x.r % T != t) continue;
        float *g = c->gR + (size_t)x.r * w;
        const float *p = c->grb + (size_t)b * w;
        for (uint32_t k = 0; k < w; k++)
            g[k] += p[k];
    }
    if (c->apply) {
        for (uint32_t b = 0; b < nb; b++) {
            query x = query_of(c, first + b);
            if (x.r % T != t || c->rdone[x.r]) continue;
            c->rdone[x.r] = 1;
            float *g = c->gR + (size_t)x.r * w;
            hkl_adagrad(m->R + (size_t)x.r * w, c->GR + (size_t)x.r * w, g, w,
                        m->p.lr);
            memset(g, 0, w * sizeof *g);
        }
        for (uint32_t b = 0; b < nb; b++) {
            query x = query_of(c, first + b);
            if (x.r % T == t) c->rdone[x.r] = 0;
        }
    }
    pthread_barrier_wait(&c->bar);
}

typedef struct job {
    struct hkl_1n *c;
    uint32_t t; /* thread index */
} job;

static void *run_thread(void *arg)
{
    job *j = arg;
    struct hkl_1n *c = j->c;
    /* a batch needs every thread at its barriers: start only once all
     * exist */
    pthread_mutex_lock(&c->mu);
    while (!c->go)
        pthread_cond_wait(&c->cv, &c->mu);
    int go = c->go;
    pthread_mutex_unlock(&c->mu);
    if (go != 1) return NULL;
    for (size_t i = 0; i < c->n; i += c->bsize) {
        size_t left = c->n - i;
        batch(c, j->t, i, left < c->bsize ? (uint32_t)left : c->bsize);
    }
    return NULL;
}

/* ==== Context ==== */

hk_err hkl_1n_new(hkl_model *m, float *GE, float *GR, uint32_t threads,
                  hkl_1n **out)
{
    *out = NULL;
    uint32_t n_ent = m->ent.n, w = m->width;
    if (threads < 1) threads = 1;
    if (threads > 64) threads = 64;
    if (threads > n_ent) threads = n_ent ? n_ent : 1;
    struct hkl_1n *c = hk_calloc(1, sizeof *c);
    if (!c) return HK_ERR_NOMEM;
    c->m = m;
    c->GE = GE;
    c->GR = GR;
    c->threads = threads;
    c->bsize = BATCH_1N;
    if (n_ent && (size_t)c->bsize * n_ent > HKL_1N_SCORES)
        c->bsize = HKL_1N_SCORES / n_ent > 4 ? HKL_1N_SCORES / n_ent : 4;
    size_t nr = (size_t)m->rel.n * 2;
    c->gE = hk_calloc((size_t)n_ent * w, sizeof *c->gE);
    c->gR = hk_calloc(nr * w, sizeof *c->gR);
    c->rdone = hk_calloc(nr ? nr : 1, 1);
    c->grb = hk_calloc((size_t)c->bsize * w, sizeof *c->grb);
    c->mx = hk_calloc((size_t)threads * c->bsize, sizeof *c->mx);
    c->zs = hk_calloc((size_t)threads * c->bsize, sizeof *c->zs);
    c->sa = hk_calloc(c->bsize, sizeof *c->sa);
    if (!c->gE || !c->gR || !c->rdone || !c->grb || !c->mx || !c->zs || !c->sa)
        goto nomem;
    for (uint32_t t = 0; t < threads; t++) {
        c->lo[t] = (uint32_t)((uint64_t)n_ent * t / threads);
        c->hi[t] = (uint32_t)((uint64_t)n_ent * (t + 1) / threads);
        size_t ns = c->hi[t] - c->lo[t];
        c->Q[t] = hk_malloc((size_t)c->bsize * w * sizeof(float));
        c->gQ[t] = hk_malloc((size_t)c->bsize * w * sizeof(float));
        c->S[t] = hk_malloc((size_t)c->bsize * (ns ? ns : 1) * sizeof(float));
        if (!c->Q[t] || !c->gQ[t] || !c->S[t]) goto nomem;
    }
    if (pthread_barrier_init(&c->bar, NULL, threads)) goto nomem;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    *out = c;
    return HK_OK;
nomem:
    c->threads = 0; /* no barrier to destroy */
    hkl_1n_free(c);
    return HK_ERR_NOMEM;
}

void hkl_1n_free(hkl_1n *c)
{
    if (!c) return;
    if (c->threads) {
        pthread_barrier_destroy(&c->bar);
        pthread_mutex_destroy(&c->mu);
        pthread_cond_destroy(&c->cv);
    }
    for (uint32_t t = 0; t < 64; t++) {
        hk_free(c->Q[t]);
        hk_free(c->gQ[t]);
        hk_free(c->S[t]);
    }
    hk_free(c->gE);
    hk_free(c->gR);
    hk_free(c->rdone);
    hk_free(c->grb);
    hk_free(c->mx);
    hk_free(c->zs);
    hk_free(c->sa);
    hk_free(c);
}

uint32_t hkl_1n_batch_size(const hkl_1n *c)
{
    return c->bsize;
}

hk_err hkl_1n_run(hkl_1n *c, const hkl_triple *tr, const uint32_t *order,
                  size_t n, bool apply, double *loss)
{
    c->tr = tr;
    c->order = order;
    c->n = n;
    c->apply = apply;
    c->loss = 0;
    if (!apply) memset(c->gR, 0, (size_t)c->m->rel.n * 2 * c->m->width * 4);
    job jobs[64];
    pthread_t tid[64];
    uint32_t started = 1;
    c->go = 0;
    for (uint32_t t = 0; t < c->threads; t++)
        jobs[t] = (job){c, t};
    for (; started < c->threads; started++)
        if (pthread_create(&tid[started], NULL, run_thread, &jobs[started]))
            break;
    pthread_mutex_lock(&c->mu);
    c->go = started == c->threads ? 1 : 2;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    if (c->go == 1) run_thread(&jobs[0]);
    for (uint32_t t = 1; t < started; t++)
        pthread_join(tid[t], NULL);
    if (c->go != 1) return HK_ERR_NOMEM;
    *loss = c->loss;
    return HK_OK;
}

const float *hkl_1n_grad_e(const hkl_1n *c)
{
    return c->gE;
}

const float *hkl_1n_grad_r(const hkl_1n *c)
{
    return c->gR;
}
