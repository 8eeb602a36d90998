// Formatting helpers (no DOM).

const RFC3339 = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:?\d{2})?$/;

/** RFC 3339 (nanoseconds allowed) → epoch milliseconds; NaN when unparseable. */
export function parseTimestamp(ts: string): number {
  const m = RFC3339.exec(ts.trim());
  if (m === null) return Date.parse(ts);
  const [, date, time, frac = "", zone = "Z"] = m;
  const ms = frac.padEnd(3, "0").slice(0, 3);
  const z = zone.toUpperCase() === "Z" ? "Z" : zone.replace(/^([+-]\d{2})(\d{2})$/, "$1:$2");
  return Date.parse(`${date}T${time}.${ms}${z}`);
}

/**
 * `2026-12-04 18:10:05.711` in UTC, from an RFC 3339 timestamp (keeps the
 * sub-millisecond digits out; the full value is in the record's details).
 */
export function formatTimestamp(ts: string): string {
  const t = parseTimestamp(ts);
  if (Number.isNaN(t)) return ts;
  return new Date(t).toISOString().replace("T", " ").replace("Z", "");
}

export type SeverityClass = "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "unknown";

/** The histogram's severity levels (Osprey's `LEVEL_NAMES`), least to most severe. */
export const LEVELS = ["unset", "trace", "debug", "info", "warn", "error", "fatal"] as const;

/** An OpenTelemetry severity text (or number) → a colour class. */
export function severityClass(severity: string): SeverityClass {
  const s = severity.trim().toUpperCase();
  if (s === "") return "unknown";
  const n = Number(s);
  if (Number.isInteger(n) && n >= 1 && n <= 24) {
    const classes: SeverityClass[] = ["trace", "debug", "info", "warn", "error", "fatal"];
    return classes[Math.floor((n - 1) / 4)] ?? "unknown";
  }
  if (s.startsWith("TRACE")) return "trace";
  if (s.startsWith("DEBUG")) return "debug";
  if (s.startsWith("INFO") || s === "NOTICE") return "info";
  if (s.startsWith("WARN")) return "warn";
  if (s.startsWith("ERR")) return "error";
  if (["FATAL", "CRITICAL", "CRIT", "EMERG", "ALERT", "PANIC"].some((p) => s.startsWith(p))) return "fatal";
  return "unknown";
}

const intFmt = new Intl.NumberFormat("en-US");

export function formatCount(n: number): string {
  return intFmt.format(n);
}

/** 1234567 → `1.2M`. */
export function formatCompact(n: number): string {
  const a = Math.abs(n);
  if (a < 1000) return String(Math.round(n * 100) / 100);
  for (const [d, u] of [
    [1e12, "T"],
    [1e9, "B"],
    [1e6, "M"],
    [1e3, "k"],
  ] as const) {
    if (a >= d) return `${(n / d).toFixed(a / d < 10 ? 1 : 0).replace(/\.0$/, "")}${u}`;
  }
  return String(n);
}

/** A sample value for legends and tables: short but faithful. */
export function formatValue(v: number | null | undefined): string {
  if (v === null || v === undefined) return "–";
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "+Inf" : "-Inf";
  const a = Math.abs(v);
  if (a === 0) return "0";
  if (a >= 1e15 || a < 1e-4) return v.toExponential(3);
  if (a >= 1e6) return formatCompact(v);
  if (Number.isInteger(v)) return intFmt.format(v);
  return String(Number(v.toPrecision(4)));
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}

/** A JSON-ish attribute value as text. */
export function attrText(v: unknown): string {
  if (typeof v === "string") return v;
  if (v === null || v === undefined) return "";
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}
