// The trace page's toolbar pieces: the view switch (`?view=`), the span search
// (shared by every view) and the waterfall's own controls.

import { Icon } from "../../components/Icon";
import { plural } from "../../lib/format";
import { updateParams } from "../../router";

export type View = "waterfall" | "flame" | "table";

const VIEWS: { id: View; label: string; title: string }[] = [
  { id: "waterfall", label: "Waterfall", title: "Spans on the time axis, one row each, as a collapsible tree" },
  { id: "flame", label: "Flame graph", title: "Spans stacked by depth on the time axis" },
  { id: "table", label: "Span table", title: "Every span with its self time, sortable" },
];

export function viewOf(v: string | null): View {
  return v === "flame" || v === "table" ? v : "waterfall";
}

export function ViewSwitch({ view }: { view: View }) {
  return (
    <div class="btn-group" role="group" aria-label="View">
      {VIEWS.map((v) => (
        <button
          key={v.id}
          type="button"
          class="btn small"
          aria-pressed={view === v.id}
          data-testid={`view-${v.id}`}
          title={v.title}
          onClick={() => updateParams({ view: v.id === "waterfall" ? null : v.id })}
        >
          {v.label}
        </button>
      ))}
    </div>
  );
}

export function SpanSearch({
  query,
  onQuery,
  onStep,
  count,
  cursor,
}: {
  query: string;
  onQuery: (q: string) => void;
  onStep: (dir: 1 | -1) => void;
  /** Matches (null: no search). */
  count: number | null;
  /** The match last stepped to (-1: none). */
  cursor: number;
}) {
  return (
    <div class="wf-search">
      <Icon name="search" />
      <input
        data-testid="span-search"
        data-query-bar
        placeholder="Find spans by operation, service or span id"
        value={query}
        spellcheck={false}
        autocomplete="off"
        onInput={(e) => onQuery(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === "Enter") {
            e.preventDefault();
            onStep(e.shiftKey ? -1 : 1);
          } else if (e.key === "Escape") onQuery("");
        }}
      />
      {count !== null && (
        <span class="muted small wf-match-count" data-testid="span-search-count">
          {cursor >= 0 ? `${cursor + 1} / ` : ""}
          {plural(count, "match", "matches")}
        </span>
      )}
      <button type="button" class="btn ghost icon-only small" aria-label="Previous match" title="Previous match (Shift+Enter)" disabled={!count} onClick={() => onStep(-1)}>
        <Icon name="chevronUp" size={12} />
      </button>
      <button type="button" class="btn ghost icon-only small" aria-label="Next match" title="Next match (Enter)" disabled={!count} onClick={() => onStep(1)}>
        <Icon name="chevronDown" size={12} />
      </button>
    </div>
  );
}

export function WaterfallControls(p: {
  onlyMatches: boolean;
  onOnlyMatches: (v: boolean) => void;
  critical: boolean;
  onCritical: (v: boolean) => void;
  shown: number;
  total: number;
  onExpandAll: () => void;
  onCollapseAll: () => void;
}) {
  return (
    <>
      <label class="check small">
        <input type="checkbox" checked={p.onlyMatches} data-testid="span-only-matches" onChange={(e) => p.onOnlyMatches(e.currentTarget.checked)} />
        Only matches
      </label>
      <label class="check small" title="The spans that determine the trace's duration">
        <input type="checkbox" checked={p.critical} data-testid="critical-path" onChange={(e) => p.onCritical(e.currentTarget.checked)} />
        Critical path
      </label>
      <span class="spacer" />
      <span class="faint small">{p.shown === p.total ? plural(p.shown, "row") : `${p.shown.toLocaleString("en-US")} of ${plural(p.total, "span")} shown`}</span>
      <div class="btn-group">
        <button type="button" class="btn small" data-testid="expand-all" onClick={p.onExpandAll}>
          Expand all
        </button>
        <button type="button" class="btn small" data-testid="collapse-all" title="Collapse every subtree" onClick={p.onCollapseAll}>
          Collapse all
        </button>
      </div>
    </>
  );
}
