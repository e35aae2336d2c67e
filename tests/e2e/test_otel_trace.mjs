// End-to-end: OpenTelemetry traces of `hakgal serve` received by a local
// OTLP/HTTP receiver and decoded with the official opentelemetry-proto
// definitions (the protobufjs code generated from them that
// @opentelemetry/otlp-transformer ships). Every export request must survive
// fromObject -> encode -> decode -> toObject unchanged, so a field the
// official schema does not define, or a value of the wrong type, fails.
//
// Both protocols: http/protobuf (the default, the body decoded with the
// official Req.decode) and http/json (chosen with
// OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, which wins over
// OTEL_EXPORTER_OTLP_PROTOCOL).
//
// Checks: resource attributes and headers from the OTEL_* environment;
// server spans continue the client's W3C traceparent (trace id, parent
// span id, tracestate) on REST and on MCP over HTTP; query.plan and
// query.execute are children of the request's span; write.apply and
// group commit are children of the write request's span; an unsampled
// traceparent exports nothing; a request without one starts a root span;
// the JSON access log carries the trace id. Then, with the receiver down
// and with a receiver that never answers: requests stay fast, every one
// succeeds, the queue never exceeds its bound and drops are counted.
// Last, the OTLP response: a 503 with Retry-After is retried after the
// wait it asks for, a 400 is not retried, and a partial success's
// rejected spans are counted.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const root = require(path.join(here, 'node_modules/@opentelemetry/otlp-transformer/build/src/generated/root.js'));
const Req = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
const Resp = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse;

const bin = process.env.HAKGAL_BIN;
assert.ok(bin, 'HAKGAL_BIN must name the hakgal binary');
const tmp = path.join(process.env.HK_TEST_TMP || '/tmp', `otel-trace-${process.pid}`);
fs.rmSync(tmp, { recursive: true, force: true });
fs.mkdirSync(tmp, { recursive: true });

/* ==== The receiver ==== */

const ID_FIELDS = new Set(['traceId', 'spanId', 'parentSpanId']);
function hexToB64(o) {
  if (Array.isArray(o)) return o.map(hexToB64);
  if (o && typeof o === 'object') {
    const r = {};
    for (const [k, v] of Object.entries(o)) {
      if (ID_FIELDS.has(k)) {
        assert.match(v, /^[0-9a-f]+$/, `${k} is lower-case hex (OTLP/JSON)`);
        r[k] = Buffer.from(v, 'hex').toString('base64');
      } else r[k] = hexToB64(v);
    }
    return r;
  }
  return o;
}
function b64ToHex(o) {
  if (Array.isArray(o)) return o.map(b64ToHex);
  if (o && typeof o === 'object') {
    const r = {};
    for (const [k, v] of Object.entries(o))
      r[k] = ID_FIELDS.has(k) ? Buffer.from(v, 'base64').toString('hex') : b64ToHex(v);
    return r;
  }
  return o;
}

// Decodes one export request with the official schema (protobuf: decoded,
// re-encoded and compared byte for byte, so nothing the schema does not
// define survives; JSON: through the schema and back, compared with what
// was sent); answers the spans with their resource.
const OBJ = { longs: String, enums: Number, bytes: String };
function decode(body, contentType) {
  let back;
  if (/^application\/x-protobuf/.test(contentType)) {
    const msg = Req.decode(body);
    assert.equal(Req.verify(msg), null, 'a valid ExportTraceServiceRequest');
    assert.ok(Buffer.from(Req.encode(msg).finish()).equals(body), 'every byte is a field the official proto defines');
    back = Req.toObject(msg, OBJ);
  } else {
    const json = JSON.parse(body.toString('utf8'));
    const msg = Req.fromObject(hexToB64(json));
    back = Req.toObject(Req.decode(Req.encode(msg).finish()), OBJ);
    assert.deepEqual(b64ToHex(back), json, 'the export request is exactly what the official proto defines');
  }
  const spans = [];
  for (const rs of back.resourceSpans) {
    const res = Object.fromEntries(rs.resource.attributes.map((a) => [a.key, a.value.stringValue]));
    for (const ss of rs.scopeSpans)
      for (const s of ss.spans) {
        const attrs = Object.fromEntries((s.attributes || []).map((a) => [a.key, a.value.stringValue ?? a.value.intValue]));
        spans.push({
          ...s,
          traceId: Buffer.from(s.traceId, 'base64').toString('hex'),
          spanId: Buffer.from(s.spanId, 'base64').toString('hex'),
          parentSpanId: s.parentSpanId ? Buffer.from(s.parentSpanId, 'base64').toString('hex') : '',
          attrs, res, scope: ss.scope,
        });
      }
  }
  return spans;
}

// mode: 'ok', 'hang' (never answers), or a function (request number) ->
// { status, headers, partial } that scripts the answers.
function startReceiver(mode = 'ok') {
  const got = { spans: [], requests: [] };
  const srv = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (d) => { chunks.push(d); });
    req.on('end', () => {
      if (mode === 'hang') return; // never answers
      const body = Buffer.concat(chunks);
      const ct = req.headers['content-type'] || '';
      const how = typeof mode === 'function' ? mode(got.requests.length) : { status: 200 };
      got.requests.push({ path: req.url, headers: req.headers, at: Date.now(), status: how.status });
      try {
        const spans = decode(body, ct);
        if (how.status === 200) got.spans.push(...spans);
      } catch (e) {
        got.error = got.error || e;
      }
      const partial = how.partial ? { partialSuccess: { rejectedSpans: how.partial, errorMessage: 'too old' } } : {};
      if (/protobuf/.test(ct)) {
        res.writeHead(how.status, { 'content-type': 'application/x-protobuf', ...how.headers });
        res.end(how.status === 200 ? Buffer.from(Resp.encode(Resp.fromObject(partial)).finish()) : undefined);
      } else {
        res.writeHead(how.status, { 'content-type': 'application/json', ...how.headers });
        res.end(how.status === 200 ? JSON.stringify(partial) : undefined);
      }
    });
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({ srv, got, port: srv.address().port })));
}

/* ==== The server ==== */

function startServer(name, env, args = []) {
  const p = spawn(bin, ['serve', '--data', path.join(tmp, name), '--listen', '127.0.0.1:0', '--threads', '2', ...args], {
    // h2o's own allocations at exit, as for every server test under ASan
    env: { ...process.env, LSAN_OPTIONS: `suppressions=${path.join(here, 'test_server_lsan.supp')}:print_suppressions=0`, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`server did not start: ${log}`)), 15000);
    p.stderr.on('data', (d) => {
      log += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+) /.exec(log);
      if (m) { clearTimeout(t); resolve({ p, base: `http://127.0.0.1:${m[1]}` }); }
    });
    p.on('exit', (code) => reject(new Error(`server exited ${code}: ${log}`)));
  });
}
function stop(s) {
  return new Promise((resolve) => { s.p.removeAllListeners('exit'); s.p.on('exit', (code) => resolve(code)); s.p.kill('SIGTERM'); });
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function waitFor(pred, ms, what) {
  const end = Date.now() + ms;
  while (Date.now() < end) { if (pred()) return; await sleep(50); }
  assert.fail(`timed out waiting for ${what}`);
}
async function metric(base, name) {
  const t = await (await fetch(`${base}/metrics`)).text();
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(t);
  assert.ok(m, `metric ${name}`);
  return Number(m[1]);
}
const hex = (n) => Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join('');

/* ==== 1. spans, links and propagation ==== */

for (const proto of ['http/protobuf', 'http/json']) {
  // the default protocol, then http/json chosen for traces over a general
  // setting that says protobuf
  const protoEnv = proto === 'http/json'
    ? { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json' }
    : {};
  const rcv = await startReceiver();
  const accessLog = path.join(tmp, `access-${proto.slice(5)}.log`);
  const s1 = await startServer(`kb1-${proto.slice(5)}`, {
    ...protoEnv,
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${rcv.port}`,
    OTEL_BSP_SCHEDULE_DELAY: '100',
    OTEL_SERVICE_NAME: 'hakgal-e2e',
    OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=test,service.namespace=kb%20team',
    OTEL_EXPORTER_OTLP_HEADERS: 'x-otlp-token=abc%20def',
  }, ['--access-log', accessLog, '--access-log-json']);

  const tWrite = hex(32), pWrite = hex(16);
  let r = await fetch(`${s1.base}/v2/facts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', traceparent: `00-${tWrite}-${pWrite}-01`, tracestate: 'vendor=7,other=x' },
    body: JSON.stringify({ statement: 'IsA(Socrates, Human).' }),
  });
  assert.equal(r.status, 201);
  const tRead = hex(32), pRead = hex(16);
  r = await fetch(`${s1.base}/v2/query?q=${encodeURIComponent('IsA(Socrates, ?x)')}`, { headers: { traceparent: `00-${tRead}-${pRead}-01` } });
  assert.equal(r.status, 200);
  const tOff = hex(32);
  r = await fetch(`${s1.base}/v2/facts?limit=5`, { headers: { traceparent: `00-${tOff}-${hex(16)}-00` } });
  assert.equal(r.status, 200);
  r = await fetch(`${s1.base}/v2/facts?limit=5`, { headers: { traceparent: 'garbage' } });
  assert.equal(r.status, 200);
  const tMcp = hex(32), pMcp = hex(16);
  r = await fetch(`${s1.base}/mcp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', traceparent: `00-${tMcp}-${pMcp}-01` },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'otel-e2e', version: '1' } } }),
  });
  assert.equal(r.status, 200);
  await r.text();

  await waitFor(() => rcv.got.error || rcv.got.spans.some((s) => s.traceId === tMcp), 10000, 'the MCP span');
  if (rcv.got.error) throw rcv.got.error;
  const spans = rcv.got.spans;
  const byTrace = (t) => spans.filter((s) => s.traceId === t);

  // resource and export request
  const any = spans[0];
  assert.equal(any.res['service.name'], 'hakgal-e2e');
  assert.match(any.res['service.version'], /^\d+\.\d+/);
  assert.ok(any.res['service.instance.id'], 'service.instance.id (node id)');
  assert.equal(any.res['deployment.environment'], 'test');
  assert.equal(any.res['service.namespace'], 'kb team');
  assert.equal(any.scope.name, 'hakgal');
  assert.equal(rcv.got.requests[0].path, '/v1/traces');
  assert.equal(rcv.got.requests[0].headers['x-otlp-token'], 'abc def');
  assert.equal(rcv.got.requests[0].headers.expect, undefined, 'no Expect: 100-continue round trip');
  assert.match(rcv.got.requests[0].headers['content-type'], proto === 'http/json' ? /^application\/json/ : /^application\/x-protobuf/);

  // the write: server span continues the client's trace; apply and group
  // commit are its children
  const w = byTrace(tWrite);
  const wServer = w.find((s) => s.name === 'POST /v2/facts');
  assert.ok(wServer, `server span of the write: ${JSON.stringify(w.map((s) => s.name))}`);
  assert.equal(wServer.kind, 2);
  assert.equal(wServer.parentSpanId, pWrite);
  assert.equal(wServer.traceState, 'vendor=7,other=x');
  assert.equal(wServer.attrs['http.route'], '/v2/facts');
  assert.equal(wServer.attrs['http.response.status_code'], '201');
  assert.ok(BigInt(wServer.endTimeUnixNano) >= BigInt(wServer.startTimeUnixNano));
  const apply = w.find((s) => s.name === 'write.apply');
  assert.ok(apply && apply.parentSpanId === wServer.spanId, 'write.apply is a child of the request');
  const group = w.find((s) => s.name === 'group commit');
  assert.ok(group && group.parentSpanId === wServer.spanId, 'group commit is a child of the request');
  assert.ok(Number(group.attrs['hakgal.group.size']) >= 1);

  // the read: plan and execute are children of the request span
  const q = byTrace(tRead);
  const qServer = q.find((s) => s.name === 'GET /v2/query');
  assert.ok(qServer && qServer.parentSpanId === pRead);
  for (const n of ['query.plan', 'query.execute']) {
    const c = q.find((s) => s.name === n);
    assert.ok(c, `${n} span`);
    assert.equal(c.parentSpanId, qServer.spanId, `${n} parent`);
    assert.ok(BigInt(c.startTimeUnixNano) >= BigInt(qServer.startTimeUnixNano));
}
assert.equal(q.find((s) => s.name === 'query.execute').attrs['hakgal.query.rows'], '1');

// unsampled parent: nothing; invalid traceparent: a new root
assert.equal(byTrace(tOff).length, 0, 'an unsampled traceparent exports nothing');
const roots = spans.filter((s) => s.name === 'GET /v2/facts' && !s.parentSpanId);
assert.ok(roots.length >= 1, 'a request without a valid traceparent starts a root span');

// MCP over HTTP
const m = byTrace(tMcp).find((s) => s.name === 'POST /mcp');
assert.ok(m && m.parentSpanId === pMcp && m.kind === 2, 'MCP over HTTP continues the trace');

// span ids are unique
assert.equal(new Set(spans.map((s) => s.spanId)).size, spans.length);

// structured access log
await waitFor(() => fs.existsSync(accessLog) && fs.readFileSync(accessLog, 'utf8').includes(tRead), 5000, 'access log');
const lines = fs.readFileSync(accessLog, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const wl = lines.find((l) => l.trace_id === tWrite);
assert.ok(wl && wl.span_id === wServer.spanId && wl.status === 201 && wl.route === 'POST /v2/facts');
assert.equal(await metric(s1.base, 'hakgal_otel_spans_dropped_total'), 0);
assert.equal(await stop(s1), 0);
rcv.srv.close();
console.log(`${proto}: ${spans.length} spans decoded and checked`);
}

/* ==== 2. the receiver is down, then hangs: never blocking, bounded ==== */

async function hammer(base, n) {
  const lat = [];
  let failed = 0;
  const one = async (i) => {
    const t0 = performance.now();
    const res = i % 10 === 0
      ? await fetch(`${base}/v2/facts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ statement: `Num(n${i}, ${i}).` }) })
      : await fetch(`${base}/v2/facts?limit=3`);
    await res.arrayBuffer();
    if (res.status >= 300) failed++;
    lat.push(performance.now() - t0);
  };
  for (let i = 0; i < n; i += 16) await Promise.all(Array.from({ length: Math.min(16, n - i) }, (_, k) => one(i + k)));
  lat.sort((a, b) => a - b);
  return { failed, p99: lat[Math.floor(lat.length * 0.99)] };
}
function rssKiB(pid) {
  const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]);
}

const closed = await new Promise((resolve) => { const s = net.createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); }); });
const hang = await startReceiver('hang');
for (const [label, port] of [['down', closed], ['hanging', hang.port]]) {
  const s = await startServer(`kb-${label}`, {
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
    OTEL_BSP_SCHEDULE_DELAY: '50',
    OTEL_BSP_MAX_QUEUE_SIZE: '64',
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '16',
    OTEL_EXPORTER_OTLP_TIMEOUT: '10000', // a blocked request would wait this long
    OTEL_TRACES_SAMPLER: 'always_on',
  });
  await hammer(s.base, 300); // warm up
  const rss0 = rssKiB(s.p.pid);
  const h = await hammer(s.base, 3000);
  const rss1 = rssKiB(s.p.pid);
  assert.equal(h.failed, 0, `${label}: no request failed`);
  // Far below the 10 s an export to the hanging receiver takes (the bound
  // leaves room for a loaded test machine).
  assert.ok(h.p99 < 3000, `${label}: p99 ${h.p99.toFixed(1)} ms: requests never wait for the exporter`);
  const cap = await metric(s.base, 'hakgal_otel_queue_capacity');
  assert.equal(cap, 64);
  assert.ok(await metric(s.base, 'hakgal_otel_queue_spans') <= 64);
  const dropped = await metric(s.base, 'hakgal_otel_spans_dropped_total');
  const failedSpans = await metric(s.base, 'hakgal_otel_spans_failed_total');
  assert.equal(await metric(s.base, 'hakgal_otel_spans_exported_total'), 0);
  assert.ok(dropped + failedSpans > 0, `${label}: lost spans are counted (dropped ${dropped}, failed ${failedSpans})`);
  if (label === 'hanging') assert.ok(dropped > 0, 'a hanging receiver fills the bounded queue, which drops');
  // (ASan's quarantine keeps freed memory resident: RSS says nothing there)
  if (process.env.HK_SANITIZED !== '1')
    assert.ok(rss1 - rss0 < 16 * 1024, `${label}: memory grew ${rss1 - rss0} KiB over 3000 requests`);
  const t0 = Date.now();
  assert.equal(await stop(s), 0);
  assert.ok(Date.now() - t0 < 25000, `${label}: shutdown is bounded by the export timeout`);
  console.log(`receiver ${label}: p99 ${h.p99.toFixed(1)} ms, dropped ${dropped}, failed ${failedSpans}, rss +${rss1 - rss0} KiB`);
}
hang.srv.closeAllConnections();
hang.srv.close();

/* ==== 3. the OTLP response: retry, no retry, partial success ==== */

let script = () => ({ status: 200 });
const scripted = await startReceiver((i) => script(i));
const s3 = await startServer('kb-response', {
  OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${scripted.port}`,
  OTEL_BSP_SCHEDULE_DELAY: '100',
  OTEL_TRACES_SAMPLER: 'always_on',
});
const traced = async () => {
  const t = hex(32);
  const res = await fetch(`${s3.base}/v2/facts?limit=1`, { headers: { traceparent: `00-${t}-${hex(16)}-01` } });
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  return t;
};
const sent = () => scripted.got.requests.length;

// 503 with Retry-After: 1 -> sent again about a second later, then kept
let first = -1;
script = (i) => {
  if (first < 0) { first = i; return { status: 503, headers: { 'retry-after': '1' } }; }
  return { status: 200 };
};
let t = await traced();
await waitFor(() => scripted.got.error || scripted.got.spans.some((x) => x.traceId === t), 10000, 'the retried batch');
if (scripted.got.error) throw scripted.got.error;
const r0 = scripted.got.requests[first], r1 = scripted.got.requests[first + 1];
assert.equal(r0.status, 503);
assert.ok(r1.at - r0.at >= 900, `the retry waited for Retry-After (${r1.at - r0.at} ms)`);
assert.equal(await metric(s3.base, 'hakgal_otel_export_retries_total'), 1);

// 400: counted as failed, never sent again
const failed0 = await metric(s3.base, 'hakgal_otel_spans_failed_total');
const n400 = sent();
script = () => ({ status: 400 });
await traced();
await waitFor(() => sent() > n400, 10000, 'the refused batch');
await sleep(2500); // longer than the first backoff (at most 1 s)
script = () => ({ status: 200 });
assert.equal(scripted.got.requests.filter((x) => x.status === 400).length, sent() - n400, 'only refused batches were sent');
assert.equal(await metric(s3.base, 'hakgal_otel_export_retries_total'), 1, 'a 400 is not retried');
assert.ok(await metric(s3.base, 'hakgal_otel_spans_failed_total') > failed0);

// partial success: the rejected spans are counted
let partials = 0;
script = () => { partials++; return { status: 200, partial: 1 }; };
t = await traced();
await waitFor(() => scripted.got.spans.some((x) => x.traceId === t), 10000, 'the partly accepted batch');
script = () => ({ status: 200 });
// counted once the exporter has read the answer
let rejected = -1;
for (let i = 0; i < 100 && rejected !== partials; i++) {
  rejected = await metric(s3.base, 'hakgal_otel_spans_rejected_total');
  if (rejected !== partials) await sleep(100);
}
assert.equal(rejected, partials);
assert.equal(await stop(s3), 0);
scripted.srv.close();
fs.rmSync(tmp, { recursive: true, force: true });
console.log('otel trace e2e: ok');
