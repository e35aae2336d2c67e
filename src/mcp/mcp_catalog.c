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
 * ...) are added; they never appear otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "mcp/mcp_int.h"

#define MAX_RESOURCE_FACTS 1000 /* facts in one entity/predicate resource */
#define PROMPT_FACTS 50         /* facts embedded in a prompt */
#define COMPLETE_MAX 100        /* completion values */

static const char fixture_png[] =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8"
    "jx0gAAAABJRU5ErkJggg==";

/* ==== Listing ==== */

json_t *mcp_resources_list(hk_mcp_server *s, bool fixtures)
{
    (void)s;
    json_t *a = json_pack(
        "[{s:s, s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s, s:s}]", "uri",
        "hakgal://stats", "name", "stats", "title", "KB statistics",
        "description", "Fact, predicate, entity and audit counts, size on disk",
        "mimeType", "application/json", "uri", "hakgal://predicates", "name",
        "predicates", "title", "Predicates", "description",
        "Every predicate with its fact count and arities", "mimeType",
        "application/json");
    if (a && fixtures) {
        json_array_append_new(
            a,
            json_pack("{s:s, s:s, s:s, s:s, s:s}", "uri", "test://static-text",
                      "name", "static-text", "title", "Static Text Resource",
                      "description", "A static text resource for testing",
                      "mimeType", "text/plain"));
        json_array_append_new(
            a, json_pack("{s:s, s:s, s:s, s:s, s:s}", "uri",
                         "test://static-binary", "name", "static-binary",
                         "title", "Static Binary Resource", "description",
                         "A static binary resource (image) for testing",
                         "mimeType", "image/png"));
        json_array_append_new(
            a, json_pack("{s:s, s:s, s:s, s:s, s:s}", "uri",
                         "test://watched-resource", "name", "watched-resource",
                         "title", "Watched Resource", "description",
                         "A resource clients may subscribe to", "mimeType",
                         "text/plain"));
    }
    return a ? a : json_array();
}

json_t *mcp_templates_list(hk_mcp_server *s, bool fixtures)
{
    (void)s;
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
    if (a && fixtures)
        json_array_append_new(
            a, json_pack("{s:s, s:s, s:s, s:s, s:s}", "uriTemplate",
                         "test://template/{id}/data", "name", "template",
                         "title", "Resource Template", "description",
                         "A resource template with parameter substitution",
                         "mimeType", "application/json"));
    return a ? a : json_array();
}

json_t *mcp_prompts_list(hk_mcp_server *s, bool fixtures)
{
    (void)s;
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
    if (a && fixtures) {
        json_array_append_new(
            a, json_pack("{s:s, s:s, s:s}", "name", "test_simple_prompt",
                         "title", "Simple Test Prompt", "description",
                         "A simple prompt without arguments"));
        json_array_append_new(
            a,
            json_pack("{s:s, s:s, s:s, s:[{s:s, s:s, s:b}, {s:s, s:s, s:b}]}",
                      "name", "test_prompt_with_arguments", "title",
                      "Prompt With Arguments", "description",
                      "A prompt with required arguments", "arguments", "name",
                      "arg1", "description", "First test argument", "required",
                      true, "name", "arg2", "description",
                      "Second test argument", "required", true));
        json_array_append_new(
            a, json_pack("{s:s, s:s, s:s, s:[{s:s, s:s, s:b}]}", "name",
                         "test_prompt_with_embedded_resource", "title",
                         "Prompt With Embedded Resource", "description",
                         "A prompt that includes an embedded resource",
                         "arguments", "name", "resourceUri", "description",
                         "URI of the resource to embed", "required", true));
        json_array_append_new(
            a, json_pack("{s:s, s:s, s:s}", "name", "test_prompt_with_image",
                         "title", "Prompt With Image", "description",
                         "A prompt that includes image content"));
        json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "name",
                                           "test_input_required_result_prompt",
                                           "title", "Prompt asking for input",
                                           "description",
                                           "Asks the client for context "
                                           "through an input_required result"));
    }
    return a ? a : json_array();
}

/* ==== Reading ==== */

/* Percent-decodes src into a malloc'ed string; NULL on bad escapes. */
static char *pct_decode(const char *src)
{
    size_t n = strlen(src);
    char *out = malloc(n + 1);
    if (!out) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (src[i] == '%') {
            unsigned v;
            if (i + 2 >= n) {
                free(out);
                return NULL;
            }
            if (sscanf(src + i + 1, "%2x", &v) != 1 || v == 0) {
                free(out);
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
    hk_query *q = NULL;
    hk_fact f;
    hk_fact_init(&f);
    json_t *facts = json_array();
    uint64_t total = 0;
    hk_scan scan = HK_SCAN_INIT;
    if (entity)
        scan.entity = name;
    else
        scan.predicate = name;
    hk_store *st = s->env.store_slot ? *s->env.store_slot : s->env.store;
    hk_err rc = facts ? hk_txn_begin(st, false, &t, err) : HK_ERR_NOMEM;
    if (rc == HK_OK)
        rc = entity ? hk_store_count_entity(t, name, &total, err)
                    : hk_store_count_predicate(t, name, &total, err);
    if (rc == HK_OK && total == 0) {
        hk_txn_abort(t);
        json_decref(facts);
        return hk_error_set(err, HK_ERR_NOT_FOUND, "no such %s",
                            entity ? "entity" : "predicate");
    }
    if (rc == HK_OK) rc = hk_query_open_scan(t, &scan, NULL, &q, err);
    for (size_t i = 0; rc == HK_OK && i < MAX_RESOURCE_FACTS; i++) {
        bool has = false;
        rc = hk_query_next(q, &f, &has, err);
        if (rc != HK_OK || !has) break;
        json_array_append_new(facts, hk_svc_fact_jansson(&f));
    }
    hk_query_close(q);
    if (t) hk_txn_abort(t);
    hk_fact_release(&f);
    if (rc != HK_OK) {
        json_decref(facts);
        return rc;
    }
    json_t *doc =
        json_pack("{s:s, s:I, s:I, s:o}", entity ? "entity" : "predicate", name,
                  "total", (json_int_t)total, "count",
                  (json_int_t)json_array_size(facts), "facts", facts);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text) return HK_ERR_NOMEM;
    *contents = json_pack("[{s:s, s:s, s:s}]", "uri", uri, "mimeType",
                          "application/json", "text", text);
    free(text);
    return *contents ? HK_OK : HK_ERR_NOMEM;
}

static hk_err json_text_resource(const char *uri, json_t *doc /* stolen */,
                                 json_t **contents)
{
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text) return HK_ERR_NOMEM;
    *contents = json_pack("[{s:s, s:s, s:s}]", "uri", uri, "mimeType",
                          "application/json", "text", text);
    free(text);
    return *contents ? HK_OK : HK_ERR_NOMEM;
}

hk_err mcp_resource_read(hk_mcp_server *s, const char *uri, json_t **contents,
                         hk_error *err)
{
    *contents = NULL;
    hk_store *st = s->env.store_slot ? *s->env.store_slot : s->env.store;
    if (strcmp(uri, "hakgal://stats") == 0) {
        hk_txn *t = NULL;
        hk_stats x;
        memset(&x, 0, sizeof x);
        hk_err rc = hk_txn_begin(st, false, &t, err);
        if (rc == HK_OK) rc = hk_store_stats(t, &x, err);
        if (t) hk_txn_abort(t);
        if (rc != HK_OK) return rc;
        return json_text_resource(
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
        hk_name_count *v = NULL;
        size_t n = 0;
        hk_err rc = hk_txn_begin(st, false, &t, err);
        if (rc == HK_OK)
            rc = hk_store_list_predicates(t, NULL, 10000, &v, &n, err);
        if (t) hk_txn_abort(t);
        if (rc != HK_OK) return rc;
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < n; i++)
            json_array_append_new(
                arr, json_pack("{s:s, s:I, s:i, s:i}", "name", v[i].name,
                               "count", (json_int_t)v[i].count, "min_arity",
                               (int)v[i].min_arity, "max_arity",
                               (int)v[i].max_arity));
        hk_name_counts_free(v, n);
        return json_text_resource(uri,
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
        free(name);
        return rc;
    }
    if (s->env.fixtures) {
        if (strcmp(uri, "test://static-text") == 0) {
            *contents = json_pack(
                "[{s:s, s:s, s:s}]", "uri", uri, "mimeType", "text/plain",
                "text", "This is the content of the static text resource.");
            return HK_OK;
        }
        if (strcmp(uri, "test://static-binary") == 0) {
            *contents = json_pack("[{s:s, s:s, s:s}]", "uri", uri, "mimeType",
                                  "image/png", "blob", fixture_png);
            return HK_OK;
        }
        if (strcmp(uri, "test://watched-resource") == 0) {
            *contents =
                json_pack("[{s:s, s:s, s:s}]", "uri", uri, "mimeType",
                          "text/plain", "text", "Watched resource content");
            return HK_OK;
        }
        static const char tp[] = "test://template/", ts[] = "/data";
        size_t ul = strlen(uri);
        if (strncmp(uri, tp, sizeof tp - 1) == 0 && ul > sizeof tp - 1 + 5 &&
            strcmp(uri + ul - 5, ts) == 0) {
            char id[256];
            size_t il = ul - (sizeof tp - 1) - 5;
            if (il == 0 || il >= sizeof id) return HK_ERR_NOT_FOUND;
            memcpy(id, uri + sizeof tp - 1, il);
            id[il] = '\0';
            char data[300];
            snprintf(data, sizeof data, "Data for ID: %s", id);
            return json_text_resource(uri,
                                      json_pack("{s:s, s:b, s:s}", "id", id,
                                                "templateTest", true, "data",
                                                data),
                                      contents);
        }
    }
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
        hk_fact f;
        hk_fact_init(&f);
        hk_buf b = HK_BUF_INIT, line = HK_BUF_INIT;
        size_t n = 0;
        hk_err rc = hk_txn_begin(st, false, &t, err);
        if (rc == HK_OK && explain) {
            hk_scan scan = HK_SCAN_INIT;
            scan.entity = val;
            hk_query *q = NULL;
            rc = hk_query_open_scan(t, &scan, NULL, &q, err);
            for (; rc == HK_OK && n < PROMPT_FACTS; n++) {
                bool has = false;
                rc = hk_query_next(q, &f, &has, err);
                if (rc != HK_OK || !has) break;
                hk_buf_reset(&line);
                hk_statement_format(&f.st, &line);
                hk_buf_appendf(&b, "- %s\n", line.data ? line.data : "");
            }
            hk_query_close(q);
        } else if (rc == HK_OK) {
            hk_search_hit *hits = NULL;
            size_t nh = 0;
            rc = hk_store_search(t, val, PROMPT_FACTS, &hits, &nh, err);
            for (size_t i = 0; rc == HK_OK && i < nh; i++) {
                if (hk_store_get(t, hits[i].id, &f, NULL) != HK_OK) continue;
                hk_buf_reset(&line);
                hk_statement_format(&f.st, &line);
                hk_buf_appendf(&b, "- %s\n", line.data ? line.data : "");
                n++;
            }
            hk_free(hits);
        }
        if (t) hk_txn_abort(t);
        hk_fact_release(&f);
        hk_buf_free(&line);
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
        if (strcmp(name, "test_simple_prompt") == 0) {
            *result =
                json_pack("{s:[o]}", "messages",
                          user_text("This is a simple prompt for testing."));
            return HK_OK;
        }
        if (strcmp(name, "test_prompt_with_arguments") == 0) {
            const char *a1 = str_arg(args, "arg1"), *a2 = str_arg(args, "arg2");
            if (!a1 || !a2)
                return hk_error_set(
                    err, HK_ERR_INVALID,
                    "Invalid params: arg1 and arg2 are required");
            char text[1024];
            snprintf(text, sizeof text,
                     "Prompt with arguments: arg1='%.400s', arg2='%.400s'", a1,
                     a2);
            *result = json_pack("{s:[o]}", "messages", user_text(text));
            return HK_OK;
        }
        if (strcmp(name, "test_prompt_with_embedded_resource") == 0) {
            const char *uri = str_arg(args, "resourceUri");
            if (!uri)
                return hk_error_set(err, HK_ERR_INVALID,
                                    "Invalid params: resourceUri is required");
            *result = json_pack(
                "{s:[{s:s, s:{s:s, s:{s:s, s:s, s:s}}}, o]}", "messages",
                "role", "user", "content", "type", "resource", "resource",
                "uri", uri, "mimeType", "text/plain", "text",
                "Embedded resource content for testing.",
                user_text("Please process the embedded resource above."));
            return HK_OK;
        }
        if (strcmp(name, "test_input_required_result_prompt") == 0) {
            json_t *have = json_object_get(input_responses, "user_context");
            if (json_is_object(have)) {
                const char *ctx = json_string_value(json_object_get(
                    json_object_get(have, "content"), "context"));
                char text[700];
                snprintf(text, sizeof text, "Prompt using context: %.500s",
                         ctx ? ctx : "(none)");
                *result = json_pack("{s:[o]}", "messages", user_text(text));
                return HK_OK;
            }
            if (!stateless || !json_object_get(client_caps, "elicitation")) {
                *result = json_pack("{s:[o]}", "messages",
                                    user_text("Prompt using context: (none)"));
                return HK_OK;
            }
            *result = json_pack(
                "{s:s, s:{s:{s:s, s:{s:s, s:{s:s, s:{s:{s:s}}, s:[s]}}}}}",
                "resultType", "input_required", "inputRequests", "user_context",
                "method", "elicitation/create", "params", "message",
                "What context should the prompt use?", "requestedSchema",
                "type", "object", "properties", "context", "type", "string",
                "required", "context");
            return *result ? HK_OK : HK_ERR_NOMEM;
        }
        if (strcmp(name, "test_prompt_with_image") == 0) {
            *result = json_pack("{s:[{s:s, s:{s:s, s:s, s:s}}, o]}", "messages",
                                "role", "user", "content", "type", "image",
                                "data", fixture_png, "mimeType", "image/png",
                                user_text("Please analyze the image above."));
            return HK_OK;
        }
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
    hk_name_count *v = NULL;
    size_t n = 0;
    json_t *arr = json_array();
    size_t pl = strlen(prefix);
    hk_err rc = arr ? hk_txn_begin(st, false, &t, err) : HK_ERR_NOMEM;
    if (rc == HK_OK && pl > 0) {
        /* the prefix itself is a name when it has facts */
        uint64_t cnt = 0;
        rc = entities ? hk_store_count_entity(t, prefix, &cnt, err)
                      : hk_store_count_predicate(t, prefix, &cnt, err);
        if (rc == HK_OK && cnt > 0)
            json_array_append_new(arr, json_string(prefix));
    }
    if (rc == HK_OK)
        rc = entities ? hk_store_list_entities(t, pl ? prefix : NULL,
                                               COMPLETE_MAX, 1, &v, &n, err)
                      : hk_store_list_predicates(t, pl ? prefix : NULL,
                                                 COMPLETE_MAX, &v, &n, err);
    for (size_t i = 0; rc == HK_OK && i < n; i++) {
        if (strncmp(v[i].name, prefix, pl) != 0) break; /* past the prefix */
        if (json_array_size(arr) >= COMPLETE_MAX) break;
        json_array_append_new(arr, json_string(v[i].name));
    }
    hk_name_counts_free(v, n);
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
            (s->env.fixtures && strncmp(name, "test_", 5) == 0)) {
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
        if (s->env.fixtures && strncmp(uri, "test://", 7) == 0) {
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
