// Every query's range series on one uPlot chart, with a legend table grouped
// by query (A, B, C…): value under the cursor (else the last), max and mean;
// click a series to isolate it, Ctrl/⌘-click to toggle it, click a query's
// header to toggle all its series; stacked option; drag on the chart to zoom.
// Exemplars are diamonds over the lines: hover shows their labels, value and
// time, click opens their trace.

import { useEffect, useMemo, useState } from "preact/hooks";
import { exemplarTraceId, formatMetric, type ExemplarGroup, type RangeSeries } from "../../api/prometheus";
import type { ChartMarker } from "../../components/ChartOverlay";
import { setRange } from "../../components/TimePicker";
import { TimeChart, type ChartSeries } from "../../components/TimeChart";
import { formatCount, formatValue } from "../../lib/format";
import { align } from "../../lib/series";
import { toggled } from "../../lib/sets";
import { formatUtc, toUrlTime } from "../../lib/time";
import { letter } from "./queries";

export const PALETTE = [
  "#5794f2",
  "#73bf69",
  "#f2cc0c",
  "#ff9830",
  "#f2495c",
  "#b877d9",
  "#8ab8ff",
  "#56a64b",
  "#e0b400",
  "#fa6400",
  "#ff7383",
  "#ca95e5",
  "#3274d9",
  "#96d98d",
  "#c4162a",
  "#8f3bb8",
  "#6ed0e0",
  "#ef843c",
];

const color = (i: number) => PALETTE[i % PALETTE.length] ?? "#888";

/** At most this many exemplars are drawn (the newest). */
export const MAX_EXEMPLARS = 2000;

export interface GraphQuery {
  /** Position of the query (A = 0). */
  index: number;
  series: RangeSeries[];
}

export interface GraphExemplars {
  index: number;
  groups: ExemplarGroup[];
}

/** Each query's colour: its first series' (series are coloured in order across queries). */
export function queryColors(queries: GraphQuery[]): Map<number, string> {
  const out = new Map<number, string>();
  let n = 0;
  for (const q of queries) {
    out.set(q.index, color(q.series.length > 0 ? n : q.index));
    n += q.series.length;
  }
  return out;
}

function stats(vals: (number | null)[]): { last: number | null; max: number | null; mean: number | null } {
  let last: number | null = null;
  let max: number | null = null;
  let sum = 0;
  let n = 0;
  for (const v of vals) {
    if (v === null) continue;
    last = v;
    max = max === null || v > max ? v : max;
    sum += v;
    n++;
  }
  return { last, max, mean: n > 0 ? sum / n : null };
}

interface Exemplar {
  query: number;
  series: string;
  labels: Record<string, string>;
  value: number;
  time: number;
  traceId: string | null;
}

export function exemplarMarkers(list: GraphExemplars[], colors: Map<number, string>, range: { start: number; end: number }): { markers: ChartMarker[]; byKey: Map<string, Exemplar>; total: number } {
  const all: Exemplar[] = [];
  for (const q of list)
    for (const g of q.groups)
      for (const e of g.exemplars) {
        if (!Number.isFinite(e.value) || e.time * 1000 < range.start || e.time * 1000 > range.end) continue;
        all.push({ query: q.index, series: formatMetric(g.seriesLabels), labels: e.labels, value: e.value, time: e.time, traceId: exemplarTraceId(e.labels) });
      }
  const shown = all.length > MAX_EXEMPLARS ? [...all].sort((a, b) => b.time - a.time).slice(0, MAX_EXEMPLARS) : all;
  const byKey = new Map<string, Exemplar>();
  const markers = shown.map((e, i) => {
    const key = `e${i}`;
    byKey.set(key, e);
    return {
      key,
      x: e.time,
      y: e.value,
      color: colors.get(e.query) ?? color(e.query),
      label: `Exemplar of query ${letter(e.query)}: ${formatValue(e.value)} at ${formatUtc(e.time * 1000)} UTC${e.traceId ? `, trace ${e.traceId}` : ""}`,
      id: e.traceId ?? undefined,
    };
  });
  return { markers, byKey, total: all.length };
}

function ExemplarTip({ e }: { e: Exemplar }) {
  const labels = Object.entries(e.labels).sort(([a], [b]) => a.localeCompare(b));
  return (
    <div class="exemplar-tip">
      <div class="chart-tip-time">
        Exemplar · query {letter(e.query)} · {formatUtc(e.time * 1000, true)} UTC
      </div>
      <div class="chart-tip-row">
        <span class="chart-tip-label">value</span>
        <span class="chart-tip-value mono">{formatValue(e.value)}</span>
      </div>
      {labels.map(([k, v]) => (
        <div class="chart-tip-row" key={k}>
          <span class="chart-tip-label mono">{k}</span>
          <span class="chart-tip-value mono exemplar-label-value">{v}</span>
        </div>
      ))}
      <div class="exemplar-series mono faint">{e.series}</div>
      <div class="faint">{e.traceId !== null ? "Click to open the trace" : "No trace id on this exemplar"}</div>
    </div>
  );
}

interface LegendProps {
  queries: GraphQuery[];
  flat: { query: number; label: string }[];
  rows: (number | null)[][];
  stats: ReturnType<typeof stats>[];
  colors: Map<number, string>;
  hidden: Set<number>;
  hover: number | null;
  hoverTime: number | undefined;
  onClick: (i: number, e: MouseEvent) => void;
  onGroup: (query: number) => void;
}

/** The legend table, a group per query when there are several. */
function Legend({ queries, flat, rows, stats: st, colors, hidden, hover, hoverTime, onClick: click, onGroup: toggleGroup }: LegendProps) {
  const grouped = queries.length > 1;
  return (
    <div class="legend-wrap">
      <table class="legend" data-testid="explore-legend">
        <thead>
          <tr>
            <th class="legend-name">
              Series <span class="faint">({rows.length})</span>
              <span class="faint legend-hint"> · click to isolate, Ctrl/⌘-click to toggle{grouped ? ", click a query to toggle its series" : ""}</span>
            </th>
            <th class="num legend-hover">{hoverTime !== undefined ? `${formatUtc(hoverTime * 1000).slice(11)} UTC` : "Last"}</th>
            <th class="num">Max</th>
            <th class="num">Mean</th>
          </tr>
        </thead>
        {queries.map((q) => {
          const members = flat.flatMap((f, i) => (f.query === q.index ? [i] : []));
          const off = members.length > 0 && members.every((i) => hidden.has(i));
          return (
            <tbody key={q.index} data-query={letter(q.index)}>
              {grouped && (
                <tr class={`legend-group${off ? " off" : ""}`} data-testid="legend-group" data-query={letter(q.index)} data-count={members.length} onClick={() => toggleGroup(q.index)}>
                  <td colSpan={4}>
                    <span class="query-letter mono" style={{ borderColor: colors.get(q.index), color: colors.get(q.index) }}>
                      {letter(q.index)}
                    </span>
                    <span class="muted">
                      {formatCount(members.length)} series{members.length === 0 ? " in this range" : ""}
                    </span>
                  </td>
                </tr>
              )}
              {members.map((i) => {
                const vals = rows[i] ?? [];
                const s = st[i];
                const v = hover !== null ? vals[hover] : s?.last;
                return (
                  <tr key={`${i}:${flat[i]?.label}`} class={hidden.has(i) ? "off" : undefined} onClick={(e) => click(i, e)} data-testid="legend-row" data-query={letter(q.index)}>
                    <td class="legend-name">
                      <span class="swatch" style={{ background: color(i) }} />
                      <span class="mono">{flat[i]?.label}</span>
                    </td>
                    <td class="num mono legend-hover">{formatValue(v)}</td>
                    <td class="num mono">{formatValue(s?.max)}</td>
                    <td class="num mono">{formatValue(s?.mean)}</td>
                  </tr>
                );
              })}
            </tbody>
          );
        })}
      </table>
    </div>
  );
}

export interface GraphProps {
  queries: GraphQuery[];
  exemplars?: GraphExemplars[];
  range: { start: number; end: number };
  stacked: boolean;
  onOpenTrace: (traceId: string) => void;
}

export function Graph({ queries, exemplars, range, stacked, onOpenTrace }: GraphProps) {
  const [hover, setHover] = useState<number | null>(null);
  const [hidden, setHidden] = useState<Set<number>>(new Set());
  const flat = useMemo(() => queries.flatMap((q) => q.series.map((s) => ({ query: q.index, s, label: formatMetric(s.metric) }))), [queries]);
  const { x, rows } = useMemo(() => align(flat.map((f) => f.s)), [flat]);
  const labelsKey = flat.map((f) => `${f.query}:${f.label}`).join("\n");
  useEffect(() => setHidden(new Set()), [labelsKey]);
  const grouped = queries.length > 1;
  const chartSeries: ChartSeries[] = useMemo(
    () => rows.map((values, i) => ({ label: `${grouped ? `${letter(flat[i]?.query ?? 0)}: ` : ""}${flat[i]?.label ?? ""}`, values, color: color(i) })),
    [rows, flat, grouped],
  );
  const st = useMemo(() => rows.map(stats), [rows]);
  const colors = useMemo(() => queryColors(queries), [queries]);
  const ex = useMemo(() => exemplarMarkers(exemplars ?? [], colors, range), [exemplars, colors, range.start, range.end]);
  const hoverTime = hover !== null ? x[hover] : undefined;

  const click = (i: number, e: MouseEvent) => {
    if (e.ctrlKey || e.metaKey) {
      setHidden(toggled(hidden, i));
      return;
    }
    const isolated = !hidden.has(i) && hidden.size === rows.length - 1;
    const next = new Set<number>();
    if (!isolated) rows.forEach((_, j) => j !== i && next.add(j));
    setHidden(next);
  };
  const toggleGroup = (q: number) => {
    const members = flat.flatMap((f, i) => (f.query === q ? [i] : []));
    const allHidden = members.every((i) => hidden.has(i));
    const next = new Set(hidden);
    for (const i of members) {
      if (allHidden) next.delete(i);
      else next.add(i);
    }
    setHidden(next);
  };

  return (
    <div class="graph" data-testid="explore-graph" data-exemplar-count={exemplars !== undefined ? ex.markers.length : undefined}>
      <TimeChart
        x={x}
        series={chartSeries}
        kind="lines"
        stacked={stacked}
        hidden={hidden}
        height={300}
        range={range}
        onHover={setHover}
        onZoom={(a, b) => setRange({ from: toUrlTime(a), to: toUrlTime(b) })}
        yFormat={formatValue}
        testId="explore-chart"
        markers={ex.markers}
        markerTestId="exemplar"
        onMarkerClick={(m) => {
          const e = ex.byKey.get(m.key);
          if (e?.traceId) onOpenTrace(e.traceId);
        }}
        markerTip={(m) => {
          const e = ex.byKey.get(m.key);
          return e === undefined ? null : <ExemplarTip e={e} />;
        }}
      />
      {ex.total > ex.markers.length && (
        <p class="muted small graph-note">
          Showing the newest {formatCount(ex.markers.length)} of {formatCount(ex.total)} exemplars.
        </p>
      )}
      <Legend queries={queries} flat={flat} rows={rows} stats={st} colors={colors} hidden={hidden} hover={hover} hoverTime={hoverTime} onClick={click} onGroup={toggleGroup} />
    </div>
  );
}
