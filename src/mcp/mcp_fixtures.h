/*
 * mcp_fixtures.h — helpers shared by the conformance fixture files
 * (mcp_fixtures.c, mcp_fixtures_mrtr.c). Not used by the KB tools.
 */
#ifndef HK_MCP_FIXTURES_H
#define HK_MCP_FIXTURES_H

#include "mcp/mcp_int.h"

/* Sets c->result to {"content": content}. */
hk_err mcp_fixture_content(mcp_call *c, json_t *content /* stolen */);

/* Asks the client (capability cap: "sampling", "elicitation", "roots") to
 * run method with params. 2025-11-25: a server->client request on the
 * call's stream; *result gets the client's result. 2026-07-28: when the
 * retried call carries inputResponses[cap], *result gets it; otherwise
 * c->result becomes an `input_required` result and *result stays NULL
 * (the tool then returns HK_OK at once). A client that did not declare cap
 * gets JSON-RPC error -32021 (c->rpc_error). */
hk_err mcp_fixture_ask(mcp_call *c, const char *cap, const char *method,
                       json_t *params, json_t **result, hk_error *err);

/* The 2026-07-28 fixture rows (multi round-trip, capability checks),
 * spliced into the table of mcp_fixtures.c. */
hk_err mcp_fx_missing_capability(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_fx_mrtr_elicitation(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_fx_mrtr_sampling(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_fx_mrtr_list_roots(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_fx_mrtr_request_state(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_fx_mrtr_multiple(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_fx_mrtr_multi_round(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_fx_mrtr_tampered(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_fx_mrtr_capabilities(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_fx_streaming_elicitation(mcp_call *c, json_t **out, hk_error *err);
hk_err mcp_fx_logging_tool(mcp_call *c, json_t **out, hk_error *err);

#define MCP_FX_EMPTY "{\"type\":\"object\",\"properties\":{}}"
#define MCP_FIXTURE_MRTR_TOOLS                                                 \
    {"test_missing_capability",                                                \
     "Missing capability",                                                     \
     "Needs the client's sampling capability",                                 \
     MCP_FX_EMPTY,                                                             \
     NULL,                                                                     \
     MCP_TOOL_NO_STRUCTURED,                                                   \
     mcp_fx_missing_capability},                                               \
        {"test_logging_tool",                                                  \
         "Logging (per request level)",                                        \
         "Logs only when the request sets a log level",                        \
         MCP_FX_EMPTY,                                                         \
         NULL,                                                                 \
         MCP_TOOL_NO_STRUCTURED,                                               \
         mcp_fx_logging_tool},                                                 \
        {"test_streaming_elicitation",                                         \
         "Elicitation via input_required",                                     \
         "Asks for input with an input_required result",                       \
         MCP_FX_EMPTY,                                                         \
         NULL,                                                                 \
         MCP_TOOL_NO_STRUCTURED,                                               \
         mcp_fx_streaming_elicitation},                                        \
        {"test_input_required_result_elicitation",                             \
         "MRTR elicitation",                                                   \
         "Elicits user input through an input_required result",                \
         MCP_FX_EMPTY,                                                         \
         NULL,                                                                 \
         MCP_TOOL_NO_STRUCTURED,                                               \
         mcp_fx_mrtr_elicitation},                                             \
        {"test_input_required_result_sampling",                                \
         "MRTR sampling",                                                      \
         "Asks for sampling through an input_required result",                 \
         MCP_FX_EMPTY,                                                         \
         NULL,                                                                 \
         MCP_TOOL_NO_STRUCTURED,                                               \
         mcp_fx_mrtr_sampling},                                                \
        {"test_input_required_result_list_roots",                              \
         "MRTR roots",                                                         \
         "Asks for the client's roots through an input_required result",       \
         MCP_FX_EMPTY,                                                         \
         NULL,                                                                 \
         MCP_TOOL_NO_STRUCTURED,                                               \
         mcp_fx_mrtr_list_roots},                                              \
        {"test_input_required_result_request_state",                           \
         "MRTR request state",                                                 \
         "Round trip carrying requestState",                                   \
         MCP_FX_EMPTY,                                                         \
         NULL,                                                                 \
         MCP_TOOL_NO_STRUCTURED,                                               \
         mcp_fx_mrtr_request_state},                                           \
        {"test_input_required_result_multiple_inputs",                         \
         "MRTR several inputs",                                                \
         "Asks for several inputs at once",                                    \
         MCP_FX_EMPTY,                                                         \
         NULL,                                                                 \
         MCP_TOOL_NO_STRUCTURED,                                               \
         mcp_fx_mrtr_multiple},                                                \
        {"test_input_required_result_multi_round",                             \
         "MRTR several rounds",                                                \
         "Asks for input over two rounds",                                     \
         MCP_FX_EMPTY,                                                         \
         NULL,                                                                 \
         MCP_TOOL_NO_STRUCTURED,                                               \
         mcp_fx_mrtr_multi_round},                                             \
        {"test_input_required_result_tampered_state",                          \
         "MRTR tampered state",                                                \
         "Rejects a requestState it did not issue",                            \
         MCP_FX_EMPTY,                                                         \
         NULL,                                                                 \
         MCP_TOOL_NO_STRUCTURED,                                               \
         mcp_fx_mrtr_tampered},                                                \
    {                                                                          \
        "test_input_required_result_capabilities", "MRTR capabilities",        \
            "Asks only for inputs the client declared", MCP_FX_EMPTY, NULL,    \
            MCP_TOOL_NO_STRUCTURED, mcp_fx_mrtr_capabilities                   \
    }

#endif /* HK_MCP_FIXTURES_H */
