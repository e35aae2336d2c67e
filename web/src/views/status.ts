// Status: counts and sizes, growth per day (views/growth.ts), server
// metrics (from /metrics), the change stream's backlog and, on a
// follower, its replication lag.
import type { Ctx } from "../main";
import { get, text } from "../api";
import { fmtBytes, fmtNum, h, put, status } from "../dom";
import { growthSection } from "./growth";

type Stats = Record<string, number | string | null>;

function dl(rows: [string, string][]): HTMLElement {
  return h("dl", { class: "kv" }, rows.map(([k, v]) => [h("dt", null, k), h("dd", null, v)]));
}

/** Sums of the samples of each metric name in a Prometheus text page. */
export function parseMetrics(page: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of page.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const sp = line.lastIndexOf(" ");
    const name = line.slice(0, sp).replace(/\{.*\}$/, "");
    const v = Number(line.slice(sp + 1));
    if (Number.isFinite(v)) m.set(name, (m.get(name) || 0) + v);
  }
  return m;
}

export async function statusView(ctx: Ctx): Promise<void> {
  const kb = h("section", { "aria-label": "Knowledge base" });
  const srv = h("section", { "aria-label": "Server" });
  const stream = h("section", { "aria-label": "Change stream" });
  put(ctx.main, h("div", { class: "cards" }, kb, srv, stream), growthSection(ctx.live));
  status(kb, "info", "Loading…");
  const s = await get<Stats>("/v2/stats");
  if (!ctx.live()) return;
  const n = (k: string) => fmtNum(Number(s[k] || 0));
  const used = Number(s.bytes_used || 0);
  const map = Number(s.map_size || 0);
  put(
    kb,
    h("h2", null, "Knowledge base"),
    dl([
      ["facts", n("facts")],
      ["predicates", n("predicates")],
      ["entities", n("entities")],
      ["symbols", n("symbols")],
      ["audit entries", n("audit_entries")],
      ["last fact id", n("last_fact_id")],
      ["on disk", fmtBytes(Number(s.bytes_on_disk || 0))],
      ["used", fmtBytes(used)],
      ["free in file", fmtBytes(Number(s.bytes_free || 0))],
      ["map size", fmtBytes(map)],
      ["last change", String(s.last_change || "never")],
      ["version", String(s.version || "")],
      ["uptime", `${Math.round(Number(s.uptime_seconds || 0))} s`],
    ]),
    map ? h("p", null, h("label", { for: "fill" }, "Map filled "), h("meter", { id: "fill", min: 0, max: map, value: used }, `${((100 * used) / map).toFixed(3)} %`)) : null,
  );
  try {
    const m = parseMetrics(await text("/metrics"));
    if (!ctx.live()) return;
    const v = (k: string) => fmtNum(Math.round(m.get(k) || 0));
    const reqs = m.get("hakgal_http_requests_total") || 0;
    const secs = m.get("hakgal_http_request_duration_seconds_sum") || 0;
    put(
      srv,
      h("h2", null, "Server"),
      dl([
        ["requests", v("hakgal_http_requests_total")],
        ["mean latency", reqs ? `${((1000 * secs) / reqs).toFixed(2)} ms` : "–"],
        ["facts added", v("hakgal_facts_added_total")],
        ["facts deleted", v("hakgal_facts_deleted_total")],
        ["commits", v("hakgal_commits_total")],
        ["connections accepted", v("hakgal_connections_accepted_total")],
      ]),
      // a follower of another node's change stream (serve --follow)
      m.has("hakgal_follow_lag_messages")
        ? h(
            "div",
            { class: "replication" },
            h("h3", null, "Replication"),
            dl([
              ["lag (messages behind)", v("hakgal_follow_lag_messages")],
              ["applied", v("hakgal_follow_applied_total")],
              ["skipped", v("hakgal_follow_skipped_total")],
              ["failures", v("hakgal_follow_failures_total")],
            ]),
          )
        : h("p", { class: "hint" }, "Not a replica (no --follow)."),
    );
  } catch (e) {
    status(srv, "info", "Metrics are not available to this role: " + (e instanceof Error ? e.message : String(e)));
  }
  try {
    const st = await get<Stats>("/v2/stream/status");
    if (!ctx.live()) return;
    put(
      stream,
      h("h2", null, "Change stream"),
      st.enabled
        ? dl([
            ["backlog (events waiting)", fmtNum(Number(st.backlog || 0))],
            ["oldest waiting", String(st.oldest || "–")],
            ["last published", String(st.published || "–")],
          ])
        : h("p", null, "Not enabled (hakgal serve --stream)."),
    );
  } catch (e) {
    status(stream, "info", "Stream status unavailable: " + (e instanceof Error ? e.message : String(e)));
  }
}
