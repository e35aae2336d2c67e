// Building DOM nodes. Text is only ever set as text nodes or attribute
// values (never parsed as HTML), so whatever a fact holds is shown inert.

export type Child = Node | string | number | null | undefined | false | Child[];
export type Attrs = Record<
  string,
  string | number | boolean | null | undefined | ((ev: Event) => void)
>;

export function h(tag: string, attrs: Attrs | null = null, ...kids: Child[]): HTMLElement {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (typeof v === "function") {
        el.addEventListener(k.replace(/^on/, ""), v as EventListener);
      } else if (v === true) {
        el.setAttribute(k, "");
      } else {
        el.setAttribute(k, String(v));
      }
    }
  }
  append(el, kids);
  return el;
}

export function append(el: Node, kids: Child[]): void {
  for (const k of kids) {
    if (k === null || k === undefined || k === false) continue;
    if (Array.isArray(k)) append(el, k);
    else if (k instanceof Node) el.appendChild(k);
    else el.appendChild(document.createTextNode(String(k)));
  }
}

export function clear(el: Element): void {
  while (el.firstChild) el.removeChild(el.firstChild);
}

/** Replaces the children of el. */
export function put(el: Element, ...kids: Child[]): void {
  clear(el);
  append(el, kids);
}

/** A link inside the app: #/view/arg?query. */
export function route(path: string, params?: Record<string, string | number | undefined>): string {
  let q = "";
  if (params) {
    const u = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") u.set(k, String(v));
    const s = u.toString();
    if (s) q = "?" + s;
  }
  return "#" + path + q;
}

export function entityLink(name: string): HTMLElement {
  return h("a", { href: route("/entity/" + encodeURIComponent(name)), class: "entity" }, name);
}

/** Text with every (case-blind) occurrence of the words marked. */
export function highlight(text: string, words: string[]): Child[] {
  const ws = words.map((w) => w.toLowerCase()).filter((w) => w.length > 1);
  if (!ws.length) return [text];
  const lower = text.toLowerCase();
  const out: Child[] = [];
  let i = 0;
  while (i < text.length) {
    let best = -1;
    let len = 0;
    for (const w of ws) {
      const j = lower.indexOf(w, i);
      if (j >= 0 && (best < 0 || j < best || (j === best && w.length > len))) {
        best = j;
        len = w.length;
      }
    }
    if (best < 0) break;
    if (best > i) out.push(text.slice(i, best));
    out.push(h("mark", null, text.slice(best, best + len)));
    i = best + len;
  }
  if (i < text.length) out.push(text.slice(i));
  return out;
}

export function status(el: Element, kind: "info" | "error" | "ok", text: string): void {
  put(el, h("p", { class: "note " + kind, role: kind === "error" ? "alert" : "status" }, text));
}

export function field(label: string, input: HTMLElement, hint?: string): HTMLElement {
  const id = input.id || "f-" + Math.random().toString(36).slice(2, 9);
  input.id = id;
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    input,
    hint ? h("small", { class: "hint" }, hint) : null,
  );
}

export function fmtNum(n: number): string {
  return n.toLocaleString("en-US");
}

export function fmtBytes(n: number): string {
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) {
    n /= 1024;
    i++;
  }
  return (i ? n.toFixed(1) : String(n)) + " " + u[i];
}
