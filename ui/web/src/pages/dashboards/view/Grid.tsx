// The dashboard grid: Grafana's 24 columns and 30 px rows with 8 px gaps, a
// section per row (collapsible), panels placed by their gridPos. While the
// dashboard is edited, a panel moves by dragging its title bar and resizes by
// its corner, in whole grid cells.

import { useRef, useState } from "preact/hooks";
import type { Pos } from "../edit/ops";
import type { Placed, Section } from "../model/layout";
import { PANEL_TYPES } from "../model/support";
import { PanelFrame } from "./PanelFrame";

/** What the grid does for an edit; absent when the dashboard is only shown. */
export interface GridEdit {
  moveBy: (panelId: number, delta: Pos) => void;
  edit: (panelId: number) => void;
  remove: (panelId: number) => void;
}

export interface GridProps {
  sections: Section[];
  range: { start: number; end: number };
  tick: number;
  dashboardTitle: string;
  onZoom: (start: number, end: number) => void;
  onToggleRow: (key: string, collapsed: boolean) => void;
  edit?: GridEdit;
}

const ROW_PX = 38;
const GAP_PX = 8;

interface Drag {
  key: string;
  kind: "move" | "resize";
  dx: number;
  dy: number;
}

function Cell({ p, props, grid }: { p: Placed; props: GridProps; grid: () => HTMLElement | null }) {
  const [drag, setDrag] = useState<Drag | null>(null);
  const edit = props.edit;
  const start = (e: PointerEvent, kind: Drag["kind"]) => {
    const el = grid();
    if (edit === undefined || el === null || e.button !== 0) return;
    if (e.target instanceof HTMLElement && e.target.closest("button, a, input, select") !== null) return;
    e.preventDefault();
    const colPx = (el.clientWidth + GAP_PX) / 24;
    const [x0, y0] = [e.clientX, e.clientY];
    const handle = e.currentTarget as HTMLElement;
    handle.setPointerCapture(e.pointerId);
    const move = (ev: PointerEvent) => setDrag({ key: p.key, kind, dx: ev.clientX - x0, dy: ev.clientY - y0 });
    const up = (ev: PointerEvent) => {
      handle.removeEventListener("pointermove", move);
      handle.removeEventListener("pointerup", up);
      setDrag(null);
      const cols = Math.round((ev.clientX - x0) / colPx);
      const rows = Math.round((ev.clientY - y0) / ROW_PX);
      if (cols === 0 && rows === 0) return;
      edit.moveBy(p.panel.id, kind === "move" ? { x: cols, y: rows, w: 0, h: 0 } : { x: 0, y: 0, w: cols, h: rows });
    };
    handle.addEventListener("pointermove", move);
    handle.addEventListener("pointerup", up);
  };
  const style: Record<string, string> = { gridColumn: `${p.pos.x + 1} / span ${p.pos.w}`, gridRow: `${p.pos.y + 1} / span ${p.pos.h}` };
  if (drag?.kind === "move") style.transform = `translate(${drag.dx}px, ${drag.dy}px)`;
  if (drag?.kind === "resize") {
    style.width = `calc(100% + ${drag.dx}px)`;
    style.height = `calc(100% + ${drag.dy}px)`;
  }
  return (
    <div class={`dash-cell${edit ? " editing" : ""}${drag ? " dragging" : ""}`} style={style} data-repeat={p.repeatValue ?? undefined}>
      <PanelFrame
        panel={p.panel}
        scope={p.scope}
        range={props.range}
        tick={props.tick}
        dashboardTitle={props.dashboardTitle}
        onZoom={props.onZoom}
        note={PANEL_TYPES.has(p.panel.type) ? undefined : `Osprey does not draw "${p.panel.type}" panels.`}
      />
      {edit !== undefined && p.repeatValue === null && (
        <>
          <div class="dash-drag" data-testid="panel-drag" title="Drag to move" onPointerDown={(e) => start(e, "move")}>
            <button type="button" class="btn small" data-testid="panel-edit" onClick={() => edit.edit(p.panel.id)}>
              Edit
            </button>
            <button type="button" class="btn small" data-testid="panel-remove" onClick={() => edit.remove(p.panel.id)}>
              Remove
            </button>
          </div>
          <div class="dash-resize" data-testid="panel-resize" title="Drag to resize" onPointerDown={(e) => start(e, "resize")} />
        </>
      )}
    </div>
  );
}

export function Grid(props: GridProps) {
  const grids = useRef(new Map<string, HTMLElement | null>());
  return (
    <div class="dash-sections">
      {props.sections.map((s) => {
        const rows = Math.max(0, ...s.panels.map((p) => p.pos.y + p.pos.h));
        return (
          <div class="dash-section" key={s.key} data-testid="dash-section">
            {s.row !== null && (
              <button type="button" class="dash-row" data-testid="dash-row" aria-expanded={!s.collapsed} onClick={() => props.onToggleRow(s.key, !s.collapsed)}>
                <span class="dash-row-caret">{s.collapsed ? "▸" : "▾"}</span>
                {s.title}
                {s.collapsed && <span class="dash-row-count">({s.panels.length} panels)</span>}
              </button>
            )}
            {!s.collapsed && s.panels.length > 0 && (
              <div class="dash-grid" style={{ gridTemplateRows: `repeat(${rows}, 30px)` }} ref={(el) => void grids.current.set(s.key, el)}>
                {s.panels.map((p) => (
                  <Cell key={p.key} p={p} props={props} grid={() => grids.current.get(s.key) ?? null} />
                ))}
              </div>
            )}
          </div>
        );
      })}
    </div>
  );
}
