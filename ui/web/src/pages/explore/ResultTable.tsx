// An instant query's answer as a table: one row per series with its labels
// as columns, or the scalar / string value.

import { formatMetric, type InstantResult } from "../../api/prometheus";
import { Empty } from "../../components/States";
import { formatCount, formatValue } from "../../lib/format";

const TABLE_ROWS = 2000;

export function InstantTable({ result }: { result: InstantResult }) {
  if (result.resultType === "scalar" || result.resultType === "string") {
    return (
      <div class="scalar-result">
        <span class="muted small">{result.resultType}</span>
        <span class="mono">{result.resultType === "scalar" ? formatValue(result.result.value) : result.result.value}</span>
      </div>
    );
  }
  const rows =
    result.resultType === "vector"
      ? result.result.map((s) => ({ metric: s.metric, value: formatValue(s.value) }))
      : result.result.map((s) => ({ metric: s.metric, value: s.values.map(([t, v]) => `${formatValue(v)} @${t}`).join("\n") }));
  if (rows.length === 0) return <Empty>The query returned no series at this time.</Empty>;
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r.metric)))].filter((k) => k !== "__name__").sort();
  const hasName = rows.some((r) => r.metric.__name__ !== undefined);
  const shown = rows.slice(0, TABLE_ROWS);
  return (
    <div class="result-table-wrap">
      <table class="table result-table" data-testid="explore-table">
        <thead>
          <tr>
            {hasName && <th>__name__</th>}
            {keys.map((k) => (
              <th key={k}>{k}</th>
            ))}
            <th class="num">Value</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((r) => (
            <tr key={formatMetric(r.metric)} data-testid="explore-table-row">
              {hasName && <td class="mono">{r.metric.__name__ ?? ""}</td>}
              {keys.map((k) => (
                <td key={k} class="mono">
                  {r.metric[k] ?? ""}
                </td>
              ))}
              <td class="num mono value-cell">{r.value}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {rows.length > TABLE_ROWS && <p class="muted small table-note">Showing {formatCount(TABLE_ROWS)} of {formatCount(rows.length)} series.</p>}
    </div>
  );
}
