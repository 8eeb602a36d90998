// Running every enabled query at once: each query's answer or error is a
// value of its own (one bad query does not hide the others' results); only a
// server that cannot be reached fails the whole load (and the error banner).
// Range queries for the graph, instant queries for the table, exemplars.

import { ApiError, describeError, isAbort } from "../../api/http";
import { exemplars, queryInstant, queryRange, type ExemplarGroup, type InstantResult, type RangeSeries } from "../../api/prometheus";
import { useLoad } from "../../lib/load";

export interface Outcome<T> {
  /** The query's position (A = 0). */
  index: number;
  data?: T;
  warnings: string[];
  infos: string[];
  error?: string;
}

export interface Active {
  index: number;
  expr: string;
}

export async function runAll<T>(
  active: Active[],
  run: (expr: string) => Promise<{ data: T; warnings?: string[]; infos?: string[] }>,
): Promise<Outcome<T>[]> {
  return Promise.all(
    active.map(async (a): Promise<Outcome<T>> => {
      try {
        const r = await run(a.expr);
        return { index: a.index, data: r.data, warnings: r.warnings ?? [], infos: r.infos ?? [] };
      } catch (e) {
        if (isAbort(e) || (e instanceof ApiError && e.isUnavailable)) throw e;
        return { index: a.index, warnings: [], infos: [], error: describeError(e) };
      }
    }),
  );
}

/** An outcome by query position. */
export function byIndex<T>(list: Outcome<T>[] | undefined): Map<number, Outcome<T>> {
  return new Map((list ?? []).map((o) => [o.index, o]));
}

export interface ResultsInput {
  active: Active[];
  /** The range (epoch ms) and step (seconds). */
  start: number;
  end: number;
  step: number;
  tick: number;
  /** The range is valid. */
  ready: boolean;
  tab: "graph" | "table";
  exemplars: boolean;
}

/** Range queries (graph), instant queries at the end (table), exemplars (graph, when asked). */
export function useResults(p: ResultsInput) {
  const { active, start, end, step, tick } = p;
  const key = JSON.stringify(active);
  const on = active.length > 0 && p.ready;
  const graph = useLoad((s) => runAll<RangeSeries[]>(active, (query) => queryRange({ query, start, end, step }, s)), [key, start, end, step, tick], {
    label: "Could not run the queries",
    enabled: on && p.tab === "graph",
    resetOn: key,
  });
  const table = useLoad((s) => runAll<InstantResult>(active, (query) => queryInstant({ query, time: end }, s)), [key, end, tick], {
    label: "Could not run the queries",
    enabled: on && p.tab === "table",
    resetOn: key,
  });
  const exem = useLoad(
    (s) => runAll<ExemplarGroup[]>(active, async (query) => ({ data: await exemplars({ query, start, end }, s) })),
    [key, start, end, tick],
    { label: "Could not load exemplars", enabled: on && p.tab === "graph" && p.exemplars, resetOn: key },
  );
  return { graph, table, exem };
}
