// The virtualised rows of the waterfall and the span table: only the spans in
// view are in the DOM, and a span picked elsewhere (search, flame graph) is
// scrolled into view.

import { useEffect, useRef } from "preact/hooks";
import type { SpanNode } from "../../lib/trace";
import { useVirtualizer } from "../../lib/virtual";

/** A span to bring into view; `seq` changes on every request, even for the same span. */
export type SpanFocus = { node: SpanNode; seq: number } | null;

export function useSpanRows(rows: SpanNode[], rowHeight: number, overscan: number, focus: SpanFocus) {
  const scroller = useRef<HTMLDivElement>(null);
  const v = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => rowHeight,
    overscan,
    getItemKey: (i) => rows[i]?.index ?? i,
  });
  useEffect(() => {
    if (focus === null) return;
    const i = rows.indexOf(focus.node);
    if (i >= 0) v.scrollToIndex(i, { align: "auto" });
  }, [focus?.seq]);
  return { scroller, v };
}
