// End-to-end, differential: the memory profile over Streamable HTTP at
// /mcp/memory on `hakgal serve`, driven by the official SDK's
// StreamableHTTPClientTransport, against the reference MCP memory server
// (@modelcontextprotocol/server-memory over stdio) with the same seeded
// random sequences of tool calls as test_mcp_memory_diff.mjs (duplicates
// inside one call included): every result
// and the final read_graph must be equal. Then auth: a server with tokens
// refuses memory writes without a write bearer and records the bearer's
// name as the writer; sessions of /mcp and /mcp/memory are separate.
// Also: search_nodes with rank: true returns the reference's entities.
//
// HK_MEMORY_SEED picks the seed; HK_MEMORY_STEPS the calls.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { randomCaller, rng, shape } from './mcp_memory_random.mjs';

const bin = process.env.HAKGAL_BIN;
assert.ok(bin, 'HAKGAL_BIN must name the hakgal binary');
const here = path.dirname(fileURLToPath(import.meta.url));
const refMain = path.join(here, 'node_modules/@modelcontextprotocol/server-memory/dist/index.js');
if (!fs.existsSync(refMain)) {
  console.log('SKIP: reference server not installed (bash scripts/test-setup.sh)');
  process.exit(77);
}
const root = path.join(process.env.HK_TEST_TMP || '/tmp', `mcp-memory-http-${process.pid}`);
fs.rmSync(root, { recursive: true, force: true });
fs.mkdirSync(root, { recursive: true });

const servers = [];
function startServer(dataDir, extra = []) {
  const server = spawn(bin, ['serve', '--data', dataDir, '--listen', '127.0.0.1:0', '--threads', '2', ...extra], {
    stdio: ['ignore', 'ignore', 'pipe'],
    // libh2o's own leaks at exit (see the file); ours are reported
    env: { ...process.env, LSAN_OPTIONS: `suppressions=${path.join(here, 'test_server_lsan.supp')}:print_suppressions=0` },
  });
  servers.push(server);
  let log = '';
  server.log = () => log;
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`server did not start: ${log}`)), 10000);
    server.stderr.on('data', (d) => {
      log += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+) /.exec(log);
      if (m) {
        clearTimeout(t);
        resolve(`http://127.0.0.1:${m[1]}`);
      }
    });
    server.on('exit', (code) => reject(new Error(`server exited ${code}: ${log}`)));
  });
}

async function connectHttp(url, headers = {}) {
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
  const client = new Client({ name: 'memory-http', version: '1.0.0' });
  await client.connect(transport);
  return { client, transport };
}
async function connectRef(file) {
  const transport = new StdioClientTransport({
    command: process.execPath, args: [refMain],
    env: { PATH: process.env.PATH, MEMORY_FILE_PATH: file }, stderr: 'ignore',
  });
  const client = new Client({ name: 'memory-http', version: '1.0.0' });
  await client.connect(transport);
  return client;
}

const NAMES = ['Alice', 'bob', 'BOB', 'Ünïcødé 名前', '', 'Ωμέγα', 'Привет мир',
  ' leading space', 'a, b (c)', '%41 percent', 'tab\there', 'emoji 🎉', 'x', 'ÀÉÎ',
  'quote "q"', 'back\\slash'];
const TYPES = ['person', 'Person', '', 'ort', 'Λέξη'];
const OBS = ['likes tea', 'LIKES TEA', '', 'ünïcødé', 'line\nbreak', 'ctrl\u0001char',
  '%', '%%41', 'x', '東京', 'a"b', 'Привет'];
const RELS = ['knows', 'works at', '', 'κοντά'];
const QUERIES = ['', 'a', 'ALICE', 'tea', 'ωμέγα', 'ПРИВЕТ', 'nothing-here', '%', 'x'];
const randomCall = randomCaller({ NAMES, TYPES, OBS, RELS, QUERIES });

let failures = 0;
try {
  // 1. an open loopback server: same listing names, same answers
  {
    const base = await startServer(path.join(root, 'kb-open'));
    const ref = await connectRef(path.join(root, 'ref.jsonl'));
    const { client: hk, transport } = await connectHttp(`${base}/mcp/memory`);
    assert.match(transport.sessionId, /^[0-9a-f]{32}$/);
    const names = (t) => t.tools.map((x) => x.name).sort();
    assert.deepEqual(names(await hk.listTools()), names(await ref.listTools()));
    const seed = Number(process.env.HK_MEMORY_SEED || 20261205);
    const steps = Number(process.env.HK_MEMORY_STEPS || 300);
    const r = rng(seed);
    const t0 = Date.now();
    for (let i = 0; i < steps; i++) {
      const call = randomCall(r);
      const a = shape(await ref.callTool(call));
      const b = shape(await hk.callTool(call));
      try {
        assert.deepEqual(b, a);
      } catch (e) {
        console.error(`seed ${seed} step ${i}: ${JSON.stringify(call)}`);
        throw e;
      }
    }
    const ga = shape(await ref.callTool({ name: 'read_graph', arguments: {} }));
    const gb = shape(await hk.callTool({ name: 'read_graph', arguments: {} }));
    assert.deepEqual(gb, ga, 'final read_graph');
    // opt-in ranking: the reference's entities and relations, reordered
    const key = (x) => JSON.stringify(x);
    for (const query of QUERIES) {
      const want = (await ref.callTool({ name: 'search_nodes', arguments: { query } })).structuredContent;
      const got = (await hk.callTool({ name: 'search_nodes', arguments: { query, rank: true } })).structuredContent;
      assert.deepEqual(got.entities.map(key).sort(), want.entities.map(key).sort(), `rank ${query}: entities`);
      assert.deepEqual(got.relations.map(key).sort(), want.relations.map(key).sort(), `rank ${query}: relations`);
    }
    const mixed = await hk.callTool({ name: 'search_nodes', arguments: { query: 'a', rank: true, limit: 2 } });
    assert.equal(mixed.isError, true, 'rank with limit is refused');
    const pv = (await hk.callTool({ name: 'open_nodes', arguments: { names: NAMES, provenance: true } })).structuredContent;
    for (const e of pv.entities) assert.equal(e.provenance.createdBy, 'mcp-memory', 'open server: actor mcp-memory');
    console.log(`http: ${steps} calls equal to the reference in ${Date.now() - t0} ms, final graph ` +
      `${ga.structuredContent.entities.length} entities, ${ga.structuredContent.relations.length} relations`);
    // the KB tools stay at /mcp; a memory session id is unknown there
    const { client: kb } = await connectHttp(`${base}/mcp`);
    assert.ok((await kb.listTools()).tools.some((t) => t.name === 'add_fact'));
    const cross = await fetch(`${base}/mcp`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
        'Mcp-Session-Id': transport.sessionId, 'MCP-Protocol-Version': '2025-11-25' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    assert.equal(cross.status, 404, 'a /mcp/memory session is unknown at /mcp');
    const api = await (await fetch(`${base}/openapi.json`)).json();
    assert.ok(api.paths['/mcp/memory'] && api.paths['/mcp/memory'].post, 'OpenAPI lists /mcp/memory');
    const deeper = await fetch(`${base}/mcp/memory/x`, { method: 'POST', body: '{}' });
    assert.equal(deeper.status, 404, '/mcp/memory/x is not an endpoint');
    await kb.close();
    await transport.terminateSession();
    await hk.close();
    await ref.close();
  }

  // 2. a server with tokens: memory writes need a write bearer
  {
    const writer = 'writer-secret-0123456789';
    const reader = 'reader-secret-0123456789';
    const sha = (s) => createHash('sha256').update(s).digest('hex');
    const tokens = path.join(root, 'tokens');
    fs.writeFileSync(tokens, `alice write ${sha(writer)}\nbob read ${sha(reader)}\n`);
    const base = await startServer(path.join(root, 'kb-auth'), ['--tokens', tokens]);
    const url = `${base}/mcp/memory`;
    const create = { name: 'create_entities', arguments: { entities: [{ name: 'Ada', entityType: 'person', observations: ['math'] }] } };
    const { client: rd } = await connectHttp(url, { Authorization: `Bearer ${reader}` });
    const refused = await rd.callTool(create);
    assert.equal(refused.isError, true, 'a read token cannot write memory');
    assert.match(refused.content[0].text, /needs a write token/);
    const { client: wr } = await connectHttp(url, { Authorization: `Bearer ${writer}` });
    const made = await wr.callTool(create);
    assert.notEqual(made.isError, true);
    assert.deepEqual(made.structuredContent.entities, create.arguments.entities);
    const seen = (await rd.callTool({ name: 'open_nodes', arguments: { names: ['Ada'], provenance: true } })).structuredContent;
    assert.equal(seen.entities.length, 1, 'a read token reads memory');
    assert.equal(seen.entities[0].provenance.createdBy, 'alice', 'the bearer is the writer');
    // reads need no token unless the server asks for read tokens
    const { client: anon } = await connectHttp(url);
    assert.equal((await anon.callTool({ name: 'read_graph', arguments: {} })).structuredContent.entities.length, 1);
    const anonWrite = await anon.callTool({ name: 'delete_entities', arguments: { entityNames: ['Ada'] } });
    assert.equal(anonWrite.isError, true, 'no token: memory writes refused');
    assert.equal((await rd.callTool({ name: 'read_graph', arguments: {} })).structuredContent.entities.length, 1);
    const bad = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
        Authorization: 'Bearer not-a-token' },
      body: '{}',
    });
    assert.equal(bad.status, 401, 'an unknown bearer: 401');
    console.log('auth: read token and no token cannot write, write bearer recorded as writer, unknown bearer 401');
    await anon.close();
    await rd.close();
    await wr.close();
  }
} catch (e) {
  failures++;
  console.error(e);
}
// a clean stop: exit status 0 (under the sanitizers, also no leak report)
for (const s of servers) s.kill('SIGTERM');
await Promise.all(servers.map((s) => (s.exitCode !== null ? null : new Promise((res) => s.on('exit', res)))));
for (const s of servers) {
  if (s.exitCode !== 0) {
    failures++;
    console.error(`server exited ${s.exitCode} (${s.signalCode}) after SIGTERM: ${s.log().slice(-2000)}`);
  }
}
fs.rmSync(root, { recursive: true, force: true });
process.exit(failures ? 1 : 0);
