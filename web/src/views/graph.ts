// Graph: an interactive neighbourhood (expand a node, filter predicates,
// pin, layouts), a path finder between two entities, click-through to
// facts. Neighbourhoods are sampled by the server (fan-out and edge cap);
// a note says so when it happened.
import type { Ctx } from "../main";
import { Fact, enc, get } from "../api";
import { field, h, put, route, status } from "../dom";
import type { Canvas, GEdge, GNode } from "../graphdraw";
import { factLine, factMeta, input } from "./common";

interface Hood {
  nodes: GNode[];
  edges: GEdge[];
  truncated?: boolean;
}

export async function graphView(ctx: Ctx): Promise<void> {
  const p = ctx.params;
  const centre = p.get("e") || "";
  const eIn = input({ type: "text", name: "e", value: centre, placeholder: "e.g. Water" });
  const depthIn = input({ type: "number", name: "depth", min: 1, max: 4, value: p.get("depth") || "1" });
  const fanIn = input({ type: "number", name: "fanout", min: 1, max: 1000, value: p.get("fanout") || "50" });
  const maxIn = input({ type: "number", name: "max_edges", min: 1, max: 5000, value: p.get("max_edges") || "500" });
  const allowIn = input({ type: "text", name: "allow", value: p.get("allow") || "", placeholder: "all predicates" });
  const denyIn = input({ type: "text", name: "deny", value: p.get("deny") || "", placeholder: "none" });
  const layoutSel = h("select", { name: "layout" }) as HTMLSelectElement;
  for (const l of ["auto", "cose", "breadthfirst", "concentric", "circle", "grid"]) layoutSel.append(h("option", { value: l }, l));
  const fromIn = input({ type: "text", name: "from", value: p.get("from") || "", placeholder: "e.g. Computer" });
  const toIn = input({ type: "text", name: "to", value: p.get("to") || "", placeholder: "e.g. Silicon" });
  const kIn = input({ type: "number", name: "k", min: 1, max: 10, value: p.get("k") || "1" });
  const note = h("div", { class: "graph-note", role: "status" });
  const box = h("div", { class: "graph-box", id: "graph-canvas", role: "img", "aria-label": "Graph drawing; the panel beside it lists the selected element" });
  const side = h("aside", { class: "graph-side", "aria-label": "Selection" }, h("p", null, "Select a node or an edge."));
  const pathOut = h("div", { class: "path-out" });

  let canvas: Canvas | null = null;
  const ensure = async (): Promise<Canvas> => {
    if (canvas) return canvas;
    const mod = await import("../graphdraw");
    canvas = mod.createCanvas(box, Number(maxIn.value) > 300);
    canvas.cy.on("tap", "node", (ev) => void showNode(ev.target.id(), ev.target.data("kind")));
    canvas.cy.on("tap", "edge", (ev) => void showFact(Number(ev.target.data("fact"))));
    (window as unknown as { hkGraph?: Canvas }).hkGraph = canvas; // for tests and the console
    return canvas;
  };
  const hoodParams = (entity: string) => ({
    entity,
    depth: depthIn.value,
    fanout: fanIn.value,
    max_edges: maxIn.value,
    allow: allowIn.value.replace(/\s+/g, "") || undefined,
    deny: denyIn.value.replace(/\s+/g, "") || undefined,
  });
  const expand = async (entity: string, fresh: boolean): Promise<void> => {
    const c = await ensure();
    status(note, "info", `Loading the neighbourhood of ${entity}…`);
    const hood = await get<Hood>("/v2/graph/neighbours", hoodParams(entity));
    if (!ctx.live()) return;
    if (fresh) c.cy.elements().remove();
    const added = c.add(hood.nodes, hood.edges);
    c.cy.getElementById(entity).addClass("centre");
    c.layout(layoutSel.value);
    const n = c.cy.nodes().length;
    const e = c.cy.edges().length;
    put(
      note,
      h(
        "p",
        { class: hood.truncated ? "note warn" : "note info" },
        `${n} nodes, ${e} edges (${added} new).`,
        hood.truncated ? ` Sampled: the neighbourhood is larger than ${fanIn.value} facts per entity or ${maxIn.value} edges; filter predicates or expand nodes to see more.` : "",
      ),
    );
  };
  const showNode = async (id: string, kind: string): Promise<void> => {
    if (kind === "fact") {
      await showFact(Number(id.replace(/^fact:/, "")));
      return;
    }
    const c = await ensure();
    const node = c.cy.getElementById(id);
    put(
      side,
      h("h2", null, id),
      h(
        "div",
        { class: "buttons" },
        h("button", { type: "button", onclick: () => void expand(id, false) }, "Expand"),
        h(
          "button",
          {
            type: "button",
            "aria-pressed": node.locked() ? "true" : "false",
            onclick: (ev: Event) => {
              if (node.locked()) node.unlock();
              else node.lock();
              (ev.target as HTMLElement).setAttribute("aria-pressed", node.locked() ? "true" : "false");
            },
          },
          "Pin",
        ),
        h("button", { type: "button", onclick: () => void (fromIn.value = id) }, "Path from"),
        h("button", { type: "button", onclick: () => void (toIn.value = id) }, "Path to"),
      ),
      h("p", null, h("a", { href: route("/entity/" + enc(id)) }, "Open entity")),
    );
  };
  const showFact = async (id: number): Promise<void> => {
    const f = await get<Fact>("/v2/facts/" + id);
    put(side, h("h2", null, "Fact #" + id), h("p", null, factLine(f)), h("p", null, factMeta(f)), h("p", null, h("a", { href: route("/audit", { fact: id }) }, "History")));
  };
  const findPath = async (): Promise<void> => {
    const from = fromIn.value.trim();
    const to = toIn.value.trim();
    if (!from || !to) return;
    status(pathOut, "info", "Searching paths…");
    const r = await get<{ paths: { length: number; nodes: string[]; facts: number[] }[] }>("/v2/graph/path", {
      from,
      to,
      k: kIn.value,
      allow: allowIn.value.replace(/\s+/g, "") || undefined,
      deny: denyIn.value.replace(/\s+/g, "") || undefined,
    });
    if (!ctx.live()) return;
    if (!r.paths.length) {
      status(pathOut, "info", `No path from ${from} to ${to}.`);
      return;
    }
    const c = await ensure();
    const ids = new Set(r.paths.flatMap((x) => x.facts));
    const facts = new Map<number, Fact>();
    await Promise.all([...ids].map(async (id) => facts.set(id, await get<Fact>("/v2/facts/" + id))));
    const nodes: GNode[] = [];
    const edges: GEdge[] = [];
    const marked: string[] = [];
    for (const path of r.paths) {
      path.nodes.forEach((n) => {
        nodes.push({ id: n, kind: "entity" });
        marked.push(n);
      });
      path.facts.forEach((fid, i) => {
        const f = facts.get(fid)!;
        const a = path.nodes[i];
        const b = path.nodes[i + 1];
        const forward = f.args.indexOf(a) <= f.args.indexOf(b);
        const e = { from: forward ? a : b, to: forward ? b : a, label: f.predicate, fact: fid };
        edges.push(e);
        marked.push(`e:${e.fact}:${e.from}:${e.to}:${e.label}`);
      });
    }
    c.add(nodes, edges);
    c.mark(marked);
    c.layout(layoutSel.value);
    put(
      pathOut,
      h(
        "ol",
        { class: "paths" },
        r.paths.map((x) => h("li", null, `${x.length} hop${x.length === 1 ? "" : "s"}: `, x.facts.map((fid, i) => [i ? " → " : "", factLine(facts.get(fid)!)]))),
      ),
    );
  };

  put(
    ctx.main,
    h(
      "form",
      {
        class: "graph-form",
        onsubmit: (ev: Event) => {
          ev.preventDefault();
          if (eIn.value.trim()) void expand(eIn.value.trim(), true).catch((e) => status(note, "error", e.message));
        },
      },
      h("div", { class: "row" }, field("Entity", eIn), field("Depth", depthIn), field("Facts per entity", fanIn), field("Edges at most", maxIn)),
      h("div", { class: "row" }, field("Only predicates", allowIn, "comma-separated"), field("Never predicates", denyIn, "comma-separated"), field("Layout", layoutSel)),
      h(
        "div",
        { class: "buttons" },
        h("button", { type: "submit" }, "Draw"),
        h("button", { type: "button", onclick: () => canvas && canvas.layout(layoutSel.value) }, "Layout"),
        h("button", { type: "button", onclick: () => canvas && canvas.cy.fit(undefined, 20) }, "Fit"),
      ),
    ),
    h(
      "form",
      {
        class: "path-form",
        "aria-label": "Path finder",
        onsubmit: (ev: Event) => {
          ev.preventDefault();
          void findPath().catch((e) => status(pathOut, "error", e.message));
        },
      },
      h("div", { class: "row" }, field("Path from", fromIn), field("to", toIn), field("Paths", kIn), h("button", { type: "submit" }, "Find path")),
    ),
    note,
    h("div", { class: "graph-wrap" }, box, side),
    pathOut,
  );
  if (centre) await expand(centre, true);
  else status(note, "info", "Name an entity and draw its neighbourhood; select a node to expand or pin it.");
  if (p.get("from") && p.get("to")) await findPath();
}
