/*
 * io_export.c — hk_export: writes every fact in id (insertion) order.
 *
 * One read transaction gives a consistent snapshot while writers go on;
 * facts stream through a query over all facts into a 256 KiB output
 * buffer, so memory stays constant.
 *   statements  canonical statement per line (imports back as statements)
 *   jsonl       hk_fact_write_json per line: id, statement, predicate,
 *               args, confidence, source, tags, context, created, updated.
 *               Importing it restores statement, metadata and the
 *               created/updated times; ids are assigned anew by the
 *               importing KB.
 *   tsv         predicate<TAB>arg<TAB>...; statements never hold control
 *               characters, so no quoting is needed.
 * SQLite output is not offered (the legacy format is an import source).
 *
 * Thread: the caller's; the store may be shared.
 */
#include "core/buf.h"
#include "io/io_internal.h"

#include <errno.h>
#include <string.h>

#define IO_EXPORT_FLUSH (256u * 1024u) /* bytes buffered before fwrite */

static hk_err flush_out(FILE *out, hk_buf *b, hk_error *err)
{
    if (b->len == 0) return HK_OK;
    if (fwrite(b->data, 1, b->len, out) != b->len)
        return hk_error_set(err, HK_ERR_IO, "cannot write the export: %s",
                            strerror(errno));
    hk_buf_reset(b);
    return HK_OK;
}

static hk_err append_fact(const hk_fact *f, hk_format format,
                          const char *iri_base, hk_buf *b)
{
    hk_err rc = HK_OK;
    switch (format) {
    case HK_FORMAT_NTRIPLES:
        return io_nt_append_fact(f, iri_base, b);
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

hk_err hk_export(hk_store *s, FILE *out, hk_format format, hk_error *err)
{
    return hk_export_iri(s, out, format, NULL, err);
}

hk_err hk_export_iri(hk_store *s, FILE *out, hk_format format,
                     const char *iri_base, hk_error *err)
{
    if (format == HK_FORMAT_MCP_MEMORY) return io_memory_export(s, out, err);
    if (format == HK_FORMAT_GRAPHML || format == HK_FORMAT_JSONGRAPH)
        return io_graph_export(s, out, format, err);
    if (iri_base == NULL || iri_base[0] == '\0') iri_base = HK_IRI_BASE_DEFAULT;
    if (format != HK_FORMAT_STATEMENTS && format != HK_FORMAT_JSONL &&
        format != HK_FORMAT_TSV && format != HK_FORMAT_NTRIPLES)
        return hk_error_set(err, HK_ERR_UNSUPPORTED,
                            "cannot export as '%s': choose statements, jsonl, "
                            "tsv, mcp-memory, ntriples, graphml or jsongraph",
                            hk_format_name(format));
    hk_txn *t = NULL;
    hk_query *q = NULL;
    hk_fact f;
    hk_fact_init(&f);
    hk_buf b = HK_BUF_INIT;
    hk_err rc = hk_txn_begin(s, false, &t, err);
    if (rc != HK_OK) goto done;
    hk_scan scan = HK_SCAN_INIT;
    rc = hk_query_open_scan(t, &scan, NULL, &q, err);
    if (rc != HK_OK) goto done;
    for (;;) {
        bool has_row = false;
        rc = hk_query_next(q, &f, &has_row, err);
        if (rc != HK_OK || !has_row) break;
        rc = append_fact(&f, format, iri_base, &b);
        if (rc != HK_OK) {
            hk_error_set(err, rc, "cannot format fact %llu: %s",
                         (unsigned long long)f.id, hk_strerror(rc));
            break;
        }
        if (b.len >= IO_EXPORT_FLUSH && (rc = flush_out(out, &b, err)) != HK_OK)
            break;
    }
    if (rc == HK_OK) rc = flush_out(out, &b, err);
    if (rc == HK_OK && fflush(out) != 0)
        rc = hk_error_set(err, HK_ERR_IO, "cannot write the export: %s",
                          strerror(errno));
done:
    if (q != NULL) hk_query_close(q);
    if (t != NULL) hk_txn_abort(t);
    hk_fact_release(&f);
    hk_buf_free(&b);
    return rc;
}
