// The graph canvas (cytoscape.js), loaded on first use so that the other
// views start without it. Entities are round nodes, n-ary facts are
// diamond fact nodes joined to their arguments, binary facts are edges.
import cytoscape from "cytoscape";
import type { Core, ElementDefinition, LayoutOptions } from "cytoscape";

export interface GNode {
  id: string;
  kind: string; // "entity" or "fact"
  label?: string;
}
export interface GEdge {
  from: string;
  to: string;
  label: string;
  fact: number;
}

export interface Canvas {
  cy: Core;
  add(nodes: GNode[], edges: GEdge[]): number;
  layout(name: string): void;
  mark(ids: string[]): void;
}

const style = [
  {
    selector: "node",
    style: {
      "background-color": "#2b6cb0",
      label: "data(label)",
      color: "#1a202c",
      "font-size": 11,
      "text-valign": "bottom",
      "text-margin-y": 3,
      width: 18,
      height: 18,
      "text-wrap": "ellipsis",
      "text-max-width": "120px",
      "min-zoomed-font-size": 7, // labels too small to read are not drawn
    },
  },
  { selector: "node[kind = 'fact']", style: { shape: "diamond", "background-color": "#b7791f", width: 14, height: 14 } },
  { selector: "node.centre", style: { "background-color": "#c53030", width: 24, height: 24 } },
  { selector: "node:locked", style: { "border-width": 3, "border-color": "#1a202c" } },
  { selector: "node:selected", style: { "border-width": 3, "border-color": "#d69e2e" } },
  {
    selector: "edge",
    style: {
      width: 1.5,
      "line-color": "#a0aec0",
      "target-arrow-color": "#a0aec0",
      "target-arrow-shape": "triangle",
      "curve-style": "bezier",
      label: "data(label)",
      "font-size": 9,
      color: "#4a5568",
      "text-rotation": "autorotate",
    },
  },
  // in a large drawing edge labels appear only on selected or marked edges
  { selector: "edge.quiet", style: { label: "" } },
  { selector: "edge.quiet:selected, edge.quiet.marked", style: { label: "data(label)" } },
  { selector: "edge.marked, node.marked", style: { "line-color": "#c53030", "target-arrow-color": "#c53030", "background-color": "#c53030", width: 3 } },
];

// Nodes up to which the automatic layout is force-directed (cose is
// quadratic per iteration; concentric is linear).
const AUTO_COSE_MAX = 200;

// cytoscape injects a <style> element unless one with this id exists; the
// CSP forbids inline styles, so style.css carries its one rule instead.
const CY_STYLESHEET_ID = "__________cytoscape_stylesheet";

export function createCanvas(container: HTMLElement, big: boolean): Canvas {
  if (!document.getElementById(CY_STYLESHEET_ID)) {
    const marker = document.createElement("meta");
    marker.id = CY_STYLESHEET_ID;
    document.head.appendChild(marker);
  }
  const cy = cytoscape({
    container,
    style: style as unknown as cytoscape.StylesheetJson,
    minZoom: 0.05,
    maxZoom: 4,
    textureOnViewport: big,
    hideEdgesOnViewport: big,
  });
  const add = (nodes: GNode[], edges: GEdge[]): number => {
    const els: ElementDefinition[] = [];
    let added = 0;
    for (const n of nodes) {
      if (cy.getElementById(n.id).nonempty()) continue;
      els.push({ group: "nodes", data: { id: n.id, kind: n.kind, label: n.kind === "fact" ? n.label || "fact" : n.id } });
      added++;
    }
    for (const e of edges) {
      const id = `e:${e.fact}:${e.from}:${e.to}:${e.label}`;
      if (cy.getElementById(id).nonempty()) continue;
      // an argument edge of a fact node is labelled with its position
      const pos = /\[(\d+)\]$/.exec(e.label);
      const label = pos ? String(Number(pos[1]) + 1) : e.label;
      els.push({ group: "edges", data: { id, source: e.from, target: e.to, label, fact: e.fact } });
    }
    cy.add(els);
    return added;
  };
  const layout = (name: string): void => {
    const n = cy.nodes().length;
    // auto: force-directed while that is quick, rings by degree beyond
    if (name === "auto") name = n <= AUTO_COSE_MAX ? "cose" : "concentric";
    cy.batch(() => {
      if (cy.edges().length > AUTO_COSE_MAX) cy.edges().addClass("quiet");
      else cy.edges().removeClass("quiet");
    });
    const opts: LayoutOptions =
      name === "cose"
        ? ({ name: "cose", animate: false, numIter: n > 300 ? 400 : 1000, nodeRepulsion: () => 6000, idealEdgeLength: () => 60, randomize: true } as LayoutOptions)
        : name === "concentric"
          ? ({ name, animate: false, padding: 20, minNodeSpacing: 4, avoidOverlap: true, concentric: (node: cytoscape.NodeSingular) => node.degree(false), levelWidth: () => 1 } as LayoutOptions)
          : ({ name, animate: false, padding: 20 } as LayoutOptions);
    cy.layout(opts).run();
  };
  const mark = (ids: string[]): void => {
    cy.elements().removeClass("marked");
    for (const id of ids) cy.getElementById(id).addClass("marked");
  };
  return { cy, add, layout, mark };
}
