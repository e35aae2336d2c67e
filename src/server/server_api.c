/*
 * server_api.c — the REST API in one table: for every route its method,
 * path, the role it needs, its handler, and its OpenAPI description
 * (summary, parameters, request and response schemas, error statuses).
 *
 * The router (server_router.c) matches requests against this table and
 * the OpenAPI document (server_openapi.c) is generated from it, so a route
 * cannot be served without being documented, nor documented without being
 * served. Adding a route: one row here (schemas named in body/ok_schema
 * are components of server_openapi.c). Rows with the same path keep the
 * order in which their methods appear in Allow headers.
 *
 * Read-only data; any thread.
 */
#include "server/server_int.h"

/* ==== Shared parameters ==== */

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

/* ==== Routes ==== */

const hk_route hk_routes[] = {
    /* facts */
    {.method = "POST",
     .path = "/v2/facts",
     .need = HK_ROLE_WRITE,
     .fn = hk_route_facts_post,
     .summary = "Add a fact (idempotent: 201 created, 200 existing)",
     .body = "FactInput",
     .ok_status = "201",
     .ok_schema = "Fact",
     .errors = "400 401 403 413 415 422 503 507"},
    {.method = "GET",
     .path = "/v2/facts",
     .need = HK_ROLE_READ,
     .fn = hk_route_facts_list,
     .summary = "List facts by predicate and/or entity",
     .ok_status = "200",
     .ok_schema = "FactPage",
     .errors = "400 401 422 503",
     .params = {{"predicate", "query", "string", false, "only this predicate"},
                {"entity", "query", "string", false,
                 "only facts mentioning it"},
                {"position", "query", "integer", false,
                 "with entity: 0-based argument position"},
                {"arity", "query", "integer", false,
                 "only facts with this many args"},
                {"order", "query", "string", false,
                 "oldest (default) or newest"},
                P_LIMIT,
                P_CURSOR}},
    {.method = "DELETE",
     .path = "/v2/facts",
     .need = HK_ROLE_WRITE,
     .fn = hk_route_facts_delete,
     .summary = "Delete the fact with this statement",
     .ok_status = "200",
     .ok_schema = "Deleted",
     .errors = "400 401 403 404 413 503",
     .params = {{"statement", "query", "string", true,
                 "e.g. HasPart(Computer, CPU)"}}},
    {.method = "POST",
     .path = "/v2/facts/batch",
     .need = HK_ROLE_WRITE,
     .fn = hk_route_facts_batch,
     .summary =
         "Add up to max-batch facts in one transaction (JSON array or NDJSON)",
     .body = "BatchInput",
     .ok_status = "200",
     .ok_schema = "BatchResult",
     .errors = "400 401 403 413 415 503 507"},
    /* one fact */
    {.method = "GET",
     .path = "/v2/facts/{id}",
     .need = HK_ROLE_READ,
     .fn = hk_route_fact_get,
     .summary = "Get a fact",
     .ok_status = "200",
     .ok_schema = "Fact",
     .errors = "400 401 404",
     .params = {P_ID}},
    {.method = "PUT",
     .path = "/v2/facts/{id}",
     .need = HK_ROLE_WRITE,
     .fn = hk_route_fact_put,
     .summary =
         "Replace a fact's statement (and metadata given), keeping its id",
     .body = "FactInput",
     .ok_status = "200",
     .ok_schema = "Fact",
     .errors = "400 401 403 404 409 413 415 422 503",
     .params = {P_ID}},
    {.method = "PATCH",
     .path = "/v2/facts/{id}",
     .need = HK_ROLE_WRITE,
     .fn = hk_route_fact_patch,
     .summary = "Change metadata (confidence, source, tags, context)",
     .body = "MetaInput",
     .ok_status = "200",
     .ok_schema = "Fact",
     .errors = "400 401 403 404 415 422 503",
     .params = {P_ID}},
    {.method = "DELETE",
     .path = "/v2/facts/{id}",
     .need = HK_ROLE_WRITE,
     .fn = hk_route_fact_delete,
     .summary = "Delete a fact",
     .ok_status = "200",
     .ok_schema = "Deleted",
     .errors = "400 401 403 404 503",
     .params = {P_ID}},
    {.method = "GET",
     .path = "/v2/facts/{id}/history",
     .need = HK_ROLE_READ,
     .fn = hk_route_fact_history,
     .summary = "Audit entries of one fact",
     .ok_status = "200",
     .ok_schema = "History",
     .errors = "400 401 404 422",
     .params = {P_ID, P_LIMIT}},
    /* reads */
    {.method = "GET",
     .path = "/v2/query",
     .need = HK_ROLE_READ,
     .fn = hk_route_query,
     .summary = "Pattern query such as HasPart(?x, CPU)",
     .ok_status = "200",
     .ok_schema = "QueryPage",
     .errors = "400 401 413 422 503",
     .params = {{"q", "query", "string", true,
                 "pattern: constants, ?variables and _ wildcards"},
                P_LIMIT,
                P_CURSOR}},
    {.method = "GET",
     .path = "/v2/entities/{name}",
     .need = HK_ROLE_READ,
     .fn = hk_route_entity,
     .summary = "An entity and the facts mentioning it",
     .ok_status = "200",
     .ok_schema = "EntityPage",
     .errors = "400 401 404 422",
     .params = {{"name", "path", "string", true, "entity (URL-encoded)"},
                P_LIMIT,
                P_CURSOR}},
    {.method = "GET",
     .path = "/v2/predicates",
     .need = HK_ROLE_READ,
     .fn = hk_route_predicates,
     .summary = "Predicates with fact counts",
     .ok_status = "200",
     .errors = "400 401 422",
     .params = {{"after", "query", "string", false,
                 "next_after of the previous page"},
                P_LIMIT}},
    {.method = "GET",
     .path = "/v2/stats",
     .need = HK_ROLE_READ,
     .fn = hk_route_stats,
     .summary = "Counts and sizes of the knowledge base",
     .ok_status = "200",
     .ok_schema = "Stats",
     .errors = "401"},
    {.method = "GET",
     .path = "/v2/search",
     .need = HK_ROLE_READ,
     .fn = hk_route_search,
     .summary =
         "Ranked text search over predicates and arguments (camelCase-aware)",
     .ok_status = "200",
     .errors = "400 401 413 422",
     .params = {{"q", "query", "string", true, "search words"}, P_LIMIT}},
    {.method = "GET",
     .path = "/v2/audit",
     .need = HK_ROLE_READ,
     .fn = hk_route_audit,
     .summary = "The audit log, newest first",
     .ok_status = "200",
     .errors = "400 401 422",
     .params = {{"before", "query", "integer", false,
                 "entries below this sequence"},
                P_LIMIT}},
    /* administration and operations */
    {.method = "POST",
     .path = "/v2/admin/backup",
     .need = HK_ROLE_ADMIN,
     .fn = hk_route_backup,
     .summary = "Consistent hot backup of the KB",
     .body = "BackupInput",
     .ok_status = "201",
     .errors = "400 401 403 409 422 503"},
    {.method = "GET",
     .path = "/v2/admin/verify",
     .need = HK_ROLE_ADMIN,
     .fn = hk_route_verify,
     .summary = "Verify the audit chain; deep=1: every record, symbol and "
                "index entry",
     .ok_status = "200",
     .errors = "400 401 403",
     .params = {{"deep", "query", "string", false, "1 for the deep check"}}},
    {.method = "POST",
     .path = "/v2/admin/verify",
     .need = HK_ROLE_ADMIN,
     .fn = hk_route_verify,
     .summary = "Verify the audit chain; deep=1: every record, symbol and "
                "index entry",
     .ok_status = "200",
     .errors = "400 401 403",
     .params = {{"deep", "query", "string", false, "1 for the deep check"}}},
    {.method = "GET",
     .path = "/healthz",
     .need = HK_ROLE_NONE,
     .fn = hk_route_healthz,
     .summary = "Liveness",
     .ok_status = "200",
     .errors = ""},
    {.method = "GET",
     .path = "/readyz",
     .need = HK_ROLE_NONE,
     .fn = hk_route_readyz,
     .summary = "Readiness: KB open and not stopping",
     .ok_status = "200",
     .errors = "503"},
    {.method = "GET",
     .path = "/metrics",
     .need = HK_ROLE_READ,
     .fn = hk_route_metrics,
     .summary = "Prometheus metrics (text format 0.0.4)",
     .ok_status = "200",
     .errors = "401"},
    {.method = "GET",
     .path = "/openapi.json",
     .need = HK_ROLE_NONE,
     .fn = hk_route_openapi,
     .summary = "This document",
     .ok_status = "200",
     .errors = ""},
};
const size_t hk_n_routes = sizeof(hk_routes) / sizeof(hk_routes[0]);

/* ==== Registered prefixes ==== */

/* Operations of prefixes that modules register at start-up
 * (hk_server_register_path): documented here, routed by the registered
 * handler (fn is NULL). The OpenAPI document lists them only when the
 * prefix is served. */
const hk_route hk_prefix_ops[] = {
    {.method = "POST",
     .path = "/mcp",
     .need = HK_ROLE_READ,
     .summary = "MCP Streamable HTTP: JSON-RPC messages",
     .ok_status = "200",
     .errors = "400 401 403 404 406 415"},
    {.method = "GET",
     .path = "/mcp",
     .need = HK_ROLE_READ,
     .summary = "MCP Streamable HTTP: server-sent event stream",
     .ok_status = "200",
     .errors = "401 405 406"},
    {.method = "DELETE",
     .path = "/mcp",
     .need = HK_ROLE_READ,
     .summary = "MCP Streamable HTTP: end a session",
     .ok_status = "200",
     .errors = "401 404 405"},
};
const size_t hk_n_prefix_ops = sizeof(hk_prefix_ops) / sizeof(hk_prefix_ops[0]);
