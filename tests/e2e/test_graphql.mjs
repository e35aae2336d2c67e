// End-to-end: GraphQL on `hakgal serve`, checked with the reference
// implementation (graphql-js):
//   1. a client schema built from our introspection is valid, and prints
//      the same as the SDL served at /graphql/schema.graphql;
//   2. a corpus of valid and invalid documents gets the same verdict from
//      hakgal and from graphql-js's validate() against that schema;
//   3. executed results equal the REST answers for the same operations
//      (facts, pages with cursors, patterns, multi-pattern queries,
//      entities, predicates, search, audit, paths, neighbours);
//   4. mutations: the write role as for REST, add/update/delete/batch seen
//      through REST afterwards, one transaction per mutation;
//   4b. rules: rules, rule, why equal REST; addRule, setRuleEnabled,
//      deleteRule have REST's effect;
//   4c. the review queue: list equals REST, decisions need the reviewer
//      role;
//   4d. vectors: vectorSpaces and similar (text, fact, filters) equal
//      REST; createVectorSpace needs the write role, dropVectorSpace the
//      admin role, as POST and DELETE /v2/vectors do;
//   4e. the learned model (trained here, small): model, modelScore,
//      modelPredict, modelSimilar equal REST;
//   5. errors with locations and paths, GET rules, depth and complexity
//      limits.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  buildClientSchema, buildSchema, getIntrospectionQuery, lexicographicSortSchema,
  parse, printSchema, validate, validateSchema,
} from 'graphql';

const bin = process.env.HAKGAL_BIN;
assert.ok(bin, 'HAKGAL_BIN must name the hakgal binary');
const root = path.join(process.env.HK_TEST_TMP || '/tmp', `graphql-${process.pid}`);
fs.rmSync(root, { recursive: true, force: true });
fs.mkdirSync(root, { recursive: true });
const dataDir = path.join(root, 'kb');
const writer = 'writer-secret-0123456789';
const reader = 'reader-secret-0123456789';
const reviewer = 'reviewer-secret-0123456789';
const admin = 'admin-secret-0123456789';
const sha = (s) => createHash('sha256').update(s).digest('hex');
fs.writeFileSync(path.join(root, 'tokens'),
  `alice write ${sha(writer)}\nbob read ${sha(reader)}\ncarol reviewer ${sha(reviewer)}\n`
  + `dave admin ${sha(admin)}\n`);

let server;
let base;
function startServer() {
  server = spawn(bin, ['serve', '--data', dataDir, '--listen', '127.0.0.1:0', '--threads', '2',
    '--tokens', path.join(root, 'tokens')], {
    // libh2o's own buffers are reported at exit under ASan (not ours)
    env: { ...process.env, LSAN_OPTIONS: `suppressions=${path.join(path.dirname(
      new URL(import.meta.url).pathname), 'test_server_lsan.supp')}` },
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
        resolve(`http://127.0.0.1:${m[1]}`);
      }
    });
    server.on('exit', (code) => reject(new Error(`server exited ${code}: ${log}`)));
  });
}

const auth = (tok) => (tok ? { Authorization: `Bearer ${tok}` } : {});

async function gql(query, variables, token = writer, operationName) {
  const r = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...auth(token) },
    body: JSON.stringify({ query, variables, operationName }),
  });
  const text = await r.text();
  return { status: r.status, json: JSON.parse(text) };
}

async function rest(method, p, body, token = writer) {
  const r = await fetch(`${base}${p}`, {
    method,
    headers: { 'Content-Type': 'application/json', ...auth(token) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : null };
}

// A REST fact as GraphQL serializes it (ID is a string).
const asGql = (f) => ({ ...f, id: String(f.id) });
const FACT = 'id statement predicate args confidence source tags context created updated';

let checks = 0;
function eq(a, b, what) {
  assert.deepStrictEqual(a, b, what);
  checks++;
}

try {
  base = await startServer();

  // ---- seed through REST ----
  const seed = [
    'HasPart(Computer, CPU)', 'HasPart(CPU, Core)', 'HasPart(Core, ALU)', 'IsA(CPU, Chip)',
    'IsA(GPU, Chip)', 'HasPart(Computer, GPU)', 'Uses(Computer, Power)', 'Located(ALU, Core, Die)',
  ];
  for (const s of seed) {
    const r = await rest('POST', '/v2/facts', { statement: s, tags: ['seed'], source: 'e2e' });
    assert.equal(r.status, 201, `seed ${s}: ${JSON.stringify(r.json)}`);
  }

  // ==== 1. introspection -> client schema, valid, same as the SDL ====
  const intro = await gql(getIntrospectionQuery({ descriptions: true, specifiedByUrl: true,
    directiveIsRepeatable: true, schemaDescription: true, inputValueDeprecation: true }), undefined, null);
  assert.equal(intro.status, 200);
  assert.ok(!intro.json.errors, JSON.stringify(intro.json.errors));
  const schema = buildClientSchema(intro.json.data);
  eq(validateSchema(schema).map((e) => e.message), [], 'client schema is valid');
  const sdl = await (await fetch(`${base}/graphql/schema.graphql`)).text();
  const fromSdl = buildSchema(sdl);
  eq(validateSchema(fromSdl).map((e) => e.message), [], 'SDL schema is valid');
  eq(printSchema(lexicographicSortSchema(schema)), printSchema(lexicographicSortSchema(fromSdl)),
    'introspection and SDL describe the same schema');
  for (const t of ['Fact', 'Entity', 'Predicate', 'AuditEntry', 'FactConnection', 'PageInfo', 'Mutation'])
    assert.ok(schema.getType(t), `type ${t}`);

  // ==== 2. validation verdicts agree with graphql-js ====
  const corpus = [
    // valid
    '{ fact(id: 1) { id statement } }',
    'query { facts(first: 2) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }',
    'query Q($id: ID!) { fact(id: $id) { ...F } } fragment F on Fact { id args }',
    '{ a: fact(id: 1) { id } b: fact(id: 2) { id } }',
    '{ fact(id: 1) { id ... on Fact { statement } ... { tags } } }',
    'query ($s: Boolean!) { fact(id: 1) { id @skip(if: $s) statement @include(if: true) } }',
    '{ __typename entity(name: "CPU") { __typename name factCount } }',
    '{ __schema { queryType { name } types { name kind } } }',
    '{ __type(name: "Fact") { name fields { name type { kind name ofType { name } } } } }',
    'mutation M($in: FactInput!) { addFact(input: $in) { created fact { id } } }',
    'mutation { addFacts(inputs: {statement: "A(b)"}) { created } }',
    '{ paths(from: "Computer", to: "ALU") { length nodes facts } }',
    '{ entity(name: "CPU") { neighbours(depth: 2) { nodes { id kind } edges { from to fact } truncated } } }',
    'query A { stats } query B { predicates { nodes { name } } }',
    '{ fact(id: 1) { id id } }',
    '{ fact(id: 1) { x: id x: id } }',
    'query ($f: Int = 3) { facts(first: $f) { count } }',
    'query ($f: Int) { search(q: "cpu", first: $f) { score fact { id } } }',
    '{ fact(id: 1) { ...F ...F } } fragment F on Fact { id }',
    '{ pattern(q: "HasPart(?x, CPU)") { edges { bindings node { id } } } }',
    '{ query(q: "HasPart(?a, ?b), HasPart(?b, ?c)") { nodes { bindings facts } } }',
    '{ audit(first: 3) { edges { cursor node { seq op factId before after } } } }',
    'query ($t: [String!]) { facts { count } } query Z { stats }',
    '# comment\n{ fact(id: "1") { id } }',
    '{ fact(id: 1) { id } }\nfragment G on Entity { name }\nquery X { entity(name: "A") { ...G } }',
    'mutation { deleteFact(id: 99999) { id } }',
    '{ predicate(name: "HasPart") { name count facts(first: 1) { nodes { id } } } }',
    'query ($v: String = "x") { search(q: $v) { score } }',
    '{ __type(name: "FactInput") { inputFields { name defaultValue } } }',
    '{ fact(id: 1) { context } stats }',
    // invalid
    '{ fact(id: 1) { nope } }',
    '{ fact { id } }',
    '{ fact(id: 1) }',
    '{ fact(id: 1) { id { x } } }',
    '{ fact(id: 1, id: 2) { id } }',
    '{ fact(id: 1, bogus: 2) { id } }',
    '{ facts(first: "two") { count } }',
    '{ facts(first: 3000000000) { count } }',
    '{ fact(id: 1.5) { id } }',
    '{ fact(id: null) { id } }',
    '{ fact(id: 1) { ...Missing } }',
    '{ fact(id: 1) { id } } fragment Unused on Fact { id }',
    '{ fact(id: 1) { ...A } } fragment A on Fact { ...B } fragment B on Fact { ...A }',
    '{ fact(id: 1) { ... on Entity { name } } }',
    '{ fact(id: 1) { ...E } } fragment E on Entity { name }',
    '{ fact(id: 1) { ... on Nope { id } } }',
    'fragment S on String { x } { fact(id: 1) { ...S } }',
    'query ($x: ID!) { fact(id: 1) { id } }',
    '{ fact(id: $x) { id } }',
    'query ($x: String) { fact(id: $x) { id } }',
    'query ($x: ID) { fact(id: $x) { id } }',
    'query ($x: Fact) { stats }',
    'query ($x: Nope) { stats }',
    'query ($x: ID!, $x: ID!) { fact(id: $x) { id } }',
    'query A { stats } query A { stats }',
    '{ stats } query B { stats }',
    '{ fact(id: 1) { id @nope } }',
    'query @skip(if: true) { stats }',
    '{ fact(id: 1) { id @skip } }',
    '{ fact(id: 1) { id @skip(if: "yes") } }',
    '{ fact(id: 1) { id @skip(if: true) @skip(if: false) } }',
    'mutation { addFact(input: {statement: "A(b)", bogus: 1}) { created } }',
    'mutation { addFact(input: {statement: "A(b)", statement: "C(d)"}) { created } }',
    'mutation { addFact(input: "A(b)") { created } }',
    'mutation { addFact { created } }',
    '{ x: fact(id: 1) { id } x: entity(name: "a") { name } }',
    '{ fact(id: 1) { x: id x: statement } }',
    '{ a: fact(id: 1) { id } a: fact(id: 2) { id } }',
    'type Foo { a: Int }',
    '{ stats { x } }',
    '{ __type { name } }',
    '{ entity(name: "CPU") { neighbours(depth: "one") { truncated } } }',
    '{ fact(id: 1) { id }',
    '{ }',
    '{ fact(id: "unterminated) { id } }',
    'query { fact(id: 1) { id } } extra',
    '{ fact(id: 01) { id } }',
    '{ fact(id: 1) { ...on } }',
    'mutation { stats }',
    '{ addFact(input: {statement: "A(b)"}) { created } }',
  ];
  let agreeValid = 0;
  let agreeInvalid = 0;
  for (const q of corpus) {
    let ref;
    let opName;
    try {
      const doc = parse(q);
      ref = validate(schema, doc).length === 0;
      const ops = doc.definitions.filter((d) => d.kind === 'OperationDefinition');
      if (ops.length > 1 && ops[0].name) opName = ops[0].name.value;
    } catch {
      ref = false; // syntax error
    }
    // variables that fit every valid document of the corpus
    const vars = { id: '1', s: false, in: { statement: 'Corpus(x)' }, f: 2, v: 'x', x: '1' };
    const r = await gql(q, vars, writer, opName);
    assert.equal(r.status, 200, `${q}: HTTP ${r.status}`);
    const ours = 'data' in r.json;
    assert.equal(ours, ref, `verdict for ${JSON.stringify(q)}: hakgal ${ours ? 'valid' : 'invalid'} ` +
      `(${JSON.stringify(r.json.errors)}), graphql-js ${ref ? 'valid' : 'invalid'}`);
    if (!ours) {
      assert.ok(r.json.errors.length > 0 && r.json.errors[0].message, 'errors have messages');
    }
    if (ref) agreeValid++; else agreeInvalid++;
    checks++;
  }
  assert.ok(agreeValid >= 25 && agreeInvalid >= 45, `corpus ${agreeValid} valid, ${agreeInvalid} invalid`);

  // ==== 3. executed results equal REST's ====
  {
    const g = await gql(`{ fact(id: 1) { ${FACT} } }`);
    const r = await rest('GET', '/v2/facts/1');
    eq(g.json.data.fact, asGql(r.json), 'fact by id');
  }
  {
    // pages of facts by predicate, cursors followed to the end
    let after = null;
    let cursor = null;
    for (let page = 0; page < 10; page++) {
      const g = await gql(`query ($a: String) { facts(predicate: "HasPart", first: 2, after: $a) {
        edges { cursor node { ${FACT} } } nodes { id } pageInfo { hasNextPage endCursor } count } }`, { a: after });
      const q = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
      const r = await rest('GET', `/v2/facts?predicate=HasPart&limit=2${q}`);
      const c = g.json.data.facts;
      eq(c.edges.map((e) => e.node), r.json.facts.map(asGql), `facts page ${page}`);
      eq(c.count, r.json.count, 'page count');
      eq(c.pageInfo.endCursor, r.json.next_cursor, 'endCursor is next_cursor');
      eq(c.pageInfo.hasNextPage, r.json.next_cursor !== null, 'hasNextPage');
      if (c.edges.length) eq(c.edges[c.edges.length - 1].cursor, c.pageInfo.endCursor, 'last edge cursor');
      if (!c.pageInfo.hasNextPage) break;
      after = c.pageInfo.endCursor;
      cursor = r.json.next_cursor;
    }
  }
  {
    const g = await gql(`{ facts(entity: "Core") { nodes { ${FACT} } } }`);
    const r = await rest('GET', '/v2/facts?entity=Core');
    eq(g.json.data.facts.nodes, r.json.facts.map(asGql), 'facts by entity');
  }
  {
    const g = await gql(`{ pattern(q: "HasPart(?x, ?y)") { edges { bindings node { ${FACT} } } } }`);
    const r = await rest('GET', `/v2/query?q=${encodeURIComponent('HasPart(?x, ?y)')}`);
    eq(g.json.data.pattern.edges.map((e) => e.node), r.json.facts.map(asGql), 'pattern facts');
    eq(g.json.data.pattern.edges.map((e) => e.bindings), r.json.bindings, 'pattern bindings');
  }
  {
    const q = 'HasPart(?a, ?b), HasPart(?b, ?c)';
    const g = await gql('query ($q: String!) { query(q: $q) { nodes { bindings facts } count } }', { q });
    const r = await rest('GET', `/v2/query?q=${encodeURIComponent(q)}`);
    eq(g.json.data.query.nodes, r.json.rows.map((x) => ({ bindings: x.bindings, facts: x.facts.map(String) })),
      'multi-pattern rows');
  }
  {
    const g = await gql(`{ entity(name: "CPU") { name factCount facts { nodes { ${FACT} } } } }`);
    const r = await rest('GET', '/v2/entities/CPU');
    eq(g.json.data.entity.name, r.json.entity, 'entity name');
    eq(g.json.data.entity.factCount, r.json.fact_count, 'entity count');
    eq(g.json.data.entity.facts.nodes, r.json.facts.map(asGql), 'entity facts');
    const none = await gql('{ entity(name: "NoSuchThing") { name } }');
    eq(none.json.data.entity, null, 'unknown entity is null (REST 404)');
    eq((await rest('GET', '/v2/entities/NoSuchThing')).status, 404, 'REST 404');
  }
  {
    const g = await gql('{ entity(name: "CPU") { neighbours(depth: 2) { nodes { id kind } edges { from to label fact } truncated } } }');
    const r = await rest('GET', '/v2/graph/neighbours?entity=CPU&depth=2');
    const n = g.json.data.entity.neighbours;
    eq(n.nodes, r.json.nodes.map((x) => ({ id: x.id, kind: x.kind })), 'neighbour nodes');
    eq(n.edges, r.json.edges.map((e) => ({ ...e, fact: e.fact === null ? null : String(e.fact) })), 'neighbour edges');
    eq(n.truncated, r.json.truncated, 'truncated');
  }
  {
    const g = await gql('{ predicates(first: 2) { nodes { name count minArity maxArity } pageInfo { endCursor } } }');
    const r = await rest('GET', '/v2/predicates?limit=2');
    eq(g.json.data.predicates.nodes, r.json.predicates.map((p) => ({ name: p.name, count: p.count,
      minArity: p.min_arity, maxArity: p.max_arity })), 'predicates');
    eq(g.json.data.predicates.pageInfo.endCursor, r.json.next_after, 'predicates cursor');
    const g2 = await gql('query ($a: String) { predicates(after: $a) { nodes { name } } }',
      { a: r.json.next_after });
    const r2 = await rest('GET', `/v2/predicates?after=${encodeURIComponent(r.json.next_after)}`);
    eq(g2.json.data.predicates.nodes.map((p) => p.name), r2.json.predicates.map((p) => p.name), 'predicates page 2');
  }
  {
    const g = await gql(`{ search(q: "cpu chip", first: 5) { score fact { ${FACT} } } }`);
    const r = await rest('GET', '/v2/search?q=cpu%20chip&limit=5');
    assert.ok(r.json.results.length > 0);
    eq(g.json.data.search.map((h) => h.fact), r.json.results.map((h) => asGql(h.fact)), 'search facts');
    g.json.data.search.forEach((h, i) => assert.ok(Math.abs(h.score - r.json.results[i].score) < 1e-5, 'score'));
  }
  {
    const g = await gql('{ audit(first: 3) { edges { cursor node { seq time actor op factId factIdLast count before after prevHash hash } } pageInfo { endCursor } } }');
    const r = await rest('GET', '/v2/audit?limit=3');
    const entries = r.json.entries || r.json.audit || r.json.items;
    assert.ok(Array.isArray(entries), `audit answer ${JSON.stringify(Object.keys(r.json))}`);
    eq(g.json.data.audit.edges.map((e) => e.node), entries.map((e) => ({
      seq: String(e.seq), time: e.time, actor: e.actor, op: e.op,
      factId: e.fact_id === null ? null : String(e.fact_id),
      factIdLast: e.fact_id_last === null ? null : String(e.fact_id_last),
      count: e.count, before: e.before, after: e.after, prevHash: e.prev_hash, hash: e.hash,
    })), 'audit entries');
    eq(g.json.data.audit.edges.map((e) => e.cursor), entries.map((e) => String(e.seq)), 'audit cursors');
  }
  {
    const g = await gql('{ paths(from: "Computer", to: "ALU", k: 2) { length nodes facts } }');
    const r = await rest('GET', '/v2/graph/path?from=Computer&to=ALU&k=2');
    eq(g.json.data.paths, r.json.paths.map((p) => ({ ...p, facts: p.facts.map(String) })), 'paths');
  }
  {
    const g = await gql('{ stats }');
    const r = await rest('GET', '/v2/stats');
    eq(g.json.data.stats.facts, r.json.facts, 'stats facts');
  }

  // ==== 4. mutations ====
  {
    const m = 'mutation ($in: FactInput!) { addFact(input: $in) { created fact { id statement tags source confidence } } }';
    const vars = { in: { statement: 'HasPart(Phone, Battery)', tags: ['t1'], source: 'gql', confidence: 0.5 } };
    eq((await gql(m, vars, null)).status, 401, 'mutation without a token');
    eq((await gql(m, vars, reader)).status, 403, 'mutation with a read token');
    eq((await gql('{ stats }', undefined, reader)).status, 200, 'reads with a read token');
    const a = await gql(m, vars);
    eq(a.json.data.addFact.created, true, 'created');
    const id = a.json.data.addFact.fact.id;
    const r = await rest('GET', `/v2/facts/${id}`);
    eq(a.json.data.addFact.fact, { id: String(r.json.id), statement: r.json.statement, tags: r.json.tags,
      source: r.json.source, confidence: r.json.confidence }, 'added fact equals REST read');
    const again = await gql(m, vars);
    eq(again.json.data.addFact.created, false, 'MERGE: existing');
    eq(again.json.data.addFact.fact.id, id, 'same id');

    const u = await gql('mutation ($id: ID!) { updateFact(id: $id, input: {statement: "HasPart(Phone, Cell)"}) { id statement } }', { id });
    eq(u.json.data.updateFact, { id, statement: 'HasPart(Phone, Cell)' }, 'update');
    eq((await rest('GET', `/v2/facts/${id}`)).json.statement, 'HasPart(Phone, Cell)', 'update seen by REST');

    const b = await gql('mutation { addFacts(inputs: [{statement: "B(x)"}, {statement: "B("}, {predicate: "B", args: ["y"]}]) { created existing failed items { index id status error } } }');
    const bp = b.json.data.addFacts;
    eq([bp.created, bp.existing, bp.failed], [2, 0, 1], 'batch counts');
    eq(bp.items.map((i) => i.status), ['created', 'failed', 'created'], 'batch items');
    assert.ok(bp.items[1].error && bp.items[1].id === null, 'failed item has an error');
    eq((await rest('GET', `/v2/facts/${bp.items[2].id}`)).json.statement, 'B(y)', 'batch item seen by REST');

    const d = await gql('mutation ($id: ID!) { deleteFact(id: $id) { id deleted } }', { id });
    eq(d.json.data.deleteFact, { id, deleted: true }, 'delete');
    eq((await rest('GET', `/v2/facts/${id}`)).status, 404, 'deleted for REST');
    const d2 = await gql('mutation ($id: ID!) { deleteFact(id: $id) { id } }', { id });
    eq(d2.json.data, null, 'deleting again: null data (non-null field)');
    eq(d2.json.errors[0].path, ['deleteFact'], 'error path');
    eq(d2.json.errors[0].extensions.code, 'NOT_FOUND', 'error code');

    // fields of one mutation run in order in one transaction
    const two = await gql('mutation { a: addFact(input: {statement: "Seq(one)"}) { fact { id } } b: addFact(input: {statement: "Seq(two)"}) { fact { id } } }');
    assert.ok(Number(two.json.data.b.fact.id) === Number(two.json.data.a.fact.id) + 1, 'serial order');
    const audit = await rest('GET', '/v2/audit?limit=1');
    const head = (audit.json.entries || audit.json.audit || audit.json.items)[0];
    assert.ok(head.actor === 'alice', `audit actor is the token name: ${head.actor}`);
  }

  // ==== 4b. rules: reads equal REST, changes have REST's effect ====
  {
    const RULE = 'name version enabled created updated rule';
    const m = 'mutation ($r: String!, $n: String) { addRule(rule: $r, name: $n) { rule { ' + RULE + ' } derived } }';
    const vars = { r: 'Contains(?a, ?c) :- HasPart(?a, ?b), HasPart(?b, ?c).', n: 'contains' };
    eq((await gql(m, vars, reader)).status, 403, 'addRule with a read token');
    const a = await gql(m, vars);
    assert.ok(!a.json.errors, JSON.stringify(a.json.errors));
    const one = await rest('GET', '/v2/rules/contains');
    eq(a.json.data.addRule.rule, one.json, 'added rule equals REST read');
    assert.ok(a.json.data.addRule.derived > 0, 'the rule derived facts');
    const lr = await gql(`{ rules { rules { ${RULE} } derived } rule(name: "contains") { ${RULE} } none: rule(name: "nope") { name } }`);
    const rl = await rest('GET', '/v2/rules');
    eq(lr.json.data.rules, { rules: rl.json.rules, derived: rl.json.derived }, 'rules equal REST');
    eq(lr.json.data.rule, one.json, 'rule equals REST');
    eq(lr.json.data.none, null, 'unknown rule: null');
    const w = await gql('query ($s: String!) { why(statement: $s) }', { s: 'Contains(Computer, Core)' });
    const wr = await rest('GET', `/v2/why?statement=${encodeURIComponent('Contains(Computer, Core)')}`);
    eq(w.json.data.why, wr.json, 'why equals REST');
    const dis = await gql('mutation { setRuleEnabled(name: "contains", enabled: false) { rule { enabled } derived } }');
    eq(dis.json.data.setRuleEnabled.rule.enabled, false, 'disabled');
    eq((await rest('GET', '/v2/rules/contains')).json.enabled, false, 'disabled for REST');
    eq((await rest('GET', '/v2/rules')).json.derived, dis.json.data.setRuleEnabled.derived, 'derived after disable');
    const en = await gql('mutation { setRuleEnabled(name: "contains", enabled: true) { rule { enabled } } }');
    eq(en.json.data.setRuleEnabled.rule.enabled, true, 'enabled again');
    const bad = await gql('mutation { addRule(rule: "Broken(?x :- ") { derived } }');
    eq(bad.json.data, null, 'bad rule: null data');
    eq(bad.json.errors[0].extensions.code, 'BAD_USER_INPUT', 'bad rule: input error');
    const del = await gql('mutation { deleteRule(name: "contains") { deleted rule { name } } }');
    eq(del.json.data.deleteRule, { deleted: true, rule: { name: 'contains' } }, 'deleted');
    eq((await rest('GET', '/v2/rules/contains')).status, 404, 'deleted for REST');
    const again = await gql('mutation { deleteRule(name: "contains") { deleted } }');
    eq(again.json.errors[0].extensions.code, 'NOT_FOUND', 'deleting again: NOT_FOUND');
  }

  // ==== 4c. review queue: the list equals REST; decisions need the
  // reviewer role as REST's do ====
  {
    const g = await gql('{ review(status: "all") { count nodes { id statement status } pageInfo { hasNextPage } } }');
    const r = await rest('GET', '/v2/review?status=all');
    eq(g.json.data.review.count, r.json.count, 'review count equals REST');
    eq(g.json.data.review.nodes, r.json.proposals.map((p) => ({ id: String(p.id), statement: p.statement,
      status: p.status })), 'review list equals REST');
    const w = await gql('mutation { approveProposal(id: 999999) { status } }');
    eq(w.json.errors[0].extensions.code, 'FORBIDDEN', 'approve with a write token: FORBIDDEN');
    eq((await rest('POST', '/v2/review/999999/approve', {})).status, 403, 'REST: 403 for a write token');
    const nf = await gql('mutation { rejectProposal(id: 999999, note: "no") { status } }', undefined, reviewer);
    eq(nf.json.errors[0].extensions.code, 'NOT_FOUND', 'reject unknown proposal: NOT_FOUND');
    eq((await rest('POST', '/v2/review/999999/reject', {}, reviewer)).status, 404, 'REST: 404');
  }

  // ==== 4d. vectors: reads equal REST; creating needs the write role,
  // dropping the admin role, as REST's routes do ====
  {
    const ro = await gql('mutation { createVectorSpace(name: "g", dim: 64) { name } }', undefined, reader);
    eq(ro.status, 403, 'createVectorSpace with a read token: 403');
    const c = await gql('mutation { createVectorSpace(name: "g", dim: 64, embedder: "hashed", m: 8, '
      + 'efConstruction: 60, ef: 30) '
      + '{ name dim metric storage m efConstruction ef embedder vectors autoEmbed } }');
    assert.ok(!c.json.errors, JSON.stringify(c.json));
    const dup = await gql('mutation { createVectorSpace(name: "g", dim: 64) { name } }');
    eq(dup.json.errors[0].extensions.code, 'CONFLICT', `creating again: ${JSON.stringify(dup.json)}`);
    const emb = await rest('POST', '/v2/vectors/g/embed', {});
    eq(emb.status, 200, `embed: ${JSON.stringify(emb.json)}`);
    const SP = 'name dim metric storage m efConstruction ef embedder vectors autoEmbed';
    const toGql = (sp) => ({ name: sp.name, dim: sp.dim, metric: sp.metric, storage: sp.storage, m: sp.m,
      efConstruction: sp.ef_construction, ef: sp.ef, embedder: sp.embedder, vectors: sp.vectors,
      autoEmbed: sp.auto_embed });
    const list = await gql(`{ vectorSpaces { ${SP} } }`);
    const rl = await rest('GET', '/v2/vectors');
    eq(list.json.data.vectorSpaces, rl.json.spaces.map(toGql), 'vectorSpaces equals GET /v2/vectors');
    assert.ok(list.json.data.vectorSpaces[0].vectors > 0, 'the space has vectors');
    const HIT = 'space hits { id statement score } candidates exact indexed';
    const asHits = (r) => ({ ...r, hits: r.hits.map((h) => ({ ...h, id: String(h.id) })) });
    const fid = (await rest('GET', '/v2/vectors/g/similar?text=Chip&k=1')).json.hits[0].id;
    for (const [args, q] of [
      ['text: "HasPart Computer CPU", k: 3', 'text=HasPart%20Computer%20CPU&k=3'],
      [`fact: ${fid}, k: 4`, `fact=${fid}&k=4`],
      ['text: "Chip", predicate: "IsA"', 'text=Chip&predicate=IsA'],
      ['text: "Core", entity: "Core", k: 5', 'text=Core&entity=Core&k=5'],
    ]) {
      const g = await gql(`{ similar(space: "g", ${args}) { ${HIT} } }`);
      const r = await rest('GET', `/v2/vectors/g/similar?${q}`);
      eq(r.status, 200, `REST similar ${q}`);
      eq(g.json.data.similar, asHits(r.json), `similar(${args}) equals REST`);
    }
    eq([c.json.data.createVectorSpace.m, c.json.data.createVectorSpace.efConstruction,
      c.json.data.createVectorSpace.ef], [8, 60, 30], 'index parameters as given');
    {
      const vec = Array.from({ length: 64 }, (_, i) => ((i * 7) % 11) / 10 - 0.5);
      const g = await gql(`query ($v: [Float!]) { similar(space: "g", vector: $v, k: 4, ef: 40) { ${HIT} } }`, { v: vec });
      const r = await rest('POST', '/v2/vectors/g/similar', { vector: vec, k: 4, ef: 40 });
      eq(r.status, 200, `REST similar by vector: ${JSON.stringify(r.json)}`);
      eq(g.json.data.similar, asHits(r.json), 'similar(vector) equals REST');
      const bad = await gql('{ similar(space: "g", vector: [1, 2]) { space } }');
      assert.ok(bad.json.errors && bad.json.errors.length === 1, 'a vector of another dim is refused');
    }
    for (const mode of ['vector', 'hybrid']) {
      const g = await gql(`{ search(q: "cpu chip", first: 5, mode: "${mode}", space: "g") { score fact { ${FACT} } } }`);
      const r = await rest('GET', `/v2/search?q=cpu%20chip&limit=5&mode=${mode}&space=g`);
      eq(r.status, 200, `REST search ${mode}`);
      assert.ok(r.json.results.length > 0 && r.json.mode === mode, `search ${mode} has hits`);
      eq(g.json.data.search.map((h) => h.fact), r.json.results.map((h) => asGql(h.fact)), `search ${mode} facts`);
      g.json.data.search.forEach((h, i) => assert.ok(Math.abs(h.score - r.json.results[i].score) < 1e-5, 'score'));
    }
    const none = await gql('{ similar(space: "nope", text: "x") { space } }');
    eq(none.json.errors[0].extensions.code, 'NOT_FOUND', 'similar in an unknown space: NOT_FOUND');
    const w = await gql('mutation { dropVectorSpace(name: "g") { dropped } }');
    eq(w.json.errors[0].extensions.code, 'FORBIDDEN', 'drop with a write token: FORBIDDEN');
    eq((await rest('DELETE', '/v2/vectors/g')).status, 403, 'REST: 403 for a write token');
    const d = await gql('mutation { dropVectorSpace(name: "g") { name dropped } }', undefined, admin);
    eq(d.json.data.dropVectorSpace, { name: 'g', dropped: true }, 'dropped with an admin token');
    eq((await rest('GET', '/v2/vectors')).json.spaces, [], 'dropped for REST');
  }

  // ==== 4e. the learned model: every read equals REST ====
  {
    const nm = await gql('{ modelScore(statement: "HasPart(Computer, CPU)") }');
    eq(nm.json.errors[0].extensions.code, 'NOT_FOUND', `no model yet: ${JSON.stringify(nm.json)}`);
    const tr = spawnSync(bin, ['model', 'train', '--data', dataDir, '--dim', '8', '--epochs', '5',
      '--threads', '1', '--seed', '7'], { encoding: 'utf8' });
    eq(tr.status, 0, `model train: ${tr.stderr}`);
    for (const [field, p] of [
      ['model', '/v2/model'],
      ['modelScore(statement: "HasPart(Computer, CPU)")', '/v2/model/score?statement=HasPart(Computer%2C%20CPU)'],
      ['modelPredict(pattern: "HasPart(Computer, ?x)", k: 3)', '/v2/model/predict?pattern=HasPart(Computer%2C%20%3Fx)&k=3'],
      ['modelSimilar(entity: "CPU", k: 2)', '/v2/model/similar?entity=CPU&k=2'],
    ]) {
      const r = await rest('GET', p);
      eq(r.status, 200, `REST ${p}: ${JSON.stringify(r.json)}`);
      const g = await gql(`{ m: ${field} }`);
      eq(g.json.data.m, r.json, `${field} equals REST`);
    }
  }

  // ==== 5. errors, GET, limits ====
  {
    const s = await gql('{ fact(id: 1) {\n  id\n  nope\n} }');
    eq(s.json.errors[0].locations, [{ line: 3, column: 3 }], 'validation error location');
    const p = await gql('{ fact(id: 1) { id }');
    eq(p.json.errors[0].locations, [{ line: 1, column: 21 }], 'syntax error location');
    assert.ok(/Syntax Error/.test(p.json.errors[0].message));
    const e = await gql('{ ok: fact(id: 1) { id } bad: fact(id: "x") { id } }');
    eq(e.json.data.ok, { id: '1' }, 'partial data');
    eq(e.json.data.bad, null, 'errored field is null');
    eq(e.json.errors[0].path, ['bad'], 'field error path');
    eq(e.json.errors[0].locations, [{ line: 1, column: 26 }], 'field error location');
    const v = await gql('query ($id: ID!) { fact(id: $id) { id } }', {});
    assert.ok(!('data' in v.json) && /\$id/.test(v.json.errors[0].message), 'missing variable');
    const v2 = await gql('query ($n: Int) { facts(first: $n) { count } }', { n: 'x' });
    assert.ok(!('data' in v2.json), 'bad variable value');

    const g = await fetch(`${base}/graphql?query=${encodeURIComponent('{ fact(id: 1) { id } }')}`);
    eq(await g.json(), { data: { fact: { id: '1' } } }, 'GET query');
    const gm = await fetch(`${base}/graphql?query=${encodeURIComponent('mutation { deleteFact(id: 1) { id } }')}`,
      { headers: auth(writer) });
    eq(gm.status, 405, 'GET mutation refused');
    eq((await rest('GET', '/v2/facts/1')).status, 200, 'nothing deleted');
    const bad = await fetch(`${base}/graphql`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"nope":1}' });
    eq(bad.status, 400, 'no query: 400');
    const ops = await gql('query A { stats } query B { fact(id: 1) { id } }', undefined, writer, 'B');
    eq(ops.json.data, { fact: { id: '1' } }, 'operationName');
    const noop = await gql('query A { stats } query B { stats }');
    assert.ok(!('data' in noop.json), 'several operations need a name');

    let deep = 'stats';
    for (let i = 0; i < 20; i++) deep = `entity(name: "A") { facts { nodes { id } } }`;
    const nest = `{ ${'fact(id: 1) { '.repeat(1)}id } ${'__schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } } } } } } }'} }`;
    const dr = await gql(nest);
    assert.ok(!('data' in dr.json) && /depth/.test(dr.json.errors[0].message), `depth limit: ${JSON.stringify(dr.json)}`);
    const big = `{ ${Array.from({ length: 30 }, (_, i) => `a${i}: facts(first: 1000) { edges { node { id } } nodes { id } }`).join(' ')} }`;
    const br = await gql(big);
    assert.ok(!('data' in br.json) && /complexity/.test(br.json.errors[0].message), 'complexity limit');
    void deep;
  }

  // ==== 6. the same request through MCP (tool graphql) and the CLI ====
  const probe = `{ fact(id: 2) { ${FACT} } entity(name: "Core") { factCount facts { nodes { id } } } }`;
  const viaHttp = (await gql(probe)).json;
  {
    const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp`),
      { requestInit: { headers: auth(writer) } });
    const client = new Client({ name: 'hakgal-e2e-graphql', version: '1.0.0' });
    await client.connect(transport);
    const r = await client.callTool({ name: 'graphql', arguments: { query: probe } });
    eq(r.structuredContent, viaHttp, 'MCP graphql answers as POST /graphql');
    const v = await client.callTool({ name: 'graphql', arguments: {
      query: 'query ($n: String!) { entity(name: $n) { factCount } }', variables: { n: 'Core' } } });
    eq(v.structuredContent.data.entity.factCount, viaHttp.data.entity.factCount, 'MCP variables');
    const m = await client.callTool({ name: 'graphql', arguments: { query: 'mutation { deleteFact(id: 2) { id } }' } });
    assert.ok(m.isError, 'MCP graphql refuses mutations');
    await client.close();
  }
  const exited = new Promise((resolve) => server.on('exit', resolve));
  server.kill('SIGTERM');
  eq(await exited, 0, 'server exit status (leak checks under ASan)');
  server = null;
  const cli = spawnSync(bin, ['--data', dataDir, '--json', 'graphql', probe], { encoding: 'utf8' });
  eq(cli.status, 0, `hakgal graphql exit status: ${cli.stderr}`);
  eq(JSON.parse(cli.stdout), viaHttp, 'hakgal graphql answers as POST /graphql');
  const sdlCli = spawnSync(bin, ['graphql', '--schema'], { encoding: 'utf8' });
  eq(sdlCli.stdout, sdl, 'hakgal graphql --schema prints the served SDL');

  console.log(`ok: ${checks} checks (${corpus.length} corpus documents)`);
} finally {
  if (server) server.kill('SIGTERM');
}
