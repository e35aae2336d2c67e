// End-to-end: W3C trace context on gRPC. @grpc/grpc-js calls `hakgal serve
// --grpc-listen` with `traceparent`/`tracestate` in the call metadata, and
// a local OTLP/HTTP receiver collects what the server exports. Checks: the
// call's span (kind SERVER, named "hakgal.v2.Hakgal/Method", rpc.*
// attributes and the gRPC status code) continues the caller's trace (trace
// id, parent span id, tracestate); the service layer's spans (query.plan,
// query.execute) and a write's spans (write.apply) are its children; a call
// without traceparent, or with a bad one, is a root; an unsampled one
// exports nothing.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';

const bin = process.env.HAKGAL_BIN;
assert.ok(bin, 'HAKGAL_BIN must name the hakgal binary');
const src = process.env.HK_SOURCE_DIR || path.resolve(import.meta.dirname, '../..');
const tmp = path.join(process.env.HK_TEST_TMP || '/tmp', `grpc-trace-${process.pid}`);
fs.rmSync(tmp, { recursive: true, force: true });
fs.mkdirSync(tmp, { recursive: true });

// OTLP/JSON (ids in lower-case hex), flattened to one list of spans.
const spans = [];
const rcv = http.createServer((req, res) => {
  let body = '';
  req.on('data', (d) => { body += d; });
  req.on('end', () => {
    for (const rs of JSON.parse(body).resourceSpans || [])
      for (const ss of rs.scopeSpans || [])
        for (const s of ss.spans || []) {
          s.attrs = Object.fromEntries((s.attributes || []).map((a) => [a.key, a.value.stringValue ?? a.value.intValue]));
          spans.push(s);
        }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{}');
  });
});
await new Promise((r) => rcv.listen(0, '127.0.0.1', r));

const server = spawn(bin, ['serve', '--data', path.join(tmp, 'kb'), '--listen', '127.0.0.1:0', '--threads', '2',
  '--grpc-listen', '127.0.0.1:0', '--grpc-threads', '2'], {
  env: {
    ...process.env,
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${rcv.address().port}`,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', // the receiver below reads JSON
    OTEL_BSP_SCHEDULE_DELAY: '100',
    LSAN_OPTIONS: `suppressions=${path.join(src, 'tests/e2e/test_server_lsan.supp')}:print_suppressions=0`,
  },
  stdio: ['ignore', 'ignore', 'pipe'],
});
let log = '';
const grpcPort = await new Promise((resolve, reject) => {
  const t = setTimeout(() => reject(new Error(`server did not start: ${log}`)), 20000);
  server.stderr.on('data', (d) => {
    log += d;
    const g = /gRPC on 127\.0\.0\.1:(\d+) /.exec(log);
    if (g) { clearTimeout(t); resolve(g[1]); }
  });
  server.on('exit', (code) => reject(new Error(`server exited ${code}: ${log}`)));
});

const def = protoLoader.loadSync(['hakgal/v2/hakgal.proto'], {
  includeDirs: [path.join(src, 'proto')], longs: String, enums: String, defaults: true,
});
const pkg = grpc.loadPackageDefinition(def);
const client = new pkg.hakgal.v2.Hakgal(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure());
const hex = (n) => Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join('');
function md(tp, ts) {
  const m = new grpc.Metadata();
  if (tp) m.set('traceparent', tp);
  if (ts) m.set('tracestate', ts);
  return m;
}
const unary = (method, req, m) => new Promise((resolve) =>
  client[method](req, m, (err, res) => resolve({ err, res })));
function stream(method, req, m) {
  return new Promise((resolve) => {
    const out = [];
    const call = client[method](req, m);
    call.on('data', (d) => out.push(d));
    call.on('error', (err) => resolve({ err, out }));
    call.on('end', () => resolve({ err: null, out }));
  });
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function waitFor(pred, what) {
  for (let i = 0; i < 200; i++) { const v = pred(); if (v) return v; await sleep(50); }
  assert.fail(`timed out waiting for ${what}; spans: ${JSON.stringify(spans.map((s) => [s.name, s.traceId]))}`);
}
let ok = 0;
const pass = (what) => { ok++; console.log(`ok ${ok} - ${what}`); };

try {
  // 1. A write with traceparent and tracestate.
  const tW = hex(32), pW = hex(16);
  let r = await unary('AddFact', { fact: { statement: 'IsA(Socrates, Human)' } }, md(`00-${tW}-${pW}-01`, 'vendor=7,other=x'));
  assert.ifError(r.err);
  const wSpan = await waitFor(() => spans.find((s) => s.traceId === tW && s.name === 'hakgal.v2.Hakgal/AddFact'), 'AddFact span');
  assert.equal(wSpan.parentSpanId, pW, 'parent is the caller span');
  assert.equal(wSpan.kind, 2, 'kind SERVER');
  assert.equal(wSpan.traceState, 'vendor=7,other=x', 'tracestate kept');
  assert.equal(wSpan.attrs['rpc.system'], 'grpc');
  assert.equal(wSpan.attrs['rpc.service'], 'hakgal.v2.Hakgal');
  assert.equal(wSpan.attrs['rpc.method'], 'AddFact');
  assert.equal(String(wSpan.attrs['rpc.grpc.status_code']), '0');
  const apply = await waitFor(() => spans.find((s) => s.traceId === tW && s.name === 'write.apply'), 'write.apply span');
  assert.equal(apply.parentSpanId, wSpan.spanId, 'write.apply is a child of the call span');
  pass('AddFact continues the caller trace; write.apply is its child');

  // 2. A streamed read: the service spans are children of the call's span.
  const tQ = hex(32), pQ = hex(16);
  r = await stream('Query', { pattern: 'IsA(?x, Human)' }, md(`00-${tQ}-${pQ}-01`));
  assert.ifError(r.err);
  assert.equal(r.out[0].rows.length, 1);
  const qSpan = await waitFor(() => spans.find((s) => s.traceId === tQ && s.name === 'hakgal.v2.Hakgal/Query'), 'Query span');
  assert.equal(qSpan.parentSpanId, pQ);
  const kids = await waitFor(() => {
    const k = spans.filter((s) => s.traceId === tQ && s.parentSpanId === qSpan.spanId).map((s) => s.name);
    return k.includes('query.execute') ? k : null;
  }, 'query spans under Query');
  assert.ok(kids.includes('query.plan'), `query.plan among ${kids}`);
  pass('Query: query.plan and query.execute are children of the call span');

  // 3. An error status is recorded; a caller error is not a server error.
  const tE = hex(32);
  r = await unary('GetFact', { id: '999999' }, md(`00-${tE}-${hex(16)}-01`));
  assert.equal(r.err.code, grpc.status.NOT_FOUND);
  const eSpan = await waitFor(() => spans.find((s) => s.traceId === tE), 'GetFact span');
  assert.equal(String(eSpan.attrs['rpc.grpc.status_code']), String(grpc.status.NOT_FOUND));
  assert.ok(!eSpan.status || eSpan.status.code !== 2, 'NOT_FOUND is not a span error');
  pass('GetFact NOT_FOUND: status code attribute, span not an error');

  // 4. No traceparent, and a bad one: roots, each its own trace.
  const before = spans.length;
  r = await unary('GetFact', { id: '1' }, md());
  assert.ifError(r.err);
  r = await unary('GetFact', { id: '1' }, md('garbage'));
  assert.ifError(r.err);
  const roots = await waitFor(() => {
    const g = spans.slice(before).filter((s) => s.name === 'hakgal.v2.Hakgal/GetFact');
    return g.length >= 2 ? g : null;
  }, 'two root GetFact spans');
  for (const s of roots) assert.ok(!s.parentSpanId, 'a root span');
  assert.notEqual(roots[0].traceId, roots[1].traceId);
  pass('calls without a valid traceparent start root spans');

  // 5. Unsampled: nothing exported for that trace.
  const tOff = hex(32);
  r = await unary('GetFact', { id: '1' }, md(`00-${tOff}-${hex(16)}-00`));
  assert.ifError(r.err);
  const tMark = hex(32);
  await unary('GetFact', { id: '1' }, md(`00-${tMark}-${hex(16)}-01`));
  await waitFor(() => spans.find((s) => s.traceId === tMark), 'the marker span');
  assert.ok(!spans.some((s) => s.traceId === tOff), 'unsampled trace exported nothing');
  pass('an unsampled traceparent exports nothing');
} finally {
  client.close();
  server.removeAllListeners('exit');
  const code = await new Promise((resolve) => { server.on('exit', (c) => resolve(c)); server.kill('SIGTERM'); });
  rcv.close();
  fs.rmSync(tmp, { recursive: true, force: true });
  assert.equal(code, 0, `server exit code: ${log}`);
}
console.log(`PASS test_grpc_trace (${ok} checks)`);
