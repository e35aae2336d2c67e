// Latency of the 9 memory tools: the reference MCP memory server
// (@modelcontextprotocol/server-memory, pinned in tests/e2e) against
// `hakgal mcp --profile memory`, both over stdio through the official MCP
// SDK client, on the same memory of N observations, in one run.
//
//   node bench/memory/bench_memory.mjs BIN N [N ...]
//
// The memory has N/10 entities of 10 observations and N/10 relations; it
// is written as the reference's memory file, which the reference reads and
// hakgal takes over (MEMORY_FILE_PATH, imported once). Every tool runs REPS
// times (read_graph fewer times at large N); the median and p90 in
// milliseconds are printed per tool and server, with the ratio of medians.
//
// BENCH_HTTP=1 adds a third column: the same tools over Streamable HTTP at
// /mcp/memory of `hakgal serve` (its own copy of the memory, imported with
// `hakgal import` before the server starts), ratio = reference p50 / http
// p50. The row "search_nodes rank" is the reference's search_nodes against
// hakgal's search_nodes with rank: true (BM25 ordering).
//
// BENCH_BASE=BIN2 adds a column for a second hakgal binary (an anchor
// build, such as the previous release), on its own copy of the memory,
// ratio = BIN2 p50 / hakgal p50.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync, spawn } from 'node:child_process';

const here = path.dirname(fileURLToPath(import.meta.url));
const nm = path.join(here, '../../tests/e2e/node_modules');
const { Client } = await import(path.join(nm, '@modelcontextprotocol/sdk/dist/esm/client/index.js'));
const { StdioClientTransport } = await import(path.join(nm, '@modelcontextprotocol/sdk/dist/esm/client/stdio.js'));
const { StreamableHTTPClientTransport } = await import(path.join(nm, '@modelcontextprotocol/sdk/dist/esm/client/streamableHttp.js'));
const refMain = path.join(nm, '@modelcontextprotocol/server-memory/dist/index.js');

const [bin, ...sizes] = process.argv.slice(2);
if (!bin || sizes.length === 0) {
  console.error('usage: node bench/memory/bench_memory.mjs BIN N [N ...]');
  process.exit(2);
}
const REPS = Number(process.env.BENCH_REPS || 30);
// one call on a 1M-observation memory can take minutes on the reference
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_MS || 1800000);
const tmp = fs.mkdtempSync(path.join(process.env.TMPDIR || '/tmp', 'memory-bench-'));

function writeMemory(file, nObs) {
  const nEnt = Math.max(1, Math.floor(nObs / 10));
  const fd = fs.openSync(file, 'w');
  const lines = [];
  const flush = () => { if (lines.length) { fs.writeSync(fd, lines.join('\n') + '\n'); lines.length = 0; } };
  for (let e = 0; e < nEnt; e++) {
    const obs = [];
    for (let o = 0; o < 10; o++) obs.push(`observation ${o} of entity ${e}: likes topic-${(e * 7 + o) % 997}`);
    lines.push(JSON.stringify({ type: 'entity', name: `entity-${e}`, entityType: `type-${e % 20}`, observations: obs }));
    if (lines.length >= 10000) flush();
  }
  for (let e = 0; e < nEnt; e++) {
    lines.push(JSON.stringify({ type: 'relation', from: `entity-${e}`, to: `entity-${(e * 31 + 1) % nEnt}`, relationType: 'knows' }));
    if (lines.length >= 10000) flush();
  }
  // the reference writes no final newline
  fs.writeSync(fd, lines.join('\n'));
  fs.closeSync(fd);
  return nEnt;
}

async function connect(command, args, env) {
  // read_graph of a large memory is larger than the SDK's default 10 MiB
  const t = new StdioClientTransport({ command, args, env: { PATH: process.env.PATH, ...env }, stderr: 'ignore',
    maxBufferSize: 1 << 30 });
  const c = new Client({ name: 'memory-bench', version: '1.0.0' });
  // a takeover of a large file imports it before answering initialize
  await c.connect(t, { timeout: TIMEOUT_MS });
  return c;
}

// `hakgal serve` on dataDir; resolves to the base URL
function serve(dataDir) {
  const p = spawn(bin, ['serve', '--data', dataDir, '--listen', '127.0.0.1:0', '--threads', '2'],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  return new Promise((resolve, reject) => {
    p.stderr.on('data', (d) => {
      log += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+) /.exec(log);
      if (m) resolve({ proc: p, url: `http://127.0.0.1:${m[1]}/mcp/memory` });
    });
    p.on('exit', (code) => reject(new Error(`serve exited ${code}: ${log}`)));
  });
}

function stats(ms) {
  const s = [...ms].sort((a, b) => a - b);
  return { p50: s[Math.floor(s.length / 2)], p90: s[Math.floor(s.length * 0.9)] };
}

// the calls of one tool, i-th repetition (unique names so writes do work)
function call(tool, i, nEnt) {
  const e = (k) => `entity-${(i * 9973 + k) % nEnt}`;
  switch (tool) {
    case 'create_entities': return { entities: [{ name: `new-${i}`, entityType: 'bench', observations: ['fresh'] }] };
    case 'create_relations': return { relations: [{ from: e(0), to: e(1), relationType: `rel-${i}` }] };
    case 'add_observations': return { observations: [{ entityName: e(2), contents: [`added ${i}`] }] };
    case 'delete_observations': return { deletions: [{ entityName: e(2), observations: [`added ${i}`] }] };
    case 'delete_relations': return { relations: [{ from: e(0), to: e(1), relationType: `rel-${i}` }] };
    case 'delete_entities': return { entityNames: [`new-${i}`] };
    case 'read_graph': return {};
    case 'search_nodes': return { query: `topic-${(i * 13) % 997}:` };
    case 'search_nodes rank': return { query: `topic-${(i * 13) % 997}:`, rank: true };
    case 'open_nodes': return { names: [e(3), e(4)] };
  }
  return {};
}
const TOOLS = ['create_entities', 'create_relations', 'add_observations', 'search_nodes',
  'search_nodes rank', 'open_nodes', 'read_graph', 'delete_observations', 'delete_relations', 'delete_entities'];

for (const n of sizes.map(Number)) {
  const dir = path.join(tmp, `n${n}`);
  fs.mkdirSync(dir);
  const refFile = path.join(dir, 'ref.jsonl');
  const hkFile = path.join(dir, 'hk.jsonl');
  const nEnt = writeMemory(refFile, n);
  fs.copyFileSync(refFile, hkFile);
  const baseBin = process.env.BENCH_BASE;
  let base = null;
  if (baseBin) {
    const baseFile = path.join(dir, 'base.jsonl');
    fs.copyFileSync(refFile, baseFile);
    base = await connect(baseBin, ['mcp', '--profile', 'memory'], { MEMORY_FILE_PATH: baseFile });
  }
  const t0 = Date.now();
  const hk = await connect(bin, ['mcp', '--profile', 'memory'], { MEMORY_FILE_PATH: hkFile });
  const takeover = Date.now() - t0;
  const ref = await connect(process.execPath, [refMain], { MEMORY_FILE_PATH: refFile });
  let http = null;
  let server = null;
  if (process.env.BENCH_HTTP === '1') {
    const kb = path.join(dir, 'http-kb');
    execFileSync(bin, ['--data', kb, 'init'], { stdio: 'ignore' });
    execFileSync(bin, ['--data', kb, 'import', '--format', 'mcp-memory', refFile], { stdio: 'ignore' });
    server = await serve(kb);
    http = new Client({ name: 'memory-bench', version: '1.0.0' });
    await http.connect(new StreamableHTTPClientTransport(new URL(server.url)));
  }
  console.log(`\n${n} observations (${nEnt} entities, ${nEnt} relations); hakgal takeover (import) ${takeover} ms`);
  console.log('tool                  reference p50/p90 ms     hakgal p50/p90 ms     ratio p50' +
    (http ? '     http p50/p90 ms      ratio p50' : '') +
    (base ? '     base p50/p90 ms  base/hakgal' : ''));
  for (const tool of TOOLS) {
    const reps = tool === 'read_graph' && n >= 100000 ? Math.min(5, REPS) : REPS;
    const res = {};
    const clients = [['ref', ref], ['hk', hk]];
    if (http) clients.push(['http', http]);
    if (base) clients.push(['base', base]);
    for (const [name, c] of clients) {
      const ms = [];
      const t = name === 'ref' && tool === 'search_nodes rank' ? 'search_nodes' : tool;
      for (let i = 0; i < reps; i++) {
        const a = performance.now();
        const r = await c.callTool({ name: t.split(' ')[0], arguments: call(t, i, nEnt) }, undefined,
          { timeout: TIMEOUT_MS });
        ms.push(performance.now() - a);
        if (r.isError) throw new Error(`${name} ${tool}: ${r.content[0].text}`);
      }
      res[name] = stats(ms);
    }
    const f = (x) => x.toFixed(2).padStart(9);
    console.log(`${tool.padEnd(20)} ${f(res.ref.p50)} ${f(res.ref.p90)}      ${f(res.hk.p50)} ${f(res.hk.p90)}   ${(res.ref.p50 / res.hk.p50).toFixed(1).padStart(8)}x` +
      (http ? `    ${f(res.http.p50)} ${f(res.http.p90)}   ${(res.ref.p50 / res.http.p50).toFixed(1).padStart(8)}x` : '') +
      (base ? `    ${f(res.base.p50)} ${f(res.base.p90)}   ${(res.base.p50 / res.hk.p50).toFixed(2).padStart(8)}x` : ''));
  }
  await ref.close();
  await hk.close();
  if (base) await base.close();
  if (http) {
    await http.close();
    server.proc.kill('SIGTERM');
    await new Promise((res) => server.proc.on('exit', res));
  }
}
fs.rmSync(tmp, { recursive: true, force: true });
