// Shared checks for the MCP end-to-end tests (test_mcp_sdk_stdio.mjs,
// test_mcp_sdk_http.mjs): drives a connected @modelcontextprotocol/sdk
// Client through all 30 tools of the legacy contract and checks the
// results against the knowledge base, the schemas, and the error rules.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';

export const TOOL_NAMES = [
  'search_knowledge', 'get_system_status', 'list_recent_facts', 'add_fact',
  'delete_fact', 'update_fact', 'kb_stats',
  'semantic_similarity', 'consistency_check', 'validate_facts',
  'get_entities_stats', 'search_by_predicate', 'get_predicates_stats',
  'query_related', 'analyze_duplicates',
  'list_audit', 'export_facts', 'growth_stats', 'health_check',
  'get_fact_history', 'backup_kb', 'restore_kb',
  'bulk_delete', 'find_isolated_facts', 'inference_chain',
  'get_knowledge_graph', 'bulk_translate_predicates',
  'project_snapshot', 'project_list_snapshots', 'project_hub_digest',
];
// Tools added after the legacy 30 (not part of the legacy contract).
export const NEW_TOOL_NAMES = ['graph_neighbours', 'graph_path', 'graph_analyze',
  'query_graph', 'vector_spaces', 'vector_similar', 'export_graph',
  'ask_knowledge', 'extract_facts', 'review_list', 'review_decide',
  'stream_status', 'kb_digest', 'score_fact', 'predict_links', 'add_rule',
  'list_rules', 'explain_fact', 'suggest_links', 'graphql',
  'check_statement', 'similar_entities', 'model_status', 'train_model',
  'vector_space', 'vector_entities'];

// Legacy parameters per tool (MCP_TOOLS.md); auth_token where it is a
// write tool.
export const TOOL_PARAMS = {
  search_knowledge: ['query', 'limit', 'mode', 'space'],
  get_system_status: [],
  list_recent_facts: ['count'],
  add_fact: ['statement', 'source', 'tags', 'auth_token'],
  delete_fact: ['statement', 'auth_token'],
  update_fact: ['old_statement', 'new_statement', 'auth_token'],
  kb_stats: [],
  semantic_similarity: ['statement', 'threshold', 'limit', 'mode', 'space'],
  consistency_check: ['limit'],
  validate_facts: ['limit', 'min_plausibility'],
  get_entities_stats: ['min_occurrences'],
  search_by_predicate: ['predicate', 'limit'],
  get_predicates_stats: [],
  query_related: ['entity', 'limit'],
  analyze_duplicates: ['threshold', 'max_pairs'],
  list_audit: ['limit'],
  export_facts: ['count', 'direction'],
  growth_stats: ['days', 'basis'], // basis: optional, added after 1.x
  health_check: ['deep'],
  get_fact_history: ['statement', 'limit', 'before'], // before: optional, added after 1.x
  backup_kb: ['description', 'auth_token'],
  restore_kb: ['backup_id', 'path', 'auth_token'],
  bulk_delete: ['statements', 'auth_token'],
  find_isolated_facts: ['limit'],
  inference_chain: ['start_fact', 'max_depth'],
  get_knowledge_graph: ['entity', 'depth', 'format'],
  bulk_translate_predicates: ['mapping', 'predicates', 'exclude_predicates',
    'dry_run', 'limit', 'limit_mode', 'start_offset', 'sample_strategy',
    'report_path', 'auth_token'],
  project_snapshot: ['title', 'description', 'hub_path', 'auth_token'],
  project_list_snapshots: ['hub_path', 'limit'],
  project_hub_digest: ['hub_path', 'limit_files', 'max_chars'],
  graph_neighbours: ['entity', 'depth', 'fanout', 'max_edges', 'direction',
    'allow', 'deny'],
  graph_path: ['from', 'to', 'max_len', 'k', 'direction', 'allow', 'deny'],
  graph_analyze: ['kind', 'top'],
  query_graph: ['query', 'limit', 'cursor', 'explain'],
  vector_spaces: [],
  vector_similar: ['space', 'text', 'vector', 'fact', 'k', 'predicate',
    'entity', 'tag', 'source', 'query', 'var'],
  export_graph: ['format', 'where', 'around', 'depth', 'base', 'max_bytes'],
  ask_knowledge: ['question', 'budget_tokens', 'search'],
  extract_facts: ['text', 'source', 'auth_token'],
  review_list: ['status', 'after', 'limit'],
  review_decide: ['id', 'decision', 'statement', 'note', 'auth_token'],
  stream_status: [],
  kb_digest: [],
  score_fact: ['statement'],
  predict_links: ['pattern', 'k', 'ranker'],
  suggest_links: ['pattern', 'k', 'min_plausibility', 'auth_token'],
  add_rule: ['rule', 'name', 'auth_token'],
  list_rules: [],
  explain_fact: ['statement'],
  graphql: ['query', 'variables', 'operation_name'],
  check_statement: ['statement'],
  similar_entities: ['entity', 'k'],
  model_status: [],
  train_model: ['kind', 'dim', 'epochs', 'threads', 'seed', 'auth_token'],
  vector_space: ['action', 'space', 'dim', 'metric', 'storage', 'embedder',
    'kind', 'model', 'auto_embed', 'm', 'ef_construction', 'ef', 'auth_token'],
  vector_entities: ['space', 'entities', 'model', 'remove', 'auth_token'],
};

export let passed = 0;
export function ok(cond, msg) {
  assert.ok(cond, msg);
  passed++;
}
export function eq(a, b, msg) {
  assert.deepEqual(a, b, msg);
  passed++;
}

// Runs the hakgal CLI and returns stdout.
export function cli(bin, args) {
  return execFileSync(bin, args, { encoding: 'utf8' });
}

// Lists every tool through the cursor pages.
export async function listAllTools(client) {
  const tools = [];
  let cursor;
  let pages = 0;
  do {
    const r = await client.listTools(cursor ? { cursor } : {});
    tools.push(...r.tools);
    cursor = r.nextCursor;
    pages++;
    ok(pages < 100, 'pagination terminates');
  } while (cursor);
  return { tools, pages };
}

export function checkToolListing(tools) {
  eq(tools.map((t) => t.name).sort(), [...TOOL_NAMES, ...NEW_TOOL_NAMES].sort(),
    'the 30 legacy tool names and the new ones');
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  for (const t of tools) {
    ok(/^[A-Za-z0-9_./-]{1,64}$/.test(t.name), `name pattern ${t.name}`);
    ok(typeof t.description === 'string' && t.description.length > 40, `${t.name} description`);
    eq(t.inputSchema.type, 'object', `${t.name} input type`);
    eq(t.inputSchema.$schema, 'https://json-schema.org/draft/2020-12/schema', `${t.name} $schema`);
    ok(t.outputSchema && t.outputSchema.type === 'object', `${t.name} outputSchema`);
    // both schemas compile under JSON Schema 2020-12
    ajv.compile(t.inputSchema);
    ajv.compile(t.outputSchema);
    eq(Object.keys(t.inputSchema.properties).sort(), [...TOOL_PARAMS[t.name]].sort(),
      `${t.name} parameters`);
    const a = t.annotations;
    ok(a && typeof a.readOnlyHint === 'boolean' && typeof a.destructiveHint === 'boolean' &&
      typeof a.idempotentHint === 'boolean' && a.openWorldHint === false, `${t.name} annotations`);
    const writes = TOOL_PARAMS[t.name].includes('auth_token');
    ok(a.readOnlyHint === !writes, `${t.name} readOnlyHint matches write tool`);
  }
  return ajv;
}

// Calls a tool and returns structuredContent; checks the result shape
// (structuredContent plus the same JSON as text, no isError) and validates
// it against the tool's output schema.
export async function call(client, validators, name, args) {
  const r = await client.callTool({ name, arguments: args });
  if (r.isError) throw new Error(`${name} failed: ${r.content?.[0]?.text}`);
  ok(r.structuredContent && typeof r.structuredContent === 'object', `${name} structuredContent`);
  eq(JSON.parse(r.content[0].text), r.structuredContent, `${name} text mirrors structuredContent`);
  const v = validators[name];
  ok(v(r.structuredContent), `${name} output matches outputSchema: ${JSON.stringify(v.errors)}`);
  return r.structuredContent;
}

export async function callError(client, name, args) {
  const r = await client.callTool({ name, arguments: args });
  ok(r.isError === true, `${name} reports isError`);
  return r.content[0].text;
}

export async function expectRpcError(promise, code, what) {
  try {
    await promise;
  } catch (e) {
    ok(e instanceof McpError, `${what}: McpError`);
    eq(e.code, code, `${what}: code ${code}`);
    return e;
  }
  assert.fail(`${what}: expected JSON-RPC error ${code}`);
}

const SEED = [
  'HasPart(Computer, CPU)',
  'HasPart(Computer, RAM)',
  'HasPart(Computers, CPU)',
  'IsA(CPU, Component)',
  'IsA(Component, CPU)',
  'IsA(CPU, Animal)',
  'NotIsA(CPU, Animal)',
  'Functional(HasCapital)',
  'HasCapital(France, Paris)',
  'HasCapital(France, Lyon)',
  'Lonely(Xyzzy, Plugh)',
  'Bond(NH3, chlorine, carbon)',
  'Causes(Heat, Expansion)',
];

// Exercises all the tools. ctx: {bin, dataDir, token, hubDir, stdio}.
export async function exerciseAllTools(client, ctx) {
  const { tools } = await listAllTools(client);
  const ajv = checkToolListing(tools);
  const validators = Object.fromEntries(tools.map((t) => [t.name, ajv.compile(t.outputSchema)]));
  const tok = ctx.token ? { auth_token: ctx.token } : {};

  // ---- writes ----
  const ids = {};
  for (const s of SEED) {
    const r = await call(client, validators, 'add_fact', { statement: s, source: 'e2e', tags: ['t1'], ...tok });
    ok(r.created === true, `added ${s}`);
    ids[s] = r.id;
  }
  const again = await call(client, validators, 'add_fact', { statement: 'HasPart(Computer,CPU).', ...tok });
  eq(again, { id: ids['HasPart(Computer, CPU)'], statement: 'HasPart(Computer, CPU)', created: false }, 'add is idempotent');

  // ---- basic reads ----
  const sk = await call(client, validators, 'search_knowledge', { query: 'computer', limit: 10 });
  ok(sk.facts.length >= 2 && sk.facts.every((f) => /Computer/.test(f.statement)), 'search finds Computer facts');
  const st = await call(client, validators, 'get_system_status', {});
  eq(st.server, 'hakgal', 'status server');
  ok(st.writes_enabled === true && st.facts === SEED.length, 'status counts');
  const recent = await call(client, validators, 'list_recent_facts', { count: 3 });
  eq(recent.facts.map((f) => f.statement), [...SEED].reverse().slice(0, 3), 'recent facts newest first');
  const stats = await call(client, validators, 'kb_stats', {});
  eq(stats.facts, SEED.length, 'kb_stats facts');
  ok(Number.isInteger(stats.bytes_free) && stats.bytes_free <= stats.bytes_on_disk, 'kb_stats bytes_free');

  // ---- update / delete ----
  const up = await call(client, validators, 'update_fact', { old_statement: 'Causes(Heat, Expansion)', new_statement: 'Causes(Heat, ThermalExpansion)', ...tok });
  ok(up.changed && up.id === ids['Causes(Heat, Expansion)'], 'update keeps id');
  const del = await call(client, validators, 'delete_fact', { statement: 'Causes(Heat, ThermalExpansion)', ...tok });
  ok(del.deleted && del.id === up.id, 'delete');
  const delAgain = await callError(client, 'delete_fact', { statement: 'Causes(Heat, ThermalExpansion)', ...tok });
  ok(/no such fact/.test(delAgain), 'delete of a missing fact explains');

  // ---- analysis ----
  const sim = await call(client, validators, 'semantic_similarity', { statement: 'HasPart(Computer, CPU)', threshold: 0.5, limit: 10 });
  ok(sim.matches[0].statement === 'HasPart(Computer, CPU)' && sim.matches[0].score === 1, 'identical statement scores 1');
  ok(sim.matches.some((m) => m.statement === 'HasPart(Computers, CPU)' && m.score < 1 && m.score >= 0.5), 'near statement found');
  const cc = await call(client, validators, 'consistency_check', { limit: 1000 });
  const kinds = cc.contradictions.map((c) => c.kind).sort();
  ok(kinds.includes('asymmetric_cycle') && kinds.includes('negation') && kinds.includes('functional_conflict'), `contradiction kinds ${kinds}`);
  const cyc = cc.contradictions.find((c) => c.kind === 'asymmetric_cycle');
  eq(cyc.facts.sort(), ['IsA(CPU, Component)', 'IsA(Component, CPU)'], 'cycle names its facts');
  const fun = cc.contradictions.find((c) => c.kind === 'functional_conflict');
  eq(fun.facts.sort(), ['HasCapital(France, Lyon)', 'HasCapital(France, Paris)'], 'functional names its facts');
  const neg = cc.contradictions.find((c) => c.kind === 'negation');
  eq(neg.facts.sort(), ['IsA(CPU, Animal)', 'NotIsA(CPU, Animal)'], 'negation names its facts');
  const vf = await call(client, validators, 'validate_facts', { limit: 100 });
  ok(vf.examined === SEED.length - 1 && Array.isArray(vf.issues), 'validate_facts examined all');
  const es = await call(client, validators, 'get_entities_stats', { min_occurrences: 2 });
  const cpu = es.entities.find((e) => e.name === 'CPU');
  ok(cpu && cpu.count === 6, `CPU occurs in 6 facts (${JSON.stringify(cpu)})`);
  ok(es.entities.every((e) => e.count >= 2), 'min_occurrences respected');
  const bp = await call(client, validators, 'search_by_predicate', { predicate: 'HasPart', limit: 100 });
  eq(bp.total, 3, 'HasPart total');
  const ps = await call(client, validators, 'get_predicates_stats', {});
  const isa = ps.predicates.find((p) => p.name === 'IsA');
  ok(isa.count === 3 && isa.min_arity === 2 && isa.max_arity === 2, 'IsA stats');
  const qr = await call(client, validators, 'query_related', { entity: 'France', limit: 100 });
  eq(qr.facts.map((f) => f.statement).sort(), ['HasCapital(France, Lyon)', 'HasCapital(France, Paris)'], 'query_related');
  const dup = await call(client, validators, 'analyze_duplicates', { threshold: 0.6, max_pairs: 10 });
  ok(dup.pairs.some((p) => [p.a.statement, p.b.statement].sort().join('|') === 'HasPart(Computer, CPU)|HasPart(Computers, CPU)'), 'duplicate pair found');

  // ---- management ----
  const au = await call(client, validators, 'list_audit', { limit: 5 });
  ok(au.entries.length === 5 && au.entries[0].op === 'delete', 'audit newest first');
  ok(au.entries[0].actor && au.entries[0].actor.length > 0, 'audit actor recorded');
  const head = await call(client, validators, 'export_facts', { count: 2, direction: 'head' });
  eq(head.facts.map((f) => f.statement), SEED.slice(0, 2), 'export head');
  const tail = await call(client, validators, 'export_facts', { count: 1 });
  eq(tail.facts[0].statement, SEED[SEED.length - 2], 'export tail (default) newest');
  const gr = await call(client, validators, 'growth_stats', { days: 7 });
  ok(gr.per_day.length === 7 && gr.total_added === SEED.length - 1, 'growth counts today');
  // by day of change: every add counts, the deleted one too
  const grc = await call(client, validators, 'growth_stats', { days: 7, basis: 'changes' });
  ok(grc.per_day.length === 7 && grc.total_added === SEED.length && grc.total_deleted === 1 &&
     grc.per_day[6].added === SEED.length, 'growth by changes counts adds and deletes');
  const hc = await call(client, validators, 'health_check', {});
  ok(hc.status === 'ok' && hc.checks.audit_chain.ok, 'health ok');
  const hcd = await call(client, validators, 'health_check', { deep: true });
  ok(hcd.status === 'ok' && hcd.checks.data.ok && hcd.checks.data.digest === 'present' &&
     hcd.checks.data.facts === SEED.length - 1, 'deep health ok');
  const hist = await call(client, validators, 'get_fact_history', { statement: 'HasPart(Computer, CPU)' });
  ok(hist.fact_id === ids['HasPart(Computer, CPU)'] && hist.entries.length >= 1, 'history of a live fact');
  const hdel = await call(client, validators, 'get_fact_history', { statement: 'Causes(Heat, ThermalExpansion)' });
  ok(hdel.fact_id === null && hdel.entries.some((e) => e.op === 'delete'), 'history of a deleted fact');
  ok(hist.next_before === null && hdel.next_before === null && hdel.entries.length >= 2,
     'a whole history has no cursor');
  const hp1 = await call(client, validators, 'get_fact_history',
    { statement: 'Causes(Heat, ThermalExpansion)', limit: 1 });
  ok(hp1.entries.length === 1 && hp1.entries[0].seq === hdel.entries[0].seq &&
     hp1.next_before === hp1.entries[0].seq, 'a history page with a cursor');
  const hp2 = await call(client, validators, 'get_fact_history',
    { statement: 'Causes(Heat, ThermalExpansion)', before: hp1.next_before });
  eq(hp2.entries.map((e) => e.seq), hdel.entries.slice(1).map((e) => e.seq), 'the next history page');
  ok(hp2.next_before === null, 'the last history page has no cursor');
  const hl = await call(client, validators, 'get_fact_history',
    { statement: 'HasPart(Computer, CPU)', before: hist.entries[hist.entries.length - 1].seq });
  ok(hl.fact_id === hist.fact_id && hl.entries.length === 0 && hl.next_before === null,
     'below the oldest entry: an empty page');

  // ---- advanced ----
  const iso = await call(client, validators, 'find_isolated_facts', { limit: 10 });
  ok(iso.facts.some((f) => f.statement === 'Lonely(Xyzzy, Plugh)'), 'isolated fact');
  ok(!iso.facts.some((f) => f.statement.startsWith('HasPart')), 'connected facts are not isolated');
  const ch = await call(client, validators, 'inference_chain', { start_fact: 'HasPart(Computer, CPU)', max_depth: 2 });
  ok(ch.steps.some((s) => s.depth === 1 && s.fact.statement === 'IsA(CPU, Component)'), 'chain depth 1');
  const kg = await call(client, validators, 'get_knowledge_graph', { entity: 'Computer', depth: 1, format: 'dot' });
  ok(kg.edges.some((e) => e.from === 'Computer' && e.to === 'CPU' && e.label === 'HasPart'), 'graph edge');
  ok(kg.dot.includes('"Computer" -> "CPU" [label="HasPart"]'), 'dot output');
  const tr = await call(client, validators, 'bulk_translate_predicates', { mapping: { HasPart: 'ContainsPart' } });
  ok(tr.dry_run === true && tr.changed === 3, 'translate dry run counts');
  eq((await call(client, validators, 'search_by_predicate', { predicate: 'HasPart' })).total, 3, 'dry run changed nothing');
  const trNoAuth = await callError(client, 'bulk_translate_predicates', { mapping: { HasPart: 'ContainsPart' }, dry_run: false });
  ok(/write token/.test(trNoAuth), 'real translate needs a token');
  const reportPath = path.join(ctx.hubDir, 'translate-report.json');
  const trReal = await call(client, validators, 'bulk_translate_predicates', {
    mapping: { HasPart: 'ContainsPart' }, dry_run: false, limit: 2, limit_mode: 'changes',
    sample_strategy: 'tail', report_path: reportPath, ...tok });
  ok(trReal.changed === 2 && !trReal.dry_run, 'translate applied with limit');
  eq((await call(client, validators, 'search_by_predicate', { predicate: 'ContainsPart' })).total, 2, 'renamed in the KB');
  ok(JSON.parse(fs.readFileSync(reportPath, 'utf8')).changes.length === 2, 'report written');
  const outside = await callError(client, 'bulk_translate_predicates', { mapping: { HasPart: 'X' }, report_path: '/etc/hk-report.json' });
  ok(/outside the directories/.test(outside), 'report_path outside allowed dirs refused');
  const bd = await call(client, validators, 'bulk_delete', { statements: ['Lonely(Xyzzy, Plugh)', 'Nope(A, B)'], ...tok });
  ok(bd.deleted === 1 && bd.not_found[0] === 'Nope(A, B)', 'bulk delete');

  // ---- project hub ----
  const snap = await call(client, validators, 'project_snapshot', { title: 'First', description: 'hand-over', hub_path: ctx.hubDir, ...tok });
  ok(fs.existsSync(snap.file), 'snapshot file exists');
  const ls = await call(client, validators, 'project_list_snapshots', { hub_path: ctx.hubDir, limit: 5 });
  ok(ls.count === 1 && ls.snapshots[0].title === 'First', 'list snapshots');
  const dg = await call(client, validators, 'project_hub_digest', { hub_path: ctx.hubDir, max_chars: 200 });
  ok(dg.digest.startsWith('## First') && [...dg.digest].length <= 200 && dg.truncated, 'digest truncated to max_chars');
  const badHub = await callError(client, 'project_list_snapshots', { hub_path: '/etc' });
  ok(/outside the directories/.test(badHub), 'hub_path outside refused');

  // ---- rules and proofs ----
  // the seed's Functional(HasCapital) with two capitals of France already
  // derives one Contradiction fact
  const lr0 = await call(client, validators, 'list_rules', {});
  eq(lr0, { rules: [], derived: 1 }, 'no rules yet; one derived contradiction');
  const cc2 = await call(client, validators, 'consistency_check', {});
  ok(cc2.rule_contradictions.length === 1 && cc2.rule_contradictions[0].proof.rule === 'Functional(HasCapital)', 'consistency_check: derived contradiction with its proof');
  const ar = await call(client, validators, 'add_rule', { rule: 'Sub(?x, ?y) :- IsA(?x, ?y).', name: 'sub', ...tok });
  ok(ar.rule.name === 'sub' && ar.rule.version === 1 && ar.rule.enabled && ar.derived === 1 + 3, 'add_rule derives');
  const ar2 = await call(client, validators, 'add_rule', { rule: 'Sub(?x, ?z) :- Sub(?x, ?y), Sub(?y, ?z).', ...tok });
  ok(ar2.rule.name === 'Sub_1' && ar2.derived === 1 + 6, `transitive rule: generated name, 6 more derived (${JSON.stringify(ar2)})`);
  const lr = await call(client, validators, 'list_rules', {});
  eq(lr.rules.map((r) => r.name), ['Sub_1', 'sub'], 'list_rules');
  ok(lr.derived === 1 + 6, 'list_rules derived count');
  const ex = await call(client, validators, 'explain_fact', { statement: 'Sub(Component, Animal)' });
  ok(ex.derived === true && ex.proof.rule === 'Sub_1' && ex.proof.bindings.y === 'CPU' && ex.proof.premises.length === 2, 'explain_fact: rule instance');
  ok(ex.proof.premises.every((p) => p.derived && p.rule === 'sub' && p.premises[0].derived === false), 'explain_fact: premises down to asserted facts');
  ok(ex.proof.premises[0].premises[0].id === ids['IsA(Component, CPU)'], 'explain_fact: leaf id');
  const ex2 = await call(client, validators, 'explain_fact', { statement: 'IsA(CPU, Component)' });
  ok(ex2.derived === false && ex2.proof.id === ids['IsA(CPU, Component)'], 'explain_fact of an asserted fact');
  const badRule = await callError(client, 'add_rule', { rule: 'Bad(?x, ?z) :- IsA(?x, ?y).', ...tok });
  ok(/unsafe rule/.test(badRule), 'unsafe rule refused');
  const noFact = await callError(client, 'explain_fact', { statement: 'Sub(Nothing, Here)' });
  ok(/neither asserted nor derived/.test(noFact), 'explain_fact of a non-fact');

  // ---- backup / restore ----
  const bk = await call(client, validators, 'backup_kb', { description: 'e2e backup', ...tok });
  ok(/^kb-\d{8}T\d{6}Z-[0-9a-f]{6}$/.test(bk.backup_id) && bk.sha256.length === 64, 'backup id and checksum');
  await call(client, validators, 'add_fact', { statement: 'After(Backup, Fact)', ...tok });
  if (ctx.stdio) {
    const rs = await call(client, validators, 'restore_kb', { backup_id: bk.backup_id, ...tok });
    eq(rs.sha256, bk.sha256, 'restored checksum');
    const gone = await call(client, validators, 'search_by_predicate', { predicate: 'After' });
    eq(gone.total, 0, 'restore brought back the backup state');
  } else {
    const msg = await callError(client, 'restore_kb', { backup_id: bk.backup_id, ...tok });
    ok(/hakgal restore .* --force/.test(msg), 'server mode explains the CLI restore');
  }
  const badId = await callError(client, 'restore_kb', { backup_id: '../etc', ...tok });
  ok(/not a backup id/.test(badId), 'bad backup id refused');

  // ---- errors ----
  await expectRpcError(client.callTool({ name: 'no_such_tool', arguments: {} }), -32602, 'unknown tool');
  await expectRpcError(client.callTool({ name: 'search_knowledge', arguments: {} }), -32602, 'missing required argument');
  await expectRpcError(client.callTool({ name: 'search_knowledge', arguments: { query: 'x', limit: 0 } }), -32602, 'limit out of range');
  await expectRpcError(client.callTool({ name: 'list_recent_facts', arguments: { count: 'five' } }), -32602, 'wrong type');
  await expectRpcError(client.callTool({ name: 'kb_stats', arguments: { bogus: 1 } }), -32602, 'unknown argument');
  const noTok = await callError(client, 'add_fact', { statement: 'X(Y)' });
  ok(/write token/.test(noTok), 'write without token refused');
  const badTok = await callError(client, 'add_fact', { statement: 'X(Y)', auth_token: 'wrong' });
  ok(/not a valid write token/.test(badTok), 'wrong token refused');
  const badSt = await callError(client, 'add_fact', { statement: 'not a statement', ...tok });
  ok(/not a valid statement/.test(badSt), 'syntax error explained');
  return { validators, ids };
}
