// Osprey's log API (query/src/api/logs.rs): search, histogram, fields, patterns, tail.
// Times are sent as unix seconds with milliseconds.

import { apiSeconds } from "../lib/time";
import { isRecord, requestData, shapeError, str, tenantHeaders, toSearch } from "./http";

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
}

export interface LogFilter {
  /** Osprey's search language (see README "Querying"); empty matches all. */
  query: string;
  service?: string | null;
  /** Epoch milliseconds. */
  start?: number;
  end?: number;
}

function filterParams(f: LogFilter) {
  return {
    query: f.query.trim(),
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

/** `GET /api/v1/logs/search`: newest first, `limit` 1–5000. */
export async function searchLogs(f: LogFilter & { limit: number; cursor?: string | null }, signal?: AbortSignal): Promise<SearchPage> {
  const { data } = await requestData(SEARCH, {
    params: { ...filterParams(f), limit: f.limit, cursor: f.cursor ?? null },
    signal,
  });
  if (!isRecord(data) || !Array.isArray(data.result)) throw shapeError(SEARCH, "no data.result array");
  const stats = isRecord(data.stats) ? data.stats : {};
  return {
    hits: data.result.filter(isRecord).map(toHit),
    matched: typeof stats.matched === "number" ? stats.matched : data.result.length,
    elapsedMs: typeof stats.elapsed_ms === "number" ? stats.elapsed_ms : 0,
    cursor: typeof data.cursor === "string" && data.cursor !== "" ? data.cursor : null,
  };
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
export function tailUrl(f: Pick<LogFilter, "query" | "service">): string {
  return `/api/v1/logs/tail${toSearch({ query: f.query.trim(), service: f.service ?? null })}`;
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
