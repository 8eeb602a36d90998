// Osprey's Loki query API (query/src/api/loki): range queries (log streams or a
// metric query's matrix), labels and label values, as Grafana's Loki data
// source calls them.

import { apiSeconds } from "../lib/time";
import { isRecord, requestData, shapeError, str, stringList, stringRecord } from "./http";
import { sampleValue, type Metric, type RangeSeries } from "./prometheus";

export interface LokiLine {
  /** Nanoseconds since the epoch, as Loki writes them. */
  ns: string;
  line: string;
  labels: Metric;
}

export type LokiResult = { kind: "streams"; lines: LokiLine[] } | { kind: "matrix"; series: RangeSeries[] };

const RANGE = "/loki/api/v1/query_range";

/** `GET /loki/api/v1/query_range` (start/end in epoch ms, step in seconds). */
export async function lokiRange(
  q: { query: string; start: number; end: number; step: number; limit: number; direction?: "backward" | "forward" },
  signal?: AbortSignal,
): Promise<LokiResult> {
  const { data } = await requestData(RANGE, {
    params: {
      query: q.query,
      start: apiSeconds(q.start),
      end: apiSeconds(q.end),
      step: String(q.step),
      limit: q.limit,
      direction: q.direction ?? "backward",
    },
    signal,
  });
  if (!isRecord(data) || !Array.isArray(data.result)) throw shapeError(RANGE, "no data.result");
  if (data.resultType === "streams") {
    const lines: LokiLine[] = [];
    for (const s of data.result.filter(isRecord)) {
      const labels = stringRecord(s.stream);
      for (const v of Array.isArray(s.values) ? s.values : []) {
        if (Array.isArray(v)) lines.push({ ns: str(v[0]), line: str(v[1]), labels: { ...labels, ...stringRecord(v[2]) } });
      }
    }
    // Newest first across streams (ns strings of equal length compare as numbers).
    lines.sort((a, b) => (a.ns.length - b.ns.length || (a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : 0)) * -1);
    return { kind: "streams", lines };
  }
  if (data.resultType === "matrix") {
    const series = data.result.filter(isRecord).map((s) => ({
      metric: stringRecord(s.metric),
      values: (Array.isArray(s.values) ? s.values : []).map((p): [number, number] =>
        Array.isArray(p) ? [Number(p[0]), sampleValue(p[1])] : [NaN, NaN],
      ),
    }));
    return { kind: "matrix", series };
  }
  throw shapeError(RANGE, `resultType ${str(data.resultType)}`);
}

/** `GET /loki/api/v1/labels`. */
export async function lokiLabels(start: number, end: number, signal?: AbortSignal): Promise<string[]> {
  const path = "/loki/api/v1/labels";
  const { data } = await requestData(path, { params: { start: apiSeconds(start), end: apiSeconds(end) }, signal });
  return stringList(path, data);
}

/** `GET /loki/api/v1/label/{name}/values` (optionally within a stream selector). */
export async function lokiLabelValues(name: string, start: number, end: number, query?: string, signal?: AbortSignal): Promise<string[]> {
  const path = `/loki/api/v1/label/${encodeURIComponent(name)}/values`;
  const { data } = await requestData(path, { params: { start: apiSeconds(start), end: apiSeconds(end), query: query ?? null }, signal });
  return stringList(path, data);
}
