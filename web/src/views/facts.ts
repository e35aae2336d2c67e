// Facts: add, edit and delete with confidence, source and tags. A
// statement the server refuses is shown with a marker at the column the
// parser names, as the CLI does.
import type { Ctx } from "../main";
import { go } from "../main";
import { ApiError, Fact, send, get } from "../api";
import { field, h, put, route, status } from "../dom";
import { factLine, factMeta, input } from "./common";

interface Verdict {
  valid: boolean;
  statement?: string;
  error?: { code: string; message: string; detail?: { column?: number; field?: string } };
}

/** The error with a caret under its column, as the CLI prints it. */
function syntaxError(message: string, text: string, col: number | undefined): HTMLElement {
  // the column counts characters (code points), as the parser does
  const chars = [...text];
  return h(
    "div",
    { class: "note error syntax", role: "alert" },
    h("p", { class: "errmsg" }, message),
    col !== undefined ? h("pre", { class: "caret", "aria-label": `error at column ${col}` }, text, "\n", " ".repeat(Math.max(0, Math.min(col - 1, chars.length))) + "^", h("span", { class: "col" }, ` column ${col}`)) : null,
  );
}

function showError(out: HTMLElement, e: unknown, text: string): void {
  if (!(e instanceof ApiError)) {
    status(out, "error", e instanceof Error ? e.message : String(e));
    return;
  }
  const fieldName = e.detail && typeof e.detail["field"] === "string" ? (e.detail["field"] as string) : "";
  const col = fieldName === "statement" || e.code === "invalid_statement" ? e.column : undefined;
  put(out, syntaxError(e.message, text, col));
}

export async function factsView(ctx: Ctx): Promise<void> {
  const idParam = ctx.params.get("id");
  const id = idParam ? parseInt(idParam, 10) : 0;
  let fact: Fact | null = null;
  const out = h("div", { class: "fact-out", "aria-live": "polite" });
  if (id > 0) fact = await get<Fact>("/v2/facts/" + id);
  if (!ctx.live()) return;

  const stmt = input({ type: "text", name: "statement", value: fact ? fact.statement : ctx.params.get("statement") || "", placeholder: "HasPart(Computer, GPU)", spellcheck: "false", autocomplete: "off", required: true });
  const conf = input({ type: "number", name: "confidence", min: 0, max: 1, step: 0.01, value: fact ? fact.confidence : 1 });
  const source = input({ type: "text", name: "source", value: fact?.source || "" });
  const tags = input({ type: "text", name: "tags", value: fact ? fact.tags.join(", ") : "", placeholder: "comma-separated" });
  const canWrite = ctx.session.can_write;
  const body = () => ({
    statement: stmt.value,
    confidence: Number(conf.value),
    source: source.value.trim() || null,
    tags: tags.value.split(",").map((t) => t.trim()).filter(Boolean),
  });
  // live validation: the server checks the statement as an add would
  const check = h("div", { class: "check", id: "statement-check", "aria-live": "polite" });
  stmt.setAttribute("aria-describedby", "statement-check");
  let checked = 0;
  let timer = 0;
  const validate = async (): Promise<Verdict | null> => {
    const text = stmt.value;
    const my = ++checked;
    if (!text.trim()) {
      put(check);
      stmt.removeAttribute("aria-invalid");
      return null;
    }
    const v = await get<Verdict>("/v2/check", { statement: text });
    if (my !== checked || !ctx.live()) return null;
    if (v.valid) {
      stmt.setAttribute("aria-invalid", "false");
      put(check, h("p", { class: "note ok" }, "Valid: ", h("span", { class: "stmt" }, v.statement || "")));
    } else {
      stmt.setAttribute("aria-invalid", "true");
      put(check, syntaxError(v.error?.message || "invalid statement", text, v.error?.detail?.column));
    }
    return v;
  };
  stmt.addEventListener("input", () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => void validate().catch(() => undefined), 150);
  });
  const save = async (ev: Event) => {
    ev.preventDefault();
    window.clearTimeout(timer);
    const v = await validate().catch(() => null);
    if (v && !v.valid) {
      put(out);
      stmt.focus();
      return; // the error is shown under the statement
    }
    status(out, "info", "Saving…");
    try {
      if (fact) {
        const f = await send<Fact>("PUT", "/v2/facts/" + fact.id, body());
        fact = f;
        put(out, h("p", { class: "note ok", role: "status" }, "Saved ", factLine(f), " ", factMeta(f)));
      } else {
        const f = await send<Fact>("POST", "/v2/facts", body());
        put(out, h("p", { class: "note ok", role: "status" }, "Stored ", factLine(f), " ", factMeta(f)));
        stmt.value = "";
        put(check);
        stmt.removeAttribute("aria-invalid");
        stmt.focus();
        void recent(list);
      }
    } catch (e) {
      showError(out, e, stmt.value);
    }
  };
  const del = async () => {
    if (!fact || !confirm(`Delete fact #${fact.id}: ${fact.statement}?`)) return;
    try {
      await send("DELETE", "/v2/facts/" + fact.id);
      go(route("/facts", { deleted: fact.id }));
    } catch (e) {
      showError(out, e, stmt.value);
    }
  };
  const list = h("ul", { class: "facts compact" });
  put(
    ctx.main,
    canWrite ? null : h("p", { class: "note warn" }, "Your role cannot change facts; log in with a write token."),
    ctx.params.get("deleted") ? h("p", { class: "note ok", role: "status" }, `Fact #${ctx.params.get("deleted")} deleted.`) : null,
    h("h2", null, fact ? `Edit fact #${fact.id}` : "Add a fact"),
    h(
      "form",
      { class: "fact-form", onsubmit: save },
      h("fieldset", { disabled: !canWrite }, h("legend", { class: "sr-only" }, "Fact"), field("Statement", stmt, "Pred(arg, \"quoted arg\", ...)"), check, h("div", { class: "row" }, field("Confidence", conf), field("Source", source), field("Tags", tags)), h("div", { class: "buttons" }, h("button", { type: "submit" }, fact ? "Save" : "Add"), fact ? h("button", { type: "button", class: "danger", onclick: del }, "Delete") : null, fact ? h("a", { href: route("/facts") }, "New fact") : null)),
    ),
    out,
    fact ? h("p", null, h("a", { href: route("/audit", { fact: fact.id }) }, "History of this fact")) : null,
    h("h2", null, "Recently added"),
    list,
  );
  stmt.focus();
  await recent(list);
}

async function recent(list: HTMLElement): Promise<void> {
  const r = await get<{ facts: Fact[] }>("/v2/facts", { limit: 10, order: "newest" });
  put(list, r.facts.map((f) => h("li", null, factLine(f), " ", factMeta(f))));
}
