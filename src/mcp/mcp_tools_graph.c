/*
 * mcp_tools_graph.c — the advanced tools: bulk delete, isolated facts,
 * inference chains, knowledge subgraphs and bulk predicate renaming.
 *
 * Isolated facts, chains, subgraphs and renames are adapters of the
 * service layer (their logic is in src/graph): read the arguments, run
 * the service function, render its typed result as the JSON the legacy
 * tools answered. The rename's report file is this adapter's: its path
 * must lie inside the directories the operator allowed.
 *
 * Write tools here follow the group-commit rules of the server's writer
 * (src/server/server.h): the function run inside the write transaction
 * first reads and validates everything, then mutates, and resets its
 * results at the start because it may run twice.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/mem.h"
#include "mcp/mcp_tools.h"

/* ==== bulk_delete ==== */

hk_err mcp_t_bulk_delete(mcp_call *c, json_t **out, hk_error *err)
{
    json_t *arr = json_object_get(c->args, "statements");
    size_t n = json_array_size(arr), parsed = 0;
    hk_statement *st = hk_calloc(n, sizeof *st);
    hk_fact_id *ids = hk_calloc(n, sizeof *ids); /* 0: by statement */
    bool *dup = hk_calloc(n, sizeof *dup);
    json_t *deleted = NULL, *missing = NULL;
    hk_buf b = HK_BUF_INIT;
    hk_err rc = st && ids && dup ? HK_OK : HK_ERR_NOMEM;
    for (size_t i = 0; rc == HK_OK && i < n; i++) {
        char field[48];
        snprintf(field, sizeof field, "statements[%zu]", i);
        rc = mcp_parse_statement(json_string_value(json_array_get(arr, i)),
                                 field, &st[i], err);
        if (rc == HK_OK) parsed = i + 1;
    }
    /* Statements that are not facts are listed, not refused; a fact
     * named twice is deleted once. */
    hk_svc_delete op = {.n = n,
                        .st = st,
                        .ids = ids,
                        .missing_ok = true,
                        .dup_ok = true,
                        .dup = dup};
    if (rc == HK_OK)
        rc = c->srv->env.write(c->srv->env.write_ud, hk_svc_fact_delete_apply,
                               &op, c->actor, err);
    if (rc == HK_OK) {
        deleted = json_array();
        missing = json_array();
        if (!deleted || !missing) rc = HK_ERR_NOMEM;
    }
    for (size_t i = 0; rc == HK_OK && i < n; i++) {
        if (ids[i]) {
            json_array_append_new(deleted, json_integer((json_int_t)ids[i]));
        } else if (!dup[i]) {
            rc = hk_statement_format(&st[i], &b);
            if (rc == HK_OK)
                json_array_append_new(missing, json_string(b.data));
            hk_buf_reset(&b);
        }
    }
    hk_buf_free(&b);
    for (size_t i = 0; i < parsed; i++)
        hk_statement_release(&st[i]);
    hk_free(st);
    hk_free(ids);
    hk_free(dup);
    if (rc != HK_OK) {
        json_decref(deleted);
        json_decref(missing);
        return rc;
    }
    *out = json_pack("{s:I, s:o, s:o}", "deleted", (json_int_t)op.deleted,
                     "deleted_ids", deleted, "not_found", missing);
    return *out ? HK_OK : HK_ERR_NOMEM;
}

/* ==== find_isolated_facts ==== */

hk_err mcp_t_find_isolated_facts(mcp_call *c, json_t **out, hk_error *err)
{
    hk_graph_isolated_req req = {(size_t)mcp_arg_int(c, "limit", 50)};
    hk_graph_isolated_res res;
    memset(&res, 0, sizeof res);
    hk_txn *t = NULL;
    hk_err rc = mcp_read_begin(c, &t, err);
    if (rc == HK_OK) rc = hk_svc_isolated(t, &req, &res, err);
    if (t) hk_txn_abort(t);
    if (rc != HK_OK) return rc;
    json_t *facts = json_array();
    for (size_t i = 0; facts && i < res.n_facts; i++) {
        json_t *j = hk_svc_fact_jansson(&res.facts[i]);
        if (!j || json_array_append_new(facts, j) != 0) {
            json_decref(facts);
            facts = NULL;
        }
    }
    *out = facts ? json_pack("{s:I, s:I, s:o}", "examined",
                             (json_int_t)res.examined, "count",
                             (json_int_t)res.n_facts, "facts", facts)
                 : NULL;
    hk_graph_isolated_res_free(&res);
    return *out ? HK_OK : HK_ERR_NOMEM;
}

/* ==== inference_chain ==== */

hk_err mcp_t_inference_chain(mcp_call *c, json_t **out, hk_error *err)
{
    hk_statement st;
    hk_err rc = mcp_parse_statement(mcp_arg_str(c, "start_fact", NULL),
                                    "start_fact", &st, err);
    if (rc != HK_OK) return rc;
    hk_graph_chain_req req = {&st, (unsigned)mcp_arg_int(c, "max_depth", 5)};
    hk_graph_chain_res res;
    memset(&res, 0, sizeof res);
    hk_buf canon = HK_BUF_INIT;
    json_t *steps = NULL;
    hk_txn *t = NULL;
    rc = mcp_read_begin(c, &t, err);
    if (rc == HK_OK) rc = hk_svc_chain(t, &req, &res, err);
    if (t) hk_txn_abort(t);
    if (rc == HK_ERR_NOT_FOUND && err && strcmp(err->field, "start") == 0)
        hk_error_set(err, rc,
                     "start_fact is not in the knowledge base; "
                     "use search_knowledge to find an exact statement");
    if (rc == HK_OK) rc = hk_statement_format(&st, &canon);
    if (rc == HK_OK) steps = json_array();
    for (size_t i = 0; steps && i < res.n_steps; i++) {
        const hk_graph_step *s = &res.steps[i];
        json_t *o = json_pack("{s:i, s:s, s:o}", "depth", (int)s->depth, "via",
                              s->via, "fact", hk_svc_fact_jansson(&s->fact));
        if (!o || json_array_append_new(steps, o) != 0) {
            json_decref(steps);
            steps = NULL;
        }
    }
    *out = steps ? json_pack("{s:s, s:i, s:I, s:b, s:o}", "start_fact",
                             canon.data, "max_depth", (int)req.max_depth,
                             "count", (json_int_t)res.n_steps, "truncated",
                             res.truncated, "steps", steps)
                 : NULL;
    hk_graph_chain_res_free(&res);
    hk_statement_release(&st);
    hk_buf_free(&canon);
    if (rc != HK_OK) return rc;
    return *out ? HK_OK : HK_ERR_NOMEM;
}

/* ==== get_knowledge_graph ==== */

static json_t *subgraph_json(const hk_graph_walk_res *g, const char *entity,
                             unsigned depth)
{
    json_t *nodes = json_array(), *edges = json_array();
    for (size_t i = 0; nodes && i < g->n_nodes; i++) {
        const hk_graph_node *n = &g->nodes[i];
        json_t *o = json_pack("{s:s, s:s}", "id", n->id, "kind",
                              n->kind == HK_GRAPH_FACT ? "fact" : "entity");
        if (o && n->label)
            json_object_set_new(o, "label", json_string(n->label));
        if (!o || json_array_append_new(nodes, o) != 0) {
            json_decref(nodes);
            nodes = NULL;
        }
    }
    for (size_t i = 0; edges && i < g->n_edges; i++) {
        const hk_graph_edge *e = &g->edges[i];
        json_t *o =
            json_pack("{s:s, s:s, s:s, s:I}", "from", g->nodes[e->from].id,
                      "to", g->nodes[e->to].id, "label", e->label, "fact_id",
                      (json_int_t)e->fact_id);
        if (!o || json_array_append_new(edges, o) != 0) {
            json_decref(edges);
            edges = NULL;
        }
    }
    if (!nodes || !edges) {
        json_decref(nodes);
        json_decref(edges);
        return NULL;
    }
    return json_pack("{s:s, s:i, s:o, s:o, s:b}", "entity", entity, "depth",
                     (int)depth, "nodes", nodes, "edges", edges, "truncated",
                     g->truncated);
}

hk_err mcp_t_get_knowledge_graph(mcp_call *c, json_t **out, hk_error *err)
{
    hk_graph_walk_req req = {mcp_arg_str(c, "entity", ""),
                             (unsigned)mcp_arg_int(c, "depth", 2)};
    bool dot = strcmp(mcp_arg_str(c, "format", "json"), "dot") == 0;
    hk_graph_walk_res res;
    memset(&res, 0, sizeof res);
    hk_txn *t = NULL;
    hk_err rc = mcp_read_begin(c, &t, err);
    if (rc == HK_OK) rc = hk_svc_subgraph(t, &req, &res, err);
    if (t) hk_txn_abort(t);
    if (rc != HK_OK) return rc;
    json_t *o = subgraph_json(&res, req.entity, req.depth);
    if (o && dot) {
        hk_buf b = HK_BUF_INIT;
        rc = hk_graph_write_dot(&res, &b);
        if (rc == HK_OK) json_object_set_new(o, "dot", json_string(b.data));
        hk_buf_free(&b);
    }
    hk_graph_walk_res_free(&res);
    if (rc != HK_OK || !o) {
        json_decref(o);
        return rc != HK_OK ? rc : HK_ERR_NOMEM;
    }
    *out = o;
    return HK_OK;
}

/* ==== bulk_translate_predicates ==== */

/* The strings of a JSON array (non-strings as NULL); *v is NULL only when
 * arr is not an array. Caller frees *v with hk_free. */
static hk_err string_list(const json_t *arr, const char ***v, size_t *n)
{
    *v = NULL;
    *n = 0;
    if (!json_is_array(arr)) return HK_OK;
    size_t len = json_array_size(arr);
    *v = hk_calloc(len ? len : 1, sizeof **v);
    if (!*v) return HK_ERR_NOMEM;
    for (size_t i = 0; i < len; i++)
        (*v)[i] = json_string_value(json_array_get(arr, i));
    *n = len;
    return HK_OK;
}

/* Opens the report before renaming anything: a report that cannot be
 * written must fail the call while the KB is still unchanged. O_NOFOLLOW:
 * the checked path is the one written. A dry run needs no token, so it may
 * only create new files: it must not be a way to overwrite snapshots or
 * earlier reports. */
static hk_err report_open(const char *path, bool apply, int *fd, hk_error *err)
{
    int create_only = apply ? 0 : O_EXCL;
    *fd = open(path,
               O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC |
                   create_only,
               0640);
    if (*fd < 0 && create_only && errno == EEXIST)
        return hk_error_set(err, HK_ERR_EXISTS,
                            "report_path %s already exists; a dry run "
                            "only writes new files (choose another name)",
                            path);
    if (*fd < 0)
        return hk_error_set(err, HK_ERR_IO,
                            "cannot write report %s: %s; nothing was renamed",
                            path, strerror(errno));
    return HK_OK;
}

static json_t *change_json(const hk_graph_rename_change *ch)
{
    return json_pack("{s:I, s:s, s:s, s:s}", "fact_id", (json_int_t)ch->fact_id,
                     "old", ch->old_stmt, "new", ch->new_stmt, "action",
                     ch->merge ? "merge" : "rename");
}

/* The changes as JSON: *sample gets those among the first
 * HK_SVC_RENAME_SAMPLE planned, *all (when all is not NULL) every one. */
static hk_err changes_json(const hk_graph_rename_change *v, size_t n,
                           json_t **sample, json_t **all)
{
    *sample = json_array();
    if (all) *all = json_array();
    hk_err rc = *sample && (!all || *all) ? HK_OK : HK_ERR_NOMEM;
    for (size_t i = 0; rc == HK_OK && i < n; i++) {
        json_t *ch = change_json(&v[i]);
        if (!ch) rc = HK_ERR_NOMEM;
        if (rc == HK_OK && v[i].index < HK_SVC_RENAME_SAMPLE &&
            json_array_append(*sample, ch) != 0)
            rc = HK_ERR_NOMEM;
        if (rc == HK_OK && all && json_array_append(*all, ch) != 0)
            rc = HK_ERR_NOMEM;
        json_decref(ch);
    }
    return rc;
}

hk_err mcp_t_bulk_translate_predicates(mcp_call *c, json_t **out, hk_error *err)
{
    json_t *mapping = json_object_get(c->args, "mapping");
    const char *strategy = mcp_arg_str(c, "sample_strategy", "head");
    bool apply = !mcp_arg_bool(c, "dry_run", true);
    const char *report = mcp_arg_str(c, "report_path", NULL);
    hk_graph_rename_req req;
    memset(&req, 0, sizeof req);
    req.sample = strcmp(strategy, "tail") == 0 ? HK_GRAPH_SAMPLE_TAIL
                 : strcmp(strategy, "stratified") == 0
                     ? HK_GRAPH_SAMPLE_STRATIFIED
                     : HK_GRAPH_SAMPLE_HEAD;
    req.by_changes =
        strcmp(mcp_arg_str(c, "limit_mode", "lines"), "changes") == 0;
    req.limit = (size_t)mcp_arg_int(c, "limit", 0);
    req.offset = (size_t)mcp_arg_int(c, "start_offset", 0);
    hk_graph_rename_pair *pairs = NULL;
    const char **only = NULL, **excl = NULL;
    hk_graph_rename_plan plan;
    memset(&plan, 0, sizeof plan);
    hk_graph_rename_change *changes = NULL;
    size_t n_changes = 0;
    char *report_real = NULL;
    int report_fd = -1;
    json_t *sample = NULL, *all = NULL;
    hk_txn *t = NULL;

    size_t nm = json_object_size(mapping);
    pairs = hk_calloc(nm ? nm : 1, sizeof *pairs);
    hk_err rc = pairs ? HK_OK : HK_ERR_NOMEM;
    const char *key;
    json_t *val;
    json_object_foreach(mapping, key, val)
    {
        if (req.n_map >= nm) break;
        pairs[req.n_map].from = key;
        pairs[req.n_map++].to = json_string_value(val);
    }
    req.map = pairs;
    if (rc == HK_OK)
        rc = string_list(json_object_get(c->args, "predicates"), &only,
                         &req.n_only);
    if (rc == HK_OK)
        rc = string_list(json_object_get(c->args, "exclude_predicates"), &excl,
                         &req.n_exclude);
    req.only = only;
    req.exclude = excl;
    if (rc == HK_OK) rc = hk_svc_rename_prepare(&req, &plan, err);
    if (rc == HK_OK && report)
        rc = mcp_path_allowed(c->srv, report, "report_path", &report_real, err);
    if (rc == HK_OK && report_real)
        rc = report_open(report_real, apply, &report_fd, err);
    if (rc == HK_OK && apply) {
        rc = c->srv->env.write(c->srv->env.write_ud, hk_svc_rename_apply, &plan,
                               c->actor, err);
    } else if (rc == HK_OK) {
        rc = mcp_read_begin(c, &t, err);
        if (rc == HK_OK) rc = hk_svc_rename_dry_run(t, &plan, err);
        if (t) hk_txn_abort(t);
        t = NULL;
    }
    /* describe the changes as the KB now holds them */
    if (rc == HK_OK) rc = mcp_read_begin(c, &t, err);
    if (rc == HK_OK)
        rc = hk_svc_rename_describe(
            t, &plan, report_real ? plan.n_plan : HK_SVC_RENAME_SAMPLE,
            &changes, &n_changes, err);
    if (t) hk_txn_abort(t);
    if (rc == HK_OK)
        rc = changes_json(changes, n_changes, &sample,
                          report_real ? &all : NULL);
    if (rc == HK_OK && report_real) {
        json_t *rep = json_pack("{s:b, s:I, s:I, s:I, s:O}", "dry_run", !apply,
                                "examined", (json_int_t)plan.examined,
                                "changed", (json_int_t)plan.n_plan, "merged",
                                (json_int_t)plan.merged, "changes", all);
        bool ok = rep && json_dumpfd(rep, report_fd, JSON_INDENT(1)) == 0;
        if (close(report_fd) != 0) ok = false;
        report_fd = -1;
        if (!ok)
            rc = hk_error_set(err, HK_ERR_IO, "cannot write report %s%s",
                              report_real,
                              apply ? " (the renames were made)" : "");
        json_decref(rep);
    }
    if (rc == HK_OK) {
        *out = json_pack(
            "{s:b, s:I, s:I, s:I, s:O, s:o}", "dry_run", !apply, "examined",
            (json_int_t)plan.examined, "changed", (json_int_t)plan.n_plan,
            "merged", (json_int_t)plan.merged, "changes", sample, "report_path",
            report_real ? json_string(report_real) : json_null());
        if (!*out) rc = HK_ERR_NOMEM;
    }
    if (report_fd >= 0) close(report_fd);
    json_decref(sample);
    json_decref(all);
    hk_graph_rename_changes_free(changes, n_changes);
    hk_graph_rename_free(&plan);
    hk_free(pairs);
    hk_free(only);
    hk_free(excl);
    hk_free(report_real);
    return rc;
}
