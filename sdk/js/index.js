// hakgal-client: a client of the hakgal REST API (/v2) over fetch, for
// Node 20+ and browsers. Types: index.d.ts.
//
// Retries: an answer 503 or 429 is retried up to maxRetries times, after
// the answer's Retry-After (seconds, capped at maxBackoffMs) or else
// backoffMs * 2^attempt with up to 50% jitter. Every write of the API is
// idempotent, so writes are retried too. Timeouts and network errors are
// not retried (the request may have reached the server).

export class HakgalError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   * @param {Record<string, unknown> | null} [detail]
   */
  constructor(status, code, message, detail = null) {
    super(message);
    this.name = "HakgalError";
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class Client {
  /**
   * @param {string} baseUrl
   * @param {import("./index.js").ClientOptions} [options]
   */
  constructor(baseUrl, options = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.token = options.token;
    this.timeoutMs = options.timeoutMs ?? 30000;
    this.maxRetries = options.maxRetries ?? 3;
    this.backoffMs = options.backoffMs ?? 100;
    this.maxBackoffMs = options.maxBackoffMs ?? 30000;
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  // ==== transport ====

  /**
   * @param {string} method
   * @param {string} path
   * @param {Record<string, string | number | boolean | null | undefined>} [params]
   * @param {unknown} [body]
   */
  async request(method, path, params, body) {
    let url = this.baseUrl + path;
    if (params) {
      const qs = new URLSearchParams();
      for (const [k, v] of Object.entries(params)) {
        if (v !== undefined && v !== null) qs.append(k, String(v));
      }
      const s = qs.toString();
      if (s) url += "?" + s;
    }
    /** @type {Record<string, string>} */
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (this.token) headers.Authorization = "Bearer " + this.token;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    for (let attempt = 0; ; attempt++) {
      let res;
      try {
        res = await this.fetch(url, {
          method,
          headers,
          body: payload,
          signal: AbortSignal.timeout(this.timeoutMs),
        });
      } catch (e) {
        const err = /** @type {Error} */ (e);
        if (err && (err.name === "TimeoutError" || err.name === "AbortError")) {
          throw new HakgalError(0, "timeout",
            `${method} ${path}: no answer within ${this.timeoutMs} ms`);
        }
        throw new HakgalError(0, "connection",
          `${method} ${path}: ${err && err.message ? err.message : String(e)}`);
      }
      let text;
      try {
        text = await res.text();
      } catch (e) {
        const err = /** @type {Error} */ (e);
        const code = err && err.name === "TimeoutError" ? "timeout" : "connection";
        throw new HakgalError(0, code, `${method} ${path}: ${err.message}`);
      }
      if (res.ok) {
        try {
          return { status: res.status, data: text ? JSON.parse(text) : null };
        } catch (e) {
          throw new HakgalError(0, "invalid_answer",
            `${method} ${path}: answer is not JSON`);
        }
      }
      if ((res.status === 503 || res.status === 429) && attempt < this.maxRetries) {
        await sleep(this.#wait(attempt, res.headers.get("Retry-After")));
        continue;
      }
      throw apiError(res.status, text, method, path);
    }
  }

  /**
   * @param {number} attempt
   * @param {string | null} retryAfter
   */
  #wait(attempt, retryAfter) {
    if (retryAfter !== null && /^\s*\d+(\.\d+)?\s*$/.test(retryAfter)) {
      return Math.min(parseFloat(retryAfter) * 1000, this.maxBackoffMs);
    }
    const base = Math.min(this.backoffMs * 2 ** attempt, this.maxBackoffMs);
    return base * (1 + Math.random() / 2);
  }

  // ==== facts ====

  /** @param {string | import("./index.js").NewFact} fact */
  async add(fact) {
    const body = typeof fact === "string" ? { statement: fact } : fact;
    const r = await this.request("POST", "/v2/facts", undefined, body);
    return { fact: /** @type {any} */ (r.data), created: r.status === 201 };
  }

  /** @param {Array<string | import("./index.js").NewFact>} items */
  async batch(items) {
    return (await this.request("POST", "/v2/facts/batch", undefined, items)).data;
  }

  /** @param {number} id */
  async get(id) {
    return (await this.request("GET", `/v2/facts/${id}`)).data;
  }

  /**
   * @param {number} id
   * @param {import("./index.js").FactMeta & { statement?: string }} change
   */
  async update(id, change) {
    const method = change.statement !== undefined ? "PUT" : "PATCH";
    return (await this.request(method, `/v2/facts/${id}`, undefined, change)).data;
  }

  /** @param {number} id */
  async delete(id) {
    return (await this.request("DELETE", `/v2/facts/${id}`)).data.fact;
  }

  /** @param {string} statement */
  async deleteStatement(statement) {
    return (await this.request("DELETE", "/v2/facts", { statement })).data.fact;
  }

  /**
   * @param {number} id
   * @param {number} [limit]
   */
  async history(id, limit) {
    return (await this.request("GET", `/v2/facts/${id}/history`, { limit })).data.entries;
  }

  // ==== reads ====

  /**
   * @param {string} pattern
   * @param {{limit?: number, cursor?: string | null}} [opts]
   */
  async query(pattern, opts = {}) {
    return (await this.request("GET", "/v2/query",
      { q: pattern, limit: opts.limit, cursor: opts.cursor })).data;
  }

  /**
   * @param {string} pattern
   * @param {number} [pageSize]
   */
  async *queryAll(pattern, pageSize) {
    /** @type {string | null} */
    let cursor = null;
    do {
      const page = await this.query(pattern, { limit: pageSize, cursor });
      yield* page.facts;
      cursor = page.next_cursor;
    } while (cursor);
  }

  /**
   * @param {string} query
   * @param {{limit?: number, cursor?: string | null}} [opts]
   */
  async queryRows(query, opts = {}) {
    /** @type {Record<string, unknown>} */
    const body = { query };
    if (opts.limit !== undefined) body.limit = opts.limit;
    if (opts.cursor) body.cursor = opts.cursor;
    return (await this.request("POST", "/v2/query", undefined, body)).data;
  }

  /**
   * @param {string} query
   * @param {number} [pageSize]
   */
  async *queryRowsAll(query, pageSize) {
    /** @type {string | null} */
    let cursor = null;
    do {
      const page = await this.queryRows(query, { limit: pageSize, cursor });
      yield* page.rows;
      cursor = page.next_cursor;
    } while (cursor);
  }

  /**
   * @param {string} text
   * @param {{limit?: number, mode?: string}} [opts]
   */
  async search(text, opts = {}) {
    return (await this.request("GET", "/v2/search",
      { q: text, limit: opts.limit, mode: opts.mode })).data.results;
  }

  /**
   * @param {string} name
   * @param {{limit?: number, cursor?: string | null}} [opts]
   */
  async entity(name, opts = {}) {
    return (await this.request("GET", "/v2/entities/" + encodeURIComponent(name),
      { limit: opts.limit, cursor: opts.cursor })).data;
  }

  /**
   * @param {string} name
   * @param {number} [pageSize]
   */
  async *entityFacts(name, pageSize) {
    /** @type {string | null} */
    let cursor = null;
    do {
      const page = await this.entity(name, { limit: pageSize, cursor });
      yield* page.facts;
      cursor = page.next_cursor;
    } while (cursor);
  }

  /**
   * @param {string} entity
   * @param {{depth?: number, fanout?: number, maxEdges?: number}} [opts]
   */
  async neighbours(entity, opts = {}) {
    return (await this.request("GET", "/v2/graph/neighbours", {
      entity, depth: opts.depth, fanout: opts.fanout, max_edges: opts.maxEdges,
    })).data;
  }

  /**
   * @param {string} from
   * @param {string} to
   * @param {{maxLen?: number, k?: number}} [opts]
   */
  async paths(from, to, opts = {}) {
    return (await this.request("GET", "/v2/graph/path",
      { from, to, max_len: opts.maxLen, k: opts.k })).data.paths;
  }

  /** @param {{limit?: number, before?: number | null}} [opts] */
  async audit(opts = {}) {
    return (await this.request("GET", "/v2/audit",
      { limit: opts.limit, before: opts.before })).data;
  }

  /** @param {number} [pageSize] */
  async *auditAll(pageSize) {
    /** @type {number | null} */
    let before = null;
    do {
      const page = await this.audit({ limit: pageSize, before });
      yield* page.entries;
      before = page.next_before;
    } while (before);
  }

  async stats() {
    return (await this.request("GET", "/v2/stats")).data;
  }
}

/**
 * @param {number} status
 * @param {string} text
 * @param {string} method
 * @param {string} path
 */
function apiError(status, text, method, path) {
  try {
    const e = JSON.parse(text).error;
    if (e && typeof e.code === "string") {
      return new HakgalError(status, e.code, String(e.message ?? ""), e.detail ?? null);
    }
  } catch (_) {
    // not JSON: described below
  }
  return new HakgalError(status, `http_${status}`,
    `${method} ${path}: ${text.slice(0, 200)}`);
}
