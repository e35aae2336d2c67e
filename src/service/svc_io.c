/*
 * svc_io.c — import, export and compaction.
 *
 * Export to a file never leaves half a file at the target: the facts go to
 * "<path>.tmp.<pid>", which is flushed, synced and renamed over the target
 * only when complete (and removed on any failure). The compaction policy
 * after imports is the library's (hk_store_compact_advised), applied here
 * once for every caller.
 *
 * Threads: export reads one snapshot while writers go on; compaction needs
 * every handle on the KB closed (the store refuses with HK_ERR_BUSY).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/mem.h"
#include "service/service.h"

/* ==== Import ==== */

hk_err hk_svc_import(hk_store *s, const char *path,
                     const hk_import_options *opt, hk_import_summary *sum,
                     hk_error *err)
{
    return hk_import_file(s, path, opt, sum, err);
}

bool hk_svc_import_error_is_input(hk_err rc)
{
    return rc == HK_ERR_NOT_FOUND || rc == HK_ERR_IO || rc == HK_ERR_INVALID ||
           rc == HK_ERR_UNSUPPORTED;
}

/* ==== Export ==== */

hk_err hk_svc_export(hk_store *s, const hk_svc_export_req *req,
                     hk_svc_export_res *res, hk_error *err)
{
    memset(res, 0, sizeof(*res));
    if (req->format != HK_FORMAT_STATEMENTS && req->format != HK_FORMAT_JSONL &&
        req->format != HK_FORMAT_TSV && req->format != HK_FORMAT_MCP_MEMORY &&
        req->format != HK_FORMAT_NTRIPLES && req->format != HK_FORMAT_GRAPHML &&
        req->format != HK_FORMAT_JSONGRAPH) {
        hk_error_set(err, HK_ERR_INVALID,
                     "export writes statements, jsonl, tsv, mcp-memory, "
                     "ntriples, graphml or jsongraph, not %s",
                     hk_format_name(req->format));
        if (err) snprintf(err->field, sizeof(err->field), "format");
        return HK_ERR_INVALID;
    }
    if (req->out != NULL)
        return hk_export_iri(s, req->out, req->format, req->iri_base, err);
    if (req->path == NULL || req->path[0] == '\0')
        return hk_error_set(err, HK_ERR_INVALID, "no export target given");
    size_t n = strlen(req->path) + 32;
    char *tmp = hk_malloc(n);
    if (tmp == NULL) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    snprintf(tmp, n, "%s.tmp.%ld", req->path, (long)getpid());
    hk_err rc = HK_OK;
    FILE *f = fopen(tmp, "w");
    if (f == NULL) {
        rc = hk_error_set(err, HK_ERR_IO, "cannot create '%s': %s", tmp,
                          strerror(errno));
        goto fail;
    }
    rc = hk_export_iri(s, f, req->format, req->iri_base, err);
    if (rc != HK_OK) goto fail;
    long bytes = ftell(f);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        rc = hk_error_set(err, HK_ERR_IO, "cannot write '%s': %s", tmp,
                          strerror(errno));
        goto fail;
    }
    int close_rc = fclose(f);
    f = NULL;
    if (close_rc != 0 || rename(tmp, req->path) != 0) {
        rc = hk_error_set(err, HK_ERR_IO, "cannot write '%s': %s", req->path,
                          strerror(errno));
        goto fail;
    }
    res->bytes = bytes > 0 ? (uint64_t)bytes : 0;
    hk_free(tmp);
    return HK_OK;
fail:
    if (f != NULL) fclose(f);
    unlink(tmp);
    hk_free(tmp);
    return rc;
}

/* ==== Compaction ==== */

hk_svc_compact_skip hk_svc_compact_policy(hk_svc_compact_mode mode,
                                          const hk_stats *st)
{
    if (mode == HK_SVC_COMPACT_NEVER) return HK_SVC_COMPACT_SKIP_NEVER;
    if (mode == HK_SVC_COMPACT_ALWAYS) return HK_SVC_COMPACT_RUN;
    if (st == NULL) return HK_SVC_COMPACT_SKIP_NO_STATS;
    return hk_store_compact_advised(st) ? HK_SVC_COMPACT_RUN
                                        : HK_SVC_COMPACT_SKIP_SMALL;
}

hk_err hk_svc_compact(const char *data_dir, hk_compact_report *report,
                      hk_error *err)
{
    return hk_store_compact(data_dir, report, err);
}

hk_err hk_svc_compact_report_write_members(const hk_compact_report *r,
                                           hk_buf *out)
{
    return hk_buf_appendf(out,
                          "\"bytes_before\":%llu,\"bytes_after\":%llu,"
                          "\"bytes_free_before\":%llu,\"facts\":%llu,"
                          "\"seconds\":%.3f",
                          (unsigned long long)r->bytes_before,
                          (unsigned long long)r->bytes_after,
                          (unsigned long long)r->bytes_free_before,
                          (unsigned long long)r->facts, r->seconds);
}
