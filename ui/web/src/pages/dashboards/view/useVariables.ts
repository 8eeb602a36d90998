// Resolving a dashboard's variables in order (each query sees the ones before
// it), again when a selection in the URL changes and, for variables that
// refresh on time range change, when the range does. Option lists are kept
// per query and range, so a new selection only queries what depends on it.

import { useEffect, useRef, useState } from "preact/hooks";
import { describeError, isAbort } from "../../../api/http";
import type { Json } from "../model/grafana";
import { interpolate, type Scope } from "../model/interpolate";
import { optionsOf, parseVariable, select, valueOf, type Option, type Resolved } from "../model/variables";

export interface VariablesState {
  resolved: Resolved[] | null;
  scope: Scope;
}

/** The URL's selection of each variable (`var-<name>`, repeated for several values). */
export function urlSelection(params: URLSearchParams, name: string): string[] {
  return params.getAll(`var-${name}`);
}

export function useVariables(defs: Json[], params: URLSearchParams, range: { start: number; end: number }, dashKey: string): VariablesState {
  // Resolved for which dashboard (a state from before the dashboard loaded is no answer).
  const [state, setState] = useState<VariablesState & { key: string }>({ key: "", resolved: null, scope: new Map() });
  const cache = useRef(new Map<string, Option[]>());
  const vars = defs.map(parseVariable);
  const byRange = vars.some((v) => v.type === "query" && v.refresh === 2) || vars.some((v) => v.type === "interval" && v.raw.auto === true);
  const selKey = JSON.stringify(vars.map((v) => urlSelection(params, v.name)));
  const rangeKey = byRange ? `${range.start}:${range.end}` : "";

  useEffect(() => {
    const ctl = new AbortController();
    void (async () => {
      const out: Resolved[] = [];
      const scope: Scope = new Map();
      for (const v of vars) {
        const q = interpolate(v.query, scope, "query");
        const key = JSON.stringify([v.type, v.dsType, q, v.regex, v.sort, v.type === "query" && v.refresh === 2 ? rangeKey : "", v.type === "interval" ? rangeKey : ""]);
        let options = cache.current.get(key);
        let error: string | null = null;
        if (options === undefined) {
          try {
            options = await optionsOf(v, scope, { start: range.start, end: range.end, signal: ctl.signal });
            cache.current.set(key, options);
          } catch (e) {
            if (isAbort(e) || ctl.signal.aborted) return;
            error = describeError(e);
            options = [];
          }
        }
        const r: Resolved = { v, options, selected: select(v, options, urlSelection(params, v.name)), error };
        out.push(r);
        scope.set(v.name, valueOf(r));
      }
      if (!ctl.signal.aborted) setState({ key: dashKey, resolved: out, scope });
    })();
    return () => ctl.abort();
  }, [dashKey, selKey, rangeKey]);
  return state.key === dashKey ? state : { resolved: null, scope: new Map() };
}
