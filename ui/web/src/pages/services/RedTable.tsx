// A sortable RED table (name, rate, error %, p50/p95/p99, impact); the sort
// lives in the URL (`?{param}=-impact`), a click on a header sorts by it, a
// second click reverses.

import type { ComponentChildren } from "preact";
import { updateParams } from "../../router";
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
  /** URL parameter holding the sort. */
  sortParam: string;
  sortValue: string | null;
  defaultSort: string;
  testId: string;
  rowTestId: string;
}

export function RedTable<T extends RedRow>(p: RedTableProps<T>) {
  const { key, desc } = parseSort(p.sortValue, p.defaultSort);
  const rows = sortRows(p.rows, key, desc, p.name);
  const maxImpact = rows.reduce((m, r) => (Number.isFinite(r.impact) ? Math.max(m, r.impact) : m), 0);
  const sortBy = (k: SortKey) => {
    // Numbers start high-to-low, names A-Z.
    const next = k === key ? (desc ? k : `-${k}`) : k === "name" ? k : `-${k}`;
    updateParams({ [p.sortParam]: next === p.defaultSort ? null : next }, { replace: true });
  };
  const head = (k: SortKey, label: string, title: string, num: boolean) => (
    <th
      key={k}
      class={`${num ? "num " : ""}sortable${k === key ? " sorted" : ""}`}
      title={title}
      aria-sort={k === key ? (desc ? "descending" : "ascending") : "none"}
      data-sort={k}
    >
      <button type="button" class="sort-button" onClick={() => sortBy(k)}>
        {label}
        <span class="sort-arrow" aria-hidden="true">
          {k === key ? (desc ? "▼" : "▲") : ""}
        </span>
      </button>
    </th>
  );
  return (
    <table class="table red-table" data-testid={p.testId}>
      <thead>
        <tr>
          {head("name", p.nameLabel, `Sort by ${p.nameLabel.toLowerCase()}`, false)}
          {COLUMNS.map((c) => head(c.key, c.label, c.title, c.num))}
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
            <td class="num mono red-impact" data-col="impact" data-value={r.impact} title="p95 latency × rate (ms/s)">
              <span class="impact-bar" style={{ width: `${maxImpact > 0 && Number.isFinite(r.impact) ? (r.impact / maxImpact) * 100 : 0}%` }} />
              <span class="impact-value">{Number.isFinite(r.impact) ? `${Number(r.impact.toPrecision(3)).toLocaleString("en-US")}` : "–"}</span>
            </td>
            {p.renderExtra?.(r)}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
