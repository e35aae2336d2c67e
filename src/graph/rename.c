/*
 * rename.c — the bulk predicate rename of graph.h (bulk_translate_predicates).
 *
 * ==== Steps ====
 *  1. prepare: the mapping is checked without the KB (valid new names, no
 *     swaps or chains) and filtered (only / exclude / renames to itself);
 *  2. plan: the candidates (facts of the old predicates) are read in the
 *     requested order, offset and limit applied, and each is looked up
 *     under its new name: when that fact exists the rename is a merge
 *     (the old fact is deleted), else the fact is updated in place;
 *  3. apply (write transaction): plans afresh, then mutates. Two old facts
 *     that become the same new fact are found here (the update reports
 *     HK_ERR_EXISTS) and merged as well;
 *  4. describe: the planned entries as old and new statements, read after
 *     the apply (the old statements are gone then: the old one is rebuilt
 *     from the fact's arguments and the old predicate).
 *
 * ==== Why no swaps or chains ====
 * The plan is made against the KB before any rename, so with A->B and
 * B->A, A(x) would merge into B(x) while B(x) merges into A(x) and both
 * are deleted. Such mappings run as separate calls (for A->B->C first
 * B->C, then A->B).
 *
 * ==== Orders ====
 * head: predicate by predicate in mapping order, oldest fact first (the
 * by_pred index is in id order); tail: the last predicate first, newest
 * fact first (ids are collected, then walked backwards); stratified: one
 * query per predicate, read round-robin.
 */
#include <string.h>

#include "core/mem.h"
#include "graph/graph.h"

/* ==== Prepare ==== */

static bool listed(const char *const *v, size_t n, const char *name)
{
    for (size_t i = 0; v && i < n; i++)
        if (v[i] && strcmp(v[i], name) == 0) return true;
    return false;
}

void hk_graph_rename_free(hk_graph_rename_plan *plan)
{
    hk_free(plan->renames);
    hk_free(plan->plan);
    memset(plan, 0, sizeof *plan);
}

hk_err hk_graph_rename_prepare(const hk_graph_rename_req *req,
                               hk_graph_rename_plan *plan, hk_error *err)
{
    memset(plan, 0, sizeof *plan);
    if (req->n_map == 0)
        return hk_error_set(err, HK_ERR_INVALID,
                            "mapping is empty; give {\"OldPredicate\": "
                            "\"NewPredicate\"}");
    if (req->n_map > HK_GRAPH_RENAME_MAX_MAP)
        return hk_error_set(err, HK_ERR_LIMIT,
                            "mapping has %zu entries; at most %d per call",
                            req->n_map, HK_GRAPH_RENAME_MAX_MAP);
    plan->req = *req;
    plan->renames = hk_calloc(req->n_map, sizeof *plan->renames);
    if (!plan->renames) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    hk_err rc = HK_OK;
    for (size_t m = 0; m < req->n_map; m++) {
        const char *from = req->map[m].from ? req->map[m].from : "";
        const char *to = req->map[m].to;
        /* the new name must be a valid predicate */
        hk_statement probe;
        memset(&probe, 0, sizeof probe);
        probe.predicate = to ? to : "";
        probe.n_args = 1;
        probe.args[0] = "x";
        hk_error ve;
        hk_error_clear(&ve);
        if (hk_statement_validate(&probe, &ve) != HK_OK) {
            rc = hk_error_set(err, HK_ERR_INVALID,
                              "mapping[%s]: '%s' is not a valid predicate "
                              "name: %s",
                              from, probe.predicate, ve.message);
            goto fail;
        }
        if (strcmp(from, to) == 0) continue;
        if (req->only && !listed(req->only, req->n_only, from)) continue;
        if (listed(req->exclude, req->n_exclude, from)) continue;
        plan->renames[plan->n_renames].from = from;
        plan->renames[plan->n_renames++].to = to;
    }
    for (size_t a = 0; a < plan->n_renames; a++)
        for (size_t b = 0; b < plan->n_renames; b++)
            if (strcmp(plan->renames[a].to, plan->renames[b].from) == 0) {
                rc = hk_error_set(err, HK_ERR_INVALID,
                                  "mapping renames %s to %s and also renames "
                                  "%s; chains and swaps are not done in one "
                                  "call: run them as separate calls (for "
                                  "A->B->C first B->C, then A->B)",
                                  plan->renames[a].from, plan->renames[a].to,
                                  plan->renames[b].from);
                goto fail;
            }
    return HK_OK;
fail:
    hk_graph_rename_free(plan);
    return rc;
}

/* ==== Plan ==== */

/* Appends fact f (of rename m) to the plan, as a merge when its renamed
 * statement exists. */
static hk_err plan_add(hk_graph_rename_plan *p, hk_txn *t, const hk_fact *f,
                       uint32_t m, hk_error *err)
{
    hk_statement ns = f->st;
    ns.owned = NULL;
    ns.predicate = p->renames[m].to;
    hk_fact_id target = 0;
    hk_err rc = hk_store_find(t, &ns, &target, NULL);
    if (rc != HK_OK && rc != HK_ERR_NOT_FOUND)
        return hk_error_set(err, rc, "cannot look up fact %llu renamed: %s",
                            (unsigned long long)f->id, hk_strerror(rc));
    if (p->n_plan == p->cap_plan) {
        size_t nc = p->cap_plan ? p->cap_plan * 2 : 1024;
        hk_graph_rename *np = hk_realloc(p->plan, nc * sizeof *np);
        if (!np) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        p->plan = np;
        p->cap_plan = nc;
    }
    hk_graph_rename *r = &p->plan[p->n_plan++];
    r->id = f->id;
    r->target = rc == HK_OK ? target : 0;
    r->map = m;
    if (rc == HK_OK) p->merged++;
    return HK_OK;
}

/* True when the limit is reached. */
static bool plan_full(const hk_graph_rename_plan *p)
{
    const hk_graph_rename_req *q = &p->req;
    return q->limit && (q->by_changes ? p->n_plan : p->examined) >= q->limit;
}

/* The ids of rename m's facts, in id order. Caller frees *ids. */
static hk_err collect_ids(hk_txn *t, const char *pred, hk_fact_id **ids,
                          size_t *n, hk_error *err)
{
    hk_scan scan = HK_SCAN_INIT;
    scan.predicate = pred;
    hk_query *q = NULL;
    size_t cap = 0;
    *ids = NULL;
    *n = 0;
    hk_err rc = hk_query_open_scan(t, &scan, NULL, &q, err);
    for (size_t k = 0; rc == HK_OK && k < HK_GRAPH_RENAME_MAX_PLAN; k++) {
        bool has = false;
        hk_fact_id id;
        rc = hk_query_next_id(q, &id, &has, err);
        if (rc != HK_OK || !has) break;
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 1024;
            hk_fact_id *ni = hk_realloc(*ids, nc * sizeof *ni);
            if (!ni) {
                rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
                break;
            }
            *ids = ni;
            cap = nc;
        }
        (*ids)[(*n)++] = id;
    }
    hk_query_close(q);
    if (rc != HK_OK) {
        hk_free(*ids);
        *ids = NULL;
        *n = 0;
    }
    return rc;
}

/* head and tail: predicate after predicate. */
static hk_err plan_sequential(hk_graph_rename_plan *p, hk_txn *t, hk_fact *f,
                              hk_error *err)
{
    bool tail = p->req.sample == HK_GRAPH_SAMPLE_TAIL;
    size_t skipped = 0;
    hk_err rc = HK_OK;
    for (size_t m = 0; rc == HK_OK && m < p->n_renames; m++) {
        size_t mi = tail ? p->n_renames - 1 - m : m;
        hk_fact_id *ids = NULL;
        size_t n = 0;
        rc = collect_ids(t, p->renames[mi].from, &ids, &n, err);
        for (size_t k = 0; rc == HK_OK && k < n; k++) {
            hk_fact_id id = tail ? ids[n - 1 - k] : ids[k];
            if (skipped < p->req.offset) {
                skipped++;
                continue;
            }
            if (plan_full(p)) break;
            rc = hk_store_get(t, id, f, err);
            if (rc != HK_OK) break;
            p->examined++;
            rc = plan_add(p, t, f, (uint32_t)mi, err);
        }
        hk_free(ids);
    }
    return rc;
}

/* stratified: one fact of each predicate in turn. */
static hk_err plan_stratified(hk_graph_rename_plan *p, hk_txn *t, hk_fact *f,
                              hk_error *err)
{
    hk_query *q[HK_GRAPH_RENAME_MAX_MAP];
    memset(q, 0, sizeof q);
    size_t skipped = 0;
    hk_err rc = HK_OK;
    for (size_t m = 0; rc == HK_OK && m < p->n_renames; m++) {
        hk_scan scan = HK_SCAN_INIT;
        scan.predicate = p->renames[m].from;
        rc = hk_query_open_scan(t, &scan, NULL, &q[m], err);
    }
    bool any = true;
    while (rc == HK_OK && any) {
        any = false;
        for (size_t m = 0; rc == HK_OK && m < p->n_renames; m++) {
            if (!q[m]) continue;
            bool has = false;
            rc = hk_query_next(q[m], f, &has, err);
            if (rc != HK_OK) break;
            if (!has) {
                hk_query_close(q[m]);
                q[m] = NULL;
                continue;
            }
            any = true;
            if (skipped < p->req.offset) {
                skipped++;
                continue;
            }
            if (plan_full(p)) {
                any = false;
                break;
            }
            p->examined++;
            rc = plan_add(p, t, f, (uint32_t)m, err);
        }
    }
    for (size_t m = 0; m < HK_GRAPH_RENAME_MAX_MAP; m++)
        hk_query_close(q[m]);
    return rc;
}

hk_err hk_graph_rename_plan_run(hk_txn *t, hk_graph_rename_plan *plan,
                                hk_error *err)
{
    plan->n_plan = plan->examined = plan->merged = 0;
    plan->applied = false;
    hk_fact f;
    hk_fact_init(&f);
    hk_err rc = plan->req.sample == HK_GRAPH_SAMPLE_STRATIFIED
                    ? plan_stratified(plan, t, &f, err)
                    : plan_sequential(plan, t, &f, err);
    hk_fact_release(&f);
    return rc;
}

/* ==== Apply ==== */

hk_err hk_graph_rename_apply(hk_txn *t, hk_graph_rename_plan *plan,
                             hk_error *err)
{
    hk_err rc = hk_graph_rename_plan_run(t, plan, err);
    hk_fact f;
    hk_fact_init(&f);
    for (size_t i = 0; rc == HK_OK && i < plan->n_plan; i++) {
        hk_graph_rename *r = &plan->plan[i];
        if (r->target) {
            rc = hk_store_delete(t, r->id, err);
            continue;
        }
        rc = hk_store_get(t, r->id, &f, err);
        if (rc != HK_OK) break;
        hk_statement ns = f.st;
        ns.owned = NULL;
        ns.predicate = plan->renames[r->map].to;
        hk_fact_id other = 0;
        rc = hk_store_update(t, r->id, &ns, &other, err);
        if (rc == HK_ERR_EXISTS) {
            /* two old facts renamed onto the same new fact: merge */
            r->target = other;
            plan->merged++;
            rc = hk_store_delete(t, r->id, err);
        }
    }
    hk_fact_release(&f);
    plan->applied = rc == HK_OK;
    return rc;
}

/* ==== Describe ==== */

void hk_graph_rename_changes_free(hk_graph_rename_change *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        hk_free(v[i].old_stmt);
        hk_free(v[i].new_stmt);
    }
    hk_free(v);
}

hk_err hk_graph_rename_describe(hk_txn *t, const hk_graph_rename_plan *plan,
                                size_t max, hk_graph_rename_change **out,
                                size_t *n, hk_error *err)
{
    *out = NULL;
    *n = 0;
    size_t want = plan->n_plan < max ? plan->n_plan : max;
    hk_graph_rename_change *v = hk_calloc(want ? want : 1, sizeof *v);
    hk_fact f;
    hk_fact_init(&f);
    hk_buf a = HK_BUF_INIT, b = HK_BUF_INIT;
    size_t k = 0;
    hk_err rc = v ? HK_OK : HK_ERR_NOMEM;
    for (size_t i = 0; rc == HK_OK && i < want; i++) {
        const hk_graph_rename *r = &plan->plan[i];
        hk_fact_id look = plan->applied && r->target ? r->target : r->id;
        if (hk_store_get(t, look, &f, NULL) != HK_OK) continue; /* gone */
        hk_statement os = f.st, ns = f.st;
        os.owned = ns.owned = NULL;
        os.predicate = plan->renames[r->map].from;
        ns.predicate = plan->renames[r->map].to;
        hk_buf_reset(&a);
        hk_buf_reset(&b);
        rc = hk_statement_format(&os, &a);
        if (rc == HK_OK) rc = hk_statement_format(&ns, &b);
        if (rc != HK_OK) break;
        v[k].index = i;
        v[k].fact_id = r->id;
        v[k].merge = r->target != 0;
        v[k].old_stmt = hk_strndup(a.data, a.len);
        v[k].new_stmt = hk_strndup(b.data, b.len);
        k++;
        if (!v[k - 1].old_stmt || !v[k - 1].new_stmt) rc = HK_ERR_NOMEM;
    }
    hk_fact_release(&f);
    hk_buf_free(&a);
    hk_buf_free(&b);
    if (rc != HK_OK) {
        hk_graph_rename_changes_free(v, k);
        return hk_error_set(err, rc, "out of memory");
    }
    *out = v;
    *n = k;
    return HK_OK;
}
