// Edits of a dashboard's Grafana JSON, as pure functions (each returns a new
// dashboard): panels moved, resized, added, changed and removed — inside rows
// too — with the panels below pushed down so none overlap, and the saved time
// range, refresh and variables. The JSON keeps everything it had, so export
// and Grafana still read what Osprey saved.

import { isObj, numOf, type Json } from "../model/grafana";

export interface Pos {
  x: number;
  y: number;
  w: number;
  h: number;
}

function posOf(p: Json): Pos {
  const g = isObj(p.gridPos) ? p.gridPos : {};
  return { x: numOf(g.x) ?? 0, y: numOf(g.y) ?? 0, w: numOf(g.w) ?? 12, h: numOf(g.h) ?? 8 };
}

function panelsOf(d: Json): Json[] {
  return Array.isArray(d.panels) ? d.panels.filter(isObj) : [];
}

/** The array holding panel `id` (the dashboard's, or a collapsed row's) and its index. */
function locate(d: Json, id: number): { list: unknown[]; index: number } | null {
  if (!Array.isArray(d.panels)) return null;
  const top: unknown[] = d.panels;
  const i = top.findIndex((p) => isObj(p) && p.id === id);
  if (i >= 0) return { list: top, index: i };
  for (const row of top) {
    if (!isObj(row) || !Array.isArray(row.panels)) continue;
    const inner: unknown[] = row.panels;
    const j = inner.findIndex((p) => isObj(p) && p.id === id);
    if (j >= 0) return { list: inner, index: j };
  }
  return null;
}

export function findPanel(d: Json, id: number): Json | null {
  const at = locate(d, id);
  const p = at === null ? undefined : at.list[at.index];
  return isObj(p) ? p : null;
}

const overlaps = (a: Pos, b: Pos) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

/** Pushes panels of `list` down until none overlaps another, `fixed` staying where it is. */
function pushDown(all: unknown[], fixed: number): void {
  const order = all.filter(isObj).sort((a, b) => (a.id === fixed ? -1 : b.id === fixed ? 1 : posOf(a).y - posOf(b).y));
  const placed: Pos[] = [];
  for (const p of order) {
    const pos = posOf(p);
    let moved = true;
    while (moved) {
      moved = false;
      for (const q of placed) {
        if (overlaps(pos, q)) {
          pos.y = q.y + q.h;
          moved = true;
        }
      }
    }
    p.gridPos = { ...(isObj(p.gridPos) ? p.gridPos : {}), ...pos };
    placed.push(pos);
  }
}

/** `fn` applied to panel `id` (a deep copy of the dashboard is changed). */
export function updatePanel(d: Json, id: number, fn: (p: Json) => Json): Json {
  const out = structuredClone(d);
  const at = locate(out, id);
  const p = at?.list[at.index];
  if (at === null || !isObj(p)) return d;
  at.list[at.index] = fn(p);
  return out;
}

/** Panel `id` moved and resized by whole grid cells, the others pushed out of its way. */
export function moveBy(d: Json, id: number, delta: Pos): Json {
  const out = structuredClone(d);
  const at = locate(out, id);
  const p = at?.list[at.index];
  if (at === null || !isObj(p)) return d;
  const cur = posOf(p);
  const w = Math.min(24, Math.max(1, cur.w + delta.w));
  const pos = { x: Math.min(24 - w, Math.max(0, cur.x + delta.x)), y: Math.max(0, cur.y + delta.y), w, h: Math.max(1, cur.h + delta.h) };
  p.gridPos = { ...(isObj(p.gridPos) ? p.gridPos : {}), ...pos };
  pushDown(at.list, id);
  return out;
}

export function nextId(d: Json): number {
  let max = 0;
  for (const p of panelsOf(d)) {
    max = Math.max(max, numOf(p.id) ?? 0);
    for (const c of Array.isArray(p.panels) ? p.panels.filter(isObj) : []) max = Math.max(max, numOf(c.id) ?? 0);
  }
  return max + 1;
}

/** A new panel at the top (Grafana's place for it), everything else pushed down. */
export function addPanel(d: Json, panel: Json): Json {
  const out = structuredClone(d);
  const list: unknown[] = Array.isArray(out.panels) ? out.panels : [];
  list.unshift(panel);
  pushDown(list, numOf(panel.id) ?? -1);
  out.panels = list;
  return out;
}

export function removePanel(d: Json, id: number): Json {
  const out = structuredClone(d);
  const at = locate(out, id);
  if (at === null) return d;
  at.list.splice(at.index, 1);
  return out;
}

/** The time range and refresh the dashboard opens with. */
export function setTime(d: Json, from: string, to: string, refresh: string): Json {
  return { ...d, time: { from, to }, refresh };
}

export function setVariables(d: Json, list: Json[]): Json {
  const templating = isObj(d.templating) ? d.templating : {};
  return { ...d, templating: { ...templating, list } };
}

/** A fresh time series panel of Prometheus queries. */
export function newPanel(id: number): Json {
  return {
    id,
    type: "timeseries",
    title: "New panel",
    gridPos: { x: 0, y: 0, w: 12, h: 8 },
    datasource: { type: "prometheus", uid: "osprey" },
    targets: [{ refId: "A", expr: "", legendFormat: "" }],
    fieldConfig: { defaults: { unit: "short" }, overrides: [] },
    options: {},
  };
}
