// Query console: one pattern (`HasPart(?x, CPU)`) or several joined on
// shared variables; results as a table and as a graph; history (kept in
// this browser) and examples.
import type { Ctx } from "../main";
import { go } from "../main";
import { Fact, get } from "../api";
import { entityLink, field, h, put, route, status } from "../dom";
import type { GEdge, GNode } from "../graphdraw";
import { factLine } from "./common";

const HISTORY_KEY = "hakgal.queries";
const EXAMPLES = [
  "HasPart(?x, CPU)",
  "?p(Water, ?o)",
  "HasPart(?x, ?y), IsA(?y, ?z)",
  "IsA(?x, ?c), not HasPart(?x, _)",
  "select distinct ?c where IsA(?x, ?c) order by ?c limit 20",
];

interface Row {
  bindings: Record<string, string>;
  facts: number[];
}

function history(): string[] {
  try {
    const v = JSON.parse(localStorage.getItem(HISTORY_KEY) || "[]");
    return Array.isArray(v) ? v.filter((x) => typeof x === "string").slice(0, 20) : [];
  } catch {
    return [];
  }
}

function remember(q: string): void {
  const l = [q, ...history().filter((x) => x !== q)].slice(0, 20);
  localStorage.setItem(HISTORY_KEY, JSON.stringify(l));
}

export async function queryView(ctx: Ctx): Promise<void> {
  const q = ctx.params.get("q") || "";
  const cursor = ctx.params.get("cursor") || undefined;
  const as = ctx.params.get("as") || "table";
  const ta = h("textarea", { name: "q", rows: 3, spellcheck: "false", placeholder: "HasPart(?x, ?y), IsA(?y, ?z)" }) as HTMLTextAreaElement;
  ta.value = q;
  const out = h("div", { class: "query-out" });
  const run = (ev?: Event) => {
    ev?.preventDefault();
    if (ta.value.trim()) go(route("/query", { q: ta.value.trim(), as: as === "table" ? undefined : as }));
  };
  ta.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) run(ev);
  });
  const hist = history();
  put(
    ctx.main,
    h("form", { class: "query-form", onsubmit: run }, field("Query", ta, "patterns with ?variables and _, joined with commas; Ctrl+Enter runs"), h("button", { type: "submit" }, "Run")),
    h(
      "div",
      { class: "cols" },
      h("section", { class: "query-results", "aria-label": "Results" }, out),
      h(
        "aside",
        { class: "query-side" },
        h("h2", null, "Examples"),
        h("ul", null, EXAMPLES.map((e) => h("li", null, h("a", { href: route("/query", { q: e }) }, e)))),
        h("h2", null, "History"),
        hist.length ? h("ul", { class: "history" }, hist.map((e) => h("li", null, h("a", { href: route("/query", { q: e }) }, e)))) : h("p", null, "No queries yet."),
      ),
    ),
  );
  if (!q) {
    ta.focus();
    status(out, "info", "Write a pattern or pick an example.");
    return;
  }
  status(out, "info", "Running…");
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const r = await get<any>("/v2/query", { q, limit: 100, cursor });
  if (!ctx.live()) return;
  remember(q);
  let rows: Row[];
  let facts = new Map<number, Fact>();
  if (Array.isArray(r.rows)) {
    rows = r.rows as Row[];
  } else {
    const fs = (r.facts || []) as Fact[];
    rows = ((r.bindings || []) as Record<string, string>[]).map((b, i) => ({ bindings: b, facts: fs[i] ? [fs[i].id] : [] }));
    fs.forEach((f) => facts.set(f.id, f));
  }
  const vars = [...new Set(rows.flatMap((x) => Object.keys(x.bindings)))];
  const tabs = h(
    "div",
    { class: "tabs", role: "tablist", "aria-label": "Result views" },
    ["table", "graph"].map((t) =>
      h("a", { role: "tab", href: route("/query", { q, as: t === "table" ? undefined : t, cursor }), "aria-selected": t === as ? "true" : "false" }, t === "table" ? "Table" : "Graph"),
    ),
  );
  const head = h("p", { class: "count", role: "status" }, `${rows.length} row${rows.length === 1 ? "" : "s"}`, r.next_cursor ? " (more on the next page)" : "");
  const pager = r.next_cursor ? h("nav", { class: "pager" }, h("a", { href: route("/query", { q, as: as === "table" ? undefined : as, cursor: r.next_cursor }), rel: "next" }, "Next page →")) : null;
  if (as !== "graph") {
    put(
      out,
      tabs,
      head,
      rows.length
        ? h(
            "table",
            { class: "rows" },
            h("caption", { class: "sr-only" }, "Query results"),
            h("thead", null, h("tr", null, vars.map((v) => h("th", { scope: "col" }, "?" + v)), h("th", { scope: "col" }, "facts"))),
            h(
              "tbody",
              null,
              rows.map((row) =>
                h(
                  "tr",
                  null,
                  vars.map((v) => h("td", null, row.bindings[v] !== undefined ? entityLink(row.bindings[v]) : "")),
                  h("td", null, row.facts.map((id, i) => [i ? ", " : "", h("a", { href: route("/facts", { id }) }, "#" + id)])),
                ),
              ),
            ),
          )
        : h("p", null, "No rows."),
      pager,
    );
    return;
  }
  // graph of the matched facts (at most 200 distinct)
  const ids = [...new Set(rows.flatMap((x) => x.facts))].slice(0, 200);
  const missing = ids.filter((id) => !facts.has(id));
  await Promise.all(missing.map(async (id) => facts.set(id, await get<Fact>("/v2/facts/" + id))));
  if (!ctx.live()) return;
  const box = h("div", { class: "graph-box", role: "img", "aria-label": "Graph of the matched facts" });
  const list = h("ul", { class: "facts compact" }, ids.map((id) => h("li", null, factLine(facts.get(id)!))));
  put(out, tabs, head, box, h("details", null, h("summary", null, "Matched facts"), list), pager);
  const { nodes, edges } = factsToGraph(ids.map((id) => facts.get(id)!));
  const mod = await import("../graphdraw");
  const c = mod.createCanvas(box, nodes.length > 300);
  c.add(nodes, edges);
  c.layout("auto");
}

/** Binary facts as edges, others as a fact node joined to each argument. */
export function factsToGraph(facts: Fact[]): { nodes: GNode[]; edges: GEdge[] } {
  const nodes: GNode[] = [];
  const edges: GEdge[] = [];
  for (const f of facts) {
    if (f.args.length === 2) {
      nodes.push({ id: f.args[0], kind: "entity" }, { id: f.args[1], kind: "entity" });
      edges.push({ from: f.args[0], to: f.args[1], label: f.predicate, fact: f.id });
    } else {
      const fid = "fact:" + f.id;
      nodes.push({ id: fid, kind: "fact", label: f.predicate });
      f.args.forEach((a, i) => {
        nodes.push({ id: a, kind: "entity" });
        edges.push({ from: fid, to: a, label: `${f.predicate}[${i}]`, fact: f.id });
      });
    }
  }
  return { nodes, edges };
}
