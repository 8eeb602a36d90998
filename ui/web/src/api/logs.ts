// Osprey's log API (query/src/api/logs.rs): search, histogram, fields, patterns, tail.
// Times are sent as unix seconds with milliseconds.

import { apiSeconds } from "../lib/time";
import { ApiError, errorMessage, isAbort, isRecord, requestData, shapeError, str, tenantHeaders, toSearch } from "./http";

export interface LogHit {
  /** RFC 3339 with nanoseconds. */
  timestamp: string;
  service: string;
  severity: string;
  body: string;
  trace_id: string;
  span_id: string;
  /** Record attributes (values are strings in practice, JSON in general). */
  attributes: Record<string, unknown>;
  /** Resource attributes (`service.name`, `host.name`, Loki's stream labels); {} when the server sends none. */
  resource: Record<string, unknown>;
}

/** The logs view's query languages: Osprey's search language or a LogQL log query. */
export type LogLanguage = "search" | "logql";

export interface LogFilter {
  /** Osprey's search language (see README "Querying"; empty matches all) or, with `language: "logql"`, a LogQL log query. */
  query: string;
  language?: LogLanguage;
  service?: string | null;
  /** Epoch milliseconds. */
  start?: number;
  end?: number;
}

function filterParams(f: LogFilter) {
  return {
    query: f.query.trim(),
    language: f.language === "logql" ? "logql" : null,
    service: f.service ?? null,
    start: f.start === undefined ? null : apiSeconds(f.start),
    end: f.end === undefined ? null : apiSeconds(f.end),
  };
}

export function toHit(r: Record<string, unknown>): LogHit {
  return {
    timestamp: str(r.timestamp),
    service: str(r.service),
    severity: str(r.severity),
    body: str(r.body),
    trace_id: str(r.trace_id),
    span_id: str(r.span_id),
    attributes: isRecord(r.attributes) ? r.attributes : {},
    resource: isRecord(r.resource) ? r.resource : {},
  };
}

export interface SearchPage {
  hits: LogHit[];
  /** Every match in the window, not only those returned. */
  matched: number;
  elapsedMs: number;
  /** Pass back for the next (older) page; null on the last page. */
  cursor: string | null;
}

const SEARCH = "/api/v1/logs/search";

/** The `data` of a search answer: its hits, counts and the next page's cursor. */
function toSearchPage(data: unknown): SearchPage {
  if (!isRecord(data) || !Array.isArray(data.result)) throw shapeError(SEARCH, "no data.result array");
  const stats = isRecord(data.stats) ? data.stats : {};
  return {
    hits: data.result.filter(isRecord).map(toHit),
    matched: typeof stats.matched === "number" ? stats.matched : data.result.length,
    elapsedMs: typeof stats.elapsed_ms === "number" ? stats.elapsed_ms : 0,
    cursor: typeof data.cursor === "string" && data.cursor !== "" ? data.cursor : null,
  };
}

/** `GET /api/v1/logs/search`: newest first, `limit` 1–5000. */
export async function searchLogs(f: LogFilter & { limit: number; cursor?: string | null }, signal?: AbortSignal): Promise<SearchPage> {
  const { data } = await requestData(SEARCH, {
    params: { ...filterParams(f), limit: f.limit, cursor: f.cursor ?? null },
    signal,
  });
  return toSearchPage(data);
}

export interface HistogramBucket {
  /** Epoch milliseconds of the bucket start. */
  start: number;
  count: number;
  /** Per severity level (`unset trace debug info warn error fatal`) or service. */
  by: Record<string, number>;
}

export interface Histogram {
  stepMs: number;
  buckets: HistogramBucket[];
  matched: number;
}

const HISTOGRAM = "/api/v1/logs/histogram";

/** `GET /api/v1/logs/histogram`: match counts per time bucket (step automatic unless given). */
export async function logHistogram(
  f: LogFilter & { by?: "severity" | "service"; step?: string },
  signal?: AbortSignal,
): Promise<Histogram> {
  const { data } = await requestData(HISTOGRAM, {
    params: { ...filterParams(f), by: f.by ?? null, step: f.step ?? null },
    signal,
  });
  if (!isRecord(data) || !Array.isArray(data.buckets)) throw shapeError(HISTOGRAM, "no data.buckets array");
  return {
    stepMs: typeof data.step_ms === "number" ? data.step_ms : 0,
    matched: typeof data.matched === "number" ? data.matched : 0,
    buckets: data.buckets.filter(isRecord).map((b) => {
      const by: Record<string, number> = {};
      if (isRecord(b.by)) for (const [k, v] of Object.entries(b.by)) by[k] = Number(v) || 0;
      return {
        // start_ns exceeds 2^53; milliseconds are exact enough for a chart.
        start: typeof b.start_ns === "number" ? b.start_ns / 1e6 : Date.parse(str(b.start)),
        count: Number(b.count) || 0,
        by,
      };
    }),
  };
}

export interface FieldSummary {
  /** `service`, `severity`, `attributes.<key>` or `resource.<key>`. */
  field: string;
  /** Records that have the field. */
  count: number;
  distinct: number;
  distinctCapped: boolean;
  values: { value: string; count: number }[];
}

export interface Fields {
  fields: FieldSummary[];
  matched: number;
}

const FIELDS = "/api/v1/logs/fields";

/** `GET /api/v1/logs/fields`: top `limit` values of every field among the matches. */
export async function logFields(f: LogFilter & { limit?: number }, signal?: AbortSignal): Promise<Fields> {
  const { data } = await requestData(FIELDS, {
    params: { ...filterParams(f), limit: f.limit ?? null },
    signal,
  });
  if (!isRecord(data) || !Array.isArray(data.fields)) throw shapeError(FIELDS, "no data.fields array");
  return {
    matched: typeof data.matched === "number" ? data.matched : 0,
    fields: data.fields.filter(isRecord).map((x) => ({
      field: str(x.field),
      count: Number(x.count) || 0,
      distinct: Number(x.distinct) || 0,
      distinctCapped: x.distinct_capped === true,
      values: Array.isArray(x.values)
        ? x.values.filter(isRecord).map((v) => ({ value: str(v.value), count: Number(v.count) || 0 }))
        : [],
    })),
  };
}

const PATTERNS = "/api/v1/logs/patterns";

/** `GET /api/v1/logs/patterns` (raw data; the patterns tab types it when it lands). */
export async function logPatterns(f: LogFilter & { limit?: number }, signal?: AbortSignal): Promise<unknown> {
  const { data } = await requestData(PATTERNS, { params: { ...filterParams(f), limit: f.limit ?? null }, signal });
  return data;
}

/**
 * The live tail's URL (`text/event-stream`, `event: log`). EventSource cannot
 * send headers, so a tail for a tenant other than the default needs fetch()
 * streaming; `tailHeaders()` gives what to send.
 */
export function tailUrl(f: Pick<LogFilter, "query" | "service" | "language">): string {
  return `/api/v1/logs/tail${toSearch({ query: f.query.trim(), language: f.language === "logql" ? "logql" : null, service: f.service ?? null })}`;
}

export function tailHeaders(): Record<string, string> {
  return { Accept: "text/event-stream", ...tenantHeaders() };
}

// ---------------------------------------------------------------------------
// The search language, for building filters from clicks.
// ---------------------------------------------------------------------------

/** A `key:value` term of the search language; null when the value cannot be written. */
export function fieldTerm(key: string, value: string): string | null {
  if (!/^[\p{L}\p{N}_.-]+$/u.test(key)) return null;
  if (value !== "" && !/[\s()"]/.test(value)) return `${key}:${value}`;
  if (value.includes('"')) return null;
  return `${key}:"${value}"`;
}

/** The search key a facet field filters on: attributes and resource share `key:value`. */
export function facetKey(field: string): string {
  if (field.startsWith("attributes.")) return field.slice("attributes.".length);
  if (field.startsWith("resource.")) return field.slice("resource.".length);
  return field;
}

/** Adds `term` (or `-term`) to a query unless it is already there. */
export function addTerm(query: string, term: string, negate = false): string {
  const t = negate ? `-${term}` : term;
  const q = query.trim();
  const parts = q.split(/\s+/);
  if (parts.includes(t)) return q;
  const opposite = negate ? term : `-${term}`;
  const kept = parts.filter((p) => p !== opposite && p !== "");
  // A top-level OR would bind the new term to its last operand: parenthesise.
  const base = kept.join(" ");
  const wrapped = /\bOR\b/.test(base) ? `(${base})` : base;
  return wrapped === "" ? t : `${wrapped} ${t}`;
}

// ---------------------------------------------------------------------------
// LogQL mode: facets and patterns as pipeline stages.
// ---------------------------------------------------------------------------

/** A facet field's LogQL label: Loki's naming (`http.method` → `http_method`). */
export function logqlLabel(field: string): string {
  const name = facetKey(field).replace(/[^A-Za-z0-9_]/g, "_");
  return /^[0-9]/.test(name) ? `_${name}` : name;
}

/** A LogQL string literal (Go's quoting; JSON's escapes are a subset of it). */
export function logqlString(s: string): string {
  return JSON.stringify(s);
}

/**
 * Adds a pipeline `stage` (e.g. `| level="error"`) to a LogQL query, dropping its
 * `opposite`; adding one already there removes it (a toggle).
 */
export function toggleStage(query: string, stage: string, opposite: string): string {
  const q = query.trim();
  const drop = (text: string, s: string) => text.split(` ${s}`).join("").trim();
  if (q.endsWith(stage) || q.includes(` ${stage} `)) return drop(q, stage);
  const base = drop(q, opposite);
  return base === "" ? stage : `${base} ${stage}`;
}

/** The label filter stage for a facet value (`!=` when negated). */
export function facetStage(field: string, value: string, negate: boolean): [string, string] {
  const label = logqlLabel(field);
  const v = logqlString(value);
  const on = `| ${label}${negate ? "!=" : "="}${v}`;
  const off = `| ${label}${negate ? "=" : "!="}${v}`;
  return [on, off];
}

// ---------------------------------------------------------------------------
// Exact (nanosecond) times, patterns and the live tail.
// ---------------------------------------------------------------------------

const RFC3339_NS = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/i;

/** An RFC 3339 timestamp (the hits' `timestamp`) as epoch nanoseconds; null when unparseable. */
export function timestampNs(ts: string): bigint | null {
  const m = RFC3339_NS.exec(ts.trim());
  if (m === null) return null;
  const [, base = "", frac = "", zone = "Z"] = m;
  const ms = Date.parse(`${base}${zone.toUpperCase()}`);
  if (Number.isNaN(ms)) return null;
  return BigInt(ms) * 1_000_000n + BigInt(frac.padEnd(9, "0"));
}

/** Epoch nanoseconds as the API's exact decimal seconds (`1700000000.123456789`). */
export function nsParam(ns: bigint): string {
  const neg = ns < 0n;
  const a = neg ? -ns : ns;
  const frac = (a % 1_000_000_000n).toString().padStart(9, "0");
  return `${neg ? "-" : ""}${a / 1_000_000_000n}.${frac}`;
}

/** `searchLogs` with exact nanosecond bounds (both inclusive), for a record's context. */
export async function searchLogsNs(
  f: { query: string; service?: string | null; startNs?: bigint | null; endNs?: bigint | null; limit: number },
  signal?: AbortSignal,
): Promise<SearchPage> {
  const { data } = await requestData(SEARCH, {
    params: {
      query: f.query.trim(),
      service: f.service ?? null,
      start: f.startNs === undefined || f.startNs === null ? null : nsParam(f.startNs),
      end: f.endNs === undefined || f.endNs === null ? null : nsParam(f.endNs),
      limit: f.limit,
    },
    signal,
  });
  return toSearchPage(data);
}

export interface LogPattern {
  service: string;
  /** Drain template: whitespace tokens, `<*>` where lines differ (or a token holds a digit). */
  pattern: string;
  count: number;
  /** The newest line of the template. */
  example: string;
  firstSeen: string;
  lastSeen: string;
  /** Lines per bucket (`startMs + i * stepMs`). */
  counts: number[];
}

export interface Patterns {
  startMs: number;
  stepMs: number;
  patterns: LogPattern[];
  /** Records clustered. */
  matched: number;
}

/** `GET /api/v1/logs/patterns`, typed: templates most frequent first. */
export async function patternList(f: LogFilter & { limit?: number }, signal?: AbortSignal): Promise<Patterns> {
  const data = await logPatterns(f, signal);
  if (!isRecord(data) || !Array.isArray(data.patterns)) throw shapeError(PATTERNS, "no data.patterns array");
  return {
    // start_ns exceeds 2^53; milliseconds are exact enough for a sparkline.
    startMs: typeof data.start_ns === "number" ? data.start_ns / 1e6 : 0,
    stepMs: typeof data.step_ms === "number" ? data.step_ms : 0,
    matched: typeof data.matched === "number" ? data.matched : 0,
    patterns: data.patterns.filter(isRecord).map((p) => ({
      service: str(p.service),
      pattern: str(p.pattern),
      count: Number(p.count) || 0,
      example: str(p.example),
      firstSeen: str(p.first_seen),
      lastSeen: str(p.last_seen),
      counts: Array.isArray(p.counts) ? p.counts.map((c) => Number(c) || 0) : [],
    })),
  };
}

export interface TailHandlers {
  /** The stream is open (the server subscribed). */
  open: () => void;
  log: (hit: LogHit) => void;
  /** The server skipped this many batches: this client fell behind. */
  dropped: (batches: number) => void;
}

/** Dispatches one server-sent event block (`event:` / `data:` lines). */
function sseBlock(block: string, h: TailHandlers): void {
  let event = "message";
  const data: string[] = [];
  for (const line of block.split("\n")) {
    if (line === "" || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  if (data.length === 0) return;
  let parsed: unknown;
  try {
    parsed = JSON.parse(data.join("\n"));
  } catch {
    return;
  }
  if (event === "log" && isRecord(parsed)) h.log(toHit(parsed));
  else if (event === "dropped" && isRecord(parsed)) h.dropped(Number(parsed.batches) || 0);
}

/**
 * Follows `GET /api/v1/logs/tail` (server-sent events over fetch, so the tenant
 * header goes along) until `signal` aborts (rejects with AbortError), the server
 * ends the stream (resolves) or it fails (ApiError).
 */
export async function tailLogs(f: Pick<LogFilter, "query" | "service" | "language">, h: TailHandlers, signal: AbortSignal): Promise<void> {
  const url = tailUrl(f);
  let resp: Response;
  try {
    resp = await fetch(url, { headers: tailHeaders(), signal, cache: "no-store" });
  } catch (e) {
    if (isAbort(e)) throw e;
    throw new ApiError(url, `Cannot reach Osprey (${e instanceof Error ? e.message : String(e)})`, null);
  }
  if (!resp.ok || resp.body === null) {
    const text = await resp.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const err = errorMessage(parsed);
    throw new ApiError(url, `${err?.message ?? (text.trim().slice(0, 300) || resp.statusText || "tail failed")} (HTTP ${resp.status})`, resp.status, err?.type ?? null);
  }
  h.open();
  const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += value.replace(/\r\n?/g, "\n");
      let cut = buf.indexOf("\n\n");
      while (cut >= 0) {
        sseBlock(buf.slice(0, cut), h);
        buf = buf.slice(cut + 2);
        cut = buf.indexOf("\n\n");
      }
    }
  } finally {
    reader.releaseLock();
  }
}
