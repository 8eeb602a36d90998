// Table: instant (or table-format) results as rows joined on their labels,
// one value column per query (`Value #A` when there are several, as Grafana
// names them); range results by their last value; trace searches as traces
// (linked to the trace view); log lines by time. Headers sort.

import { useState } from "preact/hooks";
import { TraceLink } from "../../../components/Link";
import { formatUtc } from "../../../lib/time";
import { fieldConfig, mapValue, thresholdColor } from "../model/fields";
import { isObj } from "../model/grafana";
import type { PanelData } from "../model/query";
import { formatUnit } from "../model/units";
import type { PanelProps } from "./types";

type Cell = string | number | null;

interface Grid {
  columns: string[];
  /** Columns holding numbers (formatted with their field config). */
  numeric: Set<string>;
  rows: Cell[][];
}

function seriesGrid(data: PanelData): Grid {
  const refIds = [...new Set(data.series.map((s) => s.refId))];
  const valueCol = (ref: string) => (refIds.length > 1 ? `Value #${ref}` : "Value");
  const labelCols = [...new Set(data.series.flatMap((s) => Object.keys(s.labels)))].sort((a, b) => (a === "__name__" ? -1 : b === "__name__" ? 1 : a.localeCompare(b)));
  const byKey = new Map<string, Map<string, Cell>>();
  for (const s of data.series) {
    const key = JSON.stringify(labelCols.filter((c) => c !== "__name__").map((c) => s.labels[c] ?? ""));
    const row = byKey.get(key) ?? new Map<string, Cell>(labelCols.map((c) => [c, s.labels[c] ?? ""]));
    const last = s.points[s.points.length - 1];
    if (last !== undefined) {
      row.set("Time", formatUtc(last[0] * 1000));
      row.set(valueCol(s.refId), last[1]);
    }
    byKey.set(key, row);
  }
  const columns = ["Time", ...labelCols, ...refIds.map(valueCol)];
  return { columns, numeric: new Set(refIds.map(valueCol)), rows: [...byKey.values()].map((r) => columns.map((c) => r.get(c) ?? null)) };
}

function traceGrid(data: PanelData): Grid {
  const columns = ["Trace ID", "Service", "Name", "Start time", "Duration", "Spans", "Errors"];
  return {
    columns,
    numeric: new Set(["Spans", "Errors"]),
    rows: data.traces.map((t) => [t.traceId, t.rootService, t.rootOperation, formatUtc(t.start), `${t.durationMs.toFixed(1)} ms`, t.spanCount, t.errorCount]),
  };
}

function logGrid(data: PanelData): Grid {
  return { columns: ["Time", "Line"], numeric: new Set(), rows: data.logs.map((l) => [formatUtc(Number(BigInt(l.ns) / 1_000_000n)), l.line]) };
}

export function TablePanel({ panel, data }: PanelProps) {
  const [sort, setSort] = useState<{ col: number; desc: boolean } | null>(null);
  const grid = data.traces.length > 0 ? traceGrid(data) : data.series.length > 0 ? seriesGrid(data) : logGrid(data);
  const showHeader = panel.options.showHeader !== false;
  const rows = [...grid.rows];
  if (sort !== null) {
    rows.sort((a, b) => {
      const x = a[sort.col] ?? "";
      const y = b[sort.col] ?? "";
      const c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y), "en", { numeric: true });
      return sort.desc ? -c : c;
    });
  }
  const configs = grid.columns.map((c) => fieldConfig(panel.fieldConfig, { name: c, refId: "" }, "thresholds"));
  const cellType = (i: number) => {
    const custom = configs[i]?.custom ?? {};
    const co = isObj(custom.cellOptions) ? custom.cellOptions : {};
    return String(co.type ?? custom.displayMode ?? "auto");
  };
  return (
    <div class="dash-table-wrap" data-testid="panel-table">
      <table class="dash-table">
        {showHeader && (
          <thead>
            <tr>
              {grid.columns.map((c, i) => (
                <th key={c} class={grid.numeric.has(c) ? "num" : ""}>
                  <button type="button" onClick={() => setSort({ col: i, desc: sort?.col === i ? !sort.desc : grid.numeric.has(c) })}>
                    {c}
                    {sort?.col === i ? (sort.desc ? " ↓" : " ↑") : ""}
                  </button>
                </th>
              ))}
            </tr>
          </thead>
        )}
        <tbody>
          {rows.map((r, ri) => (
            <tr key={ri} data-testid="table-row">
              {r.map((v, i) => {
                const col = grid.columns[i] ?? "";
                const fc = configs[i];
                if (col === "Trace ID" && typeof v === "string") {
                  return (
                    <td key={i} class="mono">
                      <TraceLink id={v}>{v.slice(0, 16)}</TraceLink>
                    </td>
                  );
                }
                if (typeof v === "number" && fc !== undefined && grid.numeric.has(col)) {
                  const colored = cellType(i).includes("color");
                  const mapped = mapValue(fc, v);
                  const c = mapped?.color ?? thresholdColor(fc, v);
                  return (
                    <td key={i} class="num" data-value={String(v)} style={colored ? (cellType(i).includes("background") ? { background: c, color: "#fff" } : { color: c }) : undefined}>
                      {mapped?.text ?? formatUnit(v, fc.unit, fc.decimals)}
                    </td>
                  );
                }
                return <td key={i}>{v === null ? "" : String(v)}</td>;
              })}
            </tr>
          ))}
        </tbody>
      </table>
      {rows.length === 0 && <div class="dash-nodata">No data</div>}
    </div>
  );
}
