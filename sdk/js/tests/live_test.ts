// Live test of the TypeScript/JavaScript SDK against a running hakgal
// (driven by tests/e2e/test_sdk_js.py; environment in
// tests/e2e/sdk_live_lib.py). Compiled with tsc --strict against index.d.ts,
// then run by node; exits non-zero on the first failed check.
import { Client, HakgalError } from "hakgal-client";
import type { Fact, Row, AuditEntry } from "hakgal-client";

declare const process: {
  env: Record<string, string | undefined>;
  exit(code: number): never;
};

const env = (k: string): string => {
  const v = process.env[k];
  if (!v) {
    console.log(`FAIL: ${k} is not set`);
    process.exit(1);
  }
  return v;
};
const URL = env("HAKGAL_URL");
const TOKEN = env("HAKGAL_TOKEN");
const READ_TOKEN = env("HAKGAL_READ_TOKEN");
const FLAKY = env("HAKGAL_FLAKY_URL");

function check(cond: unknown, what: string): void {
  if (!cond) {
    console.log("FAIL: " + what);
    process.exit(1);
  }
  console.log("ok: " + what);
}

async function expectError(fn: () => Promise<unknown>, status: number,
                           code: string, what: string): Promise<HakgalError> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof HakgalError) {
      check(e.status === status && e.code === code && e.message,
        `${what} -> ${status} ${code} (got ${e.status} ${e.code}: ${e.message})`);
      return e;
    }
    throw e;
  }
  check(false, what + " raised no error");
  throw new Error("unreachable");
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

const kb = new Client(URL, { token: TOKEN });

// add, idempotent add, add by parts with metadata
const r = await kb.add("HasPart(Computer, CPU)");
check(r.created && r.fact.id >= 1 && r.fact.predicate === "HasPart" &&
  r.fact.args.join("|") === "Computer|CPU", "add creates a fact");
const again = await kb.add({ statement: "HasPart(Computer, CPU)" });
check(!again.created && again.fact.id === r.fact.id, "add is idempotent");
const m = await kb.add({ predicate: "HasPart", args: ["Computer", "RAM"],
  confidence: 0.9, tags: ["hw"], source: "manual" });
check(m.created && m.fact.confidence === 0.9 && m.fact.tags[0] === "hw" &&
  m.fact.source === "manual", "add by predicate and args with metadata");

// batch with one bad item
let b = await kb.batch(["IsA(Water, Molecule)",
  { statement: "HasPart(Water, Oxygen)" }, "Broken("]);
check(b.count === 3 && b.created === 2 && b.failed === 1 &&
  b.results[2].error?.code === "invalid_statement",
  "batch reports the bad item and commits the others");
const items: string[] = [];
for (let i = 0; i < 25; i++) items.push(`HasPart(Computer, Part${String(i).padStart(2, "0")})`);
items.push("IsA(Computer, Machine)");
b = await kb.batch(items);
check(b.created === 26, "batch of 26");

// escaping: '/', spaces, '%', '&', '?', ',' and non-ASCII in statements,
// patterns and entity names
const odd = await kb.add('Uses(TCP/IP stack, "Größe & 100%, ok?")');
check(odd.fact.args.join("|") === "TCP/IP stack|Größe & 100%, ok?",
  "quoted and non-ASCII arguments round-trip");
check((await kb.entity("TCP/IP stack")).fact_count === 1 &&
  (await kb.entity("Größe & 100%, ok?")).fact_count === 1,
  "entity names with reserved characters are escaped");
const oddPage = await kb.query('Uses(?x, "Größe & 100%, ok?")');
check(oddPage.facts.length === 1 && oddPage.bindings[0].x === "TCP/IP stack",
  "patterns with reserved characters are escaped");

// pattern query with cursors
const page = await kb.query("HasPart(Computer, ?x)", { limit: 7 });
check(page.facts.length === 7 && page.next_cursor !== null &&
  page.bindings.length === 7 && "x" in page.bindings[0],
  "first page of 7 with a cursor and bindings");
const facts: Fact[] = await collect(kb.queryAll("HasPart(Computer, ?x)", 7));
check(facts.length === 27 && new Set(facts.map((f) => f.id)).size === 27,
  "queryAll pages through all 27 facts once each");

// multi-pattern query with cursors
const rows: Row[] = await collect(kb.queryRowsAll("HasPart(?c, ?p), IsA(?c, Machine)", 10));
check(rows.length === 27 && rows.every((x) => x.bindings.c === "Computer" && x.facts.length === 2),
  "multi-pattern queryRowsAll: 27 rows of 2 facts");

// get, update (PATCH, PUT), conflict
let f = await kb.get(r.fact.id);
check(f.statement === "HasPart(Computer, CPU)", "get");
f = await kb.update(r.fact.id, { confidence: 0.5, tags: ["chip"] });
check(f.confidence === 0.5 && f.tags.join() === "chip" &&
  f.statement === "HasPart(Computer, CPU)", "update metadata (PATCH)");
f = await kb.update(r.fact.id, { statement: "HasPart(Computer, GPU)" });
check(f.id === r.fact.id && f.statement === "HasPart(Computer, GPU)",
  "replace statement (PUT)");
const conflict = await expectError(
  () => kb.update(r.fact.id, { statement: "HasPart(Computer, RAM)" }),
  409, "conflict", "PUT onto another fact");
check(conflict.detail?.existing_id === m.fact.id, "conflict names the existing id");

// search, entity, neighbours, paths
const hits = await kb.search("has part computer", { limit: 5 });
check(hits.length > 0 && hits.length <= 5 &&
  hits.every((h) => h.fact.predicate === "HasPart") && hits[0].score > 0, "search");
const ent = await kb.entity("Computer", { limit: 10 });
check(ent.entity === "Computer" && ent.fact_count === 28 &&
  ent.facts.length === 10 && ent.next_cursor, "entity page");
check((await collect(kb.entityFacts("Computer", 10))).length === 28,
  "entityFacts pages through 28 facts");
const g = await kb.neighbours("Water");
const labels = new Set(g.nodes.map((n) => n.label ?? n.id));
check(labels.has("Oxygen") && labels.has("Molecule") && g.edges.length > 0,
  "neighbours of Water");
const ps = await kb.paths("RAM", "GPU", { maxLen: 4 });
check(ps.length >= 1 && ps[0].nodes[0] === "RAM" &&
  ps[0].nodes[ps[0].nodes.length - 1] === "GPU" && ps[0].facts.length > 0,
  "path RAM -> Computer -> GPU");

// audit with pagination
const a = await kb.audit({ limit: 2 });
check(a.entries.length === 2 && a.next_before !== null &&
  a.entries[0].seq > a.entries[1].seq, "audit page, newest first");
const entries: AuditEntry[] = await collect(kb.auditAll(2));
check(entries.length >= 6 && entries.every((x) => x.actor === "sdkw") &&
  entries.every((x, i) => i === 0 || entries[i - 1].seq > x.seq),
  "auditAll: every entry once, newest first, actor is the token name");

// errors
await expectError(() => kb.get(999999), 404, "not_found", "get of a missing id");
const bad = await expectError(() => kb.add("Broken("), 400, "invalid_statement",
  "add of a bad statement");
check(bad.detail !== null && "column" in bad.detail, "bad statement error names the column");
await expectError(() => kb.query("HasPart("), 400, "invalid_pattern", "bad pattern");
await expectError(() => kb.entity("NoSuchThing"), 404, "not_found", "missing entity");

// delete
let d = await kb.delete(m.fact.id);
check(d.id === m.fact.id && d.statement === "HasPart(Computer, RAM)",
  "delete returns the fact");
await expectError(() => kb.get(m.fact.id), 404, "not_found", "get after delete");
d = await kb.deleteStatement("IsA(Water, Molecule)");
check(d.statement === "IsA(Water, Molecule)", "delete by statement");

// auth
await expectError(() => new Client(URL).stats(), 401, "unauthorized", "no token");
await expectError(() => new Client(URL, { token: "wrong" }).stats(), 401,
  "unauthorized", "unknown token");
const ro = new Client(URL, { token: READ_TOKEN });
check((await ro.stats()).facts as number >= 1 &&
  (await ro.query("IsA(?x, ?y)")).facts.length > 0, "read token reads");
await expectError(() => ro.add("IsA(Reader, Writer)"), 403, "forbidden",
  "read token cannot write");

// retries, Retry-After, give-up, timeout (against the flaky server)
check((await new Client(FLAKY, { token: TOKEN, maxRetries: 3 }).stats()).facts === 42,
  "503 then 429 are retried until success");
await expectError(() => new Client(FLAKY, { token: TOKEN, maxRetries: 2 }).get(1),
  503, "busy", "503 after the last retry is raised with its code");
const t0 = Date.now();
await expectError(() => new Client(FLAKY, { token: TOKEN, timeoutMs: 500 }).get(2),
  0, "timeout", "timeout raises HakgalError status 0");
check(Date.now() - t0 < 2900, "timeout is prompt");
console.log("js SDK: all checks passed");
