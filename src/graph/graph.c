/*
 * graph.c — neighbourhood walks, fact chains and isolated facts over the
 * entity graph (graph.h); the bulk predicate rename is in rename.c.
 *
 * ==== Sets ====
 * A walk must know which entities and facts it has reached. Both sets are
 * open-addressing hash tables (FNV-1a for names, a multiplicative hash for
 * fact ids) that double at half load; a name set also keeps its members
 * in insertion order, which is the order vertices are reported in.
 *
 * ==== Neighbourhood ====
 * Level by level: the frontier holds the entity vertices first reached at
 * the previous level; each is expanded through the by_arg index (at most
 * HK_GRAPH_PER_ENTITY facts). A fact already drawn is skipped. Entity
 * names and fact vertex names ("fact:<id>") share one name space, as the
 * vertex ids of the result do.
 *
 * ==== Chains ====
 * A queue of facts with their levels; each fact's arguments are expanded
 * once per call (the entity set), at most HK_GRAPH_CHAIN_PER_ENTITY facts
 * each, and a fact enters the queue once.
 */
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"
#include "graph/graph.h"

/* ==== Name set ==== */

/* A set of names that keeps insertion order. */
typedef struct name_set {
    char **v;       /* members in insertion order (owned) */
    size_t n;       /* members */
    size_t *slots;  /* open addressing: member index + 1, 0 = empty */
    size_t n_slots; /* power of two, or 0 */
} name_set;

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

/* Slot of x, or of the empty slot where it belongs. */
static size_t names_slot(const name_set *s, const char *x, uint64_t h)
{
    size_t mask = s->n_slots - 1, i = (size_t)h & mask;
    while (s->slots[i] != 0 && strcmp(s->v[s->slots[i] - 1], x) != 0)
        i = (i + 1) & mask;
    return i;
}

static hk_err names_grow(name_set *s)
{
    size_t ns = s->n_slots ? s->n_slots * 2 : 256;
    size_t *slots = hk_calloc(ns, sizeof *slots);
    char **v = hk_realloc(s->v, (ns / 2) * sizeof *v);
    if (!slots || !v) {
        hk_free(slots);
        if (v) s->v = v;
        return HK_ERR_NOMEM;
    }
    s->v = v;
    hk_free(s->slots);
    s->slots = slots;
    s->n_slots = ns;
    for (size_t k = 0; k < s->n; k++)
        s->slots[names_slot(s, s->v[k], hash_name(s->v[k]))] = k + 1;
    return HK_OK;
}

static bool names_find(const name_set *s, const char *x, size_t *idx)
{
    if (s->n_slots == 0) return false;
    size_t i = names_slot(s, x, hash_name(x));
    if (s->slots[i] == 0) return false;
    if (idx) *idx = s->slots[i] - 1;
    return true;
}

static hk_err names_add(name_set *s, const char *x, size_t *idx, bool *added)
{
    *added = false;
    if (names_find(s, x, idx)) return HK_OK;
    if ((s->n + 1) * 2 > s->n_slots && names_grow(s) != HK_OK)
        return HK_ERR_NOMEM;
    char *copy = hk_strdup(x);
    if (!copy) return HK_ERR_NOMEM;
    s->v[s->n] = copy;
    s->slots[names_slot(s, x, hash_name(x))] = s->n + 1;
    if (idx) *idx = s->n;
    s->n++;
    *added = true;
    return HK_OK;
}

static void names_free(name_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        hk_free(s->v[i]);
    hk_free(s->v);
    hk_free(s->slots);
    memset(s, 0, sizeof *s);
}

/* ==== Fact id set ==== */

/* Fact ids are > 0, so 0 marks an empty slot. */
typedef struct id_set {
    hk_fact_id *slots; /* open addressing */
    size_t n_slots;    /* power of two, or 0 */
    size_t n;          /* members */
} id_set;

static size_t id_slot(const id_set *s, hk_fact_id id)
{
    size_t mask = s->n_slots - 1;
    size_t i = (size_t)((id * 0x9E3779B97F4A7C15ull) >> 17) & mask;
    while (s->slots[i] != 0 && s->slots[i] != id)
        i = (i + 1) & mask;
    return i;
}

/* Adds id; *added false when it was present. */
static hk_err id_add(id_set *s, hk_fact_id id, bool *added)
{
    *added = false;
    if (s->n_slots && s->slots[id_slot(s, id)] == id) return HK_OK;
    if ((s->n + 1) * 2 > s->n_slots) {
        size_t ns = s->n_slots ? s->n_slots * 2 : 256;
        id_set big = {hk_calloc(ns, sizeof(hk_fact_id)), ns, s->n};
        if (!big.slots) return HK_ERR_NOMEM;
        for (size_t i = 0; i < s->n_slots; i++)
            if (s->slots[i])
                big.slots[id_slot(&big, s->slots[i])] = s->slots[i];
        hk_free(s->slots);
        *s = big;
    }
    s->slots[id_slot(s, id)] = id;
    s->n++;
    *added = true;
    return HK_OK;
}

/* ==== Neighbourhood ==== */

void hk_graph_walk_res_free(hk_graph_walk_res *res)
{
    for (size_t i = 0; res->nodes && i < res->n_nodes; i++) {
        hk_free(res->nodes[i].id);
        hk_free(res->nodes[i].label);
    }
    hk_free(res->nodes);
    for (size_t i = 0; res->edges && i < res->n_edges; i++)
        hk_free(res->edges[i].label);
    hk_free(res->edges);
    memset(res, 0, sizeof *res);
}

/* The state of one walk. */
typedef struct walk {
    hk_graph_walk_res *res; /* the result being built */
    name_set names;         /* vertex ids, in the order of res->nodes */
    size_t cap_nodes;       /* allocated entries of res->nodes */
    size_t cap_edges;       /* allocated entries of res->edges */
    id_set facts;           /* facts already drawn */
    size_t *frontier;       /* entity vertices to expand at this level */
    size_t n_frontier;      /* entries in frontier */
    size_t *next;           /* entity vertices first reached at this level */
    size_t n_next;          /* entries in next */
    size_t cap_level;       /* allocated entries of frontier and next */
} walk;

/* Adds vertex id (if new) and gives its index. */
static hk_err walk_node(walk *w, const char *id, hk_graph_node_kind kind,
                        const char *label, size_t *idx, bool *added)
{
    hk_graph_walk_res *res = w->res;
    if (res->n_nodes == w->cap_nodes) {
        size_t nc = w->cap_nodes ? w->cap_nodes * 2 : 64;
        hk_graph_node *nv = hk_realloc(res->nodes, nc * sizeof *nv);
        if (!nv) return HK_ERR_NOMEM;
        res->nodes = nv;
        w->cap_nodes = nc;
    }
    hk_err rc = names_add(&w->names, id, idx, added);
    if (rc != HK_OK || !*added) return rc;
    hk_graph_node *n = &res->nodes[res->n_nodes++];
    n->kind = kind;
    n->id = hk_strdup(id);
    n->label = label ? hk_strdup(label) : NULL;
    if (!n->id || (label && !n->label)) return HK_ERR_NOMEM;
    if (kind == HK_GRAPH_ENTITY) {
        if (w->n_next == w->cap_level) {
            size_t nc = w->cap_level ? w->cap_level * 2 : 64;
            size_t *a = hk_realloc(w->frontier, nc * sizeof *a);
            if (a) w->frontier = a;
            size_t *b = a ? hk_realloc(w->next, nc * sizeof *b) : NULL;
            if (!b) return HK_ERR_NOMEM;
            w->next = b;
            w->cap_level = nc;
        }
        w->next[w->n_next++] = *idx;
    }
    return HK_OK;
}

/* Draws an edge unless the cap is reached (then marks truncated). */
static hk_err walk_edge(walk *w, size_t from, size_t to, const char *label,
                        hk_fact_id id)
{
    hk_graph_walk_res *res = w->res;
    if (res->n_edges >= HK_GRAPH_MAX_EDGES) {
        res->truncated = true;
        return HK_OK;
    }
    if (res->n_edges == w->cap_edges) {
        size_t nc = w->cap_edges ? w->cap_edges * 2 : 64;
        hk_graph_edge *nv = hk_realloc(res->edges, nc * sizeof *nv);
        if (!nv) return HK_ERR_NOMEM;
        res->edges = nv;
        w->cap_edges = nc;
    }
    char *copy = hk_strdup(label);
    if (!copy) return HK_ERR_NOMEM;
    hk_graph_edge *e = &res->edges[res->n_edges++];
    e->from = from;
    e->to = to;
    e->label = copy;
    e->fact_id = id;
    return HK_OK;
}

/* Draws fact f: its entities, then one edge (binary) or a fact vertex
 * with an edge to each argument. */
static hk_err walk_fact(walk *w, const hk_fact *f)
{
    size_t arg_idx[HK_MAX_ARGS];
    bool added;
    hk_err rc = HK_OK;
    for (uint32_t i = 0; rc == HK_OK && i < f->st.n_args; i++)
        rc = walk_node(w, f->st.args[i], HK_GRAPH_ENTITY, NULL, &arg_idx[i],
                       &added);
    if (rc != HK_OK) return rc;
    if (f->st.n_args == 2)
        return walk_edge(w, arg_idx[0], arg_idx[1], f->st.predicate, f->id);
    char fid[48];
    snprintf(fid, sizeof fid, "fact:%llu", (unsigned long long)f->id);
    size_t fidx = 0;
    rc = walk_node(w, fid, HK_GRAPH_FACT, f->st.predicate, &fidx, &added);
    for (uint32_t i = 0; rc == HK_OK && i < f->st.n_args; i++) {
        char label[HK_MAX_PREDICATE_BYTES + 16];
        snprintf(label, sizeof label, "%s[%u]", f->st.predicate, i);
        rc = walk_edge(w, fidx, arg_idx[i], label, f->id);
    }
    return rc;
}

/* Expands one entity vertex. */
static hk_err walk_entity(hk_txn *t, walk *w, size_t idx, hk_fact *f,
                          hk_error *err)
{
    hk_scan scan = HK_SCAN_INIT;
    scan.entity = w->names.v[idx];
    hk_query *q = NULL;
    hk_err rc = hk_query_open_scan(t, &scan, NULL, &q, err);
    for (size_t k = 0;
         rc == HK_OK && k < HK_GRAPH_PER_ENTITY && !w->res->truncated; k++) {
        bool has = false, added = false;
        rc = hk_query_next(q, f, &has, err);
        if (rc != HK_OK || !has) break;
        rc = id_add(&w->facts, f->id, &added);
        if (rc == HK_OK && added) rc = walk_fact(w, f);
    }
    hk_query_close(q);
    return rc;
}

hk_err hk_graph_walk(hk_txn *t, const hk_graph_walk_req *req,
                     hk_graph_walk_res *res, hk_error *err)
{
    memset(res, 0, sizeof *res);
    walk w;
    memset(&w, 0, sizeof w);
    w.res = res;
    hk_fact f;
    hk_fact_init(&f);
    size_t idx;
    bool added;
    hk_err rc = walk_node(&w, req->entity ? req->entity : "", HK_GRAPH_ENTITY,
                          NULL, &idx, &added);
    for (unsigned d = 0;
         rc == HK_OK && d < req->depth && w.n_next > 0 && !res->truncated;
         d++) {
        /* this level's new entities become the frontier */
        size_t *tmp = w.frontier;
        w.frontier = w.next;
        w.n_frontier = w.n_next;
        w.next = tmp;
        w.n_next = 0;
        for (size_t e = 0; rc == HK_OK && e < w.n_frontier && !res->truncated;
             e++)
            rc = walk_entity(t, &w, w.frontier[e], &f, err);
    }
    hk_fact_release(&f);
    hk_free(w.frontier);
    hk_free(w.next);
    hk_free(w.facts.slots);
    names_free(&w.names);
    if (rc == HK_ERR_NOMEM) hk_error_set(err, rc, "out of memory");
    if (rc != HK_OK) hk_graph_walk_res_free(res);
    return rc;
}

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

hk_err hk_graph_write_dot(const hk_graph_walk_res *res, hk_buf *out)
{
    hk_err rc = hk_buf_append_str(out, "digraph hakgal {\n");
    for (size_t i = 0; rc == HK_OK && i < res->n_edges; i++) {
        const hk_graph_edge *e = &res->edges[i];
        rc = hk_buf_append_str(out, "  ");
        if (rc == HK_OK) rc = dot_quote(out, res->nodes[e->from].id);
        if (rc == HK_OK) rc = hk_buf_append_str(out, " -> ");
        if (rc == HK_OK) rc = dot_quote(out, res->nodes[e->to].id);
        if (rc == HK_OK) rc = hk_buf_append_str(out, " [label=");
        if (rc == HK_OK) rc = dot_quote(out, e->label);
        if (rc == HK_OK) rc = hk_buf_append_str(out, "];\n");
    }
    if (rc == HK_OK) rc = hk_buf_append_str(out, "}\n");
    return rc;
}

/* ==== Chains ==== */

void hk_graph_chain_res_free(hk_graph_chain_res *res)
{
    for (size_t i = 0; res->steps && i < res->n_steps; i++) {
        hk_free(res->steps[i].via);
        hk_fact_release(&res->steps[i].fact);
    }
    hk_free(res->steps);
    memset(res, 0, sizeof *res);
}

/* The state of one chain. */
typedef struct chain {
    hk_graph_chain_res *res; /* the result being built */
    hk_fact_id *queue;       /* facts in breadth-first order, start first */
    unsigned *level;         /* level of each queued fact */
    size_t n_queue;          /* entries in queue */
    name_set entities;       /* entities expanded so far */
} chain;

static bool chain_has(const chain *c, hk_fact_id id)
{
    for (size_t x = 0; x < c->n_queue; x++)
        if (c->queue[x] == id) return true;
    return false;
}

/* Queues the facts of entity `via` not queued yet, at level `level`. */
static hk_err chain_expand(hk_txn *t, chain *c, const char *via, unsigned level,
                           hk_fact *f, hk_error *err)
{
    hk_graph_chain_res *res = c->res;
    hk_scan scan = HK_SCAN_INIT;
    scan.entity = via;
    hk_query *q = NULL;
    hk_err rc = hk_query_open_scan(t, &scan, NULL, &q, err);
    for (size_t k = 0; rc == HK_OK && k < HK_GRAPH_CHAIN_PER_ENTITY; k++) {
        bool has = false;
        rc = hk_query_next(q, f, &has, err);
        if (rc != HK_OK || !has) break;
        if (chain_has(c, f->id)) continue;
        if (c->n_queue >= HK_GRAPH_CHAIN_MAX_FACTS) {
            res->truncated = true;
            break;
        }
        c->queue[c->n_queue] = f->id;
        c->level[c->n_queue++] = level;
        hk_graph_step *s = &res->steps[res->n_steps];
        s->depth = level;
        s->via = hk_strdup(via);
        if (!s->via) {
            rc = HK_ERR_NOMEM;
            break;
        }
        s->fact = *f; /* moves the fact: its strings live in its buffer */
        hk_fact_init(f);
        res->n_steps++;
    }
    hk_query_close(q);
    return rc;
}

hk_err hk_graph_chain(hk_txn *t, const hk_graph_chain_req *req,
                      hk_graph_chain_res *res, hk_error *err)
{
    memset(res, 0, sizeof *res);
    chain c;
    memset(&c, 0, sizeof c);
    c.res = res;
    hk_fact f;
    hk_fact_init(&f);
    char *args[HK_MAX_ARGS];
    uint32_t n_args = 0;
    hk_err rc = HK_OK;
    c.queue = hk_calloc(HK_GRAPH_CHAIN_MAX_FACTS, sizeof *c.queue);
    c.level = hk_calloc(HK_GRAPH_CHAIN_MAX_FACTS, sizeof *c.level);
    /* every queued fact but the start is a step */
    res->steps = hk_calloc(HK_GRAPH_CHAIN_MAX_FACTS, sizeof *res->steps);
    if (!c.queue || !c.level || !res->steps) {
        rc = HK_ERR_NOMEM;
        goto done;
    }
    rc = hk_store_find(t, req->start, &res->start_id, err);
    if (rc == HK_ERR_NOT_FOUND) {
        hk_error_set(err, rc, "the start fact is not in the knowledge base");
        if (err) snprintf(err->field, sizeof err->field, "start");
    }
    if (rc != HK_OK) goto done;
    c.queue[0] = res->start_id;
    c.level[c.n_queue++] = 0;
    for (size_t head = 0; rc == HK_OK && head < c.n_queue; head++) {
        if (c.level[head] >= req->max_depth) continue;
        rc = hk_store_get(t, c.queue[head], &f, err);
        if (rc != HK_OK) break;
        /* copy the arguments: f is reused by the expansions */
        n_args = f.st.n_args;
        for (uint32_t i = 0; i < n_args; i++)
            args[i] = hk_strdup(f.st.args[i]);
        for (uint32_t i = 0; rc == HK_OK && i < n_args; i++) {
            bool added = false;
            if (!args[i]) {
                rc = HK_ERR_NOMEM;
                break;
            }
            rc = names_add(&c.entities, args[i], NULL, &added);
            if (rc == HK_OK && added)
                rc = chain_expand(t, &c, args[i], c.level[head] + 1, &f, err);
        }
        for (uint32_t i = 0; i < n_args; i++)
            hk_free(args[i]);
    }
done:
    hk_fact_release(&f);
    hk_free(c.queue);
    hk_free(c.level);
    names_free(&c.entities);
    if (rc == HK_ERR_NOMEM) hk_error_set(err, rc, "out of memory");
    if (rc != HK_OK) hk_graph_chain_res_free(res);
    return rc;
}

/* ==== Isolated facts ==== */

void hk_graph_isolated_res_free(hk_graph_isolated_res *res)
{
    for (size_t i = 0; res->facts && i < res->n_facts; i++)
        hk_fact_release(&res->facts[i]);
    hk_free(res->facts);
    memset(res, 0, sizeof *res);
}

/* True when no argument of f occurs in another fact. */
static hk_err is_isolated(hk_txn *t, const hk_fact *f, bool *isolated,
                          hk_error *err)
{
    *isolated = true;
    for (uint32_t i = 0; *isolated && i < f->st.n_args; i++) {
        uint64_t n = 0;
        hk_err rc = hk_store_count_entity(t, f->st.args[i], &n, err);
        if (rc != HK_OK) return rc;
        if (n > 1) *isolated = false;
    }
    return HK_OK;
}

hk_err hk_graph_isolated(hk_txn *t, const hk_graph_isolated_req *req,
                         hk_graph_isolated_res *res, hk_error *err)
{
    memset(res, 0, sizeof *res);
    size_t cap = 0;
    hk_query *q = NULL;
    hk_fact f;
    hk_fact_init(&f);
    hk_scan scan = HK_SCAN_INIT;
    scan.newest_first = true;
    hk_err rc = hk_query_open_scan(t, &scan, NULL, &q, err);
    while (rc == HK_OK && res->examined < HK_GRAPH_ISOLATED_MAX_SCAN &&
           res->n_facts < req->limit) {
        bool has = false, isolated = false;
        rc = hk_query_next(q, &f, &has, err);
        if (rc != HK_OK || !has) break;
        res->examined++;
        rc = is_isolated(t, &f, &isolated, err);
        if (rc != HK_OK || !isolated) continue;
        if (res->n_facts == cap) {
            size_t nc = cap ? cap * 2 : 16;
            hk_fact *nv = hk_realloc(res->facts, nc * sizeof *nv);
            if (!nv) {
                rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
                break;
            }
            res->facts = nv;
            cap = nc;
        }
        res->facts[res->n_facts++] = f; /* moves the fact */
        hk_fact_init(&f);
    }
    hk_query_close(q);
    hk_fact_release(&f);
    if (rc != HK_OK) hk_graph_isolated_res_free(res);
    return rc;
}
