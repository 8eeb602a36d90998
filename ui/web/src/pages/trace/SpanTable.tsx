// The trace as a table of spans: service, operation, start, duration and
// self time (the time no child ran), sortable (`?sort=-self`, a click on a
// header sorts by it, a second click reverses), rows virtualised so 10,000+
// spans scroll smoothly. Above it, where the trace's self time went by service.

import { useEffect, useMemo, useRef } from "preact/hooks";
import { Icon } from "../../components/Icon";
import { formatMicros, serviceColor, type SpanNode, type TraceTree } from "../../lib/trace";
import { useVirtualizer } from "../../lib/virtual";
import { updateParams } from "../../router";

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
  focus: { node: SpanNode; seq: number } | null;
}

export function SpanTable({ tree, self, nodes, sort, selected, onSelect, focus }: SpanTableProps) {
  const { key, desc } = parseSpanSort(sort);
  const rows = useMemo(() => sortSpans(nodes, self, key, desc), [nodes, self, key, desc]);
  const scroller = useRef<HTMLDivElement>(null);
  const v = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW,
    overscan: 20,
    getItemKey: (i) => rows[i]?.index ?? i,
  });
  useEffect(() => {
    if (focus === null) return;
    const i = rows.indexOf(focus.node);
    if (i >= 0) v.scrollToIndex(i, { align: "auto" });
  }, [focus?.seq]);

  const sortBy = (k: SpanSortKey) => {
    const numeric = COLUMNS.find((c) => c.key === k)?.num ?? false;
    const next = k === key ? (desc ? k : `-${k}`) : numeric && k !== "start" ? `-${k}` : k;
    updateParams({ sort: next === DEFAULT_SPAN_SORT ? null : next }, { replace: true });
  };

  return (
    <div class="span-table" data-testid="span-table" data-rows={rows.length}>
      <SelfByService tree={tree} self={self} />
      <div class="st-head st-grid" role="row">
        {COLUMNS.map((c) => (
          <div key={c.key} role="columnheader" class={`st-th${c.num ? " num" : ""}${c.key === key ? " sorted" : ""}`} data-sort={c.key} aria-sort={c.key === key ? (desc ? "descending" : "ascending") : "none"}>
            <button type="button" class="st-sort" title={c.title} onClick={() => sortBy(c.key)}>
              {c.label}
              <span class="st-sort-arrow" aria-hidden="true">
                {c.key === key ? (desc ? "▼" : "▲") : ""}
              </span>
            </button>
          </div>
        ))}
      </div>
      <div class="st-scroll" ref={scroller} role="table" aria-label="Spans" aria-rowcount={rows.length}>
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
                <div class="st-cell st-svc" title={n.service}>
                  <span class="swatch" style={{ background: serviceColor(n.service) }} />
                  {n.service || "(unknown)"}
                </div>
                <div class="st-cell st-op" title={`${s.operationName} (depth ${n.depth})`}>
                  {n.error && <Icon name="alert" size={12} title="error" />}
                  <span>{s.operationName}</span>
                </div>
                <div class="st-cell num mono faint">+{formatMicros(n.start - tree.start)}</div>
                <div class="st-cell num mono" data-testid="span-table-duration">
                  {formatMicros(s.duration)}
                </div>
                <div class="st-cell num mono st-self" title={`${(share * 100).toFixed(1)}% of the span`}>
                  <span class="st-self-bar" style={{ width: `${share * 100}%` }} />
                  <span class="st-self-value" data-testid="span-table-self">
                    {formatMicros(own)}
                  </span>
                </div>
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
}
