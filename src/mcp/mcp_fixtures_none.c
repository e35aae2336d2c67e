/*
 * mcp_fixtures_none.c — the empty conformance fixture table of the
 * production `hakgal` binary and of the MCP unit tests.
 *
 * The MCP conformance suite needs test tools (test_sampling, ...) that have
 * no place in a product. They live in mcp_fixtures.c and
 * mcp_fixtures_mrtr.c, which only the test executables link
 * (hakgal-conformance, fuzz_mcp); every other executable links this file
 * instead, so hk_mcp_server_new refuses env.fixtures with a clear message
 * (`hakgal mcp --mcp-conformance-fixtures`, `hakgal serve
 * --mcp-conformance-fixtures`). Read-only data; any thread.
 */
#include "mcp/mcp_int.h"

const mcp_tool_def mcp_fixture_tools[1];
const size_t mcp_n_fixture_tools = 0;
