// Thin, typed client for the Osprey HTTP API (same origin as the UI).

/** A request that failed: transport error, non-2xx status or unreadable body. */
export class ApiError extends Error {
  readonly status: number | null;
  readonly endpoint: string;

  constructor(endpoint: string, message: string, status: number | null = null) {
    super(message);
    this.name = "ApiError";
    this.endpoint = endpoint;
    this.status = status;
  }
}

export interface LogRecord {
  timestamp: string;
  service: string;
  severity: string;
  body: string;
  trace_id: string;
  span_id: string;
  attributes: Record<string, unknown>;
}

export interface LogSearchResult {
  logs: LogRecord[];
  matched: number | null;
}

interface SqlColumn {
  name: string;
  type?: string;
}

interface SqlResult {
  columns: SqlColumn[];
  rows: unknown[][];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function str(v: unknown): string {
  if (typeof v === "string") return v;
  if (v === null || v === undefined) return "";
  return String(v);
}

/** Pulls a human-readable message out of an error body (Prometheus or Jaeger style). */
function errorMessage(body: unknown): string | null {
  if (!isRecord(body)) return null;
  if (typeof body.error === "string" && body.error !== "") {
    return typeof body.errorType === "string" && body.errorType !== ""
      ? `${body.errorType}: ${body.error}`
      : body.error;
  }
  // Jaeger: {"errors":[{"code":400,"msg":"..."}]}
  if (Array.isArray(body.errors)) {
    const msgs = body.errors
      .map((e) => (isRecord(e) && typeof e.msg === "string" ? e.msg : null))
      .filter((m): m is string => m !== null);
    if (msgs.length > 0) return msgs.join("; ");
  }
  return null;
}

async function requestJson(endpoint: string, init: RequestInit): Promise<unknown> {
  let resp: Response;
  try {
    resp = await fetch(endpoint, {
      ...init,
      headers: { Accept: "application/json", ...init.headers },
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === "AbortError") throw e;
    throw new ApiError(endpoint, `network error: ${e instanceof Error ? e.message : String(e)}`);
  }
  const text = await resp.text();
  let body: unknown = null;
  if (text !== "") {
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
  }
  if (!resp.ok) {
    const detail = errorMessage(body) ?? (text.trim().slice(0, 300) || resp.statusText);
    throw new ApiError(endpoint, `HTTP ${resp.status}: ${detail}`, resp.status);
  }
  if (body === null) {
    throw new ApiError(endpoint, "response was not valid JSON", resp.status);
  }
  return body;
}

/** `GET /api/services` (Jaeger shape): services seen in spans. */
export async function fetchServices(signal?: AbortSignal): Promise<string[]> {
  const endpoint = "/api/services";
  const body = await requestJson(endpoint, { method: "GET", signal });
  if (!isRecord(body) || !Array.isArray(body.data)) {
    throw new ApiError(endpoint, "unexpected response shape (no data array)");
  }
  return body.data.map(str).filter((s) => s !== "");
}

/** `POST /api/v1/sql`. */
export async function runSql(query: string, signal?: AbortSignal): Promise<SqlResult> {
  const endpoint = "/api/v1/sql";
  const body = await requestJson(endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ query }),
    signal,
  });
  if (!isRecord(body) || !Array.isArray(body.columns) || !Array.isArray(body.rows)) {
    throw new ApiError(endpoint, "unexpected response shape (no columns/rows)");
  }
  const columns = body.columns.map((c) => ({
    name: isRecord(c) ? str(c.name) : str(c),
    type: isRecord(c) ? str(c.type) : undefined,
  }));
  const rows = body.rows.filter((r): r is unknown[] => Array.isArray(r));
  return { columns, rows };
}

export const LOG_COUNT_SQL =
  "SELECT service, count(*) AS n FROM logs GROUP BY service ORDER BY service";

/** Log record counts per service, via the SQL endpoint. */
export async function fetchLogCounts(signal?: AbortSignal): Promise<Map<string, number>> {
  const result = await runSql(LOG_COUNT_SQL, signal);
  const names = result.columns.map((c) => c.name);
  const svcIdx = Math.max(names.indexOf("service"), 0);
  const nIdx = names.indexOf("n") >= 0 ? names.indexOf("n") : 1;
  const counts = new Map<string, number>();
  for (const row of result.rows) {
    const service = str(row[svcIdx]);
    const n = Number(row[nIdx] ?? 0);
    counts.set(service, Number.isFinite(n) ? n : 0);
  }
  return counts;
}

export interface LogSearchParams {
  query: string;
  service: string | null;
  limit: number;
}

/** `GET /api/v1/logs/search?[query=..&]limit=..[&service=..]`, newest first. */
export async function searchLogs(
  params: LogSearchParams,
  signal?: AbortSignal,
): Promise<LogSearchResult> {
  const qs = new URLSearchParams();
  const terms = params.query.trim();
  if (terms !== "") qs.set("query", terms);
  qs.set("limit", String(params.limit));
  if (params.service !== null) qs.set("service", params.service);
  const endpoint = `/api/v1/logs/search?${qs.toString()}`;
  const body = await requestJson(endpoint, { method: "GET", signal });
  if (!isRecord(body) || !isRecord(body.data) || !Array.isArray(body.data.result)) {
    throw new ApiError(endpoint, "unexpected response shape (no data.result array)");
  }
  const logs: LogRecord[] = body.data.result.filter(isRecord).map((r) => ({
    timestamp: str(r.timestamp),
    service: str(r.service),
    severity: str(r.severity),
    body: str(r.body),
    trace_id: str(r.trace_id),
    span_id: str(r.span_id),
    attributes: isRecord(r.attributes) ? r.attributes : {},
  }));
  const stats = body.data.stats;
  const matched = isRecord(stats) && typeof stats.matched === "number" ? stats.matched : null;
  return { logs, matched };
}
