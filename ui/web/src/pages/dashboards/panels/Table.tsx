// Table: instant (or table-format) results as rows joined on their labels,
// one value column per query (`Value #A` when there are several, as Grafana
// names them); range results by their last value; trace searches as traces
// (linked to the trace view); log lines by time. Headers sort.

import { useState } from "preact/hooks";
import { TraceLink } from "../../../components/Link";
import { formatUtc } from "../../../lib/time";
import { fieldConfig, mapValue, thresholdColor, valueColor, type FieldConfig } from "../model/fields";
import { isObj } from "../model/grafana";
import { linksOf } from "../model/links";
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

/** A column's cell display (`custom.cellOptions.type`, or the older `custom.displayMode`). */
function cellType(configs: FieldConfig[], i: number): string {
  const custom = configs[i]?.custom ?? {};
  const co = isObj(custom.cellOptions) ? custom.cellOptions : {};
  return String(co.type ?? custom.displayMode ?? "auto");
}

export function TablePanel({ panel, data, scope, range }: PanelProps) {
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
  // Columns an override hides (`custom.hidden`) are left out.
  const shown = grid.columns.map((_, i) => i).filter((i) => configs[i]?.custom.hidden !== true);
  const cell = (r: Cell[], i: number) => {
    const v = r[i] ?? null;
    const col = grid.columns[i] ?? "";
    const fc = configs[i];
    if (col === "Trace ID" && typeof v === "string") {
      return (
        <td key={i} class="mono">
          <TraceLink id={v}>{v.slice(0, 16)}</TraceLink>
        </td>
      );
    }
    if (fc === undefined) return <td key={i}>{v === null ? "" : String(v)}</td>;
    const num = typeof v === "number" && grid.numeric.has(col);
    const mapped = num ? mapValue(fc, v) : null;
    const text = num ? (mapped?.text ?? formatUnit(v, fc.unit, fc.decimals)) : v === null ? "" : String(v);
    // Data links: the row's labels are the field's (`${__field.labels.x}`), the cell is the value.
    const labels = Object.fromEntries(grid.columns.map((h, k) => [h, String(r[k] ?? "")]));
    const link = linksOf(fc.links, scope, range, { raw: v, text, time: null, series: { refId: "", name: col, labels, points: [], instant: true } })[0];
    const type = cellType(configs, i);
    let style: Record<string, string> | undefined;
    if (num && type.includes("color")) {
      const c = mapped?.color ?? (fc.colorMode === "thresholds" ? thresholdColor(fc, v) : valueColor(fc, v, i));
      style = type.includes("background") ? { background: c, color: "#fff" } : { color: c };
    }
    return (
      <td key={i} class={num ? "num" : ""} data-value={num ? String(v) : undefined} style={style}>
        {link ? (
          <a href={link.href} target={link.blank ? "_blank" : undefined} title={link.title} data-testid="data-link">
            {text}
          </a>
        ) : (
          text
        )}
      </td>
    );
  };
  return (
    <div class="dash-table-wrap" data-testid="panel-table">
      <table class="dash-table">
        {showHeader && (
          <thead>
            <tr>
              {shown.map((i) => {
                const c = grid.columns[i] ?? "";
                return (
                  <th key={c} class={grid.numeric.has(c) ? "num" : ""}>
                    <button type="button" onClick={() => setSort({ col: i, desc: sort?.col === i ? !sort.desc : grid.numeric.has(c) })}>
                      {configs[i]?.displayName || c}
                      {sort?.col === i ? (sort.desc ? " ↓" : " ↑") : ""}
                    </button>
                  </th>
                );
              })}
            </tr>
          </thead>
        )}
        <tbody>
          {rows.map((r, ri) => (
            <tr key={ri} data-testid="table-row">
              {shown.map((i) => cell(r, i))}
            </tr>
          ))}
        </tbody>
      </table>
      {rows.length === 0 && <div class="dash-nodata">No data</div>}
    </div>
  );
}
