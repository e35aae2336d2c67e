/*
 * mcp_fixtures_catalog.c — the resources, resource template and prompts
 * that the MCP conformance suite reads (test://static-text,
 * test://template/{id}/data, test_simple_prompt, ...), with the canned
 * content of the suite's reference server. Like the fixture tools
 * (mcp_fixtures.c) they are linked only into the test binaries
 * (hakgal-conformance, fuzz_mcp); mcp_fixtures_none.c stands in for them
 * in the product. mcp_catalog.c calls them only with
 * --mcp-conformance-fixtures. Stateless: any thread.
 */
#include <stdio.h>
#include <string.h>

#include "mcp/mcp_int.h"

static const char png[] =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8"
    "jx0gAAAABJRU5ErkJggg==";

/* ==== Listing ==== */

void mcp_fixture_resources_list(json_t *a)
{
    json_array_append_new(
        a, json_pack("{s:s, s:s, s:s, s:s, s:s}", "uri", "test://static-text",
                     "name", "static-text", "title", "Static Text Resource",
                     "description", "A static text resource for testing",
                     "mimeType", "text/plain"));
    json_array_append_new(
        a,
        json_pack("{s:s, s:s, s:s, s:s, s:s}", "uri", "test://static-binary",
                  "name", "static-binary", "title", "Static Binary Resource",
                  "description", "A static binary resource (image) for testing",
                  "mimeType", "image/png"));
    json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s, s:s}", "uri",
                                       "test://watched-resource", "name",
                                       "watched-resource", "title",
                                       "Watched Resource", "description",
                                       "A resource clients may subscribe to",
                                       "mimeType", "text/plain"));
}

void mcp_fixture_templates_list(json_t *a)
{
    json_array_append_new(
        a, json_pack("{s:s, s:s, s:s, s:s, s:s}", "uriTemplate",
                     "test://template/{id}/data", "name", "template", "title",
                     "Resource Template", "description",
                     "A resource template with parameter substitution",
                     "mimeType", "application/json"));
}

void mcp_fixture_prompts_list(json_t *a)
{
    json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "name",
                                       "test_simple_prompt", "title",
                                       "Simple Test Prompt", "description",
                                       "A simple prompt without arguments"));
    json_array_append_new(
        a, json_pack("{s:s, s:s, s:s, s:[{s:s, s:s, s:b}, {s:s, s:s, s:b}]}",
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
                     "A prompt that includes an embedded resource", "arguments",
                     "name", "resourceUri", "description",
                     "URI of the resource to embed", "required", true));
    json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "name",
                                       "test_prompt_with_image", "title",
                                       "Prompt With Image", "description",
                                       "A prompt that includes image content"));
    json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "name",
                                       "test_input_required_result_prompt",
                                       "title", "Prompt asking for input",
                                       "description",
                                       "Asks the client for context "
                                       "through an input_required result"));
}

/* ==== Reading ==== */

hk_err mcp_fixture_resource_read(const char *uri, json_t **contents,
                                 hk_error *err)
{
    (void)err;
    if (strcmp(uri, "test://static-text") == 0) {
        *contents = json_pack(
            "[{s:s, s:s, s:s}]", "uri", uri, "mimeType", "text/plain", "text",
            "This is the content of the static text resource.");
        return HK_OK;
    }
    if (strcmp(uri, "test://static-binary") == 0) {
        *contents = json_pack("[{s:s, s:s, s:s}]", "uri", uri, "mimeType",
                              "image/png", "blob", png);
        return HK_OK;
    }
    if (strcmp(uri, "test://watched-resource") == 0) {
        *contents = json_pack("[{s:s, s:s, s:s}]", "uri", uri, "mimeType",
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
        return mcp_json_contents(uri,
                                 json_pack("{s:s, s:b, s:s}", "id", id,
                                           "templateTest", true, "data", data),
                                 contents);
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

hk_err mcp_fixture_prompt_get(const char *name, json_t *args,
                              json_t *input_responses, json_t *client_caps,
                              bool stateless, json_t **result, hk_error *err)
{
    if (strcmp(name, "test_simple_prompt") == 0) {
        *result = json_pack("{s:[o]}", "messages",
                            user_text("This is a simple prompt for testing."));
        return HK_OK;
    }
    if (strcmp(name, "test_prompt_with_arguments") == 0) {
        const char *a1 = str_arg(args, "arg1"), *a2 = str_arg(args, "arg2");
        if (!a1 || !a2)
            return hk_error_set(err, HK_ERR_INVALID,
                                "Invalid params: arg1 and arg2 are required");
        char text[1024];
        snprintf(text, sizeof text,
                 "Prompt with arguments: arg1='%.400s', arg2='%.400s'", a1, a2);
        *result = json_pack("{s:[o]}", "messages", user_text(text));
        return HK_OK;
    }
    if (strcmp(name, "test_prompt_with_embedded_resource") == 0) {
        const char *uri = str_arg(args, "resourceUri");
        if (!uri)
            return hk_error_set(err, HK_ERR_INVALID,
                                "Invalid params: resourceUri is required");
        *result =
            json_pack("{s:[{s:s, s:{s:s, s:{s:s, s:s, s:s}}}, o]}", "messages",
                      "role", "user", "content", "type", "resource", "resource",
                      "uri", uri, "mimeType", "text/plain", "text",
                      "Embedded resource content for testing.",
                      user_text("Please process the embedded resource above."));
        return HK_OK;
    }
    if (strcmp(name, "test_input_required_result_prompt") == 0) {
        json_t *have = json_object_get(input_responses, "user_context");
        if (json_is_object(have)) {
            const char *ctx = json_string_value(
                json_object_get(json_object_get(have, "content"), "context"));
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
            "What context should the prompt use?", "requestedSchema", "type",
            "object", "properties", "context", "type", "string", "required",
            "context");
        return *result ? HK_OK : HK_ERR_NOMEM;
    }
    if (strcmp(name, "test_prompt_with_image") == 0) {
        *result = json_pack("{s:[{s:s, s:{s:s, s:s, s:s}}, o]}", "messages",
                            "role", "user", "content", "type", "image", "data",
                            png, "mimeType", "image/png",
                            user_text("Please analyze the image above."));
        return HK_OK;
    }
    return HK_ERR_NOT_FOUND;
}

/* ==== Completion ==== */

bool mcp_fixture_completes(const char *name)
{
    return strncmp(name, "test_", 5) == 0 || strncmp(name, "test://", 7) == 0;
}
