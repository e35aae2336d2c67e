/*
 * server_openapi.c — the OpenAPI 3.1 document served at /openapi.json.
 *
 * Built once (pthread_once) with jansson from the route table the router
 * uses (hk_routes, server_api.c): every operation lists its parameters,
 * request body, success response and the error statuses it can answer;
 * components hold the shared schemas (Fact, FactInput, Error, ...).
 * Registered prefixes (/mcp, hk_prefix_ops) appear only when served.
 * test_server_routes.c checks that routes and document agree both ways;
 * test_server_api.py that every documented operation is answered.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "server/server_int.h"

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
    json_object_set_new(
        s, "GraphQLRequest",
        json_pack(
            "{ss s{s{ss} s{s[ss]} s{s[ss]}} s[s] ss}", "type", "object",
            "properties", "query", "type", "string", "variables", "type",
            "object", "null", "operationName", "type", "string", "null",
            "required", "query", "description",
            "GraphQL over HTTP; the schema is GET /graphql/schema.graphql"));
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
    json_object_set_new(s, "GraphQueryInput",
                        json_pack("{ss s{s{ss} s{ss} s{s[ss]} s{ss}} s[s]}",
                                  "type", "object", "properties", "query",
                                  "type", "string", "limit", "type", "integer",
                                  "cursor", "type", "string", "null", "explain",
                                  "type", "boolean", "required", "query"));
    json_object_set_new(
        s, "GraphQueryPage",
        json_pack("{ss s{s{ss} s{ss s{ss}} s{ss} s{s[ss]} s{ss}}}", "type",
                  "object", "properties", "query", "type", "string", "rows",
                  "type", "array", "items", "type", "object", "count", "type",
                  "integer", "next_cursor", "type", "string", "null", "plan",
                  "type", "array"));
    json_object_set_new(
        s, "VectorSpaceInput",
        json_pack("{ss s{s{ss} s{ss} s{ss} s{ss} s{ss} s{ss} s{ss} s{ss}} "
                  "s[ss]}",
                  "type", "object", "properties", "name", "type", "string",
                  "dim", "type", "integer", "metric", "type", "string",
                  "embedder", "type", "string", "int8", "type", "boolean", "m",
                  "type", "integer", "ef_construction", "type", "integer", "ef",
                  "type", "integer", "required", "name", "dim"));
    json_object_set_new(
        json_object_get(json_object_get(s, "VectorSpaceInput"), "properties"),
        "kind",
        json_pack("{ss s[ss]}", "type", "string", "enum", "fact", "entity"));
    json_object_set_new(
        json_object_get(json_object_get(s, "VectorSpaceInput"), "properties"),
        "model", json_pack("{ss}", "type", "string"));
    json_object_set_new(
        s, "VectorEntitiesInput",
        json_pack("{ss s{s{ss s{ss s{s{ss} s{ss s{ss}}} s[s]}} s{ss} s{ss}} "
                  "s[s]}",
                  "type", "object", "properties", "entities", "type", "array",
                  "items", "type", "object", "properties", "entity", "type",
                  "string", "vector", "type", "array", "items", "type",
                  "number", "required", "entity", "model", "type", "string",
                  "remove", "type", "boolean", "required", "entities"));
    json_object_set_new(
        s, "VectorSimilarInput",
        json_pack("{ss s{s{ss} s{ss s{ss}} s{ss} s{ss} s{ss} s{ss} s{ss}}}",
                  "type", "object", "properties", "text", "type", "string",
                  "vector", "type", "array", "items", "type", "number", "fact",
                  "type", "integer", "k", "type", "integer", "ef", "type",
                  "integer", "predicate", "type", "string", "entity", "type",
                  "string"));
    for (size_t i = 0; i < 4; i++)
        json_object_set_new(
            json_object_get(json_object_get(s, "VectorSimilarInput"),
                            "properties"),
            (const char *[]){"tag", "source", "query", "var"}[i],
            json_pack("{ss}", "type", "string"));
    json_object_set_new(
        s, "VectorHits",
        json_pack("{ss s{s{ss} s{ss s{ss}} s{ss} s{ss}}}", "type", "object",
                  "properties", "space", "type", "string", "hits", "type",
                  "array", "items", "type", "object", "candidates", "type",
                  "integer", "exact", "type", "boolean"));
    json_object_set_new(s, "AskInput",
                        json_pack("{ss s{s{ss} s{ss} s{ss}} s[s]}", "type",
                                  "object", "properties", "question", "type",
                                  "string", "budget_tokens", "type", "integer",
                                  "stream", "type", "boolean", "required",
                                  "question"));
    json_object_set_new(
        s, "AskAnswer",
        json_pack("{ss s{s{ss} s{ss} s{ss s{ss}} s{ss} s{ss} s{ss}}}", "type",
                  "object", "properties", "answer", "type", "string", "mode",
                  "type", "string", "citations", "type", "array", "items",
                  "type", "integer", "invalid_citations", "type", "array",
                  "claims", "type", "array", "context", "type", "object"));
    json_object_set_new(s, "ExtractInput",
                        json_pack("{ss s{s{ss} s{ss}} s[s]}", "type", "object",
                                  "properties", "text", "type", "string",
                                  "source", "type", "string", "required",
                                  "text"));
    json_object_set_new(
        s, "SuggestInput",
        json_pack("{ss s{s{ss} s{ss si si} s{ss si si}} s[s]}", "type",
                  "object", "properties", "pattern", "type", "string", "k",
                  "type", "integer", "minimum", 1, "maximum", 1000,
                  "min_plausibility", "type", "number", "minimum", 0, "maximum",
                  1, "required", "pattern"));
    json_object_set_new(
        s, "TrainInput",
        json_pack("{ss s{s{ss s[ss]} s{ss si} s{ss si} s{ss si} s{ss si} "
                  "s{ss si} s{ss} s{ss} s{ss} s{ss} s{ss si}} sb}",
                  "type", "object", "properties", "kind", "type", "string",
                  "enum", "complex", "distmult", "dim", "type", "integer",
                  "minimum", 1, "epochs", "type", "integer", "minimum", 1,
                  "threads", "type", "integer", "minimum", 1, "seed", "type",
                  "integer", "minimum", 0, "negatives", "type", "integer",
                  "minimum", 1, "lr", "type", "number", "reg", "type", "number",
                  "valid", "type", "number", "test", "type", "number",
                  "split_seed", "type", "integer", "minimum", 0,
                  "additionalProperties", 0));
    json_object_set_new(s, "ReviewDecision",
                        json_pack("{ss s{s{ss} s{ss}}}", "type", "object",
                                  "properties", "statement", "type", "string",
                                  "note", "type", "string"));
    json_object_set_new(s, "LlmSwitch",
                        json_pack("{ss s{s{ss s[ss]} s{ss s[ss]}}}", "type",
                                  "object", "properties", "models", "type",
                                  "string", "enum", "on", "off", "kb", "type",
                                  "string", "enum", "read-only", "writable"));
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
    json_object_set_new(
        s, "History",
        json_pack("{ss s{s{ss} s{ss s{ss}} s{ss} s{s[ss]}}}", "type", "object",
                  "properties", "fact_id", "type", "integer", "entries", "type",
                  "array", "items", "type", "object", "count", "type",
                  "integer", "next_before", "type", "integer", "null"));
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

static json_t *operation(const hk_route *op)
{
    json_t *o = json_object();
    json_object_set_new(o, "summary", json_string(op->summary));
    char desc[160];
    snprintf(desc, sizeof(desc), "Role needed when tokens are configured: %s.",
             hk_role_name(op->need));
    json_object_set_new(o, "description", json_string(desc));
    char opid[96];
    size_t k = 0;
    for (const char *c = op->method; *c && k < sizeof(opid) - 1; c++)
        opid[k++] = (char)tolower((unsigned char)*c);
    for (const char *c = op->path; *c && k < sizeof(opid) - 1; c++)
        opid[k++] =
            (*c == '/' || *c == '{' || *c == '}' || *c == '.') ? '_' : *c;
    opid[k] = '\0';
    json_object_set_new(o, "operationId", json_string(opid));
    json_t *params = json_array();
    for (size_t i = 0; i < HK_ROUTE_MAX_PARAMS && op->params[i].name; i++) {
        const hk_route_param *p = &op->params[i];
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
    if (op->need != HK_ROLE_NONE)
        json_object_set_new(o, "security", json_pack("[{s[]}{}]", "bearer"));
    return o;
}

static char *g_doc;
static size_t g_doc_len;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static const hk_server *g_srv; /* set before the once-build runs */

/* Operations of registered prefixes (/mcp) are listed only when that
 * prefix is really served by this process (always without a server: the
 * whole description). */
static bool served(const char *path)
{
    if (!g_srv) return true;
    for (unsigned i = 0; i < g_srv->n_paths; i++)
        if (!strcmp(g_srv->paths[i].prefix, path)) return true;
    return false;
}

/* Adds op to paths[op->path][lower-case method]. */
static void add_operation(json_t *paths, const hk_route *op)
{
    char method[16];
    size_t k = 0;
    for (const char *c = op->method; *c && k < sizeof(method) - 1; c++)
        method[k++] = (char)tolower((unsigned char)*c);
    method[k] = '\0';
    json_t *item = json_object_get(paths, op->path);
    if (!item) {
        item = json_object();
        json_object_set_new(paths, op->path, item);
    }
    json_object_set_new(item, method, operation(op));
}

static void build(void)
{
    json_t *paths = json_object();
    for (size_t i = 0; i < hk_n_routes; i++)
        add_operation(paths, &hk_routes[i]);
    for (size_t i = 0; i < hk_n_prefix_ops; i++)
        if (served(hk_prefix_ops[i].path))
            add_operation(paths, &hk_prefix_ops[i]);
    json_t *doc = json_pack(
        "{ss s{ss ss ss} s[{ss}] so s{so s{s{ss ss}}}}", "openapi", "3.1.0",
        "info", "title", "hakgal REST API", "version", hk_version(),
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
