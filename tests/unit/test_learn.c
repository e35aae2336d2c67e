/*
 * test_learn.c — src/learn: gradients of both scoring functions against
 * finite differences; a small synthetic KB with planted symmetric,
 * inverse and compositional relations whose held-out facts the trained
 * model must rank first (sampled and 1-N training), and latent classes
 * that it ranks first where the two baselines cannot; the 1-N objective and
 * its gradient against a direct computation and finite differences; filtered
 * ranks (and the frequency back-off and the combined ranker) against a
 * brute-force ranker; the combined ranker's fit (determinism, each half of
 * a KB answered by one feature); bit-for-bit
 * determinism with a seed and one thread (1-N: also two); model files (round
 * trip, damage); split files; facts of every arity as edges read from a real
 * KB.
 */
#include <math.h>

#include "learn/learn.h"
#include "learn/learn_int.h"
#include "test_store_util.h"
#include "unit_skip.h"

/* ==== Gradients ==== */

static void check_grad(hkl_kind kind, uint32_t width)
{
    float h[16], r[16], t[16], gh[16], gr[16], gt[16];
    uint64_t seed = 7;
    for (uint32_t i = 0; i < width; i++) {
        h[i] = (float)(tu_rand(&seed) % 2000) / 1000.0f - 1.0f;
        r[i] = (float)(tu_rand(&seed) % 2000) / 1000.0f - 1.0f;
        t[i] = (float)(tu_rand(&seed) % 2000) / 1000.0f - 1.0f;
    }
    hkl_score_grad(kind, width, h, r, t, gh, gr, gt);
    float *vecs[3] = {h, r, t};
    float *grads[3] = {gh, gr, gt};
    const float eps = 1e-2f;
    for (int v = 0; v < 3; v++)
        for (uint32_t i = 0; i < width; i++) {
            float keep = vecs[v][i];
            vecs[v][i] = keep + eps;
            double up = hkl_score_vec(kind, width, h, r, t);
            vecs[v][i] = keep - eps;
            double down = hkl_score_vec(kind, width, h, r, t);
            vecs[v][i] = keep;
            double fd = (up - down) / (2.0 * eps);
            /* the score is linear in each coordinate: central differences
             * are exact up to rounding */
            if (fabs(fd - grads[v][i]) > 1e-3 + 1e-3 * fabs(fd))
                fail_msg("%s: d/d%c[%u]: analytic %g, numeric %g",
                         hkl_kind_name(kind), "hrt"[v], i, grads[v][i], fd);
        }
}

static void test_gradients(void **state)
{
    (void)state;
    check_grad(HKL_DISTMULT, 8);
    check_grad(HKL_COMPLEX, 8);
    check_grad(HKL_DISTMULT, 13); /* a tail after the 8-wide loop */
    check_grad(HKL_COMPLEX, 14);
}

/* ==== Planted structure ====
 * 60 people, 20 cities, 4 countries:
 *   Married(p2i, p2i+1) and its reverse (symmetric);
 *   ParentOf(p_i, p_2i+1), ParentOf(p_i, p_2i+2) and ChildOf reversed
 *   (inverse);
 *   LivesIn(p_i, c_{i%20}), LocatedIn(c_j, k_{j%4}) and
 *   Nationality(p_i, k_{(i%20)%4}) (composition of the two).
 * Every fifth fact of Married (reverse direction) and ChildOf, and every
 * sixth of Nationality (each city keeps residents with a known
 * nationality) is held out for testing; every seventh in valid. */

static void add_named(hkl_data *d, hkl_split sp, const char *h, const char *r,
                      const char *t)
{
    assert_int_equal(
        hkl_data_add(d, sp, h, strlen(h), r, strlen(r), t, strlen(t)), HK_OK);
}

static void planted(hkl_data *d)
{
    char a[32], b[32];
    unsigned held = 0;
    for (int i = 0; i < 30; i++) {
        snprintf(a, sizeof a, "p%d", 2 * i);
        snprintf(b, sizeof b, "p%d", 2 * i + 1);
        add_named(d, HKL_TRAIN, a, "Married", b);
        add_named(d,
                  i % 5 == 0   ? HKL_TEST
                  : i % 7 == 0 ? HKL_VALID
                               : HKL_TRAIN,
                  b, "Married", a);
    }
    for (int i = 0; i < 60; i++) {
        for (int k = 1; k <= 2; k++) {
            int c = 2 * i + k;
            if (c >= 60) continue;
            snprintf(a, sizeof a, "p%d", i);
            snprintf(b, sizeof b, "p%d", c);
            add_named(d, HKL_TRAIN, a, "ParentOf", b);
            held++;
            add_named(d,
                      held % 5 == 0   ? HKL_TEST
                      : held % 7 == 0 ? HKL_VALID
                                      : HKL_TRAIN,
                      b, "ChildOf", a);
        }
    }
    for (int j = 0; j < 20; j++) {
        snprintf(a, sizeof a, "c%d", j);
        snprintf(b, sizeof b, "k%d", j % 4);
        add_named(d, HKL_TRAIN, a, "LocatedIn", b);
    }
    for (int i = 0; i < 60; i++) {
        snprintf(a, sizeof a, "p%d", i);
        snprintf(b, sizeof b, "c%d", i % 20);
        add_named(d, HKL_TRAIN, a, "LivesIn", b);
        snprintf(b, sizeof b, "k%d", (i % 20) % 4);
        add_named(d,
                  i % 6 == 1   ? HKL_TEST
                  : i % 7 == 0 ? HKL_VALID
                               : HKL_TRAIN,
                  a, "Nationality", b);
    }
    hk_error err;
    assert_int_equal(hkl_data_finish(d, &err), HK_OK);
}

static hkl_model *train_planted(hkl_data *d, hkl_kind kind, uint32_t threads)
{
    hkl_params p;
    hkl_params_default(&p);
    p.kind = kind;
    p.dim = 64;
    p.epochs = 150;
    p.lr = 0.05f;
    p.reg = 0.001f;
    p.threads = threads;
    p.negatives = 32;
    p.patience = 100; /* keep the run length fixed */
    p.eval_every = 10;
    if (getenv("HKL_REG")) p.reg = (float)atof(getenv("HKL_REG"));
    if (getenv("HKL_LR")) p.lr = (float)atof(getenv("HKL_LR"));
    if (getenv("HKL_DIM")) p.dim = (uint32_t)atoi(getenv("HKL_DIM"));
    if (getenv("HKL_EP")) p.epochs = (uint32_t)atoi(getenv("HKL_EP"));
    if (getenv("HKL_NEG")) p.negatives = (uint32_t)atoi(getenv("HKL_NEG"));
    hkl_model *m = NULL;
    hk_error err;
    hk_err rc = hkl_train(d, &p, NULL, NULL, &m, &err);
    if (rc) fail_msg("train: %s", err.message);
    return m;
}

static void test_planted_complex(void **state)
{
    (void)state;
    hkl_data d;
    hkl_data_init(&d);
    planted(&d);
    hkl_model *m = train_planted(&d, HKL_COMPLEX, 1);
    /* every held-out fact: the true tail first among all 84 entities */
    size_t first = 0, n = d.n[HKL_TEST];
    for (size_t i = 0; i < n; i++) {
        hkl_triple x = d.split[HKL_TEST][i];
        double rank = hkl_rank_tail(m, &d.known, x.h, x.r, x.t, NULL);
        first += rank <= 1.0;
        if (rank > 1.0)
            fprintf(stderr, "  %s %s %s: rank %g\n", m->ent.v[x.h],
                    m->rel.v[x.r], m->ent.v[x.t], rank);
    }
    fprintf(stderr,
            "complex: %zu of %zu held-out tails ranked first; test "
            "MRR %.3f, valid MRR %.3f, plausibility a=%.3f b=%.3f\n",
            first, n, m->test.mrr, m->valid.mrr, m->platt_a, m->platt_b);
    assert_true(first * 10 >= n * 9);
    assert_true(m->test.mrr > 0.8);
    /* calibration: true facts plausible, a corrupted one much less */
    hkl_triple x = d.split[HKL_TEST][0];
    double good = hkl_plausibility(m, hkl_score(m, x.h, x.r, x.t));
    uint32_t k0 = hkl_names_find(&m->ent, "k0", 2);
    uint32_t married = hkl_names_find(&m->rel, "Married", 7);
    double bad = hkl_plausibility(m, hkl_score(m, x.h, married, k0));
    assert_true(good > 0.5);
    assert_true(bad < good);
    hkl_model_free(m);
    hkl_data_free(&d);
}

static void test_planted_distmult(void **state)
{
    (void)state;
    hkl_data d;
    hkl_data_init(&d);
    planted(&d);
    hkl_model *m = train_planted(&d, HKL_DISTMULT, 1);
    /* symmetric relations are what DistMult models exactly */
    uint32_t married = hkl_names_find(&m->rel, "Married", 7);
    size_t first = 0, n = 0;
    for (size_t i = 0; i < d.n[HKL_TEST]; i++) {
        hkl_triple x = d.split[HKL_TEST][i];
        if (x.r != married) continue;
        n++;
        first += hkl_rank_tail(m, &d.known, x.h, x.r, x.t, NULL) <= 1.0;
    }
    fprintf(stderr, "distmult: Married %zu of %zu first; test MRR %.3f\n",
            first, n, m->test.mrr);
    assert_true(n > 0 && first == n);
    hkl_model_free(m);
    hkl_data_free(&d);
}

/* ==== Latent classes (bench/learn_gen.py --classes, small) ====
 * 36 entities in 6 classes of 6; Likes maps class c to class c+1 and Knows
 * class c to c+2 (mod 6), and every entity links to every member of its
 * target class. Every ninth link is held out for testing, every eleventh
 * for validation. After filtering, a held-out tail is the one member of
 * the target class left, so a model that learned the classes ranks it
 * first; the baselines cannot: every member of a class is equally
 * frequent, and no single edge leads to it (no relation joins the same
 * classes in either direction). */

static void classes(hkl_data *d)
{
    static const char *rel[2] = {"Likes", "Knows"};
    char a[16], b[16];
    unsigned n = 0;
    for (int k = 0; k < 2; k++)
        for (int h = 0; h < 36; h++)
            for (int j = 0; j < 6; j++) {
                int t = ((h / 6 + k + 1) % 6) * 6 + j;
                snprintf(a, sizeof a, "x%d", h);
                snprintf(b, sizeof b, "x%d", t);
                n++;
                add_named(d,
                          n % 9 == 0    ? HKL_TEST
                          : n % 11 == 0 ? HKL_VALID
                                        : HKL_TRAIN,
                          a, rel[k], b);
            }
    hk_error err;
    assert_int_equal(hkl_data_finish(d, &err), HK_OK);
}

/* The set-up most tests share: d filled by build (it finishes d), then a
 * model of dim and epochs trained on one thread with seed 1 (the other
 * hyperparameters as hkl_params_default). Caller frees both. */
static hkl_model *fixture(hkl_data *d, void (*build)(hkl_data *), uint32_t dim,
                          uint32_t epochs)
{
    hkl_data_init(d);
    build(d);
    hkl_params p;
    hkl_params_default(&p);
    p.dim = dim;
    p.epochs = epochs;
    p.threads = 1;
    hkl_model *m = NULL;
    hk_error err;
    hk_err rc = hkl_train(d, &p, NULL, NULL, &m, &err);
    if (rc) fail_msg("train: %s", err.message);
    return m;
}

static void test_planted_classes(void **state)
{
    (void)state;
    hkl_data d;
    hkl_data_init(&d);
    classes(&d);
    hkl_model *m = train_planted(&d, HKL_COMPLEX, 1);
    size_t first = 0, n = d.n[HKL_TEST];
    for (size_t i = 0; i < n; i++) {
        hkl_triple x = d.split[HKL_TEST][i];
        first += hkl_rank_tail(m, &d.known, x.h, x.r, x.t, NULL) <= 1.0;
        first += hkl_rank_tail(m, &d.known, x.t, x.r + hkl_n_rel(m), x.h,
                               NULL) <= 1.0;
    }
    hkl_metrics freq, path;
    assert_int_equal(hkl_baselines(&d, d.split[HKL_TEST], n, &freq, &path),
                     HK_OK);
    fprintf(stderr,
            "classes: %zu of %zu held-out ranks first; test MRR %.3f, most "
            "frequent %.3f, 1-hop path %.3f\n",
            first, 2 * n, m->test.mrr, freq.mrr, path.mrr);
    assert_true(first * 10 >= 2 * n * 9);
    assert_true(m->test.mrr > 0.9);
    /* the margin the bench reports: classes are not one hop away */
    assert_true(freq.mrr < 0.5 && path.mrr < 0.5);
    hkl_model_free(m);
    hkl_data_free(&d);
}

/* ==== 1-N objective ====
 * The objective of one batch of queries (h, r, ?) -> a, computed directly
 * from hkl_score_vec in double:
 *   1/B sum_b [log sum_e exp s(h, r, e) - s(h, r, a)]
 *   + lambda/B sum_b (N3(h) + N3(r) + N3(a)). */

typedef struct q1n {
    uint32_t h, r, a;
} q1n;

static double n3(hkl_kind kind, uint32_t w, const float *x)
{
    double s = 0;
    if (kind == HKL_DISTMULT) {
        for (uint32_t i = 0; i < w; i++)
            s += fabs((double)x[i]) * x[i] * x[i];
        return s;
    }
    for (uint32_t i = 0; i < w / 2; i++) {
        double mod =
            sqrt((double)x[i] * x[i] + (double)x[w / 2 + i] * x[w / 2 + i]);
        s += mod * mod * mod;
    }
    return s;
}

static double objective_1n(const hkl_model *m, const q1n *q, uint32_t nb,
                           double *ce_sum)
{
    uint32_t w = m->width;
    double f = 0, ce = 0;
    for (uint32_t b = 0; b < nb; b++) {
        const float *H = m->E + (size_t)q[b].h * w,
                    *R = m->R + (size_t)q[b].r * w;
        double mx = -INFINITY, z = 0;
        for (uint32_t e = 0; e < m->ent.n; e++) {
            double s = hkl_score_vec(m->p.kind, w, H, R, m->E + (size_t)e * w);
            mx = s > mx ? s : mx;
        }
        for (uint32_t e = 0; e < m->ent.n; e++)
            z += exp(hkl_score_vec(m->p.kind, w, H, R, m->E + (size_t)e * w) -
                     mx);
        double c = log(z) + mx -
                   hkl_score_vec(m->p.kind, w, H, R, m->E + (size_t)q[b].a * w);
        ce += c;
        f += c / nb + (double)m->p.reg / nb *
                          (n3(m->p.kind, w, H) + n3(m->p.kind, w, R) +
                           n3(m->p.kind, w, m->E + (size_t)q[b].a * w));
    }
    *ce_sum = ce;
    return f;
}

/* 9 entities, 2 relations (4 rows with reciprocals), 5 triples, every
 * query of both directions in one batch, on threads workers. */
static void check_grad_1n(hkl_kind kind, uint32_t dim, uint32_t threads)
{
    hkl_data d;
    hkl_data_init(&d);
    static const char *tr[5][3] = {{"a", "R", "b"},
                                   {"b", "R", "c"},
                                   {"c", "S", "d"},
                                   {"e", "S", "a"},
                                   {"f", "R", "g"}};
    for (int i = 0; i < 5; i++)
        add_named(&d, HKL_TRAIN, tr[i][0], tr[i][1], tr[i][2]);
    add_named(&d, HKL_VALID, "h", "R", "i");
    hk_error err;
    assert_int_equal(hkl_data_finish(&d, &err), HK_OK);
    hkl_params p;
    hkl_params_default(&p);
    p.kind = kind;
    p.dim = dim;
    p.epochs = 1;
    p.threads = threads;
    p.negatives = 0;
    p.reg = 0.05f;
    hkl_model *m = NULL;
    assert_int_equal(hkl_train(&d, &p, NULL, NULL, &m, &err), HK_OK);
    uint32_t w = m->width, ne = m->ent.n, nr = 2 * m->rel.n;
    uint64_t seed = 11;
    for (size_t i = 0; i < (size_t)ne * w; i++)
        m->E[i] = (float)(tu_rand(&seed) % 2000) / 2000.0f - 0.5f;
    for (size_t i = 0; i < (size_t)nr * w; i++)
        m->R[i] = (float)(tu_rand(&seed) % 2000) / 2000.0f - 0.5f;
    float *GE = calloc((size_t)ne * w, sizeof *GE);
    float *GR = calloc((size_t)nr * w, sizeof *GR);
    hkl_1n *c = NULL;
    assert_int_equal(hkl_1n_new(m, GE, GR, threads, &c), HK_OK);
    uint32_t order[10];
    q1n q[10];
    for (uint32_t i = 0; i < 10; i++) {
        order[i] = (i % 5) << 1 | (i >= 5); /* forward, then reciprocal */
        hkl_triple x = d.split[HKL_TRAIN][i % 5];
        q[i] = i < 5 ? (q1n){x.h, x.r, x.t} : (q1n){x.t, x.r + m->rel.n, x.h};
    }
    assert_true(hkl_1n_batch_size(c) >= 10);
    double loss = 0, ce = 0;
    assert_int_equal(hkl_1n_run(c, d.split[HKL_TRAIN], order, 10, false, &loss),
                     HK_OK);
    objective_1n(m, q, 10, &ce);
    if (fabs(loss - ce) > 1e-4 * (1 + fabs(ce)))
        fail_msg("%s: loss %g, direct %g", hkl_kind_name(kind), loss, ce);
    const float *ge = hkl_1n_grad_e(c), *gr = hkl_1n_grad_r(c);
    float *tabs[2] = {m->E, m->R};
    const float *grads[2] = {ge, gr};
    size_t sizes[2] = {(size_t)ne * w, (size_t)nr * w};
    const float eps = 1e-3f;
    for (int v = 0; v < 2; v++)
        for (size_t i = 0; i < sizes[v]; i++) {
            float keep = tabs[v][i];
            tabs[v][i] = keep + eps;
            double up = objective_1n(m, q, 10, &ce);
            tabs[v][i] = keep - eps;
            double down = objective_1n(m, q, 10, &ce);
            tabs[v][i] = keep;
            double fd = (up - down) / (2.0 * (double)eps);
            if (fabs(fd - grads[v][i]) > 2e-3 + 2e-2 * fabs(fd))
                fail_msg("%s dim %u, %u threads: d/d%s[%zu]: analytic %g, "
                         "numeric %g",
                         hkl_kind_name(kind), dim, threads, v ? "R" : "E", i,
                         (double)grads[v][i], fd);
        }
    hkl_1n_free(c);
    free(GE);
    free(GR);
    hkl_model_free(m);
    hkl_data_free(&d);
}

static void test_gradients_1n(void **state)
{
    (void)state;
    check_grad_1n(HKL_COMPLEX, 8, 1);   /* width 16: the vector kernels */
    check_grad_1n(HKL_COMPLEX, 8, 2);   /* slices, merged softmax */
    check_grad_1n(HKL_COMPLEX, 3, 2);   /* width 6: the scalar path */
    check_grad_1n(HKL_DISTMULT, 16, 3); /* three slices */
    check_grad_1n(HKL_DISTMULT, 24, 2); /* width % 16 == 8 */
}

/* 1-N training on the planted KB: every held-out fact ranked first (or
 * nearly every one), on two threads. */
static void test_planted_1n(void **state)
{
    (void)state;
    hkl_data d;
    hkl_data_init(&d);
    planted(&d);
    hkl_params p;
    hkl_params_default(&p);
    p.kind = HKL_COMPLEX;
    p.dim = 32;
    p.epochs = 60;
    p.lr = 0.1f;
    p.reg = 0.05f; /* 0.03..0.1 rank all 27 first; 0.001 ranks 19 */
    p.threads = 2;
    p.negatives = 0;
    p.patience = 100;
    p.eval_every = 10;
    if (getenv("HKL_REG")) p.reg = (float)atof(getenv("HKL_REG"));
    if (getenv("HKL_EP")) p.epochs = (uint32_t)atoi(getenv("HKL_EP"));
    hkl_model *m = NULL;
    hk_error err;
    assert_int_equal(hkl_train(&d, &p, NULL, NULL, &m, &err), HK_OK);
    size_t first = 0, n = d.n[HKL_TEST];
    for (size_t i = 0; i < n; i++) {
        hkl_triple x = d.split[HKL_TEST][i];
        first += hkl_rank_tail(m, &d.known, x.h, x.r, x.t, NULL) <= 1.0;
    }
    fprintf(stderr,
            "complex 1-N: %zu of %zu held-out tails first; test MRR "
            "%.3f\n",
            first, n, m->test.mrr);
    assert_true(first * 10 >= n * 9);
    assert_true(m->test.mrr > 0.8);
    hkl_model_free(m);
    hkl_data_free(&d);
}

/* 1-N: a seed reproduces the model bit for bit with one thread and with
 * two (fixed slices, sums in a fixed order); another seed does not. */
static void test_determinism_1n(void **state)
{
    (void)state;
    hkl_data d;
    hkl_data_init(&d);
    planted(&d);
    hkl_params p;
    hkl_params_default(&p);
    p.dim = 16;
    p.epochs = 10;
    p.negatives = 0;
    p.seed = 42;
    hk_error err;
    for (uint32_t threads = 1; threads <= 2; threads++) {
        p.threads = threads;
        p.seed = 42;
        hkl_model *a = NULL, *b = NULL, *c = NULL;
        assert_int_equal(hkl_train(&d, &p, NULL, NULL, &a, &err), HK_OK);
        assert_int_equal(hkl_train(&d, &p, NULL, NULL, &b, &err), HK_OK);
        p.seed = 43;
        assert_int_equal(hkl_train(&d, &p, NULL, NULL, &c, &err), HK_OK);
        size_t ne = (size_t)hkl_n_ent(a) * a->width;
        assert_memory_equal(a->E, b->E, ne * sizeof(float));
        assert_memory_equal(a->R, b->R,
                            (size_t)hkl_n_rel(a) * 2 * a->width * 4);
        assert_true(a->valid.mrr == b->valid.mrr);
        assert_true(memcmp(a->E, c->E, ne * sizeof(float)) != 0);
        hkl_model_free(a);
        hkl_model_free(b);
        hkl_model_free(c);
    }
    hkl_data_free(&d);
}

/* ==== Filtered ranks against brute force ==== */

static double brute_rank(const hkl_model *m, const hkl_known *k, uint32_t q,
                         uint32_t r, uint32_t a)
{
    uint32_t n_rel = hkl_n_rel(m);
    float sa = hkl_score(m, q, r, a);
    double greater = 0, equal = 0;
    for (uint32_t e = 0; e < hkl_n_ent(m); e++) {
        if (e == a) continue;
        bool known = r < n_rel ? hkl_known_has(k, q, r, e)
                               : hkl_known_has(k, e, r - n_rel, q);
        if (known) continue;
        float s = hkl_score(m, q, r, e);
        greater += s > sa;
        equal += s == sa;
    }
    return 1.0 + greater + 0.5 * equal;
}

static void test_rank_oracle(void **state)
{
    (void)state;
    hkl_data d;
    hkl_model *m = fixture(&d, planted, 8, 3);
    uint32_t n_rel = hkl_n_rel(m);
    hkl_metrics sum = {0, 0, 0, 0, 0, 0};
    for (int sp = 0; sp < 3; sp++)
        for (size_t i = 0; i < d.n[sp]; i++) {
            hkl_triple x = d.split[sp][i];
            double a = hkl_rank_tail(m, &d.known, x.h, x.r, x.t, NULL);
            double b = brute_rank(m, &d.known, x.h, x.r, x.t);
            if (a != b) fail_msg("tail rank %g, brute force %g", a, b);
            a = hkl_rank_tail(m, &d.known, x.t, x.r + n_rel, x.h, NULL);
            b = brute_rank(m, &d.known, x.t, x.r + n_rel, x.h);
            if (a != b) fail_msg("head rank %g, brute force %g", a, b);
            if (sp == HKL_TEST) {
                sum.mrr +=
                    1.0 / hkl_rank_tail(m, &d.known, x.h, x.r, x.t, NULL) +
                    1.0 / a;
                sum.n += 2;
            }
        }
    hkl_metrics mt;
    assert_int_equal(
        hkl_eval(m, &d.known, d.split[HKL_TEST], d.n[HKL_TEST], 2, &mt), HK_OK);
    assert_int_equal(mt.n, sum.n);
    assert_true(fabs(mt.mrr - sum.mrr / (double)sum.n) < 1e-9);
    hkl_model_free(m);
    hkl_data_free(&d);
}

/* The frequency back-off against brute force: a candidate beats the
 * answer when it is more often an answer of the relation and direction in
 * training, or as often and scored higher by the model. */
static double brute_backoff(const hkl_model *m, const hkl_data *d, uint32_t q,
                            uint32_t r, uint32_t a)
{
    uint32_t n_rel = hkl_n_rel(m);
    const hkl_triple *tr = d->split[HKL_TRAIN];
    size_t fa = 0;
    for (size_t i = 0; i < d->n[HKL_TRAIN]; i++)
        fa += r < n_rel ? tr[i].r == r && tr[i].t == a
                        : tr[i].r == r - n_rel && tr[i].h == a;
    float sa = hkl_score(m, q, r, a);
    double greater = 0, equal = 0;
    for (uint32_t e = 0; e < hkl_n_ent(m); e++) {
        if (e == a) continue;
        bool known = r < n_rel ? hkl_known_has(&d->known, q, r, e)
                               : hkl_known_has(&d->known, e, r - n_rel, q);
        if (known) continue;
        size_t fe = 0;
        for (size_t i = 0; i < d->n[HKL_TRAIN]; i++)
            fe += r < n_rel ? tr[i].r == r && tr[i].t == e
                            : tr[i].r == r - n_rel && tr[i].h == e;
        float s = hkl_score(m, q, r, e);
        greater += fe > fa || (fe == fa && s > sa);
        equal += fe == fa && s == sa;
    }
    return 1.0 + greater + 0.5 * equal;
}

static void test_backoff_oracle(void **state)
{
    (void)state;
    hkl_data d;
    hkl_model *m = fixture(&d, planted, 8, 3);
    uint32_t n_rel = hkl_n_rel(m);
    double sum = 0;
    for (size_t i = 0; i < d.n[HKL_TEST]; i++) {
        hkl_triple x = d.split[HKL_TEST][i];
        sum += 1.0 / brute_backoff(m, &d, x.h, x.r, x.t) +
               1.0 / brute_backoff(m, &d, x.t, x.r + n_rel, x.h);
    }
    hkl_metrics bo;
    assert_int_equal(
        hkl_eval_backoff(m, &d, d.split[HKL_TEST], d.n[HKL_TEST], &bo), HK_OK);
    assert_int_equal(bo.n, 2 * d.n[HKL_TEST]);
    assert_true(fabs(bo.mrr - sum / (double)bo.n) < 1e-9);
    hkl_model_free(m);
    /* a model of other data (other ids) is refused */
    hkl_data o;
    m = fixture(&o, classes, 8, 3);
    assert_int_equal(
        hkl_eval_backoff(m, &d, d.split[HKL_TEST], d.n[HKL_TEST], &bo),
        HK_ERR_INVALID);
    hkl_model_free(m);
    hkl_data_free(&o);
    hkl_data_free(&d);
}

/* ==== Combined ranker ==== */

/* The combined score of candidate e for query (q, rd, ?), every feature
 * counted again from the training triples by plain scans (learn_combo.c,
 * "Features"); float where the library keeps floats, so that equal
 * features give equal scores in both. */
static double brute_combo(const hkl_model *m, const hkl_data *d,
                          const uint8_t *ans, uint32_t q, uint32_t rd,
                          uint32_t e)
{
    const uint32_t R = d->rel.n, RD = 2 * R;
    const hkl_triple *tr = d->split[HKL_TRAIN];
    const size_t n = d->n[HKL_TRAIN];
    /* answer of triple i in relation-direction x, or UINT32_MAX */
#define ANS(i, x)                                                              \
    ((x) < R ? (tr[i].r == (x) ? tr[i].t : UINT32_MAX)                         \
             : (tr[i].r == (x)-R ? tr[i].h : UINT32_MAX))
    float freq = 0, deg = 0, path = 0;
    bool adj = false;
    for (size_t i = 0; i < n; i++) {
        freq += ANS(i, rd) == e;
        deg += (tr[i].h == e) + (tr[i].t == e);
    }
    /* 1-hop: each training edge between q and e under r2d, weighted by
     * the confidence of r2d => rd (pairs holding both, over edges of r2) */
    for (uint32_t r2d = 0; r2d < RD; r2d++) {
        float links = 0;
        for (size_t i = 0; i < n; i++)
            links += r2d < R
                         ? tr[i].r == r2d && tr[i].h == q && tr[i].t == e
                         : tr[i].r == r2d - R && tr[i].t == q && tr[i].h == e;
        if (links == 0) continue;
        adj = true;
        float both = 0, base = 0;
        for (size_t i = 0; i < n; i++) {
            base += tr[i].r == r2d % R;
            for (int dir = 0; dir < 2; dir++) {
                uint32_t x = dir ? tr[i].t : tr[i].h;
                uint32_t y = dir ? tr[i].h : tr[i].t;
                if (tr[i].r + (dir ? R : 0) != rd) continue;
                for (size_t j = 0; j < n; j++)
                    if (r2d != rd &&
                        (r2d < R
                             ? tr[j].r == r2d && tr[j].h == x && tr[j].t == y
                             : tr[j].r == r2d - R && tr[j].h == y &&
                                   tr[j].t == x))
                        both += 1;
            }
        }
        for (float k = 0; k < links; k++)
            path += both / base;
    }
    /* type: sum over other relation-directions e answers of the share of
     * rd's answers they share (ans[x * N + y]: y answers x in training) */
    const uint32_t N = d->ent.n;
    double type = 0;
    for (uint32_t r2d = 0; r2d < RD; r2d++) {
        if (r2d == rd || !ans[(size_t)r2d * N + e]) continue;
        uint32_t in_rd = 0, shared = 0;
        for (uint32_t x = 0; x < N; x++) {
            in_rd += ans[(size_t)rd * N + x];
            shared += ans[(size_t)rd * N + x] && ans[(size_t)r2d * N + x];
        }
        if (in_rd) type += (double)shared / in_rd;
    }
    /* role: edges with e on the answer's side; two-hop: walks q - x - e
     * over two edges (self-loops left out, x != q, e != q) */
    float role = 0, hop2 = 0;
    for (size_t i = 0; i < n; i++) {
        role += rd < R ? tr[i].t == e : tr[i].h == e;
        if (tr[i].h == tr[i].t || (tr[i].h != q && tr[i].t != q)) continue;
        uint32_t x = tr[i].h == q ? tr[i].t : tr[i].h;
        for (size_t j = 0; j < n; j++) {
            if (tr[j].h == tr[j].t || (tr[j].h != x && tr[j].t != x)) continue;
            uint32_t y = tr[j].h == x ? tr[j].t : tr[j].h;
            hop2 += y == e && e != q;
        }
    }
#undef ANS
    uint32_t rm = rd < R ? rd : rd - R + hkl_n_rel(m);
    double x[HKL_COMBO_NF] = {hkl_score(m, q, rm, e),
                              log1p((double)freq),
                              freq > 0,
                              log1p((double)path),
                              adj,
                              (float)type,
                              log1pf(deg),
                              log1pf(role),
                              log1p((double)hop2)};
    double s = 0;
    for (int k = 0; k < HKL_COMBO_NF; k++)
        s += m->combo.w[k] * x[k];
    return s;
}

static double brute_combo_rank(const hkl_model *m, const hkl_data *d,
                               const uint8_t *ans, uint32_t q, uint32_t rd,
                               uint32_t a)
{
    const uint32_t R = d->rel.n;
    double sa = brute_combo(m, d, ans, q, rd, a), greater = 0, equal = 0;
    for (uint32_t e = 0; e < d->ent.n; e++) {
        if (e == a) continue;
        bool known = rd < R ? hkl_known_has(&d->known, q, rd, e)
                            : hkl_known_has(&d->known, e, rd - R, q);
        if (known) continue;
        double s = brute_combo(m, d, ans, q, rd, e);
        greater += s > sa;
        equal += s == sa;
    }
    return 1.0 + greater + 0.5 * equal;
}

/* hkl_eval_combo's filtered ranks against the brute-force ranker. */
static void test_combo_oracle(void **state)
{
    (void)state;
    hkl_data d;
    hkl_model *m = fixture(&d, planted, 8, 3);
    assert_true(m->combo.fitted);
    assert_int_equal(m->combo.fit_queries, 2 * d.n[HKL_VALID]);
    const uint32_t R = d.rel.n, N = d.ent.n;
    uint8_t *ans = calloc((size_t)2 * R * N, 1);
    assert_non_null(ans);
    for (size_t i = 0; i < d.n[HKL_TRAIN]; i++) {
        hkl_triple x = d.split[HKL_TRAIN][i];
        ans[(size_t)x.r * N + x.t] = 1;
        ans[(size_t)(x.r + R) * N + x.h] = 1;
    }
    hkl_metrics sum = {0, 0, 0, 0, 0, 0};
    for (size_t i = 0; i < d.n[HKL_TEST]; i++) {
        hkl_triple x = d.split[HKL_TEST][i];
        double a = brute_combo_rank(m, &d, ans, x.h, x.r, x.t);
        double b = brute_combo_rank(m, &d, ans, x.t, x.r + R, x.h);
        sum.mrr += 1.0 / a + 1.0 / b;
        sum.hits1 += (a <= 1) + (b <= 1);
        sum.mean_rank += a + b;
        sum.n += 2;
    }
    hkl_metrics co;
    assert_int_equal(
        hkl_eval_combo(m, &d, d.split[HKL_TEST], d.n[HKL_TEST], &co), HK_OK);
    fprintf(stderr, "combined: test MRR %.4f (brute force %.4f), model %.4f\n",
            co.mrr, sum.mrr / (double)sum.n, m->test.mrr);
    assert_int_equal(co.n, sum.n);
    assert_true(fabs(co.mrr - sum.mrr / (double)sum.n) < 1e-9);
    assert_true(fabs(co.hits1 - sum.hits1 / (double)sum.n) < 1e-9);
    assert_true(fabs(co.mean_rank - sum.mean_rank / (double)sum.n) < 1e-9);
    free(ans);
    /* not fitted: refused, as is a model of other ids */
    hkl_combo keep = m->combo;
    m->combo.fitted = false;
    assert_int_equal(
        hkl_eval_combo(m, &d, d.split[HKL_TEST], d.n[HKL_TEST], &co),
        HK_ERR_STATE);
    m->combo = keep;
    hkl_data o;
    hkl_model *mo = fixture(&o, classes, 8, 1);
    assert_int_equal(
        hkl_eval_combo(mo, &d, d.split[HKL_TEST], d.n[HKL_TEST], &co),
        HK_ERR_INVALID);
    hkl_model_free(mo);
    hkl_data_free(&o);
    hkl_model_free(m);
    hkl_data_free(&d);
}

static void halves(hkl_data *d);

/* The features of prediction count every edge the model knew: d2 holds
 * m's names in m's order and m->known as its training split. */
static void known_as_train(const hkl_model *m, hkl_data *d2)
{
    hkl_data_init(d2);
    uint32_t id;
    for (uint32_t i = 0; i < m->ent.n; i++)
        assert_int_equal(
            hkl_names_intern(&d2->ent, m->ent.v[i], strlen(m->ent.v[i]), &id),
            HK_OK);
    for (uint32_t i = 0; i < m->rel.n; i++)
        assert_int_equal(
            hkl_names_intern(&d2->rel, m->rel.v[i], strlen(m->rel.v[i]), &id),
            HK_OK);
    for (size_t i = 0; i < m->known.n; i++) {
        hkl_triple x = m->known.hrt[i];
        const char *h = m->ent.v[x.h], *r = m->rel.v[x.r], *t = m->ent.v[x.t];
        assert_int_equal(hkl_data_add(d2, HKL_TRAIN, h, strlen(h), r, strlen(r),
                                      t, strlen(t)),
                         HK_OK);
    }
    hk_error err;
    assert_int_equal(hkl_data_finish(d2, &err), HK_OK);
}

/* hkl_predict_combo's order is the order of the filtered combined ranks
 * of the brute-force oracle (checked against hkl_eval_combo above), in
 * both directions of a held-out query, with the known answers skipped. */
static void test_predict_combo(void **state)
{
    (void)state;
    hkl_data d, d2;
    hkl_model *m = fixture(&d, planted, 8, 3);
    assert_true(m->combo.fitted);
    assert_int_equal(hkl_combo_prepare(m), HK_OK);
    known_as_train(m, &d2);
    const uint32_t R = d2.rel.n, N = d2.ent.n;
    uint8_t *ans = calloc((size_t)2 * R * N, 1);
    uint32_t *skip = malloc((size_t)N * sizeof *skip);
    assert_non_null(ans);
    assert_non_null(skip);
    for (size_t i = 0; i < d2.n[HKL_TRAIN]; i++) {
        hkl_triple x = d2.split[HKL_TRAIN][i];
        ans[(size_t)x.r * N + x.t] = 1;
        ans[(size_t)(x.r + R) * N + x.h] = 1;
    }
    hkl_triple x = d.split[HKL_TEST][0];
    for (int dir = 0; dir < 2; dir++) {
        uint32_t q = dir ? x.t : x.h, rd = x.r + (dir ? R : 0);
        size_t n_skip = 0;
        for (uint32_t e = 0; e < N; e++)
            if (dir ? hkl_known_has(&m->known, e, x.r, q)
                    : hkl_known_has(&m->known, q, x.r, e))
                skip[n_skip++] = e;
        assert_true(n_skip >= 1); /* the held-out answer is known */
        hkl_hit hits[10];
        hk_err rc;
        size_t got = hkl_predict_combo(m, q, rd, 10, skip, n_skip, hits, &rc);
        assert_int_equal(rc, HK_OK);
        assert_int_equal(got, 10);
        for (size_t i = 0; i < got; i++) {
            double want = brute_combo_rank(m, &d2, ans, q, rd, hits[i].id);
            assert_true(fabs(want - (double)(i + 1)) < 1e-9);
            double sc, rk;
            assert_int_equal(
                hkl_combo_rank_tail(m, q, rd, hits[i].id, &sc, &rk), HK_OK);
            assert_true(fabs(rk - want) < 1e-9);
            assert_true((float)sc == hits[i].score);
        }
    }
    /* without the tables: no combined ranker */
    hkl_combo_release(m);
    hkl_hit h1;
    hk_err rc;
    assert_int_equal(hkl_predict_combo(m, x.h, x.r, 1, NULL, 0, &h1, &rc), 0);
    assert_int_equal(rc, HK_ERR_STATE);
    free(ans);
    free(skip);
    hkl_model_free(m);
    hkl_data_free(&d2);
    hkl_data_free(&d);
}

/* auto takes the combined ranker when its validation MRR beat the
 * model's at training time, the model otherwise, and the model when the
 * combined ranker has no tables (a KB above their limit). */
static void test_ranker_auto(void **state)
{
    (void)state;
    hkl_data d;
    hkl_ranker r;
    assert_true(hkl_ranker_parse("combined", &r) && r == HKL_RANKER_COMBINED);
    assert_true(hkl_ranker_parse("auto", &r) && r == HKL_RANKER_AUTO);
    assert_false(hkl_ranker_parse("best", &r));
    /* halves: the model cannot learn either half in 3 epochs; the
     * combined ranker answers both */
    hkl_model *m = fixture(&d, halves, 8, 3);
    assert_true(m->combo.fitted);
    fprintf(stderr, "halves: valid MRR combined %.4f, model %.4f\n",
            m->combo.valid.mrr, m->valid.mrr);
    assert_true(m->combo.valid.mrr > m->valid.mrr);
    assert_int_equal(hkl_ranker_auto(m), HKL_RANKER_MODEL); /* no tables */
    assert_int_equal(hkl_combo_prepare(m), HK_OK);
    assert_int_equal(hkl_ranker_auto(m), HKL_RANKER_COMBINED);
    hkl_model_free(m);
    hkl_data_free(&d);
    /* classes, trained long enough: the model alone ranks every
     * validation answer first, the combined ranker cannot beat it, and a
     * tie stays with the model */
    m = fixture(&d, classes, 16, 60);
    assert_true(m->combo.fitted);
    fprintf(stderr, "classes: valid MRR combined %.4f, model %.4f\n",
            m->combo.valid.mrr, m->valid.mrr);
    assert_true(m->valid.mrr > 0.999);
    assert_true(m->combo.valid.mrr <= m->valid.mrr);
    assert_int_equal(hkl_combo_prepare(m), HK_OK);
    assert_int_equal(hkl_ranker_auto(m), HKL_RANKER_MODEL);
    /* not fitted: nothing to prepare, the model answers */
    m->combo.fitted = false;
    assert_int_equal(hkl_combo_prepare(m), HK_ERR_STATE);
    assert_null(m->cf);
    assert_int_equal(hkl_ranker_auto(m), HKL_RANKER_MODEL);
    hkl_model_free(m);
    hkl_data_free(&d);
}

/* A chain over HKL_COMBO_AUTO_MAX + 100 entities, one edge in 400 held
 * out for validation. */
static void long_chain(hkl_data *d)
{
    char a[16], b[16];
    const int n = (int)HKL_COMBO_AUTO_MAX + 100;
    for (int i = 0; i < n; i++) {
        snprintf(a, sizeof a, "n%d", i);
        snprintf(b, sizeof b, "n%d", (i + 1) % n);
        add_named(d, i % 400 == 3 ? HKL_VALID : HKL_TRAIN, a, "Next", b);
    }
    hk_error err;
    assert_int_equal(hkl_data_finish(d, &err), HK_OK);
}

/* Above HKL_COMBO_AUTO_MAX entities auto keeps the model's fast path even
 * where the combined ranker won on validation; "combined" still works. */
static void test_ranker_auto_large(void **state)
{
    (void)state;
    hkl_data d;
    hkl_model *m = fixture(&d, long_chain, 2, 1);
    assert_true(hkl_n_ent(m) > HKL_COMBO_AUTO_MAX);
    assert_true(m->combo.fitted);
    assert_int_equal(hkl_combo_prepare(m), HK_OK);
    /* the combined ranker the winner on validation: only size decides */
    m->valid.mrr = 0;
    assert_true(m->combo.valid.mrr > m->valid.mrr);
    assert_int_equal(hkl_ranker_auto(m), HKL_RANKER_MODEL);
    hkl_hit h[3];
    hk_err rc;
    assert_int_equal(hkl_predict_combo(m, 0, 0, 3, NULL, 0, h, &rc), 3);
    assert_int_equal(rc, HK_OK);
    hkl_model_free(m);
    hkl_data_free(&d);
}

/* 5,000 entities in a chain with a type each: above the 4,096 entities
 * where the fit samples its candidates with the seed. */
static void chain(hkl_data *d)
{
    char a[16], b[16];
    for (int i = 0; i < 5000; i++) {
        snprintf(a, sizeof a, "n%d", i);
        snprintf(b, sizeof b, "n%d", (i + 1) % 5000);
        add_named(d,
                  i % 50 == 3   ? HKL_VALID
                  : i % 10 == 7 ? HKL_TEST
                                : HKL_TRAIN,
                  a, "Next", b);
        snprintf(b, sizeof b, "type%d", i % 7);
        add_named(d, i % 50 == 5 ? HKL_VALID : HKL_TRAIN, a, "Type", b);
    }
    hk_error err;
    assert_int_equal(hkl_data_finish(d, &err), HK_OK);
}

/* The fit is a function of the model, the data and the seed: the same
 * seed gives the same weights bit for bit, on every entity (small KB) and
 * on sampled candidates (large KB); another seed samples others. */
static void test_combo_determinism(void **state)
{
    (void)state;
    hkl_data d;
    hkl_model *m = fixture(&d, planted, 8, 3);
    hkl_combo first = m->combo;
    assert_int_equal(hkl_combo_fit(m, &d, 1, HKL_COMBO_ALL), HK_OK);
    assert_memory_equal(first.w, m->combo.w, sizeof first.w);
    hkl_model_free(m);
    hkl_data_free(&d);

    m = fixture(&d, chain, 4, 1);
    assert_true(m->combo.fitted);
    double w1[HKL_COMBO_NF], w2[HKL_COMBO_NF];
    assert_int_equal(hkl_combo_fit(m, &d, 7, HKL_COMBO_ALL), HK_OK);
    memcpy(w1, m->combo.w, sizeof w1);
    size_t rows = m->combo.fit_rows;
    assert_true(rows < (size_t)m->combo.fit_queries * 200); /* sampled */
    assert_int_equal(hkl_combo_fit(m, &d, 7, HKL_COMBO_ALL), HK_OK);
    assert_memory_equal(w1, m->combo.w, sizeof w1);
    assert_int_equal(m->combo.fit_rows, rows);
    assert_int_equal(hkl_combo_fit(m, &d, 8, HKL_COMBO_ALL), HK_OK);
    memcpy(w2, m->combo.w, sizeof w2);
    assert_true(memcmp(w1, w2, sizeof w1) != 0);
    /* a feature left out by the mask keeps weight 0 */
    assert_int_equal(hkl_combo_fit(m, &d, 7, HKL_COMBO_ALL & ~2u), HK_OK);
    assert_true(m->combo.w[1] == 0);
    hkl_model_free(m);
    hkl_data_free(&d);
}

/* Two halves that need different evidence:
 *   A: 60 people h_i all Like "Pop"; each Owns a thing t_i, and the first
 *      8 also Like their thing, so "Owns => Likes" is a weak rule. A
 *      held-out Likes(h_i, Pop) is answered by the frequency of Pop;
 *      the 1-hop rule puts t_i first.
 *   B: 60 couples, Married(a_i, b_i), and for a third Married(b_i, a_i)
 *      too; a held-out Married(b_i, a_i) is answered by the reverse
 *      edge (1-hop), while every spouse is an equally rare answer.
 * The combined ranker must beat both baselines, and lose that margin when
 * either the frequency features (frequency, seen, degree, role) or the 1-hop
 * features (path, adjacency) are left out. */
static void halves(hkl_data *d)
{
    char a[16], b[16];
    for (int i = 0; i < 60; i++) {
        snprintf(a, sizeof a, "h%d", i);
        snprintf(b, sizeof b, "t%d", i);
        add_named(d, HKL_TRAIN, a, "Owns", b);
        if (i < 8) add_named(d, HKL_TRAIN, a, "Likes", b);
        add_named(d,
                  i < 8        ? HKL_TRAIN
                  : i % 4 == 0 ? HKL_TEST
                  : i % 4 == 1 ? HKL_VALID
                               : HKL_TRAIN,
                  a, "Likes", "Pop");
        snprintf(a, sizeof a, "a%d", i);
        snprintf(b, sizeof b, "b%d", i);
        add_named(d, HKL_TRAIN, a, "Married", b);
        add_named(d,
                  i % 3 == 0   ? HKL_TRAIN
                  : i % 3 == 1 ? HKL_TEST
                               : HKL_VALID,
                  b, "Married", a);
    }
    hk_error err;
    assert_int_equal(hkl_data_finish(d, &err), HK_OK);
}

static double combo_mrr(hkl_model *m, const hkl_data *d, uint32_t mask)
{
    hkl_metrics co;
    assert_int_equal(hkl_combo_fit(m, d, 1, mask), HK_OK);
    assert_int_equal(
        hkl_eval_combo(m, d, d->split[HKL_TEST], d->n[HKL_TEST], &co), HK_OK);
    return co.mrr;
}

static void test_combo_halves(void **state)
{
    (void)state;
    hkl_data d;
    hkl_model *m = fixture(&d, halves, 8, 1);
    hkl_metrics fr, pa;
    assert_int_equal(
        hkl_baselines(&d, d.split[HKL_TEST], d.n[HKL_TEST], &fr, &pa), HK_OK);
    const uint32_t freq_feats = 1u << 1 | 1u << 2 | 1u << 6 | 1u << 7;
    const uint32_t hop_feats = 1u << 3 | 1u << 4;
    double all = combo_mrr(m, &d, HKL_COMBO_ALL);
    double no_freq = combo_mrr(m, &d, HKL_COMBO_ALL & ~freq_feats);
    double no_hop = combo_mrr(m, &d, HKL_COMBO_ALL & ~hop_feats);
    fprintf(stderr,
            "halves: combined %.3f, without frequency %.3f, without 1-hop "
            "%.3f; most frequent %.3f, 1-hop path %.3f, model %.3f\n",
            all, no_freq, no_hop, fr.mrr, pa.mrr, m->test.mrr);
    double best = fr.mrr > pa.mrr ? fr.mrr : pa.mrr;
    assert_true(all > best + 0.1);
    assert_true(no_freq < all - 0.1);
    assert_true(no_hop < all - 0.1);
    hkl_model_free(m);
    hkl_data_free(&d);
}

/* A version 1 model file (no combined ranker) still loads: the file of
 * a trained model with the combined ranker's bytes cut out, version 1
 * and the checksum written again. */
static void test_file_version1(void **state)
{
    (void)state;
    hkl_data d;
    hkl_model *m = fixture(&d, planted, 8, 2), *l = NULL;
    hk_error err;
    char *dir = tu_tmpdir("learnv1");
    mkdir(dir, 0755);
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, HKL_MODEL_FILE);
    assert_int_equal(hkl_save(m, path, &err), HK_OK);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    unsigned char buf[1 << 16];
    size_t len = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    assert_true(len > 0 && len < sizeof buf);
    /* header fields before the combined ranker: 264 bytes after the 16 of
     * magic, version and marker; the ranker: u32 + NF f64 + 2 u64 + 2 f64 +
     * 6 metrics of 8 bytes */
    const size_t at = 16 + 264, cut = 4 + HKL_COMBO_NF * 8 + 4 * 8 + 6 * 8;
    uint32_t version;
    memcpy(&version, buf + 8, 4);
    assert_int_equal(version, 2);
    version = 1;
    memcpy(buf + 8, &version, 4);
    memmove(buf + at, buf + at + cut, len - at - cut);
    len -= cut;
    uint64_t sum = 1469598103934665603ull;
    for (size_t i = 0; i < len - 8; i++) {
        sum ^= buf[i];
        sum *= 1099511628211ull;
    }
    memcpy(buf + len - 8, &sum, 8);
    fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(buf, 1, len, fp), len);
    fclose(fp);
    assert_int_equal(hkl_load(path, &l, &err), HK_OK);
    assert_false(l->combo.fitted);
    assert_true(l->n_train == m->n_train && l->valid.mrr == m->valid.mrr);
    assert_memory_equal(l->E, m->E, (size_t)hkl_n_ent(m) * m->width * 4);
    hkl_model_free(l);
    /* an unknown future version is refused */
    version = 3;
    memcpy(buf + 8, &version, 4);
    fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(buf, 1, len, fp), len);
    fclose(fp);
    assert_int_equal(hkl_load(path, &l, &err), HK_ERR_VERSION);
    hkl_model_free(m);
    hkl_data_free(&d);
    tu_rmrf(dir);
    free(dir);
}

/* ==== Predict: the int8 scan against the exact one ==== */

static void test_predict_int8(void **state)
{
    (void)state;
    hkl_data d;
    hkl_model *m = fixture(&d, planted, 16, 20);
    uint32_t n = hkl_n_ent(m);
    assert_true(n > 5 + HKL_RERANK); /* the int8 path runs */
    float *s = malloc(n * sizeof *s);
    hkl_hit exact[5], got[5];
    size_t same = 0, total = 0;
    assert_null(m->Q);
    assert_int_equal(hkl_quantize(m), HK_OK);
    for (uint32_t h = 0; h < n; h++)
        for (uint32_t r = 0; r < 2 * hkl_n_rel(m); r++) {
            hkl_score_tails(m, h, r, s);
            size_t ne = hkl_top_k(s, n, 5, &h, 1, exact);
            size_t ng = hkl_predict(m, h, r, 5, &h, 1, s, got);
            assert_int_equal(ne, ng);
            for (size_t i = 0; i < ng; i++) {
                /* scores are exact, order is by them */
                assert_true(got[i].score == hkl_score(m, h, r, got[i].id));
                assert_true(got[i].id != h);
                if (i) assert_true(got[i - 1].score >= got[i].score);
                for (size_t j = 0; j < ne; j++)
                    same += got[i].id == exact[j].id;
            }
            total += ne;
        }
    fprintf(stderr, "int8 predict: recall@5 %.4f over %zu answers\n",
            (double)same / (double)total, total);
    assert_true(same * 100 >= total * 99);
    free(s);
    hkl_model_free(m);
    hkl_data_free(&d);
}

/* The two-thread int8 scan (from 2^18 entities) on random vectors. */
static void test_predict_int8_large(void **state)
{
    (void)state;
    const uint32_t n = (1u << 18) + 5, dim = 8;
    hkl_model *m = calloc(1, sizeof *m);
    hkl_params_default(&m->p);
    m->p.dim = dim;
    m->width = 2 * dim;
    char name[32];
    uint32_t id;
    for (uint32_t i = 0; i < n; i++) {
        int len = snprintf(name, sizeof name, "e%u", i);
        assert_int_equal(hkl_names_intern(&m->ent, name, (size_t)len, &id),
                         HK_OK);
    }
    assert_int_equal(hkl_names_intern(&m->rel, "r", 1, &id), HK_OK);
    m->E = malloc((size_t)n * m->width * sizeof(float));
    m->R = malloc((size_t)2 * m->width * sizeof(float));
    uint64_t seed = 3;
    for (size_t i = 0; i < (size_t)n * m->width; i++)
        m->E[i] = (float)(tu_rand(&seed) % 20001) / 10000.0f - 1.0f;
    for (size_t i = 0; i < (size_t)2 * m->width; i++)
        m->R[i] = (float)(tu_rand(&seed) % 20001) / 10000.0f - 1.0f;
    assert_int_equal(hkl_quantize(m), HK_OK);
    float *s = malloc(n * sizeof *s);
    hkl_hit exact[10], got[10];
    for (uint32_t h = 0; h < 3; h++) {
        uint32_t q = h * 99991u % n;
        hkl_score_tails(m, q, h % 2, s);
        size_t ne = hkl_top_k(s, n, 10, NULL, 0, exact);
        size_t ng = hkl_predict(m, q, h % 2, 10, NULL, 0, s, got);
        assert_int_equal(ne, ng);
        size_t same = 0;
        for (size_t i = 0; i < ng; i++)
            for (size_t j = 0; j < ne; j++)
                same += got[i].id == exact[j].id;
        assert_true(same >= 9);
        assert_true(got[0].score == exact[0].score || same < 10);
    }
    free(s);
    hkl_model_free(m); /* hk_free is free(): the mallocs above are fine */
}

/* ==== Determinism ==== */

static void test_determinism(void **state)
{
    (void)state;
    hkl_data d;
    hkl_data_init(&d);
    planted(&d);
    hkl_params p;
    hkl_params_default(&p);
    p.dim = 16;
    p.epochs = 20;
    p.threads = 1;
    p.seed = 42;
    hkl_model *a = NULL, *b = NULL, *c = NULL;
    hk_error err;
    assert_int_equal(hkl_train(&d, &p, NULL, NULL, &a, &err), HK_OK);
    assert_int_equal(hkl_train(&d, &p, NULL, NULL, &b, &err), HK_OK);
    p.seed = 43;
    assert_int_equal(hkl_train(&d, &p, NULL, NULL, &c, &err), HK_OK);
    size_t ne = (size_t)hkl_n_ent(a) * a->width;
    assert_memory_equal(a->E, b->E, ne * sizeof(float));
    assert_memory_equal(a->R, b->R, (size_t)hkl_n_rel(a) * 2 * a->width * 4);
    assert_true(a->valid.mrr == b->valid.mrr);
    assert_true(memcmp(a->E, c->E, ne * sizeof(float)) != 0);
    hkl_model_free(a);
    hkl_model_free(b);
    hkl_model_free(c);
    hkl_data_free(&d);
}

/* ==== Model files ==== */

static void test_file_round_trip(void **state)
{
    (void)state;
    hkl_data d;
    hkl_model *m = fixture(&d, planted, 8, 2), *l = NULL;
    hk_error err;
    m->audit_seq = 1234;
    char *dir = tu_tmpdir("learn");
    mkdir(dir, 0755);
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, HKL_MODEL_FILE);
    assert_int_equal(hkl_load(path, &l, &err), HK_ERR_NOT_FOUND);
    assert_int_equal(hkl_save(m, path, &err), HK_OK);
    assert_int_equal(hkl_load(path, &l, &err), HK_OK);
    assert_int_equal(l->audit_seq, 1234);
    assert_int_equal(hkl_n_ent(l), hkl_n_ent(m));
    assert_int_equal(l->known.n, m->known.n);
    assert_true(l->platt_a == m->platt_a && l->valid.mrr == m->valid.mrr);
    assert_true(m->combo.fitted && l->combo.fitted);
    assert_memory_equal(l->combo.w, m->combo.w, sizeof m->combo.w);
    assert_true(l->combo.valid.mrr == m->combo.valid.mrr);
    assert_true(l->combo.fit_l2 == m->combo.fit_l2 && l->combo.fit_l2 > 0);
    assert_memory_equal(l->E, m->E, (size_t)hkl_n_ent(m) * m->width * 4);
    assert_string_equal(l->ent.v[5], m->ent.v[5]);
    assert_int_equal(hkl_names_find(&l->ent, "k3", 2),
                     hkl_names_find(&m->ent, "k3", 2));
    hkl_model_free(l);
    l = NULL;
    /* damage: one flipped byte anywhere, and a truncation */
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    fseek(fp, 200, SEEK_SET);
    int c = fgetc(fp);
    fseek(fp, 200, SEEK_SET);
    fputc(c ^ 0x40, fp);
    fclose(fp);
    assert_int_equal(hkl_load(path, &l, &err), HK_ERR_CORRUPT);
    assert_non_null(strstr(err.message, "damaged"));
    assert_int_equal(truncate(path, 10), 0);
    assert_int_equal(hkl_load(path, &l, &err), HK_ERR_CORRUPT);
    assert_null(l);
    hkl_model_free(m);
    hkl_data_free(&d);
    tu_rmrf(dir);
    free(dir);
}

/* ==== Split files and facts from a KB ==== */

static void test_split_files(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("learnsplit");
    mkdir(dir, 0755);
    char path[600];
    snprintf(path, sizeof path, "%s/train.txt", dir);
    FILE *fp = fopen(path, "w");
    fputs("a\tr\tb\nb\tr\tc\n\nc\ts\ta\n", fp);
    fclose(fp);
    snprintf(path, sizeof path, "%s/test.txt", dir);
    fp = fopen(path, "w");
    fputs("a\tr\tc\r\n", fp);
    fclose(fp);
    hkl_data d;
    hkl_data_init(&d);
    hk_error err;
    assert_int_equal(hkl_data_read_split(dir, &d, &err), HK_OK);
    assert_int_equal(d.n[HKL_TRAIN], 3);
    assert_int_equal(d.n[HKL_VALID], 0);
    assert_int_equal(d.n[HKL_TEST], 1);
    assert_int_equal(d.ent.n, 3);
    assert_int_equal(d.rel.n, 2);
    hkl_data_free(&d);
    snprintf(path, sizeof path, "%s/valid.txt", dir);
    fp = fopen(path, "w");
    fputs("a\tr\tb\nbroken line\n", fp);
    fclose(fp);
    hkl_data_init(&d);
    assert_int_equal(hkl_data_read_split(dir, &d, &err), HK_ERR_INVALID);
    assert_int_equal(err.line, 2);
    assert_non_null(strstr(err.message, "valid.txt line 2"));
    hkl_data_free(&d);
    tu_rmrf(dir);
    free(dir);
}

static void test_kb_edges(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("learnkb");
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, true);
    tu_add(t, tu_st("HasPart", "Computer", "CPU", NULL), NULL);
    tu_add(t, tu_st("IsMetal", "Iron", NULL), NULL);
    tu_add(t, tu_st("Bond", "NH3", "N", "H", NULL), NULL);
    tu_commit(t);
    t = tu_begin(s, false);
    hkl_data d;
    hkl_data_init(&d);
    hk_error err;
    assert_int_equal(hkl_data_from_kb(t, &d, 1, 0, 0, &err), HK_OK);
    hk_txn_abort(t);
    assert_int_equal(d.facts, 3);
    assert_int_equal(d.n[HKL_TRAIN], 4); /* 1 + 1 + 2 role edges */
    assert_true(hkl_names_find(&d.rel, "Bond#1", 6) != UINT32_MAX);
    assert_true(hkl_names_find(&d.rel, "Bond#2", 6) != UINT32_MAX);
    assert_true(hkl_names_find(&d.ent, "", 0) != UINT32_MAX);
    uint32_t nh3 = hkl_names_find(&d.ent, "NH3", 3);
    uint32_t h = hkl_names_find(&d.ent, "H", 1);
    uint32_t b2 = hkl_names_find(&d.rel, "Bond#2", 6);
    assert_int_equal(hkl_data_finish(&d, &err), HK_OK);
    assert_true(hkl_known_has(&d.known, nh3, b2, h));
    hkl_data_free(&d);
    /* the split is a function of the fact id and the seed */
    size_t n[3] = {0, 0, 0};
    for (hk_fact_id id = 1; id <= 10000; id++)
        n[hkl_split_of(id, 9, 0.1, 0.2)]++;
    assert_true(n[HKL_VALID] > 800 && n[HKL_VALID] < 1200);
    assert_true(n[HKL_TEST] > 1700 && n[HKL_TEST] < 2300);
    assert_int_equal(hkl_split_of(77, 9, 0.1, 0.2),
                     hkl_split_of(77, 9, 0.1, 0.2));
    tu_discard(s, dir);
}

static void test_params(void **state)
{
    (void)state;
    hkl_params p;
    hkl_params_default(&p);
    hk_error err;
    assert_int_equal(hkl_params_check(&p, &err), HK_OK);
    p.dim = 0;
    assert_int_equal(hkl_params_check(&p, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "dim");
    hkl_params_default(&p);
    p.threads = 65;
    assert_int_equal(hkl_params_check(&p, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "threads");
    hkl_data d;
    hkl_data_init(&d);
    hkl_params_default(&p);
    hkl_model *m = NULL;
    assert_int_equal(hkl_train(&d, &p, NULL, NULL, &m, &err), HK_ERR_INVALID);
    assert_null(m);
    hkl_data_free(&d);
    /* top-k: order, ties by id, skips */
    float sc[6] = {0.5f, 2.0f, 2.0f, -1.0f, 3.0f, 0.0f};
    hkl_hit hits[4];
    uint32_t skip[1] = {4};
    assert_int_equal(hkl_top_k(sc, 6, 3, skip, 1, hits), 3);
    assert_int_equal(hits[0].id, 1);
    assert_int_equal(hits[1].id, 2);
    assert_int_equal(hits[2].id, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradients),
        cmocka_unit_test(test_planted_complex),
        cmocka_unit_test(test_planted_distmult),
        cmocka_unit_test(test_planted_classes),
        cmocka_unit_test(test_gradients_1n),
        cmocka_unit_test(test_planted_1n),
        cmocka_unit_test(test_determinism_1n),
        cmocka_unit_test(test_rank_oracle),
        cmocka_unit_test(test_backoff_oracle),
        cmocka_unit_test(test_combo_oracle),
        cmocka_unit_test(test_combo_determinism),
        cmocka_unit_test(test_combo_halves),
        cmocka_unit_test(test_predict_int8),
        cmocka_unit_test(test_predict_int8_large),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_predict_combo),
        cmocka_unit_test(test_ranker_auto),
        cmocka_unit_test(test_ranker_auto_large),
        cmocka_unit_test(test_file_round_trip),
        cmocka_unit_test(test_file_version1),
        cmocka_unit_test(test_split_files),
        cmocka_unit_test(test_kb_edges),
        cmocka_unit_test(test_params),
    };
    return tu_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
