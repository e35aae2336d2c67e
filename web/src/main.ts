// The explorer's shell: the session (bearer token in session storage and
// the role it grants), the hash router (#/view/arg?params) and the views.
import "./style.css";
import { ApiError, Session, get, getToken, setToken } from "./api";
import { h, put, status } from "./dom";
import { searchView } from "./views/search";
import { entityView } from "./views/entity";
import { graphView } from "./views/graph";
import { queryView } from "./views/query";
import { factsView } from "./views/facts";
import { auditView } from "./views/audit";
import { reviewView } from "./views/review";
import { statusView } from "./views/status";

export interface Ctx {
  session: Session;
  arg: string; // decoded path part after the view name
  params: URLSearchParams; // the hash's query parameters
  main: HTMLElement; // where the view draws
  live: () => boolean; // false once the user navigated away
}

type View = (ctx: Ctx) => Promise<void> | void;

const views: Record<string, { title: string; fn: View }> = {
  search: { title: "Search", fn: searchView },
  entity: { title: "Entity", fn: entityView },
  graph: { title: "Graph", fn: graphView },
  query: { title: "Query", fn: queryView },
  facts: { title: "Facts", fn: factsView },
  audit: { title: "Audit", fn: auditView },
  review: { title: "Review", fn: reviewView },
  status: { title: "Status", fn: statusView },
};

const anonymous: Session = {
  name: "anonymous",
  role: "none",
  authenticated: false,
  tokens: true,
  read_auth: false,
  can_read: true,
  can_write: false,
  can_review: false,
  can_admin: false,
};

let session: Session = anonymous;
let generation = 0;

async function loadSession(): Promise<string | null> {
  try {
    session = await get<Session>("/v2/session");
    return null;
  } catch (e) {
    session = anonymous;
    if (e instanceof ApiError && e.status === 401 && getToken()) {
      setToken(null);
      try {
        session = await get<Session>("/v2/session");
      } catch {
        /* keep anonymous */
      }
      return "The token was not accepted: " + e.message;
    }
    return e instanceof Error ? e.message : String(e);
  }
}

function drawWho(note: string | null): void {
  const who = document.getElementById("who")!;
  const roleText = session.tokens ? `${session.name} (${session.role})` : "protected mode (loopback, no token needed)";
  if (session.authenticated) {
    put(
      who,
      h("span", { class: "role", "data-role": session.role }, roleText),
      h(
        "button",
        {
          type: "button",
          onclick: async () => {
            setToken(null);
            drawWho(await loadSession());
            render();
          },
        },
        "Log out",
      ),
    );
    return;
  }
  const input = h("input", {
    type: "password",
    id: "token",
    name: "token",
    autocomplete: "off",
    placeholder: "bearer token",
    "aria-label": "Bearer token",
  }) as HTMLInputElement;
  const form = h(
    "form",
    {
      class: "login",
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        if (!input.value.trim()) return;
        setToken(input.value.trim());
        drawWho(await loadSession());
        render();
      },
    },
    h("span", { class: "role", "data-role": session.role }, roleText),
    session.tokens ? [input, h("button", { type: "submit" }, "Log in")] : null,
  );
  put(who, form);
  if (note) who.appendChild(h("span", { class: "note error", role: "alert" }, note));
}

function parseHash(): { view: string; arg: string; params: URLSearchParams } {
  const raw = location.hash.replace(/^#\/?/, "");
  const q = raw.indexOf("?");
  const path = q >= 0 ? raw.slice(0, q) : raw;
  const params = new URLSearchParams(q >= 0 ? raw.slice(q + 1) : "");
  const slash = path.indexOf("/");
  const view = (slash >= 0 ? path.slice(0, slash) : path) || "search";
  let arg = slash >= 0 ? path.slice(slash + 1) : "";
  try {
    arg = decodeURIComponent(arg);
  } catch {
    /* keep raw */
  }
  return { view, arg, params };
}

// Views that draw differently by role (write and review controls).
const ROLE_VIEWS = new Set(["facts", "review"]);

function hideByRole(): void {
  for (const a of document.querySelectorAll<HTMLAnchorElement>("#nav a")) if (a.dataset.view === "review") a.hidden = !session.can_read;
}

export function render(): void {
  const main = document.getElementById("main")!;
  const { view, arg, params } = parseHash();
  const v = views[view] || views.search;
  const name = views[view] ? view : "search";
  const my = ++generation;
  document.title = `${v.title} · hakgal explorer`;
  for (const a of document.querySelectorAll<HTMLAnchorElement>("#nav a")) {
    if (a.dataset.view === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  hideByRole();
  put(main, h("h1", { class: "view-title" }, v.title));
  const body = h("div", { class: "view view-" + name });
  main.appendChild(body);
  const ctx: Ctx = { session, arg, params, main: body, live: () => my === generation };
  Promise.resolve()
    .then(() => v.fn(ctx))
    .catch((e) => {
      if (!ctx.live()) return;
      status(body, "error", e instanceof Error ? e.message : String(e));
    });
}

/** Navigates to a hash route (re-renders even when unchanged). */
export function go(hash: string): void {
  if (location.hash === hash) render();
  else location.hash = hash;
}

async function start(): Promise<void> {
  // the skip link moves focus without touching the hash (the router's)
  document.querySelector(".skip")?.addEventListener("click", (ev) => {
    ev.preventDefault();
    document.getElementById("main")?.focus();
  });
  window.addEventListener("hashchange", () => {
    render();
    document.getElementById("main")?.focus({ preventScroll: true });
  });
  // The first view draws at once, while the session is still on its way:
  // reads need no role (the token, if any, rides on every request), so
  // only views that adapt to the role are drawn again when it arrives.
  const pending = loadSession();
  render();
  const note = await pending;
  drawWho(note);
  if (note || ROLE_VIEWS.has(parseHash().view)) render();
  else hideByRole();
}

void start();
