/*
 * learn_combo.c — the combined ranker (see learn.h, "Combined ranker"): a
 * log-linear score over a candidate's model score and cheap statistics of
 * the training edges, with weights fitted on the validation split.
 *
 * ==== Features ====
 * For a query (q, rd, ?) (rd < 2 R: a relation and a direction) and a
 * candidate answer e, all counted on the training edges:
 *   0 model     the model's raw score of (q, rd, e);
 *   1 freq      log(1 + times e answers rd);
 *   2 seen      1 when e answers rd at least once;
 *   3 path      log(1 + the 1-hop rule evidence of learn_baseline.c);
 *   4 adjacent  1 when an edge (any relation, either way) links q and e;
 *   5 type      sum over the other relation-directions rd2 that e
 *               answers of |A(rd) n A(rd2)| / |A(rd)|, A the answer sets:
 *               e is "of the kind" rd asks for when the relations it
 *               answers share answers with rd (the domain and range a
 *               schema would state, learned from the data);
 *   6 degree    log(1 + training edges that mention e);
 *   7 role      log(1 + training edges whose tail (rd forward) or head
 *               (rd reciprocal) is e, any relation: the side of a fact
 *               e stands on, known even for a relation never seen;
 *   8 two-hop   log(1 + walks q - x - e over two training edges, any
 *               relations, either way; at most HOP2_MAX steps a query,
 *               in a fixed order, so that a hub cannot stall it).
 * An entity no training edge mentions has features 1-8 at zero: only the
 * model can order those, and it has not learned them either.
 *
 * ==== Fit ====
 * The weights maximise the conditional likelihood of the true answer of
 * each validation query among its candidates (a softmax over w . x, the
 * listwise objective of learning to rank; other known answers removed, as
 * the filtered protocol does), with an L2 penalty, by Newton's method: the
 * objective is convex, has a handful of weights, and converges in a few
 * steps without a learning rate. The penalty (0.1, 1, 10 or 100) is the
 * one with the best held-out likelihood in a FIT_FOLDS-fold
 * cross-validation over the validation queries, so that a validation
 * split of a hundred edges does not buy weights that only fit itself. Features
 * are scaled by their standard deviation over the candidates first, so the
 * penalty treats them alike. Candidates are every entity up to FIT_ALL
 * entities; above, the answer, the FIT_TOP best by the model, the FIT_TOP best
 * by the sum of the other features and FIT_RAND drawn with the seed (the
 * softmax then runs over a sample that keeps the hard negatives). At most
 * FIT_QUERIES validation queries, evenly spaced.
 *
 * Single-threaded; memory: two dense rows per relation and direction
 * (2 x 2 R x N floats), at most COMBO_CELLS cells each: training runs
 * the fit, so its memory is held to 2 x 64 MiB (the baselines, run by
 * eval only, allow four times that).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "learn/learn.h"
#include "learn/learn_int.h"

#define NF HKL_COMBO_NF
#define FIT_ALL 4096u
#define FIT_TOP 64u
#define FIT_RAND 64u
#define FIT_QUERIES 2000u
#define FIT_ITERS 50
#define FIT_L2 1.0
#define FIT_FOLDS 5
#define HOP2_MAX (1u << 16)
#define COMBO_CELLS (1u << 24)

/* ==== Features ==== */

typedef struct feat {
    uint32_t N;       /* entities of d */
    uint32_t R;       /* relations of d */
    uint32_t NM;      /* entities of the model (a prefix of d's) */
    uint32_t RM;      /* relations of the model */
    float *fr;        /* 2R x N: times e answers rd in training */
    float *type;      /* 2R x N: feature 5 */
    float *conf;      /* 2R x 2R: confidence of rule r2d => rd */
    float *deg;       /* N: log(1 + training edges of e) */
    float *role;      /* 2 x N: log(1 + edges with e as tail, as head) */
    uint32_t *nb_off; /* N + 1: e's neighbours are nb[nb_off[e]..[e+1]) */
    uint32_t *nb;     /* the other end of every training edge, per end */
    float *hop2;      /* per query: walks q - x - e (N) */
    hkl_known trk;    /* the training edges */
    float *ms;        /* per query: model scores (NM) */
    float *path;      /* per query: 1-hop evidence (N) */
    uint8_t *adj;     /* per query: 1 when e is linked to q (N) */
} feat;

static void feat_free(feat *f)
{
    hk_free(f->fr);
    hk_free(f->type);
    hk_free(f->conf);
    hk_free(f->deg);
    hk_free(f->role);
    hk_free(f->nb_off);
    hk_free(f->nb);
    hk_free(f->hop2);
    hk_free(f->ms);
    hk_free(f->path);
    hk_free(f->adj);
    hkl_known_free(&f->trk);
}

/* Whether m's ids are the first ids of d (same names in the same order). */
static bool same_ids(const hkl_names *a, const hkl_names *b)
{
    if (a->n > b->n) return false;
    for (uint32_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i], b->v[i])) return false;
    return true;
}

/* The tables of f for N entities and R relations, counted on the
 * training edges tr[0..n_tr). */
static hk_err feat_build_tr(feat *f, const hkl_model *m, uint32_t N, uint32_t R,
                            const hkl_triple *tr, size_t n_tr)
{
    memset(f, 0, sizeof *f);
    const uint32_t RD = 2 * R;
    if ((uint64_t)RD * N > COMBO_CELLS || (uint64_t)RD * RD > COMBO_CELLS)
        return HK_ERR_LIMIT;
    f->N = N;
    f->R = R;
    f->NM = hkl_n_ent(m);
    f->RM = hkl_n_rel(m);
    f->fr = hk_calloc((size_t)RD * N + 1, sizeof *f->fr);
    f->type = hk_calloc((size_t)RD * N + 1, sizeof *f->type);
    f->deg = hk_calloc((size_t)N + 1, sizeof *f->deg);
    f->role = hk_calloc((size_t)2 * N + 1, sizeof *f->role);
    f->nb_off = hk_calloc((size_t)N + 2, sizeof *f->nb_off);
    f->nb = hk_malloc((2 * n_tr + 1) * sizeof *f->nb);
    f->hop2 = hk_calloc((size_t)N + 1, sizeof *f->hop2);
    f->ms = hk_calloc((size_t)f->NM + 1, sizeof *f->ms);
    f->path = hk_calloc((size_t)N + 1, sizeof *f->path);
    f->adj = hk_calloc((size_t)N + 1, 1);
    uint32_t *inter = hk_calloc((size_t)RD * RD + 1, sizeof *inter);
    uint32_t *n_ans = hk_calloc((size_t)RD + 1, sizeof *n_ans);
    uint32_t *list = hk_malloc(((size_t)RD + 1) * sizeof *list);
    hk_err rc = HK_ERR_NOMEM;
    if (!f->fr || !f->type || !f->deg || !f->ms || !f->path || !f->adj ||
        !f->role || !f->nb_off || !f->nb || !f->hop2 ||
        n_tr >= UINT32_MAX / 2 || !inter || !n_ans || !list)
        goto done;
    if (hkl_known_build(&f->trk, tr, n_tr)) goto done;
    if (hkl_rule_conf(R, tr, n_tr, &f->conf)) goto done;
    for (size_t i = 0; i < n_tr; i++) {
        f->fr[(size_t)tr[i].r * N + tr[i].t] += 1;
        f->fr[(size_t)(tr[i].r + R) * N + tr[i].h] += 1;
        f->deg[tr[i].h] += 1;
        f->deg[tr[i].t] += 1;
        f->role[tr[i].t] += 1;
        f->role[(size_t)N + tr[i].h] += 1;
        if (tr[i].h != tr[i].t) {
            f->nb_off[tr[i].h + 1]++;
            f->nb_off[tr[i].t + 1]++;
        }
    }
    for (uint32_t e = 0; e < N; e++) {
        f->deg[e] = log1pf(f->deg[e]);
        f->role[e] = log1pf(f->role[e]);
        f->role[(size_t)N + e] = log1pf(f->role[(size_t)N + e]);
        f->nb_off[e + 1] += f->nb_off[e];
    }
    /* neighbour lists (self-loops left out), filled in training order */
    for (size_t i = 0; i < n_tr; i++) {
        if (tr[i].h == tr[i].t) continue;
        f->nb[f->nb_off[tr[i].h]++] = tr[i].t;
        f->nb[f->nb_off[tr[i].t]++] = tr[i].h;
    }
    for (uint32_t e = N; e > 0; e--) /* back to the starts */
        f->nb_off[e] = f->nb_off[e - 1];
    f->nb_off[0] = 0;
    /* answer-set overlaps: per entity, every pair of the relation-
     * directions it answers (sum of k^2 over entities, k <= 2R) */
    for (uint32_t e = 0; e < N; e++) {
        uint32_t k = 0;
        for (uint32_t rd = 0; rd < RD; rd++)
            if (f->fr[(size_t)rd * N + e] > 0) list[k++] = rd;
        for (uint32_t i = 0; i < k; i++) {
            n_ans[list[i]]++;
            for (uint32_t j = 0; j < k; j++)
                if (i != j) inter[(size_t)list[i] * RD + list[j]]++;
        }
    }
    for (uint32_t e = 0; e < N; e++) {
        uint32_t k = 0;
        for (uint32_t rd = 0; rd < RD; rd++)
            if (f->fr[(size_t)rd * N + e] > 0) list[k++] = rd;
        if (!k) continue;
        for (uint32_t rd = 0; rd < RD; rd++) {
            if (!n_ans[rd]) continue;
            double s = 0;
            for (uint32_t j = 0; j < k; j++)
                if (list[j] != rd)
                    s += (double)inter[(size_t)rd * RD + list[j]] / n_ans[rd];
            f->type[(size_t)rd * N + e] = (float)s;
        }
    }
    rc = HK_OK;
done:
    hk_free(inter);
    hk_free(n_ans);
    hk_free(list);
    if (rc) feat_free(f);
    return rc;
}

/* The tables of f from d's training split (m's ids: d's first ids). */
static hk_err feat_build(feat *f, const hkl_model *m, const hkl_data *d)
{
    memset(f, 0, sizeof *f);
    if (!same_ids(&m->ent, &d->ent) || !same_ids(&m->rel, &d->rel))
        return HK_ERR_INVALID;
    return feat_build_tr(f, m, d->ent.n, d->rel.n, d->split[HKL_TRAIN],
                         d->n[HKL_TRAIN]);
}

/* Fills the per-query rows (model scores, 1-hop evidence, adjacency,
 * two-hop walks). */
static void feat_query(feat *f, const hkl_model *m, uint32_t q, uint32_t rd)
{
    const uint32_t N = f->N, R = f->R, RD = 2 * R;
    uint32_t rm = rd < R ? rd : rd - R + f->RM;
    if (q < f->NM && (rd % R) < f->RM)
        hkl_score_tails(m, q, rm, f->ms);
    else
        memset(f->ms, 0, (size_t)f->NM * sizeof *f->ms);
    memset(f->path, 0, (size_t)N * sizeof *f->path);
    memset(f->adj, 0, N);
    for (uint32_t r2 = 0; r2 < RD; r2++) {
        const hkl_triple *nb;
        size_t c;
        bool heads;
        float w = f->conf[(size_t)r2 * RD + rd];
        hkl_known_answers(&f->trk, R, q, r2, &nb, &c, &heads);
        for (size_t j = 0; j < c; j++) {
            uint32_t e = heads ? nb[j].h : nb[j].t;
            f->path[e] += w;
            f->adj[e] = 1;
        }
    }
    memset(f->hop2, 0, (size_t)N * sizeof *f->hop2);
    uint32_t steps = 0;
    for (uint32_t i = f->nb_off[q]; i < f->nb_off[q + 1]; i++) {
        uint32_t x = f->nb[i];
        for (uint32_t j = f->nb_off[x]; j < f->nb_off[x + 1]; j++) {
            if (++steps > HOP2_MAX) return;
            if (f->nb[j] != q) f->hop2[f->nb[j]] += 1;
        }
    }
}

/* The features of candidate e for the query of the last feat_query. */
static void feat_of(const feat *f, uint32_t rd, uint32_t e, double *x)
{
    float c = f->fr[(size_t)rd * f->N + e];
    x[0] = e < f->NM ? (double)f->ms[e] : 0;
    x[1] = log1p((double)c);
    x[2] = c > 0;
    x[3] = log1p((double)f->path[e]);
    x[4] = f->adj[e];
    x[5] = f->type[(size_t)rd * f->N + e];
    x[6] = f->deg[e];
    x[7] = f->role[(size_t)(rd < f->R ? 0 : f->N) + e];
    x[8] = log1p((double)f->hop2[e]);
}

static double dotw(const double *w, const double *x)
{
    double s = 0;
    for (int k = 0; k < NF; k++)
        s += w[k] * x[k];
    return s;
}

/* ==== Ranking ==== */

hk_err hkl_eval_combo(const hkl_model *m, const hkl_data *d,
                      const hkl_triple *v, size_t n, hkl_metrics *out)
{
    memset(out, 0, sizeof *out);
    if (!m->combo.fitted) return HK_ERR_STATE;
    if (!d->ent.n || !d->rel.n) return HK_OK;
    feat f;
    hk_err rc = feat_build(&f, m, d);
    if (rc) return rc;
    const uint32_t N = f.N, R = f.R;
    double *s = hk_malloc((size_t)N * sizeof *s);
    if (!s) {
        feat_free(&f);
        return HK_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        hkl_triple x = v[i];
        /* as hkl_eval: only what the model knows is ranked */
        if (x.h >= f.NM || x.t >= f.NM || x.r >= f.RM) continue;
        for (int dir = 0; dir < 2; dir++) {
            uint32_t q = dir ? x.t : x.h, a = dir ? x.h : x.t;
            uint32_t rd = x.r + (dir ? R : 0);
            feat_query(&f, m, q, rd);
            for (uint32_t e = 0; e < N; e++) {
                double xe[NF];
                feat_of(&f, rd, e, xe);
                s[e] = dotw(m->combo.w, xe);
            }
            hkl_metrics_add(out,
                            hkl_filtered_rank(s, N, &d->known, R, q, rd, a));
        }
    }
    hkl_metrics_finish(out);
    hk_free(s);
    feat_free(&f);
    return HK_OK;
}

/* ==== Fit ==== */

/* The candidate lists of the fit: query j owns rows off[j]..off[j+1) of
 * X (NF doubles each), its true answer first. */
typedef struct fitset {
    double *X;     /* candidate features, row-major */
    size_t *off;   /* n_q + 1 offsets into the rows */
    size_t n_q;    /* queries */
    size_t n_rows; /* rows written */
    size_t cap;    /* rows allocated */
} fitset;

static hk_err fit_push(fitset *fs, const double *x)
{
    if (fs->n_rows == fs->cap) {
        size_t cap = fs->cap ? 2 * fs->cap : 4096;
        double *nx = hk_realloc(fs->X, cap * NF * sizeof *nx);
        if (!nx) return HK_ERR_NOMEM;
        fs->X = nx;
        fs->cap = cap;
    }
    memcpy(fs->X + fs->n_rows * NF, x, NF * sizeof *x);
    fs->n_rows++;
    return HK_OK;
}

/* Whether e is a known answer of (q, rd) other than a (filtered out). */
static bool other_answer(const hkl_known *k, uint32_t R, uint32_t q,
                         uint32_t rd, uint32_t a, uint32_t e)
{
    if (e == a) return false;
    return rd < R ? hkl_known_has(k, q, rd, e) : hkl_known_has(k, e, rd - R, q);
}

/* Adds the candidates of one query: the answer a first, then the others
 * (every entity up to FIT_ALL, else a sample; see "Fit"). */
static hk_err fit_query(fitset *fs, feat *f, const hkl_model *m,
                        const hkl_known *k, uint32_t q, uint32_t rd, uint32_t a,
                        uint64_t *rng, uint8_t *mark, float *aux, hkl_hit *hits)
{
    double x[NF];
    const uint32_t N = f->N;
    feat_query(f, m, q, rd);
    feat_of(f, rd, a, x);
    hk_err rc = fit_push(fs, x);
    if (rc) return rc;
    if (N <= FIT_ALL) {
        for (uint32_t e = 0; e < N && !rc; e++) {
            if (e == a || other_answer(k, f->R, q, rd, a, e)) continue;
            feat_of(f, rd, e, x);
            rc = fit_push(fs, x);
        }
        return rc;
    }
    /* sampled: the best by the model, the best by the other features,
     * random ones; each entity once */
    memset(mark, 0, N);
    mark[a] = 1;
    uint32_t cand[2 * FIT_TOP + FIT_RAND];
    size_t nc = 0;
    for (int by = 0; by < 2; by++) {
        for (uint32_t e = 0; e < N; e++) {
            if (by == 0) {
                aux[e] = e < f->NM ? f->ms[e] : -INFINITY;
            } else {
                feat_of(f, rd, e, x);
                aux[e] = (float)(x[1] + x[2] + x[3] + x[4] + x[5]);
            }
        }
        size_t got = hkl_top_k(aux, N, FIT_TOP, NULL, 0, hits);
        for (size_t i = 0; i < got; i++)
            if (!mark[hits[i].id]) {
                mark[hits[i].id] = 1;
                cand[nc++] = hits[i].id;
            }
    }
    for (uint32_t i = 0; i < FIT_RAND; i++) {
        uint32_t e = (uint32_t)(hkl_rand(rng) % N);
        if (mark[e]) continue;
        mark[e] = 1;
        cand[nc++] = e;
    }
    for (size_t i = 0; i < nc && !rc; i++) {
        if (other_answer(k, f->R, q, rd, a, cand[i])) continue;
        feat_of(f, rd, cand[i], x);
        rc = fit_push(fs, x);
    }
    return rc;
}

/* Which queries a loss counts: all, all but one fold, or one fold
 * (the two directions of a triple stay in the same fold). */
typedef struct fold {
    int k;    /* the fold; -1: every query */
    bool out; /* true: only fold k (held out); false: all but fold k */
} fold;

static bool in_fold(fold f, size_t j)
{
    if (f.k < 0) return true;
    return ((int)(j / 2 % FIT_FOLDS) == f.k) == f.out;
}

/* Penalised negative log-likelihood of the queries of fold fo at w
 * (scaled features), with its gradient and Hessian when g is not NULL. */
static double fit_loss(const fitset *fs, fold fo, const double *w, double l2,
                       double *g, double *H)
{
    double loss = 0;
    if (g) {
        memset(g, 0, NF * sizeof *g);
        memset(H, 0, NF * NF * sizeof *H);
    }
    for (int k = 0; k < NF; k++) {
        loss += 0.5 * l2 * w[k] * w[k];
        if (g) {
            g[k] += l2 * w[k];
            H[k * NF + k] += l2;
        }
    }
    for (size_t j = 0; j < fs->n_q; j++) {
        if (!in_fold(fo, j)) continue;
        const double *X = fs->X + fs->off[j] * NF;
        size_t nc = fs->off[j + 1] - fs->off[j];
        double smax = -INFINITY;
        for (size_t c = 0; c < nc; c++) {
            double s = dotw(w, X + c * NF);
            if (s > smax) smax = s;
        }
        double z = 0, ex[NF] = {0}, exx[NF * NF] = {0};
        for (size_t c = 0; c < nc; c++) {
            const double *x = X + c * NF;
            double p = exp(dotw(w, x) - smax);
            z += p;
            if (!g) continue;
            for (int a = 0; a < NF; a++) {
                ex[a] += p * x[a];
                for (int b = 0; b < NF; b++)
                    exx[a * NF + b] += p * x[a] * x[b];
            }
        }
        loss += smax + log(z) - dotw(w, X); /* the answer is row 0 */
        if (!g) continue;
        for (int a = 0; a < NF; a++) {
            g[a] += ex[a] / z - X[a];
            for (int b = 0; b < NF; b++)
                H[a * NF + b] +=
                    exx[a * NF + b] / z - (ex[a] / z) * (ex[b] / z);
        }
    }
    return loss;
}

/* Solves H x = g (symmetric positive definite: the penalty makes it so)
 * by Gaussian elimination with partial pivoting; false if singular. */
static bool solve(double *H, double *g, double *x)
{
    for (int c = 0; c < NF; c++) {
        int p = c;
        for (int r = c + 1; r < NF; r++)
            if (fabs(H[r * NF + c]) > fabs(H[p * NF + c])) p = r;
        if (fabs(H[p * NF + c]) < 1e-300) return false;
        if (p != c) {
            for (int k = 0; k < NF; k++) {
                double t = H[c * NF + k];
                H[c * NF + k] = H[p * NF + k];
                H[p * NF + k] = t;
            }
            double t = g[c];
            g[c] = g[p];
            g[p] = t;
        }
        for (int r = c + 1; r < NF; r++) {
            double f = H[r * NF + c] / H[c * NF + c];
            for (int k = c; k < NF; k++)
                H[r * NF + k] -= f * H[c * NF + k];
            g[r] -= f * g[c];
        }
    }
    for (int r = NF - 1; r >= 0; r--) {
        double s = g[r];
        for (int k = r + 1; k < NF; k++)
            s -= H[r * NF + k] * x[k];
        x[r] = s / H[r * NF + r];
    }
    return true;
}

/* Minimises fit_loss over the queries of fo from w = 0 by Newton's
 * method with step halving; returns the loss at the w it leaves. */
static double newton(const fitset *fs, fold fo, double l2, double *w)
{
    double g[NF], H[NF * NF], step[NF];
    memset(w, 0, NF * sizeof *w);
    double loss = fit_loss(fs, fo, w, l2, g, H);
    for (int it = 0; it < FIT_ITERS; it++) {
        if (!solve(H, g, step)) break;
        double size = 0, t = 1, nw[NF], nl = loss;
        for (int k = 0; k < NF; k++)
            size = fmax(size, fabs(step[k]));
        if (size < 1e-9) break;
        for (int half = 0; half < 30; half++, t *= 0.5) {
            for (int k = 0; k < NF; k++)
                nw[k] = w[k] - t * step[k];
            nl = fit_loss(fs, fo, nw, l2, NULL, NULL);
            if (nl <= loss) break;
        }
        if (!(nl <= loss)) break;
        memcpy(w, nw, NF * sizeof *w);
        bool done_now = loss - nl < 1e-10 * (1 + fabs(loss));
        loss = fit_loss(fs, fo, w, l2, g, H);
        if (done_now) break;
    }
    return loss;
}

hk_err hkl_combo_fit(hkl_model *m, const hkl_data *d, uint64_t seed,
                     uint32_t mask)
{
    memset(&m->combo, 0, sizeof m->combo);
    const hkl_triple *vv = d->split[HKL_VALID];
    const size_t n_v = d->n[HKL_VALID];
    if (!n_v || !d->ent.n || !d->rel.n) return HK_OK;
    feat f;
    hk_err rc = feat_build(&f, m, d);
    if (rc) return rc;
    const uint32_t N = f.N, R = f.R;
    fitset fs;
    memset(&fs, 0, sizeof fs);
    size_t take = n_v < FIT_QUERIES / 2 ? n_v : FIT_QUERIES / 2;
    uint8_t *mark = hk_malloc((size_t)N + 1);
    float *aux = hk_malloc(((size_t)N + 1) * sizeof *aux);
    hkl_hit *hits = hk_malloc(FIT_TOP * sizeof *hits);
    fs.off = hk_malloc((2 * take + 1) * sizeof *fs.off);
    hkl_triple *used = hk_malloc((take + 1) * sizeof *used);
    size_t n_used = 0;
    rc = HK_ERR_NOMEM;
    if (!mark || !aux || !hits || !fs.off || !used) goto done;
    uint64_t rng = seed ^ 0xc0b1e5u;
    rc = HK_OK;
    for (size_t i = 0; i < take && !rc; i++) {
        hkl_triple x = vv[(size_t)((double)i * (double)n_v / (double)take)];
        if (x.h >= f.NM || x.t >= f.NM || x.r >= f.RM) continue;
        used[n_used++] = x;
        for (int dir = 0; dir < 2 && !rc; dir++) {
            fs.off[fs.n_q] = fs.n_rows;
            rc = fit_query(&fs, &f, m, &d->known, dir ? x.t : x.h,
                           x.r + (dir ? R : 0), dir ? x.h : x.t, &rng, mark,
                           aux, hits);
            fs.n_q++;
        }
    }
    fs.off[fs.n_q] = fs.n_rows;
    if (rc || !fs.n_q) goto done;
    /* scale each feature by its standard deviation over the rows */
    double mean[NF] = {0}, sd[NF] = {0};
    for (size_t i = 0; i < fs.n_rows; i++)
        for (int k = 0; k < NF; k++)
            mean[k] += fs.X[i * NF + k];
    for (int k = 0; k < NF; k++)
        mean[k] /= (double)fs.n_rows;
    for (size_t i = 0; i < fs.n_rows; i++)
        for (int k = 0; k < NF; k++) {
            double dv = fs.X[i * NF + k] - mean[k];
            sd[k] += dv * dv;
        }
    for (int k = 0; k < NF; k++) {
        sd[k] = sqrt(sd[k] / (double)fs.n_rows);
        /* constant (no information) or left out by the mask */
        if (!(sd[k] > 1e-12) || !(mask >> k & 1)) sd[k] = 0;
    }
    for (size_t i = 0; i < fs.n_rows; i++)
        for (int k = 0; k < NF; k++)
            fs.X[i * NF + k] = sd[k] > 0 ? fs.X[i * NF + k] / sd[k] : 0;
    /* the penalty chosen by cross-validation over the fit's queries */
    static const double l2s[] = {0.1, 1, 10, 100};
    double best = INFINITY, l2 = FIT_L2, w[NF];
    for (size_t li = 0; li < sizeof l2s / sizeof *l2s; li++) {
        double held = 0;
        for (int k = 0; k < FIT_FOLDS; k++) {
            fold tr = {k, false}, te = {k, true};
            newton(&fs, tr, l2s[li], w);
            held += fit_loss(&fs, te, w, 0, NULL, NULL);
        }
        if (held < best) {
            best = held;
            l2 = l2s[li];
        }
    }
    fold all = {-1, false};
    double loss = newton(&fs, all, l2, w);
    for (int k = 0; k < NF; k++)
        m->combo.w[k] = sd[k] > 0 ? w[k] / sd[k] : 0;
    m->combo.fitted = true;
    m->combo.fit_queries = fs.n_q;
    m->combo.fit_rows = fs.n_rows;
    m->combo.fit_loss = loss / (double)fs.n_q;
    m->combo.fit_l2 = l2;
    /* the fit's own queries, ranked over every entity */
    rc = hkl_eval_combo(m, d, used, n_used, &m->combo.valid);
done:
    hk_free(mark);
    hk_free(aux);
    hk_free(hits);
    hk_free(fs.off);
    hk_free(fs.X);
    hk_free(used);
    feat_free(&f);
    if (rc) memset(&m->combo, 0, sizeof m->combo);
    return rc;
}

/* ==== Prediction ==== */

/* The tables of the combined ranker for prediction, counted on every
 * edge the model knew (m->known): built once, then only read. */
struct hkl_cfeat {
    feat f; /* per-query rows NULL: each call brings its own */
};

void hkl_combo_release(hkl_model *m)
{
    if (!m->cf) return;
    feat_free(&m->cf->f);
    hk_free(m->cf);
    m->cf = NULL;
}

hk_err hkl_combo_prepare(hkl_model *m)
{
    hkl_combo_release(m);
    if (!m->combo.fitted) return HK_ERR_STATE;
    if (!m->ent.n || !m->rel.n) return HK_ERR_INVALID;
    struct hkl_cfeat *c = hk_calloc(1, sizeof *c);
    if (!c) return HK_ERR_NOMEM;
    hk_err rc =
        feat_build_tr(&c->f, m, m->ent.n, m->rel.n, m->known.hrt, m->known.n);
    if (rc) {
        hk_free(c);
        return rc;
    }
    hk_free(c->f.ms);
    hk_free(c->f.path);
    hk_free(c->f.adj);
    hk_free(c->f.hop2);
    c->f.ms = c->f.path = c->f.hop2 = NULL;
    c->f.adj = NULL;
    m->cf = c;
    return HK_OK;
}

hkl_ranker hkl_ranker_auto(const hkl_model *m)
{
    if (m->cf && m->combo.fitted && m->ent.n <= HKL_COMBO_AUTO_MAX &&
        m->combo.valid.n && m->valid.n && m->combo.valid.mrr > m->valid.mrr)
        return HKL_RANKER_COMBINED;
    return HKL_RANKER_MODEL;
}

const char *hkl_ranker_name(hkl_ranker r)
{
    switch (r) {
    case HKL_RANKER_AUTO:
        return "auto";
    case HKL_RANKER_MODEL:
        return "model";
    case HKL_RANKER_COMBINED:
        return "combined";
    }
    return "?";
}

bool hkl_ranker_parse(const char *s, hkl_ranker *out)
{
    static const hkl_ranker all[] = {HKL_RANKER_AUTO, HKL_RANKER_MODEL,
                                     HKL_RANKER_COMBINED};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        if (!strcmp(s, hkl_ranker_name(all[i]))) {
            *out = all[i];
            return true;
        }
    return false;
}

hk_err hkl_combo_scores(const hkl_model *m, uint32_t q, uint32_t rd,
                        double *out)
{
    if (!m->cf) return HK_ERR_STATE;
    feat f = m->cf->f; /* shared tables, rows of this call */
    if (q >= f.N || rd >= 2 * f.R) return HK_ERR_INVALID;
    f.ms = hk_malloc(((size_t)f.NM + 1) * sizeof *f.ms);
    f.path = hk_malloc(((size_t)f.N + 1) * sizeof *f.path);
    f.adj = hk_malloc((size_t)f.N + 1);
    f.hop2 = hk_malloc(((size_t)f.N + 1) * sizeof *f.hop2);
    hk_err rc = HK_ERR_NOMEM;
    if (f.ms && f.path && f.adj && f.hop2) {
        feat_query(&f, m, q, rd);
        for (uint32_t e = 0; e < f.N; e++) {
            double x[NF];
            feat_of(&f, rd, e, x);
            out[e] = dotw(m->combo.w, x);
        }
        rc = HK_OK;
    }
    hk_free(f.ms);
    hk_free(f.path);
    hk_free(f.adj);
    hk_free(f.hop2);
    return rc;
}

/* Whether hit a ranks after hit b: lower score, equal scores by larger
 * id (hkl_top_k's order). */
static bool worse(double sa, uint32_t a, double sb, uint32_t b)
{
    return sa < sb || (sa == sb && a > b);
}

static void heap_down(double *hs, uint32_t *hi, size_t n, size_t i)
{
    for (;;) { /* at most log2(n) levels */
        size_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && worse(hs[l], hi[l], hs[w], hi[w])) w = l;
        if (r < n && worse(hs[r], hi[r], hs[w], hi[w])) w = r;
        if (w == i) return;
        double ts = hs[i];
        uint32_t ti = hi[i];
        hs[i] = hs[w];
        hi[i] = hi[w];
        hs[w] = ts;
        hi[w] = ti;
        i = w;
    }
}

size_t hkl_predict_combo(const hkl_model *m, uint32_t q, uint32_t rd, size_t k,
                         const uint32_t *skip, size_t n_skip, hkl_hit *out,
                         hk_err *rc)
{
    *rc = HK_OK;
    if (k > HKL_PREDICT_MAX) k = HKL_PREDICT_MAX;
    if (!k) return 0;
    const uint32_t N = m->ent.n;
    double *s = hk_malloc(((size_t)N + 1) * sizeof *s);
    double hs[HKL_PREDICT_MAX];
    uint32_t hi[HKL_PREDICT_MAX];
    if (!s) {
        *rc = HK_ERR_NOMEM;
        return 0;
    }
    if ((*rc = hkl_combo_scores(m, q, rd, s))) {
        hk_free(s);
        return 0;
    }
    /* a min-heap of the k best (its root the worst kept) */
    size_t n = 0;
    for (uint32_t e = 0; e < N; e++) {
        bool skipped = false;
        for (size_t j = 0; j < n_skip && !skipped; j++)
            skipped = skip[j] == e;
        if (skipped || isnan(s[e])) continue;
        if (n < k) {
            size_t i = n++;
            hs[i] = s[e];
            hi[i] = e;
            while (i > 0) { /* sift up */
                size_t p = (i - 1) / 2;
                if (!worse(hs[i], hi[i], hs[p], hi[p])) break;
                double ts = hs[i];
                uint32_t ti = hi[i];
                hs[i] = hs[p];
                hi[i] = hi[p];
                hs[p] = ts;
                hi[p] = ti;
                i = p;
            }
        } else if (worse(hs[0], hi[0], s[e], e)) {
            hs[0] = s[e];
            hi[0] = e;
            heap_down(hs, hi, n, 0);
        }
    }
    /* pop the worst to the back: best first */
    for (size_t left = n; left > 0; left--) {
        out[left - 1].id = hi[0];
        out[left - 1].score = (float)hs[0];
        hs[0] = hs[left - 1];
        hi[0] = hi[left - 1];
        heap_down(hs, hi, left - 1, 0);
    }
    hk_free(s);
    return n;
}

hk_err hkl_combo_rank_tail(const hkl_model *m, uint32_t h, uint32_t r,
                           uint32_t t, double *score, double *rank)
{
    *score = 0;
    *rank = 0;
    if (t >= m->ent.n) return HK_ERR_INVALID;
    double *s = hk_malloc(((size_t)m->ent.n + 1) * sizeof *s);
    if (!s) return HK_ERR_NOMEM;
    hk_err rc = hkl_combo_scores(m, h, r, s);
    if (!rc) {
        *score = s[t];
        *rank = hkl_filtered_rank(s, m->ent.n, &m->known, m->rel.n, h, r, t);
    }
    hk_free(s);
    return rc;
}
