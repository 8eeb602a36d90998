// Time ranges as they appear in the URL: `from`/`to` are each `now`,
// `now-15m` (relative: s m h d w), an RFC 3339 timestamp or unix seconds.
// Pure functions only (no DOM), so they are easy to reason about and test.

export interface RangeParams {
  from: string;
  to: string;
}

export interface Resolved {
  /** Milliseconds since the epoch. */
  start: number;
  end: number;
}

export const DEFAULT_RANGE: RangeParams = { from: "now-1h", to: "now" };

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gy;

/** `1h30m`, `15m`, `500ms` → milliseconds; null when not a duration. */
export function parseDuration(s: string): number | null {
  const t = s.trim();
  if (t === "") return null;
  DURATION_PART.lastIndex = 0;
  let total = 0;
  let pos = 0;
  for (;;) {
    const m = DURATION_PART.exec(t);
    if (m === null) break;
    const [whole, num = "0", unit = "s"] = m;
    total += Number(num) * (UNIT_MS[unit] ?? 0);
    pos += whole.length;
  }
  return pos === t.length && pos > 0 ? total : null;
}

/** 90_000 → `1m30s`; whole units only, largest first. */
export function formatDuration(ms: number): string {
  if (ms <= 0) return "0s";
  if (ms < 1000) return `${Math.round(ms)}ms`;
  let rest = Math.round(ms / 1000);
  const parts: string[] = [];
  for (const [unit, secs] of [
    ["w", 604_800],
    ["d", 86_400],
    ["h", 3_600],
    ["m", 60],
    ["s", 1],
  ] as const) {
    if (rest >= secs) {
      parts.push(`${Math.floor(rest / secs)}${unit}`);
      rest %= secs;
    }
  }
  return parts.join("");
}

const RELATIVE = /^now(?:([+-])([^/]+))?(?:\/([smhdwMy]))?$/;

/** `t` rounded down to the start of its UTC `unit` (Grafana's `now/d`, `now-1w/w`). */
function roundDown(t: number, unit: string): number {
  const d = new Date(t);
  switch (unit) {
    case "y":
      return Date.UTC(d.getUTCFullYear(), 0, 1);
    case "M":
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
    case "w": {
      // Weeks start on Monday (ISO), as Grafana's default.
      const day = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
      return day - ((d.getUTCDay() + 6) % 7) * 86_400_000;
    }
    default: {
      const ms = UNIT_MS[unit] ?? 1;
      return Math.floor(t / ms) * ms;
    }
  }
}

/** The end of `t`'s UTC `unit` (a `to` of `now/d` is the end of today, as in Grafana). */
function roundUp(t: number, unit: string): number {
  const start = roundDown(t, unit);
  const d = new Date(start);
  if (unit === "y") return Date.UTC(d.getUTCFullYear() + 1, 0, 1) - 1;
  if (unit === "M") return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) - 1;
  return start + (UNIT_MS[unit] ?? 1) - 1;
}

/**
 * A `from`/`to` expression → epoch milliseconds, relative to `now`; null when invalid.
 * `end` rounds a `/unit` suffix up to the unit's end instead of down to its start.
 */
export function parseTimeExpr(expr: string, now: number, end = false): number | null {
  const s = expr.trim();
  if (s === "") return null;
  const rel = RELATIVE.exec(s);
  if (rel !== null) {
    let t = now;
    if (rel[1] !== undefined) {
      const d = parseDuration(rel[2] ?? "");
      if (d === null) return null;
      t = rel[1] === "-" ? now - d : now + d;
    }
    if (rel[3] === undefined) return t;
    return end ? roundUp(t, rel[3]) : roundDown(t, rel[3]);
  }
  if (/^\d+(\.\d+)?$/.test(s)) {
    const n = Number(s);
    // Unix seconds; 13+ digit integers are read as milliseconds (what people paste).
    return s.length >= 13 && !s.includes(".") ? n : Math.round(n * 1000);
  }
  // RFC 3339, or `YYYY-MM-DD HH:MM[:SS]` read as UTC (the UI shows UTC everywhere).
  let iso = s.replace(" ", "T");
  if (/^\d{4}-\d{2}-\d{2}$/.test(iso)) iso += "T00:00:00";
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(iso)) iso += "Z";
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t;
}

export function isRelative(expr: string): boolean {
  return expr.trim().startsWith("now");
}

/** Resolves a range; an error message when either end is invalid or `from` ≥ `to`. */
export function resolveRange(r: RangeParams, now: number): Resolved | string {
  const start = parseTimeExpr(r.from, now);
  if (start === null) return `invalid "from": ${JSON.stringify(r.from)}`;
  const end = parseTimeExpr(r.to, now, true);
  if (end === null) return `invalid "to": ${JSON.stringify(r.to)}`;
  if (start >= end) return `"from" (${r.from}) must be before "to" (${r.to})`;
  return { start, end };
}

export interface QuickRange {
  from: string;
  label: string;
}

export const QUICK_RANGES: QuickRange[] = [
  { from: "now-5m", label: "Last 5 minutes" },
  { from: "now-15m", label: "Last 15 minutes" },
  { from: "now-30m", label: "Last 30 minutes" },
  { from: "now-1h", label: "Last 1 hour" },
  { from: "now-3h", label: "Last 3 hours" },
  { from: "now-6h", label: "Last 6 hours" },
  { from: "now-12h", label: "Last 12 hours" },
  { from: "now-24h", label: "Last 24 hours" },
  { from: "now-2d", label: "Last 2 days" },
  { from: "now-7d", label: "Last 7 days" },
];

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/** `2026-12-04 18:10:05` (UTC). */
export function formatUtc(ms: number, withMs = false): string {
  const d = new Date(ms);
  const base = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  return withMs ? `${base}.${pad(d.getUTCMilliseconds(), 3)}` : base;
}

/** An absolute `from`/`to` for the URL: RFC 3339 in UTC, milliseconds only when needed. */
export function toUrlTime(ms: number): string {
  const iso = new Date(Math.round(ms)).toISOString();
  return iso.endsWith(".000Z") ? `${iso.slice(0, -5)}Z` : iso;
}

/** What the time picker's button says. */
export function describeRange(r: RangeParams): string {
  if (r.to.trim() === "now") {
    const q = QUICK_RANGES.find((x) => x.from === r.from.trim());
    if (q !== undefined) return q.label;
    const rel = RELATIVE.exec(r.from.trim());
    if (rel?.[1] === "-" && rel[2] !== undefined) return `Last ${rel[2]}`;
  }
  const now = Date.now();
  const a = parseTimeExpr(r.from, now);
  const b = parseTimeExpr(r.to, now);
  const show = (e: string, t: number | null) => (isRelative(e) || t === null ? e : formatUtc(t));
  const left = show(r.from, a);
  let right = show(r.to, b);
  // Same day: the date once.
  if (!isRelative(r.from) && !isRelative(r.to) && left.slice(0, 10) === right.slice(0, 10)) right = right.slice(11);
  return `${left} → ${right}`;
}

/** A range shifted by `factor` of its length (−1: one length earlier), absolute. */
export function shiftRange(res: Resolved, factor: number): RangeParams {
  const d = (res.end - res.start) * factor;
  return { from: toUrlTime(res.start + d), to: toUrlTime(res.end + d) };
}

/** A range `factor` times as long around the same centre (Grafana's zoom out: 2). */
export function zoomRange(res: Resolved, factor: number, now: number): RangeParams {
  const len = res.end - res.start;
  const mid = res.start + len / 2;
  let end = mid + (len * factor) / 2;
  const start = mid - (len * factor) / 2;
  if (end >= now) end = now;
  return { from: toUrlTime(start), to: end === now ? "now" : toUrlTime(end) };
}

const NICE_STEPS_S = [
  1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
];

/** A round step (seconds) giving about `points` points over the range. */
export function autoStepSeconds(res: Resolved, points: number): number {
  const raw = (res.end - res.start) / 1000 / Math.max(points, 1);
  return NICE_STEPS_S.find((s) => s >= raw) ?? Math.ceil(raw / 86400) * 86400;
}

/** Epoch milliseconds as API seconds (`1700000000.123`). */
export function apiSeconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}
