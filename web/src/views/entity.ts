// Entity: the facts mentioning an entity, grouped by predicate and by the
// position the entity holds in them, with counts, neighbours and links to
// each fact's history. Pages of 200 facts (never the whole KB).
import type { Ctx } from "../main";
import { go } from "../main";
import { Fact, enc, get } from "../api";
import { entityLink, field, fmtNum, h, put, route, status } from "../dom";
import { factMeta, factLine, input } from "./common";

const PAGE = 200;

interface EntityPage {
  entity: string;
  fact_count: number;
  facts: Fact[];
  next_cursor: string | null;
}

export async function entityView(ctx: Ctx): Promise<void> {
  const name = ctx.arg;
  const nameIn = input({ type: "text", name: "entity", value: name, placeholder: "e.g. Computer" });
  const out = h("div");
  put(
    ctx.main,
    h(
      "form",
      {
        class: "inline-form",
        onsubmit: (ev: Event) => {
          ev.preventDefault();
          if (nameIn.value.trim()) go(route("/entity/" + enc(nameIn.value.trim())));
        },
      },
      field("Entity", nameIn),
      h("button", { type: "submit" }, "Open"),
    ),
    out,
  );
  if (!name) {
    status(out, "info", "Name an entity, or open one from a search.");
    return;
  }
  const cursor = ctx.params.get("cursor") || undefined;
  const page = await get<EntityPage>("/v2/entities/" + enc(name), { limit: PAGE, cursor });
  if (!ctx.live()) return;

  // group: predicate -> position -> facts
  const groups = new Map<string, Map<number, Fact[]>>();
  const neighbours = new Map<string, number>();
  for (const f of page.facts) {
    let byPos = groups.get(f.predicate);
    if (!byPos) groups.set(f.predicate, (byPos = new Map()));
    f.args.forEach((a, i) => {
      if (a === name) {
        const l = byPos!.get(i) || [];
        l.push(f);
        byPos!.set(i, l);
      } else {
        neighbours.set(a, (neighbours.get(a) || 0) + 1);
      }
    });
  }
  const preds = [...groups.keys()].sort();
  const nb = [...neighbours.entries()].sort((a, b) => b[1] - a[1]).slice(0, 40);
  put(
    out,
    h("h2", { class: "entity-name" }, name),
    h(
      "p",
      { class: "count" },
      `${fmtNum(page.fact_count)} facts mention it`,
      page.fact_count > page.facts.length ? ` (showing ${fmtNum(page.facts.length)} on this page)` : "",
      " · ",
      h("a", { href: route("/graph", { e: name }) }, "Show in graph"),
      " · ",
      h("a", { href: route("/query", { q: `?p(${quoteArg(name)}, ?o)` }) }, "Query"),
    ),
    h(
      "div",
      { class: "cols" },
      h(
        "section",
        { class: "groups", "aria-label": "Facts by predicate" },
        preds.map((p) => {
          const byPos = groups.get(p)!;
          return h(
            "section",
            { class: "group" },
            h("h3", null, h("a", { href: route("/search", { pred: p }) }, p), " ", h("span", { class: "badge" }, String([...byPos.values()].reduce((n, l) => n + l.length, 0)))),
            [...byPos.entries()]
              .sort((a, b) => a[0] - b[0])
              .map(([pos, facts]) =>
                h(
                  "div",
                  { class: "pos" },
                  h("h4", null, `as argument ${pos + 1}`, " ", h("span", { class: "badge" }, String(facts.length))),
                  h(
                    "ul",
                    { class: "facts" },
                    facts.map((f) =>
                      h("li", null, factLine(f), " ", factMeta(f), " ", h("a", { href: route("/audit", { fact: f.id }), class: "hist" }, "history")),
                    ),
                  ),
                ),
              ),
          );
        }),
      ),
      h(
        "aside",
        { class: "neighbours", "aria-label": "Neighbours" },
        h("h3", null, "Neighbours"),
        nb.length ? h("ul", null, nb.map(([n, c]) => h("li", null, entityLink(n), " ", h("span", { class: "badge" }, String(c))))) : h("p", null, "none"),
      ),
    ),
    page.next_cursor ? h("nav", { class: "pager" }, h("a", { href: route("/entity/" + enc(name), { cursor: page.next_cursor }), rel: "next" }, "Next page →")) : null,
  );
}

/** An argument as the statement grammar writes it. */
export function quoteArg(s: string): string {
  return /^[\p{L}\p{N}_ .:\-+/']+$/u.test(s) && s.trim() === s && s !== "_" && !s.startsWith("?") ? s : '"' + s.replace(/\\/g, "\\\\").replace(/"/g, '\\"') + '"';
}
