// The trace as a table of spans: service, operation, start, duration and
// self time (the time no child ran), sortable (`?sort=-self`, a click on a
// header sorts by it, a second click reverses), rows virtualised so 10,000+
// spans scroll smoothly. Above it, where the trace's self time went by service.

import { useMemo } from "preact/hooks";
import { Icon } from "../../components/Icon";
import { SortHeader, sortBy } from "../../components/SortHeader";
import { formatMicros, serviceColor, type SpanNode, type TraceTree } from "../../lib/trace";
import { useSpanRows, type SpanFocus } from "./spanRows";

const ROW = 28;

export type SpanSortKey = "start" | "service" | "operation" | "duration" | "self";
const KEYS: SpanSortKey[] = ["start", "service", "operation", "duration", "self"];
export const DEFAULT_SPAN_SORT = "-self";

const COLUMNS: { key: SpanSortKey; label: string; title: string; num: boolean }[] = [
  { key: "service", label: "Service", title: "Sort by service", num: false },
  { key: "operation", label: "Operation", title: "Sort by operation", num: false },
  { key: "start", label: "Start", title: "Offset from the trace's start", num: true },
  { key: "duration", label: "Duration", title: "The span's duration", num: true },
  { key: "self", label: "Self time", title: "Duration minus the time covered by its children", num: true },
];

export function parseSpanSort(v: string | null): { key: SpanSortKey; desc: boolean } {
  const s = v ?? DEFAULT_SPAN_SORT;
  const key = s.replace(/^-/, "") as SpanSortKey;
  return KEYS.includes(key) ? { key, desc: s.startsWith("-") } : parseSpanSort(DEFAULT_SPAN_SORT);
}

function sortSpans(nodes: SpanNode[], self: Float64Array, key: SpanSortKey, desc: boolean): SpanNode[] {
  const dir = desc ? -1 : 1;
  const cmp: Record<SpanSortKey, (a: SpanNode, b: SpanNode) => number> = {
    start: (a, b) => a.start - b.start || a.index - b.index,
    duration: (a, b) => a.span.duration - b.span.duration,
    self: (a, b) => (self[a.index] ?? 0) - (self[b.index] ?? 0),
    service: (a, b) => a.service.localeCompare(b.service),
    operation: (a, b) => a.span.operationName.localeCompare(b.span.operationName),
  };
  const c = cmp[key];
  // Ties in tree order, whatever the direction.
  return [...nodes].sort((a, b) => dir * c(a, b) || a.index - b.index);
}

/** Self time per service, largest first: where the trace's time went. */
function SelfByService({ tree, self }: { tree: TraceTree; self: Float64Array }) {
  const parts = useMemo(() => {
    const m = new Map<string, number>();
    for (const n of tree.nodes) m.set(n.service, (m.get(n.service) ?? 0) + (self[n.index] ?? 0));
    return [...m].sort((a, b) => b[1] - a[1]);
  }, [tree, self]);
  const sum = parts.reduce((s, [, v]) => s + v, 0) || 1;
  return (
    <div class="st-summary" data-testid="self-by-service">
      <span class="faint small st-summary-title" title="The sum of every span's self time, per service">
        Self time by service
      </span>
      <div class="st-stack" aria-hidden="true">
        {parts.map(([svc, v]) => (
          <span key={svc} style={{ width: `${(v / sum) * 100}%`, background: serviceColor(svc) }} title={`${svc}: ${formatMicros(v)}`} />
        ))}
      </div>
      <div class="st-summary-legend">
        {parts.map(([svc, v]) => (
          <span key={svc} class="st-summary-item" data-service={svc} data-self-us={v}>
            <span class="swatch" style={{ background: serviceColor(svc) }} />
            {svc || "(unknown)"} <span class="mono faint">{formatMicros(v)}</span> <span class="mono">{((v / sum) * 100).toFixed(v / sum < 0.1 ? 1 : 0)}%</span>
          </span>
        ))}
      </div>
    </div>
  );
}

export interface SpanTableProps {
  tree: TraceTree;
  self: Float64Array;
  /** The spans to list (all, or the search's matches). */
  nodes: SpanNode[];
  sort: string | null;
  selected: SpanNode | null;
  onSelect: (n: SpanNode) => void;
  focus: SpanFocus;
}

export function SpanTable({ tree, self, nodes, sort, selected, onSelect, focus }: SpanTableProps) {
  const order = parseSpanSort(sort);
  const { key, desc } = order;
  const rows = useMemo(() => sortSpans(nodes, self, key, desc), [nodes, self, key, desc]);
  const { scroller, v } = useSpanRows(rows, ROW, 20, focus);

  // Durations start longest first; names and the start, in order.
  const onSort = (k: SpanSortKey) => sortBy("sort", k, order, k === "duration" || k === "self", DEFAULT_SPAN_SORT);

  return (
    <div class="span-table" data-testid="span-table" data-rows={rows.length}>
      <SelfByService tree={tree} self={self} />
      <div class="st-table" role="table" aria-label="Spans" aria-rowcount={rows.length + 1}>
        <div class="st-head st-grid caps" role="row" aria-rowindex={1}>
          {COLUMNS.map((c) => (
            <SortHeader key={c.key} id={c.key} label={c.label} title={c.title} num={c.num} sort={order} onSort={onSort} grid />
          ))}
        </div>
        <div class="st-scroll" ref={scroller}>
          <div class="st-inner" style={{ height: `${v.getTotalSize()}px` }}>
            {v.getVirtualItems().map((item) => {
              const n = rows[item.index];
              if (n === undefined) return null;
              const s = n.span;
              const own = self[n.index] ?? 0;
              const share = s.duration > 0 ? own / s.duration : 0;
              return (
                <div
                  key={item.key}
                  class={`st-row st-grid${n === selected ? " selected" : ""}${n.error ? " error" : ""}`}
                  style={{ transform: `translateY(${item.start}px)` }}
                  role="row"
                  aria-rowindex={item.index + 2}
                  tabIndex={0}
                  aria-selected={n === selected}
                  data-testid="span-table-row"
                  data-span-id={s.spanID}
                  data-duration-us={s.duration}
                  data-self-us={own}
                  data-service={n.service}
                  data-operation={s.operationName}
                  onClick={() => onSelect(n)}
                  onKeyDown={(e) => {
                    if (e.key === "Enter" || e.key === " ") {
                      e.preventDefault();
                      onSelect(n);
                    }
                  }}
                >
                  <div role="cell" class="st-cell st-svc" title={n.service}>
                    <span class="swatch" style={{ background: serviceColor(n.service) }} />
                    {n.service || "(unknown)"}
                  </div>
                  <div role="cell" class="st-cell st-op" title={`${s.operationName} (depth ${n.depth})`}>
                    {n.error && <Icon name="alert" size={12} title="error" />}
                    <span>{s.operationName}</span>
                  </div>
                  <div role="cell" class="st-cell num mono faint">+{formatMicros(n.start - tree.start)}</div>
                  <div role="cell" class="st-cell num mono" data-testid="span-table-duration">
                    {formatMicros(s.duration)}
                  </div>
                  <div role="cell" class="st-cell num mono bar-cell" title={`${(share * 100).toFixed(1)}% of the span`}>
                    <span class="bar-cell-bar" style={{ width: `${share * 100}%` }} />
                    <span class="bar-cell-value" data-testid="span-table-self">
                      {formatMicros(own)}
                    </span>
                  </div>
                </div>
              );
            })}
          </div>
        </div>
      </div>
    </div>
  );
}
