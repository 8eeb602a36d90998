// One panel on the grid: its title (variables substituted), description,
// links, loading and error state, and the body for its type. Each panel loads
// on its own (so panels load in parallel), and a new range, variable or
// refresh aborts its request in flight.

import type { RefObject } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ErrorState } from "../../../components/States";
import { useLoad } from "../../../lib/load";
import { strOf, type Panel } from "../model/grafana";
import { interpolate, type Scope } from "../model/interpolate";
import { intervals, parseInterval, SCRAPE_INTERVAL_MS } from "../model/interval";
import { linksOf } from "../model/links";
import { dsKind, runPanel, type PanelData } from "../model/query";
import { AlertDialog } from "./AlertDialog";
import { withBuiltins } from "../model/variables";
import { BODIES, STATIC_TYPES } from "../panels";

const ALERTABLE = new Set(["timeseries", "stat", "gauge", "bargauge"]);
const EMPTY: PanelData = { series: [], logs: [], traces: [], warnings: [], sent: {} };
const TITLE_H = 30;

function useSize(): [RefObject<HTMLDivElement | null>, { width: number; height: number }] {
  const ref = useRef<HTMLDivElement>(null);
  const [size, setSize] = useState({ width: 0, height: 0 });
  useEffect(() => {
    const el = ref.current;
    if (el === null) return;
    const ro = new ResizeObserver(() => setSize({ width: el.clientWidth, height: el.clientHeight }));
    ro.observe(el);
    setSize({ width: el.clientWidth, height: el.clientHeight });
    return () => ro.disconnect();
  }, []);
  return [ref, size];
}

export interface FrameProps {
  panel: Panel;
  scope: Scope;
  range: { start: number; end: number };
  tick: number;
  dashboardTitle: string;
  onZoom: (start: number, end: number) => void;
  /** A note instead of the body (e.g. an unsupported panel type). */
  note?: string;
}

/**
 * The panel's own range: `timeFrom` (`1h`: the last hour of the dashboard's end)
 * and `timeShift` (`1d`: a day earlier), as Grafana's query options; and their label.
 */
export function panelRange(panel: Panel, range: { start: number; end: number }): { range: { start: number; end: number }; label: string } {
  const from = parseInterval(strOf(panel.raw.timeFrom).replace(/^now-/, ""));
  const shift = parseInterval(strOf(panel.raw.timeShift));
  let { start, end } = range;
  const parts: string[] = [];
  if (from !== null) {
    start = end - from;
    parts.push(`Last ${strOf(panel.raw.timeFrom).replace(/^now-/, "")}`);
  }
  if (shift !== null) {
    start -= shift;
    end -= shift;
    parts.push(`timeshift -${strOf(panel.raw.timeShift)}`);
  }
  return { range: { start, end }, label: parts.join(" ") };
}

export function PanelFrame({ panel, scope, range: dashRange, tick, dashboardTitle, onZoom, note }: FrameProps) {
  const { range, label: rangeLabel } = panelRange(panel, dashRange);
  const [bodyRef, size] = useSize();
  const [menu, setMenu] = useState(false);
  const [alerting, setAlerting] = useState(false);
  const Body = BODIES[panel.type];
  const minMs = parseInterval(panel.interval) ?? parseInterval(panel.targets.find((t) => t.interval !== "")?.interval ?? "");
  const points = panel.maxDataPoints ?? Math.max(100, size.width);
  const iv = intervals(range.end - range.start, points, minMs ?? SCRAPE_INTERVAL_MS);
  const full = withBuiltins(scope, { start: range.start, end: range.end, intervalMs: iv.intervalMs, rateIntervalMs: iv.rateIntervalMs, dashboard: dashboardTitle });
  const needsData = Body !== undefined && !STATIC_TYPES.has(panel.type) && note === undefined;
  // The queries as they will be sent: a change reloads the panel.
  const key = interpolate(JSON.stringify([panel.datasource, panel.targets.map((t) => t.raw)]), full, "query");
  const load = useLoad(
    (signal) => runPanel(panel, full, { start: range.start, end: range.end, stepSeconds: Math.max(1, Math.round(iv.intervalMs / 1000)), signal }),
    [key, range.start, range.end, iv.intervalMs, tick],
    { label: `Could not load panel ${panel.title}`, enabled: needsData && size.width > 0 },
  );
  const title = interpolate(panel.title, full);
  // A panel of PromQL can become an alerting rule (its first shown query).
  const promTarget = ALERTABLE.has(panel.type) ? panel.targets.find((t) => !t.hide && t.expr !== "" && dsKind(t.datasource, panel.datasource, full) === "prometheus") : undefined;
  const links = linksOf(panel.links, full, range);
  const data = load.data ?? EMPTY;
  // Not measured yet, or asked and not answered: loading.
  const waiting = load.loading || (load.data === undefined && load.error === null);
  const state = !needsData ? "static" : waiting ? "loading" : load.error !== null ? "error" : "done";
  const stepSeconds = Math.max(1, Math.round(iv.intervalMs / 1000));
  return (
    <section
      class={`dash-panel${panel.transparent ? " transparent" : ""}`}
      data-testid="dash-panel"
      data-panel-id={panel.id}
      data-panel-type={panel.type}
      data-state={state}
      // What was asked, so a link or a test can ask the API the same.
      data-queries={JSON.stringify(data.sent)}
      data-start={range.start}
      data-end={range.end}
      data-step={stepSeconds}
      aria-label={title || panel.type}
    >
      <header class="dash-panel-head" style={{ height: `${TITLE_H}px` }}>
        <h3 class="dash-panel-title" title={panel.description || title} data-testid="dash-panel-title">
          {title}
        </h3>
        {rangeLabel !== "" && (
          <span class="dash-panel-range" data-testid="panel-range">
            {rangeLabel}
          </span>
        )}
        {load.loading && <span class="dash-spinner" aria-label="loading" />}
        {promTarget !== undefined && (
          <button type="button" class="dash-icon-btn" onClick={() => setAlerting(true)} data-testid="panel-alert" title="Create an alerting rule from this panel's query">
            ⚑
          </button>
        )}
        {links.length > 0 && (
          <div class="dash-panel-links">
            <button type="button" class="dash-icon-btn" aria-haspopup="menu" aria-expanded={menu} onClick={() => setMenu(!menu)} data-testid="panel-links-toggle" title="Panel links">
              ↗
            </button>
            {menu && (
              <ul class="dash-menu" role="menu">
                {links.map((l, i) => (
                  <li key={i} role="none">
                    <a role="menuitem" href={l.href} target={l.blank ? "_blank" : undefined} rel="noreferrer" data-testid="panel-link">
                      {l.title}
                    </a>
                  </li>
                ))}
              </ul>
            )}
          </div>
        )}
      </header>
      {alerting && promTarget !== undefined && (
        <AlertDialog title={title || "Panel"} expr={interpolate(promTarget.expr, full, "query")} dashboard={window.location.href} onClose={() => setAlerting(false)} />
      )}
      <div class="dash-panel-body" ref={bodyRef}>
        {note !== undefined ? (
          <div class="dash-note" data-testid="panel-unsupported">
            {note}
          </div>
        ) : Body === undefined ? null : load.error !== null && load.data === undefined ? (
          <ErrorState compact title="Query failed" message={load.error} />
        ) : (
          size.width > 0 && <Body panel={panel} data={data} width={size.width} height={size.height} scope={full} range={range} onZoom={onZoom} />
        )}
        {load.error !== null && load.data !== undefined && <div class="dash-panel-error" title={load.error}>⚠ {load.error}</div>}
      </div>
    </section>
  );
}
