// Review queue: proposals (from `extract` or `ask --propose`) to approve
// as they are, approve edited, or reject. Deciding needs the reviewer role.
import type { Ctx } from "../main";
import { ApiError, send, get } from "../api";
import { h, put, route, status } from "../dom";
import { input } from "./common";

interface Proposal {
  id: number;
  statement: string;
  status: string;
  model?: string;
  origin?: string;
  span?: { text: string } | null;
  created?: string | null;
  source?: string | null;
  reviewer?: string | null;
  final_statement?: string | null;
  fact?: number | null;
}

export async function reviewView(ctx: Ctx): Promise<void> {
  const st = ctx.params.get("status") || "pending";
  const out = h("div");
  const nav = h(
    "nav",
    { class: "tabs", "aria-label": "Proposal status" },
    ["pending", "approved", "rejected", "all"].map((s) => h("a", { href: route("/review", { status: s === "pending" ? undefined : s }), "aria-current": s === st ? "page" : undefined }, s)),
  );
  put(ctx.main, nav, out);
  let r: { proposals: Proposal[]; count: number };
  try {
    r = await get("/v2/review", { status: st, limit: 100 });
  } catch (e) {
    if (e instanceof ApiError && (e.status === 503 || e.status === 404)) {
      status(out, "info", "This knowledge base has no review queue.");
      return;
    }
    throw e;
  }
  if (!ctx.live()) return;
  if (!r.proposals.length) {
    status(out, "info", `No ${st === "all" ? "" : st + " "}proposals.`);
    return;
  }
  const canReview = ctx.session.can_review;
  put(
    out,
    canReview ? null : h("p", { class: "note warn" }, "Deciding on proposals needs a reviewer token."),
    h(
      "ul",
      { class: "proposals" },
      r.proposals.map((p) => {
        const edit = input({ type: "text", name: "statement-" + p.id, value: p.statement, "aria-label": `Statement of proposal ${p.id}`, spellcheck: "false" });
        const msg = h("div", { class: "msg" });
        const decide = async (verb: "approve" | "reject") => {
          try {
            const body: Record<string, string> = {};
            if (verb === "approve" && edit.value !== p.statement) body.statement = edit.value;
            await send("POST", `/v2/review/${p.id}/${verb}`, body);
            put(li, h("p", { class: "note ok", role: "status" }, `Proposal ${p.id} ${verb === "approve" ? "approved" : "rejected"}: ${edit.value}`));
          } catch (e) {
            status(msg, "error", e instanceof Error ? e.message : String(e));
          }
        };
        const li = h(
          "li",
          { class: "proposal", "data-id": p.id },
          h("p", { class: "stmt" }, p.statement),
          h("p", { class: "meta" }, `#${p.id} · ${p.status}`, p.origin ? ` · ${p.origin}` : "", p.model ? ` · model ${p.model}` : "", p.source ? ` · from ${p.source}` : "", p.reviewer ? ` · by ${p.reviewer}` : "", p.fact ? [" · ", h("a", { href: route("/facts", { id: p.fact }) }, "fact #" + p.fact)] : null),
          p.final_statement && p.final_statement !== p.statement ? h("p", null, "approved as ", h("span", { class: "stmt" }, p.final_statement)) : null,
          p.span && p.span.text ? h("blockquote", null, p.span.text) : null,
          p.status === "pending" && canReview
            ? h(
                "div",
                { class: "decide" },
                edit,
                h("button", { type: "button", onclick: () => void decide("approve") }, "Approve"),
                h("button", { type: "button", class: "danger", onclick: () => void decide("reject") }, "Reject"),
              )
            : null,
          msg,
        );
        return li;
      }),
    ),
  );
}
