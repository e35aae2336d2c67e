/*
 * learn_model.c — the scoring functions and everything that reads a
 * trained model: raw scores and their gradients, scores of every entity
 * for a query, filtered ranks and metrics, Platt calibration, top-k
 * selection and cosine neighbours.
 *
 * Vectorisation: every per-entity loop is a dot product of the query
 * vector q with an entity row, written with 32 independent partial
 * sums so that gcc vectorises it without -ffast-math (a float reduction
 * cannot be reordered otherwise); on x86-64 with gcc the kernels are
 * compiled twice (baseline and AVX2+FMA, target_clones) and the loader
 * picks one at run time.
 *
 * Threads: everything here only reads the model; hkl_eval spawns its own
 * workers, each with its own scratch row.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "learn/learn.h"
#include "learn/learn_int.h"
#include "vector/vector_int.h"

/* ==== Kernels ==== */

HKL_CLONES float hkl_dot(const float *a, const float *b, uint32_t n)
{
    /* 32 partial sums: four independent vector chains with AVX2 */
    float acc[32] = {0};
    uint32_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int j = 0; j < 32; j++)
            acc[j] += a[i + j] * b[i + j];
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++)
            acc[j] += a[i + j] * b[i + j];
    for (int j = 8; j < 32; j++)
        acc[j & 7] += acc[j];
    float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) +
              ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (; i < n; i++)
        s += a[i] * b[i];
    return s;
}

HKL_CLONES void hkl_dots(const float *q, const float *rows, uint32_t width,
                         uint32_t n, float *out)
{
    for (uint32_t e = 0; e < n; e++)
        out[e] = hkl_dot(q, rows + (size_t)e * width, width);
}

HKL_CLONES void hkl_adagrad(float *x, float *G, const float *g, uint32_t w,
                            float lr)
{
    for (uint32_t i = 0; i < w; i++) {
        G[i] += g[i] * g[i];
        x[i] -= lr * g[i] / (sqrtf(G[i]) + 1e-10f);
    }
}

void hkl_n3_grad(hkl_kind kind, uint32_t w, const float *x, float lambda,
                 float *g)
{
    if (lambda == 0) return;
    if (kind == HKL_DISTMULT) {
        for (uint32_t i = 0; i < w; i++)
            g[i] += 3 * lambda * fabsf(x[i]) * x[i];
        return;
    }
    uint32_t d = w / 2;
    for (uint32_t i = 0; i < d; i++) {
        float mod = sqrtf(x[i] * x[i] + x[d + i] * x[d + i]);
        g[i] += 3 * lambda * mod * x[i];
        g[d + i] += 3 * lambda * mod * x[d + i];
    }
}

void hkl_query_vec(hkl_kind kind, uint32_t width, const float *h,
                   const float *r, float *q)
{
    if (kind == HKL_DISTMULT) {
        for (uint32_t i = 0; i < width; i++)
            q[i] = h[i] * r[i];
        return;
    }
    uint32_t d = width / 2;
    const float *hr = h, *hi = h + d, *rr = r, *ri = r + d;
    for (uint32_t i = 0; i < d; i++) {
        q[i] = hr[i] * rr[i] - hi[i] * ri[i];
        q[d + i] = hr[i] * ri[i] + hi[i] * rr[i];
    }
}

void hkl_query_back(hkl_kind kind, uint32_t width, const float *h,
                    const float *r, const float *gq, float *gh, float *gr)
{
    if (kind == HKL_DISTMULT) {
        for (uint32_t i = 0; i < width; i++) {
            gh[i] = gq[i] * r[i];
            gr[i] = gq[i] * h[i];
        }
        return;
    }
    uint32_t d = width / 2;
    const float *hr = h, *hi = h + d, *rr = r, *ri = r + d;
    const float *gqr = gq, *gqi = gq + d;
    for (uint32_t i = 0; i < d; i++) {
        gh[i] = gqr[i] * rr[i] + gqi[i] * ri[i];
        gh[d + i] = -gqr[i] * ri[i] + gqi[i] * rr[i];
        gr[i] = gqr[i] * hr[i] + gqi[i] * hi[i];
        gr[d + i] = -gqr[i] * hi[i] + gqi[i] * hr[i];
    }
}

float hkl_score_vec(hkl_kind kind, uint32_t width, const float *h,
                    const float *r, const float *t)
{
    float q[HKL_WIDTH_MAX];
    hkl_query_vec(kind, width, h, r, q);
    return hkl_dot(q, t, width);
}

void hkl_score_grad(hkl_kind kind, uint32_t width, const float *h,
                    const float *r, const float *t, float *gh, float *gr,
                    float *gt)
{
    float q[HKL_WIDTH_MAX];
    hkl_query_vec(kind, width, h, r, q);
    memcpy(gt, q, width * sizeof *gt);            /* ds/dt = q */
    hkl_query_back(kind, width, h, r, t, gh, gr); /* ds/dq = t */
}

/* ==== Parameters ==== */

const char *hkl_kind_name(hkl_kind k)
{
    return k == HKL_DISTMULT ? "distmult" : k == HKL_COMPLEX ? "complex" : "?";
}

bool hkl_kind_parse(const char *s, hkl_kind *out)
{
    if (!strcmp(s, "distmult"))
        *out = HKL_DISTMULT;
    else if (!strcmp(s, "complex"))
        *out = HKL_COMPLEX;
    else
        return false;
    return true;
}

void hkl_params_default(hkl_params *p)
{
    memset(p, 0, sizeof *p);
    p->kind = HKL_COMPLEX;
    p->dim = 64;
    p->epochs = 100;
    p->threads = 2;
    p->seed = 1;
    p->lr = 0.1f;
    p->reg = 0.001f;
    p->init_scale = 0.1f;
    p->negatives = 64;
    p->eval_every = 5;
    p->patience = 3;
    p->valid_max = 1000;
}

hk_err hkl_params_check(const hkl_params *p, hk_error *err)
{
    const char *bad = NULL;
    if (p->kind != HKL_DISTMULT && p->kind != HKL_COMPLEX)
        bad = "model";
    else if (p->dim < 1 || p->dim > HKL_WIDTH_MAX / 2)
        bad = "dim";
    else if (p->epochs < 1 || p->epochs > 100000)
        bad = "epochs";
    else if (p->threads < 1 || p->threads > 64)
        bad = "threads";
    else if (p->negatives > 65536)
        bad = "negatives";
    else if (!(p->lr > 0 && p->lr <= 10))
        bad = "lr";
    else if (!(p->reg >= 0 && p->reg <= 10))
        bad = "reg";
    else if (!(p->init_scale > 0 && p->init_scale <= 10))
        bad = "init";
    else if (p->eval_every < 1)
        bad = "eval_every";
    if (!bad) return HK_OK;
    hk_error_set(err, HK_ERR_INVALID, "%s is out of range", bad);
    snprintf(err->field, sizeof err->field, "%s", bad);
    return HK_ERR_INVALID;
}

uint32_t hkl_n_ent(const hkl_model *m)
{
    return m->ent.n;
}
uint32_t hkl_n_rel(const hkl_model *m)
{
    return m->rel.n;
}

void hkl_model_free(hkl_model *m)
{
    if (!m) return;
    hkl_names_free(&m->ent);
    hkl_names_free(&m->rel);
    hk_free(m->E);
    hk_free(m->R);
    hkl_known_free(&m->known);
    hk_free(m->Q);
    hk_free(m->q_scale);
    hkl_combo_release(m);
    hk_free(m);
}

/* ==== Scores ==== */

static const float *ent_row(const hkl_model *m, uint32_t e)
{
    return m->E + (size_t)e * m->width;
}

static const float *rel_row(const hkl_model *m, uint32_t r)
{
    return m->R + (size_t)r * m->width;
}

float hkl_score(const hkl_model *m, uint32_t h, uint32_t r, uint32_t t)
{
    return hkl_score_vec(m->p.kind, m->width, ent_row(m, h), rel_row(m, r),
                         ent_row(m, t));
}

double hkl_plausibility(const hkl_model *m, double raw)
{
    double z = m->platt_a * raw + m->platt_b;
    return 1.0 / (1.0 + exp(-z));
}

void hkl_score_tails(const hkl_model *m, uint32_t h, uint32_t r, float *out)
{
    float q[HKL_WIDTH_MAX];
    hkl_query_vec(m->p.kind, m->width, ent_row(m, h), rel_row(m, r), q);
    hkl_dots(q, m->E, m->width, m->ent.n, out);
}

/* ==== Filtered ranks ==== */

void hkl_known_answers(const hkl_known *k, uint32_t n_rel, uint32_t e,
                       uint32_t r, const hkl_triple **first, size_t *count,
                       bool *heads)
{
    *first = NULL;
    *count = 0;
    *heads = r >= n_rel;
    if (!k->n) return;
    const hkl_triple *v = *heads ? k->trh : k->hrt;
    uint32_t rf = *heads ? r - n_rel : r;
    size_t lo = 0, hi = k->n; /* first triple >= (e, rf) */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint32_t a = *heads ? v[mid].t : v[mid].h;
        if (a < e || (a == e && v[mid].r < rf))
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t end = lo;
    while (end < k->n && (*heads ? v[end].t : v[end].h) == e && v[end].r == rf)
        end++;
    *first = v + lo;
    *count = end - lo;
}

size_t hkl_known_count(const hkl_known *k, uint32_t n_rel, uint32_t e,
                       uint32_t r)
{
    const hkl_triple *v;
    size_t n;
    bool heads;
    hkl_known_answers(k, n_rel, e, r, &v, &n, &heads);
    return n;
}

double hkl_rank_tail(const hkl_model *m, const hkl_known *k, uint32_t h,
                     uint32_t r, uint32_t t, float *scratch)
{
    float *s = scratch ? scratch : hk_malloc((size_t)m->ent.n * sizeof *s);
    if (!s) return 0;
    hkl_score_tails(m, h, r, s);
    float st = s[t];
    uint64_t greater = 0, equal = 0;
    for (uint32_t e = 0; e < m->ent.n; e++) {
        greater += s[e] > st;
        equal += s[e] == st;
    }
    equal--; /* t itself */
    const hkl_triple *a;
    size_t n;
    bool heads;
    hkl_known_answers(k, m->rel.n, h, r, &a, &n, &heads);
    for (size_t i = 0; i < n; i++) {
        uint32_t e = heads ? a[i].h : a[i].t;
        if (e == t || e >= m->ent.n) continue;
        if (s[e] > st)
            greater--;
        else if (s[e] == st)
            equal--;
    }
    if (!scratch) hk_free(s);
    return 1.0 + (double)greater + 0.5 * (double)equal;
}

typedef struct eval_job {
    const hkl_model *m;
    const hkl_known *k;
    const hkl_triple *v;
    size_t lo, hi;   /* triples [lo, hi) */
    hkl_metrics sum; /* sums (divided at the end) */
    hk_err rc;
} eval_job;

static void metrics_add(hkl_metrics *s, double rank)
{
    s->mrr += 1.0 / rank;
    s->hits1 += rank <= 1.0;
    s->hits3 += rank <= 3.0;
    s->hits10 += rank <= 10.0;
    s->mean_rank += rank;
    s->n++;
}

static void *eval_worker(void *arg)
{
    eval_job *j = arg;
    const hkl_model *m = j->m;
    float *s = hk_malloc((size_t)m->ent.n * sizeof *s);
    if (!s) {
        j->rc = HK_ERR_NOMEM;
        return NULL;
    }
    for (size_t i = j->lo; i < j->hi; i++) {
        hkl_triple x = j->v[i];
        if (x.h >= m->ent.n || x.t >= m->ent.n || x.r >= m->rel.n) continue;
        metrics_add(&j->sum, hkl_rank_tail(m, j->k, x.h, x.r, x.t, s));
        metrics_add(&j->sum,
                    hkl_rank_tail(m, j->k, x.t, x.r + m->rel.n, x.h, s));
    }
    hk_free(s);
    return NULL;
}

hk_err hkl_eval(const hkl_model *m, const hkl_known *k, const hkl_triple *v,
                size_t n, uint32_t threads, hkl_metrics *out)
{
    memset(out, 0, sizeof *out);
    if (threads < 1) threads = 1;
    if (threads > 64) threads = 64;
    if (threads > n) threads = n ? (uint32_t)n : 1;
    eval_job jobs[64];
    pthread_t tid[64];
    uint32_t started = 0;
    hk_err rc = HK_OK;
    for (uint32_t i = 0; i < threads; i++) {
        jobs[i] = (eval_job){m,
                             k,
                             v,
                             n * i / threads,
                             n * (i + 1) / threads,
                             {0, 0, 0, 0, 0, 0},
                             HK_OK};
        if (i == 0) continue; /* the caller's thread runs job 0 */
        if (pthread_create(&tid[i], NULL, eval_worker, &jobs[i])) {
            eval_worker(&jobs[i]);
            tid[i] = 0;
        }
        started = i;
    }
    eval_worker(&jobs[0]);
    for (uint32_t i = 1; i <= started; i++)
        if (tid[i]) pthread_join(tid[i], NULL);
    for (uint32_t i = 0; i < threads; i++) {
        if (jobs[i].rc) rc = jobs[i].rc;
        out->mrr += jobs[i].sum.mrr;
        out->hits1 += jobs[i].sum.hits1;
        out->hits3 += jobs[i].sum.hits3;
        out->hits10 += jobs[i].sum.hits10;
        out->mean_rank += jobs[i].sum.mean_rank;
        out->n += jobs[i].sum.n;
    }
    if (out->n) {
        double d = (double)out->n;
        out->mrr /= d;
        out->hits1 /= d;
        out->hits3 /= d;
        out->hits10 /= d;
        out->mean_rank /= d;
    }
    return rc;
}

/* ==== Calibration (Platt scaling) ====
 * Positives: the given true triples; negatives: each with its tail
 * replaced by a random entity that does not make a known triple. The fit
 * minimises the cross-entropy of sigmoid(a s + b) against Platt's
 * smoothed targets (N+ + 1) / (N+ + 2) and 1 / (N- + 2) with Newton's
 * method on (a, b) (a small ridge keeps the Hessian invertible). */

/* Cross-entropy of sigmoid(a s + b) against the smoothed targets. */
static double platt_loss(const double *s, size_t np, size_t nn, double tp,
                         double tn, double a, double b)
{
    double f = 0;
    for (size_t i = 0; i < np + nn; i++) {
        double y = i < np ? tp : tn;
        double z = a * s[i] + b;
        /* log(1 + exp(-z)) and log(1 + exp(z)) without overflow */
        double lp = z >= 0 ? log1p(exp(-z)) : -z + log1p(exp(z));
        double ln = z >= 0 ? z + log1p(exp(-z)) : log1p(exp(z));
        f += y * lp + (1 - y) * ln;
    }
    return f;
}

hk_err hkl_calibrate(hkl_model *m, const hkl_triple *v, size_t n, uint64_t seed)
{
    m->platt_a = 1.0;
    m->platt_b = 0.0;
    if (!n || m->ent.n < 2) return HK_OK;
    double *s = hk_malloc(2 * n * sizeof *s);
    if (!s) return HK_ERR_NOMEM;
    uint64_t rng = seed ^ 0x5bd1e995u;
    size_t np = 0, nn = 0;
    for (size_t i = 0; i < n; i++) {
        hkl_triple x = v[i];
        if (x.h >= m->ent.n || x.t >= m->ent.n || x.r >= m->rel.n) continue;
        s[np++] = hkl_score(m, x.h, x.r, x.t);
    }
    for (size_t i = 0; i < n; i++) {
        hkl_triple x = v[i];
        if (x.h >= m->ent.n || x.t >= m->ent.n || x.r >= m->rel.n) continue;
        for (int tries = 0; tries < 10; tries++) { /* bounded */
            uint32_t c = (uint32_t)(hkl_rand(&rng) % m->ent.n);
            if (c == x.t || hkl_known_has(&m->known, x.h, x.r, c)) continue;
            s[np + nn++] = hkl_score(m, x.h, x.r, c);
            break;
        }
    }
    double tp = ((double)np + 1) / ((double)np + 2);
    double tn = 1.0 / ((double)nn + 2);
    double a = 0.0, b = 0.0;
    double f = platt_loss(s, np, nn, tp, tn, a, b);
    for (int it = 0; it < 100; it++) { /* Newton with backtracking */
        double g_a = 0, g_b = 0, h_aa = 1e-12, h_ab = 0, h_bb = 1e-12;
        for (size_t i = 0; i < np + nn; i++) {
            double y = i < np ? tp : tn;
            double p = 1.0 / (1.0 + exp(-(a * s[i] + b)));
            double w = p * (1 - p);
            g_a += (p - y) * s[i];
            g_b += p - y;
            h_aa += w * s[i] * s[i];
            h_ab += w * s[i];
            h_bb += w;
        }
        double det = h_aa * h_bb - h_ab * h_ab;
        if (!(fabs(det) > 1e-300)) break;
        double da = (h_bb * g_a - h_ab * g_b) / det;
        double db = (h_aa * g_b - h_ab * g_a) / det;
        double step = 1.0, fn = f;
        for (int ls = 0; ls < 30; ls++, step /= 2) {
            fn = platt_loss(s, np, nn, tp, tn, a - step * da, b - step * db);
            if (fn < f + 1e-4 * step * -(g_a * da + g_b * db) * -1 || fn < f)
                break;
        }
        if (!(fn < f)) break;
        a -= step * da;
        b -= step * db;
        if (f - fn < 1e-10 * (1 + f)) {
            f = fn;
            break;
        }
        f = fn;
    }
    if (isfinite(a) && isfinite(b) && a > 0) {
        m->platt_a = a;
        m->platt_b = b;
    }
    hk_free(s);
    return HK_OK;
}

/* ==== Top k and neighbours ==== */

hk_err hkl_quantize(hkl_model *m)
{
    uint32_t n = m->ent.n, w = m->width;
    int8_t *Q = hk_malloc((size_t)(n ? n : 1) * w);
    float *sc = hk_malloc((size_t)(n ? n : 1) * sizeof *sc);
    if (!Q || !sc) {
        hk_free(Q);
        hk_free(sc);
        return HK_ERR_NOMEM;
    }
    for (uint32_t e = 0; e < n; e++) {
        const float *x = m->E + (size_t)e * w;
        float mx = 0;
        for (uint32_t i = 0; i < w; i++)
            mx = fabsf(x[i]) > mx ? fabsf(x[i]) : mx;
        float scale = mx > 0 ? mx / 127.0f : 1.0f;
        sc[e] = scale;
        for (uint32_t i = 0; i < w; i++)
            Q[(size_t)e * w + i] = (int8_t)lrintf(x[i] / scale);
    }
    hk_free(m->Q);
    hk_free(m->q_scale);
    m->Q = Q;
    m->q_scale = sc;
    return HK_OK;
}

/* Min-heap on (score, -id): the root is the worst hit kept. */
static bool hit_worse(const hkl_hit *x, const hkl_hit *y)
{
    return x->score < y->score || (x->score == y->score && x->id > y->id);
}

static void heap_down(hkl_hit *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && hit_worse(&h[l], &h[w])) w = l;
        if (r < n && hit_worse(&h[r], &h[w])) w = r;
        if (w == i) return;
        hkl_hit tmp = h[i];
        h[i] = h[w];
        h[w] = tmp;
        i = w;
    }
}

static int cmp_hit_desc(const void *a, const void *b)
{
    const hkl_hit *x = a, *y = b;
    if (hit_worse(x, y)) return 1;
    if (hit_worse(y, x)) return -1;
    return 0;
}

size_t hkl_top_k(const float *scores, uint32_t n, size_t k,
                 const uint32_t *skip, size_t n_skip, hkl_hit *out)
{
    size_t have = 0;
    if (!k) return 0;
    for (uint32_t e = 0; e < n; e++) {
        float sc = scores[e];
        if (have == k && !(sc > out[0].score)) continue;
        bool skipped = false;
        for (size_t i = 0; i < n_skip; i++)
            skipped |= skip[i] == e;
        if (skipped || sc != sc) continue;
        hkl_hit hit = {e, sc};
        if (have < k) {
            out[have++] = hit;
            if (have == k)
                for (size_t i = k / 2 + 1; i-- > 0;)
                    heap_down(out, k, i);
        } else {
            out[0] = hit;
            heap_down(out, k, 0);
        }
    }
    qsort(out, have, sizeof *out, cmp_hit_desc);
    return have;
}

/* Entities from which predict scans with a second thread. */
#define SCAN_SPLIT_MIN (1u << 18)

/* A bounded min-heap of the best hits seen so far (the root is the worst
 * kept): the int8 scan keeps its candidates here instead of writing a
 * score per entity and selecting afterwards. */
typedef struct hit_heap {
    hkl_hit *h;
    size_t have, cap;
    const uint32_t *skip;
    size_t n_skip;
} hit_heap;

static void heap_offer(hit_heap *hp, uint32_t id, float sc)
{
    if (hp->have == hp->cap && !(sc > hp->h[0].score)) return;
    if (sc != sc) return;
    for (size_t i = 0; i < hp->n_skip; i++)
        if (hp->skip[i] == id) return;
    hkl_hit hit = {id, sc};
    if (hp->have < hp->cap) {
        hp->h[hp->have++] = hit;
        if (hp->have == hp->cap)
            for (size_t i = hp->cap / 2 + 1; i-- > 0;)
                heap_down(hp->h, hp->cap, i);
    } else {
        hp->h[0] = hit;
        heap_down(hp->h, hp->cap, 0);
    }
}

typedef struct scan_job {
    const hkl_model *m;
    const int8_t *q; /* query vector, quantized */
    float q_scale;   /* q = q_scale * (query as int16) */
    uint32_t lo, hi; /* entities [lo, hi) */
    hit_heap heap;   /* the job's best approximate hits */
} scan_job;

static void *scan_i8(void *arg)
{
    scan_job *j = arg;
    uint32_t w = j->m->width;
    /* the vector index's int8 kernel (AVX2 when the CPU has it) */
    int32_t (*dot)(const int8_t *, const int8_t *, size_t) =
        hkv_kernels_get()->dot_i8;
    const int8_t *row = j->m->Q + (size_t)j->lo * w;
    for (uint32_t e = j->lo; e < j->hi; e++, row += w)
        heap_offer(&j->heap, e,
                   j->q_scale * j->m->q_scale[e] * (float)dot(j->q, row, w));
    return NULL;
}

size_t hkl_predict(const hkl_model *m, uint32_t h, uint32_t r, size_t k,
                   const uint32_t *skip, size_t n_skip, float *scratch,
                   hkl_hit *out)
{
    uint32_t n = m->ent.n, w = m->width;
    if (k > HKL_PREDICT_MAX) k = HKL_PREDICT_MAX;
    if (!m->Q || n <= k + HKL_RERANK) {
        hkl_score_tails(m, h, r, scratch);
        return hkl_top_k(scratch, n, k, skip, n_skip, out);
    }
    float q[HKL_WIDTH_MAX];
    int8_t qi[HKL_WIDTH_MAX];
    hkl_hit cand[2 * (HKL_PREDICT_MAX + HKL_RERANK)];
    hkl_query_vec(m->p.kind, w, ent_row(m, h), rel_row(m, r), q);
    /* query and rows in 8 bits: the exact re-rank of the best
     * k + HKL_RERANK approximate hits corrects the order */
    float mx = 0;
    for (uint32_t i = 0; i < w; i++)
        mx = fabsf(q[i]) > mx ? fabsf(q[i]) : mx;
    float qs = mx > 0 ? mx / 127.0f : 1.0f;
    for (uint32_t i = 0; i < w; i++)
        qi[i] = (int8_t)lrintf(q[i] / qs);
    size_t cap = k + HKL_RERANK;
    scan_job half = {m, qi, qs, n / 2, n, {cand + cap, 0, cap, skip, n_skip}};
    pthread_t tid;
    bool two =
        n >= SCAN_SPLIT_MIN && pthread_create(&tid, NULL, scan_i8, &half) == 0;
    scan_job first = {
        m, qi, qs, 0, two ? n / 2 : n, {cand, 0, cap, skip, n_skip}};
    scan_i8(&first);
    size_t got = first.heap.have;
    if (two) {
        pthread_join(tid, NULL);
        memmove(cand + got, half.heap.h, half.heap.have * sizeof *cand);
        got += half.heap.have;
    }
    for (size_t i = 0; i < got; i++)
        cand[i].score = hkl_dot(q, ent_row(m, cand[i].id), w);
    qsort(cand, got, sizeof *cand, cmp_hit_desc);
    if (got > k) got = k;
    memcpy(out, cand, got * sizeof *out);
    return got;
}

size_t hkl_similar(const hkl_model *m, uint32_t e, size_t k, hkl_hit *out,
                   hk_err *rc)
{
    *rc = HK_OK;
    uint32_t n = m->ent.n, w = m->width;
    float *s = hk_malloc((size_t)(n ? n : 1) * sizeof *s);
    if (!s) {
        *rc = HK_ERR_NOMEM;
        return 0;
    }
    const float *x = ent_row(m, e);
    float nx = sqrtf(hkl_dot(x, x, w));
    for (uint32_t i = 0; i < n; i++) {
        const float *y = ent_row(m, i);
        float ny = sqrtf(hkl_dot(y, y, w));
        float d = nx * ny;
        s[i] = d > 0 ? hkl_dot(x, y, w) / d : 0;
    }
    uint32_t skip[2] = {e, hkl_names_find(&m->ent, "", 0)};
    size_t got = hkl_top_k(s, n, k, skip, 2, out);
    hk_free(s);
    return got;
}
