// The dashboard's layout as Grafana draws it: sections (the panels before the
// first row, then each row with its panels — a collapsed row carries them,
// an expanded one owns those below it up to the next row), rows repeated per
// value of their variable, panels repeated across (`h`, at most `maxPerRow`)
// or down (`v`), the panels below a repeat pushed down to make room, and
// every panel risen as far as the ones above let it (vertical compaction).

import type { GridPos, Panel } from "./grafana";
import { interpolate, single, type Scope, type VarValue } from "./interpolate";

export interface Placed {
  key: string;
  panel: Panel;
  pos: GridPos;
  /** Variables fixed for this copy (repeats). */
  scope: Scope;
  /** The copy's value of its repeat variable, if it is a repeat. */
  repeatValue: string | null;
}

export interface Section {
  key: string;
  row: Panel | null;
  title: string;
  collapsed: boolean;
  panels: Placed[];
}

/** The selected values of a repeat variable, each as a single-valued scope entry. */
function repeatValues(scope: Scope, name: string): VarValue[] {
  const v = scope.get(name);
  if (v === undefined) return [];
  if (v.each !== undefined) return v.each.map((o) => single(o.value, o.text));
  return v.values.map((x, i) => single(x, v.texts[i] ?? x));
}

const COLUMNS = 24;

/** Copies of a repeated panel, placed as Grafana does; the extra height they take. */
function repeatPanel(p: Panel, key: string, scope: Scope): { copies: Placed[]; extra: number } {
  const vals = repeatValues(scope, p.repeat);
  if (vals.length === 0) return { copies: [{ key, panel: p, pos: p.gridPos, scope, repeatValue: null }], extra: 0 };
  const copies: Placed[] = [];
  const { x, y, h } = p.gridPos;
  if (p.repeatDirection === "v") {
    vals.forEach((v, i) => {
      const s = new Map(scope).set(p.repeat, v);
      copies.push({ key: `${key}:${i}`, panel: p, pos: { ...p.gridPos, y: y + i * h }, scope: s, repeatValue: v.values[0] ?? null });
    });
    return { copies, extra: (vals.length - 1) * h };
  }
  const w = Math.max(Math.floor(COLUMNS / vals.length), Math.floor(COLUMNS / Math.max(1, p.maxPerRow)), 1);
  let cx = vals.length === 1 ? x : 0;
  let cy = y;
  vals.forEach((v, i) => {
    if (cx + w > COLUMNS) {
      cx = 0;
      cy += h;
    }
    const s = new Map(scope).set(p.repeat, v);
    copies.push({ key: `${key}:${i}`, panel: p, pos: { x: cx, y: cy, w: vals.length === 1 ? p.gridPos.w : w, h }, scope: s, repeatValue: v.values[0] ?? null });
    cx += w;
  });
  return { copies, extra: cy - y };
}

/** Panels of a section placed, repeats expanded, y from 0. */
function place(panels: Panel[], keyBase: string, scope: Scope): Placed[] {
  const sorted = [...panels].sort((a, b) => a.gridPos.y - b.gridPos.y || a.gridPos.x - b.gridPos.x);
  const out: Placed[] = [];
  // Each repeat pushes down what starts below its original bottom.
  const pushes: { below: number; by: number }[] = [];
  for (const p of sorted) {
    const shift = pushes.filter((q) => p.gridPos.y >= q.below).reduce((a, q) => a + q.by, 0);
    const moved: Panel = shift === 0 ? p : { ...p, gridPos: { ...p.gridPos, y: p.gridPos.y + shift } };
    const key = `${keyBase}/${p.id}`;
    if (p.repeat !== "" && scope.has(p.repeat)) {
      const r = repeatPanel(moved, key, scope);
      out.push(...r.copies);
      if (r.extra > 0) pushes.push({ below: p.gridPos.y + p.gridPos.h, by: r.extra });
    } else {
      out.push({ key, panel: moved, pos: moved.gridPos, scope, repeatValue: null });
    }
  }
  return compact(out);
}

const collides = (a: GridPos, b: GridPos) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

/** Grafana's vertical compaction: each panel, top to bottom, rises until it meets one above. */
function compact(panels: Placed[]): Placed[] {
  const order = [...panels].sort((a, b) => a.pos.y - b.pos.y || a.pos.x - b.pos.x);
  const placed: GridPos[] = [];
  const out: Placed[] = [];
  for (const q of order) {
    const pos = { ...q.pos, y: 0 };
    for (let moved = true; moved; ) {
      moved = false;
      for (const p of placed) {
        if (collides(pos, p)) {
          pos.y = p.y + p.h;
          moved = true;
        }
      }
    }
    placed.push(pos);
    out.push({ ...q, pos });
  }
  return out;
}

/** Rows as sections, repeats expanded; `collapsed` overrides rows' saved state by key. */
export function layout(panels: Panel[], scope: Scope, collapsed: ReadonlyMap<string, boolean>): Section[] {
  const groups: { row: Panel | null; panels: Panel[] }[] = [{ row: null, panels: [] }];
  for (const p of panels) {
    if (p.type === "row") groups.push({ row: p, panels: p.collapsed ? p.panels : [] });
    else groups[groups.length - 1]?.panels.push(p);
  }
  const out: Section[] = [];
  for (const g of groups) {
    if (g.row === null) {
      if (g.panels.length > 0) out.push({ key: "top", row: null, title: "", collapsed: false, panels: place(g.panels, "top", scope) });
      continue;
    }
    const row = g.row;
    const copies = row.repeat !== "" && scope.has(row.repeat) ? repeatValues(scope, row.repeat).map((v) => new Map(scope).set(row.repeat, v)) : [scope];
    copies.forEach((s, i) => {
      const key = `row-${row.id}${copies.length > 1 ? `:${i}` : ""}`;
      out.push({
        key,
        row,
        title: interpolate(row.title, s),
        collapsed: collapsed.get(key) ?? row.collapsed,
        panels: place(g.panels, key, s),
      });
    });
  }
  return out;
}
