// A sortable RED table (name, rate, error %, p50/p95/p99, impact); the sort
// lives in the URL (`?{param}=-impact`), a click on a header sorts by it, a
// second click reverses.

import type { ComponentChildren } from "preact";
import { SortHeader, sortBy } from "../../components/SortHeader";
import { useLocation } from "../../router";
import { formatMs, formatPct, formatRate, parseSort, sortRows, type RedRow, type SortKey } from "./red";

const COLUMNS: { key: SortKey; label: string; title: string; num: boolean }[] = [
  { key: "rate", label: "Rate", title: "Calls per second", num: true },
  { key: "errorPct", label: "Errors", title: "Share of calls with status ERROR", num: true },
  { key: "p50", label: "p50", title: "Median latency", num: true },
  { key: "p95", label: "p95", title: "95th percentile latency", num: true },
  { key: "p99", label: "p99", title: "99th percentile latency", num: true },
  { key: "impact", label: "Impact", title: "p95 latency × rate: where waiting time adds up", num: true },
];

export interface RedTableProps<T extends RedRow> {
  rows: T[];
  nameLabel: string;
  name: (r: T) => string;
  /** The first cell's content (a link, say). */
  renderName: (r: T) => ComponentChildren;
  /** Cells after the numbers (links, sparkline). */
  extraHead?: ComponentChildren;
  renderExtra?: (r: T) => ComponentChildren;
  /** URL parameter holding the sort (`sort`), and the sort without it (`-impact`). */
  sortParam?: string;
  defaultSort?: string;
  testId: string;
  rowTestId: string;
}

export function RedTable<T extends RedRow>(p: RedTableProps<T>) {
  const loc = useLocation();
  const param = p.sortParam ?? "sort";
  const defaultSort = p.defaultSort ?? "-impact";
  const sort = parseSort(loc.params.get(param), defaultSort);
  const rows = sortRows(p.rows, sort.key, sort.desc, p.name);
  const maxImpact = rows.reduce((m, r) => (Number.isFinite(r.impact) ? Math.max(m, r.impact) : m), 0);
  // Numbers start high-to-low, names A-Z.
  const onSort = (k: SortKey) => sortBy(param, k, sort, k !== "name", defaultSort);
  return (
    <table class="table red-table" data-testid={p.testId}>
      <thead>
        <tr>
          <SortHeader id="name" label={p.nameLabel} title={`Sort by ${p.nameLabel.toLowerCase()}`} num={false} sort={sort} onSort={onSort} />
          {COLUMNS.map((c) => (
            <SortHeader key={c.key} id={c.key} label={c.label} title={c.title} num={c.num} sort={sort} onSort={onSort} />
          ))}
          {p.extraHead}
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.key} data-testid={p.rowTestId} data-name={p.name(r)}>
            <td class="red-name">{p.renderName(r)}</td>
            <td class="num mono" data-col="rate" data-value={r.rate}>
              {formatRate(r.rate)}
            </td>
            <td class={`num mono${r.errors > 0 ? " red-err" : ""}`} data-col="errorPct" data-value={r.errorPct} title={`${formatRate(r.errors)} errors`}>
              {formatPct(r.errorPct)}
            </td>
            <td class="num mono" data-col="p50" data-value={r.p50}>
              {formatMs(r.p50)}
            </td>
            <td class="num mono" data-col="p95" data-value={r.p95}>
              {formatMs(r.p95)}
            </td>
            <td class="num mono" data-col="p99" data-value={r.p99}>
              {formatMs(r.p99)}
            </td>
            <td class="num mono bar-cell" data-col="impact" data-value={r.impact} title="p95 latency × rate (ms/s)">
              <span class="bar-cell-bar" style={{ width: `${maxImpact > 0 && Number.isFinite(r.impact) ? (r.impact / maxImpact) * 100 : 0}%` }} />
              <span class="bar-cell-value">{Number.isFinite(r.impact) ? `${Number(r.impact.toPrecision(3)).toLocaleString("en-US")}` : "–"}</span>
            </td>
            {p.renderExtra?.(r)}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
