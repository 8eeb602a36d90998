// `/explore`: PromQL queries (`?q=` once per query: A, B, C…; `hide=B` turns
// one off) drawn together as a graph over the time range (range queries,
// `?step=` or automatic; `?stack=1` stacks; `?exemplars=1` draws exemplars
// that open their trace) or as tables (instant queries at the range's end,
// `?tab=table`). Each query's errors, warnings and infos are shown under it,
// in the API's words.

import { useEffect, useMemo, useState } from "preact/hooks";
import type { InstantResult } from "../../api/prometheus";
import { Busy, Empty, ErrorState, Loading } from "../../components/States";
import { refreshNow, useTimeRange } from "../../lib/refresh";
import { autoStepSeconds, parseDuration } from "../../lib/time";
import { hrefTo, navigate, type PageProps } from "../../router";
import { Graph, queryColors, type GraphExemplars, type GraphQuery } from "./Graph";
import { Options } from "./Options";
import { QueryRow } from "./QueryRow";
import { MAX_QUERIES, letter, queriesKey, readHistory, readQueries, remember, writeQueries, type QuerySpec } from "./queries";
import { InstantTable } from "./ResultTable";
import { byIndex, useResults, type Active } from "./results";
import "./explore.css";

const EXAMPLES = [
  "sum by (service_name) (rate(traces_span_metrics_calls_total[5m]))",
  "histogram_quantile(0.95, sum by (le, service_name) (rate(traces_span_metrics_duration_milliseconds_bucket[5m])))",
  "sum by (client, server) (rate(traces_service_graph_request_total[5m]))",
];

function Examples({ onPick }: { onPick: (q: string) => void }) {
  return (
    <Empty>
      <div class="explore-empty">
        <p>Write a PromQL query above and press Enter, or pick a metric with Metrics. Metric names, labels and values complete as you type.</p>
        <p class="muted small">Try one of these, from the span metrics Osprey derives from traces:</p>
        <ul>
          {EXAMPLES.map((ex) => (
            <li key={ex}>
              <button type="button" class="link-button mono" onClick={() => onPick(ex)}>
                {ex}
              </button>
            </li>
          ))}
        </ul>
      </div>
    </Empty>
  );
}

function Tables({ active, results }: { active: Active[]; results: Map<number, { data?: InstantResult; error?: string }> }) {
  return (
    <div class="result-tables">
      {active.map((a) => {
        const r = results.get(a.index);
        return (
          <section key={a.index} class="result-section" data-testid="explore-table-section" data-query={letter(a.index)}>
            {active.length > 1 && (
              <div class="result-section-head">
                <span class="query-letter mono">{letter(a.index)}</span>
                <span class="mono muted result-expr">{a.expr}</span>
              </div>
            )}
            {r === undefined ? (
              <Loading what="result" />
            ) : r.data !== undefined ? (
              <InstantTable result={r.data} />
            ) : (
              <p class="faint small result-failed">No result: see the query's error above.</p>
            )}
          </section>
        );
      })}
    </div>
  );
}

function GraphResult(p: {
  loaded: boolean;
  failed: boolean;
  queries: GraphQuery[];
  exemplars: GraphExemplars[] | undefined;
  range: { start: number; end: number } | null;
  stacked: boolean;
  several: boolean;
}) {
  if (!p.loaded) return p.failed ? null : <Loading what="series" />;
  if (p.queries.every((q) => q.series.length === 0)) return <Empty>{p.several ? "The queries returned" : "The query returned"} no series in this time range.</Empty>;
  if (p.range === null) return null;
  return (
    <Graph
      queries={p.queries}
      exemplars={p.exemplars}
      range={p.range}
      stacked={p.stacked}
      onOpenTrace={(id) => navigate(hrefTo(`/trace/${encodeURIComponent(id)}`))}
    />
  );
}

export default function Explore({ loc }: PageProps) {
  const range = useTimeRange();
  const specs = useMemo(() => readQueries(loc.params), [loc.href]);
  const key = queriesKey(specs);
  const tab = loc.params.get("tab") === "table" ? "table" : "graph";
  const stepParam = loc.params.get("step") ?? "";
  const stacked = loc.params.get("stack") === "1";
  const showExemplars = loc.params.get("exemplars") === "1";
  const [drafts, setDrafts] = useState<string[]>(() => specs.map((s) => s.expr));
  const [history, setHistory] = useState(readHistory);
  useEffect(() => setDrafts(specs.map((s) => s.expr)), [key]);

  const res = range.resolved;
  const stepMs = parseDuration(stepParam);
  const step = useMemo(() => {
    if (res === null) return 0;
    if (stepMs !== null && stepMs > 0) return stepMs / 1000;
    return autoStepSeconds(res, 300);
  }, [res, stepMs]);

  const active: Active[] = useMemo(() => specs.flatMap((s, i) => (s.enabled && s.expr.trim() !== "" ? [{ index: i, expr: s.expr }] : [])), [key]);
  const start = res?.start ?? 0;
  const end = res?.end ?? 0;
  const { graph, table, exem } = useResults({ active, start, end, step, tick: range.tick, ready: res !== null, tab, exemplars: showExemplars });
  const current = tab === "graph" ? graph : table;
  const outcomes = byIndex<unknown>(current.data);
  const exOutcomes = byIndex(exem.data);

  const graphQueries: GraphQuery[] = useMemo(
    () => (graph.data ?? []).flatMap((o) => (o.data !== undefined ? [{ index: o.index, series: o.data }] : [])),
    [graph.data],
  );
  const graphExemplars: GraphExemplars[] | undefined = useMemo(
    () => (showExemplars && exem.data ? exem.data.flatMap((o) => (o.data !== undefined ? [{ index: o.index, groups: o.data }] : [])) : undefined),
    [exem.data, showExemplars],
  );
  const colors = useMemo(() => queryColors(graphQueries), [graphQueries]);
  const seriesCount = graphQueries.reduce((n, q) => n + q.series.length, 0);
  const exemplarCount = graphExemplars?.reduce((n, q) => n + q.groups.reduce((m, g) => m + g.exemplars.length, 0), 0);

  /** The queries as shown: the URL's, with what is typed in each editor. */
  const shown = (): QuerySpec[] => specs.map((s, i) => ({ expr: drafts[i] ?? s.expr, enabled: s.enabled }));
  const commit = (list: QuerySpec[]) => {
    const clean = list.map((s) => ({ expr: s.expr.trim(), enabled: s.enabled }));
    remember(clean.filter((s) => s.enabled).map((s) => s.expr));
    setHistory(readHistory());
    if (queriesKey(clean) === key) {
      refreshNow();
      return;
    }
    writeQueries(clean);
  };
  const edit = (fn: (list: QuerySpec[]) => void) => {
    const list = shown();
    fn(list);
    commit(list);
  };
  const setExpr = (i: number, v: string) =>
    edit((l) => {
      const s = l[i];
      if (s !== undefined) s.expr = v;
    });

  return (
    <div class="page explore-page">
      <h1 class="sr-only">Metrics</h1>
      <div class="explore-query panel">
        <div class="query-rows">
          {specs.map((s, i) => {
            const o = outcomes.get(i);
            const e = exOutcomes.get(i);
            return (
              <QueryRow
                key={i}
                index={i}
                spec={s}
                color={colors.get(i)}
                onDraft={(v) => setDrafts((d) => Object.assign([...d], { [i]: v }))}
                onRun={(v) => setExpr(i, v)}
                onReplace={(v) => setExpr(i, v)}
                onEdit={edit}
                canAdd={specs.length < MAX_QUERIES}
                canRemove={specs.length > 1}
                history={history}
                error={s.enabled ? (o?.error ?? (e?.error !== undefined ? `Exemplars: ${e.error}` : undefined)) : undefined}
                warnings={s.enabled ? [...(o?.warnings ?? []), ...(e?.warnings ?? [])] : []}
                infos={s.enabled ? [...(o?.infos ?? []), ...(e?.infos ?? [])] : []}
              />
            );
          })}
        </div>
        <Options
          tab={tab}
          stepParam={stepParam}
          step={step}
          stacked={stacked}
          exemplars={showExemplars}
          seriesCount={graph.data !== undefined ? seriesCount : undefined}
          exemplarCount={exemplarCount}
          at={res?.end}
          queries={specs.length}
          canAdd={specs.length < MAX_QUERIES}
          onAdd={() => edit((l) => l.push({ expr: "", enabled: true }))}
          onRun={() => commit(shown())}
        />
        {stepParam !== "" && stepMs === null && <ErrorState compact message={`"${stepParam}" is not a step: use 15s, 1m, 5m…`} />}
      </div>
      <Busy on={current.loading || exem.loading} />
      {range.error !== null && <ErrorState title="Invalid time range" message={range.error} />}
      <div class="explore-result panel">
        {current.error !== null && <ErrorState title="Query error" message={current.error} />}
        {active.length === 0 ? (
          specs.some((s) => s.expr.trim() !== "") ? (
            <Empty>Every query is turned off: turn one on with its eye button.</Empty>
          ) : (
            <Examples onPick={(q) => setExpr(0, q)} />
          )
        ) : tab === "graph" ? (
          <GraphResult loaded={graph.data !== undefined} failed={graph.error !== null} queries={graphQueries} exemplars={graphExemplars} range={res} stacked={stacked} several={active.length > 1} />
        ) : table.data === undefined ? (
          table.error === null && <Loading what="result" />
        ) : (
          <Tables active={active} results={byIndex(table.data)} />
        )}
      </div>
    </div>
  );
}
