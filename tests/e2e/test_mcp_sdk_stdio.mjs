// End-to-end: the official MCP TypeScript SDK as the client of
// `hakgal mcp` over stdio (normal mode, no fixtures). Lists the 30 tools
// through cursor pages, validates their schemas, calls every tool with
// valid arguments and checks the results against the KB (and with the
// CLI after the session), and checks the error rules.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CreateMessageRequestSchema, ElicitRequestSchema, LoggingMessageNotificationSchema, ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import * as lib from './mcp_client_lib.mjs';

const bin = process.env.HAKGAL_BIN;
assert.ok(bin, 'HAKGAL_BIN must name the hakgal binary');
// the test build with the conformance fixtures (section 3)
const fixturesBin = process.env.HAKGAL_CONFORMANCE_BIN;
assert.ok(fixturesBin, 'HAKGAL_CONFORMANCE_BIN must name hakgal-conformance');
const root = path.join(process.env.HK_TEST_TMP || '/tmp', `mcp-sdk-stdio-${process.pid}`);
fs.rmSync(root, { recursive: true, force: true });
fs.mkdirSync(root, { recursive: true });
const dataDir = path.join(root, 'kb');
const hubDir = path.join(root, 'hub');
fs.mkdirSync(hubDir);
const token = 'stdio-write-token-1234';

async function connect(extraArgs = [], env = {}) {
  const transport = new StdioClientTransport({
    command: bin,
    args: ['mcp', '--data', dataDir, '--allow-dir', hubDir, '--page-size', '7', ...extraArgs],
    env: { PATH: process.env.PATH, ...env },
    stderr: 'pipe',
  });
  const client = new Client({ name: 'hakgal-e2e', version: '1.0.0' });
  await client.connect(transport);
  return { client, transport };
}

try {
  // 1. normal session with a write token
  {
    const { client } = await connect(['--write-token', token]);
    const v = client.getServerVersion();
    lib.eq(v.name, 'hakgal', 'server name');
    lib.ok(client.getServerCapabilities().tools, 'tools capability');
    const { pages } = await lib.listAllTools(client);
    lib.ok(pages === 8, `56 tools in pages of 7 (${pages} pages)`);
    await lib.exerciseAllTools(client, { bin, dataDir, token, hubDir, stdio: true });

    // resources, templates, prompts, completion
    const res = await client.listResources();
    lib.ok(res.resources.some((r) => r.uri === 'hakgal://stats'), 'stats resource');
    const tpl = await client.listResourceTemplates();
    lib.ok(tpl.resourceTemplates.some((t) => t.uriTemplate === 'hakgal://entity/{name}'), 'entity template');
    const ent = await client.readResource({ uri: 'hakgal://entity/France' });
    lib.eq(JSON.parse(ent.contents[0].text).total, 2, 'entity resource facts');
    const stats = JSON.parse((await client.readResource({ uri: 'hakgal://stats' })).contents[0].text);
    lib.ok(stats.facts > 0, 'stats resource');
    await lib.expectRpcError(client.readResource({ uri: 'hakgal://entity/NoSuchThing' }), -32002, 'unknown resource');
    const prompts = await client.listPrompts();
    lib.eq(prompts.prompts.map((p) => p.name).sort(), ['check_claim', 'explain_entity'], 'prompts');
    const pr = await client.getPrompt({ name: 'explain_entity', arguments: { entity: 'France' } });
    lib.ok(pr.messages[0].content.text.includes('HasCapital(France, Paris)'), 'prompt embeds facts');
    const cl = await client.getPrompt({ name: 'check_claim', arguments: { claim: 'The capital of France is Paris' } });
    lib.ok(cl.messages[0].content.text.includes('HasCapital(France, Paris)'), 'claim prompt embeds search hits');
    const comp = await client.complete({ ref: { type: 'ref/prompt', name: 'explain_entity' }, argument: { name: 'entity', value: 'Fr' } });
    lib.eq(comp.completion.values, ['France'], 'entity completion');
    const comp2 = await client.complete({ ref: { type: 'ref/resource', uri: 'hakgal://predicate/{name}' }, argument: { name: 'name', value: 'Has' } });
    lib.ok(comp2.completion.values.includes('HasCapital'), 'predicate completion');
    // subscriptions: a write announces the subscribed KB resources
    const updates = [];
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => updates.push(n.params.uri));
    await client.subscribeResource({ uri: 'hakgal://stats' });
    await client.callTool({ name: 'add_fact', arguments: { statement: 'Subscribed(Update)', auth_token: token } });
    for (let i = 0; i < 50 && !updates.length; i++) await new Promise((r) => setTimeout(r, 20));
    lib.eq(updates, ['hakgal://stats'], 'resources/updated after a write');
    await client.unsubscribeResource({ uri: 'hakgal://stats' });
    await client.callTool({ name: 'kb_stats', arguments: {} });
    await client.callTool({ name: 'add_fact', arguments: { statement: 'Unsubscribed(Update)', auth_token: token } });
    await new Promise((r) => setTimeout(r, 100));
    lib.eq(updates.length, 1, 'no update after unsubscribe');
    // logging: nothing before logging/setLevel, then notices and warnings
    const logs = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => logs.push(n.params));
    lib.eq(logs.length, 0, 'no log messages before setLevel');
    await client.setLoggingLevel('notice');
    await client.callTool({ name: 'add_fact', arguments: { statement: 'Logged(Write)', auth_token: token } });
    await client.callTool({ name: 'delete_fact', arguments: { statement: 'Never(There)', auth_token: token } });
    for (let i = 0; i < 50 && logs.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    lib.ok(logs.some((l) => l.level === 'notice' && /add_fact changed the knowledge base \(actor mcp\)/.test(l.data)), 'write logged');
    lib.ok(logs.some((l) => l.level === 'warning' && /delete_fact failed/.test(l.data)), 'failure logged');
    await client.setLoggingLevel('error');
    const before = logs.length;
    await client.callTool({ name: 'add_fact', arguments: { statement: 'Quiet(Write)', auth_token: token } });
    await new Promise((r) => setTimeout(r, 100));
    lib.eq(logs.length, before, 'level error filters notices');
    await client.ping();
    await client.close();
  }
  // 2. without a write token: writes refused, reads work
  {
    const { client } = await connect();
    const r = await client.callTool({ name: 'add_fact', arguments: { statement: 'New(Fact)', auth_token: token } });
    lib.ok(r.isError && /writes are disabled/.test(r.content[0].text), 'writes disabled without configured token');
    const s = await client.callTool({ name: 'kb_stats', arguments: {} });
    lib.ok(!s.isError && s.structuredContent.facts > 0, 'reads work without token');
    await client.close();
  }
  // 3. fixtures mode: sampling and elicitation round trips over stdio
  {
    const transport = new StdioClientTransport({
      command: fixturesBin, args: ['mcp', '--data', dataDir, '--mcp-conformance-fixtures'],
      env: { PATH: process.env.PATH }, stderr: 'pipe' });
    const client = new Client({ name: 'hakgal-e2e', version: '1.0.0' },
      { capabilities: { sampling: {}, elicitation: {} } });
    client.setRequestHandler(CreateMessageRequestSchema, async (req) => ({
      role: 'assistant', model: 'test', content: { type: 'text', text: `echo ${req.params.messages[0].content.text}` } }));
    client.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'accept', content: { response: 'yes' } }));
    await client.connect(transport);
    const { tools } = await lib.listAllTools(client);
    lib.ok(tools.length > 30 && tools.some((t) => t.name === 'test_sampling'), 'fixtures listed in fixtures mode');
    const smp = await client.callTool({ name: 'test_sampling', arguments: { prompt: 'ping' } });
    lib.eq(smp.content[0].text, 'LLM response: echo ping', 'sampling round trip over stdio');
    const eli = await client.callTool({ name: 'test_elicitation', arguments: { message: 'ok?' } });
    lib.eq(eli.content[0].text, 'User response: action=accept, content={"response":"yes"}', 'elicitation round trip over stdio');
    await client.close();
  }
  // 4. the KB after the sessions, through the CLI
  const out = JSON.parse(lib.cli(bin, ['stats', '--data', dataDir, '--json']));
  lib.ok(out.facts > 0, 'CLI sees the facts written over MCP');
  const got = JSON.parse(lib.cli(bin, ['get', 'HasCapital(France, Paris)', '--data', dataDir, '--json']));
  lib.eq(got.source, 'e2e', 'source stored');
  lib.eq(got.tags, ['t1'], 'tags stored');
  console.log(`${lib.passed} passed, 0 failed`);
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
