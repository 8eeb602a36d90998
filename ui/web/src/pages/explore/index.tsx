// `/explore`: a PromQL query (`?q=`) as a graph over the time range (range
// query, `?step=` or automatic) or as a table (instant query at the range's
// end, `?tab=table`); `?stack=1` stacks the graph. Errors and warnings from
// the API are shown under the editor, in its words.

import { useEffect, useMemo, useState } from "preact/hooks";
import { queryInstant, queryRange, formatMetric, type InstantResult } from "../../api/prometheus";
import { Icon } from "../../components/Icon";
import { Busy, Empty, ErrorState, Loading } from "../../components/States";
import { formatCount, formatValue } from "../../lib/format";
import { useLoad } from "../../lib/load";
import { refreshNow, useTimeRange } from "../../lib/refresh";
import { autoStepSeconds, formatDuration, formatUtc, parseDuration } from "../../lib/time";
import { updateParams, type PageProps } from "../../router";
import { Graph } from "./Graph";
import { MetricBrowser } from "./MetricBrowser";
import { PromqlEditor } from "./PromqlEditor";
import "./explore.css";

const HISTORY_KEY = "osprey.explore.history";
const TABLE_ROWS = 2000;

function readHistory(): string[] {
  try {
    const v = JSON.parse(window.localStorage.getItem(HISTORY_KEY) ?? "[]") as unknown;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string").slice(0, 30) : [];
  } catch {
    return [];
  }
}

function remember(q: string): void {
  try {
    const list = [q, ...readHistory().filter((x) => x !== q)].slice(0, 30);
    window.localStorage.setItem(HISTORY_KEY, JSON.stringify(list));
  } catch {
    // Storage unavailable.
  }
}

function InstantTable({ result }: { result: InstantResult }) {
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

export default function Explore({ loc }: PageProps) {
  const range = useTimeRange();
  const q = loc.params.get("q") ?? "";
  const tab = loc.params.get("tab") === "table" ? "table" : "graph";
  const stepParam = loc.params.get("step") ?? "";
  const stacked = loc.params.get("stack") === "1";
  const [draft, setDraft] = useState(q);
  const [history, setHistory] = useState(readHistory);
  const [showHistory, setShowHistory] = useState(false);
  const [showMetrics, setShowMetrics] = useState(false);
  useEffect(() => setDraft(q), [q]);

  const res = range.resolved;
  const stepMs = parseDuration(stepParam);
  const step = useMemo(() => {
    if (res === null) return 0;
    if (stepMs !== null && stepMs > 0) return stepMs / 1000;
    return autoStepSeconds(res, 300);
  }, [res, stepMs]);

  const enabled = q.trim() !== "" && res !== null;
  const graph = useLoad((s) => queryRange({ query: q, start: res?.start ?? 0, end: res?.end ?? 0, step }, s), [q, res?.start, res?.end, step, range.tick], {
    label: "Could not run the query",
    enabled: enabled && tab === "graph",
    resetOn: q,
  });
  const table = useLoad((s) => queryInstant({ query: q, time: res?.end }, s), [q, res?.end, range.tick], {
    label: "Could not run the query",
    enabled: enabled && tab === "table",
    resetOn: q,
  });
  const active = tab === "graph" ? graph : table;
  const warnings = (tab === "graph" ? graph.data?.warnings : table.data?.warnings) ?? [];

  const run = (v: string) => {
    const t = v.trim();
    if (t !== "") {
      remember(t);
      setHistory(readHistory());
    }
    if (t === q) {
      // Same query: run it again.
      refreshNow();
      return;
    }
    updateParams({ q: t || null });
  };

  const seriesCount = tab === "graph" ? graph.data?.data.length : undefined;

  return (
    <div class="page explore-page">
      <div class="explore-query panel">
        <div class="explore-editor-row">
          <span class="query-label mono" title="Prometheus query language">
            PromQL
          </span>
          <PromqlEditor value={q} onChange={setDraft} onRun={run} />
          <div class="explore-actions">
            <div class="history">
              <button type="button" class="btn" aria-expanded={showMetrics} data-testid="metric-browser-toggle" onClick={() => setShowMetrics(!showMetrics)} title="Browse metrics">
                Metrics
                <Icon name="down" size={12} />
              </button>
              {showMetrics && (
                <MetricBrowser
                  onClose={() => setShowMetrics(false)}
                  onPick={(name) => {
                    setShowMetrics(false);
                    run(name);
                  }}
                />
              )}
            </div>
            <div class="history">
              <button type="button" class="btn" aria-expanded={showHistory} onClick={() => setShowHistory(!showHistory)} disabled={history.length === 0} title="Query history">
                History
                <Icon name="down" size={12} />
              </button>
              {showHistory && (
                <ul class="popover history-popover" role="listbox" aria-label="Query history">
                  {history.map((h) => (
                    <li key={h}>
                      <button
                        type="button"
                        class="mono"
                        onClick={() => {
                          setShowHistory(false);
                          run(h);
                        }}
                      >
                        {h}
                      </button>
                    </li>
                  ))}
                </ul>
              )}
            </div>
            <button type="button" class="btn primary" data-testid="run-query" onClick={() => run(draft)}>
              <Icon name="play" size={12} />
              Run query
            </button>
          </div>
        </div>
        <div class="explore-options">
          <div class="tabs" role="tablist">
            <button type="button" role="tab" class="tab" aria-selected={tab === "graph"} data-testid="tab-graph" onClick={() => updateParams({ tab: null })}>
              Graph
            </button>
            <button type="button" role="tab" class="tab" aria-selected={tab === "table"} data-testid="tab-table" onClick={() => updateParams({ tab: "table" })}>
              Table
            </button>
          </div>
          <span class="spacer" />
          {tab === "graph" && (
            <>
              <label class="opt">
                Step
                <input
                  class="input mono step-input"
                  placeholder={`auto (${formatDuration(step * 1000)})`}
                  value={stepParam}
                  size={9}
                  onChange={(e) => updateParams({ step: e.currentTarget.value.trim() || null })}
                  title="Resolution: 15s, 1m, 5m… (empty: automatic)"
                />
              </label>
              <label class="check">
                <input type="checkbox" checked={stacked} onChange={(e) => updateParams({ stack: e.currentTarget.checked ? "1" : null }, { replace: true })} />
                Stacked
              </label>
            </>
          )}
          <span class="muted small explore-meta">
            {tab === "graph"
              ? seriesCount !== undefined
                ? `${formatCount(seriesCount)} series · step ${formatDuration(step * 1000)}`
                : ""
              : res !== null
                ? `at ${formatUtc(res.end)} UTC`
                : ""}
          </span>
        </div>
        {stepParam !== "" && stepMs === null && <ErrorState compact message={`"${stepParam}" is not a step: use 15s, 1m, 5m…`} />}
      </div>
      <Busy on={active.loading} />
      {range.error !== null && <ErrorState title="Invalid time range" message={range.error} />}
      {warnings.map((w) => (
        <div key={w} class="state state-warning">
          <Icon name="alert" /> {w}
        </div>
      ))}
      <div class="explore-result panel">
        {active.error !== null && <ErrorState title="Query error" message={active.error} />}
        {q.trim() === "" ? (
          <Empty>
            <div class="explore-empty">
              <p>Write a PromQL query above and press Enter. Metric names, labels and values complete as you type.</p>
              <p class="muted small">Try one of these, from the span metrics Osprey derives from traces:</p>
              <ul>
                {[
                  "sum by (service_name) (rate(traces_span_metrics_calls_total[5m]))",
                  'histogram_quantile(0.95, sum by (le, service_name) (rate(traces_span_metrics_duration_milliseconds_bucket[5m])))',
                  "sum by (client, server) (rate(traces_service_graph_request_total[5m]))",
                ].map((ex) => (
                  <li key={ex}>
                    <button type="button" class="link-button mono" onClick={() => run(ex)}>
                      {ex}
                    </button>
                  </li>
                ))}
              </ul>
            </div>
          </Empty>
        ) : tab === "graph" ? (
          graph.data === undefined ? (
            graph.error === null && <Loading what="series" />
          ) : graph.data.data.length === 0 ? (
            <Empty>The query returned no series in this time range.</Empty>
          ) : (
            res !== null && <Graph series={graph.data.data} range={res} stacked={stacked} />
          )
        ) : table.data === undefined ? (
          table.error === null && <Loading what="result" />
        ) : (
          <InstantTable result={table.data.data} />
        )}
      </div>
    </div>
  );
}
