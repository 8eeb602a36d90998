// Stat: one big value per series (reduced as `reduceOptions.calcs` asks),
// coloured as text or background by thresholds or the palette, with an area
// sparkline when `graphMode` is `area`.

import { isObj, strOf } from "../model/grafana";
import { linksOf } from "../model/links";
import type { PanelProps } from "./types";
import { displayValues, type DisplayValue } from "./values";

function Sparkline({ v, color }: { v: DisplayValue; color: string }) {
  const pts = (v.series?.points ?? []).filter(([, y]) => Number.isFinite(y));
  if (pts.length < 2) return null;
  const xs = pts.map(([t]) => t);
  const ys = pts.map(([, y]) => y);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const px = (t: number) => ((t - x0) / (x1 - x0 || 1)) * 100;
  const py = (y: number) => 30 - ((y - y0) / (y1 - y0 || 1)) * 28;
  const line = pts.map(([t, y]) => `${px(t).toFixed(2)},${py(y).toFixed(2)}`).join(" ");
  return (
    <svg class="dash-spark" viewBox="0 0 100 30" preserveAspectRatio="none" aria-hidden="true">
      <polygon points={`0,30 ${line} 100,30`} fill={color} fill-opacity="0.18" />
      <polyline points={line} fill="none" stroke={color} stroke-width="1.5" vector-effect="non-scaling-stroke" />
    </svg>
  );
}

export function StatPanel({ panel, data, width, height, scope, range }: PanelProps) {
  const values = displayValues(panel, data.series);
  const colorMode = strOf(panel.options.colorMode, "value");
  const graph = strOf(panel.options.graphMode, "area") === "area";
  const textMode = strOf(panel.options.textMode, "auto");
  const horizontal = strOf(panel.options.orientation, "auto") === "horizontal" || (strOf(panel.options.orientation, "auto") === "auto" && width < height);
  const showName = textMode === "value_and_name" || textMode === "name" || (textMode === "auto" && values.length > 1);
  const n = values.length;
  // The value opens the field's first data link (`${__value.raw}`, `${__field.labels.x}`).
  const valueLink = (v: DisplayValue) => {
    const last = v.series?.points[v.series.points.length - 1];
    const l = linksOf(v.fc.links, scope, range, { raw: v.value, text: v.text, time: last?.[0] ?? null, series: v.series })[0];
    return l === undefined ? null : (
      <a class="dash-value-link" href={l.href} target={l.blank ? "_blank" : undefined} title={l.title} data-testid="data-link">
        {v.text}
      </a>
    );
  };
  // As large as fits: the cell's height, and its width for the longest text.
  const longest = Math.max(1, ...values.map((v) => v.text.length));
  const cellW = width / (horizontal ? 1 : n) - 8;
  const size = Math.max(12, Math.min((height / (horizontal ? n : 1)) * (showName ? 0.34 : 0.42), cellW / (longest * 0.62), 96));
  return (
    <div class={`dash-stat${horizontal ? " vertical" : ""}`} data-testid="panel-stat">
      {values.map((v, i) => (
        <div
          key={i}
          class="dash-stat-item"
          data-testid="stat-value"
          data-value={v.value === null ? "" : String(v.value)}
          style={colorMode === "background" ? { background: v.color, color: "#fff" } : undefined}
        >
          {showName && <div class="dash-stat-name">{v.name}</div>}
          {textMode !== "name" && textMode !== "none" && (
            <div class="dash-stat-text" style={{ color: colorMode === "value" ? v.color : undefined, fontSize: `${v.value === null ? Math.min(size, 24) : size}px` }}>
              {valueLink(v) ?? v.text}
            </div>
          )}
          {graph && isObj(v.series) && <Sparkline v={v} color={colorMode === "background" ? "#fff" : v.color} />}
        </div>
      ))}
    </div>
  );
}
