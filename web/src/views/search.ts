// Search: ranked text search (hybrid or vector when vector spaces exist)
// with highlighting; filters by predicate, source and tag over the ranked
// hits; pages.
import type { Ctx } from "../main";
import { go } from "../main";
import { Fact, get } from "../api";
import { field, h, put, route, status } from "../dom";
import { factLine, factMeta, input } from "./common";

const PAGE = 20;
const DEPTH = 500; // ranked hits the filters look through at most

interface Hit {
  score: number;
  fact: Fact;
}

export async function searchView(ctx: Ctx): Promise<void> {
  const p = ctx.params;
  const q = p.get("q") || "";
  const pred = p.get("pred") || "";
  const source = p.get("source") || "";
  const tag = p.get("tag") || "";
  const mode = p.get("mode") || "text";
  const page = Math.max(0, parseInt(p.get("page") || "0", 10) || 0);

  const qIn = input({ type: "search", name: "q", value: q, placeholder: "words, e.g. has part computer" });
  const predIn = input({ type: "text", name: "pred", value: pred, placeholder: "any" });
  const srcIn = input({ type: "text", name: "source", value: source, placeholder: "any" });
  const tagIn = input({ type: "text", name: "tag", value: tag, placeholder: "any" });
  const modeSel = h("select", { name: "mode" }) as HTMLSelectElement;
  modeSel.append(h("option", { value: "text" }, "text"));
  const out = h("div", { class: "results" });
  const form = h(
    "form",
    {
      class: "search-form",
      role: "search",
      onsubmit: (ev: Event) => {
        ev.preventDefault();
        go(route("/search", { q: qIn.value.trim(), pred: predIn.value.trim(), source: srcIn.value.trim(), tag: tagIn.value.trim(), mode: modeSel.value === "text" ? undefined : modeSel.value }));
      },
    },
    field("Search", qIn),
    h("div", { class: "row" }, field("Predicate", predIn), field("Source", srcIn), field("Tag", tagIn), field("Mode", modeSel)),
    h("button", { type: "submit" }, "Search"),
  );
  put(ctx.main, form, out);
  qIn.focus();

  // hybrid and vector search only when a vector space exists
  get<{ spaces?: unknown[] }>("/v2/vectors")
    .then((v) => {
      if (v.spaces && v.spaces.length) {
        modeSel.append(h("option", { value: "hybrid" }, "hybrid"), h("option", { value: "vector" }, "vector"));
        modeSel.value = mode;
      }
    })
    .catch(() => undefined);

  if (!q && !pred) {
    status(out, "info", "Type words to search the facts; filters narrow the ranked hits.");
    return;
  }
  status(out, "info", "Searching…");
  let hits: Hit[];
  let note = "";
  if (q) {
    const r = await get<{ results: Hit[] }>("/v2/search", {
      q,
      limit: pred || source || tag ? DEPTH : PAGE * (page + 1) + 1,
      mode: mode === "text" ? undefined : mode,
    });
    hits = r.results;
  } else {
    // predicate only: the facts of that predicate, in id order
    const r = await get<{ facts: Fact[] }>("/v2/facts", { predicate: pred, limit: DEPTH });
    hits = r.facts.map((f) => ({ score: 0, fact: f }));
  }
  if (!ctx.live()) return;
  const all = hits.length;
  hits = hits.filter(
    (x) =>
      (!pred || x.fact.predicate === pred) &&
      (!source || (x.fact.source || "").toLowerCase().includes(source.toLowerCase())) &&
      (!tag || x.fact.tags.includes(tag)),
  );
  if ((pred || source || tag) && all >= DEPTH) note = `Filters looked at the ${DEPTH} best hits only.`;
  const words = q.split(/[^\p{L}\p{N}]+/u).filter(Boolean);
  const shown = hits.slice(page * PAGE, page * PAGE + PAGE);
  const more = hits.length > (page + 1) * PAGE;
  const link = (pg: number) => route("/search", { q, pred, source, tag, mode: mode === "text" ? undefined : mode, page: pg || undefined });
  put(
    out,
    h("p", { class: "count", role: "status" }, shown.length ? `Hits ${page * PAGE + 1}–${page * PAGE + shown.length}` : "No facts match.", note ? " " + note : ""),
    h(
      "ol",
      { class: "facts", start: page * PAGE + 1 },
      shown.map((x) => h("li", null, factLine(x.fact, words), " ", factMeta(x.fact), x.score ? h("span", { class: "score" }, x.score.toFixed(2)) : null)),
    ),
    h(
      "nav",
      { class: "pager", "aria-label": "Pages" },
      page > 0 ? h("a", { href: link(page - 1), rel: "prev" }, "← Previous") : null,
      more ? h("a", { href: link(page + 1), rel: "next" }, "Next →") : null,
    ),
  );
}
