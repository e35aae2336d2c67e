/*
 * routes_export.c — GET /v2/export?format=&where=&around=&depth=&base=
 *                   &max_bytes=
 *
 * The facts of the KB, or those a query or an entity's neighbourhood
 * selects, in any stream format of `hakgal export` (the neo4j directory
 * format excepted), answered with the format's media type. An export
 * reads the whole selection, so it runs on a pool thread
 * (hk_server_defer) with its own read transaction, never on the loop,
 * and is capped at max_bytes (default HK_EXPORT_HTTP_MAX; larger exports
 * are what the CLI is for).
 */
#include "core/buf.h"
#include "core/mem.h"
#include "server/routes.h"

#include <stdlib.h>
#include <string.h>

#define HK_EXPORT_HTTP_MAX (64u << 20)      /* default answer size cap */
#define HK_EXPORT_HTTP_MAX_LIMIT (1u << 30) /* max_bytes at most */

typedef struct export_job {
    hk_server *srv;        /* the server (its store) */
    hk_svc_export_req req; /* strings point into the fields below */
    char *where, *around;  /* owned copies, or NULL */
    char *base;            /* owned copy, or NULL */
    size_t max_bytes;      /* answer cap */
    hk_buf out;            /* the export */
    hk_svc_export_res res; /* counts */
    hk_err rc;             /* result */
    hk_error err;          /* its error */
} export_job;

static void job_free(export_job *j)
{
    hk_free(j->where);
    hk_free(j->around);
    hk_free(j->base);
    hk_buf_free(&j->out);
    hk_free(j);
}

static void export_work(void *arg)
{
    export_job *j = arg;
    hk_error_clear(&j->err);
    j->rc = hk_svc_export_to_buf(hk_server_store(j->srv), &j->req, j->max_bytes,
                                 &j->out, &j->res, &j->err);
}

static void export_after(h2o_req_t *req, void *arg)
{
    export_job *j = arg;
    if (req) {
        if (j->rc != HK_OK)
            hk_http_send_hk_error(req, &j->err);
        else
            hk_http_send_typed(req, 200,
                               hk_svc_export_media_type(j->req.format),
                               j->out.data ? j->out.data : "", j->out.len);
    }
    job_free(j);
}

/* A copy of the optional parameter name into *dst; false (answered) when
 * it is malformed or empty. */
static bool copy_param(h2o_req_t *req, const char *name, char **dst)
{
    bool bad = false;
    const char *v = hk_query_param(req, name, &bad);
    if (bad || (v && !*v)) {
        hk_send_field_error(req, 400, "invalid_parameter",
                            bad ? "invalid %-escape" : "must not be empty",
                            name);
        return false;
    }
    if (v && !(*dst = hk_strdup(v))) {
        hk_http_send_error(req, 503, "out_of_memory", "out of memory", NULL);
        return false;
    }
    return true;
}

static bool number_param(h2o_req_t *req, const char *name, uint64_t max,
                         uint64_t *out)
{
    bool bad = false;
    const char *v = hk_query_param(req, name, &bad);
    if (!v && !bad) return true;
    uint64_t n = 0;
    if (bad || !hk_svc_parse_positive(v, &n) || n > max) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s must be an integer 1..%llu", name,
                 (unsigned long long)max);
        hk_send_field_error(req, 400, "invalid_parameter", msg, name);
        return false;
    }
    *out = n;
    return true;
}

void hk_route_export(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)param;
    export_job *j = hk_calloc(1, sizeof *j);
    if (!j) {
        hk_http_send_error(req, 503, "out_of_memory", "out of memory", NULL);
        return;
    }
    j->srv = srv;
    j->req.format = HK_FORMAT_STATEMENTS;
    bool bad = false;
    const char *f = hk_query_param(req, "format", &bad);
    hk_error e;
    hk_error_clear(&e);
    uint64_t depth = 0, max_bytes = HK_EXPORT_HTTP_MAX;
    if (bad || (f && (hk_format_parse(f, &j->req.format, &e) != HK_OK ||
                      j->req.format == HK_FORMAT_AUTO ||
                      j->req.format == HK_FORMAT_SQLITE))) {
        hk_send_field_error(req, 400, "invalid_parameter",
                            "format must be statements, jsonl, tsv, "
                            "mcp-memory, ntriples, turtle, graphml, "
                            "jsongraph or cypher",
                            "format");
        job_free(j);
        return;
    }
    if (!copy_param(req, "where", &j->where) ||
        !copy_param(req, "around", &j->around) ||
        !copy_param(req, "base", &j->base) ||
        !number_param(req, "depth", HK_GRAPH_MAX_DEPTH, &depth) ||
        !number_param(req, "max_bytes", HK_EXPORT_HTTP_MAX_LIMIT, &max_bytes)) {
        job_free(j);
        return;
    }
    if (depth && !j->around) {
        hk_send_field_error(req, 400, "invalid_parameter",
                            "depth needs around=ENTITY", "depth");
        job_free(j);
        return;
    }
    j->req.where = j->where;
    j->req.around = j->around;
    j->req.iri_base = j->base;
    j->req.depth = (unsigned)depth;
    j->max_bytes = (size_t)max_bytes;
    if (hk_server_defer(req, export_work, export_after, j) != HK_OK) {
        job_free(j);
        hk_http_send_error(req, 503, "shutting_down",
                           "the server is shutting down", NULL);
    }
}
