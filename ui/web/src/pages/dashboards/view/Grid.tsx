// The dashboard grid: Grafana's 24 columns and 30 px rows with 8 px gaps, a
// section per row (collapsible), panels placed by their gridPos.

import { PANEL_TYPES } from "../model/support";
import type { Section } from "../model/layout";
import { PanelFrame } from "./PanelFrame";

export interface GridProps {
  sections: Section[];
  range: { start: number; end: number };
  tick: number;
  dashboardTitle: string;
  onZoom: (start: number, end: number) => void;
  onToggleRow: (key: string, collapsed: boolean) => void;
}

export function Grid({ sections, range, tick, dashboardTitle, onZoom, onToggleRow }: GridProps) {
  return (
    <div class="dash-sections">
      {sections.map((s) => {
        const rows = Math.max(0, ...s.panels.map((p) => p.pos.y + p.pos.h));
        return (
          <div class="dash-section" key={s.key} data-testid="dash-section">
            {s.row !== null && (
              <button
                type="button"
                class="dash-row"
                data-testid="dash-row"
                aria-expanded={!s.collapsed}
                onClick={() => onToggleRow(s.key, !s.collapsed)}
              >
                <span class="dash-row-caret">{s.collapsed ? "▸" : "▾"}</span>
                {s.title}
                {s.collapsed && <span class="dash-row-count">({s.panels.length} panels)</span>}
              </button>
            )}
            {!s.collapsed && s.panels.length > 0 && (
              <div class="dash-grid" style={{ gridTemplateRows: `repeat(${rows}, 30px)` }}>
                {s.panels.map((p) => (
                  <div
                    key={p.key}
                    class="dash-cell"
                    style={{ gridColumn: `${p.pos.x + 1} / span ${p.pos.w}`, gridRow: `${p.pos.y + 1} / span ${p.pos.h}` }}
                    data-repeat={p.repeatValue ?? undefined}
                  >
                    <PanelFrame
                      panel={p.panel}
                      scope={p.scope}
                      range={range}
                      tick={tick}
                      dashboardTitle={dashboardTitle}
                      onZoom={onZoom}
                      note={PANEL_TYPES.has(p.panel.type) ? undefined : `Osprey does not draw "${p.panel.type}" panels.`}
                    />
                  </div>
                ))}
              </div>
            )}
          </div>
        );
      })}
    </div>
  );
}
