// End-to-end: the vector space and learned model methods of
// hakgal.v2.Hakgal through @grpc/grpc-js + @grpc/proto-loader against
// `hakgal serve --grpc-listen`, each answer compared with the REST
// operation of the same name on the same server:
//   ListVectorSpaces = GET /v2/vectors, CreateVectorSpace = POST
//   /v2/vectors, DropVectorSpace = DELETE /v2/vectors/{space},
//   SimilarVectors = GET/POST /v2/vectors/{space}/similar (text, fact,
//   vector, filters), ModelInfo/Score/Predict/Similar = GET /v2/model...
// and the same roles (create: write, drop: admin) and error statuses.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';

const bin = process.env.HAKGAL_BIN;
assert.ok(bin, 'HAKGAL_BIN must name the hakgal binary');
const src = process.env.HK_SOURCE_DIR || path.resolve(import.meta.dirname, '../..');
const root = path.join(process.env.HK_TEST_TMP || '/tmp', `grpc-vectors-${process.pid}`);
fs.rmSync(root, { recursive: true, force: true });
fs.mkdirSync(root, { recursive: true });
const dataDir = path.join(root, 'kb');
const writer = 'writer-secret-0123456789';
const reader = 'reader-secret-0123456789';
const admin = 'admin-secret-0123456789';
const sha = (s) => createHash('sha256').update(s).digest('hex');
fs.writeFileSync(path.join(root, 'tokens'),
  `alice write ${sha(writer)}\nbob read ${sha(reader)}\ndave admin ${sha(admin)}\n`);
const env = { ...process.env };
if (process.env.HK_SANITIZED === '1' || process.env.HK_SANITIZED === 'ON')
  env.LSAN_OPTIONS = `suppressions=${path.join(src, 'tests/e2e/test_server_lsan.supp')}`;

const def = protoLoader.loadSync(['hakgal/v2/hakgal.proto'], {
  includeDirs: [path.join(src, 'proto')], longs: String, enums: String, defaults: true, oneofs: true,
});
const pkg = grpc.loadPackageDefinition(def);
const S = grpc.status;

let server;
let log = '';
function startServer() {
  server = spawn(bin, ['serve', '--data', dataDir, '--listen', '127.0.0.1:0', '--threads', '2',
    '--grpc-listen', '127.0.0.1:0', '--grpc-threads', '2', '--tokens', path.join(root, 'tokens'),
    '--read-auth'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`server did not start: ${log}`)), 20000);
    server.stderr.on('data', (d) => {
      log += d;
      const g = /gRPC on 127\.0\.0\.1:(\d+) /.exec(log);
      const h = /listening on http:\/\/127\.0\.0\.1:(\d+) /.exec(log);
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
const unary = (cl, method, req, token = reader) =>
  new Promise((res, rej) => cl[method](req, meta(token), { deadline: Date.now() + 30000 },
    (e, v) => (e ? rej(e) : res(v))));
async function fails(p, code, what) {
  try {
    await p;
  } catch (e) {
    assert.equal(e.code, code, `${what}: expected status ${code}, got ${e.code} (${e.details})`);
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

// REST's JSON objects in the shape proto-loader gives the gRPC answers.
const spaceOf = (sp) => ({ name: sp.name, dim: sp.dim, metric: sp.metric, storage: sp.storage, m: sp.m,
  efConstruction: sp.ef_construction, ef: sp.ef, embedder: sp.embedder, vectors: String(sp.vectors),
  autoEmbed: sp.auto_embed, kind: sp.kind, model: sp.model });
const similarOf = (r) => ({ space: r.space, candidates: String(r.candidates), exact: r.exact,
  indexed: String(r.indexed),
  hits: r.hits.map((h) => ({ id: h.entity ? '0' : String(h.id), statement: h.statement || '',
    entity: h.entity || '', score: h.score })) });

try {
  const { grpcPort, httpPort } = await startServer();
  http = `http://127.0.0.1:${httpPort}`;
  const c = new pkg.hakgal.v2.Hakgal(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure());

  // A small KB: parts of machines, and who lives where.
  const facts = [];
  for (const [m, parts] of [['Computer', ['CPU', 'RAM', 'Disk', 'Fan']], ['Phone', ['CPU', 'Screen', 'Battery']],
    ['Car', ['Engine', 'Wheel', 'Battery', 'Seat']], ['Bike', ['Wheel', 'Chain', 'Seat']]]) {
    for (const p of parts) facts.push({ statement: `HasPart(${m}, ${p})` });
    facts.push({ statement: `IsA(${m}, Machine)` });
  }
  for (let i = 0; i < 12; i++) facts.push({ statement: `LivesIn(p${i}, c${i % 3})` });
  const add = await rest('POST', '/v2/facts/batch', facts, writer);
  assert.equal(add.status, 200, JSON.stringify(add.json));
  assert.equal(add.json.created, facts.length, JSON.stringify(add.json));

  // 1. spaces: empty list, create (write role), list equals REST
  {
    assert.deepEqual((await unary(c, 'ListVectorSpaces', {})).spaces, [], 'no spaces yet');
    await fails(unary(c, 'CreateVectorSpace', { name: 'g', dim: 64 }), S.PERMISSION_DENIED, 'create as reader');
    await fails(unary(c, 'CreateVectorSpace', { name: 'g' }, writer), S.INVALID_ARGUMENT, 'create without dim');
    await fails(unary(c, 'CreateVectorSpace', { name: 'g', dim: 64, metric: 'manhattan' }, writer),
      S.INVALID_ARGUMENT, 'unknown metric');
    const sp = await unary(c, 'CreateVectorSpace', { name: 'g', dim: 64, embedder: 'hashed', m: 8,
      efConstruction: 60, ef: 30 }, writer);
    assert.deepEqual([sp.name, sp.dim, sp.metric, sp.embedder, sp.m, sp.efConstruction, sp.ef, sp.kind],
      ['g', 64, 'cosine', 'hashed-ngrams', 8, 60, 30, 'fact'], 'the space as created');
    await fails(unary(c, 'CreateVectorSpace', { name: 'g', dim: 64 }, writer), S.ALREADY_EXISTS, 'create twice');
    const rs = await rest('POST', '/v2/vectors', { name: 'e', dim: 16, kind: 'entity', metric: 'l2', int8: true },
      writer);
    assert.equal(rs.status, 201, JSON.stringify(rs.json));
    const emb = await rest('POST', '/v2/vectors/g/embed', {}, writer);
    assert.equal(emb.status, 200, JSON.stringify(emb.json));
    const l = await unary(c, 'ListVectorSpaces', {});
    const rl = await rest('GET', '/v2/vectors');
    assert.equal(rl.status, 200);
    assert.deepEqual(l.spaces, rl.json.spaces.map(spaceOf), 'ListVectorSpaces equals GET /v2/vectors');
    assert.ok(Number(l.spaces.find((s) => s.name === "g").vectors) >= facts.length, `g has every fact: ${JSON.stringify(l.spaces)} ${JSON.stringify(emb.json)}`);
  }

  // 2. SimilarVectors equals REST for text, fact, vector and filters
  {
    const fid = (await rest('GET', '/v2/vectors/g/similar?text=Battery&k=1')).json.hits[0].id;
    for (const [req, q] of [
      [{ text: 'HasPart Computer CPU', k: 3 }, 'text=HasPart%20Computer%20CPU&k=3'],
      [{ fact: fid, k: 4 }, `fact=${fid}&k=4`],
      [{ text: 'Wheel', predicate: 'HasPart' }, 'text=Wheel&predicate=HasPart'],
      [{ text: 'Battery', entity: 'Car', k: 5 }, 'text=Battery&entity=Car&k=5'],
      [{ text: 'Seat', query: 'IsA(?m, Machine)', k: 3 }, 'text=Seat&query=IsA(%3Fm%2C%20Machine)&k=3'],
      [{ text: 'lives', ef: 40, k: 6 }, 'text=lives&ef=40&k=6'],
    ]) {
      const g = await unary(c, 'SimilarVectors', { space: 'g', ...req });
      const r = await rest('GET', `/v2/vectors/g/similar?${q}`);
      assert.equal(r.status, 200, `REST similar ${q}: ${JSON.stringify(r.json)}`);
      assert.ok(r.json.hits.length > 0, `REST similar ${q} has hits`);
      assert.deepEqual(g, similarOf(r.json), `SimilarVectors ${JSON.stringify(req)} equals REST`);
    }
    const vec = Array.from({ length: 64 }, (_, i) => ((i * 7) % 11) / 16 - 0.25); // exact in float32
    const g = await unary(c, 'SimilarVectors', { space: 'g', vector: vec, k: 4, ef: 40 });
    const r = await rest('POST', '/v2/vectors/g/similar', { vector: vec, k: 4, ef: 40 });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual(g, similarOf(r.json), 'SimilarVectors by vector equals POST .../similar');
    await fails(unary(c, 'SimilarVectors', { space: 'g', vector: [1, 2] }), S.INVALID_ARGUMENT,
      'a vector of another dim');
    await fails(unary(c, 'SimilarVectors', { space: 'g', vector: [NaN] }), S.INVALID_ARGUMENT, 'NaN');
    await fails(unary(c, 'SimilarVectors', { space: 'g', text: 'x', k: 1001 }), S.INVALID_ARGUMENT, 'k > 1000');
    await fails(unary(c, 'SimilarVectors', { space: 'nope', text: 'x' }), S.NOT_FOUND, 'unknown space');
    assert.equal((await rest('GET', '/v2/vectors/nope/similar?text=x')).status, 404, 'REST: 404 too');
    await fails(unary(c, 'SimilarVectors', { space: 'g' }), S.INVALID_ARGUMENT, 'no text, vector or fact');
    assert.equal((await rest('GET', '/v2/vectors/g/similar')).status, 400, 'REST: 400 too');
    await fails(unary(c, 'SimilarVectors', { space: 'g', text: 'x' }, null), S.UNAUTHENTICATED, 'no token');
  }

  // 3. DropVectorSpace needs the admin role
  {
    await fails(unary(c, 'DropVectorSpace', { name: 'e' }, writer), S.PERMISSION_DENIED, 'drop as writer');
    assert.deepEqual(await unary(c, 'DropVectorSpace', { name: 'e' }, admin), { name: 'e', dropped: true });
    await fails(unary(c, 'DropVectorSpace', { name: 'e' }, admin), S.NOT_FOUND, 'drop twice');
    const rl = await rest('GET', '/v2/vectors');
    assert.deepEqual(rl.json.spaces.map((s) => s.name), ['g'], 'dropped for REST');
  }

  // 4. the learned model: NOT_FOUND before training, then equal to REST
  {
    const none = await rest('GET', '/v2/model/score?statement=HasPart(Car%2C%20Wheel)');
    await fails(unary(c, 'ModelScore', { statement: 'HasPart(Car, Wheel)' }),
      none.status === 404 ? S.NOT_FOUND : S.FAILED_PRECONDITION, 'no model yet');
    const tr = spawnSync(bin, ['model', 'train', '--data', dataDir, '--dim', '8', '--epochs', '5',
      '--threads', '1', '--seed', '7'], { encoding: 'utf8' });
    assert.equal(tr.status, 0, `model train: ${tr.stderr}`);
    const info = await unary(c, 'ModelInfo', {});
    const ri = await rest('GET', '/v2/model');
    assert.equal(ri.status, 200, JSON.stringify(ri.json));
    assert.deepEqual(JSON.parse(info.modelJson), ri.json, 'ModelInfo equals GET /v2/model');

    const sc = await unary(c, 'ModelScore', { statement: 'HasPart(Car, Wheel)' });
    const rsc = (await rest('GET', '/v2/model/score?statement=HasPart(Car%2C%20Wheel)')).json;
    assert.deepEqual(sc, { statement: rsc.statement, plausibility: rsc.plausibility, score: rsc.score,
      rank: rsc.rank, entities: String(rsc.entities), edges: String(rsc.edges), inKb: rsc.in_kb,
      rankSubject: rsc.rank_subject || 0, ranker: rsc.ranker || '', rankRanker: rsc.rank_ranker || 0,
      hasCombined: 'combined' in rsc, combined: rsc.combined || 0 }, 'ModelScore equals REST');

    // every ranker: auto, model and combined (this KB's model has a validation split)
    assert.ok('combined' in rsc, `the model has a combined ranker: ${JSON.stringify(rsc)}`);
    const rankers = ['', 'model', 'combined'];
    for (const ranker of rankers) {
      for (const [pattern, k] of [['HasPart(Car, ?x)', 3], ['HasPart(?x, Wheel)', 0], ['?r(Car, Wheel)', 2]]) {
        const p = await unary(c, 'ModelPredict', { pattern, k, ranker });
        const r = await rest('GET', `/v2/model/predict?pattern=${encodeURIComponent(pattern)}` +
          `${k ? `&k=${k}` : ''}${ranker ? `&ranker=${ranker}` : ''}`);
        assert.equal(r.status, 200, JSON.stringify(r.json));
        assert.ok(r.json.candidates.length > 0, `${pattern}: candidates`);
        if (ranker) assert.equal(p.ranker, pattern.startsWith('?r') ? 'model' : ranker, `${pattern}: ranker`);
        const cands = r.json.candidates.map((x) => ({ ...x, combined: x.combined || 0 }));
        assert.deepEqual(p, { pattern: r.json.pattern, predicts: r.json.predicts, ranker: r.json.ranker,
          candidates: cands }, `ModelPredict ${pattern} ranker '${ranker}' equals REST`);
      }
    }
    await fails(unary(c, 'ModelPredict', { pattern: 'HasPart(Car, ?x)', ranker: 'best' }), S.INVALID_ARGUMENT,
      'an unknown ranker');
    assert.equal((await rest('GET', '/v2/model/predict?pattern=HasPart(Car%2C%20%3Fx)&ranker=best')).status, 400);
    const sim = await unary(c, 'ModelSimilar', { entity: 'Car', k: 2 });
    const rsim = await rest('GET', '/v2/model/similar?entity=Car&k=2');
    assert.equal(rsim.status, 200, JSON.stringify(rsim.json));
    assert.deepEqual(sim, rsim.json, 'ModelSimilar equals REST');

    await fails(unary(c, 'ModelPredict', { pattern: 'HasPart(Car, Wheel)' }), S.INVALID_ARGUMENT,
      'a pattern without an unknown');
    assert.equal((await rest('GET', '/v2/model/predict?pattern=HasPart(Car%2C%20Wheel)')).status, 400);
    await fails(unary(c, 'ModelSimilar', { entity: '' }), S.INVALID_ARGUMENT, 'no entity');
    await fails(unary(c, 'ModelSimilar', { entity: 'Car', k: 5000 }), S.INVALID_ARGUMENT, 'k > 1000');
    const unknown = await rest('GET', '/v2/model/similar?entity=Nobody');
    await fails(unary(c, 'ModelSimilar', { entity: 'Nobody' }),
      unknown.status === 404 ? S.NOT_FOUND : S.INVALID_ARGUMENT, 'unknown entity as REST');
  }
  c.close();
  // a clean stop: exit code 0 (under ASan, no leak reports either)
  const exited = new Promise((res) => server.once('exit', (code) => res(code)));
  server.kill('SIGTERM');
  assert.equal(await exited, 0, `server exit code (log: ${log})`);
  server = null;
  console.log('ok: vectors and model over gRPC equal REST');
} finally {
  if (server && server.exitCode === null) server.kill('SIGKILL');
  fs.rmSync(root, { recursive: true, force: true });
}
