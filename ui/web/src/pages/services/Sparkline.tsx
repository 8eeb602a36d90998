// A tiny inline SVG line of one series over the range (no axes).

import type { RangeSeries } from "../../api/prometheus";

/** `max`: the value at the top (a fixed scale, e.g. 100 for percentages); the series' own maximum by default. */
export function Sparkline({ series, range, color, width = 120, height = 24, max: top }: { series: RangeSeries | undefined; range: { start: number; end: number }; color: string; width?: number; height?: number; max?: number }) {
  const pts = (series?.values ?? []).filter(([, v]) => Number.isFinite(v));
  if (pts.length < 2) return <svg class="sparkline" width={width} height={height} aria-hidden="true" />;
  const t0 = range.start / 1000;
  const span = Math.max(range.end / 1000 - t0, 1);
  const max = Math.max(top ?? 0, pts.reduce((m, [, v]) => Math.max(m, v), 0)) || 1;
  const xy = pts.map(([t, v]) => `${(((t - t0) / span) * width).toFixed(1)},${(height - 1 - (v / max) * (height - 3)).toFixed(1)}`);
  const first = xy[0]?.split(",")[0] ?? "0";
  const last = xy[xy.length - 1]?.split(",")[0] ?? "0";
  return (
    <svg class="sparkline" width={width} height={height} viewBox={`0 0 ${width} ${height}`} aria-hidden="true" data-testid="sparkline">
      <polygon points={`${first},${height} ${xy.join(" ")} ${last},${height}`} fill={color} opacity="0.15" />
      <polyline points={xy.join(" ")} fill="none" stroke={color} stroke-width="1.25" stroke-linejoin="round" />
    </svg>
  );
}
