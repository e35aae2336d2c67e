// bench/web_bench.mjs — the web explorer's numbers, in one run, next to
// the targets: bundle size (target <= 300 KB gzipped), time to
// interactive on loopback (target <= 1 s; measured side by side with a
// trivial static page from the same server, the anchor, interleaved), and
// a 500-node neighbourhood: time to draw it, then whether it stays
// interactive (a tap answered, frame times while zooming and panning).
//
//   node bench/web_bench.mjs            # after make build and
//                                       # bash scripts/test-setup.sh
// Environment: HAKGAL_BIN (default build/hakgal), CHROMIUM
// (/usr/bin/chromium), RUNS (page loads per measure, default 15).
// Uses playwright-core from tests/e2e/node_modules. Prints a table and
// writes bench/out/web_bench.json.
import { spawn, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import os from "node:os";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(join(root, "tests/e2e/package.json"));
const { chromium } = require("playwright-core");
const BIN = process.env.HAKGAL_BIN || join(root, "build/hakgal");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const RUNS = Number(process.env.RUNS || 15);
const HUB = 500; // neighbours of the hub entity

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

// ---- bundle size ----
const webDir = join(dirname(BIN), "web");
const sizes = { initial: [0, 0], graph: [0, 0], total: [0, 0] };
for (const dir of [webDir, join(webDir, "assets")]) {
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (statSync(p).isDirectory() || f.endsWith(".gz")) continue;
    const raw = statSync(p).size;
    let gz = raw;
    try {
      gz = statSync(p + ".gz").size;
    } catch {
      /* not compressed */
    }
    const kind = f.startsWith("graphdraw") ? "graph" : "initial";
    sizes[kind][0] += raw;
    sizes[kind][1] += gz;
    sizes.total[0] += raw;
    sizes.total[1] += gz;
  }
}

// ---- a KB: the sample facts plus a hub with 500 neighbours ----
const tmp = mkdtempSync(join(os.tmpdir(), "web-bench-"));
const kb = join(tmp, "kb");
const run = (args) => {
  const p = spawnSync(BIN, [...args, "--data", kb], { encoding: "utf8", maxBuffer: 1 << 26 });
  if (p.status !== 0) throw new Error(`hakgal ${args[0]}: ${p.stderr}`);
};
run(["init"]);
run(["import", join(root, "data/sample.hkl"), "--quiet"]);
const lines = [];
for (let i = 0; i < HUB; i++) lines.push(`Links(Hub, Node${String(i).padStart(4, "0")})`);
for (let i = 0; i < HUB; i += 5) lines.push(`Near(Node${String(i).padStart(4, "0")}, Node${String((i + 7) % HUB).padStart(4, "0")})`);
writeFileSync(join(tmp, "hub.hkl"), lines.join("\n") + "\n");
run(["import", join(tmp, "hub.hkl"), "--quiet"]);

// The anchor: a trivial static page (one labelled text box, no script),
// served by the same server from a copy of the explorer's directory.
const webCopy = join(tmp, "web");
cpSync(webDir, webCopy, { recursive: true });
writeFileSync(
  join(webCopy, "anchor.html"),
  '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>anchor</title></head>' +
    '<body><main><label for="q">Search</label> <input type="search" id="q" name="q"></main></body></html>\n',
);
const srv = spawn(BIN, ["serve", "--data", kb, "--web", webCopy, "--listen", "127.0.0.1:0", "--threads", "2", "--quiet"], { stdio: ["ignore", "ignore", "pipe"] });
// --quiet hides the banner: find the port with ss (polled: under load
// the server may take seconds to listen)
let m = null;
for (let i = 0; i < 120 && !m; i++) {
  await new Promise((r) => setTimeout(r, 250));
  const ss = spawnSync("ss", ["-ltnpH"], { encoding: "utf8" }).stdout;
  m = new RegExp(`127\\.0\\.0\\.1:(\\d+)\\s.*pid=${srv.pid},`).exec(ss);
}
if (!m) throw new Error("cannot find the server's port");
const B = `http://127.0.0.1:${m[1]}`;

const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
const result = {};
try {
  // ---- time to interactive ----
  // Interactive means usable, not painted: from the navigation's start
  // until the search box has taken typed input and a search submitted
  // with Enter shows its first result (the page, its bundle, the session,
  // the first view and one /v2/search round trip). "shell" stops when the
  // box exists. The anchor is the same sequence on a static page with one
  // text box (no script, no results), from the same server: what the
  // browser, the harness and the loopback cost on this machine now.
  const measure = async (warm, url) => {
    const ctx = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    const page = await ctx.newPage();
    if (warm) {
      await page.goto(url);
      await page.getByRole("searchbox", { name: "Search" }).waitFor();
    }
    await page.goto("about:blank");
    const t0 = Date.now();
    await page.goto(url, { waitUntil: "commit" });
    const box = page.getByRole("searchbox", { name: "Search" });
    await box.waitFor();
    const shell = Date.now() - t0;
    await box.fill("water");
    let tti = Date.now() - t0;
    if (!url.endsWith("anchor.html")) {
      await box.press("Enter");
      await page.locator("ol.facts li").first().waitFor();
      tti = Date.now() - t0;
    }
    await ctx.close();
    return { shell, tti };
  };
  const series = { app_cold: [], app_warm: [], anchor_cold: [], anchor_warm: [] };
  await measure(false, B + "/anchor.html"); // the browser's own first start
  // interleaved, so that a change of load hits both alike
  for (let i = 0; i < RUNS; i++) {
    series.anchor_cold.push(await measure(false, B + "/anchor.html"));
    series.app_cold.push(await measure(false, B + "/#/search"));
    series.anchor_warm.push(await measure(true, B + "/anchor.html"));
    series.app_warm.push(await measure(true, B + "/#/search"));
  }
  for (const [k, v] of Object.entries(series)) {
    result[`${k}_tti_ms`] = median(v.map((x) => x.tti));
    result[`${k}_shell_ms`] = median(v.map((x) => x.shell));
    result[`${k}_tti_all`] = v.map((x) => x.tti);
  }
  result.load_during_tti = os.loadavg();

  // ---- a 500-node neighbourhood ----
  const draws = [];
  const taps = [];
  const frames = [];
  const pans = [];
  for (let i = 0; i < 5; i++) {
    const ctx = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    const page = await ctx.newPage();
    await page.goto(B + "/#/graph");
    await page.getByLabel("Entity", { exact: true }).fill("Hub");
    await page.getByLabel("Facts per entity").fill("1000");
    await page.getByLabel("Edges at most").fill("2000");
    const t0 = Date.now();
    await page.getByRole("button", { name: "Draw" }).click();
    await page.waitForFunction(() => window.hkGraph && window.hkGraph.cy.nodes().length > 500, null, { timeout: 120000 });
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    draws.push(Date.now() - t0);
    result.nodes = await page.evaluate(() => window.hkGraph.cy.nodes().length);
    result.edges = await page.evaluate(() => window.hkGraph.cy.edges().length);
    // a tap on a node: time until the side panel names it
    // zoomed onto the node first: in the ring of 500 nodes they overlap
    const pos = await page.evaluate(async () => {
      const box = document.getElementById("graph-canvas");
      box.scrollIntoView({ block: "center" });
      const cy = window.hkGraph.cy;
      const n = cy.getElementById("Node0250");
      cy.zoom(2.5);
      cy.center(n);
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      const b = box.getBoundingClientRect();
      const p = n.renderedPosition();
      return { x: b.left + p.x, y: b.top + p.y };
    });
    const t1 = Date.now();
    await page.mouse.click(pos.x, pos.y);
    await page.locator("aside.graph-side h2", { hasText: "Node0250" }).waitFor();
    taps.push(Date.now() - t1);
    // 60 zoom steps, one per frame: mean and worst frame time
    const f = await page.evaluate(
      () =>
        new Promise((resolve) => {
          const cy = window.hkGraph.cy;
          const times = [];
          let last = performance.now();
          let k = 0;
          const step = () => {
            const now = performance.now();
            times.push(now - last);
            last = now;
            cy.zoom({ level: cy.zoom() * (k < 30 ? 1.03 : 0.97), renderedPosition: { x: 300, y: 300 } });
            if (++k < 60) requestAnimationFrame(step);
            else resolve(times.slice(1));
          };
          requestAnimationFrame(step);
        }),
    );
    frames.push(...f);
    // 60 pan steps, one per frame
    const pf = await page.evaluate(
      () =>
        new Promise((resolve) => {
          const cy = window.hkGraph.cy;
          const times = [];
          let last = performance.now();
          let k = 0;
          const step = () => {
            const now = performance.now();
            times.push(now - last);
            last = now;
            cy.panBy({ x: k < 30 ? 8 : -8, y: 4 });
            if (++k < 60) requestAnimationFrame(step);
            else resolve(times.slice(1));
          };
          requestAnimationFrame(step);
        }),
    );
    pans.push(...pf);
    await ctx.close();
  }
  result.draw_500_ms = median(draws);
  result.tap_ms = median(taps);
  result.frame_median_ms = median(frames);
  result.frame_p95_ms = [...frames].sort((a, b) => a - b)[Math.floor(frames.length * 0.95)];
  result.pan_median_ms = median(pans);
  result.pan_p95_ms = [...pans].sort((a, b) => a - b)[Math.floor(pans.length * 0.95)];
} finally {
  await browser.close();
  srv.kill("SIGTERM");
  rmSync(tmp, { recursive: true, force: true });
}

const kb1 = (n) => (n / 1024).toFixed(1) + " KiB";
const rows = [
  ["initial bundle (html+js+css), gzipped", kb1(sizes.initial[1]), "", `raw ${kb1(sizes.initial[0])}`],
  ["graph chunk (cytoscape), gzipped", kb1(sizes.graph[1]), "", `raw ${kb1(sizes.graph[0])}, loaded on first graph`],
  ["all assets, gzipped", kb1(sizes.total[1]), "<= 300 KiB", `${((100 * sizes.total[1]) / (300 * 1024)).toFixed(0)} % of target`],
  ["TTI cold: search box -> first results (median)", `${result.app_cold_tti_ms} ms`, "<= 1000 ms", `anchor ${result.anchor_cold_tti_ms} ms, ratio ${(result.app_cold_tti_ms / result.anchor_cold_tti_ms).toFixed(2)}`],
  ["TTI warm: search box -> first results (median)", `${result.app_warm_tti_ms} ms`, "<= 1000 ms", `anchor ${result.anchor_warm_tti_ms} ms, ratio ${(result.app_warm_tti_ms / result.anchor_warm_tti_ms).toFixed(2)}`],
  ["shell cold / warm: search box there (median)", `${result.app_cold_shell_ms} / ${result.app_warm_shell_ms} ms`, "", `anchor ${result.anchor_cold_shell_ms} / ${result.anchor_warm_shell_ms} ms`],
  [`draw ${result.nodes} nodes / ${result.edges} edges (median of 5)`, `${result.draw_500_ms} ms`, "", "fetch + auto layout (concentric) + first frame"],
  ["tap a node -> panel (median)", `${result.tap_ms} ms`, "", ""],
  ["zoom frame time, median / p95", `${result.frame_median_ms.toFixed(1)} / ${result.frame_p95_ms.toFixed(1)} ms`, "", "60 zoom steps x 5"],
  ["pan frame time, median / p95", `${result.pan_median_ms.toFixed(1)} / ${result.pan_p95_ms.toFixed(1)} ms`, "", "60 pan steps x 5"],
];
console.log(`== machine: ${os.cpus().length} cores, ${os.cpus()[0].model}, load ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`);
console.log(`runs: ${RUNS} page loads per TTI measure; load during TTI ${result.load_during_tti.map((x) => x.toFixed(2)).join(" ")}\n`);
for (const r of rows) console.log(r[0].padEnd(48) + r[1].padStart(16) + "  " + r[2].padEnd(11) + r[3]);
mkdirSync(join(root, "bench/out"), { recursive: true });
writeFileSync(join(root, "bench/out/web_bench.json"), JSON.stringify({ sizes, ...result }, null, 2) + "\n");
