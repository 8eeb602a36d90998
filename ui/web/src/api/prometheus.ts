// Osprey's Prometheus HTTP API (query/src/api/prometheus.rs): instant and range
// queries, exemplars, labels, label values, series, metadata. Queries are sent
// as POST forms (long PromQL never hits URL limits), as Prometheus' UI does.

import { apiSeconds } from "../lib/time";
import { isRecord, requestData, shapeError, str, stringList, stringRecord } from "./http";

export type Metric = Record<string, string>;

/** A sample's value as Prometheus writes it (`"1.5"`, `"NaN"`, `"+Inf"`). */
export function sampleValue(v: unknown): number {
  const s = str(v);
  if (s === "+Inf" || s === "Inf") return Infinity;
  if (s === "-Inf") return -Infinity;
  return Number(s);
}

export interface RangeSeries {
  metric: Metric;
  /** [seconds, value] pairs. */
  values: [number, number][];
}

export interface InstantSample {
  metric: Metric;
  time: number;
  value: number;
}

export type InstantResult =
  | { resultType: "vector"; result: InstantSample[] }
  | { resultType: "matrix"; result: RangeSeries[] }
  | { resultType: "scalar"; result: { time: number; value: number } }
  | { resultType: "string"; result: { time: number; value: string } };

export interface Answer<T> {
  data: T;
  warnings: string[];
  /** Informational annotations (Prometheus 2.50+ `infos`), when the server sends any. */
  infos?: string[];
}

const metricOf = stringRecord;

function pair(v: unknown): [number, number] {
  return Array.isArray(v) ? [Number(v[0]), sampleValue(v[1])] : [NaN, NaN];
}

function matrixOf(result: unknown[]): RangeSeries[] {
  return result.filter(isRecord).map((s) => ({
    metric: metricOf(s.metric),
    values: Array.isArray(s.values) ? s.values.map(pair) : [],
  }));
}

const QUERY_RANGE = "/api/v1/query_range";
const QUERY = "/api/v1/query";

/** `POST /api/v1/query_range` (start/end in epoch ms, step in seconds). */
export async function queryRange(
  q: { query: string; start: number; end: number; step: number },
  signal?: AbortSignal,
): Promise<Answer<RangeSeries[]>> {
  const { data, warnings, infos } = await requestData(QUERY_RANGE, {
    method: "POST",
    form: { query: q.query, start: apiSeconds(q.start), end: apiSeconds(q.end), step: String(q.step) },
    signal,
  });
  if (!isRecord(data) || !Array.isArray(data.result)) throw shapeError(QUERY_RANGE, "no data.result");
  if (data.resultType === "matrix") return { data: matrixOf(data.result), warnings, infos };
  // A scalar or string range query answers one value; show it as a flat series.
  if (data.resultType === "scalar" || data.resultType === "string") {
    const [t, v] = pair(data.result);
    return { data: [{ metric: {}, values: [[t, v]] }], warnings, infos };
  }
  throw shapeError(QUERY_RANGE, `resultType ${str(data.resultType)}`);
}

/** `POST /api/v1/query` at `time` (epoch ms; now when absent). */
export async function queryInstant(q: { query: string; time?: number }, signal?: AbortSignal): Promise<Answer<InstantResult>> {
  const { data, warnings, infos } = await requestData(QUERY, {
    method: "POST",
    form: { query: q.query, time: q.time === undefined ? null : apiSeconds(q.time) },
    signal,
  });
  if (!isRecord(data)) throw shapeError(QUERY, "no data");
  const result = data.result;
  switch (data.resultType) {
    case "vector":
      if (!Array.isArray(result)) break;
      return {
        warnings,
        infos,
        data: {
          resultType: "vector",
          result: result.filter(isRecord).map((s) => {
            const [time, value] = pair(s.value);
            return { metric: metricOf(s.metric), time, value };
          }),
        },
      };
    case "matrix":
      if (!Array.isArray(result)) break;
      return { warnings, infos, data: { resultType: "matrix", result: matrixOf(result) } };
    case "scalar": {
      const [time, value] = pair(result);
      return { warnings, infos, data: { resultType: "scalar", result: { time, value } } };
    }
    case "string":
      if (!Array.isArray(result)) break;
      return { warnings, infos, data: { resultType: "string", result: { time: Number(result[0]), value: str(result[1]) } } };
    default:
      break;
  }
  throw shapeError(QUERY, `resultType ${str(data.resultType)}`);
}

/** Optional bounds of a labels query (epoch ms). */
export interface Within {
  start: number;
  end: number;
}

function withinParams(w?: Within): { start: string | null; end: string | null } {
  return w === undefined ? { start: null, end: null } : { start: apiSeconds(w.start), end: apiSeconds(w.end) };
}

/** `GET /api/v1/labels` (optionally over the series `match` selects). */
export async function labelNames(match: string[] = [], signal?: AbortSignal, within?: Within): Promise<string[]> {
  const path = "/api/v1/labels";
  const { data } = await requestData(path, { params: { "match[]": match, ...withinParams(within) }, signal });
  return stringList(path, data);
}

/** `GET /api/v1/label/{name}/values`. */
export async function labelValues(name: string, match: string[] = [], signal?: AbortSignal, within?: Within): Promise<string[]> {
  const path = `/api/v1/label/${encodeURIComponent(name)}/values`;
  const { data } = await requestData(path, { params: { "match[]": match, ...withinParams(within) }, signal });
  return stringList(path, data);
}

/** `POST /api/v1/series`: label sets `match` selects. */
export async function series(match: string[], limit?: number, signal?: AbortSignal): Promise<Metric[]> {
  const path = "/api/v1/series";
  const { data } = await requestData(path, { method: "POST", form: { "match[]": match, limit: limit ?? null }, signal });
  if (!Array.isArray(data)) throw shapeError(path, "data is not a list");
  return data.map(metricOf);
}

export interface MetricMeta {
  type: string;
  help: string;
  unit: string;
}

/** `GET /api/v1/metadata`: type, help and unit per metric family. */
export async function metadata(q: { metric?: string; limit?: number } = {}, signal?: AbortSignal): Promise<Record<string, MetricMeta[]>> {
  const path = "/api/v1/metadata";
  const { data } = await requestData(path, { params: { metric: q.metric ?? null, limit: q.limit ?? null }, signal });
  if (!isRecord(data)) throw shapeError(path, "data is not an object");
  const out: Record<string, MetricMeta[]> = {};
  for (const [name, list] of Object.entries(data)) {
    out[name] = Array.isArray(list)
      ? list.filter(isRecord).map((m) => ({ type: str(m.type), help: str(m.help), unit: str(m.unit) }))
      : [];
  }
  return out;
}

export interface ExemplarGroup {
  seriesLabels: Metric;
  exemplars: { labels: Metric; value: number; time: number }[];
}

/** `POST /api/v1/query_exemplars` (epoch ms). */
export async function exemplars(q: { query: string; start: number; end: number }, signal?: AbortSignal): Promise<ExemplarGroup[]> {
  const path = "/api/v1/query_exemplars";
  const { data } = await requestData(path, {
    method: "POST",
    form: { query: q.query, start: apiSeconds(q.start), end: apiSeconds(q.end) },
    signal,
  });
  if (!Array.isArray(data)) throw shapeError(path, "data is not a list");
  return data.filter(isRecord).map((g) => ({
    seriesLabels: metricOf(g.seriesLabels),
    exemplars: Array.isArray(g.exemplars)
      ? g.exemplars.filter(isRecord).map((e) => ({ labels: metricOf(e.labels), value: sampleValue(e.value), time: Number(e.timestamp) }))
      : [],
  }));
}

/** An exemplar's trace id: OpenTelemetry's `trace_id`, or the spellings other clients use. */
export function exemplarTraceId(labels: Metric): string | null {
  for (const k of ["trace_id", "traceID", "traceId", "TraceID"]) {
    const v = labels[k];
    if (v !== undefined && v !== "") return v;
  }
  return null;
}

/** `{__name__="x", a="b"}` → `x{a="b"}`, as Prometheus prints series. */
export function formatMetric(m: Metric): string {
  const name = m.__name__ ?? "";
  const labels = Object.entries(m)
    .filter(([k]) => k !== "__name__")
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(", ");
  if (labels === "") return name === "" ? "{}" : name;
  return `${name}{${labels}}`;
}
