// End-to-end, differential: the reference MCP memory server
// (@modelcontextprotocol/server-memory, pinned in package.json) and
// `hakgal mcp --profile memory` receive the same seeded random sequences of
// the 9 tool calls through the official MCP SDK client; every result
// (content text, structuredContent, isError) and the final read_graph must
// be equal. Also: the tool listings agree, and two hakgal clients writing
// at once lose nothing.
//
// The sequences use unicode, empty strings, texts with control characters,
// '%', duplicates across calls and inside one call (entities of one name
// with the same or another type, equal relations, a text twice in one
// list: the reference keeps every copy), operations on such copies,
// unknown entities and deletes of missing items.
//
// HK_MEMORY_SEED picks the first seed; HK_MEMORY_STEPS the calls per seed.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { randomCaller, rng, shape } from './mcp_memory_random.mjs';

const bin = process.env.HAKGAL_BIN;
assert.ok(bin, 'HAKGAL_BIN must name the hakgal binary');
const here = path.dirname(fileURLToPath(import.meta.url));
const refMain = path.join(here, 'node_modules/@modelcontextprotocol/server-memory/dist/index.js');
if (!fs.existsSync(refMain)) {
  console.log('SKIP: reference server not installed (bash scripts/test-setup.sh)');
  process.exit(77);
}
const root = path.join(process.env.HK_TEST_TMP || '/tmp', `mcp-memory-diff-${process.pid}`);
fs.rmSync(root, { recursive: true, force: true });
fs.mkdirSync(root, { recursive: true });

async function connect(command, args, env) {
  const transport = new StdioClientTransport({
    command, args, env: { PATH: process.env.PATH, ...env }, stderr: 'ignore',
  });
  const client = new Client({ name: 'memory-diff', version: '1.0.0' });
  await client.connect(transport);
  return client;
}
const connectRef = (file) => connect(process.execPath, [refMain], { MEMORY_FILE_PATH: file });
const connectHk = (dir) => connect(bin, ['mcp', '--profile', 'memory', '--data', dir], {});

const NAMES = ['Alice', 'bob', 'BOB', 'Ünïcødé 名前', '', 'Ωμέγα', 'Привет мир',
  ' leading space', 'a, b (c)', '%41 percent', 'tab\there', 'emoji 🎉',
  'x', 'ÀÉÎ', 'quote "q"', 'back\\slash', 'Alice2'];
const TYPES = ['person', 'Person', '', 'ort', 'Λέξη', 'thing'];
const OBS = ['likes tea', 'LIKES TEA', '', 'ünïcødé', 'Ωμέγα 1', 'line\nbreak',
  'ctrl\u0001char', '%', '%%41', 'x', '東京', 'bob knows', 'a"b', 'ÀÉÎ lower àéî',
  'Привет', 'long ' + 'z'.repeat(300)];
const RELS = ['knows', 'works at', '', 'κοντά', 'knows'];
const QUERIES = ['', 'a', 'ALICE', 'tea', 'ωμέγα', 'ПРИВЕТ', 'àéî', 'nothing-here',
  'ö', ' ', '%', 'x', '名前'];

const randomCall = randomCaller({ NAMES, TYPES, OBS, RELS, QUERIES });

let failures = 0;
try {
  // 1. tool listings agree (names, texts, schemas, hints)
  {
    const ref = await connectRef(path.join(root, 'list.jsonl'));
    const hk = await connectHk(path.join(root, 'list-kb'));
    const strip = (tools) => tools.map((t) => ({
      name: t.name, title: t.title, description: t.description, inputSchema: t.inputSchema,
      outputSchema: t.outputSchema,
      hints: [t.annotations.readOnlyHint, t.annotations.destructiveHint,
        t.annotations.idempotentHint, t.annotations.openWorldHint],
    }));
    // hakgal's opt-in pagination, provenance and ranking add optional
    // properties; without them
    // the listings are equal
    const hkTools = structuredClone((await hk.listTools()).tools);
    for (const t of hkTools) {
      if (!['read_graph', 'search_nodes', 'open_nodes'].includes(t.name)) continue;
      if (t.name !== 'open_nodes') {
        assert.ok(t.inputSchema.properties.limit && t.inputSchema.properties.cursor);
        delete t.inputSchema.properties.limit;
        delete t.inputSchema.properties.cursor;
      }
      assert.ok(t.inputSchema.properties.provenance);
      assert.deepEqual(t.inputSchema.required || [], t.name === 'read_graph' ? [] : [t.name === 'open_nodes' ? 'names' : 'query']);
      delete t.inputSchema.properties.provenance;
      if (t.name === 'search_nodes') {
        assert.equal(t.inputSchema.properties.rank.type, 'boolean');
        delete t.inputSchema.properties.rank;
      }
      delete t.outputSchema.properties.nextCursor;
      delete t.outputSchema.properties.entities.items.properties.provenance;
    }
    assert.deepEqual(strip(hkTools), strip((await ref.listTools()).tools));
    await ref.close();
    await hk.close();
  }

  // 1b. invalid and extra arguments: the reference's SDK drops unknown
  // properties and answers a tool error listing every zod issue; hakgal
  // must answer the same text
  {
    const ref = await connectRef(path.join(root, 'args.jsonl'));
    const hk = await connectHk(path.join(root, 'args-kb'));
    const bad = [
      ['create_entities', { entities: [{ name: 'a', entityType: 't', observations: ['x'], extra: 1 }], bogus: true }],
      ['create_entities', { entities: [{ name: 5, entityType: null, observations: [1, 'y', false] }] }],
      ['create_entities', {}],
      ['create_entities', { entities: 'no' }],
      ['create_relations', { relations: [{ from: 'a' }, { from: 1, to: [], relationType: {} }] }],
      ['add_observations', { observations: [{ entityName: 'a', contents: 'x' }, {}] }],
      ['delete_entities', { entityNames: [1, 2] }],
      ['delete_observations', { deletions: [{ entityName: 'a' }] }],
      ['delete_relations', { relations: [{}] }],
      ['read_graph', { anything: [1, 2, 3] }],
      ['search_nodes', { query: 7, unknown: 'z' }],
      ['open_nodes', { names: 'a' }],
      ['open_nodes', { names: ['a', 2.5] }],
    ];
    for (const [name, args] of bad) {
      const a = shape(await ref.callTool({ name, arguments: args }));
      const b = shape(await hk.callTool({ name, arguments: args }));
      assert.deepEqual(b, a, `invalid arguments ${name} ${JSON.stringify(args)}`);
    }
    await ref.close();
    await hk.close();
  }

  // 1c. the knowledge-graph resource, its subscription, and the
  // capabilities: the same as the reference's
  {
    const { ResourceUpdatedNotificationSchema } = await import('@modelcontextprotocol/sdk/types.js');
    const seen = {};
    const side = async (name, c) => {
      let updates = 0;
      c.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => { if (n.params.uri === 'memory://knowledge-graph') updates++; });
      const out = { caps: c.getServerCapabilities() };
      out.list = await c.listResources();
      out.templates = await c.listResourceTemplates();
      await c.subscribeResource({ uri: 'memory://knowledge-graph' });
      await c.callTool({ name: 'create_entities', arguments: { entities: [{ name: 'r1', entityType: 't', observations: ['ü "q"', 'x'] }] } });
      await c.callTool({ name: 'create_relations', arguments: { relations: [{ from: 'r1', to: 'r1', relationType: 'self' }] } });
      await new Promise((res) => setTimeout(res, 300));
      out.updates = updates;
      out.read = await c.readResource({ uri: 'memory://knowledge-graph' });
      for (const [what, f] of [['badResource', () => c.readResource({ uri: 'memory://nope' })],
        ['prompts', () => c.listPrompts()]]) {
        try { out[what] = await f(); } catch (e) { out[what] = { code: e.code, message: e.message }; }
      }
      seen[name] = out;
      await c.close();
    };
    await side('ref', await connectRef(path.join(root, 'res.jsonl')));
    await side('hk', await connectHk(path.join(root, 'res-kb')));
    assert.deepEqual(seen.hk, seen.ref, 'resource, subscription and capabilities');
    assert.equal(seen.hk.updates, 2);
  }

  // 1d. search_nodes lower-cases as JavaScript's toLowerCase does (full
  // Unicode mapping with final sigma, dotted I, title case, 4-byte letters)
  {
    const names = ['ΟΔΥΣΣΕΥΣ', 'İstanbul', 'Straße', 'ǅemal', 'ＡＢＣ', 'Ⅻ', 'ΆΈΉ', 'ꞪꞫ', '𐐀Deseret', 'ÅNGSTRÖM'];
    const queries = ['ς', 'σ', 'i̇', 'istanbul', 'straße', 'ǆ', 'ａｂｃ', 'ⅻ', 'άέή', 'ɦ', '𐐨', 'ångström', 'ΟΔΥ', 'STRASSE'];
    const answers = {};
    for (const [name, c] of [['ref', await connectRef(path.join(root, 'case.jsonl'))], ['hk', await connectHk(path.join(root, 'case-kb'))]]) {
      await c.callTool({ name: 'create_entities', arguments: { entities: names.map((n) => ({ name: n, entityType: 'T', observations: ['Obs ' + n] })) } });
      answers[name] = [];
      for (const q of queries) answers[name].push(shape(await c.callTool({ name: 'search_nodes', arguments: { query: q } })));
      await c.close();
    }
    assert.deepEqual(answers.hk, answers.ref, 'Unicode lower-casing of search_nodes');
  }

  // 2. random sequences, call by call
  const seed0 = Number(process.env.HK_MEMORY_SEED || 20261204);
  const steps = Number(process.env.HK_MEMORY_STEPS || 400);
  const seeds = [seed0, seed0 + 1, seed0 + 2];
  let calls = 0;
  let copiesMade = 0; // entity objects created beside another of their name
  const t0 = Date.now();
  for (const seed of seeds) {
    const ref = await connectRef(path.join(root, `ref-${seed}.jsonl`));
    const hk = await connectHk(path.join(root, `kb-${seed}`));
    const r = rng(seed);
    for (let i = 0; i < steps; i++) {
      const call = randomCall(r);
      const a = shape(await ref.callTool(call));
      const b = shape(await hk.callTool(call));
      calls++;
      if (call.name === 'create_entities' && !a.isError) {
        const names = a.structuredContent.entities.map((e) => e.name);
        copiesMade += names.length - new Set(names).size;
      }
      try {
        assert.deepEqual(b, a);
      } catch (e) {
        console.error(`seed ${seed} step ${i}: ${JSON.stringify(call)}`);
        throw e;
      }
    }
    const ga = shape(await ref.callTool({ name: 'read_graph', arguments: {} }));
    const gb = shape(await hk.callTool({ name: 'read_graph', arguments: {} }));
    assert.deepEqual(gb, ga, `final read_graph of seed ${seed}`);
    // opt-in pagination: the pages of read_graph and search_nodes put
    // together are the whole answer
    for (const [tool, extra] of [['read_graph', {}], ['search_nodes', { query: 'a' }]]) {
      const whole = (await hk.callTool({ name: tool, arguments: extra })).structuredContent;
      const ents = [];
      let rels = [];
      let cursor;
      for (let pages = 0; pages < 1000; pages++) {
        const p = (await hk.callTool({ name: tool, arguments: { ...extra, limit: 2, ...(cursor ? { cursor } : {}) } })).structuredContent;
        assert.ok(p.entities.length + (tool === 'read_graph' ? p.relations.length : 0) <= 2);
        ents.push(...p.entities);
        rels.push(...p.relations);
        cursor = p.nextCursor;
        if (!cursor) break;
      }
      assert.deepEqual(ents, whole.entities, `${tool} pages: entities`);
      if (tool === 'read_graph') {
        assert.deepEqual(rels, whole.relations, `${tool} pages: relations`);
      } else {
        // each page of search_nodes carries the relations of its entities
        const key = (x) => JSON.stringify(x);
        const set = (a) => [...new Set(a.map(key))].sort();
        assert.deepEqual(set(rels), set(whole.relations), `${tool} pages: relations`);
      }
    }
    const bad = await hk.callTool({ name: 'read_graph', arguments: { cursor: 'nonsense' } });
    assert.equal(bad.isError, true);
    // opt-in provenance: who created each entity, and when
    const pv = (await hk.callTool({ name: 'read_graph', arguments: { provenance: true } })).structuredContent;
    assert.equal(pv.entities.length, ga.structuredContent.entities.length);
    for (const e of pv.entities) {
      assert.equal(e.provenance.createdBy, 'mcp-memory');
      assert.match(e.provenance.createdAt, /^\d{4}-\d\d-\d\dT/);
      delete e.provenance;
    }
    assert.deepEqual(pv.entities, ga.structuredContent.entities);
    console.log(`seed ${seed}: ${steps} calls equal, final graph ${ga.structuredContent.entities.length} entities, ` +
      `${ga.structuredContent.relations.length} relations`);
    await ref.close();
    await hk.close();

    // the reference's file: imported losslessly, exported back byte-equal
    const file = path.join(root, `ref-${seed}.jsonl`);
    const kb = path.join(root, `import-${seed}`);
    execFileSync(bin, ['--data', kb, 'init'], { stdio: 'pipe' });
    execFileSync(bin, ['--data', kb, 'import', '--format', 'mcp-memory', file], { stdio: 'pipe' });
    const back = execFileSync(bin, ['--data', kb, 'export', '--format', 'mcp-memory']);
    assert.equal(back.toString('utf8'), fs.readFileSync(file, 'utf8'), `export of seed ${seed}`);
    // auto-detected too
    const kb2 = path.join(root, `import-auto-${seed}`);
    execFileSync(bin, ['--data', kb2, 'init'], { stdio: 'pipe' });
    execFileSync(bin, ['--data', kb2, 'import', file], { stdio: 'pipe' });
    assert.deepEqual(execFileSync(bin, ['--data', kb2, 'export', '--format', 'mcp-memory']), back);

    // MEMORY_FILE_PATH: taken over on first start, the file left untouched
    const sum = () => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    const before = sum();
    for (let start = 0; start < 2; start++) {
      const c = await connect(bin, ['mcp', '--profile', 'memory'], { MEMORY_FILE_PATH: file });
      const g = shape(await c.callTool({ name: 'read_graph', arguments: {} }));
      assert.deepEqual(g, ga, `read_graph after taking over ${file} (start ${start})`);
      await c.close();
    }
    assert.equal(sum(), before, 'the memory file is not changed');
    assert.ok(fs.existsSync(`${file}.hakgal`), 'the KB lies next to the memory file');
  }
  console.log(`${calls} calls in ${Date.now() - t0} ms (${copiesMade} entity copies made); ` +
    'round trips and takeovers equal');
  assert.ok(copiesMade > 0, 'the sequences create copies');

  // 2b. a memory file with repeated lines (entities of one name with the
  // same and another type, equal relations, a text twice in a list): the
  // reference loads every line; hakgal imports each as a copy, answers the
  // same calls on them, and exports the file back byte for byte
  {
    const lines = [
      { type: 'entity', name: 'Ada', entityType: 'person', observations: ['math', 'math', 'poems'] },
      { type: 'entity', name: 'Bob', entityType: 'person', observations: [] },
      { type: 'entity', name: 'Ada', entityType: 'person', observations: ['math', 'math', 'poems'] },
      { type: 'entity', name: 'Ada', entityType: 'robot', observations: ['gears'] },
      { type: 'entity', name: '', entityType: '', observations: ['', ''] },
      { type: 'relation', from: 'Ada', to: 'Bob', relationType: 'knows' },
      { type: 'relation', from: 'Bob', to: 'Ada', relationType: 'knows' },
      { type: 'relation', from: 'Ada', to: 'Bob', relationType: 'knows' },
      { type: 'relation', from: 'Ada', to: 'Bob', relationType: 'knows' },
    ];
    const text = lines.map((l) => JSON.stringify(l)).join('\n');
    const file = path.join(root, 'dups.jsonl');
    fs.writeFileSync(file, text);
    const kb = path.join(root, 'dups-kb');
    execFileSync(bin, ['--data', kb, 'init'], { stdio: 'pipe' });
    execFileSync(bin, ['--data', kb, 'import', '--format', 'mcp-memory', file], { stdio: 'pipe' });
    assert.equal(execFileSync(bin, ['--data', kb, 'export', '--format', 'mcp-memory']).toString('utf8'), text,
      'a file with repeated lines exports back byte for byte');
    // importing it again adds nothing
    execFileSync(bin, ['--data', kb, 'import', '--format', 'mcp-memory', file], { stdio: 'pipe' });
    assert.equal(execFileSync(bin, ['--data', kb, 'export', '--format', 'mcp-memory']).toString('utf8'), text,
      'a second import of the same file adds nothing');
    const refFile = path.join(root, 'dups-ref.jsonl');
    fs.writeFileSync(refFile, text);
    const ref = await connectRef(refFile);
    const hk = await connectHk(kb);
    const calls2 = [
      { name: 'read_graph', arguments: {} },
      { name: 'search_nodes', arguments: { query: 'gear' } },
      { name: 'open_nodes', arguments: { names: ['Ada', ''] } },
      { name: 'add_observations', arguments: { observations: [{ entityName: 'Ada', contents: ['math', 'gears', 'x', 'x'] }] } },
      { name: 'delete_observations', arguments: { deletions: [{ entityName: 'Ada', observations: ['math'] }, { entityName: '', observations: [''] }] } },
      { name: 'create_entities', arguments: { entities: [{ name: 'Ada', entityType: 'x', observations: [] }, { name: 'Cy', entityType: 'x', observations: ['a', 'a'] }, { name: 'Cy', entityType: 'x', observations: ['a', 'a'] }] } },
      { name: 'create_relations', arguments: { relations: [{ from: 'Ada', to: 'Bob', relationType: 'knows' }, { from: 'Cy', to: 'Cy', relationType: 'is' }, { from: 'Cy', to: 'Cy', relationType: 'is' }] } },
      { name: 'read_graph', arguments: {} },
      { name: 'delete_relations', arguments: { relations: [{ from: 'Ada', to: 'Bob', relationType: 'knows' }] } },
      { name: 'delete_entities', arguments: { entityNames: ['Cy'] } },
      { name: 'open_nodes', arguments: { names: ['Ada', 'Bob', 'Cy'] } },
      { name: 'delete_entities', arguments: { entityNames: ['Ada'] } },
      { name: 'read_graph', arguments: {} },
    ];
    for (const call of calls2) {
      assert.deepEqual(shape(await hk.callTool(call)), shape(await ref.callTool(call)),
        `repeated lines: ${JSON.stringify(call)}`);
    }
    await ref.close();
    await hk.close();
    console.log('a memory file with repeated lines: imported, answered and exported as the reference does');
  }

  // 3. two clients writing at once on one KB lose nothing
  {
    const dir = path.join(root, 'kb-concurrent');
    const c1 = await connectHk(dir);
    const c2 = await connectHk(dir);
    const n = 60;
    const work = (c, tag) => (async () => {
      for (let i = 0; i < n; i++) {
        await c.callTool({ name: 'create_entities', arguments: { entities: [
          { name: `${tag}-${i}`, entityType: tag, observations: [`o${i}`] }] } });
        await c.callTool({ name: 'add_observations', arguments: { observations: [
          { entityName: 'shared', contents: [`${tag}-${i}`] }] } }).catch(() => {});
      }
    })();
    await c1.callTool({ name: 'create_entities', arguments: { entities: [
      { name: 'shared', entityType: 'hub', observations: [] }] } });
    await Promise.all([work(c1, 'one'), work(c2, 'two')]);
    const g = (await c1.callTool({ name: 'read_graph', arguments: {} })).structuredContent;
    assert.equal(g.entities.length, 1 + 2 * n, 'every entity of both clients is there');
    const shared = g.entities.find((e) => e.name === 'shared');
    assert.equal(shared.observations.length, 2 * n, 'every observation of both clients is there');
    console.log(`concurrent: 2 clients x ${n} writes, nothing lost`);
    await c1.close();
    await c2.close();
  }

  // 4. a takeover whose import failed is tried again at the next start
  {
    const file = path.join(root, 'retry.jsonl');
    fs.mkdirSync(file); // readable by stat, not as a file: the import fails
    const env = { PATH: process.env.PATH, MEMORY_FILE_PATH: file };
    const failed = spawnSync(bin, ['mcp', '--profile', 'memory'], { env, input: '' });
    assert.notEqual(failed.status, 0, 'the start whose import failed fails');
    assert.match(failed.stderr.toString(), /next start tries again/);
    assert.ok(fs.existsSync(`${file}.hakgal`), 'the KB was created before the import');
    fs.rmdirSync(file);
    fs.writeFileSync(file, [
      '{"type":"entity","name":"Ada","entityType":"person","observations":["math"]}',
      '{"type":"entity","name":"Bob","entityType":"person","observations":[]}',
      '{"type":"relation","from":"Ada","to":"Bob","relationType":"knows"}'].join('\n'));
    const want = { entities: [{ name: 'Ada', entityType: 'person', observations: ['math'] },
      { name: 'Bob', entityType: 'person', observations: [] }],
    relations: [{ from: 'Ada', to: 'Bob', relationType: 'knows' }] };
    const c = await connect(bin, ['mcp', '--profile', 'memory'], { MEMORY_FILE_PATH: file });
    assert.deepEqual((await c.callTool({ name: 'read_graph', arguments: {} })).structuredContent, want);
    // once imported, the KB is the memory: a deletion stays deleted
    await c.callTool({ name: 'delete_entities', arguments: { entityNames: ['Bob'] } });
    await c.close();
    assert.ok(!fs.existsSync(`${file}.hakgal.memory-import`), 'the marker is gone after the import');
    const c2 = await connect(bin, ['mcp', '--profile', 'memory'], { MEMORY_FILE_PATH: file });
    const g = (await c2.callTool({ name: 'read_graph', arguments: {} })).structuredContent;
    assert.deepEqual(g.entities.map((e) => e.name), ['Ada'], 'no import at a later start');
    await c2.close();
    console.log('takeover: a failed import is retried at the next start, and only then');
  }
} catch (e) {
  failures++;
  console.error(e);
}
fs.rmSync(root, { recursive: true, force: true });
process.exit(failures ? 1 : 0);
