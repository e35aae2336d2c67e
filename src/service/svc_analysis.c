/*
 * svc_analysis.c — the legacy analysis and graph operations
 * (semantic_similarity, analyze_duplicates, consistency_check,
 * validate_facts, find_isolated_facts, inference_chain,
 * get_knowledge_graph, bulk_translate_predicates) as service functions.
 *
 * The logic lives in the domain modules (src/similar, src/reason,
 * src/graph); a service function checks the request against the bounds
 * the operation documents, so that every adapter refuses the same
 * requests with the same message, and runs it. Threads: as the
 * transaction passed (one per thread).
 */
#include <math.h>
#include <stdio.h>

#include "service/service.h"

/* ==== Range checks ==== */

static hk_err bad_field(hk_error *err, const char *field, const char *why)
{
    hk_error_set(err, HK_ERR_INVALID, "%s: %s", field, why);
    if (err) snprintf(err->field, sizeof err->field, "%s", field);
    return HK_ERR_INVALID;
}

static hk_err check_count(hk_error *err, const char *field, size_t v, size_t lo,
                          size_t hi)
{
    if (v >= lo && v <= hi) return HK_OK;
    char why[96];
    snprintf(why, sizeof why, "must be between %zu and %zu", lo, hi);
    return bad_field(err, field, why);
}

static hk_err check_score(hk_error *err, const char *field, double v)
{
    if (isfinite(v) && v >= 0.0 && v <= 1.0) return HK_OK;
    return bad_field(err, field, "must be a number between 0 and 1");
}

/* ==== Similarity ==== */

hk_err hk_svc_similar(hk_txn *t, const hk_sim_query_req *req,
                      hk_sim_query_res *res, hk_error *err)
{
    hk_err rc =
        req->text ? HK_OK : bad_field(err, "statement", "missing statement");
    if (rc == HK_OK) rc = check_score(err, "threshold", req->threshold);
    if (rc == HK_OK)
        rc = check_count(err, "limit", req->limit, 1, HK_SVC_SIMILAR_MAX_LIMIT);
    if (rc != HK_OK) return rc;
    return hk_sim_query(t, req, res, err);
}

hk_err hk_svc_duplicates(hk_txn *t, const hk_sim_dup_req *req,
                         hk_sim_dup_res *res, hk_error *err)
{
    hk_err rc = check_score(err, "threshold", req->threshold);
    if (rc == HK_OK)
        rc = check_count(err, "max_pairs", req->max_pairs, 1,
                         HK_SVC_DUP_MAX_PAIRS);
    if (rc != HK_OK) return rc;
    return hk_sim_duplicates(t, req, res, err);
}

/* ==== Rules ==== */

hk_err hk_svc_consistency(hk_txn *t, const hk_rsn_check_req *req,
                          hk_rsn_check_res *res, hk_error *err)
{
    hk_err rc =
        check_count(err, "limit", req->limit, 1, HK_SVC_CHECK_MAX_LIMIT);
    if (rc != HK_OK) return rc;
    return hk_rsn_check(t, req, res, err);
}

hk_err hk_svc_validate(hk_txn *t, const hk_rsn_validate_req *req,
                       hk_rsn_validate_res *res, hk_error *err)
{
    hk_err rc =
        check_count(err, "limit", req->limit, 1, HK_SVC_VALIDATE_MAX_LIMIT);
    if (rc != HK_OK) return rc;
    return hk_rsn_validate(t, req, res, err);
}

/* ==== Graph ==== */

hk_err hk_svc_isolated(hk_txn *t, const hk_graph_isolated_req *req,
                       hk_graph_isolated_res *res, hk_error *err)
{
    hk_err rc =
        check_count(err, "limit", req->limit, 1, HK_SVC_ISOLATED_MAX_LIMIT);
    if (rc != HK_OK) return rc;
    return hk_graph_isolated(t, req, res, err);
}

hk_err hk_svc_chain(hk_txn *t, const hk_graph_chain_req *req,
                    hk_graph_chain_res *res, hk_error *err)
{
    hk_err rc =
        req->start ? HK_OK : bad_field(err, "start_fact", "missing statement");
    if (rc == HK_OK)
        rc = check_count(err, "max_depth", req->max_depth, 1,
                         HK_SVC_CHAIN_MAX_DEPTH);
    if (rc != HK_OK) return rc;
    return hk_graph_chain(t, req, res, err);
}

hk_err hk_svc_subgraph(hk_txn *t, const hk_graph_walk_req *req,
                       hk_graph_walk_res *res, hk_error *err)
{
    hk_err rc = req->entity && req->entity[0]
                    ? HK_OK
                    : bad_field(err, "entity", "missing entity");
    if (rc == HK_OK)
        rc = check_count(err, "depth", req->depth, 1, HK_SVC_GRAPH_MAX_DEPTH);
    if (rc != HK_OK) return rc;
    return hk_graph_walk(t, req, res, err);
}

/* ==== Predicate rename ==== */

hk_err hk_svc_rename_prepare(const hk_graph_rename_req *req,
                             hk_graph_rename_plan *plan, hk_error *err)
{
    hk_err rc = HK_OK;
    if (req->sample != HK_GRAPH_SAMPLE_HEAD &&
        req->sample != HK_GRAPH_SAMPLE_TAIL &&
        req->sample != HK_GRAPH_SAMPLE_STRATIFIED)
        rc = bad_field(err, "sample_strategy",
                       "must be head, tail or stratified");
    if (rc == HK_OK)
        rc = check_count(err, "limit", req->limit, 0, HK_SVC_RENAME_MAX_COUNT);
    if (rc == HK_OK)
        rc = check_count(err, "start_offset", req->offset, 0,
                         HK_SVC_RENAME_MAX_COUNT);
    if (rc != HK_OK) return rc;
    return hk_graph_rename_prepare(req, plan, err);
}

hk_err hk_svc_rename_dry_run(hk_txn *t, hk_graph_rename_plan *plan,
                             hk_error *err)
{
    return hk_graph_rename_plan_run(t, plan, err);
}

hk_err hk_svc_rename_apply(hk_txn *t, void *plan, hk_error *err)
{
    return hk_graph_rename_apply(t, plan, err);
}

hk_err hk_svc_rename_describe(hk_txn *t, const hk_graph_rename_plan *plan,
                              size_t max, hk_graph_rename_change **out,
                              size_t *n, hk_error *err)
{
    return hk_graph_rename_describe(t, plan, max, out, n, err);
}
