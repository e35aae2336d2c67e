/*
 * reason.c — the contradiction rules and the fact validation of reason.h.
 *
 * ==== Declarations ====
 * The rule set is read first, from ordinary facts: Asymmetric(P),
 * Symmetric(P), Functional(P) and NegationOf(N, P), at most
 * HK_RSN_DECL_MAX facts of each. The naming convention NotP <-> P is added
 * for predicates present in the KB; its lookups are binary searches over
 * sorted copies of the predicate list (a KB may hold 100000 predicates and
 * nested scans took minutes).
 *
 * ==== Rules ====
 * Each rule scans the facts of one predicate through the by_pred index, at
 * most req->limit of them, and looks the contradicting fact up directly:
 *   - asymmetry: P(b, a) by exact lookup, reported from the older fact;
 *   - negation: P(args) by exact lookup for each N(args);
 *   - functional: the facts P(a, ...) with the same arity through the
 *     by_arg index at position 0, reported from the first of them.
 * So every contradiction is reported once, and a rule costs one index
 * lookup per examined fact.
 *
 * ==== Validation ====
 * The newest facts are re-checked against the statement rules (data
 * imported by older versions may break them) and against the dominant
 * arity of their predicate (the arity of at least 90% of its facts, from
 * the store's per-arity counters, cached for up to 256 predicates).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "reason/reason.h"

#define PREDICATES_MAX 100000 /* predicates listed for the NotP rule */
#define ARITY_CACHE 256       /* predicates whose dominant arity is kept */

const char *hk_rsn_kind_name(hk_rsn_kind kind)
{
    switch (kind) {
    case HK_RSN_NEGATION:
        return "negation";
    case HK_RSN_ASYMMETRIC_CYCLE:
        return "asymmetric_cycle";
    case HK_RSN_ASYMMETRIC_REFLEX:
        return "asymmetric_reflexive";
    case HK_RSN_FUNCTIONAL:
        return "functional_conflict";
    }
    return "unknown";
}

const char *hk_rsn_issue_kind_name(hk_rsn_issue_kind kind)
{
    switch (kind) {
    case HK_RSN_INVALID_SYNTAX:
        return "invalid_syntax";
    case HK_RSN_UNUSUAL_ARITY:
        return "unusual_arity";
    }
    return "unknown";
}

/* ==== Name lists ==== */

/* A small ordered set of names with linear lookup (declarations). */
typedef struct name_list {
    char **v; /* names (owned) */
    size_t n; /* entries in v */
} name_list;

static bool list_has(const name_list *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], name) == 0) return true;
    return false;
}

static hk_err list_add(name_list *s, const char *name)
{
    if (list_has(s, name)) return HK_OK;
    char **nv = hk_realloc(s->v, (s->n + 1) * sizeof *nv);
    if (!nv) return HK_ERR_NOMEM;
    s->v = nv;
    if (!(s->v[s->n] = hk_strdup(name))) return HK_ERR_NOMEM;
    s->n++;
    return HK_OK;
}

/* Removes name; the last entry takes its place. */
static void list_remove(name_list *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->v[i], name) == 0) {
            hk_free(s->v[i]);
            s->v[i] = s->v[--s->n];
            return;
        }
    }
}

static void list_free(name_list *s)
{
    for (size_t i = 0; i < s->n; i++)
        hk_free(s->v[i]);
    hk_free(s->v);
    s->v = NULL;
    s->n = 0;
}

/* ==== Declarations ==== */

/* Adds the first argument of every one-argument fact of predicate decl. */
static hk_err read_decls(hk_txn *t, const char *decl, name_list *out,
                         hk_error *err)
{
    hk_scan scan = HK_SCAN_INIT;
    scan.predicate = decl;
    scan.arity = 1;
    hk_query *q = NULL;
    hk_fact f;
    hk_fact_init(&f);
    hk_err rc = hk_query_open_scan(t, &scan, NULL, &q, err);
    for (size_t i = 0; rc == HK_OK && i < HK_RSN_DECL_MAX; i++) {
        bool has = false;
        rc = hk_query_next(q, &f, &has, err);
        if (rc != HK_OK || !has) break;
        if (f.st.n_args == 1) rc = list_add(out, f.st.args[0]);
    }
    hk_query_close(q);
    hk_fact_release(&f);
    return rc;
}

static hk_err negation_add(hk_rsn_check_res *res, size_t *cap,
                           const char *negated, const char *positive)
{
    if (res->n_negations == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        hk_rsn_negation *nv = hk_realloc(res->negations, nc * sizeof *nv);
        if (!nv) return HK_ERR_NOMEM;
        res->negations = nv;
        *cap = nc;
    }
    hk_rsn_negation *p = &res->negations[res->n_negations];
    p->negated = hk_strdup(negated);
    p->positive = hk_strdup(positive);
    if (!p->negated || !p->positive) {
        hk_free(p->negated);
        hk_free(p->positive);
        return HK_ERR_NOMEM;
    }
    res->n_negations++;
    return HK_OK;
}

/* qsort/bsearch over const char * names */
static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* qsort/bsearch over negation pairs */
static int cmp_negation(const void *a, const void *b)
{
    const hk_rsn_negation *x = a, *y = b;
    int c = strcmp(x->negated, y->negated);
    return c ? c : strcmp(x->positive, y->positive);
}

/* Declared NegationOf(N, P) pairs, then NotP/P for every predicate pair of
 * the KB that is not declared already. */
static hk_err read_negations(hk_txn *t, hk_rsn_check_res *res, hk_error *err)
{
    size_t cap = 0;
    hk_scan scan = HK_SCAN_INIT;
    scan.predicate = "NegationOf";
    scan.arity = 2;
    hk_query *q = NULL;
    hk_fact f;
    hk_fact_init(&f);
    hk_name_count *preds = NULL;
    size_t n_preds = 0, n_declared = 0;
    const char **names = NULL;
    hk_rsn_negation *declared = NULL;
    hk_err rc = hk_query_open_scan(t, &scan, NULL, &q, err);
    for (size_t i = 0; rc == HK_OK && i < HK_RSN_DECL_MAX; i++) {
        bool has = false;
        rc = hk_query_next(q, &f, &has, err);
        if (rc != HK_OK || !has) break;
        if (f.st.n_args == 2)
            rc = negation_add(res, &cap, f.st.args[0], f.st.args[1]);
    }
    hk_query_close(q);
    hk_fact_release(&f);
    if (rc != HK_OK) return rc;

    rc = hk_store_list_predicates(t, NULL, PREDICATES_MAX, &preds, &n_preds,
                                  err);
    if (rc != HK_OK || n_preds == 0) goto done;
    n_declared = res->n_negations;
    names = hk_malloc(n_preds * sizeof *names);
    declared = hk_malloc((n_declared ? n_declared : 1) * sizeof *declared);
    if (!names || !declared) {
        rc = HK_ERR_NOMEM;
        goto done;
    }
    for (size_t i = 0; i < n_preds; i++)
        names[i] = preds[i].name;
    qsort(names, n_preds, sizeof *names, cmp_name);
    if (n_declared) {
        memcpy(declared, res->negations, n_declared * sizeof *declared);
        qsort(declared, n_declared, sizeof *declared, cmp_negation);
    }
    for (size_t i = 0; rc == HK_OK && i < n_preds; i++) {
        const char *nm = preds[i].name;
        if (strncmp(nm, "Not", 3) != 0 || !nm[3]) continue;
        const char *positive = nm + 3;
        if (!bsearch(&positive, names, n_preds, sizeof *names, cmp_name))
            continue;
        hk_rsn_negation key = {(char *)nm, (char *)positive};
        if (n_declared &&
            bsearch(&key, declared, n_declared, sizeof *declared, cmp_negation))
            continue; /* declared already */
        rc = negation_add(res, &cap, nm, positive);
    }
done:
    hk_free(names);
    hk_free(declared);
    hk_name_counts_free(preds, n_preds);
    return rc;
}

/* ==== Rules ==== */

typedef struct rule_ctx {
    hk_rsn_check_res *res; /* where findings go */
    size_t cap_findings;   /* allocated entries of res->findings */
    const char *other;     /* negation rule: the positive predicate */
    hk_fact g;             /* scratch fact: the contradicting one */
} rule_ctx;

/* Records a finding naming facts[0..n); past HK_RSN_MAX_FINDINGS only
 * marks the result truncated. */
static hk_err add_finding(rule_ctx *ctx, hk_rsn_kind kind, const char *desc,
                          const hk_fact *const *facts, size_t n)
{
    hk_rsn_check_res *res = ctx->res;
    if (res->n_findings >= HK_RSN_MAX_FINDINGS) {
        res->truncated = true;
        return HK_OK;
    }
    if (res->n_findings == ctx->cap_findings) {
        size_t nc = ctx->cap_findings ? ctx->cap_findings * 2 : 16;
        hk_rsn_finding *nv = hk_realloc(res->findings, nc * sizeof *nv);
        if (!nv) return HK_ERR_NOMEM;
        res->findings = nv;
        ctx->cap_findings = nc;
    }
    hk_rsn_finding *fd = &res->findings[res->n_findings];
    memset(fd, 0, sizeof *fd);
    fd->kind = kind;
    snprintf(fd->description, sizeof fd->description, "%s", desc);
    res->n_findings++; /* from here its statements are freed with res */
    hk_buf b = HK_BUF_INIT;
    hk_err rc = HK_OK;
    for (size_t i = 0; rc == HK_OK && i < n && i < HK_RSN_FUNCTIONAL_MAX; i++) {
        rc = hk_statement_format(&facts[i]->st, &b);
        if (rc != HK_OK) break;
        fd->facts[i].id = facts[i]->id;
        fd->facts[i].statement = hk_strndup(b.data, b.len);
        if (!fd->facts[i].statement) rc = HK_ERR_NOMEM;
        fd->n_facts = i + 1;
        hk_buf_reset(&b);
    }
    hk_buf_free(&b);
    return rc;
}

typedef hk_err (*fact_fn)(hk_txn *t, const hk_fact *f, rule_ctx *ctx,
                          hk_error *err);

/* Runs fn over at most limit facts of pred with `arity` args (0 = any). */
static hk_err each_fact(hk_txn *t, const char *pred, uint32_t arity,
                        size_t limit, fact_fn fn, rule_ctx *ctx, hk_error *err)
{
    hk_scan scan = HK_SCAN_INIT;
    scan.predicate = pred;
    scan.arity = arity;
    hk_query *q = NULL;
    hk_fact f;
    hk_fact_init(&f);
    hk_err rc = hk_query_open_scan(t, &scan, NULL, &q, err);
    for (size_t i = 0; rc == HK_OK && i < limit && !ctx->res->truncated; i++) {
        bool has = false;
        rc = hk_query_next(q, &f, &has, err);
        if (rc != HK_OK || !has) break;
        ctx->res->examined++;
        rc = fn(t, &f, ctx, err);
    }
    hk_query_close(q);
    hk_fact_release(&f);
    return rc;
}

static hk_err rule_asymmetric(hk_txn *t, const hk_fact *f, rule_ctx *ctx,
                              hk_error *err)
{
    char desc[600];
    if (f->st.n_args != 2) return HK_OK;
    if (strcmp(f->st.args[0], f->st.args[1]) == 0) {
        const hk_fact *one[1] = {f};
        snprintf(desc, sizeof desc,
                 "%s is asymmetric, so nothing can be %s of itself",
                 f->st.predicate, f->st.predicate);
        return add_finding(ctx, HK_RSN_ASYMMETRIC_REFLEX, desc, one, 1);
    }
    hk_statement rev;
    memset(&rev, 0, sizeof rev);
    rev.predicate = f->st.predicate;
    rev.n_args = 2;
    rev.args[0] = f->st.args[1];
    rev.args[1] = f->st.args[0];
    hk_fact_id other = 0;
    hk_err rc = hk_store_find(t, &rev, &other, NULL);
    if (rc != HK_OK || other < f->id) return HK_OK; /* report once */
    rc = hk_store_get(t, other, &ctx->g, err);
    if (rc != HK_OK) return rc == HK_ERR_NOT_FOUND ? HK_OK : rc;
    const hk_fact *two[2] = {f, &ctx->g};
    snprintf(desc, sizeof desc,
             "%s is asymmetric but holds in both directions between %.200s "
             "and %.200s",
             f->st.predicate, f->st.args[0], f->st.args[1]);
    return add_finding(ctx, HK_RSN_ASYMMETRIC_CYCLE, desc, two, 2);
}

static hk_err rule_negation(hk_txn *t, const hk_fact *f, rule_ctx *ctx,
                            hk_error *err)
{
    hk_statement pos = f->st;
    pos.owned = NULL;
    pos.predicate = ctx->other;
    hk_fact_id other = 0;
    if (hk_store_find(t, &pos, &other, NULL) != HK_OK) return HK_OK;
    hk_err rc = hk_store_get(t, other, &ctx->g, err);
    if (rc != HK_OK) return rc == HK_ERR_NOT_FOUND ? HK_OK : rc;
    const hk_fact *two[2] = {&ctx->g, f};
    char desc[600];
    snprintf(desc, sizeof desc,
             "%s is the negation of %s and both hold for "
             "the same arguments",
             f->st.predicate, ctx->other);
    return add_finding(ctx, HK_RSN_NEGATION, desc, two, 2);
}

static hk_err rule_functional(hk_txn *t, const hk_fact *f, rule_ctx *ctx,
                              hk_error *err)
{
    enum { MAX = HK_RSN_FUNCTIONAL_MAX };
    if (f->st.n_args < 2) return HK_OK;
    hk_scan scan = HK_SCAN_INIT;
    scan.predicate = f->st.predicate;
    scan.entity = f->st.args[0];
    scan.position = 0;
    scan.arity = f->st.n_args;
    hk_query *q = NULL;
    hk_fact g[MAX];
    const hk_fact *ptrs[MAX];
    size_t n = 0;
    bool report = true;
    for (size_t i = 0; i < MAX; i++)
        hk_fact_init(&g[i]);
    hk_err rc = hk_query_open_scan(t, &scan, NULL, &q, err);
    for (size_t i = 0; rc == HK_OK && i < MAX; i++) {
        bool has = false;
        rc = hk_query_next(q, &g[n], &has, err);
        if (rc != HK_OK || !has) break;
        if (n == 0 && g[0].id != f->id) {
            report = false; /* reported when its first fact was examined */
            break;
        }
        n++;
    }
    hk_query_close(q);
    if (rc == HK_OK && report && n > 1) {
        for (size_t i = 0; i < n; i++)
            ptrs[i] = &g[i];
        char desc[600];
        snprintf(desc, sizeof desc,
                 "%s is functional but %.200s has %s%zu different values",
                 f->st.predicate, f->st.args[0], n == MAX ? "at least " : "",
                 n);
        rc = add_finding(ctx, HK_RSN_FUNCTIONAL, desc, ptrs, n);
    }
    for (size_t i = 0; i < MAX; i++)
        hk_fact_release(&g[i]);
    return rc;
}

/* ==== Contradictions ==== */

void hk_rsn_check_res_free(hk_rsn_check_res *res)
{
    for (size_t i = 0; i < res->n_asymmetric; i++)
        hk_free(res->asymmetric[i]);
    hk_free(res->asymmetric);
    for (size_t i = 0; i < res->n_functional; i++)
        hk_free(res->functional[i]);
    hk_free(res->functional);
    for (size_t i = 0; i < res->n_negations; i++) {
        hk_free(res->negations[i].negated);
        hk_free(res->negations[i].positive);
    }
    hk_free(res->negations);
    for (size_t i = 0; i < res->n_findings; i++)
        for (size_t k = 0; k < res->findings[i].n_facts; k++)
            hk_free(res->findings[i].facts[k].statement);
    hk_free(res->findings);
    memset(res, 0, sizeof *res);
}

static void progress(const hk_rsn_check_req *req, double done, double total,
                     const char *what)
{
    if (req->progress) req->progress(req->progress_ud, done, total, what);
}

hk_err hk_rsn_check(hk_txn *t, const hk_rsn_check_req *req,
                    hk_rsn_check_res *res, hk_error *err)
{
    static const char *const default_asym[] = {"IsA", "HasPart", "IsPartOf",
                                               "Causes"};
    memset(res, 0, sizeof *res);
    name_list asym = {0}, sym = {0}, func = {0};
    rule_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.res = res;
    hk_fact_init(&ctx.g);
    hk_err rc = HK_OK;
    for (size_t i = 0; rc == HK_OK && i < 4; i++)
        rc = list_add(&asym, default_asym[i]);
    if (rc == HK_OK) rc = read_decls(t, "Asymmetric", &asym, err);
    if (rc == HK_OK) rc = read_decls(t, "Symmetric", &sym, err);
    for (size_t i = 0; rc == HK_OK && i < sym.n; i++)
        list_remove(&asym, sym.v[i]);
    if (rc == HK_OK) rc = read_decls(t, "Functional", &func, err);
    if (rc == HK_OK) rc = read_negations(t, res, err);
    /* the result owns the lists from here */
    res->asymmetric = asym.v;
    res->n_asymmetric = asym.n;
    res->functional = func.v;
    res->n_functional = func.n;
    memset(&asym, 0, sizeof asym);
    memset(&func, 0, sizeof func);

    double rules =
        (double)(res->n_asymmetric + res->n_negations + res->n_functional);
    double done = 0;
    for (size_t i = 0; rc == HK_OK && i < res->n_asymmetric; i++) {
        rc = each_fact(t, res->asymmetric[i], 2, req->limit, rule_asymmetric,
                       &ctx, err);
        progress(req, ++done, rules, "asymmetric predicates");
    }
    for (size_t i = 0; rc == HK_OK && i < res->n_negations; i++) {
        ctx.other = res->negations[i].positive;
        rc = each_fact(t, res->negations[i].negated, 0, req->limit,
                       rule_negation, &ctx, err);
        progress(req, ++done, rules, "negations");
    }
    for (size_t i = 0; rc == HK_OK && i < res->n_functional; i++) {
        rc = each_fact(t, res->functional[i], 0, req->limit, rule_functional,
                       &ctx, err);
        progress(req, ++done, rules, "functional predicates");
    }
    if (rc == HK_ERR_NOMEM) hk_error_set(err, rc, "out of memory");
    if (rc != HK_OK) hk_rsn_check_res_free(res);
    list_free(&asym);
    list_free(&sym);
    list_free(&func);
    hk_fact_release(&ctx.g);
    return rc;
}

/* ==== Validation ==== */

typedef struct arity_cache {
    char *pred[ARITY_CACHE];   /* predicate names (owned) */
    int dominant[ARITY_CACHE]; /* arity of >= 90% of its facts, or -1 */
    size_t n;                  /* entries in use */
} arity_cache;

/* The dominant arity of pred, or -1 when there is none. */
static int dominant_arity(hk_txn *t, arity_cache *ac, const char *pred)
{
    for (size_t i = 0; i < ac->n; i++)
        if (strcmp(ac->pred[i], pred) == 0) return ac->dominant[i];
    uint64_t counts[HK_MAX_ARGS + 1];
    memset(counts, 0, sizeof counts);
    int dom = -1;
    if (hk_store_predicate_arities(t, pred, counts, NULL) == HK_OK) {
        uint64_t total = 0, best = 0;
        int arg = -1;
        for (int a = 0; a <= HK_MAX_ARGS; a++) {
            total += counts[a];
            if (counts[a] > best) {
                best = counts[a];
                arg = a;
            }
        }
        if (total > 0 && (double)best >= 0.9 * (double)total) dom = arg;
    }
    if (ac->n < ARITY_CACHE) {
        ac->pred[ac->n] = hk_strdup(pred);
        if (ac->pred[ac->n]) ac->dominant[ac->n++] = dom;
    }
    return dom;
}

void hk_rsn_validate_res_free(hk_rsn_validate_res *res)
{
    for (size_t i = 0; i < res->n_issues; i++)
        hk_free(res->issues[i].statement);
    hk_free(res->issues);
    memset(res, 0, sizeof *res);
}

static hk_err issue_add(hk_rsn_validate_res *res, size_t *cap,
                        hk_rsn_issue_kind kind, const hk_fact *f,
                        const hk_buf *statement, const char *msg)
{
    if (res->n_issues == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        hk_rsn_issue *nv = hk_realloc(res->issues, nc * sizeof *nv);
        if (!nv) return HK_ERR_NOMEM;
        res->issues = nv;
        *cap = nc;
    }
    hk_rsn_issue *is = &res->issues[res->n_issues];
    is->kind = kind;
    is->id = f->id;
    snprintf(is->message, sizeof is->message, "%s", msg);
    is->statement = hk_strndup(statement->data, statement->len);
    if (!is->statement) return HK_ERR_NOMEM;
    res->n_issues++;
    return HK_OK;
}

hk_err hk_rsn_validate(hk_txn *t, const hk_rsn_validate_req *req,
                       hk_rsn_validate_res *res, hk_error *err)
{
    memset(res, 0, sizeof *res);
    size_t cap = 0;
    hk_query *q = NULL;
    hk_fact f;
    hk_fact_init(&f);
    arity_cache *ac = hk_calloc(1, sizeof *ac);
    hk_buf b = HK_BUF_INIT;
    hk_scan scan = HK_SCAN_INIT;
    scan.newest_first = true;
    hk_err rc = ac ? HK_OK : HK_ERR_NOMEM;
    if (rc == HK_OK) rc = hk_query_open_scan(t, &scan, NULL, &q, err);
    for (; rc == HK_OK && res->examined < req->limit; res->examined++) {
        bool has = false;
        rc = hk_query_next(q, &f, &has, err);
        if (rc != HK_OK || !has) break;
        if (res->n_issues >= HK_RSN_MAX_FINDINGS) break;
        hk_buf_reset(&b);
        rc = hk_statement_format(&f.st, &b);
        if (rc != HK_OK) break;
        char msg[700];
        hk_error ve;
        hk_error_clear(&ve);
        if (hk_statement_validate(&f.st, &ve) != HK_OK) {
            snprintf(msg, sizeof msg, "invalid statement: %s", ve.message);
            rc = issue_add(res, &cap, HK_RSN_INVALID_SYNTAX, &f, &b, msg);
            continue;
        }
        int dom = dominant_arity(t, ac, f.st.predicate);
        if (dom >= 0 && (uint32_t)dom != f.st.n_args) {
            snprintf(msg, sizeof msg,
                     "%s usually has %d argument%s but this fact has %u",
                     f.st.predicate, dom, dom == 1 ? "" : "s", f.st.n_args);
            rc = issue_add(res, &cap, HK_RSN_UNUSUAL_ARITY, &f, &b, msg);
        }
    }
    hk_query_close(q);
    hk_fact_release(&f);
    hk_buf_free(&b);
    for (size_t i = 0; ac && i < ac->n; i++)
        hk_free(ac->pred[i]);
    hk_free(ac);
    if (rc == HK_ERR_NOMEM) hk_error_set(err, rc, "out of memory");
    if (rc != HK_OK) hk_rsn_validate_res_free(res);
    return rc;
}
