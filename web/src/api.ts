// The REST API /v2 of the same origin, with the bearer token kept in
// session storage (gone when the tab closes).

const TOKEN_KEY = "hakgal.token";

export interface Fact {
  id: number;
  statement: string;
  predicate: string;
  args: string[];
  confidence: number;
  source: string | null;
  tags: string[];
  created: string;
  updated: string;
}

export interface Session {
  name: string;
  role: string;
  authenticated: boolean;
  tokens: boolean;
  read_auth: boolean;
  can_read: boolean;
  can_write: boolean;
  can_review: boolean;
  can_admin: boolean;
}

export class ApiError extends Error {
  status: number;
  code: string;
  detail: Record<string, unknown> | null;
  constructor(status: number, code: string, message: string, detail: Record<string, unknown> | null) {
    super(message);
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
  get column(): number | undefined {
    const c = this.detail && this.detail["column"];
    return typeof c === "number" ? c : undefined;
  }
}

export function getToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(t: string | null): void {
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  else sessionStorage.removeItem(TOKEN_KEY);
}

function qs(params?: Record<string, string | number | boolean | undefined | null>): string {
  if (!params) return "";
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") u.set(k, String(v));
  const s = u.toString();
  return s ? "?" + s : "";
}

async function call(
  method: string,
  path: string,
  params?: Record<string, string | number | boolean | undefined | null>,
  body?: unknown,
  accept = "application/json",
): Promise<Response> {
  const headers: Record<string, string> = { Accept: accept };
  const t = getToken();
  if (t) headers["Authorization"] = "Bearer " + t;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path + qs(params), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit",
    cache: "no-store",
  });
  if (!res.ok) {
    let code = "http_" + res.status;
    let message = res.statusText || "request failed";
    let detail: Record<string, unknown> | null = null;
    try {
      const j = await res.json();
      if (j && j.error) {
        code = j.error.code || code;
        message = j.error.message || message;
        detail = j.error.detail || null;
      }
    } catch {
      /* not JSON */
    }
    throw new ApiError(res.status, code, message, detail);
  }
  return res;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function get<T = any>(path: string, params?: Record<string, string | number | boolean | undefined | null>): Promise<T> {
  return (await call("GET", path, params)).json();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function send<T = any>(method: string, path: string, body?: unknown, params?: Record<string, string | number | undefined>): Promise<T> {
  const r = await call(method, path, params, body);
  const text = await r.text();
  return text ? JSON.parse(text) : ({} as T);
}

export async function text(path: string): Promise<string> {
  return (await call("GET", path, undefined, undefined, "text/plain")).text();
}

export function enc(s: string): string {
  return encodeURIComponent(s);
}
