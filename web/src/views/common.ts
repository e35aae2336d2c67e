// Pieces several views share: a fact line with links, forms.
import { Fact } from "../api";
import { Child, entityLink, h, highlight, route } from "../dom";

/** `Pred(a, b)` with the predicate and every argument a link. */
export function factLine(f: Fact, words: string[] = []): HTMLElement {
  const parts: Child[] = [
    h("a", { href: route("/search", { pred: f.predicate }), class: "pred" }, highlight(f.predicate, words)),
    "(",
  ];
  f.args.forEach((a, i) => {
    if (i) parts.push(", ");
    const link = entityLink(a);
    link.textContent = "";
    for (const c of highlight(a, words)) link.append(c instanceof Node ? c : String(c));
    parts.push(link);
  });
  parts.push(")");
  return h("span", { class: "stmt" }, parts);
}

export function factMeta(f: Fact): HTMLElement {
  return h(
    "span",
    { class: "meta" },
    h("a", { href: route("/facts", { id: f.id }), title: "edit fact " + f.id }, "#" + f.id),
    f.confidence !== 1 ? ` conf ${f.confidence}` : null,
    f.source ? [" · ", h("span", { class: "source" }, f.source)] : null,
    f.tags.length ? [" · ", f.tags.map((t) => h("span", { class: "tag" }, t))] : null,
  );
}

export function input(attrs: Record<string, string | number | boolean | undefined>): HTMLInputElement {
  return h("input", attrs) as HTMLInputElement;
}
