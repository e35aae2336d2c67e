/*
 * learn_bench.c — benchmarks of the learned model (src/learn):
 *
 *   learn_bench train DIR [model dim epochs threads negatives lr reg
 *                          eval_every valid_max init patience answerable]
 *       (negatives 0: 1-N training, the softmax over every entity)
 *       trains on DIR/train.txt (early stopping on valid.txt) like
 *       `hakgal model eval --split DIR`, printing the validation MRR
 *       against wall time at every check (how MRR grows with training
 *       time), the throughput (triples x epochs / s), memory per entity,
 *       and the filtered test metrics next to the two baselines, the
 *       frequency back-off and the combined ranker; then (unless the
 *       14th argument, answerable, is 0) the same on the test edges whose
 *       two entities both appear in a training edge.
 *
 *   learn_bench latency [entities dim reps]
 *       a model of random vectors over `entities` entities (1,000,000 by
 *       default, dim 32 complex): p50 / p99 of scoring one statement
 *       (raw score + calibration) and of predicting the 10 best objects
 *       (scores of every entity + top k; exact float scan, and the int8
 *       scan with an exact re-rank that hkl_predict uses), one thread,
 *       with the recall of the int8 path against the exact one (the
 *       int8 scan runs on two threads from 2^18 entities).
 *
 * Numbers go to bench/RESULTS.md ("Learned model").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/mem.h"
#include "learn/learn.h"

static int64_t t_start;

static bool on_epoch(void *ud, uint32_t epoch, uint32_t epochs, double loss,
                     double valid_mrr)
{
    (void)ud;
    struct timespec ts; /* CPU time of every thread: the work, under load */
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    printf("epoch %4u/%u  %7.1f s (cpu %7.1f s)  loss %.4f", epoch, epochs,
           (double)(hk_now_us() - t_start) / 1e6,
           (double)ts.tv_sec + (double)ts.tv_nsec / 1e9, loss);
    if (valid_mrr >= 0) printf("  valid MRR %.4f", valid_mrr);
    printf("\n");
    fflush(stdout);
    return true;
}

static void print_metrics(const char *what, const hkl_metrics *m)
{
    printf("%-16s MRR %.4f  Hits@1 %.4f  Hits@3 %.4f  Hits@10 %.4f  (%llu "
           "ranks)\n",
           what, m->mrr, m->hits1, m->hits3, m->hits10,
           (unsigned long long)m->n);
}

/* The test edges whose two entities both appear in a training edge:
 * every rank of them can be earned from the training split (an entity
 * no training edge mentions has nothing to be ranked by). */
static void answerable(const hkl_model *m, const hkl_data *d)
{
    uint8_t *seen = hk_calloc((size_t)d->ent.n + 1, 1);
    hkl_triple *sub = hk_malloc((d->n[HKL_TEST] + 1) * sizeof *sub);
    size_t n = 0;
    if (!seen || !sub) goto done;
    for (size_t i = 0; i < d->n[HKL_TRAIN]; i++)
        seen[d->split[HKL_TRAIN][i].h] = seen[d->split[HKL_TRAIN][i].t] = 1;
    for (size_t i = 0; i < d->n[HKL_TEST]; i++) {
        hkl_triple x = d->split[HKL_TEST][i];
        if (seen[x.h] && seen[x.t]) sub[n++] = x;
    }
    printf("answerable subset: %zu of %zu test edges\n", n, d->n[HKL_TEST]);
    hkl_metrics mo, fr, pa, bo, co;
    if (!hkl_eval(m, &m->known, sub, n, m->p.threads, &mo))
        print_metrics("  model", &mo);
    if (!hkl_baselines(d, sub, n, &fr, &pa)) {
        print_metrics("  most frequent", &fr);
        print_metrics("  1-hop path", &pa);
    }
    if (!hkl_eval_backoff(m, d, sub, n, &bo))
        print_metrics("  freq + model", &bo);
    if (!hkl_eval_combo(m, d, sub, n, &co)) print_metrics("  combined", &co);
done:
    hk_free(seen);
    hk_free(sub);
}

static int bench_train(int argc, char **argv)
{
    hkl_params p;
    hkl_params_default(&p);
    if (argc > 3 && !hkl_kind_parse(argv[3], &p.kind)) return 2;
    if (argc > 4) p.dim = (uint32_t)atoi(argv[4]);
    if (argc > 5) p.epochs = (uint32_t)atoi(argv[5]);
    if (argc > 6) p.threads = (uint32_t)atoi(argv[6]);
    if (argc > 7) p.negatives = (uint32_t)atoi(argv[7]);
    if (argc > 8) p.lr = (float)atof(argv[8]);
    if (argc > 9) p.reg = (float)atof(argv[9]);
    p.valid_max = 500;
    if (argc > 10) p.eval_every = (uint32_t)atoi(argv[10]);
    if (argc > 11) p.valid_max = (uint32_t)atoi(argv[11]);
    if (argc > 12) p.init_scale = (float)atof(argv[12]);
    if (argc > 13) p.patience = (uint32_t)atoi(argv[13]);
    hkl_data d;
    hkl_data_init(&d);
    hk_error err;
    hkl_model *m = NULL;
    hk_err rc = hkl_data_read_split(argv[2], &d, &err);
    if (!rc) rc = hkl_data_finish(&d, &err);
    if (rc) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    printf("%s dim %u, %u threads, %u negatives, lr %g, reg %g, init %g: %u "
           "entities, %u relations, %zu / %zu / %zu triples\n",
           hkl_kind_name(p.kind), p.dim, p.threads, p.negatives, (double)p.lr,
           (double)p.reg, (double)p.init_scale, d.ent.n, d.rel.n, d.n[0],
           d.n[1], d.n[2]);
    t_start = hk_now_us();
    if ((rc = hkl_train(&d, &p, on_epoch, NULL, &m, &err))) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    printf("trained %u epochs (best %u) in %.1f s: %.0f triples x epochs / "
           "s; %zu bytes per entity (vector) + %zu (Adagrad, training only)\n",
           m->epochs_run, m->best_epoch, m->train_seconds, m->triples_per_sec,
           (size_t)m->width * 4, (size_t)m->width * 4);
    hkl_metrics fr, pa;
    rc = hkl_baselines(&d, d.split[HKL_TEST], d.n[HKL_TEST], &fr, &pa);
    print_metrics("model (valid)", &m->valid);
    print_metrics("model", &m->test);
    if (!rc) {
        print_metrics("most frequent", &fr);
        print_metrics("1-hop path", &pa);
    }
    hkl_metrics bo;
    if (!hkl_eval_backoff(m, &d, d.split[HKL_TEST], d.n[HKL_TEST], &bo))
        print_metrics("freq + model", &bo);
    if (m->combo.fitted) {
        hkl_metrics co;
        print_metrics("combined (valid)", &m->combo.valid);
        if (!hkl_eval_combo(m, &d, d.split[HKL_TEST], d.n[HKL_TEST], &co))
            print_metrics("combined", &co);
        printf("combined weights:");
        for (int k = 0; k < HKL_COMBO_NF; k++)
            printf(" %.4g", m->combo.w[k]);
        printf(" (model freq seen path adjacent type degree role two-hop)\n");
        if (argc <= 14 || atoi(argv[14])) answerable(m, &d);
    }
    hkl_model_free(m);
    hkl_data_free(&d);
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* CPU time of the whole process (every thread), in microseconds: on a
 * shared machine it shows the work a query costs, which wall time hides
 * behind the other processes' load. */
static int64_t cpu_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int bench_latency(int argc, char **argv)
{
    uint32_t n = argc > 2 ? (uint32_t)atoi(argv[2]) : 1000000;
    uint32_t dim = argc > 3 ? (uint32_t)atoi(argv[3]) : 32;
    int reps = argc > 4 ? atoi(argv[4]) : 200;
    hkl_model *m = hk_calloc(1, sizeof *m);
    hkl_params_default(&m->p);
    m->p.dim = dim;
    m->width = 2 * dim;
    m->platt_a = 1;
    char name[32];
    for (uint32_t i = 0; i < n; i++) {
        uint32_t id;
        int len = snprintf(name, sizeof name, "e%u", i);
        if (hkl_names_intern(&m->ent, name, (size_t)len, &id)) return 1;
    }
    for (uint32_t i = 0; i < 10; i++) {
        uint32_t id;
        int len = snprintf(name, sizeof name, "r%u", i);
        if (hkl_names_intern(&m->rel, name, (size_t)len, &id)) return 1;
    }
    m->E = hk_malloc((size_t)n * m->width * sizeof(float));
    m->R = hk_malloc((size_t)20 * m->width * sizeof(float));
    if (!m->E || !m->R || hkl_known_build(&m->known, NULL, 0)) return 1;
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < (size_t)n * m->width; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        m->E[i] = (float)(x >> 40) * 0x1.0p-24f - 0.5f;
    }
    for (size_t i = 0; i < (size_t)20 * m->width; i++)
        m->R[i] = (float)i / 1000.0f;
    int64_t *ts = hk_malloc((size_t)reps * sizeof *ts);
    int64_t *tp = hk_malloc((size_t)reps * sizeof *tp);
    int64_t *tq = hk_malloc((size_t)reps * sizeof *tq);
    int64_t *cq = hk_malloc((size_t)reps * sizeof *cq); /* CPU time */
    float *scores = hk_malloc((size_t)n * sizeof *scores);
    if (hkl_quantize(m)) return 1;
    int8_t *Q = m->Q;
    hkl_hit hits[10], approx[10];
    volatile double sink = 0;
    size_t found = 0;
    for (int i = 0; i < reps; i++) {
        uint32_t h = (uint32_t)((uint64_t)i * 7919u % n);
        uint32_t t = (uint32_t)((uint64_t)i * 104729u % n);
        int64_t t0 = hk_now_us();
        for (int k = 0; k < 1000; k++) /* one score is below the clock */
            sink += hkl_plausibility(
                m, hkl_score(m, h, (uint32_t)k % 10, (t + (uint32_t)k) % n));
        int64_t t1 = hk_now_us();
        m->Q = NULL; /* exact scan */
        size_t got =
            hkl_predict(m, h, (uint32_t)i % 10, 10, NULL, 0, scores, hits);
        int64_t t2 = hk_now_us();
        m->Q = Q; /* int8 scan + re-rank */
        int64_t c0 = cpu_now_us();
        size_t got2 =
            hkl_predict(m, h, (uint32_t)i % 10, 10, NULL, 0, scores, approx);
        int64_t t3 = hk_now_us();
        cq[i] = cpu_now_us() - c0;
        for (size_t a = 0; a < got; a++)
            for (size_t b = 0; b < got2; b++)
                found += hits[a].id == approx[b].id;
        sink += got ? hits[0].score : 0;
        ts[i] = t1 - t0; /* for 1000 scores: ns per score */
        tp[i] = t2 - t1;
        tq[i] = t3 - t2;
    }
    qsort(ts, (size_t)reps, sizeof *ts, cmp_i64);
    qsort(tp, (size_t)reps, sizeof *tp, cmp_i64);
    qsort(tq, (size_t)reps, sizeof *tq, cmp_i64);
    qsort(cq, (size_t)reps, sizeof *cq, cmp_i64);
    printf("%u entities, complex dim %u (%u floats per entity, %.0f MiB of "
           "vectors), %d reps; the int8 scan uses two threads\n",
           n, dim, m->width, (double)n * m->width * 4 / (1024.0 * 1024.0),
           reps);
    printf("score:   p50 %.3f us  p99 %.3f us\n", (double)ts[reps / 2] / 1000,
           (double)ts[reps * 99 / 100] / 1000);
    printf("predict, exact float scan: p50 %.2f ms  p99 %.2f ms (top 10 of "
           "%u)\n",
           (double)tp[reps / 2] / 1000, (double)tp[reps * 99 / 100] / 1000, n);
    printf("predict, int8 scan + re-rank of %d: p50 %.2f ms  p99 %.2f ms, "
           "recall@10 against the exact scan %.4f\n",
           HKL_RERANK, (double)tq[reps / 2] / 1000,
           (double)tq[reps * 99 / 100] / 1000, (double)found / (10.0 * reps));
    printf("predict, int8 scan: CPU time summed over its threads p50 %.2f "
           "ms (load-independent; an idle two-core machine needs at least "
           "half of it as wall time, more when memory bandwidth binds)\n",
           (double)cq[reps / 2] / 1000);
    /* the combined ranker on this model (weights of one, no edges: the
     * cost is the per-entity feature scan, which edges barely change) */
    m->combo.fitted = true;
    for (int k = 0; k < HKL_COMBO_NF; k++)
        m->combo.w[k] = 1;
    hk_err prc = hkl_combo_prepare(m);
    if (prc) {
        printf("predict, combined ranker: not available at %u entities x 10 "
               "relations (%s): auto answers with the model\n",
               n, hk_strerror(prc));
    } else {
        for (int i = 0; i < reps; i++) {
            uint32_t h = (uint32_t)((uint64_t)i * 7919u % n);
            hk_err rc;
            int64_t t0 = hk_now_us();
            size_t got = hkl_predict_combo(m, h, (uint32_t)i % 10, 10, NULL, 0,
                                           hits, &rc);
            tp[i] = hk_now_us() - t0;
            if (rc) return 1;
            sink += got ? hits[0].score : 0;
        }
        qsort(tp, (size_t)reps, sizeof *tp, cmp_i64);
        printf("predict, combined ranker (exact scan, one thread): p50 %.2f "
               "ms  p99 %.2f ms\n",
               (double)tp[reps / 2] / 1000, (double)tp[reps * 99 / 100] / 1000);
    }
    hk_free(tq);
    hk_free(cq);
    hk_free(ts);
    hk_free(tp);
    hk_free(scores);
    hkl_model_free(m);
    return sink == 12345.678;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "train")) return bench_train(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "latency"))
        return bench_latency(argc, argv);
    fprintf(stderr, "usage: learn_bench train DIR [complex|distmult dim "
                    "epochs threads negatives lr reg]\n"
                    "       learn_bench latency [entities dim reps]\n");
    return 2;
}
