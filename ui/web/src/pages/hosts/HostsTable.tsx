// A sortable USE table: one row per host, a column per USE measure with its
// value over the range and a sparkline of it; the sort lives in the URL
// (`?{sortParam}=-cpu`). The home page uses a compact form (fewer columns,
// bars instead of sparklines except for CPU).

import { Link } from "../../components/Link";
import { SortHeader, sortBy } from "../../components/SortHeader";
import { Sparkline } from "../services/Sparkline";
import { COLUMNS, formatUse, hostPath, LEVEL_COLOR, levelOf, parseHostSort, rowKey, SOURCE_LABEL, sortHosts, type HostRow, type HostSortKey, type UseColumn, type UseKey, type UseSeries } from "./use";
import "../services/services.css";
import "./hosts.css";

export interface HostsTableProps {
  rows: HostRow[];
  columns: UseKey[];
  spark: UseSeries | undefined;
  range: { start: number; end: number };
  sortParam: string;
  sortValue: string | null;
  defaultSort: string;
  compact?: boolean;
  /** Several sources: say which one each host reports through. */
  showSource?: boolean;
}

function UseCell({ col, row, p }: { col: UseColumn; row: HostRow; p: HostsTableProps }) {
  const v = row.values[col.key];
  const level = levelOf(v, col.unit);
  const series = p.spark?.get(col.key)?.get(rowKey(row));
  const pct = col.unit === "pct";
  return (
    <td class={`num use-cell lvl-${level}`} data-col={col.key} data-value={v ?? ""}>
      {p.compact ? (
        <div class="use-stack">
          <span class="use-value mono">{formatUse(v, col.unit)}</span>
          {/* Every cell keeps the bar's space, so values line up across the row. */}
          <span class={`use-bar${pct && v !== undefined ? "" : " ghost"}`} aria-hidden="true">
            {pct && v !== undefined && <span style={{ width: `${Math.min(100, Math.max(0, v))}%`, background: LEVEL_COLOR[level] }} />}
          </span>
        </div>
      ) : (
        <div class="use-cell-inner">
          <Sparkline series={series} range={p.range} color={LEVEL_COLOR[level === "none" ? "ok" : level]} width={60} height={20} max={pct ? 100 : undefined} />
          <span class="use-value mono">{formatUse(v, col.unit)}</span>
        </div>
      )}
    </td>
  );
}

export function HostsTable(p: HostsTableProps) {
  const sort = parseHostSort(p.sortValue, p.defaultSort);
  const rows = sortHosts(p.rows, sort.key, sort.desc);
  const cols = p.columns.map((k) => COLUMNS.find((c) => c.key === k)).filter((c): c is UseColumn => c !== undefined);
  // Numbers start high-to-low, names A-Z.
  const onSort = (k: HostSortKey) => sortBy(p.sortParam, k, sort, k !== "name", p.defaultSort);
  return (
    <table class={`table use-table${p.compact ? " compact" : ""}`} data-testid="hosts-table">
      <thead>
        <tr>
          <SortHeader id="name" label="Host" title="Sort by host name" num={false} sort={sort} onSort={onSort} />
          {cols.map((c) => (
            <SortHeader key={c.key} id={c.key} label={c.label} title={c.title} num sort={sort} onSort={onSort} />
          ))}
          {p.compact && <th class="spark-col">CPU over range</th>}
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={rowKey(r)} data-testid="host-row" data-host={r.id} data-source={r.source}>
            <td class="host-name">
              <Link to={hostPath(r.id)} class="host-link" data-testid="host-link" title={`${r.key}="${r.id}" · ${SOURCE_LABEL[r.source]}`}>
                <span class={`host-dot lvl-${levelOf(r.values.cpu, "pct")}`} aria-hidden="true" />
                <span class="host-label">{r.name}</span>
              </Link>
              {r.name !== r.id && <span class="host-id mono faint">{r.id}</span>}
              {p.showSource && <span class={`badge src-${r.source}`}>{r.source === "node" ? "node" : "otlp"}</span>}
            </td>
            {cols.map((c) => (
              <UseCell key={c.key} col={c} row={r} p={p} />
            ))}
            {p.compact && (
              <td class="spark-col">
                <Sparkline series={p.spark?.get("cpu")?.get(rowKey(r))} range={p.range} color={LEVEL_COLOR.ok} width={110} height={20} max={100} />
              </td>
            )}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
