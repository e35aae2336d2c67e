/*
 * mcp_tools_graph.c — the advanced tools: bulk delete, isolated facts,
 * inference chains, knowledge subgraphs and bulk predicate renaming.
 *
 * Write tools here follow the group-commit rules of the server's writer
 * (src/server/server.h): the function run inside the write transaction
 * first reads and validates everything, then mutates, and resets its
 * results at the start because it may run twice. Graph walks are
 * breadth-first with hard caps (facts per entity, total facts / edges) so
 * that a hub entity with millions of facts cannot blow up a call.
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

#define ISOLATED_MAX_SCAN 100000

hk_err mcp_t_find_isolated_facts(mcp_call *c, json_t **out, hk_error *err)
{
    size_t limit = (size_t)mcp_arg_int(c, "limit", 50);
    hk_txn *t = NULL;
    hk_query *q = NULL;
    hk_fact f;
    hk_fact_init(&f);
    json_t *facts = json_array();
    size_t examined = 0;
    hk_scan scan = HK_SCAN_INIT;
    scan.newest_first = true;
    hk_err rc = facts ? mcp_read_begin(c, &t, err) : HK_ERR_NOMEM;
    if (rc == HK_OK) rc = hk_query_open_scan(t, &scan, NULL, &q, err);
    while (rc == HK_OK && examined < ISOLATED_MAX_SCAN &&
           json_array_size(facts) < limit) {
        bool has = false;
        rc = hk_query_next(q, &f, &has, err);
        if (rc != HK_OK || !has) break;
        examined++;
        bool isolated = true;
        for (uint32_t i = 0; isolated && i < f.st.n_args; i++) {
            uint64_t n = 0;
            rc = hk_store_count_entity(t, f.st.args[i], &n, err);
            if (rc != HK_OK) break;
            if (n > 1) isolated = false;
        }
        if (rc == HK_OK && isolated)
            json_array_append_new(facts, hk_svc_fact_jansson(&f));
    }
    hk_query_close(q);
    if (t) hk_txn_abort(t);
    hk_fact_release(&f);
    if (rc != HK_OK) {
        json_decref(facts);
        return rc;
    }
    *out =
        json_pack("{s:I, s:I, s:o}", "examined", (json_int_t)examined, "count",
                  (json_int_t)json_array_size(facts), "facts", facts);
    return *out ? HK_OK : HK_ERR_NOMEM;
}

/* ==== shared walk state ==== */

/* A set of strings with linear lookup (walks are capped at a few
 * thousand members). */
typedef struct str_set {
    char **v;   /* members (owned) */
    size_t n;   /* count */
    size_t cap; /* allocated */
} str_set;

static bool sset_has(const str_set *s, const char *x)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], x) == 0) return true;
    return false;
}

/* Adds x; *added false when present. */
static hk_err sset_add(str_set *s, const char *x, bool *added)
{
    *added = false;
    if (sset_has(s, x)) return HK_OK;
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 64;
        char **nv = realloc(s->v, nc * sizeof *nv);
        if (!nv) return HK_ERR_NOMEM;
        s->v = nv;
        s->cap = nc;
    }
    if (!(s->v[s->n] = strdup(x))) return HK_ERR_NOMEM;
    s->n++;
    *added = true;
    return HK_OK;
}

static void sset_free(str_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* ==== inference_chain ==== */

#define CHAIN_PER_ENTITY 25
#define CHAIN_MAX_FACTS 500

hk_err mcp_t_inference_chain(mcp_call *c, json_t **out, hk_error *err)
{
    int max_depth = (int)mcp_arg_int(c, "max_depth", 5);
    hk_statement st;
    hk_err rc = mcp_parse_statement(mcp_arg_str(c, "start_fact", NULL),
                                    "start_fact", &st, err);
    if (rc != HK_OK) return rc;
    hk_txn *t = NULL;
    hk_fact f;
    hk_fact_init(&f);
    hk_fact_id *queue = malloc(CHAIN_MAX_FACTS * sizeof *queue);
    int *qdepth = malloc(CHAIN_MAX_FACTS * sizeof *qdepth);
    size_t qn = 0;
    str_set entities = {0};
    json_t *steps = json_array();
    bool truncated = false;
    hk_buf canon = HK_BUF_INIT;
    hk_fact_id start = 0;
    if (!queue || !qdepth || !steps) rc = HK_ERR_NOMEM;
    if (rc == HK_OK) rc = mcp_read_begin(c, &t, err);
    if (rc == HK_OK) {
        rc = hk_store_find(t, &st, &start, err);
        if (rc == HK_ERR_NOT_FOUND)
            hk_error_set(err, rc,
                         "start_fact is not in the knowledge base; "
                         "use search_knowledge to find an exact statement");
    }
    if (rc == HK_OK) {
        queue[qn] = start;
        qdepth[qn++] = 0;
    }
    for (size_t head = 0; rc == HK_OK && head < qn; head++) {
        if (qdepth[head] >= max_depth) continue;
        rc = hk_store_get(t, queue[head], &f, err);
        if (rc != HK_OK) break;
        /* copy args: f is reused by the inner queries */
        char *args[HK_MAX_ARGS];
        uint32_t na = f.st.n_args;
        for (uint32_t i = 0; i < na; i++)
            args[i] = strdup(f.st.args[i]);
        for (uint32_t i = 0; rc == HK_OK && i < na; i++) {
            bool added = false;
            if (!args[i]) {
                rc = HK_ERR_NOMEM;
                break;
            }
            rc = sset_add(&entities, args[i], &added);
            if (rc != HK_OK || !added) continue;
            hk_scan scan = HK_SCAN_INIT;
            scan.entity = args[i];
            hk_query *q = NULL;
            rc = hk_query_open_scan(t, &scan, NULL, &q, err);
            for (size_t k = 0; rc == HK_OK && k < CHAIN_PER_ENTITY; k++) {
                bool has = false;
                rc = hk_query_next(q, &f, &has, err);
                if (rc != HK_OK || !has) break;
                bool seen = false;
                for (size_t x = 0; x < qn; x++)
                    if (queue[x] == f.id) seen = true;
                if (seen) continue;
                if (qn >= CHAIN_MAX_FACTS) {
                    truncated = true;
                    break;
                }
                queue[qn] = f.id;
                qdepth[qn++] = qdepth[head] + 1;
                json_t *fj = hk_svc_fact_jansson(&f);
                json_array_append_new(steps,
                                      json_pack("{s:i, s:s, s:o}", "depth",
                                                qdepth[head] + 1, "via",
                                                args[i], "fact", fj));
            }
            hk_query_close(q);
        }
        for (uint32_t i = 0; i < na; i++)
            free(args[i]);
    }
    if (t) hk_txn_abort(t);
    if (rc == HK_OK) rc = hk_statement_format(&st, &canon);
    hk_fact_release(&f);
    hk_statement_release(&st);
    free(queue);
    free(qdepth);
    sset_free(&entities);
    if (rc != HK_OK) {
        json_decref(steps);
        hk_buf_free(&canon);
        return rc;
    }
    *out = json_pack("{s:s, s:i, s:I, s:b, s:o}", "start_fact", canon.data,
                     "max_depth", max_depth, "count",
                     (json_int_t)json_array_size(steps), "truncated", truncated,
                     "steps", steps);
    hk_buf_free(&canon);
    return *out ? HK_OK : HK_ERR_NOMEM;
}

/* ==== get_knowledge_graph ==== */

#define GRAPH_PER_ENTITY 200
#define GRAPH_MAX_EDGES 2000

static hk_err dot_quote(hk_buf *b, const char *s)
{
    hk_err rc = hk_buf_append(b, "\"", 1);
    for (; rc == HK_OK && *s; s++) {
        if (*s == '"' || *s == '\\') rc = hk_buf_append(b, "\\", 1);
        if (rc == HK_OK) rc = hk_buf_append(b, s, 1);
    }
    if (rc == HK_OK) rc = hk_buf_append(b, "\"", 1);
    return rc;
}

typedef struct graph {
    str_set nodes;     /* node ids: entity names, "fact:<id>" */
    json_t *node_list; /* [{id, kind, label?}] */
    json_t *edges;     /* [{from, to, label, fact_id}] */
    hk_fact_id *facts; /* facts already drawn */
    size_t n_facts;    /* count */
    size_t cap_facts;  /* allocated */
    bool truncated;    /* GRAPH_MAX_EDGES reached */
} graph;

static hk_err node(graph *g, const char *id, const char *kind,
                   const char *label, bool *added)
{
    hk_err rc = sset_add(&g->nodes, id, added);
    if (rc == HK_OK && *added) {
        json_t *n = json_pack("{s:s, s:s}", "id", id, "kind", kind);
        if (n && label) json_object_set_new(n, "label", json_string(label));
        json_array_append_new(g->node_list, n);
    }
    return rc;
}

static void edge(graph *g, const char *from, const char *to, const char *label,
                 hk_fact_id id)
{
    if (json_array_size(g->edges) >= GRAPH_MAX_EDGES) {
        g->truncated = true;
        return;
    }
    json_array_append_new(g->edges, json_pack("{s:s, s:s, s:s, s:I}", "from",
                                              from, "to", to, "label", label,
                                              "fact_id", (json_int_t)id));
}

hk_err mcp_t_get_knowledge_graph(mcp_call *c, json_t **out, hk_error *err)
{
    const char *entity = mcp_arg_str(c, "entity", "");
    int depth = (int)mcp_arg_int(c, "depth", 2);
    const char *format = mcp_arg_str(c, "format", "json");
    graph g;
    memset(&g, 0, sizeof g);
    g.node_list = json_array();
    g.edges = json_array();
    str_set frontier = {0}, next = {0};
    hk_txn *t = NULL;
    hk_fact f;
    hk_fact_init(&f);
    bool added;
    hk_err rc =
        g.node_list && g.edges ? mcp_read_begin(c, &t, err) : HK_ERR_NOMEM;
    if (rc == HK_OK) rc = node(&g, entity, "entity", NULL, &added);
    if (rc == HK_OK) rc = sset_add(&frontier, entity, &added);
    for (int d = 0; rc == HK_OK && d < depth && frontier.n > 0 && !g.truncated;
         d++) {
        for (size_t e = 0; rc == HK_OK && e < frontier.n && !g.truncated; e++) {
            hk_scan scan = HK_SCAN_INIT;
            scan.entity = frontier.v[e];
            hk_query *q = NULL;
            rc = hk_query_open_scan(t, &scan, NULL, &q, err);
            for (size_t k = 0;
                 rc == HK_OK && k < GRAPH_PER_ENTITY && !g.truncated; k++) {
                bool has = false;
                rc = hk_query_next(q, &f, &has, err);
                if (rc != HK_OK || !has) break;
                bool seen = false;
                for (size_t x = 0; x < g.n_facts; x++)
                    if (g.facts[x] == f.id) seen = true;
                if (seen) continue;
                if (g.n_facts == g.cap_facts) {
                    size_t nc = g.cap_facts ? g.cap_facts * 2 : 256;
                    hk_fact_id *nf = realloc(g.facts, nc * sizeof *nf);
                    if (!nf) {
                        rc = HK_ERR_NOMEM;
                        break;
                    }
                    g.facts = nf;
                    g.cap_facts = nc;
                }
                g.facts[g.n_facts++] = f.id;
                for (uint32_t i = 0; rc == HK_OK && i < f.st.n_args; i++) {
                    rc = node(&g, f.st.args[i], "entity", NULL, &added);
                    if (rc == HK_OK && added)
                        rc = sset_add(&next, f.st.args[i], &added);
                }
                if (rc != HK_OK) break;
                if (f.st.n_args == 2) {
                    edge(&g, f.st.args[0], f.st.args[1], f.st.predicate, f.id);
                } else {
                    char fid[48];
                    snprintf(fid, sizeof fid, "fact:%llu",
                             (unsigned long long)f.id);
                    rc = node(&g, fid, "fact", f.st.predicate, &added);
                    for (uint32_t i = 0; rc == HK_OK && i < f.st.n_args; i++) {
                        char label[HK_MAX_PREDICATE_BYTES + 16];
                        snprintf(label, sizeof label, "%s[%u]", f.st.predicate,
                                 i);
                        edge(&g, fid, f.st.args[i], label, f.id);
                    }
                }
            }
            hk_query_close(q);
        }
        sset_free(&frontier);
        frontier = next;
        memset(&next, 0, sizeof next);
    }
    if (t) hk_txn_abort(t);
    hk_fact_release(&f);
    sset_free(&frontier);
    sset_free(&next);
    sset_free(&g.nodes);
    free(g.facts);
    if (rc != HK_OK) {
        json_decref(g.node_list);
        json_decref(g.edges);
        return rc;
    }
    json_t *o = json_pack("{s:s, s:i, s:o, s:o, s:b}", "entity", entity,
                          "depth", depth, "nodes", g.node_list, "edges",
                          g.edges, "truncated", g.truncated);
    if (!o) return HK_ERR_NOMEM;
    if (strcmp(format, "dot") == 0) {
        hk_buf b = HK_BUF_INIT;
        hk_buf_append_str(&b, "digraph hakgal {\n");
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(o, "edges"), i, e)
        {
            hk_buf_append_str(&b, "  ");
            dot_quote(&b, json_string_value(json_object_get(e, "from")));
            hk_buf_append_str(&b, " -> ");
            dot_quote(&b, json_string_value(json_object_get(e, "to")));
            hk_buf_append_str(&b, " [label=");
            dot_quote(&b, json_string_value(json_object_get(e, "label")));
            hk_buf_append_str(&b, "];\n");
        }
        rc = hk_buf_append_str(&b, "}\n");
        if (rc == HK_OK) json_object_set_new(o, "dot", json_string(b.data));
        hk_buf_free(&b);
        if (rc != HK_OK) {
            json_decref(o);
            return rc;
        }
    }
    *out = o;
    return HK_OK;
}

/* ==== bulk_translate_predicates ==== */

#define TRANSLATE_MAX 10000000 /* candidates planned at most */
#define TRANSLATE_SAMPLE 100   /* changes listed in the result */

typedef struct pred_rename {
    hk_fact_id id;     /* fact to rename */
    hk_fact_id target; /* existing fact with the new content, or 0 */
    uint32_t map;      /* index into the mapping */
} pred_rename;

typedef struct translate_job {
    const char **old_p;   /* old predicate names (borrowed from args) */
    const char **new_p;   /* new names */
    size_t n_map;         /* mapping entries in use */
    const char *strategy; /* head, tail, stratified */
    bool by_changes;      /* limit counts changes, not lines */
    size_t limit;         /* 0 = all */
    size_t offset;        /* candidates to skip */
    bool apply;           /* mutate (not dry run) */
    pred_rename *plan;    /* planned renames */
    size_t n_plan;        /* count */
    size_t cap_plan;      /* allocated */
    size_t examined;      /* candidates looked at */
    size_t merged;        /* renames that merged into an existing fact */
} translate_job;

static hk_err plan_add(translate_job *j, hk_txn *t, const hk_fact *f,
                       uint32_t m, hk_error *err)
{
    hk_statement ns = f->st;
    ns.owned = NULL;
    ns.predicate = j->new_p[m];
    hk_fact_id target = 0;
    hk_err rc = hk_store_find(t, &ns, &target, NULL);
    if (rc != HK_OK && rc != HK_ERR_NOT_FOUND) return rc;
    if (j->n_plan == j->cap_plan) {
        size_t nc = j->cap_plan ? j->cap_plan * 2 : 1024;
        pred_rename *np = realloc(j->plan, nc * sizeof *np);
        if (!np) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        j->plan = np;
        j->cap_plan = nc;
    }
    j->plan[j->n_plan].id = f->id;
    j->plan[j->n_plan].target = rc == HK_OK ? target : 0;
    j->plan[j->n_plan++].map = m;
    if (rc == HK_OK) j->merged++;
    return HK_OK;
}

/* Fills j->plan from the KB in transaction t. */
static hk_err plan_renames(translate_job *j, hk_txn *t, hk_error *err)
{
    j->n_plan = j->examined = j->merged = 0;
    bool tail = strcmp(j->strategy, "tail") == 0;
    bool strat = strcmp(j->strategy, "stratified") == 0;
    hk_query *q[64];
    memset(q, 0, sizeof q);
    hk_fact f;
    hk_fact_init(&f);
    size_t skipped = 0;
    hk_err rc = HK_OK;
    size_t nq = j->n_map < 64 ? j->n_map : 64;
    /* stratified: one query per predicate, read round-robin; head/tail:
     * predicates one after the other (tail in reverse order). */
    for (size_t m = 0; rc == HK_OK && m < nq; m++) {
        size_t mi = tail ? nq - 1 - m : m;
        hk_scan scan = HK_SCAN_INIT;
        scan.predicate = j->old_p[mi];
        if (strat) rc = hk_query_open_scan(t, &scan, NULL, &q[mi], err);
        if (strat || rc != HK_OK) continue;
        /* head/tail: by_pred order is id order; tail reads newest first by
         * collecting ids then walking backwards */
        hk_query *one = NULL;
        rc = hk_query_open_scan(t, &scan, NULL, &one, err);
        hk_fact_id *ids = NULL;
        size_t n = 0, cap = 0;
        for (size_t k = 0; rc == HK_OK && k < TRANSLATE_MAX; k++) {
            bool has = false;
            hk_fact_id id;
            rc = hk_query_next_id(one, &id, &has, err);
            if (rc != HK_OK || !has) break;
            if (n == cap) {
                size_t nc = cap ? cap * 2 : 1024;
                hk_fact_id *ni = realloc(ids, nc * sizeof *ni);
                if (!ni) {
                    rc = HK_ERR_NOMEM;
                    break;
                }
                ids = ni;
                cap = nc;
            }
            ids[n++] = id;
        }
        hk_query_close(one);
        for (size_t k = 0; rc == HK_OK && k < n; k++) {
            hk_fact_id id = tail ? ids[n - 1 - k] : ids[k];
            if (skipped < j->offset) {
                skipped++;
                continue;
            }
            if (j->limit &&
                (j->by_changes ? j->n_plan : j->examined) >= j->limit)
                break;
            rc = hk_store_get(t, id, &f, err);
            if (rc != HK_OK) break;
            j->examined++;
            rc = plan_add(j, t, &f, (uint32_t)mi, err);
        }
        free(ids);
    }
    if (strat) {
        bool any = true;
        while (rc == HK_OK && any) {
            any = false;
            for (size_t m = 0; rc == HK_OK && m < nq; m++) {
                if (!q[m]) continue;
                bool has = false;
                rc = hk_query_next(q[m], &f, &has, err);
                if (rc != HK_OK) break;
                if (!has) {
                    hk_query_close(q[m]);
                    q[m] = NULL;
                    continue;
                }
                any = true;
                if (skipped < j->offset) {
                    skipped++;
                    continue;
                }
                if (j->limit &&
                    (j->by_changes ? j->n_plan : j->examined) >= j->limit) {
                    any = false;
                    break;
                }
                j->examined++;
                rc = plan_add(j, t, &f, (uint32_t)m, err);
            }
        }
    }
    for (size_t m = 0; m < 64; m++)
        hk_query_close(q[m]);
    hk_fact_release(&f);
    return rc;
}

static hk_err translate_in_txn(hk_txn *t, void *arg, hk_error *err)
{
    translate_job *j = arg;
    hk_err rc = plan_renames(j, t, err);
    hk_fact f;
    hk_fact_init(&f);
    for (size_t i = 0; rc == HK_OK && i < j->n_plan; i++) {
        pred_rename *r = &j->plan[i];
        if (r->target) {
            rc = hk_store_delete(t, r->id, err);
            continue;
        }
        rc = hk_store_get(t, r->id, &f, err);
        if (rc != HK_OK) break;
        hk_statement ns = f.st;
        ns.owned = NULL;
        ns.predicate = j->new_p[r->map];
        hk_fact_id other = 0;
        rc = hk_store_update(t, r->id, &ns, &other, err);
        if (rc == HK_ERR_EXISTS) {
            /* two old facts renamed onto the same new fact: merge */
            r->target = other;
            j->merged++;
            rc = hk_store_delete(t, r->id, err);
        }
    }
    hk_fact_release(&f);
    return rc;
}

hk_err mcp_t_bulk_translate_predicates(mcp_call *c, json_t **out, hk_error *err)
{
    json_t *mapping = json_object_get(c->args, "mapping");
    json_t *only = json_object_get(c->args, "predicates");
    json_t *excl = json_object_get(c->args, "exclude_predicates");
    translate_job j;
    memset(&j, 0, sizeof j);
    j.strategy = mcp_arg_str(c, "sample_strategy", "head");
    j.by_changes =
        strcmp(mcp_arg_str(c, "limit_mode", "lines"), "changes") == 0;
    j.limit = (size_t)mcp_arg_int(c, "limit", 0);
    j.offset = (size_t)mcp_arg_int(c, "start_offset", 0);
    j.apply = !mcp_arg_bool(c, "dry_run", true);
    const char *report = mcp_arg_str(c, "report_path", NULL);
    char *report_real = NULL;
    size_t nm = json_object_size(mapping);
    if (nm == 0)
        return hk_error_set(err, HK_ERR_INVALID,
                            "mapping is empty; give {\"OldPredicate\": "
                            "\"NewPredicate\"}");
    if (nm > 64)
        return hk_error_set(err, HK_ERR_LIMIT,
                            "mapping has %zu entries; at "
                            "most 64 per call",
                            nm);
    j.old_p = calloc(nm, sizeof *j.old_p);
    j.new_p = calloc(nm, sizeof *j.new_p);
    hk_err rc = j.old_p && j.new_p ? HK_OK : HK_ERR_NOMEM;
    const char *key;
    json_t *val;
    json_object_foreach(mapping, key, val)
    {
        if (rc != HK_OK) break;
        /* validate the new name as a predicate */
        hk_statement probe;
        memset(&probe, 0, sizeof probe);
        probe.predicate = json_string_value(val);
        probe.n_args = 1;
        probe.args[0] = "x";
        hk_error ve;
        hk_error_clear(&ve);
        if (hk_statement_validate(&probe, &ve) != HK_OK) {
            rc = hk_error_set(err, HK_ERR_INVALID,
                              "mapping[%s]: '%s' is not "
                              "a valid predicate name: %s",
                              key, probe.predicate, ve.message);
            break;
        }
        bool keep = strcmp(key, probe.predicate) != 0;
        if (json_is_array(only)) {
            bool listed = false;
            size_t i;
            json_t *p;
            json_array_foreach(only, i, p) if (json_is_string(p) &&
                                               strcmp(json_string_value(p),
                                                      key) == 0) listed = true;
            keep = keep && listed;
        }
        if (json_is_array(excl)) {
            size_t i;
            json_t *p;
            json_array_foreach(excl, i, p) if (json_is_string(p) &&
                                               strcmp(json_string_value(p),
                                                      key) == 0) keep = false;
        }
        if (!keep) continue;
        j.old_p[j.n_map] = key;
        j.new_p[j.n_map++] = probe.predicate;
    }
    /* A new name that is also renamed (swap A<->B, chain A->B->C): the
     * plan is made against the KB before any rename, so A(x) would merge
     * into B(x) while B(x) merges into A(x) and both are deleted. Refuse;
     * the caller runs such mappings as separate calls. */
    for (size_t a = 0; rc == HK_OK && a < j.n_map; a++)
        for (size_t b = 0; b < j.n_map; b++)
            if (strcmp(j.new_p[a], j.old_p[b]) == 0) {
                rc = hk_error_set(err, HK_ERR_INVALID,
                                  "mapping renames %s to %s and also renames "
                                  "%s; chains and swaps are not done in one "
                                  "call: run them as separate calls (for "
                                  "A->B->C first B->C, then A->B)",
                                  j.old_p[a], j.new_p[a], j.old_p[b]);
                break;
            }
    if (rc == HK_OK && report)
        rc = mcp_path_allowed(c->srv, report, "report_path", &report_real, err);
    /* Open the report before renaming anything: a report that cannot be
     * written must fail the call while the KB is still unchanged.
     * O_NOFOLLOW: the checked path is the one written. */
    int report_fd = -1;
    if (rc == HK_OK && report_real) {
        /* A dry run needs no token, so it may only create new files: it
         * must not be a way to overwrite snapshots or earlier reports. */
        int create_only = j.apply ? 0 : O_EXCL;
        report_fd = open(report_real,
                         O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC |
                             create_only,
                         0640);
        if (report_fd < 0 && create_only && errno == EEXIST)
            rc = hk_error_set(err, HK_ERR_EXISTS,
                              "report_path %s already exists; a dry run "
                              "only writes new files (choose another name)",
                              report_real);
        else if (report_fd < 0)
            rc = hk_error_set(err, HK_ERR_IO,
                              "cannot write report %s: %s; "
                              "nothing was renamed",
                              report_real, strerror(errno));
    }
    if (rc == HK_OK) {
        if (j.apply) {
            rc = c->srv->env.write(c->srv->env.write_ud, translate_in_txn, &j,
                                   c->actor, err);
        } else {
            hk_txn *t = NULL;
            rc = mcp_read_begin(c, &t, err);
            if (rc == HK_OK) rc = plan_renames(&j, t, err);
            if (t) hk_txn_abort(t);
        }
    }
    /* describe the changes (old statements are gone after applying: the
     * new statement is rebuilt from the new predicate and the args) */
    json_t *changes = json_array(), *all = report_real ? json_array() : NULL;
    if (rc == HK_OK) {
        hk_txn *t = NULL;
        hk_fact f;
        hk_fact_init(&f);
        hk_buf a = HK_BUF_INIT, b = HK_BUF_INIT;
        rc = mcp_read_begin(c, &t, err);
        size_t want =
            all ? j.n_plan
                : (j.n_plan < TRANSLATE_SAMPLE ? j.n_plan : TRANSLATE_SAMPLE);
        for (size_t i = 0; rc == HK_OK && i < want; i++) {
            pred_rename *r = &j.plan[i];
            hk_fact_id look = j.apply && r->target ? r->target : r->id;
            if (hk_store_get(t, look, &f, NULL) != HK_OK) continue;
            hk_statement os = f.st, ns = f.st;
            os.owned = ns.owned = NULL;
            os.predicate = j.old_p[r->map];
            ns.predicate = j.new_p[r->map];
            hk_buf_reset(&a);
            hk_buf_reset(&b);
            if (hk_statement_format(&os, &a) != HK_OK ||
                hk_statement_format(&ns, &b) != HK_OK)
                continue;
            json_t *ch =
                json_pack("{s:I, s:s, s:s, s:s}", "fact_id", (json_int_t)r->id,
                          "old", a.data, "new", b.data, "action",
                          r->target ? "merge" : "rename");
            if (i < TRANSLATE_SAMPLE) json_array_append(changes, ch);
            if (all) json_array_append(all, ch);
            json_decref(ch);
        }
        if (t) hk_txn_abort(t);
        hk_fact_release(&f);
        hk_buf_free(&a);
        hk_buf_free(&b);
    }
    if (rc == HK_OK && report_real) {
        json_t *rep = json_pack("{s:b, s:I, s:I, s:I, s:O}", "dry_run",
                                !j.apply, "examined", (json_int_t)j.examined,
                                "changed", (json_int_t)j.n_plan, "merged",
                                (json_int_t)j.merged, "changes", all);
        bool ok = rep && json_dumpfd(rep, report_fd, JSON_INDENT(1)) == 0;
        if (close(report_fd) != 0) ok = false;
        report_fd = -1;
        if (!ok)
            rc = hk_error_set(err, HK_ERR_IO, "cannot write report %s%s",
                              report_real,
                              j.apply ? " (the renames were made)" : "");
        json_decref(rep);
    }
    if (report_fd >= 0) close(report_fd);
    json_decref(all);
    free(j.old_p);
    free(j.new_p);
    free(j.plan);
    if (rc != HK_OK || !changes) {
        json_decref(changes);
        free(report_real);
        return rc != HK_OK ? rc : HK_ERR_NOMEM;
    }
    *out = json_pack("{s:b, s:I, s:I, s:I, s:o, s:o}", "dry_run", !j.apply,
                     "examined", (json_int_t)j.examined, "changed",
                     (json_int_t)j.n_plan, "merged", (json_int_t)j.merged,
                     "changes", changes, "report_path",
                     report_real ? json_string(report_real) : json_null());
    free(report_real);
    return *out ? HK_OK : HK_ERR_NOMEM;
}
