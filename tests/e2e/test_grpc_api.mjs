// End-to-end: @grpc/grpc-js with @grpc/proto-loader (loading our .proto
// files as any generated client would) against `hakgal serve
// --grpc-listen`. Calls every method of hakgal.v2.Hakgal — unary, server
// streaming with pages and cursors, client streaming — and the health
// service; checks the status codes of errors, the token policy (the same
// tokens and roles as REST), that gRPC and REST give the same results for
// the same reads, and that bytes which are not a protobuf message get
// INVALID_ARGUMENT and never take the server down.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import nodeHttp from 'node:http';
import path from 'node:path';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';

const bin = process.env.HAKGAL_BIN;
assert.ok(bin, 'HAKGAL_BIN must name the hakgal binary');
const src = process.env.HK_SOURCE_DIR || path.resolve(import.meta.dirname, '../..');
const root = path.join(process.env.HK_TEST_TMP || '/tmp', `grpc-api-${process.pid}`);
fs.rmSync(root, { recursive: true, force: true });
fs.mkdirSync(root, { recursive: true });
const dataDir = path.join(root, 'kb');
const writer = 'writer-secret-0123456789';
const reader = 'reader-secret-0123456789';
const reviewer = 'review-secret-0123456789';
const sha = (s) => createHash('sha256').update(s).digest('hex');
fs.writeFileSync(path.join(root, 'tokens'), `alice write ${sha(writer)}\nbob read ${sha(reader)}\ncarol reviewer ${sha(reviewer)}\n`);
const env = { ...process.env };
if (process.env.HK_SANITIZED === '1' || process.env.HK_SANITIZED === 'ON')
  env.LSAN_OPTIONS = `suppressions=${path.join(src, 'tests/e2e/test_server_lsan.supp')}`;

// A scripted OpenAI-compatible endpoint: every completion proposes the
// same three facts, so that POST /v2/extract fills the review queue.
const model = nodeHttp.createServer((rq, rs) => {
  rq.resume();
  rq.on('end', () => {
    const content = JSON.stringify({ facts: [
      { statement: 'IsA(Rome, City)', quote: 'Rome' },
      { statement: 'IsA(Paris, City)', quote: 'Paris' },
      { statement: 'IsA(Oslo, City)', quote: 'Oslo' }] });
    rs.writeHead(200, { 'Content-Type': 'application/json' });
    rs.end(JSON.stringify({ id: 'x', object: 'chat.completion', model: 'fake-7b',
      choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content } }],
      usage: { prompt_tokens: 4, completion_tokens: 2 } }));
  });
});
await new Promise((res) => model.listen(0, '127.0.0.1', res));
for (const k of Object.keys(env)) if (/^(HAKGAL_LLM|OPENAI_)/.test(k)) delete env[k];
env.OPENAI_BASE_URL = `http://127.0.0.1:${model.address().port}/v1`;
env.HAKGAL_LLM_MODEL = 'fake-7b';

const def = protoLoader.loadSync(['hakgal/v2/hakgal.proto', 'grpc/health/v1/health.proto'], {
  includeDirs: [path.join(src, 'proto')], longs: String, enums: String, defaults: true, oneofs: true,
});
const pkg = grpc.loadPackageDefinition(def);
const S = grpc.status;

let server;
let log = '';
function startServer(args) {
  server = spawn(bin, ['serve', '--data', dataDir, '--listen', '127.0.0.1:0', '--threads', '2',
    '--grpc-listen', '127.0.0.1:0', '--grpc-threads', '3', '--max-batch', '3000',
    '--max-limit', '1000', '--max-body', '65536', ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`server did not start: ${log}`)), 20000);
    server.stderr.on('data', (d) => {
      log += d;
      const g = /gRPC on (?:tls:\/\/)?127\.0\.0\.1:(\d+) /.exec(log);
      const h = /listening on https?:\/\/127\.0\.0\.1:(\d+) /.exec(log);
      if (g && h) {
        clearTimeout(t);
        resolve({ grpcPort: g[1], httpPort: h[1] });
      }
    });
    server.on('exit', (code) => reject(new Error(`server exited ${code}: ${log}`)));
  });
}

function meta(token) {
  const m = new grpc.Metadata();
  if (token) m.set('authorization', `Bearer ${token}`);
  return m;
}
const unary = (cl, method, req, token = writer) =>
  new Promise((res, rej) => cl[method](req, meta(token), { deadline: Date.now() + 20000 },
    (e, v) => (e ? rej(e) : res(v))));
async function stream(cl, method, req, token = writer) {
  const out = [];
  for await (const m of cl[method](req, meta(token))) out.push(m);
  return out;
}
async function fails(p, code, what, detailRe) {
  try {
    await p;
  } catch (e) {
    assert.equal(e.code, code, `${what}: expected status ${code}, got ${e.code} (${e.details})`);
    if (detailRe) assert.match(e.details, detailRe, `${what}: details`);
    return e;
  }
  assert.fail(`${what}: expected status ${code}, the call succeeded`);
}

let http;
async function rest(method, p, body, token = reader) {
  const r = await fetch(`${http}${p}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: r.status, json: await r.json() };
}

// A generic client sending raw bytes to any method path.
function rawUnary(addr, method, bytes) {
  const client = new grpc.Client(addr, grpc.credentials.createInsecure());
  return new Promise((res) => {
    client.makeUnaryRequest(method, (b) => b, (b) => b, bytes, meta(writer),
      { deadline: Date.now() + 10000 }, (e, v) => {
        client.close();
        res(e ? e.code : S.OK);
      });
  });
}

try {
  // A non-loopback gRPC address without tokens is refused, as for REST.
  {
    const r = spawnSync(bin, ['serve', '--data', path.join(root, 'other'), '--listen', '127.0.0.1:0',
      '--grpc-listen', '0.0.0.0:0', '--quiet'], { env, timeout: 20000 });
    assert.notEqual(r.status, 0, 'non-loopback --grpc-listen without tokens must fail');
    assert.match(String(r.stderr), /not loopback/);
  }

  const { grpcPort, httpPort } = await startServer(['--tokens', path.join(root, 'tokens'), '--read-auth']);
  const addr = `127.0.0.1:${grpcPort}`;
  http = `http://127.0.0.1:${httpPort}`;
  const c = new pkg.hakgal.v2.Hakgal(addr, grpc.credentials.createInsecure());
  const health = new pkg.grpc.health.v1.Health(addr, grpc.credentials.createInsecure());

  // 1. health: open to all, SERVING; unknown service NOT_FOUND; Watch
  // sends the current status at once and stays open (the drain is in 11)
  {
    const h = await unary(health, 'Check', {}, null);
    assert.equal(h.status, 'SERVING');
    assert.equal((await unary(health, 'Check', { service: 'hakgal.v2.Hakgal' }, null)).status, 'SERVING');
    await fails(unary(health, 'Check', { service: 'nope' }, null), S.NOT_FOUND, 'unknown service');
    for (const [service, want] of [['', 'SERVING'], ['hakgal.v2.Hakgal', 'SERVING'], ['nope', 'SERVICE_UNKNOWN']]) {
      const w = health.Watch({ service }, meta(null));
      const got = [];
      const ended = new Promise((res) => { w.on('error', (e) => res(e)); w.on('end', () => res(null)); });
      await new Promise((res) => w.on('data', (d) => { got.push(d.status); res(); }));
      await new Promise((res) => setTimeout(res, 300)); // no change: no second message
      assert.deepEqual(got, [want], `Watch ${service || '(all)'}`);
      w.cancel(); // the server notices and releases its worker
      const e = await ended;
      assert.equal(e && e.code, S.CANCELLED, 'cancelled by the client');
    }
    // The workers are free again: every one answers.
    const many = [];
    for (let i = 0; i < 12; i++) many.push(unary(health, 'Check', {}, null));
    for (const h2 of await Promise.all(many)) assert.equal(h2.status, 'SERVING');
  }

  // 2. auth: the REST policy on the authorization metadata
  {
    await fails(unary(c, 'AddFact', { fact: { statement: 'A(b)' } }, null), S.UNAUTHENTICATED, 'no token');
    await fails(unary(c, 'AddFact', { fact: { statement: 'A(b)' } }, 'wrong-token'), S.UNAUTHENTICATED, 'bad token');
    await fails(unary(c, 'AddFact', { fact: { statement: 'A(b)' } }, reader), S.PERMISSION_DENIED, 'reader writes');
    await fails(unary(c, 'GetFact', { id: 1 }, null), S.UNAUTHENTICATED, 'read without token (--read-auth)');
  }

  // 3. AddFact / GetFact / UpdateFact / DeleteFact, and the same through REST
  let id1;
  {
    const a = await unary(c, 'AddFact', { fact: { statement: 'HasPart(Computer, CPU)', confidence: 0.75,
      source: 'manual', tags: ['hw', 'hw', 'core'], contextJson: '{"k":1}' } });
    assert.equal(a.created, true);
    id1 = a.id;
    assert.equal(a.fact.statement, 'HasPart(Computer, CPU)');
    assert.deepEqual(a.fact.args, ['Computer', 'CPU']);
    assert.equal(a.fact.confidence, 0.75);
    assert.equal(a.fact.source, 'manual');
    assert.deepEqual(JSON.parse(a.fact.contextJson), { k: 1 });
    const again = await unary(c, 'AddFact', { fact: { predicate: 'HasPart', args: ['Computer', 'CPU'] } });
    assert.equal(again.created, false, 'MERGE keeps the fact');
    assert.equal(again.id, id1);
    const g = await unary(c, 'GetFact', { id: id1 }, reader);
    const r = await rest('GET', `/v2/facts/${id1}`);
    assert.equal(r.status, 200);
    assert.equal(g.statement, r.json.statement);
    assert.deepEqual(g.args, r.json.args);
    assert.deepEqual(g.tags, r.json.tags);
    assert.equal(g.confidence, r.json.confidence);
    assert.equal(g.source, r.json.source);
    assert.equal(g.created, r.json.created);
    assert.deepEqual(JSON.parse(g.contextJson), r.json.context);

    // confidence 0 and source "" are values, not absence (oneof presence)
    const z = await unary(c, 'AddFact', { fact: { statement: 'Zero(x)', confidence: 0 } });
    assert.equal(z.fact.confidence, 0);

    await fails(unary(c, 'GetFact', { id: 999999 }, reader), S.NOT_FOUND, 'missing fact', /999999/);
    const e0 = await fails(unary(c, 'GetFact', { id: 0 }, reader), S.INVALID_ARGUMENT, 'id 0');
    assert.deepEqual(e0.metadata.get('hakgal-error-field'), ['id']);
    const es = await fails(unary(c, 'AddFact', { fact: { statement: 'HasPart(Computer' } }),
      S.INVALID_ARGUMENT, 'bad statement', /column/);
    assert.deepEqual(es.metadata.get('hakgal-error-field'), ['statement']);
    const ec = await fails(unary(c, 'AddFact', { fact: { statement: 'A(b)', confidence: 1.5 } }),
      S.INVALID_ARGUMENT, 'confidence out of range');
    assert.deepEqual(ec.metadata.get('hakgal-error-field'), ['confidence']);
    await fails(unary(c, 'AddFact', { fact: { statement: 'A(b)', contextJson: '[1]' } }),
      S.INVALID_ARGUMENT, 'context not an object');
    await fails(unary(c, 'AddFact', {}), S.INVALID_ARGUMENT, 'no fact');
    await fails(unary(c, 'AddFact', { fact: { statement: `Big(${'x'.repeat(70000)})` } }),
      S.RESOURCE_EXHAUSTED, 'message over --max-body');

    const u = await unary(c, 'UpdateFact', { id: id1, fact: { confidence: 0.5 } });
    assert.equal(u.confidence, 0.5);
    assert.equal(u.statement, 'HasPart(Computer, CPU)');
    const u2 = await unary(c, 'UpdateFact', { id: id1, fact: { statement: 'HasPart(Computer, GPU)' } });
    assert.equal(u2.statement, 'HasPart(Computer, GPU)');
    await fails(unary(c, 'UpdateFact', { id: id1, fact: { statement: 'Zero(x)' } }),
      S.ALREADY_EXISTS, 'update onto another fact');
    await fails(unary(c, 'UpdateFact', { id: 424242, fact: { confidence: 0.5 } }), S.NOT_FOUND, 'update missing');
    await fails(unary(c, 'UpdateFact', { id: id1, fact: {} }), S.INVALID_ARGUMENT, 'update with nothing');

    const d = await unary(c, 'DeleteFact', { statement: 'Zero(x)' });
    assert.equal(d.fact.statement, 'Zero(x)');
    await fails(unary(c, 'DeleteFact', { id: d.fact.id }), S.NOT_FOUND, 'delete twice');
    await fails(unary(c, 'DeleteFact', {}), S.INVALID_ARGUMENT, 'delete nothing');
  }

  // 4. BatchAdd with per-item errors; limits
  {
    const b = await unary(c, 'BatchAdd', { facts: [{ statement: 'Link(a, b)' }, { statement: 'bad(' },
      { predicate: 'Link', args: ['b', 'c'] }, { statement: 'Link(a, b)' }] });
    assert.equal(b.count, '4');
    assert.equal(b.created, '2');
    assert.equal(b.existing, '1');
    assert.equal(b.failed, '1');
    assert.equal(b.results.length, 4);
    assert.equal(b.results[1].failed, true);
    assert.equal(b.results[1].code, 'invalid_statement');
    assert.equal(b.results[1].field, 'statement');
    assert.equal(b.results[3].created, false);
    await fails(unary(c, 'BatchAdd', { facts: [] }), S.INVALID_ARGUMENT, 'empty batch');
    const many = Array.from({ length: 3001 }, (_, i) => ({ statement: `N(${i})` }));
    await fails(unary(c, 'BatchAdd', { facts: many }), S.RESOURCE_EXHAUSTED, 'batch over max-batch');
  }

  // 5. BulkAdd (client streaming): 2500 facts in chunks, refused items reported
  {
    const res = await new Promise((resolve, reject) => {
      const w = c.BulkAdd(meta(writer), (e, v) => (e ? reject(e) : resolve(v)));
      for (let i = 0; i < 2500; i++) w.write({ predicate: 'Num', args: [`n${i}`, i % 2 ? 'odd' : 'even'] });
      w.write({ statement: 'Broken(' });
      w.write({ statement: 'Num(n0, even)' });
      w.end();
    });
    assert.equal(res.count, '2502');
    assert.equal(res.created, '2500');
    assert.equal(res.existing, '1');
    assert.equal(res.failed, '1');
    assert.equal(res.results.length, 1);
    assert.equal(res.results[0].index, 2500);
    await fails(new Promise((resolve, reject) => {
      const w = c.BulkAdd(meta(reader), (e, v) => (e ? reject(e) : resolve(v)));
      w.write({ statement: 'X(y)' });
      w.end();
    }), S.PERMISSION_DENIED, 'reader bulk');
  }

  // 6. Query (server streaming): pages of 1000 rows, cursors, same rows as REST
  {
    const all = await stream(c, 'Query', { pattern: 'Num(?n, odd)' }, reader);
    const rows = all.flatMap((p) => p.rows);
    assert.equal(rows.length, 1250);
    assert.ok(all.length >= 2, 'more than one page message');
    assert.ok(rows.every((r) => r.bindings.length === 1 && r.bindings[0].name === 'n'));
    // paging with limit + cursor gives the same rows in the same order
    const paged = [];
    let cursor = '';
    for (let k = 0; k < 20; k++) {
      const pages = await stream(c, 'Query', { pattern: 'Num(?n, odd)', limit: 400, cursor }, reader);
      paged.push(...pages.flatMap((p) => p.rows));
      cursor = pages[pages.length - 1].nextCursor;
      if (!cursor) break;
    }
    assert.deepEqual(paged.map((r) => r.fact.id), rows.map((r) => r.fact.id));
    const r = await rest('GET', `/v2/query?q=${encodeURIComponent('Num(?n, odd)')}&limit=1000`);
    assert.equal(r.status, 200);
    assert.deepEqual(rows.slice(0, 1000).map((x) => x.fact.id), r.json.facts.map((f) => String(f.id)));
    assert.deepEqual(rows.slice(0, 1000).map((x) => ({ n: x.bindings[0].value })), r.json.bindings);
    // scans by predicate and entity
    const byPred = (await stream(c, 'Query', { predicate: 'Link' }, reader)).flatMap((p) => p.rows);
    assert.equal(byPred.length, 2);
    const byEnt = (await stream(c, 'Query', { entity: 'b' }, reader)).flatMap((p) => p.rows);
    assert.equal(byEnt.length, 2);
    const none = await stream(c, 'Query', { pattern: 'Nothing(?x)' }, reader);
    assert.equal(none.flatMap((p) => p.rows).length, 0);
    await fails(stream(c, 'Query', { pattern: 'Num(?n' }, reader), S.INVALID_ARGUMENT, 'bad pattern');
    await fails(stream(c, 'Query', { pattern: 'Num(?n, odd)', cursor: 'garbage!' }, reader),
      S.INVALID_ARGUMENT, 'bad cursor');
  }

  // 7. GraphQuery (server streaming): joins, same bindings as REST
  {
    const pages = await stream(c, 'GraphQuery', { query: 'Link(?a, ?b), Link(?b, ?c)' }, reader);
    const rows = pages.flatMap((p) => p.rows);
    assert.equal(rows.length, 1);
    const b = Object.fromEntries(rows[0].bindings.map((x) => [x.name, x.value]));
    assert.deepEqual(b, { a: 'a', b: 'b', c: 'c' });
    assert.equal(rows[0].factIds.length, 2);
    const r = await rest('GET', `/v2/query?q=${encodeURIComponent('Link(?a, ?b), Link(?b, ?c)')}`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.rows[0].bindings, b);
    const paged = await stream(c, 'GraphQuery', { query: 'Num(?n, ?p)', limit: 10 }, reader);
    assert.equal(paged.flatMap((p) => p.rows).length, 10);
    assert.ok(paged[paged.length - 1].nextCursor, 'a next cursor');
    await fails(stream(c, 'GraphQuery', { query: 'Link(?a, ' }, reader), S.INVALID_ARGUMENT, 'bad graph query');
    await fails(stream(c, 'GraphQuery', {}, reader), S.INVALID_ARGUMENT, 'empty graph query');
  }

  // 8. Search, Entity, Neighbours, Paths, Audit: same answers as REST
  {
    const s = await unary(c, 'Search', { query: 'Computer', limit: 5 }, reader);
    const rs = await rest('GET', '/v2/search?q=Computer&limit=5');
    assert.equal(rs.status, 200);
    assert.deepEqual(s.hits.map((h) => h.fact.id), rs.json.results.map((h) => String(h.fact.id)));
    await fails(unary(c, 'Search', { query: '' }, reader), S.INVALID_ARGUMENT, 'empty search');
    await fails(unary(c, 'Search', { query: 'x', limit: 5000 }, reader), S.INVALID_ARGUMENT, 'limit over max');

    const e = await unary(c, 'Entity', { name: 'b', limit: 1 }, reader);
    assert.equal(e.count, '2');
    assert.equal(e.facts.length, 1);
    assert.ok(e.nextCursor);
    const e2 = await unary(c, 'Entity', { name: 'b', limit: 1, cursor: e.nextCursor }, reader);
    assert.equal(e2.facts.length, 1);
    assert.notEqual(e2.facts[0].id, e.facts[0].id);
    const re = await rest('GET', '/v2/entities/b');
    assert.equal(re.status, 200);
    await fails(unary(c, 'Entity', { name: 'nobody' }, reader), S.NOT_FOUND, 'unknown entity');

    const n = await unary(c, 'Neighbours', { entity: 'b', depth: 1 }, reader);
    assert.deepEqual(n.nodes.map((x) => x.id).sort(), ['a', 'b', 'c']);
    assert.equal(n.edges.length, 2);
    const rn = await rest('GET', '/v2/graph/neighbours?entity=b&depth=1');
    assert.equal(rn.status, 200);
    assert.deepEqual(n.nodes.map((x) => x.id), rn.json.nodes.map((x) => x.id));
    assert.deepEqual(n.edges.map((x) => [n.nodes[x.from].id, n.nodes[x.to].id, x.label, x.factId]),
      rn.json.edges.map((x) => [x.from, x.to, x.label, String(x.fact)]));
    await fails(unary(c, 'Neighbours', { entity: 'nobody' }, reader), S.NOT_FOUND, 'neighbours of nobody');
    await fails(unary(c, 'Neighbours', { entity: 'b', direction: 'sideways' }, reader),
      S.INVALID_ARGUMENT, 'bad direction');

    const p = await unary(c, 'Paths', { from: 'a', to: 'c' }, reader);
    assert.equal(p.paths.length, 1);
    assert.deepEqual(p.paths[0].nodes, ['a', 'b', 'c']);
    const rp = await rest('GET', '/v2/graph/path?from=a&to=c');
    assert.equal(rp.status, 200);
    assert.deepEqual(p.paths[0].factIds, rp.json.paths[0].facts.map(String));

    const a = await unary(c, 'Audit', { limit: 3 }, reader);
    assert.equal(a.entries.length, 3);
    const ra = await rest('GET', '/v2/audit?limit=3');
    assert.equal(ra.status, 200);
    assert.deepEqual(a.entries.map((x) => x.seq), ra.json.entries.map((x) => String(x.seq)));
    assert.deepEqual(a.entries.map((x) => x.hash), ra.json.entries.map((x) => x.hash));
    assert.ok(a.entries.every((x) => x.actor === 'alice'), 'the token name is the audit actor');
    const older = await unary(c, 'Audit', { beforeSeq: a.nextBefore, limit: 3 }, reader);
    assert.ok(Number(older.entries[0].seq) < Number(a.entries[2].seq) + 1);
  }

  // 9. Export (server streaming): every fact once, in id order, in pages
  {
    const pages = await stream(c, 'Export', { pageSize: 500 }, reader);
    const facts = pages.flatMap((p) => p.facts);
    const stats = await rest('GET', '/v2/stats');
    assert.equal(facts.length, stats.json.facts);
    assert.ok(pages.length >= 5);
    const ids = facts.map((f) => Number(f.id));
    assert.deepEqual(ids, [...ids].sort((x, y) => x - y));
    const odd = (await stream(c, 'Export', { predicate: 'Link' }, reader)).flatMap((p) => p.facts);
    assert.equal(odd.length, 2);
  }

  // 9b. Changes: the audit log oldest first, resumable, and following
  {
    const all = await unary(c, 'Audit', { limit: 1000 }, reader);
    const pages = await stream(c, 'Changes', {}, reader);
    const seqs = pages.flatMap((p) => p.entries.map((e) => e.seq));
    assert.deepEqual(seqs, all.entries.map((e) => e.seq).reverse());
    const last = Number(seqs[seqs.length - 1]);
    assert.equal(pages[pages.length - 1].nextSeq, String(last + 1));
    const tail = await stream(c, 'Changes', { fromSeq: last - 1 }, reader);
    assert.deepEqual(tail.flatMap((p) => p.entries.map((e) => e.seq)), [String(last - 1), String(last)]);
    const empty = await stream(c, 'Changes', { fromSeq: last + 1 }, reader);
    assert.equal(empty.length, 1);
    assert.equal(empty[0].entries.length, 0);
    assert.equal(empty[0].nextSeq, String(last + 1));
    // following: a change made while the stream waits arrives on it
    const got = [];
    const follow = c.Changes({ fromSeq: last + 1, followMs: 3000 }, meta(reader));
    const done = new Promise((res, rej) => {
      follow.on('data', (p) => {
        got.push(...p.entries);
        if (got.length) follow.cancel();
      });
      follow.on('error', (e) => (e.code === S.CANCELLED ? res() : rej(e)));
      follow.on('end', res);
    });
    await new Promise((r) => setTimeout(r, 300));
    await unary(c, 'AddFact', { fact: { statement: 'Followed(change)' } });
    await done;
    assert.equal(got.length, 1);
    assert.equal(got[0].op, 'add');
    assert.equal(JSON.parse(got[0].afterJson).statement, 'Followed(change)');
    await fails(stream(c, 'Changes', { followMs: 60001 }, reader), S.INVALID_ARGUMENT, 'follow too long');
  }

  // 9c. Rules: the REST rule operations, same results, same roles
  {
    await unary(c, 'AddFact', { fact: { statement: 'Hop(A, B)' } });
    await unary(c, 'AddFact', { fact: { statement: 'Hop(B, C)' } });
    await fails(unary(c, 'AddRule', { rule: 'Reach(?x, ?y) :- Hop(?x, ?y).' }, reader),
      S.PERMISSION_DENIED, 'AddRule with a read token');
    await fails(unary(c, 'AddRule', { rule: 'Reach(?x :- .' }), S.INVALID_ARGUMENT, 'bad rule');
    await fails(unary(c, 'AddRule', { rule: 'Reach(?x, ?y) :- Hop(?x, ?y).', name: '9bad' }),
      S.INVALID_ARGUMENT, 'bad rule name');
    const a = await unary(c, 'AddRule', { rule: 'Reach(?x, ?y) :- Hop(?x, ?y).', name: 'reach1' });
    assert.equal(a.rule.name, 'reach1');
    assert.equal(a.rule.enabled, true);
    assert.equal(a.rule.version, 1);
    assert.equal(a.deleted, false);
    const b = await unary(c, 'AddRule', { rule: 'Reach(?x, ?z) :- Hop(?x, ?y), Reach(?y, ?z).' });
    assert.ok(b.rule.name.length > 0, 'generated name');
    assert.equal(b.derived, '3', 'A-B, B-C, A-C');
    const list = await unary(c, 'ListRules', {}, reader);
    const rl = await rest('GET', '/v2/rules');
    assert.equal(rl.status, 200);
    assert.equal(list.derived, String(rl.json.derived));
    assert.deepEqual(list.rules, rl.json.rules, 'ListRules equals GET /v2/rules');
    const why = await unary(c, 'Why', { statement: 'Reach(A, C)' }, reader);
    const rw = await rest('GET', `/v2/why?statement=${encodeURIComponent('Reach(A, C)')}`);
    assert.equal(rw.status, 200);
    assert.deepEqual(JSON.parse(why.treeJson), rw.json, 'Why equals GET /v2/why');
    await fails(unary(c, 'Why', { statement: 'Reach(C, A)' }, reader), S.NOT_FOUND, 'Why of no fact');
    await fails(unary(c, 'Why', { statement: '' }, reader), S.INVALID_ARGUMENT, 'Why without statement');
    const off = await unary(c, 'SetRuleEnabled', { name: 'reach1', enabled: false });
    assert.equal(off.rule.enabled, false);
    assert.equal(off.rule.version, 2);
    assert.equal(off.derived, '0', 'no base rule: nothing derived');
    assert.equal((await rest('GET', '/v2/rules/reach1')).json.enabled, false);
    await fails(unary(c, 'SetRuleEnabled', { name: 'nope', enabled: true }), S.NOT_FOUND, 'unknown rule');
    await unary(c, 'SetRuleEnabled', { name: 'reach1', enabled: true });
    const rs = await unary(c, 'Reason', {});
    const rr = await rest('POST', '/v2/reason', undefined, writer);
    assert.equal(rr.status, 200);
    assert.equal(rs.derived, String(rr.json.derived));
    assert.equal(rs.rules, rr.json.rules);
    assert.equal(rs.derived, '3');
    await fails(unary(c, 'Reason', {}, reader), S.PERMISSION_DENIED, 'Reason with a read token');
    const d = await unary(c, 'DeleteRule', { name: b.rule.name });
    assert.equal(d.deleted, true);
    assert.equal(d.rule.name, b.rule.name);
    assert.equal(d.derived, '2');
    await fails(unary(c, 'DeleteRule', { name: b.rule.name }), S.NOT_FOUND, 'deleted twice');
    await unary(c, 'DeleteRule', { name: 'reach1' });
    assert.deepEqual((await unary(c, 'ListRules', {}, reader)).rules, []);
  }

  // 9d. Review queue: list as REST does; a decision needs a review token
  {
    const ex = await rest('POST', '/v2/extract', { text: 'Rome, Paris and Oslo.', source: 'doc' }, writer);
    assert.equal(ex.status, 201, JSON.stringify(ex.json));
    const ids = ex.json.proposals.map((p) => p.id);
    assert.equal(ids.length, 3);
    const g = await unary(c, 'ListReview', {}, reader);
    const r = await rest('GET', '/v2/review');
    assert.equal(r.status, 200);
    // the REST proposal object from a Proposal message ("" and 0 are null)
    const asRest = (p) => ({ id: Number(p.id), status: p.status, statement: p.statement,
      model: p.model || null, prompt_hash: p.promptHash || null, origin: p.origin || null,
      source: p.source || null,
      span: p.span ? { text: p.span, start: Number(p.spanStart), end: Number(p.spanEnd) } : null,
      created: p.created || null, reviewer: p.reviewer || null, decided: p.decided || null,
      final_statement: p.finalStatement || null, fact: Number(p.fact) || null });
    assert.deepEqual(g.proposals.map(asRest), r.json.proposals, 'ListReview equals GET /v2/review');
    assert.equal(g.nextAfter, '0');
    const page = await unary(c, 'ListReview', { limit: 2 }, reader);
    assert.equal(page.proposals.length, 2);
    const rest2 = await unary(c, 'ListReview', { after: page.nextAfter }, reader);
    assert.deepEqual(rest2.proposals.map((p) => Number(p.id)), [ids[2]]);
    await fails(unary(c, 'ListReview', { status: 'maybe' }, reader), S.INVALID_ARGUMENT, 'bad status');
    // a write token may not decide
    await fails(unary(c, 'ApproveProposal', { id: ids[0] }, writer), S.PERMISSION_DENIED, 'approve with a write token');
    await fails(unary(c, 'RejectProposal', { id: ids[0] }, writer), S.PERMISSION_DENIED, 'reject with a write token');
    await fails(unary(c, 'ApproveProposal', { id: ids[0] }, null), S.UNAUTHENTICATED, 'approve without a token');
    const ok = await unary(c, 'ApproveProposal', { id: ids[0], statement: 'IsA(Rome, Capital)', note: 'edited' }, reviewer);
    assert.equal(ok.status, 'approved');
    assert.equal(ok.reviewer, 'carol');
    assert.equal(ok.created, true);
    const f = await unary(c, 'GetFact', { id: ok.fact }, reader);
    assert.equal(f.statement, 'IsA(Rome, Capital)');
    assert.equal(f.source, `review:${ids[0]}`);
    const no = await unary(c, 'RejectProposal', { id: ids[1], note: 'no' }, reviewer);
    assert.equal(no.status, 'rejected');
    assert.equal(no.fact, '0');
    await fails(unary(c, 'ApproveProposal', { id: ids[1] }, reviewer), S.ALREADY_EXISTS, 'decided twice');
    await fails(unary(c, 'RejectProposal', { id: 999999 }, reviewer), S.NOT_FOUND, 'unknown proposal');
    await fails(unary(c, 'ApproveProposal', { id: ids[2], statement: 'not a statement' }, reviewer),
      S.INVALID_ARGUMENT, 'bad edit');
    const all = await unary(c, 'ListReview', { status: 'all' }, reader);
    const ra = await rest('GET', '/v2/review?status=all');
    assert.deepEqual(all.proposals.map(asRest), ra.json.proposals, 'after the decisions');
    const st = Object.fromEntries(all.proposals.map((p) => [p.statement, [p.status, p.reviewer]]));
    assert.deepEqual(st['IsA(Rome, City)'], ['approved', 'carol']);
    assert.deepEqual(st['IsA(Paris, City)'], ['rejected', 'carol']);
    assert.deepEqual(st['IsA(Oslo, City)'], ['pending', '']);
  }

  // 10. bytes that are no protobuf message: INVALID_ARGUMENT, never a crash
  {
    const methods = Object.keys(def['hakgal.v2.Hakgal']).map((m) => `/hakgal.v2.Hakgal/${m}`)
      .filter((m) => !/BulkAdd|Query|Export|Proposal|DropVectorSpace/.test(m)); // a review / admin token
    const bad = [
      Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), // endless varint
      Buffer.from([0x0a, 0x7f, 0x41]),   // field 1, length 127, one byte
      Buffer.from([0x0f, 0x00]),         // wire type 7
      Buffer.from([0x12, 0x02, 0xc3, 0x28]), // string field with invalid UTF-8
    ];
    for (const m of methods)
      for (const b of bad) {
        const code = await rawUnary(addr, m, b);
        // an empty request message skips field 2 as an unknown field
        let want = b === bad[3] && /ListRules|Reason|ListVectorSpaces/.test(m) ? S.OK : S.INVALID_ARGUMENT;
        if (b === bad[3] && /ModelInfo/.test(m)) want = S.NOT_FOUND; // no model trained here
        assert.equal(code, want, `${m} with bytes ${b.toString('hex')}`);
      }
    // streaming methods too
    for (const m of ['/hakgal.v2.Hakgal/Query', '/hakgal.v2.Hakgal/Export', '/hakgal.v2.Hakgal/GraphQuery']) {
      const client = new grpc.Client(addr, grpc.credentials.createInsecure());
      const call = client.makeServerStreamRequest(m, (x) => x, (x) => x, bad[1], meta(writer));
      const code = await new Promise((res) => { call.on('data', () => {}); call.on('error', (e) => res(e.code)); call.on('end', () => res(S.OK)); });
      client.close();
      assert.equal(code, S.INVALID_ARGUMENT, m);
    }
    // a bad message in the middle of a BulkAdd stream
    {
      const client = new grpc.Client(addr, grpc.credentials.createInsecure());
      const enc = pkg.hakgal.v2.FactInput ? null : null; void enc;
      const code = await new Promise((res) => {
        const w = client.makeClientStreamRequest('/hakgal.v2.Hakgal/BulkAdd', (x) => x, (x) => x, meta(writer),
          (e) => res(e ? e.code : S.OK));
        w.write(Buffer.from([0x0a, 0x04, 0x41, 0x28, 0x62, 0x29])); // statement "A(b)"
        w.write(bad[0]);
        w.end();
      });
      client.close();
      assert.equal(code, S.INVALID_ARGUMENT, 'bad message inside BulkAdd');
    }
    // random bytes to every method: some status each time, the server lives
    let seed = 12345;
    const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed; };
    for (let i = 0; i < 300; i++) {
      const len = rnd() % 40;
      const b = Buffer.alloc(len);
      for (let k = 0; k < len; k++) b[k] = rnd() & 0xff;
      const m = methods[rnd() % methods.length];
      const code = await rawUnary(addr, m, b);
      assert.ok([S.OK, S.INVALID_ARGUMENT, S.NOT_FOUND, S.ALREADY_EXISTS, S.RESOURCE_EXHAUSTED].includes(code),
        `${m} random bytes ${b.toString('hex')}: status ${code}`);
    }
    assert.equal(await rawUnary(addr, '/hakgal.v2.Hakgal/NoSuchMethod', Buffer.alloc(0)), S.UNIMPLEMENTED);
    assert.equal((await unary(health, 'Check', {}, null)).status, 'SERVING', 'alive after bad input');
  }

  // 11. concurrency: many calls at once across the workers
  {
    const calls = [];
    for (let i = 0; i < 64; i++) calls.push(unary(c, 'GetFact', { id: id1 }, reader));
    for (let i = 0; i < 16; i++) calls.push(unary(c, 'AddFact', { fact: { statement: `Par(${i})` } }));
    const out = await Promise.all(calls);
    assert.equal(out.length, 80);
  }

  c.close();
  // A Watch open while the server drains: SERVING, then NOT_SERVING, then
  // the stream ends with OK.
  const watch = health.Watch({}, meta(null));
  const seen = [];
  const watchEnd = new Promise((res) => { watch.on('error', (e) => res(e)); watch.on('end', () => res(null)); });
  await new Promise((res) => watch.on('data', (d) => { seen.push(d.status); res(); }));
  server.kill('SIGTERM');
  const wEnd = await watchEnd;
  assert.deepEqual(seen, ['SERVING', 'NOT_SERVING'], 'Watch saw the drain');
  assert.equal(wEnd, null, `Watch ended with OK (${wEnd && wEnd.message})`);
  health.close();
  const code = await new Promise((res) => server.once('exit', (c2) => res(c2)));
  assert.equal(code, 0, `server exit code (log: ${log})`);
  server = null;

  // 12. TLS: the REST certificate serves gRPC too; plaintext is refused
  {
    const cert = path.join(root, 'c.pem');
    const key = path.join(root, 'k.pem');
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-days', '1', '-keyout', key, '-out', cert],
    { timeout: 120000 });
    assert.equal(r.status, 0, String(r.stderr));
    log = '';
    const { grpcPort: tlsPort } = await startServer(['--tls-cert', cert, '--tls-key', key]);
    assert.match(log, /gRPC on tls:\/\//);
    const creds = grpc.credentials.createSsl(fs.readFileSync(cert));
    const ts = new pkg.hakgal.v2.Hakgal(`localhost:${tlsPort}`, creds);
    const got = await unary(ts, 'GetFact', { id: id1 }, null);
    assert.equal(got.statement, 'HasPart(Computer, GPU)');
    ts.close();
    const plain = new pkg.grpc.health.v1.Health(`127.0.0.1:${tlsPort}`, grpc.credentials.createInsecure());
    await fails(unary(plain, 'Check', {}, null), S.UNAVAILABLE, 'plaintext to a TLS port');
    plain.close();
    server.kill('SIGTERM');
    assert.equal(await new Promise((res) => server.once('exit', (c2) => res(c2))), 0);
    server = null;
  }
  console.log('test_grpc_api: ok');
} catch (e) {
  console.error(e);
  console.error(log);
  process.exitCode = 1;
} finally {
  if (server) server.kill('SIGKILL');
  model.close();
}
