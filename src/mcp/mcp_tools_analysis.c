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
#include "service/svc_learn.h"
#include "service/svc_rules.h"

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
        rc = hk_svc_name_total(t,
                               by_entity ? HK_SVC_ENTITIES : HK_SVC_PREDICATES,
                               name, &total, err);
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
    const char *mode = mcp_arg_str(c, "mode", NULL);
    if (mode && strcmp(mode, "text") != 0) /* mcp_tools_vector.c */
        return mcp_t_semantic_similarity_mode(c, out, err);
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
    hk_buf rules_json = HK_BUF_INIT;
    hkr_dbs d;
    hk_err rc = mcp_read_begin(c, &t, err);
    if (rc == HK_OK) rc = hk_svc_consistency(t, &req, &res, err);
    /* contradictions derived by constraint rules, with their proofs */
    if (rc == HK_OK && hkr_dbs_of(c->srv->env.store, &d, NULL) == HK_OK)
        rc =
            hk_svc_rule_contradictions_json(t, &d, req.limit, &rules_json, err);
    if (t) hk_txn_abort(t);
    json_t *rules = rc == HK_OK && rules_json.data
                        ? json_loadb(rules_json.data, rules_json.len, 0, NULL)
                        : NULL;
    hk_buf_free(&rules_json);
    if (rc != HK_OK) {
        hk_rsn_check_res_free(&res);
        return rc;
    }
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
    if (*out && rules)
        json_object_set_new(
            *out, "rule_contradictions",
            json_incref(json_object_get(rules, "contradictions")));
    json_decref(rules);
    hk_rsn_check_res_free(&res);
    return *out ? HK_OK : HK_ERR_NOMEM;
}

/* ==== The learned model in the analysis tools ==== */

/* The KB's learned model, or NULL when it has none (or it cannot be
 * loaded: the tools then answer as they did without a model, with
 * "model": null). Release with hk_svc_model_release. */
static hk_svc_model *model_or_null(mcp_call *c)
{
    hk_svc_model *h = NULL;
    hk_error ignored;
    hk_error_clear(&ignored);
    if (hk_svc_model_acquire(mcp_store(c), &h, &ignored) != HK_OK) return NULL;
    return h;
}

/* ==== validate_facts ==== */

hk_err mcp_t_validate_facts(mcp_call *c, json_t **out, hk_error *err)
{
    hk_rsn_validate_req req = {(size_t)mcp_arg_int(c, "limit", 1000)};
    double below = mcp_arg_num(c, "min_plausibility", -1);
    hk_rsn_validate_res res;
    memset(&res, 0, sizeof res);
    hk_svc_model_flag_res flags;
    memset(&flags, 0, sizeof flags);
    hk_svc_model *h = model_or_null(c);
    const hkl_model *m = h ? hk_svc_model_get(h) : NULL;
    json_t *brief = NULL;
    hk_txn *t = NULL;
    hk_err rc = HK_OK;
    if (below >= 0 && !m)
        rc = hk_error_set(err, HK_ERR_NOT_FOUND,
                          "min_plausibility needs the KB's learned model, and "
                          "there is none: train one with `hakgal model "
                          "train` (or POST /v2/model/train)");
    if (rc == HK_OK) rc = mcp_read_begin(c, &t, err);
    if (rc == HK_OK) rc = hk_svc_validate(t, &req, &res, err);
    if (rc == HK_OK && m && below >= 0)
        rc = hk_svc_model_implausible(t, m, req.limit, below,
                                      HK_RSN_MAX_FINDINGS, &flags, err);
    json_t *issues = rc == HK_OK ? json_array() : NULL;
    for (size_t i = 0; issues && i < res.n_issues; i++) {
        const hk_rsn_issue *is = &res.issues[i];
        json_t *o = json_pack("{s:s, s:I, s:s, s:s}", "kind",
                              hk_rsn_issue_kind_name(is->kind), "fact_id",
                              (json_int_t)is->id, "statement", is->statement,
                              "message", is->message);
        /* the model's view of the same fact, next to the rule's */
        hk_statement st;
        double p;
        hk_error ignored;
        if (o && m &&
            hk_statement_parse(is->statement, strlen(is->statement), &st,
                               &ignored) == HK_OK &&
            hk_svc_model_plausibility(m, &st, &p))
            json_object_set_new(o, "plausibility", json_real(p));
        if (!o || json_array_append_new(issues, o) != 0) {
            json_decref(issues);
            issues = NULL;
        }
    }
    json_t *impl = issues && m && below >= 0 ? json_array() : NULL;
    for (size_t i = 0; impl && i < flags.n; i++) {
        json_t *o =
            json_pack("{s:I, s:s, s:f}", "fact_id", (json_int_t)flags.v[i].id,
                      "statement", flags.v[i].statement, "plausibility",
                      flags.v[i].plausibility);
        if (!o || json_array_append_new(impl, o) != 0) {
            json_decref(impl);
            impl = NULL;
            json_decref(issues);
            issues = NULL;
        }
    }
    if (issues && m) brief = hk_svc_model_brief_jansson(t, m);
    if (t) hk_txn_abort(t);
    if (rc == HK_OK)
        *out = issues ? json_pack("{s:I, s:I, s:o, s:o}", "examined",
                                  (json_int_t)res.examined, "count",
                                  (json_int_t)res.n_issues, "issues", issues,
                                  "model", brief ? brief : json_null())
                      : NULL;
    else
        json_decref(brief);
    if (rc == HK_OK && *out && impl) {
        json_object_set_new(*out, "implausible", impl);
        json_object_set_new(*out, "unknown_to_model",
                            json_integer((json_int_t)flags.unknown));
        impl = NULL;
    }
    json_decref(impl);
    hk_svc_model_flag_free(&flags);
    hk_rsn_validate_res_free(&res);
    if (h) hk_svc_model_release(h);
    if (rc != HK_OK) return rc;
    return *out ? HK_OK : HK_ERR_NOMEM;
}

/* ==== get_entities_stats / get_predicates_stats ==== */

#define TOP_ENTITIES 1000 /* entities in a get_entities_stats answer */

hk_err mcp_t_get_entities_stats(mcp_call *c, json_t **out, hk_error *err)
{
    hk_svc_top_names_req req = {HK_SVC_ENTITIES,
                                (uint64_t)mcp_arg_int(c, "min_occurrences", 2),
                                TOP_ENTITIES, on_progress, c};
    hk_svc_top_names_res res;
    memset(&res, 0, sizeof res);
    hk_txn *t = NULL;
    hk_err rc = mcp_read_begin(c, &t, err);
    if (rc == HK_OK) rc = hk_svc_top_names(t, &req, &res, err);
    if (t) hk_txn_abort(t);
    json_t *arr = rc == HK_OK ? json_array() : NULL;
    for (size_t i = 0; arr && i < res.n; i++)
        json_array_append_new(arr,
                              json_pack("{s:s, s:I}", "name", res.v[i].name,
                                        "count", (json_int_t)res.v[i].count));
    uint64_t matching = res.matching;
    hk_svc_top_names_res_free(&res);
    if (rc != HK_OK) return rc;
    if (!arr) return HK_ERR_NOMEM;
    *out =
        json_pack("{s:I, s:I, s:I, s:o}", "min_occurrences",
                  (json_int_t)req.min_count, "matching", (json_int_t)matching,
                  "count", (json_int_t)json_array_size(arr), "entities", arr);
    return *out ? HK_OK : HK_ERR_NOMEM;
}

hk_err mcp_t_get_predicates_stats(mcp_call *c, json_t **out, hk_error *err)
{
    hk_svc_top_names_req req = {HK_SVC_PREDICATES, 0, HK_SVC_TOP_NAMES_MAX,
                                NULL, NULL};
    hk_svc_top_names_res res;
    memset(&res, 0, sizeof res);
    hk_txn *t = NULL;
    hk_err rc = mcp_read_begin(c, &t, err);
    if (rc == HK_OK) rc = hk_svc_top_names(t, &req, &res, err);
    if (t) hk_txn_abort(t);
    json_t *arr = rc == HK_OK ? json_array() : NULL;
    for (size_t i = 0; arr && i < res.n; i++)
        json_array_append_new(
            arr, json_pack("{s:s, s:I, s:i, s:i}", "name", res.v[i].name,
                           "count", (json_int_t)res.v[i].count, "min_arity",
                           (int)res.v[i].min_arity, "max_arity",
                           (int)res.v[i].max_arity));
    hk_svc_top_names_res_free(&res);
    if (rc != HK_OK) return rc;
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
    hk_svc_model *h = model_or_null(c);
    const hkl_model *m = h ? hk_svc_model_get(h) : NULL;
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < res.n_pairs; i++) {
        json_t *o = json_pack("{s:f, s:o, s:o}", "score", res.pairs[i].score,
                              "a", hk_svc_fact_jansson(&res.pairs[i].a), "b",
                              hk_svc_fact_jansson(&res.pairs[i].b));
        /* the learned model's similarity of the pair, next to the lexical
         * score: near-duplicates that the graph also treats alike score
         * high in both */
        double ms;
        if (o && m &&
            hk_svc_model_pair_similarity(m, &res.pairs[i].a.st,
                                         &res.pairs[i].b.st, &ms))
            json_object_set_new(o, "model_similarity", json_real(ms));
        if (!o || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    json_t *brief = NULL;
    if (arr && m && mcp_read_begin(c, &t, err) == HK_OK) {
        brief = hk_svc_model_brief_jansson(t, m);
        hk_txn_abort(t);
    }
    if (h) hk_svc_model_release(h);
    *out = arr ? json_pack("{s:s, s:f, s:I, s:I, s:o}", "method",
                           "lexical: mean of word-set and character-trigram "
                           "Jaccard similarity of canonical statements "
                           "(camelCase split), newest 20000 facts, pairs "
                           "sharing a word",
                           "threshold", req.threshold, "examined",
                           (json_int_t)res.examined, "count",
                           (json_int_t)res.n_pairs, "pairs", arr)
               : NULL;
    if (*out)
        json_object_set_new(*out, "model", brief ? brief : json_null());
    else
        json_decref(brief);
    hk_sim_dup_res_free(&res);
    return *out ? HK_OK : HK_ERR_NOMEM;
}
