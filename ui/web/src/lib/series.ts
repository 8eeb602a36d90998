import type { RangeSeries } from "../api/prometheus";

/** Series on one time grid (the union of their timestamps). */
export function align(series: RangeSeries[]): { x: number[]; rows: (number | null)[][] } {
  const ts = new Set<number>();
  for (const s of series) for (const [t] of s.values) ts.add(t);
  const x = [...ts].sort((a, b) => a - b);
  const at = new Map(x.map((t, i) => [t, i]));
  const rows = series.map((s) => {
    const out = new Array<number | null>(x.length).fill(null);
    for (const [t, v] of s.values) {
      const i = at.get(t);
      if (i !== undefined) out[i] = Number.isFinite(v) ? v : null;
    }
    return out;
  });
  return { x, rows };
}
