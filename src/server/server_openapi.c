/*
 * server_openapi.c — the OpenAPI 3.1 document served at /openapi.json.
 *
 * Built once (pthread_once) with jansson from a table that mirrors the
 * route table in server_router.c: every operation lists its parameters,
 * request body, success response and the error statuses it can answer;
 * components hold the shared schemas (Fact, FactInput, Error, ...).
 * Registered prefixes (/mcp) appear only when served. A test checks that
 * every route the server answers appears here and every operation listed
 * here is answered.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "server/server_int.h"

typedef struct api_param {
    const char *name; /* parameter name */
    const char *in;   /* "query" or "path" */
    const char *type; /* "string" or "integer" */
    bool required;    /* must be present */
    const char *desc; /* description */
} api_param;

typedef struct api_op {
    const char *method;    /* lower-case method */
    const char *path;      /* OpenAPI path template */
    const char *summary;   /* one line */
    const char *role;      /* role needed when auth is on */
    const char *body;      /* request schema ref name, NULL = none */
    const char *ok_status; /* "200", "201" */
    const char *ok_schema; /* response schema ref, NULL = generic obj */
    const char *errors;    /* space-separated error statuses */
    api_param params[7];   /* parameters (name NULL ends) */
} api_op;

#define P_LIMIT                                                                \
    {                                                                          \
        "limit", "query", "integer", false,                                    \
            "page size (default 100, max max-limit)"                           \
    }
#define P_CURSOR                                                               \
    {                                                                          \
        "cursor", "query", "string", false, "next_cursor of the previous page" \
    }
#define P_ID                                                                   \
    {                                                                          \
        "id", "path", "integer", true, "fact id"                               \
    }

static const api_op k_ops[] = {
    {"post",
     "/v2/facts",
     "Add a fact (idempotent: 201 created, 200 existing)",
     "write",
     "FactInput",
     "201",
     "Fact",
     "400 401 403 413 415 422 503 507",
     {{NULL, NULL, NULL, false, NULL}}},
    {"get",
     "/v2/facts",
     "List facts by predicate and/or entity",
     "read",
     NULL,
     "200",
     "FactPage",
     "400 401 422 503",
     {{"predicate", "query", "string", false, "only this predicate"},
      {"entity", "query", "string", false, "only facts mentioning it"},
      {"position", "query", "integer", false,
       "with entity: 0-based argument position"},
      {"arity", "query", "integer", false, "only facts with this many args"},
      {"order", "query", "string", false, "oldest (default) or newest"},
      P_LIMIT,
      P_CURSOR}},
    {"delete",
     "/v2/facts",
     "Delete the fact with this statement",
     "write",
     NULL,
     "200",
     "Deleted",
     "400 401 403 404 413 503",
     {{"statement", "query", "string", true, "e.g. HasPart(Computer, CPU)"},
      {NULL, NULL, NULL, false, NULL}}},
    {"post",
     "/v2/facts/batch",
     "Add up to max-batch facts in one transaction (JSON array or NDJSON)",
     "write",
     "BatchInput",
     "200",
     "BatchResult",
     "400 401 403 413 415 503 507",
     {{NULL, NULL, NULL, false, NULL}}},
    {"get",
     "/v2/facts/{id}",
     "Get a fact",
     "read",
     NULL,
     "200",
     "Fact",
     "400 401 404",
     {P_ID, {NULL, NULL, NULL, false, NULL}}},
    {"put",
     "/v2/facts/{id}",
     "Replace a fact's statement (and metadata given), keeping its id",
     "write",
     "FactInput",
     "200",
     "Fact",
     "400 401 403 404 409 413 415 422 503",
     {P_ID, {NULL, NULL, NULL, false, NULL}}},
    {"patch",
     "/v2/facts/{id}",
     "Change metadata (confidence, source, tags, context)",
     "write",
     "MetaInput",
     "200",
     "Fact",
     "400 401 403 404 415 422 503",
     {P_ID, {NULL, NULL, NULL, false, NULL}}},
    {"delete",
     "/v2/facts/{id}",
     "Delete a fact",
     "write",
     NULL,
     "200",
     "Deleted",
     "400 401 403 404 503",
     {P_ID, {NULL, NULL, NULL, false, NULL}}},
    {"get",
     "/v2/facts/{id}/history",
     "Audit entries of one fact",
     "read",
     NULL,
     "200",
     "History",
     "400 401 404 422",
     {P_ID, P_LIMIT, {NULL, NULL, NULL, false, NULL}}},
    {"get",
     "/v2/query",
     "Pattern query such as HasPart(?x, CPU)",
     "read",
     NULL,
     "200",
     "QueryPage",
     "400 401 413 422 503",
     {{"q", "query", "string", true,
       "pattern: constants, ?variables and _ wildcards"},
      P_LIMIT,
      P_CURSOR,
      {NULL, NULL, NULL, false, NULL}}},
    {"get",
     "/v2/entities/{name}",
     "An entity and the facts mentioning it",
     "read",
     NULL,
     "200",
     "EntityPage",
     "400 401 404 422",
     {{"name", "path", "string", true, "entity (URL-encoded)"},
      P_LIMIT,
      P_CURSOR,
      {NULL, NULL, NULL, false, NULL}}},
    {"get",
     "/v2/predicates",
     "Predicates with fact counts",
     "read",
     NULL,
     "200",
     NULL,
     "400 401 422",
     {{"after", "query", "string", false, "next_after of the previous page"},
      P_LIMIT,
      {NULL, NULL, NULL, false, NULL}}},
    {"get",
     "/v2/stats",
     "Counts and sizes of the knowledge base",
     "read",
     NULL,
     "200",
     "Stats",
     "401",
     {{NULL, NULL, NULL, false, NULL}}},
    {"get",
     "/v2/search",
     "Ranked text search over predicates and arguments (camelCase-aware)",
     "read",
     NULL,
     "200",
     NULL,
     "400 401 413 422",
     {{"q", "query", "string", true, "search words"},
      P_LIMIT,
      {NULL, NULL, NULL, false, NULL}}},
    {"get",
     "/v2/audit",
     "The audit log, newest first",
     "read",
     NULL,
     "200",
     NULL,
     "400 401 422",
     {{"before", "query", "integer", false, "entries below this sequence"},
      P_LIMIT,
      {NULL, NULL, NULL, false, NULL}}},
    {"post",
     "/v2/admin/backup",
     "Consistent hot backup of the KB",
     "admin",
     "BackupInput",
     "201",
     NULL,
     "400 401 403 409 422 503",
     {{NULL, NULL, NULL, false, NULL}}},
    {"get",
     "/healthz",
     "Liveness",
     "none",
     NULL,
     "200",
     NULL,
     "",
     {{NULL, NULL, NULL, false, NULL}}},
    {"get",
     "/readyz",
     "Readiness: KB open and not stopping",
     "none",
     NULL,
     "200",
     NULL,
     "503",
     {{NULL, NULL, NULL, false, NULL}}},
    {"get",
     "/metrics",
     "Prometheus metrics (text format 0.0.4)",
     "read",
     NULL,
     "200",
     NULL,
     "401",
     {{NULL, NULL, NULL, false, NULL}}},
    {"get",
     "/openapi.json",
     "This document",
     "none",
     NULL,
     "200",
     NULL,
     "",
     {{NULL, NULL, NULL, false, NULL}}},
    {"post",
     "/mcp",
     "MCP Streamable HTTP: JSON-RPC messages",
     "read",
     NULL,
     "200",
     NULL,
     "400 401 403 404 406 415",
     {{NULL, NULL, NULL, false, NULL}}},
    {"get",
     "/mcp",
     "MCP Streamable HTTP: server-sent event stream",
     "read",
     NULL,
     "200",
     NULL,
     "401 405 406",
     {{NULL, NULL, NULL, false, NULL}}},
    {"delete",
     "/mcp",
     "MCP Streamable HTTP: end a session",
     "read",
     NULL,
     "200",
     NULL,
     "401 404 405",
     {{NULL, NULL, NULL, false, NULL}}},
};

static const char *status_text(const char *s)
{
    static const struct {
        const char *code, *text;
    } k[] = {{"400", "bad JSON, statement (with column) or parameter"},
             {"401", "missing or invalid bearer token"},
             {"403", "the token's role is too low, or Host/Origin refused"},
             {"404", "not found"},
             {"405", "method not allowed on this path"},
             {"406", "not acceptable"},
             {"409", "conflict: the statement is another fact"},
             {"413", "body, batch or statement larger than the limit"},
             {"415", "unsupported Content-Type"},
             {"422", "semantic error: wrong type or value out of range"},
             {"503", "not ready, shutting down or query timeout"},
             {"507", "the knowledge base is full"}};
    for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++)
        if (!strcmp(k[i].code, s)) return k[i].text;
    return "error";
}

static json_t *ref(const char *name)
{
    char r[128];
    snprintf(r, sizeof(r), "#/components/schemas/%s", name);
    return json_pack("{ss}", "$ref", r);
}

static json_t *json_content(json_t *schema)
{
    return json_pack("{s{s{so}}}", "content", "application/json", "schema",
                     schema);
}

static json_t *schemas(void)
{
    json_t *str = json_pack("{ss}", "type", "string");
    json_t *s = json_object();
    json_object_set_new(
        s, "Fact",
        json_pack("{ss s{s{ss} s{ss} s{ss} s{ss s{ss}} s{ss} s{s[ss]}"
                  " s{ss s{ss}} s{s[ss]} s{ss ss} s{ss ss}}}",
                  "type", "object", "properties", "id", "type", "integer",
                  "statement", "type", "string", "predicate", "type", "string",
                  "args", "type", "array", "items", "type", "string",
                  "confidence", "type", "number", "source", "type", "string",
                  "null", "tags", "type", "array", "items", "type", "string",
                  "context", "type", "object", "null", "created", "type",
                  "string", "format", "date-time", "updated", "type", "string",
                  "format", "date-time"));
    json_object_set_new(
        s, "MetaInput",
        json_pack("{ss s{s{ss sf sf} s{s[ss]} s{ss s{ss} si} s{s[ss]}}}",
                  "type", "object", "properties", "confidence", "type",
                  "number", "minimum", 0.0, "maximum", 1.0, "source", "type",
                  "string", "null", "tags", "type", "array", "items", "type",
                  "string", "maxItems", HK_MAX_TAGS, "context", "type",
                  "object", "null"));
    json_object_set_new(
        s, "FactInput",
        json_pack("{s[{so}{ss s{s{ss} s{ss} s{ss} s{ss s{ss} si si}}}]"
                  " ss}",
                  "allOf", "$ref",
                  json_string("#/components/schemas/MetaInput"), "type",
                  "object", "properties", "statement", "type", "string",
                  "predicate", "type", "string", "subject", "type", "string",
                  "args", "type", "array", "items", "type", "string",
                  "minItems", 1, "maxItems", HK_MAX_ARGS, "description",
                  "either statement, or predicate with subject [and object], "
                  "or predicate with args"));
    json_object_set_new(
        s, "BatchInput",
        json_pack("{ss s{s[{so}{ss}]} ss}", "type", "array", "items", "oneOf",
                  "$ref", json_string("#/components/schemas/FactInput"), "type",
                  "string", "description",
                  "a JSON array, or NDJSON (one item per line) with "
                  "Content-Type application/x-ndjson"));
    json_object_set_new(s, "BatchResult",
                        json_pack("{ss s{s{ss} s{ss} s{ss} s{ss} s{ss s{ss}}}}",
                                  "type", "object", "properties", "count",
                                  "type", "integer", "created", "type",
                                  "integer", "existing", "type", "integer",
                                  "failed", "type", "integer", "results",
                                  "type", "array", "items", "type", "object"));
    json_object_set_new(s, "Error",
                        json_pack("{ss s{s{ss s{s{ss} s{ss} s{}}}} s[s]}",
                                  "type", "object", "properties", "error",
                                  "type", "object", "properties", "code",
                                  "type", "string", "message", "type", "string",
                                  "detail", "required", "error"));
    json_object_set_new(
        s, "FactPage",
        json_pack("{ss s{s{ss s{so}} s{ss} s{s[ss]}}}", "type", "object",
                  "properties", "facts", "type", "array", "items", "$ref",
                  json_string("#/components/schemas/Fact"), "count", "type",
                  "integer", "next_cursor", "type", "string", "null"));
    json_object_set_new(
        s, "QueryPage",
        json_pack("{s[{so}{ss s{s{ss} s{ss s{ss}}}}]}", "allOf", "$ref",
                  json_string("#/components/schemas/FactPage"), "type",
                  "object", "properties", "query", "type", "string", "bindings",
                  "type", "array", "items", "type", "object"));
    json_object_set_new(
        s, "EntityPage",
        json_pack("{s[{so}{ss s{s{ss} s{ss}}}]}", "allOf", "$ref",
                  json_string("#/components/schemas/FactPage"), "type",
                  "object", "properties", "entity", "type", "string",
                  "fact_count", "type", "integer"));
    json_object_set_new(s, "Deleted",
                        json_pack("{ss s{s{ss} s{ss} s{so}}}", "type", "object",
                                  "properties", "deleted", "type", "boolean",
                                  "id", "type", "integer", "fact", "$ref",
                                  json_string("#/components/schemas/Fact")));
    json_object_set_new(s, "History",
                        json_pack("{ss s{s{ss} s{ss s{ss}}}}", "type", "object",
                                  "properties", "fact_id", "type", "integer",
                                  "entries", "type", "array", "items", "type",
                                  "object"));
    json_object_set_new(s, "Stats",
                        json_pack("{ss s{s{ss} s{ss} s{ss}}}", "type", "object",
                                  "properties", "facts", "type", "integer",
                                  "predicates", "type", "integer", "entities",
                                  "type", "integer"));
    json_object_set_new(s, "BackupInput",
                        json_pack("{ss s{s{ss}}}", "type", "object",
                                  "properties", "dest", "type", "string"));
    json_decref(str);
    return s;
}

static json_t *operation(const api_op *op)
{
    json_t *o = json_object();
    json_object_set_new(o, "summary", json_string(op->summary));
    char desc[160];
    snprintf(desc, sizeof(desc), "Role needed when tokens are configured: %s.",
             op->role);
    json_object_set_new(o, "description", json_string(desc));
    char opid[96];
    size_t k = 0;
    for (const char *c = op->method; *c && k < sizeof(opid) - 1; c++)
        opid[k++] = *c;
    for (const char *c = op->path; *c && k < sizeof(opid) - 1; c++)
        opid[k++] =
            (*c == '/' || *c == '{' || *c == '}' || *c == '.') ? '_' : *c;
    opid[k] = '\0';
    json_object_set_new(o, "operationId", json_string(opid));
    json_t *params = json_array();
    for (size_t i = 0; i < 7 && op->params[i].name; i++) {
        const api_param *p = &op->params[i];
        json_array_append_new(
            params, json_pack("{ss ss sb ss s{ss}}", "name", p->name, "in",
                              p->in, "required", p->required, "description",
                              p->desc, "schema", "type", p->type));
    }
    json_object_set_new(o, "parameters", params);
    if (op->body) {
        json_t *rb = json_content(ref(op->body));
        json_object_set_new(rb, "required", json_true());
        json_object_set_new(o, "requestBody", rb);
    }
    json_t *resp = json_object();
    json_t *ok =
        json_content(op->ok_schema ? ref(op->ok_schema)
                                   : json_pack("{ss}", "type", "object"));
    json_object_set_new(ok, "description", json_string("success"));
    json_object_set_new(resp, op->ok_status, ok);
    char codes[64];
    snprintf(codes, sizeof(codes), "%s", op->errors);
    char *save = NULL;
    for (char *c = strtok_r(codes, " ", &save); c;
         c = strtok_r(NULL, " ", &save)) {
        json_t *e = json_content(ref("Error"));
        json_object_set_new(e, "description", json_string(status_text(c)));
        json_object_set_new(resp, c, e);
    }
    json_object_set_new(o, "responses", resp);
    if (strcmp(op->role, "none") != 0)
        json_object_set_new(o, "security", json_pack("[{s[]}{}]", "bearer"));
    return o;
}

static char *g_doc;
static size_t g_doc_len;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static const hk_server *g_srv; /* set before the once-build runs */

/* Operations of registered prefixes (/mcp) are listed only when that
 * prefix is really served by this process. */
static bool served(const char *path)
{
    if (strncmp(path, "/v2/", 4) == 0 || !g_srv) return true;
    static const char *const fixed[] = {"/healthz", "/readyz", "/metrics",
                                        "/openapi.json"};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        if (!strcmp(path, fixed[i])) return true;
    for (unsigned i = 0; i < g_srv->n_paths; i++)
        if (!strcmp(g_srv->paths[i].prefix, path)) return true;
    return false;
}

static void build(void)
{
    json_t *paths = json_object();
    for (size_t i = 0; i < sizeof(k_ops) / sizeof(k_ops[0]); i++) {
        if (!served(k_ops[i].path)) continue;
        json_t *item = json_object_get(paths, k_ops[i].path);
        if (!item) {
            item = json_object();
            json_object_set_new(paths, k_ops[i].path, item);
        }
        json_object_set_new(item, k_ops[i].method, operation(&k_ops[i]));
    }
    json_t *doc = json_pack(
        "{ss s{ss ss ss} s[{ss}] so s{so s{s{ss ss}}}}", "openapi", "3.1.0",
        "info", "title", "hakgal REST API", "version", HK_VERSION,
        "description",
        "HAK-GAL 2.0 knowledge base: facts Pred(arg, ...) with metadata. "
        "Every error is {\"error\": {\"code\", \"message\", \"detail\"}}.",
        "servers", "url", "/", "paths", paths, "components", "schemas",
        schemas(), "securitySchemes", "bearer", "type", "http", "scheme",
        "bearer");
    if (doc) {
        g_doc = json_dumps(doc, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
        json_decref(doc);
    }
    if (!g_doc) {
        static char fallback[] =
            "{\"error\":{\"code\":\"internal\",\"message\":\"cannot build "
            "the OpenAPI document\",\"detail\":null}}";
        g_doc = fallback;
    }
    g_doc_len = strlen(g_doc);
}

const char *hk_openapi_json(const hk_server *srv, size_t *len)
{
    g_srv = srv;
    pthread_once(&g_once, build);
    *len = g_doc_len;
    return g_doc;
}
