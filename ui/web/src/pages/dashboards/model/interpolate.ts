// Template variables in queries, titles, text and links, as Grafana substitutes
// them: `$var`, `${var}`, `${var:format}`, `[[var]]`, `[[var:format]]`, with
// Grafana's formats (regex, pipe, csv, json, distributed, doublequote,
// singlequote, sqlstring, text, queryparam, raw, glob, lucene, percentencode,
// date) and its default for Prometheus and Loki queries (a single value
// escaped for a PromQL string, several as an escaped regex alternation).

/** What a variable holds while a panel is drawn. */
export interface VarValue {
  /** The selected values ("All" already expanded unless `allValue` is set). */
  values: string[];
  texts: string[];
  /** The variable may hold several values (multi or include All): regex-escape them. */
  multiple: boolean;
  /** A custom "All" value (`allValue`), substituted as it is. */
  raw?: string;
  /** "All" is selected (text formats show `All`). */
  all?: boolean;
  /** What a repeat makes a copy for: every option under "All", even with an `allValue`. */
  each?: { value: string; text: string }[];
}

export type Scope = Map<string, VarValue>;

/** Where the text goes: a Prometheus or Loki query escapes values; other text does not. */
export type Target = "query" | "logql" | "text" | "url";

const VAR_RE = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}/g;

/** Regex metacharacters escaped, as Grafana's `regex` format does. */
export function regexEscape(s: string): string {
  return s.replace(/[-[\]{}()*+?.\\^$|/]/g, "\\$&");
}

/** A single value in a Prometheus query, as Grafana escapes it: backslashes and `'`. */
function promString(s: string): string {
  return s.replace(/\\/g, "\\\\").replace(/'/g, "\\'");
}

/** A value inside a PromQL regex string: regex metacharacters escaped, twice for the string. */
function promRegex(s: string): string {
  return s.replace(/\\/g, "\\\\\\\\").replace(/[$^*{}[\]'+?.()|]/g, "\\\\$&");
}

function luceneEscape(s: string): string {
  return s.replace(/([+\-=&|><!(){}[\]^"~*?:\\/ ])/g, "\\$1");
}

function formatDate(ms: number, arg: string | undefined): string {
  if (arg === undefined || arg === "" || arg === "iso") return new Date(ms).toISOString();
  if (arg === "seconds") return String(Math.floor(ms / 1000));
  return String(ms);
}

/** One variable's values through a named format. */
export function applyFormat(name: string, v: VarValue, format: string, target: Target): string {
  if (format === "text") return v.all === true ? "All" : v.texts.join(" + ");
  if (v.raw !== undefined) return v.raw;
  const vals = v.values;
  const [fmt, arg] = format.split(":", 2) as [string, string | undefined];
  switch (fmt) {
    case "regex":
      return vals.length === 1 ? regexEscape(vals[0] ?? "") : `(${vals.map(regexEscape).join("|")})`;
    case "pipe":
      return vals.join("|");
    case "csv":
      return vals.join(",");
    case "json":
      return JSON.stringify(vals.length === 1 && !v.multiple ? vals[0] : vals);
    case "distributed":
      return vals.map((x, i) => (i === 0 ? x : `${name}=${x}`)).join(",");
    case "doublequote":
      return vals.map((x) => `"${x.replace(/"/g, '\\"')}"`).join(",");
    case "singlequote":
      return vals.map((x) => `'${x.replace(/'/g, "\\'")}'`).join(",");
    case "sqlstring":
      return vals.map((x) => `'${x.replace(/'/g, "''")}'`).join(",");
    case "text":
      return v.texts.join(" + ");
    case "queryparam":
      return vals.map((x) => `var-${encodeURIComponent(name)}=${encodeURIComponent(x)}`).join("&");
    case "raw":
      return vals.join(",");
    case "glob":
      return vals.length === 1 ? (vals[0] ?? "") : `{${vals.join(",")}}`;
    case "lucene":
      return vals.length === 1 ? luceneEscape(vals[0] ?? "") : `(${vals.map((x) => `"${luceneEscape(x)}"`).join(" OR ")})`;
    case "percentencode":
      return encodeURIComponent(vals.join(","));
    case "date": {
      const ms = Number(vals[0]);
      return Number.isFinite(ms) ? formatDate(ms, arg) : vals.join(",");
    }
    default:
      return defaultFormat(v, target);
  }
}

/**
 * No format given: Prometheus queries escape a single value for a string and
 * several as an escaped `(a|b)` regex (Loki: `a|b`); titles and text show the
 * values' texts (`a + b`, `All`).
 */
function defaultFormat(v: VarValue, target: Target): string {
  const vals = v.values;
  if (target === "text") return v.all === true ? "All" : v.texts.join(" + ");
  if (target === "url") return vals.map(encodeURIComponent).join(",");
  if (!v.multiple) return promString(vals[0] ?? "");
  if (vals.length === 1) return promRegex(vals[0] ?? "");
  const alts = vals.map(promRegex).join("|");
  return target === "logql" ? alts : `(${alts})`;
}

/** `text` with every known variable substituted; unknown ones are left as they are. */
export function interpolate(text: string, scope: Scope, target: Target = "text"): string {
  if (!text.includes("$") && !text.includes("[[")) return text;
  return text.replace(VAR_RE, (whole, plain?: string, bName?: string, bFmt?: string, name?: string, field?: string, fmt?: string) => {
    const key = plain ?? bName ?? name ?? "";
    const v = scope.get(key);
    if (v === undefined) return whole;
    if (field !== undefined) return field === "text" ? v.texts.join(" + ") : v.values.join(",");
    return applyFormat(key, v, fmt ?? bFmt ?? "", target);
  });
}

/** The `${…}` and `$name` references in `text` (to find what a query depends on). */
export function references(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(VAR_RE)) out.push(m[1] ?? m[2] ?? m[4] ?? "");
  return out.filter((n) => n !== "");
}

/** A single-valued entry (built-ins, repeat copies). */
export function single(value: string, text = value): VarValue {
  return { values: [value], texts: [text], multiple: false };
}
