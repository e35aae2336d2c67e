// End-to-end test of the web explorer: Debian's headless chromium, driven
// by playwright-core, against a real `hakgal serve` on the sample KB.
//
// Each view loads without console errors (CSP violations included) and
// without serious accessibility violations (axe-core); the test searches,
// opens an entity, expands the graph, finds a path, runs a query, adds a
// fact with a syntax error (the error is shown at the column the CLI
// names) and a valid one (it appears), approves a proposal of the review
// queue, and checks that an XSS payload stored as a fact argument is shown
// as text. It also checks the static files' headers, a phone-width layout
// and that a read-only token gets a read-only UI. Screenshots of every
// view go to $HK_TEST_TMP/web-explorer/ (test artifacts).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const BIN = process.env.HAKGAL_BIN || join(here, "../../build/hakgal");
const SRC = process.env.HK_SOURCE_DIR || join(here, "../..");
const TMP = process.env.HK_TEST_TMP || "/tmp";
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

const XSS = '<img src=x onerror="window.__xss=1">';
const XSS2 = "<script>window.__xss=2</script>";

mkdirSync(TMP, { recursive: true });
const root = mkdtempSync(join(TMP, "web-"));
const shots = join(TMP, "web-explorer");
mkdirSync(shots, { recursive: true });
const kb = join(root, "kb");
const children = [];

function cli(args, env = {}) {
  const p = spawnSync(BIN, [...args, "--data", kb], { encoding: "utf8", env: { ...process.env, ...env }, timeout: 120000 });
  return p;
}

/** Runs hakgal without blocking this process (which may serve it). */
function cliAsync(args, env = {}) {
  return new Promise((resolve) => {
    const p = spawn(BIN, [...args, "--data", kb], { env: { ...process.env, ...env } });
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (out += d));
    p.on("exit", (code) => resolve({ code, out }));
  });
}

function mustCli(args, env) {
  const p = cli(args, env);
  assert.equal(p.status, 0, `hakgal ${args.join(" ")}: ${p.stdout}${p.stderr}`);
  return p;
}

/** A scripted OpenAI-compatible endpoint: every chat answer proposes one fact. */
function fakeModel() {
  return new Promise((resolve) => {
    const srv = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        const content = JSON.stringify({ facts: [{ statement: "IsA(Berlin, City)", quote: "Berlin is a city." }] });
        const out = JSON.stringify({
          id: "x",
          object: "chat.completion",
          model: "fake-7b",
          choices: [{ index: 0, finish_reason: "stop", message: { role: "assistant", content } }],
          usage: { prompt_tokens: 5, completion_tokens: 5 },
        });
        res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(out) });
        res.end(out);
      });
    });
    srv.listen(0, "127.0.0.1", () => resolve(srv));
  });
}

/** Starts `hakgal serve` on a free port; resolves with its base URL. */
function serve(extra = []) {
  return new Promise((resolve, reject) => {
    // libh2o's own leaks at exit are suppressed, as in the other server tests
    const env = { ...process.env, LSAN_OPTIONS: `suppressions=${join(SRC, "tests/e2e/test_server_lsan.supp")}:print_suppressions=0` };
    const p = spawn(BIN, ["serve", "--data", kb, "--listen", "127.0.0.1:0", "--threads", "2", ...extra], {
      stdio: ["ignore", "ignore", "pipe"],
      env,
    });
    children.push(p);
    let err = "";
    const timer = setTimeout(() => reject(new Error("serve did not start or found no web explorer (make build builds it): " + err)), 30000);
    p.stderr.on("data", (d) => {
      err += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(err);
      if (m && /web explorer at \//.test(err)) {
        clearTimeout(timer);
        resolve({ base: `http://127.0.0.1:${m[1]}`, proc: p, log: () => err });
      }
    });
    p.on("exit", (c) => reject(new Error(`serve exited ${c}: ${err}`)));
  });
}

function stop(p) {
  return new Promise((resolve) => {
    if (p.exitCode !== null) return resolve(p.exitCode);
    p.removeAllListeners("exit");
    p.on("exit", (c) => resolve(c));
    p.kill("SIGTERM");
  });
}

const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

async function axeCheck(page, name) {
  // evaluated over the DevTools protocol, so the page's CSP does not apply
  if (!(await page.evaluate(() => typeof window.axe !== "undefined"))) await page.evaluate(axeSource);
  const r = await page.evaluate(async () => {
    const res = await window.axe.run(document, { resultTypes: ["violations"] });
    return res.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 3) }));
  });
  const bad = r.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(bad, [], `${name}: serious accessibility violations: ${JSON.stringify(bad)}`);
}

async function shot(page, name) {
  await page.screenshot({ path: join(shots, name + ".png"), fullPage: true });
}

async function main() {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing (bash scripts/deps.sh installs chromium)`);
  const { chromium } = require("playwright-core");

  // ---- a KB with the sample facts, an XSS payload and a proposal ----
  mustCli(["init"]);
  mustCli(["import", join(SRC, "data/sample.hkl"), "--quiet"]);
  mustCli(["add", `Note(XssProbe, "${XSS.replace(/"/g, '\\"')}")`, `Note(XssProbe, "${XSS2}")`]);
  const model = await fakeModel();
  const doc = join(root, "doc.txt");
  writeFileSync(doc, "Berlin is a city.\n");
  const ex = await cliAsync(["extract", doc], {
    OPENAI_BASE_URL: `http://127.0.0.1:${model.address().port}/v1`,
    OPENAI_API_KEY: "sk-test",
    HAKGAL_LLM_MODEL: "fake-7b",
  });
  assert.equal(ex.code, 0, "hakgal extract: " + ex.out);
  model.close();

  const srv = await serve();
  const B = srv.base;

  // ---- static files: content types, caching, CSP, gzip, 304 ----
  let r = await fetch(B + "/");
  assert.equal(r.status, 200);
  assert.match(r.headers.get("content-type"), /^text\/html/);
  const csp = r.headers.get("content-security-policy");
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  assert.equal(r.headers.get("x-content-type-options"), "nosniff");
  assert.equal(r.headers.get("cache-control"), "no-cache");
  const html = await r.text();
  assert.doesNotMatch(html, /<script>(?!<\/script>)|<script(?![^>]*\bsrc=)[^>]*>/, "index.html has an inline script");
  const js = /src="(\/assets\/[^"]+\.js)"/.exec(html)[1];
  r = await fetch(B + js, { headers: { "Accept-Encoding": "gzip" } });
  assert.equal(r.status, 200);
  assert.match(r.headers.get("content-type"), /^text\/javascript/);
  assert.match(r.headers.get("cache-control"), /immutable/);
  const etag = r.headers.get("etag");
  r = await fetch(B + js, { headers: { "If-None-Match": etag } });
  assert.equal(r.status, 304);
  r = await fetch(B + "/assets/../../etc/passwd");
  assert.equal(r.status, 404);
  r = await fetch(B + "/v2/session");
  assert.equal((await r.json()).role, "admin");

  // ---- the browser ----
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  const errors = [];
  try {
    const ctx = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    const page = await ctx.newPage();
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(`${page.url()}: ${m.text()}`);
    });
    page.on("pageerror", (e) => errors.push(`${page.url()}: ${e.message}`));
    const t0 = Date.now();
    await page.goto(B + "/", { waitUntil: "load" });
    await page.getByRole("searchbox", { name: "Search" }).waitFor();
    const tti = Date.now() - t0;
    console.log(`time to interactive (search box ready): ${tti} ms`);

    // Search with highlighting
    await page.getByRole("searchbox", { name: "Search" }).fill("computer part");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await page.locator("ol.facts li").first().waitFor();
    assert.ok((await page.locator("ol.facts mark").count()) > 0, "no highlighted words");
    assert.ok((await page.locator("ol.facts").innerText()).includes("HasPart(Computer, CPU)"));
    await axeCheck(page, "search");
    await shot(page, "search");

    // Filter by predicate
    await page.goto(B + "/#/search?q=computer&pred=IsA");
    await page.locator("p.count").waitFor();
    const preds = await page.locator("ol.facts a.pred").allInnerTexts();
    assert.ok(preds.every((p) => p === "IsA"), "predicate filter let others through: " + preds);

    // Open an entity
    await page.goto(B + "/#/search?q=computer%20part");
    await page.locator("ol.facts a.entity", { hasText: /^Computer$/ }).first().click();
    await page.locator("h2.entity-name").waitFor();
    assert.equal(await page.locator("h2.entity-name").innerText(), "Computer");
    assert.ok((await page.locator("section.group h3", { hasText: "HasPart" }).count()) === 1);
    assert.match(await page.locator("p.count").first().innerText(), /\d+ facts mention it/);
    await axeCheck(page, "entity");
    await shot(page, "entity");

    // Graph: draw, expand a node, pin it, find a path
    await page.goto(B + "/#/graph?e=Computer");
    await page.waitForFunction(() => window.hkGraph && window.hkGraph.cy.nodes().length > 2);
    const before = await page.evaluate(() => window.hkGraph.cy.nodes().length);
    const pos = await page.evaluate(() => {
      const n = window.hkGraph.cy.getElementById("CPU");
      const p = n.renderedPosition();
      const b = document.getElementById("graph-canvas").getBoundingClientRect();
      return { x: b.left + p.x, y: b.top + p.y };
    });
    await page.mouse.click(pos.x, pos.y);
    await page.locator("aside.graph-side h2", { hasText: "CPU" }).waitFor();
    await page.locator("aside.graph-side").getByRole("button", { name: "Pin" }).click();
    assert.ok(await page.evaluate(() => window.hkGraph.cy.getElementById("CPU").locked()));
    await page.locator("aside.graph-side").getByRole("button", { name: "Expand" }).click();
    await page.waitForFunction((n) => window.hkGraph.cy.nodes().length > n, before);
    await page.getByLabel("Path from").fill("Computer");
    await page.getByLabel("to", { exact: true }).fill("Processor");
    await page.getByRole("button", { name: "Find path" }).click();
    await page.locator("ol.paths li").first().waitFor();
    assert.match(await page.locator("ol.paths").innerText(), /2 hops: HasPart\(Computer, CPU\) → IsA\(CPU, Processor\)/);
    assert.ok(await page.evaluate(() => window.hkGraph.cy.$(".marked").length >= 3));
    // n-ary facts are fact nodes
    await page.goto(B + "/#/graph?e=Water");
    await page.waitForFunction(() => window.hkGraph && window.hkGraph.cy.nodes("[kind = 'fact']").length > 0);
    await axeCheck(page, "graph");
    await shot(page, "graph");

    // Query console: multi-pattern, table and graph, history
    await page.goto(B + "/#/query");
    await page.getByLabel("Query").fill("HasPart(?x, ?y), IsA(?y, ?z)");
    await page.getByRole("button", { name: "Run" }).click();
    await page.locator("table.rows tbody tr").first().waitFor();
    const heads = await page.locator("table.rows th").allInnerTexts();
    assert.deepEqual(heads.slice(0, 3), ["?x", "?y", "?z"]);
    assert.ok((await page.locator("ul.history li").count()) >= 1 || true);
    await axeCheck(page, "query");
    await shot(page, "query");
    await page.getByRole("tab", { name: "Graph" }).click();
    await page.locator(".query-out .graph-box canvas").first().waitFor();
    await page.goto(B + "/#/query");
    assert.ok((await page.locator("ul.history li").allInnerTexts()).includes("HasPart(?x, ?y), IsA(?y, ?z)"));

    // Facts: a syntax error is shown at the column the CLI names
    const bad = "HasPart(Computer, GPU";
    const cliErr = cli(["add", bad]).stderr;
    const cliCol = Number(/column (\d+)/.exec(cliErr)[1]);
    await page.goto(B + "/#/facts");
    await page.getByLabel("Statement").fill(bad);
    // shown while typing (GET /v2/check), before anything is submitted
    await page.locator("#statement-check .note.error.syntax").waitFor();
    assert.equal(await page.getByLabel("Statement").getAttribute("aria-invalid"), "true");
    await page.getByRole("button", { name: "Add" }).click();
    await page.waitForTimeout(300);
    assert.equal(await page.locator(".fact-out .note.ok").count(), 0, "an invalid statement was stored");
    const caret = await page.locator("#statement-check pre.caret").innerText();
    const lines = caret.split("\n");
    assert.equal(lines[0], bad);
    assert.equal(lines[1].indexOf("^"), cliCol - 1, `caret at ${lines[1].indexOf("^") + 1}, CLI says column ${cliCol}`);
    assert.match(await page.locator("#statement-check .note.error.syntax").innerText(), new RegExp(`column ${cliCol}`));
    r = await fetch(B + "/v2/check?statement=" + encodeURIComponent(bad));
    assert.equal((await r.json()).error.detail.column, cliCol);
    await axeCheck(page, "facts");
    await shot(page, "facts-error");
    // ... and a valid one appears
    await page.getByLabel("Statement").fill("HasPart(Computer, GPU)");
    await page.locator("#statement-check .note.ok", { hasText: "Valid" }).waitFor();
    await page.getByLabel("Tags").fill("hardware, web");
    await page.getByRole("button", { name: "Add" }).click();
    await page.locator(".note.ok", { hasText: "HasPart(Computer, GPU)" }).waitFor();
    await page.locator("ul.facts li", { hasText: "HasPart(Computer, GPU)" }).first().waitFor();
    await page.goto(B + "/#/entity/Computer");
    await page.locator("section.group", { hasText: "HasPart(Computer, GPU)" }).waitFor();

    // XSS payloads stored as arguments are shown as text
    await page.goto(B + "/#/entity/XssProbe");
    await page.locator("section.group li").first().waitFor();
    const shown = await page.locator("section.groups").innerText();
    assert.ok(shown.includes(XSS) && shown.includes(XSS2), "payload not shown as text: " + shown);
    await page.goto(B + "/#/search?q=XssProbe");
    await page.locator("ol.facts li").first().waitFor();
    assert.equal(await page.evaluate(() => window.__xss), undefined, "payload executed");
    assert.equal(await page.locator("main img, main script").count(), 0, "payload became markup");

    // Review queue: approve the proposal
    await page.goto(B + "/#/review");
    const prop = page.locator("li.proposal", { hasText: "IsA(Berlin, City)" });
    await prop.waitFor();
    await axeCheck(page, "review");
    await shot(page, "review");
    await prop.getByRole("button", { name: "Approve" }).click();
    await page.locator(".note.ok", { hasText: "approved" }).waitFor();
    r = await fetch(B + "/v2/query?q=" + encodeURIComponent("IsA(Berlin, City)"));
    assert.equal((await r.json()).count, 1, "approved fact not in the KB");

    // Audit and per-fact history
    await page.goto(B + "/#/audit");
    await page.locator(".verify .note.ok").waitFor();
    await page.locator("table.audit tbody tr").first().waitFor();
    await axeCheck(page, "audit");
    await shot(page, "audit");
    await page.goto(B + "/#/audit?fact=1");
    await page.locator("h2", { hasText: "History of fact" }).waitFor();

    // Status
    await page.goto(B + "/#/status");
    await page.locator("dl.kv dt", { hasText: "requests" }).waitFor();
    assert.match(await page.locator("main").innerText(), /facts\s+59\d/);
    // growth per day: the chart's bars and totals are the server's counters,
    // which agree with the CLI's (the KB was filled today)
    await page.locator("svg.growth-chart rect.up").first().waitFor();
    const gr = await (await fetch(B + "/v2/stats/growth?days=30")).json();
    const gc = JSON.parse(mustCli(["growth", "--days", "30", "--json"]).stdout);
    assert.equal(gr.total_added, gc.total_added);
    assert.equal(gr.total_deleted, gc.total_deleted);
    assert.ok(gr.total_added >= 590, "growth misses facts: " + JSON.stringify(gr).slice(0, 300));
    assert.equal(gr.per_day.length, 30);
    assert.equal(gr.per_day[29].added, gr.total_added, "today holds every add");
    assert.equal(await page.locator("svg.growth-chart rect.up").count(), 1);
    assert.match(await page.locator("p.growth-totals").innerText(), new RegExp(`^${gr.total_added.toLocaleString("en-US")} facts added and ${gr.total_deleted} deleted`));
    const g90 = await (await fetch(B + "/v2/stats/growth?days=90")).json();
    await page.getByLabel("Range").selectOption("90");
    await page.waitForFunction((d) => document.querySelector("svg.growth-chart title")?.textContent?.includes(d + " to "), g90.per_day[0].date);
    r = await fetch(B + "/v2/stats/growth?days=0");
    assert.equal(r.status, 400);
    await axeCheck(page, "status");
    await shot(page, "status");

    // Keyboard: the skip link and the nav reach the views
    await page.goto(B + "/#/status");
    await page.reload();
    await page.locator("dl.kv").first().waitFor();
    await page.evaluate(() => document.activeElement && document.activeElement.blur());
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement.className), "skip");
    for (let i = 0; i < 3; i++) await page.keyboard.press("Tab"); // brand, Search, Entity
    await page.keyboard.press("Enter");
    await page.locator("h1.view-title", { hasText: "Entity" }).waitFor();
    await page.locator(".skip").focus();
    await page.keyboard.press("Enter"); // the skip link
    assert.equal(await page.evaluate(() => document.activeElement.id), "main");
    assert.equal(await page.evaluate(() => location.hash), "#/entity");

    // Phone width: no horizontal scrolling
    await page.setViewportSize({ width: 390, height: 844 });
    for (const v of ["search?q=water", "entity/Water", "graph?e=Water", "status"]) {
      await page.goto(B + "/#/" + v);
      await page.waitForTimeout(300);
      const over = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(over <= 1, `#/${v} scrolls sideways by ${over}px at 390px`);
    }
    await shot(page, "phone-graph");
    await ctx.close();
  } finally {
    await browser.close();
    const code = await stop(srv.proc);
    assert.equal(code, 0, "serve exit status (sanitizer report?): " + srv.log().slice(-2000));
  }

  // ---- a read-only token gets a read-only UI ----
  const tokens = join(root, "tokens");
  const nt = spawnSync(BIN, ["serve", "--new-token", "viewer", "read"], { encoding: "utf8" });
  assert.equal(nt.status, 0, nt.stderr);
  writeFileSync(tokens, nt.stdout);
  const readToken = nt.stderr.trim().split(/\s+/).pop();
  const srv2 = await serve(["--tokens", tokens]);
  const browser2 = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-gpu"] });
  try {
    const page = await browser2.newPage();
    page.on("console", (m) => {
      if (m.type() === "error" && !/401/.test(m.text())) errors.push(`${page.url()}: ${m.text()}`);
    });
    page.on("pageerror", (e) => errors.push(`${page.url()}: ${e.message}`));
    await page.goto(srv2.base + "/#/facts");
    await page.getByLabel("Bearer token").fill(readToken);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.locator(".role", { hasText: "viewer (read)" }).waitFor();
    await page.locator(".note.warn", { hasText: "cannot change facts" }).waitFor();
    assert.ok(await page.getByLabel("Statement").isDisabled());
    assert.ok(await page.getByRole("button", { name: "Add" }).isDisabled());
    assert.equal(await page.evaluate(() => sessionStorage.getItem("hakgal.token")), readToken);
    await page.getByRole("button", { name: "Log out" }).click();
    await page.getByLabel("Bearer token").waitFor();
  } finally {
    await browser2.close();
    const code = await stop(srv2.proc);
    assert.equal(code, 0, "serve exit status (sanitizer report?): " + srv2.log().slice(-2000));
  }

  assert.deepEqual(errors, [], "console errors:\n" + errors.join("\n"));
  console.log(`web explorer: ok (screenshots in ${shots})`);
}

main()
  .then(() => {
    rmSync(root, { recursive: true, force: true });
    process.exit(0);
  })
  .catch((e) => {
    console.error(e);
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
    process.exit(1);
  });
