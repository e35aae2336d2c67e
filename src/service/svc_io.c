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
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/mem.h"
#include "query/query.h"
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

/* A growing list of fact ids. */
typedef struct id_list {
    hk_fact_id *v; /* ids (owned) */
    size_t n, cap; /* used, allocated */
} id_list;

static hk_err ids_push(id_list *l, hk_fact_id id)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 1024;
        hk_fact_id *nv = hk_realloc(l->v, nc * sizeof *nv);
        if (nv == NULL) return HK_ERR_NOMEM;
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n++] = id;
    return HK_OK;
}

static int cmp_id(const void *a, const void *b)
{
    hk_fact_id x = *(const hk_fact_id *)a, y = *(const hk_fact_id *)b;
    return x < y ? -1 : x > y;
}

/* Sorts and removes duplicates. */
static void ids_settle(id_list *l)
{
    if (l->n > 1) qsort(l->v, l->n, sizeof *l->v, cmp_id);
    size_t w = 0;
    for (size_t i = 0; i < l->n; i++)
        if (w == 0 || l->v[w - 1] != l->v[i]) l->v[w++] = l->v[i];
    l->n = w;
}

static hk_err where_row(void *ud, const hkq_out_row *row, hk_error *err)
{
    id_list *l = ud;
    for (uint32_t i = 0; i < row->n_facts; i++)
        if (ids_push(l, row->facts[i]) != HK_OK)
            return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    return HK_OK;
}

static hk_err select_where(hk_txn *t, const char *text, id_list *l,
                           hk_error *err)
{
    hkq_query *q = NULL;
    hk_err rc = hkq_parse(text, strlen(text), &q, err);
    if (rc != HK_OK) {
        if (err) snprintf(err->field, sizeof err->field, "where");
        return rc;
    }
    hkq_exec_req req;
    memset(&req, 0, sizeof req);
    req.row = where_row;
    req.row_ud = l;
    hkq_exec_res res;
    memset(&res, 0, sizeof res);
    rc = hkq_exec(t, q, &req, &res, err);
    hkq_exec_res_free(&res);
    hkq_free(q);
    if (rc == HK_OK) ids_settle(l);
    return rc;
}

static hk_err select_around(hk_txn *t, const char *entity, unsigned depth,
                            id_list *l, hk_error *err)
{
    hk_graph_hood_req req;
    memset(&req, 0, sizeof req);
    req.entity = entity;
    req.depth = depth ? depth : 1;
    req.max_edges = HK_SVC_EXPORT_AROUND_MAX;
    hk_graph_walk_res res;
    memset(&res, 0, sizeof res);
    hk_err rc = hk_graph_neighbours(t, &req, &res, err);
    if (rc != HK_OK) {
        if (err && strcmp(err->field, "entity") == 0)
            snprintf(err->field, sizeof err->field, "around");
        return rc;
    }
    if (res.truncated)
        rc = hk_error_set(err, HK_ERR_LIMIT,
                          "the neighbourhood of '%s' at depth %u has more "
                          "than %u facts: choose a smaller depth or select "
                          "with a query",
                          entity, req.depth, HK_SVC_EXPORT_AROUND_MAX);
    for (size_t i = 0; rc == HK_OK && i < res.n_edges; i++)
        if (ids_push(l, res.edges[i].fact_id) != HK_OK)
            rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    hk_graph_walk_res_free(&res);
    if (rc == HK_OK) ids_settle(l);
    return rc;
}

/* Keeps in a the ids also in b (both sorted). */
static void ids_intersect(id_list *a, const id_list *b)
{
    size_t w = 0, j = 0;
    for (size_t i = 0; i < a->n; i++) {
        while (j < b->n && b->v[j] < a->v[i])
            j++;
        if (j < b->n && b->v[j] == a->v[i]) a->v[w++] = a->v[i];
    }
    a->n = w;
}

static bool export_format_ok(hk_format f)
{
    switch (f) {
    case HK_FORMAT_STATEMENTS:
    case HK_FORMAT_JSONL:
    case HK_FORMAT_TSV:
    case HK_FORMAT_MCP_MEMORY:
    case HK_FORMAT_NTRIPLES:
    case HK_FORMAT_TURTLE:
    case HK_FORMAT_GRAPHML:
    case HK_FORMAT_JSONGRAPH:
    case HK_FORMAT_CYPHER:
    case HK_FORMAT_NEO4J:
        return true;
    default:
        return false;
    }
}

/* Writes the export into a file or a new directory tmp. */
static hk_err export_to(hk_txn *t, const hk_export_options *opt,
                        const char *tmp, uint64_t *bytes, hk_error *err)
{
    if (opt->format == HK_FORMAT_NEO4J) {
        if (mkdir(tmp, 0755) != 0)
            return hk_error_set(err, HK_ERR_IO, "cannot create '%s': %s", tmp,
                                strerror(errno));
        hk_err rc = hk_export_neo4j(t, tmp, opt, err);
        static const char *const files[] = {"entities.csv", "facts.csv",
                                            "relationships.csv", "import.sh"};
        char p[4096];
        struct stat sb;
        *bytes = 0;
        for (size_t i = 0; rc == HK_OK && i < 4; i++) {
            snprintf(p, sizeof p, "%s/%s", tmp, files[i]);
            if (stat(p, &sb) == 0) *bytes += (uint64_t)sb.st_size;
        }
        return rc;
    }
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return hk_error_set(err, HK_ERR_IO, "cannot create '%s': %s", tmp,
                            strerror(errno));
    hk_err rc = hk_export_txn(t, f, opt, err);
    long n = rc == HK_OK ? ftell(f) : 0;
    if (rc == HK_OK && (fflush(f) != 0 || fsync(fileno(f)) != 0))
        rc = hk_error_set(err, errno == ENOSPC ? HK_ERR_DISK_FULL : HK_ERR_IO,
                          "cannot write '%s': %s", tmp, strerror(errno));
    if (fclose(f) != 0 && rc == HK_OK)
        rc = hk_error_set(err, HK_ERR_IO, "cannot write '%s': %s", tmp,
                          strerror(errno));
    *bytes = n > 0 ? (uint64_t)n : 0;
    return rc;
}

/* Removes the partial output tmp: a file, or a directory of files. */
static void remove_partial(const char *tmp, bool dir)
{
    if (!dir) {
        unlink(tmp);
        return;
    }
    static const char *const files[] = {"entities.csv", "facts.csv",
                                        "relationships.csv", "import.sh"};
    char p[4096];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", tmp, files[i]);
        unlink(p);
    }
    rmdir(tmp);
}

hk_err hk_svc_export(hk_store *s, const hk_svc_export_req *req,
                     hk_svc_export_res *res, hk_error *err)
{
    memset(res, 0, sizeof(*res));
    if (!export_format_ok(req->format)) {
        hk_error_set(err, HK_ERR_INVALID,
                     "export writes statements, jsonl, tsv, mcp-memory, "
                     "ntriples, turtle, graphml, jsongraph, cypher or neo4j, "
                     "not %s",
                     hk_format_name(req->format));
        if (err) snprintf(err->field, sizeof(err->field), "format");
        return HK_ERR_INVALID;
    }
    bool dir = req->format == HK_FORMAT_NEO4J;
    if (dir && req->out != NULL)
        return hk_error_set(err, HK_ERR_INVALID,
                            "a neo4j export is a directory of CSV files: "
                            "give an output directory");
    if (req->out == NULL && (req->path == NULL || req->path[0] == '\0'))
        return hk_error_set(err, HK_ERR_INVALID, "no export target given");
    struct stat sb;
    if (dir && stat(req->path, &sb) == 0)
        return hk_error_set(err, HK_ERR_INVALID,
                            "'%s' exists: a neo4j export creates its "
                            "directory",
                            req->path);

    hk_txn *t = NULL;
    id_list where = {0}, around = {0};
    char *tmp = NULL;
    hk_err rc = hk_txn_begin(s, false, &t, err);
    if (rc != HK_OK) return rc;
    hk_export_options opt = {req->format, req->iri_base, NULL, 0};
    if (req->where != NULL &&
        (rc = select_where(t, req->where, &where, err)) != HK_OK)
        goto done;
    if (req->around != NULL &&
        (rc = select_around(t, req->around, req->depth, &around, err)) != HK_OK)
        goto done;
    if (req->where != NULL && req->around != NULL)
        ids_intersect(&where, &around);
    if (req->where != NULL || req->around != NULL) {
        id_list *sel = req->where != NULL ? &where : &around;
        static const hk_fact_id none[1] = {0};
        opt.ids = sel->v ? sel->v : none; /* an empty selection, not all */
        opt.n_ids = sel->n;
        res->facts = sel->n;
    }
    if (req->out != NULL) {
        rc = hk_export_txn(t, req->out, &opt, err);
        goto done;
    }
    size_t n = strlen(req->path) + 32;
    tmp = hk_malloc(n);
    if (tmp == NULL) {
        rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        goto done;
    }
    snprintf(tmp, n, "%s.tmp.%ld", req->path, (long)getpid());
    rc = export_to(t, &opt, tmp, &res->bytes, err);
    if (rc == HK_OK && rename(tmp, req->path) != 0)
        rc = hk_error_set(err, HK_ERR_IO, "cannot write '%s': %s", req->path,
                          strerror(errno));
    if (rc != HK_OK) remove_partial(tmp, dir);
done:
    hk_txn_abort(t);
    hk_free(where.v);
    hk_free(around.v);
    hk_free(tmp);
    return rc;
}

/* A write-only stream into an hk_buf that refuses to grow past a cap. */
typedef struct capped_buf {
    hk_buf *b;  /* destination */
    size_t max; /* bytes allowed */
    bool over;  /* a write would have passed max */
} capped_buf;

static ssize_t capped_write(void *cookie, const char *data, size_t n)
{
    capped_buf *c = cookie;
    if (c->b->len + n > c->max) {
        c->over = true;
        errno = EFBIG;
        return -1;
    }
    if (hk_buf_append(c->b, data, n) != HK_OK) {
        errno = ENOMEM;
        return -1;
    }
    return (ssize_t)n;
}

hk_err hk_svc_export_to_buf(hk_store *s, const hk_svc_export_req *req,
                            size_t max_bytes, hk_buf *out,
                            hk_svc_export_res *res, hk_error *err)
{
    memset(res, 0, sizeof *res);
    if (req->format == HK_FORMAT_NEO4J) {
        hk_error_set(err, HK_ERR_INVALID,
                     "a neo4j export is a directory of CSV files: use "
                     "'hakgal export --format neo4j --output DIR', or the "
                     "cypher format here");
        if (err) snprintf(err->field, sizeof err->field, "format");
        return HK_ERR_INVALID;
    }
    capped_buf c = {out, max_bytes, false};
    cookie_io_functions_t io = {NULL, capped_write, NULL, NULL};
    FILE *f = fopencookie(&c, "w", io);
    if (f == NULL) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    hk_svc_export_req r = *req;
    r.out = f;
    r.path = NULL;
    hk_err rc = hk_svc_export(s, &r, res, err);
    if (fclose(f) != 0 && rc == HK_OK)
        rc = hk_error_set(err, HK_ERR_IO, "cannot write the export");
    if (c.over) {
        rc = hk_error_set(err, HK_ERR_LIMIT,
                          "the export is larger than %zu bytes: select "
                          "fewer facts (where, around) or use 'hakgal "
                          "export'",
                          max_bytes);
        if (err) snprintf(err->field, sizeof err->field, "max_bytes");
    }
    if (rc == HK_OK) res->bytes = out->len;
    return rc;
}

const char *hk_svc_export_media_type(hk_format f)
{
    switch (f) {
    case HK_FORMAT_JSONL:
        return "application/x-ndjson";
    case HK_FORMAT_TSV:
        return "text/tab-separated-values; charset=utf-8";
    case HK_FORMAT_NTRIPLES:
        return "application/n-triples";
    case HK_FORMAT_TURTLE:
        return "text/turtle; charset=utf-8";
    case HK_FORMAT_GRAPHML:
        return "application/graphml+xml";
    case HK_FORMAT_JSONGRAPH:
        return "application/json";
    case HK_FORMAT_MCP_MEMORY:
        return "application/x-ndjson";
    default:
        return "text/plain; charset=utf-8";
    }
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

hk_err hk_svc_compact_online(hk_store *s, hk_compact_report *report,
                             hk_error *err)
{
    return hk_store_compact_online(s, report, err);
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
