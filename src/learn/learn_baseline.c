/*
 * learn_baseline.c — the baselines a learned model must beat (see
 * learn.h, "Baselines"): the most frequent answer of a relation and 1-hop
 * rules, ranked with the same filtered protocol as the model.
 *
 * Both score every entity for a query into a dense row, so the rank is
 * computed exactly as for the model (ties count half). Single-threaded;
 * memory: a frequency row per relation and direction (2 R x N floats).
 *
 * hkl_eval_backoff combines the frequency prior with a model: candidates
 * ordered by their frequency as answers of the query's relation and
 * direction, equal frequencies (above all the many never seen) ordered by
 * the model's score. Where a relation has two or three training edges
 * the model has little to learn from but the prior has its counts; where
 * the prior is silent the model still orders the rest.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "learn/learn.h"
#include "learn/learn_int.h"

static int cmp_ht(const void *a, const void *b)
{
    const hkl_triple *x = a, *y = b;
    if (x->h != y->h) return x->h < y->h ? -1 : 1;
    if (x->t != y->t) return x->t < y->t ? -1 : 1;
    return x->r < y->r ? -1 : x->r > y->r;
}

/* Range of training edges from x to y in v (sorted by h, t). */
static const hkl_triple *pair_range(const hkl_triple *v, size_t n, uint32_t x,
                                    uint32_t y, size_t *count)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid].h < x || (v[mid].h == x && v[mid].t < y))
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t end = lo;
    while (end < n && v[end].h == x && v[end].t == y)
        end++;
    *count = end - lo;
    return v + lo;
}

/* Scores in double: the back-off ranking adds a model score in (0, 1) to
 * counts that float would round away. */
double hkl_filtered_rank(const double *s, uint32_t n_ent, const hkl_known *k,
                         uint32_t n_rel, uint32_t q, uint32_t rd, uint32_t a)
{
    double sa = s[a];
    double greater = 0, equal = -1; /* a itself */
    for (uint32_t e = 0; e < n_ent; e++) {
        greater += s[e] > sa;
        equal += s[e] == sa;
    }
    const hkl_triple *v;
    size_t n;
    bool heads;
    hkl_known_answers(k, n_rel, q, rd, &v, &n, &heads);
    for (size_t i = 0; i < n; i++) {
        uint32_t e = heads ? v[i].h : v[i].t;
        if (e == a) continue;
        if (s[e] > sa)
            greater--;
        else if (s[e] == sa)
            equal--;
    }
    return 1.0 + greater + 0.5 * equal;
}

void hkl_metrics_add(hkl_metrics *m, double rank)
{
    m->mrr += 1.0 / rank;
    m->hits1 += rank <= 1;
    m->hits3 += rank <= 3;
    m->hits10 += rank <= 10;
    m->mean_rank += rank;
    m->n++;
}

void hkl_metrics_finish(hkl_metrics *m)
{
    if (!m->n) return;
    double d = (double)m->n;
    m->mrr /= d;
    m->hits1 /= d;
    m->hits3 /= d;
    m->hits10 /= d;
    m->mean_rank /= d;
}

hk_err hkl_rule_conf(uint32_t R, const hkl_triple *tr, size_t n_tr, float **out)
{
    const uint32_t RD = 2 * R;
    *out = NULL;
    if ((uint64_t)RD * RD > HKL_DENSE_MAX) return HK_ERR_LIMIT;
    float *conf = hk_calloc((size_t)RD * RD + 1, sizeof *conf);
    float *rel_n = hk_calloc((size_t)R + 1, sizeof *rel_n);
    hkl_triple *ht = hk_malloc((n_tr + 1) * sizeof *ht);
    if (!conf || !rel_n || !ht) {
        hk_free(conf);
        hk_free(rel_n);
        hk_free(ht);
        return HK_ERR_NOMEM;
    }
    for (size_t i = 0; i < n_tr; i++)
        rel_n[tr[i].r] += 1;
    /* confidence of r2d2(x, y) => rd(x, y) over training pairs */
    memcpy(ht, tr, n_tr * sizeof *ht);
    qsort(ht, n_tr, sizeof *ht, cmp_ht);
    for (size_t i = 0; i < n_tr; i++) {
        for (int dir = 0; dir < 2; dir++) {
            uint32_t x = dir ? tr[i].t : tr[i].h, y = dir ? tr[i].h : tr[i].t;
            uint32_t rd = tr[i].r + (dir ? R : 0);
            size_t c;
            const hkl_triple *p = pair_range(ht, n_tr, x, y, &c);
            for (size_t j = 0; j < c; j++) /* r2(x, y): direction 0 */
                if (p[j].r != tr[i].r || dir)
                    conf[(size_t)p[j].r * RD + rd] += 1;
            p = pair_range(ht, n_tr, y, x, &c);
            for (size_t j = 0; j < c; j++) /* r2(y, x): direction 1 */
                if (p[j].r != tr[i].r || !dir)
                    conf[(size_t)(p[j].r + R) * RD + rd] += 1;
        }
    }
    for (uint32_t r2 = 0; r2 < RD; r2++)
        for (uint32_t rd = 0; rd < RD; rd++) {
            float base = rel_n[r2 % R];
            conf[(size_t)r2 * RD + rd] =
                base > 0 ? conf[(size_t)r2 * RD + rd] / base : 0;
        }
    hk_free(rel_n);
    hk_free(ht);
    *out = conf;
    return HK_OK;
}

hk_err hkl_baselines(const hkl_data *d, const hkl_triple *v, size_t n,
                     hkl_metrics *freq, hkl_metrics *path)
{
    memset(freq, 0, sizeof *freq);
    memset(path, 0, sizeof *path);
    const uint32_t N = d->ent.n, R = d->rel.n, RD = 2 * R;
    const hkl_triple *tr = d->split[HKL_TRAIN];
    const size_t n_tr = d->n[HKL_TRAIN];
    if (!N || !R) return HK_OK;
    if ((uint64_t)RD * N > HKL_DENSE_MAX) return HK_ERR_LIMIT;
    hk_err rc = HK_ERR_NOMEM;
    float *fr = hk_calloc((size_t)RD * N, sizeof *fr);
    float *conf = NULL;
    double *s1 = hk_malloc((size_t)N * sizeof *s1);
    double *s2 = hk_malloc((size_t)N * sizeof *s2);
    hkl_known trk;
    memset(&trk, 0, sizeof trk);
    if (!fr || !s1 || !s2) goto done;
    if (hkl_known_build(&trk, tr, n_tr)) goto done;
    if ((rc = hkl_rule_conf(R, tr, n_tr, &conf))) goto done;
    /* frequency of each answer per relation and direction */
    float fmax = 1;
    for (size_t i = 0; i < n_tr; i++) {
        float *a = &fr[(size_t)tr[i].r * N + tr[i].t];
        float *b = &fr[(size_t)(tr[i].r + R) * N + tr[i].h];
        *a += 1;
        *b += 1;
        if (*a > fmax) fmax = *a;
        if (*b > fmax) fmax = *b;
    }
    for (size_t i = 0; i < n; i++) {
        hkl_triple x = v[i];
        if (x.h >= N || x.t >= N || x.r >= R) continue;
        for (int dir = 0; dir < 2; dir++) {
            uint32_t q = dir ? x.t : x.h, a = dir ? x.h : x.t;
            uint32_t rd = x.r + (dir ? R : 0);
            const float *f = fr + (size_t)rd * N;
            for (uint32_t e = 0; e < N; e++) {
                s1[e] = f[e];
                s2[e] = f[e] / (fmax + 1) * 1e-3;
            }
            hkl_metrics_add(freq,
                            hkl_filtered_rank(s1, N, &d->known, R, q, rd, a));
            const hkl_triple *nb;
            size_t c;
            bool heads;
            /* edges q -> e (r2 < R) and e -> q (r2 >= R, reciprocal) */
            for (uint32_t r2 = 0; r2 < RD; r2++) {
                float w = conf[(size_t)r2 * RD + rd];
                if (w == 0) continue;
                hkl_known_answers(&trk, R, q, r2, &nb, &c, &heads);
                for (size_t j = 0; j < c; j++)
                    s2[heads ? nb[j].h : nb[j].t] += w;
            }
            hkl_metrics_add(path,
                            hkl_filtered_rank(s2, N, &d->known, R, q, rd, a));
        }
    }
    hkl_metrics_finish(freq);
    hkl_metrics_finish(path);
    rc = HK_OK;
done:
    hk_free(fr);
    hk_free(conf);
    hk_free(s1);
    hk_free(s2);
    hkl_known_free(&trk);
    return rc;
}

/* Whether m's ids are the first ids of d (same names in the same order). */
static bool same_ids(const hkl_names *a, const hkl_names *b)
{
    if (a->n > b->n) return false;
    for (uint32_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i], b->v[i])) return false;
    return true;
}

hk_err hkl_eval_backoff(const hkl_model *m, const hkl_data *d,
                        const hkl_triple *v, size_t n, hkl_metrics *out)
{
    memset(out, 0, sizeof *out);
    const uint32_t N = d->ent.n, R = d->rel.n, NM = hkl_n_ent(m);
    const hkl_triple *tr = d->split[HKL_TRAIN];
    if (!same_ids(&m->ent, &d->ent) || !same_ids(&m->rel, &d->rel))
        return HK_ERR_INVALID;
    if (!N || !R) return HK_OK;
    if ((uint64_t)2 * R * N > HKL_DENSE_MAX) return HK_ERR_LIMIT;
    hk_err rc = HK_ERR_NOMEM;
    uint32_t *fr = hk_calloc((size_t)2 * R * N, sizeof *fr);
    float *ms = hk_malloc((size_t)(NM ? NM : 1) * sizeof *ms);
    double *s = hk_malloc((size_t)N * sizeof *s);
    if (!fr || !ms || !s) goto done;
    for (size_t i = 0; i < d->n[HKL_TRAIN]; i++) {
        fr[(size_t)tr[i].r * N + tr[i].t]++;
        fr[(size_t)(tr[i].r + R) * N + tr[i].h]++;
    }
    for (size_t i = 0; i < n; i++) {
        hkl_triple x = v[i];
        /* as hkl_eval: only what the model knows is ranked */
        if (x.h >= NM || x.t >= NM || x.r >= hkl_n_rel(m)) continue;
        for (int dir = 0; dir < 2; dir++) {
            uint32_t q = dir ? x.t : x.h, a = dir ? x.h : x.t;
            uint32_t rd = x.r + (dir ? R : 0);
            uint32_t rm = x.r + (dir ? hkl_n_rel(m) : 0);
            hkl_score_tails(m, q, rm, ms);
            const uint32_t *f = fr + (size_t)rd * N;
            /* count + a monotone map of the score into (0, 1): the order
             * is by count, then by score; entities the model never saw
             * come last among equal counts */
            for (uint32_t e = 0; e < N; e++)
                s[e] = (double)f[e] +
                       (e < NM ? 0.5 + atan((double)ms[e]) / 3.2 : 0);
            hkl_metrics_add(out,
                            hkl_filtered_rank(s, N, &d->known, R, q, rd, a));
        }
    }
    hkl_metrics_finish(out);
    rc = HK_OK;
done:
    hk_free(fr);
    hk_free(ms);
    hk_free(s);
    return rc;
}
