// Random calls of the 9 memory-profile tools, shared by
// test_mcp_memory_diff.mjs (stdio, against the reference server) and
// test_mcp_memory_http.mjs (HTTP): a seeded generator, the call maker over
// each test's own pools of names, types, observations, relation types and
// queries, and the part of a result that must match.

// mulberry32
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function pick(r, a) { return a[Math.floor(r() * a.length)]; }

// Up to max items, each a repetition of an earlier one (or, with vary, an
// earlier one changed by vary) with probability 0.3: the reference keeps
// what one call repeats, and so must hakgal.
export function withDups(r, pool, max, vary) {
  const n = Math.floor(r() * (max + 1));
  const out = [];
  for (let i = 0; i < n; i++) {
    if (out.length && r() < 0.3) {
      const prev = structuredClone(pick(r, out));
      out.push(vary && r() < 0.5 ? vary(prev) : prev);
    } else {
      out.push(typeof pool === 'function' ? pool() : pick(r, pool));
    }
  }
  return out;
}

// randomCall(r) over these pools: { NAMES, TYPES, OBS, RELS, QUERIES }.
export function randomCaller({ NAMES, TYPES, OBS, RELS, QUERIES }) {
  return function randomCall(r) {
    const rel = () => ({ from: pick(r, NAMES), to: pick(r, NAMES), relationType: pick(r, RELS) });
    const obs = (max) => withDups(r, OBS, max);
    // the same name with another type and other observations
    const retype = (e) => ({ ...e, entityType: pick(r, TYPES), observations: obs(3) });
    switch (Math.floor(r() * 9)) {
      case 0: return { name: 'create_entities', arguments: { entities: withDups(r, () => ({
        name: pick(r, NAMES), entityType: pick(r, TYPES), observations: obs(3) }), 4, retype) } };
      case 1: return { name: 'create_relations', arguments: { relations: withDups(r, rel, 4) } };
      case 2: return { name: 'add_observations', arguments: { observations: withDups(r, () => ({
        entityName: pick(r, NAMES), contents: obs(4) }), 3, (o) => ({ ...o, contents: obs(3) })) } };
      case 3: return { name: 'delete_entities', arguments: { entityNames: withDups(r, NAMES, r() < 0.5 ? 1 : 3) } };
      case 4: return { name: 'delete_observations', arguments: { deletions: withDups(r, () => ({
        entityName: pick(r, NAMES), observations: obs(3) }), 3, (o) => ({ ...o, observations: obs(3) })) } };
      case 5: return { name: 'delete_relations', arguments: { relations: withDups(r, rel, 3) } };
      case 6: return { name: 'read_graph', arguments: {} };
      case 7: return { name: 'search_nodes', arguments: { query: pick(r, QUERIES) } };
      default: return { name: 'open_nodes', arguments: { names: withDups(r, NAMES, 4) } };
    }
  };
}

// What a result must agree on: error flag, content and structured content.
export function shape(res) {
  return { isError: res.isError === true, content: res.content, structuredContent: res.structuredContent };
}
