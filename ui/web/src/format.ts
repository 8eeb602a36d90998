// Pure formatting helpers (no DOM access) so they stay easy to test.

const RFC3339 =
  /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:?\d{2})?$/;

/**
 * Formats an RFC 3339 timestamp (possibly with nanoseconds, which `Date`
 * cannot hold) as `YYYY-MM-DD HH:MM:SS.mmm` in UTC. Unparseable input is
 * returned unchanged.
 */
export function formatTimestamp(ts: string): string {
  const m = RFC3339.exec(ts.trim());
  if (m === null) return ts;
  const [, date, time, frac = "", zone = "Z"] = m;
  const ms = frac.padEnd(3, "0").slice(0, 3);
  const zoneNorm = zone.toUpperCase() === "Z" ? "Z" : zone.replace(/^([+-]\d{2})(\d{2})$/, "$1:$2");
  const d = new Date(`${date}T${time}.${ms}${zoneNorm}`);
  if (Number.isNaN(d.getTime())) return ts;
  return d.toISOString().replace("T", " ").replace("Z", "");
}

export type SeverityClass = "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "unknown";

/** Maps an OpenTelemetry severity text (or number) to a colour class. */
export function severityClass(severity: string): SeverityClass {
  const s = severity.trim().toUpperCase();
  if (s === "") return "unknown";
  const n = Number(s);
  if (Number.isInteger(n) && n >= 1 && n <= 24) {
    // OTLP SeverityNumber ranges: 1-4 TRACE, 5-8 DEBUG, 9-12 INFO, 13-16 WARN, 17-20 ERROR, 21-24 FATAL.
    const classes: SeverityClass[] = ["trace", "debug", "info", "warn", "error", "fatal"];
    return classes[Math.floor((n - 1) / 4)] ?? "unknown";
  }
  if (s.startsWith("TRACE")) return "trace";
  if (s.startsWith("DEBUG")) return "debug";
  if (s.startsWith("INFO") || s === "NOTICE") return "info";
  if (s.startsWith("WARN")) return "warn";
  if (s.startsWith("ERR")) return "error";
  if (s.startsWith("FATAL") || s === "CRITICAL" || s === "CRIT" || s === "EMERG" || s === "ALERT" || s === "PANIC") {
    return "fatal";
  }
  return "unknown";
}

const numberFormat = new Intl.NumberFormat("en-US");

export function formatCount(n: number): string {
  return numberFormat.format(n);
}

/** The wall-clock time, HH:MM:SS in the viewer's local zone, for "updated at" notes. */
export function clockTime(d: Date): string {
  const pad = (v: number) => String(v).padStart(2, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
