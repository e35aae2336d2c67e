/*
 * svc_graph.c — the traversal operations (neighbourhoods, paths) of the
 * service layer and their JSON. The walks themselves are in
 * src/graph/traverse.c; this file checks requests and renders results.
 */
#include "core/buf.h"
#include "service/service.h"

#include <string.h>

static hk_err check_name(const char *s, const char *field, hk_error *err)
{
    if (s != NULL && *s != '\0' && strlen(s) <= HK_MAX_ARG_BYTES) return HK_OK;
    hk_error_set(err, HK_ERR_INVALID, "%s must be a non-empty entity name",
                 field);
    snprintf(err->field, sizeof err->field, "%s", field);
    return HK_ERR_INVALID;
}

hk_err hk_svc_graph_neighbours(hk_txn *t, const hk_graph_hood_req *req,
                               hk_graph_walk_res *res, hk_error *err)
{
    memset(res, 0, sizeof *res);
    hk_err rc = check_name(req->entity, "entity", err);
    if (rc != HK_OK) return rc;
    return hk_graph_neighbours(t, req, res, err);
}

hk_err hk_svc_graph_paths(hk_txn *t, const hk_graph_path_req *req,
                          hk_graph_path_res *res, hk_error *err)
{
    memset(res, 0, sizeof *res);
    hk_err rc = check_name(req->from, "from", err);
    if (rc == HK_OK) rc = check_name(req->to, "to", err);
    if (rc != HK_OK) return rc;
    return hk_graph_paths(t, req, res, err);
}

bool hk_svc_graph_dir_parse(const char *s, hk_graph_dir *out)
{
    if (strcmp(s, "both") == 0)
        *out = HK_GRAPH_BOTH;
    else if (strcmp(s, "out") == 0)
        *out = HK_GRAPH_OUT;
    else if (strcmp(s, "in") == 0)
        *out = HK_GRAPH_IN;
    else
        return false;
    return true;
}

static hk_err json_str(hk_buf *b, const char *s)
{
    return hk_buf_append_json_string(b, s, strlen(s));
}

hk_err hk_svc_paths_write_json(const hk_graph_path_res *res, hk_buf *out)
{
    hk_err rc = hk_buf_append_str(out, "{\"paths\":[");
    for (size_t i = 0; rc == HK_OK && i < res->n_paths; i++) {
        const hk_graph_path *p = &res->paths[i];
        rc = hk_buf_appendf(out, "%s{\"length\":%zu,\"nodes\":[", i ? "," : "",
                            p->length);
        for (size_t j = 0; rc == HK_OK && j <= p->length; j++) {
            if (j) rc = hk_buf_append_str(out, ",");
            if (rc == HK_OK) rc = json_str(out, p->nodes[j]);
        }
        if (rc == HK_OK) rc = hk_buf_append_str(out, "],\"facts\":[");
        for (size_t j = 0; rc == HK_OK && j < p->length; j++)
            rc = hk_buf_appendf(out, "%s%llu", j ? "," : "",
                                (unsigned long long)p->facts[j]);
        if (rc == HK_OK) rc = hk_buf_append_str(out, "]}");
    }
    if (rc == HK_OK) rc = hk_buf_append_str(out, "]}");
    return rc;
}

hk_err hk_svc_subgraph_write_json(const hk_graph_walk_res *res, hk_buf *out)
{
    hk_err rc = hk_buf_append_str(out, "{\"nodes\":[");
    for (size_t i = 0; rc == HK_OK && i < res->n_nodes; i++) {
        const hk_graph_node *n = &res->nodes[i];
        rc = hk_buf_append_str(out, i ? ",{\"id\":" : "{\"id\":");
        if (rc == HK_OK) rc = json_str(out, n->id);
        if (rc == HK_OK)
            rc = hk_buf_appendf(out, ",\"kind\":\"%s\"",
                                n->kind == HK_GRAPH_FACT ? "fact" : "entity");
        if (rc == HK_OK && n->label) {
            rc = hk_buf_append_str(out, ",\"label\":");
            if (rc == HK_OK) rc = json_str(out, n->label);
        }
        if (rc == HK_OK) rc = hk_buf_append_str(out, "}");
    }
    if (rc == HK_OK) rc = hk_buf_append_str(out, "],\"edges\":[");
    for (size_t i = 0; rc == HK_OK && i < res->n_edges; i++) {
        const hk_graph_edge *e = &res->edges[i];
        rc = hk_buf_append_str(out, i ? ",{\"from\":" : "{\"from\":");
        if (rc == HK_OK) rc = json_str(out, res->nodes[e->from].id);
        if (rc == HK_OK) rc = hk_buf_append_str(out, ",\"to\":");
        if (rc == HK_OK) rc = json_str(out, res->nodes[e->to].id);
        if (rc == HK_OK) rc = hk_buf_append_str(out, ",\"label\":");
        if (rc == HK_OK) rc = json_str(out, e->label);
        if (rc == HK_OK)
            rc = hk_buf_appendf(out, ",\"fact\":%llu}",
                                (unsigned long long)e->fact_id);
    }
    if (rc == HK_OK)
        rc = hk_buf_appendf(out, "],\"truncated\":%s}",
                            res->truncated ? "true" : "false");
    return rc;
}

/* ==== Analytics ==== */

static const char *const ANALYSES[] = {"pagerank", "components", "communities",
                                       "degrees", "betweenness"};

bool hk_svc_analysis_parse(const char *s, hk_graph_analysis *out)
{
    for (size_t i = 0; i < sizeof ANALYSES / sizeof ANALYSES[0]; i++)
        if (strcmp(s, ANALYSES[i]) == 0) {
            *out = (hk_graph_analysis)i;
            return true;
        }
    return false;
}

const char *hk_svc_analysis_name(hk_graph_analysis kind)
{
    return (size_t)kind < sizeof ANALYSES / sizeof ANALYSES[0] ? ANALYSES[kind]
                                                               : "unknown";
}

hk_err hk_svc_graph_analyze(hk_txn *t, const hk_svc_analyze_req *req,
                            hk_graph_analysis_res *res, hk_error *err)
{
    memset(res, 0, sizeof *res);
    if (req->top < 1 || req->top > HK_GRAPH_TOP_MAX) {
        hk_error_set(err, HK_ERR_INVALID, "top must be 1..%u",
                     HK_GRAPH_TOP_MAX);
        snprintf(err->field, sizeof err->field, "top");
        return HK_ERR_INVALID;
    }
    hk_graph_snapshot snap;
    hk_err rc =
        hk_graph_snapshot_build(t, &snap, req->progress, req->progress_ud, err);
    if (rc != HK_OK) return rc;
    rc = hk_graph_analyze(t, &snap, req->kind, req->top, res, err);
    hk_graph_snapshot_free(&snap);
    return rc;
}

hk_err hk_svc_analysis_write_json(const hk_graph_analysis_res *res, hk_buf *out)
{
    hk_err rc = hk_buf_appendf(
        out,
        "{\"analysis\":\"%s\",\"vertices\":%u,\"edges\":%llu,"
        "\"snapshot_bytes\":%llu,\"groups\":%llu,\"modularity\":%.6g,"
        "\"sampled\":%s,\"top\":[",
        hk_svc_analysis_name(res->kind), res->n_vertices,
        (unsigned long long)res->n_edges,
        (unsigned long long)res->snapshot_bytes,
        (unsigned long long)res->groups, res->modularity,
        res->sampled ? "true" : "false");
    for (size_t i = 0; rc == HK_OK && i < res->n_top; i++) {
        const hk_graph_rank *r = &res->top[i];
        if (i) rc = hk_buf_append_str(out, ",");
        if (rc != HK_OK) break;
        switch (res->kind) {
        case HK_GRAPH_COMPONENTS:
        case HK_GRAPH_COMMUNITIES:
            rc = hk_buf_appendf(out, "{\"group\":%llu,\"size\":%.0f,\"first\":",
                                (unsigned long long)r->key, r->score);
            break;
        case HK_GRAPH_DEGREES:
            rc = hk_buf_appendf(out,
                                "{\"degree\":%llu,\"count\":%.0f,\"example\":",
                                (unsigned long long)r->key, r->score);
            break;
        default:
            rc = hk_buf_appendf(out, "{\"score\":%.9g,\"name\":", r->score);
        }
        if (rc == HK_OK) rc = json_str(out, r->name);
        if (rc == HK_OK) rc = hk_buf_append_str(out, "}");
    }
    if (rc == HK_OK) rc = hk_buf_append_str(out, "]}");
    return rc;
}
