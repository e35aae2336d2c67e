/*
 * mcp_catalog.c — MCP resources, resource templates, prompts and argument
 * completion.
 *
 * Resources of the KB:
 *   hakgal://stats                 KB statistics (JSON)
 *   hakgal://predicates            predicates with counts and arities (JSON)
 *   hakgal://entity/{name}         facts mentioning an entity (template)
 *   hakgal://predicate/{name}      facts of a predicate (template)
 * Template variables are percent-decoded. Prompts: explain_entity (the
 * facts of an entity, to be explained) and check_claim (a claim with the
 * facts that search finds for it, to be judged supported / contradicted /
 * not covered). completion/complete offers entity names for entity
 * arguments and predicate names for predicate arguments, by prefix, from
 * the dictionary (sorted), at most 100.
 *
 * In fixtures mode the resources and prompts the MCP conformance suite
 * reads (test://static-text, test://template/{id}/data, test_simple_prompt,
 * ...) are added from mcp_fixtures_catalog.c, which only the test binaries
 * link; they never appear otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_text.h"
#include "core/mem.h"
#include "core/buf.h"
#include "mcp/mcp_int.h"
#include "mcp/mcp_tools.h"

#define MAX_RESOURCE_FACTS 1000 /* facts in one entity/predicate resource */
#define PROMPT_FACTS 50         /* facts embedded in a prompt */
#define COMPLETE_MAX 100        /* completion values */

/* ==== Listing ==== */

json_t *mcp_resources_list(hk_mcp_server *s, bool fixtures)
{
    if (s->env.profile == HK_MCP_PROFILE_MEMORY) {
        json_t *m = json_pack(
            "[{s:s, s:s, s:s, s:s, s:s}]", "uri", MCP_MEMORY_RESOURCE_URI,
            "name", "knowledge-graph", "title", "Knowledge Graph",
            "description",
            "The full knowledge graph with all entities and relations",
            "mimeType", "application/json");
        return m ? m : json_array();
    }
    json_t *a = json_pack(
        "[{s:s, s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s, s:s}]", "uri",
        "hakgal://stats", "name", "stats", "title", "KB statistics",
        "description", "Fact, predicate, entity and audit counts, size on disk",
        "mimeType", "application/json", "uri", "hakgal://predicates", "name",
        "predicates", "title", "Predicates", "description",
        "Every predicate with its fact count and arities", "mimeType",
        "application/json");
    if (a && fixtures) mcp_fixture_resources_list(a);
    return a ? a : json_array();
}

json_t *mcp_templates_list(hk_mcp_server *s, bool fixtures)
{
    if (s->env.profile == HK_MCP_PROFILE_MEMORY) return json_array();
    json_t *a = json_pack(
        "[{s:s, s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s, s:s}]", "uriTemplate",
        "hakgal://entity/{name}", "name", "entity", "title",
        "Facts about an entity", "description",
        "Every fact mentioning the entity (any argument position), up to 1000",
        "mimeType", "application/json", "uriTemplate",
        "hakgal://predicate/{name}", "name", "predicate", "title",
        "Facts of a predicate", "description",
        "Every fact of the predicate, up to 1000", "mimeType",
        "application/json");
    if (a && fixtures) mcp_fixture_templates_list(a);
    return a ? a : json_array();
}

json_t *mcp_prompts_list(hk_mcp_server *s, bool fixtures)
{
    /* the reference memory server has no prompts */
    if (s->env.profile == HK_MCP_PROFILE_MEMORY) return json_array();
    json_t *a = json_pack(
        "[{s:s, s:s, s:s, s:[{s:s, s:s, s:b}]},"
        " {s:s, s:s, s:s, s:[{s:s, s:s, s:b}]}]",
        "name", "explain_entity", "title", "Explain an entity from the KB",
        "description",
        "Asks the model to explain an entity using only the facts the "
        "knowledge base holds about it (embedded in the prompt)",
        "arguments", "name", "entity", "description",
        "Entity name, e.g. Computer", "required", true, "name", "check_claim",
        "title", "Check a claim against the KB", "description",
        "Asks the model whether a claim is supported, contradicted or not "
        "covered by the facts that a search of the KB returns for it",
        "arguments", "name", "claim", "description",
        "The claim to check, as text or as a statement", "required", true);
    if (a && fixtures) mcp_fixture_prompts_list(a);
    return a ? a : json_array();
}

/* ==== Reading ==== */

/* Percent-decodes src into a new string (caller frees with hk_free); NULL
 * on bad escapes or when out of memory. */
static char *pct_decode(const char *src)
{
    size_t n = strlen(src);
    char *out = hk_malloc(n + 1);
    if (!out) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (src[i] == '%') {
            unsigned v;
            if (i + 2 >= n) {
                hk_free(out);
                return NULL;
            }
            if (sscanf(src + i + 1, "%2x", &v) != 1 || v == 0) {
                hk_free(out);
                return NULL;
            }
            out[o++] = (char)v;
            i += 2;
        } else {
            out[o++] = src[i];
        }
    }
    out[o] = '\0';
    return out;
}

static hk_err facts_resource(hk_mcp_server *s, const char *uri,
                             const char *name, bool entity, json_t **contents,
                             hk_error *err)
{
    hk_txn *t = NULL;
    json_t *facts = NULL;
    uint64_t total = 0;
    hk_scan scan = HK_SCAN_INIT;
    if (entity)
        scan.entity = name;
    else
        scan.predicate = name;
    hk_store *st = s->env.store_slot ? *s->env.store_slot : s->env.store;
    hk_err rc = hk_txn_begin(st, false, &t, err);
    if (rc == HK_OK)
        rc = hk_svc_name_total(t, entity ? HK_SVC_ENTITIES : HK_SVC_PREDICATES,
                               name, &total, err);
    if (rc == HK_OK && total == 0) {
        hk_txn_abort(t);
        return hk_error_set(err, HK_ERR_NOT_FOUND, "no such %s",
                            entity ? "entity" : "predicate");
    }
    if (rc == HK_OK)
        rc = mcp_scan_facts(NULL, t, &scan, MAX_RESOURCE_FACTS, &facts, err);
    if (t) hk_txn_abort(t);
    if (rc != HK_OK) return rc;
    json_t *doc =
        json_pack("{s:s, s:I, s:I, s:o}", entity ? "entity" : "predicate", name,
                  "total", (json_int_t)total, "count",
                  (json_int_t)json_array_size(facts), "facts", facts);
    char *text = doc ? hk_json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text) return HK_ERR_NOMEM;
    *contents = json_pack("[{s:s, s:s, s:s}]", "uri", uri, "mimeType",
                          "application/json", "text", text);
    free(text); /* json_dumps memory: libc free */
    return *contents ? HK_OK : HK_ERR_NOMEM;
}

hk_err mcp_json_contents(const char *uri, json_t *doc /* stolen */,
                         json_t **contents)
{
    char *text = doc ? hk_json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text) return HK_ERR_NOMEM;
    *contents = json_pack("[{s:s, s:s, s:s}]", "uri", uri, "mimeType",
                          "application/json", "text", text);
    free(text); /* json_dumps memory: libc free */
    return *contents ? HK_OK : HK_ERR_NOMEM;
}

hk_err mcp_resource_read(hk_mcp_server *s, const char *uri, json_t **contents,
                         hk_error *err)
{
    *contents = NULL;
    hk_store *st = s->env.store_slot ? *s->env.store_slot : s->env.store;
    if (s->env.profile == HK_MCP_PROFILE_MEMORY) {
        if (strcmp(uri, MCP_MEMORY_RESOURCE_URI) != 0)
            return hk_error_set(err, HK_ERR_NOT_FOUND, "no such resource");
        hk_txn *t = NULL;
        hk_err rc = hk_txn_begin(st, false, &t, err);
        if (rc == HK_OK) rc = mcp_memory_graph_resource(t, contents, err);
        if (t) hk_txn_abort(t);
        return rc;
    }
    if (strcmp(uri, "hakgal://stats") == 0) {
        hk_txn *t = NULL;
        hk_stats x;
        memset(&x, 0, sizeof x);
        hk_err rc = hk_txn_begin(st, false, &t, err);
        if (rc == HK_OK) rc = hk_svc_stats(t, &x, err);
        if (t) hk_txn_abort(t);
        if (rc != HK_OK) return rc;
        return mcp_json_contents(
            uri,
            json_pack("{s:I, s:I, s:I, s:I, s:I, s:o}", "facts",
                      (json_int_t)x.facts, "predicates",
                      (json_int_t)x.predicates, "entities",
                      (json_int_t)x.entities, "audit_entries",
                      (json_int_t)x.audit_entries, "bytes_on_disk",
                      (json_int_t)x.bytes_on_disk, "last_change",
                      mcp_time_json(x.last_change_us)),
            contents);
    }
    if (strcmp(uri, "hakgal://predicates") == 0) {
        hk_txn *t = NULL;
        hk_svc_names_req req = {HK_SVC_PREDICATES, NULL, 10000, 0};
        hk_svc_names_res res;
        memset(&res, 0, sizeof res);
        hk_err rc = hk_txn_begin(st, false, &t, err);
        if (rc == HK_OK) rc = hk_svc_names(t, &req, &res, err);
        if (t) hk_txn_abort(t);
        if (rc != HK_OK) return rc;
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < res.n; i++)
            json_array_append_new(
                arr, json_pack("{s:s, s:I, s:i, s:i}", "name", res.v[i].name,
                               "count", (json_int_t)res.v[i].count, "min_arity",
                               (int)res.v[i].min_arity, "max_arity",
                               (int)res.v[i].max_arity));
        hk_svc_names_res_free(&res);
        return mcp_json_contents(uri,
                                 json_pack("{s:I, s:o}", "count",
                                           (json_int_t)json_array_size(arr),
                                           "predicates", arr),
                                 contents);
    }
    static const char ent[] = "hakgal://entity/",
                      pred[] = "hakgal://predicate/";
    if (strncmp(uri, ent, sizeof ent - 1) == 0 ||
        strncmp(uri, pred, sizeof pred - 1) == 0) {
        bool is_ent = uri[9] == 'e';
        const char *raw = uri + (is_ent ? sizeof ent : sizeof pred) - 1;
        if (!raw[0]) return HK_ERR_NOT_FOUND;
        char *name = pct_decode(raw);
        if (!name)
            return hk_error_set(err, HK_ERR_INVALID, "bad percent-escape in %s",
                                uri);
        hk_err rc = facts_resource(s, uri, name, is_ent, contents, err);
        hk_free(name);
        return rc;
    }
    if (s->env.fixtures) return mcp_fixture_resource_read(uri, contents, err);
    return HK_ERR_NOT_FOUND;
}

/* ==== Prompts ==== */

static json_t *user_text(const char *text)
{
    return json_pack("{s:s, s:{s:s, s:s}}", "role", "user", "content", "type",
                     "text", "text", text);
}

static const char *str_arg(json_t *args, const char *k)
{
    return json_string_value(json_object_get(args, k));
}

/* Appends "- STATEMENT\n" for one fact to the hk_buf ud. */
static hk_err prompt_line(hk_buf *b, const hk_fact *f, hk_error *err)
{
    hk_err rc = hk_buf_append_str(b, "- ");
    if (rc == HK_OK) rc = hk_statement_format(&f->st, b);
    if (rc == HK_OK) rc = hk_buf_append(b, "\n", 1);
    if (rc != HK_OK) return hk_error_set(err, rc, "out of memory");
    return HK_OK;
}

static hk_err prompt_row(void *ud, const hk_svc_row *row, hk_error *err)
{
    return prompt_line(ud, row->fact, err);
}

static hk_err prompt_hit(void *ud, const hk_fact *f, double score,
                         hk_error *err)
{
    (void)score;
    return prompt_line(ud, f, err);
}

hk_err mcp_prompt_get(hk_mcp_server *s, const char *name, json_t *args,
                      json_t *input_responses, json_t *client_caps,
                      bool stateless, json_t **result, hk_error *err)
{
    *result = NULL;
    hk_store *st = s->env.store_slot ? *s->env.store_slot : s->env.store;
    bool explain = strcmp(name, "explain_entity") == 0;
    bool check = strcmp(name, "check_claim") == 0;
    if (explain || check) {
        const char *key = explain ? "entity" : "claim";
        const char *val = str_arg(args, key);
        if (!val || !val[0])
            return hk_error_set(err, HK_ERR_INVALID,
                                "Invalid params: prompt %s needs argument '%s'",
                                name, key);
        hk_txn *t = NULL;
        hk_buf b = HK_BUF_INIT;
        size_t n = 0;
        hk_err rc = hk_txn_begin(st, false, &t, err);
        if (rc == HK_OK && explain) {
            hk_svc_query_req q;
            memset(&q, 0, sizeof q);
            q.scan = (hk_scan)HK_SCAN_INIT;
            q.scan.entity = val;
            q.limit = PROMPT_FACTS;
            q.no_cursor = true;
            q.row = prompt_row;
            q.row_ud = &b;
            hk_svc_query_res qr;
            rc = hk_svc_query(t, &q, &qr, err);
            n = qr.count;
            hk_svc_query_res_free(&qr);
        } else if (rc == HK_OK) {
            hk_svc_search_req q = {val, PROMPT_FACTS, prompt_hit, &b};
            rc = hk_svc_search(t, &q, &n, err);
        }
        if (t) hk_txn_abort(t);
        if (rc != HK_OK) {
            hk_buf_free(&b);
            return rc;
        }
        hk_buf text = HK_BUF_INIT;
        if (explain)
            hk_buf_appendf(
                &text,
                "Explain what the knowledge base says about \"%s\". Use only "
                "the facts below (written as Predicate(arguments)); say so "
                "where they are silent.\n\nFacts (%zu):\n%s",
                val, n,
                n ? b.data
                  : "(none: the knowledge base has no facts about "
                    "this entity)\n");
        else
            hk_buf_appendf(
                &text,
                "Check this claim against the knowledge base: \"%s\".\n\n"
                "Answer supported, contradicted or not covered, and cite the "
                "facts you relied on. Facts a search returned for it "
                "(%zu):\n%s",
                val, n, n ? b.data : "(none)\n");
        hk_buf_free(&b);
        *result = json_pack("{s:s, s:[o]}", "description",
                            explain ? "Explain an entity from the KB"
                                    : "Check a claim against the KB",
                            "messages", user_text(text.data ? text.data : ""));
        hk_buf_free(&text);
        return *result ? HK_OK : HK_ERR_NOMEM;
    }
    if (s->env.fixtures) {
        hk_err rc = mcp_fixture_prompt_get(name, args, input_responses,
                                           client_caps, stateless, result, err);
        if (rc != HK_ERR_NOT_FOUND) return rc;
    }
    return hk_error_set(err, HK_ERR_NOT_FOUND,
                        "Invalid params: unknown prompt '%s'", name);
}

/* ==== Completion ==== */

static hk_err complete_names(hk_mcp_server *s, bool entities,
                             const char *prefix, json_t **values, hk_error *err)
{
    hk_store *st = s->env.store_slot ? *s->env.store_slot : s->env.store;
    hk_txn *t = NULL;
    json_t *arr = json_array();
    size_t pl = strlen(prefix);
    hk_svc_names_kind kind = entities ? HK_SVC_ENTITIES : HK_SVC_PREDICATES;
    hk_svc_names_req req = {kind, pl ? prefix : NULL, COMPLETE_MAX,
                            entities ? 1 : 0};
    hk_svc_names_res res;
    memset(&res, 0, sizeof res);
    hk_err rc = arr ? hk_txn_begin(st, false, &t, err) : HK_ERR_NOMEM;
    if (rc == HK_OK && pl > 0) {
        /* the prefix itself is a name when it has facts */
        uint64_t cnt = 0;
        rc = hk_svc_name_total(t, kind, prefix, &cnt, err);
        if (rc == HK_OK && cnt > 0)
            json_array_append_new(arr, json_string(prefix));
    }
    if (rc == HK_OK) rc = hk_svc_names(t, &req, &res, err);
    for (size_t i = 0; rc == HK_OK && i < res.n; i++) {
        if (strncmp(res.v[i].name, prefix, pl) != 0) break; /* past it */
        if (json_array_size(arr) >= COMPLETE_MAX) break;
        json_array_append_new(arr, json_string(res.v[i].name));
    }
    hk_svc_names_res_free(&res);
    if (t) hk_txn_abort(t);
    if (rc != HK_OK) {
        json_decref(arr);
        return rc;
    }
    *values = arr;
    return HK_OK;
}

hk_err mcp_complete(hk_mcp_server *s, json_t *ref, const char *arg_name,
                    const char *value, json_t *context_args, json_t **values,
                    hk_error *err)
{
    (void)context_args;
    const char *type = str_arg(ref, "type");
    *values = NULL;
    if (type && strcmp(type, "ref/prompt") == 0) {
        const char *name = str_arg(ref, "name");
        if (!name)
            return hk_error_set(err, HK_ERR_INVALID,
                                "Invalid params: ref/prompt needs a name");
        if (strcmp(name, "explain_entity") == 0 &&
            strcmp(arg_name, "entity") == 0)
            return complete_names(s, true, value, values, err);
        if (strcmp(name, "explain_entity") == 0 ||
            strcmp(name, "check_claim") == 0 ||
            (s->env.fixtures && mcp_fixture_completes(name))) {
            *values = json_array();
            return *values ? HK_OK : HK_ERR_NOMEM;
        }
        return hk_error_set(err, HK_ERR_NOT_FOUND,
                            "Invalid params: unknown prompt '%s'", name);
    }
    if (type && strcmp(type, "ref/resource") == 0) {
        const char *uri = str_arg(ref, "uri");
        if (!uri)
            return hk_error_set(err, HK_ERR_INVALID,
                                "Invalid params: ref/resource needs a uri");
        if (strcmp(uri, "hakgal://entity/{name}") == 0)
            return complete_names(s, true, value, values, err);
        if (strcmp(uri, "hakgal://predicate/{name}") == 0)
            return complete_names(s, false, value, values, err);
        if (s->env.fixtures && mcp_fixture_completes(uri)) {
            *values = json_array();
            return *values ? HK_OK : HK_ERR_NOMEM;
        }
        return hk_error_set(err, HK_ERR_NOT_FOUND,
                            "Invalid params: unknown resource template '%s'",
                            uri);
    }
    return hk_error_set(err, HK_ERR_INVALID,
                        "Invalid params: ref.type must be ref/prompt or "
                        "ref/resource");
}
