// Grafana's dashboard JSON model (schemaVersion 36+, Grafana 9 to 12), as far as
// Osprey renders it: the types read from an imported dashboard, and `normalize`,
// which turns whatever was pasted into one shape — legacy panel types migrated,
// rows flattened into sections, ids filled in — without changing the stored JSON
// (export gives back what was imported).

export type Json = Record<string, unknown>;

export function isObj(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function strOf(v: unknown, dflt = ""): string {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return dflt;
}

export function numOf(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}

export interface GridPos {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** A data source reference: `{type, uid}`, a name, or a variable (`${ds}`). */
export interface DsRef {
  type: string;
  uid: string;
}

export interface Target {
  refId: string;
  expr: string;
  legendFormat: string;
  interval: string;
  instant: boolean;
  format: string;
  hide: boolean;
  datasource: DsRef | null;
  /** Loki: the lines wanted. */
  maxLines?: number;
  /** Tempo/Jaeger: the trace search (`query`, `queryType`). */
  query?: string;
  queryType?: string;
  raw: Json;
}

export interface Panel {
  id: number;
  type: string;
  title: string;
  description: string;
  gridPos: GridPos;
  datasource: DsRef | null;
  targets: Target[];
  interval: string;
  maxDataPoints?: number;
  repeat: string;
  repeatDirection: "h" | "v";
  maxPerRow: number;
  fieldConfig: Json;
  options: Json;
  links: Json[];
  transformations: Json[];
  transparent: boolean;
  /** Row panels: collapsed rows carry their panels. */
  collapsed: boolean;
  panels: Panel[];
  raw: Json;
}

export interface Dashboard {
  uid: string;
  title: string;
  tags: string[];
  time: { from: string; to: string };
  refresh: string;
  variables: Json[];
  panels: Panel[];
  schemaVersion: number;
}

/** Legacy panel types Grafana migrates on load, and what they become here. */
const MIGRATED: Record<string, string> = {
  graph: "timeseries",
  singlestat: "stat",
  "grafana-singlestat-panel": "stat",
  "grafana-piechart-panel": "piechart",
  "table-old": "table",
  "heatmap-new": "heatmap",
};

function dsRef(v: unknown): DsRef | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "string") {
    // A name, `-- Mixed --`, or a variable such as `${DS_PROMETHEUS}`.
    const lower = v.toLowerCase();
    if (lower.includes("loki")) return { type: "loki", uid: v };
    if (lower.includes("tempo") || lower.includes("jaeger")) return { type: lower.includes("tempo") ? "tempo" : "jaeger", uid: v };
    if (lower === "-- mixed --") return { type: "mixed", uid: v };
    if (lower === "-- dashboard --") return { type: "dashboard", uid: v };
    return { type: "", uid: v };
  }
  if (isObj(v)) return { type: strOf(v.type), uid: strOf(v.uid) };
  return null;
}

function gridPos(v: unknown, fallbackY: number): GridPos {
  const g = isObj(v) ? v : {};
  const clamp = (n: number | undefined, lo: number, hi: number, d: number) => Math.min(hi, Math.max(lo, Math.round(n ?? d)));
  const w = clamp(numOf(g.w), 1, 24, 12);
  return { x: clamp(numOf(g.x), 0, 24 - w, 0), y: clamp(numOf(g.y), 0, 100_000, fallbackY), w, h: clamp(numOf(g.h), 1, 200, 8) };
}

function target(t: Json, i: number): Target {
  const raw = t;
  // `instant` alone is an instant query; `range: true` with it draws the range (query.ts).
  return {
    refId: strOf(t.refId, String.fromCharCode(65 + (i % 26))),
    expr: strOf(t.expr),
    legendFormat: strOf(t.legendFormat),
    interval: strOf(t.interval),
    instant: t.instant === true,
    format: strOf(t.format, "time_series"),
    hide: t.hide === true,
    datasource: dsRef(t.datasource),
    maxLines: numOf(t.maxLines),
    query: typeof t.query === "string" ? t.query : undefined,
    queryType: typeof t.queryType === "string" ? t.queryType : undefined,
    raw,
  };
}

let nextId = 100_000;

/** Copies of repeated panels an old Grafana saved: repeats are made again here, so they go. */
function isRepeatClone(p: Json): boolean {
  return p.repeatPanelId !== undefined || p.repeatedByRow !== undefined || p.repeatByRow !== undefined || p.repeatIteration !== undefined;
}

function panel(p: Json, fallbackY: number): Panel {
  const rawType = strOf(p.type, "timeseries");
  const type = MIGRATED[rawType] ?? rawType;
  const targets = Array.isArray(p.targets) ? p.targets.filter(isObj).map(target) : [];
  const fieldConfig = isObj(p.fieldConfig) ? p.fieldConfig : {};
  const options = isObj(p.options) ? p.options : {};
  const out: Panel = {
    id: numOf(p.id) ?? nextId++,
    type,
    title: strOf(p.title),
    description: strOf(p.description),
    gridPos: gridPos(p.gridPos, fallbackY),
    datasource: dsRef(p.datasource),
    targets,
    interval: strOf(p.interval),
    maxDataPoints: numOf(p.maxDataPoints),
    repeat: strOf(p.repeat),
    repeatDirection: p.repeatDirection === "v" ? "v" : "h",
    maxPerRow: numOf(p.maxPerRow) ?? 4,
    fieldConfig,
    options,
    links: Array.isArray(p.links) ? p.links.filter(isObj) : [],
    transformations: Array.isArray(p.transformations) ? p.transformations.filter(isObj) : [],
    transparent: p.transparent === true,
    collapsed: p.collapsed === true,
    panels: [],
    raw: p,
  };
  if (rawType === "graph") migrateGraph(out, p);
  if (rawType === "singlestat" || rawType === "grafana-singlestat-panel") migrateSinglestat(out, p);
  if (type === "row" && Array.isArray(p.panels)) {
    out.panels = p.panels
      .filter(isObj)
      .filter((c) => !isRepeatClone(c))
      .map((c) => panel(c, out.gridPos.y + 1));
  }
  return out;
}

/** The old graph panel's bars/points/stack/fill and y-axis format, as time series options. */
function migrateGraph(out: Panel, p: Json): void {
  const custom: Json = {
    drawStyle: p.bars === true ? "bars" : p.lines === false && p.points === true ? "points" : "line",
    fillOpacity: (numOf(p.fill) ?? 1) * 10,
    lineWidth: numOf(p.linewidth) ?? 1,
    stacking: { mode: p.stack === true ? (p.percentage === true ? "percent" : "normal") : "none", group: "A" },
    showPoints: p.points === true ? "always" : "never",
  };
  const yaxes = Array.isArray(p.yaxes) ? p.yaxes.filter(isObj) : [];
  const y0 = yaxes[0] ?? {};
  const defaults: Json = { ...(isObj(out.fieldConfig.defaults) ? out.fieldConfig.defaults : {}), custom };
  if (typeof y0.format === "string" && defaults.unit === undefined) defaults.unit = y0.format;
  if (numOf(y0.min) !== undefined && defaults.min === undefined) defaults.min = numOf(y0.min);
  if (numOf(y0.max) !== undefined && defaults.max === undefined) defaults.max = numOf(y0.max);
  out.fieldConfig = { ...out.fieldConfig, defaults };
  const legend = isObj(p.legend) ? p.legend : {};
  if (!isObj(out.options.legend)) out.options = { ...out.options, legend: { showLegend: legend.show !== false, displayMode: legend.alignAsTable === true ? "table" : "list", placement: legend.rightSide === true ? "right" : "bottom", calcs: [] } };
}

/** Singlestat's format, thresholds and value function, as stat options. */
function migrateSinglestat(out: Panel, p: Json): void {
  const defaults: Json = { ...(isObj(out.fieldConfig.defaults) ? out.fieldConfig.defaults : {}) };
  if (typeof p.format === "string" && defaults.unit === undefined) defaults.unit = p.format;
  if (numOf(p.decimals) !== undefined) defaults.decimals = numOf(p.decimals);
  const calc: Record<string, string> = { current: "lastNotNull", avg: "mean", min: "min", max: "max", total: "sum", first: "firstNotNull", diff: "diff", range: "range" };
  const fn = calc[strOf(p.valueName, "avg")] ?? "mean";
  if (typeof p.thresholds === "string" && p.thresholds.trim() !== "" && defaults.thresholds === undefined) {
    const colors = Array.isArray(p.colors) ? p.colors.map((c) => strOf(c)) : ["green", "orange", "red"];
    const values = p.thresholds.split(",").map((t) => Number(t.trim()));
    defaults.thresholds = { mode: "absolute", steps: [{ color: colors[0] ?? "green", value: null }, ...values.map((v, i) => ({ color: colors[i + 1] ?? "red", value: v }))] };
  }
  out.fieldConfig = { ...out.fieldConfig, defaults };
  if (!isObj(out.options.reduceOptions)) out.options = { ...out.options, reduceOptions: { calcs: [fn], fields: "", values: false } };
}

/** Osprey's data source uid per Grafana plugin id (export placeholders are replaced by them). */
const OSPREY_UIDS: Record<string, string> = { prometheus: "osprey", loki: "osprey-loki", tempo: "osprey-tempo", jaeger: "osprey-jaeger" };

/** Every string in `v` with each `${NAME}` of `inputs` replaced. */
function replaceInputs(v: unknown, inputs: Map<string, string>): unknown {
  if (typeof v === "string") return v.replace(/\$\{([A-Z0-9_ -]+)\}/g, (whole, name: string) => inputs.get(name) ?? whole);
  if (Array.isArray(v)) return v.map((x) => replaceInputs(x, inputs));
  if (isObj(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, replaceInputs(x, inputs)]));
  return v;
}

/**
 * "Export for sharing externally": `__inputs` name data sources (`${DS_PROMETHEUS}`)
 * and constants (`${VAR_X}`) that an import fills in — here with Osprey's data sources.
 */
function fillInputs(d: Json): Json {
  if (!Array.isArray(d.__inputs)) return d;
  const inputs = new Map<string, string>();
  for (const i of d.__inputs.filter(isObj)) {
    const name = strOf(i.name);
    if (i.type === "datasource") inputs.set(name, OSPREY_UIDS[strOf(i.pluginId)] ?? "osprey");
    else if (i.type === "constant") inputs.set(name, strOf(i.value));
  }
  const { __inputs: _i, __requires: _r, __elements: _e, ...rest } = d;
  return replaceInputs(rest, inputs) as Json;
}

/**
 * A dashboard from whatever was pasted: `{dashboard: …}` (Grafana's API shape),
 * `{apiVersion, kind, spec}` (a v1 resource) or the model itself, export inputs filled.
 */
export function unwrap(v: unknown): Json | string {
  if (!isObj(v)) return "a Grafana dashboard is a JSON object";
  let inner = isObj(v.dashboard) ? v.dashboard : v;
  if (isObj(inner.spec) && typeof inner.kind === "string") {
    if (isObj(inner.spec.elements) || isObj(inner.spec.layout)) {
      return "this is a Grafana 12 v2 dashboard resource (spec.elements/spec.layout): export it from Grafana in the classic JSON model";
    }
    inner = inner.spec;
  }
  inner = fillInputs(inner);
  if (Array.isArray(inner.rows) && !Array.isArray(inner.panels)) {
    return "this dashboard uses the pre-5.0 `rows` layout (schemaVersion < 16): open and save it in a current Grafana first";
  }
  if (typeof inner.title !== "string" || inner.title.trim() === "") return "the dashboard has no \"title\"";
  return inner;
}

export function normalize(d: Json): Dashboard {
  const time = isObj(d.time) ? d.time : {};
  const templating = isObj(d.templating) ? d.templating : {};
  const panels: Panel[] = [];
  let y = 0;
  for (const p of Array.isArray(d.panels) ? d.panels.filter(isObj) : []) {
    if (isRepeatClone(p)) continue;
    const np = panel(p, y);
    y = np.gridPos.y + np.gridPos.h;
    panels.push(np);
  }
  panels.sort((a, b) => a.gridPos.y - b.gridPos.y || a.gridPos.x - b.gridPos.x);
  return {
    uid: strOf(d.uid),
    title: strOf(d.title, "Untitled"),
    tags: Array.isArray(d.tags) ? d.tags.map((t) => strOf(t)) : [],
    time: { from: strOf(time.from, "now-6h"), to: strOf(time.to, "now") },
    refresh: strOf(d.refresh),
    variables: Array.isArray(templating.list) ? templating.list.filter(isObj) : [],
    panels,
    schemaVersion: numOf(d.schemaVersion) ?? 0,
  };
}
