/*
 * mcp_memory.c — the memory profile: the 9 tools of the reference MCP
 * memory server (@modelcontextprotocol/server-memory 2026.8.31) with its
 * names, titles, descriptions, input and output schemas, annotations and
 * result texts, over the service functions of svc_memory.c. A server
 * built with env.profile = HK_MCP_PROFILE_MEMORY lists these tools
 * instead of the 30 KB tools (`hakgal mcp --profile memory`).
 *
 * Result texts are what the reference prints: the result pretty-printed
 * with two spaces (JSON.stringify(result, null, 2)); errors are an
 * isError result whose text is the bare message. Writes need no token
 * (the reference has none): they go through env.write with the actor
 * "mcp-memory", or the bearer's name over HTTP. A server that has tokens
 * (`hakgal serve --tokens`, env.external_tokens) protects memory writes
 * as it protects every other write: they need a bearer with the write
 * role.
 */
#include <stdlib.h>
#include <string.h>

#include "core/json_text.h"
#include "mcp/mcp_int.h"
#include "service/svc_memory.h"

/* ==== Schemas (as the reference lists them) ==== */

/* clang-format off */
#define D07 "\"$schema\":\"http://json-schema.org/draft-07/schema#\""
#define STRD(name, desc) "\"" name "\":{\"type\":\"string\",\"description\":\"" desc "\"}"
#define STRS "{\"type\":\"array\",\"items\":{\"type\":\"string\"}"
#define OBJ(props, req)                                                       \
    "{\"type\":\"object\",\"properties\":{" props "},\"required\":[" req     \
    "],\"additionalProperties\":false}"
#define TOP(props, req)                                                       \
    "{\"type\":\"object\",\"properties\":{" props "},\"required\":[" req     \
    "],\"additionalProperties\":false," D07 "}"
#define ENTITY                                                                \
    OBJ(STRD("name", "The name of the entity") ","                           \
        STRD("entityType", "The type of the entity") ","                     \
        "\"observations\":" STRS ",\"description\":\"An array of observation " \
        "contents associated with the entity\"}",                            \
        "\"name\",\"entityType\",\"observations\"")
#define RELATION                                                              \
    OBJ(STRD("from", "The name of the entity where the relation starts") "," \
        STRD("to", "The name of the entity where the relation ends") ","     \
        STRD("relationType", "The type of the relation"),                    \
        "\"from\",\"to\",\"relationType\"")
#define GRAPH_OUT                                                             \
    TOP("\"entities\":{\"type\":\"array\",\"items\":" ENTITY "},"            \
        "\"relations\":{\"type\":\"array\",\"items\":" RELATION "}",         \
        "\"entities\",\"relations\"")
#define PROV_IN                                                               \
    "\"provenance\":{\"type\":\"boolean\",\"description\":\"hakgal: add "    \
    "who created each entity and when\"}"
/* An entity with the optional provenance of hakgal */
#define ENTITY_P                                                              \
    OBJ(STRD("name", "The name of the entity") ","                           \
        STRD("entityType", "The type of the entity") ","                     \
        "\"observations\":" STRS ",\"description\":\"An array of observation " \
        "contents associated with the entity\"},"                            \
        "\"provenance\":{\"type\":\"object\",\"properties\":{"                 \
        "\"createdBy\":{\"type\":\"string\"},\"createdAt\":{\"type\":"         \
        "\"string\"}}}",                                                      \
        "\"name\",\"entityType\",\"observations\"")
/* Opt-in pagination arguments (absent in the reference; see MEMORY.md) */
#define PAGE_IN                                                               \
    "\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":10000,"       \
    "\"description\":\"hakgal: return at most this many items and a "         \
    "nextCursor (default: everything)\"},\"cursor\":{\"type\":\"string\","     \
    "\"description\":\"hakgal: nextCursor of the previous page\"}," PROV_IN
/* Opt-in ranking of search_nodes (absent in the reference) */
#define RANK_IN                                                               \
    "\"rank\":{\"type\":\"boolean\",\"description\":\"hakgal: the same "  \
    "entities, most relevant first (BM25); not with limit or cursor\"}"
#define PAGED_OUT                                                             \
    TOP("\"entities\":{\"type\":\"array\",\"items\":" ENTITY_P "},"          \
        "\"relations\":{\"type\":\"array\",\"items\":" RELATION "},"         \
        "\"nextCursor\":{\"type\":\"string\"}",                               \
        "\"entities\",\"relations\"")
#define DONE_OUT                                                              \
    TOP("\"success\":{\"type\":\"boolean\"},\"message\":{\"type\":\"string\"}", \
        "\"success\",\"message\"")
/* clang-format on */

/* ==== Tools ==== */

/* The reference's text of a result: JSON.stringify(v, null, 2). jansson
 * writes the same layout; only its \u escapes use upper-case hex. */
static json_t *text_of(const json_t *v)
{
    char *s = hk_json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);
    if (!s) return NULL;
    for (char *p = s; *p; p++) {
        if (p[0] != '\\') continue;
        if (p[1] == 'u')
            for (int i = 2; i < 6 && p[i]; i++)
                if (p[i] >= 'A' && p[i] <= 'F') p[i] = (char)(p[i] + 32);
        p++; /* skip the escaped character */
    }
    json_t *j = json_string(s);
    free(s); /* json_dumps memory: libc free */
    return j;
}

/* Sets the whole CallToolResult: text of shown, structuredContent. */
static hk_err answer(mcp_call *c, const json_t *shown, json_t *structured,
                     hk_error *err)
{
    json_t *text = text_of(shown);
    c->result =
        text ? json_pack("{s:[{s:s, s:o}], s:o}", "content", "type", "text",
                         "text", text, "structuredContent", structured)
             : NULL;
    if (!c->result) {
        if (!text) json_decref(structured);
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    }
    return HK_OK;
}

/* The reference answers a failed call with the bare message. */
static hk_err fail(mcp_call *c, hk_err rc, hk_error *err)
{
    c->result = json_pack("{s:[{s:s, s:o}], s:b}", "content", "type", "text",
                          "text", mcp_json_text(err->message), "isError", true);
    return c->result ? HK_OK : rc;
}

static hk_err run_write(mcp_call *c, hk_mem_op op, const char *shown_key,
                        const char *text, hk_error *err)
{
    if (c->io->http && c->srv->env.external_tokens && !c->io->bearer_actor) {
        hk_error_set(err, HK_ERR_STATE,
                     "this tool changes the memory and needs a write token: "
                     "send an Authorization: Bearer token with the write "
                     "role");
        return fail(c, HK_ERR_STATE, err);
    }
    hk_svc_mem_write w = {op, c->args, NULL};
    const char *actor =
        c->io->bearer_actor ? c->io->bearer_actor : "mcp-memory";
    hk_err rc = c->srv->env.write(c->srv->env.write_ud, hk_svc_mem_apply, &w,
                                  actor, err);
    if (rc != HK_OK) {
        json_decref(w.result);
        return fail(c, rc, err);
    }
    if (c->io->kb_changed) c->io->kb_changed(c->io->ud);
    if (text) {
        json_t *s = json_string(text);
        rc = s ? answer(c, s, w.result, err)
               : hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        json_decref(s);
        if (!s) json_decref(w.result);
        return rc;
    }
    return answer(c, json_object_get(w.result, shown_key), w.result, err);
}

/* Plain text results are printed as they are, not as JSON. */
static hk_err run_write_text(mcp_call *c, hk_mem_op op, const char *text,
                             hk_error *err)
{
    hk_err rc = run_write(c, op, NULL, text, err);
    if (rc != HK_OK || !c->result) return rc;
    json_t *content = json_array_get(json_object_get(c->result, "content"), 0);
    json_t *t = json_string(text);
    if (!t || json_object_set_new(content, "text", t) != 0)
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    return HK_OK;
}

static hk_err t_create_entities(mcp_call *c, json_t **out, hk_error *err)
{
    (void)out;
    return run_write(c, HK_MEM_CREATE_ENTITIES, "entities", NULL, err);
}
static hk_err t_create_relations(mcp_call *c, json_t **out, hk_error *err)
{
    (void)out;
    return run_write(c, HK_MEM_CREATE_RELATIONS, "relations", NULL, err);
}
static hk_err t_add_observations(mcp_call *c, json_t **out, hk_error *err)
{
    (void)out;
    return run_write(c, HK_MEM_ADD_OBSERVATIONS, "results", NULL, err);
}
static hk_err t_delete_entities(mcp_call *c, json_t **out, hk_error *err)
{
    (void)out;
    return run_write_text(c, HK_MEM_DELETE_ENTITIES,
                          "Entities deleted successfully", err);
}
static hk_err t_delete_observations(mcp_call *c, json_t **out, hk_error *err)
{
    (void)out;
    return run_write_text(c, HK_MEM_DELETE_OBSERVATIONS,
                          "Observations deleted successfully", err);
}
static hk_err t_delete_relations(mcp_call *c, json_t **out, hk_error *err)
{
    (void)out;
    return run_write_text(c, HK_MEM_DELETE_RELATIONS,
                          "Relations deleted successfully", err);
}

/* mcp_int.h: the resource memory://knowledge-graph (the whole graph in
 * the text layout of read_graph), read through t. */
hk_err mcp_memory_graph_resource(hk_txn *t, json_t **contents, hk_error *err)
{
    json_t *g = NULL;
    hk_err rc = hk_svc_mem_read_graph(t, &g, err);
    if (rc != HK_OK) return rc;
    json_t *text = text_of(g);
    json_decref(g);
    *contents =
        text ? json_pack("[{s:s, s:s, s:o}]", "uri", MCP_MEMORY_RESOURCE_URI,
                         "mimeType", "application/json", "text", text)
             : NULL;
    return *contents ? HK_OK : hk_error_set(err, HK_ERR_NOMEM, "out of memory");
}

enum { READ_GRAPH, SEARCH, OPEN };

static hk_err run_read(mcp_call *c, int what, hk_error *err)
{
    hk_txn *t = NULL;
    json_t *g = NULL;
    hk_err rc = mcp_read_begin(c, &t, err);
    if (rc == HK_OK) {
        json_int_t limit = mcp_arg_int(c, "limit", 0);
        const char *cursor = mcp_arg_str(c, "cursor", NULL);
        bool prov = mcp_arg_bool(c, "provenance", false);
        bool rank = what == SEARCH && mcp_arg_bool(c, "rank", false);
        if (limit > 0 || cursor || prov || rank) {
            hk_svc_mem_view_req req;
            memset(&req, 0, sizeof req);
            req.query = what == SEARCH ? mcp_arg_str(c, "query", "") : NULL;
            req.names = what == OPEN ? json_object_get(c->args, "names") : NULL;
            req.limit = limit > 0 ? (size_t)limit : cursor && !rank ? 100 : 0;
            req.cursor = cursor;
            req.provenance = prov;
            req.rank = rank;
            rc = hk_svc_mem_view(t, &req, &g, err);
        } else if (what == READ_GRAPH)
            rc = hk_svc_mem_read_graph(t, &g, err);
        else if (what == SEARCH)
            rc = hk_svc_mem_search(t, mcp_arg_str(c, "query", ""), &g, err);
        else
            rc = hk_svc_mem_open(t, json_object_get(c->args, "names"), &g, err);
    }
    if (t) hk_txn_abort(t);
    if (rc != HK_OK) return fail(c, rc, err);
    return answer(c, g, g, err);
}

static hk_err t_read_graph(mcp_call *c, json_t **out, hk_error *err)
{
    (void)out;
    return run_read(c, READ_GRAPH, err);
}
static hk_err t_search_nodes(mcp_call *c, json_t **out, hk_error *err)
{
    (void)out;
    return run_read(c, SEARCH, err);
}
static hk_err t_open_nodes(mcp_call *c, json_t **out, hk_error *err)
{
    (void)out;
    return run_read(c, OPEN, err);
}

#define W 0u
#define DEL (MCP_TOOL_DESTRUCTIVE | MCP_TOOL_IDEMPOTENT)
#define RO (MCP_TOOL_READ_ONLY | MCP_TOOL_IDEMPOTENT)

/* clang-format off */
const mcp_tool_def mcp_memory_tools[] = {
    {"create_entities", "Create Entities",
     "Create multiple new entities in the knowledge graph",
     TOP("\"entities\":{\"type\":\"array\",\"items\":" ENTITY "}", "\"entities\""),
     TOP("\"entities\":{\"type\":\"array\",\"items\":" ENTITY "}", "\"entities\""),
     W, t_create_entities},
    {"create_relations", "Create Relations",
     "Create multiple new relations between entities in the knowledge graph. "
     "Relations should be in active voice",
     TOP("\"relations\":{\"type\":\"array\",\"items\":" RELATION "}", "\"relations\""),
     TOP("\"relations\":{\"type\":\"array\",\"items\":" RELATION "}", "\"relations\""),
     W, t_create_relations},
    {"add_observations", "Add Observations",
     "Add new observations to existing entities in the knowledge graph",
     TOP("\"observations\":{\"type\":\"array\",\"items\":"
         OBJ(STRD("entityName", "The name of the entity to add the observations to") ","
             "\"contents\":" STRS ",\"description\":\"An array of observation contents to add\"}",
             "\"entityName\",\"contents\"") "}", "\"observations\""),
     TOP("\"results\":{\"type\":\"array\",\"items\":"
         OBJ("\"entityName\":{\"type\":\"string\"},\"addedObservations\":" STRS "}",
             "\"entityName\",\"addedObservations\"") "}", "\"results\""),
     W, t_add_observations},
    {"delete_entities", "Delete Entities",
     "Delete multiple entities and their associated relations from the knowledge graph",
     TOP("\"entityNames\":" STRS ",\"description\":\"An array of entity names to delete\"}",
         "\"entityNames\""),
     DONE_OUT, DEL, t_delete_entities},
    {"delete_observations", "Delete Observations",
     "Delete specific observations from entities in the knowledge graph",
     TOP("\"deletions\":{\"type\":\"array\",\"items\":"
         OBJ(STRD("entityName", "The name of the entity containing the observations") ","
             "\"observations\":" STRS ",\"description\":\"An array of observations to delete\"}",
             "\"entityName\",\"observations\"") "}", "\"deletions\""),
     DONE_OUT, DEL, t_delete_observations},
    {"delete_relations", "Delete Relations",
     "Delete multiple relations from the knowledge graph",
     TOP("\"relations\":{\"type\":\"array\",\"items\":" RELATION
         ",\"description\":\"An array of relations to delete\"}", "\"relations\""),
     DONE_OUT, DEL, t_delete_relations},
    {"read_graph", "Read Graph", "Read the entire knowledge graph",
     "{\"type\":\"object\",\"properties\":{" PAGE_IN "}," D07 "}",
     PAGED_OUT, RO, t_read_graph},
    {"search_nodes", "Search Nodes",
     "Search for nodes in the knowledge graph based on a query",
     TOP(STRD("query", "The search query to match against entity names, types, and observation content")
         "," PAGE_IN "," RANK_IN, "\"query\""),
     PAGED_OUT, RO, t_search_nodes},
    {"open_nodes", "Open Nodes",
     "Open specific nodes in the knowledge graph by their names",
     TOP("\"names\":" STRS ",\"description\":\"An array of entity names to retrieve\"},"
         PROV_IN, "\"names\""),
     PAGED_OUT, RO, t_open_nodes},
};
/* clang-format on */
const size_t mcp_n_memory_tools =
    sizeof mcp_memory_tools / sizeof mcp_memory_tools[0];
