/*
 * io_export.c — hk_export_txn: writes the selected facts (every fact in
 * id order, or a list of ids) from one snapshot.
 *
 * Facts stream into a 256 KiB output buffer, so memory stays constant
 * (graph formats of a restricted set keep its sorted entity names).
 *   statements  canonical statement per line (imports back as statements)
 *   jsonl       hk_fact_write_json per line: id, statement, predicate,
 *               args, confidence, source, tags, context, created, updated.
 *               Importing it restores statement, metadata and the
 *               created/updated times; ids are assigned anew by the
 *               importing KB.
 *   tsv         predicate<TAB>arg<TAB>...; statements never hold control
 *               characters, so no quoting is needed.
 *   ntriples, turtle (io_rdf.c), graphml, jsongraph (io_graph.c), cypher
 *   and neo4j (io_neo4j.c), mcp-memory (io_memory.c).
 * SQLite output is not offered (the legacy format is an import source).
 *
 * Thread: the caller's, through the caller's transaction.
 */
#include "core/buf.h"
#include "core/mem.h"
#include "io/io_internal.h"
#include "store/store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

hk_err io_flush_out(FILE *out, hk_buf *b, hk_error *err)
{
    if (b->len == 0) return HK_OK;
    if (fwrite(b->data, 1, b->len, out) != b->len)
        return hk_error_set(err, HK_ERR_IO, "cannot write the export: %s",
                            strerror(errno));
    hk_buf_reset(b);
    return HK_OK;
}

hk_err io_maybe_flush(FILE *out, hk_buf *b, hk_error *err)
{
    return b->len >= IO_EXPORT_FLUSH ? io_flush_out(out, b, err) : HK_OK;
}

hk_err io_put_u64(hk_buf *b, uint64_t x)
{
    char d[24];
    size_t n = sizeof d;
    do {
        d[--n] = (char)('0' + x % 10);
        x /= 10;
    } while (x);
    return hk_buf_append(b, d + n, sizeof d - n);
}

hk_err io_put_double(hk_buf *b, double x, bool float_literal)
{
    /* Most facts carry confidence 1: skip printf's float conversion. */
    if (x == 1.0) return hk_buf_append_str(b, float_literal ? "1.0" : "1");
    char s[48];
    int n = snprintf(s, sizeof s, "%.17g", x);
    if (n < 0 || (size_t)n >= sizeof s) return HK_ERR_INVALID;
    hk_err rc = hk_buf_append(b, s, (size_t)n);
    if (rc == HK_OK && float_literal && strpbrk(s, ".eEn") == NULL)
        rc = hk_buf_append(b, ".0", 2);
    return rc;
}

/* ==== Fact selection ==== */

hk_err io_iter_open(io_fact_iter *it, hk_txn *t, const hk_export_options *opt,
                    hk_error *err)
{
    memset(it, 0, sizeof *it);
    it->t = t;
    if (opt->ids != NULL) {
        it->ids = opt->ids;
        it->n_ids = opt->n_ids;
        return HK_OK;
    }
    hk_scan scan = HK_SCAN_INIT;
    return hk_query_open_scan(t, &scan, NULL, &it->q, err);
}

hk_err io_iter_next(io_fact_iter *it, hk_fact *f, bool *has, hk_error *err)
{
    if (it->q != NULL) return hk_query_next(it->q, f, has, err);
    while (it->next < it->n_ids) {
        hk_error e;
        hk_error_clear(&e);
        hk_err rc = hk_store_get(it->t, it->ids[it->next++], f, &e);
        if (rc == HK_ERR_NOT_FOUND) continue;
        if (rc != HK_OK) return io_fatal(err, &e, rc);
        *has = true;
        return HK_OK;
    }
    *has = false;
    return HK_OK;
}

void io_iter_close(io_fact_iter *it)
{
    if (it->q != NULL) hk_query_close(it->q);
    it->q = NULL;
}

void io_names_free(char **names, size_t n)
{
    for (size_t i = 0; names != NULL && i < n; i++)
        hk_free(names[i]);
    hk_free(names);
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

hk_err io_selected_entities(hk_txn *t, const hk_export_options *opt,
                            char ***names, size_t *n, hk_error *err)
{
    *names = NULL;
    *n = 0;
    char **v = NULL;
    size_t len = 0, cap = 0;
    io_fact_iter it;
    hk_fact f;
    hk_fact_init(&f);
    hk_err rc = io_iter_open(&it, t, opt, err);
    while (rc == HK_OK) {
        bool has = false;
        rc = io_iter_next(&it, &f, &has, err);
        if (rc != HK_OK || !has) break;
        for (uint32_t i = 0; rc == HK_OK && i < f.st.n_args; i++) {
            if (len == cap) {
                size_t nc = cap ? cap * 2 : 256;
                char **nv = hk_realloc(v, nc * sizeof *nv);
                if (nv == NULL) {
                    rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
                    break;
                }
                v = nv;
                cap = nc;
            }
            v[len] = hk_strdup(f.st.args[i]);
            if (v[len] == NULL)
                rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
            else
                len++;
        }
    }
    io_iter_close(&it);
    hk_fact_release(&f);
    if (rc != HK_OK) {
        io_names_free(v, len);
        return rc;
    }
    if (len > 1) qsort(v, len, sizeof *v, cmp_name);
    size_t w = 0;
    for (size_t i = 0; i < len; i++) {
        if (w > 0 && strcmp(v[w - 1], v[i]) == 0) {
            hk_free(v[i]);
            continue;
        }
        v[w++] = v[i];
    }
    *names = v;
    *n = w;
    return HK_OK;
}

/* hks_entities_scan gives names without a terminating NUL; the export
 * callbacks take C strings. */
typedef struct entity_adapter {
    io_entity_fn fn;
    void *ud;
    hk_buf name;
} entity_adapter;

static hk_err entity_adapt(void *ud, uint32_t id, const char *s, size_t len,
                           hk_error *err)
{
    (void)id;
    entity_adapter *a = ud;
    hk_buf_reset(&a->name);
    if (hk_buf_append(&a->name, s, len) != HK_OK ||
        hk_buf_append(&a->name, "", 1) != HK_OK)
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    return a->fn(a->ud, a->name.data, err);
}

hk_err io_each_entity(hk_txn *t, const hk_export_options *opt, io_entity_fn fn,
                      void *ud, hk_error *err)
{
    if (opt->ids != NULL) {
        char **names = NULL;
        size_t n = 0;
        hk_err rc = io_selected_entities(t, opt, &names, &n, err);
        for (size_t i = 0; rc == HK_OK && i < n; i++)
            rc = fn(ud, names[i], err);
        io_names_free(names, n);
        return rc;
    }
    /* The whole KB: in symbol id order, every store page read once in
     * order (a listing by name seeks once per entity, which at 10M facts
     * cost more than the facts' own pass). */
    entity_adapter a = {fn, ud, HK_BUF_INIT};
    hk_err rc = hks_entities_scan(t, entity_adapt, &a, err);
    hk_buf_free(&a.name);
    return rc;
}

/* ==== Line formats ==== */

static hk_err append_fact(const hk_fact *f, hk_format format,
                          const char *iri_base, io_ttl_state *ttl, hk_buf *b)
{
    hk_err rc = HK_OK;
    switch (format) {
    case HK_FORMAT_NTRIPLES:
        return io_nt_append_fact(f, iri_base, b);
    case HK_FORMAT_TURTLE:
        return io_ttl_append_fact(ttl, f, b);
    case HK_FORMAT_STATEMENTS:
        rc = hk_statement_format(&f->st, b);
        break;
    case HK_FORMAT_JSONL:
        rc = hk_fact_write_json(f, b);
        break;
    case HK_FORMAT_TSV:
        rc = hk_buf_append_str(b, f->st.predicate);
        for (uint32_t i = 0; rc == HK_OK && i < f->st.n_args; i++) {
            rc = hk_buf_append(b, "\t", 1);
            if (rc == HK_OK) rc = hk_buf_append_str(b, f->st.args[i]);
        }
        break;
    default:
        return HK_ERR_UNSUPPORTED;
    }
    if (rc == HK_OK) rc = hk_buf_append(b, "\n", 1);
    return rc;
}

static hk_err line_export(hk_txn *t, FILE *out, const hk_export_options *opt,
                          hk_error *err)
{
    const char *base = opt->iri_base;
    if (base == NULL || base[0] == '\0') base = HK_IRI_BASE_DEFAULT;
    io_fact_iter it;
    hk_fact f;
    hk_fact_init(&f);
    hk_buf b = HK_BUF_INIT;
    io_ttl_state ttl;
    memset(&ttl, 0, sizeof ttl);
    hk_err rc = HK_OK;
    if (opt->format == HK_FORMAT_TURTLE &&
        io_ttl_begin(&ttl, base, &b) != HK_OK)
        rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    if (rc == HK_OK)
        rc = io_iter_open(&it, t, opt, err);
    else
        memset(&it, 0, sizeof it);
    while (rc == HK_OK) {
        bool has_row = false;
        rc = io_iter_next(&it, &f, &has_row, err);
        if (rc != HK_OK || !has_row) break;
        rc = append_fact(&f, opt->format, base, &ttl, &b);
        if (rc != HK_OK) {
            hk_error_set(err, rc, "cannot format fact %llu: %s",
                         (unsigned long long)f.id, hk_strerror(rc));
            break;
        }
        rc = io_maybe_flush(out, &b, err);
    }
    if (opt->format == HK_FORMAT_TURTLE && io_ttl_end(&ttl, &b) != HK_OK &&
        rc == HK_OK)
        rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    if (rc == HK_OK) rc = io_flush_out(out, &b, err);
    io_iter_close(&it);
    hk_fact_release(&f);
    hk_buf_free(&b);
    return rc;
}

hk_err hk_export_txn(hk_txn *t, FILE *out, const hk_export_options *opt,
                     hk_error *err)
{
    hk_err rc;
    switch (opt->format) {
    case HK_FORMAT_MCP_MEMORY:
        if (opt->ids != NULL)
            return hk_error_set(err, HK_ERR_INVALID,
                                "an mcp-memory export holds the whole "
                                "graph: it cannot be restricted");
        rc = io_memory_export(t, out, err);
        break;
    case HK_FORMAT_GRAPHML:
    case HK_FORMAT_JSONGRAPH:
        rc = io_graph_export(t, out, opt, err);
        break;
    case HK_FORMAT_CYPHER:
        rc = io_cypher_export(t, out, opt, err);
        break;
    case HK_FORMAT_STATEMENTS:
    case HK_FORMAT_JSONL:
    case HK_FORMAT_TSV:
    case HK_FORMAT_NTRIPLES:
    case HK_FORMAT_TURTLE:
        rc = line_export(t, out, opt, err);
        break;
    default:
        return hk_error_set(err, HK_ERR_UNSUPPORTED,
                            "cannot export as '%s' to a stream: choose "
                            "statements, jsonl, tsv, mcp-memory, ntriples, "
                            "turtle, graphml, jsongraph or cypher (neo4j "
                            "writes a directory)",
                            hk_format_name(opt->format));
    }
    if (rc == HK_OK && fflush(out) != 0)
        rc = hk_error_set(err, HK_ERR_IO, "cannot write the export: %s",
                          strerror(errno));
    return rc;
}

hk_err hk_export(hk_store *s, FILE *out, hk_format format, hk_error *err)
{
    return hk_export_iri(s, out, format, NULL, err);
}

hk_err hk_export_iri(hk_store *s, FILE *out, hk_format format,
                     const char *iri_base, hk_error *err)
{
    hk_txn *t = NULL;
    hk_err rc = hk_txn_begin(s, false, &t, err);
    if (rc != HK_OK) return rc;
    hk_export_options opt = {format, iri_base, NULL, 0};
    rc = hk_export_txn(t, out, &opt, err);
    hk_txn_abort(t);
    return rc;
}
