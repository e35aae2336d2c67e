/*
 * learn_train.c — training: sampled softmax over negatives, N3
 * regularisation, Adagrad, Hogwild threads, early stopping.
 *
 * ==== One example ====
 * Every training triple (h, r, t) gives two queries, (h, r, ?) -> t and
 * (t, r', ?) -> h with the reciprocal relation r'. For a query with true
 * answer a, K entities n_1..n_K are drawn uniformly (one equal to a is left
 * out) and the loss is the cross-entropy of a under a softmax over the scores
 * of {a, n_1, ..., n_K} (the sampled form of the 1-N loss of Lacroix et
 * al. 2018, which costs K instead of all entities per query). The
 * negatives are drawn once per batch of BATCH queries of a worker and
 * their rows updated once at the end of the batch with the summed
 * gradients, which divides the cost of their updates by BATCH. N3 adds
 * lambda * sum_i |x_i|^3 for the three vectors of the query (|x_i| the
 * modulus of a complex coordinate for ComplEx). Each touched row gets an
 * Adagrad step (one accumulator per parameter).
 *
 * ==== Threads ====
 * Each epoch shuffles the 2n queries (one generator seeded by seed and
 * epoch), cuts them into params.threads contiguous shards and runs one
 * worker per shard; workers update the shared rows without locks
 * (Hogwild: the rows an example touches rarely collide, and a lost update
 * costs a little accuracy, never memory safety since every row is a fixed
 * slot). With one thread the run is sequential, so a seed reproduces the
 * model bit for bit; with more threads the interleaving (and the model)
 * varies from run to run.
 *
 * ==== Early stopping ====
 * Every eval_every epochs the filtered MRR on up to valid_max validation
 * triples is measured; the best parameters are kept (a copy), and after
 * patience checks without improvement training stops and the best copy
 * becomes the model.
 */
#include <math.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/mem.h"
#include "learn/learn.h"
#include "learn/learn_int.h"

/* Validation and test metrics at the end use at most this many triples
 * (an even sample), so that evaluation over 1M entities stays bounded. */
#define EVAL_MAX 5000
/* Calibration uses at most this many validation triples. */
#define CALIB_MAX 10000
/* Queries sharing one draw of negatives (their rows are updated once per
 * batch with the summed gradient). */
#define BATCH 32

typedef struct trainer {
    hkl_model *m;         /* model being trained (E, R updated in place) */
    float *GE;            /* Adagrad accumulators of E */
    float *GR;            /* of R */
    const hkl_triple *tr; /* training triples */
    uint32_t *order;      /* queries: (triple index << 1) | reciprocal */
    size_t n_order;       /* 2 * training triples */
    uint32_t epoch;       /* current epoch, 1-based */
} trainer;

typedef struct worker {
    trainer *T;
    size_t lo, hi; /* queries [lo, hi) of order */
    uint64_t rng;  /* generator state */
    double loss;   /* sum of losses */
    float *buf;    /* scratch: q, gq, gh, gr, gt (width floats each) */
    float *s;      /* scores, then softmax weights (negatives + 1) */
    uint32_t *neg; /* the batch's negatives */
    float *gneg;   /* their summed gradients (negatives x width) */
} worker;

HKL_CLONES static void axpy(float *y, float a, const float *x, uint32_t w)
{
    for (uint32_t i = 0; i < w; i++)
        y[i] += a * x[i];
}

/* Loss of one query (h, r) with true answer a against the batch's
 * negatives; updates h, r, a (Adagrad) and adds the negatives' gradients
 * to wk->gneg. */
static double train_query(worker *wk, uint32_t h, uint32_t r, uint32_t a)
{
    hkl_model *m = wk->T->m;
    const uint32_t w = m->width, K = m->p.negatives;
    const float lr = m->p.lr, lambda = m->p.reg;
    float *q = wk->buf, *gq = q + w, *gh = gq + w, *gr = gh + w, *gt = gr + w;
    float *s = wk->s;
    float *H = m->E + (size_t)h * w, *R = m->R + (size_t)r * w;
    float *A = m->E + (size_t)a * w;

    hkl_query_vec(m->p.kind, w, H, R, q);
    s[0] = hkl_dot(q, A, w);
    float mx = s[0];
    for (uint32_t j = 0; j < K; j++) {
        /* a negative that is the answer itself takes no part */
        s[j + 1] = wk->neg[j] == a
                       ? -INFINITY
                       : hkl_dot(q, m->E + (size_t)wk->neg[j] * w, w);
        if (s[j + 1] > mx) mx = s[j + 1];
    }
    double z = 0;
    for (uint32_t j = 0; j <= K; j++) {
        s[j] = expf(s[j] - mx);
        z += s[j];
    }
    double loss = log(z) - log((double)s[0]);
    float inv = (float)(1.0 / z);
    /* dL/ds_0 = p_0 - 1, dL/ds_j = p_j */
    float g0 = s[0] * inv - 1.0f;
    for (uint32_t i = 0; i < w; i++) {
        gq[i] = g0 * A[i];
        gt[i] = g0 * q[i];
    }
    for (uint32_t j = 0; j < K; j++) {
        float pj = s[j + 1] * inv;
        if (pj == 0) continue;
        axpy(gq, pj, m->E + (size_t)wk->neg[j] * w, w);
        axpy(wk->gneg + (size_t)j * w, pj, q, w);
    }
    hkl_query_back(m->p.kind, w, H, R, gq, gh, gr);
    hkl_n3_grad(m->p.kind, w, H, lambda, gh);
    hkl_n3_grad(m->p.kind, w, R, lambda, gr);
    hkl_n3_grad(m->p.kind, w, A, lambda, gt);
    hkl_adagrad(H, wk->T->GE + (size_t)h * w, gh, w, lr);
    hkl_adagrad(R, wk->T->GR + (size_t)r * w, gr, w, lr);
    hkl_adagrad(A, wk->T->GE + (size_t)a * w, gt, w, lr);
    return loss;
}

static void *train_worker(void *arg)
{
    worker *wk = arg;
    trainer *T = wk->T;
    hkl_model *m = T->m;
    const uint32_t n_rel = m->rel.n, w = m->width, K = m->p.negatives;
    for (size_t i = wk->lo; i < wk->hi; i += BATCH) {
        size_t end = i + BATCH < wk->hi ? i + BATCH : wk->hi;
        for (uint32_t j = 0; j < K; j++)
            wk->neg[j] = (uint32_t)(hkl_rand(&wk->rng) % m->ent.n);
        memset(wk->gneg, 0, (size_t)K * w * sizeof *wk->gneg);
        for (size_t k = i; k < end; k++) {
            uint32_t q = T->order[k];
            hkl_triple x = T->tr[q >> 1];
            if (q & 1)
                wk->loss += train_query(wk, x.t, x.r + n_rel, x.h);
            else
                wk->loss += train_query(wk, x.h, x.r, x.t);
        }
        for (uint32_t j = 0; j < K; j++) {
            uint32_t c = wk->neg[j];
            hkl_adagrad(m->E + (size_t)c * w, T->GE + (size_t)c * w,
                        wk->gneg + (size_t)j * w, w, m->p.lr);
        }
    }
    return NULL;
}

/* An even sample of at most max of v[0..n): *out points into v when all
 * fit, else into a new array (*owned, caller frees). */
static hk_err sample_even(const hkl_triple *v, size_t n, size_t max,
                          const hkl_triple **out, size_t *n_out,
                          hkl_triple **owned)
{
    *owned = NULL;
    if (n <= max) {
        *out = v;
        *n_out = n;
        return HK_OK;
    }
    hkl_triple *s = hk_malloc(max * sizeof *s);
    if (!s) return HK_ERR_NOMEM;
    for (size_t i = 0; i < max; i++)
        s[i] = v[(size_t)((double)i * (double)n / (double)max)];
    *out = s;
    *n_out = max;
    *owned = s;
    return HK_OK;
}

static hk_err names_copy(hkl_names *dst, const hkl_names *src)
{
    for (uint32_t i = 0; i < src->n; i++) {
        uint32_t id;
        hk_err rc = hkl_names_intern(dst, src->v[i], strlen(src->v[i]), &id);
        if (rc) return rc;
    }
    return HK_OK;
}

static uint64_t shuffle(trainer *T, uint64_t seed)
{
    uint64_t rng = seed ^ ((uint64_t)T->epoch * 0x2545f4914f6cdd1dull);
    for (size_t i = T->n_order; i > 1; i--) { /* Fisher-Yates */
        size_t j = (size_t)(hkl_rand(&rng) % i);
        uint32_t tmp = T->order[i - 1];
        T->order[i - 1] = T->order[j];
        T->order[j] = tmp;
    }
    return rng;
}

static hk_err run_epoch(trainer *T, worker *wk, hkl_1n *one_n, uint32_t threads,
                        uint64_t seed, double *loss)
{
    uint64_t rng = shuffle(T, seed);
    if (one_n) {
        double sum = 0;
        hk_err rc = hkl_1n_run(one_n, T->tr, T->order, T->n_order, true, &sum);
        *loss = T->n_order ? sum / (double)T->n_order : 0;
        return rc;
    }
    pthread_t tid[64];
    bool started[64] = {false};
    for (uint32_t i = 0; i < threads; i++) {
        wk[i].lo = T->n_order * i / threads;
        wk[i].hi = T->n_order * (i + 1) / threads;
        wk[i].rng = hkl_rand(&rng);
        wk[i].loss = 0;
        if (i > 0)
            started[i] =
                pthread_create(&tid[i], NULL, train_worker, &wk[i]) == 0;
    }
    train_worker(&wk[0]);
    for (uint32_t i = 1; i < threads; i++) {
        if (started[i])
            pthread_join(tid[i], NULL);
        else
            train_worker(&wk[i]); /* could not start: run it here */
    }
    double sum = 0;
    for (uint32_t i = 0; i < threads; i++)
        sum += wk[i].loss;
    *loss = T->n_order ? sum / (double)T->n_order : 0;
    return HK_OK;
}

hk_err hkl_train(const hkl_data *d, const hkl_params *p, hkl_progress_fn fn,
                 void *ud, hkl_model **out, hk_error *err)
{
    *out = NULL;
    hk_err rc = hkl_params_check(p, err);
    if (rc) return rc;
    if (!d->n[HKL_TRAIN] || d->ent.n < 2)
        return hk_error_set(err, HK_ERR_INVALID,
                            "nothing to learn: %zu training triples over %u "
                            "entities",
                            d->n[HKL_TRAIN], d->ent.n);
    if (d->n[HKL_TRAIN] > UINT32_MAX / 2)
        return hk_error_set(err, HK_ERR_LIMIT, "too many training triples");
    int64_t t0 = hk_now_us();
    trainer T;
    memset(&T, 0, sizeof T);
    worker wk[64];
    memset(wk, 0, sizeof wk);
    float *bestE = NULL, *bestR = NULL;
    hkl_1n *one_n = NULL; /* 1-N training (negatives 0), else NULL */
    hkl_triple *vs_owned = NULL, *cal_owned = NULL, *te_owned = NULL;
    hkl_model *m = hk_calloc(1, sizeof *m);
    if (!m) goto nomem;
    m->p = *p;
    m->width = p->kind == HKL_COMPLEX ? 2 * p->dim : p->dim;
    if (names_copy(&m->ent, &d->ent) || names_copy(&m->rel, &d->rel))
        goto nomem;
    const uint32_t w = m->width;
    size_t ne = (size_t)m->ent.n * w, nr = (size_t)m->rel.n * 2 * w;
    m->E = hk_malloc(ne * sizeof *m->E);
    m->R = hk_malloc(nr * sizeof *m->R);
    T.GE = hk_calloc(ne, sizeof *T.GE);
    T.GR = hk_calloc(nr, sizeof *T.GR);
    bestE = hk_malloc(ne * sizeof *bestE);
    bestR = hk_malloc(nr * sizeof *bestR);
    T.n_order = 2 * d->n[HKL_TRAIN];
    T.order = hk_malloc(T.n_order * sizeof *T.order);
    if (!m->E || !m->R || !T.GE || !T.GR || !bestE || !bestR || !T.order)
        goto nomem;
    if (hkl_known_build(&m->known, d->known.hrt, d->known.n)) goto nomem;
    uint64_t rng = p->seed;
    for (size_t i = 0; i < ne; i++)
        m->E[i] = p->init_scale *
                  (2.0f * (float)(hkl_rand(&rng) >> 40) * 0x1.0p-24f - 1.0f);
    for (size_t i = 0; i < nr; i++)
        m->R[i] = p->init_scale *
                  (2.0f * (float)(hkl_rand(&rng) >> 40) * 0x1.0p-24f - 1.0f);
    for (size_t i = 0; i < T.n_order; i++)
        T.order[i] = (uint32_t)i;
    T.m = m;
    T.tr = d->split[HKL_TRAIN];
    uint32_t threads = p->threads;
    if (p->negatives == 0 && hkl_1n_new(m, T.GE, T.GR, threads, &one_n))
        goto nomem;
    for (uint32_t i = 0; i < threads && !one_n; i++) {
        wk[i].T = &T;
        wk[i].buf = hk_malloc(5 * (size_t)w * sizeof(float));
        wk[i].s = hk_malloc(((size_t)p->negatives + 1) * sizeof(float));
        wk[i].neg = hk_malloc((size_t)p->negatives * sizeof(uint32_t));
        wk[i].gneg = hk_malloc((size_t)p->negatives * w * sizeof(float));
        if (!wk[i].buf || !wk[i].s || !wk[i].neg || !wk[i].gneg) goto nomem;
    }
    const hkl_triple *vsub;
    size_t n_vsub;
    if (sample_even(d->split[HKL_VALID], d->n[HKL_VALID], p->valid_max, &vsub,
                    &n_vsub, &vs_owned))
        goto nomem;

    double best = -1, loss = 0;
    uint32_t stale = 0;
    memcpy(bestE, m->E, ne * sizeof *bestE);
    memcpy(bestR, m->R, nr * sizeof *bestR);
    for (T.epoch = 1; T.epoch <= p->epochs; T.epoch++) {
        if (run_epoch(&T, wk, one_n, threads, p->seed, &loss)) goto nomem;
        m->epochs_run = T.epoch;
        m->last_loss = loss;
        double vmrr = -1;
        bool check =
            n_vsub && (T.epoch % p->eval_every == 0 || T.epoch == p->epochs);
        if (check) {
            hkl_metrics vm;
            if (hkl_eval(m, &m->known, vsub, n_vsub, threads, &vm)) goto nomem;
            vmrr = vm.mrr;
            if (vmrr > best) {
                best = vmrr;
                stale = 0;
                m->best_epoch = T.epoch;
                memcpy(bestE, m->E, ne * sizeof *bestE);
                memcpy(bestR, m->R, nr * sizeof *bestR);
            } else {
                stale++;
            }
        }
        if (fn && !fn(ud, T.epoch, p->epochs, loss, vmrr)) {
            rc = hk_error_set(err, HK_ERR_STATE,
                              "training was stopped at epoch %u", T.epoch);
            goto fail;
        }
        if (!isfinite(loss)) {
            rc = hk_error_set(err, HK_ERR_INVALID,
                              "training diverged at epoch %u (loss %g); try "
                              "a smaller --lr",
                              T.epoch, loss);
            goto fail;
        }
        if (check && stale >= p->patience) break;
    }
    if (n_vsub) { /* keep the best checked parameters */
        memcpy(m->E, bestE, ne * sizeof *bestE);
        memcpy(m->R, bestR, nr * sizeof *bestR);
    } else {
        m->best_epoch = m->epochs_run;
    }
    m->train_seconds = (double)(hk_now_us() - t0) / 1e6;
    m->n_train = d->n[HKL_TRAIN];
    m->triples_per_sec =
        m->train_seconds > 0
            ? (double)m->n_train * m->epochs_run / m->train_seconds
            : 0;

    /* calibration on validation (training triples when there are none) */
    const hkl_triple *cal;
    size_t n_cal;
    bool have_valid = d->n[HKL_VALID] > 0;
    if (sample_even(have_valid ? d->split[HKL_VALID] : d->split[HKL_TRAIN],
                    have_valid ? d->n[HKL_VALID] : d->n[HKL_TRAIN], CALIB_MAX,
                    &cal, &n_cal, &cal_owned))
        goto nomem;
    if (hkl_calibrate(m, cal, n_cal, p->seed)) goto nomem;
    /* too large for the dense features (HK_ERR_LIMIT): no combined ranker,
     * the model alone still serves */
    if (hkl_combo_fit(m, d, p->seed, HKL_COMBO_ALL) == HK_ERR_NOMEM) goto nomem;
    const hkl_triple *ev;
    size_t n_ev;
    hk_free(vs_owned);
    vs_owned = NULL;
    if (sample_even(d->split[HKL_VALID], d->n[HKL_VALID], EVAL_MAX, &ev, &n_ev,
                    &vs_owned) ||
        hkl_eval(m, &m->known, ev, n_ev, threads, &m->valid))
        goto nomem;
    if (sample_even(d->split[HKL_TEST], d->n[HKL_TEST], EVAL_MAX, &ev, &n_ev,
                    &te_owned) ||
        hkl_eval(m, &m->known, ev, n_ev, threads, &m->test))
        goto nomem;
    m->trained_us = hk_now_us();
    *out = m;
    m = NULL;
    rc = HK_OK;
    goto done;
nomem:
    rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory while training");
fail:
done:
    for (uint32_t i = 0; i < 64; i++) {
        hk_free(wk[i].buf);
        hk_free(wk[i].s);
        hk_free(wk[i].neg);
        hk_free(wk[i].gneg);
    }
    hkl_1n_free(one_n);
    hk_free(T.order);
    hk_free(T.GE);
    hk_free(T.GR);
    hk_free(bestE);
    hk_free(bestR);
    hk_free(vs_owned);
    hk_free(cal_owned);
    hk_free(te_owned);
    hkl_model_free(m);
    return rc;
}
