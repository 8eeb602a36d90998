// Grafana's value units (fieldConfig `unit`): the common ids, formatted as
// Grafana shows them (scaled SI or binary prefixes, time units that step up,
// percentages), with `decimals` honoured. An unknown id falls back to `short`.

type Fmt = (v: number, decimals: number | undefined) => string;

function fixed(v: number, decimals: number | undefined): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf";
  if (decimals !== undefined) return v.toFixed(Math.max(0, Math.min(20, decimals)));
  const a = Math.abs(v);
  // Grafana's auto decimals: about 3 significant digits, no trailing zeros.
  const d = a === 0 ? 0 : a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : Math.min(6, 2 - Math.floor(Math.log10(a)));
  return String(Number(v.toFixed(d)));
}

/** `v` scaled by powers of `base` with the given prefixes (`k`, `M`, … or `KiB`, …). */
function scaled(prefixes: string[], base: number, suffix = ""): Fmt {
  return (v, decimals) => {
    let i = 0;
    let x = v;
    while (Math.abs(x) >= base && i < prefixes.length - 1) {
      x /= base;
      i++;
    }
    return `${fixed(x, decimals)}${prefixes[i] ?? ""}${suffix}`;
  };
}

const SI = ["", " K", " M", " B", " T"];
const SHORT = scaled(SI, 1000);
const BYTES_IEC = scaled([" B", " KiB", " MiB", " GiB", " TiB", " PiB"], 1024);
const BYTES_SI = scaled([" B", " kB", " MB", " GB", " TB", " PB"], 1000);
const BITS_IEC = scaled([" b", " Kib", " Mib", " Gib", " Tib"], 1024);
const BITS_SI = scaled([" b", " kb", " Mb", " Gb", " Tb"], 1000);

/** A duration given in `unitMs` milliseconds, in the largest unit that keeps it ≥ 1. */
function duration(unitMs: number): Fmt {
  const steps: [number, string][] = [
    [31_536_000_000, " year"],
    [604_800_000, " week"],
    [86_400_000, " day"],
    [3_600_000, " hour"],
    [60_000, " min"],
    [1_000, " s"],
    [1, " ms"],
    [0.001, " µs"],
    [0.000_001, " ns"],
  ];
  return (v, decimals) => {
    const ms = v * unitMs;
    const a = Math.abs(ms);
    if (a === 0) return `0${unitMs >= 1000 ? " s" : unitMs >= 1 ? " ms" : unitMs >= 0.001 ? " µs" : " ns"}`;
    for (const [size, name] of steps) {
      if (a >= size) {
        const x = ms / size;
        const plural = name.startsWith(" year") || name.startsWith(" week") || name.startsWith(" day") || name.startsWith(" hour");
        return `${fixed(x, decimals)}${name}${plural && Math.abs(x) !== 1 ? "s" : ""}`;
      }
    }
    return `${fixed(ms / 0.000_001, decimals)} ns`;
  };
}

function suffixed(suffix: string, base: Fmt = SHORT): Fmt {
  return (v, d) => `${base(v, d)}${suffix}`;
}

function prefixed(prefix: string): Fmt {
  return (v, d) => `${v < 0 ? "-" : ""}${prefix}${SHORT(Math.abs(v), d)}`;
}

const UNITS: Record<string, Fmt> = {
  none: (v, d) => fixed(v, d),
  short: SHORT,
  percent: (v, d) => `${fixed(v, d)}%`,
  percentunit: (v, d) => `${fixed(v * 100, d)}%`,
  bytes: BYTES_IEC,
  decbytes: BYTES_SI,
  kbytes: (v, d) => BYTES_IEC(v * 1024, d),
  mbytes: (v, d) => BYTES_IEC(v * 1024 * 1024, d),
  gbytes: (v, d) => BYTES_IEC(v * 1024 ** 3, d),
  bits: BITS_IEC,
  decbits: BITS_SI,
  Bps: suffixed("/s", BYTES_SI),
  binBps: suffixed("/s", BYTES_IEC),
  bps: suffixed("ps", BITS_SI),
  binbps: suffixed("ps", BITS_IEC),
  KBs: (v, d) => `${BYTES_SI(v * 1000, d)}/s`,
  MBs: (v, d) => `${BYTES_SI(v * 1e6, d)}/s`,
  ns: duration(0.000_001),
  µs: duration(0.001),
  us: duration(0.001),
  ms: duration(1),
  s: duration(1000),
  m: duration(60_000),
  h: duration(3_600_000),
  d: duration(86_400_000),
  dtdurations: duration(1000),
  dtdurationms: duration(1),
  reqps: suffixed(" req/s"),
  rps: suffixed(" req/s"),
  ops: suffixed(" ops/s"),
  opm: suffixed(" ops/min"),
  wps: suffixed(" wps"),
  iops: suffixed(" io/s"),
  cps: suffixed(" c/s"),
  hertz: scaled([" Hz", " kHz", " MHz", " GHz"], 1000),
  celsius: (v, d) => `${fixed(v, d)}°C`,
  fahrenheit: (v, d) => `${fixed(v, d)}°F`,
  currencyUSD: prefixed("$"),
  currencyEUR: prefixed("€"),
  currencyGBP: prefixed("£"),
  bool: (v) => (v === 0 ? "false" : "true"),
  bool_yes_no: (v) => (v === 0 ? "No" : "Yes"),
  bool_on_off: (v) => (v === 0 ? "Off" : "On"),
  dateTimeAsIso: (v) => new Date(v).toISOString().replace("T", " ").slice(0, 19),
  dateTimeFromNow: (v) => new Date(v).toISOString(),
};

/** `suffix:<text>` and `prefix:<text>` custom units, as Grafana allows. */
function custom(unit: string): Fmt | null {
  if (unit.startsWith("suffix:")) return (v, d) => `${fixed(v, d)}${unit.slice(7)}`;
  if (unit.startsWith("prefix:")) return (v, d) => `${unit.slice(7)}${fixed(v, d)}`;
  if (unit.startsWith("si:")) return scaled(["", " k", " M", " G", " T"], 1000, ` ${unit.slice(3)}`);
  if (unit.startsWith("count:")) return suffixed(` ${unit.slice(6)}`);
  return null;
}

export function isKnownUnit(unit: string): boolean {
  return unit === "" || unit in UNITS || custom(unit) !== null;
}

/** A value formatted with a Grafana unit and decimals. */
export function formatUnit(v: number | null | undefined, unit: string, decimals?: number): string {
  if (v === null || v === undefined) return "–";
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "+Inf" : "-Inf";
  const f = UNITS[unit === "" ? "short" : unit] ?? custom(unit);
  // An unknown unit is a suffix, as Grafana shows it.
  if (f === null) return `${SHORT(v, decimals)} ${unit}`;
  return f(v, decimals).trim();
}
