/*
 * mcp_tools_analysis.c — the eight analysis tools: similarity and
 * duplicates (lexical, mcp_similar.c), contradictions, validation,
 * entity / predicate statistics, facts of a predicate or an entity.
 *
 * Contradiction rules (consistency_check) read their declarations from the
 * KB itself, as ordinary facts:
 *   Asymmetric(P)        P(a, b) and P(b, a) contradict; P(a, a) too.
 *                        Default asymmetric: IsA, HasPart, IsPartOf,
 *                        Causes; a Symmetric(P) fact removes a default.
 *   Functional(P)        P(a, x) and P(a, y) with x != y contradict.
 *   NegationOf(N, P)     N(args) and P(args) contradict. Without a
 *                        declaration, NotP is the negation of P for every
 *                        predicate P present in the KB.
 * Every scan is bounded by the limit argument (facts examined per rule)
 * and findings by MAX_FINDINGS.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/mcp_tools.h"

#define MAX_FINDINGS 1000           /* contradictions / issues reported */
#define SIM_CANDIDATES 500          /* search hits compared by similarity */
#define DUP_WINDOW 20000            /* newest facts analyze_duplicates reads */
#define DUP_MAX_DF 200              /* tokens in more facts do not pair facts */
#define DUP_MAX_COMPARISONS 5000000 /* similarity evaluations per call */
#define DECL_MAX 10000              /* declaration facts read per kind */

/* ==== search_by_predicate / query_related ==== */

static hk_err scan_tool(mcp_call *c, const char *key, bool by_entity,
                        json_t **out, hk_error *err)
{
    const char *name = mcp_arg_str(c, key, "");
    size_t limit = (size_t)mcp_arg_int(c, "limit", 100);
    hk_txn *t = NULL;
    json_t *facts = NULL;
    uint64_t total = 0;
    hk_scan scan = HK_SCAN_INIT;
    if (by_entity)
        scan.entity = name;
    else
        scan.predicate = name;
    hk_err rc = mcp_read_begin(c, &t, err);
    if (rc == HK_OK)
        rc = by_entity ? hk_store_count_entity(t, name, &total, err)
                       : hk_store_count_predicate(t, name, &total, err);
    if (rc == HK_OK) rc = mcp_scan_facts(c, t, &scan, limit, &facts, err);
    if (t) hk_txn_abort(t);
    if (rc != HK_OK) return rc;
    *out =
        json_pack("{s:s, s:I, s:I, s:o}", key, name, "total", (json_int_t)total,
                  "count", (json_int_t)json_array_size(facts), "facts", facts);
    return *out ? HK_OK : HK_ERR_NOMEM;
}

hk_err mcp_t_search_by_predicate(mcp_call *c, json_t **out, hk_error *err)
{
    return scan_tool(c, "predicate", false, out, err);
}

hk_err mcp_t_query_related(mcp_call *c, json_t **out, hk_error *err)
{
    return scan_tool(c, "entity", true, out, err);
}

/* ==== semantic_similarity ==== */

static int cmp_score_desc(const void *a, const void *b)
{
    double x = json_real_value(json_object_get(*(json_t *const *)a, "score"));
    double y = json_real_value(json_object_get(*(json_t *const *)b, "score"));
    return x < y ? 1 : x > y ? -1 : 0;
}

hk_err mcp_t_semantic_similarity(mcp_call *c, json_t **out, hk_error *err)
{
    const char *text = mcp_arg_str(c, "statement", "");
    double threshold = mcp_arg_num(c, "threshold", 0.8);
    size_t limit = (size_t)mcp_arg_int(c, "limit", 50);
    mcp_profile want, got;
    memset(&got, 0, sizeof got);
    hk_txn *t = NULL;
    hk_search_hit *hits = NULL;
    size_t n = 0;
    hk_fact f;
    hk_fact_init(&f);
    hk_buf canon = HK_BUF_INIT;
    json_t **found = NULL;
    size_t n_found = 0;
    hk_err rc = mcp_profile_build(text, strlen(text), &want);
    if (rc != HK_OK) return hk_error_set(err, rc, "cannot profile statement");
    rc = mcp_read_begin(c, &t, err);
    if (rc == HK_OK)
        rc = hk_store_search(t, text, SIM_CANDIDATES, &hits, &n, err);
    if (rc == HK_OK && n > 0) {
        found = calloc(n, sizeof *found);
        if (!found) rc = HK_ERR_NOMEM;
    }
    for (size_t i = 0; rc == HK_OK && i < n; i++) {
        if (hk_store_get(t, hits[i].id, &f, NULL) != HK_OK) continue;
        rc = mcp_fact_statement(&f, &canon);
        if (rc == HK_OK) rc = mcp_profile_build(canon.data, canon.len, &got);
        if (rc != HK_OK) break;
        double score = mcp_similarity(&want, &got);
        mcp_profile_release(&got);
        if (score + 1e-12 < threshold) continue;
        json_t *j = hk_svc_fact_jansson(&f);
        if (!j) {
            rc = HK_ERR_NOMEM;
            break;
        }
        json_object_set_new(j, "score", json_real(round(score * 1e4) / 1e4));
        found[n_found++] = j;
    }
    if (t) hk_txn_abort(t);
    hk_free(hits);
    hk_fact_release(&f);
    hk_buf_free(&canon);
    mcp_profile_release(&want);
    json_t *matches = json_array();
    if (n_found) qsort(found, n_found, sizeof *found, cmp_score_desc);
    for (size_t i = 0; i < n_found; i++) {
        if (rc == HK_OK && i < limit && matches)
            json_array_append_new(matches, found[i]);
        else
            json_decref(found[i]);
    }
    free(found);
    if (rc != HK_OK || !matches) {
        json_decref(matches);
        return rc != HK_OK ? rc : HK_ERR_NOMEM;
    }
    *out = json_pack(
        "{s:s, s:s, s:f, s:I, s:I, s:o}", "statement", text, "method",
        "lexical: mean of word-set and character-trigram Jaccard "
        "similarity of canonical statements (camelCase split)",
        "threshold", threshold, "candidates_examined", (json_int_t)n, "count",
        (json_int_t)json_array_size(matches), "matches", matches);
    return *out ? HK_OK : HK_ERR_NOMEM;
}

/* ==== consistency_check ==== */

/* A small set of predicate names. */
typedef struct name_set {
    char **v; /* names (owned) */
    size_t n; /* count */
} name_set;

static bool set_has(const name_set *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], name) == 0) return true;
    return false;
}

static hk_err set_add(name_set *s, const char *name)
{
    if (set_has(s, name)) return HK_OK;
    char **nv = realloc(s->v, (s->n + 1) * sizeof *nv);
    if (!nv) return HK_ERR_NOMEM;
    s->v = nv;
    if (!(s->v[s->n] = strdup(name))) return HK_ERR_NOMEM;
    s->n++;
    return HK_OK;
}

static void set_remove(name_set *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->v[i], name) == 0) {
            free(s->v[i]);
            s->v[i] = s->v[--s->n];
            return;
        }
    }
}

static void set_free(name_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

/* Reads the arguments of every fact of predicate `decl` with the given
 * arity; pos selects the argument (or -1: both of a pair into a and b). */
static hk_err read_decls(hk_txn *t, const char *decl, uint32_t arity,
                         name_set *a, name_set *b, hk_error *err)
{
    hk_scan scan = HK_SCAN_INIT;
    scan.predicate = decl;
    scan.arity = arity;
    hk_query *q = NULL;
    hk_fact f;
    hk_fact_init(&f);
    hk_err rc = hk_query_open_scan(t, &scan, NULL, &q, err);
    for (size_t i = 0; rc == HK_OK && i < DECL_MAX; i++) {
        bool has = false;
        rc = hk_query_next(q, &f, &has, err);
        if (rc != HK_OK || !has) break;
        if (f.st.n_args != arity) continue;
        rc = set_add(a, f.st.args[0]);
        if (rc == HK_OK && b) rc = set_add(b, f.st.args[1]);
    }
    hk_query_close(q);
    hk_fact_release(&f);
    return rc;
}

typedef struct findings {
    json_t *list;      /* array of findings */
    bool truncated;    /* MAX_FINDINGS reached */
    uint64_t examined; /* facts examined over all rules */
} findings;

static hk_err add_finding(findings *fs, const char *kind, const char *desc,
                          const hk_fact *const *facts, size_t n)
{
    if (json_array_size(fs->list) >= MAX_FINDINGS) {
        fs->truncated = true;
        return HK_OK;
    }
    json_t *stm = json_array(), *ids = json_array();
    hk_buf b = HK_BUF_INIT;
    hk_err rc = stm && ids ? HK_OK : HK_ERR_NOMEM;
    for (size_t i = 0; rc == HK_OK && i < n; i++) {
        rc = mcp_fact_statement(facts[i], &b);
        if (rc == HK_OK) {
            json_array_append_new(stm, json_string(b.data));
            json_array_append_new(ids, json_integer((json_int_t)facts[i]->id));
        }
    }
    hk_buf_free(&b);
    if (rc != HK_OK) {
        json_decref(stm);
        json_decref(ids);
        return rc;
    }
    json_t *o = json_pack("{s:s, s:s, s:o, s:o}", "kind", kind, "description",
                          desc, "facts", stm, "fact_ids", ids);
    if (!o) return HK_ERR_NOMEM;
    json_array_append_new(fs->list, o);
    return HK_OK;
}

/* Facts of pred with `arity` args, up to limit, calling fn for each. */
typedef hk_err (*fact_fn)(hk_txn *t, const hk_fact *f, void *ud, hk_error *err);

static hk_err each_fact(hk_txn *t, const char *pred, uint32_t arity,
                        size_t limit, fact_fn fn, void *ud, findings *fs,
                        hk_error *err)
{
    hk_scan scan = HK_SCAN_INIT;
    scan.predicate = pred;
    scan.arity = arity;
    hk_query *q = NULL;
    hk_fact f;
    hk_fact_init(&f);
    hk_err rc = hk_query_open_scan(t, &scan, NULL, &q, err);
    for (size_t i = 0; rc == HK_OK && i < limit && !fs->truncated; i++) {
        bool has = false;
        rc = hk_query_next(q, &f, &has, err);
        if (rc != HK_OK || !has) break;
        fs->examined++;
        rc = fn(t, &f, ud, err);
    }
    hk_query_close(q);
    hk_fact_release(&f);
    return rc;
}

typedef struct rule_ctx {
    findings *fs;      /* where findings go */
    const char *other; /* negation: the positive predicate */
    hk_fact g;         /* scratch fact */
} rule_ctx;

static hk_err rule_asymmetric(hk_txn *t, const hk_fact *f, void *ud,
                              hk_error *err)
{
    rule_ctx *rc_ = ud;
    char desc[600];
    if (f->st.n_args != 2) return HK_OK;
    if (strcmp(f->st.args[0], f->st.args[1]) == 0) {
        const hk_fact *one[1] = {f};
        snprintf(desc, sizeof desc,
                 "%s is asymmetric, so nothing can be %s of itself",
                 f->st.predicate, f->st.predicate);
        return add_finding(rc_->fs, "asymmetric_reflexive", desc, one, 1);
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
    rc = hk_store_get(t, other, &rc_->g, err);
    if (rc != HK_OK) return rc == HK_ERR_NOT_FOUND ? HK_OK : rc;
    const hk_fact *two[2] = {f, &rc_->g};
    snprintf(desc, sizeof desc,
             "%s is asymmetric but holds in both directions between %.200s "
             "and %.200s",
             f->st.predicate, f->st.args[0], f->st.args[1]);
    return add_finding(rc_->fs, "asymmetric_cycle", desc, two, 2);
}

static hk_err rule_negation(hk_txn *t, const hk_fact *f, void *ud,
                            hk_error *err)
{
    rule_ctx *rc_ = ud;
    hk_statement pos = f->st;
    pos.owned = NULL;
    pos.predicate = rc_->other;
    hk_fact_id other = 0;
    if (hk_store_find(t, &pos, &other, NULL) != HK_OK) return HK_OK;
    hk_err rc = hk_store_get(t, other, &rc_->g, err);
    if (rc != HK_OK) return rc == HK_ERR_NOT_FOUND ? HK_OK : rc;
    const hk_fact *two[2] = {&rc_->g, f};
    char desc[600];
    snprintf(desc, sizeof desc,
             "%s is the negation of %s and both hold for "
             "the same arguments",
             f->st.predicate, rc_->other);
    return add_finding(rc_->fs, "negation", desc, two, 2);
}

static hk_err rule_functional(hk_txn *t, const hk_fact *f, void *ud,
                              hk_error *err)
{
    rule_ctx *rc_ = ud;
    if (f->st.n_args < 2) return HK_OK;
    hk_scan scan = HK_SCAN_INIT;
    scan.predicate = f->st.predicate;
    scan.entity = f->st.args[0];
    scan.position = 0;
    scan.arity = f->st.n_args;
    hk_query *q = NULL;
    hk_fact g[8];
    const hk_fact *ptrs[8];
    size_t n = 0;
    bool report = true;
    for (size_t i = 0; i < 8; i++)
        hk_fact_init(&g[i]);
    hk_err rc = hk_query_open_scan(t, &scan, NULL, &q, err);
    for (size_t i = 0; rc == HK_OK && i < 8; i++) {
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
                 f->st.predicate, f->st.args[0], n == 8 ? "at least " : "", n);
        rc = add_finding(rc_->fs, "functional_conflict", desc, ptrs, n);
    }
    for (size_t i = 0; i < 8; i++)
        hk_fact_release(&g[i]);
    return rc;
}

/* qsort/bsearch over const char * names */
static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* qsort/bsearch over [negated, positive] pairs (JSON arrays of strings) */
static int cmp_pair(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    for (size_t i = 0; i < 2; i++) {
        const char *s = json_string_value(json_array_get(x, i));
        const char *t = json_string_value(json_array_get(y, i));
        int c = strcmp(s ? s : "", t ? t : "");
        if (c) return c;
    }
    return 0;
}

hk_err mcp_t_consistency_check(mcp_call *c, json_t **out, hk_error *err)
{
    size_t limit = (size_t)mcp_arg_int(c, "limit", 1000);
    static const char *const default_asym[] = {"IsA", "HasPart", "IsPartOf",
                                               "Causes"};
    name_set asym = {0}, sym = {0}, func = {0}, neg = {0}, pos = {0};
    findings fs = {json_array(), false, 0};
    rule_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.fs = &fs;
    hk_fact_init(&ctx.g);
    hk_txn *t = NULL;
    hk_name_count *preds = NULL;
    size_t n_preds = 0;
    hk_err rc = fs.list ? mcp_read_begin(c, &t, err) : HK_ERR_NOMEM;
    for (size_t i = 0; rc == HK_OK && i < 4; i++)
        rc = set_add(&asym, default_asym[i]);
    if (rc == HK_OK) rc = read_decls(t, "Asymmetric", 1, &asym, NULL, err);
    if (rc == HK_OK) rc = read_decls(t, "Symmetric", 1, &sym, NULL, err);
    for (size_t i = 0; rc == HK_OK && i < sym.n; i++)
        set_remove(&asym, sym.v[i]);
    if (rc == HK_OK) rc = read_decls(t, "Functional", 1, &func, NULL, err);
    if (rc == HK_OK) rc = read_decls(t, "NegationOf", 2, &neg, &pos, err);
    /* read_decls adds pairs to two sets; re-read to keep them paired */
    set_free(&neg);
    set_free(&pos);
    json_t *neg_pairs = json_array();
    if (rc == HK_OK) {
        hk_scan scan = HK_SCAN_INIT;
        scan.predicate = "NegationOf";
        scan.arity = 2;
        hk_query *q = NULL;
        hk_fact f;
        hk_fact_init(&f);
        rc = hk_query_open_scan(t, &scan, NULL, &q, err);
        for (size_t i = 0; rc == HK_OK && i < DECL_MAX; i++) {
            bool has = false;
            rc = hk_query_next(q, &f, &has, err);
            if (rc != HK_OK || !has) break;
            json_array_append_new(
                neg_pairs, json_pack("[s,s]", f.st.args[0], f.st.args[1]));
        }
        hk_query_close(q);
        hk_fact_release(&f);
    }
    /* naming convention NotP <-> P for predicates present in the KB.
     * Lookups are binary searches over sorted copies: a KB may hold up
     * to 100000 predicates, and nested scans took minutes. */
    if (rc == HK_OK)
        rc = hk_store_list_predicates(t, NULL, 100000, &preds, &n_preds, err);
    const char **names = NULL;
    json_t **declared = NULL;
    size_t n_declared = json_array_size(neg_pairs);
    if (rc == HK_OK && n_preds) {
        names = malloc(n_preds * sizeof *names);
        declared = malloc((n_declared ? n_declared : 1) * sizeof *declared);
        if (!names || !declared) rc = HK_ERR_NOMEM;
    }
    if (rc == HK_OK && n_preds) {
        for (size_t i = 0; i < n_preds; i++)
            names[i] = preds[i].name;
        qsort(names, n_preds, sizeof *names, cmp_name);
        for (size_t i = 0; i < n_declared; i++)
            declared[i] = json_array_get(neg_pairs, i);
        qsort(declared, n_declared, sizeof *declared, cmp_pair);
    }
    for (size_t i = 0; rc == HK_OK && i < n_preds; i++) {
        const char *nm = preds[i].name;
        if (strncmp(nm, "Not", 3) != 0 || !nm[3]) continue;
        const char *positive = nm + 3;
        if (!bsearch(&positive, names, n_preds, sizeof *names, cmp_name))
            continue;
        json_t *pair = json_pack("[s,s]", nm, positive);
        if (!pair) {
            rc = HK_ERR_NOMEM;
            break;
        }
        if (n_declared &&
            bsearch(&pair, declared, n_declared, sizeof *declared, cmp_pair))
            json_decref(pair); /* declared already */
        else
            json_array_append_new(neg_pairs, pair);
    }
    free(names);
    free(declared);
    double rules = (double)(asym.n + json_array_size(neg_pairs) + func.n);
    double done = 0;
    for (size_t i = 0; rc == HK_OK && i < asym.n; i++) {
        rc = each_fact(t, asym.v[i], 2, limit, rule_asymmetric, &ctx, &fs, err);
        mcp_progress(c, ++done, rules, "asymmetric predicates");
    }
    size_t x;
    json_t *p;
    json_array_foreach(neg_pairs, x, p)
    {
        if (rc != HK_OK) break;
        ctx.other = json_string_value(json_array_get(p, 1));
        rc = each_fact(t, json_string_value(json_array_get(p, 0)), 0, limit,
                       rule_negation, &ctx, &fs, err);
        mcp_progress(c, ++done, rules, "negations");
    }
    for (size_t i = 0; rc == HK_OK && i < func.n; i++) {
        rc = each_fact(t, func.v[i], 0, limit, rule_functional, &ctx, &fs, err);
        mcp_progress(c, ++done, rules, "functional predicates");
    }
    if (t) hk_txn_abort(t);
    hk_name_counts_free(preds, n_preds);
    hk_fact_release(&ctx.g);
    json_t *decl = json_object();
    json_t *ja = json_array(), *jf = json_array();
    for (size_t i = 0; i < asym.n; i++)
        json_array_append_new(ja, json_string(asym.v[i]));
    for (size_t i = 0; i < func.n; i++)
        json_array_append_new(jf, json_string(func.v[i]));
    json_object_set_new(decl, "asymmetric", ja);
    json_object_set_new(decl, "functional", jf);
    json_object_set_new(decl, "negations", neg_pairs);
    set_free(&asym);
    set_free(&sym);
    set_free(&func);
    if (rc != HK_OK) {
        json_decref(decl);
        json_decref(fs.list);
        return rc;
    }
    *out = json_pack(
        "{s:I, s:I, s:b, s:o, s:o}", "examined", (json_int_t)fs.examined,
        "count", (json_int_t)json_array_size(fs.list), "truncated",
        fs.truncated, "declarations", decl, "contradictions", fs.list);
    return *out ? HK_OK : HK_ERR_NOMEM;
}

/* ==== validate_facts ==== */

typedef struct arity_cache {
    char *pred[256];   /* predicate names */
    int dominant[256]; /* arity of >= 90% of its facts, or -1 */
    size_t n;          /* entries */
} arity_cache;

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
    if (ac->n < 256) {
        ac->pred[ac->n] = strdup(pred);
        if (ac->pred[ac->n]) ac->dominant[ac->n++] = dom;
    }
    return dom;
}

hk_err mcp_t_validate_facts(mcp_call *c, json_t **out, hk_error *err)
{
    size_t limit = (size_t)mcp_arg_int(c, "limit", 1000);
    hk_txn *t = NULL;
    hk_query *q = NULL;
    hk_fact f;
    hk_fact_init(&f);
    arity_cache ac;
    memset(&ac, 0, sizeof ac);
    hk_buf b = HK_BUF_INIT;
    json_t *issues = json_array();
    size_t examined = 0;
    hk_scan scan = HK_SCAN_INIT;
    scan.newest_first = true;
    hk_err rc = issues ? mcp_read_begin(c, &t, err) : HK_ERR_NOMEM;
    if (rc == HK_OK) rc = hk_query_open_scan(t, &scan, NULL, &q, err);
    for (; rc == HK_OK && examined < limit; examined++) {
        bool has = false;
        rc = hk_query_next(q, &f, &has, err);
        if (rc != HK_OK || !has) break;
        if (json_array_size(issues) >= MAX_FINDINGS) break;
        hk_error ve;
        hk_error_clear(&ve);
        rc = mcp_fact_statement(&f, &b);
        if (rc != HK_OK) break;
        char msg[700];
        if (hk_statement_validate(&f.st, &ve) != HK_OK) {
            snprintf(msg, sizeof msg, "invalid statement: %s", ve.message);
            json_array_append_new(
                issues, json_pack("{s:s, s:I, s:s, s:s}", "kind",
                                  "invalid_syntax", "fact_id", (json_int_t)f.id,
                                  "statement", b.data, "message", msg));
            continue;
        }
        int dom = dominant_arity(t, &ac, f.st.predicate);
        if (dom >= 0 && (uint32_t)dom != f.st.n_args) {
            snprintf(msg, sizeof msg,
                     "%s usually has %d argument%s but this fact has %u",
                     f.st.predicate, dom, dom == 1 ? "" : "s", f.st.n_args);
            json_array_append_new(
                issues, json_pack("{s:s, s:I, s:s, s:s}", "kind",
                                  "unusual_arity", "fact_id", (json_int_t)f.id,
                                  "statement", b.data, "message", msg));
        }
    }
    hk_query_close(q);
    if (t) hk_txn_abort(t);
    hk_fact_release(&f);
    hk_buf_free(&b);
    for (size_t i = 0; i < ac.n; i++)
        free(ac.pred[i]);
    if (rc != HK_OK) {
        json_decref(issues);
        return rc;
    }
    *out =
        json_pack("{s:I, s:I, s:o}", "examined", (json_int_t)examined, "count",
                  (json_int_t)json_array_size(issues), "issues", issues);
    return *out ? HK_OK : HK_ERR_NOMEM;
}

/* ==== get_entities_stats ==== */

#define TOP_ENTITIES 1000
#define ENTITY_PAGE 10000
#define ENTITY_MAX_PAGES 10000 /* 100M entities */

typedef struct top_heap {
    hk_name_count v[TOP_ENTITIES]; /* min-heap by count; names owned */
    size_t n;                      /* entries */
} top_heap;

static void heap_swap(top_heap *h, size_t a, size_t b)
{
    hk_name_count t = h->v[a];
    h->v[a] = h->v[b];
    h->v[b] = t;
}

static void heap_down(top_heap *h, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && h->v[l].count < h->v[m].count) m = l;
        if (r < h->n && h->v[r].count < h->v[m].count) m = r;
        if (m == i) return;
        heap_swap(h, i, m);
        i = m;
    }
}

static hk_err heap_offer(top_heap *h, const hk_name_count *nc)
{
    if (h->n == TOP_ENTITIES && nc->count <= h->v[0].count) return HK_OK;
    char *name = strdup(nc->name);
    if (!name) return HK_ERR_NOMEM;
    if (h->n < TOP_ENTITIES) {
        size_t i = h->n++;
        h->v[i] = *nc;
        h->v[i].name = name;
        while (i > 0 && h->v[(i - 1) / 2].count > h->v[i].count) {
            heap_swap(h, i, (i - 1) / 2);
            i = (i - 1) / 2;
        }
    } else {
        free(h->v[0].name);
        h->v[0] = *nc;
        h->v[0].name = name;
        heap_down(h, 0);
    }
    return HK_OK;
}

static int cmp_count_desc(const void *a, const void *b)
{
    const hk_name_count *x = a, *y = b;
    if (x->count != y->count) return x->count < y->count ? 1 : -1;
    return strcmp(x->name, y->name);
}

hk_err mcp_t_get_entities_stats(mcp_call *c, json_t **out, hk_error *err)
{
    uint64_t min = (uint64_t)mcp_arg_int(c, "min_occurrences", 2);
    top_heap *h = calloc(1, sizeof *h);
    hk_txn *t = NULL;
    char *after = NULL;
    uint64_t matching = 0;
    hk_err rc = h ? mcp_read_begin(c, &t, err) : HK_ERR_NOMEM;
    for (size_t page = 0; rc == HK_OK && page < ENTITY_MAX_PAGES; page++) {
        hk_name_count *v = NULL;
        size_t n = 0;
        rc = hk_store_list_entities(t, after, ENTITY_PAGE, min, &v, &n, err);
        if (rc != HK_OK) break;
        for (size_t i = 0; rc == HK_OK && i < n; i++) {
            if (v[i].count < min) continue;
            matching++;
            rc = heap_offer(h, &v[i]);
        }
        if (page % 5 == 4)
            mcp_progress(c, (double)matching, 0, "entities counted");
        free(after);
        after = n ? strdup(v[n - 1].name) : NULL;
        hk_name_counts_free(v, n);
        if (n < ENTITY_PAGE || !after) break;
    }
    free(after);
    if (t) hk_txn_abort(t);
    json_t *arr = json_array();
    if (h) {
        qsort(h->v, h->n, sizeof h->v[0], cmp_count_desc);
        for (size_t i = 0; i < h->n; i++) {
            if (rc == HK_OK && arr)
                json_array_append_new(
                    arr, json_pack("{s:s, s:I}", "name", h->v[i].name, "count",
                                   (json_int_t)h->v[i].count));
            free(h->v[i].name);
        }
        free(h);
    }
    if (rc != HK_OK || !arr) {
        json_decref(arr);
        return rc != HK_OK ? rc : HK_ERR_NOMEM;
    }
    *out = json_pack("{s:I, s:I, s:I, s:o}", "min_occurrences", (json_int_t)min,
                     "matching", (json_int_t)matching, "count",
                     (json_int_t)json_array_size(arr), "entities", arr);
    return *out ? HK_OK : HK_ERR_NOMEM;
}

/* ==== get_predicates_stats ==== */

hk_err mcp_t_get_predicates_stats(mcp_call *c, json_t **out, hk_error *err)
{
    hk_txn *t = NULL;
    hk_name_count *v = NULL;
    size_t n = 0;
    hk_err rc = mcp_read_begin(c, &t, err);
    if (rc == HK_OK)
        rc = hk_store_list_predicates(t, NULL, 100000, &v, &n, err);
    if (t) hk_txn_abort(t);
    if (rc != HK_OK) return rc;
    qsort(v, n, sizeof *v, cmp_count_desc);
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++)
        json_array_append_new(arr, json_pack("{s:s, s:I, s:i, s:i}", "name",
                                             v[i].name, "count",
                                             (json_int_t)v[i].count,
                                             "min_arity", (int)v[i].min_arity,
                                             "max_arity", (int)v[i].max_arity));
    hk_name_counts_free(v, n);
    if (!arr) return HK_ERR_NOMEM;
    *out = json_pack("{s:I, s:o}", "count", (json_int_t)json_array_size(arr),
                     "predicates", arr);
    return *out ? HK_OK : HK_ERR_NOMEM;
}

/* ==== analyze_duplicates ==== */

typedef struct tok_ref {
    uint64_t hash; /* token hash */
    uint32_t idx;  /* fact index in the window */
} tok_ref;

static int cmp_tok_ref(const void *a, const void *b)
{
    const tok_ref *x = a, *y = b;
    if (x->hash != y->hash) return x->hash < y->hash ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

typedef struct dup_pair {
    double score;  /* similarity */
    uint32_t a, b; /* window indices */
} dup_pair;

static int cmp_pair_desc(const void *a, const void *b)
{
    const dup_pair *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    if (x->a != y->a) return x->a < y->a ? -1 : 1;
    return x->b < y->b ? -1 : x->b > y->b;
}

hk_err mcp_t_analyze_duplicates(mcp_call *c, json_t **out, hk_error *err)
{
    double threshold = mcp_arg_num(c, "threshold", 0.9);
    size_t max_pairs = (size_t)mcp_arg_int(c, "max_pairs", 200);
    hk_txn *t = NULL;
    hk_query *q = NULL;
    hk_fact f;
    hk_fact_init(&f);
    hk_buf b = HK_BUF_INIT;
    mcp_profile *prof = calloc(DUP_WINDOW, sizeof *prof);
    hk_fact_id *ids = calloc(DUP_WINDOW, sizeof *ids);
    uint32_t *seen = calloc(DUP_WINDOW, sizeof *seen);
    tok_ref *refs = NULL;
    size_t n_refs = 0, cap_refs = 0, n = 0;
    dup_pair *pairs = NULL;
    size_t n_pairs = 0, cap_pairs = 0;
    json_t *arr = NULL;
    hk_scan scan = HK_SCAN_INIT;
    scan.newest_first = true;
    hk_err rc = prof && ids && seen ? mcp_read_begin(c, &t, err) : HK_ERR_NOMEM;
    if (rc == HK_OK) rc = hk_query_open_scan(t, &scan, NULL, &q, err);
    while (rc == HK_OK && n < DUP_WINDOW) {
        bool has = false;
        rc = hk_query_next(q, &f, &has, err);
        if (rc != HK_OK || !has) break;
        rc = mcp_fact_statement(&f, &b);
        if (rc == HK_OK) rc = mcp_profile_build(b.data, b.len, &prof[n]);
        if (rc != HK_OK) break;
        ids[n] = f.id;
        if (n % 5000 == 4999)
            mcp_progress(c, (double)n + 1, 2.0 * DUP_WINDOW, "profiling facts");
        for (size_t k = 0; k < prof[n].n_tokens; k++) {
            if (n_refs == cap_refs) {
                size_t nc = cap_refs ? cap_refs * 2 : 4096;
                tok_ref *nr = realloc(refs, nc * sizeof *nr);
                if (!nr) {
                    rc = HK_ERR_NOMEM;
                    break;
                }
                refs = nr;
                cap_refs = nc;
            }
            refs[n_refs].hash = prof[n].tokens[k];
            refs[n_refs++].idx = (uint32_t)n;
        }
        n++;
    }
    hk_query_close(q);
    q = NULL;
    if (rc == HK_OK && n_refs) qsort(refs, n_refs, sizeof *refs, cmp_tok_ref);
    size_t comparisons = 0;
    for (uint32_t i = 0; rc == HK_OK && i < n; i++) {
        if (i % 5000 == 4999)
            mcp_progress(c, (double)DUP_WINDOW + i + 1, 2.0 * DUP_WINDOW,
                         "comparing facts");
        for (size_t k = 0; k < prof[i].n_tokens; k++) {
            /* find the run of this token */
            size_t lo = 0, hi = n_refs;
            uint64_t h = prof[i].tokens[k];
            while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (refs[mid].hash < h)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            size_t end = lo;
            while (end < n_refs && refs[end].hash == h)
                end++;
            if (end - lo > DUP_MAX_DF) continue;
            for (size_t r = lo; r < end; r++) {
                uint32_t j = refs[r].idx;
                if (j <= i || seen[j] == i + 1) continue;
                seen[j] = i + 1;
                if (++comparisons > DUP_MAX_COMPARISONS) break;
                double s = mcp_similarity(&prof[i], &prof[j]);
                if (s + 1e-12 < threshold) continue;
                if (n_pairs == cap_pairs) {
                    size_t nc = cap_pairs ? cap_pairs * 2 : 256;
                    dup_pair *np = realloc(pairs, nc * sizeof *np);
                    if (!np) {
                        rc = HK_ERR_NOMEM;
                        break;
                    }
                    pairs = np;
                    cap_pairs = nc;
                }
                pairs[n_pairs].score = s;
                pairs[n_pairs].a = i;
                pairs[n_pairs++].b = j;
            }
            if (rc != HK_OK) break;
        }
    }
    if (rc == HK_OK) {
        if (n_pairs) qsort(pairs, n_pairs, sizeof *pairs, cmp_pair_desc);
        arr = json_array();
        hk_fact g;
        hk_fact_init(&g);
        for (size_t i = 0; arr && rc == HK_OK && i < n_pairs && i < max_pairs;
             i++) {
            json_t *ja = NULL, *jb = NULL;
            if (hk_store_get(t, ids[pairs[i].a], &f, err) == HK_OK)
                ja = hk_svc_fact_jansson(&f);
            if (hk_store_get(t, ids[pairs[i].b], &g, err) == HK_OK)
                jb = hk_svc_fact_jansson(&g);
            if (ja && jb)
                json_array_append_new(
                    arr, json_pack("{s:f, s:o, s:o}", "score",
                                   round(pairs[i].score * 1e4) / 1e4, "a", ja,
                                   "b", jb));
            else {
                json_decref(ja);
                json_decref(jb);
            }
        }
        hk_fact_release(&g);
    }
    if (t) hk_txn_abort(t);
    for (size_t i = 0; prof && i < n; i++)
        mcp_profile_release(&prof[i]);
    free(prof);
    free(ids);
    free(seen);
    free(refs);
    free(pairs);
    hk_fact_release(&f);
    hk_buf_free(&b);
    if (rc != HK_OK || !arr) {
        json_decref(arr);
        return rc != HK_OK ? rc : HK_ERR_NOMEM;
    }
    *out = json_pack("{s:s, s:f, s:I, s:I, s:o}", "method",
                     "lexical: mean of word-set and character-trigram Jaccard "
                     "similarity of canonical statements (camelCase split), "
                     "newest 20000 facts, pairs sharing a word",
                     "threshold", threshold, "examined", (json_int_t)n, "count",
                     (json_int_t)json_array_size(arr), "pairs", arr);
    return *out ? HK_OK : HK_ERR_NOMEM;
}
