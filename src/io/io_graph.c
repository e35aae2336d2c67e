/*
 * io_graph.c — graph exports for drawing and analysis tools: GraphML
 * (Gephi, yEd, networkx) and JSON graph ({"nodes":[...],"edges":[...]}
 * for d3 and Cytoscape).
 *
 * Graph model (the same in both):
 *   - one node per entity (distinct argument value), id "e:" + the value,
 *     label the value, kind "entity";
 *   - a binary fact P(a, b) is an edge e:a -> e:b with predicate P and
 *     fact id;
 *   - a fact of any other arity is a node "f:" + id (label P, kind
 *     "fact") with one edge to each argument, predicate "arg0".."argN",
 *     position N and the fact id.
 * The prefixes keep entity and fact ids apart whatever the values are.
 * Output streams from one read transaction, so memory stays constant:
 * entities in symbol id order (one ordered pass over the store's entity
 * index and dictionary, io_each_entity), then the facts. GraphML may mix
 * nodes and edges, so one pass over the facts writes each fact node right
 * before its edges. JSON graph keeps nodes and edges in two arrays: its
 * fact-node pass of a whole-KB export reads the fact records through one
 * cursor, decoding only the predicate of n-ary facts, then the edge pass
 * decodes. A
 * restricted export (a list of fact ids) lists the entities its facts
 * mention, sorted in memory. Numbers are formatted by hand, not printf:
 * it was a sixth of the export's CPU.
 */
#include "core/buf.h"
#include "io/io_internal.h"
#include "store/store.h"

#include <errno.h>
#include <string.h>

_Static_assert(HK_MAX_ARGS <= 100, "edge labels arg0..arg99 take two digits");

/* Appends s XML-escaped (text and attribute values). */
static hk_err put_xml(hk_buf *b, const char *s)
{
    hk_err rc = HK_OK;
    const char *run = s;
    for (; rc == HK_OK && *s; s++) {
        const char *e = *s == '&'   ? "&amp;"
                        : *s == '<' ? "&lt;"
                        : *s == '>' ? "&gt;"
                        : *s == '"' ? "&quot;"
                                    : NULL;
        if (e == NULL) continue;
        rc = hk_buf_append(b, run, (size_t)(s - run));
        if (rc == HK_OK) rc = hk_buf_append_str(b, e);
        run = s + 1;
    }
    if (rc == HK_OK) rc = hk_buf_append(b, run, strlen(run));
    return rc;
}

static hk_err put_json(hk_buf *b, const char *s)
{
    return hk_buf_append_json_string(b, s, strlen(s));
}

typedef struct gctx {
    FILE *out;    /* destination */
    hk_buf b;     /* output buffer */
    bool graphml; /* GraphML, else JSON graph */
    bool first;   /* no element written yet in the current JSON array */
    hk_buf tmp;   /* an id being built (reused) */
    hk_txn *t;    /* the export's snapshot */
} gctx;

static hk_err sep(gctx *g)
{
    if (g->graphml) return HK_OK;
    hk_err rc = hk_buf_append_str(&g->b, g->first ? "\n" : ",\n");
    g->first = false;
    return rc;
}

static hk_err node(gctx *g, const char *prefix, const char *id,
                   const char *label, const char *kind)
{
    hk_buf *b = &g->b;
    hk_err rc = sep(g);
    if (g->graphml) {
        if (rc == HK_OK) rc = hk_buf_append_str(b, "<node id=\"");
        if (rc == HK_OK) rc = hk_buf_append_str(b, prefix);
        if (rc == HK_OK) rc = put_xml(b, id);
        if (rc == HK_OK) rc = hk_buf_append_str(b, "\"><data key=\"label\">");
        if (rc == HK_OK) rc = put_xml(b, label);
        if (rc == HK_OK)
            rc = hk_buf_append_str(b, "</data><data key=\"kind\">");
        if (rc == HK_OK) rc = hk_buf_append_str(b, kind);
        if (rc == HK_OK) rc = hk_buf_append_str(b, "</data></node>\n");
        return rc;
    }
    if (rc == HK_OK) rc = hk_buf_append_str(b, "{\"id\":");
    hk_buf *tmp = &g->tmp;
    hk_buf_reset(tmp);
    if (rc == HK_OK) rc = hk_buf_append_str(tmp, prefix);
    if (rc == HK_OK) rc = hk_buf_append_str(tmp, id);
    if (rc == HK_OK) rc = hk_buf_append_json_string(b, tmp->data, tmp->len);
    if (rc == HK_OK) rc = hk_buf_append_str(b, ",\"label\":");
    if (rc == HK_OK) rc = put_json(b, label);
    if (rc == HK_OK) rc = hk_buf_append_str(b, ",\"kind\":\"");
    if (rc == HK_OK) rc = hk_buf_append_str(b, kind);
    if (rc == HK_OK) rc = hk_buf_append_str(b, "\"}");
    return rc;
}

/* An edge: source is "f:<fid>" when src is NULL, else "e:" + src. */
static hk_err edge(gctx *g, const char *src, hk_fact_id fid, const char *dst,
                   const char *pred, int position)
{
    hk_buf *b = &g->b;
    unsigned long long id = (unsigned long long)fid;
    hk_err rc = sep(g);
    if (g->graphml) {
        if (rc == HK_OK) rc = hk_buf_append_str(b, "<edge source=\"");
        if (rc == HK_OK) rc = hk_buf_append_str(b, src ? "e:" : "f:");
        if (rc == HK_OK) rc = src ? put_xml(b, src) : io_put_u64(b, id);
        if (rc == HK_OK) rc = hk_buf_append_str(b, "\" target=\"e:");
        if (rc == HK_OK) rc = put_xml(b, dst);
        if (rc == HK_OK)
            rc = hk_buf_append_str(b, "\"><data key=\"predicate\">");
        if (rc == HK_OK) rc = put_xml(b, pred);
        if (rc == HK_OK)
            rc = hk_buf_append_str(b, "</data><data key=\"fact\">");
        if (rc == HK_OK) rc = io_put_u64(b, id);
        if (rc == HK_OK) rc = hk_buf_append_str(b, "</data>");
        if (rc == HK_OK && position >= 0) {
            rc = hk_buf_append_str(b, "<data key=\"position\">");
            if (rc == HK_OK) rc = io_put_u64(b, (uint64_t)position);
            if (rc == HK_OK) rc = hk_buf_append_str(b, "</data>");
        }
        if (rc == HK_OK) rc = hk_buf_append_str(b, "</edge>\n");
        return rc;
    }
    hk_buf *tmp = &g->tmp;
    hk_buf_reset(tmp);
    if (rc == HK_OK) rc = hk_buf_append_str(b, "{\"source\":");
    if (rc == HK_OK) rc = hk_buf_append_str(tmp, src ? "e:" : "f:");
    if (rc == HK_OK)
        rc = src ? hk_buf_append_str(tmp, src) : io_put_u64(tmp, id);
    if (rc == HK_OK) rc = hk_buf_append_json_string(b, tmp->data, tmp->len);
    hk_buf_reset(tmp);
    if (rc == HK_OK) rc = hk_buf_append_str(b, ",\"target\":");
    if (rc == HK_OK) rc = hk_buf_append_str(tmp, "e:");
    if (rc == HK_OK) rc = hk_buf_append_str(tmp, dst);
    if (rc == HK_OK) rc = hk_buf_append_json_string(b, tmp->data, tmp->len);
    if (rc == HK_OK) rc = hk_buf_append_str(b, ",\"predicate\":");
    if (rc == HK_OK) rc = put_json(b, pred);
    if (rc == HK_OK) rc = hk_buf_append_str(b, ",\"fact\":");
    if (rc == HK_OK) rc = io_put_u64(b, id);
    if (rc == HK_OK && position >= 0) {
        rc = hk_buf_append_str(b, ",\"position\":");
        if (rc == HK_OK) rc = io_put_u64(b, (uint64_t)position);
    }
    if (rc == HK_OK) rc = hk_buf_append_str(b, "}");
    return rc;
}

static hk_err maybe_flush(gctx *g, hk_error *err)
{
    return io_maybe_flush(g->out, &g->b, err);
}

/* The fact nodes of a whole-KB export from symbol ids: the fact records
 * in id order through one cursor, decoding only the predicate of n-ary
 * facts. */
static hk_err fact_node_syms(void *ud, hk_fact_id id, const hks_fact_syms *fs,
                             hk_error *err)
{
    if (fs->n_args == 2) return HK_OK;
    gctx *g = ud;
    const char *ps;
    size_t plen;
    hk_err rc = hks_sym_str(g->t, fs->pred, &ps, &plen, err);
    if (rc != HK_OK) return rc;
    char pred[HK_MAX_PREDICATE_BYTES + 1];
    if (plen > HK_MAX_PREDICATE_BYTES) plen = HK_MAX_PREDICATE_BYTES;
    memcpy(pred, ps, plen);
    pred[plen] = '\0';
    char fid[24];
    snprintf(fid, sizeof fid, "%llu", (unsigned long long)id);
    rc = node(g, "f:", fid, pred, "fact");
    if (rc != HK_OK)
        return hk_error_set(err, rc, "cannot format fact %s: %s", fid,
                            hk_strerror(rc));
    return maybe_flush(g, err);
}

/* Pass over every fact: fact nodes (edges false), edges (nodes false), or
 * both, each fact node right before its edges. */
static hk_err fact_pass(gctx *g, hk_txn *t, const hk_export_options *opt,
                        bool nodes, bool edges, hk_error *err)
{
    io_fact_iter it;
    hk_fact f;
    hk_fact_init(&f);
    hk_err rc = io_iter_open(&it, t, opt, err);
    while (rc == HK_OK) {
        bool has = false;
        rc = io_iter_next(&it, &f, &has, err);
        if (rc != HK_OK || !has) break;
        const hk_statement *st = &f.st;
        char fid[24];
        if (nodes && st->n_args != 2) {
            snprintf(fid, sizeof fid, "%llu", (unsigned long long)f.id);
            rc = node(g, "f:", fid, st->predicate, "fact");
        }
        if (rc == HK_OK && edges && st->n_args == 2)
            rc = edge(g, st->args[0], f.id, st->args[1], st->predicate, -1);
        for (uint32_t i = 0;
             edges && st->n_args != 2 && rc == HK_OK && i < st->n_args; i++) {
            /* "arg" + i: i < HK_MAX_ARGS, two digits at most */
            char p[8] = "arg";
            size_t k = 3;
            if (i >= 10) p[k++] = (char)('0' + i / 10);
            p[k++] = (char)('0' + i % 10);
            p[k] = '\0';
            rc = edge(g, NULL, f.id, st->args[i], p, (int)i);
        }
        if (rc != HK_OK)
            rc = hk_error_set(err, rc, "cannot format fact %llu: %s",
                              (unsigned long long)f.id, hk_strerror(rc));
        else
            rc = maybe_flush(g, err);
    }
    io_iter_close(&it);
    hk_fact_release(&f);
    return rc;
}

static hk_err entity_node(void *ud, const char *name, hk_error *err)
{
    gctx *g = ud;
    hk_err rc = node(g, "e:", name, name, "entity");
    if (rc != HK_OK)
        return hk_error_set(err, rc, "cannot format the entities: %s",
                            hk_strerror(rc));
    return maybe_flush(g, err);
}

static const char GRAPHML_HEAD[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<graphml xmlns=\"http://graphml.graphdrawing.org/xmlns\">\n"
    "<key id=\"label\" for=\"node\" attr.name=\"label\" "
    "attr.type=\"string\"/>\n"
    "<key id=\"kind\" for=\"node\" attr.name=\"kind\" "
    "attr.type=\"string\"/>\n"
    "<key id=\"predicate\" for=\"edge\" attr.name=\"predicate\" "
    "attr.type=\"string\"/>\n"
    "<key id=\"fact\" for=\"edge\" attr.name=\"fact\" "
    "attr.type=\"long\"/>\n"
    "<key id=\"position\" for=\"edge\" attr.name=\"position\" "
    "attr.type=\"int\"/>\n"
    "<graph id=\"hakgal\" edgedefault=\"directed\">\n";

hk_err io_graph_export(hk_txn *t, FILE *out, const hk_export_options *opt,
                       hk_error *err)
{
    gctx g = {out,  HK_BUF_INIT, opt->format == HK_FORMAT_GRAPHML,
              true, HK_BUF_INIT, t};
    hk_err rc =
        hk_buf_append_str(&g.b, g.graphml ? GRAPHML_HEAD : "{\"nodes\":[");
    if (rc != HK_OK) rc = hk_error_set(err, rc, "out of memory");
    if (rc == HK_OK) rc = io_each_entity(t, opt, entity_node, &g, err);
    if (rc == HK_OK && g.graphml) rc = fact_pass(&g, t, opt, true, true, err);
    if (rc == HK_OK && !g.graphml)
        rc = opt->ids ? fact_pass(&g, t, opt, true, false, err)
                      : hks_facts_syms_scan(t, fact_node_syms, &g, err);
    if (rc == HK_OK && !g.graphml) {
        g.first = true;
        if (hk_buf_append_str(&g.b, "\n],\"edges\":[") != HK_OK)
            rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        else
            rc = fact_pass(&g, t, opt, false, true, err);
    }
    if (rc == HK_OK &&
        hk_buf_append_str(&g.b, g.graphml ? "</graph>\n</graphml>\n"
                                          : "\n]}\n") != HK_OK)
        rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    if (rc == HK_OK) rc = io_flush_out(out, &g.b, err);
    hk_buf_free(&g.b);
    hk_buf_free(&g.tmp);
    return rc;
}
