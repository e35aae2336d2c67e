/*
 * mcp_fixtures_none.c — the empty conformance fixture table of the
 * production `hakgal` binary and of the MCP unit tests.
 *
 * The MCP conformance suite needs test tools (test_sampling, ...),
 * resources and prompts that have no place in a product. They live in
 * mcp_fixtures.c, mcp_fixtures_mrtr.c and mcp_fixtures_catalog.c, which only
 * the test executables link (hakgal-conformance, fuzz_mcp); every other
 * executable links this file instead, so hk_mcp_server_new refuses env.fixtures
 * with a clear message
 * (`hakgal mcp --mcp-conformance-fixtures`, `hakgal serve
 * --mcp-conformance-fixtures`). Read-only data; any thread.
 */
#include "mcp/mcp_int.h"

const mcp_tool_def mcp_fixture_tools[1];
const size_t mcp_n_fixture_tools = 0;

/* No fixture resources, templates or prompts (mcp_fixtures_catalog.c). */
void mcp_fixture_resources_list(json_t *a)
{
    (void)a;
}
void mcp_fixture_templates_list(json_t *a)
{
    (void)a;
}
void mcp_fixture_prompts_list(json_t *a)
{
    (void)a;
}

hk_err mcp_fixture_resource_read(const char *uri, json_t **contents,
                                 hk_error *err)
{
    (void)uri;
    (void)contents;
    (void)err;
    return HK_ERR_NOT_FOUND;
}

hk_err mcp_fixture_prompt_get(const char *name, json_t *args,
                              json_t *input_responses, json_t *client_caps,
                              bool stateless, json_t **result, hk_error *err)
{
    (void)name;
    (void)args;
    (void)input_responses;
    (void)client_caps;
    (void)stateless;
    (void)result;
    (void)err;
    return HK_ERR_NOT_FOUND;
}

bool mcp_fixture_completes(const char *name)
{
    (void)name;
    return false;
}
