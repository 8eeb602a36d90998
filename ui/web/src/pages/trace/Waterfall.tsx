// The waterfall: one row per span (depth-first, children in start order),
// indented by depth with collapsible subtrees, the span's bar on the trace's
// time axis in its service's colour. Rows are virtualised (fixed height), so
// traces of 10,000+ spans scroll smoothly.

import { Icon } from "../../components/Icon";
import { formatMicros, serviceColor, type SpanNode, type TraceTree } from "../../lib/trace";
import { useSpanRows, type SpanFocus } from "./spanRows";

const ROW = 26;
const INDENT = 14;
/** Deeper levels keep this indent (the depth is in the row's title). */
const MAX_INDENT_LEVELS = 24;
const TICKS = 4;

export interface WaterfallProps {
  tree: TraceTree;
  rows: SpanNode[];
  collapsed: ReadonlySet<SpanNode>;
  onToggle: (n: SpanNode) => void;
  selected: SpanNode | null;
  onSelect: (n: SpanNode) => void;
  /** Search matches (null: no search). */
  matches: ReadonlySet<SpanNode> | null;
  critical: ReadonlySet<SpanNode> | null;
  /** Scrolls this row into view when it changes. */
  focus: SpanFocus;
}

export function TimeAxis({ total }: { total: number }) {
  return (
    <div class="wf-head" aria-hidden="true">
      <div class="wf-head-name">Service &amp; operation</div>
      <div class="wf-head-time">
        {Array.from({ length: TICKS + 1 }, (_, i) => (
          <span key={i} class={`wf-tick${i === TICKS ? " last" : ""}`} style={{ left: `${(i / TICKS) * 100}%` }}>
            {i === 0 ? "0" : formatMicros((total * i) / TICKS)}
          </span>
        ))}
      </div>
    </div>
  );
}

export function Waterfall({ tree, rows, collapsed, onToggle, selected, onSelect, matches, critical, focus }: WaterfallProps) {
  const { scroller, v } = useSpanRows(rows, ROW, 16, focus);
  const total = Math.max(tree.end - tree.start, 1);

  return (
    <div class="waterfall" data-testid="waterfall">
      <TimeAxis total={total} />
      <div class="wf-scroll" ref={scroller} role="tree" aria-label="Spans" tabIndex={-1}>
        <div class="wf-inner" style={{ height: `${v.getTotalSize()}px` }}>
          <div class="wf-grid" aria-hidden="true">
            {Array.from({ length: TICKS - 1 }, (_, i) => (
              <span key={i} style={{ left: `${((i + 1) / TICKS) * 100}%` }} />
            ))}
          </div>
          {v.getVirtualItems().map((item) => {
            const n = rows[item.index];
            if (n === undefined) return null;
            const s = n.span;
            const left = ((n.start - tree.start) / total) * 100;
            const width = (s.duration / total) * 100;
            const color = serviceColor(n.service);
            const isCollapsed = collapsed.has(n);
            const match = matches?.has(n) ?? false;
            const cls = [
              "wf-row",
              n === selected ? "selected" : "",
              n.error ? "error" : "",
              matches !== null ? (match ? "match" : "dim") : "",
              critical !== null ? (critical.has(n) ? "crit" : "dim") : "",
            ]
              .filter((c) => c !== "")
              .join(" ");
            const labelRight = left + width < 78;
            return (
              <div
                key={item.key}
                class={cls}
                style={{ transform: `translateY(${item.start}px)` }}
                role="treeitem"
                aria-level={n.depth + 1}
                aria-expanded={n.children.length > 0 ? !isCollapsed : undefined}
                aria-selected={n === selected}
                tabIndex={0}
                data-testid="span-row"
                data-span-id={s.spanID}
                data-duration-us={s.duration}
                data-depth={n.depth}
                data-index={item.index}
                onClick={() => onSelect(n)}
                onKeyDown={(e) => {
                  if (e.key === "Enter" || e.key === " ") {
                    e.preventDefault();
                    onSelect(n);
                  } else if ((e.key === "ArrowLeft" && !isCollapsed) || (e.key === "ArrowRight" && isCollapsed)) {
                    if (n.children.length > 0) onToggle(n);
                  }
                }}
              >
                <div class="wf-name" style={{ paddingLeft: `${6 + Math.min(n.depth, MAX_INDENT_LEVELS) * INDENT}px` }} title={`${n.service}: ${s.operationName} (depth ${n.depth})`}>
                  {n.children.length > 0 ? (
                    <button
                      type="button"
                      class="wf-toggle"
                      data-testid="span-toggle"
                      aria-label={isCollapsed ? `Expand ${n.descendants} spans` : "Collapse"}
                      title={isCollapsed ? `Expand (${n.descendants} spans)` : "Collapse"}
                      onClick={(e) => {
                        e.stopPropagation();
                        onToggle(n);
                      }}
                    >
                      <Icon name={isCollapsed ? "chevronRight" : "chevronDown"} size={12} />
                    </button>
                  ) : (
                    <span class="wf-toggle-space" />
                  )}
                  <span class="wf-svc-bar" style={{ background: color }} />
                  {n.error && <Icon name="alert" size={12} title="error" />}
                  <span class="wf-svc">{n.service}</span>
                  <span class="wf-op" data-testid="span-operation">
                    {s.operationName}
                  </span>
                  {isCollapsed && <span class="badge wf-hidden-count">+{n.descendants}</span>}
                </div>
                <div class="wf-time">
                  <span
                    class="wf-bar"
                    style={{ left: `${left}%`, width: `max(${width}%, 2px)`, background: n.error ? undefined : color }}
                  />
                  <span
                    class="wf-dur mono"
                    data-testid="span-duration"
                    style={labelRight ? { left: `calc(${left + width}% + 6px)` } : { right: `calc(${100 - left}% + 6px)` }}
                  >
                    {formatMicros(s.duration)}
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
