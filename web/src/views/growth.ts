// The Status view's growth chart: facts added (bars up) and deleted (bars
// down) per UTC day, from GET /v2/stats/growth (per-day counters on the
// server, O(days)). Plain SVG, no chart library; every bar has a <title>
// and the chart a text summary, so it reads without the picture too.
import { get } from "../api";
import { fmtNum, h } from "../dom";

export interface Growth {
  days: number;
  first_day: string;
  total_added: number;
  total_deleted: number;
  per_day: { date: string; added: number; deleted: number }[];
}

const NS = "http://www.w3.org/2000/svg";

function s(tag: string, attrs: Record<string, string | number>, ...kids: (Node | string)[]): SVGElement {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const k of kids) el.appendChild(typeof k === "string" ? document.createTextNode(k) : k);
  return el;
}

/** The chart of g, sized by its viewBox (scales to its box). */
export function growthChart(g: Growth): SVGElement {
  const W = 600;
  const H = 160;
  const top = 12; // room for the maximum's label
  const n = g.per_day.length || 1;
  const maxUp = Math.max(1, ...g.per_day.map((d) => d.added));
  const maxDown = Math.max(0, ...g.per_day.map((d) => d.deleted));
  // the baseline splits the height in proportion to the two maxima
  const span = maxUp + maxDown;
  const base = top + ((H - top - 14) * maxUp) / span;
  const scale = (H - top - 14) / span;
  const bw = W / n;
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "growth-chart", role: "img", "aria-labelledby": "growth-title" });
  svg.appendChild(s("title", { id: "growth-title" }, `Facts added and deleted per day, ${g.per_day[0]?.date ?? ""} to ${g.per_day[n - 1]?.date ?? ""}`));
  for (let i = 0; i < g.per_day.length; i++) {
    const d = g.per_day[i];
    const x = i * bw + bw * 0.1;
    const w = Math.max(1, bw * 0.8);
    const tip = `${d.date}: ${fmtNum(d.added)} added, ${fmtNum(d.deleted)} deleted`;
    if (d.added > 0) svg.appendChild(s("rect", { x, y: base - d.added * scale, width: w, height: Math.max(1, d.added * scale), class: "up" }, s("title", {}, tip)));
    if (d.deleted > 0) svg.appendChild(s("rect", { x, y: base, width: w, height: Math.max(1, d.deleted * scale), class: "down" }, s("title", {}, tip)));
  }
  svg.appendChild(s("line", { x1: 0, x2: W, y1: base, y2: base, class: "axis" }));
  svg.appendChild(s("text", { x: 2, y: 10, class: "lbl" }, `max ${fmtNum(maxUp)}/day`));
  svg.appendChild(s("text", { x: 2, y: H - 2, class: "lbl" }, g.per_day[0]?.date ?? ""));
  svg.appendChild(s("text", { x: W - 2, y: H - 2, class: "lbl end" }, g.per_day[n - 1]?.date ?? ""));
  return svg;
}

/** The growth section: a range picker, the chart and its totals. */
export function growthSection(live: () => boolean): HTMLElement {
  const sec = h("section", { "aria-label": "Growth", class: "growth" });
  const body = h("div", { class: "growth-body" }, h("p", { class: "hint" }, "Loading…"));
  const sel = h("select", { id: "growth-days", name: "days" }) as HTMLSelectElement;
  for (const d of [30, 90, 365]) sel.append(h("option", { value: d }, `${d} days`));
  const load = async () => {
    try {
      const g = await get<Growth>("/v2/stats/growth", { days: Number(sel.value) });
      if (!live()) return;
      body.replaceChildren(
        growthChart(g),
        h(
          "p",
          { class: "growth-totals" },
          `${fmtNum(g.total_added)} facts added and ${fmtNum(g.total_deleted)} deleted in the last ${g.days} days (UTC days of the change).`,
        ),
      );
    } catch (e) {
      if (live()) body.replaceChildren(h("p", { class: "hint" }, "Growth is not available: " + (e instanceof Error ? e.message : String(e))));
    }
  };
  sel.addEventListener("change", () => void load());
  sec.append(h("h2", null, "Growth"), h("p", null, h("label", { for: "growth-days" }, "Range "), sel), body);
  void load();
  return sec;
}
