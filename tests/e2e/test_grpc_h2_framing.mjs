// End-to-end: the HTTP/2 transport of gRPC (--grpc-transport h2,
// src/grpc/grpc_h2.c) under framing a generated client never produces,
// driven with node:http2 and hand-encoded messages: a message split across
// DATA frames (its 5-byte prefix too), several messages in one frame, a
// stream reset mid-call, a client that never reads (flow control: the
// server stops producing and resets the stream after --request-timeout-ms,
// and stays healthy), grpc-timeout, trailers-only errors with
// percent-encoded grpc-message, message size limits, compressed messages,
// and requests that are not gRPC at all.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http2 from 'node:http2';
import path from 'node:path';

const bin = process.env.HAKGAL_BIN;
assert.ok(bin, 'HAKGAL_BIN must name the hakgal binary');
const src = process.env.HK_SOURCE_DIR || path.resolve(import.meta.dirname, '../..');
const root = path.join(process.env.HK_TEST_TMP || '/tmp', `grpc-h2-${process.pid}`);
fs.rmSync(root, { recursive: true, force: true });
fs.mkdirSync(root, { recursive: true });
const env = { ...process.env };
delete env.HAKGAL_GRPC_TRANSPORT;
if (process.env.HK_SANITIZED === '1' || process.env.HK_SANITIZED === 'ON')
  env.LSAN_OPTIONS = `suppressions=${path.join(src, 'tests/e2e/test_server_lsan.supp')}`;

// ==== Protobuf by hand (the few messages used here) ====
function varint(n) {
  const out = [];
  let v = BigInt(n);
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return Buffer.from(out);
}
const str = (field, s) => {
  const b = Buffer.from(s);
  return Buffer.concat([varint((field << 3) | 2), varint(b.length), b]);
};
const sub = (field, b) => Buffer.concat([varint((field << 3) | 2), varint(b.length), b]);
const num = (field, n) => Buffer.concat([varint(field << 3), varint(n)]);
const frame = (msg, flag = 0) => {
  const h = Buffer.alloc(5);
  h[0] = flag;
  h.writeUInt32BE(msg.length, 1);
  return Buffer.concat([h, msg]);
};
// Top-level fields of a message: {field: [values]} (varints as numbers,
// length-delimited as Buffers).
function fields(buf) {
  const out = {};
  let i = 0;
  const rd = () => {
    let v = 0n, s = 0n;
    for (;;) {
      const b = buf[i++];
      v |= BigInt(b & 0x7f) << s;
      s += 7n;
      if (!(b & 0x80)) return v;
    }
  };
  while (i < buf.length) {
    const key = Number(rd());
    const f = key >> 3, wt = key & 7;
    let val;
    if (wt === 0) val = Number(rd());
    else if (wt === 2) { const n = Number(rd()); val = buf.subarray(i, i + n); i += n; }
    else if (wt === 1) { val = buf.subarray(i, i + 8); i += 8; }
    else throw new Error(`wire type ${wt}`);
    (out[f] ||= []).push(val);
  }
  return out;
}
// Messages of a response body.
function unframe(body) {
  const msgs = [];
  let i = 0;
  while (i + 5 <= body.length) {
    assert.equal(body[i], 0, 'responses are not compressed');
    const n = body.readUInt32BE(i + 1);
    msgs.push(body.subarray(i + 5, i + 5 + n));
    i += 5 + n;
  }
  assert.equal(i, body.length, 'the response ends on a message boundary');
  return msgs;
}

// ==== Calls ====
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let session;
// Opens a call; chunks are written one by one (a pause between them makes
// each its own DATA frame). Resolves with headers, trailers, messages.
function call(method, chunks, { headers = {}, pauseMs = 20, end = true } = {}) {
  const st = session.request({
    ':method': 'POST', ':path': method, 'content-type': 'application/grpc', te: 'trailers', ...headers,
  }, { endStream: false });
  const res = { headers: null, trailers: null, body: [], rst: null, st };
  const done = new Promise((resolve) => {
    st.on('response', (h) => { res.headers = h; });
    st.on('trailers', (t) => { res.trailers = t; });
    st.on('data', (d) => res.body.push(d));
    st.on('close', () => { res.rst = st.rstCode; resolve(res); });
    st.on('error', () => {});
  });
  (async () => {
    for (const c of chunks) {
      st.write(c);
      if (pauseMs) await sleep(pauseMs);
    }
    if (end) st.end();
  })();
  return { st, done };
}
// The grpc-status of a finished call: from the trailers, or from the
// headers of a trailers-only response.
const status = (r) => Number((r.trailers || r.headers)['grpc-status']);
const message = (r) => (r.trailers || r.headers)['grpc-message'];
const messages = (r) => unframe(Buffer.concat(r.body));

const svc = '/hakgal.v2.Hakgal/';
let server;
let log = '';
try {
  const dataDir = path.join(root, 'kb');
  server = spawn(bin, ['serve', '--data', dataDir, '--listen', '127.0.0.1:0', '--threads', '2',
    '--grpc-listen', '127.0.0.1:0', '--grpc-threads', '2', '--grpc-transport', 'h2',
    '--max-body', '65536', '--request-timeout-ms', '1500'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const port = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`server did not start: ${log}`)), 20000);
    server.stderr.on('data', (d) => {
      log += d;
      const g = /gRPC on 127\.0\.0\.1:(\d+) \(\d+ threads, h2\)/.exec(log);
      if (g && /listening on/.test(log)) { clearTimeout(t); resolve(g[1]); }
    });
    server.on('exit', (code) => reject(new Error(`server exited ${code}: ${log}`)));
  });
  session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});

  // 1. A unary message split across DATA frames, the prefix itself too.
  {
    const f = frame(sub(1, str(1, 'Split(Across, Frames)')));
    const { done } = call(`${svc}AddFact`, [f.subarray(0, 3), f.subarray(3, 9), f.subarray(9)]);
    const r = await done;
    assert.equal(r.headers[':status'], 200);
    assert.equal(r.headers['content-type'], 'application/grpc');
    assert.equal(status(r), 0, `AddFact split: ${message(r)}`);
    const [m] = messages(r);
    const a = fields(m);
    assert.ok(a[1][0] > 0, 'an id');
    assert.equal(a[2][0], 1, 'created');
    // The same fact read back in one frame.
    const g = await call(`${svc}GetFact`, [frame(num(1, a[1][0]))]).done;
    assert.equal(status(g), 0);
    assert.equal(fields(messages(g)[0])[2][0].toString(), 'Split(Across, Frames)');
  }

  // 2. Several messages in one DATA frame (client streaming), and the
  //    same stream of messages cut at arbitrary points.
  {
    const items = [];
    for (let i = 0; i < 300; i++) items.push(frame(str(1, `InOne(F${i}, G${i})`)));
    const all = Buffer.concat(items);
    const r = await call(`${svc}BulkAdd`, [all], { pauseMs: 0 }).done;
    assert.equal(status(r), 0, `BulkAdd: ${message(r)}`);
    const b = fields(messages(r)[0]);
    assert.equal(b[1][0], 300, 'count');
    assert.equal(b[2][0], 300, 'created');
    const cut = [];
    const more = [];
    for (let i = 0; i < 50; i++) more.push(frame(str(1, `Cut(F${i}, G${i})`)));
    const whole = Buffer.concat(more);
    for (let i = 0; i < whole.length; i += 37) cut.push(whole.subarray(i, i + 37));
    const r2 = await call(`${svc}BulkAdd`, cut, { pauseMs: 1 }).done;
    assert.equal(status(r2), 0);
    assert.equal(fields(messages(r2)[0])[2][0], 50);
  }

  // Enough facts for long exports: 20000 in one BulkAdd.
  {
    const items = [];
    for (let i = 0; i < 20000; i++) items.push(frame(str(1, `Bulk(E${i}, Padding${'x'.repeat(40)}${i})`)));
    const r = await call(`${svc}BulkAdd`, [Buffer.concat(items)], { pauseMs: 0 }).done;
    assert.equal(status(r), 0, `BulkAdd 20000: ${message(r)}`);
    assert.equal(fields(messages(r)[0])[2][0], 20000);
  }
  const countExport = async () => {
    const r = await call(`${svc}Export`, [frame(num(2, 500))]).done;
    assert.equal(status(r), 0, `Export: ${message(r)}`);
    let n = 0;
    for (const m of messages(r)) n += (fields(m)[1] || []).length;
    return n;
  };
  const total = await countExport();
  assert.equal(total, 1 + 300 + 50 + 20000, 'every fact exported once');

  // 3. A stream reset mid-call: the client cancels an export after its
  //    first bytes; the server goes on serving on the same connection.
  {
    const { st, done } = call(`${svc}Export`, [frame(num(2, 100))]);
    await new Promise((res) => st.once('data', res));
    st.close(http2.constants.NGHTTP2_CANCEL);
    const r = await done;
    assert.equal(r.trailers, null, 'no trailers after a reset');
    assert.equal(await countExport(), total, 'the next export is whole');
  }

  // 4. A client that never reads: the server sends no more than the
  //    window lets it, stops producing, and resets the stream when the
  //    peer has not read for --request-timeout-ms; it stays healthy.
  {
    const slow = http2.connect(`http://127.0.0.1:${port}`, {
      settings: { initialWindowSize: 65535 },
    });
    slow.on('error', () => {});
    const st = slow.request({ ':method': 'POST', ':path': `${svc}Export`, 'content-type': 'application/grpc', te: 'trailers' });
    st.on('error', () => {});
    let got = 0;
    st.on('data', (d) => { got += d.length; st.pause(); });
    st.end(frame(num(2, 100)));
    const rst = await new Promise((res) => st.on('close', () => res(st.rstCode)));
    assert.equal(rst, http2.constants.NGHTTP2_CANCEL, `the server resets the stream (rst ${rst})`);
    assert.ok(got < 1 << 20, `the server sent ${got} bytes to a client that never read`);
    slow.destroy();
    assert.equal(await countExport(), total, 'the server still exports');
  }

  // 5. grpc-timeout: a following Changes stream ends DEADLINE_EXCEEDED.
  {
    const t0 = Date.now();
    const r = await call(`${svc}Changes`, [frame(Buffer.concat([num(1, 1000000), num(2, 10000)]))],
      { headers: { 'grpc-timeout': '300m' } }).done;
    assert.equal(status(r), 4, `DEADLINE_EXCEEDED, got ${status(r)} ${message(r)}`);
    assert.ok(Date.now() - t0 < 3000, 'the deadline ends the call');
  }

  // 6. Errors: trailers-only, grpc-message percent-encoded.
  {
    const r = await call(`${svc}GetFact`, [frame(Buffer.from([0x0a, 0xff]))]).done;
    assert.equal(r.trailers, null, 'trailers-only');
    assert.equal(Number(r.headers['grpc-status']), 3, 'bad protobuf bytes: INVALID_ARGUMENT');
    const nf = await call(`${svc}GetFact`, [frame(num(1, 99999999))]).done;
    assert.equal(status(nf), 5, 'NOT_FOUND');
    const q = await call(`${svc}AddFact`, [frame(sub(1, str(1, 'Bad(Ünïcode 100%')))]).done;
    assert.equal(status(q), 3);
    const msg = message(q);
    assert.ok(msg && /^[\x20-\x7e]*$/.test(msg), `grpc-message is printable ASCII: ${msg}`);
    assert.doesNotThrow(() => decodeURIComponent(msg), 'grpc-message decodes');
    const none = await call(`${svc}GetFact`, []).done;
    assert.equal(status(none), 3, 'no request message');
    const two = await call(`${svc}GetFact`, [Buffer.concat([frame(num(1, 1)), frame(num(1, 2))])]).done;
    assert.equal(status(two), 3, 'two messages to a unary method');
    const big = await call(`${svc}AddFact`, [frame(sub(1, str(1, `Big(${'y'.repeat(70000)})`)))], { pauseMs: 0 }).done;
    assert.equal(status(big), 8, 'larger than --max-body: RESOURCE_EXHAUSTED');
    const bigStream = await call(`${svc}BulkAdd`, [frame(str(1, `Big(${'y'.repeat(70000)})`))], { pauseMs: 0 }).done;
    assert.equal(status(bigStream), 8, 'a streamed message larger than --max-body');
    const gz = await call(`${svc}GetFact`, [frame(num(1, 1), 1)], { headers: { 'grpc-encoding': 'gzip' } }).done;
    assert.equal(status(gz), 12, 'compression: UNIMPLEMENTED');
    const unknown = await call('/hakgal.v2.Hakgal/NoSuchMethod', [frame(Buffer.alloc(0))]).done;
    assert.equal(status(unknown), 12, 'unknown method: UNIMPLEMENTED');
    const notGrpc = await call(`${svc}GetFact`, [Buffer.from('{}')], { headers: { 'content-type': 'application/json' } }).done;
    assert.equal(notGrpc.headers[':status'], 415, 'not application/grpc: HTTP 415');
    const health = await call('/grpc.health.v1.Health/Check', [frame(Buffer.alloc(0))]).done;
    assert.equal(status(health), 0);
    assert.equal(fields(messages(health)[0])[1][0], 1, 'SERVING');
  }

  // 7. Many streams at once on one connection, each answered.
  {
    const calls = [];
    for (let i = 0; i < 60; i++) calls.push(call(`${svc}GetFact`, [frame(num(1, 1))], { pauseMs: 0 }).done);
    for (const r of await Promise.all(calls)) assert.equal(status(r), 0);
  }

  // 8. Calls that end while their client still sends: the bytes nobody
  //    reads go back to the connection's window (16 MiB), so 24 such
  //    calls of 1 MiB each leave the connection usable.
  {
    const junk = Buffer.alloc(1 << 20, 0x41);
    for (let i = 0; i < 24; i++) {
      const r = await call(`${svc}BulkAdd`, [frame(Buffer.from([0x0a, 0xff])), junk], { pauseMs: 5 }).done;
      assert.equal(status(r), 3, `early end ${i}: INVALID_ARGUMENT`);
    }
    const g = await call(`${svc}GetFact`, [frame(num(1, 1))]).done;
    assert.equal(status(g), 0, 'the connection still carries calls');
  }

  session.close();
  server.kill('SIGTERM');
  assert.equal(await new Promise((res) => server.once('exit', (c) => res(c))), 0, 'clean stop');
  server = null;
  console.log('test_grpc_h2_framing: ok');
} catch (e) {
  console.error(e);
  console.error(log);
  process.exitCode = 1;
} finally {
  if (session) session.destroy();
  if (server) server.kill('SIGKILL');
}
