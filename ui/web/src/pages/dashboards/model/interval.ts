// Grafana's query intervals: `$__interval` from the range and the panel's width
// (rounded to a "nice" step as Grafana's kbn.roundInterval does, never below the
// panel's or query's minimum), `$__rate_interval` from it and the scrape interval,
// and the interval strings Grafana writes (`15s`, `1m`, `500ms`).

import { parseDuration } from "../../../lib/time";

/** Grafana's rounding table: an interval below the bound (ms) becomes the step. */
const ROUND: [number, number][] = [
  [10, 1],
  [15, 10],
  [35, 20],
  [75, 50],
  [150, 100],
  [350, 200],
  [750, 500],
  [1_500, 1_000],
  [3_500, 2_000],
  [7_500, 5_000],
  [12_500, 10_000],
  [17_500, 15_000],
  [25_000, 20_000],
  [45_000, 30_000],
  [90_000, 60_000],
  [210_000, 120_000],
  [450_000, 300_000],
  [750_000, 600_000],
  [1_050_000, 900_000],
  [1_500_000, 1_200_000],
  [2_700_000, 1_800_000],
  [5_400_000, 3_600_000],
  [9_000_000, 7_200_000],
  [16_200_000, 10_800_000],
  [32_400_000, 21_600_000],
  [86_400_000, 43_200_000],
  [604_800_000, 86_400_000],
  [1_814_400_000, 604_800_000],
  [3_628_800_000, 2_592_000_000],
];

export function roundInterval(ms: number): number {
  for (const [below, step] of ROUND) if (ms < below) return step;
  return 31_536_000_000;
}

/** Milliseconds as Grafana writes an interval: the largest whole unit (`2m`, `15s`, `500ms`). */
export function intervalText(ms: number): string {
  const units: [string, number][] = [
    ["y", 31_536_000_000],
    ["w", 604_800_000],
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1_000],
  ];
  for (const [u, size] of units) if (ms >= size && ms % size === 0) return `${ms / size}${u}`;
  for (const [u, size] of units) if (ms >= size) return `${Math.round(ms / size)}${u}`;
  return `${Math.max(1, Math.round(ms))}ms`;
}

/** An interval setting (`15s`, `>10s`, `1m`) in ms; null when empty or not a duration. */
export function parseInterval(s: string): number | null {
  const t = s.trim().replace(/^>/, "");
  if (t === "") return null;
  if (t.endsWith("y")) {
    const n = Number(t.slice(0, -1));
    return Number.isFinite(n) ? n * 31_536_000_000 : null;
  }
  return parseDuration(t);
}

/** The scrape interval `$__rate_interval` assumes (Grafana's Prometheus default). */
export const SCRAPE_INTERVAL_MS = 15_000;

export interface Intervals {
  /** `$__interval` (and the range query's step). */
  intervalMs: number;
  rateIntervalMs: number;
}

/**
 * `$__interval` for a range of `rangeMs` drawn with `points` points, never below
 * `minMs` (the panel's or query's min interval, else the scrape interval);
 * `$__rate_interval` = max(`$__interval` + that, 4 × that).
 */
export function intervals(rangeMs: number, points: number, minMs: number): Intervals {
  let intervalMs = Math.max(roundInterval(rangeMs / Math.max(1, points)), minMs);
  // Prometheus refuses more than 11,000 points per series.
  intervalMs = Math.max(intervalMs, roundInterval(rangeMs / 11_000));
  const rateIntervalMs = Math.max(intervalMs + minMs, 4 * minMs);
  return { intervalMs, rateIntervalMs };
}

/** The interval variable's `auto` value: the range split into `count` steps, at least `min`. */
export function autoInterval(rangeMs: number, count: number, min: string): number {
  const minMs = parseInterval(min) ?? 10_000;
  return Math.max(roundInterval(rangeMs / Math.max(1, count)), minMs);
}
