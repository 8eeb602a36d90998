// Template variables: their options (query, custom, interval, constant,
// textbox, datasource), the selection (URL `var-<name>`, else the saved
// `current`, else the first option), and the scope panels are drawn with,
// including Grafana's built-ins (`$__interval`, `$__range`, …).

import { labelNames, labelValues, queryInstant, series, formatMetric } from "../../../api/prometheus";
import { lokiLabels, lokiLabelValues } from "../../../api/loki";
import { isObj, numOf, strOf, type Json } from "./grafana";
import { interpolate, single, type Scope, type VarValue } from "./interpolate";
import { autoInterval, intervalText } from "./interval";

export const ALL = "$__all";

export interface Option {
  text: string;
  value: string;
  /** What the option substitutes when that is not its value (an interval's `auto`). */
  sub?: string;
}

export interface Variable {
  name: string;
  label: string;
  type: string;
  /** 0 shown, 1 label hidden, 2 hidden. */
  hide: number;
  multi: boolean;
  includeAll: boolean;
  allValue: string | null;
  /** 0 never, 1 on load, 2 on time range change. */
  refresh: number;
  regex: string;
  sort: number;
  /** The query (string form) for query, custom, interval, constant, textbox, datasource. */
  query: string;
  /** Data source type of a query variable (`prometheus`, `loki`). */
  dsType: string;
  saved: { values: string[]; options: Option[] };
  raw: Json;
}

/** A variable ready to pick: its options and what is selected. */
export interface Resolved {
  v: Variable;
  options: Option[];
  selected: string[];
  error: string | null;
}

function savedCurrent(c: unknown): string[] {
  if (!isObj(c)) return [];
  const v = c.value;
  if (Array.isArray(v)) return v.map((x) => strOf(x));
  return typeof v === "string" ? [v] : [];
}

export function parseVariable(j: Json): Variable {
  const q = j.query;
  const query = isObj(q) ? strOf(q.query ?? q.expr) : strOf(q);
  const ds = j.datasource;
  const dsType = isObj(ds) ? strOf(ds.type) : typeof ds === "string" && ds.toLowerCase().includes("loki") ? "loki" : "prometheus";
  const opts = Array.isArray(j.options) ? j.options.filter(isObj).map((o) => ({ text: strOf(o.text), value: strOf(o.value) })) : [];
  return {
    name: strOf(j.name),
    label: strOf(j.label),
    type: strOf(j.type, "query"),
    hide: numOf(j.hide) ?? 0,
    multi: j.multi === true,
    includeAll: j.includeAll === true,
    allValue: typeof j.allValue === "string" && j.allValue !== "" ? j.allValue : null,
    refresh: numOf(j.refresh) ?? 1,
    regex: strOf(j.regex),
    sort: numOf(j.sort) ?? 0,
    query,
    dsType: dsType === "" ? "prometheus" : dsType,
    saved: { values: savedCurrent(j.current), options: opts },
    raw: j,
  };
}

/** Splits a custom variable's `a, b, c` (a `\,` is a comma in a value; `key : value` pairs). */
export function customOptions(query: string): Option[] {
  const parts = query.match(/(?:\\,|[^,])+/g) ?? [];
  return parts
    .map((p) => p.trim().replace(/\\,/g, ","))
    .filter((p) => p !== "")
    .map((p) => {
      const kv = /^(.+?)\s+:\s+(.+)$/.exec(p);
      return kv ? { text: (kv[1] ?? "").trim(), value: (kv[2] ?? "").trim() } : { text: p, value: p };
    });
}

/** A `/pattern/flags` as a RegExp, a bare pattern anchored (`^…$`, as Grafana); null when invalid. */
function toRegExp(s: string, anchor = true): RegExp | null {
  const m = /^\/(.*)\/([gimsuy]*)$/.exec(s);
  try {
    return m ? new RegExp(m[1] ?? "", (m[2] ?? "").replace("g", "")) : new RegExp(anchor ? `^(?:${s})$` : s);
  } catch {
    return null;
  }
}

/** Grafana's `regex` on query results: keep matches; a capture group (or `text`/`value` groups) picks the part. */
export function applyRegex(values: string[], regex: string): Option[] {
  if (regex === "") return values.map((v) => ({ text: v, value: v }));
  const re = toRegExp(regex);
  if (re === null) throw new Error(`invalid regex ${regex}`);
  const out: Option[] = [];
  const seen = new Set<string>();
  for (const v of values) {
    const m = re.exec(v);
    if (m === null) continue;
    const g = m.groups;
    let opt: Option;
    if (g !== undefined && (g.text !== undefined || g.value !== undefined)) {
      opt = { text: g.text ?? g.value ?? "", value: g.value ?? g.text ?? "" };
    } else {
      const val = m.length > 1 ? (m.slice(1).find((x) => x !== undefined) ?? m[0]) : m[0];
      opt = { text: val, value: val };
    }
    if (!seen.has(opt.value)) {
      seen.add(opt.value);
      out.push(opt);
    }
  }
  return out;
}

const collator = new Intl.Collator("en", { numeric: true });

/** Grafana's sort modes: 1/2 alphabetical, 3/4 numerical, 5/6 case-insensitive, 7/8 natural. */
export function sortOptions(opts: Option[], sort: number): Option[] {
  if (sort === 0) return opts;
  const num = (s: string) => {
    const m = /-?\d+(\.\d+)?/.exec(s);
    return m ? Number(m[0]) : NaN;
  };
  const cmp: (a: Option, b: Option) => number =
    sort <= 2
      ? (a, b) => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0)
      : sort <= 4
        ? (a, b) => (num(a.text) || 0) - (num(b.text) || 0)
        : sort <= 6
          ? (a, b) => a.text.toLowerCase().localeCompare(b.text.toLowerCase())
          : (a, b) => collator.compare(a.text, b.text);
  const sorted = [...opts].sort(cmp);
  return sort % 2 === 0 ? sorted.reverse() : sorted;
}

interface QueryCtx {
  start: number;
  end: number;
  signal: AbortSignal;
}

/** A Prometheus query variable's values: Grafana's functions, else the series a selector matches. */
async function promValues(query: string, c: QueryCtx): Promise<string[]> {
  const within = { start: c.start, end: c.end };
  const q = query.trim();
  let m = /^label_names\(\s*(.*?)\s*\)$/s.exec(q);
  if (m) return labelNames(m[1] ? [m[1]] : [], c.signal, within);
  m = /^label_values\(\s*(?:(.+?)\s*,\s*)?([a-zA-Z_][\w.]*)\s*\)$/s.exec(q);
  if (m) return labelValues(m[2] ?? "", m[1] ? [m[1]] : [], c.signal, within);
  m = /^metrics\(\s*(.*?)\s*\)$/s.exec(q);
  if (m) {
    const names = await labelValues("__name__", [], c.signal, within);
    // metrics(re) is unanchored, as Grafana matches it.
    const re = toRegExp(m[1] ?? "", false);
    return re === null ? names : names.filter((n) => re.test(n));
  }
  m = /^query_result\(\s*(.+)\s*\)$/s.exec(q);
  if (m) {
    const r = await queryInstant({ query: m[1] ?? "", time: c.end }, c.signal);
    const res = r.data;
    if (res.resultType === "vector") return res.result.map((s) => `${formatMetric(s.metric)} ${s.value} ${Math.round(s.time * 1000)}`);
    if (res.resultType === "scalar" || res.resultType === "string") return [`${res.resultType} ${res.result.value} ${Math.round(res.result.time * 1000)}`];
    return res.result.map((s) => formatMetric(s.metric));
  }
  if (q === "") return [];
  return (await series([q], 10_000, c.signal)).map(formatMetric);
}

/** A Loki query variable: `label_names()`, `label_values(label)`, `label_values({selector}, label)`. */
async function lokiValues(v: Variable, c: QueryCtx): Promise<string[]> {
  const raw = isObj(v.raw.query) ? v.raw.query : null;
  if (raw !== null && raw.type !== undefined) {
    // The structured form: type 0 = label names, 1 = label values.
    if (numOf(raw.type) === 0) return lokiLabels(c.start, c.end, c.signal);
    return lokiLabelValues(strOf(raw.label), c.start, c.end, strOf(raw.stream) || undefined, c.signal);
  }
  const q = v.query.trim();
  if (/^label_names\(\s*\)$/.test(q)) return lokiLabels(c.start, c.end, c.signal);
  const m = /^label_values\(\s*(?:(\{.*\})\s*,\s*)?([a-zA-Z_]\w*)\s*\)$/s.exec(q);
  if (m) return lokiLabelValues(m[2] ?? "", c.start, c.end, m[1], c.signal);
  throw new Error(`Loki variable query not understood: ${q}`);
}

/** The data sources a `datasource` variable offers: Osprey answers each kind. */
const DATASOURCES: Record<string, Option[]> = {
  prometheus: [{ text: "Osprey", value: "osprey" }],
  loki: [{ text: "Osprey Loki", value: "osprey-loki" }],
  tempo: [{ text: "Osprey Tempo", value: "osprey-tempo" }],
  jaeger: [{ text: "Osprey Jaeger", value: "osprey-jaeger" }],
};

/** The options of `v`, its query interpolated with the variables before it. */
export async function optionsOf(v: Variable, scope: Scope, c: QueryCtx): Promise<Option[]> {
  switch (v.type) {
    case "custom":
      return customOptions(v.query);
    case "interval": {
      const opts = customOptions(v.query);
      if (v.raw.auto === true) {
        const auto = autoInterval(c.end - c.start, numOf(v.raw.auto_count) ?? 30, strOf(v.raw.auto_min, "10s"));
        return [{ text: "auto", value: `$__auto_interval_${v.name}`, sub: intervalText(auto) }, ...opts];
      }
      return opts;
    }
    case "constant":
    case "textbox":
      return [{ text: v.query, value: v.query }];
    case "datasource":
      return applyRegex((DATASOURCES[v.query] ?? []).map((o) => o.text), v.regex).map((o) => DATASOURCES[v.query]?.find((d) => d.text === o.value) ?? o);
    case "query": {
      if (v.refresh === 0 && v.saved.options.length > 0) return v.saved.options.filter((o) => o.value !== ALL);
      const q = interpolate(v.query, scope, "query");
      const vals = v.dsType === "loki" ? await lokiValues({ ...v, query: q }, c) : await promValues(q, c);
      return sortOptions(applyRegex(vals, v.regex), v.sort);
    }
    default:
      throw new Error(`variable type "${v.type}" is not supported`);
  }
}

/** The selection: the URL's, else the saved one, else the first option (All when offered). */
export function select(v: Variable, options: Option[], fromUrl: string[]): string[] {
  const valid = (vals: string[]) => vals.filter((x) => x === ALL ? v.includeAll : options.some((o) => o.value === x) || v.type === "textbox");
  for (const cand of [fromUrl, v.saved.values]) {
    const ok = valid(cand);
    if (ok.length > 0) return v.multi ? ok : ok.slice(0, 1);
  }
  if (v.type === "textbox" && fromUrl.length > 0) return fromUrl.slice(0, 1);
  if (v.includeAll) return [ALL];
  const first = options[0];
  return first ? [first.value] : [];
}

/** What a resolved variable substitutes. */
export function valueOf(r: Resolved): VarValue {
  const { v, options, selected } = r;
  const multiple = v.multi || v.includeAll;
  if (selected.includes(ALL)) {
    const each = options.map((o) => ({ value: o.sub ?? o.value, text: o.text }));
    if (v.allValue !== null) return { values: [v.allValue], texts: ["All"], multiple, raw: v.allValue, all: true, each };
    return { values: each.map((o) => o.value), texts: each.map((o) => o.text), multiple, all: true, each };
  }
  const texts = selected.map((s) => options.find((o) => o.value === s)?.text ?? s);
  const values = selected.map((s) => options.find((o) => o.value === s)?.sub ?? s);
  return { values, texts, multiple };
}

export interface Builtins {
  start: number;
  end: number;
  intervalMs: number;
  rateIntervalMs: number;
  dashboard: string;
}

/** Grafana's built-in variables for one panel's queries. */
export function withBuiltins(scope: Scope, b: Builtins): Scope {
  const out = new Map(scope);
  const rangeMs = b.end - b.start;
  const interval = intervalText(b.intervalMs);
  out.set("__interval", single(interval));
  out.set("interval", single(interval));
  out.set("__interval_ms", single(String(b.intervalMs)));
  out.set("__rate_interval", single(intervalText(b.rateIntervalMs)));
  out.set("__rate_interval_ms", single(String(b.rateIntervalMs)));
  out.set("__range", single(`${Math.round(rangeMs / 1000)}s`));
  out.set("__range_s", single(String(Math.round(rangeMs / 1000))));
  out.set("__range_ms", single(String(rangeMs)));
  out.set("__from", single(String(b.start)));
  out.set("__to", single(String(b.end)));
  out.set("__dashboard", single(b.dashboard));
  return out;
}

/** The scope of the dashboard's variables (before built-ins). */
export function scopeOf(resolved: Resolved[]): Scope {
  const s: Scope = new Map();
  for (const r of resolved) s.set(r.v.name, valueOf(r));
  return s;
}
