// Heatmap from Prometheus `le` buckets (`format: heatmap`, or any series with
// an `le` label): cumulative bucket counts become per-bucket counts, ordered by
// bound, drawn as cells over time whose colour grows with the count.

import { useEffect, useMemo, useRef } from "preact/hooks";
import { useStore } from "../../../lib/store";
import { theme } from "../../../lib/theme";
import { formatUtc } from "../../../lib/time";
import type { Series } from "../model/query";
import type { PanelProps } from "./types";

export interface Buckets {
  /** Upper bounds, ascending (`+Inf` last). */
  bounds: number[];
  times: number[];
  /** counts[bucket][time]: per bucket, not cumulative. */
  counts: number[][];
  max: number;
}

/** Cumulative `le` series → per-bucket counts on one time grid. */
export function toBuckets(series: Series[]): Buckets {
  const withLe = series.filter((s) => s.labels.le !== undefined);
  const byLe = new Map<number, Map<number, number>>();
  const times = new Set<number>();
  for (const s of withLe) {
    const le = s.labels.le === "+Inf" ? Infinity : Number(s.labels.le);
    if (Number.isNaN(le)) continue;
    const m = byLe.get(le) ?? new Map<number, number>();
    for (const [t, v] of s.points) {
      if (!Number.isFinite(v)) continue;
      times.add(t);
      m.set(t, (m.get(t) ?? 0) + v);
    }
    byLe.set(le, m);
  }
  const bounds = [...byLe.keys()].sort((a, b) => a - b);
  const ts = [...times].sort((a, b) => a - b);
  let max = 0;
  const counts = bounds.map((b, i) => {
    const cur = byLe.get(b) ?? new Map<number, number>();
    const prev = i > 0 ? byLe.get(bounds[i - 1] ?? 0) : undefined;
    return ts.map((t) => {
      const c = Math.max(0, (cur.get(t) ?? 0) - (prev?.get(t) ?? 0));
      max = Math.max(max, c);
      return c;
    });
  });
  return { bounds, times: ts, counts, max };
}

/**
 * A colour along an orange scheme (Grafana's default heatmap scheme is "Oranges"),
 * on a square-root scale so that the few large buckets do not hide the rest.
 */
function cellColor(f: number, dark: boolean): string {
  const g = Math.sqrt(f);
  const l = dark ? 26 + g * 46 : 88 - g * 46;
  return `hsl(${30 - g * 16}, ${60 + g * 35}%, ${l}%)`;
}

export function HeatmapPanel({ data, width, height }: PanelProps) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const dark = useStore(theme) === "dark";
  const b = useMemo(() => toBuckets(data.series), [data.series]);
  const axisW = 56;
  const axisH = 18;
  useEffect(() => {
    const c = canvas.current;
    const ctx = c?.getContext("2d");
    if (!c || !ctx) return;
    const dpr = window.devicePixelRatio || 1;
    c.width = Math.max(1, (width - axisW) * dpr);
    c.height = Math.max(1, (height - axisH) * dpr);
    ctx.scale(dpr, dpr);
    ctx.clearRect(0, 0, width, height);
    const nx = b.times.length;
    const ny = b.bounds.length;
    if (nx === 0 || ny === 0) return;
    const cw = (width - axisW) / nx;
    const ch = (height - axisH) / ny;
    for (let yi = 0; yi < ny; yi++) {
      const row = b.counts[yi] ?? [];
      for (let xi = 0; xi < nx; xi++) {
        const v = row[xi] ?? 0;
        if (v <= 0) continue;
        ctx.fillStyle = cellColor(v / (b.max || 1), dark);
        ctx.fillRect(xi * cw, (ny - 1 - yi) * ch, Math.max(1, cw - 1), Math.max(1, ch - 1));
      }
    }
  }, [b, width, height, dark]);
  const ny = b.bounds.length;
  return (
    <div class="dash-heatmap" data-testid="panel-heatmap" data-buckets={ny} data-max={b.max}>
      <div class="dash-heatmap-y" style={{ width: `${axisW}px`, height: `${height - axisH}px` }}>
        {b.bounds.map((le, i) => (
          <span key={i} style={{ bottom: `${((i + 0.5) / Math.max(1, ny)) * 100}%` }}>
            {ny <= 12 || i % Math.ceil(ny / 12) === 0 ? (Number.isFinite(le) ? String(le) : "+Inf") : ""}
          </span>
        ))}
      </div>
      <canvas ref={canvas} style={{ width: `${width - axisW}px`, height: `${height - axisH}px` }} />
      <div class="dash-heatmap-x" style={{ marginLeft: `${axisW}px` }}>
        <span>{b.times.length > 0 ? formatUtc((b.times[0] ?? 0) * 1000) : ""}</span>
        <span>{b.times.length > 0 ? formatUtc((b.times[b.times.length - 1] ?? 0) * 1000) : ""}</span>
      </div>
      {ny === 0 && <div class="dash-nodata">No buckets (series with an le label)</div>}
    </div>
  );
}
