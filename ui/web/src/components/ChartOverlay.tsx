// What TimeChart draws over its canvas: the hover readout (every shown
// series' value at the cursor) and markers (points such as exemplars, each a
// button that can be hovered, focused and clicked). Tips are `position:
// fixed`, so the chart's own overflow never clips them.

import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { formatUtc } from "../lib/time";

/** A point drawn over the chart. */
export interface ChartMarker {
  /** Unique among the chart's markers. */
  key: string;
  /** Seconds since the epoch. */
  x: number;
  y: number;
  /** A CSS colour. */
  color: string;
  /** What a screen reader says for it. */
  label: string;
  /** Shown as `data-marker-id` (e.g. a trace id), for links and tests. */
  id?: string;
}

/** Where a tip goes: beside (x, y) in viewport pixels, away from the edges. */
function tipStyle(x: number, y: number): Record<string, string> {
  const right = x > window.innerWidth - 360;
  const below = y < window.innerHeight * 0.55;
  return {
    left: `${x}px`,
    top: `${y}px`,
    transform: `translate(${right ? "calc(-100% - 14px)" : "14px"}, ${below ? "-12px" : "calc(-100% + 12px)"})`,
  };
}

export interface ReadoutRow {
  label: string;
  color: string;
  value: number;
}

const MAX_ROWS = 12;

/** The values under the cursor, largest first. */
export function Readout({ x, y, time, rows, format, empty }: { x: number; y: number; time: number; rows: ReadoutRow[]; format: (v: number) => string; empty: string }) {
  const sorted = [...rows].sort((a, b) => b.value - a.value);
  const shown = sorted.slice(0, MAX_ROWS);
  return (
    <div class="tip chart-tip" role="tooltip" style={tipStyle(x, y)} data-testid="chart-tooltip">
      <div class="chart-tip-time">{formatUtc(time * 1000)} UTC</div>
      {shown.length === 0 && <div class="faint">{empty}</div>}
      {shown.map((r, i) => (
        <div class="chart-tip-row" key={`${i}-${r.label}`}>
          <span class="swatch" style={{ background: r.color }} />
          <span class="chart-tip-label mono">{r.label}</span>
          <span class="chart-tip-value mono">{format(r.value)}</span>
        </div>
      ))}
      {sorted.length > shown.length && <div class="faint">+{sorted.length - shown.length} more</div>}
    </div>
  );
}

export interface MarkersProps {
  markers: ChartMarker[];
  /** The plotting area relative to the chart (CSS px). */
  box: { left: number; top: number; width: number; height: number };
  /** A marker's position in the plotting area, or null when it is outside. */
  pos: (m: ChartMarker) => { left: number; top: number } | null;
  onClick?: (m: ChartMarker) => void;
  tip?: (m: ChartMarker) => ComponentChildren;
  testId?: string;
}

const MAX_TABBABLE = 50;

/** Markers as buttons over the plotting area, with a tip while one is hovered or focused. */
export function Markers({ markers, box, pos, onClick, tip, testId }: MarkersProps) {
  const [hot, setHot] = useState<{ m: ChartMarker; x: number; y: number } | null>(null);
  const show = (m: ChartMarker, e: Event) => {
    const r = (e.currentTarget as HTMLElement).getBoundingClientRect();
    setHot({ m, x: r.left + r.width / 2, y: r.top + r.height / 2 });
  };
  const placed = markers.flatMap((m) => {
    const p = pos(m);
    return p === null ? [] : [{ m, p }];
  });
  return (
    <div
      class="chart-markers"
      style={{ left: `${box.left}px`, top: `${box.top}px`, width: `${box.width}px`, height: `${box.height}px` }}
      data-count={placed.length}
    >
      {placed.map(({ m, p }) => (
        <button
          type="button"
          key={m.key}
          class={`chart-marker${hot?.m.key === m.key ? " hot" : ""}`}
          style={{ left: `${p.left}px`, top: `${p.top}px`, background: m.color }}
          aria-label={m.label}
          // Hundreds of markers would be hundreds of tab stops: past a few, pointer only.
          tabIndex={placed.length > MAX_TABBABLE ? -1 : undefined}
          data-testid={testId ?? "chart-marker"}
          data-marker-id={m.id}
          onMouseEnter={(e) => show(m, e)}
          onFocus={(e) => show(m, e)}
          onMouseLeave={() => setHot(null)}
          onBlur={() => setHot(null)}
          onClick={() => onClick?.(m)}
        />
      ))}
      {hot !== null && tip !== undefined && placed.some(({ m }) => m.key === hot.m.key) && (
        <div class="tip chart-tip" role="tooltip" style={tipStyle(hot.x, hot.y)} data-testid="marker-tooltip">
          {tip(hot.m)}
        </div>
      )}
    </div>
  );
}
