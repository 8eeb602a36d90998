// A panel's queries in the panel editor: PromQL with the same editor as
// /explore (loaded on demand), LogQL as text, each with its legend format and
// instant switch, or a trace search (service, span name, min duration, limit:
// Tempo's search fields); queries added, hidden and removed.

import { useEffect, useState } from "preact/hooks";
import type { ComponentType } from "preact";
import { isObj, strOf, type Json } from "../model/grafana";

type EditorProps = { value: string; onChange: (v: string) => void; onRun: (v: string) => void };

/** The PromQL editor lives in /explore's chunk (CodeMirror): fetched when first needed. */
function usePromqlEditor(): ComponentType<EditorProps> | null {
  const [ed, setEd] = useState<ComponentType<EditorProps> | null>(null);
  useEffect(() => {
    void import("../../explore/PromqlEditor").then((m) => setEd(() => m.PromqlEditor));
  }, []);
  return ed;
}

const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/**
 * `panel` is being edited; `ran` is what was last run. The PromQL editor is given
 * the query as last run (as /explore gives it the committed query): given the draft,
 * its echo of each keystroke would race the typing.
 */
export function QueryEditor({ panel, ran, onChange, onRun }: { panel: Json; ran: Json; onChange: (p: Json) => void; onRun: (p?: Json) => void }) {
  const Promql = usePromqlEditor();
  const targets = Array.isArray(panel.targets) ? panel.targets.filter(isObj) : [];
  const ranExpr = (refId: unknown) => {
    const t = (Array.isArray(ran.targets) ? ran.targets.filter(isObj) : []).find((x) => x.refId === refId);
    return strOf(t?.expr);
  };
  const ds = isObj(panel.datasource) ? strOf(panel.datasource.type, "prometheus") : "prometheus";
  const patched = (i: number, patch: Json): Json => ({ ...panel, targets: targets.map((t, k) => (k === i ? { ...t, ...patch } : t)) });
  const set = (i: number, patch: Json) => onChange(patched(i, patch));
  const add = () => {
    const used = new Set(targets.map((t) => strOf(t.refId)));
    const refId = [...letters].find((l) => !used.has(l)) ?? `Q${targets.length}`;
    onChange({ ...panel, targets: [...targets, { refId, expr: "", legendFormat: "" }] });
  };
  return (
    <div class="dash-queries" data-testid="panel-queries">
      <label class="dash-field">
        <span>Data source</span>
        <select
          value={ds}
          data-testid="panel-ds"
          onChange={(e) => {
            const type = e.currentTarget.value;
            const uid = type === "loki" ? "osprey-loki" : type === "tempo" ? "osprey-tempo" : "osprey";
            // A trace search is one query of its own kind.
            const retarget = type === "tempo" ? { targets: [{ refId: "A", queryType: "nativeSearch", serviceName: "", spanName: "", limit: 20 }] } : {};
            onChange({ ...panel, datasource: { type, uid }, ...retarget });
          }}
        >
          <option value="prometheus">Prometheus (PromQL)</option>
          <option value="loki">Loki (LogQL)</option>
          <option value="tempo">Tempo (trace search)</option>
        </select>
      </label>
      {targets.map((t, i) => (
        <div key={strOf(t.refId)} class="dash-query" data-testid="panel-query">
          <div class="dash-query-head">
            <strong class="mono">{strOf(t.refId)}</strong>
            <label>
              <input type="checkbox" checked={t.instant === true} onChange={(e) => set(i, { instant: e.currentTarget.checked, range: !e.currentTarget.checked })} /> instant
            </label>
            <label>
              <input type="checkbox" checked={t.hide === true} onChange={(e) => set(i, { hide: e.currentTarget.checked })} /> hide
            </label>
            <span class="spacer" />
            <button type="button" class="btn small" onClick={() => onChange({ ...panel, targets: targets.filter((_, k) => k !== i) })}>
              Remove
            </button>
          </div>
          {ds === "tempo" ? (
            <div class="dash-field-row" data-testid="trace-search-fields">
              {(["serviceName", "spanName", "minDuration", "limit"] as const).map((k) => (
                <label key={k} class="dash-field">
                  <span>{k === "serviceName" ? "Service" : k === "spanName" ? "Span name" : k === "minDuration" ? "Min duration" : "Limit"}</span>
                  <input class="input" value={strOf(t[k])} data-testid={`trace-${k}`} onInput={(e) => set(i, { [k]: k === "limit" ? Number(e.currentTarget.value) || 20 : e.currentTarget.value })} onBlur={() => onRun()} />
                </label>
              ))}
            </div>
          ) : ds === "prometheus" && Promql !== null ? (
            <Promql value={ranExpr(t.refId)} onChange={(v) => set(i, { expr: v })} onRun={(v) => {
                const next = patched(i, { expr: v });
                onChange(next);
                onRun(next);
              }} />
          ) : (
            <textarea class="mono" rows={3} value={strOf(t.expr)} data-testid="panel-expr" onInput={(e) => set(i, { expr: e.currentTarget.value })} onBlur={() => onRun()} />
          )}
          <label class="dash-field" hidden={ds === "tempo"}>
            <span>Legend</span>
            <input class="input" value={strOf(t.legendFormat)} placeholder="{{label}}" onInput={(e) => set(i, { legendFormat: e.currentTarget.value })} onBlur={() => onRun()} />
          </label>
        </div>
      ))}
      <div class="dash-query-actions">
        <button type="button" class="btn small" onClick={add} data-testid="panel-add-query">
          Add query
        </button>
        <button type="button" class="btn small primary" onClick={() => onRun()} data-testid="panel-run">
          Run queries
        </button>
      </div>
    </div>
  );
}
