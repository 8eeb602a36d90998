// A Jaeger trace as a tree (no DOM): parents from CHILD_OF references, children
// in start order, depth-first rows, summaries for the search results, the
// critical path, and a stable colour per service shared by every trace view.

import type { JaegerKeyValue, JaegerSpan, JaegerTrace } from "../api/jaeger";

export interface SpanNode {
  span: JaegerSpan;
  /** Index in `TraceTree.nodes` (depth-first, children in start order). */
  index: number;
  service: string;
  parent: SpanNode | null;
  children: SpanNode[];
  depth: number;
  error: boolean;
  /** Microseconds since the epoch. */
  start: number;
  end: number;
  /** Number of spans below this one. */
  descendants: number;
}

export interface TraceTree {
  traceID: string;
  /** Depth-first order, children sorted by start time. */
  nodes: SpanNode[];
  roots: SpanNode[];
  /** µs since the epoch. */
  start: number;
  end: number;
  services: { name: string; count: number }[];
  errors: number;
  maxDepth: number;
}

export function isErrorSpan(s: JaegerSpan): boolean {
  return s.tags.some(
    (t) => (t.key === "error" && (t.value === true || String(t.value) === "true")) || (t.key === "otel.status_code" && t.value === "ERROR"),
  );
}

export function tagValue(tags: JaegerKeyValue[], key: string): unknown {
  return tags.find((t) => t.key === key)?.value;
}

export function parentID(s: JaegerSpan): string | null {
  const ref = s.references.find((r) => r.refType === "CHILD_OF" && r.traceID === s.traceID) ?? s.references.find((r) => r.refType === "CHILD_OF");
  return ref === undefined ? null : String(ref.spanID);
}

const byStart = (a: SpanNode, b: SpanNode) => a.start - b.start || a.span.spanID.localeCompare(b.span.spanID);

/** Builds the tree; spans whose parent is missing become roots. O(n log n), no recursion. */
export function buildTree(t: JaegerTrace): TraceTree {
  const byId = new Map<string, SpanNode>();
  const all: SpanNode[] = [];
  for (const span of t.spans) {
    const node: SpanNode = {
      span,
      index: 0,
      service: t.processes[span.processID]?.serviceName ?? "",
      parent: null,
      children: [],
      depth: 0,
      error: isErrorSpan(span),
      start: span.startTime,
      end: span.startTime + span.duration,
      descendants: 0,
    };
    if (!byId.has(span.spanID)) byId.set(span.spanID, node);
    all.push(node);
  }
  const roots: SpanNode[] = [];
  for (const node of all) {
    const pid = parentID(node.span);
    const parent = pid === null ? undefined : byId.get(pid);
    if (parent === undefined || parent === node) roots.push(node);
    else {
      node.parent = parent;
      parent.children.push(node);
    }
  }
  roots.sort(byStart);
  for (const n of all) n.children.sort(byStart);

  // Depth-first order with an explicit stack (deep traces must not overflow).
  const nodes: SpanNode[] = [];
  const seen = new Set<SpanNode>();
  const stack: SpanNode[] = [...roots].reverse();
  let maxDepth = 0;
  while (stack.length > 0) {
    const n = stack.pop() as SpanNode;
    if (seen.has(n)) continue;
    seen.add(n);
    n.depth = n.parent === null ? 0 : n.parent.depth + 1;
    maxDepth = Math.max(maxDepth, n.depth);
    n.index = nodes.length;
    nodes.push(n);
    for (let i = n.children.length - 1; i >= 0; i--) stack.push(n.children[i] as SpanNode);
  }
  // Spans in a parent cycle were never reached: list them as roots.
  for (const n of all) {
    if (!seen.has(n)) {
      n.parent = null;
      n.depth = 0;
      n.index = nodes.length;
      seen.add(n);
      nodes.push(n);
      roots.push(n);
    }
  }
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i] as SpanNode;
    if (n.parent !== null) n.parent.descendants += n.descendants + 1;
  }

  let start = Infinity;
  let end = -Infinity;
  const counts = new Map<string, number>();
  let errors = 0;
  for (const n of nodes) {
    start = Math.min(start, n.start);
    end = Math.max(end, n.end);
    counts.set(n.service, (counts.get(n.service) ?? 0) + 1);
    if (n.error) errors++;
  }
  if (nodes.length === 0) start = end = 0;
  const services = [...counts].map(([name, count]) => ({ name, count })).sort((a, b) => b.count - a.count || a.name.localeCompare(b.name));
  return { traceID: t.traceID, nodes, roots, start, end, services, errors, maxDepth };
}

export interface TraceInfo {
  traceID: string;
  rootService: string;
  rootOperation: string;
  /** True when the trace's root span is missing (the first span stands in). */
  partial: boolean;
  /** µs since the epoch. */
  start: number;
  /** µs. */
  duration: number;
  spanCount: number;
  errors: number;
  services: { name: string; count: number }[];
}

/** What a search result shows: root service and operation, counts, duration. */
export function summarize(t: JaegerTrace): TraceInfo {
  const tree = buildTree(t);
  const root = tree.roots.find((r) => parentID(r.span) === null) ?? tree.nodes[0];
  return {
    traceID: t.traceID,
    rootService: root?.service ?? "",
    rootOperation: root?.span.operationName ?? "",
    partial: root === undefined || parentID(root.span) !== null,
    start: tree.start,
    duration: tree.end - tree.start,
    spanCount: tree.nodes.length,
    errors: tree.errors,
    services: tree.services,
  };
}

/**
 * The critical path: from each span, walking back from its end, the child that
 * finished last before the cursor blocks it, then the one before that child's start.
 */
export function criticalPath(tree: TraceTree): Set<SpanNode> {
  const on = new Set<SpanNode>();
  const root = [...tree.roots].sort((a, b) => b.end - b.start - (a.end - a.start))[0];
  if (root === undefined) return on;
  const work: [SpanNode, number][] = [[root, root.end]];
  while (work.length > 0) {
    const [n, cap] = work.pop() as [SpanNode, number];
    on.add(n);
    let cursor = Math.min(n.end, cap);
    const kids = [...n.children].sort((a, b) => b.end - a.end);
    for (const k of kids) {
      if (k.start >= cursor || k.end <= n.start) continue;
      work.push([k, cursor]);
      cursor = k.start;
      if (cursor <= n.start) break;
    }
  }
  return on;
}

// Colours for services: readable on both themes, far apart in hue.
const PALETTE = [
  "#4c8dff",
  "#2fb380",
  "#e0883a",
  "#a66bf0",
  "#18a8c4",
  "#d8629c",
  "#98a92c",
  "#e2b032",
  "#6f7fe0",
  "#3fa3a0",
  "#c8724f",
  "#8e8fa3",
];

/** Colours by position among every service known (sorted), so up to 12 never collide. */
let universe = new Map<string, string>();
let universeKey = "";

/**
 * Sets the services colours are assigned over (the API's service list plus the
 * trace's own); the same list gives the same colours in every view.
 */
export function setServiceUniverse(names: Iterable<string>): void {
  const sorted = [...new Set(names)].sort();
  const key = sorted.join("\u0000");
  if (key === universeKey) return;
  universeKey = key;
  universe = new Map(sorted.map((n, i) => [n, PALETTE[i % PALETTE.length] ?? "#888"]));
}

/** A stable colour per service name (the same in the search and the waterfall). */
export function serviceColor(name: string): string {
  const known = universe.get(name);
  if (known !== undefined) return known;
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return PALETTE[(h >>> 0) % PALETTE.length] ?? "#888";
}

/** µs → `843µs`, `12.3ms`, `1.25s`, `2m 5s`. */
export function formatMicros(us: number): string {
  if (!Number.isFinite(us)) return "–";
  if (us < 1000) return `${Math.round(us)}µs`;
  const ms = us / 1000;
  if (ms < 10) return `${ms.toFixed(2)}ms`;
  if (ms < 1000) return `${ms.toFixed(ms < 100 ? 1 : 0)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)}s`;
  const m = Math.floor(s / 60);
  return `${m}m ${Math.round(s - m * 60)}s`;
}

/**
 * Each span's self time (µs), indexed by `SpanNode.index`: its duration minus
 * the union of its children's intervals (clipped to the span), i.e. the time
 * no child was running. O(n) over the children lists (sorted by start).
 */
export function selfTimes(tree: TraceTree): Float64Array {
  const out = new Float64Array(tree.nodes.length);
  for (const n of tree.nodes) {
    let covered = 0;
    let runStart = 0;
    let runEnd = -Infinity;
    for (const c of n.children) {
      const s = Math.max(c.start, n.start);
      const e = Math.min(c.end, n.end);
      if (e <= s) continue;
      if (s > runEnd) {
        if (runEnd > runStart) covered += runEnd - runStart;
        runStart = s;
        runEnd = e;
      } else if (e > runEnd) runEnd = e;
    }
    if (runEnd > runStart) covered += runEnd - runStart;
    out[n.index] = Math.max(0, n.end - n.start - covered);
  }
  return out;
}
