// A range query's series on a uPlot chart, with a legend table: value under
// the cursor (else the last), max and mean; click a series to isolate it,
// Ctrl/⌘-click to toggle it; stacked option; drag on the chart to zoom.

import { useMemo, useState } from "preact/hooks";
import { formatMetric, type RangeSeries } from "../../api/prometheus";
import { setRange } from "../../components/TimePicker";
import { TimeChart, type ChartSeries } from "../../components/TimeChart";
import { formatValue } from "../../lib/format";
import { align } from "../../lib/series";
import { formatUtc, toUrlTime } from "../../lib/time";

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

export function Graph({ series, range, stacked }: { series: RangeSeries[]; range: { start: number; end: number }; stacked: boolean }) {
  const [hover, setHover] = useState<number | null>(null);
  const [hidden, setHidden] = useState<Set<number>>(new Set());
  const { x, rows } = useMemo(() => align(series), [series]);
  const labels = useMemo(() => series.map((s) => formatMetric(s.metric)), [series]);
  const chartSeries: ChartSeries[] = useMemo(
    () => rows.map((values, i) => ({ label: labels[i] ?? "", values, color: PALETTE[i % PALETTE.length] ?? "#888" })),
    [rows, labels],
  );
  const st = useMemo(() => rows.map(stats), [rows]);
  const hoverTime = hover !== null ? x[hover] : undefined;

  const click = (i: number, e: MouseEvent) => {
    const next = new Set(hidden);
    if (e.ctrlKey || e.metaKey) {
      if (next.has(i)) next.delete(i);
      else next.add(i);
    } else {
      const isolated = !hidden.has(i) && hidden.size === rows.length - 1;
      next.clear();
      if (!isolated) rows.forEach((_, j) => j !== i && next.add(j));
    }
    setHidden(next);
  };

  return (
    <div class="graph" data-testid="explore-graph">
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
      />
      <div class="legend-wrap">
        <table class="legend" data-testid="explore-legend">
          <thead>
            <tr>
              <th class="legend-name">
                Series <span class="faint">({rows.length})</span>
                <span class="faint legend-hint"> · click to isolate, Ctrl/⌘-click to toggle</span>
              </th>
              <th class="num legend-hover">{hoverTime !== undefined ? `${formatUtc(hoverTime * 1000).slice(11)} UTC` : "Last"}</th>
              <th class="num">Max</th>
              <th class="num">Mean</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((vals, i) => {
              const s = st[i];
              const off = hidden.has(i);
              const v = hover !== null ? vals[hover] : s?.last;
              return (
                <tr key={labels[i]} class={off ? "off" : undefined} onClick={(e) => click(i, e)} data-testid="legend-row">
                  <td class="legend-name">
                    <span class="swatch" style={{ background: PALETTE[i % PALETTE.length] }} />
                    <span class="mono">{labels[i]}</span>
                  </td>
                  <td class="num mono legend-hover">{formatValue(v)}</td>
                  <td class="num mono">{formatValue(s?.max)}</td>
                  <td class="num mono">{formatValue(s?.mean)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </div>
  );
}
