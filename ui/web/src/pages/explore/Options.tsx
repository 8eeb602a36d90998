// The bar under the queries: graph or table, step, stacked, exemplars, what
// the answer holds, add a query, run.

import { Icon } from "../../components/Icon";
import { Tabs, type TabDef } from "../../components/Tabs";
import { updateParams } from "../../router";
import { formatCount } from "../../lib/format";
import { formatDuration, formatUtc } from "../../lib/time";

export interface OptionsProps {
  tab: "graph" | "table";
  stepParam: string;
  /** The step in use (seconds). */
  step: number;
  stacked: boolean;
  exemplars: boolean;
  /** Series drawn (graph), when the answer is in. */
  seriesCount?: number;
  /** Exemplars fetched, when they are on and in. */
  exemplarCount?: number;
  /** The table's time (epoch ms). */
  at?: number;
  queries: number;
  canAdd: boolean;
  onAdd: () => void;
  onRun: () => void;
}

const RESULT_TABS: TabDef<"graph" | "table">[] = [
  { id: "graph", label: "Graph" },
  { id: "table", label: "Table" },
];

function describe(p: OptionsProps): string {
  if (p.tab === "table") return p.at !== undefined ? `at ${formatUtc(p.at)} UTC` : "";
  if (p.seriesCount === undefined) return "";
  const ex = p.exemplarCount !== undefined ? ` · ${formatCount(p.exemplarCount)} exemplars` : "";
  return `${formatCount(p.seriesCount)} series${ex} · step ${formatDuration(p.step * 1000)}`;
}

export function Options(p: OptionsProps) {
  return (
    <div class="explore-options">
      <Tabs label="Show as" tabs={RESULT_TABS} value={p.tab} onSelect={(t) => updateParams({ tab: t === "graph" ? null : t })} />
      {p.tab === "graph" && (
        <>
          <label class="opt">
            Step
            <input
              class="input mono step-input"
              placeholder={`auto (${formatDuration(p.step * 1000)})`}
              value={p.stepParam}
              size={9}
              onChange={(e) => updateParams({ step: e.currentTarget.value.trim() || null })}
              title="Resolution: 15s, 1m, 5m… (empty: automatic)"
            />
          </label>
          <label class="check">
            <input type="checkbox" checked={p.stacked} onChange={(e) => updateParams({ stack: e.currentTarget.checked ? "1" : null }, { replace: true })} />
            Stacked
          </label>
          <label class="check" title="Draw the exemplars of the queries' series (click one to open its trace)">
            <input
              type="checkbox"
              checked={p.exemplars}
              data-testid="exemplars-toggle"
              onChange={(e) => updateParams({ exemplars: e.currentTarget.checked ? "1" : null }, { replace: true })}
            />
            Exemplars
          </label>
        </>
      )}
      <span class="spacer" />
      <span class="muted small explore-meta" data-testid="explore-meta">
        {describe(p)}
      </span>
      <button type="button" class="btn" data-testid="add-query" disabled={!p.canAdd} onClick={p.onAdd}>
        <Icon name="plus" size={12} />
        Add query
      </button>
      <button type="button" class="btn primary" data-testid="run-query" onClick={p.onRun}>
        <Icon name="play" size={12} />
        {p.queries > 1 ? "Run queries" : "Run query"}
      </button>
    </div>
  );
}
