// The variables editor: each variable's name, kind, label, query (or values),
// regex, multi / include All / All value, refresh; added, reordered and
// removed. Applying writes Grafana's `templating.list` (the selection starts
// from the first option again).

import { useState } from "preact/hooks";
import { isObj, numOf, strOf, type Json } from "../model/grafana";

const TYPES = ["query", "custom", "interval", "constant", "textbox", "datasource"];

function queryText(v: Json): string {
  return isObj(v.query) ? strOf(v.query.query) : strOf(v.query);
}

export function VariablesEditor({ list, onApply, onClose }: { list: Json[]; onApply: (l: Json[]) => void; onClose: () => void }) {
  const [vars, setVars] = useState<Json[]>(list.map((v) => ({ ...v })));
  const set = (i: number, patch: Json) => setVars(vars.map((v, k) => (k === i ? { ...v, ...patch } : v)));
  const move = (i: number, by: number) => {
    const j = i + by;
    if (j < 0 || j >= vars.length) return;
    const next = [...vars];
    [next[i], next[j]] = [next[j] ?? {}, next[i] ?? {}];
    setVars(next);
  };
  const names = vars.map((v) => strOf(v.name));
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  const bad = names.find((n) => !/^[A-Za-z_]\w*$/.test(n));
  return (
    <div class="dash-editor-backdrop" role="dialog" aria-label="Variables" data-testid="variables-editor">
      <div class="dash-editor narrow">
        <header class="dash-editor-head">
          <h2>Variables</h2>
          <span class="spacer" />
          <button type="button" class="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="button" class="btn primary" disabled={dup !== undefined || bad !== undefined} onClick={() => onApply(vars)} data-testid="variables-apply">
            Apply
          </button>
        </header>
        {dup !== undefined && <p class="dash-error">Two variables are named "{dup}".</p>}
        {bad !== undefined && <p class="dash-error">"{bad}" is not a variable name (letters, digits and _).</p>}
        {vars.map((v, i) => (
          <div key={i} class="dash-var-edit" data-testid="variable-edit">
            <div class="dash-field-row">
              <label class="dash-field">
                <span>Name</span>
                <input class="input" value={strOf(v.name)} data-testid="variable-name" onInput={(e) => set(i, { name: e.currentTarget.value })} />
              </label>
              <label class="dash-field">
                <span>Kind</span>
                <select value={strOf(v.type, "query")} data-testid="variable-type" onChange={(e) => set(i, { type: e.currentTarget.value })}>
                  {TYPES.map((t) => (
                    <option key={t} value={t}>
                      {t}
                    </option>
                  ))}
                </select>
              </label>
              <label class="dash-field">
                <span>Label</span>
                <input class="input" value={strOf(v.label)} onInput={(e) => set(i, { label: e.currentTarget.value })} />
              </label>
            </div>
            <label class="dash-field">
              <span>{strOf(v.type, "query") === "query" ? "Query" : "Values"}</span>
              <input
                class="input mono"
                value={queryText(v)}
                data-testid="variable-query"
                placeholder={strOf(v.type, "query") === "query" ? "label_values(metric, label)" : "a,b,c"}
                onInput={(e) => set(i, { query: e.currentTarget.value, definition: e.currentTarget.value, current: {}, options: [] })}
              />
            </label>
            <div class="dash-field-row">
              <label class="dash-field">
                <span>Regex</span>
                <input class="input mono" value={strOf(v.regex)} onInput={(e) => set(i, { regex: e.currentTarget.value })} />
              </label>
              <label>
                <input type="checkbox" checked={v.multi === true} onChange={(e) => set(i, { multi: e.currentTarget.checked })} /> multi
              </label>
              <label>
                <input type="checkbox" checked={v.includeAll === true} onChange={(e) => set(i, { includeAll: e.currentTarget.checked })} /> All
              </label>
              <label class="dash-field">
                <span>All value</span>
                <input class="input mono" value={strOf(v.allValue)} onInput={(e) => set(i, { allValue: e.currentTarget.value || null })} />
              </label>
              <label class="dash-field">
                <span>Refresh</span>
                <select value={String(numOf(v.refresh) ?? 1)} onChange={(e) => set(i, { refresh: Number(e.currentTarget.value) })}>
                  <option value="1">On load</option>
                  <option value="2">On time range change</option>
                </select>
              </label>
            </div>
            <div class="dash-query-actions">
              <button type="button" class="btn small" onClick={() => move(i, -1)} disabled={i === 0}>
                Up
              </button>
              <button type="button" class="btn small" onClick={() => move(i, 1)} disabled={i === vars.length - 1}>
                Down
              </button>
              <button type="button" class="btn small" onClick={() => setVars(vars.filter((_, k) => k !== i))}>
                Remove
              </button>
            </div>
          </div>
        ))}
        <button
          type="button"
          class="btn"
          data-testid="variable-add"
          onClick={() => setVars([...vars, { name: `var${vars.length + 1}`, type: "query", query: "", refresh: 1, datasource: { type: "prometheus", uid: "osprey" } }])}
        >
          Add variable
        </button>
      </div>
    </div>
  );
}
