// Running a panel's targets against Osprey: Prometheus targets as range or
// instant queries, Loki targets as log streams or metric matrices, Tempo and
// Jaeger searches as trace summaries. Every target runs at once; the answer is
// one `PanelData` with each series named by its legend format.

import { traceSummaries, type TraceSummary } from "../../../api/jaeger";
import { lokiRange, type LokiLine } from "../../../api/loki";
import { formatMetric, queryInstant, queryRange, type Metric } from "../../../api/prometheus";
import { strOf, type DsRef, type Panel, type Target } from "./grafana";
import { interpolate, type Scope } from "./interpolate";

export type DsKind = "prometheus" | "loki" | "traces" | "unsupported";

export interface Series {
  refId: string;
  name: string;
  labels: Metric;
  /** [seconds, value] pairs, ascending. */
  points: [number, number][];
  /** From an instant query (one point at the evaluation time). */
  instant: boolean;
}

export interface PanelData {
  series: Series[];
  logs: LokiLine[];
  traces: TraceSummary[];
  warnings: string[];
  /** The queries as sent (variables substituted), by refId. */
  sent: Record<string, string>;
}

/** Osprey's data source uids, as the `datasource` variable offers them. */
const UIDS: Record<string, DsKind> = { osprey: "prometheus", "osprey-loki": "loki", "osprey-tempo": "traces", "osprey-jaeger": "traces" };

/** What answers a target: its own data source, else the panel's (variables substituted). */
export function dsKind(target: DsRef | null, panel: DsRef | null, scope: Scope): DsKind {
  const ref = target !== null && target.type !== "mixed" && (target.type !== "" || target.uid !== "") ? target : panel;
  if (ref === null) return "prometheus";
  const type = ref.type.toLowerCase();
  if (type === "prometheus") return "prometheus";
  if (type === "loki") return "loki";
  if (type === "tempo" || type === "jaeger") return "traces";
  if (type !== "" && type !== "datasource") return "unsupported";
  const uid = interpolate(ref.uid, scope);
  const known = UIDS[uid];
  if (known !== undefined) return known;
  const lower = uid.toLowerCase();
  if (lower.includes("loki")) return "loki";
  if (lower.includes("tempo") || lower.includes("jaeger")) return "traces";
  // A Grafana-side name (`${DS_PROMETHEUS}`, `Prometheus`, the default): Prometheus.
  return type === "datasource" && (uid === "-- Dashboard --" || uid === "grafana") ? "unsupported" : "prometheus";
}

/** A series' name: the legend format with `{{label}}` filled in, else Grafana's default. */
export function seriesName(labels: Metric, legendFormat: string, expr: string): string {
  if (legendFormat !== "" && legendFormat !== "__auto") {
    return legendFormat.replace(/\{\{\s*([^}\s]+)\s*\}\}/g, (_, l: string) => labels[l] ?? "");
  }
  const keys = Object.keys(labels);
  if (keys.length === 0) return expr;
  if (legendFormat === "__auto" && keys.length === 1 && keys[0] !== "__name__") return labels[keys[0] ?? ""] ?? "";
  return formatMetric(labels);
}

export interface RunContext {
  start: number;
  end: number;
  stepSeconds: number;
  signal: AbortSignal;
}

async function runProm(t: Target, expr: string, c: RunContext): Promise<{ series: Series[]; warnings: string[] }> {
  // `instant: true` alone is an instant query; with `range: true` too, Grafana draws the range.
  if (t.instant && t.raw.range !== true) {
    const r = await queryInstant({ query: expr, time: c.end }, c.signal);
    const d = r.data;
    let series: Series[] = [];
    if (d.resultType === "vector") {
      series = d.result.map((s) => ({ refId: t.refId, name: seriesName(s.metric, t.legendFormat, expr), labels: s.metric, points: [[s.time, s.value]], instant: true }));
    } else if (d.resultType === "scalar") {
      series = [{ refId: t.refId, name: seriesName({}, t.legendFormat, expr), labels: {}, points: [[d.result.time, d.result.value]], instant: true }];
    } else if (d.resultType === "matrix") {
      series = d.result.map((s) => ({ refId: t.refId, name: seriesName(s.metric, t.legendFormat, expr), labels: s.metric, points: s.values, instant: false }));
    }
    return { series, warnings: r.warnings };
  }
  // Grafana aligns the range to the step, so every refresh asks for the same grid.
  const stepMs = c.stepSeconds * 1000;
  const start = Math.floor(c.start / stepMs) * stepMs;
  const end = Math.floor(c.end / stepMs) * stepMs;
  const r = await queryRange({ query: expr, start, end: Math.max(end, start), step: c.stepSeconds }, c.signal);
  return {
    series: r.data.map((s) => ({ refId: t.refId, name: seriesName(s.metric, t.legendFormat, expr), labels: s.metric, points: s.values, instant: false })),
    warnings: r.warnings,
  };
}

async function runLoki(t: Target, expr: string, panel: Panel, c: RunContext): Promise<{ series: Series[]; logs: LokiLine[] }> {
  const limit = t.maxLines ?? (typeof panel.maxDataPoints === "number" ? panel.maxDataPoints : 1000);
  const r = await lokiRange({ query: expr, start: c.start, end: c.end, step: c.stepSeconds, limit: Math.min(5000, Math.max(1, limit)) }, c.signal);
  if (r.kind === "streams") return { series: [], logs: r.lines };
  return {
    series: r.series.map((s) => ({ refId: t.refId, name: seriesName(s.metric, t.legendFormat, expr), labels: s.metric, points: s.values, instant: false })),
    logs: [],
  };
}

/** A Tempo (`nativeSearch`, `search`) or Jaeger (`search`) target as a trace search. */
async function runTraces(t: Target, scope: Scope, c: RunContext): Promise<TraceSummary[]> {
  const raw = t.raw;
  const service = interpolate(strOf(raw.serviceName ?? raw.service), scope);
  const operation = interpolate(strOf(raw.spanName ?? raw.operation), scope);
  const limit = Number(raw.limit) || 20;
  return traceSummaries(
    {
      service: service || undefined,
      operation: operation || undefined,
      minDuration: strOf(raw.minDuration) || undefined,
      maxDuration: strOf(raw.maxDuration) || undefined,
      start: c.start,
      end: c.end,
      limit,
    },
    c.signal,
  );
}

/** Every shown target of `panel`, at once. */
export async function runPanel(panel: Panel, scope: Scope, c: RunContext): Promise<PanelData> {
  const out: PanelData = { series: [], logs: [], traces: [], warnings: [], sent: {} };
  const jobs = panel.targets
    .filter((t) => !t.hide)
    .map(async (t) => {
      const kind = dsKind(t.datasource, panel.datasource, scope);
      if (kind === "traces") {
        out.traces.push(...(await runTraces(t, scope, c)));
        return;
      }
      const expr = interpolate(t.expr, scope, kind === "loki" ? "logql" : "query").trim();
      if (expr === "" || kind === "unsupported") return;
      out.sent[t.refId] = expr;
      // Variables in the legend first (`{{$label}}` names the label a variable holds).
      const tt = { ...t, legendFormat: interpolate(t.legendFormat, scope, "text") };
      if (kind === "loki") {
        const r = await runLoki(tt, expr, panel, c);
        out.series.push(...r.series);
        out.logs.push(...r.logs);
      } else {
        const r = await runProm(tt, expr, c);
        out.series.push(...r.series);
        out.warnings.push(...r.warnings);
      }
    });
  await Promise.all(jobs);
  // Targets finish in any order: keep the panel's query order.
  const order = new Map(panel.targets.map((t, i) => [t.refId, i]));
  out.series.sort((a, b) => (order.get(a.refId) ?? 0) - (order.get(b.refId) ?? 0));
  return out;
}
