/*
 * mcp_fixtures.c — the fixture tools that the official MCP conformance
 * suite calls, registered only with --mcp-conformance-fixtures (never in
 * production: they return canned content and talk about test data).
 *
 * Their names and results follow the suite's reference server: simple
 * text, image, audio, embedded resource and mixed content, a failing
 * tool, logging and progress during a call, and the round trips to the
 * client — sampling and elicitation — which in 2025-11-25 are
 * server->client requests sent on the call's stream (io->client_request)
 * and in 2026-07-28 are `input_required` results that the client answers
 * by retrying the call with inputResponses (mcp_fixtures_mrtr.c).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mcp/mcp_fixtures.h"

static const char png[] =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8"
    "jx0gAAAABJRU5ErkJggg==";
static const char wav[] =
    "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=";

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

hk_err mcp_fixture_content(mcp_call *c, json_t *content /* stolen */)
{
    c->result = json_pack("{s:o}", "content", content);
    return c->result ? HK_OK : HK_ERR_NOMEM;
}

static json_t *text_block(const char *text)
{
    return json_pack("{s:s, s:s}", "type", "text", "text", text);
}

/* ==== Content ==== */

static hk_err f_simple_text(mcp_call *c, json_t **out, hk_error *err)
{
    (void)out;
    (void)err;
    return mcp_fixture_content(
        c,
        json_pack("[o]",
                  text_block("This is a simple text response for testing.")));
}

static hk_err f_image(mcp_call *c, json_t **out, hk_error *err)
{
    (void)out;
    (void)err;
    return mcp_fixture_content(c,
                               json_pack("[{s:s, s:s, s:s}]", "type", "image",
                                         "data", png, "mimeType", "image/png"));
}

static hk_err f_audio(mcp_call *c, json_t **out, hk_error *err)
{
    (void)out;
    (void)err;
    return mcp_fixture_content(c,
                               json_pack("[{s:s, s:s, s:s}]", "type", "audio",
                                         "data", wav, "mimeType", "audio/wav"));
}

static hk_err f_embedded(mcp_call *c, json_t **out, hk_error *err)
{
    (void)out;
    (void)err;
    return mcp_fixture_content(
        c,
        json_pack("[{s:s, s:{s:s, s:s, s:s}}]", "type", "resource", "resource",
                  "uri", "test://embedded-resource", "mimeType", "text/plain",
                  "text", "This is an embedded resource content."));
}

static hk_err f_mixed(mcp_call *c, json_t **out, hk_error *err)
{
    (void)out;
    (void)err;
    return mcp_fixture_content(
        c,
        json_pack("[o, {s:s, s:s, s:s}, {s:s, s:{s:s, s:s, s:s}}]",
                  text_block("Multiple content types test:"), "type", "image",
                  "data", png, "mimeType", "image/png", "type", "resource",
                  "resource", "uri", "test://mixed-content-resource",
                  "mimeType", "application/json", "text",
                  "{\"test\":\"data\",\"value\":123}"));
}

static hk_err f_error(mcp_call *c, json_t **out, hk_error *err)
{
    (void)c;
    (void)out;
    return hk_error_set(err, HK_ERR_INVALID,
                        "This tool intentionally returns an error for testing");
}

static hk_err f_logging(mcp_call *c, json_t **out, hk_error *err)
{
    (void)out;
    (void)err;
    static const char *const msgs[] = {"Tool execution started",
                                       "Tool processing data",
                                       "Tool execution completed"};
    for (int i = 0; i < 3; i++) {
        mcp_log(c, 1, "conformance-fixtures", msgs[i]);
        if (i < 2) sleep_ms(50);
    }
    return mcp_fixture_content(
        c, json_pack("[o]",
                     text_block("Tool with logging executed successfully")));
}

static hk_err f_progress(mcp_call *c, json_t **out, hk_error *err)
{
    (void)out;
    (void)err;
    for (int i = 0; i <= 2; i++) {
        char msg[64];
        snprintf(msg, sizeof msg, "Completed step %d of 100", i * 50);
        mcp_progress(c, i * 50, 100, msg);
        if (i < 2) sleep_ms(50);
    }
    char tok[128] = "0";
    if (json_is_integer(c->progress_token))
        snprintf(tok, sizeof tok, "%lld",
                 (long long)json_integer_value(c->progress_token));
    else if (json_is_string(c->progress_token))
        snprintf(tok, sizeof tok, "%s", json_string_value(c->progress_token));
    return mcp_fixture_content(c, json_pack("[o]", text_block(tok)));
}

static hk_err f_schema_2020(mcp_call *c, json_t **out, hk_error *err)
{
    (void)out;
    (void)err;
    char *args = json_dumps(c->args, JSON_COMPACT);
    char text[1200];
    snprintf(text, sizeof text, "JSON Schema 2020-12 tool called with: %.1000s",
             args ? args : "{}");
    free(args); /* json_dumps memory: libc free */
    return mcp_fixture_content(c, json_pack("[o]", text_block(text)));
}

/* ==== Round trips to the client ==== */

static hk_err f_sampling(mcp_call *c, json_t **out, hk_error *err)
{
    (void)out;
    json_t *params = json_pack(
        "{s:[{s:s, s:{s:s, s:s}}], s:i}", "messages", "role", "user", "content",
        "type", "text", "text", mcp_arg_str(c, "prompt", ""), "maxTokens", 100);
    json_t *res = NULL;
    hk_err rc = mcp_fixture_ask(c, "sampling", "sampling/createMessage", params,
                                &res, err);
    json_decref(params);
    if (rc != HK_OK || !res) return rc;
    const char *txt = json_string_value(
        json_object_get(json_object_get(res, "content"), "text"));
    char text[1200];
    snprintf(text, sizeof text, "LLM response: %.1000s",
             txt ? txt : "No response");
    json_decref(res);
    return mcp_fixture_content(c, json_pack("[o]", text_block(text)));
}

static hk_err elicit(mcp_call *c, json_t *params /* stolen */,
                     const char *prefix, hk_error *err)
{
    json_t *res = NULL;
    hk_err rc = mcp_fixture_ask(c, "elicitation", "elicitation/create", params,
                                &res, err);
    json_decref(params);
    if (rc != HK_OK || !res) return rc;
    json_t *content = json_object_get(res, "content");
    char *cj = json_dumps(content ? content : json_object(), JSON_COMPACT);
    char text[1600];
    snprintf(text, sizeof text, "%s: action=%s, content=%.1200s", prefix,
             json_string_value(json_object_get(res, "action")) ?: "?",
             cj ? cj : "{}");
    free(cj); /* json_dumps memory: libc free */
    json_decref(res);
    return mcp_fixture_content(c, json_pack("[o]", text_block(text)));
}

static hk_err f_elicitation(mcp_call *c, json_t **out, hk_error *err)
{
    (void)out;
    return elicit(c,
                  json_pack("{s:s, s:s, s:{s:s, s:{s:{s:s, s:s}}, s:[s]}}",
                            "mode", "form", "message",
                            mcp_arg_str(c, "message", ""), "requestedSchema",
                            "type", "object", "properties", "response", "type",
                            "string", "description", "User's response",
                            "required", "response"),
                  "User response", err);
}

static hk_err f_elicit_defaults(mcp_call *c, json_t **out, hk_error *err)
{
    (void)out;
    json_t *schema = json_loads(
        "{\"type\":\"object\",\"properties\":{"
        "\"name\":{\"type\":\"string\",\"description\":\"User name\","
        "\"default\":\"John Doe\"},"
        "\"age\":{\"type\":\"integer\",\"description\":\"User age\","
        "\"default\":30},"
        "\"score\":{\"type\":\"number\",\"description\":\"User score\","
        "\"default\":95.5},"
        "\"status\":{\"type\":\"string\",\"description\":\"User status\","
        "\"enum\":[\"active\",\"inactive\",\"pending\"],\"default\":\"active\"}"
        ","
        "\"verified\":{\"type\":\"boolean\",\"description\":"
        "\"Verification status\",\"default\":true}},\"required\":[]}",
        0, NULL);
    return elicit(c,
                  json_pack("{s:s, s:s, s:o}", "mode", "form", "message",
                            "Please review and update the form fields with "
                            "defaults",
                            "requestedSchema", schema),
                  "Elicitation completed", err);
}

static hk_err f_elicit_enums(mcp_call *c, json_t **out, hk_error *err)
{
    (void)out;
    json_t *schema = json_loads(
        "{\"type\":\"object\",\"properties\":{"
        "\"untitledSingle\":{\"type\":\"string\",\"description\":"
        "\"Select one option\",\"enum\":[\"option1\",\"option2\",\"option3\"]},"
        "\"titledSingle\":{\"type\":\"string\",\"description\":"
        "\"Select one option with titles\",\"oneOf\":["
        "{\"const\":\"value1\",\"title\":\"First Option\"},"
        "{\"const\":\"value2\",\"title\":\"Second Option\"},"
        "{\"const\":\"value3\",\"title\":\"Third Option\"}]},"
        "\"legacyEnum\":{\"type\":\"string\",\"description\":"
        "\"Select one option (legacy)\",\"enum\":[\"opt1\",\"opt2\",\"opt3\"],"
        "\"enumNames\":[\"Option One\",\"Option Two\",\"Option Three\"]},"
        "\"untitledMulti\":{\"type\":\"array\",\"description\":"
        "\"Select multiple options\",\"minItems\":1,\"maxItems\":3,"
        "\"items\":{\"type\":\"string\",\"enum\":[\"option1\",\"option2\","
        "\"option3\"]}},"
        "\"titledMulti\":{\"type\":\"array\",\"description\":"
        "\"Select multiple options with titles\",\"minItems\":1,"
        "\"maxItems\":3,\"items\":{\"anyOf\":["
        "{\"const\":\"value1\",\"title\":\"First Choice\"},"
        "{\"const\":\"value2\",\"title\":\"Second Choice\"},"
        "{\"const\":\"value3\",\"title\":\"Third Choice\"}]}}},"
        "\"required\":[]}",
        0, NULL);
    return elicit(c,
                  json_pack("{s:s, s:s, s:o}", "mode", "form", "message",
                            "Please select options from the enum fields",
                            "requestedSchema", schema),
                  "Elicitation completed", err);
}

/* ==== Table ==== */

#define EMPTY_IN "{\"type\":\"object\",\"properties\":{}}"
#define FX (MCP_TOOL_NO_STRUCTURED)

const mcp_tool_def mcp_fixture_tools[] = {
    {"test_simple_text", "Simple text", "Tests simple text content response",
     EMPTY_IN, NULL, FX, f_simple_text},
    {"test_image_content", "Image", "Tests image content response", EMPTY_IN,
     NULL, FX, f_image},
    {"test_audio_content", "Audio", "Tests audio content response", EMPTY_IN,
     NULL, FX, f_audio},
    {"test_embedded_resource", "Embedded resource",
     "Tests embedded resource content response", EMPTY_IN, NULL, FX,
     f_embedded},
    {"test_multiple_content_types", "Mixed content",
     "Tests response with multiple content types (text, image, resource)",
     EMPTY_IN, NULL, FX, f_mixed},
    {"test_tool_with_logging", "Logging",
     "Tests tool that emits log messages during execution", EMPTY_IN, NULL, FX,
     f_logging},
    {"test_tool_with_progress", "Progress",
     "Tests tool that reports progress notifications", EMPTY_IN, NULL, FX,
     f_progress},
    {"test_error_handling", "Error", "Tests error response handling", EMPTY_IN,
     NULL, FX, f_error},
    {"test_sampling", "Sampling",
     "Tests server-initiated sampling (LLM completion request)",
     "{\"type\":\"object\",\"properties\":{\"prompt\":{\"type\":\"string\","
     "\"description\":\"The prompt to send to the LLM\"}},\"required\":"
     "[\"prompt\"]}",
     NULL, FX, f_sampling},
    {"test_elicitation", "Elicitation",
     "Tests server-initiated elicitation (user input request)",
     "{\"type\":\"object\",\"properties\":{\"message\":{\"type\":\"string\","
     "\"description\":\"The message to show the user\"}},\"required\":"
     "[\"message\"]}",
     NULL, FX, f_elicitation},
    {"test_elicitation_sep1034_defaults", "Elicitation defaults",
     "Tests elicitation with default values per SEP-1034", EMPTY_IN, NULL, FX,
     f_elicit_defaults},
    {"test_elicitation_sep1330_enums", "Elicitation enums",
     "Tests elicitation with enum schema improvements per SEP-1330", EMPTY_IN,
     NULL, FX, f_elicit_enums},
    {"json_schema_2020_12_tool", "JSON Schema 2020-12",
     "Tool with JSON Schema 2020-12 features for conformance testing "
     "(SEP-1613)",
     "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\","
     "\"type\":\"object\",\"$defs\":{\"address\":{\"$anchor\":"
     "\"addressDef\",\"type\":\"object\",\"properties\":{\"street\":{"
     "\"type\":\"string\"},\"city\":{\"type\":\"string\"}}}},"
     "\"properties\":{\"name\":{\"type\":\"string\"},\"address\":{"
     "\"$ref\":\"#/$defs/address\"},\"contactMethod\":{\"type\":"
     "\"string\",\"enum\":[\"phone\",\"email\"]},\"phone\":{\"type\":"
     "\"string\"},\"email\":{\"type\":\"string\"}},"
     "\"allOf\":[{\"anyOf\":[{\"required\":[\"phone\"]},{\"required\":"
     "[\"email\"]}]}],\"if\":{\"properties\":{\"contactMethod\":{"
     "\"const\":\"phone\"}},\"required\":[\"contactMethod\"]},"
     "\"then\":{\"required\":[\"phone\"]},\"else\":{\"required\":"
     "[\"email\"]},\"additionalProperties\":false}",
     NULL, FX, f_schema_2020},
    MCP_FIXTURE_MRTR_TOOLS};

const size_t mcp_n_fixture_tools =
    sizeof mcp_fixture_tools / sizeof mcp_fixture_tools[0];
