/**
 * hakgal-client: a typed client of the hakgal knowledge-base REST API (/v2)
 * for Node 20+ and browsers, over the platform's fetch.
 */

/** One fact: Pred(arg1, ...) with its metadata. */
export interface Fact {
  id: number;
  statement: string;
  predicate: string;
  args: string[];
  confidence: number;
  source: string | null;
  tags: string[];
  context: Record<string, unknown> | null;
  /** RFC 3339, UTC */
  created: string;
  updated: string;
}

/** Metadata accepted by add and update. */
export interface FactMeta {
  confidence?: number;
  source?: string | null;
  tags?: string[];
  context?: Record<string, unknown> | null;
}

/** A fact to add: a statement, or a predicate with its arguments. */
export type NewFact =
  | ({ statement: string } & FactMeta)
  | ({ predicate: string; args: string[] } & FactMeta)
  | ({ predicate: string; subject: string; object: string } & FactMeta);

export interface AddResult {
  fact: Fact;
  /** false when the fact was already there (the add is idempotent) */
  created: boolean;
}

/** The error object of an answer. */
export interface ApiErrorBody {
  code: string;
  message: string;
  detail: Record<string, unknown> | null;
}

export interface BatchItemResult {
  index: number;
  status: number;
  id?: number;
  created?: boolean;
  error?: ApiErrorBody;
}

export interface BatchResult {
  count: number;
  created: number;
  existing: number;
  failed: number;
  results: BatchItemResult[];
}

/** One page of a pattern query: facts[i] matched with bindings[i]. */
export interface QueryPage {
  query: string;
  facts: Fact[];
  bindings: Record<string, string>[];
  count: number;
  next_cursor: string | null;
}

/** A row of a multi-pattern query: variable values and matched fact ids. */
export interface Row {
  bindings: Record<string, string | number>;
  facts: number[];
}

export interface RowPage {
  query: string;
  rows: Row[];
  count: number;
  next_cursor: string | null;
}

export interface SearchHit {
  score: number;
  fact: Fact;
}

export interface EntityPage {
  entity: string;
  fact_count: number;
  facts: Fact[];
  next_cursor: string | null;
}

export interface GraphNode {
  id: string;
  kind: "entity" | "fact";
  label?: string;
}

export interface GraphEdge {
  from: string;
  to: string;
  label: string;
  fact?: number;
}

export interface Subgraph {
  nodes: GraphNode[];
  edges: GraphEdge[];
  truncated: boolean;
}

export interface Path {
  length: number;
  nodes: string[];
  facts: number[];
}

export interface AuditEntry {
  seq: number;
  time: string;
  actor: string;
  op: "add" | "update" | "meta" | "delete" | "import" | string;
  fact_id: number | null;
  fact_id_last: number | null;
  count: number;
  before: unknown;
  after: unknown;
  prev_hash: string;
  hash: string;
}

export interface AuditPage {
  entries: AuditEntry[];
  count: number;
  next_before: number | null;
}

export interface ClientOptions {
  /** sent as Authorization: Bearer TOKEN */
  token?: string;
  /** per attempt, milliseconds (default 30000) */
  timeoutMs?: number;
  /** retries of an answer 503 or 429 (default 3) */
  maxRetries?: number;
  /** first backoff without Retry-After, milliseconds (default 100) */
  backoffMs?: number;
  /** longest wait between attempts, milliseconds (default 30000) */
  maxBackoffMs?: number;
  /** a fetch implementation (default: globalThis.fetch) */
  fetch?: typeof fetch;
}

/**
 * An error answer of the server (status, code, message, detail), or with
 * status 0 a request that got no answer: code "timeout", "connection" or
 * "invalid_answer".
 */
export class HakgalError extends Error {
  constructor(status: number, code: string, message: string, detail?: Record<string, unknown> | null);
  readonly status: number;
  readonly code: string;
  readonly detail: Record<string, unknown> | null;
}

export class Client {
  constructor(baseUrl: string, options?: ClientOptions);
  readonly baseUrl: string;

  /** One API call with retries; resolves to the decoded JSON. */
  request<T = unknown>(
    method: string,
    path: string,
    params?: Record<string, string | number | boolean | null | undefined>,
    body?: unknown,
  ): Promise<{ status: number; data: T }>;

  add(fact: string | NewFact): Promise<AddResult>;
  batch(items: Array<string | NewFact>): Promise<BatchResult>;
  get(id: number): Promise<Fact>;
  /** With a statement: PUT (replace); without: PATCH (metadata only). */
  update(id: number, change: FactMeta & { statement?: string }): Promise<Fact>;
  /** Deletes a fact; resolves to the fact as it was. */
  delete(id: number): Promise<Fact>;
  deleteStatement(statement: string): Promise<Fact>;
  history(id: number, limit?: number): Promise<AuditEntry[]>;

  query(pattern: string, opts?: { limit?: number; cursor?: string | null }): Promise<QueryPage>;
  /** Every fact matching the pattern, page by page. */
  queryAll(pattern: string, pageSize?: number): AsyncGenerator<Fact, void, undefined>;
  queryRows(query: string, opts?: { limit?: number; cursor?: string | null }): Promise<RowPage>;
  queryRowsAll(query: string, pageSize?: number): AsyncGenerator<Row, void, undefined>;
  search(text: string, opts?: { limit?: number; mode?: "text" | "vector" | "hybrid" }): Promise<SearchHit[]>;
  entity(name: string, opts?: { limit?: number; cursor?: string | null }): Promise<EntityPage>;
  entityFacts(name: string, pageSize?: number): AsyncGenerator<Fact, void, undefined>;
  neighbours(entity: string, opts?: { depth?: number; fanout?: number; maxEdges?: number }): Promise<Subgraph>;
  paths(from: string, to: string, opts?: { maxLen?: number; k?: number }): Promise<Path[]>;
  audit(opts?: { limit?: number; before?: number | null }): Promise<AuditPage>;
  auditAll(pageSize?: number): AsyncGenerator<AuditEntry, void, undefined>;
  stats(): Promise<Record<string, unknown>>;
}
