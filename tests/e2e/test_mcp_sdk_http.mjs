// End-to-end: the official MCP TypeScript SDK as the client of /mcp on
// `hakgal serve` (Streamable HTTP, normal mode). Runs the 30-tool suite of
// mcp_client_lib.mjs (writes authorised by the legacy auth_token argument),
// then bearer auth, 401/403 answers, concurrent sessions, DELETE, GET
// streams and stateless 2026-07-28 requests.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import * as lib from './mcp_client_lib.mjs';

const bin = process.env.HAKGAL_BIN;
assert.ok(bin, 'HAKGAL_BIN must name the hakgal binary');
const root = path.join(process.env.HK_TEST_TMP || '/tmp', `mcp-sdk-http-${process.pid}`);
fs.rmSync(root, { recursive: true, force: true });
fs.mkdirSync(root, { recursive: true });
const dataDir = path.join(root, 'kb');
const hubDir = path.join(root, 'hub');
fs.mkdirSync(hubDir);
const writer = 'writer-secret-0123456789';
const reader = 'reader-secret-0123456789';
const sha = (s) => createHash('sha256').update(s).digest('hex');
fs.writeFileSync(path.join(root, 'tokens'), `alice write ${sha(writer)}\nbob read ${sha(reader)}\n`);

let server;
async function startServer() {
  server = spawn(bin, ['serve', '--data', dataDir, '--listen', '127.0.0.1:0', '--threads', '2',
    '--tokens', path.join(root, 'tokens')], {
    env: { ...process.env, HAKGAL_MCP_ALLOW_DIRS: hubDir },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`server did not start: ${log}`)), 10000);
    server.stderr.on('data', (d) => {
      log += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+) /.exec(log);
      if (m) {
        clearTimeout(t);
        resolve(`http://127.0.0.1:${m[1]}/mcp`);
      }
    });
    server.on('exit', (code) => reject(new Error(`server exited ${code}: ${log}`)));
  });
}

async function connect(url, headers = {}) {
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
  const client = new Client({ name: 'hakgal-e2e-http', version: '1.0.0' });
  await client.connect(transport);
  return { client, transport };
}

async function post(url, body, headers = {}) {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* SSE or empty */ }
  return { status: r.status, headers: r.headers, text, json };
}

try {
  const url = await startServer();

  // 1. the 30 tools through the SDK, legacy auth_token for writes
  {
    const { client, transport } = await connect(url);
    lib.ok(transport.sessionId && /^[0-9a-f]{32}$/.test(transport.sessionId), 'session id');
    await lib.exerciseAllTools(client, { bin, dataDir, token: writer, hubDir, stdio: false });
    const r = await client.callTool({ name: 'add_fact', arguments: { statement: 'X(Y)', auth_token: reader } });
    lib.ok(r.isError && /not a valid write token/.test(r.content[0].text), 'read token cannot write');
    await transport.terminateSession();
    await client.close();
  }
  // 2. bearer auth: a write token in Authorization authorises writes
  {
    const { client } = await connect(url, { Authorization: `Bearer ${writer}` });
    const r = await client.callTool({ name: 'add_fact', arguments: { statement: 'Bearer(Works)' } });
    lib.ok(!r.isError && r.structuredContent.created, 'bearer write');
    const au = await client.callTool({ name: 'list_audit', arguments: { limit: 1 } });
    lib.eq(au.structuredContent.entries[0].actor, 'alice', 'audit actor is the token name');
    // subscriptions: the update arrives on the session's GET stream
    const updates = [];
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => updates.push(n.params.uri));
    await client.subscribeResource({ uri: 'hakgal://entity/Bearer' });
    await new Promise((r) => setTimeout(r, 300)); // the SDK opens its GET stream
    await client.callTool({ name: 'add_fact', arguments: { statement: 'Bearer(Again)' } });
    for (let i = 0; i < 100 && !updates.length; i++) await new Promise((r) => setTimeout(r, 20));
    lib.eq(updates, ['hakgal://entity/Bearer'], 'resources/updated on the GET stream');
    // a write made outside MCP (REST) is announced too, once
    const rest = await fetch(url.replace(/\/mcp$/, '/v2/facts'), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${writer}` },
      body: JSON.stringify({ statement: 'Bearer(Rest)' }),
    });
    lib.eq(rest.status, 201, 'REST write');
    for (let i = 0; i < 150 && updates.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 600)); // no second announcement
    lib.eq(updates, ['hakgal://entity/Bearer', 'hakgal://entity/Bearer'], 'resources/updated after a REST write');
    await client.close();
  }
  {
    const { client } = await connect(url, { Authorization: `Bearer ${reader}` });
    const r = await client.callTool({ name: 'add_fact', arguments: { statement: 'Reader(Cannot)' } });
    lib.ok(r.isError && /write token/.test(r.content[0].text), 'read bearer cannot write');
    await client.close();
  }
  // 3. raw HTTP rules
  const init = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };
  const bad = await post(url, init, { Authorization: 'Bearer nope' });
  lib.eq(bad.status, 401, 'unknown bearer token: 401');
  lib.ok(/^Bearer/.test(bad.headers.get('www-authenticate') || ''), 'WWW-Authenticate on 401');
  const evil = await post(url, init, { Origin: 'http://evil.example.com' });
  lib.eq(evil.status, 403, 'foreign Origin: 403');
  const evilHost = await new Promise((resolve, reject) => {
    const u = new URL(url);
    const rq = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST',
      headers: { Host: 'evil.example.com', 'Content-Type': 'application/json' } }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    rq.on('error', reject);
    rq.end(JSON.stringify(init));
  });
  lib.eq(evilHost, 403, 'foreign Host: 403');
  const noSession = await post(url, { jsonrpc: '2.0', id: 2, method: 'tools/list' });
  lib.eq(noSession.status, 400, 'request without session: 400');
  const unknown = await post(url, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { 'Mcp-Session-Id': 'ffffffffffffffffffffffffffffffff' });
  lib.eq(unknown.status, 404, 'unknown session: 404');
  const parse = await post(url, '{oops');
  lib.ok(parse.status === 400 && parse.json.error.code === -32700, 'parse error: 400 -32700');
  const batch = await post(url, [init]);
  lib.ok(batch.status === 400 && batch.json.error.code === -32600, 'batch: 400 -32600');
  const ok1 = await post(url, init);
  const sid = ok1.headers.get('mcp-session-id');
  lib.ok(ok1.status === 200 && sid, 'raw initialize');
  const note = await post(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, { 'Mcp-Session-Id': sid });
  lib.eq(note.status, 202, 'notification: 202');
  const get = await fetch(url, { headers: { Accept: 'text/event-stream', 'Mcp-Session-Id': sid } });
  lib.ok(get.status === 200 && get.headers.get('content-type').startsWith('text/event-stream'), 'GET opens an SSE stream');
  const reader1 = get.body.getReader();
  const first = new TextDecoder().decode((await reader1.read()).value);
  lib.ok(first.startsWith(':'), 'stream starts with a comment');
  const del = await fetch(url, { method: 'DELETE', headers: { 'Mcp-Session-Id': sid } });
  lib.eq(del.status, 200, 'DELETE ends the session');
  // the GET stream ends with the session (ticker)
  const end = await Promise.race([reader1.read(), new Promise((r) => setTimeout(() => r('timeout'), 5000))]);
  lib.ok(end !== 'timeout' && end.done, 'GET stream closed after DELETE');
  const after = await post(url, { jsonrpc: '2.0', id: 3, method: 'tools/list' }, { 'Mcp-Session-Id': sid });
  lib.eq(after.status, 404, 'ended session: 404');
  // 4. stateless 2026-07-28
  const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };
  const h26 = { 'MCP-Protocol-Version': '2026-07-28' };
  const disc = await post(url, { jsonrpc: '2.0', id: 4, method: 'server/discover', params: { _meta: meta } }, { ...h26, 'Mcp-Method': 'server/discover' });
  lib.ok(disc.status === 200 && disc.json.result.supportedVersions.includes('2026-07-28'), 'discover');
  const tl = await post(url, { jsonrpc: '2.0', id: 5, method: 'tools/list', params: { _meta: meta } }, { ...h26, 'Mcp-Method': 'tools/list' });
  lib.ok(tl.json.result.tools.length === lib.TOOL_NAMES.length && tl.json.result.resultType === 'complete' && tl.json.result.ttlMs >= 0, 'stateless tools/list, no fixtures in normal mode');
  const call = await post(url, { jsonrpc: '2.0', id: 6, method: 'tools/call', params: { name: 'kb_stats', arguments: {}, _meta: meta } },
    { ...h26, 'Mcp-Method': 'tools/call', 'Mcp-Name': 'kb_stats' });
  lib.ok(call.status === 200 && call.json.result.structuredContent.facts > 0 && call.json.result.resultType === 'complete', 'stateless tools/call');
  const mism = await post(url, { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'kb_stats', arguments: {}, _meta: meta } },
    { ...h26, 'Mcp-Method': 'tools/call', 'Mcp-Name': 'other' });
  lib.ok(mism.status === 400 && mism.json.error.code === -32020, 'Mcp-Name mismatch: 400 -32020');
  const ping26 = await post(url, { jsonrpc: '2.0', id: 8, method: 'ping', params: { _meta: meta } }, { ...h26, 'Mcp-Method': 'ping' });
  lib.ok(ping26.status === 404 && ping26.json.error.code === -32601, 'removed method: 404 -32601');
  // 5. concurrent sessions: 8 clients write and read at once
  const clients = await Promise.all(Array.from({ length: 8 }, () => connect(url, { Authorization: `Bearer ${writer}` })));
  lib.eq(new Set(clients.map((c) => c.transport.sessionId)).size, 8, 'distinct sessions');
  await Promise.all(clients.map(async ({ client }, i) => {
    for (let k = 0; k < 10; k++) {
      const r = await client.callTool({ name: 'add_fact', arguments: { statement: `Concurrent(c${i}, n${k})` } });
      assert.ok(!r.isError && r.structuredContent.created);
      const s = await client.callTool({ name: 'query_related', arguments: { entity: `c${i}` } });
      assert.equal(s.structuredContent.total, k + 1);
    }
  }));
  lib.ok(true, '80 concurrent writes read back in order per session');
  const st = await clients[0].client.callTool({ name: 'search_by_predicate', arguments: { predicate: 'Concurrent', limit: 1000 } });
  lib.eq(st.structuredContent.total, 80, 'all concurrent writes committed');
  await Promise.all(clients.map(({ client }) => client.close()));
  // 6. SIGTERM with a session's GET stream open: the server stops quickly
  const raw = await post(url, init);
  const sid2 = raw.headers.get('mcp-session-id');
  const open = await fetch(url, { headers: { Accept: 'text/event-stream', 'Mcp-Session-Id': sid2 } });
  const rd = open.body.getReader();
  await rd.read();
  const t0 = Date.now();
  const exited = new Promise((r) => {
    const tm = setTimeout(r, 30000);
    server.on('exit', () => { clearTimeout(tm); r(); });
  });
  server.kill('SIGTERM');
  // The open stream must be ended by the server promptly; the process exit
  // itself may take longer in sanitizer builds (leak check at exit).
  const streamEnd = (async () => {
    try { for (;;) { const { done } = await rd.read(); if (done) return; } } catch { /* reset = ended */ }
  })();
  let raceTimer;
  await Promise.race([streamEnd, new Promise((r) => { raceTimer = setTimeout(r, 10000); })]);
  clearTimeout(raceTimer);
  const tStream = Date.now() - t0;
  lib.ok(tStream < 5000, `server ended the open stream within 5 s of SIGTERM (${tStream} ms)`);
  await exited;
  console.log(`shutdown: stream ended after ${tStream} ms, process exited after ${Date.now() - t0} ms`);
  lib.ok(server.exitCode !== null || server.signalCode !== null, `server exited after SIGTERM (${Date.now() - t0} ms)`);
  console.log(`${lib.passed} passed, 0 failed`);
} finally {
  if (server && server.exitCode === null && server.signalCode === null) {
    server.kill('SIGTERM');
    await new Promise((r) => { server.on('exit', r); setTimeout(r, 10000); });
  }
  fs.rmSync(root, { recursive: true, force: true });
}
