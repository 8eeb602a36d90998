// Time series (and the migrated graph panel): lines, bars or points, stacked
// or not, filled, with the field config's unit, min/max and colours, threshold
// lines (`custom.thresholdsStyle`), a legend (list or hidden) under the chart,
// and a click on the chart offering the nearest series' data links.

import { useMemo, useRef, useState } from "preact/hooks";
import { TimeChart, type ChartSeries } from "../../../components/TimeChart";
import { useDismiss } from "../../../lib/dismiss";
import { align } from "../../../lib/series";
import { toggled } from "../../../lib/sets";
import { fieldConfig, reduce, valueColor, type FieldConfig } from "../model/fields";
import { linksOf, type LinkTarget } from "../model/links";
import { isObj, numOf, strOf } from "../model/grafana";
import { formatUnit } from "../model/units";
import type { PanelProps } from "./types";

/** The threshold steps as lines and (`area` styles) bands, as `thresholdsStyle` asks. */
function thresholdMarks(fc: FieldConfig): { lines: { value: number; color: string; dashed: boolean }[]; bands: { from: number; to: number; color: string }[] } {
  const style = isObj(fc.custom.thresholdsStyle) ? strOf(fc.custom.thresholdsStyle.mode, "off") : "off";
  if (style === "off" || fc.thresholdsMode !== "absolute") return { lines: [], bands: [] };
  const lines = style.includes("line") || style.includes("dashed") ? fc.steps.filter((s) => Number.isFinite(s.value)).map((s) => ({ value: s.value, color: s.color, dashed: style.includes("dashed") })) : [];
  const bands = style.includes("area")
    ? fc.steps.map((s, i) => ({ from: Number.isFinite(s.value) ? s.value : -1e300, to: fc.steps[i + 1]?.value ?? 1e300, color: s.color }))
    : [];
  return { lines, bands };
}

/** The legend as a table: each series with the `legend.calcs` asked for. */
function LegendTable({ series, calcs, hidden, onToggle, fmt }: { series: ChartSeries[]; calcs: string[]; hidden: ReadonlySet<number>; onToggle: (i: number) => void; fmt: (v: number) => string }) {
  return (
    <table class="dash-legend-table" data-testid="legend-table">
      <thead>
        <tr>
          <th>Name</th>
          {calcs.map((c) => (
            <th key={c} class="num">
              {c}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {series.map((s, i) => (
          <tr key={i} class={hidden.has(i) ? "off" : ""} onClick={() => onToggle(i)} data-testid="legend-row">
            <td>
              <span class="swatch" style={{ background: s.color }} /> {s.label}
            </td>
            {calcs.map((c) => {
              const v = reduce(s.values, c);
              return (
                <td key={c} class="num" data-calc={c} data-value={v === null ? "" : String(v)}>
                  {v === null ? "–" : fmt(v)}
                </td>
              );
            })}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The shown series whose value at `idx` is nearest `y` (-1: none has one). */
function nearest(series: ChartSeries[], hidden: ReadonlySet<number>, idx: number, y: number): number {
  let best = -1;
  for (let i = 0; i < series.length; i++) {
    const v = series[i]?.values[idx];
    if (hidden.has(i) || v === null || v === undefined) continue;
    const b = series[best]?.values[idx];
    if (best < 0 || (typeof b === "number" && Math.abs(v - y) < Math.abs(b - y))) best = i;
  }
  return best;
}

export function TimeSeriesPanel({ panel, data, width, height, range, onZoom, scope }: PanelProps) {
  const [hidden, setHidden] = useState<ReadonlySet<number>>(new Set());
  const [menu, setMenu] = useState<{ x: number; y: number; links: LinkTarget[] } | null>(null);
  const menuRef = useRef<HTMLUListElement>(null);
  // The links menu closes on a press elsewhere or a scroll (it is placed at the click).
  useDismiss(menu !== null, menuRef, () => setMenu(null), { scroll: true });
  const defaults = fieldConfig(panel.fieldConfig, { name: "", refId: "" });
  const custom = defaults.custom;
  const draw = strOf(custom.drawStyle, "line");
  const stacking = isObj(custom.stacking) ? strOf(custom.stacking.mode, "none") : "none";
  const fill = numOf(custom.fillOpacity) ?? 0;
  const legend = isObj(panel.options.legend) ? panel.options.legend : {};
  const showLegend = legend.showLegend !== false && legend.displayMode !== "hidden" && data.series.length > 0;
  const calcs = Array.isArray(legend.calcs) ? legend.calcs.map((c) => strOf(c)).filter((c) => c !== "") : [];
  const asTable = showLegend && (legend.displayMode === "table" || calcs.length > 0);
  const right = showLegend && legend.placement === "right";
  const marks = thresholdMarks(defaults);

  const percent = stacking === "percent";
  const { x, rows } = useMemo(() => {
    const a = align(data.series.map((s) => ({ metric: s.labels, values: s.points })));
    if (!percent) return a;
    // Percent stacking: each series as its share of the total at that time.
    const totals = a.x.map((_, j) => a.rows.reduce((t, r) => t + (r[j] ?? 0), 0));
    return { x: a.x, rows: a.rows.map((r) => r.map((v, j) => (v === null || !totals[j] ? null : v / (totals[j] ?? 1)))) };
  }, [data.series, percent]);
  const configs = useMemo(() => data.series.map((s) => fieldConfig(panel.fieldConfig, { name: s.name, refId: s.refId })), [data.series, panel.fieldConfig]);
  const series: ChartSeries[] = useMemo(
    () => data.series.map((s, i) => ({ label: configs[i]?.displayName || s.name, values: rows[i] ?? [], color: configs[i] ? valueColor(configs[i], null, i) : "#888" })),
    [data.series, rows, configs],
  );
  const withLinks = configs.some((c) => c.links.length > 0);
  const onPlotClick = (at: { idx: number; y: number; clientX: number; clientY: number }) => {
    const best = nearest(series, hidden, at.idx, at.y);
    const fc = configs[best];
    const sr = data.series[best];
    const v = series[best]?.values[at.idx] ?? null;
    if (fc === undefined || sr === undefined || fc.links.length === 0) return setMenu(null);
    const links = linksOf(fc.links, scope, range, { raw: v, text: v === null ? "" : formatUnit(v, fc.unit, fc.decimals), time: x[at.idx] ?? null, series: sr });
    setMenu({ x: at.clientX, y: at.clientY, links });
  };
  // The legend: beside the chart (placement right, a third of the width) or under it.
  const legendW = right ? Math.floor(width / 3) : 0;
  const legendH = !showLegend || right ? 0 : asTable ? Math.min(26 + series.length * 22, Math.floor(height / 2)) : Math.min(Math.max(24, Math.ceil(series.length / 3) * 20), Math.floor(height / 3));
  // Axis ticks choose their own decimals (a configured 0 would print 0.5 as 1); the readout keeps them.
  const unit = percent ? "percentunit" : defaults.unit;
  const tick = (v: number) => formatUnit(v, unit);
  const fmt = (v: number) => formatUnit(v, unit, defaults.decimals);
  return (
    <div class={`dash-ts${right ? " right" : ""}`} data-testid="panel-timeseries" data-series={series.length}>
      <div class="dash-ts-chart" style={right ? { width: `${width - legendW}px` } : undefined}>
        <TimeChart
          x={x}
          series={series}
          kind={draw === "bars" ? "bars" : draw === "points" ? "points" : "lines"}
          stacked={stacking === "normal" || stacking === "percent"}
          fillOpacity={fill / 100}
          lineWidth={numOf(custom.lineWidth)}
          yMin={percent ? 0 : defaults.min}
          yMax={percent ? 1 : defaults.max}
          hidden={hidden}
          height={Math.max(60, height - legendH)}
          range={range}
          onZoom={onZoom}
          yFormat={tick}
          valueFormat={fmt}
          yAxisFit
          hlines={marks.lines}
          hbands={marks.bands}
          onPlotClick={withLinks ? onPlotClick : undefined}
          barWidth={x.length > 1 ? (x[1] ?? 0) - (x[0] ?? 0) : undefined}
          testId="dash-chart"
        />
      </div>
      {menu !== null && (
        <ul ref={menuRef} class="dash-menu dash-link-menu" role="menu" style={{ position: "fixed", left: `${menu.x}px`, top: `${menu.y}px` }} data-testid="data-link-menu">
          {menu.links.map((l, i) => (
            <li key={i} role="none">
              <a role="menuitem" href={l.href} target={l.blank ? "_blank" : undefined} data-testid="data-link">
                {l.title}
              </a>
            </li>
          ))}
          <li role="none">
            <button type="button" class="btn small ghost" onClick={() => setMenu(null)}>
              Close
            </button>
          </li>
        </ul>
      )}
      {showLegend && (
        <div class="dash-legend-box" style={right ? { width: `${legendW}px`, maxHeight: `${height}px` } : { maxHeight: `${legendH}px`, width: `${width}px` }}>
          {asTable ? (
            <LegendTable series={series} calcs={calcs} hidden={hidden} onToggle={(i) => setHidden(toggled(hidden, i))} fmt={fmt} />
          ) : (
            <ul class="dash-legend">
              {series.map((s, i) => (
                <li key={i}>
                  <button type="button" class={hidden.has(i) ? "off" : ""} onClick={() => setHidden(toggled(hidden, i))} title={s.label}>
                    <span class="swatch" style={{ background: s.color }} />
                    <span class="dash-legend-name">{s.label}</span>
                  </button>
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </div>
  );
}
