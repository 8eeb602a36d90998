// RED (rate, errors, duration) from Osprey's span metrics, the OpenTelemetry
// Collector's spanmetrics names: `traces_span_metrics_calls_total` and
// `traces_span_metrics_duration_milliseconds_bucket` (labels `service_name`,
// `span_name`, `span_kind`, `status_code`), and the service graph's
// `traces_service_graph_request_total` (labels `client`, `server`).
// Shared by `/services` and `/services/{name}`.

import { queryInstant, queryRange, type RangeSeries } from "../../api/prometheus";

export const CALLS = "traces_span_metrics_calls_total";
export const BUCKETS = "traces_span_metrics_duration_milliseconds_bucket";
export const GRAPH_REQUESTS = "traces_service_graph_request_total";
export const GRAPH_FAILED = "traces_service_graph_request_failed_total";
/** A service's own work: the spans that receive a request. */
export const SERVER = `span_kind="SPAN_KIND_SERVER"`;
export const ERROR = `status_code="STATUS_CODE_ERROR"`;

/** A PromQL string literal. */
export function lit(s: string): string {
  return JSON.stringify(s);
}

/** A window in whole seconds: `[3600s]`. */
export function windowOf(ms: number): string {
  return `${Math.max(1, Math.round(ms / 1000))}s`;
}

/** The expressions of a RED row, grouped `by`, over `sel` (matchers, no braces). */
export function redQueries(by: string, sel: string, window: string) {
  const m = (extra = "") => `{${[sel, extra].filter((x) => x !== "").join(", ")}}`;
  const q = (p: number) => `histogram_quantile(${p}, sum by (${by}, le) (rate(${BUCKETS}${m()}[${window}])))`;
  return {
    rate: `sum by (${by}) (rate(${CALLS}${m()}[${window}]))`,
    errors: `sum by (${by}) (rate(${CALLS}${m(ERROR)}[${window}]))`,
    p50: q(0.5),
    p95: q(0.95),
    p99: q(0.99),
  };
}

export interface RedRow {
  /** The grouping labels' values joined by `\u0000` (key) and as a record. */
  key: string;
  labels: Record<string, string>;
  /** Calls per second. */
  rate: number;
  errors: number;
  /** Errors / calls, 0–100; NaN without calls. */
  errorPct: number;
  /** Milliseconds; NaN when unknown. */
  p50: number;
  p95: number;
  p99: number;
  /** p95 (ms) × rate: milliseconds of p95 latency per second. */
  impact: number;
}

async function vector(query: string, time: number, signal: AbortSignal): Promise<{ labels: Record<string, string>; value: number }[]> {
  const { data } = await queryInstant({ query, time }, signal);
  if (data.resultType !== "vector") return [];
  return data.result.map((s) => ({ labels: s.metric, value: s.value }));
}

/** One RED row per value of the `by` labels at `time` (epoch ms). */
export async function loadRed(by: string[], sel: string, window: string, time: number, signal: AbortSignal): Promise<RedRow[]> {
  const qs = redQueries(by.join(", "), sel, window);
  const [rate, errors, p50, p95, p99] = await Promise.all(
    [qs.rate, qs.errors, qs.p50, qs.p95, qs.p99].map((q) => vector(q, time, signal)),
  );
  const keyOf = (l: Record<string, string>) => by.map((b) => l[b] ?? "").join("\u0000");
  const rows = new Map<string, RedRow>();
  const row = (l: Record<string, string>): RedRow => {
    const key = keyOf(l);
    let r = rows.get(key);
    if (r === undefined) {
      const labels: Record<string, string> = {};
      for (const b of by) labels[b] = l[b] ?? "";
      r = { key, labels, rate: 0, errors: 0, errorPct: NaN, p50: NaN, p95: NaN, p99: NaN, impact: NaN };
      rows.set(key, r);
    }
    return r;
  };
  for (const s of rate ?? []) row(s.labels).rate = s.value;
  for (const s of errors ?? []) row(s.labels).errors = s.value;
  for (const s of p50 ?? []) row(s.labels).p50 = s.value;
  for (const s of p95 ?? []) row(s.labels).p95 = s.value;
  for (const s of p99 ?? []) row(s.labels).p99 = s.value;
  for (const r of rows.values()) {
    r.errorPct = r.rate > 0 ? (r.errors / r.rate) * 100 : NaN;
    r.impact = Number.isFinite(r.p95) ? r.p95 * r.rate : NaN;
  }
  return [...rows.values()];
}

/** Range series of `query`, keyed by the value of `label` ("" when absent). */
export async function rangeBy(
  query: string,
  label: string,
  res: { start: number; end: number },
  step: number,
  signal: AbortSignal,
): Promise<Map<string, RangeSeries>> {
  const { data } = await queryRange({ query, start: res.start, end: res.end, step }, signal);
  return new Map(data.map((s) => [s.metric[label] ?? "", s]));
}

export const PALETTE = ["#5794f2", "#73bf69", "#f2cc0c", "#ff9830", "#f2495c", "#b877d9", "#6ed0e0", "#ef843c", "#8ab8ff", "#96d98d"];

/** Calls per second: `12.3/s`, `0.052/s`. */
export function formatRate(v: number): string {
  if (!Number.isFinite(v)) return "–";
  if (v === 0) return "0/s";
  const a = Math.abs(v);
  if (a >= 1000) return `${(v / 1000).toFixed(a >= 10_000 ? 0 : 1)}k/s`;
  return `${Number(v.toPrecision(3))}/s`;
}

export function formatPct(v: number): string {
  if (!Number.isFinite(v)) return "–";
  if (v === 0) return "0%";
  if (v < 0.01) return "<0.01%";
  return `${Number(v.toPrecision(v < 10 ? 2 : 3))}%`;
}

/** Milliseconds: `843µs`, `12.3ms`, `1.25s`. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return "–";
  if (ms === 0) return "0";
  if (ms < 1) return `${Math.round(ms * 1000)}µs`;
  if (ms < 1000) return `${Number(ms.toPrecision(3))}ms`;
  return `${Number((ms / 1000).toPrecision(3))}s`;
}

export type SortKey = "name" | "rate" | "errorPct" | "p50" | "p95" | "p99" | "impact";

export const SORT_KEYS: SortKey[] = ["name", "rate", "errorPct", "p50", "p95", "p99", "impact"];

/** `-impact` → descending by impact; `name` → ascending. NaN sorts last either way. */
export function parseSort(s: string | null, fallback: string): { key: SortKey; desc: boolean } {
  const v = s ?? fallback;
  const desc = v.startsWith("-");
  const key = v.replace(/^-/, "") as SortKey;
  return SORT_KEYS.includes(key) ? { key, desc } : parseSort(fallback, "-impact");
}

export function sortRows<T extends RedRow>(rows: T[], key: SortKey, desc: boolean, name: (r: T) => string): T[] {
  const out = [...rows];
  out.sort((a, b) => {
    if (key === "name") return (desc ? -1 : 1) * name(a).localeCompare(name(b));
    const x = a[key];
    const y = b[key];
    const xn = Number.isNaN(x);
    const yn = Number.isNaN(y);
    if (xn || yn) return xn === yn ? name(a).localeCompare(name(b)) : xn ? 1 : -1;
    return (desc ? y - x : x - y) || name(a).localeCompare(name(b));
  });
  return out;
}
