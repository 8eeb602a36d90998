// A panel's field config (Grafana `fieldConfig`): the defaults with the
// overrides that match a series (by name, regex, query or type) applied over
// them; thresholds, colour modes, Grafana's named colours and the reductions
// (`reduceOptions.calcs`) that stat, gauge, bar gauge and tables show.

import { isObj, numOf, strOf, type Json } from "./grafana";

export interface Step {
  color: string;
  /** -Infinity for the base step (Grafana writes `null`). */
  value: number;
}

export interface FieldConfig {
  unit: string;
  min?: number;
  max?: number;
  decimals?: number;
  displayName: string;
  noValue: string;
  colorMode: string;
  fixedColor: string;
  thresholdsMode: "absolute" | "percentage";
  steps: Step[];
  custom: Json;
  links: Json[];
  mappings: Json[];
}

/** Grafana's named colours (the ones dashboards use), by theme-independent hex. */
const NAMED: Record<string, string> = {
  green: "#73BF69",
  "dark-green": "#37872D",
  "semi-dark-green": "#56A64B",
  "light-green": "#96D98D",
  "super-light-green": "#C8F2C2",
  red: "#F2495C",
  "dark-red": "#C4162A",
  "semi-dark-red": "#E02F44",
  "light-red": "#FF7383",
  "super-light-red": "#FFA6B0",
  orange: "#FF9830",
  "dark-orange": "#FA6400",
  "semi-dark-orange": "#FF780A",
  "light-orange": "#FFB357",
  "super-light-orange": "#FFCB7D",
  yellow: "#FADE2A",
  "dark-yellow": "#E0B400",
  "semi-dark-yellow": "#F2CC0C",
  "light-yellow": "#FFEE52",
  "super-light-yellow": "#FFF899",
  blue: "#5794F2",
  "dark-blue": "#1F60C4",
  "semi-dark-blue": "#3274D9",
  "light-blue": "#8AB8FF",
  "super-light-blue": "#C0D8FF",
  purple: "#B877D9",
  "dark-purple": "#8F3BB8",
  "semi-dark-purple": "#A352CC",
  "light-purple": "#CA95E5",
  "super-light-purple": "#DEB6F2",
  text: "var(--text)",
  transparent: "transparent",
};

/** Grafana's classic palette, in order. */
export const CLASSIC = ["#7EB26D", "#EAB839", "#6ED0E0", "#EF843C", "#E24D42", "#1F78C1", "#BA43A9", "#705DA0", "#508642", "#CCA300", "#447EBC", "#C15C17", "#890F02", "#0A437C", "#6D1F62", "#584477"];

export function namedColor(c: string): string {
  return NAMED[c] ?? c;
}

function steps(t: unknown): { mode: "absolute" | "percentage"; steps: Step[] } {
  if (!isObj(t) || !Array.isArray(t.steps)) return { mode: "absolute", steps: [{ color: NAMED.green ?? "green", value: -Infinity }, { color: NAMED.red ?? "red", value: 80 }] };
  const out = t.steps.filter(isObj).map((s) => ({ color: namedColor(strOf(s.color, "green")), value: numOf(s.value) ?? -Infinity }));
  out.sort((a, b) => a.value - b.value);
  return { mode: t.mode === "percentage" ? "percentage" : "absolute", steps: out };
}

function fromJson(d: Json, colorMode: string): FieldConfig {
  const color = isObj(d.color) ? d.color : {};
  const th = steps(d.thresholds);
  return {
    unit: strOf(d.unit),
    min: numOf(d.min),
    max: numOf(d.max),
    decimals: numOf(d.decimals),
    displayName: strOf(d.displayName),
    noValue: strOf(d.noValue),
    colorMode: strOf(color.mode, colorMode),
    fixedColor: namedColor(strOf(color.fixedColor)),
    thresholdsMode: th.mode,
    steps: th.steps,
    custom: isObj(d.custom) ? d.custom : {},
    links: Array.isArray(d.links) ? d.links.filter(isObj) : [],
    mappings: Array.isArray(d.mappings) ? d.mappings.filter(isObj) : [],
  };
}

/** Sets a dotted property (`custom.fillOpacity`, `color`, `thresholds`) of an override. */
function setProp(d: Json, id: string, value: unknown): void {
  const parts = id.split(".");
  let cur: Json = d;
  for (const p of parts.slice(0, -1)) {
    const next = cur[p];
    cur[p] = isObj(next) ? { ...next } : {};
    cur = cur[p] as Json;
  }
  cur[parts[parts.length - 1] ?? id] = value;
}

export interface FieldIdentity {
  name: string;
  refId: string;
  type?: "number" | "time" | "string";
}

function matches(matcher: Json, f: FieldIdentity): boolean {
  const opt = matcher.options;
  switch (strOf(matcher.id)) {
    case "byName":
      return strOf(opt) === f.name;
    case "byRegexp":
      try {
        const m = /^\/(.*)\/([a-z]*)$/.exec(strOf(opt));
        return (m ? new RegExp(m[1] ?? "", (m[2] ?? "").replace("g", "")) : new RegExp(`^(?:${strOf(opt)})$`)).test(f.name);
      } catch {
        return false;
      }
    case "byFrameRefID":
      return strOf(opt) === f.refId;
    case "byType":
      return strOf(opt) === (f.type ?? "number");
    case "byNames":
      return isObj(opt) && Array.isArray(opt.names) && opt.names.includes(f.name);
    default:
      return false;
  }
}

/**
 * The config of the field `f` of a panel: defaults, then each matching override.
 * `colorMode` is the panel type's default (time series: the palette; stat, gauge: thresholds).
 */
export function fieldConfig(panelFc: Json, f: FieldIdentity, colorMode = "palette-classic"): FieldConfig {
  const defaults = isObj(panelFc.defaults) ? { ...panelFc.defaults } : {};
  const overrides = Array.isArray(panelFc.overrides) ? panelFc.overrides.filter(isObj) : [];
  for (const o of overrides) {
    if (!isObj(o.matcher) || !matches(o.matcher, f)) continue;
    for (const p of Array.isArray(o.properties) ? o.properties.filter(isObj) : []) setProp(defaults, strOf(p.id), p.value);
  }
  return fromJson(defaults, colorMode);
}

/** The threshold step colour of `v` (percentage thresholds against min..max). */
export function thresholdColor(fc: FieldConfig, v: number, min = fc.min ?? 0, max = fc.max ?? 100): string {
  const x = fc.thresholdsMode === "percentage" ? ((v - min) / (max - min || 1)) * 100 : v;
  let color = fc.steps[0]?.color ?? NAMED.green ?? "green";
  for (const s of fc.steps) if (x >= s.value) color = s.color;
  return color;
}

/** The colour of a series/value: fixed, thresholds, or the palette by index. */
export function valueColor(fc: FieldConfig, v: number | null, index: number): string {
  if (fc.colorMode === "fixed" || fc.colorMode === "shades") return fc.fixedColor || (CLASSIC[index % CLASSIC.length] ?? "#888");
  if (fc.colorMode === "thresholds") return v === null ? (fc.steps[0]?.color ?? "#888") : thresholdColor(fc, v);
  return CLASSIC[index % CLASSIC.length] ?? "#888";
}

/** Grafana's reducers (`reduceOptions.calcs`), by id. */
export function reduce(values: (number | null)[], calc: string): number | null {
  const nums = values.filter((v): v is number => v !== null && !Number.isNaN(v));
  const sum = () => nums.reduce((a, b) => a + b, 0);
  switch (calc) {
    case "last":
      return values.length === 0 ? null : (values[values.length - 1] ?? null);
    case "lastNotNull":
      return nums.length === 0 ? null : (nums[nums.length - 1] ?? null);
    case "first":
      return values[0] ?? null;
    case "firstNotNull":
      return nums[0] ?? null;
    case "mean":
    case "avg":
      return nums.length === 0 ? null : sum() / nums.length;
    case "sum":
    case "total":
      return nums.length === 0 ? null : sum();
    case "max":
      return nums.length === 0 ? null : Math.max(...nums);
    case "min":
      return nums.length === 0 ? null : Math.min(...nums);
    case "count":
      return values.length;
    case "range":
      return nums.length === 0 ? null : Math.max(...nums) - Math.min(...nums);
    case "delta": {
      let d = 0;
      for (let i = 1; i < nums.length; i++) {
        const step = (nums[i] ?? 0) - (nums[i - 1] ?? 0);
        d += step >= 0 ? step : (nums[i] ?? 0);
      }
      return nums.length === 0 ? null : d;
    }
    case "diff":
      return nums.length === 0 ? null : (nums[nums.length - 1] ?? 0) - (nums[0] ?? 0);
    case "median": {
      if (nums.length === 0) return null;
      const s = [...nums].sort((a, b) => a - b);
      const m = s.length >> 1;
      return s.length % 2 === 1 ? (s[m] ?? null) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
    }
    default:
      return nums.length === 0 ? null : (nums[nums.length - 1] ?? null);
  }
}

/** The reducer a stat/gauge/bar gauge/table asks for (default: last not null). */
export function calcOf(options: Json): string {
  const r = isObj(options.reduceOptions) ? options.reduceOptions : {};
  const calcs = Array.isArray(r.calcs) ? r.calcs.map((c) => strOf(c)) : [];
  return calcs[0] ?? "lastNotNull";
}

export const KNOWN_CALCS = new Set(["last", "lastNotNull", "first", "firstNotNull", "mean", "avg", "sum", "total", "max", "min", "count", "range", "delta", "diff", "median"]);

export interface Mapped {
  text?: string;
  color?: string;
}

function result(r: unknown): Mapped {
  if (!isObj(r)) return {};
  const text = typeof r.text === "string" && r.text !== "" ? r.text : undefined;
  const color = typeof r.color === "string" && r.color !== "" ? namedColor(r.color) : undefined;
  return { text, color };
}

/** Grafana's value mappings (value, range, special; the first that matches wins). */
export function mapValue(fc: FieldConfig, v: number | null): Mapped | null {
  for (const m of fc.mappings) {
    const o = isObj(m.options) ? m.options : {};
    switch (strOf(m.type)) {
      case "value": {
        const hit = v === null ? undefined : o[String(v)];
        if (hit !== undefined) return result(hit);
        break;
      }
      case "range": {
        const from = numOf(o.from) ?? -Infinity;
        const to = numOf(o.to) ?? Infinity;
        if (v !== null && v >= from && v <= to) return result(o.result);
        break;
      }
      case "special": {
        const match = strOf(o.match);
        const ok =
          (match === "null" && v === null) ||
          (match === "nan" && v !== null && Number.isNaN(v)) ||
          (match === "null+nan" && (v === null || Number.isNaN(v))) ||
          (match === "true" && v === 1) ||
          (match === "false" && v === 0);
        if (ok) return result(o.result);
        break;
      }
    }
  }
  return null;
}
