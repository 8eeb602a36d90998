// What a dashboard uses that Osprey does not render, named panel by panel, so an
// import says what will be missing instead of leaving blank panels.

import { isObj, strOf, type Dashboard, type Json, type Panel } from "./grafana";
import { KNOWN_CALCS } from "./fields";
import { dsKind } from "./query";
import { isKnownUnit } from "./units";

/** Panel types Osprey draws. */
export const PANEL_TYPES = new Set(["timeseries", "stat", "gauge", "bargauge", "table", "text", "logs", "heatmap", "row", "traces"]);

const VARIABLE_TYPES = new Set(["query", "custom", "interval", "constant", "textbox", "datasource"]);

export interface Gap {
  /** The panel's title (and id), or "Dashboard" / "Variable $x". */
  where: string;
  panelId: number | null;
  what: string;
}

function panelGaps(p: Panel, out: Gap[]): void {
  const where = `${p.title || "(untitled)"} (#${p.id})`;
  const add = (what: string) => out.push({ where, panelId: p.id, what });
  if (!PANEL_TYPES.has(p.type)) {
    add(`panel type "${p.type}" is not supported: the panel is shown empty with this note`);
    return;
  }
  if (isObj(p.raw.libraryPanel)) add("library panels are not supported (the panel's saved copy is drawn)");
  for (const t of p.transformations) add(`transformation "${strOf(t.id)}" is ignored`);
  for (const t of p.targets) {
    const kind = dsKind(t.datasource, p.datasource, new Map());
    if (kind === "unsupported") {
      const ds = t.datasource ?? p.datasource;
      add(`query ${t.refId}: data source "${ds?.type || ds?.uid || "?"}" is not supported`);
    }
    if (kind === "traces" && (t.queryType === "traceql" || t.queryType === "traceqlSearch")) {
      add(`query ${t.refId}: TraceQL is not supported (service and span name searches are)`);
    }
  }
  const d = isObj(p.fieldConfig.defaults) ? p.fieldConfig.defaults : {};
  const unit = strOf(d.unit);
  if (!isKnownUnit(unit)) add(`unit "${unit}" is not known: it is shown as a suffix`);
  for (const m of Array.isArray(d.mappings) ? d.mappings : []) {
    const t = isObj(m) ? strOf(m.type) : "";
    if (t !== "value" && t !== "range" && t !== "special") add(`value mapping "${t}" is not supported`);
  }
  const r = isObj(p.options.reduceOptions) ? p.options.reduceOptions : {};
  for (const c of Array.isArray(r.calcs) ? r.calcs : []) if (!KNOWN_CALCS.has(strOf(c))) add(`reduction "${strOf(c)}" is not supported: last value shown`);
  if (r.values === true) add("\"All values\" reduction is not supported: one value per series is shown");
}

function variableGaps(v: Json, out: Gap[]): void {
  const type = strOf(v.type, "query");
  const where = `Variable $${strOf(v.name)}`;
  if (!VARIABLE_TYPES.has(type)) out.push({ where, panelId: null, what: `variable type "${type}" is not supported` });
}

/** Everything a dashboard uses that Osprey leaves out. */
export function gaps(d: Dashboard, raw: Json): Gap[] {
  const out: Gap[] = [];
  for (const v of d.variables) variableGaps(v, out);
  const ann = isObj(raw.annotations) && Array.isArray(raw.annotations.list) ? raw.annotations.list.filter(isObj) : [];
  for (const a of ann) {
    if (a.builtIn === 1 || a.builtIn === true) continue;
    if (a.enable === false) continue;
    out.push({ where: "Dashboard", panelId: null, what: `annotation "${strOf(a.name)}" is not shown` });
  }
  for (const p of d.panels) {
    panelGaps(p, out);
    for (const c of p.panels) panelGaps(c, out);
  }
  return out;
}
