/*
 * mcp_tools_analysis.c — the eight analysis tools: similarity and
 * duplicates (src/similar), contradictions and validation (src/reason),
 * entity / predicate statistics, facts of a predicate or an entity.
 *
 * The analysis tools are adapters of the service layer: they read their
 * arguments (already checked against the input schema), run the service
 * function in a read transaction, and render its typed result as the JSON
 * the legacy tools answered. Progress of a long scan goes to the client as
 * notifications/progress.
 */
#include <stdlib.h>
#include <string.h>

#include "mcp/mcp_tools.h"

/* Sends a domain scan's progress to the client of call ud. */
static void on_progress(void *ud, double done, double total, const char *what)
{
    mcp_progress(ud, done, total, what);
}

/* A JSON array of strings; NULL when out of memory. */
static json_t *string_array(char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        if (json_array_append_new(a, json_string(v[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

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

hk_err mcp_t_semantic_similarity(mcp_call *c, json_t **out, hk_error *err)
{
    hk_sim_query_req req = {mcp_arg_str(c, "statement", ""),
                            mcp_arg_num(c, "threshold", 0.8),
                            (size_t)mcp_arg_int(c, "limit", 50)};
    hk_sim_query_res res;
    memset(&res, 0, sizeof res);
    hk_txn *t = NULL;
    hk_err rc = mcp_read_begin(c, &t, err);
    if (rc == HK_OK) rc = hk_svc_similar(t, &req, &res, err);
    if (t) hk_txn_abort(t);
    if (rc != HK_OK) return rc;
    json_t *matches = json_array();
    for (size_t i = 0; matches && i < res.n_matches; i++) {
        json_t *j = hk_svc_fact_jansson(&res.matches[i].fact);
        if (j) json_object_set_new(j, "score", json_real(res.matches[i].score));
        if (!j || json_array_append_new(matches, j) != 0) {
            json_decref(matches);
            matches = NULL;
        }
    }
    *out = matches
               ? json_pack("{s:s, s:s, s:f, s:I, s:I, s:o}", "statement",
                           req.text, "method",
                           "lexical: mean of word-set and "
                           "character-trigram Jaccard similarity of "
                           "canonical statements (camelCase split)",
                           "threshold", req.threshold, "candidates_examined",
                           (json_int_t)res.examined, "count",
                           (json_int_t)res.n_matches, "matches", matches)
               : NULL;
    hk_sim_query_res_free(&res);
    return *out ? HK_OK : HK_ERR_NOMEM;
}

/* ==== consistency_check ==== */

static json_t *finding_json(const hk_rsn_finding *fd)
{
    json_t *stm = json_array(), *ids = json_array();
    for (size_t i = 0; stm && ids && i < fd->n_facts; i++) {
        json_array_append_new(stm, json_string(fd->facts[i].statement));
        json_array_append_new(ids, json_integer((json_int_t)fd->facts[i].id));
    }
    if (!stm || !ids) {
        json_decref(stm);
        json_decref(ids);
        return NULL;
    }
    return json_pack("{s:s, s:s, s:o, s:o}", "kind", hk_rsn_kind_name(fd->kind),
                     "description", fd->description, "facts", stm, "fact_ids",
                     ids);
}

static json_t *declarations_json(const hk_rsn_check_res *res)
{
    json_t *neg = json_array();
    for (size_t i = 0; neg && i < res->n_negations; i++)
        json_array_append_new(neg, json_pack("[s,s]", res->negations[i].negated,
                                             res->negations[i].positive));
    json_t *ja = string_array(res->asymmetric, res->n_asymmetric);
    json_t *jf = string_array(res->functional, res->n_functional);
    if (!neg || !ja || !jf) {
        json_decref(neg);
        json_decref(ja);
        json_decref(jf);
        return NULL;
    }
    return json_pack("{s:o, s:o, s:o}", "asymmetric", ja, "functional", jf,
                     "negations", neg);
}

hk_err mcp_t_consistency_check(mcp_call *c, json_t **out, hk_error *err)
{
    hk_rsn_check_req req = {(size_t)mcp_arg_int(c, "limit", 1000), on_progress,
                            c};
    hk_rsn_check_res res;
    memset(&res, 0, sizeof res);
    hk_txn *t = NULL;
    hk_err rc = mcp_read_begin(c, &t, err);
    if (rc == HK_OK) rc = hk_svc_consistency(t, &req, &res, err);
    if (t) hk_txn_abort(t);
    if (rc != HK_OK) return rc;
    json_t *list = json_array();
    for (size_t i = 0; list && i < res.n_findings; i++) {
        json_t *o = finding_json(&res.findings[i]);
        if (!o || json_array_append_new(list, o) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    json_t *decl = list ? declarations_json(&res) : NULL;
    *out =
        decl ? json_pack("{s:I, s:I, s:b, s:o, s:o}", "examined",
                         (json_int_t)res.examined, "count",
                         (json_int_t)res.n_findings, "truncated", res.truncated,
                         "declarations", decl, "contradictions", list)
             : NULL;
    if (!decl) json_decref(list);
    hk_rsn_check_res_free(&res);
    return *out ? HK_OK : HK_ERR_NOMEM;
}

/* ==== validate_facts ==== */

hk_err mcp_t_validate_facts(mcp_call *c, json_t **out, hk_error *err)
{
    hk_rsn_validate_req req = {(size_t)mcp_arg_int(c, "limit", 1000)};
    hk_rsn_validate_res res;
    memset(&res, 0, sizeof res);
    hk_txn *t = NULL;
    hk_err rc = mcp_read_begin(c, &t, err);
    if (rc == HK_OK) rc = hk_svc_validate(t, &req, &res, err);
    if (t) hk_txn_abort(t);
    if (rc != HK_OK) return rc;
    json_t *issues = json_array();
    for (size_t i = 0; issues && i < res.n_issues; i++) {
        const hk_rsn_issue *is = &res.issues[i];
        json_t *o = json_pack("{s:s, s:I, s:s, s:s}", "kind",
                              hk_rsn_issue_kind_name(is->kind), "fact_id",
                              (json_int_t)is->id, "statement", is->statement,
                              "message", is->message);
        if (!o || json_array_append_new(issues, o) != 0) {
            json_decref(issues);
            issues = NULL;
        }
    }
    *out = issues ? json_pack("{s:I, s:I, s:o}", "examined",
                              (json_int_t)res.examined, "count",
                              (json_int_t)res.n_issues, "issues", issues)
                  : NULL;
    hk_rsn_validate_res_free(&res);
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

hk_err mcp_t_analyze_duplicates(mcp_call *c, json_t **out, hk_error *err)
{
    hk_sim_dup_req req = {mcp_arg_num(c, "threshold", 0.9),
                          (size_t)mcp_arg_int(c, "max_pairs", 200), on_progress,
                          c};
    hk_sim_dup_res res;
    memset(&res, 0, sizeof res);
    hk_txn *t = NULL;
    hk_err rc = mcp_read_begin(c, &t, err);
    if (rc == HK_OK) rc = hk_svc_duplicates(t, &req, &res, err);
    if (t) hk_txn_abort(t);
    if (rc != HK_OK) return rc;
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < res.n_pairs; i++) {
        json_t *o = json_pack("{s:f, s:o, s:o}", "score", res.pairs[i].score,
                              "a", hk_svc_fact_jansson(&res.pairs[i].a), "b",
                              hk_svc_fact_jansson(&res.pairs[i].b));
        if (!o || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    *out = arr ? json_pack("{s:s, s:f, s:I, s:I, s:o}", "method",
                           "lexical: mean of word-set and character-trigram "
                           "Jaccard similarity of canonical statements "
                           "(camelCase split), newest 20000 facts, pairs "
                           "sharing a word",
                           "threshold", req.threshold, "examined",
                           (json_int_t)res.examined, "count",
                           (json_int_t)res.n_pairs, "pairs", arr)
               : NULL;
    hk_sim_dup_res_free(&res);
    return *out ? HK_OK : HK_ERR_NOMEM;
}
