// Time series (and the migrated graph panel): lines, bars or points, stacked
// or not, filled, with the field config's unit, min/max and colours and a
// legend (list or hidden) under the chart.

import { useMemo, useState } from "preact/hooks";
import { TimeChart, type ChartSeries } from "../../../components/TimeChart";
import { align } from "../../../lib/series";
import { toggled } from "../../../lib/sets";
import { fieldConfig, valueColor } from "../model/fields";
import { isObj, numOf, strOf } from "../model/grafana";
import { formatUnit } from "../model/units";
import type { PanelProps } from "./types";

export function TimeSeriesPanel({ panel, data, width, height, range, onZoom }: PanelProps) {
  const [hidden, setHidden] = useState<ReadonlySet<number>>(new Set());
  const defaults = fieldConfig(panel.fieldConfig, { name: "", refId: "" });
  const custom = defaults.custom;
  const draw = strOf(custom.drawStyle, "line");
  const stacking = isObj(custom.stacking) ? strOf(custom.stacking.mode, "none") : "none";
  const fill = numOf(custom.fillOpacity) ?? 0;
  const legend = isObj(panel.options.legend) ? panel.options.legend : {};
  const showLegend = legend.showLegend !== false && legend.displayMode !== "hidden" && data.series.length > 0;

  const { x, rows } = useMemo(() => align(data.series.map((s) => ({ metric: s.labels, values: s.points }))), [data.series]);
  const series: ChartSeries[] = useMemo(
    () =>
      data.series.map((s, i) => {
        const fc = fieldConfig(panel.fieldConfig, { name: s.name, refId: s.refId });
        return { label: fc.displayName || s.name, values: rows[i] ?? [], color: valueColor(fc, null, i) };
      }),
    [data.series, rows, panel.fieldConfig],
  );
  const legendH = showLegend ? Math.min(Math.max(24, Math.ceil(series.length / 3) * 20), Math.floor(height / 3)) : 0;
  // Axis ticks choose their own decimals (a configured 0 would print 0.5 as 1); the readout keeps them.
  const tick = (v: number) => formatUnit(v, defaults.unit);
  const fmt = (v: number) => formatUnit(v, defaults.unit, defaults.decimals);
  return (
    <div class="dash-ts" data-testid="panel-timeseries" data-series={series.length}>
      <TimeChart
        x={x}
        series={series}
        kind={draw === "bars" ? "bars" : draw === "points" ? "points" : "lines"}
        stacked={stacking === "normal" || stacking === "percent"}
        fillOpacity={fill / 100}
        lineWidth={numOf(custom.lineWidth)}
        yMin={defaults.min}
        yMax={defaults.max}
        hidden={hidden}
        height={Math.max(60, height - legendH)}
        range={range}
        onZoom={onZoom}
        yFormat={tick}
        valueFormat={fmt}
        yAxisFit
        barWidth={x.length > 1 ? (x[1] ?? 0) - (x[0] ?? 0) : undefined}
        testId="dash-chart"
      />
      {showLegend && (
        <ul class="dash-legend" style={{ maxHeight: `${legendH}px`, width: `${width}px` }}>
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
  );
}
