// One query of the explore view: its letter (the legend groups by it), an
// enable toggle, the PromQL editor, the metric browser and history for this
// query, duplicate and remove; its own error, warnings and infos underneath,
// in the API's words.

import { useState } from "preact/hooks";
import { Icon } from "../../components/Icon";
import { ErrorState } from "../../components/States";
import { MetricBrowser } from "./MetricBrowser";
import { PromqlEditor } from "./PromqlEditor";
import { letter, type QuerySpec } from "./queries";

/** Icons only this row uses (16px strokes, as components/Icon). */
const PATHS = {
  copy: "M5.5 5.5h8v8h-8zM10.5 5.5v-3h-8v8h3",
  trash: "M3 4.5h10M6.5 4.5V3h3v1.5M4.5 4.5l.6 9h5.8l.6-9",
  eye: "M1.5 8s2.4-4.5 6.5-4.5S14.5 8 14.5 8s-2.4 4.5-6.5 4.5S1.5 8 1.5 8zM8 6a2 2 0 1 0 0 4 2 2 0 0 0 0-4z",
  eyeOff: "M2 2l12 12M6.6 3.7A6.6 6.6 0 0 1 8 3.5c4.1 0 6.5 4.5 6.5 4.5a11 11 0 0 1-1.9 2.4M10.5 11.9a6 6 0 0 1-2.5.6C3.9 12.5 1.5 8 1.5 8a11 11 0 0 1 2.6-3",
};

function RowIcon({ name }: { name: keyof typeof PATHS }) {
  return (
    <svg class="icon" width={14} height={14} viewBox="0 0 16 16" fill="none" stroke="currentColor" stroke-width="1.5" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">
      <path d={PATHS[name]} />
    </svg>
  );
}

export interface QueryRowProps {
  index: number;
  /** The committed query (the URL's). */
  spec: QuerySpec;
  /** The query's colour in the graph (its first series'), when it is drawn. */
  color?: string;
  onDraft: (v: string) => void;
  /** Runs every query, with this one's text `v`. */
  onRun: (v: string) => void;
  /** Replaces this query with `v` and runs. */
  onReplace: (v: string) => void;
  /** Changes the list of queries (then runs them). */
  onEdit: (fn: (list: QuerySpec[]) => void) => void;
  canAdd: boolean;
  canRemove: boolean;
  history: string[];
  error?: string;
  warnings: string[];
  infos: string[];
}

export function QueryRow(p: QueryRowProps) {
  const [open, setOpen] = useState<"metrics" | "history" | null>(null);
  const name = letter(p.index);
  const toggleMenu = (m: "metrics" | "history") => setOpen(open === m ? null : m);
  const i = p.index;
  const toggle = () =>
    p.onEdit((l) => {
      const s = l[i];
      if (s !== undefined) s.enabled = !s.enabled;
    });
  const duplicate = () => p.onEdit((l) => l.splice(i + 1, 0, { ...(l[i] ?? { expr: "", enabled: true }) }));
  const remove = () => p.onEdit((l) => l.splice(i, 1));
  return (
    <div class={`query-row${p.spec.enabled ? "" : " disabled"}`} data-testid="query-row" data-query={name}>
      <div class="query-row-main">
        <div class="query-row-head">
          <span class="query-letter mono" style={p.color !== undefined ? { borderColor: p.color, color: p.color } : undefined} title={`Query ${name}`}>
            {name}
          </span>
          <button
            type="button"
            class="btn ghost icon-only small"
            aria-pressed={!p.spec.enabled}
            aria-label={p.spec.enabled ? `Disable query ${name}` : `Enable query ${name}`}
            title={p.spec.enabled ? "Hide this query's series (keeps the query)" : "Show this query's series"}
            data-testid="query-toggle"
            onClick={toggle}
          >
            <RowIcon name={p.spec.enabled ? "eye" : "eyeOff"} />
          </button>
        </div>
        <PromqlEditor value={p.spec.expr} onChange={p.onDraft} onRun={p.onRun} />
        <div class="query-row-actions">
          <div class="history">
            <button type="button" class="btn" aria-expanded={open === "metrics"} data-testid="metric-browser-toggle" onClick={() => toggleMenu("metrics")} title="Browse metrics, their labels and values">
              Metrics
              <Icon name="down" size={12} />
            </button>
            {open === "metrics" && (
              <MetricBrowser
                onClose={() => setOpen(null)}
                onPick={(q) => {
                  setOpen(null);
                  p.onReplace(q);
                }}
              />
            )}
          </div>
          <div class="history">
            <button type="button" class="btn" aria-expanded={open === "history"} onClick={() => toggleMenu("history")} disabled={p.history.length === 0} title="Query history" data-testid="history-toggle">
              History
              <Icon name="down" size={12} />
            </button>
            {open === "history" && (
              <ul class="popover history-popover" role="listbox" aria-label="Query history">
                {p.history.map((h) => (
                  <li key={h}>
                    <button
                      type="button"
                      class="mono"
                      title={h}
                      onClick={() => {
                        setOpen(null);
                        p.onReplace(h);
                      }}
                    >
                      {h}
                    </button>
                  </li>
                ))}
              </ul>
            )}
          </div>
          <button type="button" class="btn ghost icon-only" aria-label={`Duplicate query ${name}`} title="Duplicate this query" data-testid="query-duplicate" disabled={!p.canAdd} onClick={duplicate}>
            <RowIcon name="copy" />
          </button>
          <button type="button" class="btn ghost icon-only" aria-label={`Remove query ${name}`} title="Remove this query" data-testid="query-remove" disabled={!p.canRemove} onClick={remove}>
            <RowIcon name="trash" />
          </button>
        </div>
      </div>
      {(p.error !== undefined || p.warnings.length > 0 || p.infos.length > 0) && (
        <div class="query-notes">
          {p.error !== undefined && <ErrorState compact message={p.error} />}
          {p.warnings.map((w) => (
            <div key={`w-${w}`} class="query-note warning" role="status" data-testid="query-warning">
              <Icon name="alert" size={14} />
              <span>{w}</span>
            </div>
          ))}
          {p.infos.map((w) => (
            <div key={`i-${w}`} class="query-note info" role="status" data-testid="query-info">
              <span class="query-note-mark" aria-hidden="true" />
              <span>{w}</span>
            </div>
          ))}
        </div>
      )}
    </div>
  );
}
