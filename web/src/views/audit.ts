// Audit: the hash chain, newest first, with its verification status, and
// the history of one fact.
import type { Ctx } from "../main";
import { go } from "../main";
import { get } from "../api";
import { field, h, put, route, status } from "../dom";
import { input } from "./common";

interface Entry {
  seq: number;
  time: string;
  actor: string;
  op: string;
  fact_id: number;
  fact_id_last?: number;
  count?: number;
  before: unknown;
  after: unknown;
  hash: string;
}

function summary(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "object" && v && "statement" in v) return String((v as { statement: unknown }).statement);
  const s = JSON.stringify(v);
  return s.length > 160 ? s.slice(0, 157) + "…" : s;
}

function table(entries: Entry[]): HTMLElement {
  return h(
    "table",
    { class: "audit" },
    h("caption", { class: "sr-only" }, "Audit entries"),
    h("thead", null, h("tr", null, ["seq", "time", "actor", "op", "fact", "before", "after", "hash"].map((c) => h("th", { scope: "col" }, c)))),
    h(
      "tbody",
      null,
      entries.map((e) =>
        h(
          "tr",
          null,
          h("td", null, String(e.seq)),
          h("td", null, h("time", { datetime: e.time }, e.time.replace("T", " ").replace(/\.\d+Z$/, "Z"))),
          h("td", null, e.actor),
          h("td", null, e.op),
          h("td", null, e.fact_id ? h("a", { href: route("/audit", { fact: e.fact_id }) }, "#" + e.fact_id + (e.fact_id_last && e.fact_id_last !== e.fact_id ? "–" + e.fact_id_last : "")) : ""),
          h("td", { class: "json" }, summary(e.before)),
          h("td", { class: "json" }, summary(e.after)),
          h("td", { class: "hash", title: e.hash }, e.hash.slice(0, 12)),
        ),
      ),
    ),
  );
}

const AUTO_VERIFY_MAX = 100000; // audit entries verified on every visit

export async function auditView(ctx: Ctx): Promise<void> {
  const factId = ctx.params.get("fact") || "";
  const before = ctx.params.get("before") || undefined;
  const idIn = input({ type: "number", name: "fact", min: 1, value: factId, placeholder: "fact id" });
  const verify = h("div", { class: "verify", role: "status" });
  const out = h("div");
  put(
    ctx.main,
    h(
      "form",
      {
        class: "inline-form",
        onsubmit: (ev: Event) => {
          ev.preventDefault();
          go(route("/audit", { fact: idIn.value || undefined }));
        },
      },
      field("History of fact", idIn),
      h("button", { type: "submit" }, "Show"),
      factId ? h("a", { href: route("/audit") }, "Whole log") : null,
    ),
    verify,
    out,
  );
  const runVerify = () => {
    status(verify, "info", "Verifying the chain…");
    get<{ ok: boolean; audit?: { ok: boolean; checked: number; first_bad: number; reason: string | null } }>("/v2/admin/verify")
      .then((v) => {
        if (!ctx.live()) return;
        const a = v.audit;
        if (!a) status(verify, v.ok ? "ok" : "error", v.ok ? "Verified." : "Verification failed.");
        else if (a.ok) status(verify, "ok", `Audit chain verified: ${a.checked} entries, every hash links to the one before.`);
        else status(verify, "error", `Audit chain broken at entry ${a.first_bad}: ${a.reason || "hash mismatch"}`);
      })
      .catch((e) => status(verify, "info", "Verification not available to this role: " + e.message));
  };
  // Verifying reads every entry: automatic on a small log, a button on a
  // large one (a visit must not read a log of millions of entries).
  get<{ audit_entries?: number }>("/v2/stats")
    .then((st) => {
      if (!ctx.live()) return;
      const n = Number(st.audit_entries || 0);
      if (n <= AUTO_VERIFY_MAX) runVerify();
      else put(verify, h("button", { type: "button", onclick: runVerify }, `Verify the whole chain (${n.toLocaleString("en-US")} entries)`));
    })
    .catch(() => runVerify());

  if (factId) {
    const r = await get<{ fact_id: number; entries: Entry[] }>(`/v2/facts/${encodeURIComponent(factId)}/history`);
    if (!ctx.live()) return;
    put(out, h("h2", null, "History of fact ", h("a", { href: route("/facts", { id: r.fact_id }) }, "#" + r.fact_id)), r.entries.length ? table(r.entries) : h("p", null, "No entries."));
    return;
  }
  status(out, "info", "Loading…");
  const r = await get<{ entries: Entry[]; next_before: number | null }>("/v2/audit", { limit: 50, before });
  if (!ctx.live()) return;
  put(
    out,
    table(r.entries),
    r.next_before ? h("nav", { class: "pager" }, h("a", { href: route("/audit", { before: r.next_before }), rel: "next" }, "Older →")) : null,
  );
}
