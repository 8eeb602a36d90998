// What every uPlot chart shares: UTC time ticks, axes themed from the CSS
// variables (read when the chart is built, so a theme change rebuilds it),
// colour helpers. Used by TimeChart and the traces scatter.

import uPlot from "uplot";
import { cssVar } from "../lib/theme";

const pad2 = (n: number) => String(n).padStart(2, "0");

/**
 * x tick labels in UTC, 24-hour: `18:05`, `18:05:30`, `18:05:30.25` (below a
 * second), with `MM-DD` where the day changes.
 */
export function timeTicks(splits: number[], incr: number): string[] {
  let prevDay = "";
  const multiDay = splits.length > 1 && (splits[splits.length - 1] ?? 0) - (splits[0] ?? 0) >= 86_400 - 1;
  return splits.map((s) => {
    const d = new Date(s * 1000);
    const day = `${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}`;
    const hm = `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}`;
    const hms = `${hm}:${pad2(d.getUTCSeconds())}`;
    const digits = incr >= 1 ? 0 : incr >= 0.1 ? 1 : incr >= 0.01 ? 2 : 3;
    const frac = digits > 0 ? `.${String(d.getUTCMilliseconds()).padStart(3, "0").slice(0, digits)}` : "";
    const time = incr < 60 ? `${hms}${frac}` : hm;
    const label = incr >= 86_400 ? day : multiDay && day !== prevDay ? `${day} ${time}` : time;
    prevDay = day;
    return label;
  });
}

/** uPlot's `tzDate`: every chart shows UTC. */
export const utcDate = (ts: number): Date => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC");

function themed(): { axis: string; grid: string; font: string } {
  return { axis: cssVar("--axis"), grid: cssVar("--grid"), font: `11px ${cssVar("--font") || "sans-serif"}` };
}

/** The time (x) axis: UTC ticks, grid lines, short tick marks. */
export function timeAxis(): uPlot.Axis {
  const { axis, grid, font } = themed();
  return {
    stroke: axis,
    font,
    grid: { stroke: grid, width: 1 },
    ticks: { stroke: grid, width: 1, size: 4 },
    space: 80,
    size: 26,
    values: (_u, splits, _ax, _space, incr) => timeTicks(splits, incr),
  };
}

/** The value (y) axis: `format` for tick labels, `size` its width, `space` the minimum gap between ticks. */
/**
 * The y axis. `size` is its width in px, or "fit": as wide as its longest label
 * (dashboards' units, `1.50 MiB/s`, do not fit a fixed width).
 */
export function valueAxis(format: (v: number) => string, size: number | "fit" = 48, space = 30): uPlot.Axis {
  const { axis, grid, font } = themed();
  return {
    stroke: axis,
    font,
    grid: { stroke: grid, width: 1 },
    ticks: { show: false },
    size:
      size === "fit"
        ? (_u, values) => Math.max(36, 14 + 7 * Math.max(0, ...(values ?? []).map((v) => String(v).length)))
        : size,
    space,
    values: (_u, splits) => splits.map(format),
  };
}

/** `var(--name)` → the theme's value; other colours as they are. */
export function resolveColor(c: string): string {
  const m = /^var\((--[\w-]+)\)$/.exec(c);
  return m ? cssVar(m[1] ?? "") || c : c;
}

/** `#rrggbb` or `rgb[a](…)` with another alpha. */
export function withAlpha(color: string, alpha: number): string {
  const hex = /^#([0-9a-f]{6})$/i.exec(color);
  if (hex) {
    const n = parseInt(hex[1] ?? "0", 16);
    return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${alpha})`;
  }
  const rgb = /^rgba?\(([^)]+)\)$/.exec(color);
  if (rgb) {
    const [r, g, b] = (rgb[1] ?? "").split(",").map((s) => s.trim());
    return `rgba(${r},${g},${b},${alpha})`;
  }
  return color;
}
