/*
 * similar.c — lexical similarity of statements (profiles and scores) and
 * the scans behind semantic_similarity and analyze_duplicates.
 *
 * ==== Profiles ====
 * A statement's profile is
 *  - its search tokens (hk_tokenize: lower case, split at punctuation,
 *    camelCase and letter/digit boundaries, so HasPart(Computer, CPU)
 *    gives has, part, computer, cpu), and
 *  - the character trigrams of those tokens joined by single spaces and
 *    padded with one space at each end (so "part" and "parts" still share
 *    most trigrams).
 * Both sets are stored as sorted arrays of 64-bit FNV-1a hashes; the
 * similarity of two profiles is the mean of the Jaccard index of the token
 * sets and that of the trigram sets (1.0 for equal token streams).
 *
 * ==== Similar facts ====
 * Candidates come from the store's ranked text search (the facts sharing
 * tokens with the text); each is profiled from its canonical statement and
 * scored. Matches are sorted by their reported (rounded) score, ties kept
 * in search rank order, and cut to the limit.
 *
 * ==== Duplicates ====
 * Comparing every pair of a window of W facts costs W^2/2 scores. Instead
 * the window's (token, fact) references are sorted by token, and each fact
 * is compared only with the later facts that share a token with it; a
 * token held by more than HK_SIM_DUP_MAX_DF facts ("is", "a") pairs
 * nothing, and the number of scores is capped. A fact is compared with
 * another at most once (the `seen` stamp per fact).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"
#include "core/tokenize.h"
#include "similar/similar.h"

/* ==== Profiles ==== */

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Sorts and removes duplicates; returns the new length. */
static size_t sort_unique(uint64_t *v, size_t n)
{
    if (n == 0) return 0;
    qsort(v, n, sizeof *v, cmp_u64);
    size_t k = 1;
    for (size_t i = 1; i < n; i++)
        if (v[i] != v[k - 1]) v[k++] = v[i];
    return k;
}

typedef struct token_sink {
    hk_buf joined;   /* " tok tok tok ": the tokens, space separated */
    size_t n_tokens; /* tokens appended so far */
} token_sink;

static hk_err on_token(void *ud, const char *tok, size_t len)
{
    token_sink *ts = ud;
    if (ts->n_tokens >= HK_SIM_PROFILE_MAX_TOKENS) return HK_ERR_LIMIT;
    hk_err rc = hk_buf_append(&ts->joined, tok, len);
    if (rc == HK_OK) rc = hk_buf_append(&ts->joined, " ", 1);
    ts->n_tokens++;
    return rc;
}

hk_err hk_sim_profile_build(const char *text, size_t len, hk_sim_profile *p)
{
    memset(p, 0, sizeof *p);
    token_sink ts = {HK_BUF_INIT, 0};
    hk_err rc = hk_buf_append(&ts.joined, " ", 1);
    if (rc != HK_OK) goto fail;
    rc = hk_tokenize(text, len, on_token, &ts);
    if (rc == HK_ERR_LIMIT) rc = HK_OK; /* keep the first tokens */
    if (rc != HK_OK) goto fail;

    const char *j = ts.joined.data;
    size_t jl = ts.joined.len;
    p->tokens = hk_malloc((ts.n_tokens + 1) * sizeof *p->tokens);
    p->grams = hk_malloc((jl + 1) * sizeof *p->grams);
    if (!p->tokens || !p->grams) {
        rc = HK_ERR_NOMEM;
        goto fail;
    }
    /* tokens: the runs between spaces */
    size_t start = 1;
    for (size_t i = 1; i < jl; i++) {
        if (j[i] == ' ') {
            if (i > start)
                p->tokens[p->n_tokens++] = fnv1a(j + start, i - start);
            start = i + 1;
        }
    }
    for (size_t i = 0; i + 3 <= jl; i++)
        p->grams[p->n_grams++] = fnv1a(j + i, 3);
    p->n_tokens = sort_unique(p->tokens, p->n_tokens);
    p->n_grams = sort_unique(p->grams, p->n_grams);
    hk_buf_free(&ts.joined);
    return HK_OK;
fail:
    hk_buf_free(&ts.joined);
    hk_sim_profile_release(p);
    return rc;
}

void hk_sim_profile_release(hk_sim_profile *p)
{
    hk_free(p->tokens);
    hk_free(p->grams);
    memset(p, 0, sizeof *p);
}

static double jaccard(const uint64_t *a, size_t na, const uint64_t *b,
                      size_t nb)
{
    if (na == 0 && nb == 0) return 1.0;
    size_t i = 0, k = 0, common = 0;
    while (i < na && k < nb) {
        if (a[i] == b[k]) {
            common++;
            i++;
            k++;
        } else if (a[i] < b[k]) {
            i++;
        } else {
            k++;
        }
    }
    return (double)common / (double)(na + nb - common);
}

double hk_sim_score(const hk_sim_profile *a, const hk_sim_profile *b)
{
    double t = jaccard(a->tokens, a->n_tokens, b->tokens, b->n_tokens);
    double g = jaccard(a->grams, a->n_grams, b->grams, b->n_grams);
    return (t + g) / 2.0;
}

/* Scores are reported to 4 decimals. */
static double round4(double s)
{
    return round(s * 1e4) / 1e4;
}

/* Profile of a fact's canonical statement; canon is scratch space. */
static hk_err profile_fact(const hk_fact *f, hk_buf *canon, hk_sim_profile *p)
{
    hk_buf_reset(canon);
    hk_err rc = hk_statement_format(&f->st, canon);
    if (rc == HK_OK) rc = hk_sim_profile_build(canon->data, canon->len, p);
    return rc;
}

/* ==== Similar facts ==== */

typedef struct scored_hit {
    double score; /* rounded score */
    size_t rank;  /* position in the search hits */
} scored_hit;

static int cmp_scored(const void *a, const void *b)
{
    const scored_hit *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    return x->rank < y->rank ? -1 : x->rank > y->rank;
}

void hk_sim_query_res_free(hk_sim_query_res *res)
{
    for (size_t i = 0; res->matches && i < res->n_matches; i++)
        hk_fact_release(&res->matches[i].fact);
    hk_free(res->matches);
    memset(res, 0, sizeof *res);
}

hk_err hk_sim_query(hk_txn *t, const hk_sim_query_req *req,
                    hk_sim_query_res *res, hk_error *err)
{
    memset(res, 0, sizeof *res);
    const char *text = req->text ? req->text : "";
    hk_sim_profile want, got;
    memset(&got, 0, sizeof got);
    hk_search_hit *hits = NULL;
    size_t n_hits = 0, n_found = 0;
    scored_hit *found = NULL;
    hk_fact f;
    hk_fact_init(&f);
    hk_buf canon = HK_BUF_INIT;
    hk_err rc = hk_sim_profile_build(text, strlen(text), &want);
    if (rc != HK_OK) return hk_error_set(err, rc, "cannot profile statement");
    rc = hk_store_search(t, text, HK_SIM_CANDIDATES, &hits, &n_hits, err);
    if (rc != HK_OK) goto fail;
    found = hk_calloc(n_hits ? n_hits : 1, sizeof *found);
    if (!found) goto nomem;
    for (size_t i = 0; i < n_hits; i++) {
        if (hk_store_get(t, hits[i].id, &f, NULL) != HK_OK) continue;
        if (profile_fact(&f, &canon, &got) != HK_OK) goto nomem;
        double score = hk_sim_score(&want, &got);
        hk_sim_profile_release(&got);
        if (score + 1e-12 < req->threshold) continue;
        found[n_found].score = round4(score);
        found[n_found++].rank = i;
    }
    qsort(found, n_found, sizeof *found, cmp_scored);
    size_t keep = n_found < req->limit ? n_found : req->limit;
    res->examined = n_hits;
    res->matches = hk_calloc(keep ? keep : 1, sizeof *res->matches);
    if (!res->matches) goto nomem;
    for (size_t i = 0; i < keep; i++) {
        hk_sim_match *m = &res->matches[res->n_matches++];
        hk_fact_init(&m->fact);
        m->score = found[i].score;
        rc = hk_store_get(t, hits[found[i].rank].id, &m->fact, err);
        if (rc != HK_OK) goto fail;
    }
    rc = HK_OK;
    goto done;
nomem:
    rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
fail:
    hk_sim_query_res_free(res);
done:
    hk_free(hits);
    hk_free(found);
    hk_fact_release(&f);
    hk_buf_free(&canon);
    hk_sim_profile_release(&want);
    return rc;
}

/* ==== Duplicates ==== */

typedef struct tok_ref {
    uint64_t hash; /* token hash */
    uint32_t idx;  /* fact's index in the window */
} tok_ref;

static int cmp_tok_ref(const void *a, const void *b)
{
    const tok_ref *x = a, *y = b;
    if (x->hash != y->hash) return x->hash < y->hash ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

typedef struct dup_pair {
    double score; /* exact similarity */
    uint32_t a;   /* window index of the newer fact */
    uint32_t b;   /* window index of the older fact (b > a) */
} dup_pair;

static int cmp_pair_desc(const void *a, const void *b)
{
    const dup_pair *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    if (x->a != y->a) return x->a < y->a ? -1 : 1;
    return x->b < y->b ? -1 : x->b > y->b;
}

/* The window: facts read newest first with their profiles and the sorted
 * (token, fact) references. */
typedef struct dup_window {
    hk_sim_profile *prof; /* profile per fact (HK_SIM_DUP_WINDOW slots) */
    hk_fact_id *ids;      /* fact id per window index */
    uint32_t *seen;       /* last fact (index + 1) compared with this one */
    size_t n;             /* facts in the window */
    tok_ref *refs;        /* one per distinct token of each fact */
    size_t n_refs;        /* entries in refs */
    size_t cap_refs;      /* allocated entries */
    dup_pair *pairs;      /* pairs at or above the threshold */
    size_t n_pairs;       /* entries in pairs */
    size_t cap_pairs;     /* allocated entries */
} dup_window;

static void progress(const hk_sim_dup_req *req, double done, double total,
                     const char *what)
{
    if (req->progress) req->progress(req->progress_ud, done, total, what);
}

static hk_err window_read(hk_txn *t, const hk_sim_dup_req *req, dup_window *w,
                          hk_error *err)
{
    hk_query *q = NULL;
    hk_fact f;
    hk_fact_init(&f);
    hk_buf canon = HK_BUF_INIT;
    hk_scan scan = HK_SCAN_INIT;
    scan.newest_first = true;
    hk_err rc = hk_query_open_scan(t, &scan, NULL, &q, err);
    while (rc == HK_OK && w->n < HK_SIM_DUP_WINDOW) {
        bool has = false;
        rc = hk_query_next(q, &f, &has, err);
        if (rc != HK_OK || !has) break;
        hk_sim_profile *p = &w->prof[w->n];
        rc = profile_fact(&f, &canon, p);
        if (rc != HK_OK) break;
        w->ids[w->n] = f.id;
        if (w->n % 5000 == 4999)
            progress(req, (double)w->n + 1, 2.0 * HK_SIM_DUP_WINDOW,
                     "profiling facts");
        for (size_t k = 0; k < p->n_tokens; k++) {
            if (w->n_refs == w->cap_refs) {
                size_t nc = w->cap_refs ? w->cap_refs * 2 : 4096;
                tok_ref *nr = hk_realloc(w->refs, nc * sizeof *nr);
                if (!nr) {
                    rc = HK_ERR_NOMEM;
                    break;
                }
                w->refs = nr;
                w->cap_refs = nc;
            }
            w->refs[w->n_refs].hash = p->tokens[k];
            w->refs[w->n_refs++].idx = (uint32_t)w->n;
        }
        w->n++; /* the profile is the window's to release from here */
    }
    hk_query_close(q);
    hk_fact_release(&f);
    hk_buf_free(&canon);
    if (rc == HK_OK && w->n_refs)
        qsort(w->refs, w->n_refs, sizeof *w->refs, cmp_tok_ref);
    return rc;
}

static hk_err pair_add(dup_window *w, double score, uint32_t a, uint32_t b)
{
    if (w->n_pairs == w->cap_pairs) {
        size_t nc = w->cap_pairs ? w->cap_pairs * 2 : 256;
        dup_pair *np = hk_realloc(w->pairs, nc * sizeof *np);
        if (!np) return HK_ERR_NOMEM;
        w->pairs = np;
        w->cap_pairs = nc;
    }
    w->pairs[w->n_pairs].score = score;
    w->pairs[w->n_pairs].a = a;
    w->pairs[w->n_pairs++].b = b;
    return HK_OK;
}

/* Compares each fact with the later facts sharing a rare token. */
static hk_err window_compare(const hk_sim_dup_req *req, dup_window *w)
{
    size_t comparisons = 0;
    for (uint32_t i = 0; i < w->n; i++) {
        if (i % 5000 == 4999)
            progress(req, (double)HK_SIM_DUP_WINDOW + i + 1,
                     2.0 * HK_SIM_DUP_WINDOW, "comparing facts");
        const hk_sim_profile *p = &w->prof[i];
        for (size_t k = 0; k < p->n_tokens; k++) {
            /* the run of this token in refs */
            size_t lo = 0, hi = w->n_refs;
            uint64_t h = p->tokens[k];
            while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (w->refs[mid].hash < h)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            size_t end = lo;
            while (end < w->n_refs && w->refs[end].hash == h)
                end++;
            if (end - lo > HK_SIM_DUP_MAX_DF) continue;
            for (size_t r = lo; r < end; r++) {
                uint32_t j = w->refs[r].idx;
                if (j <= i || w->seen[j] == i + 1) continue;
                w->seen[j] = i + 1;
                if (++comparisons > HK_SIM_DUP_MAX_COMPARISONS) break;
                double s = hk_sim_score(p, &w->prof[j]);
                if (s + 1e-12 < req->threshold) continue;
                if (pair_add(w, s, i, j) != HK_OK) return HK_ERR_NOMEM;
            }
        }
    }
    return HK_OK;
}

void hk_sim_dup_res_free(hk_sim_dup_res *res)
{
    for (size_t i = 0; res->pairs && i < res->n_pairs; i++) {
        hk_fact_release(&res->pairs[i].a);
        hk_fact_release(&res->pairs[i].b);
    }
    hk_free(res->pairs);
    memset(res, 0, sizeof *res);
}

hk_err hk_sim_duplicates(hk_txn *t, const hk_sim_dup_req *req,
                         hk_sim_dup_res *res, hk_error *err)
{
    memset(res, 0, sizeof *res);
    dup_window w;
    memset(&w, 0, sizeof w);
    hk_fact a, b; /* the pair being read */
    hk_fact_init(&a);
    hk_fact_init(&b);
    hk_err rc = HK_OK;
    w.prof = hk_calloc(HK_SIM_DUP_WINDOW, sizeof *w.prof);
    w.ids = hk_calloc(HK_SIM_DUP_WINDOW, sizeof *w.ids);
    w.seen = hk_calloc(HK_SIM_DUP_WINDOW, sizeof *w.seen);
    if (!w.prof || !w.ids || !w.seen) goto nomem;
    rc = window_read(t, req, &w, err);
    if (rc == HK_ERR_NOMEM) goto nomem;
    if (rc != HK_OK) goto fail;
    if (window_compare(req, &w) != HK_OK) goto nomem;
    if (w.n_pairs) qsort(w.pairs, w.n_pairs, sizeof *w.pairs, cmp_pair_desc);
    size_t keep = w.n_pairs < req->max_pairs ? w.n_pairs : req->max_pairs;
    res->examined = w.n;
    res->pairs = hk_calloc(keep ? keep : 1, sizeof *res->pairs);
    if (!res->pairs) goto nomem;
    for (size_t i = 0; i < keep; i++) {
        /* a fact that cannot be read (never within one snapshot) drops
         * its pair */
        if (hk_store_get(t, w.ids[w.pairs[i].a], &a, NULL) != HK_OK ||
            hk_store_get(t, w.ids[w.pairs[i].b], &b, NULL) != HK_OK)
            continue;
        hk_sim_pair *p = &res->pairs[res->n_pairs++];
        p->score = round4(w.pairs[i].score);
        p->a = a; /* moves the fact: its strings live in its heap buffer */
        p->b = b;
        hk_fact_init(&a);
        hk_fact_init(&b);
    }
    goto done;
nomem:
    rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
fail:
    hk_sim_dup_res_free(res);
done:
    hk_fact_release(&a);
    hk_fact_release(&b);
    for (size_t i = 0; w.prof && i < w.n; i++)
        hk_sim_profile_release(&w.prof[i]);
    hk_free(w.prof);
    hk_free(w.ids);
    hk_free(w.seen);
    hk_free(w.refs);
    hk_free(w.pairs);
    return rc;
}
