// Osprey's Jaeger query API (query/src/api/jaeger_v1, jaeger_monitor) and its
// trace summaries (`/api/v1/traces/search`). Jaeger answers `{"data": …,
// "errors": [{code, msg}]}`; errors come back as ApiError with `msg`.

import { isRecord, request, shapeError, str, toSearch } from "./http";

async function jaegerData(path: string, params: Record<string, string | number | null> = {}, signal?: AbortSignal): Promise<unknown> {
  const body = await request(path + toSearch(params), { signal });
  if (!isRecord(body)) throw shapeError(path, "not an object");
  return body.data;
}

/** `GET /api/services`: services seen in spans. */
export async function services(signal?: AbortSignal): Promise<string[]> {
  const data = await jaegerData("/api/services", {}, signal);
  if (!Array.isArray(data)) throw shapeError("/api/services", "no data array");
  return data.map(str).filter((s) => s !== "");
}

/** `GET /api/services/{service}/operations`. */
export async function operations(service: string, signal?: AbortSignal): Promise<string[]> {
  const path = `/api/services/${encodeURIComponent(service)}/operations`;
  const data = await jaegerData(path, {}, signal);
  if (!Array.isArray(data)) throw shapeError(path, "no data array");
  return data.map(str);
}

export interface JaegerKeyValue {
  key: string;
  type: string;
  value: unknown;
}

export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: { refType: string; traceID: string; spanID: string }[];
  /** Microseconds since the epoch. */
  startTime: number;
  /** Microseconds. */
  duration: number;
  tags: JaegerKeyValue[];
  logs: { timestamp: number; fields: JaegerKeyValue[] }[];
  processID: string;
  warnings: string[] | null;
  flags?: number;
}

export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string; tags: JaegerKeyValue[] }>;
  warnings?: string[] | null;
}

/** `GET /api/traces/{traceID}`: one trace in Jaeger's JSON. */
export async function trace(traceId: string, signal?: AbortSignal): Promise<JaegerTrace> {
  const path = `/api/traces/${encodeURIComponent(traceId)}`;
  const data = await jaegerData(path, {}, signal);
  const first = Array.isArray(data) ? data[0] : undefined;
  if (!isRecord(first)) throw shapeError(path, "no trace");
  return first as unknown as JaegerTrace;
}

export interface TraceSearch {
  service?: string;
  operation?: string;
  /** Span or resource attributes that must match exactly. */
  tags?: Record<string, string>;
  /** Jaeger durations: `100ms`, `1.5s`. */
  minDuration?: string;
  maxDuration?: string;
  /** Epoch milliseconds. */
  start?: number;
  end?: number;
  limit?: number;
}

export interface TraceSummary {
  traceId: string;
  rootService: string;
  rootOperation: string;
  /** Epoch milliseconds. */
  start: number;
  durationMs: number;
  spanCount: number;
  errorCount: number;
  services: string[];
}

function traceParams(s: TraceSearch): Record<string, string | number | null> {
  return {
    service: s.service ?? null,
    operation: s.operation ?? null,
    tags: s.tags && Object.keys(s.tags).length > 0 ? JSON.stringify(s.tags) : null,
    minDuration: s.minDuration ?? null,
    maxDuration: s.maxDuration ?? null,
    // Jaeger takes microseconds.
    start: s.start === undefined ? null : Math.floor(s.start * 1000),
    end: s.end === undefined ? null : Math.ceil(s.end * 1000),
    limit: s.limit ?? null,
  };
}

/** `GET /api/traces`: whole traces matching a search (Jaeger's parameters), newest first. */
export async function searchTraces(s: TraceSearch, signal?: AbortSignal): Promise<JaegerTrace[]> {
  const data = await jaegerData("/api/traces", traceParams(s), signal);
  if (!Array.isArray(data)) throw shapeError("/api/traces", "no data array");
  return data.filter(isRecord).map((t) => t as unknown as JaegerTrace);
}

/** `GET /api/v1/traces/search`: newest traces as summaries (Jaeger's parameters). */
export async function traceSummaries(s: TraceSearch, signal?: AbortSignal): Promise<TraceSummary[]> {
  const path = "/api/v1/traces/search";
  const body = await request(path + toSearch(traceParams(s)), { signal });
  if (!isRecord(body) || !isRecord(body.data) || !Array.isArray(body.data.traces)) throw shapeError(path, "no data.traces");
  return body.data.traces.filter(isRecord).map((t) => ({
    traceId: str(t.trace_id),
    rootService: str(t.root_service),
    rootOperation: str(t.root_operation),
    start: Number(t.start_ns) / 1e6,
    durationMs: Number(t.duration_ns) / 1e6,
    spanCount: Number(t.span_count) || 0,
    errorCount: Number(t.error_count) || 0,
    services: Array.isArray(t.services) ? t.services.map(str) : [],
  }));
}

export interface Dependency {
  parent: string;
  child: string;
  callCount: number;
}

/** `GET /api/dependencies`: service graph edges over `lookback` ms before `end`. */
export async function dependencies(end: number, lookbackMs: number, signal?: AbortSignal): Promise<Dependency[]> {
  const path = "/api/dependencies";
  const data = await jaegerData(path, { endTs: Math.round(end), lookback: Math.round(lookbackMs) }, signal);
  if (!Array.isArray(data)) throw shapeError(path, "no data array");
  return data.filter(isRecord).map((d) => ({ parent: str(d.parent), child: str(d.child), callCount: Number(d.callCount) || 0 }));
}

