// Logs: the lines of the panel's Loki queries, newest first unless
// `sortOrder` is `Ascending`, with time (`showTime`), their level's colour and
// wrapping as the options ask; ANSI colours kept.

import { LogText } from "../../../components/LogText";
import { severityClass } from "../../../lib/format";
import { formatUtc } from "../../../lib/time";
import { strOf } from "../model/grafana";
import type { PanelProps } from "./types";

/** Lines drawn at most (the panel scrolls). */
const MAX_LINES = 1000;

export function LogsPanel({ panel, data }: PanelProps) {
  const showTime = panel.options.showTime !== false;
  const wrap = panel.options.wrapLogMessage === true;
  const asc = strOf(panel.options.sortOrder) === "Ascending";
  const lines = asc ? [...data.logs].reverse() : data.logs;
  return (
    <div class={`dash-logs${wrap ? " wrap" : ""}`} data-testid="panel-logs">
      {lines.slice(0, MAX_LINES).map((l, i) => {
        const level = l.labels.detected_level ?? l.labels.level ?? l.labels.severity ?? "";
        return (
          <div key={i} class={`dash-log dash-sev-${severityClass(level)}`} data-testid="log-line">
            {showTime && <span class="dash-log-time mono">{formatUtc(Number(BigInt(l.ns) / 1_000_000n), true)}</span>}
            <span class="dash-log-line mono">
              <LogText text={l.line} />
            </span>
          </div>
        );
      })}
      {lines.length === 0 && <div class="dash-nodata">No logs</div>}
    </div>
  );
}
